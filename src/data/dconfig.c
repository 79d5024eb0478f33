/* The dataset config language: parse with cJSON, validate every key, copy into dcfg.
 * Every error names the config file and the key path (e.g. fields[3].bins). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/json.h"
#include "ameir/fileio.h"
#include "prep_internal.h"

/* Errors name the file and the key path ("cfg.json: fields[2].bins: ..."), like every other
 * config reader; the typed getters are the core's (ameir/json.h), adapted here to a base
 * path ("" at the top level) and a required flag. */
#define KEY_MAX 160

static int bad(const dcfg *c, const char *key, const char *what) {
    return ameir_fail(AMEIR_ECONFIG, "%s: %s: %s", c->path, key, what);
}

static void subkey(char *out, const char *base, const char *key) {
    if (base[0])
        snprintf(out, KEY_MAX, "%.90s.%.60s", base, key);
    else
        snprintf(out, KEY_MAX, "%.60s", key);
}

static const char *path_of(const char *base) { return base[0] ? base : NULL; }

static int missing(const dcfg *c, const char *base, const char *key, const char *expected) {
    ameir_json_ctx j = {c->path};
    return ameir_json_missing(&j, path_of(base), key, expected);
}

static int present(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL; }

/* Refuse keys not in allowed (NULL-terminated). */
static int check_keys(const dcfg *c, const cJSON *obj, const char *base, const char *const *allowed) {
    ameir_json_ctx j = {c->path};
    return ameir_json_object(&j, obj, path_of(base), allowed);
}

/* Copy a string member (n bytes max); missing -> keep the default unless required. */
static int get_str(const dcfg *c, const cJSON *obj, const char *base, const char *key, char *out, size_t n,
                   int required) {
    ameir_json_ctx j = {c->path};
    if (required && !present(obj, key))
        return missing(c, base, key, "a string");
    return ameir_json_string(&j, obj, path_of(base), key, out, n);
}

static int get_num(const dcfg *c, const cJSON *obj, const char *base, const char *key, double *out, int required) {
    ameir_json_ctx j = {c->path};
    if (required && !present(obj, key))
        return missing(c, base, key, "a number");
    return ameir_json_number(&j, obj, path_of(base), key, -HUGE_VAL, HUGE_VAL, 1, out);
}

static int get_int(const dcfg *c, const cJSON *obj, const char *base, const char *key, int64_t lo, int64_t hi,
                   int64_t *out, int required) {
    ameir_json_ctx j = {c->path};
    if (required && !present(obj, key))
        return missing(c, base, key, "an integer");
    return ameir_json_int64(&j, obj, path_of(base), key, lo, hi, out);
}

static int get_int32(const dcfg *c, const cJSON *obj, const char *base, const char *key, int lo, int hi, int *out,
                     int required) {
    int64_t v = *out;
    AMEIR_TRY(get_int(c, obj, base, key, lo, hi, &v, required));
    *out = (int)v;
    return 0;
}

static int get_bool(const dcfg *c, const cJSON *obj, const char *base, const char *key, int *out) {
    ameir_json_ctx j = {c->path};
    return ameir_json_bool(&j, obj, path_of(base), key, out);
}

/* One of the given words; *out = its index. */
static int get_enum(const dcfg *c, const cJSON *obj, const char *base, const char *key, const char *const *words,
                    int *out, int required) {
    char s[DCFG_NAME] = "", got[DCFG_NAME + 2], msg[200];
    if (!present(obj, key))
        return required ? missing(c, base, key, "a string") : 0;
    AMEIR_TRY(get_str(c, obj, base, key, s, sizeof s, required));
    for (int i = 0; words[i]; i++)
        if (!strcmp(s, words[i])) {
            *out = i;
            return 0;
        }
    int len = snprintf(msg, sizeof msg, "one of");
    for (int i = 0; words[i] && len < (int)sizeof msg; i++)
        len += snprintf(msg + len, sizeof msg - (size_t)len, " \"%s\"", words[i]);
    snprintf(got, sizeof got, "\"%s\"", s);
    ameir_json_ctx j = {c->path};
    return ameir_json_bad(&j, path_of(base), key, got, msg);
}

