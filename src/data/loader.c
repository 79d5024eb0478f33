/* Loading a split's row range from its shards, and filling batches: rows as stored,
 * seq-task training negatives, evaluation candidates, epoch orders. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/dataset.h"
#include "ameir/error.h"
#include "dataset_internal.h"

const char *const ameir_data_split_names[3] = {"train", "valid", "test"};

/* Rows [lo, hi) of shard k (local row numbers) into sp at dst. */
static int load_shard(ameir_split *sp, const data_shard *sh, int64_t lo, int64_t hi, int64_t dst) {
    const ameir_dataset *ds = sp->ds;
    const ameir_schema *s = &ds->schema;
    char path[AMEIR_DATA_PATH + 160];
    snprintf(path, sizeof path, "%s/%s", ds->dir, sh->file);
    hid_t f = H5I_INVALID_HID;
    H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (f < 0)
        return ameir_fail(AMEIR_ENOENT, "%s: cannot open the shard", path);
    int64_t n = hi - lo;
    int rc = ameir_data_read_rows(f, path, "x", H5T_NATIVE_INT32, sh->rows, s->x_width, lo, n,
                                  sp->x + dst * s->x_width);
    if (rc >= 0 && s->seq_len)
        rc = ameir_data_read_rows(f, path, "hist", H5T_NATIVE_INT32, sh->rows, s->seq_len, lo, n,
                                  sp->hist + dst * s->seq_len);
    if (rc >= 0)
        rc = ameir_data_read_rows(f, path, "label", H5T_NATIVE_FLOAT, sh->rows, 0, lo, n, sp->label + dst);
    if (rc >= 0)
        rc = ameir_data_read_rows(f, path, "user", H5T_NATIVE_INT64, sh->rows, 0, lo, n, sp->user + dst);
    if (rc >= 0 && sp->cand)
        rc = ameir_data_read_rows(f, path, "cand", H5T_NATIVE_INT32, sh->rows, s->n_candidates, lo, n,
                                  sp->cand + dst * s->n_candidates);
    H5Fclose(f);
    return rc;
}

/* The arrays of a split in one block: x, hist, label, user, cand, each 64-byte aligned. */
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static void split_offsets(const ameir_schema *s, int si, int64_t rows, size_t off[6]) {
    size_t n = (size_t)(rows ? rows : 1);
    int has_cand = s->task == AMEIR_TASK_SEQ && si > 0;
    size_t sizes[5] = {
        n * (size_t)s->x_width * sizeof(int32_t),
        n * (size_t)(s->seq_len ? s->seq_len : 1) * sizeof(int32_t),
        n * sizeof(float),
        n * sizeof(int64_t),
        has_cand ? n * (size_t)s->n_candidates * sizeof(int32_t) : 0,
    };
    off[0] = 0;
    for (int i = 0; i < 5; i++)
        off[i + 1] = off[i] + align64(sizes[i]);
}

size_t ameir_data_split_bytes(const ameir_schema *s, int si, int64_t n) {
    size_t off[6];
    split_offsets(s, si, n, off);
    return off[5];
}

ameir_split *ameir_data_split_place(const ameir_dataset *ds, int si, int64_t begin, int64_t n, void *block, int owns) {
    const ameir_schema *s = &ds->schema;
    size_t off[6];
    split_offsets(s, si, n, off);
    if (!block && owns) {
        block = aligned_alloc(64, off[5]);
        if (block)
            memset(block, 0, off[5]);
    }
    ameir_split *sp = block ? calloc(1, sizeof *sp) : NULL;
    if (!sp) {
        if (owns)
            free(block);
        return NULL;
    }
    char *b = block;
    sp->ds = ds, sp->split = si, sp->begin = begin, sp->n = n;
    sp->x = (int32_t *)(b + off[0]);
    sp->hist = (int32_t *)(b + off[1]);
    sp->label = (float *)(b + off[2]);
    sp->user = (int64_t *)(b + off[3]);
    sp->cand = off[5] > off[4] ? (int32_t *)(b + off[4]) : NULL;
    sp->block = block, sp->owns = owns;
    return sp;
}

static int split_range(const ameir_dataset *ds, const char *split, int64_t begin, int64_t *end, int *si) {
    *si = ameir_data_split_index(split);
    if (*si < 0)
        return ameir_fail(AMEIR_EINVAL, "split \"%s\": expected train, valid or test", split ? split : "(null)");
    int64_t total = ds->rows[*si];
    if (*end < 0)
        *end = total;
    if (begin < 0 || begin > *end || *end > total)
        return ameir_fail(AMEIR_EINVAL, "%s/%s: rows [%lld, %lld) outside [0, %lld)", ds->dir, split,
                          (long long)begin, (long long)*end, (long long)total);
    return 0;
}

