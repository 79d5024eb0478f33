/* The vectorisable exp of src/nn (float build) against libm in double: relative error
 * within 2 ulp over the whole normal range, NaN kept, limits at +-inf; sigmoid and tanh
 * built on it within a few roundings of the double-precision values. */
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
    return check_finish("nn exp");
}
