/* A simulated cluster: the real search controller driven by W fake workers whose trial
 * durations are drawn like those of a measured search, to see what share of the workers'
 * time is spent training at 16 to 1,024 workers (PRODUCT.md: every worker busy).
 *
 * usage: cluster_sim RUN.h5 [--scale K] [--workers 2,16,64,256,1024] [--seed S] [--shards S --dp-serial F]
 *                    [--grow [--join-cost SECONDS] [--grow-finals [--final-every STEPS]]]
 *
 * RUN.h5 is a search (finished, or stopped after its warm start: a stage with no finished
 * trial then takes the others' seconds per step): its config (each stage's n multiplied by K, the size of the
 * subspace permitting) is searched again with fake results; a search trial lasts its budget
 * times the seconds per step measured in RUN.h5 for that stage, times a lognormal factor
 * (sigma 0.25); a final trial lasts a final trial's time of RUN.h5 drawn at random. The
 * validation metric is a function of the arch and budget (as in tests/search), so rankings
 * are arbitrary but deterministic. Prints per W: simulated makespan, trials, busy share.
 *
 * With --shards S the free workers are shared out among the trials that can start exactly as
 * rank 0 does (ameir_group_sizes, at most S a trial), and a trial on g ranks lasts its time
 * alone divided by Amdahl's speed-up 1 / (F + (1 - F) / g), F = --dp-serial (the serial
 * fraction, fitted from the measured 2-rank speed-up of tests/bench/dp_rate: F = 2 / s2 - 1).
 * "busy" counts every rank of a group for the whole trial; "work" counts a trial's time
 * alone only, i.e. the share of worker time that did what one rank would have had to.
 *
 * With --grow, groups also grow as rank 0's dispatch grows them: when workers are free and
 * no task can start, each joins the running trial ameir_group_join_pick chooses (search
 * trials; final trials too with --grow-finals, below). The join takes effect
 * --join-cost seconds later (default 0.25: on average half a chunk of CHUNK_SECONDS until
 * the leader's next boundary, plus the state broadcast), during which the joining rank
 * counts as idle and the group trains on at its old size; the rest of the trial then runs
 * at the new group's speed. A join that would take effect after the trial ends is refused
 * as the leader refuses it: the rank waits, idle, until then.
 *
 * With --grow-finals final trials grow too, at their validations (every final.eval_every
 * steps, or --final-every STEPS: an epoch's steps when the config validates each epoch): a
 * final drawn from RUN.h5 lasts that trial's seconds over its steps, so a join takes effect at
 * the group's next multiple of the validation interval, refused when the trial ends first.
 * Each line also splits the makespan at the last search trial's end: the stages (with the
 * warm start's baselines), then the final phase.
 *
 * Why the workers idle: the rungs are synchronous, so a search is a chain of phases (the
 * warm start, each rung or generation, each rung of the final phase) and no trial of a
 * phase starts before the phase ahead of it has ended. "bound" is a makespan no scheduler
 * of these trials can beat on W workers with groups of at most S ranks: the sum over the
 * phases of max(the longest trial on min(S, W) ranks, the phase's time alone over W). The
 * "work ceiling" is the work share at that makespan. The idle worker time is split into
 * "no task" (nothing to start and no running trial that can take another rank), "joining"
 * (a rank that joins waits for the group's next boundary) and "refused" (the trial ended
 * before the join would have taken effect). */
#include "ameir/cluster.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/rng.h"
#include "ameir/search.h"

typedef struct measured {
    double sec_per_step[AMEIR_N_STAGES];
    double final_s[256];
    int64_t final_steps[256];
    int n_final;
} measured;

static int measure(const ameir_controller *ctl, measured *m) {
    double secs[AMEIR_N_STAGES] = {0}, steps[AMEIR_N_STAGES] = {0};
    memset(m, 0, sizeof *m);
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *t = ameir_controller_trial(ctl, id);
        if (t->status != AMEIR_TRIAL_DONE)
            continue;
        if (t->stage < AMEIR_N_STAGES) {
            secs[t->stage] += t->seconds;
            steps[t->stage] += (double)t->steps;
        } else if (m->n_final < 256 && t->steps > 0) {
            m->final_steps[m->n_final] = t->steps;
            m->final_s[m->n_final++] = t->seconds;
        }
    }
    /* a stage the (interrupted) search has not reached yet runs at the pace of those it has */
    double all_s = 0, all_steps = 0;
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        all_s += secs[s], all_steps += steps[s];
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        m->sec_per_step[s] = steps[s] > 0 ? secs[s] / steps[s] : all_steps > 0 ? all_s / all_steps : 0;
        if (steps[s] == 0)
            fprintf(stderr, "cluster_sim: no finished %s trial: it takes the other stages' %.4f s per step\n",
                    ameir_stage_name(s), m->sec_per_step[s]);
    }
    return m->n_final > 0 ? 0 : ameir_fail(AMEIR_EINVAL, "the checkpoint has no finished final trial to draw from");
}

