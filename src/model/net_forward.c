/* The forward pass of a network (PRODUCT.md section 3). Buffers are the ones sized at
 * creation; nothing here allocates.
 *
 * embeddings -> field embeddings fe (n, F, d), target t (n, d), history h0 (n, L, d)
 * blocks     -> x_{i+1} = dropout(x_i + act(op(norm(x_i)))) (a zero block copies x_i)
 * aggregate  -> behaviour vector (n, d)
 * MLP input  -> z0 = [fe, behaviour, interactions] (n, D0)
 * hidden j   -> z_{j+1} = dropout(act(W_j z_j + b_j) [+ shortcut(z0) on the last layer])
 * output     -> logit = w z_last + b */
#include <string.h>

#include "ameir/error.h"
#include "net_internal.h"

#define T(net, i) ameir_params_data(&(net)->params, (i))

/* Copy each field's ids out of the batch so they are contiguous: (n, w) from x, then for
 * item fields the histories (n / stride, L, w), history j from batch row j * stride; and
 * the histories' mask (n / stride, L). stride 1 is every row's own history; stride
 * n_cand keeps one history per group of candidate rows that share it. */
static void gather_rows(ameir_net *net, const ameir_batch *b, int stride) {
    const ameir_schema *s = &net->schema;
    int n = b->n, L = net->L, users = n / stride;
    size_t hw = (size_t)L * s->item_width;
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        int w = nf->width;
        int32_t *ids = nf->ids;
        for (int r = 0; r < n; r++)
            memcpy(ids + (size_t)r * w, b->x + (size_t)r * s->x_width + nf->offset, (size_t)w * sizeof *ids);
        if (!nf->is_item)
            continue;
        int32_t *hid = ids + (size_t)n * w;
        for (int j = 0; j < users; j++) {
            const int32_t *h = b->hist + (size_t)j * stride * hw;
            for (int l = 0; l < L; l++)
                memcpy(hid + ((size_t)j * L + l) * w, h + (size_t)l * s->item_width + nf->item_offset,
                       (size_t)w * sizeof *ids);
        }
    }
    if (net->has_seq) {
        int key = s->fields[s->item_field].item_offset;
        for (int j = 0; j < users; j++) {
            const int32_t *h = b->hist + (size_t)j * stride * hw;
            for (int l = 0; l < L; l++)
                net->mask[(size_t)j * L + l] = h[(size_t)l * s->item_width + key] != 0;
        }
    }
}

void ameir_net_gather_(ameir_net *net, const ameir_batch *b) { gather_rows(net, b, 1); }

/* Rows [r0, r0+nr) of the field embeddings fe and the target (the sum of the item fields);
 * thread k's scratch holds one field's lookups. */
static void embed_fields_rows(ameir_net *net, int r0, int nr, int k) {
    int F = net->F, d = net->d;
    float *tmp = ameir_net_scratch_(net, k);
    float *tgt = net->target + (size_t)r0 * d;
    size_t nd = (size_t)nr * d;
    memset(tgt, 0, nd * sizeof(float));
    for (int f = 0; f < F; f++) {
        net_field *nf = &net->fields[f];
        int w = nf->width;
        ameir_embedding_forward(tmp, nf->ids + (size_t)r0 * w, T(net, nf->tensor), nr, w, nf->vocab, d);
        for (int r = 0; r < nr; r++)
            memcpy(net->fe + ((size_t)(r0 + r) * F + f) * d, tmp + (size_t)r * d, (size_t)d * sizeof(float));
        if (nf->is_item)
            for (size_t i = 0; i < nd; i++)
                tgt[i] += tmp[i];
    }
}

/* Histories [r0, r0+nr) into h0 (the ids of history j follow the n rows of x, see
 * gather_rows); thread k's scratch holds one field's lookups. */
static void embed_hist_rows(ameir_net *net, int n, int r0, int nr, int k) {
    int F = net->F, d = net->d, L = net->L;
    float *tmp = ameir_net_scratch_(net, k);
    float *h0 = net->xs + (size_t)r0 * L * d;
    size_t m = (size_t)nr * L * d;
    int first_item = 1;
    for (int f = 0; f < F; f++) {
        net_field *nf = &net->fields[f];
        if (!nf->is_item)
            continue;
        /* a history position: sum of its item fields, looked up in the same tables */
        const float *table = T(net, nf->tensor);
        int w = nf->width;
        const int32_t *hid = nf->ids + (size_t)n * w + (size_t)r0 * L * w;
        if (first_item) {
            ameir_embedding_forward(h0, hid, table, nr * L, w, nf->vocab, d);
            first_item = 0;
        } else {
            ameir_embedding_forward(tmp, hid, table, nr * L, w, nf->vocab, d);
            for (size_t i = 0; i < m; i++)
                h0[i] += tmp[i];
        }
    }
    /* padding positions are zero whatever their other item fields say; real positions get
     * the position embedding counted back from the most recent event (L-1 -> row 0) */
    const float *pos = net->pos_emb >= 0 ? T(net, net->pos_emb) : NULL;
    const uint8_t *mask = net->mask + (size_t)r0 * L;
    for (int r = 0; r < nr; r++)
        for (int l = 0; l < L; l++) {
            float *x = h0 + ((size_t)r * L + l) * d;
            if (!mask[(size_t)r * L + l])
                memset(x, 0, (size_t)d * sizeof(float));
            else if (pos)
                for (int c = 0; c < d; c++)
                    x[c] += pos[(size_t)(L - 1 - l) * d + c];
        }
}

