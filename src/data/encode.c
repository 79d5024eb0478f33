/* Raw rows -> encoded dataset: joins, labels, splits, vocabularies (ids 0 pad, 1 OOV),
 * multi-valued and binned fields, behaviour histories, seq-task rows and candidates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ameir/error.h"
#include "ameir/rng.h"
#include "prep_internal.h"

typedef struct colref {
    int src; /* 0 main, j+1 join j */
    int col;
} colref;

typedef struct field_vals {
    vocab_count voc;       /* value string -> entry, strings, rows counted (vocabulary rows only) */
    int32_t *id;           /* entry -> id */
    int64_t *off;          /* (n_events + 1) offsets into ent */
    int32_t *ent;          /* entries of each event, in order */
    int64_t n_ent, cap_ent;
    colref col;
    colref flags[DCFG_MAX_COLS];
} field_vals;

typedef struct enc {
    const dcfg *c;
    rawtable main;
    rawtable joins[DCFG_MAX_JOINS];
    strmap join_map[DCFG_MAX_JOINS];
    int64_t *join_row; /* (n, n_joins) */
    int64_t n;
    float *label;
    double *time;
    int64_t *user;
    int8_t *split;
    int32_t *x; /* (n, W) */
    int64_t *sorted; /* events grouped by user, by time */
    int64_t *pos;    /* event -> index in sorted */
    int64_t *ustart; /* user -> first index in sorted; (n_users + 1) */
    int64_t n_users;
    field_vals fv[AMEIR_MAX_FIELDS];
    str_arena arena;
} enc;

static const char *cell(const enc *e, int64_t r, colref cr) {
    if (cr.src == 0)
        return e->main.cells[r * e->main.n_cols + cr.col];
    int64_t jr = e->join_row[r * e->c->n_joins + cr.src - 1];
    const rawtable *t = &e->joins[cr.src - 1];
    return jr < 0 ? "" : t->cells[jr * t->n_cols + cr.col];
}

/* "file:line" of the cell's origin. */
static void where(const enc *e, int64_t r, colref cr, char *out, size_t n) {
    const rawtable *t = &e->main;
    if (cr.src > 0 && e->join_row[r * e->c->n_joins + cr.src - 1] >= 0) {
        t = &e->joins[cr.src - 1];
        r = e->join_row[r * e->c->n_joins + cr.src - 1];
    }
    snprintf(out, n, "%s:%lld", t->paths[t->file[r]], (long long)t->line[r]);
}

/* Error locations for values.c: one cell, or a field's column / flag columns. */
typedef struct cell_at {
    const enc *e;
    int64_t r;
    const colref *cr;
} cell_at;

static void where_cb(const void *ctx, int which, char *out, size_t n) {
    const cell_at *ca = ctx;
    (void)which;
    where(ca->e, ca->r, *ca->cr, out, n);
}

typedef struct field_at {
    const enc *e;
    int64_t r;
    const field_vals *fv;
} field_at;

static void field_where(const void *ctx, int which, char *out, size_t n) {
    const field_at *fa = ctx;
    where(fa->e, fa->r, which < 0 ? fa->fv->col : fa->fv->flags[which], out, n);
}

static int resolve(const enc *e, const char *name, const char *key, colref *out) {
    int col = rawtable_col(&e->main, name);
    if (col >= 0) {
        *out = (colref){0, col};
        return 0;
    }
    for (int j = 0; j < e->c->n_joins; j++)
        if ((col = rawtable_col(&e->joins[j], name)) >= 0) {
            *out = (colref){j + 1, col};
            return 0;
        }
    if (!e->c->main.n_columns && e->c->main.n_files && e->c->main.format == DSRC_DELIMITED) /* names from a header */
        return ameir_fail(AMEIR_EDATA, "%s:1: no column \"%s\" in the header (the config's key %s names it, in %s)",
                          e->main.paths[0], name, key, e->c->path);
    return ameir_fail(AMEIR_ECONFIG, "%s: key %s: no column \"%s\" in the source or its joins", e->c->path, key, name);
}

