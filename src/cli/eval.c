/* ameir eval: metrics of a saved model on a split of the dataset it was trained on. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "ameir/error.h"
#include "ameir/modelfile.h"
#include "ameir/train.h"
#include "commands.h"
#include "options.h"
#include "session.h"


int ameir_cmd_eval(int argc, char **argv) {
    const char *data = NULL, *model = NULL, *split = "test";
    int json = 0, batch = 0, threads = 1, rc;
    ameir_session s;
    ameir_metrics m;
    ameir_opt opts[] = {
        {"data", AMEIR_OPT_STR, &data, 1, 0, "DIR", "prepared dataset directory the model was trained on", 0},
        {"model", AMEIR_OPT_STR, &model, 1, 0, "MODEL.h5", "model file written by ameir train --out", 0},
        {"split", AMEIR_OPT_STR, &split, 1, 0, "NAME", "split to evaluate: train, valid or test (default test)", 0},
        {"batch", AMEIR_OPT_INT, &batch, 1, 65536, "B", "rows per forward pass (default: the training batch, which reproduces train's metrics exactly)", 0},
        {"threads", AMEIR_OPT_INT, &threads, 1, 1024, "T", "network threads: rows of a batch split over T threads (default 1)", 0},
        {"json", AMEIR_OPT_FLAG, &json, 1, 0, NULL, "print one JSON object as the last line of stdout", 0},
        {0},
    };
    static const char *const required[] = {"data", "model", NULL};
    if ((rc = ameir_opts_command(opts, argc, argv, "eval --data DIR --model MODEL.h5 [--split valid|test] [--json]",
                                 "Metrics of a saved model: AUC, logloss and gAUC (ctr), or HR@1/5/10, NDCG@5/10 and MRR (seq).",
                                 required)) != 0)
        return rc > 0 ? 0 : ameir_report_error("eval", rc);
    if ((rc = ameir_session_open(&s, data, model, split, batch, threads)) < 0)
        return ameir_report_error("eval", rc);
    if ((rc = ameir_evaluate(s.net, s.split, &m)) < 0)
        goto done;
    ameir_cli_print_metrics(stdout, split, &m);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        char *text = NULL;
        if (o) {
            cJSON_AddStringToObject(o, "command", "eval");
            cJSON_AddStringToObject(o, "dataset", ameir_dataset_name(s.ds));
            cJSON_AddStringToObject(o, "model", model);
            cJSON_AddStringToObject(o, "split", split);
            cJSON_AddItemToObject(o, split, ameir_metrics_to_cjson(&m));
            text = cJSON_PrintUnformatted(o);
        }
        if (!text) {
            cJSON_Delete(o);
            rc = ameir_fail(AMEIR_ENOMEM, "JSON output");
            goto done;
        }
        printf("%s\n", text);
        free(text);
        cJSON_Delete(o);
    }
done:
    ameir_session_close(&s);
    return rc < 0 ? ameir_report_error("eval", rc) : 0;
}
