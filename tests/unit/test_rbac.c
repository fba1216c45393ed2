/* test_rbac.c — RBAC replication without servers: the credential keys as
 * Milvus 2.3 writes them taken apart (source/rbac.c); the passwords file
 * (pipeline/rbac_passwords.c); and rbac_sync against a fake target that
 * records every call: what is created once, revoked or unbound when gone,
 * skipped with a reason, never touched (root, admin, public), and that no
 * password reaches a log line or an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "logcapture.h"

#include "base/buf.h"
#include "base/log.h"
#include "pipeline/rbac_passwords.h"
#include "pipeline/rbac_sync.h"
#include "source/rbac.h"

/* ---- the source's keys ------------------------------------------------------------ */

/* Ids of grantee-privileges are the hex MD5 of the key (opaque here). */
#define ID_BOOKS "3f1c8b0e0b4a9d1e6c2f7a5b8d9e0f11"
#define ID_LEGACY "9a8b7c6d5e4f30211203f4e5d6c7b8a9"
#define ID_GLOBAL "0123456789abcdef0123456789abcdef"
#define ID_ORPHAN "ffffffffffffffffffffffffffffffff"

static void kv(rbac_snapshot *s, const char *key, const char *value) {
    rbac_snapshot_add_kv(s, key, (const uint8_t *)value, strlen(value));
}

static bool has_grant(const rbac_snapshot *s, const char *role, const char *object, const char *db, const char *name,
                      const char *priv) {
    rbac_grant g = {(char *)role, (char *)object, (char *)db, (char *)name, (char *)priv};
    return rbac_snapshot_has_grant(s, &g);
}

static void test_keys_parse(void **state) {
    (void)state;
    rbac_snapshot s = {0};
    /* As the 2.3 catalog writes them, below <root>/meta/root-coord/credential/. */
    kv(&s, "users/alice", "{\"encrypted_password\":\"$2a$10$abcdefghijklmnopqrstuv\"}");
    kv(&s, "users/root", "{\"encrypted_password\":\"$2a$10$zyxwvutsrqponmlkjihgfe\"}");
    kv(&s, "roles/admin", "");
    kv(&s, "roles/public", "");
    kv(&s, "roles/reader", "");
    kv(&s, "roles/tenant1/reader", ""); /* another tenant */
    kv(&s, "user-role-mapping/alice/reader", "");
    kv(&s, "grantee-privileges/reader/Collection/default.books", ID_BOOKS);
    kv(&s, "grantee-privileges/reader/Collection/books2", ID_LEGACY); /* before databases */
    kv(&s, "grantee-privileges/reader/Global/db1.*", ID_GLOBAL);
    kv(&s, "grantee-id/" ID_BOOKS "/PrivilegeInsert", "root");
    kv(&s, "grantee-id/" ID_BOOKS "/PrivilegeSearch", "root");
    kv(&s, "grantee-id/" ID_LEGACY "/PrivilegeQuery", "root");
    kv(&s, "grantee-id/" ID_GLOBAL "/*", "root");
    kv(&s, "grantee-id/" ID_ORPHAN "/PrivilegeLoad", "root"); /* its object is gone */
    kv(&s, "grantee-id/" ID_BOOKS "/PrivilegeInsert", "root"); /* twice: one grant */
    kv(&s, "somethingelse/x", "");
    rbac_snapshot_finish(&s);

    assert_int_equal(s.n_users, 2);
    assert_true(rbac_snapshot_has_user(&s, "alice"));
    assert_true(rbac_snapshot_has_user(&s, "root"));
    assert_int_equal(s.n_roles, 3);
    assert_true(rbac_snapshot_has_role(&s, "reader"));
    assert_false(rbac_snapshot_has_role(&s, "tenant1"));
    assert_int_equal(s.n_bindings, 1);
    assert_true(rbac_snapshot_has_binding(&s, "alice", "reader"));
    assert_int_equal(s.n_grants, 4);
    assert_true(has_grant(&s, "reader", "Collection", "default", "books", "Insert"));
    assert_true(has_grant(&s, "reader", "Collection", "default", "books", "Search"));
    assert_true(has_grant(&s, "reader", "Collection", "default", "books2", "Query"));
    assert_true(has_grant(&s, "reader", "Global", "db1", "*", "*"));
    assert_false(has_grant(&s, "reader", "Collection", "default", "books", "Load"));
    assert_int_equal(s.n_skipped, 2);

    /* Equal content, equal digest, whatever the order it came in. */
    rbac_snapshot t = {0};
    kv(&t, "roles/reader", "");
    kv(&t, "roles/public", "");
    rbac_snapshot u = {0};
    kv(&u, "roles/public", "");
    kv(&u, "roles/reader", "");
    rbac_snapshot_finish(&t);
    rbac_snapshot_finish(&u);
    assert_true(rbac_snapshot_digest(&t) == rbac_snapshot_digest(&u));
    assert_true(rbac_snapshot_digest(&t) != rbac_snapshot_digest(&s));
    /* A name moved from one set to another changes the digest. */
    rbac_snapshot v = {0}, w = {0};
    rbac_snapshot_add_user(&v, "x");
    rbac_snapshot_add_role(&w, "x");
    rbac_snapshot_finish(&v);
    rbac_snapshot_finish(&w);
    assert_true(rbac_snapshot_digest(&v) != rbac_snapshot_digest(&w));
    rbac_snapshot_free(&s);
    rbac_snapshot_free(&t);
    rbac_snapshot_free(&u);
    rbac_snapshot_free(&v);
    rbac_snapshot_free(&w);
}

