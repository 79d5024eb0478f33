/* Arch JSON text -> ameir_arch: syntax, keys and types here (cJSON parsed once and deleted
 * at once); the values are then checked by ameir_arch_validate, so an arch built in C
 * and one read from a file meet the same rules with the same messages.
 * Every message is "ORIGIN: key.path[i].key: got X, expected Y". */
#include "ameir/arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ameir/error.h"
#include "ameir/json.h"
#include "ameir/fileio.h"
#include "ameir/nn.h"
#include "arch_priv.h"

#define PATH_MAX_ 160

static int bad(const char *origin, const char *path, const cJSON *v, const char *expected) {
    char got[96];
    ameir_json_ctx c = {origin};
    return ameir_json_bad(&c, path, NULL, ameir_json_got(v, got, sizeof got), expected);
}

/* path.key, cut with "..." if it does not fit (keys come from the user's text) */
static void join(char *out, const char *path, const char *key) {
    if (snprintf(out, PATH_MAX_, "%s%s%s", path, *path ? "." : "", key) >= PATH_MAX_)
        memcpy(out + PATH_MAX_ - 4, "...", 4);
}

static const char *path_of(const char *path) { return *path ? path : NULL; }

/* Every key of obj is one of allowed (a NULL-terminated list) and appears once. */
static int check_keys(const cJSON *obj, const char *path, const char *const *allowed, const char *origin) {
    ameir_json_ctx c = {origin};
    return ameir_json_object(&c, obj, path_of(path), allowed);
}

static int want_object(const cJSON *v, const char *path, const char *origin) {
    return cJSON_IsObject(v) ? 0 : bad(origin, path, v, "an object");
}

static int want_array(const cJSON *v, const char *path, const char *origin) {
    return cJSON_IsArray(v) ? 0 : bad(origin, path, v, "an array");
}

/* obj.key as one of names[0..count); left as is if absent. */
static int get_enum(const cJSON *obj, const char *path, const char *key, const char *(*name_of)(int), int count,
                    const char *expected, int *out, const char *origin) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return 0;
    char kp[PATH_MAX_];
    join(kp, path, key);
    if (cJSON_IsString(v))
        for (int i = 0; i < count; i++)
            if (!strcmp(v->valuestring, name_of(i))) {
                *out = i;
                return 0;
            }
    return bad(origin, kp, v, expected);
}

/* An activation by name; which ones the context allows is checked by validate. */
static int get_act(const cJSON *obj, const char *path, int in_mlp, int *out, const char *origin) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "act");
    if (!v)
        return 0;
    char kp[PATH_MAX_];
    join(kp, path, "act");
    int act = cJSON_IsString(v) ? ameir_act_from_name(v->valuestring) : -1;
    if (act < 0)
        return bad(origin, kp, v, ameir_arch_acts_expected(in_mlp));
    *out = act;
    return 0;
}

/* an integer of any size the arch could use: the ranges are validate's */
static int get_int(const cJSON *obj, const char *path, const char *key, int *out, const char *origin) {
    ameir_json_ctx c = {origin};
    return ameir_json_int(&c, obj, path_of(path), key, -999999999, 999999999, out);
}

static int get_bool(const cJSON *obj, const char *path, const char *key, int *out, const char *origin) {
    ameir_json_ctx c = {origin};
    return ameir_json_bool(&c, obj, path_of(path), key, out);
}

/* mlp.shortcut: false, true or "se" */
static int get_shortcut(const cJSON *obj, int *out, const char *origin) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "shortcut");
    if (!v)
        return 0;
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v) ? AMEIR_SHORTCUT_LINEAR : AMEIR_SHORTCUT_NONE;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "se"))
        *out = AMEIR_SHORTCUT_SE;
    else
        return bad(origin, "mlp.shortcut", v, "false, true or \"se\"");
    return 0;
}

static const char *const block_keys[] = {"norm", "op", "kernel", "heads", "act", NULL};
static const char *const behavior_keys[] = {"blocks", "aggregate", "positions", NULL};
static const char *const layer_keys[] = {"units", "act", NULL};
static const char *const mlp_keys[] = {"layers", "shortcut", NULL};
static const char *const top_keys[] = {"comment", "behavior", "interactions", "mlp", NULL};

static int parse_block(const cJSON *o, const char *path, ameir_block *b, const char *origin) {
    AMEIR_TRY(want_object(o, path, origin));
    AMEIR_TRY(check_keys(o, path, block_keys, origin));
    char kp[PATH_MAX_];
    join(kp, path, "op");
    if (!cJSON_GetObjectItemCaseSensitive(o, "op"))
        return bad(origin, kp, NULL, "one of conv, gru, avgpool, maxpool, attention, zero");
    AMEIR_TRY(get_enum(o, path, "op", ameir_op_name, AMEIR_OP_COUNT,
                       "one of conv, gru, avgpool, maxpool, attention, zero", &b->op, origin));
    AMEIR_TRY(get_enum(o, path, "norm", ameir_norm_name, AMEIR_NORM_COUNT, "one of none, layernorm", &b->norm, origin));
    const char *want = ameir_arch_option_key(b->op);
    static const char *const option_keys[] = {"kernel", "heads"};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, option_keys[k]);
        join(kp, path, option_keys[k]);
        int wanted = want && !strcmp(want, option_keys[k]);
        if (v && !wanted) {
            char expected[128];
            snprintf(expected, sizeof expected, "no %s for op %s (only %s takes a %s)", option_keys[k],
                     ameir_op_name(b->op), k == 0 ? "conv" : "attention", option_keys[k]);
            return bad(origin, kp, v, expected);
        }
        if (!v && wanted) {
            char expected[128];
            snprintf(expected, sizeof expected, "%s (required for op %s)", ameir_arch_option_expected(b->op),
                     ameir_op_name(b->op));
            return bad(origin, kp, NULL, expected);
        }
        if (v)
            AMEIR_TRY(get_int(o, path, option_keys[k], &b->option, origin));
    }
    return get_act(o, path, 0, &b->act, origin);
}

