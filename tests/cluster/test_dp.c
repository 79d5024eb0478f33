/* Data-parallel training with virtual shards on the real mpirun (4 ranks): the same trial
 * trained by 1, 2 and 3 ranks ends with the same weights, Adam moments and validation
 * metrics, bit for bit, and every rank of a group holds the same state; one shard is the
 * plain step exactly; S shards' summed gradient is the batch gradient up to rounding; a
 * supernet trained by 1, 2 and 3 ranks scores its candidates the same, bit for bit; validation
 * split over a group's ranks (ameir_evaluate_group) gives ameir_evaluate's metrics bit for
 * bit, and early stopping on it (ameir_train_fit) picks the same step and state; a group of 2
 * that a third rank joins half-way (ameir_net_share_state) ends as 1 rank does, bit for bit,
 * and so does an early-stopping fit from scratch (a final trial) that a third rank joins at
 * its k-th validation (ameir_fit_share).
 * argv[1]: the source root (for configs/datasets/synthetic.json). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/cluster.h"
#include "ameir/dataset.h"
#include "ameir/net.h"
#include "ameir/rng.h"
#include "ameir/supernet.h"
#include "ameir/train.h"

#define SHARDS 5 /* 2 and 3 ranks split them unevenly */
#define STEPS 40 /* 1950 rows at batch 128: 16 steps an epoch, the last one short */

/* Every kind of parameter: a block, DIN, positions, an interaction, two layers, shortcut. */
static const char *ARCH =
    "{\"behavior\":{\"blocks\":[{\"norm\":\"layernorm\",\"op\":\"attention\",\"heads\":2,\"act\":\"gelu\"},"
    "{\"norm\":\"none\",\"op\":\"gru\",\"act\":\"identity\"}],\"aggregate\":\"target_attention\",\"positions\":true},"
    "\"interactions\":[[\"user\",\"item\"]],\"mlp\":{\"layers\":[{\"units\":32,\"act\":\"relu\"},{\"units\":16,\"act\":\"swish\"}],"
    "\"shortcut\":true}}";

typedef struct outcome {
    double auc, logloss, loss;
    uint64_t state; /* hash of parameters, both moments and the step */
    double fit_auc, fit_gauc;
    int64_t fit_best_step;
    uint64_t fit_state;
} outcome;

static uint64_t state_hash(ameir_net *net) {
    ameir_params *p = ameir_net_params(net);
    uint64_t h = ameir_hash_bytes(p->data, p->total * sizeof(float));
    h = ameir_mix64(h ^ ameir_hash_bytes(p->m, p->total * sizeof(float)));
    h = ameir_mix64(h ^ ameir_hash_bytes(p->v, p->total * sizeof(float)));
    return ameir_mix64(h ^ (uint64_t)p->step);
}

static ameir_train_config config(int shards, const ameir_shard_comm *comm) {
    ameir_train_config c = ameir_train_config_default();
    c.batch = 128;
    c.seed = 7;
    c.opt.dropout = 0.1f;
    c.opt.l2 = 1e-4f;
    c.shards = shards;
    c.comm = comm;
    return c;
}

static ameir_net *make_net(const ameir_dataset *ds, const ameir_arch *arch, const ameir_train_config *c) {
    ameir_net *net = NULL;
    const ameir_schema *s = ameir_dataset_schema(ds);
    CHECK_EQ_INT(ameir_net_create(&net, arch, s, 16, ameir_train_batch_rows(c, s), 11), 0);
    return net;
}

/* From a net trained to STEPS / 2: train on to STEPS and validate, alone and split over the
 * group; then early stopping from there (validating every 8 steps). Frees net. */
static outcome finish(ameir_net *net, const ameir_split *train, const ameir_split *valid, const ameir_train_config *c) {
    outcome o = {0};
    ameir_metrics m, mg;
    CHECK_EQ_INT(ameir_train_steps(net, train, c, STEPS, &o.loss), 0);
    CHECK_EQ_INT(ameir_evaluate(net, valid, &m), 0);
    CHECK_EQ_INT(ameir_evaluate_group(net, valid, c->comm, &mg), 0);
    CHECK(m.auc == mg.auc && m.logloss == mg.logloss && m.gauc == mg.gauc && m.rows == mg.rows);
    o.auc = m.auc;
    o.logloss = m.logloss;
    o.state = state_hash(net);
    ameir_train_config f = *c;
    f.max_steps = 32;
    f.eval_every = 8;
    f.patience = 2;
    ameir_fit_result fit;
    CHECK_EQ_INT(ameir_train_fit(net, train, valid, &f, 0, &fit), 0);
    o.fit_auc = fit.best_valid.auc;
    o.fit_gauc = fit.best_valid.gauc;
    o.fit_best_step = fit.best_step;
    o.fit_state = state_hash(net);
    ameir_net_free(net);
    return o;
}

