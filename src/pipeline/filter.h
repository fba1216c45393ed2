/* filter.h — which of the source's collections a task replicates, as a
 * worker asks it: the production source_ops (worker_io.h) over the catalog
 * and the task's spec.
 *
 * One filter per worker: it caches its answers per collection id (a
 * collection's coverage never changes while it lives; a drop forgets it),
 * so it is owned by that worker's thread and locks nothing. */
#ifndef MCDC_FILTER_H
#define MCDC_FILTER_H

#include "pipeline/bindings.h"
#include "pipeline/overlap.h"
#include "pipeline/task_spec.h"
#include "pipeline/worker_io.h"
#include "source/catalog.h"

extern const source_ops filter_ops;

/* spec, catalog and bindings must outlive the filter; task_id and channel
 * are copied for log lines. A collection the task has bound stays covered
 * whatever it is called now (a rename); others are covered by the spec's
 * names. ov (may be NULL) says which collections a snapshot copies
 * (upsert_until). Free it with filter_ops.close. */
void *filter_new(const task_spec *spec, catalog *cat, bindings *registry, overlap *ov, const char *task_id,
                 const char *channel);

#endif
