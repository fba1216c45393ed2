/* secret.c — see secret.h. */
#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/buf.h"

/* A password, an API key or a JWT fits many times over. */
#define SECRET_FILE_MAX (64u * 1024u)

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

bool mcdc_secret_env_name_ok(const char *name) {
    size_t n = strlen(MCDC_SECRET_ENV_PREFIX);
    if (!name || strncmp(name, MCDC_SECRET_ENV_PREFIX, n) != 0 || !name[n]) return false;
    for (const char *p = name + n; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

bool mcdc_secret_file_name_ok(const char *name) {
    if (!name || !name[0] || name[0] == '/' || strlen(name) >= PATH_MAX) return false;
    for (const char *p = name;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return false;
        if (!slash) return true;
        p = slash + 1;
    }
}

/* Cuts trailing "\n" and "\r\n" (an editor's last line end), wiping them. */
static void trim_newlines(char *s, size_t *len) {
    while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r')) s[--*len] = '\0';
}

/* Reads what fd holds, at most SECRET_FILE_MAX bytes; the file named `shown`. */
static int read_all(int fd, const char *shown, char **out, mcdc_err *err) {
    char *buf = mcdc_xmalloc(SECRET_FILE_MAX + 1);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, SECRET_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            mcdc_secret_wipe(buf, len);
            free(buf);
            return mcdc_errf(err, MCDC_EIO, "%s: cannot read: %s", shown, strerror(e));
        }
        if (r == 0) break;
        len += (size_t)r;
        if (len > SECRET_FILE_MAX) {
            mcdc_secret_wipe(buf, len);
            free(buf);
            return mcdc_errf(err, MCDC_EIO, "%s: longer than %u bytes: not a secret", shown, SECRET_FILE_MAX);
        }
    }
    buf[len] = '\0';
    const char *why = memchr(buf, '\0', len) ? "holds a NUL byte" : NULL;
    trim_newlines(buf, &len);
    if (!why && len == 0) why = "is empty";
    if (why) {
        mcdc_secret_wipe(buf, SECRET_FILE_MAX + 1);
        free(buf);
        return mcdc_errf(err, MCDC_EIO, "%s: %s", shown, why);
    }
    /* Only the secret stays allocated; the rest of the buffer is zero. */
    *out = mcdc_xstrdup(buf);
    mcdc_secret_wipe(buf, len);
    free(buf);
    return 0;
}

/* Opens name inside dir (a resolved directory) so that nothing on the way
 * leads out of it, links included. openat2's RESOLVE_BENEATH makes that
 * the kernel's check at the moment of the open: a check of the resolved path
 * before an open would let a directory inside be swapped for a link to
 * /etc in between. Kernels before 5.6 lack openat2: there the path is
 * resolved, checked, and opened without following a final link. */
static int open_beneath(const char *dir, const char *name, const char *shown, mcdc_err *err) {
    const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        mcdc_errf(err, MCDC_EIO, "secrets directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_BENEATH};
    int fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof how);
    int e = errno;
    close(dfd);
    if (fd >= 0) return fd;
    if (e == EXDEV) {
        mcdc_errf(err, MCDC_EIO, "%s: resolves outside the secrets directory %s", shown, dir);
        return -1;
    }
    if (e != ENOSYS) {
        mcdc_errf(err, MCDC_EIO, "%s: %s", shown, strerror(e));
        return -1;
    }
    char real_file[PATH_MAX];
    if (!realpath(shown, real_file)) {
        mcdc_errf(err, MCDC_EIO, "%s: %s", shown, strerror(errno));
        return -1;
    }
    size_t dl = strlen(dir);
    bool root = dl == 1; /* "/" as the directory: everything is inside */
    if (!root && (strncmp(real_file, dir, dl) != 0 || real_file[dl] != '/')) {
        mcdc_errf(err, MCDC_EIO, "%s: resolves outside the secrets directory %s", shown, dir);
        return -1;
    }
    if ((fd = open(real_file, flags | O_NOFOLLOW)) < 0) mcdc_errf(err, MCDC_EIO, "%s: cannot open: %s", shown, strerror(errno));
    return fd;
}

int mcdc_secret_read_file(const char *dir, const char *name, char **out, mcdc_err *err) {
    *out = NULL;
    if (!mcdc_secret_file_name_ok(name))
        return mcdc_errf(err, MCDC_EIO, "%s: want a file name relative to the secrets directory, without '..'",
                         name ? name : "(none)");
    char real_dir[PATH_MAX];
    if (!dir || !dir[0] || !realpath(dir, real_dir))
        return mcdc_errf(err, MCDC_EIO, "secrets directory %s: %s", dir && dir[0] ? dir : "(none)",
                         dir && dir[0] ? strerror(errno) : "not set");
    mcdc_buf joined = MCDC_BUF_INIT;
    mcdc_buf_printf(&joined, "%s/%s", real_dir, name);
    const char *shown = mcdc_buf_cstr(&joined);
    int rc = -1;
    int fd = open_beneath(real_dir, name, shown, err);
    if (fd < 0) goto out;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mcdc_errf(err, MCDC_EIO, "%s: cannot stat: %s", shown, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        mcdc_errf(err, MCDC_EIO, "%s: not a regular file", shown);
    } else if (mcdc_secret_file_check(shown, st.st_mode, "a secret", err)) {
        err->code = MCDC_EIO;
    } else {
        rc = read_all(fd, shown, out, err);
    }
    close(fd);
out:
    mcdc_buf_free(&joined);
    return rc;
}

int mcdc_secret_read_env(const char *name, char **out, mcdc_err *err) {
    *out = NULL;
    if (!mcdc_secret_env_name_ok(name))
        return mcdc_errf(err, MCDC_EINVAL, "%s: only variables named " MCDC_SECRET_ENV_PREFIX "* may hold secrets",
                         name ? name : "(none)");
    const char *v = getenv(name);
    if (!v || !v[0]) return mcdc_errf(err, MCDC_EIO, "%s: not set in mcdc's environment", name);
    *out = mcdc_xstrdup(v);
    return 0;
}
