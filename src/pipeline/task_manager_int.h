/* task_manager_int.h — creating and closing the task manager: for `mcdc
 * serve`, not for the HTTP layer (which only sees task_manager.h). */
#ifndef MCDC_TASK_MANAGER_INT_H
#define MCDC_TASK_MANAGER_INT_H

#include "pipeline/task.h"
#include "pipeline/task_manager.h"

/* Loads the stored tasks and starts those that were running. env is copied;
 * what it points to (catalog, store) must outlive the manager. */
task_manager *task_manager_open(const task_env *env, mcdc_err *err);
void task_manager_close(task_manager *tm);

#endif
