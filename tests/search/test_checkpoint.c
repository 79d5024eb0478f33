/* The checkpoint: round trip (table, config, in-flight trials pending again, the search
 * continues to the same end), rotation to .prev, and refusal of a truncated file, a
 * missing completion marker, an altered config hash, table lengths that disagree. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint_util.h"
#include "../common/arch_texts.h"
#include "../common/trial_arch.h"

static char dir[256];



static int same_double(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

static void check_same(const ameir_controller *a, const ameir_controller *b) {
    CHECK_EQ_INT(ameir_controller_n_trials(a), ameir_controller_n_trials(b));
    CHECK_EQ_INT(ameir_controller_stage(a), ameir_controller_stage(b));
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        CHECK_EQ_INT(ameir_controller_stage_winner(a, s), ameir_controller_stage_winner(b, s));
    for (int64_t id = 0; id < ameir_controller_n_trials(a) && id < ameir_controller_n_trials(b); id++) {
        const ameir_trial *x = ameir_controller_trial(a, id), *y = ameir_controller_trial(b, id);
        CHECK_EQ_INT(x->stage, y->stage);
        CHECK_EQ_INT(x->kind, y->kind);
        CHECK_EQ_INT(x->rung, y->rung);
        CHECK_EQ_INT(x->budget, y->budget);
        CHECK_EQ_INT(x->parent, y->parent);
        CHECK_EQ_INT(x->seed, y->seed);
        CHECK_EQ_INT(x->candidate, y->candidate);
        CHECK_EQ_INT(x->baseline, y->baseline);
        /* in flight when written: pending after reading */
        CHECK_EQ_INT(y->status, x->status == AMEIR_TRIAL_RUNNING ? AMEIR_TRIAL_PENDING : x->status);
        CHECK(same_double(x->metric, y->metric));
        CHECK(same_double(x->valid.auc, y->valid.auc));
        CHECK(same_double(x->valid.logloss, y->valid.logloss));
        CHECK_EQ_INT(x->valid.rows, y->valid.rows);
        CHECK(same_double(x->test.gauc, y->test.gauc));
        CHECK_EQ_INT(x->steps, y->steps);
        CHECK_EQ_INT(x->worker, y->worker);
        CHECK(same_double(x->seconds, y->seconds));
        CHECK(ameir_arch_equal(test_trial_arch(a, x), test_trial_arch(b, y)));
    }
    /* the kept JSON: the live table's, and the one the read rebuilt by replaying */
    check_trial_texts(a, "live");
    check_trial_texts(b, "read back");
}



static void set_hash(hid_t f) {
    uint64_t h = 12345;
    hid_t a = H5Aopen(f, "config_hash", H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT64, &h);
    H5Aclose(a);
}
static void drop_marker(hid_t f) { H5Adelete(f, "complete"); }
static void more_trials(hid_t f) {
    int64_t n = 0;
    hid_t a = H5Aopen(f, "n_trials", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &n);
    n += 1;
    H5Awrite(a, H5T_NATIVE_INT64, &n);
    H5Aclose(a);
}
static void bad_version(hid_t f) {
    int v = 99;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
}

