/* rbac_sync.h — a task's RBAC replication (extra_info.enable_user_role).
 *
 * Each step reads the source's RBAC (src/source/rbac.h, one etcd Range) and,
 * when it differs from what the last successful step applied, reads the
 * target's through the API and makes the target match with idempotent calls:
 *   roles            created; dropped when a role this task replicated is gone
 *                    from the source;
 *   users            created with the password from rbac.passwords_file
 *                    (rbac_passwords.h); a user without one is not created,
 *                    is logged once and counted, and its bindings are skipped;
 *                    users are never dropped or changed;
 *   bindings         added; removed when a binding this task replicated is gone;
 *   grants           granted on the target object the task maps the source
 *                    object to (io->map_object; grants on objects the task
 *                    does not cover are left out); revoked when gone from the
 *                    source, if this task replicated the grant or owns its
 *                    target object (io->owns_target).
 * Never touched: the user root, the built-in roles admin and public (neither
 * created nor dropped, and their grants are left alone; users may be bound to
 * them). "Replicated by this task" is remembered for the life of the process:
 * what was removed on the source while mcdc was down is removed on the target
 * only for grants on objects the task owns (docs/rbac.md, Limits).
 *
 * A step with no source change makes no call on the target. Every call is
 * idempotent (a re-run after a failure part way repeats nothing that landed).
 * Passwords appear in no log line and no error message. */
#ifndef MCDC_RBAC_SYNC_H
#define MCDC_RBAC_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "etcd/etcd.h"
#include "pipeline/rbac_passwords.h"
#include "source/rbac.h"

/* The target as rbac_sync uses it; rbac_target_milvus is the real one (t is
 * a milvus_client *), a unit test passes a fake. The read_* calls add to
 * *into (rbac_snapshot_add_*); rbac_sync finishes the snapshot. */
typedef struct rbac_target_ops {
    int (*read_roles)(void *t, rbac_snapshot *into, mcdc_err *err);
    int (*read_users)(void *t, rbac_snapshot *into, mcdc_err *err); /* users and their bindings */
    int (*read_grants)(void *t, const char *role, const char *db, rbac_snapshot *into, mcdc_err *err);
    int (*create_role)(void *t, const char *role, mcdc_err *err);
    int (*drop_role)(void *t, const char *role, mcdc_err *err);
    int (*bind)(void *t, const char *user, const char *role, bool add, mcdc_err *err);
    int (*grant)(void *t, const rbac_grant *g, bool grant, mcdc_err *err);
    int (*create_user)(void *t, const char *user, const char *password, mcdc_err *err);
} rbac_target_ops;

extern const rbac_target_ops rbac_target_milvus;

typedef struct rbac_sync_io {
    /* Target db and collection name for a source (db, collection) grant
     * object; false = not covered by the task, leave the grant out. "*" maps
     * to "*". Global and User grants ask with name "*" for their database and
     * keep their object name. NULL: every name maps to itself. */
    bool (*map_object)(void *ud, const char *db, const char *name, char *tdb, size_t tdb_cap, char *tname,
                       size_t tname_cap);
    /* Whether the task owns this target (db, collection) ("*": the database),
     * so a grant there that the source no longer has is revoked even if this
     * process never replicated it. NULL: only grants this process replicated
     * are revoked. */
    bool (*owns_target)(void *ud, const char *tdb, const char *tname);
    void *ud;
} rbac_sync_io;

typedef struct rbac_sync rbac_sync;

/* src_etcd, ops/target, passwords (may be NULL: no user is created) are
 * borrowed and must outlive the rbac_sync; io is copied. */
rbac_sync *rbac_sync_new(etcd_client *src_etcd, const char *root_path, const rbac_target_ops *ops, void *target,
                         const rbac_sync_io *io, const rbac_passwords *passwords);

/* Reads the source's RBAC and applies the difference. Transient errors come
 * back as such (the caller retries on its next step, every few seconds, and
 * shows the error); others mean the target refused for good (the caller
 * pauses the task with the message). */
int rbac_sync_step(rbac_sync *r, mcdc_err *err);

/* The second half of a step, for a snapshot read elsewhere (tests). */
int rbac_sync_apply(rbac_sync *r, const rbac_snapshot *source, mcdc_err *err);

/* Safe to call from any thread while steps run. */
typedef struct rbac_sync_stats {
    uint64_t steps_applied;   /* steps that found a change and applied it */
    uint64_t calls;           /* changing calls made on the target */
    uint64_t users_skipped;   /* source users not created (no password), as of the last step */
    uint64_t bindings_skipped;/* their bindings, as of the last step */
    uint64_t grants_left_out; /* grants on objects the task does not cover, as of the last step */
} rbac_sync_stats;
void rbac_sync_get_stats(const rbac_sync *r, rbac_sync_stats *out);

void rbac_sync_free(rbac_sync *r);

#endif
