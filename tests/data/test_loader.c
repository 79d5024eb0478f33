/* The synthetic dataset end to end: prep, open, row ranges across shards, batches,
 * epoch orders, byte-identical re-prep; plus `--bench`, a loader throughput print. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "data_util.h"

static char cfg_path[1024];

static void prep_or_die(const char *out, int shards, int64_t seed) {
    int rc = ameir_prep(cfg_path, NULL, out, shards, seed);
    if (rc < 0) {
        fprintf(stderr, "prep failed: %s\n", ameir_last_error());
        exit(1);
    }
}

static void test_schema(const ameir_dataset *ds) {
    const ameir_schema *s = ameir_dataset_schema(ds);
    CHECK_EQ_INT(s->task, AMEIR_TASK_CTR);
    CHECK_EQ_INT(s->n_fields, 8);
    CHECK_EQ_INT(s->x_width, 8);
    CHECK_EQ_INT(s->seq_len, 20);
    CHECK_EQ_INT(s->item_width, 2);
    CHECK_EQ_INT(s->item_field, ameir_schema_find(s, "item"));
    CHECK(s->fields[ameir_schema_find(s, "category")].is_item);
    CHECK(!s->fields[ameir_schema_find(s, "user")].is_item);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "train"), 30000);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "valid"), 4000);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "test"), 4000);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "nope"), -1);
    CHECK_STR_CONTAINS(ameir_dataset_meta_json(ds), "\"oracle_test_auc\"");
    CHECK_STR_CONTAINS(ameir_dataset_name(ds), "synthetic");
}

/* Rows [b, e) loaded alone equal the same rows of the whole split, across shard borders. */
static void test_ranges(const ameir_dataset *ds) {
    const ameir_schema *s = ameir_dataset_schema(ds);
    ameir_split *all = NULL, *part = NULL;
    CHECK_EQ_INT(ameir_split_load(&all, ds, "train", 0, -1), 0);
    CHECK_EQ_INT(ameir_split_rows(all), 30000);
    const int64_t ranges[4][2] = {{0, 10}, {9990, 10010}, {14990, 20005}, {29999, 30000}};
    ameir_batch ba, bp;
    CHECK_EQ_INT(ameir_batch_init(&ba, s, 64), 0);
    CHECK_EQ_INT(ameir_batch_init(&bp, s, 64), 0);
    for (int t = 0; t < 4; t++) {
        int64_t b = ranges[t][0], e = ranges[t][1];
        CHECK_EQ_INT(ameir_split_load(&part, ds, "train", b, e), 0);
        if (!part)
            continue;
        CHECK_EQ_INT(ameir_split_rows(part), e - b);
        int64_t idx[64], idx_all[64];
        int n = (int)(e - b < 64 ? e - b : 64);
        for (int k = 0; k < n; k++) {
            idx[k] = (e - b) - n + k; /* the range's last rows */
            idx_all[k] = b + idx[k];
        }
        ameir_split_fill(part, idx, n, &bp);
        ameir_split_fill(all, idx_all, n, &ba);
        CHECK_EQ_INT(bp.n, n);
        int same = !memcmp(ba.x, bp.x, (size_t)n * (size_t)s->x_width * sizeof *ba.x) &&
                   !memcmp(ba.hist, bp.hist, (size_t)n * (size_t)(s->seq_len * s->item_width) * sizeof *ba.hist) &&
                   !memcmp(ba.label, bp.label, (size_t)n * sizeof *ba.label) &&
                   !memcmp(ba.user, bp.user, (size_t)n * sizeof *ba.user);
        CHECK(same);
        CHECK_EQ_INT(bp.row[n - 1], e - 1);
        ameir_split_free(part);
        part = NULL;
    }
    /* bad ranges */
    CHECK_EQ_INT(ameir_split_load(&part, ds, "train", 10, 5), AMEIR_EINVAL);
    CHECK_EQ_INT(ameir_split_load(&part, ds, "train", 0, 30001), AMEIR_EINVAL);
    CHECK_EQ_INT(ameir_split_load(&part, ds, "dev", 0, -1), AMEIR_EINVAL);
    CHECK(part == NULL);

    /* ids within vocabularies; history expanded through the item table, padding first */
    int64_t n_items = 0;
    const int32_t *items = ameir_dataset_items(ds, &n_items);
    CHECK_EQ_INT(n_items, s->fields[s->item_field].vocab);
    int bad_id = 0, bad_hist = 0, bad_pad = 0;
    for (int64_t r0 = 0; r0 < 30000; r0 += 64) {
        int64_t idx[64];
        for (int k = 0; k < 64; k++)
            idx[k] = r0 + k < 30000 ? r0 + k : 0;
        ameir_split_fill(all, idx, 64, &ba);
        for (int k = 0; k < 64; k++) {
            for (int f = 0; f < s->n_fields; f++) {
                int32_t v = ba.x[k * s->x_width + s->fields[f].offset];
                bad_id += v < 2 || v >= s->fields[f].vocab;
            }
            const int32_t *ids = ameir_split_hist_ids(all, idx[k]);
            int seen_real = 0;
            for (int j = 0; j < s->seq_len; j++) {
                const int32_t *pos = ba.hist + ((int64_t)k * s->seq_len + j) * s->item_width;
                bad_hist += memcmp(pos, items + (int64_t)ids[j] * s->item_width, 2 * sizeof *pos) != 0;
                bad_hist += pos[0] != ids[j];
                if (ids[j])
                    seen_real = 1;
                else
                    bad_pad += seen_real; /* padding after a real event */
            }
        }
    }
    CHECK_EQ_INT(bad_id, 0);
    CHECK_EQ_INT(bad_hist, 0);
    CHECK_EQ_INT(bad_pad, 0);
    ameir_batch_destroy(&ba);
    ameir_batch_destroy(&bp);
    ameir_split_free(all);
}