/* Train STEPS steps in two calls (as a promoted trial would), then finish. */
static outcome run(const ameir_dataset *ds, const ameir_arch *arch, const ameir_split *train, const ameir_split *valid,
                   const ameir_train_config *c) {
    ameir_net *net = make_net(ds, arch, c);
    double loss = 0;
    CHECK_EQ_INT(ameir_train_steps(net, train, c, STEPS / 2, &loss), 0);
    return finish(net, train, valid, c);
}

/* Every rank of the group holds the state of its rank 0; then the group is released. */
static void release_group(const outcome *o, ameir_dp_comm *dc, MPI_Comm *comm) {
    uint64_t h0 = o->state;
    MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, *comm);
    CHECK(h0 == o->state);
    ameir_dp_comm_destroy(dc);
    MPI_Comm_free(comm);
}

/* The trial on ranks 0..R-1 of the world; every rank gets group rank 0's outcome. */
static outcome run_on_ranks(int R, const ameir_dataset *ds, const ameir_arch *arch, const ameir_split *train,
                            const ameir_split *valid) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm comm;
    MPI_Comm_split(MPI_COMM_WORLD, rank < R ? 0 : MPI_UNDEFINED, rank, &comm);
    outcome o = {0};
    if (comm != MPI_COMM_NULL) {
        ameir_dp_comm dc;
        CHECK_EQ_INT(ameir_dp_comm_init(&dc, comm), 0);
        ameir_train_config c = config(SHARDS, &dc.base);
        o = run(ds, arch, train, valid, &c);
        release_group(&o, &dc, &comm);
    }
    MPI_Bcast(&o, (int)sizeof o, MPI_BYTE, 0, MPI_COMM_WORLD);
    return o;
}

/* A group that grows at a chunk boundary: ranks 0 and 1 train the first STEPS / 2 steps,
 * then rank 2 joins with a freshly built net, gets the leader's state
 * (ameir_net_share_state) and the three finish the trial. Every rank gets rank 0's outcome. */
static outcome run_joined(const ameir_dataset *ds, const ameir_arch *arch, const ameir_split *train, const ameir_split *valid) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm two, three;
    MPI_Comm_split(MPI_COMM_WORLD, rank < 2 ? 0 : MPI_UNDEFINED, rank, &two);
    MPI_Comm_split(MPI_COMM_WORLD, rank < 3 ? 0 : MPI_UNDEFINED, rank, &three);
    outcome o = {0};
    if (three != MPI_COMM_NULL) {
        ameir_dp_comm d2, d3;
        ameir_train_config c = config(SHARDS, NULL);
        ameir_net *net = make_net(ds, arch, &c);
        double loss = 0;
        if (two != MPI_COMM_NULL) {
            CHECK_EQ_INT(ameir_dp_comm_init(&d2, two), 0);
            c.comm = &d2.base;
            CHECK_EQ_INT(ameir_train_steps(net, train, &c, STEPS / 2, &loss), 0);
            ameir_dp_comm_destroy(&d2);
            MPI_Comm_free(&two);
        }
        CHECK_EQ_INT(ameir_dp_comm_init(&d3, three), 0);
        c.comm = &d3.base;
        CHECK_EQ_INT(ameir_net_share_state(net, &d3.base), 0);
        CHECK_EQ_INT(ameir_net_params(net)->step, STEPS / 2);
        o = finish(net, train, valid, &c);
        release_group(&o, &d3, &three);
    }
    MPI_Bcast(&o, (int)sizeof o, MPI_BYTE, 0, MPI_COMM_WORLD);
    return o;
}

#define FIT_STEPS 64 /* validations every 8 steps: 8 of them unless patience stops it */
#define JOIN_AT 4    /* the validation after which the third rank joins: one after the best (step 24) */
#define AMEIR_STR2_(x) #x
#define AMEIR_STR_(x) AMEIR_STR2_(x)

