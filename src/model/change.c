/* change.c — see change.h: the typed views, the names, and the shape checks
 * that every layer may ask of a change. */
#include "model/change.h"

#include <inttypes.h>
#include <string.h>

#include "base/error.h"

static const char *KIND_NAMES[CHANGE_KIND_COUNT] = {
    [CHANGE_INSERT] = "insert",
    [CHANGE_DELETE] = "delete",
    [CHANGE_TIMETICK] = "timetick",
    [CHANGE_CREATE_COLLECTION] = "create_collection",
    [CHANGE_DROP_COLLECTION] = "drop_collection",
    [CHANGE_CREATE_PARTITION] = "create_partition",
    [CHANGE_DROP_PARTITION] = "drop_partition",
    [CHANGE_CREATE_INDEX] = "create_index",
    [CHANGE_DROP_INDEX] = "drop_index",
    [CHANGE_LOAD_COLLECTION] = "load_collection",
    [CHANGE_RELEASE_COLLECTION] = "release_collection",
    [CHANGE_LOAD_PARTITIONS] = "load_partitions",
    [CHANGE_RELEASE_PARTITIONS] = "release_partitions",
    [CHANGE_FLUSH] = "flush",
    [CHANGE_CREATE_DATABASE] = "create_database",
    [CHANGE_DROP_DATABASE] = "drop_database",
};

const char *change_kind_name(change_kind k) {
    return (k >= 0 && k < CHANGE_KIND_COUNT) ? KIND_NAMES[k] : "unknown";
}

Milvus__Proto__Msg__InsertRequest *change_insert(const change *c) {
    return c->kind == CHANGE_INSERT ? (Milvus__Proto__Msg__InsertRequest *)c->msg : NULL;
}

Milvus__Proto__Msg__DeleteRequest *change_delete(const change *c) {
    return c->kind == CHANGE_DELETE ? (Milvus__Proto__Msg__DeleteRequest *)c->msg : NULL;
}

Milvus__Proto__Msg__CreateCollectionRequest *change_create_collection(const change *c) {
    return c->kind == CHANGE_CREATE_COLLECTION ? (Milvus__Proto__Msg__CreateCollectionRequest *)c->msg : NULL;
}

void change_free(change *c) {
    if (!c) return;
    if (c->msg) protobuf_c_message_free_unpacked(c->msg, NULL);
    if (c->schema) milvus__proto__schema__collection_schema__free_unpacked(c->schema, NULL);
    memset(c, 0, sizeof *c);
}

size_t change_ids_count(const Milvus__Proto__Schema__IDs *ids) {
    if (!ids) return 0;
    switch (ids->id_field_case) {
    case MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID: return ids->int_id ? ids->int_id->n_data : 0;
    case MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID: return ids->str_id ? ids->str_id->n_data : 0;
    default: return 0;
    }
}

#define N_OF(arr) ((arr) ? (long)(arr)->n_data : 0L)

static long scalar_rows(const Milvus__Proto__Schema__ScalarField *s) {
    if (!s) return 0;
    switch (s->data_case) {
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA: return N_OF(s->bool_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA: return N_OF(s->int_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA: return N_OF(s->long_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA: return N_OF(s->float_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA: return N_OF(s->double_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA: return N_OF(s->string_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BYTES_DATA: return N_OF(s->bytes_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA: return N_OF(s->array_data);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA: return N_OF(s->json_data);
    default: return 0; /* an empty column carries no oneof at all */
    }
}

long change_column_rows(const Milvus__Proto__Schema__FieldData *f, mcdc_err *err) {
    if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) return scalar_rows(f->scalars);
    if (f->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS) return 0;

    const Milvus__Proto__Schema__VectorField *v = f->vectors;
    if (!v || v->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA__NOT_SET) return 0;
    if (v->dim <= 0)
        return mcdc_errf(err, MCDC_EDECODE, "vector field '%s' has dim %" PRId64, f->field_name, v->dim);
    uint64_t dim = (uint64_t)v->dim, units, per_row;
    switch (v->data_case) {
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR:
        units = v->float_vector ? v->float_vector->n_data : 0;
        per_row = dim;
        break;
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR:
        if (dim % 8)
            return mcdc_errf(err, MCDC_EDECODE, "binary vector field '%s' has dim %" PRIu64 ", not a multiple of 8", f->field_name, dim);
        units = v->binary_vector.len;
        per_row = dim / 8;
        break;
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR:
        units = v->float16_vector.len;
        per_row = dim * 2;
        break;
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR:
        units = v->bfloat16_vector.len;
        per_row = dim * 2;
        break;
    default:
        return mcdc_errf(err, MCDC_EDECODE, "vector field '%s' has unknown data case %d", f->field_name, (int)v->data_case);
    }
    if (units % per_row)
        return mcdc_errf(err, MCDC_EDECODE, "vector field '%s' holds %" PRIu64 " values, not a multiple of %" PRIu64 " per row",
                         f->field_name, units, per_row);
    return (long)(units / per_row);
}

