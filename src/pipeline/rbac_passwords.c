/* rbac_passwords.c — rbac_passwords.h. */
#include "pipeline/rbac_passwords.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/secret.h"

typedef struct entry {
    char *user;
    char *password;
} entry;

struct rbac_passwords {
    entry *e;
    size_t n;
};

static void add(rbac_passwords *p, const char *user, size_t ulen, const char *pw, size_t plen) {
    p->e = mcdc_xrealloc(p->e, (p->n + 1) * sizeof *p->e);
    entry *e = &p->e[p->n++];
    e->user = mcdc_xmalloc(ulen + 1);
    memcpy(e->user, user, ulen);
    e->user[ulen] = '\0';
    e->password = mcdc_xmalloc(plen + 1);
    memcpy(e->password, pw, plen);
    e->password[plen] = '\0';
}

rbac_passwords *rbac_passwords_parse(const char *name, const char *text, size_t len, mcdc_err *err) {
    rbac_passwords *p = mcdc_xcalloc(1, sizeof *p);
    const char *end = text + len;
    size_t line = 0;
    for (const char *s = text; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        line++;
        size_t n = (size_t)(e - s);
        if (n && s[n - 1] == '\r') n--;
        const char *colon = memchr(s, ':', n);
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++) blank = s[i] == ' ' || s[i] == '\t';
        if (!blank && s[0] != '#') {
            const char *why = !colon            ? "want user:password"
                              : colon == s       ? "empty user name"
                              : colon + 1 == s + n ? "empty password"
                              : memchr(s, '\0', n) ? "holds a NUL character"
                                                 : NULL;
            if (!why) {
                size_t ulen = (size_t)(colon - s);
                for (size_t i = 0; i < p->n && !why; i++)
                    if (strlen(p->e[i].user) == ulen && memcmp(p->e[i].user, s, ulen) == 0) why = "user given twice";
            }
            if (why) {
                mcdc_errf(err, MCDC_EINVAL, "%s:%zu: %s", name, line, why);
                rbac_passwords_free(p);
                return NULL;
            }
            add(p, s, (size_t)(colon - s), colon + 1, (size_t)(s + n - colon - 1));
        }
        s = nl ? nl + 1 : end;
    }
    return p;
}

rbac_passwords *rbac_passwords_load(const char *path, mcdc_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mcdc_errf(err, MCDC_EIO, "%s: cannot open the passwords file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mcdc_errf(err, MCDC_EIO, "%s: cannot stat the passwords file: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    /* Checked on the opened file, so a swap between check and read cannot
     * slip a looser file in. */
    if (mcdc_secret_file_check(path, st.st_mode, "users' passwords", err)) {
        close(fd);
        return NULL;
    }
    mcdc_buf b = MCDC_BUF_INIT;
    /* Room for the whole file at once: a buffer that grows leaves copies of
     * what it held behind in freed memory. */
    mcdc_buf_reserve(&b, (size_t)st.st_size + 1);
    char chunk[4096];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0) mcdc_buf_append(&b, chunk, (size_t)got);
    int read_errno = errno;
    mcdc_secret_wipe(chunk, sizeof chunk);
    close(fd);
    rbac_passwords *p = NULL;
    if (got < 0) mcdc_errf(err, MCDC_EIO, "%s: cannot read the passwords file: %s", path, strerror(read_errno));
    else p = rbac_passwords_parse(path, b.len ? (const char *)b.data : "", b.len, err);
    mcdc_secret_wipe(b.data, b.cap);
    mcdc_buf_free(&b);
    return p;
}

const char *rbac_passwords_get(const rbac_passwords *p, const char *user) {
    for (size_t i = 0; p && i < p->n; i++)
        if (strcmp(p->e[i].user, user) == 0) return p->e[i].password;
    return NULL;
}

size_t rbac_passwords_count(const rbac_passwords *p) { return p ? p->n : 0; }

void rbac_passwords_free(rbac_passwords *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].user);
        mcdc_secret_free(p->e[i].password);
    }
    free(p->e);
    free(p);
}
