/* The streaming prep over several ranks (ameir_prep_ranks). Rank r reads the rows that
 * begin in the r-th of size equal byte ranges of the concatenated input (a gzip or quoted
 * file is read whole by the rank where it begins), so the ranks' rows, taken in rank order,
 * are the input's rows in order. That makes every merge an exact copy of the serial rule:
 * vocabularies and users merged rank by rank give first appearance in the whole input, the
 * item table takes each item from the lowest rank that saw it, and shard k of a split holds
 * the same rows. Output is byte-identical for any number of ranks. Each step ends with every
 * rank agreeing on the status (prep_agree), so one rank's bad row ends all of them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ameir/error.h"
#include "ameir/pack.h"
#include "stream_internal.h"

static int is_gzip(const char *path) {
    unsigned char m[2] = {0, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(m, 1, 2, f);
    fclose(f);
    return got == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

int stream_slices(stream *st) {
    const dcfg *c = st->c;
    int nf = c->main.n_files;
    int64_t size[DCFG_MAX_FILES], total = 0;
    int whole[DCFG_MAX_FILES];
    for (int fi = 0; fi < nf; fi++) {
        st->mine[fi] = 1;
        st->start[fi] = 0;
        st->stop[fi] = -1;
        st->line_base[fi] = 0;
        if (st->size == 1)
            continue;
        struct stat sb;
        if (stat(st->paths[fi], &sb) < 0)
            return ameir_fail(AMEIR_ENOENT, "%s: missing source file (%s)", st->paths[fi], strerror(errno));
        size[fi] = (int64_t)sb.st_size;
        whole[fi] = (c->main.quote && c->main.format == DSRC_DELIMITED) || is_gzip(st->paths[fi]);
        total += size[fi];
    }
    if (st->size == 1)
        return 0;
    int64_t lo = total / st->size * st->rank + total % st->size * st->rank / st->size;
    int64_t hi = total / st->size * (st->rank + 1) + total % st->size * (st->rank + 1) / st->size;
    int last = st->rank == st->size - 1;
    for (int64_t fi = 0, f0 = 0; fi < nf; f0 += size[fi], fi++) { /* file fi holds bytes [f0, f0 + size) */
        if (whole[fi]) {
            st->mine[fi] = (f0 >= lo && f0 < hi) || (last && f0 >= hi);
            continue;
        }
        int64_t a = lo > f0 ? lo : f0, b = hi < f0 + size[fi] ? hi : f0 + size[fi];
        st->mine[fi] = a < b;
        st->start[fi] = a - f0;
        st->stop[fi] = b == f0 + size[fi] ? -1 : b - f0;
    }
    return 0;
}

/* Column names from the first file's header when this rank does not read its first line. */
static int read_names(stream *st) {
    const dcfg *c = st->c;
    if (st->n_names || c->main.n_columns || !c->main.n_files)
        return 0;
    row_reader rr;
    int rc = row_open(&rr, &c->main, 0, st->paths[0], st->names, &st->n_names);
    if (rc >= 0)
        rc = row_next(&rr);
    row_close(&rr);
    return rc < 0 ? rc : 0;
}

/* Rows (as pass 1 takes them) and lines of this rank's part of file fi. */
static int count_slice(stream *st, int fi, int64_t *rows, int64_t *lines) {
    const dcfg *c = st->c;
    rec_reader r;
    /* a slice that starts inside the file has no header: number its lines far from 1 */
    int64_t base = st->start[fi] > 0 ? (int64_t)1 << 50 : 0;
    if (st->start[fi] == 0 && st->stop[fi] < 0)
        AMEIR_TRY(rec_open(&r, st->paths[fi], c->main.sep, c->main.quote && c->main.format == DSRC_DELIMITED, 0));
    else
        AMEIR_TRY(rec_open_at(&r, st->paths[fi], c->main.sep, 0, st->start[fi], st->stop[fi]));
    r.line = base;
    char *s;
    size_t len;
    int got;
    int64_t k = 0;
    while ((got = rec_next_line(&r, &s, &len)) > 0 &&
           (got = prep_rows_of_line(&c->main, fi, r.path, r.first_line, s, &k)) >= 0)
        *rows += k;
    *lines = r.line - base;
    rec_close(&r);
    return got;
}

