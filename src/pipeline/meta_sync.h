/* meta_sync.h — the metadata of covered collections that Milvus 2.3 keeps
 * only in etcd, never in the WAL, replicated to the target in source
 * timestamp order with the data:
 *   - aliases: create, alter (re-point), drop;
 *   - partitions created on the source, with or without rows (their drops
 *     are in the WAL, DML 201, and are the data path's business).
 *
 * The source catalog (source/catalog.h) is the desired state. meta_sync
 * keeps what it knows the target holds and, on each step, applies the
 * difference for collections that have a target, but a change only once the
 * watermark (the hybrid ts up to which every channel's data is applied) has
 * passed the change's ts: AliasInfo.created_time, PartitionInfo's
 * partition_created_timestamp, or, for an alias drop (etcd keeps no ts),
 * the catalog's stamp of when it saw it (catalog_aliases). A partition the
 * source dropped, or began to drop, before that is never created.
 *
 * The first time a collection has a target, its target aliases and
 * partitions are read, so that a restart neither repeats nor misses a
 * change. Every call is idempotent: an alias that exists on the same
 * collection is fine, one that names another collection is altered, a
 * missing one dropped is fine, an existing partition is fine.
 *
 * Aliases on the target keep the source's names, in the target database of
 * the collection they name. An alias of a collection the task does not cover
 * is left alone; an alias moved from a covered collection to one that is
 * not is dropped from the target, at the move's ts.
 *
 * Not thread-safe: one thread (the task's supervisor) steps it. */
#ifndef MCDC_META_SYNC_H
#define MCDC_META_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "source/catalog.h"
#include "target/milvus_client.h"

/* The target calls meta_sync makes, errors classified as milvus_client.h
 * says (MCDC_EEXIST, MCDC_ENOTFOUND, transient codes). A list hands out a
 * malloc'ed array of *n malloc'ed strings. */
typedef struct meta_sync_target {
    int (*list_aliases)(void *ud, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err);
    int (*create_alias)(void *ud, const char *db, const char *coll, const char *alias, mcdc_err *err);
    int (*alter_alias)(void *ud, const char *db, const char *coll, const char *alias, mcdc_err *err);
    int (*drop_alias)(void *ud, const char *db, const char *alias, mcdc_err *err);
    int (*list_partitions)(void *ud, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err);
    int (*create_partition)(void *ud, const char *db, const char *coll, const char *part, mcdc_err *err);
    void *ud;
} meta_sync_target;

/* The table over a target connection, which must outlive the meta_sync. */
meta_sync_target meta_sync_milvus_target(milvus_client *client);

typedef struct meta_sync_io {
    /* The target (db, name) that owns source collection id; false while it
     * has none yet (not created, or not covered). */
    bool (*target_of)(void *ud, int64_t source_collection_id, char *db, size_t db_cap, char *name, size_t name_cap);
    void *ud;
    /* The task's target ignores partitions (ignore_partition): none created. */
    bool ignore_partitions;
} meta_sync_io;

typedef struct meta_sync meta_sync;

/* src, and target's ud, must outlive it; both tables are copied. */
meta_sync *meta_sync_new(catalog *src, const meta_sync_target *target, const meta_sync_io *io);

/* Applies what the watermark allows. -1 with *err at the first target call
 * that fails: a transient one (mcdc_err_is_transient) is for the caller to
 * show and retry on its next step; any other should pause the task with
 * the message. What failed is tried again on the next step; what succeeded
 * is never repeated. */
int meta_sync_step(meta_sync *m, uint64_t watermark, mcdc_err *err);

void meta_sync_free(meta_sync *m);

#endif
