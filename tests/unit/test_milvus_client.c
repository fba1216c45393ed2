/* test_milvus_client.c — the server-free parts of the Milvus client: how a
 * Status is classified, how delete expressions quote varchar keys, and that
 * large key lists are cut into expressions of bounded size that together
 * hold every key once; the paging expression "pk > key"; the Query request
 * as it goes on the wire (Strong, limit as a query parameter, partitions),
 * the page queries refused before a call, and which count(*) replies are
 * read as a count. */
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
#include "target/milvus_client.h"
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
    /* a drop refused while the target still counts our release as pending heals */
    assert_int_equal(milvus_status_class("DropPartition", 1, 65535, false,
                                         "partition cannot be dropped, partition is loaded, please release it first"),
                     MCDC_EUNAVAIL);
    assert_int_equal(milvus_status_class("DropCollection", 1, 65535, false, "partition is loaded"), MCDC_EREMOTE);
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

static void test_expr_pk_greater(void **state) {
    (void)state;
    mcdc_buf b = MCDC_BUF_INIT;
    milvus_expr_pk_greater(&b, "pk", false, 42, NULL);
    assert_string_equal(mcdc_buf_cstr(&b), "pk > 42");
    mcdc_buf_reset(&b);
    milvus_expr_pk_greater(&b, "id", false, INT64_MIN, "ignored");
    assert_string_equal(mcdc_buf_cstr(&b), "id > -9223372036854775808");
    /* The same quoting as a delete's varchar keys. */
    mcdc_buf_reset(&b);
    milvus_expr_pk_greater(&b, "name", true, 7, "a\"b\\c\n\xc3\xa9");
    assert_string_equal(mcdc_buf_cstr(&b), "name > \"a\\\"b\\\\c\\x0a\xc3\xa9\"");
    mcdc_buf_reset(&b);
    milvus_expr_pk_greater(&b, "name", true, 0, "");
    assert_string_equal(mcdc_buf_cstr(&b), "name > \"\"");
    mcdc_buf_reset(&b);
    milvus_expr_pk_greater(&b, "name", true, 0, NULL);
    assert_string_equal(mcdc_buf_cstr(&b), "name > \"\"");
    /* It appends, so a caller can put a filter of its own in front. */
    mcdc_buf_reset(&b);
    mcdc_buf_printf(&b, "(x == 1) && ");
    milvus_expr_pk_greater(&b, "pk", false, -3, NULL);
    assert_string_equal(mcdc_buf_cstr(&b), "(x == 1) && pk > -3");
    mcdc_buf_free(&b);
}

/* The request through the wire: what the proxy would decode. */
static Milvus__Proto__Milvus__QueryRequest *through_wire(const milvus_query_req *q) {
    size_t len = milvus__proto__milvus__query_request__get_packed_size(&q->req);
    uint8_t *buf = malloc(len ? len : 1);
    milvus__proto__milvus__query_request__pack(&q->req, buf);
    Milvus__Proto__Milvus__QueryRequest *r = milvus__proto__milvus__query_request__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(r);
    return r;
}

