/* Aggregation of a behaviour sequence into one vector per row.
 * h (B, L, C), mask (B, L), out (B, C); DIN also t (B, C) (the target item).
 *
 * DIN activation unit: per position f = [h, t, h - t, h * t] (4C),
 * s = sigmoid(w1 f + b1) (36), a = w2 . s + b2, a = 0 at padding, out = sum_l a_l h_l.
 * w1 (36, 4C) = [Wh | Wt | Wd | Wp], b1 (36), w2 (1, 36), b2 (1).
 * The first layer is computed split: w1 f = (Wh + Wd) h + (Wt - Wd) t + Wp (h * t), so
 * the t part u = (Wt - Wd) t + b1 is one (36) vector per row and the per-position gemm
 * runs over g = [h, h * t] (2C) against wg = [Wh + Wd | Wp] (36, 2C): half the work of
 * the direct form, which the _naive functions keep as the reference.
 * act layout: G (B*L, 2C) | S (B*L, 36) | A (B*L) | WG (36, 2C) | WT (36, C) = Wt - Wd |
 *             U (B, 36) | backward scratch: DU (B, 36), DWG (36, 2C), DWT (36, C). */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

#define DIN_H AMEIR_DIN_HIDDEN
#define DIN_BUF 16384 /* reals of stack scratch for backward */

size_t ameir_din_act_size(int B, int L, int C) {
    return (size_t)B * L * ((size_t)2 * C + DIN_H + 1) + 2 * (size_t)DIN_H * 3 * C + 2 * (size_t)B * DIN_H;
}

typedef struct din_act {
    real *g, *s, *a, *wg, *wt, *u, *du, *dwg, *dwt;
} din_act;

static din_act din_split(real *act, int B, int L, int C) {
    size_t BL = (size_t)B * L;
    din_act d;
    d.g = act;
    d.s = d.g + BL * 2 * C;
    d.a = d.s + BL * DIN_H;
    d.wg = d.a + BL;
    d.wt = d.wg + (size_t)DIN_H * 2 * C;
    d.u = d.wt + (size_t)DIN_H * C;
    d.du = d.u + (size_t)B * DIN_H;
    d.dwg = d.du + (size_t)B * DIN_H;
    d.dwt = d.dwg + (size_t)DIN_H * 2 * C;
    return d;
}

/* a = w2 . s + b2 per real position (0 at padding), out = sum_l a_l h_l */
NN_SIMD_CLONES static void din_pool(real *out, real *A, const real *S, const real *h, const real *w2, const real *b2, const uint8_t *mask, int B, int L, int C) {
    for (int b = 0; b < B; b++) {
        real *o = out + (size_t)b * C;
        memset(o, 0, (size_t)C * sizeof(real));
        for (int l = 0; l < L; l++) {
            size_t r = (size_t)b * L + l;
            if (!mask[r]) {
                A[r] = 0;
                continue;
            }
            const real *s = S + r * DIN_H;
            real a = b2[0];
            for (int j = 0; j < DIN_H; j++)
                a += w2[j] * s[j];
            A[r] = a;
            const real *hr = h + r * C;
            for (int c = 0; c < C; c++)
                o[c] += a * hr[c];
        }
    }
}

NN_SIMD_CLONES void ameir_din_forward(real *out, real *act, const real *h, const real *t, const real *w1, const real *b1, const real *w2, const real *b2, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    size_t BL = (size_t)B * L;
    int C2 = 2 * C, C4 = 4 * C;
    din_act d = din_split(act, B, L, C);
    for (int j = 0; j < DIN_H; j++) {
        const real *w = w1 + (size_t)j * C4;
        real *wg = d.wg + (size_t)j * C2, *wt = d.wt + (size_t)j * C;
        for (int c = 0; c < C; c++) {
            wg[c] = w[c] + w[2 * C + c];
            wg[C + c] = w[3 * C + c];
            wt[c] = w[C + c] - w[2 * C + c];
        }
    }
    if (BL == 0)
        return;
    ameir_linear_forward(d.u, t, d.wt, b1, B, C, DIN_H);
    for (size_t r = 0; r < BL; r++) {
        real *g = d.g + r * C2;
        if (!mask[r]) {
            memset(g, 0, (size_t)C2 * sizeof(real));
            continue;
        }
        const real *hr = h + r * C, *tb = t + (r / L) * C;
        for (int c = 0; c < C; c++) {
            g[c] = hr[c];
            g[C + c] = hr[c] * tb[c];
        }
    }
    ameir_linear_forward(d.s, d.g, d.wg, NULL, (int)BL, C2, DIN_H);
    for (size_t r = 0; r < BL; r++) { /* padding rows are never read */
        if (!mask[r])
            continue;
        real *s = d.s + r * DIN_H;
        const real *u = d.u + (r / L) * DIN_H;
        for (int j = 0; j < DIN_H; j++)
            s[j] += u[j];
        ameir_act_forward(s, s, DIN_H, AMEIR_ACT_SIGMOID);
    }
    din_pool(out, d.a, d.s, h, w2, b2, mask, B, L, C);
}

