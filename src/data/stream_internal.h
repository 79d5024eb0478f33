/* The streaming prep's state, shared by the passes (stream.c) and the work over ranks
 * (stream_ranks.c). */
#ifndef AMEIR_DATA_STREAM_INTERNAL_H
#define AMEIR_DATA_STREAM_INTERNAL_H

#include <stdio.h>

#include "ameir/dataset.h"
#include "prep_internal.h"

#define STREAM_BATCH 8192
#define SPILL_BUF ((size_t)1 << 20)
#define BLOCK 4096 /* pass 1 takes rows in blocks and each field over a block: its map stays in cache */
#define MAX_VALUES 1024

#define MEMO 1024 /* a derived field's remembered cells (stream.c) */

typedef struct cell_memo {
    uint64_t word; /* a short cell (strmap_key_of) */
    uint32_t len;
    int32_t entry; /* -1: empty */
} cell_memo;

typedef struct svocab {
    vocab_count voc; /* value -> entry, strings, counts */
    cell_memo *memo; /* numeric or date-transformed fields: short cell -> entry */
    int32_t *id;
    int width; /* most values in one row */
    int col, flags[DCFG_MAX_COLS];
} svocab;

typedef struct stream {
    const dcfg *c;
    char paths[DCFG_MAX_FILES][DCFG_PATH];
    char names[DCFG_MAX_COLS][DCFG_NAME];
    int n_names;
    int label_col, user_col, resolved;
    svocab fv[AMEIR_MAX_FIELDS];
    strmap users;
    str_arena arena;
    int8_t *split; /* random split: per row */
    int64_t rows[3], positives[3], n_rows;
    ameir_schema schema;
    const char **vocab[AMEIR_MAX_FIELDS];
    int32_t *items;
    int64_t n_items;
    /* pass 1: a block of rows, cells copied */
    int nblk;
    char *btext;
    size_t bused, bcap;
    size_t *bcell;      /* (BLOCK, n_names) offsets into btext */
    int8_t bsplit[BLOCK];
    float blab[BLOCK];
    int bfile[BLOCK];
    int64_t bline[BLOCK];
    int32_t *bent[AMEIR_MAX_FIELDS]; /* entries of the block's rows, per field */
    int64_t bent_cap[AMEIR_MAX_FIELDS];
    int32_t *boff[AMEIR_MAX_FIELDS]; /* (BLOCK + 1) offsets into bent */
    strmap_key bkey[BLOCK];          /* one field's keys over the block */
    FILE *spill; /* pass 1 -> pass 2: split, label, user, value entries of every row */
    unsigned char *sbuf; /* SPILL_BUF bytes: writes gather here; reads take from [sread, sused) */
    size_t sused, sread;
    int sreading; /* after the first rewind */
    char spill_path[DCFG_PATH * 2 + 16];
    /* pass 2: rows of each split waiting to be written */
    prep_split_writer w[3];
    int32_t *bx[3];
    float *blabel[3];
    int64_t *buser[3];
    int nb[3];
    /* histories or the seq task (stream_seq.c): events sorted by user and time */
    int seq;
    int time_col;
    rawtable joins[DCFG_MAX_JOINS];  /* side tables, held whole */
    strmap join_map[DCFG_MAX_JOINS]; /* key value -> row */
    int join_key[DCFG_MAX_JOINS];    /* the main column matched */
    int64_t *bjrow;                  /* (BLOCK, n_joins): each block row's join rows (-1: none) */
    double btime[BLOCK];
    int64_t done_rows;               /* rows processed by pass 1 so far */
    int64_t file_rows[DCFG_MAX_FILES];
    xsort by_user;                   /* (user, time, row) of every event */
    /* over ranks (stream_ranks.c); alone: one rank, every file whole */
    const ameir_prep_peers *peers; /* NULL alone */
    int rank, size;
    int mine[DCFG_MAX_FILES];                /* this rank reads rows of file i */
    int64_t start[DCFG_MAX_FILES], stop[DCFG_MAX_FILES]; /* its byte slice (stop -1: to the end) */
    int64_t line_base[DCFG_MAX_FILES];       /* lines of file i before the slice */
    int64_t row_base;                        /* rows of the ranks before this one */
    int64_t *user_map;                       /* local user index -> global (NULL: the same) */
    int64_t *split_rows;                     /* (size, 3): rows of each split on each rank */
    int64_t *rank_row0;                      /* (size + 1): the first row of each rank (sorted prep) */
    int users_merged;                        /* the users were merged before the vocabularies */
    int64_t n_users;                         /* all ranks' users, once merged */
    int64_t written[3];                      /* rows of each split appended to the parts */
    FILE *part[3];                           /* encoded rows of each split, for the shard owners */
    char part_path[3][DCFG_PATH * 2 + 32];
    unsigned char *part_buf;                 /* STREAM_BATCH part records */
} stream;

