/* The search controller with fake results: rung sizes and budgets for several
 * schedules, ranking ties, diverged trials, independence from the order results
 * arrive in, replay of a recorded table, and bad reports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/ctr_schema.h"
#include <stdio.h>
#include "ameir/error.h"
#include "ameir/rng.h"
#include "ameir/search.h"
#include "../common/trial_arch.h"

static ameir_schema schema4(void) {
    static const char *const names[] = {"user", "item", "gender", "age"};
    return test_ctr_schema(names, 4);
}

/* A resolved config from text (relative baselines from tests/search). */
static ameir_search_config *parse_config(const char *text) {
    ameir_search_config *cfg = NULL;
    const char *root = getenv("AMEIR_SOURCE_ROOT");
    char base[1024];
    snprintf(base, sizeof base, "%s/tests/search", root ? root : ".");
    if (ameir_search_config_parse(&cfg, text, "test.json", base) < 0) {
        fprintf(stderr, "config: %s\n", ameir_last_error());
        exit(1);
    }
    ameir_schema s = schema4();
    if (ameir_search_config_resolve(cfg, &s) < 0) {
        fprintf(stderr, "resolve: %s\n", ameir_last_error());
        exit(1);
    }
    return cfg;
}

/* Keys added to make_config's config ("\"warm_start\": false," for the layout without it). */
static const char *config_extra = "";

/* A resolved config whose behaviour schedule is (n, eta, r, R); the other stages small. */
static ameir_search_config *make_config(int n, int eta, long r, long R, int n_baselines) {
    char text[2048];
    snprintf(text, sizeof text,
             "{\"data\": \"data/x\", \"seed\": 7, %s"
             " \"behavior\": {\"schedule\": {\"n\": %d, \"eta\": %d, \"r\": %ld, \"R\": %ld}},"
             " \"interaction\": {\"max_interactions\": 2, \"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 5, \"R\": 10}},"
             " \"mlp\": {\"widths\": [8, 16], \"schedule\": {\"n\": 3, \"eta\": 3, \"r\": 5, \"R\": 5}}%s}",
             config_extra, n, eta, r, R, n_baselines ? ", \"baselines\": [\"../../configs/archs/din.json\"]" : "");
    return parse_config(text);
}

/* The incumbent's fake metric when not NaN (check_rungs makes it the best: no extra chain). */
static double incumbent_metric = NAN;
/* The final baselines' fake metric when not NaN (check_warm_start makes them the best). */
static double baseline_metric = NAN;

/* When > 0, a final trial's metric also varies with its training seed by up to this much. */
static double seed_noise = 0;

/* Steps a final baseline reports having trained (early stopping); 0 = its budget. */
static int64_t baseline_steps = 0;

/* A fake validation metric: a function of the trial alone (its arch and budget). */
static double fake_metric(const ameir_search_task *t) {
    uint64_t h = ameir_arch_hash(&t->arch);
    if (seed_noise > 0 && t->stage == AMEIR_STAGE_FINAL) {
        ameir_rng r = ameir_rng_stream(t->seed ^ h, 3);
        double base = t->kind == AMEIR_TRIAL_FINAL_BASELINE && !isnan(baseline_metric) ? baseline_metric : 0.7 + 0.001 * (double)(h % 7);
        return base + seed_noise * ameir_rng_uniform(&r);
    }
    if (t->kind == AMEIR_TRIAL_FINAL_BASELINE && !isnan(baseline_metric))
        return baseline_metric + 0.001 * (double)t->baseline;
    if (t->baseline == AMEIR_ROLE_INCUMBENT && !isnan(incumbent_metric))
        return incumbent_metric + 0.01 * log((double)t->budget + 1.0);
    return 0.5 + 0.3 * (double)(h % 1000) / 1000.0 + 0.01 * log((double)t->budget + 1.0);
}

typedef int (*status_fn)(const ameir_search_task *t);
static int all_done(const ameir_search_task *t) { (void)t; return AMEIR_TRIAL_DONE; }

/* Run to the end: up to `workers` tasks out at once, results reported in an order drawn
 * from `order_seed` (0 = in the order handed out). */
static void run(ameir_controller *ctl, int workers, uint64_t order_seed, status_fn status, int64_t stop_after) {
    ameir_search_task *out = malloc((size_t)workers * sizeof *out);
    ameir_rng rng = ameir_rng_stream(order_seed, 1);
    int n_out = 0;
    int64_t reported = 0;
    for (;;) {
        int rc;
        while (n_out < workers && (rc = ameir_controller_next(ctl, &out[n_out])) == AMEIR_NEXT_TASK)
            n_out++;
        if (n_out == 0 || reported == stop_after)
            break;
        int pick = order_seed ? (int)ameir_rng_below(&rng, (uint64_t)n_out) : 0;
        const ameir_search_task *t = &out[pick];
        ameir_search_result r;
        memset(&r, 0, sizeof r);
        r.trial_id = t->trial_id;
        r.status = status(t);
        r.metric = t->kind == AMEIR_TRIAL_SUPERNET ? NAN : fake_metric(t); /* a supernet trial scores nothing */
        r.valid.task = AMEIR_TASK_CTR, r.valid.auc = t->kind == AMEIR_TRIAL_SUPERNET ? 0 : r.metric;
        r.steps = t->kind == AMEIR_TRIAL_FINAL_BASELINE && baseline_steps > 0 ? baseline_steps : t->budget;
        r.worker = 1 + pick;
        r.seconds = 0.25;
        rc = ameir_controller_report(ctl, &r);
        if (rc < 0) {
            fprintf(stderr, "report: %s\n", ameir_last_error());
            exit(1);
        }
        out[pick] = out[--n_out];
        reported++;
    }
    free(out);
}

