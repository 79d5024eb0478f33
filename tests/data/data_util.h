/* Helpers for the data tests: temporary directories, small files, byte comparison. */
#ifndef AMEIR_TESTS_DATA_UTIL_H
#define AMEIR_TESTS_DATA_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <sys/stat.h>

static inline int du_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void du_rm_rf(const char *dir) { nftw(dir, du_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* A fresh directory under TMPDIR (or /tmp), written into out. */
static inline int du_tempdir(char *out, size_t n, const char *tag) {
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/ameir-%s-XXXXXX", t && t[0] ? t : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

static inline void du_write(const char *dir, const char *name, const char *text) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Whole file into a malloc'd buffer; NULL if missing. */
/* dir/name gzip-compressed (zlib), as gzip(1) would write it. */
static inline void du_write_gz(const char *dir, const char *name, const char *text) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, text, (unsigned)strlen(text)) != (int)strlen(text) || gzclose(g) != Z_OK)
        fprintf(stderr, "cannot write %s\n", path);
}

static inline char *du_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

/* 1 if both files exist with the same bytes. */
static inline int du_same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = du_read(a, &na), *y = du_read(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

#endif
