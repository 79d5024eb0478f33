/* Metrics on small cases computed by hand (the computation is in the comments), ties
 * included; the comparison with scikit-learn on random data is test_metrics_sklearn.py. */
#include <math.h>
#include <stdint.h>

#include "../common/check.h"
#include "ameir/metrics.h"

static void test_auc(void) {
    /* sorted ascending: 0.1(-) r1, 0.35(+) r2, 0.4(-) r3, 0.8(+) r4;
     * positives' rank sum 6, minus P(P+1)/2 = 3, over P N = 4: 0.75 */
    const float s1[] = {0.1f, 0.4f, 0.35f, 0.8f}, y1[] = {0, 0, 1, 1};
    CHECK_NEAR(ameir_metric_auc(s1, y1, 4), 0.75, 1e-12);

    /* ties: 0.2(-) r1; 0.5 x3 (one +) share ranks 2,3,4 -> 3 each; 0.9(+) r5.
     * rank sum of positives 3 + 5 = 8; (8 - 3) / (2 * 3) = 5/6.
     * By pairs: (+0.5 vs -0.5, -0.5, -0.2) = 0.5 + 0.5 + 1, (+0.9 vs all) = 3: 5 of 6. */
    const float s2[] = {0.5f, 0.5f, 0.5f, 0.2f, 0.9f}, y2[] = {1, 0, 0, 0, 1};
    CHECK_NEAR(ameir_metric_auc(s2, y2, 5), 5.0 / 6.0, 1e-12);

    /* a constant scorer: every pair is a tie, 0.5 */
    const float s3[] = {1, 1, 1, 1}, y3[] = {1, 0, 1, 0};
    CHECK_NEAR(ameir_metric_auc(s3, y3, 4), 0.5, 1e-12);

    /* a perfect and a reversed scorer */
    const float s4[] = {-3, 2, -1, 5}, y4[] = {0, 1, 0, 1};
    CHECK_NEAR(ameir_metric_auc(s4, y4, 4), 1.0, 1e-12);
    const float y5[] = {1, 0, 1, 0};
    CHECK_NEAR(ameir_metric_auc(s4, y5, 4), 0.0, 1e-12);

    /* one class, NaN scores and no rows give NaN */
    const float y6[] = {1, 1, 1, 1};
    CHECK(isnan(ameir_metric_auc(s4, y6, 4)));
    const float s7[] = {0.1f, NAN, 0.3f, 0.2f};
    CHECK(isnan(ameir_metric_auc(s7, y1, 4)));
    CHECK(isnan(ameir_metric_auc(s4, y4, 0)));
}

static void test_logloss(void) {
    /* -[y log s(z) + (1-y) log(1 - s(z))] = max(z,0) - z y + log1p(exp(-|z|)):
     * z=0,y=1: log 2 = 0.6931471805599453
     * z=2,y=0: 2 + log1p(e^-2) = 2.1269280110429727
     * z=-3,y=0: log1p(e^-3) = 0.04858735157374206
     * mean 0.9562208477255534 */
    const float z[] = {0, 2, -3}, y[] = {1, 0, 0};
    CHECK_NEAR(ameir_metric_logloss(z, y, 3), 0.9562208477255534, 1e-12);

    /* large logits stay finite: z=100,y=1 -> log1p(e^-100) = 3.7e-44; z=-1000,y=1 -> 1000;
     * z=1000,y=0 -> 1000; mean 2000/3 */
    const float zl[] = {100, -1000, 1000}, yl[] = {1, 1, 0};
    CHECK_NEAR(ameir_metric_logloss(zl, yl, 3), 2000.0 / 3.0, 1e-12);
    CHECK(ameir_metric_logloss(zl, yl, 1) < 1e-40);
    CHECK(ameir_metric_logloss(zl, yl, 1) > 0);
    CHECK(isnan(ameir_metric_logloss(zl, yl, 0)));
}

