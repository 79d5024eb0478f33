/* A weight-sharing supernet over the candidates of one search stage (AMEIR's one-shot
 * random search; single-path sampling as in SPOS, Guo et al. 2020).
 *
 * Built once from the stage's candidate architectures, with all memory sized then. Every
 * candidate is a path through shared weights:
 *   - embeddings, position embeddings and the DIN unit: one copy for all paths;
 *   - behaviour block slot i: one set of weights per (norm, op, option, act) choice;
 *   - MLP input: one column block per field, the behaviour vector and every interaction
 *     group any candidate uses; a path reads only its groups' blocks (the others are
 *     masked out of its input);
 *   - MLP layer slot j at the widest width any candidate gives it, a narrower layer the
 *     top-left slice (slimmable / once-for-all); activations are choices without weights;
 *     the output layer and the shortcut one per depth.
 * A path is computed by the candidate's own standalone network (ameir_net), whose weights
 * are copied in from the shared tensors before and out after each step, so a path's
 * loss, gradients and scores are exactly those of the architecture trained alone with the
 * same weights.
 *
 * Training step s draws one path uniformly from the candidates still alive (stream
 * (seed ^ AMEIR_SUPERNET_STREAM, s)) and trains it on step s of the same seeded data
 * stream as the standalone trials (train.h), plain or over virtual shards and ranks
 * (c->shards, c->comm). Adam keeps one step count for the whole supernet; a weight off
 * the path is left alone (lazily, as embedding rows are). */
#ifndef AMEIR_SUPERNET_H
#define AMEIR_SUPERNET_H

#include <hdf5.h>
#include <stdint.h>

#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/net.h"
#include "ameir/train.h"

#define AMEIR_SUPERNET_STREAM 0x5B9E7000ull

typedef struct ameir_supernet ameir_supernet;

/* Build the supernet of n candidates (valid archs, checked against the schema) for
 * networks of max_batch rows (ameir_train_batch_rows), weights initialised from seed: each
 * shared weight takes the value the first candidate using it would start from. Errors:
 * AMEIR_ECONFIG (a candidate does not fit; two candidates give one shared tensor
 * incompatible shapes), AMEIR_ENOMEM. */
int ameir_supernet_create(ameir_supernet **out, const ameir_arch *cands, int n, const ameir_schema *schema, int d,
                          int max_batch, uint64_t seed);
void ameir_supernet_free(ameir_supernet *sn);

int ameir_supernet_candidates(const ameir_supernet *sn);
int64_t ameir_supernet_step(const ameir_supernet *sn);
/* Shared floats (weights, not counting the Adam moments). */
int64_t ameir_supernet_param_count(const ameir_supernet *sn);

/* The path that training step s draws from the alive candidates (indices, n_alive >= 1). */
int ameir_supernet_path_at(uint64_t seed, int64_t s, const int *alive, int n_alive);

/* Train from the supernet's step up to target_steps, one sampled path a step; c->seed is
 * the data and path stream. Returns 0, AMEIR_EDIVERGED (the loss became NaN/inf; the
 * weights before that step are kept) or a transport error. */
int ameir_supernet_train(ameir_supernet *sn, const ameir_split *train, const ameir_train_config *c, const int *alive,
                         int n_alive, int64_t target_steps, double *last_loss);

/* Validation metrics of candidate k with the supernet's weights, no training. */
int ameir_supernet_score(ameir_supernet *sn, int k, const ameir_split *valid, ameir_metrics *out);

/* Candidate k's network with the supernet's weights, both moments and step copied in, so
 * it trains on alone (the "inherit" of the standalone phase). net: created for the
 * candidate's arch (any seed). Returns 0 or AMEIR_EINVAL (another arch). */
int ameir_supernet_export(ameir_supernet *sn, int k, ameir_net *net);

/* The state (shared weights, moments, step) into / from an open HDF5 group, as
 * ameir_net_save does for a net; loading checks names and shapes. Bit-exact. */
int ameir_supernet_save(const ameir_supernet *sn, hid_t group);
int ameir_supernet_load(ameir_supernet *sn, hid_t group);

#endif
