/* secret.h — forgetting passwords and tokens, and reading them from where
 * the operator keeps them.
 *
 * A secret (API token, password, JWT) is wiped before its memory goes back
 * to the allocator, so that a later heap dump, core file or use-after-free
 * does not show it. A secret read from a file or the environment is read
 * only where the operator allows (a directory, a name prefix): whoever may
 * name the reference (an API client) must not be able to make mcdc read any
 * file or variable and send it to a server of their choice. No message here
 * ever holds a byte of a secret. */
#ifndef MCDC_SECRET_H
#define MCDC_SECRET_H

#include <stdbool.h>
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

/* Environment variables that may hold a secret begin with this; others
 * (AWS_SECRET_ACCESS_KEY, the API token of some other tool) are never read
 * on someone's request. */
#define MCDC_SECRET_ENV_PREFIX "MCDC_SECRET_"

/* Whether name is a variable that may be read: the prefix, then at least
 * one of A-Z, a-z, 0-9 and '_'. */
bool mcdc_secret_env_name_ok(const char *name);

/* Whether name may name a file under a secrets directory: relative, and no
 * component empty, "." or "..". Syntax only: a symbolic link that leads out
 * is caught by mcdc_secret_read_file. */
bool mcdc_secret_file_name_ok(const char *name);

/* The secret in file `name` under `dir`, into *out (free it with
 * mcdc_secret_free), trailing newlines cut. The file must resolve, links
 * followed, to a regular file inside dir; must pass mcdc_secret_file_check;
 * must not be empty, hold a NUL byte or exceed 64 KiB. Read anew at each
 * call, so a file replaced in place counts from the next call on. -1 with
 * MCDC_EIO naming the file (never its content) otherwise: every one of these
 * is the host's to fix. */
int mcdc_secret_read_file(const char *dir, const char *name, char **out, mcdc_err *err);

/* The secret in the environment variable `name` (mcdc_secret_env_name_ok),
 * into *out (mcdc_secret_free). MCDC_EINVAL for a name without the prefix,
 * MCDC_EIO when it is unset or empty. */
int mcdc_secret_read_env(const char *name, char **out, mcdc_err *err);

#endif
