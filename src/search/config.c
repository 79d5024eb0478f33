/* The search config (configs/search/NAME.json): JSON -> ameir_search_config, every key
 * checked, errors "FILE: key.path: got X, expected Y". Keys: docs/config-search.md. */
#include "ameir/search.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/error.h"
#include "ameir/fileio.h"
#include "ameir/nn.h"
#include "ameir/json.h"

static const char *const stage_names[] = {"behavior", "interaction", "mlp", "final"};

const char *ameir_stage_name(int stage) {
    return stage >= 0 && stage <= AMEIR_STAGE_FINAL ? stage_names[stage] : NULL;
}

/* ---- paths ---- */

static int join_path(char *out, size_t n, const char *dir, const char *rel) {
    int w = rel[0] == '/' ? snprintf(out, n, "%s", rel) : snprintf(out, n, "%s/%s", dir, rel);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* An absolute form of dir (NULL or "" = the working directory). */
static int absolute_dir(char *out, size_t n, const char *dir) {
    char cwd[AMEIR_PATH_MAX];
    if (dir && dir[0] == '/')
        return snprintf(out, n, "%s", dir) >= (int)n ? -1 : 0;
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    if (!dir || !dir[0] || !strcmp(dir, "."))
        return snprintf(out, n, "%s", cwd) >= (int)n ? -1 : 0;
    return join_path(out, n, cwd, dir);
}

static void base_name(char *out, size_t n, const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strlen(b);
    if (len >= n)
        len = n - 1;
    memcpy(out, b, len);
    out[len] = '\0';
    char *dot = strrchr(out, '.');
    if (dot && dot != out && !strcmp(dot, ".json"))
        *dot = '\0';
}

/* ---- sections ---- */

static int parse_train(ameir_json_ctx *c, const cJSON *o, ameir_train_config *t) {
    static const char *const keys[] = {"batch", "lr", "dropout", "l2", "n_neg", "threads", "shards", NULL};
    double lr = t->opt.lr, dropout = t->opt.dropout, l2 = t->opt.l2;
    if (!o)
        return 0;
    AMEIR_TRY(ameir_json_object(c, o, "train", keys));
    AMEIR_TRY(ameir_json_int(c, o, "train", "batch", 1, 65536, &t->batch));
    AMEIR_TRY(ameir_json_number(c, o, "train", "lr", 0.0, 10.0, 0, &lr));
    AMEIR_TRY(ameir_json_number(c, o, "train", "dropout", 0.0, 0.99, 1, &dropout));
    AMEIR_TRY(ameir_json_number(c, o, "train", "l2", 0.0, 10.0, 1, &l2));
    AMEIR_TRY(ameir_json_int(c, o, "train", "n_neg", 1, 100, &t->n_neg));
    AMEIR_TRY(ameir_json_int(c, o, "train", "threads", 1, 256, &t->threads));
    /* virtual shards: a trial's result then depends on S only, so idle workers may share it */
    AMEIR_TRY(ameir_json_int(c, o, "train", "shards", 0, 256, &t->shards));
    if (t->shards > t->batch) {
        char got[32], expected[64];
        snprintf(got, sizeof got, "%d", t->shards);
        snprintf(expected, sizeof expected, "at most batch = %d (a shard holds at least one row)", t->batch);
        return ameir_json_bad(c, "train", "shards", got, expected);
    }
    t->opt.lr = (float)lr;
    t->opt.dropout = (float)dropout;
    t->opt.l2 = (float)l2;
    return 0;
}

static int parse_final(ameir_json_ctx *c, const cJSON *o, ameir_train_config *t) {
    static const char *const keys[] = {"epochs", "max_steps", "patience", "eval_every", NULL};
    if (!o)
        return 0;
    AMEIR_TRY(ameir_json_object(c, o, "final", keys));
    AMEIR_TRY(ameir_json_int(c, o, "final", "epochs", 1, 100000, &t->epochs));
    AMEIR_TRY(ameir_json_int64(c, o, "final", "max_steps", 0, INT64_C(1000000000000), &t->max_steps));
    AMEIR_TRY(ameir_json_int(c, o, "final", "patience", 0, 1000, &t->patience));
    AMEIR_TRY(ameir_json_int64(c, o, "final", "eval_every", 0, INT64_C(1000000000000), &t->eval_every));
    return 0;
}

/* "method": "train" or "oneshot" into *method (left as it is when absent). */
static int parse_method(ameir_json_ctx *c, const cJSON *o, const char *path, int *method) {
    char got[80];
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "method");
    if (!m)
        return 0;
    if (cJSON_IsString(m) && !strcmp(m->valuestring, "train"))
        *method = AMEIR_METHOD_TRAIN;
    else if (cJSON_IsString(m) && !strcmp(m->valuestring, "oneshot"))
        *method = AMEIR_METHOD_ONESHOT;
    else
        return ameir_json_bad(c, path, "method", ameir_json_got(m, got, sizeof got), "\"train\" or \"oneshot\"");
    return 0;
}

