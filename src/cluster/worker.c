/* A worker rank: ask rank 0 for a task when free, run it, send the result, until told to
 * stop. A signal on this rank abandons the current trial and tells rank 0, which then
 * stops the whole job; a stop from rank 0 in the middle of a trial abandons it too. */
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
} worker;

static int read_stop(worker *w) {
    ameir_unpack u;
    ameir_unpack_init(&u, ameir_msg_payload(&w->msg), w->msg.length);
    w->exit_code = (int)ameir_unpack_i64(&u);
    AMEIR_TRY(ameir_unpack_finish(&u, "stop"));
    w->stop_seen = 1;
    return 0;
}

/* Between training chunks: abandon on a signal or on a stop from rank 0. */
static int trial_stop(void *arg) {
    worker *w = arg;
    if (ameir_signal_caught)
        return 1;
    int got = 0;
    int rc = ameir_msg_poll(w->comm, 0, &w->msg, &got);
    if (rc < 0) {
        w->error = rc;
        return 1;
    }
    if (!got)
        return 0;
    if (w->msg.type != AMEIR_MSG_STOP) {
        w->error = ameir_fail(AMEIR_EINVAL, "protocol error: rank %d got a %s message from rank 0 during a trial", w->rank,
                              ameir_msg_type_name(w->msg.type));
        return 1;
    }
    if ((rc = read_stop(w)) < 0)
        w->error = rc;
    return 1;
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
 * them alone, MPI_Comm_create_group), the trial trained data-parallel over it. */
static int run_in_group(worker *w, const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                        ameir_search_result *res, int *leader) {
    MPI_Group all = MPI_GROUP_NULL, mine = MPI_GROUP_NULL;
    MPI_Comm gc = MPI_COMM_NULL;
    ameir_dp_comm dc = {0};
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
    *leader = w->group.ranks[0] == w->rank;
    if (w->group.size == 1) {
        rc = ameir_trial_run(ctx, td, task, NULL, trial_stop, w, res);
        goto done;
    }
    AMEIR_MPI_CHECK(MPI_Comm_group(w->comm, &all), rc, done);
    AMEIR_MPI_CHECK(MPI_Group_incl(all, w->group.size, w->group.ranks, &mine), rc, done);
    /* the groups that form at once are disjoint, so one tag serves them all */
    AMEIR_MPI_CHECK(MPI_Comm_create_group(w->comm, mine, AMEIR_MSG_TAG + 1, &gc), rc, done);
    if ((rc = ameir_dp_comm_init(&dc, gc)) < 0)
        goto done;
    rc = ameir_trial_run(ctx, td, task, &dc.base, trial_stop, w, res);
done:
    ameir_dp_comm_destroy(&dc);
    if (gc != MPI_COMM_NULL)
        MPI_Comm_free(&gc);
    if (mine != MPI_GROUP_NULL)
        MPI_Group_free(&mine);
    if (all != MPI_GROUP_NULL)
        MPI_Group_free(&all);
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
        if (w->msg.type != AMEIR_MSG_TASK)
            return ameir_fail(AMEIR_EINVAL, "protocol error: rank %d expected a task or stop from rank 0, got %s", w->rank,
                              ameir_msg_type_name(w->msg.type));
        if (w->told_signal)
            continue; /* stopping: the task stays running at rank 0, pending on resume */
        AMEIR_TRY(ameir_unpack_task(ameir_msg_payload(&w->msg), w->msg.length, task, &w->group, &w->lists));
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
