/* Raw files -> rows of string cells: delimited text, libFM lines, one sequence per line,
 * and JSON maps (key -> list). Text is read record by record (records.c: gzip, RFC 4180
 * quotes); cells are copied into the table's arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/fileio.h"
#include "prep_internal.h"

/* Read a whole file; latin-1 is converted to UTF-8 so vocabularies are valid JSON. */
static int slurp(const char *path, int latin1, char **out, size_t *len) {
    char *text = NULL;
    size_t n = 0;
    int rc = ameir_file_read(path, &text, &n);
    if (rc == AMEIR_ENOENT)
        return ameir_fail(rc, "%s: missing source file", path);
    AMEIR_TRY(rc);
    unsigned char *raw = (unsigned char *)text;
    if (latin1) {
        size_t high = 0;
        for (size_t i = 0; i < n; i++)
            high += raw[i] >= 0x80;
        if (high) {
            unsigned char *u = malloc(n + high + 1), *q = u;
            if (!u) {
                free(raw);
                return ameir_fail(AMEIR_ENOMEM, "%s: out of memory", path);
            }
            for (size_t i = 0; i < n; i++) {
                if (raw[i] >= 0x80) {
                    *q++ = (unsigned char)(0xc0 | (raw[i] >> 6));
                    *q++ = (unsigned char)(0x80 | (raw[i] & 0x3f));
                } else {
                    *q++ = raw[i];
                }
            }
            *q = '\0';
            free(raw);
            raw = u;
            n += high;
        }
    }
    *out = (char *)raw;
    *len = n;
    return 0;
}

static int add_row(rawtable *t) {
    if (t->n_rows == t->cap_rows) {
        int64_t cap = t->cap_rows ? 2 * t->cap_rows : 4096;
        const char **cells = realloc(t->cells, (size_t)cap * (size_t)t->n_cols * sizeof *cells);
        if (cells)
            t->cells = cells;
        int32_t *file = realloc(t->file, (size_t)cap * sizeof *file);
        if (file)
            t->file = file;
        int64_t *line = realloc(t->line, (size_t)cap * sizeof *line);
        if (line)
            t->line = line;
        if (!cells || !file || !line)
            return ameir_fail(AMEIR_ENOMEM, "out of memory for %lld rows", (long long)cap);
        t->cap_rows = cap;
    }
    t->n_rows++;
    return 0;
}

static const char *keep(rawtable *t, const char *s) {
    return arena_strdup(&t->arena, s, strlen(s));
}

typedef struct seq_line {
    rawtable *t;
    int fi;
    int64_t line;
    const char *key;
} seq_line;

/* One event of a sequence line: its position in the line as time. */
static int add_event(void *ctx, const char *key, const char *item, int64_t pos) {
    seq_line *sl = ctx;
    rawtable *t = sl->t;
    if (!sl->key && !(sl->key = keep(t, key)))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)pos);
    AMEIR_TRY(add_row(t));
    int64_t r = t->n_rows - 1;
    const char *it = keep(t, item), *pc = keep(t, num);
    if (!it || !pc)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    t->cells[r * 3] = sl->key;
    t->cells[r * 3 + 1] = it;
    t->cells[r * 3 + 2] = pc;
    t->file[r] = sl->fi;
    t->line[r] = sl->line;
    return 0;
}

/* key item item ...: one event per item */
static int add_sequence(rawtable *t, const dcfg_source *src, int fi, char *s, int64_t line) {
    seq_line sl = {t, fi, line, NULL};
    return rec_sequence_each(t->paths[fi], line, src->sep, s, add_event, &sl);
}

static int read_text(rawtable *t, const dcfg_source *src, int fi) {
    row_reader rr;
    char (*names)[DCFG_NAME] = calloc(DCFG_MAX_COLS, sizeof *names);
    int n_names = t->n_cols, rc = 0;
    if (!names)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int i = 0; i < t->n_cols; i++)
        memcpy(names[i], t->names[i], DCFG_NAME);
    if ((rc = row_open(&rr, src, fi, t->paths[fi], names, &n_names)) < 0) {
        free(names);
        return rc;
    }
    while ((rc = row_next(&rr)) > 0) {
        if (!t->names) {
            t->names = names;
            t->n_cols = n_names;
            names = NULL;
        }
        if (src->format == DSRC_SEQUENCE) {
            if ((rc = add_sequence(t, src, fi, rr.tok[0], rr.line)) < 0)
                break;
            continue;
        }
        if ((rc = add_row(t)) < 0)
            break;
        int64_t r = t->n_rows - 1;
        for (int i = 0; i < t->n_cols && rc >= 0; i++)
            if (!(t->cells[r * t->n_cols + i] = keep(t, rr.tok[i])))
                rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        t->file[r] = fi;
        t->line[r] = rr.line;
        if ((rr.line & 0xffff) == 0)
            prep_progress(t->paths[fi], rr.line, 0);
    }
    if (rc >= 0)
        prep_progress(t->paths[fi], rr.rec.line, 1);
    row_close(&rr);
    free(names);
    return rc;
}

