/* catalog.h — the source Milvus's metadata, read from its etcd and kept current.
 *
 * Databases, collections (both key layouts), their fields, partitions and
 * aliases, under <root>/meta/root-coord/ (spec/etcd-meta.md §2). Loaded once
 * with a Range, then followed with a Watch from the next revision, so the
 * catalog is always a consistent etcd revision. Snapshot keys are ignored and
 * tombstone values count as deletions (§3). States: a collection without a
 * state field is Created; Dropping means dropped for a reader (§4.1, §6).
 *
 * Collections are never forgotten while the process runs: the WAL still holds
 * messages of dropped collections, and a reader behind the etcd state must
 * still be able to name them. Lookups hand out immutable, reference-counted
 * snapshots, so a reader never sees a collection half-updated. */
#ifndef MCDC_CATALOG_H
#define MCDC_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "etcd/etcd.h"
#include "schema.pb-c.h"

/* CollectionState / PartitionState values (spec/etcd-meta.md §4.1). */
enum { CATALOG_CREATED = 0, CATALOG_CREATING = 1, CATALOG_DROPPING = 2, CATALOG_DROPPED = 3 };

typedef struct catalog_partition {
    int64_t id;
    char *name;
    uint64_t created_ts;
    int state;
} catalog_partition;

/* Where a collection begins on one physical channel: the msgID of the
 * CreateCollection message rootcoord broadcast there
 * (CollectionInfo.start_positions, spec/etcd-meta.md §4.2; bytes as in
 * spec/mq-messages.md §6). */
typedef struct catalog_start {
    char *pchannel;
    uint8_t *msgid;
    size_t len;
} catalog_start;

typedef struct catalog_coll {
    _Atomic int refs;                   /* catalog_release */
    int64_t id;
    int64_t db_id;
    char *name;
    char *db_name;
    int state;                          /* CATALOG_*; DROPPED once its key is gone */
    uint64_t create_ts;
    int32_t shards_num;
    int consistency_level;
    /* Every field as stored, system fields (RowID 0, Timestamp 1) and $meta
     * included; name, description and enable_dynamic_field from the
     * collection. Owned. */
    Milvus__Proto__Schema__CollectionSchema *schema;
    const Milvus__Proto__Schema__FieldSchema *pk;   /* into schema; NULL until fields arrive */
    catalog_partition *partitions;
    size_t n_partitions;
    char **vchannels;                   /* shard i: vchannels[i] on pchannels[i] */
    char **pchannels;
    size_t n_channels;
    catalog_start *starts;
    size_t n_starts;
    char **aliases;
    size_t n_aliases;
    /* CollectionInfo.properties (collection.ttl.seconds...) as etcd holds
     * them: those given at create. Milvus 2.3 does not write a later
     * AlterCollection's to etcd (docs/guarantees.md). */
    char **prop_keys;
    char **prop_values;
    size_t n_props;
    int64_t revision;                   /* etcd revision this snapshot reflects */
} catalog_coll;

typedef struct catalog catalog;

/* Loads everything under <root_path>/meta/root-coord/ and starts following it
 * on a background thread. */
catalog *catalog_open(etcd_client *etcd, const char *root_path, mcdc_err *err);
void catalog_close(catalog *c);

/* NULL when the id was never seen. The caller releases the snapshot. */
catalog_coll *catalog_get(catalog *c, int64_t collection_id);
/* By database and collection name (or alias); only live (not dropped)
 * collections. db NULL or "" = "default". */
catalog_coll *catalog_find(catalog *c, const char *db, const char *name);
void catalog_release(catalog_coll *cc);

/* Every live collection (state Created, Creating), optionally of one db. The
 * array and its snapshots are released with catalog_release_list. */
size_t catalog_list(catalog *c, const char *db, catalog_coll ***out);
void catalog_release_list(catalog_coll **list, size_t n);
/* Like catalog_list over every db, Dropping collections included: their
 * last messages (the DropCollection among them) are still to be replayed. */
size_t catalog_list_held(catalog *c, catalog_coll ***out);

/* The start position of a collection on a pchannel, or NULL. */
const catalog_start *catalog_start_on(const catalog_coll *cc, const char *pchannel);

/* Asks etcd, now, whether it holds a record of collection `id` (any state),
 * bypassing the watch. A WAL reader that meets an id the catalog does not
 * know uses it to tell "etcd has not told us yet" (wait) from "etcd no longer
 * has it" (a collection dropped and removed before mcdc started: skip). */
int catalog_probe(catalog *c, int64_t id, bool *exists, mcdc_err *err);

/* Name of a database id into buf ("" if unknown); whether a db name exists. */
const char *catalog_db_name(catalog *c, int64_t db_id, char *buf, size_t cap);
bool catalog_has_db(catalog *c, const char *db);

/* The etcd revision the catalog reflects. */
int64_t catalog_revision(catalog *c);
/* Waits (up to timeout_ms) until collection `id` is known and past Creating
 * (Created, Dropping, or its key gone), so a reader that saw a WAL message
 * first can let etcd catch up. False if it is not so when the time is up. */
bool catalog_wait_collection(catalog *c, int64_t collection_id, uint32_t timeout_ms);

/* What the source holds beyond root-coord, read from etcd when asked (not
 * followed): a collection's live indexes (<root>/meta/field-index/{id}/,
 * spec/etcd-meta.md §2; those marked deleted are left out) and whether it is
 * loaded (querycoord-collection-loadinfo/{id}; LoadType 2 = the whole
 * collection, 1 = some partitions, listed by querycoord-partition-loadinfo).
 * Used to give a target collection mcdc creates the source's index and load
 * state, which the WAL no longer carries for a collection older than the
 * task. */
typedef struct catalog_index {
    int64_t field_id;
    char *index_name;
    size_t n_params;
    char **keys, **values;      /* the params to create it with */
} catalog_index;

int catalog_indexes(catalog *c, int64_t collection_id, catalog_index **out, size_t *n, mcdc_err *err);
void catalog_indexes_free(catalog_index *ix, size_t n);

typedef struct catalog_load {
    bool loaded;
    bool whole;                 /* LoadCollection, else these partitions */
    int32_t replicas;
    int64_t *partition_ids;
    size_t n_partitions;
} catalog_load;

int catalog_load_state(catalog *c, int64_t collection_id, catalog_load *out, mcdc_err *err);
void catalog_load_free(catalog_load *l);

/* The last watch trouble (etcd down...), or "" — the catalog retries by itself. */
void catalog_last_error(catalog *c, char *buf, size_t cap);

/* Every alias the catalog has seen, dropped ones included, to follow
 * their changes in source timestamp order (pipeline/meta_sync.h). ts is the
 * hybrid ts of the last change: AliasInfo.created_time for a create or an
 * alter (an alter rewrites it); for a drop, whose ts etcd does not keep,
 * the catalog's stamp (catalog_now_ts) of when it saw the deletion. Freed
 * with catalog_aliases_free. */
typedef struct catalog_alias {
    int64_t db_id;
    char *name;
    int64_t collection_id;      /* when dropped: the last one it named */
    uint64_t ts;
    bool dropped;
} catalog_alias;

size_t catalog_aliases(catalog *c, catalog_alias **out);
void catalog_aliases_free(catalog_alias *list, size_t n);

/* The hybrid ts of the wall clock now (physical ms << 18,
 * spec/timestamps.md §1), which stamps what etcd gives no ts for. */
uint64_t catalog_now_ts(catalog *c);

/* A partition of a snapshot by id, or NULL. */
const catalog_partition *catalog_partition_by_id(const catalog_coll *cc, int64_t partition_id);

#endif
