/* A worker rank: ask rank 0 for a task when free, run it, send the result, until told to
 * stop. A signal on this rank abandons the current trial and tells rank 0, which then
 * stops the whole job; a stop from rank 0 in the middle of a trial abandons it too.
 *
 * A group grows between chunks (a final trial: between validations): rank 0 tells a
 * growable trial's leader that rank k joins (JOIN) and sends k the task flagged joining. At
 * its next boundary the leader sends
 * the new rank list to its members (a broadcast over the old group) and to each joining rank
 * (GROW); all of them make a communicator over the new list and the leader's state goes to
 * every rank (ameir_trial_join). Every JOIN gets exactly one GROW: an empty one when the
 * trial ended first, so a joining rank never waits on a group that is gone. */
#include <stdlib.h>
#include <string.h>

#include "ameir/cluster.h"
#include "ameir/log.h"

typedef struct worker {
    MPI_Comm comm;
    int rank;
    ameir_msg msg;
    ameir_pack pack;
    int stop_seen;     /* a stop arrived during a trial */
    int exit_code;     /* sent with the stop */
    int told_signal;   /* INTERRUPTED already sent */
    int error;         /* an MPI or protocol error inside the stop callback */
    int answered;      /* the last message was a result, which asks for the next task too */
    double wait, start;
    int64_t trials;
    ameir_group group; /* of the current task */
    ameir_task_lists lists; /* of the current task (one-shot stages) */
    /* the group's communicator, replaced in place when it grows (dc.base stays where the
     * trial points) */
    MPI_Comm gc;
    ameir_dp_comm dc;
    int has_dc;
    int64_t trial;                 /* the current task's id (-1 between tasks) */
    int growable;                  /* it can take in ranks: a search or final trial on virtual shards */
    int final;                     /* a final trial: it grows at a validation, not at a chunk boundary */
    int pending[AMEIR_GROUP_MAX];  /* leader: ranks rank 0 sent to join, not taken in yet */
    int n_pending;
} worker;

static int read_stop(worker *w) {
    ameir_unpack u;
    ameir_unpack_init(&u, ameir_msg_payload(&w->msg), w->msg.length);
    w->exit_code = (int)ameir_unpack_i64(&u);
    AMEIR_TRY(ameir_unpack_finish(&u, "stop"));
    w->stop_seen = 1;
    return 0;
}

/* Tell a rank sent to join trial_id that it is too late (an empty group). */
static int refuse_join(worker *w, int64_t trial_id, int rank) {
    ameir_group none = {0};
    ameir_pack_reset(&w->pack);
    ameir_pack_grow(&w->pack, trial_id, &none);
    return ameir_msg_send(w->comm, rank, AMEIR_MSG_GROW, w->pack.data, w->pack.len);
}

/* A JOIN from rank 0: kept for the next chunk boundary while this rank leads the trial it
 * names and can take it in, else refused at once. */
static int on_join(worker *w) {
    int64_t trial = -1;
    int rank = 0;
    AMEIR_TRY(ameir_unpack_join(ameir_msg_payload(&w->msg), w->msg.length, &trial, &rank));
    if (trial == w->trial && w->growable && w->group.ranks[0] == w->rank && w->group.size + w->n_pending < AMEIR_GROUP_MAX) {
        w->pending[w->n_pending++] = rank;
        return 0;
    }
    return refuse_join(w, trial, rank);
}

/* Every rank still waiting to join the trial that just ended is told it is too late. */
static int refuse_pending(worker *w) {
    int rc = 0;
    for (int i = 0; i < w->n_pending; i++) {
        int r = refuse_join(w, w->trial, w->pending[i]);
        rc = rc < 0 ? rc : r;
    }
    w->n_pending = 0;
    return rc;
}

/* Between training chunks: abandon on a signal or on a stop from rank 0 (also one seen
 * while this rank waited to join); take the joins rank 0 sent. */
static int trial_stop(void *arg) {
    worker *w = arg;
    if (ameir_signal_caught || w->stop_seen)
        return 1;
    for (;;) {
        int got = 0;
        int rc = ameir_msg_poll(w->comm, 0, &w->msg, &got);
        if (rc < 0) {
            w->error = rc;
            return 1;
        }
        if (!got)
            return 0;
        if (w->msg.type == AMEIR_MSG_JOIN) {
            if ((rc = on_join(w)) < 0) {
                w->error = rc;
                return 1;
            }
            continue;
        }
        if (w->msg.type != AMEIR_MSG_STOP) {
            w->error = ameir_fail(AMEIR_EINVAL, "protocol error: rank %d got a %s message from rank 0 during a trial", w->rank,
                                  ameir_msg_type_name(w->msg.type));
            return 1;
        }
        if ((rc = read_stop(w)) < 0)
            w->error = rc;
        return 1;
    }
}