static void test_query_request(void **state) {
    (void)state;
    const char *parts[] = {"p1", "_default"};
    const char *fields[] = {"pk", "vec", "$meta"};
    milvus_query_req q;
    milvus_query_req_init(&q, "db1", "c1", parts, 2, "pk > 10", fields, 3, 500);
    Milvus__Proto__Milvus__QueryRequest *r = through_wire(&q);
    assert_string_equal(r->db_name, "db1");
    assert_string_equal(r->collection_name, "c1");
    assert_string_equal(r->expr, "pk > 10");
    assert_int_equal(r->n_partition_names, 2);
    assert_string_equal(r->partition_names[0], "p1");
    assert_string_equal(r->partition_names[1], "_default");
    assert_int_equal(r->n_output_fields, 3);
    assert_string_equal(r->output_fields[2], "$meta");
    assert_int_equal(r->consistency_level, MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Strong);
    assert_false(r->use_default_consistency);
    /* The limit is the one query parameter: no reduce_stop_for_best, no
     * offset. */
    assert_int_equal(r->n_query_params, 1);
    assert_string_equal(r->query_params[0]->key, "limit");
    assert_string_equal(r->query_params[0]->value, "500");
    milvus__proto__milvus__query_request__free_unpacked(r, NULL);

    /* No limit, no partitions: neither goes on the wire. */
    milvus_query_req_init(&q, NULL, "c1", NULL, 0, NULL, fields, 1, 0);
    r = through_wire(&q);
    assert_string_equal(r->db_name, "");
    assert_string_equal(r->expr, "");
    assert_int_equal(r->n_query_params, 0);
    assert_int_equal(r->n_partition_names, 0);
    assert_int_equal(r->consistency_level, MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Strong);
    milvus__proto__milvus__query_request__free_unpacked(r, NULL);

    milvus_query_req_init(&q, "d", "c", NULL, 0, "", NULL, 0, MILVUS_QUERY_WINDOW);
    r = through_wire(&q);
    assert_string_equal(r->query_params[0]->value, "16384");
    milvus__proto__milvus__query_request__free_unpacked(r, NULL);
}

static void test_query_page_refusals(void **state) {
    (void)state;
    mcdc_err err = {0};
    assert_int_equal(milvus_query_page_check("", 0, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "empty expression"));
    assert_int_equal(milvus_query_page_check(NULL, 0, &err), -1);
    assert_int_equal(milvus_query_page_check("pk > 1", -1, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "-1"));
    assert_int_equal(milvus_query_page_check("pk > 1", MILVUS_QUERY_WINDOW + 1, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "16385"));
    assert_int_equal(milvus_query_page_check("", MILVUS_QUERY_WINDOW + 1, &err), -1);
    /* What Milvus answers. */
    assert_int_equal(milvus_query_page_check("", 1, &err), 0);
    assert_int_equal(milvus_query_page_check("", MILVUS_QUERY_WINDOW, &err), 0);
    assert_int_equal(milvus_query_page_check("pk > 1", 0, &err), 0);
    assert_int_equal(milvus_query_page_check("pk > 1", 100, &err), 0);
}

/* A count(*) reply as the proxy sends it, then changed by the caller. */
typedef struct count_reply {
    int64_t values[2];
    Milvus__Proto__Schema__LongArray longs;
    Milvus__Proto__Schema__IntArray ints;
    Milvus__Proto__Schema__ScalarField scalars;
    Milvus__Proto__Schema__FieldData col, other;
    Milvus__Proto__Schema__FieldData *cols[2];
    Milvus__Proto__Milvus__QueryResults r;
} count_reply;

static void count_reply_init(count_reply *c, int64_t n) {
    memset(c, 0, sizeof *c);
    c->values[0] = n;
    milvus__proto__schema__long_array__init(&c->longs);
    c->longs.n_data = 1;
    c->longs.data = c->values;
    milvus__proto__schema__int_array__init(&c->ints);
    milvus__proto__schema__scalar_field__init(&c->scalars);
    c->scalars.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    c->scalars.long_data = &c->longs;
    milvus__proto__schema__field_data__init(&c->col);
    c->col.type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    c->col.field_name = "count(*)";
    c->col.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    c->col.scalars = &c->scalars;
    c->other = c->col;
    c->cols[0] = &c->col;
    c->cols[1] = &c->other;
    milvus__proto__milvus__query_results__init(&c->r);
    c->r.n_fields_data = 1;
    c->r.fields_data = c->cols;
}

/* The reply's reading, and on a refusal that the message names `word`. */
static int read_count(const count_reply *c, uint64_t *n, const char *word) {
    mcdc_err err = {0};
    int rc = milvus_count_reply(&c->r, n, &err);
    if (rc) {
        assert_int_equal(err.code, MCDC_EREMOTE);
        if (!strstr(err.msg, word)) fail_msg("'%s' does not name '%s'", err.msg, word);
    }
    return rc;
}

