/* Writing a prepared dataset: HDF5 shards per split, the item table, vocabularies and
 * meta.json, all into a temporary directory renamed into place at the end. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ameir/dataset.h"
#include "ameir/check.h"
#include "ameir/error.h"
#include "ameir/fileio.h"
#include "ameir/log.h"
#include "prep_internal.h"

/* A dataset of rank 1..3 written in one call; no timestamps, so files are byte-identical. */
static int write_ds(hid_t file, const char *path, const char *name, hid_t type, int rank, const hsize_t *dims,
                    const void *data) {
    int rc = 0;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    hsize_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    AMEIR_H5_CHECK(space = H5Screate_simple(rank, dims, NULL), rc, done, path, name);
    AMEIR_H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), rc, done, path, name);
    AMEIR_H5_CHECK(H5Pset_obj_track_times(dcpl, 0), rc, done, path, name);
    AMEIR_H5_CHECK(ds = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), rc, done, path, name);
    if (total)
        AMEIR_H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), rc, done, path, name);
done:
    H5E_BEGIN_TRY {
        H5Dclose(ds);
        H5Pclose(dcpl);
        H5Sclose(space);
    }
    H5E_END_TRY;
    return rc;
}

static int write_attr_i64(hid_t file, const char *path, const char *name, int64_t v) {
    int rc = 0;
    hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID;
    AMEIR_H5_CHECK(space = H5Screate(H5S_SCALAR), rc, done, path, name);
    AMEIR_H5_CHECK(a = H5Acreate2(file, name, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT), rc, done, path, name);
    AMEIR_H5_CHECK(H5Awrite(a, H5T_NATIVE_INT64, &v), rc, done, path, name);
done:
    H5E_BEGIN_TRY {
        H5Aclose(a);
        H5Sclose(space);
    }
    H5E_END_TRY;
    return rc;
}

static hid_t create_file(const char *path) {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl < 0)
        return H5I_INVALID_HID;
    H5Pset_obj_track_times(fcpl, 0); /* the root group too */
    hid_t f = H5Fcreate(path, H5F_ACC_EXCL, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    return f;
}

/* The datasets of a shard, in the order they are created and first written: the file
 * layout depends on it, so a streamed shard has the bytes of one written at once. */
enum { SW_X, SW_HIST, SW_LABEL, SW_USER, SW_CAND, SW_N };

static void sw_dims(const prep_split_writer *w, int d, int64_t n, int *rank, hsize_t *dims, hid_t *type, int *on) {
    const ameir_schema *s = w->schema;
    dims[0] = (hsize_t)n;
    *rank = 2;
    *type = H5T_NATIVE_INT32;
    *on = 1;
    switch (d) {
    case SW_X: dims[1] = (hsize_t)s->x_width; break;
    case SW_HIST: dims[1] = (hsize_t)s->seq_len; *on = s->seq_len > 0; break;
    case SW_LABEL: *rank = 1; *type = H5T_NATIVE_FLOAT; break;
    case SW_USER: *rank = 1; *type = H5T_NATIVE_INT64; break;
    default: dims[1] = (hsize_t)s->n_candidates; *on = w->has_cand; break;
    }
}

static const char *const sw_names[SW_N] = {"x", "hist", "label", "user", "cand"};

static int sw_write(prep_split_writer *w, const prep_rows *r, int64_t n);

static int sw_close_shard(prep_split_writer *w) {
    const char *path = w->path;
    int rc = 0;
    if (w->file < 0)
        return 0;
    if ((rc = write_attr_i64(w->file, path, "first_row", w->first)) >= 0 &&
        (rc = write_attr_i64(w->file, path, "shard", w->shard)) >= 0)
        rc = write_attr_i64(w->file, path, "schema_version", AMEIR_DATA_SCHEMA_VERSION);
    H5E_BEGIN_TRY {
        for (int d = 0; d < SW_N; d++)
            if (w->ds[d] >= 0)
                H5Dclose(w->ds[d]);
    }
    H5E_END_TRY;
    if (H5Fclose(w->file) < 0 && rc >= 0)
        rc = ameir_fail(AMEIR_EHDF5, "%s: cannot close", path);
    w->file = H5I_INVALID_HID;
    return rc;
}

