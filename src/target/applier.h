/* applier.h — turns source changes into calls on the target Milvus.
 *
 * One applier per channel worker (it owns a target connection). It is told
 * each collection's target names and source description (collection.h), makes
 * sure the target database, collection and partition exist before writing
 * into them, and keeps the target a normal Milvus: collections are created
 * through the ordinary API with the source's schema, but with autoID off so
 * the source's primary keys are kept (design.md §3, milvus-grpc.md §6).
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
#include "model/change.h"
#include "target/collection.h"
#include "target/milvus_client.h"

typedef struct applier applier;

typedef struct applier_options {
    /* Write every row to the target's default partition and leave the
     * source's partitions out (milvus-cdc's ignore_partition). */
    bool ignore_partition;
} applier_options;

applier *applier_open(const milvus_config *target, const applier_options *opt, mcdc_err *err);
void applier_close(applier *a);

/* Creates the target collection (and database, partitions) from tc, if it
 * does not exist yet; a collection it creates gets the source's index and
 * load state (tc->read_state). */
int applier_ensure_collection(applier *a, const target_collection *tc, mcdc_err *err);

/* Collection identity (pipeline/bindings.h) needs these four. The target's
 * id of collection db.name, 0 when there is none; *is_alias when the name
 * is an alias of another collection there (id 0 then). */
int applier_collection_id(applier *a, const char *db, const char *name, int64_t *id, bool *is_alias, mcdc_err *err);
/* A timestamp of the target's: every write it acknowledged before the call
 * is older (AllocTimestamp). */
int applier_timestamp(applier *a, uint64_t *ts, mcdc_err *err);
/* 0 when every partition of target collection db.name is loaded, so that a
 * count(*) of it counts every row; MCDC_EINVAL when some are not (a
 * collection loaded partition by partition counts the loaded ones only). */
int applier_all_loaded(applier *a, const char *db, const char *name, mcdc_err *err);
/* *never when target collection db.name has no segment at all, growing
 * ones included: the target gives an insert's or an upsert's rows a
 * segment in its DataCoord before it acknowledges the write, so none has
 * been acknowledged there (all it ever held may also have been dropped).
 * At once, loaded or not, without waiting for a time tick. Asked by a
 * Flush of that collection, whose reply lists its segments; so it is a
 * Flush, with what any Flush does: growing segments are sealed and
 * persisted, the target's datanodes are asked to flush the collection's
 * channels (a datanode that does not answer holds the call until its
 * deadline), and the proxy puts a Flush message on the target's replicate
 * channel. A segment does not mean a row (deletes; empty segments not yet
 * dropped): *never is false then. A bulk insert still running has no
 * segment listed yet, as its rows are not counted yet either. */
int applier_never_written(applier *a, const char *db, const char *name, bool *never, mcdc_err *err);
/* Rows in target collection db.name by count(*). as_of, a timestamp of
 * applier_timestamp's: every write acknowledged before it was taken is
 * counted; the target answers once it has taken in all of them (its next
 * time tick, up to a few hundred ms, for a timestamp just taken; at once
 * for an older one). as_of 0 (not milvus_count_where's 0, which is
 * Strong): at once, what the server has taken in so far; rows it counts
 * are there, but a write acknowledged just before may not be counted yet.
 * Counts the loaded partitions only (applier_all_loaded); fails
 * (MCDC_EINVAL or MCDC_EREMOTE) when the collection is not loaded at all. */
int applier_count(applier *a, const char *db, const char *name, uint64_t as_of, uint64_t *n, mcdc_err *err);
/* Whether existing target collection tc->db.tc->name can take the source's
 * rows as they are (schema_check.h): MCDC_EREMOTE naming both if not. */
int applier_check_schema(applier *a, const target_collection *tc, mcdc_err *err);
int applier_drop_collection(applier *a, const char *db, const char *name, mcdc_err *err);
int applier_rename_collection(applier *a, const char *db, const char *from, const char *to, mcdc_err *err);
int applier_drop_alias(applier *a, const char *db, const char *alias, mcdc_err *err);

/* One change of the DML channel; tc describes its collection. as_upsert:
 * send an Insert as Upsert (the replay window, and the Insert half of a
 * source upsert). */
int applier_apply(applier *a, const change *c, const target_collection *tc, bool as_upsert, mcdc_err *err);

/* Consecutive Inserts of one partition (parts[0..n), n >= 1) in one call:
 * their columns joined (columns.h), or one call each if they do not join. */
int applier_apply_inserts(applier *a, const change *const *parts, size_t n, const target_collection *tc,
                          bool as_upsert, mcdc_err *err);

/* Consecutive Deletes of one partition (parts[0..n), n >= 1): their keys in
 * one key list, sent as few Delete calls as the expression size allows. */
int applier_apply_deletes(applier *a, const change *const *parts, size_t n, const target_collection *tc,
                          mcdc_err *err);

/* The inserts, started but not waited for, so a channel can keep several
 * writes in flight (inserts commute; the caller keeps order where it
 * matters). The request is serialized before this returns: the parts and
 * tc may be freed at once. *out is NULL when the parts did not join and
 * were applied one by one here. The caller owns *out: milvus_write_wait
 * takes the reply; after a failure milvus_write_resend sends the same bytes
 * again, as an Upsert when asked (a retry of an ambiguous Insert);
 * milvus_write_free ends it (milvus_client.h). */
int applier_send_inserts(applier *a, const change *const *parts, size_t n, const target_collection *tc,
                         bool as_upsert, milvus_write **out, mcdc_err *err);

/* Rows read from the source's Query (a snapshot's page: copier.h), columns
 * as Query returned them, as one Upsert into the source's partition
 * `partition` (NULL: none named; also when partitions are ignored or come
 * from a partition key), started and not waited for, as
 * applier_send_inserts. An Upsert, because the stream or an earlier try
 * may have written some of these rows already. The partition is not
 * created: a missing one fails the call as not found. */
int applier_send_rows(applier *a, const target_collection *tc, const char *partition,
                      Milvus__Proto__Schema__FieldData *const *cols, size_t n_cols, uint32_t rows, milvus_write **out,
                      mcdc_err *err);

/* The target's names for a replicate-channel request, mapped by the caller. */
typedef struct target_request_names {
    const char *db;                 /* the target database */
    const char *collection;         /* the target collection; "" when the request names none */
    const char *const *flush;       /* a Flush: the target names of its collection_names, in order */
    size_t n_flush;
} target_request_names;

/* A replicate-channel request (index, load/release, flush, database), sent
 * with the target's names. A collection-scoped request needs the target
 * collection: the caller ensures it first (applier_ensure_collection). */
int applier_replay(applier *a, change *c, const target_request_names *names, mcdc_err *err);

#endif
