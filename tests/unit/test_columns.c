/* test_columns.c — joining the columns of several real inserts, and
 * selecting rows of a query page (columns.h).
 *
 * The parts are WAL inserts of the fixtures (every field type, a binary
 * vector and varchar keys). A join must hold every row of every part, in
 * order, for every column kind, survive protobuf packing (what goes to the
 * target), and refuse parts whose columns differ.
 *
 * A selection is checked on a page of every column kind of schema.proto
 * (built here, since the fixtures lack Int8/Int16, float16 and bfloat16
 * vectors and varchar arrays) and on the fixtures: the kept rows, in order,
 * equal to the source's, read after the source was freed (so ASan sees any
 * pointer left into it), for the keep patterns all, none, alternating,
 * first and last only; and columns of the wrong length are refused. */
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
#include "milvus.pb-c.h"
#include "model/change.h"
#include "source/decode.h"
#include "target/columns.h"

static change decode_fixture(const char *name) {
    size_t len;
    uint8_t *bytes = fixture_load("kafka", name, &len);
    change c;
    mcdc_err err = {0};
    if (decode_change(bytes, len, &c, &err)) fail_msg("%s: %s", name, err.msg);
    free(bytes);
    return c;
}

/* Packs one column alone, so two columns can be compared byte for byte. */
static size_t packed(const Milvus__Proto__Schema__FieldData *f, uint8_t **out) {
    size_t len = milvus__proto__schema__field_data__get_packed_size(f);
    *out = malloc(len ? len : 1);
    milvus__proto__schema__field_data__pack(f, *out);
    return len;
}

/* Joining k copies of one insert gives, per column, k times its rows; the
 * first part's rows come first and the last part's rows last. */
static void join_copies(const char *fixture, size_t k) {
    change parts[4];
    Milvus__Proto__Schema__FieldData *const *cols[4];
    size_t ncols[4];
    for (size_t i = 0; i < k; i++) {
        parts[i] = decode_fixture(fixture);
        cols[i] = change_insert(&parts[i])->fields_data;
        ncols[i] = change_insert(&parts[i])->n_fields_data;
    }
    columns_joined j;
    mcdc_err err = {0};
    assert_int_equal(columns_join(cols, ncols, k, &j, &err), 0);
    assert_int_equal(j.n_cols, ncols[0]);
    size_t rows = parts[0].num_rows;
    for (size_t c = 0; c < j.n_cols; c++) {
        long got = change_column_rows(j.cols[c], &err);
        assert_int_equal(got, (long)(rows * k));
        assert_string_equal(j.cols[c]->field_name, cols[0][c]->field_name);
    }

    /* Through the wire: an InsertRequest of the joined columns decodes to
     * the same thing as one built from the rows twice over. */
    Milvus__Proto__Msg__InsertRequest req = *change_insert(&parts[0]);
    req.fields_data = j.cols;
    req.num_rows = rows * k;
    /* (the WAL's per-row system columns, which mcdc never sends, grown to match) */
    uint64_t *ts = calloc(rows * k, sizeof *ts);
    int64_t *ids = calloc(rows * k, sizeof *ids);
    for (size_t r = 0; r < rows * k; r++) ts[r] = req.timestamps[r % rows];
    req.timestamps = ts;
    req.n_timestamps = rows * k;
    req.row_ids = ids;
    req.n_row_ids = req.n_row_ids ? rows * k : 0;
    size_t len = milvus__proto__msg__insert_request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    milvus__proto__msg__insert_request__pack(&req, buf);
    change again;
    if (decode_change(buf, len, &again, &err)) fail_msg("joined insert does not decode: %s", err.msg);
    assert_int_equal(again.num_rows, rows * k);
    free(buf);
    free(ts);
    free(ids);

    /* Each joined column is the part's column k times over: checked value
     * by value for int64, varchar and binary vectors, and byte for byte
     * against the column that came back through the wire. */
    for (size_t c = 0; c < j.n_cols; c++) {
        const Milvus__Proto__Schema__FieldData *f = j.cols[c];
        if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS &&
            f->scalars->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA) {
            const Milvus__Proto__Schema__LongArray *one = cols[0][c]->scalars->long_data;
            for (size_t p = 0; p < k; p++)
                assert_memory_equal(f->scalars->long_data->data + p * one->n_data, one->data, one->n_data * sizeof(int64_t));
        }
        if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS &&
            f->scalars->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA) {
            const Milvus__Proto__Schema__StringArray *one = cols[0][c]->scalars->string_data;
            for (size_t p = 0; p < k; p++)
                for (size_t r = 0; r < one->n_data; r++)
                    assert_string_equal(f->scalars->string_data->data[p * one->n_data + r], one->data[r]);
        }
        /* Fixed-size values of every other kind: each part's run, in order. */
