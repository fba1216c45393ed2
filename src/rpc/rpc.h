/* rpc.h — the one gRPC call path of mcdc, on gRPC C core.
 *
 * Both the etcd client and the Milvus client talk through this: a channel to
 * one server, unary calls with a deadline and metadata, and streams (etcd
 * Watch and LeaseKeepAlive are bidirectional). Messages are protobuf-c
 * structs, packed and unpacked here so callers never see grpc_byte_buffer.
 * gRPC status codes become mcdc_err codes: UNAVAILABLE, DEADLINE_EXCEEDED and
 * RESOURCE_EXHAUSTED are transient (retry), the rest are not.
 *
 * Thread safety: a channel may be shared by threads; a stream belongs to one
 * thread at a time (its reader), except rpc_stream_cancel, callable from any. */
#ifndef MCDC_RPC_H
#define MCDC_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "base/error.h"

typedef struct rpc_tls {
    int enabled;
    const char *ca_file;      /* PEM roots; NULL = system roots */
    const char *cert_file;    /* client certificate (mutual TLS), optional */
    const char *key_file;
    const char *server_name;  /* override for the certificate's host name, optional */
} rpc_tls;

typedef struct rpc_md {
    const char *key;          /* lower case, as gRPC requires */
    const char *value;
} rpc_md;

typedef struct rpc_channel rpc_channel;
typedef struct rpc_stream rpc_stream;

/* Global init/shutdown of gRPC core; reference counted, call in pairs. */
void rpc_init(void);
void rpc_shutdown(void);

/* target is "host:port". Connecting is lazy: an unreachable server shows up
 * as an MCDC_EUNAVAIL error on the first call, not here. */
rpc_channel *rpc_channel_open(const char *target, const rpc_tls *tls, size_t max_recv_bytes, mcdc_err *err);
void rpc_channel_close(rpc_channel *ch);
const char *rpc_channel_target(const rpc_channel *ch);

/* One request, one response. method is the full path,
 * "/milvus.proto.milvus.MilvusService/Insert". On success *resp is a new
 * message of resp_desc, freed with protobuf_c_message_free_unpacked. */
int rpc_unary(rpc_channel *ch, const char *method, const rpc_md *md, size_t n_md, uint32_t deadline_ms,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
              mcdc_err *err);

/* The same call in two halves, so a caller can keep several in flight (the
 * applier does, per channel). The request is serialized at start, so req
 * may be freed as soon as rpc_call_start returns; the call keeps those bytes
 * until rpc_call_free, which lets rpc_call_restart send them again (to
 * another method with the same request type, or NULL for the same one)
 * without serializing anything twice. rpc_call_ready never blocks;
 * rpc_call_wait blocks until the reply or the deadline. A call belongs to one
 * thread. rpc_unary is start + wait + free. */
typedef struct rpc_call rpc_call;
rpc_call *rpc_call_start(rpc_channel *ch, const char *method, const rpc_md *md, size_t n_md, uint32_t deadline_ms,
                         const ProtobufCMessage *req, mcdc_err *err);
bool rpc_call_ready(rpc_call *c);
int rpc_call_wait(rpc_call *c, const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, mcdc_err *err);
int rpc_call_restart(rpc_call *c, const char *method, mcdc_err *err);
size_t rpc_call_request_bytes(const rpc_call *c);
void rpc_call_free(rpc_call *c);

/* A bidirectional (or server-side) stream without a deadline. */
rpc_stream *rpc_stream_open(rpc_channel *ch, const char *method, const rpc_md *md, size_t n_md, mcdc_err *err);
int rpc_stream_send(rpc_stream *s, const ProtobufCMessage *msg, mcdc_err *err);
/* Waits up to timeout_ms for the next message. Returns 1 with *out set, 0 on
 * timeout (stream still open), -1 when the stream ended or failed (err says
 * how; a clean end by the server is MCDC_EUNAVAIL "stream closed"). */
int rpc_stream_recv(rpc_stream *s, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, uint32_t timeout_ms,
                    mcdc_err *err);
/* Makes a blocked rpc_stream_recv return -1 (MCDC_ECANCELED) soon. */
void rpc_stream_cancel(rpc_stream *s);
void rpc_stream_close(rpc_stream *s);

#endif
