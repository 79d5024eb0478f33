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
    double wait, start;
    int64_t trials;
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

static int worker_loop(worker *w, const ameir_trial_ctx *ctx, ameir_trial_data *td, ameir_search_task *task) {
    for (;;) {
        if (ameir_signal_caught && !w->told_signal)
            AMEIR_TRY(send_signal_notice(w));
        double asked = ameir_now();
        if (!w->told_signal)
            AMEIR_TRY(ameir_msg_send(w->comm, 0, AMEIR_MSG_REQUEST, NULL, 0));
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
        AMEIR_TRY(ameir_unpack_task(ameir_msg_payload(&w->msg), w->msg.length, task));
        ameir_search_result res;
        int rc = ameir_trial_run(ctx, td, task, trial_stop, w, &res);
        if (w->error)
            return w->error;
        if (rc == AMEIR_EINTERRUPTED && w->stop_seen)
            return send_bye(w);
        if (rc == AMEIR_EINTERRUPTED)
            continue; /* signal: tell rank 0 at the top, then wait for its stop */
        AMEIR_TRY(rc);
        res.worker = w->rank;
        w->trials++;
        ameir_pack_reset(&w->pack);
        ameir_pack_result(&w->pack, &res);
        if (w->pack.failed)
            return ameir_fail(AMEIR_ENOMEM, "no memory to pack a result");
        AMEIR_TRY(ameir_msg_send(w->comm, 0, AMEIR_MSG_RESULT, w->pack.data, w->pack.len));
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
    ameir_msg_destroy(&w.msg);
    ameir_pack_destroy(&w.pack);
    return rc;
}
