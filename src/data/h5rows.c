/* A row range of one dataset of a prepared shard, checked for its shape: what the dataset
 * reader (the item table) and the loader (a split's rows) both read with. */
#include <hdf5.h>

#include "ameir/error.h"
#include "dataset_internal.h"

int ameir_data_read_rows(hid_t file, const char *path, const char *name, hid_t type, int64_t rows, int cols, int64_t b,
                         int64_t n, void *dest) {
    int rc = 0;
    hid_t ds = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    hsize_t dims[3] = {0, 0, 0};
    int rank = cols > 0 ? 2 : 1;
    H5E_BEGIN_TRY { ds = H5Dopen2(file, name, H5P_DEFAULT); }
    H5E_END_TRY;
    if (ds < 0)
        return ameir_fail(AMEIR_EDATA, "%s: dataset \"%s\" is missing", path, name);
    fs = H5Dget_space(ds);
    if (fs < 0 || H5Sget_simple_extent_ndims(fs) != rank || H5Sget_simple_extent_dims(fs, dims, NULL) != rank ||
        dims[0] != (hsize_t)rows || (rank == 2 && dims[1] != (hsize_t)cols)) {
        rc = ameir_fail(AMEIR_EDATA, "%s: dataset \"%s\" has shape (%llu, %llu), expected (%lld, %d)", path, name,
                        (unsigned long long)dims[0], (unsigned long long)dims[1], (long long)rows, cols);
        goto done;
    }
    if (n > 0) {
        hsize_t start[2] = {(hsize_t)b, 0}, count[2] = {(hsize_t)n, (hsize_t)cols};
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            (ms = H5Screate_simple(rank, count, NULL)) < 0 || H5Dread(ds, type, ms, fs, H5P_DEFAULT, dest) < 0)
            rc = ameir_fail(AMEIR_EHDF5, "%s: cannot read rows %lld..%lld of \"%s\"", path, (long long)b,
                            (long long)(b + n), name);
    }
done:
    H5E_BEGIN_TRY {
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(ds);
    }
    H5E_END_TRY;
    return rc;
}
