/* Reading a whole file and writing a file atomically: the one helper for each job.
 *
 * An atomic write goes to PATH.tmp in the same directory; the commit closes it, fsyncs it,
 * renames it over PATH and fsyncs the directory, so a crash at any moment leaves either the
 * old PATH or the new one, whole. Errors name the file and return a negative AMEIR_E*. */
#ifndef AMEIR_FILEIO_H
#define AMEIR_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#define AMEIR_FILE_PATH_MAX 4096

/* Read the whole file into *text (NUL-terminated, caller frees); *len (if not NULL) gets the
 * byte count, which exceeds strlen(*text) when the file holds a NUL byte.
 * AMEIR_ENOENT "PATH: cannot open: No such file or directory", AMEIR_EIO, AMEIR_ENOMEM. */
int ameir_file_read(const char *path, char **text, size_t *len);

typedef struct ameir_atomic_file {
    char path[AMEIR_FILE_PATH_MAX];    /* the final name */
    char tmp[AMEIR_FILE_PATH_MAX + 8]; /* PATH.tmp: where the contents are written */
    FILE *f;                           /* open on tmp after ameir_atomic_fopen; NULL otherwise */
} ameir_atomic_file;

/* Name the temporary file (w->tmp) for a writer that creates it itself (HDF5).
 * AMEIR_EINVAL if the path is too long. */
int ameir_atomic_begin(ameir_atomic_file *w, const char *path);

/* ameir_atomic_begin, then open w->tmp for writing as w->f. AMEIR_EIO
 * "PATH: cannot create PATH.tmp: REASON (directory missing or not writable?)". */
int ameir_atomic_fopen(ameir_atomic_file *w, const char *path);

/* Close w->f (if open, checking every write), fsync w->tmp, keep an existing PATH as
 * keep_prev when not NULL (a hard link, a rename where links fail), rename w->tmp over PATH
 * and fsync the directory. On failure w->tmp is removed and PATH is left as it was. */
int ameir_atomic_commit(ameir_atomic_file *w, const char *keep_prev);

/* Give up: close w->f and remove w->tmp. Safe to call twice or after a failed commit. */
void ameir_atomic_abort(ameir_atomic_file *w);

/* The whole of data[0..len) written atomically to path. */
int ameir_file_write_atomic(const char *path, const void *data, size_t len);

#endif
