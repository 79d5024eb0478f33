/* The row-batched product of the layers, out = alpha inp w^T + beta out, such that a row's
 * result does not depend on how many rows share the call.
 *
 * OpenBLAS picks its kernel from the shape and the CPU: SkylakeX/Cooperlake send a "small"
 * sgemm (M*N <= 1200, K >= 32) to a kernel that sums in another order than the blocked
 * one, and every kernel handles the rows past the last full tile of its unroll with an
 * edge kernel of its own (on a CPU newer than the library, 0.3.21 falls back to Prescott,
 * whose one-row edge differs from its full tiles). So a history encoded alone and the same
 * history among 100 candidate rows, or a batch split over 1 or 3 ranks, would round
 * differently. Every product is therefore issued as calls of exactly GEMM_ROWS rows (the
 * tail padded with zero rows in a per-thread scratch): one shape per layer, so one kernel,
 * and no edge tiles. That suffices where the kernel treats the rows of a tile alike
 * (SkylakeX, Cooperlake, Sandybridge, Prescott), not on Haswell and Zen, whose sgemm sums
 * rows 6-11 of each 12-row tile in another order. So the first call probes the kernel once
 * (a row moved through every position of a block) and, where rows are not alike, every
 * product runs through plain loops with a fixed summation order instead (slower; said once
 * on stderr). tests/nn/test_blas.c holds the rows to one-row and many-row calls, also
 * under OPENBLAS_CORETYPE=Haswell. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/nn.h"
#include "nn_math.h"

#define GEMM_ROWS 64 /* a multiple of every x86 sgemm/dgemm unroll in M (at most 32) */
#define PAD_STACK 16384 /* reals of stack scratch for the tail block (In + O <= 256) */

/* the per-thread tail scratch, freed when its thread ends */
static pthread_key_t pad_key;
static pthread_once_t pad_once = PTHREAD_ONCE_INIT;

typedef struct pad_buf {
    size_t cap;
    real data[];
} pad_buf;

static void make_key(void) {
    if (pthread_key_create(&pad_key, free) != 0)
        AMEIR_ASSERT(0 && "cannot create the gemm scratch key");
}

static real *pad_scratch(size_t n) {
    pthread_once(&pad_once, make_key);
    pad_buf *b = pthread_getspecific(pad_key);
    if (!b || b->cap < n) {
        pad_buf *nb = realloc(b, sizeof *nb + n * sizeof(real));
        AMEIR_ASSERT(nb && "out of memory for the gemm scratch");
        nb->cap = n;
        b = nb;
        pthread_setspecific(pad_key, b);
    }
    return b->data;
}

/* the main thread's scratch has no thread end: free it with the process (LeakSanitizer) */
__attribute__((destructor)) static void free_main_scratch(void) {
    if (pad_once == PTHREAD_ONCE_INIT)
        return;
    free(pthread_getspecific(pad_key));
    pthread_setspecific(pad_key, NULL);
}

static void block(real *out, int ldo, const real *inp, int ldi, const real *w, int In, int O, real alpha, real beta) {
    AMEIR_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, GEMM_ROWS, O, In, alpha, inp, ldi, w, In, beta, out, ldo);
}

/* out[n, o] = alpha sum_i inp[n, i] w[o, i] (+ beta out[n, o]) in an order fixed per
 * element: eight partial sums over i mod 8 (the last In mod 8 terms into lanes 0, 1, ...),
 * then added pairwise. Tiles of LOOP_ROWS rows by LOOP_OUTS outputs share their loads (the
 * plain element-by-element loop was bound by them, at about half the BLAS's speed); the
 * order of every element's sum is the same in a tile, at an edge and in every clone, so a
 * row's bits depend neither on the rows beside it nor on the CPU's vector width. */
#define LOOP_ROWS 4
#define LOOP_OUTS 2

NN_INLINE real lanes_sum(const real *a) { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); }

NN_INLINE void put(real *y, real sum, real alpha, real beta) { *y = beta != 0 ? alpha * sum + beta * *y : alpha * sum; }

