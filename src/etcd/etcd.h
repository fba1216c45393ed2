/* etcd.h — an etcd v3 client over src/rpc: Range, Put, Delete, Txn, Lease,
 * Watch, with user/password auth.
 *
 * mcdc reads Milvus's metadata from etcd (spec/etcd-meta.md) and may keep its
 * own state there. What matters most is the watch: it resumes after any
 * disconnect (etcd restarted, network blip) from the last revision it
 * delivered + 1, so no event is lost and none is seen twice; it only gives up
 * when that revision has been compacted away, and then says so, so the caller
 * can reload with a fresh Range. Calls that fail transiently are retried with
 * backoff across the configured endpoints until the per-call timeout. */
#ifndef MCDC_ETCD_H
#define MCDC_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rpc/rpc.h"

typedef struct etcd_config {
    const char *endpoints;    /* "host:port[,host:port...]" */
    const char *username;     /* NULL or "" = no auth */
    const char *password;
    rpc_tls tls;
    uint32_t timeout_ms;      /* per call, retries included; 0 = 10000 */
} etcd_config;

typedef struct etcd_client etcd_client;

/* Checks that a server answers (a Status call), authenticating if configured:
 * an unreachable etcd is an error here, with the endpoints in the message. */
etcd_client *etcd_open(const etcd_config *cfg, mcdc_err *err);
void etcd_close(etcd_client *c);

typedef struct etcd_kv {
    const char *key;          /* NUL-terminated; keys are text in Milvus */
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
} etcd_kv;

/* Calls fn for every key with the prefix, in key order, paging through large
 * ranges, all at one revision (revision 0 = now; the revision used is
 * returned in *revision, so a watch can start right after it). fn returning
 * non-zero stops the walk and is returned. The kv is valid only during fn. */
typedef int (*etcd_kv_fn)(void *ud, const etcd_kv *kv);
int etcd_range_prefix(etcd_client *c, const char *prefix, int64_t revision, etcd_kv_fn fn, void *ud,
                      int64_t *out_revision, mcdc_err *err);

/* One key. *found = false when absent. The value is copied to *value (malloc,
 * caller frees). */
int etcd_get(etcd_client *c, const char *key, bool *found, uint8_t **value, size_t *value_len, int64_t *mod_revision,
             mcdc_err *err);
int etcd_put(etcd_client *c, const char *key, const void *value, size_t value_len, int64_t lease, mcdc_err *err);
/* Deletes key, or every key under it when prefix is true; *deleted may be NULL. */
int etcd_delete(etcd_client *c, const char *key, bool prefix, int64_t *deleted, mcdc_err *err);

/* Compare-and-swap: put (key, value) only if the key's mod_revision equals
 * expect_mod_revision (0 = the key must not exist). *ok tells which. */
int etcd_put_if(etcd_client *c, const char *key, const void *value, size_t value_len, int64_t expect_mod_revision,
                bool *ok, mcdc_err *err);

/* Leases. keepalive runs on a background thread of the client until revoked
 * or the client is closed; a lost lease is reported by etcd_lease_alive. */
int etcd_lease_grant(etcd_client *c, int64_t ttl_s, int64_t *lease, mcdc_err *err);
int etcd_lease_keepalive(etcd_client *c, int64_t lease, mcdc_err *err);
bool etcd_lease_alive(etcd_client *c, int64_t lease);
int etcd_lease_revoke(etcd_client *c, int64_t lease, mcdc_err *err);

typedef enum etcd_event_type { ETCD_PUT = 0, ETCD_DELETE = 1 } etcd_event_type;

typedef struct etcd_event {
    etcd_event_type type;
    etcd_kv kv;               /* for DELETE: key and mod_revision only */
    bool has_prev;
    etcd_kv prev;             /* when the watch asked for prev_kv */
} etcd_event;

typedef struct etcd_watch etcd_watch;

/* Watches every key under prefix from start_revision (inclusive; 0 = now). */
etcd_watch *etcd_watch_open(etcd_client *c, const char *prefix, int64_t start_revision, bool prev_kv, mcdc_err *err);
/* Waits up to timeout_ms. Returns the number of events (0 = nothing yet);
 * events stay valid until the next call. Transient trouble is healed inside
 * (reconnect, resume at last delivered revision + 1). Returns -1 only for good:
 * the watch was canceled, or its revision was compacted (then
 * etcd_watch_compacted() returns the compact revision and the caller must
 * reload). */
int etcd_watch_next(etcd_watch *w, const etcd_event **events, uint32_t timeout_ms, mcdc_err *err);
int64_t etcd_watch_compacted(const etcd_watch *w);
/* The revision of the last event delivered (or start_revision - 1). */
int64_t etcd_watch_revision(const etcd_watch *w);
/* Safe from another thread: a blocked etcd_watch_next returns -1 soon. */
void etcd_watch_cancel(etcd_watch *w);
void etcd_watch_close(etcd_watch *w);

#endif
