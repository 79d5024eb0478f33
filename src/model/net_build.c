/* Building a network from (arch, schema, d, max_batch): the parameter table, PyTorch-like
 * initialisation and every activation buffer, all sized once (PRODUCT.md section 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "net_internal.h"

ameir_train_opts ameir_train_opts_default(void) {
    ameir_train_opts o;
    o.lr = 1e-3f;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    o.dropout = 0.0f;
    o.l2 = 0.0f;
    return o;
}

ameir_adam_opts ameir_net_adam_opts_(const ameir_train_opts *o) {
    ameir_adam_opts a;
    a.lr = o->lr;
    a.beta1 = o->beta1;
    a.beta2 = o->beta2;
    a.eps = o->eps;
    return a;
}

/* ---- the parameter table ---- */

static int add1(ameir_params *p, const char *name, int64_t a, int flags) {
    return ameir_params_add(p, name, 1, &a, flags);
}

static int add2(ameir_params *p, const char *name, int64_t a, int64_t b, int flags) {
    int64_t s[2] = {a, b};
    return ameir_params_add(p, name, 2, s, flags);
}

static int add3(ameir_params *p, const char *name, int64_t a, int64_t b, int64_t c) {
    int64_t s[3] = {a, b, c};
    return ameir_params_add(p, name, 3, s, AMEIR_TENSOR_DENSE);
}

/* snprintf into a tensor name; names are short, so truncation is a bug */
#define NAME(buf, ...) AMEIR_ASSERT(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf)

/* A Linear layer "prefix/weight" (out, in) and "prefix/bias" (out). */
static int add_linear(ameir_params *p, const char *prefix, int out, int in, int *w, int *b) {
    char name[AMEIR_TENSOR_NAME_MAX];
    NAME(name, "%s/weight", prefix);
    AMEIR_TRY(*w = add2(p, name, out, in, AMEIR_TENSOR_DENSE));
    NAME(name, "%s/bias", prefix);
    AMEIR_TRY(*b = add1(p, name, out, AMEIR_TENSOR_DENSE));
    return 0;
}

static int add_block(ameir_net *net, int i) {
    ameir_params *p = &net->params;
    net_block *bl = &net->blocks[i];
    int d = net->d;
    char name[AMEIR_TENSOR_NAME_MAX];
    bl->ln_w = bl->ln_b = -1;
    for (int k = 0; k < 4; k++)
        bl->w[k] = -1;
    if (bl->spec.op == AMEIR_OP_ZERO)
        return 0; /* adds nothing, so it has nothing to normalise either */
    if (bl->spec.norm == AMEIR_NORM_LAYERNORM) {
        NAME(name, "block%d/ln/weight", i);
        AMEIR_TRY(bl->ln_w = add1(p, name, d, AMEIR_TENSOR_DENSE));
        NAME(name, "block%d/ln/bias", i);
        AMEIR_TRY(bl->ln_b = add1(p, name, d, AMEIR_TENSOR_DENSE));
    }
    switch (bl->spec.op) {
    case AMEIR_OP_CONV:
        if (ameir_nn_check_conv(d, bl->spec.option) < 0)
            return ameir_fail(AMEIR_ECONFIG, "network: behavior.blocks[%d]: conv kernel %d with dimension %d", i,
                              bl->spec.option, d);
        NAME(name, "block%d/conv/weight", i);
        AMEIR_TRY(bl->w[0] = add3(p, name, d, d, bl->spec.option));
        NAME(name, "block%d/conv/bias", i);
        AMEIR_TRY(bl->w[1] = add1(p, name, d, AMEIR_TENSOR_DENSE));
        break;
    case AMEIR_OP_GRU:
        NAME(name, "block%d/gru/weight_ih", i);
        AMEIR_TRY(bl->w[0] = add2(p, name, 3 * d, d, AMEIR_TENSOR_DENSE));
        NAME(name, "block%d/gru/weight_hh", i);
        AMEIR_TRY(bl->w[1] = add2(p, name, 3 * d, d, AMEIR_TENSOR_DENSE));
        NAME(name, "block%d/gru/bias_ih", i);
        AMEIR_TRY(bl->w[2] = add1(p, name, 3 * d, AMEIR_TENSOR_DENSE));
        NAME(name, "block%d/gru/bias_hh", i);
        AMEIR_TRY(bl->w[3] = add1(p, name, 3 * d, AMEIR_TENSOR_DENSE));
        break;
    case AMEIR_OP_ATTENTION:
        if (ameir_nn_check_attention(d, bl->spec.option) < 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", ameir_last_error());
            return ameir_fail(AMEIR_ECONFIG, "network: behavior.blocks[%d]: %d heads with dimension %d: %s", i,
                              bl->spec.option, d, why);
        }
        NAME(name, "block%d/attention/in_proj_weight", i);
        AMEIR_TRY(bl->w[0] = add2(p, name, 3 * d, d, AMEIR_TENSOR_DENSE));
        NAME(name, "block%d/attention/in_proj_bias", i);
        AMEIR_TRY(bl->w[1] = add1(p, name, 3 * d, AMEIR_TENSOR_DENSE));
        NAME(name, "block%d/attention/out_proj_weight", i);
        AMEIR_TRY(bl->w[2] = add2(p, name, d, d, AMEIR_TENSOR_DENSE));
        NAME(name, "block%d/attention/out_proj_bias", i);
        AMEIR_TRY(bl->w[3] = add1(p, name, d, AMEIR_TENSOR_DENSE));
        break;
    default:
        break; /* pooling has no weights */
    }
    return 0;
}