/* Open shard k (rows first.. of the split); a shard without rows is written whole here. */
static int sw_open_shard(prep_split_writer *w, int k) {
    int rc = 0;
    const char *path = w->path;
    snprintf(w->path, sizeof w->path, "%s/%s/shard-%03d.h5", w->dir, dconfig_split_name(w->split), k);
    w->shard = k;
    w->first = w->total * k / w->shards;
    w->end = w->total * (k + 1) / w->shards;
    w->done = w->first;
    for (int d = 0; d < SW_N; d++)
        w->ds[d] = H5I_INVALID_HID;
    w->file = create_file(path);
    if (w->file < 0)
        return ameir_fail(AMEIR_EHDF5, "%s: cannot create", path);
    if (w->end == w->first)
        rc = sw_write(w, NULL, 0);
    return rc;
}

static int sw_write(prep_split_writer *w, const prep_rows *r, int64_t n) {
    const char *path = w->path;
    int rc = 0;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    int64_t off = w->done - w->first;
    for (int d = 0; d < SW_N && rc >= 0; d++) {
        int rank, on;
        hsize_t dims[2], start[2] = {(hsize_t)off, 0}, count[2];
        hid_t type;
        sw_dims(w, d, w->end - w->first, &rank, dims, &type, &on);
        if (!on)
            continue;
        const void *src = !r                ? NULL
                          : d == SW_X       ? (const void *)r->x
                          : d == SW_HIST    ? (const void *)r->hist
                          : d == SW_LABEL   ? (const void *)r->label
                          : d == SW_USER    ? (const void *)r->user
                                            : (const void *)r->cand;
        if (w->ds[d] < 0) {
            AMEIR_H5_CHECK(space = H5Screate_simple(rank, dims, NULL), rc, done, path, sw_names[d]);
            AMEIR_H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), rc, done, path, sw_names[d]);
            AMEIR_H5_CHECK(H5Pset_obj_track_times(dcpl, 0), rc, done, path, sw_names[d]);
            AMEIR_H5_CHECK(w->ds[d] = H5Dcreate2(w->file, sw_names[d], type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                           rc, done, path, sw_names[d]);
            H5Sclose(space);
            H5Pclose(dcpl);
            space = dcpl = H5I_INVALID_HID;
        }
        if (n == 0)
            continue;
        count[0] = (hsize_t)n;
        count[1] = dims[1];
        if (n == w->end - w->first) {
            AMEIR_H5_CHECK(H5Dwrite(w->ds[d], type, H5S_ALL, H5S_ALL, H5P_DEFAULT, src), rc, done, path,
                           sw_names[d]);
            continue;
        }
        AMEIR_H5_CHECK(fs = H5Dget_space(w->ds[d]), rc, done, path, sw_names[d]);
        AMEIR_H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), rc, done, path,
                       sw_names[d]);
        AMEIR_H5_CHECK(ms = H5Screate_simple(rank, count, NULL), rc, done, path, sw_names[d]);
        AMEIR_H5_CHECK(H5Dwrite(w->ds[d], type, ms, fs, H5P_DEFAULT, src), rc, done, path, sw_names[d]);
        H5Sclose(ms);
        H5Sclose(fs);
        ms = fs = H5I_INVALID_HID;
    }
    w->done += n;
done:
    H5E_BEGIN_TRY {
        H5Sclose(ms);
        H5Sclose(fs);
        H5Pclose(dcpl);
        H5Sclose(space);
    }
    H5E_END_TRY;
    return rc;
}

/* A writer of shards k0..last of the split, shard k0 open. */
static int sw_begin(prep_split_writer *w, const prep_dir *d, const ameir_schema *s, const dcfg *c, int split,
                    int64_t total, int k0, int last) {
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", d->tmp);
    w->schema = s;
    w->split = split;
    w->shards = c->shards;
    w->last = last;
    w->total = total;
    w->has_cand = s->task == AMEIR_TASK_SEQ && split > 0;
    w->file = H5I_INVALID_HID;
    return sw_open_shard(w, k0);
}

int prep_split_writer_open(prep_split_writer *w, const prep_dir *d, const ameir_schema *s, const dcfg *c, int split,
                           int64_t total) {
    AMEIR_TRY(sw_begin(w, d, s, c, split, total, 0, c->shards - 1));
    /* shards before the first row-holding one are empty: written and closed now */
    while (w->shard < w->last && w->done == w->end) {
        AMEIR_TRY(sw_close_shard(w));
        AMEIR_TRY(sw_open_shard(w, w->shard + 1));
    }
    return 0;
}

