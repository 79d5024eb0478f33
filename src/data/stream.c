/* Streaming prep of flat ctr tables (no behaviour sequence, no joins; split by files or at
 * random): memory holds the vocabularies, not the rows. Pass 1 reads every row, checks it,
 * counts values per field (on the vocabulary rows) and labels per split, and spills the row
 * as value entries to OUT.tmp-PID/rows.tmp; ids follow; pass 2 reads the spill back (no
 * parsing or hashing again) and writes the rows through the split writers. A random split needs the
 * row count first (pass 0) and keeps one byte per row: the split of row i is a fixed
 * function of the seed, the row count and i (the same shuffle as the in-memory prep). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/rng.h"
#include "stream_internal.h"

int prep_can_stream(const dcfg *c) {
    return c->has_source && c->task == AMEIR_TASK_CTR && c->seq_len == 0 && c->n_joins == 0 &&
           (c->split == DSPLIT_FILES || c->split == DSPLIT_RANDOM) &&
           (c->main.format == DSRC_DELIMITED || c->main.format == DSRC_LIBFM);
}

static void where_row(const void *ctx, int which, char *out, size_t n) {
    (void)which;
    const row_reader *rr = ctx;
    snprintf(out, n, "%s:%lld", rr->rec.path, (long long)rr->line);
}

/* The column named name in the main table, else in a join (stream_cell's numbering). */
static int col_of(const stream *st, const char *name, const char *key) {
    for (int i = 0; i < st->n_names; i++)
        if (!strcmp(st->names[i], name))
            return i;
    for (int j = 0; j < st->c->n_joins; j++) {
        int col = rawtable_col(&st->joins[j], name);
        if (col >= 0)
            return DCFG_MAX_COLS * (j + 1) + col;
    }
    if (!st->c->main.n_columns && st->c->main.n_files && st->c->main.format == DSRC_DELIMITED) /* names from a header */
        return ameir_fail(AMEIR_EDATA, "%s:1: no column \"%s\" in the header (the config's key %s names it, in %s)",
                          st->paths[0], name, key, st->c->path);
    return ameir_fail(AMEIR_ECONFIG, "%s: key %s: no column \"%s\" in the source or its joins", st->c->path, key, name);
}

/* Column indexes of the label, user and every field, once the names are known. */
static int resolve_columns(stream *st) {
    const dcfg *c = st->c;
    char key[DCFG_NAME + 32];
    st->label_col = st->user_col = st->time_col = -1;
    for (int j = 0; j < c->n_joins; j++) {
        st->join_key[j] = -1;
        for (int i = 0; i < st->n_names; i++)
            if (!strcmp(st->names[i], c->joins[j].key))
                st->join_key[j] = i;
        if (st->join_key[j] < 0)
            return ameir_fail(AMEIR_ECONFIG, "%s: key joins[%d].key: the main source has no column \"%s\"", c->path, j,
                              c->joins[j].key);
    }
    if (c->time_column[0])
        AMEIR_TRY(st->time_col = col_of(st, c->time_column, "sequence.time"));
    if (c->label_kind != DLABEL_IMPLICIT)
        AMEIR_TRY(st->label_col = col_of(st, c->label_column, "label.column"));
    if (c->user_column[0])
        AMEIR_TRY(st->user_col = col_of(st, c->user_column, "user"));
    for (int fi = 0; fi < c->n_fields; fi++) {
        const dcfg_field *f = &c->fields[fi];
        if (f->n_flags) {
            for (int i = 0; i < f->n_flags; i++) {
                snprintf(key, sizeof key, "fields[%d].flags[%d]", fi, i);
                AMEIR_TRY(st->fv[fi].flags[i] = col_of(st, f->flags[i], key));
            }
        } else {
            snprintf(key, sizeof key, "fields[%d].column", fi);
            AMEIR_TRY(st->fv[fi].col = col_of(st, f->column, key));
        }
    }
    return 0;
}

typedef struct block_at {
    const stream *st;
    int r;
} block_at;

void stream_where(const stream *st, int r, char *out, size_t n) {
    snprintf(out, n, "%s:%lld", st->paths[st->bfile[r]], (long long)st->bline[r]);
}