int stream_count_ranks(stream *st, int64_t *total) {
    const dcfg *c = st->c;
    int nf = c->main.n_files, k = 1 + nf;
    int64_t mine[1 + DCFG_MAX_FILES] = {0};
    int rc = read_names(st);
    for (int fi = 0; fi < nf && rc >= 0; fi++)
        if (st->mine[fi])
            rc = count_slice(st, fi, &mine[0], &mine[1 + fi]);
    AMEIR_TRY(prep_agree(st->peers, rc));
    int64_t *all = malloc((size_t)st->size * (size_t)k * sizeof *all);
    if (!all)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    rc = st->peers->allgather_i64(st->peers->ctx, mine, k, all);
    *total = 0;
    for (int r = 0; r < st->size && rc >= 0; r++) {
        if (r < st->rank) {
            st->row_base += all[(size_t)r * k];
            for (int fi = 0; fi < nf; fi++)
                st->line_base[fi] += all[(size_t)r * k + 1 + fi];
        }
        *total += all[(size_t)r * k];
    }
    st->n_rows = mine[0];
    free(all);
    return rc;
}

/* Users' slots in local id order (the map holds string -> id). */
static const strmap_slot **users_by_id(const stream *st) {
    const strmap_slot **u = malloc((st->users.n ? st->users.n : 1) * sizeof *u);
    for (size_t i = 0; u && i < st->users.cap; i++)
        if (st->users.slots[i].tag)
            u[st->users.slots[i].val] = &st->users.slots[i];
    return u;
}

/* Rank r > 0: its users in local order. */
static int pack_users(const stream *st, ameir_pack *p) {
    const strmap_slot **u = users_by_id(st);
    if (!u)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    ameir_pack_i64(p, (int64_t)st->users.n);
    char buf[9];
    for (size_t i = 0; i < st->users.n; i++)
        ameir_pack_str(p, strmap_slot_key(u[i], buf));
    free(u);
    return p->failed ? ameir_fail(AMEIR_ENOMEM, "out of memory for the vocabularies") : 0;
}

/* Rank r > 0: every field's entries (count, string) in local order, then the users (unless
 * merged before). */
static int pack_entries(const stream *st, ameir_pack *p) {
    const dcfg *c = st->c;
    for (int fi = 0; fi < c->n_fields; fi++) {
        const vocab_count *v = &st->fv[fi].voc;
        ameir_pack_i64(p, v->n);
        for (int64_t e = 0; e < v->n; e++) {
            ameir_pack_i64(p, v->count[e]);
            ameir_pack_str(p, v->str[e]);
        }
    }
    return st->users_merged ? 0 : pack_users(st, p);
}

static int merge_users(stream *st, ameir_unpack *u, int64_t **gusers, int64_t *nloc);

/* Rank 0: rank r's entries into the merged vocabularies and users; glob[fi] (and gusers)
 * get, per local entry, the merged entry. */
static int merge_entries(stream *st, ameir_unpack *u, int32_t **glob, int64_t **gusers, int64_t *nloc) {
    const dcfg *c = st->c;
    for (int fi = 0; fi < c->n_fields; fi++) {
        vocab_count *v = &st->fv[fi].voc;
        int64_t n = ameir_unpack_i64(u);
        if (u->failed || n < 0 || n > (int64_t)u->len)
            return ameir_fail(AMEIR_EINTERNAL, "vocabulary exchange: bad entry count %lld", (long long)n);
        nloc[fi] = n;
        if (!(glob[fi] = malloc((size_t)(n ? n : 1) * sizeof *glob[fi])))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        for (int64_t e = 0; e < n; e++) {
            int64_t count = ameir_unpack_i64(u);
            char *s = ameir_unpack_strdup(u);
            if (!s)
                return ameir_fail(AMEIR_EINTERNAL, "vocabulary exchange: truncated");
            int32_t g = 0;
            int rc = vocab_intern(v, &st->arena, s, 0, &g);
            free(s);
            AMEIR_TRY(rc);
            v->count[g] += count;
            glob[fi][e] = g;
        }
    }
    if (!st->users_merged)
        AMEIR_TRY(merge_users(st, u, gusers, &nloc[c->n_fields]));
    return ameir_unpack_finish(u, "vocabulary exchange");
}

