/* The search config: defaults, canonical text and hash, path resolution, each kind of bad
 * input with its code and message, resolution against a schema, and the shipped configs.
 * argv[1]: the source root (for configs/search and configs/archs). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/search.h"

static const char *root = ".";

#define SCHED "\"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 10, \"R\": 40}"
#define MINIMAL_BODY \
    "\"data\": \"prepared/syn\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {" SCHED "}}"
#define MINIMAL "{" MINIMAL_BODY

/* Parse text (with @ standing for the minimal stage objects) and expect failure code+message. */
static void bad(const char *text, int code, const char *message) {
    ameir_search_config *cfg = (ameir_search_config *)1;
    int rc = ameir_search_config_parse(&cfg, text, "bad.json", "/base");
    CHECK_EQ_INT(rc, code);
    CHECK(cfg == NULL);
    CHECK_STR_CONTAINS(ameir_last_error(), message);
    if (rc != code || !strstr(ameir_last_error(), message))
        fprintf(stderr, "  for: %s\n", text);
}

/* The minimal config with one stage object replaced or a top-level key added. */
static void bad_with(const char *top, const char *behavior, int code, const char *message) {
    char text[2048];
    snprintf(text, sizeof text,
             "{\"data\": \"prepared/syn\"%s%s, \"behavior\": {%s%s" SCHED "}, \"interaction\": {" SCHED
             "}, \"mlp\": {" SCHED "}}",
             *top ? ", " : "", top, behavior, *behavior ? ", " : "");
    bad(text, code, message);
}

static void check_defaults(void) {
    ameir_search_config *cfg = NULL;
    CHECK_EQ_INT(ameir_search_config_parse(&cfg, MINIMAL, "min.json", "/base/configs"), 0);
    CHECK_EQ_INT(cfg->seed, 1);
    CHECK_EQ_INT(cfg->d, 16);
    CHECK_EQ_INT(cfg->train.batch, 256);
    CHECK_NEAR(cfg->train.opt.lr, 1e-3, 1e-9);
    CHECK_EQ_INT(cfg->train.n_neg, 1);
    CHECK_EQ_INT(cfg->train.threads, 1);
    CHECK_EQ_INT(cfg->train.shards, 0);
    CHECK_EQ_INT(cfg->final_train.epochs, 10);
    CHECK_EQ_INT(cfg->final_train.patience, 2);
    CHECK_EQ_INT(cfg->final_train.max_steps, 0);
    CHECK_NEAR(cfg->trial_time_limit, 0.0, 0);
    for (int s = 0; s < AMEIR_N_STAGES; s++) /* the train method, 3 alone after one-shot rounds */
        CHECK(cfg->schedule[s].method == AMEIR_METHOD_TRAIN && cfg->schedule[s].standalone_top == 3);
    CHECK_EQ_INT(cfg->behavior.min_blocks, 0);
    CHECK_EQ_INT(cfg->behavior.max_blocks, 3);
    /* zero, gru, avgpool, maxpool + conv x 4 kernels + attention x 4 heads (all divide 16) */
    CHECK_EQ_INT(cfg->behavior.n_ops, 12);
    CHECK_EQ_INT(cfg->interaction.max_order, 2);
    CHECK_EQ_INT(cfg->interaction.max_interactions, 4);
    CHECK(cfg->interaction.fields_from_dataset);
    CHECK_EQ_INT(cfg->mlp.n_widths, 3);
    CHECK_EQ_INT(cfg->mlp.n_acts, AMEIR_ACT_COUNT);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_MLP].R, 40);
    CHECK_EQ_INT(cfg->n_baselines, 0);
    CHECK_EQ_INT(cfg->defaults.n_blocks, 0);
    CHECK(!strcmp(cfg->data_dir, "/base/configs/prepared/syn"));
    CHECK(!strcmp(cfg->name, "min"));
    CHECK(!cfg->resolved);
    ameir_search_config_free(cfg);

    /* d = 12: attention heads default to those dividing d (1, 2, 4) */
    CHECK_EQ_INT(ameir_search_config_parse(&cfg,
                                           "{\"data\": \"/abs/syn\", \"d\": 12, \"behavior\": {" SCHED
                                           "}, \"interaction\": {" SCHED "}, \"mlp\": {" SCHED "}}",
                                           "d12.json", "."),
                 0);
    CHECK_EQ_INT(cfg->behavior.n_ops, 4 + 4 + 3);
    CHECK(!strcmp(cfg->data_dir, "/abs/syn"));
    ameir_search_config_free(cfg);
}

