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
 * item fields (n, L, w) from the history; and the history mask. */
void ameir_net_gather_(ameir_net *net, const ameir_batch *b) {
    const ameir_schema *s = &net->schema;
    int n = b->n, L = net->L;
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        int w = nf->width;
        int32_t *ids = nf->ids;
        for (int r = 0; r < n; r++)
            memcpy(ids + (size_t)r * w, b->x + (size_t)r * s->x_width + nf->offset, (size_t)w * sizeof *ids);
        if (!nf->is_item)
            continue;
        int32_t *hid = ids + (size_t)n * w;
        size_t np = (size_t)n * L;
        for (size_t q = 0; q < np; q++)
            memcpy(hid + q * w, b->hist + q * s->item_width + nf->item_offset, (size_t)w * sizeof *ids);
    }
    if (net->has_seq) {
        int key = s->fields[s->item_field].item_offset;
        size_t np = (size_t)n * L;
        for (size_t q = 0; q < np; q++)
            net->mask[q] = b->hist[q * s->item_width + key] != 0;
    }
}

static void embed(ameir_net *net, int n) {
    int F = net->F, d = net->d, L = net->L;
    size_t nd = (size_t)n * d;
    float *h0 = net->xs;
    int first_item = 1;
    memset(net->target, 0, nd * sizeof(float));
    for (int f = 0; f < F; f++) {
        net_field *nf = &net->fields[f];
        const float *table = T(net, nf->tensor);
        ameir_embedding_forward(net->tmp, nf->ids, table, n, nf->width, nf->vocab, d);
        for (int r = 0; r < n; r++)
            memcpy(net->fe + ((size_t)r * F + f) * d, net->tmp + (size_t)r * d, (size_t)d * sizeof(float));
        if (!nf->is_item)
            continue;
        for (size_t i = 0; i < nd; i++)
            net->target[i] += net->tmp[i];
        /* a history position: sum of its item fields, looked up in the same tables */
        const int32_t *hid = nf->ids + (size_t)n * nf->width;
        if (first_item) {
            ameir_embedding_forward(h0, hid, table, n * L, nf->width, nf->vocab, d);
            first_item = 0;
        } else {
            ameir_embedding_forward(net->tmp, hid, table, n * L, nf->width, nf->vocab, d);
            size_t m = (size_t)n * L * d;
            for (size_t i = 0; i < m; i++)
                h0[i] += net->tmp[i];
        }
    }
    if (!net->has_seq)
        return;
    /* padding positions are zero whatever their other item fields say; real positions get
     * the position embedding counted back from the most recent event (L-1 -> row 0) */
    const float *pos = net->pos_emb >= 0 ? T(net, net->pos_emb) : NULL;
    for (int r = 0; r < n; r++)
        for (int l = 0; l < L; l++) {
            float *x = h0 + ((size_t)r * L + l) * d;
            if (!net->mask[(size_t)r * L + l])
                memset(x, 0, (size_t)d * sizeof(float));
            else if (pos)
                for (int c = 0; c < d; c++)
                    x[c] += pos[(size_t)(L - 1 - l) * d + c];
        }
}

static void block_forward(ameir_net *net, int i, int n, int train, float p, ameir_rng *rng) {
    net_block *bl = &net->blocks[i];
    int L = net->L, d = net->d;
    size_t m = (size_t)n * L * d;
    const float *x = net->xs + (size_t)i * net->B * L * d;
    float *y = net->xs + (size_t)(i + 1) * net->B * L * d;
    if (bl->spec.op == AMEIR_OP_ZERO) {
        memcpy(y, x, m * sizeof(float));
        return;
    }
    const float *in = x;
    if (bl->ln_w >= 0) {
        ameir_layernorm_forward(bl->normed, bl->mean, bl->rstd, x, T(net, bl->ln_w), T(net, bl->ln_b), net->mask,
                                n * L, d);
        in = bl->normed;
    }
    const uint8_t *mask = net->mask;
    switch (bl->spec.op) {
    case AMEIR_OP_CONV:
        ameir_conv1d_forward(bl->o, in, T(net, bl->w[0]), T(net, bl->w[1]), mask, n, L, d, bl->spec.option);
        break;
    case AMEIR_OP_GRU:
        ameir_gru_forward(bl->o, bl->opact, in, T(net, bl->w[0]), T(net, bl->w[1]), T(net, bl->w[2]),
                          T(net, bl->w[3]), mask, n, L, d);
        break;
    case AMEIR_OP_AVGPOOL:
        ameir_avgpool_forward(bl->o, in, mask, n, L, d);
        break;
    case AMEIR_OP_MAXPOOL:
        ameir_maxpool_forward(bl->o, bl->argmax, in, mask, n, L, d);
        break;
    case AMEIR_OP_ATTENTION:
        ameir_attention_forward(bl->o, bl->opact, in, T(net, bl->w[0]), T(net, bl->w[1]), T(net, bl->w[2]),
                                T(net, bl->w[3]), mask, n, L, d, bl->spec.option);
        break;
    default:
        AMEIR_ASSERT(0 && "unknown op");
    }
    /* act(0) = 0 for every block activation, so padding positions stay zero */
    ameir_act_forward(y, bl->o, m, bl->spec.act);
    for (size_t k = 0; k < m; k++)
        y[k] += x[k];
    if (train && p > 0)
        ameir_dropout_forward(y, bl->drop, y, m, p, rng);
}

