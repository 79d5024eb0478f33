/* One task of the search on loaded data: build, continue, train in chunks, evaluate, save. */
#define _POSIX_C_SOURCE 200809L
#include "ameir/trial.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ameir/error.h"
#include "ameir/fileio.h"
#include "ameir/log.h"
#include "ameir/modelfile.h"
#include "ameir/net.h"
#include "ameir/rng.h"

/* Chunks of training last about this long, so stop requests and time limits are seen
 * promptly without calling the trainer for every single step. */
#define CHUNK_SECONDS 0.25

int ameir_run_sibling(const char *run_path, const char *suffix, char *out, size_t cap) {
    size_t n = strlen(run_path);
    if (n > 3 && !strcmp(run_path + n - 3, ".h5"))
        n -= 3;
    int w = snprintf(out, cap, "%.*s%s", (int)n, run_path, suffix);
    if (w < 0 || (size_t)w >= cap)
        return ameir_fail(AMEIR_EINVAL, "%s: path too long for its %s", run_path, suffix);
    return 0;
}

int ameir_trial_dir_of(const char *run_path, char *out, size_t cap) { return ameir_run_sibling(run_path, ".trials", out, cap); }

int ameir_trial_dir_make(const char *dir) {
    char path[AMEIR_PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return ameir_fail(AMEIR_EINVAL, "%s: path too long", dir);
    /* like mkdir -p: the directory of RUN.h5 may not exist yet either */
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return ameir_fail(AMEIR_EIO, "%s: cannot create the directory: %s", path, strerror(errno));
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ameir_fail(AMEIR_EIO, "%s: exists and is not a directory (the search keeps trial weights there)", dir);
    return 0;
}

int ameir_trial_ctx_init(ameir_trial_ctx *ctx, const ameir_search_config *cfg, const char *run_path) {
    memset(ctx, 0, sizeof *ctx);
    if (strlen(cfg->data_dir) >= sizeof ctx->data_dir)
        return ameir_fail(AMEIR_EINVAL, "%s: data path too long", cfg->origin);
    strcpy(ctx->data_dir, cfg->data_dir);
    AMEIR_TRY(ameir_trial_dir_of(run_path, ctx->trial_dir, sizeof ctx->trial_dir));
    ctx->d = cfg->d;
    ctx->train = cfg->train;
    ctx->final_train = cfg->final_train;
    ctx->time_limit = cfg->trial_time_limit;
    return 0;
}

static int trial_file_path(const ameir_trial_ctx *ctx, const char *kind, int64_t id, char *out, size_t cap) {
    int w = snprintf(out, cap, "%s/%s-%lld.h5", ctx->trial_dir, kind, (long long)id);
    if (w < 0 || (size_t)w >= cap)
        return ameir_fail(AMEIR_EINVAL, "%s: path too long for trial %lld", ctx->trial_dir, (long long)id);
    return 0;
}

int ameir_trial_weights_path(const ameir_trial_ctx *ctx, int64_t trial_id, char *out, size_t cap) {
    return trial_file_path(ctx, "trial", trial_id, out, cap);
}

int ameir_trial_model_path(const ameir_trial_ctx *ctx, int64_t trial_id, char *out, size_t cap) {
    return trial_file_path(ctx, "final", trial_id, out, cap);
}

int ameir_trial_supernet_path(const ameir_trial_ctx *ctx, int64_t trial_id, char *out, size_t cap) {
    return trial_file_path(ctx, "supernet", trial_id, out, cap);
}

int ameir_trial_data_open(ameir_trial_data *td, const char *data_dir) {
    memset(td, 0, sizeof *td);
    int rc = ameir_dataset_open(&td->ds, data_dir);
    if (rc == 0)
        rc = ameir_split_load(&td->train, td->ds, "train", 0, -1);
    if (rc == 0)
        rc = ameir_split_load(&td->valid, td->ds, "valid", 0, -1);
    if (rc < 0)
        ameir_trial_data_close(td);
    return rc;
}

void ameir_trial_data_close(ameir_trial_data *td) {
    ameir_split_free(td->train);
    ameir_split_free(td->valid);
    ameir_split_free(td->test);
    ameir_split_free(td->valid_sub);
    ameir_supernet_free(td->sn);
    ameir_dataset_free(td->ds);
    memset(td, 0, sizeof *td);
}

/* A trial's state file: attribute "trial_id" and one group written by save(obj, group)
 * (a net's weights + Adam state as /net, a supernet's as /supernet), through a temporary
 * name and a rename. */
typedef int (*state_save_fn)(const void *obj, hid_t group);
typedef int (*state_load_fn)(void *obj, hid_t group);

static int save_state(const char *path, int64_t trial_id, const char *name, state_save_fn save, const void *obj) {
    ameir_atomic_file w;
    int rc = 0;
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID, sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
    AMEIR_TRY(ameir_atomic_begin(&w, path));
    const char *tmp = w.tmp;
    H5E_BEGIN_TRY {
        f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    } H5E_END_TRY;
    if (f < 0) {
        rc = ameir_fail(AMEIR_EHDF5, "%s: cannot create the trial state file", tmp);
        goto done;
    }
    sp = H5Screate(H5S_SCALAR);
    a = H5Acreate2(f, "trial_id", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (sp < 0 || a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &trial_id) < 0) {
        rc = ameir_fail(AMEIR_EHDF5, "%s: cannot write attribute trial_id", tmp);
        goto done;
    }
    g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        rc = ameir_fail(AMEIR_EHDF5, "%s: cannot create group /%s", tmp, name);
        goto done;
    }
    rc = save(obj, g);
done:
    H5E_BEGIN_TRY {
        if (a >= 0)
            H5Aclose(a);
        if (sp >= 0)
            H5Sclose(sp);
        if (g >= 0)
            H5Gclose(g);
        if (f >= 0 && H5Fclose(f) < 0 && rc == 0)
            rc = ameir_fail(AMEIR_EHDF5, "%s: closing failed (disk full?)", tmp);
    } H5E_END_TRY;
    if (rc == 0)
        return ameir_atomic_commit(&w, NULL);
    ameir_atomic_abort(&w);
    return rc;
}

