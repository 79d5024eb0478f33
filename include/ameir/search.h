/* The search with no MPI in it: the search config, the space, the controller, the
 * checkpoint (PRODUCT.md section 4).
 *
 * Everything here is plain data and pure functions of (config, reported results), so the
 * coordinator can run it on rank 0, send tasks as bytes, and rebuild the controller from
 * the trial table of a checkpoint by replaying the recorded results.
 *
 * Flow on rank 0:
 *   ameir_search_config_load(&cfg, path)            parse + validate the JSON
 *   ameir_search_config_resolve(cfg, schema)        candidate fields from the dataset
 *   ameir_controller_create(&ctl, cfg)
 *   loop: ameir_controller_next(ctl, &task)         TASK: send it / WAIT / DONE
 *         ameir_controller_report(ctl, &result)     when a worker answers
 *         ameir_checkpoint_write(path, cfg, ctl)    after every result
 *   resume: ameir_checkpoint_read(path, &cfg, &ctl) (config resolved, results replayed,
 *                                                    in-flight trials pending again) */
#ifndef AMEIR_SEARCH_H
#define AMEIR_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "ameir/arch.h"
#include "ameir/schema.h"
#include "ameir/train.h"

#define AMEIR_PATH_MAX 1024
#define AMEIR_MAX_BASELINES 16
#define AMEIR_MAX_FINAL_SEEDS 16
#define AMEIR_SPACE_MAX_OPS 32    /* (op, option) pairs of the behaviour subspace */
#define AMEIR_SPACE_MAX_WIDTHS 16 /* MLP widths to choose from */
#define AMEIR_CHECKPOINT_VERSION 2 /* 2: sealed (a CRC-32 in the user block) */

/* Stages in search order; AMEIR_STAGE_FINAL is the final phase (winner and baselines). */
enum ameir_stage { AMEIR_STAGE_BEHAVIOR = 0, AMEIR_STAGE_INTERACTION = 1, AMEIR_STAGE_MLP = 2, AMEIR_STAGE_FINAL = 3 };
#define AMEIR_N_STAGES 3

/* "behavior", "interaction", "mlp", "final"; NULL out of range. Static strings. */
const char *ameir_stage_name(int stage);

/* ---------------------------------------------------------------- config ---- */

/* Successive elimination of one stage: n candidates train to r steps; the best
 * ceil(k/eta) of a rung of k go on to min(eta * budget, R) until one is left or R reached. */
typedef struct ameir_schedule {
    int n;     /* random candidates (>= 1) */
    int eta;   /* reduction factor (>= 2) */
    int64_t r; /* smallest budget in training steps (>= 1) */
    int64_t R; /* largest budget (>= r), or AMEIR_R_BASELINE */
    int64_t valid_rows; /* rungs below the stage's last score on this many validation rows (seeded subsample); 0 = all */
    int64_t eval_every; /* trials also validate every this many steps and report their best; 0 = at the end only */
    int method;         /* enum ameir_method */
    int standalone_top; /* oneshot: the best this many by supernet score (and the incumbent) then train alone at R */
} ameir_schedule;

/* How a stage compares its candidates: each trained on its own (successive elimination over
 * rungs of trials), or as paths of one weight-sharing supernet (rounds of supernet training
 * and scoring with inherited weights, then the best few trained alone; docs/config-search.md). */
enum ameir_method { AMEIR_METHOD_TRAIN = 0, AMEIR_METHOD_ONESHOT = 1 };

/* schedule.R "baseline": the stage's last rung trains as many steps as the best baseline's
 * final training took in the warm start (its early-stopping horizon), so a stage ranks its
 * candidates where the final phase will. */
#define AMEIR_R_BASELINE 0

typedef struct ameir_op_choice {
    int op;     /* enum ameir_op */
    int option; /* kernel (conv), heads (attention), else 0 */
} ameir_op_choice;

