/* metrics.c — Prometheus text (see metrics.h). */
#include "server/metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "base/clock.h"

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

/* A label value as the text format wants it: backslash, double quote and
 * newline escaped. Task ids need none (task_spec.c allows none of them);
 * database and collection names come from the source and are not ours to
 * trust. */
static void put_label_value(mcdc_buf *out, const char *v) {
    for (; *v; v++) {
        if (*v == '\\') mcdc_buf_printf(out, "\\\\");
        else if (*v == '"') mcdc_buf_printf(out, "\\\"");
        else if (*v == '\n') mcdc_buf_printf(out, "\\n");
        else mcdc_buf_putc(out, (uint8_t)*v);
    }
}

/* name{task_id="..",collection="db.name"[,phase=".."]} */
static void copy_series(mcdc_buf *out, const char *name, const task_snapshot *s, const task_copy *c,
                        const char *phase) {
    mcdc_buf_printf(out, "%s{task_id=\"%s\",collection=\"", name, s->id);
    put_label_value(out, c->db);
    mcdc_buf_putc(out, '.');
    put_label_value(out, c->collection);
    mcdc_buf_putc(out, '"');
    if (phase) mcdc_buf_printf(out, ",phase=\"%s\"", phase);
    mcdc_buf_putc(out, '}');
}

/* Each copy's progress, and whether each task's target holds its source as
 * of the watermark (task_snapshot.h's consistent; true with no copy). */
static void write_copies(mcdc_buf *out, task_snapshot *const *list, size_t n) {
    mcdc_buf_printf(out, "# HELP mcdc_snapshot_error_active 1 while a collection's copy retries after an error (get's "
                         "snapshot last_error is set), else 0.\n# TYPE mcdc_snapshot_error_active gauge\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < list[i]->n_copies; k++) {
            const task_copy *c = &list[i]->copies[k];
            copy_series(out, "mcdc_snapshot_error_active", list[i], c, NULL);
            mcdc_buf_printf(out, " %d\n", c->last_error[0] != '\0');
        }
    mcdc_buf_printf(out, "# HELP mcdc_snapshot_rows_copied Rows of a collection's snapshot written to the target, over "
                         "every start of its copy.\n# TYPE mcdc_snapshot_rows_copied counter\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < list[i]->n_copies; k++) {
            const task_copy *c = &list[i]->copies[k];
            copy_series(out, "mcdc_snapshot_rows_copied", list[i], c, NULL);
            mcdc_buf_printf(out, " %" PRIu64 "\n", c->rows_copied);
        }
    mcdc_buf_printf(out, "# HELP mcdc_snapshot_rows_total The source's row count when a collection's copy began; 0 "
                         "until known.\n# TYPE mcdc_snapshot_rows_total gauge\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < list[i]->n_copies; k++) {
            const task_copy *c = &list[i]->copies[k];
            copy_series(out, "mcdc_snapshot_rows_total", list[i], c, NULL);
            mcdc_buf_printf(out, " %" PRIu64 "\n", c->rows_total);
        }
    mcdc_buf_printf(out, "# HELP mcdc_snapshot_rows_per_second Rows a collection's copy wrote per second over its "
                         "last progress interval; 0 when idle.\n# TYPE mcdc_snapshot_rows_per_second gauge\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < list[i]->n_copies; k++) {
            const task_copy *c = &list[i]->copies[k];
            copy_series(out, "mcdc_snapshot_rows_per_second", list[i], c, NULL);
            mcdc_buf_printf(out, " %.1f\n", c->rows_per_s);
        }
    /* One series per phase, 1 for the current one: a dashboard then sums or
     * filters by phase without knowing a number for each. */
    mcdc_buf_printf(out, "# HELP mcdc_snapshot_phase Where a collection's snapshot stands: 1 for its phase "
                         "(waiting, copying, overlapping, streaming), 0 for the others.\n"
                         "# TYPE mcdc_snapshot_phase gauge\n");
    static const copy_phase PHASES[] = {COPY_WAITING, COPY_COPYING, COPY_OVERLAPPING, COPY_STREAMING};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < list[i]->n_copies; k++) {
            const task_copy *c = &list[i]->copies[k];
            for (size_t p = 0; p < sizeof PHASES / sizeof PHASES[0]; p++) {
                copy_series(out, "mcdc_snapshot_phase", list[i], c, copy_phase_name(PHASES[p]));
                mcdc_buf_printf(out, " %d\n", c->phase == PHASES[p]);
            }
        }
    mcdc_buf_printf(out, "# HELP mcdc_task_consistent 1 when the target holds the source as of the task's watermark; "
                         "0 while a collection's copy or overlap runs.\n# TYPE mcdc_task_consistent gauge\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "mcdc_task_consistent{task_id=\"%s\"} %d\n", list[i]->id,
                        list[i]->consistent || list[i]->n_copies == 0);
}

