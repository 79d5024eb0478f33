/* The backward pass and Adam of a network: the forward of net_forward.c undone in reverse.
 * The layer backward functions accumulate, so every activation gradient buffer is zeroed
 * (memset, no allocation) before the layer that writes it. */
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

/* MLP backward: from dlogits down to gz[0] = d loss / d z0. */
static void mlp_backward(ameir_net *net, int n, int train, float p) {
    int last = net->n_mlp;
    zero(net->gz[last], (size_t)n * net->width[last]);
    ameir_linear_backward(net->gz[last], G(net, net->out_w), G(net, net->out_b), net->glogits, net->z[last],
                          T(net, net->out_w), n, net->width[last], 1);
    if (last > 0)
        zero(net->gz[0], (size_t)n * net->D0);
    for (int j = last - 1; j >= 0; j--) {
        int in = net->width[j], out = net->width[j + 1];
        size_t m = (size_t)n * out;
        const float *g = net->gz[j + 1];
        if (train && p > 0) {
            zero(net->gdrop, m);
            ameir_dropout_backward(net->gdrop, g, net->mdrop[j], m, p);
            g = net->gdrop;
        }
        if (j == last - 1 && net->sc_w >= 0)
            ameir_linear_backward(net->gz[0], G(net, net->sc_w), G(net, net->sc_b), g, net->z[0], T(net, net->sc_w),
                                  n, net->D0, out);
        zero(net->gu, m);
        ameir_act_backward(net->gu, g, net->u[j], m, net->arch.mlp[j].act);
        if (j > 0)
            zero(net->gz[j], (size_t)n * in);
        ameir_linear_backward(net->gz[j], G(net, net->mlp_w[j]), G(net, net->mlp_b[j]), net->gu, net->z[j],
                              T(net, net->mlp_w[j]), n, in, out);
    }
}

/* Split d z0 into the field embeddings, the behaviour vector and the interactions. */
static void mlp_input_backward(ameir_net *net, int n) {
    int d = net->d, F = net->F, D0 = net->D0;
    size_t fd = (size_t)F * d * sizeof(float), dd = (size_t)d * sizeof(float);
    const float *gz0 = net->gz[0];
    for (int r = 0; r < n; r++)
        memcpy(net->gfe + (size_t)r * F * d, gz0 + (size_t)r * D0, fd);
    int col = F * d;
    if (net->has_seq) {
        for (int r = 0; r < n; r++)
            memcpy(net->gbeh + (size_t)r * d, gz0 + (size_t)r * D0 + col, dd);
        col += d;
    }
    for (int k = 0; k < net->n_inter; k++, col += d) {
        for (int r = 0; r < n; r++)
            memcpy(net->tmp + (size_t)r * d, gz0 + (size_t)r * D0 + col, dd);
        ameir_hadamard_backward(net->gfe, net->tmp, net->fe, net->inter_fields[k], net->inter_order[k], n, F, d);
    }
}

/* Behaviour: aggregate, then the blocks in reverse; leaves d loss / d h0 in *gh0. */
static float *behaviour_backward(ameir_net *net, int n, int train, float p) {
    int L = net->L, d = net->d;
    size_t m = (size_t)n * L * d, stride = (size_t)net->B * L * d;
    const float *h = net->xs + (size_t)net->n_blocks * stride;
    float *gx = net->gx[0];
    zero(gx, m);
    switch (net->arch.aggregate) {
    case AMEIR_AGG_TARGET_ATTENTION:
        zero(net->gt, (size_t)n * d);
        ameir_din_backward(gx, net->gt, G(net, net->din[0]), G(net, net->din[1]), G(net, net->din[2]),
                           G(net, net->din[3]), net->gbeh, net->dinact, h, net->target, T(net, net->din[0]),
                           T(net, net->din[2]), net->mask, n, L, d);
        /* t is the sum of the item fields' embeddings */
        for (int f = 0; f < net->F; f++)
            if (net->fields[f].is_item)
                for (int r = 0; r < n; r++)
                    for (int c = 0; c < d; c++)
                        net->gfe[((size_t)r * net->F + f) * d + c] += net->gt[(size_t)r * d + c];
        break;
    case AMEIR_AGG_MEAN:
        ameir_masked_mean_backward(gx, net->gbeh, net->mask, n, L, d);
        break;
    case AMEIR_AGG_LAST:
        ameir_last_backward(gx, net->gbeh, net->mask, n, L, d);
        break;
    default:
        AMEIR_ASSERT(0 && "unknown aggregate");
    }
    int cur = 0;
    for (int i = net->n_blocks - 1; i >= 0; i--) {
        net_block *bl = &net->blocks[i];
        if (bl->spec.op == AMEIR_OP_ZERO)
            continue; /* y = x: the gradient passes unchanged */
        const float *x = net->xs + (size_t)i * stride;
        const float *gy = net->gx[cur];
        if (train && p > 0) {
            zero(net->gy, m);
            ameir_dropout_backward(net->gy, gy, bl->drop, m, p);
            gy = net->gy;
        }
        /* y = x + act(o): x gets gy as it is, the branch gets act'(o) gy */
        float *gnext = net->gx[1 - cur];
        memcpy(gnext, gy, m * sizeof(float));
        zero(net->go, m);
        ameir_act_backward(net->go, gy, bl->o, m, bl->spec.act);
        const float *in = bl->ln_w >= 0 ? bl->normed : x;
        float *gin = gnext;
        if (bl->ln_w >= 0) {
            gin = net->gin;
            zero(gin, m);
        }
        const uint8_t *mask = net->mask;
        switch (bl->spec.op) {
        case AMEIR_OP_CONV:
            ameir_conv1d_backward(gin, G(net, bl->w[0]), G(net, bl->w[1]), net->go, in, T(net, bl->w[0]), mask, n, L,
                                  d, bl->spec.option);
            break;
        case AMEIR_OP_GRU:
            ameir_gru_backward(gin, G(net, bl->w[0]), G(net, bl->w[1]), G(net, bl->w[2]), G(net, bl->w[3]), net->go,
                               bl->opact, in, T(net, bl->w[0]), T(net, bl->w[1]), mask, n, L, d);
            break;
        case AMEIR_OP_AVGPOOL:
            ameir_avgpool_backward(gin, net->go, mask, n, L, d);
            break;
        case AMEIR_OP_MAXPOOL:
            ameir_maxpool_backward(gin, net->go, bl->argmax, n, L, d);
            break;
        case AMEIR_OP_ATTENTION:
            ameir_attention_backward(gin, G(net, bl->w[0]), G(net, bl->w[1]), G(net, bl->w[2]), G(net, bl->w[3]),
                                     net->go, bl->opact, in, T(net, bl->w[0]), T(net, bl->w[2]), mask, n, L, d,
                                     bl->spec.option);
            break;
        default:
            AMEIR_ASSERT(0 && "unknown op");
        }
        if (bl->ln_w >= 0)
            ameir_layernorm_backward(gnext, G(net, bl->ln_w), G(net, bl->ln_b), gin, x, T(net, bl->ln_w), bl->mean,
                                     bl->rstd, mask, n * L, d);
        cur = 1 - cur;
    }
    return net->gx[cur];
}

