/* The backward pass and Adam of a network: the forward of net_forward.c undone in reverse.
 * The layer backward functions accumulate, so every activation gradient buffer is zeroed
 * (memset, no allocation) before the layer that writes it; an activation's gradient is
 * written (ameir_act_grad) where it is the buffer's first writer. */
#include <string.h>

#include "ameir/error.h"
#include "net_internal.h"

#define T(net, i) ameir_params_data(&(net)->params, (i))
#define G(net, i) ameir_params_grad(&(net)->params, (i))

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

/* Gradients are zero outside the rows of the current batch: the dense block is cleared
 * whole, an embedding table only where the previous batch wrote (its touched rows). */
static void zero_grads_and_touch(ameir_net *net, int n) {
    ameir_params *p = &net->params;
    int d = net->d;
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        float *g = G(net, nf->tensor);
        for (int k = 0; k < nf->nrows; k++)
            zero(g + (size_t)nf->rows[k] * d, (size_t)d);
        size_t nid = (size_t)n * nf->width * (nf->is_item ? 1 + net->L : 1);
        nf->nrows = ameir_embedding_touched_rows(nf->rows, net->seen, nf->ids, nid, nf->vocab);
        AMEIR_ASSERT(nf->nrows <= nf->rows_cap);
    }
    zero(p->grad + net->dense_begin, p->total - net->dense_begin);
}

#define GK(net, i, k) ameir_net_grad_((net), (i), (k))

/* MLP backward on rows [r0, r0+nr): from dlogits down to gz[0] = d loss / d z0. */
static void mlp_backward_rows(ameir_net *net, int r0, int nr, int k, float p) {
    int last = net->n_mlp;
    float *gz0 = net->gz[0] + (size_t)r0 * net->D0;
    const float *z0 = net->z[0] + (size_t)r0 * net->D0;
    float *g = net->gz[last] + (size_t)r0 * net->width[last];
    zero(g, (size_t)nr * net->width[last]);
    ameir_linear_backward(g, GK(net, net->out_w, k), GK(net, net->out_b, k), net->glogits + r0,
                          net->z[last] + (size_t)r0 * net->width[last], T(net, net->out_w), nr, net->width[last], 1);
    if (last > 0)
        zero(gz0, (size_t)nr * net->D0);
    for (int j = last - 1; j >= 0; j--) {
        int in = net->width[j], out = net->width[j + 1];
        size_t m = (size_t)nr * out;
        const float *gout = net->gz[j + 1] + (size_t)r0 * out;
        if (p > 0) { /* the mask is per element, so its backward is row-parallel */
            float *gd = net->gdrop + (size_t)r0 * net->wmax;
            zero(gd, m);
            ameir_dropout_backward(gd, gout, net->mdrop[j] + (size_t)r0 * out, m, p);
            gout = gd;
        }
        if (j == last - 1 && net->se[0] >= 0) {
            /* shortcut = W se(z0) + b: the projection's input gradient (scratch), then se's */
            float *gx = ameir_net_scratch_(net, k);
            zero(gx, (size_t)nr * net->D0);
            ameir_linear_backward(gx, GK(net, net->sc_w, k), GK(net, net->sc_b, k), gout,
                                  net->se_x + (size_t)r0 * net->D0, T(net, net->sc_w), nr, net->D0, out);
            ameir_se_backward(gz0, GK(net, net->se[0], k), GK(net, net->se[1], k), GK(net, net->se[2], k),
                              GK(net, net->se[3], k), gx, net->se_act + (size_t)r0 * (2 * net->se_S + net->se_R), z0,
                              T(net, net->se[0]), T(net, net->se[2]), nr, net->se_S, net->d, net->se_R);
        } else if (j == last - 1 && net->sc_w >= 0)
            ameir_linear_backward(gz0, GK(net, net->sc_w, k), GK(net, net->sc_b, k), gout, z0, T(net, net->sc_w), nr,
                                  net->D0, out);
        float *gu = net->gu + (size_t)r0 * net->wmax;
        ameir_act_grad(gu, gout, net->u[j] + (size_t)r0 * out, m, net->arch.mlp[j].act);
        float *gin = net->gz[j] + (size_t)r0 * in;
        if (j > 0)
            zero(gin, (size_t)nr * in);
        ameir_linear_backward(gin, GK(net, net->mlp_w[j], k), GK(net, net->mlp_b[j], k), gu,
                              net->z[j] + (size_t)r0 * in, T(net, net->mlp_w[j]), nr, in, out);
    }
}

