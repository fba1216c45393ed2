/* rbac.h — the source's users, roles, user-role bindings and grants, read
 * from etcd.
 *
 * Milvus 2.3 keeps RBAC only in etcd, under <root>/meta/root-coord/credential/
 * (docs/rbac.md, "Where the source keeps RBAC"); nothing of it reaches the
 * WAL. rbac_read takes one Range over that prefix, so the snapshot is one
 * consistent cut at one etcd revision. Password hashes are never read into
 * the snapshot: only user names. Keys of another tenant or of a shape this
 * reader does not know are counted in n_skipped, not guessed at.
 *
 * A snapshot is sorted and free of duplicates, so two snapshots compare
 * element by element and rbac_snapshot_has_* are binary searches. */
#ifndef MCDC_RBAC_H
#define MCDC_RBAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "etcd/etcd.h"

typedef struct rbac_binding {
    char *user;
    char *role;
} rbac_binding;

/* One privilege of a role on one object; the grantor is not kept (the target
 * records whoever makes the call). */
typedef struct rbac_grant {
    char *role;
    char *object;     /* object type as Milvus names it: "Collection", "Global", "User" */
    char *db;         /* "default" for grants written before databases existed */
    char *name;       /* a collection name, "*", or a user name */
    char *privilege;  /* as the API takes it: "Insert", "CreateCollection", "*" */
} rbac_grant;

typedef struct rbac_snapshot {
    char **users;
    size_t n_users;
    char **roles;
    size_t n_roles;
    rbac_binding *bindings;
    size_t n_bindings;
    rbac_grant *grants;
    size_t n_grants;
    size_t n_skipped;  /* keys left out: another tenant, or not understood */
    int64_t revision;  /* the etcd revision read (0 for snapshots built by hand) */
    struct rbac_halves *halves; /* grant halves until rbac_snapshot_finish */
} rbac_snapshot;

/* Reads everything under <root_path>/meta/root-coord/credential/ into *out
 * (sorted). Errors are etcd's (transient ones stay transient). */
int rbac_read(etcd_client *c, const char *root_path, rbac_snapshot *out, mcdc_err *err);

/* One key below ".../credential/" (rel_key, e.g. "roles/reader") and its
 * value, into s. Grants are two keys apart (grantee-privileges names the
 * object and holds an id, grantee-id/<id>/<privilege> lists the privileges):
 * they are joined by rbac_snapshot_finish. Exposed for tests and for
 * snapshots built from other sources. */
void rbac_snapshot_add_kv(rbac_snapshot *s, const char *rel_key, const uint8_t *value, size_t len);
/* Joins the grant halves, sorts and removes duplicates. Call once after the
 * last rbac_snapshot_add_kv, and after adding by hand (below). */
void rbac_snapshot_finish(rbac_snapshot *s);

/* Adding by hand (a target's state, tests). Strings are copied. */
void rbac_snapshot_add_user(rbac_snapshot *s, const char *user);
void rbac_snapshot_add_role(rbac_snapshot *s, const char *role);
void rbac_snapshot_add_binding(rbac_snapshot *s, const char *user, const char *role);
void rbac_snapshot_add_grant(rbac_snapshot *s, const rbac_grant *g);

/* On a finished snapshot. */
bool rbac_snapshot_has_user(const rbac_snapshot *s, const char *user);
bool rbac_snapshot_has_role(const rbac_snapshot *s, const char *role);
bool rbac_snapshot_has_binding(const rbac_snapshot *s, const char *user, const char *role);
bool rbac_snapshot_has_grant(const rbac_snapshot *s, const rbac_grant *g);
/* A digest of the content (not of the revision): equal snapshots, equal digests. */
uint64_t rbac_snapshot_digest(const rbac_snapshot *s);

void rbac_snapshot_free(rbac_snapshot *s);

#endif
