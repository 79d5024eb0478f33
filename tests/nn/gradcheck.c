/* Gradient checks: every layer's analytic backward against central finite differences,
 * in double (this file links ameir_nn64, the layers built with real = double).
 *
 * usage: test_gradcheck OP [OPTION] [big] [lead], e.g. `conv k=3`, `attention heads=4`, `act gelu`;
 * `big` (conv and din) runs at the bench's L = 50, d = 16 (se: 130 segments of 16), past the
 * stack-buffer chunks those kernels work in, and checks about 200 evenly spaced elements per tensor.
 * The loss is a random linear functional of the output, loss = sum(out * R), so the
 * backward pass runs with dout = R. Inputs are random, masks hold left padding,
 * holes and a fully empty history row, and the values at padding positions are
 * random too (an op that read them would show a gradient there).
 * For every input and weight tensor and every element, the relative error is
 * |analytic - numeric| / max(|analytic|, |numeric|, 1e-3); the worst per tensor is
 * printed, and a value above the op's tolerance fails with the element and both values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/rng.h"

#define GC_MAX_TENSORS 8
#define GC_STEP 1e-5
#define GC_FLOOR 1e-3
#define GC_SAMPLES 200
#ifndef GC_SEED
#define GC_SEED 20210601 /* -DGC_SEED=... re-runs the checks on other random inputs */
#endif

typedef struct gc_tensor {
    const char *name;
    real *x, *g;
    size_t n;
} gc_tensor;

/* Everything an op needs; each op fills what it uses. */
typedef struct gc_state {
    int B, L, C, F, K, H, w, V, act, k, nrows;
    real p;
    uint8_t *mask;
    int32_t *ids, *argmax, *rows;
    int fields[4];
    uint8_t *dmask;
    real *x, *t, *w1, *b1, *w2, *b2, *w3, *b3;
    real *dx, *dt, *dw1, *db1, *dw2, *db2, *dw3, *db3;
    real *out, *R, *act_buf, *mean, *rstd;
    size_t nout;
    gc_tensor tensors[GC_MAX_TENSORS];
    int nt;
    void (*fwd)(struct gc_state *);
    void (*bwd)(struct gc_state *);
    double tol, step;
} gc_state;

static ameir_rng gc_rng;

static real *rnd(size_t n, double scale) {
    real *p = calloc(n ? n : 1, sizeof(real));
    AMEIR_ASSERT(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (real)((2 * ameir_rng_uniform(&gc_rng) - 1) * scale);
    return p;
}

static real *zeros(size_t n) {
    real *p = calloc(n ? n : 1, sizeof(real));
    AMEIR_ASSERT(p);
    return p;
}

/* with `lead`, every row's first two positions are padding too: the GRU then skips its
 * first steps and attention works on the rows' real ranges */
static int gc_lead = 0;

/* B = 4 rows: left padding (as the bench schema), holes, all padding, all real */
static uint8_t *make_mask(int B, int L) {
    uint8_t *m = calloc((size_t)B * L, 1);
    AMEIR_ASSERT(m && B >= 4 && L >= 4);
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            uint8_t v;
            switch (b % 4) {
            case 0: v = l >= L / 3; break;
            case 1: v = (l % 3) != 1; break;
            case 2: v = 0; break;
            default: v = 1;
            }
            m[(size_t)b * L + l] = v && (!gc_lead || l >= 2);
        }
    return m;
}

static void add_tensor(gc_state *s, const char *name, real *x, real *g, size_t n) {
    AMEIR_ASSERT(s->nt < GC_MAX_TENSORS);
    s->tensors[s->nt++] = (gc_tensor){name, x, g, n};
}

static double gc_loss(gc_state *s) {
    s->fwd(s);
    double sum = 0;
    for (size_t i = 0; i < s->nout; i++)
        sum += (double)s->out[i] * (double)s->R[i];
    return sum;
}

