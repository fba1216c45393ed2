/* test_task_spec.c — the create request of milvus-cdc as mcdc reads it:
 * the examples of milvus-cdc's docs parse; every refusal names its key;
 * secrets never reach the public JSON; secrets named by reference (a file
 * under secrets_dir, an MCDC_SECRET_* variable) are kept as references and
 * read, anew, at each connection; name mapping and coverage rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/task_spec.h"

static int parse(const char *text, task_spec *s, mcdc_err *err) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fail_msg("test JSON does not parse: %s: %s", je.text, text);
    int rc = task_spec_from_json(j, s, err);
    json_decref(j);
    return rc;
}

static void parse_ok(const char *text, task_spec *s) {
    mcdc_err err = {0};
    if (parse(text, s, &err) != 0) fail_msg("refused: %s\n  %s", err.msg, text);
}

/* doc/cdc-usage.md's create request. */
static void test_usage_doc_example(void **state) {
    (void)state;
    task_spec s;
    parse_ok("{\"milvus_connect_param\": {\"uri\": \"http://localhost:19530\", \"token\": \"root:Milvus\","
             " \"connect_timeout\": 10}, \"collection_infos\": [{\"name\": \"*\"}]}",
             &s);
    assert_string_equal(s.target.address, "localhost:19530");
    assert_false(s.target.tls);
    assert_string_equal(s.target.username, "root");
    assert_string_equal(s.target.password, "Milvus");
    assert_null(s.target.api_key);
    assert_int_equal(s.target.connect_timeout_s, 10);
    assert_int_equal(s.n_collections, 1);
    assert_string_equal(s.collections[0].db, "default");
    assert_string_equal(s.collections[0].name, "*");
    /* A generated id looks like milvus-cdc's: a UUID without dashes. */
    assert_int_equal(strlen(s.id), 32);
    assert_int_equal(strspn(s.id, "0123456789abcdef"), 32);
    task_spec s2;
    parse_ok("{\"milvus_connect_param\": {\"uri\": \"http://localhost:19530\"}, \"collection_infos\": [{\"name\": \"*\"}]}",
             &s2);
    assert_string_not_equal(s.id, s2.id);
    assert_int_equal(s2.target.connect_timeout_s, 10);
    assert_null(s2.target.username);
    task_spec_free(&s);
    task_spec_free(&s2);
}

static void check_address(const char *connect, const char *address, bool tls) {
    char text[512];
    snprintf(text, sizeof text, "{\"milvus_connect_param\": %s, \"collection_infos\": [{\"name\": \"c\"}]}", connect);
    task_spec s;
    parse_ok(text, &s);
    if (strcmp(s.target.address, address) != 0 || s.target.tls != tls)
        fail_msg("%s: got %s tls=%d, want %s tls=%d", connect, s.target.address, s.target.tls, address, tls);
    task_spec_free(&s);
}

static void test_address_forms(void **state) {
    (void)state;
    check_address("{\"uri\": \"https://milvus.example.com:443\"}", "milvus.example.com:443", true);
    check_address("{\"uri\": \"HTTPS://m:19530/\"}", "m:19530", true);
    check_address("{\"uri\": \"tcp://10.0.0.1:19540\"}", "10.0.0.1:19540", false);
    check_address("{\"uri\": \"10.0.0.1:19540\"}", "10.0.0.1:19540", false);
    check_address("{\"uri\": \"http://m\"}", "m:19530", false);
    check_address("{\"uri\": \"http://[::1]:19540\"}", "[::1]:19540", false);
    check_address("{\"uri\": \"http://m:1\", \"enable_tls\": true}", "m:1", true);
    /* milvus-cdc's deprecated form, and its README's mix of both. */
    check_address("{\"host\": \"m\", \"port\": 19541, \"enable_tls\": true}", "m:19541", true);
    check_address("{\"host\": \"m\"}", "m:19530", false);
    check_address("{\"host\": \"http://m:7\", \"port\": 19541}", "m:7", false);
    check_address("{\"uri\": \"http://u:1\", \"host\": \"h\", \"port\": 19541}", "u:1", false);
    check_address("{\"uri\": \"http://u:1\", \"host\": null, \"token\": null}", "u:1", false);
}

static void test_credentials(void **state) {
    (void)state;
    task_spec s;
    parse_ok("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"token\": \"db-api-key-123\"}, "
             "\"collection_infos\": [{\"name\": \"c\"}]}",
             &s);
    assert_string_equal(s.target.api_key, "db-api-key-123");
    assert_null(s.target.username);
    task_spec_free(&s);
    parse_ok("{\"milvus_connect_param\": {\"host\": \"h\", \"port\": 1, \"username\": \"u\", \"password\": \"p:q\"}, "
             "\"collection_infos\": [{\"name\": \"c\"}]}",
             &s);
    assert_string_equal(s.target.username, "u");
    assert_string_equal(s.target.password, "p:q");
    task_spec_free(&s);
    /* The password may hold ':'; only the first one splits. */
    parse_ok("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"token\": \"u:p:q\", \"username\": \"x\", \"password\": \"y\"}, "
             "\"collection_infos\": [{\"name\": \"c\"}]}",
             &s);
    assert_string_equal(s.target.username, "u");
    assert_string_equal(s.target.password, "p:q");
    task_spec_free(&s);
}

