/* Payloads of the task and result messages, packed field by field. */
#include <string.h>

#include "ameir/dist.h"

void ameir_pack_task(ameir_pack *p, const ameir_search_task *t) {
    ameir_pack_i64(p, t->trial_id);
    ameir_pack_i64(p, t->stage);
    ameir_pack_i64(p, t->kind);
    ameir_pack_i64(p, t->rung);
    ameir_pack_i64(p, t->baseline);
    ameir_pack_i64(p, t->budget);
    ameir_pack_i64(p, t->parent);
    ameir_pack_i64(p, (int64_t)t->seed);
    ameir_pack_bytes(p, &t->arch, sizeof t->arch);
}

int ameir_unpack_task(const void *payload, size_t len, ameir_search_task *t) {
    ameir_unpack u;
    ameir_unpack_init(&u, payload, len);
    memset(t, 0, sizeof *t);
    t->trial_id = ameir_unpack_i64(&u);
    t->stage = (int)ameir_unpack_i64(&u);
    t->kind = (int)ameir_unpack_i64(&u);
    t->rung = (int)ameir_unpack_i64(&u);
    t->baseline = (int)ameir_unpack_i64(&u);
    t->budget = ameir_unpack_i64(&u);
    t->parent = ameir_unpack_i64(&u);
    t->seed = (uint64_t)ameir_unpack_i64(&u);
    ameir_unpack_bytes(&u, &t->arch, sizeof t->arch);
    AMEIR_TRY(ameir_unpack_finish(&u, "task"));
    if (t->trial_id < 0 || t->budget < 0 || t->stage < 0 || t->stage > AMEIR_STAGE_FINAL)
        return ameir_fail(AMEIR_EINVAL, "protocol error: task with trial %lld, stage %d, budget %lld", (long long)t->trial_id,
                          t->stage, (long long)t->budget);
    return 0;
}

static void pack_metrics(ameir_pack *p, const ameir_metrics *m) {
    ameir_pack_i64(p, m->task);
    ameir_pack_i64(p, m->rows);
    const double v[9] = {m->auc, m->logloss, m->gauc, m->hr1, m->hr5, m->hr10, m->ndcg5, m->ndcg10, m->mrr};
    for (int i = 0; i < 9; i++)
        ameir_pack_f64(p, v[i]);
}

static void unpack_metrics(ameir_unpack *u, ameir_metrics *m) {
    m->task = (int)ameir_unpack_i64(u);
    m->rows = ameir_unpack_i64(u);
    double *v[9] = {&m->auc, &m->logloss, &m->gauc, &m->hr1, &m->hr5, &m->hr10, &m->ndcg5, &m->ndcg10, &m->mrr};
    for (int i = 0; i < 9; i++)
        *v[i] = ameir_unpack_f64(u);
}

void ameir_pack_result(ameir_pack *p, const ameir_search_result *r) {
    ameir_pack_i64(p, r->trial_id);
    ameir_pack_i64(p, r->status);
    ameir_pack_f64(p, r->metric);
    pack_metrics(p, &r->valid);
    pack_metrics(p, &r->test);
    ameir_pack_i64(p, r->steps);
    ameir_pack_i64(p, r->worker);
    ameir_pack_f64(p, r->seconds);
}

int ameir_unpack_result(const void *payload, size_t len, ameir_search_result *r) {
    ameir_unpack u;
    ameir_unpack_init(&u, payload, len);
    memset(r, 0, sizeof *r);
    r->trial_id = ameir_unpack_i64(&u);
    r->status = (int)ameir_unpack_i64(&u);
    r->metric = ameir_unpack_f64(&u);
    unpack_metrics(&u, &r->valid);
    unpack_metrics(&u, &r->test);
    r->steps = ameir_unpack_i64(&u);
    r->worker = (int)ameir_unpack_i64(&u);
    r->seconds = ameir_unpack_f64(&u);
    AMEIR_TRY(ameir_unpack_finish(&u, "result"));
    if (r->status != AMEIR_TRIAL_DONE && r->status != AMEIR_TRIAL_DIVERGED && r->status != AMEIR_TRIAL_TIMEOUT)
        return ameir_fail(AMEIR_EINVAL, "protocol error: result of trial %lld has status %d", (long long)r->trial_id, r->status);
    return 0;
}
