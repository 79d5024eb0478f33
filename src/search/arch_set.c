/* A set of architectures by hash (open addressing), so that drawing n distinct candidates
 * costs O(n) comparisons instead of O(n^2): searches of 10^4-10^5 trials draw thousands a
 * generation. Holds pointers; equal hashes are confirmed with ameir_arch_equal. */
#include <stdlib.h>

#include "ameir/error.h"
#include "space_internal.h"

int ameir_arch_set_init(ameir_arch_set *s, size_t expect) {
    size_t cap = 16;
    while (cap < 2 * expect + 16)
        cap *= 2;
    s->slot = calloc(cap, sizeof *s->slot);
    s->hash = calloc(cap, sizeof *s->hash);
    s->cap = cap, s->n = 0;
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

/* The slot holding a, or the empty one where it would go. */
static size_t find(const ameir_arch_set *s, const ameir_arch *a, uint64_t h) {
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slot[i] && !(s->hash[i] == h && ameir_arch_equal(s->slot[i], a)))
        i = (i + 1) & (s->cap - 1);
    return i;
}

int ameir_arch_set_has(const ameir_arch_set *s, const ameir_arch *a) { return s->slot[find(s, a, ameir_arch_hash(a))] != NULL; }

int ameir_arch_set_add(ameir_arch_set *s, const ameir_arch *a) {
    uint64_t h = ameir_arch_hash(a);
    size_t i = find(s, a, h);
    if (s->slot[i])
        return 0;
    if (2 * (s->n + 1) > s->cap) { /* grow: rehash the pointers */
        ameir_arch_set big;
        AMEIR_TRY(ameir_arch_set_init(&big, s->cap));
        for (size_t j = 0; j < s->cap; j++)
            if (s->slot[j]) {
                size_t k = find(&big, s->slot[j], s->hash[j]);
                big.slot[k] = s->slot[j], big.hash[k] = s->hash[j], big.n++;
            }
        ameir_arch_set_free(s);
        *s = big;
        i = find(s, a, h);
    }
    s->slot[i] = a, s->hash[i] = h, s->n++;
    return 1;
}
