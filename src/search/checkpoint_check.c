/* The invariants of a trial row, checked on every row read from RUN.h5 or its journal
 * before the controller replays it: what the controller and the trial runner can write,
 * and nothing else (docs/checkpoint-format.md, "Validation on reading"). */
#include <math.h>
#include <stdio.h>

#include "checkpoint_priv.h"


int ameir_metrics_row_check(const double *row, const char *table, int64_t trial, char *msg, size_t cap) {
    if (!(row[0] == AMEIR_TASK_CTR || row[0] == AMEIR_TASK_SEQ)) {
        snprintf(msg, cap, "trial %lld, column %s.task: got %g, expected 0 (ctr) or 1 (seq)", (long long)trial, table, row[0]);
        return -1;
    }
    if (!(row[1] >= 0 && row[1] <= 9007199254740992.0 && row[1] == floor(row[1]))) {
        snprintf(msg, cap, "trial %lld, column %s.rows: got %g, expected a whole number >= 0", (long long)trial, table, row[1]);
        return -1;
    }
    return 0;
}

/* NaN (undefined, e.g. one class only) or within [lo, hi]. */
static int metric_ok(double v, double lo, double hi) { return isnan(v) || (v >= lo && v <= hi); }

static int metrics_check(const ameir_metrics *m, const char *table, int64_t row, int ran, char *msg, size_t cap) {
    double v[2 + AMEIR_N_METRIC_VALUES] = {m->task, (double)m->rows};
    ameir_metrics_get_values(m, v + 2);
    for (int c = 0; c < 2 + AMEIR_N_METRIC_VALUES; c++) {
        const char *name = c == 0 ? "task" : c == 1 ? "rows" : ameir_metric_value_name(c - 2);
        if (!ran && v[c] != 0 && c != 0) {
            snprintf(msg, cap, "trial %lld, column %s.%s: got %g, expected 0 (the trial has no %s metrics)", (long long)row,
                     table, name, v[c], table);
            return -1;
        }
        double hi = c < 2 ? 0 : ameir_metric_value_max(c - 2);
        int ok = c < 2 || metric_ok(v[c], 0, hi);
        if (!ok) {
            snprintf(msg, cap, "trial %lld, column %s.%s: got %g, expected %s", (long long)row, table, name, v[c],
                     isinf(hi) ? "NaN or >= 0" : "NaN or 0..1");
            return -1;
        }
    }
    return 0;
}

/* j with ameir_final_seed(cfg, j) == seed, j < final_seeds; or -1 */
static int final_seed_index(const ameir_search_config *cfg, uint64_t seed) {
    for (int j = 0; j < cfg->final_seeds; j++)
        if (ameir_final_seed(cfg, j) == seed)
            return j;
    return -1;
}

#define BAD(col, fmt, ...)                                                                                  \
    do {                                                                                                    \
        snprintf(msg, cap, "trial %lld, column %s: " fmt, (long long)row, col, __VA_ARGS__);                 \
        return -1;                                                                                          \
    } while (0)

