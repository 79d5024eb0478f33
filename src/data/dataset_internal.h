/* The dataset and split structs shared by dataset.c and loader.c. */
#ifndef AMEIR_DATA_DATASET_INTERNAL_H
#define AMEIR_DATA_DATASET_INTERNAL_H

#include <hdf5.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ameir/dataset.h"

#define AMEIR_DATA_PATH 1024

typedef struct data_shard {
    char file[128]; /* relative to the dataset dir */
    int64_t rows, first;
} data_shard;

struct ameir_dataset {
    char dir[AMEIR_DATA_PATH];
    char name[64];
    ameir_schema schema;
    char *meta_text;
    int64_t rows[3];
    int n_shards[3];
    data_shard *shards[3];
    int32_t *items; /* (n_items, item_width) */
    int64_t n_items;
};

struct ameir_split {
    const ameir_dataset *ds;
    int split;
    int64_t begin, n;
    int32_t *x;    /* (n, x_width) */
    int32_t *hist; /* (n, L) item ids */
    float *label;
    int64_t *user;
    int32_t *cand; /* (n, n_candidates) or NULL */
    void *block;   /* the arrays above, in one block (split_place) */
    int owns;      /* 1: block is ours to free; 0: the caller's (a node-shared window) */
};

/* A split of n rows of split si with its arrays placed in block (split_bytes long, 64-byte
 * aligned); owns: free the block with the split. Returns NULL when out of memory. */
ameir_split *ameir_data_split_place(const ameir_dataset *ds, int si, int64_t begin, int64_t n, void *block, int owns);
size_t ameir_data_split_bytes(const ameir_schema *s, int si, int64_t n);

extern const char *const ameir_data_split_names[3];
int ameir_data_split_index(const char *split);

/* Read rows [b, b+n) of a 1-D (cols = 0) or 2-D (cols > 0) dataset with `rows` rows into dest;
 * names the file and dataset when shapes disagree. */
int ameir_data_read_rows(hid_t file, const char *path, const char *name, hid_t type, int64_t rows, int cols, int64_t b,
                         int64_t n, void *dest);

#endif
