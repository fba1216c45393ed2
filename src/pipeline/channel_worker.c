/* channel_worker.c — see channel_worker.h. */
#include "pipeline/channel_worker.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/idmap.h"
#include "base/log.h"
#include "pipeline/task.h"
#include "source/decode.h"
#include "target/applier.h"

#define COVERED ((void *)1)
#define NOT_COVERED ((void *)2)
#define MAX_PENDING 64
/* Most WAL inserts joined into one target call (columns.h); apply.batch_rows
 * and batch_bytes bound it first. */
#define MAX_BATCH 64
/* How many DML msgIDs a worker remembers to drop repeats (see is_repeat). */
#define SEEN_IDS 8192
#define IDLE_CHECKPOINT_MS 1000
#define TRIM_AFTER_BYTES (4u << 20)
#define TRIM_EVERY_MS 10000
#define PENDING_MAX_MS 10000
/* Most insert calls in flight per channel; apply.inflight_calls bounds it first. */
#define MAX_INFLIGHT 64
#define FLY_POLL_MS 20
/* How long a DML message may wait for etcd to describe its collection. A
 * create that failed on the source leaves a CreateCollection in the WAL but
 * never a Created record (spec/etcd-meta.md §6), so the wait must end. */
#define CATALOG_WAIT_MS 30000

/* An insert call sent and not yet acknowledged (see flush_batch). Calls land
 * in the order they were sent, so the checkpoint only ever passes messages
 * whose calls, and every call before them, the target acknowledged. */
typedef struct inflight {
    applier_write *wr;
    mq_msgid id;          /* its last message: the position an error is reported at */
    mq_msgid last;        /* the last message it covers: ticks and uncovered messages read after it too */
    uint64_t last_ts;
    uint64_t first_ts;    /* its oldest change: where its apply lag counts from */
    uint64_t sent_ns;     /* the current attempt's send */
    uint64_t tick;        /* the newest tick among those: published once it lands */
    int64_t coll_id;
} inflight;

struct channel_worker {
    task *t;
    char *channel;
    bool replicate;
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;        /* guards ckpt/ckpt_ts for readers on other threads */
    mq_msgid ckpt;             /* len 0 = nothing done yet: start at the earliest */
    mq_msgid start_at;         /* len > 0: open here (inclusive) instead of after ckpt */
    uint64_t ckpt_ts;
    _Atomic uint64_t tick;
    _Atomic uint64_t tick_seen_ms;

    /* Owned by the worker thread. */
    mq_reader *reader;
    applier *ap;
    mq_msgid intent;           /* replay window end, from the store at start */
    mq_msgid done;             /* last message fully handled */
    uint64_t done_ts;
    bool dirty;                /* done moved past the saved checkpoint */
    uint64_t saved_mono_ms;
    mq_msgid intent_saved;     /* last intent written, to write it once per message */
    idmap covered;
    idmap seen;                 /* recent DML msgIDs */
    int64_t seen_ring[SEEN_IDS];
    size_t seen_next;
    change pending[MAX_PENDING]; /* inserts that may be the first half of an upsert */
    mq_msgid pending_id[MAX_PENDING];
    size_t n_pending;
    uint64_t pending_since_ms;   /* when the first held insert arrived */
    int64_t last_insert_coll;    /* the last held inserts applied: collection and ts */
    uint64_t last_insert_ts;
    mq_msgid deferred;           /* handled while inserts were held: done once they are */
    uint64_t deferred_ts;
    /* Plain inserts, or deletes, of one partition waiting to go out as one call: only
     * while more messages are already there to read, so a backlog drains in
     * big calls and a live stream goes out at once (see run). */
    change batch[MAX_BATCH];
    mq_msgid batch_id[MAX_BATCH];
    size_t n_batch, batch_rows, batch_bytes;
    bool batch_upsert;
    catalog_coll *batch_cc;
    mq_msgid batch_last;         /* the last message the batch covers, ticks included */
    uint64_t batch_last_ts;
    uint64_t batch_tick;         /* a tick read while batching: published once applied */
    inflight fly[MAX_INFLIGHT];  /* a ring: fly_head is the oldest */
    size_t fly_head, n_fly, fly_bytes;
    size_t cur_len;              /* payload bytes of the message being handled */
    size_t since_trim_bytes;     /* read since the allocator last gave memory back */
    uint64_t trimmed_mono_ms;
    mcdc_backoff bo;
};

/* The newest call in flight (n_fly > 0). */
static inflight *fly_tail(channel_worker *w) { return &w->fly[(w->fly_head + w->n_fly - 1) % MAX_INFLIGHT]; }

static bool should_stop(const channel_worker *w) { return atomic_load(&w->t->stopping); }

const char *channel_worker_channel(const channel_worker *w) { return w->channel; }
bool channel_worker_is_replicate(const channel_worker *w) { return w->replicate; }

uint64_t channel_worker_tick(const channel_worker *w, uint64_t *seen_mono_ms) {
    if (seen_mono_ms) *seen_mono_ms = atomic_load(&w->tick_seen_ms);
    return atomic_load(&w->tick);
}

void channel_worker_checkpoint(const channel_worker *w, mq_msgid *id, uint64_t *ts) {
    pthread_mutex_lock((pthread_mutex_t *)&w->mu);
    *id = w->ckpt;
    *ts = w->ckpt_ts;
    pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
}

static const char *mqtype(const channel_worker *w) { return w->t->env->mq.type; }

static int cmp_id(const channel_worker *w, const mq_msgid *a, const mq_msgid *b) {
    if (a->len == 0 || b->len == 0) return (int)(a->len != 0) - (int)(b->len != 0);
    return mq_msgid_cmp(mqtype(w), a, b);
}

/* ---- positions ------------------------------------------------------------------- */

static int save_checkpoint(channel_worker *w, mcdc_err *err) {
    if (!w->dirty) return 0;
    if (store_checkpoint_save(w->t->env->store, w->t->id, w->channel, &w->done, w->done_ts, err)) return -1;
    pthread_mutex_lock(&w->mu);
    w->ckpt = w->done;
    w->ckpt_ts = w->done_ts;
    pthread_mutex_unlock(&w->mu);
    w->dirty = false;
    w->saved_mono_ms = mcdc_now_mono_ms();
    return 0;
}

