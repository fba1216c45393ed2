/* test_decode.c — the WAL decoder on real messages written by Milvus 2.3.5.
 *
 * The fixtures in tests/fixtures/kafka were produced by
 * tests/fixtures/make_fixtures.py from the real stack; the values checked
 * here are the ones that script wrote (its row() function). Then the decoder
 * is fed broken variants of them: every one must be refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "base/buf.h"
#include "source/change_json.h"
#include "source/decode.h"

static uint8_t *load(const char *name, size_t *len) { return fixture_load("kafka", name, len); }

static void decode_fixture(const char *name, change *c) {
    size_t len;
    uint8_t *p = load(name, &len);
    mcdc_err err = {0};
    int rc = decode_change(p, len, c, &err);
    free(p);
    if (rc) fail_msg("%s: %s", name, err.msg);
}

static const Milvus__Proto__Schema__FieldData *column(const Milvus__Proto__Msg__InsertRequest *m, const char *name) {
    for (size_t i = 0; i < m->n_fields_data; i++)
        if (strcmp(m->fields_data[i]->field_name, name) == 0) return m->fields_data[i];
    fail_msg("no column %s", name);
    return NULL;
}

static const Milvus__Proto__Schema__ScalarField *scalars(const Milvus__Proto__Msg__InsertRequest *m, const char *name,
                                                           Milvus__Proto__Schema__DataType type) {
    const Milvus__Proto__Schema__FieldData *f = column(m, name);
    assert_int_equal(f->type, type);
    assert_int_equal(f->field_case, MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS);
    return f->scalars;
}

/* ---- the good messages ------------------------------------------------------- */

static void test_create_collection_every_field_type(void **state) {
    (void)state;
    change c;
    decode_fixture("create_collection_all_types", &c);
    assert_int_equal(c.kind, CHANGE_CREATE_COLLECTION);
    assert_int_equal(c.msg_type, 100);
    assert_true(c.ts > 0);
    assert_true(c.collection_id > 0);
    assert_memory_equal(c.collection_name, "fx_all_", 7); /* from the schema: the message has no name */
    const Milvus__Proto__Schema__CollectionSchema *s = c.schema;
    assert_non_null(s);
    assert_true(s->enable_dynamic_field);
    static const struct {
        int64_t id;
        const char *name;
        int type;
    } want[] = {
        {100, "pk", 5},       {101, "f_bool", 1},   {102, "f_i8", 2},     {103, "f_i16", 3},
        {104, "f_i32", 4},    {105, "f_i64", 5},    {106, "f_float", 10}, {107, "f_double", 11},
        {108, "f_str", 21},   {109, "f_json", 23},  {110, "vec", 101},    {111, "$meta", 23},
        {0, "RowID", 5},      {1, "Timestamp", 5},
    };
    assert_int_equal(s->n_fields, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < s->n_fields; i++) {
        assert_int_equal(s->fields[i]->field_id, want[i].id);
        assert_string_equal(s->fields[i]->name, want[i].name);
        assert_int_equal(s->fields[i]->data_type, want[i].type);
        assert_int_equal(s->fields[i]->is_primary_key, i == 0);
        assert_int_equal(s->fields[i]->is_dynamic, want[i].id == 111);
    }
    assert_string_equal(s->fields[10]->type_params[0]->key, "dim");
    assert_string_equal(s->fields[10]->type_params[0]->value, "4");
    assert_string_equal(s->fields[8]->type_params[0]->key, "max_length");
    assert_string_equal(s->fields[8]->type_params[0]->value, "64");
    const Milvus__Proto__Msg__CreateCollectionRequest *m = change_create_collection(&c);
    assert_int_equal(m->n_physical_channel_names, 1);
    assert_int_equal(m->n_virtual_channel_names, 1);
    assert_memory_equal(m->physical_channel_names[0], "by-dev-rootcoord-dml_", 21);
    assert_int_equal(m->n_partition_ids, 1);
    change_free(&c);
}