/* An array of distinct non-empty strings into names[max][DCFG_NAME]. */
static int get_names(const dcfg *c, const cJSON *obj, const char *base, const char *key, char (*names)[DCFG_NAME],
                     int max, int *n) {
    ameir_json_ctx j = {c->path};
    return ameir_json_strings(&j, obj, path_of(base), key, names[0], DCFG_NAME, max, n);
}

/* A one-character separator: "\t", "|", ",", " ". */
static int get_sep(const dcfg *c, const cJSON *obj, const char *base, const char *key, char *out) {
    char s[8] = "", k[KEY_MAX];
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return 0;
    AMEIR_TRY(get_str(c, obj, base, key, s, sizeof s, 0));
    subkey(k, base, key);
    if (strlen(s) != 1 || s[0] == '\n' || s[0] == '\r')
        return bad(c, k, "expected a single character other than a line break");
    *out = s[0];
    return 0;
}

static const char *const split_words[] = {"train", "valid", "test", NULL};

const char *dconfig_split_name(int split) { return split_words[split]; }

static int parse_files(dcfg *c, const cJSON *obj, const char *base, dcfg_source *s) {
    static const char *const file_keys[] = {"path", "split", "header", NULL};
    char k[KEY_MAX], ek[KEY_MAX];
    subkey(k, base, "files");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "files");
    if (!v)
        return bad(c, k, "missing (expected an array of file names)");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 || cJSON_GetArraySize(v) > DCFG_MAX_FILES)
        return bad(c, k, "expected an array of 1 to 8 file names or {path, split, header} objects");
    int header = 0;
    AMEIR_TRY(get_bool(c, obj, base, "header", &header));
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        dcfg_file *f = &s->files[i];
        snprintf(ek, sizeof ek, "%.100s[%d]", k, i);
        f->split = -1;
        f->header = header;
        if (cJSON_IsString(e)) {
            if (!e->valuestring[0] || strlen(e->valuestring) >= DCFG_PATH)
                return bad(c, ek, "expected a non-empty file name");
            strcpy(f->path, e->valuestring);
            continue;
        }
        AMEIR_TRY(check_keys(c, e, ek, file_keys));
        AMEIR_TRY(get_str(c, e, ek, "path", f->path, sizeof f->path, 1));
        AMEIR_TRY(get_bool(c, e, ek, "header", &f->header));
        if (cJSON_GetObjectItemCaseSensitive(e, "split"))
            AMEIR_TRY(get_enum(c, e, ek, "split", split_words, &f->split, 1));
    }
    s->n_files = i;
    for (int j = 1; j < i; j++)
        if ((s->files[j].split < 0) != (s->files[0].split < 0))
            return bad(c, k, "either every file names its split or none does");
    return 0;
}

static int parse_source(dcfg *c, const cJSON *obj, const char *base, dcfg_source *s, int is_join) {
    static const char *const main_keys[] = {"files", "format", "sep", "quote", "header", "columns", "encoding", "position", NULL};
    static const char *const join_keys[] = {"file", "format", "sep", "quote", "header", "columns", "encoding", "key", "value", NULL};
    static const char *const formats[] = {"delimited", "libfm", "sequence", "json_map", NULL};
    static const char *const encodings[] = {"utf-8", "latin-1", NULL};
    char k[KEY_MAX];
    AMEIR_TRY(check_keys(c, obj, base, is_join ? join_keys : main_keys));
    s->sep = '\t';
    strcpy(s->position, "position");
    strcpy(s->value, "values");
    AMEIR_TRY(get_enum(c, obj, base, "format", formats, &s->format, 1));
    subkey(k, base, "format");
    if (is_join && (s->format == DSRC_LIBFM || s->format == DSRC_SEQUENCE))
        return bad(c, k, "a join reads \"delimited\" or \"json_map\"");
    if (!is_join && s->format == DSRC_JSON_MAP)
        return bad(c, k, "the main source reads \"delimited\", \"libfm\" or \"sequence\"");
    if (s->format == DSRC_SEQUENCE || s->format == DSRC_LIBFM)
        s->sep = ' ';
    AMEIR_TRY(get_sep(c, obj, base, "sep", &s->sep));
    AMEIR_TRY(get_enum(c, obj, base, "encoding", encodings, &s->latin1, 0));
    AMEIR_TRY(get_bool(c, obj, base, "quote", &s->quote));
    subkey(k, base, "quote");
    if (s->quote && s->format != DSRC_DELIMITED)
        return bad(c, k, "only a \"delimited\" source has quoted cells");
    AMEIR_TRY(get_names(c, obj, base, "columns", s->columns, DCFG_MAX_COLS, &s->n_columns));
    if (is_join) {
        s->n_files = 1;
        s->files[0].split = -1;
        AMEIR_TRY(get_str(c, obj, base, "file", s->files[0].path, sizeof s->files[0].path, 1));
        AMEIR_TRY(get_bool(c, obj, base, "header", &s->files[0].header));
        AMEIR_TRY(get_str(c, obj, base, "key", s->key, sizeof s->key, 1));
        AMEIR_TRY(get_str(c, obj, base, "value", s->value, sizeof s->value, 0));
    } else {
        AMEIR_TRY(parse_files(c, obj, base, s));
        AMEIR_TRY(get_str(c, obj, base, "position", s->position, sizeof s->position, 0));
    }
    subkey(k, base, "columns");
    if (s->format == DSRC_LIBFM && s->n_columns < 2)
        return bad(c, k, "libfm needs the label column's name and one name per feature");
    if (s->format == DSRC_SEQUENCE && s->n_columns != 2)
        return bad(c, k, "a sequence file needs two names: the line's key (user) and the item");
    if (s->format == DSRC_DELIMITED && !s->n_columns && !s->files[0].header)
        return bad(c, k, "missing: give the column names or a header line");
    return 0;
}

