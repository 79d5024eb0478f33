/* The training loop: deterministic steps, validation, early stopping, best weights.
 *
 * Step s is a pure function of (seed, s): epoch e = s / steps_per_epoch reads the rows in
 * the order ameir_split_epoch_order(seed, e), the batch is the slice of that order for s,
 * and dropout and negatives come from child streams of ameir_rng_stream(seed, s). The net's
 * Adam step count is the step, so a run can stop after any step and resume elsewhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/train.h"
#include "net_internal.h"
#include "train_priv.h"

/* child streams of (seed, s): one for sampled negatives, one for dropout masks */
enum { STREAM_NEGATIVES = 1, STREAM_DROPOUT = 2 };

ameir_train_config ameir_train_config_default(void) {
    ameir_train_config c;
    memset(&c, 0, sizeof c);
    c.opt = ameir_train_opts_default();
    c.batch = 256;
    c.epochs = 10;
    c.max_steps = 0;
    c.eval_every = 0;
    c.patience = 2;
    c.n_neg = 1;
    c.seed = 1;
    c.threads = 1;
    return c;
}

/* net.h has no schema getter; the net keeps a copy of the schema it was built for. */

int ameir_train_batch_rows(const ameir_train_config *c, const ameir_schema *s) {
    int train = s->task == AMEIR_TASK_SEQ ? c->batch * (1 + c->n_neg) : c->batch;
    int eval = s->task == AMEIR_TASK_SEQ ? s->n_candidates : 0;
    return train > eval ? train : eval;
}

int64_t ameir_train_steps_per_epoch(int64_t rows, int batch) { return rows <= 0 ? 0 : (rows + batch - 1) / batch; }

static int check_config(const ameir_train_config *c, const ameir_schema *s, int max_batch) {
    if (c->batch < 1)
        return ameir_fail(AMEIR_EINVAL, "batch: got %d, expected at least 1", c->batch);
    if (s->task == AMEIR_TASK_SEQ && c->n_neg < 1)
        return ameir_fail(AMEIR_EINVAL, "negatives per positive: got %d, expected at least 1", c->n_neg);
    if (ameir_train_batch_rows(c, s) > max_batch)
        return ameir_fail(AMEIR_EINVAL, "batch of %d rows does not fit the network's capacity of %d rows",
                          ameir_train_batch_rows(c, s), max_batch);
    if (!(c->opt.lr > 0.0f) || !isfinite(c->opt.lr))
        return ameir_fail(AMEIR_EINVAL, "learning rate: got %g, expected a positive number", (double)c->opt.lr);
    if (!(c->opt.dropout >= 0.0f && c->opt.dropout < 1.0f))
        return ameir_fail(AMEIR_EINVAL, "dropout: got %g, expected a rate in [0, 1)", (double)c->opt.dropout);
    if (!(c->opt.l2 >= 0.0f) || !isfinite(c->opt.l2))
        return ameir_fail(AMEIR_EINVAL, "l2: got %g, expected a number >= 0", (double)c->opt.l2);
    return 0;
}

void ameir_feed_destroy_(ameir_feed *f) {
    ameir_batch_destroy(&f->batch);
    free(f->order);
    f->order = NULL;
}

int ameir_feed_init_(ameir_feed *f, const ameir_schema *s, int max_batch, const ameir_split *sp, const ameir_train_config *c) {
    memset(f, 0, sizeof *f);
    f->epoch = -1;
    f->task = s->task;
    f->rows = ameir_split_rows(sp);
    AMEIR_TRY(check_config(c, s, max_batch));
    if (f->rows <= 0)
        return ameir_fail(AMEIR_EDATA, "the training split has no rows");
    f->spe = ameir_train_steps_per_epoch(f->rows, c->batch);
    f->order = malloc(sizeof *f->order * (size_t)f->rows);
    if (!f->order)
        return ameir_fail(AMEIR_ENOMEM, "epoch order of %lld rows", (long long)f->rows);
    int rc = ameir_batch_init(&f->batch, s, ameir_train_batch_rows(c, s));
    if (rc < 0)
        ameir_feed_destroy_(f);
    return rc;
}

