/* The results journal (src/search/journal.c): a checkpoint plus its journal reads back as
 * the live controller; a torn last record is dropped (that trial runs again); a damaged
 * record before the end, or one for a trial the search has not made, is refused; a journal
 * that follows another snapshot is ignored; with whole rewrites as they come due the last
 * read equals the live table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ameir/error.h"
#include "ameir/rng.h"
#include "ameir/search.h"
#include "../common/arch_texts.h"
#include "../common/check.h"
#include "../common/ctr_schema.h"
#include "ameir/seal.h"

static ameir_schema schema(void) {
    static const char *const names[] = {"user", "item", "gender", "age", "city", "genre"};
    return test_ctr_schema(names, 6);
}

static ameir_search_config *config(void) {
    ameir_search_config *cfg = NULL;
    const char *text = "{\"data\": \"x\", \"seed\": 3, \"final_top\": 2,"
                       " \"behavior\": {\"schedule\": {\"n\": 700, \"eta\": 2, \"r\": 10, \"R\": 40}},"
                       " \"interaction\": {\"max_interactions\": 3, \"generations\": 2, \"schedule\": {\"n\": 150, \"eta\": 2, \"r\": 10, \"R\": 20}},"
                       " \"mlp\": {\"widths\": [80, 200], \"acts\": [\"relu\", \"gelu\"], \"schedule\": {\"n\": 60, \"eta\": 2, \"r\": 10, \"R\": 20}}}";
    ameir_schema s = schema();
    CHECK_EQ_INT(ameir_search_config_parse(&cfg, text, "journal.json", "."), 0);
    CHECK_EQ_INT(ameir_search_config_resolve(cfg, &s), 0);
    return cfg;
}

/* Hand out one task, make up its result, report it; then journal it (compact: with whole
 * rewrites as they come due). Returns 0 when the search is over. */
static int step(ameir_controller *ctl, const ameir_search_config *cfg, ameir_journal *j, const char *path, int compact) {
    ameir_search_task t;
    if (ameir_controller_next(ctl, &t) != AMEIR_NEXT_TASK)
        return 0;
    ameir_search_result r;
    memset(&r, 0, sizeof r);
    r.trial_id = t.trial_id;
    r.status = ameir_arch_hash(&t.arch) % 11 == 0 ? AMEIR_TRIAL_DIVERGED : AMEIR_TRIAL_DONE;
    r.metric = r.status == AMEIR_TRIAL_DONE ? 0.5 + (double)(ameir_arch_hash(&t.arch) % 997) / 4000.0 + 1e-4 * (double)t.budget : NAN;
    r.valid.task = AMEIR_TASK_CTR, r.valid.auc = r.metric, r.valid.rows = 1000;
    if (t.kind != AMEIR_TRIAL_SEARCH) /* only finals have test metrics */
        r.test.task = AMEIR_TASK_CTR, r.test.auc = 0.25, r.test.logloss = 0.75, r.test.rows = 500;
    r.steps = t.budget;
    r.worker = 1 + (int)(t.trial_id % 3);
    r.seconds = 0.125 * (double)(t.trial_id + 1);
    CHECK_EQ_INT(ameir_controller_report(ctl, &r), 0);
    if (compact)
        CHECK_EQ_INT(ameir_journal_record(j, path, cfg, ctl, &r), 0);
    else
        CHECK_EQ_INT(ameir_journal_append(j, &r), 0);
    return 1;
}

/* The tables agree on every trial's status and result (NaN == NaN). */
static int same(const ameir_controller *a, const ameir_controller *b) {
    if (ameir_controller_n_trials(a) != ameir_controller_n_trials(b))
        return 0;
    for (int64_t id = 0; id < ameir_controller_n_trials(a); id++) {
        const ameir_trial *x = ameir_controller_trial(a, id), *y = ameir_controller_trial(b, id);
        int open_x = x->status < AMEIR_TRIAL_DONE, open_y = y->status < AMEIR_TRIAL_DONE;
        if (open_x != open_y)
            return 0;
        if (open_x)
            continue;
        if (x->status != y->status || x->steps != y->steps || x->worker != y->worker || x->seconds != y->seconds ||
            !(x->metric == y->metric || (isnan(x->metric) && isnan(y->metric))) || x->test.auc != y->test.auc ||
            x->valid.rows != y->valid.rows)
            return 0;
    }
    return 1;
}

