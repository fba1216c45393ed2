/* rpc.c — rpc.h on gRPC C core: channels, unary calls and streams, each call
 * on its own pluck completion queue so that no thread ever has to dispatch
 * completions that belong to somebody else. */
#include "rpc/rpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "base/buf.h"

struct rpc_channel {
    grpc_channel *ch;
    char *target;
};

/* grpc_init is reference counted itself; the count here only exists so that
 * rpc_shutdown never calls grpc_shutdown more often than rpc_init ran. */
static pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_init_count;

void rpc_init(void) {
    pthread_mutex_lock(&g_init_mu);
    g_init_count++;
    grpc_init();
    pthread_mutex_unlock(&g_init_mu);
}

void rpc_shutdown(void) {
    pthread_mutex_lock(&g_init_mu);
    if (g_init_count > 0) {
        g_init_count--;
        /* Called from one of our threads, so the last grpc_shutdown cleans up
         * synchronously and nothing of gRPC is left for the leak checker. */
        grpc_shutdown();
    }
    pthread_mutex_unlock(&g_init_mu);
}

static const char *status_name(grpc_status_code st) {
    switch (st) {
    case GRPC_STATUS_OK: return "ok";
    case GRPC_STATUS_CANCELLED: return "cancelled";
    case GRPC_STATUS_UNKNOWN: return "unknown";
    case GRPC_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case GRPC_STATUS_DEADLINE_EXCEEDED: return "deadline exceeded";
    case GRPC_STATUS_NOT_FOUND: return "not found";
    case GRPC_STATUS_ALREADY_EXISTS: return "already exists";
    case GRPC_STATUS_PERMISSION_DENIED: return "permission denied";
    case GRPC_STATUS_RESOURCE_EXHAUSTED: return "resource exhausted";
    case GRPC_STATUS_FAILED_PRECONDITION: return "failed precondition";
    case GRPC_STATUS_ABORTED: return "aborted";
    case GRPC_STATUS_OUT_OF_RANGE: return "out of range";
    case GRPC_STATUS_UNIMPLEMENTED: return "unimplemented";
    case GRPC_STATUS_INTERNAL: return "internal";
    case GRPC_STATUS_UNAVAILABLE: return "unavailable";
    case GRPC_STATUS_DATA_LOSS: return "data loss";
    case GRPC_STATUS_UNAUTHENTICATED: return "unauthenticated";
    default: return "unknown status";
    }
}

static mcdc_code status_code(grpc_status_code st) {
    switch (st) {
    case GRPC_STATUS_OK: return MCDC_OK;
    case GRPC_STATUS_UNAVAILABLE: return MCDC_EUNAVAIL;
    case GRPC_STATUS_DEADLINE_EXCEEDED: return MCDC_ETIMEOUT;
    case GRPC_STATUS_RESOURCE_EXHAUSTED: return MCDC_ERATELIMIT;
    case GRPC_STATUS_CANCELLED: return MCDC_ECANCELED;
    case GRPC_STATUS_NOT_FOUND: return MCDC_ENOTFOUND;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_FAILED_PRECONDITION:
    case GRPC_STATUS_OUT_OF_RANGE: return MCDC_EINVAL;
    default: return MCDC_EREMOTE;
    }
}

static int status_err(mcdc_err *err, const char *target, const char *method, grpc_status_code st,
                      grpc_slice details) {
    size_t n = GRPC_SLICE_LENGTH(details);
    const char *d = (const char *)GRPC_SLICE_START_PTR(details);
    if (n == 0) {
        d = "(no details)";
        n = strlen(d);
    }
    return mcdc_errf(err, status_code(st), "%s %s: %s: %.*s", target, method, status_name(st), (int)n, d);
}

static gpr_timespec deadline_after(uint32_t ms) {
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis((int64_t)ms, GPR_TIMESPAN));
}

