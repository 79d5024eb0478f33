/* Every kind of bad input to `ameir prep` and to opening a dataset: the code, and a message
 * that names the file and the line or key path. A failed prep leaves nothing behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/check.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "data_util.h"

static char dir[1024], src[1100], out[1100], cfg[1100];

/* A valid config over data.tsv (user item rating time age); `extra` is spliced into the top level. */
static void write_cfg(const char *extra, const char *label, const char *age_type) {
    char text[4096];
    snprintf(text, sizeof text,
             "{\n  \"name\": \"tiny\",\n  \"task\": \"ctr\",%s\n"
             "  \"source\": {\"files\": [\"data.tsv\"], \"format\": \"delimited\", \"sep\": \"\\t\",\n"
             "             \"columns\": [\"user\", \"item\", \"rating\", \"time\", \"age\"]},\n"
             "  \"label\": %s,\n  \"user\": \"user\",\n"
             "  \"fields\": [{\"name\": \"user\"}, {\"name\": \"item\", \"item\": true}, %s],\n"
             "  \"item_field\": \"item\",\n  \"sequence\": {\"time\": \"time\", \"length\": 4},\n"
             "  \"split\": {\"method\": \"random\", \"fractions\": [0.6, 0.2, 0.2]}\n}\n",
             extra, label, age_type);
    du_write(dir, "cfg.json", text);
}

#define GOOD_LABEL "{\"column\": \"rating\", \"op\": \">=\", \"value\": 4}"
#define GOOD_AGE "{\"name\": \"age\", \"type\": \"numeric\", \"bins\": [18, 30]}"
/* 10 rows: the random 6/2/2 split of the default seed gives every split both classes */
#define GOOD_DATA                                                                                      \
    "u1\ti1\t5\t100\t20\nu1\ti2\t3\t200\t20\nu2\ti1\t1\t50\t40\nu2\ti3\t4\t60\t40\nu3\ti2\t2\t70\t17\n" \
    "u3\ti3\t5\t80\t17\nu1\ti3\t2\t300\t20\nu2\ti2\t4\t90\t40\nu3\ti1\t1\t95\t17\nu1\ti1\t4\t400\t20\n"

/* prep must fail with code and a message containing both needles; nothing is left in out. */
static void expect_fail(int code, const char *needle1, const char *needle2) {
    ameir_clear_error();
    int rc = ameir_prep(cfg, src, out, 0, -1);
    CHECK_EQ_INT(rc, code);
    CHECK_STR_CONTAINS(ameir_last_error(), needle1);
    CHECK_STR_CONTAINS(ameir_last_error(), needle2);
    CHECK_EQ_INT(ameir_exit_code(rc), code == AMEIR_ENOMEM ? 1 : 2);
    struct stat st;
    CHECK(stat(out, &st) != 0); /* no half-written output */
}

