/* Layer norm over the last dimension (PyTorch nn.LayerNorm, eps 1e-5, biased variance).
 * inp (N, C), w (C), b (C), mask (N) or NULL, out (N, C), mean (N), rstd (N).
 * Rows with mask 0 (padding positions) give out = 0, mean = rstd = 0. */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

#define LN_EPS 1e-5

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
        real mu = 0;
        for (int c = 0; c < C; c++)
            mu += x[c];
        mu /= (real)C;
        real var = 0;
        for (int c = 0; c < C; c++) {
            real dx = x[c] - mu;
            var += dx * dx;
        }
        var /= (real)C;
        real rs = (real)1 / AMEIR_SQRT(var + (real)LN_EPS);
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - mu) * rs * w[c] + b[c];
        mean[n] = mu;
        rstd[n] = rs;
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
        real sum_d = 0, sum_dx = 0;
        for (int c = 0; c < C; c++) {
            real xh = (x[c] - mu) * rs;
            real d = g[c] * w[c];
            sum_d += d;
            sum_dx += d * xh;
        }
        sum_d /= (real)C;
        sum_dx /= (real)C;
        for (int c = 0; c < C; c++) {
            real xh = (x[c] - mu) * rs;
            if (dw)
                dw[c] += g[c] * xh;
            if (db)
                db[c] += g[c];
            if (dinp)
                dinp[(size_t)n * C + c] += rs * (g[c] * w[c] - sum_d - xh * sum_dx);
        }
    }
}