#define SAME_RUNS(ARR, ONE)                                                                            \
    do {                                                                                               \
        assert_int_equal((ARR)->n_data, (ONE)->n_data * k);                                            \
        for (size_t p = 0; p < k; p++)                                                                 \
            assert_memory_equal((ARR)->data + p * (ONE)->n_data, (ONE)->data, (ONE)->n_data * sizeof *(ONE)->data); \
    } while (0)
        const Milvus__Proto__Schema__ScalarField *sc = cols[0][c]->scalars;
        if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) {
            switch (f->scalars->data_case) {
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA: SAME_RUNS(f->scalars->bool_data, sc->bool_data); break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA: SAME_RUNS(f->scalars->int_data, sc->int_data); break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA: SAME_RUNS(f->scalars->float_data, sc->float_data); break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA: SAME_RUNS(f->scalars->double_data, sc->double_data); break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA:
                assert_int_equal(f->scalars->json_data->n_data, sc->json_data->n_data * k);
                for (size_t p = 0; p < k; p++)
                    for (size_t r = 0; r < sc->json_data->n_data; r++) {
                        const ProtobufCBinaryData *x = &f->scalars->json_data->data[p * sc->json_data->n_data + r];
                        assert_int_equal(x->len, sc->json_data->data[r].len);
                        assert_memory_equal(x->data, sc->json_data->data[r].data, x->len);
                    }
                break;
            default: break;
            }
        }
        if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS &&
            f->vectors->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR)
            SAME_RUNS(f->vectors->float_vector, cols[0][c]->vectors->float_vector);
#undef SAME_RUNS
        if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS &&
            f->vectors->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR) {
            const ProtobufCBinaryData *one = &cols[0][c]->vectors->binary_vector;
            assert_int_equal(f->vectors->binary_vector.len, one->len * k);
            for (size_t p = 0; p < k; p++) assert_memory_equal(f->vectors->binary_vector.data + p * one->len, one->data, one->len);
        }
        /* The re-decoded message holds the same column, byte for byte. */
        uint8_t *a, *b;
        size_t la = packed(f, &a), lb = packed(change_insert(&again)->fields_data[c], &b);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
    change_free(&again);
    columns_join_free(&j);
    for (size_t i = 0; i < k; i++) change_free(&parts[i]);
}

static void test_every_field_type(void **state) {
    (void)state;
    join_copies("insert_all_types", 3);
}

static void test_binary_vectors_and_varchar_keys(void **state) {
    (void)state;
    join_copies("insert_varchar_binvec", 2);
}

static void test_float_vectors_of_a_real_batch(void **state) {
    (void)state;
    join_copies("insert_bench_dim128", 4);
}

static void test_one_part_is_itself(void **state) {
    (void)state;
    join_copies("insert_autoid", 1);
}

static void test_different_columns_are_refused(void **state) {
    (void)state;
    change a = decode_fixture("insert_all_types"), b = decode_fixture("insert_varchar_binvec");
    Milvus__Proto__Schema__FieldData *const *cols[2] = {change_insert(&a)->fields_data, change_insert(&b)->fields_data};
    size_t ncols[2] = {change_insert(&a)->n_fields_data, change_insert(&b)->n_fields_data};
    columns_joined j;
    mcdc_err err = {0};
    assert_int_equal(columns_join(cols, ncols, 2, &j, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "column"));
    columns_join_free(&j);
    change_free(&a);
    change_free(&b);
}

/* ---- selecting rows ---------------------------------------------------------- */

#define PAGE_ROWS 7

static Milvus__Proto__Schema__FieldData *new_col(const char *name, Milvus__Proto__Schema__DataType type, int64_t id) {
    Milvus__Proto__Schema__FieldData *f = calloc(1, sizeof *f);
    milvus__proto__schema__field_data__init(f);
    f->field_name = (char *)name;
    f->type = type;
    f->field_id = id;
    return f;
}

static Milvus__Proto__Schema__ScalarField *new_scalars(Milvus__Proto__Schema__FieldData *f) {
    Milvus__Proto__Schema__ScalarField *s = calloc(1, sizeof *s);
    milvus__proto__schema__scalar_field__init(s);
    f->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    f->scalars = s;
    return s;
}

static Milvus__Proto__Schema__VectorField *new_vectors(Milvus__Proto__Schema__FieldData *f, int64_t dim) {
    Milvus__Proto__Schema__VectorField *v = calloc(1, sizeof *v);
    milvus__proto__schema__vector_field__init(v);
    v->dim = dim;
    f->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    f->vectors = v;
    return v;
}