/* The checkpoint may only pass a message once everything before it is
 * applied; while inserts are held (see handle_dml) later messages are
 * remembered and become "done" when the held inserts are applied. */
static void mark_done(channel_worker *w, const mq_msgid *id, uint64_t ts) {
    if (w->n_batch) {
        w->batch_last = *id;
        if (ts > w->batch_last_ts) w->batch_last_ts = ts;
        return;
    }
    if (w->n_pending) {
        w->deferred = *id;
        if (ts > w->deferred_ts) w->deferred_ts = ts;
        return;
    }
    if (w->n_fly) {
        inflight *f = fly_tail(w);
        f->last = *id;
        if (ts > f->last_ts) f->last_ts = ts;
        return;
    }
    w->done = *id;
    if (ts > w->done_ts) w->done_ts = ts;
    w->dirty = true;
}

/* A store failure is not the target's fault and not the data's: retry it like
 * any transient error, because a position we cannot save must not move. */
static int save_with_retry(channel_worker *w, bool intent_of, const mq_msgid *id, uint64_t ts) {
    mcdc_err err;
    for (;;) {
        int rc = intent_of ? store_intent_save(w->t->env->store, w->t->id, w->channel, id, ts, &err)
                           : save_checkpoint(w, &err);
        if (rc == 0) {
            mcdc_backoff_reset(&w->bo);
            return 0;
        }
        task_set_last_error(w->t, err.msg);
        log_warn("task %s channel %s: %s (retrying)", w->t->id, w->channel, err.msg);
        if (should_stop(w)) return -1;
        mcdc_sleep_ms(mcdc_backoff_next(&w->bo));
    }
}

typedef struct pos_lookup {
    const char *channel;
    store_position found;
    bool ok;
} pos_lookup;

static int find_position(void *ud, const store_position *p) {
    pos_lookup *l = ud;
    if (strcmp(p->channel, l->channel) == 0) {
        l->found = *p;
        l->ok = true;
    }
    return 0;
}

/* ---- coverage ----------------------------------------------------------------------- */

/* The catalog snapshot of a DML message's collection, waiting for etcd to
 * catch up when the WAL is ahead of it. NULL: the collection is unknown. */
static bool described(const catalog_coll *cc) {
    if (!cc) return false;
    if (cc->state == CATALOG_DROPPING || cc->state == CATALOG_DROPPED) return true;
    return cc->state == CATALOG_CREATED && cc->pk;
}

/* Whether etcd may still come to describe the collection of change c, which
 * the catalog does not know. Rootcoord stores a collection as Created before
 * any Insert or Delete of it can be written, so for those (and for drops) an
 * id that etcd does not hold now belongs to a collection dropped and removed
 * before mcdc started: waiting would only stall the channel (catch-up from a
 * channel's history meets many such ids). Only a CreateCollection is written
 * before its record, so a fresh one may be ahead of etcd for a moment. */
#define CREATE_FRESH_MS 60000

static bool may_appear(channel_worker *w, const change *c) {
    bool exists;
    mcdc_err err;
    if (catalog_probe(w->t->env->catalog, c->collection_id, &exists, &err)) {
        log_warn("task %s channel %s: %s; waiting for the catalog instead", w->t->id, w->channel, err.msg);
        return true;
    }
    if (exists) return true;
    if (c->kind != CHANGE_CREATE_COLLECTION) return false;
    uint64_t now = mcdc_now_wall_ms(), born = mcdc_ts_physical_ms(c->ts);
    return born + CREATE_FRESH_MS > now;
}

static catalog_coll *collection_of(channel_worker *w, const change *c) {
    int64_t id = c->collection_id;
    catalog *cat = w->t->env->catalog;
    catalog_coll *cc = catalog_get(cat, id);
    if (described(cc) || idmap_get(&w->covered, id) == NOT_COVERED) return cc;
    catalog_release(cc);
    if (!may_appear(w, c)) {
        log_info("task %s channel %s: collection %" PRId64 " is no longer in etcd (dropped before mcdc started); its "
                 "messages are not replicated",
                 w->t->id, w->channel, id);
        idmap_put(&w->covered, id, NOT_COVERED);
        return NULL;
    }
    uint64_t until = mcdc_now_mono_ms() + CATALOG_WAIT_MS;
    while (!should_stop(w) && mcdc_now_mono_ms() < until) {
        catalog_wait_collection(cat, id, 500);
        cc = catalog_get(cat, id);
        if (described(cc)) return cc;
        catalog_release(cc);
    }
    cc = catalog_get(cat, id);
    if (!described(cc)) {
        log_warn("task %s channel %s: etcd does not describe collection %" PRId64 " after %d s; its changes are not "
                 "replicated (a create that failed on the source leaves this)",
                 w->t->id, w->channel, id, CATALOG_WAIT_MS / 1000);
        idmap_put(&w->covered, id, NOT_COVERED);
        catalog_release(cc);
        return NULL;
    }
    return cc;
}

static bool covers(channel_worker *w, const catalog_coll *cc) {
    if (!described(cc)) return false;
    void *v = idmap_get(&w->covered, cc->id);
    if (v) return v == COVERED;
    bool yes = task_spec_covers(&w->t->spec, cc->db_name, cc->name);
    idmap_put(&w->covered, cc->id, yes ? COVERED : NOT_COVERED);
    return yes;
}

/* ---- applying ----------------------------------------------------------------------- */

typedef enum { APPLY_OK = 0, APPLY_STOPPED = -1 } apply_rc;

static bool source_gone(channel_worker *w, int64_t coll_id) {
    catalog_coll *cc = catalog_get(w->t->env->catalog, coll_id);
    bool gone = !cc || cc->state == CATALOG_DROPPING || cc->state == CATALOG_DROPPED;
    catalog_release(cc);
    return gone;
}

static void pause_at(channel_worker *w, const mq_msgid *id, const char *what) {
    char pos[64] = "";
    mq_msgid_format(mqtype(w), id, pos, sizeof pos);
    char why[2 * MCDC_ERR_MSG_MAX];
    snprintf(why, sizeof why, "channel %s position %s: %s", w->channel, pos, what);
    task_pause_on_error(w->t, why);
}