ameir_rng ameir_feed_fill_(ameir_feed *f, const ameir_split *sp, const ameir_train_config *c, int64_t s) {
    int64_t e = s / f->spe, begin = (s % f->spe) * c->batch;
    int n = (int)(f->rows - begin < c->batch ? f->rows - begin : c->batch);
    if (e != f->epoch) {
        ameir_split_epoch_order(sp, c->seed, e, f->order);
        f->epoch = e;
    }
    ameir_rng r = ameir_rng_stream(c->seed, (uint64_t)s);
    ameir_rng neg = ameir_rng_split(&r, STREAM_NEGATIVES);
    if (f->task == AMEIR_TASK_SEQ)
        ameir_split_fill_seq_train(sp, f->order + begin, n, c->n_neg, &neg, &f->batch);
    else
        ameir_split_fill(sp, f->order + begin, n, &f->batch);
    return ameir_rng_split(&r, STREAM_DROPOUT);
}

/* What a run of steps needs, allocated once outside the steps. */
typedef struct train_ws {
    ameir_feed feed;
    ameir_shard_ws *shards; /* NULL unless c->shards > 0 */
    /* progress */
    int verbose;
    double t_last_print;
} train_ws;

static void ws_destroy(train_ws *ws) {
    ameir_feed_destroy_(&ws->feed);
    ameir_shards_free_(ws->shards);
    ws->shards = NULL;
}

static int ws_init(train_ws *ws, ameir_net *net, const ameir_split *sp, const ameir_train_config *c) {
    memset(ws, 0, sizeof *ws);
    AMEIR_TRY(ameir_feed_init_(&ws->feed, ameir_net_schema(net), ameir_net_max_batch(net), sp, c));
    int rc = 0;
    /* the net splits a step's rows over its own threads; BLAS threads inside them only
     * oversubscribe the cores (measured slower at 2 than at 1) */
    if (c->threads > 0 || c->shards > 0) {
        openblas_set_num_threads(1);
        /* a virtual shard is computed on one thread, so that its gradient is the same on
         * every rank whatever its thread count */
        rc = ameir_net_set_threads(net, c->shards > 0 ? 1 : c->threads);
    }
    if (rc >= 0 && c->shards > 0 && (rc = ameir_shards_init_(&ws->shards, net, c)) >= 0)
        ameir_shards_slice_adam_(ws->shards); /* m and v synced by the callers of train_range */
    if (rc < 0)
        ws_destroy(ws);
    return rc;
}

float ameir_net_step_grad_(ameir_net *net, ameir_shard_ws *shards, const ameir_batch *b, const ameir_train_opts *o,
                           ameir_rng *drop, int *rc) {
    float loss = 0.0f;
    *rc = 0;
    if (shards)
        *rc = ameir_shards_step_(shards, net, b, o, drop, &loss);
    else
        loss = ameir_net_forward_backward(net, b, o, drop, NULL);
    return loss;
}

/* Steps from the net's step count up to target. Adds each loss to *loss_sum. On a NaN or
 * infinite loss the Adam step is not taken, so the weights stay those of the last good step. */
static int train_range(ameir_net *net, const ameir_split *sp, const ameir_train_config *c, int64_t target,
                       train_ws *ws, double *loss_sum, double *last_loss) {
    ameir_params *p = ameir_net_params(net);
    for (int64_t s = p->step; s < target; s++) {
        ameir_rng drop = ameir_feed_fill_(&ws->feed, sp, c, s);
        int rc;
        float loss = ameir_net_step_grad_(net, ws->shards, &ws->feed.batch, &c->opt, &drop, &rc);
        AMEIR_TRY(rc);
        if (last_loss)
            *last_loss = loss;
        if (!isfinite(loss))
            return ameir_fail(AMEIR_EDIVERGED, "training loss became %s at step %lld (learning rate %g); the weights before that step are kept",
                              isnan(loss) ? "NaN" : "infinite", (long long)s, (double)c->opt.lr);
        if (ws->shards)
            AMEIR_TRY(ameir_shards_adam_step_(ws->shards, net, &c->opt));
        else
            ameir_net_adam_step(net, &c->opt);
        AMEIR_ASSERT(p->step == s + 1);
        *loss_sum += loss;
    }
    return 0;
}

int ameir_train_steps(ameir_net *net, const ameir_split *train, const ameir_train_config *c, int64_t target_steps, double *last_loss) {
    train_ws ws;
    double sum = 0.0, last = 0.0;
    AMEIR_TRY(ws_init(&ws, net, train, c));
    int rc = train_range(net, train, c, target_steps, &ws, &sum, &last);
    if (rc >= 0 || rc == AMEIR_EDIVERGED) { /* every rank got here alike: m and v whole again */
        int sr = ameir_shards_sync_(ws.shards, net);
        rc = sr < 0 ? sr : rc;
    }
    if (last_loss)
        *last_loss = last;
    ws_destroy(&ws);
    return rc;
}