/* ---- passwords ---------------------------------------------------------------------- */

static void test_passwords_parse(void **state) {
    (void)state;
    mcdc_err err = {0};
    const char *text = "# replicated users\n\nalice:s3cret:with:colons\r\nbob:pw-of-bob\n";
    rbac_passwords *p = rbac_passwords_parse("pw", text, strlen(text), &err);
    assert_non_null(p);
    assert_int_equal(rbac_passwords_count(p), 2);
    assert_string_equal(rbac_passwords_get(p, "alice"), "s3cret:with:colons");
    assert_string_equal(rbac_passwords_get(p, "bob"), "pw-of-bob");
    assert_null(rbac_passwords_get(p, "carol"));
    rbac_passwords_free(p);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"alice\n", "pw:1: want user:password"},
        {"ok:1\n:nouser\n", "pw:2: empty user name"},
        {"alice:\n", "pw:1: empty password"},
        {"alice:a\nalice:hunter2\n", "pw:2: user given twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(rbac_passwords_parse("pw", bad[i].text, strlen(bad[i].text), &err));
        assert_int_equal(err.code, MCDC_EINVAL);
        assert_string_equal(err.msg, bad[i].msg);
    }
}

static void test_passwords_file_mode(void **state) {
    (void)state;
    char path[] = "/tmp/test_rbac_pw_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "alice:hunter2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    mcdc_err err = {0};

    assert_int_equal(chmod(path, 0640), 0);
    assert_null(rbac_passwords_load(path, &err));
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "open to group or others"));
    assert_null(strstr(err.msg, "hunter2"));
    assert_int_equal(chmod(path, 0604), 0);
    assert_null(rbac_passwords_load(path, &err));

    assert_int_equal(chmod(path, 0600), 0);
    rbac_passwords *p = rbac_passwords_load(path, &err);
    assert_non_null(p);
    assert_string_equal(rbac_passwords_get(p, "alice"), "hunter2");
    rbac_passwords_free(p);
    unlink(path);

    assert_null(rbac_passwords_load(path, &err));
    assert_int_equal(err.code, MCDC_EIO);
}

/* ---- a fake target ------------------------------------------------------------------- */

typedef struct fake {
    rbac_snapshot state;     /* what the target holds (kept finished) */
    mcdc_buf calls;          /* one line per changing call */
    size_t n_calls, n_reads;
    const char *fail_on;     /* a call name that fails ... */
    mcdc_code fail_code;     /* ... with this code */
    int fail_times;
    bool echo_password;      /* create_user fails with the request in its message */
} fake;

