/* RUN.h5: the search checkpoint (layout in docs/checkpoint-format.md).
 *
 * The file is written whole to RUN.h5.tmp, sealed (a CRC-32 of its bytes in the HDF5 user
 * block, ameir/seal.h) and synced, the old RUN.h5 kept as RUN.h5.prev, and the new one
 * renamed over RUN.h5, so a crash at any moment leaves a complete file. Reading checks the
 * seal before HDF5 parses a byte (damage is refused, never parsed), then every invariant
 * of the trial table (checkpoint_check.c). The controller is not stored as such: it is
 * rebuilt by replaying the trial table against the stored config, which also proves the
 * two agree. */
#include "ameir/search.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/check.h"
#include "ameir/error.h"
#include "ameir/fileio.h"
#include "ameir/log.h"
#include "ameir/rng.h"
#include "ameir/seal.h"
#include "checkpoint_priv.h"

#define N_METRICS (2 + AMEIR_N_METRIC_VALUES) /* task, rows, the values */
/* bytes a row takes at least: 12 integer and 2 float columns, 2 x N_METRICS floats */
#define MIN_ROW_BYTES ((12 + 2 + 2 * N_METRICS) * 8)
#define COLUMN_(f, task, hi) "," #f
static const char metric_columns[] = "task,rows" AMEIR_METRIC_VALUES(COLUMN_);
#undef COLUMN_

static void metrics_to_row(const ameir_metrics *m, double *row) {
    row[0] = m->task, row[1] = (double)m->rows;
    ameir_metrics_get_values(m, row + 2);
}

static void metrics_from_row(const double *row, ameir_metrics *m) {
    m->task = (int)row[0], m->rows = (int64_t)row[1];
    ameir_metrics_set_values(m, row + 2);
}

/* Buffers for one column of the trial table at a time (n rows, metrics n x N_METRICS). */
typedef struct columns {
    int64_t n;
    int64_t *col;
    double *f;
    char **arch; /* n strings, each malloc'ed */
} columns;

static int columns_alloc(columns *c, int64_t n, const char *file) {
    size_t nn = n ? (size_t)n : 1;
    c->n = n;
    c->col = malloc(nn * sizeof *c->col);
    c->f = malloc(nn * N_METRICS * sizeof *c->f);
    c->arch = calloc(nn, sizeof *c->arch);
    if (!c->col || !c->f || !c->arch)
        return ameir_fail(AMEIR_ENOMEM, "%s: out of memory for a table of %lld trials", file, (long long)n);
    return 0;
}

static void columns_free(columns *c) {
    for (int64_t i = 0; c->arch && i < c->n; i++)
        free(c->arch[i]);
    free(c->arch);
    free(c->f);
    free(c->col);
}

/* ---- writing ---- */

static hid_t vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* A dataset of rank 1 (dims[1] == 0) or 2. */
static herr_t write_array(hid_t loc, const char *name, hid_t mem_type, hid_t file_type, hsize_t n, hsize_t cols, const void *buf) {
    hsize_t dims[2] = {n, cols};
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL), d = H5I_INVALID_HID;
    herr_t st = -1;
    if (space < 0)
        return -1;
    d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0)
        st = n ? H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    return st;
}

static herr_t write_string(hid_t loc, const char *name, const char *s) {
    hid_t t = vlen_str_type(), space = H5Screate(H5S_SCALAR), d = H5I_INVALID_HID;
    herr_t st = -1;
    if (t >= 0 && space >= 0)
        d = H5Dcreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        st = H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s);
        H5Dclose(d);
    }
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    return st;
}

static herr_t write_strings(hid_t loc, const char *name, const char *const *v, hsize_t n) {
    hid_t t = vlen_str_type();
    if (t < 0)
        return -1;
    herr_t st = write_array(loc, name, t, t, n, 0, v);
    H5Tclose(t);
    return st;
}

static herr_t write_attr(hid_t loc, const char *name, hid_t type, const void *v) {
    hid_t space = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    herr_t st = -1;
    if (space >= 0)
        a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        st = H5Awrite(a, type, v);
        H5Aclose(a);
    }
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static herr_t write_attr_str(hid_t loc, const char *name, const char *s) {
    hid_t t = vlen_str_type();
    if (t < 0)
        return -1;
    herr_t st = write_attr(loc, name, t, &s);
    H5Tclose(t);
    return st;
}

