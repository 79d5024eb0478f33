/* The search controller: a state machine over the trial table, with no MPI and no clock.
 *
 * Stage by stage, random search with successive elimination: rung 0 holds the stage's
 * candidates at budget r; when every trial of a rung has a result, the best
 * ceil(size/eta) that finished with a finite metric (ties: lower id) continue, as new
 * trials with the old one as parent, at min(eta * budget, R). The stage ends when the
 * rung just finished was at R or at most one would go on; its winner is the best of
 * that rung. Rungs are synchronous and the ranking reads only (metric, id), so the trial
 * table is the same whatever order results arrive in. Then the final phase: the
 * composed winner and each baseline, from scratch, with the final budget. */
#include "ameir/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"

struct ameir_controller {
    const ameir_search_config *cfg;
    ameir_trial *trials;
    int64_t n, cap;
    int stage;            /* enum ameir_stage */
    int rung;             /* within the stage */
    int64_t rung_first;   /* id of the first trial of the current rung (or of the finals) */
    int64_t rung_size;
    int64_t rung_budget;
    int64_t winners[AMEIR_N_STAGES];
    ameir_arch base;      /* winners of finished stages + defaults of the others */
    int done;
    ameir_arch *cand;     /* scratch for a stage's candidates */
    int64_t *order;       /* scratch for ranking a rung */
};

static const char *const kind_names[] = {"search", "winner", "baseline"};
static const char *const status_names[] = {"pending", "running", "done", "diverged", "timeout"};

const char *ameir_trial_kind_name(int kind) { return kind >= 0 && kind <= 2 ? kind_names[kind] : NULL; }
const char *ameir_trial_status_name(int status) { return status >= 0 && status <= 4 ? status_names[status] : NULL; }

static int finished(int status) { return status >= AMEIR_TRIAL_DONE; }
static int ok(const ameir_trial *t) { return t->status == AMEIR_TRIAL_DONE && isfinite(t->metric); }

/* a before b: finished with a finite metric first, higher metric first, lower id first */
static int better(const ameir_trial *a, const ameir_trial *b) {
    if (ok(a) != ok(b))
        return ok(a);
    if (ok(a) && a->metric != b->metric)
        return a->metric > b->metric;
    return a->id < b->id;
}

static int64_t stage_n(const ameir_search_config *cfg, int stage) {
    int64_t size = ameir_space_size(cfg, stage);
    return size < cfg->schedule[stage].n ? size : cfg->schedule[stage].n;
}

static int add_trial(ameir_controller *ctl, ameir_trial **out) {
    if (ctl->n == ctl->cap) {
        int64_t cap = ctl->cap ? ctl->cap * 2 : 64;
        ameir_trial *t = realloc(ctl->trials, (size_t)cap * sizeof *t);
        if (!t)
            return ameir_fail(AMEIR_ENOMEM, "search controller: out of memory for %lld trials", (long long)cap);
        ctl->trials = t, ctl->cap = cap;
    }
    ameir_trial *t = &ctl->trials[ctl->n];
    memset(t, 0, sizeof *t);
    t->id = ctl->n++;
    t->parent = -1, t->baseline = -1, t->candidate = -1, t->worker = -1;
    t->metric = NAN;
    t->seed = ctl->cfg->seed; /* every trial the same seed: candidates see the same data order */
    t->status = AMEIR_TRIAL_PENDING;
    *out = t;
    return 0;
}

static int start_stage(ameir_controller *ctl, int stage);

static int start_final(ameir_controller *ctl) {
    const ameir_search_config *cfg = ctl->cfg;
    ameir_trial *t = NULL;
    ctl->stage = AMEIR_STAGE_FINAL;
    ctl->rung = 0;
    ctl->rung_first = ctl->n;
    ctl->rung_size = 1 + cfg->n_baselines;
    ctl->rung_budget = cfg->final_train.max_steps;
    for (int i = -1; i < cfg->n_baselines; i++) {
        AMEIR_TRY(add_trial(ctl, &t));
        t->stage = AMEIR_STAGE_FINAL;
        t->kind = i < 0 ? AMEIR_TRIAL_FINAL_WINNER : AMEIR_TRIAL_FINAL_BASELINE;
        t->baseline = i;
        t->budget = cfg->final_train.max_steps;
        t->arch = i < 0 ? ctl->base : cfg->baselines[i];
    }
    return 0;
}