static void where_block(const void *ctx, int which, char *out, size_t n) {
    (void)which;
    const block_at *ba = ctx;
    stream_where(ba->st, ba->r, out, n);
}

const char *stream_cell(const stream *st, int r, int col) {
    if (col < DCFG_MAX_COLS)
        return st->btext + st->bcell[(size_t)r * (size_t)st->n_names + (size_t)col];
    int j = col / DCFG_MAX_COLS - 1;
    const rawtable *t = &st->joins[j];
    int64_t jr = st->bjrow[(size_t)r * (size_t)st->c->n_joins + (size_t)j];
    return jr < 0 ? "" : t->cells[jr * t->n_cols + col % DCFG_MAX_COLS];
}

/* The values of field fi in block row r. */
static int row_values(stream *st, int fi, int r, const char **vals, char *buf, size_t nbuf, int *n) {
    const dcfg_field *f = &st->c->fields[fi];
    const char *flags[DCFG_MAX_COLS];
    block_at ba = {st, r};
    prep_cells pc = {NULL, flags, where_block, &ba};
    if (f->n_flags)
        for (int i = 0; i < f->n_flags; i++)
            flags[i] = stream_cell(st, r, st->fv[fi].flags[i]);
    else
        pc.cell = stream_cell(st, r, st->fv[fi].col);
    return prep_field_values(f, &pc, vals, MAX_VALUES, buf, nbuf, n);
}

static int process_block(stream *st);

/* Room for need more bytes of block text. */
static int block_text(stream *st, size_t need) {
    if (st->bused + need > st->bcap) {
        size_t cap = 2 * (st->bused + need);
        char *t = realloc(st->btext, cap + 8); /* 8 bytes more: strmap_key_of_padded reads past a NUL */
        if (!t)
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        st->btext = t;
        st->bcap = cap;
    }
    return 0;
}

/* Block row r's cells are in: its join rows, split, label and place; a full block is processed. */
static int block_row(stream *st, char *const *tok, int fi, int64_t line, int split, float label) {
    int r = st->nblk;
    for (int j = 0; j < st->c->n_joins; j++) {
        int32_t *jr = strmap_get(&st->join_map[j], tok[st->join_key[j]]);
        st->bjrow[(size_t)r * (size_t)st->c->n_joins + (size_t)j] = jr ? *jr : -1;
    }
    st->bsplit[r] = (int8_t)split;
    st->blab[r] = label;
    st->bfile[r] = fi;
    st->bline[r] = line;
    if (++st->nblk == BLOCK)
        return process_block(st);
    return 0;
}

/* A row's cells copied into the block in one piece (the reader's cells lie in order in one
 * buffer, each ended by its NUL). */
static int add_row(stream *st, const row_reader *rr, int split, float label) {
    int r = st->nblk, nn = st->n_names;
    const char *first = rr->tok[0], *last = rr->tok[nn - 1];
    size_t need = (size_t)(last - first) + strlen(last) + 1;
    AMEIR_TRY(block_text(st, need));
    memcpy(st->btext + st->bused, first, need);
    for (int i = 0; i < nn; i++)
        st->bcell[(size_t)r * (size_t)nn + (size_t)i] = st->bused + (size_t)(rr->tok[i] - first);
    st->bused += need;
    return block_row(st, rr->tok, rr->fi, rr->line, split, label);
}

typedef struct seq_line {
    stream *st;
    int fi;
    int64_t line, *rows;
} seq_line;

/* One item of a sequence-format line: a row of (key, item, position), the position as time. */
static int add_event(void *ctx, const char *key, const char *item, int64_t pos) {
    const seq_line *sl = ctx;
    stream *st = sl->st;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)pos);
    char *tok[3] = {(char *)key, (char *)item, num};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(tok[i]) + 1;
        AMEIR_TRY(block_text(st, l));
        memcpy(st->btext + st->bused, tok[i], l);
        st->bcell[(size_t)st->nblk * 3 + (size_t)i] = st->bused;
        st->bused += l;
    }
    st->file_rows[sl->fi]++;
    ++*sl->rows;
    return block_row(st, tok, sl->fi, sl->line, 0, 1);
}