static int parse_field(dcfg *c, const cJSON *obj, const char *base, dcfg_field *f) {
    static const char *const keys[] = {"name", "column", "type", "flags", "split", "max_width",
                                       "bins", "parse", "format", "item", NULL};
    static const char *const types[] = {"categorical", "multi", "numeric", NULL};
    char k[KEY_MAX];
    AMEIR_TRY(check_keys(c, obj, base, keys));
    AMEIR_TRY(get_str(c, obj, base, "name", f->name, sizeof f->name, 1));
    AMEIR_TRY(get_enum(c, obj, base, "type", types, &f->kind, 0));
    AMEIR_TRY(get_names(c, obj, base, "flags", f->flags, DCFG_MAX_COLS, &f->n_flags));
    strcpy(f->column, f->name);
    AMEIR_TRY(get_str(c, obj, base, "column", f->column, sizeof f->column, 0));
    AMEIR_TRY(get_sep(c, obj, base, "split", &f->split));
    AMEIR_TRY(get_int32(c, obj, base, "max_width", 1, 4096, &f->max_width, 0));
    AMEIR_TRY(get_str(c, obj, base, "parse", f->parse, sizeof f->parse, 0));
    AMEIR_TRY(get_str(c, obj, base, "format", f->format, sizeof f->format, 0));
    AMEIR_TRY(get_bool(c, obj, base, "item", &f->is_item));
    subkey(k, base, "parse");
    if (!f->parse[0] != !f->format[0])
        return bad(c, k, "\"parse\" and \"format\" go together (strptime and strftime formats)");
    subkey(k, base, "flags");
    if (f->n_flags && f->kind != DF_MULTI)
        return bad(c, k, "flag columns make a \"multi\" field");
    subkey(k, base, "bins");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "bins");
    if (f->kind == DF_NUMERIC) {
        if (!b)
            return bad(c, k, "missing: a numeric field needs \"log\" or an array of bin edges");
        if (cJSON_IsString(b) && !strcmp(b->valuestring, "log")) {
            f->binning = DBIN_LOG;
        } else if (cJSON_IsArray(b) && cJSON_GetArraySize(b) > 0 && cJSON_GetArraySize(b) <= DCFG_MAX_EDGES) {
            f->binning = DBIN_EDGES;
            for (const cJSON *e = b->child; e; e = e->next) {
                if (!cJSON_IsNumber(e) || (f->n_edges && e->valuedouble <= f->edges[f->n_edges - 1]))
                    return bad(c, k, "expected increasing numbers");
                f->edges[f->n_edges++] = e->valuedouble;
            }
        } else {
            return bad(c, k, "expected \"log\" or an array of 1 to 32 increasing bin edges");
        }
    } else if (b) {
        return bad(c, k, "only a \"numeric\" field has bins");
    }
    return 0;
}