static int trial_waiting(void *arg) { return ((worker *)arg)->n_pending; }

/* A communicator over w->group's ranks in their order, made by them alone, into w->dc (the
 * old one, if any, released). Groups that form or grow at the same time are disjoint; the
 * tag keeps a trial's own creations apart from any other's all the same. */
static int group_comm(worker *w, int tag) {
    MPI_Group all = MPI_GROUP_NULL, mine = MPI_GROUP_NULL;
    MPI_Comm gc = MPI_COMM_NULL;
    int rc = 0;
    AMEIR_MPI_CHECK(MPI_Comm_group(w->comm, &all), rc, done);
    AMEIR_MPI_CHECK(MPI_Group_incl(all, w->group.size, w->group.ranks, &mine), rc, done);
    AMEIR_MPI_CHECK(MPI_Comm_create_group(w->comm, mine, tag, &gc), rc, done);
    if (w->has_dc) {
        ameir_dp_comm_destroy(&w->dc);
        MPI_Comm_free(&w->gc);
        w->has_dc = 0;
    }
    w->gc = gc;
    gc = MPI_COMM_NULL;
    if ((rc = ameir_dp_comm_init(&w->dc, w->gc)) < 0) {
        MPI_Comm_free(&w->gc);
        goto done;
    }
    w->has_dc = 1;
done:
    if (gc != MPI_COMM_NULL)
        MPI_Comm_free(&gc);
    if (mine != MPI_GROUP_NULL)
        MPI_Group_free(&mine);
    if (all != MPI_GROUP_NULL)
        MPI_Group_free(&all);
    return rc;
}

static int grow_tag(int64_t trial_id) { return AMEIR_MSG_TAG + 2 + (int)(trial_id % 16384); }

/* A joining rank: wait for the leader's GROW (a stop from rank 0 meanwhile is kept: the
 * leader may already be making the new communicator, which needs this rank too). */
static int await_grow(worker *w, int *joined) {
    int leader = w->group.ranks[0], got = 0;
    int64_t trial = -1;
    ameir_group g;
    for (;;) {
        AMEIR_TRY(ameir_msg_wait(w->comm, MPI_ANY_SOURCE, &w->msg, &got, NULL, -1));
        if (got && w->msg.source == 0 && w->msg.type == AMEIR_MSG_STOP) {
            AMEIR_TRY(read_stop(w));
            continue;
        }
        if (got && w->msg.source == leader && w->msg.type == AMEIR_MSG_GROW)
            break;
        if (got)
            return ameir_fail(AMEIR_EINVAL, "protocol error: rank %d waiting to join trial %lld got a %s message from rank %d",
                              w->rank, (long long)w->trial, ameir_msg_type_name(w->msg.type), w->msg.source);
    }
    AMEIR_TRY(ameir_unpack_grow(ameir_msg_payload(&w->msg), w->msg.length, &trial, &g));
    if (trial != w->trial)
        return ameir_fail(AMEIR_EINVAL, "protocol error: rank %d waiting to join trial %lld got the grow of trial %lld", w->rank,
                          (long long)w->trial, (long long)trial);
    *joined = g.size > 0;
    if (!*joined)
        return w->stop_seen ? AMEIR_EINTERRUPTED : 0;
    int in = 0;
    for (int i = 0; i < g.size; i++)
        in |= g.ranks[i] == w->rank;
    if (!in || g.ranks[0] != leader)
        return ameir_fail(AMEIR_EINVAL, "protocol error: rank %d got a grow of trial %lld that it is not in", w->rank,
                          (long long)trial);
    w->group = g;
    return 0;
}

/* The leader: the new list (its ranks, then those waiting) to the members over the old
 * group and to each joining rank; a member: the list from the leader. */
