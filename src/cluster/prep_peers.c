/* The collective calls of a parallel prep (ameir_prep_peers) over the job's communicator.
 * Byte counts may pass 2^31 (vocabularies of a large input), so bytes move in pieces of at
 * most 1 GiB. Every call is non-blocking and waited for with short sleeps: the ranks that
 * wait while rank 0 merges the vocabularies would otherwise spin a core each (Open MPI
 * busy-polls in a blocking call). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/cluster.h"
#include "ameir/dataset.h"

#define PIECE ((size_t)1 << 30)

static MPI_Comm comm_of(void *ctx) { return ((const ameir_job *)ctx)->comm; }

/* A rank that cannot hold what the others send would leave them blocked: end the job. */
static void *alloc_or_abort(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        ameir_fail(AMEIR_ENOMEM, "out of memory for %zu bytes exchanged between the ranks", n);
        ameir_job_abort(ameir_report_error("prep", AMEIR_ENOMEM));
    }
    return p;
}

/* Until the request completes, testing every millisecond. */
static int wait_for(MPI_Request *req) {
    int rc = 0, done_ = 0;
    for (;;) {
        AMEIR_MPI_CHECK(MPI_Test(req, &done_, MPI_STATUS_IGNORE), rc, done);
        if (done_)
            break;
        ameir_sleep_ms(1);
    }
done:
    return rc;
}

static int send_bytes(MPI_Comm comm, const void *buf, size_t n, int dest) {
    int rc = 0;
    MPI_Request req;
    for (size_t at = 0; at < n && rc >= 0; at += PIECE) {
        size_t k = n - at < PIECE ? n - at : PIECE;
        AMEIR_MPI_CHECK(MPI_Isend((const char *)buf + at, (int)k, MPI_BYTE, dest, 0, comm, &req), rc, done);
        rc = wait_for(&req);
    }
done:
    return rc;
}

static int recv_bytes(MPI_Comm comm, void *buf, size_t n, int src) {
    int rc = 0;
    MPI_Request req;
    for (size_t at = 0; at < n && rc >= 0; at += PIECE) {
        size_t k = n - at < PIECE ? n - at : PIECE;
        AMEIR_MPI_CHECK(MPI_Irecv((char *)buf + at, (int)k, MPI_BYTE, src, 0, comm, &req), rc, done);
        rc = wait_for(&req);
    }
done:
    return rc;
}

static int allgather_i64(void *ctx, const int64_t *mine, int n, int64_t *all) {
    int rc = 0;
    MPI_Request req;
    AMEIR_MPI_CHECK(MPI_Iallgather(mine, n, MPI_INT64_T, all, n, MPI_INT64_T, comm_of(ctx), &req), rc, done);
    rc = wait_for(&req);
done:
    return rc;
}

static int gather(void *ctx, const void *mine, size_t n, void **all, size_t *sizes) {
    MPI_Comm comm = comm_of(ctx);
    int rank = ((const ameir_job *)ctx)->rank, size = ((const ameir_job *)ctx)->size, rc = 0;
    uint64_t len = n, *lens = rank == 0 ? alloc_or_abort((size_t)size * sizeof *lens) : NULL;
    *all = NULL;
    MPI_Request req;
    AMEIR_MPI_CHECK(MPI_Igather(&len, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, 0, comm, &req), rc, done);
    if ((rc = wait_for(&req)) < 0)
        goto done;
    if (rank > 0) {
        rc = send_bytes(comm, mine, n, 0);
        goto done;
    }
    size_t total = 0;
    for (int r = 0; r < size; r++)
        total += (sizes[r] = (size_t)lens[r]);
    unsigned char *buf = alloc_or_abort(total);
    *all = buf;
    if (n) /* a rank with nothing to send may pass NULL */
        memcpy(buf, mine, n);
    size_t off = n;
    for (int r = 1; r < size && rc >= 0; r++) {
        rc = recv_bytes(comm, buf + off, sizes[r], r);
        off += sizes[r];
    }
done:
    free(lens);
    return rc;
}

static int scatter(void *ctx, void *const *part, const size_t *sizes, void **mine, size_t *n) {
    MPI_Comm comm = comm_of(ctx);
    int rank = ((const ameir_job *)ctx)->rank, size = ((const ameir_job *)ctx)->size, rc = 0;
    uint64_t len = 0, *lens = rank == 0 ? alloc_or_abort((size_t)size * sizeof *lens) : NULL;
    *mine = NULL;
    *n = 0;
    for (int r = 0; rank == 0 && r < size; r++)
        lens[r] = sizes[r];
    MPI_Request req;
    AMEIR_MPI_CHECK(MPI_Iscatter(lens, 1, MPI_UINT64_T, &len, 1, MPI_UINT64_T, 0, comm, &req), rc, done);
    if ((rc = wait_for(&req)) < 0)
        goto done;
    *mine = alloc_or_abort((size_t)len);
    *n = (size_t)len;
    if (rank > 0) {
        rc = recv_bytes(comm, *mine, *n, 0);
        goto done;
    }
    if (*n)
        memcpy(*mine, part[0], *n);
    for (int r = 1; r < size && rc >= 0; r++)
        rc = send_bytes(comm, part[r], sizes[r], r);
done:
    free(lens);
    return rc;
}

static int bcast(void *ctx, void *buf, size_t n) {
    int rc = 0;
    MPI_Request req;
    for (size_t at = 0; at < n && rc >= 0; at += PIECE) {
        size_t k = n - at < PIECE ? n - at : PIECE;
        AMEIR_MPI_CHECK(MPI_Ibcast((char *)buf + at, (int)k, MPI_BYTE, 0, comm_of(ctx), &req), rc, done);
        rc = wait_for(&req);
    }
done:
    return rc;
}

void ameir_prep_peers_init(ameir_prep_peers *p, ameir_job *j) {
    p->rank = j->rank;
    p->size = j->size;
    p->ctx = j;
    p->allgather_i64 = allgather_i64;
    p->gather = gather;
    p->scatter = scatter;
    p->bcast = bcast;
}
