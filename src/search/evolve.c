/* The interaction stage's later generations (AMEIR's progressive search of low- then
 * high-order interactions): children of the best sets so far. Each child takes one parent
 * (uniformly among the best) and applies one operator: grow a group by one field (order k
 * -> k+1, at most 2 + generation), add an order-2 group, drop a group, change one field of
 * a group, or recombine with a second parent (each group of the two parents' union kept
 * with probability 1/2). Children must lie in the subspace and be new. Everything comes from
 * one seeded stream and the parents' order, so a generation is a pure function of the
 * config and the results before it. */
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/rng.h"
#include "ameir/search.h"
#include "space_internal.h"

#define TRIES_PER_CHILD 64

static int int_cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The groups of a's interactions over the candidate fields (groups naming other fields are
 * left out: such an arch, e.g. an incumbent from the defaults, can still be a parent). A
 * packed index below n_fields is the candidate field's (ameir_arch_names_init). */
static int load_groups(const ameir_interaction_space *s, const ameir_arch_packed *a, ameir_group *g) {
    int k = 0;
    for (int i = 0; i < a->n_interactions; i++) {
        ameir_group x = {0, {0}};
        int good = 1;
        while (x.order < AMEIR_MAX_ORDER && a->fields[i][x.order] && good)
            good = (x.f[x.order] = a->fields[i][x.order] - 1) < s->n_fields, x.order++;
        if (!good)
            continue;
        qsort(x.f, (size_t)x.order, sizeof x.f[0], int_cmp);
        g[k++] = x;
    }
    return k;
}

static int has_group(const ameir_group *g, int k, const ameir_group *x, int skip) {
    for (int i = 0; i < k; i++)
        if (i != skip && !ameir_group_cmp(&g[i], x))
            return 1;
    return 0;
}

/* A field not in x, uniformly; -1 if x holds them all. */
static int other_field(const ameir_interaction_space *s, ameir_rng *rng, const ameir_group *x) {
    int free_f[AMEIR_MAX_FIELDS], n = 0;
    for (int f = 0; f < s->n_fields; f++) {
        int in = 0;
        for (int j = 0; j < x->order; j++)
            in |= x->f[j] == f;
        if (!in)
            free_f[n++] = f;
    }
    return n ? free_f[ameir_rng_below(rng, (uint64_t)n)] : -1;
}

/* One child's groups into c; returns their count, or -1 when the operator does not apply. */
static int make_child(const ameir_interaction_space *s, ameir_rng *rng, const ameir_arch_packed *const *parents, int n_parents,
                      int max_order, ameir_group *c) {
    ameir_group q[AMEIR_MAX_INTERACTIONS];
    int pi = (int)ameir_rng_below(rng, (uint64_t)n_parents);
    int k = load_groups(s, parents[pi], c), op = (int)ameir_rng_below(rng, n_parents > 1 ? 5 : 4);
    int i = k ? (int)ameir_rng_below(rng, (uint64_t)k) : -1, f;
    ameir_group x;
    switch (op) {
    case 0: /* grow: the same group with one more field, beside it (or instead when full) */
        if (i < 0 || c[i].order >= max_order || (f = other_field(s, rng, &c[i])) < 0)
            return -1;
        x = c[i];
        x.f[x.order++] = f;
        qsort(x.f, (size_t)x.order, sizeof x.f[0], int_cmp);
        if (has_group(c, k, &x, -1))
            return -1;
        if (k < s->max_interactions)
            c[k++] = x;
        else
            c[i] = x;
        return k;
    case 1: /* add an order-2 group */
        if (k >= s->max_interactions || s->n_fields < 2)
            return -1;
        x.order = 2;
        x.f[0] = (int)ameir_rng_below(rng, (uint64_t)s->n_fields);
        x.f[1] = other_field(s, rng, &(ameir_group){1, {x.f[0]}});
        qsort(x.f, 2, sizeof x.f[0], int_cmp);
        if (has_group(c, k, &x, -1))
            return -1;
        c[k++] = x;
        return k;
    case 2: /* drop a group */
        if (i < 0 || k <= s->min_interactions)
            return -1;
        c[i] = c[--k];
        return k;
    case 3: /* change one field of a group */
        if (i < 0 || (f = other_field(s, rng, &c[i])) < 0)
            return -1;
        x = c[i];
        x.f[ameir_rng_below(rng, (uint64_t)x.order)] = f;
        qsort(x.f, (size_t)x.order, sizeof x.f[0], int_cmp);
        if (has_group(c, k, &x, i))
            return -1;
        c[i] = x;
        return k;
    default: { /* recombine with another parent */
        int qi = (int)ameir_rng_below(rng, (uint64_t)(n_parents - 1));
        qi += qi >= pi;
        int kq = load_groups(s, parents[qi], q), n = 0;
        ameir_group u[2 * AMEIR_MAX_INTERACTIONS];
        for (int j = 0; j < k; j++)
            u[n++] = c[j];
        for (int j = 0; j < kq; j++)
            if (!has_group(u, n, &q[j], -1))
                u[n++] = q[j];
        k = 0;
        for (int j = 0; j < n; j++)
            if (ameir_rng_below(rng, 2) && k < AMEIR_MAX_INTERACTIONS)
                c[k++] = u[j];
        return k >= s->min_interactions && k <= s->max_interactions ? k : -1;
    }
    }
}