static void check_canonical(void) {
    ameir_search_config *a = NULL, *b = NULL, *c = NULL;
    const char *t2 = "{\n  \"mlp\": {" SCHED "},\n  \"interaction\": {" SCHED "},\n"
                     "  \"behavior\": {\"schedule\": {\"R\": 40, \"r\": 10, \"eta\": 2, \"n\": 4}},\n"
                     "  \"data\": \"prepared/syn\"\n}\n";
    CHECK_EQ_INT(ameir_search_config_parse(&a, MINIMAL, "a.json", "."), 0);
    CHECK_EQ_INT(ameir_search_config_parse(&b, t2, "b.json", "."), 0);
    CHECK_EQ_INT(ameir_search_config_parse(&c, "{\"seed\": 2, " MINIMAL_BODY, "c.json", "."), 0);
    CHECK(!strcmp(a->text, b->text)); /* key order and spacing do not matter */
    CHECK_EQ_INT(a->hash, b->hash);
    CHECK(a->hash != c->hash); /* a value does */
    CHECK(!strchr(a->text, ' ') && !strchr(a->text, '\n'));
    CHECK(strstr(a->text, "{\"behavior\":") == a->text);
    /* the canonical text parses to the same config again */
    ameir_search_config *d = NULL;
    CHECK_EQ_INT(ameir_search_config_parse(&d, a->text, "d.json", "."), 0);
    CHECK_EQ_INT(d->hash, a->hash);
    ameir_search_config_free(a);
    ameir_search_config_free(b);
    ameir_search_config_free(c);
    ameir_search_config_free(d);
}

static void check_data_root(void) {
    ameir_search_config *cfg = NULL;
    setenv("AMEIR_DATA_ROOT", "/scratch/prepared", 1);
    CHECK_EQ_INT(ameir_search_config_parse(&cfg, MINIMAL, "m.json", "/base"), 0);
    CHECK(!strcmp(cfg->data_dir, "/scratch/prepared/syn"));
    ameir_search_config_free(cfg);
    /* an absolute data path wins over the variable */
    CHECK_EQ_INT(ameir_search_config_parse(&cfg,
                                           "{\"data\": \"/abs/x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED
                                           "}, \"mlp\": {" SCHED "}}",
                                           "m.json", "/base"),
                 0);
    CHECK(!strcmp(cfg->data_dir, "/abs/x"));
    ameir_search_config_free(cfg);
    unsetenv("AMEIR_DATA_ROOT");
}

/* "method" at the top sets every stage's; a stage's schedule may say otherwise. */
static void check_methods(void) {
    ameir_search_config *cfg = NULL;
    CHECK_EQ_INT(ameir_search_config_parse(&cfg,
                                           "{\"data\": \"x\", \"method\": \"oneshot\", \"standalone_top\": 5, \"behavior\": {" SCHED
                                           "}, \"interaction\": {\"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 1, \"R\": 4, \"standalone_top\": 2}},"
                                           " \"mlp\": {\"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 1, \"R\": 4, \"method\": \"train\"}}}",
                                           "m.json", "/base"),
                 0);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_BEHAVIOR].method, AMEIR_METHOD_ONESHOT);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_BEHAVIOR].standalone_top, 5);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_INTERACTION].method, AMEIR_METHOD_ONESHOT);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_INTERACTION].standalone_top, 2);
    CHECK_EQ_INT(cfg->schedule[AMEIR_STAGE_MLP].method, AMEIR_METHOD_TRAIN);
    ameir_search_config_free(cfg);
}