static char *read_file(const char *path, mcdc_err *err) {
    mcdc_buf b = MCDC_BUF_INIT;
    int got = mcdc_buf_read_file(&b, path);
    if (got == 0) {
        mcdc_buf_cstr(&b);
        return (char *)b.data;
    }
    if (got == -1) mcdc_errf(err, MCDC_EINVAL, "cannot read %s: %s", path, strerror(errno));
    else mcdc_errf(err, MCDC_EINVAL, "cannot read %s", path);
    mcdc_buf_free(&b);
    return NULL;
}

static grpc_channel_credentials *tls_credentials(const rpc_tls *tls, mcdc_err *err) {
    char *ca = NULL, *cert = NULL, *key = NULL;
    grpc_channel_credentials *creds = NULL;
    if (tls->ca_file && !(ca = read_file(tls->ca_file, err))) goto out;
    if ((tls->cert_file != NULL) != (tls->key_file != NULL)) {
        mcdc_errf(err, MCDC_EINVAL, "TLS client certificate and key must be given together");
        goto out;
    }
    if (tls->cert_file && (!(cert = read_file(tls->cert_file, err)) || !(key = read_file(tls->key_file, err))))
        goto out;
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    creds = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
    if (!creds) mcdc_errf(err, MCDC_EINVAL, "TLS credentials were refused by gRPC");
out:
    free(ca);
    free(cert);
    free(key);
    return creds;
}

/* The integer arguments every channel gets. */
static const struct {
    const char *key;
    int value;
} CHANNEL_INTS[] = {
    /* gRPC's reconnect backoff grows to 120 s by default; while it waits,
     * every call fails at once. Our callers retry on their own schedule, so
     * keep the channel ready to reconnect within a couple of seconds after a
     * server restart. */
    {GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100},
    {GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000},
    /* After a failed connect the channel re-resolves its target before it
     * tries again, and the DNS resolver allows that only every 30 s by
     * default: a restarted server would stay "unreachable" that long. */
    {GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 1000},
    /* Long-lived streams (watch, keepalive) on a connection that died without
     * a FIN would otherwise wait forever; pings find that out. 30 s keeps us
     * well above etcd's and Milvus's minimum ping interval (5 s). */
    {GRPC_ARG_KEEPALIVE_TIME_MS, 30000},
    {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000},
};

static grpc_arg int_arg(const char *key, int value) {
    grpc_arg a = {.type = GRPC_ARG_INTEGER, .key = (char *)key};
    a.value.integer = value;
    return a;
}

rpc_channel *rpc_channel_open(const char *target, const rpc_tls *tls, size_t max_recv_bytes, mcdc_err *err) {
    if (!target || !*target) {
        mcdc_errf(err, MCDC_EINVAL, "empty gRPC target");
        return NULL;
    }
    grpc_channel_credentials *creds =
        tls && tls->enabled ? tls_credentials(tls, err) : grpc_insecure_credentials_create();
    if (!creds) {
        mcdc_err_prefix(err, "%s", target);
        return NULL;
    }
    grpc_arg args[2 + sizeof CHANNEL_INTS / sizeof CHANNEL_INTS[0]];
    size_t n = 0;
    /* 0 means no limit: a Milvus query or an etcd watch batch is as large as
     * the data makes it, and refusing it would stall a task for good. */
    args[n++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                        max_recv_bytes == 0 || max_recv_bytes > INT32_MAX ? -1 : (int)max_recv_bytes);
    for (size_t i = 0; i < sizeof CHANNEL_INTS / sizeof CHANNEL_INTS[0]; i++)
        args[n++] = int_arg(CHANNEL_INTS[i].key, CHANNEL_INTS[i].value);
    if (tls && tls->enabled && tls->server_name && *tls->server_name) {
        args[n].type = GRPC_ARG_STRING;
        args[n].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[n++].value.string = (char *)tls->server_name;
    }
    grpc_channel_args cargs = {n, args};
    grpc_channel *gch = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    if (!gch) {
        mcdc_errf(err, MCDC_EINVAL, "%s: gRPC refused to create a channel", target);
        return NULL;
    }
    rpc_channel *ch = mcdc_xcalloc(1, sizeof *ch);
    ch->ch = gch;
    ch->target = mcdc_xstrdup(target);
    return ch;
}

