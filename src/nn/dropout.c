/* Inverted dropout. inp (n), out (n), mask (n) of 0/1 drawn from the seeded RNG:
 * kept with probability 1 - p and scaled by 1/(1 - p), so evaluation needs no
 * rescaling. p = 0 copies exactly (all-ones mask) and draws nothing. */
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

void ameir_dropout_forward(real *out, uint8_t *mask, const real *inp, size_t n, real p, ameir_rng *rng) {
    AMEIR_ASSERT(p >= 0 && p < 1);
    if (p == 0) {
        memset(mask, 1, n);
        if (out != inp)
            memmove(out, inp, n * sizeof(real));
        return;
    }
    AMEIR_ASSERT(rng != NULL);
    real scale = (real)1 / ((real)1 - p);
    for (size_t i = 0; i < n; i++) {
        uint8_t keep = ameir_rng_uniform(rng) >= (double)p;
        mask[i] = keep;
        out[i] = keep ? inp[i] * scale : 0;
    }
}

void ameir_dropout_backward(real *dinp, const real *dout, const uint8_t *mask, size_t n, real p) {
    AMEIR_ASSERT(p >= 0 && p < 1);
    /* out = inp * mask / (1 - p), so dinp += dout * mask / (1 - p) */
    real scale = (real)1 / ((real)1 - p);
    for (size_t i = 0; i < n; i++)
        dinp[i] += mask[i] ? dout[i] * scale : 0;
}
