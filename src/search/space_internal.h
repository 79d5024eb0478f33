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

/* A set of architectures (arch_set.c): indices into an array of full archs, or with
 * `packed` of ameir_arch_packed of one name table, each at base + index * stride (an owner
 * whose array moves sets base again). */
typedef struct ameir_arch_set {
    size_t *slot; /* index + 1; 0 = empty */
    uint64_t *hash;
    size_t cap, n;
    int packed;
    const void *base;
    size_t stride;
} ameir_arch_set;
int ameir_arch_set_init(ameir_arch_set *s, size_t expect, int packed, const void *base, size_t stride); /* 0 or AMEIR_ENOMEM */
void ameir_arch_set_free(ameir_arch_set *s);
/* 1 if an arch equal to a (anywhere) is in the set. */
int ameir_arch_set_has(const ameir_arch_set *s, const void *a);
/* Add the member at index: 1 added, 0 an equal one was there; or AMEIR_ENOMEM. */
int ameir_arch_set_add(ameir_arch_set *s, size_t index);

/* ameir_space_evolve with the seen archs in a set of packed archs (the controller keeps one
 * for its rung 0 across generations instead of rebuilding it from the table each time). */
int ameir_space_evolve_set(const ameir_search_config *cfg, const ameir_arch_names *names, const ameir_arch *base,
                           const ameir_arch_packed *const *parents, int n_parents, const ameir_arch_set *seen, int generation,
                           int n, ameir_arch *out, int *n_out);

#endif
