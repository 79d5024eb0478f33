/* Interaction groups as field indices, shared by the space (space.c) and the interaction
 * generations (evolve.c). */
#ifndef AMEIR_SPACE_INTERNAL_H
#define AMEIR_SPACE_INTERNAL_H

#include "ameir/search.h"

/* A group as sorted indices into the candidate field list. */
typedef struct ameir_group {
    int order;
    int f[AMEIR_MAX_ORDER];
} ameir_group;

/* By order, then field indices. */
int ameir_group_cmp(const ameir_group *x, const ameir_group *y);

/* Index of a field in the candidate list, -1 if absent. */
int ameir_field_index(const ameir_interaction_space *s, const char *name);

/* Sort the k groups (canonical order) and write them as a's interactions. */
void ameir_groups_to_arch(const ameir_interaction_space *s, ameir_group *g, int k, ameir_arch *a);

/* A set of architectures (arch_set.c): pointers to full archs, or with `packed` to
 * ameir_arch_packed of one name table; they must stay valid while in the set. */
typedef struct ameir_arch_set {
    const void **slot;
    uint64_t *hash;
    size_t cap, n;
    int packed;
} ameir_arch_set;
int ameir_arch_set_init(ameir_arch_set *s, size_t expect, int packed); /* 0 or AMEIR_ENOMEM */
void ameir_arch_set_free(ameir_arch_set *s);
int ameir_arch_set_has(const ameir_arch_set *s, const void *a);
/* 1: added, 0: an equal one was there; or AMEIR_ENOMEM. */
int ameir_arch_set_add(ameir_arch_set *s, const void *a);

#endif