static int write_trials(hid_t file, const char *tmp, const ameir_controller *ctl) {
    int64_t n = ameir_controller_n_trials(ctl);
    hid_t g = H5I_INVALID_HID;
    int rc = 0;
    int64_t *ic = NULL;       /* the 12 integer columns, n each */
    double *fc = NULL, *f = NULL, *ft = NULL; /* metric and seconds; the valid and test metrics */
    const char **arch = NULL; /* the controller's texts, printed when each trial was made */
    AMEIR_H5_CHECK(g = H5Gcreate2(file, "trials", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), rc, done, tmp, "/trials");
    /* one pass over the table gathers every column: a pass per column read each row (608
     * bytes apart) 16 times, and out of the cache once the table outgrew it */
    size_t nn = n ? (size_t)n : 1;
    ic = malloc(nn * 12 * sizeof *ic);
    fc = malloc(nn * 2 * sizeof *fc);
    f = malloc(nn * N_METRICS * sizeof *f);
    ft = malloc(nn * N_METRICS * sizeof *ft);
    arch = malloc(nn * sizeof *arch);
    if (!ic || !fc || !f || !ft || !arch) {
        rc = ameir_fail(AMEIR_ENOMEM, "%s: out of memory for a table of %lld trials", tmp, (long long)n);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        const ameir_trial *t = ameir_controller_trial(ctl, i);
        const int64_t v[12] = {t->id,     t->stage,  t->kind,  t->rung,   t->baseline, t->candidate,
                               t->budget, t->parent, t->status, t->steps, t->worker,   (int64_t)t->seed};
        for (int c = 0; c < 12; c++)
            ic[(size_t)c * nn + (size_t)i] = v[c];
        fc[i] = t->metric, fc[nn + (size_t)i] = t->seconds;
        metrics_to_row(&t->valid, f + i * N_METRICS);
        metrics_to_row(&t->test, ft + i * N_METRICS);
        arch[i] = ameir_controller_trial_json(ctl, t);
    }
    static const char *const names[] = {"id", "stage", "kind", "rung", "baseline", "candidate", "budget",
                                        "parent", "status", "steps", "worker"};
    for (int c = 0; c < 11; c++)
        AMEIR_H5_CHECK(write_array(g, names[c], H5T_NATIVE_INT64, H5T_STD_I64LE, (hsize_t)n, 0, ic + (size_t)c * nn), rc, done, tmp,
                       names[c]);
    AMEIR_H5_CHECK(write_array(g, "seed", H5T_NATIVE_UINT64, H5T_STD_U64LE, (hsize_t)n, 0, ic + 11 * nn), rc, done, tmp, "seed");
    AMEIR_H5_CHECK(write_array(g, "metric", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, (hsize_t)n, 0, fc), rc, done, tmp, "metric");
    AMEIR_H5_CHECK(write_array(g, "seconds", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, (hsize_t)n, 0, fc + nn), rc, done, tmp, "seconds");
    AMEIR_H5_CHECK(write_array(g, "valid", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, (hsize_t)n, N_METRICS, f), rc, done, tmp, "valid");
    AMEIR_H5_CHECK(write_array(g, "test", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, (hsize_t)n, N_METRICS, ft), rc, done, tmp, "test");
    AMEIR_H5_CHECK(write_strings(g, "arch", arch, (hsize_t)n), rc, done, tmp, "arch");
    AMEIR_H5_CHECK(write_attr_str(g, "metric_columns", metric_columns), rc, done, tmp, "metric_columns");
    /* the enums' names, index = stored value, so h5py users need not read the C headers */
    AMEIR_H5_CHECK(write_attr_str(g, "stage_names", "behavior,interaction,mlp,final"), rc, done, tmp, "stage_names");
    AMEIR_H5_CHECK(write_attr_str(g, "kind_names", "search,winner,baseline,supernet,scored"), rc, done, tmp, "kind_names");
    AMEIR_H5_CHECK(write_attr_str(g, "status_names", "pending,running,done,diverged,timeout"), rc, done, tmp, "status_names");
done:
    if (g >= 0)
        H5Gclose(g);
    free(ic);
    free(fc);
    free(f);
    free(ft);
    free(arch);
    return rc;
}

