/* How well the supernet ranks candidates (a measurement for docs/search-results.md, not a
 * test): draw n candidates of one stage from a search config, run the one-shot rounds on
 * one supernet (oneshot.h: train, score the alive on validation with inherited weights,
 * keep the best 1/eta), then train every candidate alone for the stage's largest budget R
 * and report Kendall's tau-b between the round-0 supernet scores and the standalone
 * scores, the top-k overlap, and wall times. Other stages keep the config's defaults.
 *
 * usage: oneshot_tau CONFIG STAGE N [SUPERNET_R SUPERNET_R_MAX [STANDALONE_STEPS]]
 *   STAGE behavior | interaction | mlp; the supernet's budgets default to the stage's r, R.
 * Data: the config's "data" (AMEIR_DATA_ROOT as for ameir search). One thread. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/net.h"
#include "ameir/oneshot.h"
#include "ameir/search.h"
#include "ameir/supernet.h"
#include "ameir/train.h"

#define MAX_N 512

static void die(const char *what) {
    fprintf(stderr, "oneshot_tau: %s: %s\n", what, ameir_last_error());
    exit(1);
}

/* Kendall's tau-b (ties in either list count as neither concordant nor discordant). */
static double kendall_tau_b(const double *x, const double *y, int n) {
    double c = 0, dis = 0, tx = 0, ty = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double a = x[i] - x[j], b = y[i] - y[j];
            if (a == 0 && b == 0)
                continue;
            if (a == 0)
                tx++;
            else if (b == 0)
                ty++;
            else if ((a > 0) == (b > 0))
                c++;
            else
                dis++;
        }
    double den = sqrt((c + dis + tx) * (c + dis + ty));
    return den > 0 ? (c - dis) / den : NAN;
}

