/* Fully connected layer (PyTorch nn.Linear).
 * inp (N, In), w (O, In), b (O) or NULL, out (N, O) = inp w^T + b.
 * The BLAS version is what the network uses; the _naive triple loops are the
 * reference the unit test compares it against. */
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

void ameir_linear_forward(real *out, const real *inp, const real *w, const real *b, int N, int In, int O) {
    AMEIR_ASSERT(N >= 0 && In > 0 && O > 0);
    if (N == 0)
        return;
    real beta = 0;
    if (b) {
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * O, b, (size_t)O * sizeof(real));
        beta = 1;
    }
    ameir_gemm_rows(out, O, inp, In, w, N, In, O, 1, beta);
}

void ameir_linear_backward(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, int N, int In, int O) {
    AMEIR_ASSERT(N >= 0 && In > 0 && O > 0);
    if (N == 0)
        return;
    /* out[n,o] = sum_i inp[n,i] w[o,i] + b[o], so
     * dinp[n,i] += sum_o dout[n,o] w[o,i]   (dinp = dout w)
     * dw[o,i]   += sum_n dout[n,o] inp[n,i] (dw = dout^T inp)
     * db[o]     += sum_n dout[n,o] */
    if (dinp)
        AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, In, O, 1, dout, O, w, In, 1, dinp, In);
    if (dw)
        AMEIR_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, O, In, N, 1, dout, O, inp, In, 1, dw, In);
    if (db)
        for (int n = 0; n < N; n++) {
            const real *g = dout + (size_t)n * O;
            for (int o = 0; o < O; o++)
                db[o] += g[o];
        }
}

void ameir_linear_forward_naive(real *out, const real *inp, const real *w, const real *b, int N, int In, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            real acc = b ? b[o] : 0;
            for (int i = 0; i < In; i++)
                acc += inp[(size_t)n * In + i] * w[(size_t)o * In + i];
            out[(size_t)n * O + o] = acc;
        }
}

void ameir_linear_backward_naive(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w, int N, int In, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            real g = dout[(size_t)n * O + o];
            for (int i = 0; i < In; i++) {
                if (dinp)
                    dinp[(size_t)n * In + i] += g * w[(size_t)o * In + i];
                if (dw)
                    dw[(size_t)o * In + i] += g * inp[(size_t)n * In + i];
            }
            if (db)
                db[o] += g;
        }
}
