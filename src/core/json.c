/* Strict JSON parsing on top of cJSON (ameir/json.h). */
#include "ameir/json.h"

#include <stdio.h>
#include <string.h>

#include "ameir/error.h"

/* line and column (from 1) of p in text */
static void where(const char *text, const char *p, int *line, int *col) {
    *line = 1, *col = 1;
    for (const char *q = text; q < p && *q; q++) {
        if (*q == '\n')
            ++*line, *col = 1;
        else
            ++*col;
    }
}

static int refuse_at(const char *text, const char *p, const char *origin, const char *what) {
    int line, col;
    where(text, p, &line, &col);
    return ameir_fail(AMEIR_EJSON, "%s:%d:%d: %s", origin, line, col, what);
}

static int is_number_char(char c) { return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'; }

/* What cJSON takes and JSON does not: a byte below 0x20 other than tab, newline and carriage
 * return between tokens (cJSON skips it as white space) or any inside a string; and, which
 * cJSON reads its own way, a number with a leading zero ("01") and the escape \u0000 (a NUL
 * would cut the string short: "mean\u0000x" would be read as "mean"). */
static int lenient_bytes(const char *text, const char *origin) {
    char msg[96];
    int in_string = 0;
    for (const char *p = text; *p; p++) {
        unsigned char b = (unsigned char)*p;
        if (b < 0x20 && (in_string || (b != '\t' && b != '\n' && b != '\r'))) {
            snprintf(msg, sizeof msg, "got control byte 0x%02x%s, expected JSON text", b,
                     in_string ? " inside a string (write it as \\u00XX)" : "");
            return refuse_at(text, p, origin, msg);
        }
        if (in_string) {
            if (b == '\\' && !strncmp(p + 1, "u0000", 5))
                return refuse_at(text, p, origin, "got \\u0000 inside a string, expected no NUL character");
            if (b == '\\' && (unsigned char)p[1] >= 0x20)
                p++; /* an escaped quote or backslash does not end the string */
            else if (b == '"')
                in_string = 0;
        } else if (b == '"') {
            in_string = 1;
        } else if (b == '0' && p[1] >= '0' && p[1] <= '9' && (p == text || !is_number_char(p[-1]) || (p[-1] == '-' && (p - 1 == text || !is_number_char(p[-2]))))) {
            return refuse_at(text, p, origin, "got a number with a leading zero, expected JSON number syntax");
        }
    }
    return 0;
}

static int syntax_error(const char *text, const char *stop, const char *origin) {
    int line, col;
    if (!stop || stop < text)
        stop = text;
    where(text, stop, &line, &col);
    if (!*stop)
        return ameir_fail(AMEIR_EJSON, "%s:%d:%d: JSON syntax error: got the end of the text, expected more JSON",
                          origin, line, col);
    char near[32];
    size_t n = 0;
    while (n < sizeof near - 1 && stop[n] && stop[n] != '\n' && stop[n] != '\r')
        n++;
    memcpy(near, stop, n);
    near[n] = '\0';
    return ameir_fail(AMEIR_EJSON, "%s:%d:%d: JSON syntax error: got \"%s\", expected valid JSON", origin, line, col,
                      near);
}

/* the first key that appears twice in one object, anywhere in the tree */
static int duplicate_keys(const cJSON *item, char *path, size_t cap, const char *origin) {
    size_t len = strlen(path);
    int i = 0;
    for (const cJSON *ch = item->child; ch; ch = ch->next, i++) {
        if (cJSON_IsObject(item)) {
            for (const cJSON *prev = item->child; prev != ch; prev = prev->next)
                if (!strcmp(prev->string, ch->string))
                    return ameir_fail(AMEIR_ECONFIG, "%s: %s%s%s: got the key twice, expected each key once", origin,
                                      path, len ? "." : "", ch->string);
            snprintf(path + len, cap - len, "%s%s", len ? "." : "", ch->string);
        } else {
            snprintf(path + len, cap - len, "[%d]", i);
        }
        int rc = duplicate_keys(ch, path, cap, origin);
        path[len] = '\0';
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ameir_json_parse(cJSON **root, const char *text, size_t len, const char *origin) {
    *root = NULL;
    size_t n = strlen(text);
    if (n != len)
        return ameir_fail(AMEIR_EJSON, "%s: got a NUL byte at offset %zu, expected JSON text", origin, n);
    AMEIR_TRY(lenient_bytes(text, origin));
    const char *stop = NULL;
    cJSON *r = cJSON_ParseWithOpts(text, &stop, 1);
    if (!r)
        return syntax_error(text, stop, origin);
    char path[512] = "";
    int rc = duplicate_keys(r, path, sizeof path, origin);
    if (rc < 0) {
        cJSON_Delete(r);
        return rc;
    }
    *root = r;
    return 0;
}
