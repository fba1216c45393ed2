/* milvus_tool.c — a command-line front to src/target/milvus_client, so that
 * the integration tests (tests/it/test_milvus_client.py) can drive every call
 * of the client against a real Milvus and check the result with pymilvus.
 *
 * usage: milvus_tool --address A [--user U --password P | --api-key K]
 *                    [--timeout MS] CMD ...
 *   version | list-dbs | create-db D | drop-db D
 *   create-coll D NAME | create-coll-str D NAME | drop-coll D NAME
 *   has-coll D NAME | describe D NAME
 *   insert D NAME N [--part P] | upsert D NAME N OFFSET [--part P]
 *   insert-str D NAME KEY... | delete D NAME PK... | delete-str D NAME KEY...
 *   delete-range D NAME FROM COUNT (int keys FROM..FROM+COUNT-1, one call)
 *   delete-str-many D NAME COUNT LEN (COUNT varchar keys "<i>\"xxx..." of LEN bytes)
 *   create-part D NAME P | drop-part D NAME P | has-part D NAME P
 *   create-alias D NAME ALIAS | alter-alias D NAME ALIAS | drop-alias D ALIAS
 *   flush D NAME | query D NAME EXPR [FIELD...]
 *   replay-create-index D NAME FIELD | load D NAME | release D NAME
 * The fixed test schema: pk (Int64, or VarChar for -str), vec (FloatVector,
 * dim 4), s (VarChar), dynamic fields on. Row i of insert is pk=i,
 * vec=[i,i,i,i], s="s<i>", {"k":i}; of upsert pk=i, vec=[i+.5]*4, s="u<i>",
 * {"k":i,"u":1}. Output is JSON on stdout. Errors are
 * "error: <code name>: <message>" on stderr; exit 0 ok, 1 error, 2 target
 * unreachable (or timed out), 64 usage. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "target/milvus_client.h"

#define EXIT_UNREACHABLE 2
#define EXIT_USAGE 64

static int usage(void) {
    fprintf(stderr,
            "usage: milvus_tool --address A [--user U --password P | --api-key K] [--timeout MS] CMD ...\n"
            "  version | list-dbs | create-db D | drop-db D\n"
            "  create-coll D NAME | create-coll-str D NAME | drop-coll D NAME | has-coll D NAME | describe D NAME\n"
            "  insert D NAME N [--part P] | upsert D NAME N OFFSET [--part P] | insert-str D NAME KEY...\n"
            "  delete D NAME PK... | delete-str D NAME KEY... | delete-range D NAME FROM COUNT\n"
            "  delete-str-many D NAME COUNT LEN\n"
            "  create-part D NAME P | drop-part D NAME P | has-part D NAME P\n"
            "  create-alias D NAME ALIAS | alter-alias D NAME ALIAS | drop-alias D ALIAS\n"
            "  flush D NAME | query D NAME EXPR [FIELD...]\n"
            "  replay-create-index D NAME FIELD | load D NAME | release D NAME\n");
    return EXIT_USAGE;
}

static int fail(const mcdc_err *err) {
    fprintf(stderr, "error: %s: %s\n", mcdc_code_name(err->code), err->msg);
    /* The tests tell "server not there" from "server said no" by this. */
    return err->code == MCDC_EUNAVAIL || err->code == MCDC_ETIMEOUT ? EXIT_UNREACHABLE : 1;
}

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%s\n", s ? s : "null");
    free(s);
    json_decref(j);
}

/* ---- schema ------------------------------------------------------------- */

static Milvus__Proto__Common__KeyValuePair *kv_new(const char *k, const char *v) {
    Milvus__Proto__Common__KeyValuePair *p = mcdc_xmalloc(sizeof *p);
    milvus__proto__common__key_value_pair__init(p);
    p->key = mcdc_xstrdup(k);
    p->value = mcdc_xstrdup(v);
    return p;
}

