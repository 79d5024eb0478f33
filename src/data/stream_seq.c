/* The streaming prep of behaviour histories and the seq task. Pass 1 (stream.c) spills each
 * event in file order and feeds (user, time, row) to an external sort. Then, with one byte
 * per event for its split and otherwise only one user's events held at a time:
 *  1. the sort's merge gives the leave-one-out split (a user's last event test, the one
 *     before valid) and marks each user's first event; a time split sorts (time, row) too;
 *  2. the spill is read to count the vocabulary rows' values (the split is known now), then
 *     ids are assigned;
 *  3. the spill is read again, each event's ids made (the item table takes each item from its
 *     first event in file order) and sorted by user and time once more: ctr keeps only the
 *     item id there and writes x, label and user to xrec.tmp in file order; seq sorts them all;
 *  4. ctr rows keep file order: each event's history (the item ids of the user's strictly
 *     earlier events) is computed user by user and sorted back by row, then read beside
 *     xrec.tmp; seq rows are written user by user (every event but the user's first) with
 *     their candidates. No file is read out of order. The bytes equal the in-memory prep's
 *     (encode.c). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "stream_internal.h"


int stream_sort_init(const stream *st, xsort *s, size_t rec, xsort_cmp cmp, const prep_dir *d, const char *what) {
    char name[24]; /* the ranks share the directory: each its own run files */
    snprintf(name, sizeof name, "%.12s-%d", what, st->rank);
    return xsort_init(s, rec, cmp, stream_sort_chunk(), d->tmp, name);
}

size_t stream_sort_chunk(void) {
    const char *v = getenv("AMEIR_PREP_SORT_CHUNK");
    long long n = v ? atoll(v) : 0;
    return n > 0 ? (size_t)n : (size_t)128 << 20;
}

int prep_can_stream_seq(const dcfg *c) {
    return c->has_source && c->user_column[0] && c->item_field[0] && (c->seq_len > 0 || c->task == AMEIR_TASK_SEQ) &&
           (c->main.format == DSRC_DELIMITED || c->main.format == DSRC_LIBFM || c->main.format == DSRC_SEQUENCE);
}

typedef struct at_row {
    const stream *st;
    int r;
} at_row;

static void where_at(const void *ctx, int which, char *out, size_t n) {
    (void)which;
    const at_row *a = ctx;
    stream_where(a->st, a->r, out, n);
}

int stream_seq_event(stream *st, int r) {
    const dcfg *c = st->c;
    at_row a = {st, r};
    if (st->label_col >= 0) {
        prep_cells pc = {stream_cell(st, r, st->label_col), NULL, where_at, &a};
        AMEIR_TRY(prep_label(c, &pc, &st->blab[r]));
    }
    st->btime[r] = 0;
    if (st->time_col >= 0) {
        const char *s = stream_cell(st, r, st->time_col);
        char *end = NULL, at[DCFG_PATH + 32];
        st->btime[r] = strtod(s, &end);
        if (!s[0] || *end || !isfinite(st->btime[r])) {
            stream_where(st, r, at, sizeof at);
            return ameir_fail(AMEIR_EDATA, "%s: time column %s: expected a number, found \"%s\"", at, c->time_column, s);
        }
    }
    return 0;
}

/* A file of fixed-size records, written then read in order. */
typedef struct recfile {
    char path[DCFG_PATH * 2 + 32];
    FILE *f;
} recfile;

static int rf_open(recfile *rf, const stream *st, const prep_dir *d, const char *name) {
    snprintf(rf->path, sizeof rf->path, "%s/%s-%d.tmp", d->tmp, name, st->rank); /* the ranks share the directory */
    if (!(rf->f = fopen(rf->path, "w+b")))
        return ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", rf->path, strerror(errno));
    remove(rf->path); /* lives as long as the FILE */
    return 0;
}

static int rf_write(recfile *rf, const void *p, size_t n) {
    if (fwrite(p, 1, n, rf->f) != n)
        return ameir_fail(AMEIR_EIO, "%s: write failed (disk full?)", rf->path);
    return 0;
}