/* s->method and s->standalone_top hold the config's top-level values (or their defaults). */
static int parse_schedule(ameir_json_ctx *c, const cJSON *stage, const char *stage_path, ameir_schedule *s) {
    static const char *const keys[] = {"n", "eta", "r", "R", "valid_rows", "eval_every", "method", "standalone_top", NULL};
    static const char *const need[] = {"n", "eta", "r", "R", NULL};
    char path[64], got[80];
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(stage, "schedule");
    snprintf(path, sizeof path, "%s.schedule", stage_path);
    if (!o)
        return ameir_json_missing(c, stage_path, "schedule", "an object {\"n\", \"eta\", \"r\", \"R\"}");
    AMEIR_TRY(ameir_json_object(c, o, path, keys));
    AMEIR_TRY(ameir_json_require(c, o, path, need));
    AMEIR_TRY(ameir_json_int(c, o, path, "n", 1, 4096, &s->n));
    AMEIR_TRY(ameir_json_int(c, o, path, "eta", 2, 1000, &s->eta));
    AMEIR_TRY(ameir_json_int64(c, o, path, "r", 1, INT64_C(1000000000000), &s->r));
    const cJSON *R = cJSON_GetObjectItemCaseSensitive(o, "R");
    if (cJSON_IsString(R) && !strcmp(R->valuestring, "baseline"))
        s->R = AMEIR_R_BASELINE;
    else if (cJSON_IsString(R))
        return ameir_json_bad(c, path, "R", ameir_json_got(R, got, sizeof got), "an integer >= r or \"baseline\"");
    else
        AMEIR_TRY(ameir_json_int64(c, o, path, "R", 1, INT64_C(1000000000000), &s->R));
    s->valid_rows = 0;
    AMEIR_TRY(ameir_json_int64(c, o, path, "valid_rows", 0, INT64_C(1000000000000), &s->valid_rows));
    s->eval_every = 0;
    AMEIR_TRY(ameir_json_int64(c, o, path, "eval_every", 0, INT64_C(1000000000000), &s->eval_every));
    AMEIR_TRY(parse_method(c, o, path, &s->method));
    AMEIR_TRY(ameir_json_int(c, o, path, "standalone_top", 1, 64, &s->standalone_top));
    if (s->R != AMEIR_R_BASELINE && s->R < s->r) {
        char expected[64];
        snprintf(got, sizeof got, "%lld", (long long)s->R);
        snprintf(expected, sizeof expected, "at least r = %lld", (long long)s->r);
        return ameir_json_bad(c, path, "R", got, expected);
    }
    return 0;
}

static int op_from_name(const char *s) {
    for (int op = 0; op < AMEIR_OP_COUNT; op++)
        if (!strcmp(ameir_op_name(op), s))
            return op;
    return -1;
}
static int norm_from_name(const char *s) {
    for (int i = 0; i < AMEIR_NORM_COUNT; i++)
        if (!strcmp(ameir_norm_name(i), s))
            return i;
    return -1;
}
static int agg_from_name(const char *s) {
    for (int i = 0; i < AMEIR_AGG_COUNT; i++)
        if (!strcmp(ameir_aggregate_name(i), s))
            return i;
    return -1;
}
static int block_act_from_name(const char *s) {
    int a = ameir_act_from_name(s);
    return a == AMEIR_ACT_SIGMOID ? -1 : a;
}