static void test_config(void) {
    write_cfg(" \"bogus\": 1,", GOOD_LABEL, GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "bogus: got an unknown key, expected one of name,");
    write_cfg(" \"shards\": \"two\",", GOOD_LABEL, GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "shards: got \"two\", expected an integer from 1 to 1024");
    write_cfg(" \"shards\": 0,", GOOD_LABEL, GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "shards: got 0, expected an integer from 1 to 1024");
    write_cfg("", GOOD_LABEL, "{\"name\": \"age\", \"type\": \"numerical\"}");
    expect_fail(AMEIR_ECONFIG, "cfg.json", "fields[2].type: got \"numerical\", expected one of \"categorical\"");
    write_cfg("", GOOD_LABEL, "{\"name\": \"age\", \"type\": \"numeric\", \"bins\": [30, 18]}");
    expect_fail(AMEIR_ECONFIG, "cfg.json", "fields[2].bins: expected increasing");
    write_cfg("", GOOD_LABEL, "{\"name\": \"age\", \"colour\": \"red\"}");
    expect_fail(AMEIR_ECONFIG, "cfg.json", "fields[2].colour: got an unknown key, expected one of name,");
    write_cfg("", "{\"column\": \"rating\", \"op\": \"~\", \"value\": 4}", GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "label.op: got \"~\", expected one of \">=\"");
    write_cfg("", "{\"column\": \"rating\", \"map\": {\"5\": 2}}", GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "label.map.5: expected 0 or 1");
    write_cfg("", "{\"column\": \"rating\", \"map\": {\"5\": 1}, \"in\": [\"4\"]}", GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "label.in: give one of");
    write_cfg("", "{\"column\": \"rating\", \"in\": \"5\"}", GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "label.in: got \"5\", expected an array");
    write_cfg("", "{\"column\": \"rating\", \"op\": \">=\", \"value\": 9223372036854775807}", GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "label.value: out of range");
    write_cfg("", GOOD_LABEL, "{\"name\": \"age\", \"column\": \"height\"}");
    expect_fail(AMEIR_ECONFIG, "cfg.json", "key fields[2].column: no column \"height\"");
    du_write(dir, "cfg.json", "{\n  \"name\": \"tiny\",\n  \"task\": ctr\n}\n");
    expect_fail(AMEIR_EJSON, "cfg.json:3:", "JSON syntax error");
    /* what cJSON alone would take: a control byte as white space, the last of two keys */
    du_write(dir, "cfg.json", "{\n  \"name\": \"tiny\",\x01\n  \"task\": \"ctr\"\n}\n");
    expect_fail(AMEIR_EJSON, "cfg.json:2:18:", "got control byte 0x01, expected JSON text");
    write_cfg(" \"shards\": 2, \"shards\": 3,", GOOD_LABEL, GOOD_AGE);
    expect_fail(AMEIR_ECONFIG, "cfg.json", "shards: got the key twice, expected each key once");
    snprintf(cfg, sizeof cfg, "%s/nope.json", dir);
    expect_fail(AMEIR_ENOENT, "nope.json", "cannot open");
    snprintf(cfg, sizeof cfg, "%s/cfg.json", dir);
}

