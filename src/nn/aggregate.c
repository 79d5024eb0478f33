/* Aggregation of a behaviour sequence into one vector per row.
 * h (B, L, C), mask (B, L), out (B, C); DIN also t (B, C) (the target item).
 *
 * DIN activation unit: per position f = [h, t, h - t, h * t] (4C),
 * s = sigmoid(w1 f + b1) (36), a = w2 . s + b2, a = 0 at padding, out = sum_l a_l h_l.
 * w1 (36, 4C), b1 (36), w2 (1, 36), b2 (1).
 * act layout: F (B*L, 4C) | S (B*L, 36) | A (B*L). */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

#define DIN_H AMEIR_DIN_HIDDEN
#define DIN_BUF 16384 /* reals of stack scratch for backward */

size_t ameir_din_act_size(int B, int L, int C) {
    return (size_t)B * L * ((size_t)4 * C + DIN_H + 1);
}

void ameir_din_forward(real *out, real *act, const real *h, const real *t, const real *w1, const real *b1, const real *w2, const real *b2, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    size_t BL = (size_t)B * L;
    int C4 = 4 * C;
    real *F = act, *S = F + BL * C4, *A = S + BL * DIN_H;
    for (size_t r = 0; r < BL; r++) {
        real *f = F + r * C4;
        if (!mask[r]) {
            memset(f, 0, (size_t)C4 * sizeof(real));
            continue;
        }
        const real *hr = h + r * C, *tb = t + (r / L) * C;
        for (int c = 0; c < C; c++) {
            f[c] = hr[c];
            f[C + c] = tb[c];
            f[2 * C + c] = hr[c] - tb[c];
            f[3 * C + c] = hr[c] * tb[c];
        }
    }
    if (BL > 0)
        ameir_linear_forward(S, F, w1, b1, (int)BL, C4, DIN_H);
    for (size_t r = 0; r < BL; r++) /* padding rows are never read */
        if (mask[r])
            ameir_act_forward(S + r * DIN_H, S + r * DIN_H, DIN_H, AMEIR_ACT_SIGMOID);
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

void ameir_din_backward(real *dh, real *dt, real *dw1, real *db1, real *dw2, real *db2, const real *dout, const real *act, const real *h, const real *t, const real *w1, const real *w2, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    /* out = sum_l a_l h_l:            dh_l += a_l dout,  da_l = dout . h_l
     * a = w2 . s + b2:                dw2 += da s, db2 += da, ds = da w2
     * s = sigmoid(z):                 dz = ds s (1 - s)  (0 at padding: a was forced 0)
     * z = w1 f + b1 (a linear layer): dw1 += dz^T f, db1 += sum dz, df = dz w1
     * f = [h, t, h - t, h * t]:       dh += df0 + df2 + df3 t,  dt += df1 - df2 + df3 h
     * Rows go through in chunks whose dz and df fit a stack buffer. */
    size_t BL = (size_t)B * L;
    int C4 = 4 * C;
    const real *F = act, *S = F + BL * C4, *A = S + BL * DIN_H;
    AMEIR_ASSERT(DIN_H + C4 <= DIN_BUF);
    size_t R = DIN_BUF / (size_t)(DIN_H + C4);
    real buf[DIN_BUF];
    real *dZ = buf, *dF = buf + R * DIN_H;
    for (size_t r0 = 0; r0 < BL; r0 += R) {
        size_t n = BL - r0 < R ? BL - r0 : R;
        for (size_t j = 0; j < n; j++) {
            size_t r = r0 + j;
            real *dz = dZ + j * DIN_H;
            if (!mask[r]) {
                memset(dz, 0, DIN_H * sizeof(real));
                continue;
            }
            const real *g = dout + (r / L) * C, *hr = h + r * C, *s = S + r * DIN_H;
            real da = 0;
            for (int c = 0; c < C; c++)
                da += g[c] * hr[c];
            if (dh) {
                real *dhr = dh + r * C;
                for (int c = 0; c < C; c++)
                    dhr[c] += A[r] * g[c];
            }
            if (db2)
                db2[0] += da;
            for (int k = 0; k < DIN_H; k++) {
                if (dw2)
                    dw2[k] += da * s[k];
                dz[k] = da * w2[k] * s[k] * ((real)1 - s[k]);
            }
        }
        memset(dF, 0, n * C4 * sizeof(real));
        ameir_linear_backward(dF, dw1, db1, dZ, F + r0 * C4, w1, (int)n, C4, DIN_H);
        for (size_t j = 0; j < n; j++) {
            size_t r = r0 + j;
            if (!mask[r])
                continue;
            const real *df = dF + j * C4, *hr = h + r * C, *tb = t + (r / L) * C;
            if (dh) {
                real *dhr = dh + r * C;
                for (int c = 0; c < C; c++)
                    dhr[c] += df[c] + df[2 * C + c] + df[3 * C + c] * tb[c];
            }
            if (dt) {
                real *dtb = dt + (r / L) * C;
                for (int c = 0; c < C; c++)
                    dtb[c] += df[C + c] - df[2 * C + c] + df[3 * C + c] * hr[c];
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