/* A Flush reply as 2.3.5 sends it for the names asked: each name in both
 * lists, with its sealed and its flushed segment ids. */
typedef struct {
    Milvus__Proto__Milvus__FlushResponse r;
    Milvus__Proto__Milvus__FlushResponse__CollSegIdsEntry sealed[2], *sealed_p[2];
    Milvus__Proto__Milvus__FlushResponse__FlushCollSegIdsEntry flushed[2], *flushed_p[2];
    Milvus__Proto__Schema__LongArray ids[4];
    int64_t data[4][4]; /* up to 4 ids a list */
} flush_reply;

static void flush_reply_init(flush_reply *f, const char *a, size_t a_sealed, size_t a_flushed, const char *b,
                             size_t b_sealed, size_t b_flushed) {
    memset(f, 0, sizeof *f);
    f->r = (Milvus__Proto__Milvus__FlushResponse)MILVUS__PROTO__MILVUS__FLUSH_RESPONSE__INIT;
    const char *names[2] = {a, b};
    size_t counts[2][2] = {{a_sealed, a_flushed}, {b_sealed, b_flushed}};
    for (size_t i = 0; i < 2; i++) {
        for (size_t k = 0; k < 2; k++) {
            Milvus__Proto__Schema__LongArray *ids = &f->ids[2 * i + k];
            *ids = (Milvus__Proto__Schema__LongArray)MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
            ids->data = f->data[2 * i + k];
            ids->n_data = counts[i][k];
            for (size_t j = 0; j < counts[i][k]; j++) ids->data[j] = (int64_t)(100 * i + 10 * k + j);
        }
        f->sealed[i] = (Milvus__Proto__Milvus__FlushResponse__CollSegIdsEntry)
            MILVUS__PROTO__MILVUS__FLUSH_RESPONSE__COLL_SEG_IDS_ENTRY__INIT;
        f->sealed[i].key = (char *)names[i];
        f->sealed[i].value = &f->ids[2 * i];
        f->sealed_p[i] = &f->sealed[i];
        f->flushed[i] = (Milvus__Proto__Milvus__FlushResponse__FlushCollSegIdsEntry)
            MILVUS__PROTO__MILVUS__FLUSH_RESPONSE__FLUSH_COLL_SEG_IDS_ENTRY__INIT;
        f->flushed[i].key = (char *)names[i];
        f->flushed[i].value = &f->ids[2 * i + 1];
        f->flushed_p[i] = &f->flushed[i];
    }
    f->r.coll_seg_ids = f->sealed_p;
    f->r.flush_coll_seg_ids = f->flushed_p;
    f->r.n_coll_seg_ids = f->r.n_flush_coll_seg_ids = b ? 2 : 1;
}

