/* decode.c — see decode.h. */
#include "source/decode.h"

#include <inttypes.h>
#include <string.h>

#include "base/buf.h"
#include "base/pbfield.h"

/* ---- header --------------------------------------------------------------
 * protobuf-c can only unpack whole messages, and unpacking the outer message
 * as common.MsgHeader would copy every other field (megabytes of vectors) into
 * its unknown-field list just to read two varints. So the header is read
 * here, by walking the tags until field 1. */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Skips one field body of the given wire type. */
static int skip_field(const uint8_t **p, const uint8_t *end, unsigned wt) {
    uint64_t n;
    switch (wt) {
    case 0: return read_varint(p, end, &n);
    case 1: n = 8; break;
    case 2: if (read_varint(p, end, &n)) return -1; break;
    case 5: n = 4; break;
    default: return -1;
    }
    if ((uint64_t)(end - *p) < n) return -1;
    *p += n;
    return 0;
}

int decode_header(const uint8_t *data, size_t len, int32_t *msg_type, uint64_t *ts, mcdc_err *err) {
    const uint8_t *p = data, *end = data + len;
    while (p < end) {
        uint64_t tag;
        if (read_varint(&p, end, &tag)) break;
        unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
        if (field == 1 && wt == 2) {
            uint64_t n;
            if (read_varint(&p, end, &n) || (uint64_t)(end - p) < n) break;
            const uint8_t *q = p, *qend = p + n;
            uint64_t type = 0, stamp = 0;
            while (q < qend) {
                uint64_t t2, v;
                if (read_varint(&q, qend, &t2)) return mcdc_errf(err, MCDC_EDECODE, "message header (MsgBase) is truncated");
                unsigned f2 = (unsigned)(t2 >> 3), w2 = (unsigned)(t2 & 7);
                if ((f2 == 1 || f2 == 3) && w2 == 0) {
                    if (read_varint(&q, qend, &v)) return mcdc_errf(err, MCDC_EDECODE, "message header (MsgBase) is truncated");
                    if (f2 == 1) type = v; else stamp = v;
                } else if (skip_field(&q, qend, w2)) {
                    return mcdc_errf(err, MCDC_EDECODE, "message header (MsgBase) is malformed");
                }
            }
            *msg_type = (int32_t)type;
            *ts = stamp;
            return 0;
        }
        if (skip_field(&p, end, wt)) break;
    }
    return mcdc_errf(err, MCDC_EDECODE, "no message header (field 1 MsgBase) in %zu bytes", len);
}

/* ---- the message types we understand ------------------------------------ */

typedef struct type_entry {
    int32_t msg_type;
    change_kind kind;
    const char *name;
    const ProtobufCMessageDescriptor *desc;
} type_entry;

/* MsgType numbers: spec/mq-messages.md §5. The DML channel carries msgpb
 * messages; the replicate channel carries the original milvuspb requests. */
static const type_entry TYPES[] = {
    {100, CHANGE_CREATE_COLLECTION, "CreateCollection", &milvus__proto__msg__create_collection_request__descriptor},
    {101, CHANGE_DROP_COLLECTION, "DropCollection", &milvus__proto__msg__drop_collection_request__descriptor},
    {106, CHANGE_LOAD_COLLECTION, "LoadCollection", &milvus__proto__milvus__load_collection_request__descriptor},
    {107, CHANGE_RELEASE_COLLECTION, "ReleaseCollection", &milvus__proto__milvus__release_collection_request__descriptor},
    {200, CHANGE_CREATE_PARTITION, "CreatePartition", &milvus__proto__msg__create_partition_request__descriptor},
    {201, CHANGE_DROP_PARTITION, "DropPartition", &milvus__proto__msg__drop_partition_request__descriptor},
    {205, CHANGE_LOAD_PARTITIONS, "LoadPartitions", &milvus__proto__milvus__load_partitions_request__descriptor},
    {206, CHANGE_RELEASE_PARTITIONS, "ReleasePartitions", &milvus__proto__milvus__release_partitions_request__descriptor},
    {300, CHANGE_CREATE_INDEX, "CreateIndex", &milvus__proto__milvus__create_index_request__descriptor},
    {302, CHANGE_DROP_INDEX, "DropIndex", &milvus__proto__milvus__drop_index_request__descriptor},
    {400, CHANGE_INSERT, "Insert", &milvus__proto__msg__insert_request__descriptor},
    {401, CHANGE_DELETE, "Delete", &milvus__proto__msg__delete_request__descriptor},
    {402, CHANGE_FLUSH, "Flush", &milvus__proto__milvus__flush_request__descriptor},
    {1200, CHANGE_TIMETICK, "TimeTick", &milvus__proto__msg__time_tick_msg__descriptor},
    {1801, CHANGE_CREATE_DATABASE, "CreateDatabase", &milvus__proto__milvus__create_database_request__descriptor},
    {1802, CHANGE_DROP_DATABASE, "DropDatabase", &milvus__proto__milvus__drop_database_request__descriptor},
};
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

