/* ameir search: the architecture search under mpirun (PRODUCT.md section 4).
 *
 * Rank 0 reads the config (or the checkpoint), builds the controller and broadcasts what
 * the workers need; every rank that runs trials loads the data once; then rank 0 runs the
 * coordinator loop and the others the worker loop (one rank alone does both). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ameir/dataset.h"
#include "ameir/fileio.h"
#include "ameir/cluster.h"
#include "ameir/log.h"
#include "ameir/runlock.h"
#include "commands.h"
#include "options.h"
#include "run_summary.h"

typedef struct search_args {
    const char *config, *out, *resume;
    int json, private_data;
} search_args;

/* Rank 0's state: the config and controller, and where the checkpoint goes. */
typedef struct search_setup {
    ameir_search_config *cfg;
    ameir_controller *ctl;
    char run_path[AMEIR_PATH_MAX];
    ameir_run_lock *lock; /* one writer per run: held from before RUN.h5 is touched until exit */
    int resumed;
} search_setup;

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int set_run_path(search_setup *s, const char *path, size_t strip) {
    size_t n = strlen(path) - strip;
    if (n >= sizeof s->run_path)
        return ameir_fail(AMEIR_EINVAL, "%s: path too long", path);
    memcpy(s->run_path, path, n);
    s->run_path[n] = '\0';
    return 0;
}

static int setup_fresh(search_setup *s, const search_args *a) {
    ameir_dataset *ds = NULL;
    AMEIR_TRY(set_run_path(s, a->out, 0));
    AMEIR_TRY(ameir_run_lock_take(&s->lock, s->run_path));
    if (file_exists(a->out))
        return ameir_fail(AMEIR_EEXIST, "%s exists: continue it with --resume %s, or choose another --out", a->out, a->out);
    AMEIR_TRY(ameir_search_config_load(&s->cfg, a->config));
    int rc = ameir_dataset_open(&ds, s->cfg->data_dir);
    if (rc == 0)
        rc = ameir_search_config_resolve(s->cfg, ameir_dataset_schema(ds));
    ameir_dataset_free(ds);
    AMEIR_TRY(rc);
    return ameir_controller_create(&s->ctl, s->cfg);
}

static int setup_resume(search_setup *s, const search_args *a) {
    /* RUN.h5.prev (the last good file when RUN.h5 is damaged) continues into RUN.h5; the
     * damaged file is kept aside as RUN.h5.bad rather than rotated over the good one */
    int from_prev = ends_with(a->resume, ".prev");
    AMEIR_TRY(set_run_path(s, a->resume, from_prev ? strlen(".prev") : 0));
    AMEIR_TRY(ameir_run_lock_take(&s->lock, s->run_path));
    AMEIR_TRY(ameir_checkpoint_read(a->resume, &s->cfg, &s->ctl));
    s->resumed = 1;
    if (a->config) {
        ameir_search_config *now = NULL;
        AMEIR_TRY(ameir_search_config_load(&now, a->config));
        uint64_t h = now->hash;
        ameir_search_config_free(now);
        if (h != s->cfg->hash)
            return ameir_fail(AMEIR_ECONFIG,
                              "%s: this config (hash %016llx) differs from the one %s was started with (hash %016llx); a "
                              "search resumes only with its own config: resume without --config, or start a new search "
                              "with --out NEW.h5",
                              a->config, (unsigned long long)h, a->resume, (unsigned long long)s->cfg->hash);
    }
    if (from_prev && file_exists(s->run_path)) {
        char bad[AMEIR_PATH_MAX + 8];
        snprintf(bad, sizeof bad, "%s.bad", s->run_path);
        if (rename(s->run_path, bad) != 0)
            return ameir_fail(AMEIR_EIO, "rename %s -> %s: %s", s->run_path, bad, strerror(errno));
        ameir_log(AMEIR_LOG_WARN, "ameir search: resuming from %s; the damaged %s is kept as %s", a->resume, s->run_path, bad);
    }
    return 0;
}

/* Rank 0: config or checkpoint, controller, trial directory, first checkpoint. */
static int setup(search_setup *s, const search_args *a, ameir_trial_ctx *ctx) {
    AMEIR_TRY(a->resume ? setup_resume(s, a) : setup_fresh(s, a));
    AMEIR_TRY(ameir_trial_ctx_init(ctx, s->cfg, s->run_path));
    AMEIR_TRY(ameir_trial_dir_make(ctx->trial_dir));
    /* a crash before the first result still leaves a file to resume from */
    return ameir_checkpoint_write(s->run_path, s->cfg, s->ctl);
}

static int check_args(const search_args *a) {
    if (a->resume && a->out)
        return ameir_fail(AMEIR_EINVAL, "--out and --resume exclude each other: --resume RUN.h5 continues into RUN.h5");
    if (!a->resume && (!a->config || !a->out))
        return ameir_fail(AMEIR_EINVAL, "expected --config FILE --out RUN.h5, or --resume RUN.h5 (--help lists the options)");
    return 0;
}

