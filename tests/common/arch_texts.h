/* Checks of the trial table's arch texts (the JSON the controller prints once per trial
 * and the checkpoint copies): each must be exactly a fresh ameir_arch_to_json of the
 * trial's arch, in the live controller, in one rebuilt by a resume, and in RUN.h5. */
#ifndef AMEIR_TEST_ARCH_TEXTS_H
#define AMEIR_TEST_ARCH_TEXTS_H

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/search.h"
#include "check.h"

/* Counts in *bad a text that is not a fresh ameir_arch_to_json of trial id's arch in ctl;
 * the first such row of a check (*bad == 0) is printed. */
static inline void text_differs(const ameir_controller *ctl, int64_t id, const char *text, const char *who, int64_t *bad) {
    static ameir_arch a;
    ameir_controller_trial_arch(ctl, ameir_controller_trial(ctl, id), &a);
    char *fresh = ameir_arch_to_json(&a);
    if ((!fresh || !text || strcmp(fresh, text) != 0) && !(*bad)++)
        fprintf(stderr, "%s: trial %lld: kept %s, fresh %s\n", who, (long long)id, text ? text : "(null)",
                fresh ? fresh : "(null)");
    free(fresh);
}

/* Rows of ctl whose kept text is not a fresh print of their arch. */
static inline void check_trial_texts(const ameir_controller *ctl, const char *who) {
    int64_t bad = 0, n = ameir_controller_n_trials(ctl);
    for (int64_t id = 0; id < n; id++)
        text_differs(ctl, id, ameir_controller_trial_json(ctl, ameir_controller_trial(ctl, id)), who, &bad);
    CHECK_EQ_INT(bad, 0);
}

/* RUN.h5's /trials/arch, row for row, against fresh prints of ctl's archs (the table the
 * file was written from, or one read back from it). */
static inline void check_file_texts(const char *path, const ameir_controller *ctl) {
    int64_t n = ameir_controller_n_trials(ctl), bad = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, "trials/arch", H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID, t = H5Tcopy(H5T_C_S1);
    hsize_t dims[1] = {0};
    CHECK(space >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) == 1);
    CHECK_EQ_INT(dims[0], n);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char **s = calloc(n ? (size_t)n : 1, sizeof *s);
    if (space >= 0 && (int64_t)dims[0] == n && n > 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0) {
        for (int64_t id = 0; id < n; id++)
            text_differs(ctl, id, s[id], path, &bad);
        H5Dvlen_reclaim(t, space, H5P_DEFAULT, s);
    } else {
        CHECK(n == 0);
    }
    CHECK_EQ_INT(bad, 0);
    free(s);
    H5Tclose(t);
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
}

#endif
