/* The arch language on good input: the PRODUCT.md example, defaults, the canonical form
 * and its hash (golden values computed outside C, see below), round trips of every file in
 * configs/archs/ (directory given as argv[1]), equality, and the check against a schema. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/schema.h"

static const char *product_example =
    "{\n"
    "  \"behavior\": {\n"
    "    \"blocks\": [\n"
    "      {\"norm\": \"layernorm\", \"op\": \"attention\", \"heads\": 2, \"act\": \"gelu\"},\n"
    "      {\"norm\": \"none\", \"op\": \"conv\", \"kernel\": 3, \"act\": \"relu\"},\n"
    "      {\"norm\": \"none\", \"op\": \"gru\", \"act\": \"identity\"}\n"
    "    ],\n"
    "    \"aggregate\": \"target_attention\"\n"
    "  },\n"
    "  \"interactions\": [[\"user\", \"item\"], [\"gender\", \"age\", \"genre\"]],\n"
    "  \"mlp\": {\"layers\": [{\"units\": 256, \"act\": \"relu\"}, {\"units\": 128, \"act\": \"swish\"}], "
    "\"shortcut\": false}\n"
    "}\n";

static const char *product_canonical =
    "{\"behavior\":{\"blocks\":[{\"norm\":\"layernorm\",\"op\":\"attention\",\"heads\":2,\"act\":\"gelu\"},"
    "{\"norm\":\"none\",\"op\":\"conv\",\"kernel\":3,\"act\":\"relu\"},"
    "{\"norm\":\"none\",\"op\":\"gru\",\"act\":\"identity\"}],\"aggregate\":\"target_attention\",\"positions\":false},"
    "\"interactions\":[[\"user\",\"item\"],[\"gender\",\"age\",\"genre\"]],"
    "\"mlp\":{\"layers\":[{\"units\":256,\"act\":\"relu\"},{\"units\":128,\"act\":\"swish\"}],\"shortcut\":false}}";

static const char *empty_canonical =
    "{\"behavior\":{\"blocks\":[],\"aggregate\":\"mean\",\"positions\":false},\"interactions\":[],"
    "\"mlp\":{\"layers\":[],\"shortcut\":false}}";

static void test_product_example(void) {
    ameir_arch a;
    CHECK_EQ_INT(ameir_arch_parse(&a, product_example, "example.json"), 0);
    CHECK_EQ_INT(a.n_blocks, 3);
    CHECK_EQ_INT(a.blocks[0].norm, AMEIR_NORM_LAYERNORM);
    CHECK_EQ_INT(a.blocks[0].op, AMEIR_OP_ATTENTION);
    CHECK_EQ_INT(a.blocks[0].option, 2);
    CHECK_EQ_INT(a.blocks[0].act, AMEIR_ACT_GELU);
    CHECK_EQ_INT(a.blocks[1].op, AMEIR_OP_CONV);
    CHECK_EQ_INT(a.blocks[1].option, 3);
    CHECK_EQ_INT(a.blocks[1].act, AMEIR_ACT_RELU);
    CHECK_EQ_INT(a.blocks[2].op, AMEIR_OP_GRU);
    CHECK_EQ_INT(a.blocks[2].option, 0);
    CHECK_EQ_INT(a.blocks[2].norm, AMEIR_NORM_NONE);
    CHECK_EQ_INT(a.aggregate, AMEIR_AGG_TARGET_ATTENTION);
    CHECK_EQ_INT(a.positions, 0);
    CHECK_EQ_INT(a.n_interactions, 2);
    CHECK_EQ_INT(a.interactions[0].order, 2);
    CHECK_EQ_INT(a.interactions[1].order, 3);
    CHECK(!strcmp(a.interactions[1].fields[2], "genre"));
    CHECK_EQ_INT(a.n_mlp, 2);
    CHECK_EQ_INT(a.mlp[0].units, 256);
    CHECK_EQ_INT(a.mlp[1].act, AMEIR_ACT_SWISH);
    CHECK_EQ_INT(a.shortcut, 0);

    char *text = ameir_arch_to_json(&a);
    CHECK(text && !strcmp(text, product_canonical));
    if (text && strcmp(text, product_canonical))
        fprintf(stderr, "canonical: %s\n", text);
    free(text);
    /* FNV-1a 64 of product_canonical, computed in Python:
     * h = 0xcbf29ce484222325; for c in s: h = ((h ^ c) * 0x100000001b3) % 2**64 */
    CHECK(ameir_arch_hash(&a) == 0x784ebc12ef71d7d3ULL);
}