/* Embedding tables first, so the dense tensors form one range for a single Adam call. */
static int build_table(ameir_net *net) {
    ameir_params *p = &net->params;
    const ameir_arch *a = &net->arch;
    int d = net->d;
    char name[AMEIR_TENSOR_NAME_MAX];
    for (int f = 0; f < net->F; f++) {
        NAME(name, "emb/%s", net->schema.fields[f].name);
        AMEIR_TRY(net->fields[f].tensor = add2(p, name, net->fields[f].vocab, d, AMEIR_TENSOR_ROWS));
    }
    int first_dense = p->n;
    net->pos_emb = -1;
    for (int k = 0; k < 4; k++)
        net->din[k] = -1;
    if (net->has_seq) {
        if (a->positions)
            AMEIR_TRY(net->pos_emb = add2(p, "pos_emb", net->L, d, AMEIR_TENSOR_DENSE));
        for (int i = 0; i < net->n_blocks; i++)
            AMEIR_TRY(add_block(net, i));
        if (a->aggregate == AMEIR_AGG_TARGET_ATTENTION) {
            AMEIR_TRY(net->din[0] = add2(p, "agg/din/w1", AMEIR_DIN_HIDDEN, 4 * d, AMEIR_TENSOR_DENSE));
            AMEIR_TRY(net->din[1] = add1(p, "agg/din/b1", AMEIR_DIN_HIDDEN, AMEIR_TENSOR_DENSE));
            AMEIR_TRY(net->din[2] = add2(p, "agg/din/w2", 1, AMEIR_DIN_HIDDEN, AMEIR_TENSOR_DENSE));
            AMEIR_TRY(net->din[3] = add1(p, "agg/din/b2", 1, AMEIR_TENSOR_DENSE));
        }
    }
    char prefix[32];
    for (int j = 0; j < net->n_mlp; j++) {
        NAME(prefix, "mlp/%d", j);
        AMEIR_TRY(add_linear(p, prefix, net->width[j + 1], net->width[j], &net->mlp_w[j], &net->mlp_b[j]));
    }
    net->sc_w = net->sc_b = -1;
    for (int k = 0; k < 4; k++)
        net->se[k] = -1;
    if (a->shortcut && net->n_mlp > 0)
        AMEIR_TRY(add_linear(p, "mlp/shortcut", net->width[net->n_mlp], net->D0, &net->sc_w, &net->sc_b));
    if (a->shortcut == AMEIR_SHORTCUT_SE && net->n_mlp > 0) {
        net->se_S = net->D0 / d;
        net->se_R = ameir_se_hidden(net->se_S);
        AMEIR_TRY(add_linear(p, "mlp/se/fc1", net->se_R, net->se_S, &net->se[0], &net->se[1]));
        AMEIR_TRY(add_linear(p, "mlp/se/fc2", net->se_S, net->se_R, &net->se[2], &net->se[3]));
    }
    AMEIR_TRY(add_linear(p, "out", 1, net->width[net->n_mlp], &net->out_w, &net->out_b));
    net->dense_begin = first_dense < p->n ? p->tensors[first_dense].offset : p->total;
    return 0;
}

/* ---- initialisation (PyTorch's default schemes, drawn from our own stream) ---- */

