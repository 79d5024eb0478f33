/* Runs every layer (double build) forward and backward on random inputs and prints,
 * one JSON object per line, the inputs, weights, mask, the output and the gradients
 * for dout = R. torch_layers.py recomputes each with PyTorch and compares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/rng.h"

static ameir_rng rng;

static real *rnd(size_t n, double scale) {
    real *p = calloc(n ? n : 1, sizeof(real));
    AMEIR_ASSERT(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (real)((2 * ameir_rng_uniform(&rng) - 1) * scale);
    return p;
}

static real *zeros(size_t n) {
    real *p = calloc(n ? n : 1, sizeof(real));
    AMEIR_ASSERT(p);
    return p;
}

static void arr(const char *name, const real *p, size_t n) {
    printf(", \"%s\": [", name);
    for (size_t i = 0; i < n; i++)
        printf("%s%.17g", i ? "," : "", (double)p[i]);
    printf("]");
}

static void arr_u8(const char *name, const uint8_t *p, size_t n) {
    printf(", \"%s\": [", name);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", p[i]);
    printf("]");
}

static void arr_i32(const char *name, const int32_t *p, size_t n) {
    printf(", \"%s\": [", name);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)p[i]);
    printf("]");
}

static void head(const char *op, int B, int L, int C, int opt) {
    printf("{\"op\": \"%s\", \"B\": %d, \"L\": %d, \"C\": %d, \"opt\": %d", op, B, L, C, opt);
}

/* left padding, holes, empty, full, one event */
static uint8_t *make_mask(int B, int L) {
    uint8_t *m = calloc((size_t)B * L, 1);
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            int v = 1;
            switch (b % 5) {
            case 0: v = l >= L / 3; break;
            case 1: v = l % 3 != 1; break;
            case 2: v = 0; break;
            case 4: v = l == L - 2; break;
            default: v = 1;
            }
            m[(size_t)b * L + l] = (uint8_t)v;
        }
    return m;
}

/* inputs at padding positions are 0, as the network feeds them */
static real *seq(const uint8_t *m, int B, int L, int C) {
    real *x = rnd((size_t)B * L * C, 1.0);
    for (size_t r = 0; r < (size_t)B * L; r++)
        if (!m[r])
            memset(x + r * C, 0, (size_t)C * sizeof(real));
    return x;
}

static void dump_act(int act) {
    size_t n = 40;
    real *x = rnd(n, 4), *y = zeros(n), *R = rnd(n, 1), *dx = zeros(n);
    ameir_act_forward(y, x, n, act);
    ameir_act_backward(dx, R, x, n, act);
    head("act", 1, 1, (int)n, act);
    printf(", \"name\": \"%s\"", ameir_act_name(act));
    arr("x", x, n), arr("R", R, n), arr("out", y, n), arr("dx", dx, n);
    printf("}\n");
    free(x), free(y), free(R), free(dx);
}

static void dump_conv(int K) {
    int B = 5, L = 9, C = 4;
    uint8_t *m = make_mask(B, L);
    size_t n = (size_t)B * L * C, nw = (size_t)C * C * K;
    real *x = seq(m, B, L, C), *w = rnd(nw, 0.5), *b = rnd((size_t)C, 0.5), *R = rnd(n, 1);
    real *y = zeros(n), *dx = zeros(n), *dw = zeros(nw), *db = zeros((size_t)C);
    ameir_conv1d_forward(y, x, w, b, m, B, L, C, K);
    ameir_conv1d_backward(dx, dw, db, R, x, w, m, B, L, C, K);
    head("conv", B, L, C, K);
    arr_u8("mask", m, (size_t)B * L), arr("x", x, n), arr("w", w, nw), arr("b", b, (size_t)C), arr("R", R, n);
    arr("out", y, n), arr("dx", dx, n), arr("dw", dw, nw), arr("db", db, (size_t)C);
    printf("}\n");
    free(m), free(x), free(w), free(b), free(R), free(y), free(dx), free(dw), free(db);
}