static int load_state(const char *path, const char *name, state_load_fn load, void *obj) {
    int rc = 0;
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    H5E_BEGIN_TRY {
        f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f >= 0)
            g = H5Gopen2(f, name, H5P_DEFAULT);
    } H5E_END_TRY;
    if (f < 0)
        rc = ameir_fail(AMEIR_ENOENT, "%s: cannot open the parent trial's state (was the trial directory moved?)", path);
    else if (g < 0)
        rc = ameir_fail(AMEIR_EDATA, "%s: no group /%s: not the state file of such a trial", path, name);
    else
        rc = load(obj, g);
    H5E_BEGIN_TRY {
        if (g >= 0)
            H5Gclose(g);
        if (f >= 0)
            H5Fclose(f);
    } H5E_END_TRY;
    return rc;
}

static int net_save(const void *net, hid_t g) { return ameir_net_save(net, g); }
static int net_load(void *net, hid_t g) { return ameir_net_load(net, g); }
static int supernet_save(const void *sn, hid_t g) { return ameir_supernet_save(sn, g); }
static int supernet_load(void *sn, hid_t g) { return ameir_supernet_load(sn, g); }

static void result_init(ameir_search_result *res, const ameir_search_task *task, int task_kind) {
    memset(res, 0, sizeof *res);
    res->trial_id = task->trial_id;
    res->status = AMEIR_TRIAL_DONE;
    res->metric = NAN;
    res->valid.task = task_kind;
    res->test.task = task_kind;
    res->worker = -1;
}

/* Test hook (docs/running.md; compiled with -Dtest_hooks=true only): AMEIR_TEST_DIVERGE_TRIAL=ID trains search trial ID with a
 * learning rate of 3e38 (near FLT_MAX): its weights and then its loss really overflow, and
 * the trainer's own NaN/inf check fires. A plain huge rate does not do it: ReLUs die and
 * the loss stays large but finite. */
static int forced_to_diverge(int64_t trial_id) {
#ifdef AMEIR_TEST_HOOKS /* meson -Dtest_hooks=true only: a production build never reads it */
    const char *s = getenv("AMEIR_TEST_DIVERGE_TRIAL");
    char *end = NULL;
    if (!s || !s[0])
        return 0;
    long long id = strtoll(s, &end, 10);
    return end && *end == '\0' && id == trial_id;
#else
    (void)trial_id;
    return 0;
#endif
}

