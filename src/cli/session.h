/* What eval and predict share: a dataset, a model checked against it, one loaded split. */
#ifndef AMEIR_CLI_SESSION_H
#define AMEIR_CLI_SESSION_H

#include <stdio.h>

#include "ameir/dataset.h"
#include "ameir/modelfile.h"
#include "ameir/net.h"
#include "ameir/train.h"

typedef struct ameir_session {
    ameir_dataset *ds;
    ameir_model_info info;
    ameir_net *net;
    ameir_split *split;
} ameir_session;

/* Open data_dir, the model at model_path (refused if trained on another dataset), and
 * load split_name (AMEIR_EINVAL if the dataset has no such split); batch <= 0 means the
 * batch the model was trained with. On failure everything opened is released. */
int ameir_session_open(ameir_session *s, const char *data_dir, const char *model_path, const char *split_name, int batch,
                       int threads);
void ameir_session_close(ameir_session *s);

/* Load split_name of ds, failing with AMEIR_EINVAL naming the splits when it is absent. */
int ameir_session_load_split(ameir_split **out, const ameir_dataset *ds, const char *split_name);

/* One line of metrics of a split, the same in train and eval. */
void ameir_cli_print_metrics(FILE *f, const char *split, const ameir_metrics *m);

#endif