static int stage_of(const char *s) {
    for (int i = 0; i < AMEIR_N_STAGES; i++)
        if (!strcmp(s, ameir_stage_name(i)))
            return i;
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: oneshot_tau CONFIG STAGE N [SUPERNET_R SUPERNET_R_MAX [STANDALONE_STEPS]]\n");
        return 2;
    }
    ameir_search_config *cfg = NULL;
    int stage = stage_of(argv[2]), n = atoi(argv[3]);
    if (stage < 0 || n < 2 || n > MAX_N) {
        fprintf(stderr, "oneshot_tau: stage behavior|interaction|mlp and 2 <= N <= %d\n", MAX_N);
        return 2;
    }
    if (ameir_search_config_load(&cfg, argv[1]) < 0)
        die(argv[1]);
    ameir_schedule sch = cfg->schedule[stage];
    if (argc > 5) {
        sch.r = atoll(argv[4]);
        sch.R = atoll(argv[5]);
    }
    int64_t standalone_steps = argc > 6 ? atoll(argv[6]) : cfg->schedule[stage].R;
    if (sch.R == AMEIR_R_BASELINE || standalone_steps <= 0) {
        fprintf(stderr, "oneshot_tau: %s: R \"baseline\" is known only in a search: give r, R and the standalone steps\n", argv[1]);
        return 2;
    }
    ameir_dataset *ds = NULL;
    ameir_split *train = NULL, *valid = NULL;
    if (ameir_dataset_open(&ds, cfg->data_dir) < 0 || ameir_split_load(&train, ds, "train", 0, -1) < 0 ||
        ameir_split_load(&valid, ds, "valid", 0, -1) < 0)
        die(cfg->data_dir);
    const ameir_schema *s = ameir_dataset_schema(ds);
    if (ameir_search_config_resolve(cfg, s) < 0)
        die("resolve");
    openblas_set_num_threads(1);
    static ameir_arch cands[MAX_N];
    int got = 0;
    if (ameir_space_draw(cfg, stage, &cfg->defaults, n, cands, &got) < 0)
        die("draw");
    n = got;
    ameir_train_config c = cfg->train;
    c.seed = cfg->seed;
    c.threads = 1;
    int rows = ameir_train_batch_rows(&c, s);
    printf("config %s, stage %s, %d candidates, supernet rounds r %lld R %lld eta %d, standalone %lld steps, batch %d\n",
           cfg->name, argv[2], n, (long long)sch.r, (long long)sch.R, sch.eta, (long long)standalone_steps, c.batch);

    /* the one-shot rounds */
    double t0 = ameir_now();
    ameir_supernet *sn = NULL;
    if (ameir_supernet_create(&sn, cands, n, s, cfg->d, rows, cfg->seed) < 0)
        die("supernet");
    double t_build = ameir_now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("supernet built in %.1f s: %lld shared floats; peak resident %.0f MB (the data included)\n", t_build,
           (long long)ameir_supernet_param_count(sn), (double)ru.ru_maxrss / 1024.0);
    fflush(stdout);
    ameir_oneshot_round rounds[32];
    int nr = ameir_oneshot_plan(&sch, n, rounds, 32);
    static int alive[MAX_N];
    static double score[MAX_N], score0[MAX_N], standalone[MAX_N];
    for (int i = 0; i < n; i++)
        alive[i] = i;
    int n_alive = n;
    double t_train = 0, t_score = 0;
    for (int g = 0; g < nr; g++) {
        double a = ameir_now(), loss = 0;
        int rc = ameir_supernet_train(sn, train, &c, alive, n_alive, rounds[g].budget, &loss);
        if (rc < 0 && rc != AMEIR_EDIVERGED)
            die("supernet train");
        double b = ameir_now();
        for (int i = 0; i < n_alive; i++) {
            ameir_metrics m;
            if (ameir_supernet_score(sn, alive[i], valid, &m) < 0)
                die("score");
            score[alive[i]] = ameir_metrics_primary(&m);
            if (g == 0)
                score0[alive[i]] = score[alive[i]];
        }
        double e = ameir_now();
        t_train += b - a;
        t_score += e - b;
        ameir_oneshot_rank(alive, n_alive, score);
        printf("round %d: supernet at %lld steps over %d candidates (loss %.4f), %.1f s training, %.1f s scoring; best %d (%.5f)\n",
               g, (long long)rounds[g].budget, n_alive, loss, b - a, e - b, alive[0], score[alive[0]]);
        if (g + 1 < nr)
            n_alive = rounds[g + 1].alive;
    }
    double t_oneshot = ameir_now() - t0;
    int top = alive[0];

    /* every candidate alone, from scratch, at the standalone budget */
    double t1 = ameir_now(), t_alone_max = 0, t_alone_min = 1e30;
    for (int k = 0; k < n; k++) {
        double a = ameir_now();
        ameir_net *net = NULL;
        ameir_metrics m;
        ameir_train_config ck = c;
        if (ameir_net_create(&net, &cands[k], s, cfg->d, rows, cfg->seed) < 0)
            die("net");
        int rc = ameir_train_steps(net, train, &ck, standalone_steps, NULL);
        if (rc < 0 && rc != AMEIR_EDIVERGED)
            die("train");
        if (ameir_evaluate(net, valid, &m) < 0)
            die("evaluate");
        standalone[k] = rc == AMEIR_EDIVERGED ? NAN : ameir_metrics_primary(&m);
        ameir_net_free(net);
        double e = ameir_now() - a;
        t_alone_max = e > t_alone_max ? e : t_alone_max;
        t_alone_min = e < t_alone_min ? e : t_alone_min;
        char *j = ameir_arch_to_json(&cands[k]);
        printf("candidate %d: supernet %.5f (round 0), standalone %.5f, %.1f s alone: %s\n", k, score0[k], standalone[k], e,
               j ? j : "?");
        free(j);
    }
    double t_alone = ameir_now() - t1;
    static int by_alone[MAX_N], by_super[MAX_N];
    for (int i = 0; i < n; i++)
        by_alone[i] = by_super[i] = i;
    ameir_oneshot_rank(by_alone, n, standalone);
    ameir_oneshot_rank(by_super, n, score0);
    int rank_of_top = 0;
    for (int i = 0; i < n; i++)
        if (by_alone[i] == top)
            rank_of_top = i + 1;
    int k3 = n < 3 ? n : 3, hit3 = 0;
    for (int i = 0; i < k3; i++)
        for (int j = 0; j < k3; j++)
            hit3 += by_super[i] == by_alone[j];
    printf("kendall tau-b (round-0 supernet scores vs standalone at %lld steps, %d candidates): %.3f\n",
           (long long)standalone_steps, n, kendall_tau_b(score0, standalone, n));
    printf("top 3 overlap: %d of 3; the one-shot winner %d ranks %d of %d alone (best alone: %d, %.5f)\n", hit3, top,
           rank_of_top, n, by_alone[0], standalone[by_alone[0]]);
    printf("wall: one-shot %.1f s (build %.1f, supernet training %.1f, scoring %.1f) for %d candidates; standalone %.1f s "
           "for %d (%.1f to %.1f s each)\n",
           t_oneshot, t_build, t_train, t_score, n, t_alone, n, t_alone_min, t_alone_max);
    ameir_supernet_free(sn);
    ameir_split_free(train);
    ameir_split_free(valid);
    ameir_dataset_free(ds);
    ameir_search_config_free(cfg);
    return 0;
}
