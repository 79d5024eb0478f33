/* Mutation fuzz of every config parser and of the raw-row reader, in process (so the sanitizer
 * build sees every read): the search configs and arch JSON files in configs/, the dataset
 * configs there (all but the generated one, whose valid mutants may ask for any number of
 * rows; their raw files are absent, so a valid mutant is refused for a missing raw file,
 * which it names) and the rows of a small delimited dataset
 * written here. Each mutant is written to a file and loaded the way the command does
 * (ameir_search_config_load, ameir_arch_load, ameir_prep); the outcome must be accepted, or a
 * refusal with exit code 2 whose message names the file (for raw rows: the file and line).
 * Anything else, and of course any crash or sanitizer report, fails the test.
 *
 *   test_fuzz SOURCE_ROOT [MUTANTS_PER_PARSER=320] [SEED=13]
 *
 * Prints one line per parser: inputs, accepted, refused with the file named, bad. A crash
 * leaves the mutant in the printed directory, named in its file LAST. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/rng.h"
#include "ameir/search.h"

enum { P_SEARCH, P_ARCH, P_DATASET, P_ROWS, N_PARSERS };
static const char *const parser_names[N_PARSERS] = {"search config", "arch JSON", "dataset config", "raw rows"};

typedef struct outcome {
    int inputs, accepted, refused, bad, with_line, absent;
} outcome;

typedef struct buf {
    char *p;
    size_t n;
} buf;

static char work[] = "/tmp/ameir-fuzz-XXXXXX";

static buf read_all(const char *path) {
    buf b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    if (b.p && fread(b.p, 1, (size_t)n, f) == (size_t)n) {
        b.n = (size_t)n;
        b.p[n] = '\0';
    }
    fclose(f);
    return b;
}

static void write_all(const char *path, const char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "test_fuzz: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* Tokens that parsers meet at their edges. */
static const char *const tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "\\", "0", "-1", "00", "007", "1e999", "-1e999", "NaN", "null", "true", "false",
    "\\u0000", "\\ud800", "9223372036854775807", "18446744073709551616", "1e-400", "\"\":", "\"x\":1,", "\t", "\n", "\r\n",
    "|", ";", "\xff\xfe", "\xc3", "4294967296", "-0", "0.5", "1e308", "\"\"", "[]", "{}", "\0",
};
#define N_TOKENS (sizeof tokens / sizeof tokens[0])

/* One random edit of b into out (malloc'd): flip a byte, insert a token, delete or duplicate
 * a span, truncate; one to three edits per mutant. */
static buf mutate(const buf *b, ameir_rng *rng) {
    buf m;
    m.p = malloc(b->n + 1);
    memcpy(m.p, b->p, b->n);
    m.n = b->n;
    int edits = 1 + (int)ameir_rng_below(rng, 3);
    for (int e = 0; e < edits; e++) {
        size_t at = m.n ? (size_t)ameir_rng_below(rng, m.n) : 0;
        switch (ameir_rng_below(rng, 6)) {
        case 0: /* flip a byte */
            if (m.n)
                m.p[at] = (char)ameir_rng_below(rng, 256);
            break;
        case 1:
        case 2: { /* insert a token */
            const char *t = tokens[ameir_rng_below(rng, N_TOKENS)];
            size_t k = t[0] ? strlen(t) : 1;
            m.p = realloc(m.p, m.n + k + 1);
            memmove(m.p + at + k, m.p + at, m.n - at);
            memcpy(m.p + at, t, k);
            m.n += k;
            break;
        }
        case 3: { /* delete a span */
            size_t k = (size_t)ameir_rng_below(rng, 16) + 1;
            if (at + k > m.n)
                k = m.n - at;
            memmove(m.p + at, m.p + at + k, m.n - at - k);
            m.n -= k;
            break;
        }
        case 4: { /* duplicate a span */
            size_t k = (size_t)ameir_rng_below(rng, 32) + 1;
            if (at + k > m.n)
                k = m.n - at;
            m.p = realloc(m.p, m.n + k + 1);
            memmove(m.p + at + k, m.p + at, m.n - at);
            m.n += k;
            break;
        }
        default: /* truncate */
            m.n = at;
            break;
        }
    }
    m.p = realloc(m.p, m.n + 1);
    m.p[m.n] = '\0';
    return m;
}