static int start_stage(ameir_controller *ctl, int stage) {
    const ameir_search_config *cfg = ctl->cfg;
    int n_cand = 0;
    if (stage >= AMEIR_N_STAGES)
        return start_final(ctl);
    AMEIR_TRY(ameir_space_draw(cfg, stage, &ctl->base, cfg->schedule[stage].n, ctl->cand, &n_cand));
    ctl->stage = stage;
    ctl->rung = 0;
    ctl->rung_first = ctl->n;
    ctl->rung_size = n_cand;
    ctl->rung_budget = cfg->schedule[stage].r;
    for (int i = 0; i < n_cand; i++) {
        ameir_trial *t = NULL;
        AMEIR_TRY(add_trial(ctl, &t));
        t->stage = stage;
        t->kind = AMEIR_TRIAL_SEARCH;
        t->candidate = i;
        t->budget = ctl->rung_budget;
        t->arch = ctl->cand[i];
    }
    return 0;
}

/* Order the ids of the current rung best first into ctl->order. */
static void rank_rung(ameir_controller *ctl) {
    for (int64_t i = 0; i < ctl->rung_size; i++)
        ctl->order[i] = ctl->rung_first + i;
    /* insertion sort: rungs are small, and qsort would need the table in a global */
    for (int64_t i = 1; i < ctl->rung_size; i++) {
        int64_t v = ctl->order[i], j = i;
        while (j > 0 && better(&ctl->trials[v], &ctl->trials[ctl->order[j - 1]])) {
            ctl->order[j] = ctl->order[j - 1];
            j--;
        }
        ctl->order[j] = v;
    }
}

static int end_stage(ameir_controller *ctl) {
    int s = ctl->stage;
    ctl->winners[s] = -1;
    /* the best of the last rung; if none of it finished well, the latest earlier rung's best */
    for (int64_t id = ctl->n - 1; id >= 0 && ctl->winners[s] < 0; id--) {
        const ameir_trial *t = &ctl->trials[id];
        if (t->stage != s || !ok(t))
            continue;
        int64_t best = id;
        for (int64_t j = id - 1; j >= 0 && ctl->trials[j].stage == s && ctl->trials[j].rung == t->rung; j--)
            if (better(&ctl->trials[j], &ctl->trials[best]))
                best = j;
        ctl->winners[s] = best;
    }
    if (ctl->winners[s] >= 0)
        ameir_arch_set_part(&ctl->base, &ctl->trials[ctl->winners[s]].arch, s);
    return start_stage(ctl, s + 1);
}

/* Called when every trial of the current rung has a result. */
static int rung_complete(ameir_controller *ctl) {
    const ameir_schedule *sch = &ctl->cfg->schedule[ctl->stage];
    if (ctl->stage == AMEIR_STAGE_FINAL) {
        ctl->done = 1;
        return 0;
    }
    rank_rung(ctl);
    int64_t keep = (ctl->rung_size + sch->eta - 1) / sch->eta, n_ok = 0;
    for (int64_t i = 0; i < ctl->rung_size; i++)
        n_ok += ok(&ctl->trials[ctl->order[i]]);
    if (keep > n_ok)
        keep = n_ok;
    if (ctl->rung_budget >= sch->R || keep <= 1)
        return end_stage(ctl);
    int64_t budget = ctl->rung_budget > sch->R / sch->eta ? sch->R : ctl->rung_budget * sch->eta;
    if (budget > sch->R)
        budget = sch->R;
    int64_t first = ctl->n;
    for (int64_t i = 0; i < keep; i++) {
        ameir_trial *t = NULL;
        int64_t pid = ctl->order[i];
        AMEIR_TRY(add_trial(ctl, &t));
        const ameir_trial *p = &ctl->trials[pid]; /* after add_trial: the table may have moved */
        t->stage = p->stage;
        t->kind = AMEIR_TRIAL_SEARCH;
        t->rung = p->rung + 1;
        t->candidate = p->candidate;
        t->budget = budget;
        t->parent = pid;
        t->seed = p->seed;
        t->arch = p->arch;
    }
    ctl->rung++;
    ctl->rung_first = first;
    ctl->rung_size = keep;
    ctl->rung_budget = budget;
    return 0;
}

