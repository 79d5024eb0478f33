/* Streaming record reader for raw files: plain or gzip (zlib reads both), lines or
 * RFC 4180 records (quoted cells with separators, doubled quotes and newlines inside),
 * latin-1 converted to UTF-8. Memory: one buffer that holds the longest record. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/error.h"
#include "prep_internal.h"

#define REC_CHUNK ((size_t)4 << 20)

/* Through the first '\n' (the end of the previous slice's last record); nothing if none. */
static int skip_partial(rec_reader *r);

/* Records beginning in [start, stop) of path (stop -1: to the end). */
static int rec_open_range(rec_reader *r, const char *path, char sep, int quote, int latin1, int64_t start,
                          int64_t stop) {
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->sep = sep;
    r->quote = quote;
    r->latin1 = latin1;
    r->stop = stop;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ameir_fail(AMEIR_ENOENT, "%s: missing source file (%s)", path, strerror(errno));
    /* a real seek (gzseek on a fresh gzFile reads its way there); from the byte before start,
     * so a record beginning exactly at start is kept */
    if (start > 0 && lseek(fd, (off_t)(start - 1), SEEK_SET) < 0) {
        close(fd);
        return ameir_fail(AMEIR_EIO, "%s: cannot seek to byte %lld (%s)", path, (long long)start, strerror(errno));
    }
    r->base = start > 0 ? start - 1 : 0;
    r->gz = gzdopen(fd, "rb");
    r->cap = REC_CHUNK;
    r->buf = malloc(r->cap + 1);
    if (!r->gz || !r->buf) {
        if (!r->gz)
            close(fd);
        rec_close(r);
        return ameir_fail(AMEIR_ENOMEM, "%s: cannot open (out of memory)", path);
    }
    gzbuffer(r->gz, 1 << 18);
    return start > 0 ? skip_partial(r) : 0;
}

int rec_open(rec_reader *r, const char *path, char sep, int quote, int latin1) {
    return rec_open_range(r, path, sep, quote, latin1, 0, -1);
}

int rec_open_at(rec_reader *r, const char *path, char sep, int latin1, int64_t start, int64_t stop) {
    return rec_open_range(r, path, sep, 0, latin1, start, stop);
}

void rec_close(rec_reader *r) {
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    free(r->conv);
    memset(r, 0, sizeof *r);
}

/* Keep bytes [pos, len), read more behind them; 0 at the end of the file. */
static int refill(rec_reader *r) {
    if (r->eof)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->base += (int64_t)r->pos;
        r->len -= r->pos;
        r->scan -= r->pos;
        r->pos = 0;
    }
    if (r->len == r->cap) {
        char *b = realloc(r->buf, 2 * r->cap + 1);
        if (!b)
            return ameir_fail(AMEIR_ENOMEM, "%s: out of memory for a record of %zu bytes", r->path, r->len);
        r->buf = b;
        r->cap *= 2;
    }
    int got = gzread(r->gz, r->buf + r->len, (unsigned)(r->cap - r->len > (1u << 30) ? 1u << 30 : r->cap - r->len));
    if (got < 0) {
        int err = 0;
        const char *msg = gzerror(r->gz, &err);
        return ameir_fail(AMEIR_EDATA, "%s:%lld: cannot read (%s)", r->path, (long long)(r->line + 1),
                          err == Z_ERRNO ? strerror(errno) : msg);
    }
    if (got == 0) {
        r->eof = 1;
        return 0;
    }
    r->len += (size_t)got;
    return 1;
}

/* The next record's bytes [pos, end) (without its '\n'); *nl = newlines inside it. 0 at the end. */
static int find_record(rec_reader *r, size_t *end, int64_t *nl) {
    r->scan = r->pos;
    int in_quote = 0;
    *nl = 0;
    for (;;) {
        char *s = r->buf + r->scan, *e = memchr(s, '\n', r->len - r->scan);
        size_t stop = e ? (size_t)(e - r->buf) : r->len;
        if (r->quote)
            for (const char *q = memchr(s, '"', stop - r->scan); q; q = memchr(q + 1, '"', (size_t)(r->buf + stop - q - 1)))
                in_quote = !in_quote;
        if (e && !in_quote) {
            *end = stop;
            return 1;
        }
        if (e) { /* a newline inside a quoted cell */
            (*nl)++;
            r->scan = stop + 1;
            continue;
        }
        r->scan = stop;
        size_t scanned = r->scan - r->pos;
        int more = refill(r);
        if (more < 0)
            return more;
        if (!more) {
            if (in_quote)
                return ameir_fail(AMEIR_EDATA, "%s:%lld: a quoted cell is not closed before the end of the file",
                                  r->path, (long long)(r->line + 1));
            if (r->len == r->pos)
                return 0;
            *end = r->len; /* last line without '\n' */
            return 1;
        }
        /* quotes seen so far are counted: rescan only the new bytes */
        r->scan = r->pos + scanned;
    }
}