static void test_data(void) {
    write_cfg("", GOOD_LABEL, GOOD_AGE);
    expect_fail(AMEIR_ENOENT, "data.tsv", "missing source file");
    du_write(src, "data.tsv", "u1\ti1\t5\t100\t20\nu1\ti2\t3\t200\nu2\ti1\t1\t50\t40\n");
    expect_fail(AMEIR_EDATA, "data.tsv:2:", "4 columns, expected 5");
    du_write(src, "data.tsv", "u1\ti1\t5\t100\t20\nu1\ti2\t3\t200\t20\nu2\ti1\t1\t50\tforty\n");
    expect_fail(AMEIR_EDATA, "data.tsv:3:", "column age: expected a number, found \"forty\"");
    du_write(src, "data.tsv", "u1\ti1\t5\t100\t20\nu1\ti2\t3\tnoon\t20\n");
    expect_fail(AMEIR_EDATA, "data.tsv:2:", "time column time: expected a number");
    du_write(src, "data.tsv", "u1\ti1\t5\t100\t20\nu1\ti2\tgood\t200\t20\n");
    expect_fail(AMEIR_EDATA, "data.tsv:2:", "label column rating: expected a number, found \"good\"");
    du_write(src, "data.tsv", "u1\ti1\t5\t100\t20\nu1\ti2\t9223372036854775807\t200\t20\n");
    expect_fail(AMEIR_EDATA, "data.tsv:2:", "label column rating: 9223372036854775807 is out of range");
    /* quoted cells (RFC 4180): errors name the line where the record starts */
    du_write(dir, "cfg.json",
             "{\"name\": \"tiny\", \"task\": \"ctr\",\n"
             " \"source\": {\"files\": [\"data.tsv\"], \"format\": \"delimited\", \"sep\": \",\", \"quote\": true,\n"
             "            \"columns\": [\"item\", \"rating\"]},\n"
             " \"label\": {\"column\": \"rating\", \"op\": \">=\", \"value\": 4},\n"
             " \"fields\": [{\"name\": \"item\"}], \"split\": {\"method\": \"random\", \"fractions\": [0.6, 0.2, 0.2]}}\n");
    du_write(src, "data.tsv", "\"a\nb\",5\n\"c\"d,4\n");
    expect_fail(AMEIR_EDATA, "data.tsv:3:", "cell 1: expected a separator after the closing quote, found 'd'");
    du_write(src, "data.tsv", "a,5\n\"b,\"\"4\nc,1\n");
    expect_fail(AMEIR_EDATA, "data.tsv:2:", "a quoted cell is not closed before the end of the file");
    du_write(src, "data.tsv", "a,5\n\"b\nx\",4,3\n");
    expect_fail(AMEIR_EDATA, "data.tsv:2:", "3 columns, expected 2");
    /* columns named by a header line: a field whose column the header lacks names the header,
     * streamed (flat) and in memory alike */
    du_write(dir, "cfg.json",
             "{\"name\": \"tiny\", \"task\": \"ctr\",\n"
             " \"source\": {\"files\": [{\"path\": \"data.tsv\", \"header\": true}], \"format\": \"delimited\", \"sep\": \",\"},\n"
             " \"label\": {\"column\": \"rating\", \"op\": \">=\", \"value\": 4},\n"
             " \"fields\": [{\"name\": \"item\"}, {\"name\": \"price\"}], \"split\": {\"method\": \"random\", \"fractions\": [0.6, 0.2, 0.2]}}\n");
    du_write(src, "data.tsv", "item,prixe,rating\na,1,5\nb,2,4\nc,3,1\n");
    expect_fail(AMEIR_EDATA, "data.tsv:1: no column \"price\" in the header", "key fields[1].column");
    setenv("AMEIR_PREP_IN_MEMORY", "1", 1);
    expect_fail(AMEIR_EDATA, "data.tsv:1: no column \"price\" in the header", "key fields[1].column");
    unsetenv("AMEIR_PREP_IN_MEMORY");
    /* the sequence format (one line per user), streamed and in memory alike */
    du_write(dir, "cfg.json",
             "{\"name\": \"tiny\", \"task\": \"seq\", \"negatives\": 1,\n"
             " \"source\": {\"files\": [\"seq.txt\"], \"format\": \"sequence\", \"columns\": [\"user\", \"item\"]},\n"
             " \"label\": \"implicit\", \"user\": \"user\", \"fields\": [{\"name\": \"item\", \"item\": true}],\n"
             " \"item_field\": \"item\", \"sequence\": {\"length\": 3}, \"split\": {\"method\": \"leave_one_out\"}}\n");
    for (int mem = 0; mem < 2; mem++) {
        if (mem)
            setenv("AMEIR_PREP_IN_MEMORY", "1", 1);
        du_write(src, "seq.txt", "u1 a b c d\nu2 b  c\n");
        expect_fail(AMEIR_EDATA, "seq.txt:2:", "empty item (doubled separator)");
        du_write(src, "seq.txt", "u1 a b c d\n\nu2\n");
        expect_fail(AMEIR_EDATA, "seq.txt:3:", "expected a key and at least one item");
    }
    unsetenv("AMEIR_PREP_IN_MEMORY");
    /* a label rule no row meets: every split has one class; a split with no rows */
    du_write(src, "data.tsv", GOOD_DATA);
    write_cfg("", "{\"column\": \"rating\", \"op\": \">=\", \"value\": 6}", GOOD_AGE);
    expect_fail(AMEIR_EDATA, "cfg.json: the train split (6 rows, from data.tsv) has only label 0", "needs both classes");
    du_write(src, "data.tsv", "u1\ti1\t5\t100\t20\nu1\ti2\t3\t200\t20\n");
    write_cfg("", GOOD_LABEL, GOOD_AGE);
    expect_fail(AMEIR_EDATA, "cfg.json: the valid split has no rows (from data.tsv)", "check the split");
    du_write(src, "data.tsv", GOOD_DATA);
    write_cfg("", "{\"column\": \"rating\", \"map\": {\"1\": 0, \"2\": 0, \"3\": 0, \"4\": 1}}", GOOD_AGE);
    expect_fail(AMEIR_EDATA, "data.tsv:1:", "value \"5\" is not in label.map");
}