int ameir_controller_create(ameir_controller **out, const ameir_search_config *cfg) {
    ameir_controller *ctl = NULL;
    int rc, max_n = 1;
    *out = NULL;
    if (!cfg->resolved)
        return ameir_fail(AMEIR_EINVAL, "%s: search config not resolved against the dataset", cfg->origin);
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        if (cfg->schedule[s].n > max_n)
            max_n = cfg->schedule[s].n;
    if (1 + cfg->n_baselines > max_n)
        max_n = 1 + cfg->n_baselines;
    ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return ameir_fail(AMEIR_ENOMEM, "search controller: out of memory");
    ctl->cfg = cfg;
    ctl->cand = malloc((size_t)max_n * sizeof *ctl->cand);
    ctl->order = malloc((size_t)max_n * sizeof *ctl->order);
    if (!ctl->cand || !ctl->order) {
        rc = ameir_fail(AMEIR_ENOMEM, "search controller: out of memory");
        goto fail;
    }
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        ctl->winners[s] = -1;
    ctl->base = cfg->defaults;
    rc = start_stage(ctl, AMEIR_STAGE_BEHAVIOR);
    if (rc < 0)
        goto fail;
    *out = ctl;
    return 0;
fail:
    ameir_controller_free(ctl);
    return rc;
}

void ameir_controller_free(ameir_controller *ctl) {
    if (!ctl)
        return;
    free(ctl->trials);
    free(ctl->cand);
    free(ctl->order);
    free(ctl);
}

int ameir_controller_next(ameir_controller *ctl, ameir_search_task *task) {
    if (ctl->done)
        return AMEIR_NEXT_DONE;
    for (int64_t id = ctl->rung_first; id < ctl->n; id++) {
        ameir_trial *t = &ctl->trials[id];
        if (t->status != AMEIR_TRIAL_PENDING)
            continue;
        t->status = AMEIR_TRIAL_RUNNING;
        memset(task, 0, sizeof *task);
        task->trial_id = t->id;
        task->stage = t->stage;
        task->kind = t->kind;
        task->rung = t->rung;
        task->baseline = t->baseline;
        task->budget = t->budget;
        task->parent = t->parent;
        task->seed = t->seed;
        task->arch = t->arch;
        return AMEIR_NEXT_TASK;
    }
    return AMEIR_NEXT_WAIT;
}

int ameir_controller_report(ameir_controller *ctl, const ameir_search_result *r) {
    if (r->trial_id < 0 || r->trial_id >= ctl->n)
        return ameir_fail(AMEIR_EINVAL, "search controller: result for unknown trial %lld (%lld trials)",
                          (long long)r->trial_id, (long long)ctl->n);
    ameir_trial *t = &ctl->trials[r->trial_id];
    if (t->status != AMEIR_TRIAL_RUNNING)
        return ameir_fail(AMEIR_EINVAL, "search controller: result for trial %lld, which is %s, expected running",
                          (long long)t->id, ameir_trial_status_name(t->status));
    if (!finished(r->status) || r->status > AMEIR_TRIAL_TIMEOUT)
        return ameir_fail(AMEIR_EINVAL, "search controller: trial %lld: got status %d, expected done, diverged or timeout",
                          (long long)t->id, r->status);
    t->status = r->status;
    t->metric = r->status == AMEIR_TRIAL_DONE ? r->metric : NAN;
    t->valid = r->valid;
    t->test = r->test;
    t->steps = r->steps;
    t->worker = r->worker;
    t->seconds = r->seconds;
    for (int64_t i = 0; i < ctl->rung_size; i++)
        if (!finished(ctl->trials[ctl->rung_first + i].status))
            return 0;
    return rung_complete(ctl);
}

int ameir_controller_requeue(ameir_controller *ctl, int64_t id) {
    if (id < 0 || id >= ctl->n || ctl->trials[id].status != AMEIR_TRIAL_RUNNING)
        return ameir_fail(AMEIR_EINVAL, "search controller: cannot requeue trial %lld: not running", (long long)id);
    ctl->trials[id].status = AMEIR_TRIAL_PENDING;
    return 0;
}