static int parse_behavior(ameir_json_ctx *c, const cJSON *o, int d, ameir_behavior_space *b) {
    static const char *const keys[] = {"min_blocks", "max_blocks", "ops", "conv_kernels", "attention_heads", "norms",
                                       "acts", "aggregates", "positions", "schedule", NULL};
    static const int all_kernels[] = {1, 3, 5, 7}, all_heads[] = {1, 2, 4, 8};
    int ops[AMEIR_OP_COUNT], n_ops = AMEIR_OP_COUNT, kernels[4] = {1, 3, 5, 7}, n_kernels = 4, heads[4], n_heads = 0;
    for (int i = 0; i < AMEIR_OP_COUNT; i++)
        ops[i] = i;
    for (int i = 0; i < 4; i++)
        if (d % all_heads[i] == 0)
            heads[n_heads++] = all_heads[i];
    b->min_blocks = 0;
    b->max_blocks = 3;
    b->n_norms = 2, b->norms[0] = AMEIR_NORM_NONE, b->norms[1] = AMEIR_NORM_LAYERNORM;
    b->n_acts = 4;
    for (int i = 0; i < 4; i++)
        b->acts[i] = i; /* identity, relu, gelu, swish */
    b->n_aggregates = AMEIR_AGG_COUNT;
    for (int i = 0; i < AMEIR_AGG_COUNT; i++)
        b->aggregates[i] = i;
    b->n_positions = 2, b->positions[0] = 0, b->positions[1] = 1;

    AMEIR_TRY(ameir_json_object(c, o, "behavior", keys));
    AMEIR_TRY(ameir_json_int_range(c, o, "behavior", "min_blocks", "max_blocks", 0, AMEIR_MAX_BLOCKS, &b->min_blocks,
                                   &b->max_blocks));
    AMEIR_TRY(ameir_json_names(c, o, "behavior", "ops", op_from_name, "one of zero, conv, gru, avgpool, maxpool, attention",
                               ops, AMEIR_OP_COUNT, &n_ops));
    AMEIR_TRY(ameir_json_ints(c, o, "behavior", "conv_kernels", all_kernels, 4, "one of 1, 3, 5, 7", kernels, 4, &n_kernels));
    if (cJSON_GetObjectItemCaseSensitive(o, "attention_heads")) {
        AMEIR_TRY(ameir_json_ints(c, o, "behavior", "attention_heads", all_heads, 4, "one of 1, 2, 4, 8", heads, 4, &n_heads));
        for (int i = 0; i < n_heads; i++)
            if (d % heads[i]) {
                char path[64], got[32], expected[64];
                snprintf(path, sizeof path, "behavior.attention_heads[%d]", i);
                snprintf(got, sizeof got, "%d", heads[i]);
                snprintf(expected, sizeof expected, "a number of heads dividing d = %d", d);
                return ameir_json_bad(c, path, NULL, got, expected);
            }
    }
    AMEIR_TRY(ameir_json_names(c, o, "behavior", "norms", norm_from_name, "one of none, layernorm", b->norms,
                               AMEIR_NORM_COUNT, &b->n_norms));
    AMEIR_TRY(ameir_json_names(c, o, "behavior", "acts", block_act_from_name, "one of identity, relu, gelu, swish", b->acts,
                               4, &b->n_acts));
    AMEIR_TRY(ameir_json_names(c, o, "behavior", "aggregates", agg_from_name, "one of target_attention, mean, last",
                               b->aggregates, AMEIR_AGG_COUNT, &b->n_aggregates));
    AMEIR_TRY(ameir_json_bools(c, o, "behavior", "positions", b->positions, &b->n_positions));

    /* every op crossed with its options */
    b->n_ops = 0;
    for (int i = 0; i < n_ops; i++) {
        const int *opt = ops[i] == AMEIR_OP_CONV ? kernels : ops[i] == AMEIR_OP_ATTENTION ? heads : NULL;
        int n_opt = ops[i] == AMEIR_OP_CONV ? n_kernels : ops[i] == AMEIR_OP_ATTENTION ? n_heads : 1;
        if (n_opt == 0) /* an explicit empty option list would silently drop the op */
            return ameir_json_bad(c, "behavior", ops[i] == AMEIR_OP_CONV ? "conv_kernels" : "attention_heads", "[]",
                                  ops[i] == AMEIR_OP_CONV ? "at least one kernel when ops includes conv"
                                                          : "at least one head count when ops includes attention");
        for (int k = 0; k < n_opt; k++) {
            AMEIR_ASSERT(b->n_ops < AMEIR_SPACE_MAX_OPS);
            b->ops[b->n_ops].op = ops[i];
            b->ops[b->n_ops].option = opt ? opt[k] : 0;
            b->n_ops++;
        }
    }
    if (b->max_blocks > 0 && (b->n_ops == 0 || b->n_norms == 0 || b->n_acts == 0))
        return ameir_json_bad(c, "behavior", b->n_ops == 0 ? "ops" : b->n_norms == 0 ? "norms" : "acts", "[]",
                              "at least one value when max_blocks > 0");
    if (b->n_aggregates == 0)
        return ameir_json_bad(c, "behavior", "aggregates", "[]", "at least one value");
    if (b->n_positions == 0)
        return ameir_json_bad(c, "behavior", "positions", "[]", "at least one value");
    return 0;
}