/* Rank 0: rank r's users into the merged ones; (*gusers)[i] = the merged id of its user i. */
static int merge_users(stream *st, ameir_unpack *u, int64_t **gusers, int64_t *nloc) {
    int64_t n = ameir_unpack_i64(u);
    if (u->failed || n < 0 || n > (int64_t)u->len)
        return ameir_fail(AMEIR_EINTERNAL, "vocabulary exchange: bad user count %lld", (long long)n);
    *nloc = n;
    if (!(*gusers = malloc((size_t)(n ? n : 1) * sizeof **gusers)))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        char *s = ameir_unpack_strdup(u);
        if (!s)
            return ameir_fail(AMEIR_EINTERNAL, "vocabulary exchange: truncated");
        int rc = stream_user_id(st, s, &(*gusers)[i]);
        free(s);
        AMEIR_TRY(rc);
    }
    return 0;
}

/* Rank 0 with every rank's entries: the merge, ids, schema, and each rank's ids to send. */
static int merge_on_root(stream *st, const unsigned char *all, const size_t *sizes, ameir_pack *maps) {
    const dcfg *c = st->c;
    int nf = c->n_fields, rc = 0;
    int64_t total = st->rows[0] + st->rows[1] + st->rows[2];
    if (!total)
        return ameir_fail(AMEIR_EDATA, "%s: no rows", st->paths[0]);
    AMEIR_TRY(prep_check_splits(c, st->rows, st->positives));
    int32_t **glob = calloc((size_t)st->size * (size_t)nf, sizeof *glob);
    int64_t **gusers = calloc((size_t)st->size, sizeof *gusers);
    int64_t *nloc = calloc((size_t)st->size * (size_t)(nf + 1), sizeof *nloc);
    if (!glob || !gusers || !nloc)
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
    size_t off = sizes[0];
    for (int r = 1; r < st->size && rc >= 0; r++) {
        ameir_unpack u;
        ameir_unpack_init(&u, all + off, sizes[r]);
        rc = merge_entries(st, &u, glob + (size_t)r * nf, &gusers[r], nloc + (size_t)r * (nf + 1));
        off += sizes[r];
    }
    if (rc >= 0)
        rc = stream_assign_ids(st);
    for (int r = 1; r < st->size && rc >= 0; r++) {
        ameir_pack *p = &maps[r];
        for (int fi = 0; fi < nf; fi++) {
            const int32_t *id = st->fv[fi].id;
            for (int64_t e = 0; e < nloc[(size_t)r * (nf + 1) + fi]; e++) {
                int32_t v = id[glob[(size_t)r * nf + fi][e]];
                ameir_pack_bytes(p, &v, sizeof v);
            }
        }
        if (!st->users_merged)
            ameir_pack_bytes(p, gusers[r], (size_t)nloc[(size_t)r * (nf + 1) + nf] * sizeof *gusers[r]);
        if (p->failed)
            rc = ameir_fail(AMEIR_ENOMEM, "out of memory for the ids of rank %d", r);
    }
    for (int r = 0; glob && r < st->size * nf; r++)
        free(glob[r]);
    for (int r = 0; gusers && r < st->size; r++)
        free(gusers[r]);
    free(glob);
    free(gusers);
    free(nloc);
    return rc;
}

