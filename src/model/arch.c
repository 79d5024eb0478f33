/* The architecture as C structs: names, defaults, value checks, equality, the check
 * against a dataset schema, and the canonical JSON text and its hash.
 * JSON text -> struct is in arch_parse.c. */
#include "ameir/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/rng.h"
#include "arch_priv.h"

static const char *const op_names[AMEIR_OP_COUNT] = {
    [AMEIR_OP_ZERO] = "zero",       [AMEIR_OP_CONV] = "conv",       [AMEIR_OP_GRU] = "gru",
    [AMEIR_OP_AVGPOOL] = "avgpool", [AMEIR_OP_MAXPOOL] = "maxpool", [AMEIR_OP_ATTENTION] = "attention",
};
static const char *const norm_names[AMEIR_NORM_COUNT] = {"none", "layernorm"};
static const char *const agg_names[AMEIR_AGG_COUNT] = {"target_attention", "mean", "last"};

const char *ameir_op_name(int op) { return op >= 0 && op < AMEIR_OP_COUNT ? op_names[op] : NULL; }
const char *ameir_norm_name(int norm) { return norm >= 0 && norm < AMEIR_NORM_COUNT ? norm_names[norm] : NULL; }
const char *ameir_aggregate_name(int agg) { return agg >= 0 && agg < AMEIR_AGG_COUNT ? agg_names[agg] : NULL; }

int ameir_arch_act_ok(int act, int in_mlp) {
    switch (act) {
    case AMEIR_ACT_IDENTITY:
    case AMEIR_ACT_RELU:
    case AMEIR_ACT_GELU:
    case AMEIR_ACT_SWISH:
        return 1;
    case AMEIR_ACT_SIGMOID:
        return in_mlp;
    }
    return 0;
}

const char *ameir_arch_acts_expected(int in_mlp) {
    return in_mlp ? "one of identity, relu, gelu, swish, sigmoid" : "one of identity, relu, gelu, swish";
}

const char *ameir_arch_option_key(int op) {
    return op == AMEIR_OP_CONV ? "kernel" : op == AMEIR_OP_ATTENTION ? "heads" : NULL;
}

const char *ameir_arch_option_expected(int op) {
    return op == AMEIR_OP_CONV ? "one of 1, 3, 5, 7" : op == AMEIR_OP_ATTENTION ? "one of 1, 2, 4, 8" : "none";
}

static int option_ok(int op, int v) {
    if (op == AMEIR_OP_CONV)
        return v == 1 || v == 3 || v == 5 || v == 7;
    if (op == AMEIR_OP_ATTENTION)
        return v == 1 || v == 2 || v == 4 || v == 8;
    return v == 0;
}

void ameir_arch_init(ameir_arch *arch) {
    memset(arch, 0, sizeof *arch);
    arch->aggregate = AMEIR_AGG_MEAN;
}

/* "got" text of an activation: its name if it has one, else the number. */
static const char *act_got(int act, char *buf, size_t n) {
    const char *name = act >= 0 && act < AMEIR_ACT_COUNT ? ameir_act_name(act) : NULL;
    if (name)
        snprintf(buf, n, "\"%s\"", name);
    else
        snprintf(buf, n, "%d", act);
    return buf;
}

static int bad_value(const char *origin, const char *path, const char *got, const char *expected) {
    return ameir_fail(AMEIR_ECONFIG, "%s: %s: got %s, expected %s", origin, path, got, expected);
}

/* 0..max items in a list, e.g. "behavior.blocks: got 9 blocks, expected at most 8 blocks" */
static int check_count(int n, int max, const char *path, const char *noun, const char *origin) {
    if (n >= 0 && n <= max)
        return 0;
    char got[48], expected[48];
    snprintf(got, sizeof got, "%d %s", n, noun);
    snprintf(expected, sizeof expected, "at most %d %s", max, noun);
    return bad_value(origin, path, got, expected);
}