static void dump_gru(void) {
    int B = 5, L = 7, C = 4;
    uint8_t *m = make_mask(B, L);
    size_t n = (size_t)B * L * C, nw = (size_t)3 * C * C, nb = (size_t)3 * C;
    real *x = seq(m, B, L, C), *wi = rnd(nw, 0.5), *wh = rnd(nw, 0.5), *bi = rnd(nb, 0.5), *bh = rnd(nb, 0.5);
    real *R = rnd(n, 1), *y = zeros(n), *act = zeros(ameir_gru_act_size(B, L, C));
    real *dx = zeros(n), *dwi = zeros(nw), *dwh = zeros(nw), *dbi = zeros(nb), *dbh = zeros(nb);
    ameir_gru_forward(y, act, x, wi, wh, bi, bh, m, B, L, C);
    ameir_gru_backward(dx, dwi, dwh, dbi, dbh, R, act, x, wi, wh, m, B, L, C);
    head("gru", B, L, C, 0);
    arr_u8("mask", m, (size_t)B * L), arr("x", x, n), arr("w_ih", wi, nw), arr("w_hh", wh, nw);
    arr("b_ih", bi, nb), arr("b_hh", bh, nb), arr("R", R, n), arr("out", y, n), arr("dx", dx, n);
    arr("dw_ih", dwi, nw), arr("dw_hh", dwh, nw), arr("db_ih", dbi, nb), arr("db_hh", dbh, nb);
    printf("}\n");
    free(m), free(x), free(wi), free(wh), free(bi), free(bh), free(R), free(y), free(act);
    free(dx), free(dwi), free(dwh), free(dbi), free(dbh);
}

static void dump_attention(int H) {
    int B = 5, L = 6, C = 8;
    uint8_t *m = make_mask(B, L);
    size_t n = (size_t)B * L * C, nwi = (size_t)3 * C * C, nbi = (size_t)3 * C, nwo = (size_t)C * C;
    real *x = seq(m, B, L, C), *wi = rnd(nwi, 0.5), *bi = rnd(nbi, 0.3), *wo = rnd(nwo, 0.5), *bo = rnd((size_t)C, 0.3);
    real *R = rnd(n, 1), *y = zeros(n), *act = zeros(ameir_attention_act_size(B, L, C, H));
    real *dx = zeros(n), *dwi = zeros(nwi), *dbi = zeros(nbi), *dwo = zeros(nwo), *dbo = zeros((size_t)C);
    ameir_attention_forward(y, act, x, wi, bi, wo, bo, m, B, L, C, H);
    ameir_attention_backward(dx, dwi, dbi, dwo, dbo, R, act, x, wi, wo, m, B, L, C, H);
    head("attention", B, L, C, H);
    arr_u8("mask", m, (size_t)B * L), arr("x", x, n), arr("in_w", wi, nwi), arr("in_b", bi, nbi);
    arr("out_w", wo, nwo), arr("out_b", bo, (size_t)C), arr("R", R, n), arr("out", y, n), arr("dx", dx, n);
    arr("din_w", dwi, nwi), arr("din_b", dbi, nbi), arr("dout_w", dwo, nwo), arr("dout_b", dbo, (size_t)C);
    printf("}\n");
    free(m), free(x), free(wi), free(bi), free(wo), free(bo), free(R), free(y), free(act);
    free(dx), free(dwi), free(dbi), free(dwo), free(dbo);
}

static void dump_layernorm(void) {
    int N = 7, C = 6;
    size_t n = (size_t)N * C;
    real *x = rnd(n, 2), *w = rnd((size_t)C, 1), *b = rnd((size_t)C, 1), *R = rnd(n, 1);
    real *y = zeros(n), *mean = zeros((size_t)N), *rstd = zeros((size_t)N);
    real *dx = zeros(n), *dw = zeros((size_t)C), *db = zeros((size_t)C);
    ameir_layernorm_forward(y, mean, rstd, x, w, b, NULL, N, C);
    ameir_layernorm_backward(dx, dw, db, R, x, w, mean, rstd, NULL, N, C);
    head("layernorm", N, 1, C, 0);
    arr("x", x, n), arr("w", w, (size_t)C), arr("b", b, (size_t)C), arr("R", R, n);
    arr("out", y, n), arr("dx", dx, n), arr("dw", dw, (size_t)C), arr("db", db, (size_t)C);
    printf("}\n");
    free(x), free(w), free(b), free(R), free(y), free(mean), free(rstd), free(dx), free(dw), free(db);
}