/* The first way a recorded trial differs from the one the controller made, or NULL. */
static const char *record_differs(const ameir_trial *rec, const ameir_trial *t) {
    if (rec->id != t->id)
        return "id";
    if (rec->stage != t->stage)
        return "stage";
    if (rec->kind != t->kind)
        return "kind";
    if (rec->rung != t->rung)
        return "rung";
    if (rec->budget != t->budget)
        return "budget";
    if (rec->parent != t->parent)
        return "parent";
    if (rec->baseline != t->baseline)
        return "baseline";
    if (!ameir_arch_equal(&rec->arch, &t->arch))
        return "architecture";
    return NULL;
}

int ameir_controller_replay(ameir_controller *ctl, const ameir_trial *rec, int64_t n) {
    /* one pass suffices: reporting only ever appends trials with higher ids */
    for (int64_t id = 0; id < n; id++) {
        if (id >= ctl->n)
            return ameir_fail(AMEIR_ECHECKPOINT,
                              "checkpoint: trial %lld was recorded but the search config does not create it "
                              "(%lld trials so far): the config or the search code changed",
                              (long long)id, (long long)ctl->n);
        const char *what = record_differs(&rec[id], &ctl->trials[id]);
        if (what)
            return ameir_fail(AMEIR_ECHECKPOINT,
                              "checkpoint: trial %lld: recorded %s differs from the one the config gives "
                              "(was a baseline arch file or the dataset changed?)",
                              (long long)id, what);
        if (!finished(rec[id].status))
            continue; /* pending or in flight when written: runs again */
        if (ctl->trials[id].status != AMEIR_TRIAL_PENDING)
            return ameir_fail(AMEIR_ECHECKPOINT, "checkpoint: trial %lld recorded twice", (long long)id);
        ameir_search_result r = {
            .trial_id = id, .status = rec[id].status, .metric = rec[id].metric, .valid = rec[id].valid,
            .test = rec[id].test, .steps = rec[id].steps, .worker = rec[id].worker, .seconds = rec[id].seconds,
        };
        ctl->trials[id].status = AMEIR_TRIAL_RUNNING;
        AMEIR_TRY(ameir_controller_report(ctl, &r));
    }
    return 0;
}

int64_t ameir_controller_n_trials(const ameir_controller *ctl) { return ctl->n; }

const ameir_trial *ameir_controller_trial(const ameir_controller *ctl, int64_t id) {
    return id >= 0 && id < ctl->n ? &ctl->trials[id] : NULL;
}

int ameir_controller_stage(const ameir_controller *ctl) { return ctl->stage; }

int64_t ameir_controller_stage_winner(const ameir_controller *ctl, int stage) {
    return stage >= 0 && stage < AMEIR_N_STAGES ? ctl->winners[stage] : -1;
}

int64_t ameir_controller_best_in_stage(const ameir_controller *ctl, int stage) {
    int64_t best = -1;
    for (int64_t id = 0; id < ctl->n; id++) {
        const ameir_trial *t = &ctl->trials[id];
        if (t->stage == stage && ok(t) && (best < 0 || better(t, &ctl->trials[best])))
            best = id;
    }
    return best;
}

void ameir_controller_best_arch(const ameir_controller *ctl, ameir_arch *out) { *out = ctl->base; }

int64_t ameir_controller_planned_trials(const ameir_controller *ctl) {
    const ameir_search_config *cfg = ctl->cfg;
    int64_t total = 1 + cfg->n_baselines;
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        const ameir_schedule *sch = &cfg->schedule[s];
        int64_t k = stage_n(cfg, s), budget = sch->r;
        total += k;
        while (budget < sch->R && (k + sch->eta - 1) / sch->eta > 1) {
            k = (k + sch->eta - 1) / sch->eta;
            budget = budget > sch->R / sch->eta ? sch->R : budget * sch->eta;
            total += k;
        }
    }
    return total;
}

void ameir_controller_counts(const ameir_controller *ctl, int64_t counts[5]) {
    for (int i = 0; i < 5; i++)
        counts[i] = 0;
    for (int64_t id = 0; id < ctl->n; id++)
        counts[ctl->trials[id].status]++;
}
