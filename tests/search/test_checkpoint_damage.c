/* Damaged checkpoints: every copy of a finished RUN.h5 damaged by truncation (at many
 * offsets), flipped bits, zeroed blocks, appended bytes, and HDF5 files we did not write, is
 * refused with AMEIR_ECHECKPOINT (exit 2) and the .prev hint, in bounded time (the meson
 * timeout catches a hang); then semantic violations behind a valid seal are refused with the
 * row and column named. Prints the copies by outcome (docs/reliability.md). */
#include <hdf5.h>
#include <stdint.h>
#include <unistd.h>

#include "checkpoint_util.h"

static char dir[256], path[320], copy[330], copy_prev[340];
static unsigned char *orig;
static long orig_size;

typedef struct tally {
    const char *kind;
    int copies, refused, hint, other;
} tally;

static void write_bytes(const char *p, const unsigned char *b, long n) {
    FILE *f = fopen(p, "wb");
    AMEIR_ASSERT(f && (n == 0 || fwrite(b, 1, (size_t)n, f) == (size_t)n) && fclose(f) == 0);
}

/* Read a damaged copy; count the outcome. */
static void try_copy(tally *t, const unsigned char *b, long n) {
    ameir_search_config *cfg = NULL;
    ameir_controller *ctl = NULL;
    write_bytes(copy, b, n);
    int rc = ameir_checkpoint_read(copy, &cfg, &ctl);
    t->copies++;
    if (rc == AMEIR_ECHECKPOINT) {
        t->refused++;
        t->hint += strstr(ameir_last_error(), "resume from") && strstr(ameir_last_error(), "copy.h5.prev") ? 1 : 0;
    } else {
        t->other++;
        fprintf(stderr, "%s copy %d: read returned %d (%s)\n", t->kind, t->copies, rc, rc ? ameir_last_error() : "accepted");
    }
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
}

