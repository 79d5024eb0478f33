/* Whole-file reads and atomic writes (see ameir/fileio.h). */
#define _POSIX_C_SOURCE 200809L
#include "ameir/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ameir/error.h"

int ameir_file_read(const char *path, char **text, size_t *len) {
    *text = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ameir_fail(errno == ENOENT ? AMEIR_ENOENT : AMEIR_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* read in growing chunks: works for pipes and files whose size changes under us */
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *more = cap < ((size_t)-1) / 2 ? realloc(buf, cap * 2) : NULL;
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
    }
    if (!buf)
        rc = ameir_fail(AMEIR_ENOMEM, "%s: out of memory reading the file", path);
    else if (ferror(f))
        rc = ameir_fail(AMEIR_EIO, "%s: read error: %s", path, strerror(errno));
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    if (len)
        *len = n;
    return 0;
}

int ameir_atomic_begin(ameir_atomic_file *w, const char *path) {
    w->f = NULL;
    w->tmp[0] = '\0';
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path)
        return ameir_fail(AMEIR_EINVAL, "%.200s...: path too long", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    return 0;
}

int ameir_atomic_fopen(ameir_atomic_file *w, const char *path) {
    AMEIR_TRY(ameir_atomic_begin(w, path));
    if (!(w->f = fopen(w->tmp, "wb")))
        return ameir_fail(AMEIR_EIO, "%s: cannot create %s: %s (directory missing or not writable?)", path, w->tmp,
                          strerror(errno));
    return 0;
}

/* fsync a file or directory by name. */
static int sync_path(const char *p, int dir) {
    int fd = open(p, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return -1;
    int st = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return st;
}

int ameir_atomic_commit(ameir_atomic_file *w, const char *keep_prev) {
    int rc = 0;
    if (w->f) {
        int bad = fflush(w->f) != 0 || ferror(w->f);
        bad |= fclose(w->f) != 0;
        w->f = NULL;
        if (bad)
            rc = ameir_fail(AMEIR_EIO, "%s: write failed: %s", w->tmp, strerror(errno));
    }
    if (rc == 0 && sync_path(w->tmp, 0) != 0)
        rc = ameir_fail(AMEIR_EIO, "%s: fsync failed: %s", w->tmp, strerror(errno));
    /* keep the last good file: a hard link keeps PATH in place until the rename */
    if (rc == 0 && keep_prev && access(w->path, F_OK) == 0) {
        unlink(keep_prev);
        if (link(w->path, keep_prev) != 0 && rename(w->path, keep_prev) != 0)
            rc = ameir_fail(AMEIR_EIO, "%s: cannot keep the previous file as %s: %s", w->path, keep_prev, strerror(errno));
    }
    if (rc == 0 && rename(w->tmp, w->path) != 0)
        rc = ameir_fail(AMEIR_EIO, "%s: cannot rename %s over it: %s", w->path, w->tmp, strerror(errno));
    if (rc < 0) {
        ameir_atomic_abort(w);
        return rc;
    }
    char dir[AMEIR_FILE_PATH_MAX];
    const char *slash = strrchr(w->path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - w->path) + 1 : 1, slash ? w->path : ".");
    sync_path(dir, 1); /* best effort: some file systems refuse fsync on a directory */
    w->tmp[0] = '\0';
    return 0;
}

void ameir_atomic_abort(ameir_atomic_file *w) {
    if (w->f)
        fclose(w->f);
    w->f = NULL;
    if (w->tmp[0])
        unlink(w->tmp);
    w->tmp[0] = '\0';
}

int ameir_file_write_atomic(const char *path, const void *data, size_t len) {
    ameir_atomic_file w;
    AMEIR_TRY(ameir_atomic_fopen(&w, path));
    if (len && fwrite(data, 1, len, w.f) != len) {
        int rc = ameir_fail(AMEIR_EIO, "%s: write failed: %s", w.tmp, strerror(errno));
        ameir_atomic_abort(&w);
        return rc;
    }
    return ameir_atomic_commit(&w, NULL);
}
