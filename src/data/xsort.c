/* External sort of fixed-size records (the streaming prep's orders by user and time):
 * records gather in a chunk of bounded size; a full chunk is sorted and written as a run
 * to an unlinked temporary file; the runs are then merged through a binary heap. Memory:
 * the chunk, plus a read buffer per run while merging. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "prep_internal.h"

#define RUN_BUFFER (1 << 18)

int xsort_init(xsort *s, size_t rec, xsort_cmp cmp, size_t chunk_bytes, const char *dir, const char *name) {
    memset(s, 0, sizeof *s);
    s->rec = rec;
    s->cmp = cmp;
    s->cap = chunk_bytes / rec > 0 ? chunk_bytes / rec : 1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (!(s->buf = malloc(s->cap * rec)))
        return ameir_fail(AMEIR_ENOMEM, "out of memory for a sort chunk of %zu bytes", s->cap * rec);
    return 0;
}

/* The chunk sorted and written as the next run (removed from the directory at once: it
 * lives as long as its FILE). */
static int spill_run(xsort *s) {
    qsort(s->buf, s->n, s->rec, s->cmp);
    FILE **runs = realloc(s->runs, (size_t)(s->n_runs + 1) * sizeof *runs);
    if (!runs)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    s->runs = runs;
    char path[DCFG_PATH * 2 + 96];
    snprintf(path, sizeof path, "%s/sort-%s-%d.tmp", s->dir, s->name, s->n_runs);
    FILE *f = fopen(path, "w+b");
    if (!f)
        return ameir_fail(AMEIR_EIO, "%s: cannot create (%s)", path, strerror(errno));
    remove(path);
    s->runs[s->n_runs++] = f;
    if (fwrite(s->buf, s->rec, s->n, f) != s->n || fflush(f))
        return ameir_fail(AMEIR_EIO, "%s: write failed (disk full?)", path);
    s->n = 0;
    return 0;
}

int xsort_add(xsort *s, const void *rec) {
    if (s->n == s->cap)
        AMEIR_TRY(spill_run(s));
    memcpy(s->buf + s->n * s->rec, rec, s->rec);
    s->n++;
    s->total++;
    return 0;
}

static const unsigned char *head(const xsort *s, int run) { return s->heads + (size_t)run * s->rec; }

static int less(const xsort *s, int a, int b) { return s->cmp(head(s, a), head(s, b)) < 0; }

static void sift_down(xsort *s, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_n && less(s, s->heap[l], s->heap[m]))
            m = l;
        if (r < s->heap_n && less(s, s->heap[r], s->heap[m]))
            m = r;
        if (m == i)
            return;
        int t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

/* Run i's next record into its head; 0 at its end. */
static int read_head(xsort *s, int i) {
    size_t got = fread(s->heads + (size_t)i * s->rec, s->rec, 1, s->runs[i]);
    if (got == 1)
        return 1;
    if (ferror(s->runs[i]))
        return ameir_fail(AMEIR_EIO, "sort run %s-%d: read failed", s->name, i);
    return 0;
}

int xsort_done(xsort *s) {
    if (s->n_runs == 0) { /* everything fits the chunk: merge nothing */
        qsort(s->buf, s->n, s->rec, s->cmp);
        s->pos = 0;
        return 0;
    }
    if (s->n)
        AMEIR_TRY(spill_run(s));
    free(s->buf);
    s->buf = NULL;
    s->heads = malloc((size_t)s->n_runs * s->rec);
    s->heap = malloc((size_t)s->n_runs * sizeof *s->heap);
    s->run_bufs = calloc((size_t)s->n_runs, sizeof *s->run_bufs);
    if (!s->heads || !s->heap || !s->run_bufs)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int i = 0; i < s->n_runs; i++) {
        if (!(s->run_bufs[i] = malloc(RUN_BUFFER)))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        setvbuf(s->runs[i], s->run_bufs[i], _IOFBF, RUN_BUFFER);
        if (fseek(s->runs[i], 0, SEEK_SET))
            return ameir_fail(AMEIR_EIO, "sort run %s-%d: cannot rewind", s->name, i);
        int got = read_head(s, i);
        AMEIR_TRY(got);
        if (got)
            s->heap[s->heap_n++] = i;
    }
    for (int i = s->heap_n / 2 - 1; i >= 0; i--)
        sift_down(s, i);
    return 0;
}

int xsort_next(xsort *s, void *rec) {
    if (s->n_runs == 0) {
        if (s->pos == s->n)
            return 0;
        memcpy(rec, s->buf + s->pos++ * s->rec, s->rec);
        return 1;
    }
    if (s->heap_n == 0)
        return 0;
    int i = s->heap[0];
    memcpy(rec, head(s, i), s->rec);
    int got = read_head(s, i);
    AMEIR_TRY(got);
    if (!got)
        s->heap[0] = s->heap[--s->heap_n];
    if (s->heap_n)
        sift_down(s, 0);
    return 1;
}

void xsort_free(xsort *s) {
    for (int i = 0; i < s->n_runs; i++) {
        fclose(s->runs[i]);
        if (s->run_bufs)
            free(s->run_bufs[i]);
    }
    free(s->runs);
    free(s->run_bufs);
    free(s->buf);
    free(s->heads);
    free(s->heap);
    memset(s, 0, sizeof *s);
}
