/* task_meta.c — what a task keeps in step with the source's etcd beside its
 * WAL, on the supervisor's thread: the collection bindings (loaded from the
 * store; bindings.h reaches the store and the catalog through the adapters
 * here), aliases and empty partitions (meta_sync.h), RBAC (rbac_sync.h),
 * and the bulk inserts the WAL never carries (bulk_inserts.h). task.c runs
 * the workers and calls these from its supervisor (task_int.h). */
#include "pipeline/task_int.h"

#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- bindings: the store and the source as bindings.h sees them ---------------------------- */

static int binding_save(void *ud, const binding *b, mcdc_err *err) {
    task *t = ud;
    store_binding sb = {.source_id = b->source_id, .target_db = b->db, .target_name = b->name,
                        .target_id = b->target_id, .state = b->state, .ts = b->ts};
    return store_binding_save(t->env->store, t->id, &sb, err);
}

static bool binding_state_of(void *ud, int64_t id, char *db, char *name, size_t cap) {
    task *t = ud;
    catalog_coll *cc = catalog_get(t->env->catalog, id);
    bool live = cc && (cc->state == CATALOG_CREATED || cc->state == CATALOG_CREATING);
    if (live) {
        snprintf(db, cap, "%s", cc->db_name);
        snprintf(name, cap, "%s", cc->name);
    }
    catalog_release(cc);
    return live;
}

static void binding_map_name(void *ud, const char *db, const char *name, char *tdb, char *tname, size_t cap) {
    task *t = ud;
    const char *mdb, *mname;
    task_spec_map_name(&t->spec, db, name, &mdb, &mname);
    snprintf(tdb, cap, "%s", mdb);
    snprintf(tname, cap, "%s", mname);
}

static int load_binding(void *ud, const store_binding *sb) {
    binding b = {.source_id = sb->source_id, .target_id = sb->target_id, .state = sb->state, .ts = sb->ts};
    snprintf(b.db, sizeof b.db, "%s", sb->target_db);
    snprintf(b.name, sizeof b.name, "%s", sb->target_name);
    bindings_load(ud, &b);
    return 0;
}

/* Once per task: the registry with what the store holds. */
int task_load_bindings(task *t, mcdc_err *err) {
    if (t->bindings) return 0;
    binding_store st = {.save = binding_save, .ud = t};
    binding_source src = {.state_of = binding_state_of, .map_name = binding_map_name, .ud = t};
    bindings *r = bindings_new(&st, &src);
    if (store_binding_each(t->env->store, t->id, load_binding, r, err)) {
        bindings_free(r);
        mcdc_err_prefix(err, "reading the task's collection bindings");
        return -1;
    }
    t->bindings = r;
    return 0;
}

/* ---- aliases, partitions, RBAC, bulk inserts ------------------------------------------------ */

static bool meta_target_of(void *ud, int64_t id, char *db, size_t db_cap, char *name, size_t name_cap) {
    binding b;
    if (!bindings_get(((task *)ud)->bindings, id, &b) || b.state != BINDING_LIVE) return false;
    snprintf(db, db_cap, "%s", b.db);
    snprintf(name, name_cap, "%s", b.name);
    return true;
}

/* A source grant's object in the target's names: a collection the task
 * covers (through its binding once it has one), or "*" of a database the
 * task covers whole. */
static bool rbac_map_object(void *ud, const char *db, const char *name, char *tdb, size_t tdb_cap, char *tname,
                            size_t tname_cap) {
    task *t = ud;
    const char *mdb, *mname;
    if (!task_spec_covers(&t->spec, db, name)) return false;
    task_spec_map_name(&t->spec, db, name, &mdb, &mname);
    snprintf(tdb, tdb_cap, "%s", mdb);
    snprintf(tname, tname_cap, "%s", strcmp(name, "*") == 0 ? "*" : mname);
    catalog_coll *cc = strcmp(name, "*") ? catalog_find(t->env->catalog, db, name) : NULL;
    binding b;
    if (cc && bindings_get(t->bindings, cc->id, &b) && b.state == BINDING_LIVE) {
        snprintf(tdb, tdb_cap, "%s", b.db);
        snprintf(tname, tname_cap, "%s", b.name);
    }
    catalog_release(cc);
    return true;
}

