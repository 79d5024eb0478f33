/* Layers: forward/backward function pairs over `real` pointers (llm.c style).
 *
 * Argument order: outputs, values saved for backward, inputs, weights, sizes.
 * Backward functions ACCUMULATE (+=) into every gradient they write, input gradients
 * included; the caller zeroes once per step. A gradient pointer may be NULL when it is
 * not needed (e.g. dinp of the first layer).
 *
 * Sequences are (B, L, C), row-major, with mask (B, L): 1 = real event, 0 = padding.
 * Every sequence op writes zeros at padding positions and never reads a padding value
 * as if it were real; a row whose positions are all padding gives zeros, never NaN.
 *
 * Weights follow PyTorch's layouts (Linear weight (out, in), Conv1d (C_out, C_in, K),
 * GRU weight_ih/weight_hh (3C, C) with gates r, z, n; MultiheadAttention in_proj (3C, C),
 * out_proj (C, C)) so reference weights copy over unchanged.
 *
 * Size checks that depend on user input (heads, kernel, zero sizes) are done by
 * ameir_nn_check_* below, which return an error code and message; inside the kernels
 * shapes are asserted. */
#ifndef AMEIR_NN_H
#define AMEIR_NN_H

#include <stddef.h>
#include <stdint.h>

#include "ameir/real.h"
#include "ameir/rng.h"

/* ---- validation of user-chosen sizes (return 0 or AMEIR_EINVAL with a message) ---- */
int ameir_nn_check_attention(int C, int heads);  /* heads in {1,2,4,8}, dividing C, C > 0 */
int ameir_nn_check_conv(int C, int kernel);      /* kernel in {1,3,5,7}, 0 < C <= AMEIR_CONV_MAX_C(kernel) */
/* conv works in a stack scratch of AMEIR_CONV_SCRATCH reals holding at least one
 * position's im2col row, its gradient and dout: C (2K + 1) reals */
#define AMEIR_CONV_SCRATCH 16384
#define AMEIR_CONV_MAX_C(K) (AMEIR_CONV_SCRATCH / (2 * (K) + 1))
int ameir_nn_check_sizes(int B, int L, int C);   /* all > 0 */

/* ---- activations ---- */
enum ameir_act { AMEIR_ACT_IDENTITY = 0, AMEIR_ACT_RELU, AMEIR_ACT_GELU, AMEIR_ACT_SWISH, AMEIR_ACT_SIGMOID, AMEIR_ACT_COUNT };
/* name <-> enum ("identity", "relu", "gelu", "swish", "sigmoid"); -1 if unknown */
int ameir_act_from_name(const char *name);
const char *ameir_act_name(int act);
/* out (n) = act(inp (n)); out may alias inp */
void ameir_act_forward(real *out, const real *inp, size_t n, int act);
/* dinp (n) += dout * act'(inp); gelu is the erf form, as PyTorch's default.
 * In the float build sigmoid, swish, the GRU gates and the attention softmax use a
 * vectorisable expf (src/nn/nn_math.h, within 1.5 ulp of exp); the double build uses libm. */
void ameir_act_backward(real *dinp, const real *dout, const real *inp, size_t n, int act);
/* dinp (n) = dout * act'(inp): the same values written instead of added, for a buffer
 * that would otherwise be zeroed first. For both, dinp overlaps neither dout nor inp. */
void ameir_act_grad(real *dinp, const real *dout, const real *inp, size_t n, int act);

/* ---- embedding lookup with mean pooling ----
 * ids (N, w) in [0, V); id 0 is padding and is skipped; out (N, d) is the mean of the
 * rows of the non-zero ids (zeros if all are 0). table (V, d). */
void ameir_embedding_forward(real *out, const int32_t *ids, const real *table, int N, int w, int V, int d);
/* dtable rows of the ids += dout / count; only touched rows are written */
void ameir_embedding_backward(real *dtable, const real *dout, const int32_t *ids, int N, int w, int V, int d);
/* The distinct non-zero ids in ids (n of them), in ascending order, written to rows;
 * returns how many. seen (V bytes) must be zero on entry and is zero again on return. */
int ameir_embedding_touched_rows(int32_t *rows, uint8_t *seen, const int32_t *ids, size_t n, int V);
/* rows (count distinct ids in [1, V), each flagged in seen) in ascending order, and their
 * flags cleared: a scan of the flags when V is within 32 times count, else a sort. */
void ameir_embedding_sort_rows(int32_t *rows, int count, uint8_t *seen, int V);

/* ---- the row-batched product: out (N, O; row stride ldo) = alpha inp (N, In; stride ldi) w^T
 * + beta out, w (O, In), with each row's result independent of N (src/nn/gemm_rows.c: pads
 * the calls that OpenBLAS would give its small-matrix kernel). Forward passes use it, so a
 * history gives the same bits alone as among other rows. ---- */
/* 1 when ameir_gemm_rows runs on the BLAS, 0 when on its fixed-order loops (the kernel of
 * this CPU sums the rows of a tile differently; see gemm_rows.c). Probes on first call. */
