/* Layer norm over the last dimension (PyTorch nn.LayerNorm, eps 1e-5, biased variance).
 * inp (N, C), w (C), b (C), mask (N) or NULL, out (N, C), mean (N), rstd (N).
 * Rows with mask 0 (padding positions) give out = 0, mean = rstd = 0. */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

#define LN_EPS 1e-5

/* A row's sums run in 8 lanes (element c into lane c % 8) combined in a fixed tree: one
 * vector of partial sums instead of a chain of C dependent adds, and the same order, hence
 * the same bits, in every SIMD clone. */
#define LN_LANES 8
NN_INLINE real lanes_total(const real *a) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

NN_SIMD_CLONES void ameir_layernorm_forward(real *out, real *mean, real *rstd, const real *inp, const real *w, const real *b, const uint8_t *mask, int N, int C) {
    AMEIR_ASSERT(N >= 0 && C > 0);
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C;
        real *o = out + (size_t)n * C;
        if (mask && !mask[n]) {
            memset(o, 0, (size_t)C * sizeof(real));
            mean[n] = 0;
            rstd[n] = 0;
            continue;
        }
        real acc[LN_LANES] = {0};
        int c0 = 0;
        for (; c0 + LN_LANES <= C; c0 += LN_LANES)
            for (int j = 0; j < LN_LANES; j++)
                acc[j] += x[c0 + j];
        for (int c = c0; c < C; c++)
            acc[c - c0] += x[c];
        real mu = lanes_total(acc) / (real)C;
        for (int j = 0; j < LN_LANES; j++)
            acc[j] = 0;
        for (c0 = 0; c0 + LN_LANES <= C; c0 += LN_LANES)
            for (int j = 0; j < LN_LANES; j++) {
                real dx = x[c0 + j] - mu;
                acc[j] += dx * dx;
            }
        for (int c = c0; c < C; c++) {
            real dx = x[c] - mu;
            acc[c - c0] += dx * dx;
        }
        real var = lanes_total(acc) / (real)C;
        real rs = (real)1 / AMEIR_SQRT(var + (real)LN_EPS);
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - mu) * rs * w[c] + b[c];
        mean[n] = mu;
        rstd[n] = rs;
    }
}

/* One row's parameter and input gradients; restrict (the buffers never overlap), so the
 * loops vectorise with no run-time overlap checks. */
NN_INLINE void ln_params_row(real *restrict dw, real *restrict db, const real *restrict g, const real *restrict x,
                             real mu, real rs, int C) {
    for (int c = 0; c < C; c++) {
        dw[c] += g[c] * ((x[c] - mu) * rs);
        db[c] += g[c];
    }
}

NN_INLINE void ln_input_row(real *restrict dx, const real *restrict g, const real *restrict x, const real *restrict w,
                            real mu, real rs, real sum_d, real sum_dx, int C) {
    for (int c = 0; c < C; c++) {
        real xh = (x[c] - mu) * rs;
        dx[c] += rs * (g[c] * w[c] - sum_d - xh * sum_dx);
    }
}

NN_SIMD_CLONES void ameir_layernorm_backward(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, const real *mean, const real *rstd, const uint8_t *mask, int N, int C) {
    AMEIR_ASSERT(N >= 0 && C > 0);
    /* With xhat = (x - mu) rstd and out = xhat w + b:
     *   dw += dout xhat, db += dout, dxhat = dout w;
     * mu and rstd depend on every x of the row, which gives
     *   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
    for (int n = 0; n < N; n++) {
        if (mask && !mask[n])
            continue;
        const real *x = inp + (size_t)n * C;
        const real *g = dout + (size_t)n * C;
        real mu = mean[n], rs = rstd[n];
        real ad[LN_LANES] = {0}, adx[LN_LANES] = {0};
        int c0 = 0;
        for (; c0 + LN_LANES <= C; c0 += LN_LANES)
            for (int j = 0; j < LN_LANES; j++) {
                real xh = (x[c0 + j] - mu) * rs, d = g[c0 + j] * w[c0 + j];
                ad[j] += d;
                adx[j] += d * xh;
            }
        for (int c = c0; c < C; c++) {
            real xh = (x[c] - mu) * rs, d = g[c] * w[c];
            ad[c - c0] += d;
            adx[c - c0] += d * xh;
        }
        real sum_d = lanes_total(ad) / (real)C, sum_dx = lanes_total(adx) / (real)C;
        if (dw && db)
            ln_params_row(dw, db, g, x, mu, rs, C);
        else
            for (int c = 0; c < C; c++) {
                if (dw)
                    dw[c] += g[c] * ((x[c] - mu) * rs);
                if (db)
                    db[c] += g[c];
            }
        if (dinp)
            ln_input_row(dinp + (size_t)n * C, g, x, w, mu, rs, sum_d, sum_dx, C);
    }
}