static int parse_label(dcfg *c, const cJSON *obj) {
    static const char *const keys[] = {"column", "op", "value", "map", "in", NULL};
    static const char *const ops[] = {">=", ">", "<=", "<", "==", "!=", NULL};
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, "label");
    if (!l)
        return c->task == AMEIR_TASK_SEQ ? 0 : bad(c, "label", "missing (a ctr task needs a label rule)");
    if (cJSON_IsString(l) && !strcmp(l->valuestring, "implicit")) {
        if (c->task != AMEIR_TASK_SEQ)
            return bad(c, "label", "\"implicit\" is for task \"seq\"");
        return 0;
    }
    if (c->task == AMEIR_TASK_SEQ)
        return bad(c, "label", "a seq task's label is \"implicit\"");
    AMEIR_TRY(check_keys(c, l, "label", keys));
    AMEIR_TRY(get_str(c, l, "label", "column", c->label_column, sizeof c->label_column, 1));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(l, "map");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(l, "in");
    if ((m || in) && cJSON_GetObjectItemCaseSensitive(l, "op"))
        return bad(c, "label.op", "give one of \"op\" with \"value\", \"map\" or \"in\"");
    if (in) {
        if (m)
            return bad(c, "label.in", "give one of \"op\" with \"value\", \"map\" or \"in\"");
        char names[DCFG_MAX_MAP][DCFG_NAME];
        AMEIR_TRY(get_names(c, l, "label", "in", names, DCFG_MAX_MAP, &c->n_map));
        for (int i = 0; i < c->n_map; i++) {
            strcpy(c->map_keys[i], names[i]);
            c->map_values[i] = 1;
        }
        c->label_kind = DLABEL_MAP;
        c->map_open = 1;
        return 0;
    }
    if (m) {
        if (!cJSON_IsObject(m) || !m->child || cJSON_GetArraySize(m) > DCFG_MAX_MAP)
            return bad(c, "label.map", "expected an object of 1 to 32 raw values -> 0 or 1");
        c->label_kind = DLABEL_MAP;
        for (const cJSON *e = m->child; e; e = e->next) {
            char k[KEY_MAX];
            snprintf(k, sizeof k, "label.map.%s", e->string);
            if (!cJSON_IsNumber(e) || (e->valuedouble != 0 && e->valuedouble != 1))
                return bad(c, k, "expected 0 or 1");
            if (strlen(e->string) >= DCFG_NAME)
                return bad(c, k, "value too long");
            strcpy(c->map_keys[c->n_map], e->string);
            c->map_values[c->n_map++] = (float)e->valuedouble;
        }
        return 0;
    }
    c->label_kind = DLABEL_CMP;
    AMEIR_TRY(get_enum(c, l, "label", "op", ops, &c->label_op, 1));
    AMEIR_TRY(get_num(c, l, "label", "value", &c->label_value, 1));
    /* beyond 2^53 doubles skip integers: a threshold there cannot mean what it says */
    if (fabs(c->label_value) > PREP_LABEL_MAX)
        return bad(c, "label.value", "out of range: expected a number in [-2^53, 2^53]");
    return 0;
}

static int parse_split(dcfg *c, const cJSON *obj) {
    static const char *const keys[] = {"method", "fractions", NULL};
    static const char *const methods[] = {"random", "time", "leave_one_out", "files", NULL};
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "split");
    if (!s)
        return bad(c, "split", "missing (expected {\"method\": ...})");
    AMEIR_TRY(check_keys(c, s, "split", keys));
    AMEIR_TRY(get_enum(c, s, "split", "method", methods, &c->split, 1));
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(s, "fractions");
    if (c->split == DSPLIT_RANDOM || c->split == DSPLIT_TIME) {
        if (!f || !cJSON_IsArray(f) || cJSON_GetArraySize(f) != 3)
            return bad(c, "split.fractions", "expected [train, valid, test] fractions summing to 1");
        double sum = 0;
        int i = 0;
        for (const cJSON *e = f->child; e; e = e->next, i++) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0)
                return bad(c, "split.fractions", "expected three non-negative numbers");
            c->fractions[i] = e->valuedouble;
            sum += e->valuedouble;
        }
        if (fabs(sum - 1) > 1e-9 || c->fractions[0] <= 0)
            return bad(c, "split.fractions", "expected fractions summing to 1 with a non-empty train part");
    } else if (f) {
        return bad(c, "split.fractions", "only \"random\" and \"time\" splits take fractions");
    }
    int named = c->main.files[0].split >= 0;
    if ((c->split == DSPLIT_FILES) != named)
        return bad(c, "split.method", "\"files\" goes with source files that name their split, and only with them");
    if (c->task == AMEIR_TASK_SEQ && c->split != DSPLIT_LOO)
        return bad(c, "split.method", "a seq task splits \"leave_one_out\"");
    return 0;
}