/* The ranks of a group stop together: a stop on any rank stops all; the leader's clock
 * (timeout), chunk size (target) and ranks waiting to join (join) decide for every rank. */
static int agree(const ameir_shard_comm *group, int *stop_now, int *timeout, int64_t *target, int *join) {
    int64_t mine[4] = {*stop_now, group->rank == 0 ? *timeout : 0, group->rank == 0 ? *target : 0, group->rank == 0 ? *join : 0};
    int64_t all[4 * 256];
    size_t got = 0;
    if (group->size > 256)
        return ameir_fail(AMEIR_EINVAL, "a trial group of %d ranks (at most 256)", group->size);
    AMEIR_TRY(group->allgather(group->ctx, mine, sizeof mine, all, sizeof all, &got));
    if (got != (size_t)group->size * sizeof mine)
        return ameir_fail(AMEIR_EINTERNAL, "trial group: %zu bytes agreed, expected %zu", got, (size_t)group->size * sizeof mine);
    for (int r = 0; r < group->size; r++)
        *stop_now |= all[4 * r] != 0;
    *timeout = all[1] != 0; /* group rank 0's */
    *target = all[2];
    *join = (int)all[3];
    return 0;
}

static int is_leader(const ameir_shard_comm *group) { return !group || group->rank == 0; }

/* Test hook (docs/running.md; -Dtest_hooks=true only): AMEIR_TEST_CHUNK_STEPS=K trains in
 * chunks of exactly K steps, so that the short trials of the MPI tests have many chunk
 * boundaries at which ranks can join. 0: chunks of about CHUNK_SECONDS. */
static int64_t test_chunk_steps(void) {
#ifdef AMEIR_TEST_HOOKS
    const char *s = getenv("AMEIR_TEST_CHUNK_STEPS");
    char *end = NULL;
    long long k = s && s[0] ? strtoll(s, &end, 10) : 0;
    return end && *end == '\0' && k > 0 ? (int64_t)k : 0;
#else
    return 0;
#endif
}

/* The group takes in the ranks waiting to join at this boundary (hooks->grow: the group's
 * communicator now spans them) and the leader's state goes to all. */
static int take_in(const ameir_shard_comm *group, ameir_net *net, const ameir_trial_hooks *h) {
    int joined = 1;
    AMEIR_TRY(h->grow(h->arg, &joined));
    return ameir_net_share_state(net, group);
}

/* What a trial trains: a net, or a supernet over the task's alive paths. */
typedef struct trainee {
    ameir_net *net;
    ameir_supernet *sn;
    const ameir_search_task *task;
} trainee;

static int64_t trainee_step(const trainee *a) { return a->net ? ameir_net_params(a->net)->step : ameir_supernet_step(a->sn); }

static int trainee_train(const trainee *a, const ameir_split *train, const ameir_train_config *c, int64_t target) {
    double loss = 0;
    if (a->net)
        return ameir_train_steps(a->net, train, c, target, &loss);
    return ameir_supernet_train(a->sn, train, c, a->task->alive, a->task->n_alive, target, &loss);
}

/* Train in chunks of about CHUNK_SECONDS up to step `until`; checks stop and the time limit
 * (0 = none) between chunks (a group agrees on them). Returns 0 (res->status set) or
 * AMEIR_EINTERRUPTED / an error. */
