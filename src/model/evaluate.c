/* Evaluation of a network on one split: AUC, logloss and gAUC for ctr data; for seq data
 * the true item ranked against its fixed candidates (HR, NDCG, MRR). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/metrics.h"
#include "ameir/train.h"
#include "train_priv.h"

double ameir_metrics_primary(const ameir_metrics *m) {
    double v = m->task == AMEIR_TASK_SEQ ? m->ndcg10 : m->auc;
    /* an undefined metric (one class only) never counts as an improvement */
    return isnan(v) ? -INFINITY : v;
}

const char *ameir_metrics_primary_name(int task) { return task == AMEIR_TASK_SEQ ? "ndcg10" : "auc"; }

void ameir_metrics_get_values(const ameir_metrics *m, double *v) {
    int i = 0;
#define GET_(f, task, hi) v[i++] = m->f;
    AMEIR_METRIC_VALUES(GET_)
#undef GET_
}

void ameir_metrics_set_values(ameir_metrics *m, const double *v) {
    int i = 0;
#define SET_(f, task, hi) m->f = v[i++];
    AMEIR_METRIC_VALUES(SET_)
#undef SET_
}

#define NAME_(f, task, hi) #f,
static const char *const value_names[] = {AMEIR_METRIC_VALUES(NAME_)};
#undef NAME_
#define TASK_(f, task, hi) task,
static const int value_tasks[] = {AMEIR_METRIC_VALUES(TASK_)};
#undef TASK_
#define MAX_(f, task, hi) hi,
static const double value_max[] = {AMEIR_METRIC_VALUES(MAX_)};
#undef MAX_

const char *ameir_metric_value_name(int i) { return value_names[i]; }
int ameir_metric_value_task(int i) { return value_tasks[i]; }
double ameir_metric_value_max(int i) { return value_max[i]; }

static void metrics_init(ameir_metrics *m, int task) {
    memset(m, 0, sizeof *m);
    m->task = task;
    double nan[AMEIR_N_METRIC_VALUES];
    for (int i = 0; i < AMEIR_N_METRIC_VALUES; i++)
        nan[i] = NAN;
    ameir_metrics_set_values(m, nan);
}

/* Point view at users slot k of a batch sized for several groups of n_cand rows. */
static void batch_view(ameir_batch *view, const ameir_batch *b, const ameir_schema *s, int k, int n_cand) {
    size_t r = (size_t)k * (size_t)n_cand;
    view->n = 0;
    view->cap = n_cand;
    view->x = b->x + r * (size_t)s->x_width;
    view->hist = b->hist ? b->hist + r * (size_t)s->seq_len * (size_t)s->item_width : NULL;
    view->label = b->label + r;
    view->user = b->user + r;
    view->row = b->row + r;
}

/* Logits of rows [r0, r1) of a ctr split, in batches of the net's capacity, at logit[0..);
 * label and user receive the rows' labels and users when not NULL. A row's logit does not
 * depend on the rows that share its batch. */
static int score_ctr(ameir_net *net, const ameir_split *sp, const ameir_schema *s, int64_t r0, int64_t r1, float *logit,
                     float *label, int64_t *user) {
    int cap = ameir_net_max_batch(net), rc;
    ameir_batch b = {0};
    int64_t *idx = malloc(sizeof *idx * (size_t)cap);
    if (!idx)
        return ameir_fail(AMEIR_ENOMEM, "evaluation buffers for %d rows", cap);
    if ((rc = ameir_batch_init(&b, s, cap)) < 0)
        goto done;
    for (int64_t begin = r0; begin < r1; begin += cap) {
        int n = (int)(r1 - begin < cap ? r1 - begin : cap);
        for (int i = 0; i < n; i++)
            idx[i] = begin + i;
        ameir_split_fill(sp, idx, n, &b);
        ameir_net_predict(net, &b, logit + (begin - r0));
        if (label)
            memcpy(label + (begin - r0), b.label, sizeof *label * (size_t)n);
        if (user)
            memcpy(user + (begin - r0), b.user, sizeof *user * (size_t)n);
    }
done:
    ameir_batch_destroy(&b);
    free(idx);
    return rc;
}

/* Logits (users, n_candidates) of the candidates of rows [first, end) of a seq split, at
 * score[0..); several rows' candidate sets go side by side through one forward pass, which
 * encodes each history once (or, for the reference, once per candidate row). */
static int score_seq(ameir_net *net, const ameir_split *sp, const ameir_schema *s, int64_t first, int64_t end, float *score,
                     int reference) {
    int n_cand = s->n_candidates, per = ameir_net_max_batch(net) / n_cand, rc;
    ameir_batch b = {0};
    if ((rc = ameir_batch_init(&b, s, per * n_cand)) < 0)
        return rc;
    for (int64_t u0 = first; u0 < end; u0 += per) {
        int k = (int)(end - u0 < per ? end - u0 : per);
        for (int j = 0; j < k; j++) {
            ameir_batch view;
            batch_view(&view, &b, s, j, n_cand);
            if (reference)
                ameir_split_fill_candidates(sp, u0 + j, &view);
            else
                ameir_split_fill_candidates_once(sp, u0 + j, &view);
            AMEIR_ASSERT(view.n == n_cand);
        }
        b.n = k * n_cand;
        float *out = score + (u0 - first) * n_cand;
        if (reference)
            ameir_net_predict(net, &b, out);
        else
            ameir_net_predict_candidates(net, &b, n_cand, out);
    }
    ameir_batch_destroy(&b);
    return 0;
}