static int take_users(stream *st, ameir_unpack *u);

/* Rank r > 0: the ids of its own entries and users, from rank 0. */
static int take_ids(stream *st, const unsigned char *mine, size_t n) {
    const dcfg *c = st->c;
    ameir_unpack u;
    ameir_unpack_init(&u, mine, n);
    for (int fi = 0; fi < c->n_fields; fi++) {
        svocab *v = &st->fv[fi];
        if (!(v->id = malloc((size_t)(v->voc.n ? v->voc.n : 1) * sizeof *v->id)))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        ameir_unpack_bytes(&u, v->id, (size_t)v->voc.n * sizeof *v->id);
    }
    if (!st->users_merged)
        AMEIR_TRY(take_users(st, &u));
    return ameir_unpack_finish(&u, "ids from rank 0");
}

/* Rank r > 0: the merged id of each of its users. */
static int take_users(stream *st, ameir_unpack *u) {
    if (!(st->user_map = malloc((st->users.n ? st->users.n : 1) * sizeof *st->user_map)))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    ameir_unpack_bytes(u, st->user_map, st->users.n * sizeof *st->user_map);
    return 0;
}

int stream_merge_users(stream *st) {
    const ameir_prep_peers *p = st->peers;
    ameir_pack out, *maps = calloc((size_t)st->size, sizeof *maps);
    ameir_pack_init(&out);
    size_t *sizes = calloc((size_t)st->size, sizeof *sizes);
    int64_t **gusers = calloc((size_t)st->size, sizeof *gusers), n = 0;
    int rc = maps && sizes && gusers ? 0 : ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (rc >= 0 && st->rank > 0)
        rc = pack_users(st, &out);
    void *all = NULL;
    int got = p->gather(p->ctx, out.data, rc < 0 ? 0 : out.len, &all, sizes);
    rc = prep_agree(p, rc >= 0 ? got : rc);
    size_t off = sizes ? sizes[0] : 0;
    for (int r = 1; r < st->size && rc >= 0 && st->rank == 0; r++) { /* in rank order: first appearance */
        ameir_unpack u;
        ameir_unpack_init(&u, (unsigned char *)all + off, sizes[r]);
        off += sizes[r];
        if ((rc = merge_users(st, &u, &gusers[r], &n)) >= 0)
            rc = ameir_unpack_finish(&u, "user exchange");
        ameir_pack_bytes(&maps[r], gusers[r], (size_t)n * sizeof *gusers[r]);
        if (rc >= 0 && maps[r].failed)
            rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
    }
    free(all);
    rc = prep_agree(p, rc);
    if (rc >= 0) {
        void **parts = calloc((size_t)st->size, sizeof *parts), *own = NULL;
        size_t len = 0;
        for (int r = 0; r < st->size && parts; r++) {
            parts[r] = maps[r].data;
            sizes[r] = maps[r].len;
        }
        rc = parts ? p->scatter(p->ctx, parts, sizes, &own, &len) : ameir_fail(AMEIR_ENOMEM, "out of memory");
        if (rc >= 0 && st->rank > 0) {
            ameir_unpack u;
            ameir_unpack_init(&u, own, len);
            if ((rc = take_users(st, &u)) >= 0)
                rc = ameir_unpack_finish(&u, "user ids from rank 0");
        }
        free(own);
        free(parts);
    }
    int64_t users = (int64_t)st->users.n; /* rank 0 holds them all now */
    if (rc >= 0)
        rc = p->bcast(p->ctx, &users, sizeof users);
    st->n_users = users;
    st->users_merged = 1;
    for (int r = 0; gusers && r < st->size; r++)
        free(gusers[r]);
    for (int r = 0; maps && r < st->size; r++)
        ameir_pack_destroy(&maps[r]);
    free(gusers);
    free(maps);
    free(sizes);
    ameir_pack_destroy(&out);
    return prep_agree(p, rc);
}

