/* The check that an output can be written, made before the work (include/ameir/outdir.h). */
#include "ameir/outdir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ameir/error.h"

int ameir_out_dir_check(const char *option, const char *path) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return ameir_fail(AMEIR_EINVAL, "%s %s: path too long", option, path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0'; /* "out/" names the directory out, whose parent must be writable */
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (access(dir, W_OK | X_OK) != 0)
        return ameir_fail(AMEIR_EINVAL, "%s %s: directory %s does not exist or is not writable (%s)", option, path, dir,
                          strerror(errno));
    return 0;
}