/* Pass 1: every data row of every file, in file order, with its split and label. */
static int pass1(stream *st) {
    const dcfg *c = st->c;
    const char *what = "prep pass 1 (vocabularies)";
    int64_t gi = 0;
    for (int fi = 0; fi < c->main.n_files; fi++) {
        if (!st->mine[fi])
            continue;
        row_reader rr;
        int rc = row_open_at(&rr, &c->main, fi, st->paths[fi], st->names, &st->n_names, st->start[fi], st->stop[fi],
                             st->line_base[fi]);
        while (rc >= 0 && (rc = row_next(&rr)) > 0) {
            if (!st->resolved) {
                if ((rc = resolve_columns(st)) < 0)
                    break;
                st->resolved = 1;
                st->bcell = malloc((size_t)BLOCK * (size_t)st->n_names * sizeof *st->bcell);
                st->bjrow = malloc((size_t)BLOCK * (size_t)(c->n_joins + 1) * sizeof *st->bjrow);
                if (!st->bcell || !st->bjrow) {
                    rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
                    break;
                }
            }
            if (c->main.format == DSRC_SEQUENCE) { /* sorted prep only: an event per item */
                seq_line sl = {st, fi, rr.line, &gi};
                rc = rec_sequence_each(rr.rec.path, rr.line, c->main.sep, rr.tok[0], add_event, &sl);
                continue;
            }
            float label = 1;
            if (st->label_col >= 0 && !st->seq) { /* seq: from the block, joins included */
                prep_cells pc = {rr.tok[st->label_col], NULL, where_row, &rr};
                if ((rc = prep_label(c, &pc, &label)) < 0)
                    break;
            }
            if (c->split == DSPLIT_RANDOM && !st->seq && gi >= st->n_rows) {
                rc = ameir_fail(AMEIR_EDATA, "%s: more rows than counted before (changed while prep ran?)", rr.rec.path);
                break;
            }
            int split = st->seq ? 0 : c->split == DSPLIT_FILES ? c->main.files[fi].split : st->split[gi];
            st->file_rows[fi]++;
            if ((rc = add_row(st, &rr, split, label)) < 0)
                break;
            gi++;
            if ((gi & 0xfffff) == 0 && st->rank == 0)
                prep_progress(what, gi, 0);
        }
        row_close(&rr);
        if (rc < 0)
            return rc;
    }
    if (st->nblk)
        AMEIR_TRY(process_block(st));
    if (st->rank == 0)
        prep_progress(what, gi, 1);
    if (c->split == DSPLIT_RANDOM && !st->seq && gi != st->n_rows)
        return ameir_fail(AMEIR_EDATA, "%s: %lld rows, %lld counted before (changed while prep ran?)", st->c->path,
                          (long long)gi, (long long)st->n_rows);
    st->n_rows = gi;
    return 0;
}

/* Random split alone: rows counted (pass 0), then the shuffle. */
static int random_split(stream *st) {
    const dcfg *c = st->c;
    int64_t n = 0;
    for (int fi = 0; fi < c->main.n_files; fi++) {
        rec_reader r;
        AMEIR_TRY(rec_open(&r, st->paths[fi], c->main.sep, c->main.quote && c->main.format == DSRC_DELIMITED, 0));
        char *s;
        size_t len;
        int got;
        int64_t k = 0;
        while ((got = rec_next_line(&r, &s, &len)) > 0 &&
               (got = prep_rows_of_line(&c->main, fi, r.path, r.first_line, s, &k)) >= 0)
            n += k;
        rec_close(&r);
        AMEIR_TRY(got);
    }
    st->n_rows = n;
    return stream_split_rows(st, n, 0, n);
}

/* The in-memory prep's shuffle (the same draws) on 32-bit indexes of all rows; one byte per
 * row of this rank is kept. */