static const char FULL[] =
    "{\"task_id\": \"my-task_1\","
    " \"milvus_connect_param\": {\"uri\": \"http://t:19540\", \"token\": \"root:s3cret\", \"ignore_partition\": true,"
    "   \"channel_num\": 16, \"dial_config\": {}},"
    " \"kafka_connect_param\": {\"address\": \"\", \"topic\": \"\"},"
    " \"rpc_channel_info\": {\"name\": \"by-dev-replicate-msg\"}, \"extra_info\": {\"enable_user_role\": false},"
    " \"buffer_config\": {\"period\": 0, \"size\": 0},"
    " \"collection_infos\": [{\"name\": \"a\", \"positions\": {\"by-dev-rootcoord-dml_0_1v0\": \"CAE=\"},"
    "                         \"use_start_position\": true}, {\"name\": \"b\"}],"
    " \"db_collections\": {\"db1\": [{\"name\": \"*\"}], \"db2\": [{\"name\": \"x\"}, {\"name\": \"y\"}]},"
    " \"name_mapping\": [{\"source_db\": \"db1\", \"target_db\": \"db1_copy\"},"
    "                    {\"source_db\": \"db2\", \"target_db\": \"t2\", \"collection_mapping\": {\"x\": \"x2\"}}],"
    " \"positions\": {\"by-dev-rootcoord-dml_0\": \"AAE=\"},"
    " \"disable_auto_start\": true}";

static void test_full_request(void **state) {
    (void)state;
    task_spec s;
    parse_ok(FULL, &s);
    assert_string_equal(s.id, "my-task_1");
    assert_true(s.target.ignore_partition);
    assert_true(s.disable_auto_start);
    assert_int_equal(s.n_collections, 5);
    assert_string_equal(s.collections[0].db, "default");
    assert_string_equal(s.collections[0].name, "a");
    assert_true(s.collections[0].use_start_position);
    assert_int_equal(s.collections[0].n_positions, 1);
    assert_string_equal(s.collections[0].positions[0].key, "by-dev-rootcoord-dml_0_1v0");
    assert_string_equal(s.collections[0].positions[0].value, "CAE=");
    assert_string_equal(s.collections[2].db, "db1");
    assert_string_equal(s.collections[4].name, "y");
    assert_int_equal(s.n_mappings, 2);
    assert_int_equal(s.n_positions, 1);
    assert_string_equal(s.positions[0].key, "by-dev-rootcoord-dml_0");

    const char *tdb, *tcoll;
    task_spec_map_name(&s, "db1", "anything", &tdb, &tcoll);
    assert_string_equal(tdb, "db1_copy");
    assert_string_equal(tcoll, "anything");
    task_spec_map_name(&s, "db2", "x", &tdb, &tcoll);
    assert_string_equal(tdb, "t2");
    assert_string_equal(tcoll, "x2");
    /* milvus-cdc: a collection not in collection_mapping keeps db and name. */
    task_spec_map_name(&s, "db2", "y", &tdb, &tcoll);
    assert_string_equal(tdb, "db2");
    assert_string_equal(tcoll, "y");
    task_spec_map_name(&s, "default", "a", &tdb, &tcoll);
    assert_string_equal(tdb, "default");
    assert_string_equal(tcoll, "a");

    assert_true(task_spec_covers(&s, "default", "a"));
    assert_true(task_spec_covers(&s, "default", "b"));
    assert_false(task_spec_covers(&s, "default", "c"));
    assert_true(task_spec_covers(&s, "db1", "whatever"));
    assert_true(task_spec_covers(&s, "db2", "x"));
    assert_false(task_spec_covers(&s, "db2", "z"));
    assert_false(task_spec_covers(&s, "db3", "x"));
    task_spec_free(&s);
}

static void test_star_database(void **state) {
    (void)state;
    task_spec s;
    parse_ok("{\"milvus_connect_param\": {\"uri\": \"h:1\"}, "
             "\"db_collections\": {\"*\": [{\"name\": \"*\"}], \"a\": [{\"name\": \"x\"}]}}",
             &s);
    assert_true(task_spec_covers(&s, "default", "anything"));
    assert_true(task_spec_covers(&s, "other", "anything"));
    /* A database named explicitly takes only its own entries, as in milvus-cdc. */
    assert_true(task_spec_covers(&s, "a", "x"));
    assert_false(task_spec_covers(&s, "a", "y"));
    task_spec_free(&s);
}

