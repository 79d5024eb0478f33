/* Table-driven option parsing shared by the subcommands (see options.h). */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"

ameir_opt *ameir_opts_find(ameir_opt *opts, const char *name) {
    for (ameir_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

static const char *kind_expect(int kind) {
    switch (kind) {
    case AMEIR_OPT_INT:
    case AMEIR_OPT_I64: return "an integer";
    case AMEIR_OPT_U64: return "a non-negative integer";
    case AMEIR_OPT_FLOAT:
    case AMEIR_OPT_DOUBLE: return "a number";
    default: return "a value";
    }
}

static int range_fail(const ameir_opt *o, const char *text) {
    if (o->kind == AMEIR_OPT_FLOAT || o->kind == AMEIR_OPT_DOUBLE)
        return ameir_fail(AMEIR_EINVAL, "--%s: got '%s', expected a number in [%g, %g]", o->name, text, o->min, o->max);
    return ameir_fail(AMEIR_EINVAL, "--%s: got '%s', expected an integer in [%.0f, %.0f]", o->name, text, o->min, o->max);
}

/* Convert text into the option's destination, checking syntax and range. */
static int set_value(ameir_opt *o, const char *text) {
    char *end = NULL;
    int checked = o->min <= o->max;
    errno = 0;
    if (o->kind == AMEIR_OPT_STR) {
        if (!text[0])
            return ameir_fail(AMEIR_EINVAL, "--%s: got an empty value, expected %s", o->name, o->meta ? o->meta : "a value");
        *(const char **)o->dst = text;
        return 0;
    }
    if (o->kind == AMEIR_OPT_FLOAT || o->kind == AMEIR_OPT_DOUBLE) {
        double v = strtod(text, &end);
        if (end == text || *end || errno || !isfinite(v))
            return ameir_fail(AMEIR_EINVAL, "--%s: got '%s', expected %s", o->name, text, kind_expect(o->kind));
        if (checked && (v < o->min || v > o->max))
            return range_fail(o, text);
        if (o->kind == AMEIR_OPT_FLOAT)
            *(float *)o->dst = (float)v;
        else
            *(double *)o->dst = v;
        return 0;
    }
    if (o->kind == AMEIR_OPT_U64) {
        if (text[0] == '-')
            return ameir_fail(AMEIR_EINVAL, "--%s: got '%s', expected %s", o->name, text, kind_expect(o->kind));
        unsigned long long v = strtoull(text, &end, 10);
        if (end == text || *end || errno)
            return ameir_fail(AMEIR_EINVAL, "--%s: got '%s', expected %s", o->name, text, kind_expect(o->kind));
        *(uint64_t *)o->dst = (uint64_t)v;
        return 0;
    }
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno)
        return ameir_fail(AMEIR_EINVAL, "--%s: got '%s', expected %s", o->name, text, kind_expect(o->kind));
    if (checked && ((double)v < o->min || (double)v > o->max))
        return range_fail(o, text);
    if (o->kind == AMEIR_OPT_INT) {
        if (v < -2147483647LL || v > 2147483647LL)
            return ameir_fail(AMEIR_EINVAL, "--%s: got '%s', expected an integer that fits in 32 bits", o->name, text);
        *(int *)o->dst = (int)v;
    } else {
        *(int64_t *)o->dst = (int64_t)v;
    }
    return 0;
}

int ameir_opts_parse(ameir_opt *opts, int argc, char **argv, const char **positional, int max_positional,
                     int *n_positional, int *help) {
    int npos = 0;
    *help = 0;
    for (ameir_opt *o = opts; o->name; o++)
        o->seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            break;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            if (npos >= max_positional)
                return ameir_fail(AMEIR_EINVAL, "unexpected argument '%s' (--help lists the options)", a);
            positional[npos++] = a;
            continue;
        }
        /* --name=value is accepted as well as --name value */
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name)
            return ameir_fail(AMEIR_EINVAL, "unknown option '%s' (--help lists the options)", a);
        memcpy(name, a + 2, len);
        name[len] = '\0';
        ameir_opt *o = ameir_opts_find(opts, name);
        if (!o)
            return ameir_fail(AMEIR_EINVAL, "unknown option '--%s' (--help lists the options)", name);
        if (o->seen)
            return ameir_fail(AMEIR_EINVAL, "--%s given twice", name);
        o->seen = 1;
        if (o->kind == AMEIR_OPT_FLAG) {
            if (eq)
                return ameir_fail(AMEIR_EINVAL, "--%s takes no value", name);
            *(int *)o->dst = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc)
                return ameir_fail(AMEIR_EINVAL, "--%s: missing value, expected %s", name,
                                  o->meta ? o->meta : kind_expect(o->kind));
            value = argv[++i];
        }
        AMEIR_TRY(set_value(o, value));
    }
    if (n_positional)
        *n_positional = npos;
    return 0;
}

int ameir_opts_require(ameir_opt *opts, const char *const *names) {
    for (; *names; names++) {
        ameir_opt *o = ameir_opts_find(opts, *names);
        AMEIR_ASSERT(o != NULL);
        if (!o->seen)
            return ameir_fail(AMEIR_EINVAL, "missing --%s %s (--help lists the options)", o->name, o->meta ? o->meta : "");
    }
    return 0;
}

int ameir_opts_command(ameir_opt *opts, int argc, char **argv, const char *synopsis, const char *description,
                       const char *const *required) {
    int help = 0;
    AMEIR_TRY(ameir_opts_parse(opts, argc, argv, NULL, 0, NULL, &help));
    if (help) {
        ameir_opts_usage(stdout, synopsis, description, opts);
        return 1;
    }
    return required ? ameir_opts_require(opts, required) : 0;
}

void ameir_opts_usage(FILE *f, const char *synopsis, const char *description, const ameir_opt *opts) {
    fprintf(f, "usage: ameir %s\n", synopsis);
    if (description)
        fprintf(f, "\n%s\n", description);
    fprintf(f, "\noptions:\n");
    for (const ameir_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->kind == AMEIR_OPT_FLAG ? "" : " ",
                 o->kind == AMEIR_OPT_FLAG ? "" : (o->meta ? o->meta : "X"));
        fprintf(f, "  %-22s %s\n", left, o->help ? o->help : "");
    }
    fprintf(f, "  %-22s %s\n", "--help", "print this help");
}
