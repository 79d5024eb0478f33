/* The search controller: a state machine over the trial table, with no MPI and no clock.
 *
 * Stage by stage, successive elimination: rung 0 holds the stage's incumbent (the part it
 * keeps if nothing beats it), the parts of the baselines that lie in its subspace and the
 * drawn candidates, at budget r; the interaction stage grows rung 0 in generations (order-2
 * sets first, then children of the best: grown by one field, mutated, recombined). When every
 * trial of a rung has a result, the best ceil(size/eta) by score (ties: lower id) continue,
 * as new trials with the old one as parent, at min(eta * budget, R); the incumbent always
 * continues too, so the last rung compares the stage's winner with it at equal budget and a
 * stage cannot end below its incumbent. A trial's score is the best metric along its chain
 * measured on the same validation rows (best-so-far, as early stopping would keep). The
 * stage ends when the rung just finished was at R or at most one would go on; its winner is
 * the best of that rung. Rungs are synchronous and the ranking reads only (score, id), so the
 * trial table is the same whatever order results arrive in. Then the final phase: the best
 * final_top archs of the last stage and each baseline, from scratch, with the final budget;
 * the finalist best on validation is the winner. With final_seeds k > 1 every contender
 * (finalist, and with warm_start the best baseline) trains with k seeds and the best mean on
 * validation wins: the archs a search ends between differ by less than one seed's noise.
 *
 * With warm_start (and baselines), the baselines' final trials come first instead: the one
 * best on validation is the first stage's incumbent (in place of the config's defaults), the
 * stages try to improve it part by part, and it stays a finalist, so the search ends no lower
 * on validation than the best hand-designed model; a finalist equal to a baseline is not
 * trained twice. */
#include "ameir/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/oneshot.h"
#include "ameir/rng.h"
#include "arch_text.h"
#include "space_internal.h"

struct ameir_controller {
    const ameir_search_config *cfg;
    ameir_arch_names names; /* the table packs its archs with these */
    ameir_trial *trials;
    int64_t n, cap;
    ameir_arch_texts texts; /* the archs' JSON, printed once each: trials[i].text is an offset in it */
    int stage;            /* enum ameir_stage */
    int rung;             /* within the stage */
    int generation;       /* interaction stage, rung 0: sub-rounds made so far - 1 */
    int enumerated;       /* the stage took its whole subspace: nothing left to evolve */
    int64_t rung_first;   /* id of the first trial of the current rung (or of the finals) */
    int64_t rung_size;
    int64_t rung_budget;
    int64_t rung_valid_rows;
    int64_t winners[AMEIR_N_STAGES];
    ameir_arch base;      /* winners of finished stages + defaults of the others */
    int done;
    int warming;          /* warm_start: the baselines' final trials are running */
    int64_t horizon;      /* steps the best baseline trained in the warm start (R "baseline") */
    int warm_best;        /* index of the baseline best in the warm start, or -1 */
    int max_cand;         /* room in order (a rung) */
    int max_draw;         /* room in cand and os_cand (a draw) */
    ameir_arch *cand;     /* scratch for a stage's candidates */
    const ameir_arch_packed **cand2; /* scratch: the parents of a generation */
    ameir_arch_set seen;  /* the rung-0 archs of the interaction stage so far, by trial id (generations) */
    int64_t seen_first;   /* the rung they are of (-1: none), and the trials added */
    int64_t seen_upto;
    int64_t *order;       /* scratch for ranking a rung */
    struct rank_key *keys, *keys2; /* the ranking's keys in order, and for merging */
    int64_t rung_open;    /* trials of the current rung without a result */
    int64_t ranked;       /* order[0..ranked) holds the current rung's first trials sorted (rank_rung) */
    int64_t counts[AMEIR_TRIAL_N_STATUS]; /* trials by status, kept as they change: progress lines ask every result */
    int64_t best[AMEIR_N_STAGES];         /* ameir_controller_best_in_stage, kept as results come */
    int64_t stage_n[AMEIR_N_STAGES];      /* candidates a stage draws: min(subspace size, n) */
    int64_t cursor;       /* no pending trial of the current rung lies before it */
    /* a one-shot stage (oneshot_* below) */
    int os_phase;         /* OS_TRAIN: a supernet trial runs; OS_SCORE: its scored trials; OS_ALONE: the standalone trials */
    int os_n;             /* candidates of the stage's supernet */
    ameir_arch *os_cand;  /* them, seeds first (max_draw room) */
    int *os_role;         /* their roles (AMEIR_ROLE_* or a baseline index) */
    int *os_alive;        /* the candidates the current round trains over and scores */
    int os_n_alive;
    int64_t os_supernet;  /* the latest supernet trial, -1 before the first */
};

enum { OS_TRAIN = 0, OS_SCORE = 1, OS_ALONE = 2 };

static const char *const kind_names[] = {"search", "winner", "baseline", "supernet", "scored"};
static const char *const status_names[] = {
#define STATUS_NAME(id, name) name,
    AMEIR_TRIAL_STATUSES(STATUS_NAME)
#undef STATUS_NAME
};

const char *ameir_trial_kind_name(int kind) { return kind >= 0 && kind < AMEIR_TRIAL_N_KINDS ? kind_names[kind] : NULL; }
const char *ameir_trial_status_name(int status) { return status >= 0 && status < AMEIR_TRIAL_N_STATUS ? status_names[status] : NULL; }

static int finished(int status) { return status >= AMEIR_TRIAL_DONE; }
static int ok(const ameir_trial *t) { return t->status == AMEIR_TRIAL_DONE && isfinite(t->metric); }

