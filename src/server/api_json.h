/* api_json.h — task snapshots in milvus-cdc's reply shapes (the Go files
 * under server/model/request of zilliztech/milvus-cdc), plus mcdc's own
 * fields; docs/api.md describes each. Every function returns a new jansson
 * value the caller owns; none reads anything but its arguments. */
#ifndef MCDC_API_JSON_H
#define MCDC_API_JSON_H

#include <jansson.h>

#include "pipeline/task_snapshot.h"

/* The task's spec as task_spec_to_json prints it without secrets, and:
 * "task_id", "state", "reason" (only when there is one), "owner" (the
 * instance that runs it: its advertise URL, its id, or null when none does
 * right now), "paused_at" and "skip_requested" (below); for a task another
 * instance runs (snapshot remote) that is all. Else also "last_error",
 * "starting" (Running, and still starting the readers it needs),
 * "paused_at" and "skip_requested" {"channel","position"} (only when set),
 * "channels_read", "watermark" {"ts","time"} and "lag_seconds" (both only
 * when the watermark is known), "applied" {"inserted_rows","upserted_rows",
 * "deleted_rows","ddl","messages","calls_in_flight","calls_in_flight_peak",
 * "queue_wait_ms","target_wait_ms"},
 * "latency" {"apply_lag_seconds","target_call_seconds"}, each
 * {"count","p50","p99","max"}, "snapshot" {"consistent", "collections":
 * [{"db","collection","collection_id","phase","rows_copied","rows_total",
 * "rows_per_s" (one decimal),"eta_s" (null when not known),"end_ts",
 * "last_error"}]} (always; consistent is true when there is no copy), and
 * "bulk_inserts_not_replicated" (only when there are some). */
json_t *api_task_json(const task_snapshot *s);

/* A JSON array of api_task_json, in the list's order. */
json_t *api_task_list_json(task_snapshot *const *list, size_t n);

/* {"positions": [{"channel_name","position","msg_id","tt","time"}...]}:
 * position is the checkpoint as its queue writes it ("earliest" before the
 * first message), msg_id its bytes in base64, tt its hybrid timestamp and
 * time that timestamp's milliseconds. */
json_t *api_positions_json(const task_positions *p);

#endif