/* Each block draws norm, (op, option) pair and act uniformly from the lists. */
typedef struct ameir_behavior_space {
    int min_blocks, max_blocks; /* 0..AMEIR_MAX_BLOCKS */
    int n_ops;
    ameir_op_choice ops[AMEIR_SPACE_MAX_OPS]; /* every allowed op crossed with its options */
    int n_norms;
    int norms[AMEIR_NORM_COUNT];
    int n_acts;
    int acts[8]; /* enum ameir_act: identity, relu, gelu, swish */
    int n_aggregates;
    int aggregates[AMEIR_AGG_COUNT];
    int n_positions;
    int positions[2]; /* {0}, {1} or {0, 1} */
} ameir_behavior_space;

/* A candidate draws k in [min, max] distinct groups; a group draws its order in
 * [2, max_order] then that many distinct fields. */
typedef struct ameir_interaction_space {
    int max_order;                   /* 2..4 */
    int min_interactions;            /* >= 0 */
    int max_interactions;            /* 0..AMEIR_MAX_INTERACTIONS */
    int generations;                 /* rung-0 sub-rounds: order-2 sets, then grown/mutated/recombined (>= 1) */
    int fields_from_dataset;         /* 1: "fields" absent in the config: all dataset fields */
    int n_fields;                    /* after ameir_search_config_resolve */
    char fields[AMEIR_MAX_FIELDS][AMEIR_FIELD_NAME_MAX];
} ameir_interaction_space;

typedef struct ameir_mlp_space {
    int min_layers, max_layers; /* 0..AMEIR_MAX_MLP */
    int n_widths;
    int widths[AMEIR_SPACE_MAX_WIDTHS];
    int n_acts;
    int acts[8]; /* enum ameir_act, sigmoid allowed */
    int n_shortcut;
    int shortcut[AMEIR_SHORTCUT_COUNT]; /* distinct enum ameir_shortcut values; a shortcut needs >= 1 layer */
} ameir_mlp_space;

/* A parsed, validated search config. Plain data apart from `text`. Owned by the caller;
 * release with ameir_search_config_free. Keys and defaults: docs/config-search.md. */
typedef struct ameir_search_config {
    char origin[AMEIR_PATH_MAX];   /* file name used in messages */
    char base_dir[AMEIR_PATH_MAX]; /* absolute directory relative paths start from */
    char *text;                    /* canonical JSON (sorted keys, compact); owned */
    uint64_t hash;                 /* ameir_hash_bytes of text */
    char name[128];                /* "name" or the file's base name */
    char data_dir[AMEIR_PATH_MAX]; /* resolved: absolute, or AMEIR_DATA_ROOT + relative */
    uint64_t seed;
    int d;                         /* embedding dimension */
    ameir_train_config train;      /* search trials: batch, lr, dropout, l2, n_neg, threads, seed */
    double trial_time_limit;       /* seconds, 0 = none */
    ameir_behavior_space behavior;
    ameir_interaction_space interaction;
    ameir_mlp_space mlp;
    ameir_schedule schedule[AMEIR_N_STAGES];
    ameir_arch defaults;           /* parts of stages not searched yet */
    ameir_train_config final_train; /* final phase: epochs, max_steps, patience, eval_every */
    int final_top;                 /* the final phase trains the best final_top archs of the last stage */
    int final_seeds;               /* each contender of the final phase trains with this many seeds; mean valid picks */
    int seed_baselines;            /* rung 0 of a stage also trains each baseline's part that lies in its subspace */
    int warm_start;                /* baselines train first; the best on validation is the first incumbent and a finalist */
    int n_baselines;
    char baseline_paths[AMEIR_MAX_BASELINES][AMEIR_PATH_MAX]; /* resolved paths */
    char baseline_names[AMEIR_MAX_BASELINES][64];             /* file base names ("din") */
    ameir_arch baselines[AMEIR_MAX_BASELINES];                /* parsed at load time */
    int resolved;                  /* ameir_search_config_resolve done */
} ameir_search_config;

/* Read, parse and validate a config file. Relative paths inside ("data", "baselines")
 * are taken from the file's directory (data: from $AMEIR_DATA_ROOT when set).
 * Errors: AMEIR_ENOENT, AMEIR_EJSON ("FILE:LINE:COL: ..."), AMEIR_ECONFIG
 * ("FILE: key.path: got X, expected Y"), or a baseline's arch errors. *out owned by caller. */