static int rf_read(recfile *rf, void *p, size_t n) {
    if (fread(p, 1, n, rf->f) != n)
        return ameir_fail(AMEIR_EIO, "%s: short read", rf->path);
    return 0;
}

static int rf_rewind(recfile *rf) {
    if (fflush(rf->f) || fseeko(rf->f, 0, SEEK_SET))
        return ameir_fail(AMEIR_EIO, "%s: write failed (disk full?)", rf->path);
    return 0;
}

static void rf_close(recfile *rf) {
    if (rf->f)
        fclose(rf->f);
    rf->f = NULL;
}

/* Step 3's sort records: the key, then (ctr) the item id or (seq) x, the label and the split
 * (the rank that writes a user's rows may not hold their split bytes); sizes a multiple of 8
 * so the key stays aligned. */
size_t stream_ev_size(const stream *st) {
    size_t payload = st->c->task == AMEIR_TASK_SEQ ? ((size_t)st->schema.x_width + 2) * sizeof(int32_t) : sizeof(int32_t);
    return (sizeof(prep_event_key) + payload + 7) / 8 * 8;
}

/* One user's events in time order: rows, times, item ids and (seq) their records. */
typedef struct group {
    int64_t n, cap;
    prep_event_key *key;
    int32_t *item;
    unsigned char *rec;
    size_t rs;
} group;

static int group_push(group *g, const unsigned char *ev, int item_at) {
    if (g->n == g->cap) {
        int64_t cap = g->cap ? 2 * g->cap : 256;
        prep_event_key *k = realloc(g->key, (size_t)cap * sizeof *k);
        if (k)
            g->key = k;
        int32_t *i = realloc(g->item, (size_t)cap * sizeof *i);
        if (i)
            g->item = i;
        unsigned char *r = realloc(g->rec, (size_t)cap * g->rs);
        if (r)
            g->rec = r;
        if (!k || !i || !r)
            return ameir_fail(AMEIR_ENOMEM, "out of memory for a user of %lld events", (long long)cap);
        g->cap = cap;
    }
    memcpy(&g->key[g->n], ev, sizeof *g->key);
    memcpy(&g->item[g->n], ev + sizeof(prep_event_key) + (size_t)item_at * sizeof(int32_t), sizeof(int32_t));
    memcpy(g->rec + (size_t)g->n * g->rs, ev, g->rs);
    g->n++;
    return 0;
}

static void group_free(group *g) {
    free(g->key);
    free(g->item);
    free(g->rec);
}

int stream_seq_split_init(stream *st, int64_t total) {
    const dcfg *c = st->c;
    int64_t n = st->n_rows;
    if (c->split == DSPLIT_RANDOM)
        AMEIR_TRY(stream_split_rows(st, total, st->row_base, n));
    else if (!(st->split = calloc((size_t)(n ? n : 1), 1)))
        return ameir_fail(AMEIR_ENOMEM, "out of memory for the split of %lld events", (long long)n);
    if (c->split == DSPLIT_FILES) /* this rank's rows of each file, in order */
        for (int64_t fi = 0, r = 0; fi < c->main.n_files; fi++)
            for (int64_t k = 0; k < st->file_rows[fi]; k++)
                st->split[r++] = (int8_t)c->main.files[fi].split;
    return 0;
}

int8_t stream_loo_split(int64_t i, int64_t n) { return (int8_t)(i == n - 1 && n >= 2 ? 2 : i == n - 2 && n >= 3 ? 1 : 0); }

int stream_each_user(xsort *s, int (*fn)(void *ctx, const prep_event_key *k, int64_t n), void *ctx) {
    prep_event_key *keys = NULL, k;
    int64_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        int got = xsort_next(s, &k);
        if (got < 0) {
            rc = got;
            break;
        }
        if (n && (!got || k.user != keys[0].user)) { /* a user's events end */
            rc = fn(ctx, keys, n);
            n = 0;
        }
        if (!got || rc < 0)
            break;
        if (n == cap) {
            prep_event_key *p = realloc(keys, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *p);
            if (!p) {
                rc = ameir_fail(AMEIR_ENOMEM, "out of memory for a user of %lld events", (long long)cap);
                break;
            }
            keys = p;
        }
        keys[n++] = k;
    }
    free(keys);
    return rc;
}

