/* The MPI transport of the search cluster: typed, versioned messages, signal flags and
 * the coordinator / worker loops. No search logic lives here (that is search.h's
 * controller); this layer only moves tasks and results between ranks.
 *
 * A message is one MPI_BYTE buffer on tag AMEIR_MSG_TAG: an ameir_msg_header
 * {magic, version, type, length} followed by length payload bytes. Payloads are packed
 * field by field with ameir_pack_* and read back with ameir_unpack_*, which check bounds,
 * so a short or garbled message is an error, never a read past the end.
 *
 * Conversation (worker w, coordinator 0):
 *   w -> 0 REQUEST          "I am free"
 *   0 -> w TASK             one trial to run, with the group of ranks that train it together
 *                           (w alone, or spare workers sharing it: train.shards > 0)
 *                           (or STOP when the search is over)
 *   w -> 0 RESULT           the group leader's: the outcome, which also asks for the next
 *                           task; the other members of a group send REQUEST
 *   0 -> L JOIN             when workers wait and no task can start: "rank k joins your trial t"
 *                           (to the leader L of a running search or final trial on virtual
 *                           shards);
 *   0 -> k TASK             the same trial for k, its group flagged joining (the ranks as rank
 *                           0 knows them, L first, k last)
 *   L -> k GROW             at L's next chunk boundary (a final trial: its next validation):
 *                           the grown group's ranks (the old ones
 *                           in their order, then those that joined), or none when trial t
 *                           ended first (k then asks rank 0 again); the group then makes a
 *                           communicator over the new ranks and L sends its state to all
 *   w -> 0 INTERRUPTED      w got SIGTERM/SIGINT/SIGUSR1; the coordinator stops the job
 *   0 -> w STOP             finish; w answers BYE (with its wait statistics) and leaves
 * Every MPI call is checked by AMEIR_MPI_CHECK (ameir/check.h), which records the file and line. */
#ifndef AMEIR_CLUSTER_H
#define AMEIR_CLUSTER_H

#include <mpi.h>

#include "ameir/check.h"
#include "ameir/pack.h"
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "ameir/error.h"
#include "ameir/search.h"
#include "ameir/train.h"
#include "ameir/trial.h"

#define AMEIR_MSG_MAGIC 0x52494D41u /* "AMIR" little-endian */
#define AMEIR_MSG_VERSION 4u /* 2: a task names the ranks that train it; a result also asks for the next task; 3: archs field by field; 4: join and grow, a group's joining flag */
#define AMEIR_MSG_TAG 4242
#define AMEIR_MSG_MAX_PAYLOAD (16u << 20) /* a sanity bound: nothing we send is near it */

enum ameir_msg_type {
    AMEIR_MSG_REQUEST = 1,
    AMEIR_MSG_TASK = 2,
    AMEIR_MSG_RESULT = 3,
    AMEIR_MSG_STOP = 4,
    AMEIR_MSG_BYE = 5,
    AMEIR_MSG_INTERRUPTED = 6,
    AMEIR_MSG_JOIN = 7,
    AMEIR_MSG_GROW = 8,
};

typedef struct ameir_msg_header {
    uint32_t magic, version, type, length;
} ameir_msg_header;

/* A received message; the payload buffer grows as needed and is reused between calls. */
typedef struct ameir_msg {
    int source;
    int type;
    uint32_t length;
    unsigned char *buf; /* header + payload */
    size_t cap;
} ameir_msg;

/* Name of a message type ("request", "task", ...), "unknown" otherwise. Static string. */
const char *ameir_msg_type_name(int type);

/* Send one message (header + payload) to dest. payload may be NULL when len is 0.
 * Returns 0 or AMEIR_EMPI / AMEIR_ENOMEM / AMEIR_EINVAL (payload too large). */
int ameir_msg_send(MPI_Comm comm, int dest, int type, const void *payload, size_t len);

/* A message posted without waiting for the receiver (MPI_Isend). Rank 0 posts to workers this
 * way: a task carries the whole arch (far above the shared-memory eager limit), so a blocking
 * send to a stopped worker would hang rank 0 and its watchdog with it. Start zeroed with
 * req = MPI_REQUEST_NULL (ameir_outbox_init). */
