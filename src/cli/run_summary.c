/* The outcome of a search as text and JSON, shared by `ameir search` and `ameir report`. */
#include "run_summary.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/modelfile.h"
#include "ameir/nn.h"

/* Append printf output to out without overflowing (truncates silently: it is a label). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void appendf(char *out, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

void ameir_arch_summary(const ameir_arch *a, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    appendf(out, cap, &len, "blocks");
    if (!a->n_blocks)
        appendf(out, cap, &len, " -");
    for (int i = 0; i < a->n_blocks; i++) {
        const ameir_block *b = &a->blocks[i];
        appendf(out, cap, &len, " %s%s", b->norm == AMEIR_NORM_LAYERNORM ? "ln." : "", ameir_op_name(b->op));
        if (b->option)
            appendf(out, cap, &len, "%d", b->option);
        if (b->op != AMEIR_OP_ZERO)
            appendf(out, cap, &len, ".%s", ameir_act_name(b->act));
    }
    appendf(out, cap, &len, " > %s%s | inter", ameir_aggregate_name(a->aggregate), a->positions ? "+pos" : "");
    if (!a->n_interactions)
        appendf(out, cap, &len, " -");
    for (int i = 0; i < a->n_interactions; i++)
        for (int j = 0; j < a->interactions[i].order; j++)
            appendf(out, cap, &len, "%s%s", j ? "*" : " ", a->interactions[i].fields[j]);
    appendf(out, cap, &len, " | mlp");
    if (!a->n_mlp)
        appendf(out, cap, &len, " -");
    for (int i = 0; i < a->n_mlp; i++)
        appendf(out, cap, &len, " %d%s", a->mlp[i].units, ameir_act_name(a->mlp[i].act));
    if (a->shortcut)
        appendf(out, cap, &len, a->shortcut == AMEIR_SHORTCUT_SE ? " +se shortcut" : " +shortcut");
}

int64_t ameir_run_winner_trial(const ameir_controller *ctl) {
    int64_t w = ameir_controller_final_winner(ctl), n = ameir_controller_n_trials(ctl);
    if (w >= 0)
        return w;
    for (int64_t i = 0; i < n; i++)
        if (ameir_controller_trial(ctl, i)->kind == AMEIR_TRIAL_FINAL_WINNER)
            return i;
    return -1;
}

int ameir_run_task(const ameir_controller *ctl) {
    int64_t n = ameir_controller_n_trials(ctl);
    for (int64_t i = 0; i < n; i++) {
        const ameir_trial *t = ameir_controller_trial(ctl, i);
        if (t->status == AMEIR_TRIAL_DONE)
            return t->valid.task;
    }
    return AMEIR_TASK_CTR;
}

static cJSON *arch_cjson(const ameir_arch *arch) {
    char *text = ameir_arch_to_json(arch);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    return o;
}

/* A final trial (winner or baseline) as JSON; with final_seeds > 1 also its contender's
 * mean and sd over the seeds it trained with. */
static cJSON *final_cjson(const ameir_search_config *cfg, const ameir_controller *ctl, const ameir_trial *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (t->kind == AMEIR_TRIAL_FINAL_BASELINE && t->baseline >= 0 && t->baseline < cfg->n_baselines)
        cJSON_AddStringToObject(o, "name", cfg->baseline_names[t->baseline]);
    cJSON_AddNumberToObject(o, "trial", (double)t->id);
    cJSON_AddNumberToObject(o, "seed", (double)t->seed);
    cJSON_AddStringToObject(o, "status", ameir_trial_status_name(t->status));
    cJSON_AddNumberToObject(o, "steps", (double)t->steps);
    ameir_arch a;
    ameir_controller_trial_arch(ctl, t, &a);
    cJSON_AddItemToObject(o, "arch", arch_cjson(&a));
    if (t->status == AMEIR_TRIAL_DONE) {
        cJSON_AddItemToObject(o, "valid", ameir_metrics_to_cjson(&t->valid));
        cJSON_AddItemToObject(o, "test", ameir_metrics_to_cjson(&t->test));
    }
    ameir_contender_stats st;
    if (cfg->final_seeds > 1 && ameir_controller_contender(ctl, t->id, &st) == 0 && st.n > 0) {
        cJSON *m = cJSON_AddObjectToObject(o, "over_seeds");
        cJSON_AddNumberToObject(m, "seeds", st.n);
        cJSON_AddNumberToObject(m, "valid_mean", st.valid_mean);
        cJSON_AddNumberToObject(m, "valid_sd", st.valid_sd);
        cJSON_AddNumberToObject(m, "test_mean", st.test_mean);
        cJSON_AddNumberToObject(m, "test_sd", st.test_sd);
    }
    return o;
}