/* Every refusal is MCDC_EINVAL and its message starts with the key's path. */
static void expect_error(const char *text, const char *want) {
    task_spec s;
    mcdc_err err = {0};
    if (parse(text, &s, &err) == 0) fail_msg("accepted, want an error with '%s':\n  %s", want, text);
    if (err.code != MCDC_EINVAL) fail_msg("code %d for %s", err.code, text);
    if (!strstr(err.msg, want)) fail_msg("message '%s' lacks '%s'", err.msg, want);
    if (strstr(err.msg, "s3cret")) fail_msg("message '%s' shows a secret", err.msg);
    /* Nothing is left to free after a failure. */
    assert_null(s.id);
    assert_null(s.collections);
}

#define CP "\"milvus_connect_param\": {\"uri\": \"h:1\"}"
#define CI "\"collection_infos\": [{\"name\": \"c\"}]"

static void test_errors_name_their_key(void **state) {
    (void)state;
    task_spec s;
    mcdc_err err;
    json_t *arr = json_array();
    assert_int_equal(task_spec_from_json(arr, &s, &err), -1);
    assert_string_equal(err.msg, "request_data: want an object");
    json_decref(arr);

    expect_error("{" CP ", " CI ", \"colection_infos\": []}", "unknown key 'colection_infos'; want one of task_id,");
    expect_error("{" CI "}", "milvus_connect_param: missing");
    expect_error("{" CP ", " CI ", \"extra_info\": true}", "extra_info: want an object");
    expect_error("{" CP ", " CI ", \"extra_info\": {\"enable_user_role\": 1}}",
                 "extra_info.enable_user_role: want true or false");
    expect_error("{\"milvus_connect_param\": \"h:1\", " CI "}", "milvus_connect_param: want an object");
    expect_error("{\"milvus_connect_param\": {}, " CI "}", "milvus_connect_param: no target address");
    expect_error("{\"milvus_connect_param\": {\"hots\": \"h\"}, " CI "}", "milvus_connect_param: unknown key 'hots'");
    expect_error("{\"milvus_connect_param\": {\"host\": \"h\", \"port\": \"19530\"}, " CI "}",
                 "milvus_connect_param.port: want an integer from 1 to 65535");
    expect_error("{\"milvus_connect_param\": {\"host\": \"h\", \"port\": 70000}, " CI "}",
                 "milvus_connect_param.port: want an integer from 1 to 65535");
    expect_error("{\"milvus_connect_param\": {\"port\": 1}, " CI "}", "milvus_connect_param.host: missing");
    expect_error("{\"milvus_connect_param\": {\"host\": \"h:1\"}, " CI "}", "milvus_connect_param.host: want a host");
    expect_error("{\"milvus_connect_param\": {\"uri\": 5}, " CI "}", "milvus_connect_param.uri: want a string");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"grpc://h:1\"}, " CI "}",
                 "milvus_connect_param.uri: want http://, https:// or tcp://");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"http://h:abc\"}, " CI "}",
                 "milvus_connect_param.uri: want a port from 1 to 65535");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"http://h:0\"}, " CI "}", "milvus_connect_param.uri: want a port");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"http://h:1/db\"}, " CI "}",
                 "milvus_connect_param.uri: a path is not supported");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"http://root:s3cret@h:1\"}, " CI "}",
                 "milvus_connect_param.uri: credentials belong in token");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"http://h h:1\"}, " CI "}",
                 "milvus_connect_param.uri: want a host name");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"http://[::1\"}, " CI "}", "milvus_connect_param.uri: unclosed");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"password\": \"s3cret\"}, " CI "}",
                 "milvus_connect_param.username: missing; username and password go together");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"token\": \":s3cret\"}, " CI "}",
                 "milvus_connect_param.token: want \"user:password\"");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"connect_timeout\": -1}, " CI "}",
                 "milvus_connect_param.connect_timeout: want an integer from 0 to 3600");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"enable_tls\": \"yes\"}, " CI "}",
                 "milvus_connect_param.enable_tls: want true or false");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"ignore_partition\": 1}, " CI "}",
                 "milvus_connect_param.ignore_partition: want true or false");
    expect_error("{\"milvus_connect_param\": {\"uri\": \"https://h:1\", \"dial_config\": {\"server_name\": \"h\"}}, " CI "}",
                 "milvus_connect_param.dial_config: custom TLS certificates are not supported");
    expect_error("{\"kafka_connect_param\": {\"address\": \"k:9092\", \"topic\": \"t\"}, " CP ", " CI "}",
                 "kafka_connect_param: a Kafka target is not supported");

    expect_error("{" CP "}", "collection_infos: missing; want at least one collection");
    expect_error("{" CP ", \"collection_infos\": []}", "collection_infos: empty");
    expect_error("{" CP ", \"collection_infos\": {\"name\": \"c\"}}", "collection_infos: want an array");
    expect_error("{" CP ", \"collection_infos\": [\"c\"]}", "collection_infos[0]: want an object");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"a\"}, {}]}", "collection_infos[1].name: missing");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": 5}]}", "collection_infos[0].name: want a string");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"\"}]}", "collection_infos[0].name: want a non-empty string");
    expect_error("{" CP ", \"collection_infos\": [{\"nam\": \"c\"}]}", "collection_infos[0]: unknown key 'nam'");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\", \"use_start_position\": \"true\"}]}",
                 "collection_infos[0].use_start_position: want true or false");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\", \"positions\": {\"ch\": 5}}]}",
                 "collection_infos[0].positions.ch: want a non-empty string");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\", \"positions\": [\"x\"]}]}",
                 "collection_infos[0].positions: want an object");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"*\", \"positions\": {\"ch\": \"x\"}}]}",
                 "collection_infos[0].positions: not allowed with the collection name \"*\"");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\"}, {\"name\": \"c\"}]}",
                 "'c' in database 'default' is listed twice");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\"}], \"db_collections\": {\"default\": [{\"name\": \"c\"}]}}",
                 "'c' in database 'default' is listed twice");
    expect_error("{" CP ", \"db_collections\": {\"d\": [{\"name\": \"*\"}, {\"name\": \"c\"}]}}",
                 "database 'd' lists \"*\" and 'c'");
    expect_error("{" CP ", \"db_collections\": [{\"name\": \"c\"}]}", "db_collections: want an object");
    expect_error("{" CP ", \"db_collections\": {\"d\": []}}", "db_collections.d: empty");
    expect_error("{" CP ", \"db_collections\": {\"\": [{\"name\": \"c\"}]}}", "db_collections: an empty database name");
    expect_error("{" CP ", \"db_collections\": {\"d\": [{\"name\": \"c\", \"x\": 1}]}}",
                 "db_collections.d[0]: unknown key 'x'");

    expect_error("{" CP ", " CI ", \"name_mapping\": {}}", "name_mapping: want an array");
    expect_error("{" CP ", " CI ", \"name_mapping\": [{\"target_db\": \"b\"}]}",
                 "name_mapping[0].source_db: want a non-empty string");
    expect_error("{" CP ", " CI ", \"name_mapping\": [{\"source_db\": \"a\"}]}",
                 "name_mapping[0].target_db: want a non-empty string");
    expect_error("{" CP ", " CI ", \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\"},"
                 " {\"source_db\": \"a\", \"target_db\": \"c\"}]}",
                 "name_mapping[1].source_db: 'a' is mapped twice");
    expect_error("{" CP ", " CI ", \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\","
                 " \"collection_mapping\": {\"x\": \"z\", \"y\": \"z\"}}]}",
                 "name_mapping[0].collection_mapping: 'x' and 'y' both map to 'z'");
    expect_error("{" CP ", " CI ", \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\","
                 " \"collection_mapping\": {\"x\": 1}}]}",
                 "name_mapping[0].collection_mapping.x: want a non-empty string");
    expect_error("{" CP ", " CI ", \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\", \"extra\": 1}]}",
                 "name_mapping[0]: unknown key 'extra'");

    expect_error("{" CP ", " CI ", \"positions\": [\"a\"]}", "positions: want an object");
    expect_error("{" CP ", " CI ", \"positions\": {\"ch\": \"\"}}", "positions.ch: want a non-empty string");
    expect_error("{" CP ", " CI ", \"task_id\": 7}", "task_id: want a string");
    expect_error("{" CP ", " CI ", \"task_id\": \"a b\"}", "task_id: want 1 to 64 characters");
    expect_error("{" CP ", " CI ", \"task_id\": \"../x\"}", "task_id: want 1 to 64 characters");
    expect_error("{" CP ", " CI
                 ", \"task_id\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
                 "task_id: want 1 to 64 characters");
    expect_error("{" CP ", " CI ", \"disable_auto_start\": \"true\"}", "disable_auto_start: want true or false");
}

