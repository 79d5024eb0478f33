/* The BLAS kernels against plain loops (dav1d's checkasm idea), in the float build:
 * linear against ameir_linear_*_naive, conv1d (im2col + gemm in chunks) against a
 * direct convolution written here, the DIN unit's split first layer against its direct
 * form (ameir_din_*_naive), on random shapes large enough to cross the conv and DIN
 * chunk boundaries, attention against ameir_attention_*_naive. Backward is checked with non-zero initial gradients, so the
 * accumulation (+=) is compared too. ameir_gemm_rows: a row's result does not depend on
 * how many rows share the call (so one history encoded alone gives the bits it gets among
 * 100 candidate rows); without the padding of src/nn/gemm_rows.c OpenBLAS's small-matrix
 * kernel fails this on SkylakeX/Cooperlake machines. */
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

/* left padding of random length per row (one row empty, one full), holes */
static uint8_t *seq_mask(int B, int L) {
    uint8_t *m = malloc((size_t)B * L);
    AMEIR_ASSERT(m);
    for (int b = 0; b < B; b++) {
        int lead = b == 0 ? L : b == 1 ? 0 : (int)ameir_rng_below(&rng, (uint64_t)L);
        for (int l = 0; l < L; l++)
            m[(size_t)b * L + l] = l >= lead && ameir_rng_uniform(&rng) < 0.9;
    }
    return m;
}

static void test_din(int B, int L, int C) {
    size_t n = (size_t)B * L * C, nw = (size_t)AMEIR_DIN_HIDDEN * 4 * C, H = AMEIR_DIN_HIDDEN;
    uint8_t *m = seq_mask(B, L);
    real *h = rnd(n), *t = rnd((size_t)B * C), *w1 = rnd(nw), *b1 = rnd(H), *w2 = rnd(H), *b2 = rnd(1);
    real *act = rnd(ameir_din_act_size(B, L, C)), *S = rnd((size_t)B * L * (H + 1));
    real *y1 = rnd((size_t)B * C), *y2 = rnd((size_t)B * C), *g = rnd((size_t)B * C);
    ameir_din_forward(y1, act, h, t, w1, b1, w2, b2, m, B, L, C);
    ameir_din_forward_naive(y2, S, h, t, w1, b1, w2, b2, m, B, L, C);
    CHECK_NEAR(worst_diff(y1, y2, (size_t)B * C), 0, 1e-6 * L * C);
    real *dh1 = rnd(n), *dt1 = rnd((size_t)B * C), *dw11 = rnd(nw), *db11 = rnd(H), *dw21 = rnd(H), *db21 = rnd(1);
    real *dh2 = dup(dh1, n), *dt2 = dup(dt1, (size_t)B * C), *dw12 = dup(dw11, nw), *db12 = dup(db11, H),
         *dw22 = dup(dw21, H), *db22 = dup(db21, 1);
    ameir_din_backward(dh1, dt1, dw11, db11, dw21, db21, g, act, h, t, w1, w2, m, B, L, C);
    ameir_din_backward_naive(dh2, dt2, dw12, db12, dw22, db22, g, S, h, t, w1, w2, m, B, L, C);
    CHECK_NEAR(worst_diff(dh1, dh2, n), 0, 1e-6 * C * H);
    CHECK_NEAR(worst_diff(dt1, dt2, (size_t)B * C), 0, 1e-6 * L * C * H);
    CHECK_NEAR(worst_diff(dw11, dw12, nw), 0, 1e-6 * B * L);
    CHECK_NEAR(worst_diff(db11, db12, H), 0, 1e-6 * B * L);
    CHECK_NEAR(worst_diff(dw21, dw22, H), 0, 1e-6 * B * L);
    CHECK_NEAR(worst_diff(db21, db22, 1), 0, 1e-6 * B * L);
    free(m), free(h), free(t), free(w1), free(b1), free(w2), free(b2), free(act), free(S), free(y1), free(y2), free(g);
    free(dh1), free(dt1), free(dw11), free(db11), free(dw21), free(db21);
    free(dh2), free(dt2), free(dw12), free(db12), free(dw22), free(db22);
}

/* attention against its plain loops: seq_mask's rows (one empty, one full, holes) and a
 * row with one real position */
