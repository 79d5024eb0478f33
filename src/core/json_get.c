/* Checked getters over cJSON trees with file + key path errors (see ameir/json.h). */
#include "ameir/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"

static int key_cmp(const void *a, const void *b) {
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* Sort one object's members by key, recursively; 0 or -1 on out of memory. */
static int sort_keys(cJSON *item) {
    for (cJSON *ch = item->child; ch; ch = ch->next)
        if (sort_keys(ch) < 0)
            return -1;
    if (!cJSON_IsObject(item))
        return 0;
    int n = cJSON_GetArraySize(item);
    if (n < 2)
        return 0;
    cJSON **v = malloc((size_t)n * sizeof *v);
    if (!v)
        return -1;
    for (int i = 0; i < n; i++)
        v[i] = cJSON_DetachItemViaPointer(item, item->child);
    qsort(v, (size_t)n, sizeof *v, key_cmp);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(item, v[i]); /* keeps the member's key */
    free(v);
    return 0;
}

char *ameir_json_canonical(cJSON *root) {
    if (sort_keys(root) < 0)
        return NULL;
    return cJSON_PrintUnformatted(root);
}

const char *ameir_json_type(const cJSON *item) {
    if (!item)
        return "nothing";
    if (cJSON_IsString(item))
        return "a string";
    if (cJSON_IsNumber(item))
        return "a number";
    if (cJSON_IsArray(item))
        return "an array";
    if (cJSON_IsObject(item))
        return "an object";
    if (cJSON_IsTrue(item))
        return "true";
    if (cJSON_IsFalse(item))
        return "false";
    return "null";
}

static void key_path(char *out, size_t n, const char *path, const char *key) {
    if (path && key)
        snprintf(out, n, "%s.%s", path, key);
    else
        snprintf(out, n, "%s", path ? path : key ? key : "(top level)");
}

int ameir_json_bad(const ameir_json_ctx *c, const char *path, const char *key, const char *got, const char *expected) {
    char kp[256];
    key_path(kp, sizeof kp, path, key);
    return ameir_fail(AMEIR_ECONFIG, "%s: %s: got %s, expected %s", c->origin, kp, got, expected);
}

int ameir_json_missing(const ameir_json_ctx *c, const char *path, const char *key, const char *expected) {
    char kp[256];
    key_path(kp, sizeof kp, path, key);
    return ameir_fail(AMEIR_ECONFIG, "%s: %s: missing, expected %s", c->origin, kp, expected);
}

int ameir_json_object(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *const *keys) {
    if (!cJSON_IsObject(o))
        return ameir_json_bad(c, path, NULL, ameir_json_type(o), "an object");
    for (const cJSON *ch = o->child; ch; ch = ch->next) {
        int known = 0;
        for (int i = 0; keys[i] && !known; i++)
            known = !strcmp(keys[i], ch->string);
        if (!known) {
            char expected[512];
            size_t used = (size_t)snprintf(expected, sizeof expected, "one of");
            for (int i = 0; keys[i] && used < sizeof expected; i++)
                used += (size_t)snprintf(expected + used, sizeof expected - used, "%s %s", i ? "," : "", keys[i]);
            char kp[256];
            key_path(kp, sizeof kp, path, ch->string);
            return ameir_fail(AMEIR_ECONFIG, "%s: %s: got an unknown key, expected %s", c->origin, kp, expected);
        }
        for (const cJSON *prev = o->child; prev != ch; prev = prev->next)
            if (!strcmp(prev->string, ch->string))
                return ameir_json_bad(c, path, ch->string, "the key twice", "each key once");
    }
    return 0;
}

int ameir_json_require(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *const *keys) {
    for (int i = 0; keys[i]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(o, keys[i]))
            return ameir_json_missing(c, path, keys[i], "this key (required)");
    return 0;
}

/* "got" text of any item: the number, the string in quotes, or its type. */
const char *ameir_json_got(const cJSON *it, char *buf, size_t n) {
    if (cJSON_IsNumber(it))
        snprintf(buf, n, "%.17g", it->valuedouble);
    else if (cJSON_IsString(it))
        snprintf(buf, n, "\"%.60s\"", it->valuestring);
    else
        snprintf(buf, n, "%s", ameir_json_type(it));
    return buf;
}

int ameir_json_int64(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int64_t lo, int64_t hi,
                     int64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    char got[96], expected[96];
    if (!it)
        return 0;
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < (double)lo || v > (double)hi) {
        snprintf(expected, sizeof expected, "an integer from %lld to %lld", (long long)lo, (long long)hi);
        return ameir_json_bad(c, path, key, ameir_json_got(it, got, sizeof got), expected);
    }
    *out = (int64_t)v;
    return 0;
}