int ameir_gemm_rows_blas(void);
void ameir_gemm_rows(real *out, int ldo, const real *inp, int ldi, const real *w, int N, int In, int O, real alpha, real beta);

/* ---- linear: out (N, O) = inp (N, In) w^T (w is (O, In)) + b (O); b may be NULL.
 * (In, not I: cblas.h includes complex.h, whose I is a macro.) ---- */
void ameir_linear_forward(real *out, const real *inp, const real *w, const real *b, int N, int In, int O);
void ameir_linear_backward(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, int N, int In, int O);
/* plain triple loops, the reference the BLAS versions are tested against */
void ameir_linear_forward_naive(real *out, const real *inp, const real *w, const real *b, int N, int In, int O);
void ameir_linear_backward_naive(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, int N, int In, int O);

/* ---- conv1d over the sequence, C -> C channels, kernel K in {1,3,5,7}, same padding ----
 * w (C, C, K), b (C); inp/out (B, L, C). */
void ameir_conv1d_forward(real *out, const real *inp, const real *w, const real *b, const uint8_t *mask, int B, int L, int C, int K);
void ameir_conv1d_backward(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, const uint8_t *mask, int B, int L, int C, int K);

/* ---- GRU, one layer, hidden C, h0 = 0; at a padding step h carries over and out is 0 ----
 * w_ih, w_hh (3C, C); b_ih, b_hh (3C); act (ameir_gru_act_size reals) holds what
 * backward needs and backward's scratch; backward keeps the forward values, so it may run
 * more than once after one forward. */
size_t ameir_gru_act_size(int B, int L, int C);
void ameir_gru_forward(real *out, real *act, const real *inp, const real *w_ih, const real *w_hh, const real *b_ih, const real *b_hh, const uint8_t *mask, int B, int L, int C);
void ameir_gru_backward(real *dinp, real *dw_ih, real *dw_hh, real *db_ih, real *db_hh, const real *dout, real *act, const real *inp, const real *w_ih, const real *w_hh, const uint8_t *mask, int B, int L, int C);

/* ---- pooling, kernel 3, stride 1, same padding, over real positions only ----
 * avg: mean of the real positions in the window; max: max of them. */
void ameir_avgpool_forward(real *out, const real *inp, const uint8_t *mask, int B, int L, int C);
void ameir_avgpool_backward(real *dinp, const real *dout, const uint8_t *mask, int B, int L, int C);
/* argmax (B, L, C): sequence index chosen, -1 at padding */
void ameir_maxpool_forward(real *out, int32_t *argmax, const real *inp, const uint8_t *mask, int B, int L, int C);
void ameir_maxpool_backward(real *dinp, const real *dout, const int32_t *argmax, int B, int L, int C);

/* ---- multi-head self-attention (PyTorch nn.MultiheadAttention, batch_first) ----
 * heads H in {1,2,4,8} dividing C; padding keys are masked out; outputs at padding
 * queries are 0. w_in (3C, C), b_in (3C), w_out (C, C), b_out (C).
 * act holds what backward needs (and backward's scratch). */
size_t ameir_attention_act_size(int B, int L, int C, int H);
void ameir_attention_forward(real *out, real *act, const real *inp, const real *w_in, const real *b_in, const real *w_out, const real *b_out, const uint8_t *mask, int B, int L, int C, int H);
void ameir_attention_backward(real *dinp, real *dw_in, real *db_in, real *dw_out, real *db_out, const real *dout, real *act, const real *inp, const real *w_in, const real *w_out, const uint8_t *mask, int B, int L, int C, int H);
/* plain loops over the whole L x L, the reference the fast form is tested against (same act) */
void ameir_attention_forward_naive(real *out, real *act, const real *inp, const real *w_in, const real *b_in, const real *w_out, const real *b_out, const uint8_t *mask, int B, int L, int C, int H);
void ameir_attention_backward_naive(real *dinp, real *dw_in, real *db_in, real *dw_out, real *db_out, const real *dout, real *act, const real *inp, const real *w_in, const real *w_out, const uint8_t *mask, int B, int L, int C, int H);

/* ---- layer norm over the last dimension, eps 1e-5; rows with mask 0 give 0 ----
 * inp/out (N, C), w/b (C), mean/rstd (N). mask may be NULL (all rows real). */
void ameir_layernorm_forward(real *out, real *mean, real *rstd, const real *inp, const real *w, const real *b, const uint8_t *mask, int N, int C);
void ameir_layernorm_backward(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, const real *mean, const real *rstd, const uint8_t *mask, int N, int C);

/* ---- aggregation of a sequence h (B, L, C) into one vector per row out (B, C) ---- */
#define AMEIR_DIN_HIDDEN 36
/* DIN activation unit: a = w2 . sigmoid(w1 [h, t, h-t, h*t] + b1) + b2 per position,
 * no softmax, a = 0 at padding; out = sum_l a_l h_l. t (B, C); w1 (36, 4C), b1 (36),
 * w2 (1, 36), b2 (1). */
