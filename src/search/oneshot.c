/* The one-shot method's rounds and ranking (oneshot.h). */
#include "ameir/oneshot.h"

#include <math.h>

int ameir_oneshot_keep(int k, int eta) { return (k + eta - 1) / eta; }

int ameir_oneshot_last(const ameir_schedule *s, int64_t budget, int k) {
    int keep = ameir_oneshot_keep(k, s->eta);
    return budget >= s->R || keep <= 1 || keep < s->standalone_top;
}

int64_t ameir_oneshot_next_budget(const ameir_schedule *s, int64_t budget) {
    return budget > s->R / s->eta ? s->R : budget * s->eta;
}

int ameir_oneshot_plan(const ameir_schedule *s, int n, ameir_oneshot_round *rounds, int cap) {
    int g = 0, k = n;
    int64_t budget = s->r;
    while (g < cap) {
        rounds[g].budget = budget;
        rounds[g].alive = k;
        g++;
        if (ameir_oneshot_last(s, budget, k))
            break;
        k = ameir_oneshot_keep(k, s->eta);
        budget = ameir_oneshot_next_budget(s, budget);
    }
    return g;
}

/* a before b in the ranking */
static int better(const double *score, int a, int b) {
    double x = score[a], y = score[b];
    if (isnan(x) != isnan(y))
        return !isnan(x);
    if (!isnan(x) && x != y)
        return x > y;
    return a < b;
}

void ameir_oneshot_rank(int *alive, int n_alive, const double *score) {
    /* insertion sort: a stage holds tens to hundreds of candidates */
    for (int i = 1; i < n_alive; i++) {
        int v = alive[i], j = i - 1;
        while (j >= 0 && better(score, v, alive[j])) {
            alive[j + 1] = alive[j];
            j--;
        }
        alive[j + 1] = v;
    }
}