static int train_search(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                        const ameir_shard_comm *group, const trainee *a, const ameir_trial_hooks *h, double start,
                        double time_limit, int64_t until, ameir_search_result *res) {
    ameir_train_config c = ctx->train;
    c.seed = task->seed;
    c.comm = group;
    if (forced_to_diverge(task->trial_id))
        c.opt.lr = 3e38f;
    /* a net's state is whole between training calls, so a group of one can grow there too */
    int grows = group && a->net && h && h->waiting && h->grow;
    int64_t step = trainee_step(a), fixed = test_chunk_steps(), chunk = fixed > 0 ? fixed : 4;
    while (step < until) {
        int stop_now = h && h->stop && h->stop(h->arg);
        int timeout = time_limit > 0 && ameir_now() - start > time_limit;
        int join = grows && is_leader(group) ? h->waiting(h->arg) : 0;
        int64_t target = step + chunk < until ? step + chunk : until;
        if (group)
            AMEIR_TRY(agree(group, &stop_now, &timeout, &target, &join));
        if (stop_now)
            return AMEIR_EINTERRUPTED;
        if (timeout) {
            res->status = AMEIR_TRIAL_TIMEOUT;
            break;
        }
        if (join > 0 && grows) {
            AMEIR_TRY(take_in(group, a->net, h));
            continue; /* agree again, now with the ranks that joined */
        }
        double t0 = ameir_now();
        int rc = trainee_train(a, td->train, &c, target);
        if (rc == AMEIR_EDIVERGED) {
            res->status = AMEIR_TRIAL_DIVERGED;
            break;
        }
        AMEIR_TRY(rc);
        double per_step = (ameir_now() - t0) / (double)(target - step);
        step = target;
        chunk = fixed > 0 ? fixed : per_step > 0 ? (int64_t)(CHUNK_SECONDS / per_step) : 1000;
        chunk = chunk < 1 ? 1 : chunk > 100000 ? 100000 : chunk;
    }
    res->steps = trainee_step(a);
    return 0;
}

/* The validation rows a search trial is scored on: all of them, or `rows` drawn without
 * replacement by a stream of the search seed (the same subsample for every trial and rank),
 * kept in ascending order. */
static int scoring_split(ameir_trial_data *td, int64_t rows, uint64_t seed, const ameir_split **out) {
    int64_t total = ameir_split_rows(td->valid);
    *out = td->valid;
    if (rows <= 0 || rows >= total)
        return 0;
    if (td->valid_sub && td->valid_sub_rows == rows && td->valid_sub_seed == seed) {
        *out = td->valid_sub;
        return 0;
    }
    ameir_split_free(td->valid_sub);
    td->valid_sub = NULL;
    int64_t *idx = malloc((size_t)total * sizeof *idx);
    char *pick = calloc((size_t)total, 1);
    if (!idx || !pick) {
        free(idx), free(pick);
        return ameir_fail(AMEIR_ENOMEM, "no memory for a validation subsample of %lld rows", (long long)rows);
    }
    for (int64_t i = 0; i < total; i++)
        idx[i] = i;
    ameir_rng rng = ameir_rng_stream(seed, UINT64_C(0x5A11D000));
    for (int64_t i = 0; i < rows; i++) { /* partial Fisher-Yates */
        int64_t j = i + (int64_t)ameir_rng_below(&rng, (uint64_t)(total - i));
        int64_t t = idx[i];
        idx[i] = idx[j], idx[j] = t;
        pick[idx[i]] = 1;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < total; i++)
        if (pick[i])
            idx[k++] = i;
    free(pick);
    int rc = ameir_split_subset(&td->valid_sub, td->valid, idx, rows);
    free(idx);
    AMEIR_TRY(rc);
    td->valid_sub_rows = rows, td->valid_sub_seed = seed;
    *out = td->valid_sub;
    return 0;
}

/* joined: NULL for the ranks the trial was given; for a rank that joins it at a chunk
 * boundary (ameir_trial_join), whether the leader took it in. */