/* The page's storage: everything the built columns point to, so that the
 * page can be packed and then let go of. */
static struct {
    protobuf_c_boolean bools[PAGE_ROWS];
    int32_t i8[PAGE_ROWS], i16[PAGE_ROWS], i32[PAGE_ROWS];
    int64_t i64[PAGE_ROWS];
    float f32[PAGE_ROWS], fv[PAGE_ROWS * 4];
    double f64[PAGE_ROWS];
    char *strs[PAGE_ROWS], str_text[PAGE_ROWS][16];
    ProtobufCBinaryData json[PAGE_ROWS], meta[PAGE_ROWS];
    char json_text[PAGE_ROWS][32], meta_text[PAGE_ROWS][32];
    int32_t arr_i[PAGE_ROWS][PAGE_ROWS];
    char *arr_s[PAGE_ROWS][2];
    Milvus__Proto__Schema__IntArray arr_i_vals[PAGE_ROWS];
    Milvus__Proto__Schema__StringArray arr_s_vals[PAGE_ROWS];
    Milvus__Proto__Schema__ScalarField arr_i_rows[PAGE_ROWS], arr_s_rows[PAGE_ROWS];
    Milvus__Proto__Schema__ScalarField *arr_i_ptrs[PAGE_ROWS], *arr_s_ptrs[PAGE_ROWS];
    uint8_t bv[PAGE_ROWS * 2], f16[PAGE_ROWS * 6], bf16[PAGE_ROWS * 4];
} pg;

enum { C_BOOL, C_I8, C_I16, C_I32, C_PK, C_F32, C_F64, C_STR, C_JSON, C_ARR_I, C_ARR_S, C_FV, C_BV, C_F16, C_BF16,
       C_META, N_PAGE_COLS };

/* A QueryResults holding PAGE_ROWS rows of every column kind, packed. The
 * values differ from row to row, so a row out of place shows. */
