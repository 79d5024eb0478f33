/* Hand-made tiny datasets whose prepared form is known: labels, time split, vocabularies
 * from train (rest OOV), log bins, multi-valued fields, strictly-earlier histories, and the
 * seq task's leave-one-out rows, candidates and training negatives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/check.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "data_util.h"

static char dir[1024];

static ameir_dataset *prep_open(const char *cfg_text, const char *name) {
    char cfg[1200], out[1200];
    snprintf(cfg, sizeof cfg, "%s/%s.json", dir, name);
    snprintf(out, sizeof out, "%s/%s-out", dir, name);
    du_write(dir, strrchr(cfg, '/') + 1, cfg_text);
    int rc = ameir_prep(cfg, dir, out, 0, -1);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "%s\n", ameir_last_error());
        return NULL;
    }
    ameir_dataset *ds = NULL;
    CHECK_EQ_INT(ameir_dataset_open(&ds, out), 0);
    return ds;
}

/* vocab.json of ds contains both texts. */
static void check_vocab(const ameir_dataset *ds, const char *a, const char *b) {
    char path[1300];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/vocab.json", ameir_dataset_dir(ds));
    char *v = du_read(path, &n);
    CHECK_STR_CONTAINS(v, a);
    CHECK_STR_CONTAINS(v, b);
    free(v);
}

/* user item rating time clicks tags; time split 3/2/2 by time:
 * train = rows 1, 2, 4 (times 100, 200, 50), valid = rows 3, 6 (times 200, 250), test = rows 5, 7
 * (300, 400): rows 6 and 7 (user u3, unseen in train) give valid and test both classes. */