static int validate_block(const ameir_block *b, int i, const char *origin) {
    char path[96], got[64];
    if (!ameir_norm_name(b->norm)) {
        snprintf(path, sizeof path, "behavior.blocks[%d].norm", i);
        snprintf(got, sizeof got, "%d", b->norm);
        return bad_value(origin, path, got, "one of none, layernorm");
    }
    if (!ameir_op_name(b->op)) {
        snprintf(path, sizeof path, "behavior.blocks[%d].op", i);
        snprintf(got, sizeof got, "%d", b->op);
        return bad_value(origin, path, got, "one of conv, gru, avgpool, maxpool, attention, zero");
    }
    if (!option_ok(b->op, b->option)) {
        const char *key = ameir_arch_option_key(b->op);
        snprintf(path, sizeof path, "behavior.blocks[%d].%s", i, key ? key : "option");
        snprintf(got, sizeof got, "%d", b->option);
        if (key)
            return bad_value(origin, path, got, ameir_arch_option_expected(b->op));
        char expected[96];
        snprintf(expected, sizeof expected, "0 (op %s takes no option)", ameir_op_name(b->op));
        return bad_value(origin, path, got, expected);
    }
    if (!ameir_arch_act_ok(b->act, 0)) {
        snprintf(path, sizeof path, "behavior.blocks[%d].act", i);
        return bad_value(origin, path, act_got(b->act, got, sizeof got), ameir_arch_acts_expected(0));
    }
    return 0;
}

/* Same set of fields, any order (each group's fields are distinct, checked before). */
int ameir_interaction_same(const ameir_interaction *a, const ameir_interaction *b) {
    if (a->order != b->order)
        return 0;
    for (int i = 0; i < a->order; i++) {
        int found = 0;
        for (int j = 0; j < b->order && !found; j++)
            found = !strcmp(a->fields[i], b->fields[j]);
        if (!found)
            return 0;
    }
    return 1;
}

static int validate_interactions(const ameir_arch *a, const char *origin) {
    char path[96], got[AMEIR_FIELD_NAME_MAX + 32];
    AMEIR_TRY(check_count(a->n_interactions, AMEIR_MAX_INTERACTIONS, "interactions", "groups", origin));
    for (int i = 0; i < a->n_interactions; i++) {
        const ameir_interaction *g = &a->interactions[i];
        if (g->order < 2 || g->order > AMEIR_MAX_ORDER) {
            snprintf(path, sizeof path, "interactions[%d]", i);
            snprintf(got, sizeof got, "%d fields", g->order);
            return bad_value(origin, path, got, "2 to 4 distinct fields");
        }
        for (int j = 0; j < g->order; j++) {
            /* the path printed only for a message: printing it for every field of every
             * valid arch was most of a search's validations (each arch's JSON validates) */
            const char *bad = NULL, *expected = NULL;
            size_t len = strnlen(g->fields[j], AMEIR_FIELD_NAME_MAX);
            if (len == 0)
                bad = "\"\"", expected = "a field name";
            else if (len == AMEIR_FIELD_NAME_MAX)
                bad = "an unterminated name", expected = "at most 63 bytes";
            for (int k = 0; k < j && !bad; k++)
                if (!strcmp(g->fields[k], g->fields[j])) {
                    snprintf(got, sizeof got, "\"%s\" twice", g->fields[j]);
                    bad = got, expected = "distinct fields within a group";
                }
            if (bad) {
                snprintf(path, sizeof path, "interactions[%d][%d]", i, j);
                return bad_value(origin, path, bad, expected);
            }
        }
        for (int k = 0; k < i; k++)
            if (ameir_interaction_same(&a->interactions[k], g)) {
                snprintf(path, sizeof path, "interactions[%d]", i);
                snprintf(got, sizeof got, "the fields of interactions[%d]", k);
                return bad_value(origin, path, got, "each group once");
            }
    }
    return 0;
}