static int list_json(const char *dir, char names[][512], int cap, const char *skip) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < cap) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".json") && (!skip || strcmp(e->d_name, skip)))
            snprintf(names[n++], 512, "%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    /* readdir order differs between file systems: sort, so a seed means the same mutants */
    qsort(names, (size_t)n, 512, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void rm_tree(const char *path) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "test_fuzz: %s failed\n", cmd);
}

/* The small delimited dataset whose rows are fuzzed: its config and a clean rows.csv. */
static const char *rows_config =
    "{\"name\": \"fuzz-rows\", \"task\": \"ctr\", \"seed\": 1, \"shards\": 1,\n"
    " \"source\": {\"files\": [{\"path\": \"rows.csv\", \"header\": true}], \"format\": \"delimited\", \"sep\": \",\"},\n"
    " \"label\": {\"column\": \"rating\", \"op\": \">=\", \"value\": 4}, \"user\": \"user\",\n"
    " \"fields\": [{\"name\": \"user\"}, {\"name\": \"item\", \"item\": true}, {\"name\": \"cat\", \"item\": true},\n"
    "            {\"name\": \"price\", \"type\": \"numeric\", \"bins\": [1, 10, 100]}],\n"
    " \"item_field\": \"item\", \"sequence\": {\"time\": \"time\", \"length\": 5},\n"
    " \"split\": {\"method\": \"random\", \"fractions\": [0.8, 0.1, 0.1]}}\n";

static buf rows_csv(void) {
    buf b;
    size_t cap = 1 << 16;
    b.p = malloc(cap);
    b.n = (size_t)snprintf(b.p, cap, "user,item,cat,price,rating,time\n");
    ameir_rng r = ameir_rng_stream(99, 0);
    for (int i = 0; i < 300; i++)
        b.n += (size_t)snprintf(b.p + b.n, cap - b.n, "u%d,i%d,c%d,%.2f,%d,%d\n", (int)ameir_rng_below(&r, 20),
                                (int)ameir_rng_below(&r, 40), (int)ameir_rng_below(&r, 5), 100 * ameir_rng_uniform(&r),
                                1 + (int)ameir_rng_below(&r, 5), 1000 + i);
    return b;
}

