/* test_rpc.c — src/rpc against a gRPC server inside this process (gRPC core's
 * own server API on a loopback port), so every answer is ours to choose: each
 * status code and how it maps, metadata, calls kept in flight and sent again,
 * an undecodable response, deadlines,
 * streams that echo, end, fail or get canceled, and an unreachable target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>

#include "base/clock.h"
#include "etcd_rpc.pb-c.h"
#include "rpc/rpc.h"

/* ---- the test server ---------------------------------------------------------- */

static grpc_server *g_srv;
static grpc_completion_queue *g_cq;
static pthread_t g_thread;
static char g_target[64];

#define T_NEW ((void *)1)
#define T_SHUT ((void *)2)
#define T_OP ((void *)3)
#define T_CLOSE ((void *)4)

/* Completions that came while another was awaited (RECV_CLOSE_ON_SERVER
 * often finishes before the status batch that caused it): index = tag. */
static int g_done[5], g_ok[5];

/* Waits for one tag on the server queue, keeping any other that comes
 * first. Returns the event's success. */
static int srv_wait(void *tag) {
    uintptr_t want = (uintptr_t)tag;
    while (!g_done[want]) {
        grpc_event ev = grpc_completion_queue_next(g_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE) return 0;
        g_done[(uintptr_t)ev.tag] = 1;
        g_ok[(uintptr_t)ev.tag] = ev.success;
    }
    g_done[want] = 0;
    return g_ok[want];
}

static void srv_batch(grpc_call *call, grpc_op *ops, size_t n, void *tag) {
    if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK) abort();
}

static void send_status(grpc_call *call, grpc_status_code st, const char *details, grpc_byte_buffer *msg,
                        int with_initial_md) {
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    grpc_slice d = grpc_slice_from_copied_string(details);
    if (with_initial_md) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (msg) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = msg;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = st;
    ops[n++].data.send_status_from_server.status_details = &d;
    srv_batch(call, ops, n, T_OP);
    srv_wait(T_OP);
    grpc_slice_unref(d);
}

static const char *md_get(const grpc_metadata_array *md, const char *key) {
    static char val[128];
    for (size_t i = 0; i < md->count; i++) {
        if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) {
            size_t n = GRPC_SLICE_LENGTH(md->metadata[i].value);
            if (n >= sizeof val) n = sizeof val - 1;
            memcpy(val, GRPC_SLICE_START_PTR(md->metadata[i].value), n);
            val[n] = 0;
            return val;
        }
    }
    return NULL;
}