/* Split d z0 into the field embeddings, the behaviour vector and the interactions. */
static void mlp_input_backward_rows(ameir_net *net, int r0, int nr, int k) {
    int d = net->d, F = net->F, D0 = net->D0;
    size_t fd = (size_t)F * d * sizeof(float), dd = (size_t)d * sizeof(float);
    const float *gz0 = net->gz[0] + (size_t)r0 * D0;
    float *gfe = net->gfe + (size_t)r0 * F * d, *tmp = ameir_net_scratch_(net, k);
    for (int r = 0; r < nr; r++)
        memcpy(gfe + (size_t)r * F * d, gz0 + (size_t)r * D0, fd);
    int col = F * d;
    if (net->has_seq) {
        for (int r = 0; r < nr; r++)
            memcpy(net->gbeh + (size_t)(r0 + r) * d, gz0 + (size_t)r * D0 + col, dd);
        col += d;
    }
    for (int q = 0; q < net->n_inter; q++, col += d) {
        for (int r = 0; r < nr; r++)
            memcpy(tmp + (size_t)r * d, gz0 + (size_t)r * D0 + col, dd);
        ameir_hadamard_backward(gfe, tmp, net->fe + (size_t)r0 * F * d, net->inter_fields[q], net->inter_order[q], nr,
                                F, d);
    }
}

/* Behaviour on rows [r0, r0+nr): aggregate, then the blocks in reverse; returns which of
 * gx[0], gx[1] holds d loss / d h0 (the same for every thread). */
