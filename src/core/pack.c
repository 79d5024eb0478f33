/* A growable byte buffer for messages and exchanges between ranks, and its reader: the
 * transport's payloads (src/cluster/protocol.c) and the parallel prep's vocabularies. */
#include "ameir/pack.h"

#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"

void ameir_pack_init(ameir_pack *p) { memset(p, 0, sizeof *p); }

void ameir_pack_destroy(ameir_pack *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

void ameir_pack_reset(ameir_pack *p) {
    p->len = 0;
    p->failed = 0;
}

void ameir_pack_bytes(ameir_pack *p, const void *v, size_t n) {
    if (p->failed)
        return;
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->len + n)
            cap *= 2;
        unsigned char *d = realloc(p->data, cap);
        if (!d) {
            p->failed = 1;
            return;
        }
        p->data = d;
        p->cap = cap;
    }
    if (n)
        memcpy(p->data + p->len, v, n);
    p->len += n;
}

void ameir_pack_i64(ameir_pack *p, int64_t v) { ameir_pack_bytes(p, &v, sizeof v); }

void ameir_pack_f64(ameir_pack *p, double v) { ameir_pack_bytes(p, &v, sizeof v); }

void ameir_pack_str(ameir_pack *p, const char *s) {
    size_t n = s ? strlen(s) : 0;
    ameir_pack_i64(p, (int64_t)n);
    ameir_pack_bytes(p, s, n);
}

void ameir_unpack_init(ameir_unpack *u, const void *data, size_t len) {
    u->data = data;
    u->len = len;
    u->pos = 0;
    u->failed = 0;
}

void ameir_unpack_bytes(ameir_unpack *u, void *out, size_t n) {
    if (u->failed || n > u->len - u->pos) {
        u->failed = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, u->data + u->pos, n);
    u->pos += n;
}

int64_t ameir_unpack_i64(ameir_unpack *u) {
    int64_t v;
    ameir_unpack_bytes(u, &v, sizeof v);
    return v;
}

double ameir_unpack_f64(ameir_unpack *u) {
    double v;
    ameir_unpack_bytes(u, &v, sizeof v);
    return v;
}

/* The declared length of the next string, or -1 (and failed) if it does not fit. */
static int64_t unpack_strlen(ameir_unpack *u) {
    int64_t n = ameir_unpack_i64(u);
    if (u->failed || n < 0 || (uint64_t)n > u->len - u->pos) {
        u->failed = 1;
        return -1;
    }
    return n;
}

void ameir_unpack_str(ameir_unpack *u, char *out, size_t cap) {
    AMEIR_ASSERT(cap > 0);
    out[0] = '\0';
    int64_t n = unpack_strlen(u);
    if (n < 0)
        return;
    if ((uint64_t)n >= cap) {
        u->failed = 1;
        return;
    }
    memcpy(out, u->data + u->pos, (size_t)n);
    out[n] = '\0';
    u->pos += (size_t)n;
}

char *ameir_unpack_strdup(ameir_unpack *u) {
    int64_t n = unpack_strlen(u);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        u->failed = 1;
        return NULL;
    }
    memcpy(s, u->data + u->pos, (size_t)n);
    s[n] = '\0';
    u->pos += (size_t)n;
    return s;
}

int ameir_unpack_finish(const ameir_unpack *u, const char *what) {
    if (u->failed)
        return ameir_fail(AMEIR_EINVAL, "protocol error: %s payload is truncated or malformed (%zu bytes)", what, u->len);
    if (u->pos != u->len)
        return ameir_fail(AMEIR_EINVAL, "protocol error: %s payload has %zu bytes, expected %zu", what, u->len, u->pos);
    return 0;
}