const char *change_msg_type_name(int32_t msg_type) {
    for (size_t i = 0; i < NTYPES; i++)
        if (TYPES[i].msg_type == msg_type) return TYPES[i].name;
    return NULL;
}

/* Milvus orders DML by the rows' timestamps, not by MsgBase.timestamp: its
 * reader sets a message's EndTs to the largest of them, and an Upsert's
 * Insert half leaves MsgBase.timestamp at 0 (seen on 2.3.5; fixture
 * upsert_insert.bin). So that is the ts we report. */
static uint64_t end_ts(const uint64_t *ts, size_t n, uint64_t fallback) {
    if (n == 0) return fallback;
    uint64_t m = ts[0];
    for (size_t i = 1; i < n; i++)
        if (ts[i] > m) m = ts[i];
    return m;
}

/* Insert and Delete carry their rows' count, timestamps, shard, names and
 * ids under the same field names, in two message types: hence a macro. */
#define TAKE_DML_FIELDS(c, m)                                          \
    do {                                                               \
        (c)->num_rows = (size_t)(m)->num_rows;                         \
        (c)->ts = end_ts((m)->timestamps, (m)->n_timestamps, (c)->ts); \
        (c)->shard_name = (m)->shard_name;                             \
        (c)->db_name = (m)->db_name;                                   \
        (c)->collection_name = (m)->collection_name;                   \
        (c)->partition_name = (m)->partition_name;                     \
        (c)->db_id = (m)->db_id;                                       \
        (c)->collection_id = (m)->collection_id;                       \
        (c)->partition_id = (m)->partition_id;                         \
    } while (0)

static int check_insert(change *c, mcdc_err *err) {
    Milvus__Proto__Msg__InsertRequest *m = (Milvus__Proto__Msg__InsertRequest *)c->msg;
    if (m->version != MILVUS__PROTO__MSG__INSERT_DATA_VERSION__ColumnBased || m->n_row_data)
        return mcdc_errf(err, MCDC_EDECODE, "row-based insert (version %d, %zu row blobs) is not supported; Milvus 2.3 writes column-based inserts",
                         (int)m->version, m->n_row_data);
    if (m->n_timestamps != m->num_rows)
        return mcdc_errf(err, MCDC_EDECODE, "insert has num_rows %" PRIu64 " but %zu timestamps", m->num_rows, m->n_timestamps);
    if (m->n_fields_data == 0 && m->num_rows)
        return mcdc_errf(err, MCDC_EDECODE, "insert of %" PRIu64 " rows has no columns", m->num_rows);
    for (size_t i = 0; i < m->n_fields_data; i++) {
        const Milvus__Proto__Schema__FieldData *f = m->fields_data[i];
        long rows = change_column_rows(f, err);
        if (rows < 0) return -1;
        if ((uint64_t)rows != m->num_rows)
            return mcdc_errf(err, MCDC_EDECODE, "insert column '%s' (field %" PRId64 ") holds %ld rows but num_rows is %" PRIu64,
                             f->field_name, f->field_id, rows, m->num_rows);
    }
    TAKE_DML_FIELDS(c, m);
    return 0;
}

/* Field 12 (primary_keys) is the current form; field 9 (int64 keys) is what
 * older writers used (spec/mq-messages.md §7). The keys of field 9 move into
 * field 12, so every reader of a decoded Delete looks in field 12 only. The
 * array changes owner, not place: the message still frees it. */
static void normalise_delete_keys(Milvus__Proto__Msg__DeleteRequest *m) {
    if (m->primary_keys && m->primary_keys->id_field_case != MILVUS__PROTO__SCHEMA__IDS__ID_FIELD__NOT_SET) return;
    if (!m->primary_keys) {
        m->primary_keys = mcdc_xmalloc(sizeof *m->primary_keys);
        milvus__proto__schema__ids__init(m->primary_keys);
    }
    Milvus__Proto__Schema__LongArray *longs = mcdc_xmalloc(sizeof *longs);
    milvus__proto__schema__long_array__init(longs);
    longs->data = m->int64_primary_keys;
    longs->n_data = m->n_int64_primary_keys;
    m->int64_primary_keys = NULL;
    m->n_int64_primary_keys = 0;
    m->primary_keys->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
    m->primary_keys->int_id = longs;
}