/* key -> [values] object: two columns, the key and its values joined by PREP_LIST_SEP. */
static int read_json_map(rawtable *t, const dcfg_source *src, const char *buf) {
    const char *path = t->paths[0];
    cJSON *root = cJSON_Parse(buf);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ameir_fail(AMEIR_EDATA, "%s: expected a JSON object of key -> list of values", path);
    }
    t->names = calloc(2, sizeof *t->names);
    if (!t->names) {
        cJSON_Delete(root);
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    }
    t->n_cols = 2;
    snprintf(t->names[0], DCFG_NAME, "%s", src->key);
    snprintf(t->names[1], DCFG_NAME, "%s", src->value);
    int rc = 0;
    char *acc = NULL;
    size_t cap = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        size_t n = 0;
        if (!cJSON_IsArray(e)) {
            rc = ameir_fail(AMEIR_EDATA, "%s: key \"%s\": expected a list of values", path, e->string);
            goto done;
        }
        for (const cJSON *v = e->child; v; v = v->next) {
            char num[32];
            const char *s = num;
            if (cJSON_IsString(v))
                s = v->valuestring;
            else if (cJSON_IsNumber(v))
                snprintf(num, sizeof num, "%.17g", v->valuedouble);
            else {
                rc = ameir_fail(AMEIR_EDATA, "%s: key \"%s\": expected strings or numbers", path, e->string);
                goto done;
            }
            size_t l = strlen(s);
            if (n + l + 2 > cap) {
                cap = 2 * (n + l + 2);
                char *a = realloc(acc, cap);
                if (!a) {
                    rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
                    goto done;
                }
                acc = a;
            }
            if (n)
                acc[n++] = PREP_LIST_SEP;
            memcpy(acc + n, s, l);
            n += l;
        }
        const char *k = arena_strdup(&t->arena, e->string, strlen(e->string));
        const char *v = arena_strdup(&t->arena, acc ? acc : "", n);
        if (!k || !v || (rc = add_row(t)) < 0) {
            rc = rc < 0 ? rc : ameir_fail(AMEIR_ENOMEM, "out of memory");
            goto done;
        }
        int64_t r = t->n_rows - 1;
        t->cells[2 * r] = k;
        t->cells[2 * r + 1] = v;
        t->file[r] = 0;
        t->line[r] = 1;
    }
done:
    free(acc);
    cJSON_Delete(root);
    return rc;
}

int rawtable_read(rawtable *t, const dcfg_source *src, const char *dir) {
    memset(t, 0, sizeof *t);
    if (src->format == DSRC_SEQUENCE || src->format == DSRC_LIBFM) {
        /* columns fixed by the config: sequence = key, item, position */
        if (src->format == DSRC_SEQUENCE) {
            t->names = calloc(3, sizeof *t->names);
            if (!t->names)
                return ameir_fail(AMEIR_ENOMEM, "out of memory");
            t->n_cols = 3;
            snprintf(t->names[0], DCFG_NAME, "%s", src->columns[0]);
            snprintf(t->names[1], DCFG_NAME, "%s", src->columns[1]);
            snprintf(t->names[2], DCFG_NAME, "%s", src->position);
        }
    }
    t->bufs = calloc((size_t)src->n_files, sizeof *t->bufs);
    if (!t->bufs)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int i = 0; i < src->n_files; i++) {
        if (strlen(dir) > 255 || strlen(src->files[i].path) > 254)
            return ameir_fail(AMEIR_EINVAL, "%s/%s: path too long", dir, src->files[i].path);
        snprintf(t->paths[i], DCFG_PATH, "%.255s/%.254s", dir, src->files[i].path);
        if (src->format == DSRC_JSON_MAP) {
            size_t len = 0;
            AMEIR_TRY(slurp(t->paths[i], src->latin1, &t->bufs[i], &len));
            t->n_bufs = i + 1;
            AMEIR_TRY(read_json_map(t, src, t->bufs[i]));
        } else {
            AMEIR_TRY(read_text(t, src, i));
        }
    }
    if (!t->n_rows)
        return ameir_fail(AMEIR_EDATA, "%s: no rows", t->paths[0]);
    return 0;
}

void rawtable_destroy(rawtable *t) {
    free(t->names);
    free(t->cells);
    free(t->file);
    free(t->line);
    for (int i = 0; i < t->n_bufs; i++)
        free(t->bufs[i]);
    free(t->bufs);
    arena_free(&t->arena);
    memset(t, 0, sizeof *t);
}

int rawtable_col(const rawtable *t, const char *name) {
    for (int i = 0; i < t->n_cols; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}

int rawtable_read_join(const dcfg *c, int j, const char *dir, rawtable *t, strmap *map) {
    AMEIR_TRY(rawtable_read(t, &c->joins[j], dir));
    int kc = rawtable_col(t, c->joins[j].key);
    if (kc < 0)
        return ameir_fail(AMEIR_ECONFIG, "%s: key joins[%d].key: %s has no column \"%s\"", c->path, j, t->paths[0],
                          c->joins[j].key);
    if (strmap_init(map, (size_t)t->n_rows))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int64_t r = 0; r < t->n_rows; r++) {
        int added;
        if (!strmap_put(map, t->cells[r * t->n_cols + kc], r, &added))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        if (!added)
            return ameir_fail(AMEIR_EDATA, "%s:%lld: key \"%s\" appears twice", t->paths[t->file[r]],
                              (long long)t->line[r], t->cells[r * t->n_cols + kc]);
    }
    return 0;
}
