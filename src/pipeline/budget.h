/* budget.h — the memory a task's channels may hold while they catch up,
 * and how it is split among them.
 *
 * A channel holds three things that grow with a backlog: the queue's
 * read-ahead (messages fetched, not yet read), the batch being joined (WAL
 * messages read, decoded), and the calls in flight (their request bytes).
 * Each is bounded per channel; the bounds come from one budget per task,
 * divided by the DML channels it reads, so that eight shards do not take
 * eight times what one does (48 MiB whatever the channels, floors aside;
 * each queue consumer holds well over its read-ahead share, which is why
 * the share is small). An operator's explicit
 * setting (apply.batch_bytes, apply.inflight_bytes, the driver's
 * prefetch_kbytes) is taken as it is, per channel. docs/benchmarks.md has
 * the measurements the numbers come from. */
#ifndef MCDC_BUDGET_H
#define MCDC_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/worker_io.h"

/* A DML channel's limits: `configured` as the config resolved it, where
 * batch_bytes or inflight_bytes 0 means "the task's share"; prefetch_kbytes
 * is always the share (the driver's own setting wins inside the reader). The
 * replicate channel carries small requests: the driver's read-ahead, the
 * configured or default limits. dml_channels is how many DML channels the
 * task reads (0 counts as 1). */
worker_settings budget_channel(const worker_settings *configured, size_t dml_channels, bool replicate);

#endif
