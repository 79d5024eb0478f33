/* ameir report RUN.h5 [--svg FILE] [--json]: the leaderboard of each stage, the winner
 * against the baselines, and a plot. Reads the checkpoint only (works on a running or an
 * interrupted search as well as a finished one). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/fileio.h"
#include "ameir/search.h"
#include "commands.h"
#include "options.h"
#include "run_summary.h"

/* ---- the plot (--svg): one panel per stage, the validation metric against the trial id, one
 * colour per rung, dashed lines where a new rung starts, failed trials as crosses on the
 * bottom axis. Plain SVG written by hand. ---- */

#define W 760
#define PANEL_H 250
#define LEFT 70
#define RIGHT 20
#define TOP 40
#define BOTTOM 45

static const char *rung_colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

typedef struct panel {
    double y0;               /* top of the panel */
    int64_t first, last;     /* trial ids of the stage */
    double lo, hi;           /* metric range */
} panel;

static double px(const panel *p, double id) {
    double span = p->last > p->first ? (double)(p->last - p->first) : 1.0;
    return LEFT + (id - (double)p->first + 0.5) / (span + 1.0) * (W - LEFT - RIGHT);
}

static double py(const panel *p, double v) {
    double h = PANEL_H - TOP - BOTTOM;
    return p->y0 + TOP + h - (v - p->lo) / (p->hi - p->lo) * h;
}

/* Range of the stage's ids and finite metrics; 0 if the stage has no trial yet. */
static int panel_bounds(const ameir_controller *ctl, int stage, panel *p) {
    int64_t n = ameir_controller_n_trials(ctl);
    int any = 0;
    p->first = -1;
    p->lo = INFINITY;
    p->hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        const ameir_trial *t = ameir_controller_trial(ctl, i);
        if (t->stage != stage)
            continue;
        if (p->first < 0)
            p->first = i;
        p->last = i;
        any = 1;
        if (t->status == AMEIR_TRIAL_DONE && isfinite(t->metric)) {
            p->lo = fmin(p->lo, t->metric);
            p->hi = fmax(p->hi, t->metric);
        }
    }
    if (!isfinite(p->lo)) {
        p->lo = 0;
        p->hi = 1;
    }
    double pad = (p->hi - p->lo) * 0.1;
    if (pad < 1e-3)
        pad = 1e-3;
    p->lo -= pad;
    p->hi += pad;
    return any;
}

static void axes(FILE *f, const panel *p, const char *title, const char *metric) {
    double x0 = LEFT, x1 = W - RIGHT, yb = p->y0 + PANEL_H - BOTTOM, yt = p->y0 + TOP;
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", LEFT, p->y0 + 22, title);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", x0, yb, x1, yb);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", x0, yt, x0, yb);
    for (int k = 0; k <= 4; k++) {
        double v = p->lo + (p->hi - p->lo) * k / 4.0, y = py(p, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0, y, x1, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.4f</text>\n", x0 - 5, y + 4, v);
    }
    int64_t span = p->last - p->first, step = span > 10 ? (span + 9) / 10 : 1;
    for (int64_t id = p->first; id <= p->last; id += step)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%lld</text>\n", px(p, (double)id), yb + 15,
                (long long)id);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">trial id</text>\n", (x0 + x1) / 2, yb + 33);
    fprintf(f,
            "<text x=\"18\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">valid %s</text>\n",
            (yt + yb) / 2, (yt + yb) / 2, metric);
}

static void stage_panel(FILE *f, const ameir_controller *ctl, int stage, const panel *p, const char *metric) {
    char title[128];
    int64_t w = ameir_controller_stage_winner(ctl, stage);
    if (w >= 0)
        snprintf(title, sizeof title, "%s (winner: trial %lld)", ameir_stage_name(stage), (long long)w);
    else
        snprintf(title, sizeof title, "%s", ameir_stage_name(stage));
    axes(f, p, title, metric);
    int prev_rung = -1, max_rung = 0;
    double yb = p->y0 + PANEL_H - BOTTOM;
    for (int64_t i = p->first; i <= p->last; i++) {
        const ameir_trial *t = ameir_controller_trial(ctl, i);
        if (t->stage != stage)
            continue;
        double x = px(p, (double)i);
        if (prev_rung >= 0 && t->rung != prev_rung) { /* a rung boundary between two ids */
            double xb = (x + px(p, (double)i - 1)) / 2;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n", xb,
                    p->y0 + TOP, xb, yb);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\">rung %d, budget %lld</text>\n", xb + 3,
                    p->y0 + TOP + 10, t->rung, (long long)t->budget);
        }
        prev_rung = t->rung;
        max_rung = t->rung > max_rung ? t->rung : max_rung;
        const char *color = rung_colors[t->rung % 8];
        if (t->status == AMEIR_TRIAL_DONE && isfinite(t->metric))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>trial %lld rung %d: %.5f</title></circle>\n", x,
                    py(p, t->metric), color, (long long)i, t->rung, t->metric);
        else if (t->status == AMEIR_TRIAL_DIVERGED || t->status == AMEIR_TRIAL_TIMEOUT)
            fprintf(f,
                    "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#d62728\" stroke-width=\"2\"><title>trial %lld %s</title></path>\n",
                    x - 4, yb - 12, (long long)i, ameir_trial_status_name(t->status));
    }
    for (int r = 0; r <= max_rung; r++) /* legend */
        fprintf(f, "<circle cx=\"%d\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"%.1f\" font-size=\"11\">rung %d</text>\n",
                W - RIGHT - 70, p->y0 + 12 + 14 * r, rung_colors[r % 8], W - RIGHT - 62, p->y0 + 16 + 14 * r, r);
}