/* a before b: finished with a finite metric first, higher score first, lower id first */
static int better(const ameir_trial *a, const ameir_trial *b) {
    if (ok(a) != ok(b))
        return ok(a);
    if (ok(a) && a->score != b->score)
        return a->score > b->score;
    return a->id < b->id;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* What better() reads of a trial, side by side: ranking a rung of 10^5 trials by their rows
 * (608 bytes apart) missed the cache at every comparison. */
typedef struct rank_key {
    double score;
    int64_t id;
    int ok;
} rank_key;

static rank_key key_of(const ameir_trial *t) { return (rank_key){t->score, t->id, ok(t)}; }

/* better() on keys */
static int key_better(const rank_key *a, const rank_key *b) {
    if (a->ok != b->ok)
        return a->ok;
    if (a->ok && a->score != b->score)
        return a->score > b->score;
    return a->id < b->id;
}

static void set_status(ameir_controller *ctl, ameir_trial *t, int status) {
    ctl->counts[t->status]--, ctl->counts[status]++;
    t->status = status;
}

/* min(subspace size, n): counted once (the progress line plans every result, and counting
 * the interaction subspace is not cheap) */
static int64_t stage_n(const ameir_controller *ctl, int stage) { return ctl->stage_n[stage]; }

/* Generations of rung 0 of a stage (the interaction stage evolves; the others draw once). */
static int stage_generations(const ameir_search_config *cfg, int stage) {
    return stage == AMEIR_STAGE_INTERACTION ? cfg->interaction.generations : 1;
}

/* A stage's largest budget: the config's R, or with R "baseline" the warm start's horizon
 * (at least r; r * eta^2 when no baseline finished). */
static int64_t stage_R(const ameir_controller *ctl, int stage) {
    const ameir_schedule *sch = &ctl->cfg->schedule[stage];
    if (sch->R != AMEIR_R_BASELINE)
        return sch->R;
    if (ctl->horizon <= 0)
        return sch->r * sch->eta * sch->eta;
    return ctl->horizon > sch->r ? ctl->horizon : sch->r;
}

/* Validation rows of a rung of `size` trials at `budget`: the subsample below the planned
 * last rung (budget R, or at most one would go on), the whole split at it. */
static int64_t rung_valid_rows(const ameir_schedule *sch, int64_t R, int64_t budget, int64_t size) {
    if (sch->valid_rows <= 0 || budget >= R || ceil_div(size, sch->eta) <= 1)
        return 0;
    return sch->valid_rows;
}

static int add_trial(ameir_controller *ctl, ameir_trial **out) {
    if (ctl->n == ctl->cap) {
        int64_t cap = ctl->cap ? ctl->cap * 2 : 64;
        ameir_trial *t = realloc(ctl->trials, (size_t)cap * sizeof *t);
        if (!t)
            return ameir_fail(AMEIR_ENOMEM, "search controller: out of memory for %lld trials", (long long)cap);
        ctl->trials = t, ctl->cap = cap;
        ctl->seen.base = &t[0].arch; /* the set indexes the table by id */
    }
    ameir_trial *t = &ctl->trials[ctl->n];
    memset(t, 0, sizeof *t);
    t->id = ctl->n++;
    t->parent = -1, t->baseline = -1, t->candidate = -1, t->worker = -1;
    t->metric = NAN, t->score = NAN;
    t->seed = ctl->cfg->seed; /* every trial the same seed: candidates see the same data order */
    t->status = AMEIR_TRIAL_PENDING;
    t->text = -1; /* set with the arch */
    ctl->counts[AMEIR_TRIAL_PENDING]++;
    *out = t;
    return 0;
}

/* The archs the controller stores all come from its config (defaults, baselines, the
 * candidate fields), whose names the table holds. */
static int set_arch(ameir_controller *ctl, ameir_trial *t, const ameir_arch *arch) {
    if (ameir_arch_pack(&ctl->names, arch, &t->arch) < 0)
        return ameir_fail(AMEIR_EINVAL, "search controller: trial %lld: architecture names a field outside the config's",
                          (long long)t->id);
    /* printed now, once: a whole checkpoint write copies it (arch_text.c) */
    return ameir_arch_texts_add(&ctl->texts, arch, &t->text);
}

static ameir_arch arch_of(const ameir_controller *ctl, const ameir_trial *t) {
    ameir_arch a;
    ameir_arch_unpack(&ctl->names, &t->arch, &a);
    return a;
}

/* A rung-0 trial of the current stage. */
static int add_candidate(ameir_controller *ctl, const ameir_arch *arch, int role) {
    ameir_trial *t = NULL;
    AMEIR_TRY(add_trial(ctl, &t));
    t->stage = ctl->stage;
    t->kind = AMEIR_TRIAL_SEARCH;
    t->baseline = role;
    t->candidate = (int)(t->id - ctl->rung_first);
    t->budget = ctl->rung_budget;
    AMEIR_TRY(set_arch(ctl, t, arch));
    t->valid_rows = ctl->rung_valid_rows;
    ctl->rung_size++, ctl->rung_open++;
    return 0;
}

static int seeded(const ameir_arch *seeds, int n, const ameir_arch *a) {
    for (int i = 0; i < n; i++)
        if (ameir_arch_equal(&seeds[i], a))
            return 1;
    return 0;
}

static int warm_started(const ameir_search_config *cfg) { return cfg->warm_start && cfg->n_baselines > 0; }

static int rung_complete(ameir_controller *ctl);
static void rank_rung(ameir_controller *ctl);
static int64_t best_final(const ameir_controller *ctl, int with_baselines, int need);

uint64_t ameir_final_seed(const ameir_search_config *cfg, int j) {
    if (j == 0)
        return cfg->seed;
    ameir_rng r = ameir_rng_stream(cfg->seed, UINT64_C(0x5EED5000) + (uint64_t)j);
    return ameir_rng_u64(&r) >> 11; /* below 2^53, as the config's seed: exact in JSON */
}

/* One final training (seed j) of a finalist (kind winner, index = its place) or a
 * baseline (index into the config's), into the current final rung. */
static int add_final(ameir_controller *ctl, int kind, int index, const ameir_arch *arch, int j) {
    ameir_trial *t = NULL;
    AMEIR_TRY(add_trial(ctl, &t));
    t->stage = AMEIR_STAGE_FINAL;
    t->kind = kind;
    if (kind == AMEIR_TRIAL_FINAL_WINNER)
        t->candidate = index;
    else
        t->baseline = index;
    t->budget = ctl->cfg->final_train.max_steps;
    AMEIR_TRY(set_arch(ctl, t, arch));
    t->seed = ameir_final_seed(ctl->cfg, j);
    ctl->rung_size++, ctl->rung_open++;
    return 0;
}

/* Each baseline from scratch with the final budget and the config's seed. */
static int add_baselines(ameir_controller *ctl) {
    for (int i = 0; i < ctl->cfg->n_baselines; i++)
        AMEIR_TRY(add_final(ctl, AMEIR_TRIAL_FINAL_BASELINE, i, &ctl->cfg->baselines[i], 0));
    return 0;
}

/* The index of the first baseline equal to a, or -1. */
static int baseline_index(const ameir_search_config *cfg, const ameir_arch *a) {
    for (int i = 0; i < cfg->n_baselines; i++)
        if (ameir_arch_equal(&cfg->baselines[i], a))
            return i;
    return -1;
}

/* Open a rung of the current stage (trials are added after it). */
static void open_rung(ameir_controller *ctl, int rung, int64_t budget, int64_t valid_rows) {
    ctl->rung = rung;
    ctl->rung_first = ctl->n;
    ctl->rung_size = 0, ctl->rung_open = 0, ctl->ranked = 0;
    ctl->rung_budget = budget;
    ctl->rung_valid_rows = valid_rows;
}

/* warm_start: the baselines first, as a final rung of their own. */
static int start_warm(ameir_controller *ctl) {
    ctl->warming = 1;
    ctl->stage = AMEIR_STAGE_FINAL;
    open_rung(ctl, 0, ctl->cfg->final_train.max_steps, 0);
    return add_baselines(ctl);
}

/* The last stage's archs best first, one per chain (its deepest trial): deeper rung first,
 * then by score. Writes up to max trial ids of ok trials into ids; returns how many. */
static int best_chains(ameir_controller *ctl, int stage, int64_t *ids, int max) {
    int n = 0;
    for (int64_t id = 0; id < ctl->n; id++) {
        const ameir_trial *t = &ctl->trials[id];
        if (t->stage != stage || t->kind != AMEIR_TRIAL_SEARCH || !ok(t))
            continue;
        int deepest = 1; /* no child of it finished well */
        for (int64_t j = id + 1; j < ctl->n && deepest; j++)
            deepest = !(ctl->trials[j].parent == id && ok(&ctl->trials[j]));
        if (!deepest)
            continue;
        /* insert into the sorted list, keeping the first max */
        int pos = n;
        while (pos > 0) {
            const ameir_trial *p = &ctl->trials[ids[pos - 1]];
            if (p->rung > t->rung || (p->rung == t->rung && better(p, t)))
                break;
            pos--;
        }
        if (pos >= max)
            continue;
        if (n < max)
            n++;
        memmove(ids + pos + 1, ids + pos, (size_t)(n - 1 - pos) * sizeof *ids);
        ids[pos] = id;
    }
    return n;
}

static int start_final(ameir_controller *ctl) {
    const ameir_search_config *cfg = ctl->cfg;
    int64_t ids[64];
    int top = cfg->final_top < 64 ? cfg->final_top : 64;
    int n_fin = best_chains(ctl, AMEIR_N_STAGES - 1, ids, top);
    int warm = warm_started(cfg), k = cfg->final_seeds;
    int extended[AMEIR_MAX_BASELINES] = {0};
    ctl->stage = AMEIR_STAGE_FINAL;
    open_rung(ctl, 0, cfg->final_train.max_steps, 0);
    for (int i = 0; i < (n_fin ? n_fin : 1); i++) {
        ameir_arch a = ctl->base;
        if (n_fin) { /* the stage winner is the first: base already holds its part */
            ameir_arch w = arch_of(ctl, &ctl->trials[ids[i]]);
            ameir_arch_set_part(&a, &w, AMEIR_N_STAGES - 1);
        }
        int b = warm ? baseline_index(cfg, &a) : -1;
        if (b >= 0) { /* trained already with the config's seed: only its other seeds */
            for (int j = 1; j < k && !extended[b]; j++)
                AMEIR_TRY(add_final(ctl, AMEIR_TRIAL_FINAL_BASELINE, b, &cfg->baselines[b], j));
            extended[b] = 1;
            continue;
        }
        for (int j = 0; j < k; j++)
            AMEIR_TRY(add_final(ctl, AMEIR_TRIAL_FINAL_WINNER, i, &a, j));
    }
    /* the best baseline is a contender even when no finalist equals it */
    for (int j = 1; warm && ctl->warm_best >= 0 && j < k && !extended[ctl->warm_best]; j++)
        AMEIR_TRY(add_final(ctl, AMEIR_TRIAL_FINAL_BASELINE, ctl->warm_best, &cfg->baselines[ctl->warm_best], j));
    if (!warm)
        AMEIR_TRY(add_baselines(ctl));
    if (ctl->rung_size == 0) /* every finalist was a baseline, already trained */
        return rung_complete(ctl);
    return 0;
}

static int oneshot_stage(const ameir_search_config *cfg, int stage) {
    return stage >= 0 && stage < AMEIR_N_STAGES && cfg->schedule[stage].method == AMEIR_METHOD_ONESHOT;
}

/* The stage's schedule with R resolved (the rounds need a number). */
static ameir_schedule resolved_schedule(const ameir_controller *ctl, int stage) {
    ameir_schedule s = ctl->cfg->schedule[stage];
    s.R = stage_R(ctl, stage);
    return s;
}

/* A one-shot round: the supernet trial that trains over os_alive up to `budget` steps,
 * continuing the previous round's supernet. It is a rung of its own. */
static int oneshot_round(ameir_controller *ctl, int round, int64_t budget) {
    ameir_trial *t = NULL;
    int64_t parent = ctl->os_supernet;
    open_rung(ctl, round, budget, 0);
    AMEIR_TRY(add_trial(ctl, &t));
    t->stage = ctl->stage;
    t->kind = AMEIR_TRIAL_SUPERNET;
    t->rung = round;
    t->budget = budget;
    t->parent = parent;
    AMEIR_TRY(set_arch(ctl, t, &ctl->base));
    ctl->os_supernet = t->id;
    ctl->os_phase = OS_TRAIN;
    ctl->rung_size = 1, ctl->rung_open = 1;
    return 0;
}

/* A trial of the open rung about one-shot candidate k: scored (parent: the supernet trial)
 * or trained alone from scratch (kind search). */
static int add_os_trial(ameir_controller *ctl, int kind, int k) {
    ameir_trial *t = NULL;
    AMEIR_TRY(add_trial(ctl, &t));
    t->stage = ctl->stage;
    t->kind = kind;
    t->rung = ctl->rung;
    t->baseline = ctl->os_role[k];
    t->candidate = k;
    t->budget = ctl->rung_budget;
    t->parent = kind == AMEIR_TRIAL_SCORED ? ctl->os_supernet : -1;
    AMEIR_TRY(set_arch(ctl, t, &ctl->os_cand[k]));
    t->valid_rows = ctl->rung_valid_rows;
    ctl->rung_size++, ctl->rung_open++;
    return 0;
}

static int oneshot_alone(ameir_controller *ctl);

/* The supernet trial finished: every alive candidate is scored with its weights, on the
 * validation subsample in every round: a round's scores only pick who goes on or trains
 * alone, and the standalone trainings, scored on the whole split, are the stage's last
 * score (on seq data a whole-split scoring pass costs as much as a few hundred steps). */
static int oneshot_trained(ameir_controller *ctl) {
    const ameir_trial *sn = &ctl->trials[ctl->os_supernet];
    if (sn->status != AMEIR_TRIAL_DONE) /* diverged or out of time: no scores; go on with the order known */
        return oneshot_alone(ctl);
    ameir_schedule sch = resolved_schedule(ctl, ctl->stage);
    ctl->os_phase = OS_SCORE;
    open_rung(ctl, ctl->rung, sn->budget, sch.valid_rows);
    for (int i = 0; i < ctl->os_n_alive; i++)
        AMEIR_TRY(add_os_trial(ctl, AMEIR_TRIAL_SCORED, ctl->os_alive[i]));
    return 0;
}

/* A round's scores are in: the best ceil(k/eta) go on to the next round, or after the last
 * round the best few train alone. */
static int oneshot_scored(ameir_controller *ctl) {
    ameir_schedule sch = resolved_schedule(ctl, ctl->stage);
    int k = (int)ctl->rung_size, keep = ameir_oneshot_keep(k, sch.eta), n_ok = 0;
    rank_rung(ctl);
    for (int i = 0; i < k; i++)
        n_ok += ok(&ctl->trials[ctl->order[i]]);
    if (keep > n_ok)
        keep = n_ok;
    if (ameir_oneshot_last(&sch, ctl->rung_budget, k) || keep <= 1 || keep < sch.standalone_top)
        return oneshot_alone(ctl);
    for (int i = 0; i < keep; i++) /* best first: a failed supernet later falls back on this order */
        ctl->os_alive[i] = ctl->trials[ctl->order[i]].candidate;
    ctl->os_n_alive = keep;
    return oneshot_round(ctl, ctl->rung + 1, ameir_oneshot_next_budget(&sch, ctl->rung_budget));
}

/* The standalone phase: the best standalone_top by the latest scores (the alive ones in
 * their order when the supernet trial failed) and the incumbent wherever it ranked, each
 * trained alone from scratch to R like the train method's trials; the stage's winner is
 * the best of them, so a one-shot stage cannot end below its incumbent either. */
static int oneshot_alone(ameir_controller *ctl) {
    ameir_schedule sch = resolved_schedule(ctl, ctl->stage);
    int top = sch.standalone_top, n_pick = 0, incumbent = 0;
    int *pick = ctl->os_alive; /* reused: the rounds are over */
    if (ctl->os_phase == OS_SCORE) {
        rank_rung(ctl);
        for (int64_t i = 0; i < ctl->rung_size && n_pick < top; i++)
            if (ok(&ctl->trials[ctl->order[i]]))
                pick[n_pick++] = ctl->trials[ctl->order[i]].candidate;
    } else {
        n_pick = ctl->os_n_alive < top ? ctl->os_n_alive : top;
    }
    for (int i = 0; i < n_pick; i++)
        incumbent |= ctl->os_role[pick[i]] == AMEIR_ROLE_INCUMBENT;
    if (!incumbent) /* candidate 0 is the incumbent (start_stage seeds it first) */
        pick[n_pick++] = 0;
    ctl->os_n_alive = n_pick;
    ctl->os_phase = OS_ALONE;
    open_rung(ctl, ctl->rung + 1, sch.R, 0);
    for (int i = 0; i < n_pick; i++)
        AMEIR_TRY(add_os_trial(ctl, AMEIR_TRIAL_SEARCH, pick[i]));
    return 0;
}

/* A one-shot stage's candidates are the seeds and the draws (no generations): one supernet
 * over all of them, round 0 at budget r. */
static int oneshot_start(ameir_controller *ctl, const ameir_arch *seeds, const int *roles, int n_seed, int n_cand) {
    const ameir_search_config *cfg = ctl->cfg;
    ctl->os_n = 0;
    ctl->os_supernet = -1;
    for (int i = 0; i < n_seed; i++)
        ctl->os_cand[ctl->os_n] = seeds[i], ctl->os_role[ctl->os_n++] = roles[i];
    for (int i = 0, k = 0; i < n_cand && k < cfg->schedule[ctl->stage].n; i++)
        if (!seeded(seeds, n_seed, &ctl->cand[i])) {
            ctl->os_cand[ctl->os_n] = ctl->cand[i], ctl->os_role[ctl->os_n++] = AMEIR_ROLE_CANDIDATE;
            k++;
        }
    for (int i = 0; i < ctl->os_n; i++)
        ctl->os_alive[i] = i;
    ctl->os_n_alive = ctl->os_n;
    return oneshot_round(ctl, 0, cfg->schedule[ctl->stage].r);
}

static int start_stage(ameir_controller *ctl, int stage) {
    const ameir_search_config *cfg = ctl->cfg;
    ameir_arch seeds[1 + AMEIR_MAX_BASELINES];
    int roles[1 + AMEIR_MAX_BASELINES], n_seed = 0, n_cand = 0;
    if (stage >= AMEIR_N_STAGES)
        return start_final(ctl);
    /* the incumbent, then each baseline's part for this stage when it lies in the subspace */
    seeds[n_seed] = ctl->base, roles[n_seed++] = AMEIR_ROLE_INCUMBENT;
    for (int i = 0; cfg->seed_baselines && i < cfg->n_baselines; i++) {
        ameir_arch a = ctl->base;
        ameir_arch_set_part(&a, &cfg->baselines[i], stage);
        if (ameir_space_contains(cfg, stage, &a) && !seeded(seeds, n_seed, &a))
            seeds[n_seed] = a, roles[n_seed++] = i;
    }
    /* draw n more than needed and drop those seeded: the draws stay distinct from them */
    AMEIR_TRY(ameir_space_draw(cfg, stage, &ctl->base, cfg->schedule[stage].n + n_seed, ctl->cand, &n_cand));
    ctl->enumerated = ameir_space_size(cfg, stage) <= cfg->schedule[stage].n + n_seed;
    ctl->stage = stage;
    ctl->rung = 0;
    ctl->generation = 0;
    ctl->rung_first = ctl->n;
    ctl->rung_size = 0, ctl->rung_open = 0, ctl->ranked = 0;
    ctl->rung_budget = cfg->schedule[stage].r;
    int planned = n_seed + cfg->schedule[stage].n * (ctl->enumerated ? 1 : stage_generations(cfg, stage));
    ctl->rung_valid_rows = rung_valid_rows(&cfg->schedule[stage], stage_R(ctl, stage), ctl->rung_budget, planned);
    if (oneshot_stage(cfg, stage))
        return oneshot_start(ctl, seeds, roles, n_seed, n_cand);
    for (int i = 0; i < n_seed; i++)
        AMEIR_TRY(add_candidate(ctl, &seeds[i], roles[i]));
    for (int i = 0, k = 0; i < n_cand && k < cfg->schedule[stage].n; i++)
        if (!seeded(seeds, n_seed, &ctl->cand[i])) {
            AMEIR_TRY(add_candidate(ctl, &ctl->cand[i], AMEIR_ROLE_CANDIDATE));
            k++;
        }
    return 0;
}

/* Merge the sorted runs a[lo..mid) and a[mid..hi) of keys into b[lo..hi), best first. */
static void merge_keys(const rank_key *a, int64_t lo, int64_t mid, int64_t hi, rank_key *b) {
    int64_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        b[k++] = key_better(&a[j], &a[i]) ? a[j++] : a[i++];
    while (i < mid)
        b[k++] = a[i++];
    while (j < hi)
        b[k++] = a[j++];
}

/* Order the ids of the current rung best first into ctl->order (and their keys into
 * ctl->keys): a bottom-up merge sort (a rung can hold thousands; qsort would need the
 * table in a global). better() is a total order (ties by id), so the result does not
 * depend on the sort. The interaction stage's rung 0 is ranked after each generation: the
 * trials ranked before keep their scores, so only the new ones are sorted and merged in (a
 * full sort each time made the cost per result grow with the generations). */
static void rank_rung(ameir_controller *ctl) {
    int64_t n = ctl->rung_size, done = ctl->ranked, m = n - done;
    rank_key *a = ctl->keys + done, *b = ctl->keys2 + done;
    for (int64_t i = 0; i < m; i++)
        a[i] = key_of(&ctl->trials[ctl->rung_first + done + i]);
    for (int64_t w = 1; w < m; w *= 2) {
        for (int64_t lo = 0; lo < m; lo += 2 * w)
            merge_keys(a, lo, lo + w < m ? lo + w : m, lo + 2 * w < m ? lo + 2 * w : m, b);
        rank_key *t = a;
        a = b, b = t;
    }
    if (a != ctl->keys + done)
        memcpy(ctl->keys + done, a, (size_t)m * sizeof *a);
    if (done > 0 && m > 0) {
        merge_keys(ctl->keys, 0, done, n, ctl->keys2);
        memcpy(ctl->keys, ctl->keys2, (size_t)n * sizeof *ctl->keys);
    }
    for (int64_t i = 0; i < n; i++)
        ctl->order[i] = ctl->keys[i].id;
    ctl->ranked = n;
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
    if (ctl->winners[s] >= 0) {
        ameir_arch w = arch_of(ctl, &ctl->trials[ctl->winners[s]]);
        ameir_arch_set_part(&ctl->base, &w, s);
    }
    return start_stage(ctl, s + 1);
}

/* The next generation of rung 0 (interaction stage): children of the best so far. Returns
 * how many trials it added (0: nothing new could be made, rung 0 is complete). */
static int next_generation(ameir_controller *ctl, int64_t *added) {
    const ameir_search_config *cfg = ctl->cfg;
    const ameir_schedule *sch = &cfg->schedule[ctl->stage];
    int n_par = 0, n_out = 0;
    *added = 0;
    rank_rung(ctl);
    int64_t want = ceil_div(ctl->rung_size, sch->eta);
    for (int64_t i = 0; i < ctl->rung_size && ctl->keys[i].ok && n_par < want && n_par < ctl->max_cand; i++)
        ctl->cand2[n_par++] = &ctl->trials[ctl->keys[i].id].arch; /* the ok ones rank first */
    if (n_par == 0)
        return 0;
    /* the rung's archs so far into the seen set, each once (rebuilding it every generation
     * made the cost per result grow with the generations) */
    if (ctl->seen_first != ctl->rung_first) {
        ameir_arch_set_free(&ctl->seen);
        AMEIR_TRY(ameir_arch_set_init(&ctl->seen, (size_t)ctl->max_cand, 1, &ctl->trials[0].arch, sizeof *ctl->trials));
        ctl->seen_first = ctl->seen_upto = ctl->rung_first;
    }
    for (; ctl->seen_upto < ctl->rung_first + ctl->rung_size; ctl->seen_upto++)
        AMEIR_TRY(ameir_arch_set_add(&ctl->seen, (size_t)ctl->seen_upto));
    ctl->generation++;
    AMEIR_TRY(ameir_space_evolve_set(cfg, &ctl->names, &ctl->base, ctl->cand2, n_par, &ctl->seen, ctl->generation, sch->n,
                                     ctl->cand, &n_out));
    for (int i = 0; i < n_out; i++)
        AMEIR_TRY(add_candidate(ctl, &ctl->cand[i], AMEIR_ROLE_CANDIDATE));
    *added = n_out;
    return 0;
}

/* Called when every trial of the current rung has a result. */
static int rung_complete(ameir_controller *ctl) {
    const ameir_schedule *sch = &ctl->cfg->schedule[ctl->stage];
    if (ctl->warming) { /* the best baseline on validation is the first incumbent */
        int64_t w = best_final(ctl, 1, 1);
        if (w >= 0)
            ctl->base = arch_of(ctl, &ctl->trials[w]), ctl->horizon = ctl->trials[w].steps, ctl->warm_best = ctl->trials[w].baseline;
        ctl->warming = 0;
        return start_stage(ctl, AMEIR_STAGE_BEHAVIOR);
    }
    if (ctl->stage == AMEIR_STAGE_FINAL) {
        int64_t w = ameir_controller_final_winner(ctl);
        if (w >= 0)
            ctl->base = arch_of(ctl, &ctl->trials[w]);
        ctl->done = 1;
        return 0;
    }
    if (oneshot_stage(ctl->cfg, ctl->stage))
        return ctl->os_phase == OS_TRAIN ? oneshot_trained(ctl) : ctl->os_phase == OS_SCORE ? oneshot_scored(ctl) : end_stage(ctl);
    if (ctl->rung == 0 && !ctl->enumerated && ctl->generation + 1 < stage_generations(ctl->cfg, ctl->stage)) {
        int64_t added = 0;
        AMEIR_TRY(next_generation(ctl, &added));
        if (added)
            return 0;
    }
    rank_rung(ctl);
    int64_t keep = ceil_div(ctl->rung_size, sch->eta), n_ok = 0;
    for (int64_t i = 0; i < ctl->rung_size; i++)
        n_ok += ok(&ctl->trials[ctl->order[i]]);
    if (keep > n_ok)
        keep = n_ok;
    int64_t R = stage_R(ctl, ctl->stage);
    if (ctl->rung_budget >= R || keep <= 1)
        return end_stage(ctl);
    int64_t budget = ctl->rung_budget > R / sch->eta ? R : ctl->rung_budget * sch->eta;
    if (budget > R)
        budget = R;
    /* the top keep, and the incumbent wherever it ranked (if it finished well) */
    int64_t next = keep;
    for (int64_t i = keep; i < ctl->rung_size; i++) {
        const ameir_trial *t = &ctl->trials[ctl->order[i]];
        if (t->baseline == AMEIR_ROLE_INCUMBENT && ok(t)) {
            memmove(ctl->order + keep + 1, ctl->order + keep, (size_t)(i - keep) * sizeof *ctl->order);
            ctl->ranked = 0; /* order is no longer the ranking */
            ctl->order[keep] = t->id;
            next = keep + 1;
            break;
        }
    }
    /* R "baseline": the stage's last rung (at most one would go on after it) trains to R */
    if (sch->R == AMEIR_R_BASELINE && ceil_div(next, sch->eta) <= 1)
        budget = R;
    int64_t first = ctl->n;
    for (int64_t i = 0; i < next; i++) {
        ameir_trial *t = NULL;
        int64_t pid = ctl->order[i];
        AMEIR_TRY(add_trial(ctl, &t));
        const ameir_trial *p = &ctl->trials[pid]; /* after add_trial: the table may have moved */
        t->stage = p->stage;
        t->kind = AMEIR_TRIAL_SEARCH;
        t->rung = p->rung + 1;
        t->baseline = p->baseline;
        t->candidate = p->candidate;
        t->budget = budget;
        t->parent = pid;
        t->seed = p->seed;
        t->arch = p->arch;
        t->text = p->text;
    }
    ctl->rung++;
    ctl->rung_first = first;
    ctl->rung_size = next, ctl->rung_open = next, ctl->ranked = 0;
    ctl->rung_budget = budget;
    ctl->rung_valid_rows = rung_valid_rows(sch, R, budget, next);
    for (int64_t i = first; i < ctl->n; i++)
        ctl->trials[i].valid_rows = ctl->rung_valid_rows;
    return 0;
}

int ameir_controller_create(ameir_controller **out, const ameir_search_config *cfg) {
    ameir_controller *ctl = NULL;
    int rc, max_n = 1, max_draw = 1;
    *out = NULL;
    if (!cfg->resolved)
        return ameir_fail(AMEIR_EINVAL, "%s: search config not resolved against the dataset", cfg->origin);
    /* a rung 0 holds the seeds and every generation's draws */
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        int k = 1 + cfg->n_baselines + cfg->schedule[s].n * stage_generations(cfg, s);
        if (k > max_n)
            max_n = k;
        if (1 + cfg->n_baselines + cfg->schedule[s].n > max_draw) /* a draw or a generation: n + the seeds */
            max_draw = 1 + cfg->n_baselines + cfg->schedule[s].n;
    }
    if ((cfg->final_top + 1) * cfg->final_seeds + cfg->n_baselines > max_n)
        max_n = (cfg->final_top + 1) * cfg->final_seeds + cfg->n_baselines;
    ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return ameir_fail(AMEIR_ENOMEM, "search controller: out of memory");
    ctl->cfg = cfg;
    ctl->seen_first = -1;
    if ((rc = ameir_arch_names_init(&ctl->names, cfg)) < 0)
        goto fail;
    ctl->max_cand = max_n, ctl->max_draw = max_draw;
    ctl->cand = malloc((size_t)max_draw * sizeof *ctl->cand);
    ctl->cand2 = malloc((size_t)max_n * sizeof *ctl->cand2);
    ctl->order = malloc((size_t)max_n * sizeof *ctl->order);
    ctl->keys = malloc((size_t)max_n * sizeof *ctl->keys);
    ctl->keys2 = malloc((size_t)max_n * sizeof *ctl->keys2);
    ctl->os_cand = malloc((size_t)max_draw * sizeof *ctl->os_cand);
    ctl->os_role = malloc((size_t)max_n * sizeof *ctl->os_role);
    ctl->os_alive = malloc((size_t)(max_n + 1) * sizeof *ctl->os_alive);
    if (!ctl->cand || !ctl->cand2 || !ctl->order || !ctl->keys || !ctl->keys2 || !ctl->os_cand || !ctl->os_role || !ctl->os_alive) {
        rc = ameir_fail(AMEIR_ENOMEM, "search controller: out of memory");
        goto fail;
    }
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        int64_t size = ameir_space_size(cfg, s);
        ctl->winners[s] = -1, ctl->best[s] = -1;
        ctl->stage_n[s] = size < cfg->schedule[s].n ? size : cfg->schedule[s].n;
    }
    ctl->warm_best = -1;
    ctl->base = cfg->defaults;
    rc = warm_started(cfg) ? start_warm(ctl) : start_stage(ctl, AMEIR_STAGE_BEHAVIOR);
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
    ameir_arch_texts_destroy(&ctl->texts);
    free(ctl->cand);
    free(ctl->cand2);
    ameir_arch_set_free(&ctl->seen);
    free(ctl->order);
    free(ctl->keys);
    free(ctl->keys2);
    free(ctl->os_cand);
    free(ctl->os_role);
    free(ctl->os_alive);
    free(ctl);
}