/* A column of the main table (< DCFG_MAX_COLS) or of join j (DCFG_MAX_COLS * (j + 1) + c). */
const char *stream_cell(const stream *st, int r, int col);
/* "file:line" of block row r. */
void stream_where(const stream *st, int r, char *out, size_t n);
/* One spilled row read back: split, label, time (seq), each field's entries, user. */
typedef struct spilled_row {
    int8_t split;
    float label;
    double time;
    int32_t n[AMEIR_MAX_FIELDS];
    int32_t *ent[AMEIR_MAX_FIELDS]; /* into buf */
    int32_t buf[AMEIR_MAX_FIELDS * 1024];
    int64_t user;
} spilled_row;
int stream_read_spilled(stream *st, spilled_row *row);
/* Block row r (with its user uid, if the rows have users) appended to the spill. */
int stream_spill_row(stream *st, int r, int64_t uid);
/* The spill's buffered writes out, and reading from its start. */
int stream_spill_rewind(stream *st);
/* The x ids of a spilled row (x_width ids), and its item's row of the item table if new. */
int stream_row_ids(stream *st, const spilled_row *row, int32_t *x);

/* The id of user u (in order of first appearance), added if new. */
int stream_user_id(stream *st, const char *u, int64_t *id);

/* ---- histories and the seq task (stream_seq.c) ---- */
/* Memory of one external sort's chunk: 128 MB, or AMEIR_PREP_SORT_CHUNK bytes (tests make
 * it small so the merge of many runs is exercised). */
size_t stream_sort_chunk(void);
/* An external sort of that chunk in the output's temporary directory, its runs named after
 * what and this rank. */
int stream_sort_init(const stream *st, xsort *s, size_t rec, xsort_cmp cmp, const prep_dir *d, const char *what);
/* Block row r of pass 1: label and time parsed into the block (seq mode). */
int stream_seq_event(stream *st, int r);
/* After pass 1: splits, counts, ids, the item table and every row written (seq mode), alone
 * or over ranks (then to the parts, for stream_shards_ranks). */
int stream_seq_rows(stream *st, prep_dir *d);
#define FIRST_OF_USER 0x10 /* in split[row]: the user's first event in time order */
/* split[] of this rank's rows: random and files as decided, else 0 (total: rows of all ranks). */
int stream_seq_split_init(stream *st, int64_t total);
/* The leave-one-out split of the i-th of a user's n events in time order. */
int8_t stream_loo_split(int64_t i, int64_t n);
/* Each user's events (keys in time order) from a sort by user, time and row, to fn. */
int stream_each_user(xsort *s, int (*fn)(void *ctx, const prep_event_key *k, int64_t n), void *ctx);
/* Step 2: values counted on the vocabulary rows; rows and positives of each split. */
int stream_seq_count(stream *st, spilled_row *row);
/* Bytes of a record of step 3's sort (key and payload) and of step 4's (row, history). */
size_t stream_ev_size(const stream *st);
size_t stream_hist_size(const stream *st);
int stream_hist_sort_init(const stream *st, const prep_dir *d, xsort *by_row);
/* xsort_add as a sink for route_recv. */
int stream_to_sort(void *ctx, const void *rec);
/* Over ranks (stream_seq_ranks.c): the rank that owns user's events, the rank that read row. */
int stream_owner_of_user(const stream *st, int64_t user);
int stream_rank_of_row(const stream *st, int64_t row);
/* Over ranks: users merged, then every rank's split[] (collective). */
int stream_seq_split_ranks(stream *st, const prep_dir *d);

