#include "ameir/error.h"
#include "ameir/check.h"

#include <stdarg.h>
#include <string.h>

static _Thread_local char last_message[1024];

const char *ameir_strerror(int err) {
    switch (err) {
    case AMEIR_OK:
        return "success";
#define AMEIR_ERRNO_STR_(name, val, desc, exit_code) \
    case AMEIR_##name:                               \
        return desc;
        AMEIR_ERRNO_MAP(AMEIR_ERRNO_STR_)
#undef AMEIR_ERRNO_STR_
    }
    return "unknown error";
}

int ameir_exit_code(int err) {
    switch (err) {
    case AMEIR_OK:
        return 0;
#define AMEIR_ERRNO_EXIT_(name, val, desc, exit_code) \
    case AMEIR_##name:                                \
        return exit_code;
        AMEIR_ERRNO_MAP(AMEIR_ERRNO_EXIT_)
#undef AMEIR_ERRNO_EXIT_
    }
    return 1;
}

int ameir_fail(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return err;
}

const char *ameir_last_error(void) { return last_message; }

void ameir_clear_error(void) { last_message[0] = '\0'; }

int ameir_report_error(const char *cmd, int err) {
    const char *msg = last_message[0] ? last_message : ameir_strerror(err);
    fprintf(stderr, "ameir %s: error: %s\n", cmd, msg);
    return ameir_exit_code(err);
}

int ameir_h5_fail(const char *origin, const char *what, const char *file, int line) {
    const char *base = strrchr(file, '/');
    return ameir_fail(AMEIR_EHDF5, "%s: HDF5 failed on %s (%s:%d)", origin, what, base ? base + 1 : file, line);
}
