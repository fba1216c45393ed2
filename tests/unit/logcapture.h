/* logcapture.h — what mcdc logs during a piece of a unit test: stderr (where
 * the logger writes) goes to a temporary file from log_capture_start until
 * log_capture_end, which restores it and hands back the text. Include after
 * <cmocka.h>. */
#ifndef MCDC_TEST_LOGCAPTURE_H
#define MCDC_TEST_LOGCAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"

typedef struct log_capture {
    int saved;
    char path[64];
    mcdc_log_level level;
} log_capture;

/* Lines at `level` and above are logged meanwhile. */
static inline void log_capture_start(log_capture *c, mcdc_log_level level) {
    snprintf(c->path, sizeof c->path, "/tmp/mcdc_test_log_XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(2);
    dup2(fd, 2);
    close(fd);
    c->level = mcdc_log_get_level();
    mcdc_log_set_level(level);
}

/* The text logged since the start; the caller frees it. */
static inline char *log_capture_end(log_capture *c) {
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    mcdc_log_set_level(c->level);
    mcdc_buf b = MCDC_BUF_INIT;
    assert_int_equal(mcdc_buf_read_file(&b, c->path), 0);
    unlink(c->path);
    char *s = mcdc_xstrdup(b.len ? mcdc_buf_cstr(&b) : "");
    mcdc_buf_free(&b);
    return s;
}

#endif