typedef struct split_ctx {
    stream *st;
    xsort *by_time;
} split_ctx;

/* One user's events alone: leave-one-out, its first event marked, (time, row) to by_time. */
static int split_user(void *ctx, const prep_event_key *k, int64_t n) {
    const split_ctx *sc = ctx;
    int8_t *split = sc->st->split;
    int method = sc->st->c->split;
    for (int64_t i = 0; i < n; i++) {
        if (method == DSPLIT_LOO)
            split[k[i].row] = stream_loo_split(i, n);
        if (i == 0)
            split[k[i].row] |= FIRST_OF_USER;
        if (method == DSPLIT_TIME) {
            prep_event_key t = {0, k[i].time, k[i].row};
            AMEIR_TRY(xsort_add(sc->by_time, &t));
        }
    }
    return 0;
}

/* Step 1 alone: the split of every event, and each user's first event marked. */
static int split_events(stream *st, const prep_dir *d) {
    const dcfg *c = st->c;
    int64_t n = st->n_rows;
    AMEIR_TRY(stream_seq_split_init(st, n));
    xsort by_time;
    memset(&by_time, 0, sizeof by_time);
    int rc = xsort_done(&st->by_user), got = 0;
    if (rc >= 0 && c->split == DSPLIT_TIME)
        rc = stream_sort_init(st, &by_time, sizeof(prep_event_key), prep_cmp_time_row, d, "time");
    split_ctx sc = {st, &by_time};
    if (rc >= 0)
        rc = stream_each_user(&st->by_user, split_user, &sc);
    xsort_free(&st->by_user);
    if (rc >= 0 && c->split == DSPLIT_TIME) {
        int64_t n0 = (int64_t)floor(c->fractions[0] * (double)n), n1 = (int64_t)floor(c->fractions[1] * (double)n);
        prep_event_key t;
        rc = xsort_done(&by_time);
        for (int64_t i = 0; rc >= 0 && (got = xsort_next(&by_time, &t)) > 0; i++)
            st->split[t.row] = (int8_t)((st->split[t.row] & FIRST_OF_USER) | (i < n0 ? 0 : i < n0 + n1 ? 1 : 2));
        if (rc >= 0 && got < 0)
            rc = got;
    }
    xsort_free(&by_time);
    return rc;
}

int stream_seq_count(stream *st, spilled_row *row) {
    const dcfg *c = st->c;
    int seq = c->task == AMEIR_TASK_SEQ;
    AMEIR_TRY(stream_spill_rewind(st));
    for (int64_t r = 0; r < st->n_rows; r++) {
        AMEIR_TRY(stream_read_spilled(st, row));
        int sp = st->split[r] & 3, counted = c->vocab_all || sp == 0;
        for (int fi = 0; fi < c->n_fields && counted; fi++)
            for (int i = 0; i < row->n[fi]; i++)
                st->fv[fi].voc.count[row->ent[fi][i]]++;
        if (seq && (st->split[r] & FIRST_OF_USER))
            continue; /* a seq row needs an earlier event */
        st->rows[sp]++;
        st->positives[sp] += row->label > 0.5f;
    }
    return 0;
}

/* x, label and user of a ctr row in xrec.tmp */
static size_t xrec_size(const stream *st) {
    return (size_t)st->schema.x_width * sizeof(int32_t) + sizeof(float) + sizeof(int64_t);
}

int stream_to_sort(void *ctx, const void *rec) { return xsort_add(ctx, rec); }

/* Step 3: every event's ids, in file order, to put (the sort by user and time, or the rank
 * that holds the user) and, for ctr, x, label and user to xrec. */
