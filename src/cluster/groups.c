/* How the free workers are shared out among the tasks that can start now (cluster.h). */
#include "ameir/cluster.h"

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