int ameir_split_bytes(const ameir_dataset *ds, const char *split, int64_t begin, int64_t end, size_t *bytes) {
    int si;
    AMEIR_TRY(split_range(ds, split, begin, &end, &si));
    *bytes = ameir_data_split_bytes(&ds->schema, si, end - begin);
    return 0;
}

int ameir_split_load_at(ameir_split **out, const ameir_dataset *ds, const char *split, int64_t begin, int64_t end,
                        void *mem, size_t bytes, int read) {
    int si, rc = 0;
    *out = NULL;
    AMEIR_TRY(split_range(ds, split, begin, &end, &si));
    size_t need = ameir_data_split_bytes(&ds->schema, si, end - begin);
    if (mem && (bytes < need || ((uintptr_t)mem & 63)))
        return ameir_fail(AMEIR_EINVAL, "%s/%s: a block of %zu bytes at %p cannot hold %lld rows (%zu bytes, 64-byte aligned)",
                          ds->dir, split, bytes, mem, (long long)(end - begin), need);
    ameir_split *sp = ameir_data_split_place(ds, si, begin, end - begin, mem, mem == NULL);
    if (!sp)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for %lld rows of %s", (long long)(end - begin), split);
    if (mem && read)
        memset(mem, 0, need);
    /* only the shards that overlap [begin, end) are opened */
    for (int k = 0; read && k < ds->n_shards[si]; k++) {
        const data_shard *sh = &ds->shards[si][k];
        int64_t lo = begin > sh->first ? begin : sh->first;
        int64_t hi = end < sh->first + sh->rows ? end : sh->first + sh->rows;
        if (lo >= hi)
            continue;
        if ((rc = load_shard(sp, sh, lo - sh->first, hi - sh->first, lo - begin)) < 0) {
            ameir_split_free(sp);
            return rc;
        }
    }
    *out = sp;
    return 0;
}

int ameir_split_load(ameir_split **out, const ameir_dataset *ds, const char *split, int64_t begin, int64_t end) {
    return ameir_split_load_at(out, ds, split, begin, end, NULL, 0, 1);
}

void ameir_split_free(ameir_split *sp) {
    if (!sp)
        return;
    if (sp->owns)
        free(sp->block);
    free(sp);
}

int64_t ameir_split_rows(const ameir_split *sp) { return sp->n; }

/* History of row r expanded through the item table: (L, item_width). */
static void fill_hist(const ameir_split *sp, int64_t r, int32_t *dst) {
    const ameir_dataset *ds = sp->ds;
    const ameir_schema *s = &ds->schema;
    int L = s->seq_len, iw = s->item_width;
    const int32_t *h = sp->hist + r * L;
    for (int j = 0; j < L; j++) {
        int32_t id = h[j];
        AMEIR_ASSERT(id >= 0 && id < ds->n_items);
        memcpy(dst + (int64_t)j * iw, ds->items + (int64_t)id * iw, (size_t)iw * sizeof *dst);
    }
}

/* Row r's x with its item-side fields replaced by item `item`'s. */
static void fill_x_item(const ameir_split *sp, int64_t r, int32_t item, int32_t *dst) {
    const ameir_dataset *ds = sp->ds;
    const ameir_schema *s = &ds->schema;
    memcpy(dst, sp->x + r * s->x_width, (size_t)s->x_width * sizeof *dst);
    AMEIR_ASSERT(item >= 0 && item < ds->n_items);
    const int32_t *row = ds->items + (int64_t)item * s->item_width;
    for (int f = 0; f < s->n_fields; f++) {
        const ameir_field *fd = &s->fields[f];
        if (fd->is_item)
            memcpy(dst + fd->offset, row + fd->item_offset, (size_t)fd->width * sizeof *dst);
    }
}

static void put_row(const ameir_split *sp, int64_t r, int k, ameir_batch *b, float label) {
    const ameir_schema *s = &sp->ds->schema;
    if (s->seq_len)
        fill_hist(sp, r, b->hist + (int64_t)k * s->seq_len * s->item_width);
    b->label[k] = label;
    b->user[k] = sp->user[r];
    b->row[k] = sp->begin + r;
}

