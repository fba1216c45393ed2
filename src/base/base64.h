/* base64.h — standard base64 (RFC 4648, with padding), on OpenSSL.
 * Milvus uses it for the `authorization` header and milvus-cdc for positions. */
#ifndef MCDC_BASE64_H
#define MCDC_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Returns a malloc'd NUL-terminated string. */
char *mcdc_base64_encode(const void *data, size_t len);
/* Decodes into a malloc'd buffer; -1 (and *out NULL) if text is not base64. */
long mcdc_base64_decode(const char *text, uint8_t **out);

#endif