int ameir_search_config_load(ameir_search_config **out, const char *path);

/* Same from text; origin names it in messages, base_dir (absolute or relative to the
 * working directory; NULL = ".") is where relative paths start. */
int ameir_search_config_parse(ameir_search_config **out, const char *text, const char *origin, const char *base_dir);

void ameir_search_config_free(ameir_search_config *cfg);

/* Fill the interaction candidate fields from the dataset when the config left them out,
 * check the named ones exist, and check defaults and baselines against the schema
 * (ameir_arch_check_schema) and d (attention heads divide d). Returns 0 or AMEIR_ECONFIG. */
int ameir_search_config_resolve(ameir_search_config *cfg, const ameir_schema *schema);

/* ------------------------------------------------------- packed archs ---- */

/* The trial table keeps each arch packed (src/search/arch_pack.c): an ameir_arch is
 * 16,856 bytes, nearly all of it interaction field names (64 groups x 4 x 64 chars), so a
 * table of 10^5 trials would be 1.7 GB; packed, field names are indices into a name table
 * made once per search from its config (the candidate fields first, in their order, then
 * the other names its defaults and baselines use), and an arch is 320 bytes. Unused
 * entries are zero, so two packs of the same table are equal exactly when their archs are
 * (ameir_arch_equal) and compare with memcmp. */
#define AMEIR_PACK_MAX_NAMES 255 /* a field is stored as index + 1 in a byte */
typedef struct ameir_arch_names {
    int n;
    char name[AMEIR_PACK_MAX_NAMES][AMEIR_FIELD_NAME_MAX];
} ameir_arch_names;

typedef struct ameir_arch_packed {
    uint8_t n_blocks, aggregate, positions, n_interactions, n_mlp, shortcut, pad_[2];
    uint8_t blocks[AMEIR_MAX_BLOCKS][4];                     /* norm, op, option, act */
    uint16_t units[AMEIR_MAX_MLP];
    uint8_t mlp_act[AMEIR_MAX_MLP];
    uint8_t fields[AMEIR_MAX_INTERACTIONS][AMEIR_MAX_ORDER]; /* name index + 1; 0 past the group's order */
} ameir_arch_packed;

/* The name table of a config: its candidate fields (index i = candidate field i), then
 * the other field names of its defaults and baselines. 0 or AMEIR_ECONFIG (more than
 * AMEIR_PACK_MAX_NAMES distinct names). */
int ameir_arch_names_init(ameir_arch_names *names, const ameir_search_config *cfg);
/* Pack a valid arch: 0, or -1 when it names a field not in the table or holds a value a
 * byte cannot (no valid arch of the search does). Sets no error message. */
int ameir_arch_pack(const ameir_arch_names *names, const ameir_arch *arch, ameir_arch_packed *out);
void ameir_arch_unpack(const ameir_arch_names *names, const ameir_arch_packed *p, ameir_arch *out);
int ameir_arch_packed_equal(const ameir_arch_packed *a, const ameir_arch_packed *b);
/* A hash of the packed bytes in use (not ameir_arch_hash: a table's, for sets). */
uint64_t ameir_arch_packed_hash(const ameir_arch_packed *p);

/* ----------------------------------------------------------------- space ---- */

/* Copy the part of src that stage searches (behaviour: blocks, aggregate, positions;
 * interaction: interactions; mlp: layers and shortcut) into dst. */
void ameir_arch_set_part(ameir_arch *dst, const ameir_arch *src, int stage);

/* Number of distinct members of a stage's subspace, saturating at INT64_MAX.
 * Needs a resolved config for the interaction stage. */
int64_t ameir_space_size(const ameir_search_config *cfg, int stage);

/* 1 if the stage part of arch lies in the stage's subspace, else 0. */
int ameir_space_contains(const ameir_search_config *cfg, int stage, const ameir_arch *arch);