typedef struct ameir_outbox {
    MPI_Request req;
    unsigned char *buf; /* owned until the send completes */
} ameir_outbox;

void ameir_outbox_init(ameir_outbox *ob);
/* Post one message; a previous one in ob is completed first (callers post again only after
 * the peer answered, so it has been received). Returns 0 or AMEIR_EMPI / AMEIR_ENOMEM / AMEIR_EINVAL. */
int ameir_msg_post(MPI_Comm comm, int dest, int type, const void *payload, size_t len, ameir_outbox *ob);
/* Release ob: frees its buffer once the send completed; a send to a peer that never
 * received it (a stalled worker, the job is being ended) is left to MPI_Abort. */
void ameir_outbox_destroy(ameir_outbox *ob);

void ameir_msg_init(ameir_msg *m);
void ameir_msg_destroy(ameir_msg *m);

/* Receive a message from source (or MPI_ANY_SOURCE) if one is waiting: *got = 1 and m
 * filled, else *got = 0. Checks magic, version, type and length; a bad header is
 * AMEIR_EINVAL "protocol error from rank R: ...". */
int ameir_msg_poll(MPI_Comm comm, int source, ameir_msg *m, int *got);

/* Wait for a message, polling every ~1 ms (so waiting ranks leave the CPU to training
 * ranks) and giving up early when *flag becomes non-zero (flag may be NULL) or after
 * timeout seconds (< 0: never). *got says whether m was filled. */
int ameir_msg_wait(MPI_Comm comm, int source, ameir_msg *m, int *got, volatile sig_atomic_t *flag, double timeout);

/* Payload of a message (after the header). */
static inline const unsigned char *ameir_msg_payload(const ameir_msg *m) { return m->buf + sizeof(ameir_msg_header); }

/* --- signals ----------------------------------------------------------------------- */

/* Install handlers (sigaction) for SIGTERM, SIGINT and SIGUSR1 that only record the
 * signal in a flag (async-signal-safe). Returns 0 or AMEIR_EINTERNAL. */
int ameir_signals_install(void);

/* Restore the handlers that were there before ameir_signals_install. */
void ameir_signals_restore(void);

/* The flag the handlers set: the number of the last signal caught, 0 if none. */
extern volatile sig_atomic_t ameir_signal_caught;

/* Name of a signal number ("SIGTERM"...), "signal" otherwise. */
const char *ameir_signal_name(int sig);

/* A rank started by mpirun or srun dies (SIGKILL) as soon as its launcher does, so that no
 * orphan keeps training or rewriting RUN.h5 (Linux: PR_SET_PDEATHSIG). Does nothing outside
 * a launcher. Call before MPI_Init. */
void ameir_die_with_launcher(void);

/* Sleep about ms milliseconds (returns early when a signal arrives). */
void ameir_sleep_ms(int ms);

/* --- task and result payloads -------------------------------------------------------- */

/* The worker ranks that train one task together, in ascending order; ranks[0] leads (scores,
 * saves, answers). size 1: one worker alone. */
#define AMEIR_GROUP_MAX 256
typedef struct ameir_group {
    int size;
    int ranks[AMEIR_GROUP_MAX];
    int joining; /* a task's: the receiver joins the running group of ranks[0] (it is ranks[size - 1]) */
} ameir_group;

/* Where an unpacked task's one-shot lists (task->cands, task->alive) live: grown as needed,
 * owned by the receiver, released with ameir_task_lists_free. */
typedef struct ameir_task_lists {
    ameir_arch *cands;
    int *alive;
    int cap;
} ameir_task_lists;
void ameir_task_lists_free(ameir_task_lists *lists);

/* Pack a task and its group / a result field by field (the arch as its plain bytes: every
 * rank runs the same build, which the header's version and the exact payload length check).
 * Unpacking refuses a group that is empty, too large or not ascending worker ranks, and
 * one-shot lists that are too long or name a candidate out of range. */
