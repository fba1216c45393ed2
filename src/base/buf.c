/* buf.c — see buf.h. */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "mcdc: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mcdc_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *mcdc_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *mcdc_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *mcdc_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mcdc_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void mcdc_buf_reserve(mcdc_buf *b, size_t extra) {
    size_t need = b->len + extra + 1; /* +1 keeps room for mcdc_buf_cstr */
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = mcdc_xrealloc(b->data, cap);
    b->cap = cap;
}

void mcdc_buf_append(mcdc_buf *b, const void *p, size_t n) {
    if (n == 0) return;
    mcdc_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void mcdc_buf_putc(mcdc_buf *b, uint8_t c) {
    mcdc_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void mcdc_buf_printf(mcdc_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    mcdc_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mcdc_buf_reset(mcdc_buf *b) { b->len = 0; }

void mcdc_buf_free(mcdc_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *mcdc_buf_cstr(mcdc_buf *b) {
    mcdc_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return (const char *)b->data;
}

int mcdc_buf_read_file(mcdc_buf *b, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mcdc_buf_append(b, chunk, n);
    bool bad = ferror(f);
    int why = errno;
    fclose(f);
    if (!bad) return 0;
    errno = why;
    return -2;
}