static void test_attention(int B, int L, int C, int H) {
    size_t n = (size_t)B * L * C, nwi = (size_t)3 * C * C, nwo = (size_t)C * C;
    uint8_t *m = seq_mask(B, L);
    for (int l = 0; l < L; l++)
        m[(size_t)2 * L + l] = l == L / 2;
    real *x = rnd(n), *wi = rnd(nwi), *bi = rnd((size_t)3 * C), *wo = rnd(nwo), *bo = rnd((size_t)C), *g = rnd(n);
    size_t na = ameir_attention_act_size(B, L, C, H);
    real *act1 = rnd(na), *act2 = rnd(na), *y1 = rnd(n), *y2 = rnd(n);
    ameir_attention_forward(y1, act1, x, wi, bi, wo, bo, m, B, L, C, H);
    ameir_attention_forward_naive(y2, act2, x, wi, bi, wo, bo, m, B, L, C, H);
    CHECK_NEAR(worst_diff(y1, y2, n), 0, 2e-6 * C);
    real *dx1 = rnd(n), *dwi1 = rnd(nwi), *dbi1 = rnd((size_t)3 * C), *dwo1 = rnd(nwo), *dbo1 = rnd((size_t)C);
    real *dx2 = dup(dx1, n), *dwi2 = dup(dwi1, nwi), *dbi2 = dup(dbi1, (size_t)3 * C), *dwo2 = dup(dwo1, nwo),
         *dbo2 = dup(dbo1, (size_t)C);
    ameir_attention_backward(dx1, dwi1, dbi1, dwo1, dbo1, g, act1, x, wi, wo, m, B, L, C, H);
    ameir_attention_backward_naive(dx2, dwi2, dbi2, dwo2, dbo2, g, act2, x, wi, wo, m, B, L, C, H);
    CHECK_NEAR(worst_diff(dx1, dx2, n), 0, 2e-6 * C * L);
    CHECK_NEAR(worst_diff(dwi1, dwi2, nwi), 0, 2e-6 * B * L);
    CHECK_NEAR(worst_diff(dbi1, dbi2, (size_t)3 * C), 0, 2e-6 * B * L);
    CHECK_NEAR(worst_diff(dwo1, dwo2, nwo), 0, 2e-6 * B * L);
    CHECK_NEAR(worst_diff(dbo1, dbo2, (size_t)C), 0, 2e-6 * B * L);
    /* the empty row gives 0 and its input gets no gradient beyond what it had */
    for (size_t i = 0; i < (size_t)L * C; i++) {
        CHECK_EQ_INT(y1[i] == 0, 1);
        CHECK_EQ_INT(dx1[i] == dx2[i], 1);
    }
    free(m), free(x), free(wi), free(bi), free(wo), free(bo), free(g), free(act1), free(act2), free(y1), free(y2);
    free(dx1), free(dwi1), free(dbi1), free(dwo1), free(dbo1), free(dx2), free(dwi2), free(dbi2), free(dwo2), free(dbo2);
}

/* the order src/nn/gemm_rows.c's loops promise: eight partial sums over i mod 8 (the last
 * In mod 8 terms into lanes 0, 1, ...), added pairwise */