/* Winner's model and architecture beside the checkpoint, then the summary. */
static int finish(const search_setup *s, const ameir_trial_ctx *ctx, const search_args *a, const ameir_cluster_stats *st) {
    char path[AMEIR_PATH_MAX + 64], model[AMEIR_PATH_MAX + 64] = "", from[AMEIR_PATH_MAX + 64];
    ameir_arch best;
    int64_t w = ameir_run_winner_trial(s->ctl);
    const ameir_trial *wt = w >= 0 ? ameir_controller_trial(s->ctl, w) : NULL;
    if (wt)
        ameir_controller_trial_arch(s->ctl, wt, &best);
    else
        ameir_controller_best_arch(s->ctl, &best);
    char *text = ameir_arch_to_json(&best);
    if (!text)
        return ameir_fail(AMEIR_ENOMEM, "no memory for the best architecture");
    int rc = ameir_run_beside(s->run_path, "best_arch.json", path, sizeof path);
    ameir_atomic_file out;
    if (rc == 0 && (rc = ameir_atomic_fopen(&out, path)) == 0) {
        fprintf(out.f, "%s\n", text);
        rc = ameir_atomic_commit(&out, NULL);
    }
    free(text);
    AMEIR_TRY(rc);
    if (wt && wt->status == AMEIR_TRIAL_DONE) {
        AMEIR_TRY(ameir_trial_model_path(ctx, w, from, sizeof from));
        AMEIR_TRY(ameir_run_beside(s->run_path, "best_model.h5", model, sizeof model));
        AMEIR_TRY(ameir_copy_file(from, model));
    } else {
        ameir_log(AMEIR_LOG_WARN, "ameir search: the winner's final training did not finish; no best_model.h5");
    }
    printf("\nsearch finished: %lld results this session in %.1f s\n", (long long)st->results, st->seconds);
    if (st->workers > 0 && st->worker_time > 0)
        printf("workers waited %.1f%% of their time for rank 0 (%d workers, %lld trials)\n",
               100.0 * st->worker_wait / st->worker_time, st->workers, (long long)st->worker_trials);
    ameir_run_print_outcome(stdout, s->cfg, s->ctl);
    printf("best architecture: %s\nbest model: %s\n", path, model[0] ? model : "- (not trained)");
    if (a->json) {
        cJSON *o = ameir_run_outcome_json(s->cfg, s->ctl);
        if (!o)
            return ameir_fail(AMEIR_ENOMEM, "no memory for the JSON summary");
        cJSON_AddNumberToObject(o, "seconds", st->seconds);
        cJSON_AddNumberToObject(o, "ranks", st->workers + 1);
        if (st->workers > 0 && st->worker_time > 0)
            cJSON_AddNumberToObject(o, "worker_wait_share", st->worker_wait / st->worker_time);
        cJSON_AddStringToObject(o, "checkpoint", s->run_path);
        cJSON_AddStringToObject(o, "best_arch", path);
        if (model[0])
            cJSON_AddStringToObject(o, "best_model", model);
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line)
            return ameir_fail(AMEIR_ENOMEM, "no memory for the JSON summary");
        printf("%s\n", line);
        free(line);
    }
    fflush(stdout);
    return 0;
}

static void interrupted_message(const search_setup *s, const ameir_cluster_stats *st) {
    char why[64];
    if (st->signal)
        snprintf(why, sizeof why, "%s on rank %d", ameir_signal_name(st->signal), st->signal_rank);
    else
        snprintf(why, sizeof why, "the watchdog (rank %d stalled)", st->stalled_rank);
    fprintf(stderr, "ameir search: interrupted by %s after %lld results; checkpoint %s is up to date; continue "
                    "with: mpirun -np N ameir search --resume %s\n",
            why, (long long)st->results, s->run_path, s->run_path);
    if (st->workers > 0 && st->worker_time > 0)
        fprintf(stderr, "ameir search: workers waited %.1f%% of their time for rank 0\n", 100.0 * st->worker_wait / st->worker_time);
}