static void test_insert_every_field_type(void **state) {
    (void)state;
    change c;
    decode_fixture("insert_all_types", &c);
    assert_int_equal(c.kind, CHANGE_INSERT);
    assert_int_equal(c.num_rows, 5);
    assert_true(c.msg_id > 0);
    assert_memory_equal(c.collection_name, "fx_all_", 7);
    assert_string_equal(c.partition_name, "_default");
    assert_memory_equal(c.shard_name, "by-dev-rootcoord-dml_", 21);
    const Milvus__Proto__Msg__InsertRequest *m = change_insert(&c);
    assert_non_null(m);
    assert_int_equal(c.ts, m->timestamps[0]);
    assert_int_equal(m->n_fields_data, 12); /* 11 declared + $meta */

    const Milvus__Proto__Schema__ScalarField *pk = scalars(m, "pk", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64);
    const Milvus__Proto__Schema__ScalarField *fb = scalars(m, "f_bool", MILVUS__PROTO__SCHEMA__DATA_TYPE__Bool);
    const Milvus__Proto__Schema__ScalarField *i8 = scalars(m, "f_i8", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int8);
    const Milvus__Proto__Schema__ScalarField *i16 = scalars(m, "f_i16", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int16);
    const Milvus__Proto__Schema__ScalarField *i32 = scalars(m, "f_i32", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int32);
    const Milvus__Proto__Schema__ScalarField *i64 = scalars(m, "f_i64", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64);
    const Milvus__Proto__Schema__ScalarField *ff = scalars(m, "f_float", MILVUS__PROTO__SCHEMA__DATA_TYPE__Float);
    const Milvus__Proto__Schema__ScalarField *fd = scalars(m, "f_double", MILVUS__PROTO__SCHEMA__DATA_TYPE__Double);
    const Milvus__Proto__Schema__ScalarField *fs = scalars(m, "f_str", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar);
    const Milvus__Proto__Schema__ScalarField *fj = scalars(m, "f_json", MILVUS__PROTO__SCHEMA__DATA_TYPE__JSON);
    const Milvus__Proto__Schema__FieldData *meta = column(m, "$meta");
    const Milvus__Proto__Schema__FieldData *vec = column(m, "vec");
    assert_true(meta->is_dynamic);
    assert_int_equal(vec->type, MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector);
    assert_int_equal(vec->vectors->dim, 4);
    assert_int_equal(vec->vectors->float_vector->n_data, 20);

    for (int i = 0; i < 5; i++) {
        char buf[64];
        assert_int_equal(pk->long_data->data[i], 1000 + i);
        assert_int_equal(fb->bool_data->data[i], i % 2 == 0);
        /* Int8 and Int16 travel as int32 (milvus-grpc.md §2) */
        assert_int_equal(i8->int_data->data[i], -i);
        assert_int_equal(i16->int_data->data[i], 300 * i);
        assert_int_equal(i32->int_data->data[i], 70000 * i);
        assert_int_equal(i64->long_data->data[i], (1LL << 40) + i);
        assert_true(ff->float_data->data[i] == (float)i + 0.5f);
        assert_true(fd->double_data->data[i] == i * 1.25);
        snprintf(buf, sizeof buf, "row-%d-\xc3\xa9", i);
        assert_string_equal(fs->string_data->data[i], buf);
        snprintf(buf, sizeof buf, "{\"i\":%d,\"tags\":[\"a\",\"b\"]}", i);
        json_t *got = json_loadb((const char *)fj->json_data->data[i].data, fj->json_data->data[i].len, 0, NULL);
        json_t *exp = json_loads(buf, 0, NULL);
        assert_true(json_equal(got, exp));
        json_decref(got);
        json_decref(exp);
        json_t *dyn = change_cell_json(meta, (size_t)i);
        snprintf(buf, sizeof buf, "x%d", i);
        assert_string_equal(json_string_value(json_object_get(dyn, "extra")), buf);
        json_decref(dyn);
        const float *v = vec->vectors->float_vector->data + 4 * i;
        assert_true(v[0] == (float)i && v[1] == (float)i + 0.25f && v[2] == -(float)i && v[3] == 0.5f);
        assert_int_equal(m->timestamps[i], c.ts); /* one request, one ts */
    }
    change_free(&c);
}

