/* Virtual shards: one training step's gradient as the sum, in shard order, of the gradients
 * of S contiguous slices of the batch, so that it does not depend on how many ranks (or
 * threads) computed the slices.
 *
 * Each rank computes the shards [S*r/R, S*(r+1)/R) on the net's own buffers (one thread:
 * a shard is always computed the same way), packs each shard's gradient (the dense block
 * and the embedding rows the shard touched), and the transport gathers every shard on
 * every rank. Every rank then sums the shards 0..S-1 into the net's gradient, adds the L2
 * term on the union of the touched rows and takes the same Adam step: all ranks hold the
 * same weights after every step without ever sending weights.
 *
 * A packed shard: int32 index, int32 rows, double loss sum, the dense gradient
 * (dense_size floats), then per field int32 count, count int32 row ids (sorted), count*d
 * floats. Read back with memcpy (no alignment assumed). */
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "net_internal.h"
#include "train_priv.h"

/* Where shard s's dense gradient and each field's rows sit in a gathered buffer. */
typedef struct shard_view {
    const unsigned char *dense;
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
};

static size_t shard_bytes_max(const ameir_net *net, int shard_rows) {
    size_t bytes = 2 * sizeof(int32_t) + sizeof(double) + net->dense_size * sizeof(float);
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
    if (!w->send || (c->comm && !w->recv) || !w->views) {
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
    free(w);
}

static unsigned char *put(unsigned char *p, const void *v, size_t n) {
    memcpy(p, v, n);
    return p + n;
}

/* The net's gradient after a forward_backward on one shard, packed at p. */
static unsigned char *pack_shard(unsigned char *p, const ameir_net *net, int32_t index, int32_t rows, double loss_sum) {
    const ameir_params *pa = &net->params;
    int d = net->d;
    p = put(p, &index, sizeof index);
    p = put(p, &rows, sizeof rows);
    p = put(p, &loss_sum, sizeof loss_sum);
    if (rows > 0)
        p = put(p, pa->grad + net->dense_begin, net->dense_size * sizeof(float));
    else { /* an empty shard (a batch of fewer rows than shards) adds nothing */
        memset(p, 0, net->dense_size * sizeof(float));
        p += net->dense_size * sizeof(float);
    }
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
    size_t head = 2 * sizeof(int32_t) + sizeof(double), dense = net->dense_size * sizeof(float);
    int32_t index, rows;
    double ls;
    if ((size_t)(end - p) < head + dense)
        return ameir_fail(AMEIR_EINTERNAL, "virtual shards: the gathered bytes hold %d of %d shards", s, S);
    memcpy(&index, p, sizeof index);
    memcpy(&rows, p + sizeof index, sizeof rows);
    memcpy(&ls, p + 2 * sizeof(int32_t), sizeof ls);
    int32_t want = (int32_t)((int64_t)n * (s + 1) / S - (int64_t)n * s / S);
    if (index != s || rows != want)
        return ameir_fail(AMEIR_EINTERNAL, "virtual shards: got shard %d of %d rows where shard %d of %d rows was expected",
                          (int)index, (int)rows, s, (int)want);
    *loss_sum += ls;
    v->dense = p + head;
    p += head + dense;
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

/* Gradient = shard 0 + shard 1 + ... in that order; the touched rows are their union. */
static int combine(ameir_shard_ws *w, ameir_net *net, const unsigned char *buf, size_t len, int n, double *loss_sum) {
    ameir_params *pa = &net->params;
    int d = net->d, S = w->S;
    const unsigned char *p = buf, *end = buf + len;
    *loss_sum = 0.0;
    for (int s = 0; s < S; s++)
        AMEIR_TRY(parse_shard(net, &p, end, s, S, n, &w->views[s], loss_sum));
    if (p != end)
        return ameir_fail(AMEIR_EINTERNAL, "virtual shards: %zu bytes left over", (size_t)(end - p));
    float *gd = pa->grad + net->dense_begin;
    memset(gd, 0, net->dense_size * sizeof(float));
    for (int s = 0; s < S; s++) {
        const unsigned char *src = w->views[s].dense;
        for (size_t i = 0; i < net->dense_size; i++) {
            float v;
            memcpy(&v, src + i * sizeof v, sizeof v);
            gd[i] += v;
        }
    }
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        float *g = pa->grad + pa->tensors[nf->tensor].offset;
        /* clear what the last forward_backward on a shard left */
        for (int k = 0; k < nf->nrows; k++)
            memset(g + (size_t)nf->rows[k] * d, 0, (size_t)d * sizeof(float));
        nf->nrows = 0;
        for (int s = 0; s < S; s++) {
            const shard_view *v = &w->views[s];
            for (int k = 0; k < v->count[f]; k++) {
                int32_t row;
                memcpy(&row, v->ids[f] + (size_t)k * sizeof row, sizeof row);
                if (row <= 0 || row >= nf->vocab)
                    return ameir_fail(AMEIR_EINTERNAL, "virtual shards: shard %d: row %d out of range", s, (int)row);
                float *gr = g + (size_t)row * d;
                for (int c = 0; c < d; c++) {
                    float x;
                    memcpy(&x, v->vals[f] + ((size_t)k * d + c) * sizeof x, sizeof x);
                    gr[c] += x;
                }
                if (!net->seen[row]) {
                    net->seen[row] = 1;
                    AMEIR_ASSERT(nf->nrows < nf->rows_cap);
                    nf->rows[nf->nrows++] = row;
                }
            }
        }
        ameir_embedding_sort_rows(nf->rows, nf->nrows, net->seen, nf->vocab);
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
    for (int s = s0; s < s1; s++) {
        int r0 = (int)((int64_t)n * s / S), nr = (int)((int64_t)n * (s + 1) / S) - r0;
        double ls = 0.0;
        if (nr > 0) {
            ameir_batch v = batch_rows(b, ameir_net_schema(net), r0, nr);
            /* one shard is the plain step: the same dropout masks as without shards */
            ameir_rng r = S == 1 ? *drop : ameir_rng_split(drop, (uint64_t)s);
            ls = (double)ameir_net_forward_backward_scaled_(net, &v, &so, &r, NULL, (float)nr / (float)n) * nr;
        }
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
