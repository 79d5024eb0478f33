/* The strict JSON parser every config and arch reader uses: what cJSON alone would let
 * through (control bytes, a NUL, a key twice) is refused with file, line and column. */
#include <stdio.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/json.h"

static void bad(const char *what, const char *text, size_t len, int code, const char *msg) {
    cJSON *root = (cJSON *)1;
    int rc = ameir_json_parse(&root, text, len, "c.json");
    if (rc != code)
        fprintf(stderr, "%s: got %d (%s), expected %d\n", what, rc, ameir_last_error(), code);
    CHECK_EQ_INT(rc, code);
    CHECK(root == NULL);
    CHECK_STR_CONTAINS(ameir_last_error(), msg);
}

static void good(const char *text, const char *key, double want) {
    cJSON *root = NULL;
    int rc = ameir_json_parse(&root, text, strlen(text), "c.json");
    if (rc < 0)
        fprintf(stderr, "%s\n", ameir_last_error());
    CHECK_EQ_INT(rc, 0);
    if (root) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
        CHECK(cJSON_IsNumber(v) && v->valuedouble == want);
        cJSON_Delete(root);
    }
}

int main(void) {
    /* white space JSON allows, escapes that look like string ends */
    good("{\r\n\t\"a\": 1,\n \"b\": \"x\\\"y\\\\\", \"c\": \"\\u0001\"}", "a", 1);
    good("{\"a\": {\"a\": 2}, \"b\": [{\"a\": 1}, {\"a\": 1}], \"n\": 3}", "n", 3);
    /* cJSON would skip these as white space or stop at them */
    bad("control byte", "{\"a\":\x01 1}", 9, AMEIR_EJSON, "c.json:1:6: got control byte 0x01, expected JSON text");
    bad("form feed", "{\n\"a\": 1,\f\"b\": 2}", 17, AMEIR_EJSON, "c.json:2:8: got control byte 0x0c");
    bad("raw tab in a string", "{\"a\": \"x\ty\"}", 12, AMEIR_EJSON, "c.json:1:9: got control byte 0x09 inside a string");
    bad("NUL", "{\"a\": 1}\0{", 10, AMEIR_EJSON, "c.json: got a NUL byte at offset 8, expected JSON text");
    /* read by cJSON its own way: a string cut at an escaped NUL, a leading zero */
    bad("escaped NUL", "{\"agg\": \"mean\\u0000garbage\"}", 28, AMEIR_EJSON,
        "c.json:1:14: got \\u0000 inside a string, expected no NUL character");
    bad("leading zero", "{\"a\": 012}", 10, AMEIR_EJSON, "c.json:1:7: got a number with a leading zero");
    bad("negative leading zero", "{\"a\": [1, -00.5]}", 17, AMEIR_EJSON, "c.json:1:12: got a number with a leading zero");
    good("{\"a\": 0, \"b\": -0.5, \"c\": 10, \"d\": 1e05, \"e\": [0, 0.0], \"k\": \"007\"}", "c", 10);
    bad("syntax", "{\n  \"a\": [,]\n}", 14, AMEIR_EJSON, "c.json:2:9: JSON syntax error: got \",]\", expected valid JSON");
    bad("end", "{\"a\": {", 7, AMEIR_EJSON, "c.json:1:8: JSON syntax error: got the end of the text, expected more JSON");
    bad("trailing", "{}\n{}", 5, AMEIR_EJSON, "c.json:2:1: JSON syntax error");
    /* a key twice, at any depth, with its path */
    bad("top-level twice", "{\"seed\": 1, \"seed\": 2}", 22, AMEIR_ECONFIG, "c.json: seed: got the key twice, expected each key once");
    bad("nested twice", "{\"a\": {\"b\": [{}, {\"c\": 1, \"c\": 1}]}}", 36, AMEIR_ECONFIG,
        "c.json: a.b[1].c: got the key twice, expected each key once");
    return check_finish("json");
}
