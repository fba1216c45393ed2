/* bindings.c — see bindings.h. */
#include "pipeline/bindings.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"

/* A chain of renames that free each other's names (a→b while b→c...) is
 * followed this deep; deeper is a loop or a bug. */
#define SETTLE_DEPTH 8

/* One lock, read-write: a DDL decision holds it for writing, with the
 * target calls it makes (one decision at a time per task, and no write of
 * a collection in between); lookups, and every write to the target between
 * bindings_use_begin and _end, hold it for reading, so they run side by
 * side. Writers are preferred: a stream of writes cannot starve a Drop. */
struct bindings {
    pthread_rwlock_t lock;
    binding *list;
    size_t n, cap;
    binding_store store;
    binding_source source;
};

bindings *bindings_new(const binding_store *store, const binding_source *source) {
    bindings *r = mcdc_xcalloc(1, sizeof *r);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&r->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    r->store = *store;
    r->source = *source;
    return r;
}

void bindings_free(bindings *r) {
    if (!r) return;
    pthread_rwlock_destroy(&r->lock);
    free(r->list);
    free(r);
}

/* Lock held. */
static binding *find(bindings *r, int64_t source_id) {
    for (size_t i = 0; i < r->n; i++)
        if (r->list[i].source_id == source_id) return &r->list[i];
    return NULL;
}

/* Lock held for writing. */
static binding *add(bindings *r, const binding *b) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->list = mcdc_xrealloc(r->list, r->cap * sizeof *r->list);
    }
    r->list[r->n] = *b;
    return &r->list[r->n++];
}

void bindings_load(bindings *r, const binding *b) {
    pthread_rwlock_wrlock(&r->lock);
    binding *old = find(r, b->source_id);
    if (old) *old = *b;
    else add(r, b);
    pthread_rwlock_unlock(&r->lock);
}

bool bindings_covers(bindings *r, int64_t source_id) {
    pthread_rwlock_rdlock(&r->lock);
    binding *b = find(r, source_id);
    bool yes = b && b->state != BINDING_DROPPED;
    pthread_rwlock_unlock(&r->lock);
    return yes;
}

bool bindings_get(bindings *r, int64_t source_id, binding *out) {
    pthread_rwlock_rdlock(&r->lock);
    binding *b = find(r, source_id);
    if (b) *out = *b;
    pthread_rwlock_unlock(&r->lock);
    return b != NULL;
}

/* Saves b as changed to `next`; b keeps its old value if the store fails,
 * so memory never runs ahead of what a restart would find. */
static int save(bindings *r, binding *b, const binding *next, mcdc_err *err) {
    if (r->store.save(r->store.ud, next, err)) return -1;
    *b = *next;
    return 0;
}

/* Drops b's target collection if the target still holds the one bound,
 * and marks b dropped. A Creating binding has no id to compare: whatever
 * holds its name may not be ours, so it is left alone. */
static int drop_bound(bindings *r, binding *b, uint64_t ts, const binding_target *t, mcdc_err *err) {
    if (b->state == BINDING_LIVE) {
        int64_t id;
        if (t->lookup(t->ud, b->db, b->name, &id, err)) return -1;
        if (id && id == b->target_id) {
            if (t->drop(t->ud, b->db, b->name, err) && err->code != MCDC_ENOTFOUND) return -1;
            log_info("target: dropped collection %s.%s (id %" PRId64 "), as the source dropped collection %" PRId64,
                     b->db, b->name, id, b->source_id);
        } else if (id) {
            log_warn("target: %s.%s is no longer the collection bound to source collection %" PRId64
                     " (target id %" PRId64 ", bound %" PRId64 "); left alone",
                     b->db, b->name, b->source_id, id, b->target_id);
        }
    }
    binding next = *b;
    next.state = BINDING_DROPPED;
    next.ts = ts;
    return save(r, b, &next, err);
}

static bool same_name(const binding *b, const char *db, const char *name) {
    return strcmp(b->db, db) == 0 && strcmp(b->name, name) == 0;
}

static int rename_bound(bindings *r, binding *b, const char *to, const binding_target *t, int depth, mcdc_err *err);

/* Frees target name db.name for source collection self: every other
 * binding that holds it is settled from the source's truth now. */
static int settle_owner(bindings *r, const char *db, const char *name, int64_t self, const binding_target *t,
                        int depth, mcdc_err *err) {
    if (depth > SETTLE_DEPTH)
        return mcdc_errf(err, MCDC_EINTERNAL, "target name %s.%s: renames on the source chain deeper than %d", db, name,
                         SETTLE_DEPTH);
    for (size_t i = 0; i < r->n; i++) {
        binding *o = &r->list[i];
        if (o->source_id == self || o->state == BINDING_DROPPED || !same_name(o, db, name)) continue;
        char sdb[BINDING_NAME_MAX], sname[BINDING_NAME_MAX], tdb[BINDING_NAME_MAX], tname[BINDING_NAME_MAX];
        if (!r->source.state_of(r->source.ud, o->source_id, sdb, sname, sizeof sdb)) {
            /* Dropped on the source: its Drop may still be on its way on a
             * channel behind; applied now, that Drop becomes a no-op. */
            if (drop_bound(r, o, 0, t, err)) return -1;
            continue;
        }
        r->source.map_name(r->source.ud, sdb, sname, tdb, tname, sizeof tdb);
        if (strcmp(tdb, o->db) != 0 || strcmp(tname, o->name) == 0)
            return mcdc_errf(err, MCDC_EREMOTE,
                             "target collection %s.%s belongs to source collection %s.%s (id %" PRId64
                             "), which still exists; source collection id %" PRId64 " maps to the same target name",
                             o->db, o->name, sdb, sname, o->source_id, self);
        if (rename_bound(r, o, tname, t, depth + 1, err)) return -1;
    }
    return 0;
}

