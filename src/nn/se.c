/* Squeeze-and-excitation over the segments of a row (SENet, Hu et al. 2018; AMEIR's MLP
 * shortcut): the MLP input is S segments of d values (the field embeddings, the behaviour
 * vector, the interactions), each gets one weight in (0, 1) from a bottleneck of R units.
 * inp/out (N, S*d), w1 (R, S), b1 (R), w2 (S, R), b2 (S).
 * s (N, S) = mean of each segment, h (N, R) = relu(s w1^T + b1), e (N, S) = sigmoid(h w2^T + b2),
 * out[n, i*d + c] = inp[n, i*d + c] * e[n, i].
 * act layout: S (N, S) | H (N, R) | E (N, S). */
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

#define SE_BUF 16384 /* reals of stack scratch for backward */

int ameir_se_hidden(int S) { return S / AMEIR_SE_REDUCTION > 1 ? S / AMEIR_SE_REDUCTION : 1; }

size_t ameir_se_act_size(int N, int S, int R) { return (size_t)N * (2 * (size_t)S + (size_t)R); }

void ameir_se_forward(real *out, real *act, const real *inp, const real *w1, const real *b1, const real *w2, const real *b2, int N, int S, int d, int R) {
    AMEIR_ASSERT(N >= 0 && S > 0 && d > 0 && R > 0);
    if (N == 0)
        return;
    real *Sq = act, *H = Sq + (size_t)N * S, *E = H + (size_t)N * R;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < S; i++) {
            const real *x = inp + ((size_t)n * S + i) * d;
            real acc = 0;
            for (int c = 0; c < d; c++)
                acc += x[c];
            Sq[(size_t)n * S + i] = acc / (real)d;
        }
    ameir_linear_forward(H, Sq, w1, b1, N, S, R);
    ameir_act_forward(H, H, (size_t)N * R, AMEIR_ACT_RELU);
    ameir_linear_forward(E, H, w2, b2, N, R, S);
    ameir_act_forward(E, E, (size_t)N * S, AMEIR_ACT_SIGMOID);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < S; i++) {
            real e = E[(size_t)n * S + i];
            size_t o = ((size_t)n * S + i) * d;
            for (int c = 0; c < d; c++)
                out[o + c] = inp[o + c] * e;
        }
}

void ameir_se_backward(real *dinp, real *dw1, real *db1, real *dw2, real *db2, const real *dout, const real *act, const real *inp, const real *w1, const real *w2, int N, int S, int d, int R) {
    AMEIR_ASSERT(N >= 0 && S > 0 && d > 0 && R > 0);
    /* out = inp * e:             dinp += dout e,  de = sum_c dout inp  (per segment)
     * e = sigmoid(a2):           da2 = de e (1 - e)
     * a2 = h w2^T + b2 (linear): dw2 += da2^T h, db2 += sum da2, dh = da2 w2
     * h = relu(a1):              da1 = dh where h > 0, else 0
     * a1 = s w1^T + b1 (linear): dw1 += da1^T s, db1 += sum da1, ds = da1 w1
     * s = mean of the segment:   dinp += ds / d
     * Rows go through in chunks whose da2, dh and ds fit a stack buffer. */
    const real *Sq = act, *H = Sq + (size_t)N * S, *E = H + (size_t)N * R;
    size_t per = 2 * (size_t)S + (size_t)R;
    AMEIR_ASSERT(per <= SE_BUF);
    int rows = (int)(SE_BUF / per);
    real buf[SE_BUF];
    for (int r0 = 0; r0 < N; r0 += rows) {
        int n = N - r0 < rows ? N - r0 : rows;
        real *dA2 = buf, *dH = dA2 + (size_t)n * S, *dS = dH + (size_t)n * R;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < S; i++) {
                size_t q = (size_t)(r0 + j) * S + i, o = q * d;
                real e = E[q], de = 0;
                for (int c = 0; c < d; c++) {
                    de += dout[o + c] * inp[o + c];
                    if (dinp)
                        dinp[o + c] += dout[o + c] * e;
                }
                dA2[(size_t)j * S + i] = de * e * ((real)1 - e);
            }
        memset(dH, 0, (size_t)n * R * sizeof(real));
        ameir_linear_backward(dH, dw2, db2, dA2, H + (size_t)r0 * R, w2, n, R, S);
        const real *h = H + (size_t)r0 * R;
        for (size_t q = 0; q < (size_t)n * R; q++)
            if (!(h[q] > 0))
                dH[q] = 0;
        memset(dS, 0, (size_t)n * S * sizeof(real));
        ameir_linear_backward(dS, dw1, db1, dH, Sq + (size_t)r0 * S, w1, n, S, R);
        if (dinp)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < S; i++) {
                    real g = dS[(size_t)j * S + i] / (real)d;
                    real *di = dinp + ((size_t)(r0 + j) * S + i) * d;
                    for (int c = 0; c < d; c++)
                        di[c] += g;
                }
    }
}