static void test_flush_reply_segments(void **state) {
    (void)state;
    flush_reply f;
    size_t n = 9;
    mcdc_err err;
    /* Empty lists for the name asked: no segment, an answer. */
    flush_reply_init(&f, "c", 0, 0, NULL, 0, 0);
    assert_int_equal(milvus_flush_reply_segments(&f.r, "c", &n, &err), 0);
    assert_int_equal(n, 0);
    /* Sealed and flushed both count; another name's do not. */
    flush_reply_init(&f, "other", 3, 3, "c", 1, 2);
    assert_int_equal(milvus_flush_reply_segments(&f.r, "c", &n, &err), 0);
    assert_int_equal(n, 3);
    flush_reply_init(&f, "c", 0, 1, NULL, 0, 0);
    assert_int_equal(milvus_flush_reply_segments(&f.r, "c", &n, &err), 0);
    assert_int_equal(n, 1);
    /* A list entry with no value is an empty list. */
    flush_reply_init(&f, "c", 2, 0, NULL, 0, 0);
    f.sealed[0].value = NULL;
    assert_int_equal(milvus_flush_reply_segments(&f.r, "c", &n, &err), 0);
    assert_int_equal(n, 0);
    /* The name missing from a list, or from both: no answer, never "none". */
    flush_reply_init(&f, "other", 0, 0, NULL, 0, 0);
    n = 9;
    assert_int_equal(milvus_flush_reply_segments(&f.r, "c", &n, &err), -1);
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "segment lists"));
    assert_int_equal(n, 0);
    flush_reply_init(&f, "c", 0, 0, NULL, 0, 0);
    f.r.n_flush_coll_seg_ids = 0;
    assert_int_equal(milvus_flush_reply_segments(&f.r, "c", &n, &err), -1);
    assert_non_null(strstr(err.msg, "flushed segments"));
    flush_reply_init(&f, "c", 4, 0, NULL, 0, 0);
    f.r.n_coll_seg_ids = 0;
    assert_int_equal(milvus_flush_reply_segments(&f.r, "c", &n, &err), -1);
    assert_non_null(strstr(err.msg, "sealed segments"));
    assert_int_equal(n, 0);
}

static void test_count_reply(void **state) {
    (void)state;
    count_reply c;
    uint64_t n = 1;
    count_reply_init(&c, 496);
    assert_int_equal(read_count(&c, &n, ""), 0);
    assert_int_equal(n, 496);
    count_reply_init(&c, 0);
    assert_int_equal(read_count(&c, &n, ""), 0);
    assert_int_equal(n, 0);

    count_reply_init(&c, 5);
    c.r.n_fields_data = 0;
    assert_int_equal(read_count(&c, &n, "0 columns"), -1);
    assert_int_equal(n, 0);
    count_reply_init(&c, 5);
    c.r.n_fields_data = 2;
    assert_int_equal(read_count(&c, &n, "2 columns"), -1);
    count_reply_init(&c, 5);
    c.col.field_name = "pk";
    assert_int_equal(read_count(&c, &n, "'pk'"), -1);
    count_reply_init(&c, 5);
    c.col.type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    assert_int_equal(read_count(&c, &n, "VarChar"), -1);
    count_reply_init(&c, 5);
    c.scalars.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
    c.scalars.int_data = &c.ints;
    assert_int_equal(read_count(&c, &n, "int_data"), -1);
    count_reply_init(&c, 5);
    c.col.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD__NOT_SET;
    assert_int_equal(read_count(&c, &n, "no data"), -1);
    count_reply_init(&c, 5);
    c.longs.n_data = 2;
    assert_int_equal(read_count(&c, &n, "2 values"), -1);
    count_reply_init(&c, 5);
    c.longs.n_data = 0;
    assert_int_equal(read_count(&c, &n, "0 values"), -1);
    count_reply_init(&c, -1);
    assert_int_equal(read_count(&c, &n, "-1"), -1);

    /* And as it comes off the wire. */
    count_reply_init(&c, 1234567);
    size_t len = milvus__proto__milvus__query_results__get_packed_size(&c.r);
    uint8_t *buf = malloc(len);
    milvus__proto__milvus__query_results__pack(&c.r, buf);
    Milvus__Proto__Milvus__QueryResults *r = milvus__proto__milvus__query_results__unpack(NULL, len, buf);
    free(buf);
    mcdc_err err = {0};
    assert_int_equal(milvus_count_reply(r, &n, &err), 0);
    assert_int_equal(n, 1234567);
    milvus__proto__milvus__query_results__free_unpacked(r, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_classes),
        cmocka_unit_test(test_quote_escapes),
        cmocka_unit_test(test_expr_int_and_str),
        cmocka_unit_test(test_expr_chunks),
        cmocka_unit_test(test_expr_pk_greater),
        cmocka_unit_test(test_query_request),
        cmocka_unit_test(test_query_page_refusals),
        cmocka_unit_test(test_count_reply),
        cmocka_unit_test(test_flush_reply_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
