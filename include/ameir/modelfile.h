/* Model files (`ameir train --out MODEL.h5`): a trained network with everything needed to
 * use it again, in one HDF5 file that h5py reads directly.
 *
 * Layout:
 *   attributes on "/": format = "ameir-model", format_version = 1, d, dataset_name,
 *                      arch_hash (16 hex digits), task
 *   "/arch_json"          canonical arch JSON (scalar string)
 *   "/schema_json"        the dataset schema the net was built for (ameir_schema_to_json)
 *   "/dataset_meta_json"  the dataset's meta.json at training time (ameir_dataset_meta_json)
 *   "/train_record_json"  the training record (settings, steps, metrics, seconds)
 *   "/model"              the weights, Adam moments and step (ameir_net_save)
 *   "/vocab/NAME"         copies of the dataset directory's vocabulary files, as bytes
 * Written to a temporary name, then renamed, so a crash never leaves a half file. */
#ifndef AMEIR_MODELFILE_H
#define AMEIR_MODELFILE_H

#include <cjson/cJSON.h>

#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/net.h"
#include "ameir/train.h"

#define AMEIR_MODEL_FORMAT "ameir-model"
#define AMEIR_MODEL_FORMAT_VERSION 1

typedef struct ameir_model_info {
    ameir_arch arch;
    int d;
    int task;
    char dataset_name[256];
    char *arch_json;   /* owned; released by ameir_model_info_destroy */
    char *schema_json;
    char *meta_json;
    char *record_json;
} ameir_model_info;

/* Save net (built for arch on dataset ds) to path. record_json may be NULL ("{}").
 * Errors: AMEIR_EIO / AMEIR_EHDF5 naming the file. */
int ameir_model_save(const char *path, const ameir_net *net, const ameir_arch *arch, const ameir_dataset *ds, const char *record_json);

/* Read the description of a model file (not the weights). Errors: AMEIR_ENOENT, AMEIR_EDATA
 * (not a model file, or another format version), AMEIR_ECONFIG (its arch no longer parses).
 * On success the caller releases info with ameir_model_info_destroy. */
int ameir_model_read_info(const char *path, ameir_model_info *info);
void ameir_model_info_destroy(ameir_model_info *info);

/* Refuse a dataset other than the one the model was trained on: compares dataset name and
 * schema. Returns 0 or AMEIR_EDATA naming both datasets. */
int ameir_model_check_dataset(const ameir_model_info *info, const char *model_path, const ameir_dataset *ds);

/* Read info, check the dataset, build the net (max_batch rows) and load its weights.
 * On success *net_out is owned by the caller and info must be destroyed by it. */
int ameir_model_open(const char *path, const ameir_dataset *ds, int max_batch, ameir_model_info *info, ameir_net **net_out);

/* Canonical JSON of a schema (task, fields with vocab, width, is_item; seq_len,
 * n_candidates); caller frees. NULL on out of memory. */
char *ameir_schema_to_json(const ameir_schema *s);

/* The metrics of m's task as a JSON object (NaN as null); caller owns it. */
cJSON *ameir_metrics_to_cjson(const ameir_metrics *m);

#endif