int ameir_controller_next(ameir_controller *ctl, ameir_search_task *task) {
    if (ctl->done)
        return AMEIR_NEXT_DONE;
    if (ctl->cursor < ctl->rung_first)
        ctl->cursor = ctl->rung_first;
    for (int64_t id = ctl->cursor; id < ctl->n; id++) {
        ameir_trial *t = &ctl->trials[id];
        if (t->status != AMEIR_TRIAL_PENDING)
            continue;
        ctl->cursor = id + 1;
        set_status(ctl, t, AMEIR_TRIAL_RUNNING);
        memset(task, 0, sizeof *task);
        task->trial_id = t->id;
        task->stage = t->stage;
        task->kind = t->kind;
        task->rung = t->rung;
        task->baseline = t->baseline;
        task->budget = t->budget;
        task->valid_rows = t->valid_rows;
        task->eval_every = t->stage < AMEIR_N_STAGES ? ctl->cfg->schedule[t->stage].eval_every : 0;
        task->parent = t->parent;
        task->seed = t->seed;
        ameir_arch_unpack(&ctl->names, &t->arch, &task->arch);
        task->candidate = t->candidate;
        if (t->kind == AMEIR_TRIAL_SUPERNET || t->kind == AMEIR_TRIAL_SCORED)
            task->n_cands = ctl->os_n, task->cands = ctl->os_cand;
        if (t->kind == AMEIR_TRIAL_SUPERNET)
            task->n_alive = ctl->os_n_alive, task->alive = ctl->os_alive;
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
    if (!finished(r->status) || r->status >= AMEIR_TRIAL_N_STATUS)
        return ameir_fail(AMEIR_EINVAL, "search controller: trial %lld: got status %d, expected done, diverged or timeout",
                          (long long)t->id, r->status);
    set_status(ctl, t, r->status);
    t->metric = r->status == AMEIR_TRIAL_DONE ? r->metric : NAN;
    t->valid = r->valid;
    t->test = r->test;
    t->steps = r->steps;
    t->worker = r->worker;
    t->seconds = r->seconds;
    t->score = ok(t) ? t->metric : NAN;
    if (ok(t) && t->parent >= 0) { /* best so far along the chain, on the same validation rows */
        const ameir_trial *p = &ctl->trials[t->parent];
        if (ok(p) && p->valid_rows == t->valid_rows && p->score > t->score)
            t->score = p->score;
    }
    if (t->stage < AMEIR_N_STAGES && t->kind == AMEIR_TRIAL_SEARCH && ok(t) &&
        (ctl->best[t->stage] < 0 || better(t, &ctl->trials[ctl->best[t->stage]])))
        ctl->best[t->stage] = t->id; /* a score never changes once reported */
    if (--ctl->rung_open > 0) /* only the current rung's trials are ever running */
        return 0;
    return rung_complete(ctl);
}

int ameir_controller_requeue(ameir_controller *ctl, int64_t id) {
    if (id < 0 || id >= ctl->n || ctl->trials[id].status != AMEIR_TRIAL_RUNNING)
        return ameir_fail(AMEIR_EINVAL, "search controller: cannot requeue trial %lld: not running", (long long)id);
    set_status(ctl, &ctl->trials[id], AMEIR_TRIAL_PENDING);
    if (id < ctl->cursor)
        ctl->cursor = id;
    return 0;
}

int ameir_controller_replay_result(ameir_controller *ctl, const ameir_search_result *r) {
    if (r->trial_id < 0 || r->trial_id >= ctl->n)
        return ameir_fail(AMEIR_EINVAL, "search controller: recorded result for unknown trial %lld (%lld trials)",
                          (long long)r->trial_id, (long long)ctl->n);
    ameir_trial *t = &ctl->trials[r->trial_id];
    if (finished(t->status))
        return ameir_fail(AMEIR_EINVAL, "search controller: trial %lld recorded twice", (long long)t->id);
    set_status(ctl, t, AMEIR_TRIAL_RUNNING);
    return ameir_controller_report(ctl, r);
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
    if (rec->seed != t->seed)
        return "seed";
    if (!ameir_arch_packed_equal(&rec->arch, &t->arch))
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
        set_status(ctl, &ctl->trials[id], AMEIR_TRIAL_RUNNING);
        AMEIR_TRY(ameir_controller_report(ctl, &r));
    }
    return 0;
}

