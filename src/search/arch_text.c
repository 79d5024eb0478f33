/* The archs' canonical JSON, printed once each and kept (arch_text.h). Printing every row
 * through cJSON at each whole rewrite of RUN.h5 was about 2.3 prints a trial over a search
 * and, with HDF5's string conversion, a third to a half of rank 0's time; kept, a rewrite
 * copies about 300 bytes a distinct arch. */
#include "arch_text.h"

#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"

int ameir_arch_texts_add(ameir_arch_texts *t, const ameir_arch *arch, int64_t *at) {
    char *s = ameir_arch_to_json(arch);
    if (!s)
        return ameir_fail(AMEIR_ENOMEM, "search controller: out of memory printing an architecture");
    size_t n = strlen(s) + 1;
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1 << 16;
        while (t->len + n > cap)
            cap *= 2;
        char *buf = realloc(t->buf, cap);
        if (!buf) {
            free(s);
            return ameir_fail(AMEIR_ENOMEM, "search controller: out of memory for %zu bytes of architectures", cap);
        }
        t->buf = buf, t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    free(s);
    *at = (int64_t)t->len;
    t->len += n;
    return 0;
}

const char *ameir_arch_texts_get(const ameir_arch_texts *t, int64_t at) {
    AMEIR_ASSERT(at >= 0 && (size_t)at < t->len);
    return t->buf + at;
}

void ameir_arch_texts_destroy(ameir_arch_texts *t) {
    free(t->buf);
    memset(t, 0, sizeof *t);
}
