/* dml.c — the rules of a DML channel: repeats, upsert pairing, joining.
 *
 * Repeats. A producer that retried after a broker outage can write one DML
 * message twice; Milvus's own reader drops the repeat by its msgID, which
 * the ID allocator makes unique (spec/mq-messages.md §9.1). So do we: a
 * repeated Delete would otherwise remove the row an Upsert just wrote, and a
 * repeated Insert would double it.
 *
 * Upserts. The source writes an Upsert as Insert(s) and a Delete with one ts
 * (§9.3). Replayed as an insert then a delete, the delete would remove the
 * new rows (the target gives each call a newer ts), so the pair goes out as
 * one Upsert. Only an Upsert's Insert half leaves MsgBase.timestamp at 0, so
 * only those are held, and however the hold ends they go out as an Upsert:
 * the proxy writes the halves as separate messages and runs DML tasks side
 * by side, so another write of the same collection can land between them
 * (reliability review #2), and a plain Insert there would leave the old row
 * beside the new. An Upsert is right whether or not the Delete half follows;
 * the Delete half, when it comes, is then known as applied. The hold ends at
 * the Delete half, at another message of the same collection, at a time
 * tick at or past the held ts (nothing with a smaller ts follows a tick,
 * timestamps.md §3), or after PENDING_MAX_MS. Other collections' changes are
 * applied meanwhile; their order relative to ours does not matter.
 *
 * Joining. Plain Inserts of one partition, or Deletes of one partition,
 * that are already waiting in the queue go out as one call (columns.h),
 * until the call holds batch_rows rows (the message that reaches it still
 * joins: stopping before it made 4000-row calls of the usual 2000-row
 * messages, smaller than a client's 5000, and the target took 4000-row
 * calls no faster and in three rounds ~6 % slower by midpoint,
 * docs/benchmarks.md, sixth part) or the next message would pass
 * batch_bytes, the hard limit; a live stream is never held to fill a batch
 * (the worker sends it as soon as nothing more is there to read). An
 * Upsert's halves never join. */
#include <inttypes.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/worker_int.h"

/* How long upsert Insert halves wait for their Delete half when no tick
 * comes (the queue or the source is down). */
#define PENDING_MAX_MS 10000

static bool is_repeat(dml_state *d, const change *c) {
    if ((c->kind != CHANGE_INSERT && c->kind != CHANGE_DELETE) || c->msg_id == 0) return false;
    if (idmap_get(&d->seen, c->msg_id)) return true;
    int64_t old = d->seen_ring[d->seen_next];
    if (old) idmap_del(&d->seen, old);
    d->seen_ring[d->seen_next] = c->msg_id;
    d->seen_next = (d->seen_next + 1) % SEEN_IDS;
    idmap_put(&d->seen, c->msg_id, (void *)1);
    return false;
}

static void clear_pending(dml_state *d) {
    for (size_t i = 0; i < d->n_pending; i++) change_free(&d->pending[i]);
    d->n_pending = 0;
}

static void clear_batch(dml_state *d) {
    for (size_t i = 0; i < d->n_batch; i++) change_free(&d->batch[i]);
    d->n_batch = d->batch_rows = d->batch_bytes = 0;
    catalog_release(d->batch_cc);
    d->batch_cc = NULL;
}

void dml_clear(channel_worker *w) {
    clear_batch(&w->dml);
    clear_pending(&w->dml);
}

/* The Delete half of an upsert whose Insert half already went out as an
 * upsert; a plain Delete never shares a ts with an Insert. */
static bool is_applied_half(const dml_state *d, const change *c) {
    return c->kind == CHANGE_DELETE && c->collection_id == d->last_insert_coll && c->ts == d->last_insert_ts;
}

/* The target held none of the collection's rows when this run of a task
 * made by this process began, and nothing but this run has written there
 * since, each change once (task.c): no row of the replay window can be
 * there twice. */
static bool empty_at_start(const worker_ctx *ctx, int64_t coll) {
    for (size_t i = 0; i < ctx->n_empty_at_start; i++)
        if (ctx->empty_at_start[i] == coll) return true;
    return false;
}

/* An Insert goes as an Upsert inside the replay window, unless its target
 * collection was empty at the start, and while a snapshot's copy of its
 * collection may already hold its rows. */
static bool as_upsert(channel_worker *w, const change *c, const mq_msgid *id) {
    if (positions_in_window(&w->pos, id) && !empty_at_start(&w->ctx, c->collection_id)) return true;
    const source_ops *s = w->ctx.source;
    return c->kind == CHANGE_INSERT && s->upsert_until && c->ts <= s->upsert_until(w->ctx.source_ud, c->collection_id);
}