int64_t ameir_controller_n_trials(const ameir_controller *ctl) { return ctl->n; }

const ameir_trial *ameir_controller_trial(const ameir_controller *ctl, int64_t id) {
    return id >= 0 && id < ctl->n ? &ctl->trials[id] : NULL;
}

void ameir_controller_trial_arch(const ameir_controller *ctl, const ameir_trial *t, ameir_arch *out) {
    ameir_arch_unpack(&ctl->names, &t->arch, out);
}

const ameir_arch_names *ameir_controller_names(const ameir_controller *ctl) { return &ctl->names; }

const char *ameir_controller_trial_json(const ameir_controller *ctl, const ameir_trial *t) {
    return ameir_arch_texts_get(&ctl->texts, t->text);
}

int ameir_controller_stage(const ameir_controller *ctl) { return ctl->stage; }

int64_t ameir_controller_stage_winner(const ameir_controller *ctl, int stage) {
    return stage >= 0 && stage < AMEIR_N_STAGES ? ctl->winners[stage] : -1;
}

int64_t ameir_controller_best_in_stage(const ameir_controller *ctl, int stage) {
    return stage >= 0 && stage < AMEIR_N_STAGES ? ctl->best[stage] : -1;
}

void ameir_controller_best_arch(const ameir_controller *ctl, ameir_arch *out) { *out = ctl->base; }

