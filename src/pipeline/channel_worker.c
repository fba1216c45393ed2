/* channel_worker.c — see channel_worker.h. The thread of one channel: it
 * reads, decodes, honours the operator's skip, hands each change to the
 * rules of its channel (dml.c or replicate.c), and keeps the one retry
 * policy and the saving of positions. */
#include "pipeline/channel_worker.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/worker_int.h"
#include "source/decode.h"

#define IDLE_CHECKPOINT_MS 1000
#define TRIM_AFTER_BYTES (4u << 20)
#define TRIM_EVERY_MS 10000
#define FLY_POLL_MS 20

const char *channel_worker_channel(const channel_worker *w) { return w->channel; }
bool channel_worker_is_replicate(const channel_worker *w) { return w->replicate; }

watermark_channel channel_worker_watermark(const channel_worker *w) {
    return (watermark_channel){.tick = atomic_load(&w->tick),
                               .tick_ms = atomic_load(&w->tick_seen_ms),
                               .idle_since_ms = atomic_load(&w->idle_since_ms)};
}

void channel_worker_checkpoint(channel_worker *w, mq_msgid *id, uint64_t *ts) {
    pthread_mutex_lock(&w->mu);
    *id = w->ckpt;
    *ts = w->ckpt_ts;
    pthread_mutex_unlock(&w->mu);
}

bool worker_stopping(const channel_worker *w) { return atomic_load(&w->stop); }
void channel_worker_ask_stop(channel_worker *w) { atomic_store(&w->stop, true); }

/* ---- the retry policy ---------------------------------------------------------------- */

void worker_pause_at(channel_worker *w, const mq_msgid *id, const char *what) {
    char why[3 * MCDC_ERR_MSG_MAX];
    if (id) {
        char pos[64] = "";
        mq_msgid_format(w->ctx.mq_type, id, pos, sizeof pos);
        snprintf(why, sizeof why, "channel %s position %s: %s", w->channel, pos, what);
    } else {
        snprintf(why, sizeof why, "channel %s: %s", w->channel, what);
    }
    w->ctx.hooks.pause(w->ctx.hooks.ud, w->channel, id, why);
    atomic_store(&w->stop, true);
}

void worker_pause_call(channel_worker *w, const mq_msgid *last, size_t messages, const char *what) {
    if (messages <= 1 || !last) {
        worker_pause_at(w, last, what);
        return;
    }
    char pos[64] = "", why[3 * MCDC_ERR_MSG_MAX];
    mq_msgid_format(w->ctx.mq_type, last, pos, sizeof pos);
    snprintf(why, sizeof why,
             "channel %s: the target refused one call carrying %zu messages up to position %s, so no single message "
             "is to blame (fix the target, then resume): %s",
             w->channel, messages, pos, what);
    w->ctx.hooks.pause(w->ctx.hooks.ud, w->channel, NULL, why);
    atomic_store(&w->stop, true);
}

void worker_healed(channel_worker *w) {
    mcdc_backoff_reset(&w->bo);
    w->ctx.hooks.trouble(w->ctx.hooks.ud, "");
}

/* MCDC_ENOTOWNER stops the worker without a pause. Transient errors are
 * retried forever, visible as the task's last error,
 * after a backoff sleep here, and so is a store error (MCDC_EIO: local file
 * or database trouble, never the data's fault; a position or binding not
 * saved must not be acted on); "not found" or another refusal for good of
 * a write to a collection the source has dropped meanwhile is fine (its
 * data is gone there too); anything else pauses the task at the message. */
