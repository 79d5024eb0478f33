#define _POSIX_C_SOURCE 200809L
#include "ameir/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int current_level = -1;

static int level_from_env(void) {
    const char *s = getenv("AMEIR_LOG");
    if (!s)
        return AMEIR_LOG_INFO;
    if (!strcmp(s, "debug"))
        return AMEIR_LOG_DEBUG;
    if (!strcmp(s, "warn"))
        return AMEIR_LOG_WARN;
    if (!strcmp(s, "quiet"))
        return AMEIR_LOG_QUIET;
    return AMEIR_LOG_INFO;
}

void ameir_log_set_level(int level) { current_level = level; }

void ameir_log(int level, const char *fmt, ...) {
    if (current_level < 0)
        current_level = level_from_env();
    if (level < current_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double ameir_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ameir_format_duration(char *out, size_t cap, double s) {
    if (!isfinite(s) || s < 0)
        snprintf(out, cap, "?");
    else if (s < 60)
        snprintf(out, cap, "%.1fs", s);
    else if (s < 3600)
        snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(out, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}