int ameir_trial_row_check(const ameir_search_config *cfg, const ameir_trial *t, int64_t row, int *task, char *msg, size_t cap) {
    if (t->id != row)
        BAD("id", "got %lld, expected %lld (rows are in id order)", (long long)t->id, (long long)row);
    if (t->stage < AMEIR_STAGE_BEHAVIOR || t->stage > AMEIR_STAGE_FINAL)
        BAD("stage", "got %d, expected 0..3", t->stage);
    int search = t->stage < AMEIR_STAGE_FINAL;
    int oneshot = search && cfg->schedule[t->stage].method == AMEIR_METHOD_ONESHOT;
    int supernet = t->kind == AMEIR_TRIAL_SUPERNET, scored = t->kind == AMEIR_TRIAL_SCORED;
    int kind_ok = !search ? t->kind == AMEIR_TRIAL_FINAL_WINNER || t->kind == AMEIR_TRIAL_FINAL_BASELINE
                          : t->kind == AMEIR_TRIAL_SEARCH || (oneshot && (supernet || scored));
    if (!kind_ok)
        BAD("kind", "got %d, expected %s for stage %d", t->kind,
            !search ? "1 or 2 (final)" : oneshot ? "0, 3 or 4 (search, supernet, scored)" : "0 (search)", t->stage);
    if (t->status < 0 || t->status >= AMEIR_TRIAL_N_STATUS)
        BAD("status", "got %d, expected 0..%d", t->status, AMEIR_TRIAL_N_STATUS - 1);
    if (search && t->seed != cfg->seed)
        BAD("seed", "got %llu, expected the config's %llu", (unsigned long long)t->seed, (unsigned long long)cfg->seed);
    if (!search && final_seed_index(cfg, t->seed) < 0)
        BAD("seed", "got %llu, expected one of the %d final seeds of the config's seed %llu", (unsigned long long)t->seed,
            cfg->final_seeds, (unsigned long long)cfg->seed);
    if (search) {
        const ameir_schedule *s = &cfg->schedule[t->stage];
        if (t->rung < 0 || t->rung > 62)
            BAD("rung", "got %d, expected 0..62", t->rung);
        if (t->budget < s->r || (s->R != AMEIR_R_BASELINE && t->budget > s->R))
            BAD("budget", "got %lld, expected the stage's r..R = %lld..%lld", (long long)t->budget, (long long)s->r, (long long)s->R);
        /* rung 0: the incumbent, the seeded baseline parts, then n per generation */
        int gens = t->stage == AMEIR_STAGE_INTERACTION ? cfg->interaction.generations : 1;
        int max_cand = 1 + cfg->n_baselines + s->n * gens;
        if (supernet && t->candidate != -1)
            BAD("candidate", "got %d, expected -1 for a supernet trial", t->candidate);
        if (!supernet && (t->candidate < 0 || t->candidate >= max_cand))
            BAD("candidate", "got %d, expected 0..%d", t->candidate, max_cand - 1);
        if (t->baseline < AMEIR_ROLE_INCUMBENT || t->baseline >= cfg->n_baselines)
            BAD("baseline", "got %d, expected a role: -2 incumbent, -1 candidate, or a baseline index < %d", t->baseline,
                cfg->n_baselines);
        /* one-shot: a round's supernet continues the last one, a scored trial reads its round's
         * supernet, the standalone trials start from scratch */
        int root = oneshot ? (supernet ? t->rung == 0 : !scored) : t->rung == 0;
        if (root ? t->parent != -1 : t->parent < 0 || t->parent >= t->id)
            BAD("parent", "got %lld, expected %s", (long long)t->parent,
                !root ? "an earlier trial" : oneshot && !supernet ? "-1 for a standalone trial" : "-1 at rung 0");
    } else {
        if (t->rung != 0)
            BAD("rung", "got %d, expected 0 for a final trial", t->rung);
        if (t->budget != cfg->final_train.max_steps)
            BAD("budget", "got %lld, expected final.max_steps = %lld", (long long)t->budget, (long long)cfg->final_train.max_steps);
        int want_base = t->kind == AMEIR_TRIAL_FINAL_BASELINE;
        if (want_base ? t->candidate != -1 : t->candidate < 0 || t->candidate >= cfg->final_top)
            BAD("candidate", "got %d, expected %s", t->candidate, want_base ? "-1 for a final baseline" : "a finalist index below final_top");
        if (want_base ? t->baseline < 0 || t->baseline >= cfg->n_baselines : t->baseline != -1)
            BAD("baseline", "got %d, expected %s", t->baseline, want_base ? "an index into the config's baselines" : "-1");
        if (t->parent != -1)
            BAD("parent", "got %lld, expected -1 for a final trial", (long long)t->parent);
    }
    int ran = t->status >= AMEIR_TRIAL_DONE;
    int64_t max_steps = ran && t->budget > 0 ? t->budget : ran ? INT64_MAX : 0;
    if (t->steps < 0 || t->steps > max_steps) {
        char range[64];
        snprintf(range, sizeof range, max_steps == INT64_MAX ? ">= 0" : "0..%lld", (long long)max_steps);
        BAD("steps", "got %lld, expected %s%s", (long long)t->steps, range, ran ? "" : " (not run)");
    }
    if (search && t->status == AMEIR_TRIAL_DONE && t->steps != t->budget)
        BAD("steps", "got %lld, expected the budget %lld for a done search trial", (long long)t->steps, (long long)t->budget);
    if (ran ? t->worker < 0 : t->worker != -1)
        BAD("worker", "got %d, expected %s", t->worker, ran ? "a rank >= 0" : "-1 (not run)");
    if (!(isfinite(t->seconds) && t->seconds >= 0 && (ran || t->seconds == 0)))
        BAD("seconds", "got %g, expected %s", t->seconds, ran ? "a finite time >= 0" : "0 (not run)");
    if (ran) {
        if (*task >= 0 && t->valid.task != *task)
            BAD("valid.task", "got %d, expected %d like the trials before it", t->valid.task, *task);
        *task = t->valid.task;
    }
    if (metrics_check(&t->valid, "valid", row, ran, msg, cap) < 0 ||
        metrics_check(&t->test, "test", row, ran && !search && t->status == AMEIR_TRIAL_DONE, msg, cap) < 0)
        return -1;
    if (supernet) { /* trains the supernet, scores nothing */
        if (!isnan(t->metric))
            BAD("metric", "got %g, expected NaN for a supernet trial", t->metric);
    } else if (t->status == AMEIR_TRIAL_DONE) {
        double want = ameir_metrics_primary(&t->valid);
        if (!(t->metric == want))
            BAD("metric", "got %g, expected %g (the done trial's valid.%s)", t->metric, want, ameir_metrics_primary_name(t->valid.task));
    } else if (!isnan(t->metric)) {
        BAD("metric", "got %g, expected NaN for a %s trial", t->metric, ameir_trial_status_name(t->status));
    }
    return 0;
}