/* The retry policy for a failed call of the message at id: transient errors
 * are retried forever (visible as last_error, after a backoff sleep here),
 * "not found" on a collection the source has dropped meanwhile is fine (its
 * data is gone there too), anything else pauses the task at the message. */
typedef enum { FAILED_RETRY, FAILED_SKIP, FAILED_STOP } failed_action;

static failed_action after_failure(channel_worker *w, const mcdc_err *err, int64_t coll_id, change_kind kind,
                                   const mq_msgid *id) {
    if (err->code == MCDC_ENOTFOUND && source_gone(w, coll_id)) {
        log_info("task %s: %s skipped, source collection %" PRId64 " is dropped: %s", w->t->id, change_kind_name(kind),
                 coll_id, err->msg);
        return FAILED_SKIP;
    }
    if (!mcdc_err_is_transient(err->code)) {
        pause_at(w, id, err->msg);
        return FAILED_STOP;
    }
    task_set_last_error(w->t, err->msg);
    log_warn("task %s channel %s: %s (retrying)", w->t->id, w->channel, err->msg);
    if (should_stop(w)) return FAILED_STOP;
    mcdc_sleep_ms(mcdc_backoff_next(&w->bo));
    return FAILED_RETRY;
}

/* One target call attempt ended: its time, whatever the outcome. */
static void call_ended(channel_worker *w, uint64_t sent_ns) {
    mcdc_histogram_observe_us(&w->t->target_call, (mcdc_now_mono_ns() - sent_ns) / 1000);
}

/* The target acknowledged a call whose oldest change the source committed
 * at ts. A source clock ahead of ours reads as no lag, not a huge one. */
static void lag_ended(channel_worker *w, uint64_t first_ts) {
    uint64_t now = mcdc_now_wall_ms(), at = mcdc_ts_physical_ms(first_ts);
    mcdc_histogram_observe_us(&w->t->apply_lag, now > at ? (now - at) * 1000 : 0);
}

static uint64_t oldest_ts(const change *const *cs, size_t n) {
    uint64_t ts = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (cs[i]->ts < ts) ts = cs[i]->ts;
    return ts;
}

static void applied_ok(channel_worker *w, change_kind kind, bool upsert, size_t rows) {
    mcdc_backoff_reset(&w->bo);
    task_set_last_error(w->t, "");
    switch (kind) {
    case CHANGE_INSERT: atomic_fetch_add(upsert ? &w->t->upserted : &w->t->inserted, rows); break;
    case CHANGE_DELETE: atomic_fetch_add(&w->t->deleted, rows); break;
    default: atomic_fetch_add(&w->t->ddl, 1); break;
    }
}

static void publish_tick(channel_worker *w, uint64_t tick) {
    atomic_store(&w->tick, tick);
    atomic_store(&w->tick_seen_ms, mcdc_now_mono_ms());
}

/* A tick read outside a batch: it says everything before it with a smaller
 * ts is applied, so it is published once that is true — now, or when the
 * last call in flight lands. Not while inserts are held (handle_dml). */
static void tick_read(channel_worker *w, uint64_t tick) {
    if (w->n_pending) return;
    if (w->n_fly)
        fly_tail(w)->tick = tick;
    else
        publish_tick(w, tick);
}

/* ---- calls in flight -------------------------------------------------------------- */

static void pop_head(channel_worker *w) {
    inflight *f = &w->fly[w->fly_head];
    w->fly_bytes -= applier_write_bytes(f->wr);
    applier_write_free(f->wr);
    memset(f, 0, sizeof *f);
    w->fly_head = (w->fly_head + 1) % MAX_INFLIGHT;
    w->n_fly--;
    atomic_fetch_sub(&w->t->calls_in_flight, 1);
}

static void head_landed(channel_worker *w) {
    inflight *f = &w->fly[w->fly_head];
    w->done = f->last;
    if (f->last_ts > w->done_ts) w->done_ts = f->last_ts;
    w->dirty = true;
    if (f->tick) publish_tick(w, f->tick);
    pop_head(w);
}

/* Waits for the oldest call in flight, retrying it by the policy, and lets
 * the checkpoint pass what it covers. */
static apply_rc land_head(channel_worker *w) {
    inflight *f = &w->fly[w->fly_head];
    mcdc_err err;
    bool applied = true;
    while (applier_write_wait(f->wr, &err)) {
        call_ended(w, f->sent_ns);
        failed_action act = after_failure(w, &err, f->coll_id, CHANGE_INSERT, &f->id);
        if (act == FAILED_STOP) return APPLY_STOPPED;
        if (act == FAILED_SKIP) {
            applied = false;
            break;
        }
        /* The target may have applied the insert before the connection
         * broke: the same rows again as an upsert are right either way. */
        f->sent_ns = mcdc_now_mono_ns();
        if (applier_write_resend(f->wr, true, &err)) {
            pause_at(w, &f->id, err.msg);
            return APPLY_STOPPED;
        }
    }
    if (applied) {
        call_ended(w, f->sent_ns);
        lag_ended(w, f->first_ts);
        applied_ok(w, CHANGE_INSERT, applier_write_is_upsert(f->wr), applier_write_rows(f->wr));
    }
    head_landed(w);
    return APPLY_OK;
}

/* Lands the calls in flight until at most keep remain, and any that are
 * done already (without waiting) beyond that. */
static apply_rc land(channel_worker *w, size_t keep) {
    while (w->n_fly && (w->n_fly > keep || applier_write_ready(w->fly[w->fly_head].wr)))
        if (land_head(w)) return APPLY_STOPPED;
    return APPLY_OK;
}

/* On the way out (stopping, or paused): takes every reply without retrying.
 * The checkpoint passes the calls acknowledged in order; the rest lie in
 * the replay window (their intent is saved) and are upserted on restart. */
