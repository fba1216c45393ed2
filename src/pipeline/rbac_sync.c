/* rbac_sync.c — rbac_sync.h: the desired target state from a source
 * snapshot, the target's state read back, and the calls between the two. */
#include "pipeline/rbac_sync.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "target/milvus_client.h"

#define ROOT_USER "root"
/* Milvus's names are at most 255 characters (proxy.maxNameLength). */
#define NAME_CAP 256

struct rbac_sync {
    etcd_client *etcd;
    char *root_path;
    const rbac_target_ops *ops;
    void *target;
    rbac_sync_io io;
    const rbac_passwords *passwords;

    bool applied;            /* a step has succeeded: last_digest and ours mean something */
    uint64_t last_digest;    /* of the source snapshot last applied */
    rbac_snapshot ours;      /* roles, bindings and grants replicated by this process (target names) */
    rbac_snapshot warned;    /* users already reported as skipped (users only) */

    _Atomic uint64_t steps_applied, calls, users_skipped, bindings_skipped, grants_left_out;
};

static bool builtin_role(const char *role) { return strcmp(role, "admin") == 0 || strcmp(role, "public") == 0; }

rbac_sync *rbac_sync_new(etcd_client *src_etcd, const char *root_path, const rbac_target_ops *ops, void *target,
                         const rbac_sync_io *io, const rbac_passwords *passwords) {
    rbac_sync *r = mcdc_xcalloc(1, sizeof *r);
    r->etcd = src_etcd;
    r->root_path = mcdc_xstrdup(root_path ? root_path : "");
    r->ops = ops;
    r->target = target;
    if (io) r->io = *io;
    r->passwords = passwords;
    return r;
}

void rbac_sync_free(rbac_sync *r) {
    if (!r) return;
    rbac_snapshot_free(&r->ours);
    rbac_snapshot_free(&r->warned);
    free(r->root_path);
    free(r);
}

void rbac_sync_get_stats(const rbac_sync *r, rbac_sync_stats *out) {
    out->steps_applied = atomic_load(&r->steps_applied);
    out->calls = atomic_load(&r->calls);
    out->users_skipped = atomic_load(&r->users_skipped);
    out->bindings_skipped = atomic_load(&r->bindings_skipped);
    out->grants_left_out = atomic_load(&r->grants_left_out);
}

/* ---- what the target should hold ------------------------------------------- */

/* The source grant g as it should be on the target, in *out (strings point
 * into g and the two buffers); false when the task does not cover its object. */
static bool map_grant(const rbac_sync *r, const rbac_grant *g, rbac_grant *out, char *tdb, char *tname) {
    *out = *g;
    if (!r->io.map_object) return true;
    bool collection = strcmp(g->object, "Collection") == 0;
    if (!r->io.map_object(r->io.ud, g->db, collection ? g->name : "*", tdb, NAME_CAP, tname, NAME_CAP)) return false;
    out->db = tdb;
    if (collection) out->name = tname;
    return true;
}

static bool owned(const rbac_sync *r, const rbac_grant *g) {
    if (!r->io.owns_target) return false;
    return r->io.owns_target(r->io.ud, g->db, strcmp(g->object, "Collection") == 0 ? g->name : "*");
}

typedef struct plan {
    rbac_snapshot want;      /* roles, users to create, bindings, grants: target names */
    uint64_t users_skipped, bindings_skipped, grants_left_out;
} plan;

/* Users come in as those the target must hold: on the target already, or
 * with a password to create them. The others are reported, once each. */
static void plan_users(rbac_sync *r, const rbac_snapshot *src, const rbac_snapshot *tgt, plan *p) {
    for (size_t i = 0; i < src->n_users; i++) {
        const char *u = src->users[i];
        if (strcmp(u, ROOT_USER) == 0) continue;
        if (rbac_snapshot_has_user(tgt, u) || rbac_passwords_get(r->passwords, u)) {
            rbac_snapshot_add_user(&p->want, u);
            continue;
        }
        p->users_skipped++;
        if (!rbac_snapshot_has_user(&r->warned, u)) {
            log_warn("rbac: user '%s' is not created on the target: rbac.passwords_file has no password for it; "
                     "its role bindings are skipped", u);
            rbac_snapshot_add_user(&r->warned, u);
            rbac_snapshot_finish(&r->warned);
        }
    }
    rbac_snapshot_finish(&p->want);
}