static uint8_t *page_bytes(size_t *len) {
    Milvus__Proto__Schema__FieldData *c[N_PAGE_COLS];
    for (int r = 0; r < PAGE_ROWS; r++) {
        pg.bools[r] = r % 3 == 0;
        pg.i8[r] = r - 3;
        pg.i16[r] = r * 1000 - 3000;
        pg.i32[r] = r * 100000 + 7;
        pg.i64[r] = 100 + r;
        pg.f32[r] = (float)r * 0.5f;
        pg.f64[r] = r * 0.25 - 1;
        snprintf(pg.str_text[r], sizeof pg.str_text[r], r == 2 ? "" : "k\"%d", r);
        pg.strs[r] = pg.str_text[r];
        snprintf(pg.json_text[r], sizeof pg.json_text[r], "{\"r\":%d}", r);
        pg.json[r] = (ProtobufCBinaryData){strlen(pg.json_text[r]), (uint8_t *)pg.json_text[r]};
        snprintf(pg.meta_text[r], sizeof pg.meta_text[r], "{\"extra\":\"x%d\"}", r);
        pg.meta[r] = (ProtobufCBinaryData){strlen(pg.meta_text[r]), (uint8_t *)pg.meta_text[r]};
        /* Array rows of r elements (row 0 empty) and of two strings. */
        for (int k = 0; k < r; k++) pg.arr_i[r][k] = r * 10 + k;
        milvus__proto__schema__int_array__init(&pg.arr_i_vals[r]);
        pg.arr_i_vals[r].n_data = (size_t)r;
        pg.arr_i_vals[r].data = pg.arr_i[r];
        milvus__proto__schema__scalar_field__init(&pg.arr_i_rows[r]);
        pg.arr_i_rows[r].data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
        pg.arr_i_rows[r].int_data = &pg.arr_i_vals[r];
        pg.arr_i_ptrs[r] = &pg.arr_i_rows[r];
        pg.arr_s[r][0] = pg.str_text[r];
        pg.arr_s[r][1] = pg.json_text[r];
        milvus__proto__schema__string_array__init(&pg.arr_s_vals[r]);
        pg.arr_s_vals[r].n_data = 2;
        pg.arr_s_vals[r].data = pg.arr_s[r];
        milvus__proto__schema__scalar_field__init(&pg.arr_s_rows[r]);
        pg.arr_s_rows[r].data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
        pg.arr_s_rows[r].string_data = &pg.arr_s_vals[r];
        pg.arr_s_ptrs[r] = &pg.arr_s_rows[r];
    }
    for (int i = 0; i < PAGE_ROWS * 4; i++) pg.fv[i] = (float)i + 0.125f;
    for (int i = 0; i < PAGE_ROWS * 2; i++) pg.bv[i] = (uint8_t)(0xA0 + i);
    for (int i = 0; i < PAGE_ROWS * 6; i++) pg.f16[i] = (uint8_t)(i * 3);
    for (int i = 0; i < PAGE_ROWS * 4; i++) pg.bf16[i] = (uint8_t)(255 - i);

#define SCALAR(IDX, NAME, TYPE, CASE, MEMBER, ARRTYPE, INIT, VALUES)                 \
    do {                                                                             \
        c[IDX] = new_col(NAME, MILVUS__PROTO__SCHEMA__DATA_TYPE__##TYPE, 100 + IDX); \
        Milvus__Proto__Schema__ScalarField *s_ = new_scalars(c[IDX]);               \
        ARRTYPE *a_ = calloc(1, sizeof *a_);                                         \
        INIT(a_);                                                                    \
        a_->n_data = PAGE_ROWS;                                                      \
        a_->data = VALUES;                                                           \
        s_->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_##CASE;            \
        s_->MEMBER = a_;                                                             \
    } while (0)
    SCALAR(C_BOOL, "b", Bool, BOOL_DATA, bool_data, Milvus__Proto__Schema__BoolArray,
           milvus__proto__schema__bool_array__init, pg.bools);
    SCALAR(C_I8, "i8", Int8, INT_DATA, int_data, Milvus__Proto__Schema__IntArray, milvus__proto__schema__int_array__init,
           pg.i8);
    SCALAR(C_I16, "i16", Int16, INT_DATA, int_data, Milvus__Proto__Schema__IntArray,
           milvus__proto__schema__int_array__init, pg.i16);
    SCALAR(C_I32, "i32", Int32, INT_DATA, int_data, Milvus__Proto__Schema__IntArray,
           milvus__proto__schema__int_array__init, pg.i32);
    SCALAR(C_PK, "pk", Int64, LONG_DATA, long_data, Milvus__Proto__Schema__LongArray,
           milvus__proto__schema__long_array__init, pg.i64);
    SCALAR(C_F32, "f", Float, FLOAT_DATA, float_data, Milvus__Proto__Schema__FloatArray,
           milvus__proto__schema__float_array__init, pg.f32);
    SCALAR(C_F64, "d", Double, DOUBLE_DATA, double_data, Milvus__Proto__Schema__DoubleArray,
           milvus__proto__schema__double_array__init, pg.f64);
    SCALAR(C_STR, "s", VarChar, STRING_DATA, string_data, Milvus__Proto__Schema__StringArray,
           milvus__proto__schema__string_array__init, pg.strs);
    SCALAR(C_JSON, "j", JSON, JSON_DATA, json_data, Milvus__Proto__Schema__JSONArray,
           milvus__proto__schema__jsonarray__init, pg.json);
    SCALAR(C_ARR_I, "arr_i", Array, ARRAY_DATA, array_data, Milvus__Proto__Schema__ArrayArray,
           milvus__proto__schema__array_array__init, pg.arr_i_ptrs);
    c[C_ARR_I]->scalars->array_data->element_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int32;
    SCALAR(C_ARR_S, "arr_s", Array, ARRAY_DATA, array_data, Milvus__Proto__Schema__ArrayArray,
           milvus__proto__schema__array_array__init, pg.arr_s_ptrs);
    c[C_ARR_S]->scalars->array_data->element_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    SCALAR(C_META, "$meta", JSON, JSON_DATA, json_data, Milvus__Proto__Schema__JSONArray,
           milvus__proto__schema__jsonarray__init, pg.meta);
    c[C_META]->is_dynamic = 1;
#undef SCALAR

    c[C_FV] = new_col("fv", MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector, 100 + C_FV);
    Milvus__Proto__Schema__VectorField *v = new_vectors(c[C_FV], 4);
    Milvus__Proto__Schema__FloatArray *fa = calloc(1, sizeof *fa);
    milvus__proto__schema__float_array__init(fa);
    fa->n_data = PAGE_ROWS * 4;
    fa->data = pg.fv;
    v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    v->float_vector = fa;
    c[C_BV] = new_col("bv", MILVUS__PROTO__SCHEMA__DATA_TYPE__BinaryVector, 100 + C_BV);
    v = new_vectors(c[C_BV], 16);
    v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR;
    v->binary_vector = (ProtobufCBinaryData){sizeof pg.bv, pg.bv};
    c[C_F16] = new_col("f16", MILVUS__PROTO__SCHEMA__DATA_TYPE__Float16Vector, 100 + C_F16);
    v = new_vectors(c[C_F16], 3);
    v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR;
    v->float16_vector = (ProtobufCBinaryData){sizeof pg.f16, pg.f16};
    c[C_BF16] = new_col("bf16", MILVUS__PROTO__SCHEMA__DATA_TYPE__BFloat16Vector, 100 + C_BF16);
    v = new_vectors(c[C_BF16], 2);
    v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR;
    v->bfloat16_vector = (ProtobufCBinaryData){sizeof pg.bf16, pg.bf16};

    Milvus__Proto__Milvus__QueryResults r = MILVUS__PROTO__MILVUS__QUERY_RESULTS__INIT;
    r.n_fields_data = N_PAGE_COLS;
    r.fields_data = c;
    *len = milvus__proto__milvus__query_results__get_packed_size(&r);
    uint8_t *buf = malloc(*len);
    milvus__proto__milvus__query_results__pack(&r, buf);
    for (int i = 0; i < N_PAGE_COLS; i++) {
        if (c[i]->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) {
            /* every member of the oneof is a pointer at the same place */
            free(c[i]->scalars->bool_data);
            free(c[i]->scalars);
        } else {
            if (c[i]->vectors->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR)
                free(c[i]->vectors->float_vector);
            free(c[i]->vectors);
        }
        free(c[i]);
    }
    return buf;
}

static Milvus__Proto__Milvus__QueryResults *unpack_page(const uint8_t *buf, size_t len) {
    Milvus__Proto__Milvus__QueryResults *r = milvus__proto__milvus__query_results__unpack(NULL, len, buf);
    assert_non_null(r);
    return r;
}

static bool same_msg(const ProtobufCMessage *a, const ProtobufCMessage *b) {
    size_t la = protobuf_c_message_get_packed_size(a), lb = protobuf_c_message_get_packed_size(b);
    if (la != lb) return false;
    uint8_t *x = malloc(la + 1), *y = malloc(lb + 1);
    protobuf_c_message_pack(a, x);
    protobuf_c_message_pack(b, y);
    bool eq = memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return eq;
}

/* Row ra of a equals row rb of b, read kind by kind (not through the
 * descriptors the code under test walks). */
static void assert_same_row(const Milvus__Proto__Schema__FieldData *a, size_t ra,
                            const Milvus__Proto__Schema__FieldData *b, size_t rb) {
    assert_int_equal(a->field_case, b->field_case);
    if (a->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) {
        const Milvus__Proto__Schema__ScalarField *x = a->scalars, *y = b->scalars;
        assert_int_equal(x->data_case, y->data_case);
        switch (x->data_case) {
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA:
            assert_int_equal(x->bool_data->data[ra], y->bool_data->data[rb]);
            break;
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA:
            assert_int_equal(x->int_data->data[ra], y->int_data->data[rb]);
            break;
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA:
            assert_int_equal(x->long_data->data[ra], y->long_data->data[rb]);
            break;
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA:
            assert_memory_equal(&x->float_data->data[ra], &y->float_data->data[rb], sizeof(float));
            break;
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA:
            assert_memory_equal(&x->double_data->data[ra], &y->double_data->data[rb], sizeof(double));
            break;
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA:
            assert_string_equal(x->string_data->data[ra], y->string_data->data[rb]);
            break;
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA:
            assert_int_equal(x->json_data->data[ra].len, y->json_data->data[rb].len);
            assert_memory_equal(x->json_data->data[ra].data, y->json_data->data[rb].data, x->json_data->data[ra].len);
            break;
        case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA:
            assert_int_equal(x->array_data->element_type, y->array_data->element_type);
            assert_true(same_msg(&x->array_data->data[ra]->base, &y->array_data->data[rb]->base));
            break;
        default: fail_msg("column '%s': data case %d not covered by the test", a->field_name, (int)x->data_case);
        }
        return;
    }
    const Milvus__Proto__Schema__VectorField *x = a->vectors, *y = b->vectors;
    assert_int_equal(x->dim, y->dim);
    assert_int_equal(x->data_case, y->data_case);
    size_t dim = (size_t)x->dim;
    switch (x->data_case) {
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR:
        assert_memory_equal(x->float_vector->data + ra * dim, y->float_vector->data + rb * dim, dim * sizeof(float));
        break;
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR:
        assert_memory_equal(x->binary_vector.data + ra * dim / 8, y->binary_vector.data + rb * dim / 8, dim / 8);
        break;
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR:
        assert_memory_equal(x->float16_vector.data + ra * dim * 2, y->float16_vector.data + rb * dim * 2, dim * 2);
        break;
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR:
        assert_memory_equal(x->bfloat16_vector.data + ra * dim * 2, y->bfloat16_vector.data + rb * dim * 2, dim * 2);
        break;
    default: fail_msg("column '%s': vector case %d not covered by the test", a->field_name, (int)x->data_case);
    }
}

/* Selects rows of src (then freed) and checks the copy against ref, a
 * second decoding of the same columns: names and kinds kept, every column
 * of the kept length, each kept row equal to its source row, in order, and
 * the copy packs into a request that decodes again. */
static void check_selection(Milvus__Proto__Schema__FieldData *const *src, void (*free_src)(void *), void *src_owner,
                            Milvus__Proto__Schema__FieldData *const *ref, size_t n_cols, uint32_t rows,
                            const bool *keep) {
    Milvus__Proto__Schema__FieldData **out = NULL;
    uint32_t got = 12345;
    mcdc_err err = {0};
    if (columns_select(src, n_cols, rows, keep, &out, &got, &err)) fail_msg("columns_select: %s", err.msg);
    free_src(src_owner);
    uint32_t want = 0;
    for (uint32_t r = 0; r < rows; r++) want += keep[r];
    assert_int_equal(got, want);
    assert_non_null(out);
    for (size_t c = 0; c < n_cols; c++) {
        const Milvus__Proto__Schema__FieldData *o = out[c], *f = ref[c];
        assert_string_equal(o->field_name, f->field_name);
        assert_int_equal(o->field_id, f->field_id);
        assert_int_equal(o->type, f->type);
        assert_int_equal(o->is_dynamic, f->is_dynamic);
        assert_int_equal(o->field_case, f->field_case);
        if (o->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS)
            assert_int_equal(o->vectors->dim, f->vectors->dim);
        if (o->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS)
            assert_int_equal(o->scalars->data_case, f->scalars->data_case);
        if (o->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS &&
            o->scalars->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA)
            assert_int_equal(o->scalars->array_data->element_type, f->scalars->array_data->element_type);
        assert_int_equal(change_column_rows(o, &err), (long)want);
        size_t k = 0;
        for (uint32_t r = 0; r < rows; r++)
            if (keep[r]) assert_same_row(o, k++, f, r);
    }

    /* Through the wire, as an Insert of the kept rows. */
    Milvus__Proto__Milvus__InsertRequest req = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    req.collection_name = "c";
    req.fields_data = out;
    req.n_fields_data = n_cols;
    req.num_rows = got;
    size_t len = milvus__proto__milvus__insert_request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    milvus__proto__milvus__insert_request__pack(&req, buf);
    Milvus__Proto__Milvus__InsertRequest *back = milvus__proto__milvus__insert_request__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->n_fields_data, n_cols);
    for (size_t c = 0; c < n_cols; c++) assert_true(same_msg(&back->fields_data[c]->base, &out[c]->base));
    milvus__proto__milvus__insert_request__free_unpacked(back, NULL);
    free(buf);
    columns_free(out, n_cols);
}

