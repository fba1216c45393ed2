/* buf.h — the one growable byte buffer.
 *
 * Used for wire frames, JSON text, protobuf packing and files read whole alike. Growth doubles,
 * so appends are amortised O(1). Out of memory is fatal (abort): every caller
 * would otherwise have to handle a case that, on Linux with overcommit, never
 * comes back as NULL anyway. */
#ifndef MCDC_BUF_H
#define MCDC_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct mcdc_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} mcdc_buf;

#define MCDC_BUF_INIT {NULL, 0, 0}

void mcdc_buf_reserve(mcdc_buf *b, size_t extra);
void mcdc_buf_append(mcdc_buf *b, const void *p, size_t n);
void mcdc_buf_putc(mcdc_buf *b, uint8_t c);
void mcdc_buf_printf(mcdc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mcdc_buf_reset(mcdc_buf *b);  /* len = 0, memory kept */
void mcdc_buf_free(mcdc_buf *b);
/* NUL-terminates (not counted in len) and returns data as a C string. */
const char *mcdc_buf_cstr(mcdc_buf *b);
/* Appends the whole file at path. Returns 0; -1 when the file cannot be
 * opened, -2 when reading it failed part way (b keeps what was read); errno
 * says why. The two apart, since callers word them differently. */
int mcdc_buf_read_file(mcdc_buf *b, const char *path);

/* Allocation helpers that abort on failure, for the same reason as above. */
void *mcdc_xmalloc(size_t n);
void *mcdc_xcalloc(size_t count, size_t size);
void *mcdc_xrealloc(void *p, size_t n);
char *mcdc_xstrdup(const char *s);

#endif
