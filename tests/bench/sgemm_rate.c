/* The machine's single-core SGEMM rate, for scale in docs/performance.md: OpenBLAS on one
 * thread, square float matrices, best of several repetitions, GFLOP/s = 2 n^3 / time.
 * usage: sgemm_rate [n ...]   (default 256 512 1024) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double rate(int n) {
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "sgemm_rate: out of memory for n = %d\n", n);
        exit(1);
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(i % 7) * 0.25f;
        b[i] = (float)(i % 5) * 0.5f;
    }
    double flops = 2.0 * n * n * n, best = 0;
    int reps = n <= 256 ? 200 : n <= 512 ? 40 : 8;
    for (int t = 0; t < 5; t++) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = flops * reps / (now() - t0) / 1e9;
        if (g > best)
            best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int main(int argc, char **argv) {
    openblas_set_num_threads(1);
    int sizes[8] = {256, 512, 1024}, ns = 3;
    if (argc > 1) {
        ns = 0;
        for (int i = 1; i < argc && ns < 8; i++) {
            sizes[ns] = atoi(argv[i]);
            if (sizes[ns] <= 0) {
                fprintf(stderr, "sgemm_rate: size must be a positive integer, got %s\n", argv[i]);
                return 2;
            }
            ns++;
        }
    }
    for (int i = 0; i < ns; i++)
        printf("sgemm n=%d, 1 thread: %.1f GFLOP/s\n", sizes[i], rate(sizes[i]));
    return 0;
}