static void test_ctr(void) {
    du_write(dir, "ctr.tsv",
             "u1\ti1\t5\t100\t10\ta,b\n"
             "u1\ti2\t3\t200\t100\tb\n"
             "u1\ti3\t4\t200\t0\t\n"
             "u2\ti1\t1\t50\t1\tc,a,b\n"
             "u1\ti4\t2\t300\t\ta\n"
             "u3\ti5\t1\t250\t7\ta\n"
             "u3\ti6\t5\t400\t7\tb\n");
    ameir_dataset *ds = prep_open(
        "{\"name\": \"sem-ctr\", \"task\": \"ctr\",\n"
        " \"source\": {\"files\": [\"ctr.tsv\"], \"format\": \"delimited\", \"sep\": \"\\t\",\n"
        "            \"columns\": [\"user\", \"item\", \"rating\", \"time\", \"clicks\", \"tags\"]},\n"
        " \"label\": {\"column\": \"rating\", \"op\": \">=\", \"value\": 4}, \"user\": \"user\",\n"
        " \"fields\": [{\"name\": \"user\"}, {\"name\": \"item\"}, {\"name\": \"clicks\", \"type\": \"numeric\", \"bins\": \"log\"},\n"
        "            {\"name\": \"tags\", \"type\": \"multi\", \"split\": \",\", \"item\": true}],\n"
        " \"item_field\": \"item\", \"sequence\": {\"time\": \"time\", \"length\": 4},\n"
        " \"split\": {\"method\": \"time\", \"fractions\": [0.43, 0.29, 0.28]}}\n",
        "ctr");
    if (!ds)
        return;
    const ameir_schema *s = ameir_dataset_schema(ds);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "train"), 3);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "valid"), 2);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "test"), 2);
    int fu = ameir_schema_find(s, "user"), fi = ameir_schema_find(s, "item"), fc = ameir_schema_find(s, "clicks"),
        ft = ameir_schema_find(s, "tags");
    /* train values in row order: users u1 u2; items i1 i2; clicks log:5 log:21 1; tags a b c */
    CHECK_EQ_INT(s->fields[fu].vocab, 4);
    CHECK_EQ_INT(s->fields[fi].vocab, 4);
    CHECK_EQ_INT(s->fields[fc].vocab, 5);
    CHECK_EQ_INT(s->fields[ft].vocab, 5);
    CHECK_EQ_INT(s->fields[ft].width, 3);
    CHECK_EQ_INT(s->item_width, 4);
    ameir_split *tr = NULL, *va = NULL, *te = NULL;
    CHECK_EQ_INT(ameir_split_load(&tr, ds, "train", 0, -1), 0);
    CHECK_EQ_INT(ameir_split_load(&va, ds, "valid", 0, -1), 0);
    CHECK_EQ_INT(ameir_split_load(&te, ds, "test", 0, -1), 0);
    ameir_batch b;
    ameir_batch_init(&b, s, 4);
    int64_t idx[3] = {0, 1, 2};
    if (tr) {
        ameir_split_fill(tr, idx, 3, &b);
        const int32_t want[3][6] = {{2, 2, 2, 2, 3, 0}, {2, 3, 3, 3, 0, 0}, {3, 2, 4, 4, 2, 3}};
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 6; k++)
                CHECK_EQ_INT(b.x[r * 6 + k], want[r][k]);
        CHECK_EQ_INT(b.label[0], 1);
        CHECK_EQ_INT(b.label[1], 0);
        CHECK_EQ_INT(b.label[2], 0);
        /* row 2 (u1, time 200): history = i1 only (time 100); the item table gives its tags a,b */
        const int32_t *h = b.hist + 1 * 4 * 4;
        for (int j = 0; j < 3 * 4; j++)
            CHECK_EQ_INT(h[j], 0);
        CHECK_EQ_INT(h[12], 2);
        CHECK_EQ_INT(h[13], 2);
        CHECK_EQ_INT(h[14], 3);
        CHECK_EQ_INT(b.user[0], b.user[1]);
        CHECK(b.user[0] != b.user[2]);
    }
    if (va) {
        /* u1 i3 at time 200: i2 has the same time, so the history is i1 alone; i3 unseen in train -> OOV */
        ameir_split_fill(va, idx, 1, &b);
        CHECK_EQ_INT(b.x[1], 1);
        CHECK_EQ_INT(b.x[2], 1); /* clicks 0 -> "0", unseen in train -> OOV */
        const int32_t *ids = ameir_split_hist_ids(va, 0);
        CHECK_EQ_INT(ids[0], 0);
        CHECK_EQ_INT(ids[1], 0);
        CHECK_EQ_INT(ids[2], 0);
        CHECK_EQ_INT(ids[3], 2);
    }
    if (te) {
        /* u1 i4 at 300: history i1, i2, i3(OOV) in time order */
        const int32_t *ids = ameir_split_hist_ids(te, 0);
        CHECK_EQ_INT(ids[0], 0);
        CHECK_EQ_INT(ids[1], 2);
        CHECK_EQ_INT(ids[2], 3);
        CHECK_EQ_INT(ids[3], 1);
    }
    /* vocabularies map ids back to raw values */
    check_vocab(ds, "\"clicks\":[\"<pad>\",\"<oov>\",\"log:5\",\"log:21\",\"1\"]",
                "\"item\":[\"<pad>\",\"<oov>\",\"i1\",\"i2\"]");
    ameir_batch_destroy(&b);
    ameir_split_free(tr);
    ameir_split_free(va);
    ameir_split_free(te);
    ameir_dataset_free(ds);
}

