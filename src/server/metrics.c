/* metrics.c — Prometheus text (see metrics.h). */
#include "server/metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

/* milvus-cdc's milvus_cdc_request_latency buckets, in milliseconds. */
static const double LATENCY_BUCKETS_MS[] = {1, 2, 4, 8, 16, 32, 64, 128};

static const char *const STATUS_NAMES[REQ_N_STATUS] = {"total",           "success",       "fail",
                                                       "invalid_method",  "unmarshal_error", "unauthorized",
                                                       "host_refused",    "content_type_refused", "too_large"};

void request_metrics_init(request_metrics *m, const char *const *types, size_t n_types) {
    m->types = types;
    m->n_types = n_types < METRICS_MAX_REQUEST_TYPES ? n_types : METRICS_MAX_REQUEST_TYPES;
    for (size_t t = 0; t < m->n_types; t++)
        mcdc_histogram_init(&m->latency[t], LATENCY_BUCKETS_MS, sizeof LATENCY_BUCKETS_MS / sizeof LATENCY_BUCKETS_MS[0],
                            1000);
}

void request_metrics_count(request_metrics *m, size_t type, request_status st) {
    atomic_fetch_add(&m->counts[type < m->n_types ? type : m->n_types][st], 1);
}

void request_metrics_observe_us(request_metrics *m, size_t type, uint64_t us) {
    if (type < m->n_types) mcdc_histogram_observe_us(&m->latency[type], us);
}

void metrics_write_process(mcdc_buf *b, uint64_t started_wall_ms) {
    mcdc_buf_printf(b, "# HELP mcdc_up 1 while mcdc serves.\n# TYPE mcdc_up gauge\nmcdc_up 1\n");
    mcdc_buf_printf(b, "# HELP mcdc_start_time_seconds When the API server started, Unix time.\n"
                       "# TYPE mcdc_start_time_seconds gauge\nmcdc_start_time_seconds %.3f\n",
                    (double)started_wall_ms / 1000.0);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long size, resident;
        if (fscanf(f, "%lu %lu", &size, &resident) == 2)
            mcdc_buf_printf(b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                               "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
                            (unsigned long long)resident * (unsigned long long)sysconf(_SC_PAGESIZE));
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.') n++;
        closedir(d);
        mcdc_buf_printf(b, "# HELP process_open_fds Number of open file descriptors.\n"
                           "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n", n - 1 /* the DIR's own */);
    }
}

void metrics_write_requests(mcdc_buf *b, const request_metrics *m) {
    mcdc_buf_printf(b, "# HELP milvus_cdc_request_total cdc request count\n# TYPE milvus_cdc_request_total counter\n");
    for (size_t t = 0; t <= m->n_types; t++) {
        bool unknown = t == m->n_types;
        const char *name = unknown ? "unknown" : m->types[t];
        for (int st = 0; st < REQ_N_STATUS; st++) {
            /* A known type is never an invalid method or unreadable (both
             * are told before the type is); an unknown one never succeeds. */
            bool meaningful = unknown ? st != REQ_SUCCESS && st != REQ_TOTAL : st <= REQ_FAIL;
            if (!meaningful) continue;
            mcdc_buf_printf(b, "milvus_cdc_request_total{request_type=\"%s\",request_status=\"%s\"} %llu\n", name,
                            STATUS_NAMES[st], (unsigned long long)atomic_load(&m->counts[t][st]));
        }
    }
    mcdc_buf_printf(b, "# HELP milvus_cdc_request_latency cdc request latency in milliseconds, successful requests\n"
                       "# TYPE milvus_cdc_request_latency histogram\n");
    for (size_t t = 0; t < m->n_types; t++) {
        char labels[64];
        snprintf(labels, sizeof labels, "request_type=\"%s\"", m->types[t]);
        mcdc_histogram_write_prometheus(&m->latency[t], b, "milvus_cdc_request_latency", labels);
    }
}

