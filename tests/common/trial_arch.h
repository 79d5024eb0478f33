/* A trial's full architecture for a test's checks (the trial table keeps archs packed). */
#ifndef AMEIR_TEST_TRIAL_ARCH_H
#define AMEIR_TEST_TRIAL_ARCH_H

#include "ameir/search.h"

/* Valid until the eighth call after: enough for the expressions of one check. */
static inline const ameir_arch *test_trial_arch(const ameir_controller *ctl, const ameir_trial *t) {
    static ameir_arch buf[8];
    static int k;
    ameir_arch *a = &buf[k++ & 7];
    ameir_controller_trial_arch(ctl, t, a);
    return a;
}

#endif
