/* The one-shot method's successive elimination (PRODUCT.md section 4, "method": "oneshot"):
 * plain logic, no MPI and no model code.
 *
 * A stage of n candidates shares one supernet (supernet.h). Round g trains the supernet
 * to budget_g steps over the candidates still alive, then scores every one of them on
 * validation with the supernet's weights, without training; the best ceil(k/eta) of the k
 * alive go on. Budgets grow as the train method's rungs do (r, eta r, ... at most R), and
 * the rounds end after the one at R, or when at most one candidate, or fewer than
 * s->standalone_top, would go on. The controller (controller.c) runs these rounds as trials;
 * s->R must be the stage's resolved R (not AMEIR_R_BASELINE). */
#ifndef AMEIR_ONESHOT_H
#define AMEIR_ONESHOT_H

#include <stdint.h>

#include "ameir/search.h"

typedef struct ameir_oneshot_round {
    int64_t budget; /* the supernet's step count at the end of the round's training */
    int alive;      /* candidates trained over and scored in the round */
} ameir_oneshot_round;

/* The rounds of a stage of n candidates under schedule s (n >= 1), at most cap of them.
 * Returns how many were written. */
int ameir_oneshot_plan(const ameir_schedule *s, int n, ameir_oneshot_round *rounds, int cap);

/* Sort the alive candidate indices by score[index], best first: larger scores first, NaN
 * last, ties by lower index (as the train method breaks them by trial id). */
void ameir_oneshot_rank(int *alive, int n_alive, const double *score);

/* How many of k alive go on: ceil(k / eta). */
int ameir_oneshot_keep(int k, int eta);

/* 1 if a round of k alive trained to budget is the stage's last. */
int ameir_oneshot_last(const ameir_schedule *s, int64_t budget, int k);

/* The next round's budget: min(eta * budget, R). */
int64_t ameir_oneshot_next_budget(const ameir_schedule *s, int64_t budget);

#endif