static void test_long_names(void **state) {
    (void)state;
    char name[300], text[700];
    memset(name, 'n', 256);
    name[256] = '\0';
    snprintf(text, sizeof text, "{" CP ", \"collection_infos\": [{\"name\": \"%s\"}]}", name);
    expect_error(text, "collection_infos[0].name: longer than 255 characters");
    name[255] = '\0';
    snprintf(text, sizeof text, "{" CP ", \"collection_infos\": [{\"name\": \"%s\"}]}", name);
    task_spec s;
    parse_ok(text, &s);
    task_spec_free(&s);
}

static void test_secrets_stay_private(void **state) {
    (void)state;
    task_spec s;
    parse_ok(FULL, &s);
    json_t *pub = task_spec_to_json(&s, false);
    char *text = json_dumps(pub, JSON_SORT_KEYS);
    assert_null(strstr(text, "s3cret"));
    assert_null(strstr(text, "\"root\""));
    json_t *conn = json_object_get(pub, "milvus_connect_param");
    assert_string_equal(json_string_value(json_object_get(conn, "password")), "***");
    assert_string_equal(json_string_value(json_object_get(conn, "username")), "***");
    assert_null(json_object_get(conn, "token"));
    assert_string_equal(json_string_value(json_object_get(conn, "uri")), "http://t:19540");
    assert_string_equal(json_string_value(json_object_get(pub, "task_id")), "my-task_1");
    /* milvus-cdc's shape: collection_infos for "default", db_collections for the others. */
    assert_int_equal(json_array_size(json_object_get(pub, "collection_infos")), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(pub, "db_collections"), "db2")), 2);
    free(text);
    json_decref(pub);

    /* An API key is masked the same way. */
    task_spec k;
    parse_ok("{\"milvus_connect_param\": {\"uri\": \"https://h:1\", \"token\": \"key-s3cret\"}, " CI "}", &k);
    pub = task_spec_to_json(&k, false);
    text = json_dumps(pub, 0);
    assert_null(strstr(text, "s3cret"));
    assert_non_null(strstr(text, "\"token\": \"***\""));
    free(text);
    json_decref(pub);
    task_spec_free(&k);
    task_spec_free(&s);
}