static void land_on_exit(channel_worker *w) {
    bool in_order = true;
    while (w->n_fly) {
        inflight *f = &w->fly[w->fly_head];
        mcdc_err err;
        if (in_order && applier_write_wait(f->wr, &err) == 0) {
            call_ended(w, f->sent_ns);
            lag_ended(w, f->first_ts);
            applied_ok(w, CHANGE_INSERT, applier_write_is_upsert(f->wr), applier_write_rows(f->wr));
            head_landed(w);
        } else {
            in_order = false;
            pop_head(w);
        }
    }
}

static apply_rc save_intent(channel_worker *w, const mq_msgid *id, uint64_t ts) {
    if (cmp_id(w, id, &w->intent_saved) <= 0) return APPLY_OK;
    if (save_with_retry(w, true, id, ts)) return APPLY_STOPPED;
    w->intent_saved = *id;
    return APPLY_OK;
}

/* ---- applying ----------------------------------------------------------------------- */

/* Applies changes one call at a time, after every call in flight landed:
 * a Delete, an Upsert or DDL must not overtake the inserts before it. */
static apply_rc apply_many(channel_worker *w, const change *const *cs, size_t n, const mq_msgid *id,
                           const catalog_coll *cc, bool as_upsert) {
    const change *c = cs[0];
    uint64_t ts = 0;
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i]->ts > ts) ts = cs[i]->ts;
        rows += cs[i]->num_rows;
    }
    if (land(w, 0) || save_intent(w, id, ts)) return APPLY_STOPPED;
    bool dml = c->kind == CHANGE_INSERT || c->kind == CHANGE_DELETE;
    mcdc_err err;
    for (;;) {
        uint64_t sent_ns = mcdc_now_mono_ns();
        int rc = c->kind == CHANGE_DELETE ? applier_apply_deletes(w->ap, cs, n, cc, &err)
                 : n > 1                  ? applier_apply_inserts(w->ap, cs, n, cc, as_upsert, &err)
                                          : applier_apply(w->ap, c, cc, as_upsert, &err);
        if (dml) call_ended(w, sent_ns);
        if (rc == 0) break;
        /* A transient failure is ambiguous: the target may have applied the
         * insert before the connection broke. Retrying it as an upsert makes
         * the retry safe either way. */
        if (mcdc_err_is_transient(err.code) && c->kind == CHANGE_INSERT) as_upsert = true;
        failed_action act = after_failure(w, &err, c->collection_id, c->kind, id);
        if (act == FAILED_STOP) return APPLY_STOPPED;
        if (act == FAILED_SKIP) return APPLY_OK;
    }
    if (dml) lag_ended(w, oldest_ts(cs, n));
    applied_ok(w, c->kind, as_upsert, rows);
    return APPLY_OK;
}

static apply_rc apply_one(channel_worker *w, const change *c, const mq_msgid *id, const catalog_coll *cc, bool as_upsert) {
    return apply_many(w, &c, 1, id, cc, as_upsert);
}

static bool in_replay_window(channel_worker *w, const mq_msgid *id) {
    return w->intent.len && cmp_id(w, id, &w->intent) <= 0;
}

static void clear_pending(channel_worker *w) {
    for (size_t i = 0; i < w->n_pending; i++) change_free(&w->pending[i]);
    w->n_pending = 0;
}

static void clear_batch(channel_worker *w) {
    for (size_t i = 0; i < w->n_batch; i++) change_free(&w->batch[i]);
    w->n_batch = w->batch_rows = w->batch_bytes = 0;
    catalog_release(w->batch_cc);
    w->batch_cc = NULL;
    w->batch_tick = 0;
    w->batch_last_ts = 0;
}

/* A batch is plain Inserts of one partition or Deletes of one partition.
 * An Upsert's halves never join: the Insert half (MsgBase.timestamp 0) waits
 * for its Delete half, and a Delete that shares its ts with the last held
 * inserts is that half (handle_dml). */
static bool joins_batch(channel_worker *w, const change *c, const mq_msgid *id) {
    if (!w->n_batch || c->kind != w->batch[0].kind) return false;
    if (c->kind == CHANGE_INSERT && c->base_ts == 0) return false;
    if (c->kind == CHANGE_DELETE &&
        (w->n_pending || (c->collection_id == w->last_insert_coll && c->ts == w->last_insert_ts)))
        return false;
    const change *b = &w->batch[0];
    uint32_t max_rows = w->t->env->batch_rows ? w->t->env->batch_rows : 5000;
    size_t max_bytes = w->t->env->batch_bytes ? w->t->env->batch_bytes : 8u << 20;
    return c->collection_id == b->collection_id && c->partition_id == b->partition_id &&
           in_replay_window(w, id) == w->batch_upsert && w->n_batch < MAX_BATCH &&
           w->batch_rows + c->num_rows <= max_rows && w->batch_bytes + w->cur_len <= max_bytes;
}

static void add_to_batch(channel_worker *w, change *c, const mq_msgid *id, const catalog_coll *cc) {
    if (w->n_batch == 0) {
        w->batch_upsert = in_replay_window(w, id);
        w->batch_cc = catalog_get(w->t->env->catalog, cc->id);
    }
    w->batch[w->n_batch] = *c;
    w->batch_id[w->n_batch] = *id;
    w->n_batch++;
    w->batch_rows += c->num_rows;
    w->batch_bytes += w->cur_len;
    w->batch_last = *id;
    if (c->ts > w->batch_last_ts) w->batch_last_ts = c->ts;
    memset(c, 0, sizeof *c);
}

/* Starts the batch's call without waiting for it, so that a target that
 * stalls on one call does not stall the channel: plain inserts commute, and
 * whatever must not overtake them (apply_many) lands them first. Calls in
 * flight are bounded by apply.inflight_calls and, by their request bytes,
 * apply.inflight_bytes (one always goes). */
typedef enum { SENT_IN_FLIGHT, SENT_AND_ACKED, SEND_IN_ORDER } send_how;

