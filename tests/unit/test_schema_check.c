/* test_schema_check.c — when a target collection that exists may be adopted
 * (schema_check.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target/schema_check.h"

typedef struct sch {
    Milvus__Proto__Schema__FieldSchema f[4];
    Milvus__Proto__Schema__FieldSchema *fp[4];
    Milvus__Proto__Common__KeyValuePair dim;
    Milvus__Proto__Common__KeyValuePair *dimp[1];
    Milvus__Proto__Schema__CollectionSchema s;
} sch;

/* id INT64 pk, v FLOAT_VECTOR dim=<dim>, and the system field RowID. */
static void build(sch *x, const char *dim) {
    memset(x, 0, sizeof *x);
    for (int i = 0; i < 3; i++) {
        x->f[i] = (Milvus__Proto__Schema__FieldSchema)MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT;
        x->fp[i] = &x->f[i];
    }
    x->f[0].field_id = 0, x->f[0].name = "RowID", x->f[0].data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    x->f[1].field_id = 100, x->f[1].name = "id", x->f[1].data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    x->f[1].is_primary_key = true;
    x->f[2].field_id = 101, x->f[2].name = "v", x->f[2].data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector;
    x->dim = (Milvus__Proto__Common__KeyValuePair)MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    x->dim.key = "dim";
    x->dim.value = (char *)dim;
    x->dimp[0] = &x->dim;
    x->f[2].type_params = x->dimp;
    x->f[2].n_type_params = 1;
    x->s = (Milvus__Proto__Schema__CollectionSchema)MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    x->s.fields = x->fp;
    x->s.n_fields = 3;
}

/* Rule: equal user fields match, whatever the system fields, autoID and
 * field ids (the target numbers its own). */
static void test_equal_schemas_match(void **state) {
    (void)state;
    sch a, b;
    build(&a, "8");
    build(&b, "8");
    b.s.n_fields = 2; /* no RowID listed */
    b.fp[0] = &b.f[1], b.fp[1] = &b.f[2];
    b.f[1].auto_id = true;
    b.f[1].field_id = 200;
    b.f[2].field_id = 201;
    mcdc_err err;
    assert_int_equal(schema_check(&a.s, &b.s, &err), 0);
}

/* Rule: another dimension, type, primary key, a missing field or another
 * dynamic setting do not match, and the message shows both schemas. */
static void test_differences_refused_with_both_schemas(void **state) {
    (void)state;
    sch a, b;
    mcdc_err err;
    build(&a, "8");
    build(&b, "16");
    assert_int_equal(schema_check(&a.s, &b.s, &err), -1);
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "source [id Int64 pk, v FloatVector dim=8]"));
    assert_non_null(strstr(err.msg, "target [id Int64 pk, v FloatVector dim=16]"));
    build(&b, "8");
    b.f[1].data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    assert_int_equal(schema_check(&a.s, &b.s, &err), -1);
    build(&b, "8");
    b.f[1].is_primary_key = false;
    assert_int_equal(schema_check(&a.s, &b.s, &err), -1);
    build(&b, "8");
    b.s.n_fields = 2;
    assert_int_equal(schema_check(&a.s, &b.s, &err), -1);
    build(&b, "8");
    b.s.enable_dynamic_field = true;
    assert_int_equal(schema_check(&a.s, &b.s, &err), -1);
    build(&b, "8");
    b.f[2].name = "w";
    assert_int_equal(schema_check(&a.s, &b.s, &err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_schemas_match),
        cmocka_unit_test(test_differences_refused_with_both_schemas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
