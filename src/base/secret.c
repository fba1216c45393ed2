/* secret.c — see secret.h. */
#include "base/secret.h"

#include <stdlib.h>
#include <string.h>

void mcdc_secret_wipe(void *p, size_t n) {
    if (p && n) explicit_bzero(p, n);
}

void mcdc_secret_free(char *s) {
    if (!s) return;
    mcdc_secret_wipe(s, strlen(s));
    free(s);
}
