/* channel_worker.h — reads one source channel for one task and applies it.
 *
 * The loop: next message → decode → is it for a collection the task covers?
 * → apply it on the target → checkpoint. Order is the channel's order, which
 * is the source's order per shard, so per primary key the target sees the
 * same sequence the source did. An Insert followed by a Delete of the same
 * timestamp is the source's Upsert and is applied as one Upsert
 * (spec/mq-messages.md §9.3). Plain inserts of one partition that are
 * already waiting in the queue go out joined in one call (columns.h), up to
 * apply.batch_rows / batch_bytes; the worker never waits to fill a batch.
 * Those calls do not wait for each other: up to apply.inflight_calls (and
 * apply.inflight_bytes of requests) are in flight per channel, because
 * inserts commute; a Delete, an Upsert, DDL, and every insert inside the
 * replay window wait until all calls before them have landed.
 *
 * Positions (store.h): before a change is sent, its msgID is saved as the
 * intent; after the target acknowledged it and every call before it, as the
 * checkpoint. On start the
 * worker seeks right after the checkpoint; changes up to the saved intent
 * may already be on the target and are applied idempotently (inserts as
 * upserts). Time ticks and other collections' messages move the checkpoint
 * too, at most once a second, so a restart does not re-read an idle channel. */
#ifndef MCDC_CHANNEL_WORKER_H
#define MCDC_CHANNEL_WORKER_H

#include <stdint.h>

#include "base/error.h"
#include "mq/mq.h"

struct task;
typedef struct channel_worker channel_worker;

/* Starts reading right after the stored checkpoint; with start_at, at
 * start_at instead when the checkpoint is older (or there is none): the
 * earliest start position of the task's collections on this channel, before
 * which the channel holds nothing the task replicates. */
channel_worker *channel_worker_start(struct task *t, const char *channel, bool replicate, const mq_msgid *start_at,
                                     mcdc_err *err);
/* Asks it to stop and joins it. */
void channel_worker_stop(channel_worker *w);

const char *channel_worker_channel(const channel_worker *w);
/* Last tick applied on this channel (0 = none yet) and when it was seen
 * (monotonic ms). The replicate channel carries no ticks. */
uint64_t channel_worker_tick(const channel_worker *w, uint64_t *seen_mono_ms);
bool channel_worker_is_replicate(const channel_worker *w);
/* The last checkpoint: msgID and ts. */
void channel_worker_checkpoint(const channel_worker *w, mq_msgid *id, uint64_t *ts);

#endif
