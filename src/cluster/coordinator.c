/* Rank 0: owns the controller, hands tasks to the workers that ask for one, records every
 * result and rewrites the checkpoint after each; with one rank, runs the trials itself.
 * The search decisions are the controller's; this file only moves tasks and results. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/cluster.h"
#include "ameir/log.h"

typedef struct coord {
    const ameir_search_config *cfg;
    ameir_controller *ctl;
    const ameir_cluster_opts *o;
    ameir_cluster_stats *st;
    double start;
    int64_t finished_before; /* trials finished when this session began */
    ameir_journal *journal;  /* results appended between whole rewrites of RUN.h5 */
} coord;

static int coord_init(coord *c, const ameir_search_config *cfg, ameir_controller *ctl, const ameir_cluster_opts *o,
                      ameir_cluster_stats *st) {
    memset(st, 0, sizeof *st);
    st->signal_rank = -1;
    st->stalled_rank = -1;
    c->cfg = cfg;
    c->ctl = ctl;
    c->o = o;
    c->st = st;
    c->start = ameir_now();
    int64_t counts[AMEIR_TRIAL_N_STATUS];
    ameir_controller_counts(ctl, counts);
    c->finished_before = ameir_counts_finished(counts);
    return ameir_journal_open(&c->journal, o->run_path);
}

/* The end of a session, after the last result: RUN.h5 whole if the journal holds results
 * it lacks (so that it holds every result, for h5py readers), the journal closed. rc: the
 * session's status so far. */
static int coord_finish(coord *c, int rc) {
    if ((rc == 0 || rc == AMEIR_EINTERRUPTED) && ameir_journal_pending(c->journal) > 0) {
        int w = ameir_checkpoint_write(c->o->run_path, c->cfg, c->ctl);
        if (w < 0)
            rc = w;
    }
    int j = ameir_journal_close(c->journal);
    c->journal = NULL;
    return rc == 0 ? j : rc;
}

/* One line per finished trial: stage, rung, trial, metric, best so far, elapsed, ETA. */
static void progress_line(coord *c, const ameir_trial *t) {
    int64_t counts[AMEIR_TRIAL_N_STATUS];
    ameir_controller_counts(c->ctl, counts);
    int64_t finished = ameir_counts_finished(counts);
    int64_t planned = ameir_controller_planned_trials(c->ctl);
    if (planned < finished)
        planned = finished;
    double elapsed = ameir_now() - c->start;
    int64_t here = finished - c->finished_before;
    double eta = here > 0 ? elapsed / (double)here * (double)(planned - finished) : NAN;
    char el[32], et[32], metric[64], best[96] = "", role[96];
    ameir_format_duration(el, sizeof el, elapsed);
    ameir_format_duration(et, sizeof et, eta);
    const char *mname = ameir_metrics_primary_name(t->valid.task);
    if (t->status == AMEIR_TRIAL_DONE && t->kind == AMEIR_TRIAL_SUPERNET)
        snprintf(metric, sizeof metric, "trained to step %lld", (long long)t->steps);
    else if (t->status == AMEIR_TRIAL_DONE)
        snprintf(metric, sizeof metric, "%s %.5f%s", mname, t->metric, t->kind == AMEIR_TRIAL_SCORED ? " (supernet weights)" : "");
    else
        snprintf(metric, sizeof metric, "%s", ameir_trial_status_name(t->status));
    if (t->stage < AMEIR_N_STAGES) {
        int64_t b = ameir_controller_best_in_stage(c->ctl, t->stage);
        if (b >= 0)
            snprintf(best, sizeof best, "best %.5f (trial %lld)", ameir_controller_trial(c->ctl, b)->metric, (long long)b);
        else
            snprintf(best, sizeof best, "best -");
    } else if (t->status == AMEIR_TRIAL_DONE) {
        snprintf(best, sizeof best, "test %s %.5f", mname, ameir_metrics_primary(&t->test));
    }
    fprintf(c->o->out, "[%s rung %d] trial %lld %s budget %lld: %s  %s  %lld/%lld trials  elapsed %s  eta %s\n",
            ameir_stage_name(t->stage), t->rung, (long long)t->id, ameir_controller_role(c->ctl, t, role, sizeof role),
            (long long)t->budget, metric,
            best, (long long)finished, (long long)planned, el, et);
    fflush(c->o->out);
}