static int check_seq(const ameir_net *net, const ameir_schema *s) {
    if (s->n_candidates < 2)
        return ameir_fail(AMEIR_EDATA, "seq dataset with %d candidates per row, expected at least 2", s->n_candidates);
    if (ameir_net_max_batch(net) < s->n_candidates)
        return ameir_fail(AMEIR_EINVAL, "network batch capacity %d is below the %d candidates of one row", ameir_net_max_batch(net),
                          s->n_candidates);
    return 0;
}

static void ctr_metrics(ameir_metrics *out, const float *logit, const float *label, const int64_t *user, int64_t rows) {
    out->rows = rows;
    out->auc = ameir_metric_auc(logit, label, rows);
    out->logloss = ameir_metric_logloss(logit, label, rows);
    out->gauc = ameir_metric_gauc(logit, label, user, rows);
}

static void seq_metrics(ameir_metrics *out, const float *score, int64_t users, int n_cand) {
    ameir_rank_metrics rm;
    ameir_metric_ranking(score, users, n_cand, &rm);
    out->rows = users;
    out->hr1 = rm.hr1;
    out->hr5 = rm.hr5;
    out->hr10 = rm.hr10;
    out->ndcg5 = rm.ndcg5;
    out->ndcg10 = rm.ndcg10;
    out->mrr = rm.mrr;
}

static int evaluate_ctr(ameir_net *net, const ameir_split *sp, const ameir_schema *s, ameir_metrics *out) {
    int64_t rows = ameir_split_rows(sp);
    int rc;
    float *logit = malloc(sizeof *logit * (size_t)rows);
    float *label = malloc(sizeof *label * (size_t)rows);
    int64_t *user = malloc(sizeof *user * (size_t)rows);
    if (!logit || !label || !user)
        rc = ameir_fail(AMEIR_ENOMEM, "evaluation buffers for %lld rows", (long long)rows);
    else if ((rc = score_ctr(net, sp, s, 0, rows, logit, label, user)) == 0)
        ctr_metrics(out, logit, label, user, rows);
    free(logit);
    free(label);
    free(user);
    return rc;
}

static int evaluate_seq(ameir_net *net, const ameir_split *sp, const ameir_schema *s, ameir_metrics *out, int reference) {
    int64_t users = ameir_split_rows(sp);
    int rc;
    AMEIR_TRY(check_seq(net, s));
    float *score = malloc(sizeof *score * (size_t)users * (size_t)s->n_candidates);
    if (!score)
        return ameir_fail(AMEIR_ENOMEM, "evaluation scores for %lld rows", (long long)users);
    if ((rc = score_seq(net, sp, s, 0, users, score, reference)) == 0)
        seq_metrics(out, score, users, s->n_candidates);
    free(score);
    return rc;
}

static int evaluate(ameir_net *net, const ameir_split *split, ameir_metrics *out, int reference) {
    const ameir_schema *s = ameir_net_schema(net);
    metrics_init(out, s->task);
    if (ameir_split_rows(split) <= 0)
        return ameir_fail(AMEIR_EDATA, "cannot evaluate on an empty split");
    return s->task == AMEIR_TASK_SEQ ? evaluate_seq(net, split, s, out, reference) : evaluate_ctr(net, split, s, out);
}

int ameir_evaluate(ameir_net *net, const ameir_split *split, ameir_metrics *out) { return evaluate(net, split, out, 0); }

/* Rank r of R scores rows [rows*r/R, rows*(r+1)/R) and sends (logits, labels, users) of
 * them; every rank unpacks the ranks' parts in rank order, which is row order, and computes
 * the metrics from the whole arrays. */