static int skip_partial(rec_reader *r) {
    for (;;) {
        char *e = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        if (e) {
            r->pos = (size_t)(e - r->buf) + 1;
            return 0;
        }
        r->pos = r->len;
        int more = refill(r);
        if (more <= 0)
            return more;
    }
}

static int convert_latin1(rec_reader *r, char *s, size_t n, char **out) {
    size_t high = 0;
    for (size_t i = 0; i < n; i++)
        high += (unsigned char)s[i] >= 0x80;
    if (!high) {
        *out = s;
        return 0;
    }
    if (n + high + 1 > r->conv_cap) {
        char *c = realloc(r->conv, 2 * (n + high + 1));
        if (!c)
            return ameir_fail(AMEIR_ENOMEM, "%s: out of memory", r->path);
        r->conv = c;
        r->conv_cap = 2 * (n + high + 1);
    }
    unsigned char *q = (unsigned char *)r->conv;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x80) {
            *q++ = (unsigned char)(0xc0 | (b >> 6));
            *q++ = (unsigned char)(0x80 | (b & 0x3f));
        } else {
            *q++ = b;
        }
    }
    *q = '\0';
    *out = r->conv;
    return 0;
}

int rec_next_line(rec_reader *r, char **text, size_t *n) {
    size_t end = 0;
    int64_t nl = 0;
    if (r->stop >= 0 && r->base + (int64_t)r->pos >= r->stop)
        return 0; /* the next record begins in the next slice */
    int got = find_record(r, &end, &nl);
    if (got <= 0)
        return got;
    char *s = r->buf + r->pos;
    size_t len = end - r->pos;
    r->pos = end < r->len ? end + 1 : end;
    r->line += 1 + nl;
    r->first_line = r->line - nl;
    if (len && s[len - 1] == '\r')
        len--;
    s[len] = '\0';
    if (r->latin1)
        AMEIR_TRY(convert_latin1(r, s, len, &s));
    *text = s;
    *n = strlen(s);
    return 1;
}

int rec_split(rec_reader *r, char *s, char **tok, int max) {
    char sep = r->sep;
    int n = 0;
    if (!r->quote || !strchr(s, '"')) {
        /* one walk over the bytes: cells are a few bytes each, a strchr call per cell cost more */
        if (max > 0)
            tok[0] = s;
        n = 1;
        for (char *p = s; *p; p++)
            if (*p == sep) {
                *p = '\0';
                if (n < max)
                    tok[n] = p + 1;
                n++;
            }
        return n;
    }
    /* RFC 4180: a cell that starts with '"' runs to the matching '"'; "" inside is one '"' */
    char *w = s;
    for (;;) {
        char *cell = w;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '\0')
                    return ameir_fail(AMEIR_EDATA, "%s:%lld: cell %d: a quoted cell is not closed", r->path,
                                      (long long)r->first_line, n + 1);
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *w++ = *s++;
                }
            }
            if (*s && *s != sep)
                return ameir_fail(AMEIR_EDATA, "%s:%lld: cell %d: expected a separator after the closing quote, found '%c'",
                                  r->path, (long long)r->first_line, n + 1, *s);
        } else {
            while (*s && *s != sep)
                *w++ = *s++;
        }
        int last = *s == '\0';
        *w++ = '\0';
        s++;
        if (n < max)
            tok[n] = cell;
        n++;
        if (last)
            break;
    }
    return n;
}

int rec_sequence_each(const char *path, int64_t line, char sep, char *s,
                      int (*fn)(void *ctx, const char *key, const char *item, int64_t pos), void *ctx) {
    char *p = strchr(s, sep);
    if (!p || !p[1] || p == s)
        return ameir_fail(AMEIR_EDATA, "%s:%lld: expected a key and at least one item", path, (long long)line);
    *p++ = '\0';
    for (int64_t pos = 0; p; pos++) {
        char *item = p, *e = strchr(p, sep);
        p = NULL;
        if (e) {
            *e = '\0';
            p = e[1] ? e + 1 : NULL; /* a trailing separator ends the line */
        }
        if (!item[0])
            return ameir_fail(AMEIR_EDATA, "%s:%lld: empty item (doubled separator)", path, (long long)line);
        AMEIR_TRY(fn(ctx, s, item, pos));
    }
    return 0;
}

static int count_item(void *ctx, const char *key, const char *item, int64_t pos) {
    (void)key, (void)item, (void)pos;
    ++*(int64_t *)ctx;
    return 0;
}