int stream_merge_ranks(stream *st) {
    const dcfg *c = st->c;
    const ameir_prep_peers *p = st->peers;
    int nf = c->n_fields, k = 6 + nf, rc = 0;
    int64_t mine[6 + AMEIR_MAX_FIELDS];
    for (int sp = 0; sp < 3; sp++) {
        mine[sp] = st->rows[sp];
        mine[3 + sp] = st->positives[sp];
    }
    for (int fi = 0; fi < nf; fi++)
        mine[6 + fi] = st->fv[fi].width;
    int64_t *all = malloc((size_t)st->size * (size_t)k * sizeof *all);
    st->split_rows = malloc((size_t)st->size * 3 * sizeof *st->split_rows);
    if (!all || !st->split_rows) {
        free(all);
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    }
    rc = p->allgather_i64(p->ctx, mine, k, all);
    for (int sp = 0; sp < 3 && rc >= 0; sp++) {
        st->rows[sp] = st->positives[sp] = 0;
        for (int r = 0; r < st->size; r++) {
            st->split_rows[r * 3 + sp] = all[(size_t)r * k + sp];
            st->rows[sp] += all[(size_t)r * k + sp];
            st->positives[sp] += all[(size_t)r * k + 3 + sp];
        }
    }
    for (int fi = 0; fi < nf && rc >= 0; fi++)
        for (int r = 0; r < st->size; r++)
            if (all[(size_t)r * k + 6 + fi] > st->fv[fi].width)
                st->fv[fi].width = (int)all[(size_t)r * k + 6 + fi];
    free(all);
    AMEIR_TRY(rc);

    ameir_pack out;
    ameir_pack_init(&out);
    if (st->rank > 0)
        rc = pack_entries(st, &out);
    void *gathered = NULL;
    size_t *sizes = calloc((size_t)st->size, sizeof *sizes);
    ameir_pack *maps = calloc((size_t)st->size, sizeof *maps);
    if (!sizes || !maps)
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
    /* a rank that failed to pack still takes part in the gather, with no bytes */
    int got = p->gather(p->ctx, out.data, rc < 0 ? 0 : out.len, &gathered, sizes);
    ameir_pack_destroy(&out);
    if (rc >= 0)
        rc = got;
    rc = prep_agree(p, rc);
    if (rc >= 0 && st->rank == 0)
        rc = merge_on_root(st, gathered, sizes, maps);
    free(gathered);
    rc = prep_agree(p, rc);
    if (rc >= 0) {
        void **parts = calloc((size_t)st->size, sizeof *parts);
        void *own = NULL;
        size_t n = 0;
        if (!parts)
            rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        for (int r = 0; r < st->size && parts; r++) {
            parts[r] = maps[r].data;
            sizes[r] = maps[r].len;
        }
        if (rc >= 0)
            rc = p->scatter(p->ctx, parts, sizes, &own, &n);
        if (rc >= 0 && st->rank > 0)
            rc = take_ids(st, own, n);
        free(own);
        free(parts);
        if (rc >= 0)
            rc = p->bcast(p->ctx, &st->schema, sizeof st->schema);
        if (rc >= 0 && st->rank > 0)
            rc = stream_items_alloc(st);
        rc = prep_agree(p, rc);
    }
    for (int r = 0; maps && r < st->size; r++)
        ameir_pack_destroy(&maps[r]);
    free(maps);
    free(sizes);
    return rc;
}

/* A part record: x, label, user, then the history (seq_len ids) and the candidates of a seq
 * task (zeros in train) when the schema has them. */
static size_t hist_bytes(const stream *st) { return (size_t)st->schema.seq_len * sizeof(int32_t); }
static size_t cand_bytes(const stream *st) {
    return st->schema.task == AMEIR_TASK_SEQ ? (size_t)st->schema.n_candidates * sizeof(int32_t) : 0;
}
static size_t part_record(const stream *st) {
    return (size_t)st->schema.x_width * sizeof(int32_t) + sizeof(float) + sizeof(int64_t) + hist_bytes(st) + cand_bytes(st);
}

