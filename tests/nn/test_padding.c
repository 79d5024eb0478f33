/* Padding invariants of every sequence op (float build), on the bench's d = 16 with
 * masks holding left padding, holes, a single event and a fully empty history:
 * - outputs at padding positions are exactly 0; an empty row aggregates to 0;
 * - nothing is NaN or infinite;
 * - no op reads a padding value: filling padding inputs with large garbage changes
 *   neither the outputs nor any gradient (compared bit for bit);
 * - the input gradient at padding positions is 0.
 * Dropout with p = 0 is an exact copy with an all-ones mask. */
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/rng.h"

enum { B = 6, L = 12, C = 16 };
enum { OP_CONV, OP_GRU, OP_AVG, OP_MAX, OP_ATT, OP_LN, OP_DIN, OP_MEAN, OP_LAST, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"conv", "gru", "avgpool", "maxpool", "attention",
                                               "layernorm", "din", "mean", "last"};

static uint8_t mask[B * L];

static void make_mask(void) {
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            uint8_t v = 1;
            switch (b) {
            case 0: v = l >= L / 5; break;          /* left padding, as the bench */
            case 1: v = (l % 4) != 1; break;        /* holes */
            case 2: v = 0; break;                   /* empty history */
            case 3: v = l == L - 1; break;          /* one event, last */
            case 4: v = l == 0; break;              /* one event, first */
            default: v = 1;
            }
            mask[b * L + l] = v;
        }
}

static void fill(real *p, size_t n, uint64_t stream, double scale) {
    ameir_rng r = ameir_rng_stream(77, stream);
    for (size_t i = 0; i < n; i++)
        p[i] = (real)((2 * ameir_rng_uniform(&r) - 1) * scale);
}

/* One forward and backward of op (option opt) on x; weights are the same every call.
 * out (B*L*C, or B*C for aggregations), dx (B*L*C), dw (all weight gradients, up to
 * nw values). Returns the number of output values. */
static size_t run_op(int op, int opt, const real *x, real *out, real *dx, real *dw, size_t nw) {
    real *w = calloc(nw, sizeof(real)), *g = calloc((size_t)B * L * C, sizeof(real));
    real *act = NULL;
    int32_t *argmax = NULL;
    AMEIR_ASSERT(w && g);
    fill(w, nw, 1, 0.4);
    fill(g, (size_t)B * L * C, 2, 1.0);
    memset(dx, 0, (size_t)B * L * C * sizeof(real));
    memset(dw, 0, nw * sizeof(real));
    size_t n = (size_t)B * L * C;
    size_t C3C = (size_t)3 * C * C;
    switch (op) {
    case OP_CONV:
        ameir_conv1d_forward(out, x, w, w + (size_t)C * C * opt, mask, B, L, C, opt);
        ameir_conv1d_backward(dx, dw, dw + (size_t)C * C * opt, g, x, w, mask, B, L, C, opt);
        break;
    case OP_GRU:
        act = calloc(ameir_gru_act_size(B, L, C), sizeof(real));
        ameir_gru_forward(out, act, x, w, w + C3C, w + 2 * C3C, w + 2 * C3C + 3 * C, mask, B, L, C);
        ameir_gru_backward(dx, dw, dw + C3C, dw + 2 * C3C, dw + 2 * C3C + 3 * C, g, act, x, w, w + C3C, mask, B, L, C);
        break;
    case OP_AVG:
        ameir_avgpool_forward(out, x, mask, B, L, C);
        ameir_avgpool_backward(dx, g, mask, B, L, C);
        break;
    case OP_MAX:
        argmax = calloc(n, sizeof(int32_t));
        ameir_maxpool_forward(out, argmax, x, mask, B, L, C);
        ameir_maxpool_backward(dx, g, argmax, B, L, C);
        break;
    case OP_ATT:
        act = calloc(ameir_attention_act_size(B, L, C, opt), sizeof(real));
        ameir_attention_forward(out, act, x, w, w + C3C, w + C3C + 3 * C, w + C3C + 3 * C + C * C, mask, B, L, C, opt);
        ameir_attention_backward(dx, dw, dw + C3C, dw + C3C + 3 * C, dw + C3C + 3 * C + C * C, g, act, x, w,
                                 w + C3C + 3 * C, mask, B, L, C, opt);
        break;
    case OP_LN: {
        real mean[B * L], rstd[B * L];
        ameir_layernorm_forward(out, mean, rstd, x, w, w + C, mask, B * L, C);
        ameir_layernorm_backward(dx, dw, dw + C, g, x, w, mean, rstd, mask, B * L, C);
        break;
    }
    case OP_DIN: {
        /* the target is weights[0..C*B) here, so that its gradient is compared too */
        size_t nw1 = (size_t)AMEIR_DIN_HIDDEN * 4 * C;
        real *t = w, *w1 = t + B * C, *b1 = w1 + nw1, *w2 = b1 + AMEIR_DIN_HIDDEN, *b2 = w2 + AMEIR_DIN_HIDDEN;
        real *dt = dw, *dw1 = dt + B * C, *db1 = dw1 + nw1, *dw2 = db1 + AMEIR_DIN_HIDDEN, *db2 = dw2 + AMEIR_DIN_HIDDEN;
        act = calloc(ameir_din_act_size(B, L, C), sizeof(real));
        ameir_din_forward(out, act, x, t, w1, b1, w2, b2, mask, B, L, C);
        ameir_din_backward(dx, dt, dw1, db1, dw2, db2, g, act, x, t, w1, w2, mask, B, L, C);
        n = (size_t)B * C;
        break;
    }
    case OP_MEAN:
        ameir_masked_mean_forward(out, x, mask, B, L, C);
        ameir_masked_mean_backward(dx, g, mask, B, L, C);
        n = (size_t)B * C;
        break;
    case OP_LAST:
        ameir_last_forward(out, x, mask, B, L, C);
        ameir_last_backward(dx, g, mask, B, L, C);
        n = (size_t)B * C;
        break;
    default:
        AMEIR_ASSERT(!"unknown op");
    }
    free(w), free(g), free(act), free(argmax);
    return n;
}