static int read_number(const enc *e, int64_t r, colref cr, const char *what, double *out) {
    const char *s = cell(e, r, cr);
    char *end = NULL, at[DCFG_PATH + 32];
    *out = strtod(s, &end);
    if (!s[0] || *end || !isfinite(*out)) {
        where(e, r, cr, at, sizeof at);
        return ameir_fail(AMEIR_EDATA, "%s: %s: expected a number, found \"%s\"", at, what, s);
    }
    return 0;
}

static int load_tables(enc *e, const char *dir) {
    const dcfg *c = e->c;
    AMEIR_TRY(rawtable_read(&e->main, &c->main, dir));
    e->n = e->main.n_rows;
    for (int j = 0; j < c->n_joins; j++)
        AMEIR_TRY(rawtable_read_join(c, j, dir, &e->joins[j], &e->join_map[j]));
    if (c->n_joins) {
        e->join_row = malloc((size_t)e->n * (size_t)c->n_joins * sizeof *e->join_row);
        if (!e->join_row)
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        for (int j = 0; j < c->n_joins; j++) {
            int kc = rawtable_col(&e->main, c->joins[j].key);
            if (kc < 0)
                return ameir_fail(AMEIR_ECONFIG, "%s: key joins[%d].key: the main source has no column \"%s\"",
                                  c->path, j, c->joins[j].key);
            for (int64_t r = 0; r < e->n; r++) {
                int32_t *v = strmap_get(&e->join_map[j], e->main.cells[r * e->main.n_cols + kc]);
                e->join_row[r * c->n_joins + j] = v ? *v : -1;
            }
        }
    }
    return 0;
}

int prep_cmp_user_time(const void *a, const void *b) {
    const prep_event_key *p = a, *q = b;
    if (p->user != q->user)
        return p->user < q->user ? -1 : 1;
    return prep_cmp_time_row(a, b);
}

int prep_cmp_time_row(const void *a, const void *b) {
    const prep_event_key *p = a, *q = b;
    if (p->time != q->time)
        return p->time < q->time ? -1 : 1;
    return p->row < q->row ? -1 : p->row > q->row;
}

/* Labels, times, users; then the events grouped by user in time order. */
static int read_events(enc *e) {
    const dcfg *c = e->c;
    size_t n = (size_t)e->n;
    e->label = calloc(n, sizeof *e->label);
    e->time = calloc(n, sizeof *e->time);
    e->user = malloc(n * sizeof *e->user);
    e->split = calloc(n, sizeof *e->split);
    e->sorted = malloc(n * sizeof *e->sorted);
    e->pos = malloc(n * sizeof *e->pos);
    prep_event_key *keys = malloc(n * sizeof *keys);
    strmap users = {0};
    int rc = 0;
    if (!e->label || !e->time || !e->user || !e->split || !e->sorted || !e->pos || !keys ||
        strmap_init(&users, n / 4)) {
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory for %lld events", (long long)e->n);
        goto done;
    }
    colref lc = {0, 0}, tc = {0, 0}, uc = {0, 0};
    if (c->label_kind != DLABEL_IMPLICIT && (rc = resolve(e, c->label_column, "label.column", &lc)) < 0)
        goto done;
    if (c->time_column[0] && (rc = resolve(e, c->time_column, "sequence.time", &tc)) < 0)
        goto done;
    if (c->user_column[0] && (rc = resolve(e, c->user_column, "user", &uc)) < 0)
        goto done;
    for (int64_t r = 0; r < e->n; r++) {
        char what[DCFG_NAME + 32];
        if (c->label_kind != DLABEL_IMPLICIT) {
            cell_at ca = {e, r, &lc};
            prep_cells pc = {cell(e, r, lc), NULL, where_cb, &ca};
            if ((rc = prep_label(c, &pc, &e->label[r])) < 0)
                goto done;
        } else {
            e->label[r] = 1;
        }
        if (c->time_column[0]) {
            snprintf(what, sizeof what, "time column %s", c->time_column);
            if ((rc = read_number(e, r, tc, what, &e->time[r])) < 0)
                goto done;
        }
        e->user[r] = -1;
        if (c->user_column[0]) {
            int added;
            int32_t *u = strmap_put(&users, cell(e, r, uc), (int64_t)users.n, &added);
            if (!u) {
                rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
                goto done;
            }
            e->user[r] = *u;
        }
        keys[r] = (prep_event_key){e->user[r], e->time[r], r};
    }
    e->n_users = c->user_column[0] ? (int64_t)users.n : 0;
    qsort(keys, n, sizeof *keys, prep_cmp_user_time);
    e->ustart = calloc((size_t)e->n_users + 1, sizeof *e->ustart);
    if (!e->ustart) {
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < e->n; i++) {
        e->sorted[i] = keys[i].row;
        e->pos[keys[i].row] = i;
        if (keys[i].user >= 0)
            e->ustart[keys[i].user + 1] = i + 1;
    }
    for (int64_t u = 1; u <= e->n_users; u++)
        if (e->ustart[u] < e->ustart[u - 1])
            e->ustart[u] = e->ustart[u - 1];
done:
    free(keys);
    strmap_destroy(&users);
    return rc;
}