static void handle(grpc_call *call, const char *method, const grpc_metadata_array *md) {
    /* RECV_CLOSE_ON_SERVER completes when the call is over for any reason;
     * waiting for it at the end makes every call finish before the next. */
    int cancelled = 0;
    grpc_op close_op;
    memset(&close_op, 0, sizeof close_op);
    close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    close_op.data.recv_close_on_server.cancelled = &cancelled;
    srv_batch(call, &close_op, 1, T_CLOSE);

    if (strncmp(method, "/t.T/Status", 11) == 0) {
        send_status(call, (grpc_status_code)atoi(method + 11), "boom", NULL, 1);
    } else if (strcmp(method, "/t.T/Echo") == 0 || strcmp(method, "/t.T/Garbage") == 0) {
        grpc_byte_buffer *in = NULL;
        grpc_op ops[2];
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_RECV_MESSAGE;
        ops[1].data.recv_message.recv_message = &in;
        srv_batch(call, ops, 2, T_OP);
        srv_wait(T_OP);
        const char *who = md_get(md, "x-who");
        if (!who || strcmp(who, "test") != 0) {
            send_status(call, GRPC_STATUS_INVALID_ARGUMENT, "metadata x-who missing", NULL, 0);
        } else if (method[5] == 'G') {
            grpc_slice junk = grpc_slice_from_static_buffer("\xff\xff\xff\xff", 4);
            grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&junk, 1);
            send_status(call, GRPC_STATUS_OK, "", bb, 0);
            grpc_byte_buffer_destroy(bb);
        } else {
            send_status(call, GRPC_STATUS_OK, "", in, 0);
        }
        if (in) grpc_byte_buffer_destroy(in);
    } else if (strcmp(method, "/t.T/Hang") == 0) {
        /* Nothing: the client's deadline ends it. */
    } else if (strcmp(method, "/t.T/Stream") == 0) {
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_SEND_INITIAL_METADATA;
        srv_batch(call, &op, 1, T_OP);
        srv_wait(T_OP);
        for (;;) {
            grpc_byte_buffer *in = NULL;
            memset(&op, 0, sizeof op);
            op.op = GRPC_OP_RECV_MESSAGE;
            op.data.recv_message.recv_message = &in;
            srv_batch(call, &op, 1, T_OP);
            if (!srv_wait(T_OP) || !in) break;
            memset(&op, 0, sizeof op);
            op.op = GRPC_OP_SEND_MESSAGE;
            op.data.send_message.send_message = in;
            srv_batch(call, &op, 1, T_OP);
            int sent = srv_wait(T_OP);
            grpc_byte_buffer_destroy(in);
            if (!sent) break;
        }
    } else if (strcmp(method, "/t.T/StreamEnd") == 0) {
        send_status(call, GRPC_STATUS_OK, "", NULL, 1);
    } else if (strcmp(method, "/t.T/StreamFail") == 0) {
        send_status(call, GRPC_STATUS_UNAVAILABLE, "going away", NULL, 1);
    } else {
        send_status(call, GRPC_STATUS_UNIMPLEMENTED, "no such method", NULL, 1);
    }
    srv_wait(T_CLOSE);
}

static void *server_main(void *arg) {
    (void)arg;
    for (;;) {
        grpc_call *call = NULL;
        grpc_call_details det;
        grpc_metadata_array md;
        grpc_call_details_init(&det);
        grpc_metadata_array_init(&md);
        if (grpc_server_request_call(g_srv, &call, &det, &md, g_cq, g_cq, T_NEW) != GRPC_CALL_OK) abort();
        int got = srv_wait(T_NEW);
        if (got) {
            char *method = grpc_slice_to_c_string(det.method);
            handle(call, method, &md);
            gpr_free(method);
            grpc_call_unref(call);
        }
        grpc_call_details_destroy(&det);
        grpc_metadata_array_destroy(&md);
        if (!got) break; /* the server is shutting down */
    }
    srv_wait(T_SHUT);
    return NULL;
}

static int setup(void **state) {
    (void)state;
    rpc_init();
    g_srv = grpc_server_create(NULL, NULL);
    g_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(g_srv, g_cq, NULL);
    grpc_server_credentials *cr = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(g_srv, "127.0.0.1:0", cr);
    grpc_server_credentials_release(cr);
    if (port <= 0) return -1;
    snprintf(g_target, sizeof g_target, "127.0.0.1:%d", port);
    grpc_server_start(g_srv);
    return pthread_create(&g_thread, NULL, server_main, NULL);
}