static void fill_uniform(float *x, size_t n, double bound, ameir_rng *rng) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * ameir_rng_uniform(rng) - 1.0) * bound);
}

static void init_tensor(ameir_net *net, int t, double bound, ameir_rng *rng) {
    if (t >= 0)
        fill_uniform(ameir_params_data(&net->params, t), net->params.tensors[t].size, bound, rng);
}

static void init_params(ameir_net *net, uint64_t seed) {
    ameir_params *p = &net->params;
    ameir_rng rng = ameir_rng_stream(seed, 0);
    int d = net->d;
    memset(p->data, 0, p->total * sizeof(float));
    for (int f = 0; f < net->F; f++) {
        float *e = ameir_params_data(p, net->fields[f].tensor);
        size_t n = p->tensors[net->fields[f].tensor].size;
        for (size_t i = (size_t)d; i < n; i++) /* row 0 (padding) stays 0 */
            e[i] = (float)(0.01 * ameir_rng_normal(&rng));
    }
    if (net->pos_emb >= 0) {
        float *e = ameir_params_data(p, net->pos_emb);
        for (size_t i = 0; i < p->tensors[net->pos_emb].size; i++)
            e[i] = (float)(0.01 * ameir_rng_normal(&rng));
    }
    double inv_d = 1.0 / sqrt((double)d);
    for (int i = 0; i < net->n_blocks; i++) {
        net_block *bl = &net->blocks[i];
        if (bl->ln_w >= 0) {
            float *w = ameir_params_data(p, bl->ln_w);
            for (int c = 0; c < d; c++)
                w[c] = 1.0f;
        }
        switch (bl->spec.op) {
        case AMEIR_OP_CONV: { /* fan_in = C_in * K */
            double b = 1.0 / sqrt((double)d * bl->spec.option);
            init_tensor(net, bl->w[0], b, &rng);
            init_tensor(net, bl->w[1], b, &rng);
            break;
        }
        case AMEIR_OP_GRU: /* every GRU tensor uniform(+-1/sqrt(hidden)) */
            for (int k = 0; k < 4; k++)
                init_tensor(net, bl->w[k], inv_d, &rng);
            break;
        case AMEIR_OP_ATTENTION: /* xavier in_proj, zero biases, Linear-like out_proj */
            init_tensor(net, bl->w[0], sqrt(6.0 / (d + 3.0 * d)), &rng);
            init_tensor(net, bl->w[2], inv_d, &rng);
            break;
        default:
            break;
        }
    }
    if (net->din[0] >= 0) {
        init_tensor(net, net->din[0], 1.0 / sqrt(4.0 * d), &rng);
        init_tensor(net, net->din[1], 1.0 / sqrt(4.0 * d), &rng);
        init_tensor(net, net->din[2], 1.0 / sqrt((double)AMEIR_DIN_HIDDEN), &rng);
        init_tensor(net, net->din[3], 1.0 / sqrt((double)AMEIR_DIN_HIDDEN), &rng);
    }
    for (int j = 0; j < net->n_mlp; j++) {
        double b = 1.0 / sqrt((double)net->width[j]);
        init_tensor(net, net->mlp_w[j], b, &rng);
        init_tensor(net, net->mlp_b[j], b, &rng);
    }
    if (net->sc_w >= 0) {
        init_tensor(net, net->sc_w, 1.0 / sqrt((double)net->D0), &rng);
        init_tensor(net, net->sc_b, 1.0 / sqrt((double)net->D0), &rng);
    }
    if (net->se[0] >= 0) { /* Linear's uniform(+-1/sqrt(fan_in)) */
        init_tensor(net, net->se[0], 1.0 / sqrt((double)net->se_S), &rng);
        init_tensor(net, net->se[1], 1.0 / sqrt((double)net->se_S), &rng);
        init_tensor(net, net->se[2], 1.0 / sqrt((double)net->se_R), &rng);
        init_tensor(net, net->se[3], 1.0 / sqrt((double)net->se_R), &rng);
    }
    double b = 1.0 / sqrt((double)net->width[net->n_mlp]);
    init_tensor(net, net->out_w, b, &rng);
    init_tensor(net, net->out_b, b, &rng);
}

/* ---- activation buffers ---- */

/* All float buffers come from one calloc, carved in order; same for ints and bytes. */
typedef struct carver {
    size_t floats, ints, bytes;
    float *f;
    int32_t *i;
    uint8_t *b;
} carver;

