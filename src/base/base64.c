/* base64.c — see base64.h. */
#include "base/base64.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/buf.h"

char *mcdc_base64_encode(const void *data, size_t len) {
    char *out = mcdc_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

long mcdc_base64_decode(const char *text, uint8_t **out) {
    *out = NULL;
    size_t n = strlen(text);
    if (n == 0 || n % 4) return -1;
    uint8_t *buf = mcdc_xmalloc(n / 4 * 3 + 1);
    int len = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n);
    if (len < 0) {
        free(buf);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as data bytes. */
    if (text[n - 1] == '=') len--;
    if (text[n - 2] == '=') len--;
    *out = buf;
    return len;
}