static int contains(const int32_t *v, int n, int32_t x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

/* users: 1: a b c d e, 2: b c d, 3: f g h a; 8 items, 3 negatives */
static void test_seq(void) {
    du_write(dir, "seq.txt", "1 a b c d e\n2 b c d\n3 f g h a\n");
    ameir_dataset *ds = prep_open(
        "{\"name\": \"sem-seq\", \"task\": \"seq\", \"vocab_from\": \"all\", \"negatives\": 3,\n"
        " \"source\": {\"files\": [\"seq.txt\"], \"format\": \"sequence\", \"columns\": [\"user\", \"item\"]},\n"
        " \"label\": \"implicit\", \"user\": \"user\", \"fields\": [{\"name\": \"item\", \"item\": true}],\n"
        " \"item_field\": \"item\", \"sequence\": {\"length\": 3}, \"split\": {\"method\": \"leave_one_out\"}}\n",
        "seq");
    if (!ds)
        return;
    const ameir_schema *s = ameir_dataset_schema(ds);
    CHECK_EQ_INT(s->task, AMEIR_TASK_SEQ);
    CHECK_EQ_INT(s->n_candidates, 4);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "train"), 3); /* b, c of user 1; g of user 3 */
    CHECK_EQ_INT(ameir_dataset_rows(ds, "valid"), 3);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "test"), 3);
    /* ids in order of appearance: a2 b3 c4 d5 e6 f7 g8 h9 */
    ameir_split *tr = NULL, *te = NULL;
    CHECK_EQ_INT(ameir_split_load(&tr, ds, "train", 0, -1), 0);
    CHECK_EQ_INT(ameir_split_load(&te, ds, "test", 0, -1), 0);
    ameir_batch b;
    ameir_batch_init(&b, s, 64);
    if (te) {
        /* user 1's test row: target e, history (last 3) b c d; candidates e + f g h (all it never touched) */
        const int32_t *h = ameir_split_hist_ids(te, 0), *c = ameir_split_candidates(te, 0);
        CHECK_EQ_INT(h[0], 3);
        CHECK_EQ_INT(h[1], 4);
        CHECK_EQ_INT(h[2], 5);
        CHECK_EQ_INT(c[0], 6);
        CHECK(contains(c + 1, 3, 7) && contains(c + 1, 3, 8) && contains(c + 1, 3, 9));
        ameir_split_fill_candidates(te, 0, &b);
        CHECK_EQ_INT(b.n, 4);
        CHECK_EQ_INT(b.label[0], 1);
        CHECK_EQ_INT(b.label[1], 0);
        CHECK_EQ_INT(b.x[0], 6);
        CHECK_EQ_INT(b.x[1], c[1]);
        CHECK_EQ_INT(b.hist[3 + 2], 5); /* row 1 (L 3, item width 1), last position */
        /* user 2's test row: target d, history b c (one padding) */
        h = ameir_split_hist_ids(te, 1);
        CHECK_EQ_INT(h[0], 0);
        CHECK_EQ_INT(h[1], 3);
        CHECK_EQ_INT(h[2], 4);
    }
    if (tr) {
        /* negatives: never the target, never in the history */
        int64_t rows[3] = {0, 1, 2};
        ameir_rng rng = ameir_rng_stream(5, 0);
        int bad = 0;
        for (int rep = 0; rep < 200; rep++) {
            ameir_split_fill_seq_train(tr, rows, 3, 5, &rng, &b);
            CHECK_EQ_INT(b.n, 18);
            for (int i = 0; i < 3; i++) {
                const int32_t *h = ameir_split_hist_ids(tr, i);
                int32_t target = b.x[i * 6];
                CHECK_EQ_INT(b.label[i * 6], 1);
                for (int k = 1; k < 6; k++) {
                    int32_t it = b.x[i * 6 + k];
                    bad += it == target || contains(h, 3, it) || it < 2 || it > 9 || b.label[i * 6 + k] != 0;
                }
            }
        }
        CHECK_EQ_INT(bad, 0);
    }
    ameir_batch_destroy(&b);
    ameir_split_free(tr);
    ameir_split_free(te);
    ameir_dataset_free(ds);
}

/* latin-1 text becomes UTF-8 in the vocabulary; an "in" label is 1 inside the set, else 0 (seed 3
 * gives every split both classes) */