static void test_delete_int64_keys(void **state) {
    (void)state;
    change c;
    decode_fixture("delete_int64", &c);
    assert_int_equal(c.kind, CHANGE_DELETE);
    assert_int_equal(c.num_rows, 2);
    assert_int_equal(c.partition_id, -1); /* no partition named */
    const Milvus__Proto__Msg__DeleteRequest *m = change_delete(&c);
    assert_int_equal(m->primary_keys->id_field_case, MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID);
    assert_int_equal(change_ids_count(m->primary_keys), 2);
    assert_int_equal(m->primary_keys->int_id->data[0], 1001);
    assert_int_equal(m->primary_keys->int_id->data[1], 1003);
    assert_int_equal(c.ts, m->timestamps[0]);
    change_free(&c);
}

/* An upsert is an Insert and a Delete with the same row timestamp; the
 * Insert's MsgBase.timestamp is 0, so the ts must come from the rows. */
/* A plain Insert carries its ts in MsgBase too, which is how the channel
 * worker tells it from an Upsert's Insert half and applies it at once. */
static void test_plain_insert_has_base_ts(void **state) {
    (void)state;
    const char *names[] = {"insert_all_types", "insert_autoid", "insert_varchar_binvec", "insert_bench_dim128"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        change c;
        decode_fixture(names[i], &c);
        assert_int_equal(c.kind, CHANGE_INSERT);
        assert_true(c.base_ts > 0);
        assert_int_equal(c.base_ts, change_insert(&c)->msg_base->timestamp);
        change_free(&c);
    }
}

static void test_upsert_pair_shares_timestamp(void **state) {
    (void)state;
    change ins, del;
    decode_fixture("upsert_insert", &ins);
    decode_fixture("upsert_delete", &del);
    const Milvus__Proto__Msg__InsertRequest *m = change_insert(&ins);
    assert_int_equal(m->msg_base->timestamp, 0);
    assert_int_equal(ins.base_ts, 0); /* the only kind of Insert the worker must hold for a tick */
    assert_true(ins.ts > 0);
    assert_int_equal(ins.ts, del.ts);
    assert_string_equal(ins.shard_name, del.shard_name);
    assert_int_equal(ins.num_rows, 1);
    assert_int_equal(scalars(m, "pk", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64)->long_data->data[0], 1002);
    assert_string_equal(scalars(m, "f_str", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar)->string_data->data[0], "upserted");
    assert_int_equal(change_delete(&del)->primary_keys->int_id->data[0], 1002);
    assert_true(del.partition_id > 0); /* an upsert's delete names the partition */
    change_free(&ins);
    change_free(&del);
}

static void test_varchar_keys_and_binary_vectors(void **state) {
    (void)state;
    change c;
    decode_fixture("insert_varchar_binvec", &c);
    const Milvus__Proto__Msg__InsertRequest *m = change_insert(&c);
    assert_int_equal(c.num_rows, 3);
    const Milvus__Proto__Schema__ScalarField *id = scalars(m, "id", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar);
    const Milvus__Proto__Schema__FieldData *bv = column(m, "bvec");
    assert_int_equal(bv->type, MILVUS__PROTO__SCHEMA__DATA_TYPE__BinaryVector);
    assert_int_equal(bv->vectors->dim, 16);
    assert_int_equal(bv->vectors->binary_vector.len, 6);
    for (int i = 0; i < 3; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        assert_string_equal(id->string_data->data[i], k);
        assert_int_equal(bv->vectors->binary_vector.data[2 * i], i);
        assert_int_equal(bv->vectors->binary_vector.data[2 * i + 1], 255 - i);
    }
    change_free(&c);

    decode_fixture("delete_varchar", &c);
    const Milvus__Proto__Msg__DeleteRequest *d = change_delete(&c);
    assert_int_equal(d->primary_keys->id_field_case, MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID);
    assert_int_equal(c.num_rows, 1);
    assert_string_equal(d->primary_keys->str_id->data[0], "k1");
    change_free(&c);
}

