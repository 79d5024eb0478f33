/* Saving and loading a network's state to an HDF5 group: "params/NAME", "adam_m/NAME",
 * "adam_v/NAME" float32 datasets shaped as the tensors, attribute "adam_step" (int64).
 * Names contain '/', so intermediate groups are created on the way. h5py reads it as is. */
#include <stdio.h>
#include <string.h>

#include "ameir/error.h"
#include "net_internal.h"

static const char *const kinds[3] = {"params", "adam_m", "adam_v"};

static float *block_of(const ameir_params *p, int k) { return k == 0 ? p->data : k == 1 ? p->m : p->v; }

static int write_tensor(hid_t group, hid_t lcpl, const char *path, const ameir_tensor *t, const float *x) {
    hsize_t dims[AMEIR_TENSOR_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        dims[i] = (hsize_t)t->shape[i];
    int rc = 0;
    hid_t space = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    space = H5Screate_simple(t->ndim, dims, NULL);
    if (space < 0) {
        rc = ameir_fail(AMEIR_EHDF5, "model: %s: cannot create a dataspace", path);
        goto done;
    }
    ds = H5Dcreate2(group, path, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0) {
        rc = ameir_fail(AMEIR_EHDF5, "model: %s: cannot create the dataset (does it exist already?)", path);
        goto done;
    }
    if (H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0)
        rc = ameir_fail(AMEIR_EHDF5, "model: %s: write failed", path);
done:
    H5E_BEGIN_TRY {
        H5Dclose(ds);
        H5Sclose(space);
    }
    H5E_END_TRY;
    return rc;
}

int ameir_net_save(const ameir_net *net, hid_t group) { return ameir_params_save_(&net->params, group); }

int ameir_params_save_(const ameir_params *p, hid_t group) {
    int rc = 0;
    hid_t lcpl = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        rc = ameir_fail(AMEIR_EHDF5, "model: cannot create a link property list");
        goto done;
    }
    char path[AMEIR_TENSOR_NAME_MAX + 16];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < p->n; i++) {
            const ameir_tensor *t = &p->tensors[i];
            snprintf(path, sizeof path, "%s/%s", kinds[k], t->name);
            if ((rc = write_tensor(group, lcpl, path, t, block_of(p, k) + t->offset)) < 0)
                goto done;
        }
    space = H5Screate(H5S_SCALAR);
    attr = space < 0 ? H5I_INVALID_HID
                     : H5Acreate2(group, "adam_step", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, H5T_NATIVE_INT64, &p->step) < 0)
        rc = ameir_fail(AMEIR_EHDF5, "model: cannot write the attribute adam_step");
done:
    H5E_BEGIN_TRY {
        H5Aclose(attr);
        H5Sclose(space);
        H5Pclose(lcpl);
    }
    H5E_END_TRY;
    return rc;
}

static void shape_text(char *buf, size_t n, int ndim, const hsize_t *dims) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "(");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %llu" : "%llu", (unsigned long long)dims[i]);
    if (k < n)
        snprintf(buf + k, n - k, ")");
}

static int read_tensor(hid_t group, const char *path, const ameir_tensor *t, float *x) {
    int rc = 0;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hsize_t want[AMEIR_TENSOR_MAX_DIMS], got[AMEIR_TENSOR_MAX_DIMS] = {0};
    for (int i = 0; i < t->ndim; i++)
        want[i] = (hsize_t)t->shape[i];
    H5E_BEGIN_TRY {
        if (H5Lexists(group, path, H5P_DEFAULT) > 0)
            ds = H5Dopen2(group, path, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (ds < 0) {
        rc = ameir_fail(AMEIR_EDATA, "model: missing dataset %s (the file was saved for another architecture?)",
                        path);
        goto done;
    }
    space = H5Dget_space(ds);
    int ndim = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (ndim > AMEIR_TENSOR_MAX_DIMS || ndim < 0) {
        rc = ameir_fail(AMEIR_EDATA, "model: %s: %d dimensions, expected %d", path, ndim, t->ndim);
        goto done;
    }
    H5Sget_simple_extent_dims(space, got, NULL);
    int same = ndim == t->ndim;
    for (int i = 0; same && i < ndim; i++)
        same = got[i] == want[i];
    if (!same) {
        char a[96], b[96];
        shape_text(a, sizeof a, ndim, got);
        shape_text(b, sizeof b, t->ndim, want);
        rc = ameir_fail(AMEIR_EDATA, "model: %s: shape %s, expected %s", path, a, b);
        goto done;
    }
    if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0)
        rc = ameir_fail(AMEIR_EHDF5, "model: %s: read failed", path);
done:
    H5E_BEGIN_TRY {
        H5Sclose(space);
        H5Dclose(ds);
    }
    H5E_END_TRY;
    return rc;
}

/* H5Lvisit callback: the first link under a kind group that is neither a tensor of the
 * network nor a group on the way to one. */
typedef struct extra_search {
    const ameir_params *p;
    char name[AMEIR_TENSOR_NAME_MAX + 16];
} extra_search;

static herr_t find_extra(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    extra_search *e = data;
    (void)g;
    (void)info;
    size_t len = strlen(name);
    for (int i = 0; i < e->p->n; i++) {
        const char *t = e->p->tensors[i].name;
        if (!strncmp(t, name, len) && (t[len] == '\0' || t[len] == '/'))
            return 0;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    return 1;
}

int ameir_net_load(ameir_net *net, hid_t group) {
    int rc = ameir_params_load_(&net->params, group);
    /* the grad rows the last batch touched belong to another state now */
    for (int f = 0; f < net->F; f++)
        net->fields[f].nrows = 0;
    return rc;
}

int ameir_params_load_(ameir_params *p, hid_t group) {
    char path[AMEIR_TENSOR_NAME_MAX + 16];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < p->n; i++) {
            const ameir_tensor *t = &p->tensors[i];
            snprintf(path, sizeof path, "%s/%s", kinds[k], t->name);
            AMEIR_TRY(read_tensor(group, path, t, block_of(p, k) + t->offset));
        }
        extra_search e = {p, {0}};
        hid_t g = H5Gopen2(group, kinds[k], H5P_DEFAULT);
        herr_t found = g < 0 ? -1 : H5Lvisit(g, H5_INDEX_NAME, H5_ITER_NATIVE, find_extra, &e);
        H5Gclose(g);
        if (found > 0)
            return ameir_fail(AMEIR_EDATA, "model: dataset %s/%s is not a tensor of this architecture", kinds[k],
                              e.name);
        if (found < 0)
            return ameir_fail(AMEIR_EHDF5, "model: cannot list the group %s", kinds[k]);
    }
    int rc = 0;
    hid_t attr = H5I_INVALID_HID;
    int64_t step = 0;
    H5E_BEGIN_TRY {
        if (H5Aexists(group, "adam_step") > 0)
            attr = H5Aopen(group, "adam_step", H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (attr < 0 || H5Aread(attr, H5T_NATIVE_INT64, &step) < 0 || step < 0)
        rc = ameir_fail(AMEIR_EDATA, "model: missing or bad attribute adam_step");
    else
        p->step = step;
    H5E_BEGIN_TRY { H5Aclose(attr); }
    H5E_END_TRY;
    memset(p->grad, 0, p->total * sizeof(float));
    return rc;
}
