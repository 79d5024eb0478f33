/* Evaluation metrics: AUC and gAUC by rank sums with average ranks for ties (one sort,
 * O(n log n)), logloss from logits, and the ranking metrics of the next-item protocol.
 * A label counts as positive when it is > 0.5. */
#include "ameir/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "ameir/error.h"

typedef struct scored {
    int64_t user;
    double score;
    int pos;
} scored;

/* by user, then score; ties keep no particular order (they share an average rank) */
static int cmp_user_score(const void *pa, const void *pb) {
    const scored *a = pa, *b = pb;
    if (a->user != b->user)
        return a->user < b->user ? -1 : 1;
    return (a->score > b->score) - (a->score < b->score);
}

/* AUC of v[0..n) sorted by ascending score: (sum of positives' ranks - P(P+1)/2) / (P N),
 * where tied scores all get the mean of the ranks they span. NaN if one class only. */
static double auc_sorted(const scored *v, int64_t n, int64_t *n_pos_out) {
    double rank_sum = 0;
    int64_t n_pos = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, pos = 0;
        while (j < n && v[j].score == v[i].score) {
            pos += v[j].pos;
            j++;
        }
        /* ranks i+1 .. j, mean (i + 1 + j) / 2 */
        rank_sum += (double)pos * ((double)(i + 1 + j) * 0.5);
        n_pos += pos;
        i = j;
    }
    if (n_pos_out)
        *n_pos_out = n_pos;
    int64_t n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0)
        return NAN;
    return (rank_sum - (double)n_pos * ((double)n_pos + 1) * 0.5) / ((double)n_pos * (double)n_neg);
}

/* Copy into a scored array (user -1 for plain AUC). NULL if a score is NaN (the model
 * diverged: no ranking means anything) or on out of memory, with a message. */
static scored *gather(const float *score, const float *label, const int64_t *user, int64_t n) {
    if (n <= 0)
        return NULL;
    scored *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        ameir_fail(AMEIR_ENOMEM, "metrics: out of memory for %lld scores", (long long)n);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i])) {
            free(v);
            return NULL;
        }
        v[i].user = user ? user[i] : -1;
        v[i].score = score[i];
        v[i].pos = label[i] > 0.5f;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_user_score);
    return v;
}

double ameir_metric_auc(const float *score, const float *label, int64_t n) {
    scored *v = gather(score, label, NULL, n);
    if (!v)
        return NAN;
    double auc = auc_sorted(v, n, NULL);
    free(v);
    return auc;
}

double ameir_metric_gauc(const float *score, const float *label, const int64_t *user, int64_t n) {
    scored *v = gather(score, label, user, n);
    if (!v)
        return NAN;
    double sum = 0;
    int64_t rows = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].user == v[i].user)
            j++;
        double auc = auc_sorted(v + i, j - i, NULL);
        if (!isnan(auc)) {
            sum += auc * (double)(j - i);
            rows += j - i;
        }
        i = j;
    }
    free(v);
    return rows ? sum / (double)rows : NAN;
}

double ameir_metric_logloss(const float *logit, const float *label, int64_t n) {
    if (n <= 0)
        return NAN;
    /* -[y log s(z) + (1-y) log(1-s(z))] = max(z,0) - z y + log(1 + exp(-|z|)) */
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double z = logit[i], y = label[i];
        sum += (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
    }
    return sum / (double)n;
}

void ameir_metric_ranking(const float *score, int64_t n_users, int n_cand, ameir_rank_metrics *out) {
    if (n_users <= 0 || n_cand <= 0) {
        out->hr1 = out->hr5 = out->hr10 = out->ndcg5 = out->ndcg10 = out->mrr = NAN;
        return;
    }
    double hr1 = 0, hr5 = 0, hr10 = 0, ndcg5 = 0, ndcg10 = 0, mrr = 0;
    for (int64_t u = 0; u < n_users; u++) {
        const float *s = score + u * n_cand;
        int rank = 1;
        if (isnan(s[0])) {
            rank = n_cand; /* a NaN true score earns nothing */
        } else {
            for (int c = 1; c < n_cand; c++)
                rank += !(s[c] < s[0]); /* higher, tied or NaN: counts against the true item */
        }
        double gain = 1.0 / log2((double)rank + 1.0);
        hr1 += rank <= 1;
        hr5 += rank <= 5;
        hr10 += rank <= 10;
        ndcg5 += rank <= 5 ? gain : 0;
        ndcg10 += rank <= 10 ? gain : 0;
        mrr += 1.0 / rank;
    }
    double n = (double)n_users;
    out->hr1 = hr1 / n;
    out->hr5 = hr5 / n;
    out->hr10 = hr10 / n;
    out->ndcg5 = ndcg5 / n;
    out->ndcg10 = ndcg10 / n;
    out->mrr = mrr / n;
}