NN_INLINE real dot_fixed(const real *x, const real *wo, int In) {
    real acc[8] = {0};
    int i = 0;
    for (; i + 8 <= In; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += x[i + l] * wo[i + l];
    for (int l = 0; i < In; i++, l++)
        acc[l] += x[i] * wo[i];
    return lanes_sum(acc);
}

/* eight lanes of reals as one value: GCC's vector extension, one register in the AVX2 clone */
typedef real lanes8 __attribute__((vector_size(8 * sizeof(real))));

NN_INLINE void load8(lanes8 *v, const real *p) { memcpy(v, p, sizeof *v); }

/* The same sums eight outputs at a time: w packed per group of eight outputs with the
 * outputs innermost, eight accumulators (one per lane l of the order), and the pairwise sum
 * done on whole vectors. No sum across a vector, so narrow inputs (a GRU step, attention's
 * projections at d 16) pay no per-element reduction. */
NN_SIMD_CLONES static void loops_by_outputs(real *out, int ldo, const real *inp, int ldi, const real *w, int N, int In,
                                            int O, real alpha, real beta, real *wt) {
    int G = O / 8;
    for (int g = 0; g < G; g++)
        for (int i = 0; i < In; i++)
            for (int l = 0; l < 8; l++)
                wt[((size_t)g * In + i) * 8 + l] = w[((size_t)g * 8 + l) * In + i];
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * ldi;
        real *y = out + (size_t)n * ldo;
        for (int g = 0; g < G; g++) {
            const real *p = wt + (size_t)g * In * 8;
            lanes8 acc[8], v; /* zeroed lane by lane: a memset of them became a slow rep stos */
            for (int l = 0; l < 8; l++)
                acc[l] = (lanes8){0};
            int i = 0;
            for (; i + 8 <= In; i += 8)
                for (int l = 0; l < 8; l++) {
                    load8(&v, p + (size_t)(i + l) * 8);
                    acc[l] += x[i + l] * v;
                }
            for (int l = 0; i < In; i++, l++) {
                load8(&v, p + (size_t)i * 8);
                acc[l] += x[i] * v;
            }
            lanes8 sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])), yv;
            if (beta != 0) {
                load8(&yv, y + (size_t)g * 8);
                sum = alpha * sum + beta * yv;
            } else {
                sum = alpha * sum;
            }
            memcpy(y + (size_t)g * 8, &sum, sizeof sum);
        }
        for (int o = G * 8; o < O; o++)
            put(y + o, dot_fixed(x, w + (size_t)o * In, In), alpha, beta);
    }
}

NN_SIMD_CLONES static void loops(real *out, int ldo, const real *inp, int ldi, const real *w, int N, int In, int O,
                                 real alpha, real beta) {
    int n = 0;
    for (; n + LOOP_ROWS <= N; n += LOOP_ROWS) {
        const real *x = inp + (size_t)n * ldi;
        int o = 0;
        for (; o + LOOP_OUTS <= O; o += LOOP_OUTS) {
            const real *wo = w + (size_t)o * In;
            lanes8 acc[LOOP_ROWS][LOOP_OUTS];
            for (int r = 0; r < LOOP_ROWS; r++)
                for (int c = 0; c < LOOP_OUTS; c++)
                    acc[r][c] = (lanes8){0};
            int i = 0;
            for (; i + 8 <= In; i += 8) {
                lanes8 wv[LOOP_OUTS];
                for (int c = 0; c < LOOP_OUTS; c++)
                    load8(&wv[c], wo + (size_t)c * In + i);
                for (int r = 0; r < LOOP_ROWS; r++) {
                    lanes8 xv;
                    load8(&xv, x + (size_t)r * ldi + i);
                    for (int c = 0; c < LOOP_OUTS; c++)
                        acc[r][c] += xv * wv[c];
                }
            }
            for (int r = 0; r < LOOP_ROWS; r++)
                for (int c = 0; c < LOOP_OUTS; c++) {
                    real a[8];
                    memcpy(a, &acc[r][c], sizeof a);
                    for (int j = i, l = 0; j < In; j++, l++)
                        a[l] += x[(size_t)r * ldi + j] * wo[(size_t)c * In + j];
                    put(out + (size_t)(n + r) * ldo + o + c, lanes_sum(a), alpha, beta);
                }
        }
        for (; o < O; o++)
            for (int r = 0; r < LOOP_ROWS; r++)
                put(out + (size_t)(n + r) * ldo + o, dot_fixed(x + (size_t)r * ldi, w + (size_t)o * In, In), alpha, beta);
    }
    for (; n < N; n++)
        for (int o = 0; o < O; o++)
            put(out + (size_t)n * ldo + o, dot_fixed(inp + (size_t)n * ldi, w + (size_t)o * In, In), alpha, beta);
}