static float *take_f(carver *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    float *r = c->f ? c->f + c->floats : NULL;
    c->floats += n;
    return r;
}

static int32_t *take_i(carver *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    int32_t *r = c->i ? c->i + c->ints : NULL;
    c->ints += n;
    return r;
}

static uint8_t *take_b(carver *c, size_t n) {
    n = (n + 63) & ~(size_t)63;
    uint8_t *r = c->b ? c->b + c->bytes : NULL;
    c->bytes += n;
    return r;
}

static size_t max_z(size_t a, size_t b) { return a > b ? a : b; }

/* Called twice: first with NULL bases to count, then to hand out pointers. */
static void carve(ameir_net *net, carver *c) {
    size_t B = (size_t)net->B, L = (size_t)net->L, d = (size_t)net->d, F = (size_t)net->F;
    size_t BLd = B * L * d;
    size_t vmax = 1, wmax = 1;
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        size_t nid = B * (size_t)nf->width * (nf->is_item ? 1 + L : 1);
        nf->ids = take_i(c, nid);
        nf->rows_cap = (int)(nid < (size_t)nf->vocab ? nid : (size_t)nf->vocab);
        nf->rows = take_i(c, (size_t)nf->rows_cap);
        vmax = max_z(vmax, (size_t)nf->vocab);
    }
    net->seen = take_b(c, vmax); /* the first byte block: supernet.c poison_buffers spares it */
    net->fe = take_f(c, B * F * d);
    net->gfe = take_f(c, B * F * d);
    net->target = take_f(c, B * d);
    net->gt = take_f(c, B * d);
    for (int j = 0; j <= net->n_mlp; j++)
        wmax = max_z(wmax, (size_t)net->width[j]);
    size_t T = (size_t)net->T, chunk = (size_t)net->chunk;
    net->wmax = (int)wmax;
    net->tmp_stride = (max_z(max_z(chunk * L * d, chunk * wmax), chunk * d) + 15) & ~(size_t)15;
    net->tmp = take_f(c, T * net->tmp_stride);
    net->dense_size = net->params.total - net->dense_begin;
    net->shadow = T > 1 ? take_f(c, (T - 1) * net->dense_size) : NULL;
    if (net->has_seq) {
        net->mask = take_b(c, B * L);
        net->xs = take_f(c, (size_t)(net->n_blocks + 1) * BLd);
        net->beh = take_f(c, B * d);
        net->gbeh = take_f(c, B * d);
        if (net->din[0] >= 0) {
            net->dinact_stride = (ameir_din_act_size(net->chunk, net->L, net->d) + 15) & ~(size_t)15;
            net->dinact = take_f(c, T * net->dinact_stride);
        }
        net->gx[0] = take_f(c, BLd);
        net->gx[1] = take_f(c, BLd);
        net->gy = take_f(c, BLd);
        net->go = take_f(c, BLd);
        net->gin = take_f(c, BLd);
        for (int i = 0; i < net->n_blocks; i++) {
            net_block *bl = &net->blocks[i];
            if (bl->spec.op == AMEIR_OP_ZERO)
                continue;
            if (bl->ln_w >= 0) {
                bl->normed = take_f(c, BLd);
                bl->mean = take_f(c, B * L);
                bl->rstd = take_f(c, B * L);
            }
            bl->o = take_f(c, BLd);
            bl->opact_stride = 0;
            if (bl->spec.op == AMEIR_OP_GRU)
                bl->opact_stride = ameir_gru_act_size(net->chunk, net->L, net->d);
            if (bl->spec.op == AMEIR_OP_ATTENTION)
                bl->opact_stride = ameir_attention_act_size(net->chunk, net->L, net->d, bl->spec.option);
            bl->opact_stride = (bl->opact_stride + 15) & ~(size_t)15;
            if (bl->opact_stride)
                bl->opact = take_f(c, T * bl->opact_stride);
            if (bl->spec.op == AMEIR_OP_MAXPOOL)
                bl->argmax = take_i(c, BLd);
            bl->drop = take_b(c, BLd);
        }
    }
    for (int j = 0; j <= net->n_mlp; j++) {
        net->z[j] = take_f(c, B * (size_t)net->width[j]);
        net->gz[j] = take_f(c, B * (size_t)net->width[j]);
    }
    for (int j = 0; j < net->n_mlp; j++) {
        net->u[j] = take_f(c, B * (size_t)net->width[j + 1]);
        net->mdrop[j] = take_b(c, B * (size_t)net->width[j + 1]);
    }
    if (net->se[0] >= 0) {
        net->se_x = take_f(c, B * (size_t)net->D0);
        net->se_act = take_f(c, ameir_se_act_size(net->B, net->se_S, net->se_R));
    }
    net->gu = take_f(c, B * wmax);
    net->gdrop = take_f(c, max_z(B * wmax, BLd));
    net->logits = take_f(c, B);
    net->glogits = take_f(c, B);
}