static int parse_synth(dcfg *c, const cJSON *g) {
    static const char *const keys[] = {"rows", "users", "items", "categories", "seq_len", "recent", "noise", NULL};
    dcfg_synth *s = &c->synth;
    s->rows[0] = 30000;
    s->rows[1] = s->rows[2] = 4000;
    s->users = 1000;
    s->items = 500;
    s->categories = 10;
    s->seq_len = 20;
    s->recent = 3;
    s->noise = 0.3;
    AMEIR_TRY(check_keys(c, g, "generator", keys));
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(g, "rows");
    if (r) {
        static const char *const rk[] = {"train", "valid", "test", NULL};
        AMEIR_TRY(check_keys(c, r, "generator.rows", rk));
        for (int i = 0; i < 3; i++)
            AMEIR_TRY(get_int(c, r, "generator.rows", rk[i], 1, 100000000, &s->rows[i], 0));
    }
    AMEIR_TRY(get_int32(c, g, "generator", "users", 1, 10000000, &s->users, 0));
    AMEIR_TRY(get_int32(c, g, "generator", "items", 10, 10000000, &s->items, 0));
    AMEIR_TRY(get_int32(c, g, "generator", "categories", 2, 1000, &s->categories, 0));
    AMEIR_TRY(get_int32(c, g, "generator", "seq_len", 2, 1000, &s->seq_len, 0));
    AMEIR_TRY(get_int32(c, g, "generator", "recent", 1, 1000, &s->recent, 0));
    AMEIR_TRY(get_num(c, g, "generator", "noise", &s->noise, 0));
    if (s->recent > s->seq_len)
        return bad(c, "generator.recent", "expected at most seq_len");
    if (s->items < s->categories)
        return bad(c, "generator.items", "expected at least as many items as categories");
    if (s->noise < 0)
        return bad(c, "generator.noise", "expected >= 0");
    return 0;
}

