/* lag_history.h — the last hour of each task's lag, and its rows per
 * second, for the status page (status_page.h): kept in memory, small and
 * bounded, lost at restart (Prometheus keeps the long history).
 *
 * One sample every LAG_HISTORY_INTERVAL_MS (10 s) from a list of task
 * snapshots; each task has a fixed ring of LAG_HISTORY_POINTS points (360:
 * one hour at 10 s), at most LAG_HISTORY_MAX_TASKS tasks are followed (the
 * first ones of the list; the page says when others are left out). A task
 * missing from a sample is dropped with its points (it was deleted).
 * Rows per second come from the task's applied rows (inserted + upserted +
 * deleted) of its last two samples over the monotonic time between them,
 * never from a guess: unknown until a task has two samples, and again after
 * its counters went back (the process restarted the task's counting).
 *
 * Threads: the sampler (lag_sampler_start) is the only writer; any thread
 * may read a copy (lag_history_copy). Both take the history's one mutex,
 * held only to copy points in or out, never across task_manager_list. */
#ifndef MCDC_LAG_HISTORY_H
#define MCDC_LAG_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "pipeline/task_snapshot.h"

#ifndef LAG_HISTORY_INTERVAL_MS
#define LAG_HISTORY_INTERVAL_MS 10000
#endif
#define LAG_HISTORY_POINTS 360
#define LAG_HISTORY_MAX_TASKS 64

/* One sample of one task: its lag at wall time wall_ms, or no lag (the
 * watermark was not known: lag_s < 0), which the chart shows as a gap. */
typedef struct lag_point {
    uint64_t wall_ms;
    float lag_s;
} lag_point;

/* One task's ring; the oldest point is points[(head + LAG_HISTORY_POINTS -
 * n) % LAG_HISTORY_POINTS], the newest points[(head + LAG_HISTORY_POINTS -
 * 1) % LAG_HISTORY_POINTS]; lag_series_at hides that. */
typedef struct lag_series {
    char *id;
    lag_point points[LAG_HISTORY_POINTS];
    size_t head, n;
    uint64_t last_rows, last_mono_ms;  /* the previous sample's counters */
    bool rate_known;
    double rows_per_s;                 /* between the last two samples */
} lag_series;

typedef struct lag_history lag_history;

lag_history *lag_history_new(void);
void lag_history_free(lag_history *h); /* NULL is fine; stop the sampler first */

/* Takes one sample of the tasks in list (their lag as each snapshot says,
 * task_snapshot_lag_seconds) at wall_ms, with rates over mono_ms. Tasks not
 * in the list leave. What the sampler calls; tests call it by hand. */
void lag_history_sample(lag_history *h, task_snapshot *const *list, size_t n, uint64_t wall_ms, uint64_t mono_ms);

/* A copy of every series, in the order tasks were first seen; *out is
 * malloc'd (free with lag_history_copy_free), NULL when there are none.
 * *left_out gets how many tasks of the last sample were past
 * LAG_HISTORY_MAX_TASKS. */
size_t lag_history_copy(lag_history *h, lag_series **out, size_t *left_out);
void lag_history_copy_free(lag_series *list, size_t n);

/* The i-th point of s, oldest first (i < s->n). */
const lag_point *lag_series_at(const lag_series *s, size_t i);
/* The series of task id in list, NULL when none. */
const lag_series *lag_series_find(const lag_series *list, size_t n, const char *id);

/* The thread that samples every interval_ms, the first time at once.
 * list_tasks is task_manager_list or a stand-in; ctx is passed to it and
 * must outlive the sampler. */
typedef size_t (*lag_list_fn)(void *ctx, task_snapshot ***out);
typedef struct lag_sampler lag_sampler;

lag_sampler *lag_sampler_start(lag_history *h, lag_list_fn list_tasks, void *ctx, unsigned interval_ms,
                               mcdc_err *err);
/* Wakes the thread, waits for it to end (a sample in progress finishes
 * first), frees. NULL is fine. */
void lag_sampler_stop(lag_sampler *s);

#endif
