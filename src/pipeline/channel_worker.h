/* channel_worker.h — reads one source channel for one task and applies it.
 *
 * The loop: next message → decode → is it for a collection the task covers?
 * → apply it on the target → checkpoint. Order is the channel's order, which
 * is the source's order per shard, so per primary key the target sees the
 * same sequence the source did. The rules it applies live in their own
 * files (worker_int.h lists them); the worker reaches its task, the target,
 * the store and the catalog only through a worker_ctx (worker_io.h).
 *
 * Positions (positions.h, store.h): before a change is sent, its msgID is
 * saved as the intent; after the target acknowledged it and every call
 * before it, as the checkpoint. On start the worker seeks right after the
 * checkpoint; changes up to the saved intent may already be on the target
 * and are applied idempotently (inserts as upserts). Time ticks and other
 * collections' messages move the checkpoint too, at most once a second, so
 * a restart does not re-read an idle channel. */
#ifndef MCDC_CHANNEL_WORKER_H
#define MCDC_CHANNEL_WORKER_H

#include <stdint.h>

#include "base/error.h"
#include "mq/mq.h"
#include "pipeline/watermark.h"
#include "pipeline/worker_io.h"

typedef struct channel_worker channel_worker;

/* What the store holds for the channel: checkpoint (len 0: none, start at
 * the earliest) and intent (len 0: none). */
typedef struct worker_resume {
    mq_msgid checkpoint;
    uint64_t checkpoint_ts;
    mq_msgid intent;
} worker_resume;

/* Starts the worker's thread. It reads right after the checkpoint; with
 * start_at, at start_at instead when the checkpoint is older (or there is
 * none): the earliest start position of the task's collections on this
 * channel, before which the channel holds nothing the task replicates.
 * The worker owns ctx->target_ud and ctx->source_ud from here on, also on
 * failure (their ops' close). */
channel_worker *channel_worker_start(const worker_ctx *ctx, const mq_config *mq, const char *channel, bool replicate,
                                     const worker_resume *resume, const mq_msgid *start_at, mcdc_err *err);
/* Asks it to stop, without waiting: any thread, any lock held. */
void channel_worker_ask_stop(channel_worker *w);
/* Asks it to stop, joins it, frees it. */
void channel_worker_stop(channel_worker *w);

const char *channel_worker_channel(const channel_worker *w);
/* What the watermark needs of this channel (watermark.h): the last tick
 * applied, when, and whether the worker is idle. The replicate channel
 * carries no ticks. */
watermark_channel channel_worker_watermark(const channel_worker *w);
bool channel_worker_is_replicate(const channel_worker *w);
/* The last checkpoint saved: msgID and ts. */
void channel_worker_checkpoint(channel_worker *w, mq_msgid *id, uint64_t *ts);

#endif
