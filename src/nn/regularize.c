/* L2 penalty on the embedding rows a batch touches.
 * table (V, d), rows (nrows) distinct row indices; returns lambda * sum ||row||^2. */
#include "ameir/error.h"
#include "ameir/nn.h"

real ameir_l2_rows(real *dtable, const real *table, const int32_t *rows, int nrows, int d, real lambda) {
    AMEIR_ASSERT(nrows >= 0 && d > 0);
    /* penalty = lambda sum_r sum_c t[r,c]^2, so dt[r,c] += 2 lambda t[r,c] */
    double sum = 0;
    real k = 2 * lambda;
    for (int i = 0; i < nrows; i++) {
        AMEIR_ASSERT(rows[i] >= 0);
        const real *t = table + (size_t)rows[i] * d;
        real *g = dtable ? dtable + (size_t)rows[i] * d : NULL;
        for (int c = 0; c < d; c++) {
            sum += (double)t[c] * (double)t[c];
            if (g)
                g[c] += k * t[c];
        }
    }
    return (real)((double)lambda * sum);
}