static Milvus__Proto__Schema__FieldSchema *field_new(const char *name, Milvus__Proto__Schema__DataType t, bool pk,
                                                     const char *param_key, const char *param_value) {
    Milvus__Proto__Schema__FieldSchema *f = mcdc_xmalloc(sizeof *f);
    milvus__proto__schema__field_schema__init(f);
    f->name = mcdc_xstrdup(name);
    f->data_type = t;
    f->is_primary_key = pk;
    f->auto_id = 0;
    if (param_key) {
        f->n_type_params = 1;
        f->type_params = mcdc_xmalloc(sizeof *f->type_params);
        f->type_params[0] = kv_new(param_key, param_value);
    }
    return f;
}

static int cmd_create_coll(milvus_client *c, const char *db, const char *name, bool str_pk) {
    Milvus__Proto__Schema__CollectionSchema s = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    Milvus__Proto__Schema__FieldSchema *fields[3];
    fields[0] = str_pk ? field_new("pk", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar, true, "max_length", "256")
                       : field_new("pk", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64, true, NULL, NULL);
    fields[1] = field_new("vec", MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector, false, "dim", "4");
    fields[2] = field_new("s", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar, false, "max_length", "256");
    s.name = (char *)name;
    s.n_fields = 3;
    s.fields = fields;
    s.enable_dynamic_field = 1;
    mcdc_err err;
    int rc = milvus_create_collection(c, db, name, &s, 1, MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded, NULL, 0,
                                      0, &err);
    /* The fields were built on the heap piece by piece; the generated free
     * walks them the same way. */
    for (size_t i = 0; i < 3; i++) milvus__proto__schema__field_schema__free_unpacked(fields[i], NULL);
    if (rc) return fail(&err);
    printf("{\"created\":true}\n");
    return 0;
}

static const char *type_name(int t) {
    switch (t) {
    case 1: return "Bool";
    case 2: return "Int8";
    case 3: return "Int16";
    case 4: return "Int32";
    case 5: return "Int64";
    case 10: return "Float";
    case 11: return "Double";
    case 20: return "String";
    case 21: return "VarChar";
    case 22: return "Array";
    case 23: return "JSON";
    case 100: return "BinaryVector";
    case 101: return "FloatVector";
    case 102: return "Float16Vector";
    case 103: return "BFloat16Vector";
    default: return "None";
    }
}

static int cmd_describe(milvus_client *c, const char *db, const char *name) {
    mcdc_err err;
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    if (milvus_describe_collection(c, db, name, &r, &err)) return fail(&err);
    json_t *o = json_object();
    json_object_set_new(o, "collection_name", json_string(r->collection_name));
    json_object_set_new(o, "db_name", json_string(r->db_name));
    json_object_set_new(o, "collection_id", json_integer(r->collection_id));
    json_object_set_new(o, "shards_num", json_integer(r->shards_num));
    json_object_set_new(o, "consistency_level", json_integer(r->consistency_level));
    json_t *fields = json_array();
    if (r->schema) {
        json_object_set_new(o, "name", json_string(r->schema->name));
        json_object_set_new(o, "enable_dynamic_field", json_boolean(r->schema->enable_dynamic_field));
        for (size_t i = 0; i < r->schema->n_fields; i++) {
            const Milvus__Proto__Schema__FieldSchema *f = r->schema->fields[i];
            json_t *jf = json_object();
            json_object_set_new(jf, "field_id", json_integer(f->field_id));
            json_object_set_new(jf, "name", json_string(f->name));
            json_object_set_new(jf, "data_type", json_integer(f->data_type));
            json_object_set_new(jf, "type_name", json_string(type_name(f->data_type)));
            json_object_set_new(jf, "is_primary_key", json_boolean(f->is_primary_key));
            json_object_set_new(jf, "auto_id", json_boolean(f->auto_id));
            json_object_set_new(jf, "is_dynamic", json_boolean(f->is_dynamic));
            json_object_set_new(jf, "is_partition_key", json_boolean(f->is_partition_key));
            json_t *tp = json_object();
            for (size_t k = 0; k < f->n_type_params; k++)
                json_object_set_new(tp, f->type_params[k]->key, json_string(f->type_params[k]->value));
            json_object_set_new(jf, "type_params", tp);
            json_array_append_new(fields, jf);
        }
    }
    json_object_set_new(o, "fields", fields);
    milvus__proto__milvus__describe_collection_response__free_unpacked(r, NULL);
    print_json(o);
    return 0;
}

