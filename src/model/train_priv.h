/* Internal to src/model/train.c and evaluate.c. */
#ifndef AMEIR_MODEL_TRAIN_PRIV_H
#define AMEIR_MODEL_TRAIN_PRIV_H

#include "ameir/net.h"
#include "ameir/schema.h"

/* The schema the network was built for. */
const ameir_schema *ameir_train_schema(const ameir_net *net);

#endif