static int validate_mlp(const ameir_arch *a, const char *origin) {
    char path[96], got[64];
    AMEIR_TRY(check_count(a->n_mlp, AMEIR_MAX_MLP, "mlp.layers", "layers", origin));
    for (int i = 0; i < a->n_mlp; i++) {
        const ameir_mlp_layer *l = &a->mlp[i];
        if (l->units < 1 || l->units > AMEIR_MAX_UNITS) {
            snprintf(path, sizeof path, "mlp.layers[%d].units", i);
            snprintf(got, sizeof got, "%d", l->units);
            return bad_value(origin, path, got, "an integer from 1 to 4096");
        }
        if (!ameir_arch_act_ok(l->act, 1)) {
            snprintf(path, sizeof path, "mlp.layers[%d].act", i);
            return bad_value(origin, path, act_got(l->act, got, sizeof got), ameir_arch_acts_expected(1));
        }
    }
    if (a->shortcut < 0 || a->shortcut >= AMEIR_SHORTCUT_COUNT) {
        snprintf(got, sizeof got, "%d", a->shortcut);
        return bad_value(origin, "mlp.shortcut", got, "false, true or \"se\"");
    }
    if (a->shortcut && a->n_mlp == 0)
        return bad_value(origin, "mlp.shortcut", a->shortcut == AMEIR_SHORTCUT_SE ? "\"se\"" : "true",
                         "false when mlp.layers is empty (the shortcut joins the last hidden layer)");
    return 0;
}

int ameir_arch_validate(const ameir_arch *a, const char *origin) {
    char got[64];
    AMEIR_TRY(check_count(a->n_blocks, AMEIR_MAX_BLOCKS, "behavior.blocks", "blocks", origin));
    for (int i = 0; i < a->n_blocks; i++)
        AMEIR_TRY(validate_block(&a->blocks[i], i, origin));
    if (!ameir_aggregate_name(a->aggregate)) {
        snprintf(got, sizeof got, "%d", a->aggregate);
        return bad_value(origin, "behavior.aggregate", got, "one of target_attention, mean, last");
    }
    if (a->positions != 0 && a->positions != 1) {
        snprintf(got, sizeof got, "%d", a->positions);
        return bad_value(origin, "behavior.positions", got, "true or false");
    }
    AMEIR_TRY(validate_interactions(a, origin));
    return validate_mlp(a, origin);
}

int ameir_arch_equal(const ameir_arch *a, const ameir_arch *b) {
    if (a->n_blocks != b->n_blocks || a->aggregate != b->aggregate || a->positions != b->positions ||
        a->n_interactions != b->n_interactions || a->n_mlp != b->n_mlp || a->shortcut != b->shortcut)
        return 0;
    for (int i = 0; i < a->n_blocks; i++) {
        const ameir_block *x = &a->blocks[i], *y = &b->blocks[i];
        if (x->norm != y->norm || x->op != y->op || x->option != y->option || x->act != y->act)
            return 0;
    }
    /* the canonical form keeps the order of groups and of fields within a group */
    for (int i = 0; i < a->n_interactions; i++) {
        const ameir_interaction *x = &a->interactions[i], *y = &b->interactions[i];
        if (x->order != y->order)
            return 0;
        for (int j = 0; j < x->order; j++)
            if (strcmp(x->fields[j], y->fields[j]))
                return 0;
    }
    for (int i = 0; i < a->n_mlp; i++)
        if (a->mlp[i].units != b->mlp[i].units || a->mlp[i].act != b->mlp[i].act)
            return 0;
    return 1;
}

int ameir_arch_check_schema(const ameir_arch *a, const ameir_schema *s, const char *origin) {
    for (int i = 0; i < a->n_interactions; i++) {
        const ameir_interaction *g = &a->interactions[i];
        for (int j = 0; j < g->order; j++) {
            for (int k = 0; k < j; k++)
                if (!strcmp(g->fields[k], g->fields[j]))
                    return ameir_fail(AMEIR_ECONFIG, "%s: interactions[%d][%d]: got \"%s\" twice, expected distinct fields within a group",
                                      origin, i, j, g->fields[j]);
            if (ameir_schema_find(s, g->fields[j]) >= 0)
                continue;
            /* list what there is, cut short to fit the message */
            char avail[640];
            size_t used = 0;
            avail[0] = '\0';
            for (int f = 0; f < s->n_fields; f++) {
                int w = snprintf(avail + used, sizeof avail - used, "%s%s", f ? ", " : "", s->fields[f].name);
                if (w < 0 || (size_t)w + 6 >= sizeof avail - used) { /* keep room for ", ..." */
                    snprintf(avail + used, sizeof avail - used, ", ...");
                    break;
                }
                used += (size_t)w;
            }
            return ameir_fail(AMEIR_ECONFIG, "%s: interactions[%d][%d]: got \"%s\", expected a field of the dataset (%s)",
                              origin, i, j, g->fields[j], s->n_fields ? avail : "it has none");
        }
    }
    return 0;
}