/* Rung sizes and budgets of the behaviour stage. */
static void check_rungs(int n, int eta, long r, long R, const int *sizes, const long *budgets, int n_rungs) {
    ameir_search_config *cfg = make_config(n, eta, r, R, 0);
    ameir_controller *ctl = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    incumbent_metric = 0.99;
    run(ctl, 3, 0, all_done, -1);
    incumbent_metric = NAN;
    int counts[16] = {0};
    long seen_budget[16] = {0};
    int max_rung = -1;
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *t = ameir_controller_trial(ctl, id);
        if (t->stage != AMEIR_STAGE_BEHAVIOR)
            continue;
        counts[t->rung]++;
        seen_budget[t->rung] = (long)t->budget;
        if (t->rung > max_rung)
            max_rung = t->rung;
        if (t->rung > 0) { /* continues its parent: same candidate, one rung lower, a better metric than the dropped */
            const ameir_trial *p = ameir_controller_trial(ctl, t->parent);
            CHECK_EQ_INT(p->rung, t->rung - 1);
            CHECK_EQ_INT(p->candidate, t->candidate);
            CHECK(ameir_arch_packed_equal(&p->arch, &t->arch));
        }
    }
    CHECK_EQ_INT(max_rung + 1, n_rungs);
    for (int k = 0; k < n_rungs; k++) {
        CHECK_EQ_INT(counts[k], sizes[k]);
        CHECK_EQ_INT(seen_budget[k], budgets[k]);
    }
    /* the winner is the best of the last rung */
    int64_t w = ameir_controller_stage_winner(ctl, AMEIR_STAGE_BEHAVIOR);
    CHECK(w >= 0);
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *t = ameir_controller_trial(ctl, id);
        if (t->stage == AMEIR_STAGE_BEHAVIOR && t->rung == n_rungs - 1)
            CHECK(t->metric <= ameir_controller_trial(ctl, w)->metric);
    }
    CHECK_EQ_INT(ameir_controller_trial(ctl, w)->rung, n_rungs - 1);
    CHECK_EQ_INT(ameir_controller_n_trials(ctl), ameir_controller_planned_trials(ctl));
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* Promotion keeps the best ceil(k/eta) by metric, and the incumbent: check on one rung by hand. */
static void check_promotion_by_metric(void) {
    ameir_search_config *cfg = make_config(6, 2, 50, 200, 0);
    ameir_controller *ctl = NULL;
    ameir_search_task t[7];
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    for (int i = 0; i < 7; i++) /* the incumbent (trial 0) and 6 candidates */
        CHECK_EQ_INT(ameir_controller_next(ctl, &t[i]), AMEIR_NEXT_TASK);
    CHECK_EQ_INT(t[0].baseline, AMEIR_ROLE_INCUMBENT);
    CHECK(ameir_arch_equal(&t[0].arch, &cfg->defaults));
    for (int i = 1; i < 7; i++)
        CHECK_EQ_INT(t[i].baseline, AMEIR_ROLE_CANDIDATE);
    ameir_search_task extra;
    CHECK_EQ_INT(ameir_controller_next(ctl, &extra), AMEIR_NEXT_WAIT); /* rung 1 waits for all of rung 0 */
    const double metric[7] = {0.55, 0.6, 0.9, 0.7, 0.9, 0.5, 0.8}; /* 2 and 4 tie: lower id first */
    for (int i = 0; i < 7; i++) {
        ameir_search_result r = {.trial_id = t[i].trial_id, .status = AMEIR_TRIAL_DONE, .metric = metric[i]};
        CHECK_EQ_INT(ameir_controller_report(ctl, &r), 0);
    }
    CHECK_EQ_INT(ameir_controller_n_trials(ctl), 12); /* top ceil(7/2) = 4, then the incumbent */
    const int64_t parents[5] = {2, 4, 6, 3, 0};
    for (int i = 0; i < 5; i++) {
        const ameir_trial *p = ameir_controller_trial(ctl, 7 + i);
        CHECK_EQ_INT(p->parent, parents[i]);
        CHECK_EQ_INT(p->budget, 100);
        CHECK_EQ_INT(p->rung, 1);
        CHECK_EQ_INT(p->seed, ameir_controller_trial(ctl, parents[i])->seed);
        CHECK_EQ_INT(p->baseline, i == 4 ? AMEIR_ROLE_INCUMBENT : AMEIR_ROLE_CANDIDATE);
    }
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* Equal metrics everywhere: every promotion and the winner go by lower trial id. */
static void check_ties(void) {
    ameir_search_config *cfg = make_config(8, 2, 10, 1000, 0);
    ameir_controller *ctl = NULL;
    ameir_search_task t;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    while (ameir_controller_stage(ctl) == AMEIR_STAGE_BEHAVIOR && ameir_controller_next(ctl, &t) == AMEIR_NEXT_TASK) {
        ameir_search_result r = {.trial_id = t.trial_id, .status = AMEIR_TRIAL_DONE, .metric = 0.75};
        CHECK_EQ_INT(ameir_controller_report(ctl, &r), 0);
    }
    /* incumbent + 8 @10 (ids 0-8), 5 @20 (9-13, parents 0-4), 3 @40 (14-16, parents 9-11),
     * 2 @80 (17-18, parents 14-15), winner 17 */
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(ameir_controller_trial(ctl, 9 + i)->parent, i);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(ameir_controller_trial(ctl, 14 + i)->parent, 9 + i);
    CHECK_EQ_INT(ameir_controller_trial(ctl, 17)->parent, 14);
    CHECK_EQ_INT(ameir_controller_trial(ctl, 18)->parent, 15);
    CHECK_EQ_INT(ameir_controller_trial(ctl, 19)->stage, AMEIR_STAGE_INTERACTION);
    CHECK_EQ_INT(ameir_controller_stage_winner(ctl, AMEIR_STAGE_BEHAVIOR), 17);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* Trials whose candidate index is even diverge (with the best metric, which must not count). */
static int even_diverge(const ameir_search_task *t) {
    return t->stage == AMEIR_STAGE_BEHAVIOR && (t->trial_id % 2 == 0) ? AMEIR_TRIAL_DIVERGED : AMEIR_TRIAL_DONE;
}
static int behavior_all_timeout(const ameir_search_task *t) {
    return t->stage == AMEIR_STAGE_BEHAVIOR ? AMEIR_TRIAL_TIMEOUT : AMEIR_TRIAL_DONE;
}

static void check_diverged(void) {
    ameir_search_config *cfg = make_config(6, 2, 50, 200, 0);
    ameir_controller *ctl = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 2, 0, even_diverge, -1);
    ameir_search_task t;
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_DONE);
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *tr = ameir_controller_trial(ctl, id);
        if (tr->parent >= 0)
            CHECK_EQ_INT(ameir_controller_trial(ctl, tr->parent)->status, AMEIR_TRIAL_DONE);
        if (tr->status == AMEIR_TRIAL_DIVERGED)
            CHECK(isnan(tr->metric));
    }
    int64_t w = ameir_controller_stage_winner(ctl, AMEIR_STAGE_BEHAVIOR);
    CHECK(w >= 0 && ameir_controller_trial(ctl, w)->status == AMEIR_TRIAL_DONE);
    ameir_controller_free(ctl);

    /* a stage where nothing finishes keeps the default part and the search goes on */
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 4, 0, behavior_all_timeout, -1);
    CHECK_EQ_INT(ameir_controller_stage_winner(ctl, AMEIR_STAGE_BEHAVIOR), -1);
    CHECK(ameir_controller_stage_winner(ctl, AMEIR_STAGE_MLP) >= 0);
    ameir_arch best;
    ameir_controller_best_arch(ctl, &best);
    CHECK_EQ_INT(best.n_blocks, cfg->defaults.n_blocks);
    CHECK_EQ_INT(best.aggregate, cfg->defaults.aggregate);
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_DONE);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

static int same_table(const ameir_controller *a, const ameir_controller *b, int compare_status) {
    if (ameir_controller_n_trials(a) != ameir_controller_n_trials(b))
        return 0;
    for (int64_t id = 0; id < ameir_controller_n_trials(a); id++) {
        const ameir_trial *x = ameir_controller_trial(a, id), *y = ameir_controller_trial(b, id);
        if (x->stage != y->stage || x->kind != y->kind || x->rung != y->rung || x->budget != y->budget ||
            x->parent != y->parent || x->seed != y->seed || x->baseline != y->baseline || !ameir_arch_equal(test_trial_arch(a, x), test_trial_arch(b, y)))
            return 0;
        if (compare_status && (x->status != y->status || (x->metric != y->metric && !(isnan(x->metric) && isnan(y->metric)))))
            return 0;
    }
    return 1;
}