/* Everything after MPI_Init; returns the exit code of this rank. */
static int search_main(const ameir_job *job, const search_args *a) {
    int rank = job->rank, size = job->size;
    search_setup s;
    ameir_trial_ctx ctx;
    ameir_trial_data td;
    ameir_node_data nd;
    ameir_cluster_stats st;
    int rc = 0, exit_code = 0;
    memset(&s, 0, sizeof s);
    memset(&ctx, 0, sizeof ctx);
    memset(&td, 0, sizeof td);
    memset(&nd, 0, sizeof nd);
    memset(&st, 0, sizeof st);
    if (rank == 0)
        rc = setup(&s, a, &ctx);
    int shared = ameir_job_share_setup(job, &rc, &ctx);
    if (shared < 0)
        rc = shared;
    if (rc < 0) {
        exit_code = rank == 0 ? ameir_report_error("search", rc) : ameir_exit_code(rc);
        goto done;
    }
    /* ranks that run trials load the data once; all learn whether every one succeeded */
    int load = ameir_job_data_open(job, size == 1 || rank > 0, a->private_data, ctx.data_dir, &td, &nd), worst = 0;
    if (load < 0)
        ameir_report_error("search", load);
    if ((rc = ameir_job_min(job, load, &worst)) < 0) {
        exit_code = ameir_report_error("search", rc);
        goto done;
    }
    if (worst < 0) {
        exit_code = ameir_exit_code(worst);
        goto done;
    }
    ameir_cluster_opts o = {s.run_path, stdout};
    if (rank == 0 && s.resumed) {
        int64_t counts[AMEIR_TRIAL_N_STATUS];
        ameir_controller_counts(s.ctl, counts);
        printf("resuming %s: %lld trials finished, %lld to run again or start\n", s.run_path,
               (long long)ameir_counts_finished(counts), (long long)ameir_counts_open(counts));
        fflush(stdout);
    }
    rc = ameir_job_run(job, s.cfg, s.ctl, &ctx, &td, &o, &st, &exit_code);
    if (rc == AMEIR_EINTERRUPTED) {
        interrupted_message(&s, &st);
        exit_code = ameir_exit_code(rc);
        if (st.unanswered > 0) {
            /* a final trial's training cannot stop half-way; the checkpoint is written, so
             * end the job now rather than run into the scheduler's kill */
            fprintf(stderr, "ameir search: %d worker(s) still busy (in a final trial, or stalled); ending the job with exit code %d\n",
                    st.unanswered, exit_code);
            fflush(stderr);
            ameir_run_lock_release(s.lock);
            s.lock = NULL;
            ameir_job_abort(exit_code);
        }
    } else if (rc < 0) {
        /* the others may be waiting on this rank: end the job; the checkpoint is intact */
        int code = ameir_report_error("search", rc);
        fprintf(stderr, "ameir search: rank %d stops the job; the last checkpoint is intact\n", rank);
        fflush(stderr);
        ameir_run_lock_release(s.lock);
        s.lock = NULL;
        ameir_job_abort(code);
    } else if (rank == 0) {
        rc = finish(&s, &ctx, a, &st);
        exit_code = rc < 0 ? ameir_report_error("search", rc) : 0;
    }
done:
    ameir_run_lock_release(s.lock);
    ameir_job_data_close(&nd, &td);
    ameir_controller_free(s.ctl);
    ameir_search_config_free(s.cfg);
    return exit_code;
}

int ameir_cmd_search(int argc, char **argv) {
    search_args a = {0};
    ameir_opt opts[] = {
        {"config", AMEIR_OPT_STR, &a.config, 1, 0, "FILE", "search config (configs/search/*.json)", 0},
        {"out", AMEIR_OPT_STR, &a.out, 1, 0, "RUN.h5", "checkpoint to create; trial weights go to RUN.trials/", 0},
        {"resume", AMEIR_OPT_STR, &a.resume, 1, 0, "RUN.h5", "continue this search (any number of ranks)", 0},
        {"json", AMEIR_OPT_FLAG, &a.json, 1, 0, NULL, "print a JSON summary as the last line", 0},
        {"private-data", AMEIR_OPT_FLAG, &a.private_data, 1, 0, NULL,
         "each training rank loads its own copy of the data (default: one copy per node, in shared memory)", 0},
        {0},
    };
    int help = 0, code = 0;
    ameir_job job;
    int rc = ameir_opts_parse(opts, argc, argv, NULL, 0, NULL, &help);
    if (rc == 0 && !help)
        rc = check_args(&a);
    if (help || rc < 0) {
        /* bad usage needs no MPI; under mpirun every rank prints, so only rank 0 does */
        const char *r = getenv("OMPI_COMM_WORLD_RANK");
        if (r && strcmp(r, "0"))
            return help ? 0 : ameir_exit_code(rc);
        if (help) {
            ameir_opts_usage(stdout, "search --config FILE --out RUN.h5 [--json] [--private-data] | search --resume RUN.h5 [--config FILE] [--private-data]",
                             "The architecture search; run it under mpirun -np N (rank 0 coordinates, the others train).\n"
                             "Exit codes: 0 done, 1 runtime failure, 2 bad usage or input, 3 interrupted (resume it).",
                             opts);
            return 0;
        }
        return ameir_report_error("search", rc);
    }
    ameir_die_with_launcher();
    if ((rc = ameir_job_init(&job)) < 0)
        return ameir_report_error("search", rc);
    if ((rc = ameir_signals_install()) < 0)
        ameir_job_abort(ameir_report_error("search", rc));
    code = search_main(&job, &a);
    ameir_signals_restore();
    ameir_job_finalize(&job);
    return code;
}
