/* secret.c — see secret.h. */
#include "base/secret.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void mcdc_secret_wipe(void *p, size_t n) {
    if (p && n) explicit_bzero(p, n);
}

void mcdc_secret_free(char *s) {
    if (!s) return;
    mcdc_secret_wipe(s, strlen(s));
    free(s);
}

int mcdc_secret_file_check(const char *path, mode_t mode, const char *holds, mcdc_err *err) {
    if (!(mode & (S_IRWXG | S_IRWXO))) return 0;
    return mcdc_errf(err, MCDC_EINVAL,
                     "%s: open to group or others (mode %04o), and it holds %s; make it the owner's alone "
                     "(chmod 600 %s)",
                     path, (unsigned)(mode & 07777), holds, path);
}