/* ---- rows ----------------------------------------------------------------- */

/* The four columns of the test schema, with all their arrays owned here. */
typedef struct rows {
    Milvus__Proto__Schema__FieldData fd[4];
    Milvus__Proto__Schema__FieldData *cols[4];
    Milvus__Proto__Schema__ScalarField sc_pk, sc_s, sc_meta;
    Milvus__Proto__Schema__VectorField vf;
    Milvus__Proto__Schema__LongArray pk_long;
    Milvus__Proto__Schema__StringArray pk_str, s_str;
    Milvus__Proto__Schema__FloatArray vec;
    Milvus__Proto__Schema__JSONArray meta;
    size_t n;
} rows;

static void rows_build(rows *r, size_t n, int64_t first, char **str_keys, bool upsert) {
    memset(r, 0, sizeof *r);
    r->n = n;
    for (size_t i = 0; i < 4; i++) {
        milvus__proto__schema__field_data__init(&r->fd[i]);
        r->cols[i] = &r->fd[i];
    }
    milvus__proto__schema__scalar_field__init(&r->sc_pk);
    milvus__proto__schema__scalar_field__init(&r->sc_s);
    milvus__proto__schema__scalar_field__init(&r->sc_meta);
    milvus__proto__schema__vector_field__init(&r->vf);
    milvus__proto__schema__long_array__init(&r->pk_long);
    milvus__proto__schema__string_array__init(&r->pk_str);
    milvus__proto__schema__string_array__init(&r->s_str);
    milvus__proto__schema__float_array__init(&r->vec);
    milvus__proto__schema__jsonarray__init(&r->meta);

    Milvus__Proto__Schema__FieldData *pk = &r->fd[0], *vec = &r->fd[1], *s = &r->fd[2], *meta = &r->fd[3];
    pk->field_name = "pk";
    pk->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    pk->scalars = &r->sc_pk;
    if (str_keys) {
        pk->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
        r->sc_pk.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
        r->sc_pk.string_data = &r->pk_str;
        r->pk_str.n_data = n;
        r->pk_str.data = str_keys;
    } else {
        pk->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
        r->sc_pk.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
        r->sc_pk.long_data = &r->pk_long;
        r->pk_long.n_data = n;
        r->pk_long.data = mcdc_xcalloc(n, sizeof(int64_t));
    }

    vec->field_name = "vec";
    vec->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector;
    vec->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    vec->vectors = &r->vf;
    r->vf.dim = 4;
    r->vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    r->vf.float_vector = &r->vec;
    r->vec.n_data = 4 * n;
    r->vec.data = mcdc_xcalloc(4 * n, sizeof(float));

    s->field_name = "s";
    s->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    s->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    s->scalars = &r->sc_s;
    r->sc_s.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
    r->sc_s.string_data = &r->s_str;
    r->s_str.n_data = n;
    r->s_str.data = mcdc_xcalloc(n, sizeof(char *));

    meta->field_name = "$meta";
    meta->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__JSON;
    meta->is_dynamic = 1;
    meta->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    meta->scalars = &r->sc_meta;
    r->sc_meta.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
    r->sc_meta.json_data = &r->meta;
    r->meta.n_data = n;
    r->meta.data = mcdc_xcalloc(n, sizeof(ProtobufCBinaryData));

    for (size_t i = 0; i < n; i++) {
        int64_t v = str_keys ? (int64_t)i : first + (int64_t)i;
        if (!str_keys) r->pk_long.data[i] = v;
        for (size_t d = 0; d < 4; d++) r->vec.data[4 * i + d] = (float)v + (upsert ? 0.5f : 0.0f);
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%c%" PRId64, upsert ? 'u' : 's', v);
        r->s_str.data[i] = mcdc_xstrdup(tmp);
        int len = snprintf(tmp, sizeof tmp, upsert ? "{\"k\":%" PRId64 ",\"u\":1}" : "{\"k\":%" PRId64 "}", v);
        r->meta.data[i].data = (uint8_t *)mcdc_xstrdup(tmp);
        r->meta.data[i].len = (size_t)len;
    }
}

