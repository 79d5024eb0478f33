/* Error codes and messages (libuv's UV_ERRNO_MAP pattern).
 *
 * Runtime failures return a negative code from AMEIR_ERRNO_MAP and record a message
 * for the user with ameir_fail(); broken invariants inside kernels use AMEIR_ASSERT,
 * which prints the expression, file and line and aborts. */
#ifndef AMEIR_ERROR_H
#define AMEIR_ERROR_H

#include <stdio.h>
#include <stdlib.h>

/* X(name, value, description, exit code of the command line) */
#define AMEIR_ERRNO_MAP(X)                                                  \
    X(EINVAL, -2, "invalid argument", 2)                                    \
    X(ECONFIG, -3, "bad configuration", 2)                                  \
    X(EDATA, -4, "bad data", 2)                                             \
    X(ESCHEMA, -5, "schema version mismatch", 2)                            \
    X(ENOENT, -6, "no such file", 2)                                        \
    X(EEXIST, -7, "already exists", 2)                                      \
    X(EJSON, -8, "JSON syntax error", 2)                                    \
    X(ENOMEM, -9, "out of memory", 1)                                       \
    X(EIO, -10, "input/output error", 1)                                    \
    X(EHDF5, -11, "HDF5 error", 1)                                          \
    X(EMPI, -12, "MPI error", 1)                                            \
    X(EDIVERGED, -13, "loss diverged", 1)                                   \
    X(ECHECKPOINT, -14, "bad checkpoint", 2)                                \
    X(EINTERRUPTED, -15, "interrupted", 3)                                  \
    X(ETIMEOUT, -16, "time limit exceeded", 1)                              \
    X(EINTERNAL, -17, "internal error", 1)

enum ameir_errno {
    AMEIR_OK = 0,
#define AMEIR_ERRNO_ENUM_(name, val, desc, exit_code) AMEIR_##name = (val),
    AMEIR_ERRNO_MAP(AMEIR_ERRNO_ENUM_)
#undef AMEIR_ERRNO_ENUM_
};

/* Short description of an error code; never NULL. */
const char *ameir_strerror(int err);

/* The process exit code a command returns for an error code (0, 1, 2 or 3). */
int ameir_exit_code(int err);

/* Record a message for the user (printf format) and return err, so that
 * `return ameir_fail(AMEIR_EDATA, "%s:%d: expected a number", file, line);`
 * reports and propagates in one statement. A later call replaces the message. */
int ameir_fail(int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The last recorded message (empty string if none). Owned by the library (thread-local). */
const char *ameir_last_error(void);

/* Forget the last message. */
void ameir_clear_error(void);

/* Print "ameir CMD: error: MESSAGE" (or the code's description) to stderr and
 * return the exit code for err. Used by the command-line mains only. */
int ameir_report_error(const char *cmd, int err);

#define AMEIR_ASSERT(x)                                                              \
    do {                                                                             \
        if (!(x)) {                                                                  \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* Propagate a negative return code. */
#define AMEIR_TRY(expr)            \
    do {                           \
        int ameir_try_rc_ = (expr); \
        if (ameir_try_rc_ < 0)     \
            return ameir_try_rc_;  \
    } while (0)

#endif