/* What an alert needs beside the lag: the watermark itself (its age is
 * time() - it, and a watermark that stops moving while the task runs is a
 * stall that the lag only shows slowly), and flags for what get tells in
 * words (last_error, paused_at, starting). Each flag is 0 or 1 for every
 * task, so an alert on "== 1" has a series to compare. */
static void write_task_health(mcdc_buf *out, task_snapshot *const *list, size_t n) {
    mcdc_buf_printf(out, "# HELP mcdc_task_watermark_seconds The task's watermark as Unix time: every source change "
                         "committed by then is on the target.\n# TYPE mcdc_task_watermark_seconds gauge\n");
    for (size_t i = 0; i < n; i++)
        if (list[i]->watermark)
            mcdc_buf_printf(out, "mcdc_task_watermark_seconds{task_id=\"%s\"} %.3f\n", list[i]->id,
                            (double)mcdc_ts_physical_ms(list[i]->watermark) / 1000.0);
    mcdc_buf_printf(out, "# HELP mcdc_task_error_active 1 while the task retries after an error (get's last_error is "
                         "set), 0 once it healed.\n# TYPE mcdc_task_error_active gauge\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "mcdc_task_error_active{task_id=\"%s\"} %d\n", list[i]->id, list[i]->last_error[0] != '\0');
    mcdc_buf_printf(out, "# HELP mcdc_task_paused_at_message 1 while an error at one message paused the task (get's "
                         "paused_at), else 0.\n# TYPE mcdc_task_paused_at_message gauge\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "mcdc_task_paused_at_message{task_id=\"%s\"} %d\n", list[i]->id,
                        list[i]->paused_channel[0] != '\0');
    mcdc_buf_printf(out, "# HELP mcdc_task_starting 1 while a running task has no reader yet for a channel it must "
                         "read (get's starting), else 0.\n# TYPE mcdc_task_starting gauge\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "mcdc_task_starting{task_id=\"%s\"} %d\n", list[i]->id, list[i]->starting);
}

/* The same things under milvus-cdc's names (its server/metrics), so its
 * dashboard and alerts keep working: only those mcdc fills with the same
 * meaning. Its per-channel and per-collection labels (vchannel_name,
 * collection_id, collection_name) are absent: a snapshot holds one
 * watermark and one set of counters per task. */
static void write_milvus_cdc_names(mcdc_buf *out, task_snapshot *const *list, size_t n) {
    mcdc_buf_printf(out, "# HELP milvus_cdc_task_num Tasks in each state.\n# TYPE milvus_cdc_task_num gauge\n");
    static const task_state STATES[] = {TASK_INITIAL, TASK_RUNNING, TASK_PAUSED};
    for (size_t k = 0; k < sizeof STATES / sizeof STATES[0]; k++) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++) count += list[i]->state == STATES[k];
        mcdc_buf_printf(out, "milvus_cdc_task_num{task_state=\"%s\"} %zu\n", task_state_name(STATES[k]), count);
    }
    mcdc_buf_printf(out, "# HELP milvus_cdc_task_state Task state: 0 Initial, 1 Running, 2 Paused.\n# TYPE milvus_cdc_task_state gauge\n");
    for (size_t i = 0; i < n; i++)
        mcdc_buf_printf(out, "milvus_cdc_task_state{task_id=\"%s\"} %d\n", list[i]->id, (int)list[i]->state);
    /* milvus-cdc sets it to the physical time (Unix ms) of the last message
     * pack written; the watermark is that time for every channel at once. */
    mcdc_buf_printf(out, "# HELP milvus_cdc_replicate_tt The task's watermark, Unix time in milliseconds.\n"
                         "# TYPE milvus_cdc_replicate_tt gauge\n");
    for (size_t i = 0; i < n; i++)
        if (list[i]->watermark)
            mcdc_buf_printf(out, "milvus_cdc_replicate_tt{task_id=\"%s\",op_type=\"write\"} %" PRIu64 "\n", list[i]->id,
                            mcdc_ts_physical_ms(list[i]->watermark));
    /* Its api_type "insert" counts the rows of the WAL's insert messages;
     * mcdc writes those as Insert, or as Upsert when it replays them. */
    mcdc_buf_printf(out, "# HELP milvus_cdc_replicate_data_cnt Rows written to the target.\n"
                         "# TYPE milvus_cdc_replicate_data_cnt counter\n");
    for (size_t i = 0; i < n; i++) {
        const task_snapshot *s = list[i];
        mcdc_buf_printf(out, "milvus_cdc_replicate_data_cnt{task_id=\"%s\",op_type=\"write\",api_type=\"insert\"} %" PRIu64
                             "\n", s->id, s->applied.inserted + s->applied.upserted);
        mcdc_buf_printf(out, "milvus_cdc_replicate_data_cnt{task_id=\"%s\",op_type=\"write\",api_type=\"delete\"} %" PRIu64
                             "\n", s->id, s->applied.deleted);
    }
}

static void task_histogram(mcdc_buf *out, const char *name, const task_snapshot *s, const mcdc_histogram *h) {
    char labels[200];
    snprintf(labels, sizeof labels, "task_id=\"%s\"", s->id);
    mcdc_histogram_write_prometheus(h, out, name, labels);
}

/* The last verify of each task that had one (task_verify.c), per source
 * collection: rows compared so far, and once done what it found. */
static void write_verifies(mcdc_buf *out, task_snapshot *const *list, size_t n) {
    mcdc_buf_printf(out, "# HELP mcdc_verify_rows_compared Source rows the task's last verify compared, per "
                         "collection.\n# TYPE mcdc_verify_rows_compared gauge\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < list[i]->verify.n; k++) {
            const task_verify_coll *c = &list[i]->verify.colls[k];
            mcdc_buf_printf(out, "mcdc_verify_rows_compared{task_id=\"%s\",collection=\"", list[i]->id);
            put_label_value(out, c->source);
            mcdc_buf_printf(out, "\"} %" PRIu64 "\n", c->rows_compared);
        }
    mcdc_buf_printf(out, "# HELP mcdc_verify_differences What the task's last verify found per collection and kind "
                         "(missing, extra, differing, doubled); only once it is done.\n"
                         "# TYPE mcdc_verify_differences gauge\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < list[i]->verify.n; k++) {
            const task_verify_coll *c = &list[i]->verify.colls[k];
            if (!c->has_result) continue;
            for (int kind = 0; kind < VERIFY_N_KINDS; kind++) {
                mcdc_buf_printf(out, "mcdc_verify_differences{task_id=\"%s\",collection=\"", list[i]->id);
                put_label_value(out, c->source);
                mcdc_buf_printf(out, "\",kind=\"%s\"} %" PRIu64 "\n", verify_kind_name((verify_kind)kind),
                                c->result.count[kind]);
            }
        }
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
    mcdc_buf_printf(out, "# HELP mcdc_wait_seconds_total Time the task's channel threads waited, summed over "
                         "them: on the queue (nothing to read) or on the target (a reply they needed).\n"
                         "# TYPE mcdc_wait_seconds_total counter\n");
    for (size_t i = 0; i < n; i++) {
        const task_snapshot *s = list[i];
        mcdc_buf_printf(out, "mcdc_wait_seconds_total{task_id=\"%s\",on=\"queue\"} %.3f\n", s->id,
                        s->applied.queue_wait_us / 1e6);
        mcdc_buf_printf(out, "mcdc_wait_seconds_total{task_id=\"%s\",on=\"target\"} %.3f\n", s->id,
                        s->applied.target_wait_us / 1e6);
    }
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
    write_task_health(out, list, n);
    write_milvus_cdc_names(out, list, n);
    write_copies(out, list, n);
    write_verifies(out, list, n);
}
