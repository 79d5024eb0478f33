/* A prepared dataset directory (written by `ameir prep`) and the batch loader.
 *
 * ameir_dataset holds the metadata (schema, vocabularies, row counts, item table).
 * ameir_split holds the rows of one split that a rank was given, read from the HDF5
 * shards without reading the others. Batches are filled into a caller-owned ameir_batch. */
#ifndef AMEIR_DATASET_H
#define AMEIR_DATASET_H

#include <stdint.h>

#include "ameir/rng.h"
#include "ameir/schema.h"

#define AMEIR_DATA_SCHEMA_VERSION 1

typedef struct ameir_dataset ameir_dataset;
typedef struct ameir_split ameir_split;

/* Open DIR (reads DIR/meta.json and the item table). Errors: AMEIR_ENOENT (names the file),
 * AMEIR_ESCHEMA (written by another schema version), AMEIR_EDATA. Owned by the caller;
 * release with ameir_dataset_free (NULL is fine). */
int ameir_dataset_open(ameir_dataset **out, const char *dir);
void ameir_dataset_free(ameir_dataset *ds);

const ameir_schema *ameir_dataset_schema(const ameir_dataset *ds);
const char *ameir_dataset_dir(const ameir_dataset *ds);
const char *ameir_dataset_name(const ameir_dataset *ds);
/* The canonical JSON text of meta.json (for embedding in model files), owned by ds. */
const char *ameir_dataset_meta_json(const ameir_dataset *ds);
/* Rows in a split ("train", "valid", "test"); -1 if the split does not exist. */
int64_t ameir_dataset_rows(const ameir_dataset *ds, const char *split);

/* Load rows [begin, end) of a split (end < 0: to the end). Errors name the split/file. */
int ameir_split_load(ameir_split **out, const ameir_dataset *ds, const char *split, int64_t begin, int64_t end);
void ameir_split_free(ameir_split *sp);
/* What ameir_split_load would allocate for rows [begin, end) of a split, in bytes. */
int ameir_split_bytes(const ameir_dataset *ds, const char *split, int64_t begin, int64_t end, size_t *bytes);
/* ameir_split_load with the rows in the caller's block mem (at least ameir_split_bytes long,
 * 64-byte aligned, outliving the split; NULL = allocate as ameir_split_load does). read = 1
 * reads the shards into it; read = 0 only points the split at it, for a process whose mem is
 * shared with one that read (one copy of the data per node). */
int ameir_split_load_at(ameir_split **out, const ameir_dataset *ds, const char *split, int64_t begin, int64_t end,
                        void *mem, size_t bytes, int read);
/* A new split holding rows[0..n) of sp (indices into sp, in that order), e.g. a fixed
 * subsample of validation. Owned by the caller. Errors: AMEIR_EINVAL (row out of range), AMEIR_ENOMEM. */
int ameir_split_subset(ameir_split **out, const ameir_split *sp, const int64_t *rows, int64_t n);
int64_t ameir_split_rows(const ameir_split *sp);

/* Fill b with the given rows (indices into the loaded split), n <= b->cap. For ctr data
 * these are the rows as stored; for seq data each row gives its positive (label 1). */
void ameir_split_fill(const ameir_split *sp, const int64_t *rows, int n, ameir_batch *b);

/* seq task, training: for each of the n rows, its positive and n_neg sampled negatives
 * (label 0; items drawn uniformly from the item vocabulary, not the target and not in the
 * row's history), so b->n = n * (1 + n_neg) <= b->cap. */
void ameir_split_fill_seq_train(const ameir_split *sp, const int64_t *rows, int n, int n_neg, ameir_rng *rng, ameir_batch *b);

/* seq task, evaluation: the schema's n_candidates rows of one split row (true item
 * first, then the negatives fixed at prep time), all with the row's history. */
void ameir_split_fill_candidates(const ameir_split *sp, int64_t row, ameir_batch *b);
/* The same with the history written to the first row only (the other rows' hist is left as
 * it was): what ameir_net_predict_candidates reads, without 99 copies of the history. */
void ameir_split_fill_candidates_once(const ameir_split *sp, int64_t row, ameir_batch *b);

/* A seed-determined order of the loaded rows for an epoch: a permutation of 0..rows-1
 * written to order (rows entries), from stream (seed, epoch). */
void ameir_split_epoch_order(const ameir_split *sp, uint64_t seed, int64_t epoch, int64_t *order);

/* The item table (n_items rows of item_width ids; row 0 padding), owned by ds; NULL if the
 * dataset has no item field. */
const int32_t *ameir_dataset_items(const ameir_dataset *ds, int64_t *n_items);

/* Stored ids of one loaded row, owned by sp: its L history item ids (NULL if no sequence) and,
 * for seq valid/test, its n_candidates candidate items (true item first; else NULL). */
const int32_t *ameir_split_hist_ids(const ameir_split *sp, int64_t row);
const int32_t *ameir_split_candidates(const ameir_split *sp, int64_t row);

/* `ameir prep`: read the dataset config at config_path and the raw files under source_dir
 * (unused for a generated dataset, may be NULL), write the prepared dataset to out_dir.
 * shards > 0 and seed >= 0 override the config's. Errors: AMEIR_ECONFIG / AMEIR_EJSON
 * (file and key path), AMEIR_ENOENT (missing file), AMEIR_EDATA (file:line), AMEIR_EEXIST
 * (out_dir holds another dataset), AMEIR_EHDF5 / AMEIR_EIO. */
int ameir_prep(const char *config_path, const char *source_dir, const char *out_dir, int shards, int64_t seed);

/* The ranks of a parallel prep, as calls every rank makes in the same order (src/cluster/
 * prep_peers.c gives them over MPI; the data layer knows no MPI). Each returns 0 or a
 * negative code with a message. */
typedef struct ameir_prep_peers {
    int rank, size;
    void *ctx;
    /* all[r * n + i] = rank r's mine[i] */
    int (*allgather_i64)(void *ctx, const int64_t *mine, int n, int64_t *all);
    /* rank 0 gets every rank's n bytes in rank order: *all (malloc'd) and sizes[r] */
    int (*gather)(void *ctx, const void *mine, size_t n, void **all, size_t *sizes);
    /* rank 0 sends part[r] (sizes[r] bytes) to rank r; each rank gets its part in *mine (malloc'd) */
    int (*scatter)(void *ctx, void *const *part, const size_t *sizes, void **mine, size_t *n);
    /* rank 0's n bytes at buf, to buf on every rank */
    int (*bcast)(void *ctx, void *buf, size_t n);
} ameir_prep_peers;

/* ameir_prep over the ranks of peers (NULL: this process alone). Every rank calls it. A flat
 * ctr config (the streaming prep) is split over the ranks by byte ranges of the raw files
 * (whole files when gzip or quoted); the others run on rank 0. The output is byte-identical
 * for any number of ranks. On failure the rank that failed returns its error with a message;
 * the others return the same code with no message (ameir_last_error() is ""). */
int ameir_prep_ranks(const char *config_path, const char *source_dir, const char *out_dir, int shards, int64_t seed,
                     const ameir_prep_peers *peers);

#endif
