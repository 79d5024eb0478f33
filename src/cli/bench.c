/* ameir bench: training throughput of one architecture on synthetic batches of the bench
 * schema (PRODUCT.md section 6). Full training steps (forward, backward, Adam) are timed
 * after a few warm-up steps; the last line is "samples/s: N" (or, with --json, a JSON
 * object after it). tests/bench/torch_bench.py is the same measurement in PyTorch. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ameir/arch.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/nn.h"
#include "ameir/net.h"
#include "commands.h"
#include "options.h"

#define BENCH_BATCHES 8 /* distinct synthetic batches, used in turn */

/* The bench schema: MovieLens-1M-like fields; ids 0 padding, 1 out of vocabulary, then
 * the values, so a field with N values has vocabulary N + 2. */
static const struct {
    const char *name;
    int values;
} bench_fields[] = {{"user", 6040}, {"gender", 2}, {"age", 7},    {"occupation", 21},
                    {"zip", 3402},  {"item", 3706}, {"genre", 18}, {"year", 81}};
enum { BENCH_F = sizeof bench_fields / sizeof bench_fields[0], BENCH_ITEM = 5 };

static void bench_schema(ameir_schema *s, int seq) {
    memset(s, 0, sizeof *s);
    s->task = AMEIR_TASK_CTR;
    s->n_fields = BENCH_F;
    for (int f = 0; f < BENCH_F; f++) {
        ameir_field *fl = &s->fields[f];
        snprintf(fl->name, sizeof fl->name, "%s", bench_fields[f].name);
        fl->vocab = bench_fields[f].values + 2;
        fl->width = 1;
        fl->offset = f;
        fl->is_item = f == BENCH_ITEM;
    }
    s->x_width = BENCH_F;
    s->item_field = BENCH_ITEM;
    s->item_width = 1;
    s->seq_len = seq;
}

/* Random ids and labels; the first L/5 history positions are padding. */
static void fill_batch(ameir_batch *b, const ameir_schema *s, int n, ameir_rng *rng) {
    int L = s->seq_len;
    b->n = n;
    for (int r = 0; r < n; r++) {
        for (int f = 0; f < s->n_fields; f++)
            b->x[(size_t)r * s->x_width + f] = 2 + (int32_t)ameir_rng_below(rng, (uint64_t)s->fields[f].vocab - 2);
        for (int l = 0; l < L; l++)
            b->hist[(size_t)r * L + l] =
                l < L / 5 ? 0 : 2 + (int32_t)ameir_rng_below(rng, (uint64_t)s->fields[BENCH_ITEM].vocab - 2);
        b->label[r] = (float)ameir_rng_below(rng, 2);
        b->user[r] = b->x[(size_t)r * s->x_width];
        b->row[r] = r;
    }
}

/* CPU seconds of the whole process (all threads): on a busy machine samples per CPU second
 * says more than samples per wall-clock second. */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct bench_result {
    double seconds, cpu_seconds, samples_per_s, first_loss, last_loss;
    int64_t params;
} bench_result;

static int run(const ameir_arch *arch, int batch, int seq, int dim, int steps, int warmup, int threads, uint64_t seed,
               bench_result *res) {
    ameir_schema s;
    ameir_net *net = NULL;
    ameir_batch b[BENCH_BATCHES];
    memset(b, 0, sizeof b);
    bench_schema(&s, seq);
    int rc = ameir_net_create(&net, arch, &s, dim, batch, seed);
    if (rc < 0 || (rc = ameir_net_set_threads(net, threads)) < 0)
        goto done;
    ameir_rng data = ameir_rng_stream(seed, 1);
    for (int k = 0; k < BENCH_BATCHES; k++) {
        if ((rc = ameir_batch_init(&b[k], &s, batch)) < 0)
            goto done;
        fill_batch(&b[k], &s, batch, &data);
    }
    ameir_train_opts o = ameir_train_opts_default();
    res->params = ameir_net_param_count(net);
    double t0 = 0, c0 = 0;
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) {
            t0 = ameir_now();
            c0 = cpu_seconds();
        }
        ameir_rng rng = ameir_rng_stream(seed, 2 + (uint64_t)i);
        float loss = ameir_net_train_step(net, &b[i % BENCH_BATCHES], &o, &rng);
        if (!isfinite(loss)) {
            rc = ameir_fail(AMEIR_EDIVERGED, "bench: the loss became %g at step %d", (double)loss, i);
            goto done;
        }
        if (i == warmup)
            res->first_loss = loss;
        res->last_loss = loss;
    }
    res->seconds = ameir_now() - t0;
    res->cpu_seconds = cpu_seconds() - c0;
    res->samples_per_s = (double)steps * batch / res->seconds;
done:
    for (int k = 0; k < BENCH_BATCHES; k++)
        ameir_batch_destroy(&b[k]);
    ameir_net_free(net);
    return rc;
}

