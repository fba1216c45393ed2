/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = MCDC_LOG_INFO;

void mcdc_log_set_level(mcdc_log_level level) { atomic_store(&g_level, (int)level); }
mcdc_log_level mcdc_log_get_level(void) { return (mcdc_log_level)atomic_load(&g_level); }

int mcdc_log_parse_level(const char *s, mcdc_log_level *out) {
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (s && strcasecmp(s, names[i]) == 0) {
            *out = (mcdc_log_level)i;
            return 0;
        }
    }
    return -1;
}

void mcdc_log(mcdc_log_level level, const char *fmt, ...) {
    static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < mcdc_log_get_level() || level >= MCDC_LOG_OFF) return;

    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000, tags[level]);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += (size_t)m;
    if (n > sizeof line - 2) n = sizeof line - 2; /* truncated: keep the newline */
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere left to report a failed log write */
}
