/* etcd_tool.c — a command-line front to src/etcd, so that the integration
 * tests (tests/it/test_etcd.py) can drive the client against a real etcd:
 * KV, compare-and-swap, leases with keepalive, and watches across restarts.
 *
 * usage: etcd_tool --endpoints E [--user U --password P] [--timeout MS]
 *                  [--cacert F [--cert F --key F] [--server-name N]] CMD ...
 *   put K V | get K | del K [--prefix] | range PREFIX [--rev N]
 *   cas K V EXPECT_REV | lease TTL [--put K V] | load (key<TAB>value lines on stdin)
 *   watch PREFIX [--rev N] [--count N] [--prev-kv] [--cancel-after MS]
 * Output is JSON lines. Exit: 0 ok, 1 error, 2 etcd unreachable, 3 key not
 * found (get), 64 usage. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "etcd/etcd.h"

#define EXIT_UNREACHABLE 2
#define EXIT_NOTFOUND 3
#define EXIT_USAGE 64

static int usage(void) {
    fprintf(stderr,
            "usage: etcd_tool --endpoints E [--user U --password P] [--timeout MS]\n"
            "                 [--cacert F [--cert F --key F] [--server-name N]] CMD ...\n"
            "  put K V | get K | del K [--prefix] | range PREFIX [--rev N] | cas K V EXPECT_REV\n"
            "  lease TTL [--put K V] | load < lines | watch PREFIX [--rev N] [--count N] [--prev-kv]"
            " [--cancel-after MS]\n");
    return EXIT_USAGE;
}

static int fail(const mcdc_err *err) {
    fprintf(stderr, "etcd_tool: %s\n", err->msg);
    return mcdc_err_is_transient(err->code) ? EXIT_UNREACHABLE : 1;
}

/* JSON string of bytes that are text in practice; control characters are
 * escaped, other bytes pass through. */
static void json_str(mcdc_buf *b, const void *p, size_t n) {
    const unsigned char *s = p;
    mcdc_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        if (ch == '"' || ch == '\\') {
            mcdc_buf_putc(b, '\\');
            mcdc_buf_putc(b, ch);
        } else if (ch < 0x20) {
            mcdc_buf_printf(b, "\\u%04x", ch);
        } else {
            mcdc_buf_putc(b, ch);
        }
    }
    mcdc_buf_putc(b, '"');
}

static void print_line(mcdc_buf *b) {
    mcdc_buf_putc(b, '\n');
    fwrite(b->data, 1, b->len, stdout);
    /* The tests read lines as they come (watch): never hold one back. */
    fflush(stdout);
    mcdc_buf_reset(b);
}

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int print_kv(void *ud, const etcd_kv *kv) {
    mcdc_buf *b = ud;
    mcdc_buf_printf(b, "{\"key\":");
    json_str(b, kv->key, kv->key_len);
    mcdc_buf_printf(b, ",\"value\":");
    json_str(b, kv->value, kv->value_len);
    mcdc_buf_printf(b, ",\"mod_revision\":%" PRId64 ",\"create_revision\":%" PRId64 ",\"lease\":%" PRId64 "}",
                    kv->mod_revision, kv->create_revision, kv->lease);
    print_line(b);
    return 0;
}

static int cmd_load(etcd_client *c) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long count = 0;
    mcdc_err err;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        if (etcd_put(c, line, tab + 1, strlen(tab + 1), 0, &err)) {
            free(line);
            return fail(&err);
        }
        count++;
    }
    free(line);
    printf("{\"put\":%ld}\n", count);
    return 0;
}

static int cmd_lease(etcd_client *c, int64_t ttl, const char *key, const char *value) {
    mcdc_err err;
    int64_t id;
    if (etcd_lease_grant(c, ttl, &id, &err) || etcd_lease_keepalive(c, id, &err)) return fail(&err);
    if (key && etcd_put(c, key, value, strlen(value), id, &err)) return fail(&err);
    printf("{\"lease\":%" PRId64 "}\n", id);
    fflush(stdout);
    for (;;) {
        struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        int pr = poll(&pfd, 1, 200);
        if (pr > 0) {
            char buf[256];
            ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
            if (r <= 0) break; /* stdin closed: the test is done with us */
        } else if (pr < 0 && errno != EINTR) {
            break;
        }
        if (!etcd_lease_alive(c, id)) {
            fprintf(stderr, "etcd_tool: lease %" PRId64 " lost\n", id);
            return 1;
        }
    }
    if (etcd_lease_revoke(c, id, &err)) return fail(&err);
    printf("{\"revoked\":%" PRId64 "}\n", id);
    return 0;
}

