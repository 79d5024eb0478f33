/* Model files: weights plus the arch, schema, dataset metadata, vocabularies and the
 * training record in one HDF5 file (layout in modelfile.h). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "ameir/check.h"
#include "ameir/error.h"
#include "ameir/fileio.h"
#include "ameir/modelfile.h"

/* ---- small HDF5 helpers: fixed-length strings as scalar datasets or attributes ---- */

static hid_t string_type(size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && H5Tset_size(t, len ? len : 1) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static int write_string(hid_t loc, const char *name, const char *text, int as_attribute) {
    size_t len = strlen(text);
    hid_t t = string_type(len), sp = H5Screate(H5S_SCALAR), obj = H5I_INVALID_HID;
    herr_t st = -1;
    if (t >= 0 && sp >= 0) {
        obj = as_attribute ? H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)
                           : H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (obj >= 0)
            st = as_attribute ? H5Awrite(obj, t, len ? text : "") : H5Dwrite(obj, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, len ? text : "");
    }
    if (obj >= 0)
        as_attribute ? H5Aclose(obj) : H5Dclose(obj);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    return st < 0 ? -1 : 0;
}

static int write_int_attr(hid_t loc, const char *name, long long v) {
    hid_t sp = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    herr_t st = -1;
    if (sp >= 0 && (a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        st = H5Awrite(a, H5T_NATIVE_LLONG, &v);
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return st < 0 ? -1 : 0;
}

/* Read a string dataset or attribute; returns a malloc'd copy or NULL. */
static char *read_string(hid_t loc, const char *name, int as_attribute) {
    char *out = NULL;
    hid_t obj = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    H5E_BEGIN_TRY {
        if (as_attribute ? H5Aexists(loc, name) > 0 : H5Lexists(loc, name, H5P_DEFAULT) > 0)
            obj = as_attribute ? H5Aopen(loc, name, H5P_DEFAULT) : H5Dopen2(loc, name, H5P_DEFAULT);
        if (obj >= 0)
            t = as_attribute ? H5Aget_type(obj) : H5Dget_type(obj);
        if (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
            size_t n = H5Tget_size(t);
            mt = string_type(n);
            out = calloc(n + 1, 1);
            if (out && mt >= 0 &&
                (as_attribute ? H5Aread(obj, mt, out) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, out)) < 0) {
                free(out);
                out = NULL;
            }
        }
        if (mt >= 0)
            H5Tclose(mt);
        if (t >= 0)
            H5Tclose(t);
        if (obj >= 0)
            as_attribute ? H5Aclose(obj) : H5Dclose(obj);
    }
    H5E_END_TRY;
    return out;
}

static int read_int_attr(hid_t loc, const char *name, long long *v) {
    int ok = -1;
    H5E_BEGIN_TRY {
        hid_t a = H5Aexists(loc, name) > 0 ? H5Aopen(loc, name, H5P_DEFAULT) : H5I_INVALID_HID;
        if (a >= 0) {
            ok = H5Aread(a, H5T_NATIVE_LLONG, v) < 0 ? -1 : 0;
            H5Aclose(a);
        }
    }
    H5E_END_TRY;
    return ok;
}

/* Close a group and a file on any path, without HDF5's error stack output. */
static void close_quietly(hid_t g, hid_t file) {
    H5E_BEGIN_TRY {
        if (g >= 0)
            H5Gclose(g);
        if (file >= 0)
            H5Fclose(file);
    }
    H5E_END_TRY;
}

/* ---- JSON descriptions ---- */

char *ameir_schema_to_json(const ameir_schema *s) {
    cJSON *o = cJSON_CreateObject(), *fields = NULL;
    char *text = NULL;
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "task", s->task == AMEIR_TASK_SEQ ? "seq" : "ctr");
    fields = cJSON_AddArrayToObject(o, "fields");
    for (int i = 0; fields && i < s->n_fields; i++) {
        cJSON *f = cJSON_CreateObject();
        if (!f)
            goto done;
        cJSON_AddItemToArray(fields, f);
        cJSON_AddStringToObject(f, "name", s->fields[i].name);
        cJSON_AddNumberToObject(f, "vocab", s->fields[i].vocab);
        cJSON_AddNumberToObject(f, "width", s->fields[i].width);
        cJSON_AddBoolToObject(f, "is_item", s->fields[i].is_item != 0);
    }
    cJSON_AddStringToObject(o, "item_field", s->item_field >= 0 ? s->fields[s->item_field].name : "");
    cJSON_AddNumberToObject(o, "seq_len", s->seq_len);
    cJSON_AddNumberToObject(o, "n_candidates", s->n_candidates);
    text = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    return text;
}