/* Write the plot of a search as SVG; task (enum ameir_task) names the metric. 0 or AMEIR_EIO. */
static int report_svg(const char *path, const ameir_controller *ctl, int task) {
    panel panels[AMEIR_N_STAGES];
    int have[AMEIR_N_STAGES], n = 0;
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        if ((have[s] = panel_bounds(ctl, s, &panels[s])))
            panels[s].y0 = PANEL_H * n++;
    ameir_atomic_file w;
    AMEIR_TRY(ameir_atomic_fopen(&w, path));
    FILE *f = w.f;
    int h = PANEL_H * (n ? n : 1);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
            W, h, W, h);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    if (!n)
        fprintf(f, "<text x=\"%d\" y=\"40\" font-size=\"14\">no trials yet</text>\n", LEFT);
    for (int s = 0; s < AMEIR_N_STAGES; s++)
        if (have[s])
            stage_panel(f, ctl, s, &panels[s], ameir_metrics_primary_name(task));
    fprintf(f, "</svg>\n");
    return ameir_atomic_commit(&w, NULL);
}

/* ---- the leaderboard ---- */

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
    char summary[512], role[96];
    int64_t w = ameir_controller_stage_winner(ctl, stage);
    printf("\n== stage %s: %lld trials", ameir_stage_name(stage), (long long)k);
    if (w >= 0)
        printf(", winner trial %lld", (long long)w);
    printf(" ==\n%6s %4s %8s %9s %-9s %-18s %s\n", "trial", "rung", "budget", metric, "status", "role", "architecture");
    for (int64_t j = 0; j < k; j++) {
        const ameir_trial *t = ameir_controller_trial(ctl, ids[j]);
        ameir_arch a;
        ameir_controller_trial_arch(ctl, t, &a);
        ameir_arch_summary(&a, summary, sizeof summary);
        ameir_controller_role(ctl, t, role, sizeof role);
        if (t->status == AMEIR_TRIAL_DONE && isfinite(t->metric))
            printf("%6lld %4d %8lld %9.5f %-9s %-18s %s\n", (long long)t->id, t->rung, (long long)t->budget, t->metric,
                   ameir_trial_status_name(t->status), role, summary);
        else
            printf("%6lld %4d %8lld %9s %-9s %-18s %s\n", (long long)t->id, t->rung, (long long)t->budget, "-",
                   ameir_trial_status_name(t->status), role, summary);
    }
}

static cJSON *trial_cjson(const ameir_controller *ctl, const ameir_trial *t) {
    cJSON *o = cJSON_CreateObject();
    ameir_arch a;
    ameir_controller_trial_arch(ctl, t, &a);
    char *arch = ameir_arch_to_json(&a), role[96];
    cJSON_AddNumberToObject(o, "trial", (double)t->id);
    cJSON_AddStringToObject(o, "kind", ameir_trial_kind_name(t->kind));
    cJSON_AddStringToObject(o, "role", ameir_controller_role(ctl, t, role, sizeof role));
    cJSON_AddNumberToObject(o, "rung", t->rung);
    cJSON_AddNumberToObject(o, "budget", (double)t->budget);
    cJSON_AddNumberToObject(o, "parent", (double)t->parent);
    cJSON_AddStringToObject(o, "status", ameir_trial_status_name(t->status));
    if (t->status == AMEIR_TRIAL_DONE && isfinite(t->metric)) {
        cJSON_AddNumberToObject(o, "metric", t->metric);
        cJSON_AddNumberToObject(o, "score", t->score);
    } else {
        cJSON_AddNullToObject(o, "metric");
    }
    cJSON_AddNumberToObject(o, "valid_rows", (double)t->valid_rows);
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
            cJSON_AddItemToArray(arr, trial_cjson(ctl, ameir_controller_trial(ctl, ids[j])));
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
    int64_t n = ameir_controller_n_trials(ctl), counts[AMEIR_TRIAL_N_STATUS];
    if (!(ids = malloc(sizeof *ids * (size_t)(n ? n : 1)))) {
        rc = ameir_fail(AMEIR_ENOMEM, "no memory for %lld trials", (long long)n);
        goto done;
    }
    ameir_controller_counts(ctl, counts);
    const char *metric = ameir_metrics_primary_name(ameir_run_task(ctl));
    printf("search %s (%s): %lld trials: %lld done, %lld diverged, %lld timeout, %lld pending\n", cfg->name, pos[0], (long long)n,
           (long long)counts[AMEIR_TRIAL_DONE], (long long)counts[AMEIR_TRIAL_DIVERGED], (long long)counts[AMEIR_TRIAL_TIMEOUT],
           (long long)ameir_counts_open(counts));
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        int64_t k = stage_ids(ctl, s, ids);
        if (k)
            print_stage(ctl, s, ids, k, metric);
    }
    printf("\n== winner against the baselines (retrained from scratch, early stopping) ==\n");
    ameir_run_print_outcome(stdout, cfg, ctl);
    if (svg) {
        if ((rc = report_svg(svg, ctl, ameir_run_task(ctl))) < 0)
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
