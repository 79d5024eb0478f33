/* Logging to stderr with a level; ameir_log_level() filters. */
#ifndef AMEIR_LOG_H
#define AMEIR_LOG_H

#include <stddef.h>

enum ameir_log_level { AMEIR_LOG_DEBUG = 0, AMEIR_LOG_INFO = 1, AMEIR_LOG_WARN = 2, AMEIR_LOG_QUIET = 3 };

/* Set the lowest level printed (default AMEIR_LOG_INFO; env AMEIR_LOG=debug|info|warn|quiet). */
void ameir_log_set_level(int level);

void ameir_log(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A duration for progress lines: "42.0s", "3m07s", "2h05m", or "?" if negative or not finite. */
void ameir_format_duration(char *out, size_t cap, double seconds);

/* Wall-clock seconds from a monotonic clock. */
double ameir_now(void);

#endif