int stream_part_open(stream *st, const prep_dir *d, int sp) {
    snprintf(st->part_path[sp], sizeof st->part_path[sp], "%s/part-%d-%d.tmp", d->tmp, sp, st->rank);
    if (!(st->part[sp] = fopen(st->part_path[sp], "w+b")))
        return ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", st->part_path[sp], strerror(errno));
    if (!st->part_buf && !(st->part_buf = malloc(STREAM_BATCH * part_record(st))))
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    return 0;
}

int stream_part_append(stream *st, int sp, const prep_rows *r, int64_t n) {
    size_t rs = part_record(st), xb = (size_t)st->schema.x_width * sizeof(int32_t);
    for (int64_t i = 0; i < n; i++) {
        unsigned char *q = st->part_buf + (size_t)i * rs;
        memcpy(q, r->x + i * st->schema.x_width, xb);
        memcpy(q + xb, &r->label[i], sizeof(float));
        memcpy(q + xb + sizeof(float), &r->user[i], sizeof(int64_t));
        q += xb + sizeof(float) + sizeof(int64_t);
        if (hist_bytes(st))
            memcpy(q, r->hist + i * st->schema.seq_len, hist_bytes(st));
        q += hist_bytes(st);
        if (r->cand)
            memcpy(q, r->cand + i * st->schema.n_candidates, cand_bytes(st));
        else
            memset(q, 0, cand_bytes(st));
    }
    if (n && fwrite(st->part_buf, rs, (size_t)n, st->part[sp]) != (size_t)n)
        return ameir_fail(AMEIR_EIO, "%s: write failed (disk full?)", st->part_path[sp]);
    return 0;
}

void stream_parts_close(stream *st) {
    for (int sp = 0; sp < 3; sp++) {
        if (st->part[sp])
            fclose(st->part[sp]);
        st->part[sp] = NULL;
        if (st->part_path[sp][0])
            remove(st->part_path[sp]);
        st->part_path[sp][0] = '\0';
    }
}

/* Rank 0: the item tables of ranks 1.. merged in rank order (an item's row from the first
 * rank that saw it, as the serial pass 2 takes the first row of the item). */
static int merge_items(stream *st) {
    const ameir_prep_peers *p = st->peers;
    const ameir_schema *s = &st->schema;
    if (s->item_field < 0)
        return 0;
    size_t bytes = (size_t)st->n_items * (size_t)s->item_width * sizeof(int32_t);
    void *all = NULL;
    size_t *sizes = calloc((size_t)st->size, sizeof *sizes);
    if (!sizes)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    int rc = p->gather(p->ctx, st->items, bytes, &all, sizes);
    int at = s->fields[s->item_field].item_offset, w = s->item_width;
    for (int r = 1; r < st->size && rc >= 0 && st->rank == 0; r++) {
        if (sizes[r] != bytes) {
            rc = ameir_fail(AMEIR_EINTERNAL, "item exchange: rank %d sent %zu bytes, expected %zu", r, sizes[r], bytes);
            break;
        }
        const int32_t *t = (const int32_t *)((const unsigned char *)all + bytes * (size_t)r);
        for (int64_t id = 2; id < st->n_items; id++)
            if (!st->items[id * w + at] && t[id * w + at])
                memcpy(st->items + id * w, t + id * w, (size_t)w * sizeof *t);
    }
    free(all);
    free(sizes);
    return rc;
}

