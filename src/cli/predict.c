/* ameir predict: one score (sigmoid of the logit) per row of a split, as CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/error.h"
#include "ameir/train.h"
#include "commands.h"
#include "options.h"
#include "session.h"

#include <cblas.h>

static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* Write the CSV to a temporary name and rename it, so a reader never sees half a file. */
static int write_csv(const char *path, const float *logit, const int64_t *rank, int64_t rows, int seq) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ameir_fail(AMEIR_EINVAL, "--out %s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return ameir_fail(AMEIR_EIO, "--out %s: cannot create the file (directory missing or not writable?)", path);
    fprintf(f, seq ? "row,score,rank\n" : "row,score\n");
    for (int64_t r = 0; r < rows; r++) {
        if (seq)
            fprintf(f, "%lld,%.9g,%lld\n", (long long)r, sigmoid(logit[r]), (long long)rank[r]);
        else
            fprintf(f, "%lld,%.9g\n", (long long)r, sigmoid(logit[r]));
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return ameir_fail(AMEIR_EIO, "--out %s: write failed", path);
    }
    return 0;
}

int ameir_cmd_predict(int argc, char **argv) {
    const char *data = NULL, *model = NULL, *split = "test", *out = NULL;
    int help = 0, batch = 1024, threads = 1, rc;
    float *logit = NULL;
    int64_t *rank = NULL;
    ameir_session s;
    ameir_opt opts[] = {
        {"model", AMEIR_OPT_STR, &model, 1, 0, "MODEL.h5", "model file written by ameir train --out", 0},
        {"data", AMEIR_OPT_STR, &data, 1, 0, "DIR", "prepared dataset directory the model was trained on", 0},
        {"split", AMEIR_OPT_STR, &split, 1, 0, "NAME", "split to score: train, valid or test (default test)", 0},
        {"out", AMEIR_OPT_STR, &out, 1, 0, "FILE.csv", "CSV with header row,score (seq data: row,score,rank)", 0},
        {"batch", AMEIR_OPT_INT, &batch, 1, 65536, "B", "rows per forward pass (default 1024)", 0},
        {"threads", AMEIR_OPT_INT, &threads, 1, 1024, "T", "BLAS threads (default 1)", 0},
        {0},
    };
    static const char *const required[] = {"model", "data", "out", NULL};
    if ((rc = ameir_opts_parse(opts, argc, argv, NULL, 0, NULL, &help)) < 0)
        return ameir_report_error("predict", rc);
    if (help) {
        ameir_opts_usage(stdout, "predict --model MODEL.h5 --data DIR [--split test] --out FILE.csv",
                         "One score per row of a split: the predicted probability sigmoid(logit). For seq data the score\n"
                         "is the held-out item's, and rank is its rank among the row's candidates (1 = first).",
                         opts);
        return 0;
    }
    if ((rc = ameir_opts_require(opts, required)) < 0)
        return ameir_report_error("predict", rc);
    openblas_set_num_threads(threads);
    if ((rc = ameir_session_open(&s, data, model, split, batch)) < 0)
        return ameir_report_error("predict", rc);
    int64_t rows = ameir_split_rows(s.split);
    logit = malloc(sizeof *logit * (size_t)(rows > 0 ? rows : 1));
    rank = malloc(sizeof *rank * (size_t)(rows > 0 ? rows : 1));
    if (!logit || !rank) {
        rc = ameir_fail(AMEIR_ENOMEM, "scores of %lld rows", (long long)rows);
        goto done;
    }
    if ((rc = ameir_predict_scores(s.net, s.split, logit, rank)) < 0)
        goto done;
    if ((rc = write_csv(out, logit, rank, rows, ameir_dataset_schema(s.ds)->task == AMEIR_TASK_SEQ)) < 0)
        goto done;
    printf("wrote %lld scores of split %s to %s\n", (long long)rows, split, out);
done:
    free(logit);
    free(rank);
    ameir_session_close(&s);
    return rc < 0 ? ameir_report_error("predict", rc) : 0;
}
