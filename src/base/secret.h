/* secret.h — forgetting passwords and tokens.
 *
 * A secret (API token, password, JWT) is wiped before its memory goes back
 * to the allocator, so that a later heap dump, core file or use-after-free
 * does not show it. */
#ifndef MCDC_SECRET_H
#define MCDC_SECRET_H

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

/* Overwrites n bytes with zeros. explicit_bzero, not memset: a store into
 * memory that is freed right after is dead to the compiler, which may (and
 * at -O2 does) drop a memset; explicit_bzero is never dropped. */
void mcdc_secret_wipe(void *p, size_t n);

/* Wipes the NUL-terminated s and frees it; NULL is fine. */
void mcdc_secret_free(char *s);

/* The one rule for a file that holds secrets (the store, the RBAC
 * passwords file): nobody but its owner may have any access to it. `mode`
 * is the file's st_mode (the caller stats it: by path, or the opened
 * descriptor so the file read is the file checked); `holds` says what it
 * holds, for the message. 0, or MCDC_EINVAL naming the file, its mode and
 * the fix. */
int mcdc_secret_file_check(const char *path, mode_t mode, const char *holds, mcdc_err *err);

#endif
