/* Opening a prepared dataset directory: meta.json -> schema, row counts, shard list;
 * items.h5 -> the item table. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/json.h"
#include "ameir/fileio.h"
#include "dataset_internal.h"
#include "prep_internal.h"

static int meta_int(const cJSON *o, const char *key, const char *path, const char *where, int64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return ameir_fail(AMEIR_EDATA, "%s: %s%s: expected a number", path, where, key);
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int meta_i32(const cJSON *o, const char *key, const char *path, const char *where, int *out) {
    int64_t v = 0;
    AMEIR_TRY(meta_int(o, key, path, where, &v));
    *out = (int)v;
    return 0;
}

static int parse_meta(ameir_dataset *ds, const cJSON *m, const char *path) {
    ameir_schema *s = &ds->schema;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(m, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "ameir-dataset"))
        return ameir_fail(AMEIR_EDATA, "%s: not an ameir dataset (format is not \"ameir-dataset\")", path);
    int64_t version = 0;
    AMEIR_TRY(meta_int(m, "schema_version", path, "", &version));
    if (version != AMEIR_DATA_SCHEMA_VERSION)
        return ameir_fail(AMEIR_ESCHEMA,
                          "%s: written with data schema version %lld, this build reads version %d; run ameir prep again",
                          path, (long long)version, AMEIR_DATA_SCHEMA_VERSION);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(m, "task");
    if (!cJSON_IsString(name) || !cJSON_IsString(task))
        return ameir_fail(AMEIR_EDATA, "%s: expected \"name\" and \"task\" strings", path);
    snprintf(ds->name, sizeof ds->name, "%s", name->valuestring);
    if (!strcmp(task->valuestring, "ctr"))
        s->task = AMEIR_TASK_CTR;
    else if (!strcmp(task->valuestring, "seq"))
        s->task = AMEIR_TASK_SEQ;
    else
        return ameir_fail(AMEIR_EDATA, "%s: task: expected \"ctr\" or \"seq\"", path);
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(m, "fields");
    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) < 1 || cJSON_GetArraySize(fields) > AMEIR_MAX_FIELDS)
        return ameir_fail(AMEIR_EDATA, "%s: fields: expected an array of 1 to %d fields", path, AMEIR_MAX_FIELDS);
    int x_width = 0, item_width = 0;
    for (const cJSON *f = fields->child; f; f = f->next) {
        ameir_field *d = &s->fields[s->n_fields];
        char where[48];
        snprintf(where, sizeof where, "fields[%d].", s->n_fields);
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(f, "name");
        if (!cJSON_IsString(fn) || strlen(fn->valuestring) >= sizeof d->name)
            return ameir_fail(AMEIR_EDATA, "%s: %sname: expected a string", path, where);
        snprintf(d->name, sizeof d->name, "%s", fn->valuestring);
        AMEIR_TRY(meta_i32(f, "vocab", path, where, &d->vocab));
        AMEIR_TRY(meta_i32(f, "width", path, where, &d->width));
        AMEIR_TRY(meta_i32(f, "offset", path, where, &d->offset));
        AMEIR_TRY(meta_i32(f, "item_offset", path, where, &d->item_offset));
        d->is_item = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "is_item"));
        if (d->vocab < 2 || d->width < 1 || d->offset != x_width || (d->is_item && d->item_offset != item_width))
            return ameir_fail(AMEIR_EDATA, "%s: %s: inconsistent vocab/width/offset", path, where);
        x_width += d->width;
        item_width += d->is_item ? d->width : 0;
        s->n_fields++;
    }
    AMEIR_TRY(meta_i32(m, "x_width", path, "", &s->x_width));
    AMEIR_TRY(meta_i32(m, "item_width", path, "", &s->item_width));
    AMEIR_TRY(meta_i32(m, "seq_len", path, "", &s->seq_len));
    AMEIR_TRY(meta_i32(m, "n_candidates", path, "", &s->n_candidates));
    AMEIR_TRY(meta_int(m, "n_items", path, "", &ds->n_items));
    if (s->x_width != x_width || s->item_width != item_width)
        return ameir_fail(AMEIR_EDATA, "%s: x_width/item_width disagree with the fields", path);
    s->item_field = -1;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(m, "item_field");
    if (cJSON_IsString(it)) {
        s->item_field = ameir_schema_find(s, it->valuestring);
        if (s->item_field < 0 || !s->fields[s->item_field].is_item)
            return ameir_fail(AMEIR_EDATA, "%s: item_field \"%s\" is not an item field", path, it->valuestring);
        if (ds->n_items != s->fields[s->item_field].vocab)
            return ameir_fail(AMEIR_EDATA, "%s: n_items differs from the item field's vocabulary", path);
    }
    if ((s->seq_len || s->task == AMEIR_TASK_SEQ) && s->item_field < 0)
        return ameir_fail(AMEIR_EDATA, "%s: a behaviour sequence needs item_field", path);
    const cJSON *splits = cJSON_GetObjectItemCaseSensitive(m, "splits");
    for (int sp = 0; sp < 3; sp++) {
        const char *sn = ameir_data_split_names[sp];
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(splits, sn);
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(so, "shards");
        char where[48];
        snprintf(where, sizeof where, "splits.%s.", sn);
        AMEIR_TRY(meta_int(so, "rows", path, where, &ds->rows[sp]));
        int n = cJSON_GetArraySize(sh);
        if (!cJSON_IsArray(sh) || n < 1)
            return ameir_fail(AMEIR_EDATA, "%s: %sshards: expected a non-empty array", path, where);
        ds->shards[sp] = calloc((size_t)n, sizeof *ds->shards[sp]);
        if (!ds->shards[sp])
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        ds->n_shards[sp] = n;
        int64_t sum = 0, k = 0;
        for (const cJSON *e = sh->child; e; e = e->next, k++) {
            const cJSON *file = cJSON_GetObjectItemCaseSensitive(e, "file");
            if (!cJSON_IsString(file) || strlen(file->valuestring) >= sizeof ds->shards[sp][k].file)
                return ameir_fail(AMEIR_EDATA, "%s: %sshards[%lld].file: expected a string", path, where, (long long)k);
            snprintf(ds->shards[sp][k].file, sizeof ds->shards[sp][k].file, "%s", file->valuestring);
            AMEIR_TRY(meta_int(e, "rows", path, where, &ds->shards[sp][k].rows));
            ds->shards[sp][k].first = sum;
            sum += ds->shards[sp][k].rows;
        }
        if (sum != ds->rows[sp])
            return ameir_fail(AMEIR_EDATA, "%s: %srows differs from the sum over its shards", path, where);
    }
    return 0;
}

/* The item table, (n_items, item_width) int32. */
static int read_items(ameir_dataset *ds) {
    char path[AMEIR_DATA_PATH + 16];
    snprintf(path, sizeof path, "%s/items.h5", ds->dir);
    size_t n = (size_t)ds->n_items * (size_t)ds->schema.item_width;
    ds->items = malloc((n ? n : 1) * sizeof *ds->items);
    if (!ds->items)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for the item table");
    hid_t f = H5I_INVALID_HID;
    H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (f < 0)
        return ameir_fail(AMEIR_ENOENT, "%s: cannot open the item table", path);
    int rc = ameir_data_read_rows(f, path, "items", H5T_NATIVE_INT32, ds->n_items, ds->schema.item_width, 0,
                                  ds->n_items, ds->items);
    H5Fclose(f);
    return rc;
}