static double fake_metric(const ameir_search_task *t) {
    uint64_t h = ameir_arch_hash(&t->arch);
    return 0.5 + 0.3 * (double)(h % 1000) / 1000.0 + 0.01 * log((double)t->budget + 1.0);
}

static double normal(ameir_rng *r) {
    double u = (ameir_rng_below(r, 1u << 30) + 0.5) / (double)(1u << 30), v = (ameir_rng_below(r, 1u << 30) + 0.5) / (double)(1u << 30);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

typedef struct slot {
    int busy;
    int lead;     /* the slot whose task this slot trains (itself when alone or leading) */
    double since; /* from when it counts as busy */
    int refused;  /* waits for a trial that ends before its join takes effect */
    /* a leader's: when its trial ends, the work left (seconds alone) as of t_left, its
     * group's size, the task and the steps it trains, whether ranks can still join */
    double until, left, t_left;
    int g, growable;
    int64_t steps;
    ameir_search_task task;
    /* a final's: its time alone and steps (its validations are at multiples of every) */
    double d;
    int64_t every;
} slot;

typedef struct dp_model {
    int shards;       /* 0: no groups */
    double serial;    /* Amdahl's serial fraction of a trial on a group */
    int grow;         /* free workers join running search trials */
    double join_cost; /* seconds from a join to the boundary at which it takes effect */
    int grow_finals;  /* final trials grow too, at their validations */
    int64_t final_every; /* steps between a final trial's validations */
} dp_model;

/* A trial's speed on g ranks against one (Amdahl). */
static double speed(const dp_model *dp, int g) { return 1.0 / (dp->serial + (1 - dp->serial) / g); }

/* Free worker `k` joins the running trial the coordinator would pick; 0 when none can take it. */
static int join_one(slot *w, int W, int k, const dp_model *dp, double now, ameir_group_run *runs, int *lead_of,
                    double *joining) {
    int n = 0;
    for (int i = 0; i < W; i++)
        if (w[i].busy && w[i].lead == i) {
            runs[n] = (ameir_group_run){w[i].task.trial_id, w[i].g, w[i].steps, w[i].growable};
            lead_of[n++] = i;
        }
    int pick = ameir_group_join_pick(runs, n, dp->shards);
    if (pick < 0)
        return 0;
    slot *l = &w[lead_of[pick]], *j = &w[k];
    j->busy = 1, j->lead = lead_of[pick];
    double at = now + dp->join_cost;
    if (l->every > 0) { /* a final: at the group's next validation */
        double per_step = l->d / (double)l->steps, done = l->d - (l->left - (now - l->t_left) * speed(dp, l->g));
        double next = (floor(done / per_step / (double)l->every) + 1) * (double)l->every * per_step;
        at = now + (next - done) / speed(dp, l->g);
    }
    double left = l->left - (at - l->t_left) * speed(dp, l->g);
    if (left <= 0) { /* the leader refuses it at the trial's end; nobody joins that trial again */
        j->refused = 1, j->since = now;
        l->growable = 0;
        return 1;
    }
    *joining += at - now;
    j->refused = 0, j->since = at;
    l->g++, l->left = left, l->t_left = at;
    l->until = at + left / speed(dp, l->g);
    return 1;
}

/* What one simulated search on W workers did. */
typedef struct sim_out {
    double makespan, stages; /* the end, and the last search trial's end */
    double busy;             /* worker-seconds in a group (every rank of it) */
    double work;             /* the trials' time alone */
    double bound;            /* the makespan no schedule of these phases can beat */
    double joining, refused; /* idle worker-seconds waiting for a join, or after a refused one */
    int64_t trials, phases;
} sim_out;

/* One simulated search on W workers. */
static int simulate(const ameir_search_config *cfg, const measured *m, const dp_model *dp, int W, uint64_t seed, sim_out *out) {
    ameir_controller *ctl = NULL;
    AMEIR_TRY(ameir_controller_create(&ctl, cfg));
    slot *w = calloc((size_t)W, sizeof *w);
    if (!w) {
        ameir_controller_free(ctl);
        return ameir_fail(AMEIR_ENOMEM, "no memory for %d workers", W);
    }
    int *free_w = malloc(sizeof *free_w * (size_t)W), *sizes = malloc(sizeof *sizes * (size_t)W);
    int *lead_of = malloc(sizeof *lead_of * (size_t)W);
    ameir_group_run *runs = malloc(sizeof *runs * (size_t)W);
    ameir_search_task *tasks = malloc(sizeof *tasks * (size_t)W);
    if (!free_w || !sizes || !tasks || !lead_of || !runs) {
        free(free_w), free(sizes), free(tasks), free(w), free(lead_of), free(runs);
        ameir_controller_free(ctl);
        return ameir_fail(AMEIR_ENOMEM, "no memory for %d workers", W);
    }
    ameir_rng rng = ameir_rng_stream(seed, 7);
    double now = 0;
    memset(out, 0, sizeof *out);
    /* the current phase's longest trial and its time alone; a trial is fastest on the largest group */
    double ph_max = 0, ph_sum = 0, fastest = speed(dp, dp->shards > 0 ? (dp->shards < W ? dp->shards : W) : 1);
    int rc = 0, running = 0;
    for (;;) {
        /* hand out what the controller has to the free workers, as rank 0's dispatch does */
        int n_free = 0, n_tasks = 0, next = AMEIR_NEXT_TASK, at = 0;
        for (int k = 0; k < W; k++)
            if (!w[k].busy)
                free_w[n_free++] = k;
        while (n_tasks < n_free && (next = ameir_controller_next(ctl, &tasks[n_tasks])) == AMEIR_NEXT_TASK)
            n_tasks++;
        ameir_group_sizes(n_tasks, n_free, dp->shards, sizes);
        for (int i = 0; i < n_tasks; i++) {
            const ameir_search_task *t = &tasks[i];
            int is_final = t->stage >= AMEIR_N_STAGES, f = is_final ? (int)ameir_rng_below(&rng, (uint64_t)m->n_final) : 0;
            double d = !is_final ? (double)t->budget * m->sec_per_step[t->stage] * exp(0.25 * normal(&rng)) : m->final_s[f];
            int g = sizes[i], lead = free_w[at];
            for (int j = 0; j < g; j++) {
                slot *s = &w[free_w[at++]];
                s->busy = 1, s->lead = lead, s->since = now, s->refused = 0;
            }
            slot *l = &w[lead];
            l->task = *t;
            l->g = g, l->left = d, l->t_left = now, l->until = now + d / speed(dp, g);
            l->growable = dp->grow && (t->kind == AMEIR_TRIAL_SEARCH || (is_final && dp->grow_finals)) && dp->shards > 1;
            l->steps = is_final ? m->final_steps[f] : t->budget - (t->parent >= 0 ? ameir_controller_trial(ctl, t->parent)->steps : 0);
            l->d = d, l->every = is_final ? dp->final_every : 0;
            running++;
            out->work += d;
            ph_sum += d;
            if (d > ph_max)
                ph_max = d;
        }
        /* workers no task can take join running trials, as rank 0 sends them */
        while (dp->grow && next == AMEIR_NEXT_WAIT && at < n_free && join_one(w, W, free_w[at], dp, now, runs, lead_of, &out->joining))
            at++;
        if (running == 0)
            break; /* done (or nothing can run: the controller waits on nothing) */
        int first = -1;
        for (int k = 0; k < W; k++)
            if (w[k].busy && w[k].lead == k && (first < 0 || w[k].until < w[first].until))
                first = k;
        now = w[first].until;
        ameir_search_result r;
        memset(&r, 0, sizeof r);
        r.trial_id = w[first].task.trial_id;
        r.status = AMEIR_TRIAL_DONE;
        r.metric = fake_metric(&w[first].task);
        r.valid.task = AMEIR_TASK_CTR, r.valid.auc = r.metric;
        r.steps = w[first].task.budget;
        r.worker = first + 1;
        for (int k = 0; k < W; k++)
            if (w[k].busy && w[k].lead == first) {
                if (!w[k].refused)
                    out->busy += now - w[k].since;
                else
                    out->refused += now - w[k].since;
                w[k].busy = 0;
            }
        if (--running == 0) { /* the phase has ended: only now can the controller open the next */
            out->bound += fmax(ph_max / fastest, ph_sum / W);
            out->phases++;
            ph_max = ph_sum = 0;
        }
        if (w[first].task.stage < AMEIR_N_STAGES)
            out->stages = now;
        if ((rc = ameir_controller_report(ctl, &r)) < 0)
            break;
    }
    free(free_w), free(sizes), free(tasks), free(lead_of), free(runs);
    out->makespan = now;
    out->trials = ameir_controller_n_trials(ctl);
    if (rc >= 0 && now < out->bound * (1 - 1e-9)) /* the model, the controller or the bound is wrong */
        rc = ameir_fail(AMEIR_EINVAL, "the simulated makespan %.3f s is below its lower bound %.3f s", now, out->bound);
    free(w);
    ameir_controller_free(ctl);
    return rc;
}

static int usage(void) {
    fprintf(stderr, "usage: cluster_sim RUN.h5 [--scale K] [--workers 2,16,...] [--seed S] [--shards S --dp-serial F] "
                    "[--grow [--join-cost SECONDS] [--grow-finals [--final-every STEPS]]]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *run = NULL, *workers = "2,16,64,256,1024";
    int scale = 1;
    uint64_t seed = 1;
    dp_model dp = {0, 0.0, 0, 0.25, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            scale = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--shards") && i + 1 < argc)
            dp.shards = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dp-serial") && i + 1 < argc)
            dp.serial = atof(argv[++i]);
        else if (!strcmp(argv[i], "--grow"))
            dp.grow = 1;
        else if (!strcmp(argv[i], "--grow-finals"))
            dp.grow_finals = 1;
        else if (!strcmp(argv[i], "--final-every") && i + 1 < argc)
            dp.final_every = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--join-cost") && i + 1 < argc)
            dp.join_cost = atof(argv[++i]);
        else if (!run)
            run = argv[i];
        else {
            return usage();
        }
    }
    if (!run || scale < 1 || dp.shards < 0 || !(dp.serial >= 0 && dp.serial <= 1) || !(dp.join_cost >= 0)) {
        return usage();
    }
    ameir_search_config *cfg = NULL;
    ameir_controller *rec = NULL;
    measured m;
    if (ameir_checkpoint_read(run, &cfg, &rec) < 0 || measure(rec, &m) < 0) {
        fprintf(stderr, "cluster_sim: %s\n", ameir_last_error());
        return 2;
    }
    ameir_controller_free(rec);
    if (dp.final_every <= 0)
        dp.final_every = cfg->final_train.eval_every;
    if (dp.grow_finals && (!dp.grow || dp.final_every <= 0)) {
        fprintf(stderr, "cluster_sim: --grow-finals needs --grow and final.eval_every or --final-every STEPS\n");
        return 2;
    }
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        cfg->schedule[s].n *= scale;
    printf("%s x%d: seconds per step", run, scale);
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        printf(" %s %.4f", ameir_stage_name(s), m.sec_per_step[s]);
    printf("; %d final trials to draw from", m.n_final);
    if (dp.shards > 0)
        printf("; groups of at most %d ranks, serial fraction %.3f", dp.shards, dp.serial);
    if (dp.grow)
        printf("; groups grow at chunk boundaries (a join takes effect %.2f s after it is sent)", dp.join_cost);
    if (dp.grow_finals)
        printf("; final trials grow at their validations (every %lld steps)", (long long)dp.final_every);
    printf("\n| workers | trials | phases | makespan (s) | stages (s) | final phase (s) | busy share | work share | bound (s) | "
           "work ceiling | idle: no task, joining, refused |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const char *p = workers; *p;) {
        int W = atoi(p);
        sim_out o;
        if (W < 1 || simulate(cfg, &m, &dp, W, seed, &o) < 0) {
            fprintf(stderr, "cluster_sim: %d workers: %s\n", W, ameir_last_error());
            return 1;
        }
        double all = W * o.makespan, idle = all - o.busy; /* no task: what is left, at least 0 after rounding */
        printf("| %d | %lld | %lld | %.0f | %.0f | %.0f | %.1f%% | %.1f%% | %.0f | %.1f%% | %.1f%%, %.1f%%, %.1f%% |\n", W,
               (long long)o.trials, (long long)o.phases, o.makespan, o.stages, o.makespan - o.stages, 100.0 * o.busy / all,
               100.0 * o.work / all, o.bound, 100.0 * o.work / (W * o.bound), 100.0 * fmax(0, idle - o.joining - o.refused) / all,
               100.0 * o.joining / all, 100.0 * o.refused / all);
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    ameir_search_config_free(cfg);
    return 0;
}