int prep_split_writer_open_shard(prep_split_writer *w, const prep_dir *d, const ameir_schema *s, const dcfg *c,
                                 int split, int64_t total, int k) {
    return sw_begin(w, d, s, c, split, total, k, k);
}

int prep_split_writer_append(prep_split_writer *w, const prep_rows *r, int64_t n) {
    const ameir_schema *s = w->schema;
    int64_t at = 0;
    while (at < n) {
        if (w->done == w->end)
            return ameir_fail(AMEIR_EINVAL, "%s: more rows than counted for the %s split", w->dir,
                              dconfig_split_name(w->split));
        int64_t k = n - at < w->end - w->done ? n - at : w->end - w->done;
        prep_rows part = {r->x + at * s->x_width, r->hist ? r->hist + at * s->seq_len : NULL, r->label + at,
                          r->user + at, r->cand ? r->cand + at * s->n_candidates : NULL};
        AMEIR_TRY(sw_write(w, &part, k));
        at += k;
        while (w->done == w->end && w->shard < w->last) {
            AMEIR_TRY(sw_close_shard(w));
            AMEIR_TRY(sw_open_shard(w, w->shard + 1));
        }
    }
    return 0;
}

int prep_split_writer_close(prep_split_writer *w) {
    if (w->file >= 0 && w->done != w->end) {
        sw_close_shard(w);
        return ameir_fail(AMEIR_EINVAL, "%s: %lld rows of the %s split counted, %lld written", w->dir,
                          (long long)w->total, dconfig_split_name(w->split), (long long)w->done);
    }
    return sw_close_shard(w);
}

void prep_split_writer_abort(prep_split_writer *w) {
    if (w->file >= 0) {
        H5E_BEGIN_TRY { sw_close_shard(w); }
        H5E_END_TRY;
    }
}

static int write_items(const prep_summary *o, const char *path) {
    int rc = 0;
    hid_t f = create_file(path);
    if (f < 0)
        return ameir_fail(AMEIR_EHDF5, "%s: cannot create", path);
    hsize_t d[2] = {(hsize_t)o->n_items, (hsize_t)o->schema->item_width};
    rc = write_ds(f, path, "items", H5T_NATIVE_INT32, 2, d, o->items);
    if (H5Fclose(f) < 0 && rc >= 0)
        rc = ameir_fail(AMEIR_EHDF5, "%s: cannot close", path);
    return rc;
}

static int write_text(const char *path, const char *text) {
    ameir_atomic_file w;
    AMEIR_TRY(ameir_atomic_fopen(&w, path));
    fputs(text, w.f);
    fputc('\n', w.f);
    return ameir_atomic_commit(&w, NULL);
}

static double positive_rate(int64_t positives, int64_t rows) {
    return rows ? round((double)positives / (double)rows * 1e6) / 1e6 : 0;
}