/* A final trial's fit from a fresh net: max FIT_STEPS steps, validation every 8, patience 3.
 * joins: 0: ranks 0..R-1 train it alone; 1: ranks 0 and 1 start it, rank 2 joins after
 * validation JOIN_AT, its group's comm replaced in place as a worker's is. Every rank gets
 * rank 0's outcome (best step, best AUC, state hash after the best weights came back;
 * loss: the validations done before the join). */
static outcome fit_on_ranks(int R, int joins, const ameir_dataset *ds, const ameir_arch *arch, const ameir_split *train,
                            const ameir_split *valid) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm first, all;
    MPI_Comm_split(MPI_COMM_WORLD, rank < (joins ? 2 : R) ? 0 : MPI_UNDEFINED, rank, &first);
    MPI_Comm_split(MPI_COMM_WORLD, rank < R ? 0 : MPI_UNDEFINED, rank, &all);
    outcome o = {0};
    if (all != MPI_COMM_NULL) {
        ameir_dp_comm dc;
        ameir_train_config c = config(SHARDS, &dc.base);
        c.max_steps = FIT_STEPS, c.eval_every = 8, c.patience = 3;
        ameir_net *net = make_net(ds, arch, &c);
        ameir_fit *f = NULL;
        ameir_fit_result res;
        int more = 1, done = 0;
        if (first != MPI_COMM_NULL) {
            CHECK_EQ_INT(ameir_dp_comm_init(&dc, first), 0);
            CHECK_EQ_INT(ameir_fit_open(&f, net, train, valid, &c, 0), 0);
            for (; joins && done < JOIN_AT; done++)
                CHECK_EQ_INT(ameir_fit_next(f, &more), 0);
            CHECK(more); /* the join comes before the fit's end */
            if (joins) { /* the grown group: a new comm where the old one was */
                ameir_dp_comm_destroy(&dc);
                CHECK_EQ_INT(ameir_dp_comm_init(&dc, all), 0);
            }
        } else {
            CHECK_EQ_INT(ameir_dp_comm_init(&dc, all), 0);
            CHECK_EQ_INT(ameir_fit_open(&f, net, train, valid, &c, 0), 0);
        }
        if (joins) {
            CHECK_EQ_INT(ameir_fit_share(f), 0);
            CHECK_EQ_INT(ameir_net_params(net)->step, 8 * JOIN_AT);
        }
        while (more)
            CHECK_EQ_INT(ameir_fit_next(f, &more), 0);
        CHECK_EQ_INT(ameir_fit_close(f, &res), 0);
        o.fit_best_step = res.best_step;
        o.fit_auc = res.best_valid.auc;
        o.fit_gauc = res.best_valid.gauc;
        o.fit_state = o.state = state_hash(net);
        o.loss = (double)res.steps;
        release_group(&o, &dc, &all);
        if (first != MPI_COMM_NULL)
            MPI_Comm_free(&first);
        ameir_net_free(net);
    }
    MPI_Bcast(&o, (int)sizeof o, MPI_BYTE, 0, MPI_COMM_WORLD);
    return o;
}

/* Three MLP candidates of the trial's architecture: the supernet's paths. */
static const char *MLPS[3] = {"[{\"units\":32,\"act\":\"relu\"}]",
                              "[{\"units\":16,\"act\":\"gelu\"},{\"units\":8,\"act\":\"relu\"}]",
                              "[{\"units\":32,\"act\":\"swish\"},{\"units\":16,\"act\":\"relu\"}]"};

/* The supernet of those candidates on ranks 0..R-1: the hash of its candidates' scores
 * and exported states, as group rank 0 sees them. */
