/* change.h — one decoded WAL message: what happened on the source, typed.
 *
 * src/model/ holds the domain types every layer shares: the source decodes
 * into them, the pipeline routes them, the target applies them. Nothing here
 * depends on any of those layers.
 *
 * A change owns the protobuf message it was decoded from and points into it
 * (names, columns, primary keys) instead of copying: an Insert's columns are
 * schema.FieldData, the very type the target's Insert/Upsert request takes,
 * so rows travel from the source WAL to the target without conversion.
 *
 * Which message types exist and on which channel: spec/mq-messages.md §5, §8. */
#ifndef MCDC_CHANGE_H
#define MCDC_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common.pb-c.h"
#include "milvus.pb-c.h"
#include "msg.pb-c.h"
#include "schema.pb-c.h"

typedef enum change_kind {
    CHANGE_INSERT,
    CHANGE_DELETE,
    CHANGE_TIMETICK,
    CHANGE_CREATE_COLLECTION,
    CHANGE_DROP_COLLECTION,
    CHANGE_CREATE_PARTITION,
    CHANGE_DROP_PARTITION,
    CHANGE_CREATE_INDEX,
    CHANGE_DROP_INDEX,
    CHANGE_LOAD_COLLECTION,
    CHANGE_RELEASE_COLLECTION,
    CHANGE_LOAD_PARTITIONS,
    CHANGE_RELEASE_PARTITIONS,
    CHANGE_FLUSH,
    CHANGE_CREATE_DATABASE,
    CHANGE_DROP_DATABASE,
    CHANGE_KIND_COUNT
} change_kind;

typedef struct change {
    change_kind kind;
    int32_t msg_type;    /* common.MsgType as on the wire */
    int64_t msg_id;      /* MsgBase.msgID: unique per DML message (spec §9.1) */
    uint64_t ts;         /* hybrid (timestamps.md §1): MsgBase.timestamp, or for
                          * Insert/Delete the largest row timestamp (decode.c) */
    uint64_t base_ts;    /* MsgBase.timestamp as written: 0 on an Upsert's Insert
                          * half and only there (spec/mq-messages.md §9.3) */
    int64_t source_id;

    /* What it applies to. Ids are 0 and names "" when the message does not
     * carry them (Insert has no db; CreateCollection has no db and its name is
     * inside the schema): the catalog fills those in. */
    int64_t db_id;
    int64_t collection_id;
    int64_t partition_id;          /* -1 on a Delete that named no partition */
    const char *db_name;
    const char *collection_name;
    const char *partition_name;
    const char *shard_name;        /* vchannel, DML only */

    size_t num_rows;               /* Insert and Delete */

    ProtobufCMessage *msg;         /* owned; the typed views below point into it */
    Milvus__Proto__Schema__CollectionSchema *schema;  /* owned; CreateCollection only */
} change;

/* Typed views (NULL when the kind differs). */
Milvus__Proto__Msg__InsertRequest *change_insert(const change *c);
Milvus__Proto__Msg__DeleteRequest *change_delete(const change *c);
Milvus__Proto__Msg__CreateCollectionRequest *change_create_collection(const change *c);

void change_free(change *c);

const char *change_kind_name(change_kind k);

/* Number of rows in one column, derived from its data and checked for shape
 * (a vector column must hold a whole number of vectors). -1 with *err set when
 * the column is malformed. */
struct mcdc_err;
long change_column_rows(const Milvus__Proto__Schema__FieldData *f, struct mcdc_err *err);

/* Number of primary keys in an IDs message. */
size_t change_ids_count(const Milvus__Proto__Schema__IDs *ids);

#endif