static int assign_splits(enc *e) {
    const dcfg *c = e->c;
    int64_t n = e->n;
    if (c->split == DSPLIT_FILES) {
        for (int64_t r = 0; r < n; r++)
            e->split[r] = (int8_t)c->main.files[e->main.file[r]].split;
        return 0;
    }
    if (c->split == DSPLIT_LOO) {
        for (int64_t u = 0; u < e->n_users; u++) {
            int64_t s = e->ustart[u], m = e->ustart[u + 1] - s;
            for (int64_t i = 0; i < m; i++)
                e->split[e->sorted[s + i]] = (int8_t)(i == m - 1 && m >= 2 ? 2 : i == m - 2 && m >= 3 ? 1 : 0);
        }
        return 0;
    }
    int64_t *order = malloc((size_t)n * sizeof *order);
    prep_event_key *keys = malloc((size_t)n * sizeof *keys);
    if (!order || !keys) {
        free(order);
        free(keys);
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    }
    if (c->split == DSPLIT_RANDOM) {
        for (int64_t r = 0; r < n; r++)
            order[r] = r;
        ameir_rng rng = ameir_rng_stream(c->seed, 0x5b1170);
        ameir_rng_shuffle_i64(&rng, order, (size_t)n);
    } else {
        for (int64_t r = 0; r < n; r++)
            keys[r] = (prep_event_key){0, e->time[r], r};
        qsort(keys, (size_t)n, sizeof *keys, prep_cmp_time_row);
        for (int64_t r = 0; r < n; r++)
            order[r] = keys[r].row;
    }
    int64_t n0 = (int64_t)floor(c->fractions[0] * (double)n);
    int64_t n1 = (int64_t)floor(c->fractions[1] * (double)n);
    for (int64_t i = 0; i < n; i++)
        e->split[order[i]] = (int8_t)(i < n0 ? 0 : i < n0 + n1 ? 1 : 2);
    free(order);
    free(keys);
    return 0;
}

/* The value strings of field f for event r (pointers into buf or the cells). */
static int field_values(const enc *e, int fi, int64_t r, const char **vals, int max, char *buf, size_t nbuf,
                        int *n_out) {
    const dcfg_field *f = &e->c->fields[fi];
    const field_vals *fv = &e->fv[fi];
    const char *flags[DCFG_MAX_COLS];
    field_at fa = {e, r, fv};
    prep_cells pc = {NULL, flags, field_where, &fa};
    if (f->n_flags)
        for (int i = 0; i < f->n_flags; i++)
            flags[i] = cell(e, r, fv->flags[i]);
    else
        pc.cell = cell(e, r, fv->col);
    return prep_field_values(f, &pc, vals, max, buf, nbuf, n_out);
}

