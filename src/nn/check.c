/* Validation of the sizes a user chooses for layers (heads, kernel, batch shape).
 * Kernels assert their shapes; these checks turn bad user input into AMEIR_EINVAL
 * with a message that names the offending value. */
#include "ameir/error.h"
#include "ameir/nn.h"

int ameir_nn_check_attention(int C, int heads) {
    if (C <= 0)
        return ameir_fail(AMEIR_EINVAL, "attention: d = %d: expected d > 0", C);
    if (heads != 1 && heads != 2 && heads != 4 && heads != 8)
        return ameir_fail(AMEIR_EINVAL, "attention: heads = %d: expected one of 1, 2, 4, 8", heads);
    if (C % heads != 0)
        return ameir_fail(AMEIR_EINVAL, "attention: heads = %d does not divide d = %d: expected a divisor of d",
                          heads, C);
    return 0;
}

int ameir_nn_check_conv(int C, int kernel) {
    if (C <= 0)
        return ameir_fail(AMEIR_EINVAL, "conv: d = %d: expected d > 0", C);
    if (kernel != 1 && kernel != 3 && kernel != 5 && kernel != 7)
        return ameir_fail(AMEIR_EINVAL, "conv: kernel = %d: expected one of 1, 3, 5, 7", kernel);
    if (C > AMEIR_CONV_MAX_C(kernel))
        return ameir_fail(AMEIR_EINVAL, "conv: d = %d with kernel %d: expected d <= %d", C, kernel,
                          AMEIR_CONV_MAX_C(kernel));
    return 0;
}

int ameir_nn_check_sizes(int B, int L, int C) {
    if (B <= 0)
        return ameir_fail(AMEIR_EINVAL, "batch size = %d: expected > 0", B);
    if (L <= 0)
        return ameir_fail(AMEIR_EINVAL, "sequence length = %d: expected > 0", L);
    if (C <= 0)
        return ameir_fail(AMEIR_EINVAL, "d = %d: expected > 0", C);
    return 0;
}
