/* A trainable network for one architecture and dataset schema.
 *
 * All memory (parameters, gradients, Adam moments, activations) is sized once at
 * creation for (arch, schema, d, max_batch); a training step allocates nothing.
 * Parameter tensor names are stable HDF5 dataset paths, e.g. "emb/item",
 * "pos_emb", "block0/ln/weight", "block0/conv/weight", "agg/din/w1", "mlp/0/weight",
 * "mlp/shortcut/weight", "out/weight". */
#ifndef AMEIR_NET_H
#define AMEIR_NET_H

#include <hdf5.h>

#include "ameir/arch.h"
#include "ameir/params.h"
#include "ameir/rng.h"
#include "ameir/schema.h"

typedef struct ameir_net ameir_net;

typedef struct ameir_train_opts {
    float lr;       /* Adam learning rate (default 1e-3) */
    float beta1, beta2, eps; /* 0.9, 0.999, 1e-8 */
    float dropout;  /* after each block and each hidden MLP layer (default 0) */
    float l2;       /* on the embedding rows a batch touches (default 0) */
} ameir_train_opts;

/* The defaults above. */
ameir_train_opts ameir_train_opts_default(void);

/* Build the network; parameters initialised from the stream (seed, 0) (PyTorch's default
 * schemes: Linear/Conv/GRU/attention uniform(+-1/sqrt(fan_in)) or xavier as PyTorch does,
 * embeddings normal(0, 0.01), padding rows 0). Errors: AMEIR_ECONFIG (arch does not fit the
 * schema, e.g. heads not dividing d), AMEIR_ENOMEM. The caller owns *out. */
int ameir_net_create(ameir_net **out, const ameir_arch *arch, const ameir_schema *schema, int d, int max_batch, uint64_t seed);
void ameir_net_free(ameir_net *net);

/* Split the rows of every step over `threads` threads (default 1): the forward and backward
 * passes run row ranges in parallel, weight gradients are summed in a fixed order, so
 * results are bit-identical for a given thread count (not across counts). Call outside
 * steps; reallocates the activation buffers and clears the gradients. The layers call
 * OpenBLAS from these threads: with threads > 1 run OpenBLAS single-threaded
 * (openblas_set_num_threads(1)). Returns 0, AMEIR_EINVAL (not 1..64) or AMEIR_ENOMEM. */
int ameir_net_set_threads(ameir_net *net, int threads);
int ameir_net_threads(const ameir_net *net);

ameir_params *ameir_net_params(ameir_net *net);
int ameir_net_dim(const ameir_net *net);
int ameir_net_max_batch(const ameir_net *net);
/* The dataset schema the net was built for. */
const ameir_schema *ameir_net_schema(const ameir_net *net);

/* Forward only, for evaluation: logits (b->n) (no dropout). */
void ameir_net_predict(ameir_net *net, const ameir_batch *b, float *logits);

/* ameir_net_predict for a batch of groups of n_cand rows whose rows share one history (and
 * differ only in x), as ameir_split_fill_candidates writes them side by side: each group's
 * history is encoded once (the aggregate too unless it is target attention), the rest runs
 * per row. Only row 0 of each group's history is read. The logits equal ameir_net_predict's
 * bit for bit (tests/train/test_eval_seq.c). b->n must be a multiple of n_cand. */
void ameir_net_predict_candidates(ameir_net *net, const ameir_batch *b, int n_cand, float *logits);

/* Forward and backward on a batch with training behaviour (dropout masks from rng):
 * zeroes gradients, accumulates them, returns the mean BCE loss (+ the L2 term).
 * logits (b->n) may be NULL. */
float ameir_net_forward_backward(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng, float *logits);

/* One Adam step with the gradients of the last forward_backward (lazy for embedding rows
 * the batch touched). */
void ameir_net_adam_step(ameir_net *net, const ameir_train_opts *o);

/* forward_backward + adam_step. Returns the loss (NaN/inf: the caller stops). */
float ameir_net_train_step(ameir_net *net, const ameir_batch *b, const ameir_train_opts *o, ameir_rng *rng);

/* Save / load every parameter, both Adam moments and the step count into/from an open
 * HDF5 group: datasets "params/NAME", "adam_m/NAME", "adam_v/NAME", attribute "adam_step".
 * Loading checks names and shapes (AMEIR_EDATA naming the tensor). Bit-exact round trip. */
int ameir_net_save(const ameir_net *net, hid_t group);
int ameir_net_load(ameir_net *net, hid_t group);

/* Number of trainable parameters. */
int64_t ameir_net_param_count(const ameir_net *net);

#endif