/* Block i on rows [r0, r0+nr): y = x + act(op(norm(x))); dropout comes after, serially. */
static void block_rows(ameir_net *net, int i, int r0, int nr, int k) {
    net_block *bl = &net->blocks[i];
    int L = net->L, d = net->d;
    size_t off = (size_t)r0 * L * d, m = (size_t)nr * L * d, stride = (size_t)net->B * L * d;
    const float *x = net->xs + (size_t)i * stride + off;
    float *y = net->xs + (size_t)(i + 1) * stride + off;
    if (bl->spec.op == AMEIR_OP_ZERO) {
        memcpy(y, x, m * sizeof(float));
        return;
    }
    const uint8_t *mask = net->mask + (size_t)r0 * L;
    const float *in = x;
    if (bl->ln_w >= 0) {
        ameir_layernorm_forward(bl->normed + off, bl->mean + (size_t)r0 * L, bl->rstd + (size_t)r0 * L, x,
                                T(net, bl->ln_w), T(net, bl->ln_b), mask, nr * L, d);
        in = bl->normed + off;
    }
    float *o = bl->o + off;
    float *act = bl->opact ? bl->opact + (size_t)k * bl->opact_stride : NULL;
    switch (bl->spec.op) {
    case AMEIR_OP_CONV:
        ameir_conv1d_forward(o, in, T(net, bl->w[0]), T(net, bl->w[1]), mask, nr, L, d, bl->spec.option);
        break;
    case AMEIR_OP_GRU:
        ameir_gru_forward(o, act, in, T(net, bl->w[0]), T(net, bl->w[1]), T(net, bl->w[2]), T(net, bl->w[3]), mask,
                          nr, L, d);
        break;
    case AMEIR_OP_AVGPOOL:
        ameir_avgpool_forward(o, in, mask, nr, L, d);
        break;
    case AMEIR_OP_MAXPOOL:
        ameir_maxpool_forward(o, bl->argmax + off, in, mask, nr, L, d);
        break;
    case AMEIR_OP_ATTENTION:
        ameir_attention_forward(o, act, in, T(net, bl->w[0]), T(net, bl->w[1]), T(net, bl->w[2]), T(net, bl->w[3]),
                                mask, nr, L, d, bl->spec.option);
        break;
    default:
        AMEIR_ASSERT(0 && "unknown op");
    }
    /* act(0) = 0 for every block activation, so padding positions stay zero */
    ameir_act_forward(y, o, m, bl->spec.act);
    for (size_t q = 0; q < m; q++)
        y[q] += x[q];
}

static void aggregate_rows(ameir_net *net, int r0, int nr, int k) {
    int L = net->L, d = net->d;
    const float *h = net->xs + (size_t)net->n_blocks * net->B * L * d + (size_t)r0 * L * d;
    const uint8_t *mask = net->mask + (size_t)r0 * L;
    float *out = net->beh + (size_t)r0 * d;
    switch (net->arch.aggregate) {
    case AMEIR_AGG_TARGET_ATTENTION:
        ameir_din_forward(out, net->dinact + (size_t)k * net->dinact_stride, h, net->target + (size_t)r0 * d,
                          T(net, net->din[0]), T(net, net->din[1]), T(net, net->din[2]), T(net, net->din[3]), mask,
                          nr, L, d);
        break;
    case AMEIR_AGG_MEAN:
        ameir_masked_mean_forward(out, h, mask, nr, L, d);
        break;
    case AMEIR_AGG_LAST:
        ameir_last_forward(out, h, mask, nr, L, d);
        break;
    default:
        AMEIR_ASSERT(0 && "unknown aggregate");
    }
}

