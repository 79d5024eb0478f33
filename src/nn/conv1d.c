/* Conv1d over the sequence (PyTorch nn.Conv1d, C -> C channels, "same" padding).
 * inp (B, L, C), mask (B, L), w (C_out, C_in, K), b (C), out (B, L, C).
 * out[b,l,o] = b[o] + sum_{i,k} w[o,i,k] x[b, l+k-K/2, i] at real positions l, where
 * x is inp at real positions and 0 at padding and outside the sequence; out = 0 at
 * padding. As im2col: col[(b,l), i*K+k] = x[b, l+k-K/2, i], so out = col w^T with w
 * seen as (C, C*K), PyTorch's own layout flattened. The real positions are processed
 * in chunks whose im2col rows fit in a fixed stack buffer (no allocation per step). */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

#define CONV_BUF AMEIR_CONV_SCRATCH /* reals of stack scratch per call */
#define CONV_MAX_ROWS 512

/* col (C*K) for position l of one sequence x (L, C) with mask m (L) */
static void im2col_row(real *col, const real *x, const uint8_t *m, int l, int L, int C, int K) {
    int half = K / 2;
    for (int k = 0; k < K; k++) {
        int p = l + k - half;
        if (p < 0 || p >= L || !m[p]) {
            for (int i = 0; i < C; i++)
                col[i * K + k] = 0;
        } else {
            const real *xp = x + (size_t)p * C;
            for (int i = 0; i < C; i++)
                col[i * K + k] = xp[i];
        }
    }
}

static int conv_rows(int per_row) {
    AMEIR_ASSERT(per_row <= CONV_BUF);
    int R = CONV_BUF / per_row;
    return R < CONV_MAX_ROWS ? R : CONV_MAX_ROWS;
}

NN_SIMD_CLONES void ameir_conv1d_forward(real *out, const real *inp, const real *w, const real *b, const uint8_t *mask, int B, int L, int C, int K) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0 && K > 0 && K % 2 == 1);
    int CK = C * K;
    int R = conv_rows(CK + C);
    real buf[CONV_BUF];
    int pos[CONV_MAX_ROWS];
    real *col = buf, *och = buf + (size_t)R * CK;
    int n = 0;
    size_t BL = (size_t)B * L;
    for (size_t r = 0; r <= BL; r++) {
        if (r < BL) {
            if (!mask[r]) {
                memset(out + r * C, 0, (size_t)C * sizeof(real));
                continue;
            }
            size_t bi = r / L;
            int l = (int)(r % L);
            im2col_row(col + (size_t)n * CK, inp + bi * L * C, mask + bi * L, l, L, C, K);
            pos[n++] = (int)r;
        }
        if (n == R || (r == BL && n > 0)) {
            ameir_gemm_rows(och, C, col, CK, w, n, CK, C, 1, 0);
            for (int j = 0; j < n; j++) {
                real *o = out + (size_t)pos[j] * C;
                const real *s = och + (size_t)j * C;
                for (int c = 0; c < C; c++)
                    o[c] = s[c] + (b ? b[c] : 0);
            }
            n = 0;
        }
    }
}

NN_SIMD_CLONES void ameir_conv1d_backward(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, const uint8_t *mask, int B, int L, int C, int K) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0 && K > 0 && K % 2 == 1);
    /* Only real output positions depend on anything (padding outputs are constant 0),
     * so only their dout rows (dch) enter: out = col w^T + b gives
     *   dw += dch^T col,  db += sum dch,  dcol = dch w,
     * and col2im adds dcol[(b,l), i*K+k] to dinp[b, l+k-K/2, i] where that position is
     * real (padding and out-of-range entries of col were constant zeros). */
    int CK = C * K, half = K / 2;
    int R = conv_rows(2 * CK + C);
    real buf[CONV_BUF];
    int pos[CONV_MAX_ROWS];
    real *col = buf, *dcol = buf + (size_t)R * CK, *dch = buf + (size_t)2 * R * CK;
    int n = 0;
    size_t BL = (size_t)B * L;
    for (size_t r = 0; r <= BL; r++) {
        if (r < BL) {
            if (!mask[r])
                continue;
            size_t bi = r / L;
            int l = (int)(r % L);
            if (dw)
                im2col_row(col + (size_t)n * CK, inp + bi * L * C, mask + bi * L, l, L, C, K);
            memcpy(dch + (size_t)n * C, dout + r * C, (size_t)C * sizeof(real));
            pos[n++] = (int)r;
        }
        if (!(n == R || (r == BL && n > 0)))
            continue;
        if (dw)
            AMEIR_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, C, CK, n, 1, dch, C, col, CK, 1, dw, CK);
        if (db)
            for (int j = 0; j < n; j++)
                for (int c = 0; c < C; c++)
                    db[c] += dch[(size_t)j * C + c];
        if (dinp) {
            AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, CK, C, 1, dch, C, w, CK, 0, dcol, CK);
            for (int j = 0; j < n; j++) {
                size_t bi = (size_t)pos[j] / L;
                int l = pos[j] % L;
                const uint8_t *m = mask + bi * L;
                const real *dc = dcol + (size_t)j * CK;
                for (int k = 0; k < K; k++) {
                    int p = l + k - half;
                    if (p < 0 || p >= L || !m[p])
                        continue;
                    real *dx = dinp + (bi * L + p) * C;
                    for (int i = 0; i < C; i++)
                        dx[i] += dc[i * K + k];
                }
            }
        }
        n = 0;
    }
}
