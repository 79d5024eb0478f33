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
    return ameir_prep_ranks(config_path, source_dir, out_dir, shards, seed, NULL);
}

int prep_agree(const ameir_prep_peers *p, int rc) {
    if (!p || p->size == 1)
        return rc;
    int64_t mine = rc, *v = malloc((size_t)p->size * sizeof *v);
    if (!v)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    int got = p->allgather_i64(p->ctx, &mine, 1, v);
    int worst = 0;
    for (int r = 0; r < p->size && got >= 0 && !worst; r++)
        worst = v[r] < 0 ? (int)v[r] : 0;
    free(v);
    if (got < 0)
        return got;
    if (rc < 0)
        return rc;
    if (worst < 0)
        ameir_clear_error();
    return worst;
}

static int peak_over_ranks(const ameir_prep_peers *p, int64_t *most, int64_t *sum) {
    int64_t *all = malloc((size_t)p->size * sizeof *all);
    if (!all)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    int rc = p->allgather_i64(p->ctx, most, 1, all);
    *sum = 0;
    for (int r = 0; r < p->size && rc >= 0; r++) {
        *most = all[r] > *most ? all[r] : *most;
        *sum += all[r];
    }
    free(all);
    return rc;
}

int ameir_prep_ranks(const char *config_path, const char *source_dir, const char *out_dir, int shards, int64_t seed,
                     const ameir_prep_peers *peers) {
    dcfg *c = NULL;
    prep_out o;
    memset(&o, 0, sizeof o);
    double t0 = ameir_now();
    int rank = peers ? peers->rank : 0;
    int rc = dconfig_load(&c, config_path), streamed = 0;
    int64_t rows[3] = {0, 0, 0};
    if (rc < 0) /* every rank reads the config: the same error on each, reported by rank 0 */
        return rank == 0 ? rc : (ameir_clear_error(), rc);
    if (shards > 0)
        c->shards = shards;
    if (seed >= 0)
        c->seed = (uint64_t)seed;
    int parallel = peers && peers->size > 1 && !c->is_synthetic && source_dir &&
                   (prep_can_stream(c) || prep_can_stream_seq(c)) && !getenv("AMEIR_PREP_IN_MEMORY");
    if (peers && peers->size > 1 && !parallel && rank > 0) {
        /* a prep that does not stream runs on rank 0; the others wait for its status */
        rc = prep_agree(peers, 0);
        dconfig_free(c);
        return rc;
    }
    if (parallel) {
        rc = prep_stream(c, source_dir, out_dir, peers, rows, &o.schema);
        streamed = 1;
    } else if (c->is_synthetic) {
        rc = synth_generate(&o, c);
    } else if (!source_dir) {
        rc = ameir_fail(AMEIR_EINVAL, "%s: dataset \"%s\" reads raw files: give --source DIR", config_path, c->name);
    } else if ((prep_can_stream(c) || prep_can_stream_seq(c)) && !getenv("AMEIR_PREP_IN_MEMORY")) { /* the variable: for the identity test */
        rc = prep_stream(c, source_dir, out_dir, NULL, rows, &o.schema);
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
    if (peers && peers->size > 1 && !parallel)
        rc = prep_agree(peers, rc);
    /* peak memory: this process's, or over ranks the largest and the sum */
    int64_t peak = (int64_t)(prep_peak_mb() + 0.5), most = peak, sum = peak;
    char over[96] = "";
    if (rc >= 0 && parallel)
        rc = peak_over_ranks(peers, &most, &sum);
    if (rc >= 0 && parallel)
        snprintf(over, sizeof over, " on the largest of %d ranks (%lld MB in all)", peers->size, (long long)sum);
    if (rc >= 0 && rank == 0) {
        const ameir_schema *s = &o.schema;
        ameir_log(AMEIR_LOG_INFO, "prep %s: %lld train, %lld valid, %lld test rows; %d fields (x width %d), L %d; %.2f s, "
                  "peak memory %lld MB%s",
                  c->name, (long long)rows[0], (long long)rows[1], (long long)rows[2], s->n_fields,
                  s->x_width, s->seq_len, ameir_now() - t0, (long long)most, over);
        for (int i = 0; i < s->n_fields; i++)
            ameir_log(AMEIR_LOG_DEBUG, "  field %-16s vocab %7d width %3d%s", s->fields[i].name, s->fields[i].vocab,
                      s->fields[i].width, s->fields[i].is_item ? " item" : "");
    }
    prep_out_destroy(&o);
    dconfig_free(c);
    return rc;
}
