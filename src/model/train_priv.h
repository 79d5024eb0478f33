/* Internal to src/model/train.c and evaluate.c. */
#ifndef AMEIR_MODEL_TRAIN_PRIV_H
#define AMEIR_MODEL_TRAIN_PRIV_H

#include "ameir/net.h"
#include "ameir/schema.h"
#include "ameir/train.h"

/* The schema the network was built for. */
const ameir_schema *ameir_train_schema(const ameir_net *net);

/* shards.c: the virtual-shard step (see ameir_train_config.shards). init checks the
 * shard count and the comm and sizes every buffer for the config's batch. step computes
 * this rank's shards of the filled batch b, gathers all shards through the comm, leaves
 * their ordered sum (+ L2 on the touched rows) as the net's gradient and the loss in *loss
 * (the caller takes the Adam step). drop: the step's dropout stream (shard s draws from
 * its child s). Returns 0 or an error (AMEIR_EINTERNAL for a gathered buffer that does not
 * parse, an error of the transport). */
typedef struct ameir_shard_ws ameir_shard_ws;
int ameir_shards_init_(ameir_shard_ws **out, ameir_net *net, const ameir_train_config *c);
void ameir_shards_free_(ameir_shard_ws *w);
int ameir_shards_step_(ameir_shard_ws *w, ameir_net *net, const ameir_batch *b, const ameir_train_opts *o,
                       const ameir_rng *drop, float *loss);

#endif