/* Results in any order, with any number of workers: the same table and winners. */
static void check_order_independence(void) {
    config_extra = "\"warm_start\": false,";
    ameir_search_config *cfg = make_config(7, 2, 4, 64, 1);
    config_extra = "";
    ameir_controller *ref = NULL, *ctl = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ref, cfg), 0);
    run(ref, 1, 0, all_done, -1);
    CHECK_EQ_INT(cfg->n_baselines, 1);
    CHECK_EQ_INT(ameir_controller_trial(ref, ameir_controller_n_trials(ref) - 1)->kind, AMEIR_TRIAL_FINAL_BASELINE);
    CHECK_EQ_INT(ameir_controller_trial(ref, ameir_controller_n_trials(ref) - 2)->kind, AMEIR_TRIAL_FINAL_WINNER);
    for (int w = 2; w <= 8; w *= 2)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
            run(ctl, w, seed, all_done, -1);
            CHECK(same_table(ref, ctl, 1));
            for (int s = 0; s < AMEIR_N_STAGES; s++)
                CHECK_EQ_INT(ameir_controller_stage_winner(ctl, s), ameir_controller_stage_winner(ref, s));
            ameir_controller_free(ctl);
        }
    /* the final winner is the composition of the stage winners */
    ameir_arch best;
    ameir_controller_best_arch(ref, &best);
    const ameir_trial *fin = ameir_controller_trial(ref, ameir_controller_n_trials(ref) - 2);
    CHECK(ameir_arch_equal(&best, test_trial_arch(ref, fin)));
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        ameir_arch part = best;
        ameir_arch_set_part(&part, test_trial_arch(ref, ameir_controller_trial(ref, ameir_controller_stage_winner(ref, s))), s);
        CHECK(ameir_arch_equal(&part, &best));
    }
    ameir_controller_free(ref);
    ameir_search_config_free(cfg);
}

/* warm_start: the baselines train first, the best on validation is the first incumbent and
 * a finalist; a finalist equal to a baseline is not trained again; the winner is never
 * below the best baseline on validation; the table does not depend on result order. */
static void check_warm_start(void) {
    ameir_search_config *cfg = parse_config(
        "{\"data\": \"x\", \"seed\": 5, \"final_top\": 3,"
        " \"behavior\": {\"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"interaction\": {\"max_interactions\": 2, \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"mlp\": {\"widths\": [80, 200], \"acts\": [\"relu\"], \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"baselines\": [\"../../configs/archs/din.json\", \"../../configs/archs/dnn.json\"]}");
    CHECK_EQ_INT(cfg->warm_start, 1);
    ameir_controller *ctl = NULL, *other = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    ameir_search_task t;
    /* before any result: only the two baselines are out, and nothing else waits */
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_TASK);
    CHECK_EQ_INT(t.kind, AMEIR_TRIAL_FINAL_BASELINE);
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_TASK);
    CHECK_EQ_INT(t.kind, AMEIR_TRIAL_FINAL_BASELINE);
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_WAIT);
    ameir_controller_free(ctl);
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 2, 0, all_done, -1);
    const ameir_trial *b0 = ameir_controller_trial(ctl, 0), *b1 = ameir_controller_trial(ctl, 1);
    CHECK_EQ_INT(b0->kind, AMEIR_TRIAL_FINAL_BASELINE);
    CHECK_EQ_INT(b1->kind, AMEIR_TRIAL_FINAL_BASELINE);
    const ameir_trial *best_base = b1->metric > b0->metric ? b1 : b0;
    /* the first stage's incumbent is the best baseline */
    const ameir_trial *inc = ameir_controller_trial(ctl, 2);
    CHECK_EQ_INT(inc->stage, AMEIR_STAGE_BEHAVIOR);
    CHECK_EQ_INT(inc->baseline, AMEIR_ROLE_INCUMBENT);
    CHECK(ameir_arch_packed_equal(&inc->arch, &best_base->arch));
    int64_t n = ameir_controller_n_trials(ctl), n_base = 0, w = ameir_controller_final_winner(ctl);
    for (int64_t id = 0; id < n; id++) {
        const ameir_trial *x = ameir_controller_trial(ctl, id);
        n_base += x->kind == AMEIR_TRIAL_FINAL_BASELINE;
        if (x->kind == AMEIR_TRIAL_FINAL_WINNER)
            for (int i = 0; i < cfg->n_baselines; i++)
                CHECK(!ameir_arch_equal(test_trial_arch(ctl, x), &cfg->baselines[i]));
    }
    CHECK_EQ_INT(n_base, 2);
    CHECK(w >= 0);
    CHECK(ameir_controller_trial(ctl, w)->metric >= best_base->metric);
    ameir_arch best;
    ameir_controller_best_arch(ctl, &best);
    CHECK(ameir_arch_equal(&best, test_trial_arch(ctl, ameir_controller_trial(ctl, w))));
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_DONE);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        CHECK_EQ_INT(ameir_controller_create(&other, cfg), 0);
        run(other, 3, seed, all_done, -1);
        CHECK(same_table(ctl, other, 1));
        ameir_controller_free(other);
    }
    /* a baseline that wins on validation is the winner when no searched arch beats it */
    baseline_metric = 2.0;
    CHECK_EQ_INT(ameir_controller_create(&other, cfg), 0);
    run(other, 2, 0, all_done, -1);
    baseline_metric = NAN;
    w = ameir_controller_final_winner(other);
    CHECK(w == 1); /* dnn: 2.001 */
    ameir_controller_best_arch(other, &best);
    CHECK(ameir_arch_equal(&best, &cfg->baselines[1]));
    char role[96];
    CHECK_STR_CONTAINS(ameir_controller_role(other, ameir_controller_trial(other, w), role, sizeof role), "baseline:dnn");
    ameir_controller_free(other);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* A copy of the trial table (as a checkpoint records it); *n = its length. Caller frees. */
static ameir_trial *table_copy(const ameir_controller *from, int64_t *n) {
    *n = ameir_controller_n_trials(from);
    ameir_trial *rec = malloc((size_t)*n * sizeof *rec);
    for (int64_t i = 0; i < *n; i++)
        rec[i] = *ameir_controller_trial(from, i);
    return rec;
}

/* A new controller fed the trial table of `from`, as a resume from its checkpoint is. */
/* The counts and the best trial of each stage the controller keeps as results come (the
 * progress line asks for them every result) are what a scan of its table gives. */
static void check_kept(const ameir_controller *ctl) {
    int64_t kept[AMEIR_TRIAL_N_STATUS], scan[AMEIR_TRIAL_N_STATUS] = {0}, best[AMEIR_N_STAGES] = {-1, -1, -1};
    ameir_controller_counts(ctl, kept);
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *t = ameir_controller_trial(ctl, id);
        scan[t->status]++;
        if (t->stage >= AMEIR_N_STAGES || t->kind != AMEIR_TRIAL_SEARCH || t->status != AMEIR_TRIAL_DONE || !isfinite(t->metric))
            continue;
        const ameir_trial *b = best[t->stage] >= 0 ? ameir_controller_trial(ctl, best[t->stage]) : NULL;
        if (!b || t->score > b->score)
            best[t->stage] = id;
    }
    for (int i = 0; i < AMEIR_TRIAL_N_STATUS; i++)
        CHECK_EQ_INT(kept[i], scan[i]);
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        CHECK_EQ_INT(ameir_controller_best_in_stage(ctl, s), best[s]);
}

