#include "ameir/schema.h"

#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"

int ameir_schema_find(const ameir_schema *s, const char *name) {
    for (int i = 0; i < s->n_fields; i++)
        if (!strcmp(s->fields[i].name, name))
            return i;
    return -1;
}

int ameir_batch_init(ameir_batch *b, const ameir_schema *s, int cap) {
    memset(b, 0, sizeof *b);
    if (cap <= 0)
        return ameir_fail(AMEIR_EINVAL, "batch capacity %d (expected > 0)", cap);
    size_t c = (size_t)cap;
    size_t hist = (size_t)s->seq_len * (size_t)s->item_width;
    b->cap = cap;
    b->x = calloc(c * (size_t)(s->x_width ? s->x_width : 1), sizeof *b->x);
    b->hist = calloc(c * (hist ? hist : 1), sizeof *b->hist);
    b->label = calloc(c, sizeof *b->label);
    b->user = calloc(c, sizeof *b->user);
    b->row = calloc(c, sizeof *b->row);
    if (!b->x || !b->hist || !b->label || !b->user || !b->row) {
        ameir_batch_destroy(b);
        return ameir_fail(AMEIR_ENOMEM, "out of memory for a batch of %d rows", cap);
    }
    return 0;
}

void ameir_batch_destroy(ameir_batch *b) {
    if (!b)
        return;
    free(b->x);
    free(b->hist);
    free(b->label);
    free(b->user);
    free(b->row);
    memset(b, 0, sizeof *b);
}
