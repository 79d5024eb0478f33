/* GRU, one layer, hidden size C, h0 = 0 (PyTorch nn.GRU, batch_first, gates r, z, n).
 * inp (B, L, C), mask (B, L), w_ih, w_hh (3C, C), b_ih, b_hh (3C), out (B, L, C).
 *   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 *   z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *   h' = (1 - z) * n + z * h
 * At a padding step h carries over unchanged and out = 0.
 * act layout (each block (B, L, ...) row-major):
 *   HP (B,L,C) h before the step | R, Z, N (B,L,C) gates | HN (B,L,C) W_hn h + b_hn |
 *   GX (B,L,3C) input projections (backward: their gradients) |
 *   GH (B,L,3C) h W_hh^T without bias (backward: the gradients) |
 *   H (B,C) the final h (backward: dh). */
#include <math.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

size_t ameir_gru_act_size(int B, int L, int C) {
    size_t BLC = (size_t)B * L * C;
    return 5 * BLC + 6 * BLC + (size_t)B * C;
}

typedef struct gru_act {
    real *hp, *r, *z, *n, *hn, *gx, *gh, *h;
} gru_act;

static gru_act gru_split(real *act, int B, int L, int C) {
    size_t BLC = (size_t)B * L * C;
    gru_act a;
    a.hp = act;
    a.r = a.hp + BLC;
    a.z = a.r + BLC;
    a.n = a.z + BLC;
    a.hn = a.n + BLC;
    a.gx = a.hn + BLC;
    a.gh = a.gx + 3 * BLC;
    a.h = a.gh + 3 * BLC;
    return a;
}

void ameir_gru_forward(real *out, real *act, const real *inp, const real *w_ih, const real *w_hh, const real *b_ih, const real *b_hh, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0);
    gru_act a = gru_split(act, B, L, C);
    int C3 = 3 * C;
    /* all input projections at once: GX (B*L, 3C) = inp W_ih^T + b_ih */
    ameir_linear_forward(a.gx, inp, w_ih, b_ih, B * L, C, C3);
    /* h before step l lives in HP[:, l]; the step writes its h into HP[:, l+1] (into H
     * after the last step), so h is never copied except through padding steps */
    for (int b = 0; b < B; b++)
        memset(a.hp + (size_t)b * L * C, 0, (size_t)C * sizeof(real));
    for (int l = 0; l < L; l++) {
        /* GH[:, l] = HP[:, l] W_hh^T, one gemm over the batch (b_hh is added below) */
        AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, C3, C, 1, a.hp + (size_t)l * C, L * C, w_hh, C, 0,
                   a.gh + (size_t)l * C3, L * C3);
        for (int b = 0; b < B; b++) {
            size_t row = (size_t)b * L + l;
            const real *h = a.hp + row * C;
            real *hnext = l + 1 < L ? a.hp + (row + 1) * C : a.h + (size_t)b * C;
            real *o = out + row * C;
            real *r = a.r + row * C, *z = a.z + row * C, *n = a.n + row * C, *hn = a.hn + row * C;
            if (!mask[row]) {
                memcpy(hnext, h, (size_t)C * sizeof(real));
                memset(o, 0, (size_t)C * sizeof(real));
                memset(r, 0, (size_t)C * sizeof(real));
                memset(z, 0, (size_t)C * sizeof(real));
                memset(n, 0, (size_t)C * sizeof(real));
                memset(hn, 0, (size_t)C * sizeof(real));
                continue;
            }
            const real *gx = a.gx + row * C3, *gh = a.gh + row * C3;
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
                hnext[c] = ((real)1 - z[c]) * n[c] + z[c] * h[c];
            memcpy(o, hnext, (size_t)C * sizeof(real));
        }
    }
}

void ameir_gru_backward(real *dinp, real *dw_ih, real *dw_hh, real *db_ih, real *db_hh, const real *dout, real *act, const real *inp, const real *w_ih, const real *w_hh, const uint8_t *mask, int B, int L, int C) {
    AMEIR_ASSERT(B > 0 && L > 0 && C > 0);
    gru_act a = gru_split(act, B, L, C);
    int C3 = 3 * C;
    real *dgx = a.gx, *dgh = a.gh, *dh = a.h; /* the forward values there are not needed */
    memset(dh, 0, (size_t)B * C * sizeof(real));
    /* Backwards in time with dh = dLoss/dh after step l. At a real step, with
     * g = dh + dout[l] and h' = (1-z) n + z h:
     *   dn = g (1-z), dz = g (h - n), dh_prev = g z (+ the W_hh paths below)
     *   n = tanh(an), an = gx_n + r hn:  dan = dn (1-n^2); dgx_n = dan; dr = dan hn;
     *                                    dgh_n = dhn = dan r
     *   r = sigmoid(gx_r + gh_r):        dgx_r = dgh_r = dr r (1-r)
     *   z = sigmoid(gx_z + gh_z):        dgx_z = dgh_z = dz z (1-z)
     *   gh = h W_hh^T + b_hh:            dh_prev += dgh W_hh (one gemm over the batch)
     * At a padding step h' = h and out is the constant 0, so dh passes through and
     * dgx = dgh = 0. The weight gradients are then single gemms over all (b, l). */
    for (int l = L - 1; l >= 0; l--) {
        for (int b = 0; b < B; b++) {
            size_t row = (size_t)b * L + l;
            real *gxr = dgx + row * C3, *ghr = dgh + row * C3;
            if (!mask[row]) {
                memset(gxr, 0, (size_t)C3 * sizeof(real));
                memset(ghr, 0, (size_t)C3 * sizeof(real));
                continue;
            }
            const real *r = a.r + row * C, *z = a.z + row * C, *n = a.n + row * C;
            const real *hn = a.hn + row * C, *hp = a.hp + row * C, *go = dout + row * C;
            real *dhb = dh + (size_t)b * C;
            for (int c = 0; c < C; c++) {
                real g = dhb[c] + go[c];
                real dn = g * ((real)1 - z[c]);
                real dz = g * (hp[c] - n[c]);
                real dan = dn * ((real)1 - n[c] * n[c]);
                real dr = dan * hn[c];
                real dar = dr * r[c] * ((real)1 - r[c]);
                real daz = dz * z[c] * ((real)1 - z[c]);
                gxr[c] = dar;
                gxr[C + c] = daz;
                gxr[2 * C + c] = dan;
                ghr[c] = dar;
                ghr[C + c] = daz;
                ghr[2 * C + c] = dan * r[c];
                dhb[c] = g * z[c];
            }
        }
        AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, C3, 1, dgh + (size_t)l * C3, L * C3, w_hh, C,
                   1, dh, C);
    }
    int BL = B * L;
    ameir_linear_backward(dinp, dw_ih, db_ih, dgx, inp, w_ih, BL, C, C3);
    ameir_linear_backward(NULL, dw_hh, db_hh, dgh, a.hp, w_hh, BL, C, C3);
}
