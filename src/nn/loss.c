/* Binary cross-entropy with logits, mean over the batch.
 * logits (N), labels (N) in [0, 1]; returns the mean loss. */
#include <math.h>

#include "ameir/error.h"
#include "ameir/nn.h"

real ameir_bce_forward(const real *logits, const real *labels, int N) {
    AMEIR_ASSERT(N > 0);
    /* -y log s(z) - (1-y) log(1 - s(z)) = max(z, 0) - z y + log(1 + exp(-|z|)),
     * the form that never overflows; summed in double so large batches keep digits */
    double sum = 0;
    for (int i = 0; i < N; i++) {
        double z = (double)logits[i], y = (double)labels[i];
        sum += (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
    }
    return (real)(sum / N);
}

void ameir_bce_backward(real *dlogits, const real *logits, const real *labels, int N, real scale) {
    AMEIR_ASSERT(N > 0);
    /* d/dz [max(z,0) - z y + log(1 + exp(-|z|))] = s(z) - y */
    real k = scale / (real)N;
    for (int i = 0; i < N; i++) {
        real z = logits[i], s;
        if (z >= 0) {
            s = (real)1 / ((real)1 + AMEIR_EXP(-z));
        } else {
            real e = AMEIR_EXP(z);
            s = e / ((real)1 + e);
        }
        dlogits[i] += (s - labels[i]) * k;
    }
}
