/* The trainer on a prepared dataset (argv[1]): training to 2r in one go equals training to r,
 * saving, loading into a fresh net and training on to 2r (bit for bit: params, moments,
 * step); fit keeps the best weights; a model file round trip reproduces the metrics;
 * a diverging run stops with the weights of its last good step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/modelfile.h"
#include "ameir/net.h"
#include "ameir/train.h"

/* Every trained part at once: attention and gru blocks, positions, DIN aggregation, an
 * interaction (the first two fields of the dataset), two hidden layers and the se shortcut
 * (which holds the linear one's projection). */
static const char *arch_text(const ameir_schema *s, char *buf, size_t n) {
    const char *a = s->fields[0].name, *b = s->fields[s->n_fields > 1 ? 1 : 0].name;
    snprintf(buf, n,
             "{\"behavior\":{\"blocks\":[{\"norm\":\"layernorm\",\"op\":\"attention\",\"heads\":2,\"act\":\"gelu\"},"
             "{\"norm\":\"none\",\"op\":\"gru\",\"act\":\"identity\"}],\"aggregate\":\"target_attention\",\"positions\":true},"
             "\"interactions\":[[\"%s\",\"%s\"]],\"mlp\":{\"layers\":[{\"units\":32,\"act\":\"relu\"},{\"units\":16,\"act\":\"swish\"}],"
             "\"shortcut\":\"se\"}}",
             a, b);
    return buf;
}

static int same_state(ameir_net *x, ameir_net *y) {
    ameir_params *p = ameir_net_params(x), *q = ameir_net_params(y);
    return p->total == q->total && p->step == q->step && !memcmp(p->data, q->data, p->total * sizeof(float)) &&
           !memcmp(p->m, q->m, p->total * sizeof(float)) && !memcmp(p->v, q->v, p->total * sizeof(float));
}

