/* How the free workers are shared out among the tasks that can start now, and which
 * running trial a free worker joins when none can start (cluster.h). Pure bookkeeping:
 * rank 0's dispatch and tests/bench/cluster_sim call the same functions. */
#include "ameir/cluster.h"

#include <stdio.h>

void ameir_group_sizes(int n_tasks, int workers, int max_group, int *sizes) {
    if (n_tasks <= 0)
        return;
    int each = workers / n_tasks, extra = workers % n_tasks;
    if (max_group > AMEIR_GROUP_MAX)
        max_group = AMEIR_GROUP_MAX;
    for (int i = 0; i < n_tasks; i++) {
        int g = each + (i < extra);
        sizes[i] = max_group <= 1 || g < 1 ? 1 : g > max_group ? max_group : g;
    }
}

int ameir_group_join_pick(const ameir_group_run *runs, int n, int max_group) {
    if (max_group > AMEIR_GROUP_MAX)
        max_group = AMEIR_GROUP_MAX;
    int best = -1;
    for (int i = 0; i < n; i++) {
        const ameir_group_run *r = &runs[i];
        if (!r->growable || r->size >= max_group)
            continue;
        if (best < 0)
            best = i;
        const ameir_group_run *b = &runs[best];
        /* the smallest group gains most from one more rank (Amdahl), the longest trial then
         * keeps it longest; the trial id makes the choice the same wherever it is made */
        if (r->size != b->size ? r->size < b->size : r->steps != b->steps ? r->steps > b->steps : r->trial < b->trial)
            best = i;
    }
    return best;
}

const char *ameir_group_ranks_text(const ameir_group *g, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int j = 0; j < g->size; j++) {
        if (n + 16 >= cap) { /* room for one more rank and ",..." */
            snprintf(out + n, cap - n, ",...");
            break;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%d", j ? "," : "", g->ranks[j]);
    }
    return out;
}