/* Report a result to the controller, journal it, print the progress line (after: a line
 * printed is a result kept). */
static int record_result(coord *c, const ameir_search_result *res) {
    AMEIR_TRY(ameir_controller_report(c->ctl, res));
    AMEIR_TRY(ameir_journal_record(c->journal, c->o->run_path, c->cfg, c->ctl, res));
    c->st->results++;
    progress_line(c, ameir_controller_trial(c->ctl, res->trial_id));
    return 0;
}

/* ---------------------------------------------------------------- one rank ---- */

static int local_stop(void *arg) {
    (void)arg;
    return ameir_signal_caught != 0;
}

int ameir_local_run(const ameir_search_config *cfg, ameir_controller *ctl, const ameir_trial_ctx *ctx, ameir_trial_data *td,
                    const ameir_cluster_opts *o, ameir_cluster_stats *st) {
    coord c;
    int rc = coord_init(&c, cfg, ctl, o, st);
    ameir_search_task *task = rc < 0 ? NULL : malloc(sizeof *task);
    if (rc == 0 && !task)
        rc = ameir_fail(AMEIR_ENOMEM, "no memory for a task");
    if (rc < 0) {
        ameir_journal_close(c.journal);
        return rc;
    }
    for (;;) {
        if (ameir_signal_caught) {
            rc = AMEIR_EINTERRUPTED;
            break;
        }
        int next = ameir_controller_next(ctl, task);
        if (next < 0 || next == AMEIR_NEXT_DONE) {
            rc = next < 0 ? next : 0;
            break;
        }
        if (next == AMEIR_NEXT_WAIT) { /* nothing is in flight with one rank */
            rc = ameir_fail(AMEIR_EINTERNAL, "controller waits for results although no trial is running");
            break;
        }
        ameir_search_result res;
        const ameir_trial_hooks hooks = {.stop = local_stop};
        rc = ameir_trial_run(ctx, td, task, NULL, &hooks, &res);
        if (rc < 0)
            break; /* interrupted: the trial stays running, i.e. pending in the checkpoint */
        res.worker = 0;
        if ((rc = record_result(&c, &res)) < 0)
            break;
    }
    if (rc == AMEIR_EINTERRUPTED) {
        st->signal = ameir_signal_caught;
        st->signal_rank = 0;
    }
    rc = coord_finish(&c, rc);
    st->seconds = ameir_now() - c.start;
    free(task);
    return rc;
}

/* ----------------------------------------------------------------- workers ---- */

typedef struct worker_slot {
    int waiting; /* has an unanswered request */
    int busy;    /* was sent a task and has not answered yet */
    int stopped; /* was sent stop */
    int bye;     /* said bye */
    int gone;    /* silent past the watchdog's limit: given up on, never waited for */
    double sent; /* when its current task was sent (watchdog) */
    double last; /* when it last sent a message, or was sent a task or stop */
    int64_t trial;
    int watched; /* its current task has a time limit, so silence past it means a stall */
    int lead;    /* the rank leading the group of its current task */
    ameir_group group; /* a leader's: its group's ranks now, joined ones last */
    int growable;      /* a leader's: a search or final trial on virtual shards, which ranks can join */
    int64_t steps;     /* a leader's: the steps its task trains */
    ameir_outbox task_out, stop_out, join_out; /* posted, never blocking on a stalled worker; a stop may follow an unreceived task */
} worker_slot;

typedef struct cluster {
    coord c;
    MPI_Comm comm;
    int size;
    worker_slot *w;
    ameir_msg msg;
    ameir_pack pack;
    ameir_search_task *tasks; /* (size - 1): those handed out in one dispatch */
    ameir_search_task *running; /* (size): the task each leader of a growable trial trains */
    int *free_ranks, *sizes;  /* (size - 1) */
    ameir_group_run *runs;    /* (size) */
    int *run_lead;            /* (size): the leader of runs[i] */
    ameir_group group;
} cluster;

static int send_stop(cluster *k, int rank, int exit_code) {
    ameir_pack_reset(&k->pack);
    ameir_pack_i64(&k->pack, exit_code);
    k->w[rank].stopped = 1;
    k->w[rank].waiting = 0;
    k->w[rank].last = ameir_now();
    return ameir_msg_post(k->comm, rank, AMEIR_MSG_STOP, k->pack.data, k->pack.len, &k->w[rank].stop_out);
}

