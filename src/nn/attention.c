/* Multi-head self-attention (PyTorch nn.MultiheadAttention, batch_first, with a
 * key_padding_mask). inp (B, L, C), mask (B, L), heads H dividing C, hd = C / H,
 * w_in (3C, C), b_in (3C), w_out (C, C), b_out (C), out (B, L, C).
 *   qkv = inp w_in^T + b_in, split as q | k | v (C each), head h owns columns h*hd..
 *   A[b,h,i,:] = softmax_j over real keys of (q_i . k_j) / sqrt(hd); 0 for padding keys
 *   ctx[b,i, head h] = sum_j A[b,h,i,j] v_j
 *   out = ctx w_out^T + b_out at real queries, 0 at padding queries
 * A query row with no real key (cannot happen for a real query, which is its own key)
 * would give ctx = 0.
 * Per (row, head) the work runs over the row's real range only, from its first real
 * position to its last (padding before and after it gives nothing and gets nothing):
 * histories are padded at the front, so the L x L products shrink to n x n with n the
 * real length. A row's A is stored transposed, n x np (n padded, see VB): AT[j][i] =
 * A[i, j]. The forward's products are far too small for BLAS (its call and packing
 * overhead, with the row-wise softmax, was most of the layer's time), so they are loops
 * over that key-major layout: every inner loop runs over blocks of queries with no
 * reduction, and each lane is one query summed in a fixed order, so every SIMD clone
 * gives the same bits. The backward keeps its four gemms (BLAS takes AT transposed for
 * free; loops were slower there) and runs the softmax backward over lanes of queries.
 * The _naive functions are the layer in plain loops over the whole L x L, the reference
 * the unit test compares against.
 * act layout: QKV (B*L, 3C) | AT (B, H, L, LP) | CTX (B*L, C) |
 *             backward scratch: DQKV (B*L, 3C) | DCTX (B*L, C) |
 *             per-(row, head) scratch: WS ((L + 2 C + 2) LP), LP = L rounded up to 16. */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

/* lanes of a row's products, padded (see VB below) */
static size_t padded_len(int L) { return ((size_t)L + 15) / 16 * 16; }

size_t ameir_attention_act_size(int B, int L, int C, int H) {
    size_t BL = (size_t)B * L, LP = padded_len(L);
    return BL * 3 * C + (size_t)B * H * L * LP + BL * C + BL * 3 * C + BL * C + ((size_t)L + 2 * C + 2) * LP;
}

typedef struct att_act {
    real *qkv, *att, *ctx, *dqkv, *dctx, *ws;
} att_act;