static void rows_free(rows *r) {
    for (size_t i = 0; i < r->n; i++) {
        free(r->s_str.data[i]);
        free(r->meta.data[i].data);
    }
    free(r->pk_long.data);
    free(r->vec.data);
    free(r->s_str.data);
    free(r->meta.data);
}

static void opt_part(int argc, char **argv, const char **part) {
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], "--part") == 0) *part = argv[i + 1];
}

static int write_rows(milvus_client *c, const char *db, const char *name, const char *part, size_t n, int64_t first,
                      char **str_keys, bool upsert) {
    rows r;
    rows_build(&r, n, first, str_keys, upsert);
    mcdc_err err;
    int rc = upsert ? milvus_upsert(c, db, name, part, r.cols, 4, (uint32_t)n, &err)
                    : milvus_insert(c, db, name, part, r.cols, 4, (uint32_t)n, &err);
    rows_free(&r);
    if (rc) return fail(&err);
    printf("{\"%s\":%zu}\n", upsert ? "upserted" : "inserted", n);
    return 0;
}

static int delete_keys(milvus_client *c, const char *db, const char *name, Milvus__Proto__Schema__IDs *ids,
                       size_t n) {
    mcdc_err err;
    if (milvus_delete_ids(c, db, name, NULL, "pk", ids, &err)) return fail(&err);
    printf("{\"deleted\":%zu}\n", n);
    return 0;
}

static int cmd_delete_int(milvus_client *c, const char *db, const char *name, int64_t *keys, size_t n) {
    Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    la.n_data = n;
    la.data = keys;
    Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
    ids.int_id = &la;
    return delete_keys(c, db, name, &ids, n);
}

static int cmd_delete_str(milvus_client *c, const char *db, const char *name, char **keys, size_t n) {
    Milvus__Proto__Schema__StringArray sa = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    sa.n_data = n;
    sa.data = keys;
    Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
    ids.str_id = &sa;
    return delete_keys(c, db, name, &ids, n);
}

/* ---- query ---------------------------------------------------------------- */

static size_t scalar_len(const Milvus__Proto__Schema__ScalarField *s) {
    switch (s->data_case) {
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA: return s->bool_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA: return s->int_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA: return s->long_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA: return s->float_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA: return s->double_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA: return s->string_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA: return s->json_data->n_data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA: return s->array_data->n_data;
    default: return 0;
    }
}

static json_t *scalar_value(const Milvus__Proto__Schema__ScalarField *s, size_t i) {
    switch (s->data_case) {
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA: return json_boolean(s->bool_data->data[i]);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA: return json_integer(s->int_data->data[i]);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA: return json_integer(s->long_data->data[i]);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA: return json_real(s->float_data->data[i]);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA: return json_real(s->double_data->data[i]);
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA: {
        json_t *j = json_string(s->string_data->data[i]);
        return j ? j : json_null();
    }
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA: {
        json_t *j = json_loadb((const char *)s->json_data->data[i].data, s->json_data->data[i].len,
                               JSON_DECODE_ANY, NULL);
        return j ? j : json_null();
    }
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA: {
        const Milvus__Proto__Schema__ScalarField *a = s->array_data->data[i];
        json_t *arr = json_array();
        for (size_t k = 0; k < scalar_len(a); k++) json_array_append_new(arr, scalar_value(a, k));
        return arr;
    }
    default: return json_null();
    }
}

static size_t column_len(const Milvus__Proto__Schema__FieldData *f) {
    if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) return scalar_len(f->scalars);
    if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && f->vectors->dim > 0 &&
        f->vectors->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR)
        return f->vectors->float_vector->n_data / (size_t)f->vectors->dim;
    return 0;
}

