/* The row-batched product of the layers, out = alpha inp w^T + beta out, such that a row's
 * result does not depend on how many rows share the call.
 *
 * OpenBLAS (0.3.17 on, SkylakeX/Cooperlake kernels) sends a "small" sgemm of this form
 * (column-major TN) to a separate kernel when M*N <= 1200, K >= 32 and M*N*K <= 1e6
 * (kernel/x86_64/sgemm_small_kernel_permit_skylakex.c), and that kernel sums in another
 * order than the blocked one, whose rows are independent of M (it blocks over K only).
 * So a history encoded alone and the same history among 100 candidate rows would round
 * differently. Calls in the small range are therefore padded with zero rows up to where the
 * blocked kernel takes over, when the padded copy fits a stack scratch (every block op and
 * the target attention at any dimension the arch checks allow; a wide MLP input may not
 * fit, and the MLP is evaluated on the same rows by both seq paths anyway).
 * tests/nn/test_blas.c holds the rows to one-row and many-row calls. */
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

#define SMALL_MN 1200 /* OpenBLAS's small-kernel bound on M*N for this form */
#define SMALL_MIN_K 32
#define SMALL_MAX_MNK 1e6
#define PAD_BUF 16384 /* reals of stack scratch for a padded call */

static int small_kernel_range(int N, int O, int In) {
    return (long)N * O <= SMALL_MN && In >= SMALL_MIN_K && (double)N * O * In <= SMALL_MAX_MNK;
}

void ameir_gemm_rows(real *out, int ldo, const real *inp, int ldi, const real *w, int N, int In, int O, real alpha,
                     real beta) {
    AMEIR_ASSERT(N >= 0 && In > 0 && O > 0 && ldi >= In && ldo >= O);
    if (N == 0)
        return;
    int M = SMALL_MN / O + 1; /* rows from which M*O is past the small range */
    if (!small_kernel_range(N, O, In) || (size_t)M * (In + O) > PAD_BUF) {
        AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, In, alpha, inp, ldi, w, In, beta, out, ldo);
        return;
    }
    real buf[PAD_BUF];
    real *a = buf, *c = buf + (size_t)M * In;
    for (int n = 0; n < N; n++) {
        memcpy(a + (size_t)n * In, inp + (size_t)n * ldi, (size_t)In * sizeof(real));
        if (beta != 0)
            memcpy(c + (size_t)n * O, out + (size_t)n * ldo, (size_t)O * sizeof(real));
    }
    memset(a + (size_t)N * In, 0, (size_t)(M - N) * In * sizeof(real));
    if (beta != 0)
        memset(c + (size_t)N * O, 0, (size_t)(M - N) * O * sizeof(real));
    AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, M, O, In, alpha, a, In, w, In, beta, c, O);
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * ldo, c + (size_t)n * O, (size_t)O * sizeof(real));
}