static void free_results(void *r) { milvus__proto__milvus__query_results__free_unpacked(r, NULL); }

static void select_page(const bool *keep) {
    size_t len;
    uint8_t *bytes = page_bytes(&len);
    Milvus__Proto__Milvus__QueryResults *src = unpack_page(bytes, len), *ref = unpack_page(bytes, len);
    assert_int_equal(src->n_fields_data, N_PAGE_COLS);
    check_selection(src->fields_data, free_results, src, ref->fields_data, ref->n_fields_data, PAGE_ROWS, keep);
    milvus__proto__milvus__query_results__free_unpacked(ref, NULL);
    free(bytes);
}

static void test_select_every_kind_all_rows(void **state) {
    (void)state;
    bool keep[PAGE_ROWS];
    for (int r = 0; r < PAGE_ROWS; r++) keep[r] = true;
    select_page(keep);
}

static void test_select_every_kind_no_rows(void **state) {
    (void)state;
    bool keep[PAGE_ROWS] = {0};
    select_page(keep);
}

static void test_select_every_kind_alternating(void **state) {
    (void)state;
    bool keep[PAGE_ROWS];
    for (int r = 0; r < PAGE_ROWS; r++) keep[r] = r % 2 == 0;
    select_page(keep);
    for (int r = 0; r < PAGE_ROWS; r++) keep[r] = r % 2 == 1;
    select_page(keep);
}

