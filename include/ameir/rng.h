/* Deterministic, splittable random numbers.
 *
 * A stream is a key and a counter; draw i of a stream is a 64-bit mix of (key, i), so
 * the numbers of stream k depend only on the seed and k (not on how many other streams
 * were used, nor on which rank draws them). Trials, workers, shuffles and dropout masks
 * each take their own stream: ameir_rng_stream(seed, k), and a stream can be split
 * further with ameir_rng_split(). */
#ifndef AMEIR_RNG_H
#define AMEIR_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ameir_rng {
    uint64_t key;
    uint64_t counter;
} ameir_rng;

/* The stream with index k of the given seed. */
ameir_rng ameir_rng_stream(uint64_t seed, uint64_t k);

/* A child stream of rng with index k; does not advance rng. */
ameir_rng ameir_rng_split(const ameir_rng *rng, uint64_t k);

/* Next 64 random bits. */
uint64_t ameir_rng_u64(ameir_rng *rng);

/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t ameir_rng_below(ameir_rng *rng, uint64_t n);

/* Uniform double in [0, 1) with 53 random bits. */
double ameir_rng_uniform(ameir_rng *rng);

/* Standard normal (Box-Muller, two uniforms per draw). */
double ameir_rng_normal(ameir_rng *rng);

/* Fisher-Yates shuffle of n 64-bit values in place. */
void ameir_rng_shuffle_i64(ameir_rng *rng, int64_t *v, size_t n);

/* The splitmix64 finaliser, exposed for hashing (e.g. config hashes): a bijection with good
 * avalanche, so (key + i * gamma) mixed gives independent-looking draws for every counter
 * value. Inline: prep hashes every cell with it. */
static inline uint64_t ameir_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* FNV-1a 64-bit hash of bytes, for hashing canonical texts. */
uint64_t ameir_hash_bytes(const void *data, size_t n);

#endif