static outcome supernet_on_ranks(int R, const ameir_dataset *ds, const ameir_split *train, const ameir_split *valid) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm comm;
    MPI_Comm_split(MPI_COMM_WORLD, rank < R ? 0 : MPI_UNDEFINED, rank, &comm);
    outcome o = {0};
    if (comm != MPI_COMM_NULL) {
        ameir_arch cands[3];
        char text[1024];
        for (int i = 0; i < 3; i++) {
            snprintf(text, sizeof text, "{\"interactions\":[[\"user\",\"item\"]],\"mlp\":{\"layers\":%s}}", MLPS[i]);
            CHECK_EQ_INT(ameir_arch_parse(&cands[i], text, "candidate"), 0);
        }
        ameir_dp_comm dc;
        CHECK_EQ_INT(ameir_dp_comm_init(&dc, comm), 0);
        ameir_train_config c = config(SHARDS, &dc.base);
        const ameir_schema *s = ameir_dataset_schema(ds);
        ameir_supernet *sn = NULL;
        CHECK_EQ_INT(ameir_supernet_create(&sn, cands, 3, s, 16, ameir_train_batch_rows(&c, s), 11), 0);
        int alive[3] = {0, 1, 2};
        CHECK_EQ_INT(ameir_supernet_train(sn, train, &c, alive, 3, STEPS, &o.loss), 0);
        uint64_t h = 0;
        for (int k = 0; k < 3; k++) {
            ameir_metrics m;
            ameir_net *net = NULL;
            CHECK_EQ_INT(ameir_supernet_score(sn, k, valid, &m), 0);
            CHECK_EQ_INT(ameir_net_create(&net, &cands[k], s, 16, ameir_train_batch_rows(&c, s), 1), 0);
            CHECK_EQ_INT(ameir_supernet_export(sn, k, net), 0);
            h = ameir_mix64(h ^ state_hash(net) ^ ameir_hash_bytes(&m.auc, sizeof m.auc));
            if (k == 0)
                o.auc = m.auc;
            ameir_net_free(net);
        }
        o.state = h;
        uint64_t h0 = h;
        MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, comm);
        CHECK(h0 == h);
        ameir_supernet_free(sn);
        ameir_dp_comm_destroy(&dc);
        MPI_Comm_free(&comm);
    }
    MPI_Bcast(&o, (int)sizeof o, MPI_BYTE, 0, MPI_COMM_WORLD);
    return o;
}

/* One step from the same weights, plain and with SHARDS shards (no dropout): the summed
 * gradient is the batch's up to float rounding. */
