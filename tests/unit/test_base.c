/* test_base.c — the base module: error values, buffer growth, backoff bounds,
 * hybrid timestamps, log level parsing, latency histograms, host:port
 * addresses, secret wiping, protobuf fields by name or number, base64, files
 * read into a buffer. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/addr.h"
#include "base/backoff.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/histogram.h"
#include "base/idmap.h"
#include "base/log.h"
#include "base/pbfield.h"
#include "base/secret.h"
#include "milvus.pb-c.h"
#include "msg.pb-c.h"

static int fails_with_context(mcdc_err *err) {
    if (mcdc_errf(err, MCDC_EDECODE, "column '%s' holds %d rows", "vec", 3) != -1) return 0;
    mcdc_err_prefix(err, "channel %s offset %d", "by-dev-rootcoord-dml_0", 42);
    return -1;
}

/* idmap: puts replace, deletes leave tombstones that lookups walk past and
 * growth drops; reserve makes room up front; clear empties and keeps it. */
static void test_idmap(void **state) {
    (void)state;
    idmap m = IDMAP_INIT;
    int v[3];
    assert_null(idmap_get(&m, 7));
    for (int64_t k = 0; k < 1000; k++) assert_null(idmap_put(&m, k * 0x100000000LL, &v[k % 3]));
    assert_int_equal(idmap_count(&m), 1000);
    assert_ptr_equal(idmap_put(&m, 5 * 0x100000000LL, &v[0]), &v[2]);
    for (int64_t k = 0; k < 1000; k += 2) assert_non_null(idmap_del(&m, k * 0x100000000LL));
    assert_null(idmap_del(&m, 0));
    assert_int_equal(idmap_count(&m), 500);
    for (int64_t k = 0; k < 1000; k++) assert_true((idmap_get(&m, k * 0x100000000LL) != NULL) == (k % 2 == 1));
    size_t seen = 0, it = 0;
    int64_t key;
    void *val;
    while (idmap_next(&m, &it, &key, &val)) {
        assert_true(key / 0x100000000LL % 2 == 1 && val);
        seen++;
    }
    assert_int_equal(seen, 500);

    /* Deleted slots still count against the fill until a rehash drops them. */
    assert_int_equal(m.filled, 1000);
    for (int64_t k = 0; k < 5000; k++) idmap_put(&m, -k - 1, &v[0]);
    assert_int_equal(idmap_count(&m), 5500);
    assert_int_equal(m.filled, 5500);
    for (int64_t k = 1; k < 1000; k += 2) assert_non_null(idmap_get(&m, k * 0x100000000LL));

    idmap_clear(&m);
    assert_int_equal(idmap_count(&m), 0);
    assert_null(idmap_get(&m, 0x100000000LL));
    idmap_reserve(&m, 6000);
    assert_true(m.cap >= 12000);
    size_t cap = m.cap;
    for (int64_t k = 0; k < 6000; k++) idmap_put(&m, -k, &v[0]);
    assert_int_equal(m.cap, cap); /* no growth while the reserved entries went in */
    assert_int_equal(idmap_count(&m), 6000);
    idmap_reserve(&m, 10); /* never shrinks */
    assert_int_equal(m.cap, cap);
    idmap_free(&m);
    assert_int_equal(m.cap, 0);
}

static void test_error_value_and_prefix(void **state) {
    (void)state;
    mcdc_err err = {0};
    assert_int_equal(fails_with_context(&err), -1);
    assert_int_equal(err.code, MCDC_EDECODE);
    assert_string_equal(err.msg, "channel by-dev-rootcoord-dml_0 offset 42: column 'vec' holds 3 rows");
    assert_string_equal(mcdc_code_name(err.code), "decode");
    mcdc_err_clear(&err);
    assert_int_equal(err.code, MCDC_OK);
    assert_string_equal(err.msg, "");
    /* A NULL err is allowed: the caller only wanted the return value. */
    assert_int_equal(mcdc_errf(NULL, MCDC_EINVAL, "x"), -1);
}