static int write_summary(hid_t file, const char *tmp, const ameir_search_config *cfg, const ameir_controller *ctl) {
    hid_t g = H5I_INVALID_HID;
    ameir_arch best;
    char *best_json = NULL;
    const char *fields[AMEIR_MAX_FIELDS];
    int64_t winners[AMEIR_N_STAGES];
    int rc = 0, stage = ameir_controller_stage(ctl), fds = cfg->interaction.fields_from_dataset;
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        winners[s] = ameir_controller_stage_winner(ctl, s);
    for (int f = 0; f < cfg->interaction.n_fields; f++)
        fields[f] = cfg->interaction.fields[f];
    ameir_controller_best_arch(ctl, &best);
    if (!(best_json = ameir_arch_to_json(&best))) {
        rc = ameir_fail(AMEIR_ENOMEM, "%s: out of memory", tmp);
        goto done;
    }
    AMEIR_H5_CHECK(g = H5Gcreate2(file, "controller", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), rc, done, tmp, "/controller");
    AMEIR_H5_CHECK(write_array(g, "stage_winners", H5T_NATIVE_INT64, H5T_STD_I64LE, AMEIR_N_STAGES, 0, winners), rc, done, tmp, "stage_winners");
    AMEIR_H5_CHECK(write_string(g, "best_arch", best_json), rc, done, tmp, "best_arch");
    AMEIR_H5_CHECK(write_attr(g, "stage", H5T_NATIVE_INT, &stage), rc, done, tmp, "stage");
    AMEIR_H5_CHECK(write_strings(g, "interaction_fields", fields, (hsize_t)cfg->interaction.n_fields), rc, done, tmp, "interaction_fields");
    AMEIR_H5_CHECK(write_attr(g, "fields_from_dataset", H5T_NATIVE_INT, &fds), rc, done, tmp, "fields_from_dataset");
done:
    if (g >= 0)
        H5Gclose(g);
    free(best_json);
    return rc;
}

/* A new id for each whole write, which the journal names to say what it follows. */
static uint64_t snapshot_id(int64_t n) {
    static uint64_t count;
    struct {
        double now;
        int64_t pid, n;
        uint64_t count;
    } seed = {ameir_now(), (int64_t)getpid(), n, ++count};
    return ameir_hash_bytes(&seed, sizeof seed);
}

int ameir_checkpoint_write(const char *path, const ameir_search_config *cfg, const ameir_controller *ctl) {
    char prev[AMEIR_PATH_MAX + 8];
    ameir_atomic_file w;
    hid_t file = H5I_INVALID_HID;
    int rc = 0, version = AMEIR_CHECKPOINT_VERSION, complete = 1;
    int64_t n = ameir_controller_n_trials(ctl);
    uint64_t snapshot = snapshot_id(n);
    if (snprintf(prev, sizeof prev, "%s.prev", path) >= (int)sizeof prev || ameir_atomic_begin(&w, path) < 0)
        return ameir_fail(AMEIR_EINVAL, "%s: checkpoint path too long", path);
    const char *tmp = w.tmp;
    const char *dataset = strrchr(cfg->data_dir, '/');
    dataset = dataset ? dataset + 1 : cfg->data_dir;

    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl < 0 || H5Pset_userblock(fcpl, AMEIR_SEAL_BLOCK) < 0) {
        if (fcpl >= 0)
            H5Pclose(fcpl);
        return ameir_fail(AMEIR_EHDF5, "%s: cannot set up the checkpoint's user block", tmp);
    }
    H5E_BEGIN_TRY { file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT); }
    H5E_END_TRY;
    H5Pclose(fcpl);
    if (file < 0)
        return ameir_fail(AMEIR_EIO, "%s: cannot create the checkpoint (directory missing or not writable?)", tmp);
    AMEIR_H5_CHECK(write_attr(file, "format_version", H5T_NATIVE_INT, &version), rc, done, tmp, "format_version");
    AMEIR_H5_CHECK(write_attr(file, "config_hash", H5T_NATIVE_UINT64, &cfg->hash), rc, done, tmp, "config_hash");
    AMEIR_H5_CHECK(write_attr_str(file, "config_origin", cfg->origin), rc, done, tmp, "config_origin");
    AMEIR_H5_CHECK(write_attr_str(file, "config_base_dir", cfg->base_dir), rc, done, tmp, "config_base_dir");
    AMEIR_H5_CHECK(write_attr_str(file, "dataset", dataset), rc, done, tmp, "dataset");
    AMEIR_H5_CHECK(write_attr_str(file, "data_dir", cfg->data_dir), rc, done, tmp, "data_dir");
    AMEIR_H5_CHECK(write_attr(file, "n_trials", H5T_NATIVE_INT64, &n), rc, done, tmp, "n_trials");
    AMEIR_H5_CHECK(write_attr(file, "journal_id", H5T_NATIVE_UINT64, &snapshot), rc, done, tmp, "journal_id");
    AMEIR_H5_CHECK(write_string(file, "config", cfg->text), rc, done, tmp, "/config");
    rc = write_trials(file, tmp, ctl);
    if (rc < 0)
        goto done;
    rc = write_summary(file, tmp, cfg, ctl);
    if (rc < 0)
        goto done;
    AMEIR_H5_CHECK(write_attr(file, "complete", H5T_NATIVE_INT, &complete), rc, done, tmp, "complete"); /* last: marks a whole file */
    AMEIR_H5_CHECK(H5Fclose(file), rc, done, tmp, "closing");
    file = H5I_INVALID_HID;
    if ((rc = ameir_seal_file(w.tmp)) < 0) /* the checksum in the user block */
        goto done;
    rc = ameir_atomic_commit(&w, prev); /* the old RUN.h5 stays as RUN.h5.prev */
    if (rc == 0) /* every result is in the snapshot now: the journal starts afresh after it */
        rc = ameir_journal_reset(path, cfg->hash, snapshot);