static int run_search(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                      const ameir_shard_comm *group, const ameir_trial_hooks *h, double start, ameir_search_result *res,
                      int *joined) {
    const ameir_schema *schema = ameir_dataset_schema(td->ds);
    char path[AMEIR_PATH_MAX + 64];
    ameir_net *net = NULL;
    int rc = ameir_net_create(&net, &task->arch, schema, ctx->d, ameir_train_batch_rows(&ctx->train, schema), task->seed);
    if (rc < 0)
        goto done;
    if (joined) { /* the state comes from the leader at its next chunk boundary */
        if ((rc = h->grow(h->arg, joined)) < 0 || !*joined || (rc = ameir_net_share_state(net, group)) < 0)
            goto done;
    } else if (task->parent >= 0) {
        if ((rc = ameir_trial_weights_path(ctx, task->parent, path, sizeof path)) < 0 || (rc = load_state(path, "net", net_load, net)) < 0)
            goto done;
    }
    const ameir_split *valid = NULL;
    if (is_leader(group) && (rc = scoring_split(td, task->valid_rows, task->seed, &valid)) < 0)
        goto done;
    /* with eval_every, validate at every multiple of it (global steps, so a chain validates at
     * the same points however it is split into rungs) and keep the best, as early stopping would */
    res->metric = NAN;
    for (;;) {
        int64_t step = ameir_net_params(net)->step, until = task->budget;
        if (task->eval_every > 0 && (step / task->eval_every + 1) * task->eval_every < until)
            until = (step / task->eval_every + 1) * task->eval_every;
        const trainee a = {.net = net, .task = task};
        if ((rc = train_search(ctx, td, task, group, &a, h, start, ctx->time_limit, until, res)) < 0)
            goto done;
        if (res->status != AMEIR_TRIAL_DONE)
            goto done; /* diverged or timed out: ranks last, never promoted, nothing to keep */
        if (!is_leader(group)) { /* a member only trains: the leader scores, saves and answers */
            if (until >= task->budget)
                goto done;
            continue;
        }
        ameir_metrics m;
        if ((rc = ameir_evaluate(net, valid, &m)) < 0)
            goto done;
        double v = ameir_metrics_primary(&m);
        if (isnan(res->metric) || v > res->metric)
            res->metric = v, res->valid = m;
        if (until >= task->budget)
            break;
    }
    if ((rc = ameir_trial_weights_path(ctx, task->trial_id, path, sizeof path)) < 0)
        goto done;
    rc = save_state(path, task->trial_id, "net", net_save, net);
done:
    ameir_net_free(net);
    return rc;
}

/* The stage's supernet holding the state saved by trial `state` (-1: freshly built), in
 * td->sn: kept from this rank's last task when it holds that state, else built from the
 * task's candidates (initialised from the task's seed) and, for state >= 0, loaded. */
static int supernet_at(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task, int64_t state) {
    const ameir_schema *schema = ameir_dataset_schema(td->ds);
    char path[AMEIR_PATH_MAX + 64];
    if (task->n_cands < 1)
        return ameir_fail(AMEIR_EINVAL, "trial %lld: a one-shot task without candidates", (long long)task->trial_id);
    if (td->sn && td->sn_held && td->sn_trial == state && state >= 0)
        return 0;
    ameir_supernet_free(td->sn);
    td->sn = NULL, td->sn_held = 0;
    AMEIR_TRY(ameir_supernet_create(&td->sn, task->cands, task->n_cands, schema, ctx->d,
                                    ameir_train_batch_rows(&ctx->train, schema), task->seed));
    if (state >= 0) {
        AMEIR_TRY(ameir_trial_supernet_path(ctx, state, path, sizeof path));
        AMEIR_TRY(load_state(path, "supernet", supernet_load, td->sn));
    }
    td->sn_held = 1, td->sn_trial = state;
    return 0;
}

/* A supernet trial: continue the parent round's supernet up to the budget over the alive
 * paths, save it. No time limit (a round is many trials' worth of steps); no metric. */
static int run_supernet(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                        const ameir_shard_comm *group, const ameir_trial_hooks *h, double start, ameir_search_result *res) {
    char path[AMEIR_PATH_MAX + 64];
    if (task->n_alive < 1)
        return ameir_fail(AMEIR_EINVAL, "trial %lld: a supernet task with no alive candidate", (long long)task->trial_id);
    AMEIR_TRY(supernet_at(ctx, td, task, task->parent));
    td->sn_held = 0; /* changing from here on */
    const trainee a = {.sn = td->sn, .task = task};
    AMEIR_TRY(train_search(ctx, td, task, group, &a, h, start, 0, task->budget, res));
    if (res->status != AMEIR_TRIAL_DONE)
        return 0;
    if (is_leader(group)) {
        AMEIR_TRY(ameir_trial_supernet_path(ctx, task->trial_id, path, sizeof path));
        AMEIR_TRY(save_state(path, task->trial_id, "supernet", supernet_save, td->sn));
    }
    td->sn_held = 1, td->sn_trial = task->trial_id;
    return 0;
}

/* A scored trial: candidate task->candidate on validation with the weights of the supernet
 * its parent trained, no training (the leader scores; group members have nothing to do). */