static bool joins_batch(channel_worker *w, const change *c, const mq_msgid *id) {
    const dml_state *d = &w->dml;
    if (!d->n_batch || c->kind != d->batch[0].kind) return false;
    if (c->kind == CHANGE_INSERT && c->base_ts == 0) return false;
    if (c->kind == CHANGE_DELETE && (d->n_pending || is_applied_half(d, c))) return false;
    const change *b = &d->batch[0];
    return c->collection_id == b->collection_id && c->partition_id == b->partition_id &&
           as_upsert(w, c, id) == d->batch_upsert && d->n_batch < MAX_BATCH &&
           d->batch_rows < w->ctx.set.batch_rows && d->batch_bytes + w->cur_len <= w->ctx.set.batch_bytes;
}

/* *cc is taken when it starts the batch. */
static void add_to_batch(channel_worker *w, change *c, const mq_msgid *id, catalog_coll **cc) {
    dml_state *d = &w->dml;
    if (d->n_batch == 0) {
        d->batch_upsert = as_upsert(w, c, id);
        d->batch_cc = *cc;
        *cc = NULL;
        d->batch_holder = positions_new_holder(&w->pos);
    }
    d->batch[d->n_batch] = *c;
    d->batch_id[d->n_batch] = *id;
    d->n_batch++;
    d->batch_rows += c->num_rows;
    d->batch_bytes += w->cur_len;
    worker_read(w, id, c->ts, 0, d->batch_holder);
    memset(c, 0, sizeof *c);
}

/* Inserts fly, as upserts inside the replay window (inflight.c keeps calls
 * that share a key from crossing); deletes go in order, since they must not
 * overtake the inserts before them. */
apply_rc dml_flush_batch(channel_worker *w) {
    dml_state *d = &w->dml;
    if (!d->n_batch) return APPLY_OK;
    const change *parts[MAX_BATCH];
    uint64_t last_ts = 0;
    for (size_t i = 0; i < d->n_batch; i++) {
        parts[i] = &d->batch[i];
        if (d->batch[i].ts > last_ts) last_ts = d->batch[i].ts;
    }
    const mq_msgid *id = &d->batch_id[d->n_batch - 1];
    bool in_flight = false;
    apply_rc rc = parts[0]->kind == CHANGE_DELETE
                      ? calls_apply(w, parts, d->n_batch, id, d->batch_cc, false)
                      : calls_send(w, parts, d->n_batch, id, last_ts, d->batch_bytes, d->batch_cc, d->batch_upsert,
                                   d->batch_holder, &in_flight);
    if (rc) return rc;
    pos_holder h = d->batch_holder;
    clear_batch(d);
    /* A call in flight releases the batch's positions when it lands. */
    if (!in_flight) worker_release(w, h);
    return APPLY_OK;
}

apply_rc dml_flush_pending(channel_worker *w) {
    dml_state *d = &w->dml;
    if (!d->n_pending) return APPLY_OK;
    for (size_t i = 0; i < d->n_pending; i++) {
        change *c = &d->pending[i];
        catalog_coll *cc = w->ctx.source->collection_of(w->ctx.source_ud, c, &w->stop);
        if (!cc && worker_stopping(w)) return APPLY_STOPPED;
        if (!cc) break; /* not replicated: done with all of them */
        apply_rc rc = calls_apply(w, (const change *const[]){c}, 1, &d->pending_id[i], cc, true);
        catalog_release(cc);
        if (rc != APPLY_OK) return rc;
    }
    d->last_insert_coll = d->pending[0].collection_id;
    d->last_insert_ts = d->pending[0].ts;
    clear_pending(d);
    worker_release(w, d->pending_holder);
    return APPLY_OK;
}

static void hold(channel_worker *w, change *c, const mq_msgid *id) {
    dml_state *d = &w->dml;
    if (d->n_pending == 0) {
        d->pending_since_ms = mcdc_now_mono_ms();
        d->pending_holder = positions_new_holder(&w->pos);
    }
    d->pending[d->n_pending] = *c;
    d->pending_id[d->n_pending] = *id;
    d->n_pending++;
    worker_read(w, id, c->ts, 0, d->pending_holder);
    memset(c, 0, sizeof *c);
}

apply_rc dml_quiet(channel_worker *w) {
    if (w->dml.n_pending && mcdc_now_mono_ms() - w->dml.pending_since_ms > PENDING_MAX_MS)
        return dml_flush_pending(w);
    return APPLY_OK;
}

