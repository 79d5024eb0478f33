/* Bad layer sizes chosen by a user give AMEIR_EINVAL and a message naming the value. */
#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/nn.h"

#define CHECK_FAILS(expr, needle)                              \
    do {                                                       \
        ameir_clear_error();                                   \
        CHECK_EQ_INT((expr), AMEIR_EINVAL);                    \
        CHECK_STR_CONTAINS(ameir_last_error(), needle);        \
    } while (0)

#define CHECK_OK(expr)                  \
    do {                                \
        ameir_clear_error();            \
        CHECK_EQ_INT((expr), 0);        \
        CHECK(ameir_last_error()[0] == 0); \
    } while (0)

int main(void) {
    /* attention: heads in {1, 2, 4, 8} dividing d */
    CHECK_FAILS(ameir_nn_check_attention(16, 3), "heads = 3");
    CHECK_FAILS(ameir_nn_check_attention(16, 3), "expected one of 1, 2, 4, 8");
    CHECK_FAILS(ameir_nn_check_attention(12, 8), "heads = 8 does not divide d = 12");
    CHECK_FAILS(ameir_nn_check_attention(6, 4), "heads = 4 does not divide d = 6");
    CHECK_FAILS(ameir_nn_check_attention(16, 0), "heads = 0");
    CHECK_FAILS(ameir_nn_check_attention(16, 16), "heads = 16");
    CHECK_FAILS(ameir_nn_check_attention(0, 2), "d = 0");
    CHECK_OK(ameir_nn_check_attention(16, 1));
    CHECK_OK(ameir_nn_check_attention(16, 2));
    CHECK_OK(ameir_nn_check_attention(16, 4));
    CHECK_OK(ameir_nn_check_attention(16, 8));
    CHECK_OK(ameir_nn_check_attention(6, 2));

    /* conv: kernel in {1, 3, 5, 7} */
    CHECK_FAILS(ameir_nn_check_conv(16, 4), "kernel = 4");
    CHECK_FAILS(ameir_nn_check_conv(16, 4), "expected one of 1, 3, 5, 7");
    CHECK_FAILS(ameir_nn_check_conv(16, 9), "kernel = 9");
    CHECK_FAILS(ameir_nn_check_conv(16, -3), "kernel = -3");
    CHECK_FAILS(ameir_nn_check_conv(-1, 3), "d = -1");
    for (int k = 1; k <= 7; k += 2) {
        CHECK_OK(ameir_nn_check_conv(16, k));
        CHECK_OK(ameir_nn_check_conv(AMEIR_CONV_MAX_C(k), k));
    }
    /* d beyond the conv's stack scratch: 16384 / 15 = 1092 for kernel 7 */
    CHECK_FAILS(ameir_nn_check_conv(1093, 7), "d = 1093 with kernel 7: expected d <= 1092");
    CHECK_FAILS(ameir_nn_check_conv(100000, 1), "expected d <= 5461");

    /* zero and negative sizes */
    CHECK_FAILS(ameir_nn_check_sizes(0, 50, 16), "batch size = 0");
    CHECK_FAILS(ameir_nn_check_sizes(256, 0, 16), "sequence length = 0");
    CHECK_FAILS(ameir_nn_check_sizes(256, 50, 0), "d = 0");
    CHECK_FAILS(ameir_nn_check_sizes(-2, 50, 16), "batch size = -2");
    CHECK_OK(ameir_nn_check_sizes(1, 1, 1));

    /* activations by name */
    const char *names[] = {"identity", "relu", "gelu", "swish", "sigmoid"};
    for (int a = 0; a < AMEIR_ACT_COUNT; a++) {
        CHECK_EQ_INT(ameir_act_from_name(names[a]), a);
        CHECK_STR_CONTAINS(ameir_act_name(a), names[a]);
    }
    CHECK_EQ_INT(ameir_act_from_name("tanh"), -1);
    CHECK_EQ_INT(ameir_act_from_name("RELU"), -1);
    CHECK_EQ_INT(ameir_act_from_name(NULL), -1);
    CHECK_STR_CONTAINS(ameir_act_name(99), "unknown");
    return check_finish("nn size checks");
}
