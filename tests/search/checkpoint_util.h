/* Helpers of the checkpoint tests (test_checkpoint.c, test_checkpoint_damage.c): a small
 * resolved config, a controller fed made-up results, file copies and edits. */
#ifndef AMEIR_TESTS_CHECKPOINT_UTIL_H
#define AMEIR_TESTS_CHECKPOINT_UTIL_H

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/seal.h"
#include "ameir/search.h"

static ameir_search_config *make_config(void) {
    static const char *const names[] = {"user", "item", "gender"};
    const char *text = "{\"data\": \"prepared/syn\", \"seed\": 3,"
                       " \"behavior\": {\"max_blocks\": 2, \"schedule\": {\"n\": 5, \"eta\": 2, \"r\": 10, \"R\": 40}},"
                       " \"interaction\": {\"schedule\": {\"n\": 3, \"eta\": 3, \"r\": 10, \"R\": 30}},"
                       " \"mlp\": {\"schedule\": {\"n\": 2, \"eta\": 2, \"r\": 10, \"R\": 20}}}";
    ameir_search_config *cfg = NULL;
    ameir_schema s;
    memset(&s, 0, sizeof s);
    s.n_fields = 3;
    for (int f = 0; f < 3; f++)
        snprintf(s.fields[f].name, AMEIR_FIELD_NAME_MAX, "%s", names[f]);
    if (ameir_search_config_parse(&cfg, text, "ck.json", "/base") < 0 || ameir_search_config_resolve(cfg, &s) < 0) {
        fprintf(stderr, "config: %s\n", ameir_last_error());
        exit(1);
    }
    return cfg;
}

/* Hand out and answer k tasks (metric from the trial id; every 4th diverges); leave
 * `leave` more running. */
static void advance(ameir_controller *ctl, int k, int leave) {
    ameir_search_task t;
    for (int i = 0; i < k && ameir_controller_next(ctl, &t) == AMEIR_NEXT_TASK; i++) {
        ameir_search_result r;
        memset(&r, 0, sizeof r);
        r.trial_id = t.trial_id;
        r.status = t.trial_id % 4 == 3 ? AMEIR_TRIAL_DIVERGED : AMEIR_TRIAL_DONE;
        r.metric = 0.5 + 0.01 * (double)((t.trial_id * 7) % 11);
        r.valid.task = AMEIR_TASK_CTR, r.valid.rows = 100, r.valid.auc = r.metric, r.valid.logloss = 0.6;
        if (t.kind != AMEIR_TRIAL_SEARCH && r.status == AMEIR_TRIAL_DONE) /* as the trial runner: test only when done */
            r.test.task = AMEIR_TASK_CTR, r.test.auc = r.metric - 0.01, r.test.gauc = 0.55;
        r.steps = t.budget;
        r.worker = (int)(t.trial_id % 3) + 1;
        r.seconds = 0.5 * (double)t.trial_id;
        if (ameir_controller_report(ctl, &r) < 0) {
            fprintf(stderr, "report: %s\n", ameir_last_error());
            exit(1);
        }
    }
    for (int i = 0; i < leave; i++)
        if (ameir_controller_next(ctl, &t) != AMEIR_NEXT_TASK)
            break;
}

static void copy_file(const char *from, const char *to, long keep /* bytes, -1 = all */) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    size_t n;
    long total = 0;
    AMEIR_ASSERT(in && out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (keep >= 0 && total + (long)n > keep)
            n = (size_t)(keep - total);
        fwrite(buf, 1, n, out);
        total += (long)n;
        if (keep >= 0 && total >= keep)
            break;
    }
    fclose(in);
    fclose(out);
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    AMEIR_ASSERT(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Open a copy read-write, apply an edit to its root and seal it again, so that the edit
 * reaches the checks behind the checksum. */
static void edit(const char *path, void (*fn)(hid_t file)) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    AMEIR_ASSERT(f >= 0);
    fn(f);
    H5Fclose(f);
    AMEIR_ASSERT(ameir_seal_file(path) == 0);
}

static void refused(const char *path, int code, const char *message) {
    ameir_search_config *cfg = NULL;
    ameir_controller *ctl = NULL;
    CHECK_EQ_INT(ameir_checkpoint_read(path, &cfg, &ctl), code);
    CHECK(cfg == NULL && ctl == NULL);
    CHECK_STR_CONTAINS(ameir_last_error(), message);
}

#endif
