/* Assertions for tests that print both values and count failures (libuv's ASSERT_EQ).
 * A test's main returns check_finish(), which is non-zero if any check failed. */
#ifndef AMEIR_TESTS_CHECK_H
#define AMEIR_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        check_count++;                                                              \
        if (!(cond)) {                                                              \
            check_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                     \
    do {                                                                                       \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                        \
        check_count++;                                                                         \
        if (check_a_ != check_b_) {                                                            \
            check_failures++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n", __FILE__,    \
                    __LINE__, #a, check_a_, #b, check_b_);                                     \
        }                                                                                      \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol)                                                                       \
    do {                                                                                            \
        double check_a_ = (double)(a), check_b_ = (double)(b);                                      \
        double check_s_ = fabs(check_b_) > 1.0 ? fabs(check_b_) : 1.0;                              \
        check_count++;                                                                              \
        if (!(fabs(check_a_ - check_b_) <= (tol) * check_s_)) {                                     \
            check_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n", __FILE__, \
                    __LINE__, #a, check_a_, #b, check_b_, (double)(tol));                           \
        }                                                                                           \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                          \
    do {                                                                                         \
        const char *check_h_ = (hay), *check_n_ = (needle);                                      \
        check_count++;                                                                           \
        if (!check_h_ || !strstr(check_h_, check_n_)) {                                          \
            check_failures++;                                                                    \
            fprintf(stderr, "%s:%d: expected \"%s\" to contain \"%s\"\n", __FILE__, __LINE__,    \
                    check_h_ ? check_h_ : "(null)", check_n_);                                   \
        }                                                                                        \
    } while (0)

static inline int check_finish(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures, check_count);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, check_count);
    return 0;
}

#endif
