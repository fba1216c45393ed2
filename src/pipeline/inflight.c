/* inflight.c — a worker's target calls: the ring of insert calls in flight,
 * and the calls that must wait for it.
 *
 * Plain inserts commute, so a joined insert call is started without waiting
 * for its reply: a target that stalls on one call does not stall the
 * channel. Upserts of disjoint keys commute too (Milvus 2.3's upsert is a
 * delete of its keys and an insert of its rows, nothing else), so inside the
 * replay window, where inserts go as upserts, calls fly as well.
 * What does not commute is an upsert and any other write of one of its
 * keys: the proxy stamps calls in the order it takes them, not the order we
 * sent them, so an insert could land before an upsert sent earlier, whose
 * delete would then remove it. An insert is no exception, since a retry
 * resends it as an upsert (land_head): two inserts of one key in flight,
 * the first one retried, would lose the second. So a call waits, before it
 * goes, until no call in flight writes a key it writes (keys are compared
 * by value within a collection; varchar keys by a 64-bit hash, whose rare
 * collisions only make a call wait for nothing). A call whose keys cannot
 * be told waits for every call in flight, and every call waits for it.
 * (A source that writes one key twice still may end with one row on the
 * target: guarantees.md says when.)
 *
 * Calls land in the order they were sent, and each holds its messages'
 * positions until it and every call before it landed, so the checkpoint
 * never passes an unacknowledged call (positions.h). What must not overtake
 * the calls before it — a Delete, DDL, the halves of a source upsert — goes
 * through calls_apply, which lands every call first. Calls in flight are
 * bounded by inflight_calls and by their request bytes, inflight_bytes (one
 * call always goes). */
#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "pipeline/worker_int.h"

/* ---- what a landed call counts ---------------------------------------------------- */

/* One target call attempt ended: its time, whatever the outcome. */
static void call_ended(channel_worker *w, uint64_t sent_ns) {
    mcdc_histogram_observe_us(&w->ctx.stats->target_call, mcdc_since_us(sent_ns));
}

/* The target acknowledged a call whose oldest change the source committed
 * at ts. A source clock ahead of ours reads as no lag, not a huge one. */
static void lag_ended(channel_worker *w, uint64_t first_ts) {
    uint64_t now = mcdc_now_wall_ms(), at = mcdc_ts_physical_ms(first_ts);
    mcdc_histogram_observe_us(&w->ctx.stats->apply_lag, now > at ? (now - at) * 1000 : 0);
}

static void waited_on_target(channel_worker *w, uint64_t since_ns) {
    atomic_fetch_add(&w->ctx.stats->target_wait_us, mcdc_since_us(since_ns));
}

static uint64_t oldest_ts(const change *const *cs, size_t n) {
    uint64_t ts = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (cs[i]->ts < ts) ts = cs[i]->ts;
    return ts;
}

static void applied_ok(channel_worker *w, change_kind kind, bool upsert, size_t rows) {
    worker_stats *s = w->ctx.stats;
    worker_healed(w);
    switch (kind) {
    case CHANGE_INSERT: atomic_fetch_add(upsert ? &s->upserted : &s->inserted, rows); break;
    case CHANGE_DELETE: atomic_fetch_add(&s->deleted, rows); break;
    default: atomic_fetch_add(&s->ddl, 1); break;
    }
}

/* ---- keys in flight --------------------------------------------------------------------- */

/* A call's keys as calls are compared: int64 keys by value, varchar keys by
 * a 64-bit hash, whose rare collisions only make a call wait for nothing.
 * Keys of two collections never meet: calls compare collections first. */
static int64_t key_of(const overlap_keys *k, size_t i) {
    return k->strs ? (int64_t)mcdc_hash_str(0, k->strs[i] ? k->strs[i] : "") : k->ints[i];
}

/* The keys n parts of collection cc write (v NULL when a part's are not
 * known), and for int64 keys their range. */
static call_keys keys_of(channel_worker *w, const change *const *cs, size_t n, const catalog_coll *cc) {
    call_keys k = {.coll_id = cc->id};
    const source_ops *src = w->ctx.source;
    if (!src->keys) return k;
    assert(n <= MAX_BATCH);
    overlap_keys ks[MAX_BATCH];
    size_t total = 0;
    bool ints = true;
    for (size_t i = 0; i < n; i++) {
        ks[i] = src->keys(w->ctx.source_ud, cs[i], cc);
        if (ks[i].n == 0 && cs[i]->num_rows) return k;
        if (ks[i].n && ks[i].strs) ints = false;
        total += ks[i].n;
    }
    k.v = mcdc_xcalloc(total ? total : 1, sizeof *k.v);
    k.lo = INT64_MAX;
    k.hi = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ks[i].n; j++) {
            int64_t key = k.v[k.n++] = key_of(&ks[i], j);
            if (key < k.lo) k.lo = key;
            if (key > k.hi) k.hi = key;
        }
    k.ranged = ints && total;
    return k;
}