retry_verdict worker_retry(channel_worker *w, const mcdc_err *err, const retry_of *r) {
    /* Another mcdc instance owns the task now (store.h): it resumes from
     * the positions stored, so this worker's work ends here, quietly: no
     * pause, no retry, nothing written. */
    if (err->code == MCDC_ENOTOWNER) {
        log_info("task %s channel %s: stopping: %s", w->ctx.task_id, w->channel, err->msg);
        atomic_store(&w->stop, true);
        return RETRY_STOP;
    }
    /* A write the target refuses for good, to a collection the source has
     * dropped meanwhile: its rows are gone there too, or will be once this
     * channel reaches the Drop. The refusal is "not found", or, for a call in
     * flight when another channel's worker dropped the target collection,
     * whatever the target says then: Milvus 2.3.5's proxy answered "kafka
     * producer is closed" (code 65535) in an ASan run of
     * test_identity.py::test_drop_and_recreate_with_a_backlog. Resending it
     * could only reach a new collection of the same name, so it is passed. */
    if ((err->code == MCDC_ENOTFOUND || err->code == MCDC_EREMOTE) && r->collection_id &&
        w->ctx.source->dropped(w->ctx.source_ud, r->collection_id)) {
        log_info("task %s: skipped, source collection %" PRId64 " is dropped: %s", w->ctx.task_id, r->collection_id,
                 err->msg);
        return RETRY_SKIP;
    }
    char msg[2 * MCDC_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s%s%s", r->what ? r->what : "", r->what ? ": " : "", err->msg);
    if (!r->always && !mcdc_err_is_transient(err->code) && err->code != MCDC_EIO) {
        worker_pause_call(w, r->at, r->messages, msg);
        return RETRY_STOP;
    }
    w->ctx.hooks.trouble(w->ctx.hooks.ud, msg);
    log_warn("task %s channel %s: %s (retrying)", w->ctx.task_id, w->channel, msg);
    if (worker_stopping(w)) return RETRY_STOP;
    return worker_sleep(w, mcdc_backoff_next(&w->bo)) ? RETRY_AGAIN : RETRY_STOP;
}

/* A backoff may reach apply.retry_max_ms (up to an hour): a pause or delete
 * must not wait for it, so the sleep looks at the stop flag every slice. */
#define SLEEP_SLICE_MS 20

bool worker_sleep(channel_worker *w, uint32_t ms) {
    uint64_t until = mcdc_now_mono_ms() + ms;
    for (uint64_t now = mcdc_now_mono_ms(); now < until && !worker_stopping(w); now = mcdc_now_mono_ms())
        mcdc_sleep_ms((uint32_t)(until - now < SLEEP_SLICE_MS ? until - now : SLEEP_SLICE_MS));
    return !worker_stopping(w);
}

/* ---- positions ------------------------------------------------------------------------- */

static void publish_tick(channel_worker *w) {
    if (w->pos.tick <= atomic_load(&w->tick)) return;
    atomic_store(&w->tick, w->pos.tick);
    atomic_store(&w->tick_seen_ms, mcdc_now_mono_ms());
}

void worker_read(channel_worker *w, const mq_msgid *id, uint64_t ts, uint64_t tick, pos_holder holder) {
    positions_read(&w->pos, id, ts, tick, holder);
    publish_tick(w);
}

void worker_release(channel_worker *w, pos_holder holder) {
    positions_release(&w->pos, holder);
    publish_tick(w);
}

/* A store failure is not the target's fault and not the data's: it is
 * retried like a transient error, because a position we cannot save must
 * not move.
 *
 * Plain inserts inside the replay window (dml.c: their target was empty at
 * the task's first start) need no new intent, but they still must not go
 * out once another instance may have taken the task and replayed them: the
 * window's own intent is written again, which the store refuses to an
 * instance that lost the task, as it refuses every intent past the window.
 * That intent is the one the task was created with, saved with ts 0. */
apply_rc worker_save_intent(channel_worker *w, const mq_msgid *id, uint64_t ts, bool plain_inserts) {
    bool needed = positions_intent_needed(&w->pos, id);
    if (!needed && !plain_inserts) return APPLY_OK;
    mq_msgid at = needed ? *id : w->pos.intent_saved;
    if (!needed) ts = 0;
    mcdc_err err;
    while (w->ctx.store->save_intent(w->ctx.store_ud, w->channel, &at, ts, &err))
        if (worker_retry(w, &err, &(retry_of){.always = true}) != RETRY_AGAIN) return APPLY_STOPPED;
    mcdc_backoff_reset(&w->bo);
    positions_intent_stored(&w->pos, &at);
    return APPLY_OK;
}

static int store_checkpoint(channel_worker *w, mcdc_err *err) {
    if (w->ctx.store->save_checkpoint(w->ctx.store_ud, w->channel, &w->pos.done, w->pos.done_ts, err)) return -1;
    positions_checkpoint_stored(&w->pos, mcdc_now_mono_ms());
    pthread_mutex_lock(&w->mu);
    w->ckpt = w->pos.saved;
    w->ckpt_ts = w->pos.saved_ts;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

apply_rc worker_save_checkpoint(channel_worker *w) {
    if (!positions_dirty(&w->pos)) return APPLY_OK;
    mcdc_err err;
    while (store_checkpoint(w, &err))
        if (worker_retry(w, &err, &(retry_of){.always = true}) != RETRY_AGAIN) return APPLY_STOPPED;
    mcdc_backoff_reset(&w->bo);
    return APPLY_OK;
}

/* After each message, and while the queue is quiet. */
static apply_rc save_if_due(channel_worker *w) {
    if (!positions_save_due(&w->pos, mcdc_now_mono_ms(), IDLE_CHECKPOINT_MS)) return APPLY_OK;
    return worker_save_checkpoint(w);
}

/* ---- messages ------------------------------------------------------------------------ */

/* The operator's skip names one exact message (the paused position), so
 * nothing else is ever skipped. */

/* Everything read so far applied and acknowledged: before a message is
 * skipped, or where one will not decode, so the checkpoint lands right
 * before it. */
static apply_rc settle(channel_worker *w) {
    return dml_flush_batch(w) || calls_land(w, 0) || dml_flush_pending(w) ? APPLY_STOPPED : APPLY_OK;
}

apply_rc worker_on_change(channel_worker *w, change *c, const mq_msgid *id) {
    atomic_store(&w->idle_since_ms, 0);
    worker_stats_raise(&w->ctx.stats->last_read_ts, c->ts);
    apply_rc rc = w->replicate ? replicate_handle(w, c, id) : dml_handle(w, c, id);
    change_free(c);
    return rc || save_if_due(w) ? APPLY_STOPPED : APPLY_OK;
}

apply_rc worker_on_message(channel_worker *w, const mq_message *m) {
    atomic_fetch_add(&w->ctx.stats->messages, 1);
    mq_msgid skip;
    if (w->ctx.hooks.skip_wanted(w->ctx.hooks.ud, w->channel, &skip) && positions_cmp(&w->pos, &skip, &m->id) == 0) {
        log_warn("task %s channel %s: skipping one message at the operator's request", w->ctx.task_id, w->channel);
        if (settle(w)) return APPLY_STOPPED;
        worker_read(w, &m->id, 0, 0, 0);
        /* Taken only once the checkpoint is past it: a crash before that
         * meets the message again, and the request still there skips it. */
        if (worker_save_checkpoint(w)) return APPLY_STOPPED;
        w->ctx.hooks.skip_taken(w->ctx.hooks.ud, w->channel, &skip);
        return APPLY_OK;
    }
    change c;
    mcdc_err err;
    if (decode_change(m->payload, m->len, &c, &err)) {
        /* Never skipped: the task stops here, the checkpoint stays before
         * it, and an operator decides (maintenance skip_message). */
        if (settle(w) == APPLY_OK) worker_save_checkpoint(w);
        worker_pause_at(w, &m->id, err.msg);
        return APPLY_STOPPED;
    }
    w->cur_len = m->len;
    w->since_trim_bytes += m->len;
    return worker_on_change(w, &c, &m->id);
}

apply_rc worker_on_quiet(channel_worker *w) {
    if (w->dml.n_batch) return dml_flush_batch(w) || save_if_due(w) ? APPLY_STOPPED : APPLY_OK;
    if (dml_quiet(w)) return APPLY_STOPPED;
    /* A catch-up leaves freed memory in the allocator's per-thread heaps,
     * where it stays (docs/benchmarks.md: 100+ MiB after an 8-channel
     * catch-up); give it back once the channel has gone quiet, at most every
     * TRIM_EVERY_MS. */
    if (w->since_trim_bytes > TRIM_AFTER_BYTES && mcdc_now_mono_ms() - w->trimmed_mono_ms >= TRIM_EVERY_MS) {
        malloc_trim(0);
        w->since_trim_bytes = 0;
        w->trimmed_mono_ms = mcdc_now_mono_ms();
    }
    calls_trim(w);
    /* Calls that landed while the queue was quiet move the checkpoint too. */
    if (save_if_due(w)) return APPLY_STOPPED;
    /* Idle only with nothing read left unapplied: a worker that holds
     * anything still counts for the watermark (watermark.h). */
    if (w->queue_trouble) atomic_store(&w->idle_since_ms, 0);
    else if (!w->fly.n && !w->dml.n_pending && !atomic_load(&w->idle_since_ms))
        atomic_store(&w->idle_since_ms, mcdc_now_mono_ms());
    return APPLY_OK;
}

void worker_on_exit(channel_worker *w) {
    dml_clear(w);
    calls_land_on_exit(w);
    mcdc_err ignored;
    if (positions_dirty(&w->pos)) store_checkpoint(w, &ignored);
}

/* Existing covered collections whose shards are on this channel get their
 * target collection now, before any write arrives for them. */
static apply_rc ensure_existing(channel_worker *w) {
    catalog_coll **list;
    size_t n = w->ctx.source->covered_on(w->ctx.source_ud, w->channel, &list);
    apply_rc rc = APPLY_OK;
    for (size_t i = 0; i < n && rc == APPLY_OK; i++) {
        char what[2 * MCDC_ERR_MSG_MAX];
        snprintf(what, sizeof what, "creating target collection for %s.%s", list[i]->db_name, list[i]->name);
        mcdc_err err;
        while (rc == APPLY_OK && w->ctx.target->ensure_collection(w->ctx.target_ud, list[i], &err))
            if (worker_retry(w, &err, &(retry_of){.what = what}) != RETRY_AGAIN) rc = APPLY_STOPPED;
    }
    catalog_release_list(list, n);
    return rc;
}

/* ---- the thread ------------------------------------------------------------------------ */

/* Opening the channel can wait on the queue, so it happens here, not in
 * the thread that starts the worker. */
static apply_rc open_channel(channel_worker *w) {
    mq_start start = {.kind = MQ_START_EARLIEST};
    if (w->start_at.len) {
        start.kind = MQ_START_AT;
        start.at = w->start_at;
        char pos[64] = "";
        mq_msgid_format(w->ctx.mq_type, &w->start_at, pos, sizeof pos);
        log_info("task %s channel %s: starting at %s, where its first collection there begins", w->ctx.task_id,
                 w->channel, pos);
    } else if (w->pos.saved.len) {
        start.kind = MQ_START_AFTER;
        start.at = w->pos.saved;
    }
    mcdc_err err;
    if (!(w->reader = mq_open(w->mq, w->channel, &start, &err))) {
        worker_pause_at(w, NULL, err.msg);
        return APPLY_STOPPED;
    }
    return APPLY_OK;
}

static void *run(void *arg) {
    channel_worker *w = arg;
    if (open_channel(w) || (!w->replicate && ensure_existing(w))) return NULL;
    while (!worker_stopping(w)) {
        mq_message m;
        mcdc_err err;
        if (w->fly.n && calls_land(w, SIZE_MAX)) break;
        /* With a batch started, only look at what is already there: a batch
         * never waits for the queue. With calls in flight, look again soon
         * to land them. */
        uint64_t asked_ns = mcdc_now_mono_ns();
        mq_result r = mq_next(w->reader, &m, w->dml.n_batch ? 0 : w->fly.n ? FLY_POLL_MS : 200, &err);
        if (r != MQ_MESSAGE && !w->replicate) atomic_fetch_add(&w->ctx.stats->queue_wait_us, mcdc_since_us(asked_ns));
        if (r == MQ_ERROR) {
            worker_pause_at(w, NULL, err.msg);
            break;
        }
        if (r == MQ_MESSAGE) {
            if (worker_on_message(w, &m)) break;
            continue;
        }
        const char *trouble = mq_last_transient_error(w->reader);
        if (trouble && r == MQ_NONE && !w->dml.n_batch) w->ctx.hooks.trouble(w->ctx.hooks.ud, trouble);
        /* A queue we cannot read is no proof that nothing is left to read. */
        w->queue_trouble = trouble != NULL;
        if (worker_on_quiet(w)) break;
    }
    worker_on_exit(w);
    return NULL;
}

channel_worker *worker_new(const worker_ctx *ctx, const char *channel, bool replicate, const mq_msgid *checkpoint,
                           uint64_t checkpoint_ts, const mq_msgid *intent) {
    channel_worker *w = mcdc_xcalloc(1, sizeof *w);
    w->ctx = *ctx;
    w->channel = mcdc_xstrdup(channel);
    w->replicate = replicate;
    pthread_mutex_init(&w->mu, NULL);
    mcdc_backoff_init(&w->bo, 100, ctx->set.retry_max_ms);
    positions_init(&w->pos, ctx->mq_type, checkpoint, checkpoint_ts, intent);
    w->pos.saved_mono_ms = mcdc_now_mono_ms();
    w->ckpt = w->pos.saved;
    w->ckpt_ts = w->pos.saved_ts;
    return w;
}

void worker_free(channel_worker *w) {
    if (!w) return;
    dml_clear(w);
    calls_drop(w);
    if (w->ctx.target->close) w->ctx.target->close(w->ctx.target_ud);
    if (w->ctx.source->close) w->ctx.source->close(w->ctx.source_ud);
    positions_free(&w->pos);
    idmap_free(&w->dml.seen);
    idmap_free(&w->fly.probe);
    free(w->channel);
    free(w->mq_kv_own);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* The queue settings this worker reads with: the env's, with its share of
 * the task's read-ahead as the default of the driver's prefetch_kbytes (an
 * operator's value wins; a driver without the key reads as configured). */
static void use_settings(channel_worker *w, const mq_config *mq) {
    w->mq = mq;
    if (!w->ctx.set.prefetch_kbytes) return;
    snprintf(w->prefetch_text, sizeof w->prefetch_text, "%u", w->ctx.set.prefetch_kbytes);
    mq_config_with_default(mq, "prefetch_kbytes", w->prefetch_text, &w->mq_own, &w->mq_kv_own);
    w->mq = &w->mq_own;
}

channel_worker *channel_worker_start(const worker_ctx *ctx, const mq_config *mq, const char *channel, bool replicate,
                                     const worker_resume *resume, const mq_msgid *start_at, mcdc_err *err) {
    channel_worker *w =
        worker_new(ctx, channel, replicate, &resume->checkpoint, resume->checkpoint_ts, &resume->intent);
    use_settings(w, mq);
    if (start_at && start_at->len && positions_cmp(&w->pos, &w->pos.saved, start_at) < 0) w->start_at = *start_at;
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        mcdc_errf(err, MCDC_EINTERNAL, "cannot start a thread for channel %s", channel);
        worker_free(w);
        return NULL;
    }
    w->started = true;
    return w;
}

void channel_worker_stop(channel_worker *w) {
    if (!w) return;
    atomic_store(&w->stop, true);
    if (w->started) pthread_join(w->thread, NULL);
    if (w->reader) mq_close(w->reader);
    worker_free(w);
}