static void test_autoid_insert_carries_generated_keys(void **state) {
    (void)state;
    change c;
    decode_fixture("insert_autoid", &c);
    const Milvus__Proto__Msg__InsertRequest *m = change_insert(&c);
    const Milvus__Proto__Schema__ScalarField *pk = scalars(m, "pk", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64);
    assert_int_equal(pk->long_data->n_data, 3);
    for (int i = 0; i < 3; i++) assert_true(pk->long_data->data[i] > 0);
    assert_true(pk->long_data->data[0] < pk->long_data->data[1]);
    const Milvus__Proto__Schema__FieldData *vec = column(m, "vec");
    assert_true(vec->vectors->float_vector->data[4] == 4.5f);
    change_free(&c);
}

static void test_ddl_on_dml_channels(void **state) {
    (void)state;
    change c;
    decode_fixture("drop_collection", &c);
    assert_int_equal(c.kind, CHANGE_DROP_COLLECTION);
    assert_memory_equal(c.collection_name, "fx_auto_", 8);
    assert_true(c.collection_id > 0 && c.ts > 0);
    change_free(&c);
    decode_fixture("drop_partition", &c);
    assert_int_equal(c.kind, CHANGE_DROP_PARTITION);
    assert_string_equal(c.partition_name, "p1");
    assert_true(c.partition_id > 0 && c.collection_id > 0);
    change_free(&c);
    decode_fixture("timetick", &c);
    assert_int_equal(c.kind, CHANGE_TIMETICK);
    assert_true(c.ts > 0);
    change_free(&c);
}

static void test_replicate_channel_requests(void **state) {
    (void)state;
    change c;
    decode_fixture("replicate_create_index", &c);
    assert_int_equal(c.kind, CHANGE_CREATE_INDEX);
    const Milvus__Proto__Milvus__CreateIndexRequest *ci = (const void *)c.msg;
    assert_string_equal(ci->db_name, "default");
    assert_memory_equal(ci->collection_name, "fx_all_", 7);
    assert_string_equal(ci->field_name, "vec");
    assert_int_equal(ci->n_extra_params, 3);
    assert_string_equal(ci->extra_params[0]->key, "index_type");
    assert_string_equal(ci->extra_params[0]->value, "IVF_FLAT");
    assert_string_equal(ci->extra_params[2]->value, "{\"nlist\":8}");
    assert_int_equal(c.ts, c.msg_id); /* replicate messages use the ts as msgID */
    change_free(&c);

    static const struct {
        const char *fixture;
        change_kind kind;
        const char *coll_prefix;
    } more[] = {
        {"replicate_load_collection", CHANGE_LOAD_COLLECTION, "fx_all_"},
        {"replicate_release_collection", CHANGE_RELEASE_COLLECTION, "fx_all_"},
        {"replicate_drop_index", CHANGE_DROP_INDEX, "fx_all_"},
        {"replicate_flush", CHANGE_FLUSH, NULL},
        {"replicate_create_database", CHANGE_CREATE_DATABASE, NULL},
        {"replicate_drop_database", CHANGE_DROP_DATABASE, NULL},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        decode_fixture(more[i].fixture, &c);
        assert_int_equal(c.kind, more[i].kind);
        if (more[i].coll_prefix) assert_memory_equal(c.collection_name, more[i].coll_prefix, strlen(more[i].coll_prefix));
        if (c.kind == CHANGE_FLUSH) {
            const Milvus__Proto__Milvus__FlushRequest *f = (const void *)c.msg;
            assert_int_equal(f->n_collection_names, 1);
            assert_memory_equal(f->collection_names[0], "fx_all_", 7);
        }
        if (c.kind == CHANGE_CREATE_DATABASE || c.kind == CHANGE_DROP_DATABASE) assert_memory_equal(c.db_name, "fx_db_", 6);
        change_free(&c);
    }
}

static void test_header_only(void **state) {
    (void)state;
    size_t len;
    uint8_t *p = load("timetick", &len);
    int32_t type;
    uint64_t ts;
    assert_int_equal(decode_header(p, len, &type, &ts, NULL), 0);
    assert_int_equal(type, 1200);
    change c;
    decode_fixture("timetick", &c);
    assert_int_equal(ts, c.ts);
    change_free(&c);
    free(p);
}