static int parse_interaction(ameir_json_ctx *c, const cJSON *o, ameir_interaction_space *s) {
    static const char *const keys[] = {"max_order", "min_interactions", "max_interactions", "generations", "fields",
                                       "schedule", NULL};
    s->max_order = 2;
    s->min_interactions = 0;
    s->max_interactions = 4;
    AMEIR_TRY(ameir_json_object(c, o, "interaction", keys));
    AMEIR_TRY(ameir_json_int(c, o, "interaction", "max_order", 2, AMEIR_MAX_ORDER, &s->max_order));
    s->generations = s->max_order; /* order 2, then one generation per higher order (at least one of mutation) */
    AMEIR_TRY(ameir_json_int(c, o, "interaction", "generations", 1, 64, &s->generations));
    AMEIR_TRY(ameir_json_int_range(c, o, "interaction", "min_interactions", "max_interactions", 0,
                                   AMEIR_MAX_INTERACTIONS, &s->min_interactions, &s->max_interactions));
    s->fields_from_dataset = cJSON_GetObjectItemCaseSensitive(o, "fields") == NULL;
    s->n_fields = 0;
    if (!s->fields_from_dataset)
        AMEIR_TRY(ameir_json_strings(c, o, "interaction", "fields", &s->fields[0][0], AMEIR_FIELD_NAME_MAX,
                                     AMEIR_MAX_FIELDS, &s->n_fields));
    return 0;
}

static int mlp_act_from_name(const char *s) { return ameir_act_from_name(s); }

static int parse_mlp(ameir_json_ctx *c, const cJSON *o, ameir_mlp_space *m) {
    static const char *const keys[] = {"min_layers", "max_layers", "widths", "acts", "shortcut", "schedule", NULL};
    m->min_layers = 1;
    m->max_layers = 3;
    m->n_widths = 3, m->widths[0] = 64, m->widths[1] = 128, m->widths[2] = 256;
    m->n_acts = AMEIR_ACT_COUNT;
    for (int i = 0; i < AMEIR_ACT_COUNT; i++)
        m->acts[i] = i;
    m->n_shortcut = 2, m->shortcut[0] = 0, m->shortcut[1] = 1;
    AMEIR_TRY(ameir_json_object(c, o, "mlp", keys));
    AMEIR_TRY(ameir_json_int_range(c, o, "mlp", "min_layers", "max_layers", 0, AMEIR_MAX_MLP, &m->min_layers,
                                   &m->max_layers));
    AMEIR_TRY(ameir_json_ints(c, o, "mlp", "widths", NULL, AMEIR_MAX_UNITS, "an integer from 1 to 4096", m->widths,
                               AMEIR_SPACE_MAX_WIDTHS, &m->n_widths));
    AMEIR_TRY(ameir_json_names(c, o, "mlp", "acts", mlp_act_from_name, "one of identity, relu, gelu, swish, sigmoid",
                               m->acts, AMEIR_ACT_COUNT, &m->n_acts));
    AMEIR_TRY(ameir_json_bools_or(c, o, "mlp", "shortcut", "se", "false, true or \"se\"", m->shortcut, &m->n_shortcut));
    if (m->max_layers > 0 && (m->n_widths == 0 || m->n_acts == 0))
        return ameir_json_bad(c, "mlp", m->n_widths == 0 ? "widths" : "acts", "[]", "at least one value when max_layers > 0");
    if (m->n_shortcut == 0)
        return ameir_json_bad(c, "mlp", "shortcut", "[]", "at least one value");
    int no_shortcut = 0;
    for (int i = 0; i < m->n_shortcut; i++)
        no_shortcut |= m->shortcut[i] == AMEIR_SHORTCUT_NONE;
    if (m->max_layers == 0 && !no_shortcut)
        return ameir_json_bad(c, "mlp", "shortcut",
                              m->n_shortcut > 1 ? "[true, \"se\"]" : m->shortcut[0] == AMEIR_SHORTCUT_SE ? "[\"se\"]" : "[true]",
                              "false among the values when max_layers = 0 (a shortcut needs a layer)");
    return 0;
}