static int on_result(cluster *k) {
    ameir_search_result res;
    AMEIR_TRY(ameir_unpack_result(ameir_msg_payload(&k->msg), k->msg.length, &res));
    res.worker = k->msg.source;
    k->w[k->msg.source].busy = 0;
    k->w[k->msg.source].waiting = !k->w[k->msg.source].stopped; /* a result asks for the next task too */
    return record_result(&k->c, &res);
}

static int on_bye(cluster *k) {
    ameir_unpack u;
    ameir_unpack_init(&u, ameir_msg_payload(&k->msg), k->msg.length);
    double wait = ameir_unpack_f64(&u), total = ameir_unpack_f64(&u);
    int64_t trials = ameir_unpack_i64(&u);
    AMEIR_TRY(ameir_unpack_finish(&u, "bye"));
    k->w[k->msg.source].bye = 1;
    k->c.st->worker_wait += wait;
    k->c.st->worker_time += total;
    k->c.st->worker_trials += trials;
    return 0;
}

/* Send task i of this dispatch to each rank of its group. */
static int send_task(cluster *k, const ameir_search_task *task) {
    ameir_pack_reset(&k->pack);
    ameir_pack_task(&k->pack, task, &k->group);
    if (k->pack.failed)
        return ameir_fail(AMEIR_ENOMEM, "no memory to pack a task");
    double now = ameir_now();
    int lead = k->group.ranks[0];
    for (int i = k->group.joining ? k->group.size - 1 : 0; i < k->group.size; i++) {
        worker_slot *w = &k->w[k->group.ranks[i]];
        AMEIR_TRY(ameir_msg_post(k->comm, k->group.ranks[i], AMEIR_MSG_TASK, k->pack.data, k->pack.len, &w->task_out));
        w->waiting = 0;
        w->busy = 1;
        w->sent = w->last = now;
        w->trial = task->trial_id;
        w->watched = task->kind == AMEIR_TRIAL_SEARCH && k->c.cfg->trial_time_limit > 0;
        w->lead = lead;
    }
    if (k->group.joining)
        return 0;
    worker_slot *l = &k->w[lead];
    l->group = k->group;
    l->growable = ameir_trial_growable(task, k->c.cfg->train.shards);
    l->steps = task->budget;
    if (task->parent >= 0 && task->kind == AMEIR_TRIAL_SEARCH) /* a search trial goes on from its parent's step */
        l->steps -= ameir_controller_trial(k->c.ctl, task->parent)->steps;
    if (l->growable)
        k->running[lead] = *task;
    return 0;
}

/* Free workers when no task can start: each joins a running trial (ameir_group_join_pick);
 * its leader is told (JOIN) and takes it in at its next chunk boundary or validation. */
static int join_running(cluster *k, const int *ranks, int n) {
    for (int i = 0; i < n; i++) {
        int n_runs = 0;
        for (int r = 1; r < k->size; r++) {
            worker_slot *w = &k->w[r];
            if (!w->busy || w->lead != r || !w->growable)
                continue;
            k->runs[n_runs] = (ameir_group_run){w->trial, w->group.size, w->steps, 1};
            k->run_lead[n_runs++] = r;
        }
        int pick = ameir_group_join_pick(k->runs, n_runs, k->c.cfg->train.shards);
        if (pick < 0)
            return 0;
        int lead = k->run_lead[pick], r = ranks[i];
        worker_slot *l = &k->w[lead];
        ameir_pack_reset(&k->pack);
        ameir_pack_join(&k->pack, l->trial, r);
        AMEIR_TRY(ameir_msg_post(k->comm, lead, AMEIR_MSG_JOIN, k->pack.data, k->pack.len, &l->join_out));
        l->group.ranks[l->group.size++] = r;
        k->group = l->group;
        k->group.joining = 1;
        ameir_log(AMEIR_LOG_INFO, "ameir search: rank %d joins trial %lld (led by rank %d, now %d ranks)", r, (long long)l->trial, lead,
                  l->group.size);
        AMEIR_TRY(send_task(k, &k->running[lead]));
    }
    return 0;
}

/* Test hook (docs/running.md; -Dtest_hooks=true only): AMEIR_TEST_START_GROUP=K starts every
 * trial on at most K ranks, so that the spare workers join running trials at their next
 * boundary instead of starting with them (test mpi_groups: a final that surely grows). The
 * groups' shapes never change results. 0 or unset: up to the config's shards. */