int ameir_cmd_bench(int argc, char **argv) {
    const char *arch_path = NULL;
    int batch = 256, seq = 50, dim = 16, steps = 200, threads = 1, warmup = 10, json = 0, help = 0;
    uint64_t seed = 1;
    ameir_opt opts[] = {
        {"arch", AMEIR_OPT_STR, &arch_path, 1, 0, "FILE", "architecture JSON (required)", 0},
        {"batch", AMEIR_OPT_INT, &batch, 1, 65536, "B", "rows per step (default 256)", 0},
        {"seq", AMEIR_OPT_INT, &seq, 0, 10000, "L", "history length, first L/5 padding; 0 = none (default 50)", 0},
        {"dim", AMEIR_OPT_INT, &dim, 1, 1024, "D", "embedding dimension (default 16)", 0},
        {"steps", AMEIR_OPT_INT, &steps, 1, 1e9, "N", "timed training steps (default 200)", 0},
        {"warmup", AMEIR_OPT_INT, &warmup, 0, 1e6, "N", "untimed steps first (default 10)", 0},
        {"threads", AMEIR_OPT_INT, &threads, 1, 1024, "T", "threads of a step (rows split over them; default 1)", 0},
        {"seed", AMEIR_OPT_U64, &seed, 1, 0, "S", "seed of weights and data (default 1)", 0},
        {"json", AMEIR_OPT_FLAG, &json, 1, 0, NULL, "print a JSON object as the last line", 0},
        {0},
    };
    static const char *const required[] = {"arch", NULL};
    const char *synopsis = "bench --arch FILE [--batch 256] [--seq 50] [--dim 16] [--steps 200] [--threads 1] [--json]";
    int rc = ameir_opts_parse(opts, argc, argv, NULL, 0, NULL, &help);
    if (rc == 0 && help) {
        ameir_opts_usage(stdout, synopsis,
                         "Training throughput (forward, backward, Adam) on synthetic batches of the bench schema: "
                         "user, gender, age, occupation, zip, item, genre, year; history of item ids.",
                         opts);
        return 0;
    }
    if (rc == 0)
        rc = ameir_opts_require(opts, required);
    if (rc < 0) {
        ameir_report_error("bench", rc);
        ameir_opts_usage(stderr, synopsis, NULL, opts);
        return 2;
    }
    ameir_arch arch;
    if ((rc = ameir_arch_load(&arch, arch_path)) < 0)
        return ameir_report_error("bench", rc);
    /* the network splits each batch's rows over the threads; the layers' BLAS calls then
     * run inside them, so OpenBLAS itself stays on one thread */
    openblas_set_num_threads(1);
    bench_result res;
    memset(&res, 0, sizeof res);
    if ((rc = run(&arch, batch, seq, dim, steps, warmup, threads, seed, &res)) < 0)
        return ameir_report_error("bench", rc);
    printf("arch: %s (%lld parameters)\n", arch_path, (long long)res.params);
    printf("batch %d, seq %d, dim %d, threads %d, %d steps after %d warm-up\n", batch, seq, dim, threads, steps,
           warmup);
    printf("loss: %.6f -> %.6f\n", res.first_loss, res.last_loss);
    printf("seconds: %.3f, ms/step: %.3f, cpu seconds: %.3f (%.0f samples per cpu second)\n", res.seconds,
           1e3 * res.seconds / steps, res.cpu_seconds, (double)steps * batch / res.cpu_seconds);
    /* OpenBLAS 0.3.21 takes a CPU newer than itself for Prescott (SSE3 kernels) */
    const char *core = openblas_get_corename();
    printf("blas: OpenBLAS %s kernels, dense products on %s\n", core ? core : "?",
           ameir_gemm_rows_blas() ? "the BLAS" : "fixed-order loops (this kernel is not row-symmetric)");
    if (core && !strcmp(core, "Prescott") && __builtin_cpu_supports("avx512f"))
        printf("hint: this CPU has AVX-512 but OpenBLAS runs its generic kernels; try OPENBLAS_CORETYPE=SkylakeX "
               "and compare (docs/performance.md)\n");
    else if (!ameir_gemm_rows_blas() && __builtin_cpu_supports("avx"))
        printf("hint: Sandybridge's kernels (AVX) pass the row check; for MLP-heavy archs try "
               "OPENBLAS_CORETYPE=Sandybridge and compare (docs/performance.md)\n");
    printf("samples/s: %.0f\n", res.samples_per_s);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "command", "bench");
        cJSON_AddStringToObject(o, "arch", arch_path);
        cJSON_AddNumberToObject(o, "batch", batch);
        cJSON_AddNumberToObject(o, "seq", seq);
        cJSON_AddNumberToObject(o, "dim", dim);
        cJSON_AddNumberToObject(o, "threads", threads);
        cJSON_AddNumberToObject(o, "steps", steps);
        cJSON_AddNumberToObject(o, "warmup", warmup);
        cJSON_AddNumberToObject(o, "params", (double)res.params);
        cJSON_AddNumberToObject(o, "seconds", res.seconds);
        cJSON_AddNumberToObject(o, "cpu_seconds", res.cpu_seconds);
        cJSON_AddNumberToObject(o, "samples_per_s", res.samples_per_s);
        cJSON_AddNumberToObject(o, "first_loss", res.first_loss);
        cJSON_AddNumberToObject(o, "last_loss", res.last_loss);
        cJSON_AddStringToObject(o, "blas_core", core ? core : "");
        cJSON_AddBoolToObject(o, "gemm_on_blas", ameir_gemm_rows_blas());
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text)
            return ameir_report_error("bench", ameir_fail(AMEIR_ENOMEM, "bench: out of memory for the JSON line"));
        printf("%s\n", text);
        free(text);
    }
    return 0;
}