static int maybe_fail(fake *f, const char *call, const char *detail, mcdc_err *err) {
    if (!f->fail_on || strcmp(f->fail_on, call) != 0 || f->fail_times <= 0) return 0;
    f->fail_times--;
    return mcdc_errf(err, f->fail_code, "%s %s: target refused", call, detail);
}

static void note(fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(fake *f, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    mcdc_buf_printf(&f->calls, "%s\n", line);
    f->n_calls++;
}

/* Rebuilds the state without one element (the snapshot has no removal). */
static void state_remove(fake *f, const char *role, const rbac_binding *b, const rbac_grant *g) {
    rbac_snapshot n = {0};
    for (size_t i = 0; i < f->state.n_users; i++) rbac_snapshot_add_user(&n, f->state.users[i]);
    for (size_t i = 0; i < f->state.n_roles; i++)
        if (!role || strcmp(role, f->state.roles[i]) != 0) rbac_snapshot_add_role(&n, f->state.roles[i]);
    for (size_t i = 0; i < f->state.n_bindings; i++) {
        const rbac_binding *x = &f->state.bindings[i];
        if (b && strcmp(b->user, x->user) == 0 && strcmp(b->role, x->role) == 0) continue;
        if (role && strcmp(role, x->role) == 0) continue;
        rbac_snapshot_add_binding(&n, x->user, x->role);
    }
    for (size_t i = 0; i < f->state.n_grants; i++) {
        const rbac_grant *x = &f->state.grants[i];
        if (g && strcmp(g->role, x->role) == 0 && strcmp(g->object, x->object) == 0 && strcmp(g->db, x->db) == 0 &&
            strcmp(g->name, x->name) == 0 && strcmp(g->privilege, x->privilege) == 0)
            continue;
        if (role && strcmp(role, x->role) == 0) continue;
        rbac_snapshot_add_grant(&n, x);
    }
    rbac_snapshot_free(&f->state);
    rbac_snapshot_finish(&n);
    f->state = n;
}

static int f_read_roles(void *t, rbac_snapshot *into, mcdc_err *err) {
    fake *f = t;
    f->n_reads++;
    if (maybe_fail(f, "read_roles", "", err)) return -1;
    for (size_t i = 0; i < f->state.n_roles; i++) rbac_snapshot_add_role(into, f->state.roles[i]);
    return 0;
}

static int f_read_users(void *t, rbac_snapshot *into, mcdc_err *err) {
    fake *f = t;
    (void)err;
    f->n_reads++;
    for (size_t i = 0; i < f->state.n_users; i++) rbac_snapshot_add_user(into, f->state.users[i]);
    for (size_t i = 0; i < f->state.n_bindings; i++)
        rbac_snapshot_add_binding(into, f->state.bindings[i].user, f->state.bindings[i].role);
    return 0;
}

static int f_read_grants(void *t, const char *role, const char *db, rbac_snapshot *into, mcdc_err *err) {
    fake *f = t;
    (void)err;
    f->n_reads++;
    for (size_t i = 0; i < f->state.n_grants; i++) {
        const rbac_grant *g = &f->state.grants[i];
        if (strcmp(g->role, role) == 0 && strcmp(g->db, db) == 0) rbac_snapshot_add_grant(into, g);
    }
    return 0;
}

static int f_create_role(void *t, const char *role, mcdc_err *err) {
    fake *f = t;
    if (maybe_fail(f, "create_role", role, err)) return -1;
    note(f, "create_role %s", role);
    rbac_snapshot_add_role(&f->state, role);
    rbac_snapshot_finish(&f->state);
    return 0;
}

static int f_drop_role(void *t, const char *role, mcdc_err *err) {
    fake *f = t;
    if (maybe_fail(f, "drop_role", role, err)) return -1;
    note(f, "drop_role %s", role);
    state_remove(f, role, NULL, NULL);
    return 0;
}

static int f_bind(void *t, const char *user, const char *role, bool add, mcdc_err *err) {
    fake *f = t;
    if (maybe_fail(f, "bind", user, err)) return -1;
    note(f, "%s %s %s", add ? "bind" : "unbind", user, role);
    if (add) {
        rbac_snapshot_add_binding(&f->state, user, role);
        rbac_snapshot_finish(&f->state);
    } else {
        rbac_binding b = {(char *)user, (char *)role};
        state_remove(f, NULL, &b, NULL);
    }
    return 0;
}

static int f_grant(void *t, const rbac_grant *g, bool grant, mcdc_err *err) {
    fake *f = t;
    if (maybe_fail(f, "grant", g->name, err)) return -1;
    note(f, "%s %s %s %s.%s %s", grant ? "grant" : "revoke", g->role, g->object, g->db, g->name, g->privilege);
    if (grant) {
        rbac_snapshot_add_grant(&f->state, g);
        rbac_snapshot_finish(&f->state);
    } else {
        state_remove(f, NULL, NULL, g);
    }
    return 0;
}

static int f_create_user(void *t, const char *user, const char *password, mcdc_err *err) {
    fake *f = t;
    if (f->echo_password) return mcdc_errf(err, MCDC_EREMOTE, "CreateCredential: bad request {%s, %s}", user, password);
    /* The password is not in the call log: the test asks for it separately. */
    note(f, "create_user %s", user);
    rbac_snapshot_add_user(&f->state, user);
    rbac_snapshot_finish(&f->state);
    return 0;
}

static const rbac_target_ops FAKE_OPS = {f_read_roles, f_read_users, f_read_grants, f_create_role,
                                         f_drop_role,  f_bind,       f_grant,       f_create_user};

static void fake_free(fake *f) {
    rbac_snapshot_free(&f->state);
    mcdc_buf_free(&f->calls);
}

/* The call lines since the last look, then forgotten. */
static char *take_calls(fake *f) {
    char *s = mcdc_xstrdup(f->calls.len ? mcdc_buf_cstr(&f->calls) : "");
    mcdc_buf_reset(&f->calls);
    return s;
}

static void expect_calls(fake *f, const char *want) {
    char *got = take_calls(f);
    if (strcmp(got, want) != 0) fail_msg("calls:\n%s\nwant:\n%s", got, want);
    free(got);
}

/* A source snapshot from "kind:fields" lines: "user:alice", "role:reader",
 * "bind:alice:reader", "grant:reader:Collection:default:books:Insert". */
static void src_build(rbac_snapshot *s, const char *const *lines) {
    memset(s, 0, sizeof *s);
    for (; *lines; lines++) {
        char buf[256], *f[6] = {0};
        snprintf(buf, sizeof buf, "%s", *lines);
        size_t n = 0;
        for (char *p = buf, *tok; n < 6 && (tok = strsep(&p, ":"));) f[n++] = tok;
        if (strcmp(f[0], "user") == 0) rbac_snapshot_add_user(s, f[1]);
        else if (strcmp(f[0], "role") == 0) rbac_snapshot_add_role(s, f[1]);
        else if (strcmp(f[0], "bind") == 0) rbac_snapshot_add_binding(s, f[1], f[2]);
        else if (strcmp(f[0], "grant") == 0) {
            rbac_grant g = {f[1], f[2], f[3], f[4], f[5]};
            rbac_snapshot_add_grant(s, &g);
        } else fail_msg("bad test line %s", *lines);
    }
    rbac_snapshot_finish(s);
}

static int apply(rbac_sync *r, const char *const *lines, mcdc_err *err) {
    rbac_snapshot s;
    src_build(&s, lines);
    int rc = rbac_sync_apply(r, &s, err);
    rbac_snapshot_free(&s);
    return rc;
}

static void apply_ok(rbac_sync *r, const char *const *lines) {
    mcdc_err err = {0};
    if (apply(r, lines, &err)) fail_msg("step failed: %s", err.msg);
}

/* The task of these tests: db "default" goes to "tdb", collection books to
 * books_t; collection "other" is not covered; tdb.books_t is owned. */
static bool map_object(void *ud, const char *db, const char *name, char *tdb, size_t tdb_cap, char *tname,
                       size_t tname_cap) {
    (void)ud;
    if (strcmp(name, "other") == 0) return false;
    snprintf(tdb, tdb_cap, "%s", strcmp(db, "default") == 0 ? "tdb" : db);
    snprintf(tname, tname_cap, "%s", strcmp(name, "books") == 0 ? "books_t" : name);
    return true;
}

static bool owns_target(void *ud, const char *tdb, const char *tname) {
    (void)ud;
    return strcmp(tdb, "tdb") == 0 && strcmp(tname, "books_t") == 0;
}

static const rbac_sync_io IO = {map_object, owns_target, NULL};


/* ---- rbac_sync ------------------------------------------------------------------------------ */

static void test_role_and_grant_once(void **state) {
    (void)state;
    fake f = {0};
    rbac_sync *r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, NULL);
    const char *src[] = {"role:reader", "grant:reader:Collection:default:books:Insert",
                         "grant:reader:Collection:default:other:Insert", "grant:reader:Global:default:*:DescribeCollection",
                         NULL};
    apply_ok(r, src);
    expect_calls(&f, "create_role reader\n"
                     "grant reader Collection tdb.books_t Insert\n"
                     "grant reader Global tdb.* DescribeCollection\n");
    rbac_sync_stats st;
    rbac_sync_get_stats(r, &st);
    assert_int_equal(st.grants_left_out, 1);
    assert_int_equal(st.calls, 3);

    /* No change on the source: no call, not even a read. */
    size_t reads = f.n_reads;
    apply_ok(r, src);
    expect_calls(&f, "");
    assert_int_equal(f.n_reads, reads);

    /* A new process (nothing remembered) on a target that has it all: reads, no call. */
    rbac_sync *r2 = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, NULL);
    apply_ok(r2, src);
    expect_calls(&f, "");
    assert_true(f.n_reads > reads);
    rbac_sync_free(r2);
    rbac_sync_free(r);
    fake_free(&f);
}