static ameir_controller *replayed(const ameir_search_config *cfg, const ameir_controller *from) {
    ameir_controller *re = NULL;
    int64_t n;
    ameir_trial *rec = table_copy(from, &n);
    CHECK_EQ_INT(ameir_controller_create(&re, cfg), 0);
    CHECK_EQ_INT(ameir_controller_replay(re, rec, n), 0);
    free(rec);
    check_kept(from);
    check_kept(re);
    return re;
}

/* R "baseline": a stage's last rung trains as far as the best baseline trained in the warm
 * start, lower rungs stay below it, a stage with a number for R keeps it, and the table is
 * the same in any result order and on replay. */
static void check_horizon_from_baseline(void) {
    ameir_search_config *cfg = parse_config(
        "{\"data\": \"x\", \"seed\": 9, \"final_top\": 2,"
        " \"behavior\": {\"schedule\": {\"n\": 5, \"eta\": 3, \"r\": 5, \"R\": \"baseline\"}},"
        " \"interaction\": {\"max_interactions\": 2, \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 12}},"
        " \"mlp\": {\"widths\": [80, 200], \"acts\": [\"relu\"], \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": \"baseline\"}},"
        " \"baselines\": [\"../../configs/archs/din.json\", \"../../configs/archs/dnn.json\"]}");
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_BEHAVIOR].R, AMEIR_R_BASELINE);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_INTERACTION].R, 12);
    baseline_steps = 77;
    ameir_controller *ctl = NULL, *other = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 2, 0, all_done, -1);
    int64_t n = ameir_controller_n_trials(ctl), top_budget[AMEIR_N_STAGES] = {0};
    int top_rung[AMEIR_N_STAGES] = {0};
    for (int64_t id = 0; id < n; id++) {
        const ameir_trial *x = ameir_controller_trial(ctl, id);
        if (x->stage >= AMEIR_N_STAGES)
            continue;
        CHECK(x->budget >= 5 && x->budget <= (x->stage == AMEIR_STAGE_INTERACTION ? 12 : 77));
        if (x->rung >= top_rung[x->stage])
            top_rung[x->stage] = x->rung, top_budget[x->stage] = x->budget;
    }
    /* the stages with R "baseline" end at the horizon, after more than one rung */
    CHECK(top_rung[AMEIR_STAGE_BEHAVIOR] >= 1);
    CHECK_EQ_INT(top_budget[AMEIR_STAGE_BEHAVIOR], 77);
    CHECK(top_rung[AMEIR_STAGE_MLP] >= 1);
    CHECK_EQ_INT(top_budget[AMEIR_STAGE_MLP], 77);
    CHECK(top_budget[AMEIR_STAGE_INTERACTION] <= 12);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        CHECK_EQ_INT(ameir_controller_create(&other, cfg), 0);
        run(other, 3, seed, all_done, -1);
        CHECK(same_table(ctl, other, 1));
        ameir_controller_free(other);
    }
    /* replayed from the finished table: the same horizon, the same trials */
    other = replayed(cfg, ctl);
    CHECK(same_table(ctl, other, 1));
    ameir_controller_free(other);
    /* a longer-training best baseline moves the horizon */
    baseline_steps = 30;
    CHECK_EQ_INT(ameir_controller_create(&other, cfg), 0);
    run(other, 2, 0, all_done, -1);
    int64_t top = 0;
    for (int64_t id = 0; id < ameir_controller_n_trials(other); id++) {
        const ameir_trial *x = ameir_controller_trial(other, id);
        if (x->stage == AMEIR_STAGE_MLP && x->budget > top)
            top = x->budget;
    }
    CHECK_EQ_INT(top, 30);
    baseline_steps = 0;
    ameir_controller_free(other);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* Replaying a recorded table (cut at several points, with trials in flight) gives the
 * live state; both then finish identically. */
static void check_replay(void) {
    ameir_search_config *cfg = make_config(6, 2, 50, 200, 1);
    ameir_controller *full = NULL;
    CHECK_EQ_INT(ameir_controller_create(&full, cfg), 0);
    run(full, 3, 5, all_done, -1);
    for (int64_t cut = 0; cut <= 20; cut += 4) {
        ameir_controller *live = NULL, *re = NULL;
        CHECK_EQ_INT(ameir_controller_create(&live, cfg), 0);
        run(live, 3, 9, all_done, cut); /* up to 3 trials left running */
        int64_t n;
        ameir_trial *rec = table_copy(live, &n);
        CHECK_EQ_INT(ameir_controller_create(&re, cfg), 0);
        CHECK_EQ_INT(ameir_controller_replay(re, rec, n), 0);
        CHECK(same_table(live, re, 0));
        int64_t cl[5], cr[5];
        ameir_controller_counts(live, cl);
        ameir_controller_counts(re, cr);
        CHECK_EQ_INT(cr[AMEIR_TRIAL_RUNNING], 0);
        CHECK_EQ_INT(cr[AMEIR_TRIAL_PENDING], cl[AMEIR_TRIAL_PENDING] + cl[AMEIR_TRIAL_RUNNING]);
        CHECK_EQ_INT(cr[AMEIR_TRIAL_DONE], cl[AMEIR_TRIAL_DONE]);
        CHECK_EQ_INT(ameir_controller_stage(re), ameir_controller_stage(live));
        run(re, 2, 11, all_done, -1);
        CHECK(same_table(full, re, 1));
        /* a table with a trial the config never creates is refused */
        rec = realloc(rec, (size_t)(n + 1) * sizeof *rec);
        rec[n] = rec[n - 1];
        rec[n].id = n;
        ameir_controller *extra = NULL;
        CHECK_EQ_INT(ameir_controller_create(&extra, cfg), 0);
        CHECK_EQ_INT(ameir_controller_replay(extra, rec, n + 1), AMEIR_ECHECKPOINT);
        CHECK_STR_CONTAINS(ameir_last_error(), "was recorded but the search config does not create it");
        ameir_controller_free(extra);
        /* a record that disagrees with the config is refused */
        if (n > 2) {
            rec[1].budget += 1;
            ameir_controller *bad = NULL;
            CHECK_EQ_INT(ameir_controller_create(&bad, cfg), 0);
            CHECK_EQ_INT(ameir_controller_replay(bad, rec, n), AMEIR_ECHECKPOINT);
            CHECK_STR_CONTAINS(ameir_last_error(), "trial 1: recorded budget differs");
            ameir_controller_free(bad);
        }
        free(rec);
        ameir_controller_free(live);
        ameir_controller_free(re);
    }
    ameir_controller_free(full);
    ameir_search_config_free(cfg);
}

