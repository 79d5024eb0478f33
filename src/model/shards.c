/* Virtual shards: one training step's gradient as the sum, in shard order, of the gradients
 * of S contiguous slices of the batch, so that it does not depend on how many ranks (or
 * threads) computed the slices.
 *
 * Each rank computes the shards [S*r/R, S*(r+1)/R) on the net's own buffers (one thread:
 * a shard is always computed the same way). The embedding rows a shard touched are packed
 * and gathered on every rank (they are few). The dense gradient is not: rank q owns the
 * slice [D*q/R, D*(q+1)/R) of its D floats, gets that slice of every shard (an alltoall:
 * the ranks' shards arrive in rank order, which is shard order), sums shards 0..S-1 of it
 * and the slices are gathered back. Each float is the same sum in the same order as if one
 * rank summed all shards, so the result is bit-identical for any R, while a rank receives
 * about (S/R + 1) D floats and adds S D/R of them instead of receiving and adding all S D.
 * Every rank then adds the L2 term on the union of the touched rows and takes the same Adam
 * step: all ranks hold the same weights after every step without ever sending weights.
 *
 * With the Adam step by slices (ameir_shards_slice_adam_, plain nets on R > 1 ranks) the
 * summed slices are not gathered: each rank takes the dense Adam step on its own slice only
 * and the updated weights are gathered instead (the same bytes), so the dense Adam step is
 * no longer repeated on every rank. Adam is elementwise, so the weights are the same bit for
 * bit; m and v are then right only on each slice's owner until ameir_shards_sync_ gathers
 * them (once per training call, not per step).
 *
 * The embedding rows are split the same way then. Every rank still gets every shard's rows
 * (a few kB) and builds the same sorted union of the touched rows of each table, but rank q
 * sums (in shard order, from +0) and updates only share q of R of that union, the share
 * ameir_net_adam_part_ takes: a contiguous range of row ids, so the owner of a row is known
 * before the sum. The owners' updated rows, with their m and v, are gathered at once: row
 * ownership changes from step to step, so the rows' moments are kept whole on every rank
 * rather than synced at the end. The L2 term of the loss is still computed by every rank
 * over the whole union (it needs only the ids and the weights, which all ranks hold), so
 * the loss is the same sum in the same order as on one rank.
 *
 * A packed shard: int32 index, int32 rows, double loss sum, then per field int32 count,
 * count int32 row ids (sorted), count*d floats. Read back with memcpy (no alignment
 * assumed). */
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "net_internal.h"
#include "train_priv.h"

/* Where shard s's rows of each field sit in a gathered buffer. */
typedef struct shard_view {
    const unsigned char *ids[AMEIR_MAX_FIELDS], *vals[AMEIR_MAX_FIELDS];
    int32_t count[AMEIR_MAX_FIELDS];
} shard_view;

struct ameir_shard_ws {
    int S, R, rank;
    const ameir_shard_comm *comm;
    size_t shard_cap;      /* bytes a packed shard may need */
    unsigned char *send, *recv;
    size_t recv_cap;
    shard_view *views;     /* (S) */
    /* the dense gradient: this rank's shards' by destination rank (for each rank q, slice
     * q of each own shard), the own slice of every shard, byte counts by rank */
    size_t dense_cap;      /* the widest net's dense floats (a supernet's paths differ) */
    float *dsend, *drecv;  /* (mine * dense_cap), (S * (dense_cap / R + 1)) */
    size_t *scounts, *rcounts, *gcounts; /* (R) */
    int slice_adam;        /* the dense Adam step by slices (then m, v need a sync) */
    float *rows_out;       /* the touched rows' updated weights, m and v of every rank */
    size_t rows_out_cap;   /* (floats) */
};

static size_t shard_bytes_max(const ameir_net *net, int shard_rows) {
    size_t bytes = 2 * sizeof(int32_t) + sizeof(double);
    for (int f = 0; f < net->F; f++) {
        const net_field *nf = &net->fields[f];
        size_t nid = (size_t)shard_rows * nf->width * (nf->is_item ? 1 + net->L : 1);
        size_t rows = nid < (size_t)nf->vocab ? nid : (size_t)nf->vocab;
        bytes += sizeof(int32_t) + rows * (sizeof(int32_t) + (size_t)net->d * sizeof(float));
    }
    return bytes;
}