static send_how send_batch(channel_worker *w, const change *const *parts, size_t n, const mq_msgid *id,
                           apply_rc *rc) {
    const task_env *env = w->t->env;
    size_t max_calls = env->inflight_calls ? env->inflight_calls : 4;
    size_t max_bytes = env->inflight_bytes ? env->inflight_bytes : 4u << 20;
    if (max_calls > MAX_INFLIGHT) max_calls = MAX_INFLIGHT;
    /* The batch's WAL bytes stand in for its request bytes, which are known
     * only once it is serialized; the two differ by a few percent. */
    while (w->n_fly && (w->n_fly >= max_calls || w->fly_bytes + w->batch_bytes > max_bytes))
        if ((*rc = land_head(w))) return SENT_IN_FLIGHT;
    if ((*rc = save_intent(w, id, w->batch_last_ts))) return SENT_IN_FLIGHT;
    uint64_t first_ts = oldest_ts(parts, n);
    applier_write *wr;
    mcdc_err err;
    uint64_t sent_ns = mcdc_now_mono_ns();
    if (applier_send_inserts(w->ap, parts, n, w->batch_cc, false, &wr, &err)) {
        /* apply_many retries it by the policy. */
        log_debug("task %s channel %s: %s; applying in order instead", w->t->id, w->channel, err.msg);
        return SEND_IN_ORDER;
    }
    if (!wr) {
        /* The parts did not join and went one by one, already acknowledged. */
        call_ended(w, sent_ns);
        lag_ended(w, first_ts);
        applied_ok(w, CHANGE_INSERT, false, w->batch_rows);
        return SENT_AND_ACKED;
    }
    w->n_fly++;
    *fly_tail(w) = (inflight){.wr = wr,
                              .id = *id,
                              .last = w->batch_last,
                              .last_ts = w->batch_last_ts,
                              .first_ts = first_ts,
                              .sent_ns = sent_ns,
                              .tick = w->batch_tick,
                              .coll_id = w->batch_cc->id};
    w->fly_bytes += applier_write_bytes(wr);
    atomic_fetch_add(&w->t->calls_in_flight, 1);
    uint64_t peak = atomic_load(&w->t->calls_in_flight_peak);
    while (w->n_fly > peak && !atomic_compare_exchange_weak(&w->t->calls_in_flight_peak, &peak, w->n_fly)) {
    }
    return SENT_IN_FLIGHT;
}

/* Sends the joined inserts, then lets the checkpoint (and the tick, for the
 * watermark) pass everything the batch covered once they are acknowledged.
 * Inside the replay window the batch is upserts, and two upserts of one key
 * must not cross, so there it goes in order. */
static apply_rc flush_batch(channel_worker *w) {
    if (!w->n_batch) return APPLY_OK;
    const change *parts[MAX_BATCH];
    for (size_t i = 0; i < w->n_batch; i++) parts[i] = &w->batch[i];
    const mq_msgid *id = &w->batch_id[w->n_batch - 1];
    apply_rc rc = APPLY_OK;
    /* Deletes go in order: they must not overtake the inserts before them. */
    send_how how = w->batch_upsert || parts[0]->kind == CHANGE_DELETE ? SEND_IN_ORDER
                                                                      : send_batch(w, parts, w->n_batch, id, &rc);
    if (rc) return rc;
    if (how == SEND_IN_ORDER && (rc = apply_many(w, parts, w->n_batch, id, w->batch_cc, w->batch_upsert))) return rc;
    mq_msgid last = w->batch_last;
    uint64_t last_ts = w->batch_last_ts, tick = w->batch_tick;
    clear_batch(w);
    if (how != SENT_IN_FLIGHT) {
        mark_done(w, &last, last_ts);
        if (tick) tick_read(w, tick);
    }
    return APPLY_OK;
}

/* Applies the held inserts: as upserts when a Delete of the same ts paired
 * with them, else as inserts (upserts inside the replay window). */
static apply_rc flush_pending(channel_worker *w, bool paired) {
    const mq_msgid *ids = w->pending_id;
    for (size_t i = 0; i < w->n_pending; i++) {
        change *c = &w->pending[i];
        catalog_coll *cc = collection_of(w, c);
        if (!cc) {
            clear_pending(w);
            return APPLY_OK;
        }
        apply_rc rc = apply_one(w, c, &ids[i], cc, paired || in_replay_window(w, &ids[i]));
        catalog_release(cc);
        if (rc != APPLY_OK) return rc;
    }
    if (w->n_pending) {
        w->last_insert_coll = w->pending[0].collection_id;
        w->last_insert_ts = w->pending[0].ts;
        mq_msgid last = ids[w->n_pending - 1];
        uint64_t last_ts = w->pending[w->n_pending - 1].ts;
        bool later = w->deferred.len && cmp_id(w, &w->deferred, &last) > 0;
        if (later) {
            last = w->deferred;
            if (w->deferred_ts > last_ts) last_ts = w->deferred_ts;
        }
        clear_pending(w);
        mark_done(w, &last, last_ts);
    }
    w->deferred.len = 0;
    w->deferred_ts = 0;
    return APPLY_OK;
}

/* ---- the DML channel ------------------------------------------------------------------ */

/* Handles one decoded change of a DML channel. Returns APPLY_STOPPED when
 * the worker must stop (paused or shutting down).
 *
 * Inserts are held back, because an Insert may be the first half of a
 * source Upsert whose Delete half (same ts, spec/mq-messages.md §9.3) comes
 * in the next message or the next fetch. The hold ends when the question is
 * settled: a message of the same collection arrives, or a time tick at or
 * past the held ts (the tick is a watermark: nothing with a smaller ts
 * follows, timestamps.md §3). Other collections' changes are applied
 * meanwhile; their order relative to ours does not matter. */
/* A producer that retried after a broker outage can write one DML message
 * twice; Milvus's own reader drops the repeat by its msgID, which the ID
 * allocator makes unique (spec/mq-messages.md §9.1). So do we: a repeated
 * Delete would otherwise remove the row an Upsert just wrote, and a
 * repeated Insert would double it. */
static bool is_repeat(channel_worker *w, const change *c) {
    if ((c->kind != CHANGE_INSERT && c->kind != CHANGE_DELETE) || c->msg_id == 0) return false;
    if (idmap_get(&w->seen, c->msg_id)) return true;
    int64_t old = w->seen_ring[w->seen_next];
    if (old) idmap_del(&w->seen, old);
    w->seen_ring[w->seen_next] = c->msg_id;
    w->seen_next = (w->seen_next + 1) % SEEN_IDS;
    idmap_put(&w->seen, c->msg_id, (void *)1);
    return false;
}