/* Draw min(n, ameir_space_size) DISTINCT candidates of a stage, each = base with the
 * stage's part replaced, from the stream ameir_rng_stream(cfg->seed, 0x5EA4C400 + stage).
 * When the subspace has at most n members, all of them are taken (in enumeration
 * order). out has room for n archs (caller-owned); *n_out = how many were written.
 * Returns 0, AMEIR_EINVAL (interaction stage of an unresolved config), or AMEIR_ECONFIG
 * (empty subspace, or distinct candidates not found in 100000 + 1000 n draws). */
int ameir_space_draw(const ameir_search_config *cfg, int stage, const ameir_arch *base, int n, ameir_arch *out, int *n_out);

/* A later generation of the interaction stage (docs/config-search.md, "Interactions from
 * low to high order"): up to n children, each = base with interactions made from one of the
 * parents (packed with names, pointers, best first) by growing a group by one field (to order at most 2 + generation),
 * adding an order-2 group, dropping a group, changing one field of a group, or recombining
 * with a second parent; each in the subspace and distinct from the others and from the
 * n_seen packed archs seen points to. Stream ameir_rng_stream(cfg->seed, 0x5EA4C500 + generation).
 * *n_out < n when no more new children were found. 0 or AMEIR_EINVAL (unresolved config). */
int ameir_space_evolve(const ameir_search_config *cfg, const ameir_arch_names *names, const ameir_arch *base,
                       const ameir_arch_packed *const *parents, int n_parents, const ameir_arch_packed *const *seen,
                       int n_seen, int generation, int n, ameir_arch *out, int *n_out);

/* ------------------------------------------------------------ controller ---- */

/* Search trials train a candidate; in a one-shot stage a supernet trial trains the stage's
 * supernet for a round and a scored trial scores one candidate with its weights. */
enum ameir_trial_kind {
    AMEIR_TRIAL_SEARCH = 0,
    AMEIR_TRIAL_FINAL_WINNER = 1,
    AMEIR_TRIAL_FINAL_BASELINE = 2,
    AMEIR_TRIAL_SUPERNET = 3,
    AMEIR_TRIAL_SCORED = 4,
};
#define AMEIR_TRIAL_N_KINDS 5
/* The trial statuses, in their stored order (RUN.h5 keeps the numbers): one list for the
 * enum, the names and the count. Those from DONE on are finished. */
#define AMEIR_TRIAL_STATUSES(X) X(PENDING, "pending") X(RUNNING, "running") X(DONE, "done") X(DIVERGED, "diverged") X(TIMEOUT, "timeout")
enum ameir_trial_status {
#define AMEIR_STATUS_ENUM_(id, name) AMEIR_TRIAL_##id,
    AMEIR_TRIAL_STATUSES(AMEIR_STATUS_ENUM_)
#undef AMEIR_STATUS_ENUM_
    AMEIR_TRIAL_N_STATUS
};
/* "search", "winner", "baseline", "supernet", "scored" / "pending", "running", "done", "diverged", "timeout";
 * NULL out of range. Static strings. */
const char *ameir_trial_kind_name(int kind);
const char *ameir_trial_status_name(int status);

/* What a worker is asked to do. Plain data (send it as bytes). */
typedef struct ameir_search_task {
    int64_t trial_id;
    int stage;      /* enum ameir_stage */
    int kind;       /* enum ameir_trial_kind */
    int rung;       /* search: 0, 1, ...; finals: 0 */
    int baseline;   /* FINAL_BASELINE: index into cfg->baselines, else -1 */
    int64_t budget; /* search: train up to this many steps; finals: cfg->final_train.max_steps */
    int64_t valid_rows; /* score on this many seeded validation rows; 0 = the whole split */
    int64_t eval_every; /* search: validate every this many (global) steps too and report the best; 0 = at the end */
    int64_t parent; /* trial whose saved weights + Adam state to continue from, -1 = from scratch */
    uint64_t seed;  /* training seed; the same along a chain of promotions */
    ameir_arch arch;
    /* one-shot stages: the supernet's candidates (all of the stage, in order), for a supernet
     * trial the ones its paths are drawn from, for a scored trial the one it scores */
    int candidate;            /* scored: index into cands; else the trial's candidate or -1 */
    int n_cands;              /* 0 outside one-shot stages */
    const ameir_arch *cands;
    int n_alive;              /* supernet trials */
    const int *alive;
} ameir_search_task;

