/* The results journal: RUN.journal beside RUN.h5 holds, one CRC-checked record each, the
 * results reported since RUN.h5 was last written whole, so a result costs an append instead
 * of a rewrite of the whole trial table (docs/checkpoint-format.md, "The journal").
 *
 * File: a 32-byte header (magic "AMEIRJ01", the config hash, the id of the RUN.h5 snapshot it
 * follows, a CRC-32 of those 24 bytes, 4 zero bytes), then records: u32 payload length, the
 * payload (a search result in a fixed layout, native byte order), u32 CRC-32 of length and
 * payload. A journal applies only to the snapshot whose id it names; a torn last record (a
 * kill during its write) is dropped; a bad record before a good one is damage. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/search.h"
#include "ameir/seal.h"
#include "ameir/trial.h"
#include "ameir/rng.h"
#include "checkpoint_priv.h"

#define HEADER_BYTES 32
#define SYNC_SECONDS 0.5 /* a power loss may lose this much; a killed process loses nothing */

static const char magic[8] = {'A', 'M', 'E', 'I', 'R', 'J', '0', '1'};

/* payload: trial id, status, worker, metric, steps, seconds, then valid and test as
 * (task, rows, values) */
#define METRICS_BYTES (4 + 8 + 8 * AMEIR_N_METRIC_VALUES)
#define PAYLOAD_BYTES (8 + 4 + 4 + 8 + 8 + 8 + 2 * METRICS_BYTES)
#define RECORD_BYTES (4 + PAYLOAD_BYTES + 4)

struct ameir_journal {
    int fd;
    char path[AMEIR_PATH_MAX + 16];
    int64_t records; /* appended since the last whole write */
    double synced;   /* time of the last fdatasync */
    int dirty;
};

int ameir_journal_path(const char *run_path, char *out, size_t cap) { return ameir_run_sibling(run_path, ".journal", out, cap); }

static void put(unsigned char **p, const void *v, size_t n) {
    memcpy(*p, v, n);
    *p += n;
}
static void get(const unsigned char **p, void *v, size_t n) {
    memcpy(v, *p, n);
    *p += n;
}

static void put_metrics(unsigned char **p, const ameir_metrics *m) {
    int32_t task = m->task;
    double v[AMEIR_N_METRIC_VALUES];
    ameir_metrics_get_values(m, v);
    put(p, &task, 4), put(p, &m->rows, 8), put(p, v, sizeof v);
}
static void get_metrics(const unsigned char **p, ameir_metrics *m) {
    int32_t task;
    double v[AMEIR_N_METRIC_VALUES];
    memset(m, 0, sizeof *m);
    get(p, &task, 4), get(p, &m->rows, 8), get(p, v, sizeof v);
    m->task = task;
    ameir_metrics_set_values(m, v);
}

static void encode(const ameir_search_result *r, unsigned char rec[RECORD_BYTES]) {
    unsigned char *p = rec;
    uint32_t len = PAYLOAD_BYTES;
    int32_t status = r->status, worker = r->worker;
    put(&p, &len, 4);
    put(&p, &r->trial_id, 8), put(&p, &status, 4), put(&p, &worker, 4), put(&p, &r->metric, 8);
    put(&p, &r->steps, 8), put(&p, &r->seconds, 8);
    put_metrics(&p, &r->valid), put_metrics(&p, &r->test);
    uint32_t crc = ameir_crc32(0, rec, 4 + PAYLOAD_BYTES);
    put(&p, &crc, 4);
}

/* 1 and *r for a whole record with a good checksum, 0 otherwise. */
static int decode(const unsigned char rec[RECORD_BYTES], ameir_search_result *r) {
    const unsigned char *p = rec;
    uint32_t len, crc;
    int32_t status, worker;
    get(&p, &len, 4);
    if (len != PAYLOAD_BYTES)
        return 0;
    memcpy(&crc, rec + 4 + PAYLOAD_BYTES, 4);
    if (crc != ameir_crc32(0, rec, 4 + PAYLOAD_BYTES))
        return 0;
    memset(r, 0, sizeof *r);
    get(&p, &r->trial_id, 8), get(&p, &status, 4), get(&p, &worker, 4), get(&p, &r->metric, 8);
    get(&p, &r->steps, 8), get(&p, &r->seconds, 8);
    get_metrics(&p, &r->valid), get_metrics(&p, &r->test);
    r->status = status, r->worker = worker;
    return 1;
}

static void header(unsigned char h[HEADER_BYTES], uint64_t config_hash, uint64_t snapshot) {
    memset(h, 0, HEADER_BYTES);
    memcpy(h, magic, 8);
    memcpy(h + 8, &config_hash, 8);
    memcpy(h + 16, &snapshot, 8);
    uint32_t crc = ameir_crc32(0, h, 24);
    memcpy(h + 24, &crc, 4);
}

int ameir_journal_reset(const char *run_path, uint64_t config_hash, uint64_t snapshot) {
    char path[AMEIR_PATH_MAX + 16];
    unsigned char h[HEADER_BYTES];
    AMEIR_TRY(ameir_journal_path(run_path, path, sizeof path));
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        return ameir_fail(AMEIR_EIO, "%s: cannot open the journal: %s", path, strerror(errno));
    /* empty first: a crash between the two steps leaves no journal, which is right, since
     * the snapshot just written holds every result */
    header(h, config_hash, snapshot);
    int ok = ftruncate(fd, 0) == 0 && pwrite(fd, h, HEADER_BYTES, 0) == HEADER_BYTES && fdatasync(fd) == 0;
    int err = errno;
    close(fd);
    if (!ok)
        return ameir_fail(AMEIR_EIO, "%s: cannot reset the journal: %s", path, strerror(err));
    return 0;
}