static int start_group_cap(int shards) {
#ifdef AMEIR_TEST_HOOKS
    const char *s = getenv("AMEIR_TEST_START_GROUP");
    char *end = NULL;
    long k = s && s[0] ? strtol(s, &end, 10) : 0;
    return end && *end == '\0' && k > 0 && k < shards ? (int)k : shards;
#else
    return shards;
#endif
}

/* Answer the waiting workers with the tasks the controller has: one task each in rank order
 * while there are enough; when fewer tasks can start than workers wait and trials train on
 * virtual shards, the spare workers join them (ameir_group_sizes), each group a run of
 * consecutive waiting ranks. Sets *done when the controller is done (every worker then gets
 * stop with code 0). */
static int dispatch(cluster *k, int *done) {
    int n_free = 0, n_tasks = 0, next = AMEIR_NEXT_TASK;
    for (int r = 1; r < k->size; r++)
        if (k->w[r].waiting)
            k->free_ranks[n_free++] = r;
    if (n_free == 0)
        return 0;
    while (n_tasks < n_free && (next = ameir_controller_next(k->c.ctl, &k->tasks[n_tasks])) == AMEIR_NEXT_TASK)
        n_tasks++;
    if (next < 0)
        return next;
    if (n_tasks == 0 && next == AMEIR_NEXT_DONE) {
        *done = 1;
        return 0;
    }
    if (n_tasks == 0 && next == AMEIR_NEXT_WAIT) {
        for (int b = 1; b < k->size; b++)
            if (k->w[b].busy)
                return join_running(k, k->free_ranks, n_free);
        /* waiting for results with none to come would hang the job */
        return ameir_fail(AMEIR_EINTERNAL, "controller waits for results although no trial is running");
    }
    ameir_group_sizes(n_tasks, n_free, start_group_cap(k->c.cfg->train.shards), k->sizes);
    int at = 0;
    for (int i = 0; i < n_tasks; i++) {
        k->group.joining = 0;
        k->group.size = k->sizes[i];
        for (int j = 0; j < k->sizes[i]; j++)
            k->group.ranks[j] = k->free_ranks[at++];
        if (k->group.size > 1) {
            char ranks[96];
            ameir_log(AMEIR_LOG_INFO, "ameir search: trial %lld trains on ranks %s, data-parallel over %d shards",
                      (long long)k->tasks[i].trial_id, ameir_group_ranks_text(&k->group, ranks, sizeof ranks),
                      k->c.cfg->train.shards);
        }
        AMEIR_TRY(send_task(k, &k->tasks[i]));
    }
    /* workers the new tasks could not take (each group at its most) join running trials */
    return next == AMEIR_NEXT_WAIT && at < n_free ? join_running(k, k->free_ranks + at, n_free - at) : 0;
}

/* Seconds past the trial time limit a worker may stay silent (AMEIR_WATCHDOG_GRACE, default
 * 60): the limit is checked between chunks of training, then the trial is evaluated on the
 * validation split and its weights written, which the grace covers. */
static double watchdog_grace(void) {
    const char *s = getenv("AMEIR_WATCHDOG_GRACE");
    char *end = NULL;
    double g = s && s[0] ? strtod(s, &end) : 60.0;
    return end && (*end || !(g >= 0)) ? 60.0 : g;
}

/* A worker is stalled (stopped, swapping, stuck on a hung file system) when it is busy in a
 * search trial and silent past the trial time limit plus the grace, or when it owes rank 0 a
 * message at once (a request after its result, a bye after a stop) and has sent nothing for
 * the grace. Report it and give up on it. Returns 1 when one was found (the caller stops the
 * search, resumable), else 0. */
static int watchdog(cluster *k, double grace) {
    double limit = k->c.cfg->trial_time_limit + grace, now = ameir_now();
    int found = 0;
    for (int r = 1; r < k->size; r++) {
        worker_slot *w = &k->w[r];
        if (w->gone || w->bye || w->waiting)
            continue;
        if (w->busy && w->watched && now - w->sent > limit)
            ameir_log(AMEIR_LOG_WARN,
                      "ameir search: watchdog: rank %d has been silent for %.0f s in trial %lld, longer than the trial time limit "
                      "(%g s) plus the grace (%g s, AMEIR_WATCHDOG_GRACE); the search checkpoints and stops (exit 3, resumable)",
                      r, now - w->sent, (long long)w->trial, k->c.cfg->trial_time_limit, grace);
        else if (!w->busy && now - w->last > grace)
            ameir_log(AMEIR_LOG_WARN,
                      "ameir search: watchdog: rank %d has been silent for %.0f s since its last message, when it owed an answer at "
                      "once (grace %g s, AMEIR_WATCHDOG_GRACE); the search checkpoints and stops (exit 3, resumable)",
                      r, now - w->last, grace);
        else
            continue;
        w->gone = 1;
        if (k->c.st->stalled_rank < 0)
            k->c.st->stalled_rank = r;
        found = 1;
    }
    return found;
}

