/* The inside of ameir_net, shared by net_build.c (creation, init), net_forward.c / net_backward.c (forward,
 * backward, Adam) and net_io.c (HDF5). Not a public header.
 *
 * Shapes below use B = max_batch (rows in use: n <= B), L = seq_len, d = dim,
 * F = number of fields, D0 = MLP input width = F*d + (L > 0 ? d : 0) + n_inter*d. */
#ifndef AMEIR_NET_INTERNAL_H
#define AMEIR_NET_INTERNAL_H

#include <stdint.h>

#include "ameir/arch.h"
#include "ameir/net.h"
#include "ameir/nn.h"
#include "ameir/params.h"
#include "ameir/schema.h"

#define AMEIR_NET_MAX_THREADS 64

/* net_pool.c: a team of T threads; run calls fn(arg, k) for k = 0..T-1 (k = 0 on the
 * caller) and waits for all. A NULL pool runs fn(arg, 0) only. */
typedef struct net_pool net_pool;
typedef void (*net_task)(void *arg, int k);
int ameir_net_pool_start_(net_pool **out, int T);
void ameir_net_pool_run_(net_pool *p, net_task fn, void *arg);
void ameir_net_pool_stop_(net_pool *p);

typedef struct net_field {
    int tensor;        /* "emb/<field>" (vocab, d), AMEIR_TENSOR_ROWS */
    int vocab, width;
    int offset;        /* column in batch->x */
    int is_item;
    int item_offset;   /* column in a history position */
    int32_t *ids;      /* (n, width) from x, then (n, L, width) from the history if is_item */
    int32_t *rows;     /* distinct rows the last training batch touched */
    int nrows, rows_cap;
} net_field;

typedef struct net_block {
    ameir_block spec;
    int ln_w, ln_b;    /* tensor indices, -1 without layernorm */
    int w[4];          /* op tensors: conv (weight, bias), gru (w_ih, w_hh, b_ih, b_hh),
                          attention (in_w, in_b, out_w, out_b); -1 if unused */
    float *normed;     /* (B, L, d) layernorm output, NULL without layernorm */
    float *mean, *rstd; /* (B*L) */
    float *o;          /* (B, L, d) op output, before the activation */
    float *opact;      /* gru / attention saved values, one region per thread */
    size_t opact_stride;
    int32_t *argmax;   /* (B, L, d) maxpool */
    uint8_t *drop;     /* (B*L*d) dropout mask */
} net_block;

struct ameir_net {
    ameir_arch arch;
    ameir_schema schema;
    int d, B, L, F;
    int has_seq;
    ameir_params params;
    size_t dense_begin; /* floats from here to params.total are the dense tensors */

    net_field fields[AMEIR_MAX_FIELDS];
    uint8_t *seen;      /* (max vocab) scratch for touched rows */
    float *act_f;       /* the one allocation behind every float activation buffer */
    int32_t *act_i;
    uint8_t *act_b;
    size_t act_need[3]; /* floats, ints and bytes the buffers take at this thread count */
    int act_borrowed;   /* the buffers are the caller's (ameir_net_borrow_buffers_) */

    /* behaviour */
    int pos_emb;        /* tensor or -1 */
    int n_blocks;
    net_block blocks[AMEIR_MAX_BLOCKS];
    float *xs;          /* (n_blocks + 1, B, L, d): h0, then each block's output */
    uint8_t *mask;      /* (B, L) */
    int din[4];         /* w1, b1, w2, b2 of target attention; -1 otherwise */
    float *dinact;      /* one region per thread */
    size_t dinact_stride;
    float *target;      /* (B, d) */
    float *beh;         /* (B, d) */

    /* interactions */
    int n_inter;
    int inter_fields[AMEIR_MAX_INTERACTIONS][AMEIR_MAX_ORDER];
    int inter_order[AMEIR_MAX_INTERACTIONS];

    /* MLP: z[0] the input (B, D0), z[j+1] the output of hidden layer j (B, units[j]) */
    int n_mlp, D0;
    int width[AMEIR_MAX_MLP + 1];   /* width[0] = D0, width[j+1] = units of layer j */
    int mlp_w[AMEIR_MAX_MLP], mlp_b[AMEIR_MAX_MLP];
    int sc_w, sc_b;     /* shortcut, -1 if none */
    int se[4];          /* "se" shortcut: fc1 w (R, S), b, fc2 w (S, R), b; -1 otherwise */
    int se_S, se_R;     /* segments of the MLP input (D0 / d) and bottleneck units */
    float *se_x;        /* (B, D0) the re-weighted MLP input the shortcut projects */
    float *se_act;      /* (B, 2 S + R) saved for backward, rows of a thread side by side */
    int out_w, out_b;
    float *z[AMEIR_MAX_MLP + 1];
    float *u[AMEIR_MAX_MLP];        /* pre-activations */
    uint8_t *mdrop[AMEIR_MAX_MLP];
    float *logits;      /* (B) */

