/* The architecture language (PRODUCT.md section 3): arch JSON <-> plain C structs.
 *
 * Parse once with cJSON, copy into ameir_arch, delete the cJSON tree. Field names in
 * interactions are kept as text and resolved against a dataset schema by
 * ameir_arch_check_schema. The canonical JSON (stable key order, every key written)
 * is an architecture's one text form; its hash identifies it. */
#ifndef AMEIR_ARCH_H
#define AMEIR_ARCH_H

#include <stdint.h>

#include "ameir/schema.h"

#define AMEIR_MAX_BLOCKS 8
#define AMEIR_MAX_INTERACTIONS 64
#define AMEIR_MAX_ORDER 4
#define AMEIR_MAX_MLP 8
#define AMEIR_MAX_UNITS 4096 /* widest MLP layer accepted */

enum ameir_op { AMEIR_OP_ZERO = 0, AMEIR_OP_CONV, AMEIR_OP_GRU, AMEIR_OP_AVGPOOL, AMEIR_OP_MAXPOOL, AMEIR_OP_ATTENTION, AMEIR_OP_COUNT };
enum ameir_norm { AMEIR_NORM_NONE = 0, AMEIR_NORM_LAYERNORM, AMEIR_NORM_COUNT };
enum ameir_aggregate { AMEIR_AGG_TARGET_ATTENTION = 0, AMEIR_AGG_MEAN, AMEIR_AGG_LAST, AMEIR_AGG_COUNT };
/* mlp.shortcut: false, true (a linear projection of the MLP input onto the last hidden
 * layer) or "se" (the same projection of the input re-weighted per segment by
 * squeeze-and-excitation) */
enum ameir_shortcut { AMEIR_SHORTCUT_NONE = 0, AMEIR_SHORTCUT_LINEAR, AMEIR_SHORTCUT_SE, AMEIR_SHORTCUT_COUNT };

typedef struct ameir_block {
    int norm;   /* enum ameir_norm */
    int op;     /* enum ameir_op */
    int option; /* kernel for conv (1,3,5,7), heads for attention (1,2,4,8), else 0 */
    int act;    /* enum ameir_act (identity, relu, gelu, swish) */
} ameir_block;

typedef struct ameir_interaction {
    int order; /* 2..4 */
    char fields[AMEIR_MAX_ORDER][AMEIR_FIELD_NAME_MAX];
} ameir_interaction;

/* 1 when a and b hold the same set of fields, in any order (the product commutes). */
int ameir_interaction_same(const ameir_interaction *a, const ameir_interaction *b);

typedef struct ameir_mlp_layer {
    int units;
    int act;
} ameir_mlp_layer;

typedef struct ameir_arch {
    int n_blocks;
    ameir_block blocks[AMEIR_MAX_BLOCKS];
    int aggregate; /* enum ameir_aggregate */
    int positions; /* learned position embeddings added to the history */
    int n_interactions;
    ameir_interaction interactions[AMEIR_MAX_INTERACTIONS];
    int n_mlp;
    ameir_mlp_layer mlp[AMEIR_MAX_MLP];
    int shortcut; /* enum ameir_shortcut */
} ameir_arch;

/* Names of the enum values as written in JSON ("conv", "layernorm", "target_attention");
 * NULL for a value out of range. Static strings. */
const char *ameir_op_name(int op);
const char *ameir_norm_name(int norm);
const char *ameir_aggregate_name(int agg);

/* The empty architecture, i.e. the defaults of every optional key: no blocks, aggregate
 * mean, no positions, no interactions, no hidden MLP layer, no shortcut. */
void ameir_arch_init(ameir_arch *arch);

/* Check the values of an architecture built in C (what ameir_arch_parse checks after
 * the JSON types): counts, ops' options, activations, units, interaction groups of 2..4
 * distinct non-empty names, no group repeated. Returns 0 or AMEIR_ECONFIG with a
 * message "ORIGIN: key.path: got X, expected Y". */
int ameir_arch_validate(const ameir_arch *arch, const char *origin);

/* Parse and validate arch JSON text. origin names the text in messages (a file name).
 * Returns 0, or AMEIR_EJSON ("ORIGIN:LINE:COL: JSON syntax error ...") / AMEIR_ECONFIG
 * with a message naming the key path
 * (e.g. "arch.json: behavior.blocks[1].kernel: got 4, expected one of 1, 3, 5, 7").
 * On failure *arch is left in an unspecified but valid-to-overwrite state. */
int ameir_arch_parse(ameir_arch *arch, const char *text, const char *origin);

/* Read and parse a file. Returns 0, AMEIR_ENOENT, or as ameir_arch_parse. */
int ameir_arch_load(ameir_arch *arch, const char *path);

/* Canonical JSON text (stable key order, compact, no trailing newline); the caller
 * frees it with free(). NULL on out of memory. */
char *ameir_arch_to_json(const ameir_arch *arch);

/* 64-bit hash (ameir_hash_bytes) of the canonical JSON. Aborts on out of memory. */
uint64_t ameir_arch_hash(const ameir_arch *arch);

/* Check interactions against the dataset: names exist among the schema's fields (all of
 * them non-sequential: the history is not a field) and are distinct within a group.
 * Returns 0 or AMEIR_ECONFIG naming the interaction, the field and the fields available. */
int ameir_arch_check_schema(const ameir_arch *arch, const ameir_schema *schema, const char *origin);

/* Equality of two valid architectures (1 if they have the same canonical form, else 0);
 * compares the structs, no allocation. */
int ameir_arch_equal(const ameir_arch *a, const ameir_arch *b);

#endif
