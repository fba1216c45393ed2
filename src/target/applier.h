/* applier.h — turns source changes into calls on the target Milvus.
 *
 * One applier per channel worker (it owns a target connection). It knows the
 * task's name mapping, makes sure the target database, collection and
 * partition exist before writing into them, and keeps the target a normal
 * Milvus: collections are created through the ordinary API with the source's
 * schema, but with autoID off so the source's primary keys are kept
 * (design.md §3, milvus-grpc.md §6).
 *
 * Every function is idempotent for the replay window: creating what exists,
 * dropping what is gone, and deleting absent keys all succeed; inserts are
 * sent as upserts when the caller says the change may have been applied
 * before. Errors keep the classification of milvus_client.h, so the caller
 * can retry transient ones and pause on the rest. */
#ifndef MCDC_APPLIER_H
#define MCDC_APPLIER_H

#include <stdbool.h>

#include "base/error.h"
#include "pipeline/task_spec.h"
#include "source/catalog.h"
#include "model/change.h"
#include "target/milvus_client.h"

typedef struct applier applier;

typedef struct applier_stats {
    uint64_t inserted_rows;
    uint64_t upserted_rows;
    uint64_t deleted_rows;
    uint64_t ddl;
} applier_stats;

applier *applier_open(const task_spec *spec, const milvus_config *target, mcdc_err *err);
void applier_close(applier *a);

/* Where the applier reads the source's index and load state for a target
 * collection it creates (catalog_indexes, catalog_load_state). Without it a
 * new target collection gets neither until the replicate channel brings
 * them. */
void applier_set_source(applier *a, catalog *source);

/* Creates the target collection (and database, partitions) from the source's
 * description in the catalog, if it does not exist yet. */
int applier_ensure_collection(applier *a, const catalog_coll *cc, mcdc_err *err);

/* One change of a covered collection; cc is its catalog snapshot (for the
 * db name, the PK field, the partitions). as_upsert: send an Insert as Upsert
 * (the replay window, and the Insert half of a source upsert). */
int applier_apply(applier *a, const change *c, const catalog_coll *cc, bool as_upsert, mcdc_err *err);

/* Consecutive Inserts of one partition (parts[0..n), n >= 1) in one call:
 * their columns joined (columns.h), or one call each if they do not join. */
int applier_apply_inserts(applier *a, const change *const *parts, size_t n, const catalog_coll *cc, bool as_upsert,
                          mcdc_err *err);

/* Consecutive Deletes of one partition (parts[0..n), n >= 1): their keys in
 * one key list, sent as few Delete calls as the expression size allows. */
int applier_apply_deletes(applier *a, const change *const *parts, size_t n, const catalog_coll *cc, mcdc_err *err);

/* The inserts, started but not waited for, so a channel can keep several
 * writes in flight (inserts commute; the caller keeps order where it
 * matters). The request is serialized before this returns: the parts may be
 * freed at once. *out is NULL when the parts did not join and were applied
 * one by one here. applier_write_wait takes the reply (and counts the rows
 * in the stats); after a failure, applier_write_resend sends the same bytes
 * again, as an Upsert when as_upsert (a retry of an ambiguous Insert). */
typedef struct applier_write applier_write;
int applier_send_inserts(applier *a, const change *const *parts, size_t n, const catalog_coll *cc, bool as_upsert,
                         applier_write **out, mcdc_err *err);
bool applier_write_ready(applier_write *wr);
int applier_write_wait(applier_write *wr, mcdc_err *err);
int applier_write_resend(applier_write *wr, bool as_upsert, mcdc_err *err);
size_t applier_write_bytes(const applier_write *wr);
size_t applier_write_rows(const applier_write *wr);
bool applier_write_is_upsert(const applier_write *wr);
void applier_write_free(applier_write *wr);

/* A replicate-channel request (index, load/release, flush, database). */
int applier_replay(applier *a, change *c, mcdc_err *err);

applier_stats applier_get_stats(const applier *a);

#endif