/* A copy of everything a net's training state is: parameters, both moments, step. */
typedef struct snapshot {
    float *data, *m, *v;
    int64_t step;
    int valid;
} snapshot;

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

int ameir_train_fit(ameir_net *net, const ameir_split *train, const ameir_split *valid, const ameir_train_config *c, int verbose, ameir_fit_result *res) {
    ameir_params *p = ameir_net_params(net);
    const ameir_schema *s = ameir_net_schema(net);
    const char *pname = ameir_metrics_primary_name(s->task);
    train_ws ws;
    snapshot best;
    int rc, bad = 0;
    double t0 = ameir_now(), best_metric = -INFINITY;
    memset(res, 0, sizeof *res);
    memset(&best, 0, sizeof best);
    res->best_valid.task = s->task;
    AMEIR_TRY(ws_init(&ws, net, train, c));
    if ((rc = snapshot_alloc(&best, p)) < 0)
        goto done;
    int64_t start = p->step, limit = INT64_MAX;
    if (c->epochs > 0)
        limit = start + (int64_t)c->epochs * ws.feed.spe;
    if (c->max_steps > 0 && start + c->max_steps < limit)
        limit = start + c->max_steps;
    if (limit == INT64_MAX) {
        rc = ameir_fail(AMEIR_EINVAL, "no training budget: give epochs or a step count");
        goto done;
    }
    int64_t every = c->eval_every > 0 ? c->eval_every : ws.feed.spe;
    int patience = c->patience > 0 ? c->patience : 1;
    while (p->step < limit) {
        int64_t from = p->step, to = from + every < limit ? from + every : limit;
        double sum = 0.0, last = 0.0, t1 = ameir_now();
        rc = train_range(net, train, c, to, &ws, &sum, &last);
        if (rc == AMEIR_EDIVERGED) {
            res->diverged = 1;
            if (verbose)
                ameir_log(AMEIR_LOG_WARN, "%s", ameir_last_error());
            break;
        }
        if (rc < 0)
            goto done;
        ameir_metrics m;
        /* split over a group's ranks, which all get the same metrics */
        if ((rc = ameir_evaluate_group(net, valid, c->comm, &m)) < 0)
            goto done;
        double v = ameir_metrics_primary(&m), now = ameir_now();
        int improved = v > best_metric;
        if (improved) {
            best_metric = v;
            res->best_valid = m;
            snapshot_take(&best, p);
            bad = 0;
        } else {
            bad++;
        }
        if (verbose) {
            double rate = (double)(to - from) * c->batch / (now - t1 > 1e-9 ? now - t1 : 1e-9);
            double per_step = (now - t0) / (double)(p->step - start);
            char eta[32];
            ameir_format_duration(eta, sizeof eta, per_step * (double)(limit - p->step));
            ameir_log(AMEIR_LOG_INFO, "step %lld/%lld epoch %.2f loss %.5f rows/s %.0f ETA %s | valid %s %.5f%s (best %.5f at step %lld)",
                      (long long)p->step, (long long)limit, (double)p->step / (double)ws.feed.spe, sum / (double)(to - from),
                      rate, eta, pname, v, improved ? " *" : "", best_metric, (long long)best.step);
        }
        if (bad >= patience) {
            if (verbose)
                ameir_log(AMEIR_LOG_INFO, "early stop: no %s improvement in %d validations", pname, bad);
            break;
        }
    }
    res->steps = p->step - start;
    if (best.valid) {
        snapshot_restore(&best, p);
        res->best_step = best.step;
    } else {
        res->best_step = p->step; /* diverged before the first validation: the last good step */
    }
    if ((rc = ameir_shards_sync_(ws.shards, net)) < 0) /* m and v whole again on every rank */
        goto done;
    res->epochs = (double)(res->steps) / (double)ws.feed.spe;
    rc = res->diverged ? AMEIR_EDIVERGED : 0;
    if (res->diverged)
        ameir_fail(AMEIR_EDIVERGED, "training diverged (loss NaN or infinite) after %lld steps; kept the weights of step %lld (learning rate %g: try a smaller --lr)",
                   (long long)res->steps, (long long)res->best_step, (double)c->opt.lr);
done:
    res->seconds = ameir_now() - t0;
    snapshot_free(&best);
    ws_destroy(&ws);
    return rc;
}