/* a write per page (volatile, so that it is not dropped as a store of calloc's zeros) */
static void touch_pages(void *p, size_t bytes) {
    volatile unsigned char *b = p;
    for (size_t i = 0; i < bytes; i += 4096)
        b[i] = 0;
}

static void free_buffers(ameir_net *net) {
    if (!net->act_borrowed) {
        free(net->act_f);
        free(net->act_i);
        free(net->act_b);
    }
    net->act_f = NULL;
    net->act_i = NULL;
    net->act_b = NULL;
}

/* act_need at the net's thread count; every buffer pointer is left NULL */
static void count_buffers(ameir_net *net) {
    net->chunk = (net->B + net->T - 1) / net->T;
    carver c = {0};
    carve(net, &c);
    net->act_need[0] = c.floats;
    net->act_need[1] = c.ints;
    net->act_need[2] = c.bytes;
}

static int alloc_buffers(ameir_net *net) {
    free_buffers(net);
    count_buffers(net);
    size_t nf = net->act_need[0], ni = net->act_need[1], nb = net->act_need[2];
    carver c = {0};
    c.f = calloc(nf ? nf : 1, sizeof(float));
    c.i = calloc(ni ? ni : 1, sizeof(int32_t));
    c.b = calloc(nb ? nb : 1, 1);
    net->act_f = c.f;
    net->act_i = c.i;
    net->act_b = c.b;
    if (!c.f || !c.i || !c.b)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for the activations of a batch of %d rows", net->B);
    /* touch every page now: first-touch page faults would otherwise land in the first
     * training steps, which matters for the short budgets of a search's first rung */
    touch_pages(c.f, nf * sizeof(float));
    touch_pages(c.i, ni * sizeof(int32_t));
    touch_pages(c.b, nb);
    c.floats = c.ints = c.bytes = 0;
    carve(net, &c);
    return 0;
}

void ameir_net_borrow_buffers_(ameir_net *net, float *f, int32_t *i, uint8_t *b) {
    AMEIR_ASSERT(net->T == 1 && f && i && b);
    free_buffers(net);
    net->act_borrowed = 1;
    net->act_f = f;
    net->act_i = i;
    net->act_b = b;
    carver c = {.f = f, .i = i, .b = b};
    carve(net, &c);
}

/* ---- creation ---- */

static int setup_shapes(ameir_net *net, const ameir_arch *arch, const ameir_schema *schema, int d, int max_batch) {
    const char *o = "network";
    if (d <= 0 || max_batch <= 0)
        return ameir_fail(AMEIR_EINVAL, "%s: dimension %d and batch %d (expected both > 0)", o, d, max_batch);
    if (schema->n_fields <= 0)
        return ameir_fail(AMEIR_ECONFIG, "%s: the schema has no fields", o);
    AMEIR_TRY(ameir_arch_check_schema(arch, schema, o));
    net->arch = *arch;
    net->schema = *schema;
    net->d = d;
    net->B = max_batch;
    net->F = schema->n_fields;
    net->L = schema->seq_len > 0 ? schema->seq_len : 0;
    net->has_seq = net->L > 0;
    if (net->has_seq && (schema->item_field < 0 || !schema->fields[schema->item_field].is_item))
        return ameir_fail(AMEIR_ECONFIG, "%s: the schema has a behaviour sequence but no item id field", o);
    for (int f = 0; f < net->F; f++) {
        const ameir_field *sf = &schema->fields[f];
        net_field *nf = &net->fields[f];
        if (sf->vocab < 1 || sf->width < 1)
            return ameir_fail(AMEIR_ECONFIG, "%s: field %s: vocabulary %d and width %d (expected >= 1)", o, sf->name,
                              sf->vocab, sf->width);
        nf->vocab = sf->vocab;
        nf->width = sf->width;
        nf->offset = sf->offset;
        nf->is_item = net->has_seq && sf->is_item;
        nf->item_offset = sf->item_offset;
    }
    /* without a sequence there is nothing for blocks, positions or the aggregate to act on */
    net->n_blocks = net->has_seq ? arch->n_blocks : 0;
    for (int i = 0; i < net->n_blocks; i++)
        net->blocks[i].spec = arch->blocks[i];
    net->n_inter = arch->n_interactions;
    for (int k = 0; k < net->n_inter; k++) {
        net->inter_order[k] = arch->interactions[k].order;
        for (int j = 0; j < arch->interactions[k].order; j++)
            net->inter_fields[k][j] = ameir_schema_find(schema, arch->interactions[k].fields[j]);
    }
    net->n_mlp = arch->n_mlp;
    net->D0 = net->F * d + (net->has_seq ? d : 0) + net->n_inter * d;
    net->width[0] = net->D0;
    for (int j = 0; j < net->n_mlp; j++)
        net->width[j + 1] = arch->mlp[j].units;
    return 0;
}