size_t ameir_din_act_size(int B, int L, int C);
void ameir_din_forward(real *out, real *act, const real *h, const real *t, const real *w1, const real *b1, const real *w2, const real *b2, const uint8_t *mask, int B, int L, int C);
/* act holds what backward needs and backward's scratch (backward may run again) */
void ameir_din_backward(real *dh, real *dt, real *dw1, real *db1, real *dw2, real *db2, const real *dout, real *act, const real *h, const real *t, const real *w1, const real *w2, const uint8_t *mask, int B, int L, int C);
/* the direct form in plain loops, the reference the split form is tested against;
 * S (B*L*37 reals) holds the sigmoid outputs and the weights a; every gradient is needed */
void ameir_din_forward_naive(real *out, real *S, const real *h, const real *t, const real *w1, const real *b1, const real *w2, const real *b2, const uint8_t *mask, int B, int L, int C);
void ameir_din_backward_naive(real *dh, real *dt, real *dw1, real *db1, real *dw2, real *db2, const real *dout, const real *S, const real *h, const real *t, const real *w1, const real *w2, const uint8_t *mask, int B, int L, int C);
void ameir_masked_mean_forward(real *out, const real *h, const uint8_t *mask, int B, int L, int C);
void ameir_masked_mean_backward(real *dh, const real *dout, const uint8_t *mask, int B, int L, int C);
/* the last real position of each row (zeros if none) */
void ameir_last_forward(real *out, const real *h, const uint8_t *mask, int B, int L, int C);
void ameir_last_backward(real *dh, const real *dout, const uint8_t *mask, int B, int L, int C);

/* ---- squeeze-and-excitation over the S segments of d values of each row (the MLP input's
 * fields; the "se" shortcut) ----
 * s = the mean of each segment, e = sigmoid(w2 relu(w1 s + b1) + b2), out = inp with segment i
 * scaled by e_i. inp/out (N, S*d); w1 (R, S), b1 (R), w2 (S, R), b2 (S); the bottleneck
 * R = ameir_se_hidden(S) = max(1, S / AMEIR_SE_REDUCTION). act (ameir_se_act_size reals)
 * holds s, the relu output and e for backward. */
#define AMEIR_SE_REDUCTION 4
int ameir_se_hidden(int S);
size_t ameir_se_act_size(int N, int S, int R);
void ameir_se_forward(real *out, real *act, const real *inp, const real *w1, const real *b1, const real *w2, const real *b2, int N, int S, int d, int R);
void ameir_se_backward(real *dinp, real *dw1, real *db1, real *dw2, real *db2, const real *dout, const real *act, const real *inp, const real *w1, const real *w2, int N, int S, int d, int R);

/* ---- Hadamard product of k (2..4) field embeddings ----
 * emb (B, F, C); fields (k) distinct indices into F; out (B, C). */
void ameir_hadamard_forward(real *out, const real *emb, const int *fields, int k, int B, int F, int C);
void ameir_hadamard_backward(real *demb, const real *dout, const real *emb, const int *fields, int k, int B, int F, int C);

/* ---- binary cross-entropy with logits, mean over N ---- */
real ameir_bce_forward(const real *logits, const real *labels, int N);
/* dlogits += (sigmoid(z) - y) * scale / N (scale 1 for the mean loss) */
void ameir_bce_backward(real *dlogits, const real *logits, const real *labels, int N, real scale);

/* ---- inverted dropout; mask (n) is drawn from rng: keep with probability 1-p ----
 * out = inp * mask / (1 - p); p = 0 copies. out may alias inp. */
void ameir_dropout_forward(real *out, uint8_t *mask, const real *inp, size_t n, real p, ameir_rng *rng);
void ameir_dropout_backward(real *dinp, const real *dout, const uint8_t *mask, size_t n, real p);

/* ---- L2 on the embedding rows a batch touches: returns lambda * sum ||row||^2 and
 * adds 2 lambda row to drow ---- */
real ameir_l2_rows(real *dtable, const real *table, const int32_t *rows, int nrows, int d, real lambda);

/* ---- Adam (PyTorch's: bias-corrected, eps outside the sqrt) ----
 * t is the step number after this update (1 for the first step). In the float build the
 * complements 1 - beta and lr are taken of the decimal the float was written as
 * (0.999f -> 0.999), as PyTorch's Python doubles are, so runs match PyTorch's to rounding. */
typedef struct ameir_adam_opts {
    real lr, beta1, beta2, eps;
} ameir_adam_opts;
void ameir_adam_dense(real *p, real *m, real *v, const real *g, size_t n, const ameir_adam_opts *o, int64_t t);
/* lazy Adam for embedding tables: only the listed rows (each of d values) are updated;
 * the others keep their parameters and moments. */
void ameir_adam_rows(real *p, real *m, real *v, const real *g, const int32_t *rows, int nrows, int d, const ameir_adam_opts *o, int64_t t);

#endif
