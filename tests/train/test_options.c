/* The command-line option parser: values, ranges, flags, and each kind of bad usage. */
#include <stdint.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "options.h"

typedef struct vals {
    const char *data;
    int epochs, json;
    int64_t steps;
    uint64_t seed;
    float lr;
    double x;
} vals;

static int parse(vals *v, int argc, char **argv, int *help) {
    ameir_opt opts[] = {
        {"data", AMEIR_OPT_STR, &v->data, 1, 0, "DIR", "data", 0},
        {"epochs", AMEIR_OPT_INT, &v->epochs, 1, 100, "E", "epochs", 0},
        {"steps", AMEIR_OPT_I64, &v->steps, 1, 1e12, "N", "steps", 0},
        {"seed", AMEIR_OPT_U64, &v->seed, 1, 0, "S", "seed", 0},
        {"lr", AMEIR_OPT_FLOAT, &v->lr, 1e-9, 10, "X", "lr", 0},
        {"x", AMEIR_OPT_DOUBLE, &v->x, 1, 0, "X", "unchecked", 0},
        {"json", AMEIR_OPT_FLAG, &v->json, 1, 0, NULL, "json", 0},
        {0},
    };
    static const char *const req[] = {"data", NULL};
    int rc = ameir_opts_parse(opts, argc, argv, NULL, 0, NULL, help);
    if (rc == 0 && !*help)
        rc = ameir_opts_require(opts, req);
    return rc;
}

#define ARGV(...) ((char *[]){"cmd", __VA_ARGS__})
#define NARGS(...) (int)(sizeof((char *[]){"cmd", __VA_ARGS__}) / sizeof(char *))

/* Expect parsing to fail with EINVAL and a message containing needle. */
#define CHECK_BAD(needle, ...)                                                        \
    do {                                                                              \
        vals v_ = {0};                                                                \
        int h_ = 0;                                                                   \
        ameir_clear_error();                                                          \
        CHECK_EQ_INT(parse(&v_, NARGS(__VA_ARGS__), ARGV(__VA_ARGS__), &h_), AMEIR_EINVAL); \
        CHECK_STR_CONTAINS(ameir_last_error(), needle);                               \
    } while (0)

int main(void) {
    vals v = {0};
    int help = 0;
    CHECK_EQ_INT(parse(&v, NARGS("--data", "D", "--epochs", "7", "--steps=123456789012", "--seed", "18446744073709551615", "--lr",
                                 "0.5", "--x", "-3.25", "--json"),
                       ARGV("--data", "D", "--epochs", "7", "--steps=123456789012", "--seed", "18446744073709551615", "--lr", "0.5",
                            "--x", "-3.25", "--json"),
                       &help),
                 0);
    CHECK(v.data && !strcmp(v.data, "D"));
    CHECK_EQ_INT(v.epochs, 7);
    CHECK_EQ_INT(v.steps, 123456789012LL);
    CHECK(v.seed == UINT64_MAX);
    CHECK_NEAR(v.lr, 0.5, 0);
    CHECK_NEAR(v.x, -3.25, 0);
    CHECK_EQ_INT(v.json, 1);
    CHECK_EQ_INT(help, 0);

    vals w = {0};
    CHECK_EQ_INT(parse(&w, NARGS("--epochs", "1", "--help"), ARGV("--epochs", "1", "--help"), &help), 0);
    CHECK_EQ_INT(help, 1);

    CHECK_BAD("unknown option '--epoch'", "--data", "D", "--epoch", "3");
    CHECK_BAD("--epochs: missing value", "--data", "D", "--epochs");
    CHECK_BAD("--epochs: got 'three', expected an integer", "--data", "D", "--epochs", "three");
    CHECK_BAD("--epochs: got '0', expected an integer in [1, 100]", "--data", "D", "--epochs", "0");
    CHECK_BAD("--epochs: got '101', expected an integer in [1, 100]", "--data", "D", "--epochs", "101");
    CHECK_BAD("--epochs: got '2.5', expected an integer", "--data", "D", "--epochs", "2.5");
    CHECK_BAD("--lr: got '20', expected a number in [1e-09, 10]", "--data", "D", "--lr", "20");
    CHECK_BAD("--lr: got 'nan', expected a number", "--data", "D", "--lr", "nan");
    CHECK_BAD("--seed: got '-1', expected a non-negative integer", "--data", "D", "--seed", "-1");
    CHECK_BAD("--data given twice", "--data", "D", "--data", "E");
    CHECK_BAD("--json takes no value", "--data", "D", "--json=1");
    CHECK_BAD("--data: got an empty value", "--data", "");
    CHECK_BAD("unexpected argument 'stray'", "--data", "D", "stray");
    CHECK_BAD("missing --data DIR", "--epochs", "3");
    return check_finish("options");
}