static void test_epoch_order(const ameir_dataset *ds) {
    ameir_split *sp = NULL;
    CHECK_EQ_INT(ameir_split_load(&sp, ds, "valid", 0, -1), 0);
    int64_t n = ameir_split_rows(sp);
    int64_t *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b), *c = malloc((size_t)n * sizeof *c);
    char *seen = calloc((size_t)n, 1);
    ameir_split_epoch_order(sp, 7, 0, a);
    ameir_split_epoch_order(sp, 7, 0, b);
    ameir_split_epoch_order(sp, 7, 1, c);
    CHECK(!memcmp(a, b, (size_t)n * sizeof *a));
    CHECK(memcmp(a, c, (size_t)n * sizeof *a) != 0);
    int dup = 0, moved = 0;
    for (int64_t i = 0; i < n; i++) {
        dup += seen[a[i]]++;
        moved += a[i] != i;
    }
    CHECK_EQ_INT(dup, 0);
    CHECK(moved > n / 2);
    free(a);
    free(b);
    free(c);
    free(seen);
    ameir_split_free(sp);
}

static int same_tree(const char *x, const char *y) {
    static const char *const files[] = {"meta.json", "vocab.json", "items.h5", "train/shard-000.h5",
                                        "train/shard-001.h5", "valid/shard-000.h5", "test/shard-001.h5", NULL};
    for (int i = 0; files[i]; i++) {
        char a[2048], b[2048];
        snprintf(a, sizeof a, "%s/%s", x, files[i]);
        snprintf(b, sizeof b, "%s/%s", y, files[i]);
        if (!du_same_file(a, b)) {
            fprintf(stderr, "differs: %s\n", files[i]);
            return 0;
        }
    }
    return 1;
}

