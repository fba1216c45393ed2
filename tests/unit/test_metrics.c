/* test_metrics.c — the /metrics lines that dashboards and alerts read
 * besides the ones test_http.c pins: the watermark as Unix time, the error
 * flags, and milvus-cdc's names for what mcdc fills the same way.
 *
 * Run as `test_metrics --sample`, it prints a whole /metrics text (process,
 * requests, tasks in every state, a snapshot copy) from hand-made snapshots
 * instead: deploy/check.py reads it to prove that every metric name the
 * Grafana dashboard and the Prometheus rules use is one mcdc exposes,
 * without a running server (ctest's deploy_names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "server/metrics.h"

#define NOW_MS 1714557600123ull

static uint64_t ts_at(uint64_t wall_ms) { return mcdc_ts_compose(wall_ms, 7); }

static task_snapshot *snap(const char *id, task_state state) {
    task_snapshot *s = mcdc_xcalloc(1, sizeof *s);
    s->id = mcdc_xstrdup(id);
    s->state = state;
    s->taken_wall_ms = NOW_MS;
    mcdc_histogram_init(&s->apply_lag, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    mcdc_histogram_init(&s->target_call, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    return s;
}

/* r: running, caught up to 2.5 s ago, retrying after an error, with a copy
 * that retries too; p: paused at a message, watermark unknown; i: initial;
 * s: running, still starting its readers. */
static void four_tasks(task_snapshot *list[4]) {
    list[0] = snap("r", TASK_RUNNING);
    list[0]->watermark = ts_at(NOW_MS - 2500);
    list[0]->applied = (task_counters){.inserted = 5, .upserted = 3, .deleted = 2, .messages = 11};
    snprintf(list[0]->last_error, sizeof list[0]->last_error, "target: Insert: unavailable");
    list[0]->n_copies = 1;
    list[0]->copies = mcdc_xcalloc(1, sizeof *list[0]->copies);
    list[0]->copies[0] = (task_copy){.db = mcdc_xstrdup("default"), .collection = mcdc_xstrdup("books"),
                                     .phase = COPY_COPYING, .rows_copied = 4096, .rows_total = 10000,
                                     .rows_per_s = 2048.0, .eta_s = 3};
    snprintf(list[0]->copies[0].last_error, sizeof list[0]->copies[0].last_error, "source: Query: timeout");
    mcdc_histogram_observe_us(&list[0]->apply_lag, 800000);
    mcdc_histogram_observe_us(&list[0]->target_call, 40000);
    list[1] = snap("p", TASK_PAUSED);
    snprintf(list[1]->reason, sizeof list[1]->reason, "poison message");
    snprintf(list[1]->paused_channel, sizeof list[1]->paused_channel, "by-dev-rootcoord-dml_0");
    snprintf(list[1]->paused_position, sizeof list[1]->paused_position, "0:42");
    list[2] = snap("i", TASK_INITIAL);
    list[3] = snap("s", TASK_RUNNING);
    list[3]->starting = true;
}

static void free_tasks(task_snapshot *list[4]) {
    for (int i = 0; i < 4; i++) task_snapshot_free(list[i]);
}

static const char *after(const char *text, const char *from, const char *want) {
    const char *at = strstr(from, want);
    if (!at) fail_msg("'%s' is not where it should be in:\n%s", want, text);
    return at + strlen(want);
}

static void test_health_series(void **state) {
    (void)state;
    task_snapshot *list[4];
    four_tasks(list);
    mcdc_buf b = MCDC_BUF_INIT;
    metrics_write_tasks(&b, list, 4);
    const char *t = mcdc_buf_cstr(&b), *at = t;
    /* The watermark is Unix seconds with its milliseconds, only where known. */
    at = after(t, at, "# TYPE mcdc_task_watermark_seconds gauge\n"
                      "mcdc_task_watermark_seconds{task_id=\"r\"} 1714557597.623\n"
                      "# HELP mcdc_task_error_active ");
    at = after(t, at, "# TYPE mcdc_task_error_active gauge\n"
                      "mcdc_task_error_active{task_id=\"r\"} 1\nmcdc_task_error_active{task_id=\"p\"} 0\n"
                      "mcdc_task_error_active{task_id=\"i\"} 0\nmcdc_task_error_active{task_id=\"s\"} 0\n");
    at = after(t, at, "# TYPE mcdc_task_paused_at_message gauge\n"
                      "mcdc_task_paused_at_message{task_id=\"r\"} 0\nmcdc_task_paused_at_message{task_id=\"p\"} 1\n"
                      "mcdc_task_paused_at_message{task_id=\"i\"} 0\nmcdc_task_paused_at_message{task_id=\"s\"} 0\n");
    at = after(t, at, "# TYPE mcdc_task_starting gauge\n"
                      "mcdc_task_starting{task_id=\"r\"} 0\nmcdc_task_starting{task_id=\"p\"} 0\n"
                      "mcdc_task_starting{task_id=\"i\"} 0\nmcdc_task_starting{task_id=\"s\"} 1\n");
    at = after(t, at, "# TYPE mcdc_snapshot_error_active gauge\n"
                      "mcdc_snapshot_error_active{task_id=\"r\",collection=\"default.books\"} 1\n"
                      "# HELP mcdc_snapshot_rows_copied ");
    (void)at;
    /* The lag and the watermark agree: now minus one is the other. */
    assert_non_null(strstr(t, "mcdc_task_lag_seconds{task_id=\"r\"} 2.500\n"));
    assert_null(strstr(t, "mcdc_task_watermark_seconds{task_id=\"p\"}"));
    mcdc_buf_free(&b);
    free_tasks(list);
}

