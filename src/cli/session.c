/* Opening a dataset, a model and a split for eval and predict (see session.h). */
#include "session.h"

#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>

#include "ameir/error.h"
#include "ameir/train.h"

int ameir_session_load_split(ameir_split **out, const ameir_dataset *ds, const char *split_name) {
    *out = NULL;
    if (ameir_dataset_rows(ds, split_name) < 0)
        return ameir_fail(AMEIR_EINVAL, "--split %s: dataset '%s' in %s has no split '%s' (expected train, valid or test)",
                          split_name, ameir_dataset_name(ds), ameir_dataset_dir(ds), split_name);
    return ameir_split_load(out, ds, split_name, 0, -1);
}

/* The batch capacity the model was trained with (from its training record), so evaluation
 * runs the same BLAS shapes and reproduces train's metrics bit for bit; 1024 if unknown. */
static int training_batch(const char *model_path, const ameir_schema *s) {
    ameir_model_info info;
    int batch = 1024, neg = 1;
    if (ameir_model_read_info(model_path, &info) < 0) {
        ameir_clear_error(); /* reported again, with its code, by ameir_model_open */
        return batch;
    }
    cJSON *rec = cJSON_Parse(info.record_json);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(rec, "settings");
    const cJSON *from = settings ? settings : rec; /* search records keep batch at the top */
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(from, "batch"), *n = cJSON_GetObjectItemCaseSensitive(from, "negatives");
    if (cJSON_IsNumber(b) && b->valueint > 0)
        batch = b->valueint;
    if (cJSON_IsNumber(n) && n->valueint > 0)
        neg = n->valueint;
    cJSON_Delete(rec);
    ameir_model_info_destroy(&info);
    return s->task == AMEIR_TASK_SEQ ? batch * (1 + neg) : batch;
}

int ameir_session_open(ameir_session *s, const char *data_dir, const char *model_path, const char *split_name, int batch,
                       int threads) {
    int rc;
    memset(s, 0, sizeof *s);
    if ((rc = ameir_dataset_open(&s->ds, data_dir)) < 0)
        goto fail;
    const ameir_schema *sch = ameir_dataset_schema(s->ds);
    if (batch <= 0)
        batch = training_batch(model_path, sch);
    /* seq evaluation scores every candidate of a row in one batch */
    if (sch->task == AMEIR_TASK_SEQ && batch < sch->n_candidates)
        batch = sch->n_candidates;
    if ((rc = ameir_model_open(model_path, s->ds, batch, &s->info, &s->net)) < 0)
        goto fail;
    /* the net splits rows over its own threads; BLAS threads inside them would oversubscribe */
    openblas_set_num_threads(1);
    if ((rc = ameir_net_set_threads(s->net, threads)) < 0)
        goto fail;
    if ((rc = ameir_session_load_split(&s->split, s->ds, split_name)) < 0)
        goto fail;
    return 0;
fail:
    ameir_session_close(s);
    return rc;
}

void ameir_session_close(ameir_session *s) {
    ameir_split_free(s->split);
    ameir_net_free(s->net);
    ameir_model_info_destroy(&s->info);
    ameir_dataset_free(s->ds);
    memset(s, 0, sizeof *s);
}

void ameir_cli_print_metrics(FILE *f, const char *split, const ameir_metrics *m) {
    if (m->task == AMEIR_TASK_SEQ)
        fprintf(f, "%s: users %lld  HR@1 %.4f  HR@5 %.4f  HR@10 %.4f  NDCG@5 %.4f  NDCG@10 %.4f  MRR %.4f\n", split,
                (long long)m->rows, m->hr1, m->hr5, m->hr10, m->ndcg5, m->ndcg10, m->mrr);
    else
        fprintf(f, "%s: rows %lld  AUC %.4f  logloss %.4f  gAUC %.4f\n", split, (long long)m->rows, m->auc, m->logloss, m->gauc);
}