static int all_finite(const real *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return 0;
    return 1;
}

static void check_op(int op, int opt) {
    const size_t n = (size_t)B * L * C, nw = 8 * C * C * 8 + 4096;
    real *x = malloc(n * sizeof(real)), *xg = malloc(n * sizeof(real));
    real *o1 = malloc(n * sizeof(real)), *o2 = malloc(n * sizeof(real));
    real *dx1 = malloc(n * sizeof(real)), *dx2 = malloc(n * sizeof(real));
    real *dw1 = malloc(nw * sizeof(real)), *dw2 = malloc(nw * sizeof(real));
    AMEIR_ASSERT(x && xg && o1 && o2 && dx1 && dx2 && dw1 && dw2);
    fill(x, n, 3, 1.0);
    fill(xg, n, 4, 1e4);
    for (size_t r = 0; r < (size_t)B * L; r++) {
        if (!mask[r])
            memset(x + r * C, 0, C * sizeof(real)); /* clean input: zeros at padding */
        else
            memcpy(xg + r * C, x + r * C, C * sizeof(real)); /* garbage only at padding */
    }
    size_t no = run_op(op, opt, x, o1, dx1, dw1, nw);
    run_op(op, opt, xg, o2, dx2, dw2, nw);
    int aggregate = no == (size_t)B * C;
    int pad_out_nonzero = 0, pad_grad_nonzero = 0, empty_nonzero = 0;
    for (size_t r = 0; r < (size_t)B * L; r++)
        for (int c = 0; c < C; c++) {
            if (!mask[r] && dx1[r * C + c] != 0)
                pad_grad_nonzero++;
            if (!aggregate && !mask[r] && (o1[r * C + c] != 0 || o2[r * C + c] != 0))
                pad_out_nonzero++;
        }
    if (aggregate)
        for (int c = 0; c < C; c++) /* row 2 has no event */
            empty_nonzero += o1[2 * C + c] != 0 || o2[2 * C + c] != 0;
    char label[64];
    snprintf(label, sizeof label, "%s %d", op_names[op], opt);
    int finite = all_finite(o1, no) && all_finite(o2, no) && all_finite(dx1, n) && all_finite(dw1, nw) &&
                 all_finite(dx2, n) && all_finite(dw2, nw);
    int same = memcmp(o1, o2, no * sizeof(real)) == 0 && memcmp(dw1, dw2, nw * sizeof(real)) == 0;
    for (size_t r = 0; r < (size_t)B * L; r++)
        if (mask[r] && memcmp(dx1 + r * C, dx2 + r * C, C * sizeof(real)) != 0)
            same = 0;
    if (!finite || !same || pad_out_nonzero || pad_grad_nonzero || empty_nonzero)
        fprintf(stderr, "%s: finite %d, unaffected by padding values %d, non-zero padding outputs %d, "
                        "non-zero padding gradients %d, non-zero empty-row outputs %d\n",
                label, finite, same, pad_out_nonzero, pad_grad_nonzero, empty_nonzero);
    CHECK(finite);
    CHECK(same);
    CHECK_EQ_INT(pad_out_nonzero, 0);
    CHECK_EQ_INT(pad_grad_nonzero, 0);
    CHECK_EQ_INT(empty_nonzero, 0);
    free(x), free(xg), free(o1), free(o2), free(dx1), free(dx2), free(dw1), free(dw2);
}

static void test_dropout_p0(void) {
    real x[37], y[37];
    uint8_t m[37];
    fill(x, 37, 9, 2.0);
    ameir_dropout_forward(y, m, x, 37, 0, NULL);
    CHECK(memcmp(x, y, sizeof x) == 0);
    int ones = 0;
    for (int i = 0; i < 37; i++)
        ones += m[i] == 1;
    CHECK_EQ_INT(ones, 37);
    /* p = 0.5 with the same stream twice gives the same mask, and drops about half */
    enum { N = 4000 };
    static real a[N], b[N];
    static uint8_t ma[N], mb[N];
    fill(a, N, 10, 1.0);
    ameir_rng r1 = ameir_rng_stream(3, 4), r2 = ameir_rng_stream(3, 4);
    ameir_dropout_forward(b, ma, a, N, (real)0.5, &r1);
    ameir_dropout_forward(b, mb, a, N, (real)0.5, &r2);
    CHECK(memcmp(ma, mb, N) == 0);
    int kept = 0;
    for (int i = 0; i < N; i++)
        kept += ma[i];
    CHECK(kept > N * 45 / 100 && kept < N * 55 / 100);
}

int main(void) {
    make_mask();
    const int ks[] = {1, 3, 5, 7}, hs[] = {1, 2, 4, 8};
    for (int i = 0; i < 4; i++) {
        check_op(OP_CONV, ks[i]);
        check_op(OP_ATT, hs[i]);
    }
    for (int op = 0; op < OP_COUNT; op++)
        if (op != OP_CONV && op != OP_ATT)
            check_op(op, 0);
    test_dropout_p0();
    return check_finish("padding invariants");
}
