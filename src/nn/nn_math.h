/* Private to src/nn: exp and the functions built on it, written so that loops over them
 * vectorise. In the float build exp is Cephes' expf (range reduction to |r| <= ln2/2 and
 * a degree-6 polynomial, about 1.3 ulp) with no calls and no float operation under a
 * condition: libm's expf is a call per element and was the largest single cost of
 * attention, GRU and DIN. In the double build (gradient checks) it is libm's exp. */
#ifndef AMEIR_NN_MATH_H
#define AMEIR_NN_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ameir/real.h"

#ifdef AMEIR_REAL_DOUBLE
static inline real nn_exp(real x) { return exp(x); }
static inline real nn_copysign(real x, real s) { return copysign(x, s); }
#else
static inline real nn_exp(real x) {
    /* n = round(x / ln2) by adding 1.5 * 2^23: t's low mantissa bits then hold n, so
     * 2^n is built with integer operations only. Every float operation runs for every x;
     * only bit masks depend on x's range. A float operation under a condition (as a
     * clamp of x, or a float select GCC turns into a branch, leaves) may trap, and with
     * -ftrapping-math (the default) GCC then does not vectorise the loop. */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    int32_t k = tbits - 0x4B400000; /* n, while |n| < 2^22 */
    k = k > 127 ? 127 : k;
    k = k < -126 ? -126 : k;
    int32_t bits = (k + 127) * (1 << 23);
    float scale, y;
    memcpy(&scale, &bits, sizeof scale);
    y = p * scale;
    /* outside the normal range: 0 below (exp(-87.3) is the smallest normal), inf above;
     * NaN passes both masks and stays NaN through r */
    int32_t yb;
    memcpy(&yb, &y, sizeof yb);
    int32_t keep = -(int32_t)((x >= -87.0f) | (x != x));
    int32_t big = -(int32_t)(x > 88.7f);
    yb = (yb & keep & ~big) | (0x7f800000 & big);
    memcpy(&y, &yb, sizeof y);
    return y;
}
static inline real nn_copysign(real x, real s) { return copysignf(x, s); }
#endif

/* 1 / (1 + exp(-x)): no branch and no cancellation on either side */
static inline real nn_sigmoid(real x) { return (real)1 / ((real)1 + nn_exp(-x)); }

/* tanh through exp of -2|x| (never overflows); absolute error about one rounding of 1;
 * the sign goes back with copysign, a bit operation, so loops still vectorise */
static inline real nn_tanh(real x) {
    real e = nn_exp(-2 * AMEIR_FABS(x));
    return nn_copysign(((real)1 - e) / ((real)1 + e), x);
}

#endif