static void test_error_message_is_truncated_not_overflowed(void **state) {
    (void)state;
    mcdc_err err;
    char big[2 * MCDC_ERR_MSG_MAX];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mcdc_errf(&err, MCDC_EINVAL, "%s", big);
    assert_int_equal(strlen(err.msg), MCDC_ERR_MSG_MAX - 1);
    mcdc_err_prefix(&err, "ctx");
    assert_int_equal(strlen(err.msg), MCDC_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "ctx: aaa", 8);
}

static void test_transient_codes(void **state) {
    (void)state;
    assert_true(mcdc_err_is_transient(MCDC_EUNAVAIL));
    assert_true(mcdc_err_is_transient(MCDC_ETIMEOUT));
    assert_true(mcdc_err_is_transient(MCDC_ERATELIMIT));
    assert_false(mcdc_err_is_transient(MCDC_EDECODE));
    assert_false(mcdc_err_is_transient(MCDC_EREMOTE));
    assert_false(mcdc_err_is_transient(MCDC_EINVAL));
}

static void test_buf_grows_and_terminates(void **state) {
    (void)state;
    mcdc_buf b = MCDC_BUF_INIT;
    for (int i = 0; i < 1000; i++) mcdc_buf_printf(&b, "%d,", i);
    assert_true(b.cap >= b.len + 1);
    assert_memory_equal(b.data, "0,1,2,", 6);
    assert_int_equal(b.data[b.len - 1], ',');
    mcdc_buf_append(&b, "xyz", 3);
    assert_string_equal(mcdc_buf_cstr(&b) + b.len - 3, "xyz");
    size_t cap = b.cap;
    mcdc_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_string_equal(mcdc_buf_cstr(&b), "");
    mcdc_buf_putc(&b, 0);
    assert_int_equal(b.len, 1);
    mcdc_buf_free(&b);
    assert_null(b.data);
}

static void test_buf_read_file(void **state) {
    (void)state;
    char path[] = "/tmp/mcdc-test-buf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char text[20000]; /* more than one read's chunk */
    for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + i % 26);
    assert_int_equal(write(fd, text, sizeof text), (ssize_t)sizeof text);
    close(fd);
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_append(&b, ">", 1);
    assert_int_equal(mcdc_buf_read_file(&b, path), 0);
    assert_int_equal(b.len, 1 + sizeof text);
    assert_memory_equal(b.data + 1, text, sizeof text);
    unlink(path);
    mcdc_buf_reset(&b);
    errno = 0;
    assert_int_equal(mcdc_buf_read_file(&b, path), -1);
    assert_int_equal(errno, ENOENT);
    /* A directory opens but does not read. */
    assert_int_equal(mcdc_buf_read_file(&b, "/"), -2);
    assert_int_equal(errno, EISDIR);
    mcdc_buf_free(&b);
}

static void test_backoff_grows_within_bounds(void **state) {
    (void)state;
    mcdc_backoff bo;
    mcdc_backoff_init(&bo, 100, 5000);
    uint32_t prev_hi = 0;
    for (int i = 0; i < 20; i++) {
        uint64_t d = 100;
        for (int k = 0; k < i && d < 5000; k++) d *= 2;
        if (d > 5000) d = 5000;
        uint32_t got = mcdc_backoff_next(&bo);
        assert_in_range(got, d / 2, d);
        if (i > 10) assert_true(got >= 2500); /* capped, never shrinks back while failing */
        prev_hi = got;
    }
    (void)prev_hi;
    mcdc_backoff_reset(&bo);
    assert_in_range(mcdc_backoff_next(&bo), 50, 100);
}

static void test_hybrid_ts(void **state) {
    (void)state;
    /* A real TimeTick value from Milvus 2.3.5 (fixtures): 2026-11-24. */
    uint64_t ts = mcdc_ts_compose(1763980000123ULL, 7);
    assert_int_equal(mcdc_ts_physical_ms(ts), 1763980000123ULL);
    assert_int_equal(mcdc_ts_logical(ts), 7);
    assert_int_equal(ts >> 18, 1763980000123ULL);
    uint64_t a = mcdc_now_mono_ms();
    mcdc_sleep_ms(5);
    assert_true(mcdc_now_mono_ms() >= a + 5);
}