/* ---- canonical JSON: keys in a fixed order, every key written, compact ---- */

static cJSON *behavior_json(const ameir_arch *a) {
    cJSON *beh = cJSON_CreateObject();
    cJSON *blocks = cJSON_AddArrayToObject(beh, "blocks");
    if (!blocks)
        goto fail;
    for (int i = 0; i < a->n_blocks; i++) {
        const ameir_block *b = &a->blocks[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto fail;
        cJSON_AddItemToArray(blocks, o);
        const char *key = ameir_arch_option_key(b->op);
        if (!cJSON_AddStringToObject(o, "norm", ameir_norm_name(b->norm)) ||
            !cJSON_AddStringToObject(o, "op", ameir_op_name(b->op)) ||
            (key && !cJSON_AddNumberToObject(o, key, b->option)) ||
            !cJSON_AddStringToObject(o, "act", ameir_act_name(b->act)))
            goto fail;
    }
    if (!cJSON_AddStringToObject(beh, "aggregate", ameir_aggregate_name(a->aggregate)) ||
        !cJSON_AddBoolToObject(beh, "positions", a->positions))
        goto fail;
    return beh;
fail:
    cJSON_Delete(beh);
    return NULL;
}

static cJSON *interactions_json(const ameir_arch *a) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < a->n_interactions; i++) {
        const ameir_interaction *g = &a->interactions[i];
        cJSON *grp = cJSON_CreateArray();
        if (!grp)
            goto fail;
        cJSON_AddItemToArray(arr, grp);
        for (int j = 0; j < g->order; j++) {
            cJSON *name = cJSON_CreateString(g->fields[j]);
            if (!name)
                goto fail;
            cJSON_AddItemToArray(grp, name);
        }
    }
    return arr;
fail:
    cJSON_Delete(arr);
    return NULL;
}

static cJSON *mlp_json(const ameir_arch *a) {
    cJSON *mlp = cJSON_CreateObject();
    cJSON *layers = cJSON_AddArrayToObject(mlp, "layers");
    if (!layers)
        goto fail;
    for (int i = 0; i < a->n_mlp; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto fail;
        cJSON_AddItemToArray(layers, o);
        if (!cJSON_AddNumberToObject(o, "units", a->mlp[i].units) ||
            !cJSON_AddStringToObject(o, "act", ameir_act_name(a->mlp[i].act)))
            goto fail;
    }
    if (!(a->shortcut == AMEIR_SHORTCUT_SE ? cJSON_AddStringToObject(mlp, "shortcut", "se")
                                           : cJSON_AddBoolToObject(mlp, "shortcut", a->shortcut)))
        goto fail;
    return mlp;
fail:
    cJSON_Delete(mlp);
    return NULL;
}

char *ameir_arch_to_json(const ameir_arch *a) {
    char *text = NULL;
    AMEIR_ASSERT(ameir_arch_validate(a, "ameir_arch_to_json") == 0);
    cJSON *root = cJSON_CreateObject(), *part;
    if (!root)
        return NULL;
    if (!(part = behavior_json(a)))
        goto done;
    cJSON_AddItemToObject(root, "behavior", part);
    if (!(part = interactions_json(a)))
        goto done;
    cJSON_AddItemToObject(root, "interactions", part);
    if (!(part = mlp_json(a)))
        goto done;
    cJSON_AddItemToObject(root, "mlp", part);
    text = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    return text;
}

uint64_t ameir_arch_hash(const ameir_arch *a) {
    char *text = ameir_arch_to_json(a);
    AMEIR_ASSERT(text != NULL);
    uint64_t h = ameir_hash_bytes(text, strlen(text));
    free(text);
    return h;
}