int ameir_shards_init_(ameir_shard_ws **out, ameir_net *net, const ameir_train_config *c) {
    *out = NULL;
    int S = c->shards, R = c->comm ? c->comm->size : 1, rank = c->comm ? c->comm->rank : 0;
    if (S < 1 || S > 1 << 16)
        return ameir_fail(AMEIR_EINVAL, "virtual shards: got %d, expected 1 to 65536", S);
    if (R < 1 || rank < 0 || rank >= R || (c->comm && !c->comm->allgather))
        return ameir_fail(AMEIR_EINVAL, "virtual shards: rank %d of %d ranks", rank, R);
    ameir_shard_ws *w = calloc(1, sizeof *w);
    if (!w)
        return ameir_fail(AMEIR_ENOMEM, "virtual shard workspace");
    w->S = S;
    w->R = R;
    w->rank = rank;
    w->comm = c->comm;
    int rows = ameir_train_batch_rows(c, ameir_net_schema(net));
    w->shard_cap = shard_bytes_max(net, (rows + S - 1) / S);
    int mine = S * (rank + 1) / R - S * rank / R;
    w->recv_cap = w->shard_cap * (size_t)S;
    w->send = malloc(w->shard_cap * (size_t)(mine > 0 ? mine : 1));
    w->recv = c->comm ? malloc(w->recv_cap) : NULL;
    w->views = calloc((size_t)S, sizeof *w->views);
    w->dense_cap = net->dense_size;
    w->dsend = malloc(sizeof(float) * (w->dense_cap * (size_t)(mine > 0 ? mine : 1) + 1));
    w->drecv = malloc(sizeof(float) * ((size_t)S * (w->dense_cap / (size_t)R + 1) + 1));
    w->scounts = malloc(sizeof(size_t) * 3 * (size_t)R);
    if (c->comm && R > 1) {
        for (int f = 0; f < net->F; f++)
            w->rows_out_cap += (size_t)net->fields[f].rows_cap * 3 * (size_t)net->d;
        w->rows_out = malloc(sizeof(float) * (w->rows_out_cap + 1));
    }
    if (w->scounts)
        w->rcounts = w->scounts + R, w->gcounts = w->scounts + 2 * R;
    if (!w->send || (c->comm && !w->recv) || !w->views || !w->dsend || !w->drecv || !w->scounts ||
        (c->comm && R > 1 && !w->rows_out)) {
        ameir_shards_free_(w);
        return ameir_fail(AMEIR_ENOMEM, "virtual shard buffers (%zu bytes per shard, %d shards)", w->shard_cap, S);
    }
    *out = w;
    return 0;
}

void ameir_shards_free_(ameir_shard_ws *w) {
    if (!w)
        return;
    free(w->send);
    free(w->recv);
    free(w->views);
    free(w->dsend);
    free(w->drecv);
    free(w->scounts);
    free(w->rows_out);
    free(w);
}

static unsigned char *put(unsigned char *p, const void *v, size_t n) {
    memcpy(p, v, n);
    return p + n;
}

/* First float of rank q's slice of D dense floats shared by R ranks. */
static size_t slice_begin(size_t D, int q, int R) { return (size_t)((uint64_t)D * (uint64_t)q / (uint64_t)R); }

/* The net's dense gradient after a forward_backward on own shard k (of mine), into dsend:
 * slice q of it at the block for rank q (all own shards' slice q, in shard order). An empty
 * shard (a batch of fewer rows than shards) adds zeros. */
static void put_dense(ameir_shard_ws *w, const ameir_net *net, int k, int mine, int rows) {
    size_t D = net->dense_size;
    const float *g = net->params.grad + net->dense_begin;
    int R = w->comm ? w->R : 1;
    for (int q = 0; q < R; q++) {
        size_t a = slice_begin(D, q, R), n = slice_begin(D, q + 1, R) - a;
        float *dst = w->dsend + a * (size_t)mine + (size_t)k * n;
        if (rows > 0)
            memcpy(dst, g + a, n * sizeof(float));
        else
            memset(dst, 0, n * sizeof(float));
    }
}