/* What a worker answers. */
typedef struct ameir_search_result {
    int64_t trial_id;
    int status;           /* AMEIR_TRIAL_DONE, _DIVERGED or _TIMEOUT */
    double metric;        /* ameir_metrics_primary(&valid); NaN ranks last */
    ameir_metrics valid;
    ameir_metrics test;   /* finals only (zeros otherwise) */
    int64_t steps;        /* steps trained in total (finals: up to early stopping) */
    int worker;           /* MPI rank */
    double seconds;
} ameir_search_result;

/* Search trials say in `baseline` what they are: a drawn candidate, the stage's incumbent
 * (the part the stage keeps if nothing beats it), or baseline i's part (i >= 0). */
#define AMEIR_ROLE_CANDIDATE (-1)
#define AMEIR_ROLE_INCUMBENT (-2)

/* One row of the trial table (the controller's state is the config + this table). */
typedef struct ameir_trial {
    int64_t id;     /* 0, 1, ... in creation order */
    int stage, kind, rung;
    int baseline;   /* finals: baseline index or -1 (a finalist); search: AMEIR_ROLE_* or baseline index */
    int candidate;  /* search: index of the rung-0 candidate of its chain; else -1 */
    int64_t budget, parent;
    uint64_t seed;
    int status;     /* enum ameir_trial_status */
    double metric;  /* NaN until done */
    ameir_metrics valid, test;
    int64_t steps;
    int worker;     /* -1 until run */
    double seconds;
    ameir_arch_packed arch; /* ameir_controller_trial_arch unpacks it */
    /* derived by the controller (not stored: replay recomputes them) */
    int64_t valid_rows; /* validation rows it was scored on, 0 = all */
    double score;       /* ranking metric: best metric along its chain at the same valid_rows; NaN if not ok */
    int64_t text;       /* its arch's JSON in the controller's texts (ameir_controller_trial_json) */
} ameir_trial;

typedef struct ameir_controller ameir_controller;

enum ameir_next { AMEIR_NEXT_DONE = 0, AMEIR_NEXT_TASK = 1, AMEIR_NEXT_WAIT = 2 };

/* Start a search: creates the candidates of the first stage. cfg must be resolved and
 * must outlive ctl (not copied, not freed by the controller). Owned by the caller;
 * release with ameir_controller_free (NULL is fine). Errors: AMEIR_EINVAL (unresolved
 * config), AMEIR_ENOMEM, AMEIR_ECONFIG (space draw). */
int ameir_controller_create(ameir_controller **out, const ameir_search_config *cfg);
void ameir_controller_free(ameir_controller *ctl);

/* The next task: AMEIR_NEXT_TASK (the pending trial with the lowest id, now running,
 * copied to *task), AMEIR_NEXT_WAIT (nothing can start until results come in) or
 * AMEIR_NEXT_DONE (search and final phase complete). Negative on error. */
int ameir_controller_next(ameir_controller *ctl, ameir_search_task *task);

/* Record the result of a running trial; completing a rung promotes or ends the stage,
 * ending a stage creates the next stage's candidates (or the final trials).
 * Errors: AMEIR_EINVAL (unknown trial, not running, bad status), AMEIR_ENOMEM. */
int ameir_controller_report(ameir_controller *ctl, const ameir_search_result *result);

/* A running trial goes back to pending (its worker was lost or stopped). 0 or AMEIR_EINVAL. */
int ameir_controller_requeue(ameir_controller *ctl, int64_t trial_id);