static void test_defaults(void) {
    ameir_arch a, b;
    ameir_arch_init(&b);
    CHECK_EQ_INT(ameir_arch_parse(&a, "{}", "empty.json"), 0);
    CHECK(ameir_arch_equal(&a, &b));
    CHECK_EQ_INT(a.aggregate, AMEIR_AGG_MEAN);
    char *text = ameir_arch_to_json(&a);
    CHECK(text && !strcmp(text, empty_canonical));
    free(text);
    CHECK(ameir_arch_hash(&a) == 0x5760eb73d7a0a143ULL); /* FNV-1a 64 of empty_canonical */

    /* omitted keys take the documented defaults: norm none, act identity, positions
     * false, aggregate mean, shortcut false */
    const char *sparse = "{\"behavior\":{\"blocks\":[{\"op\":\"maxpool\"}]},\"mlp\":{\"layers\":[{\"units\":8}]}}";
    const char *full = "{\"comment\":\"same, every key written\",\"mlp\":{\"shortcut\":false,\"layers\":[{\"act\":"
                       "\"identity\",\"units\":8}]},\"interactions\":[],\"behavior\":{\"positions\":false,"
                       "\"aggregate\":\"mean\",\"blocks\":[{\"act\":\"identity\",\"op\":\"maxpool\",\"norm\":\"none\"}]}}";
    CHECK_EQ_INT(ameir_arch_parse(&a, sparse, "sparse"), 0);
    CHECK_EQ_INT(ameir_arch_parse(&b, full, "full"), 0);
    CHECK(ameir_arch_equal(&a, &b));
    CHECK(ameir_arch_hash(&a) == ameir_arch_hash(&b));
    CHECK_EQ_INT(a.blocks[0].norm, AMEIR_NORM_NONE);
    CHECK_EQ_INT(a.blocks[0].act, AMEIR_ACT_IDENTITY);
    CHECK_EQ_INT(a.mlp[0].act, AMEIR_ACT_IDENTITY);
}

/* Every difference that matters changes equality and the hash; field order within a
 * group is kept as written, so it matters too (documented in docs/arch-language.md). */
static void test_differences(void) {
    ameir_arch base, v;
    CHECK_EQ_INT(ameir_arch_parse(&base, product_example, "example"), 0);
    uint64_t h0 = ameir_arch_hash(&base);
    for (int change = 0; change < 10; change++) {
        v = base;
        switch (change) {
        case 0: v.blocks[1].option = 5; break;
        case 1: v.blocks[0].norm = AMEIR_NORM_NONE; break;
        case 2: v.blocks[2].act = AMEIR_ACT_RELU; break;
        case 3: v.aggregate = AMEIR_AGG_LAST; break;
        case 4: v.positions = 1; break;
        case 5: strcpy(v.interactions[0].fields[0], "item"); strcpy(v.interactions[0].fields[1], "user"); break;
        case 6: v.mlp[1].units = 129; break;
        case 7: v.shortcut = 1; break;
        case 8: v.n_mlp = 1; break;
        case 9: v.shortcut = AMEIR_SHORTCUT_SE; break;
        }
        CHECK_EQ_INT(ameir_arch_validate(&v, "variant"), 0);
        CHECK(!ameir_arch_equal(&base, &v));
        CHECK(ameir_arch_hash(&v) != h0);
        /* and the change survives a round trip */
        char *text = ameir_arch_to_json(&v);
        ameir_arch back;
        CHECK_EQ_INT(ameir_arch_parse(&back, text, "variant"), 0);
        CHECK(ameir_arch_equal(&back, &v));
        free(text);
    }
    /* unused slots do not take part */
    v = base;
    v.blocks[5].op = AMEIR_OP_GRU;
    v.mlp[7].units = 3;
    CHECK(ameir_arch_equal(&base, &v));
    CHECK(ameir_arch_hash(&v) == h0);
}