int ameir_dataset_open(ameir_dataset **out, const char *dir) {
    *out = NULL;
    int rc = 0;
    char path[AMEIR_DATA_PATH + 16];
    cJSON *m = NULL;
    ameir_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    snprintf(ds->dir, sizeof ds->dir, "%s", dir);
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *text = NULL;
    size_t len = 0;
    if ((rc = ameir_file_read(path, &text, &len)) < 0) {
        if (rc == AMEIR_ENOENT)
            ameir_fail(rc, "%s: missing (not a prepared dataset; run ameir prep)", path);
        goto fail;
    }
    rc = ameir_json_parse(&m, text, len, path);
    free(text);
    if (rc < 0)
        goto fail;
    if ((rc = parse_meta(ds, m, path)) < 0)
        goto fail;
    ds->meta_text = cJSON_Print(m);
    if (!ds->meta_text) {
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        goto fail;
    }
    if (ds->schema.item_field >= 0 && (rc = read_items(ds)) < 0)
        goto fail;
    cJSON_Delete(m);
    *out = ds;
    return 0;
fail:
    cJSON_Delete(m);
    ameir_dataset_free(ds);
    return rc;
}

void ameir_dataset_free(ameir_dataset *ds) {
    if (!ds)
        return;
    for (int sp = 0; sp < 3; sp++)
        free(ds->shards[sp]);
    free(ds->items);
    free(ds->meta_text);
    free(ds);
}

const ameir_schema *ameir_dataset_schema(const ameir_dataset *ds) { return &ds->schema; }
const char *ameir_dataset_dir(const ameir_dataset *ds) { return ds->dir; }
const char *ameir_dataset_name(const ameir_dataset *ds) { return ds->name; }
const char *ameir_dataset_meta_json(const ameir_dataset *ds) { return ds->meta_text; }

int ameir_data_split_index(const char *split) {
    for (int sp = 0; sp < 3; sp++)
        if (split && !strcmp(split, ameir_data_split_names[sp]))
            return sp;
    return -1;
}

int64_t ameir_dataset_rows(const ameir_dataset *ds, const char *split) {
    int sp = ameir_data_split_index(split);
    return sp < 0 ? -1 : ds->rows[sp];
}

const int32_t *ameir_dataset_items(const ameir_dataset *ds, int64_t *n_items) {
    if (n_items)
        *n_items = ds->n_items;
    return ds->items;
}