static int run_scored(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                      const ameir_shard_comm *group, ameir_search_result *res) {
    const ameir_split *valid = NULL;
    if (!is_leader(group))
        return 0;
    if (task->candidate < 0 || task->candidate >= task->n_cands)
        return ameir_fail(AMEIR_EINVAL, "trial %lld: scores candidate %d of %d", (long long)task->trial_id, task->candidate,
                          task->n_cands);
    AMEIR_TRY(supernet_at(ctx, td, task, task->parent));
    AMEIR_TRY(scoring_split(td, task->valid_rows, task->seed, &valid));
    AMEIR_TRY(ameir_supernet_score(td->sn, task->candidate, valid, &res->valid));
    res->metric = ameir_metrics_primary(&res->valid);
    res->steps = ameir_supernet_step(td->sn);
    return 0;
}

/* The training record stored in a final model file. */
static char *final_record(const ameir_search_task *task, const ameir_train_config *c, const ameir_fit_result *fit,
                          const ameir_search_result *res) {
    char *text = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "source", "ameir search");
    cJSON_AddStringToObject(o, "kind", ameir_trial_kind_name(task->kind));
    cJSON_AddNumberToObject(o, "trial", (double)task->trial_id);
    cJSON_AddNumberToObject(o, "seed", (double)task->seed);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    cJSON_AddNumberToObject(o, "lr", c->opt.lr);
    cJSON_AddNumberToObject(o, "steps", (double)fit->steps);
    cJSON_AddNumberToObject(o, "best_step", (double)fit->best_step);
    cJSON_AddNumberToObject(o, "seconds", fit->seconds);
    cJSON_AddItemToObject(o, "valid", ameir_metrics_to_cjson(&res->valid));
    cJSON_AddItemToObject(o, "test", ameir_metrics_to_cjson(&res->test));
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* A final fit validation by validation: before each the group agrees on a stop and on the
 * ranks waiting to join, and takes those in (the fit's state is whole there). */
static int fit_final(ameir_fit *fit, const ameir_shard_comm *group, const ameir_trial_hooks *h) {
    int grows = group && h && h->waiting && h->grow, more = 1;
    while (more) {
        int stop_now = h && h->stop && h->stop(h->arg), timeout = 0, joined = 1;
        int join = grows && is_leader(group) ? h->waiting(h->arg) : 0;
        int64_t target = 0;
        if (group)
            AMEIR_TRY(agree(group, &stop_now, &timeout, &target, &join));
        if (stop_now)
            return AMEIR_EINTERRUPTED;
        if (join > 0 && grows) {
            AMEIR_TRY(h->grow(h->arg, &joined));
            AMEIR_TRY(ameir_fit_share(fit));
            continue; /* agree again, now with the ranks that joined */
        }
        AMEIR_TRY(ameir_fit_next(fit, &more));
    }
    return 0;
}

/* joined: as for run_search (a joining rank waits for the leader's next validation). */
static int run_final(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                     const ameir_shard_comm *group, const ameir_trial_hooks *h, ameir_search_result *res, int *joined) {
    const ameir_schema *schema = ameir_dataset_schema(td->ds);
    char path[AMEIR_PATH_MAX + 64];
    char *record = NULL;
    ameir_net *net = NULL;
    ameir_fit *f = NULL;
    ameir_fit_result fit;
    ameir_train_config c = ctx->final_train;
    c.seed = task->seed;
    c.comm = group; /* every rank validates (early stopping is the same on all), the leader tests and saves */
    memset(&fit, 0, sizeof fit);
    int rc = 0;
    if (!joined && is_leader(group) && !td->test && (rc = ameir_split_load(&td->test, td->ds, "test", 0, -1)) < 0)
        return rc;
    if ((rc = ameir_net_create(&net, &task->arch, schema, ctx->d, ameir_train_batch_rows(&c, schema), task->seed)) < 0)
        goto done;
    if (joined && ((rc = h->grow(h->arg, joined)) < 0 || !*joined))
        goto done;
    if ((rc = ameir_fit_open(&f, net, td->train, td->valid, &c, 0)) < 0 || (joined && (rc = ameir_fit_share(f)) < 0) ||
        (rc = fit_final(f, group, h)) < 0)
        goto done;
    rc = ameir_fit_close(f, &fit);
    f = NULL;
    res->steps = fit.steps;
    if (rc == AMEIR_EDIVERGED || fit.diverged) {
        res->status = AMEIR_TRIAL_DIVERGED;
        rc = 0;
        goto done;
    }
    if (rc < 0 || !is_leader(group) || joined)
        goto done;
    if ((rc = ameir_evaluate(net, td->valid, &res->valid)) < 0 || (rc = ameir_evaluate(net, td->test, &res->test)) < 0)
        goto done;
    res->metric = ameir_metrics_primary(&res->valid);
    if ((rc = ameir_trial_model_path(ctx, task->trial_id, path, sizeof path)) < 0)
        goto done;
    if (!(record = final_record(task, &c, &fit, res))) {
        rc = ameir_fail(AMEIR_ENOMEM, "trial %lld: no memory for the training record", (long long)task->trial_id);
        goto done;
    }
    rc = ameir_model_save(path, net, &task->arch, td->ds, record);
done:
    ameir_fit_free(f);
    free(record);
    ameir_net_free(net);
    return rc;
}

int ameir_trial_run(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                    const ameir_shard_comm *group, const ameir_trial_hooks *h, ameir_search_result *res) {
    double start = ameir_now();
    result_init(res, task, ameir_dataset_schema(td->ds)->task);
    if (group && ctx->train.shards < 1)
        return ameir_fail(AMEIR_EINVAL, "trial %lld: a group of %d ranks needs train.shards > 0", (long long)task->trial_id,
                          group->size);
    int rc = task->kind == AMEIR_TRIAL_SEARCH     ? run_search(ctx, td, task, group, h, start, res, NULL)
             : task->kind == AMEIR_TRIAL_SUPERNET ? run_supernet(ctx, td, task, group, h, start, res)
             : task->kind == AMEIR_TRIAL_SCORED   ? run_scored(ctx, td, task, group, res)
                                                  : run_final(ctx, td, task, group, h, res, NULL);
    res->seconds = ameir_now() - start;
    if (rc == 0 && res->status != AMEIR_TRIAL_DONE && is_leader(group)) {
        res->metric = NAN;
        ameir_log(AMEIR_LOG_INFO, "trial %lld: %s after %lld steps", (long long)task->trial_id,
                  ameir_trial_status_name(res->status), (long long)res->steps);
    }
    return rc;
}

int ameir_trial_join(const ameir_trial_ctx *ctx, ameir_trial_data *td, const ameir_search_task *task,
                     const ameir_shard_comm *group, const ameir_trial_hooks *h, int *joined) {
    ameir_search_result res;
    *joined = 0;
    result_init(&res, task, ameir_dataset_schema(td->ds)->task);
    if (!ameir_trial_growable(task, ctx->train.shards) || !group || !h || !h->grow)
        return ameir_fail(AMEIR_EINVAL, "trial %lld: only a search or final trial on virtual shards can be joined",
                          (long long)task->trial_id);
    return task->kind == AMEIR_TRIAL_SEARCH ? run_search(ctx, td, task, group, h, ameir_now(), &res, joined)
                                            : run_final(ctx, td, task, group, h, &res, joined);
}

int ameir_trial_growable(const ameir_search_task *task, int shards) {
    int final = task->kind == AMEIR_TRIAL_FINAL_WINNER || task->kind == AMEIR_TRIAL_FINAL_BASELINE;
    return shards > 1 && (task->kind == AMEIR_TRIAL_SEARCH || final);
}

int ameir_copy_file(const char *from, const char *to) {
    char buf[1 << 16];
    ameir_atomic_file w;
    int rc = 0;
    FILE *in = fopen(from, "rb");
    if (!in)
        return ameir_fail(AMEIR_EIO, "%s: cannot open: %s", from, strerror(errno));
    if ((rc = ameir_atomic_fopen(&w, to)) < 0) {
        fclose(in);
        return rc;
    }
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, w.f) != n)
            rc = ameir_fail(AMEIR_EIO, "%s: write failed: %s", w.tmp, strerror(errno));
    if (rc == 0 && ferror(in))
        rc = ameir_fail(AMEIR_EIO, "%s: read failed", from);
    fclose(in);
    if (rc == 0)
        return ameir_atomic_commit(&w, NULL);
    ameir_atomic_abort(&w);
    return rc;
}