static void task_histogram(mcdc_buf *out, const char *name, const task_snapshot *s, const mcdc_histogram *h) {
    char labels[200];
    snprintf(labels, sizeof labels, "task_id=\"%s\"", s->id);
    mcdc_histogram_write_prometheus(h, out, name, labels);
}

void metrics_write_tasks(mcdc_buf *out, task_snapshot *const *list, size_t n) {
    mcdc_buf_printf(out, "# HELP mcdc_task_state Task state: 0 Initial, 1 Running, 2 Paused.\n# TYPE mcdc_task_state gauge\n");
    for (size_t i = 0; i < n; i++) mcdc_buf_printf(out, "mcdc_task_state{task_id=\"%s\"} %d\n", list[i]->id, (int)list[i]->state);
    mcdc_buf_printf(out, "# HELP mcdc_task_lag_seconds Now minus the task's watermark.\n# TYPE mcdc_task_lag_seconds gauge\n");
    for (size_t i = 0; i < n; i++)
        if (list[i]->watermark)
            mcdc_buf_printf(out, "mcdc_task_lag_seconds{task_id=\"%s\"} %.3f\n", list[i]->id,
                            task_snapshot_lag_seconds(list[i]));
    mcdc_buf_printf(out, "# HELP mcdc_applied_rows_total Rows applied to the target.\n# TYPE mcdc_applied_rows_total counter\n");
    for (size_t i = 0; i < n; i++) {
        const task_snapshot *s = list[i];
        mcdc_buf_printf(out, "mcdc_applied_rows_total{task_id=\"%s\",op=\"insert\"} %" PRIu64 "\n", s->id, s->applied.inserted);
        mcdc_buf_printf(out, "mcdc_applied_rows_total{task_id=\"%s\",op=\"upsert\"} %" PRIu64 "\n", s->id, s->applied.upserted);
        mcdc_buf_printf(out, "mcdc_applied_rows_total{task_id=\"%s\",op=\"delete\"} %" PRIu64 "\n", s->id, s->applied.deleted);
    }
    mcdc_buf_printf(out, "# HELP mcdc_calls_in_flight Insert calls sent to the target and not yet acknowledged.\n# TYPE mcdc_calls_in_flight gauge\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "mcdc_calls_in_flight{task_id=\"%s\"} %" PRIu64 "\n", list[i]->id, list[i]->applied.calls_in_flight);
    mcdc_buf_printf(out, "# HELP mcdc_apply_lag_seconds Per acknowledged Insert/Upsert/Delete call: the source's "
                         "commit of its oldest change to the target's reply.\n# TYPE mcdc_apply_lag_seconds histogram\n");
    for (size_t i = 0; i < n; i++) task_histogram(out, "mcdc_apply_lag_seconds", list[i], &list[i]->apply_lag);
    mcdc_buf_printf(out, "# HELP mcdc_target_call_seconds Per Insert/Upsert/Delete call attempt: send to reply.\n"
                         "# TYPE mcdc_target_call_seconds histogram\n");
    for (size_t i = 0; i < n; i++) task_histogram(out, "mcdc_target_call_seconds", list[i], &list[i]->target_call);
    mcdc_buf_printf(out, "# HELP mcdc_messages_total WAL messages read.\n# TYPE mcdc_messages_total counter\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "mcdc_messages_total{task_id=\"%s\"} %" PRIu64 "\n", list[i]->id, list[i]->applied.messages);
    mcdc_buf_printf(out, "# HELP mcdc_bulk_inserts_not_replicated Bulk inserts (Import) on covered collections whose rows "
                         "the WAL did not carry, since this process started the task.\n"
                         "# TYPE mcdc_bulk_inserts_not_replicated gauge\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "mcdc_bulk_inserts_not_replicated{task_id=\"%s\"} %zu\n", list[i]->id,
                        list[i]->n_bulk_inserts);
}
