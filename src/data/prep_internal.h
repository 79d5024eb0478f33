/* Internals of `ameir prep`: the parsed dataset config, raw tables, the encoded result.
 *
 * Flow: dconfig_load (config JSON -> dcfg), then one of
 *  - flat ctr tables: prep_stream (stream.c: two passes of row_reader over the files, memory
 *    bounded by the vocabularies, rows written through prep_split_writer as they come; over
 *    ranks, stream_ranks.c);
 *  - histories and the seq task from delimited or libfm files: prep_stream too, with
 *    external sorts by user and time (stream_seq.c, xsort.c);
 *  - the rest: rawtable_read (files -> string cells) -> prep_encode (cells -> ids, labels,
 *    splits, histories) or synth_generate (no source) -> prep_write.
 * Both read files with records.c (gzip, RFC 4180), turn cells into values and labels with
 * values.c, and write with writer.c (HDF5 shards, item table, vocabularies, meta.json into
 * OUT.tmp-PID, renamed at the end). */
#ifndef AMEIR_DATA_PREP_INTERNAL_H
#define AMEIR_DATA_PREP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <hdf5.h>
#include <zlib.h>

#include "ameir/dataset.h"
#include "ameir/schema.h"

#define DCFG_NAME 64
#define DCFG_PATH 512
#define DCFG_MAX_COLS 128
#define DCFG_MAX_FILES 8
#define DCFG_MAX_JOINS 4
#define DCFG_MAX_EDGES 32
#define DCFG_MAX_MAP 32

/* largest magnitude of a label threshold or a numeric raw label (integers stay exact) */
#define PREP_LABEL_MAX 9007199254740992.0

/* separator of the values of a list cell (json_map values) */
#define PREP_LIST_SEP '\x1f'

enum { DSRC_DELIMITED, DSRC_LIBFM, DSRC_SEQUENCE, DSRC_JSON_MAP };
enum { DF_CATEGORICAL, DF_MULTI, DF_NUMERIC };
enum { DBIN_NONE, DBIN_LOG, DBIN_EDGES };
enum { DSPLIT_RANDOM, DSPLIT_TIME, DSPLIT_LOO, DSPLIT_FILES };
enum { DLABEL_IMPLICIT, DLABEL_CMP, DLABEL_MAP };
enum { DCMP_GE, DCMP_GT, DCMP_LE, DCMP_LT, DCMP_EQ, DCMP_NE };

typedef struct dcfg_file {
    char path[DCFG_PATH]; /* relative to --source */
    int split;            /* -1 pooled, else 0 train, 1 valid, 2 test */
    int header;           /* first line holds column names */
} dcfg_file;

typedef struct dcfg_source {
    int format;
    int n_files;
    dcfg_file files[DCFG_MAX_FILES];
    char sep;
    int quote; /* delimited: RFC 4180 quoted cells */
    int latin1;
    int n_columns; /* 0 = from the header line */
    char columns[DCFG_MAX_COLS][DCFG_NAME];
    char key[DCFG_NAME];      /* joins: the column matched against the main table */
    char position[DCFG_NAME]; /* sequence: name of the position column */
    char value[DCFG_NAME];    /* json_map: name of the list column */
} dcfg_source;

typedef struct dcfg_field {
    char name[DCFG_NAME];
    int kind;
    char column[DCFG_NAME];
    int n_flags; /* multi from 0/1 flag columns: each set flag adds its column name */
    char flags[DCFG_MAX_COLS][DCFG_NAME];
    char split;    /* multi from one column: separator (0 = a list cell) */
    int max_width; /* multi: at most this many values (0 = the most seen) */
    int binning;
    int n_edges;
    double edges[DCFG_MAX_EDGES];
    char parse[32], format[32]; /* strptime / strftime transform of the value */
    int is_item;
} dcfg_field;

typedef struct dcfg_synth {
    int64_t rows[3];
    int users, items, categories, seq_len, recent;
    double noise;
} dcfg_synth;