static void check_bad_reports(void) {
    ameir_search_config *cfg = make_config(4, 2, 10, 20, 0);
    ameir_controller *ctl = NULL;
    ameir_search_task t;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    ameir_search_result r = {.trial_id = 99, .status = AMEIR_TRIAL_DONE, .metric = 0.5};
    CHECK_EQ_INT(ameir_controller_report(ctl, &r), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "unknown trial 99");
    r.trial_id = 0;
    CHECK_EQ_INT(ameir_controller_report(ctl, &r), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "trial 0, which is pending, expected running");
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_TASK);
    CHECK_EQ_INT(t.trial_id, 0);
    r.status = AMEIR_TRIAL_RUNNING;
    CHECK_EQ_INT(ameir_controller_report(ctl, &r), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "expected done, diverged or timeout");
    /* requeue: the trial is handed out again */
    CHECK_EQ_INT(ameir_controller_requeue(ctl, 0), 0);
    CHECK_EQ_INT(ameir_controller_requeue(ctl, 0), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "cannot requeue trial 0: not running");
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_TASK);
    CHECK_EQ_INT(t.trial_id, 0);
    ameir_controller_free(ctl);
    /* an unresolved config is refused */
    ameir_search_config *raw = NULL;
    CHECK_EQ_INT(ameir_search_config_parse(&raw, cfg->text, "raw.json", "."), 0);
    CHECK_EQ_INT(ameir_controller_create(&ctl, raw), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "not resolved");
    ameir_search_config_free(raw);
    ameir_search_config_free(cfg);
}

/* The incumbent of a stage (the part it would keep) competes in every rung, so the stage's
 * winner scores at least as well as the incumbent at the same budget; with the incumbent
 * the worst at rung 0 it is carried along and still loses; with it the best it wins. */
static void check_no_regression(void) {
    ameir_search_config *cfg = make_config(9, 3, 10, 90, 1);
    const double inc[3] = {0.0, 0.7, 5.0};
    for (int k = 0; k < 3; k++) {
        ameir_controller *ctl = NULL;
        CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
        incumbent_metric = inc[k];
        run(ctl, 3, 4, all_done, -1);
        incumbent_metric = NAN;
        for (int s = 0; s < AMEIR_N_STAGES; s++) {
            const ameir_trial *w = ameir_controller_trial(ctl, ameir_controller_stage_winner(ctl, s));
            int found = 0;
            for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
                const ameir_trial *t = ameir_controller_trial(ctl, id);
                if (t->stage != s || t->baseline != AMEIR_ROLE_INCUMBENT || t->rung != w->rung)
                    continue;
                found = 1;
                CHECK(w->score >= t->score);
                if (k == 2)
                    CHECK_EQ_INT(w->id, t->id);
            }
            CHECK(found); /* the last rung holds the incumbent */
        }
        ameir_controller_free(ctl);
    }
    ameir_search_config_free(cfg);
}

/* Rung 0 trains each baseline's part that lies in the stage's subspace (once, not when it
 * equals the incumbent's); "seed_baselines": false turns that off. */
static void check_seeded_baselines(void) {
    const char *fmt = "{\"data\": \"x\", \"seed\": 3, \"warm_start\": false, %s"
                      " \"behavior\": {\"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
                      " \"interaction\": {\"max_interactions\": 2, \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
                      " \"mlp\": {\"widths\": [80, 200], \"acts\": [\"relu\"], \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
                      " \"baselines\": [\"../../configs/archs/din.json\", \"../../configs/archs/dnn.json\"]}";
    char text[2048];
    for (int off = 0; off < 2; off++) {
        snprintf(text, sizeof text, fmt, off ? "\"seed_baselines\": false," : "");
        ameir_search_config *cfg = parse_config(text);
        ameir_controller *ctl = NULL;
        CHECK_EQ_INT(cfg->seed_baselines, !off);
        CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
        run(ctl, 2, 3, all_done, -1);
        int roles[AMEIR_N_STAGES][4] = {{0}}; /* incumbent, din, dnn, candidates at rung 0 */
        for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
            const ameir_trial *t = ameir_controller_trial(ctl, id);
            if (t->kind != AMEIR_TRIAL_SEARCH || t->rung)
                continue;
            roles[t->stage][t->baseline == AMEIR_ROLE_INCUMBENT ? 0 : t->baseline == AMEIR_ROLE_CANDIDATE ? 3 : 1 + t->baseline]++;
            if (t->baseline >= 0) { /* the baseline's part on the incumbent's other parts */
                ameir_arch a = *test_trial_arch(ctl, t);
                ameir_arch_set_part(&a, &cfg->baselines[t->baseline], t->stage);
                CHECK(ameir_arch_equal(&a, test_trial_arch(ctl, t)));
                char role[96];
                CHECK_STR_CONTAINS(ameir_controller_role(ctl, t, role, sizeof role), t->baseline ? "baseline:dnn" : "baseline:din");
            }
        }
        for (int s = 0; s < AMEIR_N_STAGES; s++) {
            CHECK_EQ_INT(roles[s][0], 1);
            CHECK_EQ_INT(roles[s][3], s == AMEIR_STAGE_INTERACTION ? 6 : 3); /* two generations (max_order 2) */
        }
        /* behaviour: din (target attention) and dnn (mean = the default) -> din only;
         * interactions: both empty = the incumbent; mlp: both 200-80 relu, once */
        CHECK_EQ_INT(roles[AMEIR_STAGE_BEHAVIOR][1], !off);
        CHECK_EQ_INT(roles[AMEIR_STAGE_BEHAVIOR][2], 0);
        CHECK_EQ_INT(roles[AMEIR_STAGE_INTERACTION][1] + roles[AMEIR_STAGE_INTERACTION][2], 0);
        CHECK_EQ_INT(roles[AMEIR_STAGE_MLP][1], !off);
        CHECK_EQ_INT(roles[AMEIR_STAGE_MLP][2], 0);
        ameir_controller_free(ctl);
        ameir_search_config_free(cfg);
    }
}

/* valid_rows: rungs below a stage's planned last score on the subsample, the last rung and
 * the finals on the whole split; a chain's score is its best metric on the same rows. */