static int encode_events(stream *st, spilled_row *row, int (*put)(void *ctx, const void *rec), void *ctx,
                         recfile *xrec, unsigned char *rec) {
    const ameir_schema *s = &st->schema;
    int seq = s->task == AMEIR_TASK_SEQ, W = s->x_width;
    size_t xb = (size_t)W * sizeof(int32_t);
    int32_t *x = malloc(xb + sizeof(int32_t));
    if (!x)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    int rc = stream_spill_rewind(st);
    memset(rec, 0, stream_ev_size(st));
    for (int64_t r = 0; r < st->n_rows && rc >= 0; r++) {
        if ((rc = stream_read_spilled(st, row)) < 0 || (rc = stream_row_ids(st, row, x)) < 0)
            break;
        prep_event_key key = {row->user, row->time, st->row_base + r};
        memcpy(rec, &key, sizeof key);
        if (seq) {
            int32_t sp = st->split[r] & 3;
            memcpy(rec + sizeof key, x, xb);
            memcpy(rec + sizeof key + xb, &row->label, sizeof row->label);
            memcpy(rec + sizeof key + xb + sizeof row->label, &sp, sizeof sp);
        } else {
            memcpy(rec + sizeof key, &x[s->fields[s->item_field].offset], sizeof(int32_t));
            unsigned char xr[sizeof(int64_t) + sizeof(float)];
            memcpy(xr, &row->label, sizeof row->label);
            memcpy(xr + sizeof row->label, &row->user, sizeof row->user);
            if ((rc = rf_write(xrec, x, xb)) >= 0)
                rc = rf_write(xrec, xr, sizeof xr);
        }
        if (rc >= 0)
            rc = put(ctx, rec);
    }
    free(x);
    if (rc >= 0 && !seq)
        rc = rf_rewind(xrec);
    return rc;
}

/* The batches of rows waiting for each split's writer. */
typedef struct batches {
    int32_t *x[3], *hist[3], *cand[3];
    float *label[3];
    int64_t *user[3];
    int n[3];
} batches;

static int batches_open(batches *b, const ameir_schema *s) {
    int L = s->seq_len > 0 ? s->seq_len : 1, nc = s->n_candidates > 0 ? s->n_candidates : 1;
    for (int sp = 0; sp < 3; sp++) {
        b->x[sp] = malloc((size_t)STREAM_BATCH * (size_t)s->x_width * sizeof *b->x[sp]);
        b->hist[sp] = calloc((size_t)STREAM_BATCH * (size_t)L, sizeof *b->hist[sp]);
        b->cand[sp] = malloc((size_t)STREAM_BATCH * (size_t)nc * sizeof *b->cand[sp]);
        b->label[sp] = malloc(STREAM_BATCH * sizeof *b->label[sp]);
        b->user[sp] = malloc(STREAM_BATCH * sizeof *b->user[sp]);
        if (!b->x[sp] || !b->hist[sp] || !b->cand[sp] || !b->label[sp] || !b->user[sp])
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
    }
    return 0;
}

static int batches_flush(stream *st, batches *b, int sp) {
    const ameir_schema *s = &st->schema;
    prep_rows r = {b->x[sp], s->seq_len > 0 ? b->hist[sp] : NULL, b->label[sp], b->user[sp],
                   s->task == AMEIR_TASK_SEQ && sp > 0 ? b->cand[sp] : NULL};
    int rc = st->size > 1 ? stream_part_append(st, sp, &r, b->n[sp]) : prep_split_writer_append(&st->w[sp], &r, b->n[sp]);
    st->written[sp] += b->n[sp];
    b->n[sp] = 0;
    return rc;
}

static void batches_free(batches *b) {
    for (int sp = 0; sp < 3; sp++) {
        free(b->x[sp]);
        free(b->hist[sp]);
        free(b->cand[sp]);
        free(b->label[sp]);
        free(b->user[sp]);
    }
}

/* A row into its split's batch (a full batch is written); *cand: where its candidates go. */
static int add_row(stream *st, batches *b, int sp, const void *x, const void *label, const void *user,
                   const int32_t *hist, int32_t **cand) {
    const ameir_schema *s = &st->schema;
    int k = b->n[sp];
    memcpy(b->x[sp] + (int64_t)k * s->x_width, x, (size_t)s->x_width * sizeof(int32_t));
    memcpy(&b->label[sp][k], label, sizeof(float));
    memcpy(&b->user[sp][k], user, sizeof(int64_t));
    if (s->seq_len > 0)
        memcpy(b->hist[sp] + (int64_t)k * s->seq_len, hist, (size_t)s->seq_len * sizeof *hist);
    if (cand)
        *cand = b->cand[sp] + (int64_t)k * (s->n_candidates > 0 ? s->n_candidates : 1);
    b->n[sp]++;
    return 0;
}