static void test_grant_revoked_and_role_dropped_when_gone(void **state) {
    (void)state;
    fake f = {0};
    rbac_sync *r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, NULL);
    const char *v1[] = {"role:reader", "role:writer", "grant:reader:Collection:default:books:Insert",
                        "grant:reader:Collection:default:books:Search", NULL};
    apply_ok(r, v1);
    free(take_calls(&f));
    const char *v2[] = {"role:reader", "grant:reader:Collection:default:books:Search", NULL};
    apply_ok(r, v2);
    expect_calls(&f, "revoke reader Collection tdb.books_t Insert\n"
                     "drop_role writer\n");
    assert_false(has_grant(&f.state, "reader", "Collection", "tdb", "books_t", "Insert"));
    assert_true(has_grant(&f.state, "reader", "Collection", "tdb", "books_t", "Search"));
    rbac_sync_free(r);
    fake_free(&f);
}

static void test_revoke_after_restart_only_where_owned(void **state) {
    (void)state;
    fake f = {0};
    /* Left on the target by an earlier run; the source has dropped both. */
    rbac_snapshot_add_role(&f.state, "reader");
    rbac_grant owned = {"reader", "Collection", "tdb", "books_t", "Insert"};
    rbac_grant foreign = {"reader", "Collection", "tdb", "elsewhere", "Insert"};
    rbac_snapshot_add_grant(&f.state, &owned);
    rbac_snapshot_add_grant(&f.state, &foreign);
    rbac_snapshot_finish(&f.state);
    rbac_sync *r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, NULL);
    const char *src[] = {"role:reader", "grant:reader:Collection:default:books:Search", NULL};
    apply_ok(r, src);
    expect_calls(&f, "grant reader Collection tdb.books_t Search\n"
                     "revoke reader Collection tdb.books_t Insert\n");
    assert_true(rbac_snapshot_has_grant(&f.state, &foreign));
    rbac_sync_free(r);
    fake_free(&f);
}

