/* The search space of each stage: counting, membership, and drawing distinct random
 * candidates composed with a base architecture.
 *
 * Canonical forms keep "distinct" meaningful: a zero-op block takes the first norm and
 * act of the lists (they do nothing there); an interaction group lists its fields in the
 * order of the candidate field list, and the groups of a candidate are sorted (order,
 * then field indices). Equal canonical forms are the same network. */
#include "ameir/search.h"

#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/rng.h"
#include "space_internal.h"

#define SAT INT64_MAX

static int64_t sat_add(int64_t a, int64_t b) { return a > SAT - b ? SAT : a + b; }
static int64_t sat_mul(int64_t a, int64_t b) { return a && b > SAT / a ? SAT : a * b; }
static int64_t sat_pow(int64_t a, int e) {
    int64_t r = 1;
    for (int i = 0; i < e; i++)
        r = sat_mul(r, a);
    return r;
}
static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

/* C(n, k), saturating. C(n, i+1) = C(n, i) (n-i) / (i+1) is exact; dividing out the gcd of
 * C(n, i) and i+1 first leaves a divisor of n-i, so nothing overflows before saturation. */
static int64_t binom(int64_t n, int64_t k) {
    if (k < 0 || k > n)
        return 0;
    if (k > n - k)
        k = n - k;
    int64_t c = 1;
    for (int64_t i = 0; i < k && c != SAT; i++) {
        int64_t den = i + 1, g = gcd64(c, den);
        c /= g, den /= g;
        c = sat_mul(c, (n - i) / den);
    }
    return c;
}

void ameir_arch_set_part(ameir_arch *dst, const ameir_arch *src, int stage) {
    switch (stage) {
    case AMEIR_STAGE_BEHAVIOR:
        dst->n_blocks = src->n_blocks;
        memcpy(dst->blocks, src->blocks, sizeof dst->blocks);
        dst->aggregate = src->aggregate;
        dst->positions = src->positions;
        break;
    case AMEIR_STAGE_INTERACTION:
        dst->n_interactions = src->n_interactions;
        memcpy(dst->interactions, src->interactions, sizeof dst->interactions);
        break;
    case AMEIR_STAGE_MLP:
        dst->n_mlp = src->n_mlp;
        memcpy(dst->mlp, src->mlp, sizeof dst->mlp);
        dst->shortcut = src->shortcut;
        break;
    default:
        AMEIR_ASSERT(!"bad stage");
    }
}

/* ---- behaviour ---- */

/* Non-zero (op, option) pairs and whether zero is allowed. */
static int behavior_nonzero(const ameir_behavior_space *b, int *has_zero) {
    int k = 0;
    *has_zero = 0;
    for (int i = 0; i < b->n_ops; i++) {
        if (b->ops[i].op == AMEIR_OP_ZERO)
            *has_zero = 1;
        else
            k++;
    }
    return k;
}

static const ameir_op_choice *nonzero_op(const ameir_behavior_space *b, int j) {
    for (int i = 0; i < b->n_ops; i++)
        if (b->ops[i].op != AMEIR_OP_ZERO && j-- == 0)
            return &b->ops[i];
    AMEIR_ASSERT(!"op index out of range");
    return NULL;
}

static int64_t behavior_block_choices(const ameir_behavior_space *b) {
    int has_zero, nz = behavior_nonzero(b, &has_zero);
    return (int64_t)nz * b->n_norms * b->n_acts + has_zero;
}

static void zero_block(const ameir_behavior_space *b, ameir_block *blk) {
    blk->op = AMEIR_OP_ZERO, blk->option = 0;
    blk->norm = b->n_norms ? b->norms[0] : AMEIR_NORM_NONE;
    blk->act = b->n_acts ? b->acts[0] : 0;
}

static int64_t behavior_size(const ameir_behavior_space *b) {
    int64_t per = behavior_block_choices(b), total = 0;
    for (int nb = b->min_blocks; nb <= b->max_blocks; nb++)
        total = sat_add(total, sat_pow(per, nb));
    return sat_mul(sat_mul(total, b->n_aggregates), b->n_positions);
}