static int teardown(void **state) {
    (void)state;
    grpc_server_shutdown_and_notify(g_srv, g_cq, T_SHUT);
    grpc_server_cancel_all_calls(g_srv);
    pthread_join(g_thread, NULL);
    grpc_server_destroy(g_srv);
    grpc_completion_queue_shutdown(g_cq);
    while (grpc_completion_queue_next(g_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(g_cq);
    rpc_shutdown();
    return 0;
}

/* ---- tests ---------------------------------------------------------------------- */

static const rpc_md WHO[] = {{"x-who", "test"}};

static int call(rpc_channel *ch, const char *method, uint32_t deadline_ms, ProtobufCMessage **resp, mcdc_err *err) {
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key.data = (uint8_t *)"k";
    req.key.len = 1;
    req.value.data = (uint8_t *)"value";
    req.value.len = 5;
    return rpc_unary(ch, method, WHO, 1, deadline_ms, &req.base, &etcdserverpb__put_request__descriptor, resp, err);
}

static void test_unary_echo_with_metadata(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    assert_non_null(ch);
    assert_string_equal(rpc_channel_target(ch), g_target);
    ProtobufCMessage *m;
    assert_int_equal(call(ch, "/t.T/Echo", 5000, &m, &err), 0);
    Etcdserverpb__PutRequest *r = (Etcdserverpb__PutRequest *)m;
    assert_int_equal(r->value.len, 5);
    assert_memory_equal(r->value.data, "value", 5);
    protobuf_c_message_free_unpacked(m, NULL);

    /* Without the metadata the server refuses: so it did arrive above. */
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    assert_int_equal(rpc_unary(ch, "/t.T/Echo", NULL, 0, 5000, &req.base, &etcdserverpb__put_request__descriptor, &m,
                               &err),
                     -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "metadata x-who missing"));
    rpc_channel_close(ch);
}

static void test_status_codes_map(void **state) {
    (void)state;
    static const struct {
        grpc_status_code st;
        mcdc_code code;
        const char *name;
    } cases[] = {
        {GRPC_STATUS_UNAVAILABLE, MCDC_EUNAVAIL, "unavailable"},
        {GRPC_STATUS_DEADLINE_EXCEEDED, MCDC_ETIMEOUT, "deadline exceeded"},
        {GRPC_STATUS_RESOURCE_EXHAUSTED, MCDC_ERATELIMIT, "resource exhausted"},
        {GRPC_STATUS_CANCELLED, MCDC_ECANCELED, "cancelled"},
        {GRPC_STATUS_NOT_FOUND, MCDC_ENOTFOUND, "not found"},
        {GRPC_STATUS_INVALID_ARGUMENT, MCDC_EINVAL, "invalid argument"},
        {GRPC_STATUS_FAILED_PRECONDITION, MCDC_EINVAL, "failed precondition"},
        {GRPC_STATUS_OUT_OF_RANGE, MCDC_EINVAL, "out of range"},
        {GRPC_STATUS_UNAUTHENTICATED, MCDC_EREMOTE, "unauthenticated"},
        {GRPC_STATUS_PERMISSION_DENIED, MCDC_EREMOTE, "permission denied"},
        {GRPC_STATUS_INTERNAL, MCDC_EREMOTE, "internal"},
        {GRPC_STATUS_UNIMPLEMENTED, MCDC_EREMOTE, "unimplemented"},
        {GRPC_STATUS_ALREADY_EXISTS, MCDC_EREMOTE, "already exists"},
    };
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    assert_non_null(ch);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char method[64], want[256];
        snprintf(method, sizeof method, "/t.T/Status%d", (int)cases[i].st);
        snprintf(want, sizeof want, "%s %s: %s: boom", g_target, method, cases[i].name);
        ProtobufCMessage *m = (ProtobufCMessage *)&err; /* must come back NULL */
        assert_int_equal(call(ch, method, 5000, &m, &err), -1);
        assert_null(m);
        assert_int_equal(err.code, cases[i].code);
        assert_string_equal(err.msg, want);
    }
    rpc_channel_close(ch);
}

static Etcdserverpb__PutRequest put_of(const char *value) {
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key.data = (uint8_t *)"k";
    req.key.len = 1;
    req.value.data = (uint8_t *)value;
    req.value.len = strlen(value);
    return req;
}

static void assert_echo_of(rpc_call *c, const char *value) {
    mcdc_err err;
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_wait(c, &etcdserverpb__put_request__descriptor, &m, &err), 0);
    Etcdserverpb__PutRequest *r = (Etcdserverpb__PutRequest *)m;
    assert_int_equal(r->value.len, strlen(value));
    assert_memory_equal(r->value.data, value, strlen(value));
    protobuf_c_message_free_unpacked(m, NULL);
}

