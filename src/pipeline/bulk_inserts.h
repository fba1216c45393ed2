/* bulk_inserts.h — a task's record of bulk inserts (Import) whose rows it
 * does not replicate.
 *
 * A bulk insert writes its rows straight into segments; in Milvus 2.3 they
 * never pass through the WAL (source/imports.h), so no channel worker sees
 * them and the target misses them. What this promises: every import whose
 * rows landed (state Persisted or Completed) in a collection the task covers
 * is told once per process in the log, at WARN, with the collection, the
 * import task id, its state and row count, and stays listed for `get` and
 * /metrics until this process ends (also after the source forgets the
 * record, 24 h later: the rows are still not on the target). An import that
 * fails after its rows landed loses them on the source too and leaves the
 * list. Copying the rows is the snapshot re-sync's job, not this module's.
 *
 * The task's supervisor calls bulk_inserts_step every BULK_INSERTS_EVERY
 * rounds. bulk_inserts_copy may be called from any thread. */
#ifndef MCDC_BULK_INSERTS_H
#define MCDC_BULK_INSERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "pipeline/bindings.h"
#include "pipeline/task_snapshot.h"
#include "pipeline/task_spec.h"
#include "source/catalog.h"
#include "source/imports.h"

/* At the supervisor's 500 ms round: about every 10 s. */
#define BULK_INSERTS_EVERY 20

typedef struct bulk_inserts bulk_inserts;

/* Whether the task covers source collection id; if so "db.name" (its name
 * now) into name. */
typedef bool (*bulk_covers_fn)(void *ud, int64_t collection_id, char *name, size_t cap);

/* What a task covers: a live collection it has a binding for, whatever its
 * name now, or one its spec names. ud is a bulk_scope. */
typedef struct bulk_scope {
    catalog *catalog;
    bindings *bindings;   /* NULL before the task loaded them */
    const task_spec *spec;
} bulk_scope;
bool bulk_scope_covers(void *scope, int64_t collection_id, char *name, size_t cap);

bulk_inserts *bulk_inserts_new(const char *task_id);
void bulk_inserts_free(bulk_inserts *b);  /* NULL is fine */

/* Reads the source's import tasks and
 * applies them. A read error is logged (once until a read succeeds again)
 * and the next read comes at the next interval; it never stops the task. */
void bulk_inserts_step(bulk_inserts *b, etcd_client *etcd, const char *root_path, bulk_covers_fn covers, void *ud);

/* One read applied: new landed imports on covered collections are logged
 * and listed, listed ones get their state and rows updated, failed ones
 * leave. bulk_inserts_step's second half; the unit tests call it directly. */
void bulk_inserts_apply(bulk_inserts *b, const import_list *l, bulk_covers_fn covers, void *ud);

/* A copy of the list, in the order found (task_bulk_inserts_free it). */
void bulk_inserts_copy(bulk_inserts *b, task_bulk_insert **out, size_t *n);

#endif