void ameir_pack_task(ameir_pack *p, const ameir_search_task *task, const ameir_group *group);
int ameir_unpack_task(const void *payload, size_t len, ameir_search_task *task, ameir_group *group, ameir_task_lists *lists);
void ameir_pack_result(ameir_pack *p, const ameir_search_result *res);
int ameir_unpack_result(const void *payload, size_t len, ameir_search_result *res);
/* JOIN: rank joins trial_id. GROW: the grown group of trial_id (size 0: too late). Unpacking
 * checks counts and ranks as for a task. */
void ameir_pack_join(ameir_pack *p, int64_t trial_id, int rank);
int ameir_unpack_join(const void *payload, size_t len, int64_t *trial_id, int *rank);
void ameir_pack_grow(ameir_pack *p, int64_t trial_id, const ameir_group *g);
int ameir_unpack_grow(const void *payload, size_t len, int64_t *trial_id, ameir_group *g);

/* --- data-parallel training ------------------------------------------------------------ */

/* The ranks of comm training one net together: base goes into ameir_train_config.comm
 * (with shards > 0); every step gathers the shards' embedding rows on every rank, and
 * each rank sums one slice of the dense gradient over all shards (an alltoall), then the
 * slices are gathered. Every rank of comm must run the same training calls. Returns 0,
 * AMEIR_EMPI or AMEIR_ENOMEM. */
typedef struct ameir_dp_comm {
    ameir_shard_comm base;
    MPI_Comm comm;
    int *counts, *displs, *scounts, *sdispls; /* (size) */
} ameir_dp_comm;

int ameir_dp_comm_init(ameir_dp_comm *dc, MPI_Comm comm);
void ameir_dp_comm_destroy(ameir_dp_comm *dc);

/* How many workers each of n_tasks startable tasks gets when `workers` are free (sizes[i]
 * for the i-th task handed out): one each while tasks outnumber them; else the free workers
 * shared out as evenly as possible (earlier tasks first), at most max_group each (the
 * trials' virtual shards; <= 1: always one). Pure; the simulated cluster uses it too. */
void ameir_group_sizes(int n_tasks, int workers, int max_group, int *sizes);

/* A trial running on a group, as rank 0 sees it when a worker is free and no task can start. */
typedef struct ameir_group_run {
    int64_t trial;
    int size;      /* ranks training it now (counting those already sent to join it) */
    int64_t steps; /* steps the task trains (its budget minus the step it starts from) */
    int growable;  /* a search or final trial on virtual shards: it can take in a rank between
                    * chunks or validations (ameir_trial_growable) */
} ameir_group_run;

/* The running trial a free worker joins: among the growable ones below max_group ranks, the
 * smallest group, then the most steps, then the lowest trial id; -1 when none. Pure; the
 * simulated cluster uses it too. */
int ameir_group_join_pick(const ameir_group_run *runs, int n, int max_group);

/* A group's ranks as "1,2,3" for a log line, at most what fits in out (then ",..."). */
const char *ameir_group_ranks_text(const ameir_group *g, char *out, size_t cap);

/* --- the loops ------------------------------------------------------------------------ */

/* What the rank-0 loop measured (this session only). */
typedef struct ameir_cluster_stats {
    int64_t results;     /* results recorded */
    double seconds;      /* wall time of the loop */
    int workers;         /* worker ranks (0 when rank 0 ran the trials itself) */
    double worker_time;  /* summed over workers: time in their loop */
    double worker_wait;  /* summed over workers: time waiting for a task from rank 0 */
    int64_t worker_trials;
    int signal;          /* signal that stopped the search (0 if none) */
    int signal_rank;     /* the rank that caught it first */
    int unanswered;      /* workers that did not leave within the grace period after a signal */
    int stalled_rank;    /* first worker the watchdog gave up on (-1: none) */
} ameir_cluster_stats;

/* How rank 0 reports: progress lines go to out (stdout), one per finished trial. */
typedef struct ameir_cluster_opts {
    const char *run_path;  /* checkpoint written after every result */
    FILE *out;
} ameir_cluster_opts;

