/* ameir report RUN.h5 [--svg FILE] [--json]: the leaderboard of each stage, the winner
 * against the baselines, and a plot. Reads the checkpoint only (works on a running or an
 * interrupted search as well as a finished one). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/search.h"
#include "commands.h"
#include "options.h"
#include "run_summary.h"

/* Leaderboard order: higher budget first, then higher metric (NaN last), then lower id. */
static const ameir_controller *sort_ctl;
static int by_rank(const void *pa, const void *pb) {
    const ameir_trial *a = ameir_controller_trial(sort_ctl, *(const int64_t *)pa);
    const ameir_trial *b = ameir_controller_trial(sort_ctl, *(const int64_t *)pb);
    if (a->budget != b->budget)
        return a->budget > b->budget ? -1 : 1;
    int fa = a->status == AMEIR_TRIAL_DONE && isfinite(a->metric), fb = b->status == AMEIR_TRIAL_DONE && isfinite(b->metric);
    if (fa != fb)
        return fa ? -1 : 1;
    if (fa && a->metric != b->metric)
        return a->metric > b->metric ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Trial ids of a stage in leaderboard order into ids; returns how many. */
static int64_t stage_ids(const ameir_controller *ctl, int stage, int64_t *ids) {
    int64_t n = ameir_controller_n_trials(ctl), k = 0;
    for (int64_t i = 0; i < n; i++)
        if (ameir_controller_trial(ctl, i)->stage == stage)
            ids[k++] = i;
    sort_ctl = ctl;
    qsort(ids, (size_t)k, sizeof *ids, by_rank);
    return k;
}

static void print_stage(const ameir_controller *ctl, int stage, const int64_t *ids, int64_t k, const char *metric) {
    char summary[512];
    int64_t w = ameir_controller_stage_winner(ctl, stage);
    printf("\n== stage %s: %lld trials", ameir_stage_name(stage), (long long)k);
    if (w >= 0)
        printf(", winner trial %lld", (long long)w);
    printf(" ==\n%6s %4s %8s %9s %-9s %s\n", "trial", "rung", "budget", metric, "status", "architecture");
    for (int64_t j = 0; j < k; j++) {
        const ameir_trial *t = ameir_controller_trial(ctl, ids[j]);
        ameir_arch_summary(&t->arch, summary, sizeof summary);
        if (t->status == AMEIR_TRIAL_DONE)
            printf("%6lld %4d %8lld %9.5f %-9s %s\n", (long long)t->id, t->rung, (long long)t->budget, t->metric,
                   ameir_trial_status_name(t->status), summary);
        else
            printf("%6lld %4d %8lld %9s %-9s %s\n", (long long)t->id, t->rung, (long long)t->budget, "-",
                   ameir_trial_status_name(t->status), summary);
    }
}

static cJSON *trial_cjson(const ameir_trial *t) {
    cJSON *o = cJSON_CreateObject();
    char *arch = ameir_arch_to_json(&t->arch);
    cJSON_AddNumberToObject(o, "trial", (double)t->id);
    cJSON_AddStringToObject(o, "kind", ameir_trial_kind_name(t->kind));
    cJSON_AddNumberToObject(o, "rung", t->rung);
    cJSON_AddNumberToObject(o, "budget", (double)t->budget);
    cJSON_AddNumberToObject(o, "parent", (double)t->parent);
    cJSON_AddStringToObject(o, "status", ameir_trial_status_name(t->status));
    if (t->status == AMEIR_TRIAL_DONE && isfinite(t->metric))
        cJSON_AddNumberToObject(o, "metric", t->metric);
    else
        cJSON_AddNullToObject(o, "metric");
    cJSON_AddNumberToObject(o, "steps", (double)t->steps);
    cJSON_AddItemToObject(o, "arch", arch ? cJSON_Parse(arch) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "worker", t->worker);
    cJSON_AddNumberToObject(o, "seconds", t->seconds);
    free(arch);
    return o;
}

static int report_json(const char *run, const ameir_search_config *cfg, const ameir_controller *ctl, int64_t *ids) {
    cJSON *o = ameir_run_outcome_json(cfg, ctl);
    if (!o)
        return ameir_fail(AMEIR_ENOMEM, "no memory for the JSON report");
    cJSON_AddStringToObject(o, "checkpoint", run);
    cJSON_AddStringToObject(o, "config", cfg->name);
    cJSON_AddStringToObject(o, "metric", ameir_metrics_primary_name(ameir_run_task(ctl)));
    cJSON *stages = cJSON_AddArrayToObject(o, "stages");
    for (int s = 0; s <= AMEIR_STAGE_FINAL; s++) {
        int64_t k = stage_ids(ctl, s, ids);
        cJSON *st = cJSON_CreateObject(), *arr;
        cJSON_AddStringToObject(st, "stage", ameir_stage_name(s));
        arr = cJSON_AddArrayToObject(st, "trials");
        for (int64_t j = 0; j < k; j++)
            cJSON_AddItemToArray(arr, trial_cjson(ameir_controller_trial(ctl, ids[j])));
        cJSON_AddItemToArray(stages, st);
    }
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line)
        return ameir_fail(AMEIR_ENOMEM, "no memory for the JSON report");
    printf("%s\n", line);
    free(line);
    return 0;
}