static int parse_behavior(const cJSON *o, ameir_arch *a, const char *origin) {
    AMEIR_TRY(want_object(o, "behavior", origin));
    AMEIR_TRY(check_keys(o, "behavior", behavior_keys, origin));
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(o, "blocks");
    if (blocks) {
        AMEIR_TRY(want_array(blocks, "behavior.blocks", origin));
        /* the count is stored as is; validate rejects too many before reading blocks[] */
        a->n_blocks = cJSON_GetArraySize(blocks);
        int i = 0;
        for (const cJSON *b = blocks->child; b && i < AMEIR_MAX_BLOCKS; b = b->next, i++) {
            char path[PATH_MAX_];
            snprintf(path, sizeof path, "behavior.blocks[%d]", i);
            AMEIR_TRY(parse_block(b, path, &a->blocks[i], origin));
        }
    }
    AMEIR_TRY(get_enum(o, "behavior", "aggregate", ameir_aggregate_name, AMEIR_AGG_COUNT,
                       "one of target_attention, mean, last", &a->aggregate, origin));
    return get_bool(o, "behavior", "positions", &a->positions, origin);
}

static int parse_interactions(const cJSON *arr, ameir_arch *a, const char *origin) {
    AMEIR_TRY(want_array(arr, "interactions", origin));
    a->n_interactions = cJSON_GetArraySize(arr);
    int i = 0;
    for (const cJSON *g = arr->child; g && i < AMEIR_MAX_INTERACTIONS; g = g->next, i++) {
        char path[PATH_MAX_];
        snprintf(path, sizeof path, "interactions[%d]", i);
        if (!cJSON_IsArray(g))
            return bad(origin, path, g, "an array of 2 to 4 field names");
        ameir_interaction *grp = &a->interactions[i];
        grp->order = cJSON_GetArraySize(g);
        int j = 0;
        for (const cJSON *f = g->child; f && j < AMEIR_MAX_ORDER; f = f->next, j++) {
            snprintf(path, sizeof path, "interactions[%d][%d]", i, j);
            if (!cJSON_IsString(f))
                return bad(origin, path, f, "a field name");
            size_t len = strlen(f->valuestring);
            if (len >= AMEIR_FIELD_NAME_MAX)
                return ameir_fail(AMEIR_ECONFIG, "%s: %s: got a name of %zu bytes, expected at most %d bytes", origin,
                                  path, len, AMEIR_FIELD_NAME_MAX - 1);
            memcpy(grp->fields[j], f->valuestring, len + 1);
        }
    }
    return 0;
}

static int parse_mlp(const cJSON *o, ameir_arch *a, const char *origin) {
    AMEIR_TRY(want_object(o, "mlp", origin));
    AMEIR_TRY(check_keys(o, "mlp", mlp_keys, origin));
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(o, "layers");
    if (layers) {
        AMEIR_TRY(want_array(layers, "mlp.layers", origin));
        a->n_mlp = cJSON_GetArraySize(layers);
        int i = 0;
        for (const cJSON *l = layers->child; l && i < AMEIR_MAX_MLP; l = l->next, i++) {
            char path[PATH_MAX_], kp[PATH_MAX_];
            snprintf(path, sizeof path, "mlp.layers[%d]", i);
            AMEIR_TRY(want_object(l, path, origin));
            AMEIR_TRY(check_keys(l, path, layer_keys, origin));
            join(kp, path, "units");
            if (!cJSON_GetObjectItemCaseSensitive(l, "units"))
                return bad(origin, kp, NULL, "an integer from 1 to 4096");
            AMEIR_TRY(get_int(l, path, "units", &a->mlp[i].units, origin));
            AMEIR_TRY(get_act(l, path, 1, &a->mlp[i].act, origin));
        }
    }
    return get_shortcut(o, &a->shortcut, origin);
}

static int parse_root(const cJSON *root, ameir_arch *a, const char *origin) {
    if (!cJSON_IsObject(root))
        return bad(origin, "(top level)", root, "an object");
    AMEIR_TRY(check_keys(root, "", top_keys, origin));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "comment");
    if (v && !cJSON_IsString(v))
        return bad(origin, "comment", v, "a string");
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "behavior")))
        AMEIR_TRY(parse_behavior(v, a, origin));
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "interactions")))
        AMEIR_TRY(parse_interactions(v, a, origin));
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "mlp")))
        AMEIR_TRY(parse_mlp(v, a, origin));
    return ameir_arch_validate(a, origin);
}

static int parse_text(ameir_arch *arch, const char *text, size_t len, const char *origin) {
    AMEIR_ASSERT(text != NULL && origin != NULL);
    ameir_arch_init(arch);
    cJSON *root = NULL;
    AMEIR_TRY(ameir_json_parse(&root, text, len, origin));
    int rc = parse_root(root, arch, origin);
    cJSON_Delete(root);
    return rc;
}

int ameir_arch_parse(ameir_arch *arch, const char *text, const char *origin) {
    return parse_text(arch, text, strlen(text), origin);
}

int ameir_arch_load(ameir_arch *arch, const char *path) {
    char *text = NULL;
    size_t len = 0;
    AMEIR_TRY(ameir_file_read(path, &text, &len));
    int rc = parse_text(arch, text, len, path);
    free(text);
    return rc;
}