static void test_log_levels(void **state) {
    (void)state;
    mcdc_log_level l;
    assert_int_equal(mcdc_log_parse_level("debug", &l), 0);
    assert_int_equal(l, MCDC_LOG_DEBUG);
    assert_int_equal(mcdc_log_parse_level("WARN", &l), 0);
    assert_int_equal(l, MCDC_LOG_WARN);
    assert_int_equal(mcdc_log_parse_level("verbose", &l), -1);
    assert_int_equal(mcdc_log_parse_level(NULL, &l), -1);
    mcdc_log_set_level(MCDC_LOG_ERROR);
    assert_int_equal(mcdc_log_get_level(), MCDC_LOG_ERROR);
    log_info("not printed at level error");
    mcdc_log_set_level(MCDC_LOG_INFO);
}

/* Every value lands in the first bucket whose bound is >= it (Prometheus's
 * `le`), the text is cumulative, and the quantile is read inside the bucket
 * the rank falls in, never above the largest value seen. */
static void test_histogram_buckets_and_quantiles(void **state) {
    (void)state;
    mcdc_histogram h = {0};
    mcdc_histogram_init(&h, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    assert_int_equal(mcdc_histogram_count(&h), 0);
    assert_true(mcdc_histogram_quantile(&h, 0.99) == 0);
    for (int i = 0; i < 98; i++) mcdc_histogram_observe_us(&h, 200000); /* 0.2 s: bucket le=0.25 */
    mcdc_histogram_observe_us(&h, 1000000);                             /* exactly 1 s: le=1 */
    mcdc_histogram_observe_us(&h, 2000000);                             /* 2 s: le=2.5 */
    assert_int_equal(mcdc_histogram_count(&h), 100);
    assert_true(mcdc_histogram_max(&h) == 2.0);
    double p50 = mcdc_histogram_quantile(&h, 0.5), p99 = mcdc_histogram_quantile(&h, 0.99);
    assert_true(p50 > 0.1 && p50 <= 0.25);
    assert_true(p99 > 0.75 && p99 <= 1.0); /* rank 99 is the 1 s value, in (0.75, 1] */
    assert_true(mcdc_histogram_quantile(&h, 1.0) == 2.0); /* clamped to the max, not 2.5 */

    mcdc_buf b = {0};
    mcdc_histogram_write_prometheus(&h, &b, "x_seconds", "task_id=\"t\"");
    const char *txt = mcdc_buf_cstr(&b);
    assert_non_null(strstr(txt, "x_seconds_bucket{task_id=\"t\",le=\"0.1\"} 0\n"));
    assert_non_null(strstr(txt, "x_seconds_bucket{task_id=\"t\",le=\"0.25\"} 98\n"));
    assert_non_null(strstr(txt, "x_seconds_bucket{task_id=\"t\",le=\"1\"} 99\n"));
    assert_non_null(strstr(txt, "x_seconds_bucket{task_id=\"t\",le=\"1.5\"} 99\n"));
    assert_non_null(strstr(txt, "x_seconds_bucket{task_id=\"t\",le=\"2.5\"} 100\n"));
    assert_non_null(strstr(txt, "x_seconds_bucket{task_id=\"t\",le=\"+Inf\"} 100\n"));
    assert_non_null(strstr(txt, "x_seconds_sum{task_id=\"t\"} 22.600000\n"));
    assert_non_null(strstr(txt, "x_seconds_count{task_id=\"t\"} 100\n"));
    mcdc_buf_free(&b);

    mcdc_histogram big = {0};
    mcdc_histogram_init(&big, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    mcdc_histogram_observe_us(&big, 7200ULL * 1000000); /* two hours: past the last bound */
    mcdc_histogram_write_prometheus(&big, &b, "y", "");
    txt = mcdc_buf_cstr(&b);
    assert_non_null(strstr(txt, "y_bucket{le=\"3600\"} 0\n"));
    assert_non_null(strstr(txt, "y_bucket{le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(txt, "y_count 1\n"));
    assert_true(mcdc_histogram_quantile(&big, 0.5) > 3600 && mcdc_histogram_quantile(&big, 0.5) <= 7200);
    mcdc_buf_free(&b);

    /* Other bounds and units: milliseconds, as the HTTP API's request histogram. */
    static const double ms[] = {1, 2, 4};
    mcdc_histogram req = {0};
    mcdc_histogram_init(&req, ms, 3, 1000);
    mcdc_histogram_observe_us(&req, 1500);
    mcdc_histogram_observe_us(&req, 2000);
    mcdc_histogram_observe_us(&req, 9000);
    mcdc_histogram_write_prometheus(&req, &b, "r", "t=\"get\"");
    txt = mcdc_buf_cstr(&b);
    assert_non_null(strstr(txt, "r_bucket{t=\"get\",le=\"1\"} 0\nr_bucket{t=\"get\",le=\"2\"} 2\n"
                                "r_bucket{t=\"get\",le=\"4\"} 2\nr_bucket{t=\"get\",le=\"+Inf\"} 3\n"
                                "r_sum{t=\"get\"} 12.500000\nr_count{t=\"get\"} 3\n"));
    assert_true(mcdc_histogram_max(&req) == 9.0);
    mcdc_buf_free(&b);
}

static void *observe_many(void *h) {
    for (uint64_t i = 1; i <= 100000; i++) mcdc_histogram_observe_us(h, i % 3000000);
    return NULL;
}

/* Workers of many channels count into one task's histogram at once. */
static void test_histogram_counts_from_threads(void **state) {
    (void)state;
    mcdc_histogram h = {0};
    mcdc_histogram_init(&h, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, observe_many, &h), 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    assert_int_equal(mcdc_histogram_count(&h), 400000);
    assert_true(mcdc_histogram_max(&h) == 0.1);
}

static int addr_of(const char *s, unsigned flags, mcdc_addr *a, mcdc_err *err) {
    return mcdc_addr_parse(s, strlen(s), flags, 19530, a, err);
}

static void expect_addr_error(const char *s, unsigned flags, const char *want) {
    mcdc_addr a;
    mcdc_err err = {0};
    assert_int_equal(addr_of(s, flags, &a, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    if (!strstr(err.msg, want)) fail_msg("'%s': got '%s', want '%s'", s, err.msg, want);
}

static void test_addr_forms(void **state) {
    (void)state;
    mcdc_addr a;
    mcdc_err err = {0};
    char text[300];
    assert_int_equal(addr_of("milvus-1.local:19531", 0, &a, &err), 0);
    assert_string_equal(a.host, "milvus-1.local");
    assert_int_equal(a.port, 19531);
    assert_false(a.v6);
    assert_int_equal(addr_of("[fe80::1]:443", 0, &a, &err), 0);
    assert_string_equal(a.host, "fe80::1");
    assert_true(a.v6);
    mcdc_addr_format(&a, text, sizeof text);
    assert_string_equal(text, "[fe80::1]:443");
    /* Optional parts, each only when asked for. */
    assert_int_equal(addr_of("h", MCDC_ADDR_PORT_OPTIONAL, &a, &err), 0);
    assert_int_equal(a.port, 19530);
    assert_int_equal(addr_of("[::1]", MCDC_ADDR_PORT_OPTIONAL, &a, &err), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(addr_of(":8444", MCDC_ADDR_HOST_OPTIONAL, &a, &err), 0);
    assert_string_equal(a.host, "");
    assert_int_equal(addr_of("h:0", MCDC_ADDR_PORT_ZERO, &a, &err), 0);
    assert_int_equal(a.port, 0);
    assert_int_equal(addr_of("h:65535", 0, &a, &err), 0);
    /* Only the first len bytes count: lists are parsed in place. */
    assert_int_equal(mcdc_addr_parse("a:1,b:2", 3, 0, 0, &a, &err), 0);
    assert_string_equal(a.host, "a");
    assert_int_equal(a.port, 1);
}

static void test_addr_errors_say_what(void **state) {
    (void)state;
    expect_addr_error("h", 0, "the port is missing");
    expect_addr_error(":1", 0, "want a host name or IP address");
    expect_addr_error("h:0", 0, "want a port from 1 to 65535");
    expect_addr_error("h:65536", 0, "want a port from 1 to 65535");
    expect_addr_error("h:123456", 0, "want a port from 1 to 65535");
    expect_addr_error("h:", 0, "want a port from 1 to 65535");
    expect_addr_error("h:80x", 0, "want a port from 1 to 65535");
    expect_addr_error("h:-1", MCDC_ADDR_PORT_ZERO, "want a port from 0 to 65535");
    expect_addr_error("::1:80", 0, "IPv6 addresses go in [brackets]");
    expect_addr_error("[::1:80", 0, "unclosed '['");
    expect_addr_error("[zz]:80", 0, "want an IPv6 address in [brackets]");
    expect_addr_error("[]:80", 0, "want an IPv6 address in [brackets]");
    expect_addr_error("[::1]x", 0, "want host:port");
    expect_addr_error("h st:80", 0, "want a host name or IP address");
}

static void test_addr_list(void **state) {
    (void)state;
    mcdc_err err = {0};
    assert_int_equal(mcdc_addr_list_check("k1:9092", 0, &err), 0);
    assert_int_equal(mcdc_addr_list_check("k1:9092, k2:9093,[::1]:9094", 0, &err), 0);
    assert_int_equal(mcdc_addr_list_check("", 0, &err), -1);
    assert_int_equal(mcdc_addr_list_check("k1:9092,k2", 0, &err), -1);
    assert_string_equal(err.msg, "'k2': want host:port (the port is missing)");
    assert_int_equal(mcdc_addr_list_check("k1:9092,", 0, &err), 0);
    assert_int_equal(mcdc_addr_list_check(" , ", 0, &err), -1);
    assert_int_equal(mcdc_addr_list_check("p1,p2:6651", MCDC_ADDR_PORT_OPTIONAL, &err), 0);
}

static void test_secret_free(void **state) {
    (void)state;
    char buf[8] = "hunter2";
    mcdc_secret_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++) assert_int_equal(buf[i], 0);
    mcdc_secret_wipe(NULL, 3);
    mcdc_secret_free(NULL);
    mcdc_secret_free(mcdc_xstrdup("s3cret")); /* ASan: nothing leaks, nothing is freed twice */
}

/* ---- pbfield: a field of any request type, by name or number -------------------- */

static void test_pbfield_reads_and_replaces_by_name(void **state) {
    (void)state;
    Milvus__Proto__Milvus__HasCollectionRequest req = MILVUS__PROTO__MILVUS__HAS_COLLECTION_REQUEST__INIT;
    req.db_name = "db1";
    req.time_stamp = 7;
    assert_string_equal(pbfield_string(&req.base, "db_name"), "db1");
    assert_string_equal(pbfield_string(&req.base, "collection_name"), ""); /* unset: protobuf-c's empty string */
    assert_null(pbfield_string(&req.base, "partition_name"));             /* not a field of this type */
    assert_int_equal(pbfield_int64(&req.base, "time_stamp"), 0);         /* uint64, not int64: absent */
    assert_null(pbfield_slot(&req.base, "db_name", PROTOBUF_C_TYPE_BYTES));

    char **slot = pbfield_slot(&req.base, "collection_name", PROTOBUF_C_TYPE_STRING);
    assert_non_null(slot);
    *slot = "renamed";
    assert_string_equal(req.collection_name, "renamed");

    Milvus__Proto__Msg__DeleteRequest del = MILVUS__PROTO__MSG__DELETE_REQUEST__INIT;
    del.collection_id = 445566;
    assert_int_equal(pbfield_int64(&del.base, "collection_id"), 445566);

    /* A repeated field is not a singular one, whatever its element type. */
    Milvus__Proto__Milvus__FlushRequest fl = MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
    assert_null(pbfield_slot(&fl.base, "collection_names", PROTOBUF_C_TYPE_STRING));
    assert_null(pbfield_string(&fl.base, "collection_names"));
}

static void test_pbfield_message_by_number_and_type(void **state) {
    (void)state;
    Milvus__Proto__Common__Status st = MILVUS__PROTO__COMMON__STATUS__INIT;
    Milvus__Proto__Milvus__BoolResponse resp = MILVUS__PROTO__MILVUS__BOOL_RESPONSE__INIT;
    assert_null(pbfield_message(&resp.base, 1, NULL)); /* unset */
    resp.status = &st;
    assert_ptr_equal(pbfield_message(&resp.base, 1, &milvus__proto__common__status__descriptor), &st.base);
    assert_ptr_equal(pbfield_message(&resp.base, 1, NULL), &st.base);
    assert_null(pbfield_message(&resp.base, 1, &milvus__proto__common__msg_base__descriptor));
    assert_null(pbfield_message(&resp.base, 2, NULL)); /* a bool */
    assert_null(pbfield_message(&resp.base, 99, NULL));

    Milvus__Proto__Common__MsgBase mb = MILVUS__PROTO__COMMON__MSG_BASE__INIT;
    Milvus__Proto__Milvus__HasCollectionRequest req = MILVUS__PROTO__MILVUS__HAS_COLLECTION_REQUEST__INIT;
    req.msg_base = &mb;
    void **base = pbfield_slot_number(&req.base, 1, PROTOBUF_C_TYPE_MESSAGE);
    assert_ptr_equal(base, (void *)&req.msg_base);
    assert_null(pbfield_slot_number(&req.base, 2, PROTOBUF_C_TYPE_MESSAGE)); /* db_name is a string */
}

/* The authorization header's form (RFC 4648 with padding) and its way back. */
static void test_base64_both_ways(void **state) {
    (void)state;
    static const struct {
        const char *plain, *coded;
    } cases[] = {{"root:Milvus", "cm9vdDpNaWx2dXM="}, {"ab", "YWI="}, {"abc", "YWJj"}, {"", ""}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *e = mcdc_base64_encode(cases[i].plain, strlen(cases[i].plain));
        assert_string_equal(e, cases[i].coded);
        free(e);
        if (!cases[i].plain[0]) continue;
        uint8_t *d;
        long n = mcdc_base64_decode(cases[i].coded, &d);
        assert_int_equal(n, (long)strlen(cases[i].plain));
        assert_memory_equal(d, cases[i].plain, (size_t)n);
        free(d);
    }
    uint8_t *d;
    assert_int_equal(mcdc_base64_decode("abc", &d), -1);
    assert_null(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_value_and_prefix),
        cmocka_unit_test(test_idmap),
        cmocka_unit_test(test_error_message_is_truncated_not_overflowed),
        cmocka_unit_test(test_transient_codes),
        cmocka_unit_test(test_buf_grows_and_terminates),
        cmocka_unit_test(test_buf_read_file),
        cmocka_unit_test(test_backoff_grows_within_bounds),
        cmocka_unit_test(test_hybrid_ts),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_histogram_buckets_and_quantiles),
        cmocka_unit_test(test_histogram_counts_from_threads),
        cmocka_unit_test(test_addr_forms),
        cmocka_unit_test(test_addr_errors_say_what),
        cmocka_unit_test(test_addr_list),
        cmocka_unit_test(test_secret_free),
        cmocka_unit_test(test_pbfield_reads_and_replaces_by_name),
        cmocka_unit_test(test_pbfield_message_by_number_and_type),
        cmocka_unit_test(test_base64_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