/* Roles, grants, users and their roles (extra_info.enable_user_role),
 * every RBAC_EVERY supervisor rounds: the source's RBAC lives in etcd
 * alone and changes rarely. */
#define RBAC_EVERY 10

static int rbac_step(task *t, mcdc_err *err) {
    if (!t->spec.enable_user_role || !t->env->etcd) return 0;
    if (!t->rbac) {
        rbac_sync_io io = {.map_object = rbac_map_object, .ud = t};
        t->rbac = rbac_sync_new(t->env->etcd, t->env->root_path, &rbac_target_milvus, t->meta_client, &io,
                                t->env->passwords);
    }
    if (t->round % RBAC_EVERY) return 0;
    if (rbac_sync_step(t->rbac, err)) {
        mcdc_err_prefix(err, "replicating roles and grants");
        return -1;
    }
    return 0;
}

/* Aliases and empty partitions, once the watermark has passed them; then RBAC. */
int task_meta_step(task *t, mcdc_err *err) {
    if (!t->meta) {
        milvus_config mc;
        task_secrets held;
        if (task_target_milvus_config(&t->spec.target, t->env->secrets_dir, 30000, &mc, &held, err)) return -1;
        t->meta_client = milvus_open(&mc, err);
        task_secrets_free(&held);
        if (!t->meta_client) return -1;
        t->meta_target = meta_sync_milvus_target(t->meta_client);
        meta_sync_io io = {.target_of = meta_target_of, .ud = t, .ignore_partitions = t->spec.target.ignore_partition};
        t->meta = meta_sync_new(t->env->catalog, &t->meta_target, &io);
    }
    uint64_t wm = task_watermark(t);
    if (wm && wm != UINT64_MAX && meta_sync_step(t->meta, wm, err)) {
        /* A worker may drop or rename a target collection between the
         * step's lookup and its call: the next step reads the bindings again. */
        if (err->code == MCDC_ENOTFOUND) err->code = MCDC_EUNAVAIL;
        mcdc_err_prefix(err, "replicating aliases and partitions");
        return -1;
    }
    return rbac_step(t, err);
}

/* Bulk inserts never reach the WAL: the task can only say so (bulk_inserts.h). */
/* A bulk insert that completed on a covered collection: its rows are
 * queryable on the source now, so a copy of the collection brings them
 * (snapshot.on_bulk_insert: resync). A copy that is running may have read
 * past some of them already: the new one is asked for once that ended. */
static void resync_for_imports(task *t) {
    if (!t->env->copy.resync_on_bulk_insert || !atomic_load(&t->copies_loaded) || !t->env->source_milvus.address ||
        !t->env->source_milvus.address[0])
        return;
    task_bulk_insert *list;
    size_t n;
    bulk_inserts_copy(t->bulk, &list, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].state, "ImportCompleted") != 0 || copier_import_seen(t->copier, list[i].import_task) ||
            copier_busy(t->copier, list[i].collection_id))
            continue;
        catalog_coll *cc = catalog_get(t->env->catalog, list[i].collection_id);
        mcdc_err err;
        if (cc && cc->state != CATALOG_DROPPED && copier_add(t->copier, cc, list[i].import_task, list[i].segments,
                                                                   list[i].n_segments, &err) == 0)
            log_info("task %s: collection %s: bulk insert (import task %" PRId64 ") completed; re-syncing the "
                     "collection",
                     t->id, list[i].collection, list[i].import_task);
        catalog_release(cc);
    }
    task_bulk_inserts_free(list, n);
}

void task_bulk_step(task *t) {
    if (!t->env->etcd || t->round % BULK_INSERTS_EVERY) return;
    bulk_scope scope = {.catalog = t->env->catalog, .bindings = t->bindings, .spec = &t->spec};
    bulk_inserts_step(t->bulk, t->env->etcd, t->env->root_path, bulk_scope_covers, &scope);
    resync_for_imports(t);
}

void task_meta_stop(task *t) {
    meta_sync_free(t->meta);
    rbac_sync_free(t->rbac);
    milvus_close(t->meta_client);
    t->meta = NULL;
    t->rbac = NULL;
    t->meta_client = NULL;
}