static void test_users_and_bindings(void **state) {
    (void)state;
    fake f = {0};
    const char *pwtext = "alice:Alice-pw-1\n";
    mcdc_err err = {0};
    rbac_passwords *pw = rbac_passwords_parse("pw", pwtext, strlen(pwtext), &err);
    assert_non_null(pw);
    /* carol has no password but exists on the target already: bound. */
    rbac_snapshot_add_user(&f.state, "carol");
    rbac_snapshot_finish(&f.state);
    rbac_sync *r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, pw);
    const char *v1[] = {"user:alice",        "user:bob",        "user:carol",       "role:reader",
                        "bind:alice:reader", "bind:bob:reader", "bind:carol:reader", NULL};
    log_capture cap;
    log_capture_start(&cap, MCDC_LOG_DEBUG);
    int rc = apply(r, v1, &err);
    char *log = log_capture_end(&cap);
    if (rc) fail_msg("step failed: %s", err.msg);
    expect_calls(&f, "create_role reader\n"
                     "create_user alice\n"
                     "bind alice reader\n"
                     "bind carol reader\n");
    /* bob: reported with the reason, counted, his binding skipped. */
    assert_non_null(strstr(log, "user 'bob' is not created"));
    assert_non_null(strstr(log, "no password"));
    assert_null(strstr(log, "Alice-pw-1"));
    free(log);
    rbac_sync_stats st;
    rbac_sync_get_stats(r, &st);
    assert_int_equal(st.users_skipped, 1);
    assert_int_equal(st.bindings_skipped, 1);
    assert_false(rbac_snapshot_has_user(&f.state, "bob"));

    /* The binding goes on the source: it goes on the target; users stay. */
    const char *v2[] = {"user:alice", "user:bob", "user:carol", "role:reader", "bind:carol:reader", NULL};
    log_capture_start(&cap, MCDC_LOG_DEBUG);
    apply_ok(r, v2);
    log = log_capture_end(&cap);
    expect_calls(&f, "unbind alice reader\n");
    /* bob was reported once, not at every change. */
    assert_null(strstr(log, "bob"));
    free(log);
    assert_true(rbac_snapshot_has_user(&f.state, "alice"));
    rbac_sync_free(r);
    rbac_passwords_free(pw);
    fake_free(&f);
}

