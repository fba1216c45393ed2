/* rbac.c — rbac.h: the credential keys of Milvus 2.3 taken apart, and the
 * sorted sets built from them. The key layouts are in docs/rbac.md with the
 * Milvus source they come from. */
#include "source/rbac.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define CREDENTIAL_DIR "/meta/root-coord/credential/"
#define DEFAULT_DB "default"
/* Milvus stores privilege names with this in front ("PrivilegeInsert") and
 * shows and takes them without it ("Insert"). */
#define PRIVILEGE_WORD "Privilege"

/* The grantee-privileges half of a grant: role, object and the id under
 * which grantee-id lists its privileges. */
typedef struct grant_object {
    char *role, *object, *db, *name, *id;
} grant_object;

typedef struct grant_privilege {
    char *id, *privilege;
} grant_privilege;

struct rbac_halves {
    grant_object *objects;
    size_t n_objects;
    grant_privilege *privileges;
    size_t n_privileges;
};

/* The arrays grow one element at a time and keep no capacity: an array of n
 * elements has room for the next power of two, so it is resized when n is
 * one (or zero). */
static void *push(void *arr, size_t n, size_t size) {
    if (n == 0 || (n & (n - 1)) == 0) return mcdc_xrealloc(arr, (n ? n * 2 : 1) * size);
    return arr;
}

static char *dupn(const char *s, size_t n) {
    char *d = mcdc_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- adding ---------------------------------------------------------------- */

void rbac_snapshot_add_user(rbac_snapshot *s, const char *user) {
    s->users = push(s->users, s->n_users, sizeof *s->users);
    s->users[s->n_users++] = mcdc_xstrdup(user);
}

void rbac_snapshot_add_role(rbac_snapshot *s, const char *role) {
    s->roles = push(s->roles, s->n_roles, sizeof *s->roles);
    s->roles[s->n_roles++] = mcdc_xstrdup(role);
}

void rbac_snapshot_add_binding(rbac_snapshot *s, const char *user, const char *role) {
    s->bindings = push(s->bindings, s->n_bindings, sizeof *s->bindings);
    s->bindings[s->n_bindings++] = (rbac_binding){mcdc_xstrdup(user), mcdc_xstrdup(role)};
}

void rbac_snapshot_add_grant(rbac_snapshot *s, const rbac_grant *g) {
    s->grants = push(s->grants, s->n_grants, sizeof *s->grants);
    s->grants[s->n_grants++] = (rbac_grant){mcdc_xstrdup(g->role), mcdc_xstrdup(g->object), mcdc_xstrdup(g->db),
                                            mcdc_xstrdup(g->name), mcdc_xstrdup(g->privilege)};
}

/* ---- keys -------------------------------------------------------------------- */

/* Splits rest into exactly n non-empty '/'-separated segments. */
static bool split(const char *rest, size_t n, const char **seg, size_t *len) {
    size_t i = 0;
    const char *p = rest;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l == 0 || i == n) return false;
        seg[i] = p;
        len[i++] = l;
        if (!slash) break;
        p = slash + 1;
    }
    return i == n;
}

static const char *after(const char *key, const char *dir) {
    size_t n = strlen(dir);
    return strncmp(key, dir, n) == 0 ? key + n : NULL;
}

static struct rbac_halves *halves(rbac_snapshot *s) {
    if (!s->halves) s->halves = mcdc_xcalloc(1, sizeof *s->halves);
    return s->halves;
}

/* grantee-privileges/<role>/<object type>/<object>: <object> is "<db>.<name>"
 * since 2.3, or "<name>" alone as written before databases (then in the
 * default database). */
static void add_grant_object(rbac_snapshot *s, const char *const *seg, const size_t *len, const uint8_t *v,
                             size_t vlen) {
    struct rbac_halves *h = halves(s);
    h->objects = push(h->objects, h->n_objects, sizeof *h->objects);
    const char *dot = memchr(seg[2], '.', len[2]);
    grant_object o;
    o.role = dupn(seg[0], len[0]);
    o.object = dupn(seg[1], len[1]);
    if (dot) {
        o.db = dupn(seg[2], (size_t)(dot - seg[2]));
        o.name = dupn(dot + 1, len[2] - (size_t)(dot - seg[2]) - 1);
    } else {
        o.db = mcdc_xstrdup(DEFAULT_DB);
        o.name = dupn(seg[2], len[2]);
    }
    o.id = dupn(v ? (const char *)v : "", v ? vlen : 0);
    h->objects[h->n_objects++] = o;
}