static apply_rc handle_dml(channel_worker *w, change *c, const mq_msgid *id) {
    if (is_repeat(w, c)) {
        log_warn("task %s channel %s: %s msgID %" PRId64 " seen before on this channel; dropped as a repeat", w->t->id,
                 w->channel, change_kind_name(c->kind), c->msg_id);
        mark_done(w, id, 0);
        return APPLY_OK;
    }
    if (c->kind == CHANGE_TIMETICK && w->n_batch) {
        w->batch_tick = c->ts;
        mark_done(w, id, c->ts);
        return APPLY_OK;
    }
    if (joins_batch(w, c, id)) {
        add_to_batch(w, c, id, w->batch_cc);
        return APPLY_OK;
    }
    if (flush_batch(w)) return APPLY_STOPPED;
    if (c->kind == CHANGE_TIMETICK) {
        if (w->n_pending && c->ts >= w->pending[0].ts && flush_pending(w, false)) return APPLY_STOPPED;
        tick_read(w, c->ts);
        mark_done(w, id, c->ts);
        return APPLY_OK;
    }
    catalog_coll *cc = c->collection_id ? collection_of(w, c) : NULL;
    if (!cc || !covers(w, cc)) {
        if (!cc) log_debug("task %s channel %s: %s of unknown collection %" PRId64 " not replicated", w->t->id, w->channel,
                           change_kind_name(c->kind), c->collection_id);
        catalog_release(cc);
        mark_done(w, id, 0);
        return APPLY_OK;
    }

    apply_rc rc = APPLY_OK;
    bool held_same_coll = w->n_pending && w->pending[0].collection_id == c->collection_id;
    if (c->kind == CHANGE_INSERT && c->base_ts == 0) {
        /* Only an Upsert's Insert half leaves MsgBase.timestamp at 0 (decode.c,
         * fixture upsert_insert.bin); a plain Insert goes out at once below. */
        bool same = held_same_coll && w->pending[0].ts == c->ts && w->n_pending < MAX_PENDING;
        if (w->n_pending && !same && (rc = flush_pending(w, false))) goto out;
        if (w->n_pending == 0) w->pending_since_ms = mcdc_now_mono_ms();
        w->pending[w->n_pending] = *c;
        w->pending_id[w->n_pending] = *id;
        w->n_pending++;
        memset(c, 0, sizeof *c);
        catalog_release(cc);
        return APPLY_OK;
    }
    if (c->kind == CHANGE_DELETE && held_same_coll && w->pending[0].ts == c->ts) {
        /* The source's Upsert: Insert(s) and a Delete with one ts. Replaying
         * them as an insert then a delete would delete the new rows (the
         * target gives each call a newer ts), so send the rows as an upsert,
         * which replaces the old ones — the Delete is its other half. */
        if ((rc = flush_pending(w, true))) goto out;
        mark_done(w, id, c->ts);
        goto out;
    }
    if (c->kind == CHANGE_DELETE && !held_same_coll && c->collection_id == w->last_insert_coll &&
        c->ts == w->last_insert_ts) {
        /* The Delete half of an upsert whose Insert half was already applied
         * as an upsert (held too long, below); a plain Delete never shares a
         * ts with an Insert, so this is exactly that case. */
        mark_done(w, id, c->ts);
        goto out;
    }
    if (held_same_coll && (rc = flush_pending(w, false))) goto out;
    if ((c->kind == CHANGE_INSERT || c->kind == CHANGE_DELETE) && w->n_pending == 0) {
        /* A plain Insert or Delete starts a batch; run() sends it as soon as
         * no further message is waiting. */
        add_to_batch(w, c, id, cc);
        goto out;
    }
    if ((rc = apply_one(w, c, id, cc, c->kind == CHANGE_INSERT && in_replay_window(w, id)))) goto out;
    if (c->kind == CHANGE_DROP_COLLECTION) idmap_del(&w->covered, c->collection_id);
    mark_done(w, id, c->ts);
out:
    catalog_release(cc);
    return rc;
}

/* After each message, and while the queue is quiet: persist the position
 * (done only ever covers acknowledged calls) right away once everything sent
 * is acknowledged (so a restart replays little), else at most once a second
 * for positions that only moved over ticks and other collections' messages. */
static apply_rc after_message(channel_worker *w) {
    if (!w->dirty) return APPLY_OK;
    bool sent_all_acked = w->intent_saved.len && cmp_id(w, &w->done, &w->intent_saved) >= 0 &&
                          cmp_id(w, &w->ckpt, &w->intent_saved) < 0;
    if (sent_all_acked || mcdc_now_mono_ms() - w->saved_mono_ms >= IDLE_CHECKPOINT_MS)
        return save_with_retry(w, false, NULL, 0) ? APPLY_STOPPED : APPLY_OK;
    return APPLY_OK;
}

/* Existing covered collections whose shards are on this channel get their
 * target collection now, before any write arrives for them. */
static apply_rc ensure_existing(channel_worker *w) {
    catalog_coll **list;
    size_t n = catalog_list(w->t->env->catalog, NULL, &list);
    apply_rc rc = APPLY_OK;
    for (size_t i = 0; i < n && rc == APPLY_OK; i++) {
        catalog_coll *cc = list[i];
        bool here = false;
        for (size_t k = 0; k < cc->n_channels; k++)
            if (strcmp(cc->pchannels[k], w->channel) == 0) here = true;
        if (!here || !covers(w, cc) || cc->state != CATALOG_CREATED) continue;
        mcdc_err err;
        for (;;) {
            if (applier_ensure_collection(w->ap, cc, &err) == 0) break;
            if (!mcdc_err_is_transient(err.code)) {
                char why[2 * MCDC_ERR_MSG_MAX];
                snprintf(why, sizeof why, "creating target collection for %s.%s: %s", cc->db_name, cc->name, err.msg);
                task_pause_on_error(w->t, why);
                rc = APPLY_STOPPED;
                break;
            }
            task_set_last_error(w->t, err.msg);
            if (should_stop(w)) {
                rc = APPLY_STOPPED;
                break;
            }
            mcdc_sleep_ms(mcdc_backoff_next(&w->bo));
        }
    }
    catalog_release_list(list, n);
    return rc;
}

