/* Shared by the checkpoint reader (checkpoint.c) and the journal (journal.c): the checks of
 * a trial row against what the search can have written. */
#ifndef AMEIR_CHECKPOINT_PRIV_H
#define AMEIR_CHECKPOINT_PRIV_H

#include <stddef.h>

#include "ameir/search.h"

/* Every invariant of one row of the trial table (docs/checkpoint-format.md, "Validation"):
 * ranges of each column for its stage and kind, status and metric agreeing, steps within
 * the budget, metrics in their ranges. *task is the task of the finished rows seen so far
 * (-1 before the first) and is updated. Returns 0, or -1 with msg naming the row and the
 * column: "trial 12, column steps: got -5, expected 0..200". */
int ameir_trial_row_check(const ameir_search_config *cfg, const ameir_trial *t, int64_t row, int *task, char *msg, size_t cap);

/* A metrics row as stored (task, rows, then the nine metric columns): task 0 or 1 and rows
 * a whole number >= 0, so converting them to integers is defined. 0 or -1 with msg naming
 * the column (table is "valid" or "test"). */
int ameir_metrics_row_check(const double *row, const char *table, int64_t trial, char *msg, size_t cap);

#endif
