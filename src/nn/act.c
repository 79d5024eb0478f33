/* Element-wise activations: identity, relu, gelu (erf form), swish, sigmoid.
 * inp (n), out (n). The switch sits outside the loops so each loop is a plain
 * vectorisable pass (no per-element function pointers). */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

static const char *const act_names[AMEIR_ACT_COUNT] = {"identity", "relu", "gelu", "swish", "sigmoid"};

int ameir_act_from_name(const char *name) {
    if (!name)
        return -1;
    for (int i = 0; i < AMEIR_ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0)
            return i;
    return -1;
}

const char *ameir_act_name(int act) {
    if (act < 0 || act >= AMEIR_ACT_COUNT)
        return "unknown";
    return act_names[act];
}

#define GELU_RSQRT2PI ((real)0.39894228040143267794)

NN_SIMD_CLONES void ameir_act_forward(real *out, const real *inp, size_t n, int act) {
    switch (act) {
    case AMEIR_ACT_IDENTITY:
        if (out != inp)
            memmove(out, inp, n * sizeof(real));
        break;
    case AMEIR_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            out[i] = inp[i] > 0 ? inp[i] : 0;
        break;
    case AMEIR_ACT_GELU:
        for (size_t i = 0; i < n; i++) {
            real x = inp[i];
            out[i] = x * nn_normal_cdf(x);
        }
        break;
    case AMEIR_ACT_SWISH:
        for (size_t i = 0; i < n; i++) {
            real x = inp[i];
            out[i] = x * nn_sigmoid(x);
        }
        break;
    case AMEIR_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            out[i] = nn_sigmoid(inp[i]);
        break;
    default:
        AMEIR_ASSERT(!"unknown activation");
    }
}

/* The gradient loops, added to dinp (add 1) or written (add 0): inlined into each public
 * clone with add a constant, so each loop is still one plain pass. */
NN_INLINE void act_grad(real *restrict dinp, const real *restrict dout, const real *restrict inp, size_t n, int act,
                        int add) {
#define ACC(i, v) (dinp[i] = add ? dinp[i] + (v) : (v))
    switch (act) {
    case AMEIR_ACT_IDENTITY:
        for (size_t i = 0; i < n; i++)
            ACC(i, dout[i]);
        break;
    case AMEIR_ACT_RELU:
        /* out = max(x, 0): slope 1 where x > 0, else 0 (PyTorch's choice at x = 0) */
        for (size_t i = 0; i < n; i++)
            ACC(i, inp[i] > 0 ? dout[i] : 0);
        break;
    case AMEIR_ACT_GELU:
        /* out = x Phi(x), so out' = Phi(x) + x phi(x), phi(x) = exp(-x^2/2)/sqrt(2 pi) */
        for (size_t i = 0; i < n; i++) {
            real x = inp[i];
            real pdf = GELU_RSQRT2PI * nn_exp((real)-0.5 * x * x);
            ACC(i, dout[i] * (nn_normal_cdf(x) + x * pdf));
        }
        break;
    case AMEIR_ACT_SWISH:
        /* out = x s(x), so out' = s + x s (1 - s) */
        for (size_t i = 0; i < n; i++) {
            real x = inp[i], s = nn_sigmoid(x);
            ACC(i, dout[i] * (s + x * s * ((real)1 - s)));
        }
        break;
    case AMEIR_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            real s = nn_sigmoid(inp[i]);
            ACC(i, dout[i] * s * ((real)1 - s));
        }
        break;
    default:
        AMEIR_ASSERT(!"unknown activation");
    }
#undef ACC
}

NN_SIMD_CLONES void ameir_act_backward(real *dinp, const real *dout, const real *inp, size_t n, int act) {
    act_grad(dinp, dout, inp, n, act, 1);
}

NN_SIMD_CLONES void ameir_act_grad(real *dinp, const real *dout, const real *inp, size_t n, int act) {
    act_grad(dinp, dout, inp, n, act, 0);
}