static void test_select_every_kind_first_or_last_only(void **state) {
    (void)state;
    bool keep[PAGE_ROWS] = {0};
    keep[PAGE_ROWS - 1] = true;
    select_page(keep);
    keep[PAGE_ROWS - 1] = false;
    keep[0] = true;
    select_page(keep);
}

static void free_change(void *c) {
    change_free(c);
    free(c);
}

/* Real WAL inserts: the same selection rules hold for columns as Milvus
 * writes them. */
static void select_fixture(const char *name) {
    change *src = malloc(sizeof *src);
    *src = decode_fixture(name);
    change ref = decode_fixture(name);
    uint32_t rows = (uint32_t)src->num_rows;
    bool *keep = calloc(rows ? rows : 1, sizeof *keep);
    for (uint32_t r = 0; r < rows; r++) keep[r] = r % 3 != 1;
    check_selection(change_insert(src)->fields_data, free_change, src, change_insert(&ref)->fields_data,
                    change_insert(&ref)->n_fields_data, rows, keep);
    change_free(&ref);
    free(keep);
}

static void test_select_fixtures(void **state) {
    (void)state;
    select_fixture("insert_all_types");
    select_fixture("insert_varchar_binvec");
    select_fixture("insert_bench_dim128");
    select_fixture("insert_autoid");
}

