/* target_ops.h — the production target_ops (worker_io.h): the applier, one
 * per worker, with its own connection to the target Milvus. */
#ifndef MCDC_TARGET_OPS_H
#define MCDC_TARGET_OPS_H

#include "pipeline/task_spec.h"
#include "pipeline/worker_io.h"
#include "source/catalog.h"

extern const target_ops applier_target_ops;

/* An applier for the task's target; spec and catalog must outlive it. NULL
 * with *err when the target's settings are unusable. Free it with
 * applier_target_ops.close. */
void *target_ops_open(const task_spec *spec, catalog *source, mcdc_err *err);

#endif
