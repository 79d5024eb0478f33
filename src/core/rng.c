#include "ameir/rng.h"

#include <math.h>

#define AMEIR_GAMMA 0x9e3779b97f4a7c15ULL

ameir_rng ameir_rng_stream(uint64_t seed, uint64_t k) {
    ameir_rng r;
    r.key = ameir_mix64(ameir_mix64(seed ^ 0x5851f42d4c957f2dULL) + ameir_mix64(k + AMEIR_GAMMA));
    r.counter = 0;
    return r;
}

ameir_rng ameir_rng_split(const ameir_rng *rng, uint64_t k) {
    return ameir_rng_stream(rng->key, k);
}

uint64_t ameir_rng_u64(ameir_rng *rng) {
    rng->counter++;
    return ameir_mix64(rng->key + rng->counter * AMEIR_GAMMA);
}

uint64_t ameir_rng_below(ameir_rng *rng, uint64_t n) {
    /* rejection sampling: draw until below the largest multiple of n */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = ameir_rng_u64(rng);
    } while (x >= limit);
    return x % n;
}

double ameir_rng_uniform(ameir_rng *rng) {
    return (double)(ameir_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double ameir_rng_normal(ameir_rng *rng) {
    double u1 = ameir_rng_uniform(rng);
    double u2 = ameir_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void ameir_rng_shuffle_i64(ameir_rng *rng, int64_t *v, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ameir_rng_below(rng, i);
        int64_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

uint64_t ameir_hash_bytes(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