/* ---- the replicate channel ------------------------------------------------------------- */

/* Index, load and flush requests must not overtake the DML they follow: a
 * CreateIndex applied before the collection exists on the target fails. So a
 * request with ts T waits until every DML channel has applied up to T. */
/* The wait is bounded: the order it keeps matters for index and load
 * requests, not for the rows, and a DML channel that lags for long (a
 * backlog, a target that retries) must not hold index, load and flush
 * requests of every collection hostage. */
#define WATERMARK_WAIT_MS 30000

static apply_rc wait_for_watermark(channel_worker *w, uint64_t ts) {
    uint64_t start = mcdc_now_mono_ms();
    while (!should_stop(w)) {
        uint64_t wm = task_watermark(w->t);
        if (wm == UINT64_MAX || wm >= ts) return APPLY_OK;
        if (mcdc_now_mono_ms() - start > WATERMARK_WAIT_MS) {
            log_warn("task %s: the DML channels stayed behind ts %" PRIu64 " (watermark %" PRIu64 ") for %d s; "
                     "applying the %s request anyway",
                     w->t->id, ts, wm, WATERMARK_WAIT_MS / 1000, w->channel);
            return APPLY_OK;
        }
        mcdc_sleep_ms(50);
    }
    return APPLY_STOPPED;
}

static bool request_covered(channel_worker *w, const change *c) {
    const char *db = c->db_name[0] ? c->db_name : "default";
    const task_spec *s = &w->t->spec;
    switch (c->kind) {
    case CHANGE_CREATE_DATABASE:
    case CHANGE_DROP_DATABASE:
        /* Only a task that owns the whole database may drop it on the target. */
        if (task_spec_covers(s, db, "*")) return true;
        if (c->kind == CHANGE_DROP_DATABASE) return false;
        for (size_t i = 0; i < s->n_collections; i++)
            if (strcmp(s->collections[i].db, db) == 0) return true;
        return false;
    case CHANGE_FLUSH: {
        const Milvus__Proto__Milvus__FlushRequest *f = (const void *)c->msg;
        for (size_t i = 0; i < f->n_collection_names; i++)
            if (task_spec_covers(s, db, f->collection_names[i])) return true;
        return false;
    }
    default: return task_spec_covers(s, db, c->collection_name);
    }
}

static apply_rc handle_request(channel_worker *w, change *c, const mq_msgid *id) {
    if (!request_covered(w, c)) {
        mark_done(w, id, 0);
        return APPLY_OK;
    }
    if (wait_for_watermark(w, c->ts)) return APPLY_STOPPED;
    mcdc_err err;
    /* A collection-scoped request needs the target collection; it exists if
     * the collection was written to, but an index can come first. */
    if (c->collection_name[0]) {
        catalog_coll *cc = catalog_find(w->t->env->catalog, c->db_name[0] ? c->db_name : "default", c->collection_name);
        if (!cc) {
            log_info("task %s: %s of %s.%s skipped: the collection no longer exists on the source", w->t->id,
                     change_kind_name(c->kind), c->db_name, c->collection_name);
            mark_done(w, id, c->ts);
            return APPLY_OK;
        }
        while (applier_ensure_collection(w->ap, cc, &err)) {
            if (!mcdc_err_is_transient(err.code) || should_stop(w)) break;
            task_set_last_error(w->t, err.msg);
            mcdc_sleep_ms(mcdc_backoff_next(&w->bo));
        }
        catalog_release(cc);
    }
    if (save_with_retry(w, true, id, c->ts)) return APPLY_STOPPED;
    for (;;) {
        if (applier_replay(w->ap, c, &err) == 0) break;
        if (!mcdc_err_is_transient(err.code)) {
            char pos[64] = "";
            mq_msgid_format(mqtype(w), id, pos, sizeof pos);
            char why[2 * MCDC_ERR_MSG_MAX];
            snprintf(why, sizeof why, "channel %s position %s: %s", w->channel, pos, err.msg);
            task_pause_on_error(w->t, why);
            return APPLY_STOPPED;
        }
        task_set_last_error(w->t, err.msg);
        if (should_stop(w)) return APPLY_STOPPED;
        mcdc_sleep_ms(mcdc_backoff_next(&w->bo));
    }
    mcdc_backoff_reset(&w->bo);
    task_set_last_error(w->t, "");
    atomic_fetch_add(&w->t->ddl, 1);
    mark_done(w, id, c->ts);
    return save_with_retry(w, false, NULL, 0) ? APPLY_STOPPED : APPLY_OK;
}

/* ---- the loop ------------------------------------------------------------------------- */

static bool take_skip(channel_worker *w, const mq_msgid *id) {
    task *t = w->t;
    bool skip = false;
    pthread_mutex_lock(&t->mu);
    if (t->skip_channel[0] && strcmp(t->skip_channel, w->channel) == 0 && cmp_id(w, id, &t->skip_id) == 0) {
        skip = true;
        t->skip_channel[0] = '\0';
    }
    pthread_mutex_unlock(&t->mu);
    return skip;
}

/* Everything read so far applied and acknowledged: before a message is
 * skipped, or where one will not decode, so the checkpoint lands right
 * before it. */
static apply_rc settle(channel_worker *w) {
    return flush_batch(w) || land(w, 0) || flush_pending(w, false) ? APPLY_STOPPED : APPLY_OK;
}