static int push_entry(field_vals *fv, int32_t ent) {
    if (fv->n_ent == fv->cap_ent) {
        int64_t cap = fv->cap_ent ? 2 * fv->cap_ent : 65536;
        int32_t *p = realloc(fv->ent, (size_t)cap * sizeof *p);
        if (!p)
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        fv->ent = p;
        fv->cap_ent = cap;
    }
    fv->ent[fv->n_ent++] = ent;
    return 0;
}

/* Intern the values of every event; count them on the vocabulary rows. */
static int collect_field(enc *e, int fi) {
    const dcfg *c = e->c;
    const dcfg_field *f = &c->fields[fi];
    field_vals *fv = &e->fv[fi];
    char key[DCFG_NAME + 32], buf[8192];
    const char *vals[1024];
    if (f->n_flags) {
        for (int i = 0; i < f->n_flags; i++) {
            snprintf(key, sizeof key, "fields[%d].flags[%d]", fi, i);
            AMEIR_TRY(resolve(e, f->flags[i], key, &fv->flags[i]));
        }
    } else {
        snprintf(key, sizeof key, "fields[%d].column", fi);
        AMEIR_TRY(resolve(e, f->column, key, &fv->col));
    }
    fv->off = malloc(((size_t)e->n + 1) * sizeof *fv->off);
    if (!fv->off || strmap_init(&fv->voc.map, 1024))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    fv->off[0] = 0;
    for (int64_t r = 0; r < e->n; r++) {
        int n = 0;
        AMEIR_TRY(field_values(e, fi, r, vals, 1024, buf, sizeof buf, &n));
        int counted = c->vocab_all || e->split[r] == 0;
        for (int i = 0; i < n; i++) {
            int32_t ent;
            AMEIR_TRY(vocab_intern(&fv->voc, &e->arena, vals[i], counted, &ent));
            AMEIR_TRY(push_entry(fv, ent));
        }
        fv->off[r + 1] = fv->n_ent;
    }
    return 0;
}

/* Ids in order of first appearance among values seen min_freq times; the rest -> 1. */
static int assign_ids(enc *e, prep_out *o, int fi) {
    field_vals *fv = &e->fv[fi];
    ameir_field *sf = &o->schema.fields[fi];
    const char **vocab = NULL;
    int32_t next = 0;
    AMEIR_TRY(vocab_assign_ids(&fv->voc, e->c->min_freq, &o->arena, &fv->id, &vocab, &next));
    o->vocab[fi] = vocab;
    sf->vocab = next;
    int widest = 1;
    for (int64_t r = 0; r < e->n; r++) {
        int64_t k = fv->off[r + 1] - fv->off[r];
        if (k > widest)
            widest = (int)k;
    }
    prep_schema_place_field(&o->schema, e->c, fi, widest);
    return 0;
}

static int build_schema_and_x(enc *e, prep_out *o) {
    const dcfg *c = e->c;
    ameir_schema *s = &o->schema;
    prep_schema_begin(s, c);
    for (int fi = 0; fi < c->n_fields; fi++) {
        AMEIR_TRY(collect_field(e, fi));
        AMEIR_TRY(assign_ids(e, o, fi));
    }
    e->x = calloc((size_t)e->n * (size_t)s->x_width, sizeof *e->x);
    if (!e->x)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int fi = 0; fi < c->n_fields; fi++) {
        const field_vals *fv = &e->fv[fi];
        const ameir_field *f = &s->fields[fi];
        for (int64_t r = 0; r < e->n; r++) {
            int32_t *xr = e->x + r * s->x_width + f->offset;
            int64_t k = fv->off[r + 1] - fv->off[r];
            for (int64_t i = 0; i < k && i < f->width; i++)
                xr[i] = fv->id[fv->ent[fv->off[r] + i]];
        }
    }
    return 0;
}

