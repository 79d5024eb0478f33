/* Multi-head self-attention (PyTorch nn.MultiheadAttention, batch_first, with a
 * key_padding_mask). inp (B, L, C), mask (B, L), heads H dividing C, hd = C / H,
 * w_in (3C, C), b_in (3C), w_out (C, C), b_out (C), out (B, L, C).
 *   qkv = inp w_in^T + b_in, split as q | k | v (C each), head h owns columns h*hd..
 *   A[b,h,i,:] = softmax_j over real keys of (q_i . k_j) / sqrt(hd); 0 for padding keys
 *   ctx[b,i, head h] = sum_j A[b,h,i,j] v_j
 *   out = ctx w_out^T + b_out at real queries, 0 at padding queries
 * A query row with no real key (cannot happen for a real query, which is its own key)
 * would give ctx = 0.
 * Per (row, head) the products are small gemms straight on the strided q, k, v columns
 * (ld 3C), so no copies are made; the mask is applied to the probabilities. They run over
 * the row's real range only, from its first real position to its last (padding before
 * and after it gives nothing and gets nothing): histories are padded at the front, so
 * the L x L products shrink to n x n with n the real length. A row's A is n x n (ld n).
 * act layout: QKV (B*L, 3C) | A (B, H, L, L) | CTX (B*L, C) |
 *             backward scratch: DQKV (B*L, 3C) | DCTX (B*L, C) | DA (L, L). */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

size_t ameir_attention_act_size(int B, int L, int C, int H) {
    size_t BL = (size_t)B * L;
    return BL * 3 * C + (size_t)B * H * L * L + BL * C + BL * 3 * C + BL * C + (size_t)L * L;
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

/* [*lo, *hi): from the first real position of m (L) to the last; empty if none */
static void real_range(const uint8_t *m, int L, int *lo, int *hi) {
    int a = 0, b = L;
    while (a < L && !m[a])
        a++;
    while (b > a && !m[b - 1])
        b--;
    *lo = a;
    *hi = b;
}

/* A (L, L) holds scores on entry; softmax over the real keys of each real query row,
 * zeros for padding keys, padding queries and rows without a real key. Each pass is
 * a simple loop (bit-mask selects, four partial max/sum chains) so that it vectorises
 * or at least does not wait on one long chain of additions. */
NN_SIMD_CLONES static void masked_softmax(real *A, const uint8_t *m, int L) {
#ifdef AMEIR_REAL_DOUBLE
    typedef int64_t bits_t;
#else
    typedef int32_t bits_t;
#endif
    const real neg_inf = -(real)INFINITY;
    bits_t ninf;
    memcpy(&ninf, &neg_inf, sizeof ninf);
    for (int i = 0; i < L; i++) {
        real *a = A + (size_t)i * L;
        if (!m[i]) {
            memset(a, 0, (size_t)L * sizeof(real));
            continue;
        }
        /* padding keys get -inf, so exp makes them exactly 0 */
        for (int j = 0; j < L; j++) {
            bits_t keep = -(bits_t)(m[j] != 0), v;
            memcpy(&v, a + j, sizeof v);
            v = (v & keep) | (ninf & ~keep);
            memcpy(a + j, &v, sizeof v);
        }
        real mx[4] = {neg_inf, neg_inf, neg_inf, neg_inf};
        int j = 0;
        for (; j + 4 <= L; j += 4)
            for (int u = 0; u < 4; u++)
                mx[u] = a[j + u] > mx[u] ? a[j + u] : mx[u];
        for (; j < L; j++)
            mx[0] = a[j] > mx[0] ? a[j] : mx[0];
        real top = mx[0];
        for (int u = 1; u < 4; u++)
            top = mx[u] > top ? mx[u] : top;
        if (top == neg_inf) { /* no real key */
            memset(a, 0, (size_t)L * sizeof(real));
            continue;
        }
        for (j = 0; j < L; j++)
            a[j] = nn_exp(a[j] - top);
        real sum[4] = {0, 0, 0, 0};
        for (j = 0; j + 4 <= L; j += 4)
            for (int u = 0; u < 4; u++)
                sum[u] += a[j + u];
        for (; j < L; j++)
            sum[0] += a[j];
        real inv = (real)1 / ((sum[0] + sum[1]) + (sum[2] + sum[3]));
        for (j = 0; j < L; j++)
            a[j] *= inv;
    }
}

NN_SIMD_CLONES void ameir_attention_forward(real *out, real *act, const real *inp, const real *w_in, const real *b_in, const real *w_out, const real *b_out, const uint8_t *mask, int B, int L, int C, int H) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0 && H > 0 && C % H == 0);
    att_act a = att_split(act, B, L, C, H);
    int hd = C / H, C3 = 3 * C;
    real scale = (real)1 / AMEIR_SQRT((real)hd);
    ameir_linear_forward(a.qkv, inp, w_in, b_in, B * L, C, C3);
    for (int b = 0; b < B; b++) {
        int lo, hi;
        real_range(mask + (size_t)b * L, L, &lo, &hi);
        int n = hi - lo;
        const uint8_t *m = mask + (size_t)b * L + lo;
        const real *qkv = a.qkv + ((size_t)b * L + lo) * C3;
        real *ctx = a.ctx + (size_t)b * L * C;
        memset(ctx, 0, (size_t)lo * C * sizeof(real));
        memset(ctx + (size_t)hi * C, 0, (size_t)(L - hi) * C * sizeof(real));
        ctx += (size_t)lo * C;
        for (int h = 0; h < H && n > 0; h++) {
            real *A = a.att + ((size_t)b * H + h) * L * L;
            const real *q = qkv + h * hd, *k = qkv + C + h * hd, *v = qkv + 2 * C + h * hd;
            /* S = scale q k^T (n, n); A = masked softmax of S; ctx_h = A v (n, hd) */
            AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, scale, q, C3, k, C3, 0, A, n);
            masked_softmax(A, m, n);
            AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1, A, n, v, C3, 0, ctx + h * hd, C);
        }
    }
    ameir_linear_forward(out, a.ctx, w_out, b_out, B * L, C, C);
    for (size_t r = 0; r < (size_t)B * L; r++)
        if (!mask[r])
            memset(out + r * C, 0, (size_t)C * sizeof(real));
}