static void *run(void *arg) {
    channel_worker *w = arg;
    mcdc_err err;
    mq_start start = {.kind = MQ_START_EARLIEST};
    if (w->start_at.len) {
        start.kind = MQ_START_AT;
        start.at = w->start_at;
        char pos[64] = "";
        mq_msgid_format(mqtype(w), &w->start_at, pos, sizeof pos);
        log_info("task %s channel %s: starting at %s, where its first collection there begins", w->t->id, w->channel, pos);
    } else if (w->ckpt.len) {
        start.kind = MQ_START_AFTER;
        start.at = w->ckpt;
    }
    w->reader = mq_open(&w->t->env->mq, w->channel, &start, &err);
    if (!w->reader) {
        char why[2 * MCDC_ERR_MSG_MAX];
        snprintf(why, sizeof why, "channel %s: %s", w->channel, err.msg);
        task_pause_on_error(w->t, why);
        return NULL;
    }
    if (!w->replicate && ensure_existing(w)) return NULL;

    while (!should_stop(w)) {
        mq_message m;
        if (w->n_fly && land(w, SIZE_MAX)) break;
        /* With a batch started, only look at what is already there: a batch
         * never waits for the queue. With calls in flight, look again soon
         * to land them. */
        mq_result r = mq_next(w->reader, &m, w->n_batch ? 0 : w->n_fly ? FLY_POLL_MS : 200, &err);
        if (r == MQ_ERROR) {
            char why[2 * MCDC_ERR_MSG_MAX];
            snprintf(why, sizeof why, "channel %s: %s", w->channel, err.msg);
            task_pause_on_error(w->t, why);
            break;
        }
        if (r != MQ_MESSAGE && w->n_batch) {
            if (flush_batch(w) || after_message(w)) break;
            continue;
        }
        if (r != MQ_MESSAGE) {
            /* Normally a tick settles a held insert within 200 ms. If none
             * comes (the queue or the source is down), do not hold rows
             * forever: apply them as upserts, which is right whether or not
             * a Delete half follows (and that half is then recognised and
             * dropped in handle_dml). */
            if (w->n_pending && mcdc_now_mono_ms() - w->pending_since_ms > PENDING_MAX_MS && flush_pending(w, true))
                break;
            /* A catch-up leaves freed memory in the allocator's per-thread
             * heaps, where it stays (docs/benchmarks.md: 100+ MiB after an
             * 8-channel catch-up); give it back once the channel has gone
             * quiet, at most every TRIM_EVERY_MS. */
            if (w->since_trim_bytes > TRIM_AFTER_BYTES && mcdc_now_mono_ms() - w->trimmed_mono_ms >= TRIM_EVERY_MS) {
                malloc_trim(0);
                w->since_trim_bytes = 0;
                w->trimmed_mono_ms = mcdc_now_mono_ms();
            }
            const char *trouble = mq_last_transient_error(w->reader);
            if (trouble && r == MQ_NONE) task_set_last_error(w->t, trouble);
            /* Calls that landed while the queue was quiet move the checkpoint too. */
            if (after_message(w)) break;
            continue;
        }
        mq_msgid id = m.id;
        atomic_fetch_add(&w->t->messages, 1);
        if (take_skip(w, &id)) {
            log_warn("task %s channel %s: skipping one message at the operator's request", w->t->id, w->channel);
            if (settle(w)) break;
            mark_done(w, &id, 0);
            if (save_with_retry(w, false, NULL, 0)) break;
            continue;
        }
        change c;
        if (decode_change(m.payload, m.len, &c, &err)) {
            /* Never skipped: the task stops here, the checkpoint stays before
             * it, and an operator decides (maintenance skip_message). */
            if (settle(w) == APPLY_OK) save_with_retry(w, false, NULL, 0);
            pause_at(w, &id, err.msg);
            break;
        }
        w->cur_len = m.len;
        w->since_trim_bytes += m.len;
        apply_rc rc = w->replicate ? handle_request(w, &c, &id) : handle_dml(w, &c, &id);
        change_free(&c);
        if (rc || after_message(w)) break;
    }
    clear_batch(w);
    clear_pending(w);
    land_on_exit(w);
    mcdc_err ignored;
    if (w->dirty) save_checkpoint(w, &ignored);
    return NULL;
}

channel_worker *channel_worker_start(task *t, const char *channel, bool replicate, const mq_msgid *start_at,
                                     mcdc_err *err) {
    channel_worker *w = mcdc_xcalloc(1, sizeof *w);
    w->t = t;
    w->channel = mcdc_xstrdup(channel);
    w->replicate = replicate;
    pthread_mutex_init(&w->mu, NULL);
    mcdc_backoff_init(&w->bo, 100, t->env->retry_max_ms ? t->env->retry_max_ms : 30000);

    pos_lookup l = {.channel = channel};
    if (store_position_each(t->env->store, t->id, find_position, &l, err)) goto fail;
    if (l.ok) {
        w->ckpt = l.found.checkpoint;
        w->ckpt_ts = l.found.checkpoint_ts;
        w->done = w->ckpt;
        w->done_ts = w->ckpt_ts;
        /* Only an intent beyond the checkpoint marks a replay window. */
        if (l.found.intent.len && (!w->ckpt.len || cmp_id(w, &l.found.intent, &w->ckpt) > 0)) w->intent = l.found.intent;
        w->intent_saved = w->intent.len ? w->intent : w->ckpt;
    }
    if (start_at && (!w->ckpt.len || cmp_id(w, &w->ckpt, start_at) < 0)) w->start_at = *start_at;
    w->saved_mono_ms = mcdc_now_mono_ms();

    task_target *tt = &t->spec.target;
    milvus_config mc = {.address = tt->address,
                        .tls = tt->tls,
                        .username = tt->username,
                        .password = tt->password,
                        .api_key = tt->api_key,
                        .timeout_ms = (uint32_t)(tt->connect_timeout_s > 0 ? tt->connect_timeout_s * 1000 : 30000)};
    if (!(w->ap = applier_open(&t->spec, &mc, err))) goto fail;
    applier_set_source(w->ap, t->env->catalog);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        mcdc_errf(err, MCDC_EINTERNAL, "cannot start a thread for channel %s", channel);
        goto fail;
    }
    w->started = true;
    return w;
fail:
    applier_close(w->ap);
    free(w->channel);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
}

void channel_worker_stop(channel_worker *w) {
    if (!w) return;
    if (w->started) pthread_join(w->thread, NULL);
    if (w->reader) mq_close(w->reader);
    applier_close(w->ap);
    idmap_free(&w->covered);
    idmap_free(&w->seen);
    free(w->channel);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
