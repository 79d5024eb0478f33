/* A set of architectures by hash (open addressing), so that drawing n distinct candidates
 * costs O(n) comparisons instead of O(n^2): searches of 10^4-10^5 trials draw thousands a
 * generation. Holds indices into an array (base, stride) of full archs (the draws) or of
 * packed ones (the trial table's, which may move: the owner updates base); equal hashes are confirmed
 * with ameir_arch_equal or memcmp. The hash reads the structs, not the canonical JSON:
 * printing every arch to text was most of a draw's cost. */
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "space_internal.h"

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Of the parts ameir_arch_equal compares, so equal archs hash alike. */
static uint64_t arch_hash(const ameir_arch *a) {
    const int head[6] = {a->n_blocks, a->aggregate, a->positions, a->n_interactions, a->n_mlp, a->shortcut};
    uint64_t h = fnv(0xcbf29ce484222325ULL, head, sizeof head);
    h = fnv(h, a->blocks, (size_t)a->n_blocks * sizeof a->blocks[0]);
    for (int i = 0; i < a->n_interactions; i++) {
        h = fnv(h, &a->interactions[i].order, sizeof a->interactions[i].order);
        for (int j = 0; j < a->interactions[i].order; j++)
            h = fnv(h, a->interactions[i].fields[j], strnlen(a->interactions[i].fields[j], AMEIR_FIELD_NAME_MAX) + 1);
    }
    return fnv(h, a->mlp, (size_t)a->n_mlp * sizeof a->mlp[0]);
}

static uint64_t hash_of(const ameir_arch_set *s, const void *a) {
    return s->packed ? ameir_arch_packed_hash(a) : arch_hash(a);
}

static int same(const ameir_arch_set *s, const void *a, const void *b) {
    return s->packed ? ameir_arch_packed_equal(a, b) : ameir_arch_equal(a, b);
}

int ameir_arch_set_init(ameir_arch_set *s, size_t expect, int packed, const void *base, size_t stride) {
    size_t cap = 16;
    while (cap < 2 * expect + 16)
        cap *= 2;
    s->slot = calloc(cap, sizeof *s->slot);
    s->hash = calloc(cap, sizeof *s->hash);
    s->cap = cap, s->n = 0, s->packed = packed, s->base = base, s->stride = stride;
    if (!s->slot || !s->hash) {
        ameir_arch_set_free(s);
        return ameir_fail(AMEIR_ENOMEM, "search: no memory for a set of %zu architectures", expect);
    }
    return 0;
}

void ameir_arch_set_free(ameir_arch_set *s) {
    free(s->slot);
    free(s->hash);
    s->slot = NULL, s->hash = NULL, s->cap = s->n = 0;
}

static const void *member(const ameir_arch_set *s, size_t slot) {
    return (const char *)s->base + (s->slot[slot] - 1) * s->stride;
}

/* The slot holding a, or the empty one where it would go. */
static size_t find(const ameir_arch_set *s, const void *a, uint64_t h) {
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slot[i] && !(s->hash[i] == h && same(s, member(s, i), a)))
        i = (i + 1) & (s->cap - 1);
    return i;
}

int ameir_arch_set_has(const ameir_arch_set *s, const void *a) { return s->slot[find(s, a, hash_of(s, a))] != 0; }

int ameir_arch_set_add(ameir_arch_set *s, size_t index) {
    const void *a = (const char *)s->base + index * s->stride;
    uint64_t h = hash_of(s, a);
    size_t i = find(s, a, h);
    if (s->slot[i])
        return 0;
    if (2 * (s->n + 1) > s->cap) { /* grow: rehash the slots */
        ameir_arch_set big;
        AMEIR_TRY(ameir_arch_set_init(&big, s->cap, s->packed, s->base, s->stride));
        for (size_t j = 0; j < s->cap; j++)
            if (s->slot[j]) {
                size_t k = (size_t)s->hash[j] & (big.cap - 1);
                while (big.slot[k]) /* members are distinct: the first empty slot */
                    k = (k + 1) & (big.cap - 1);
                big.slot[k] = s->slot[j], big.hash[k] = s->hash[j], big.n++;
            }
        ameir_arch_set_free(s);
        *s = big;
        i = find(s, a, h);
    }
    s->slot[i] = index + 1, s->hash[i] = h, s->n++;
    return 1;
}