int ameir_json_int(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int lo, int hi, int *out) {
    int64_t v = *out;
    AMEIR_TRY(ameir_json_int64(c, o, path, key, lo, hi, &v));
    *out = (int)v;
    return 0;
}

int ameir_json_int_range(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key_min,
                         const char *key_max, int lo, int hi, int *min, int *max) {
    AMEIR_TRY(ameir_json_int(c, o, path, key_min, lo, hi, min));
    AMEIR_TRY(ameir_json_int(c, o, path, key_max, lo, hi, max));
    if (*max < *min) {
        char got[32], expected[96];
        snprintf(got, sizeof got, "%d", *max);
        snprintf(expected, sizeof expected, "at least %s = %d", key_min, *min);
        return ameir_json_bad(c, path, key_max, got, expected);
    }
    return 0;
}

int ameir_json_number(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, double lo, double hi,
                      int lo_inclusive, double *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    char got[96], expected[96];
    if (!it)
        return 0;
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(v) || v > hi || v < lo || (!lo_inclusive && v == lo)) {
        snprintf(expected, sizeof expected, "a number %s %g and <= %g", lo_inclusive ? ">=" : ">", lo, hi);
        return ameir_json_bad(c, path, key, ameir_json_got(it, got, sizeof got), expected);
    }
    *out = v;
    return 0;
}

int ameir_json_string(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, char *out, size_t n) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    char got[96], expected[64];
    if (!it)
        return 0;
    if (!cJSON_IsString(it))
        return ameir_json_bad(c, path, key, ameir_json_got(it, got, sizeof got), "a string");
    if (strlen(it->valuestring) >= n) {
        snprintf(expected, sizeof expected, "at most %zu bytes", n - 1);
        return ameir_json_bad(c, path, key, "a longer string", expected);
    }
    snprintf(out, n, "%s", it->valuestring);
    return 0;
}

/* The array under key, or NULL when absent (*rc set on a wrong type or too many). */
static const cJSON *get_array(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int max_n,
                              int *rc) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    char got[96], expected[64];
    *rc = 0;
    if (!it)
        return NULL;
    if (!cJSON_IsArray(it)) {
        *rc = ameir_json_bad(c, path, key, ameir_json_got(it, got, sizeof got), "an array");
        return NULL;
    }
    if (cJSON_GetArraySize(it) > max_n) {
        snprintf(got, sizeof got, "%d values", cJSON_GetArraySize(it));
        snprintf(expected, sizeof expected, "at most %d", max_n);
        *rc = ameir_json_bad(c, path, key, got, expected);
        return NULL;
    }
    return it;
}

/* Error for element i of an array. */
static int bad_elem(const ameir_json_ctx *c, const char *path, const char *key, int i, const cJSON *el, const char *expected) {
    char kp[256], got[96];
    key_path(kp, sizeof kp, path, key);
    size_t len = strlen(kp);
    snprintf(kp + len, sizeof kp - len, "[%d]", i);
    return ameir_json_bad(c, kp, NULL, ameir_json_got(el, got, sizeof got), expected);
}

static int twice(const ameir_json_ctx *c, const char *path, const char *key, int i, const cJSON *el) {
    char kp[256], got[112];
    key_path(kp, sizeof kp, path, key);
    size_t len = strlen(kp);
    snprintf(kp + len, sizeof kp - len, "[%d]", i);
    char v[96];
    snprintf(got, sizeof got, "%s twice", ameir_json_got(el, v, sizeof v));
    return ameir_json_bad(c, kp, NULL, got, "distinct values");
}