done:
    if (file >= 0) {
        H5E_BEGIN_TRY { H5Fclose(file); }
        H5E_END_TRY;
    }
    if (rc < 0)
        ameir_atomic_abort(&w);
    return rc;
}

/* ---- reading ---- */

typedef struct reader {
    const char *path;
    char hint[AMEIR_PATH_MAX + 96]; /* "; resume from PATH.prev ..." when that file exists */
} reader;

static int corrupt(const reader *rd, const char *what) {
    return ameir_fail(AMEIR_ECHECKPOINT, "%s: %s%s", rd->path, what, rd->hint);
}

static int read_attr(hid_t loc, const char *name, hid_t type, void *v) {
    herr_t st = -1;
    H5E_BEGIN_TRY {
        hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
        if (a >= 0) {
            st = H5Aread(a, type, v);
            H5Aclose(a);
        }
    }
    H5E_END_TRY;
    return st < 0 ? -1 : 0;
}

/* A variable-length string attribute into out (n bytes). */
static int read_attr_str(hid_t loc, const char *name, char *out, size_t n) {
    hid_t t = vlen_str_type();
    char *s = NULL;
    int st = t >= 0 ? read_attr(loc, name, t, &s) : -1;
    if (st == 0 && s) {
        snprintf(out, n, "%s", s);
        H5free_memory(s);
    } else {
        st = -1;
    }
    if (t >= 0)
        H5Tclose(t);
    return st;
}

/* A dataset of exactly n rows (and cols columns if cols > 0) into buf; -1 otherwise. */
static int read_array(hid_t loc, const char *name, hid_t mem_type, hsize_t n, hsize_t cols, void *buf) {
    int st = -1;
    H5E_BEGIN_TRY {
        hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
        hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
        hsize_t dims[2] = {0, 0};
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        if (rank == (cols ? 2 : 1) && H5Sget_simple_extent_dims(space, dims, NULL) >= 0 && dims[0] == n &&
            (!cols || dims[1] == cols))
            st = n == 0 || H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0 ? 0 : -1;
        if (space >= 0)
            H5Sclose(space);
        if (d >= 0)
            H5Dclose(d);
    }
    H5E_END_TRY;
    return st;
}

/* n variable-length strings (or a scalar one when scalar) duplicated with malloc into out. */
static int read_strings(hid_t loc, const char *name, hsize_t n, int scalar, char **out) {
    hid_t t = vlen_str_type();
    char **tmp = calloc(n ? n : 1, sizeof *tmp);
    int st = -1;
    if (t >= 0 && tmp) {
        H5E_BEGIN_TRY {
            hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
            hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
            hsize_t dims[1] = {0};
            int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
            int shape_ok = scalar ? rank == 0 : rank == 1 && H5Sget_simple_extent_dims(space, dims, NULL) >= 0 && dims[0] == n;
            if (shape_ok && (n == 0 || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) >= 0)) {
                st = 0;
                for (hsize_t i = 0; i < n; i++) {
                    out[i] = tmp[i] ? strdup(tmp[i]) : NULL;
                    if (!out[i])
                        st = -1;
                }
                if (n)
                    H5Dvlen_reclaim(t, space, H5P_DEFAULT, tmp);
            }
            if (space >= 0)
                H5Sclose(space);
            if (d >= 0)
                H5Dclose(d);
        }
        H5E_END_TRY;
    }
    free(tmp);
    if (t >= 0)
        H5Tclose(t);
    return st;
}

