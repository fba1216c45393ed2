/* test_imports.c — bulk inserts without servers: import task records built
 * with the generated protobuf-c code the way Milvus 2.3's RootCoord writes
 * them (importJob, updateTaskInfo, setImportTaskStateAndReason) and taken
 * apart by source/imports.c; damaged records refused with an error; and
 * pipeline/bulk_inserts.c deciding what a task lists and logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "logcapture.h"

#include "base/buf.h"
#include "base/log.h"
#include "import_task.pb-c.h"
#include "pipeline/bulk_inserts.h"
#include "source/imports.h"

/* ---- records as RootCoord writes them ------------------------------------------------ */

typedef struct record {
    int64_t id, coll;
    int state;
    int64_t rows;
    const char *file;
} record;

/* A row-based import of one JSON file after the datanode reported: what
 * persistTaskInfo marshals. */
static uint8_t *pack_record(const record *r, size_t *len) {
    Milvus__Proto__Data__ImportTaskState st = MILVUS__PROTO__DATA__IMPORT_TASK_STATE__INIT;
    st.state_code = (Milvus__Proto__Data__ImportState)r->state;
    int64_t segs[2] = {447000000000000101, 447000000000000102};
    if (r->rows) {
        st.segments = segs;
        st.n_segments = 2;
    }
    st.row_count = r->rows;
    st.error_message = r->state == IMPORT_FAILED ? "task marked failed as service restarted" : "";

    Milvus__Proto__Common__KeyValuePair kv1 = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    kv1.key = "progress_percent";
    kv1.value = "100";
    Milvus__Proto__Common__KeyValuePair kv2 = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
    kv2.key = "persist_cost";
    kv2.value = "0.12";
    Milvus__Proto__Common__KeyValuePair *infos[2] = {&kv1, &kv2};

    Milvus__Proto__Data__ImportTaskInfo ti = MILVUS__PROTO__DATA__IMPORT_TASK_INFO__INIT;
    ti.id = r->id;
    ti.datanode_id = 7;
    ti.collection_id = r->coll;
    ti.partition_id = r->coll + 1;
    char *channels[2] = {"by-dev-rootcoord-dml_0_447v0", "by-dev-rootcoord-dml_1_447v1"};
    ti.channel_names = channels;
    ti.n_channel_names = 2;
    ti.row_based = true;
    char *files[1] = {(char *)r->file};
    ti.files = files;
    ti.n_files = 1;
    ti.create_ts = 1714557600;
    ti.state = &st;
    ti.collection_name = "books";
    ti.partition_name = "_default";
    ti.infos = infos;
    ti.n_infos = 2;
    ti.start_ts = 1714557601;
    *len = milvus__proto__data__import_task_info__get_packed_size(&ti);
    uint8_t *buf = mcdc_xmalloc(*len + 16);
    milvus__proto__data__import_task_info__pack(&ti, buf);
    return buf;
}

static void test_decode_completed(void **state) {
    (void)state;
    record r = {448123456789012345, 447000000000000001, IMPORT_COMPLETED, 1000, "bulk/rows.json"};
    size_t len;
    uint8_t *v = pack_record(&r, &len);
    import_task t;
    mcdc_err err;
    assert_int_equal(import_task_decode("448123456789012345", v, len, &t, &err), 0);
    assert_true(t.id == r.id);
    assert_true(t.collection_id == r.coll);
    assert_true(t.partition_id == r.coll + 1);
    assert_string_equal(t.collection_name, "books");
    assert_string_equal(t.partition_name, "_default");
    assert_int_equal(t.state, IMPORT_COMPLETED);
    assert_string_equal(import_state_name(t.state), "ImportCompleted");
    assert_true(t.rows == 1000);
    assert_int_equal(t.n_files, 1);
    assert_string_equal(t.files[0], "bulk/rows.json");
    assert_int_equal(t.n_segments, 2);
    assert_true(t.create_unix_s == 1714557600);
    assert_string_equal(t.error_message, "");
    import_task_free(&t);
    import_task_free(&t); /* freeing twice is harmless: it is zeroed */
    free(v);
}

