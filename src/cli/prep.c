/* ameir prep --config FILE --source DIR --out DIR [--shards N] [--seed S]; under mpirun, over the ranks */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/cluster.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/outdir.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f, "usage: ameir prep --config configs/datasets/NAME.json [--source DIR] --out DIR [--shards N] [--seed S]\n"
               "\n"
               "Turn a raw dataset into HDF5 shards (docs/data-format.md). The config describes the raw\n"
               "files and features (docs/config-datasets.md); a generated dataset needs no --source.\n"
               "Under mpirun -np N a flat ctr dataset is read by N ranks at once (the same bytes as alone).\n"
               "  --config FILE   dataset config (JSON)\n"
               "  --source DIR    folder of the raw files\n"
               "  --out DIR       output folder (new, empty, or an earlier prep of the same dataset)\n"
               "  --shards N      shards per split (default: the config's, else 1)\n"
               "  --seed S        seed for splits, negatives and generation (default: the config's)\n");
}

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!s[0] || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Started by a launcher (mpirun, srun): the variables Open MPI and PMI set for each rank. */
static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

static int prep_alone(const char *config, const char *source, const char *out, long long shards, long long seed) {
    int rc = ameir_out_dir_check("--out", out);
    if (rc == 0)
        rc = ameir_prep(config, source, out, (int)shards, seed);
    return rc < 0 ? ameir_report_error("prep", rc) : 0;
}

int ameir_cmd_prep(int argc, char **argv) {
    const char *config = NULL, *source = NULL, *out = NULL;
    long long shards = 0, seed = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ameir prep: error: %s: expected an option with a value\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--config"))
            config = v;
        else if (!strcmp(a, "--source"))
            source = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--shards")) {
            if (parse_int(v, 1, 1024, &shards)) {
                fprintf(stderr, "ameir prep: error: --shards %s: expected an integer in [1, 1024]\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--seed")) {
            if (parse_int(v, 0, (1LL << 53), &seed)) {
                fprintf(stderr, "ameir prep: error: --seed %s: expected an integer in [0, 2^53]\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "ameir prep: error: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!config || !out) {
        fprintf(stderr, "ameir prep: error: --config and --out are required\n");
        usage(stderr);
        return 2;
    }
    if (!launched())
        return prep_alone(config, source, out, shards, seed);
    /* under mpirun or srun: every rank takes part (ameir_prep_ranks); the rank that failed
     * reports, the others end with the same exit code */
    ameir_job job;
    ameir_prep_peers peers;
    ameir_die_with_launcher();
    int rc = ameir_job_init(&job);
    if (rc < 0)
        return ameir_report_error("prep", rc);
    ameir_prep_peers_init(&peers, &job);
    rc = ameir_out_dir_check("--out", out);
    if (rc < 0 && job.rank > 0)
        ameir_clear_error(); /* every rank sees it; rank 0 says it */
    if (rc == 0)
        rc = ameir_prep_ranks(config, source, out, (int)shards, seed, &peers);
    int code = rc < 0 && ameir_last_error()[0] ? ameir_report_error("prep", rc) : ameir_exit_code(rc), all = 0;
    fflush(stderr);
    /* mpirun ends the job at the first non-zero exit: every rank has cleaned up and said its
     * error before any leaves */
    ameir_job_min(&job, code, &all);
    ameir_job_finalize(&job);
    return code;
}