static int share_list(worker *w) {
    int rc = 0;
    ameir_group g = w->group;
    if (g.ranks[0] == w->rank) {
        for (int i = 0; i < w->n_pending; i++)
            g.ranks[g.size++] = w->pending[i];
        g.joining = 0;
    }
    AMEIR_MPI_CHECK(MPI_Bcast(&g.size, 1, MPI_INT, 0, w->gc), rc, fail);
    if (g.size < 1 || g.size > AMEIR_GROUP_MAX)
        return ameir_fail(AMEIR_EINVAL, "protocol error: trial %lld grows to %d ranks", (long long)w->trial, g.size);
    AMEIR_MPI_CHECK(MPI_Bcast(g.ranks, g.size, MPI_INT, 0, w->gc), rc, fail);
    if (g.ranks[0] == w->rank) {
        ameir_pack_reset(&w->pack);
        ameir_pack_grow(&w->pack, w->trial, &g);
        for (int i = 0; i < w->n_pending; i++)
            AMEIR_TRY(ameir_msg_send(w->comm, w->pending[i], AMEIR_MSG_GROW, w->pack.data, w->pack.len));
        char ranks[96];
        ameir_log(AMEIR_LOG_INFO, "ameir search: trial %lld grows to ranks %s at a %s", (long long)w->trial,
                  ameir_group_ranks_text(&g, ranks, sizeof ranks), w->final ? "validation" : "chunk boundary");
        w->n_pending = 0;
    }
    w->group = g;
    return 0;
fail:
    return rc;
}

/* ameir_trial_hooks.grow: the group takes in the ranks waiting to join. */
static int trial_grow(void *arg, int *joined) {
    worker *w = arg;
    if (w->group.joining) {
        AMEIR_TRY(await_grow(w, joined));
        if (!*joined)
            return 0;
    } else {
        AMEIR_TRY(share_list(w));
    }
    w->group.joining = 0;
    return group_comm(w, grow_tag(w->trial));
}

static int send_signal_notice(worker *w) {
    ameir_pack_reset(&w->pack);
    ameir_pack_i64(&w->pack, ameir_signal_caught);
    w->told_signal = 1;
    ameir_log(AMEIR_LOG_INFO, "ameir search: rank %d caught %s, waiting for rank 0 to stop the job", w->rank,
              ameir_signal_name(ameir_signal_caught));
    return ameir_msg_send(w->comm, 0, AMEIR_MSG_INTERRUPTED, w->pack.data, w->pack.len);
}

static int send_bye(worker *w) {
    ameir_pack_reset(&w->pack);
    ameir_pack_f64(&w->pack, w->wait);
    ameir_pack_f64(&w->pack, ameir_now() - w->start);
    ameir_pack_i64(&w->pack, w->trials);
    return ameir_msg_send(w->comm, 0, AMEIR_MSG_BYE, w->pack.data, w->pack.len);
}

/* Wait for rank 0's next message; tells rank 0 once if a signal arrives meanwhile. */
static int wait_message(worker *w) {
    int got = 0;
    for (;;) {
        if (ameir_signal_caught && !w->told_signal)
            AMEIR_TRY(send_signal_notice(w));
        AMEIR_TRY(ameir_msg_wait(w->comm, 0, &w->msg, &got, w->told_signal ? NULL : &ameir_signal_caught, -1));
        if (got)
            return 0;
    }
}

/* Run the task with the other ranks of its group: a communicator of just them (created by
 * them alone, MPI_Comm_create_group), the trial trained data-parallel over it; a search trial
 * on virtual shards gets one even alone, so that ranks can join it between chunks. */
static int run_in_group(worker *w, const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                        ameir_search_result *res, int *leader) {
    const ameir_trial_hooks hooks = {trial_stop, trial_waiting, trial_grow, w};
    int rc = 0, size = 0, in = 0;
    AMEIR_MPI_CHECK(MPI_Comm_size(w->comm, &size), rc, done);
    for (int i = 0; i < w->group.size; i++) {
        if (w->group.ranks[i] >= size) {
            rc = ameir_fail(AMEIR_EINVAL, "protocol error: task %lld names rank %d of %d", (long long)task->trial_id,
                            w->group.ranks[i], size);
            goto done;
        }
        in |= w->group.ranks[i] == w->rank;
    }
    if (!in) {
        rc = ameir_fail(AMEIR_EINVAL, "protocol error: rank %d got task %lld for a group without it", w->rank,
                        (long long)task->trial_id);
        goto done;
    }
    *leader = w->group.ranks[0] == w->rank && !w->group.joining;
    w->trial = task->trial_id;
    w->growable = ameir_trial_growable(task, ctx->train.shards);
    w->final = task->kind == AMEIR_TRIAL_FINAL_WINNER || task->kind == AMEIR_TRIAL_FINAL_BASELINE;
    w->n_pending = 0;
    if (w->group.joining) {
        int joined = 0;
        rc = ameir_trial_join(ctx, td, task, &w->dc.base, &hooks, &joined);
    } else if (w->group.size == 1 && !w->growable) {
        rc = ameir_trial_run(ctx, td, task, NULL, &hooks, res);
    } else if ((rc = group_comm(w, w->group.size == 1 ? grow_tag(task->trial_id) : AMEIR_MSG_TAG + 1)) == 0) {
        /* the groups that form at once are disjoint, so one tag serves them all */
        rc = ameir_trial_run(ctx, td, task, &w->dc.base, &hooks, res);
    }
done:
    if (w->has_dc) {
        ameir_dp_comm_destroy(&w->dc);
        MPI_Comm_free(&w->gc);
        w->has_dc = 0;
    }
    {
        int r = refuse_pending(w);
        rc = rc < 0 ? rc : r;
    }
    w->trial = -1;
    return rc;
}