static void test_states(void **state) {
    (void)state;
    static const struct {
        int state;
        const char *name;
        bool rows;
    } want[] = {
        {IMPORT_PENDING, "ImportPending", false},     {IMPORT_FAILED, "ImportFailed", false},
        {IMPORT_STARTED, "ImportStarted", false},     {IMPORT_PERSISTED, "ImportPersisted", true},
        {IMPORT_COMPLETED, "ImportCompleted", true},  {IMPORT_FAILED_AND_CLEANED, "ImportFailedAndCleaned", false},
        {3, "ImportUnknown", false},                  {100, "ImportUnknown", false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(import_state_name(want[i].state), want[i].name);
        assert_int_equal(import_state_has_rows(want[i].state), want[i].rows);
        /* Through the wire, unknown numbers too. */
        record r = {5, 6, want[i].state, want[i].rows ? 10 : 0, "a.json"};
        size_t len;
        uint8_t *v = pack_record(&r, &len);
        import_task t;
        mcdc_err err;
        assert_int_equal(import_task_decode("5", v, len, &t, &err), 0);
        assert_int_equal(t.state, want[i].state);
        if (want[i].state == IMPORT_FAILED) assert_string_equal(t.error_message, "task marked failed as service restarted");
        import_task_free(&t);
        free(v);
    }
}

/* importJob's first write: a Pending task with only what the request gave.
 * A record with no state at all reads as Pending (proto3's zero). */
static void test_pending_and_bare(void **state) {
    (void)state;
    Milvus__Proto__Data__ImportTaskInfo ti = MILVUS__PROTO__DATA__IMPORT_TASK_INFO__INIT;
    ti.id = 42;
    ti.collection_id = 9;
    uint8_t buf[64];
    size_t len = milvus__proto__data__import_task_info__pack(&ti, buf);
    import_task t;
    mcdc_err err;
    assert_int_equal(import_task_decode("42", buf, len, &t, &err), 0);
    assert_int_equal(t.state, IMPORT_PENDING);
    assert_true(t.rows == 0);
    assert_int_equal(t.n_files, 0);
    assert_null(t.files);
    assert_string_equal(t.collection_name, "");
    import_task_free(&t);
}

/* Some Milvus versions add database_name = 16: skipped, the rest read. */
static void test_unknown_field(void **state) {
    (void)state;
    record r = {77, 8, IMPORT_PERSISTED, 3, "x.json"};
    size_t len;
    uint8_t *v = pack_record(&r, &len);
    static const uint8_t db_field[] = {0x82, 0x01, 0x03, 'd', 'b', '1'}; /* field 16, bytes */
    memcpy(v + len, db_field, sizeof db_field);
    import_task t;
    mcdc_err err;
    assert_int_equal(import_task_decode("77", v, len + sizeof db_field, &t, &err), 0);
    assert_int_equal(t.state, IMPORT_PERSISTED);
    assert_true(t.rows == 3);
    import_task_free(&t);
    free(v);
}

static void expect_refused(const char *key, const uint8_t *v, size_t len, const char *msg_part) {
    import_task t;
    mcdc_err err = {0};
    assert_int_equal(import_task_decode(key, v, len, &t, &err), -1);
    assert_int_equal(err.code, MCDC_EDECODE);
    if (!strstr(err.msg, msg_part)) fail_msg("'%s' not in '%s'", msg_part, err.msg);
    /* Nothing to free, and freeing is still safe. */
    assert_null(t.collection_name);
    assert_null(t.files);
    import_task_free(&t);
}

static void test_damaged(void **state) {
    (void)state;
    record r = {448000000000000001, 447000000000000001, IMPORT_COMPLETED, 1000, "rows.json"};
    size_t len;
    uint8_t *v = pack_record(&r, &len);
    /* Every truncation either decodes to something well-formed or is refused. */
    for (size_t cut = 0; cut < len; cut++) {
        import_task t;
        mcdc_err err;
        if (import_task_decode("448000000000000001", v, cut, &t, &err) == 0) {
            assert_true(t.collection_name && t.partition_name && t.error_message);
            assert_true(t.n_files == 0 || t.files);
        } else {
            assert_int_equal(err.code, MCDC_EDECODE);
        }
        import_task_free(&t);
    }
    /* A length that runs past the end: field 12 (string) claims 200 bytes. */
    static const uint8_t overrun[] = {0x08, 0x01, 0x62, 0xc8, 0x01, 'b', 'o'};
    expect_refused("1", overrun, sizeof overrun, "not an ImportTaskInfo");
    /* Not protobuf at all (JSON where bytes belong). */
    static const char json[] = "{\"id\": 1}";
    expect_refused("1", (const uint8_t *)json, strlen(json), "not an ImportTaskInfo");
    /* The value of another task than its key names. */
    expect_refused("448000000000000002", v, len, "names task 448000000000000001");
    /* Keys that are no task id. */
    expect_refused("", v, len, "not a task id");
    expect_refused("abc", v, len, "not a task id");
    expect_refused("448000000000000001/x", v, len, "not a task id");
    expect_refused("-1", v, len, "not a task id");
    expect_refused("0448", v, len, "not a task id");
    expect_refused("99999999999999999999", v, len, "not a task id");
    expect_refused(NULL, v, len, "not a task id");
    free(v);
}

/* ---- what a task lists --------------------------------------------------------------- */

/* Collections 1 ("default.books") and 2 ("db2.films") are covered; 3 is not. */
static bool fake_covers(void *ud, int64_t id, char *name, size_t cap) {
    int *calls = ud;
    (*calls)++;
    if (id == 1) snprintf(name, cap, "default.books");
    else if (id == 2) snprintf(name, cap, "db2.films");
    return id == 1 || id == 2;
}

static void add(import_list *l, int64_t id, int64_t coll, int state, int64_t rows) {
    l->items = mcdc_xrealloc(l->items, (l->n + 1) * sizeof *l->items);
    l->items[l->n++] = (import_task){.id = id, .collection_id = coll, .state = state, .rows = rows};
}


static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void test_task_lists_landed_imports(void **state) {
    (void)state;
    bulk_inserts *b = bulk_inserts_new("t1");
    int calls = 0;
    import_list l = {0};
    add(&l, 100, 1, IMPORT_PERSISTED, 1000);  /* covered, landed */
    add(&l, 101, 3, IMPORT_COMPLETED, 50);    /* not covered */
    add(&l, 102, 2, IMPORT_STARTED, 0);       /* covered, not landed yet */
    add(&l, 103, 1, IMPORT_FAILED, 0);        /* failed before landing */
    log_capture cap;
    log_capture_start(&cap, MCDC_LOG_INFO);
    bulk_inserts_apply(b, &l, fake_covers, &calls);
    char *log = log_capture_end(&cap);
    assert_int_equal(calls, 2); /* only landed imports are looked up */
    assert_int_equal(count(log, "bulk insert"), 1);
    assert_non_null(strstr(log, "WARN"));
    assert_non_null(strstr(log, "task t1: collection default.books: bulk insert (import task 100, ImportPersisted, "
                                "1000 rows)"));
    assert_non_null(strstr(log, "not replicated"));
    free(log);
    task_bulk_insert *list;
    size_t n;
    bulk_inserts_copy(b, &list, &n);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].collection, "default.books");
    assert_true(list[0].import_task == 100);
    assert_string_equal(list[0].state, "ImportPersisted");
    assert_true(list[0].rows == 1000);
    task_bulk_inserts_free(list, n);

    /* The next read: 100 completed, 102 landed. One new line, for 102 alone. */
    l.items[0].state = IMPORT_COMPLETED;
    l.items[2].state = IMPORT_COMPLETED;
    l.items[2].rows = 7;
    log_capture_start(&cap, MCDC_LOG_INFO);
    bulk_inserts_apply(b, &l, fake_covers, &calls);
    log = log_capture_end(&cap);
    assert_int_equal(count(log, "bulk insert"), 1);
    assert_non_null(strstr(log, "collection db2.films: bulk insert (import task 102, ImportCompleted, 7 rows)"));
    free(log);
    bulk_inserts_copy(b, &list, &n);
    assert_int_equal(n, 2);
    assert_true(list[0].import_task == 100 && list[1].import_task == 102); /* in the order found */
    assert_string_equal(list[0].state, "ImportCompleted");
    task_bulk_inserts_free(list, n);

    /* The source forgot 102 (retention): still listed, its rows are still missing.
     * 100 failed after landing: its segments are dropped on the source, it leaves. */
    import_list l2 = {0};
    add(&l2, 100, 1, IMPORT_FAILED_AND_CLEANED, 1000);
    log_capture_start(&cap, MCDC_LOG_INFO);
    bulk_inserts_apply(b, &l2, fake_covers, &calls);
    log = log_capture_end(&cap);
    assert_non_null(strstr(log, "import task 100) is now ImportFailedAndCleaned"));
    free(log);
    bulk_inserts_copy(b, &list, &n);
    assert_int_equal(n, 1);
    assert_true(list[0].import_task == 102);
    task_bulk_inserts_free(list, n);

    import_list_free(&l);
    import_list_free(&l2);
    bulk_inserts_free(b);
    bulk_inserts_free(NULL);
}

static void test_empty(void **state) {
    (void)state;
    bulk_inserts *b = bulk_inserts_new("t1");
    task_bulk_insert *list = (task_bulk_insert *)1;
    size_t n = 9;
    bulk_inserts_copy(b, &list, &n);
    assert_null(list);
    assert_int_equal(n, 0);
    bulk_inserts_copy(NULL, &list, &n);
    assert_null(list);
    bulk_inserts_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_completed),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_pending_and_bare),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_task_lists_landed_imports),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