/* Whether the call in flight c may write a key that next writes. Calls of
 * increasing int64 keys (auto ids, most loaders) are told apart without
 * looking at single keys: their ranges do not meet. Calls of other
 * collections never meet. The rest go key by key, through a set of next's
 * keys filled at most once (*filled). (A map of every key in flight, kept
 * up as calls came and went, cost 10 % of mcdc's CPU in a catch-up:
 * docs/benchmarks.md, ninth part.) */
static bool shares_a_key(channel_worker *w, const call_keys *next, bool *filled, const call_keys *c) {
    if (c->coll_id != next->coll_id) return false;
    if (next->ranged && c->ranged && (next->hi < c->lo || next->lo > c->hi)) return false;
    idmap *probe = &w->fly.probe;
    if (!*filled) {
        idmap_clear(probe);
        idmap_reserve(probe, next->n);
        for (size_t i = 0; i < next->n; i++) idmap_put(probe, next->v[i], (void *)1);
        *filled = true;
    }
    for (size_t i = 0; i < c->n; i++)
        if (idmap_get(probe, c->v[i])) return true;
    return false;
}

/* How many calls in flight, oldest first, must land before a call writing
 * next may go: up to the newest one that may write one of its keys. A call
 * whose keys are not known waits for every call in flight, and every call
 * waits for it. Newest first, so each call in flight is compared at most
 * once. */
static size_t calls_before(channel_worker *w, const call_keys *next) {
    inflight *f = &w->fly;
    bool filled = false;
    for (size_t i = f->n; i-- > 0;) {
        const call_keys *c = &f->ring[(f->head + i) % MAX_INFLIGHT].keys;
        if (!c->v || !next->v || shares_a_key(w, next, &filled, c)) return i + 1;
    }
    return 0;
}

void calls_trim(channel_worker *w) {
    /* A catch-up's calls grow the set to their size; once the channel is
     * quiet it goes back. */
    if (!w->fly.n && w->fly.probe.cap > 4096) idmap_free(&w->fly.probe);
}

/* ---- the ring ------------------------------------------------------------------------ */

static inflight_call *head(channel_worker *w) { return &w->fly.ring[w->fly.head]; }

static void pop_head(channel_worker *w) {
    inflight_call *f = head(w);
    w->fly.bytes -= w->ctx.target->bytes(f->call);
    w->ctx.target->free(f->call);
    free(f->keys.v);
    memset(f, 0, sizeof *f);
    w->fly.head = (w->fly.head + 1) % MAX_INFLIGHT;
    w->fly.n--;
    atomic_fetch_sub(&w->ctx.stats->calls_in_flight, 1);
}

static void head_acked(channel_worker *w) {
    inflight_call *f = head(w);
    const target_ops *t = w->ctx.target;
    call_ended(w, f->sent_ns);
    lag_ended(w, f->first_ts);
    applied_ok(w, CHANGE_INSERT, t->is_upsert(f->call), t->rows(f->call));
}

/* Waits for the oldest call in flight, retrying it by the policy, and
 * releases what it held. */
static apply_rc land_head(channel_worker *w) {
    inflight_call *f = head(w);
    const target_ops *t = w->ctx.target;
    mcdc_err err;
    bool acked = true;
    for (;;) {
        uint64_t asked_ns = mcdc_now_mono_ns();
        int failed = t->wait(f->call, &err);
        waited_on_target(w, asked_ns);
        if (!failed) break;
        call_ended(w, f->sent_ns);
        retry_verdict v =
            worker_retry(w, &err, &(retry_of){.at = &f->id, .collection_id = f->keys.coll_id, .messages = f->messages});
        if (v == RETRY_STOP) return APPLY_STOPPED;
        if (v == RETRY_SKIP) {
            acked = false;
            break;
        }
        /* The target may have applied the insert before the connection
         * broke: the same rows again as an upsert are right either way. */
        f->sent_ns = mcdc_now_mono_ns();
        if (t->resend(f->call, &err)) {
            worker_pause_call(w, &f->id, f->messages, err.msg);
            return APPLY_STOPPED;
        }
    }
    if (acked) head_acked(w);
    pos_holder h = f->holder;
    pop_head(w);
    worker_release(w, h);
    return APPLY_OK;
}

apply_rc calls_land(channel_worker *w, size_t keep) {
    while (w->fly.n && (w->fly.n > keep || w->ctx.target->ready(head(w)->call)))
        if (land_head(w)) return APPLY_STOPPED;
    return APPLY_OK;
}

/* A call that failed stays held for good, so the checkpoint cannot pass it
 * even when calls after it were acknowledged: those lie in the replay
 * window (their intent is saved) and are upserted on restart. */
