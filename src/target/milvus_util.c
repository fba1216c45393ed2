/* milvus_util.c — see milvus_util.h. */
#include "target/milvus_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/change.h"

/* merr codes of 2.3 (milvus-grpc.md §7). */
enum {
    CODE_NOT_READY = 1,
    CODE_UNAVAILABLE = 2,
    CODE_REQUEST_LIMIT = 4,
    CODE_RATE_LIMIT = 8,
    CODE_COLLECTION_NOT_FOUND = 100,
    CODE_PARTITION_NOT_FOUND = 200,
    CODE_INDEX_NOT_FOUND = 700,
    CODE_INDEX_DUPLICATE = 702,
    CODE_DATABASE_NOT_FOUND = 800,
    CODE_ALIAS_NOT_FOUND = 1600,
    CODE_ALIAS_EXISTS = 1602,
};

/* Deprecated ErrorCode values that older server paths still send alone. */
enum {
    LEGACY_COLLECTION_NOT_EXISTS = 4,
    LEGACY_RATE_LIMIT = 49,
    LEGACY_NOT_READY_SERVE = 56,
    LEGACY_NOT_READY_COORD_ACTIVATING = 57,
};

static bool contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return true;
    return false;
}

mcdc_code milvus_status_class(const char *method, int32_t error_code, int32_t code, bool retriable,
                              const char *reason) {
    /* The new code is the precise one when it is set; error_code is derived
     * from it and coarser (e.g. it says UnexpectedError for most codes). */
    if (code != 0) {
        switch (code) {
        case CODE_REQUEST_LIMIT:
        case CODE_RATE_LIMIT: return MCDC_ERATELIMIT;
        case CODE_NOT_READY:
        case CODE_UNAVAILABLE: return MCDC_EUNAVAIL;
        default: break;
        }
    } else {
        switch (error_code) {
        case LEGACY_RATE_LIMIT: return MCDC_ERATELIMIT;
        case LEGACY_NOT_READY_SERVE:
        case LEGACY_NOT_READY_COORD_ACTIVATING: return MCDC_EUNAVAIL;
        default: break;
        }
    }
    /* The server's own judgement that a retry can succeed wins over the
     * kind of error: a retried request must never be paused on. */
    if (retriable) return MCDC_EUNAVAIL;
    switch (code) {
    case CODE_COLLECTION_NOT_FOUND:
    case CODE_PARTITION_NOT_FOUND:
    case CODE_INDEX_NOT_FOUND:
    case CODE_DATABASE_NOT_FOUND:
    case CODE_ALIAS_NOT_FOUND: return MCDC_ENOTFOUND;
    case CODE_INDEX_DUPLICATE:
    case CODE_ALIAS_EXISTS: return MCDC_EEXIST;
    default: break;
    }
    if (code == 0 && error_code == LEGACY_COLLECTION_NOT_EXISTS) return MCDC_ENOTFOUND;
    /* A proxy whose own coordinators are gone (the target is stopping or
     * starting) answers with the catch-all code 65535 and a dialing error in
     * words; seen on 2.3.5: "empty grpc client: failed to connect
     * 127.0.0.1:53110 ... connection refused". That heals when the target is
     * back, so it must be retried, not paused on. */
    static const char *const HEALING[] = {"connection refused", "failed to connect", "empty grpc client",
                                          "error while dialing", "not ready", "is not serving", "stopping",
                                          "deadline exceeded", "context canceled", "connection reset", "eof"};
    for (size_t i = 0; i < sizeof HEALING / sizeof HEALING[0]; i++)
        if (contains_ci(reason, HEALING[i])) return MCDC_EUNAVAIL;
    /* Creates of databases, partitions and collections in 2.3 report a
     * duplicate with a generic code and only say so in words. */
    if (method && strncmp(method, "Create", 6) == 0 && contains_ci(reason, "already exist")) return MCDC_EEXIST;
    /* 2.3 accepts re-creating a collection with the same schema; with another
     * schema it refuses in these words. The name is taken either way, which
     * is what EEXIST means; a schema conflict then shows on the first write. */
    if (method && strcmp(method, "CreateCollection") == 0 && contains_ci(reason, "duplicate collection"))
        return MCDC_EEXIST;
    /* mcdc drops a partition only right after releasing it (applier.c), and
     * 2.3.5 can still refuse the drop as loaded for a moment after the
     * release returned (seen once in an ASan IT run: code 65535, "partition
     * cannot be dropped, partition is loaded, please release it first").
     * That heals: the retry releases again and drops. */
    if (method && strcmp(method, "DropPartition") == 0 && contains_ci(reason, "partition is loaded"))
        return MCDC_EUNAVAIL;
    return MCDC_EREMOTE;
}