int stream_split_rows(stream *st, int64_t n, int64_t first, int64_t count) {
    const dcfg *c = st->c;
    if (n >= ((int64_t)1 << 32))
        return ameir_fail(AMEIR_EINVAL, "%s: %lld rows: a random split streams at most 2^32 rows", c->path,
                          (long long)n);
    uint32_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    st->split = malloc((size_t)(count ? count : 1));
    if (!order || !st->split) {
        free(order);
        return ameir_fail(AMEIR_ENOMEM, "out of memory for the split of %lld rows", (long long)n);
    }
    for (int64_t r = 0; r < n; r++)
        order[r] = (uint32_t)r;
    ameir_rng rng = ameir_rng_stream(c->seed, 0x5b1170);
    for (size_t i = (size_t)n; i > 1; i--) { /* ameir_rng_shuffle_i64's draws */
        size_t j = (size_t)ameir_rng_below(&rng, i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    int64_t n0 = (int64_t)floor(c->fractions[0] * (double)n);
    int64_t n1 = (int64_t)floor(c->fractions[1] * (double)n);
    for (int64_t i = 0; i < n; i++)
        if (order[i] >= first && order[i] < first + count)
            st->split[order[i] - first] = (int8_t)(i < n0 ? 0 : i < n0 + n1 ? 1 : 2);
    free(order);
    return 0;
}

static int push_entry(stream *st, int fi, int64_t at, int32_t e) {
    if (at == st->bent_cap[fi]) {
        int64_t cap = at ? 2 * at : (int64_t)BLOCK * 2;
        int32_t *p = realloc(st->bent[fi], (size_t)cap * sizeof *p);
        if (!p)
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        st->bent[fi] = p;
        st->bent_cap[fi] = cap;
    }
    st->bent[fi][at] = e;
    return 0;
}

int stream_user_id(stream *st, const char *u, int64_t *id) {
    int32_t *v = strmap_get(&st->users, u);
    if (!v) {
        const char *k = arena_strdup(&st->arena, u, strlen(u));
        int added;
        if (!k || !(v = strmap_put(&st->users, k, (int64_t)st->users.n, &added)))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
    }
    *id = *v;
    return 0;
}

/* The key of block row r's cell: a cell of the main table lies in btext, padded. */
static void cell_key(const stream *st, int r, int col, strmap_key *k) {
    if (col < DCFG_MAX_COLS)
        strmap_key_of_padded(k, stream_cell(st, r, col));
    else
        strmap_key_of(k, stream_cell(st, r, col));
}

#define AHEAD 32 /* rows between a slot's prefetch and its lookup; what it points to comes half-way */

/* A single-valued categorical field over the block: its value is the cell itself, so every
 * row's key is known first and each lookup's slot, key and count are prefetched rows ahead. */
static int intern_cells(stream *st, int fi, int nb) {
    const dcfg *c = st->c;
    svocab *v = &st->fv[fi];
    strmap_key *k = st->bkey;
    for (int r = 0; r < nb; r++)
        cell_key(st, r, v->col, &k[r]);
    for (int r = 0; r < nb && r < AHEAD; r++)
        vocab_prefetch(&v->voc, &k[r], 0);
    if (v->width < 1)
        v->width = 1;
    for (int r = 0; r < nb; r++) {
        if (r + AHEAD < nb)
            vocab_prefetch(&v->voc, &k[r + AHEAD], 0);
        if (r + AHEAD / 2 < nb)
            vocab_prefetch(&v->voc, &k[r + AHEAD / 2], 1);
        int32_t e = 0;
        int counted = !st->seq && (c->vocab_all || st->bsplit[r] == 0);
        AMEIR_TRY(vocab_intern_k(&v->voc, &st->arena, &k[r], counted, &e));
        AMEIR_TRY(push_entry(st, fi, r, e));
        st->boff[fi][r + 1] = r + 1;
    }
    return 0;
}

/* A numeric field or one with a date transform: its value is a function of the cell alone,
 * so the entries of short cells met recently are remembered (a small direct-mapped table)
 * and their parse, binning and second lookup skipped. A cell is remembered only once it was
 * read without error. */
static int intern_derived(stream *st, int fi, int nb) {
    const dcfg *c = st->c;
    svocab *v = &st->fv[fi];
    const char *vals[MAX_VALUES];
    char buf[256];
    if (!v->memo) {
        if (!(v->memo = malloc(MEMO * sizeof *v->memo)))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        for (int i = 0; i < MEMO; i++)
            v->memo[i].entry = -1;
    }
    if (v->width < 1)
        v->width = 1;
    for (int r = 0; r < nb; r++) {
        int counted = !st->seq && (c->vocab_all || st->bsplit[r] == 0);
        strmap_key k;
        cell_key(st, r, v->col, &k);
        cell_memo *m = &v->memo[k.h & (MEMO - 1)];
        int32_t e = 0;
        if (k.len <= 8 && m->entry >= 0 && m->word == k.word && m->len == k.len) {
            e = m->entry;
            v->voc.count[e] += counted;
        } else {
            int n = 0;
            AMEIR_TRY(row_values(st, fi, r, vals, buf, sizeof buf, &n));
            AMEIR_ASSERT(n == 1);
            AMEIR_TRY(vocab_intern(&v->voc, &st->arena, vals[0], counted, &e));
            if (k.len <= 8)
                *m = (cell_memo){k.word, (uint32_t)k.len, e};
        }
        AMEIR_TRY(push_entry(st, fi, r, e));
        st->boff[fi][r + 1] = r + 1;
    }
    return 0;
}

/* Field by field over the block (values interned, counted on vocabulary rows), then the
 * block's rows spilled in order. */
static int process_block(stream *st) {
    const dcfg *c = st->c;
    const char *vals[MAX_VALUES];
    char buf[8192];
    int nb = st->nblk;
    for (int r = 0; r < nb && st->seq; r++)
        AMEIR_TRY(stream_seq_event(st, r));
    for (int fi = 0; fi < c->n_fields; fi++) {
        svocab *v = &st->fv[fi];
        if (!st->boff[fi] && !(st->boff[fi] = malloc((BLOCK + 1) * sizeof *st->boff[fi])))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        int32_t at = 0;
        st->boff[fi][0] = 0;
        const dcfg_field *f = &c->fields[fi];
        if (f->kind == DF_CATEGORICAL && !f->n_flags && !f->parse[0]) {
            AMEIR_TRY(intern_cells(st, fi, nb));
            continue;
        }
        if ((f->kind == DF_NUMERIC || f->parse[0]) && f->kind != DF_MULTI && !f->n_flags) {
            AMEIR_TRY(intern_derived(st, fi, nb));
            continue;
        }
        for (int r = 0; r < nb; r++) {
            /* seq: the split is known after the sort; counted then */
            int n = 0, counted = !st->seq && (c->vocab_all || st->bsplit[r] == 0);
            AMEIR_TRY(row_values(st, fi, r, vals, buf, sizeof buf, &n));
            if (n > v->width)
                v->width = n;
            for (int i = 0; i < n; i++) {
                int32_t e = 0;
                AMEIR_TRY(vocab_intern(&v->voc, &st->arena, vals[i], counted, &e));
                AMEIR_TRY(push_entry(st, fi, at++, e));
            }
            st->boff[fi][r + 1] = at;
        }
    }
    for (int r = 0; r < nb; r++) {
        int split = st->bsplit[r];
        st->rows[split] += !st->seq;
        st->positives[split] += !st->seq && st->blab[r] > 0.5f;
        int64_t uid = -1; /* a row's user, as the shards hold it */
        if (st->user_col >= 0) {
            AMEIR_TRY(stream_user_id(st, stream_cell(st, r, st->user_col), &uid));
            if (st->seq && st->size == 1) { /* over ranks the users are merged first */
                prep_event_key key = {uid, st->btime[r], st->done_rows};
                AMEIR_TRY(xsort_add(&st->by_user, &key));
            }
        }
        AMEIR_TRY(stream_spill_row(st, r, uid));
        st->done_rows++;
    }
    st->nblk = 0;
    st->bused = 0;
    return 0;
}

/* Ids in order of first appearance among values seen min_freq times (the in-memory rule). */
int stream_assign_ids(stream *st) {
    const dcfg *c = st->c;
    ameir_schema *s = &st->schema;
    prep_schema_begin(s, c);
    for (int fi = 0; fi < c->n_fields; fi++) {
        svocab *v = &st->fv[fi];
        int32_t next = 0;
        AMEIR_TRY(vocab_assign_ids(&v->voc, c->min_freq, NULL, &v->id, &st->vocab[fi], &next));
        s->fields[fi].vocab = next;
        prep_schema_place_field(s, c, fi, v->width);
    }
    return stream_items_alloc(st);
}

int stream_items_alloc(stream *st) {
    const ameir_schema *s = &st->schema;
    if (s->item_field >= 0) {
        st->n_items = s->fields[s->item_field].vocab;
        st->items = calloc((size_t)st->n_items * (size_t)s->item_width, sizeof *st->items);
        if (!st->items)
            return ameir_fail(AMEIR_ENOMEM, "out of memory for the item table");
        st->items[s->item_width + s->fields[s->item_field].item_offset] = 1; /* OOV: only the id is known */
    }
    return 0;
}

static int flush(stream *st, int sp) {
    prep_rows r = {st->bx[sp], NULL, st->blabel[sp], st->buser[sp], NULL};
    int rc = st->size > 1 ? stream_part_append(st, sp, &r, st->nb[sp])
                          : prep_split_writer_append(&st->w[sp], &r, st->nb[sp]);
    st->nb[sp] = 0;
    return rc;
}

int stream_row_ids(stream *st, const spilled_row *row, int32_t *x) {
    const ameir_schema *s = &st->schema;
    memset(x, 0, (size_t)s->x_width * sizeof *x);
    for (int fi = 0; fi < s->n_fields; fi++) {
        const ameir_field *f = &s->fields[fi];
        for (int i = 0; i < row->n[fi] && i < f->width; i++)
            x[f->offset + i] = st->fv[fi].id[row->ent[fi][i]];
    }
    if (s->item_field >= 0) { /* an item's attributes: those of its first row */
        const ameir_field *itf = &s->fields[s->item_field];
        int32_t id = x[itf->offset];
        int32_t *it = st->items + (int64_t)id * s->item_width;
        if (id >= 2 && !it[itf->item_offset])
            for (int fi = 0; fi < s->n_fields; fi++) {
                const ameir_field *f = &s->fields[fi];
                if (f->is_item)
                    memcpy(it + f->item_offset, x + f->offset, (size_t)f->width * sizeof *it);
            }
    }
    return 0;
}

/* Pass 2: one spilled row -> ids -> the batch of its split. */
static int write_row(stream *st, spilled_row *row) {
    AMEIR_TRY(stream_read_spilled(st, row));
    int split = row->split, k = st->nb[split];
    AMEIR_TRY(stream_row_ids(st, row, st->bx[split] + (int64_t)k * st->schema.x_width));
    st->blabel[split][k] = row->label;
    st->buser[split][k] = row->user;
    if (++st->nb[split] == STREAM_BATCH)
        return flush(st, split);
    return 0;
}

/* The spill closed and removed (it lives only while prep runs). */
static void spill_close(stream *st) {
    if (!st->spill)
        return;
    fclose(st->spill);
    st->spill = NULL;
    remove(st->spill_path);
}

static void stream_free(stream *st) {
    for (int fi = 0; fi < AMEIR_MAX_FIELDS; fi++) {
        svocab *v = &st->fv[fi];
        vocab_count_free(&v->voc);
        free(v->memo);
        free(v->id);
        free(st->vocab[fi]);
    }
    for (int sp = 0; sp < 3; sp++) {
        free(st->bx[sp]);
        free(st->blabel[sp]);
        free(st->buser[sp]);
    }
    strmap_destroy(&st->users);
    arena_free(&st->arena);
    free(st->split);
    free(st->items);
    free(st->btext);
    free(st->bcell);
    free(st->bjrow);
    free(st->sbuf);
    for (int j = 0; j < DCFG_MAX_JOINS; j++) {
        rawtable_destroy(&st->joins[j]);
        strmap_destroy(&st->join_map[j]);
    }
    xsort_free(&st->by_user);
    for (int fi = 0; fi < AMEIR_MAX_FIELDS; fi++) {
        free(st->bent[fi]);
        free(st->boff[fi]);
    }
    spill_close(st);
}

/* Pass 2's buffers and, alone, the split writers. */
static int open_outputs(stream *st, prep_dir *d, int *open) {
    const dcfg *c = st->c;
    const ameir_schema *s = &st->schema;
    for (int sp = 0; sp < 3; sp++) {
        st->bx[sp] = malloc((size_t)STREAM_BATCH * (size_t)s->x_width * sizeof *st->bx[sp]);
        st->blabel[sp] = malloc(STREAM_BATCH * sizeof *st->blabel[sp]);
        st->buser[sp] = malloc(STREAM_BATCH * sizeof *st->buser[sp]);
        if (!st->bx[sp] || !st->blabel[sp] || !st->buser[sp])
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        if (st->size > 1)
            AMEIR_TRY(stream_part_open(st, d, sp));
        else {
            AMEIR_TRY(prep_split_writer_open(&st->w[sp], d, s, c, sp, st->rows[sp]));
            *open = sp + 1;
        }
    }
    return 0;
}

/* Pass 2: the spill read back, rows encoded into the writers (alone) or the parts. */
static int pass2(stream *st, prep_dir *d) {
    int rc = 0, open = 0;
    rc = stream_spill_rewind(st);
    if (rc >= 0)
        rc = open_outputs(st, d, &open);
    spilled_row *row = malloc(sizeof *row);
    if (!row && rc >= 0)
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int64_t r = 0; r < st->n_rows && rc >= 0; r++) {
        rc = write_row(st, row);
        if (((r + 1) & 0xfffff) == 0 && st->rank == 0)
            prep_progress("prep pass 2 (rows)", r + 1, 0);
    }
    free(row);
    if (st->rank == 0)
        prep_progress("prep pass 2 (rows)", st->n_rows, 1);
    for (int sp = 0; sp < 3 && rc >= 0; sp++)
        if ((rc = flush(st, sp)) >= 0 && st->size == 1)
            rc = prep_split_writer_close(&st->w[sp]);
    if (rc < 0)
        for (int sp = 0; sp < open; sp++)
            prep_split_writer_abort(&st->w[sp]);
    spill_close(st);
    return rc;
}

/* Every rank goes through the same steps and agrees on the status after each, so a failure
 * on one rank ends all of them at the same point. */
static int passes(stream *st, prep_dir *d) {
    const dcfg *c = st->c;
    int rc = 0;
    int64_t total = 0;
    snprintf(st->spill_path, sizeof st->spill_path, "%s/rows-%d.tmp", d->tmp, st->rank);
    st->spill = fopen(st->spill_path, "w+b");
    if (!st->spill)
        rc = ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", st->spill_path, strerror(errno));
    else if (!(st->sbuf = malloc(SPILL_BUF)))
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (rc >= 0)
        rc = stream_slices(st);
    if (st->size > 1) {
        AMEIR_TRY(prep_agree(st->peers, rc));
        AMEIR_TRY(stream_count_ranks(st, &total));
        if (c->split == DSPLIT_RANDOM && !st->seq) /* sorted: stream_seq_split_init */
            rc = stream_split_rows(st, total, st->row_base, st->n_rows);
    } else if (rc >= 0 && c->split == DSPLIT_RANDOM && !st->seq) {
        rc = random_split(st);
    }
    if (rc >= 0 && st->seq && st->size == 1) /* (user, time, row) of each event: 24 bytes, sorted in chunks of 128 MB */
        rc = stream_sort_init(st, &st->by_user, sizeof(prep_event_key), prep_cmp_user_time, d, "user");
    if (rc >= 0)
        rc = pass1(st);
    if (st->size > 1) {
        AMEIR_TRY(prep_agree(st->peers, rc));
        if (st->seq) {
            rc = stream_seq_rows(st, d);
            spill_close(st);
            return stream_shards_ranks(st, d, rc);
        }
        AMEIR_TRY(stream_merge_ranks(st));
        return stream_shards_ranks(st, d, pass2(st, d));
    }
    AMEIR_TRY(rc);
    if (!st->n_rows)
        return ameir_fail(AMEIR_EDATA, "%s: no rows", st->paths[0]);
    if (st->seq) {
        rc = stream_seq_rows(st, d);
        spill_close(st);
        return rc;
    }
    AMEIR_TRY(prep_check_splits(c, st->rows, st->positives));
    AMEIR_TRY(stream_assign_ids(st));
    return pass2(st, d);
}

static int stream_run(stream *st, const char *source_dir, const char *out_dir) {
    const dcfg *c = st->c;
    for (int i = 0; i < c->main.n_files; i++) {
        if (strlen(source_dir) > 255 || strlen(c->main.files[i].path) > 254)
            return ameir_fail(AMEIR_EINVAL, "%s/%s: path too long", source_dir, c->main.files[i].path);
        snprintf(st->paths[i], DCFG_PATH, "%.255s/%.254s", source_dir, c->main.files[i].path);
    }
    if (c->main.format == DSRC_SEQUENCE) { /* key, item and position, as rawtable_read names them */
        snprintf(st->names[0], DCFG_NAME, "%s", c->main.columns[0]);
        snprintf(st->names[1], DCFG_NAME, "%s", c->main.columns[1]);
        snprintf(st->names[2], DCFG_NAME, "%s", c->main.position);
        st->n_names = 3;
    }
    for (int fi = 0; fi < c->n_fields; fi++)
        if (strmap_init(&st->fv[fi].voc.map, 1024))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (strmap_init(&st->users, 1024))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int j = 0; j < c->n_joins; j++)
        AMEIR_TRY(rawtable_read_join(c, j, source_dir, &st->joins[j], &st->join_map[j]));
    /* rank 0 makes the temporary directory; the others write their spills and parts into it */
    prep_dir d;
    int rc = st->rank == 0 ? prep_dir_begin(&d, c, out_dir) : 0;
    if (st->size > 1) {
        AMEIR_TRY(prep_agree(st->peers, rc));
        AMEIR_TRY(st->peers->bcast(st->peers->ctx, &d, sizeof d));
    }
    AMEIR_TRY(rc);
    rc = passes(st, &d);
    if (rc < 0) {
        spill_close(st);
        stream_parts_close(st);
        /* every rank has agreed on the failure: once each has removed its own files, rank 0
         * removes the directory */
        if (st->size > 1)
            prep_agree(st->peers, 0);
        if (st->rank == 0)
            prep_dir_abort(&d);
        return rc;
    }
    const ameir_schema *s = &st->schema;
    prep_summary sum = {s, {st->rows[0], st->rows[1], st->rows[2]},
                        {st->positives[0], st->positives[1], st->positives[2]}, st->items, st->n_items,
                        c->user_column[0] ? (int64_t)st->users.n : 0, (const char *const *const *)st->vocab, NULL};
    rc = st->rank == 0 ? prep_dir_finish(&d, &sum, c) : 0;
    return prep_agree(st->peers, rc);
}

int prep_stream(const dcfg *c, const char *source_dir, const char *out_dir, const ameir_prep_peers *peers,
                int64_t rows[3], ameir_schema *schema) {
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    st->c = c;
    st->seq = !prep_can_stream(c);
    st->peers = peers;
    st->rank = peers ? peers->rank : 0;
    st->size = peers ? peers->size : 1;
    int rc = stream_run(st, source_dir, out_dir);
    if (rc >= 0) {
        memcpy(rows, st->rows, sizeof st->rows);
        *schema = st->schema;
    }
    if (rc >= 0 && st->rank == 0) {
        ameir_log(AMEIR_LOG_INFO, "prep %s: streamed %lld rows %s%s%s", c->name,
                  (long long)(st->size > 1 ? st->rows[0] + st->rows[1] + st->rows[2] : st->n_rows),
                  st->seq ? "sorted by user and time (external sort)" : "in two passes",
                  c->split == DSPLIT_RANDOM && !st->seq ? " (after counting them)" : "",
                  st->size > 1 ? " over the ranks" : "");
    }
    stream_ranks_free(st);
    stream_free(st);
    free(st);
    return rc;
}