/* The trial table of an open checkpoint into recs (n rows, allocated by the caller), archs
 * packed with the name table of the controller they will be replayed into. */
static int read_trials(const reader *rd, hid_t file, const ameir_search_config *cfg, const ameir_arch_names *fields, int64_t n,
                       ameir_trial *recs) {
    static const char *const names[] = {"id", "stage", "kind", "rung", "baseline", "candidate", "budget",
                                        "parent", "status", "steps", "worker", "seed"};
    columns cols = {0};
    char msg[256];
    hid_t g = H5I_INVALID_HID;
    int rc = columns_alloc(&cols, n, rd->path);
    int64_t *col = cols.col;
    double *f = cols.f;
    char **arch = cols.arch;
    if (rc < 0)
        goto done;
    H5E_BEGIN_TRY { g = H5Gopen2(file, "trials", H5P_DEFAULT); }
    H5E_END_TRY;
    if (g < 0) {
        rc = corrupt(rd, "no /trials group (not a search checkpoint?)");
        goto done;
    }
    for (int c = 0; c < 12; c++) {
        if (read_array(g, names[c], c == 11 ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, (hsize_t)n, 0, col) < 0) {
            snprintf(msg, sizeof msg, "/trials/%s: missing, unreadable, or not %lld rows like n_trials says", names[c],
                     (long long)n);
            rc = corrupt(rd, msg);
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            ameir_trial *t = &recs[i];
            int64_t v = col[i];
            int narrow = c != 0 && c != 6 && c != 7 && c != 9 && c != 11; /* stored in an int */
            if (narrow && (v < INT_MIN || v > INT_MAX)) {
                snprintf(msg, sizeof msg, "trial %lld, column %s: got %lld, out of range", (long long)i, names[c], (long long)v);
                rc = corrupt(rd, msg);
                goto done;
            }
            switch (c) {
            case 0: t->id = v; break;
            case 1: t->stage = (int)v; break;
            case 2: t->kind = (int)v; break;
            case 3: t->rung = (int)v; break;
            case 4: t->baseline = (int)v; break;
            case 5: t->candidate = (int)v; break;
            case 6: t->budget = v; break;
            case 7: t->parent = v; break;
            case 8: t->status = (int)v; break;
            case 9: t->steps = v; break;
            case 10: t->worker = (int)v; break;
            default: t->seed = (uint64_t)v; break;
            }
        }
    }
    static const char *const fnames[] = {"metric", "seconds", "valid", "test"};
    for (int c = 0; c < 4; c++) {
        if (read_array(g, fnames[c], H5T_NATIVE_DOUBLE, (hsize_t)n, c >= 2 ? N_METRICS : 0, f) < 0) {
            snprintf(msg, sizeof msg, "/trials/%s: missing, unreadable, or not %lld rows like n_trials says", fnames[c],
                     (long long)n);
            rc = corrupt(rd, msg);
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            if (c == 0) {
                recs[i].metric = f[i];
            } else if (c == 1) {
                recs[i].seconds = f[i];
            } else if (ameir_metrics_row_check(f + i * N_METRICS, fnames[c], i, msg, sizeof msg) < 0) {
                rc = corrupt(rd, msg);
                goto done;
            } else {
                metrics_from_row(f + i * N_METRICS, c == 2 ? &recs[i].valid : &recs[i].test);
            }
        }
    }
    if (read_strings(g, "arch", (hsize_t)n, 0, arch) < 0) {
        rc = corrupt(rd, "/trials/arch: missing, unreadable, or not as many rows as n_trials");
        goto done;
    }
    int task = -1;
    for (int64_t i = 0; i < n; i++) {
        char origin[64];
        snprintf(origin, sizeof origin, "checkpoint trial %lld", (long long)i);
        if (ameir_trial_row_check(cfg, &recs[i], i, &task, msg, sizeof msg) < 0) {
            rc = corrupt(rd, msg);
            goto done;
        }
        ameir_arch a;
        if (ameir_arch_parse(&a, arch[i], origin) < 0) {
            snprintf(msg, sizeof msg, "trial %lld: stored architecture does not parse: %.120s", (long long)i,
                     ameir_last_error());
            rc = corrupt(rd, msg);
            goto done;
        }
        if (ameir_arch_pack(fields, &a, &recs[i].arch) < 0) { /* no trial of this config can hold it */
            snprintf(msg, sizeof msg,
                     "trial %lld: recorded architecture differs from the one the config gives "
                     "(it names a field neither the candidate fields nor the defaults or baselines name)",
                     (long long)i);
            rc = corrupt(rd, msg);
            goto done;
        }
    }
done:
    if (g >= 0)
        H5Gclose(g);
    columns_free(&cols);
    return rc;
}