static int save_net(ameir_net *net, const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hid_t g = H5Gcreate2(f, "net", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = ameir_net_save(net, g);
    H5Gclose(g);
    H5Fclose(f);
    return rc;
}

static int load_net(ameir_net *net, const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hid_t g = H5Gopen2(f, "net", H5P_DEFAULT);
    int rc = ameir_net_load(net, g);
    H5Gclose(g);
    H5Fclose(f);
    return rc;
}

int main(int argc, char **argv) {
    ameir_dataset *ds = NULL;
    ameir_split *train = NULL, *valid = NULL;
    ameir_net *a = NULL, *b = NULL, *c2 = NULL;
    ameir_arch arch;
    char text[2048], tmpdir[] = "/tmp/ameir_train_XXXXXX", path[512], mpath[512];
    if (argc < 2) {
        fprintf(stderr, "usage: test_train PREPARED_DATA_DIR\n");
        return 2;
    }
    AMEIR_ASSERT(mkdtemp(tmpdir) != NULL);
    snprintf(path, sizeof path, "%s/net.h5", tmpdir);
    snprintf(mpath, sizeof mpath, "%s/model.h5", tmpdir);
    CHECK_EQ_INT(ameir_dataset_open(&ds, argv[1]), 0);
    if (!ds)
        return check_finish("train");
    const ameir_schema *s = ameir_dataset_schema(ds);
    CHECK_EQ_INT(ameir_arch_parse(&arch, arch_text(s, text, sizeof text), "test arch"), 0);
    /* a small slice keeps epochs short, so 2r crosses two epoch boundaries */
    CHECK_EQ_INT(ameir_split_load(&train, ds, "train", 0, 1000), 0);
    CHECK_EQ_INT(ameir_split_load(&valid, ds, "valid", 0, 600), 0);

    ameir_train_config c = ameir_train_config_default();
    c.batch = 64;
    c.seed = 11;
    c.opt.dropout = 0.2f;
    c.opt.l2 = 1e-4f;
    c.opt.lr = 3e-3f;
    int64_t spe = ameir_train_steps_per_epoch(ameir_split_rows(train), c.batch), r = spe + 5;
    CHECK_EQ_INT(spe, (ameir_split_rows(train) + 63) / 64);
    int cap = ameir_train_batch_rows(&c, s);
    double loss = 0;

    /* ---- 2r in one go == r + save/load into a fresh net + r ---- */
    CHECK_EQ_INT(ameir_net_create(&a, &arch, s, 8, cap, c.seed), 0);
    CHECK_EQ_INT(ameir_net_create(&b, &arch, s, 8, cap, c.seed), 0);
    CHECK_EQ_INT(ameir_net_create(&c2, &arch, s, 8, cap, c.seed + 99), 0);
    CHECK_EQ_INT(ameir_train_steps(a, train, &c, 2 * r, &loss), 0);
    CHECK(isfinite(loss));
    CHECK_EQ_INT(ameir_net_params(a)->step, 2 * r);
    CHECK_EQ_INT(ameir_train_steps(b, train, &c, r, &loss), 0);
    CHECK_EQ_INT(save_net(b, path), 0);
    CHECK_EQ_INT(load_net(c2, path), 0);
    CHECK_EQ_INT(ameir_net_params(c2)->step, r);
    CHECK_EQ_INT(ameir_train_steps(c2, train, &c, 2 * r, &loss), 0);
    CHECK(same_state(a, c2));
    /* and in uneven pieces within the same net */
    CHECK_EQ_INT(ameir_train_steps(b, train, &c, r + 1, &loss), 0);
    CHECK_EQ_INT(ameir_train_steps(b, train, &c, 2 * r - 3, &loss), 0);
    CHECK_EQ_INT(ameir_train_steps(b, train, &c, 2 * r, &loss), 0);
    CHECK(same_state(a, b));
    /* a target at or below the current step does nothing */
    CHECK_EQ_INT(ameir_train_steps(b, train, &c, r, &loss), 0);
    CHECK(same_state(a, b));
    /* a different seed gives a different run */
    ameir_train_config c_other = c;
    c_other.seed = 12;
    ameir_net_free(b);
    b = NULL;
    CHECK_EQ_INT(ameir_net_create(&b, &arch, s, 8, cap, c.seed), 0);
    CHECK_EQ_INT(ameir_train_steps(b, train, &c_other, 2 * r, &loss), 0);
    CHECK(!same_state(a, b));

    /* ---- fit: early stopping, best weights restored ---- */
    ameir_net_free(b);
    b = NULL;
    CHECK_EQ_INT(ameir_net_create(&b, &arch, s, 8, cap, c.seed), 0);
    ameir_train_config cf = c;
    cf.epochs = 6;
    cf.eval_every = 7;
    cf.patience = 3;
    ameir_fit_result fit;
    ameir_metrics m;
    /* enough rows to learn the planted interactions (the slice above is for epoch bounds) */
    ameir_split *train_fit = NULL;
    CHECK_EQ_INT(ameir_split_load(&train_fit, ds, "train", 0, 12000), 0);
    int64_t spe_fit = ameir_train_steps_per_epoch(ameir_split_rows(train_fit), cf.batch);
    CHECK_EQ_INT(ameir_train_fit(b, train_fit, valid, &cf, 0, &fit), 0);
    ameir_split_free(train_fit);
    CHECK_EQ_INT(fit.diverged, 0);
    CHECK(fit.steps > 0 && fit.steps <= 6 * spe_fit);
    CHECK_EQ_INT(ameir_net_params(b)->step, fit.best_step);
    CHECK(fit.best_step > 0 && (fit.best_step % 7 == 0 || fit.best_step == fit.steps));
    CHECK_EQ_INT(ameir_evaluate(b, valid, &m), 0);
    CHECK_NEAR(ameir_metrics_primary(&m), ameir_metrics_primary(&fit.best_valid), 0);
    /* a real bar, from the data: a constant or random predictor has AUC 0.5 with a standard
     * error of sqrt((n0 + n1 + 1) / (12 n0 n1)) over n1 positives and n0 negatives (Hanley and
     * McNeil); the model must beat it by four of them */
    {
        int64_t nv = ameir_split_rows(valid), n1 = 0;
        int64_t *rows = malloc(sizeof *rows * (size_t)nv);
        ameir_batch vb;
        memset(&vb, 0, sizeof vb);
        CHECK_EQ_INT(ameir_batch_init(&vb, s, (int)nv), 0);
        for (int64_t i = 0; i < nv; i++)
            rows[i] = i;
        ameir_split_fill(valid, rows, (int)nv, &vb);
        for (int64_t i = 0; i < nv; i++)
            n1 += vb.label[i] > 0.5f;
        double n0 = (double)(nv - n1), bar = 0.5 + 4 * sqrt((n0 + (double)n1 + 1) / (12 * n0 * (double)n1));
        printf("valid auc %.4f: %lld positives, %.0f negatives, bar %.4f\n", ameir_metrics_primary(&m), (long long)n1, n0, bar);
        CHECK(n1 > 0 && n0 > 0 && ameir_metrics_primary(&m) > bar);
        ameir_batch_destroy(&vb);
        free(rows);
    }

    /* ---- model file round trip ---- */
    ameir_model_info info;
    ameir_net *loaded = NULL;
    ameir_metrics m2;
    CHECK_EQ_INT(ameir_model_save(mpath, b, &arch, ds, "{\"note\":\"test\"}"), 0);
    CHECK_EQ_INT(ameir_model_open(mpath, ds, cap, &info, &loaded), 0);
    if (loaded) {
        CHECK(ameir_arch_equal(&info.arch, &arch));
        CHECK_EQ_INT(info.d, 8);
        CHECK_STR_CONTAINS(info.record_json, "\"note\":\"test\"");
        CHECK(!strcmp(info.dataset_name, ameir_dataset_name(ds)));
        CHECK(same_state(b, loaded));
        CHECK_EQ_INT(ameir_evaluate(loaded, valid, &m2), 0);
        CHECK_NEAR(ameir_metrics_primary(&m2), ameir_metrics_primary(&m), 0);
        ameir_model_info_destroy(&info);
        ameir_net_free(loaded);
    }
    /* not a model file: the trial weights file above */
    ameir_clear_error();
    CHECK_EQ_INT(ameir_model_read_info(path, &info), AMEIR_EDATA);
    CHECK_STR_CONTAINS(ameir_last_error(), "not an ameir model file");
    CHECK_EQ_INT(ameir_model_read_info("/nonexistent/model.h5", &info), AMEIR_ENOENT);
    CHECK_STR_CONTAINS(ameir_last_error(), "/nonexistent/model.h5: no such model file");

    /* ---- divergence: stop at the NaN/inf step, keep the weights before it ---- */
    ameir_net_free(b);
    b = NULL;
    CHECK_EQ_INT(ameir_net_create(&b, &arch, s, 8, cap, c.seed), 0);
    ameir_train_config cd = c;
    cd.opt.lr = 1e30f;
    ameir_clear_error();
    int rc = ameir_train_steps(b, train, &cd, 50, &loss);
    CHECK_EQ_INT(rc, AMEIR_EDIVERGED);
    CHECK(!isfinite(loss));
    CHECK_STR_CONTAINS(ameir_last_error(), "the weights before that step are kept");
    int64_t good = ameir_net_params(b)->step;
    CHECK(good < 50);
    /* the kept state is the one a run stopped at that step has */
    CHECK_EQ_INT(ameir_net_create(&loaded, &arch, s, 8, cap, c.seed), 0);
    if (loaded) {
        CHECK_EQ_INT(ameir_train_steps(loaded, train, &cd, good, &loss), 0);
        CHECK(same_state(b, loaded));
        ameir_net_free(loaded);
    }

    /* ---- bad configs ---- */
    ameir_train_config cb = c;
    cb.batch = cap + 1;
    ameir_clear_error();
    CHECK_EQ_INT(ameir_train_steps(a, train, &cb, 2 * r + 1, &loss), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "does not fit the network's capacity");
    cb = c;
    cb.opt.dropout = 1.0f;
    CHECK_EQ_INT(ameir_train_steps(a, train, &cb, 2 * r + 1, &loss), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "dropout: got 1, expected a rate in [0, 1)");

    remove(path);
    remove(mpath);
    rmdir(tmpdir);
    ameir_net_free(a);
    ameir_net_free(b);
    ameir_net_free(c2);
    ameir_split_free(train);
    ameir_split_free(valid);
    ameir_dataset_free(ds);
    return check_finish("train");
}