NN_SIMD_CLONES void ameir_attention_backward(real *dinp, real *dw_in, real *db_in, real *dw_out, real *db_out, const real *dout, real *act, const real *inp, const real *w_in, const real *w_out, const uint8_t *mask, int B, int L, int C, int H) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0 && H > 0 && C % H == 0);
    att_act a = att_split(act, B, L, C, H);
    int hd = C / H, C3 = 3 * C;
    size_t BL = (size_t)B * L;
    real scale = (real)1 / AMEIR_SQRT((real)hd);
    /* out = ctx w_out^T + b_out at real queries only. ctx is 0 at padding queries, so
     * dw_out += dout^T ctx needs no mask; db_out sums real rows; dctx = dout w_out is
     * used at real queries only (A is 0 on padding query rows). */
    if (dw_out)
        AMEIR_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, C, C, (int)BL, 1, dout, C, a.ctx, C, 1, dw_out, C);
    if (db_out)
        for (size_t r = 0; r < BL; r++)
            if (mask[r])
                for (int c = 0; c < C; c++)
                    db_out[c] += dout[r * C + c];
    AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)BL, C, C, 1, dout, C, w_out, C, 0, a.dctx, C);
    memset(a.dqkv, 0, BL * C3 * sizeof(real));
    /* Per row and head, with ctx = A v and A = softmax(S) row-wise, S = scale q k^T:
     *   dA = dctx v^T,  dv += A^T dctx,
     *   dS_ij = A_ij (dA_ij - sum_k A_ik dA_ik)   (softmax backward; scale folded in)
     *   dq += scale dS k,  dk += scale dS^T q.
     * Padding keys and padding queries have A = 0, hence dS = 0 and no gradient. */
    for (int b = 0; b < B; b++) {
        int lo, hi;
        real_range(mask + (size_t)b * L, L, &lo, &hi);
        int n = hi - lo;
        const uint8_t *m = mask + (size_t)b * L + lo;
        const real *qkv = a.qkv + ((size_t)b * L + lo) * C3;
        real *dqkv = a.dqkv + ((size_t)b * L + lo) * C3;
        const real *dctx = a.dctx + ((size_t)b * L + lo) * C;
        for (int h = 0; h < H && n > 0; h++) {
            const real *A = a.att + ((size_t)b * H + h) * L * L;
            const real *q = qkv + h * hd, *k = qkv + C + h * hd, *v = qkv + 2 * C + h * hd;
            real *dq = dqkv + h * hd, *dk = dqkv + C + h * hd, *dv = dqkv + 2 * C + h * hd;
            real *dS = a.da;
            AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, 1, dctx + h * hd, C, v, C3, 0, dS, n);
            AMEIR_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, n, 1, A, n, dctx + h * hd, C, 1, dv, C3);
            for (int i = 0; i < n; i++) {
                real *ds = dS + (size_t)i * n;
                const real *ai = A + (size_t)i * n;
                if (!m[i]) {
                    memset(ds, 0, (size_t)n * sizeof(real));
                    continue;
                }
                real acc[4] = {0, 0, 0, 0}; /* four chains, as in the forward sums */
                int j = 0;
                for (; j + 4 <= n; j += 4)
                    for (int u = 0; u < 4; u++)
                        acc[u] += ai[j + u] * ds[j + u];
                for (; j < n; j++)
                    acc[0] += ai[j] * ds[j];
                real dot = (acc[0] + acc[1]) + (acc[2] + acc[3]);
                for (j = 0; j < n; j++)
                    ds[j] = ai[j] * (ds[j] - dot) * scale;
            }
            AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1, dS, n, k, C3, 1, dq, C3);
            AMEIR_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, n, 1, dS, n, q, C3, 1, dk, C3);
        }
    }
    ameir_linear_backward(dinp, dw_in, db_in, a.dqkv, inp, w_in, (int)BL, C, C3);
}
