/* One copy of the training data per node. The ranks that train and share a node (MPI-3
 * shared memory: MPI_Comm_split_type with MPI_COMM_TYPE_SHARED) map one window that the
 * node's first such rank allocates and reads train and valid into; the others only point
 * their splits at it. Every rank reads the same bytes as from its own copy, so results do
 * not change; memory per node is one copy instead of one per rank. */
#include <stdint.h>
#include <string.h>

#include "ameir/cluster.h"
#include "ameir/log.h"

/* The smallest status of the node's ranks; a rank's own failure wins over another's. */
static int node_agree(MPI_Comm node, int status, const char *what) {
    int worst = 0, rc = 0;
    AMEIR_MPI_CHECK(MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MIN, node), rc, done);
    if (status < 0)
        return status;
    if (worst < 0)
        return ameir_fail(worst, "another rank on this node failed to %s", what);
done:
    return rc;
}

/* 0, or the recorded failure of an MPI call's code. */
static int mpi_status(int code, const char *call) {
    return code == MPI_SUCCESS ? 0 : ameir_mpi_fail(code, __FILE__, __LINE__, call);
}

/* Open the dataset, map the node's window (its first rank allocates and reads), point the
 * splits at it. */
static int open_shared(ameir_node_data *nd, const char *data_dir, ameir_trial_data *td) {
    int rc = 0, nrank = 0, nsize = 1, locked = 0;
    size_t bytes[2] = {0, 0};
    char *base = NULL;
    AMEIR_MPI_CHECK(MPI_Comm_set_errhandler(nd->node, MPI_ERRORS_RETURN), rc, done);
    AMEIR_MPI_CHECK(MPI_Comm_rank(nd->node, &nrank), rc, done);
    AMEIR_MPI_CHECK(MPI_Comm_size(nd->node, &nsize), rc, done);
    rc = ameir_dataset_open(&td->ds, data_dir);
    if (rc == 0)
        rc = ameir_split_bytes(td->ds, "train", 0, -1, &bytes[0]);
    if (rc == 0)
        rc = ameir_split_bytes(td->ds, "valid", 0, -1, &bytes[1]);
    if ((rc = node_agree(nd->node, rc, "open the dataset")) < 0)
        goto done;
    /* 64 bytes of slack: the window's base need not be aligned as the splits want */
    nd->bytes = bytes[0] + bytes[1] + 64;
    MPI_Aint mine = nrank == 0 ? (MPI_Aint)nd->bytes : 0, size = 0;
    int disp = 1;
    void *mem = NULL;
    rc = 0;
    AMEIR_MPI_CHECK(MPI_Win_allocate_shared(mine, 1, MPI_INFO_NULL, nd->node, &mem, &nd->win), rc, agree);
    nd->has_win = 1;
    AMEIR_MPI_CHECK(MPI_Win_set_errhandler(nd->win, MPI_ERRORS_RETURN), rc, agree);
    AMEIR_MPI_CHECK(MPI_Win_shared_query(nd->win, 0, &size, &disp, &mem), rc, agree);
    base = (char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
agree:
    if ((rc = node_agree(nd->node, rc, "map the node's shared data window")) < 0)
        goto done;
    /* the first rank reads; an agreement between two syncs makes its stores visible. A
     * failed call is folded into the status, so no rank leaves the others waiting. */
    rc = mpi_status(MPI_Win_lock_all(MPI_MODE_NOCHECK, nd->win), "MPI_Win_lock_all");
    locked = rc == 0;
    if (rc == 0 && nrank == 0) {
        rc = ameir_split_load_at(&td->train, td->ds, "train", 0, -1, base, bytes[0], 1);
        if (rc == 0)
            rc = ameir_split_load_at(&td->valid, td->ds, "valid", 0, -1, base + bytes[0], bytes[1], 1);
        if (rc == 0)
            rc = mpi_status(MPI_Win_sync(nd->win), "MPI_Win_sync");
    }
    if ((rc = node_agree(nd->node, rc, "read the data")) < 0)
        goto done;
    rc = mpi_status(MPI_Win_sync(nd->win), "MPI_Win_sync");
    if (rc == 0 && nrank > 0) {
        rc = ameir_split_load_at(&td->train, td->ds, "train", 0, -1, base, bytes[0], 0);
        if (rc == 0)
            rc = ameir_split_load_at(&td->valid, td->ds, "valid", 0, -1, base + bytes[0], bytes[1], 0);
    }
    locked = 0;
    if (mpi_status(MPI_Win_unlock_all(nd->win), "MPI_Win_unlock_all") < 0 && rc == 0)
        rc = AMEIR_EMPI;
    nd->ranks = nsize;
    if (nrank == 0 && rc == 0)
        ameir_log(AMEIR_LOG_INFO, "data: one copy of train + valid per node (%.1f MB), shared by %d rank(s)",
                  (double)nd->bytes / 1048576.0, nsize);
done:
    if (locked) /* a failure after the lock: no epoch may be open when the window is freed */
        MPI_Win_unlock_all(nd->win);
    return rc < 0 ? rc : 0;
}

int ameir_job_data_open(const ameir_job *j, int load, int private_copy, const char *data_dir, ameir_trial_data *td,
                        ameir_node_data *nd) {
    int rc = 0;
    memset(td, 0, sizeof *td);
    memset(nd, 0, sizeof *nd);
    if (private_copy || j->size == 1)
        return load ? ameir_trial_data_open(td, data_dir) : 0;
    /* collective over every rank; those that do not train get no node communicator */
    AMEIR_MPI_CHECK(MPI_Comm_split_type(j->comm, load ? MPI_COMM_TYPE_SHARED : MPI_UNDEFINED, j->rank, MPI_INFO_NULL,
                                        &nd->node),
                    rc, fail);
    if (!load)
        return 0;
    nd->has_node = 1;
    if ((rc = open_shared(nd, data_dir, td)) < 0)
        goto fail;
    return 0;
fail:
    ameir_job_data_close(nd, td);
    return rc;
}

void ameir_job_data_close(ameir_node_data *nd, ameir_trial_data *td) {
    ameir_trial_data_close(td); /* the splits first: their rows live in the window */
    if (nd->has_win)
        MPI_Win_free(&nd->win);
    if (nd->has_node)
        MPI_Comm_free(&nd->node);
    memset(nd, 0, sizeof *nd);
}