void milvus_quote_str(mcdc_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    mcdc_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            mcdc_buf_putc(b, '\\');
            mcdc_buf_putc(b, ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            /* The grammar refuses raw line breaks inside a literal, and other
             * control bytes would be invisible in logs: hex keeps them exact. */
            char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            mcdc_buf_append(b, esc, sizeof esc);
        } else {
            /* Bytes >= 0x80 pass as they are: UTF-8 is legal in a literal and
             * the server's unquoting keeps it byte for byte. A single quote
             * needs no escape between double quotes (and Go's unquoting would
             * refuse \' there). */
            mcdc_buf_putc(b, ch);
        }
    }
    mcdc_buf_putc(b, '"');
}

size_t milvus_expr_ids(mcdc_buf *b, const char *pk, const Milvus__Proto__Schema__IDs *ids, size_t start,
                       size_t max_bytes) {
    size_t n = change_ids_count(ids);
    size_t base = b->len;
    mcdc_buf_printf(b, "%s in [", pk);
    size_t taken = 0;
    for (size_t i = start; i < n; i++) {
        size_t before = b->len;
        if (taken) mcdc_buf_append(b, ",", 1);
        if (ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID) {
            mcdc_buf_printf(b, "%" PRId64, ids->int_id->data[i]);
        } else {
            const char *s = ids->str_id->data[i] ? ids->str_id->data[i] : "";
            milvus_quote_str(b, s, strlen(s));
        }
        /* +1 for the closing bracket. */
        if (taken && b->len - base + 1 > max_bytes) {
            b->len = before;
            break;
        }
        taken++;
    }
    mcdc_buf_append(b, "]", 1);
    return taken;
}

void milvus_query_req_init(milvus_query_req *q, const char *db, const char *coll, const char *const *partitions,
                           size_t n_partitions, const char *expr, const char *const *fields, size_t n_fields,
                           int64_t limit) {
    memset(q, 0, sizeof *q);
    q->req = (Milvus__Proto__Milvus__QueryRequest)MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
    q->req.db_name = (char *)(db ? db : "");
    q->req.collection_name = (char *)coll;
    q->req.expr = (char *)(expr ? expr : "");
    q->req.n_output_fields = n_fields;
    q->req.output_fields = (char **)fields;
    q->req.n_partition_names = n_partitions;
    q->req.partition_names = (char **)partitions;
    /* Strong unless the caller names a guarantee: the collection's default
     * level could be Bounded, which would read an unknown moment back. */
    q->req.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Strong;
    q->req.use_default_consistency = 0;
    if (limit > 0) {
        q->limit = (Milvus__Proto__Common__KeyValuePair)MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
        snprintf(q->limit_text, sizeof q->limit_text, "%" PRId64, limit);
        q->limit.key = "limit";
        q->limit.value = q->limit_text;
        q->params[0] = &q->limit;
        q->req.query_params = q->params;
        q->req.n_query_params = 1;
    }
}

int milvus_query_page_check(const char *expr, int64_t limit, mcdc_err *err) {
    if (limit < 0) return mcdc_errf(err, MCDC_EINVAL, "limit %" PRId64 " is negative", limit);
    if (limit > MILVUS_QUERY_WINDOW)
        return mcdc_errf(err, MCDC_EINVAL, "limit %" PRId64 " is above Milvus's query window of %d rows", limit,
                         MILVUS_QUERY_WINDOW);
    if ((!expr || !*expr) && limit == 0)
        return mcdc_errf(err, MCDC_EINVAL, "an empty expression needs a limit (Milvus refuses it without one)");
    return 0;
}

