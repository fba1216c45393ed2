/* watermark.h — the task's watermark: the hybrid ts up to which the target
 * holds every change of every channel the task reads (a consistent cut,
 * timestamps.md §4), from what each DML channel's worker reports.
 *
 * The rule lives here alone, as a pure function, so that it is tested by
 * itself (tests/unit/test_watermark.c) and task.c only gathers the inputs. */
#ifndef MCDC_WATERMARK_H
#define MCDC_WATERMARK_H

#include <stddef.h>
#include <stdint.h>

/* A channel must have been silent this long before it stops counting. */
#define WATERMARK_SILENT_MS 3000

typedef struct watermark_channel {
    uint64_t tick;          /* the last time tick applied (everything before it is on the target); 0: none yet */
    uint64_t tick_ms;       /* when that tick was applied, monotonic ms */
    uint64_t idle_since_ms; /* since when the worker has read all there is and holds nothing unapplied; 0: busy */
} watermark_channel;

/* The minimum of the channels' applied ticks, leaving out only channels
 * that are caught up and have been silent for WATERMARK_SILENT_MS (a
 * channel whose last collection was dropped stops ticking, timestamps.md
 * §2: nothing on it can be behind). A busy channel always counts, however
 * old its tick: a worker stuck retrying a call holds the cut back. 0 when
 * a busy channel has applied no tick yet (the cut is not known);
 * the newest tick seen when every channel is silent; UINT64_MAX when there
 * is no channel or none has ever ticked. */
uint64_t watermark_of(const watermark_channel *ch, size_t n, uint64_t now_ms);

#endif
