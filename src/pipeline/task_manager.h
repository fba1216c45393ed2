/* task_manager.h — the tasks of one mcdc process, as the HTTP API sees them.
 *
 * Every function is safe to call from the HTTP threads. Errors come back as
 * mcdc_err values whose code the API turns into an HTTP status:
 * MCDC_EINVAL 400, MCDC_ENOTFOUND 404, MCDC_EEXIST 409, MCDC_EUNAVAIL 503,
 * anything else 500. Replies are jansson objects in milvus-cdc's shapes
 * (the Go files under server/model/request), owned by the caller. */
#ifndef MCDC_TASK_MANAGER_H
#define MCDC_TASK_MANAGER_H

#include <jansson.h>

#include "base/error.h"
#include "pipeline/task_spec.h"

typedef struct task_manager task_manager;

/* States as milvus-cdc names them. */
typedef enum task_state { TASK_INITIAL = 0, TASK_RUNNING = 1, TASK_PAUSED = 2 } task_state;
const char *task_state_name(task_state s); /* "Initial", "Running", "Paused" */

/* Takes ownership of *spec (also on failure). Checks that the target answers
 * before anything is stored. *task_id is malloc'd. */
int task_manager_create(task_manager *tm, task_spec *spec, char **task_id, mcdc_err *err);
int task_manager_delete(task_manager *tm, const char *task_id, mcdc_err *err);
int task_manager_pause(task_manager *tm, const char *task_id, mcdc_err *err);
int task_manager_resume(task_manager *tm, const char *task_id, mcdc_err *err);

/* {"task_id","milvus_connect_param" (no secrets),"collection_infos","db_collections",
 *  "state","reason", and ours: "watermark" {"ts","time"}, "lag_seconds", "last_error",
 *  "applied" {"inserted","deleted",...}} */
json_t *task_manager_get(task_manager *tm, const char *task_id, mcdc_err *err);
json_t *task_manager_list(task_manager *tm);
/* {"positions": [{"channel_name","msg_id","tt","time","collection_id"}...]} */
json_t *task_manager_positions(task_manager *tm, const char *task_id, mcdc_err *err);
/* Operator actions, e.g. {"operation":"skip_message","params":{"task_id","channel","position"}}. */
json_t *task_manager_maintenance(task_manager *tm, const json_t *request_data, mcdc_err *err);

/* For /metrics: appends Prometheus text. */
struct mcdc_buf;
void task_manager_metrics(task_manager *tm, struct mcdc_buf *out);

#endif