int64_t ameir_controller_planned_trials(const ameir_controller *ctl) {
    const ameir_search_config *cfg = ctl->cfg;
    int64_t total = (int64_t)cfg->final_top * cfg->final_seeds + cfg->n_baselines + (warm_started(cfg) ? cfg->final_seeds - 1 : 0);
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        const ameir_schedule *sch = &cfg->schedule[s];
        int64_t seeds = 1 + (cfg->seed_baselines ? cfg->n_baselines : 0);
        int gens = oneshot_stage(cfg, s) || stage_n(ctl, s) < sch->n ? 1 : stage_generations(cfg, s);
        int64_t k = stage_n(ctl, s) * gens + seeds, budget = sch->r;
        int64_t R = stage_R(ctl, s);
        if (oneshot_stage(cfg, s)) { /* rounds of a supernet trial and k scored, then the best and the incumbent alone */
            ameir_schedule rs = resolved_schedule(ctl, s);
            ameir_oneshot_round rounds[64];
            int nr = ameir_oneshot_plan(&rs, (int)k, rounds, 64);
            for (int g = 0; g < nr; g++)
                total += 1 + rounds[g].alive;
            total += (rounds[nr - 1].alive < rs.standalone_top ? rounds[nr - 1].alive : rs.standalone_top) + 1;
            continue;
        }
        total += k;
        while (budget < R && ceil_div(k, sch->eta) > 1) {
            k = ceil_div(k, sch->eta);
            budget = budget > R / sch->eta ? R : budget * sch->eta;
            total += k;
        }
    }
    return total;
}