/* Rebuild the state of a fresh controller from a recorded table: every recorded result
 * (done/diverged/timeout) is reported again in id order as the controller re-creates the
 * trials; pending/running records stay pending. Each recorded trial must match the one
 * the controller creates (stage, kind, rung, budget, parent, arch), else AMEIR_ECHECKPOINT
 * naming the trial and what differs (e.g. a baseline file edited since). */
int ameir_controller_replay(ameir_controller *ctl, const ameir_trial *trials, int64_t n);

/* Report a recorded result (the journal's) of a trial that is pending or running, as if it
 * had just come back. AMEIR_EINVAL for an unknown or finished trial. */
int ameir_controller_replay_result(ameir_controller *ctl, const ameir_search_result *result);

/* The trial table: ids 0..n-1; the pointer is valid until the next call that changes
 * the controller. */
int64_t ameir_controller_n_trials(const ameir_controller *ctl);
const ameir_trial *ameir_controller_trial(const ameir_controller *ctl, int64_t id);

/* The architecture of a trial of ctl's table into *out. */
void ameir_controller_trial_arch(const ameir_controller *ctl, const ameir_trial *t, ameir_arch *out);
/* The name table ctl packs its archs with. */
const ameir_arch_names *ameir_controller_names(const ameir_controller *ctl);
/* The canonical JSON of t's arch (ameir_arch_to_json of ameir_controller_trial_arch),
 * printed once when the trial was made. Owned by ctl; valid until ctl adds trials (a
 * report or a replay) or is freed. */
const char *ameir_controller_trial_json(const ameir_controller *ctl, const ameir_trial *t);

/* Current stage (AMEIR_STAGE_FINAL during the final phase and when done). */
int ameir_controller_stage(const ameir_controller *ctl);

/* Winner trial of a finished stage: the best of its last rung (if none of that rung
 * finished well, the best of the latest rung that did), or -1 if the stage is not finished
 * or no trial of it finished with a finite metric (then the stage keeps the config's
 * default part). */
int64_t ameir_controller_stage_winner(const ameir_controller *ctl, int stage);

/* The final winner: the contender (an arch of the final phase: a finalist, with warm_start
 * also a baseline) with the best mean validation metric over its final_seeds trainings
 * (ties: lower id); its first trial, the one with the config's seed. With final_seeds > 1
 * only contenders trained with every seed compete (the finalists and, with warm_start, the
 * best baseline). -1 while none has finished. */
int64_t ameir_controller_final_winner(const ameir_controller *ctl);

/* Of the final trial `id`'s contender: its trials, and the mean and sample sd of the
 * validation and test primary metrics of those finished well. -1 if id is not a final trial. */
typedef struct ameir_contender_stats {
    int64_t first; /* its first trial (the config's seed) */
    int count;     /* its trials, finished or not */
    int n;         /* of them finished well: the mean and sd are over these */
    double valid_mean, valid_sd, test_mean, test_sd;
} ameir_contender_stats;
int ameir_controller_contender(const ameir_controller *ctl, int64_t id, ameir_contender_stats *out);

/* The training seed of the j-th final training of a contender (j = 0: the config's seed). */
uint64_t ameir_final_seed(const ameir_search_config *cfg, int j);

/* What a trial is, for progress lines and reports: "candidate", "incumbent",
 * "baseline:NAME" (a search trial holding that baseline's part, or a final baseline),
 * "finalist". Returns out. */
const char *ameir_controller_role(const ameir_controller *ctl, const ameir_trial *t, char *out, size_t cap);

/* Best finished trial of a stage so far by score (ties: lower id), -1 if none. */
int64_t ameir_controller_best_in_stage(const ameir_controller *ctl, int stage);

/* The architecture composed of the winners of the finished stages and the defaults of
 * the others (after the search: the winner trained in the final phase). */
void ameir_controller_best_arch(const ameir_controller *ctl, ameir_arch *out);

/* Trials the whole search will have when every rung is full and every stage's subspace
 * gives n candidates (search + final trials; for progress and time estimates). */
int64_t ameir_controller_planned_trials(const ameir_controller *ctl);

