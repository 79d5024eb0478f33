/* Internal to src/model/train.c, fit.c, shards.c and evaluate.c. */
#ifndef AMEIR_MODEL_TRAIN_PRIV_H
#define AMEIR_MODEL_TRAIN_PRIV_H

#include "ameir/net.h"
#include "ameir/schema.h"
#include "ameir/train.h"


/* shards.c: the virtual-shard step (see ameir_train_config.shards). init checks the
 * shard count and the comm and sizes every buffer for the config's batch. step computes
 * this rank's shards of the filled batch b, gathers all shards through the comm, leaves
 * their ordered sum (+ L2 on the touched rows) as the net's gradient and the loss in *loss
 * (the caller takes the Adam step). drop: the step's dropout stream (shard s draws from
 * its child s). Returns 0 or an error (AMEIR_EINTERNAL for a gathered buffer that does not
 * parse, an error of the transport). */
typedef struct ameir_shard_ws ameir_shard_ws;
#include "ameir/dataset.h"
int ameir_shards_init_(ameir_shard_ws **out, ameir_net *net, const ameir_train_config *c);
void ameir_shards_free_(ameir_shard_ws *w);
int ameir_shards_step_(ameir_shard_ws *w, ameir_net *net, const ameir_batch *b, const ameir_train_opts *o,
                       const ameir_rng *drop, float *loss);
/* The Adam step by slices from here on (a plain net on several ranks; a supernet's paths
 * keep the whole step: they share one state): each rank sums and updates its slice of the
 * dense floats and its share of the touched rows. Then adam_step takes the step (every
 * rank must call it; the rows come back whole with their m and v), and sync must run
 * before the dense m or v is read or saved: after a run of steps. Without slices adam_step
 * is ameir_net_adam_step and sync does nothing. Both return 0 or the transport's error. */
void ameir_shards_slice_adam_(ameir_shard_ws *w);
int ameir_shards_adam_step_(ameir_shard_ws *w, ameir_net *net, const ameir_train_opts *o);
int ameir_shards_sync_(ameir_shard_ws *w, ameir_net *net);

/* train.c: the seeded data stream. Step s's batch is the slice s of the epoch orders of
 * c->seed (negatives for seq data from its stream); the returned rng is step s's dropout
 * stream. init checks the config against the schema and a net of max_batch rows. */
typedef struct ameir_feed {
    ameir_batch batch;
    int64_t *order; /* the current epoch's permutation */
    int64_t epoch;  /* epoch of order, -1 = none */
    int64_t rows, spe;
    int task;
} ameir_feed;
int ameir_feed_init_(ameir_feed *f, const ameir_schema *s, int max_batch, const ameir_split *sp, const ameir_train_config *c);
void ameir_feed_destroy_(ameir_feed *f);
ameir_rng ameir_feed_fill_(ameir_feed *f, const ameir_split *sp, const ameir_train_config *c, int64_t s);

/* One step's gradient on a filled batch: plain, or over virtual shards when shards is not
 * NULL (then *rc may carry the transport's error). Returns the loss; no Adam step. */
float ameir_net_step_grad_(ameir_net *net, ameir_shard_ws *shards, const ameir_batch *b, const ameir_train_opts *o,
                           ameir_rng *drop, int *rc);

/* train.c: what a run of steps needs, allocated once outside the steps (init also sets the
 * net's threads and, with virtual shards, the dense Adam step by slices over c->comm). */
typedef struct ameir_train_ws {
    ameir_feed feed;
    ameir_shard_ws *shards; /* NULL unless c->shards > 0 */
} ameir_train_ws;
int ameir_train_ws_init_(ameir_train_ws *ws, ameir_net *net, const ameir_split *sp, const ameir_train_config *c);
void ameir_train_ws_destroy_(ameir_train_ws *ws);
/* Steps from the net's step count up to target. Adds each loss to *loss_sum. On a NaN or
 * infinite loss the Adam step is not taken, so the weights stay those of the last good step
 * (AMEIR_EDIVERGED). m and v need ameir_shards_sync_ afterwards. */
int ameir_train_range_(ameir_net *net, const ameir_split *sp, const ameir_train_config *c, int64_t target, ameir_train_ws *ws,
                       double *loss_sum, double *last_loss);

/* shards.c: n bytes at buf from group rank 0 to every rank (NULL or one rank: nothing), in
 * pieces below MPI's int counts. */
int ameir_group_bcast_(const ameir_shard_comm *group, void *buf, size_t n);

#endif