static int blas_rows_alike = 1;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* Does a row give the same bits at every position of a GEMM_ROWS block? Shapes of the
 * layers: conv, gru and attention projections, the MLP and the output. */
static void probe(void) {
    static const int shapes[][2] = {{24, 8}, {8, 8}, {96, 32}, {36, 128}, {1, 64}, {80, 200}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && blas_rows_alike; s++) {
        int O = shapes[s][0], In = shapes[s][1];
        real *a = calloc((size_t)GEMM_ROWS * In, sizeof(real)), *w = malloc(sizeof(real) * (size_t)O * In);
        real *c = malloc(sizeof(real) * (size_t)GEMM_ROWS * O), *ref = malloc(sizeof(real) * (size_t)O);
        AMEIR_ASSERT(a && w && c && ref && "out of memory probing the BLAS");
        uint32_t x = 12345;
        for (int i = 0; i < O * In; i++)
            w[i] = (real)((x = x * 1664525u + 1013904223u) >> 8) / (real)(1 << 24) - (real)0.5;
        for (int q = 0; q < GEMM_ROWS && blas_rows_alike; q++) {
            memset(a, 0, sizeof(real) * (size_t)GEMM_ROWS * In);
            for (int i = 0; i < In; i++)
                a[(size_t)q * In + i] = (real)((i * 7919 + 13) % 101) / (real)101 - (real)0.5;
            block(c, O, a, In, w, In, O, 1, 0);
            if (q == 0)
                memcpy(ref, c, sizeof(real) * (size_t)O);
            else if (memcmp(ref, c + (size_t)q * O, sizeof(real) * (size_t)O))
                blas_rows_alike = 0;
        }
        free(a), free(w), free(c), free(ref);
    }
    if (!blas_rows_alike)
        fprintf(stderr, "ameir: this BLAS kernel sums rows of a tile differently; dense products use plain loops "
                        "(slower) so that results do not depend on how rows are batched\n");
}

int ameir_gemm_rows_blas(void) {
    pthread_once(&probe_once, probe);
    return blas_rows_alike;
}

void ameir_gemm_rows(real *out, int ldo, const real *inp, int ldi, const real *w, int N, int In, int O, real alpha,
                     real beta) {
    AMEIR_ASSERT(N >= 0 && In > 0 && O > 0 && ldi >= In && ldo >= O);
    pthread_once(&probe_once, probe);
    if (!blas_rows_alike) {
        /* narrow inputs by outputs (measured faster below In 64 on the bench archs; the packed
         * w on the stack: nothing allocated in a step), else by tiles */
        real packed[PAD_STACK];
        if (O >= 8 && In < 64 && (size_t)(O / 8) * 8 * In <= PAD_STACK)
            loops_by_outputs(out, ldo, inp, ldi, w, N, In, O, alpha, beta, packed);
        else
            loops(out, ldo, inp, ldi, w, N, In, O, alpha, beta);
        return;
    }
    int full = N / GEMM_ROWS * GEMM_ROWS;
    for (int r = 0; r < full; r += GEMM_ROWS)
        block(out + (size_t)r * ldo, ldo, inp + (size_t)r * ldi, ldi, w, In, O, alpha, beta);
    int n = N - full;
    if (n == 0)
        return;
    /* the tail block: on the stack when it fits (no allocation in a training step), else in
     * this thread's heap scratch, allocated on its first wide call */
    real stack[PAD_STACK];
    size_t need = (size_t)GEMM_ROWS * (In + O);
    real *a = need <= PAD_STACK ? stack : pad_scratch(need), *c = a + (size_t)GEMM_ROWS * In;
    for (int r = 0; r < n; r++) {
        memcpy(a + (size_t)r * In, inp + (size_t)(full + r) * ldi, (size_t)In * sizeof(real));
        if (beta != 0)
            memcpy(c + (size_t)r * O, out + (size_t)(full + r) * ldo, (size_t)O * sizeof(real));
    }
    memset(a + (size_t)n * In, 0, (size_t)(GEMM_ROWS - n) * In * sizeof(real));
    if (beta != 0)
        memset(c + (size_t)n * O, 0, (size_t)(GEMM_ROWS - n) * O * sizeof(real));
    block(c, O, a, In, w, In, O, alpha, beta);
    for (int r = 0; r < n; r++)
        memcpy(out + (size_t)(full + r) * ldo, c + (size_t)r * O, (size_t)O * sizeof(real));
}
