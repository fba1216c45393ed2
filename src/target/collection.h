/* collection.h — what the applier is told about a collection it writes into.
 *
 * The target layer knows neither the task nor the source: whoever drives the
 * applier (src/pipeline/target_desc.h) prepares this description from its
 * own sources — names already mapped to the target's, the source's schema,
 * partitions and, on request, its index and load state. The applier only
 * reads it.
 *
 * Lifetime: a description, and everything it points to, must stay valid
 * during each applier call that takes it. The applier keeps no pointer into
 * it (nor into a target_state) once that call returns: a write left in
 * flight holds its own copy of what it reports. */
#ifndef MCDC_TARGET_COLLECTION_H
#define MCDC_TARGET_COLLECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "schema.pb-c.h"

typedef struct target_partition {
    int64_t id;                 /* the source's partition id */
    const char *name;           /* the same name on the target */
} target_partition;

/* An index the source has, to build the same on a new target collection. */
typedef struct target_index {
    const char *field;          /* the indexed field's name */
    const char *name;           /* the index's name */
    const char *const *keys;    /* its parameters: n_params keys and values */
    const char *const *values;
    size_t n_params;
} target_index;

/* The source's index and load state of a collection, as of the moment it
 * was read. */
typedef struct target_state {
    const target_index *indexes;
    size_t n_indexes;
    bool loaded;
    bool whole;                 /* loaded as a collection, else these partitions: */
    const char *const *load_partitions;
    size_t n_load_partitions;
} target_state;

typedef struct target_collection {
    const char *db;             /* on the target: the task's name mapping applied */
    const char *name;
    /* The source's names and id, for messages only. */
    const char *source_db;
    const char *source_name;
    int64_t source_id;
    /* The source's schema with every field as stored (system fields and
     * $meta included) and its primary key, pointing into it. Both NULL while
     * the source has not described the collection yet: no target collection
     * is made from that. */
    const Milvus__Proto__Schema__CollectionSchema *schema;
    const Milvus__Proto__Schema__FieldSchema *pk;
    /* Created elsewhere (the pipeline's collection identity): a write
     * never creates it, and finds it gone as MCDC_ENOTFOUND. */
    bool must_exist;
    int32_t shards_num;         /* <= 0: one */
    int consistency_level;
    /* The source's live partitions: created on the target with the
     * collection (unless partitions are ignored or come from a partition key). */
    const target_partition *partitions;
    size_t n_partitions;
    /* How many partitions a partition-key collection asks for. */
    int64_t num_partitions;
    /* The source's properties at create (collection.ttl.seconds...): n_props
     * keys and values, given to a target collection mcdc creates. */
    const char *const *prop_keys;
    const char *const *prop_values;
    size_t n_props;
    /* Reads the source's current index and load state. The applier calls it
     * only right after it created the target collection (a collection older
     * than the task has its CreateIndex and Load before the task's start, so
     * the replicate channel will not bring them), and hands what it got back
     * to free_state. NULL: neither is copied. -1 with *err: nothing read. */
    int (*read_state)(void *ctx, target_state *out, mcdc_err *err);
    void (*free_state)(void *ctx, target_state *st);
    void *state_ctx;
} target_collection;

#endif