/* A time tick: settles held inserts it is past, and counts for the
 * watermark once everything before it is on the target. */
static apply_rc on_tick(channel_worker *w, const change *c, const mq_msgid *id) {
    dml_state *d = &w->dml;
    if (d->n_batch) {
        worker_read(w, id, c->ts, c->ts, 0);
        return APPLY_OK;
    }
    if (d->n_pending && c->ts >= d->pending[0].ts && dml_flush_pending(w)) return APPLY_STOPPED;
    worker_read(w, id, c->ts, c->ts, 0);
    return APPLY_OK;
}

/* A change of a covered collection, after the batch went out. */
static apply_rc on_covered(channel_worker *w, change *c, const mq_msgid *id, catalog_coll **cc) {
    dml_state *d = &w->dml;
    bool held_same_coll = d->n_pending && d->pending[0].collection_id == c->collection_id;
    if (c->kind == CHANGE_INSERT && c->base_ts == 0) {
        bool same_ts = held_same_coll && d->pending[0].ts == c->ts;
        /* Halves of another ts, or more halves of one ts than fit, send the
         * held ones first. */
        if (d->n_pending && !(same_ts && d->n_pending < MAX_PENDING) && dml_flush_pending(w))
            return APPLY_STOPPED;
        hold(w, c, id);
        return APPLY_OK;
    }
    if (c->kind == CHANGE_DELETE && held_same_coll && d->pending[0].ts == c->ts) {
        /* The Delete is the held inserts' other half. */
        if (dml_flush_pending(w)) return APPLY_STOPPED;
        worker_read(w, id, c->ts, 0, 0);
        return APPLY_OK;
    }
    if (!held_same_coll && is_applied_half(d, c)) {
        /* Held too long and applied as an upsert already (dml_quiet). */
        worker_read(w, id, c->ts, 0, 0);
        return APPLY_OK;
    }
    if (held_same_coll && dml_flush_pending(w)) return APPLY_STOPPED;
    if ((c->kind == CHANGE_INSERT || c->kind == CHANGE_DELETE) && d->n_pending == 0) {
        add_to_batch(w, c, id, cc);
        return APPLY_OK;
    }
    bool upsert = c->kind == CHANGE_INSERT && as_upsert(w, c, id);
    if (calls_apply(w, (const change *const[]){c}, 1, id, *cc, upsert)) return APPLY_STOPPED;
    if (c->kind == CHANGE_DROP_COLLECTION) w->ctx.source->forget(w->ctx.source_ud, c->collection_id);
    worker_read(w, id, c->ts, 0, 0);
    return APPLY_OK;
}

apply_rc dml_handle(channel_worker *w, change *c, const mq_msgid *id) {
    dml_state *d = &w->dml;
    if (is_repeat(d, c)) {
        log_warn("task %s channel %s: %s msgID %" PRId64 " seen before on this channel; dropped as a repeat",
                 w->ctx.task_id, w->channel, change_kind_name(c->kind), c->msg_id);
        worker_read(w, id, 0, 0, 0);
        return APPLY_OK;
    }
    if (c->kind == CHANGE_TIMETICK && d->n_batch) return on_tick(w, c, id);
    if (joins_batch(w, c, id)) {
        worker_stats_raise(&w->ctx.stats->last_change_ts, c->ts);
        add_to_batch(w, c, id, &d->batch_cc);
        return APPLY_OK;
    }
    if (dml_flush_batch(w)) return APPLY_STOPPED;
    if (c->kind == CHANGE_TIMETICK) return on_tick(w, c, id);
    const source_ops *src = w->ctx.source;
    catalog_coll *cc = c->collection_id ? src->collection_of(w->ctx.source_ud, c, &w->stop) : NULL;
    /* Asked to stop while waiting for etcd: the message stays unread, not skipped. */
    if (!cc && worker_stopping(w)) return APPLY_STOPPED;
    if (!cc || !src->covers(w->ctx.source_ud, cc)) {
        if (!cc)
            log_debug("task %s channel %s: %s of unknown collection %" PRId64 " not replicated", w->ctx.task_id,
                      w->channel, change_kind_name(c->kind), c->collection_id);
        catalog_release(cc);
        worker_read(w, id, 0, 0, 0);
        return APPLY_OK;
    }
    worker_stats_raise(&w->ctx.stats->last_change_ts, c->ts);
    apply_rc rc = on_covered(w, c, id, &cc);
    catalog_release(cc);
    return rc;
}