static void gc_run(gc_state *s, const char *label) {
    s->fwd(s);
    s->bwd(s);
    /* backward accumulates: a second call must double every gradient */
    size_t total = 0;
    for (int t = 0; t < s->nt; t++)
        total += s->tensors[t].n;
    real *first = zeros(total);
    size_t off = 0;
    for (int t = 0; t < s->nt; t++) {
        memcpy(first + off, s->tensors[t].g, s->tensors[t].n * sizeof(real));
        off += s->tensors[t].n;
    }
    s->bwd(s);
    off = 0;
    for (int t = 0; t < s->nt; t++) {
        gc_tensor *T = &s->tensors[t];
        int bad = 0;
        for (size_t i = 0; i < T->n; i++) {
            double want = 2 * (double)first[off + i];
            if (fabs((double)T->g[i] - want) > 1e-12 * (1 + fabs(want)))
                bad = 1;
            T->g[i] = first[off + i];
        }
        if (bad)
            fprintf(stderr, "%s: %s: backward does not accumulate (+=)\n", label, T->name);
        CHECK(!bad);
        off += T->n;
    }
    free(first);

    for (int t = 0; t < s->nt; t++) {
        gc_tensor *T = &s->tensors[t];
        double worst = 0, wa = 0, wn = 0;
        size_t wi = 0;
        /* large tensors: about GC_SAMPLES evenly spaced elements from a random offset */
        size_t stride = T->n > GC_SAMPLES ? (T->n + GC_SAMPLES - 1) / GC_SAMPLES : 1;
        size_t start = stride > 1 ? (size_t)ameir_rng_below(&gc_rng, stride) : 0;
        for (size_t i = start; i < T->n; i += stride) {
            real keep = T->x[i];
            T->x[i] = keep + (real)s->step;
            double lp = gc_loss(s);
            T->x[i] = keep - (real)s->step;
            double lm = gc_loss(s);
            T->x[i] = keep;
            double num = (lp - lm) / (2 * s->step), ana = (double)T->g[i];
            double den = fabs(ana) > fabs(num) ? fabs(ana) : fabs(num);
            if (den < GC_FLOOR)
                den = GC_FLOOR;
            double err = fabs(ana - num) / den;
            if (i == start || !(err <= worst)) { /* NaN counts as worst */
                worst = err;
                wa = ana;
                wn = num;
                wi = i;
            }
        }
        if (!(worst <= s->tol)) {
            check_failures++;
            fprintf(stderr, "FAIL %s: tensor %s[%zu]: analytic %.10g, numeric %.10g, rel err %.3g > tol %.1g\n",
                    label, T->name, wi, wa, wn, worst, s->tol);
        } else {
            printf("%s: %-8s worst rel err %.3g at [%zu] (tol %.1g)\n", label, T->name, worst, wi, s->tol);
        }
        check_count++;
    }
}

/* ---- ops ---- */

static void f_act(gc_state *s) { ameir_act_forward(s->out, s->x, s->nout, s->act); }
/* and the written form equals the added one into zeros, bit for bit */
static void b_act(gc_state *s) {
    real *set = zeros(s->nout), *added = zeros(s->nout);
    ameir_act_grad(set, s->R, s->x, s->nout, s->act);
    ameir_act_backward(added, s->R, s->x, s->nout, s->act);
    CHECK(!memcmp(set, added, s->nout * sizeof(real)));
    free(set);
    free(added);
    ameir_act_backward(s->dx, s->R, s->x, s->nout, s->act);
}

static void f_emb(gc_state *s) { ameir_embedding_forward(s->out, s->ids, s->w1, s->B, s->w, s->V, s->C); }
static void b_emb(gc_state *s) { ameir_embedding_backward(s->dw1, s->R, s->ids, s->B, s->w, s->V, s->C); }

static void f_lin(gc_state *s) { ameir_linear_forward(s->out, s->x, s->w1, s->b1, s->B, s->C, s->K); }
static void b_lin(gc_state *s) { ameir_linear_backward(s->dx, s->dw1, s->db1, s->R, s->x, s->w1, s->B, s->C, s->K); }

static void f_conv(gc_state *s) { ameir_conv1d_forward(s->out, s->x, s->w1, s->b1, s->mask, s->B, s->L, s->C, s->K); }
static void b_conv(gc_state *s) {
    ameir_conv1d_backward(s->dx, s->dw1, s->db1, s->R, s->x, s->w1, s->mask, s->B, s->L, s->C, s->K);
}