static void dump_din(void) {
    int B = 5, L = 6, C = 4;
    uint8_t *m = make_mask(B, L);
    size_t n = (size_t)B * L * C, nt = (size_t)B * C, nw1 = (size_t)AMEIR_DIN_HIDDEN * 4 * C;
    real *h = seq(m, B, L, C), *t = rnd(nt, 1), *w1 = rnd(nw1, 0.5), *b1 = rnd(AMEIR_DIN_HIDDEN, 0.5);
    real *w2 = rnd(AMEIR_DIN_HIDDEN, 0.5), *b2 = rnd(1, 0.5), *R = rnd(nt, 1), *y = zeros(nt);
    real *act = zeros(ameir_din_act_size(B, L, C)), *dh = zeros(n), *dt = zeros(nt), *dw1 = zeros(nw1);
    real *db1 = zeros(AMEIR_DIN_HIDDEN), *dw2 = zeros(AMEIR_DIN_HIDDEN), *db2 = zeros(1);
    ameir_din_forward(y, act, h, t, w1, b1, w2, b2, m, B, L, C);
    ameir_din_backward(dh, dt, dw1, db1, dw2, db2, R, act, h, t, w1, w2, m, B, L, C);
    head("din", B, L, C, 0);
    arr_u8("mask", m, (size_t)B * L), arr("x", h, n), arr("t", t, nt), arr("w1", w1, nw1);
    arr("b1", b1, AMEIR_DIN_HIDDEN), arr("w2", w2, AMEIR_DIN_HIDDEN), arr("b2", b2, 1), arr("R", R, nt);
    arr("out", y, nt), arr("dx", dh, n), arr("dt", dt, nt), arr("dw1", dw1, nw1);
    arr("db1", db1, AMEIR_DIN_HIDDEN), arr("dw2", dw2, AMEIR_DIN_HIDDEN), arr("db2", db2, 1);
    printf("}\n");
    free(m), free(h), free(t), free(w1), free(b1), free(w2), free(b2), free(R), free(y), free(act);
    free(dh), free(dt), free(dw1), free(db1), free(dw2), free(db2);
}

/* ops with only a sequence input: pools, mean, last */
static void dump_seq_only(const char *op) {
    int B = 5, L = 7, C = 3;
    uint8_t *m = make_mask(B, L);
    size_t n = (size_t)B * L * C, no = strcmp(op, "mean") == 0 || strcmp(op, "last") == 0 ? (size_t)B * C : n;
    real *x = seq(m, B, L, C), *R = rnd(no, 1), *y = zeros(no), *dx = zeros(n);
    int32_t *am = calloc(n, sizeof(int32_t));
    if (strcmp(op, "avgpool") == 0) {
        ameir_avgpool_forward(y, x, m, B, L, C);
        ameir_avgpool_backward(dx, R, m, B, L, C);
    } else if (strcmp(op, "maxpool") == 0) {
        ameir_maxpool_forward(y, am, x, m, B, L, C);
        ameir_maxpool_backward(dx, R, am, B, L, C);
    } else if (strcmp(op, "mean") == 0) {
        ameir_masked_mean_forward(y, x, m, B, L, C);
        ameir_masked_mean_backward(dx, R, m, B, L, C);
    } else {
        ameir_last_forward(y, x, m, B, L, C);
        ameir_last_backward(dx, R, m, B, L, C);
    }
    head(op, B, L, C, 0);
    arr_u8("mask", m, (size_t)B * L), arr("x", x, n), arr("R", R, no), arr("out", y, no), arr("dx", dx, n);
    printf("}\n");
    free(m), free(x), free(R), free(y), free(dx), free(am);
}

static void dump_embedding(void) {
    int N = 6, w = 3, V = 7, d = 4;
    int32_t ids[18] = {0, 3, 5, 2, 2, 6, 0, 0, 0, 1, 0, 4, 6, 5, 3, 0, 0, 2};
    real *table = rnd((size_t)V * d, 1), *R = rnd((size_t)N * d, 1), *y = zeros((size_t)N * d);
    real *dt = zeros((size_t)V * d);
    ameir_embedding_forward(y, ids, table, N, w, V, d);
    ameir_embedding_backward(dt, R, ids, N, w, V, d);
    head("embedding", N, w, d, V);
    arr_i32("ids", ids, 18), arr("table", table, (size_t)V * d), arr("R", R, (size_t)N * d);
    arr("out", y, (size_t)N * d), arr("dtable", dt, (size_t)V * d);
    printf("}\n");
    free(table), free(R), free(y), free(dt);
}

static void dump_bce(void) {
    int N = 8;
    real *z = rnd((size_t)N, 5), *y = zeros((size_t)N), *dz = zeros((size_t)N);
    for (int i = 0; i < N; i++)
        y[i] = (real)(i % 2);
    z[0] = 60, z[1] = -60;
    real loss = ameir_bce_forward(z, y, N);
    ameir_bce_backward(dz, z, y, N, 1);
    head("bce", N, 1, 1, 0);
    arr("x", z, (size_t)N), arr("labels", y, (size_t)N), arr("out", &loss, 1), arr("dx", dz, (size_t)N);
    printf("}\n");
    free(z), free(y), free(dz);
}

int main(void) {
    rng = ameir_rng_stream(2021, 6);
    for (int a = 0; a < AMEIR_ACT_COUNT; a++)
        dump_act(a);
    for (int k = 1; k <= 7; k += 2)
        dump_conv(k);
    dump_gru();
    for (int h = 1; h <= 8; h *= 2)
        dump_attention(h);
    dump_layernorm();
    dump_din();
    dump_seq_only("avgpool");
    dump_seq_only("maxpool");
    dump_seq_only("mean");
    dump_seq_only("last");
    dump_embedding();
    dump_bce();
    return 0;
}
