/* Speed of one trial trained data-parallel (issue 12: spare workers join trials), under the
 * real mpirun: training steps per second of one net
 *   plain   rank 0 alone, no virtual shards (what a search without "shards" runs);
 *   S alone rank 0 alone on S virtual shards (a trial no spare worker joins);
 *   S on g  all g ranks of the job on the same S shards (a group of g),
 * interleaved `reps` times; prints each run and the medians. Rank 0 also checks that the
 * group ends with the weights of "S alone" (the identity the search relies on).
 *
 * With a 7th argument "group" only the group runs (no plain, no alone, no check): a run to
 * profile each rank of (perf record per rank counts cycles whatever else loads the cores).
 *
 * usage: mpirun -np G dp_rate DATA_DIR ARCH.json [steps 400] [shards 4] [reps 5] [batch 256] [group] */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/arch.h"
#include "ameir/cluster.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/net.h"
#include "ameir/rng.h"
#include "ameir/train.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t weights_hash(ameir_net *net) {
    ameir_params *p = ameir_net_params(net);
    return ameir_hash_bytes(p->data, p->total * sizeof(float));
}

/* Train a fresh net `steps` steps with c; seconds, and the weights' hash in *h. */
static double train_once(const ameir_dataset *ds, const ameir_arch *arch, const ameir_split *train, const ameir_train_config *c,
                         int64_t steps, uint64_t *h) {
    const ameir_schema *s = ameir_dataset_schema(ds);
    ameir_net *net = NULL;
    if (ameir_net_create(&net, arch, s, 16, ameir_train_batch_rows(c, s), 11) < 0) {
        fprintf(stderr, "dp_rate: %s\n", ameir_last_error());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    double loss = 0, t0 = ameir_now();
    if (ameir_train_steps(net, train, c, steps, &loss) < 0) {
        fprintf(stderr, "dp_rate: %s\n", ameir_last_error());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    double t = ameir_now() - t0;
    *h = weights_hash(net);
    ameir_net_free(net);
    return t;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 3) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np G dp_rate DATA_DIR ARCH.json [steps 400] [shards 4] [reps 5] [batch 256]\n");
        MPI_Finalize();
        return 2;
    }
    int64_t steps = argc > 3 ? atoll(argv[3]) : 400;
    int shards = argc > 4 ? atoi(argv[4]) : 4, reps = argc > 5 ? atoi(argv[5]) : 5, batch = argc > 6 ? atoi(argv[6]) : 256;
    int group_only = argc > 7 && !strcmp(argv[7], "group");
    if (steps < 1 || shards < 1 || reps < 1 || reps > 64 || batch < shards) {
        if (rank == 0)
            fprintf(stderr, "dp_rate: steps >= 1, 1 <= reps <= 64, 1 <= shards <= batch\n");
        MPI_Finalize();
        return 2;
    }
    ameir_dataset *ds = NULL;
    ameir_split *train = NULL;
    ameir_arch arch;
    if (ameir_dataset_open(&ds, argv[1]) < 0 || ameir_split_load(&train, ds, "train", 0, -1) < 0 ||
        ameir_arch_load(&arch, argv[2]) < 0 || ameir_arch_check_schema(&arch, ameir_dataset_schema(ds), argv[2]) < 0) {
        fprintf(stderr, "dp_rate: %s\n", ameir_last_error());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    ameir_dp_comm dc;
    if (ameir_dp_comm_init(&dc, MPI_COMM_WORLD) < 0) {
        fprintf(stderr, "dp_rate: %s\n", ameir_last_error());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    ameir_train_config plain = ameir_train_config_default();
    plain.batch = batch;
    plain.seed = 7;
    ameir_train_config alone = plain, group = plain;
    alone.shards = group.shards = shards;
    group.comm = &dc.base;
    double t_plain[64], t_alone[64], t_group[64];
    int same = 1;
    for (int r = 0; r < reps; r++) {
        uint64_t h_alone = 0, h_group = 0, h = 0;
        if (rank == 0 && !group_only) {
            t_plain[r] = train_once(ds, &arch, train, &plain, steps, &h);
            t_alone[r] = train_once(ds, &arch, train, &alone, steps, &h_alone);
        }
        MPI_Barrier(MPI_COMM_WORLD); /* the others idle meanwhile (they poll: a shared core is not used) */
        t_group[r] = train_once(ds, &arch, train, &group, steps, &h_group);
        if (rank == 0 && group_only) {
            printf("run %d: %d shards on %d ranks %.1f steps/s\n", r + 1, shards, size, (double)steps / t_group[r]);
        } else if (rank == 0) {
            same &= h_alone == h_group;
            printf("run %d: plain %.1f steps/s, %d shards alone %.1f, %d shards on %d ranks %.1f%s\n", r + 1,
                   (double)steps / t_plain[r], shards, (double)steps / t_alone[r], shards, size, (double)steps / t_group[r],
                   h_alone == h_group ? "" : "  (weights differ!)");
            fflush(stdout);
        }
    }
    if (rank == 0 && !group_only) {
        double p = (double)steps / median(t_plain, reps), a = (double)steps / median(t_alone, reps),
               g = (double)steps / median(t_group, reps);
        printf("median of %d: plain %.1f steps/s, %d shards alone %.1f (%.2fx plain), on %d ranks %.1f (%.2fx alone, %.2fx plain); "
               "group weights %s alone's\n",
               reps, p, shards, a, a / p, size, g, g / a, g / p, same ? "equal" : "DIFFER from");
    }
    ameir_dp_comm_destroy(&dc);
    ameir_split_free(train);
    ameir_dataset_free(ds);
    MPI_Finalize();
    return same ? 0 : 1;
}
