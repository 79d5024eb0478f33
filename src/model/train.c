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

void ameir_train_ws_destroy_(ameir_train_ws *ws) {
    ameir_feed_destroy_(&ws->feed);
    ameir_shards_free_(ws->shards);
    ws->shards = NULL;
}

int ameir_train_ws_init_(ameir_train_ws *ws, ameir_net *net, const ameir_split *sp, const ameir_train_config *c) {
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
        ameir_shards_slice_adam_(ws->shards); /* m and v synced by the callers of ameir_train_range_ */
    if (rc < 0)
        ameir_train_ws_destroy_(ws);
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

int ameir_train_range_(ameir_net *net, const ameir_split *sp, const ameir_train_config *c, int64_t target, ameir_train_ws *ws,
                       double *loss_sum, double *last_loss) {
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
    ameir_train_ws ws;
    double sum = 0.0, last = 0.0;
    AMEIR_TRY(ameir_train_ws_init_(&ws, net, train, c));
    int rc = ameir_train_range_(net, train, c, target_steps, &ws, &sum, &last);
    if (rc >= 0 || rc == AMEIR_EDIVERGED) { /* every rank got here alike: m and v whole again */
        int sr = ameir_shards_sync_(ws.shards, net);
        rc = sr < 0 ? sr : rc;
    }
    if (last_loss)
        *last_loss = last;
    ameir_train_ws_destroy_(&ws);
    return rc;
}
