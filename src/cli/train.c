/* ameir train: train one architecture on a prepared dataset with early stopping on the
 * validation split, evaluate on test, save a model file. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/outdir.h"
#include "ameir/modelfile.h"
#include "ameir/net.h"
#include "ameir/train.h"
#include "commands.h"
#include "options.h"
#include "session.h"

/* A float setting as the decimal the user wrote (0.001, not 0.0010000000474974513). */
static double float_setting(float v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)v);
    return strtod(buf, NULL);
}

static cJSON *settings_json(const ameir_train_config *c, int d) {
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "d", d);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    cJSON_AddNumberToObject(o, "lr", float_setting(c->opt.lr));
    cJSON_AddNumberToObject(o, "dropout", float_setting(c->opt.dropout));
    cJSON_AddNumberToObject(o, "l2", float_setting(c->opt.l2));
    cJSON_AddNumberToObject(o, "epochs", c->epochs);
    cJSON_AddNumberToObject(o, "max_steps", (double)c->max_steps);
    cJSON_AddNumberToObject(o, "eval_every", (double)c->eval_every);
    cJSON_AddNumberToObject(o, "patience", c->patience);
    cJSON_AddNumberToObject(o, "negatives", c->n_neg);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "threads", c->threads);
    return o;
}

/* The training record: stored in the model file and printed by --json. */
static char *record_json(const ameir_dataset *ds, const ameir_arch *arch, const ameir_net *net, const ameir_train_config *c,
                         int d, const ameir_fit_result *fit, const ameir_metrics *valid, const ameir_metrics *test) {
    char hash[32], *arch_text = ameir_arch_to_json(arch), *out = NULL;
    cJSON *o = cJSON_CreateObject();
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)ameir_arch_hash(arch));
    if (!o || !arch_text)
        goto done;
    cJSON_AddStringToObject(o, "command", "train");
    cJSON_AddStringToObject(o, "dataset", ameir_dataset_name(ds));
    cJSON_AddStringToObject(o, "arch_hash", hash);
    cJSON_AddItemToObject(o, "arch", cJSON_Parse(arch_text));
    cJSON_AddNumberToObject(o, "params", (double)ameir_net_param_count(net));
    cJSON_AddItemToObject(o, "settings", settings_json(c, d));
    cJSON_AddNumberToObject(o, "steps", (double)fit->steps);
    cJSON_AddNumberToObject(o, "best_step", (double)fit->best_step);
    cJSON_AddNumberToObject(o, "epochs", fit->epochs);
    cJSON_AddNumberToObject(o, "seconds", fit->seconds);
    cJSON_AddBoolToObject(o, "diverged", fit->diverged != 0);
    cJSON_AddStringToObject(o, "primary", ameir_metrics_primary_name(ameir_dataset_schema(ds)->task));
    if (valid)
        cJSON_AddItemToObject(o, "valid", ameir_metrics_to_cjson(valid));
    if (test)
        cJSON_AddItemToObject(o, "test", ameir_metrics_to_cjson(test));
    out = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    free(arch_text);
    return out;
}