int ameir_journal_open(ameir_journal **out, const char *run_path) {
    ameir_journal *j = calloc(1, sizeof *j);
    *out = NULL;
    if (!j)
        return ameir_fail(AMEIR_ENOMEM, "no memory for the journal");
    int rc = ameir_journal_path(run_path, j->path, sizeof j->path);
    if (rc < 0) {
        free(j);
        return rc;
    }
    j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (j->fd < 0) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot open the journal for appending: %s", j->path, strerror(errno));
        free(j);
        return rc;
    }
    j->synced = ameir_now();
    *out = j;
    return 0;
}

int ameir_journal_sync(ameir_journal *j) {
    if (j->dirty && fdatasync(j->fd) != 0)
        return ameir_fail(AMEIR_EIO, "%s: fdatasync failed: %s", j->path, strerror(errno));
    j->dirty = 0;
    j->synced = ameir_now();
    return 0;
}

int ameir_journal_append(ameir_journal *j, const ameir_search_result *r) {
    unsigned char rec[RECORD_BYTES];
    encode(r, rec);
    /* one write: once it returns the record survives a kill of this process */
    ssize_t w = write(j->fd, rec, sizeof rec);
    if (w != (ssize_t)sizeof rec)
        return ameir_fail(AMEIR_EIO, "%s: appending a result failed: %s", j->path, w < 0 ? strerror(errno) : "short write");
    j->records++;
    j->dirty = 1;
    if (ameir_now() - j->synced >= SYNC_SECONDS)
        AMEIR_TRY(ameir_journal_sync(j));
    return 0;
}

/* A whole rewrite every max(1000, trials) results: a rewrite costs O(trials), so per result
 * the rewrites stay O(1) however large the table grows (about 10 us a trial each here). */
int ameir_journal_record(ameir_journal *j, const char *run_path, const ameir_search_config *cfg,
                         const ameir_controller *ctl, const ameir_search_result *r) {
    AMEIR_TRY(ameir_journal_append(j, r));
    int64_t every = ameir_controller_n_trials(ctl);
    if (j->records < (every > 1000 ? every : 1000))
        return 0;
    AMEIR_TRY(ameir_checkpoint_write(run_path, cfg, ctl)); /* resets the journal */
    j->records = 0;
    j->dirty = 0;
    return 0;
}

int64_t ameir_journal_pending(const ameir_journal *j) { return j ? j->records : 0; }

int ameir_journal_close(ameir_journal *j) {
    if (!j)
        return 0;
    int rc = ameir_journal_sync(j);
    close(j->fd);
    free(j);
    return rc;
}

int ameir_journal_replay(const char *run_path, const ameir_search_config *cfg, uint64_t snapshot, ameir_controller *ctl,
                         int64_t *applied) {
    char path[AMEIR_PATH_MAX + 16];
    unsigned char h[HEADER_BYTES], want[HEADER_BYTES], rec[RECORD_BYTES];
    *applied = 0;
    AMEIR_TRY(ameir_journal_path(run_path, path, sizeof path));
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : ameir_fail(AMEIR_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = 0;
    header(want, cfg->hash, snapshot);
    /* no header, or one for another snapshot (RUN.h5.prev, or a crash right after a whole
     * write): the snapshot holds everything this journal could add */
    if (fread(h, 1, HEADER_BYTES, f) != HEADER_BYTES || memcmp(h, want, HEADER_BYTES) != 0)
        goto done;
    int64_t offset = HEADER_BYTES, torn = -1;
    size_t got;
    while ((got = fread(rec, 1, RECORD_BYTES, f)) > 0) {
        ameir_search_result r;
        if (got < RECORD_BYTES || !decode(rec, &r)) {
            torn = offset;
            if (got == RECORD_BYTES && fread(rec, 1, 1, f) == 1) { /* more follows: not a torn tail */
                rc = ameir_fail(AMEIR_ECHECKPOINT, "%s: damaged record at byte %lld (bad length or checksum) before the end",
                                path, (long long)offset);
                goto done;
            }
            break;
        }
        const ameir_trial *t = ameir_controller_trial(ctl, r.trial_id);
        if (!t) {
            rc = ameir_fail(AMEIR_ECHECKPOINT, "%s: record at byte %lld is for trial %lld, which the search has not made",
                            path, (long long)offset, (long long)r.trial_id);
            goto done;
        }
        if (t->status < AMEIR_TRIAL_DONE) { /* finished ones are in the snapshot already */
            if ((rc = ameir_controller_replay_result(ctl, &r)) < 0) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", ameir_last_error());
                rc = ameir_fail(AMEIR_ECHECKPOINT, "%s: record at byte %lld: %s", path, (long long)offset, msg);
                goto done;
            }
            /* the CRC says the bytes are as written; the row check says they make sense */
            char msg[256];
            int task = -1;
            if (ameir_trial_row_check(cfg, ameir_controller_trial(ctl, r.trial_id), r.trial_id, &task, msg, sizeof msg) < 0) {
                rc = ameir_fail(AMEIR_ECHECKPOINT, "%s: record at byte %lld: %s", path, (long long)offset, msg);
                goto done;
            }
            (*applied)++;
        }
        offset += RECORD_BYTES;
    }
    if (torn >= 0)
        ameir_log(AMEIR_LOG_WARN, "%s: dropped a torn last record at byte %lld (the process was killed while writing it; "
                                  "that trial runs again)", path, (long long)torn);
done:
    fclose(f);
    return rc;
}