static cJSON *meta_json(const prep_summary *o, const dcfg *c) {
    const ameir_schema *s = o->schema;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "ameir-dataset");
    cJSON_AddNumberToObject(m, "schema_version", AMEIR_DATA_SCHEMA_VERSION);
    cJSON_AddStringToObject(m, "name", c->name);
    cJSON_AddStringToObject(m, "task", s->task == AMEIR_TASK_SEQ ? "seq" : "ctr");
    cJSON_AddNumberToObject(m, "seed", (double)c->seed);
    cJSON *fa = cJSON_AddArrayToObject(m, "fields");
    for (int i = 0; i < s->n_fields; i++) {
        const ameir_field *f = &s->fields[i];
        cJSON *fo = cJSON_CreateObject();
        cJSON_AddStringToObject(fo, "name", f->name);
        cJSON_AddNumberToObject(fo, "vocab", f->vocab);
        cJSON_AddNumberToObject(fo, "width", f->width);
        cJSON_AddNumberToObject(fo, "offset", f->offset);
        cJSON_AddBoolToObject(fo, "is_item", f->is_item);
        cJSON_AddNumberToObject(fo, "item_offset", f->item_offset);
        cJSON_AddItemToArray(fa, fo);
    }
    cJSON_AddNumberToObject(m, "x_width", s->x_width);
    if (s->item_field >= 0)
        cJSON_AddStringToObject(m, "item_field", s->fields[s->item_field].name);
    else
        cJSON_AddNullToObject(m, "item_field");
    cJSON_AddNumberToObject(m, "item_width", s->item_width);
    cJSON_AddNumberToObject(m, "n_items", (double)o->n_items);
    cJSON_AddNumberToObject(m, "n_users", (double)o->n_users);
    cJSON_AddNumberToObject(m, "seq_len", s->seq_len);
    cJSON_AddNumberToObject(m, "n_candidates", s->n_candidates);
    cJSON *sj = cJSON_AddObjectToObject(m, "splits");
    for (int sp = 0; sp < 3; sp++) {
        cJSON *so = cJSON_AddObjectToObject(sj, dconfig_split_name(sp));
        cJSON_AddNumberToObject(so, "rows", (double)o->rows[sp]);
        cJSON_AddNumberToObject(so, "positive_rate", positive_rate(o->positives[sp], o->rows[sp]));
        cJSON *sh = cJSON_AddArrayToObject(so, "shards");
        for (int k = 0; k < c->shards; k++) {
            char name[64];
            int64_t b = o->rows[sp] * k / c->shards, e = o->rows[sp] * (k + 1) / c->shards;
            snprintf(name, sizeof name, "%s/shard-%03d.h5", dconfig_split_name(sp), k);
            cJSON *one = cJSON_CreateObject();
            cJSON_AddStringToObject(one, "file", name);
            cJSON_AddNumberToObject(one, "rows", (double)(e - b));
            cJSON_AddItemToArray(sh, one);
        }
    }
    cJSON_AddItemToObject(m, "config", cJSON_Duplicate(c->json, 1));
    if (o->truth)
        cJSON_AddItemToObject(m, "synthetic", cJSON_Duplicate(o->truth, 1));
    return m;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p) && errno != ENOENT; /* gone already: not a reason to stop */
}

