/* etcd_int.h — private to src/etcd: the client state and the call helpers
 * that etcd.c (KV, auth, retries), etcd_watch.c and etcd_lease.c share.
 * Nothing outside src/etcd includes this. */
#ifndef MCDC_ETCD_INT_H
#define MCDC_ETCD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"

typedef struct etcd_keeper etcd_keeper;

struct etcd_client {
    char *endpoints;          /* as configured, for messages */
    char **eps;
    size_t n_eps;
    rpc_channel **chans;      /* one per endpoint, all opened up front */
    char *username;           /* NULL = no auth */
    char *password;
    uint32_t timeout_ms;

    pthread_mutex_t mu;       /* guards cur, token, keeper */
    size_t cur;               /* endpoint calls go to first */
    char *token;              /* NULL until authenticated */
    etcd_keeper *keeper;      /* lease keepalive thread, started on demand */
};

/* gRPC paths. */
#define ETCD_M_RANGE "/etcdserverpb.KV/Range"
#define ETCD_M_PUT "/etcdserverpb.KV/Put"
#define ETCD_M_DELETE "/etcdserverpb.KV/DeleteRange"
#define ETCD_M_TXN "/etcdserverpb.KV/Txn"
#define ETCD_M_WATCH "/etcdserverpb.Watch/Watch"
#define ETCD_M_LEASE_GRANT "/etcdserverpb.Lease/LeaseGrant"
#define ETCD_M_LEASE_REVOKE "/etcdserverpb.Lease/LeaseRevoke"
#define ETCD_M_LEASE_KEEPALIVE "/etcdserverpb.Lease/LeaseKeepAlive"
#define ETCD_M_LEASE_TTL "/etcdserverpb.Lease/LeaseTimeToLive"
#define ETCD_M_AUTHENTICATE "/etcdserverpb.Auth/Authenticate"
#define ETCD_M_STATUS "/etcdserverpb.Maintenance/Status"

/* A unary call with the client's retry policy: transient errors are retried
 * with backoff, rotating endpoints, until the client's timeout; an invalid or
 * expired token is renewed once. *transient_failures (may be NULL) counts the
 * attempts that failed transiently, i.e. that may have been applied anyway. */
int etcd_call(etcd_client *c, const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
              ProtobufCMessage **resp, int *transient_failures, mcdc_err *err);

/* Opens a stream on the current endpoint with the current token. *ep gets
 * the endpoint index and *token a copy of the token used (free it), both to
 * be handed to etcd_stream_failed when the stream breaks. */
rpc_stream *etcd_stream_open(etcd_client *c, const char *method, size_t *ep, char **token, mcdc_err *err);

/* After a stream failed with err: moves on to the next endpoint if the error
 * is transient, renews the token if it was the token. Returns 0 when trying
 * again makes sense, -1 (err kept) when it does not. */
int etcd_stream_failed(etcd_client *c, size_t ep, const char *token, mcdc_err *err);

/* True when err is etcd telling us the token is no longer good. */
bool etcd_err_is_token(const mcdc_err *err);

/* Renews the token unless somebody already replaced stale_token. */
int etcd_reauth(etcd_client *c, const char *stale_token, mcdc_err *err);

/* Fills *out from a key-value of a Range or a Watch reply; key is the key
 * as a C string, which the caller keeps alive as long as *out. */
struct Mvccpb__KeyValue;
void etcd_kv_fill(etcd_kv *out, const struct Mvccpb__KeyValue *kv, const char *key);

/* The smallest key greater than every key with the prefix, for a range's
 * range_end ("\0", every key, for a prefix of only 0xff bytes or none). */
struct mcdc_buf;
void etcd_prefix_end(const char *prefix, struct mcdc_buf *out);

/* Stops and frees the keepalive thread (etcd_close). */
void etcd_lease_shutdown(etcd_client *c);

/* Waits on cv until abs_ms (CLOCK_MONOTONIC milliseconds); cv must have been
 * created by etcd_cond_init. */
void etcd_cond_init(pthread_cond_t *cv);
void etcd_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t abs_ms);

#endif
