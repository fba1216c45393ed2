/* target_ops.h — the production target_ops (worker_io.h): the applier, one
 * per worker, with its own connection to the target Milvus, reaching each
 * collection through the task's bindings (bindings.h): a change goes to the
 * target collection its source collection id owns, a create creates (or
 * adopts) it, a drop drops only that one, and the late changes of a
 * collection the source dropped are left out. */
#ifndef MCDC_TARGET_OPS_H
#define MCDC_TARGET_OPS_H

#include "pipeline/bindings.h"
#include "pipeline/task_spec.h"
#include "pipeline/worker_io.h"
#include "source/catalog.h"

extern const target_ops applier_target_ops;

/* An applier for the task's target; spec, catalog and bindings must outlive
 * it. The secrets the spec names by reference are read now, from
 * secrets_dir (the config's) or the environment, and forgotten once the
 * connection is open. NULL with *err when the target cannot be reached, a
 * secret cannot be read (MCDC_EIO, task_spec.h) or the settings are
 * unusable. Free it with applier_target_ops.close. */
void *target_ops_open(const task_spec *spec, const char *secrets_dir, catalog *source, bindings *registry,
                      mcdc_err *err);

#endif
