/* The spill of the streaming prep: pass 1 writes each row as split, label, (time,) each
 * field's value entries (a multi-valued field's count first) and user; the later passes read
 * the rows back in order. One buffer of SPILL_BUF bytes in each direction, a row written or
 * read in one piece: a row is dozens of small fields, and a call (stdio or ours) per field
 * cost a tenth of the prep's time. */
#include <string.h>

#include "ameir/error.h"
#include "stream_internal.h"

/* The most bytes one row takes: far below SPILL_BUF, so a row always fits the buffer. */
#define ROW_MAX (1 + sizeof(float) + sizeof(double) + AMEIR_MAX_FIELDS * (2 + 4 * MAX_VALUES) + sizeof(int64_t))

static int spill_flush(stream *st) {
    if (st->sused && fwrite(st->sbuf, 1, st->sused, st->spill) != st->sused)
        return ameir_fail(AMEIR_EIO, "%s: write failed (disk full?)", st->spill_path);
    st->sused = 0;
    return 0;
}

static unsigned char *put(unsigned char *p, const void *v, size_t n) {
    if (n) /* a field with no values yet may have no entry buffer */
        memcpy(p, v, n);
    return p + n;
}

int stream_spill_row(stream *st, int r, int64_t uid) {
    const dcfg *c = st->c;
    _Static_assert(ROW_MAX < SPILL_BUF, "a spilled row fits the buffer");
    if (st->sused + ROW_MAX > SPILL_BUF)
        AMEIR_TRY(spill_flush(st));
    unsigned char *p = st->sbuf + st->sused;
    p = put(p, &st->bsplit[r], 1);
    p = put(p, &st->blab[r], sizeof st->blab[r]);
    if (st->seq)
        p = put(p, &st->btime[r], sizeof st->btime[r]);
    for (int fi = 0; fi < c->n_fields; fi++) {
        int32_t b = st->boff[fi][r], n = st->boff[fi][r + 1] - b;
        if (c->fields[fi].kind == DF_MULTI) {
            uint16_t k = (uint16_t)n;
            p = put(p, &k, sizeof k);
        }
        p = put(p, st->bent[fi] + b, (size_t)n * sizeof(int32_t));
    }
    if (st->user_col >= 0)
        p = put(p, &uid, sizeof uid);
    st->sused = (size_t)(p - st->sbuf);
    return 0;
}

int stream_spill_rewind(stream *st) {
    if (!st->sreading) /* the last writes are still in the buffer */
        AMEIR_TRY(spill_flush(st));
    st->sreading = 1;
    st->sread = st->sused = 0;
    if (fflush(st->spill) || fseek(st->spill, 0, SEEK_SET))
        return ameir_fail(AMEIR_EIO, "%s: write failed (disk full?)", st->spill_path);
    return 0;
}

/* Bytes [sread, sused) of sbuf are read from the file but not yet taken: at least ROW_MAX of
 * them afterwards, unless the file ends first. */
static void refill(stream *st) {
    size_t left = st->sused - st->sread;
    memmove(st->sbuf, st->sbuf + st->sread, left);
    st->sread = 0;
    st->sused = left + fread(st->sbuf + left, 1, SPILL_BUF - left, st->spill);
}

/* n bytes from *p (before end) to v; -1 if the spill ends first. */
static int take(const unsigned char **p, const unsigned char *end, void *v, size_t n) {
    if ((size_t)(end - *p) < n)
        return -1;
    memcpy(v, *p, n);
    *p += n;
    return 0;
}

int stream_read_spilled(stream *st, spilled_row *row) {
    const dcfg *c = st->c;
    if (st->sused - st->sread < ROW_MAX)
        refill(st);
    const unsigned char *p = st->sbuf + st->sread, *end = st->sbuf + st->sused;
    int short_read = take(&p, end, &row->split, 1) || take(&p, end, &row->label, sizeof row->label);
    if (!short_read && (row->split < 0 || row->split > 2))
        return ameir_fail(AMEIR_EIO, "%s: damaged (split %d)", st->spill_path, row->split);
    row->time = 0;
    if (st->seq)
        short_read = short_read || take(&p, end, &row->time, sizeof row->time);
    int32_t *at = row->buf;
    for (int fi = 0; fi < c->n_fields && !short_read; fi++) {
        const svocab *v = &st->fv[fi];
        uint16_t n = 1;
        if (c->fields[fi].kind == DF_MULTI && (short_read = take(&p, end, &n, sizeof n)))
            break;
        if (n > MAX_VALUES)
            return ameir_fail(AMEIR_EIO, "%s: damaged (%d values)", st->spill_path, n);
        if ((short_read = take(&p, end, at, (size_t)n * sizeof *at)))
            break;
        for (int i = 0; i < n; i++)
            if (at[i] < 0 || at[i] >= v->voc.n)
                return ameir_fail(AMEIR_EIO, "%s: damaged (entry %d)", st->spill_path, at[i]);
        row->ent[fi] = at;
        row->n[fi] = n;
        at += n;
    }
    row->user = -1;
    if (st->user_col >= 0 && !short_read) {
        short_read = take(&p, end, &row->user, sizeof row->user);
        if (!short_read && (row->user < 0 || row->user >= (int64_t)st->users.n))
            return ameir_fail(AMEIR_EIO, "%s: damaged (user %lld)", st->spill_path, (long long)row->user);
        if (!short_read && st->user_map)
            row->user = st->user_map[row->user];
    }
    if (short_read)
        return ameir_fail(AMEIR_EIO, "%s: read failed (changed while prep ran?)", st->spill_path);
    st->sread = (size_t)(p - st->sbuf);
    return 0;
}
