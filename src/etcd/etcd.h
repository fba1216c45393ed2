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
 * expect_mod_revision (0 = the key must not exist). *ok tells which. A retry
 * after a lost answer that finds exactly our value at a newer revision
 * counts as ours. (One etcd_txn.) */
int etcd_put_if(etcd_client *c, const char *key, const void *value, size_t value_len, int64_t expect_mod_revision,
                bool *ok, mcdc_err *err);

/* ---- transactions: if every compare holds, the success ops, else the
 * failure ops, all at one revision, atomically. ---- */

/* What of a key a compare looks at. etcd compares a missing key as if its
 * version, revisions and lease were 0; a VALUE compare on a missing key
 * never holds. */
typedef enum etcd_cmp_target {
    ETCD_CMP_VERSION,         /* number of puts since created; > 0 = exists */
    ETCD_CMP_CREATE,          /* create_revision; == 0 = absent */
    ETCD_CMP_MOD,             /* mod_revision */
    ETCD_CMP_VALUE,
    ETCD_CMP_LEASE,           /* the lease the key is attached to, 0 = none */
} etcd_cmp_target;

typedef enum etcd_cmp_op { ETCD_EQUAL, ETCD_NOT_EQUAL, ETCD_GREATER, ETCD_LESS } etcd_cmp_op;

typedef struct etcd_cmp {
    const char *key;
    etcd_cmp_target target;
    etcd_cmp_op op;           /* key's <target> <op> the operand */
    int64_t number;           /* operand of VERSION, CREATE, MOD, LEASE */
    const void *value;        /* operand of VALUE */
    size_t value_len;
} etcd_cmp;

typedef enum etcd_op_type {
    ETCD_OP_GET,              /* the key */
    ETCD_OP_GET_PREFIX,       /* every key under it, in key order, unpaged */
    ETCD_OP_PUT,              /* value, value_len, lease (0 = none) */
    ETCD_OP_DELETE,
    ETCD_OP_DELETE_PREFIX,    /* every key under it */
} etcd_op_type;

typedef struct etcd_op {
    etcd_op_type type;
    const char *key;
    const void *value;
    size_t value_len;
    int64_t lease;
} etcd_op;

/* One op's answer, in the order of the branch taken. */
typedef struct etcd_op_result {
    etcd_op_type type;
    const etcd_kv *kvs;       /* GET*: the keys read */
    size_t n_kvs;
    int64_t deleted;          /* DELETE*: how many keys went */
} etcd_op_result;

typedef struct etcd_txn_result {
    bool succeeded;           /* the compares held: the success ops ran */
    int64_t revision;         /* the store's revision after the txn */
    /* Attempts that failed transiently before the one answered: any of them
     * may have been applied, and then the answer is that of a second run
     * (a put-if-absent that "fails" on its own put). The caller tells its
     * own earlier write from somebody else's with the failure ops' reads. */
    int retried;
    const etcd_op_result *ops;
    size_t n_ops;
    void *mem_;               /* private: what ops point into */
} etcd_txn_result;

/* Runs the transaction (n_cmps 0 = always the success ops: several reads at
 * one revision). *out is valid (and must be freed with
 * etcd_txn_result_free) whenever 0 is returned. A put with a lease etcd no
 * longer has fails with MCDC_ENOTFOUND ("requested lease not found"). */
int etcd_txn(etcd_client *c, const etcd_cmp *cmps, size_t n_cmps, const etcd_op *success, size_t n_success,
             const etcd_op *failure, size_t n_failure, etcd_txn_result *out, mcdc_err *err);
void etcd_txn_result_free(etcd_txn_result *r);
/* The first kv of op i of the result, or NULL (no such op, key absent). */
const etcd_kv *etcd_txn_kv(const etcd_txn_result *r, size_t i);

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