static void test_milvus_cdc_names(void **state) {
    (void)state;
    task_snapshot *list[4];
    four_tasks(list);
    mcdc_buf b = MCDC_BUF_INIT;
    metrics_write_tasks(&b, list, 4);
    const char *t = mcdc_buf_cstr(&b), *at = t;
    /* Counts by state under milvus-cdc's label values, every state listed. */
    at = after(t, at, "# TYPE milvus_cdc_task_num gauge\n"
                      "milvus_cdc_task_num{task_state=\"Initial\"} 1\n"
                      "milvus_cdc_task_num{task_state=\"Running\"} 2\n"
                      "milvus_cdc_task_num{task_state=\"Paused\"} 1\n");
    at = after(t, at, "# TYPE milvus_cdc_task_state gauge\n"
                      "milvus_cdc_task_state{task_id=\"r\"} 1\nmilvus_cdc_task_state{task_id=\"p\"} 2\n"
                      "milvus_cdc_task_state{task_id=\"i\"} 0\nmilvus_cdc_task_state{task_id=\"s\"} 1\n");
    /* Milliseconds, as milvus-cdc writes it; only where the watermark is known. */
    at = after(t, at, "# TYPE milvus_cdc_replicate_tt gauge\n"
                      "milvus_cdc_replicate_tt{task_id=\"r\",op_type=\"write\"} 1714557597623\n"
                      "# HELP milvus_cdc_replicate_data_cnt ");
    /* Replayed inserts (written as upserts) count as inserts. */
    at = after(t, at, "# TYPE milvus_cdc_replicate_data_cnt counter\n"
                      "milvus_cdc_replicate_data_cnt{task_id=\"r\",op_type=\"write\",api_type=\"insert\"} 8\n"
                      "milvus_cdc_replicate_data_cnt{task_id=\"r\",op_type=\"write\",api_type=\"delete\"} 2\n"
                      "milvus_cdc_replicate_data_cnt{task_id=\"p\",op_type=\"write\",api_type=\"insert\"} 0\n");
    (void)at;
    mcdc_buf_free(&b);

    /* No task: still a count of 0 for each state, so an alert on Paused > 0
     * compares with a series. */
    metrics_write_tasks(&b, NULL, 0);
    t = mcdc_buf_cstr(&b);
    assert_non_null(strstr(t, "\nmilvus_cdc_task_num{task_state=\"Initial\"} 0\n"
                              "milvus_cdc_task_num{task_state=\"Running\"} 0\n"
                              "milvus_cdc_task_num{task_state=\"Paused\"} 0\n"));
    assert_null(strstr(t, "task_id="));
    mcdc_buf_free(&b);
    free_tasks(list);
}

/* Every writer of /metrics, in the server's order (http.c's handle_metrics). */
static int print_sample(void) {
    static const char *const types[] = {"create", "delete", "pause", "resume", "get", "list", "position", "maintenance", "resync"};
    static request_metrics req; /* static: zeroed, as request_metrics_init wants */
    request_metrics_init(&req, types, sizeof types / sizeof types[0]);
    request_metrics_count(&req, 0, REQ_TOTAL);
    request_metrics_count(&req, 0, REQ_SUCCESS);
    request_metrics_observe_us(&req, 0, 3000);
    request_metrics_count(&req, sizeof types / sizeof types[0], REQ_UNAUTHORIZED);
    task_snapshot *list[4];
    four_tasks(list);
    mcdc_buf b = MCDC_BUF_INIT;
    metrics_write_process(&b, NOW_MS - 60000);
    metrics_write_requests(&b, &req);
    metrics_write_tasks(&b, list, 4);
    int rc = fwrite(b.data, 1, b.len, stdout) == b.len && fflush(stdout) == 0 ? 0 : 1;
    mcdc_buf_free(&b);
    free_tasks(list);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--sample") == 0) return print_sample();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_series),
        cmocka_unit_test(test_milvus_cdc_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