static int evaluate_group_ctr(ameir_net *net, const ameir_split *sp, const ameir_schema *s, const ameir_shard_comm *g,
                              ameir_metrics *out) {
    int64_t rows = ameir_split_rows(sp), r0 = rows * g->rank / g->size, r1 = rows * (g->rank + 1) / g->size;
    size_t per_row = sizeof(float) * 2 + sizeof(int64_t), n = (size_t)(r1 - r0), got = 0;
    int rc;
    unsigned char *mine = malloc(per_row * (n > 0 ? n : 1)), *all = malloc(per_row * (size_t)rows);
    float *logit = malloc(sizeof *logit * (size_t)rows), *label = malloc(sizeof *label * (size_t)rows);
    int64_t *user = malloc(sizeof *user * (size_t)rows);
    if (!mine || !all || !logit || !label || !user) {
        rc = ameir_fail(AMEIR_ENOMEM, "evaluation buffers for %lld rows", (long long)rows);
        goto done;
    }
    /* one rank's part: its logits, then labels, then users (float, float, int64 blocks) */
    float *ml = (float *)(void *)mine, *mb = ml + n;
    if ((rc = score_ctr(net, sp, s, r0, r1, ml, mb, user)) < 0)
        goto done;
    memcpy(mine + 2 * n * sizeof(float), user, n * sizeof *user);
    if ((rc = g->allgather(g->ctx, mine, per_row * n, all, per_row * (size_t)rows, &got)) < 0)
        goto done;
    if (got != per_row * (size_t)rows) {
        rc = ameir_fail(AMEIR_EINTERNAL, "group evaluation: %zu bytes gathered, expected %zu", got, per_row * (size_t)rows);
        goto done;
    }
    const unsigned char *p = all;
    for (int q = 0; q < g->size; q++) {
        int64_t a = rows * q / g->size, k = rows * (q + 1) / g->size - a;
        memcpy(logit + a, p, (size_t)k * sizeof(float));
        memcpy(label + a, p + (size_t)k * sizeof(float), (size_t)k * sizeof(float));
        memcpy(user + a, p + (size_t)k * 2 * sizeof(float), (size_t)k * sizeof(int64_t));
        p += (size_t)k * per_row;
    }
    ctr_metrics(out, logit, label, user, rows);
done:
    free(mine);
    free(all);
    free(logit);
    free(label);
    free(user);
    return rc;
}

static int evaluate_group_seq(ameir_net *net, const ameir_split *sp, const ameir_schema *s, const ameir_shard_comm *g,
                              ameir_metrics *out) {
    int64_t users = ameir_split_rows(sp), u0 = users * g->rank / g->size, u1 = users * (g->rank + 1) / g->size;
    size_t per_user = sizeof(float) * (size_t)s->n_candidates, got = 0;
    int rc;
    AMEIR_TRY(check_seq(net, s));
    float *mine = malloc(per_user * (size_t)(u1 > u0 ? u1 - u0 : 1)), *score = malloc(per_user * (size_t)users);
    if (!mine || !score) {
        rc = ameir_fail(AMEIR_ENOMEM, "evaluation scores for %lld rows", (long long)users);
        goto done;
    }
    if ((rc = score_seq(net, sp, s, u0, u1, mine, 0)) < 0 ||
        (rc = g->allgather(g->ctx, mine, per_user * (size_t)(u1 - u0), score, per_user * (size_t)users, &got)) < 0)
        goto done;
    if (got != per_user * (size_t)users) {
        rc = ameir_fail(AMEIR_EINTERNAL, "group evaluation: %zu bytes gathered, expected %zu", got, per_user * (size_t)users);
        goto done;
    }
    seq_metrics(out, score, users, s->n_candidates);
done:
    free(mine);
    free(score);
    return rc;
}

int ameir_evaluate_group(ameir_net *net, const ameir_split *split, const ameir_shard_comm *group, ameir_metrics *out) {
    if (!group || group->size <= 1)
        return ameir_evaluate(net, split, out);
    const ameir_schema *s = ameir_net_schema(net);
    metrics_init(out, s->task);
    if (ameir_split_rows(split) <= 0)
        return ameir_fail(AMEIR_EDATA, "cannot evaluate on an empty split");
    return s->task == AMEIR_TASK_SEQ ? evaluate_group_seq(net, split, s, group, out)
                                     : evaluate_group_ctr(net, split, s, group, out);
}

int ameir_evaluate_reference(ameir_net *net, const ameir_split *split, ameir_metrics *out) {
    return evaluate(net, split, out, 1);
}

int ameir_predict_scores(ameir_net *net, const ameir_split *split, float *logit, int64_t *rank) {
    const ameir_schema *s = ameir_net_schema(net);
    int64_t rows = ameir_split_rows(split);
    int rc, nc = s->n_candidates;
    if (s->task != AMEIR_TASK_SEQ) {
        AMEIR_TRY(score_ctr(net, split, s, 0, rows, logit, NULL, NULL));
        if (rank)
            memset(rank, 0, sizeof *rank * (size_t)rows);
        return 0;
    }
    AMEIR_TRY(check_seq(net, s));
    float *score = malloc(sizeof *score * (size_t)(rows > 0 ? rows : 1) * (size_t)nc);
    if (!score)
        return ameir_fail(AMEIR_ENOMEM, "prediction scores for %lld rows", (long long)rows);
    if ((rc = score_seq(net, split, s, 0, rows, score, 0)) == 0) {
        for (int64_t r = 0; r < rows; r++) {
            const float *sc = score + r * nc;
            int64_t above = 0;
            for (int j = 1; j < nc; j++)
                above += sc[j] >= sc[0]; /* ties count against the true item, as in the metrics */
            logit[r] = sc[0];
            if (rank)
                rank[r] = 1 + above;
        }
    }
    free(score);
    return rc;
}
