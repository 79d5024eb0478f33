/* GRU, one layer, hidden size C, h0 = 0 (PyTorch nn.GRU, batch_first, gates r, z, n).
 * inp (B, L, C), mask (B, L), w_ih, w_hh (3C, C), b_ih, b_hh (3C), out (B, L, C).
 *   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 *   z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *   h' = (1 - z) * n + z * h
 * At a padding step h carries over unchanged and out = 0.
 *
 * Inside, everything is time-major, (L, B, ...): a step's values for the whole batch are
 * one contiguous block, so the step's recurrent gemm and its gate loops stream through
 * memory. Steps before the first one where any row is real change nothing (h stays 0,
 * out 0) and are skipped; histories are padded at the front, so this is most padding.
 * act layout, each block (L, B, ...):
 *   X (L,B,C) the input, time-major | HP (L,B,C) h before the step |
 *   R, Z, N (L,B,C) gates | HN (L,B,C) W_hn h + b_hn | DX (L,B,C) backward: d input |
 *   GX (L,B,3C) input projections (backward: their gradients) |
 *   GH (L,B,3C) h W_hh^T without bias (backward: the gradients) |
 *   H (B,C) the final h (backward: dh) | start: the first step run (one real, as a count).
 * Backward keeps the forward values, so it may run more than once after one forward. */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

size_t ameir_gru_act_size(int B, int L, int C) {
    size_t BLC = (size_t)B * L * C;
    return 7 * BLC + 6 * BLC + (size_t)B * C + 1;
}

typedef struct gru_act {
    real *x, *hp, *r, *z, *n, *hn, *dx, *gx, *gh, *h, *start;
} gru_act;

static gru_act gru_split(real *act, int B, int L, int C) {
    size_t BLC = (size_t)B * L * C;
    gru_act a;
    a.x = act;
    a.hp = a.x + BLC;
    a.r = a.hp + BLC;
    a.z = a.r + BLC;
    a.n = a.z + BLC;
    a.hn = a.n + BLC;
    a.dx = a.hn + BLC;
    a.gx = a.dx + BLC;
    a.gh = a.gx + 3 * BLC;
    a.h = a.gh + 3 * BLC;
    a.start = a.h + (size_t)B * C;
    return a;
}

/* the first step at which some row is real (L if none) */
static int first_real_step(const uint8_t *mask, int B, int L) {
    int s = L;
    for (int b = 0; b < B; b++)
        for (int l = 0; l < s; l++)
            if (mask[(size_t)b * L + l]) {
                s = l;
                break;
            }
    return s;
}

/* One real row of a step: the gates, h' and out (restrict: the buffers never overlap, so
 * the loops vectorise without run-time overlap checks on every row). */
NN_INLINE void gru_row_forward(real *restrict r, real *restrict z, real *restrict n, real *restrict hn,
                                   real *restrict hx, real *restrict o, const real *restrict gx,
                                   const real *restrict gh, const real *restrict b_hh, const real *restrict h, int C) {
    /* one simple loop per gate, so that each vectorises */
    for (int c = 0; c < C; c++)
        r[c] = nn_sigmoid(gx[c] + (gh[c] + b_hh[c]));
    for (int c = 0; c < C; c++)
        z[c] = nn_sigmoid(gx[C + c] + (gh[C + c] + b_hh[C + c]));
    for (int c = 0; c < C; c++)
        hn[c] = gh[2 * C + c] + b_hh[2 * C + c];
    for (int c = 0; c < C; c++)
        n[c] = nn_tanh(gx[2 * C + c] + r[c] * hn[c]);
    for (int c = 0; c < C; c++)
        hx[c] = ((real)1 - z[c]) * n[c] + z[c] * h[c];
    for (int c = 0; c < C; c++)
        o[c] = hx[c];
}

/* One real row of a step backwards (the equations in ameir_gru_backward) */
NN_INLINE void gru_row_backward(real *restrict gx, real *restrict gh, real *restrict dh, const real *restrict r,
                                    const real *restrict z, const real *restrict n, const real *restrict hn,
                                    const real *restrict hp, const real *restrict go, int C) {
    for (int c = 0; c < C; c++) {
        real g = dh[c] + go[c];
        real dn = g * ((real)1 - z[c]);
        real dz = g * (hp[c] - n[c]);
        real dan = dn * ((real)1 - n[c] * n[c]);
        real dr = dan * hn[c];
        real dar = dr * r[c] * ((real)1 - r[c]);
        real daz = dz * z[c] * ((real)1 - z[c]);
        gx[c] = dar;
        gx[C + c] = daz;
        gx[2 * C + c] = dan;
        gh[c] = dar;
        gh[C + c] = daz;
        gh[2 * C + c] = dan * r[c];
        dh[c] = g * z[c];
    }
}

