/* The streaming prep (two passes, memory bounded by the vocabularies) writes the same bytes
 * as the in-memory prep (AMEIR_PREP_IN_MEMORY=1) for every flat ctr config shipped: libfm
 * with a random split, Criteo's raw and integer-coded files, Avazu with a header and date
 * fields; for quoted, gzip-compressed CSV; and, sorted by user and time (external sorts, also
 * in chunks small enough to merge dozens of runs), for histories and the seq task: taobao-ctr
 * (time split), ml100k-ctr (joins, random split), ml100k-seq (leave-one-out, candidates),
 * beauty-seq (the sequence format, a json_map join). Skips the shipped data (77) if it is
 * absent. */
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

/* prep cfg from src twice, streamed and in memory; every file of the output must agree. */
static void same_both_ways(const char *cfg, const char *src, const char *tag) {
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/%s-stream", dir, tag);
    snprintf(b, sizeof b, "%s/%s-memory", dir, tag);
    unsetenv("AMEIR_PREP_IN_MEMORY");
    int rc = ameir_prep(cfg, src, a, 0, -1);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", tag, ameir_last_error());
    setenv("AMEIR_PREP_IN_MEMORY", "1", 1);
    CHECK_EQ_INT(ameir_prep(cfg, src, b, 0, -1), 0);
    unsetenv("AMEIR_PREP_IN_MEMORY");
    ameir_dataset *ds = NULL;
    CHECK_EQ_INT(ameir_dataset_open(&ds, a), 0);
    if (!ds)
        return;
    const char *top[] = {"meta.json", "vocab.json", "items.h5"};
    int n_files = 0;
    for (int i = 0; i < 3; i++) {
        char pa[1400], pb[1400];
        struct stat st;
        snprintf(pa, sizeof pa, "%s/%s", a, top[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, top[i]);
        if (i == 2 && stat(pa, &st))
            continue;
        CHECK(du_same_file(pa, pb));
        n_files++;
    }
    const char *splits[] = {"train", "valid", "test"};
    for (int sp = 0; sp < 3; sp++)
        for (int k = 0;; k++) {
            char pa[1400], pb[1400];
            struct stat st;
            snprintf(pa, sizeof pa, "%s/%s/shard-%03d.h5", a, splits[sp], k);
            snprintf(pb, sizeof pb, "%s/%s/shard-%03d.h5", b, splits[sp], k);
            if (stat(pa, &st))
                break;
            CHECK(du_same_file(pa, pb));
            n_files++;
        }
    printf("%s: %d files identical, %lld/%lld/%lld rows\n", tag, n_files, (long long)ameir_dataset_rows(ds, "train"),
           (long long)ameir_dataset_rows(ds, "valid"), (long long)ameir_dataset_rows(ds, "test"));
    ameir_dataset_free(ds);
}

int main(void) {
    ameir_log_set_level(AMEIR_LOG_WARN);
    if (du_tempdir(dir, sizeof dir, "stream"))
        return 1;
    /* quoted, gzip-compressed CSV with an item field, a multi field and a user */
    du_write_gz(dir, "q.csv.gz",
                "user,item,tags,click\n"
                "u1,\"i,1\",\"a|b\",1\nu2,i2,b,0\nu1,\"i\"\"3\",\"a\nb|c\",1\nu3,i2,,0\nu2,\"i,1\",c,1\n"
                "u1,i2,a,0\nu3,i4,b|c|a,1\nu2,i2,,0\nu1,\"i,1\",b,1\nu3,i5,a,0\n");
    du_write(dir, "q.json",
             "{\"name\": \"quoted\", \"task\": \"ctr\", \"shards\": 3,\n"
             " \"source\": {\"files\": [{\"path\": \"q.csv.gz\", \"header\": true}], \"format\": \"delimited\",\n"
             "            \"sep\": \",\", \"quote\": true},\n"
             " \"label\": {\"column\": \"click\", \"op\": \">=\", \"value\": 1}, \"user\": \"user\",\n"
             " \"fields\": [{\"name\": \"user\"}, {\"name\": \"item\", \"item\": true},\n"
             "            {\"name\": \"tags\", \"type\": \"multi\", \"split\": \"|\", \"item\": true}],\n"
             " \"item_field\": \"item\", \"split\": {\"method\": \"random\", \"fractions\": [0.6, 0.2, 0.2]}}\n");
    char cfg[1200];
    snprintf(cfg, sizeof cfg, "%s/q.json", dir);
    same_both_ways(cfg, dir, "quoted");

    const char *data = getenv("AMEIR_SHARED_DATA"), *root = getenv("AMEIR_SOURCE_ROOT");
    char src[1200];
    struct stat st;
    snprintf(src, sizeof src, "%s/criteo", data ? data : "");
    if (!data || stat(src, &st)) {
        printf("shipped data not found: only the hand-made file was checked\n");
        du_rm_rf(dir);
        return check_finish("test_stream");
    }
    /* flat; then histories (taobao: time split; ml100k-ctr: joins, random split) and the seq
     * task (ml100k-seq: joins, leave-one-out, candidates; beauty-seq: one line per user, a JSON
     * map of attributes), sorted by user and time */
    const char *sets[][2] = {{"frappe-ctr", "frappe"}, {"criteo-ctr", "criteo"}, {"criteo-tiny-ctr", "criteo"},
                             {"avazu-ctr", "avazu"},  {"taobao-ctr", "taobao"}, {"ml100k-ctr", "ml-100k"},
                             {"ml100k-seq", "ml-100k"}, {"beauty-seq", "amazon-beauty"}};
    for (int i = 0; i < 8; i++) {
        snprintf(cfg, sizeof cfg, "%s/configs/datasets/%s.json", root ? root : ".", sets[i][0]);
        snprintf(src, sizeof src, "%s/%s", data, sets[i][1]);
        same_both_ways(cfg, src, sets[i][0]);
    }
    /* the sorts in chunks of 64 KB: dozens of runs merged */
    setenv("AMEIR_PREP_SORT_CHUNK", "65536", 1);
    for (int i = 4; i < 8; i++) {
        char tag[96];
        snprintf(cfg, sizeof cfg, "%s/configs/datasets/%s.json", root ? root : ".", sets[i][0]);
        snprintf(src, sizeof src, "%s/%s", data, sets[i][1]);
        snprintf(tag, sizeof tag, "%s-runs", sets[i][0]);
        same_both_ways(cfg, src, tag);
    }
    unsetenv("AMEIR_PREP_SORT_CHUNK");
    du_rm_rf(dir);
    return check_finish("test_stream");
}
