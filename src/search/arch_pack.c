/* Packed archs for the trial table (search.h): field names become byte indices into a name
 * table interned once per search, so a row no longer carries 16 KB of mostly empty names
 * that every checkpoint rewrite, copy and page fault paid for. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/rng.h"
#include "ameir/search.h"

static int name_index(const ameir_arch_names *names, const char *name) {
    for (int i = 0; i < names->n; i++)
        if (!strcmp(names->name[i], name))
            return i;
    return -1;
}

static int add_name(ameir_arch_names *names, const char *name, const char *origin) {
    if (name_index(names, name) >= 0)
        return 0;
    if (names->n == AMEIR_PACK_MAX_NAMES)
        return ameir_fail(AMEIR_ECONFIG, "%s: more than %d distinct interaction field names in the config", origin,
                          AMEIR_PACK_MAX_NAMES);
    snprintf(names->name[names->n++], AMEIR_FIELD_NAME_MAX, "%s", name);
    return 0;
}

static int add_arch_names(ameir_arch_names *names, const ameir_arch *a, const char *origin) {
    for (int i = 0; i < a->n_interactions; i++)
        for (int j = 0; j < a->interactions[i].order; j++)
            AMEIR_TRY(add_name(names, a->interactions[i].fields[j], origin));
    return 0;
}

int ameir_arch_names_init(ameir_arch_names *names, const ameir_search_config *cfg) {
    memset(names, 0, sizeof *names); /* unpacking copies whole name buffers */
    /* candidates first: a packed index below n_fields is the candidate field's index */
    for (int f = 0; f < cfg->interaction.n_fields; f++)
        AMEIR_TRY(add_name(names, cfg->interaction.fields[f], cfg->origin));
    AMEIR_TRY(add_arch_names(names, &cfg->defaults, cfg->origin));
    for (int b = 0; b < cfg->n_baselines; b++)
        AMEIR_TRY(add_arch_names(names, &cfg->baselines[b], cfg->origin));
    return 0;
}

static int byte_ok(int v) { return v >= 0 && v <= 255; }

int ameir_arch_pack(const ameir_arch_names *names, const ameir_arch *a, ameir_arch_packed *p) {
    memset(p, 0, sizeof *p);
    if (a->n_blocks < 0 || a->n_blocks > AMEIR_MAX_BLOCKS || a->n_interactions < 0 || a->n_interactions > AMEIR_MAX_INTERACTIONS ||
        a->n_mlp < 0 || a->n_mlp > AMEIR_MAX_MLP || !byte_ok(a->aggregate) || !byte_ok(a->positions) || !byte_ok(a->shortcut))
        return -1;
    p->n_blocks = (uint8_t)a->n_blocks, p->aggregate = (uint8_t)a->aggregate, p->positions = (uint8_t)a->positions;
    p->n_interactions = (uint8_t)a->n_interactions, p->n_mlp = (uint8_t)a->n_mlp, p->shortcut = (uint8_t)a->shortcut;
    for (int i = 0; i < a->n_blocks; i++) {
        const ameir_block *b = &a->blocks[i];
        if (!byte_ok(b->norm) || !byte_ok(b->op) || !byte_ok(b->option) || !byte_ok(b->act))
            return -1;
        p->blocks[i][0] = (uint8_t)b->norm, p->blocks[i][1] = (uint8_t)b->op;
        p->blocks[i][2] = (uint8_t)b->option, p->blocks[i][3] = (uint8_t)b->act;
    }
    for (int i = 0; i < a->n_interactions; i++) {
        const ameir_interaction *g = &a->interactions[i];
        if (g->order < 1 || g->order > AMEIR_MAX_ORDER)
            return -1;
        for (int j = 0; j < g->order; j++) {
            int k = name_index(names, g->fields[j]);
            if (k < 0)
                return -1;
            p->fields[i][j] = (uint8_t)(k + 1);
        }
    }
    for (int i = 0; i < a->n_mlp; i++) {
        if (a->mlp[i].units < 0 || a->mlp[i].units > 65535 || !byte_ok(a->mlp[i].act))
            return -1;
        p->units[i] = (uint16_t)a->mlp[i].units, p->mlp_act[i] = (uint8_t)a->mlp[i].act;
    }
    return 0;
}

void ameir_arch_unpack(const ameir_arch_names *names, const ameir_arch_packed *p, ameir_arch *a) {
    ameir_arch_init(a);
    a->n_blocks = p->n_blocks, a->aggregate = p->aggregate, a->positions = p->positions;
    a->n_interactions = p->n_interactions, a->n_mlp = p->n_mlp, a->shortcut = p->shortcut;
    for (int i = 0; i < p->n_blocks; i++)
        a->blocks[i] = (ameir_block){p->blocks[i][0], p->blocks[i][1], p->blocks[i][2], p->blocks[i][3]};
    for (int i = 0; i < p->n_interactions; i++) {
        ameir_interaction *g = &a->interactions[i];
        g->order = 0;
        while (g->order < AMEIR_MAX_ORDER && p->fields[i][g->order]) {
            memcpy(g->fields[g->order], names->name[p->fields[i][g->order] - 1], AMEIR_FIELD_NAME_MAX);
            g->order++;
        }
    }
    for (int i = 0; i < p->n_mlp; i++)
        a->mlp[i] = (ameir_mlp_layer){p->units[i], p->mlp_act[i]};
}

int ameir_arch_packed_equal(const ameir_arch_packed *a, const ameir_arch_packed *b) { return !memcmp(a, b, sizeof *a); }

uint64_t ameir_arch_packed_hash(const ameir_arch_packed *p) {
    /* the groups past n_interactions are zero in every pack: leave them out */
    size_t used = offsetof(ameir_arch_packed, fields) + (size_t)p->n_interactions * sizeof p->fields[0];
    return ameir_hash_bytes(p, used);
}
