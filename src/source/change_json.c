/* change_json.c — see change_json.h. */
#include "source/change_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

void change_ts_wall(uint64_t ts, char out[32]) {
    uint64_t ms = mcdc_ts_physical_ms(ts);
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

static json_t *hex_json(const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(n * 2 + 1);
    if (!s) return json_null();
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * n] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *json_doc(const ProtobufCBinaryData *b) {
    json_t *j = json_loadb((const char *)b->data, b->len, JSON_DECODE_ANY, NULL);
    /* Not JSON after all: show the text rather than hide the cell. */
    return j ? j : json_stringn((const char *)b->data, b->len);
}

static json_t *scalar_cell(const Milvus__Proto__Schema__ScalarField *s, size_t i);

/* A whole ScalarField as a JSON array: one element of an Array column. */
static json_t *scalar_array(const Milvus__Proto__Schema__ScalarField *s) {
    json_t *a = json_array();
    for (size_t i = 0;; i++) {
        json_t *v = scalar_cell(s, i);
        if (!v) break;
        json_array_append_new(a, v);
    }
    return a;
}

/* NULL when i is past the end. */
static json_t *scalar_cell(const Milvus__Proto__Schema__ScalarField *s, size_t i) {
    if (!s) return NULL;
#define CELL(arr, make) return ((arr) && i < (arr)->n_data) ? make : NULL
    switch (s->data_case) {
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA: CELL(s->bool_data, json_boolean(s->bool_data->data[i]));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA: CELL(s->int_data, json_integer(s->int_data->data[i]));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA: CELL(s->long_data, json_integer(s->long_data->data[i]));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA: CELL(s->float_data, json_real(s->float_data->data[i]));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA: CELL(s->double_data, json_real(s->double_data->data[i]));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA: CELL(s->string_data, json_string(s->string_data->data[i]));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BYTES_DATA:
        CELL(s->bytes_data, hex_json(s->bytes_data->data[i].data, s->bytes_data->data[i].len));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA: CELL(s->json_data, json_doc(&s->json_data->data[i]));
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA: CELL(s->array_data, scalar_array(s->array_data->data[i]));
    default: return NULL;
    }
#undef CELL
}

json_t *change_cell_json(const Milvus__Proto__Schema__FieldData *f, size_t row) {
    if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) {
        json_t *v = scalar_cell(f->scalars, row);
        return v ? v : json_null();
    }
    const Milvus__Proto__Schema__VectorField *v = f->vectors;
    if (f->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS || !v || v->dim <= 0) return json_null();
    size_t dim = (size_t)v->dim;
    switch (v->data_case) {
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR: {
        if (!v->float_vector || (row + 1) * dim > v->float_vector->n_data) return json_null();
        json_t *a = json_array();
        for (size_t k = 0; k < dim; k++) json_array_append_new(a, json_real(v->float_vector->data[row * dim + k]));
        return a;
    }
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR: {
        size_t w = dim / 8;
        if ((row + 1) * w > v->binary_vector.len) return json_null();
        json_t *a = json_array();
        for (size_t k = 0; k < w; k++) json_array_append_new(a, json_integer(v->binary_vector.data[row * w + k]));
        return a;
    }
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR:
        if ((row + 1) * dim * 2 > v->float16_vector.len) return json_null();
        return hex_json(v->float16_vector.data + row * dim * 2, dim * 2);
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR:
        if ((row + 1) * dim * 2 > v->bfloat16_vector.len) return json_null();
        return hex_json(v->bfloat16_vector.data + row * dim * 2, dim * 2);
    default:
        return json_null();
    }
}

/* A decoded Delete holds its keys in primary_keys only (decode.h). */
static json_t *ids_json(const Milvus__Proto__Schema__IDs *ids) {
    json_t *a = json_array();
    if (ids && ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID && ids->int_id) {
        for (size_t i = 0; i < ids->int_id->n_data; i++) json_array_append_new(a, json_integer(ids->int_id->data[i]));
    } else if (ids && ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID && ids->str_id) {
        for (size_t i = 0; i < ids->str_id->n_data; i++) json_array_append_new(a, json_string(ids->str_id->data[i]));
    }
    return a;
}

