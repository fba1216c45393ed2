/* worker_io.h — everything a channel worker needs from the world, as a
 * narrow context of values and callbacks instead of the task itself.
 *
 * A worker applies one channel's changes by rules (dml.c, inflight.c,
 * replicate.c, positions.c). Those rules are what must be right, so they must
 * run in a unit test with fakes: the worker therefore reaches the target,
 * the store, the source's catalog and its task only through this header.
 * `task.c` fills it for production (target_ops.c over the applier,
 * filter.c over the catalog); tests/unit/test_worker.c fills it with fakes.
 *
 * Every callback is called on the worker's own thread. */
#ifndef MCDC_WORKER_IO_H
#define MCDC_WORKER_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/histogram.h"
#include "model/change.h"
#include "mq/mq.h"
#include "pipeline/overlap.h"
#include "source/catalog.h"

/* A target call started and not yet waited for. */
typedef struct target_call target_call;

/* The target, as the worker uses it. Synchronous calls return when the
 * target answered; errors keep milvus_client.h's classification. */
typedef struct target_ops {
    /* n >= 1 changes of one kind: Inserts of one partition (joined, as an
     * Upsert when as_upsert), Deletes of one partition, or one DDL change. */
    int (*apply)(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert, mcdc_err *err);
    /* Inserts of one partition (as an Upsert when as_upsert), started but
     * not waited for. *out is NULL when they did not join and were applied
     * one by one already. */
    int (*start)(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert,
                 target_call **out, mcdc_err *err);
    bool (*ready)(target_call *c);
    int (*wait)(target_call *c, mcdc_err *err);
    /* The same request bytes again, as an Upsert: a retry of an Insert that
     * may have been applied before the connection broke. */
    int (*resend)(target_call *c, mcdc_err *err);
    size_t (*bytes)(const target_call *c);
    size_t (*rows)(const target_call *c);
    bool (*is_upsert)(const target_call *c);
    void (*free)(target_call *c);
    int (*ensure_collection)(void *ud, const catalog_coll *cc, mcdc_err *err);
    /* A replicate-channel request (index, load, flush, database). */
    int (*replay)(void *ud, change *c, mcdc_err *err);
    void (*close)(void *ud);  /* the worker is done with ud; NULL: nothing to do */
} target_ops;

/* The source's description of collections, and which the task covers. */
typedef struct source_ops {
    /* The snapshot of a DML change's collection, waiting a while for etcd
     * when the WAL is ahead of it; NULL when it will not be known. The
     * caller releases it (catalog_release). Gives up early once *stop, and
     * then also returns NULL: the caller checks its stop flag before it
     * takes NULL for "not replicated". */
    catalog_coll *(*collection_of)(void *ud, const change *c, const _Atomic bool *stop);
    bool (*covers)(void *ud, const catalog_coll *cc);
    /* A replicate-channel request names something the task covers. */
    bool (*request_covers)(void *ud, const change *c);
    /* The source dropped the collection (or never had it): a "not found"
     * from the target for it is no error. */
    bool (*dropped)(void *ud, int64_t collection_id);
    /* A live collection by db and name, NULL if none; the caller releases it. */
    catalog_coll *(*find)(void *ud, const char *db, const char *name);
    /* Live covered collections with a shard on channel; the caller frees the
     * list with catalog_release_list. */
    size_t (*covered_on)(void *ud, const char *channel, catalog_coll ***out);
    /* A snapshot's copy of the collection may hold rows the stream brings
     * again: its Inserts with ts <= this go as Upserts (overlap.h rule 1);
     * 0 when none. NULL: never. */
    uint64_t (*upsert_until)(void *ud, int64_t collection_id);
    /* The primary keys a DML change writes or deletes, pointing into it;
     * n 0 when they cannot be told. NULL: never told (the worker then never
     * lets an upsert overtake a call in flight). */
    overlap_keys (*keys)(void *ud, const change *c, const catalog_coll *cc);
    /* The collection was dropped: forget what was cached of it. */
    void (*forget)(void *ud, int64_t collection_id);
    void (*close)(void *ud);  /* the worker is done with ud; NULL: nothing to do */
} source_ops;

/* The store of positions. */
typedef struct store_ops {
    int (*save_checkpoint)(void *ud, const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err);
    int (*save_intent)(void *ud, const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err);
} store_ops;