int ameir_cmd_report(int argc, char **argv) {
    const char *svg = NULL, *pos[1] = {NULL};
    int json = 0, help = 0, npos = 0, rc;
    ameir_opt opts[] = {
        {"svg", AMEIR_OPT_STR, &svg, 1, 0, "FILE", "also draw the metric against the trial id per stage as SVG", 0},
        {"json", AMEIR_OPT_FLAG, &json, 1, 0, NULL, "print a JSON report as the last line", 0},
        {0},
    };
    ameir_search_config *cfg = NULL;
    ameir_controller *ctl = NULL;
    int64_t *ids = NULL;
    if ((rc = ameir_opts_parse(opts, argc, argv, pos, 1, &npos, &help)) < 0)
        return ameir_report_error("report", rc);
    if (help) {
        ameir_opts_usage(stdout, "report RUN.h5 [--svg FILE] [--json]",
                         "Leaderboard of each stage, the winner against the baselines, and a plot of a search checkpoint.",
                         opts);
        return 0;
    }
    if (npos != 1)
        return ameir_report_error("report", ameir_fail(AMEIR_EINVAL, "expected the checkpoint: ameir report RUN.h5 (--help lists the options)"));
    if ((rc = ameir_checkpoint_read(pos[0], &cfg, &ctl)) < 0)
        goto done;
    int64_t n = ameir_controller_n_trials(ctl), counts[5];
    if (!(ids = malloc(sizeof *ids * (size_t)(n ? n : 1)))) {
        rc = ameir_fail(AMEIR_ENOMEM, "no memory for %lld trials", (long long)n);
        goto done;
    }
    ameir_controller_counts(ctl, counts);
    const char *metric = ameir_metrics_primary_name(ameir_run_task(ctl));
    printf("search %s (%s): %lld trials: %lld done, %lld diverged, %lld timeout, %lld pending\n", cfg->name, pos[0], (long long)n,
           (long long)counts[AMEIR_TRIAL_DONE], (long long)counts[AMEIR_TRIAL_DIVERGED], (long long)counts[AMEIR_TRIAL_TIMEOUT],
           (long long)(counts[AMEIR_TRIAL_PENDING] + counts[AMEIR_TRIAL_RUNNING]));
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        int64_t k = stage_ids(ctl, s, ids);
        if (k)
            print_stage(ctl, s, ids, k, metric);
    }
    printf("\n== winner against the baselines (retrained from scratch, early stopping) ==\n");
    ameir_run_print_outcome(stdout, cfg, ctl);
    if (svg) {
        if ((rc = ameir_report_svg(svg, ctl, ameir_run_task(ctl))) < 0)
            goto done;
        printf("plot: %s\n", svg);
    }
    if (json)
        rc = report_json(pos[0], cfg, ctl, ids);
done:
    free(ids);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
    fflush(stdout);
    return rc < 0 ? ameir_report_error("report", rc) : 0;
}
