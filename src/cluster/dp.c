/* The transport of data-parallel training (train.h's ameir_shard_comm) over a communicator:
 * the shards' embedding rows gathered on every rank (MPI_Allgatherv after the byte counts),
 * the dense gradient's slices exchanged (MPI_Alltoallv) and gathered back in place
 * (MPI_Allgatherv). Only bytes move here: every sum is the model's, in shard order, never
 * MPI's reduction order. */
#include <stdint.h>
#include <stdlib.h>

#include "ameir/cluster.h"

static int allgather(void *ctx, const void *send, size_t nsend, void *recv, size_t cap, size_t *nrecv) {
    ameir_dp_comm *dc = ctx;
    int R = dc->base.size;
    if (nsend > (size_t)INT32_MAX)
        return ameir_fail(AMEIR_EINVAL, "data-parallel step: %zu bytes of shards exceed MPI's count", nsend);
    int n = (int)nsend, rc = 0;
    AMEIR_MPI_CHECK(MPI_Allgather(&n, 1, MPI_INT, dc->counts, 1, MPI_INT, dc->comm), rc, fail);
    size_t total = 0;
    for (int r = 0; r < R; r++) {
        dc->displs[r] = (int)total;
        total += (size_t)dc->counts[r];
        if (total > cap || total > (size_t)INT32_MAX)
            return ameir_fail(AMEIR_EINTERNAL, "data-parallel step: ranks sent %zu bytes of shards, room for %zu", total,
                              cap);
    }
    AMEIR_MPI_CHECK(MPI_Allgatherv(send, n, MPI_BYTE, recv, dc->counts, dc->displs, MPI_BYTE, dc->comm), rc, fail);
    *nrecv = total;
    return 0;
fail:
    return rc;
}

/* counts (bytes) as MPI's ints with their prefix sums. */
static int to_ints(int R, const size_t *n, int *counts, int *displs) {
    size_t total = 0;
    for (int r = 0; r < R; r++) {
        if (n[r] > (size_t)INT32_MAX || total + n[r] > (size_t)INT32_MAX)
            return ameir_fail(AMEIR_EINVAL, "data-parallel step: %zu bytes of gradient exceed MPI's count", total + n[r]);
        counts[r] = (int)n[r];
        displs[r] = (int)total;
        total += n[r];
    }
    return 0;
}

static int alltoall(void *ctx, const void *send, const size_t *scounts, void *recv, const size_t *rcounts) {
    ameir_dp_comm *dc = ctx;
    int R = dc->base.size, rc = 0;
    AMEIR_TRY(to_ints(R, scounts, dc->scounts, dc->sdispls));
    AMEIR_TRY(to_ints(R, rcounts, dc->counts, dc->displs));
    AMEIR_MPI_CHECK(MPI_Alltoallv(send, dc->scounts, dc->sdispls, MPI_BYTE, recv, dc->counts, dc->displs, MPI_BYTE, dc->comm),
                    rc, fail);
    return 0;
fail:
    return rc;
}

static int allgather_inplace(void *ctx, void *buf, const size_t *counts) {
    ameir_dp_comm *dc = ctx;
    int rc = 0;
    AMEIR_TRY(to_ints(dc->base.size, counts, dc->counts, dc->displs));
    AMEIR_MPI_CHECK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, buf, dc->counts, dc->displs, MPI_BYTE, dc->comm), rc, fail);
    return 0;
fail:
    return rc;
}

int ameir_dp_comm_init(ameir_dp_comm *dc, MPI_Comm comm) {
    int rank, size, rc = 0;
    dc->counts = dc->displs = dc->scounts = dc->sdispls = NULL;
    AMEIR_MPI_CHECK(MPI_Comm_rank(comm, &rank), rc, fail);
    AMEIR_MPI_CHECK(MPI_Comm_size(comm, &size), rc, fail);
    dc->comm = comm;
    dc->counts = malloc(sizeof *dc->counts * (size_t)size);
    dc->displs = malloc(sizeof *dc->displs * (size_t)size);
    dc->scounts = malloc(sizeof *dc->scounts * (size_t)size);
    dc->sdispls = malloc(sizeof *dc->sdispls * (size_t)size);
    if (!dc->counts || !dc->displs || !dc->scounts || !dc->sdispls) {
        ameir_dp_comm_destroy(dc);
        return ameir_fail(AMEIR_ENOMEM, "data-parallel counts for %d ranks", size);
    }
    dc->base.rank = rank;
    dc->base.size = size;
    dc->base.allgather = allgather;
    dc->base.alltoall = alltoall;
    dc->base.allgather_inplace = allgather_inplace;
    dc->base.ctx = dc;
    return 0;
fail:
    return rc;
}

void ameir_dp_comm_destroy(ameir_dp_comm *dc) {
    free(dc->counts);
    free(dc->displs);
    free(dc->scounts);
    free(dc->sdispls);
    dc->counts = dc->displs = dc->scounts = dc->sdispls = NULL;
}