/* Counts of trials by status (indexed by enum ameir_trial_status). */
void ameir_controller_counts(const ameir_controller *ctl, int64_t counts[AMEIR_TRIAL_N_STATUS]);
/* Of such counts: trials with a result (done, diverged or timeout), and those still to run. */
static inline int64_t ameir_counts_finished(const int64_t *counts) {
    return counts[AMEIR_TRIAL_DONE] + counts[AMEIR_TRIAL_DIVERGED] + counts[AMEIR_TRIAL_TIMEOUT];
}
static inline int64_t ameir_counts_open(const int64_t *counts) {
    return counts[AMEIR_TRIAL_PENDING] + counts[AMEIR_TRIAL_RUNNING];
}

/* ------------------------------------------------------------ checkpoint ---- */

/* Write RUN.h5 (rank 0 only): to path + ".tmp", fsync, rotate an existing path to
 * path + ".prev", rename the temporary over path. A crash leaves path or path.prev
 * valid. Layout: docs/checkpoint-format.md. Errors: AMEIR_EHDF5, AMEIR_EIO. */
int ameir_checkpoint_write(const char *path, const ameir_search_config *cfg, const ameir_controller *ctl);

/* Read and validate a checkpoint (version, completion marker, config hash, table
 * lengths), re-parse its config (resolved with the stored candidate fields) and rebuild
 * the controller by replay, then apply the results journal that follows this snapshot
 * (ameir_journal_replay). Both outputs owned by the caller (free ctl before cfg).
 * Errors: AMEIR_ENOENT, AMEIR_ECHECKPOINT ("RUN.h5: ...: what is wrong; resume from
 * RUN.h5.prev" when that exists), or the config's and replay's errors. */
int ameir_checkpoint_read(const char *path, ameir_search_config **cfg, ameir_controller **ctl);

/* ---------------------------------------------------------------- journal ---- */

/* RUN.journal beside RUN.h5: the results reported since RUN.h5 was written whole, one
 * CRC-checked record each (src/search/journal.c; docs/checkpoint-format.md). The
 * coordinator appends a record per result (one write(2): a killed process loses nothing;
 * fdatasync at most every 0.5 s) and rewrites RUN.h5 whole every max(1000, trials)
 * results, which empties the journal. */
typedef struct ameir_journal ameir_journal;

/* RUN.journal for RUN.h5 (".h5" replaced), else path + ".journal". 0 or AMEIR_EINVAL. */
int ameir_journal_path(const char *run_path, char *out, size_t cap);
/* Empty the journal and mark it as following snapshot `snapshot` (ameir_checkpoint_write
 * calls it after each whole write). 0 or AMEIR_EIO. */
int ameir_journal_reset(const char *run_path, uint64_t config_hash, uint64_t snapshot);
/* An append handle on the journal of run_path. */
int ameir_journal_open(ameir_journal **out, const char *run_path);
int ameir_journal_append(ameir_journal *j, const ameir_search_result *r);
int ameir_journal_sync(ameir_journal *j);
/* Append r (already reported to ctl); rewrite the checkpoint whole when it is due. */
int ameir_journal_record(ameir_journal *j, const char *run_path, const ameir_search_config *cfg,
                         const ameir_controller *ctl, const ameir_search_result *r);
/* Results appended since this handle last rewrote RUN.h5 whole (0 for NULL). */
int64_t ameir_journal_pending(const ameir_journal *j);
/* Sync and close (NULL is fine). */
int ameir_journal_close(ameir_journal *j);
/* Apply the journal of run_path to ctl when it follows snapshot `snapshot` of config cfg
 * (else it is older than the snapshot and ignored): results of trials not finished in the
 * snapshot are reported in order, and each trial row they make is checked as a row of
 * RUN.h5 is; a torn last record is dropped with a warning. *applied = results applied.
 * Errors: AMEIR_ECHECKPOINT (a damaged record before the end, one for a trial the search has
 * not made, or one whose values no trial can have), AMEIR_EIO. */
int ameir_journal_replay(const char *run_path, const ameir_search_config *cfg, uint64_t snapshot, ameir_controller *ctl,
                         int64_t *applied);

#endif