static void check_valid_rows(void) {
    ameir_search_config *cfg = parse_config(
        "{\"data\": \"x\", \"seed\": 5,"
        " \"behavior\": {\"schedule\": {\"n\": 8, \"eta\": 2, \"r\": 5, \"R\": 40, \"valid_rows\": 300, \"eval_every\": 7}},"
        " \"interaction\": {\"max_interactions\": 2, \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"mlp\": {\"widths\": [8], \"schedule\": {\"n\": 3, \"eta\": 3, \"r\": 5, \"R\": 5, \"valid_rows\": 100}}}");
    ameir_controller *ctl = NULL;
    ameir_search_task t;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_TASK);
    CHECK_EQ_INT(t.valid_rows, 300);
    CHECK_EQ_INT(t.eval_every, 7);
    CHECK_EQ_INT(ameir_controller_requeue(ctl, t.trial_id), 0);
    run(ctl, 2, 7, all_done, -1);
    int last_rung = ameir_controller_trial(ctl, ameir_controller_stage_winner(ctl, AMEIR_STAGE_BEHAVIOR))->rung;
    CHECK_EQ_INT(last_rung, 3); /* 9 @5, 5 @10, 3 @20, 2 @40 */
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *tr = ameir_controller_trial(ctl, id);
        if (tr->stage == AMEIR_STAGE_BEHAVIOR)
            CHECK_EQ_INT(tr->valid_rows, tr->rung == last_rung ? 0 : 300);
        else
            CHECK_EQ_INT(tr->valid_rows, 0); /* mlp: r = R, its only rung is the last */
        if (tr->parent >= 0) {
            const ameir_trial *p = ameir_controller_trial(ctl, tr->parent);
            CHECK(tr->score == (p->valid_rows == tr->valid_rows && p->score > tr->metric ? p->score : tr->metric));
        }
    }
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
    /* one-shot: every round's scored trials on the subsample, the standalone trials (the
     * stage's last score) on the whole split */
    cfg = parse_config(
        "{\"data\": \"x\", \"seed\": 5, \"method\": \"oneshot\", \"standalone_top\": 2, \"warm_start\": false,"
        " \"behavior\": {\"schedule\": {\"n\": 8, \"eta\": 2, \"r\": 5, \"R\": 20, \"valid_rows\": 300}},"
        " \"interaction\": {\"max_interactions\": 2, \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10, \"method\": \"train\"}},"
        " \"mlp\": {\"widths\": [8, 16], \"schedule\": {\"n\": 3, \"eta\": 3, \"r\": 5, \"R\": 5, \"valid_rows\": 100}}}");
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 2, 7, all_done, -1);
    int scored[AMEIR_N_STAGES] = {0}, rounds_at_R = 0;
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *tr = ameir_controller_trial(ctl, id);
        if (tr->stage == AMEIR_STAGE_FINAL)
            continue;
        int64_t sub = tr->stage == AMEIR_STAGE_BEHAVIOR ? 300 : tr->stage == AMEIR_STAGE_MLP ? 100 : 0;
        if (tr->kind == AMEIR_TRIAL_SCORED) {
            CHECK_EQ_INT(tr->valid_rows, sub);
            scored[tr->stage]++;
            rounds_at_R += tr->budget == (tr->stage == AMEIR_STAGE_BEHAVIOR ? 20 : 5);
        } else if (tr->kind == AMEIR_TRIAL_SEARCH && tr->stage != AMEIR_STAGE_INTERACTION) {
            CHECK_EQ_INT(tr->valid_rows, 0);
        }
    }
    CHECK(scored[AMEIR_STAGE_BEHAVIOR] > 0 && scored[AMEIR_STAGE_MLP] > 0);
    CHECK(rounds_at_R > 0); /* the last round, at R, on the subsample too */
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* Interactions in generations: order-2 sets first, then children of the best with orders
 * growing by one per generation, all new and inside the subspace; same table for any order
 * of results (covered with the default generations by check_order_independence). */
static void check_generations(void) {
    ameir_search_config *cfg = parse_config(
        "{\"data\": \"x\", \"seed\": 9,"
        " \"behavior\": {\"max_blocks\": 0, \"aggregates\": [\"mean\"], \"positions\": [false], \"schedule\": {\"n\": 1, \"eta\": 2, \"r\": 1, \"R\": 1}},"
        " \"interaction\": {\"max_order\": 4, \"max_interactions\": 4, \"generations\": 3,"
        "   \"schedule\": {\"n\": 6, \"eta\": 3, \"r\": 5, \"R\": 45}},"
        " \"mlp\": {\"widths\": [8], \"schedule\": {\"n\": 1, \"eta\": 2, \"r\": 5, \"R\": 5}}}");
    ameir_controller *ctl = NULL, *other = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 3, 2, all_done, -1);
    int per_gen[3] = {0}, max_order[3] = {0};
    int64_t first = -1;
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *t = ameir_controller_trial(ctl, id);
        if (t->stage != AMEIR_STAGE_INTERACTION || t->rung)
            continue;
        if (first < 0)
            first = id;
        CHECK(ameir_space_contains(cfg, AMEIR_STAGE_INTERACTION, test_trial_arch(ctl, t)));
        for (int64_t j = first; j < id; j++)
            CHECK(!ameir_arch_packed_equal(&ameir_controller_trial(ctl, j)->arch, &t->arch));
        if (t->baseline != AMEIR_ROLE_CANDIDATE)
            continue;
        int g = (t->candidate - 1) / 6; /* after the incumbent, 6 per generation */
        CHECK(g >= 0 && g < 3);
        per_gen[g]++;
        const ameir_arch *ta = test_trial_arch(ctl, t);
        for (int i = 0; i < ta->n_interactions; i++)
            if (ta->interactions[i].order > max_order[g])
                max_order[g] = ta->interactions[i].order;
    }
    for (int g = 0; g < 3; g++) {
        CHECK_EQ_INT(per_gen[g], 6);
        CHECK(max_order[g] <= 2 + g);
    }
    CHECK_EQ_INT(max_order[0], 2);
    CHECK(max_order[2] >= 3);
    /* the same table with one worker, results in order */
    CHECK_EQ_INT(ameir_controller_create(&other, cfg), 0);
    run(other, 1, 0, all_done, -1);
    CHECK(same_table(ctl, other, 1));
    ameir_controller_free(other);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* final_top: the best few of the last stage are trained in the final phase, deepest rung
 * first; the winner is the finalist best on validation and becomes the best arch. */
static void check_final_top(void) {
    ameir_search_config *cfg = parse_config(
        "{\"data\": \"x\", \"seed\": 11, \"final_top\": 3, \"warm_start\": false,"
        " \"behavior\": {\"schedule\": {\"n\": 2, \"eta\": 2, \"r\": 5, \"R\": 5}},"
        " \"interaction\": {\"max_interactions\": 1, \"schedule\": {\"n\": 2, \"eta\": 2, \"r\": 5, \"R\": 5}},"
        " \"mlp\": {\"widths\": [8, 16, 32], \"schedule\": {\"n\": 8, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"baselines\": [\"../../configs/archs/dnn.json\"]}");
    ameir_controller *ctl = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 2, 1, all_done, -1);
    int64_t n = ameir_controller_n_trials(ctl), fin[3], k = 0, w = ameir_controller_final_winner(ctl);
    for (int64_t id = 0; id < n; id++)
        if (ameir_controller_trial(ctl, id)->kind == AMEIR_TRIAL_FINAL_WINNER)
            fin[k++] = id;
    CHECK_EQ_INT(k, 3);
    CHECK_EQ_INT(ameir_controller_trial(ctl, n - 1)->kind, AMEIR_TRIAL_FINAL_BASELINE);
    /* finalist 0 is the composed stage winner; the others are distinct */
    ameir_arch composed = cfg->defaults;
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        ameir_arch_set_part(&composed, test_trial_arch(ctl, ameir_controller_trial(ctl, ameir_controller_stage_winner(ctl, s))), s);
    CHECK(ameir_arch_equal(&composed, test_trial_arch(ctl, ameir_controller_trial(ctl, fin[0]))));
    CHECK(!ameir_arch_packed_equal(&ameir_controller_trial(ctl, fin[1])->arch, &ameir_controller_trial(ctl, fin[0])->arch));
    CHECK(!ameir_arch_packed_equal(&ameir_controller_trial(ctl, fin[2])->arch, &ameir_controller_trial(ctl, fin[1])->arch));
    CHECK(w >= 0);
    for (int i = 0; i < 3; i++)
        CHECK(ameir_controller_trial(ctl, fin[i])->metric <= ameir_controller_trial(ctl, w)->metric);
    ameir_arch best;
    ameir_controller_best_arch(ctl, &best);
    CHECK(ameir_arch_equal(&best, test_trial_arch(ctl, ameir_controller_trial(ctl, w))));
    char role[96];
    CHECK_STR_CONTAINS(ameir_controller_role(ctl, ameir_controller_trial(ctl, fin[1]), role, sizeof role), "finalist");
    CHECK_STR_CONTAINS(ameir_controller_role(ctl, ameir_controller_trial(ctl, n - 1), role, sizeof role), "baseline:dnn");
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