/* What the worker counts for its task; the task owns it, workers only add. */
typedef struct worker_stats {
    _Atomic uint64_t inserted, upserted, deleted, ddl, messages;
    /* Insert calls sent and not yet acknowledged, over all channels, and the
     * most one channel has had at once. */
    _Atomic uint64_t calls_in_flight, calls_in_flight_peak;
    /* Where the DML channels' threads waited, microseconds summed over
     * them: on the queue (a read that came back with nothing, also while
     * calls are in flight; a read that waited and then got a message is
     * not counted) and on the target (landing a call in flight, and any
     * call applied in order: Delete, upsert halves, DDL, the fallback when
     * a joined call cannot start; encoding and creating a collection on
     * the way included). In a catch-up the two split what holds it back;
     * caught up, the queue wait is idle time. Not counted: retry backoff,
     * starting a call in flight (encoding it), creating target collections
     * when the worker starts, the catalog wait. The replicate channel
     * counts neither: it reads rarely and applies through replay. */
    _Atomic uint64_t queue_wait_us, target_wait_us;
    /* One count per acknowledged Insert, Upsert or Delete call: from the
     * source's commit of its oldest change (the hybrid ts, against this
     * host's clock) to the target's reply; and each call attempt, from send
     * until the reply. */
    mcdc_histogram apply_lag, target_call;
    /* The newest hybrid ts of a change of a covered collection read (time
     * ticks not counted), and of anything read (time ticks too): the last
     * write a switchover waits to see stop, and the end of what a failover
     * saw of the source (task_handover.c). Only ever raised. */
    _Atomic uint64_t last_change_ts, last_read_ts;
} worker_stats;

/* Raises *a to v if v is higher; any thread. */
static inline void worker_stats_raise(_Atomic uint64_t *a, uint64_t v) {
    uint64_t cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

/* The task, as its workers see it. */
typedef struct task_hooks {
    /* An error that will not heal: the task pauses and asks every worker to
     * stop. The reason names the channel and position; at is the message's
     * msgID when the error is at one (the only place an operator's skip may
     * then name), NULL otherwise. */
    void (*pause)(void *ud, const char *channel, const mq_msgid *at, const char *reason);
    /* The last transient error while retrying; "" once healed. */
    void (*trouble)(void *ud, const char *msg);
    /* Whether the operator asked to skip a message of this channel, and
     * which (*at); skip_taken once that message (at) was skipped and the
     * checkpoint saved past it, which clears the request only if it still
     * names it (a newer one stays). */
    bool (*skip_wanted)(void *ud, const char *channel, mq_msgid *at);
    void (*skip_taken)(void *ud, const char *channel, const mq_msgid *at);
    /* The task's watermark (task.h), for the replicate channel. */
    uint64_t (*watermark)(void *ud);
    void *ud;
} task_hooks;

/* A channel's limits. A worker gets them resolved (budget.h): no zero
 * meaning "default" past that point, prefetch_kbytes aside. */
typedef struct worker_settings {
    uint32_t batch_rows;       /* apply.batch_rows: the rows that close a joined call; batch_bytes: its most */
    size_t batch_bytes;
    uint32_t inflight_calls;   /* apply.inflight_calls / inflight_bytes: per channel */
    size_t inflight_bytes;
    uint32_t retry_max_ms;
    /* The queue's read-ahead for this channel, KiB (the driver's
     * prefetch_kbytes, where it has one and the config does not set it);
     * 0 = the driver's default. The task shares one budget among its
     * channels (budget.h). */
    uint32_t prefetch_kbytes;
} worker_settings;

typedef struct worker_ctx {
    const char *task_id;       /* for log lines */
    const char *mq_type;       /* positions are compared and printed the queue's way */
    worker_settings set;
    worker_stats *stats;
    task_hooks hooks;
    const target_ops *target;
    void *target_ud;
    const source_ops *source;
    void *source_ud;
    const store_ops *store;
    void *store_ud;
    /* Covered collections whose target collection held no row when this
     * run of a task created by this process began (task.c); NULL with 0:
     * none. Their inserts in the replay window go as plain
     * inserts (dml.c). Not changed while the worker runs. */
    const int64_t *empty_at_start;
    size_t n_empty_at_start;
} worker_ctx;

#endif
