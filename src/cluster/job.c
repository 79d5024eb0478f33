/* The MPI job around a search: start and end MPI, share rank 0's set-up, agree on a status,
 * run this rank's loop, and end the whole job when one rank cannot go on. The command
 * (src/cli/search.c) decides what to do; every MPI call it needs is here. */
#include <stdio.h>
#include <stdlib.h>

#include "ameir/cluster.h"

int ameir_job_init(ameir_job *j) {
    int inited = 0;
    j->comm = MPI_COMM_NULL;
    j->rank = 0, j->size = 1;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return ameir_fail(AMEIR_EMPI, "MPI_Init failed");
    /* a private communicator whose errors come back as codes (AMEIR_MPI_CHECK names the
     * call); the loops decide what a failure means */
    int rc = 0;
    AMEIR_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &j->comm), rc, done);
    AMEIR_MPI_CHECK(MPI_Comm_set_errhandler(j->comm, MPI_ERRORS_RETURN), rc, done);
    AMEIR_MPI_CHECK(MPI_Comm_rank(j->comm, &j->rank), rc, done);
    AMEIR_MPI_CHECK(MPI_Comm_size(j->comm, &j->size), rc, done);
done:
    return rc;
}

void ameir_job_finalize(ameir_job *j) {
    if (j->comm != MPI_COMM_NULL)
        MPI_Comm_free(&j->comm);
    MPI_Finalize();
}

void ameir_job_abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    /* MPI_Abort does not return when a launcher runs the job; alone, end the process */
    exit(code);
}

int ameir_job_share_setup(const ameir_job *j, int *status, ameir_trial_ctx *ctx) {
    int rc = 0;
    AMEIR_MPI_CHECK(MPI_Bcast(status, 1, MPI_INT, 0, j->comm), rc, done);
    AMEIR_MPI_CHECK(MPI_Bcast(ctx, (int)sizeof *ctx, MPI_BYTE, 0, j->comm), rc, done);
done:
    return rc;
}

int ameir_job_min(const ameir_job *j, int value, int *min) {
    int rc = 0;
    AMEIR_MPI_CHECK(MPI_Allreduce(&value, min, 1, MPI_INT, MPI_MIN, j->comm), rc, done);
done:
    return rc;
}

int ameir_job_run(const ameir_job *j, const ameir_search_config *cfg, ameir_controller *ctl, const ameir_trial_ctx *ctx,
                  ameir_trial_data *td, const ameir_cluster_opts *o, ameir_cluster_stats *st, int *exit_code) {
    if (j->size == 1)
        return ameir_local_run(cfg, ctl, ctx, td, o, st);
    if (j->rank == 0)
        return ameir_coordinator_run(j->comm, cfg, ctl, o, st);
    return ameir_worker_run(j->comm, ctx, td, exit_code);
}