/* The store keeps to_json(with_secrets) and reads it back with from_json. */
static void test_store_round_trip(void **state) {
    (void)state;
    const char *cases[] = {
        FULL,
        "{\"milvus_connect_param\": {\"uri\": \"https://[::1]:1\", \"token\": \"key\", \"connect_timeout\": 3}, " CI "}",
        "{\"milvus_connect_param\": {\"host\": \"h\", \"username\": \"a:b\", \"password\": \"c\"}, " CI "}",
        /* Only db_collections: stored with an empty collection_infos, which
         * must load again (found by fuzz_http_request: the task was lost on
         * restart). */
        "{\"milvus_connect_param\": {\"uri\": \"h:1\"}, \"db_collections\": {\"a\": [{\"name\": \"x\"}]}}",
        "{\"milvus_connect_param\": {\"uri\": \"h:1\"}, " CI ", \"extra_info\": {\"enable_user_role\": true}}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        task_spec a, b;
        parse_ok(cases[i], &a);
        json_t *ja = task_spec_to_json(&a, true);
        mcdc_err err = {0};
        if (task_spec_from_json(ja, &b, &err)) fail_msg("stored form refused: %s", err.msg);
        json_t *jb = task_spec_to_json(&b, true);
        assert_true(json_equal(ja, jb));
        assert_string_equal(a.id, b.id);
        assert_int_equal(a.target.tls, b.target.tls);
        assert_int_equal(a.target.connect_timeout_s, b.target.connect_timeout_s);
        assert_int_equal(a.enable_user_role, b.enable_user_role);
        assert_int_equal(a.enable_user_role, i == 4);
        json_decref(ja);
        json_decref(jb);
        task_spec_free(&a);
        task_spec_free(&b);
    }
    task_spec a;
    parse_ok(cases[2], &a);
    assert_string_equal(a.target.username, "a:b");
    task_spec_free(&a);
    /* A token with an empty password is refused up front: stored, it would
     * not load again (found by fuzz_http_request). */
    expect_error("{\"milvus_connect_param\": {\"uri\": \"h:1\", \"token\": \"ke:\"}, " CI "}", "password is empty");
}

/* ---- snapshot: copy what a collection holds before the stream ------------------------ */

/* Rule: "snapshot" is a per-entry bool, false unless given (null too), in
 * collection_infos and db_collections alike, "*" entries included; the
 * entry that covers a collection answers for it; it survives the store's
 * round trip and task_spec_copy, and is printed only when true. */