/* Each element of x[0, n) as the sum over the S shards' blocks src + s*n, in shard order
 * (from +0.0f, as the one-rank sum does). */
static void sum_shards(float *x, const float *src, size_t n, int S) {
    memset(x, 0, n * sizeof(float));
    for (int s = 0; s < S; s++) {
        const float *b = src + (size_t)s * n;
        for (size_t i = 0; i < n; i++)
            x[i] += b[i];
    }
}

/* gcounts for D dense floats over the R ranks (bytes). */
static void slice_counts(ameir_shard_ws *w, size_t D) {
    for (int q = 0; q < w->R; q++)
        w->gcounts[q] = (slice_begin(D, q + 1, w->R) - slice_begin(D, q, w->R)) * sizeof(float);
}

/* The dense gradient: this rank's slice summed over all shards, the slices gathered. */
static int reduce_dense(ameir_shard_ws *w, ameir_net *net, int mine) {
    size_t D = net->dense_size;
    float *gd = net->params.grad + net->dense_begin;
    if (!w->comm || w->R == 1) { /* dsend holds every shard whole, in order */
        sum_shards(gd, w->dsend, D, w->S);
        return 0;
    }
    int R = w->R, S = w->S;
    size_t a = slice_begin(D, w->rank, R), n = slice_begin(D, w->rank + 1, R) - a;
    for (int q = 0; q < R; q++) {
        size_t nq = slice_begin(D, q + 1, R) - slice_begin(D, q, R);
        int sq = S * (q + 1) / R - S * q / R;
        w->scounts[q] = (size_t)mine * nq * sizeof(float);
        w->rcounts[q] = (size_t)sq * n * sizeof(float);
    }
    AMEIR_ASSERT(n <= w->dense_cap / (size_t)R + 1);
    AMEIR_TRY(w->comm->alltoall(w->comm->ctx, w->dsend, w->scounts, w->drecv, w->rcounts));
    sum_shards(gd + a, w->drecv, n, S);
    if (w->slice_adam)
        return 0; /* the rest of the dense gradient is others' to use: the weights come back */
    slice_counts(w, D);
    return w->comm->allgather_inplace(w->comm->ctx, gd, w->gcounts);
}

/* Copies rank q's share of the touched rows (weights, m, v: d floats each, per table in
 * row order) between the tables and its block of rows_out, which starts at rcounts[q]
 * floats (to_tables: from the block). */
static void rows_block(ameir_shard_ws *w, ameir_net *net, int q, int to_tables) {
    ameir_params *p = &net->params;
    size_t d = (size_t)net->d;
    float *blk = w->rows_out + w->rcounts[q], *t[3] = {p->data, p->m, p->v};
    for (int f = 0; f < net->F; f++) {
        const net_field *nf = &net->fields[f];
        size_t off = p->tensors[nf->tensor].offset;
        for (int k = ameir_share_begin_(nf->nrows, q, w->R); k < ameir_share_begin_(nf->nrows, q + 1, w->R); k++)
            for (int b = 0; b < 3; b++, blk += d) {
                float *row = t[b] + off + (size_t)nf->rows[k] * d;
                memcpy(to_tables ? row : blk, to_tables ? blk : row, d * sizeof(float));
            }
    }
}

/* Every rank's updated share of the touched rows to every rank. */
static int gather_rows(ameir_shard_ws *w, ameir_net *net) {
    size_t at = 0, d3 = 3 * (size_t)net->d;
    for (int q = 0; q < w->R; q++) {
        size_t n = 0;
        for (int f = 0; f < net->F; f++) {
            const net_field *nf = &net->fields[f];
            n += (size_t)(ameir_share_begin_(nf->nrows, q + 1, w->R) - ameir_share_begin_(nf->nrows, q, w->R));
        }
        w->rcounts[q] = at; /* floats: where block q starts */
        w->gcounts[q] = n * d3 * sizeof(float);
        at += n * d3;
    }
    AMEIR_ASSERT(at <= w->rows_out_cap);
    rows_block(w, net, w->rank, 0);
    AMEIR_TRY(w->comm->allgather_inplace(w->comm->ctx, w->rows_out, w->gcounts));
    for (int q = 0; q < w->R; q++)
        if (q != w->rank)
            rows_block(w, net, q, 1);
    return 0;
}