    float *fe;          /* (B, F, d) field embeddings */
    float *tmp;         /* scratch, tmp_stride floats per thread */
    size_t tmp_stride;

    /* threads: rows of a batch are split in T contiguous ranges; weight gradients of
     * thread k > 0 go to its shadow of the dense range, summed in order after backward */
    int T, chunk;       /* chunk = ceil(B / T) rows at most per thread */
    net_pool *pool;
    float *shadow;      /* (T-1, dense_size) */
    size_t dense_size;

    /* gradients of activations */
    float *gz[AMEIR_MAX_MLP + 1];
    float *gu, *gdrop;  /* (B, wmax): row r at r * wmax for every layer, so threads on
                         * different layers never share a row's floats */
    int wmax;           /* the widest of width[0..n_mlp] */
    float *glogits;
    float *gfe, *gt, *gbeh;
    float *gx[2], *gy, *go, *gin; /* (B, L, d) */
};

/* Rows [*r0, *r0 + *nr) of a batch of n rows are thread k's. */
static inline void ameir_net_rows_(const ameir_net *net, int n, int k, int *r0, int *nr) {
    int a = (int)((int64_t)n * k / net->T), b = (int)((int64_t)n * (k + 1) / net->T);
    *r0 = a;
    *nr = b - a;
}

/* Where thread k accumulates the gradient of tensor t (a dense tensor when k > 0). */
static inline float *ameir_net_grad_(ameir_net *net, int t, int k) {
    if (k == 0)
        return ameir_params_grad(&net->params, t);
    return net->shadow + (size_t)(k - 1) * net->dense_size + (net->params.tensors[t].offset - net->dense_begin);
}

static inline float *ameir_net_scratch_(ameir_net *net, int k) { return net->tmp + (size_t)k * net->tmp_stride; }

/* net_forward.c: copy the batch's ids into the per-field buffers and build the history
 * mask; then the forward pass (train: dropout with rate p from rng). */
/* Compute on the caller's blocks instead of the net's own activation buffers: f, i and b
 * hold at least act_need[0..2] floats, ints and bytes (one block serves every net of a
 * supernet, as only one of them runs at a time; nothing in them outlives a step or an
 * evaluation). The net frees its own; it keeps one thread (set_threads refuses). */
void ameir_net_borrow_buffers_(ameir_net *net, float *f, int32_t *i, uint8_t *b);
/* ameir_net_create without activation buffers (only act_need counted): for a net that will
 * borrow them, so that building hundreds of supernet paths allocates and touches none */
int ameir_net_create_unbuffered_(ameir_net **out, const ameir_arch *arch, const ameir_schema *schema, int d,
                                 int max_batch, uint64_t seed);
void ameir_net_gather_(ameir_net *net, const ameir_batch *b);
void ameir_net_forward_(ameir_net *net, const ameir_batch *b, int train, float p, ameir_rng *rng);

/* net_backward.c: ameir_net_forward_backward with the loss's gradient scaled by scale
 * (a virtual shard of nr rows out of a batch of n passes nr / n, so the shards' gradients
 * sum to the batch mean's). */
float ameir_net_forward_backward_scaled_(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng,
                                         float *logits, float scale);

/* net_io.c: ameir_net_save / ameir_net_load of any parameter table. */
int ameir_params_save_(const ameir_params *p, hid_t group);
int ameir_params_load_(ameir_params *p, hid_t group);

/* One Adam option block from the training options. */
ameir_adam_opts ameir_net_adam_opts_(const ameir_train_opts *o);

/* The first of n items in share k of K (share k is [begin(k), begin(k + 1))): how threads
 * and ranks split the touched rows of a table. */
static inline int ameir_share_begin_(int n, int k, int K) { return (int)((size_t)n * (size_t)k / (size_t)K); }

/* Adam step t on share k of K of each table's touched rows and on dense floats [lo, hi)
 * (offsets from the dense block's start). Elementwise, so shares taken by threads or by
 * ranks give the whole step's bits. */
void ameir_net_adam_part_(ameir_net *net, const ameir_adam_opts *a, int64_t t, int k, int K, size_t lo, size_t hi);

#endif
