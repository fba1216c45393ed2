/* rbac_passwords.h — the passwords replicated users get on the target.
 *
 * A source keeps only bcrypt hashes of its users' passwords, and the Milvus
 * API creates a user only from the plain password, so the operator gives
 * them in a file (config key rbac.passwords_file): one "user:password" per
 * line; blank lines and lines starting with '#' are skipped; the password is
 * everything after the first ':' (a trailing CR is dropped, nothing else).
 * The file must not be readable or writable by group or others: such a file
 * is refused, as ssh refuses a private key. Passwords live in memory only
 * here, are wiped when freed, and no message ever holds one: errors name the
 * file and the line number. */
#ifndef MCDC_RBAC_PASSWORDS_H
#define MCDC_RBAC_PASSWORDS_H

#include <stddef.h>

#include "base/error.h"

typedef struct rbac_passwords rbac_passwords;

/* MCDC_EIO when the file cannot be read, MCDC_EINVAL for a loose mode or a
 * bad line (no ':', empty user or password, a user given twice). */
rbac_passwords *rbac_passwords_load(const char *path, mcdc_err *err);
/* The same from text; name is what messages call it. The caller wipes text. */
rbac_passwords *rbac_passwords_parse(const char *name, const char *text, size_t len, mcdc_err *err);

/* NULL when the user has no line. */
const char *rbac_passwords_get(const rbac_passwords *p, const char *user);
size_t rbac_passwords_count(const rbac_passwords *p);
void rbac_passwords_free(rbac_passwords *p);

#endif