/* The history of event p of g: the item ids of at most L earlier events (strictly earlier in
 * time for ctr rows), padding first. */
static void history(const group *g, int64_t p, int L, int ctr, int32_t *hist) {
    int64_t q = p;
    while (ctr && q > 0 && g->key[q - 1].time == g->key[p].time)
        q--;
    int64_t b = q - L > 0 ? q - L : 0;
    memset(hist, 0, (size_t)L * sizeof *hist);
    for (int64_t j = b; j < q; j++)
        hist[L - (q - b) + (j - b)] = g->item[j];
}

/* The next user's events from the sort into g; 0 at the end. */
static int next_group(stream *st, xsort *ev, unsigned char *pending, int *has, group *g) {
    const ameir_schema *s = &st->schema;
    int item_at = s->task == AMEIR_TASK_SEQ ? s->fields[s->item_field].offset : 0;
    g->n = 0;
    if (!*has) {
        int got = xsort_next(ev, pending);
        if (got <= 0)
            return got;
    }
    int64_t user;
    memcpy(&user, pending, sizeof user);
    for (;;) {
        AMEIR_TRY(group_push(g, pending, item_at));
        int got = xsort_next(ev, pending);
        AMEIR_TRY(got);
        *has = got;
        int64_t next;
        memcpy(&next, pending, sizeof next);
        if (!got || next != user)
            return 1;
    }
}

/* (row, history) records of step 4, sorted back into file order */
typedef struct hist_key {
    int64_t row;
} hist_key;

static int cmp_row(const void *a, const void *b) {
    const hist_key *p = a, *q = b;
    return (p->row > q->row) - (p->row < q->row);
}

size_t stream_hist_size(const stream *st) {
    /* padded to 8 bytes like stream_ev_size: the sort's buffers hold records back to back and
     * cmp_row reads the row in place */
    return (sizeof(int64_t) + (size_t)st->schema.seq_len * sizeof(int32_t) + 7) / 8 * 8;
}

int stream_hist_sort_init(const stream *st, const prep_dir *d, xsort *by_row) {
    return stream_sort_init(st, by_row, stream_hist_size(st), cmp_row, d, "hist");
}

/* Step 4, ctr: each event's (row, history), user by user, to put. */
static int ctr_histories(stream *st, xsort *ev, int (*put)(void *ctx, const void *rec), void *ctx) {
    int L = st->schema.seq_len;
    unsigned char *h = calloc(1, stream_hist_size(st)), *pending = malloc(stream_ev_size(st));
    group g = {0};
    g.rs = stream_ev_size(st);
    int has = 0, got = 0, rc = h && pending ? 0 : ameir_fail(AMEIR_ENOMEM, "out of memory");
    while (rc >= 0 && (got = next_group(st, ev, pending, &has, &g)) > 0)
        for (int64_t p = 0; p < g.n && rc >= 0; p++) {
            memcpy(h, &g.key[p].row, sizeof(int64_t));
            history(&g, p, L, 1, (int32_t *)(h + sizeof(int64_t)));
            rc = put(ctx, h);
        }
    if (rc >= 0 && got < 0)
        rc = got;
    group_free(&g);
    free(h);
    free(pending);
    return rc;
}

/* Step 4, ctr: this rank's rows in file order, from xrec.tmp and the histories sorted by row. */
static int ctr_write(stream *st, xsort *by_row, recfile *xrec, batches *b) {
    size_t xb = (size_t)st->schema.x_width * sizeof(int32_t);
    unsigned char *h = malloc(stream_hist_size(st)), *xr = malloc(xrec_size(st));
    int rc = h && xr ? xsort_done(by_row) : ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int64_t r = 0; r < st->n_rows && rc >= 0; r++) {
        int sp = st->split[r] & 3;
        if ((rc = rf_read(xrec, xr, xrec_size(st))) < 0 || (rc = xsort_next(by_row, h)) < 0)
            break;
        int64_t hr;
        memcpy(&hr, h, sizeof hr);
        if (rc == 0 || hr != st->row_base + r) {
            rc = ameir_fail(AMEIR_EINTERNAL, "history of row %lld missing", (long long)(st->row_base + r));
            break;
        }
        add_row(st, b, sp, xr, xr + xb, xr + xb + sizeof(float), (const int32_t *)(h + sizeof(int64_t)), NULL);
        rc = b->n[sp] == STREAM_BATCH ? batches_flush(st, b, sp) : 0;
    }
    free(h);
    free(xr);
    return rc;
}