int ameir_space_evolve_set(const ameir_search_config *cfg, const ameir_arch_names *names, const ameir_arch *base,
                           const ameir_arch_packed *const *parents, int n_parents, const ameir_arch_set *seen, int generation,
                           int n, ameir_arch *out, int *n_out) {
    const ameir_interaction_space *s = &cfg->interaction;
    ameir_rng rng = ameir_rng_stream(cfg->seed, UINT64_C(0x5EA4C500) + (uint64_t)generation);
    int max_order = 2 + generation;
    ameir_group c[AMEIR_MAX_INTERACTIONS];
    *n_out = 0;
    if (!cfg->resolved)
        return ameir_fail(AMEIR_EINVAL, "%s: interaction fields not resolved against the dataset yet", cfg->origin);
    if (max_order > s->max_order)
        max_order = s->max_order;
    /* a child packed from its groups: the base's other parts, and a packed field index
     * below n_fields is the candidate field's (ameir_arch_names_init) */
    ameir_arch bare = *base;
    ameir_arch_packed packed_base;
    bare.n_interactions = 0;
    int base_ok = ameir_arch_pack(names, &bare, &packed_base) == 0;
    ameir_arch_set made = {0}; /* the children so far, packed */
    ameir_arch_packed *kids = malloc((size_t)(n > 0 ? n : 1) * sizeof *kids);
    int rc = kids ? ameir_arch_set_init(&made, (size_t)n, 1, kids, sizeof *kids) : ameir_fail(AMEIR_ENOMEM, "search: no memory for %d children", n);
    if (rc < 0) {
        free(kids);
        return rc;
    }
    int slot = -1, slot_k = 0; /* the out slot holding the base, and the groups its last try wrote */
    for (int64_t tries = 0; rc >= 0 && n_parents > 0 && *n_out < n && tries < (int64_t)TRIES_PER_CHILD * n; tries++) {
        int k = make_child(s, &rng, parents, n_parents, max_order, c);
        if (k < 0)
            continue;
        /* the slot is the base with the child's groups, as a copy of the base per try made
         * it: the 16 KB base copied once per slot, and the groups an earlier try on the slot
         * wrote past this one's put back from the base */
        ameir_arch *a = &out[*n_out];
        if (slot != *n_out)
            *a = *base, slot = *n_out, slot_k = 0;
        ameir_groups_to_arch(s, c, k, a);
        if (slot_k > k)
            memcpy(&a->interactions[k], &base->interactions[k], (size_t)(slot_k - k) * sizeof a->interactions[0]);
        slot_k = k;
        if (!ameir_space_contains(cfg, AMEIR_STAGE_INTERACTION, a))
            continue;
        if (!base_ok) {
            rc = ameir_fail(AMEIR_EINVAL, "%s: interaction generation: the base arch cannot be packed", cfg->origin);
            break;
        }
        ameir_arch_packed *p = &kids[*n_out];
        *p = packed_base;
        p->n_interactions = (uint8_t)k;
        for (int i = 0; i < k; i++) /* c is in canonical order now (ameir_groups_to_arch sorted it) */
            for (int j = 0; j < c[i].order; j++)
                p->fields[i][j] = (uint8_t)(c[i].f[j] + 1);
        if (!ameir_arch_set_has(seen, &kids[*n_out]) && (rc = ameir_arch_set_add(&made, (size_t)*n_out)) > 0)
            (*n_out)++;
    }
    ameir_arch_set_free(&made);
    free(kids);
    return rc < 0 ? rc : 0;
}

int ameir_space_evolve(const ameir_search_config *cfg, const ameir_arch_names *names, const ameir_arch *base,
                       const ameir_arch_packed *const *parents, int n_parents, const ameir_arch_packed *const *seen, int n_seen,
                       int generation, int n, ameir_arch *out, int *n_out) {
    ameir_arch_packed *copy = calloc(n_seen > 0 ? (size_t)n_seen : 1, sizeof *copy); /* the set holds an array */
    ameir_arch_set known = {0};
    if (!copy)
        return ameir_fail(AMEIR_ENOMEM, "search: no memory for %d archs", n_seen);
    for (int j = 0; j < n_seen; j++)
        copy[j] = *seen[j];
    int rc = ameir_arch_set_init(&known, (size_t)n_seen, 1, copy, sizeof *copy);
    for (int j = 0; j < n_seen && rc >= 0; j++)
        rc = ameir_arch_set_add(&known, (size_t)j);
    if (rc >= 0)
        rc = ameir_space_evolve_set(cfg, names, base, parents, n_parents, &known, generation, n, out, n_out);
    ameir_arch_set_free(&known);
    free(copy);
    return rc;
}