static void test_latin1_in(void) {
    du_write(dir, "words.txt", "caf\xe9|buy\nthe|pv\nna\xefve|cart\ncaf\xe9|buy\nthe|pv\nna\xefve|cart\n"
                              "caf\xe9|buy\nthe|pv\nna\xefve|cart\n");
    ameir_dataset *ds = prep_open(
        "{\"name\": \"sem-latin\", \"task\": \"ctr\", \"vocab_from\": \"all\", \"seed\": 3,\n"
        " \"source\": {\"files\": [\"words.txt\"], \"format\": \"delimited\", \"sep\": \"|\",\n"
        "            \"encoding\": \"latin-1\", \"columns\": [\"word\", \"act\"]},\n"
        " \"label\": {\"column\": \"act\", \"in\": [\"cart\", \"buy\"]}, \"fields\": [{\"name\": \"word\"}],\n"
        " \"split\": {\"method\": \"random\", \"fractions\": [0.34, 0.33, 0.33]}}\n",
        "latin");
    if (!ds)
        return;
    check_vocab(ds, "\"caf\xc3\xa9\"", "\"na\xc3\xafve\"");
    const ameir_schema *s = ameir_dataset_schema(ds);
    ameir_batch b;
    ameir_batch_init(&b, s, 8);
    double pos = 0;
    int64_t rows = 0;
    const char *names[3] = {"train", "valid", "test"};
    for (int k = 0; k < 3; k++) {
        ameir_split *sp = NULL;
        CHECK_EQ_INT(ameir_split_load(&sp, ds, names[k], 0, -1), 0);
        if (!sp)
            continue;
        int64_t idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        ameir_split_fill(sp, idx, (int)ameir_split_rows(sp), &b);
        for (int i = 0; i < b.n; i++) {
            pos += b.label[i];
            /* "the" (id 3 in order of appearance) is the only negative */
            CHECK_EQ_INT(b.label[i] > 0.5f, b.x[i] != 3);
        }
        rows += ameir_split_rows(sp);
        ameir_split_free(sp);
    }
    CHECK_EQ_INT(rows, 9);
    CHECK_EQ_INT(pos, 6);
    ameir_batch_destroy(&b);
    ameir_dataset_free(ds);
}

/* RFC 4180 CSV: quoted cells with the separator, doubled quotes and a newline inside; the
 * train file gzip-compressed; a header on each file */
static void test_quoted_gzip(void) {
    du_write_gz(dir, "q-train.csv.gz",
                "id,name,click\r\n1,\"a,b\",1\r\n2,\"say \"\"hi\"\"\",0\r\n3,\"two\nlines\",1\r\n4,plain,0\r\n");
    du_write(dir, "q-valid.csv", "id,name,click\n5,\"a,b\",0\n6,plain,1\n");
    du_write(dir, "q-test.csv", "id,name,click\n7,\"two\nlines\",1\n8,new,0\n");
    ameir_dataset *ds = prep_open(
        "{\"name\": \"sem-quoted\", \"task\": \"ctr\",\n"
        " \"source\": {\"files\": [{\"path\": \"q-train.csv.gz\", \"split\": \"train\", \"header\": true},\n"
        "                        {\"path\": \"q-valid.csv\", \"split\": \"valid\", \"header\": true},\n"
        "                        {\"path\": \"q-test.csv\", \"split\": \"test\", \"header\": true}],\n"
        "            \"format\": \"delimited\", \"sep\": \",\", \"quote\": true},\n"
        " \"label\": {\"column\": \"click\", \"map\": {\"0\": 0, \"1\": 1}}, \"fields\": [{\"name\": \"name\"}],\n"
        " \"split\": {\"method\": \"files\"}}\n",
        "quoted");
    if (!ds)
        return;
    CHECK_EQ_INT(ameir_dataset_rows(ds, "train"), 4);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "valid"), 2);
    CHECK_EQ_INT(ameir_dataset_rows(ds, "test"), 2);
    check_vocab(ds, "\"name\":[\"<pad>\",\"<oov>\",\"a,b\",\"say \\\"hi\\\"\",\"two\\nlines\",\"plain\"]", "");
    ameir_split *te = NULL;
    CHECK_EQ_INT(ameir_split_load(&te, ds, "test", 0, -1), 0);
    if (te) {
        ameir_batch b;
        ameir_batch_init(&b, ameir_dataset_schema(ds), 2);
        int64_t idx[2] = {0, 1};
        ameir_split_fill(te, idx, 2, &b);
        CHECK_EQ_INT(b.x[0], 4); /* "two\nlines" */
        CHECK_EQ_INT(b.x[1], 1); /* unseen: OOV */
        ameir_batch_destroy(&b);
        ameir_split_free(te);
    }
    ameir_dataset_free(ds);
}

int main(void) {
    ameir_log_set_level(AMEIR_LOG_WARN);
    if (du_tempdir(dir, sizeof dir, "sem")) {
        fprintf(stderr, "cannot make a temp dir\n");
        return 1;
    }
    test_ctr();
    test_seq();
    test_latin1_in();
    test_quoted_gzip();
    du_rm_rf(dir);
    return check_finish("test_semantics");
}
