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

#endif
