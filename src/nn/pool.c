/* Average and max pooling over the sequence: kernel 3, stride 1, "same" padding,
 * over the real positions of the window only.
 * inp (B, L, C), mask (B, L), out (B, L, C), argmax (B, L, C).
 * At a real position l the window {l-1, l, l+1} holds at least l itself, so the
 * mean and max are always defined; padding positions give 0. */
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

void ameir_avgpool_forward(real *out, const real *inp, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    for (int b = 0; b < B; b++) {
        const uint8_t *m = mask + (size_t)b * L;
        const real *x = inp + (size_t)b * L * C;
        real *y = out + (size_t)b * L * C;
        for (int l = 0; l < L; l++) {
            real *o = y + (size_t)l * C;
            memset(o, 0, (size_t)C * sizeof(real));
            if (!m[l])
                continue;
            int count = 0;
            for (int p = l - 1; p <= l + 1; p++) {
                if (p < 0 || p >= L || !m[p])
                    continue;
                const real *xp = x + (size_t)p * C;
                for (int c = 0; c < C; c++)
                    o[c] += xp[c];
                count++;
            }
            real inv = (real)1 / (real)count;
            for (int c = 0; c < C; c++)
                o[c] *= inv;
        }
    }
}

void ameir_avgpool_backward(real *dinp, const real *dout, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    /* out[l] = (1/count_l) sum_{p in window, real} x[p], so x[p] += dout[l] / count_l */
    for (int b = 0; b < B; b++) {
        const uint8_t *m = mask + (size_t)b * L;
        const real *g = dout + (size_t)b * L * C;
        real *dx = dinp + (size_t)b * L * C;
        for (int l = 0; l < L; l++) {
            if (!m[l])
                continue;
            int count = 0;
            for (int p = l - 1; p <= l + 1; p++)
                count += p >= 0 && p < L && m[p];
            real inv = (real)1 / (real)count;
            const real *gl = g + (size_t)l * C;
            for (int p = l - 1; p <= l + 1; p++) {
                if (p < 0 || p >= L || !m[p])
                    continue;
                real *dp = dx + (size_t)p * C;
                for (int c = 0; c < C; c++)
                    dp[c] += gl[c] * inv;
            }
        }
    }
}

/* if v > *o: *o = v, *am = p. As bit masks: a float select would be turned into a
 * branch and keep the loop from vectorising. */
static inline void max_step(real *o, int32_t *am, real v, int32_t p) {
    int gt = v > *o;
    *am = gt ? p : *am;
#ifdef AMEIR_REAL_DOUBLE
    int64_t mask = -(int64_t)gt, vb, ob;
#else
    int32_t mask = -(int32_t)gt, vb, ob;
#endif
    memcpy(&vb, &v, sizeof vb);
    memcpy(&ob, o, sizeof ob);
    ob = (vb & mask) | (ob & ~mask);
    memcpy(o, &ob, sizeof ob);
}

void ameir_maxpool_forward(real *out, int32_t *argmax, const real *inp, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    for (int b = 0; b < B; b++) {
        const uint8_t *m = mask + (size_t)b * L;
        const real *x = inp + (size_t)b * L * C;
        for (int l = 0; l < L; l++) {
            size_t off = ((size_t)b * L + l) * C;
            real *o = out + off;
            int32_t *am = argmax + off;
            if (!m[l]) {
                memset(o, 0, (size_t)C * sizeof(real));
                for (int c = 0; c < C; c++)
                    am[c] = -1;
                continue;
            }
            /* real window positions in order; strict > keeps the earliest of ties */
            int first = 1;
            for (int p = l - 1; p <= l + 1; p++) {
                if (p < 0 || p >= L || !m[p])
                    continue;
                const real *xp = x + (size_t)p * C;
                if (first) {
                    for (int c = 0; c < C; c++) {
                        o[c] = xp[c];
                        am[c] = p;
                    }
                    first = 0;
                    continue;
                }
                for (int c = 0; c < C; c++)
                    max_step(o + c, am + c, xp[c], p);
            }
        }
    }
}

void ameir_maxpool_backward(real *dinp, const real *dout, const int32_t *argmax, int B, int L, int C) {
    AMEIR_ASSERT(B >= 0 && L > 0 && C > 0);
    /* out[l,c] = x[argmax[l,c], c]: the gradient goes to the chosen position only */
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            size_t off = ((size_t)b * L + l) * C;
            for (int c = 0; c < C; c++) {
                int32_t p = argmax[off + c];
                if (p < 0)
                    continue;
                AMEIR_ASSERT(p < L);
                dinp[((size_t)b * L + p) * C + c] += dout[off + c];
            }
        }
}