/* With buffers 0 the activation buffers are only counted (act_need): the net borrows them. */
static int net_create(ameir_net **out, const ameir_arch *arch, const ameir_schema *schema, int d, int max_batch,
                      uint64_t seed, int buffers) {
    *out = NULL;
    ameir_net *net = calloc(1, sizeof *net);
    if (!net)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for a network");
    ameir_params_init(&net->params);
    net->T = 1;
    int rc = setup_shapes(net, arch, schema, d, max_batch);
    if (rc < 0)
        goto fail;
    if ((rc = build_table(net)) < 0)
        goto fail;
    if ((rc = ameir_params_alloc(&net->params)) < 0)
        goto fail;
    if (buffers && (rc = alloc_buffers(net)) < 0)
        goto fail;
    if (!buffers) {
        count_buffers(net);
        net->act_borrowed = 1;
    }
    init_params(net, seed);
    *out = net;
    return 0;
fail:
    ameir_net_free(net);
    return rc;
}

int ameir_net_create(ameir_net **out, const ameir_arch *arch, const ameir_schema *schema, int d, int max_batch,
                     uint64_t seed) {
    return net_create(out, arch, schema, d, max_batch, seed, 1);
}

int ameir_net_create_unbuffered_(ameir_net **out, const ameir_arch *arch, const ameir_schema *schema, int d,
                                 int max_batch, uint64_t seed) {
    return net_create(out, arch, schema, d, max_batch, seed, 0);
}

void ameir_net_free(ameir_net *net) {
    if (!net)
        return;
    ameir_net_pool_stop_(net->pool);
    ameir_params_destroy(&net->params);
    free_buffers(net);
    free(net);
}

int ameir_net_set_threads(ameir_net *net, int threads) {
    if (threads < 1 || threads > AMEIR_NET_MAX_THREADS)
        return ameir_fail(AMEIR_EINVAL, "network threads: %d (expected 1 to %d)", threads, AMEIR_NET_MAX_THREADS);
    if (threads == net->T)
        return 0;
    if (net->act_borrowed) /* the lender sized its blocks for one thread */
        return ameir_fail(AMEIR_EINVAL, "network threads: a supernet path runs on one thread");
    ameir_net_pool_stop_(net->pool);
    net->pool = NULL;
    net->T = threads;
    int rc = alloc_buffers(net);
    if (rc == 0 && threads > 1)
        rc = ameir_net_pool_start_(&net->pool, threads);
    if (rc < 0) { /* back to one thread, which needs no pool */
        net->T = 1;
        int rc1 = alloc_buffers(net);
        return rc1 < 0 ? rc1 : rc;
    }
    /* the touched-row lists were re-carved: start from clean gradients */
    for (int f = 0; f < net->F; f++)
        net->fields[f].nrows = 0;
    ameir_params_zero_grad(&net->params);
    return 0;
}

int ameir_net_threads(const ameir_net *net) { return net->T; }

ameir_params *ameir_net_params(ameir_net *net) { return &net->params; }
int ameir_net_dim(const ameir_net *net) { return net->d; }
int ameir_net_max_batch(const ameir_net *net) { return net->B; }

const ameir_schema *ameir_net_schema(const ameir_net *net) { return &net->schema; }

int64_t ameir_net_param_count(const ameir_net *net) {
    int64_t n = 0;
    for (int i = 0; i < net->params.n; i++)
        n += (int64_t)net->params.tensors[i].size;
    return n;
}