/* Step 4, ctr alone: histories into the sort by row, then the rows. */
static int ctr_rows(stream *st, const prep_dir *d, xsort *ev, recfile *xrec, batches *b) {
    xsort by_row;
    int rc = stream_hist_sort_init(st, d, &by_row);
    if (rc >= 0)
        rc = ctr_histories(st, ev, stream_to_sort, &by_row);
    xsort_free(ev);
    if (rc >= 0)
        rc = ctr_write(st, &by_row, xrec, b);
    xsort_free(&by_row);
    return rc;
}

/* Step 4, seq: rows user by user (all but each user's first event), with candidates. */
static int seq_rows(stream *st, xsort *ev, batches *b) {
    const ameir_schema *s = &st->schema;
    int L = s->seq_len > 0 ? s->seq_len : 1;
    size_t xb = (size_t)s->x_width * sizeof(int32_t);
    int32_t *h = malloc((size_t)L * sizeof *h), *touched = NULL, *cand = NULL;
    unsigned char *pending = malloc(stream_ev_size(st));
    int64_t cap = 0;
    group g = {0};
    g.rs = stream_ev_size(st);
    int has = 0, got = 0, rc = h && pending ? 0 : ameir_fail(AMEIR_ENOMEM, "out of memory");
    while (rc >= 0 && (got = next_group(st, ev, pending, &has, &g)) > 0) {
        if (g.n > cap) {
            int32_t *t = realloc(touched, (size_t)g.n * sizeof *t);
            if (!t) {
                rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
                break;
            }
            touched = t;
            cap = g.n;
        }
        memcpy(touched, g.item, (size_t)g.n * sizeof *touched);
        qsort(touched, (size_t)g.n, sizeof *touched, prep_cmp_i32);
        for (int64_t p = 1; p < g.n && rc >= 0; p++) {
            const unsigned char *rec = g.rec + (size_t)p * g.rs + sizeof(prep_event_key);
            int32_t sp = 0;
            memcpy(&sp, rec + xb + sizeof(float), sizeof sp);
            history(&g, p, L, 0, h);
            add_row(st, b, sp, rec, rec + xb, &g.key[p].user, h, &cand);
            if (sp > 0)
                rc = prep_sample_candidates(st->c, st->n_items, s->n_candidates, g.key[p].user, sp, touched, g.n,
                                            g.item[p], cand);
            if (rc >= 0 && b->n[sp] == STREAM_BATCH)
                rc = batches_flush(st, b, sp);
        }
    }
    if (rc >= 0 && got < 0)
        rc = got;
    group_free(&g);
    free(h);
    free(touched);
    free(pending);
    return rc;
}

/* Step 4, ctr over ranks: the owners' histories go to the ranks that read the rows. */
static int ctr_rows_ranks(stream *st, const prep_dir *d, xsort *ev, recfile *xrec, batches *b) {
    stream_router out = {.st = st};
    xsort by_row;
    memset(&by_row, 0, sizeof by_row);
    int rc = stream_hist_sort_init(st, d, &by_row);
    if (rc >= 0)
        rc = route_open(&out.rt, st, d->tmp, "hist", stream_hist_size(st));
    if (rc >= 0)
        rc = ctr_histories(st, ev, stream_route_by_row, &out);
    xsort_free(ev);
    int sent = route_send(&out.rt);
    rc = prep_agree(st->peers, rc >= 0 ? sent : rc);
    if (rc >= 0)
        rc = route_recv(&out.rt, stream_to_sort, &by_row);
    route_free(&out.rt);
    if (rc >= 0)
        rc = ctr_write(st, &by_row, xrec, b);
    xsort_free(&by_row);
    return rc;
}

