/* bindings.h — collection identity: which target collection each covered
 * source collection owns (design.md §8).
 *
 * Milvus addresses collections by name, but a name is not an identity: a
 * source collection can be dropped and another created under its name, or
 * renamed. If the target were found by name, a channel that lags behind could
 * drop the new collection with the old one's Drop, a restart across a drop
 * and re-create would write into the stale collection, and a rename would
 * send later writes into a new, empty one. So a task binds each source
 * collection id to the target collection it created (db, name and the
 * target's own id), saves the binding with its positions, and reaches the
 * target only through it:
 *   - a write of a source collection goes to its bound target collection;
 *     once the binding is dropped, the source dropped the collection, and its
 *     late rows (another channel behind) are left out, as the source's own
 *     readers no longer see them;
 *   - a Drop drops the bound target collection, and only if the target's id
 *     still is the one bound (whatever holds the name now is someone else's);
 *   - before a target name is taken, its previous owner is settled from the
 *     source's truth: dropped there → its target collection is dropped now
 *     (the Drop still on its way is then a no-op); renamed there → the target
 *     collection is renamed to follow. Because both follow the source's
 *     state rather than the order in which channels deliver, no channel
 *     needs to wait for another: the name barrier is the source's catalog;
 *   - a rename of a bound source collection renames its target collection;
 *   - a target collection that exists under the name without a binding is
 *     adopted only when its schema equals the source's; otherwise the task
 *     pauses before any write, naming both schemas.
 * The binding is saved as Creating before the target collection is created
 * and as Live after, so a crash in between adopts the collection mcdc made.
 *
 * One registry per task, shared by its workers: every decision that changes
 * a binding is taken under its lock held for writing, with the target calls
 * it needs, so two channels of one collection never both create or both
 * drop. A write to the target is made between bindings_use_begin and _end,
 * which hold the lock for reading: no Drop or re-create can come between
 * the lookup of a collection's target and the write into it (a stale copy
 * would write a dropped collection's rows into the new one of its name).
 * Lookups copy what they return.
 *
 * A source collection met after the source dropped it (a replay from an
 * older position) claims no name: its binding is saved dropped and its
 * changes are left out. */
#ifndef MCDC_BINDINGS_H
#define MCDC_BINDINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "source/catalog.h"

#define BINDING_NAME_MAX 256

enum { BINDING_CREATING = 0, BINDING_LIVE = 1, BINDING_DROPPED = 2 };

typedef struct binding {
    int64_t source_id;
    char db[BINDING_NAME_MAX];
    char name[BINDING_NAME_MAX];
    int64_t target_id;   /* 0 until created */
    int state;           /* BINDING_* */
    uint64_t ts;         /* the source change that set the state, 0 if none */
} binding;

/* Where bindings are kept (the task's store). */
typedef struct binding_store {
    int (*save)(void *ud, const binding *b, mcdc_err *err);
    void *ud;
} binding_store;

/* The source's truth about a collection id, now: *live false when it is
 * dropped or gone; else its db and name. */
typedef struct binding_source {
    bool (*state_of)(void *ud, int64_t source_id, char *db, char *name, size_t cap);
    /* The target (db, name) for a source (db, name): the task's name mapping. */
    void (*map_name)(void *ud, const char *db, const char *name, char *tdb, char *tname, size_t cap);
    void *ud;
} binding_source;

/* The target, as the registry needs it; one per calling worker. */
typedef struct binding_target {
    /* The target collection's id by name, 0 if there is none. */
    int (*lookup)(void *ud, const char *db, const char *name, int64_t *id, mcdc_err *err);
    /* Creates it from cc's schema if absent; if present, checks that its
     * schema equals cc's (MCDC_EREMOTE naming both if not). */
    int (*create_or_check)(void *ud, const catalog_coll *cc, const char *db, const char *name, mcdc_err *err);
    int (*drop)(void *ud, const char *db, const char *name, mcdc_err *err);
    int (*rename)(void *ud, const char *db, const char *from, const char *to, mcdc_err *err);
    void *ud;
} binding_target;

typedef struct bindings bindings;

/* An empty registry; bindings_load adds what the store held. */
bindings *bindings_new(const binding_store *store, const binding_source *source);
void bindings_free(bindings *r);
/* Adds one saved binding (at load, before any worker runs). */
void bindings_load(bindings *r, const binding *b);

/* Whether source collection id has a binding that is not dropped: the task
 * covers it whatever its name is now (a rename keeps a collection covered). */
bool bindings_covers(bindings *r, int64_t source_id);

/* The target collection of covered source collection cc, created (or
 * adopted) if it has none yet, renamed if the source renamed cc. *out gets
 * a copy; *dropped true (and *out untouched) when the binding is dropped:
 * the caller leaves the change out. Errors keep the target's classification
 * (transient: retry; MCDC_EREMOTE: pause). */
int bindings_target_of(bindings *r, const catalog_coll *cc, const binding_target *t, binding *out, bool *dropped,
                       mcdc_err *err);

/* A DropCollection of source collection id at ts: drops its bound target
 * collection if the target still holds that very one, then marks the
 * binding dropped. No binding, or dropped already: nothing to do. */
int bindings_drop(bindings *r, int64_t source_id, uint64_t ts, const binding_target *t, mcdc_err *err);

/* A write to source_id's target collection: true, with a copy of its live
 * binding and the lock held for reading until bindings_use_end; false (no
 * lock held) when it is not live now. Never call into the registry in
 * between (the lock is not recursive). */
bool bindings_use_begin(bindings *r, int64_t source_id, binding *out);
void bindings_use_end(bindings *r);

/* A copy of source_id's binding; false if it has none. */
bool bindings_get(bindings *r, int64_t source_id, binding *out);

#endif