static void bad_status(hid_t f) {
    hid_t d = H5Dopen2(f, "trials/status", H5P_DEFAULT);
    int64_t v[1] = {9};
    hsize_t start[1] = {0}, count[1] = {1};
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, v);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
}
static void bad_arch(hid_t f) {
    hid_t d = H5Dopen2(f, "trials/arch", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    hid_t fs = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(fs, &n, NULL);
    const char **v = malloc(n * sizeof *v);
    for (hsize_t i = 0; i < n; i++)
        v[i] = "{\"mlp\": {\"layers\": 3}}";
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    free(v);
    H5Sclose(fs);
    H5Tclose(t);
    H5Dclose(d);
}


int main(void) {
    char path[320], prev[330], copy[330], copy_prev[340];
    snprintf(dir, sizeof dir, "/tmp/ameir_test_checkpoint_XXXXXX");
    AMEIR_ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/RUN.h5", dir);
    snprintf(prev, sizeof prev, "%s.prev", path);
    snprintf(copy, sizeof copy, "%s/copy.h5", dir);
    snprintf(copy_prev, sizeof copy_prev, "%s.prev", copy);

    ameir_search_config *cfg = make_config();
    ameir_controller *ctl = NULL, *back = NULL;
    ameir_search_config *cfg2 = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);

    /* first write: no .prev yet */
    CHECK_EQ_INT(ameir_checkpoint_write(path, cfg, ctl), 0);
    CHECK(access(prev, F_OK) != 0);
    CHECK_EQ_INT(ameir_checkpoint_read(path, &cfg2, &back), 0);
    check_same(ctl, back);
    ameir_controller_free(back);
    ameir_search_config_free(cfg2);

    /* mid-search, with trials in flight; the old file becomes .prev */
    advance(ctl, 9, 2);
    CHECK_EQ_INT(ameir_checkpoint_write(path, cfg, ctl), 0);
    CHECK(access(prev, F_OK) == 0);
    CHECK(access(path, F_OK) == 0);
    char tmp[340];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_EQ_INT(ameir_checkpoint_read(path, &cfg2, &back), 0);
    CHECK_EQ_INT(cfg2->hash, cfg->hash);
    CHECK(!strcmp(cfg2->text, cfg->text));
    CHECK(!strcmp(cfg2->data_dir, cfg->data_dir));
    CHECK(cfg2->resolved);
    CHECK_EQ_INT(cfg2->interaction.n_fields, 3);
    CHECK(!strcmp(cfg2->interaction.fields[1], "item"));
    check_same(ctl, back);
    /* both go on to the same end */
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++)
        if (ameir_controller_trial(ctl, id)->status == AMEIR_TRIAL_RUNNING)
            CHECK_EQ_INT(ameir_controller_requeue(ctl, id), 0);
    advance(ctl, 1000, 0);
    advance(back, 1000, 0);
    ameir_search_task t;
    CHECK_EQ_INT(ameir_controller_next(back, &t), AMEIR_NEXT_DONE);
    check_same(ctl, back);
    ameir_controller_free(back);
    ameir_search_config_free(cfg2);

    /* the finished search round-trips, finals' test metrics included */
    CHECK_EQ_INT(ameir_checkpoint_write(path, cfg, ctl), 0);
    check_file_texts(path, ctl);
    if (ameir_checkpoint_read(path, &cfg2, &back) < 0) {
        fprintf(stderr, "reading the finished search: %s\n", ameir_last_error());
        return 1;
    }
    check_same(ctl, back);
    /* a rewrite from the resumed table stores what a fresh print gives */
    CHECK_EQ_INT(ameir_checkpoint_write(copy, cfg2, back), 0);
    check_file_texts(copy, back);
    unlink(copy), unlink(copy_prev);
    CHECK_EQ_INT(ameir_controller_next(back, &t), AMEIR_NEXT_DONE);
    ameir_controller_free(back);
    ameir_search_config_free(cfg2);

    /* truncated copies are refused, with the .prev hint when one exists */
    long size = file_size(path);
    copy_file(path, copy, size / 2);
    refused(copy, AMEIR_ECHECKPOINT, "copy.h5: not a valid checkpoint: ");
    CHECK_STR_CONTAINS(ameir_last_error(), "bytes where the seal says");
    CHECK_STR_CONTAINS(ameir_last_error(), "(truncated)");
    copy_file(path, copy, size - 16);
    refused(copy, AMEIR_ECHECKPOINT, "copy.h5: ");
    copy_file(prev, copy_prev, -1);
    copy_file(path, copy, 100);
    refused(copy, AMEIR_ECHECKPOINT, "resume from");
    CHECK_STR_CONTAINS(ameir_last_error(), "copy.h5.prev");
    unlink(copy_prev);
    /* zero bytes */
    copy_file(path, copy, 0);
    refused(copy, AMEIR_ECHECKPOINT, "not a valid checkpoint: 0 bytes, too short for a sealed file");

    /* edits: hash, marker, version, table lengths */
    copy_file(path, copy, -1);
    edit(copy, set_hash);
    refused(copy, AMEIR_ECHECKPOINT, "config hash mismatch");
    copy_file(path, copy, -1);
    edit(copy, drop_marker);
    refused(copy, AMEIR_ECHECKPOINT, "no completion marker");
    copy_file(path, copy, -1);
    edit(copy, bad_version);
    refused(copy, AMEIR_ECHECKPOINT, "format version 99, expected 2");
    copy_file(path, copy, -1);
    edit(copy, more_trials);
    refused(copy, AMEIR_ECHECKPOINT, "/trials/id: missing, unreadable, or not");
    copy_file(path, copy, -1);
    edit(copy, bad_status);
    refused(copy, AMEIR_ECHECKPOINT, "trial 0, column status: got 9, expected 0..4");
    copy_file(path, copy, -1);
    edit(copy, bad_arch);
    refused(copy, AMEIR_ECHECKPOINT, "trial 0: stored architecture does not parse");
    refused("/nonexistent/RUN.h5", AMEIR_ENOENT, "/nonexistent/RUN.h5: no such checkpoint");

    /* an unwritable place fails cleanly and leaves nothing behind */
    CHECK_EQ_INT(ameir_checkpoint_write("/nonexistent/dir/RUN.h5", cfg, ctl), AMEIR_EIO);
    CHECK_STR_CONTAINS(ameir_last_error(), "/nonexistent/dir/RUN.h5.tmp: cannot create the checkpoint");

    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
    unlink(copy);
    unlink(path);
    unlink(prev);
    rmdir(dir);
    return check_finish("test_checkpoint");
}