static real fixed_order(const real *x, const real *w, int In) {
    real a[8] = {0};
    for (int i = 0; i < In; i++)
        a[i < In / 8 * 8 ? i % 8 : i - In / 8 * 8] += x[i] * w[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

#define BIG 2000 /* rows of the reference call: far past any small-matrix range */

/* In -> O as used by: conv (C*K -> C), gru and attention (C -> 3C), attention out (C -> C),
 * target attention (4C -> 36), at C in {8, 16, 32, 64} */
static void test_gemm_rows(int In, int O, int stride_pad, real beta) {
    int ldi = In + stride_pad, ldo = O + stride_pad;
    real *x = rnd((size_t)BIG * ldi), *w = rnd((size_t)O * In), *init = rnd((size_t)BIG * ldo);
    real *ref = malloc(sizeof *ref * (size_t)BIG * ldo), *out = malloc(sizeof *out * (size_t)BIG * ldo);
    AMEIR_ASSERT(ref && out);
    memcpy(ref, init, sizeof *ref * (size_t)BIG * ldo);
    ameir_gemm_rows(ref, ldo, x, ldi, w, BIG, In, O, 1, beta);
    int bad_n = -1;
    for (int n = 1; n <= 80 && bad_n < 0; n += n < 40 ? 1 : 7) {
        for (int start = 0; start < 3 && bad_n < 0; start++) { /* the same rows at other offsets in the call */
            const real *xs = x + (size_t)start * 17 * ldi;
            memcpy(out, init + (size_t)start * 17 * ldo, sizeof *out * (size_t)n * ldo);
            ameir_gemm_rows(out, ldo, xs, ldi, w, n, In, O, 1, beta);
            for (int r = 0; r < n && bad_n < 0; r++)
                if (memcmp(out + (size_t)r * ldo, ref + ((size_t)start * 17 + r) * ldo, sizeof *out * (size_t)O))
                    bad_n = n;
        }
    }
    if (bad_n >= 0)
        fprintf(stderr, "In %d, O %d, ld +%d, beta %g: a call of %d rows differs from the %d-row call\n", In, O,
                stride_pad, (double)beta, bad_n, BIG);
    CHECK_EQ_INT(bad_n, -1);
    /* against plain loops on the first rows */
    double worst = 0;
    for (int r = 0; r < 50; r++)
        for (int o = 0; o < O; o++) {
            double acc = beta != 0 ? (double)init[(size_t)r * ldo + o] : 0;
            for (int i = 0; i < In; i++)
                acc += (double)x[(size_t)r * ldi + i] * (double)w[(size_t)o * In + i];
            double dv = fabs(acc - (double)ref[(size_t)r * ldo + o]);
            if (dv > worst)
                worst = dv;
        }
    CHECK_NEAR(worst, 0, 1e-4 * In);
    /* on the fixed-order loops, every element's bits are those of the order they promise */
    if (!ameir_gemm_rows_blas()) {
        int bad = 0;
        for (int r = 0; r < BIG && !bad; r++)
            for (int o = 0; o < O && !bad; o++) {
                real y = fixed_order(x + (size_t)r * ldi, w + (size_t)o * In, In);
                y = beta != 0 ? y + beta * init[(size_t)r * ldo + o] : y;
                bad = memcmp(&y, &ref[(size_t)r * ldo + o], sizeof y) != 0;
            }
        CHECK_EQ_INT(bad, 0);
    }
    free(x);
    free(w);
    free(init);
    free(ref);
    free(out);
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
    /* the DIN unit: small, the bench's shape (past one backward chunk) and a wide d */
    test_din(3, 5, 2);
    test_din(32, 50, 16);
    test_din(5, 20, 64);
    /* attention: small, the bench's shapes (hd 8, 16, 32), odd sizes, every head count */
    test_attention(4, 5, 4, 1);
    test_attention(16, 50, 16, 2);
    test_attention(8, 50, 32, 2);
    test_attention(8, 50, 64, 2);
    test_attention(5, 17, 24, 4);
    test_attention(6, 33, 16, 8);
    test_attention(3, 70, 8, 1);
    /* In -> O as used by conv (C*K -> C), gru and attention (C -> 3C; gru's hidden step with
     * rows L*C apart), attention out (C -> C), target attention (4C -> 36) */
    static const int Cs[] = {8, 16, 32, 64};
    for (int ci = 0; ci < 4; ci++) {
        int C = Cs[ci];
        test_gemm_rows(C, 3 * C, 0, 0);
        test_gemm_rows(C, 3 * C, 5, 0);
        test_gemm_rows(C, C, 0, 1);
        test_gemm_rows(3 * C, C, 0, 0);
        test_gemm_rows(7 * C, C, 0, 0);
        test_gemm_rows(4 * C, AMEIR_DIN_HIDDEN, 0, 1);
    }
    /* the loops' edges: In not a multiple of 8, odd O, one input or output; an MLP layer */
    test_gemm_rows(13, 7, 3, 1);
    test_gemm_rows(5, 1, 0, 0);
    test_gemm_rows(1, 3, 2, 1);
    test_gemm_rows(21, 9, 0, 0);
    test_gemm_rows(448, 400, 0, 0);
    return check_finish("blas vs naive");
}
