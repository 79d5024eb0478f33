/* The BLAS kernels against plain loops (dav1d's checkasm idea), in the float build:
 * linear against ameir_linear_*_naive, conv1d (im2col + gemm in chunks) against a
 * direct convolution written here, on random shapes large enough to cross the conv
 * chunk boundaries. Backward is checked with non-zero initial gradients, so the
 * accumulation (+=) is compared too. */
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/rng.h"

static ameir_rng rng;

static real *rnd(size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    AMEIR_ASSERT(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (real)(2 * ameir_rng_uniform(&rng) - 1);
    return p;
}

static real *dup(const real *x, size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    AMEIR_ASSERT(p);
    memcpy(p, x, n * sizeof(real));
    return p;
}

/* worst |a - b| / max(1, |b|) over n values */
static double worst_diff(const real *a, const real *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fabs((double)b[i]) > 1 ? fabs((double)b[i]) : 1;
        double d = fabs((double)a[i] - (double)b[i]) / s;
        if (!(d <= w))
            w = d;
    }
    return w;
}

static void test_linear(int N, int In, int O, int with_bias) {
    real *x = rnd((size_t)N * In), *w = rnd((size_t)O * In), *b = with_bias ? rnd((size_t)O) : NULL;
    real *y1 = rnd((size_t)N * O), *y2 = rnd((size_t)N * O), *g = rnd((size_t)N * O);
    ameir_linear_forward(y1, x, w, b, N, In, O);
    ameir_linear_forward_naive(y2, x, w, b, N, In, O);
    double tol = 1e-6 * In;
    CHECK_NEAR(worst_diff(y1, y2, (size_t)N * O), 0, tol);

    real *dx1 = rnd((size_t)N * In), *dw1 = rnd((size_t)O * In), *db1 = rnd((size_t)O);
    real *dx2 = dup(dx1, (size_t)N * In), *dw2 = dup(dw1, (size_t)O * In), *db2 = dup(db1, (size_t)O);
    ameir_linear_backward(dx1, dw1, db1, g, x, w, N, In, O);
    ameir_linear_backward_naive(dx2, dw2, db2, g, x, w, N, In, O);
    CHECK_NEAR(worst_diff(dx1, dx2, (size_t)N * In), 0, 1e-6 * O);
    CHECK_NEAR(worst_diff(dw1, dw2, (size_t)O * In), 0, 1e-6 * N);
    CHECK_NEAR(worst_diff(db1, db2, (size_t)O), 0, 1e-6 * N);
    free(x), free(w), free(b), free(y1), free(y2), free(g);
    free(dx1), free(dw1), free(db1), free(dx2), free(dw2), free(db2);
}

/* x value at (b, p, i), 0 at padding and outside */
static real conv_x(const real *x, const uint8_t *m, int b, int p, int i, int L, int C) {
    if (p < 0 || p >= L || !m[(size_t)b * L + p])
        return 0;
    return x[((size_t)b * L + p) * C + i];
}

static void conv_naive(real *out, const real *x, const real *w, const real *bias, const uint8_t *m, int B, int L, int C, int K) {
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            for (int o = 0; o < C; o++) {
                real acc = 0;
                if (m[(size_t)b * L + l]) {
                    acc = bias[o];
                    for (int i = 0; i < C; i++)
                        for (int k = 0; k < K; k++)
                            acc += w[((size_t)o * C + i) * K + k] * conv_x(x, m, b, l + k - K / 2, i, L, C);
                }
                out[((size_t)b * L + l) * C + o] = acc;
            }
}

static void conv_naive_backward(real *dx, real *dw, real *db, const real *g, const real *x, const real *w, const uint8_t *m, int B, int L, int C, int K) {
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            if (!m[(size_t)b * L + l])
                continue;
            for (int o = 0; o < C; o++) {
                real go = g[((size_t)b * L + l) * C + o];
                db[o] += go;
                for (int i = 0; i < C; i++)
                    for (int k = 0; k < K; k++) {
                        int p = l + k - K / 2;
                        dw[((size_t)o * C + i) * K + k] += go * conv_x(x, m, b, p, i, L, C);
                        if (p >= 0 && p < L && m[(size_t)b * L + p])
                            dx[((size_t)b * L + p) * C + i] += go * w[((size_t)o * C + i) * K + k];
                    }
            }
        }
}

static void test_conv(int B, int L, int C, int K) {
    size_t n = (size_t)B * L * C, nw = (size_t)C * C * K;
    uint8_t *m = malloc((size_t)B * L);
    for (int i = 0; i < B * L; i++)
        m[i] = ameir_rng_uniform(&rng) < 0.75;
    for (int l = 0; l < L; l++)
        m[l] = 0; /* an empty history */
    m[(size_t)B * L - 1] = B > 1; /* and at least one real position */
    real *x = rnd(n), *w = rnd(nw), *bias = rnd((size_t)C), *g = rnd(n);
    real *y1 = rnd(n), *y2 = rnd(n);
    ameir_conv1d_forward(y1, x, w, bias, m, B, L, C, K);
    conv_naive(y2, x, w, bias, m, B, L, C, K);
    CHECK_NEAR(worst_diff(y1, y2, n), 0, 1e-6 * C * K);

    real *dx1 = rnd(n), *dw1 = rnd(nw), *db1 = rnd((size_t)C);
    real *dx2 = dup(dx1, n), *dw2 = dup(dw1, nw), *db2 = dup(db1, (size_t)C);
    ameir_conv1d_backward(dx1, dw1, db1, g, x, w, m, B, L, C, K);
    conv_naive_backward(dx2, dw2, db2, g, x, w, m, B, L, C, K);
    CHECK_NEAR(worst_diff(dx1, dx2, n), 0, 1e-6 * C * K);
    CHECK_NEAR(worst_diff(dw1, dw2, nw), 0, 1e-6 * B * L);
    CHECK_NEAR(worst_diff(db1, db2, (size_t)C), 0, 1e-6 * B * L);
    free(m), free(x), free(w), free(bias), free(g), free(y1), free(y2);
    free(dx1), free(dw1), free(db1), free(dx2), free(dw2), free(db2);
}

int main(void) {
    rng = ameir_rng_stream(11, 3);
    /* shapes from 1 x 1 to the bench MLP's, odd sizes on purpose */
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {256, 224, 256}, {64, 16, 1}, {5, 1, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        test_linear(shapes[s][0], shapes[s][1], shapes[s][2], 1);
        test_linear(shapes[s][0], shapes[s][1], shapes[s][2], 0);
    }
    /* B*L real positions well past one chunk of the stack buffer */
    const int ks[] = {1, 3, 5, 7};
    for (int i = 0; i < 4; i++) {
        test_conv(3, 7, 5, ks[i]);
        test_conv(24, 50, 16, ks[i]);
    }
    test_conv(4, 9, 64, 7);
    /* the largest d ameir_nn_check_conv accepts: one position per chunk */
    test_conv(2, 4, AMEIR_CONV_MAX_C(7), 7); /* row 0 is empty, row 1 random */
    return check_finish("blas vs naive");
}