static void check_gradient_sum(const ameir_dataset *ds, const ameir_arch *arch, const ameir_split *train) {
    ameir_train_config plain = config(0, NULL), sharded = config(SHARDS, NULL), one = config(1, NULL);
    plain.opt.dropout = sharded.opt.dropout = 0.0f;
    ameir_net *a = make_net(ds, arch, &plain), *b = make_net(ds, arch, &sharded);
    double la, lb;
    CHECK_EQ_INT(ameir_train_steps(a, train, &plain, 1, &la), 0);
    CHECK_EQ_INT(ameir_train_steps(b, train, &sharded, 1, &lb), 0);
    CHECK_NEAR(lb, la, 1e-5);
    ameir_params *pa = ameir_net_params(a), *pb = ameir_net_params(b);
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < pa->total; i++) {
        gmax = fmax(gmax, fabs(pa->grad[i]));
        dmax = fmax(dmax, fabs((double)pa->grad[i] - pb->grad[i]));
    }
    CHECK(gmax > 0);
    CHECK(dmax <= 1e-5 * gmax);
    ameir_net_free(a);
    ameir_net_free(b);
    /* one shard: the plain step, bit for bit, over several steps with dropout and L2 */
    plain = config(0, NULL);
    a = make_net(ds, arch, &plain);
    b = make_net(ds, arch, &one);
    CHECK_EQ_INT(ameir_train_steps(a, train, &plain, 20, &la), 0);
    CHECK_EQ_INT(ameir_train_steps(b, train, &one, 20, &lb), 0);
    CHECK(state_hash(a) == state_hash(b));
    ameir_net_free(a);
    ameir_net_free(b);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2 || size < 3) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np 4 test_dp SOURCE_ROOT (got %d ranks)\n", size);
        MPI_Finalize();
        return 2;
    }
    char dir[64] = "/tmp/ameir_dp_XXXXXX", cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/configs/datasets/synthetic.json", argv[1]);
    int rc = 0;
    if (rank == 0) {
        AMEIR_ASSERT(mkdtemp(dir) != NULL);
        rc = ameir_prep(cfg, NULL, dir, 0, -1);
        if (rc < 0)
            fprintf(stderr, "prep: %s\n", ameir_last_error());
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rc < 0) {
        MPI_Finalize();
        return 1;
    }
    ameir_dataset *ds = NULL;
    ameir_split *train = NULL, *valid = NULL;
    ameir_arch arch;
    CHECK_EQ_INT(ameir_dataset_open(&ds, dir), 0);
    CHECK_EQ_INT(ameir_split_load(&train, ds, "train", 0, 1950), 0);
    CHECK_EQ_INT(ameir_split_load(&valid, ds, "valid", 0, 1000), 0);
    CHECK_EQ_INT(ameir_arch_parse(&arch, ARCH, "test arch"), 0);
    CHECK_EQ_INT(ameir_arch_check_schema(&arch, ameir_dataset_schema(ds), "test arch"), 0);

    if (rank == 0)
        check_gradient_sum(ds, &arch, train);
    outcome o[4], joined;
    for (int R = 1; R <= 3; R++)
        o[R] = run_on_ranks(R, ds, &arch, train, valid);
    joined = run_joined(ds, &arch, train, valid);
    if (rank == 0) {
        for (int R = 1; R <= 3; R++)
            printf("dp: %d rank(s), %d shards, %d steps: valid AUC %.9f logloss %.9f last loss %.9f state %016llx\n", R,
                   SHARDS, STEPS, o[R].auc, o[R].logloss, o[R].loss, (unsigned long long)o[R].state);
        for (int R = 1; R <= 3; R++)
            printf("dp fit: %d rank(s): best step %lld valid AUC %.9f gAUC %.9f state %016llx\n", R,
                   (long long)o[R].fit_best_step, o[R].fit_auc, o[R].fit_gauc, (unsigned long long)o[R].fit_state);
        for (int R = 2; R <= 3; R++) {
            CHECK(o[R].state == o[1].state);
            CHECK(o[R].auc == o[1].auc && o[R].logloss == o[1].logloss && o[R].loss == o[1].loss);
            CHECK(o[R].fit_state == o[1].fit_state && o[R].fit_best_step == o[1].fit_best_step);
            CHECK(o[R].fit_auc == o[1].fit_auc && o[R].fit_gauc == o[1].fit_gauc);
        }
        CHECK(o[1].auc > 0.5);
        printf("dp join: 2 ranks, a third joins at step %d: valid AUC %.9f last loss %.9f state %016llx, fit best step %lld "
               "state %016llx\n", STEPS / 2, joined.auc, joined.loss, (unsigned long long)joined.state,
               (long long)joined.fit_best_step, (unsigned long long)joined.fit_state);
        CHECK(joined.state == o[1].state && joined.auc == o[1].auc && joined.loss == o[1].loss);
        CHECK(joined.fit_state == o[1].fit_state && joined.fit_best_step == o[1].fit_best_step && joined.fit_auc == o[1].fit_auc);
    }
    outcome fits[4];
    for (int R = 1; R <= 3; R++)
        fits[R] = fit_on_ranks(R, 0, ds, &arch, train, valid);
    fits[0] = fit_on_ranks(3, 1, ds, &arch, train, valid);
    if (rank == 0) {
        const char *who[4] = {"2 ranks, a third joins after validation " AMEIR_STR_(JOIN_AT), "1 rank", "2 ranks", "3 ranks"};
        for (int R = 0; R <= 3; R++)
            printf("dp final fit: %s: %.0f steps, best step %lld valid AUC %.9f gAUC %.9f state %016llx\n", who[R], fits[R].loss,
                   (long long)fits[R].fit_best_step, fits[R].fit_auc, fits[R].fit_gauc, (unsigned long long)fits[R].fit_state);
        for (int R = 0; R <= 3; R++)
            CHECK(fits[R].fit_state == fits[1].fit_state && fits[R].fit_best_step == fits[1].fit_best_step &&
                  fits[R].fit_auc == fits[1].fit_auc && fits[R].fit_gauc == fits[1].fit_gauc && fits[R].loss == fits[1].loss);
        CHECK(fits[1].fit_auc > 0.5);
        CHECK(fits[1].loss > 8 * JOIN_AT); /* the third rank joined a running fit */
    }
    for (int R = 1; R <= 3; R++)
        o[R] = supernet_on_ranks(R, ds, train, valid);
    if (rank == 0) {
        for (int R = 1; R <= 3; R++)
            printf("dp supernet: %d rank(s): candidate 0 valid AUC %.9f, last loss %.9f, state %016llx\n", R, o[R].auc,
                   o[R].loss, (unsigned long long)o[R].state);
        for (int R = 2; R <= 3; R++)
            CHECK(o[R].state == o[1].state && o[R].loss == o[1].loss);
    }
    ameir_split_free(train);
    ameir_split_free(valid);
    ameir_dataset_free(ds);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    int failed = check_finish("dp") != 0, any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any;
}
