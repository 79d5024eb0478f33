/* What `ameir search` prints at the end and `ameir report` shows: the winner, the
 * baselines, trial counts, short architecture summaries, and the best_* files. */
#ifndef AMEIR_CLI_RUN_SUMMARY_H
#define AMEIR_CLI_RUN_SUMMARY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "ameir/search.h"

/* A one-line summary of an architecture, e.g.
 * "blocks ln.attention2.gelu conv3.relu > target_attention | inter age*category | mlp 256relu 128swish". */
void ameir_arch_summary(const ameir_arch *arch, char *out, size_t cap);

/* The final trial of the winner (kind FINAL_WINNER), -1 if none. */
int64_t ameir_run_winner_trial(const ameir_controller *ctl);

/* JSON of the outcome: {"winner": {trial, status, arch, valid, test}, "baselines": [...],
 * "stage_winners": [...], "trials": {total, done, diverged, timeout, pending, running}}.
 * Caller owns it (cJSON_Delete). NULL on out of memory. */
cJSON *ameir_run_outcome_json(const ameir_search_config *cfg, const ameir_controller *ctl);

/* Print the winner against the baselines (valid and test metrics) as a text table. */
void ameir_run_print_outcome(FILE *f, const ameir_search_config *cfg, const ameir_controller *ctl);

/* Paths beside the checkpoint: DIR(run_path)/name. 0 or AMEIR_EINVAL (too long). */
int ameir_run_beside(const char *run_path, const char *name, char *out, size_t cap);

/* The task of the search's data, read off its finished trials (AMEIR_TASK_CTR if none). */
int ameir_run_task(const ameir_controller *ctl);

#endif
