/* test_columns.c — joining the columns of several real inserts (columns.h).
 *
 * The parts are WAL inserts of the fixtures (every field type, a binary
 * vector and varchar keys). A join must hold every row of every part, in
 * order, for every column kind, survive protobuf packing (what goes to the
 * target), and refuse parts whose columns differ. */
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
    columns_free(&j);
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
    columns_free(&j);
    change_free(&a);
    change_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_type),
        cmocka_unit_test(test_binary_vectors_and_varchar_keys),
        cmocka_unit_test(test_float_vectors_of_a_real_batch),
        cmocka_unit_test(test_one_part_is_itself),
        cmocka_unit_test(test_different_columns_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