static void test_snapshot_option(void **state) {
    (void)state;
    task_spec s;
    parse_ok("{" CP ", \"collection_infos\": [{\"name\": \"a\", \"snapshot\": true}, {\"name\": \"b\"},"
             " {\"name\": \"n\", \"snapshot\": null}],"
             " \"db_collections\": {\"*\": [{\"name\": \"*\", \"snapshot\": true}],"
             " \"d2\": [{\"name\": \"x\", \"snapshot\": false}, {\"name\": \"y\", \"snapshot\": true}],"
             " \"d3\": [{\"name\": \"*\"}]}}",
             &s);
    assert_int_equal(s.n_collections, 7);
    assert_true(s.collections[0].snapshot);
    assert_false(s.collections[1].snapshot);
    assert_false(s.collections[2].snapshot);
    assert_true(task_spec_wants_snapshot(&s, "default", "a"));
    assert_false(task_spec_wants_snapshot(&s, "default", "b"));
    assert_false(task_spec_wants_snapshot(&s, "default", "n"));
    /* Not covered: default names its collections, so "*" does not reach it. */
    assert_false(task_spec_wants_snapshot(&s, "default", "z"));
    /* The "*" database for every database not named. */
    assert_true(task_spec_wants_snapshot(&s, "other", "anything"));
    assert_false(task_spec_wants_snapshot(&s, "d2", "x"));
    assert_true(task_spec_wants_snapshot(&s, "d2", "y"));
    assert_false(task_spec_wants_snapshot(&s, "d2", "z"));
    /* A named database with "*" and no snapshot: the "*" database's does not count. */
    assert_false(task_spec_wants_snapshot(&s, "d3", "anything"));

    /* The store's form and back. */
    json_t *ja = task_spec_to_json(&s, true);
    char *text = json_dumps(json_object_get(ja, "collection_infos"), JSON_COMPACT);
    assert_string_equal(text, "[{\"name\":\"a\",\"positions\":{},\"use_start_position\":false,\"snapshot\":true},"
                              "{\"name\":\"b\",\"positions\":{},\"use_start_position\":false},"
                              "{\"name\":\"n\",\"positions\":{},\"use_start_position\":false}]");
    free(text);
    task_spec b;
    mcdc_err err = {0};
    if (task_spec_from_json(ja, &b, &err)) fail_msg("stored form refused: %s", err.msg);
    json_t *jb = task_spec_to_json(&b, true);
    assert_true(json_equal(ja, jb));
    assert_true(task_spec_wants_snapshot(&b, "d2", "y"));
    assert_true(task_spec_wants_snapshot(&b, "other", "q"));
    json_decref(jb);
    task_spec_free(&b);

    /* A view of the task keeps it. */
    task_spec view;
    task_spec_copy(&s, &view, false);
    for (size_t i = 0; i < s.n_collections; i++) assert_int_equal(view.collections[i].snapshot, s.collections[i].snapshot);
    assert_true(task_spec_wants_snapshot(&view, "default", "a"));
    jb = task_spec_to_json(&view, true);
    assert_true(json_equal(ja, jb));
    json_decref(jb);
    json_decref(ja);
    task_spec_free(&view);
    task_spec_free(&s);

    /* Without it the printed spec has no such key: as it always was. */
    parse_ok("{" CP ", " CI "}", &s);
    assert_false(task_spec_wants_snapshot(&s, "default", "c"));
    ja = task_spec_to_json(&s, false);
    text = json_dumps(ja, JSON_COMPACT);
    assert_null(strstr(text, "snapshot"));
    free(text);
    json_decref(ja);
    task_spec_free(&s);

    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\", \"snapshot\": \"yes\"}]}",
                 "collection_infos[0].snapshot: want true or false");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\", \"snapshot\": 1}]}",
                 "collection_infos[0].snapshot: want true or false");
    expect_error("{" CP ", \"db_collections\": {\"d\": [{\"name\": \"*\", \"snapshot\": \"true\"}]}}",
                 "db_collections.d[0].snapshot: want true or false");
    expect_error("{" CP ", \"collection_infos\": [{\"name\": \"c\", \"snapshots\": true}]}",
                 "collection_infos[0]: unknown key 'snapshots'; want one of name, positions, use_start_position, snapshot");
}

/* ---- secrets by reference --------------------------------------------------------- */

#define REF_CP(conn) "{\"milvus_connect_param\": {\"uri\": \"h:1\", " conn "}, " CI "}"

static char secrets_dir[64];

static void put_file(const char *name, const char *content, mode_t mode) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", secrets_dir, name);
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int make_secrets_dir(void **state) {
    (void)state;
    snprintf(secrets_dir, sizeof secrets_dir, "/tmp/mcdc-test-secrets-XXXXXX");
    assert_non_null(mkdtemp(secrets_dir));
    return 0;
}

static int remove_secrets_dir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", secrets_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The config the task's connection would get, or the error. */
static int resolve(const char *text, const char *dir, milvus_config *mc, task_secrets *held, mcdc_err *err) {
    task_spec s;
    parse_ok(text, &s);
    int rc = task_target_milvus_config(&s.target, dir, 1000, mc, held, err);
    if (rc == 0) {
        /* Copied out before the spec goes: the test compares strings only. */
        static char user[64], pass[64], key[64];
        snprintf(user, sizeof user, "%s", mc->username ? mc->username : "(null)");
        snprintf(pass, sizeof pass, "%s", mc->password ? mc->password : "(null)");
        snprintf(key, sizeof key, "%s", mc->api_key ? mc->api_key : "(null)");
        mc->username = user;
        mc->password = pass;
        mc->api_key = key;
        mc->address = NULL;
    }
    task_secrets_free(held);
    task_spec_free(&s);
    return rc;
}

static void expect_unreadable(const char *text, const char *dir, const char *want) {
    milvus_config mc;
    task_secrets held;
    mcdc_err err = {0};
    if (resolve(text, dir, &mc, &held, &err) == 0) fail_msg("read, want an error with '%s':\n  %s", want, text);
    assert_int_equal(err.code, MCDC_EIO);
    if (!strstr(err.msg, want)) fail_msg("message '%s' lacks '%s'", err.msg, want);
    if (strstr(err.msg, "zz9")) fail_msg("message '%s' shows a secret", err.msg);
    assert_null(held.password);
}