static void test_names(void) {
    CHECK(!strcmp(ameir_op_name(AMEIR_OP_ATTENTION), "attention"));
    CHECK(!strcmp(ameir_op_name(AMEIR_OP_ZERO), "zero"));
    CHECK(!strcmp(ameir_norm_name(AMEIR_NORM_LAYERNORM), "layernorm"));
    CHECK(!strcmp(ameir_aggregate_name(AMEIR_AGG_LAST), "last"));
    CHECK(ameir_op_name(AMEIR_OP_COUNT) == NULL);
    CHECK(ameir_op_name(-1) == NULL);
    CHECK(ameir_norm_name(AMEIR_NORM_COUNT) == NULL);
    CHECK(ameir_aggregate_name(AMEIR_AGG_COUNT) == NULL);
}

/* Every file of configs/archs parses, round-trips, and passes its own schema check when
 * it names fields (those are checked by the data tests against the real schemas). */
static void test_config_files(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ameir_arch a, b;
        int rc = ameir_arch_load(&a, path);
        CHECK_EQ_INT(rc, 0);
        if (rc) {
            fprintf(stderr, "%s\n", ameir_last_error());
            continue;
        }
        char *text = ameir_arch_to_json(&a);
        CHECK(text != NULL);
        CHECK_EQ_INT(ameir_arch_parse(&b, text, path), 0);
        CHECK(ameir_arch_equal(&a, &b));
        CHECK(ameir_arch_hash(&a) == ameir_arch_hash(&b));
        /* the canonical text is a fixed point */
        char *again = ameir_arch_to_json(&b);
        CHECK(again && !strcmp(text, again));
        printf("%-28s %016llx %s\n", e->d_name, (unsigned long long)ameir_arch_hash(&a), text);
        free(text);
        free(again);
        files++;
    }
    closedir(d);
    CHECK(files >= 13);
}

static void add_field(ameir_schema *s, const char *name) {
    ameir_field *f = &s->fields[s->n_fields++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->vocab = 10;
    f->width = 1;
}

static void test_schema_check(void) {
    ameir_schema s;
    memset(&s, 0, sizeof s);
    const char *names[] = {"user", "item", "gender", "age", "genre"};
    for (int i = 0; i < 5; i++)
        add_field(&s, names[i]);
    ameir_arch a;
    CHECK_EQ_INT(ameir_arch_parse(&a, product_example, "example.json"), 0);
    CHECK_EQ_INT(ameir_arch_check_schema(&a, &s, "example.json"), 0);

    /* a name the dataset lacks: the message names the group, the field and what exists */
    strcpy(a.interactions[1].fields[1], "agee");
    CHECK_EQ_INT(ameir_arch_check_schema(&a, &s, "example.json"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "example.json: interactions[1][1]: got \"agee\", expected a field of "
                                           "the dataset (user, item, gender, age, genre)");

    /* an arch built in C with a repeated field */
    CHECK_EQ_INT(ameir_arch_parse(&a, product_example, "example.json"), 0);
    strcpy(a.interactions[0].fields[1], "user");
    CHECK_EQ_INT(ameir_arch_check_schema(&a, &s, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: interactions[0][1]: got \"user\" twice, expected distinct fields");

    /* a long list of fields is cut short, not overflowed */
    ameir_schema big;
    memset(&big, 0, sizeof big);
    for (int i = 0; i < AMEIR_MAX_FIELDS; i++) {
        char name[AMEIR_FIELD_NAME_MAX];
        snprintf(name, sizeof name, "a_rather_long_field_name_number_%02d", i);
        add_field(&big, name);
    }
    CHECK_EQ_INT(ameir_arch_parse(&a, "{\"interactions\":[[\"x\",\"y\"]]}", "xy"), 0);
    CHECK_EQ_INT(ameir_arch_check_schema(&a, &big, "xy"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "xy: interactions[0][0]: got \"x\", expected a field of the dataset "
                                           "(a_rather_long_field_name_number_00, ");
    CHECK_STR_CONTAINS(ameir_last_error(), ", ...)");
}

int main(int argc, char **argv) {
    test_product_example();
    test_defaults();
    test_differences();
    test_names();
    test_schema_check();
    if (argc > 1)
        test_config_files(argv[1]);
    else
        CHECK(!"usage: test_arch CONFIGS_ARCHS_DIR");
    return check_finish("arch");
}