static att_act att_split(real *act, int B, int L, int C, int H) {
    size_t BL = (size_t)B * L;
    att_act a;
    a.qkv = act;
    a.att = a.qkv + BL * 3 * C;
    a.ctx = a.att + (size_t)B * H * L * padded_len(L);
    a.dqkv = a.ctx + BL * C;
    a.dctx = a.dqkv + BL * 3 * C;
    a.ws = a.dctx + BL * C;
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

/* The per-(row, head) products run on blocks of VB lanes, over queries i or keys j, with
 * the sums of a block kept in registers; a row's n positions are padded to np, a
 * multiple of VB, with zeros in the scratch so that no loop has a remainder. */
#define VB 16
#define CB 4 /* columns of a head per pass of the products summed over positions */

static int pad_lanes(int n) { return (n + VB - 1) / VB * VB; }

/* A block of VB lanes in GCC's vector extension: a block's sums stay in registers (as
 * plain loops over small arrays GCC unrolled them and left them scalar). Lanes are plain
 * adds and multiplies, the same in every clone; memcpy makes the unaligned loads. */
typedef real vblock __attribute__((vector_size(VB * sizeof(real))));
#define VLOAD(v, p) memcpy(&(v), (p), sizeof(vblock))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(vblock))

/* o[r][l] = sum_c x_rc y[c][l] for the real rows r (x has ld ldx) and the np lanes
 * (y is hd x np); 0 for the rows with m[r] == 0. A sum runs over c in order. */
NN_INLINE void prod_over_c(real *restrict o, const real *restrict x, int ldx, const real *restrict y, const uint8_t *m, int n, int np, int hd) {
    for (int r = 0; r < n; r++) {
        real *restrict orow = o + (size_t)r * np;
        if (!m[r]) {
            memset(orow, 0, (size_t)np * sizeof(real));
            continue;
        }
        const real *xr = x + (size_t)r * ldx;
        for (int l0 = 0; l0 < np; l0 += VB) {
            vblock acc = {0};
            for (int c = 0; c < hd; c++) {
                vblock yc;
                VLOAD(yc, y + (size_t)c * np + l0);
                acc += xr[c] * yc;
            }
            VSTORE(orow + l0, acc);
        }
    }
}

/* oT[c][l] = sum_r x_rc y[r][l] over the real rows r in order (x has ld ldx, y is
 * n x np), for the hd columns c and np lanes: CB columns at a time, so that CB sums
 * are in flight. hd is a multiple of cb. */
NN_INLINE void prod_over_r(real *restrict oT, const real *restrict x, int ldx, const real *restrict y, const uint8_t *m, int n, int np, int hd, int cb) {
    for (int c0 = 0; c0 < hd; c0 += cb)
        for (int l0 = 0; l0 < np; l0 += VB) {
            vblock acc[CB];
            for (int t = 0; t < cb; t++)
                acc[t] = (vblock){0};
            for (int r = 0; r < n; r++) {
                if (!m[r])
                    continue;
                vblock yr;
                VLOAD(yr, y + (size_t)r * np + l0);
                const real *xr = x + (size_t)r * ldx + c0;
                for (int t = 0; t < cb; t++)
                    acc[t] += xr[t] * yr;
            }
            for (int t = 0; t < cb; t++)
                VSTORE(oT + (size_t)(c0 + t) * np + l0, acc[t]);
        }
}

/* xT (hd x np) = the n x hd block x (ld ldx) transposed and times s, 0 in the lanes of
 * padding positions and past n */
NN_INLINE void transpose_in(real *restrict xT, const real *restrict x, int ldx, const uint8_t *m, int n, int np, int hd, real s) {
    for (int c = 0; c < hd; c++)
        for (int i = 0; i < np; i++)
            xT[(size_t)c * np + i] = 0;
    for (int i = 0; i < n; i++)
        if (m[i])
            for (int c = 0; c < hd; c++)
                xT[(size_t)c * np + i] = s * x[(size_t)i * ldx + c];
}

/* One (row, head) forward over its n positions (the first and last are real): AT (n, np)
 * gets AT[j][i] = A[i, j], with 0 rows for padding keys and 0 lanes for padding queries
 * and past n; ctx (n, hd; ld C) gets A v. q, k, v have ld C3. ws: 2 hd np + 2 np reals. */
NN_INLINE void head_forward(real *restrict AT, real *restrict ctx, real *restrict ws, const real *q, const real *k, const real *v, const uint8_t *m, int n, int hd, int cb, int C, int C3, real scale) {
    int np = pad_lanes(n);
    real *restrict qT = ws, *restrict cT = ws + (size_t)hd * np, *restrict mx = cT + (size_t)hd * np, *restrict inv = mx + np;
    /* scores S[i, j] = sum_c (scale q_ic) k_jc, lanes over the queries i */
    transpose_in(qT, q, C3, m, n, np, hd, scale);
    prod_over_c(AT, k, C3, qT, m, n, np, hd);
    /* softmax over the real keys of each query (key 0 is real) */
    memcpy(mx, AT, (size_t)np * sizeof(real));
    for (int j = 1; j < n; j++) {
        if (!m[j])
            continue;
        const real *restrict s = AT + (size_t)j * np;
        for (int i = 0; i < np; i++)
            mx[i] = s[i] > mx[i] ? s[i] : mx[i];
    }
    memset(inv, 0, (size_t)np * sizeof(real));
    for (int j = 0; j < n; j++) {
        if (!m[j])
            continue;
        real *restrict s = AT + (size_t)j * np;
        for (int i = 0; i < np; i++) {
            s[i] = nn_exp(s[i] - mx[i]);
            inv[i] += s[i];
        }
    }
    /* the sums are >= 1 (the max gives exp 0); padding queries and lanes past n get 0.
     * Their lanes of qT are 0, so their scores are 0 and their exps finite: times 0 is
     * exactly 0, whatever values they hold */
    for (int i = 0; i < np; i++) {
        real r = (real)1 / inv[i];
        inv[i] = i < n && m[i] ? r : 0;
    }
    for (int j = 0; j < n; j++) {
        if (!m[j])
            continue;
        real *restrict s = AT + (size_t)j * np;
        for (int i = 0; i < np; i++)
            s[i] *= inv[i];
    }
    /* ctx = A v, lanes over the queries, then back to rows */
    prod_over_r(cT, v, C3, AT, m, n, np, hd, cb);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < hd; c++)
            ctx[(size_t)i * C + c] = cT[(size_t)c * np + i];
}

