/* Multi-head self-attention (PyTorch nn.MultiheadAttention, batch_first, with a
 * key_padding_mask). inp (B, L, C), mask (B, L), heads H dividing C, hd = C / H,
 * w_in (3C, C), b_in (3C), w_out (C, C), b_out (C), out (B, L, C).
 *   qkv = inp w_in^T + b_in, split as q | k | v (C each), head h owns columns h*hd..
 *   A[b,h,i,:] = softmax_j over real keys of (q_i . k_j) / sqrt(hd); 0 for padding keys
 *   ctx[b,i, head h] = sum_j A[b,h,i,j] v_j
 *   out = ctx w_out^T + b_out at real queries, 0 at padding queries
 * A query row with no real key (cannot happen for a real query, which is its own key)
 * would give ctx = 0.
 * act layout: QKV (B*L, 3C) | A (B, H, L, L) | CTX (B*L, C) |
 *             backward scratch: DQKV (B*L, 3C) | DCTX (B*L, C) | DA (L). */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

size_t ameir_attention_act_size(int B, int L, int C, int H) {
    size_t BL = (size_t)B * L;
    return BL * 3 * C + (size_t)B * H * L * L + BL * C + BL * 3 * C + BL * C + (size_t)L;
}

typedef struct att_act {
    real *qkv, *att, *ctx, *dqkv, *dctx, *da;
} att_act;

static att_act att_split(real *act, int B, int L, int C, int H) {
    size_t BL = (size_t)B * L;
    att_act a;
    a.qkv = act;
    a.att = a.qkv + BL * 3 * C;
    a.ctx = a.att + (size_t)B * H * L * L;
    a.dqkv = a.ctx + BL * C;
    a.dctx = a.dqkv + BL * 3 * C;
    a.da = a.dctx + BL * C;
    return a;
}

void ameir_attention_forward(real *out, real *act, const real *inp, const real *w_in, const real *b_in, const real *w_out, const real *b_out, const uint8_t *mask, int B, int L, int C, int H) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0 && H > 0 && C % H == 0);
    att_act a = att_split(act, B, L, C, H);
    int hd = C / H, C3 = 3 * C;
    real scale = (real)1 / AMEIR_SQRT((real)hd);
    ameir_linear_forward(a.qkv, inp, w_in, b_in, B * L, C, C3);
    for (int b = 0; b < B; b++) {
        const uint8_t *m = mask + (size_t)b * L;
        const real *qkv = a.qkv + (size_t)b * L * C3;
        for (int h = 0; h < H; h++) {
            for (int i = 0; i < L; i++) {
                real *A = a.att + (((size_t)b * H + h) * L + i) * L;
                real *ctx = a.ctx + ((size_t)b * L + i) * C + h * hd;
                memset(A, 0, (size_t)L * sizeof(real));
                memset(ctx, 0, (size_t)hd * sizeof(real));
                if (!m[i])
                    continue;
                const real *q = qkv + (size_t)i * C3 + h * hd;
                real mx = 0;
                int any = 0;
                for (int j = 0; j < L; j++) {
                    if (!m[j])
                        continue;
                    const real *k = qkv + (size_t)j * C3 + C + h * hd;
                    real s = 0;
                    for (int e = 0; e < hd; e++)
                        s += q[e] * k[e];
                    s *= scale;
                    A[j] = s;
                    if (!any || s > mx)
                        mx = s;
                    any = 1;
                }
                if (!any)
                    continue;
                real sum = 0;
                for (int j = 0; j < L; j++) {
                    if (!m[j])
                        continue;
                    A[j] = AMEIR_EXP(A[j] - mx);
                    sum += A[j];
                }
                real inv = (real)1 / sum;
                for (int j = 0; j < L; j++) {
                    if (!m[j])
                        continue;
                    A[j] *= inv;
                    const real *v = qkv + (size_t)j * C3 + 2 * C + h * hd;
                    for (int e = 0; e < hd; e++)
                        ctx[e] += A[j] * v[e];
                }
            }
        }
    }
    ameir_linear_forward(out, a.ctx, w_out, b_out, B * L, C, C);
    for (size_t r = 0; r < (size_t)B * L; r++)
        if (!mask[r])
            memset(out + r * C, 0, (size_t)C * sizeof(real));
}