static void add_grant_privilege(rbac_snapshot *s, const char *const *seg, const size_t *len) {
    struct rbac_halves *h = halves(s);
    h->privileges = push(h->privileges, h->n_privileges, sizeof *h->privileges);
    const char *p = seg[1];
    size_t n = len[1], w = strlen(PRIVILEGE_WORD);
    if (n > w && strncmp(p, PRIVILEGE_WORD, w) == 0) p += w, n -= w;
    h->privileges[h->n_privileges++] = (grant_privilege){dupn(seg[0], len[0]), dupn(p, n)};
}

void rbac_snapshot_add_kv(rbac_snapshot *s, const char *key, const uint8_t *value, size_t len) {
    const char *seg[4], *rest;
    size_t sl[4];
    char *a = NULL, *b = NULL;
    /* users/<name>: the value is a JSON of the bcrypt hash; only the name is kept. */
    if ((rest = after(key, "users/")) && split(rest, 1, seg, sl)) {
        rbac_snapshot_add_user(s, rest);
    } else if ((rest = after(key, "roles/")) && split(rest, 1, seg, sl)) {
        rbac_snapshot_add_role(s, rest);
    } else if ((rest = after(key, "user-role-mapping/")) && split(rest, 2, seg, sl)) {
        a = dupn(seg[0], sl[0]);
        b = dupn(seg[1], sl[1]);
        rbac_snapshot_add_binding(s, a, b);
    } else if ((rest = after(key, "grantee-privileges/")) && split(rest, 3, seg, sl)) {
        add_grant_object(s, seg, sl, value, len);
    } else if ((rest = after(key, "grantee-id/")) && split(rest, 2, seg, sl)) {
        add_grant_privilege(s, seg, sl);
    } else {
        s->n_skipped++;
    }
    free(a);
    free(b);
}

/* ---- sorting and joining ------------------------------------------------------ */

static int cmp_fields(const char *const *a, const char *const *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a[i], b[i]);
        if (c) return c;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_binding(const void *pa, const void *pb) {
    const rbac_binding *a = pa, *b = pb;
    const char *fa[2] = {a->user, a->role}, *fb[2] = {b->user, b->role};
    return cmp_fields(fa, fb, 2);
}

static int cmp_grant(const void *pa, const void *pb) {
    const rbac_grant *a = pa, *b = pb;
    const char *fa[5] = {a->role, a->object, a->db, a->name, a->privilege};
    const char *fb[5] = {b->role, b->object, b->db, b->name, b->privilege};
    return cmp_fields(fa, fb, 5);
}

static int cmp_privilege_id(const void *a, const void *b) {
    return strcmp(((const grant_privilege *)a)->id, ((const grant_privilege *)b)->id);
}

static void free_binding(rbac_binding *b) {
    free(b->user);
    free(b->role);
}

static void free_grant(rbac_grant *g) {
    free(g->role);
    free(g->object);
    free(g->db);
    free(g->name);
    free(g->privilege);
}

static void free_str(char **s) { free(*s); }

/* Sorts arr and drops repeats, freeing them. */
#define SORT_UNIQUE(arr, n, cmp, free_one)                                   \
    do {                                                                     \
        if ((n) == 0) break;                                                 \
        qsort((arr), (n), sizeof *(arr), cmp);                               \
        size_t keep_ = 1;                                                    \
        for (size_t i_ = 1; i_ < (n); i_++) {                                \
            if (cmp(&(arr)[keep_ - 1], &(arr)[i_]) == 0) free_one(&(arr)[i_]); \
            else (arr)[keep_++] = (arr)[i_];                                 \
        }                                                                    \
        (n) = keep_;                                                         \
    } while (0)

static void join_halves(rbac_snapshot *s) {
    struct rbac_halves *h = s->halves;
    if (!h) return;
    if (h->n_privileges) qsort(h->privileges, h->n_privileges, sizeof *h->privileges, cmp_privilege_id);
    for (size_t i = 0; i < h->n_objects; i++) {
        grant_object *o = &h->objects[i];
        /* lower bound of o->id among the privileges */
        size_t lo = 0, hi = h->n_privileges;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(h->privileges[mid].id, o->id) < 0) lo = mid + 1;
            else hi = mid;
        }
        for (size_t j = lo; j < h->n_privileges && strcmp(h->privileges[j].id, o->id) == 0; j++) {
            rbac_grant g = {o->role, o->object, o->db, o->name, h->privileges[j].privilege};
            rbac_snapshot_add_grant(s, &g);
        }
        free(o->role);
        free(o->object);
        free(o->db);
        free(o->name);
        free(o->id);
    }
    /* A privilege whose object key is gone is a leftover: no grant. */
    for (size_t j = 0; j < h->n_privileges; j++) {
        free(h->privileges[j].id);
        free(h->privileges[j].privilege);
    }
    free(h->objects);
    free(h->privileges);
    free(h);
    s->halves = NULL;
}