static void plan_make(rbac_sync *r, const rbac_snapshot *src, const rbac_snapshot *tgt, plan *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < src->n_roles; i++)
        if (!builtin_role(src->roles[i])) rbac_snapshot_add_role(&p->want, src->roles[i]);
    plan_users(r, src, tgt, p);
    for (size_t i = 0; i < src->n_bindings; i++) {
        const rbac_binding *b = &src->bindings[i];
        if (strcmp(b->user, ROOT_USER) == 0) continue;
        /* A mapping left behind by a dropped role binds nothing. */
        if (!builtin_role(b->role) && !rbac_snapshot_has_role(src, b->role)) continue;
        if (!rbac_snapshot_has_user(&p->want, b->user)) {
            p->bindings_skipped++;
            continue;
        }
        rbac_snapshot_add_binding(&p->want, b->user, b->role);
    }
    for (size_t i = 0; i < src->n_grants; i++) {
        const rbac_grant *g = &src->grants[i];
        if (builtin_role(g->role) || !rbac_snapshot_has_role(src, g->role)) continue;
        char tdb[NAME_CAP], tname[NAME_CAP];
        rbac_grant m;
        if (!map_grant(r, g, &m, tdb, tname)) {
            p->grants_left_out++;
            continue;
        }
        rbac_snapshot_add_grant(&p->want, &m);
    }
    rbac_snapshot_finish(&p->want);
}

/* ---- what the target holds ---------------------------------------------------- */

static bool in_list(char *const *list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

/* Grants of the roles this task manages, in every database where it wants
 * or once wanted one: the target answers per role and database. */
static int read_target_grants(rbac_sync *r, const plan *p, rbac_snapshot *tgt, mcdc_err *err) {
    const rbac_snapshot *sets[2] = {&p->want, &r->ours};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sets[s]->n_roles; i++) {
            const char *role = sets[s]->roles[i];
            if (s == 1 && rbac_snapshot_has_role(&p->want, role)) continue; /* done in the first pass */
            if (!rbac_snapshot_has_role(tgt, role)) continue;
            char **dbs = NULL;
            size_t n_dbs = 0;
            for (int t = 0; t < 2; t++)
                for (size_t k = 0; k < sets[t]->n_grants; k++) {
                    const rbac_grant *g = &sets[t]->grants[k];
                    if (strcmp(g->role, role) != 0 || in_list(dbs, n_dbs, g->db)) continue;
                    dbs = mcdc_xrealloc(dbs, (n_dbs + 1) * sizeof *dbs);
                    dbs[n_dbs++] = g->db;
                }
            int rc = 0;
            for (size_t k = 0; k < n_dbs && rc == 0; k++) rc = r->ops->read_grants(r->target, role, dbs[k], tgt, err);
            free(dbs);
            if (rc) return -1;
        }
    }
    return 0;
}

/* ---- calls -------------------------------------------------------------------------- */

/* Every failing call's message says what mcdc was doing. */
static int failed(mcdc_err *err, const char *what) {
    mcdc_err_prefix(err, "rbac: %s", what);
    return -1;
}

static int create_user(rbac_sync *r, const char *u, mcdc_err *err) {
    const char *pw = rbac_passwords_get(r->passwords, u);
    int rc = r->ops->create_user(r->target, u, pw, err);
    if (rc && err && pw[0]) {
        /* A server that echoed the request must not put the password into
         * our logs or the task's reason. */
        for (char *hit; (hit = strstr(err->msg, pw));) {
            size_t n = strlen(pw);
            memmove(hit + 3, hit + n, strlen(hit + n) + 1);
            memcpy(hit, "***", 3);
        }
    }
    /* Created by someone else since the target was read: left as it is. */
    if (rc && err && err->code == MCDC_EEXIST) return 0;
    if (rc) {
        char what[NAME_CAP + 32];
        snprintf(what, sizeof what, "creating user '%s'", u);
        return failed(err, what);
    }
    atomic_fetch_add(&r->calls, 1);
    log_info("rbac: created user '%s' on the target", u);
    return 0;
}

static void grant_text(const rbac_grant *g, bool grant, char *out, size_t n) {
    snprintf(out, n, "%s on %s %s.%s %s role '%s'", g->privilege, g->object, g->db, g->name, grant ? "to" : "from",
             g->role);
}

static int apply_grant(rbac_sync *r, const rbac_grant *g, bool grant, mcdc_err *err) {
    char what[4 * NAME_CAP];
    grant_text(g, grant, what, sizeof what);
    if (r->ops->grant(r->target, g, grant, err)) {
        char ctx[4 * NAME_CAP + 16];
        snprintf(ctx, sizeof ctx, "%s %s", grant ? "granting" : "revoking", what);
        return failed(err, ctx);
    }
    atomic_fetch_add(&r->calls, 1);
    log_info("rbac: %s %s", grant ? "granted" : "revoked", what);
    return 0;
}