static void bench(const ameir_dataset *ds) {
    const ameir_schema *s = ameir_dataset_schema(ds);
    ameir_split *sp = NULL;
    double t0 = ameir_now();
    if (ameir_split_load(&sp, ds, "train", 0, -1) < 0)
        return;
    double t1 = ameir_now();
    int64_t n = ameir_split_rows(sp);
    int64_t *order = malloc((size_t)n * sizeof *order);
    ameir_batch b;
    ameir_batch_init(&b, s, 256);
    int64_t rows = 0;
    double t2 = ameir_now();
    for (int ep = 0; ep < 5; ep++) {
        ameir_split_epoch_order(sp, 1, ep, order);
        for (int64_t i = 0; i + 256 <= n; i += 256) {
            ameir_split_fill(sp, order + i, 256, &b);
            rows += 256;
        }
    }
    double t3 = ameir_now();
    printf("loader bench (%s): load %lld rows in %.3f s = %.0f rows/s; batch fill %.0f rows/s (batch 256, L %d)\n",
           ameir_dataset_name(ds), (long long)n, t1 - t0, (double)n / (t1 - t0), (double)rows / (t3 - t2),
           s->seq_len);
    ameir_batch_destroy(&b);
    free(order);
    ameir_split_free(sp);
}

int main(int argc, char **argv) {
    const char *root = getenv("AMEIR_SOURCE_ROOT");
    snprintf(cfg_path, sizeof cfg_path, "%s/configs/datasets/synthetic.json", root ? root : ".");
    ameir_log_set_level(AMEIR_LOG_WARN);
    char tmp[1024], d1[1100], d2[1100], d3[1100];
    if (du_tempdir(tmp, sizeof tmp, "loader")) {
        fprintf(stderr, "cannot make a temp dir\n");
        return 1;
    }
    snprintf(d1, sizeof d1, "%s/a", tmp);
    snprintf(d2, sizeof d2, "%s/b", tmp);
    snprintf(d3, sizeof d3, "%s/c", tmp);
    prep_or_die(d1, 0, -1);
    ameir_dataset *ds = NULL;
    CHECK_EQ_INT(ameir_dataset_open(&ds, d1), 0);
    if (!ds)
        return check_finish("test_loader");
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench(ds);
        ameir_dataset_free(ds);
        du_rm_rf(tmp);
        return 0;
    }
    test_schema(ds);
    test_ranges(ds);
    test_epoch_order(ds);

    /* same config and seed: byte-identical files; re-prep over the old one works too */
    prep_or_die(d2, 0, -1);
    CHECK(same_tree(d1, d2));
    prep_or_die(d2, 0, -1);
    CHECK(same_tree(d1, d2));
    /* another seed gives other data */
    prep_or_die(d3, 0, 99);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/train/shard-000.h5", d1);
    snprintf(b, sizeof b, "%s/train/shard-000.h5", d3);
    CHECK(!du_same_file(a, b));
    /* other shard counts: the same rows */
    du_rm_rf(d3);
    prep_or_die(d3, 3, -1);
    ameir_dataset *ds3 = NULL;
    CHECK_EQ_INT(ameir_dataset_open(&ds3, d3), 0);
    if (ds3) {
        ameir_split *p1 = NULL, *p3 = NULL;
        CHECK_EQ_INT(ameir_split_load(&p1, ds, "test", 1000, 3500), 0);
        CHECK_EQ_INT(ameir_split_load(&p3, ds3, "test", 1000, 3500), 0);
        const ameir_schema *s = ameir_dataset_schema(ds);
        ameir_batch x1, x3;
        ameir_batch_init(&x1, s, 2500);
        ameir_batch_init(&x3, s, 2500);
        int64_t *idx = malloc(2500 * sizeof *idx);
        for (int i = 0; i < 2500; i++)
            idx[i] = i;
        ameir_split_fill(p1, idx, 2500, &x1);
        ameir_split_fill(p3, idx, 2500, &x3);
        CHECK(!memcmp(x1.x, x3.x, 2500 * (size_t)s->x_width * sizeof *x1.x));
        CHECK(!memcmp(x1.label, x3.label, 2500 * sizeof *x1.label));
        free(idx);
        ameir_batch_destroy(&x1);
        ameir_batch_destroy(&x3);
        ameir_split_free(p1);
        ameir_split_free(p3);
        ameir_dataset_free(ds3);
    }
    ameir_dataset_free(ds);
    du_rm_rf(tmp);
    return check_finish("test_loader");
}