void calls_land_on_exit(channel_worker *w) {
    while (w->fly.n) {
        inflight_call *f = head(w);
        pos_holder h = f->holder;
        mcdc_err err;
        bool acked = w->ctx.target->wait(f->call, &err) == 0;
        if (acked) head_acked(w);
        pop_head(w);
        if (acked) worker_release(w, h);
    }
}

void calls_drop(channel_worker *w) {
    while (w->fly.n) pop_head(w);
}

/* ---- sending -------------------------------------------------------------------------- */

apply_rc calls_apply(channel_worker *w, const change *const *cs, size_t n, const mq_msgid *id, const catalog_coll *cc,
                     bool as_upsert) {
    const change *c = cs[0];
    uint64_t ts = 0;
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i]->ts > ts) ts = cs[i]->ts;
        rows += cs[i]->num_rows;
    }
    if (calls_land(w, 0) || worker_save_intent(w, id, ts, c->kind == CHANGE_INSERT && !as_upsert)) return APPLY_STOPPED;
    bool dml = c->kind == CHANGE_INSERT || c->kind == CHANGE_DELETE;
    mcdc_err err;
    for (;;) {
        uint64_t sent_ns = mcdc_now_mono_ns();
        int rc = w->ctx.target->apply(w->ctx.target_ud, cs, n, cc, as_upsert, &err);
        waited_on_target(w, sent_ns);
        if (dml) call_ended(w, sent_ns);
        if (rc == 0) break;
        /* A transient failure is ambiguous: the target may have applied the
         * insert before the connection broke. Retrying it as an upsert makes
         * the retry safe either way. */
        if (mcdc_err_is_transient(err.code) && c->kind == CHANGE_INSERT) as_upsert = true;
        retry_verdict v = worker_retry(
            w, &err, &(retry_of){.at = id, .collection_id = c->collection_id, .messages = n});
        if (v == RETRY_STOP) return APPLY_STOPPED;
        if (v == RETRY_SKIP) return APPLY_OK;
    }
    if (dml) lag_ended(w, oldest_ts(cs, n));
    applied_ok(w, c->kind, as_upsert, rows);
    return APPLY_OK;
}

apply_rc calls_send(channel_worker *w, const change *const *cs, size_t n, const mq_msgid *id, uint64_t last_ts,
                    size_t wal_bytes, const catalog_coll *cc, bool as_upsert, pos_holder holder, bool *in_flight) {
    const worker_settings *set = &w->ctx.set;
    size_t max_calls = set->inflight_calls < MAX_INFLIGHT ? set->inflight_calls : MAX_INFLIGHT;
    *in_flight = false;
    call_keys keys = keys_of(w, cs, n, cc);
    /* The batch's WAL bytes stand in for its request bytes, which are known
     * only once it is serialized; the two differ by a few percent. */
    size_t crossed = calls_before(w, &keys);
    while (crossed || (w->fly.n && (w->fly.n >= max_calls || w->fly.bytes + wal_bytes > set->inflight_bytes))) {
        if (land_head(w)) {
            free(keys.v);
            return APPLY_STOPPED;
        }
        if (crossed) crossed--;
    }
    if (worker_save_intent(w, id, last_ts, !as_upsert)) {
        free(keys.v);
        return APPLY_STOPPED;
    }
    uint64_t first_ts = oldest_ts(cs, n);
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) rows += cs[i]->num_rows;
    target_call *call;
    mcdc_err err;
    uint64_t sent_ns = mcdc_now_mono_ns();
    if (w->ctx.target->start(w->ctx.target_ud, cs, n, cc, as_upsert, &call, &err)) {
        free(keys.v);
        /* calls_apply retries it by the policy, as upserts: parts that did
         * not join went one by one, and those before the failure landed. */
        log_debug("task %s channel %s: %s; applying in order instead", w->ctx.task_id, w->channel, err.msg);
        return calls_apply(w, cs, n, id, cc, true);
    }
    if (!call) {
        /* The parts did not join and went one by one, already acknowledged. */
        free(keys.v);
        call_ended(w, sent_ns);
        lag_ended(w, first_ts);
        applied_ok(w, CHANGE_INSERT, as_upsert, rows);
        return APPLY_OK;
    }
    w->fly.n++;
    inflight_call *f = &w->fly.ring[(w->fly.head + w->fly.n - 1) % MAX_INFLIGHT];
    *f = (inflight_call){.call = call, .holder = holder, .id = *id, .messages = n, .first_ts = first_ts,
                         .sent_ns = sent_ns, .keys = keys};
    w->fly.bytes += w->ctx.target->bytes(call);
    *in_flight = true;
    worker_stats *s = w->ctx.stats;
    atomic_fetch_add(&s->calls_in_flight, 1);
    uint64_t peak = atomic_load(&s->calls_in_flight_peak);
    while (w->fly.n > peak && !atomic_compare_exchange_weak(&s->calls_in_flight_peak, &peak, w->fly.n)) {
    }
    return APPLY_OK;
}