/* z0 = [fe (F*d), behaviour (d), interaction k (d) ...] per row */
static void mlp_input_rows(ameir_net *net, int r0, int nr, int k) {
    int d = net->d, F = net->F, D0 = net->D0;
    size_t fd = (size_t)F * d * sizeof(float), dd = (size_t)d * sizeof(float);
    float *z0 = net->z[0] + (size_t)r0 * D0, *tmp = ameir_net_scratch_(net, k);
    const float *fe = net->fe + (size_t)r0 * F * d;
    for (int r = 0; r < nr; r++)
        memcpy(z0 + (size_t)r * D0, fe + (size_t)r * F * d, fd);
    int col = F * d;
    if (net->has_seq) {
        for (int r = 0; r < nr; r++)
            memcpy(z0 + (size_t)r * D0 + col, net->beh + (size_t)(r0 + r) * d, dd);
        col += d;
    }
    for (int q = 0; q < net->n_inter; q++, col += d) {
        ameir_hadamard_forward(tmp, fe, net->inter_fields[q], net->inter_order[q], nr, F, d);
        for (int r = 0; r < nr; r++)
            memcpy(z0 + (size_t)r * D0 + col, tmp + (size_t)r * d, dd);
    }
}

static void mlp_layer_rows(ameir_net *net, int j, int r0, int nr, int k) {
    int in = net->width[j], out = net->width[j + 1];
    size_t m = (size_t)nr * out;
    float *u = net->u[j] + (size_t)r0 * out, *z = net->z[j + 1] + (size_t)r0 * out;
    ameir_linear_forward(u, net->z[j] + (size_t)r0 * in, T(net, net->mlp_w[j]), T(net, net->mlp_b[j]), nr, in, out);
    ameir_act_forward(z, u, m, net->arch.mlp[j].act);
    if (j == net->n_mlp - 1 && net->sc_w >= 0) {
        /* the shortcut joins after the last hidden activation (and before its dropout); "se"
         * first re-weights each d-wide segment of the input */
        float *tmp = ameir_net_scratch_(net, k);
        const float *x = net->z[0] + (size_t)r0 * net->D0;
        if (net->se[0] >= 0) {
            float *sx = net->se_x + (size_t)r0 * net->D0;
            ameir_se_forward(sx, net->se_act + (size_t)r0 * (2 * net->se_S + net->se_R), x, T(net, net->se[0]),
                             T(net, net->se[1]), T(net, net->se[2]), T(net, net->se[3]), nr, net->se_S, net->d,
                             net->se_R);
            x = sx;
        }
        ameir_linear_forward(tmp, x, T(net, net->sc_w), T(net, net->sc_b), nr, net->D0, out);
        for (size_t q = 0; q < m; q++)
            z[q] += tmp[q];
    }
}

/* Stages of the forward pass: 0 embeddings, 1+i block i, nb+1 aggregate and MLP input,
 * nb+2+j hidden layer j, nb+2+n_mlp the output. Each is row-parallel; dropout (which
 * draws from the rng in order) runs serially after its stage. */
typedef struct fwd_task {
    ameir_net *net;
    int n, s0, s1;
} fwd_task;

static int n_stages(const ameir_net *net) { return net->n_blocks + 3 + net->n_mlp; }

static void run_stages(void *arg, int k) {
    fwd_task *t = arg;
    ameir_net *net = t->net;
    int r0, nr, nb = net->n_blocks;
    ameir_net_rows_(net, t->n, k, &r0, &nr);
    if (nr == 0)
        return;
    for (int s = t->s0; s < t->s1; s++) {
        if (s == 0) {
            embed_fields_rows(net, r0, nr, k);
            if (net->has_seq)
                embed_hist_rows(net, t->n, r0, nr, k);
        }
        else if (s <= nb)
            block_rows(net, s - 1, r0, nr, k);
        else if (s == nb + 1) {
            if (net->has_seq)
                aggregate_rows(net, r0, nr, k);
            mlp_input_rows(net, r0, nr, k);
        } else if (s < nb + 2 + net->n_mlp)
            mlp_layer_rows(net, s - nb - 2, r0, nr, k);
        else
            ameir_linear_forward(net->logits + r0, net->z[net->n_mlp] + (size_t)r0 * net->width[net->n_mlp],
                                 T(net, net->out_w), T(net, net->out_b), nr, net->width[net->n_mlp], 1);
    }
}

/* The output of stage s if dropout follows it, else NULL; *len its size and *mask where the
 * dropout mask goes. */
static float *dropout_after(ameir_net *net, int s, int n, size_t *len, uint8_t **mask) {
    int nb = net->n_blocks;
    if (s >= 1 && s <= nb && net->blocks[s - 1].spec.op != AMEIR_OP_ZERO) {
        *len = (size_t)n * net->L * net->d;
        *mask = net->blocks[s - 1].drop;
        return net->xs + (size_t)s * net->B * net->L * net->d;
    }
    int j = s - nb - 2;
    if (j >= 0 && j < net->n_mlp) {
        *len = (size_t)n * net->width[j + 1];
        *mask = net->mdrop[j];
        return net->z[j + 1];
    }
    return NULL;
}