static const char *data_type_name(int t) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&milvus__proto__schema__data_type__descriptor, t);
    return v ? v->name : "unknown";
}

/* Where a column keeps its values, in the proto's words. */
static const char *column_case(const Milvus__Proto__Schema__FieldData *f) {
    const ProtobufCMessageDescriptor *d = NULL;
    unsigned number = 0;
    if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS && f->scalars) {
        d = &milvus__proto__schema__scalar_field__descriptor;
        number = (unsigned)f->scalars->data_case;
    } else if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && f->vectors) {
        d = &milvus__proto__schema__vector_field__descriptor;
        number = (unsigned)f->vectors->data_case;
    }
    const ProtobufCFieldDescriptor *m = d ? protobuf_c_message_descriptor_get_field(d, number) : NULL;
    return m ? m->name : "no data";
}

int milvus_count_reply(const Milvus__Proto__Milvus__QueryResults *r, uint64_t *n, mcdc_err *err) {
    *n = 0;
    if (r->n_fields_data != 1)
        return mcdc_errf(err, MCDC_EREMOTE, "count(*) reply holds %zu columns, not one", r->n_fields_data);
    const Milvus__Proto__Schema__FieldData *f = r->fields_data[0];
    const char *name = f->field_name ? f->field_name : "";
    if (strcmp(name, "count(*)") != 0)
        return mcdc_errf(err, MCDC_EREMOTE, "count(*) reply holds column '%s', not 'count(*)'", name);
    if (f->type != MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64 ||
        f->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS || !f->scalars ||
        f->scalars->data_case != MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA || !f->scalars->long_data)
        return mcdc_errf(err, MCDC_EREMOTE, "count(*) reply column is %s (type %d) in %s, not Int64 in long_data",
                         data_type_name((int)f->type), (int)f->type, column_case(f));
    const Milvus__Proto__Schema__LongArray *a = f->scalars->long_data;
    if (a->n_data != 1) return mcdc_errf(err, MCDC_EREMOTE, "count(*) reply holds %zu values, not one", a->n_data);
    if (a->data[0] < 0) return mcdc_errf(err, MCDC_EREMOTE, "count(*) reply is %" PRId64, a->data[0]);
    *n = (uint64_t)a->data[0];
    return 0;
}

/* One entry of a Flush reply's lists: its ids count when it names coll. */
static void add_listed(const char *key, const Milvus__Proto__Schema__LongArray *ids, const char *coll, bool *named,
                       size_t *segments) {
    if (!key || strcmp(key, coll) != 0) return;
    *named = true;
    if (ids) *segments += ids->n_data;
}

int milvus_flush_reply_segments(const Milvus__Proto__Milvus__FlushResponse *r, const char *coll, size_t *segments,
                                mcdc_err *err) {
    *segments = 0;
    bool sealed = false, flushed = false;
    for (size_t i = 0; i < r->n_coll_seg_ids; i++)
        add_listed(r->coll_seg_ids[i]->key, r->coll_seg_ids[i]->value, coll, &sealed, segments);
    for (size_t i = 0; i < r->n_flush_coll_seg_ids; i++)
        add_listed(r->flush_coll_seg_ids[i]->key, r->flush_coll_seg_ids[i]->value, coll, &flushed, segments);
    /* Both lists are keyed by the name asked for, present even when empty
     * (2.3.5); a reply without them says nothing about the collection, and
     * "nothing" must not pass as "no segment". */
    if (!sealed || !flushed) {
        *segments = 0;
        return mcdc_errf(err, MCDC_EREMOTE, "the reply does not name %s in its %s", coll,
                         !sealed && !flushed ? "segment lists" : !sealed ? "sealed segments" : "flushed segments");
    }
    return 0;
}