static void test_password_never_in_errors_or_logs(void **state) {
    (void)state;
    fake f = {.echo_password = true};
    const char *pwtext = "alice:Alice-pw-1\n";
    mcdc_err err = {0};
    rbac_passwords *pw = rbac_passwords_parse("pw", pwtext, strlen(pwtext), &err);
    rbac_sync *r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, pw);
    const char *src[] = {"user:alice", NULL};
    log_capture cap;
    log_capture_start(&cap, MCDC_LOG_DEBUG);
    int rc = apply(r, src, &err);
    char *log = log_capture_end(&cap);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "creating user 'alice'"));
    assert_non_null(strstr(err.msg, "{alice, ***}"));
    assert_null(strstr(err.msg, "Alice-pw-1"));
    assert_null(strstr(log, "Alice-pw-1"));
    free(log);
    rbac_sync_free(r);
    rbac_passwords_free(pw);
    fake_free(&f);
}

static void test_builtins_and_root_untouched(void **state) {
    (void)state;
    fake f = {0};
    const char *pwtext = "root:not-used\nalice:Alice-pw-1\n";
    mcdc_err err = {0};
    rbac_passwords *pw = rbac_passwords_parse("pw", pwtext, strlen(pwtext), &err);
    /* The target's own: built-ins, a role of its own, root bound to admin. */
    rbac_snapshot_add_role(&f.state, "admin");
    rbac_snapshot_add_role(&f.state, "public");
    rbac_snapshot_add_role(&f.state, "local_only");
    rbac_snapshot_add_user(&f.state, "root");
    rbac_snapshot_add_binding(&f.state, "root", "admin");
    rbac_grant pub = {"public", "Collection", "tdb", "books_t", "Query"};
    rbac_snapshot_add_grant(&f.state, &pub);
    rbac_snapshot_finish(&f.state);
    rbac_sync *r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, pw);
    const char *v1[] = {"user:root",
                        "user:alice",
                        "role:admin",
                        "role:public",
                        "bind:root:admin",
                        "bind:root:public",
                        "bind:alice:admin",
                        "grant:public:Collection:default:books:Insert",
                        "grant:admin:Global:default:*:*",
                        NULL};
    apply_ok(r, v1);
    expect_calls(&f, "create_user alice\n"
                     "bind alice admin\n");
    /* root's bindings are left alone on purpose, not skipped for want of a password. */
    rbac_sync_stats st;
    rbac_sync_get_stats(r, &st);
    assert_int_equal(st.bindings_skipped, 0);
    assert_int_equal(st.users_skipped, 0);
    /* Everything gone from the source: alice's binding goes, nothing else. */
    const char *v2[] = {"user:root", NULL};
    apply_ok(r, v2);
    expect_calls(&f, "unbind alice admin\n");
    assert_true(rbac_snapshot_has_role(&f.state, "admin"));
    assert_true(rbac_snapshot_has_role(&f.state, "public"));
    assert_true(rbac_snapshot_has_role(&f.state, "local_only"));
    assert_true(rbac_snapshot_has_binding(&f.state, "root", "admin"));
    assert_true(rbac_snapshot_has_grant(&f.state, &pub));
    rbac_sync_free(r);

    /* Not even on a target that lacks root, with a password for it. */
    fake bare = {0};
    r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &bare, &IO, pw);
    apply_ok(r, v1);
    expect_calls(&bare, "create_user alice\n"
                        "bind alice admin\n");
    rbac_sync_free(r);
    fake_free(&bare);
    rbac_passwords_free(pw);
    fake_free(&f);
}