void ameir_shards_slice_adam_(ameir_shard_ws *w) { w->slice_adam = w->comm && w->R > 1; }

int ameir_shards_adam_step_(ameir_shard_ws *w, ameir_net *net, const ameir_train_opts *o) {
    if (!w->slice_adam) {
        ameir_net_adam_step(net, o);
        return 0;
    }
    ameir_params *p = &net->params;
    ameir_adam_opts a = ameir_net_adam_opts_(o);
    size_t D = net->dense_size;
    /* its own share of each table's touched rows (the share combine summed), its own slice
     * of the dense floats */
    ameir_net_adam_part_(net, &a, ++p->step, w->rank, w->R, slice_begin(D, w->rank, w->R), slice_begin(D, w->rank + 1, w->R));
    slice_counts(w, D);
    AMEIR_TRY(w->comm->allgather_inplace(w->comm->ctx, p->data + net->dense_begin, w->gcounts));
    return gather_rows(w, net);
}

int ameir_shards_sync_(ameir_shard_ws *w, ameir_net *net) {
    if (!w || !w->slice_adam)
        return 0;
    ameir_params *p = &net->params;
    slice_counts(w, net->dense_size);
    AMEIR_TRY(w->comm->allgather_inplace(w->comm->ctx, p->m + net->dense_begin, w->gcounts));
    return w->comm->allgather_inplace(w->comm->ctx, p->v + net->dense_begin, w->gcounts);
}

/* The embedding rows the net's gradient holds after a forward_backward on one shard,
 * packed at p. */
static unsigned char *pack_shard(unsigned char *p, const ameir_net *net, int32_t index, int32_t rows, double loss_sum) {
    const ameir_params *pa = &net->params;
    int d = net->d;
    p = put(p, &index, sizeof index);
    p = put(p, &rows, sizeof rows);
    p = put(p, &loss_sum, sizeof loss_sum);
    for (int f = 0; f < net->F; f++) {
        const net_field *nf = &net->fields[f];
        const float *g = pa->grad + pa->tensors[nf->tensor].offset;
        int32_t count = rows > 0 ? nf->nrows : 0;
        p = put(p, &count, sizeof count);
        p = put(p, nf->rows, (size_t)count * sizeof(int32_t));
        for (int k = 0; k < count; k++)
            p = put(p, g + (size_t)nf->rows[k] * d, (size_t)d * sizeof(float));
    }
    return p;
}

/* Rows [r0, r0 + n) of b as a batch of their own (a view: no copy). */
static ameir_batch batch_rows(const ameir_batch *b, const ameir_schema *s, int r0, int n) {
    ameir_batch v = *b;
    v.n = v.cap = n;
    v.x = b->x + (size_t)r0 * s->x_width;
    if (b->hist)
        v.hist = b->hist + (size_t)r0 * s->seq_len * s->item_width;
    v.label = b->label + r0;
    if (b->user)
        v.user = b->user + r0;
    if (b->row)
        v.row = b->row + r0;
    return v;
}