void rpc_channel_close(rpc_channel *ch) {
    if (!ch) return;
    grpc_channel_destroy(ch->ch);
    free(ch->target);
    free(ch);
}

const char *rpc_channel_target(const rpc_channel *ch) { return ch->target; }

/* Metadata slices must outlive the SEND_INITIAL_METADATA op, which for a
 * stream completes at some unknown later point; so they are owned copies. */
static grpc_metadata *md_copy(const rpc_md *md, size_t n) {
    if (!n) return NULL;
    grpc_metadata *out = mcdc_xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].key = grpc_slice_from_copied_string(md[i].key);
        out[i].value = grpc_slice_from_copied_string(md[i].value ? md[i].value : "");
    }
    return out;
}

static void md_free(grpc_metadata *md, size_t n) {
    for (size_t i = 0; i < n; i++) {
        grpc_slice_unref(md[i].key);
        grpc_slice_unref(md[i].value);
    }
    free(md);
}

/* The method path goes in as a counted copy, never as a static slice over
 * our own memory. gRPC takes a static slice to live forever and its header
 * compression keys static values by address (grpc/grpc#19012), so a call
 * whose freshly copied "/.../Delete" got the address of a finished call's
 * "/.../Insert" (same length) reached the server as Insert: Milvus refused
 * the Delete ("cannot parse invalid wire-format data"), and an Upsert, whose
 * request Insert parses, would have been applied as an Insert.
 * test_faults.py::test_each_call_reaches_its_own_method_after_calls_in_flight. */
static grpc_call *create_call(rpc_channel *ch, grpc_completion_queue *cq, const char *method, gpr_timespec deadline) {
    grpc_slice path = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, deadline, NULL);
    grpc_slice_unref(path);
    return call;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *msg) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static int unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                  const char *target, const char *method, mcdc_err *err) {
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb))
        return mcdc_errf(err, MCDC_EDECODE, "%s %s: response could not be decompressed", target, method);
    grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    *out = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    size_t len = GRPC_SLICE_LENGTH(all);
    grpc_slice_unref(all);
    if (!*out)
        return mcdc_errf(err, MCDC_EDECODE, "%s %s: response of %zu bytes is not a valid %s", target, method, len,
                         desc->name);
    return 0;
}

/* A pluck queue may only be destroyed once every event on it was taken;
 * callers pluck their outstanding tags first, then this finishes it. */
static void cq_destroy(grpc_completion_queue *cq) {
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}

/* ---- unary calls ---------------------------------------------------------- */

struct rpc_call {
    rpc_channel *ch;
    char *method;
    uint32_t deadline_ms;
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata *md;
    size_t n_md;
    grpc_byte_buffer *request;   /* kept for rpc_call_restart; each attempt sends a copy */
    bool completed;              /* the batch's tag was plucked */
    grpc_byte_buffer *recv_bb;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code st;
    grpc_slice details;
};

#define CALL_TAG ((void *)1)

/* Blocks until the attempt's batch completed; the call's own deadline
 * guarantees it does. */
