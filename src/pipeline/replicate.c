/* replicate.c — the replicate channel: index, load/release, flush and
 * database requests (spec/mq-messages.md §8).
 *
 * A request must not overtake the DML it follows: a CreateIndex applied
 * before the collection exists on the target fails. So a request with ts T
 * waits until every DML channel of the task has applied up to T (the
 * watermark). The wait is bounded: the order it keeps matters for index and
 * load requests, not for the rows, and a DML channel that lags for long (a
 * backlog, a target that retries) must not hold index, load and flush
 * requests of every collection hostage. */
#include <inttypes.h>
#include <stdio.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/worker_int.h"

#define WATERMARK_WAIT_MS 30000

static apply_rc wait_for_watermark(channel_worker *w, uint64_t ts) {
    uint64_t start = mcdc_now_mono_ms();
    while (!worker_stopping(w)) {
        uint64_t wm = w->ctx.hooks.watermark(w->ctx.hooks.ud);
        if (wm == UINT64_MAX || wm >= ts) return APPLY_OK;
        if (mcdc_now_mono_ms() - start > WATERMARK_WAIT_MS) {
            log_warn("task %s: the DML channels stayed behind ts %" PRIu64 " (watermark %" PRIu64 ") for %d s; "
                     "applying the %s request anyway",
                     w->ctx.task_id, ts, wm, WATERMARK_WAIT_MS / 1000, w->channel);
            return APPLY_OK;
        }
        mcdc_sleep_ms(50);
    }
    return APPLY_STOPPED;
}

/* A collection-scoped request needs the target collection; it exists if the
 * collection was written to, but an index can come first. */
static apply_rc ensure_target(channel_worker *w, const change *c, const mq_msgid *id, bool *gone) {
    const source_ops *src = w->ctx.source;
    catalog_coll *cc = src->find(w->ctx.source_ud, c->db_name[0] ? c->db_name : "default", c->collection_name);
    /* A collection created after the request is another one under the same
     * name: the request's own was dropped since. */
    if (cc && cc->create_ts > c->ts) {
        catalog_release(cc);
        cc = NULL;
    }
    *gone = !cc;
    if (!cc) return APPLY_OK;
    char what[2 * MCDC_ERR_MSG_MAX];
    snprintf(what, sizeof what, "creating target collection for %s.%s", cc->db_name, cc->name);
    apply_rc rc = APPLY_OK;
    mcdc_err err;
    while (w->ctx.target->ensure_collection(w->ctx.target_ud, cc, &err)) {
        if (worker_retry(w, &err, &(retry_of){.at = id, .what = what}) != RETRY_AGAIN) {
            rc = APPLY_STOPPED;
            break;
        }
    }
    catalog_release(cc);
    return rc;
}

apply_rc replicate_handle(channel_worker *w, change *c, const mq_msgid *id) {
    if (!w->ctx.source->request_covers(w->ctx.source_ud, c)) {
        worker_read(w, id, 0, 0, 0);
        return APPLY_OK;
    }
    /* A covered request is a change a switchover must see stop. */
    worker_stats_raise(&w->ctx.stats->last_change_ts, c->ts);
    if (wait_for_watermark(w, c->ts)) return APPLY_STOPPED;
    if (c->collection_name[0]) {
        bool gone;
        if (ensure_target(w, c, id, &gone)) return APPLY_STOPPED;
        if (gone) {
            log_info("task %s: %s of %s.%s skipped: the collection no longer exists on the source", w->ctx.task_id,
                     change_kind_name(c->kind), c->db_name, c->collection_name);
            worker_read(w, id, c->ts, 0, 0);
            return APPLY_OK;
        }
    }
    if (worker_save_intent(w, id, c->ts, false)) return APPLY_STOPPED;
    mcdc_err err;
    while (w->ctx.target->replay(w->ctx.target_ud, c, &err)) {
        if (worker_retry(w, &err, &(retry_of){.at = id}) != RETRY_AGAIN)
            return APPLY_STOPPED;
    }
    worker_healed(w);
    atomic_fetch_add(&w->ctx.stats->ddl, 1);
    worker_read(w, id, c->ts, 0, 0);
    return worker_save_checkpoint(w);
}