static int parse_top(dcfg *c, const cJSON *root) {
    static const char *const keys[] = {"name", "description", "task", "seed", "shards", "min_freq", "vocab_from",
                                       "source", "joins", "label", "user", "fields", "item_field", "sequence",
                                       "split", "negatives", "generator", NULL};
    static const char *const tasks[] = {"ctr", "seq", NULL};
    static const char *const from[] = {"train", "all", NULL};
    char k[KEY_MAX];
    AMEIR_TRY(check_keys(c, root, "", keys));
    AMEIR_TRY(get_str(c, root, "", "name", c->name, sizeof c->name, 1));
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (d && !cJSON_IsString(d))
        return bad(c, "description", "expected a string");
    AMEIR_TRY(get_enum(c, root, "", "task", tasks, &c->task, 1));
    int64_t seed = 2021;
    AMEIR_TRY(get_int(c, root, "", "seed", 0, (int64_t)1 << 53, &seed, 0));
    c->seed = (uint64_t)seed;
    c->shards = 1;
    AMEIR_TRY(get_int32(c, root, "", "shards", 1, 1024, &c->shards, 0));
    c->min_freq = 1;
    AMEIR_TRY(get_int32(c, root, "", "min_freq", 1, 1000000, &c->min_freq, 0));
    AMEIR_TRY(get_enum(c, root, "", "vocab_from", from, &c->vocab_all, 0));
    c->negatives = 99;
    AMEIR_TRY(get_int32(c, root, "", "negatives", 1, 10000, &c->negatives, 0));

    const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "generator");
    if (g) {
        c->is_synthetic = 1;
        for (const cJSON *it = root->child; it; it = it->next)
            if (strcmp(it->string, "name") && strcmp(it->string, "description") && strcmp(it->string, "task") &&
                strcmp(it->string, "seed") && strcmp(it->string, "shards") && strcmp(it->string, "generator"))
                return bad(c, it->string, "a generated dataset takes only name, description, task, seed, shards, generator");
        if (c->task != AMEIR_TASK_CTR)
            return bad(c, "task", "the generator makes a \"ctr\" dataset");
        return parse_synth(c, g);
    }

    const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source");
    if (!src)
        return bad(c, "source", "missing (or \"generator\" for a synthetic dataset)");
    c->has_source = 1;
    AMEIR_TRY(parse_source(c, src, "source", &c->main, 0));
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "joins");
    if (j) {
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) > DCFG_MAX_JOINS)
            return bad(c, "joins", "expected an array of up to 4 joins");
        for (const cJSON *e = j->child; e; e = e->next) {
            snprintf(k, sizeof k, "joins[%d]", c->n_joins);
            AMEIR_TRY(parse_source(c, e, k, &c->joins[c->n_joins++], 1));
        }
    }
    AMEIR_TRY(parse_label(c, root));
    AMEIR_TRY(get_str(c, root, "", "user", c->user_column, sizeof c->user_column, 0));

    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "fields");
    if (!f || !cJSON_IsArray(f) || cJSON_GetArraySize(f) == 0 || cJSON_GetArraySize(f) > AMEIR_MAX_FIELDS)
        return bad(c, "fields", "expected an array of 1 to 64 field objects");
    for (const cJSON *e = f->child; e; e = e->next) {
        snprintf(k, sizeof k, "fields[%d]", c->n_fields);
        AMEIR_TRY(parse_field(c, e, k, &c->fields[c->n_fields]));
        for (int i = 0; i < c->n_fields; i++)
            if (!strcmp(c->fields[i].name, c->fields[c->n_fields].name))
                return bad(c, k, "duplicate field name");
        c->n_fields++;
    }
    AMEIR_TRY(get_str(c, root, "", "item_field", c->item_field, sizeof c->item_field, 0));
    if (c->item_field[0]) {
        int found = -1;
        for (int i = 0; i < c->n_fields; i++)
            if (!strcmp(c->fields[i].name, c->item_field))
                found = i;
        if (found < 0)
            return bad(c, "item_field", "expected the name of a field");
        if (c->fields[found].kind != DF_CATEGORICAL)
            return bad(c, "item_field", "the item field must be categorical");
        c->fields[found].is_item = 1;
    }

    const cJSON *sq = cJSON_GetObjectItemCaseSensitive(root, "sequence");
    if (sq) {
        static const char *const sk[] = {"time", "length", NULL};
        AMEIR_TRY(check_keys(c, sq, "sequence", sk));
        AMEIR_TRY(get_int32(c, sq, "sequence", "length", 1, 4096, &c->seq_len, 1));
        if (c->main.format == DSRC_SEQUENCE)
            strcpy(c->time_column, c->main.position);
        AMEIR_TRY(get_str(c, sq, "sequence", "time", c->time_column, sizeof c->time_column, c->main.format != DSRC_SEQUENCE));
        if (!c->item_field[0])
            return bad(c, "item_field", "missing: a behaviour sequence lists items");
        if (!c->user_column[0])
            return bad(c, "user", "missing: a behaviour sequence groups events by user");
    }
    if (c->task == AMEIR_TASK_SEQ && !sq)
        return bad(c, "sequence", "missing: a seq task needs the behaviour sequence");
    AMEIR_TRY(parse_split(c, root));
    if ((c->split == DSPLIT_LOO || c->split == DSPLIT_TIME) && !c->time_column[0])
        return bad(c, "split.method", "needs \"sequence\" with its time column");
    if (c->split == DSPLIT_LOO && !c->user_column[0])
        return bad(c, "split.method", "leave_one_out needs the \"user\" column");
    return 0;
}

int dconfig_load(dcfg **out, const char *path) {
    *out = NULL;
    int rc = 0;
    char *text = NULL;
    dcfg *c = calloc(1, sizeof *c);
    if (!c)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for the config");
    snprintf(c->path, sizeof c->path, "%s", path);
    size_t len = 0;
    if ((rc = ameir_file_read(path, &text, &len)) < 0)
        goto fail;
    if ((rc = ameir_json_parse(&c->json, text, len, path)) < 0)
        goto fail;
    rc = parse_top(c, c->json);
    if (rc < 0)
        goto fail;
    free(text);
    *out = c;
    return 0;
fail:
    free(text);
    dconfig_free(c);
    return rc;
}

void dconfig_free(dcfg *c) {
    if (!c)
        return;
    cJSON_Delete(c->json);
    free(c);
}