/* A final baseline diverges when its seed is the config's second final seed. */
static const ameir_search_config *diverge_cfg;
static int second_seed_diverges(const ameir_search_task *t) {
    return t->kind == AMEIR_TRIAL_FINAL_BASELINE && t->seed == ameir_final_seed(diverge_cfg, 1) ? AMEIR_TRIAL_DIVERGED
                                                                                                 : AMEIR_TRIAL_DONE;
}

/* final_seeds: every finalist and the best baseline train with k seeds, the winner is the
 * contender with the best mean validation metric (not the best single training), a failed
 * seed puts its contender out, and the table is the same in any result order and on replay. */
static void check_final_seeds(void) {
    ameir_search_config *cfg = parse_config(
        "{\"data\": \"x\", \"seed\": 5, \"final_top\": 2, \"final_seeds\": 3,"
        " \"behavior\": {\"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"interaction\": {\"max_interactions\": 2, \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"mlp\": {\"widths\": [80, 200], \"acts\": [\"relu\"], \"schedule\": {\"n\": 3, \"eta\": 2, \"r\": 5, \"R\": 10}},"
        " \"baselines\": [\"../../configs/archs/din.json\", \"../../configs/archs/dnn.json\"]}");
    CHECK_EQ_INT(cfg->final_seeds, 3);
    CHECK(ameir_final_seed(cfg, 0) == cfg->seed);
    CHECK(ameir_final_seed(cfg, 1) != ameir_final_seed(cfg, 2) && ameir_final_seed(cfg, 1) != cfg->seed);
    int differs = 0; /* runs where the best single training is not the best mean */
    seed_noise = 0.05;
    for (uint64_t order = 0; order < 8; order++) {
        ameir_controller *ctl = NULL;
        CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
        run(ctl, 3, order, all_done, -1);
        int64_t n = ameir_controller_n_trials(ctl), w = ameir_controller_final_winner(ctl);
        /* the warm start's best baseline: of the first two trials, on the config's seed */
        const ameir_trial *b0 = ameir_controller_trial(ctl, 0), *b1 = ameir_controller_trial(ctl, 1);
        int best_base = b1->metric > b0->metric ? 1 : 0;
        /* brute force: the contenders are the archs with three final trainings */
        int64_t best = -1, best_single = -1;
        double best_mean = -1;
        int n_contenders = 0;
        for (int64_t i = 0; i < n; i++) {
            const ameir_trial *t = ameir_controller_trial(ctl, i);
            if (t->stage != AMEIR_STAGE_FINAL)
                continue;
            int count = 0, first = 1;
            double sum = 0;
            uint64_t seeds[3] = {0};
            for (int64_t j = 0; j < n; j++) {
                const ameir_trial *u = ameir_controller_trial(ctl, j);
                if (u->stage != AMEIR_STAGE_FINAL || !ameir_arch_packed_equal(&u->arch, &t->arch))
                    continue;
                first &= j >= i;
                if (count < 3)
                    seeds[count] = u->seed;
                count++, sum += u->metric;
            }
            if (t->kind == AMEIR_TRIAL_FINAL_BASELINE && t->baseline != best_base) {
                CHECK_EQ_INT(count, 1); /* the other baseline: the config's seed only */
                continue;
            }
            CHECK_EQ_INT(count, 3);
            for (int j = 0; j < 3 && count == 3; j++)
                CHECK(seeds[j] == ameir_final_seed(cfg, j)); /* in seed order, first the config's */
            if (first) {
                n_contenders++;
                if (best < 0 || sum / 3 > best_mean)
                    best = i, best_mean = sum / 3;
            }
            if (best_single < 0 || t->metric > ameir_controller_trial(ctl, best_single)->metric)
                best_single = i;
        }
        CHECK_EQ_INT(n_contenders, 3); /* two finalists and the best baseline */
        CHECK_EQ_INT(w, best);
        ameir_contender_stats st;
        CHECK_EQ_INT(ameir_controller_contender(ctl, w, &st), 0);
        CHECK_EQ_INT(st.count, 3);
        CHECK_EQ_INT(st.n, 3);
        CHECK_EQ_INT(st.first, w);
        CHECK(fabs(st.valid_mean - best_mean) < 1e-12 && st.valid_sd > 0);
        CHECK(ameir_controller_contender(ctl, 2, &st) < 0); /* a search trial is no contender */
        differs += !ameir_arch_packed_equal(&ameir_controller_trial(ctl, best_single)->arch, &ameir_controller_trial(ctl, w)->arch);
        ameir_controller *re = replayed(cfg, ctl);
        CHECK(same_table(ctl, re, 0));
        CHECK_EQ_INT(ameir_controller_final_winner(re), w);
        ameir_controller_free(re);
        if (order > 0) { /* another order of results: the same table */
            ameir_controller *ref = NULL;
            CHECK_EQ_INT(ameir_controller_create(&ref, cfg), 0);
            run(ref, 1, 0, all_done, -1);
            CHECK(same_table(ctl, ref, 1));
            ameir_controller_free(ref);
        }
        ameir_controller_free(ctl);
        /* with a fresh config seed the draws differ */
        cfg->seed += 1000;
    }
    CHECK(differs > 0); /* so the mean, not one training, decided at least once */
    /* a contender whose training diverged with one seed is out; the others still compete */
    diverge_cfg = cfg;
    seed_noise = 0.05;
    baseline_metric = 2.0; /* far the best, but for the seed it lost */
    ameir_controller *ctl = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 2, 0, second_seed_diverges, -1);
    baseline_metric = NAN;
    int64_t w = ameir_controller_final_winner(ctl);
    CHECK(w >= 0 && ameir_controller_trial(ctl, w)->kind == AMEIR_TRIAL_FINAL_WINNER);
    ameir_search_task t;
    CHECK_EQ_INT(ameir_controller_next(ctl, &t), AMEIR_NEXT_DONE);
    ameir_controller_free(ctl);
    seed_noise = 0;
    ameir_search_config_free(cfg);
}

/* A one-shot task carries the supernet's candidates: a supernet trial the alive ones, a
 * scored trial the one it scores. */