static int apply_binding(rbac_sync *r, const rbac_binding *b, bool add, mcdc_err *err) {
    if (r->ops->bind(r->target, b->user, b->role, add, err)) {
        char what[2 * NAME_CAP + 32];
        snprintf(what, sizeof what, "%s user '%s' %s role '%s'", add ? "adding" : "removing", b->user,
                 add ? "to" : "from", b->role);
        return failed(err, what);
    }
    atomic_fetch_add(&r->calls, 1);
    log_info("rbac: %s user '%s' %s role '%s'", add ? "added" : "removed", b->user, add ? "to" : "from", b->role);
    return 0;
}

static int apply_role(rbac_sync *r, const char *role, bool create, mcdc_err *err) {
    int rc = create ? r->ops->create_role(r->target, role, err) : r->ops->drop_role(r->target, role, err);
    /* Someone else got there first: the state is the one wanted. */
    if (rc && err && err->code == (create ? MCDC_EEXIST : MCDC_ENOTFOUND)) rc = 0;
    if (rc) {
        char what[NAME_CAP + 32];
        snprintf(what, sizeof what, "%s role '%s'", create ? "creating" : "dropping", role);
        return failed(err, what);
    }
    atomic_fetch_add(&r->calls, 1);
    log_info("rbac: %s role '%s'", create ? "created" : "dropped", role);
    return 0;
}

/* Additions first, so that a role is never dropped while something still
 * needs it, then removals of what this task replicated and the source no
 * longer has. */
static int apply_plan(rbac_sync *r, const plan *p, const rbac_snapshot *tgt, mcdc_err *err) {
    for (size_t i = 0; i < p->want.n_roles; i++)
        if (!rbac_snapshot_has_role(tgt, p->want.roles[i]) && apply_role(r, p->want.roles[i], true, err)) return -1;
    for (size_t i = 0; i < p->want.n_users; i++)
        if (!rbac_snapshot_has_user(tgt, p->want.users[i]) && create_user(r, p->want.users[i], err)) return -1;
    for (size_t i = 0; i < p->want.n_grants; i++)
        if (!rbac_snapshot_has_grant(tgt, &p->want.grants[i]) && apply_grant(r, &p->want.grants[i], true, err))
            return -1;
    for (size_t i = 0; i < p->want.n_bindings; i++) {
        const rbac_binding *b = &p->want.bindings[i];
        if (!rbac_snapshot_has_binding(tgt, b->user, b->role) && apply_binding(r, b, true, err)) return -1;
    }
    for (size_t i = 0; i < tgt->n_bindings; i++) {
        const rbac_binding *b = &tgt->bindings[i];
        if (rbac_snapshot_has_binding(&r->ours, b->user, b->role) &&
            !rbac_snapshot_has_binding(&p->want, b->user, b->role) && apply_binding(r, b, false, err))
            return -1;
    }
    for (size_t i = 0; i < tgt->n_grants; i++) {
        const rbac_grant *g = &tgt->grants[i];
        if (rbac_snapshot_has_grant(&p->want, g) || builtin_role(g->role)) continue;
        if (!rbac_snapshot_has_grant(&r->ours, g) && !owned(r, g)) continue;
        if (apply_grant(r, g, false, err)) return -1;
    }
    for (size_t i = 0; i < r->ours.n_roles; i++) {
        const char *role = r->ours.roles[i];
        if (!rbac_snapshot_has_role(&p->want, role) && rbac_snapshot_has_role(tgt, role) &&
            apply_role(r, role, false, err))
            return -1;
    }
    return 0;
}

/* ---- a step ----------------------------------------------------------------------------- */

static int read_target(rbac_sync *r, rbac_snapshot *tgt, mcdc_err *err) {
    if (r->ops->read_roles(r->target, tgt, err) || r->ops->read_users(r->target, tgt, err))
        return failed(err, "reading the target's roles and users");
    rbac_snapshot_finish(tgt);
    return 0;
}