/* Shard k of split sp from the parts of every rank that holds some of its rows. */
static int write_shard(stream *st, const prep_dir *d, int sp, int k) {
    const ameir_schema *s = &st->schema;
    prep_split_writer w;
    size_t rs = part_record(st), xb = (size_t)s->x_width * sizeof(int32_t);
    int32_t *x = malloc((size_t)STREAM_BATCH * xb + 1), *hist = malloc((size_t)STREAM_BATCH * hist_bytes(st) + 1);
    int32_t *cand = malloc((size_t)STREAM_BATCH * cand_bytes(st) + 1);
    float *label = malloc(STREAM_BATCH * sizeof *label);
    int64_t *user = malloc(STREAM_BATCH * sizeof *user);
    int rc = x && hist && cand && label && user ? prep_split_writer_open_shard(&w, d, s, st->c, sp, st->rows[sp], k)
                                                : ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (rc < 0) {
        free(x), free(hist), free(cand), free(label), free(user);
        return rc;
    }
    int64_t first = st->rows[sp] * k / st->c->shards, end = st->rows[sp] * (k + 1) / st->c->shards, base = 0;
    for (int q = 0; q < st->size && rc >= 0; q++) {
        int64_t n = st->split_rows[q * 3 + sp], lo = first > base ? first : base;
        int64_t hi = end < base + n ? end : base + n;
        if (lo < hi) {
            char path[DCFG_PATH * 2 + 32];
            snprintf(path, sizeof path, "%s/part-%d-%d.tmp", d->tmp, sp, q);
            FILE *f = fopen(path, "rb");
            if (!f || fseeko(f, (off_t)((size_t)(lo - base) * rs), SEEK_SET))
                rc = ameir_fail(AMEIR_EIO, "%s: cannot read (%s)", path, strerror(errno));
            for (int64_t at = lo; at < hi && rc >= 0;) {
                int64_t m = hi - at < STREAM_BATCH ? hi - at : STREAM_BATCH;
                if (fread(st->part_buf, rs, (size_t)m, f) != (size_t)m) {
                    rc = ameir_fail(AMEIR_EIO, "%s: short read (changed while prep ran?)", path);
                    break;
                }
                for (int64_t i = 0; i < m; i++) {
                    const unsigned char *r = st->part_buf + (size_t)i * rs;
                    memcpy(x + i * s->x_width, r, xb);
                    memcpy(&label[i], r + xb, sizeof(float));
                    memcpy(&user[i], r + xb + sizeof(float), sizeof(int64_t));
                    r += xb + sizeof(float) + sizeof(int64_t);
                    memcpy(hist + i * s->seq_len, r, hist_bytes(st));
                    memcpy(cand + i * s->n_candidates, r + hist_bytes(st), cand_bytes(st));
                }
                prep_rows rows = {x, s->seq_len > 0 ? hist : NULL, label, user,
                                  s->task == AMEIR_TASK_SEQ && sp > 0 ? cand : NULL};
                rc = prep_split_writer_append(&w, &rows, m);
                at += m;
            }
            if (f)
                fclose(f);
        }
        base += n;
    }
    free(x), free(hist), free(cand), free(label), free(user);
    if (rc >= 0)
        return prep_split_writer_close(&w);
    prep_split_writer_abort(&w);
    return rc;
}

int stream_shards_ranks(stream *st, const prep_dir *d, int rc) {
    for (int sp = 0; sp < 3; sp++)
        if (st->part[sp] && fclose(st->part[sp]) && rc >= 0)
            rc = ameir_fail(AMEIR_EIO, "%s: write failed (disk full?)", st->part_path[sp]);
    for (int sp = 0; sp < 3; sp++)
        st->part[sp] = NULL;
    AMEIR_TRY(prep_agree(st->peers, rc));
    rc = merge_items(st);
    AMEIR_TRY(prep_agree(st->peers, rc));
    int shards = st->c->shards;
    for (int g = st->rank; g < 3 * shards && rc >= 0; g += st->size)
        rc = write_shard(st, d, g / shards, g % shards);
    rc = prep_agree(st->peers, rc);
    stream_parts_close(st); /* every shard is written: the parts can go */
    return prep_agree(st->peers, rc);
}

void stream_ranks_free(stream *st) {
    stream_parts_close(st);
    free(st->user_map);
    free(st->split_rows);
    free(st->rank_row0);
    free(st->part_buf);
}
