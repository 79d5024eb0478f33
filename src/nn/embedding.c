/* Embedding lookup with mean pooling over multi-valued fields.
 * ids (N, w) in [0, V), id 0 = padding (skipped); table (V, d); out (N, d).
 * out[n] = mean of table[ids[n, j]] over the non-zero ids j (zeros if none). */
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"

void ameir_embedding_forward(real *out, const int32_t *ids, const real *table, int N, int w, int V, int d) {
    AMEIR_ASSERT(N >= 0 && w > 0 && V > 0 && d > 0);
    for (int n = 0; n < N; n++) {
        real *o = out + (size_t)n * d;
        const int32_t *row = ids + (size_t)n * w;
        memset(o, 0, (size_t)d * sizeof(real));
        int count = 0;
        for (int j = 0; j < w; j++) {
            int32_t id = row[j];
            AMEIR_ASSERT(id >= 0 && id < V);
            if (id == 0)
                continue;
            const real *t = table + (size_t)id * d;
            for (int c = 0; c < d; c++)
                o[c] += t[c];
            count++;
        }
        if (count > 1) {
            real inv = (real)1 / (real)count;
            for (int c = 0; c < d; c++)
                o[c] *= inv;
        }
    }
}

void ameir_embedding_backward(real *dtable, const real *dout, const int32_t *ids, int N, int w, int V, int d) {
    /* out = (1/count) sum_j table[id_j], so each used row gets dout / count (a row used
     * twice in the same field gets it twice) */
    for (int n = 0; n < N; n++) {
        const int32_t *row = ids + (size_t)n * w;
        const real *g = dout + (size_t)n * d;
        int count = 0;
        for (int j = 0; j < w; j++)
            count += row[j] != 0;
        if (count == 0)
            continue;
        real inv = (real)1 / (real)count;
        for (int j = 0; j < w; j++) {
            int32_t id = row[j];
            AMEIR_ASSERT(id >= 0 && id < V);
            if (id == 0)
                continue;
            real *dt = dtable + (size_t)id * d;
            for (int c = 0; c < d; c++)
                dt[c] += g[c] * inv;
        }
    }
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int ameir_embedding_touched_rows(int32_t *rows, uint8_t *seen, const int32_t *ids, size_t n, int V) {
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        AMEIR_ASSERT(id >= 0 && id < V);
        if (id == 0 || seen[id])
            continue;
        seen[id] = 1;
        rows[count++] = id;
    }
    ameir_embedding_sort_rows(rows, count, seen, V);
    return count;
}

void ameir_embedding_sort_rows(int32_t *rows, int count, uint8_t *seen, int V) {
    if ((size_t)V > 32 * (size_t)count) { /* few rows of a large table: sort them */
        qsort(rows, (size_t)count, sizeof *rows, cmp_i32);
        for (int i = 0; i < count; i++)
            seen[rows[i]] = 0;
        return;
    }
    /* the flags in id order are the sorted rows; 8 of them at a time over the zeros */
    int k = 0, i = 0;
    while (i < V && k < count) {
        uint64_t word = 0;
        if (i + 8 <= V)
            memcpy(&word, seen + i, sizeof word);
        if (i + 8 <= V && word == 0) {
            i += 8;
            continue;
        }
        int end = i + 8 < V ? i + 8 : V;
        for (; i < end; i++)
            if (seen[i]) {
                seen[i] = 0;
                rows[k++] = i;
            }
    }
    AMEIR_ASSERT(k == count);
}
