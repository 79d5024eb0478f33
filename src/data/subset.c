/* A split made of chosen rows of another (the search scores lower rungs on a fixed
 * subsample of validation). */
#include <stdlib.h>
#include <string.h>

#include "ameir/dataset.h"
#include "ameir/error.h"
#include "dataset_internal.h"

int ameir_split_subset(ameir_split **out, const ameir_split *sp, const int64_t *rows, int64_t n) {
    const ameir_schema *s = &sp->ds->schema;
    int64_t L = s->seq_len ? s->seq_len : 1, nc = s->n_candidates;
    *out = NULL;
    for (int64_t i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= sp->n)
            return ameir_fail(AMEIR_EINVAL, "subset row %lld outside [0, %lld)", (long long)rows[i], (long long)sp->n);
    ameir_split *d = ameir_data_split_place(sp->ds, sp->split, sp->begin, n, NULL, 1);
    if (!d)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for a subset of %lld rows", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows[i];
        memcpy(d->x + i * s->x_width, sp->x + r * s->x_width, (size_t)s->x_width * sizeof *d->x);
        memcpy(d->hist + i * L, sp->hist + r * L, (size_t)L * sizeof *d->hist);
        d->label[i] = sp->label[r];
        d->user[i] = sp->user[r];
        if (sp->cand)
            memcpy(d->cand + i * nc, sp->cand + r * nc, (size_t)nc * sizeof *d->cand);
    }
    *out = d;
    return 0;
}
