/* Running one task of the search controller on loaded data (no MPI in here).
 *
 * A search trial builds the network for the task's arch, continues from its parent's
 * saved weights and Adam state when it has one, trains up to the budget in chunks (between
 * chunks it checks the time limit and asks the caller whether to stop), evaluates on valid
 * and saves its weights as TRIAL_DIR/trial-<id>.h5 so a promotion can continue from them.
 * A final trial trains from scratch with early stopping, is evaluated on valid and test
 * and saved as a model file TRIAL_DIR/final-<id>.h5. In a one-shot stage, a supernet trial
 * builds the stage's supernet (continuing its parent round's TRIAL_DIR/supernet-<id>.h5),
 * trains it to the budget over the alive candidates and saves it; a scored trial scores
 * one candidate on validation with the saved supernet's weights. Because training is a pure function
 * of (initial state, seed, step), the result depends only on the task, not on which rank
 * runs it or how often the search was interrupted. */
#ifndef AMEIR_TRIAL_H
#define AMEIR_TRIAL_H

#include "ameir/dataset.h"
#include "ameir/search.h"
#include "ameir/supernet.h"
#include "ameir/train.h"

/* What a rank needs to know to run tasks: plain data, so rank 0 can broadcast it as bytes. */
typedef struct ameir_trial_ctx {
    char data_dir[AMEIR_PATH_MAX];
    char trial_dir[AMEIR_PATH_MAX]; /* RUN.trials beside RUN.h5 */
    int d;
    ameir_train_config train;       /* search trials (seed replaced by the task's) */
    ameir_train_config final_train; /* final trials */
    double time_limit;              /* seconds per search trial, 0 = none */
} ameir_trial_ctx;

/* Fill ctx from a config and the checkpoint path; the trial directory is the checkpoint's
 * path without ".h5" plus ".trials" (RUN.h5 -> RUN.trials). Returns 0 or AMEIR_EINVAL
 * (path too long). */
int ameir_trial_ctx_init(ameir_trial_ctx *ctx, const ameir_search_config *cfg, const char *run_path);

/* A file beside a checkpoint: run_path with ".h5" replaced by suffix (else suffix appended),
 * e.g. RUN.h5 -> RUN.trials, RUN.journal. 0 or AMEIR_EINVAL. */
int ameir_run_sibling(const char *run_path, const char *suffix, char *out, size_t cap);

/* The trial directory of a checkpoint path (see above) into out (cap bytes). 0 or AMEIR_EINVAL. */
int ameir_trial_dir_of(const char *run_path, char *out, size_t cap);

/* Create the trial directory if missing. 0 or AMEIR_EIO naming it. */
int ameir_trial_dir_make(const char *dir);

/* Paths of a trial's saved weights and of a final trial's model file. 0 or AMEIR_EINVAL. */
int ameir_trial_weights_path(const ameir_trial_ctx *ctx, int64_t trial_id, char *out, size_t cap);
int ameir_trial_model_path(const ameir_trial_ctx *ctx, int64_t trial_id, char *out, size_t cap);
int ameir_trial_supernet_path(const ameir_trial_ctx *ctx, int64_t trial_id, char *out, size_t cap);

/* The data a rank has loaded: train and valid at open, test on first need (finals). */
typedef struct ameir_trial_data {
    ameir_dataset *ds;
    ameir_split *train, *valid, *test;
    ameir_split *valid_sub;  /* the seeded subsample of valid last asked for, or NULL */
    int64_t valid_sub_rows;
    uint64_t valid_sub_seed;
    /* one-shot stages: the supernet this rank last trained or loaded, kept between tasks so
     * a round's scored trials on this rank read its state once */
    ameir_supernet *sn;
    int sn_held;          /* sn holds the state saved by trial sn_trial */
    int64_t sn_trial;
} ameir_trial_data;

/* Open the dataset and load train and valid. On failure everything is released.
 * Errors: the dataset's (AMEIR_ENOENT naming the file, AMEIR_ESCHEMA, AMEIR_EDATA). */
int ameir_trial_data_open(ameir_trial_data *td, const char *data_dir);
void ameir_trial_data_close(ameir_trial_data *td);

/* Asked between training chunks; non-zero abandons the trial (AMEIR_EINTERRUPTED). */
typedef int (*ameir_trial_stop_fn)(void *arg);

/* What the caller does between chunks of training (any member may be NULL).
 *   stop: non-zero abandons the trial (AMEIR_EINTERRUPTED).
 *   waiting: asked on the group's leader: how many ranks wait to join the group (0: none).
 *   grow: called at the boundary the leader chose, on every rank of the group and on each
 *     rank that joins (collective): afterwards the ameir_shard_comm the trial was given
 *     spans the grown group (the joining ranks last, so the leader stays rank 0). For a
 *     joining rank *joined = 0 says the trial ended before the leader took it in.
 * A search trial's net grows between chunks, a final trial's between validations (the
 * state is whole there: ameir_fit_share); without
 * waiting and grow the group stays as it started. */
typedef struct ameir_trial_hooks {
    ameir_trial_stop_fn stop;
    int (*waiting)(void *arg);
    int (*grow)(void *arg, int *joined);
    void *arg;
} ameir_trial_hooks;

/* Run task on td, alone (group NULL) or as one rank of a group that trains it data-parallel
 * over ctx->train.shards virtual shards (group: the transport of train.h; every rank of the
 * group calls this with the same task). The result is the same bit for bit either way. In a
 * group, rank 0 (the leader) scores the trial, saves its weights or model file and owns
 * *res; the others only train. Between chunks the ranks agree on stopping: a stop on any
 * rank stops all, the leader's clock decides the time limit. On 0, *res holds the outcome: status done, diverged (loss NaN/inf) or
 * timeout (time limit exceeded between chunks); res->worker is left for the caller.
 * AMEIR_EINTERRUPTED when stop said so (nothing saved; the trial stays pending).
 * Other negative codes are runtime failures (files, HDF5, memory). */
int ameir_trial_run(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                    const ameir_shard_comm *group, const ameir_trial_hooks *h, ameir_search_result *res);

/* Whether ranks can join task while it trains: a search or final trial on more than one
 * virtual shard (train.shards; a config's "final" cannot change it). */
int ameir_trial_growable(const ameir_search_task *task, int shards);

/* Join search or final trial `task` that another group trains: build its net, wait in
 * h->grow for the group's next chunk boundary or validation (group is the comm grow fills
 * in), take the leader's state (ameir_net_share_state, for a final ameir_fit_share) and
 * train on as a member to the end (the leader scores, saves and answers). The trial's result is the same bit for bit as without the join.
 * *joined = 0 (and 0 returned): the trial ended first and nothing was done.
 * AMEIR_EINTERRUPTED / errors as ameir_trial_run. */
int ameir_trial_join(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                     const ameir_shard_comm *group, const ameir_trial_hooks *h, int *joined);

/* Copy a file through a temporary name and a rename (for best_model.h5). 0 or AMEIR_EIO. */
int ameir_copy_file(const char *from, const char *to);

#endif