static void test_out_dir(void) {
    write_cfg("", GOOD_LABEL, GOOD_AGE);
    du_write(src, "data.tsv", GOOD_DATA);
    CHECK_EQ_INT(ameir_prep(cfg, src, out, 0, -1), 0);
    CHECK_EQ_INT(ameir_prep(cfg, src, out, 0, -1), 0); /* the same dataset again: replaced */
    /* another dataset into the same dir */
    char text[4096];
    size_t n = 0;
    char *c = du_read(cfg, &n);
    char *p = strstr(c, "\"tiny\"");
    snprintf(text, sizeof text, "%.*s\"other\"%s", (int)(p - c), c, p + 6);
    free(c);
    du_write(dir, "cfg.json", text);
    ameir_clear_error();
    CHECK_EQ_INT(ameir_prep(cfg, src, out, 0, -1), AMEIR_EEXIST);
    CHECK_STR_CONTAINS(ameir_last_error(), "holds another dataset (\"tiny\", not \"other\")");
    char stray[1200];
    snprintf(stray, sizeof stray, "%s/notes", dir);
    mkdir(stray, 0755);
    du_write(stray, "x.txt", "mine\n");
    CHECK_EQ_INT(ameir_prep(cfg, src, stray, 0, -1), AMEIR_EEXIST);
    CHECK_STR_CONTAINS(ameir_last_error(), "is not an ameir dataset");
    write_cfg("", GOOD_LABEL, GOOD_AGE);

    /* opening: schema version, missing meta, missing shard */
    ameir_dataset *ds = NULL;
    CHECK_EQ_INT(ameir_dataset_open(&ds, out), 0);
    ameir_dataset_free(ds);
    char meta[1200];
    snprintf(meta, sizeof meta, "%s/meta.json", out);
    c = du_read(meta, &n);
    p = strstr(c, "\"schema_version\":\t1");
    CHECK(p != NULL);
    if (p) {
        snprintf(text, sizeof text, "%.*s\"schema_version\":\t99%s", (int)(p - c), c, p + 19);
        du_write(out, "meta.json", text);
        ds = NULL;
        CHECK_EQ_INT(ameir_dataset_open(&ds, out), AMEIR_ESCHEMA);
        CHECK(ds == NULL);
        CHECK_STR_CONTAINS(ameir_last_error(), "meta.json: written with data schema version 99");
        du_write(out, "meta.json", c);
    }
    free(c);
    snprintf(text, sizeof text, "%s/train/shard-000.h5", out);
    remove(text);
    CHECK_EQ_INT(ameir_dataset_open(&ds, out), 0);
    ameir_split *sp = NULL;
    CHECK_EQ_INT(ameir_split_load(&sp, ds, "train", 0, -1), AMEIR_ENOENT);
    CHECK_STR_CONTAINS(ameir_last_error(), "train/shard-000.h5");
    ameir_dataset_free(ds);
    remove(meta);
    CHECK_EQ_INT(ameir_dataset_open(&ds, out), AMEIR_ENOENT);
    CHECK_STR_CONTAINS(ameir_last_error(), "meta.json: missing");
}

int main(void) {
    ameir_log_set_level(AMEIR_LOG_WARN);
    if (du_tempdir(dir, sizeof dir, "bad")) {
        fprintf(stderr, "cannot make a temp dir\n");
        return 1;
    }
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(cfg, sizeof cfg, "%s/cfg.json", dir);
    mkdir(src, 0755);
    du_write(src, "data.tsv", GOOD_DATA);
    test_config();
    remove(strcat(strcpy((char[1200]){0}, src), "/data.tsv"));
    test_data();
    test_out_dir();
    du_rm_rf(dir);
    return check_finish("test_bad_input");
}