static int parse_defaults(ameir_json_ctx *c, const cJSON *o, ameir_arch *arch) {
    char origin[AMEIR_PATH_MAX + 16];
    ameir_arch_init(arch);
    if (!o)
        return 0;
    if (!cJSON_IsObject(o))
        return ameir_json_bad(c, "defaults", NULL, ameir_json_type(o), "an object in the arch language");
    char *text = cJSON_PrintUnformatted(o);
    if (!text)
        return ameir_fail(AMEIR_ENOMEM, "%s: defaults: out of memory", c->origin);
    snprintf(origin, sizeof origin, "%s: defaults", c->origin);
    int rc = ameir_arch_parse(arch, text, origin);
    free(text);
    return rc;
}

static int parse_baselines(ameir_json_ctx *c, const cJSON *root, ameir_search_config *cfg) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "baselines");
    char paths[AMEIR_MAX_BASELINES][AMEIR_PATH_MAX];
    if (!o)
        return 0;
    AMEIR_TRY(ameir_json_strings(c, root, NULL, "baselines", &paths[0][0], AMEIR_PATH_MAX, AMEIR_MAX_BASELINES,
                                 &cfg->n_baselines));
    for (int i = 0; i < cfg->n_baselines; i++) {
        if (join_path(cfg->baseline_paths[i], AMEIR_PATH_MAX, cfg->base_dir, paths[i]) < 0)
            return ameir_fail(AMEIR_ECONFIG, "%s: baselines[%d]: path too long", c->origin, i);
        base_name(cfg->baseline_names[i], sizeof cfg->baseline_names[i], paths[i]);
        int rc = ameir_arch_load(&cfg->baselines[i], cfg->baseline_paths[i]);
        if (rc == AMEIR_ENOENT)
            return ameir_fail(AMEIR_ENOENT, "%s: baselines[%d]: no such arch file %s", c->origin, i, cfg->baseline_paths[i]);
        AMEIR_TRY(rc);
    }
    return 0;
}

static void set_defaults(ameir_search_config *cfg) {
    ameir_train_config *t = &cfg->train;
    cfg->seed = 1;
    cfg->d = 16;
    t->opt.lr = 1e-3f, t->opt.beta1 = 0.9f, t->opt.beta2 = 0.999f, t->opt.eps = 1e-8f;
    t->opt.dropout = 0.0f, t->opt.l2 = 0.0f;
    t->batch = 256, t->epochs = 10, t->max_steps = 0, t->eval_every = 0, t->patience = 2;
    t->n_neg = 1, t->threads = 1;
}

