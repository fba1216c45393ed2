/* fixture.h — reads a WAL fixture for the unit tests: tests/fixtures/<queue>/<name>.bin,
 * or under $MCDC_FIXTURES (ctest sets it). Include after <cmocka.h>. */
#ifndef MCDC_TEST_FIXTURE_H
#define MCDC_TEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"

static inline uint8_t *fixture_load(const char *queue, const char *name, size_t *len) {
    const char *dir = getenv("MCDC_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s.bin", dir ? dir : "tests/fixtures", queue, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open fixture %s (set MCDC_FIXTURES)", path);
    mcdc_buf b = MCDC_BUF_INIT;
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mcdc_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

#endif