/* One (row, head) backward, with ctx = A v, A = softmax(S) row-wise, S = scale q k^T:
 *   dA = dctx v^T,  dv = A^T dctx,
 *   dS_ij = A_ij (dA_ij - sum_k A_ik dA_ik)   (softmax backward; scale folded in)
 *   dq = scale dS k,  dk = scale dS^T q
 * written, not added: the head's columns of the row's real range are its alone.
 * dA and dS are kept transposed like AT, so that the softmax backward runs over lanes of
 * queries with no reduction; the four products (n x n by n x hd) are gemms, which take
 * the transposed operands for free. Padding keys and padding queries have A = 0, hence
 * dS = 0 and no gradient. dq, dk, dv and q, k, v have ld C3, dctx ld C. ws: n np + np. */
NN_INLINE void head_backward(real *restrict dq, real *restrict dk, real *restrict dv, real *restrict ws, const real *restrict AT, const real *dctx, const real *q, const real *k, const real *v, int n, int hd, int C, int C3, real scale) {
    int np = pad_lanes(n);
    real *restrict dST = ws, *restrict dot = ws + (size_t)n * np;
    /* dAT[j][i] = v_j . dctx_i; dv = AT dctx */
    AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, 1, v, C3, dctx, C, 0, dST, np);
    AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1, AT, np, dctx, C, 0, dv, C3);
    memset(dot, 0, (size_t)n * sizeof(real));
    for (int j = 0; j < n; j++) {
        const real *restrict a = AT + (size_t)j * np, *restrict d = dST + (size_t)j * np;
        for (int i = 0; i < n; i++)
            dot[i] += a[i] * d[i];
    }
    for (int j = 0; j < n; j++) {
        const real *restrict a = AT + (size_t)j * np;
        real *restrict d = dST + (size_t)j * np;
        for (int i = 0; i < n; i++)
            d[i] = a[i] * (d[i] - dot[i]) * scale;
    }
    /* dq = dST^T k, dk = dST q */
    AMEIR_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, n, 1, dST, np, k, C3, 0, dq, C3);
    AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1, dST, np, q, C3, 0, dk, C3);
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
            real *AT = a.att + ((size_t)b * H + h) * L * padded_len(L), *ch = ctx + h * hd;
            const real *q = qkv + h * hd, *k = q + C, *v = q + 2 * C;
            /* the common head sizes as constants, so that the loops over a head's
             * columns compile to straight vector code */
            switch (hd) {
            case 8: head_forward(AT, ch, a.ws, q, k, v, m, n, 8, 4, C, C3, scale); break;
            case 16: head_forward(AT, ch, a.ws, q, k, v, m, n, 16, 4, C, C3, scale); break;
            case 32: head_forward(AT, ch, a.ws, q, k, v, m, n, 32, 4, C, C3, scale); break;
            default: head_forward(AT, ch, a.ws, q, k, v, m, n, hd, hd % 4 ? 1 : 4, C, C3, scale);
            }
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
    for (int b = 0; b < B; b++) {
        int lo, hi;
        real_range(mask + (size_t)b * L, L, &lo, &hi);
        int n = hi - lo;
        /* the heads write the real range; the rows around it get no gradient */
        memset(a.dqkv + (size_t)b * L * C3, 0, (size_t)lo * C3 * sizeof(real));
        memset(a.dqkv + ((size_t)b * L + hi) * C3, 0, (size_t)(L - hi) * C3 * sizeof(real));
        const real *qkv = a.qkv + ((size_t)b * L + lo) * C3;
        real *dqkv = a.dqkv + ((size_t)b * L + lo) * C3;
        const real *dctx = a.dctx + ((size_t)b * L + lo) * C;
        for (int h = 0; h < H && n > 0; h++) {
            const real *AT = a.att + ((size_t)b * H + h) * L * padded_len(L), *dch = dctx + h * hd;
            const real *q = qkv + h * hd, *k = q + C, *v = q + 2 * C;
            real *dq = dqkv + h * hd, *dk = dq + C, *dv = dq + 2 * C;
            head_backward(dq, dk, dv, a.ws, AT, dch, q, k, v, n, hd, C, C3, scale);
        }
    }
    ameir_linear_backward(dinp, dw_in, db_in, a.dqkv, inp, w_in, (int)BL, C, C3);
}

/* The layer in plain loops over the whole L x L, with no row ranges and no transposes:
 * the reference the unit test compares against. Same act (and size); A is stored row
 * by row (B, H, L, L) in the AT area. */