static int parse_root(ameir_json_ctx *c, const cJSON *root, ameir_search_config *cfg) {
    static const char *const keys[] = {"name", "description", "data", "seed", "d", "train", "trial_time_limit", "behavior",
                                       "interaction", "mlp", "defaults", "final", "final_top", "final_seeds", "seed_baselines",
                                       "warm_start", "baselines", "method", "standalone_top", NULL};
    static const char *const need[] = {"data", "behavior", "interaction", "mlp", NULL};
    const char *const stage_keys[AMEIR_N_STAGES] = {"behavior", "interaction", "mlp"};
    char data[AMEIR_PATH_MAX];
    int64_t seed = (int64_t)cfg->seed;
    AMEIR_TRY(ameir_json_object(c, root, NULL, keys));
    AMEIR_TRY(ameir_json_require(c, root, NULL, need));
    AMEIR_TRY(ameir_json_string(c, root, NULL, "name", cfg->name, sizeof cfg->name));
    AMEIR_TRY(ameir_json_string(c, root, NULL, "description", data, sizeof data)); /* checked, not kept */
    data[0] = '\0';
    AMEIR_TRY(ameir_json_string(c, root, NULL, "data", data, sizeof data));
    if (!data[0])
        return ameir_json_bad(c, NULL, "data", "\"\"", "the directory written by `ameir prep`");
    AMEIR_TRY(ameir_json_int64(c, root, NULL, "seed", 0, INT64_C(9007199254740992), &seed));
    cfg->seed = (uint64_t)seed;
    AMEIR_TRY(ameir_json_int(c, root, NULL, "d", 1, 1024, &cfg->d));
    AMEIR_TRY(parse_train(c, cJSON_GetObjectItemCaseSensitive(root, "train"), &cfg->train));
    cfg->train.seed = cfg->seed;
    AMEIR_TRY(ameir_json_number(c, root, NULL, "trial_time_limit", 0.0, 1e9, 1, &cfg->trial_time_limit));
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, stage_keys[s]);
        if (!cJSON_IsObject(o))
            return ameir_json_bad(c, NULL, stage_keys[s], ameir_json_type(o), "an object");
    }
    AMEIR_TRY(parse_behavior(c, cJSON_GetObjectItemCaseSensitive(root, "behavior"), cfg->d, &cfg->behavior));
    AMEIR_TRY(parse_interaction(c, cJSON_GetObjectItemCaseSensitive(root, "interaction"), &cfg->interaction));
    AMEIR_TRY(parse_mlp(c, cJSON_GetObjectItemCaseSensitive(root, "mlp"), &cfg->mlp));
    int method = AMEIR_METHOD_TRAIN, top = 3; /* the defaults of every stage's schedule */
    AMEIR_TRY(parse_method(c, root, NULL, &method));
    AMEIR_TRY(ameir_json_int(c, root, NULL, "standalone_top", 1, 64, &top));
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        cfg->schedule[s].method = method, cfg->schedule[s].standalone_top = top;
        AMEIR_TRY(parse_schedule(c, cJSON_GetObjectItemCaseSensitive(root, stage_keys[s]), stage_keys[s], &cfg->schedule[s]));
    }
    AMEIR_TRY(parse_defaults(c, cJSON_GetObjectItemCaseSensitive(root, "defaults"), &cfg->defaults));
    cfg->final_train = cfg->train;
    AMEIR_TRY(parse_final(c, cJSON_GetObjectItemCaseSensitive(root, "final"), &cfg->final_train));
    AMEIR_TRY(parse_baselines(c, root, cfg));
    cfg->final_top = 1;
    AMEIR_TRY(ameir_json_int(c, root, NULL, "final_top", 1, 64, &cfg->final_top));
    cfg->final_seeds = 1;
    AMEIR_TRY(ameir_json_int(c, root, NULL, "final_seeds", 1, AMEIR_MAX_FINAL_SEEDS, &cfg->final_seeds));
    cfg->seed_baselines = 1;
    AMEIR_TRY(ameir_json_bool(c, root, NULL, "seed_baselines", &cfg->seed_baselines));
    cfg->warm_start = 1;
    AMEIR_TRY(ameir_json_bool(c, root, NULL, "warm_start", &cfg->warm_start));
    for (int s = 0; s < AMEIR_N_STAGES; s++) /* "baseline" reads the horizon off the warm start */
        if (cfg->schedule[s].R == AMEIR_R_BASELINE && !(cfg->warm_start && cfg->n_baselines > 0)) {
            char path[64];
            snprintf(path, sizeof path, "%s.schedule", stage_keys[s]);
            return ameir_json_bad(c, path, "R", "\"baseline\"", "an integer: \"baseline\" needs baselines and warm_start");
        }

    /* data: absolute as is; relative: $AMEIR_DATA_ROOT/<last component> when that is set
     * (prepared data moved to scratch space), else from the config's directory */
    const char *root_env = getenv("AMEIR_DATA_ROOT");
    int w;
    if (data[0] != '/' && root_env && root_env[0]) {
        size_t len = strlen(data);
        while (len > 1 && data[len - 1] == '/')
            data[--len] = '\0';
        const char *last = strrchr(data, '/');
        w = snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s/%s", root_env, last ? last + 1 : data);
    } else {
        w = join_path(cfg->data_dir, sizeof cfg->data_dir, cfg->base_dir, data) < 0 ? -1 : 0;
    }
    if (w < 0 || (size_t)w >= sizeof cfg->data_dir)
        return ameir_fail(AMEIR_ECONFIG, "%s: data: path too long", c->origin);
    if (!cfg->name[0])
        base_name(cfg->name, sizeof cfg->name, c->origin);
    return 0;
}

