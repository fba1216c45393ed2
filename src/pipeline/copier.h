/* copier.h — a task's snapshots: the rows a covered collection held before
 * the stream began (or before an operator's re-sync), copied from the
 * source's Query API to the target as upserts, while the stream goes on.
 *
 * design.md §9. For each collection, one after the other:
 *  - waiting: asked for (a create with "snapshot", a re-sync, a bulk insert);
 *  - copying: the stream's inserts of the collection become upserts, and
 *    the copy waits until the stream has landed what it sent before that
 *    (the task's watermark passes a timestamp taken after), so no plain
 *    insert lands after a page and doubles its row; then the readers read
 *    every partition in primary-key order, page by page (`pk > last`, each
 *    page as of at least a timestamp a second behind the source's clock, and
 *    never before the pin), and write each page as one upsert, several in
 *    flight, with overlap.h's rules between the pages and the stream;
 *  - overlapping: every page landed; the copy's end is a timestamp taken
 *    after the last read, and the stream's inserts up to it stay upserts
 *    until the watermark passed it;
 *  - streaming: the stream alone keeps the collection.
 * Progress (phase, per partition the last key of the newest page landed
 * with every page before it, rows copied) is saved in the store after each
 * landed page, so a restarted task resumes where the copy stopped: pages
 * past the saved key are read again and written again as upserts.
 *
 * Trouble — a source or target out of reach, a collection not loaded on
 * the source, a refused write — is retried with backoff and shown as the
 * copy's last_error; the copy never pauses the task and never skips rows.
 *
 * Threads: copier_* are called by the task (its start, stop, the API);
 * the copier runs one thread that takes the collections in turn and, per
 * collection, up to snapshot.readers reader threads, one partition each. */
#ifndef MCDC_COPIER_H
#define MCDC_COPIER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "pipeline/overlap.h"
#include "pipeline/task.h"
#include "pipeline/task_snapshot.h"
#include "source/catalog.h"
#include "store/store.h"
#include "target/milvus_client.h"

typedef struct copier copier;

typedef struct copier_env {
    const char *task_id;
    const milvus_config *source;       /* the source's proxy */
    const copy_settings *set;
    uint32_t retry_max_ms;
    catalog *catalog;
    store *store;
    overlap *overlap;                  /* the task's, shared with its workers */
    /* A target connection for one reader (target_ops.h), and its end. */
    void *(*target_open)(void *ud, mcdc_err *err);
    void (*target_close)(void *ud, void *target);
    uint64_t (*watermark)(void *ud);   /* the task's (task.h) */
    void *ud;
} copier_env;

copier *copier_new(const copier_env *env);   /* env is copied; what it points to must outlive the copier */
void copier_free(copier *c);                 /* stops it first; NULL is fine */

/* What the store holds of the task's copies, before the task's workers
 * start: a copy that was copying makes the stream's inserts upserts again
 * (overlap.h rule 1) before any of them is sent. */
int copier_load(copier *c, mcdc_err *err);

/* Asks for a copy of source collection cc, saved at once (phase waiting).
 * MCDC_EEXIST when one is waiting, copying or overlapping. import: the
 * bulk insert (import task id) whose rows the copy is for, 0 for none;
 * remembered with the copy so that a restart does not copy for it again;
 * segments[0..n_segments): the segments it wrote, which the copy waits to
 * see served by the source's query nodes (at most COPY_SEGMENTS_WAIT_S)
 * before it reads: until then a Query does not return their rows. */
#define COPY_SEGMENTS_WAIT_S 180
int copier_add(copier *c, const catalog_coll *cc, int64_t import, const int64_t *segments, size_t n_segments,
               mcdc_err *err);
/* Whether a copy was asked for bulk insert `import` (copier_add). */
bool copier_import_seen(copier *c, int64_t import);

/* Starts / stops the copier's thread (a stopped copy resumes at the next
 * start). */
void copier_start(copier *c);
void copier_stop(copier *c);
void copier_ask_stop(copier *c);   /* without waiting */

/* Every copy this task has made or is making, at this moment. */
void copier_views(copier *c, task_copy **out, size_t *n);
/* No copy is waiting, copying or overlapping. */
bool copier_consistent(copier *c);
/* Whether source collection id has a copy waiting, copying or overlapping. */
bool copier_busy(copier *c, int64_t collection_id);

#endif
