/* worker_int.h — the inside of a channel worker, private to the files that
 * make it up, and to its unit test:
 *
 *   channel_worker.c  the thread: read, decode, skip, the one retry policy,
 *                     saving positions, stopping
 *   dml.c             a DML channel's rules: repeats, upsert pairing, joining
 *   inflight.c        target calls: the ring of calls in flight, landing in
 *                     order, and the calls that must wait for it
 *   replicate.c       the replicate channel: requests after the watermark
 *   positions.c       where the checkpoint may stand (positions.h)
 *
 * All of a worker's state below is touched by its own thread only, except
 * the published checkpoint (mu) and tick (atomics), which others read. */
#ifndef MCDC_WORKER_INT_H
#define MCDC_WORKER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/backoff.h"
#include "base/idmap.h"
#include "pipeline/channel_worker.h"
#include "pipeline/positions.h"
#include "pipeline/worker_io.h"

/* Upsert Insert halves of one ts held at once. */
#define MAX_PENDING 64
/* Most WAL messages joined into one target call; batch_rows and batch_bytes
 * bound it first. */
#define MAX_BATCH 64
/* How many DML msgIDs a worker remembers to drop repeats (dml.c). */
#define SEEN_IDS 8192
/* Most calls in flight per channel; inflight_calls bounds it first. */
#define MAX_INFLIGHT 64

typedef enum { APPLY_OK = 0, APPLY_STOPPED = -1 } apply_rc;

/* The primary keys a call writes, as inflight.c compares calls. */
typedef struct call_keys {
    int64_t coll_id;
    int64_t *v;           /* NULL: not known */
    size_t n;
    bool ranged;          /* int64 keys, all within [lo, hi] */
    int64_t lo, hi;
} call_keys;

/* A call sent and not yet acknowledged. It holds its messages' positions
 * (holder) until it lands; calls land in the order sent. */
typedef struct inflight_call {
    target_call *call;
    pos_holder holder;
    mq_msgid id;          /* its last message: where an error is reported */
    size_t messages;      /* WAL messages it carries */
    uint64_t first_ts;    /* its oldest change: where its apply lag counts from */
    uint64_t sent_ns;     /* the current attempt's send */
    call_keys keys;
} inflight_call;

typedef struct inflight {
    inflight_call ring[MAX_INFLIGHT]; /* ring[head] is the oldest */
    size_t head, n, bytes;
    idmap probe;          /* scratch: the keys of the call about to go (inflight.c) */
} inflight;

typedef struct dml_state {
    idmap seen;                       /* recent DML msgIDs */
    int64_t seen_ring[SEEN_IDS];
    size_t seen_next;
    /* Inserts that may be the first half of an upsert, all of one ts. */
    change pending[MAX_PENDING];
    mq_msgid pending_id[MAX_PENDING];
    size_t n_pending;
    pos_holder pending_holder;
    uint64_t pending_since_ms;
    int64_t last_insert_coll;         /* the last held inserts applied: collection and ts */
    uint64_t last_insert_ts;
    /* Plain inserts, or deletes, of one partition waiting to go out as one
     * call: only while more messages are already there to read. */
    change batch[MAX_BATCH];
    mq_msgid batch_id[MAX_BATCH];
    size_t n_batch, batch_rows, batch_bytes;
    bool batch_upsert;
    catalog_coll *batch_cc;
    pos_holder batch_holder;
} dml_state;

struct channel_worker {
    worker_ctx ctx;
    char *channel;
    bool replicate;
    _Atomic bool stop;
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;        /* guards ckpt/ckpt_ts for readers on other threads */
    mq_msgid ckpt;
    uint64_t ckpt_ts;
    _Atomic uint64_t tick;
    _Atomic uint64_t tick_seen_ms;
    _Atomic uint64_t idle_since_ms; /* everything read applied and the queue quiet since; 0: busy */
    mq_msgid start_at;         /* len > 0: open here (inclusive) instead of after ckpt */

    /* The worker thread's own. */
    const mq_config *mq;       /* the task env's (outlives the worker), or mq_own */
    mq_config mq_own;          /* the env's settings and this channel's read-ahead */
    mq_kv *mq_kv_own;
    char prefetch_text[16];
    mq_reader *reader;
    bool queue_trouble;        /* the last read met a transient queue error */
    positions pos;
    dml_state dml;
    inflight fly;
    size_t cur_len;            /* payload bytes of the message being handled */
    size_t since_trim_bytes;   /* read since the allocator last gave memory back */
    uint64_t trimmed_mono_ms;
    mcdc_backoff bo;
};

/* ---- channel_worker.c ---------------------------------------------------------------- */

/* A worker without a thread or a reader, for run() and for unit tests. */
channel_worker *worker_new(const worker_ctx *ctx, const char *channel, bool replicate, const mq_msgid *checkpoint,
                           uint64_t checkpoint_ts, const mq_msgid *intent);
