/* Records sent between the ranks of a prep through the shared file system (the ranks already
 * share the output's temporary directory): rank s appends the records for rank d to
 * route-KIND-s-d.tmp; once every rank has closed its files (the caller agrees on that), rank d
 * reads the files for it in rank order and removes them. The ranks of a sorted prep exchange
 * events by user this way, as the flat prep's shard writers read the parts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "stream_internal.h"

#define ROUTE_BUF (1 << 16)

static void route_path(const route *rt, int src, int dst, char *out, size_t n) {
    snprintf(out, n, "%s/route-%s-%d-%d.tmp", rt->dir, rt->kind, src, dst);
}

int route_open(route *rt, const stream *st, const char *dir, const char *kind, size_t rec) {
    memset(rt, 0, sizeof *rt);
    rt->rank = st->rank;
    rt->size = st->size;
    rt->rec = rec;
    snprintf(rt->dir, sizeof rt->dir, "%s", dir);
    snprintf(rt->kind, sizeof rt->kind, "%s", kind);
    if (!(rt->out = calloc((size_t)rt->size, sizeof *rt->out)))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int d = 0; d < rt->size; d++) {
        char path[sizeof rt->dir + 64];
        route_path(rt, rt->rank, d, path, sizeof path);
        if (!(rt->out[d] = fopen(path, "wb")))
            return ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", path, strerror(errno));
        setvbuf(rt->out[d], NULL, _IOFBF, ROUTE_BUF);
    }
    return 0;
}

int route_put(route *rt, int dst, const void *rec) {
    if (fwrite(rec, rt->rec, 1, rt->out[dst]) != 1)
        return ameir_fail(AMEIR_EIO, "%s/route-%s-%d-%d.tmp: write failed (disk full?)", rt->dir, rt->kind, rt->rank, dst);
    return 0;
}

int route_send(route *rt) {
    int rc = 0;
    for (int d = 0; d < rt->size && rt->out; d++) {
        if (rt->out[d] && fclose(rt->out[d]) && rc >= 0)
            rc = ameir_fail(AMEIR_EIO, "%s/route-%s-%d-%d.tmp: write failed (disk full?)", rt->dir, rt->kind, rt->rank, d);
        rt->out[d] = NULL;
    }
    return rc;
}

int route_recv(route *rt, int (*take)(void *ctx, const void *rec), void *ctx) {
    unsigned char *rec = malloc(rt->rec);
    int rc = rec ? 0 : ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int s = 0; s < rt->size && rc >= 0; s++) {
        char path[sizeof rt->dir + 64];
        route_path(rt, s, rt->rank, path, sizeof path);
        FILE *f = fopen(path, "rb");
        if (!f) {
            rc = ameir_fail(AMEIR_EIO, "%s: cannot read (%s)", path, strerror(errno));
            break;
        }
        setvbuf(f, NULL, _IOFBF, ROUTE_BUF);
        size_t got;
        while (rc >= 0 && (got = fread(rec, rt->rec, 1, f)) == 1)
            rc = take(ctx, rec);
        if (rc >= 0 && ferror(f))
            rc = ameir_fail(AMEIR_EIO, "%s: read failed", path);
        fclose(f);
        remove(path);
    }
    free(rec);
    return rc;
}

int route_recv_merged(route *rt, int (*cmp)(const void *a, const void *b), int (*take)(void *ctx, const void *rec),
                      void *ctx) {
    FILE **in = calloc((size_t)rt->size, sizeof *in);
    unsigned char *head = malloc((size_t)rt->size * rt->rec);
    int *live = calloc((size_t)rt->size, sizeof *live);
    int rc = in && head && live ? 0 : ameir_fail(AMEIR_ENOMEM, "out of memory");
    char path[sizeof rt->dir + 64];
    for (int s = 0; s < rt->size && rc >= 0; s++) {
        route_path(rt, s, rt->rank, path, sizeof path);
        if (!(in[s] = fopen(path, "rb")))
            rc = ameir_fail(AMEIR_EIO, "%s: cannot read (%s)", path, strerror(errno));
        else
            live[s] = fread(head + (size_t)s * rt->rec, rt->rec, 1, in[s]) == 1;
    }
    while (rc >= 0) { /* a handful of ranks: the smallest head by a scan */
        int best = -1;
        for (int s = 0; s < rt->size; s++)
            if (live[s] && (best < 0 || cmp(head + (size_t)s * rt->rec, head + (size_t)best * rt->rec) < 0))
                best = s;
        if (best < 0)
            break;
        rc = take(ctx, head + (size_t)best * rt->rec);
        live[best] = fread(head + (size_t)best * rt->rec, rt->rec, 1, in[best]) == 1;
    }
    for (int s = 0; s < rt->size && in; s++) {
        if (in[s] && ferror(in[s]) && rc >= 0)
            rc = ameir_fail(AMEIR_EIO, "%s/route-%s-%d-%d.tmp: read failed", rt->dir, rt->kind, s, rt->rank);
        if (in[s])
            fclose(in[s]);
        route_path(rt, s, rt->rank, path, sizeof path);
        remove(path);
    }
    free(in);
    free(head);
    free(live);
    return rc;
}

void route_free(route *rt) {
    route_send(rt);
    free(rt->out);
    rt->out = NULL;
}