static void add_number(cJSON *o, const char *key, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

cJSON *ameir_metrics_to_cjson(const ameir_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    double v[AMEIR_N_METRIC_VALUES];
    ameir_metrics_get_values(m, v);
    for (int i = 0; i < AMEIR_N_METRIC_VALUES; i++) /* the values of its task */
        if (ameir_metric_value_task(i) == (m->task == AMEIR_TASK_SEQ ? AMEIR_TASK_SEQ : AMEIR_TASK_CTR))
            add_number(o, ameir_metric_value_name(i), v[i]);
    cJSON_AddNumberToObject(o, "rows", (double)m->rows);
    return o;
}

/* ---- saving ---- */

/* Copy the dataset directory's vocabulary files (names containing "vocab") into /vocab. */
static int save_vocabs(hid_t file, const char *path, const char *dir) {
    int rc = 0;
    hid_t g = H5I_INVALID_HID;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char fp[4096];
        struct stat st;
        if (!strstr(e->d_name, "vocab") || e->d_name[0] == '.')
            continue;
        snprintf(fp, sizeof fp, "%s/%s", dir, e->d_name);
        if (stat(fp, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (g < 0 && (g = H5Gcreate2(file, "vocab", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
            rc = ameir_fail(AMEIR_EHDF5, "%s: HDF5 failed to create group vocab", path);
            break;
        }
        char *buf = NULL;
        size_t len = 0;
        if ((rc = ameir_file_read(fp, &buf, &len)) < 0)
            break;
        hsize_t dims[1] = {(hsize_t)len};
        hid_t sp = H5Screate_simple(1, dims, NULL);
        hid_t ds = sp >= 0 ? H5Dcreate2(g, e->d_name, H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
        herr_t w = ds >= 0 ? H5Dwrite(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
        if (ds >= 0)
            H5Dclose(ds);
        if (sp >= 0)
            H5Sclose(sp);
        free(buf);
        if (w < 0) {
            rc = ameir_fail(AMEIR_EHDF5, "%s: HDF5 failed to write vocab/%s", path, e->d_name);
            break;
        }
    }
    closedir(d);
    if (g >= 0)
        H5Gclose(g);
    return rc;
}

int ameir_model_save(const char *path, const ameir_net *net, const ameir_arch *arch, const ameir_dataset *ds, const char *record_json) {
    int rc = 0;
    hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
    char *arch_json = ameir_arch_to_json(arch);
    char *schema_json = ameir_schema_to_json(ameir_dataset_schema(ds));
    char hash[32];
    ameir_atomic_file w = {.f = NULL};
    const ameir_schema *s = ameir_dataset_schema(ds);
    if (!arch_json || !schema_json) {
        rc = ameir_fail(AMEIR_ENOMEM, "%s: describing the model", path);
        goto done;
    }
    if ((rc = ameir_atomic_begin(&w, path)) < 0)
        goto done;
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)ameir_arch_hash(arch));
    H5E_BEGIN_TRY { file = H5Fcreate(w.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT); }
    H5E_END_TRY;
    if (file < 0) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot create the model file (directory missing or not writable?)", w.tmp);
        goto done;
    }
    AMEIR_H5_CHECK(write_string(file, "format", AMEIR_MODEL_FORMAT, 1), rc, done, path, "write attribute format");
    AMEIR_H5_CHECK(write_int_attr(file, "format_version", AMEIR_MODEL_FORMAT_VERSION), rc, done, path, "write attribute format_version");
    AMEIR_H5_CHECK(write_int_attr(file, "d", ameir_net_dim(net)), rc, done, path, "write attribute d");
    AMEIR_H5_CHECK(write_int_attr(file, "task", s->task), rc, done, path, "write attribute task");
    AMEIR_H5_CHECK(write_string(file, "dataset_name", ameir_dataset_name(ds), 1), rc, done, path, "write attribute dataset_name");
    AMEIR_H5_CHECK(write_string(file, "arch_hash", hash, 1), rc, done, path, "write attribute arch_hash");
    AMEIR_H5_CHECK(write_string(file, "arch_json", arch_json, 0), rc, done, path, "write arch_json");
    AMEIR_H5_CHECK(write_string(file, "schema_json", schema_json, 0), rc, done, path, "write schema_json");
    AMEIR_H5_CHECK(write_string(file, "dataset_meta_json", ameir_dataset_meta_json(ds), 0), rc, done, path, "write dataset_meta_json");
    AMEIR_H5_CHECK(write_string(file, "train_record_json", record_json ? record_json : "{}", 0), rc, done, path, "write train_record_json");
    AMEIR_H5_CHECK(g = H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), rc, done, path, "create group model");
    if ((rc = ameir_net_save(net, g)) < 0)
        goto done;
    if ((rc = save_vocabs(file, path, ameir_dataset_dir(ds))) < 0)
        goto done;
    H5Gclose(g);
    g = H5I_INVALID_HID;
    AMEIR_H5_CHECK(H5Fclose(file), rc, done, path, "close the file");
    file = H5I_INVALID_HID;
    rc = ameir_atomic_commit(&w, NULL);
done:
    close_quietly(g, file);
    if (rc < 0)
        ameir_atomic_abort(&w);
    free(arch_json);
    free(schema_json);
    return rc;
}

/* ---- reading ---- */

void ameir_model_info_destroy(ameir_model_info *info) {
    free(info->arch_json);
    free(info->schema_json);
    free(info->meta_json);
    free(info->record_json);
    memset(info, 0, sizeof *info);
}

static hid_t open_model(const char *path) {
    hid_t f = H5I_INVALID_HID;
    if (access(path, R_OK) != 0) {
        ameir_fail(AMEIR_ENOENT, "%s: no such model file", path);
        return AMEIR_ENOENT;
    }
    H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (f < 0) {
        ameir_fail(AMEIR_EDATA, "%s: not an HDF5 file (expected a model file written by ameir train --out)", path);
        return AMEIR_EDATA;
    }
    return f;
}

int ameir_model_read_info(const char *path, ameir_model_info *info) {
    int rc = 0;
    long long version = 0, d = 0, task = 0;
    char *format = NULL, *name = NULL;
    memset(info, 0, sizeof *info);
    hid_t file = open_model(path);
    if (file < 0)
        return (int)file;
    format = read_string(file, "format", 1);
    if (!format || strcmp(format, AMEIR_MODEL_FORMAT) != 0) {
        rc = ameir_fail(AMEIR_EDATA, "%s: not an ameir model file (attribute format is %s%s%s, expected \"%s\")", path,
                        format ? "\"" : "", format ? format : "missing", format ? "\"" : "", AMEIR_MODEL_FORMAT);
        goto done;
    }
    if (read_int_attr(file, "format_version", &version) < 0 || version != AMEIR_MODEL_FORMAT_VERSION) {
        rc = ameir_fail(AMEIR_EDATA, "%s: model format version %lld, expected %d", path, version, AMEIR_MODEL_FORMAT_VERSION);
        goto done;
    }
    name = read_string(file, "dataset_name", 1);
    info->arch_json = read_string(file, "arch_json", 0);
    info->schema_json = read_string(file, "schema_json", 0);
    info->meta_json = read_string(file, "dataset_meta_json", 0);
    info->record_json = read_string(file, "train_record_json", 0);
    if (!name || !info->arch_json || !info->schema_json || !info->meta_json || !info->record_json ||
        read_int_attr(file, "d", &d) < 0 || read_int_attr(file, "task", &task) < 0) {
        rc = ameir_fail(AMEIR_EDATA, "%s: model file is missing its description (dataset_name, d, task, arch_json, schema_json, dataset_meta_json or train_record_json)", path);
        goto done;
    }
    snprintf(info->dataset_name, sizeof info->dataset_name, "%s", name);
    info->d = (int)d;
    info->task = (int)task;
    if ((rc = ameir_arch_parse(&info->arch, info->arch_json, path)) < 0)
        goto done;
done:
    H5E_BEGIN_TRY { H5Fclose(file); }
    H5E_END_TRY;
    free(format);
    free(name);
    if (rc < 0)
        ameir_model_info_destroy(info);
    return rc;
}

int ameir_model_check_dataset(const ameir_model_info *info, const char *model_path, const ameir_dataset *ds) {
    char *schema_json = ameir_schema_to_json(ameir_dataset_schema(ds));
    int rc = 0;
    if (!schema_json)
        return ameir_fail(AMEIR_ENOMEM, "describing the dataset schema");
    if (strcmp(info->dataset_name, ameir_dataset_name(ds)) != 0)
        rc = ameir_fail(AMEIR_EDATA, "model %s was trained on dataset '%s', but %s holds dataset '%s'", model_path,
                        info->dataset_name, ameir_dataset_dir(ds), ameir_dataset_name(ds));
    else if (strcmp(info->schema_json, schema_json) != 0)
        rc = ameir_fail(AMEIR_EDATA, "model %s was trained on dataset '%s' with schema %s, but %s holds dataset '%s' with schema %s",
                        model_path, info->dataset_name, info->schema_json, ameir_dataset_dir(ds), ameir_dataset_name(ds), schema_json);
    free(schema_json);
    return rc;
}

int ameir_model_open(const char *path, const ameir_dataset *ds, int max_batch, ameir_model_info *info, ameir_net **net_out) {
    int rc;
    ameir_net *net = NULL;
    hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
    *net_out = NULL;
    AMEIR_TRY(ameir_model_read_info(path, info));
    if ((rc = ameir_model_check_dataset(info, path, ds)) < 0)
        goto done;
    if ((rc = ameir_net_create(&net, &info->arch, ameir_dataset_schema(ds), info->d, max_batch, 0)) < 0)
        goto done;
    if ((file = open_model(path)) < 0) {
        rc = (int)file;
        goto done;
    }
    H5E_BEGIN_TRY { g = H5Gopen2(file, "model", H5P_DEFAULT); }
    H5E_END_TRY;
    if (g < 0) {
        rc = ameir_fail(AMEIR_EDATA, "%s: no group /model holding the weights", path);
        goto done;
    }
    if ((rc = ameir_net_load(net, g)) < 0)
        goto done;
    *net_out = net;
    net = NULL;
done:
    close_quietly(g, file);
    ameir_net_free(net);
    if (rc < 0)
        ameir_model_info_destroy(info);
    return rc;
}
