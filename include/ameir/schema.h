/* What the network needs to know about a dataset, and one batch of rows.
 *
 * Every field is categorical after prep (numeric fields are log-binned). A row holds all
 * non-sequential fields side by side in x: field f occupies x[offset_f .. offset_f+width_f),
 * width 1 for a single-valued field, the maximum count for a multi-valued one (padded with
 * id 0). Fields marked is_item describe the item (the target item and every history
 * position): a history position is the row of the item table for its item id, i.e. the
 * item-side field values side by side (width item_width). Ids: 0 padding, 1 out of
 * vocabulary, 2.. the values seen. */
#ifndef AMEIR_SCHEMA_H
#define AMEIR_SCHEMA_H

#include <stdint.h>

#define AMEIR_MAX_FIELDS 64
#define AMEIR_FIELD_NAME_MAX 64

enum ameir_task { AMEIR_TASK_CTR = 0, AMEIR_TASK_SEQ = 1 };

typedef struct ameir_field {
    char name[AMEIR_FIELD_NAME_MAX];
    int vocab;       /* ids 0..vocab-1 */
    int width;       /* 1 = single-valued, > 1 = multi-valued (mean pooled) */
    int offset;      /* column of its first id in x */
    int is_item;     /* part of the item description (target and history positions) */
    int item_offset; /* column of its first id in a history position (if is_item) */
} ameir_field;

typedef struct ameir_schema {
    int task; /* enum ameir_task */
    int n_fields;
    ameir_field fields[AMEIR_MAX_FIELDS];
    int x_width;    /* sum of widths */
    int item_field; /* index of the item id field (the key of history positions), -1 if none */
    int item_width; /* sum of widths of the is_item fields */
    int seq_len;    /* L, 0 = no behaviour sequence */
    int n_candidates; /* seq task: 1 true + negatives ranked in valid/test (100) */
} ameir_schema;

/* Index of the field with that name, or -1. */
int ameir_schema_find(const ameir_schema *s, const char *name);

/* One batch, arrays ready for the network. Allocated once for a capacity and reused. */
typedef struct ameir_batch {
    int n;          /* rows in use */
    int cap;        /* capacity in rows */
    int32_t *x;     /* (cap, x_width) */
    int32_t *hist;  /* (cap, L, item_width); position L-1 is the most recent event, padding first */
    float *label;   /* (cap) 0 or 1 */
    int64_t *user;  /* (cap) user key for gAUC and per-user ranking, -1 if none */
    int64_t *row;   /* (cap) row id within its split */
} ameir_batch;

/* Allocate arrays for cap rows of schema s. Returns 0 or AMEIR_ENOMEM. */
int ameir_batch_init(ameir_batch *b, const ameir_schema *s, int cap);
void ameir_batch_destroy(ameir_batch *b);

#endif