static void set_str(json_t *o, const char *k, const char *v) {
    if (v && v[0]) json_object_set_new(o, k, json_string(v));
}

json_t *change_to_json(const change *c, const char *pk_field, bool with_rows) {
    json_t *o = json_object();
    char wall[32];
    change_ts_wall(c->ts, wall);
    json_object_set_new(o, "kind", json_string(change_kind_name(c->kind)));
    json_object_set_new(o, "msg_type", json_integer(c->msg_type));
    json_object_set_new(o, "msg_id", json_integer(c->msg_id));
    json_object_set_new(o, "ts", json_integer((json_int_t)c->ts));
    json_object_set_new(o, "ts_wall", json_string(wall));
    if (c->db_id) json_object_set_new(o, "db_id", json_integer(c->db_id));
    if (c->collection_id) json_object_set_new(o, "collection_id", json_integer(c->collection_id));
    if (c->partition_id) json_object_set_new(o, "partition_id", json_integer(c->partition_id));
    set_str(o, "db", c->db_name);
    set_str(o, "collection", c->collection_name);
    set_str(o, "partition", c->partition_name);
    set_str(o, "shard", c->shard_name);

    const Milvus__Proto__Msg__InsertRequest *ins = change_insert(c);
    const Milvus__Proto__Msg__DeleteRequest *del = change_delete(c);
    if (ins || del) json_object_set_new(o, "num_rows", json_integer((json_int_t)c->num_rows));
    if (del) json_object_set_new(o, "pks", ids_json(del->primary_keys));
    if (ins) {
        const Milvus__Proto__Schema__FieldData *pk = NULL;
        for (size_t i = 0; pk_field && i < ins->n_fields_data; i++)
            if (strcmp(ins->fields_data[i]->field_name, pk_field) == 0) pk = ins->fields_data[i];
        if (pk) {
            json_t *a = json_array();
            for (size_t r = 0; r < c->num_rows; r++) json_array_append_new(a, change_cell_json(pk, r));
            json_object_set_new(o, "pks", a);
        }
        if (with_rows) {
            json_t *rows = json_array();
            for (size_t r = 0; r < c->num_rows; r++) {
                json_t *row = json_object();
                for (size_t i = 0; i < ins->n_fields_data; i++)
                    json_object_set_new(row, ins->fields_data[i]->field_name, change_cell_json(ins->fields_data[i], r));
                json_array_append_new(rows, row);
            }
            json_object_set_new(o, "rows", rows);
        }
    }
    const Milvus__Proto__Schema__CollectionSchema *s = c->schema;
    if (s) {
        json_t *fields = json_array();
        for (size_t i = 0; i < s->n_fields; i++) {
            const Milvus__Proto__Schema__FieldSchema *f = s->fields[i];
            json_t *jf = json_pack("{s:I, s:s, s:i}", "id", (json_int_t)f->field_id, "name", f->name, "type", (int)f->data_type);
            if (f->is_primary_key) json_object_set_new(jf, "primary", json_true());
            if (f->auto_id) json_object_set_new(jf, "auto_id", json_true());
            if (f->is_dynamic) json_object_set_new(jf, "dynamic", json_true());
            if (f->is_partition_key) json_object_set_new(jf, "partition_key", json_true());
            for (size_t k = 0; k < f->n_type_params; k++)
                json_object_set_new(jf, f->type_params[k]->key, json_string(f->type_params[k]->value));
            json_array_append_new(fields, jf);
        }
        json_object_set_new(o, "fields", fields);
        if (s->enable_dynamic_field) json_object_set_new(o, "dynamic_field", json_true());
    }
    return o;
}