void ameir_attention_backward(real *dinp, real *dw_in, real *db_in, real *dw_out, real *db_out, const real *dout, real *act, const real *inp, const real *w_in, const real *w_out, const uint8_t *mask, int B, int L, int C, int H) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0 && H > 0 && C % H == 0);
    att_act a = att_split(act, B, L, C, H);
    int hd = C / H, C3 = 3 * C;
    size_t BL = (size_t)B * L;
    real scale = (real)1 / AMEIR_SQRT((real)hd);
    /* out = ctx w_out^T + b_out at real queries only. ctx is 0 at padding queries, so
     * dw_out += dout^T ctx needs no mask; db_out sums real rows; dctx = dout w_out is
     * used at real queries only. */
    if (dw_out)
        AMEIR_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, C, C, (int)BL, 1, dout, C, a.ctx, C, 1, dw_out, C);
    if (db_out)
        for (size_t r = 0; r < BL; r++)
            if (mask[r])
                for (int c = 0; c < C; c++)
                    db_out[c] += dout[r * C + c];
    AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)BL, C, C, 1, dout, C, w_out, C, 0, a.dctx, C);
    memset(a.dqkv, 0, BL * C3 * sizeof(real));
    /* Per real query i of head h, with ctx_i = sum_j A_ij v_j and A_i = softmax(s_i):
     *   dv_j += A_ij dctx_i,  dA_ij = dctx_i . v_j,
     *   ds_ij = A_ij (dA_ij - sum_k A_ik dA_ik)          (softmax backward)
     *   s_ij = scale q_i . k_j:  dq_i += scale ds_ij k_j,  dk_j += scale ds_ij q_i
     * Padding keys have A = 0 and get nothing. */
    for (int b = 0; b < B; b++) {
        const uint8_t *m = mask + (size_t)b * L;
        const real *qkv = a.qkv + (size_t)b * L * C3;
        real *dqkv = a.dqkv + (size_t)b * L * C3;
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                if (!m[i])
                    continue;
                const real *A = a.att + (((size_t)b * H + h) * L + i) * L;
                const real *dctx = a.dctx + ((size_t)b * L + i) * C + h * hd;
                real *dA = a.da;
                real dot = 0;
                for (int j = 0; j < L; j++) {
                    dA[j] = 0;
                    if (!m[j])
                        continue;
                    const real *v = qkv + (size_t)j * C3 + 2 * C + h * hd;
                    real *dv = dqkv + (size_t)j * C3 + 2 * C + h * hd;
                    real s = 0;
                    for (int e = 0; e < hd; e++) {
                        s += dctx[e] * v[e];
                        dv[e] += A[j] * dctx[e];
                    }
                    dA[j] = s;
                    dot += A[j] * s;
                }
                const real *q = qkv + (size_t)i * C3 + h * hd;
                real *dq = dqkv + (size_t)i * C3 + h * hd;
                for (int j = 0; j < L; j++) {
                    if (!m[j])
                        continue;
                    real ds = A[j] * (dA[j] - dot) * scale;
                    const real *k = qkv + (size_t)j * C3 + C + h * hd;
                    real *dk = dqkv + (size_t)j * C3 + C + h * hd;
                    for (int e = 0; e < hd; e++) {
                        dq[e] += ds * k[e];
                        dk[e] += ds * q[e];
                    }
                }
            }
    }
    ameir_linear_backward(dinp, dw_in, db_in, a.dqkv, inp, w_in, (int)BL, C, C3);
}