static void test_secret_refs_stored_not_secrets(void **state) {
    (void)state;
    put_file("pw", "zz9-pass\n", 0600);
    const char *text = REF_CP("\"username\": \"u\", \"password_file\": \"pw\"");
    task_spec a, b;
    parse_ok(text, &a);
    assert_null(a.target.password);
    assert_string_equal(a.target.password_ref.file, "pw");
    json_t *stored = task_spec_to_json(&a, true);
    char *st = json_dumps(stored, JSON_SORT_KEYS);
    assert_non_null(strstr(st, "\"password_file\": \"pw\""));
    assert_null(strstr(st, "\"password\""));
    assert_null(strstr(st, "zz9"));
    mcdc_err err = {0};
    if (task_spec_from_json(stored, &b, &err)) fail_msg("stored form refused: %s", err.msg);
    json_t *again = task_spec_to_json(&b, true);
    assert_true(json_equal(stored, again));
    /* What users see: the reference, the user masked as before. */
    task_spec view;
    task_spec_copy(&a, &view, false);
    json_t *pub = task_spec_to_json(&view, false);
    json_t *conn = json_object_get(pub, "milvus_connect_param");
    assert_string_equal(json_string_value(json_object_get(conn, "password_file")), "pw");
    assert_string_equal(json_string_value(json_object_get(conn, "username")), "***");
    assert_null(json_object_get(conn, "password"));
    free(st);
    json_decref(stored);
    json_decref(again);
    json_decref(pub);
    task_spec_free(&view);
    task_spec_free(&a);
    task_spec_free(&b);

    /* The env form, and token references, keep the same way. */
    task_spec k;
    parse_ok(REF_CP("\"token_env\": \"MCDC_SECRET_TOKEN\", \"username\": \"dropped\", \"password\": \"zz9\""), &k);
    assert_null(k.target.username); /* a token wins, as in milvus-cdc */
    assert_null(k.target.password);
    stored = task_spec_to_json(&k, true);
    st = json_dumps(stored, JSON_SORT_KEYS);
    assert_non_null(strstr(st, "\"token_env\": \"MCDC_SECRET_TOKEN\""));
    assert_null(strstr(st, "zz9"));
    free(st);
    json_decref(stored);
    task_spec_free(&k);
}

static void test_secret_ref_refusals(void **state) {
    (void)state;
    expect_error(REF_CP("\"username\": \"u\", \"password\": \"s3cret\", \"password_file\": \"pw\""),
                 "milvus_connect_param: give one of password, password_file and password_env, not password and "
                 "password_file");
    expect_error(REF_CP("\"username\": \"u\", \"password_file\": \"pw\", \"password_env\": \"MCDC_SECRET_P\""),
                 "not password_file and password_env");
    expect_error(REF_CP("\"token\": \"s3cret\", \"token_env\": \"MCDC_SECRET_T\""), "not token and token_env");
    expect_error(REF_CP("\"username\": \"u\", \"password_file\": \"../pw\""),
                 "milvus_connect_param.password_file: want a file name relative to the config's secrets_dir");
    expect_error(REF_CP("\"username\": \"u\", \"password_file\": \"/etc/shadow\""), "no absolute path");
    expect_error(REF_CP("\"username\": \"u\", \"password_file\": \"a/./b\""), "without '..'");
    expect_error(REF_CP("\"username\": \"u\", \"password_env\": \"HOME\""),
                 "milvus_connect_param.password_env: want a variable named MCDC_SECRET_*");
    expect_error(REF_CP("\"username\": \"u\", \"password_env\": \"MCDC_SECRET_\""), "want a variable named");
    expect_error(REF_CP("\"username\": \"u\", \"password_env\": \"MCDC_SECRET_A=B\""), "want a variable named");
    expect_error(REF_CP("\"token_env\": \"AWS_SECRET_ACCESS_KEY\""), "milvus_connect_param.token_env");
    expect_error(REF_CP("\"password_file\": \"pw\""), "milvus_connect_param.username: missing");
}

