/* ameir_prep: config -> encoded rows (from raw files or the generator) -> files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/log.h"
#include "prep_internal.h"

/* The source files a split's rows come from, for messages: "a, b" or all of the main source. */
static void split_files(const dcfg *c, int sp, char *out, size_t n) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < c->main.n_files && used < n; i++) {
        const dcfg_file *f = &c->main.files[i];
        if (c->split == DSPLIT_FILES && f->split != sp)
            continue;
        used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", f->path);
    }
}

int prep_check_splits(const dcfg *c, const int64_t rows[3], const int64_t positives[3]) {
    char files[DCFG_PATH * 2];
    for (int sp = 0; sp < 3; sp++) {
        split_files(c, sp, files, sizeof files);
        const char *name = dconfig_split_name(sp);
        if (rows[sp] == 0)
            return ameir_fail(AMEIR_EDATA, "%s: the %s split has no rows (from %s%s); check the split and the source",
                              c->path, name, c->has_source ? "" : "the generator", files);
    }
    for (int sp = 0; sp < 3 && c->task == AMEIR_TASK_CTR; sp++) {
        split_files(c, sp, files, sizeof files);
        const char *name = dconfig_split_name(sp);
        if (positives[sp] == 0 || positives[sp] == rows[sp])
            return ameir_fail(AMEIR_EDATA,
                              "%s: the %s split (%lld rows, from %s%s) has only label %d: a ctr split needs both "
                              "classes; check the label rule",
                              c->path, name, (long long)rows[sp], c->has_source ? "" : "the generator", files,
                              positives[sp] ? 1 : 0);
    }
    return 0;
}

static int check_encoded(const prep_out *o, const dcfg *c) {
    int64_t rows[3], pos[3];
    for (int sp = 0; sp < 3; sp++) {
        rows[sp] = o->split[sp].n;
        pos[sp] = 0;
        for (int64_t i = 0; i < rows[sp]; i++)
            pos[sp] += o->split[sp].label[i] > 0.5f;
    }
    return prep_check_splits(c, rows, pos);
}

/* Peak resident set of this process in MB (ru_maxrss is in KB on Linux). */
double prep_peak_mb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) ? 0 : (double)ru.ru_maxrss / 1024.0;
}

int ameir_prep(const char *config_path, const char *source_dir, const char *out_dir, int shards, int64_t seed) {
    dcfg *c = NULL;
    prep_out o;
    memset(&o, 0, sizeof o);
    double t0 = ameir_now();
    AMEIR_TRY(dconfig_load(&c, config_path));
    int rc = 0, streamed = 0;
    int64_t rows[3] = {0, 0, 0};
    if (shards > 0)
        c->shards = shards;
    if (seed >= 0)
        c->seed = (uint64_t)seed;
    if (c->is_synthetic) {
        rc = synth_generate(&o, c);
    } else if (!source_dir) {
        rc = ameir_fail(AMEIR_EINVAL, "%s: dataset \"%s\" reads raw files: give --source DIR", config_path, c->name);
    } else if (prep_can_stream(c) && !getenv("AMEIR_PREP_IN_MEMORY")) { /* the variable: for the identity test */
        rc = prep_stream(c, source_dir, out_dir, rows, &o.schema);
        streamed = 1;
    } else {
        rc = prep_encode(&o, c, source_dir);
    }
    if (rc >= 0 && !streamed)
        rc = check_encoded(&o, c);
    if (rc >= 0 && !streamed)
        rc = prep_write(&o, c, out_dir);
    for (int sp = 0; sp < 3 && !streamed; sp++)
        rows[sp] = o.split[sp].n;
    if (rc >= 0) {
        const ameir_schema *s = &o.schema;
        ameir_log(AMEIR_LOG_INFO, "prep %s: %lld train, %lld valid, %lld test rows; %d fields (x width %d), L %d; %.2f s, "
                  "peak memory %.0f MB",
                  c->name, (long long)rows[0], (long long)rows[1], (long long)rows[2], s->n_fields,
                  s->x_width, s->seq_len, ameir_now() - t0, prep_peak_mb());
        for (int i = 0; i < s->n_fields; i++)
            ameir_log(AMEIR_LOG_DEBUG, "  field %-16s vocab %7d width %3d%s", s->fields[i].name, s->fields[i].vocab,
                      s->fields[i].width, s->fields[i].is_item ? " item" : "");
    }
    prep_out_destroy(&o);
    dconfig_free(c);
    return rc;
}