void ameir_split_fill(const ameir_split *sp, const int64_t *rows, int n, ameir_batch *b) {
    const ameir_schema *s = &sp->ds->schema;
    AMEIR_ASSERT(n <= b->cap);
    for (int k = 0; k < n; k++) {
        int64_t r = rows[k];
        AMEIR_ASSERT(r >= 0 && r < sp->n);
        memcpy(b->x + (int64_t)k * s->x_width, sp->x + r * s->x_width, (size_t)s->x_width * sizeof *b->x);
        put_row(sp, r, k, b, s->task == AMEIR_TASK_SEQ ? 1.0f : sp->label[r]);
    }
    b->n = n;
}

static int in_hist(const int32_t *h, int L, int32_t item) {
    for (int j = 0; j < L; j++)
        if (h[j] == item)
            return 1;
    return 0;
}

void ameir_split_fill_seq_train(const ameir_split *sp, const int64_t *rows, int n, int n_neg, ameir_rng *rng,
                                ameir_batch *b) {
    const ameir_dataset *ds = sp->ds;
    const ameir_schema *s = &ds->schema;
    AMEIR_ASSERT(s->item_field >= 0 && ds->n_items > 2);
    AMEIR_ASSERT((int64_t)n * (1 + n_neg) <= b->cap);
    int item_col = s->fields[s->item_field].offset, L = s->seq_len;
    int k = 0;
    for (int i = 0; i < n; i++) {
        int64_t r = rows[i];
        AMEIR_ASSERT(r >= 0 && r < sp->n);
        int32_t target = sp->x[r * s->x_width + item_col];
        const int32_t *h = sp->hist + r * L;
        memcpy(b->x + (int64_t)k * s->x_width, sp->x + r * s->x_width, (size_t)s->x_width * sizeof *b->x);
        put_row(sp, r, k++, b, 1.0f);
        for (int j = 0; j < n_neg; j++) {
            int32_t it = 0;
            /* rejection: a user touches few items, so this ends fast; give up only if nearly
             * every item is excluded (then the last draw is used) */
            for (int tries = 0; tries < 1000; tries++) {
                it = (int32_t)(2 + ameir_rng_below(rng, (uint64_t)(ds->n_items - 2)));
                if (it != target && !in_hist(h, L, it))
                    break;
            }
            fill_x_item(sp, r, it, b->x + (int64_t)k * s->x_width);
            put_row(sp, r, k++, b, 0.0f);
        }
    }
    b->n = k;
}

/* The candidate rows of a split row, the history in the first `hist_rows` of them. */
static void fill_candidates(const ameir_split *sp, int64_t row, ameir_batch *b, int hist_rows) {
    const ameir_schema *s = &sp->ds->schema;
    AMEIR_ASSERT(sp->cand && row >= 0 && row < sp->n);
    AMEIR_ASSERT(s->n_candidates <= b->cap);
    for (int k = 0; k < s->n_candidates; k++) {
        fill_x_item(sp, row, sp->cand[row * s->n_candidates + k], b->x + (int64_t)k * s->x_width);
        if (k < hist_rows)
            put_row(sp, row, k, b, k == 0 ? 1.0f : 0.0f);
        else {
            b->label[k] = 0.0f;
            b->user[k] = sp->user[row];
            b->row[k] = sp->begin + row;
        }
    }
    b->n = s->n_candidates;
}

void ameir_split_fill_candidates(const ameir_split *sp, int64_t row, ameir_batch *b) {
    fill_candidates(sp, row, b, sp->ds->schema.n_candidates);
}

void ameir_split_fill_candidates_once(const ameir_split *sp, int64_t row, ameir_batch *b) {
    fill_candidates(sp, row, b, 1);
}

void ameir_split_epoch_order(const ameir_split *sp, uint64_t seed, int64_t epoch, int64_t *order) {
    for (int64_t i = 0; i < sp->n; i++)
        order[i] = i;
    ameir_rng base = ameir_rng_stream(seed, 0xe90c);
    ameir_rng rng = ameir_rng_split(&base, (uint64_t)epoch);
    ameir_rng_shuffle_i64(&rng, order, (size_t)sp->n);
}

const int32_t *ameir_split_candidates(const ameir_split *sp, int64_t row) {
    return sp->cand ? sp->cand + row * sp->ds->schema.n_candidates : NULL;
}

const int32_t *ameir_split_hist_ids(const ameir_split *sp, int64_t row) {
    return sp->ds->schema.seq_len ? sp->hist + row * sp->ds->schema.seq_len : NULL;
}