typedef struct canceler {
    etcd_watch *w;
    uint32_t after_ms;
} canceler;

static void *cancel_main(void *arg) {
    canceler *k = arg;
    mcdc_sleep_ms(k->after_ms);
    etcd_watch_cancel(k->w);
    return NULL;
}

static int cmd_watch(etcd_client *c, const char *prefix, int64_t rev, int64_t count, bool prev_kv,
                     int64_t cancel_after) {
    mcdc_err err;
    etcd_watch *w = etcd_watch_open(c, prefix, rev, prev_kv, &err);
    if (!w) return fail(&err);
    pthread_t th;
    canceler k = {w, (uint32_t)cancel_after};
    bool have_thread = cancel_after > 0 && pthread_create(&th, NULL, cancel_main, &k) == 0;
    /* Says the watch is in place, so a test may start writing. */
    fprintf(stderr, "etcd_tool: watching \"%s\" from revision %" PRId64 "\n", prefix, etcd_watch_revision(w) + 1);
    mcdc_buf b = MCDC_BUF_INIT;
    int64_t seen = 0;
    int rc = 0;
    while (count <= 0 || seen < count) {
        const etcd_event *ev;
        int n = etcd_watch_next(w, &ev, 1000, &err);
        if (n < 0) {
            if (err.code == MCDC_ECANCELED) {
                fprintf(stderr, "etcd_tool: %s\n", err.msg);
            } else {
                if (etcd_watch_compacted(w))
                    fprintf(stderr, "etcd_tool: compacted at revision %" PRId64 "\n", etcd_watch_compacted(w));
                rc = fail(&err);
            }
            break;
        }
        for (int i = 0; i < n && (count <= 0 || seen < count); i++, seen++) {
            const etcd_event *e = &ev[i];
            mcdc_buf_printf(&b, "{\"type\":\"%s\",\"key\":", e->type == ETCD_PUT ? "PUT" : "DELETE");
            json_str(&b, e->kv.key, e->kv.key_len);
            mcdc_buf_printf(&b, ",\"value\":");
            json_str(&b, e->kv.value, e->kv.value_len);
            if (e->has_prev) {
                mcdc_buf_printf(&b, ",\"prev_value\":");
                json_str(&b, e->prev.value, e->prev.value_len);
            }
            mcdc_buf_printf(&b, ",\"mod_revision\":%" PRId64 "}", e->kv.mod_revision);
            print_line(&b);
        }
    }
    if (have_thread) pthread_join(th, NULL);
    mcdc_buf_free(&b);
    etcd_watch_close(w);
    return rc;
}