static int64_t finished(const ameir_controller *c) {
    int64_t counts[AMEIR_TRIAL_N_STATUS];
    ameir_controller_counts(c, counts);
    return ameir_counts_finished(counts);
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static char *slurp(const char *p, long *n) {
    *n = file_size(p);
    char *b = malloc((size_t)*n);
    FILE *f = fopen(p, "rb");
    CHECK(f && fread(b, 1, (size_t)*n, f) == (size_t)*n);
    fclose(f);
    return b;
}

static void spill(const char *p, const char *b, long n) {
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/ameir-journal-XXXXXX", run[128], jpath[160], again[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(run, sizeof run, "%s/RUN.h5", dir);
    snprintf(again, sizeof again, "%s/again/RUN.h5", dir);
    CHECK_EQ_INT(ameir_journal_path(run, jpath, sizeof jpath), 0);
    CHECK_STR_CONTAINS(jpath, "/RUN.journal");
    ameir_search_config *cfg = config();
    ameir_controller *live = NULL, *back = NULL;
    ameir_search_config *cfg_back = NULL;
    ameir_journal *j = NULL;

    /* 15 results journaled after the first whole write read back as the live table */
    CHECK_EQ_INT(ameir_controller_create(&live, cfg), 0);
    CHECK_EQ_INT(ameir_checkpoint_write(run, cfg, live), 0);
    CHECK_EQ_INT(ameir_journal_open(&j, run), 0);
    for (int i = 0; i < 15; i++)
        CHECK(step(live, cfg, j, run, 0));
    CHECK_EQ_INT(ameir_journal_close(j), 0);
    CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), 0);
    CHECK_EQ_INT(finished(back), 15);
    CHECK(same(live, back));
    ameir_controller_free(back), ameir_search_config_free(cfg_back);
    long n_full;
    char *full = slurp(jpath, &n_full);
    long rec = (n_full - 32) / 15;
    CHECK_EQ_INT(n_full, 32 + 15 * rec);

    /* a torn last record (a kill during its write) is dropped: that trial is open again */
    spill(jpath, full, n_full - 9);
    CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), 0);
    CHECK_EQ_INT(finished(back), 14);
    ameir_controller_free(back), ameir_search_config_free(cfg_back);

    /* a damaged record with more after it is refused, naming where */
    char *bad = malloc((size_t)n_full);
    memcpy(bad, full, (size_t)n_full);
    bad[32 + rec + 20] ^= 0x40;
    spill(jpath, bad, n_full);
    CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), AMEIR_ECHECKPOINT);
    char where[64];
    snprintf(where, sizeof where, "damaged record at byte %ld", 32 + rec);
    CHECK_STR_CONTAINS(ameir_last_error(), where);

    /* a record for a trial the search has not made is refused */
    memcpy(bad, full, (size_t)n_full);
    int64_t far = 1000000;
    memcpy(bad + 32 + 14 * rec + 4, &far, 8);
    uint32_t crc = ameir_crc32(0, bad + 32 + 14 * rec, (size_t)rec - 4);
    memcpy(bad + 32 + 15 * rec - 4, &crc, 4);
    spill(jpath, bad, n_full);
    CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), AMEIR_ECHECKPOINT);
    CHECK_STR_CONTAINS(ameir_last_error(), "which the search has not made");

    /* a record whose checksum is right but whose values no trial can have is refused */
    memcpy(bad, full, (size_t)n_full);
    int64_t steps = -7;
    memcpy(bad + 32 + 14 * rec + 28, &steps, 8);
    crc = ameir_crc32(0, bad + 32 + 14 * rec, (size_t)rec - 4);
    memcpy(bad + 32 + 15 * rec - 4, &crc, 4);
    spill(jpath, bad, n_full);
    CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), AMEIR_ECHECKPOINT);
    CHECK_STR_CONTAINS(ameir_last_error(), "column steps: got -7");

    /* a journal that follows an older snapshot is ignored: a whole write holds its results */
    CHECK_EQ_INT(ameir_checkpoint_write(run, cfg, live), 0);
    CHECK_EQ_INT(file_size(jpath), 32);
    spill(jpath, full, n_full);
    CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), 0);
    CHECK(same(live, back));
    ameir_controller_free(back), ameir_search_config_free(cfg_back);
    ameir_controller_free(live);

    /* the whole search with whole rewrites as they come due; any moment reads back live */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/again", dir);
    CHECK(mkdir(sub, 0755) == 0);
    CHECK_EQ_INT(ameir_controller_create(&live, cfg), 0);
    CHECK_EQ_INT(ameir_checkpoint_write(run, cfg, live), 0);
    CHECK_EQ_INT(ameir_journal_open(&j, run), 0);
    int64_t results = 0;
    while (step(live, cfg, j, run, 1)) {
        results++;
        if (results % 97 == 0) {
            CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), 0);
            CHECK(same(live, back));
            if (results % (97 * 4) == 0) {
                /* resumed from RUN.h5 and its journal: the kept JSON is filled by the replay, and
                 * a rewrite from it stores fresh prints of every arch (the live table's too) */
                check_trial_texts(back, "resumed");
                CHECK_EQ_INT(ameir_checkpoint_write(again, cfg_back, back), 0);
                check_file_texts(again, back);
                check_file_texts(again, live);
            }
            ameir_controller_free(back), ameir_search_config_free(cfg_back);
        }
    }
    CHECK_EQ_INT(ameir_journal_close(j), 0);
    CHECK(results > 1000);                          /* so at least one whole rewrite came due */
    CHECK(file_size(jpath) < 32 + 1000 * rec);      /* and emptied the journal */
    CHECK_EQ_INT(ameir_checkpoint_read(run, &cfg_back, &back), 0);
    CHECK(same(live, back));
    check_trial_texts(back, "resumed at the end");
    check_file_texts(run, live);
    CHECK_EQ_INT(ameir_controller_next(back, &(ameir_search_task){0}), AMEIR_NEXT_DONE);
    ameir_controller_free(back), ameir_search_config_free(cfg_back);

    ameir_controller_free(live);
    ameir_search_config_free(cfg);
    free(full), free(bad);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return check_finish("test_journal");
}