void ameir_net_forward_(ameir_net *net, const ameir_batch *b, int train, float p, ameir_rng *rng) {
    AMEIR_ASSERT(b->n > 0 && b->n <= net->B);
    int S = n_stages(net);
    fwd_task t = {net, b->n, 0, 0};
    while (t.s0 < S) {
        size_t len = 0;
        uint8_t *mask = NULL;
        float *y = NULL;
        t.s1 = t.s0;
        while (t.s1 < S && !(train && p > 0 && (y = dropout_after(net, t.s1, b->n, &len, &mask))))
            t.s1++;
        t.s1 = t.s1 < S ? t.s1 + 1 : S;
        ameir_net_pool_run_(net->pool, run_stages, &t);
        if (y)
            ameir_dropout_forward(y, mask, y, len, p, rng);
        t.s0 = t.s1;
    }
}

void ameir_net_predict(ameir_net *net, const ameir_batch *b, float *logits) {
    ameir_net_gather_(net, b);
    ameir_net_forward_(net, b, 0, 0.0f, NULL);
    memcpy(logits, net->logits, (size_t)b->n * sizeof(float));
}

/* ---- candidates sharing a history (seq evaluation) ----
 * The rows of a group differ only in their x, so the history is embedded, run through the
 * blocks and (unless the aggregate looks at the target) aggregated once per group, then
 * copied to the group's rows; everything per row runs on the same rows, split over the
 * same threads, as ameir_net_forward_ would, so every logit is the same bit for bit. */
typedef struct cand_task {
    ameir_net *net;
    int n, groups;
} cand_task;

static int agg_needs_target(const ameir_net *net) { return net->arch.aggregate == AMEIR_AGG_TARGET_ATTENTION; }

/* per group: history embedding, blocks, aggregate; per row: the field embeddings */
static void run_groups(void *arg, int k) {
    cand_task *t = arg;
    ameir_net *net = t->net;
    int r0, nr;
    ameir_net_rows_(net, t->groups, k, &r0, &nr);
    if (nr > 0) {
        embed_hist_rows(net, t->n, r0, nr, k);
        for (int i = 0; i < net->n_blocks; i++)
            block_rows(net, i, r0, nr, k);
        if (!agg_needs_target(net))
            aggregate_rows(net, r0, nr, k);
    }
    ameir_net_rows_(net, t->n, k, &r0, &nr);
    if (nr > 0)
        embed_fields_rows(net, r0, nr, k);
}

/* per row: target attention, MLP input, hidden layers, output */
static void run_candidate_rows(void *arg, int k) {
    cand_task *t = arg;
    ameir_net *net = t->net;
    int r0, nr;
    ameir_net_rows_(net, t->n, k, &r0, &nr);
    if (nr == 0)
        return;
    if (agg_needs_target(net))
        aggregate_rows(net, r0, nr, k);
    mlp_input_rows(net, r0, nr, k);
    for (int j = 0; j < net->n_mlp; j++)
        mlp_layer_rows(net, j, r0, nr, k);
    ameir_linear_forward(net->logits + r0, net->z[net->n_mlp] + (size_t)r0 * net->width[net->n_mlp],
                         T(net, net->out_w), T(net, net->out_b), nr, net->width[net->n_mlp], 1);
}

/* Spread `groups` items of `size` bytes, item j at j, to rows j*per .. j*per+per-1 of the
 * same buffer; from the last group down, so no item is overwritten before it is read
 * (j < j*per for j >= 1, and group 0 stays in place). */
static void spread(void *buf, size_t size, int groups, int per) {
    char *p = buf;
    for (int j = groups - 1; j >= 0; j--)
        for (int c = per - 1; c >= 0; c--) {
            size_t to = (size_t)j * per + c;
            if (to != (size_t)j)
                memcpy(p + to * size, p + (size_t)j * size, size);
        }
}

void ameir_net_predict_candidates(ameir_net *net, const ameir_batch *b, int n_cand, float *logits) {
    AMEIR_ASSERT(b->n > 0 && b->n <= net->B && n_cand > 0 && b->n % n_cand == 0);
    if (!net->has_seq) {
        ameir_net_predict(net, b, logits);
        return;
    }
    int L = net->L, d = net->d;
    cand_task t = {net, b->n, b->n / n_cand};
    gather_rows(net, b, n_cand);
    ameir_net_pool_run_(net->pool, run_groups, &t);
    if (agg_needs_target(net)) {
        spread(net->xs + (size_t)net->n_blocks * net->B * L * d, (size_t)L * d * sizeof(float), t.groups, n_cand);
        spread(net->mask, (size_t)L, t.groups, n_cand);
    } else
        spread(net->beh, (size_t)d * sizeof(float), t.groups, n_cand);
    ameir_net_pool_run_(net->pool, run_candidate_rows, &t);
    memcpy(logits, net->logits, (size_t)b->n * sizeof(float));
}