/* Stop every worker with exit_code and collect their byes; results that arrive meanwhile
 * are real finished work and are recorded. grace >= 0 bounds the wait in seconds: a worker
 * inside a final trial's training (which cannot stop half-way) may not answer in time;
 * they are counted in st->unanswered and the caller ends the job. */
static int stop_all(cluster *k, int exit_code, double grace) {
    int rc = 0, got = 0;
    double deadline = ameir_now() + grace;
    for (int r = 1; r < k->size; r++)
        if (!k->w[r].stopped)
            AMEIR_TRY(send_stop(k, r, exit_code));
    for (;;) {
        int left = 0;
        int gone = 0;
        for (int r = 1; r < k->size; r++) {
            left += !k->w[r].bye && !k->w[r].gone;
            gone += k->w[r].gone;
        }
        if (!left) {
            k->c.st->unanswered = gone; /* never answers: the caller ends the job */
            return rc;
        }
        double wait = grace < 0 ? 0.05 : deadline - ameir_now();
        if (grace >= 0 && wait <= 0) {
            k->c.st->unanswered = left + gone;
            return rc;
        }
        AMEIR_TRY(ameir_msg_wait(k->comm, MPI_ANY_SOURCE, &k->msg, &got, NULL, wait));
        if (grace < 0) /* the normal end: every worker owes a bye at once */
            watchdog(k, watchdog_grace());
        if (!got)
            continue;
        k->w[k->msg.source].last = ameir_now();
        if (k->msg.type == AMEIR_MSG_RESULT)
            rc = on_result(k);
        else if (k->msg.type == AMEIR_MSG_BYE)
            AMEIR_TRY(on_bye(k));
        /* requests and interruption notices need no answer once stop is sent */
        if (rc < 0)
            return rc;
    }
}

/* Seconds the workers get to leave after an interruption (AMEIR_STOP_GRACE, default 30). */
static double stop_grace(void) {
    const char *s = getenv("AMEIR_STOP_GRACE");
    char *end = NULL;
    double g = s && s[0] ? strtod(s, &end) : 30.0;
    return end && (*end || !(g >= 0)) ? 30.0 : g;
}

static int handle(cluster *k) {
    k->w[k->msg.source].last = ameir_now();
    switch (k->msg.type) {
    case AMEIR_MSG_REQUEST: { /* also a group member done with its share of a trial */
        worker_slot *w = &k->w[k->msg.source], *l = &k->w[w->lead];
        /* a member leaves once the training is over (or its join came too late): nobody
         * joins that trial any more */
        if (w->busy && w->lead != k->msg.source && l->busy && l->trial == w->trial)
            l->growable = 0;
        w->waiting = 1;
        w->busy = 0;
        return 0;
    }
    case AMEIR_MSG_RESULT:
        return on_result(k);
    case AMEIR_MSG_INTERRUPTED: {
        ameir_unpack u;
        ameir_unpack_init(&u, ameir_msg_payload(&k->msg), k->msg.length);
        int sig = (int)ameir_unpack_i64(&u);
        AMEIR_TRY(ameir_unpack_finish(&u, "interrupted"));
        if (!k->c.st->signal) {
            k->c.st->signal = sig;
            k->c.st->signal_rank = k->msg.source;
        }
        return 0;
    }
    default:
        return ameir_fail(AMEIR_EINVAL, "protocol error: unexpected %s message from rank %d", ameir_msg_type_name(k->msg.type),
                          k->msg.source);
    }
}