/* Item table: row id -> the item-side field values of the item's first event. */
static int build_items(enc *e, prep_out *o) {
    const ameir_schema *s = &o->schema;
    if (s->item_field < 0)
        return 0;
    int iw = s->item_width;
    o->n_items = s->fields[s->item_field].vocab;
    o->items = calloc((size_t)o->n_items * (size_t)iw, sizeof *o->items);
    if (!o->items)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    const ameir_field *itf = &s->fields[s->item_field];
    o->items[iw + itf->item_offset] = 1; /* OOV items: only the item id is known */
    for (int64_t r = 0; r < e->n; r++) {
        const int32_t *xr = e->x + r * s->x_width;
        int32_t id = xr[itf->offset];
        int32_t *row = o->items + (int64_t)id * iw;
        if (id < 2 || row[itf->item_offset])
            continue;
        for (int fi = 0; fi < s->n_fields; fi++) {
            const ameir_field *f = &s->fields[fi];
            if (f->is_item)
                memcpy(row + f->item_offset, xr + f->offset, (size_t)f->width * sizeof *row);
        }
    }
    return 0;
}

int prep_cmp_i32(const void *a, const void *b) {
    int32_t p = *(const int32_t *)a, q = *(const int32_t *)b;
    return (p > q) - (p < q);
}

int prep_sample_candidates(const dcfg *c, int64_t n_items, int n_candidates, int64_t u, int split,
                           const int32_t *touched, int64_t nt, int32_t target, int32_t *cand) {
    int neg = n_candidates - 1;
    int64_t pool = n_items - 2 - nt;
    if (pool < neg)
        return ameir_fail(AMEIR_EDATA, "%s: user %lld touched all but %lld items; cannot sample %d negatives", c->path,
                          (long long)u, (long long)pool, neg);
    ameir_rng base = ameir_rng_stream(c->seed, 0xca9d + (uint64_t)split);
    ameir_rng rng = ameir_rng_split(&base, (uint64_t)u);
    cand[0] = target;
    for (int k = 1; k <= neg;) {
        int32_t it = (int32_t)(2 + ameir_rng_below(&rng, (uint64_t)(n_items - 2)));
        if (bsearch(&it, touched, (size_t)nt, sizeof *touched, prep_cmp_i32))
            continue;
        int dup = 0;
        for (int j = 1; j < k && !dup; j++)
            dup = cand[j] == it;
        if (!dup)
            cand[k++] = it;
    }
    return 0;
}

/* Rows per split: ctr = every event with the history before it; seq = every event after
 * the first of its user, in its leave-one-out split. */