static int behaviour_backward_rows(ameir_net *net, int r0, int nr, int k, float p) {
    int L = net->L, d = net->d, F = net->F;
    size_t off = (size_t)r0 * L * d, m = (size_t)nr * L * d, stride = (size_t)net->B * L * d;
    const float *h = net->xs + (size_t)net->n_blocks * stride + off;
    const uint8_t *mask = net->mask + (size_t)r0 * L;
    const float *gbeh = net->gbeh + (size_t)r0 * d;
    float *gx = net->gx[0] + off;
    zero(gx, m);
    switch (net->arch.aggregate) {
    case AMEIR_AGG_TARGET_ATTENTION: {
        float *gt = net->gt + (size_t)r0 * d;
        zero(gt, (size_t)nr * d);
        ameir_din_backward(gx, gt, GK(net, net->din[0], k), GK(net, net->din[1], k), GK(net, net->din[2], k),
                           GK(net, net->din[3], k), gbeh, net->dinact + (size_t)k * net->dinact_stride, h,
                           net->target + (size_t)r0 * d, T(net, net->din[0]), T(net, net->din[2]), mask, nr, L, d);
        /* t is the sum of the item fields' embeddings */
        for (int f = 0; f < F; f++)
            if (net->fields[f].is_item)
                for (int r = 0; r < nr; r++)
                    for (int c = 0; c < d; c++)
                        net->gfe[((size_t)(r0 + r) * F + f) * d + c] += gt[(size_t)r * d + c];
        break;
    }
    case AMEIR_AGG_MEAN:
        ameir_masked_mean_backward(gx, gbeh, mask, nr, L, d);
        break;
    case AMEIR_AGG_LAST:
        ameir_last_backward(gx, gbeh, mask, nr, L, d);
        break;
    default:
        AMEIR_ASSERT(0 && "unknown aggregate");
    }
    int cur = 0;
    for (int i = net->n_blocks - 1; i >= 0; i--) {
        net_block *bl = &net->blocks[i];
        if (bl->spec.op == AMEIR_OP_ZERO)
            continue; /* y = x: the gradient passes unchanged */
        const float *x = net->xs + (size_t)i * stride + off;
        const float *gy = net->gx[cur] + off;
        if (p > 0) {
            float *gd = net->gy + off;
            zero(gd, m);
            ameir_dropout_backward(gd, gy, bl->drop + off, m, p);
            gy = gd;
        }
        /* y = x + act(o): x gets gy as it is, the branch gets act'(o) gy */
        float *gnext = net->gx[1 - cur] + off, *go = net->go + off;
        memcpy(gnext, gy, m * sizeof(float));
        ameir_act_grad(go, gy, bl->o + off, m, bl->spec.act);
        const float *in = bl->ln_w >= 0 ? bl->normed + off : x;
        float *gin = gnext;
        if (bl->ln_w >= 0) {
            gin = net->gin + off;
            zero(gin, m);
        }
        float *act = bl->opact ? bl->opact + (size_t)k * bl->opact_stride : NULL;
        switch (bl->spec.op) {
        case AMEIR_OP_CONV:
            ameir_conv1d_backward(gin, GK(net, bl->w[0], k), GK(net, bl->w[1], k), go, in, T(net, bl->w[0]), mask, nr,
                                  L, d, bl->spec.option);
            break;
        case AMEIR_OP_GRU:
            ameir_gru_backward(gin, GK(net, bl->w[0], k), GK(net, bl->w[1], k), GK(net, bl->w[2], k),
                               GK(net, bl->w[3], k), go, act, in, T(net, bl->w[0]), T(net, bl->w[1]), mask, nr, L, d);
            break;
        case AMEIR_OP_AVGPOOL:
            ameir_avgpool_backward(gin, go, mask, nr, L, d);
            break;
        case AMEIR_OP_MAXPOOL:
            ameir_maxpool_backward(gin, go, bl->argmax + off, nr, L, d);
            break;
        case AMEIR_OP_ATTENTION:
            ameir_attention_backward(gin, GK(net, bl->w[0], k), GK(net, bl->w[1], k), GK(net, bl->w[2], k),
                                     GK(net, bl->w[3], k), go, act, in, T(net, bl->w[0]), T(net, bl->w[2]), mask, nr,
                                     L, d, bl->spec.option);
            break;
        default:
            AMEIR_ASSERT(0 && "unknown op");
        }
        if (bl->ln_w >= 0)
            ameir_layernorm_backward(gnext, GK(net, bl->ln_w, k), GK(net, bl->ln_b, k), gin, x, T(net, bl->ln_w),
                                     bl->mean + (size_t)r0 * L, bl->rstd + (size_t)r0 * L, mask, nr * L, d);
        cur = 1 - cur;
    }
    /* padding positions were forced to zero in the forward pass: no gradient there */
    float *gh0 = net->gx[cur] + off;
    float *gpos = net->pos_emb >= 0 ? GK(net, net->pos_emb, k) : NULL;
    for (int r = 0; r < nr; r++)
        for (int l = 0; l < L; l++) {
            float *g = gh0 + ((size_t)r * L + l) * d;
            if (!mask[(size_t)r * L + l])
                zero(g, (size_t)d);
            else if (gpos)
                for (int c = 0; c < d; c++)
                    gpos[(size_t)(L - 1 - l) * d + c] += g[c];
        }
    return cur;
}

typedef struct bwd_task {
    ameir_net *net;
    int n;
    float p;
    int gh0; /* out: index of the gx buffer holding d loss / d h0 */
} bwd_task;

static void backward_rows(void *arg, int k) {
    bwd_task *t = arg;
    ameir_net *net = t->net;
    if (k > 0) /* this thread's weight gradients start from zero */
        zero(net->shadow + (size_t)(k - 1) * net->dense_size, net->dense_size);
    int r0, nr;
    ameir_net_rows_(net, t->n, k, &r0, &nr);
    if (nr == 0)
        return;
    mlp_backward_rows(net, r0, nr, k, t->p);
    mlp_input_backward_rows(net, r0, nr, k);
    if (net->has_seq) {
        int cur = behaviour_backward_rows(net, r0, nr, k, t->p);
        if (k == 0)
            t->gh0 = cur;
    }
}

/* grad[dense] += shadow_1 + ... + shadow_{T-1}, in that order; threads take element ranges. */
static void reduce_rows(void *arg, int k) {
    ameir_net *net = arg;
    size_t n = net->dense_size, a = n * (size_t)k / (size_t)net->T, b = n * (size_t)(k + 1) / (size_t)net->T;
    float *g = net->params.grad + net->dense_begin;
    for (int q = 1; q < net->T; q++) {
        const float *s = net->shadow + (size_t)(q - 1) * n;
        for (size_t i = a; i < b; i++)
            g[i] += s[i];
    }
}