/* Several calls in flight on one channel, each with its own reply whatever
 * order they are waited in; the request is serialized at start (the struct
 * is gone before the reply), and a failed call sent again to another method
 * carries the same bytes. */
static void test_calls_in_flight_and_restart(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    assert_non_null(ch);
    static const char *const values[] = {"first", "second", "third"};
    rpc_call *calls[3];
    for (int i = 0; i < 3; i++) {
        char value[16];
        snprintf(value, sizeof value, "%s", values[i]);
        Etcdserverpb__PutRequest req = put_of(value);
        calls[i] = rpc_call_start(ch, "/t.T/Echo", WHO, 1, 5000, &req.base, &err);
        assert_non_null(calls[i]);
        memset(value, 'x', sizeof value - 1); /* the call must not need the request any more */
        assert_int_equal(rpc_call_request_bytes(calls[i]), protobuf_c_message_get_packed_size(&req.base));
    }
    uint64_t until = mcdc_now_mono_ms() + 5000;
    while (!rpc_call_ready(calls[0]) && mcdc_now_mono_ms() < until) mcdc_sleep_ms(5);
    assert_true(rpc_call_ready(calls[0]));
    for (int i = 2; i >= 0; i--) {
        assert_echo_of(calls[i], values[i]);
        rpc_call_free(calls[i]);
    }

    Etcdserverpb__PutRequest req = put_of("again");
    rpc_call *c = rpc_call_start(ch, "/t.T/Status14", WHO, 1, 5000, &req.base, &err);
    assert_non_null(c);
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_wait(c, &etcdserverpb__put_request__descriptor, &m, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_int_equal(rpc_call_restart(c, "/t.T/Echo", &err), 0);
    assert_echo_of(c, "again");
    assert_int_equal(rpc_call_restart(c, NULL, &err), 0); /* same method again */
    assert_echo_of(c, "again");
    rpc_call_free(c);

    /* Freed without a wait: the reply is taken and dropped. */
    c = rpc_call_start(ch, "/t.T/Echo", WHO, 1, 5000, &req.base, &err);
    assert_non_null(c);
    rpc_call_free(c);
    rpc_channel_close(ch);
}

static void test_undecodable_response(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    ProtobufCMessage *m;
    assert_int_equal(call(ch, "/t.T/Garbage", 5000, &m, &err), -1);
    assert_int_equal(err.code, MCDC_EDECODE);
    assert_non_null(strstr(err.msg, "/t.T/Garbage"));
    rpc_channel_close(ch);
}

static void test_deadline(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    ProtobufCMessage *m;
    uint64_t t0 = mcdc_now_mono_ms();
    assert_int_equal(call(ch, "/t.T/Hang", 300, &m, &err), -1);
    uint64_t took = mcdc_now_mono_ms() - t0;
    assert_int_equal(err.code, MCDC_ETIMEOUT);
    assert_true(took >= 250 && took < 3000);
    rpc_channel_close(ch);
}

static void test_unreachable_is_unavailable_within_deadline(void **state) {
    (void)state;
    mcdc_err err;
    /* Port 1 on loopback: nobody listens, the connect is refused. */
    rpc_channel *ch = rpc_channel_open("127.0.0.1:1", NULL, 0, &err);
    assert_non_null(ch);
    ProtobufCMessage *m;
    uint64_t t0 = mcdc_now_mono_ms();
    assert_int_equal(call(ch, "/etcdserverpb.KV/Range", 2000, &m, &err), -1);
    assert_true(mcdc_now_mono_ms() - t0 < 2000);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "127.0.0.1:1 /etcdserverpb.KV/Range: unavailable: "));
    rpc_channel_close(ch);
}

static Etcdserverpb__PutRequest msg(const char *v) {
    Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
    r.value.data = (uint8_t *)v;
    r.value.len = strlen(v);
    return r;
}

