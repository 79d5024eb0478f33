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

#define FIRST_OF_USER 0x10 /* in split[row]: the user's first event in time order */

size_t stream_sort_chunk(void) {
    const char *v = getenv("AMEIR_PREP_SORT_CHUNK");
    long long n = v ? atoll(v) : 0;
    return n > 0 ? (size_t)n : (size_t)128 << 20;
}

int prep_can_stream_seq(const dcfg *c) {
    return c->has_source && c->user_column[0] && c->item_field[0] && (c->seq_len > 0 || c->task == AMEIR_TASK_SEQ) &&
           (c->main.format == DSRC_DELIMITED || c->main.format == DSRC_LIBFM);
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

static int rf_open(recfile *rf, const prep_dir *d, const char *name) {
    snprintf(rf->path, sizeof rf->path, "%s/%s.tmp", d->tmp, name);
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

/* Step 3's sort records: the key, then (ctr) the item id or (seq) x and the label; sizes a
 * multiple of 8 so the key stays aligned. */
static size_t ev_size(const stream *st) {
    size_t payload = st->c->task == AMEIR_TASK_SEQ ? ((size_t)st->schema.x_width + 1) * sizeof(int32_t) : sizeof(int32_t);
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

/* Step 1: the split of every event, and each user's first event marked. */
static int split_events(stream *st, const prep_dir *d) {
    const dcfg *c = st->c;
    int64_t n = st->n_rows;
    if (c->split == DSPLIT_RANDOM)
        AMEIR_TRY(stream_split_rows(st, n, 0, n));
    else if (!(st->split = calloc((size_t)n, 1)))
        return ameir_fail(AMEIR_ENOMEM, "out of memory for the split of %lld events", (long long)n);
    if (c->split == DSPLIT_FILES)
        for (int64_t fi = 0, r = 0; fi < c->main.n_files; fi++)
            for (int64_t k = 0; k < st->file_rows[fi]; k++)
                st->split[r++] = (int8_t)c->main.files[fi].split;
    xsort by_time;
    memset(&by_time, 0, sizeof by_time);
    int rc = xsort_done(&st->by_user);
    if (rc >= 0 && c->split == DSPLIT_TIME)
        rc = xsort_init(&by_time, sizeof(prep_event_key), prep_cmp_time_row, stream_sort_chunk(), d->tmp, "time");
    int64_t *rows = NULL, nr = 0, cap = 0, user = -1;
    prep_event_key k;
    int got = 0;
    while (rc >= 0) {
        if ((got = xsort_next(&st->by_user, &k)) < 0) {
            rc = got;
            break;
        }
        if (!got || k.user != user) { /* a user's events end: leave-one-out over them */
            for (int64_t i = 0; i < nr && c->split == DSPLIT_LOO; i++)
                st->split[rows[i]] = (int8_t)(i == nr - 1 && nr >= 2 ? 2 : i == nr - 2 && nr >= 3 ? 1 : 0);
            if (nr)
                st->split[rows[0]] |= FIRST_OF_USER;
            nr = 0;
            user = k.user;
        }
        if (!got)
            break;
        if (nr == cap) {
            int64_t *p = realloc(rows, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *p);
            if (!p) {
                rc = ameir_fail(AMEIR_ENOMEM, "out of memory for a user of %lld events", (long long)cap);
                break;
            }
            rows = p;
        }
        rows[nr++] = k.row;
        if (c->split == DSPLIT_TIME) {
            prep_event_key t = {0, k.time, k.row};
            rc = xsort_add(&by_time, &t);
        }
    }
    free(rows);
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

/* Step 2: values counted on the vocabulary rows; rows and positives of each split. */
static int count_values(stream *st, spilled_row *row) {
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

/* Step 3: every event's ids, in file order, into the sort by user and time (and xrec). */
static int encode_events(stream *st, spilled_row *row, xsort *ev, recfile *xrec, unsigned char *rec) {
    const ameir_schema *s = &st->schema;
    int seq = s->task == AMEIR_TASK_SEQ, W = s->x_width;
    size_t xb = (size_t)W * sizeof(int32_t);
    int32_t *x = malloc(xb + sizeof(int32_t));
    if (!x)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    int rc = stream_spill_rewind(st);
    memset(rec, 0, ev_size(st));
    for (int64_t r = 0; r < st->n_rows && rc >= 0; r++) {
        if ((rc = stream_read_spilled(st, row)) < 0 || (rc = stream_row_ids(st, row, x)) < 0)
            break;
        prep_event_key key = {row->user, row->time, r};
        memcpy(rec, &key, sizeof key);
        if (seq) {
            memcpy(rec + sizeof key, x, xb);
            memcpy(rec + sizeof key + xb, &row->label, sizeof row->label);
        } else {
            memcpy(rec + sizeof key, &x[s->fields[s->item_field].offset], sizeof(int32_t));
            unsigned char xr[sizeof(int64_t) + sizeof(float)];
            memcpy(xr, &row->label, sizeof row->label);
            memcpy(xr + sizeof row->label, &row->user, sizeof row->user);
            if ((rc = rf_write(xrec, x, xb)) >= 0)
                rc = rf_write(xrec, xr, sizeof xr);
        }
        if (rc >= 0)
            rc = xsort_add(ev, rec);
    }
    free(x);
    if (rc >= 0 && !seq)
        rc = rf_rewind(xrec);
    return rc < 0 ? rc : xsort_done(ev);
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
    int rc = prep_split_writer_append(&st->w[sp], &r, b->n[sp]);
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

/* Step 4, ctr: histories user by user, sorted back by row, read beside xrec.tmp. */
static int ctr_rows(stream *st, const prep_dir *d, xsort *ev, recfile *xrec, batches *b) {
    const ameir_schema *s = &st->schema;
    int L = s->seq_len;
    /* padded to 8 bytes like ev_size: the sort's buffers hold records back to back and cmp_row reads the row in place */
    size_t hs = (sizeof(int64_t) + (size_t)L * sizeof(int32_t) + 7) / 8 * 8, xb = (size_t)s->x_width * sizeof(int32_t);
    unsigned char *h = calloc(1, hs), *pending = malloc(ev_size(st)), *xr = malloc(xrec_size(st));
    group g = {0};
    g.rs = ev_size(st);
    xsort by_row;
    memset(&by_row, 0, sizeof by_row);
    int has = 0, got = 0, rc = h && pending && xr ? xsort_init(&by_row, hs, cmp_row, stream_sort_chunk(), d->tmp, "hist")
                                                 : ameir_fail(AMEIR_ENOMEM, "out of memory");
    while (rc >= 0 && (got = next_group(st, ev, pending, &has, &g)) > 0)
        for (int64_t p = 0; p < g.n && rc >= 0; p++) {
            memcpy(h, &g.key[p].row, sizeof(int64_t));
            history(&g, p, L, 1, (int32_t *)(h + sizeof(int64_t)));
            rc = xsort_add(&by_row, h);
        }
    if (rc >= 0 && got < 0)
        rc = got;
    xsort_free(ev);
    if (rc >= 0)
        rc = xsort_done(&by_row);
    for (int64_t r = 0; r < st->n_rows && rc >= 0; r++) {
        int sp = st->split[r] & 3;
        if ((rc = rf_read(xrec, xr, xrec_size(st))) < 0 || (rc = xsort_next(&by_row, h)) < 0)
            break;
        int64_t hr;
        memcpy(&hr, h, sizeof hr);
        if (rc == 0 || hr != r) {
            rc = ameir_fail(AMEIR_EINTERNAL, "history of row %lld missing", (long long)r);
            break;
        }
        add_row(st, b, sp, xr, xr + xb, xr + xb + sizeof(float), (const int32_t *)(h + sizeof(int64_t)), NULL);
        rc = b->n[sp] == STREAM_BATCH ? batches_flush(st, b, sp) : 0;
    }
    xsort_free(&by_row);
    group_free(&g);
    free(h);
    free(pending);
    free(xr);
    return rc;
}

/* Step 4, seq: rows user by user (all but each user's first event), with candidates. */
static int seq_rows(stream *st, xsort *ev, batches *b) {
    const ameir_schema *s = &st->schema;
    int L = s->seq_len > 0 ? s->seq_len : 1;
    size_t xb = (size_t)s->x_width * sizeof(int32_t);
    int32_t *h = malloc((size_t)L * sizeof *h), *touched = NULL, *cand = NULL;
    unsigned char *pending = malloc(ev_size(st));
    int64_t cap = 0;
    group g = {0};
    g.rs = ev_size(st);
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
            int sp = st->split[g.key[p].row] & 3;
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

int stream_seq_rows(stream *st, prep_dir *d) {
    const dcfg *c = st->c;
    recfile xrec = {0};
    xsort ev;
    batches b;
    memset(&ev, 0, sizeof ev);
    memset(&b, 0, sizeof b);
    spilled_row *row = malloc(sizeof *row);
    unsigned char *rec = NULL;
    int seq = c->task == AMEIR_TASK_SEQ, open = 0;
    int rc = row ? split_events(st, d) : ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (rc >= 0)
        rc = count_values(st, row);
    if (rc >= 0)
        rc = prep_check_splits(c, st->rows, st->positives);
    if (rc >= 0)
        rc = stream_assign_ids(st);
    if (rc >= 0 && !(rec = malloc(ev_size(st))))
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (rc >= 0 && !seq)
        rc = rf_open(&xrec, d, "xrec");
    if (rc >= 0)
        rc = xsort_init(&ev, ev_size(st), prep_cmp_user_time, stream_sort_chunk(), d->tmp, "events");
    if (rc >= 0)
        rc = encode_events(st, row, &ev, &xrec, rec);
    if (rc >= 0)
        rc = batches_open(&b, &st->schema);
    for (int sp = 0; sp < 3 && rc >= 0; sp++)
        if ((rc = prep_split_writer_open(&st->w[sp], d, &st->schema, c, sp, st->rows[sp])) >= 0)
            open = sp + 1;
    if (rc >= 0)
        rc = seq ? seq_rows(st, &ev, &b) : ctr_rows(st, d, &ev, &xrec, &b);
    for (int sp = 0; sp < 3 && rc >= 0; sp++)
        if ((rc = batches_flush(st, &b, sp)) >= 0)
            rc = prep_split_writer_close(&st->w[sp]);
    if (rc < 0)
        for (int sp = 0; sp < open; sp++)
            prep_split_writer_abort(&st->w[sp]);
    xsort_free(&ev);
    batches_free(&b);
    rf_close(&xrec);
    free(rec);
    free(row);
    return rc;
}