/* Load the mutant at path as parser p; returns the code. */
static int load(int p, const char *path, const char *src, const char *out) {
    switch (p) {
    case P_SEARCH: {
        ameir_search_config *cfg = NULL;
        int rc = ameir_search_config_load(&cfg, path);
        ameir_search_config_free(cfg);
        return rc;
    }
    case P_ARCH: {
        ameir_arch a;
        return ameir_arch_load(&a, path);
    }
    default: {
        int rc = ameir_prep(path, src, out, 1, 1);
        rm_tree(out);
        return rc;
    }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_fuzz SOURCE_ROOT [MUTANTS_PER_PARSER] [SEED]\n");
        return 2;
    }
    int per = argc > 2 ? atoi(argv[2]) : 320;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 13;
    ameir_log_set_level(AMEIR_LOG_QUIET);
    if (!mkdtemp(work)) {
        perror("mkdtemp");
        return 1;
    }
    printf("test_fuzz: %d mutants per parser, seed %llu, in %s\n", per, (unsigned long long)seed, work);
    static char seeds[N_PARSERS][64][512];
    int n_seeds[N_PARSERS];
    char dir[1024], src[1200], out[1200], rows_src[1200], cfg_rows[1200];
    snprintf(dir, sizeof dir, "%s/configs/search", argv[1]);
    n_seeds[P_SEARCH] = list_json(dir, seeds[P_SEARCH], 64, NULL);
    snprintf(dir, sizeof dir, "%s/configs/archs", argv[1]);
    n_seeds[P_ARCH] = list_json(dir, seeds[P_ARCH], 64, NULL);
    snprintf(dir, sizeof dir, "%s/configs/datasets", argv[1]);
    n_seeds[P_DATASET] = list_json(dir, seeds[P_DATASET], 64, "synthetic.json");
    /* raw rows: the config is fixed, the rows file is what gets mutated */
    snprintf(rows_src, sizeof rows_src, "%s/rows", work);
    mkdir(rows_src, 0755);
    snprintf(cfg_rows, sizeof cfg_rows, "%s/fuzz-rows.json", work);
    write_all(cfg_rows, rows_config, strlen(rows_config));
    buf clean = rows_csv();
    snprintf(seeds[P_ROWS][0], 512, "%.500s/rows.csv", rows_src);
    n_seeds[P_ROWS] = 1;
    snprintf(src, sizeof src, "%s/no-source", work); /* dataset configs: the raw files are not here */
    mkdir(src, 0755);
    snprintf(out, sizeof out, "%s/out", work);

    /* the clean inputs first: the seeds must load (the rows) or fail only for want of data */
    write_all(seeds[P_ROWS][0], clean.p, clean.n);
    int rc = ameir_prep(cfg_rows, rows_src, out, 1, 1);
    rm_tree(out);
    if (rc < 0) {
        fprintf(stderr, "test_fuzz: the clean rows do not prepare: %s\n", ameir_last_error());
        return 1;
    }

    /* the search and arch seeds must load, or the mutants would only test one error */
    for (int p = P_SEARCH; p <= P_ARCH; p++)
        for (int i = 0; i < n_seeds[p]; i++)
            if ((rc = load(p, seeds[p][i], src, out)) < 0) {
                fprintf(stderr, "test_fuzz: the unmutated %s does not load: %s\n", seeds[p][i], ameir_last_error());
                return 1;
            }

    outcome res[N_PARSERS];
    memset(res, 0, sizeof res);
    int failures = 0;
    char last[1200];
    snprintf(last, sizeof last, "%s/LAST", work);
    for (int p = 0; p < N_PARSERS; p++) {
        ameir_rng rng = ameir_rng_stream(seed, (uint64_t)p);
        for (int i = 0; i < per; i++) {
            const char *seed_path = seeds[p][i % n_seeds[p]];
            buf b = p == P_ROWS ? (buf){NULL, 0} : read_all(seed_path);
            const buf *base = p == P_ROWS ? &clean : &b;
            buf m = mutate(base, &rng);
            char path[1300];
            if (p == P_ROWS)
                snprintf(path, sizeof path, "%s", seeds[P_ROWS][0]);
            else
                snprintf(path, sizeof path, "%s/fuzz-%d-%04d.json", work, p, i);
            write_all(path, m.p, m.n);
            write_all(last, path, strlen(path));
            ameir_clear_error();
            int code = load(p, p == P_ROWS ? cfg_rows : path, p == P_ROWS ? rows_src : src, out);
            const char *msg = ameir_last_error();
            /* dataset configs may be refused for their missing raw files, which they name */
            const char *name = p == P_ROWS ? "rows.csv" : path;
            int named = strstr(msg, name) != NULL || (p == P_DATASET && strstr(msg, src) != NULL);
            res[p].inputs++;
            if (getenv("AMEIR_FUZZ_VERBOSE"))
                fprintf(stderr, "%s %d: %d %s\n", parser_names[p], i, code, msg);
            if (code == 0) {
                res[p].accepted++;
            } else if (ameir_exit_code(code) == 2 && named) {
                res[p].refused++;
                res[p].absent += p == P_DATASET && strstr(msg, src) != NULL;
                if (p == P_ROWS) {
                    const char *at = strstr(msg, "rows.csv:");
                    res[p].with_line += at && at[9] >= '0' && at[9] <= '9';
                }
            } else {
                res[p].bad++;
                if (failures++ < 20)
                    fprintf(stderr, "test_fuzz: %s mutant %s: code %d (exit %d), message does %sname the file: %s\n",
                            parser_names[p], path, code, ameir_exit_code(code), named ? "" : "not ", msg);
            }
            if (code == 0 || ameir_exit_code(code) == 2)
                if (p != P_ROWS)
                    unlink(path); /* keep only the mutants that failed */
            free(m.p);
            free(b.p);
        }
    }
    printf("%-15s %7s %9s %8s %4s\n", "parser", "inputs", "accepted", "refused", "bad");
    for (int p = 0; p < N_PARSERS; p++)
        printf("%-15s %7d %9d %8d %4d\n", parser_names[p], res[p].inputs, res[p].accepted, res[p].refused, res[p].bad);
    printf("raw rows refused with the file and line named: %d of %d\n", res[P_ROWS].with_line, res[P_ROWS].refused);
    printf("dataset configs refused only for their absent raw files (valid mutants): %d of %d\n", res[P_DATASET].absent,
           res[P_DATASET].refused);
    free(clean.p);
    if (!failures)
        rm_tree(work);
    else
        printf("test_fuzz: %d bad outcomes; mutants kept in %s\n", failures, work);
    return failures ? 1 : 0;
}