static void test_secret_files_read_with_care(void **state) {
    (void)state;
    const char *text = REF_CP("\"username\": \"u\", \"password_file\": \"pw\"");
    milvus_config mc;
    task_secrets held;
    mcdc_err err = {0};

    put_file("pw", "zz9-one\n", 0600);
    if (resolve(text, secrets_dir, &mc, &held, &err)) fail_msg("%s", err.msg);
    assert_string_equal(mc.username, "u");
    assert_string_equal(mc.password, "zz9-one"); /* the newline cut */
    assert_int_equal(mc.timeout_ms, 10000);
    /* Rotated in place: the next connection reads the new one. */
    put_file("pw", "zz9-two\r\n", 0600);
    if (resolve(text, secrets_dir, &mc, &held, &err)) fail_msg("%s", err.msg);
    assert_string_equal(mc.password, "zz9-two");

    put_file("pw", "zz9-open\n", 0644);
    expect_unreadable(text, secrets_dir, "open to group or others (mode 0644)");
    put_file("pw", "zz9-open\n", 0640);
    expect_unreadable(text, secrets_dir, "chmod 600");
    put_file("pw", "\n", 0600);
    expect_unreadable(text, secrets_dir, "milvus_connect_param.password_file: ");
    expect_unreadable(text, secrets_dir, "/pw: is empty");
    expect_unreadable(REF_CP("\"username\": \"u\", \"password_file\": \"nope\""), secrets_dir,
                      "milvus_connect_param.password_file: ");
    expect_unreadable(REF_CP("\"username\": \"u\", \"password_file\": \"nope\""), secrets_dir,
                      "/nope: No such file or directory");
    expect_unreadable(text, NULL, "the config sets no secrets_dir");
    expect_unreadable(text, "", "the config sets no secrets_dir");

    /* A link in the directory that leads out of it is refused; one that
     * stays inside is read. */
    put_file("inside", "zz9-in\n", 0600);
    char link[256];
    snprintf(link, sizeof link, "%s/out", secrets_dir);
    unlink(link);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    expect_unreadable(REF_CP("\"username\": \"u\", \"password_file\": \"out\""), secrets_dir,
                      "resolves outside the secrets directory");
    snprintf(link, sizeof link, "%s/in", secrets_dir);
    unlink(link);
    assert_int_equal(symlink("inside", link), 0);
    if (resolve(REF_CP("\"username\": \"u\", \"password_file\": \"in\""), secrets_dir, &mc, &held, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(mc.password, "zz9-in");
    /* A directory named as a file. */
    char sub[256];
    snprintf(sub, sizeof sub, "%s/sub", secrets_dir);
    mkdir(sub, 0700);
    expect_unreadable(REF_CP("\"username\": \"u\", \"password_file\": \"sub\""), secrets_dir, "not a regular file");

    /* A token file: "user:password" or an API key. */
    put_file("tok", "tu:zz9-tp\n", 0600);
    if (resolve(REF_CP("\"token_file\": \"tok\""), secrets_dir, &mc, &held, &err)) fail_msg("%s", err.msg);
    assert_string_equal(mc.username, "tu");
    assert_string_equal(mc.password, "zz9-tp");
    assert_string_equal(mc.api_key, "(null)");
    put_file("tok", "zz9-key", 0600);
    if (resolve(REF_CP("\"token_file\": \"tok\""), secrets_dir, &mc, &held, &err)) fail_msg("%s", err.msg);
    assert_string_equal(mc.api_key, "zz9-key");
    assert_string_equal(mc.username, "(null)");
    put_file("tok", "zz9:", 0600);
    expect_unreadable(REF_CP("\"token_file\": \"tok\""), secrets_dir,
                      "milvus_connect_param.token_file: tok holds \"user:password\" with the password empty");
}

static void test_secret_env(void **state) {
    (void)state;
    const char *text = REF_CP("\"username\": \"u\", \"password_env\": \"MCDC_SECRET_TEST_PW\"");
    milvus_config mc;
    task_secrets held;
    mcdc_err err = {0};
    unsetenv("MCDC_SECRET_TEST_PW");
    expect_unreadable(text, NULL, "milvus_connect_param.password_env: MCDC_SECRET_TEST_PW: not set in mcdc's environment");
    setenv("MCDC_SECRET_TEST_PW", "zz9-env", 1);
    if (resolve(text, NULL, &mc, &held, &err)) fail_msg("%s", err.msg);
    assert_string_equal(mc.password, "zz9-env");
    setenv("MCDC_SECRET_TEST_PW", "zz9-rotated", 1);
    if (resolve(text, NULL, &mc, &held, &err)) fail_msg("%s", err.msg);
    assert_string_equal(mc.password, "zz9-rotated");
    unsetenv("MCDC_SECRET_TEST_PW");
    /* A password given in the request is used as it is. */
    if (resolve(REF_CP("\"username\": \"u\", \"password\": \"p\""), NULL, &mc, &held, &err)) fail_msg("%s", err.msg);
    assert_string_equal(mc.password, "p");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_doc_example),   cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_credentials),         cmocka_unit_test(test_full_request),
        cmocka_unit_test(test_star_database),       cmocka_unit_test(test_errors_name_their_key),
        cmocka_unit_test(test_long_names),          cmocka_unit_test(test_secrets_stay_private),
        cmocka_unit_test(test_store_round_trip),
        cmocka_unit_test(test_snapshot_option),
        cmocka_unit_test(test_secret_refs_stored_not_secrets),
        cmocka_unit_test(test_secret_ref_refusals),
        cmocka_unit_test(test_secret_files_read_with_care),
        cmocka_unit_test(test_secret_env),
    };
    return cmocka_run_group_tests(tests, make_secrets_dir, remove_secrets_dir);
}