int prep_rows_of_line(const dcfg_source *src, int fi, const char *path, int64_t line, char *s, int64_t *rows) {
    *rows = 0;
    if (!s[0] || (line == 1 && src->files[fi].header))
        return 0;
    if (src->format != DSRC_SEQUENCE) {
        *rows = 1;
        return 0;
    }
    if (rec_sequence_each(path, line, src->sep, s, count_item, rows) < 0)
        ameir_clear_error(); /* counted as far as it goes: pass 1 names the bad line */
    return 0;
}

static int set_names(row_reader *rr, char **tok, int n) {
    const dcfg_source *src = rr->src;
    *rr->n_names = src->n_columns ? src->n_columns : n;
    for (int i = 0; i < *rr->n_names; i++)
        snprintf(rr->names[i], DCFG_NAME, "%s", src->n_columns ? src->columns[i] : tok[i]);
    return 0;
}

int row_open(row_reader *rr, const dcfg_source *src, int fi, const char *path, char (*names)[DCFG_NAME],
             int *n_names) {
    return row_open_at(rr, src, fi, path, names, n_names, 0, -1, 0);
}

int row_open_at(row_reader *rr, const dcfg_source *src, int fi, const char *path, char (*names)[DCFG_NAME],
                int *n_names, int64_t start, int64_t stop, int64_t line_base) {
    memset(rr, 0, sizeof *rr);
    rr->src = src;
    rr->fi = fi;
    rr->names = names;
    rr->n_names = n_names;
    if (!*n_names && src->n_columns && src->format != DSRC_SEQUENCE)
        set_names(rr, NULL, 0);
    int quote = src->quote && src->format == DSRC_DELIMITED;
    if (start == 0 && stop < 0)
        return rec_open(&rr->rec, path, src->sep, quote, src->latin1);
    if (quote)
        return ameir_fail(AMEIR_EINTERNAL, "%s: a quoted file is read whole, not from byte %lld", path, (long long)start);
    AMEIR_TRY(rec_open_at(&rr->rec, path, src->sep, src->latin1, start, stop));
    rr->rec.line = line_base;
    return 0;
}

void row_close(row_reader *rr) { rec_close(&rr->rec); }

int row_next(row_reader *rr) {
    const dcfg_source *src = rr->src;
    const char *path = rr->rec.path;
    char *s;
    size_t len;
    int got;
    while ((got = rec_next_line(&rr->rec, &s, &len)) > 0) {
        int64_t line = rr->line = rr->rec.first_line;
        if (!s[0])
            continue; /* blank lines carry nothing */
        if (line == 1 && src->files[rr->fi].header) {
            int n = rec_split(&rr->rec, s, rr->tok, DCFG_MAX_COLS);
            if (n < 0)
                return n;
            if (n > DCFG_MAX_COLS)
                return ameir_fail(AMEIR_EDATA, "%s:1: more than %d columns", path, DCFG_MAX_COLS);
            if (!*rr->n_names)
                set_names(rr, rr->tok, n);
            if (n != *rr->n_names)
                return ameir_fail(AMEIR_EDATA, "%s:1: header has %d columns, expected %d", path, n, *rr->n_names);
            continue;
        }
        if (src->format == DSRC_SEQUENCE) {
            rr->tok[0] = s;
            rr->n = 1;
            return 1;
        }
        int n = rec_split(&rr->rec, s, rr->tok, DCFG_MAX_COLS + 1);
        if (n < 0)
            return n;
        if (src->format == DSRC_LIBFM) {
            while (n > 0 && !rr->tok[n - 1][0])
                n--; /* trailing separator */
            if (!*rr->n_names)
                set_names(rr, rr->tok, n);
            if (n != *rr->n_names)
                return ameir_fail(AMEIR_EDATA, "%s:%lld: %d columns (label and features), expected %d", path,
                                  (long long)line, n, *rr->n_names);
            for (int i = 1; i < n; i++) {
                char *colon = strchr(rr->tok[i], ':');
                if (!colon || colon == rr->tok[i])
                    return ameir_fail(AMEIR_EDATA, "%s:%lld: column %d: expected index:value, found \"%s\"", path,
                                      (long long)line, i + 1, rr->tok[i]);
                *colon = '\0';
            }
        } else {
            if (!*rr->n_names)
                set_names(rr, rr->tok, n);
            if (n != *rr->n_names)
                return ameir_fail(AMEIR_EDATA, "%s:%lld: %d columns, expected %d", path, (long long)line, n,
                                  *rr->n_names);
        }
        rr->n = n;
        return 1;
    }
    return got;
}
