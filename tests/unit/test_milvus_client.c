/* test_milvus_client.c — the server-free parts of the Milvus client: how a
 * Status is classified, how delete expressions quote varchar keys, and that
 * large key lists are cut into expressions of bounded size that together
 * hold every key once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "model/change.h"
#include "target/milvus_util.h"

static void test_status_classes(void **state) {
    (void)state;
    /* retriable server states and rate limits */
    assert_int_equal(milvus_status_class("Insert", 1, 1, true, "service not ready"), MCDC_EUNAVAIL);
    assert_int_equal(milvus_status_class("Insert", 1, 2, true, "service unavailable"), MCDC_EUNAVAIL);
    assert_int_equal(milvus_status_class("Insert", 49, 4, true, "request limit exceeded"), MCDC_ERATELIMIT);
    assert_int_equal(milvus_status_class("Insert", 49, 8, false, "rate limit exceeded"), MCDC_ERATELIMIT);
    assert_int_equal(milvus_status_class("Insert", 49, 0, false, "legacy rate limit"), MCDC_ERATELIMIT);
    assert_int_equal(milvus_status_class("Insert", 56, 0, false, "legacy not ready"), MCDC_EUNAVAIL);
    /* retriable=true wins over any other reading of the code */
    assert_int_equal(milvus_status_class("Insert", 1, 65535, true, "try again"), MCDC_EUNAVAIL);
    /* not found */
    assert_int_equal(milvus_status_class("Insert", 4, 100, false, "collection not found"), MCDC_ENOTFOUND);
    assert_int_equal(milvus_status_class("Insert", 1, 200, false, "partition not found"), MCDC_ENOTFOUND);
    assert_int_equal(milvus_status_class("DropIndex", 1, 700, false, "index not found"), MCDC_ENOTFOUND);
    assert_int_equal(milvus_status_class("Insert", 1, 800, false, "database not found"), MCDC_ENOTFOUND);
    assert_int_equal(milvus_status_class("DropAlias", 1, 1600, false, "alias not found"), MCDC_ENOTFOUND);
    assert_int_equal(milvus_status_class("Insert", 4, 0, false, "legacy collection not exists"), MCDC_ENOTFOUND);
    /* exists */
    assert_int_equal(milvus_status_class("CreateIndex", 1, 702, false, "index duplicates"), MCDC_EEXIST);
    assert_int_equal(milvus_status_class("CreateAlias", 1, 1602, false, "alias already exist"), MCDC_EEXIST);
    assert_int_equal(milvus_status_class("CreateDatabase", 1, 65535, false, "database already exist: d"),
                     MCDC_EEXIST);
    assert_int_equal(milvus_status_class("CreatePartition", 1, 0, false, "Partition Already Exist"), MCDC_EEXIST);
    assert_int_equal(milvus_status_class("CreateCollection", 1, 65535, false,
                                         "create duplicate collection with different parameters, collection: c"),
                     MCDC_EEXIST);
    /* "already exist" outside a create is not a duplicate of ours */
    assert_int_equal(milvus_status_class("Insert", 1, 65535, false, "row already exists"), MCDC_EREMOTE);
    /* code 4 in the new field is a rate limit, never the legacy "not exists" */
    assert_int_equal(milvus_status_class("Query", 1, 101, false, "collection not loaded"), MCDC_EREMOTE);
    assert_int_equal(milvus_status_class("Insert", 5, 1100, false, "invalid parameter"), MCDC_EREMOTE);
    assert_int_equal(milvus_status_class("Insert", 1, 0, false, NULL), MCDC_EREMOTE);
}

static void test_quote_escapes(void **state) {
    (void)state;
    mcdc_buf b = MCDC_BUF_INIT;
    const char in[] = "a\"b\\c'd\x01\n\x7f\xc3\xa9";
    milvus_quote_str(&b, in, sizeof in - 1);
    assert_string_equal(mcdc_buf_cstr(&b), "\"a\\\"b\\\\c'd\\x01\\x0a\\x7f\xc3\xa9\"");
    mcdc_buf_reset(&b);
    milvus_quote_str(&b, "", 0);
    assert_string_equal(mcdc_buf_cstr(&b), "\"\"");
    mcdc_buf_free(&b);
}