typedef struct dcfg {
    char path[DCFG_PATH];
    char name[DCFG_NAME];
    int task;
    uint64_t seed;
    int shards;
    int min_freq;
    int vocab_all;
    int has_source;
    dcfg_source main;
    int n_joins;
    dcfg_source joins[DCFG_MAX_JOINS];
    int label_kind;
    char label_column[DCFG_NAME];
    int label_op;
    double label_value;
    int n_map;
    char map_keys[DCFG_MAX_MAP][DCFG_NAME];
    float map_values[DCFG_MAX_MAP];
    int map_open; /* "in": values outside the set are 0 instead of an error */
    char user_column[DCFG_NAME];
    int n_fields;
    dcfg_field fields[AMEIR_MAX_FIELDS];
    char item_field[DCFG_NAME];
    char time_column[DCFG_NAME];
    int seq_len;
    int split;
    double fractions[3];
    int negatives;
    int is_synthetic;
    dcfg_synth synth;
    cJSON *json; /* the config as read, embedded in meta.json (owned) */
} dcfg;

/* Parse and validate a dataset config. Errors: AMEIR_ENOENT, AMEIR_EJSON (file:line),
 * AMEIR_ECONFIG (file and key path). The caller owns *out; free with dconfig_free. */
int dconfig_load(dcfg **out, const char *path);
void dconfig_free(dcfg *c);
const char *dconfig_split_name(int split);

/* Strings that live as long as the arena. */
typedef struct str_arena {
    char **blocks;
    size_t n_blocks, cap_blocks, used, size;
} str_arena;
char *arena_strdup(str_arena *a, const char *s, size_t n);
void arena_free(str_arena *a);

/* Open-addressing map from string to a non-negative int32. A key of at most 8 bytes is held
 * in its slot (compared as one word: reading a string elsewhere was a cache miss a lookup in
 * a large vocabulary); a longer key is not copied and must outlive the map. */
typedef struct strmap_slot {
    union {
        const char *key; /* a key longer than 8 bytes */
        uint64_t word;   /* a shorter one, zero-padded (strmap_key_of) */
    };
    uint32_t tag; /* 0: empty; else the hash's high 28 bits and the key's form (low 4 bits:
                   * length + 1 when held here, 15 when not), so most other keys are passed
                   * by without reading anything else */
    int32_t val;
} strmap_slot;
typedef struct strmap {
    strmap_slot *slots; /* key and value side by side: one cache line per probe */
    size_t cap, n;
} strmap;
/* A key ready for lookups: its hash, its first 8 bytes as a word, its length. */
typedef struct strmap_key {
    const char *s;
    uint64_t h, word;
    size_t len;
} strmap_key;
void strmap_key_of(strmap_key *k, const char *s);
/* The same, faster, for a string followed by at least 7 readable bytes after its NUL. */
void strmap_key_of_padded(strmap_key *k, const char *s);
/* The key of an occupied slot as a string (in buf when the slot holds it). */
const char *strmap_slot_key(const strmap_slot *sl, char buf[9]);
int strmap_init(strmap *m, size_t expect);
void strmap_destroy(strmap *m);

/* A vocabulary being counted: value string -> entry (in order of first appearance), the
 * entry's string (in an arena) and the rows that counted it. The in-memory prep (encode.c)
 * and the streaming prep (stream.c) both grow theirs through vocab_intern. */
typedef struct vocab_count {
    strmap map;
    const char **str;
    int64_t *count;
    int64_t n, cap;
} vocab_count;
/* The entry of s in *entry, added (string copied into a, count 0) if new; its count goes up
 * by counted. AMEIR_ENOMEM on failure. */
int vocab_intern(vocab_count *v, str_arena *a, const char *s, int counted, int32_t *entry);
int vocab_intern_k(vocab_count *v, str_arena *a, const strmap_key *k, int counted, int32_t *entry);
void vocab_prefetch(const vocab_count *v, const strmap_key *k, int stage);
void vocab_count_free(vocab_count *v);
/* Ids in order of first appearance among the values counted at least min_freq times (and at
 * least once), from 2 on; the others get 1 (OOV), 0 is padding. *id (v->n entries) and *vocab
 * (id -> string, "<pad>" and "<oov>" first) are malloc'd for the caller; the strings are
 * copied into copy_to, or shared with v's when it is NULL. *n_ids = ids in use. */
int vocab_assign_ids(const vocab_count *v, int64_t min_freq, str_arena *copy_to, int32_t **id, const char ***vocab,
                     int32_t *n_ids);
