/* From raw cells to value strings and labels, the same for the in-memory and the streaming
 * prep: label rules, multi-valued cells, flag columns, date transforms, numeric bins. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ameir/error.h"
#include "prep_internal.h"

static void at_of(const prep_cells *pc, int which, char *out, size_t n) {
    if (pc->where)
        pc->where(pc->ctx, which, out, n);
    else
        snprintf(out, n, "?");
}

int prep_label(const dcfg *c, const prep_cells *pc, float *out) {
    const char *s = pc->cell;
    char at[DCFG_PATH + 32];
    if (c->label_kind == DLABEL_CMP) {
        char *end = NULL;
        double v = strtod(s, &end);
        if (!s[0] || *end || !isfinite(v)) {
            at_of(pc, -1, at, sizeof at);
            return ameir_fail(AMEIR_EDATA, "%s: label column %s: expected a number, found \"%s\"", at, c->label_column,
                              s);
        }
        if (fabs(v) > PREP_LABEL_MAX) {
            at_of(pc, -1, at, sizeof at);
            return ameir_fail(AMEIR_EDATA, "%s: label column %s: %s is out of range (expected [-2^53, 2^53])", at,
                              c->label_column, s);
        }
        int y = 0;
        switch (c->label_op) {
        case DCMP_GE: y = v >= c->label_value; break;
        case DCMP_GT: y = v > c->label_value; break;
        case DCMP_LE: y = v <= c->label_value; break;
        case DCMP_LT: y = v < c->label_value; break;
        case DCMP_EQ: y = v == c->label_value; break;
        default: y = v != c->label_value; break;
        }
        *out = (float)y;
    } else if (c->label_kind == DLABEL_MAP) {
        int k = 0;
        while (k < c->n_map && strcmp(c->map_keys[k], s))
            k++;
        if (k == c->n_map && c->map_open) {
            *out = 0;
        } else if (k == c->n_map) {
            at_of(pc, -1, at, sizeof at);
            return ameir_fail(AMEIR_EDATA, "%s: label column %s: value \"%s\" is not in label.map", at,
                              c->label_column, s);
        } else {
            *out = c->map_values[k];
        }
    } else {
        *out = 1;
    }
    return 0;
}

/* prefix then n in decimal: snprintf's format parsing was a tenth of the prep time */
static void put_int(char *buf, size_t nbuf, const char *prefix, long long n) {
    char digits[24];
    int k = 0;
    unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t p = strlen(prefix);
    if (p + (size_t)k + 2 > nbuf) {
        snprintf(buf, nbuf, "%s%lld", prefix, n);
        return;
    }
    memcpy(buf, prefix, p);
    if (n < 0)
        buf[p++] = '-';
    while (k)
        buf[p++] = digits[--k];
    buf[p] = '\0';
}

/* A decimal integer of at most 15 digits (optional '-'): its value, exactly what strtod gives
 * (every such integer is a double), without strtod's cost. 0 for anything else. */
static int plain_integer(const char *s, double *v) {
    const char *p = s + (*s == '-');
    long long n = 0;
    int k = 0;
    for (; *p >= '0' && *p <= '9' && k < 16; p++, k++)
        n = n * 10 + (*p - '0');
    if (*p || k == 0 || k > 15)
        return 0;
    *v = *s == '-' ? -(double)n : (double)n;
    return 1;
}

int prep_field_values(const dcfg_field *f, const prep_cells *pc, const char **vals, int max, char *buf, size_t nbuf,
                      int *n_out) {
    char at[DCFG_PATH + 32];
    int n = 0;
    if (f->n_flags) {
        for (int i = 0; i < f->n_flags; i++) {
            const char *s = pc->flags[i];
            if (!strcmp(s, "1")) {
                if (n < max)
                    vals[n++] = f->flags[i];
            } else if (strcmp(s, "0") && s[0]) {
                at_of(pc, i, at, sizeof at);
                return ameir_fail(AMEIR_EDATA, "%s: flag column %s: expected 0 or 1, found \"%s\"", at, f->flags[i], s);
            }
        }
        *n_out = n;
        return 0;
    }
    const char *s = pc->cell;
    if (f->kind == DF_MULTI) {
        snprintf(buf, nbuf, "%s", s);
        char sep = f->split ? f->split : PREP_LIST_SEP;
        char *p = buf;
        while (*p && n < max) {
            char *q = strchr(p, sep);
            if (q)
                *q = '\0';
            if (*p)
                vals[n++] = p;
            if (!q)
                break;
            p = q + 1;
        }
        *n_out = n;
        return 0;
    }
    vals[0] = s;
    *n_out = 1;
    if (!s[0])
        return 0; /* empty stays its own value (missing) */
    if (f->parse[0]) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, f->parse, &tm);
        if (!end || *end) {
            at_of(pc, -1, at, sizeof at);
            return ameir_fail(AMEIR_EDATA, "%s: column %s: \"%s\" does not match the format \"%s\"", at, f->column, s,
                              f->parse);
        }
        time_t t = timegm(&tm); /* fills the weekday */
        (void)t;
        if (!strftime(buf, nbuf, f->format, &tm))
            buf[0] = '\0';
        vals[0] = buf;
        s = buf;
    }
    if (f->kind == DF_NUMERIC) {
        char *end = NULL;
        double v = 0;
        if (!plain_integer(s, &v))
            v = strtod(s, &end);
        if ((end && *end) || !isfinite(v)) {
            at_of(pc, -1, at, sizeof at);
            return ameir_fail(AMEIR_EDATA, "%s: column %s: expected a number, found \"%s\"", at, f->column, s);
        }
        if (f->binning == DBIN_LOG) {
            /* Criteo winners' rule: small values keep their integer, larger ones share a bin */
            if (v > 2)
                put_int(buf, nbuf, "log:", (long long)floor(log(v) * log(v)));
            else
                put_int(buf, nbuf, "", (long long)floor(v));
        } else {
            int b = 0;
            while (b < f->n_edges && v >= f->edges[b])
                b++;
            if (b == 0)
                snprintf(buf, nbuf, "<%g", f->edges[0]);
            else if (b == f->n_edges)
                snprintf(buf, nbuf, ">=%g", f->edges[b - 1]);
            else
                snprintf(buf, nbuf, "[%g,%g)", f->edges[b - 1], f->edges[b]);
        }
        vals[0] = buf;
    }
    return 0;
}

void prep_schema_begin(ameir_schema *s, const dcfg *c) {
    s->task = c->task;
    s->n_fields = c->n_fields;
    s->item_field = -1;
    s->seq_len = c->seq_len;
    s->n_candidates = c->task == AMEIR_TASK_SEQ ? 1 + c->negatives : 0;
}

void prep_schema_place_field(ameir_schema *s, const dcfg *c, int fi, int widest) {
    const dcfg_field *cf = &c->fields[fi];
    ameir_field *f = &s->fields[fi];
    int w = widest > 1 ? widest : 1;
    if (cf->max_width && w > cf->max_width)
        w = cf->max_width;
    snprintf(f->name, sizeof f->name, "%s", cf->name);
    f->width = cf->kind == DF_MULTI ? w : 1;
    f->offset = s->x_width;
    s->x_width += f->width;
    f->is_item = cf->is_item;
    f->item_offset = f->is_item ? s->item_width : 0;
    s->item_width += f->is_item ? f->width : 0;
    if (c->item_field[0] && !strcmp(c->item_field, f->name))
        s->item_field = fi;
}
