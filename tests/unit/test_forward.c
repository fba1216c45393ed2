/* test_forward.c — two `mcdc serve` in one process: two HTTP servers on
 * 127.0.0.1 (ephemeral ports), each with a real task manager, both on one
 * store (fake_store.h). A request for a task the other instance runs is
 * forwarded to it once, with the client's token, and its answer comes back
 * as it is; a request that was forwarded already is not sent on again
 * (503, "owner moved"); an owner that does not answer is 503 naming it;
 * list on either shows every task with its owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "base/clock.h"
#include "fake_store.h"
#include "pipeline/task.h"
#include "pipeline/task_manager.h"
#include "server/forward.h"
#include "server/http.h"

#define TOKEN "s3cret-token"

typedef struct inst {
    fake_inst *st;
    char url[64];
    task_env env;
    task_manager *tm;
    http_server *http;
} inst;

static fake_shared *g_sh;
static inst g_a, g_b;

static int fake_probe(const task_env *env, const task_spec *spec, mcdc_err *err) {
    (void)env, (void)spec, (void)err;
    return 0;
}
static int fake_positions(task *t, mcdc_err *err) {
    (void)t, (void)err;
    return 0;
}
static int fake_start(const task_env *env, task *t, mcdc_err *err) {
    (void)env, (void)t, (void)err;
    return 0;
}

static void start_http(inst *i) {
    http_config cfg = {.address = "127.0.0.1", .port = 0, .api_token = TOKEN};
    mcdc_err err;
    i->http = http_start(&cfg, i->tm, &err);
    if (!i->http) fail_msg("http_start: %s", err.msg);
    /* Known once bound: the manager and the store read these afterwards. */
    snprintf(i->url, sizeof i->url, "http://127.0.0.1:%u", (unsigned)http_port(i->http));
    snprintf(i->st->url, sizeof i->st->url, "%s", i->url);
}

static void open_inst(inst *i, const char *id) {
    i->st = fake_instance(g_sh, id, "");
    i->env = (task_env){.store = &i->st->base,
                        .mq = {.type = "kafka"},
                        .channel_prefix = "by-dev",
                        .dml_channels = 2,
                        .probe_target = fake_probe,
                        .first_positions = fake_positions,
                        .start_task = fake_start,
                        .advertise = i->url};
    mcdc_err err;
    i->tm = task_manager_open(&i->env, &err);
    if (!i->tm) fail_msg("task_manager_open: %s", err.msg);
    start_http(i);
}

static int setup(void **state) {
    (void)state;
    g_sh = fake_shared_new();
    memset(&g_a, 0, sizeof g_a);
    memset(&g_b, 0, sizeof g_b);
    open_inst(&g_a, "a");
    open_inst(&g_b, "b");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    inst *all[] = {&g_a, &g_b};
    for (int k = 0; k < 2; k++) {
        http_stop(all[k]->http);
        task_manager_close(all[k]->tm);
        store_close(&all[k]->st->base);
    }
    fake_shared_free(g_sh);
    return 0;
}

/* ---- a client --------------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    mcdc_buf_append(ud, p, size * n);
    return size * n;
}

/* POSTs body to i's /cdc with the token (and extra, a header line, if not
 * NULL); returns the status, *out the reply parsed (NULL if not JSON). */
static long post(inst *i, const char *body, const char *extra, json_t **out) {
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char url[96];
    snprintf(url, sizeof url, "%s/cdc", i->url);
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
    hs = curl_slist_append(hs, "Authorization: Bearer " TOKEN);
    if (extra) hs = curl_slist_append(hs, extra);
    mcdc_buf b = MCDC_BUF_INIT;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) fail_msg("POST %s: %s", url, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    *out = b.len ? json_loadb((const char *)b.data, b.len, 0, NULL) : NULL;
    mcdc_buf_free(&b);
    return status;
}

static const char *msg_of(const json_t *j) { return json_string_value(json_object_get(j, "message")); }

static json_t *task_of(const json_t *j) { return json_object_get(json_object_get(j, "data"), "task"); }

static const char *state_of(const json_t *j) { return json_string_value(json_object_get(task_of(j), "state")); }

/* Creates task id on i (i owns it) and waits until the other lists it. */
static void create_on(inst *i, inst *other, const char *id, const char *coll) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"request_type\": \"create\", \"request_data\": {\"task_id\": \"%s\", \"milvus_connect_param\": "
             "{\"uri\": \"http://target:19530\"}, \"collection_infos\": [{\"name\": \"%s\"}]}}",
             id, coll);
    json_t *j;
    assert_int_equal(post(i, body, NULL, &j), 200);
    json_decref(j);
    uint64_t t0 = mcdc_now_mono_ms();
    for (;;) {
        task_snapshot **list;
        size_t n = task_manager_list(other->tm, &list);
        bool seen = false;
        for (size_t k = 0; k < n; k++) seen |= strcmp(list[k]->id, id) == 0 && list[k]->remote;
        task_snapshots_free(list, n);
        if (seen) return;
        if (mcdc_now_mono_ms() - t0 > 3000) fail_msg("%s never listed on the other instance", id);
        mcdc_sleep_ms(5);
    }
}

