/* Training with early stopping, one validation at a time.
 *
 * Between two validations the fit's state is whole on every rank (weights, both moments,
 * the step, the best snapshot and its metric, the validations without improvement), so a
 * group may grow there: ameir_fit_share hands group rank 0's state to ranks that join, and
 * they go on bit for bit (steps are pure functions of (seed, step), see train.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/train.h"
#include "net_internal.h"
#include "train_priv.h"

/* A copy of everything a net's training state is: parameters, both moments, step. */
typedef struct snapshot {
    float *data, *m, *v;
    int64_t step;
    int64_t valid;
} snapshot;

/* What early stopping keeps between validations (shared as one block of bytes). */
typedef struct fit_marks {
    double best_metric;
    int64_t start, limit, bad;
    ameir_metrics best_valid;
} fit_marks;

struct ameir_fit {
    ameir_net *net;
    const ameir_split *train, *valid;
    ameir_train_config c;
    int verbose, over, diverged;
    ameir_train_ws ws;
    snapshot best;
    fit_marks k;
    int64_t every;
    int patience;
    double t0;
};

static int snapshot_alloc(snapshot *sn, const ameir_params *p) {
    memset(sn, 0, sizeof *sn);
    sn->data = malloc(sizeof(float) * p->total);
    sn->m = malloc(sizeof(float) * p->total);
    sn->v = malloc(sizeof(float) * p->total);
    if (!sn->data || !sn->m || !sn->v)
        return ameir_fail(AMEIR_ENOMEM, "copy of the best weights (%zu floats)", p->total);
    return 0;
}

static void snapshot_free(snapshot *sn) {
    free(sn->data);
    free(sn->m);
    free(sn->v);
}

static void snapshot_take(snapshot *sn, const ameir_params *p) {
    memcpy(sn->data, p->data, sizeof(float) * p->total);
    memcpy(sn->m, p->m, sizeof(float) * p->total);
    memcpy(sn->v, p->v, sizeof(float) * p->total);
    sn->step = p->step;
    sn->valid = 1;
}

static void snapshot_restore(const snapshot *sn, ameir_params *p) {
    memcpy(p->data, sn->data, sizeof(float) * p->total);
    memcpy(p->m, sn->m, sizeof(float) * p->total);
    memcpy(p->v, sn->v, sizeof(float) * p->total);
    p->step = sn->step;
}

void ameir_fit_free(ameir_fit *f) {
    if (!f)
        return;
    snapshot_free(&f->best);
    ameir_train_ws_destroy_(&f->ws);
    free(f);
}

int ameir_fit_open(ameir_fit **out, ameir_net *net, const ameir_split *train, const ameir_split *valid, const ameir_train_config *c,
                   int verbose) {
    ameir_params *p = ameir_net_params(net);
    *out = NULL;
    ameir_fit *f = calloc(1, sizeof *f);
    if (!f)
        return ameir_fail(AMEIR_ENOMEM, "a fit's state");
    f->net = net, f->train = train, f->valid = valid, f->c = *c, f->verbose = verbose;
    f->t0 = ameir_now();
    f->k.best_metric = -INFINITY;
    f->k.best_valid.task = ameir_net_schema(net)->task;
    int rc = ameir_train_ws_init_(&f->ws, net, train, c);
    if (rc < 0) {
        free(f);
        return rc;
    }
    if ((rc = snapshot_alloc(&f->best, p)) < 0) {
        ameir_fit_free(f);
        return rc;
    }
    int64_t start = p->step, limit = INT64_MAX;
    if (c->epochs > 0)
        limit = start + (int64_t)c->epochs * f->ws.feed.spe;
    if (c->max_steps > 0 && start + c->max_steps < limit)
        limit = start + c->max_steps;
    if (limit == INT64_MAX) {
        ameir_fit_free(f);
        return ameir_fail(AMEIR_EINVAL, "no training budget: give epochs or a step count");
    }
    f->k.start = start, f->k.limit = limit;
    f->every = c->eval_every > 0 ? c->eval_every : f->ws.feed.spe;
    f->patience = c->patience > 0 ? c->patience : 1;
    *out = f;
    return 0;
}