cJSON *ameir_run_outcome_json(const ameir_search_config *cfg, const ameir_controller *ctl) {
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int64_t w = ameir_run_winner_trial(ctl);
    if (w >= 0) {
        cJSON_AddItemToObject(o, "winner", final_cjson(cfg, ctl, ameir_controller_trial(ctl, w)));
    } else {
        ameir_arch best;
        ameir_controller_best_arch(ctl, &best);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, "arch", arch_cjson(&best));
        cJSON_AddStringToObject(p, "status", "searching");
        cJSON_AddItemToObject(o, "winner", p);
    }
    cJSON *fl = cJSON_AddArrayToObject(o, "finalists");
    cJSON *bl = cJSON_AddArrayToObject(o, "baselines");
    int64_t n = ameir_controller_n_trials(ctl);
    for (int64_t i = 0; i < n; i++) {
        const ameir_trial *t = ameir_controller_trial(ctl, i);
        if (t->kind == AMEIR_TRIAL_FINAL_BASELINE)
            cJSON_AddItemToArray(bl, final_cjson(cfg, ctl, t));
        else if (t->kind == AMEIR_TRIAL_FINAL_WINNER)
            cJSON_AddItemToArray(fl, final_cjson(cfg, ctl, t));
    }
    cJSON *sw = cJSON_AddArrayToObject(o, "stage_winners");
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        int64_t id = ameir_controller_stage_winner(ctl, s);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "stage", ameir_stage_name(s));
        if (id >= 0) {
            cJSON_AddNumberToObject(e, "trial", (double)id);
            cJSON_AddNumberToObject(e, "metric", ameir_controller_trial(ctl, id)->metric);
        } else {
            cJSON_AddNullToObject(e, "trial");
        }
        cJSON_AddItemToArray(sw, e);
    }
    int64_t counts[AMEIR_TRIAL_N_STATUS];
    ameir_controller_counts(ctl, counts);
    cJSON *tc = cJSON_AddObjectToObject(o, "trials");
    cJSON_AddNumberToObject(tc, "total", (double)n);
    for (int s = 0; s < AMEIR_TRIAL_N_STATUS; s++)
        cJSON_AddNumberToObject(tc, ameir_trial_status_name(s), (double)counts[s]);
    return o;
}

static void print_row(FILE *f, const ameir_controller *ctl, const char *name, const ameir_trial *t) {
    ameir_contender_stats st;
    int seeds = ameir_controller_contender(ctl, t->id, &st) == 0 && st.count > 1;
    if (t->status != AMEIR_TRIAL_DONE) {
        fprintf(f, "  %-16s trial %-5lld %s\n", name, (long long)t->id, ameir_trial_status_name(t->status));
    } else if (t->test.task == AMEIR_TASK_SEQ) {
        fprintf(f, "  %-16s trial %-5lld valid ndcg10 %.5f  test ndcg10 %.5f  hr10 %.5f  mrr %.5f\n", name, (long long)t->id,
                t->valid.ndcg10, t->test.ndcg10, t->test.hr10, t->test.mrr);
    } else {
        fprintf(f, "  %-16s trial %-5lld valid auc %.5f  test auc %.5f  logloss %.5f  gauc %.5f\n", name, (long long)t->id,
                t->valid.auc, t->test.auc, t->test.logloss, t->test.gauc);
    }
    if (seeds) /* the selection is on the mean over the seeds */
        fprintf(f, "  %-16s %d of %d seeds done: valid %.5f +- %.5f  test %.5f +- %.5f\n", "", st.n, st.count, st.valid_mean,
                st.valid_sd, st.test_mean, st.test_sd);
}

/* The first training of its contender: the other seeds are summarised on its line. */
static int first_of_contender(const ameir_controller *ctl, int64_t id) {
    ameir_contender_stats st;
    return ameir_controller_contender(ctl, id, &st) == 0 && st.first == id;
}

void ameir_run_print_outcome(FILE *f, const ameir_search_config *cfg, const ameir_controller *ctl) {
    char summary[512];
    int64_t w = ameir_run_winner_trial(ctl);
    if (w < 0) {
        fprintf(f, "the search has not reached its final phase yet\n");
        return;
    }
    const ameir_trial *t = ameir_controller_trial(ctl, w);
    ameir_arch a;
    ameir_controller_trial_arch(ctl, t, &a);
    ameir_arch_summary(&a, summary, sizeof summary);
    fprintf(f, "winner: %s\n", summary);
    if (t->kind == AMEIR_TRIAL_FINAL_BASELINE && t->baseline >= 0 && t->baseline < cfg->n_baselines)
        fprintf(f, "  (the baseline %s: no searched arch beat it on validation)\n", cfg->baseline_names[t->baseline]);
    if (cfg->final_seeds > 1)
        fprintf(f, "  (chosen on the mean validation metric over %d training seeds)\n", cfg->final_seeds);
    print_row(f, ctl, "winner", t);
    int64_t n = ameir_controller_n_trials(ctl);
    for (int64_t i = 0; i < n; i++) { /* the other finalists: the winner is the best of them on validation */
        const ameir_trial *b = ameir_controller_trial(ctl, i);
        if (b->kind == AMEIR_TRIAL_FINAL_WINNER && i != w && first_of_contender(ctl, i))
            print_row(f, ctl, "finalist", b);
    }
    for (int64_t i = 0; i < n; i++) {
        const ameir_trial *b = ameir_controller_trial(ctl, i);
        if (b->kind == AMEIR_TRIAL_FINAL_BASELINE && first_of_contender(ctl, i))
            print_row(f, ctl, b->baseline >= 0 && b->baseline < cfg->n_baselines ? cfg->baseline_names[b->baseline] : "baseline", b);
    }
}

int ameir_run_beside(const char *run_path, const char *name, char *out, size_t cap) {
    const char *slash = strrchr(run_path, '/');
    int w = slash ? snprintf(out, cap, "%.*s/%s", (int)(slash - run_path), run_path, name) : snprintf(out, cap, "%s", name);
    if (w < 0 || (size_t)w >= cap)
        return ameir_fail(AMEIR_EINVAL, "%s: path too long", run_path);
    return 0;
}