static void check_bad(void) {
    bad("{\"data\": \"x\",\n \"seed\": 1,\n \"d\": ,\n}", AMEIR_EJSON, "bad.json:3:");
    bad("{\"data\": \"x\",\n \"seed\": 1,\n \"d\": ,\n}", AMEIR_EJSON, "JSON syntax error");
    /* virtual shards: more than a batch has rows, or out of range */
    bad("{\"data\": \"x\", \"train\": {\"batch\": 4, \"shards\": 5}, \"behavior\": {" SCHED "}, \"interaction\": {" SCHED
        "}, \"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "bad.json: train.shards: got 5, expected at most batch = 4");
    bad("{\"data\": \"x\", \"train\": {\"shards\": 300}, \"behavior\": {" SCHED "}, \"interaction\": {" SCHED
        "}, \"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "train.shards: got 300");
    bad("[1, 2]", AMEIR_ECONFIG, "bad.json: (top level): got an array, expected an object");
    bad("{\"behavior\": {}, \"interaction\": {}, \"mlp\": {}}", AMEIR_ECONFIG, "bad.json: data: missing, expected this key");
    bad("{\"data\": \"x\", \"behavior\": {}, \"interaction\": {" SCHED "}, \"mlp\": {" SCHED "}}", AMEIR_ECONFIG,
        "behavior.schedule: missing");
    bad("{\"data\": \"x\", \"behavior\": 3, \"interaction\": {" SCHED "}, \"mlp\": {" SCHED "}}", AMEIR_ECONFIG,
        "bad.json: behavior: got a number, expected an object");
    bad_with("\"colour\": 1", "", AMEIR_ECONFIG, "bad.json: colour: got an unknown key, expected one of name, description, data");
    bad_with("", "\"max_block\": 2", AMEIR_ECONFIG, "bad.json: behavior.max_block: got an unknown key, expected one of min_blocks");
    bad_with("\"seed\": \"x\"", "", AMEIR_ECONFIG, "bad.json: seed: got \"x\", expected an integer from 0 to");
    bad_with("\"seed\": 1.5", "", AMEIR_ECONFIG, "bad.json: seed: got 1.5, expected an integer");
    bad_with("\"d\": 0", "", AMEIR_ECONFIG, "bad.json: d: got 0, expected an integer from 1 to 1024");
    bad("{\"data\": 5, \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {" SCHED "}}", AMEIR_ECONFIG,
        "bad.json: data: got 5, expected a string");
    bad_with("\"train\": {\"lr\": 0}", "", AMEIR_ECONFIG, "bad.json: train.lr: got 0, expected a number > 0");
    bad_with("\"train\": {\"dropout\": 1}", "", AMEIR_ECONFIG, "train.dropout: got 1, expected a number >= 0 and <= 0.99");
    bad_with("\"train\": {\"batch\": true}", "", AMEIR_ECONFIG, "train.batch: got true, expected an integer");
    bad_with("\"train\": {\"epochs\": 3}", "", AMEIR_ECONFIG, "train.epochs: got an unknown key");
    bad_with("\"final\": {\"patience\": -1}", "", AMEIR_ECONFIG, "final.patience: got -1, expected an integer from 0");
    bad_with("\"trial_time_limit\": -5", "", AMEIR_ECONFIG, "trial_time_limit: got -5, expected a number >= 0");
    bad_with("\"final_seeds\": 0", "", AMEIR_ECONFIG, "bad.json: final_seeds: got 0, expected an integer from 1 to 16");
    bad_with("\"final_seeds\": 17", "", AMEIR_ECONFIG, "bad.json: final_seeds: got 17, expected an integer from 1 to 16");
    bad_with("\"method\": \"evolve\"", "", AMEIR_ECONFIG, "bad.json: method: got \"evolve\", expected \"train\" or \"oneshot\"");
    bad_with("\"standalone_top\": 0", "", AMEIR_ECONFIG, "bad.json: standalone_top: got 0, expected an integer from 1 to 64");
    bad("{\"data\": \"x\", \"behavior\": {\"schedule\": {\"n\": 2, \"eta\": 2, \"r\": 1, \"R\": 4, \"method\": 1}}, \"interaction\": {" SCHED
        "}, \"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "bad.json: behavior.schedule.method: got 1, expected \"train\" or \"oneshot\"");
    bad_with("\"baselines\": \"din.json\"", "", AMEIR_ECONFIG, "baselines: got \"din.json\", expected an array");
    bad_with("\"baselines\": [\"nope.json\"]", "", AMEIR_ENOENT, "bad.json: baselines[0]: no such arch file /base/nope.json");
    bad_with("\"defaults\": {\"behavior\": {\"aggregate\": \"max\"}}", "", AMEIR_ECONFIG, "bad.json: defaults");
    bad_with("\"defaults\": [1]", "", AMEIR_ECONFIG, "defaults: got an array, expected an object in the arch language");
    bad_with("\"seed\": 1, \"seed\": 2", "", AMEIR_ECONFIG, "seed: got the key twice, expected each key once");
    /* schedules */
    bad("{\"data\": \"x\", \"behavior\": {\"schedule\": {\"n\": 4, \"eta\": 1, \"r\": 10, \"R\": 40}}, \"interaction\": {" SCHED
        "}, \"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "bad.json: behavior.schedule.eta: got 1, expected an integer from 2 to 1000");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"schedule\": {\"n\": 4, "
        "\"eta\": 2, \"r\": 50, \"R\": 40}}}",
        AMEIR_ECONFIG, "bad.json: mlp.schedule.R: got 40, expected at least r = 50");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"schedule\": {\"n\": 4, "
        "\"eta\": 2, \"r\": 50, \"R\": \"soon\"}}}",
        AMEIR_ECONFIG, "bad.json: mlp.schedule.R: got \"soon\", expected an integer >= r or \"baseline\"");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"schedule\": {\"n\": 4, "
        "\"eta\": 2, \"r\": 50, \"R\": \"baseline\"}}}",
        AMEIR_ECONFIG, "bad.json: mlp.schedule.R: got \"baseline\", expected an integer: \"baseline\" needs baselines and warm_start");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {\"schedule\": {\"n\": 0, \"eta\": 2, \"r\": 1, "
        "\"R\": 4}}, \"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "interaction.schedule.n: got 0, expected an integer from 1");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {\"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 1}}, "
        "\"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "interaction.schedule.R: missing, expected this key (required)");
    /* subspaces */
    bad_with("", "\"ops\": [\"conv\", \"lstm\"]", AMEIR_ECONFIG,
             "behavior.ops[1]: got \"lstm\", expected one of zero, conv, gru, avgpool, maxpool, attention");
    bad_with("", "\"ops\": [\"gru\", \"gru\"]", AMEIR_ECONFIG, "behavior.ops[1]: got \"gru\" twice, expected distinct values");
    bad_with("", "\"conv_kernels\": [2]", AMEIR_ECONFIG, "behavior.conv_kernels[0]: got 2, expected one of 1, 3, 5, 7");
    bad_with("\"d\": 12", "\"attention_heads\": [8]", AMEIR_ECONFIG,
             "behavior.attention_heads[0]: got 8, expected a number of heads dividing d = 12");
    bad_with("", "\"acts\": [\"sigmoid\"]", AMEIR_ECONFIG, "behavior.acts[0]: got \"sigmoid\", expected one of identity");
    bad_with("", "\"min_blocks\": 3, \"max_blocks\": 2", AMEIR_ECONFIG, "behavior.max_blocks: got 2, expected at least min_blocks = 3");
    bad_with("", "\"max_blocks\": 9", AMEIR_ECONFIG, "behavior.max_blocks: got 9, expected an integer from 0 to 8");
    bad_with("", "\"ops\": []", AMEIR_ECONFIG, "behavior.ops: got [], expected at least one value when max_blocks > 0");
    bad_with("", "\"conv_kernels\": []", AMEIR_ECONFIG, "behavior.conv_kernels: got [], expected at least one kernel when ops includes conv");
    bad_with("", "\"ops\": [\"attention\"], \"attention_heads\": []", AMEIR_ECONFIG,
             "behavior.attention_heads: got [], expected at least one head count when ops includes attention");
    bad_with("", "\"norms\": []", AMEIR_ECONFIG, "behavior.norms: got [], expected at least one value when max_blocks > 0");
    bad_with("", "\"aggregates\": []", AMEIR_ECONFIG, "behavior.aggregates: got [], expected at least one value");
    bad_with("", "\"positions\": []", AMEIR_ECONFIG, "behavior.positions: got [], expected at least one value");
    bad_with("\"description\": [\"x\"]", "", AMEIR_ECONFIG, "bad.json: description: got an array, expected a string");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {\"fields\": [\"a\", \"a\"], " SCHED "}, \"mlp\": {" SCHED
        "}}",
        AMEIR_ECONFIG, "interaction.fields[1]: got \"a\" twice, expected distinct values");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"widths\": [], " SCHED "}}",
        AMEIR_ECONFIG, "mlp.widths: got [], expected at least one value when max_layers > 0");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {\"min_interactions\": 3, \"max_interactions\": 1, " SCHED
        "}, \"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "interaction.max_interactions: got 1, expected at least min_interactions = 3");
    bad("{\"data\": \"\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {" SCHED "}}", AMEIR_ECONFIG,
        "bad.json: data: got \"\", expected the directory written by `ameir prep`");
    bad_with("", "\"positions\": [true, true]", AMEIR_ECONFIG, "behavior.positions[1]: got true twice");
    bad_with("", "\"positions\": [1]", AMEIR_ECONFIG, "behavior.positions[0]: got 1, expected true or false");
    bad_with("", "\"aggregates\": \"mean\"", AMEIR_ECONFIG, "behavior.aggregates: got \"mean\", expected an array");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {\"max_order\": 5, " SCHED "}, \"mlp\": {" SCHED "}}",
        AMEIR_ECONFIG, "interaction.max_order: got 5, expected an integer from 2 to 4");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {\"fields\": [\"a\", \"\"], " SCHED "}, \"mlp\": {" SCHED
        "}}",
        AMEIR_ECONFIG, "interaction.fields[1]: got \"\", expected a non-empty string");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"widths\": [64, 5000], " SCHED
        "}}",
        AMEIR_ECONFIG, "mlp.widths[1]: got 5000, expected an integer from 1 to 4096");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"min_layers\": 0, "
        "\"max_layers\": 0, \"shortcut\": [true], " SCHED "}}",
        AMEIR_ECONFIG, "mlp.shortcut: got [true], expected false among the values when max_layers = 0");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"shortcut\": [false, \"SE\"], " SCHED
        "}}",
        AMEIR_ECONFIG, "mlp.shortcut[1]: got \"SE\", expected false, true or \"se\"");
    bad("{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {" SCHED "}, \"mlp\": {\"shortcut\": [\"se\", true, \"se\"], " SCHED
        "}}",
        AMEIR_ECONFIG, "mlp.shortcut[2]: got \"se\" twice, expected distinct values");
}