static void await_attempt(rpc_call *c) {
    if (!c->completed) grpc_completion_queue_pluck(c->cq, CALL_TAG, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    c->completed = true;
}

static void attempt_reset(rpc_call *c) {
    if (c->call) grpc_call_unref(c->call);
    c->call = NULL;
    if (c->recv_bb) grpc_byte_buffer_destroy(c->recv_bb);
    c->recv_bb = NULL;
    grpc_metadata_array_destroy(&c->init_md);
    grpc_metadata_array_destroy(&c->trail_md);
    grpc_metadata_array_init(&c->init_md);
    grpc_metadata_array_init(&c->trail_md);
    grpc_slice_unref(c->details);
    c->details = grpc_empty_slice();
    c->st = GRPC_STATUS_UNKNOWN;
    c->completed = false;
}

/* One attempt: a new grpc_call carrying a copy of the request (sending takes
 * the byte buffer's slices, and a retry needs them again; the copy only
 * takes references). */
static int attempt_start(rpc_call *c, mcdc_err *err) {
    c->call = create_call(c->ch, c->cq, c->method, deadline_after(c->deadline_ms));
    grpc_byte_buffer *send_bb = grpc_byte_buffer_copy(c->request);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = c->n_md;
    ops[0].data.send_initial_metadata.metadata = c->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->recv_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->trail_md;
    ops[5].data.recv_status_on_client.status = &c->st;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    grpc_call_error ce = grpc_call_start_batch(c->call, ops, 6, CALL_TAG, NULL);
    grpc_byte_buffer_destroy(send_bb);
    if (ce != GRPC_CALL_OK) {
        /* Nothing was queued, so there is no tag to pluck. */
        c->completed = true;
        return mcdc_errf(err, MCDC_EINTERNAL, "%s %s: cannot start call (grpc_call_error %d)", c->ch->target,
                         c->method, (int)ce);
    }
    return 0;
}

rpc_call *rpc_call_start(rpc_channel *ch, const char *method, const rpc_md *md, size_t n_md, uint32_t deadline_ms,
                         const ProtobufCMessage *req, mcdc_err *err) {
    rpc_call *c = mcdc_xcalloc(1, sizeof *c);
    c->ch = ch;
    c->method = mcdc_xstrdup(method);
    c->deadline_ms = deadline_ms;
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    c->md = md_copy(md, n_md);
    c->n_md = n_md;
    c->request = pack(req);
    grpc_metadata_array_init(&c->init_md);
    grpc_metadata_array_init(&c->trail_md);
    c->details = grpc_empty_slice();
    c->st = GRPC_STATUS_UNKNOWN;
    if (attempt_start(c, err)) {
        rpc_call_free(c);
        return NULL;
    }
    return c;
}

bool rpc_call_ready(rpc_call *c) {
    if (!c->completed &&
        grpc_completion_queue_pluck(c->cq, CALL_TAG, gpr_time_0(GPR_CLOCK_REALTIME), NULL).type == GRPC_OP_COMPLETE)
        c->completed = true;
    return c->completed;
}

int rpc_call_wait(rpc_call *c, const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, mcdc_err *err) {
    *resp = NULL;
    await_attempt(c);
    if (c->st != GRPC_STATUS_OK) return status_err(err, c->ch->target, c->method, c->st, c->details);
    if (!c->recv_bb)
        return mcdc_errf(err, MCDC_EDECODE, "%s %s: server sent no response message", c->ch->target, c->method);
    return unpack(c->recv_bb, resp_desc, resp, c->ch->target, c->method, err);
}

int rpc_call_restart(rpc_call *c, const char *method, mcdc_err *err) {
    await_attempt(c);
    attempt_reset(c);
    if (method && strcmp(method, c->method) != 0) {
        free(c->method);
        c->method = mcdc_xstrdup(method);
    }
    return attempt_start(c, err);
}

size_t rpc_call_request_bytes(const rpc_call *c) { return grpc_byte_buffer_length(c->request); }

void rpc_call_free(rpc_call *c) {
    if (!c) return;
    await_attempt(c);
    attempt_reset(c);
    cq_destroy(c->cq);
    grpc_metadata_array_destroy(&c->init_md);
    grpc_metadata_array_destroy(&c->trail_md);
    grpc_slice_unref(c->details);
    grpc_byte_buffer_destroy(c->request);
    md_free(c->md, c->n_md);
    free(c->method);
    free(c);
}

int rpc_unary(rpc_channel *ch, const char *method, const rpc_md *md, size_t n_md, uint32_t deadline_ms,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
              mcdc_err *err) {
    *resp = NULL;
    rpc_call *c = rpc_call_start(ch, method, md, n_md, deadline_ms, req, err);
    if (!c) return -1;
    int rc = rpc_call_wait(c, resp_desc, resp, err);
    rpc_call_free(c);
    return rc;
}

/* ---- streams ----------------------------------------------------------- */

enum { TAG_START = 1, TAG_STATUS, TAG_RECV, TAG_SEND };
#define TAG(t) ((void *)(uintptr_t)(t))

struct rpc_stream {
    rpc_channel *ch;
    char *method;
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata *md;
    size_t n_md;
    bool start_pending, status_pending, recv_pending;
    bool got_initial_md;
    bool ended;               /* no more messages will come */
    mcdc_err end_err;         /* why, once ended */
    atomic_bool canceled;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    grpc_byte_buffer *recv_bb;
};

rpc_stream *rpc_stream_open(rpc_channel *ch, const char *method, const rpc_md *md, size_t n_md, mcdc_err *err) {
    rpc_stream *s = mcdc_xcalloc(1, sizeof *s);
    s->ch = ch;
    s->method = mcdc_xstrdup(method);
    s->cq = grpc_completion_queue_create_for_pluck(NULL);
    s->call = create_call(ch, s->cq, method, gpr_inf_future(GPR_CLOCK_REALTIME));
    s->md = md_copy(md, n_md);
    s->n_md = n_md;
    atomic_init(&s->canceled, false);
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trail_md);
    s->status = GRPC_STATUS_UNKNOWN;
    s->details = grpc_empty_slice();

    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    op.data.send_initial_metadata.count = n_md;
    op.data.send_initial_metadata.metadata = s->md;
    grpc_call_error ce = grpc_call_start_batch(s->call, &op, 1, TAG(TAG_START), NULL);
    if (ce == GRPC_CALL_OK) {
        s->start_pending = true;
        /* The status is asked for up front: it is the only op that reliably
         * completes when the server or the connection ends the call, and it
         * carries the reason. */
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        op.data.recv_status_on_client.trailing_metadata = &s->trail_md;
        op.data.recv_status_on_client.status = &s->status;
        op.data.recv_status_on_client.status_details = &s->details;
        ce = grpc_call_start_batch(s->call, &op, 1, TAG(TAG_STATUS), NULL);
        if (ce == GRPC_CALL_OK) s->status_pending = true;
    }
    if (ce != GRPC_CALL_OK) {
        mcdc_errf(err, MCDC_EINTERNAL, "%s %s: cannot start stream (grpc_call_error %d)", ch->target, method,
                  (int)ce);
        rpc_stream_close(s);
        return NULL;
    }
    return s;
}