void worker_free(channel_worker *w);
bool worker_stopping(const channel_worker *w);

/* One message read from the channel: skip, decode, apply. APPLY_STOPPED
 * when the worker must stop (paused or asked to). */
apply_rc worker_on_message(channel_worker *w, const mq_message *m);
/* One decoded change (worker_on_message's second half); c is taken. */
apply_rc worker_on_change(channel_worker *w, change *c, const mq_msgid *id);
/* Nothing more to read right now. */
apply_rc worker_on_quiet(channel_worker *w);
/* Stopping: takes every reply, saves the checkpoint it reached. */
void worker_on_exit(channel_worker *w);

/* The one retry policy, after a failed attempt at something the message at
 * `at` needs (at may be NULL outside messages). */
typedef enum { RETRY_AGAIN, RETRY_SKIP, RETRY_STOP } retry_verdict;
typedef struct retry_of {
    const mq_msgid *at;
    int64_t collection_id;  /* 0: no collection; else a "not found" of a dropped one is skipped */
    const char *what;       /* NULL, or what was tried, for the reason: "creating target collection for db.c" */
    bool always;            /* any error is transient (the store: a position not saved must not move) */
    size_t messages;        /* WAL messages the failed call carries, `at` the last; 0 or 1: just `at` */
} retry_of;
retry_verdict worker_retry(channel_worker *w, const mcdc_err *err, const retry_of *r);
/* Sleeps ms, or less once the worker is asked to stop; false then. */
bool worker_sleep(channel_worker *w, uint32_t ms);
/* Pauses the task with the reason at a position of this channel. */
void worker_pause_at(channel_worker *w, const mq_msgid *id, const char *what);
/* Pauses the task for a call that the target refused and that carries
 * `messages` WAL messages up to `last`: when it is more than one, no single
 * message can be blamed, so the task is paused at none (a skip_message
 * naming `last` would drop the good messages with it). */
void worker_pause_call(channel_worker *w, const mq_msgid *last, size_t messages, const char *what);
/* A success: the backoff starts small again and the task's trouble clears. */
void worker_healed(channel_worker *w);

/* Positions: a message's fate decided, a holder released (both publish a
 * tick the checkpoint passed), the intent before a call. */
void worker_read(channel_worker *w, const mq_msgid *id, uint64_t ts, uint64_t tick, pos_holder holder);
void worker_release(channel_worker *w, pos_holder holder);
/* Before a call covering up to id goes out. plain_inserts: it carries
 * inserts sent as inserts (which a takeover must not let through). */
apply_rc worker_save_intent(channel_worker *w, const mq_msgid *id, uint64_t ts, bool plain_inserts);
apply_rc worker_save_checkpoint(channel_worker *w);

/* ---- dml.c ------------------------------------------------------------------------- */

apply_rc dml_handle(channel_worker *w, change *c, const mq_msgid *id);
/* Sends the batch being joined, if any. */
apply_rc dml_flush_batch(channel_worker *w);
/* Applies the held upsert halves, if any, as upserts (dml.c says why). */
apply_rc dml_flush_pending(channel_worker *w);
/* The queue is quiet: upsert halves held too long go out as upserts. */
apply_rc dml_quiet(channel_worker *w);
/* Drops what is batched or held, unapplied (stopping). */
void dml_clear(channel_worker *w);

/* ---- inflight.c -------------------------------------------------------------------- */

/* Applies in order, after every call in flight landed: a Delete, a source
 * upsert's halves or DDL must not overtake the calls before it. */
apply_rc calls_apply(channel_worker *w, const change *const *cs, size_t n, const mq_msgid *id, const catalog_coll *cc,
                     bool as_upsert);
/* Sends inserts of one partition without waiting, as upserts when
 * as_upsert, once no call in flight writes a key they write (inflight.c).
 * *in_flight false: they went in order instead (or one by one), and are
 * acknowledged. */
apply_rc calls_send(channel_worker *w, const change *const *cs, size_t n, const mq_msgid *id, uint64_t last_ts,
                    size_t wal_bytes, const catalog_coll *cc, bool as_upsert, pos_holder holder, bool *in_flight);
/* Lands calls in flight until at most keep remain, and any already done. */
apply_rc calls_land(channel_worker *w, size_t keep);
/* Stopping: takes every reply without retrying; those acknowledged in order
 * release their positions. */
void calls_land_on_exit(channel_worker *w);
/* Forgets the calls still in flight, unanswered (their positions stay held). */
void calls_drop(channel_worker *w);
/* The channel is quiet: memory kept for calls in flight goes back. */
void calls_trim(channel_worker *w);

/* ---- replicate.c ------------------------------------------------------------------- */

apply_rc replicate_handle(channel_worker *w, change *c, const mq_msgid *id);

#endif