static json_t *column_value(const Milvus__Proto__Schema__FieldData *f, size_t i) {
    if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) return scalar_value(f->scalars, i);
    json_t *arr = json_array();
    size_t dim = (size_t)f->vectors->dim;
    for (size_t d = 0; d < dim; d++) json_array_append_new(arr, json_real(f->vectors->float_vector->data[i * dim + d]));
    return arr;
}

static int cmd_query(milvus_client *c, const char *db, const char *name, const char *expr, char **fields,
                     size_t n_fields) {
    mcdc_err err;
    Milvus__Proto__Milvus__QueryResults *r = NULL;
    if (milvus_query(c, db, name, expr, (const char *const *)fields, n_fields, &r, &err)) return fail(&err);
    size_t n = r->n_fields_data ? column_len(r->fields_data[0]) : 0;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_object();
        for (size_t k = 0; k < r->n_fields_data; k++) {
            const Milvus__Proto__Schema__FieldData *f = r->fields_data[k];
            json_t *v = i < column_len(f) ? column_value(f, i) : json_null();
            /* Dynamic keys are shown beside the fixed ones, as pymilvus
             * does, so tests compare rows the same way for both. */
            if (f->is_dynamic && json_is_object(v)) {
                json_object_update(row, v);
                json_decref(v);
            } else {
                json_object_set_new(row, f->field_name, v);
            }
        }
        json_array_append_new(out, row);
    }
    milvus__proto__milvus__query_results__free_unpacked(r, NULL);
    print_json(out);
    return 0;
}

/* ---- replayed requests ---------------------------------------------------- */

static int cmd_create_index(milvus_client *c, const char *db, const char *name, const char *field) {
    Milvus__Proto__Common__KeyValuePair p0 = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    Milvus__Proto__Common__KeyValuePair p1 = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    Milvus__Proto__Common__KeyValuePair p2 = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    p0.key = "index_type";
    p0.value = "FLAT";
    p1.key = "metric_type";
    p1.value = "L2";
    p2.key = "params";
    p2.value = "{}";
    Milvus__Proto__Common__KeyValuePair *params[3] = {&p0, &p1, &p2};
    Milvus__Proto__Milvus__CreateIndexRequest req = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)name;
    req.field_name = (char *)field;
    req.n_extra_params = 3;
    req.extra_params = params;
    mcdc_err err;
    if (milvus_replay_request(c, "CreateIndex", &req.base, &err)) return fail(&err);
    printf("{\"index\":true}\n");
    return 0;
}

static int cmd_load(milvus_client *c, const char *db, const char *name, uint32_t timeout_ms) {
    Milvus__Proto__Milvus__LoadCollectionRequest req = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)name;
    req.replica_number = 1;
    mcdc_err err;
    if (milvus_replay_request(c, "LoadCollection", &req.base, &err)) return fail(&err);
    /* LoadCollection only starts loading; a test that queries right after
     * needs the collection loaded, so wait for it here. */
    Milvus__Proto__Milvus__GetLoadStateRequest st = MILVUS__PROTO__MILVUS__GET_LOAD_STATE_REQUEST__INIT;
    st.db_name = (char *)db;
    st.collection_name = (char *)name;
    uint64_t deadline = mcdc_now_mono_ms() + (timeout_ms > 60000 ? timeout_ms : 60000);
    for (;;) {
        Milvus__Proto__Milvus__GetLoadStateResponse *r = NULL;
        if (milvus_call(c, "GetLoadState", db, &st.base, &milvus__proto__milvus__get_load_state_response__descriptor,
                        (ProtobufCMessage **)&r, &err))
            return fail(&err);
        bool loaded = r->state == MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded;
        milvus__proto__milvus__get_load_state_response__free_unpacked(r, NULL);
        if (loaded) break;
        if (mcdc_now_mono_ms() > deadline) {
            mcdc_errf(&err, MCDC_ETIMEOUT, "%s.%s: not loaded in time", db, name);
            return fail(&err);
        }
        mcdc_sleep_ms(100);
    }
    printf("{\"loaded\":true}\n");
    return 0;
}