static void test_stream_echo_timeout_and_close(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    rpc_stream *s = rpc_stream_open(ch, "/t.T/Stream", WHO, 1, &err);
    assert_non_null(s);
    const char *words[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        Etcdserverpb__PutRequest r = msg(words[i]);
        assert_int_equal(rpc_stream_send(s, &r.base, &err), 0);
    }
    for (int i = 0; i < 3; i++) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 5000, &err), 1);
        Etcdserverpb__PutRequest *r = (Etcdserverpb__PutRequest *)m;
        assert_int_equal(r->value.len, strlen(words[i]));
        assert_memory_equal(r->value.data, words[i], r->value.len);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    /* Nothing more: a timeout, and the stream is still good afterwards. */
    ProtobufCMessage *m;
    assert_int_equal(rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 100, &err), 0);
    Etcdserverpb__PutRequest r = msg("four");
    assert_int_equal(rpc_stream_send(s, &r.base, &err), 0);
    assert_int_equal(rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 5000, &err), 1);
    protobuf_c_message_free_unpacked(m, NULL);
    /* This receive times out and stays outstanding: close must collect it. */
    assert_int_equal(rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 10, &err), 0);
    rpc_stream_close(s);
    rpc_channel_close(ch);
}

typedef struct {
    rpc_stream *s;
} cancel_arg;

static void *canceler(void *p) {
    mcdc_sleep_ms(200);
    rpc_stream_cancel(((cancel_arg *)p)->s);
    return NULL;
}

static void test_stream_cancel_from_another_thread(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    rpc_stream *s = rpc_stream_open(ch, "/t.T/Stream", WHO, 1, &err);
    cancel_arg a = {s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, canceler, &a), 0);
    ProtobufCMessage *m;
    uint64_t t0 = mcdc_now_mono_ms();
    assert_int_equal(rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 10000, &err), -1);
    assert_true(mcdc_now_mono_ms() - t0 < 5000);
    assert_int_equal(err.code, MCDC_ECANCELED);
    pthread_join(th, NULL);
    /* Stays ended. */
    Etcdserverpb__PutRequest r = msg("late");
    assert_int_equal(rpc_stream_send(s, &r.base, &err), -1);
    assert_int_equal(err.code, MCDC_ECANCELED);
    rpc_stream_close(s);
    rpc_channel_close(ch);
}

static void test_stream_ended_by_server(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(g_target, NULL, 0, &err);
    ProtobufCMessage *m;

    rpc_stream *s = rpc_stream_open(ch, "/t.T/StreamEnd", NULL, 0, &err);
    assert_int_equal(rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 5000, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "stream closed"));
    rpc_stream_close(s);

    s = rpc_stream_open(ch, "/t.T/StreamFail", NULL, 0, &err);
    assert_int_equal(rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 5000, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "/t.T/StreamFail: unavailable: going away"));
    rpc_stream_close(s);
    rpc_channel_close(ch);
}

static void test_stream_to_unreachable_target(void **state) {
    (void)state;
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open("127.0.0.1:1", NULL, 0, &err);
    rpc_stream *s = rpc_stream_open(ch, "/etcdserverpb.Watch/Watch", NULL, 0, &err);
    assert_non_null(s);
    Etcdserverpb__PutRequest r = msg("x");
    ProtobufCMessage *m;
    int rc = rpc_stream_send(s, &r.base, &err);
    if (rc == 0) rc = rpc_stream_recv(s, &etcdserverpb__put_request__descriptor, &m, 5000, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    rpc_stream_close(s);
    rpc_channel_close(ch);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_echo_with_metadata),
        cmocka_unit_test(test_status_codes_map),
        cmocka_unit_test(test_calls_in_flight_and_restart),
        cmocka_unit_test(test_undecodable_response),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_unreachable_is_unavailable_within_deadline),
        cmocka_unit_test(test_stream_echo_timeout_and_close),
        cmocka_unit_test(test_stream_cancel_from_another_thread),
        cmocka_unit_test(test_stream_ended_by_server),
        cmocka_unit_test(test_stream_to_unreachable_target),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