/* A refusal: MCDC_EINVAL naming the column, nothing returned. */
static void assert_refused(Milvus__Proto__Schema__FieldData *const *cols, size_t n, uint32_t rows, const char *name) {
    bool keep[PAGE_ROWS + 1];
    for (size_t r = 0; r <= PAGE_ROWS; r++) keep[r] = true;
    Milvus__Proto__Schema__FieldData **out = (void *)1;
    uint32_t got = 99;
    mcdc_err err = {0};
    assert_int_equal(columns_select(cols, n, rows, keep, &out, &got, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", name);
    if (!strstr(err.msg, quoted)) fail_msg("'%s' does not name %s", err.msg, quoted);
    assert_null(out);
    assert_int_equal(got, 0);
}

static void test_select_refuses_wrong_lengths(void **state) {
    (void)state;
    size_t len;
    uint8_t *bytes = page_bytes(&len);
    Milvus__Proto__Milvus__QueryResults *p = unpack_page(bytes, len);
    /* The page has 7 rows, not 6 or 8: the first column is named. */
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS - 1, "b");
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS + 1, "b");
    /* One short column among right ones. */
    p->fields_data[C_STR]->scalars->string_data->n_data--;
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS, "s");
    p->fields_data[C_STR]->scalars->string_data->n_data++;
    p->fields_data[C_ARR_S]->scalars->array_data->n_data--;
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS, "arr_s");
    p->fields_data[C_ARR_S]->scalars->array_data->n_data++;
    /* A vector column that is not a whole number of rows, or too short. */
    p->fields_data[C_FV]->vectors->float_vector->n_data--;
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS, "fv");
    p->fields_data[C_FV]->vectors->float_vector->n_data -= 3;
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS, "fv");
    p->fields_data[C_FV]->vectors->float_vector->n_data += 4;
    p->fields_data[C_F16]->vectors->float16_vector.len -= 6;
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS, "f16");
    p->fields_data[C_F16]->vectors->float16_vector.len += 6;
    p->fields_data[C_BV]->vectors->dim = 12;
    assert_refused(p->fields_data, p->n_fields_data, PAGE_ROWS, "bv");
    p->fields_data[C_BV]->vectors->dim = 16;
    /* A column with no data at all, where rows are expected. */
    Milvus__Proto__Schema__FieldData empty = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    empty.field_name = "nothing";
    Milvus__Proto__Schema__FieldData *cols[2] = {p->fields_data[C_PK], &empty};
    assert_refused(cols, 2, PAGE_ROWS, "nothing");

    /* Restored, the page selects. */
    bool keep[PAGE_ROWS] = {1, 0, 1, 0, 0, 0, 1};
    Milvus__Proto__Schema__FieldData **out;
    uint32_t got;
    mcdc_err err = {0};
    assert_int_equal(columns_select(p->fields_data, p->n_fields_data, PAGE_ROWS, keep, &out, &got, &err), 0);
    assert_int_equal(got, 3);
    columns_free(out, p->n_fields_data);
    milvus__proto__milvus__query_results__free_unpacked(p, NULL);
    free(bytes);
}