static void aggregate(ameir_net *net, int n) {
    const float *h = net->xs + (size_t)net->n_blocks * net->B * net->L * net->d;
    switch (net->arch.aggregate) {
    case AMEIR_AGG_TARGET_ATTENTION:
        ameir_din_forward(net->beh, net->dinact, h, net->target, T(net, net->din[0]), T(net, net->din[1]),
                          T(net, net->din[2]), T(net, net->din[3]), net->mask, n, net->L, net->d);
        break;
    case AMEIR_AGG_MEAN:
        ameir_masked_mean_forward(net->beh, h, net->mask, n, net->L, net->d);
        break;
    case AMEIR_AGG_LAST:
        ameir_last_forward(net->beh, h, net->mask, n, net->L, net->d);
        break;
    default:
        AMEIR_ASSERT(0 && "unknown aggregate");
    }
}

/* z0 = [fe (F*d), behaviour (d), interaction k (d) ...] per row */
static void mlp_input(ameir_net *net, int n) {
    int d = net->d, F = net->F, D0 = net->D0;
    size_t fd = (size_t)F * d * sizeof(float), dd = (size_t)d * sizeof(float);
    float *z0 = net->z[0];
    for (int r = 0; r < n; r++)
        memcpy(z0 + (size_t)r * D0, net->fe + (size_t)r * F * d, fd);
    int col = F * d;
    if (net->has_seq) {
        for (int r = 0; r < n; r++)
            memcpy(z0 + (size_t)r * D0 + col, net->beh + (size_t)r * d, dd);
        col += d;
    }
    for (int k = 0; k < net->n_inter; k++, col += d) {
        ameir_hadamard_forward(net->tmp, net->fe, net->inter_fields[k], net->inter_order[k], n, F, d);
        for (int r = 0; r < n; r++)
            memcpy(z0 + (size_t)r * D0 + col, net->tmp + (size_t)r * d, dd);
    }
}

static void mlp_forward(ameir_net *net, int n, int train, float p, ameir_rng *rng) {
    for (int j = 0; j < net->n_mlp; j++) {
        int in = net->width[j], out = net->width[j + 1];
        size_t m = (size_t)n * out;
        ameir_linear_forward(net->u[j], net->z[j], T(net, net->mlp_w[j]), T(net, net->mlp_b[j]), n, in, out);
        ameir_act_forward(net->z[j + 1], net->u[j], m, net->arch.mlp[j].act);
        if (j == net->n_mlp - 1 && net->sc_w >= 0) {
            /* the shortcut joins after the last hidden activation (and before its dropout) */
            ameir_linear_forward(net->tmp, net->z[0], T(net, net->sc_w), T(net, net->sc_b), n, net->D0, out);
            for (size_t k = 0; k < m; k++)
                net->z[j + 1][k] += net->tmp[k];
        }
        if (train && p > 0)
            ameir_dropout_forward(net->z[j + 1], net->mdrop[j], net->z[j + 1], m, p, rng);
    }
    ameir_linear_forward(net->logits, net->z[net->n_mlp], T(net, net->out_w), T(net, net->out_b), n,
                         net->width[net->n_mlp], 1);
}

void ameir_net_forward_(ameir_net *net, const ameir_batch *b, int train, float p, ameir_rng *rng) {
    AMEIR_ASSERT(b->n > 0 && b->n <= net->B);
    int n = b->n;
    embed(net, n);
    if (net->has_seq) {
        for (int i = 0; i < net->n_blocks; i++)
            block_forward(net, i, n, train, p, rng);
        aggregate(net, n);
    }
    mlp_input(net, n);
    mlp_forward(net, n, train, p, rng);
}

void ameir_net_predict(ameir_net *net, const ameir_batch *b, float *logits) {
    ameir_net_gather_(net, b);
    ameir_net_forward_(net, b, 0, 0.0f, NULL);
    memcpy(logits, net->logits, (size_t)b->n * sizeof(float));
}
