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

static int write_shard(const prep_out *o, const char *path, int sp, int64_t b, int64_t e, int shard) {
    const ameir_schema *s = &o->schema;
    const prep_split *ps = &o->split[sp];
    int64_t n = e - b;
    int rc = 0;
    hid_t f = create_file(path);
    if (f < 0)
        return ameir_fail(AMEIR_EHDF5, "%s: cannot create", path);
    hsize_t d2[2] = {(hsize_t)n, (hsize_t)s->x_width};
    if ((rc = write_ds(f, path, "x", H5T_NATIVE_INT32, 2, d2, ps->x + b * s->x_width)) < 0)
        goto done;
    if (s->seq_len) {
        hsize_t dh[2] = {(hsize_t)n, (hsize_t)s->seq_len};
        if ((rc = write_ds(f, path, "hist", H5T_NATIVE_INT32, 2, dh, ps->hist + b * s->seq_len)) < 0)
            goto done;
    }
    hsize_t d1[1] = {(hsize_t)n};
    if ((rc = write_ds(f, path, "label", H5T_NATIVE_FLOAT, 1, d1, ps->label + b)) < 0 ||
        (rc = write_ds(f, path, "user", H5T_NATIVE_INT64, 1, d1, ps->user + b)) < 0)
        goto done;
    if (ps->cand) {
        hsize_t dc[2] = {(hsize_t)n, (hsize_t)s->n_candidates};
        if ((rc = write_ds(f, path, "cand", H5T_NATIVE_INT32, 2, dc, ps->cand + b * s->n_candidates)) < 0)
            goto done;
    }
    if ((rc = write_attr_i64(f, path, "first_row", b)) < 0 || (rc = write_attr_i64(f, path, "shard", shard)) < 0 ||
        (rc = write_attr_i64(f, path, "schema_version", AMEIR_DATA_SCHEMA_VERSION)) < 0)
        goto done;
done:
    if (H5Fclose(f) < 0 && rc >= 0)
        rc = ameir_fail(AMEIR_EHDF5, "%s: cannot close", path);
    return rc;
}

static int write_items(const prep_out *o, const char *path) {
    int rc = 0;
    hid_t f = create_file(path);
    if (f < 0)
        return ameir_fail(AMEIR_EHDF5, "%s: cannot create", path);
    hsize_t d[2] = {(hsize_t)o->n_items, (hsize_t)o->schema.item_width};
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

static double positive_rate(const prep_split *ps) {
    double p = 0;
    for (int64_t i = 0; i < ps->n; i++)
        p += ps->label[i];
    return ps->n ? round(p / (double)ps->n * 1e6) / 1e6 : 0;
}

static cJSON *meta_json(const prep_out *o, const dcfg *c) {
    const ameir_schema *s = &o->schema;
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
        const prep_split *ps = &o->split[sp];
        cJSON *so = cJSON_AddObjectToObject(sj, dconfig_split_name(sp));
        cJSON_AddNumberToObject(so, "rows", (double)ps->n);
        cJSON_AddNumberToObject(so, "positive_rate", positive_rate(ps));
        cJSON *sh = cJSON_AddArrayToObject(so, "shards");
        for (int k = 0; k < c->shards; k++) {
            char name[64];
            int64_t b = ps->n * k / c->shards, e = ps->n * (k + 1) / c->shards;
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
    return remove(p);
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

int prep_write(const prep_out *o, const dcfg *c, const char *out_arg) {
    char out[DCFG_PATH * 2 - 32], tmp[DCFG_PATH * 2], old[DCFG_PATH * 2], path[DCFG_PATH * 3];
    int exists = 0, rc = 0;
    char *text = NULL;
    cJSON *meta = NULL, *vocab = NULL;
    /* "out/" must not put the temporary directory inside out */
    snprintf(out, sizeof out, "%s", out_arg);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = '\0';
    AMEIR_TRY(check_out(out, c->name, &exists));
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    snprintf(old, sizeof old, "%s.old-%ld", out, (long)getpid());
    rm_rf(tmp);
    if (mkdir_p(tmp))
        return ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
    for (int sp = 0; sp < 3; sp++) {
        const prep_split *ps = &o->split[sp];
        snprintf(path, sizeof path, "%s/%s", tmp, dconfig_split_name(sp));
        if (mkdir(path, 0755)) {
            rc = ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", path, strerror(errno));
            goto done;
        }
        for (int k = 0; k < c->shards; k++) {
            snprintf(path, sizeof path, "%s/%s/shard-%03d.h5", tmp, dconfig_split_name(sp), k);
            if ((rc = write_shard(o, path, sp, ps->n * k / c->shards, ps->n * (k + 1) / c->shards, k)) < 0)
                goto done;
        }
    }
    if (o->schema.item_field >= 0) {
        snprintf(path, sizeof path, "%s/items.h5", tmp);
        if ((rc = write_items(o, path)) < 0)
            goto done;
    }
    vocab = cJSON_CreateObject();
    for (int i = 0; i < o->schema.n_fields; i++) {
        cJSON *a = cJSON_AddArrayToObject(vocab, o->schema.fields[i].name);
        for (int v = 0; v < o->schema.fields[i].vocab; v++)
            cJSON_AddItemToArray(a, cJSON_CreateString(o->vocab[i][v]));
    }
    text = cJSON_PrintUnformatted(vocab);
    snprintf(path, sizeof path, "%s/vocab.json", tmp);
    if (!text) {
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = write_text(path, text)) < 0)
        goto done;
    free(text);
    meta = meta_json(o, c);
    text = cJSON_Print(meta);
    snprintf(path, sizeof path, "%s/meta.json", tmp);
    if (!text) {
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = write_text(path, text)) < 0) /* meta.json last: its presence marks a complete dataset */
        goto done;
    if (exists && rename(out, old)) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot move the old dataset aside (%s)", out, strerror(errno));
        goto done;
    }
    if (rename(tmp, out)) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot rename %s into place (%s)", out, tmp, strerror(errno));
        if (exists)
            rename(old, out);
        goto done;
    }
    if (exists)
        rm_rf(old);
done:
    free(text);
    cJSON_Delete(meta);
    cJSON_Delete(vocab);
    if (rc < 0)
        rm_rf(tmp);
    return rc;
}