void rbac_snapshot_finish(rbac_snapshot *s) {
    join_halves(s);
    SORT_UNIQUE(s->users, s->n_users, cmp_str, free_str);
    SORT_UNIQUE(s->roles, s->n_roles, cmp_str, free_str);
    SORT_UNIQUE(s->bindings, s->n_bindings, cmp_binding, free_binding);
    SORT_UNIQUE(s->grants, s->n_grants, cmp_grant, free_grant);
}

/* ---- questions ----------------------------------------------------------------- */

bool rbac_snapshot_has_user(const rbac_snapshot *s, const char *user) {
    return s->n_users && bsearch(&user, s->users, s->n_users, sizeof *s->users, cmp_str);
}

bool rbac_snapshot_has_role(const rbac_snapshot *s, const char *role) {
    return s->n_roles && bsearch(&role, s->roles, s->n_roles, sizeof *s->roles, cmp_str);
}

bool rbac_snapshot_has_binding(const rbac_snapshot *s, const char *user, const char *role) {
    rbac_binding k = {(char *)user, (char *)role};
    return s->n_bindings && bsearch(&k, s->bindings, s->n_bindings, sizeof *s->bindings, cmp_binding);
}

bool rbac_snapshot_has_grant(const rbac_snapshot *s, const rbac_grant *g) {
    return s->n_grants && bsearch(g, s->grants, s->n_grants, sizeof *s->grants, cmp_grant);
}

/* FNV-1a over every string with its NUL and a separator byte per set, so
 * that moving a string from one set to another changes the digest. */
static uint64_t fnv(uint64_t h, const char *str) {
    for (const unsigned char *p = (const unsigned char *)str;; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
        if (!*p) return h;
    }
}

uint64_t rbac_snapshot_digest(const rbac_snapshot *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < s->n_users; i++) h = fnv(h, s->users[i]);
    h = fnv(h, "\x01");
    for (size_t i = 0; i < s->n_roles; i++) h = fnv(h, s->roles[i]);
    h = fnv(h, "\x02");
    for (size_t i = 0; i < s->n_bindings; i++) h = fnv(fnv(h, s->bindings[i].user), s->bindings[i].role);
    h = fnv(h, "\x03");
    for (size_t i = 0; i < s->n_grants; i++) {
        const rbac_grant *g = &s->grants[i];
        h = fnv(fnv(fnv(fnv(fnv(h, g->role), g->object), g->db), g->name), g->privilege);
    }
    return h;
}

void rbac_snapshot_free(rbac_snapshot *s) {
    if (!s) return;
    join_halves(s);
    for (size_t i = 0; i < s->n_users; i++) free(s->users[i]);
    for (size_t i = 0; i < s->n_roles; i++) free(s->roles[i]);
    for (size_t i = 0; i < s->n_bindings; i++) free_binding(&s->bindings[i]);
    for (size_t i = 0; i < s->n_grants; i++) free_grant(&s->grants[i]);
    free(s->users);
    free(s->roles);
    free(s->bindings);
    free(s->grants);
    memset(s, 0, sizeof *s);
}

/* ---- etcd ------------------------------------------------------------------------ */

typedef struct read_ctx {
    rbac_snapshot *s;
    size_t prefix_len;
} read_ctx;

static int read_fn(void *ud, const etcd_kv *kv) {
    read_ctx *r = ud;
    rbac_snapshot_add_kv(r->s, kv->key + r->prefix_len, kv->value, kv->value_len);
    return 0;
}

int rbac_read(etcd_client *c, const char *root_path, rbac_snapshot *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    mcdc_buf prefix = MCDC_BUF_INIT;
    mcdc_buf_printf(&prefix, "%s%s", root_path, CREDENTIAL_DIR);
    read_ctx r = {out, prefix.len};
    int rc = etcd_range_prefix(c, mcdc_buf_cstr(&prefix), 0, read_fn, &r, &out->revision, err);
    if (rc) mcdc_err_prefix(err, "reading the source's RBAC under %s", mcdc_buf_cstr(&prefix));
    mcdc_buf_free(&prefix);
    if (rc) {
        rbac_snapshot_free(out);
        return -1;
    }
    rbac_snapshot_finish(out);
    return 0;
}
