/* secret.h — forgetting passwords and tokens.
 *
 * A secret (API token, password, JWT) is wiped before its memory goes back
 * to the allocator, so that a later heap dump, core file or use-after-free
 * does not show it. */
#ifndef MCDC_SECRET_H
#define MCDC_SECRET_H

#include <stddef.h>

/* Overwrites n bytes with zeros. explicit_bzero, not memset: a store into
 * memory that is freed right after is dead to the compiler, which may (and
 * at -O2 does) drop a memset; explicit_bzero is never dropped. */
void mcdc_secret_wipe(void *p, size_t n);

/* Wipes the NUL-terminated s and frees it; NULL is fine. */
void mcdc_secret_free(char *s);

#endif