int ameir_search_config_parse(ameir_search_config **out, const char *text, const char *origin, const char *base_dir) {
    ameir_search_config *cfg = NULL;
    cJSON *root = NULL;
    int rc;
    *out = NULL;
    cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return ameir_fail(AMEIR_ENOMEM, "%s: out of memory", origin);
    snprintf(cfg->origin, sizeof cfg->origin, "%s", origin);
    if (absolute_dir(cfg->base_dir, sizeof cfg->base_dir, base_dir) < 0) {
        rc = ameir_fail(AMEIR_EINVAL, "%s: cannot make an absolute path of %s", origin, base_dir ? base_dir : ".");
        goto fail;
    }
    set_defaults(cfg);
    rc = ameir_json_parse(&root, text, strlen(text), origin);
    if (rc < 0)
        goto fail;
    ameir_json_ctx c = {origin};
    rc = parse_root(&c, root, cfg);
    if (rc < 0)
        goto fail;
    cfg->text = ameir_json_canonical(root);
    if (!cfg->text) {
        rc = ameir_fail(AMEIR_ENOMEM, "%s: out of memory", origin);
        goto fail;
    }
    cfg->hash = ameir_hash_bytes(cfg->text, strlen(cfg->text));
    cJSON_Delete(root);
    *out = cfg;
    return 0;
fail:
    cJSON_Delete(root);
    ameir_search_config_free(cfg);
    return rc;
}

int ameir_search_config_load(ameir_search_config **out, const char *path) {
    char dir[AMEIR_PATH_MAX];
    char *text = NULL;
    *out = NULL;
    int rc = ameir_file_read(path, &text, NULL);
    if (rc < 0)
        return rc;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    rc = ameir_search_config_parse(out, text, path, dir);
    free(text);
    return rc;
}

void ameir_search_config_free(ameir_search_config *cfg) {
    if (!cfg)
        return;
    free(cfg->text);
    free(cfg);
}

static int check_arch_d(const ameir_arch *a, int d, const char *origin) {
    for (int i = 0; i < a->n_blocks; i++)
        if (a->blocks[i].op == AMEIR_OP_ATTENTION && d % a->blocks[i].option)
            return ameir_fail(AMEIR_ECONFIG, "%s: behavior.blocks[%d].heads: got %d, expected a number of heads dividing d = %d",
                              origin, i, a->blocks[i].option, d);
    return 0;
}

int ameir_search_config_resolve(ameir_search_config *cfg, const ameir_schema *schema) {
    ameir_interaction_space *s = &cfg->interaction;
    char origin[AMEIR_PATH_MAX + 16];
    if (s->fields_from_dataset) {
        s->n_fields = schema->n_fields;
        for (int f = 0; f < schema->n_fields; f++)
            snprintf(s->fields[f], AMEIR_FIELD_NAME_MAX, "%s", schema->fields[f].name);
    } else {
        for (int f = 0; f < s->n_fields; f++) {
            if (ameir_schema_find(schema, s->fields[f]) < 0)
                return ameir_fail(AMEIR_ECONFIG, "%s: interaction.fields[%d]: got \"%s\", expected a field of the dataset",
                                  cfg->origin, f, s->fields[f]);
            for (int g = 0; g < f; g++)
                if (!strcmp(s->fields[g], s->fields[f]))
                    return ameir_fail(AMEIR_ECONFIG, "%s: interaction.fields[%d]: got \"%s\" twice, expected distinct fields",
                                      cfg->origin, f, s->fields[f]);
        }
    }
    snprintf(origin, sizeof origin, "%s: defaults", cfg->origin);
    AMEIR_TRY(ameir_arch_check_schema(&cfg->defaults, schema, origin));
    AMEIR_TRY(check_arch_d(&cfg->defaults, cfg->d, origin));
    for (int i = 0; i < cfg->n_baselines; i++) {
        AMEIR_TRY(ameir_arch_check_schema(&cfg->baselines[i], schema, cfg->baseline_paths[i]));
        AMEIR_TRY(check_arch_d(&cfg->baselines[i], cfg->d, cfg->baseline_paths[i]));
    }
    cfg->resolved = 1;
    return 0;
}
