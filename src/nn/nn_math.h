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

/* The element-wise loops of the hottest kernels are compiled three times, for AVX-512,
 * AVX2 and the x86-64 baseline (SSE2), and the loader picks the widest the CPU has (GCC's
 * target_clones, an ifunc). Results are the same bit for bit in every clone: the loops
 * are plain adds, multiplies and bit selects, and ISO C mode keeps GCC from contracting
 * them into fused multiply-adds. Elsewhere (another compiler or CPU), or built with
 * -DAMEIR_NO_SIMD_CLONES (to compare), it is a no-op. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__) && !defined(AMEIR_NO_SIMD_CLONES)
#define NN_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_SIMD_CLONES
#endif
/* a helper that must be inlined into its cloned caller, or it would run the baseline code */
#if defined(__GNUC__)
#define NN_INLINE static inline __attribute__((always_inline))
#else
#define NN_INLINE static inline
#endif

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

/* erf in two pieces, for loops that vectorise (libm's erff is a call per element):
 *   |x| < 0.921875:  erf(x) = x P(x^2), P of degree 6
 *   otherwise:       erfc(|x|) = exp(Q(|x|)), Q of degree 9 on [0.921875, 4] (erfc(4) is
 *                    1.5e-8, below half an ulp of 1, so |x| is clamped there)
 * fitted (weighted least squares, iterated towards minimax) to the double erf; in float
 * erf is within 1.2e-7 absolute and 1.8e-7 relative of the double erf (test_exp.c checks).
 * nn_erfc_tail gives erfc(|x|) for the second piece itself, which gelu uses to avoid the
 * cancellation of 1 + erf(x) at negative x. Both pieces are computed for every x and one
 * is kept by a bit mask, as in nn_exp. The double build uses libm's erf. */
#ifdef AMEIR_REAL_DOUBLE
static inline real nn_erf(real x) { return erf(x); }
#else
#define NN_ERF_SPLIT 0.921875f
/* a where keep is all ones, b where it is 0 */
static inline real nn_select(int32_t keep, real a, real b) {
    int32_t ab, bb;
    memcpy(&ab, &a, sizeof ab);
    memcpy(&bb, &b, sizeof bb);
    ab = (ab & keep) | (bb & ~keep);
    memcpy(&a, &ab, sizeof a);
    return a;
}
static inline real nn_erf_small(real x) {
    float s = x * x, p = 8.370439520068745e-05f;
    p = p * s + -8.142796418084987e-04f;
    p = p * s + 5.201041880755807e-03f;
    p = p * s + -2.6859403028117457e-02f;
    p = p * s + 1.128369560829743e-01f;
    p = p * s + -3.7612633746725366e-01f;
    p = p * s + 1.1283791666407372f;
    return x * p;
}
static inline real nn_erfc_tail(real x) {
    float t = fabsf(x);
    t = nn_select(-(int32_t)(t > 4.0f), 4.0f, t); /* NaN stays NaN; a bit select, not a branch */
    float q = -2.73833003804675e-08f;
    q = q * t + 2.2206709799761267e-06f;
    q = q * t + -5.141652288906133e-05f;
    q = q * t + 6.24545909689896e-04f;
    q = q * t + -4.848481554407221e-03f;
    q = q * t + 2.6603158235177657e-02f;
    q = q * t + -1.1031712509215273e-01f;
    q = q * t + -6.316378860149988e-01f;
    q = q * t + -1.1303154241933682f;
    q = q * t + 3.349180586683513e-04f;
    return nn_exp(q);
}
static inline real nn_erf(real x) {
    float big = nn_copysign(1.0f - nn_erfc_tail(x), x);
    return nn_select(-(int32_t)(fabsf(x) < NN_ERF_SPLIT), nn_erf_small(x), big);
}
#endif

/* Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF that gelu multiplies by;
 * in float from the erfc tail where |x / sqrt 2| is large, so that Phi of a negative x
 * keeps its relative accuracy (1 + erf(u) would cancel). */
#define NN_RSQRT2 ((real)0.70710678118654752440)
#ifdef AMEIR_REAL_DOUBLE
static inline real nn_normal_cdf(real x) { return (real)0.5 * ((real)1 + erf(x * NN_RSQRT2)); }
#else
static inline real nn_normal_cdf(real x) {
    float u = x * NN_RSQRT2, half_tail = 0.5f * nn_erfc_tail(u);
    float big = nn_select(-(int32_t)(u > 0), 1.0f - half_tail, half_tail);
    return nn_select(-(int32_t)(fabsf(u) < NN_ERF_SPLIT), 0.5f + 0.5f * nn_erf_small(u), big);
}
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