static void check_resolve(void) {
    ameir_schema s;
    memset(&s, 0, sizeof s);
    s.n_fields = 3;
    snprintf(s.fields[0].name, AMEIR_FIELD_NAME_MAX, "user");
    snprintf(s.fields[1].name, AMEIR_FIELD_NAME_MAX, "item");
    snprintf(s.fields[2].name, AMEIR_FIELD_NAME_MAX, "age");
    ameir_search_config *cfg = NULL;
    CHECK_EQ_INT(ameir_search_config_parse(&cfg, MINIMAL, "r.json", "."), 0);
    CHECK_EQ_INT(ameir_search_config_resolve(cfg, &s), 0);
    CHECK(cfg->resolved);
    CHECK_EQ_INT(cfg->interaction.n_fields, 3);
    CHECK(!strcmp(cfg->interaction.fields[2], "age"));
    ameir_search_config_free(cfg);

    const char *t = "{\"data\": \"x\", \"behavior\": {" SCHED "}, \"interaction\": {\"fields\": [\"user\", \"zip\"], " SCHED
                    "}, \"mlp\": {" SCHED "}}";
    CHECK_EQ_INT(ameir_search_config_parse(&cfg, t, "r.json", "."), 0);
    CHECK_EQ_INT(ameir_search_config_resolve(cfg, &s), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "r.json: interaction.fields[1]: got \"zip\", expected a field of the dataset");
    ameir_search_config_free(cfg);

    t = "{\"data\": \"x\", \"defaults\": {\"interactions\": [[\"user\", \"city\"]]}, \"behavior\": {" SCHED
        "}, \"interaction\": {" SCHED "}, \"mlp\": {" SCHED "}}";
    CHECK_EQ_INT(ameir_search_config_parse(&cfg, t, "r.json", "."), 0);
    CHECK_EQ_INT(ameir_search_config_resolve(cfg, &s), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "r.json: defaults: interactions[0][1]: got \"city\"");
    ameir_search_config_free(cfg);
}

