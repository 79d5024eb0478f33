/* ameir_prep: config -> encoded rows (from raw files or the generator) -> files. */
#include <stdio.h>
#include <string.h>

#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "prep_internal.h"

int ameir_prep(const char *config_path, const char *source_dir, const char *out_dir, int shards, int64_t seed) {
    dcfg *c = NULL;
    prep_out o;
    memset(&o, 0, sizeof o);
    double t0 = ameir_now();
    AMEIR_TRY(dconfig_load(&c, config_path));
    int rc = 0;
    if (shards > 0)
        c->shards = shards;
    if (seed >= 0)
        c->seed = (uint64_t)seed;
    if (c->is_synthetic) {
        rc = synth_generate(&o, c);
    } else if (!source_dir) {
        rc = ameir_fail(AMEIR_EINVAL, "%s: dataset \"%s\" reads raw files: give --source DIR", config_path, c->name);
    } else {
        rc = prep_encode(&o, c, source_dir);
    }
    if (rc >= 0)
        rc = prep_write(&o, c, out_dir);
    if (rc >= 0) {
        const ameir_schema *s = &o.schema;
        ameir_log(AMEIR_LOG_INFO, "prep %s: %lld train, %lld valid, %lld test rows; %d fields (x width %d), L %d; %.2f s",
                  c->name, (long long)o.split[0].n, (long long)o.split[1].n, (long long)o.split[2].n, s->n_fields,
                  s->x_width, s->seq_len, ameir_now() - t0);
        for (int i = 0; i < s->n_fields; i++)
            ameir_log(AMEIR_LOG_DEBUG, "  field %-16s vocab %7d width %3d%s", s->fields[i].name, s->fields[i].vocab,
                      s->fields[i].width, s->fields[i].is_item ? " item" : "");
    }
    prep_out_destroy(&o);
    dconfig_free(c);
    return rc;
}