/* Rank 0 with workers on ranks 1..size-1: hands tasks of ctl to the workers that ask,
 * records every result and rewrites the checkpoint after each. Returns 0 when the
 * controller is done (workers stopped with exit code 0), AMEIR_EINTERRUPTED after a
 * signal on any rank or when the watchdog finds a worker busy in a search trial silent past the
 * trial time limit plus AMEIR_WATCHDOG_GRACE seconds (default 60; st->stalled_rank names it)
 * (checkpoint written, workers stopped with code 3; workers still busy
 * after AMEIR_STOP_GRACE seconds, default 30, are counted in st->unanswered and the caller
 * ends the job with MPI_Abort), or an error (the caller aborts the job; the last
 * checkpoint stays intact). */
int ameir_coordinator_run(MPI_Comm comm, const ameir_search_config *cfg, ameir_controller *ctl, const ameir_cluster_opts *o,
                          ameir_cluster_stats *st);

/* One rank alone (N = 1): the controller and the trials in one loop. Same returns. */
int ameir_local_run(const ameir_search_config *cfg, ameir_controller *ctl, const ameir_trial_ctx *ctx, ameir_trial_data *td,
                    const ameir_cluster_opts *o, ameir_cluster_stats *st);

/* A worker rank: request, run, answer, until rank 0 says stop. Returns the exit code the
 * coordinator sent (0 or 3) in *exit_code and 0, or an error (the caller aborts). */
int ameir_worker_run(MPI_Comm comm, const ameir_trial_ctx *ctx, ameir_trial_data *td, int *exit_code);

/* ---- the MPI job of a search (src/cluster/job.c) ---- */
typedef struct ameir_job {
    MPI_Comm comm; /* private duplicate of MPI_COMM_WORLD, errors returned as codes */
    int rank, size;
} ameir_job;

/* MPI_Init (unless done), the communicator, rank and size. AMEIR_EMPI on failure. */
int ameir_job_init(ameir_job *j);
void ameir_job_finalize(ameir_job *j);
/* End every rank of the job with this exit code (the others may wait on this one). */
_Noreturn void ameir_job_abort(int code);
/* Rank 0's set-up status and trial context, to every rank. */
int ameir_job_share_setup(const ameir_job *j, int *status, ameir_trial_ctx *ctx);
/* The smallest of every rank's value (a status: one negative means one rank failed). */
int ameir_job_min(const ameir_job *j, int value, int *min);
/* One copy of the training data per node (src/cluster/node_data.c). */
typedef struct ameir_node_data { /* all zero: nothing held */
    int has_node, has_win;
    MPI_Comm node; /* has_node: the training ranks of this node */
    MPI_Win win;   /* has_win: the node's shared window holding train and valid */
    size_t bytes;  /* of the window */
    int ranks;     /* ranks sharing it */
} ameir_node_data;

/* Collective over the job: every rank calls it; load = this rank trains. The training ranks
 * of a node share one copy of train and valid (the node's first reads it into an MPI-3
 * shared window); private_copy (or one rank alone) loads a copy per rank instead. On
 * success td holds the data; on failure (every rank of the node learns it) nothing is left. */
int ameir_job_data_open(const ameir_job *j, int load, int private_copy, const char *data_dir, ameir_trial_data *td,
                        ameir_node_data *nd);
/* Release td, then the window: collective over the node's training ranks. */
void ameir_job_data_close(ameir_node_data *nd, ameir_trial_data *td);

/* The collective calls of a parallel prep (src/cluster/prep_peers.c) over j's ranks; j
 * must outlive p. */
struct ameir_prep_peers;
void ameir_prep_peers_init(struct ameir_prep_peers *p, ameir_job *j);

/* This rank's loop: the local loop alone, the coordinator on rank 0, else a worker. */
int ameir_job_run(const ameir_job *j, const ameir_search_config *cfg, ameir_controller *ctl, const ameir_trial_ctx *ctx,
                  ameir_trial_data *td, const ameir_cluster_opts *o, ameir_cluster_stats *st, int *exit_code);

#endif