NN_SIMD_CLONES void ameir_din_backward(real *dh, real *dt, real *dw1, real *db1, real *dw2, real *db2, const real *dout, real *act, const real *h, const real *t, const real *w1, const real *w2, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    /* out = sum_l a_l h_l:            dh_l += a_l dout,  da_l = dout . h_l
     * a = w2 . s + b2:                dw2 += da s, db2 += da, ds = da w2
     * s = sigmoid(z):                 dz = ds s (1 - s)  (0 at padding: a was forced 0)
     * z = wg g + u_b, g = [h, h*t]:   dwg += dz^T g, dg = dz wg, du_b = sum_l dz_l
     *                                 dh += dg0 + dg1 t,  dt += sum_l dg1 h_l
     * u = wt t + b1:                  dwt += du^T t, db1 += sum du, dt += du wt
     * wg = [Wh + Wd | Wp], wt = Wt - Wd: dWh += dwg0, dWd += dwg0 - dwt, dWp += dwg1,
     *                                 dWt += dwt
     * Rows go through in chunks whose dz and dg fit a stack buffer. */
    size_t BL = (size_t)B * L;
    int C2 = 2 * C, C4 = 4 * C;
    din_act d = din_split(act, B, L, C);
    AMEIR_ASSERT(DIN_H + C2 <= DIN_BUF);
    size_t R = DIN_BUF / (size_t)(DIN_H + C2);
    real buf[DIN_BUF];
    real *dZ = buf, *dG = buf + R * DIN_H;
    memset(d.du, 0, (size_t)B * DIN_H * sizeof(real));
    memset(d.dwg, 0, (size_t)DIN_H * (C2 + C) * sizeof(real)); /* DWG and DWT */
    for (size_t r0 = 0; r0 < BL; r0 += R) {
        size_t n = BL - r0 < R ? BL - r0 : R;
        for (size_t j = 0; j < n; j++) {
            size_t r = r0 + j;
            real *dz = dZ + j * DIN_H;
            if (!mask[r]) {
                memset(dz, 0, DIN_H * sizeof(real));
                continue;
            }
            const real *g = dout + (r / L) * C, *hr = h + r * C, *s = d.s + r * DIN_H;
            real da = 0;
            for (int c = 0; c < C; c++)
                da += g[c] * hr[c];
            if (dh) {
                real *dhr = dh + r * C;
                for (int c = 0; c < C; c++)
                    dhr[c] += d.a[r] * g[c];
            }
            if (db2)
                db2[0] += da;
            real *du = d.du + (r / L) * DIN_H;
            for (int k = 0; k < DIN_H; k++) {
                if (dw2)
                    dw2[k] += da * s[k];
                dz[k] = da * w2[k] * s[k] * ((real)1 - s[k]);
                du[k] += dz[k];
            }
        }
        memset(dG, 0, n * C2 * sizeof(real));
        ameir_linear_backward(dG, dw1 ? d.dwg : NULL, NULL, dZ, d.g + r0 * C2, d.wg, (int)n, C2, DIN_H);
        for (size_t j = 0; j < n; j++) {
            size_t r = r0 + j;
            if (!mask[r])
                continue;
            const real *dg = dG + j * C2, *hr = h + r * C, *tb = t + (r / L) * C;
            if (dh) {
                real *dhr = dh + r * C;
                for (int c = 0; c < C; c++)
                    dhr[c] += dg[c] + dg[C + c] * tb[c];
            }
            if (dt) {
                real *dtb = dt + (r / L) * C;
                for (int c = 0; c < C; c++)
                    dtb[c] += dg[C + c] * hr[c];
            }
        }
    }
    if (BL == 0)
        return;
    ameir_linear_backward(dt, dw1 ? d.dwt : NULL, db1, d.du, t, d.wt, B, C, DIN_H);
    if (!dw1)
        return;
    for (int j = 0; j < DIN_H; j++) {
        real *w = dw1 + (size_t)j * C4;
        const real *g = d.dwg + (size_t)j * C2, *gt = d.dwt + (size_t)j * C;
        for (int c = 0; c < C; c++) {
            w[c] += g[c];
            w[C + c] += gt[c];
            w[2 * C + c] += g[c] - gt[c];
            w[3 * C + c] += g[C + c];
        }
    }
    (void)w1;
}