#define GET_T "{\"request_type\": \"get\", \"request_data\": {\"task_id\": \"t\"}}"

/* ---- rules ------------------------------------------------------------------------------------ */

/* Rule: get, pause, resume and position sent to the instance that does not
 * run the task are the owner's answers (with the client's token passed on:
 * both servers want it); list there shows the task with its owner. */
static void test_forwarded_to_the_owner(void **state) {
    (void)state;
    create_on(&g_a, &g_b, "t", "c");
    json_t *j;
    assert_int_equal(post(&g_b, GET_T, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(task_of(j), "owner")), g_a.url);
    assert_string_equal(state_of(j), "Running");
    /* The owner's live figures, not the store's view. */
    assert_non_null(json_object_get(task_of(j), "applied"));
    json_decref(j);

    assert_int_equal(post(&g_b, "{\"request_type\": \"pause\", \"request_data\": {\"task_id\": \"t\"}}", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(post(&g_a, GET_T, NULL, &j), 200);
    assert_string_equal(state_of(j), "Paused");
    json_decref(j);
    assert_int_equal(post(&g_b, "{\"request_type\": \"resume\", \"request_data\": {\"task_id\": \"t\"}}", NULL, &j),
                     200);
    json_decref(j);
    assert_int_equal(post(&g_b, "{\"request_type\": \"position\", \"request_data\": {\"task_id\": \"t\"}}", NULL, &j),
                     200);
    assert_true(json_is_array(json_object_get(json_object_get(j, "data"), "positions")));
    json_decref(j);
    /* The owner's refusal comes back as it is. */
    assert_int_equal(post(&g_b,
                          "{\"request_type\": \"maintenance\", \"request_data\": {\"operation\": \"skip_message\", "
                          "\"params\": {\"task_id\": \"t\", \"channel\": \"by-dev-rootcoord-dml_0\", \"position\": "
                          "\"1\"}}}",
                          NULL, &j),
                     400);
    assert_non_null(strstr(msg_of(j), "not paused at a message"));
    json_decref(j);

    assert_int_equal(post(&g_b, "{\"request_type\": \"list\"}", NULL, &j), 200);
    json_t *tasks = json_object_get(json_object_get(j, "data"), "tasks");
    assert_int_equal(json_array_size(tasks), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 0), "owner")), g_a.url);
    /* The store's view only: no live figures of another instance's task. */
    assert_null(json_object_get(json_array_get(tasks, 0), "applied"));
    json_decref(j);

    /* Delete through B: done by A, gone from both. */
    assert_int_equal(post(&g_b, "{\"request_type\": \"delete\", \"request_data\": {\"task_id\": \"t\"}}", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(post(&g_a, GET_T, NULL, &j), 404);
    json_decref(j);
}

/* Rule: a request that was forwarded already, to an instance that does not
 * run the task, is not sent on (no loops): 503 "owner moved, retry". */
static void test_forwarded_twice_is_503(void **state) {
    (void)state;
    create_on(&g_a, &g_b, "t", "c");
    json_t *j;
    assert_int_equal(post(&g_b, GET_T, FORWARD_HEADER ": 1", &j), 503);
    assert_non_null(strstr(msg_of(j), "owner moved, retry"));
    json_decref(j);
    /* At the owner, a forwarded request is served as any. */
    assert_int_equal(post(&g_a, GET_T, FORWARD_HEADER ": 1", &j), 200);
    json_decref(j);
}

/* Rule: an owner that does not answer is 503 naming it (the client
 * retries; another instance takes over within the lease). */
static void test_owner_down_is_503_naming_it(void **state) {
    (void)state;
    create_on(&g_a, &g_b, "t", "c");
    http_stop(g_a.http);
    g_a.http = NULL;
    json_t *j;
    assert_int_equal(post(&g_b, GET_T, NULL, &j), 503);
    assert_non_null(strstr(msg_of(j), g_a.url));
    assert_non_null(strstr(msg_of(j), "retry"));
    json_decref(j);
    /* Its lease gone: B takes the task and answers itself. */
    fake_lose(g_a.st);
    uint64_t t0 = mcdc_now_mono_ms();
    long status;
    while ((status = post(&g_b, GET_T, NULL, &j)) != 200) {
        json_decref(j);
        assert_true(mcdc_now_mono_ms() - t0 < 5000);
        mcdc_sleep_ms(20);
    }
    assert_string_equal(json_string_value(json_object_get(task_of(j), "owner")), g_b.url);
    json_decref(j);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forwarded_to_the_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarded_twice_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_down_is_503_naming_it, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
