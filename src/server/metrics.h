/* metrics.h — the Prometheus text of GET /metrics, all of it: the process,
 * the API's own request counts (milvus-cdc's milvus_cdc_request_* names and
 * buckets, so its dashboards work), and the tasks' metrics from snapshots.
 * docs/api.md lists every name. Each writer appends its names' HELP and TYPE
 * lines once, then one line per label set. */
#ifndef MCDC_METRICS_H
#define MCDC_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/histogram.h"
#include "pipeline/task_snapshot.h"

/* milvus-cdc's request_status label values, in its order, then mcdc's
 * refusals (counted as request_type="unknown": each is told before the
 * body, and so the type, is read). */
typedef enum request_status {
    REQ_TOTAL, REQ_SUCCESS, REQ_FAIL, REQ_INVALID_METHOD, REQ_UNMARSHAL_ERROR,
    REQ_UNAUTHORIZED, REQ_HOST_REFUSED, REQ_CONTENT_TYPE_REFUSED, REQ_TOO_LARGE, REQ_N_STATUS
} request_status;

#define METRICS_MAX_REQUEST_TYPES 16

/* Counts that HTTP threads add to without a lock. Row n_types counts the
 * requests of no known type (request_type="unknown"). */
typedef struct request_metrics {
    const char *const *types;    /* request_type label values; not copied */
    size_t n_types;              /* <= METRICS_MAX_REQUEST_TYPES */
    atomic_ullong counts[METRICS_MAX_REQUEST_TYPES + 1][REQ_N_STATUS];
    mcdc_histogram latency[METRICS_MAX_REQUEST_TYPES]; /* successful requests, milliseconds */
} request_metrics;

/* m must be zeroed. */
void request_metrics_init(request_metrics *m, const char *const *types, size_t n_types);
void request_metrics_count(request_metrics *m, size_t type, request_status st);
void request_metrics_observe_us(request_metrics *m, size_t type, uint64_t us);

/* mcdc_up, mcdc_start_time_seconds, and what /proc says of memory and
 * open files. */
void metrics_write_process(mcdc_buf *out, uint64_t started_wall_ms);
/* milvus_cdc_request_total and milvus_cdc_request_latency. */
void metrics_write_requests(mcdc_buf *out, const request_metrics *m);
/* The mcdc_task_* family, each line labelled task_id, in list order;
 * mcdc_task_lag_seconds and mcdc_task_watermark_seconds only for tasks whose
 * watermark is known. Then milvus-cdc's names for what mcdc fills the same
 * way (milvus_cdc_task_num by task_state, always all three states;
 * milvus_cdc_task_state; milvus_cdc_replicate_tt; milvus_cdc_replicate_data_cnt).
 * Then the snapshots' mcdc_snapshot_* family, one series per copy (task_id
 * and collection="db.name"; mcdc_snapshot_phase also phase, one series per
 * phase), and mcdc_task_consistent per task. */
void metrics_write_tasks(mcdc_buf *out, task_snapshot *const *list, size_t n);

#endif