/* d fe and d h0 into the tables (serial: rows of different batch rows collide), in row
 * chunks through thread 0's scratch. */
static void embed_backward(ameir_net *net, int n, const float *gh0) {
    int F = net->F, d = net->d, L = net->L;
    float *tmp = ameir_net_scratch_(net, 0);
    for (int f = 0; f < F; f++) {
        net_field *nf = &net->fields[f];
        float *gtab = G(net, nf->tensor);
        for (int r0 = 0; r0 < n; r0 += net->chunk) {
            int nr = n - r0 < net->chunk ? n - r0 : net->chunk;
            for (int r = 0; r < nr; r++)
                memcpy(tmp + (size_t)r * d, net->gfe + ((size_t)(r0 + r) * F + f) * d, (size_t)d * sizeof(float));
            ameir_embedding_backward(gtab, tmp, nf->ids + (size_t)r0 * nf->width, nr, nf->width, nf->vocab, d);
        }
        if (nf->is_item && gh0)
            ameir_embedding_backward(gtab, gh0, nf->ids + (size_t)n * nf->width, n * L, nf->width, nf->vocab, d);
    }
}

float ameir_net_forward_backward(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng,
                                 float *logits) {
    return ameir_net_forward_backward_scaled_(net, b, o, rng, logits, 1.0f);
}

float ameir_net_forward_backward_scaled_(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng,
                                         float *logits, float scale) {
    int n = b->n;
    float p = o->dropout;
    ameir_net_gather_(net, b);
    zero_grads_and_touch(net, n);
    ameir_net_forward_(net, b, 1, p, rng);
    if (logits)
        memcpy(logits, net->logits, (size_t)n * sizeof(float));
    float loss = ameir_bce_forward(net->logits, b->label, n);
    zero(net->glogits, (size_t)n);
    ameir_bce_backward(net->glogits, net->logits, b->label, n, scale);
    bwd_task t = {net, n, p, 0};
    ameir_net_pool_run_(net->pool, backward_rows, &t);
    if (net->T > 1)
        ameir_net_pool_run_(net->pool, reduce_rows, net);
    embed_backward(net, n, net->has_seq ? net->gx[t.gh0] : NULL);
    if (o->l2 > 0)
        for (int f = 0; f < net->F; f++) {
            net_field *nf = &net->fields[f];
            loss += ameir_l2_rows(G(net, nf->tensor), T(net, nf->tensor), nf->rows, nf->nrows, net->d, o->l2);
        }
    return loss;
}

typedef struct adam_task {
    ameir_net *net;
    ameir_adam_opts a;
    int64_t t;
} adam_task;

void ameir_net_adam_part_(ameir_net *net, const ameir_adam_opts *a, int64_t t, int k, int K, size_t lo, size_t hi) {
    ameir_params *p = &net->params;
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        size_t off = p->tensors[nf->tensor].offset;
        int r0 = ameir_share_begin_(nf->nrows, k, K), r1 = ameir_share_begin_(nf->nrows, k + 1, K);
        if (r1 > r0)
            ameir_adam_rows(p->data + off, p->m + off, p->v + off, p->grad + off, nf->rows + r0, r1 - r0, net->d, a, t);
    }
    lo += net->dense_begin, hi += net->dense_begin;
    if (hi > lo)
        ameir_adam_dense(p->data + lo, p->m + lo, p->v + lo, p->grad + lo, hi - lo, a, t);
}

/* Adam is elementwise: thread k takes its share of each table's touched rows and of the
 * dense range (one range: the alignment gaps between its tensors stay 0), so the result
 * does not depend on the split. */
static void adam_rows_task(void *arg, int k) {
    adam_task *at = arg;
    size_t T = (size_t)at->net->T, n = at->net->dense_size;
    ameir_net_adam_part_(at->net, &at->a, at->t, k, (int)T, n * (size_t)k / T, n * (size_t)(k + 1) / T);
}

void ameir_net_adam_step(ameir_net *net, const ameir_train_opts *o) {
    adam_task at = {net, ameir_net_adam_opts_(o), ++net->params.step};
    ameir_net_pool_run_(net->pool, adam_rows_task, &at);
}

float ameir_net_train_step(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng) {
    float loss = ameir_net_forward_backward(net, b, o, rng, NULL);
    ameir_net_adam_step(net, o);
    return loss;
}
