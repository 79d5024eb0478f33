/* The one-shot method's rounds and ranking (oneshot.h). */
#include "ameir/oneshot.h"

#include <math.h>

int ameir_oneshot_keep(int k, int eta) { return (k + eta - 1) / eta; }

int ameir_oneshot_plan(const ameir_schedule *s, int n, ameir_oneshot_round *rounds, int cap) {
    int g = 0, k = n;
    int64_t budget = s->r;
    while (g < cap) {
        rounds[g].budget = budget;
        rounds[g].alive = k;
        g++;
        int keep = ameir_oneshot_keep(k, s->eta);
        if (budget >= s->R || keep <= 1)
            break;
        k = keep;
        budget = budget > s->R / s->eta ? s->R : budget * s->eta;
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