int ameir_json_strings(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, char *out,
                       size_t stride, int max_n, int *n) {
    int rc, i = 0;
    const cJSON *a = get_array(c, o, path, key, max_n, &rc), *el;
    if (!a)
        return rc;
    cJSON_ArrayForEach(el, a) {
        char expected[64];
        snprintf(expected, sizeof expected, "a non-empty string of at most %zu bytes", stride - 1);
        if (!cJSON_IsString(el) || !el->valuestring[0] || strlen(el->valuestring) >= stride)
            return bad_elem(c, path, key, i, el, expected);
        for (int k = 0; k < i; k++)
            if (!strcmp(out + (size_t)k * stride, el->valuestring))
                return twice(c, path, key, i, el);
        snprintf(out + (size_t)i * stride, stride, "%s", el->valuestring);
        i++;
    }
    *n = i;
    return 0;
}

/* out[i] = v unless an earlier element gave v too (then the error naming element i) */
static int put_distinct(const ameir_json_ctx *c, const char *path, const char *key, int i, const cJSON *el, int *out, int v) {
    for (int k = 0; k < i; k++)
        if (out[k] == v)
            return twice(c, path, key, i, el);
    out[i] = v;
    return 0;
}

int ameir_json_names(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key,
                     int (*from_name)(const char *), const char *expected, int *out, int max_n, int *n) {
    int rc, i = 0;
    const cJSON *a = get_array(c, o, path, key, max_n, &rc), *el;
    if (!a)
        return rc;
    cJSON_ArrayForEach(el, a) {
        int v = cJSON_IsString(el) ? from_name(el->valuestring) : -1;
        if (v < 0)
            return bad_elem(c, path, key, i, el, expected);
        AMEIR_TRY(put_distinct(c, path, key, i, el, out, v));
        i++;
    }
    *n = i;
    return 0;
}

int ameir_json_ints(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, const int *allowed,
                    int n_allowed, const char *expected, int *out, int max_n, int *n) {
    int rc, i = 0;
    const cJSON *a = get_array(c, o, path, key, max_n, &rc), *el;
    if (!a)
        return rc;
    cJSON_ArrayForEach(el, a) {
        double d = el->valuedouble;
        int ok = cJSON_IsNumber(el) && d == floor(d) && d >= 1 && d <= (allowed ? 1e9 : n_allowed);
        if (ok && allowed) {
            ok = 0;
            for (int k = 0; k < n_allowed; k++)
                ok |= allowed[k] == (int)d;
        }
        if (!ok)
            return bad_elem(c, path, key, i, el, expected);
        AMEIR_TRY(put_distinct(c, path, key, i, el, out, (int)d));
        i++;
    }
    *n = i;
    return 0;
}

int ameir_json_bools_or(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, const char *word,
                        const char *expected, int *out, int *n) {
    int rc, i = 0;
    const cJSON *a = get_array(c, o, path, key, word ? 3 : 2, &rc), *el;
    if (!a)
        return rc;
    cJSON_ArrayForEach(el, a) {
        int v = cJSON_IsBool(el) ? cJSON_IsTrue(el) : word && cJSON_IsString(el) && !strcmp(el->valuestring, word) ? 2 : -1;
        if (v < 0)
            return bad_elem(c, path, key, i, el, expected);
        AMEIR_TRY(put_distinct(c, path, key, i, el, out, v));
        i++;
    }
    *n = i;
    return 0;
}

int ameir_json_bools(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int out[2], int *n) {
    return ameir_json_bools_or(c, o, path, key, NULL, "true or false", out, n);
}

int ameir_json_bool(const ameir_json_ctx *c, const cJSON *o, const char *path, const char *key, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it)
        return 0;
    char got[96];
    if (!cJSON_IsBool(it))
        return ameir_json_bad(c, path, key, ameir_json_got(it, got, sizeof got), "true or false");
    *out = cJSON_IsTrue(it);
    return 0;
}
