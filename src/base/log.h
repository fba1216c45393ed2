/* log.h — the one logger: levelled lines on stderr with a UTC timestamp.
 *
 * Each line is written with a single write(2) so lines from several threads
 * never interleave. The level is process-wide; set it once at start-up from
 * the config (or MCDC_LOG_LEVEL). */
#ifndef MCDC_LOG_H
#define MCDC_LOG_H

typedef enum mcdc_log_level {
    MCDC_LOG_DEBUG = 0,
    MCDC_LOG_INFO,
    MCDC_LOG_WARN,
    MCDC_LOG_ERROR,
    MCDC_LOG_OFF,
} mcdc_log_level;

void mcdc_log_set_level(mcdc_log_level level);
mcdc_log_level mcdc_log_get_level(void);

/* Parses "debug", "info", "warn", "error", "off"; returns -1 on anything else. */
int mcdc_log_parse_level(const char *s, mcdc_log_level *out);

void mcdc_log(mcdc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (mcdc_log_get_level() <= MCDC_LOG_DEBUG) mcdc_log(MCDC_LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  mcdc_log(MCDC_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  mcdc_log(MCDC_LOG_WARN, __VA_ARGS__)
#define log_error(...) mcdc_log(MCDC_LOG_ERROR, __VA_ARGS__)

#endif