int main(int argc, char **argv) {
    etcd_config cfg = {0};
    int64_t timeout = 0;
    mcdc_log_level lvl;
    const char *env_lvl = getenv("MCDC_LOG_LEVEL");
    if (env_lvl && mcdc_log_parse_level(env_lvl, &lvl) == 0) mcdc_log_set_level(lvl);
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (i + 1 >= argc) return usage();
        if (strcmp(argv[i], "--endpoints") == 0) cfg.endpoints = argv[++i];
        else if (strcmp(argv[i], "--user") == 0) cfg.username = argv[++i];
        else if (strcmp(argv[i], "--password") == 0) cfg.password = argv[++i];
        else if (strcmp(argv[i], "--cacert") == 0) cfg.tls.enabled = 1, cfg.tls.ca_file = argv[++i];
        else if (strcmp(argv[i], "--cert") == 0) cfg.tls.enabled = 1, cfg.tls.cert_file = argv[++i];
        else if (strcmp(argv[i], "--key") == 0) cfg.tls.enabled = 1, cfg.tls.key_file = argv[++i];
        else if (strcmp(argv[i], "--server-name") == 0) cfg.tls.enabled = 1, cfg.tls.server_name = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0) {
            if (parse_i64(argv[++i], &timeout) || timeout <= 0) return usage();
        } else return usage();
    }
    if (!cfg.endpoints || i >= argc) return usage();
    cfg.timeout_ms = (uint32_t)timeout;
    const char *cmd = argv[i++];
    char **args = argv + i;
    int nargs = argc - i;

    /* Options after the command's positional arguments. */
    int64_t rev = 0, count = 0, cancel_after = 0;
    bool prefix = false, prev_kv = false;
    const char *lease_key = NULL, *lease_value = NULL;
    int npos = nargs;
    for (int j = 0; j < nargs; j++) {
        if (strncmp(args[j], "--", 2) != 0) continue;
        if (npos == nargs) npos = j;
        if (strcmp(args[j], "--prefix") == 0) prefix = true;
        else if (strcmp(args[j], "--prev-kv") == 0) prev_kv = true;
        else if (strcmp(args[j], "--rev") == 0 && j + 1 < nargs) {
            if (parse_i64(args[++j], &rev)) return usage();
        } else if (strcmp(args[j], "--count") == 0 && j + 1 < nargs) {
            if (parse_i64(args[++j], &count)) return usage();
        } else if (strcmp(args[j], "--cancel-after") == 0 && j + 1 < nargs) {
            if (parse_i64(args[++j], &cancel_after)) return usage();
        } else if (strcmp(args[j], "--put") == 0 && j + 2 < nargs) {
            lease_key = args[++j];
            lease_value = args[++j];
        } else return usage();
    }

    mcdc_err err;
    etcd_client *c = etcd_open(&cfg, &err);
    if (!c) return fail(&err);
    int rc = 0;
    mcdc_buf b = MCDC_BUF_INIT;
    if (strcmp(cmd, "put") == 0 && npos == 2) {
        if (etcd_put(c, args[0], args[1], strlen(args[1]), 0, &err)) rc = fail(&err);
    } else if (strcmp(cmd, "get") == 0 && npos == 1) {
        bool found;
        uint8_t *value;
        size_t len;
        int64_t mod;
        if (etcd_get(c, args[0], &found, &value, &len, &mod, &err)) {
            rc = fail(&err);
        } else if (!found) {
            fprintf(stderr, "etcd_tool: %s: not found\n", args[0]);
            rc = EXIT_NOTFOUND;
        } else {
            /* etcd_get reports value and mod_revision only. */
            mcdc_buf_printf(&b, "{\"key\":");
            json_str(&b, args[0], strlen(args[0]));
            mcdc_buf_printf(&b, ",\"value\":");
            json_str(&b, value, len);
            mcdc_buf_printf(&b, ",\"mod_revision\":%" PRId64 "}", mod);
            print_line(&b);
            free(value);
        }
    } else if (strcmp(cmd, "del") == 0 && npos == 1) {
        int64_t deleted;
        if (etcd_delete(c, args[0], prefix, &deleted, &err)) rc = fail(&err);
        else printf("{\"deleted\":%" PRId64 "}\n", deleted);
    } else if (strcmp(cmd, "range") == 0 && npos == 1) {
        int64_t at;
        if (etcd_range_prefix(c, args[0], rev, print_kv, &b, &at, &err)) rc = fail(&err);
        else printf("{\"revision\":%" PRId64 "}\n", at);
    } else if (strcmp(cmd, "cas") == 0 && npos == 3) {
        int64_t expect;
        bool ok;
        if (parse_i64(args[2], &expect)) rc = usage();
        else if (etcd_put_if(c, args[0], args[1], strlen(args[1]), expect, &ok, &err)) rc = fail(&err);
        else printf("{\"ok\":%s}\n", ok ? "true" : "false");
    } else if (strcmp(cmd, "lease") == 0 && npos == 1) {
        int64_t ttl;
        if (parse_i64(args[0], &ttl) || ttl <= 0) rc = usage();
        else rc = cmd_lease(c, ttl, lease_key, lease_value);
    } else if (strcmp(cmd, "load") == 0 && npos == 0) {
        rc = cmd_load(c);
    } else if (strcmp(cmd, "watch") == 0 && npos == 1) {
        rc = cmd_watch(c, args[0], rev, count, prev_kv, cancel_after);
    } else {
        rc = usage();
    }
    mcdc_buf_free(&b);
    etcd_close(c);
    return rc;
}
