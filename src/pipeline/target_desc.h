/* target_desc.h — the pipeline's side of target/collection.h: a source
 * collection described to the applier in the target's terms.
 *
 * The applier knows neither the task nor the source. Here the task's name
 * mapping and ignore_partition, and the catalog's snapshot of a collection,
 * become what the applier is told: target names, the source's schema, live
 * partitions, and a reader of the source's index and load state that the
 * applier calls only when it creates the target collection (so etcd is read
 * then, and only then). */
#ifndef MCDC_TARGET_DESC_H
#define MCDC_TARGET_DESC_H

#include "model/change.h"
#include "pipeline/task_spec.h"
#include "source/catalog.h"
#include "target/applier.h"

/* The applier's options for this task. */
applier_options target_desc_options(const task_spec *spec);

/* Describes collection cc. It borrows spec, cat and cc: all three must
 * outlive the description (hold the snapshot until target_desc_free). One
 * thread uses a description at a time; it is cheap (one allocation for the
 * partitions), so build one per applier call or per batch. */
target_collection *target_desc_new(const task_spec *spec, catalog *cat, const catalog_coll *cc);
void target_desc_free(target_collection *tc);

/* The target's names for replicate-channel request c (applier_replay),
 * after the task's name mapping. They point into spec and c, which must
 * outlive them; target_desc_request_names_free frees the Flush list. */
void target_desc_request_names(const task_spec *spec, const change *c, target_request_names *out);
void target_desc_request_names_free(target_request_names *names);

#endif