/* d h0 into the position embedding and the item tables; d fe into every table. */
static void embed_backward(ameir_net *net, int n, float *gh0) {
    int F = net->F, d = net->d, L = net->L;
    if (gh0) {
        /* padding positions were forced to zero in the forward pass: no gradient there */
        float *gpos = net->pos_emb >= 0 ? G(net, net->pos_emb) : NULL;
        for (int r = 0; r < n; r++)
            for (int l = 0; l < L; l++) {
                float *g = gh0 + ((size_t)r * L + l) * d;
                if (!net->mask[(size_t)r * L + l])
                    zero(g, (size_t)d);
                else if (gpos)
                    for (int c = 0; c < d; c++)
                        gpos[(size_t)(L - 1 - l) * d + c] += g[c];
            }
    }
    for (int f = 0; f < F; f++) {
        net_field *nf = &net->fields[f];
        float *gtab = G(net, nf->tensor);
        for (int r = 0; r < n; r++)
            memcpy(net->tmp + (size_t)r * d, net->gfe + ((size_t)r * F + f) * d, (size_t)d * sizeof(float));
        ameir_embedding_backward(gtab, net->tmp, nf->ids, n, nf->width, nf->vocab, d);
        if (nf->is_item && gh0)
            ameir_embedding_backward(gtab, gh0, nf->ids + (size_t)n * nf->width, n * L, nf->width, nf->vocab, d);
    }
}

float ameir_net_forward_backward(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng,
                                 float *logits) {
    int n = b->n;
    float p = o->dropout;
    ameir_net_gather_(net, b);
    zero_grads_and_touch(net, n);
    ameir_net_forward_(net, b, 1, p, rng);
    if (logits)
        memcpy(logits, net->logits, (size_t)n * sizeof(float));
    float loss = ameir_bce_forward(net->logits, b->label, n);
    zero(net->glogits, (size_t)n);
    ameir_bce_backward(net->glogits, net->logits, b->label, n, 1.0f);
    mlp_backward(net, n, 1, p);
    mlp_input_backward(net, n);
    float *gh0 = net->has_seq ? behaviour_backward(net, n, 1, p) : NULL;
    embed_backward(net, n, gh0);
    if (o->l2 > 0)
        for (int f = 0; f < net->F; f++) {
            net_field *nf = &net->fields[f];
            loss += ameir_l2_rows(G(net, nf->tensor), T(net, nf->tensor), nf->rows, nf->nrows, net->d, o->l2);
        }
    return loss;
}

void ameir_net_adam_step(ameir_net *net, const ameir_train_opts *o) {
    ameir_params *p = &net->params;
    ameir_adam_opts a = ameir_net_adam_opts_(o);
    int64_t t = ++p->step;
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        size_t off = p->tensors[nf->tensor].offset;
        ameir_adam_rows(p->data + off, p->m + off, p->v + off, p->grad + off, nf->rows, nf->nrows, net->d, &a, t);
    }
    /* the dense tensors are one range; the alignment gaps between them stay 0 */
    size_t db = net->dense_begin;
    if (db < p->total)
        ameir_adam_dense(p->data + db, p->m + db, p->v + db, p->grad + db, p->total - db, &a, t);
}

float ameir_net_train_step(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng) {
    float loss = ameir_net_forward_backward(net, b, o, rng, NULL);
    ameir_net_adam_step(net, o);
    return loss;
}