/* The stored candidate fields into cfg (they were resolved against the dataset). */
static int read_fields(const reader *rd, hid_t file, ameir_search_config *cfg) {
    char *fields[AMEIR_MAX_FIELDS] = {0};
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hsize_t dims[1] = {0};
    int rc = 0;
    H5E_BEGIN_TRY {
        g = H5Gopen2(file, "controller", H5P_DEFAULT);
        d = g >= 0 ? H5Dopen2(g, "interaction_fields", H5P_DEFAULT) : H5I_INVALID_HID;
        space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
        if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
            dims[0] = AMEIR_MAX_FIELDS + 1;
    }
    H5E_END_TRY;
    if (dims[0] > AMEIR_MAX_FIELDS || read_strings(g, "interaction_fields", dims[0], 0, fields) < 0) {
        rc = corrupt(rd, "/controller/interaction_fields: missing or unreadable");
        goto done;
    }
    cfg->interaction.n_fields = (int)dims[0];
    for (hsize_t f = 0; f < dims[0]; f++)
        snprintf(cfg->interaction.fields[f], AMEIR_FIELD_NAME_MAX, "%s", fields[f]);
    cfg->resolved = 1;
done:
    for (int f = 0; f < AMEIR_MAX_FIELDS; f++)
        free(fields[f]);
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    if (g >= 0)
        H5Gclose(g);
    return rc;
}

/* The stored controller summary must be what the replay rebuilt: the stage and each
 * stage's winner follow from the table, so a disagreement is damage or another version. */
static int check_summary(const reader *rd, hid_t file, const ameir_controller *ctl) {
    int64_t winners[AMEIR_N_STAGES];
    int stage = -1;
    char msg[200];
    hid_t g = H5I_INVALID_HID;
    H5E_BEGIN_TRY { g = H5Gopen2(file, "controller", H5P_DEFAULT); }
    H5E_END_TRY;
    int st = g >= 0 && read_array(g, "stage_winners", H5T_NATIVE_INT64, AMEIR_N_STAGES, 0, winners) == 0 &&
             read_attr(g, "stage", H5T_NATIVE_INT, &stage) == 0 ? 0 : -1;
    if (g >= 0)
        H5Gclose(g);
    if (st < 0)
        return corrupt(rd, "/controller/stage_winners or its stage attribute: missing or unreadable");
    if (stage != ameir_controller_stage(ctl)) {
        snprintf(msg, sizeof msg, "/controller stage %d, but the trial table gives stage %d", stage, ameir_controller_stage(ctl));
        return corrupt(rd, msg);
    }
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        if (winners[s] != ameir_controller_stage_winner(ctl, s)) {
            snprintf(msg, sizeof msg, "/controller/stage_winners[%d] is %lld, but the trial table gives %lld", s,
                     (long long)winners[s], (long long)ameir_controller_stage_winner(ctl, s));
            return corrupt(rd, msg);
        }
    return 0;
}

