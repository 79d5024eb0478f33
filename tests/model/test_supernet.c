/* The supernet of each stage on the synthetic dataset (prepared here, argv[1] = source
 * root): a sampled path's step equals the same architecture trained alone from the same
 * weights (loss, weights and both moments, bit for bit); scoring with inherited weights
 * equals the standalone net's evaluation; narrower MLP layers are slices of wider ones
 * and shared interaction blocks are one copy; a saved and reloaded supernet trains on
 * bit-identically; virtual shards are as exact inside the supernet. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/net.h"
#include "ameir/rng.h"
#include "ameir/supernet.h"
#include "ameir/train.h"

#define D 8

static ameir_dataset *ds;
static ameir_split *train, *valid;
static char tmpdir[] = "/tmp/ameir_supernet_XXXXXX";

static void parse(ameir_arch *a, const char *text) {
    CHECK_EQ_INT(ameir_arch_parse(a, text, "candidate"), 0);
    CHECK_EQ_INT(ameir_arch_check_schema(a, ameir_dataset_schema(ds), "candidate"), 0);
}

static ameir_train_config config(void) {
    ameir_train_config c = ameir_train_config_default();
    c.batch = 64;
    c.seed = 5;
    c.opt.dropout = 0.1f;
    c.opt.l2 = 1e-4f;
    return c;
}

static int rows(const ameir_train_config *c) { return ameir_train_batch_rows(c, ameir_dataset_schema(ds)); }

static ameir_net *standalone(const ameir_arch *a, const ameir_train_config *c) {
    ameir_net *net = NULL;
    CHECK_EQ_INT(ameir_net_create(&net, a, ameir_dataset_schema(ds), D, rows(c), 99), 0);
    return net;
}

static int same_state(ameir_net *x, ameir_net *y) {
    ameir_params *p = ameir_net_params(x), *q = ameir_net_params(y);
    return p->total == q->total && p->step == q->step && !memcmp(p->data, q->data, p->total * sizeof(float)) &&
           !memcmp(p->m, q->m, p->total * sizeof(float)) && !memcmp(p->v, q->v, p->total * sizeof(float));
}

static const float *tensor(ameir_net *net, const char *name, int64_t *shape) {
    ameir_params *p = ameir_net_params(net);
    int i = ameir_params_find(p, name);
    CHECK(i >= 0);
    if (i < 0)
        return NULL;
    memcpy(shape, p->tensors[i].shape, sizeof p->tensors[i].shape);
    return ameir_params_data(p, i);
}

/* Train the supernet over all candidates; at every step check the path against the
 * standalone net of its architecture stepped from the exported state. */
static void check_paths(ameir_supernet *sn, const ameir_arch *cands, int n, const ameir_train_config *c, int steps) {
    int alive[16];
    for (int i = 0; i < n; i++)
        alive[i] = i;
    int seen[16] = {0};
    for (int64_t s = 0; s < steps; s++) {
        int k = ameir_supernet_path_at(c->seed, s, alive, n);
        seen[k] = 1;
        ameir_net *a = standalone(&cands[k], c), *b = standalone(&cands[k], c);
        CHECK_EQ_INT(ameir_supernet_export(sn, k, a), 0);
        double la = 0, lb = 0;
        CHECK_EQ_INT(ameir_train_steps(a, train, c, s + 1, &la), 0);
        CHECK_EQ_INT(ameir_supernet_train(sn, train, c, alive, n, s + 1, &lb), 0);
        CHECK_EQ_INT(ameir_supernet_step(sn), s + 1);
        CHECK(la == lb);
        CHECK_EQ_INT(ameir_supernet_export(sn, k, b), 0);
        CHECK(same_state(a, b));
        /* scoring with the inherited weights is the standalone forward */
        ameir_metrics ma, mb;
        if (s == steps - 1 || s == 0) {
            CHECK_EQ_INT(ameir_evaluate(b, valid, &ma), 0);
            CHECK_EQ_INT(ameir_supernet_score(sn, k, valid, &mb), 0);
            CHECK(ma.auc == mb.auc && ma.logloss == mb.logloss);
        }
        ameir_net_free(a);
        ameir_net_free(b);
    }
    int all = 1;
    for (int i = 0; i < n; i++)
        all &= seen[i];
    CHECK(all); /* uniform sampling visited every candidate */
}