static int is_final(const ameir_trial *t) { return t->kind == AMEIR_TRIAL_FINAL_WINNER || t->kind == AMEIR_TRIAL_FINAL_BASELINE; }

/* Final trials a and b train the same contender: the same arch, and with warm_start
 * (baselines are contenders) of either kind, otherwise of the same kind. */
static int same_contender(const ameir_controller *ctl, const ameir_trial *a, const ameir_trial *b) {
    return is_final(a) && is_final(b) && (warm_started(ctl->cfg) || a->kind == b->kind) && ameir_arch_packed_equal(&a->arch, &b->arch);
}

/* The trainings of the contender of final trial t (ameir_contender_stats). */
static void contender_stats(const ameir_controller *ctl, const ameir_trial *t, ameir_contender_stats *st) {
    double sv = 0, sv2 = 0, st1 = 0, st2 = 0;
    memset(st, 0, sizeof *st);
    st->first = -1;
    for (int64_t id = 0; id < ctl->n; id++) {
        const ameir_trial *u = &ctl->trials[id];
        if (!same_contender(ctl, t, u))
            continue;
        if (st->first < 0)
            st->first = id;
        st->count++;
        if (!ok(u))
            continue;
        double v = u->metric, x = ameir_metrics_primary(&u->test);
        st->n++, sv += v, sv2 += v * v, st1 += x, st2 += x * x;
    }
    if (st->n == 0)
        return;
    st->valid_mean = sv / st->n, st->test_mean = st1 / st->n;
    if (st->n > 1) {
        st->valid_sd = sqrt(fmax(0.0, (sv2 - sv * st->valid_mean) / (st->n - 1)));
        st->test_sd = sqrt(fmax(0.0, (st2 - st1 * st->test_mean) / (st->n - 1)));
    }
}

