/* Named tensors in one block (llm.c's parameter table).
 *
 * Parameters, gradients and Adam's two moments each live in one allocation; a table of
 * {name, shape, offset} entries describes all four alike. Zeroing gradients is one memset,
 * Adam is one walk over the table, saving a model writes each entry as an HDF5 dataset
 * named by the entry's name (e.g. "emb/item", "block0/attention/in_proj_weight"). */
#ifndef AMEIR_PARAMS_H
#define AMEIR_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define AMEIR_TENSOR_NAME_MAX 96
#define AMEIR_TENSOR_MAX_DIMS 4

enum ameir_tensor_flags {
    AMEIR_TENSOR_DENSE = 0,
    /* an embedding table: rows (shape[0]) are updated lazily, only those a batch touches */
    AMEIR_TENSOR_ROWS = 1,
};

typedef struct ameir_tensor {
    char name[AMEIR_TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[AMEIR_TENSOR_MAX_DIMS];
    size_t offset; /* in floats from the start of the block */
    size_t size;   /* number of floats */
    int flags;
} ameir_tensor;

typedef struct ameir_params {
    ameir_tensor *tensors;
    int n, cap;
    size_t total; /* floats in each block */
    float *data, *grad, *m, *v;
    int64_t step; /* Adam steps taken */
} ameir_params;

/* Start an empty table (storage owned by p; release with ameir_params_destroy). */
void ameir_params_init(ameir_params *p);
void ameir_params_destroy(ameir_params *p);

/* Add a tensor before ameir_params_alloc; returns its index (>= 0) or a negative error.
 * Offsets are aligned to 16 floats. */
int ameir_params_add(ameir_params *p, const char *name, int ndim, const int64_t *shape, int flags);

/* Allocate the four blocks (zeroed). Returns 0 or AMEIR_ENOMEM. */
int ameir_params_alloc(ameir_params *p);

/* Index of the tensor with that name, or -1. */
int ameir_params_find(const ameir_params *p, const char *name);

static inline float *ameir_params_data(ameir_params *p, int i) { return p->data + p->tensors[i].offset; }
static inline float *ameir_params_grad(ameir_params *p, int i) { return p->grad + p->tensors[i].offset; }

/* Zero all gradients. */
void ameir_params_zero_grad(ameir_params *p);

#endif
