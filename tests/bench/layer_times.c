/* Where a training step of the bench goes, layer by layer: each layer of the bench arch
 * (configs/archs/product-bench.json) timed alone (forward, then backward) on the bench
 * shapes, one thread. Times are the thread's CPU time (best of three rounds), so other jobs
 * on a shared machine inflate them less than wall-clock time would.
 * A tool for docs/performance.md, not a test. usage: layer_times [B L d] (256 50 16) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ameir/nn.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *buf(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "layer_times: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return p;
}

#define REPS 20
/* ms per call of a statement, best of 3 rounds of REPS calls */
#define TIME(ms, stmt)                             \
    do {                                           \
        double best_ = 1e30;                       \
        for (int round_ = 0; round_ < 3; round_++) { \
            double t0_ = now();                    \
            for (int r_ = 0; r_ < REPS; r_++) {    \
                stmt;                              \
            }                                      \
            double e_ = (now() - t0_) / REPS;      \
            if (e_ < best_)                        \
                best_ = e_;                        \
        }                                          \
        (ms) = 1e3 * best_;                        \
    } while (0)

static double total_ms = 0;
static void row(const char *name, double f, double b) {
    printf("%-34s forward %7.3f ms  backward %7.3f ms\n", name, f, b);
    total_ms += f + b;
}

int main(int argc, char **argv) {
    int B = argc > 3 ? atoi(argv[1]) : 256, L = argc > 3 ? atoi(argv[2]) : 50, d = argc > 3 ? atoi(argv[3]) : 16;
    if (B <= 0 || L <= 0 || d <= 0 || d % 2) {
        fprintf(stderr, "usage: layer_times [B L d] (positive, d even)\n");
        return 2;
    }
    openblas_set_num_threads(1);
    size_t BLd = (size_t)B * L * d;
    uint8_t *mask = malloc((size_t)B * L);
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            mask[(size_t)b * L + l] = l >= L / 5;
    float *x = buf(BLd), *y = buf(BLd), *gy = buf(BLd), *gx = buf(BLd), *w = buf((size_t)3 * d * d * 7),
          *gw = buf((size_t)3 * d * d * 7), *bias = buf((size_t)3 * d), *gb = buf((size_t)3 * d), *w2 = buf((size_t)d * d),
          *gw2 = buf((size_t)d * d), *b2 = buf((size_t)3 * d), *gb2 = buf((size_t)3 * d);
    float *mean = buf((size_t)B * L), *rstd = buf((size_t)B * L);
    double f, b;

    float *aact = buf(ameir_attention_act_size(B, L, d, 2));
    TIME(f, ameir_attention_forward(y, aact, x, w, bias, w2, b2, mask, B, L, d, 2));
    TIME(b, ameir_attention_backward(gx, gw, gb, gw2, gb2, gy, aact, x, w, w2, mask, B, L, d, 2));
    row("attention, 2 heads", f, b);
    TIME(f, ameir_layernorm_forward(y, mean, rstd, x, w, bias, mask, B * L, d));
    TIME(b, ameir_layernorm_backward(gx, gw, gb, gy, x, w, mean, rstd, mask, B * L, d));
    row("layernorm", f, b);
    TIME(f, ameir_act_forward(y, x, BLd, AMEIR_ACT_GELU));
    TIME(b, ameir_act_backward(gx, gy, x, BLd, AMEIR_ACT_GELU));
    row("gelu over (B, L, d)", f, b);
    TIME(f, ameir_conv1d_forward(y, x, w, bias, mask, B, L, d, 3));
    TIME(b, ameir_conv1d_backward(gx, gw, gb, gy, x, w, mask, B, L, d, 3));
    row("conv, kernel 3", f, b);
    TIME(f, ameir_act_forward(y, x, BLd, AMEIR_ACT_RELU));
    TIME(b, ameir_act_backward(gx, gy, x, BLd, AMEIR_ACT_RELU));
    row("relu over (B, L, d)", f, b);
    float *gact = buf(ameir_gru_act_size(B, L, d));
    TIME(f, ameir_gru_forward(y, gact, x, w, w + (size_t)3 * d * d, bias, b2, mask, B, L, d));
    TIME(b, ameir_gru_backward(gx, gw, gw + (size_t)3 * d * d, gb, gb2, gy, gact, x, w, w + (size_t)3 * d * d, mask, B,
                               L, d));
    row("gru", f, b);
    float *dact = buf(ameir_din_act_size(B, L, d)), *t = buf((size_t)B * d), *gt = buf((size_t)B * d),
          *o = buf((size_t)B * d), *dw1 = buf((size_t)AMEIR_DIN_HIDDEN * 4 * d), *gdw1 = buf((size_t)AMEIR_DIN_HIDDEN * 4 * d);
    TIME(f, ameir_din_forward(o, dact, x, t, dw1, bias, bias, bias, mask, B, L, d));
    TIME(b, ameir_din_backward(gx, gt, gdw1, gb, gb2, gb2, o, dact, x, t, dw1, bias, mask, B, L, d));
    row("target attention (DIN)", f, b);
    /* MLP: input 8 fields + behaviour + 4 interactions = 13 d, then 256 relu, 128 swish, 1 */
    int D0 = 13 * d, U1 = 256, U2 = 128;
    float *z0 = buf((size_t)B * D0), *u1 = buf((size_t)B * U1), *u2 = buf((size_t)B * U2), *gz0 = buf((size_t)B * D0),
          *gu1 = buf((size_t)B * U1), *gu2 = buf((size_t)B * U2), *W1 = buf((size_t)U1 * D0), *W2 = buf((size_t)U2 * U1),
          *W3 = buf(U2), *G1 = buf((size_t)U1 * D0), *G2 = buf((size_t)U2 * U1), *G3 = buf(U2), *bb = buf(U1),
          *gbb = buf(U1), *lg = buf(B), *glg = buf(B);
    TIME(f, (ameir_linear_forward(u1, z0, W1, bb, B, D0, U1), ameir_act_forward(u1, u1, (size_t)B * U1, AMEIR_ACT_RELU),
             ameir_linear_forward(u2, u1, W2, bb, B, U1, U2), ameir_act_forward(u2, u2, (size_t)B * U2, AMEIR_ACT_SWISH),
             ameir_linear_forward(lg, u2, W3, bb, B, U2, 1)));
    TIME(b, (ameir_linear_backward(gu2, G3, gbb, glg, u2, W3, B, U2, 1),
             ameir_act_backward(gu2, gu2, u2, (size_t)B * U2, AMEIR_ACT_SWISH),
             ameir_linear_backward(gu1, G2, gbb, gu2, u1, W2, B, U1, U2),
             ameir_act_backward(gu1, gu1, u1, (size_t)B * U1, AMEIR_ACT_RELU),
             ameir_linear_backward(gz0, G1, gbb, gu1, z0, W1, B, D0, U1)));
    row("MLP 256 relu, 128 swish, 1", f, b);
    /* Adam over the dense parameters (about 85k for this arch) */
    size_t np = 85000;
    float *P = buf(np), *M = buf(np), *V = buf(np), *GG = buf(np);
    ameir_adam_opts ao = {1e-3f, 0.9f, 0.999f, 1e-8f};
    TIME(f, ameir_adam_dense(P, M, V, GG, np, &ao, 5));
    row("Adam, 85k dense parameters", f, 0);
    printf("%-34s %7.3f ms per step (%.0f samples/s if nothing else ran)\n", "sum", total_ms,
           1e3 * B / total_ms);
    return 0;
}
