/* The dataset-specific arch files (configs/archs/NAME-DATASET.json) against the real schemas:
 * each dataset is prepared with `ameir prep` (AMEIR_EXE) from configs/datasets/DATASET.json
 * and its raw files in AMEIR_SHARED_DATA, then every interaction field must be a field of
 * it, and the all-pairs baselines (deepfm-*, pnn-*) must hold every pair exactly once.
 * A dataset whose raw files are absent is skipped with a message; exit 77 if all are. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/error.h"

/* where each dataset's raw files are, below AMEIR_SHARED_DATA (NULL: generated) */
static const struct {
    const char *dataset, *source;
} sources[] = {
    {"synthetic", NULL},
    {"ml100k-ctr", "ml-100k"},
    {"frappe-ctr", "frappe"},
};

static int prepared = 0, skipped = 0;

static int source_of(const char *dataset, const char **source) {
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        if (!strcmp(sources[i].dataset, dataset)) {
            *source = sources[i].source;
            return 1;
        }
    return 0;
}

/* Prepare dataset into tmp/dataset and open it; NULL (and a reason printed) if skipped. */
static ameir_dataset *prepare(const char *root, const char *shared, const char *exe, const char *tmp,
                              const char *dataset) {
    const char *source;
    if (!source_of(dataset, &source)) {
        fprintf(stderr, "configs/archs names dataset %s: add its raw folder to sources[] in %s\n", dataset, __FILE__);
        CHECK(!"dataset known to the test");
        return NULL;
    }
    char src[1024] = "", cmd[4096], out[1024];
    if (source) {
        snprintf(src, sizeof src, "%s/%s", shared, source);
        DIR *d = opendir(src);
        if (!d) {
            printf("skip %s: raw files not found in %s\n", dataset, src);
            skipped++;
            return NULL;
        }
        closedir(d);
    }
    snprintf(out, sizeof out, "%s/%s", tmp, dataset);
    snprintf(cmd, sizeof cmd, "'%s' prep --config '%s/configs/datasets/%s.json' %s%s%s --out '%s' >/dev/null", exe, root,
             dataset, source ? "--source '" : "", source ? src : "", source ? "'" : "", out);
    int rc = system(cmd);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "failed: %s\n", cmd);
        return NULL;
    }
    ameir_dataset *ds = NULL;
    rc = ameir_dataset_open(&ds, out);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", ameir_last_error());
        return NULL;
    }
    prepared++;
    return ds;
}

/* every pair of the schema's fields once, in some order within and across groups */
static void check_all_pairs(const ameir_arch *a, const ameir_schema *s, const char *file) {
    int F = s->n_fields;
    CHECK_EQ_INT(a->n_interactions, F * (F - 1) / 2);
    for (int i = 0; i < F; i++)
        for (int j = i + 1; j < F; j++) {
            int found = 0;
            for (int k = 0; k < a->n_interactions; k++) {
                const ameir_interaction *g = &a->interactions[k];
                found += g->order == 2 && ((!strcmp(g->fields[0], s->fields[i].name) &&
                                            !strcmp(g->fields[1], s->fields[j].name)) ||
                                           (!strcmp(g->fields[1], s->fields[i].name) &&
                                            !strcmp(g->fields[0], s->fields[j].name)));
            }
            if (found != 1)
                fprintf(stderr, "%s: pair %s x %s found %d times\n", file, s->fields[i].name, s->fields[j].name, found);
            CHECK_EQ_INT(found, 1);
        }
}

static void check_file(const char *root, const char *name, const ameir_schema *s) {
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/archs/%s", root, name);
    ameir_arch a;
    int rc = ameir_arch_load(&a, path);
    CHECK_EQ_INT(rc, 0);
    if (!rc)
        rc = ameir_arch_check_schema(&a, s, name);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", ameir_last_error());
        return;
    }
    if (!strncmp(name, "deepfm-", 7) || !strncmp(name, "pnn-", 4))
        check_all_pairs(&a, s, name);
    printf("%-28s %d interactions: fields of the dataset\n", name, a.n_interactions);
}

int main(void) {
    const char *root = getenv("AMEIR_SOURCE_ROOT"), *shared = getenv("AMEIR_SHARED_DATA");
    const char *exe = getenv("AMEIR_EXE");
    if (!root || !shared || !exe) {
        fprintf(stderr, "needs AMEIR_SOURCE_ROOT, AMEIR_SHARED_DATA and AMEIR_EXE (run through meson test)\n");
        return 1;
    }
    char tmp[] = "/tmp/ameir_arch_datasets_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/configs/archs", root);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return check_finish("arch_datasets");
    /* the datasets named by the files, each prepared once */
    char done[16][64];
    int n_done = 0;
    struct dirent *e;
    const ameir_schema *synthetic = NULL;
    ameir_dataset *keep[16] = {NULL};
    while ((e = readdir(d))) {
        const char *dash = strchr(e->d_name, '-');
        size_t len = strlen(e->d_name);
        if (!dash || len < 6 || strcmp(e->d_name + len - 5, ".json") || !strncmp(e->d_name, "product-", 8))
            continue;
        char dataset[64];
        snprintf(dataset, sizeof dataset, "%.*s", (int)(len - 5 - (size_t)(dash + 1 - e->d_name)), dash + 1);
        int k = 0;
        while (k < n_done && strcmp(done[k], dataset))
            k++;
        if (k == n_done && n_done < 16) {
            snprintf(done[n_done], sizeof done[n_done], "%s", dataset);
            keep[n_done++] = prepare(root, shared, exe, tmp, dataset);
        }
        if (k < 16 && keep[k]) {
            check_file(root, e->d_name, ameir_dataset_schema(keep[k]));
            if (!strcmp(dataset, "synthetic"))
                synthetic = ameir_dataset_schema(keep[k]);
        }
    }
    closedir(d);

    /* and a file of one dataset fails against another, naming what that one has */
    if (synthetic) {
        ameir_arch a;
        snprintf(dir, sizeof dir, "%s/configs/archs/deepfm-frappe-ctr.json", root);
        CHECK_EQ_INT(ameir_arch_load(&a, dir), 0);
        CHECK_EQ_INT(ameir_arch_check_schema(&a, synthetic, "deepfm-frappe-ctr.json"), AMEIR_ECONFIG);
        CHECK_STR_CONTAINS(ameir_last_error(), "deepfm-frappe-ctr.json: interactions[1][1]: got \"daytime\"");
        CHECK_STR_CONTAINS(ameir_last_error(), "expected a field of the dataset (user, ");
    }
    for (int k = 0; k < n_done; k++)
        ameir_dataset_free(keep[k]);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK_EQ_INT(system(cmd), 0);
    printf("%d datasets prepared, %d skipped\n", prepared, skipped);
    if (!prepared && !skipped)
        CHECK(!"no dataset-specific arch files found");
    if (!prepared && skipped && !check_failures) {
        printf("skipped: no raw data for any dataset\n");
        return 77;
    }
    return check_finish("arch_datasets");
}