static void test_errors_and_retry(void **state) {
    (void)state;
    fake f = {.fail_on = "grant", .fail_code = MCDC_EUNAVAIL, .fail_times = 1};
    rbac_sync *r = rbac_sync_new(NULL, "by-dev", &FAKE_OPS, &f, &IO, NULL);
    const char *src[] = {"role:reader", "grant:reader:Collection:default:books:Insert", NULL};
    mcdc_err err = {0};
    assert_int_equal(apply(r, src, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_true(mcdc_err_is_transient(err.code));
    assert_non_null(strstr(err.msg, "rbac: granting Insert on Collection tdb.books_t to role 'reader'"));
    expect_calls(&f, "create_role reader\n");
    /* Same source on the next step: what failed is done, what landed is not repeated. */
    apply_ok(r, src);
    expect_calls(&f, "grant reader Collection tdb.books_t Insert\n");

    /* A refusal for good comes back as it is: the caller pauses on it. */
    f.fail_on = "create_role";
    f.fail_code = MCDC_EREMOTE;
    f.fail_times = 1;
    const char *v2[] = {"role:reader", "role:bad", NULL};
    assert_int_equal(apply(r, v2, &err), -1);
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "creating role 'bad'"));
    /* A target read that fails is a failed step too. */
    f.fail_on = "read_roles";
    f.fail_code = MCDC_ETIMEOUT;
    f.fail_times = 1;
    assert_int_equal(apply(r, v2, &err), -1);
    assert_int_equal(err.code, MCDC_ETIMEOUT);
    rbac_sync_free(r);
    fake_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_parse),
        cmocka_unit_test(test_passwords_parse),
        cmocka_unit_test(test_passwords_file_mode),
        cmocka_unit_test(test_role_and_grant_once),
        cmocka_unit_test(test_grant_revoked_and_role_dropped_when_gone),
        cmocka_unit_test(test_revoke_after_restart_only_where_owned),
        cmocka_unit_test(test_users_and_bindings),
        cmocka_unit_test(test_password_never_in_errors_or_logs),
        cmocka_unit_test(test_builtins_and_root_untouched),
        cmocka_unit_test(test_errors_and_retry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