int ameir_cmd_train(int argc, char **argv) {
    const char *data = NULL, *arch_path = NULL, *out = NULL;
    int d = 16, json = 0, quiet = 0, rc;
    ameir_train_config c = ameir_train_config_default();
    ameir_dataset *ds = NULL;
    ameir_split *train = NULL, *valid = NULL, *test = NULL;
    ameir_net *net = NULL;
    char *record = NULL;
    ameir_arch arch;
    ameir_fit_result fit;
    ameir_metrics mvalid, mtest;
    ameir_opt opts[] = {
        {"data", AMEIR_OPT_STR, &data, 1, 0, "DIR", "prepared dataset directory (from ameir prep)", 0},
        {"arch", AMEIR_OPT_STR, &arch_path, 1, 0, "FILE", "architecture JSON (e.g. configs/archs/din.json)", 0},
        {"epochs", AMEIR_OPT_INT, &c.epochs, 1, 100000, "E", "maximum epochs (default 10; unlimited when only --steps is given)", 0},
        {"steps", AMEIR_OPT_I64, &c.max_steps, 1, 1e12, "N", "maximum training steps", 0},
        {"batch", AMEIR_OPT_INT, &c.batch, 1, 65536, "B", "rows per step (default 256)", 0},
        {"lr", AMEIR_OPT_FLOAT, &c.opt.lr, 1e-9, 1e30, "X", "Adam learning rate (default 0.001)", 0},
        {"dropout", AMEIR_OPT_FLOAT, &c.opt.dropout, 0, 0.99, "P", "dropout rate after blocks and hidden MLP layers (default 0)", 0},
        {"l2", AMEIR_OPT_FLOAT, &c.opt.l2, 0, 1e6, "X", "L2 on the embedding rows a batch touches (default 0)", 0},
        {"patience", AMEIR_OPT_INT, &c.patience, 1, 100000, "K", "validations without improvement before stopping (default 2)", 0},
        {"eval-every", AMEIR_OPT_I64, &c.eval_every, 1, 1e12, "K", "validate every K steps (default once per epoch)", 0},
        {"negatives", AMEIR_OPT_INT, &c.n_neg, 1, 1000, "K", "seq data: sampled negatives per positive (default 1)", 0},
        {"dim", AMEIR_OPT_INT, &d, 1, 1024, "D", "embedding dimension d (default 16)", 0},
        {"seed", AMEIR_OPT_U64, &c.seed, 1, 0, "S", "seed of the initialisation, batch order, dropout and negatives (default 1)", 0},
        {"threads", AMEIR_OPT_INT, &c.threads, 1, 1024, "T", "network threads: rows of a batch split over T threads (default 1)", 0},
        {"out", AMEIR_OPT_STR, &out, 1, 0, "MODEL.h5", "write the model file here", 0},
        {"json", AMEIR_OPT_FLAG, &json, 1, 0, NULL, "print one JSON object as the last line of stdout", 0},
        {"quiet", AMEIR_OPT_FLAG, &quiet, 1, 0, NULL, "no progress lines on stderr", 0},
        {0},
    };
    static const char *const required[] = {"data", "arch", NULL};
    if ((rc = ameir_opts_command(opts, argc, argv, "train --data DIR --arch FILE [options]",
                         "Train one architecture, early-stopping on the validation split's AUC (ctr) or NDCG@10 (seq),\n"
                         "then evaluate the best weights on the test split.", required)) != 0)
        return rc > 0 ? 0 : ameir_report_error("train", rc);
    if (ameir_opts_find(opts, "steps")->seen && !ameir_opts_find(opts, "epochs")->seen)
        c.epochs = 0;

    if ((out && (rc = ameir_out_dir_check("--out", out)) < 0) || (rc = ameir_dataset_open(&ds, data)) < 0 || (rc = ameir_arch_load(&arch, arch_path)) < 0 ||
        (rc = ameir_arch_check_schema(&arch, ameir_dataset_schema(ds), arch_path)) < 0)
        goto done;
    if ((rc = ameir_session_load_split(&train, ds, "train")) < 0 || (rc = ameir_session_load_split(&valid, ds, "valid")) < 0 ||
        (rc = ameir_session_load_split(&test, ds, "test")) < 0)
        goto done;
    if ((rc = ameir_net_create(&net, &arch, ameir_dataset_schema(ds), d, ameir_train_batch_rows(&c, ameir_dataset_schema(ds)), c.seed)) < 0)
        goto done;
    if (!quiet)
        ameir_log(AMEIR_LOG_INFO, "train: dataset '%s' (%lld train rows), arch %s, %lld parameters", ameir_dataset_name(ds),
                  (long long)ameir_split_rows(train), arch_path, (long long)ameir_net_param_count(net));
    rc = ameir_train_fit(net, train, valid, &c, !quiet, &fit);
    if (rc == AMEIR_EDIVERGED) {
        /* keep the last good weights for inspection, then report the divergence */
        char *msg = strdup(ameir_last_error());
        record = record_json(ds, &arch, net, &c, d, &fit, NULL, NULL);
        if (out && record && ameir_model_save(out, net, &arch, ds, record) == 0)
            fprintf(stderr, "ameir train: wrote the last good weights (step %lld) to %s\n", (long long)fit.best_step, out);
        if (json && record)
            printf("%s\n", record);
        ameir_fail(AMEIR_EDIVERGED, "%s", msg ? msg : "training diverged");
        free(msg);
        goto done;
    }
    if (rc < 0)
        goto done;
    mvalid = fit.best_valid; /* the restored weights are the ones validated there */
    if ((rc = ameir_evaluate(net, test, &mtest)) < 0)
        goto done;
    record = record_json(ds, &arch, net, &c, d, &fit, &mvalid, &mtest);
    if (!record) {
        rc = ameir_fail(AMEIR_ENOMEM, "training record");
        goto done;
    }
    if (out && (rc = ameir_model_save(out, net, &arch, ds, record)) < 0)
        goto done;
    printf("trained %lld steps (%.2f epochs) in %.1f s, best at step %lld, %lld parameters\n", (long long)fit.steps, fit.epochs,
           fit.seconds, (long long)fit.best_step, (long long)ameir_net_param_count(net));
    ameir_cli_print_metrics(stdout, "valid", &mvalid);
    ameir_cli_print_metrics(stdout, "test", &mtest);
    if (out)
        printf("model: %s\n", out);
    if (json)
        printf("%s\n", record);
done:
    free(record);
    ameir_net_free(net);
    ameir_split_free(train);
    ameir_split_free(valid);
    ameir_split_free(test);
    ameir_dataset_free(ds);
    return rc < 0 ? ameir_report_error("train", rc) : 0;
}