void ameir_attention_forward_naive(real *out, real *act, const real *inp, const real *w_in, const real *b_in, const real *w_out, const real *b_out, const uint8_t *mask, int B, int L, int C, int H) {
    att_act a = att_split(act, B, L, C, H);
    int hd = C / H, C3 = 3 * C;
    real scale = (real)1 / AMEIR_SQRT((real)hd);
    ameir_linear_forward_naive(a.qkv, inp, w_in, b_in, B * L, C, C3);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                real *A = a.att + (((size_t)b * H + h) * L + i) * L, *ctx = a.ctx + ((size_t)b * L + i) * C + h * hd;
                const real *q = a.qkv + ((size_t)b * L + i) * C3 + h * hd;
                const uint8_t *m = mask + (size_t)b * L;
                real top = -(real)INFINITY, sum = 0;
                for (int j = 0; j < L; j++) {
                    const real *k = a.qkv + ((size_t)b * L + j) * C3 + C + h * hd;
                    real s = 0;
                    for (int c = 0; c < hd; c++)
                        s += q[c] * k[c];
                    A[j] = s * scale;
                    if (m[j] && A[j] > top)
                        top = A[j];
                }
                for (int j = 0; j < L; j++) {
                    A[j] = m[i] && m[j] ? AMEIR_EXP(A[j] - top) : 0;
                    sum += A[j];
                }
                for (int c = 0; c < hd; c++)
                    ctx[c] = 0;
                for (int j = 0; j < L; j++) {
                    if (sum > 0)
                        A[j] /= sum;
                    const real *v = a.qkv + ((size_t)b * L + j) * C3 + 2 * C + h * hd;
                    for (int c = 0; c < hd; c++)
                        ctx[c] += A[j] * v[c];
                }
            }
    ameir_linear_forward_naive(out, a.ctx, w_out, b_out, B * L, C, C);
    for (size_t r = 0; r < (size_t)B * L; r++)
        if (!mask[r])
            memset(out + r * C, 0, (size_t)C * sizeof(real));
}

void ameir_attention_backward_naive(real *dinp, real *dw_in, real *db_in, real *dw_out, real *db_out, const real *dout, real *act, const real *inp, const real *w_in, const real *w_out, const uint8_t *mask, int B, int L, int C, int H) {
    att_act a = att_split(act, B, L, C, H);
    int hd = C / H, C3 = 3 * C;
    size_t BL = (size_t)B * L;
    real scale = (real)1 / AMEIR_SQRT((real)hd);
    /* out rows at padding queries are 0: they pass no gradient */
    memset(a.dctx, 0, BL * C * sizeof(real));
    for (size_t r = 0; r < BL; r++) {
        if (!mask[r])
            continue;
        for (int o = 0; o < C; o++) {
            real g = dout[r * C + o];
            for (int c = 0; c < C; c++) {
                a.dctx[r * C + c] += g * w_out[(size_t)o * C + c];
                if (dw_out)
                    dw_out[(size_t)o * C + c] += g * a.ctx[r * C + c];
            }
            if (db_out)
                db_out[o] += g;
        }
    }
    memset(a.dqkv, 0, BL * C3 * sizeof(real));
    real *dA = a.ws;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                const real *A = a.att + (((size_t)b * H + h) * L + i) * L, *g = a.dctx + ((size_t)b * L + i) * C + h * hd;
                size_t ri = (size_t)b * L + i;
                real dot = 0;
                for (int j = 0; j < L; j++) {
                    const real *v = a.qkv + ((size_t)b * L + j) * C3 + 2 * C + h * hd;
                    dA[j] = 0;
                    for (int c = 0; c < hd; c++)
                        dA[j] += g[c] * v[c];
                    dot += A[j] * dA[j];
                }
                for (int j = 0; j < L; j++) {
                    size_t rj = (size_t)b * L + j;
                    real dS = A[j] * (dA[j] - dot) * scale;
                    for (int c = 0; c < hd; c++) {
                        size_t qc = h * hd + c;
                        a.dqkv[ri * C3 + qc] += dS * a.qkv[rj * C3 + C + qc];
                        a.dqkv[rj * C3 + C + qc] += dS * a.qkv[ri * C3 + qc];
                        a.dqkv[rj * C3 + 2 * C + qc] += A[j] * g[c];
                    }
                }
            }
    ameir_linear_backward_naive(dinp, dw_in, db_in, a.dqkv, inp, w_in, (int)BL, C, C3);
}