int ameir_coordinator_run(MPI_Comm comm, const ameir_search_config *cfg, ameir_controller *ctl, const ameir_cluster_opts *o,
                          ameir_cluster_stats *st) {
    cluster k;
    memset(&k, 0, sizeof k);
    k.comm = comm;
    int rc = 0, done = 0;
    double grace = watchdog_grace();
    if ((rc = MPI_Comm_size(comm, &k.size)) != MPI_SUCCESS)
        return ameir_mpi_fail(rc, __FILE__, __LINE__, "MPI_Comm_size");
    AMEIR_TRY(coord_init(&k.c, cfg, ctl, o, st));
    st->workers = k.size - 1;
    ameir_msg_init(&k.msg);
    ameir_pack_init(&k.pack);
    k.w = calloc((size_t)k.size, sizeof *k.w);
    k.tasks = malloc(sizeof *k.tasks * (size_t)(k.size > 1 ? k.size - 1 : 1));
    k.free_ranks = malloc(sizeof *k.free_ranks * (size_t)k.size);
    k.sizes = malloc(sizeof *k.sizes * (size_t)k.size);
    k.running = cfg->train.shards > 1 ? malloc(sizeof *k.running * (size_t)k.size) : NULL;
    k.runs = malloc(sizeof *k.runs * (size_t)k.size);
    k.run_lead = malloc(sizeof *k.run_lead * (size_t)k.size);
    if (!k.w || !k.tasks || !k.free_ranks || !k.sizes || (cfg->train.shards > 1 && !k.running) || !k.runs || !k.run_lead) {
        rc = ameir_fail(AMEIR_ENOMEM, "no memory for %d worker slots", k.size);
        goto done;
    }
    for (int r = 1; r < k.size; r++) {
        k.w[r].last = ameir_now();
        ameir_outbox_init(&k.w[r].task_out);
        ameir_outbox_init(&k.w[r].stop_out);
        ameir_outbox_init(&k.w[r].join_out);
    }
    while (!done) {
        if (ameir_signal_caught && !st->signal) {
            st->signal = ameir_signal_caught;
            st->signal_rank = 0;
        }
        if (st->signal || st->stalled_rank >= 0)
            break;
        int got = 0;
        /* the flag ends the wait at once; the 50 ms bound only keeps the loop honest */
        if ((rc = ameir_msg_wait(comm, MPI_ANY_SOURCE, &k.msg, &got, &ameir_signal_caught, 0.05)) < 0)
            goto done;
        /* take every message already here before handing out work, so that the ranks of a
         * group that ended together are shared out together */
        while (got) {
            if ((rc = handle(&k)) < 0 || (rc = ameir_msg_poll(comm, MPI_ANY_SOURCE, &k.msg, &got)) < 0)
                goto done;
        }
        if (!st->signal && (rc = dispatch(&k, &done)) < 0)
            goto done;
        watchdog(&k, grace);
    }
    if (st->signal || st->stalled_rank >= 0) {
        /* every result is in the journal already; in-flight trials stay pending there, and
         * coord_finish rewrites RUN.h5 whole at the end */
        if ((rc = ameir_journal_sync(k.c.journal)) < 0)
            goto done;
        if (st->signal)
            ameir_log(AMEIR_LOG_WARN, "ameir search: %s on rank %d: checkpoint %s written, stopping the workers",
                      ameir_signal_name(st->signal), st->signal_rank, o->run_path);
        else
            ameir_log(AMEIR_LOG_WARN, "ameir search: rank %d stalled: checkpoint %s written, stopping the workers", st->stalled_rank,
                      o->run_path);
        rc = stop_all(&k, ameir_exit_code(AMEIR_EINTERRUPTED), stop_grace());
        if (rc == 0)
            rc = AMEIR_EINTERRUPTED;
    } else {
        rc = stop_all(&k, 0, -1);
        if (rc == 0 && st->stalled_rank >= 0)
            rc = AMEIR_EINTERRUPTED; /* all results are in the checkpoint; a resume finishes */
    }
done:
    rc = coord_finish(&k.c, rc); /* results that came back while stopping are journaled too */
    st->seconds = ameir_now() - k.c.start;
    ameir_msg_destroy(&k.msg);
    ameir_pack_destroy(&k.pack);
    for (int r = 1; k.w && r < k.size; r++) {
        ameir_outbox_destroy(&k.w[r].task_out);
        ameir_outbox_destroy(&k.w[r].stop_out);
        ameir_outbox_destroy(&k.w[r].join_out);
    }
    free(k.w);
    free(k.running);
    free(k.runs);
    free(k.run_lead);
    free(k.tasks);
    free(k.free_ranks);
    free(k.sizes);
    return rc;
}