static int check_delete(change *c, mcdc_err *err) {
    Milvus__Proto__Msg__DeleteRequest *m = (Milvus__Proto__Msg__DeleteRequest *)c->msg;
    if (m->num_rows < 0)
        return mcdc_errf(err, MCDC_EDECODE, "delete has num_rows %" PRId64, m->num_rows);
    normalise_delete_keys(m);
    size_t keys = change_ids_count(m->primary_keys);
    if (keys != (uint64_t)m->num_rows)
        return mcdc_errf(err, MCDC_EDECODE, "delete has num_rows %" PRId64 " but %zu primary keys", m->num_rows, keys);
    if (m->n_timestamps != (size_t)m->num_rows)
        return mcdc_errf(err, MCDC_EDECODE, "delete has num_rows %" PRId64 " but %zu timestamps", m->num_rows, m->n_timestamps);
    TAKE_DML_FIELDS(c, m);
    return 0;
}

static int check_create_collection(change *c, mcdc_err *err) {
    Milvus__Proto__Msg__CreateCollectionRequest *m = (Milvus__Proto__Msg__CreateCollectionRequest *)c->msg;
    c->schema = milvus__proto__schema__collection_schema__unpack(NULL, m->schema.len, m->schema.data);
    if (!c->schema)
        return mcdc_errf(err, MCDC_EDECODE, "create collection %" PRId64 ": schema (%zu bytes) does not decode as CollectionSchema",
                         m->collection_id, m->schema.len);
    if (c->schema->n_fields == 0)
        return mcdc_errf(err, MCDC_EDECODE, "create collection %" PRId64 ": schema has no fields", m->collection_id);
    c->collection_id = m->collection_id;
    c->db_id = m->db_id;
    c->db_name = m->db_name;
    /* Rootcoord leaves collectionName empty and puts the name in the schema
     * (spec/mq-messages.md §8). */
    c->collection_name = m->collection_name[0] ? m->collection_name : c->schema->name;
    c->partition_name = m->partition_name;
    return 0;
}

/* The names and ids a request carries, found through its descriptor: every
 * message type spells them the same (db_name, collection_name,
 * partition_name, db_id, collection_id, partition_id) but places them at
 * different field numbers, and most carry only some. */
static const char *string_field(const ProtobufCMessage *m, const char *name) {
    const char *v = pbfield_string(m, name);
    return v ? v : "";
}

static void fill_names(change *c) {
    c->db_name = string_field(c->msg, "db_name");
    c->collection_name = string_field(c->msg, "collection_name");
    c->partition_name = string_field(c->msg, "partition_name");
    c->db_id = pbfield_int64(c->msg, "db_id");
    c->collection_id = pbfield_int64(c->msg, "collection_id");
    c->partition_id = pbfield_int64(c->msg, "partition_id");
}

/* Every message type we read has `MsgBase msg_base = 1`; find it through the
 * descriptor rather than assume where protoc-c put it in the struct. */
static const Milvus__Proto__Common__MsgBase *msg_base_of(const ProtobufCMessage *m) {
    return (const Milvus__Proto__Common__MsgBase *)pbfield_message(m, 1, &milvus__proto__common__msg_base__descriptor);
}

int decode_change(const uint8_t *data, size_t len, change *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    int32_t msg_type;
    uint64_t ts;
    if (decode_header(data, len, &msg_type, &ts, err)) return -1;

    const type_entry *t = NULL;
    for (size_t i = 0; i < NTYPES; i++) {
        if (TYPES[i].msg_type == msg_type) {
            t = &TYPES[i];
            break;
        }
    }
    if (!t) return mcdc_errf(err, MCDC_EDECODE, "unknown message type %d (%zu bytes)", msg_type, len);

    ProtobufCMessage *m = protobuf_c_message_unpack(t->desc, NULL, len, data);
    if (!m) return mcdc_errf(err, MCDC_EDECODE, "%s message (%zu bytes) does not decode as %s", t->name, len, t->desc->name);

    const Milvus__Proto__Common__MsgBase *mb = msg_base_of(m);
    out->kind = t->kind;
    out->msg_type = msg_type;
    out->msg = m;
    out->ts = ts;
    out->base_ts = ts;
    out->db_name = out->collection_name = out->partition_name = out->shard_name = "";
    if (mb) {
        out->msg_id = mb->msg_id;
        out->source_id = mb->source_id;
    }

    int rc = 0;
    switch (t->kind) {
    case CHANGE_INSERT: rc = check_insert(out, err); break;
    case CHANGE_DELETE: rc = check_delete(out, err); break;
    case CHANGE_CREATE_COLLECTION: rc = check_create_collection(out, err); break;
    default: fill_names(out); break;
    }
    if (rc) {
        mcdc_err_prefix(err, "%s message (msgID %" PRId64 ", ts %" PRIu64 ")", t->name, out->msg_id, ts);
        change_free(out);
        return -1;
    }
    return 0;
}