/* Renames b's target collection to `to` (same database: Milvus 2.3 renames
 * within one), after freeing that name. */
static int rename_bound(bindings *r, binding *b, const char *to, const binding_target *t, int depth, mcdc_err *err) {
    if (settle_owner(r, b->db, to, b->source_id, t, depth, err)) return -1;
    if (b->state == BINDING_LIVE) {
        int64_t id;
        if (t->lookup(t->ud, b->db, to, &id, err)) return -1;
        if (!id || id != b->target_id) {
            if (id)
                return mcdc_errf(err, MCDC_EREMOTE,
                                 "cannot rename target collection %s.%s to %s as the source did: %s.%s exists and "
                                 "mcdc did not create it",
                                 b->db, b->name, to, b->db, to);
            if (t->rename(t->ud, b->db, b->name, to, err)) return -1;
            log_info("target: renamed collection %s.%s to %s, as the source renamed collection %" PRId64, b->db,
                     b->name, to, b->source_id);
        }
    }
    binding next = *b;
    snprintf(next.name, sizeof next.name, "%s", to);
    return save(r, b, &next, err);
}

int bindings_target_of(bindings *r, const catalog_coll *cc, const binding_target *t, binding *out, bool *dropped,
                       mcdc_err *err) {
    *dropped = false;
    char tdb[BINDING_NAME_MAX], tname[BINDING_NAME_MAX];
    r->source.map_name(r->source.ud, cc->db_name, cc->name, tdb, tname, sizeof tdb);
    /* The hot path, every write: bound, live, under its name. */
    pthread_rwlock_rdlock(&r->lock);
    binding *b = find(r, cc->id);
    bool settled = b && (b->state == BINDING_DROPPED || (b->state == BINDING_LIVE && same_name(b, tdb, tname)));
    if (settled) {
        if (b->state == BINDING_DROPPED) *dropped = true;
        else *out = *b;
    }
    pthread_rwlock_unlock(&r->lock);
    if (settled) return 0;

    pthread_rwlock_wrlock(&r->lock);
    int rc = 0;
    b = find(r, cc->id);
    if (b && b->state == BINDING_DROPPED) {
        *dropped = true;
        goto out;
    }
    if (b && b->state == BINDING_LIVE) {
        /* Renamed on the source (within its database: 2.3 cannot move a
         * collection to another one, and a mapping onto another target
         * database keeps the name's database). */
        if (!same_name(b, tdb, tname) && strcmp(b->db, tdb) == 0 && cc->state == CATALOG_CREATED)
            rc = rename_bound(r, b, tname, t, 0, err);
        if (rc == 0) *out = *b;
        goto out;
    }
    char sdb[BINDING_NAME_MAX], sname[BINDING_NAME_MAX];
    if (!r->source.state_of(r->source.ud, cc->id, sdb, sname, sizeof sdb)) {
        /* Met in a replay after the source dropped it: it claims no name
         * (another collection may hold it now), and its changes are left
         * out, as they are once a Drop was applied. */
        binding gone = {.source_id = cc->id, .state = BINDING_DROPPED, .ts = cc->create_ts};
        snprintf(gone.db, sizeof gone.db, "%s", b ? b->db : tdb);
        snprintf(gone.name, sizeof gone.name, "%s", b ? b->name : tname);
        if ((rc = r->store.save(r->store.ud, &gone, err))) goto out;
        if (b) {
            *b = gone;
        } else {
            add(r, &gone);
        }
        *dropped = true;
        goto out;
    }
    if (!b) {
        if ((rc = settle_owner(r, tdb, tname, cc->id, t, 0, err))) goto out;
        binding fresh = {.source_id = cc->id, .state = BINDING_CREATING, .ts = cc->create_ts};
        snprintf(fresh.db, sizeof fresh.db, "%s", tdb);
        snprintf(fresh.name, sizeof fresh.name, "%s", tname);
        /* Saved before the target collection exists: after a crash in
         * between, the one found under the name is the one mcdc made. */
        if ((rc = r->store.save(r->store.ud, &fresh, err))) goto out;
        b = add(r, &fresh);
    } else if ((rc = settle_owner(r, b->db, b->name, cc->id, t, 0, err))) {
        goto out;
    }
    if ((rc = t->create_or_check(t->ud, cc, b->db, b->name, err))) goto out;
    int64_t id;
    if ((rc = t->lookup(t->ud, b->db, b->name, &id, err))) goto out;
    if (!id) {
        rc = mcdc_errf(err, MCDC_EUNAVAIL, "target collection %s.%s was created but is not found yet", b->db, b->name);
        goto out;
    }
    binding next = *b;
    next.target_id = id;
    next.state = BINDING_LIVE;
    if ((rc = save(r, b, &next, err))) goto out;
    *out = *b;
out:
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

int bindings_drop(bindings *r, int64_t source_id, uint64_t ts, const binding_target *t, mcdc_err *err) {
    pthread_rwlock_wrlock(&r->lock);
    binding *b = find(r, source_id);
    int rc = b && b->state != BINDING_DROPPED ? drop_bound(r, b, ts, t, err) : 0;
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

bool bindings_use_begin(bindings *r, int64_t source_id, binding *out) {
    pthread_rwlock_rdlock(&r->lock);
    binding *b = find(r, source_id);
    if (b && b->state == BINDING_LIVE) {
        *out = *b;
        return true;
    }
    pthread_rwlock_unlock(&r->lock);
    return false;
}

void bindings_use_end(bindings *r) { pthread_rwlock_unlock(&r->lock); }