static int build_rows(enc *e, prep_out *o) {
    const ameir_schema *s = &o->schema;
    int seq = s->task == AMEIR_TASK_SEQ, L = s->seq_len, W = s->x_width;
    int64_t cnt[3] = {0, 0, 0};
    for (int64_t r = 0; r < e->n; r++)
        if (!seq || e->pos[r] > e->ustart[e->user[r]])
            cnt[e->split[r]]++;
    for (int sp = 0; sp < 3; sp++) {
        prep_split *ps = &o->split[sp];
        size_t n = (size_t)cnt[sp];
        ps->x = malloc((n ? n : 1) * (size_t)W * sizeof *ps->x);
        ps->hist = calloc((n ? n : 1) * (size_t)(L ? L : 1), sizeof *ps->hist);
        ps->label = malloc((n ? n : 1) * sizeof *ps->label);
        ps->user = malloc((n ? n : 1) * sizeof *ps->user);
        if (seq && sp > 0)
            ps->cand = malloc((n ? n : 1) * (size_t)s->n_candidates * sizeof *ps->cand);
        if (!ps->x || !ps->hist || !ps->label || !ps->user || (seq && sp > 0 && !ps->cand))
            return ameir_fail(AMEIR_ENOMEM, "out of memory for the %s split", dconfig_split_name(sp));
    }
    int32_t *touched = malloc((size_t)e->n * sizeof *touched);
    if (!touched)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    int item_col = s->item_field >= 0 ? s->fields[s->item_field].offset : -1;
    int rc = 0;
    /* ctr rows in file order, seq rows grouped by user */
    for (int64_t i = 0; i < e->n; i++) {
        int64_t r = seq ? e->sorted[i] : i;
        int64_t p = e->pos[r];
        int64_t us = e->user[r] >= 0 ? e->ustart[e->user[r]] : p;
        if (seq && p == us)
            continue;
        prep_split *ps = &o->split[e->split[r]];
        int64_t k = ps->n++;
        memcpy(ps->x + k * W, e->x + r * W, (size_t)W * sizeof *ps->x);
        ps->label[k] = e->label[r];
        ps->user[k] = e->user[r];
        if (L && item_col >= 0) {
            int64_t q = p;
            if (!seq)
                while (q > us && e->time[e->sorted[q - 1]] == e->time[r])
                    q--; /* strictly earlier events only */
            int64_t b = q - L > us ? q - L : us;
            int32_t *h = ps->hist + k * L + (L - (q - b));
            for (int64_t j = b; j < q; j++)
                *h++ = e->x[e->sorted[j] * W + item_col];
        }
        if (seq && e->split[r] > 0) {
            int64_t ue = e->ustart[e->user[r] + 1], nt = 0;
            for (int64_t j = us; j < ue; j++)
                touched[nt++] = e->x[e->sorted[j] * W + item_col];
            qsort(touched, (size_t)nt, sizeof *touched, prep_cmp_i32);
            rc = prep_sample_candidates(e->c, o->n_items, s->n_candidates, e->user[r], e->split[r], touched, nt,
                                        e->x[r * W + item_col], ps->cand + k * s->n_candidates);
            if (rc < 0)
                break;
        }
    }
    free(touched);
    o->n_users = e->n_users;
    return rc;
}

static void enc_destroy(enc *e) {
    rawtable_destroy(&e->main);
    for (int j = 0; j < DCFG_MAX_JOINS; j++) {
        rawtable_destroy(&e->joins[j]);
        strmap_destroy(&e->join_map[j]);
    }
    free(e->join_row);
    free(e->label);
    free(e->time);
    free(e->user);
    free(e->split);
    free(e->x);
    free(e->sorted);
    free(e->pos);
    free(e->ustart);
    for (int i = 0; i < AMEIR_MAX_FIELDS; i++) {
        field_vals *fv = &e->fv[i];
        vocab_count_free(&fv->voc);
        free(fv->id);
        free(fv->off);
        free(fv->ent);
    }
    arena_free(&e->arena);
}

int prep_encode(prep_out *o, const dcfg *c, const char *source_dir) {
    enc *e = calloc(1, sizeof *e);
    if (!e)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    e->c = c;
    int rc = load_tables(e, source_dir);
    if (rc >= 0)
        rc = read_events(e);
    if (rc >= 0)
        rc = assign_splits(e);
    if (rc >= 0)
        rc = build_schema_and_x(e, o);
    if (rc >= 0)
        rc = build_items(e, o);
    if (rc >= 0)
        rc = build_rows(e, o);
    enc_destroy(e);
    free(e);
    return rc;
}

void prep_out_destroy(prep_out *o) {
    for (int sp = 0; sp < 3; sp++) {
        prep_split *ps = &o->split[sp];
        free(ps->x);
        free(ps->hist);
        free(ps->label);
        free(ps->user);
        free(ps->cand);
    }
    free(o->items);
    for (int i = 0; i < AMEIR_MAX_FIELDS; i++)
        free((void *)o->vocab[i]);
    arena_free(&o->arena);
    cJSON_Delete(o->truth);
    memset(o, 0, sizeof *o);
}
