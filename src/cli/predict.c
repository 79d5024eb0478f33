/* ameir predict: one score (sigmoid of the logit) per row of a split, as CSV. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/error.h"
#include "ameir/fileio.h"
#include "ameir/outdir.h"
#include "ameir/train.h"
#include "commands.h"
#include "options.h"
#include "session.h"


static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* Raw-id columns: the "user" field and the item field, mapped back through vocab.json. */
typedef struct id_column {
    const char *name;
    int field;
    const cJSON *vocab; /* array of raw strings by id; NULL when vocab.json lacks the field */
} id_column;

typedef struct id_columns {
    id_column col[2];
    int n;
    cJSON *root;
    ameir_batch b;
    int64_t *idx;
    int64_t begin, end; /* rows currently in b */
} id_columns;

static void ids_destroy(id_columns *ic) {
    cJSON_Delete(ic->root);
    ameir_batch_destroy(&ic->b);
    free(ic->idx);
}

static void ids_add(id_columns *ic, const ameir_schema *s, int f) {
    if (f < 0 || s->fields[f].width != 1)
        return;
    for (int i = 0; i < ic->n; i++)
        if (ic->col[i].field == f)
            return;
    ic->col[ic->n].name = s->fields[f].name;
    ic->col[ic->n].field = f;
    ic->col[ic->n].vocab = ic->root ? cJSON_GetObjectItemCaseSensitive(ic->root, s->fields[f].name) : NULL;
    ic->n++;
}

/* Find the id columns and read the dataset's vocab.json (optional: without it the ids are
 * written as they are stored). */
static int ids_init(id_columns *ic, const ameir_dataset *ds) {
    const ameir_schema *s = ameir_dataset_schema(ds);
    char path[4096];
    memset(ic, 0, sizeof *ic);
    ic->end = -1;
    snprintf(path, sizeof path, "%s/vocab.json", ameir_dataset_dir(ds));
    char *text = NULL;
    int rc = ameir_file_read(path, &text, NULL);
    if (rc == AMEIR_ENOENT) {
        ameir_clear_error();
    } else if (rc < 0) {
        return rc;
    } else {
        ic->root = cJSON_Parse(text);
        free(text);
        if (!ic->root)
            return ameir_fail(AMEIR_EDATA, "%s: cannot read the vocabularies (expected a JSON object)", path);
    }
    ids_add(ic, s, ameir_schema_find(s, "user"));
    ids_add(ic, s, s->item_field);
    if (!ic->n)
        return 0;
    ic->idx = malloc(sizeof *ic->idx * 1024);
    if (!ic->idx)
        return ameir_fail(AMEIR_ENOMEM, "id buffer");
    return ameir_batch_init(&ic->b, s, 1024);
}

static void csv_field(FILE *f, const char *v) {
    if (!strpbrk(v, ",\"\n\r")) {
        fprintf(f, ",%s", v);
        return;
    }
    fputs(",\"", f);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', f);
        fputc(*v, f);
    }
    fputc('"', f);
}

/* The id columns of split row r (rows are visited in order, 1024 at a time). */
static void ids_write(FILE *f, id_columns *ic, const ameir_split *sp, const ameir_schema *s, int64_t r) {
    if (!ic->n)
        return;
    if (r < ic->begin || r >= ic->end) {
        int64_t rows = ameir_split_rows(sp);
        int n = (int)(rows - r < 1024 ? rows - r : 1024);
        for (int i = 0; i < n; i++)
            ic->idx[i] = r + i;
        ameir_split_fill(sp, ic->idx, n, &ic->b);
        ic->begin = r;
        ic->end = r + n;
    }
    for (int c = 0; c < ic->n; c++) {
        int32_t id = ic->b.x[(size_t)(r - ic->begin) * (size_t)s->x_width + (size_t)s->fields[ic->col[c].field].offset];
        const cJSON *v = ic->col[c].vocab ? cJSON_GetArrayItem(ic->col[c].vocab, id) : NULL;
        if (cJSON_IsString(v))
            csv_field(f, v->valuestring);
        else
            fprintf(f, ",%d", (int)id);
    }
}

/* Write the CSV atomically, so a reader never sees half a file. */
static int write_csv(const char *path, const ameir_session *ss, const float *logit, const int64_t *rank) {
    const ameir_schema *s = ameir_dataset_schema(ss->ds);
    int64_t rows = ameir_split_rows(ss->split);
    int seq = s->task == AMEIR_TASK_SEQ, rc;
    ameir_atomic_file w;
    id_columns ic;
    if ((rc = ids_init(&ic, ss->ds)) < 0 || (rc = ameir_atomic_fopen(&w, path)) < 0) {
        ids_destroy(&ic);
        return rc;
    }
    FILE *f = w.f;
    fputs(seq ? "row,score,rank" : "row,score", f);
    for (int c = 0; c < ic.n; c++)
        csv_field(f, ic.col[c].name);
    fputc('\n', f);
    for (int64_t r = 0; r < rows; r++) {
        fprintf(f, "%lld,%.9g", (long long)r, sigmoid(logit[r]));
        if (seq)
            fprintf(f, ",%lld", (long long)rank[r]);
        ids_write(f, &ic, ss->split, s, r);
        fputc('\n', f);
    }
    ids_destroy(&ic);
    return ameir_atomic_commit(&w, NULL);
}

int ameir_cmd_predict(int argc, char **argv) {
    const char *data = NULL, *model = NULL, *split = "test", *out = NULL;
    int batch = 0, threads = 1, rc;
    float *logit = NULL;
    int64_t *rank = NULL;
    ameir_session s;
    ameir_opt opts[] = {
        {"model", AMEIR_OPT_STR, &model, 1, 0, "MODEL.h5", "model file written by ameir train --out", 0},
        {"data", AMEIR_OPT_STR, &data, 1, 0, "DIR", "prepared dataset directory the model was trained on", 0},
        {"split", AMEIR_OPT_STR, &split, 1, 0, "NAME", "split to score: train, valid or test (default test)", 0},
        {"out", AMEIR_OPT_STR, &out, 1, 0, "FILE.csv", "CSV: row,score (seq data: row,score,rank), then the raw user and item ids when the data has them", 0},
        {"batch", AMEIR_OPT_INT, &batch, 1, 65536, "B", "rows per forward pass (default: the training batch, which reproduces train's metrics exactly)", 0},
        {"threads", AMEIR_OPT_INT, &threads, 1, 1024, "T", "network threads: rows of a batch split over T threads (default 1)", 0},
        {0},
    };
    static const char *const required[] = {"model", "data", "out", NULL};
    if ((rc = ameir_opts_command(opts, argc, argv, "predict --model MODEL.h5 --data DIR [--split test] --out FILE.csv",
                                 "One score per row of a split: the predicted probability sigmoid(logit). For seq data the score\n"
                                 "is the held-out item's, and rank is its rank among the row's candidates (1 = first).",
                                 required)) != 0)
        return rc > 0 ? 0 : ameir_report_error("predict", rc);
    if ((rc = ameir_out_dir_check("--out", out)) < 0)
        return ameir_report_error("predict", rc);
    if ((rc = ameir_session_open(&s, data, model, split, batch, threads)) < 0)
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
    if ((rc = write_csv(out, &s, logit, rank)) < 0)
        goto done;
    printf("wrote %lld scores of split %s to %s\n", (long long)rows, split, out);
done:
    free(logit);
    free(rank);
    ameir_session_close(&s);
    return rc < 0 ? ameir_report_error("predict", rc) : 0;
}