static void test_expr_int_and_str(void **state) {
    (void)state;
    int64_t keys[] = {1, -2, INT64_MAX};
    Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    la.n_data = 3;
    la.data = keys;
    Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
    ids.int_id = &la;
    mcdc_buf b = MCDC_BUF_INIT;
    assert_int_equal(milvus_expr_ids(&b, "pk", &ids, 0, MILVUS_EXPR_MAX_BYTES), 3);
    assert_string_equal(mcdc_buf_cstr(&b), "pk in [1,-2,9223372036854775807]");

    char *skeys[] = {"a\"b", "c\\d", "\xc3\xa9", "x'y"};
    Milvus__Proto__Schema__StringArray sa = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    sa.n_data = 4;
    sa.data = skeys;
    Milvus__Proto__Schema__IDs sids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    sids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
    sids.str_id = &sa;
    mcdc_buf_reset(&b);
    assert_int_equal(change_ids_count(&sids), 4);
    assert_int_equal(milvus_expr_ids(&b, "name", &sids, 0, MILVUS_EXPR_MAX_BYTES), 4);
    assert_string_equal(mcdc_buf_cstr(&b), "name in [\"a\\\"b\",\"c\\\\d\",\"\xc3\xa9\",\"x'y\"]");

    Milvus__Proto__Schema__IDs none = MILVUS__PROTO__SCHEMA__IDS__INIT;
    assert_int_equal(change_ids_count(&none), 0);
    assert_int_equal(change_ids_count(NULL), 0);
    mcdc_buf_free(&b);
}

/* Chunks stay within the limit, take every key exactly once and in order,
 * and a key longer than the limit still goes out alone. */
static void test_expr_chunks(void **state) {
    (void)state;
    size_t n = 100000;
    int64_t *keys = malloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++) keys[i] = (int64_t)(1000000000000 + i);
    Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    la.n_data = n;
    la.data = keys;
    Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
    ids.int_id = &la;
    const size_t limit = 64 * 1024;
    mcdc_buf b = MCDC_BUF_INIT;
    size_t next = 0, chunks = 0;
    int64_t expect = keys[0];
    while (next < n) {
        mcdc_buf_reset(&b);
        size_t k = milvus_expr_ids(&b, "pk", &ids, next, limit);
        assert_true(k > 0);
        assert_true(b.len <= limit);
        const char *s = mcdc_buf_cstr(&b);
        assert_memory_equal(s, "pk in [", 7);
        assert_int_equal(s[b.len - 1], ']');
        /* Parse the chunk back: the keys must continue where the last ended. */
        const char *p = s + 7;
        for (size_t i = 0; i < k; i++) {
            char *end;
            long long v = strtoll(p, &end, 10);
            assert_int_equal(v, expect++);
            p = end + 1;
        }
        next += k;
        chunks++;
    }
    assert_int_equal(expect, keys[n - 1] + 1);
    assert_true(chunks > 10);

    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *skeys[] = {big, "y"};
    Milvus__Proto__Schema__StringArray sa = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    sa.n_data = 2;
    sa.data = skeys;
    Milvus__Proto__Schema__IDs sids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    sids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
    sids.str_id = &sa;
    mcdc_buf_reset(&b);
    assert_int_equal(milvus_expr_ids(&b, "pk", &sids, 0, 100), 1);
    mcdc_buf_reset(&b);
    assert_int_equal(milvus_expr_ids(&b, "pk", &sids, 1, 100), 1);
    assert_string_equal(mcdc_buf_cstr(&b), "pk in [\"y\"]");
    mcdc_buf_free(&b);
    free(keys);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_classes),
        cmocka_unit_test(test_quote_escapes),
        cmocka_unit_test(test_expr_int_and_str),
        cmocka_unit_test(test_expr_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
