/* Training and evaluation of one network on a prepared dataset.
 *
 * Training is a pure function of (initial state, data, config, step index): step s takes
 * the batch at position s of the seed's epoch orders and draws dropout (and, for seq
 * data, negatives) from the stream (seed, s). So training to step 2r in one go equals
 * training to r, saving, loading and training on to 2r; this is what lets the search
 * promote trials and resume them bit-identically on any rank. */
#ifndef AMEIR_TRAIN_H
#define AMEIR_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ameir/dataset.h"
#include "ameir/net.h"

/* Data-parallel training over several ranks (the transport is the caller's, e.g. MPI in
 * src/cluster). rank, size: this rank's place among the ranks that train the net together.
 * Each returns 0 or a negative error; none of them adds anything (the sums are the model's,
 * in shard order, never the transport's reduction order).
 *   allgather: every rank's bytes (send, nsend) to every rank, concatenated in rank order
 *     into recv (at most cap bytes; *nrecv the total).
 *   alltoall: rank q gets scounts[q] bytes of send (the blocks for ranks 0, 1, ... lie one
 *     after the other); recv gets rcounts[q] bytes from each rank q, in rank order. Every
 *     rank knows every count, so none is sent.
 *   allgather_inplace: buf holds counts[q] bytes of each rank q one after the other, this
 *     rank's own already in place; afterwards every rank's block is filled in. */
typedef struct ameir_shard_comm {
    int rank, size;
    int (*allgather)(void *ctx, const void *send, size_t nsend, void *recv, size_t cap, size_t *nrecv);
    int (*alltoall)(void *ctx, const void *send, const size_t *scounts, void *recv, const size_t *rcounts);
    int (*allgather_inplace)(void *ctx, void *buf, const size_t *counts);
    void *ctx;
} ameir_shard_comm;

typedef struct ameir_train_config {
    ameir_train_opts opt;
    int batch;          /* rows per step (default 256) */
    int epochs;         /* for fit: maximum epochs (default 10) */
    int64_t max_steps;  /* for fit: step budget, 0 = epochs only */
    int64_t eval_every; /* for fit: validate every K steps; 0 = once per epoch */
    int patience;       /* for fit: validations without improvement before stopping (default 2) */
    int n_neg;          /* seq data: sampled negatives per positive in training (default 1) */
    uint64_t seed;
    int threads;        /* BLAS threads (default 1) */
    /* Virtual shards (default 0: off). With S > 0 every step's batch is cut into S
     * contiguous shards, each shard's gradient is computed on its own (one thread) and the
     * shards are summed in shard order: the weights after a step depend on S, not on how
     * many ranks share the shards (comm) nor on threads. */
    int shards;
    const ameir_shard_comm *comm; /* NULL: this rank computes every shard */
} ameir_train_config;

ameir_train_config ameir_train_config_default(void);

/* The metric values, in their stored order (checkpoint columns after task and rows, the
 * protocol's payload, the JSON keys): X(field, task it belongs to, upper bound). One list
 * drives the struct and every writer and reader of it. */
#define AMEIR_METRIC_VALUES(X)                                                                            \
    X(auc, AMEIR_TASK_CTR, 1) X(logloss, AMEIR_TASK_CTR, INFINITY) X(gauc, AMEIR_TASK_CTR, 1)               \
    X(hr1, AMEIR_TASK_SEQ, 1) X(hr5, AMEIR_TASK_SEQ, 1) X(hr10, AMEIR_TASK_SEQ, 1) X(ndcg5, AMEIR_TASK_SEQ, 1) \
    X(ndcg10, AMEIR_TASK_SEQ, 1) X(mrr, AMEIR_TASK_SEQ, 1)
#define AMEIR_METRIC_COUNT_(f, task, hi) +1
enum { AMEIR_N_METRIC_VALUES = 0 AMEIR_METRIC_VALUES(AMEIR_METRIC_COUNT_) };

typedef struct ameir_metrics {
    int task;     /* enum ameir_task */
    int64_t rows; /* rows (ctr) or users (seq) evaluated */
#define AMEIR_METRIC_FIELD_(f, task, hi) double f;
    AMEIR_METRIC_VALUES(AMEIR_METRIC_FIELD_)
#undef AMEIR_METRIC_FIELD_
} ameir_metrics;

/* The values of m in list order into v (AMEIR_N_METRIC_VALUES of them), and back. */
void ameir_metrics_get_values(const ameir_metrics *m, double *v);
void ameir_metrics_set_values(ameir_metrics *m, const double *v);
/* Value i's name ("auc", ...), task and upper bound (lower bound 0, NaN allowed). */
const char *ameir_metric_value_name(int i);
int ameir_metric_value_task(int i);
double ameir_metric_value_max(int i);