/* Step 3: the events encoded and sorted by user and time: alone into ev; over ranks each to
 * its user's owner, which sorts what it receives. */
static int sort_events(stream *st, const prep_dir *d, spilled_row *row, xsort *ev, recfile *xrec) {
    unsigned char *rec = malloc(stream_ev_size(st));
    stream_router out = {.st = st};
    int ranks = st->size > 1;
    int rc = rec ? stream_sort_init(st, ev, stream_ev_size(st), prep_cmp_user_time, d, "events")
                 : ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (rc >= 0 && ranks)
        rc = route_open(&out.rt, st, d->tmp, "events", stream_ev_size(st));
    if (rc >= 0)
        rc = encode_events(st, row, ranks ? stream_route_by_user : stream_to_sort, ranks ? (void *)&out : (void *)ev,
                           xrec, rec);
    if (ranks) {
        int sent = route_send(&out.rt);
        rc = prep_agree(st->peers, rc >= 0 ? sent : rc);
        if (rc >= 0)
            rc = route_recv(&out.rt, stream_to_sort, ev);
        route_free(&out.rt);
    }
    free(rec);
    return rc < 0 ? rc : xsort_done(ev);
}

/* The writers of the splits (alone) or this rank's parts (over ranks). */
static int outputs_open(stream *st, const prep_dir *d, int *open) {
    for (int sp = 0; sp < 3; sp++) {
        if (st->size > 1) {
            AMEIR_TRY(stream_part_open(st, d, sp));
            continue;
        }
        AMEIR_TRY(prep_split_writer_open(&st->w[sp], d, &st->schema, st->c, sp, st->rows[sp]));
        *open = sp + 1;
    }
    return 0;
}

/* Every rank goes through the same steps and agrees on the status after each (alone the
 * agreements do nothing). */
int stream_seq_rows(stream *st, prep_dir *d) {
    const dcfg *c = st->c;
    const ameir_prep_peers *p = st->peers;
    recfile xrec = {0};
    xsort ev;
    batches b;
    memset(&ev, 0, sizeof ev);
    memset(&b, 0, sizeof b);
    spilled_row *row = malloc(sizeof *row);
    int seq = c->task == AMEIR_TASK_SEQ, open = 0, ranks = st->size > 1;
    int rc = prep_agree(p, row ? 0 : ameir_fail(AMEIR_ENOMEM, "out of memory"));
    if (rc >= 0)
        rc = ranks ? stream_seq_split_ranks(st, d) : split_events(st, d);
    if (rc >= 0)
        rc = prep_agree(p, stream_seq_count(st, row));
    if (rc >= 0 && ranks) {
        rc = stream_merge_ranks(st);
    } else if (rc >= 0) {
        rc = prep_check_splits(c, st->rows, st->positives);
        if (rc >= 0)
            rc = stream_assign_ids(st);
    }
    if (rc >= 0 && !seq)
        rc = rf_open(&xrec, st, d, "xrec");
    rc = prep_agree(p, rc);
    if (rc >= 0)
        rc = sort_events(st, d, row, &ev, &xrec);
    if (rc >= 0)
        rc = batches_open(&b, &st->schema);
    if (rc >= 0)
        rc = outputs_open(st, d, &open);
    rc = prep_agree(p, rc);
    if (rc >= 0 && seq)
        rc = seq_rows(st, &ev, &b);
    else if (rc >= 0)
        rc = ranks ? ctr_rows_ranks(st, d, &ev, &xrec, &b) : ctr_rows(st, d, &ev, &xrec, &b);
    for (int sp = 0; sp < 3 && rc >= 0; sp++)
        if ((rc = batches_flush(st, &b, sp)) >= 0 && !ranks)
            rc = prep_split_writer_close(&st->w[sp]);
    if (rc < 0)
        for (int sp = 0; sp < open; sp++)
            prep_split_writer_abort(&st->w[sp]);
    rc = prep_agree(p, rc);
    if (rc >= 0 && ranks)
        rc = prep_agree(p, stream_gather_written(st));
    xsort_free(&ev);
    batches_free(&b);
    rf_close(&xrec);
    free(row);
    return rc;
}
