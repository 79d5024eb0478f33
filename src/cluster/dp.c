/* The transport of data-parallel training: the virtual shards of a step, gathered on every
 * rank of a communicator (train.h's ameir_shard_comm). Ranks send byte counts first, then
 * the shards themselves with MPI_Allgatherv; the sum is the model's (in shard order on
 * every rank), never MPI's reduction order. */
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

int ameir_dp_comm_init(ameir_dp_comm *dc, MPI_Comm comm) {
    int rank, size, rc = 0;
    dc->counts = dc->displs = NULL;
    AMEIR_MPI_CHECK(MPI_Comm_rank(comm, &rank), rc, fail);
    AMEIR_MPI_CHECK(MPI_Comm_size(comm, &size), rc, fail);
    dc->comm = comm;
    dc->counts = malloc(sizeof *dc->counts * (size_t)size);
    dc->displs = malloc(sizeof *dc->displs * (size_t)size);
    if (!dc->counts || !dc->displs) {
        ameir_dp_comm_destroy(dc);
        return ameir_fail(AMEIR_ENOMEM, "data-parallel counts for %d ranks", size);
    }
    dc->base.rank = rank;
    dc->base.size = size;
    dc->base.allgather = allgather;
    dc->base.ctx = dc;
    return 0;
fail:
    return rc;
}

void ameir_dp_comm_destroy(ameir_dp_comm *dc) {
    free(dc->counts);
    free(dc->displs);
    dc->counts = dc->displs = NULL;
}