/* The metric the search and early stopping maximise: AUC (ctr) or NDCG@10 (seq). */
double ameir_metrics_primary(const ameir_metrics *m);
const char *ameir_metrics_primary_name(int task);

/* Evaluate on a loaded split. Returns 0 or a negative error. */
int ameir_evaluate(ameir_net *net, const ameir_split *split, ameir_metrics *out);

/* ameir_evaluate split over the ranks of a group (NULL or one rank: ameir_evaluate): each
 * rank scores a contiguous share of the rows, the scores are gathered in row order and
 * every rank computes the same metrics, bit-identical to ameir_evaluate's (a row's score
 * does not depend on the rows scored with it). Every rank of the group must call it.
 * Returns 0 or a negative error (the transport's among them). */
int ameir_evaluate_group(ameir_net *net, const ameir_split *split, const ameir_shard_comm *group, ameir_metrics *out);

/* Group rank 0's weights, Adam moments and step copied to every rank of the group (NULL or
 * one rank: nothing to do), between training calls (m and v are whole then). A rank that
 * joins a running trial gets its state this way and trains on bit for bit. Every rank of
 * the group must call it with a net of the same arch. Returns 0 or the transport's error. */
int ameir_net_share_state(ameir_net *net, const ameir_shard_comm *group);

/* ameir_evaluate with each seq candidate row run through the whole network on its own copy
 * of the history (ameir_net_predict): the reference that ameir_evaluate's one encoding per
 * history is tested against, bit for bit. Same for ctr data. */
int ameir_evaluate_reference(ameir_net *net, const ameir_split *split, ameir_metrics *out);

/* Train from the net's current step (its Adam step count) up to target_steps.
 * Returns 0, or AMEIR_EDIVERGED (loss NaN/inf; *last_loss holds it). */
int ameir_train_steps(ameir_net *net, const ameir_split *train, const ameir_train_config *c, int64_t target_steps, double *last_loss);

typedef struct ameir_fit_result {
    int64_t steps;          /* steps taken */
    int64_t best_step;      /* step of the kept weights */
    double epochs;          /* epochs taken (fractional) */
    double seconds;
    ameir_metrics best_valid;
    int diverged;
} ameir_fit_result;

/* Train with validation every eval_every steps (or epoch), early stopping on the primary
 * metric, and the best weights restored at the end. Progress lines go to stderr when
 * verbose. Returns 0, or AMEIR_EDIVERGED (the best weights so far are kept). */
int ameir_train_fit(ameir_net *net, const ameir_split *train, const ameir_split *valid, const ameir_train_config *c, int verbose, ameir_fit_result *res);

/* ameir_train_fit one validation at a time, so that a group can grow between two (the
 * fit's state is whole there). open checks the budget; next trains to the next validation
 * and validates (*more = 0 once the fit is over: budget, early stop or divergence); share,
 * collective over c->comm as it is now (a grown group, the joining ranks opened on a fresh
 * net of the same arch), gives every rank group rank 0's whole state: net, best snapshot,
 * best metric, validations without improvement; close restores the best weights, fills
 * res and frees (AMEIR_EDIVERGED as ameir_train_fit); free alone is for the error paths.
 * c is copied, but c->comm is kept by pointer: a group grows in place. */
typedef struct ameir_fit ameir_fit;
int ameir_fit_open(ameir_fit **f, ameir_net *net, const ameir_split *train, const ameir_split *valid, const ameir_train_config *c,
                   int verbose);
int ameir_fit_next(ameir_fit *f, int *more);
int ameir_fit_share(ameir_fit *f);
int ameir_fit_close(ameir_fit *f, ameir_fit_result *res);
void ameir_fit_free(ameir_fit *f);

/* Rows of the network batch training and evaluation need for a config and schema:
 * batch * (1 + n_neg) for seq data (at least n_candidates), batch for ctr. Create the net
 * with at least this max_batch. */
int ameir_train_batch_rows(const ameir_train_config *c, const ameir_schema *s);

/* ceil(rows / batch): the last batch of an epoch may be short. */
int64_t ameir_train_steps_per_epoch(int64_t rows, int batch);

/* One logit per row of a loaded split, written to logit (rows entries). For seq data the
 * logit is the true item's and rank (may be NULL) receives its rank among the row's
 * candidates (ties count against it); for ctr data rank receives 0. Returns 0 or an error. */
int ameir_predict_scores(ameir_net *net, const ameir_split *split, float *logit, int64_t *rank);

#endif