static int oneshot_task_ok = 1;
static int check_oneshot_task(const ameir_search_task *t) {
    if (t->kind == AMEIR_TRIAL_SUPERNET) {
        oneshot_task_ok &= t->n_cands > 0 && t->n_alive > 0 && t->n_alive <= t->n_cands && t->candidate == -1;
        for (int i = 0; i < t->n_alive; i++)
            oneshot_task_ok &= t->alive[i] >= 0 && t->alive[i] < t->n_cands;
    } else if (t->kind == AMEIR_TRIAL_SCORED) {
        oneshot_task_ok &= t->candidate >= 0 && t->candidate < t->n_cands && ameir_arch_equal(&t->cands[t->candidate], &t->arch);
    } else {
        oneshot_task_ok &= t->n_cands == 0 && t->cands == NULL;
    }
    return AMEIR_TRIAL_DONE;
}

/* "method": "oneshot": each stage is rounds of (one supernet trial, then every alive
 * candidate scored with its weights), the best ceil(k/eta) going on at eta times the budget,
 * then the best standalone_top and the incumbent trained alone from scratch at R; the table
 * is the same in any result order, on replay and through a checkpoint file. */
static void check_oneshot(void) {
    config_extra = "\"method\": \"oneshot\", \"standalone_top\": 2, \"warm_start\": false,";
    ameir_search_config *cfg = make_config(17, 3, 10, 90, 1);
    config_extra = "";
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_MLP].method, AMEIR_METHOD_ONESHOT);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_BEHAVIOR].standalone_top, 2);
    ameir_controller *ref = NULL, *ctl = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ref, cfg), 0);
    int64_t planned = ameir_controller_planned_trials(ref);
    run(ref, 1, 0, check_oneshot_task, -1);
    CHECK(oneshot_task_ok);
    int64_t n = ameir_controller_n_trials(ref);
    CHECK(n <= planned); /* planned counts every baseline's part as a seed */
    /* behaviour: 1 incumbent + 1 baseline part + 17 drawn = 19; rounds at 10 (19 alive),
     * 30 (7), 90 (3: the last, at R); then the best 2 and the incumbent alone */
    static const int alive[3] = {19, 7, 3};
    static const long budget[3] = {10, 30, 90};
    int64_t id = 0, prev_sn = -1;
    for (int g = 0; g < 3; g++) {
        const ameir_trial *sn = ameir_controller_trial(ref, id);
        CHECK_EQ_INT(sn->kind, AMEIR_TRIAL_SUPERNET);
        CHECK_EQ_INT(sn->rung, g);
        CHECK_EQ_INT(sn->budget, budget[g]);
        CHECK_EQ_INT(sn->parent, prev_sn);
        prev_sn = id++;
        for (int k = 0; k < alive[g]; k++, id++) {
            const ameir_trial *t = ameir_controller_trial(ref, id);
            CHECK_EQ_INT(t->kind, AMEIR_TRIAL_SCORED);
            CHECK_EQ_INT(t->parent, prev_sn);
            CHECK_EQ_INT(t->budget, budget[g]);
        }
    }
    /* round 1 holds the best 7 of round 0 by score */
    int in_round1[64] = {0};
    for (int64_t j = 21; j < 28; j++)
        in_round1[ameir_controller_trial(ref, j)->candidate] = 1;
    for (int64_t a = 1; a < 20; a++)
        for (int64_t b = 1; b < 20; b++) {
            const ameir_trial *x = ameir_controller_trial(ref, a), *y = ameir_controller_trial(ref, b);
            if (in_round1[x->candidate] && !in_round1[y->candidate])
                CHECK(x->metric >= y->metric);
        }
    int standalone = 0, incumbent = 0;
    for (; ameir_controller_trial(ref, id)->stage == AMEIR_STAGE_BEHAVIOR; id++) {
        const ameir_trial *t = ameir_controller_trial(ref, id);
        CHECK_EQ_INT(t->kind, AMEIR_TRIAL_SEARCH);
        CHECK_EQ_INT(t->parent, -1);
        CHECK_EQ_INT(t->budget, 90);
        standalone++;
        incumbent += t->baseline == AMEIR_ROLE_INCUMBENT;
    }
    CHECK(standalone == 2 || standalone == 3);
    CHECK_EQ_INT(incumbent, 1);
    const ameir_trial *w = ameir_controller_trial(ref, ameir_controller_stage_winner(ref, AMEIR_STAGE_BEHAVIOR));
    CHECK_EQ_INT(w->kind, AMEIR_TRIAL_SEARCH);
    CHECK(w->id < id && w->id >= id - standalone);
    /* order independence and replay */
    for (int wk = 2; wk <= 8; wk *= 2)
        for (uint64_t seed = 1; seed <= 2; seed++) {
            CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
            run(ctl, wk, seed, all_done, -1);
            CHECK(same_table(ref, ctl, 1));
            ameir_controller_free(ctl);
        }
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    run(ctl, 3, 5, all_done, 30); /* in the middle of the behaviour stage's round 1 */
    ameir_controller *re = replayed(cfg, ctl);
    CHECK(same_table(ctl, re, 0));
    run(re, 3, 6, all_done, -1);
    CHECK(same_table(ref, re, 1));
    ameir_controller_free(re);
    /* through RUN.h5: every row passes the reader's checks */
    char dir[] = "/tmp/ameir_oneshot_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/RUN.h5", dir);
    CHECK_EQ_INT(ameir_checkpoint_write(path, cfg, ctl), 0);
    ameir_search_config *cfg2 = NULL;
    ameir_controller *back = NULL;
    if (ameir_checkpoint_read(path, &cfg2, &back) < 0)
        fprintf(stderr, "checkpoint read: %s\n", ameir_last_error());
    CHECK(back != NULL && same_table(ctl, back, 0));
    ameir_controller_free(back);
    ameir_search_config_free(cfg2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    ameir_controller_free(ctl);
    ameir_controller_free(ref);
    ameir_search_config_free(cfg);
}

int main(void) {
    /* rung 0 = the incumbent + n candidates */
    static const int s1[] = {7, 4, 2};
    static const long b1[] = {50, 100, 200};
    check_rungs(6, 2, 50, 200, s1, b1, 3);
    static const int s2[] = {2};
    static const long b2[] = {10};
    check_rungs(1, 2, 10, 100, s2, b2, 1); /* n = 1: the incumbent and one candidate, one rung */
    static const int s3[] = {6, 3, 2};
    static const long b3[] = {1, 2, 4};
    check_rungs(5, 2, 1, 1000, s3, b3, 3); /* stops when one would be left */
    static const int s4[] = {28, 10};
    static const long b4[] = {10, 30};
    check_rungs(27, 3, 10, 30, s4, b4, 2); /* R reached before one is left */
    static const int s5[] = {11, 4, 2};
    static const long b5[] = {3, 9, 20};
    check_rungs(10, 3, 3, 20, s5, b5, 3); /* budget capped at R */
    static const int s6[] = {5};
    static const long b6[] = {10};
    check_rungs(4, 2, 10, 10, s6, b6, 1); /* r = R */
    check_promotion_by_metric();
    check_ties();
    check_no_regression();
    check_seeded_baselines();
    check_valid_rows();
    check_generations();
    check_final_top();
    check_final_seeds();
    check_diverged();
    check_order_independence();
    check_warm_start();
    check_horizon_from_baseline();
    check_replay();
    check_bad_reports();
    check_oneshot();
    return check_finish("test_controller");
}