static void test_json_rendering(void **state) {
    (void)state;
    change c;
    decode_fixture("insert_all_types", &c);
    json_t *j = change_to_json(&c, "pk", true);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "insert");
    assert_int_equal(json_array_size(json_object_get(j, "pks")), 5);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "pks"), 4)), 1004);
    json_t *row1 = json_array_get(json_object_get(j, "rows"), 1);
    assert_int_equal(json_integer_value(json_object_get(row1, "f_i16")), 300);
    assert_true(json_real_value(json_array_get(json_object_get(row1, "vec"), 1)) == 1.25);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(row1, "f_json"), "i")), 1);
    const char *wall = json_string_value(json_object_get(j, "ts_wall"));
    assert_int_equal(strlen(wall), 24);
    assert_memory_equal(wall, "20", 2);
    json_decref(j);
    change_free(&c);
}

/* ---- broken input is refused, with a reason ------------------------------------ */

static void expect_refused(const uint8_t *p, size_t len, const char *needle) {
    change c;
    mcdc_err err = {0};
    assert_int_equal(decode_change(p, len, &c, &err), -1);
    assert_int_equal(err.code, MCDC_EDECODE);
    if (!strstr(err.msg, needle)) fail_msg("error '%s' does not mention '%s'", err.msg, needle);
    assert_null(c.msg);
}

static void test_truncated_and_garbage_are_refused(void **state) {
    (void)state;
    size_t len;
    uint8_t *p = load("insert_all_types", &len);
    /* Every cut of a real insert is refused or decodes to a whole, smaller
     * message — never a crash, never a half-checked insert. */
    for (size_t cut = 0; cut < len; cut++) {
        change c;
        mcdc_err err;
        if (decode_change(p, cut, &c, &err) == 0) {
            assert_int_equal(c.kind, CHANGE_INSERT);
            change_free(&c);
        } else {
            assert_int_equal(err.code, MCDC_EDECODE);
        }
    }
    expect_refused(p, len / 2, "Insert");
    expect_refused((const uint8_t *)"", 0, "no message header");
    expect_refused((const uint8_t *)"\xff\xff\xff\xff garbage", 13, "no message header");
    free(p);
}

static void test_unknown_type_is_refused(void **state) {
    (void)state;
    /* MsgBase{msg_type: 1208 DataNodeTt}: a real type, but not one a DML or
     * replicate channel carries. */
    const uint8_t msg[] = {0x0a, 0x03, 0x08, 0xb8, 0x09};
    expect_refused(msg, sizeof msg, "unknown message type 1208");
}

static uint8_t *repack(ProtobufCMessage *m, size_t *len) {
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(*len);
    protobuf_c_message_pack(m, out);
    return out;
}

static void test_inconsistent_shapes_are_refused(void **state) {
    (void)state;
    size_t len, blen;
    uint8_t *p = load("insert_all_types", &len);
    Milvus__Proto__Msg__InsertRequest *m = milvus__proto__msg__insert_request__unpack(NULL, len, p);
    assert_non_null(m);

    /* One column a row short. */
    Milvus__Proto__Schema__FieldData *f = NULL;
    for (size_t i = 0; i < m->n_fields_data; i++)
        if (strcmp(m->fields_data[i]->field_name, "f_double") == 0) f = m->fields_data[i];
    f->scalars->double_data->n_data--;
    uint8_t *b = repack(&m->base, &blen);
    expect_refused(b, blen, "column 'f_double'");
    free(b);
    f->scalars->double_data->n_data++;

    /* A vector column that is not a whole number of vectors. */
    for (size_t i = 0; i < m->n_fields_data; i++)
        if (strcmp(m->fields_data[i]->field_name, "vec") == 0) f = m->fields_data[i];
    f->vectors->float_vector->n_data--;
    b = repack(&m->base, &blen);
    expect_refused(b, blen, "vector field 'vec'");
    free(b);
    f->vectors->float_vector->n_data++;

    /* Timestamps that do not match the rows. */
    m->n_timestamps--;
    b = repack(&m->base, &blen);
    expect_refused(b, blen, "timestamps");
    free(b);
    m->n_timestamps++;

    /* The same message repacked whole still decodes (the checks are not just failing everything). */
    b = repack(&m->base, &blen);
    change c;
    mcdc_err err;
    assert_int_equal(decode_change(b, blen, &c, &err), 0);
    change_free(&c);
    free(b);
    milvus__proto__msg__insert_request__free_unpacked(m, NULL);
    free(p);

    p = load("delete_varchar", &len);
    Milvus__Proto__Msg__DeleteRequest *d = milvus__proto__msg__delete_request__unpack(NULL, len, p);
    d->num_rows = 2;
    b = repack(&d->base, &blen);
    expect_refused(b, blen, "primary keys");
    free(b);
    milvus__proto__msg__delete_request__free_unpacked(d, NULL);
    free(p);

    p = load("create_collection_all_types", &len);
    Milvus__Proto__Msg__CreateCollectionRequest *cc = milvus__proto__msg__create_collection_request__unpack(NULL, len, p);
    cc->schema.len /= 2; /* a cut schema */
    b = repack(&cc->base, &blen);
    expect_refused(b, blen, "schema");
    free(b);
    milvus__proto__msg__create_collection_request__free_unpacked(cc, NULL);
    free(p);
}