static void test_gauc(void) {
    /* rows of four users, interleaved so that grouping cannot rely on order:
     * u1: (0.9,+) (0.1,-) (0.5,-)            AUC 1 (the positive beats both), 3 rows
     * u2: (0.2,+) (0.8,-)                     AUC 0, 2 rows
     * u3: (0.3,+) (0.6,+)                     one class: skipped
     * u4: (0.4,+) (0.4,-) (0.7,-) (0.1,+)     pairs: 0.4 vs 0.4 tie 0.5, 0.4 vs 0.7 0,
     *                                         0.1 vs 0.4 0, 0.1 vs 0.7 0 -> 0.5/4 = 0.125, 4 rows
     * gAUC = (3*1 + 2*0 + 4*0.125) / (3 + 2 + 4) = 3.5 / 9 */
    const float s[] = {0.9f, 0.2f, 0.4f, 0.3f, 0.1f, 0.8f, 0.4f, 0.6f, 0.5f, 0.7f, 0.1f};
    const float y[] = {1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1};
    const int64_t u[] = {1, 2, 4, 3, 1, 2, 4, 3, 1, 4, 4};
    CHECK_NEAR(ameir_metric_gauc(s, y, u, 11), 3.5 / 9.0, 1e-12);

    /* only one-class users: NaN */
    const int64_t lone[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    CHECK(isnan(ameir_metric_gauc(s, y, lone, 11)));
    /* a single user is plain AUC */
    const int64_t one[] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    CHECK_NEAR(ameir_metric_gauc(s, y, one, 11), ameir_metric_auc(s, y, 11), 1e-12);
}

static void test_ranking(void) {
    enum { C = 12 };
    /* rank = 1 + negatives higher + negatives tied:
     * u0: true 0.9 above all                 rank 1: HR@1,5,10 = 1, NDCG = 1, RR 1
     * u1: true 0.5, two higher, one tied     rank 4: HR@5,10, NDCG 1/log2 5 = 0.43067655807339306, RR 1/4
     * u2: true 0.3, six higher               rank 7: HR@10, NDCG@10 = 1/log2 8 = 1/3, RR 1/7
     * u3: constant scores                    rank 12: nothing, RR 1/12
     * means: HR@1 1/4, HR@5 2/4, HR@10 3/4, NDCG@5 (1 + 0.4307)/4 = 0.3576691395183483,
     * NDCG@10 (1 + 0.4307 + 1/3)/4 = 0.4410024728516816, MRR (1 + 1/4 + 1/7 + 1/12)/4 = 0.369047619047619 */
    float s[4 * C];
    for (int c = 0; c < C; c++) {
        s[0 * C + c] = c == 0 ? 0.9f : 0.1f * (float)(c % 5);
        s[1 * C + c] = c == 0 ? 0.5f : c <= 2 ? 0.7f : c == 3 ? 0.5f : 0.1f;
        s[2 * C + c] = c == 0 ? 0.3f : c <= 6 ? 0.35f + 0.01f * (float)c : 0.2f;
        s[3 * C + c] = 0.25f;
    }
    ameir_rank_metrics m;
    ameir_metric_ranking(s, 4, C, &m);
    CHECK_NEAR(m.hr1, 0.25, 1e-12);
    CHECK_NEAR(m.hr5, 0.5, 1e-12);
    CHECK_NEAR(m.hr10, 0.75, 1e-12);
    CHECK_NEAR(m.ndcg5, 0.3576691395183483, 1e-12);
    CHECK_NEAR(m.ndcg10, 0.4410024728516816, 1e-12);
    CHECK_NEAR(m.mrr, 0.369047619047619, 1e-12);

    /* boundaries: rank exactly 5 and exactly 10 count; 11 does not */
    float b[3 * C];
    for (int u = 0; u < 3; u++)
        for (int c = 0; c < C; c++)
            b[u * C + c] = c == 0 ? 0.5f : c < (u == 0 ? 5 : u == 1 ? 10 : 11) ? 0.9f : 0.1f;
    ameir_metric_ranking(b, 3, C, &m);
    /* ranks 5, 10, 11: HR@5 1/3, HR@10 2/3, NDCG@5 (1/log2 6)/3, NDCG@10 (1/log2 6 + 1/log2 11)/3 */
    CHECK_NEAR(m.hr5, 1.0 / 3.0, 1e-12);
    CHECK_NEAR(m.hr10, 2.0 / 3.0, 1e-12);
    CHECK_NEAR(m.ndcg5, (1 / log2(6.0)) / 3, 1e-12);
    CHECK_NEAR(m.ndcg10, (1 / log2(6.0) + 1 / log2(11.0)) / 3, 1e-12);
    CHECK_NEAR(m.mrr, (1.0 / 5 + 1.0 / 10 + 1.0 / 11) / 3, 1e-12);

    /* NaN: a NaN true score is ranked last, a NaN negative counts against the true item */
    float n1[C];
    for (int c = 0; c < C; c++)
        n1[c] = c == 0 ? NAN : 0.1f;
    ameir_metric_ranking(n1, 1, C, &m);
    CHECK_NEAR(m.mrr, 1.0 / C, 1e-12);
    for (int c = 0; c < C; c++)
        n1[c] = c == 0 ? 0.9f : c == 1 ? NAN : 0.1f;
    ameir_metric_ranking(n1, 1, C, &m);
    CHECK_NEAR(m.mrr, 0.5, 1e-12);
    CHECK_NEAR(m.hr1, 0.0, 1e-12);

    ameir_metric_ranking(s, 0, C, &m);
    CHECK(isnan(m.hr1) && isnan(m.ndcg10) && isnan(m.mrr));
}

int main(void) {
    test_auc();
    test_logloss();
    test_gauc();
    test_ranking();
    return check_finish("metrics");
}
