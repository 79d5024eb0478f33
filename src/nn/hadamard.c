/* Hadamard (element-wise) product of k field embeddings, k in 2..4.
 * emb (B, F, C), fields (k) distinct indices in [0, F), out (B, C). */
#include "ameir/error.h"
#include "ameir/nn.h"

void ameir_hadamard_forward(real *out, const real *emb, const int *fields, int k, int B, int F, int C) {
    AMEIR_ASSERT(k >= 2 && k <= 4 && B >= 0 && C > 0);
    for (int j = 0; j < k; j++)
        AMEIR_ASSERT(fields[j] >= 0 && fields[j] < F);
    for (int b = 0; b < B; b++) {
        const real *e = emb + (size_t)b * F * C;
        real *o = out + (size_t)b * C;
        const real *e0 = e + (size_t)fields[0] * C;
        for (int c = 0; c < C; c++)
            o[c] = e0[c];
        for (int j = 1; j < k; j++) {
            const real *ej = e + (size_t)fields[j] * C;
            for (int c = 0; c < C; c++)
                o[c] *= ej[c];
        }
    }
}

void ameir_hadamard_backward(real *demb, const real *dout, const real *emb, const int *fields, int k, int B, int F, int C) {
    AMEIR_ASSERT(k >= 2 && k <= 4 && B >= 0 && C > 0);
    /* out = prod_j e_j, so de_j += dout * prod_{i != j} e_i; the product of the
     * others is formed directly (no division, so zeros in e are fine) */
    for (int b = 0; b < B; b++) {
        const real *e = emb + (size_t)b * F * C;
        real *de = demb + (size_t)b * F * C;
        const real *g = dout + (size_t)b * C;
        for (int j = 0; j < k; j++) {
            real *dj = de + (size_t)fields[j] * C;
            for (int c = 0; c < C; c++) {
                real prod = g[c];
                for (int i = 0; i < k; i++)
                    if (i != j)
                        prod *= e[(size_t)fields[i] * C + c];
                dj[c] += prod;
            }
        }
    }
}