static void behavior_unrank(const ameir_behavior_space *b, int64_t idx, ameir_arch *a) {
    int has_zero, nz = behavior_nonzero(b, &has_zero);
    int64_t per = behavior_block_choices(b);
    a->aggregate = b->aggregates[idx % b->n_aggregates];
    idx /= b->n_aggregates;
    a->positions = b->positions[idx % b->n_positions];
    idx /= b->n_positions;
    for (int nb = b->min_blocks; nb <= b->max_blocks; nb++) {
        int64_t cnt = sat_pow(per, nb);
        if (idx >= cnt) {
            idx -= cnt;
            continue;
        }
        a->n_blocks = nb;
        for (int i = 0; i < nb; i++) {
            int64_t digit = idx % per;
            idx /= per;
            ameir_block *blk = &a->blocks[i];
            if (digit == (int64_t)nz * b->n_norms * b->n_acts) {
                zero_block(b, blk);
                continue;
            }
            const ameir_op_choice *oc = nonzero_op(b, (int)(digit % nz));
            digit /= nz;
            blk->op = oc->op, blk->option = oc->option;
            blk->norm = b->norms[digit % b->n_norms];
            blk->act = b->acts[digit / b->n_norms];
        }
        return;
    }
    AMEIR_ASSERT(!"behaviour index out of range");
}

static void behavior_random(const ameir_behavior_space *b, ameir_rng *rng, ameir_arch *a) {
    a->n_blocks = b->min_blocks + (int)ameir_rng_below(rng, (uint64_t)(b->max_blocks - b->min_blocks + 1));
    for (int i = 0; i < a->n_blocks; i++) {
        ameir_block *blk = &a->blocks[i];
        const ameir_op_choice *oc = &b->ops[ameir_rng_below(rng, (uint64_t)b->n_ops)];
        int norm = b->norms[ameir_rng_below(rng, (uint64_t)b->n_norms)];
        int act = b->acts[ameir_rng_below(rng, (uint64_t)b->n_acts)];
        if (oc->op == AMEIR_OP_ZERO) {
            zero_block(b, blk);
            continue;
        }
        blk->op = oc->op, blk->option = oc->option, blk->norm = norm, blk->act = act;
    }
    a->aggregate = b->aggregates[ameir_rng_below(rng, (uint64_t)b->n_aggregates)];
    a->positions = b->positions[ameir_rng_below(rng, (uint64_t)b->n_positions)];
}

