/* A ctr schema of single-valued fields with the given names (vocab 10, one column each;
 * the second field is the item), for tests of the search that need no data. */
#ifndef AMEIR_TESTS_CTR_SCHEMA_H
#define AMEIR_TESTS_CTR_SCHEMA_H

#include <stdio.h>
#include <string.h>

#include "ameir/schema.h"

static inline ameir_schema test_ctr_schema(const char *const *names, int n) {
    ameir_schema s;
    memset(&s, 0, sizeof s);
    s.task = AMEIR_TASK_CTR;
    s.n_fields = n;
    for (int f = 0; f < n; f++) {
        snprintf(s.fields[f].name, AMEIR_FIELD_NAME_MAX, "%s", names[f]);
        s.fields[f].vocab = 10, s.fields[f].width = 1, s.fields[f].offset = f;
    }
    s.x_width = n;
    s.item_field = 1;
    return s;
}

#endif
