/* The canonical JSON of the trial table's archs, kept (arch_text.c): shared by the
 * controller, which prints each arch once when it sets a trial's arch, and the checkpoint
 * writer, which copies the texts into RUN.h5 instead of printing every row again. */
#ifndef AMEIR_ARCH_TEXT_H
#define AMEIR_ARCH_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "ameir/arch.h"

/* NUL-terminated texts one after another in one buffer; a text is named by its offset,
 * which stays valid as the buffer grows (a pointer only until the next add). Zeroed is
 * empty; _destroy frees the buffer. */
typedef struct ameir_arch_texts {
    char *buf;
    size_t len, cap;
} ameir_arch_texts;

/* Append ameir_arch_to_json(arch) (arch valid: the function asserts it); *at = its offset.
 * 0 or AMEIR_ENOMEM. */
int ameir_arch_texts_add(ameir_arch_texts *t, const ameir_arch *arch, int64_t *at);

/* The text at offset at (from _add); owned by t. */
const char *ameir_arch_texts_get(const ameir_arch_texts *t, int64_t at);

void ameir_arch_texts_destroy(ameir_arch_texts *t);

#endif