int ameir_checkpoint_read(const char *path, ameir_search_config **cfg_out, ameir_controller **ctl_out) {
    reader rd = {path, ""};
    ameir_search_config *cfg = NULL;
    ameir_controller *ctl = NULL;
    ameir_trial *recs = NULL;
    char *text = NULL;
    char origin[AMEIR_PATH_MAX], base_dir[AMEIR_PATH_MAX], prev[AMEIR_PATH_MAX + 8];
    hid_t file = H5I_INVALID_HID;
    int version = 0, complete = 0, rc = 0;
    int64_t n = -1;
    uint64_t hash = 0;
    *cfg_out = NULL;
    *ctl_out = NULL;
    if (access(path, F_OK) != 0)
        return ameir_fail(AMEIR_ENOENT, "%s: no such checkpoint", path);
    snprintf(prev, sizeof prev, "%s.prev", path);
    if (access(prev, R_OK) == 0)
        snprintf(rd.hint, sizeof rd.hint, "; the previous checkpoint is kept: resume from %s", prev);
    /* every byte checked before HDF5 parses one: damage is refused here, never parsed */
    char why[256];
    int64_t size = 0;
    rc = ameir_seal_check(path, why, sizeof why, &size);
    if (rc == AMEIR_ECHECKPOINT) {
        char msg[300];
        snprintf(msg, sizeof msg, "not a valid checkpoint: %s", why);
        return corrupt(&rd, msg);
    }
    AMEIR_TRY(rc);
    H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (file < 0)
        return corrupt(&rd, "not a readable HDF5 file (truncated or corrupt)");
    if (read_attr(file, "complete", H5T_NATIVE_INT, &complete) < 0 || complete != 1) {
        rc = corrupt(&rd, "no completion marker (the write was interrupted)");
        goto done;
    }
    if (read_attr(file, "format_version", H5T_NATIVE_INT, &version) < 0 || version != AMEIR_CHECKPOINT_VERSION) {
        char msg[128];
        snprintf(msg, sizeof msg, "format version %d, expected %d", version, AMEIR_CHECKPOINT_VERSION);
        rc = corrupt(&rd, msg);
        goto done;
    }
    if (read_attr(file, "config_hash", H5T_NATIVE_UINT64, &hash) < 0 || read_attr(file, "n_trials", H5T_NATIVE_INT64, &n) < 0 ||
        n < 0 || read_attr_str(file, "config_origin", origin, sizeof origin) < 0 ||
        read_attr_str(file, "config_base_dir", base_dir, sizeof base_dir) < 0 || read_strings(file, "config", 1, 1, &text) < 0) {
        rc = corrupt(&rd, "missing config, config_hash, config_origin, config_base_dir or n_trials");
        goto done;
    }
    if (n > size / MIN_ROW_BYTES) {
        char msg[160];
        snprintf(msg, sizeof msg, "n_trials %lld: more rows than a file of %lld bytes can hold", (long long)n, (long long)size);
        rc = corrupt(&rd, msg);
        goto done;
    }
    if (ameir_hash_bytes(text, strlen(text)) != hash) {
        rc = corrupt(&rd, "config hash mismatch: the stored config text is not the one the search ran with");
        goto done;
    }
    rc = ameir_search_config_parse(&cfg, text, origin, base_dir);
    if (rc < 0)
        goto done;
    if (cfg->hash != hash) {
        rc = corrupt(&rd, "the stored config does not parse back to the same canonical text (written by another version?)");
        goto done;
    }
    rc = read_fields(&rd, file, cfg);
    if (rc < 0)
        goto done;
    recs = calloc(n ? (size_t)n : 1, sizeof *recs);
    if (!recs) {
        rc = ameir_fail(AMEIR_ENOMEM, "%s: out of memory for %lld trials", path, (long long)n);
        goto done;
    }
    rc = ameir_controller_create(&ctl, cfg);
    if (rc < 0)
        goto done;
    rc = read_trials(&rd, file, cfg, ameir_controller_names(ctl), n, recs);
    if (rc < 0)
        goto done;
    rc = ameir_controller_replay(ctl, recs, n);
    if (rc < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ameir_last_error());
        rc = corrupt(&rd, msg);
        goto done;
    }
    if ((rc = check_summary(&rd, file, ctl)) < 0)
        goto done;
    /* older checkpoints have no journal_id, hence no journal */
    uint64_t snapshot = 0;
    int64_t applied = 0;
    if (read_attr(file, "journal_id", H5T_NATIVE_UINT64, &snapshot) == 0 &&
        (rc = ameir_journal_replay(path, cfg, snapshot, ctl, &applied)) < 0)
        goto done;
    *cfg_out = cfg;
    *ctl_out = ctl;
    cfg = NULL;
    ctl = NULL;
done:
    if (file >= 0) {
        H5E_BEGIN_TRY { H5Fclose(file); }
        H5E_END_TRY;
    }
    free(text);
    free(recs);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
    return rc;
}