static int worker_loop(worker *w, const ameir_trial_ctx *ctx, ameir_trial_data *td, ameir_search_task *task) {
    for (;;) {
        if (ameir_signal_caught && !w->told_signal)
            AMEIR_TRY(send_signal_notice(w));
        double asked = ameir_now();
        if (!w->told_signal && !w->answered)
            AMEIR_TRY(ameir_msg_send(w->comm, 0, AMEIR_MSG_REQUEST, NULL, 0));
        w->answered = 0;
        AMEIR_TRY(wait_message(w));
        w->wait += ameir_now() - asked;
        if (w->msg.type == AMEIR_MSG_STOP) {
            AMEIR_TRY(read_stop(w));
            return send_bye(w);
        }
        if (w->msg.type == AMEIR_MSG_JOIN) { /* for a trial this rank has finished */
            AMEIR_TRY(on_join(w));
            w->answered = 1; /* no new request: the last one (or the result) still stands */
            continue;
        }
        if (w->msg.type != AMEIR_MSG_TASK)
            return ameir_fail(AMEIR_EINVAL, "protocol error: rank %d expected a task or stop from rank 0, got %s", w->rank,
                              ameir_msg_type_name(w->msg.type));
        AMEIR_TRY(ameir_unpack_task(ameir_msg_payload(&w->msg), w->msg.length, task, &w->group, &w->lists));
        /* stopping: the task stays running at rank 0, pending on resume; but a join is seen
         * through, since its leader may be taking this rank in already (the grown group then
         * stops together at its first boundary) */
        if (w->told_signal && !w->group.joining)
            continue;
        ameir_search_result res;
        int leader = 0;
        int rc = run_in_group(w, ctx, td, task, &res, &leader);
        if (w->error)
            return w->error;
        if (rc == AMEIR_EINTERRUPTED && w->stop_seen)
            return send_bye(w);
        if (rc == AMEIR_EINTERRUPTED)
            continue; /* signal: tell rank 0 at the top, then wait for its stop */
        AMEIR_TRY(rc);
        if (!leader)
            continue; /* the leader answers for the group; this rank asks for more work */
        res.worker = w->rank;
        w->trials++;
        ameir_pack_reset(&w->pack);
        ameir_pack_result(&w->pack, &res);
        if (w->pack.failed)
            return ameir_fail(AMEIR_ENOMEM, "no memory to pack a result");
        AMEIR_TRY(ameir_msg_send(w->comm, 0, AMEIR_MSG_RESULT, w->pack.data, w->pack.len));
        w->answered = 1;
    }
}

int ameir_worker_run(MPI_Comm comm, const ameir_trial_ctx *ctx, ameir_trial_data *td, int *exit_code) {
    worker w;
    memset(&w, 0, sizeof w);
    w.comm = comm;
    w.start = ameir_now();
    w.trial = -1;
    int rc = MPI_Comm_rank(comm, &w.rank);
    if (rc != MPI_SUCCESS)
        return ameir_mpi_fail(rc, __FILE__, __LINE__, "MPI_Comm_rank");
    ameir_msg_init(&w.msg);
    ameir_pack_init(&w.pack);
    ameir_search_task *task = malloc(sizeof *task);
    if (!task)
        rc = ameir_fail(AMEIR_ENOMEM, "no memory for a task");
    else
        rc = worker_loop(&w, ctx, td, task);
    *exit_code = w.exit_code;
    free(task);
    ameir_task_lists_free(&w.lists);
    ameir_msg_destroy(&w.msg);
    ameir_pack_destroy(&w.pack);
    return rc;
}
