/* The RNG's streams are reproducible and independent; errors map to exit codes. */
#include <stdlib.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/rng.h"

static void test_reproducible(void) {
    ameir_rng a = ameir_rng_stream(42, 7), b = ameir_rng_stream(42, 7);
    for (int i = 0; i < 1000; i++)
        CHECK(ameir_rng_u64(&a) == ameir_rng_u64(&b));
    /* drawing from other streams in between changes nothing */
    ameir_rng c = ameir_rng_stream(42, 7), other = ameir_rng_stream(42, 8);
    ameir_rng d = ameir_rng_stream(42, 7);
    for (int i = 0; i < 100; i++) {
        (void)ameir_rng_u64(&other);
        CHECK(ameir_rng_u64(&c) == ameir_rng_u64(&d));
    }
}

static void test_independent(void) {
    /* streams k and k+1 and seeds s and s+1: correlation of uniforms near 0 */
    const int n = 20000;
    uint64_t pairs[3][4] = {{1, 0, 1, 1}, {1, 0, 2, 0}, {5, 3, 5, 1000}};
    for (int p = 0; p < 3; p++) {
        ameir_rng a = ameir_rng_stream(pairs[p][0], pairs[p][1]);
        ameir_rng b = ameir_rng_stream(pairs[p][2], pairs[p][3]);
        double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
        int same = 0;
        for (int i = 0; i < n; i++) {
            double x = ameir_rng_uniform(&a), y = ameir_rng_uniform(&b);
            sa += x; sb += y; sab += x * y; saa += x * x; sbb += y * y;
            same += x == y;
        }
        double cov = sab / n - (sa / n) * (sb / n);
        double corr = cov / sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
        CHECK(fabs(corr) < 0.03);
        CHECK_NEAR(sa / n, 0.5, 0.02);
        CHECK_EQ_INT(same, 0);
    }
}

static void test_below_and_shuffle(void) {
    ameir_rng r = ameir_rng_stream(3, 0);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++)
        counts[ameir_rng_below(&r, 7)]++;
    for (int i = 0; i < 7; i++)
        CHECK(abs(counts[i] - 10000) < 500);
    int64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i;
    ameir_rng_shuffle_i64(&r, v, 100);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[v[i]]++;
        moved += v[i] != i;
    }
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(seen[i], 1);
    CHECK(moved > 80);
    double s = 0, ss = 0;
    for (int i = 0; i < 50000; i++) {
        double x = ameir_rng_normal(&r);
        s += x; ss += x * x;
    }
    CHECK_NEAR(s / 50000, 0.0, 0.02);
    CHECK_NEAR(ss / 50000, 1.0, 0.03);
}

static void test_errors(void) {
    CHECK_EQ_INT(ameir_exit_code(AMEIR_OK), 0);
    CHECK_EQ_INT(ameir_exit_code(AMEIR_ECONFIG), 2);
    CHECK_EQ_INT(ameir_exit_code(AMEIR_EIO), 1);
    CHECK_EQ_INT(ameir_exit_code(AMEIR_EINTERRUPTED), 3);
    int rc = ameir_fail(AMEIR_EDATA, "f.csv:%d: expected a number", 12);
    CHECK_EQ_INT(rc, AMEIR_EDATA);
    CHECK_STR_CONTAINS(ameir_last_error(), "f.csv:12: expected a number");
    CHECK_STR_CONTAINS(ameir_strerror(AMEIR_EHDF5), "HDF5");
}

int main(void) {
    test_reproducible();
    test_independent();
    test_below_and_shuffle();
    test_errors();
    return check_finish("test_rng");
}