int rbac_sync_apply(rbac_sync *r, const rbac_snapshot *src, mcdc_err *err) {
    uint64_t digest = rbac_snapshot_digest(src);
    if (r->applied && digest == r->last_digest) return 0;

    rbac_snapshot tgt = {0};
    plan p = {0};
    int rc = read_target(r, &tgt, err);
    if (rc == 0) {
        plan_make(r, src, &tgt, &p);
        rc = read_target_grants(r, &p, &tgt, err);
        if (rc) failed(err, "reading the target's grants");
    }
    if (rc == 0) {
        rbac_snapshot_finish(&tgt);
        atomic_store(&r->users_skipped, p.users_skipped);
        atomic_store(&r->bindings_skipped, p.bindings_skipped);
        atomic_store(&r->grants_left_out, p.grants_left_out);
        rc = apply_plan(r, &p, &tgt, err);
    }
    if (rc == 0) {
        /* Users stay out of "ours": they are never dropped. */
        rbac_snapshot_free(&r->ours);
        r->ours = p.want;
        memset(&p.want, 0, sizeof p.want);
        r->last_digest = digest;
        r->applied = true;
        atomic_fetch_add(&r->steps_applied, 1);
    }
    rbac_snapshot_free(&p.want);
    rbac_snapshot_free(&tgt);
    return rc;
}

int rbac_sync_step(rbac_sync *r, mcdc_err *err) {
    rbac_snapshot src;
    if (rbac_read(r->etcd, r->root_path, &src, err)) return -1;
    int rc = rbac_sync_apply(r, &src, err);
    rbac_snapshot_free(&src);
    return rc;
}

/* ---- the real target ------------------------------------------------------------------- */

static int m_read_roles(void *t, rbac_snapshot *into, mcdc_err *err) {
    Milvus__Proto__Milvus__SelectRoleResponse *resp = NULL;
    if (milvus_select_roles(t, &resp, err)) return -1;
    for (size_t i = 0; i < resp->n_results; i++) {
        const Milvus__Proto__Milvus__RoleResult *rr = resp->results[i];
        if (rr->role && rr->role->name && rr->role->name[0]) rbac_snapshot_add_role(into, rr->role->name);
    }
    milvus__proto__milvus__select_role_response__free_unpacked(resp, NULL);
    return 0;
}

static int m_read_users(void *t, rbac_snapshot *into, mcdc_err *err) {
    Milvus__Proto__Milvus__SelectUserResponse *resp = NULL;
    if (milvus_select_users(t, &resp, err)) return -1;
    for (size_t i = 0; i < resp->n_results; i++) {
        const Milvus__Proto__Milvus__UserResult *ur = resp->results[i];
        if (!ur->user || !ur->user->name || !ur->user->name[0]) continue;
        rbac_snapshot_add_user(into, ur->user->name);
        for (size_t k = 0; k < ur->n_roles; k++)
            if (ur->roles[k]->name && ur->roles[k]->name[0])
                rbac_snapshot_add_binding(into, ur->user->name, ur->roles[k]->name);
    }
    milvus__proto__milvus__select_user_response__free_unpacked(resp, NULL);
    return 0;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static int m_read_grants(void *t, const char *role, const char *db, rbac_snapshot *into, mcdc_err *err) {
    Milvus__Proto__Milvus__SelectGrantResponse *resp = NULL;
    if (milvus_select_grants(t, role, db, &resp, err)) return -1;
    for (size_t i = 0; i < resp->n_entities; i++) {
        const Milvus__Proto__Milvus__GrantEntity *e = resp->entities[i];
        if (!e->object || !e->grantor || !e->grantor->privilege) continue;
        rbac_grant g = {(char *)role, (char *)or_empty(e->object->name),
                        (char *)(e->db_name && e->db_name[0] ? e->db_name : db), (char *)or_empty(e->object_name),
                        (char *)or_empty(e->grantor->privilege->name)};
        rbac_snapshot_add_grant(into, &g);
    }
    milvus__proto__milvus__select_grant_response__free_unpacked(resp, NULL);
    return 0;
}

static int m_create_role(void *t, const char *role, mcdc_err *err) { return milvus_create_role(t, role, err); }
static int m_drop_role(void *t, const char *role, mcdc_err *err) { return milvus_drop_role(t, role, err); }

static int m_bind(void *t, const char *user, const char *role, bool add, mcdc_err *err) {
    return milvus_operate_user_role(t, user, role, add, err);
}

static int m_grant(void *t, const rbac_grant *g, bool grant, mcdc_err *err) {
    return milvus_operate_privilege(t, g->role, g->object, g->db, g->name, g->privilege, grant, err);
}

static int m_create_user(void *t, const char *user, const char *password, mcdc_err *err) {
    return milvus_create_credential(t, user, password, err);
}

const rbac_target_ops rbac_target_milvus = {
    .read_roles = m_read_roles,
    .read_users = m_read_users,
    .read_grants = m_read_grants,
    .create_role = m_create_role,
    .drop_role = m_drop_role,
    .bind = m_bind,
    .grant = m_grant,
    .create_user = m_create_user,
};
