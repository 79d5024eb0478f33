/* Large inputs shaped like the public datasets, grown from the shipped samples, so scale
 * tests and prep benchmarks need no download:
 *   gen_scale criteo SAMPLE.tsv ROWS [SEED] [NEW]  > train.txt   (Criteo Kaggle train.txt)
 *   gen_scale taobao SAMPLE.csv ROWS [SEED] [NEW]  > UserBehavior.csv
 * criteo: each row is a random sample row (label and the 13 integers kept); each of its 26
 * categorical cells is re-drawn with probability 0.3: a new value (probability NEW, default
 * 0.05) or an earlier re-drawn value of the field, skewed to the early ones (u^3), so the
 * vocabularies grow with the rows as in real logs (about 26 * 0.3 * NEW new values a row)
 * and a long tail stays below min_freq. Values are 8 hex digits like Criteo's.
 * taobao: user, item, category, behavior, time; users and items re-drawn the same way (items
 * keep a category drawn once per item), times increase through the file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/rng.h"

#define MAX_SAMPLE 200000
#define LINE 4096

static char *lines[MAX_SAMPLE];
static int n_lines;

static int read_sample(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gen_scale: %s: cannot open\n", path);
        return -1;
    }
    char buf[LINE];
    while (n_lines < MAX_SAMPLE && fgets(buf, sizeof buf, f)) {
        size_t n = strlen(buf);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (n)
            lines[n_lines++] = strdup(buf);
    }
    fclose(f);
    if (!n_lines) {
        fprintf(stderr, "gen_scale: %s: no rows\n", path);
        return -1;
    }
    return 0;
}

/* A re-drawn id of a growing space: new with probability p_new, else an earlier one. */
static uint64_t redraw(ameir_rng *rng, uint64_t *k, double p_new) {
    if (*k == 0 || ameir_rng_uniform(rng) < p_new)
        return (*k)++;
    double u = ameir_rng_uniform(rng);
    return (uint64_t)((double)*k * u * u * u);
}

static void hex8(char *out, uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--, v >>= 4)
        out[i] = digits[v & 15];
}

static int gen_criteo(long long rows, uint64_t seed, double p_new) {
    ameir_rng rng = ameir_rng_stream(seed, 0xc217e0);
    uint64_t k[26] = {0};
    char out[LINE * 2];
    for (long long r = 0; r < rows; r++) {
        const char *s = lines[ameir_rng_below(&rng, (uint64_t)n_lines)];
        char *o = out;
        int col = 0;
        for (const char *p = s;; col++) {
            const char *e = strchr(p, '\t');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (col >= 14 && ameir_rng_uniform(&rng) < 0.3) {
                uint64_t id = redraw(&rng, &k[col - 14], p_new);
                hex8(o, ameir_mix64(((uint64_t)col << 48) ^ id ^ seed) & 0xffffffffu);
                o += 8;
            } else {
                memcpy(o, p, n);
                o += n;
            }
            if (!e)
                break;
            *o++ = '\t';
            p = e + 1;
        }
        *o++ = '\n';
        if (fwrite(out, 1, (size_t)(o - out), stdout) != (size_t)(o - out))
            return 1;
    }
    return 0;
}

static int gen_taobao(long long rows, uint64_t seed, double p_new) {
    ameir_rng rng = ameir_rng_stream(seed, 0x7a0ba0);
    uint64_t n_users = 0, n_items = 0;
    long long t0 = 1511539200; /* 2017-11-25, where UserBehavior starts */
    for (long long r = 0; r < rows; r++) {
        const char *s = lines[ameir_rng_below(&rng, (uint64_t)n_lines)];
        char user[64], item[64], cat[64], beh[16];
        if (sscanf(s, "%63[^,],%63[^,],%63[^,],%15[^,],", user, item, cat, beh) != 4)
            continue;
        if (ameir_rng_uniform(&rng) < 0.3)
            snprintf(user, sizeof user, "%llu", (unsigned long long)(2000000 + redraw(&rng, &n_users, p_new)));
        if (ameir_rng_uniform(&rng) < 0.3) {
            uint64_t it = redraw(&rng, &n_items, p_new);
            snprintf(item, sizeof item, "%llu", (unsigned long long)(6000000 + it));
            snprintf(cat, sizeof cat, "%llu", (unsigned long long)(ameir_mix64(it ^ seed) % 9000));
        }
        long long t = t0 + r * 777600 / (rows > 0 ? rows : 1); /* 9 days, in file order */
        if (printf("%s,%s,%s,%s,%lld\n", user, item, cat, beh, t) < 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "criteo") && strcmp(argv[1], "taobao"))) {
        fprintf(stderr, "usage: gen_scale criteo|taobao SAMPLE ROWS [SEED] [NEW] > OUT\n");
        return 2;
    }
    long long rows = atoll(argv[3]);
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    double p_new = argc > 5 ? atof(argv[5]) : 0.05;
    if (rows < 0 || p_new < 0 || p_new > 1 || read_sample(argv[2]))
        return 2;
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    int rc = !strcmp(argv[1], "criteo") ? gen_criteo(rows, seed, p_new) : gen_taobao(rows, seed, p_new);
    if (fflush(stdout) || rc) {
        fprintf(stderr, "gen_scale: write failed\n");
        return 1;
    }
    return 0;
}
