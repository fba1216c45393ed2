/* positions.h — where one channel's checkpoint may stand, and its replay window.
 *
 * The one rule of mcdc's positions: a checkpoint is saved only after the
 * target acknowledged everything before it on the channel (design.md §2).
 * This file is that rule's only home. Every message read takes a place in a
 * queue, in read order, with its fate: done (handled at once: applied, or
 * nothing to apply), or held by a holder — a batch being joined, an upsert
 * half waiting for its other half, a call in flight — until the holder is
 * released after the target's acknowledgement. The checkpoint is the newest
 * message at or before which nothing is held. A holder never released (the
 * worker stops, the call failed for good) keeps the checkpoint before its
 * first message forever, which is what a restart must replay.
 *
 * Neighbouring entries whose outcome cannot differ are merged (a done entry
 * behind a held one, or two of one holder), so the queue holds about two
 * entries per live holder, not one per message read.
 *
 * Time ticks ride along: a tick is passed on for the watermark only once the
 * checkpoint has passed it, since only then is every change before it on the
 * target (timestamps.md §3).
 *
 * The intent: before a call is sent, the newest message it covers is saved
 * as the intent. After a restart, messages up to the intent the previous run
 * saved may already be on the target: inside that replay window inserts go
 * as upserts (dml.c says when a collection's need not).
 *
 * Owned by one worker thread; nothing here locks. */
#ifndef MCDC_POSITIONS_H
#define MCDC_POSITIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "mq/mq.h"

typedef uint32_t pos_holder; /* 0: done */

typedef struct pos_entry {
    mq_msgid id;
    uint64_t ts;   /* newest change ts among the merged messages (0: none) */
    uint64_t tick; /* newest time tick among them (0: none) */
    pos_holder holder;
} pos_entry;

typedef struct positions {
    const char *mq_type;
    pos_entry *q;              /* a ring: q[head] is the oldest */
    size_t head, n, cap;
    pos_holder last_holder;
    mq_msgid done;             /* the checkpoint as it may be saved now; len 0: nothing yet */
    uint64_t done_ts;
    uint64_t tick;             /* the newest tick the checkpoint passed */
    mq_msgid saved;            /* the checkpoint in the store */
    uint64_t saved_ts;
    uint64_t saved_mono_ms;
    mq_msgid window;           /* the replay window's end: the previous run's intent */
    mq_msgid intent_saved;     /* the newest intent in the store */
} positions;

/* From what the store holds: the checkpoint (len 0: none) and the intent
 * (len 0: none; only one beyond the checkpoint opens a replay window). */
void positions_init(positions *p, const char *mq_type, const mq_msgid *checkpoint, uint64_t checkpoint_ts,
                    const mq_msgid *intent);
void positions_free(positions *p);

/* Orders two positions of this channel; an empty one is before any other. */
int positions_cmp(const positions *p, const mq_msgid *a, const mq_msgid *b);

/* A new holder for a batch, a held upsert half or a call. */
pos_holder positions_new_holder(positions *p);

/* The message at id was read and its fate decided: holder 0 if done, else
 * the holder that keeps it. ts 0 for a message whose ts must not count
 * (skipped, another collection's); tick 0 unless it is a time tick. */
void positions_read(positions *p, const mq_msgid *id, uint64_t ts, uint64_t tick, pos_holder holder);

/* Everything h held is done now. */
void positions_release(positions *p, pos_holder h);

/* Whether the message at id lies in the replay window. */
bool positions_in_window(const positions *p, const mq_msgid *id);

/* Intent: whether one must be saved before a call covering up to id is
 * sent, and that it was. */
bool positions_intent_needed(const positions *p, const mq_msgid *id);
void positions_intent_stored(positions *p, const mq_msgid *id);

/* The checkpoint moved past the stored one. */
bool positions_dirty(const positions *p);
/* The save policy: right away once everything sent is acknowledged (so a
 * restart replays little), else at most once per idle_ms for a checkpoint
 * that moved only over ticks and other collections' messages. */
bool positions_save_due(const positions *p, uint64_t now_mono_ms, uint64_t idle_ms);
void positions_checkpoint_stored(positions *p, uint64_t now_mono_ms);

#endif