/* The old Delete form (keys in field 9, no field 12: spec/mq-messages.md §7),
 * made from the real delete_int64 message: decode moves the keys to field
 * 12, the one place every reader looks. */
static void test_delete_old_key_field_is_normalised(void **state) {
    (void)state;
    size_t len, blen;
    uint8_t *p = load("delete_int64", &len);
    Milvus__Proto__Msg__DeleteRequest *d = milvus__proto__msg__delete_request__unpack(NULL, len, p);
    assert_non_null(d);
    const Milvus__Proto__Schema__LongArray *now = d->primary_keys->int_id;
    int64_t *old = malloc(now->n_data * sizeof *old);
    memcpy(old, now->data, now->n_data * sizeof *old);
    d->n_int64_primary_keys = now->n_data;
    d->int64_primary_keys = old;
    milvus__proto__schema__ids__free_unpacked(d->primary_keys, NULL);
    d->primary_keys = NULL;
    uint8_t *b = repack(&d->base, &blen);

    change c;
    mcdc_err err = {0};
    if (decode_change(b, blen, &c, &err)) fail_msg("%s", err.msg);
    const Milvus__Proto__Msg__DeleteRequest *m = change_delete(&c);
    assert_int_equal(c.num_rows, 2);
    assert_non_null(m->primary_keys);
    assert_int_equal(m->primary_keys->id_field_case, MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID);
    assert_int_equal(change_ids_count(m->primary_keys), 2);
    assert_int_equal(m->primary_keys->int_id->data[0], 1001);
    assert_int_equal(m->primary_keys->int_id->data[1], 1003);
    assert_int_equal(m->n_int64_primary_keys, 0);
    change_free(&c);
    free(b);

    /* Field 9 is counted against num_rows like field 12. */
    d->num_rows = 3;
    b = repack(&d->base, &blen);
    expect_refused(b, blen, "primary keys");
    free(b);
    milvus__proto__msg__delete_request__free_unpacked(d, NULL);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_collection_every_field_type),
        cmocka_unit_test(test_insert_every_field_type),
        cmocka_unit_test(test_delete_int64_keys),
        cmocka_unit_test(test_plain_insert_has_base_ts),
        cmocka_unit_test(test_upsert_pair_shares_timestamp),
        cmocka_unit_test(test_varchar_keys_and_binary_vectors),
        cmocka_unit_test(test_autoid_insert_carries_generated_keys),
        cmocka_unit_test(test_ddl_on_dml_channels),
        cmocka_unit_test(test_replicate_channel_requests),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_json_rendering),
        cmocka_unit_test(test_truncated_and_garbage_are_refused),
        cmocka_unit_test(test_unknown_type_is_refused),
        cmocka_unit_test(test_inconsistent_shapes_are_refused),
        cmocka_unit_test(test_delete_old_key_field_is_normalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