/* Every shipped config parses, with its baselines; the one-shot variants say so. */
static void check_shipped(void) {
    static const char *const names[] = {"synthetic", "ml100k-ctr", "beauty-seq", "frappe-ctr", "taobao-ctr",
                                        "ml100k-ctr-oneshot", "beauty-seq-oneshot", "taobao-ctr-oneshot"};
    for (int i = 0; i < 8; i++) {
        char path[1024];
        ameir_search_config *cfg = NULL;
        snprintf(path, sizeof path, "%s/configs/search/%s.json", root, names[i]);
        int rc = ameir_search_config_load(&cfg, path);
        CHECK_EQ_INT(rc, 0);
        if (rc < 0) {
            fprintf(stderr, "  %s\n", ameir_last_error());
            continue;
        }
        CHECK(!strcmp(cfg->name, names[i]));
        CHECK(cfg->n_baselines >= 2);
        CHECK_STR_CONTAINS(cfg->data_dir, "/runs/data/");
        if (strstr(names[i], "-oneshot"))
            CHECK(cfg->schedule[AMEIR_STAGE_BEHAVIOR].method == AMEIR_METHOD_ONESHOT);
        ameir_search_config_free(cfg);
    }
    ameir_search_config *cfg = NULL;
    CHECK_EQ_INT(ameir_search_config_load(&cfg, "/nonexistent/search.json"), AMEIR_ENOENT);
    CHECK_STR_CONTAINS(ameir_last_error(), "/nonexistent/search.json: cannot open");
}

