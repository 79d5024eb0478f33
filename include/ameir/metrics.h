/* Evaluation metrics. Scores are logits or probabilities (only their order matters,
 * except for logloss, which takes logits). A label is positive when > 0.5. A NaN score
 * makes AUC and gAUC NaN (a diverged model ranks nothing); n <= 0 gives NaN. */
#ifndef AMEIR_METRICS_H
#define AMEIR_METRICS_H

#include <stdint.h>

/* ROC AUC with ties handled by average rank. NaN if only one class is present. */
double ameir_metric_auc(const float *score, const float *label, int64_t n);

/* Mean binary cross-entropy of sigmoid(logit) against label, computed stably. */
double ameir_metric_logloss(const float *logit, const float *label, int64_t n);

/* Per-user AUC weighted by the user's rows; users whose rows have one class are skipped.
 * NaN if every user is skipped. */
double ameir_metric_gauc(const float *score, const float *label, const int64_t *user, int64_t n);

typedef struct ameir_rank_metrics {
    double hr1, hr5, hr10, ndcg5, ndcg10, mrr;
} ameir_rank_metrics;

/* score (n_users, n_cand): column 0 is the true item, the others its negatives.
 * rank = 1 + number of negatives scored strictly higher + number tied (ties count
 * against the true item, so a constant scorer gets no credit; a NaN negative counts
 * against it too, a NaN true score gives rank n_cand). HR@k = [rank <= k],
 * NDCG@k = [rank <= k] / log2(rank + 1), MRR = 1 / rank. Means over users (NaN if none). */
void ameir_metric_ranking(const float *score, int64_t n_users, int n_cand, ameir_rank_metrics *out);

#endif
