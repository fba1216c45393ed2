/* test_target_desc.c — how the pipeline describes a source collection to the
 * applier (pipeline/target_desc.h): the task's name mapping and
 * ignore_partition applied, only live partitions handed on, the source's
 * index and load state read only through the callback, and the target names
 * of replicate-channel requests (a Flush names each of its collections). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/target_desc.h"
#include "source/catalog_int.h"

static const char SPEC[] =
    "{\"milvus_connect_param\": {\"uri\": \"http://t:19540\", \"ignore_partition\": true},"
    " \"db_collections\": {\"db2\": [{\"name\": \"x\"}, {\"name\": \"y\"}]},"
    " \"name_mapping\": [{\"source_db\": \"db2\", \"target_db\": \"t2\", \"collection_mapping\": {\"x\": \"x2\"}}]}";

static void parse_spec(task_spec *s) {
    json_error_t jerr;
    json_t *j = json_loads(SPEC, 0, &jerr);
    assert_non_null(j);
    mcdc_err err = {0};
    if (task_spec_from_json(j, s, &err)) fail_msg("%s", err.msg);
    json_decref(j);
}

static void test_description_in_target_terms(void **state) {
    (void)state;
    task_spec spec;
    parse_spec(&spec);
    applier_options opt = target_desc_options(&spec);
    assert_true(opt.ignore_partition);

    Milvus__Proto__Schema__FieldSchema pk = MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT;
    Milvus__Proto__Schema__CollectionSchema schema = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    catalog_partition parts[] = {{.id = 1, .name = "_default", .state = CATALOG_CREATED},
                                 {.id = 2, .name = "gone", .state = CATALOG_DROPPING},
                                 {.id = 3, .name = "p3", .state = CATALOG_CREATED}};
    catalog_coll cc = {.id = 77, .name = "x", .db_name = "db2", .shards_num = 2, .consistency_level = 3,
                       .schema = &schema, .pk = &pk, .partitions = parts, .n_partitions = 3};

    target_collection *tc = target_desc_new(&spec, NULL, &cc);
    assert_string_equal(tc->db, "t2");
    assert_string_equal(tc->name, "x2");
    assert_string_equal(tc->source_db, "db2");
    assert_string_equal(tc->source_name, "x");
    assert_int_equal(tc->source_id, 77);
    assert_ptr_equal(tc->schema, &schema);
    assert_ptr_equal(tc->pk, &pk);
    assert_int_equal(tc->shards_num, 2);
    assert_int_equal(tc->consistency_level, 3);
    assert_int_equal(tc->n_partitions, 2); /* the dropping one is not made again */
    assert_int_equal(tc->partitions[0].id, 1);
    assert_string_equal(tc->partitions[1].name, "p3");
    assert_int_equal(tc->num_partitions, 3);
    assert_null(tc->read_state); /* no catalog: nothing to copy */
    target_desc_free(tc);

    /* Unmapped collection of the same database keeps its names. */
    cc.name = "y";
    tc = target_desc_new(&spec, NULL, &cc);
    assert_string_equal(tc->db, "db2");
    assert_string_equal(tc->name, "y");
    target_desc_free(tc);
    task_spec_free(&spec);
}

/* The state is read from the source's etcd when the applier asks, not when
 * the description is built: a catalog without etcd fails only then. */
static void test_state_is_read_on_request(void **state) {
    (void)state;
    task_spec spec;
    parse_spec(&spec);
    catalog *cat = catalog_new_detached("by-dev");
    catalog_coll cc = {.id = 5, .name = "x", .db_name = "db2"};
    target_collection *tc = target_desc_new(&spec, cat, &cc);
    assert_non_null(tc->read_state);
    assert_non_null(tc->free_state);
    target_state st;
    mcdc_err err = {0};
    assert_int_equal(tc->read_state(tc->state_ctx, &st, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    target_desc_free(tc);
    catalog_close(cat);
    task_spec_free(&spec);
}

static void test_request_names(void **state) {
    (void)state;
    task_spec spec;
    parse_spec(&spec);

    Milvus__Proto__Milvus__CreateIndexRequest ci = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
    change c = {.kind = CHANGE_CREATE_INDEX, .msg = &ci.base, .db_name = "db2", .collection_name = "x"};
    target_request_names n;
    target_desc_request_names(&spec, &c, &n);
    assert_string_equal(n.db, "t2");
    assert_string_equal(n.collection, "x2");
    assert_int_equal(n.n_flush, 0);
    target_desc_request_names_free(&n);

    /* No db in the request: the default database. */
    c.db_name = "";
    target_desc_request_names(&spec, &c, &n);
    assert_string_equal(n.db, "default");
    assert_string_equal(n.collection, "x");
    target_desc_request_names_free(&n);

    char *colls[] = {"x", "y"};
    Milvus__Proto__Milvus__FlushRequest fl = MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
    fl.collection_names = colls;
    fl.n_collection_names = 2;
    change f = {.kind = CHANGE_FLUSH, .msg = &fl.base, .db_name = "db2", .collection_name = ""};
    target_desc_request_names(&spec, &f, &n);
    /* The request itself names no collection, so only a mapping of the whole
     * database would move its db_name; each listed collection is mapped. */
    assert_string_equal(n.db, "db2");
    assert_string_equal(n.collection, "");
    assert_int_equal(n.n_flush, 2);
    assert_string_equal(n.flush[0], "x2");
    assert_string_equal(n.flush[1], "y");
    target_desc_request_names_free(&n);
    assert_null(n.flush);
    task_spec_free(&spec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_description_in_target_terms),
        cmocka_unit_test(test_state_is_read_on_request),
        cmocka_unit_test(test_request_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