/* The contender best on mean validation (ties: lower first id) among those with at least
 * `need` trainings, all finished well: its first trial. Finalists, and baselines if asked. */
static int64_t best_final(const ameir_controller *ctl, int with_baselines, int need) {
    int64_t best = -1;
    double best_mean = 0;
    for (int64_t id = 0; id < ctl->n; id++) {
        const ameir_trial *t = &ctl->trials[id];
        if (!(t->kind == AMEIR_TRIAL_FINAL_WINNER || (with_baselines && t->kind == AMEIR_TRIAL_FINAL_BASELINE)))
            continue;
        ameir_contender_stats st;
        contender_stats(ctl, t, &st);
        if (st.first != id || st.count < need || st.n < st.count)
            continue; /* seen at its first trial; too few seeds; or one of them failed */
        if (best < 0 || st.valid_mean > best_mean)
            best = id, best_mean = st.valid_mean;
    }
    return best;
}

int64_t ameir_controller_final_winner(const ameir_controller *ctl) {
    if (ctl->stage != AMEIR_STAGE_FINAL || ctl->warming)
        return -1; /* the final phase has not begun */
    return best_final(ctl, warm_started(ctl->cfg), ctl->cfg->final_seeds);
}

int ameir_controller_contender(const ameir_controller *ctl, int64_t id, ameir_contender_stats *out) {
    if (id < 0 || id >= ctl->n || !is_final(&ctl->trials[id]))
        return -1;
    contender_stats(ctl, &ctl->trials[id], out);
    return 0;
}

const char *ameir_controller_role(const ameir_controller *ctl, const ameir_trial *t, char *out, size_t cap) {
    const ameir_search_config *cfg = ctl->cfg;
    const char *scored = t->kind == AMEIR_TRIAL_SCORED ? "scored " : "";
    if (t->kind == AMEIR_TRIAL_FINAL_WINNER)
        snprintf(out, cap, "finalist");
    else if (t->kind == AMEIR_TRIAL_SUPERNET)
        snprintf(out, cap, "supernet");
    else if (t->baseline >= 0 && t->baseline < cfg->n_baselines)
        snprintf(out, cap, "%sbaseline:%s", scored, cfg->baseline_names[t->baseline]);
    else if (t->baseline == AMEIR_ROLE_INCUMBENT)
        snprintf(out, cap, "%sincumbent", scored);
    else
        snprintf(out, cap, "%scandidate", scored);
    return out;
}

void ameir_controller_counts(const ameir_controller *ctl, int64_t counts[AMEIR_TRIAL_N_STATUS]) {
    for (int i = 0; i < AMEIR_TRIAL_N_STATUS; i++)
        counts[i] = ctl->counts[i];
}
