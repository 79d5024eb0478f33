/* Prep one real dataset from AMEIR_SHARED_DATA and check it against the raw files:
 *   test_real CONFIG SUBDIR TRAIN VALID TEST
 * row counts per split, ids inside their vocabularies, histories of known items, and for
 * seq data the candidates (true item first, 99 distinct items the user never touched) and
 * the training negatives. Prints prep time and loader rows/s. Skips (77) without the data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/check.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "data_util.h"

static int contains(const int32_t *v, int n, int32_t x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static void check_split(const ameir_dataset *ds, const char *name, int64_t want) {
    const ameir_schema *s = ameir_dataset_schema(ds);
    CHECK_EQ_INT(ameir_dataset_rows(ds, name), want);
    ameir_split *sp = NULL;
    double t0 = ameir_now();
    CHECK_EQ_INT(ameir_split_load(&sp, ds, name, 0, -1), 0);
    if (!sp)
        return;
    double t1 = ameir_now();
    int64_t n = ameir_split_rows(sp), n_items = 0;
    ameir_dataset_items(ds, &n_items);
    int cap = s->n_candidates > 256 ? s->n_candidates : 256;
    if (s->task == AMEIR_TASK_SEQ && cap < 256 * 2)
        cap = 256 * 2;
    ameir_batch b;
    CHECK_EQ_INT(ameir_batch_init(&b, s, cap), 0);
    int64_t bad_x = 0, bad_h = 0, bad_c = 0, bad_neg = 0, pos = 0;
    int64_t idx[256];
    ameir_rng rng = ameir_rng_stream(1, 2);
    double t2 = ameir_now();
    for (int64_t r0 = 0; r0 < n; r0 += 256) {
        int k = (int)(n - r0 < 256 ? n - r0 : 256);
        for (int i = 0; i < k; i++)
            idx[i] = r0 + i;
        ameir_split_fill(sp, idx, k, &b);
        for (int i = 0; i < k; i++) {
            for (int f = 0; f < s->n_fields; f++)
                for (int w = 0; w < s->fields[f].width; w++) {
                    int32_t v = b.x[(int64_t)i * s->x_width + s->fields[f].offset + w];
                    bad_x += v < 0 || v >= s->fields[f].vocab || (w == 0 && v == 0 && s->fields[f].width == 1);
                }
            pos += b.label[i] > 0.5f;
            const int32_t *h = ameir_split_hist_ids(sp, idx[i]);
            for (int j = 0; h && j < s->seq_len; j++)
                bad_h += h[j] < 0 || h[j] >= n_items;
        }
        if (s->task == AMEIR_TASK_SEQ && !strcmp(name, "train")) {
            int kk = k > 64 ? 64 : k;
            ameir_split_fill_seq_train(sp, idx, kk, 1, &rng, &b);
            for (int i = 0; i < kk; i++) {
                const int32_t *h = ameir_split_hist_ids(sp, idx[i]);
                int32_t t = b.x[(int64_t)2 * i * s->x_width + s->fields[s->item_field].offset];
                int32_t ng = b.x[(int64_t)(2 * i + 1) * s->x_width + s->fields[s->item_field].offset];
                bad_neg += ng == t || contains(h, s->seq_len, ng) || ng < 2 || ng >= n_items;
            }
        }
    }
    double t3 = ameir_now();
    if (s->task == AMEIR_TASK_SEQ && strcmp(name, "train")) {
        for (int64_t r = 0; r < n; r++) {
            const int32_t *c = ameir_split_candidates(sp, r), *h = ameir_split_hist_ids(sp, r);
            int64_t one = r;
            ameir_split_fill(sp, &one, 1, &b);
            bad_c += c[0] != b.x[s->fields[s->item_field].offset];
            for (int k = 1; k < s->n_candidates; k++)
                bad_c += c[k] == c[0] || contains(h, s->seq_len, c[k]) || contains(c + 1, k - 1, c[k]) || c[k] < 2 ||
                         c[k] >= n_items;
        }
    }
    CHECK_EQ_INT(bad_x, 0);
    CHECK_EQ_INT(bad_h, 0);
    CHECK_EQ_INT(bad_c, 0);
    CHECK_EQ_INT(bad_neg, 0);
    printf("  %-5s %7lld rows, positive rate %.3f, load %.0f rows/s, batch fill %.0f rows/s\n", name, (long long)n,
           n ? (double)pos / (double)n : 0.0, (double)n / (t1 - t0 + 1e-9), (double)n / (t3 - t2 + 1e-9));
    ameir_batch_destroy(&b);
    ameir_split_free(sp);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: test_real CONFIG SUBDIR TRAIN VALID TEST\n");
        return 2;
    }
    const char *data = getenv("AMEIR_SHARED_DATA"), *root = getenv("AMEIR_SOURCE_ROOT");
    char src[1024], cfg[1024], tmp[1024], out[1100];
    struct stat st;
    snprintf(src, sizeof src, "%s/%s", data ? data : "", argv[2]);
    if (!data || stat(src, &st)) {
        printf("skip: %s not found (set AMEIR_SHARED_DATA to the raw datasets)\n", src);
        return 77;
    }
    snprintf(cfg, sizeof cfg, "%s/configs/datasets/%s.json", root ? root : ".", argv[1]);
    ameir_log_set_level(AMEIR_LOG_WARN);
    if (du_tempdir(tmp, sizeof tmp, argv[1]))
        return 1;
    snprintf(out, sizeof out, "%s/out", tmp);
    double t0 = ameir_now();
    int rc = ameir_prep(cfg, src, out, 0, -1);
    double t1 = ameir_now();
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "prep: %s\n", ameir_last_error());
        du_rm_rf(tmp);
        return check_finish(argv[1]);
    }
    ameir_dataset *ds = NULL;
    CHECK_EQ_INT(ameir_dataset_open(&ds, out), 0);
    if (ds) {
        const ameir_schema *s = ameir_dataset_schema(ds);
        printf("%s: prep %.2f s; %d fields, x width %d, L %d, items %d\n", argv[1], t1 - t0, s->n_fields, s->x_width,
               s->seq_len, s->item_field >= 0 ? s->fields[s->item_field].vocab : 0);
        for (int f = 0; f < s->n_fields; f++)
            printf("  field %-18s vocab %6d width %d%s\n", s->fields[f].name, s->fields[f].vocab, s->fields[f].width,
                   s->fields[f].is_item ? " (item)" : "");
        check_split(ds, "train", atoll(argv[3]));
        check_split(ds, "valid", atoll(argv[4]));
        check_split(ds, "test", atoll(argv[5]));
        ameir_dataset_free(ds);
    }
    du_rm_rf(tmp);
    return check_finish(argv[1]);
}
