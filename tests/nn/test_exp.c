/* The vectorisable exp of src/nn (float build) against libm in double: relative error
 * within 2 ulp over the whole normal range, NaN kept, limits at +-inf; sigmoid and tanh
 * built on it within a few roundings of the double-precision values; erf within 1.3e-7
 * absolute (2e-7 relative near 0); gelu's normal CDF within 4e-7 relative for x >= -1,
 * 2e-6 down to x = -4, 5e-6 down to -5.6 (the float rounding of the tail polynomial,
 * whose value nears -t^2), and 1e-7 absolute everywhere. 1 + erff(x), as PyTorch's float
 * gelu computes it, loses about 2e-5 relative at x = -3 to cancellation. */
#include <math.h>

#include "../common/check.h"
#include "../../src/nn/nn_math.h"

int main(void) {
    double worst = 0, worst_x = 0;
    for (double x = -87.0; x <= 88.0; x += 0.000731) {
        float xf = (float)x;
        double want = exp((double)xf), got = (double)nn_exp(xf);
        double rel = fabs(got - want) / want;
        if (rel > worst)
            worst = rel, worst_x = xf;
    }
    printf("nn_exp: worst relative error %.3g at x = %.9g (%.2f ulp)\n", worst, worst_x, worst / 5.96e-8);
    CHECK_NEAR(worst, 0, 2.4e-7);
    CHECK(isnan(nn_exp(NAN)));
    CHECK(nn_exp(-INFINITY) >= 0 && nn_exp(-INFINITY) < 1e-37f);
    CHECK(nn_exp(INFINITY) > 1e38f);
    CHECK(nn_exp(0) == 1.0f);

    double ws = 0, wt = 0;
    for (double x = -30; x <= 30; x += 0.00137) {
        float xf = (float)x;
        double s = 1 / (1 + exp(-(double)xf)), t = tanh((double)xf);
        double es = fabs((double)nn_sigmoid(xf) - s) / s, et = fabs((double)nn_tanh(xf) - t);
        if (es > ws)
            ws = es;
        if (et > wt)
            wt = et;
    }
    printf("nn_sigmoid: worst relative error %.3g; nn_tanh: worst absolute error %.3g\n", ws, wt);
    CHECK_NEAR(ws, 0, 5e-7);
    CHECK_NEAR(wt, 0, 3e-7);
    CHECK(nn_sigmoid(-200) == 0 || nn_sigmoid(-200) < 1e-37f);
    CHECK(nn_sigmoid(200) == 1.0f);
    CHECK(nn_tanh(50) == 1.0f && nn_tanh(-50) == -1.0f && nn_tanh(0) == 0.0f);
    CHECK(isnan(nn_sigmoid(NAN)) && isnan(nn_tanh(NAN)));

    double we = 0, wer = 0, wca = 0, we_x = 0, wc[3] = {0, 0, 0};
    const double wc_from[3] = {-1, -4, -5.6}, wc_tol[3] = {4e-7, 2e-6, 5e-6};
    for (double x = -7; x <= 7; x += 0.0000731) {
        float xf = (float)x;
        double e = erf((double)xf), ge = (double)nn_erf(xf), ae = fabs(ge - e);
        if (ae > we)
            we = ae, we_x = xf;
        if (fabs(xf) < 1 && e != 0 && ae / fabs(e) > wer)
            wer = ae / fabs(e);
        double c = 0.5 * erfc(-(double)xf / sqrt(2.0)), gc = (double)nn_normal_cdf(xf);
        for (int k = 0; k < 3; k++)
            if (xf >= wc_from[k] && fabs(gc - c) / c > wc[k])
                wc[k] = fabs(gc - c) / c;
        if (fabs(gc - c) > wca)
            wca = fabs(gc - c);
    }
    printf("nn_erf: worst absolute error %.3g at x = %.9g, relative (|x| < 1) %.3g\n", we, we_x, wer);
    printf("nn_normal_cdf: worst relative error %.3g (x >= -1), %.3g (x >= -4), %.3g (x >= -5.6); absolute %.3g\n",
           wc[0], wc[1], wc[2], wca);
    CHECK_NEAR(we, 0, 1.3e-7);
    CHECK_NEAR(wer, 0, 2e-7);
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(wc[k], 0, wc_tol[k]);
    CHECK_NEAR(wca, 0, 1e-7);
    CHECK(nn_erf(0) == 0 && nn_erf(10) == 1.0f && nn_erf(-10) == -1.0f && nn_erf(INFINITY) == 1.0f);
    CHECK(isnan(nn_erf(NAN)) && isnan(nn_normal_cdf(NAN)));
    CHECK(nn_normal_cdf(INFINITY) == 1.0f && nn_normal_cdf(-INFINITY) < 1e-8f);
    return check_finish("nn exp");
}