static void f_gru(gc_state *s) {
    ameir_gru_forward(s->out, s->act_buf, s->x, s->w1, s->w2, s->b1, s->b2, s->mask, s->B, s->L, s->C);
}
static void b_gru(gc_state *s) {
    /* called twice after one forward by the accumulation check: backward may use act's
     * scratch but must keep what it reads */
    ameir_gru_backward(s->dx, s->dw1, s->dw2, s->db1, s->db2, s->R, s->act_buf, s->x, s->w1, s->w2, s->mask, s->B,
                       s->L, s->C);
}

static void f_avg(gc_state *s) { ameir_avgpool_forward(s->out, s->x, s->mask, s->B, s->L, s->C); }
static void b_avg(gc_state *s) { ameir_avgpool_backward(s->dx, s->R, s->mask, s->B, s->L, s->C); }
static void f_max(gc_state *s) { ameir_maxpool_forward(s->out, s->argmax, s->x, s->mask, s->B, s->L, s->C); }
static void b_max(gc_state *s) { ameir_maxpool_backward(s->dx, s->R, s->argmax, s->B, s->L, s->C); }

static void f_att(gc_state *s) {
    ameir_attention_forward(s->out, s->act_buf, s->x, s->w1, s->b1, s->w2, s->b2, s->mask, s->B, s->L, s->C, s->H);
}
static void b_att(gc_state *s) {
    ameir_attention_backward(s->dx, s->dw1, s->db1, s->dw2, s->db2, s->R, s->act_buf, s->x, s->w1, s->w2, s->mask,
                             s->B, s->L, s->C, s->H);
}

static void f_ln(gc_state *s) {
    ameir_layernorm_forward(s->out, s->mean, s->rstd, s->x, s->w1, s->b1, s->mask, s->B * s->L, s->C);
}
static void b_ln(gc_state *s) {
    ameir_layernorm_backward(s->dx, s->dw1, s->db1, s->R, s->x, s->w1, s->mean, s->rstd, s->mask, s->B * s->L, s->C);
}

static void f_din(gc_state *s) {
    ameir_din_forward(s->out, s->act_buf, s->x, s->t, s->w1, s->b1, s->w2, s->b2, s->mask, s->B, s->L, s->C);
}
static void b_din(gc_state *s) {
    ameir_din_backward(s->dx, s->dt, s->dw1, s->db1, s->dw2, s->db2, s->R, s->act_buf, s->x, s->t, s->w1, s->w2,
                       s->mask, s->B, s->L, s->C);
}

static void f_se(gc_state *s) {
    ameir_se_forward(s->out, s->act_buf, s->x, s->w1, s->b1, s->w2, s->b2, s->B, s->F, s->C, s->k);
}
static void b_se(gc_state *s) {
    ameir_se_backward(s->dx, s->dw1, s->db1, s->dw2, s->db2, s->R, s->act_buf, s->x, s->w1, s->w2, s->B, s->F, s->C,
                      s->k);
}

static void f_mean(gc_state *s) { ameir_masked_mean_forward(s->out, s->x, s->mask, s->B, s->L, s->C); }
static void b_mean(gc_state *s) { ameir_masked_mean_backward(s->dx, s->R, s->mask, s->B, s->L, s->C); }
static void f_last(gc_state *s) { ameir_last_forward(s->out, s->x, s->mask, s->B, s->L, s->C); }
static void b_last(gc_state *s) { ameir_last_backward(s->dx, s->R, s->mask, s->B, s->L, s->C); }

static void f_had(gc_state *s) { ameir_hadamard_forward(s->out, s->x, s->fields, s->k, s->B, s->F, s->C); }
static void b_had(gc_state *s) { ameir_hadamard_backward(s->dx, s->R, s->x, s->fields, s->k, s->B, s->F, s->C); }

/* scalar losses: out (1) = the loss; R[0] scales the gradient */
static void f_bce(gc_state *s) { s->out[0] = ameir_bce_forward(s->x, s->t, s->B); }
static void b_bce(gc_state *s) { ameir_bce_backward(s->dx, s->x, s->t, s->B, s->R[0]); }

