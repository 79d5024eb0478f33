/* Writes random scored rows and ranking lists with many ties, and the metrics this library
 * computes for them, for test_metrics_sklearn.py to recompute with scikit-learn and numpy.
 * usage: test_metrics_dump OUTDIR -> OUTDIR/rows.csv, OUTDIR/ranks.csv, OUTDIR/metrics.csv */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ameir/metrics.h"
#include "ameir/rng.h"

enum { N_ROWS = 20000, N_USERS = 300, N_RANK_USERS = 500, N_CAND = 100 };

static FILE *open_out(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        perror(path);
    return f;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    float *score = malloc(N_ROWS * sizeof *score), *label = malloc(N_ROWS * sizeof *label);
    int64_t *user = malloc(N_ROWS * sizeof *user);
    float *rank_score = malloc((size_t)N_RANK_USERS * N_CAND * sizeof *rank_score);
    FILE *rows = open_out(argv[1], "rows.csv"), *ranks = open_out(argv[1], "ranks.csv");
    FILE *metrics = open_out(argv[1], "metrics.csv");
    if (!score || !label || !user || !rank_score || !rows || !ranks || !metrics)
        return 1;
    ameir_rng rng = ameir_rng_stream(2024, 1);
    /* labels depend on the score so AUC is away from 0.5; half the scores are rounded to
     * a coarse grid so that ties are common; user ids are sparse and
     * unordered */
    for (int i = 0; i < N_ROWS; i++) {
        double z = 4.0 * ameir_rng_normal(&rng);
        if (ameir_rng_uniform(&rng) < 0.5)
            z = 0.5 * (double)(long)(z * 2.0);
        score[i] = (float)z;
        label[i] = ameir_rng_uniform(&rng) < 1.0 / (1.0 + exp(-0.5 * z)) ? 1.0f : 0.0f;
        user[i] = (int64_t)(ameir_rng_below(&rng, N_USERS) * 7919 % 100003);
        if (ameir_rng_uniform(&rng) < 0.05) /* one-row users, which gAUC skips */
            user[i] = 1000000 + i;
        fprintf(rows, "%.9g,%g,%lld\n", score[i], label[i], (long long)user[i]);
    }
    for (int u = 0; u < N_RANK_USERS; u++) {
        for (int c = 0; c < N_CAND; c++) {
            /* integer scores in a small range: ties with the true item are frequent */
            float s = (float)ameir_rng_below(&rng, 40);
            if (c == 0)
                s += (float)ameir_rng_below(&rng, 10);
            rank_score[u * N_CAND + c] = s;
            fprintf(ranks, "%s%.9g", c ? "," : "", s);
        }
        fputc('\n', ranks);
    }
    ameir_rank_metrics m;
    ameir_metric_ranking(rank_score, N_RANK_USERS, N_CAND, &m);
    fprintf(metrics, "auc,%.17g\nlogloss,%.17g\ngauc,%.17g\n", ameir_metric_auc(score, label, N_ROWS),
            ameir_metric_logloss(score, label, N_ROWS), ameir_metric_gauc(score, label, user, N_ROWS));
    fprintf(metrics, "hr1,%.17g\nhr5,%.17g\nhr10,%.17g\nndcg5,%.17g\nndcg10,%.17g\nmrr,%.17g\n", m.hr1, m.hr5,
            m.hr10, m.ndcg5, m.ndcg10, m.mrr);
    int bad = fclose(rows) | fclose(ranks) | fclose(metrics);
    free(score);
    free(label);
    free(user);
    free(rank_score);
    return bad ? 1 : 0;
}
