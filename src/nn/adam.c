/* Adam as torch.optim.Adam (non-fused, single-tensor path of PyTorch 1.13):
 *   m = m * b1 + (1 - b1) g
 *   v = v * b2 + (1 - b2) g g
 *   step_size = lr / (1 - b1^t);  denom = sqrt(v) / sqrt(1 - b2^t) + eps
 *   p = p + (-step_size) m / denom
 * in that order so that a float run matches PyTorch's float run to rounding.
 * p, m, v, g (n); the bias corrections are computed in double as Python does. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ameir/error.h"
#include "ameir/nn.h"

typedef struct adam_coefs {
    real b1, b2, one_m_b1, one_m_b2, neg_step, bc2_sqrt, eps;
} adam_coefs;

/* The decimal a float hyper-parameter was written as (its shortest 7-digit form).
 * PyTorch takes 1 - beta2 of the Python double 0.999, which is 0.001; 1 - 0.999f is
 * 1.3e-5 away from it, enough to move v visibly, so the complements are taken of the
 * decimal the user wrote. In the double build the value is already that double. */
static double as_written(real x) {
    if (sizeof(real) != sizeof(float))
        return (double)x;
    char buf[32];
    snprintf(buf, sizeof buf, "%.*g", FLT_DIG + 1, (double)x);
    double d = strtod(buf, NULL);
    return (float)d == (float)x ? d : (double)x;
}

static adam_coefs adam_prepare(const ameir_adam_opts *o, int64_t t) {
    AMEIR_ASSERT(t >= 1);
    double b1 = as_written(o->beta1), b2 = as_written(o->beta2);
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    adam_coefs c;
    c.b1 = o->beta1;
    c.b2 = o->beta2;
    c.one_m_b1 = (real)(1.0 - b1);
    c.one_m_b2 = (real)(1.0 - b2);
    c.neg_step = (real)(-(as_written(o->lr) / bc1));
    c.bc2_sqrt = (real)sqrt(bc2);
    c.eps = o->eps;
    return c;
}

static inline void adam_span(real *p, real *m, real *v, const real *g, size_t n, const adam_coefs *c) {
    for (size_t i = 0; i < n; i++) {
        real gi = g[i];
        m[i] = m[i] * c->b1 + c->one_m_b1 * gi;
        v[i] = v[i] * c->b2 + c->one_m_b2 * gi * gi;
        real denom = AMEIR_SQRT(v[i]) / c->bc2_sqrt + c->eps;
        p[i] += c->neg_step * m[i] / denom;
    }
}

void ameir_adam_dense(real *p, real *m, real *v, const real *g, size_t n, const ameir_adam_opts *o, int64_t t) {
    adam_coefs c = adam_prepare(o, t);
    adam_span(p, m, v, g, n, &c);
}

void ameir_adam_rows(real *p, real *m, real *v, const real *g, const int32_t *rows, int nrows, int d,
                     const ameir_adam_opts *o, int64_t t) {
    AMEIR_ASSERT(nrows >= 0 && d > 0);
    adam_coefs c = adam_prepare(o, t);
    for (int i = 0; i < nrows; i++) {
        AMEIR_ASSERT(rows[i] >= 0);
        size_t off = (size_t)rows[i] * d;
        adam_span(p + off, m + off, v + off, g + off, (size_t)d, &c);
    }
}
