/* The arch language on bad input: every kind of mistake gives its error code and a
 * message "ORIGIN: key.path: got X, expected Y" (or "ORIGIN:LINE:COL: ..." for syntax). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/error.h"
#include "ameir/rng.h"

typedef struct bad_case {
    const char *what;
    const char *text;
    int code;
    const char *message; /* a piece the message must contain */
} bad_case;

#define BLOCK(x) "{\"behavior\":{\"blocks\":[" x "]}}"
#define LAYER(x) "{\"mlp\":{\"layers\":[" x "]}}"
#define GROUPS(x) "{\"interactions\":[" x "]}"
#define B9 "{\"op\":\"zero\"},"
#define L9 "{\"units\":4},"
#define G8 "[\"a\",\"b\"],[\"a\",\"c\"],[\"a\",\"d\"],[\"a\",\"e\"],[\"a\",\"f\"],[\"a\",\"g\"],[\"a\",\"h\"],[\"a\",\"i\"],"

static const bad_case cases[] = {
    /* syntax: the line and column where cJSON stopped */
    {"syntax error on line 3", "{\n  \"behavior\": {\n    \"blocks\": [,]\n  }\n}", AMEIR_EJSON,
     "a.json:3:16: JSON syntax error: got \",]\", expected valid JSON"},
    {"trailing text", "{}\n{}", AMEIR_EJSON, "a.json:2:1: JSON syntax error: got \"{}\""},
    {"empty text", "", AMEIR_EJSON, "a.json:1:1: JSON syntax error: got the end of the text"},
    {"unterminated", "{\"mlp\": {", AMEIR_EJSON, "a.json:1:10: JSON syntax error: got the end of the text"},
    {"top level not an object", "[1]", AMEIR_ECONFIG, "a.json: (top level): got an array, expected an object"},
    /* unknown and repeated keys */
    {"unknown top key", "{\"mpl\":{}}", AMEIR_ECONFIG,
     "a.json: mpl: got an unknown key, expected one of comment, behavior, interactions, mlp"},
    {"unknown block key", BLOCK("{\"op\":\"conv\",\"kernal\":3}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].kernal: got an unknown key, expected one of norm, op, kernel, heads, act"},
    {"unknown behavior key", "{\"behavior\":{\"aggregation\":\"mean\"}}", AMEIR_ECONFIG,
     "a.json: behavior.aggregation: got an unknown key, expected one of blocks, aggregate, positions"},
    {"unknown layer key", LAYER("{\"units\":4,\"dropout\":0.1}"), AMEIR_ECONFIG,
     "a.json: mlp.layers[0].dropout: got an unknown key, expected one of units, act"},
    {"unknown mlp key", "{\"mlp\":{\"layer\":[]}}", AMEIR_ECONFIG,
     "a.json: mlp.layer: got an unknown key, expected one of layers, shortcut"},
    {"repeated key", "{\"mlp\":{\"shortcut\":false,\"shortcut\":true}}", AMEIR_ECONFIG,
     "a.json: mlp.shortcut: got the key twice, expected each key once"},
    /* wrong types */
    {"comment not a string", "{\"comment\":3}", AMEIR_ECONFIG, "a.json: comment: got 3, expected a string"},
    {"behavior an array", "{\"behavior\":[]}", AMEIR_ECONFIG, "a.json: behavior: got an array, expected an object"},
    {"blocks an object", "{\"behavior\":{\"blocks\":{}}}", AMEIR_ECONFIG,
     "a.json: behavior.blocks: got an object, expected an array"},
    {"block a string", BLOCK("\"conv\""), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0]: got \"conv\", expected an object"},
    {"kernel a string", BLOCK("{\"op\":\"conv\",\"kernel\":\"3\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].kernel: got \"3\", expected an integer"},
    {"units a fraction", LAYER("{\"units\":2.5}"), AMEIR_ECONFIG,
     "a.json: mlp.layers[0].units: got 2.5, expected an integer"},
    {"units huge", LAYER("{\"units\":1e12}"), AMEIR_ECONFIG,
     "a.json: mlp.layers[0].units: got 1000000000000, expected an integer"},
    {"positions a string", "{\"behavior\":{\"positions\":\"yes\"}}", AMEIR_ECONFIG,
     "a.json: behavior.positions: got \"yes\", expected true or false"},
    {"shortcut a number", "{\"mlp\":{\"layers\":[{\"units\":4}],\"shortcut\":1}}", AMEIR_ECONFIG,
     "a.json: mlp.shortcut: got 1, expected false, true or \"se\""},
    {"shortcut another string", "{\"mlp\":{\"layers\":[{\"units\":4}],\"shortcut\":\"SE\"}}", AMEIR_ECONFIG,
     "a.json: mlp.shortcut: got \"SE\", expected false, true or \"se\""},
    {"se shortcut without layers", "{\"mlp\":{\"shortcut\":\"se\"}}", AMEIR_ECONFIG,
     "a.json: mlp.shortcut: got \"se\", expected false when mlp.layers is empty"},
    {"act a number", BLOCK("{\"op\":\"zero\",\"act\":1}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].act: got 1, expected one of identity, relu, gelu, swish"},
    {"interactions an object", "{\"interactions\":{}}", AMEIR_ECONFIG,
     "a.json: interactions: got an object, expected an array"},
    {"group a string", GROUPS("\"user\""), AMEIR_ECONFIG,
     "a.json: interactions[0]: got \"user\", expected an array of 2 to 4 field names"},
    {"field a number", GROUPS("[\"user\",7]"), AMEIR_ECONFIG,
     "a.json: interactions[0][1]: got 7, expected a field name"},
    {"layers null", "{\"mlp\":{\"layers\":null}}", AMEIR_ECONFIG,
     "a.json: mlp.layers: got null, expected an array"},
    /* unknown names */
    {"unknown op", BLOCK("{\"op\":\"conv2\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].op: got \"conv2\", expected one of conv, gru, avgpool, maxpool, attention, zero"},
    {"unknown norm", BLOCK("{\"op\":\"gru\",\"norm\":\"batchnorm\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].norm: got \"batchnorm\", expected one of none, layernorm"},
    {"unknown aggregate", "{\"behavior\":{\"aggregate\":\"sum\"}}", AMEIR_ECONFIG,
     "a.json: behavior.aggregate: got \"sum\", expected one of target_attention, mean, last"},
    {"unknown block act", BLOCK("{\"op\":\"gru\",\"act\":\"tanh\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].act: got \"tanh\", expected one of identity, relu, gelu, swish"},
    {"sigmoid in a block", BLOCK("{\"op\":\"gru\"},{\"op\":\"gru\",\"act\":\"sigmoid\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[1].act: got \"sigmoid\", expected one of identity, relu, gelu, swish"},
    {"unknown mlp act", LAYER("{\"units\":4,\"act\":\"tanh\"}"), AMEIR_ECONFIG,
     "a.json: mlp.layers[0].act: got \"tanh\", expected one of identity, relu, gelu, swish, sigmoid"},
    /* options */
    {"kernel on gru", BLOCK("{\"op\":\"gru\",\"kernel\":3}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].kernel: got 3, expected no kernel for op gru (only conv takes a kernel)"},
    {"heads on conv", BLOCK("{\"op\":\"conv\",\"kernel\":3,\"heads\":2}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].heads: got 2, expected no heads for op conv (only attention takes a heads)"},
    {"conv without kernel", BLOCK("{\"op\":\"conv\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].kernel: got nothing, expected one of 1, 3, 5, 7 (required for op conv)"},
    {"attention without heads", BLOCK("{\"op\":\"attention\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].heads: got nothing, expected one of 1, 2, 4, 8 (required for op attention)"},
    {"block without op", BLOCK("{\"norm\":\"layernorm\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].op: got nothing, expected one of conv, gru"},
    {"layer without units", LAYER("{\"act\":\"relu\"}"), AMEIR_ECONFIG,
     "a.json: mlp.layers[0].units: got nothing, expected an integer from 1 to 4096"},
    /* values out of range */
    {"kernel 4", BLOCK("{\"op\":\"gru\"},{\"op\":\"conv\",\"kernel\":4}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[1].kernel: got 4, expected one of 1, 3, 5, 7"},
    {"heads 3", BLOCK("{\"op\":\"attention\",\"heads\":3}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks[0].heads: got 3, expected one of 1, 2, 4, 8"},
    {"units 0", LAYER("{\"units\":16},{\"units\":0}"), AMEIR_ECONFIG,
     "a.json: mlp.layers[1].units: got 0, expected an integer from 1 to 4096"},
    {"units 5000", LAYER("{\"units\":5000}"), AMEIR_ECONFIG,
     "a.json: mlp.layers[0].units: got 5000, expected an integer from 1 to 4096"},
    {"shortcut without layers", "{\"mlp\":{\"shortcut\":true}}", AMEIR_ECONFIG,
     "a.json: mlp.shortcut: got true, expected false when mlp.layers is empty"},
    /* too many */
    {"9 blocks", BLOCK(B9 B9 B9 B9 B9 B9 B9 B9 "{\"op\":\"zero\"}"), AMEIR_ECONFIG,
     "a.json: behavior.blocks: got 9 blocks, expected at most 8 blocks"},
    {"9 layers", LAYER(L9 L9 L9 L9 L9 L9 L9 L9 "{\"units\":4}"), AMEIR_ECONFIG,
     "a.json: mlp.layers: got 9 layers, expected at most 8 layers"},
    {"65 groups", GROUPS(G8 G8 G8 G8 G8 G8 G8 G8 "[\"z\",\"y\"]"), AMEIR_ECONFIG,
     "a.json: interactions: got 65 groups, expected at most 64 groups"},
    /* interaction groups */
    {"group of 1", GROUPS("[\"user\",\"item\"],[\"user\"]"), AMEIR_ECONFIG,
     "a.json: interactions[1]: got 1 fields, expected 2 to 4 distinct fields"},
    {"group of 5", GROUPS("[\"a\",\"b\",\"c\",\"d\",\"e\"]"), AMEIR_ECONFIG,
     "a.json: interactions[0]: got 5 fields, expected 2 to 4 distinct fields"},
    {"field twice", GROUPS("[\"user\",\"item\",\"user\"]"), AMEIR_ECONFIG,
     "a.json: interactions[0][2]: got \"user\" twice, expected distinct fields within a group"},
    {"group twice", GROUPS("[\"user\",\"item\"],[\"age\",\"item\"],[\"item\",\"user\"]"), AMEIR_ECONFIG,
     "a.json: interactions[2]: got the fields of interactions[0], expected each group once"},
    {"empty name", GROUPS("[\"user\",\"\"]"), AMEIR_ECONFIG, "a.json: interactions[0][1]: got \"\", expected a field name"},
    {"name too long", GROUPS("[\"user\",\"" "0123456789012345678901234567890123456789012345678901234567890123" "\"]"),
     AMEIR_ECONFIG, "a.json: interactions[0][1]: got a name of 64 bytes, expected at most 63 bytes"},
};

static void test_cases(void) {
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        ameir_arch a;
        ameir_clear_error();
        int rc = ameir_arch_parse(&a, cases[i].text, "a.json");
        int before = check_failures;
        CHECK_EQ_INT(rc, cases[i].code);
        CHECK_STR_CONTAINS(ameir_last_error(), cases[i].message);
        if (check_failures != before)
            fprintf(stderr, "  in case \"%s\": %s\n", cases[i].what, cases[i].text);
    }
    printf("%d bad arch texts rejected\n", n);
}

/* Archs built in C meet the same rules (the search builds them this way). */
static void test_validate(void) {
    ameir_arch a;
    ameir_arch_init(&a);
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), 0);

    a.n_blocks = 1;
    a.blocks[0].op = AMEIR_OP_GRU;
    a.blocks[0].option = 2;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: behavior.blocks[0].option: got 2, expected 0 (op gru takes no option)");

    a.blocks[0].option = 0;
    a.blocks[0].op = 17;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: behavior.blocks[0].op: got 17, expected one of conv, gru");

    a.blocks[0].op = AMEIR_OP_ZERO;
    a.blocks[0].act = 99;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: behavior.blocks[0].act: got 99, expected one of identity, relu");

    a.blocks[0].act = 0;
    a.blocks[0].norm = -1;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: behavior.blocks[0].norm: got -1, expected one of none, layernorm");

    a.blocks[0].norm = 0;
    a.aggregate = 3;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: behavior.aggregate: got 3, expected one of target_attention");

    a.aggregate = AMEIR_AGG_LAST;
    a.positions = 2;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: behavior.positions: got 2, expected true or false");

    a.positions = 1;
    a.n_blocks = -1;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: behavior.blocks: got -1 blocks, expected at most 8 blocks");

    a.n_blocks = 1;
    a.n_interactions = 1;
    a.interactions[0].order = 2;
    memset(a.interactions[0].fields[1], 'x', AMEIR_FIELD_NAME_MAX);
    strcpy(a.interactions[0].fields[0], "user");
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: interactions[0][1]: got an unterminated name, expected at most 63 bytes");

    strcpy(a.interactions[0].fields[1], "item");
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), 0);
    a.n_mlp = 1;
    a.mlp[0].units = 8;
    a.shortcut = 3;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "built: mlp.shortcut: got 3, expected false, true or \"se\"");
    a.shortcut = 1;
    CHECK_EQ_INT(ameir_arch_validate(&a, "built"), 0);
}

static void test_load(void) {
    ameir_arch a;
    CHECK_EQ_INT(ameir_arch_load(&a, "/nonexistent/dir/arch.json"), AMEIR_ENOENT);
    CHECK_STR_CONTAINS(ameir_last_error(), "/nonexistent/dir/arch.json: cannot open: No such file or directory");

    /* a file: the origin in messages is its path */
    char path[] = "/tmp/ameir_test_arch_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs("{\n  \"behavior\": {\"blocks\": [{\"op\": \"conv\", \"kernel\": 9}]}\n}\n", f);
    fclose(f);
    CHECK_EQ_INT(ameir_arch_load(&a, path), AMEIR_ECONFIG);
    char expected[256];
    snprintf(expected, sizeof expected, "%s: behavior.blocks[0].kernel: got 9, expected one of 1, 3, 5, 7", path);
    CHECK_STR_CONTAINS(ameir_last_error(), expected);

    /* a file holding a NUL byte is not JSON text */
    f = fopen(path, "wb");
    fwrite("{}\0{}", 1, 5, f);
    fclose(f);
    CHECK_EQ_INT(ameir_arch_load(&a, path), AMEIR_EJSON);
    CHECK_STR_CONTAINS(ameir_last_error(), "got a NUL byte at offset 2, expected JSON text");

    /* a file larger than the first read buffer */
    f = fopen(path, "w");
    fputs("{\"comment\": \"", f);
    for (int i = 0; i < 10000; i++)
        fputc('a' + i % 26, f);
    fputs("\", \"mlp\": {\"layers\": [{\"units\": 7}]}}", f);
    fclose(f);
    CHECK_EQ_INT(ameir_arch_load(&a, path), 0);
    CHECK_EQ_INT(a.n_mlp, 1);
    CHECK_EQ_INT(a.mlp[0].units, 7);
    remove(path);
}

/* Random edits of a valid text: each either parses (and then round-trips) or fails with
 * EJSON/ECONFIG and a message "fuzz...: got X, expected Y"; nothing else (run under the
 * sanitizers in CI, this is also a memory-safety check of the parser). */
static void test_mutations(void) {
    const char *base = "{\"comment\":\"c\",\"behavior\":{\"blocks\":[{\"norm\":\"layernorm\",\"op\":\"attention\","
                       "\"heads\":2,\"act\":\"gelu\"},{\"op\":\"conv\",\"kernel\":3}],\"aggregate\":\"last\","
                       "\"positions\":true},\"interactions\":[[\"user\",\"item\"],[\"a\",\"b\",\"c\"]],"
                       "\"mlp\":{\"layers\":[{\"units\":256,\"act\":\"relu\"}],\"shortcut\":true}}";
    const char alphabet[] = "{}[],:\"0123456789 -.eEtrufalsn\\xyz";
    size_t len = strlen(base);
    char *text = malloc(len + 8);
    ameir_rng rng = ameir_rng_stream(7, 0);
    int parsed = 0, rejected = 0, odd = 0;
    for (int trial = 0; trial < 20000; trial++) {
        memcpy(text, base, len + 1);
        size_t n = len;
        for (int e = 0, edits = 1 + (int)ameir_rng_below(&rng, 3); e < edits; e++) {
            size_t at = (size_t)ameir_rng_below(&rng, n);
            int kind = (int)ameir_rng_below(&rng, 3);
            char c = alphabet[ameir_rng_below(&rng, sizeof alphabet - 1)];
            if (kind == 0) { /* replace */
                text[at] = c;
            } else if (kind == 1 && n > 1) { /* delete */
                memmove(text + at, text + at + 1, n - at);
                n--;
            } else if (n < len + 6) { /* insert */
                memmove(text + at + 1, text + at, n - at + 1);
                text[at] = c;
                n++;
            }
        }
        ameir_arch a, b;
        int rc = ameir_arch_parse(&a, text, "fuzz");
        if (rc == 0) {
            parsed++;
            char *canon = ameir_arch_to_json(&a);
            if (!canon || ameir_arch_parse(&b, canon, "canon") != 0 || !ameir_arch_equal(&a, &b))
                odd++;
            free(canon);
        } else if ((rc == AMEIR_EJSON || rc == AMEIR_ECONFIG) && !strncmp(ameir_last_error(), "fuzz", 4) &&
                   strstr(ameir_last_error(), ": got ") && strstr(ameir_last_error(), ", expected ")) {
            rejected++;
        } else {
            if (odd++ < 5)
                fprintf(stderr, "mutation gave %d \"%s\" for %s\n", rc, ameir_last_error(), text);
        }
    }
    free(text);
    CHECK_EQ_INT(odd, 0);
    CHECK(parsed > 100);
    CHECK(rejected > 1000);
    printf("mutations: %d parsed and round-tripped, %d rejected\n", parsed, rejected);
}

int main(void) {
    test_cases();
    test_mutations();
    test_validate();
    test_load();
    return check_finish("arch_bad");
}