/* The direct form, plain loops: f = [h, t, h - t, h * t], s = sigmoid(w1 f + b1). */
void ameir_din_forward_naive(real *out, real *S, const real *h, const real *t, const real *w1, const real *b1, const real *w2, const real *b2, const uint8_t *mask, int B, int L, int C) {
    size_t BL = (size_t)B * L;
    int C4 = 4 * C;
    for (size_t r = 0; r < BL; r++) {
        if (!mask[r])
            continue;
        const real *hr = h + r * C, *tb = t + (r / L) * C;
        for (int j = 0; j < DIN_H; j++) {
            const real *w = w1 + (size_t)j * C4;
            real z = b1[j];
            for (int c = 0; c < C; c++)
                z += w[c] * hr[c] + w[C + c] * tb[c] + w[2 * C + c] * (hr[c] - tb[c]) + w[3 * C + c] * (hr[c] * tb[c]);
            S[r * DIN_H + j] = (real)1 / ((real)1 + AMEIR_EXP(-z));
        }
    }
    real *A = S + BL * DIN_H;
    din_pool(out, A, S, h, w2, b2, mask, B, L, C);
}

void ameir_din_backward_naive(real *dh, real *dt, real *dw1, real *db1, real *dw2, real *db2, const real *dout, const real *S, const real *h, const real *t, const real *w1, const real *w2, const uint8_t *mask, int B, int L, int C) {
    size_t BL = (size_t)B * L;
    int C4 = 4 * C;
    const real *A = S + BL * DIN_H;
    for (size_t r = 0; r < BL; r++) {
        if (!mask[r])
            continue;
        const real *g = dout + (r / L) * C, *hr = h + r * C, *tb = t + (r / L) * C, *s = S + r * DIN_H;
        real da = 0;
        for (int c = 0; c < C; c++) {
            da += g[c] * hr[c];
            dh[r * C + c] += A[r] * g[c];
        }
        db2[0] += da;
        for (int j = 0; j < DIN_H; j++) {
            dw2[j] += da * s[j];
            real dz = da * w2[j] * s[j] * ((real)1 - s[j]);
            db1[j] += dz;
            const real *w = w1 + (size_t)j * C4;
            real *dw = dw1 + (size_t)j * C4;
            for (int c = 0; c < C; c++) {
                dw[c] += dz * hr[c];
                dw[C + c] += dz * tb[c];
                dw[2 * C + c] += dz * (hr[c] - tb[c]);
                dw[3 * C + c] += dz * hr[c] * tb[c];
                dh[r * C + c] += dz * (w[c] + w[2 * C + c] + w[3 * C + c] * tb[c]);
                dt[(r / L) * C + c] += dz * (w[C + c] - w[2 * C + c] + w[3 * C + c] * hr[c]);
            }
        }
    }
}

void ameir_masked_mean_forward(real *out, const real *h, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    for (int b = 0; b < B; b++) {
        real *o = out + (size_t)b * C;
        memset(o, 0, (size_t)C * sizeof(real));
        int count = 0;
        for (int l = 0; l < L; l++) {
            size_t r = (size_t)b * L + l;
            if (!mask[r])
                continue;
            for (int c = 0; c < C; c++)
                o[c] += h[r * C + c];
            count++;
        }
        if (count > 0) {
            real inv = (real)1 / (real)count;
            for (int c = 0; c < C; c++)
                o[c] *= inv;
        }
    }
}

void ameir_masked_mean_backward(real *dh, const real *dout, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    /* out = (1/count) sum_{real l} h_l, so dh_l += dout / count at real l */
    for (int b = 0; b < B; b++) {
        int count = 0;
        for (int l = 0; l < L; l++)
            count += mask[(size_t)b * L + l] != 0;
        if (count == 0)
            continue;
        real inv = (real)1 / (real)count;
        const real *g = dout + (size_t)b * C;
        for (int l = 0; l < L; l++) {
            size_t r = (size_t)b * L + l;
            if (!mask[r])
                continue;
            for (int c = 0; c < C; c++)
                dh[r * C + c] += g[c] * inv;
        }
    }
}

/* index of the last real position of row b, or -1 */
static int last_real(const uint8_t *mask, int b, int L) {
    for (int l = L - 1; l >= 0; l--)
        if (mask[(size_t)b * L + l])
            return l;
    return -1;
}

void ameir_last_forward(real *out, const real *h, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    for (int b = 0; b < B; b++) {
        int l = last_real(mask, b, L);
        real *o = out + (size_t)b * C;
        if (l < 0)
            memset(o, 0, (size_t)C * sizeof(real));
        else
            memcpy(o, h + ((size_t)b * L + l) * C, (size_t)C * sizeof(real));
    }
}

void ameir_last_backward(real *dh, const real *dout, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    for (int b = 0; b < B; b++) {
        int l = last_real(mask, b, L);
        if (l < 0)
            continue;
        real *d = dh + ((size_t)b * L + l) * C;
        const real *g = dout + (size_t)b * C;
        for (int c = 0; c < C; c++)
            d[c] += g[c];
    }
}