/* Save after some steps, reload into a fresh supernet, train on: the same state. */
static void check_resume(const ameir_arch *cands, int n, const ameir_train_config *c) {
    ameir_supernet *x = NULL, *y = NULL;
    int alive[16];
    for (int i = 0; i < n; i++)
        alive[i] = i;
    CHECK_EQ_INT(ameir_supernet_create(&x, cands, n, ameir_dataset_schema(ds), D, rows(c), 3), 0);
    CHECK_EQ_INT(ameir_supernet_create(&y, cands, n, ameir_dataset_schema(ds), D, rows(c), 4), 0);
    if (!x || !y)
        return;
    CHECK_EQ_INT(ameir_supernet_train(x, train, c, alive, n, 6, NULL), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/supernet.h5", tmpdir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_EQ_INT(ameir_supernet_save(x, f), 0);
    H5Fclose(f);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK_EQ_INT(ameir_supernet_load(y, f), 0);
    H5Fclose(f);
    CHECK_EQ_INT(ameir_supernet_step(y), 6);
    /* survivors only from here on, as after an elimination */
    int half[8], nh = 0;
    for (int i = 0; i < n; i += 2)
        half[nh++] = i;
    CHECK_EQ_INT(ameir_supernet_train(x, train, c, half, nh, 14, NULL), 0);
    CHECK_EQ_INT(ameir_supernet_train(y, train, c, half, nh, 14, NULL), 0);
    for (int k = 0; k < n; k++) {
        ameir_net *a = standalone(&cands[k], c), *b = standalone(&cands[k], c);
        CHECK_EQ_INT(ameir_supernet_export(x, k, a), 0);
        CHECK_EQ_INT(ameir_supernet_export(y, k, b), 0);
        CHECK(same_state(a, b));
        ameir_net_free(a);
        ameir_net_free(b);
    }
    ameir_supernet_free(x);
    ameir_supernet_free(y);
}

/* The shared weights start as the candidates' own: the first candidate's exported weights
 * are its standalone initial weights (seed 17) bit for bit, and no candidate gets a tensor of
 * zeros where its own initial tensor is not (every shared weight was given a start value). */
static void check_init(ameir_supernet *sn, const ameir_arch *cands, int n, const ameir_train_config *c) {
    for (int k = 0; k < n; k++) {
        ameir_net *own = NULL, *got = standalone(&cands[k], c);
        CHECK_EQ_INT(ameir_net_create(&own, &cands[k], ameir_dataset_schema(ds), D, rows(c), 17), 0);
        CHECK_EQ_INT(ameir_supernet_export(sn, k, got), 0);
        ameir_params *p = ameir_net_params(own), *q = ameir_net_params(got);
        if (k == 0)
            CHECK(!memcmp(p->data, q->data, p->total * sizeof(float)));
        for (int t = 0; t < p->n; t++) {
            const float *a = ameir_params_data(p, t), *b = ameir_params_data(q, t);
            int own_zero = 1, got_zero = 1;
            for (size_t i = 0; i < p->tensors[t].size; i++)
                own_zero &= a[i] == 0, got_zero &= b[i] == 0;
            if (!own_zero && got_zero)
                fprintf(stderr, "candidate %d: tensor %s starts at zero in the supernet\n", k, p->tensors[t].name);
            CHECK(own_zero || !got_zero);
        }
        ameir_net_free(own);
        ameir_net_free(got);
    }
}

static void check_stage(const char *what, const ameir_arch *cands, int n, ameir_train_config c, int steps) {
    ameir_supernet *sn = NULL;
    CHECK_EQ_INT(ameir_supernet_create(&sn, cands, n, ameir_dataset_schema(ds), D, rows(&c), 17), 0);
    if (!sn)
        return;
    fprintf(stderr, "%s: %d candidates, %lld shared floats\n", what, n, (long long)ameir_supernet_param_count(sn));
    check_init(sn, cands, n, &c);
    check_paths(sn, cands, n, &c, steps);
    ameir_supernet_free(sn);
    check_resume(cands, n, &c);
}

static const char *BEH = "\"behavior\":{\"blocks\":[{\"norm\":\"none\",\"op\":\"conv\",\"kernel\":3,\"act\":\"relu\"}],"
                         "\"aggregate\":\"target_attention\"}";

static void mlp_stage(void) {
    ameir_arch c[4];
    char t[1024];
    const char *mlps[4] = {
        "[{\"units\":32,\"act\":\"relu\"}]",
        "[{\"units\":16,\"act\":\"gelu\"},{\"units\":8,\"act\":\"relu\"}]",
        "[{\"units\":32,\"act\":\"swish\"},{\"units\":16,\"act\":\"sigmoid\"}]",
        "[{\"units\":16,\"act\":\"relu\"},{\"units\":16,\"act\":\"relu\"},{\"units\":8,\"act\":\"gelu\"}]",
    };
    for (int i = 0; i < 4; i++) {
        snprintf(t, sizeof t, "{%s,\"interactions\":[[\"user\",\"item\"]],\"mlp\":{\"layers\":%s,\"shortcut\":%s}}", BEH,
                 mlps[i], i == 2 ? "true" : "false");
        parse(&c[i], t);
    }
    check_stage("mlp", c, 4, config(), 12);
    /* a narrower layer is the top-left slice of the wider one */
    ameir_train_config cf = config();
    ameir_supernet *sn = NULL;
    CHECK_EQ_INT(ameir_supernet_create(&sn, c, 4, ameir_dataset_schema(ds), D, rows(&cf), 17), 0);
    int alive[4] = {0, 1, 2, 3};
    CHECK_EQ_INT(ameir_supernet_train(sn, train, &cf, alive, 4, 10, NULL), 0);
    ameir_net *w = standalone(&c[0], &cf), *n1 = standalone(&c[1], &cf);
    CHECK_EQ_INT(ameir_supernet_export(sn, 0, w), 0);
    CHECK_EQ_INT(ameir_supernet_export(sn, 1, n1), 0);
    int64_t sw[4], sn1[4];
    const float *a = tensor(w, "mlp/0/weight", sw), *b = tensor(n1, "mlp/0/weight", sn1);
    if (a && b) {
        CHECK_EQ_INT(sw[1], sn1[1]);
        int same = 1;
        for (int64_t r = 0; r < sn1[0]; r++)
            same &= !memcmp(a + r * sw[1], b + r * sn1[1], sizeof(float) * (size_t)sn1[1]);
        CHECK(same);
    }
    ameir_net_free(w);
    ameir_net_free(n1);
    ameir_supernet_free(sn);
}

static void interaction_stage(void) {
    ameir_arch c[4];
    char t[1024];
    const char *groups[4] = {
        "[]",
        "[[\"user\",\"item\"],[\"age\",\"gender\",\"city\"]]",
        "[[\"item\",\"category\"],[\"gender\",\"age\",\"city\"]]",
        "[[\"hour\",\"device\"],[\"item\",\"user\"],[\"item\",\"category\"]]",
    };
    for (int i = 0; i < 4; i++) {
        snprintf(t, sizeof t, "{%s,\"interactions\":%s,\"mlp\":{\"layers\":[{\"units\":16,\"act\":\"relu\"}],\"shortcut\":%s}}",
                 BEH, groups[i], i == 3 ? "true" : "false");
        parse(&c[i], t);
    }
    check_stage("interaction", c, 4, config(), 12);
    /* the block of a group two candidates share is one copy, wherever each puts it */
    ameir_train_config cf = config();
    ameir_supernet *sn = NULL;
    CHECK_EQ_INT(ameir_supernet_create(&sn, c, 4, ameir_dataset_schema(ds), D, rows(&cf), 17), 0);
    int alive[4] = {0, 1, 2, 3};
    CHECK_EQ_INT(ameir_supernet_train(sn, train, &cf, alive, 4, 10, NULL), 0);
    ameir_net *x = standalone(&c[1], &cf), *y = standalone(&c[3], &cf);
    CHECK_EQ_INT(ameir_supernet_export(sn, 1, x), 0);
    CHECK_EQ_INT(ameir_supernet_export(sn, 3, y), 0);
    int64_t sx[4], sy[4];
    const float *a = tensor(x, "mlp/0/weight", sx), *b = tensor(y, "mlp/0/weight", sy);
    const ameir_schema *s = ameir_dataset_schema(ds);
    int64_t base = (int64_t)(s->n_fields + 1) * D; /* fields, behaviour */
    if (a && b) {
        int same = 1;
        /* user x item: group 0 of candidate 1, group 1 of candidate 3 (written item, user) */
        for (int64_t r = 0; r < sx[0]; r++)
            same &= !memcmp(a + r * sx[1] + base, b + r * sy[1] + base + D, sizeof(float) * D) &&
                    !memcmp(a + r * sx[1], b + r * sy[1], sizeof(float) * (size_t)base);
        CHECK(same);
    }
    ameir_net_free(x);
    ameir_net_free(y);
    ameir_supernet_free(sn);
}

static void behavior_stage(void) {
    ameir_arch c[5];
    const char *texts[5] = {
        "{\"behavior\":{\"blocks\":[],\"aggregate\":\"mean\"}}",
        "{\"behavior\":{\"blocks\":[{\"norm\":\"layernorm\",\"op\":\"attention\",\"heads\":2,\"act\":\"gelu\"}],\"aggregate\":\"target_attention\",\"positions\":true}}",
        "{\"behavior\":{\"blocks\":[{\"norm\":\"none\",\"op\":\"conv\",\"kernel\":3,\"act\":\"relu\"},{\"norm\":\"none\",\"op\":\"gru\",\"act\":\"identity\"}],\"aggregate\":\"target_attention\"}}",
        "{\"behavior\":{\"blocks\":[{\"norm\":\"none\",\"op\":\"conv\",\"kernel\":3,\"act\":\"swish\"},{\"norm\":\"layernorm\",\"op\":\"maxpool\",\"act\":\"relu\"}],\"aggregate\":\"last\"}}",
        "{\"behavior\":{\"blocks\":[{\"norm\":\"none\",\"op\":\"zero\",\"act\":\"relu\"},{\"norm\":\"layernorm\",\"op\":\"attention\",\"heads\":2,\"act\":\"gelu\"}],\"aggregate\":\"target_attention\"}}",
    };
    for (int i = 0; i < 5; i++)
        parse(&c[i], texts[i]);
    check_stage("behavior", c, 5, config(), 14);
    /* and over virtual shards */
    ameir_train_config sh = config();
    sh.shards = 3;
    check_stage("behavior, 3 shards", c, 5, sh, 14);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_supernet SOURCE_ROOT\n");
        return 2;
    }
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/configs/datasets/synthetic.json", argv[1]);
    AMEIR_ASSERT(mkdtemp(tmpdir) != NULL);
    char data[128];
    snprintf(data, sizeof data, "%s/data", tmpdir);
    CHECK_EQ_INT(ameir_prep(cfg, NULL, data, 0, -1), 0);
    CHECK_EQ_INT(ameir_dataset_open(&ds, data), 0);
    if (!ds)
        return check_finish("supernet");
    CHECK_EQ_INT(ameir_split_load(&train, ds, "train", 0, 700), 0);
    CHECK_EQ_INT(ameir_split_load(&valid, ds, "valid", 0, 300), 0);
    mlp_stage();
    interaction_stage();
    behavior_stage();
    ameir_split_free(train);
    ameir_split_free(valid);
    ameir_dataset_free(ds);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK_EQ_INT(system(cmd), 0);
    return check_finish("supernet");
}