/* Waits for the call's final status and turns it into end_err. Called once
 * a receive or send has failed, when the status is due within moments; the
 * bounded wait and the cancel are only a guard against a server that keeps
 * a broken call open. */
static void stream_finish(rpc_stream *s) {
    if (s->ended) return;
    s->ended = true;
    if (s->status_pending) {
        grpc_event ev = grpc_completion_queue_pluck(s->cq, TAG(TAG_STATUS), deadline_after(5000), NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            grpc_call_cancel(s->call, NULL);
            grpc_completion_queue_pluck(s->cq, TAG(TAG_STATUS), gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        }
        s->status_pending = false;
    }
    if (atomic_load(&s->canceled))
        mcdc_errf(&s->end_err, MCDC_ECANCELED, "%s %s: stream canceled", s->ch->target, s->method);
    else if (s->status == GRPC_STATUS_OK)
        mcdc_errf(&s->end_err, MCDC_EUNAVAIL, "%s %s: stream closed", s->ch->target, s->method);
    else
        status_err(&s->end_err, s->ch->target, s->method, s->status, s->details);
}

static int stream_ended(rpc_stream *s, mcdc_err *err) {
    stream_finish(s);
    if (err) *err = s->end_err;
    return -1;
}

int rpc_stream_send(rpc_stream *s, const ProtobufCMessage *msg, mcdc_err *err) {
    if (s->ended) return stream_ended(s, err);
    if (atomic_load(&s->canceled)) {
        grpc_call_cancel(s->call, NULL);
        return stream_ended(s, err);
    }
    grpc_byte_buffer *bb = pack(msg);
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    grpc_call_error ce = grpc_call_start_batch(s->call, &op, 1, TAG(TAG_SEND), NULL);
    if (ce != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(bb);
        return mcdc_errf(err, MCDC_EINTERNAL, "%s %s: cannot send (grpc_call_error %d)", s->ch->target, s->method,
                         (int)ce);
    }
    /* A send waits for flow control only; if the peer stops reading for this
     * long the stream is of no use, so it is canceled rather than waited on. */
    grpc_event ev = grpc_completion_queue_pluck(s->cq, TAG(TAG_SEND), deadline_after(30000), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        grpc_call_cancel(s->call, NULL);
        ev = grpc_completion_queue_pluck(s->cq, TAG(TAG_SEND), gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    grpc_byte_buffer_destroy(bb);
    if (!ev.success) return stream_ended(s, err);
    return 0;
}

int rpc_stream_recv(rpc_stream *s, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, uint32_t timeout_ms,
                    mcdc_err *err) {
    *out = NULL;
    if (s->ended) return stream_ended(s, err);
    if (!s->recv_pending) {
        grpc_op ops[2];
        memset(ops, 0, sizeof ops);
        size_t n = 0;
        if (!s->got_initial_md) {
            ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
            ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
        }
        ops[n].op = GRPC_OP_RECV_MESSAGE;
        ops[n++].data.recv_message.recv_message = &s->recv_bb;
        grpc_call_error ce = grpc_call_start_batch(s->call, ops, n, TAG(TAG_RECV), NULL);
        if (ce != GRPC_CALL_OK)
            return mcdc_errf(err, MCDC_EINTERNAL, "%s %s: cannot receive (grpc_call_error %d)", s->ch->target,
                             s->method, (int)ce);
        s->got_initial_md = true;
        s->recv_pending = true;
    }
    grpc_event ev = grpc_completion_queue_pluck(s->cq, TAG(TAG_RECV), deadline_after(timeout_ms), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) return 0;
    s->recv_pending = false;
    grpc_byte_buffer *bb = s->recv_bb;
    s->recv_bb = NULL;
    if (!ev.success || !bb) {
        if (bb) grpc_byte_buffer_destroy(bb);
        return stream_ended(s, err);
    }
    mcdc_err uerr;
    int rc = unpack(bb, desc, out, s->ch->target, s->method, &uerr);
    grpc_byte_buffer_destroy(bb);
    if (rc) {
        /* A message we cannot read leaves the stream at an unknown point;
         * ending it is the only safe continuation. */
        grpc_call_cancel(s->call, NULL);
        stream_finish(s);
        s->end_err = uerr;
        if (err) *err = uerr;
        return -1;
    }
    return 1;
}

void rpc_stream_cancel(rpc_stream *s) {
    if (!s) return;
    atomic_store(&s->canceled, true);
    grpc_call_cancel(s->call, NULL);
}

void rpc_stream_close(rpc_stream *s) {
    if (!s) return;
    /* Cancel so that every outstanding op completes now; then each is
     * plucked, since a pluck queue cannot be destroyed with events in it. */
    grpc_call_cancel(s->call, NULL);
    gpr_timespec forever = gpr_inf_future(GPR_CLOCK_REALTIME);
    if (s->start_pending) grpc_completion_queue_pluck(s->cq, TAG(TAG_START), forever, NULL);
    if (s->status_pending) grpc_completion_queue_pluck(s->cq, TAG(TAG_STATUS), forever, NULL);
    if (s->recv_pending) grpc_completion_queue_pluck(s->cq, TAG(TAG_RECV), forever, NULL);
    grpc_call_unref(s->call);
    cq_destroy(s->cq);
    if (s->recv_bb) grpc_byte_buffer_destroy(s->recv_bb);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trail_md);
    grpc_slice_unref(s->details);
    md_free(s->md, s->n_md);
    free(s->method);
    free(s);
}