static void rm_rf(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int mkdir_p(const char *dir) {
    char tmp[DCFG_PATH * 2];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/* --out may be new, empty, or hold the same dataset (same name), which is replaced. */
static int check_out(const char *out, const char *name, int *exists) {
    struct stat st;
    *exists = 0;
    if (stat(out, &st))
        return 0;
    if (!S_ISDIR(st.st_mode))
        return ameir_fail(AMEIR_EEXIST, "%s: exists and is not a directory", out);
    *exists = 1;
    char meta[DCFG_PATH * 2];
    snprintf(meta, sizeof meta, "%s/meta.json", out);
    char *buf = NULL;
    if (ameir_file_read(meta, &buf, NULL) < 0) {
        ameir_clear_error();
        if (rmdir(out) == 0) {
            *exists = 0;
            return 0; /* was empty */
        }
        return ameir_fail(AMEIR_EEXIST, "%s: exists and is not an ameir dataset (no meta.json); choose another --out",
                          out);
    }
    /* the name is near the top; a full parse is not needed to compare it */
    char want[DCFG_NAME + 16];
    snprintf(want, sizeof want, "\"name\":\t\"%s\"", name);
    int rc = 0;
    if (!strstr(buf, want)) {
        char *p = strstr(buf, "\"name\":");
        char other[DCFG_NAME] = "?";
        if (p && sscanf(p, "\"name\":\t\"%63[^\"]\"", other) != 1)
            snprintf(other, sizeof other, "?");
        rc = ameir_fail(AMEIR_EEXIST, "%s: holds another dataset (\"%s\", not \"%s\"); choose another --out", out,
                        other, name);
    }
    free(buf);
    return rc;
}

int prep_dir_begin(prep_dir *d, const dcfg *c, const char *out_arg) {
    char path[sizeof d->tmp + 16];
    memset(d, 0, sizeof *d);
    /* "out/" must not put the temporary directory inside out */
    snprintf(d->out, sizeof d->out, "%s", out_arg);
    for (size_t n = strlen(d->out); n > 1 && d->out[n - 1] == '/'; n--)
        d->out[n - 1] = '\0';
    AMEIR_TRY(check_out(d->out, c->name, &d->exists));
    snprintf(d->tmp, sizeof d->tmp, "%s.tmp-%ld", d->out, (long)getpid());
    snprintf(d->old, sizeof d->old, "%s.old-%ld", d->out, (long)getpid());
    rm_rf(d->tmp);
    if (mkdir_p(d->tmp))
        return ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", d->tmp, strerror(errno));
    d->made = 1;
    for (int sp = 0; sp < 3; sp++) {
        snprintf(path, sizeof path, "%s/%s", d->tmp, dconfig_split_name(sp));
        if (mkdir(path, 0755)) {
            int rc = ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", path, strerror(errno));
            prep_dir_abort(d);
            return rc;
        }
    }
    return 0;
}

void prep_dir_abort(prep_dir *d) {
    if (d->made)
        rm_rf(d->tmp);
    d->made = 0;
}

/* A JSON string as cJSON prints it (so vocab.json keeps its bytes): '"', '\\', the short
 * escapes, other control bytes as \u00XX, everything else as is. */
static void put_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 32)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* vocab.json written value by value: a vocabulary of millions never becomes a cJSON tree. */
static int write_vocab(const char *path, const ameir_schema *s, const char *const *const *vocab) {
    ameir_atomic_file w;
    AMEIR_TRY(ameir_atomic_fopen(&w, path));
    fputc('{', w.f);
    for (int i = 0; i < s->n_fields; i++) {
        if (i)
            fputc(',', w.f);
        put_json_string(w.f, s->fields[i].name);
        fputs(":[", w.f);
        for (int v = 0; v < s->fields[i].vocab; v++) {
            if (v)
                fputc(',', w.f);
            put_json_string(w.f, vocab[i][v]);
        }
        fputc(']', w.f);
    }
    fputs("}\n", w.f);
    return ameir_atomic_commit(&w, NULL);
}

int prep_dir_finish(prep_dir *d, const prep_summary *o, const dcfg *c) {
    char path[sizeof d->tmp + 16];
    int rc = 0;
    char *text = NULL;
    cJSON *meta = NULL;
    if (o->schema->item_field >= 0) {
        snprintf(path, sizeof path, "%s/items.h5", d->tmp);
        if ((rc = write_items(o, path)) < 0)
            goto done;
    }
    snprintf(path, sizeof path, "%s/vocab.json", d->tmp);
    if ((rc = write_vocab(path, o->schema, o->vocab)) < 0)
        goto done;
    meta = meta_json(o, c);
    text = cJSON_Print(meta);
    snprintf(path, sizeof path, "%s/meta.json", d->tmp);
    if (!text) {
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = write_text(path, text)) < 0) /* meta.json last: its presence marks a complete dataset */
        goto done;
    if (d->exists && rename(d->out, d->old)) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot move the old dataset aside (%s)", d->out, strerror(errno));
        goto done;
    }
    if (rename(d->tmp, d->out)) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot rename %s into place (%s)", d->out, d->tmp, strerror(errno));
        if (d->exists)
            rename(d->old, d->out);
        goto done;
    }
    d->made = 0;
    if (d->exists)
        rm_rf(d->old);
done:
    free(text);
    cJSON_Delete(meta);
    if (rc < 0)
        prep_dir_abort(d);
    return rc;
}

int prep_write(const prep_out *o, const dcfg *c, const char *out_dir) {
    prep_dir d;
    prep_summary sum = {&o->schema, {0, 0, 0}, {0, 0, 0}, o->items, o->n_items, o->n_users,
                        (const char *const *const *)o->vocab, o->truth};
    AMEIR_TRY(prep_dir_begin(&d, c, out_dir));
    int rc = 0;
    for (int sp = 0; sp < 3 && rc >= 0; sp++) {
        const prep_split *ps = &o->split[sp];
        prep_split_writer w;
        sum.rows[sp] = ps->n;
        for (int64_t i = 0; i < ps->n; i++)
            sum.positives[sp] += ps->label[i] > 0.5f;
        prep_rows rows = {ps->x, ps->hist, ps->label, ps->user, ps->cand};
        if ((rc = prep_split_writer_open(&w, &d, &o->schema, c, sp, ps->n)) >= 0 &&
            (rc = prep_split_writer_append(&w, &rows, ps->n)) >= 0)
            rc = prep_split_writer_close(&w);
        else
            prep_split_writer_abort(&w);
    }
    if (rc >= 0)
        rc = prep_dir_finish(&d, &sum, c);
    else
        prep_dir_abort(&d);
    return rc;
}