static int parse_shard(const ameir_net *net, const unsigned char **pp, const unsigned char *end, int s, int S, int n,
                       shard_view *v, double *loss_sum) {
    const unsigned char *p = *pp;
    size_t head = 2 * sizeof(int32_t) + sizeof(double);
    int32_t index, rows;
    double ls;
    if ((size_t)(end - p) < head)
        return ameir_fail(AMEIR_EINTERNAL, "virtual shards: the gathered bytes hold %d of %d shards", s, S);
    memcpy(&index, p, sizeof index);
    memcpy(&rows, p + sizeof index, sizeof rows);
    memcpy(&ls, p + 2 * sizeof(int32_t), sizeof ls);
    int32_t want = (int32_t)((int64_t)n * (s + 1) / S - (int64_t)n * s / S);
    if (index != s || rows != want)
        return ameir_fail(AMEIR_EINTERNAL, "virtual shards: got shard %d of %d rows where shard %d of %d rows was expected",
                          (int)index, (int)rows, s, (int)want);
    *loss_sum += ls;
    p += head;
    size_t row_bytes = sizeof(int32_t) + (size_t)net->d * sizeof(float);
    for (int f = 0; f < net->F; f++) {
        int32_t count;
        if ((size_t)(end - p) < sizeof count)
            return ameir_fail(AMEIR_EINTERNAL, "virtual shards: shard %d cut short", s);
        memcpy(&count, p, sizeof count);
        p += sizeof count;
        if (count < 0 || count > net->fields[f].vocab || (size_t)(end - p) < (size_t)count * row_bytes)
            return ameir_fail(AMEIR_EINTERNAL, "virtual shards: shard %d: bad row count %d", s, (int)count);
        v->count[f] = count;
        v->ids[f] = p;
        v->vals[f] = p + (size_t)count * sizeof(int32_t);
        p += (size_t)count * row_bytes;
    }
    *pp = p;
    return 0;
}

/* The touched rows of every shard's field f as their sorted union, in nf->rows. */
static int union_rows(ameir_shard_ws *w, ameir_net *net, int f) {
    net_field *nf = &net->fields[f];
    nf->nrows = 0;
    for (int s = 0; s < w->S; s++) {
        const shard_view *v = &w->views[s];
        for (int k = 0; k < v->count[f]; k++) {
            int32_t row;
            memcpy(&row, v->ids[f] + (size_t)k * sizeof row, sizeof row);
            if (row <= 0 || row >= nf->vocab)
                return ameir_fail(AMEIR_EINTERNAL, "virtual shards: shard %d: row %d out of range", s, (int)row);
            if (!net->seen[row]) {
                net->seen[row] = 1;
                AMEIR_ASSERT(nf->nrows < nf->rows_cap);
                nf->rows[nf->nrows++] = row;
            }
        }
    }
    ameir_embedding_sort_rows(nf->rows, nf->nrows, net->seen, nf->vocab);
    return 0;
}

/* The embedding gradient = shard 0 + shard 1 + ... in that order; the touched rows are
 * their union. With the Adam step by slices only this rank's share of the union is summed
 * (its rows are the ids rows[r0..r1), as the union is sorted); the others' rows keep
 * zeros. */
static int combine(ameir_shard_ws *w, ameir_net *net, const unsigned char *buf, size_t len, int n, double *loss_sum) {
    ameir_params *pa = &net->params;
    int d = net->d, S = w->S;
    const unsigned char *p = buf, *end = buf + len;
    *loss_sum = 0.0;
    for (int s = 0; s < S; s++)
        AMEIR_TRY(parse_shard(net, &p, end, s, S, n, &w->views[s], loss_sum));
    if (p != end)
        return ameir_fail(AMEIR_EINTERNAL, "virtual shards: %zu bytes left over", (size_t)(end - p));
    int q = w->slice_adam ? w->rank : 0, K = w->slice_adam ? w->R : 1;
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        float *g = pa->grad + pa->tensors[nf->tensor].offset;
        /* clear what the last forward_backward on a shard left */
        for (int k = 0; k < nf->nrows; k++)
            memset(g + (size_t)nf->rows[k] * d, 0, (size_t)d * sizeof(float));
        AMEIR_TRY(union_rows(w, net, f));
        int r0 = ameir_share_begin_(nf->nrows, q, K), r1 = ameir_share_begin_(nf->nrows, q + 1, K);
        if (r1 <= r0)
            continue;
        int32_t lo = nf->rows[r0], hi = nf->rows[r1 - 1];
        for (int s = 0; s < S; s++) {
            const shard_view *v = &w->views[s];
            for (int k = 0; k < v->count[f]; k++) {
                int32_t row;
                memcpy(&row, v->ids[f] + (size_t)k * sizeof row, sizeof row);
                if (row < lo || row > hi)
                    continue;
                float *gr = g + (size_t)row * d;
                for (int c = 0; c < d; c++) {
                    float x;
                    memcpy(&x, v->vals[f] + ((size_t)k * d + c) * sizeof x, sizeof x);
                    gr[c] += x;
                }
            }
        }
    }
    return 0;
}

