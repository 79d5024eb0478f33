/* Adam (float build) against torch.optim.Adam, and lazy row Adam against dense Adam.
 * Embedding touched rows are checked here too, since they feed the lazy update. */
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/nn.h"
#include "ameir/rng.h"

/* |a - b| <= rel |b| + 1e-12 */
#define CHECK_REL(a, b, rel)                                                                                 \
    do {                                                                                                     \
        double a_ = (double)(a), b_ = (double)(b);                                                           \
        check_count++;                                                                                       \
        if (!(fabs(a_ - b_) <= (rel) * fabs(b_) + 1e-12)) {                                                  \
            check_failures++;                                                                                \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (rel %g)\n", __FILE__, __LINE__, #a, a_, b_, \
                    (double)(rel));                                                                          \
        }                                                                                                    \
    } while (0)

static const ameir_adam_opts opts = {(real)0.01, (real)0.9, (real)0.999, (real)1e-8};

/* Three steps from p0 with the gradients below. The expected values were computed with
 *   p = torch.tensor(p0, dtype=torch.float32, requires_grad=True)
 *   opt = torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, foreach=False)
 *   for g in grads: p.grad = torch.tensor(g); opt.step()
 * (PyTorch 1.13, float32), printed with %.9g. By hand, step 1: m = 0.1 g, v = 0.001 g^2,
 * so m / (1 - 0.9) = g and sqrt(v / (1 - 0.999)) = |g|: every element with g != 0 moves
 * by lr = 0.01 against its gradient's sign (0.5 -> 0.49, -1 -> -0.99, 2 -> 1.99) and the
 * one with g = 0 stays. The float64 run agrees with these to 1e-8. */
static void test_dense(void) {
    real p[4] = {0.5, -1.0, 2.0, 0.0}, m[4] = {0}, v[4] = {0};
    const real g[3][4] = {{0.1, -0.2, 0.3, 0.0}, {-0.5, 0.4, 0.1, 1.0}, {0.2, 0.2, -0.3, -2.0}};
    const double want[3][4] = {{0.49000001, -0.99000001, 1.99000001, 0},
                               {0.495983541, -0.993661046, 1.98128939, -0.00744136795},
                               {0.497955501, -0.998853445, 1.98080552, -0.0042985063}};
    const double want_m[4] = {-0.0168999974, 0.0397999994, 0.00329999952, -0.110000007};
    const double want_v[4] = {0.000299730047, 0.000239760047, 0.000189810118, 0.00499900011};
    for (int t = 0; t < 3; t++) {
        ameir_adam_dense(p, m, v, g[t], 4, &opts, t + 1);
        for (int i = 0; i < 4; i++)
            CHECK_REL(p[i], want[t][i], 2e-7);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_REL(m[i], want_m[i], 1e-6);
        CHECK_REL(v[i], want_v[i], 1e-6);
    }
}

/* Rows 1 and 3 of a (5, 3) table updated for three steps: they equal a dense Adam run
 * on those rows alone, bit for bit, and rows 0, 2, 4 keep parameters and moments. */
static void test_rows(void) {
    enum { V = 5, D = 3 };
    ameir_rng rng = ameir_rng_stream(5, 5);
    real p[V * D], m[V * D], v[V * D], g[V * D];
    for (int i = 0; i < V * D; i++) {
        p[i] = (real)ameir_rng_normal(&rng);
        m[i] = (real)(0.01 * i);
        v[i] = (real)(0.001 * i);
    }
    real p0[V * D], m0[V * D], v0[V * D];
    memcpy(p0, p, sizeof p), memcpy(m0, m, sizeof m), memcpy(v0, v, sizeof v);
    real dp[2][D], dm[2][D], dv[2][D];
    const int32_t rows[2] = {1, 3};
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < D; c++) {
            dp[r][c] = p[rows[r] * D + c];
            dm[r][c] = m[rows[r] * D + c];
            dv[r][c] = v[rows[r] * D + c];
        }
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < V * D; i++)
            g[i] = (real)ameir_rng_normal(&rng);
        ameir_adam_rows(p, m, v, g, rows, 2, D, &opts, t);
        for (int r = 0; r < 2; r++)
            ameir_adam_dense(dp[r], dm[r], dv[r], g + rows[r] * D, D, &opts, t);
    }
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < D; c++) {
            CHECK(p[rows[r] * D + c] == dp[r][c]);
            CHECK(m[rows[r] * D + c] == dm[r][c]);
            CHECK(v[rows[r] * D + c] == dv[r][c]);
            CHECK(p[rows[r] * D + c] != p0[rows[r] * D + c]);
        }
    const int untouched[3] = {0, 2, 4};
    for (int u = 0; u < 3; u++)
        for (int c = 0; c < D; c++) {
            int i = untouched[u] * D + c;
            CHECK(p[i] == p0[i] && m[i] == m0[i] && v[i] == v0[i]);
        }
}

static void test_touched_rows(void) {
    const int32_t ids[] = {7, 0, 3, 7, 9, 0, 3, 1};
    uint8_t seen[10] = {0};
    int32_t rows[8];
    int n = ameir_embedding_touched_rows(rows, seen, ids, 8, 10);
    CHECK_EQ_INT(n, 4);
    const int32_t want[4] = {1, 3, 7, 9};
    for (int i = 0; i < 4 && i < n; i++)
        CHECK_EQ_INT(rows[i], want[i]);
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(seen[i], 0);
    const int32_t pad[3] = {0, 0, 0};
    CHECK_EQ_INT(ameir_embedding_touched_rows(rows, seen, pad, 3, 10), 0);
    /* both ways to order them (a scan of the flags, a sort) against a plain check: tables
     * from just above the ids' count to far larger, sizes not a multiple of 8, ids at the
     * table's last row */
    static const int sizes[] = {13, 61, 64, 1000, 4099, 100003};
    static int32_t many[600], got[600];
    static uint8_t flags[100003];
    uint64_t x = 12345;
    for (int t = 0; t < 6; t++) {
        int V = sizes[t];
        for (int i = 0; i < 600; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            many[i] = (int32_t)((x >> 33) % (uint64_t)V);
        }
        many[7] = V - 1;
        int k = ameir_embedding_touched_rows(got, flags, many, 600, V);
        int want_n = 0, sorted = 1;
        for (int id = 1; id < V; id++) {
            int in = 0;
            for (int i = 0; i < 600 && !in; i++)
                in = many[i] == id;
            want_n += in;
        }
        for (int i = 1; i < k; i++)
            sorted &= got[i - 1] < got[i];
        CHECK_EQ_INT(k, want_n);
        CHECK(sorted);
        CHECK(k > 0 && got[k - 1] == V - 1 && got[0] >= 1);
        int clear = 1;
        for (int i = 0; i < V; i++)
            clear &= flags[i] == 0;
        CHECK(clear);
    }
}

int main(void) {
    test_dense();
    test_rows();
    test_touched_rows();
    return check_finish("adam");
}
