/* Strict JSON text -> cJSON tree: the one parser of every file a user gives AMEIR-C (dataset
 * and search configs, arch files, a dataset's meta.json). cJSON alone is lenient where a
 * config must not be: it skips any byte below 0x21 as white space, keeps the last of two
 * equal keys, and stops at a NUL byte. Errors (AMEIR_EJSON but the last) name the file and where:
 *   "ORIGIN: got a NUL byte at offset N, expected JSON text"
 *   "ORIGIN:LINE:COL: got control byte 0x01, expected JSON text" (also inside a string)
 *   "ORIGIN:LINE:COL: got \\u0000 inside a string, expected no NUL character"
 *   "ORIGIN:LINE:COL: got a number with a leading zero, expected JSON number syntax"
 *   "ORIGIN:LINE:COL: JSON syntax error: got \"...\", expected valid JSON"
 *   "ORIGIN:LINE:COL: JSON syntax error: got the end of the text, expected more JSON"
 *   "ORIGIN: PATH.KEY: got the key twice, expected each key once" (AMEIR_ECONFIG) */
#ifndef AMEIR_JSON_H
#define AMEIR_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* len is the number of bytes of text (a NUL before it is refused). *root is the caller's
 * to cJSON_Delete; NULL on error. */
int ameir_json_parse(cJSON **root, const char *text, size_t len, const char *origin);

/* ---- checked getters over a parsed tree (src/core/json_get.c), for every config reader:
 * each names the file and key path in its error, "ORIGIN: path.key: got X, expected Y"
 * (AMEIR_ECONFIG); an absent optional key leaves the output untouched (the caller set the
 * default). ---- */
typedef struct ameir_json_ctx {
    const char *origin; /* file name in messages */
} ameir_json_ctx;

/* Sort object keys recursively (in place) and print compactly; caller frees; NULL on OOM. */
char *ameir_json_canonical(cJSON *root);

/* "a string", "a number", "an array", "an object", "true", "false", "null", "nothing". */
const char *ameir_json_type(const cJSON *item);

/* What an item is, for the "got" part of a message: the number, the string in quotes (cut
 * at 60 bytes), or its type. Returns buf. */
const char *ameir_json_got(const cJSON *item, char *buf, size_t n);

/* AMEIR_ECONFIG "ORIGIN: path.key: got GOT, expected EXPECTED" (path or key may be NULL). */
int ameir_json_bad(const ameir_json_ctx *c, const char *path, const char *key, const char *got, const char *expected);

/* AMEIR_ECONFIG "ORIGIN: path.key: missing, expected EXPECTED". */
int ameir_json_missing(const ameir_json_ctx *c, const char *path, const char *key, const char *expected);

/* o must be an object whose keys are all in the NULL-terminated list, each once. */
int ameir_json_object(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *const *keys);

/* Every key of the NULL-terminated list must be present. */
int ameir_json_require(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *const *keys);

int ameir_json_int(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int lo, int hi, int *out);
int ameir_json_int64(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int64_t lo, int64_t hi,
                     int64_t *out);
/* Two integers key_min <= key_max, each in [lo, hi] (absent keys keep their defaults). */
int ameir_json_int_range(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key_min,
                         const char *key_max, int lo, int hi, int *min, int *max);
/* A number in [lo, hi] (lo_inclusive = 0: (lo, hi]). */
int ameir_json_number(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, double lo, double hi,
                      int lo_inclusive, double *out);
/* A string that fits in n bytes. */
int ameir_json_string(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, char *out, size_t n);

/* An array of at most max_n distinct non-empty strings, each fitting in stride bytes,
 * written to out + i * stride. */
int ameir_json_strings(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, char *out,
                       size_t stride, int max_n, int *n);

/* An array of distinct names mapped by from_name (-1 = not allowed: "expected" says what is). */
int ameir_json_names(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key,
                     int (*from_name)(const char *), const char *expected, int *out, int max_n, int *n);

/* An array of at most max_n distinct integers: each one of allowed[0..n_allowed) or, if
 * allowed is NULL, in 1..n_allowed. */
int ameir_json_ints(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, const int *allowed,
                    int n_allowed, const char *expected, int *out, int max_n, int *n);

/* A boolean as 0/1; absent: *out unchanged. */
int ameir_json_bool(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int *out);

/* An array of distinct booleans ([false], [true] or [false, true]) as 0/1. */
int ameir_json_bools(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int out[2], int *n);
/* The same with one more value allowed, the string `word`, as 2 (so up to 3 values). */
int ameir_json_bools_or(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, const char *word,
                        const char *expected, int *out, int *n);

#endif