int ameir_fit_next(ameir_fit *f, int *more) {
    ameir_params *p = ameir_net_params(f->net);
    const char *pname = ameir_metrics_primary_name(ameir_net_schema(f->net)->task);
    const ameir_train_config *c = &f->c;
    *more = 0;
    if (f->over || p->step >= f->k.limit)
        return 0;
    int64_t from = p->step, to = from + f->every < f->k.limit ? from + f->every : f->k.limit;
    double sum = 0.0, last = 0.0, t1 = ameir_now();
    int rc = ameir_train_range_(f->net, f->train, c, to, &f->ws, &sum, &last);
    if (rc == AMEIR_EDIVERGED) {
        f->diverged = f->over = 1;
        if (f->verbose)
            ameir_log(AMEIR_LOG_WARN, "%s", ameir_last_error());
        return 0;
    }
    AMEIR_TRY(rc);
    /* m and v whole on every rank at each validation: the best snapshot and a rank that
     * joins here both need them */
    AMEIR_TRY(ameir_shards_sync_(f->ws.shards, f->net));
    ameir_metrics m;
    /* split over a group's ranks, which all get the same metrics */
    AMEIR_TRY(ameir_evaluate_group(f->net, f->valid, c->comm, &m));
    double v = ameir_metrics_primary(&m), now = ameir_now();
    int improved = v > f->k.best_metric;
    if (improved) {
        f->k.best_metric = v;
        f->k.best_valid = m;
        snapshot_take(&f->best, p);
        f->k.bad = 0;
    } else {
        f->k.bad++;
    }
    if (f->verbose) {
        double rate = (double)(to - from) * c->batch / (now - t1 > 1e-9 ? now - t1 : 1e-9);
        double per_step = (now - f->t0) / (double)(p->step - f->k.start);
        char eta[32];
        ameir_format_duration(eta, sizeof eta, per_step * (double)(f->k.limit - p->step));
        ameir_log(AMEIR_LOG_INFO, "step %lld/%lld epoch %.2f loss %.5f rows/s %.0f ETA %s | valid %s %.5f%s (best %.5f at step %lld)",
                  (long long)p->step, (long long)f->k.limit, (double)p->step / (double)f->ws.feed.spe, sum / (double)(to - from), rate,
                  eta, pname, v, improved ? " *" : "", f->k.best_metric, (long long)f->best.step);
    }
    if (f->k.bad >= f->patience) {
        if (f->verbose)
            ameir_log(AMEIR_LOG_INFO, "early stop: no %s improvement in %lld validations", pname, (long long)f->k.bad);
        f->over = 1;
        return 0;
    }
    *more = p->step < f->k.limit;
    return 0;
}

int ameir_fit_share(ameir_fit *f) {
    const ameir_shard_comm *g = f->c.comm;
    size_t n = sizeof(float) * ameir_net_params(f->net)->total;
    if (f->ws.shards) { /* the slices of the Adam step follow the group's new size */
        ameir_shards_free_(f->ws.shards);
        f->ws.shards = NULL;
        AMEIR_TRY(ameir_shards_init_(&f->ws.shards, f->net, &f->c));
        ameir_shards_slice_adam_(f->ws.shards);
    }
    AMEIR_TRY(ameir_net_share_state(f->net, g));
    AMEIR_TRY(ameir_group_bcast_(g, &f->k, sizeof f->k));
    AMEIR_TRY(ameir_group_bcast_(g, &f->best.step, sizeof f->best.step));
    AMEIR_TRY(ameir_group_bcast_(g, &f->best.valid, sizeof f->best.valid));
    if (!f->best.valid)
        return 0;
    AMEIR_TRY(ameir_group_bcast_(g, f->best.data, n));
    AMEIR_TRY(ameir_group_bcast_(g, f->best.m, n));
    return ameir_group_bcast_(g, f->best.v, n);
}

int ameir_fit_close(ameir_fit *f, ameir_fit_result *res) {
    ameir_params *p = ameir_net_params(f->net);
    memset(res, 0, sizeof *res);
    res->best_valid = f->k.best_valid;
    res->diverged = f->diverged;
    res->steps = p->step - f->k.start;
    if (f->best.valid) {
        snapshot_restore(&f->best, p);
        res->best_step = f->best.step;
    } else {
        res->best_step = p->step; /* diverged before the first validation: the last good step */
    }
    int rc = ameir_shards_sync_(f->ws.shards, f->net); /* m and v whole again on every rank */
    res->epochs = (double)res->steps / (double)f->ws.feed.spe;
    res->seconds = ameir_now() - f->t0;
    if (rc >= 0 && res->diverged)
        rc = ameir_fail(AMEIR_EDIVERGED, "training diverged (loss NaN or infinite) after %lld steps; kept the weights of step %lld (learning rate %g: try a smaller --lr)",
                        (long long)res->steps, (long long)res->best_step, (double)f->c.opt.lr);
    ameir_fit_free(f);
    return rc;
}

int ameir_train_fit(ameir_net *net, const ameir_split *train, const ameir_split *valid, const ameir_train_config *c, int verbose,
                    ameir_fit_result *res) {
    ameir_fit *f = NULL;
    int more = 1;
    memset(res, 0, sizeof *res);
    AMEIR_TRY(ameir_fit_open(&f, net, train, valid, c, verbose));
    while (more) {
        int rc = ameir_fit_next(f, &more);
        if (rc < 0) {
            ameir_fit_free(f);
            return rc;
        }
    }
    return ameir_fit_close(f, res);
}
