/* How many results a second rank 0 records: the real controller and the real checkpoint
 * path (a result reported, journaled, RUN.h5 rewritten whole as it comes due), fed fake
 * results one at a time, for searches of about 1,000 to 100,000 trials.
 *
 * usage: results_rate DIR [TRIALS ...] [--whole]
 *   DIR      a scratch directory on the disk to measure (RUN.h5 and RUN.journal go there)
 *   TRIALS   approximate search sizes (default 1000 10000 100000)
 *   --whole  also the old way, RUN.h5 rewritten after every result (slow: small sizes only)
 * Prints per size: trials, results, seconds, results/s of all of it, and results/s of rank 0's
 * part alone: the time making the fake results (a worker's part: the arch's JSON hash) left
 * out. Rank 0's part is what the coordinator does per result but MPI: the report, the journal
 * record (and the whole rewrites as they come due), and the queries of its progress line.
 * Both timed from the first result, and again from the controller's creation with the first
 * checkpoint write: the first stage's trials are made then (its draws and, since each arch's
 * JSON is printed when its trial is made, their JSON), a quarter of the trials at 10,000 and
 * 4% at 100,000, so only the second is the same work per trial at every size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/rng.h"
#include "ameir/search.h"
#include "../common/ctr_schema.h"

static ameir_schema schema(void) {
    static const char *const names[] = {"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"};
    return test_ctr_schema(names, 8);
}

/* One rung per stage: n behaviour candidates, n per interaction generation, n MLP
 * candidates, so about n * (gens + 2) trials; n at most the config's 4,096, and the
 * generations (at most 64) make up the rest: up to about 270,000 trials. */
static ameir_search_config *config(int64_t trials) {
    int n = trials < 4096 * 4 ? (int)(trials / 4) : 4096;
    int64_t g = (trials + n - 1) / n - 2;
    int gens = g < 1 ? 1 : g > 64 ? 64 : (int)g;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"data\": \"x\", \"seed\": 1, \"behavior\": {\"schedule\": {\"n\": %d, \"eta\": 2, \"r\": 1, \"R\": 1}},"
             " \"interaction\": {\"max_order\": 3, \"max_interactions\": 8, \"generations\": %d,"
             " \"schedule\": {\"n\": %d, \"eta\": 2, \"r\": 1, \"R\": 1}},"
             " \"mlp\": {\"schedule\": {\"n\": %d, \"eta\": 2, \"r\": 1, \"R\": 1}}}",
             n, gens, n, n);
    ameir_search_config *cfg = NULL;
    ameir_schema s = schema();
    if (ameir_search_config_parse(&cfg, text, "rate.json", ".") < 0 || ameir_search_config_resolve(cfg, &s) < 0) {
        fprintf(stderr, "results_rate: %s\n", ameir_last_error());
        exit(1);
    }
    return cfg;
}

/* What the coordinator's progress line asks the controller after each result
 * (src/cluster/coordinator.c), the printing left out. */
volatile int64_t results_rate_sink; /* the answers go here, so that the calls stay */

static void progress_queries(const ameir_controller *ctl, int64_t id) {
    int64_t counts[AMEIR_TRIAL_N_STATUS];
    char role[96];
    const ameir_trial *t = ameir_controller_trial(ctl, id);
    ameir_controller_counts(ctl, counts);
    results_rate_sink = ameir_counts_finished(counts) + ameir_controller_planned_trials(ctl) + (int64_t)ameir_controller_role(ctl, t, role, sizeof role)[0];
    if (t->stage < AMEIR_N_STAGES)
        results_rate_sink = ameir_controller_best_in_stage(ctl, t->stage);
}

static int run(const char *dir, int64_t trials, int whole) {
    char path[1024];
    snprintf(path, sizeof path, "%s/RUN.h5", dir);
    ameir_search_config *cfg = config(trials);
    ameir_controller *ctl = NULL;
    ameir_journal *j = NULL;
    int64_t results = 0;
    double start = ameir_now(); /* the first stage's trials are made with the controller */
    if (ameir_controller_create(&ctl, cfg) < 0 || ameir_checkpoint_write(path, cfg, ctl) < 0 || ameir_journal_open(&j, path) < 0)
        return -1;
    double t0 = ameir_now(), faking = 0;
    ameir_search_task t;
    while (ameir_controller_next(ctl, &t) == AMEIR_NEXT_TASK) {
        double f0 = ameir_now();
        ameir_search_result r;
        memset(&r, 0, sizeof r);
        r.trial_id = t.trial_id;
        r.status = AMEIR_TRIAL_DONE;
        r.metric = 0.5 + (double)(ameir_arch_hash(&t.arch) % 1000) / 4000.0;
        r.valid.task = AMEIR_TASK_CTR, r.valid.auc = r.metric, r.valid.rows = 1000;
        if (t.kind != AMEIR_TRIAL_SEARCH)
            r.test = r.valid;
        r.steps = t.budget;
        r.worker = 1;
        r.seconds = 1.0;
        faking += ameir_now() - f0;
        if (ameir_controller_report(ctl, &r) < 0)
            return -1;
        int rc = whole ? ameir_checkpoint_write(path, cfg, ctl) : ameir_journal_record(j, path, cfg, ctl, &r);
        if (rc < 0)
            return -1;
        progress_queries(ctl, r.trial_id);
        results++;
    }
    if (ameir_journal_close(j) < 0 || ameir_checkpoint_write(path, cfg, ctl) < 0)
        return -1;
    double end = ameir_now(), s = end - t0, all = end - start;
    printf("| %s | %lld | %lld | %.2f | %.0f | %.0f | %.0f | %.0f |\n", whole ? "whole RUN.h5 per result (before)" : "journal (now)",
           (long long)ameir_controller_n_trials(ctl), (long long)results, s, (double)results / s, (double)results / (s - faking),
           (double)results / all, (double)results / (all - faking));
    fflush(stdout);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: results_rate DIR [TRIALS ...] [--whole]\n");
        return 2;
    }
    int whole = 0, n = 0;
    int64_t sizes[16];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--whole"))
            whole = 1;
        else if (n < 16)
            sizes[n++] = atoll(argv[i]);
    }
    if (n == 0)
        sizes[n++] = 1000, sizes[n++] = 10000, sizes[n++] = 100000;
    printf("| checkpointing | trials | results | seconds | results/s | rank 0's part, results/s | results/s from creation | "
           "rank 0's part from creation |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        if (run(argv[1], sizes[i], 0) < 0 || (whole && run(argv[1], sizes[i], 1) < 0)) {
            fprintf(stderr, "results_rate: %s\n", ameir_last_error());
            return 1;
        }
    }
    return 0;
}