/* Pointer to the value of key, or NULL. */
int32_t *strmap_get(const strmap *m, const char *key);
/* The same with the key prepared beforehand (strmap_key_of), so a caller can prefetch the slot
 * (stage 0) and, a little later, what the slot points to (stage 1: the key if it is not in
 * the slot, and for a vocabulary the count of its entry) of lookups to come: the maps of
 * large vocabularies do not fit the caches. */
int32_t *strmap_get_k(const strmap *m, const strmap_key *k);
int32_t *strmap_put_k(strmap *m, const strmap_key *k, int64_t val, int *added);
/* Insert key with val (0 <= val < 2^31) unless present; returns a pointer to its value
 * (NULL: out of memory, or val out of range). *added says whether it was new. */
int32_t *strmap_put(strmap *m, const char *key, int64_t val, int *added);

/* A raw file read record by record: plain or gzip, lines or RFC 4180 records. */
typedef struct rec_reader {
    char path[DCFG_PATH];
    gzFile gz;
    char *buf; /* bytes [pos, len) not yet returned */
    size_t cap, len, pos, scan;
    int eof;
    char sep;
    int quote, latin1;
    int64_t line;       /* physical lines consumed */
    int64_t first_line; /* 1-based line where the last record started */
    char *conv;         /* latin-1 -> UTF-8 copy of the last record */
    size_t conv_cap;
    int64_t base; /* file offset of buf[0] */
    int64_t stop; /* records beginning at or after this offset are not returned (-1: none) */
} rec_reader;
int rec_open(rec_reader *r, const char *path, char sep, int quote, int latin1);
/* A slice of a plain, unquoted file: the records that begin in [start, stop) (stop -1: to the
 * end). The record under start belongs to the previous slice and is skipped; the caller sets
 * r->line to the lines before the slice. */
int rec_open_at(rec_reader *r, const char *path, char sep, int latin1, int64_t start, int64_t stop);
/* Next record (a line, or with quote a whole RFC 4180 record) as a NUL-terminated string that
 * lives until the next call; '\r\n' ends count as '\n'. 1 = a record, 0 = end, < 0 = error. */
int rec_next_line(rec_reader *r, char **text, size_t *n);
/* Split a record at the separator in place (quotes removed if quote is on); returns the number
 * of cells (tok gets the first max) or < 0 for a malformed quoted cell (file and line named). */
int rec_split(rec_reader *r, char *s, char **tok, int max);
/* A line of the sequence format, "key item item ..." (s, cut in place at the separators):
 * fn(ctx, key, item, position) for each item in order; errors name path and line. */
int rec_sequence_each(const char *path, int64_t line, char sep, char *s,
                      int (*fn)(void *ctx, const char *key, const char *item, int64_t pos), void *ctx);
/* The rows a record of a source gives: 0 for a blank line or a header, 1, or (sequence
 * format) its items, counted up to a bad one (pass 1 reports it); s may be cut in place. */
int prep_rows_of_line(const dcfg_source *src, int fi, const char *path, int64_t line, char *s, int64_t *rows);
void rec_close(rec_reader *r);

/* The data rows of one source file: header checked, cells split, libfm's index:value cut
 * to the index; sequence lines come whole in tok[0]. Column names are set from the config
 * or the first header (names, *n_names shared by all files of the source). */
typedef struct row_reader {
    rec_reader rec;
    const dcfg_source *src;
    int fi, n;
    char (*names)[DCFG_NAME];
    int *n_names;
    char *tok[DCFG_MAX_COLS + 1];
    int64_t line; /* line of the current row */
} row_reader;
int row_open(row_reader *rr, const dcfg_source *src, int fi, const char *path, char (*names)[DCFG_NAME],
             int *n_names);
/* The rows of a slice of the file (rec_open_at), numbered from line_base + 1. */
int row_open_at(row_reader *rr, const dcfg_source *src, int fi, const char *path, char (*names)[DCFG_NAME],
                int *n_names, int64_t start, int64_t stop, int64_t line_base);
/* 1 = a row in tok[0..n), 0 = end of the file, < 0 = error naming file and line. */
int row_next(row_reader *rr);
void row_close(row_reader *rr);

/* The raw cells a value or label comes from, and how to name their file and line on error
 * (which: -1 the column, i the flag column i). */