static int in_list(const int *v, int n, int x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static int behavior_contains(const ameir_behavior_space *b, const ameir_arch *a) {
    if (a->n_blocks < b->min_blocks || a->n_blocks > b->max_blocks)
        return 0;
    for (int i = 0; i < a->n_blocks; i++) {
        const ameir_block *blk = &a->blocks[i];
        int op_ok = 0;
        for (int k = 0; k < b->n_ops; k++)
            op_ok |= b->ops[k].op == blk->op && b->ops[k].option == blk->option;
        if (!op_ok)
            return 0;
        if (blk->op == AMEIR_OP_ZERO) {
            ameir_block z;
            zero_block(b, &z);
            if (blk->norm != z.norm || blk->act != z.act)
                return 0;
        } else if (!in_list(b->norms, b->n_norms, blk->norm) || !in_list(b->acts, b->n_acts, blk->act)) {
            return 0;
        }
    }
    return in_list(b->aggregates, b->n_aggregates, a->aggregate) && in_list(b->positions, b->n_positions, a->positions);
}

/* ---- interactions ---- */

int ameir_group_cmp(const ameir_group *x, const ameir_group *y) {
    if (x->order != y->order)
        return x->order - y->order;
    for (int i = 0; i < x->order; i++)
        if (x->f[i] != y->f[i])
            return x->f[i] - y->f[i];
    return 0;
}

static int group_qcmp(const void *a, const void *b) { return ameir_group_cmp(a, b); }

static int max_order_of(const ameir_interaction_space *s) {
    return s->max_order < s->n_fields ? s->max_order : s->n_fields;
}

static int64_t n_groups(const ameir_interaction_space *s) {
    int64_t g = 0;
    for (int k = 2; k <= max_order_of(s); k++)
        g = sat_add(g, binom(s->n_fields, k));
    return g;
}

static int64_t interaction_size(const ameir_interaction_space *s) {
    int64_t g = n_groups(s), total = 0;
    for (int k = s->min_interactions; k <= s->max_interactions && k <= g; k++)
        total = sat_add(total, binom(g, k));
    return total;
}

/* Lexicographic unranking of a k-subset of 0..n-1. */
static void unrank_combination(int64_t n, int k, int64_t idx, int64_t *out) {
    int64_t c = 0;
    for (int j = 0; j < k; j++) {
        for (;; c++) {
            int64_t cnt = binom(n - c - 1, k - j - 1);
            if (idx < cnt)
                break;
            idx -= cnt;
        }
        out[j] = c++;
    }
}

/* Group number gi in (order, lexicographic) order. */
static void group_unrank(const ameir_interaction_space *s, int64_t gi, ameir_group *g) {
    int64_t tmp[AMEIR_MAX_ORDER];
    for (int k = 2; k <= max_order_of(s); k++) {
        int64_t cnt = binom(s->n_fields, k);
        if (gi >= cnt) {
            gi -= cnt;
            continue;
        }
        unrank_combination(s->n_fields, k, gi, tmp);
        g->order = k;
        for (int j = 0; j < k; j++)
            g->f[j] = (int)tmp[j];
        return;
    }
    AMEIR_ASSERT(!"group index out of range");
}

void ameir_groups_to_arch(const ameir_interaction_space *s, ameir_group *g, int k, ameir_arch *a) {
    qsort(g, (size_t)k, sizeof *g, group_qcmp);
    a->n_interactions = k;
    for (int i = 0; i < k; i++) {
        a->interactions[i].order = g[i].order;
        memset(a->interactions[i].fields, 0, sizeof a->interactions[i].fields);
        for (int j = 0; j < g[i].order; j++) { /* as snprintf "%s" would, without its cost: evolving makes many */
            size_t len = strnlen(s->fields[g[i].f[j]], AMEIR_FIELD_NAME_MAX - 1);
            memcpy(a->interactions[i].fields[j], s->fields[g[i].f[j]], len);
        }
    }
}

static void interaction_unrank(const ameir_interaction_space *s, int64_t idx, ameir_arch *a) {
    int64_t gn = n_groups(s), sel[AMEIR_MAX_INTERACTIONS];
    ameir_group g[AMEIR_MAX_INTERACTIONS];
    for (int k = s->min_interactions; k <= s->max_interactions && k <= gn; k++) {
        int64_t cnt = binom(gn, k);
        if (idx >= cnt) {
            idx -= cnt;
            continue;
        }
        unrank_combination(gn, k, idx, sel);
        for (int i = 0; i < k; i++)
            group_unrank(s, sel[i], &g[i]);
        ameir_groups_to_arch(s, g, k, a);
        return;
    }
    AMEIR_ASSERT(!"interaction index out of range");
}

static int int_cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void interaction_random(const ameir_interaction_space *s, ameir_rng *rng, ameir_arch *a) {
    int64_t gn = n_groups(s);
    int hi = s->max_interactions < gn ? s->max_interactions : (int)gn;
    int k = s->min_interactions + (int)ameir_rng_below(rng, (uint64_t)(hi - s->min_interactions + 1));
    int perm[AMEIR_MAX_FIELDS];
    ameir_group g[AMEIR_MAX_INTERACTIONS];
    for (int i = 0; i < k;) {
        ameir_group *x = &g[i];
        x->order = 2 + (int)ameir_rng_below(rng, (uint64_t)(max_order_of(s) - 1));
        for (int f = 0; f < s->n_fields; f++)
            perm[f] = f;
        for (int j = 0; j < x->order; j++) { /* partial Fisher-Yates */
            int r = j + (int)ameir_rng_below(rng, (uint64_t)(s->n_fields - j));
            int t = perm[j];
            perm[j] = perm[r], perm[r] = t;
            x->f[j] = perm[j];
        }
        qsort(x->f, (size_t)x->order, sizeof x->f[0], int_cmp);
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = !ameir_group_cmp(&g[j], x);
        i += !dup; /* terminates: at least k groups exist and every group has a positive chance */
    }
    ameir_groups_to_arch(s, g, k, a);
}

int ameir_field_index(const ameir_interaction_space *s, const char *name) {
    for (int f = 0; f < s->n_fields; f++)
        if (!strcmp(s->fields[f], name))
            return f;
    return -1;
}

static int interaction_contains(const ameir_interaction_space *s, const ameir_arch *a) {
    ameir_group prev = {0, {0}}, cur;
    if (a->n_interactions < s->min_interactions || a->n_interactions > s->max_interactions)
        return 0;
    for (int i = 0; i < a->n_interactions; i++) {
        const ameir_interaction *it = &a->interactions[i];
        if (it->order < 2 || it->order > s->max_order)
            return 0;
        cur.order = it->order;
        for (int j = 0; j < it->order; j++) {
            cur.f[j] = ameir_field_index(s, it->fields[j]);
            if (cur.f[j] < 0 || (j && cur.f[j] <= cur.f[j - 1]))
                return 0;
        }
        if (i && ameir_group_cmp(&prev, &cur) >= 0)
            return 0;
        prev = cur;
    }
    return 1;
}

/* ---- MLP ---- */

static int64_t mlp_size(const ameir_mlp_space *m) {
    int64_t per = (int64_t)m->n_widths * m->n_acts, total = 0;
    for (int l = m->min_layers; l <= m->max_layers; l++) {
        int64_t sc = l ? m->n_shortcut : in_list(m->shortcut, m->n_shortcut, 0);
        total = sat_add(total, sat_mul(sat_pow(per, l), sc));
    }
    return total;
}

static void mlp_unrank(const ameir_mlp_space *m, int64_t idx, ameir_arch *a) {
    int64_t per = (int64_t)m->n_widths * m->n_acts;
    for (int l = m->min_layers; l <= m->max_layers; l++) {
        int64_t sc = l ? m->n_shortcut : in_list(m->shortcut, m->n_shortcut, 0);
        int64_t cnt = sat_mul(sat_pow(per, l), sc);
        if (idx >= cnt) {
            idx -= cnt;
            continue;
        }
        a->n_mlp = l;
        a->shortcut = l ? m->shortcut[idx % sc] : 0;
        idx /= sc;
        for (int i = 0; i < l; i++) {
            int64_t digit = idx % per;
            idx /= per;
            a->mlp[i].units = m->widths[digit % m->n_widths];
            a->mlp[i].act = m->acts[digit / m->n_widths];
        }
        return;
    }
    AMEIR_ASSERT(!"mlp index out of range");
}

static void mlp_random(const ameir_mlp_space *m, ameir_rng *rng, ameir_arch *a) {
    int only_shortcut = !in_list(m->shortcut, m->n_shortcut, AMEIR_SHORTCUT_NONE);
    do /* a shortcut needs a layer: without false among the shortcuts, depth 0 is redrawn */
        a->n_mlp = m->min_layers + (int)ameir_rng_below(rng, (uint64_t)(m->max_layers - m->min_layers + 1));
    while (a->n_mlp == 0 && only_shortcut);
    for (int i = 0; i < a->n_mlp; i++) {
        a->mlp[i].units = m->widths[ameir_rng_below(rng, (uint64_t)m->n_widths)];
        a->mlp[i].act = m->acts[ameir_rng_below(rng, (uint64_t)m->n_acts)];
    }
    a->shortcut = m->shortcut[ameir_rng_below(rng, (uint64_t)m->n_shortcut)];
    if (a->n_mlp == 0)
        a->shortcut = 0;
}

static int mlp_contains(const ameir_mlp_space *m, const ameir_arch *a) {
    if (a->n_mlp < m->min_layers || a->n_mlp > m->max_layers || !in_list(m->shortcut, m->n_shortcut, a->shortcut))
        return 0;
    if (a->n_mlp == 0 && a->shortcut)
        return 0;
    for (int i = 0; i < a->n_mlp; i++)
        if (!in_list(m->widths, m->n_widths, a->mlp[i].units) || !in_list(m->acts, m->n_acts, a->mlp[i].act))
            return 0;
    return 1;
}

/* ---- public ---- */

int64_t ameir_space_size(const ameir_search_config *cfg, int stage) {
    switch (stage) {
    case AMEIR_STAGE_BEHAVIOR:
        return behavior_size(&cfg->behavior);
    case AMEIR_STAGE_INTERACTION:
        return interaction_size(&cfg->interaction);
    case AMEIR_STAGE_MLP:
        return mlp_size(&cfg->mlp);
    }
    AMEIR_ASSERT(!"bad stage");
    return 0;
}

int ameir_space_contains(const ameir_search_config *cfg, int stage, const ameir_arch *arch) {
    switch (stage) {
    case AMEIR_STAGE_BEHAVIOR:
        return behavior_contains(&cfg->behavior, arch);
    case AMEIR_STAGE_INTERACTION:
        return interaction_contains(&cfg->interaction, arch);
    case AMEIR_STAGE_MLP:
        return mlp_contains(&cfg->mlp, arch);
    }
    return 0;
}

static void draw_one(const ameir_search_config *cfg, const ameir_interaction_space *isp, int stage, ameir_rng *rng, ameir_arch *a) {
    if (stage == AMEIR_STAGE_BEHAVIOR)
        behavior_random(&cfg->behavior, rng, a);
    else if (stage == AMEIR_STAGE_INTERACTION)
        interaction_random(isp, rng, a);
    else
        mlp_random(&cfg->mlp, rng, a);
}

static void unrank(const ameir_search_config *cfg, const ameir_interaction_space *isp, int stage, int64_t idx, ameir_arch *a) {
    if (stage == AMEIR_STAGE_BEHAVIOR)
        behavior_unrank(&cfg->behavior, idx, a);
    else if (stage == AMEIR_STAGE_INTERACTION)
        interaction_unrank(isp, idx, a);
    else
        mlp_unrank(&cfg->mlp, idx, a);
}

int ameir_space_draw(const ameir_search_config *cfg, int stage, const ameir_arch *base, int n, ameir_arch *out, int *n_out) {
    AMEIR_ASSERT(stage >= 0 && stage < AMEIR_N_STAGES && n >= 0);
    if (stage == AMEIR_STAGE_INTERACTION && !cfg->resolved)
        return ameir_fail(AMEIR_EINVAL, "%s: interaction fields not resolved against the dataset yet", cfg->origin);
    /* interactions searched in generations start from order-2 groups only */
    ameir_interaction_space isp = cfg->interaction;
    if (isp.generations > 1)
        isp.max_order = 2;
    int64_t size = stage == AMEIR_STAGE_INTERACTION ? interaction_size(&isp) : ameir_space_size(cfg, stage);
    *n_out = 0;
    if (size == 0)
        return ameir_fail(AMEIR_ECONFIG, "%s: %s: the subspace is empty (e.g. min_interactions above the groups the fields allow)",
                          cfg->origin, ameir_stage_name(stage));
    if (size <= n) { /* take them all, in enumeration order */
        for (int64_t i = 0; i < size; i++) {
            out[i] = *base;
            unrank(cfg, &isp, stage, i, &out[i]);
        }
        *n_out = (int)size;
        return 0;
    }
    ameir_rng rng = ameir_rng_stream(cfg->seed, UINT64_C(0x5EA4C400) + (uint64_t)stage);
    int64_t attempts = 0, limit = 100000 + (int64_t)n * 1000;
    int k = 0, rc = 0;
    ameir_arch_set drawn;
    AMEIR_TRY(ameir_arch_set_init(&drawn, (size_t)n, 0, out, sizeof *out));
    while (k < n && rc >= 0) {
        if (++attempts > limit) {
            rc = ameir_fail(AMEIR_ECONFIG, "%s: %s: found only %d distinct candidates of %d in %lld draws", cfg->origin,
                            ameir_stage_name(stage), k, n, (long long)limit);
            break;
        }
        out[k] = *base;
        draw_one(cfg, &isp, stage, &rng, &out[k]);
        if ((rc = ameir_arch_set_add(&drawn, (size_t)k)) > 0)
            k++;
    }
    ameir_arch_set_free(&drawn);
    if (rc < 0)
        return rc;
    *n_out = n;
    return 0;
}