static int cmd_release(milvus_client *c, const char *db, const char *name) {
    Milvus__Proto__Milvus__ReleaseCollectionRequest req = MILVUS__PROTO__MILVUS__RELEASE_COLLECTION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)name;
    mcdc_err err;
    if (milvus_replay_request(c, "ReleaseCollection", &req.base, &err)) return fail(&err);
    printf("{\"released\":true}\n");
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

static int print_ok(int rc, const mcdc_err *err, const char *what) {
    if (rc) return fail(err);
    printf("{\"%s\":true}\n", what);
    return 0;
}

static int run(milvus_client *c, int argc, char **argv, uint32_t timeout_ms) {
    const char *cmd = argv[0];
    mcdc_err err;
#define NEED(n) \
    do { \
        if (argc < (n) + 1) return usage(); \
    } while (0)
    if (strcmp(cmd, "version") == 0) {
        printf("{\"version\":\"%s\"}\n", milvus_server_version(c));
        return 0;
    }
    if (strcmp(cmd, "list-dbs") == 0) {
        char **names;
        size_t n;
        if (milvus_list_databases(c, &names, &n, &err)) return fail(&err);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(a, json_string(names[i]));
            free(names[i]);
        }
        free(names);
        print_json(a);
        return 0;
    }
    if (strcmp(cmd, "create-db") == 0) {
        NEED(1);
        return print_ok(milvus_create_database(c, argv[1], &err), &err, "created");
    }
    if (strcmp(cmd, "drop-db") == 0) {
        NEED(1);
        return print_ok(milvus_drop_database(c, argv[1], &err), &err, "dropped");
    }
    if (strcmp(cmd, "drop-alias") == 0) {
        NEED(2);
        return print_ok(milvus_drop_alias(c, argv[1], argv[2], &err), &err, "dropped");
    }
    NEED(2);
    const char *db = argv[1], *name = argv[2];
    if (strcmp(cmd, "create-coll") == 0) return cmd_create_coll(c, db, name, false);
    if (strcmp(cmd, "create-coll-str") == 0) return cmd_create_coll(c, db, name, true);
    if (strcmp(cmd, "drop-coll") == 0) return print_ok(milvus_drop_collection(c, db, name, &err), &err, "dropped");
    if (strcmp(cmd, "describe") == 0) return cmd_describe(c, db, name);
    if (strcmp(cmd, "has-coll") == 0) {
        bool has;
        if (milvus_has_collection(c, db, name, &has, &err)) return fail(&err);
        printf("{\"has\":%s}\n", has ? "true" : "false");
        return 0;
    }
    if (strcmp(cmd, "flush") == 0) return print_ok(milvus_flush(c, db, name, NULL, &err), &err, "flushed");
    if (strcmp(cmd, "load") == 0) return cmd_load(c, db, name, timeout_ms);
    if (strcmp(cmd, "release") == 0) return cmd_release(c, db, name);
    if (strcmp(cmd, "insert") == 0 || strcmp(cmd, "upsert") == 0) {
        bool up = cmd[0] == 'u';
        NEED(up ? 4 : 3);
        int64_t n, off = 0;
        if (parse_i64(argv[3], &n) || n < 0 || (up && parse_i64(argv[4], &off))) return usage();
        const char *part = NULL;
        opt_part(argc, argv, &part);
        return write_rows(c, db, name, part, (size_t)n, off, NULL, up);
    }
    if (strcmp(cmd, "insert-str") == 0) {
        NEED(3);
        return write_rows(c, db, name, NULL, (size_t)(argc - 3), 0, argv + 3, false);
    }
    if (strcmp(cmd, "delete") == 0) {
        NEED(3);
        size_t n = (size_t)(argc - 3);
        int64_t *keys = mcdc_xcalloc(n, sizeof *keys);
        for (size_t i = 0; i < n; i++)
            if (parse_i64(argv[3 + i], &keys[i])) {
                free(keys);
                return usage();
            }
        int rc = cmd_delete_int(c, db, name, keys, n);
        free(keys);
        return rc;
    }
    if (strcmp(cmd, "delete-range") == 0) {
        NEED(4);
        int64_t from, count;
        if (parse_i64(argv[3], &from) || parse_i64(argv[4], &count) || count < 0) return usage();
        int64_t *keys = mcdc_xcalloc((size_t)count, sizeof *keys);
        for (int64_t i = 0; i < count; i++) keys[i] = from + i;
        int rc = cmd_delete_int(c, db, name, keys, (size_t)count);
        free(keys);
        return rc;
    }
    if (strcmp(cmd, "delete-str-many") == 0) {
        NEED(4);
        int64_t count, len;
        if (parse_i64(argv[3], &count) || parse_i64(argv[4], &len) || count < 0 || len < 24) return usage();
        char **keys = mcdc_xcalloc((size_t)count + 1, sizeof *keys);
        for (int64_t i = 0; i < count; i++) {
            keys[i] = mcdc_xmalloc((size_t)len + 1);
            int k = snprintf(keys[i], (size_t)len + 1, "%" PRId64 "\"", i);
            memset(keys[i] + k, 'x', (size_t)(len - k));
            keys[i][len] = '\0';
        }
        int rc = cmd_delete_str(c, db, name, keys, (size_t)count);
        for (int64_t i = 0; i < count; i++) free(keys[i]);
        free(keys);
        return rc;
    }
    if (strcmp(cmd, "delete-str") == 0) {
        NEED(3);
        return cmd_delete_str(c, db, name, argv + 3, (size_t)(argc - 3));
    }
    if (strcmp(cmd, "query") == 0) {
        NEED(3);
        static char *all[] = {"*"};
        return argc > 4 ? cmd_query(c, db, name, argv[3], argv + 4, (size_t)(argc - 4))
                        : cmd_query(c, db, name, argv[3], all, 1);
    }
    if (strcmp(cmd, "replay-create-index") == 0) {
        NEED(3);
        return cmd_create_index(c, db, name, argv[3]);
    }
    NEED(3);
    const char *third = argv[3];
    if (strcmp(cmd, "create-part") == 0)
        return print_ok(milvus_create_partition(c, db, name, third, &err), &err, "created");
    if (strcmp(cmd, "drop-part") == 0) return print_ok(milvus_drop_partition(c, db, name, third, &err), &err, "dropped");
    if (strcmp(cmd, "has-part") == 0) {
        bool has;
        if (milvus_has_partition(c, db, name, third, &has, &err)) return fail(&err);
        printf("{\"has\":%s}\n", has ? "true" : "false");
        return 0;
    }
    if (strcmp(cmd, "create-alias") == 0)
        return print_ok(milvus_create_alias(c, db, name, third, &err), &err, "created");
    if (strcmp(cmd, "alter-alias") == 0) return print_ok(milvus_alter_alias(c, db, name, third, &err), &err, "altered");
#undef NEED
    return usage();
}

int main(int argc, char **argv) {
    milvus_config cfg = {0};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--tls") == 0) {
            cfg.tls = true;
            continue;
        }
        if (i + 1 >= argc) return usage();
        const char *val = argv[++i];
        if (strcmp(opt, "--address") == 0)
            cfg.address = val;
        else if (strcmp(opt, "--user") == 0)
            cfg.username = val;
        else if (strcmp(opt, "--password") == 0)
            cfg.password = val;
        else if (strcmp(opt, "--api-key") == 0)
            cfg.api_key = val;
        else if (strcmp(opt, "--timeout") == 0) {
            int64_t ms;
            if (parse_i64(val, &ms) || ms <= 0 || ms > UINT32_MAX) return usage();
            cfg.timeout_ms = (uint32_t)ms;
        } else
            return usage();
    }
    if (!cfg.address || i >= argc) return usage();
    mcdc_err err;
    milvus_client *c = milvus_open(&cfg, &err);
    if (!c) return fail(&err);
    int rc = run(c, argc - i, argv + i, cfg.timeout_ms);
    milvus_close(c);
    return rc;
}