NN_SIMD_CLONES void ameir_gru_forward(real *out, real *act, const real *inp, const real *w_ih, const real *w_hh, const real *b_ih, const real *b_hh, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0);
    gru_act a = gru_split(act, B, L, C);
    int C3 = 3 * C, s = first_real_step(mask, B, L);
    size_t BC = (size_t)B * C, BC3 = 3 * BC;
    *a.start = (real)s;
    for (int b = 0; b < B; b++)
        memset(out + (size_t)b * L * C, 0, (size_t)s * C * sizeof(real));
    if (s == L)
        return;
    /* X[l] = inp[:, l]; then all input projections at once: GX = X W_ih^T + b_ih */
    for (int l = s; l < L; l++)
        for (int b = 0; b < B; b++)
            memcpy(a.x + l * BC + (size_t)b * C, inp + ((size_t)b * L + l) * C, (size_t)C * sizeof(real));
    ameir_linear_forward(a.gx + s * BC3, a.x + s * BC, w_ih, b_ih, B * (L - s), C, C3);
    memset(a.hp + s * BC, 0, BC * sizeof(real));
    for (int l = s; l < L; l++) {
        const real *hp = a.hp + l * BC, *gx = a.gx + l * BC3;
        real *gh = a.gh + l * BC3, *hnext = l + 1 < L ? a.hp + (l + 1) * BC : a.h;
        real *r = a.r + l * BC, *z = a.z + l * BC, *n = a.n + l * BC, *hn = a.hn + l * BC;
        /* GH[l] = HP[l] W_hh^T, one gemm over the batch (b_hh is added below) */
        ameir_gemm_rows(gh, C3, hp, C, w_hh, B, C, C3, 1, 0);
        for (int b = 0; b < B; b++) {
            size_t o = (size_t)b * C;
            const real *gxb = gx + 3 * o, *ghb = gh + 3 * o, *h = hp + o;
            real *rb = r + o, *zb = z + o, *nb = n + o, *hnb = hn + o, *hx = hnext + o;
            real *ob = out + ((size_t)b * L + l) * C;
            if (!mask[(size_t)b * L + l]) {
                memcpy(hx, h, (size_t)C * sizeof(real));
                memset(ob, 0, (size_t)C * sizeof(real));
                continue; /* its gates are never read: backward skips padding steps */
            }
            gru_row_forward(rb, zb, nb, hnb, hx, ob, gxb, ghb, b_hh, h, C);
        }
    }
}

NN_SIMD_CLONES void ameir_gru_backward(real *dinp, real *dw_ih, real *dw_hh, real *db_ih, real *db_hh, const real *dout, real *act, const real *inp, const real *w_ih, const real *w_hh, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0);
    gru_act a = gru_split(act, B, L, C);
    int C3 = 3 * C, s = (int)*a.start;
    size_t BC = (size_t)B * C, BC3 = 3 * BC;
    if (s == L)
        return; /* no real step: the output was the constant 0 */
    real *dgx = a.gx, *dgh = a.gh, *dh = a.h; /* the forward values there are not needed */
    memset(dh, 0, BC * sizeof(real));
    /* Backwards in time with dh = dLoss/dh after step l. At a real step, with
     * g = dh + dout[l] and h' = (1-z) n + z h:
     *   dn = g (1-z), dz = g (h - n), dh_prev = g z (+ the W_hh paths below)
     *   n = tanh(an), an = gx_n + r hn:  dan = dn (1-n^2); dgx_n = dan; dr = dan hn;
     *                                    dgh_n = dhn = dan r
     *   r = sigmoid(gx_r + gh_r):        dgx_r = dgh_r = dr r (1-r)
     *   z = sigmoid(gx_z + gh_z):        dgx_z = dgh_z = dz z (1-z)
     *   gh = h W_hh^T + b_hh:            dh_prev += dgh W_hh (one gemm over the batch)
     * At a padding step h' = h and out is the constant 0, so dh passes through and
     * dgx = dgh = 0. The weight gradients and dinp are then single gemms over all steps
     * from the first one run. */
    for (int l = L - 1; l >= s; l--) {
        real *gxl = dgx + l * BC3, *ghl = dgh + l * BC3;
        for (int b = 0; b < B; b++) {
            size_t o = (size_t)b * C;
            real *gxr = gxl + 3 * o, *ghr = ghl + 3 * o;
            size_t row = (size_t)b * L + l;
            if (!mask[row]) {
                memset(gxr, 0, (size_t)C3 * sizeof(real));
                memset(ghr, 0, (size_t)C3 * sizeof(real));
                continue;
            }
            size_t q = l * BC + o;
            const real *r = a.r + q, *z = a.z + q, *n = a.n + q, *hn = a.hn + q, *hp = a.hp + q;
            const real *go = dout + row * C;
            real *dhb = dh + o;
            gru_row_backward(gxr, ghr, dhb, r, z, n, hn, hp, go, C);
        }
        if (l > s) /* h before the first step run is the constant 0 */
            AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, C3, 1, ghl, C3, w_hh, C, 1, dh, C);
    }
    int n = B * (L - s);
    real *dx = a.dx + s * BC;
    ameir_linear_backward(NULL, dw_hh, db_hh, dgh + s * BC3, a.hp + s * BC, w_hh, n, C, C3);
    memset(dx, 0, (size_t)n * C * sizeof(real));
    ameir_linear_backward(dx, dw_ih, db_ih, dgx + s * BC3, a.x + s * BC, w_ih, n, C, C3);
    if (dinp)
        for (int l = s; l < L; l++)
            for (int b = 0; b < B; b++) {
                real *di = dinp + ((size_t)b * L + l) * C;
                const real *d = a.dx + l * BC + (size_t)b * C;
                for (int c = 0; c < C; c++)
                    di[c] += d[c];
            }
    (void)inp;
}