int ameir_shards_step_(ameir_shard_ws *w, ameir_net *net, const ameir_batch *b, const ameir_train_opts *o,
                       const ameir_rng *drop, float *loss) {
    int n = b->n, S = w->S;
    ameir_train_opts so = *o;
    so.l2 = 0.0f; /* once, on the union of the touched rows, below */
    int s0 = S * w->rank / w->R, s1 = S * (w->rank + 1) / w->R;
    unsigned char *p = w->send;
    AMEIR_ASSERT(net->dense_size <= w->dense_cap);
    for (int s = s0; s < s1; s++) {
        int r0 = (int)((int64_t)n * s / S), nr = (int)((int64_t)n * (s + 1) / S) - r0;
        double ls = 0.0;
        if (nr > 0) {
            ameir_batch v = batch_rows(b, ameir_net_schema(net), r0, nr);
            /* one shard is the plain step: the same dropout masks as without shards */
            ameir_rng r = S == 1 ? *drop : ameir_rng_split(drop, (uint64_t)s);
            ls = (double)ameir_net_forward_backward_scaled_(net, &v, &so, &r, NULL, (float)nr / (float)n) * nr;
        }
        put_dense(w, net, s - s0, s1 - s0, nr);
        p = pack_shard(p, net, s, nr, ls);
        AMEIR_ASSERT((size_t)(p - w->send) <= w->shard_cap * (size_t)(s1 - s0));
    }
    size_t len = (size_t)(p - w->send);
    const unsigned char *all = w->send;
    if (w->comm) {
        AMEIR_TRY(w->comm->allgather(w->comm->ctx, w->send, len, w->recv, w->recv_cap, &len));
        all = w->recv;
    }
    double sum;
    AMEIR_TRY(combine(w, net, all, len, n, &sum));
    AMEIR_TRY(reduce_dense(w, net, s1 - s0));
    float l = (float)(sum / n);
    if (o->l2 > 0)
        for (int f = 0; f < net->F; f++) {
            net_field *nf = &net->fields[f];
            l += ameir_l2_rows(ameir_params_grad(&net->params, nf->tensor), ameir_params_data(&net->params, nf->tensor),
                               nf->rows, nf->nrows, net->d, o->l2);
        }
    *loss = l;
    return 0;
}

int ameir_group_bcast_(const ameir_shard_comm *group, void *buf, size_t n) {
    enum { MAX_RANKS = 256, PIECE = 1 << 28 };
    if (!group || group->size <= 1)
        return 0;
    if (group->size > MAX_RANKS)
        return ameir_fail(AMEIR_EINVAL, "a trial group of %d ranks (at most %d)", group->size, MAX_RANKS);
    size_t counts[MAX_RANKS] = {0};
    for (size_t at = 0; at < n; at += PIECE) {
        counts[0] = n - at < PIECE ? n - at : PIECE;
        AMEIR_TRY(group->allgather_inplace(group->ctx, (char *)buf + at, counts));
    }
    return 0;
}

/* Group rank 0's whole state (weights, both Adam moments, the step) to every rank of the
 * group: what a rank that joins a trial between two training calls needs to go on with it
 * bit for bit. */
int ameir_net_share_state(ameir_net *net, const ameir_shard_comm *group) {
    ameir_params *p = &net->params;
    AMEIR_TRY(ameir_group_bcast_(group, p->data, sizeof(float) * p->total));
    AMEIR_TRY(ameir_group_bcast_(group, p->m, sizeof(float) * p->total));
    AMEIR_TRY(ameir_group_bcast_(group, p->v, sizeof(float) * p->total));
    return ameir_group_bcast_(group, &p->step, sizeof p->step);
}