static void test_select_zero_rows_and_columns(void **state) {
    (void)state;
    Milvus__Proto__Schema__FieldData **out = NULL;
    uint32_t got = 5;
    mcdc_err err = {0};
    /* No columns. */
    assert_int_equal(columns_select(NULL, 0, 0, NULL, &out, &got, &err), 0);
    assert_non_null(out);
    assert_int_equal(got, 0);
    columns_free(out, 0);
    /* Columns of an empty page (no data, or empty data), copied as empty. */
    Milvus__Proto__Schema__FieldData none = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    none.field_name = "none";
    Milvus__Proto__Schema__FieldData vec = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    vec.field_name = "vec";
    vec.type = MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector;
    Milvus__Proto__Schema__VectorField v = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    Milvus__Proto__Schema__FloatArray fa = MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
    v.dim = 8;
    v.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    v.float_vector = &fa;
    vec.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    vec.vectors = &v;
    Milvus__Proto__Schema__FieldData str = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    str.field_name = "s";
    Milvus__Proto__Schema__ScalarField sf = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
    str.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    str.scalars = &sf; /* the member itself NULL: an empty column still */
    Milvus__Proto__Schema__FieldData *cols[3] = {&none, &vec, &str};
    assert_int_equal(columns_select(cols, 3, 0, NULL, &out, &got, &err), 0);
    assert_int_equal(got, 0);
    assert_int_equal(out[0]->field_case, MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD__NOT_SET);
    assert_int_equal(out[1]->vectors->dim, 8);
    assert_int_equal(out[1]->vectors->float_vector->n_data, 0);
    assert_non_null(out[2]->scalars->string_data);
    assert_int_equal(out[2]->scalars->string_data->n_data, 0);
    Milvus__Proto__Milvus__InsertRequest req = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    req.fields_data = out;
    req.n_fields_data = 3;
    uint8_t *buf = malloc(milvus__proto__milvus__insert_request__get_packed_size(&req));
    milvus__proto__milvus__insert_request__pack(&req, buf);
    free(buf);
    columns_free(out, 3);
    columns_free(NULL, 0);
}

static void test_key_at_and_find(void **state) {
    (void)state;
    size_t len;
    uint8_t *bytes = page_bytes(&len);
    Milvus__Proto__Milvus__QueryResults *p = unpack_page(bytes, len);
    Milvus__Proto__Schema__FieldData *const *c = p->fields_data;
    size_t n = p->n_fields_data;

    assert_int_equal(columns_find(c, n, "pk"), C_PK);
    assert_int_equal(columns_find(c, n, "s"), C_STR);
    assert_int_equal(columns_find(c, n, "$meta"), C_META);
    assert_int_equal(columns_find(c, n, "PK"), -1);
    assert_int_equal(columns_find(c, n, ""), -1);
    assert_int_equal(columns_find(c, 0, "pk"), -1);

    int64_t ik = -1;
    const char *sk = "x";
    assert_int_equal(columns_key_at(c[C_PK], 0, &ik, &sk), 0);
    assert_int_equal(ik, 100);
    assert_null(sk);
    assert_int_equal(columns_key_at(c[C_PK], PAGE_ROWS - 1, &ik, &sk), 0);
    assert_int_equal(ik, 100 + PAGE_ROWS - 1);
    assert_int_equal(columns_key_at(c[C_STR], 3, &ik, &sk), 0);
    assert_string_equal(sk, "k\"3");
    assert_int_equal(ik, 0);
    assert_ptr_equal(sk, c[C_STR]->scalars->string_data->data[3]); /* a pointer into the column */
    assert_int_equal(columns_key_at(c[C_STR], 2, &ik, &sk), 0);
    assert_string_equal(sk, "");
    /* Past the end, or a column that cannot be a primary key. */
    assert_int_equal(columns_key_at(c[C_PK], PAGE_ROWS, &ik, &sk), -1);
    assert_int_equal(columns_key_at(c[C_STR], PAGE_ROWS, &ik, &sk), -1);
    assert_null(sk);
    assert_int_equal(columns_key_at(c[C_I32], 0, &ik, &sk), -1);
    assert_int_equal(columns_key_at(c[C_JSON], 0, &ik, &sk), -1);
    assert_int_equal(columns_key_at(c[C_FV], 0, &ik, &sk), -1);
    assert_int_equal(columns_key_at(NULL, 0, &ik, &sk), -1);
    milvus__proto__milvus__query_results__free_unpacked(p, NULL);
    free(bytes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_type),
        cmocka_unit_test(test_binary_vectors_and_varchar_keys),
        cmocka_unit_test(test_float_vectors_of_a_real_batch),
        cmocka_unit_test(test_one_part_is_itself),
        cmocka_unit_test(test_different_columns_are_refused),
        cmocka_unit_test(test_select_every_kind_all_rows),
        cmocka_unit_test(test_select_every_kind_no_rows),
        cmocka_unit_test(test_select_every_kind_alternating),
        cmocka_unit_test(test_select_every_kind_first_or_last_only),
        cmocka_unit_test(test_select_fixtures),
        cmocka_unit_test(test_select_refuses_wrong_lengths),
        cmocka_unit_test(test_select_zero_rows_and_columns),
        cmocka_unit_test(test_key_at_and_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
