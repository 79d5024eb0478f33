/* The one-shot method's rounds and ranking, against hand-computed schedules. */
#include <math.h>

#include "../common/check.h"
#include "ameir/oneshot.h"

int main(void) {
    ameir_oneshot_round r[16];
    /* n 18, eta 3, r 100, R 900: 18 at 100, 6 at 300, 2 at 900 */
    ameir_schedule s = {.n = 18, .eta = 3, .r = 100, .R = 900};
    CHECK_EQ_INT(ameir_oneshot_plan(&s, 18, r, 16), 3);
    CHECK_EQ_INT(r[0].budget, 100);
    CHECK_EQ_INT(r[0].alive, 18);
    CHECK_EQ_INT(r[1].budget, 300);
    CHECK_EQ_INT(r[1].alive, 6);
    CHECK_EQ_INT(r[2].budget, 900);
    CHECK_EQ_INT(r[2].alive, 2);
    /* n 12, eta 2, r 200, R 1600: 12, 6, 3, 2 at 200..1600 */
    ameir_schedule t = {.n = 12, .eta = 2, .r = 200, .R = 1600};
    CHECK_EQ_INT(ameir_oneshot_plan(&t, 12, r, 16), 4);
    CHECK_EQ_INT(r[3].budget, 1600);
    CHECK_EQ_INT(r[3].alive, 2);
    /* R not a power of eta times r: 27 at 100, 9 at 300, 3 at 500 (capped), then R reached */
    ameir_schedule u = {.n = 27, .eta = 3, .r = 100, .R = 500};
    CHECK_EQ_INT(ameir_oneshot_plan(&u, 27, r, 16), 3);
    CHECK_EQ_INT(r[2].budget, 500);
    CHECK_EQ_INT(r[2].alive, 3);
    /* 9 candidates: 9 at 100, 3 at 300, and then only one would go on */
    CHECK_EQ_INT(ameir_oneshot_plan(&u, 9, r, 16), 2);
    CHECK_EQ_INT(r[1].alive, 3);
    /* two candidates, eta 3: one keeps going, so one round only */
    CHECK_EQ_INT(ameir_oneshot_plan(&u, 2, r, 16), 1);
    CHECK_EQ_INT(ameir_oneshot_plan(&u, 9, r, 2), 2); /* cap */
    CHECK_EQ_INT(ameir_oneshot_keep(7, 2), 4);
    /* ranking: larger first, NaN last, ties by lower index */
    double score[6] = {0.7, NAN, 0.9, 0.7, 0.1, 0.9};
    int alive[6] = {5, 4, 3, 2, 1, 0};
    ameir_oneshot_rank(alive, 6, score);
    int want[6] = {2, 5, 0, 3, 4, 1};
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(alive[i], want[i]);
    return check_finish("oneshot");
}
