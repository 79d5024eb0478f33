/* A simulated cluster: the real search controller driven by W fake workers whose trial
 * durations are drawn like those of a measured search, to see what share of the workers'
 * time is spent training at 16 to 1,024 workers (PRODUCT.md: every worker busy).
 *
 * usage: cluster_sim RUN.h5 [--scale K] [--workers 2,16,64,256,1024] [--seed S] [--shards S --dp-serial F]
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
 * alone only, i.e. the share of worker time that did what one rank would have had to. */
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
        } else if (m->n_final < 256) {
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
    int lead; /* the slot whose task this slot trains (itself when alone or leading) */
    double until;
    ameir_search_task task;
} slot;

typedef struct dp_model {
    int shards;    /* 0: no groups */
    double serial; /* Amdahl's serial fraction of a trial on a group */
} dp_model;

/* One simulated search on W workers: makespan, busy worker-seconds (every rank of a group),
 * work seconds (trials' time alone). */
static int simulate(const ameir_search_config *cfg, const measured *m, const dp_model *dp, int W, uint64_t seed,
                    double *makespan, double *busy, double *work, int64_t *trials) {
    ameir_controller *ctl = NULL;
    AMEIR_TRY(ameir_controller_create(&ctl, cfg));
    slot *w = calloc((size_t)W, sizeof *w);
    if (!w) {
        ameir_controller_free(ctl);
        return ameir_fail(AMEIR_ENOMEM, "no memory for %d workers", W);
    }
    int *free_w = malloc(sizeof *free_w * (size_t)W), *sizes = malloc(sizeof *sizes * (size_t)W);
    ameir_search_task *tasks = malloc(sizeof *tasks * (size_t)W);
    if (!free_w || !sizes || !tasks) {
        free(free_w), free(sizes), free(tasks), free(w);
        ameir_controller_free(ctl);
        return ameir_fail(AMEIR_ENOMEM, "no memory for %d workers", W);
    }
    ameir_rng rng = ameir_rng_stream(seed, 7);
    double now = 0;
    *busy = *work = 0;
    int rc = 0, running = 0;
    for (;;) {
        /* hand out what the controller has to the free workers, as rank 0's dispatch does */
        int n_free = 0, n_tasks = 0;
        for (int k = 0; k < W; k++)
            if (!w[k].busy)
                free_w[n_free++] = k;
        while (n_tasks < n_free && ameir_controller_next(ctl, &tasks[n_tasks]) == AMEIR_NEXT_TASK)
            n_tasks++;
        ameir_group_sizes(n_tasks, n_free, dp->shards, sizes);
        for (int i = 0, at = 0; i < n_tasks; i++) {
            const ameir_search_task *t = &tasks[i];
            double d = t->stage < AMEIR_N_STAGES
                           ? (double)t->budget * m->sec_per_step[t->stage] * exp(0.25 * normal(&rng))
                           : m->final_s[ameir_rng_below(&rng, (uint64_t)m->n_final)];
            int g = sizes[i], lead = free_w[at];
            double on_g = d * (dp->serial + (1 - dp->serial) / g);
            for (int j = 0; j < g; j++) {
                slot *s = &w[free_w[at++]];
                s->busy = 1, s->lead = lead, s->until = now + on_g;
            }
            w[lead].task = *t;
            running++;
            *busy += on_g * g;
            *work += d;
        }
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
            if (w[k].busy && w[k].lead == first)
                w[k].busy = 0;
        running--;
        if ((rc = ameir_controller_report(ctl, &r)) < 0)
            break;
    }
    free(free_w), free(sizes), free(tasks);
    *makespan = now;
    *trials = ameir_controller_n_trials(ctl);
    free(w);
    ameir_controller_free(ctl);
    return rc;
}

int main(int argc, char **argv) {
    const char *run = NULL, *workers = "2,16,64,256,1024";
    int scale = 1;
    uint64_t seed = 1;
    dp_model dp = {0, 0.0};
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
        else if (!run)
            run = argv[i];
        else {
            fprintf(stderr, "usage: cluster_sim RUN.h5 [--scale K] [--workers 2,16,...] [--seed S] [--shards S --dp-serial F]\n");
            return 2;
        }
    }
    if (!run || scale < 1 || dp.shards < 0 || !(dp.serial >= 0 && dp.serial <= 1)) {
        fprintf(stderr, "usage: cluster_sim RUN.h5 [--scale K] [--workers 2,16,...] [--seed S] [--shards S --dp-serial F]\n");
        return 2;
    }
    ameir_search_config *cfg = NULL;
    ameir_controller *rec = NULL;
    measured m;
    if (ameir_checkpoint_read(run, &cfg, &rec) < 0 || measure(rec, &m) < 0) {
        fprintf(stderr, "cluster_sim: %s\n", ameir_last_error());
        return 2;
    }
    ameir_controller_free(rec);
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        cfg->schedule[s].n *= scale;
    printf("%s x%d: seconds per step", run, scale);
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        printf(" %s %.4f", ameir_stage_name(s), m.sec_per_step[s]);
    printf("; %d final trials to draw from", m.n_final);
    if (dp.shards > 0)
        printf("; groups of at most %d ranks, serial fraction %.3f", dp.shards, dp.serial);
    printf("\n| workers | trials | makespan (s) | busy share | work share |\n|---|---|---|---|---|\n");
    for (const char *p = workers; *p;) {
        int W = atoi(p);
        double makespan = 0, busy = 0, work = 0;
        int64_t trials = 0;
        if (W < 1 || simulate(cfg, &m, &dp, W, seed, &makespan, &busy, &work, &trials) < 0) {
            fprintf(stderr, "cluster_sim: %d workers: %s\n", W, ameir_last_error());
            return 1;
        }
        printf("| %d | %lld | %.0f | %.1f%% | %.1f%% |\n", W, (long long)trials, makespan, 100.0 * busy / (W * makespan),
               100.0 * work / (W * makespan));
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    ameir_search_config_free(cfg);
    return 0;
}