static void f_drop(gc_state *s) {
    /* the same stream every call, so every forward draws the same mask */
    ameir_rng r = ameir_rng_stream(99, 1);
    ameir_dropout_forward(s->out, s->dmask, s->x, s->nout, s->p, &r);
}
static void b_drop(gc_state *s) { ameir_dropout_backward(s->dx, s->R, s->dmask, s->nout, s->p); }

static void f_l2(gc_state *s) { s->out[0] = ameir_l2_rows(NULL, s->x, s->rows, s->nrows, s->C, s->p); }
static void b_l2(gc_state *s) {
    /* the gradient comes out scaled by lambda only: R is 1 for this op */
    ameir_l2_rows(s->dx, s->x, s->rows, s->nrows, s->C, s->p);
}

/* option "k=3" -> 3 */
static int opt_int(const char *opt, const char *key, int dflt) {
    size_t n = strlen(key);
    if (opt && strncmp(opt, key, n) == 0 && opt[n] == '=')
        return atoi(opt + n + 1);
    return dflt;
}

static void seq_input(gc_state *s, int B, int L, int C) {
    s->B = B;
    s->L = L;
    s->C = C;
    s->mask = make_mask(B, L);
    s->x = rnd((size_t)B * L * C, 1.0);
    s->dx = zeros((size_t)B * L * C);
}