/* ---- over ranks (stream_ranks.c) ---- */
/* Which files (or byte slices) this rank reads, from the file sizes. */
int stream_slices(stream *st);
/* Pass 0 over the ranks: rows and lines of every slice counted, this rank's row_base and
 * line_base learnt; *total = rows of all ranks. */
int stream_count_ranks(stream *st, int64_t *total);
/* After pass 1: rows, positives and widths summed over ranks; rank 0 checks the splits,
 * merges the vocabularies and users in rank order (= first appearance in the whole input),
 * assigns ids and the schema; every rank gets the ids of its own entries and the schema. */
int stream_merge_ranks(stream *st);
/* After pass 2 wrote the parts: rank 0 merges the item tables in rank order; each shard is
 * written by one rank (round robin) from the parts of the ranks that hold its rows. */
int stream_shards_ranks(stream *st, const prep_dir *d, int rc);
/* Rank 0 merges the users of every rank in rank order (first appearance in the whole
 * input); each rank gets the global id of its own users (user_map) and n_users. */
int stream_merge_users(stream *st);
/* After pass 1 of a sorted prep over ranks: splits, counts, ids, the item table and every
 * row written to the parts (stream_seq_ranks.c). */
int stream_seq_rows_ranks(stream *st, prep_dir *d);
/* Pass 2 over ranks: this rank's encoded rows of split sp, in order, to its part file. */
int stream_part_open(stream *st, const prep_dir *d, int sp);
int stream_part_append(stream *st, int sp, const prep_rows *r, int64_t n);
void stream_parts_close(stream *st);
/* Ids in order of first appearance among values seen min_freq times, the schema and the
 * item table (stream.c). */
int stream_assign_ids(stream *st);
/* The item table of the schema's item vocabulary, empty but the OOV row (stream.c). */
int stream_items_alloc(stream *st);
/* The random split of rows [first, first + n) of total rows (the in-memory prep's shuffle). */
int stream_split_rows(stream *st, int64_t total, int64_t first, int64_t n);
void stream_ranks_free(stream *st);

/* ---- records between ranks through files (stream_route.c) ---- */
typedef struct route {
    char dir[DCFG_PATH * 2], kind[16];
    size_t rec;
    int rank, size;
    FILE **out; /* to each rank */
} route;
/* This rank's files of kind for every rank, records of rec bytes. */
int route_open(route *rt, const stream *st, const char *dir, const char *kind, size_t rec);
int route_put(route *rt, int dst, const void *rec);
/* This rank's files closed: after every rank has sent (prep_agree), each receives. */
int route_send(route *rt);
/* The records for this rank, from rank 0's file to the last's, each to take; files removed. */
int route_recv(route *rt, int (*take)(void *ctx, const void *rec), void *ctx);
/* Rank 0 only, the records for it merged from every rank's file (each in cmp order) into one
 * order; the other ranks remove their (empty) files. */
int route_recv_merged(route *rt, int (*cmp)(const void *a, const void *b), int (*take)(void *ctx, const void *rec),
                      void *ctx);
void route_free(route *rt);
/* A sink that sends each record to the rank that owns its user (a record that begins with the
 * user) or read its row (one that begins with the row). */
typedef struct stream_router {
    const stream *st;
    route rt;
} stream_router;
int stream_route_by_user(void *ctx, const void *rec);
int stream_route_by_row(void *ctx, const void *rec);
/* Over ranks, after the parts are written: split_rows from every rank's written rows. */
int stream_gather_written(stream *st);

#endif