typedef struct prep_cells {
    const char *cell;
    const char *const *flags;
    void (*where)(const void *ctx, int which, char *out, size_t n);
    const void *ctx;
} prep_cells;
/* The label of a row under the config's rule (cell = the label column). */
int prep_label(const dcfg *c, const prep_cells *pc, float *out);
/* The value strings of field f (pointers into buf or the cells); *n_out values. */
int prep_field_values(const dcfg_field *f, const prep_cells *pc, const char **vals, int max, char *buf, size_t nbuf,
                      int *n_out);

/* The schema's header from the config (task, field count, sequence length, candidates), with
 * no field placed yet; then prep_schema_place_field for each field in order. */
void prep_schema_begin(ameir_schema *s, const dcfg *c);
/* Field fi once its values are known: name, width (widest = the most values a row has,
 * capped at max_width; 1 unless multi-valued), offsets in x and in the item table, and
 * item_field when it is the config's item field. The caller sets vocab. */
void prep_schema_place_field(ameir_schema *s, const dcfg *c, int fi, int widest);

/* External sort of fixed-size records (xsort.c): xsort_add each record, xsort_done, then
 * xsort_next in order until it returns 0. Runs go to unlinked files in dir. */
typedef int (*xsort_cmp)(const void *a, const void *b);
typedef struct xsort {
    size_t rec, cap, n, pos; /* record size, records per chunk, in the chunk, read from it */
    unsigned char *buf;      /* the chunk */
    xsort_cmp cmp;
    char dir[DCFG_PATH * 2], name[32];
    int n_runs;
    FILE **runs;
    char **run_bufs;
    unsigned char *heads; /* the merge: each run's next record */
    int *heap, heap_n;
    int64_t total;
} xsort;
int xsort_init(xsort *s, size_t rec, xsort_cmp cmp, size_t chunk_bytes, const char *dir, const char *name);
int xsort_add(xsort *s, const void *rec);
int xsort_done(xsort *s);
/* 1 = the next record in rec, 0 = the end, < 0 = error. */
int xsort_next(xsort *s, void *rec);
void xsort_free(xsort *s);

/* An event in the sorts by user and time: user, then time, then row (file order). */
typedef struct prep_event_key {
    int64_t user;
    double time;
    int64_t row;
} prep_event_key;
/* qsort orders of prep_event_key: (user, time, row), and (time, row) */
int prep_cmp_user_time(const void *a, const void *b);
int prep_cmp_time_row(const void *a, const void *b);
/* qsort/bsearch order of int32 ids */
int prep_cmp_i32(const void *a, const void *b);
/* 99 items (n_candidates - 1) the user never touched, drawn from ids 2..n_items-1 by (seed,
 * split, user); cand[0] = target. touched: the user's item ids, sorted. */
int prep_sample_candidates(const dcfg *c, int64_t n_items, int n_candidates, int64_t user, int split,
                           const int32_t *touched, int64_t nt, int32_t target, int32_t *cand);

/* Streaming prep (stream.c): flat ctr tables, memory bounded by the vocabularies. */
int prep_can_stream(const dcfg *c);
/* Behaviour histories or the seq task from a delimited or libfm source with users and an
 * item field (joins held in memory): the same passes plus external sorts by user and time
 * (stream_seq.c), memory bounded by the vocabularies, the users and one user's events. */
int prep_can_stream_seq(const dcfg *c);
/* Rows per split into rows, the schema into *schema. */
int prep_stream(const dcfg *c, const char *source_dir, const char *out_dir, const ameir_prep_peers *peers,
                int64_t rows[3], ameir_schema *schema);

/* Raw rows as string cells. */
typedef struct rawtable {
    int n_cols;
    char (*names)[DCFG_NAME]; /* n_cols names (owned) */
    int64_t n_rows, cap_rows;
    const char **cells;  /* n_rows * n_cols, "" if empty */
    int32_t *file;       /* index into the source's files */
    int64_t *line;       /* 1-based line in that file */
    char **bufs;         /* file contents (owned) */
    int n_bufs;
    str_arena arena;
    char paths[DCFG_MAX_FILES][DCFG_PATH]; /* full paths, for messages */
} rawtable;

/* Read all files of a source from dir. Errors name the file and line. */
int rawtable_read(rawtable *t, const dcfg_source *src, const char *dir);
/* Join j of c read from dir, with map from its key column's value to its row (a key seen
 * twice is refused). */