/* Set up the op; returns 0 or -1 for an unknown op/option. */
static int gc_setup(gc_state *s, const char *op, const char *opt, int big) {
    memset(s, 0, sizeof *s);
    /* Per-op tolerances. Central differences with step 1e-5 in double leave about
     * 1e-9 relative error on ops that are linear in the perturbed value; ops with
     * exp, tanh, erf, softmax or a normalisation chain get 1e-6, the rest 1e-7. */
    s->tol = 1e-7;
    size_t n;
    if (strcmp(op, "act") == 0) {
        s->tol = 1e-6;
        s->act = ameir_act_from_name(opt);
        if (s->act < 0)
            return -1;
        s->nout = 60;
        s->x = rnd(s->nout, 3.0);
        s->dx = zeros(s->nout);
        s->fwd = f_act;
        s->bwd = b_act;
        add_tensor(s, "inp", s->x, s->dx, s->nout);
    } else if (strcmp(op, "embedding") == 0) {
        s->w = opt_int(opt, "w", 1);
        s->B = 6, s->V = 7, s->C = 3;
        s->ids = calloc((size_t)s->B * s->w, sizeof(int32_t));
        for (int i = 0; i < s->B * s->w; i++)
            s->ids[i] = (int32_t)ameir_rng_below(&gc_rng, (uint64_t)s->V);
        s->ids[0] = 0; /* row 0: first id padding; a later row all padding */
        for (int j = 0; j < s->w; j++)
            s->ids[2 * s->w + j] = 0;
        if (s->w > 2)
            s->ids[3 * s->w] = s->ids[3 * s->w + 1] = 5; /* the same id twice in one row */
        s->w1 = rnd((size_t)s->V * s->C, 1.0);
        s->dw1 = zeros((size_t)s->V * s->C);
        s->nout = (size_t)s->B * s->C;
        s->fwd = f_emb;
        s->bwd = b_emb;
        add_tensor(s, "table", s->w1, s->dw1, (size_t)s->V * s->C);
    } else if (strcmp(op, "linear") == 0) {
        s->B = 5, s->C = 7, s->K = 4;
        s->x = rnd((size_t)s->B * s->C, 1.0), s->dx = zeros((size_t)s->B * s->C);
        s->w1 = rnd((size_t)s->K * s->C, 0.5), s->dw1 = zeros((size_t)s->K * s->C);
        s->b1 = rnd((size_t)s->K, 0.5), s->db1 = zeros((size_t)s->K);
        s->nout = (size_t)s->B * s->K;
        s->fwd = f_lin;
        s->bwd = b_lin;
        add_tensor(s, "inp", s->x, s->dx, (size_t)s->B * s->C);
        add_tensor(s, "weight", s->w1, s->dw1, (size_t)s->K * s->C);
        add_tensor(s, "bias", s->b1, s->db1, (size_t)s->K);
    } else if (strcmp(op, "conv") == 0) {
        s->K = opt_int(opt, "k", -1);
        if (ameir_nn_check_conv(4, s->K) < 0)
            return -1;
        if (big)
            seq_input(s, 8, 50, 16);
        else
            seq_input(s, 4, 8, 4);
        n = (size_t)s->C * s->C * s->K;
        s->w1 = rnd(n, 0.5), s->dw1 = zeros(n);
        s->b1 = rnd((size_t)s->C, 0.5), s->db1 = zeros((size_t)s->C);
        s->nout = (size_t)s->B * s->L * s->C;
        s->fwd = f_conv;
        s->bwd = b_conv;
        add_tensor(s, "inp", s->x, s->dx, s->nout);
        add_tensor(s, "weight", s->w1, s->dw1, n);
        add_tensor(s, "bias", s->b1, s->db1, (size_t)s->C);
    } else if (strcmp(op, "gru") == 0) {
        s->tol = 1e-6;
        seq_input(s, 4, 6, 4);
        n = (size_t)3 * s->C * s->C;
        s->w1 = rnd(n, 0.6), s->dw1 = zeros(n);
        s->w2 = rnd(n, 0.6), s->dw2 = zeros(n);
        s->b1 = rnd((size_t)3 * s->C, 0.5), s->db1 = zeros((size_t)3 * s->C);
        s->b2 = rnd((size_t)3 * s->C, 0.5), s->db2 = zeros((size_t)3 * s->C);
        s->act_buf = zeros(ameir_gru_act_size(s->B, s->L, s->C));
        s->nout = (size_t)s->B * s->L * s->C;
        s->fwd = f_gru;
        s->bwd = b_gru;
        add_tensor(s, "inp", s->x, s->dx, s->nout);
        add_tensor(s, "w_ih", s->w1, s->dw1, n);
        add_tensor(s, "w_hh", s->w2, s->dw2, n);
        add_tensor(s, "b_ih", s->b1, s->db1, (size_t)3 * s->C);
        add_tensor(s, "b_hh", s->b2, s->db2, (size_t)3 * s->C);
    } else if (strcmp(op, "avgpool") == 0 || strcmp(op, "maxpool") == 0) {
        seq_input(s, 4, 7, 3);
        s->nout = (size_t)s->B * s->L * s->C;
        s->argmax = calloc(s->nout, sizeof(int32_t));
        s->fwd = op[0] == 'a' ? f_avg : f_max;
        s->bwd = op[0] == 'a' ? b_avg : b_max;
        add_tensor(s, "inp", s->x, s->dx, s->nout);
    } else if (strcmp(op, "attention") == 0) {
        s->tol = 1e-6;
        s->H = opt_int(opt, "heads", -1);
        if (ameir_nn_check_attention(8, s->H) < 0)
            return -1;
        seq_input(s, 4, 6, 8);
        n = (size_t)3 * s->C * s->C;
        s->w1 = rnd(n, 0.5), s->dw1 = zeros(n);
        s->b1 = rnd((size_t)3 * s->C, 0.3), s->db1 = zeros((size_t)3 * s->C);
        s->w2 = rnd((size_t)s->C * s->C, 0.5), s->dw2 = zeros((size_t)s->C * s->C);
        s->b2 = rnd((size_t)s->C, 0.3), s->db2 = zeros((size_t)s->C);
        s->act_buf = zeros(ameir_attention_act_size(s->B, s->L, s->C, s->H));
        s->nout = (size_t)s->B * s->L * s->C;
        s->fwd = f_att;
        s->bwd = b_att;
        add_tensor(s, "inp", s->x, s->dx, s->nout);
        add_tensor(s, "in_w", s->w1, s->dw1, n);
        add_tensor(s, "in_b", s->b1, s->db1, (size_t)3 * s->C);
        add_tensor(s, "out_w", s->w2, s->dw2, (size_t)s->C * s->C);
        add_tensor(s, "out_b", s->b2, s->db2, (size_t)s->C);
    } else if (strcmp(op, "layernorm") == 0) {
        s->tol = 1e-6;
        if (!opt || (strcmp(opt, "mask") != 0 && strcmp(opt, "nomask") != 0))
            return -1;
        seq_input(s, 4, 5, 6);
        if (strcmp(opt, "nomask") == 0) {
            free(s->mask);
            s->mask = NULL;
        }
        s->w1 = rnd((size_t)s->C, 1.0), s->dw1 = zeros((size_t)s->C);
        s->b1 = rnd((size_t)s->C, 1.0), s->db1 = zeros((size_t)s->C);
        s->mean = zeros((size_t)s->B * s->L), s->rstd = zeros((size_t)s->B * s->L);
        s->nout = (size_t)s->B * s->L * s->C;
        s->fwd = f_ln;
        s->bwd = b_ln;
        add_tensor(s, "inp", s->x, s->dx, s->nout);
        add_tensor(s, "weight", s->w1, s->dw1, (size_t)s->C);
        add_tensor(s, "bias", s->b1, s->db1, (size_t)s->C);
    } else if (strcmp(op, "din") == 0) {
        s->tol = 1e-6;
        if (big)
            seq_input(s, 8, 50, 16);
        else
            seq_input(s, 4, 5, 3);
        s->t = rnd((size_t)s->B * s->C, 1.0), s->dt = zeros((size_t)s->B * s->C);
        n = (size_t)AMEIR_DIN_HIDDEN * 4 * s->C;
        s->w1 = rnd(n, 0.5), s->dw1 = zeros(n);
        s->b1 = rnd(AMEIR_DIN_HIDDEN, 0.5), s->db1 = zeros(AMEIR_DIN_HIDDEN);
        s->w2 = rnd(AMEIR_DIN_HIDDEN, 0.5), s->dw2 = zeros(AMEIR_DIN_HIDDEN);
        s->b2 = rnd(1, 0.5), s->db2 = zeros(1);
        s->act_buf = zeros(ameir_din_act_size(s->B, s->L, s->C));
        s->nout = (size_t)s->B * s->C;
        s->fwd = f_din;
        s->bwd = b_din;
        add_tensor(s, "h", s->x, s->dx, (size_t)s->B * s->L * s->C);
        add_tensor(s, "t", s->t, s->dt, (size_t)s->B * s->C);
        add_tensor(s, "w1", s->w1, s->dw1, n);
        add_tensor(s, "b1", s->b1, s->db1, AMEIR_DIN_HIDDEN);
        add_tensor(s, "w2", s->w2, s->dw2, AMEIR_DIN_HIDDEN);
        add_tensor(s, "b2", s->b2, s->db2, 1);
    } else if (strcmp(op, "se") == 0) {
        /* S = 9 segments of 3 (bottleneck 2), or `big`: 130 of 16 (the widest MLP input, 32
         * units), past the backward's stack-buffer chunks */
        s->tol = 1e-6;
        s->B = big ? 150 : 5, s->F = big ? 130 : 9, s->C = big ? 16 : 3;
        s->k = ameir_se_hidden(s->F);
        n = (size_t)s->B * s->F * s->C;
        s->x = rnd(n, 1.5), s->dx = zeros(n);
        s->w1 = rnd((size_t)s->k * s->F, 1.0), s->dw1 = zeros((size_t)s->k * s->F);
        s->b1 = rnd((size_t)s->k, 0.5), s->db1 = zeros((size_t)s->k);
        s->w2 = rnd((size_t)s->F * s->k, 1.0), s->dw2 = zeros((size_t)s->F * s->k);
        s->b2 = rnd((size_t)s->F, 0.5), s->db2 = zeros((size_t)s->F);
        s->act_buf = zeros(ameir_se_act_size(s->B, s->F, s->k));
        s->nout = n;
        s->fwd = f_se;
        s->bwd = b_se;
        add_tensor(s, "inp", s->x, s->dx, n);
        add_tensor(s, "w1", s->w1, s->dw1, (size_t)s->k * s->F);
        add_tensor(s, "b1", s->b1, s->db1, (size_t)s->k);
        add_tensor(s, "w2", s->w2, s->dw2, (size_t)s->F * s->k);
        add_tensor(s, "b2", s->b2, s->db2, (size_t)s->F);
    } else if (strcmp(op, "mean") == 0 || strcmp(op, "last") == 0) {
        seq_input(s, 4, 6, 3);
        s->nout = (size_t)s->B * s->C;
        s->fwd = op[0] == 'm' ? f_mean : f_last;
        s->bwd = op[0] == 'm' ? b_mean : b_last;
        add_tensor(s, "h", s->x, s->dx, (size_t)s->B * s->L * s->C);
    } else if (strcmp(op, "hadamard") == 0) {
        s->k = opt_int(opt, "k", -1);
        if (s->k < 2 || s->k > 4)
            return -1;
        s->B = 3, s->F = 5, s->C = 4;
        int f[4] = {3, 0, 4, 1};
        memcpy(s->fields, f, sizeof f);
        n = (size_t)s->B * s->F * s->C;
        s->x = rnd(n, 1.5), s->dx = zeros(n);
        s->nout = (size_t)s->B * s->C;
        s->fwd = f_had;
        s->bwd = b_had;
        add_tensor(s, "emb", s->x, s->dx, n);
    } else if (strcmp(op, "bce") == 0) {
        s->tol = 1e-6;
        s->B = 9;
        s->x = rnd((size_t)s->B, 4.0), s->dx = zeros((size_t)s->B);
        s->t = zeros((size_t)s->B);
        for (int i = 0; i < s->B; i++)
            s->t[i] = (real)(i % 3 == 0);
        s->t[1] = (real)0.25; /* soft labels are allowed */
        s->x[2] = 40; /* a saturated logit keeps its gradient finite */
        s->nout = 1;
        s->fwd = f_bce;
        s->bwd = b_bce;
        add_tensor(s, "logits", s->x, s->dx, (size_t)s->B);
    } else if (strcmp(op, "dropout") == 0) {
        s->nout = 50;
        s->p = (real)0.3;
        s->x = rnd(s->nout, 1.0), s->dx = zeros(s->nout);
        s->dmask = calloc(s->nout, 1);
        s->fwd = f_drop;
        s->bwd = b_drop;
        add_tensor(s, "inp", s->x, s->dx, s->nout);
    } else if (strcmp(op, "l2rows") == 0) {
        s->V = 8, s->C = 3, s->nrows = 3;
        s->p = (real)0.05;
        s->rows = calloc(3, sizeof(int32_t));
        s->rows[0] = 1, s->rows[1] = 4, s->rows[2] = 7;
        s->x = rnd((size_t)s->V * s->C, 1.0), s->dx = zeros((size_t)s->V * s->C);
        s->nout = 1;
        s->fwd = f_l2;
        s->bwd = b_l2;
        add_tensor(s, "table", s->x, s->dx, (size_t)s->V * s->C);
    } else {
        return -1;
    }
    /* the big shapes' loss sums thousands of terms, so the differences' rounding
     * (about 1e-16 |loss| / step) grows by that much: a 10x larger step and tolerance */
    s->step = GC_STEP;
    if (big) {
        s->step *= 10;
        s->tol *= 10;
    }
    s->out = zeros(s->nout);
    s->R = rnd(s->nout, 1.0);
    if (strcmp(op, "l2rows") == 0)
        s->R[0] = 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s OP [OPTION]\n", argv[0]);
        return 2;
    }
    const char *op = argv[1], *opt = NULL;
    int big = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "big") == 0)
            big = 1;
        else if (strcmp(argv[i], "lead") == 0)
            gc_lead = 1;
        else
            opt = argv[i];
    }
    char label[64];
    snprintf(label, sizeof label, "gradcheck %s%s%s%s%s", op, opt ? " " : "", opt ? opt : "", big ? " big" : "",
             gc_lead ? " lead" : "");
    gc_rng = ameir_rng_stream(GC_SEED, ameir_hash_bytes(label, strlen(label)));
    static gc_state s;
    int seq_op = !strcmp(op, "gru") || !strcmp(op, "attention") || !strcmp(op, "din");
    if ((big && strcmp(op, "conv") != 0 && strcmp(op, "din") != 0 && strcmp(op, "se") != 0) || (gc_lead && !seq_op) ||
        gc_setup(&s, op, opt, big) < 0) {
        fprintf(stderr, "%s: unknown op or option\n", label);
        return 2;
    }
    gc_run(&s, label);
    return check_finish(label);
}