/* Field names of a shipped dataset: "fields"[].name of configs/datasets/NAME.json; the
 * synthetic generator's fields (src/data/synth.c) are not in its config. */
static int dataset_fields(const char *name, ameir_schema *s) {
    static const char *const synthetic[] = {"user", "age", "gender", "city", "device", "hour", "item", "category"};
    char path[1024], *text = NULL;
    memset(s, 0, sizeof *s);
    s->task = AMEIR_TASK_CTR;
    s->item_field = -1;
    if (!strcmp(name, "synthetic")) {
        for (int f = 0; f < 8; f++)
            snprintf(s->fields[s->n_fields++].name, AMEIR_FIELD_NAME_MAX, "%s", synthetic[f]);
        return 0;
    }
    snprintf(path, sizeof path, "%s/configs/datasets/%s.json", root, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *o = cJSON_Parse(text), *fl = cJSON_GetObjectItemCaseSensitive(o, "fields"), *it;
    free(text);
    cJSON_ArrayForEach(it, fl) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (cJSON_IsString(nm) && s->n_fields < AMEIR_MAX_FIELDS)
            snprintf(s->fields[s->n_fields++].name, AMEIR_FIELD_NAME_MAX, "%s", nm->valuestring);
    }
    cJSON_Delete(o);
    return s->n_fields > 0 ? 0 : -1;
}

/* Every shipped baseline's part for each stage lies in that stage's subspace of its dataset's
 * shipped search config, so the search can at least find what it is compared with. */
static void check_shipped_baselines_in_space(void) {
    static const char *const names[] = {"synthetic", "ml100k-ctr", "beauty-seq", "frappe-ctr", "taobao-ctr"};
    for (int i = 0; i < 5; i++) {
        char path[1024];
        ameir_search_config *cfg = NULL;
        ameir_schema s;
        snprintf(path, sizeof path, "%s/configs/search/%s.json", root, names[i]);
        CHECK_EQ_INT(dataset_fields(names[i], &s), 0);
        if (ameir_search_config_load(&cfg, path) < 0 || ameir_search_config_resolve(cfg, &s) < 0) {
            fprintf(stderr, "  %s: %s\n", names[i], ameir_last_error());
            CHECK(0);
            ameir_search_config_free(cfg);
            continue;
        }
        CHECK(cfg->seed_baselines);
        for (int b = 0; b < cfg->n_baselines; b++)
            for (int st = 0; st < AMEIR_N_STAGES; st++) {
                ameir_arch a = cfg->defaults;
                ameir_arch_set_part(&a, &cfg->baselines[b], st);
                int in = ameir_space_contains(cfg, st, &a);
                if (!in)
                    fprintf(stderr, "  %s: baseline %s: its %s part is outside the subspace\n", names[i], cfg->baseline_names[b],
                            ameir_stage_name(st));
                CHECK(in);
            }
        ameir_search_config_free(cfg);
    }
}

int main(int argc, char **argv) {
    if (argc > 1)
        root = argv[1];
    check_defaults();
    check_canonical();
    check_data_root();
    check_methods();
    check_bad();
    check_resolve();
    check_shipped();
    check_shipped_baselines_in_space();
    return check_finish("test_search_config");
}