int rawtable_read_join(const dcfg *c, int j, const char *dir, rawtable *t, strmap *map);
void rawtable_destroy(rawtable *t);
int rawtable_col(const rawtable *t, const char *name);

/* The encoded dataset, ready to be written. */
typedef struct prep_split {
    int64_t n;
    int32_t *x;     /* (n, x_width) */
    int32_t *hist;  /* (n, L) item ids, padding first */
    float *label;   /* (n) */
    int64_t *user;  /* (n) */
    int32_t *cand;  /* (n, n_candidates) for seq valid/test, else NULL */
} prep_split;

typedef struct prep_out {
    ameir_schema schema;
    prep_split split[3];
    int32_t *items; /* (item vocab, item_width); row 0 padding */
    int64_t n_items;
    const char **vocab[AMEIR_MAX_FIELDS]; /* id -> raw string */
    str_arena arena;
    cJSON *truth; /* synthetic ground truth (owned) or NULL */
    int64_t n_users;
} prep_out;

void prep_out_destroy(prep_out *o);

/* Encode raw tables into o, following c. Errors name the file and line. */
int prep_encode(prep_out *o, const dcfg *c, const char *source_dir);
/* Generate the synthetic dataset of c. */
int synth_generate(prep_out *o, const dcfg *c);
/* Write o to out_dir (through a temporary directory renamed at the end). */
int prep_write(const prep_out *o, const dcfg *c, const char *out_dir);

/* The output directory: written as OUT.tmp-PID, renamed over OUT by prep_dir_finish. */
typedef struct prep_dir {
    char out[DCFG_PATH * 2 - 32], tmp[DCFG_PATH * 2], old[DCFG_PATH * 2];
    int exists, made;
} prep_dir;

/* What meta.json, vocab.json and items.h5 hold besides the shards. */
typedef struct prep_summary {
    const ameir_schema *schema;
    int64_t rows[3], positives[3];
    const int32_t *items; /* (n_items, item_width) or NULL */
    int64_t n_items, n_users;
    const char *const *const *vocab; /* [field][id] */
    const cJSON *truth;
} prep_summary;

/* Rows side by side, as a shard holds them (hist, cand NULL when absent). */
typedef struct prep_rows {
    const int32_t *x, *hist;
    const float *label;
    const int64_t *user;
    const int32_t *cand;
} prep_rows;

/* The shards of one split, written as rows arrive: `total` rows known in advance, cut into
 * c->shards parts; the bytes equal those of the split written at once. */
typedef struct prep_split_writer {
    char dir[DCFG_PATH * 2], path[DCFG_PATH * 2 + 32];
    const ameir_schema *schema;
    int split, shards, shard, last, has_cand; /* writes shards up to last */
    int64_t total, first, end, done;
    hid_t file, ds[5];
} prep_split_writer;

int prep_dir_begin(prep_dir *d, const dcfg *c, const char *out_dir);
int prep_dir_finish(prep_dir *d, const prep_summary *o, const dcfg *c);
void prep_dir_abort(prep_dir *d);
int prep_split_writer_open(prep_split_writer *w, const prep_dir *d, const ameir_schema *s, const dcfg *c, int split,
                           int64_t total);
/* Only shard k of the split (a parallel prep writes each shard on one rank). */
int prep_split_writer_open_shard(prep_split_writer *w, const prep_dir *d, const ameir_schema *s, const dcfg *c,
                                 int split, int64_t total, int k);
int prep_split_writer_append(prep_split_writer *w, const prep_rows *r, int64_t n);
int prep_split_writer_close(prep_split_writer *w);
void prep_split_writer_abort(prep_split_writer *w);

/* Refuse a split with no rows, or (ctr) with one class only; names the config and files. */
int prep_check_splits(const dcfg *c, const int64_t rows[3], const int64_t positives[3]);
/* The worst status of every rank (a collective call): this rank's own failure, else the first
 * failed rank's code with the message cleared (that rank reports it). Alone (NULL): rc. */
int prep_agree(const ameir_prep_peers *p, int rc);
/* Peak resident set of this process so far, in MB. */
double prep_peak_mb(void);

/* A progress line on stderr at most once a second; done != 0 ends the line. */
void prep_progress(const char *what, int64_t count, int done);

#endif