static void report_tally(const tally *t) {
    printf("damage %-12s copies %4d  refused (exit 2) %4d  with the .prev hint %4d  other %d\n", t->kind, t->copies,
           t->refused, t->hint, t->other);
    CHECK_EQ_INT(t->refused, t->copies);
    CHECK_EQ_INT(t->hint, t->copies);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) { /* xorshift64*: reproducible copies */
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void campaign(void) {
    unsigned char *b = malloc((size_t)orig_size + 4096);
    AMEIR_ASSERT(b);
    tally trunc = {"truncation", 0, 0, 0, 0}, flips = {"bit-flips", 0, 0, 0, 0}, zeros = {"zeroed-block", 0, 0, 0, 0},
          extra = {"appended", 0, 0, 0, 0}, foreign = {"foreign", 0, 0, 0, 0};
    /* every length below 600 bytes in steps of 7, then every 97 bytes to the end */
    for (long n = 0; n < orig_size; n += n < 600 ? 7 : 97)
        try_copy(&trunc, orig, n);
    try_copy(&trunc, orig, orig_size - 1);
    for (int k = 0; k < 400; k++) {
        memcpy(b, orig, (size_t)orig_size);
        int bits = 1 + (int)(next_rand() % 4);
        for (int i = 0; i < bits; i++) {
            uint64_t bit = next_rand() % ((uint64_t)orig_size * 8);
            b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        }
        try_copy(&flips, b, orig_size);
    }
    /* 4 KiB of zeros at every 512-byte offset, and the block of the issue (bytes 3392-7487) */
    for (long at = 0; at < orig_size; at += 512) {
        memcpy(b, orig, (size_t)orig_size);
        memset(b + at, 0, (size_t)(at + 4096 <= orig_size ? 4096 : orig_size - at));
        try_copy(&zeros, b, orig_size);
    }
    memcpy(b, orig, (size_t)orig_size);
    memset(b + 3392, 0, 7488 - 3392);
    try_copy(&zeros, b, orig_size);
    for (long more = 1; more <= 4096; more *= 8) {
        memcpy(b, orig, (size_t)orig_size);
        memset(b + orig_size, 0x5A, (size_t)more);
        try_copy(&extra, b, orig_size + more);
    }
    /* the same checkpoint with its seal wiped (HDF5 still reads it), text, and an HDF5 file
     * of our layout written by someone else (no user block) */
    memcpy(b, orig, (size_t)orig_size);
    memset(b, 0, AMEIR_SEAL_BLOCK);
    try_copy(&foreign, b, orig_size);
    const char *text = "{\"trials\": []}\n";
    try_copy(&foreign, (const unsigned char *)text, (long)strlen(text));
    hid_t f = H5Fcreate(copy, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    AMEIR_ASSERT(f >= 0);
    hid_t g = H5Gcreate2(f, "trials", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(f);
    long fn = file_size(copy);
    unsigned char *fb = malloc((size_t)fn);
    FILE *in = fopen(copy, "rb");
    AMEIR_ASSERT(fb && in && fread(fb, 1, (size_t)fn, in) == (size_t)fn);
    fclose(in);
    try_copy(&foreign, fb, fn);
    free(fb);
    report_tally(&trunc);
    report_tally(&flips);
    report_tally(&zeros);
    report_tally(&extra);
    report_tally(&foreign);
    free(b);
}

/* ---- semantic violations behind a valid seal ---- */

static int64_t edit_row;
static double edit_f;
static int64_t edit_i;
static const char *edit_name;
static int edit_col;

static void put_element(hid_t file, const char *name, hid_t type, int64_t row, int col, const void *v) {
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fs);
    hsize_t start[2] = {(hsize_t)row, (hsize_t)col}, count[2] = {1, 1};
    hid_t ms = H5Screate_simple(rank, count, NULL);
    AMEIR_ASSERT(d >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0);
    AMEIR_ASSERT(H5Dwrite(d, type, ms, fs, H5P_DEFAULT, v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
}
static void set_i64(hid_t f) { put_element(f, edit_name, H5T_NATIVE_INT64, edit_row, 0, &edit_i); }
static void set_f64(hid_t f) { put_element(f, edit_name, H5T_NATIVE_DOUBLE, edit_row, edit_col, &edit_f); }
static void set_n_trials(hid_t f) {
    hid_t a = H5Aopen(f, "n_trials", H5P_DEFAULT);
    AMEIR_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &edit_i) >= 0);
    H5Aclose(a);
}

static const char *edit_text;
static void set_str(hid_t f) {
    hid_t t = H5Tcopy(H5T_C_S1);
    AMEIR_ASSERT(t >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0);
    put_element(f, edit_name, t, edit_row, 0, &edit_text);
    H5Tclose(t);
}

static void violation_i64(const char *name, int64_t row, int64_t v, const char *message) {
    copy_file(path, copy, -1);
    edit_name = name, edit_row = row, edit_i = v;
    edit(copy, set_i64);
    refused(copy, AMEIR_ECHECKPOINT, message);
}
static void violation_f64(const char *name, int64_t row, int col, double v, const char *message) {
    copy_file(path, copy, -1);
    edit_name = name, edit_row = row, edit_col = col, edit_f = v;
    edit(copy, set_f64);
    refused(copy, AMEIR_ECHECKPOINT, message);
}

static void semantics(const ameir_controller *ctl) {
    int64_t done = -1, diverged = -1, final = -1;
    for (int64_t id = 0; id < ameir_controller_n_trials(ctl); id++) {
        const ameir_trial *t = ameir_controller_trial(ctl, id);
        if (t->status == AMEIR_TRIAL_DONE && t->kind == AMEIR_TRIAL_SEARCH && done < 0)
            done = id;
        if (t->status == AMEIR_TRIAL_DIVERGED && diverged < 0)
            diverged = id;
        if (t->kind == AMEIR_TRIAL_FINAL_WINNER)
            final = id;
    }
    AMEIR_ASSERT(done >= 0 && diverged >= 0 && final >= 0);
    char want[160];
    snprintf(want, sizeof want, "trial %lld, column metric: got nan, expected", (long long)done);
    violation_f64("trials/metric", done, 0, NAN, want);
    snprintf(want, sizeof want, "trial %lld, column metric: got 0.25, expected", (long long)done);
    violation_f64("trials/metric", done, 0, 0.25, want); /* disagrees with valid.auc */
    snprintf(want, sizeof want, "trial %lld, column metric: got 0.7, expected NaN for a diverged trial", (long long)diverged);
    violation_f64("trials/metric", diverged, 0, 0.7, want);
    snprintf(want, sizeof want, "trial %lld, column steps: got -5, expected 0..", (long long)done);
    violation_i64("trials/steps", done, -5, want);
    snprintf(want, sizeof want, "trial %lld, column budget: got 1000000", (long long)done);
    violation_i64("trials/budget", done, 1000000, want);
    snprintf(want, sizeof want, "trial %lld, column status: got 7, expected 0..4", (long long)done);
    violation_i64("trials/status", done, 7, want);
    snprintf(want, sizeof want, "trial %lld, column worker: got 1099511627776, out of range", (long long)done);
    violation_i64("trials/worker", done, (int64_t)1 << 40, want);
    snprintf(want, sizeof want, "trial %lld, column parent: got %lld", (long long)final, (long long)done);
    violation_i64("trials/parent", final, done, want);
    snprintf(want, sizeof want, "trial %lld, column valid.auc: got 1.5, expected NaN or 0..1", (long long)diverged);
    violation_f64("trials/valid", diverged, 2, 1.5, want);
    snprintf(want, sizeof want, "trial %lld, column valid.task: got 7", (long long)done);
    violation_f64("trials/valid", done, 0, 7, want);
    snprintf(want, sizeof want, "trial %lld, column test.logloss: got -1", (long long)final);
    violation_f64("trials/test", final, 3, -1, want);
    snprintf(want, sizeof want, "trial %lld, column seed: got 12345, expected the config's", (long long)done);
    violation_i64("trials/seed", done, 12345, want);
    snprintf(want, sizeof want, "trial %lld, column seed: got 12345, expected one of the 1 final seeds", (long long)final);
    violation_i64("trials/seed", final, 12345, want);
    snprintf(want, sizeof want, "trial %lld, column seconds: got inf", (long long)done);
    violation_f64("trials/seconds", done, 0, INFINITY, want);
    violation_i64("controller/stage_winners", 0, done == 0 ? 1 : 0, "/controller/stage_winners[0] is");
    /* an arch naming a field the config never names: the packed table cannot hold it, and no
     * trial of the config can be it */
    copy_file(path, copy, -1);
    edit_name = "trials/arch", edit_row = done, edit_text = "{\"interactions\": [[\"user\", \"zipcode\"]]}";
    edit(copy, set_str);
    snprintf(want, sizeof want, "trial %lld: recorded architecture differs from the one the config gives (it names a field", (long long)done);
    refused(copy, AMEIR_ECHECKPOINT, want);
    /* a huge table length is refused as damage, not as out of memory */
    copy_file(path, copy, -1);
    edit_i = (int64_t)1 << 62;
    edit(copy, set_n_trials);
    refused(copy, AMEIR_ECHECKPOINT, "n_trials 4611686018427387904: more rows than a file of");
    /* an edit without a new seal never reaches HDF5 */
    copy_file(path, copy, -1);
    hid_t f = H5Fopen(copy, H5F_ACC_RDWR, H5P_DEFAULT);
    edit_name = "trials/steps", edit_row = done, edit_i = -5;
    set_i64(f);
    H5Fclose(f);
    refused(copy, AMEIR_ECHECKPOINT, "checksum mismatch");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/ameir_test_damage_XXXXXX");
    AMEIR_ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/RUN.h5", dir);
    snprintf(copy, sizeof copy, "%s/copy.h5", dir);
    snprintf(copy_prev, sizeof copy_prev, "%s.prev", copy);
    ameir_search_config *cfg = make_config();
    ameir_controller *ctl = NULL;
    CHECK_EQ_INT(ameir_controller_create(&ctl, cfg), 0);
    advance(ctl, 1000, 0);
    CHECK_EQ_INT(ameir_checkpoint_write(path, cfg, ctl), 0);
    copy_file(path, copy_prev, -1); /* so every refusal can name it */
    orig_size = file_size(path);
    orig = malloc((size_t)orig_size);
    FILE *in = fopen(path, "rb");
    AMEIR_ASSERT(orig && in && fread(orig, 1, (size_t)orig_size, in) == (size_t)orig_size);
    fclose(in);
    printf("checkpoint of %lld trials, %ld bytes\n", (long long)ameir_controller_n_trials(ctl), orig_size);

    campaign();
    semantics(ctl);

    free(orig);
    ameir_controller_free(ctl);
    ameir_search_config_free(cfg);
    unlink(copy);
    unlink(copy_prev);
    unlink(path);
    rmdir(dir);
    return check_finish("test_checkpoint_damage");
}
