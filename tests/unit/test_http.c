/* test_http.c — the HTTP API over real sockets: every request type of
 * POST /cdc, the error statuses (400 with the field, 404, 409, 503, 405,
 * 413, 401), /healthz and /metrics; and the formats of src/server (the
 * task JSON, positions, the tasks' Prometheus lines) from hand-made
 * snapshots. The task manager here is a small
 * in-memory stand-in with the contract of task_manager.h; the real one is
 * exercised by the integration tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "logcapture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "server/api_json.h"
#include "server/http.h"
#include "server/http_guard.h"
#include "server/metrics.h"

/* ---- an in-memory task manager ------------------------------------------- */

#define MAX_TASKS 16

struct task_manager {
    pthread_mutex_t mu;
    struct {
        task_spec spec;
        task_state state;
    } tasks[MAX_TASKS];
    size_t n;
    char skipped[256];  /* the last skip_message: "task channel position" */
    char resynced[256]; /* the last resync: "task db collection" */
    char verified[256]; /* the last verify: "task db collection" ("-" for none) */
    char handed[256];   /* the last switchover or failover: "kind task ms ms" */
};

static int find(task_manager *tm, const char *id) {
    for (size_t i = 0; i < tm->n; i++)
        if (strcmp(tm->tasks[i].spec.id, id) == 0) return (int)i;
    return -1;
}

int task_manager_create(task_manager *tm, task_spec *spec, char **task_id, mcdc_err *err) {
    int rc = 0;
    pthread_mutex_lock(&tm->mu);
    if (strcmp(spec->target.address, "unreachable:1") == 0)
        rc = mcdc_errf(err, MCDC_EUNAVAIL, "target unreachable:1 does not answer");
    else if (strcmp(spec->target.address, "slow:1") == 0) {
        /* A target that takes its time, with the manager's lock held (the
         * worst a task manager could do): /healthz must not care. */
        sleep(3);
        rc = mcdc_errf(err, MCDC_EUNAVAIL, "target slow:1 does not answer");
    }
    else if (find(tm, spec->id) >= 0)
        rc = mcdc_errf(err, MCDC_EEXIST, "task '%s' exists already", spec->id);
    else if (tm->n == MAX_TASKS)
        rc = mcdc_errf(err, MCDC_EINTERNAL, "too many tasks for the test");
    else {
        tm->tasks[tm->n].spec = *spec;
        tm->tasks[tm->n].state = TASK_RUNNING;
        tm->n++;
        *task_id = mcdc_xstrdup(spec->id);
        spec = NULL;
    }
    pthread_mutex_unlock(&tm->mu);
    task_spec_free(spec);
    return rc;
}

int task_manager_delete(task_manager *tm, const char *id, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id);
    if (i >= 0) {
        task_spec_free(&tm->tasks[i].spec);
        tm->tasks[i] = tm->tasks[--tm->n];
    }
    pthread_mutex_unlock(&tm->mu);
    return i < 0 ? mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id) : 0;
}

static int set_state(task_manager *tm, const char *id, task_state s, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id);
    if (i >= 0) tm->tasks[i].state = s;
    pthread_mutex_unlock(&tm->mu);
    return i < 0 ? mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id) : 0;
}

int task_manager_pause(task_manager *tm, const char *id, mcdc_err *err) { return set_state(tm, id, TASK_PAUSED, err); }
int task_manager_resume(task_manager *tm, const char *id, mcdc_err *err) {
    return set_state(tm, id, TASK_RUNNING, err);
}

/* A snapshot as the pipeline makes one: the spec copied without secrets,
 * histograms with the task bounds. */
static task_snapshot *new_snapshot(const task_spec *spec, task_state state) {
    task_snapshot *s = calloc(1, sizeof *s);
    s->id = mcdc_xstrdup(spec->id);
    task_spec_copy(spec, &s->spec, false);
    s->state = state;
    mcdc_histogram_init(&s->apply_lag, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    mcdc_histogram_init(&s->target_call, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    return s;
}

task_snapshot *task_manager_get(task_manager *tm, const char *id, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id);
    task_snapshot *s = i >= 0 ? new_snapshot(&tm->tasks[i].spec, tm->tasks[i].state) : NULL;
    pthread_mutex_unlock(&tm->mu);
    if (!s) mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id);
    return s;
}

size_t task_manager_list(task_manager *tm, task_snapshot ***out) {
    pthread_mutex_lock(&tm->mu);
    size_t n = tm->n;
    *out = calloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++) (*out)[i] = new_snapshot(&tm->tasks[i].spec, tm->tasks[i].state);
    pthread_mutex_unlock(&tm->mu);
    return n;
}

int task_manager_positions(task_manager *tm, const char *id, task_positions *out, mcdc_err *err) {
    *out = (task_positions){0};
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id);
    pthread_mutex_unlock(&tm->mu);
    if (i < 0) return mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id);
    out->n = 1;
    out->items = calloc(1, sizeof *out->items);
    out->items[0] = (task_position){.channel = mcdc_xstrdup("by-dev-rootcoord-dml_0"),
                                    .checkpoint = {.bytes = {1}, .len = 8},
                                    .text = "1",
                                    .ts = 449};
    return 0;
}

int task_manager_skip_message(task_manager *tm, const char *id, const char *channel, const char *position,
                              mcdc_err *err) {
    if (strcmp(position, "junk") == 0) return mcdc_errf(err, MCDC_EINVAL, "position 'junk' is not one");
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id);
    if (i >= 0) snprintf(tm->skipped, sizeof tm->skipped, "%s %s %s", id, channel, position);
    pthread_mutex_unlock(&tm->mu);
    return i < 0 ? mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id) : 0;
}

/* The real one's answers: 404, 400 for a Paused task; and task_resync's
 * 409 for a collection whose copy runs ("busy" here). */
int task_manager_resync(task_manager *tm, const char *id, const char *db, const char *collection, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id), rc = 0;
    if (i < 0) rc = mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id);
    else if (tm->tasks[i].state == TASK_PAUSED) rc = mcdc_errf(err, MCDC_EINVAL, "task '%s' is paused; resume it first", id);
    else if (strcmp(collection, "busy") == 0)
        rc = mcdc_errf(err, MCDC_EEXIST, "resync of %s.%s: its copy is running", db, collection);
    else snprintf(tm->resynced, sizeof tm->resynced, "%s %s %s", id, db, collection);
    pthread_mutex_unlock(&tm->mu);
    return rc;
}

/* As resync's: 404, 400 for a Paused task, 409 while one runs ("busy"),
 * and task_verify_start's 404 for a collection it does not cover ("nope"). */
int task_manager_verify(task_manager *tm, const char *id, const char *db, const char *collection, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id), rc = 0;
    if (i < 0) rc = mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id);
    else if (tm->tasks[i].state == TASK_PAUSED) rc = mcdc_errf(err, MCDC_EINVAL, "task '%s' is paused; resume it first", id);
    else if (collection && strcmp(collection, "busy") == 0)
        rc = mcdc_errf(err, MCDC_EEXIST, "task %s: a verify is running; wait for it to end", id);
    else if (collection && strcmp(collection, "nope") == 0)
        rc = mcdc_errf(err, MCDC_ENOTFOUND, "task %s does not cover a collection %s.%s of the source", id, db, collection);
    else snprintf(tm->verified, sizeof tm->verified, "%s %s %s", id, collection ? db : "-", collection ? collection : "-");
    pthread_mutex_unlock(&tm->mu);
    return rc;
}

/* As verify's: 404, and 400 for a Paused task's switchover (a failover
 * takes any task). */
int task_manager_switchover(task_manager *tm, const char *id, uint32_t quiet_ms, uint32_t timeout_ms, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id), rc = 0;
    if (i < 0) rc = mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id);
    else if (tm->tasks[i].state == TASK_PAUSED) rc = mcdc_errf(err, MCDC_EINVAL, "task %s is not running", id);
    else snprintf(tm->handed, sizeof tm->handed, "switchover %s %u %u", id, quiet_ms, timeout_ms);
    pthread_mutex_unlock(&tm->mu);
    return rc;
}

int task_manager_failover(task_manager *tm, const char *id, uint32_t drain_ms, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int i = find(tm, id), rc = 0;
    if (i < 0) rc = mcdc_errf(err, MCDC_ENOTFOUND, "task '%s' not found", id);
    else snprintf(tm->handed, sizeof tm->handed, "failover %s %u", id, drain_ms);
    pthread_mutex_unlock(&tm->mu);
    return rc;
}

/* One instance: every task runs here, nothing is forwarded (test_forward.c
 * has several instances on the real manager). */
int task_manager_owner(task_manager *tm, const char *id, char **owner_url, mcdc_err *err) {
    (void)tm, (void)id, (void)err;
    *owner_url = NULL;
    return 0;
}

/* ---- a tiny HTTP client ---------------------------------------------------- */

typedef struct reply {
    int status;
    char *head;     /* status line and headers */
    char *body;
    json_t *json;   /* the body, when it is JSON */
} reply;

static void reply_free(reply *r) {
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* A connection to the server from the loopback address `from` (NULL:
 * 127.0.0.1; any 127.x.y.z works, which is how the tests play several
 * clients). */
static int connect_from(const char *from, uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (from) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int connect_to(uint16_t port) { return connect_from(NULL, port); }

/* Sends what it can (the server may stop reading), then reads the reply. */
static reply exchange_from(const char *from, uint16_t port, const void *raw, size_t len) {
    int fd = connect_from(from, port);
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, (const char *)raw + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    mcdc_buf in = MCDC_BUF_INIT;
    char chunk[4096];
    for (;;) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        mcdc_buf_append(&in, chunk, (size_t)n);
    }
    close(fd);
    reply r = {0};
    const char *text = mcdc_buf_cstr(&in);
    const char *split = strstr(text, "\r\n\r\n");
    if (!split || sscanf(text, "HTTP/1.1 %d", &r.status) != 1) fail_msg("no HTTP reply: '%s'", text);
    r.head = strndup(text, (size_t)(split - text));
    r.body = strdup(split + 4);
    if (strstr(r.head, "application/json")) r.json = json_loads(r.body, 0, NULL);
    mcdc_buf_free(&in);
    return r;
}

static reply exchange(uint16_t port, const void *raw, size_t len) { return exchange_from(NULL, port, raw, len); }

static reply request(uint16_t port, const char *method, const char *path, const char *headers, const char *body) {
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method, path,
                    headers ? headers : "");
    if (body) mcdc_buf_printf(&b, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
    else mcdc_buf_printf(&b, "\r\n");
    reply r = exchange(port, b.data, b.len);
    mcdc_buf_free(&b);
    return r;
}

static reply cdc(uint16_t port, const char *body) { return request(port, "POST", "/cdc", NULL, body); }

static const char *message(const reply *r) { return json_string_value(json_object_get(r->json, "message")); }
static json_t *data(const reply *r) { return json_object_get(r->json, "data"); }

/* A failed request: the status, the same code in the body, and a message with want. */
static void expect_fail(uint16_t port, const char *body, int status, const char *want) {
    reply r = cdc(port, body);
    if (r.status != status) fail_msg("%s: status %d, want %d; body %s", body, r.status, status, r.body);
    assert_non_null(r.json);
    assert_int_equal(json_integer_value(json_object_get(r.json, "code")), status);
    assert_null(data(&r));
    if (!message(&r) || !strstr(message(&r), want)) fail_msg("%s: message '%s' lacks '%s'", body, message(&r), want);
    reply_free(&r);
}

static reply expect_ok(uint16_t port, const char *body) {
    reply r = cdc(port, body);
    if (r.status != 200) fail_msg("%s: status %d; body %s", body, r.status, r.body);
    assert_int_equal(json_integer_value(json_object_get(r.json, "code")), 200);
    assert_non_null(data(&r));
    assert_null(strstr(r.body, "s3cret"));
    return r;
}

/* ---- fixtures -------------------------------------------------------------- */

typedef struct fixture {
    task_manager tm;
    http_server *srv;
    uint16_t port;
} fixture;

static int start_with(void **state, http_config cfg) {
    fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->tm.mu, NULL);
    mcdc_err err = {0};
    f->srv = http_start(&cfg, &f->tm, &err);
    if (!f->srv) fail_msg("http_start: %s", err.msg);
    f->port = http_port(f->srv);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int start(void **state, const char *token, size_t max_body) {
    return start_with(state, (http_config){.address = "127.0.0.1", .api_token = token, .max_body_bytes = max_body});
}

static int setup_plain(void **state) { return start(state, NULL, 64 * 1024); }
static int setup_token(void **state) { return start(state, "s3cret-token", 0); }

static const char *const ALLOWED[] = {"mcdc.example.com", "proxy.example:8443", "[fd00::1]"};
static int setup_allowed(void **state) {
    return start_with(state, (http_config){.address = "127.0.0.1", .allowed_hosts = ALLOWED, .n_allowed_hosts = 3});
}
static const char *const ANY[] = {"*"};
static int setup_any_host(void **state) {
    return start_with(state, (http_config){.address = "127.0.0.1", .allowed_hosts = ANY, .n_allowed_hosts = 1});
}
/* Deadlines short enough for a test, long enough for a loaded machine. */
static int setup_deadline(void **state) {
    return start_with(state, (http_config){.address = "127.0.0.1", .header_timeout_ms = 1000});
}
static int setup_per_client(void **state) {
    return start_with(state, (http_config){.address = "127.0.0.1", .max_connections_per_client = 4,
                                           .header_timeout_ms = 60000});
}
static int setup_busy(void **state) {
    return start_with(state, (http_config){.address = "127.0.0.1", .header_timeout_ms = 2000});
}

static int teardown(void **state) {
    fixture *f = *state;
    http_stop(f->srv);
    for (size_t i = 0; i < f->tm.n; i++) task_spec_free(&f->tm.tasks[i].spec);
    pthread_mutex_destroy(&f->tm.mu);
    free(f);
    return 0;
}

/* ---- tests ----------------------------------------------------------------- */

#define CREATE(extra)                                                                                          \
    "{\"request_type\": \"create\", \"request_data\": {\"milvus_connect_param\": {\"uri\": \"http://t:19540\"," \
    " \"token\": \"root:s3cret\"}, \"collection_infos\": [{\"name\": \"*\"}]" extra "}}"

/* Sends stderr (the log) to a file for a while, to check what it says. */
static int capture_log(void) {
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);
    fclose(tmp); /* fd 2 keeps the file open */
    return saved;
}

static char *end_capture(int saved) {
    fflush(stderr);
    off_t size = lseek(2, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    assert_int_equal(pread(2, text, (size_t)size, 0), size);
    dup2(saved, 2);
    close(saved);
    return text;
}

static void test_every_request_type(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    int saved = capture_log();

    reply r = expect_ok(p, CREATE(", \"task_id\": \"t1\""));
    assert_string_equal(json_string_value(json_object_get(data(&r), "task_id")), "t1");
    assert_non_null(strstr(r.head, "Content-Type: application/json"));
    reply_free(&r);

    r = expect_ok(p, CREATE(""));
    const char *gen = json_string_value(json_object_get(data(&r), "task_id"));
    assert_int_equal(strlen(gen), 32);
    reply_free(&r);

    r = expect_ok(p, "{\"request_type\": \"get\", \"request_data\": {\"task_id\": \"t1\"}}");
    json_t *task = json_object_get(data(&r), "task");
    assert_string_equal(json_string_value(json_object_get(task, "task_id")), "t1");
    assert_string_equal(json_string_value(json_object_get(task, "state")), "Running");
    json_t *conn = json_object_get(task, "milvus_connect_param");
    assert_string_equal(json_string_value(json_object_get(conn, "password")), "***");
    assert_non_null(strstr(r.body, "\"snapshot\":{\"consistent\":true,\"collections\":[]}"));
    reply_free(&r);

    r = expect_ok(p, "{\"request_type\": \"list\"}");
    assert_int_equal(json_array_size(json_object_get(data(&r), "tasks")), 2);
    assert_true(json_is_true(json_object_get(
        json_object_get(json_array_get(json_object_get(data(&r), "tasks"), 1), "snapshot"), "consistent")));
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"list\", \"request_data\": {}}");
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"list\", \"request_data\": null}");
    reply_free(&r);

    r = expect_ok(p, "{\"request_type\": \"pause\", \"request_data\": {\"task_id\": \"t1\"}}");
    assert_int_equal(json_object_size(data(&r)), 0);
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"get\", \"request_data\": {\"task_id\": \"t1\"}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data(&r), "task"), "state")), "Paused");
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"resume\", \"request_data\": {\"task_id\": \"t1\"}}");
    assert_int_equal(json_object_size(data(&r)), 0);
    reply_free(&r);

    r = expect_ok(p, "{\"request_type\": \"position\", \"request_data\": {\"task_id\": \"t1\"}}");
    json_t *pos = json_array_get(json_object_get(data(&r), "positions"), 0);
    assert_string_equal(json_string_value(json_object_get(pos, "channel_name")), "by-dev-rootcoord-dml_0");
    assert_string_equal(json_string_value(json_object_get(pos, "msg_id")), "AQAAAAAAAAA=");
    reply_free(&r);

    r = expect_ok(p, "{\"request_type\": \"maintenance\", \"request_data\": {\"operation\": \"skip_message\","
                     " \"params\": {\"task_id\": \"t1\", \"channel\": \"ch\", \"position\": \"2\"}}}");
    assert_string_equal(json_string_value(json_object_get(data(&r), "state")), "ok");
    assert_string_equal(json_string_value(json_object_get(data(&r), "message")),
                        "the message is skipped when the task resumes");
    assert_string_equal(f->tm.skipped, "t1 ch 2");
    reply_free(&r);

    r = expect_ok(p, "{\"request_type\": \"resync\", \"request_data\": {\"task_id\": \"t1\", \"collection_name\": \"c1\"}}");
    assert_int_equal(json_object_size(data(&r)), 0);
    assert_string_equal(f->tm.resynced, "t1 default c1");
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"resync\", \"request_data\": {\"task_id\": \"t1\", \"collection_name\": \"c2\","
                     " \"db_name\": \"db2\"}}");
    assert_string_equal(f->tm.resynced, "t1 db2 c2");
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"resync\", \"request_data\": {\"task_id\": \"t1\", \"collection_name\": \"c3\","
                     " \"db_name\": null}}");
    assert_string_equal(f->tm.resynced, "t1 default c3");
    reply_free(&r);

    r = expect_ok(p, "{\"request_type\": \"verify\", \"request_data\": {\"task_id\": \"t1\"}}");
    assert_string_equal(json_string_value(json_object_get(data(&r), "verify")), "started");
    assert_string_equal(f->tm.verified, "t1 - -");
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"verify\", \"request_data\": {\"task_id\": \"t1\", \"collection_name\": \"c1\"}}");
    assert_string_equal(f->tm.verified, "t1 default c1");
    reply_free(&r);
    expect_fail(p, "{\"request_type\": \"verify\", \"request_data\": {\"task_id\": \"t1\", \"collection_name\": \"busy\"}}",
                409, "a verify is running");
    expect_fail(p, "{\"request_type\": \"verify\", \"request_data\": {\"task_id\": \"t1\", \"collection_name\": \"nope\"}}",
                404, "task t1 does not cover a collection default.nope");
    expect_fail(p, "{\"request_type\": \"verify\", \"request_data\": {\"task_id\": \"t9\"}}", 404, "task 't9' not found");
    expect_fail(p, "{\"request_type\": \"verify\", \"request_data\": {\"task_id\": \"t1\", \"db_name\": \"d\"}}", 400,
                "db_name goes with collection_name");
    expect_fail(p, "{\"request_type\": \"verify\", \"request_data\": {\"task_id\": \"t1\", \"x\": 1}}", 400,
                "unknown key 'x'");

    r = expect_ok(p, "{\"request_type\": \"switchover\", \"request_data\": {\"task_id\": \"t1\"}}");
    assert_string_equal(json_string_value(json_object_get(data(&r), "switchover")), "started");
    assert_string_equal(f->tm.handed, "switchover t1 5000 120000");
    reply_free(&r);
    r = expect_ok(p, "{\"request_type\": \"switchover\", \"request_data\": {\"task_id\": \"t1\", \"quiet_s\": 2,"
                     " \"timeout_s\": 9}}");
    assert_string_equal(f->tm.handed, "switchover t1 2000 9000");
    reply_free(&r);
    expect_fail(p, "{\"request_type\": \"switchover\", \"request_data\": {\"task_id\": \"t1\", \"quiet_s\": 9,"
                   " \"timeout_s\": 2}}", 400, "timeout_s: want at least quiet_s (9)");
    expect_fail(p, "{\"request_type\": \"switchover\", \"request_data\": {\"task_id\": \"t1\", \"quiet_s\": 0}}",
                400, "quiet_s: want whole seconds from 1 to 3600");
    expect_fail(p, "{\"request_type\": \"switchover\", \"request_data\": {\"task_id\": \"t1\", \"drain_s\": 1}}",
                400, "unknown key 'drain_s'");
    expect_fail(p, "{\"request_type\": \"switchover\", \"request_data\": {\"task_id\": \"t9\"}}", 404,
                "task 't9' not found");
    expect_fail(p, "{\"request_type\": \"switchover\"}", 400, "request_data.task_id: missing");
    r = expect_ok(p, "{\"request_type\": \"failover\", \"request_data\": {\"task_id\": \"t1\", \"drain_s\": 0}}");
    assert_string_equal(json_string_value(json_object_get(data(&r), "failover")), "started");
    assert_string_equal(f->tm.handed, "failover t1 0");
    reply_free(&r);
    expect_fail(p, "{\"request_type\": \"failover\", \"request_data\": {\"task_id\": \"t1\", \"drain_s\": \"x\"}}",
                400, "drain_s: want whole seconds from 0 to 3600");

    r = expect_ok(p, "{\"request_type\": \"delete\", \"request_data\": {\"task_id\": \"t1\"}}");
    assert_int_equal(json_object_size(data(&r)), 0);
    reply_free(&r);
    expect_fail(p, "{\"request_type\": \"delete\", \"request_data\": {\"task_id\": \"t1\"}}", 404, "task 't1' not found");
    r = expect_ok(p, "{\"request_type\": \"delete\", \"request_data\": {\"task_id\": \"t1\", \"ignore_not_found\": true}}");
    reply_free(&r);

    char *log = end_capture(saved);
    assert_non_null(strstr(log, "http: created task t1"));
    if (strstr(log, "s3cret")) fail_msg("the log shows a secret:\n%s", log);
    free(log);
}

static void test_task_errors(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    reply r = expect_ok(p, CREATE(", \"task_id\": \"dup\""));
    reply_free(&r);
    expect_fail(p, CREATE(", \"task_id\": \"dup\""), 409, "task 'dup' exists already");
    expect_fail(p,
                "{\"request_type\": \"create\", \"request_data\": {\"milvus_connect_param\": {\"uri\": \"unreachable:1\"},"
                " \"collection_infos\": [{\"name\": \"c\"}]}}",
                503, "does not answer");
    expect_fail(p,
                "{\"request_type\": \"create\", \"request_data\": {\"milvus_connect_param\": {\"host\": \"h\","
                " \"port\": \"x\", \"password\": \"s3cret\"}, \"collection_infos\": [{\"name\": \"c\"}]}}",
                400, "milvus_connect_param.port: want an integer from 1 to 65535");
    expect_fail(p, "{\"request_type\": \"create\"}", 400, "request_data: missing");
    const char *types[] = {"get", "pause", "resume", "position", "delete"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"request_type\": \"%s\", \"request_data\": {\"task_id\": \"nope\"}}", types[i]);
        expect_fail(p, body, 404, "task 'nope' not found");
        snprintf(body, sizeof body, "{\"request_type\": \"%s\", \"request_data\": {}}", types[i]);
        expect_fail(p, body, 400, "request_data.task_id: missing");
        snprintf(body, sizeof body, "{\"request_type\": \"%s\"}", types[i]);
        expect_fail(p, body, 400, "request_data.task_id: missing");
        snprintf(body, sizeof body, "{\"request_type\": \"%s\", \"request_data\": {\"task_id\": 5}}", types[i]);
        expect_fail(p, body, 400, "request_data.task_id: want a non-empty string");
        snprintf(body, sizeof body, "{\"request_type\": \"%s\", \"request_data\": {\"taskid\": \"x\"}}", types[i]);
        expect_fail(p, body, 400, "request_data: unknown key 'taskid'");
    }
    expect_fail(p, "{\"request_type\": \"delete\", \"request_data\": {\"task_id\": \"x\", \"ignore_not_found\": 1}}", 400,
                "request_data.ignore_not_found: want true or false");
    expect_fail(p, "{\"request_type\": \"list\", \"request_data\": {\"all\": true}}", 400,
                "request_data: unknown key 'all'");
    expect_fail(p, "{\"request_type\": \"maintenance\"}", 400, "request_data: missing");

#define RESYNC(data) "{\"request_type\": \"resync\", \"request_data\": " data "}"
    expect_fail(p, RESYNC("{\"task_id\": \"nope\", \"collection_name\": \"c\"}"), 404, "task 'nope' not found");
    expect_fail(p, RESYNC("{\"task_id\": \"dup\", \"collection_name\": \"busy\"}"), 409,
                "resync of default.busy: its copy is running");
    expect_fail(p, "{\"request_type\": \"resync\"}", 400, "request_data.task_id: missing");
    expect_fail(p, RESYNC("{}"), 400, "request_data.task_id: missing");
    expect_fail(p, RESYNC("{\"collection_name\": \"c\"}"), 400, "request_data.task_id: missing");
    expect_fail(p, RESYNC("{\"task_id\": \"dup\"}"), 400, "request_data.collection_name: missing");
    expect_fail(p, RESYNC("{\"task_id\": \"dup\", \"collection_name\": null}"), 400,
                "request_data.collection_name: missing");
    expect_fail(p, RESYNC("{\"task_id\": 5, \"collection_name\": \"c\"}"), 400,
                "request_data.task_id: want a non-empty string");
    expect_fail(p, RESYNC("{\"task_id\": \"dup\", \"collection_name\": \"\"}"), 400,
                "request_data.collection_name: want a non-empty string");
    expect_fail(p, RESYNC("{\"task_id\": \"dup\", \"collection_name\": \"c\", \"db_name\": 1}"), 400,
                "request_data.db_name: want a non-empty string");
    expect_fail(p, RESYNC("{\"task_id\": \"dup\", \"collection_name\": \"c\", \"db_name\": \"\"}"), 400,
                "request_data.db_name: want a non-empty string");
    expect_fail(p, RESYNC("{\"task_id\": \"dup\", \"collection\": \"c\"}"), 400,
                "request_data: unknown key 'collection'; want task_id, collection_name and db_name");
    r = expect_ok(p, "{\"request_type\": \"pause\", \"request_data\": {\"task_id\": \"dup\"}}");
    reply_free(&r);
    expect_fail(p, RESYNC("{\"task_id\": \"dup\", \"collection_name\": \"c\"}"), 400,
                "task 'dup' is paused; resume it first");
#undef RESYNC
    expect_fail(p, "{\"request_type\": \"maintenance\", \"request_data\": {}}", 400,
                "maintenance: 'operation' (a string) is required; known: skip_message");
    expect_fail(p, "{\"request_type\": \"maintenance\", \"request_data\": {\"operation\": \"explode\"}}", 400,
                "maintenance: unknown operation; known: skip_message");
    expect_fail(p, "{\"request_type\": \"maintenance\", \"request_data\": {\"operation\": \"skip_message\","
                   " \"params\": {\"task_id\": \"dup\", \"channel\": \"ch\"}}}", 400,
                "maintenance skip_message: params.task_id, params.channel and params.position (strings) are required");
    expect_fail(p, "{\"request_type\": \"maintenance\", \"request_data\": {\"operation\": \"skip_message\","
                   " \"params\": {\"task_id\": \"dup\", \"channel\": \"ch\", \"position\": \"junk\"}}}", 400,
                "position 'junk' is not one");
    expect_fail(p, "{\"request_type\": \"maintenance\", \"request_data\": {\"operation\": \"skip_message\","
                   " \"params\": {\"task_id\": \"nope\", \"channel\": \"ch\", \"position\": \"2\"}}}", 404,
                "task 'nope' not found");
}

static void test_envelope_errors(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    expect_fail(p, "{\"request_type\": \"list\",\n  \"request_data\": {,}}", 400,
                "request body: malformed JSON at line 2, column 20");
    expect_fail(p, "", 400, "request body: empty");
    expect_fail(p, "{\"request_type\": \"list\", \"request_type\": \"get\"}", 400, "malformed JSON");
    expect_fail(p, "[1, 2]", 400, "request body: want a JSON object");
    expect_fail(p, "{\"request_typ\": \"list\"}", 400, "request body: unknown key 'request_typ'");
    expect_fail(p, "{\"request_data\": {}}", 400, "request_type: missing; want one of create, delete, pause, resume,"
                                                  " get, list, position, maintenance, resync");
    expect_fail(p, "{\"request_type\": 3}", 400, "request_type: want a string");
    expect_fail(p, "{\"request_type\": \"drop\"}", 400,
                "request_type: unknown 'drop'; want one of create, delete, pause, resume, get, list, position, "
                "maintenance, resync");
    expect_fail(p, "{\"request_type\": \"get\", \"request_data\": \"t1\"}", 400, "request_data: want an object");
}

static void test_methods_and_paths(void **state) {
    fixture *f = *state;
    reply r = request(f->port, "GET", "/cdc", NULL, NULL);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "Allow: POST"));
    assert_int_equal(json_integer_value(json_object_get(r.json, "code")), 405);
    reply_free(&r);
    r = request(f->port, "PUT", "/cdc", NULL, "{}");
    assert_int_equal(r.status, 405);
    reply_free(&r);
    r = request(f->port, "POST", "/nope", NULL, "{}");
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(message(&r), "no such path '/nope'"));
    reply_free(&r);
    /* libmicrohttpd decodes %0a in the path into a newline: shown as '?',
     * so no client writes a line of its own into the log. */
    log_capture lc;
    log_capture_start(&lc, MCDC_LOG_DEBUG);
    r = request(f->port, "GET", "/x%0a2026-01-01T00:00:00.000Z%20ERROR%20forged", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(message(&r), "no such path '/x?2026-01-01"));
    reply_free(&r);
    r = cdc(f->port, "{\"request_type\": \"get\", \"request_data\": {\"task_id\": \"a\\nERROR forged\"}}");
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(message(&r), "a?ERROR forged"));
    reply_free(&r);
    char *log = log_capture_end(&lc);
    if (strstr(log, "\nERROR forged") || strstr(log, "\n2026-01-01T00:00:00.000Z ERROR"))
        fail_msg("a request wrote a log line:\n%s", log);
    free(log);
    r = request(f->port, "GET", "/index.html", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(message(&r), "GET / (status page)"));
    reply_free(&r);
    r = request(f->port, "POST", "/healthz", NULL, "{}");
    assert_int_equal(r.status, 405);
    reply_free(&r);
    r = request(f->port, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    reply_free(&r);
    r = request(f->port, "HEAD", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

static void test_body_limit(void **state) {
    fixture *f = *state;
    /* A declared length over the limit is refused before any body is sent. */
    const char head[] = "POST /cdc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n";
    reply r = exchange(f->port, head, sizeof head - 1);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(message(&r), "10485760 bytes is over the limit of 65536"));
    reply_free(&r);

    /* So is a chunked body, once it passes the limit. */
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "POST /cdc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 20; i++) {
        mcdc_buf_printf(&b, "1000\r\n");
        for (int j = 0; j < 0x1000; j++) mcdc_buf_putc(&b, ' ');
        mcdc_buf_printf(&b, "\r\n");
    }
    mcdc_buf_printf(&b, "0\r\n\r\n");
    r = exchange(f->port, b.data, b.len);
    mcdc_buf_free(&b);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(message(&r), "over the limit of 65536"));
    reply_free(&r);

    /* Just under the limit is fine (spaces are valid JSON whitespace). */
    size_t n = 64 * 1024;
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    memcpy(body, "{\"request_type\": \"list\"}", 24);
    body[n] = '\0';
    r = cdc(f->port, body);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    free(body);
}

static void test_endless_chunked_body_is_cut_off(void **state) {
    fixture *f = *state;
    int fd = connect_to(f->port);
    const char head[] = "POST /cdc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(send(fd, head, sizeof head - 1, MSG_NOSIGNAL), (ssize_t)(sizeof head - 1));
    char chunk[0x10000 + 16];
    int n = snprintf(chunk, sizeof chunk, "10000\r\n");
    memset(chunk + n, ' ', 0x10000);
    memcpy(chunk + n + 0x10000, "\r\n", 2);
    size_t len = (size_t)n + 0x10000 + 2;
    /* 64 KiB limit: the server closes after 16 times that, 1 MiB; sends
     * fail once the kernel's buffers (a few MiB) are full or the reset has
     * come back. 64 MiB is far beyond both. */
    int sent = 0;
    for (; sent < 1024; sent++)
        if (send(fd, chunk, len, MSG_NOSIGNAL) != (ssize_t)len) break;
    assert_true(sent < 1024);
    char buf[64];
    assert_true(recv(fd, buf, sizeof buf, 0) <= 0);
    close(fd);
    /* And it still serves. */
    reply r = request(f->port, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

static void test_metrics(void **state) {
    fixture *f = *state;
    reply r = cdc(f->port, "{\"request_type\": \"list\"}");
    reply_free(&r);
    r = expect_ok(f->port, CREATE(", \"task_id\": \"m1\""));
    reply_free(&r);
    r = cdc(f->port, "not json");
    reply_free(&r);
    r = request(f->port, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "\nmcdc_up 1\n"));
    assert_non_null(strstr(r.body, "milvus_cdc_request_total{request_type=\"list\",request_status=\"success\"} 1\n"));
    assert_non_null(strstr(r.body, "milvus_cdc_request_total{request_type=\"unknown\",request_status=\"unmarshal_error\"} 1\n"));
    assert_non_null(strstr(r.body, "milvus_cdc_request_latency_count{request_type=\"list\"} 1\n"));
    assert_non_null(strstr(r.body, "milvus_cdc_request_total{request_type=\"resync\",request_status=\"total\"} 0\n"));
    assert_non_null(strstr(r.body, "process_resident_memory_bytes "));
    assert_non_null(strstr(r.body, "\nmcdc_task_state{task_id=\"m1\"} 1\n"));
    assert_non_null(strstr(r.body, "\nmcdc_apply_lag_seconds_count{task_id=\"m1\"} 0\n"));
    assert_null(strstr(r.body, "mcdc_task_lag_seconds{"));
    reply_free(&r);
}

static void test_bearer_token(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    reply r = cdc(p, "{\"request_type\": \"list\"}");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    assert_int_equal(json_integer_value(json_object_get(r.json, "code")), 401);
    assert_null(strstr(r.body, "s3cret"));
    reply_free(&r);
    r = request(p, "POST", "/cdc", "Authorization: Bearer s3cret-tokem\r\n", "{\"request_type\": \"list\"}");
    assert_int_equal(r.status, 401);
    reply_free(&r);
    r = request(p, "POST", "/cdc", "Authorization: Bearer s3cret-token-and-more\r\n", "{\"request_type\": \"list\"}");
    assert_int_equal(r.status, 401);
    reply_free(&r);
    r = request(p, "POST", "/cdc", "Authorization: Basic czNjcmV0LXRva2Vu\r\n", "{\"request_type\": \"list\"}");
    assert_int_equal(r.status, 401);
    reply_free(&r);
    r = request(p, "POST", "/cdc", "Authorization: Bearer s3cret-token\r\n", "{\"request_type\": \"list\"}");
    assert_int_equal(r.status, 200);
    reply_free(&r);
    r = request(p, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 401);
    reply_free(&r);
    r = request(p, "GET", "/metrics", "authorization: bearer s3cret-token\r\n", NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    /* Load balancers probe without credentials. */
    r = request(p, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

/* Requests arrive on many connections at once. */
typedef struct worker_arg {
    uint16_t port;
    int ok;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    for (int i = 0; i < 20; i++) {
        reply r = cdc(a->port, "{\"request_type\": \"list\"}");
        if (r.status == 200) a->ok++;
        reply_free(&r);
    }
    return NULL;
}

static void test_concurrent_clients(void **state) {
    fixture *f = *state;
    pthread_t th[8];
    worker_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (worker_arg){f->port, 0};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 20);
    }
}

static void test_bind_errors(void **state) {
    fixture *f = *state;
    mcdc_err err = {0};
    http_config cfg = {.address = "127.0.0.1", .port = f->port};
    assert_null(http_start(&cfg, &f->tm, &err));
    assert_int_equal(err.code, MCDC_EIO);
    char want[64];
    snprintf(want, sizeof want, "listen 127.0.0.1:%u: Address already in use", f->port);
    assert_string_equal(err.msg, want);
    cfg = (http_config){.address = "not an address", .port = 0, .api_token = "t"};
    assert_null(http_start(&cfg, &f->tm, &err));
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "listen address 'not an address'"));
    http_stop(NULL);

    /* A stopped server lets go of its port. */
    cfg = (http_config){.address = "127.0.0.1", .port = 0};
    http_server *a = http_start(&cfg, &f->tm, &err);
    assert_non_null(a);
    uint16_t port = http_port(a);
    http_stop(a);
    cfg.port = port;
    a = http_start(&cfg, &f->tm, &err);
    if (!a) fail_msg("port %u still taken: %s", port, err.msg);
    http_stop(a);
}

/* ---- refusals ---------------------------------------------------------------- */

/* POST /cdc with these header lines (Host and Content-Type among them, or not). */
static reply post_raw(uint16_t port, const char *headers, const char *body) {
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "POST /cdc HTTP/1.1\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n%s", headers,
                    strlen(body), body);
    reply r = exchange(port, b.data, b.len);
    mcdc_buf_free(&b);
    return r;
}

/* GET path with exactly these header lines. */
static reply get_raw(uint16_t port, const char *path, const char *headers) {
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "GET %s HTTP/1.1\r\nConnection: close\r\n%s\r\n", path, headers);
    reply r = exchange(port, b.data, b.len);
    mcdc_buf_free(&b);
    return r;
}

/* The status, the same code in the body, a message with want; freed. */
static void expect_refused(reply *r, int status, const char *want) {
    if (r->status != status) fail_msg("status %d, want %d; body %s", r->status, status, r->body);
    assert_int_equal(json_integer_value(json_object_get(r->json, "code")), status);
    if (!message(r) || !strstr(message(r), want)) fail_msg("message '%s' lacks '%s'", message(r), want);
    reply_free(r);
}

static void expect_status(reply *r, int status) {
    if (r->status != status) fail_msg("status %d, want %d; body %s", r->status, status, r->body);
    reply_free(r);
}

#define LIST "{\"request_type\": \"list\"}"
#define JSON_CT "Content-Type: application/json\r\n"

static void test_content_type(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    reply r = post_raw(p, "Host: 127.0.0.1\r\nContent-Type: text/plain\r\n", LIST);
    expect_refused(&r, 415, "Content-Type 'text/plain' is not accepted on /cdc; send the JSON body with "
                            "Content-Type: application/json (curl -H 'Content-Type: application/json')");
    r = post_raw(p, "Host: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n", LIST);
    expect_refused(&r, 415, "Content-Type 'application/x-www-form-urlencoded' is not accepted");
    r = post_raw(p, "Host: 127.0.0.1\r\n", LIST);
    expect_refused(&r, 415, "Content-Type missing on /cdc; send the JSON body with Content-Type: application/json");
    r = post_raw(p, "Host: 127.0.0.1\r\nContent-Type: application/jsonx\r\n", LIST);
    expect_refused(&r, 415, "'application/jsonx'");
    /* Refused before the body is read: a declared 10 MiB body that never comes. */
    const char head[] = "POST /cdc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                        "Content-Length: 10485760\r\n\r\n";
    r = exchange(p, head, sizeof head - 1);
    expect_refused(&r, 415, "Content-Type 'text/plain'");
    /* The media type in any case, with parameters. */
    r = post_raw(p, "Host: 127.0.0.1\r\nContent-Type: Application/JSON; charset=utf-8\r\n", LIST);
    expect_status(&r, 200);
    r = post_raw(p, "Host: 127.0.0.1\r\nContent-Type: application/json;charset=UTF-8\r\n", LIST);
    expect_status(&r, 200);

    r = request(p, "GET", "/metrics", NULL, NULL);
    assert_non_null(strstr(r.body, "milvus_cdc_request_total{request_type=\"unknown\",request_status=\"content_type_refused\"} 5\n"));
    reply_free(&r);
}

static void test_host(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    char h[128];
    reply r = post_raw(p, "Host: evil.example\r\n" JSON_CT, LIST);
    expect_refused(&r, 421, "Host 'evil.example' is not a name of this server (a guard against DNS rebinding); "
                            "if clients reach mcdc by that name, add it to api_allowed_hosts");
    snprintf(h, sizeof h, "Host: evil.example:%u\r\n" JSON_CT, p);
    r = post_raw(p, h, LIST);
    expect_refused(&r, 421, "is not a name of this server");
    /* The wrong port on a right name. */
    snprintf(h, sizeof h, "Host: 127.0.0.1:%u\r\n" JSON_CT, (unsigned)(p == 65535 ? 1 : p + 1));
    r = post_raw(p, h, LIST);
    char want[160];
    snprintf(want, sizeof want, "that port is not the one mcdc listens on (%u)", p);
    expect_refused(&r, 421, want);
    /* Every route but /healthz, before the token and the method. */
    r = get_raw(p, "/metrics", "Host: evil.example\r\n");
    expect_refused(&r, 421, "Host 'evil.example'");
    r = get_raw(p, "/cdc", "Host: evil.example\r\n");
    expect_refused(&r, 421, "Host 'evil.example'");
    r = get_raw(p, "/healthz", "Host: evil.example\r\n");
    expect_status(&r, 200);
    /* HTTP/1.0 may leave Host out; here it may not. */
    const char v10[] = "GET /metrics HTTP/1.0\r\n\r\n";
    r = exchange(p, v10, sizeof v10 - 1);
    expect_refused(&r, 421, "no Host header; send the address mcdc listens on as Host");
    /* What the reply quotes of a Host is printable and short. */
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "Host: a");
    for (int i = 0; i < 300; i++) mcdc_buf_putc(&b, 'x');
    mcdc_buf_printf(&b, "\r\n" JSON_CT);
    r = post_raw(p, mcdc_buf_cstr(&b), LIST);
    mcdc_buf_free(&b);
    assert_int_equal(r.status, 421);
    assert_non_null(strstr(message(&r), "xxx...'"));
    assert_true(strlen(message(&r)) < 300);
    reply_free(&r);

    /* The names of a loopback listener, with and without the port. */
    const char *names[] = {"127.0.0.1", "localhost", "LocalHost", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(h, sizeof h, "Host: %s\r\n" JSON_CT, names[i]);
        r = post_raw(p, h, LIST);
        expect_status(&r, 200);
        snprintf(h, sizeof h, "Host: %s:%u\r\n" JSON_CT, names[i], p);
        r = post_raw(p, h, LIST);
        expect_status(&r, 200);
    }
    r = request(p, "GET", "/metrics", NULL, NULL);
    assert_non_null(strstr(r.body, "milvus_cdc_request_total{request_type=\"unknown\",request_status=\"host_refused\"} 7\n"));
    reply_free(&r);
}

/* GET / is the status page (status_page.h), with the headers that keep it
 * to itself, under the same Host rule as /metrics; other methods are 405. */
static void test_status_page(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    reply r = expect_ok(p, CREATE(", \"task_id\": \"page-1\""));
    reply_free(&r);
    r = request(p, "GET", "/", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Content-Type: text/html; charset=utf-8"));
    assert_non_null(strstr(r.head, "Content-Security-Policy: default-src 'none'; script-src 'sha256-"));
    assert_non_null(strstr(r.head, "X-Frame-Options: DENY"));
    assert_non_null(strstr(r.head, "Cache-Control: no-store"));
    assert_non_null(strstr(r.head, "X-Content-Type-Options: nosniff"));
    assert_non_null(strstr(r.body, "<tr class=\"task\" data-task-id=\"page-1\" data-state=\"Running\">"));
    assert_non_null(strstr(r.body, "<td class=\"state state-Running\">Running</td>"));
    assert_non_null(strstr(r.body, "<svg class=\"lag-chart\""));
    reply_free(&r);
    r = cdc(p, "{\"request_type\": \"pause\", \"request_data\": {\"task_id\": \"page-1\"}}");
    reply_free(&r);
    r = request(p, "GET", "/", NULL, NULL);
    assert_non_null(strstr(r.body, "<td class=\"state state-Paused\">Paused</td>"));
    reply_free(&r);
    r = request(p, "HEAD", "/", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    reply_free(&r);
    r = request(p, "POST", "/", NULL, "{}");
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "Allow: GET, HEAD"));
    reply_free(&r);
    r = get_raw(p, "/", "Host: evil.example\r\n");
    expect_refused(&r, 421, "Host 'evil.example'");
}

/* With a token, GET / wants it as /metrics does. */
static void test_status_page_token(void **state) {
    fixture *f = *state;
    reply r = request(f->port, "GET", "/", NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    assert_null(strstr(r.body, "<html"));
    reply_free(&r);
    r = request(f->port, "GET", "/", "Authorization: Bearer s3cret-token\r\n", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<html"));
    assert_null(strstr(r.body, "s3cret"));
    reply_free(&r);
    r = request(f->port, "GET", "/metrics", "Authorization: Bearer s3cret-token\r\n", NULL);
    assert_non_null(strstr(r.body, "milvus_cdc_request_total{request_type=\"unknown\",request_status=\"unauthorized\"} 1\n"));
    reply_free(&r);
}

static void test_allowed_hosts(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    char h[128];
    /* A name of the list: without a port, or with the bound one. */
    reply r = post_raw(p, "Host: mcdc.example.com\r\n" JSON_CT, LIST);
    expect_status(&r, 200);
    snprintf(h, sizeof h, "Host: MCDC.example.com:%u\r\n" JSON_CT, p);
    r = post_raw(p, h, LIST);
    expect_status(&r, 200);
    r = post_raw(p, "Host: mcdc.example.com:1\r\n" JSON_CT, LIST);
    expect_refused(&r, 421, "that port is not the one mcdc listens on");
    /* An entry with a port: that port only (a proxy that keeps its own). */
    r = post_raw(p, "Host: proxy.example:8443\r\n" JSON_CT, LIST);
    expect_status(&r, 200);
    snprintf(h, sizeof h, "Host: proxy.example:%u\r\n" JSON_CT, p);
    r = post_raw(p, h, LIST);
    expect_refused(&r, 421, "that port is not the one mcdc listens on");
    r = post_raw(p, "Host: [fd00::1]\r\n" JSON_CT, LIST);
    expect_status(&r, 200);
    r = post_raw(p, "Host: other.example.com\r\n" JSON_CT, LIST);
    expect_refused(&r, 421, "Host 'other.example.com' is not a name of this server");
    /* The loopback names stay. */
    r = post_raw(p, "Host: localhost\r\n" JSON_CT, LIST);
    expect_status(&r, 200);
}

static void test_any_host(void **state) {
    fixture *f = *state;
    reply r = post_raw(f->port, "Host: evil.example:1\r\n" JSON_CT, LIST);
    expect_status(&r, 200);
    /* Content-Type still counts. */
    r = post_raw(f->port, "Host: evil.example\r\nContent-Type: text/plain\r\n", LIST);
    expect_refused(&r, 415, "Content-Type 'text/plain'");
}

static void test_config_check(void **state) {
    (void)state;
    mcdc_err err = {0};
    http_config cfg = {.address = "0.0.0.0", .port = 0};
    assert_int_equal(http_config_check(&cfg, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "listen 0.0.0.0 is beyond loopback and api_token is empty"));
    /* http_start refuses the same, before it binds. */
    assert_null(http_start(&cfg, NULL, &err));
    assert_non_null(strstr(err.msg, "api_token is empty"));
    cfg.api_token = "t";
    assert_int_equal(http_config_check(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "serves every interface"));
    assert_non_null(strstr(err.msg, "api_allowed_hosts"));
    cfg.allowed_hosts = ANY;
    cfg.n_allowed_hosts = 1;
    assert_int_equal(http_config_check(&cfg, &err), 0);
    static const char *const bad[] = {"good.example", "bad host"};
    cfg.allowed_hosts = bad;
    cfg.n_allowed_hosts = 2;
    assert_int_equal(http_config_check(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "api_allowed_hosts[1] 'bad host': want a host name"));
    cfg = (http_config){.address = "127.0.0.1", .tls_key_file = "k.pem"};
    assert_int_equal(http_config_check(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "api_tls_cert_file and api_tls_key_file go together"));
    cfg = (http_config){.address = "::1"};
    assert_int_equal(http_config_check(&cfg, &err), 0);
}

/* The rules alone, without a server. */
static void test_guard_rules(void **state) {
    (void)state;
    assert_true(http_is_json_type("application/json"));
    assert_true(http_is_json_type(" APPLICATION/Json ; charset=utf-8"));
    assert_false(http_is_json_type(NULL));
    assert_false(http_is_json_type(""));
    assert_false(http_is_json_type("text/plain"));
    assert_false(http_is_json_type("application/json-patch+json"));
    assert_false(http_is_json_type("application/jsonp"));

    assert_int_equal(http_addr_kind_of_text("127.0.0.1"), HTTP_ADDR_LOOPBACK);
    assert_int_equal(http_addr_kind_of_text("127.9.8.7"), HTTP_ADDR_LOOPBACK);
    assert_int_equal(http_addr_kind_of_text("::1"), HTTP_ADDR_LOOPBACK);
    assert_int_equal(http_addr_kind_of_text("::ffff:127.0.0.1"), HTTP_ADDR_LOOPBACK);
    assert_int_equal(http_addr_kind_of_text("LOCALHOST"), HTTP_ADDR_LOOPBACK);
    assert_int_equal(http_addr_kind_of_text("0.0.0.0"), HTTP_ADDR_WILDCARD);
    assert_int_equal(http_addr_kind_of_text("::"), HTTP_ADDR_WILDCARD);
    assert_int_equal(http_addr_kind_of_text("10.0.0.1"), HTTP_ADDR_OTHER);
    assert_int_equal(http_addr_kind_of_text("mcdc.internal"), HTTP_ADDR_OTHER);

    static const char *const allowed[] = {"Mcdc.Example.com", "proxy:8443"};
    http_hosts h;
    mcdc_err err = {0};
    assert_int_equal(http_hosts_init(&h, "10.0.0.1", false, allowed, 2, 8444, &err), 0);
    assert_int_equal(http_hosts_check(&h, "10.0.0.1:8444"), HTTP_HOST_OK);
    assert_int_equal(http_hosts_check(&h, "10.0.0.1"), HTTP_HOST_OK);
    assert_int_equal(http_hosts_check(&h, "10.0.0.1:80"), HTTP_HOST_WRONG_PORT);
    assert_int_equal(http_hosts_check(&h, "localhost:8444"), HTTP_HOST_UNKNOWN); /* not on loopback */
    assert_int_equal(http_hosts_check(&h, "mcdc.example.COM"), HTTP_HOST_OK);
    assert_int_equal(http_hosts_check(&h, "proxy:8443"), HTTP_HOST_OK);
    assert_int_equal(http_hosts_check(&h, "proxy:80"), HTTP_HOST_WRONG_PORT);
    assert_int_equal(http_hosts_check(&h, NULL), HTTP_HOST_MISSING);
    assert_int_equal(http_hosts_check(&h, ""), HTTP_HOST_MISSING);
    assert_int_equal(http_hosts_check(&h, "a b"), HTTP_HOST_MISSING);
    assert_int_equal(http_hosts_check(&h, "10.0.0.1:8444:1"), HTTP_HOST_MISSING);
    http_hosts_free(&h);
    /* A Host without a port matches an entry of its name whatever port the
     * entry names: behind a proxy that ends TLS, "Host: proxy" reaches mcdc
     * over plain HTTP for an entry "proxy:443". */
    static const char *const tls_proxy[] = {"proxy:443"};
    assert_int_equal(http_hosts_init(&h, "127.0.0.1", true, tls_proxy, 1, 8444, &err), 0);
    assert_int_equal(http_hosts_check(&h, "proxy"), HTTP_HOST_OK);
    assert_int_equal(http_hosts_check(&h, "proxy:444"), HTTP_HOST_WRONG_PORT);
    assert_int_equal(http_hosts_check(&h, "[::1]:8444"), HTTP_HOST_OK);
    http_hosts_free(&h);
    static const char *const bad[] = {"ok", "no good"};
    assert_int_equal(http_hosts_init(&h, "127.0.0.1", true, bad, 2, 8444, &err), -1);

    char out[16];
    http_printable(out, 8, "ab\x01\n\xff" "cdefghij");
    assert_string_equal(out, "ab???cde...");
    http_printable(out, 8, "short");
    assert_string_equal(out, "short");
}

/* ---- the body is never quoted ------------------------------------------------- */

static void test_parse_errors_never_quote_the_body(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    /* Where jansson would say "near '<the token>'". */
    const char *bodies[] = {
        "{\"request_type\": \"create\", \"request_data\": {\"milvus_connect_param\": {\"token\": Tok3nS3cr3t}}}",
        "{\"request_type\": \"list\"} Tok3nS3cr3t",
        "{\"request_type\": \"list\", \"Tok3nS3cr3t\": 1, \"Tok3nS3cr3t\": 2}",
        "{\"request_type\": \"list\", \"request_data\": {\"token\": \"Tok3nS3cr3t\xff\"}}",
        "{\"request_type\": \"list\", \"request_data\": {\"token\": \"Tok3nS3cr3t",
        "Tok3nS3cr3t",
        "{\"request_type\": \"maintenance\", \"request_data\": {\"operation\": \"Tok3nS3cr3t\"}}",
    };
    const char *want[] = {
        "request body: malformed JSON at line 1, column ",
        "more text after the JSON value",
        "a key given twice in one object",
        "not valid UTF-8",
        "it ends before the JSON value does",
        "invalid syntax",
        "maintenance: unknown operation; known: skip_message",
    };
    log_capture lc;
    log_capture_start(&lc, MCDC_LOG_DEBUG);
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        reply r = cdc(p, bodies[i]);
        if (r.status != 400) fail_msg("%s: status %d", bodies[i], r.status);
        if (strstr(r.body, "Tok3n")) fail_msg("the reply quotes the body: %s", r.body);
        if (!strstr(message(&r), want[i])) fail_msg("%s: message '%s' lacks '%s'", bodies[i], message(&r), want[i]);
        reply_free(&r);
    }
    char *log = log_capture_end(&lc);
    if (strstr(log, "Tok3n")) fail_msg("the log quotes the body:\n%s", log);
    assert_non_null(strstr(log, "malformed JSON at line 1"));
    free(log);
}

/* ---- connections ---------------------------------------------------------------- */

static double now_s(void) { return (double)mcdc_now_mono_ns() / 1e9; }

/* Waits up to `within` seconds for the server to close fd (end of stream or
 * reset); the seconds it took, or -1 if it did not. Anything the server
 * sends first fails the test. */
static double wait_closed(int fd, double within) {
    double t0 = now_s();
    while (now_s() - t0 < within) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 200) > 0) {
            char c;
            ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
            if (n > 0) fail_msg("the server answered a request that has no end of headers");
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return now_s() - t0;
        }
    }
    return -1;
}

static void send_all(int fd, const char *s) {
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void test_header_deadline(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    log_capture lc;
    log_capture_start(&lc, MCDC_LOG_INFO);
    double t0 = now_s();
    int slow = connect_to(p);
    send_all(slow, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    /* Meanwhile others are served. */
    reply r = request(p, "GET", "/healthz", NULL, NULL);
    expect_status(&r, 200);
    r = cdc(p, LIST);
    expect_status(&r, 200);
    /* A byte every 200 ms: libmicrohttpd's idle timeout would never fire. */
    bool closed = false;
    while (!closed && now_s() - t0 < 30) {
        if (send(slow, "a", 1, MSG_NOSIGNAL) != 1) closed = true;
        else closed = wait_closed(slow, 0.2) >= 0;
    }
    double took = now_s() - t0;
    close(slow);
    char *log = log_capture_end(&lc);
    if (!closed) fail_msg("a trickling client still connected after %.1f s", took);
    /* Not before its deadline of 1 s from being accepted (which follows t0). */
    if (took < 0.95) fail_msg("closed after %.2f s, before its deadline", took);
    assert_non_null(strstr(log, "http: closed a connection from 127.0.0.1: no complete request within "
                                "1000 ms (api_header_timeout_ms)"));
    free(log);

    /* After a reply, the clock runs again for the next request on a
     * connection kept alive. */
    int idle = connect_to(p);
    send_all(idle, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    mcdc_buf in = MCDC_BUF_INIT;
    char chunk[512];
    while (!strstr(mcdc_buf_cstr(&in), "\r\n\r\nok\n")) {
        ssize_t n = recv(idle, chunk, sizeof chunk, 0);
        if (n <= 0) fail_msg("no reply on a kept-alive connection: '%s'", mcdc_buf_cstr(&in));
        mcdc_buf_append(&in, chunk, (size_t)n);
    }
    mcdc_buf_free(&in);
    double idle_took = wait_closed(idle, 30);
    close(idle);
    if (idle_took < 0) fail_msg("an idle kept-alive connection stays open");

    /* Complete headers, then a chunked body a byte at a time: the body is
     * on the clock too, or such a client would hold a slot for ever (on
     * /healthz, which asks for no token and no Host). */
    int body = connect_to(p);
    t0 = now_s();
    send_all(body, "GET /healthz HTTP/1.1\r\nHost: anything\r\nTransfer-Encoding: chunked\r\n\r\n");
    closed = false;
    while (!closed && now_s() - t0 < 30) {
        if (send(body, "1\r\na\r\n", 6, MSG_NOSIGNAL) != 6) closed = true;
        else closed = wait_closed(body, 0.2) >= 0;
    }
    took = now_s() - t0;
    close(body);
    if (!closed) fail_msg("a client trickling its body still connected after %.1f s", took);
}

static void test_per_client_limit(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    int held[4];
    for (int i = 0; i < 4; i++) held[i] = connect_from("127.0.0.1", p);
    /* Accepted in order: by the time this one is, the four above count. */
    int fifth = connect_from("127.0.0.1", p);
    double took = wait_closed(fifth, 30);
    close(fifth);
    if (took < 0) fail_msg("a fifth connection from one address was not closed");
    /* The header deadline (60 s here) is not what closed it. */
    assert_true(took < 30);
    /* Another address is served meanwhile: /healthz and the API. */
    const char hz[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    reply r = exchange_from("127.0.0.2", p, hz, sizeof hz - 1);
    expect_status(&r, 200);
    char list[256];
    int n = snprintf(list, sizeof list,
                     "POST /cdc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" JSON_CT
                     "Content-Length: %zu\r\n\r\n" LIST, strlen(LIST));
    r = exchange_from("127.0.0.2", p, list, (size_t)n);
    expect_status(&r, 200);
    /* Once the four go, the first address is served again (libmicrohttpd
     * counts a connection until it has cleaned it up: allow it time). */
    for (int i = 0; i < 4; i++) close(held[i]);
    double t0 = now_s();
    for (;;) {
        int fd = connect_to(p);
        send_all(fd, hz);
        char buf[16] = {0};
        ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
        close(fd);
        if (got > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0) break;
        if (now_s() - t0 > 30) fail_msg("127.0.0.1 still refused after its connections closed");
        usleep(100 * 1000);
    }
}

typedef struct create_arg {
    uint16_t port;
    int status;
} create_arg;

static void *slow_create(void *p) {
    create_arg *a = p;
    reply r = cdc(a->port, "{\"request_type\": \"create\", \"request_data\": {\"milvus_connect_param\": {\"uri\": "
                           "\"slow:1\"}, \"collection_infos\": [{\"name\": \"c\"}]}}");
    a->status = r.status;
    reply_free(&r);
    return NULL;
}

/* /healthz answers at once while a create waits on its target with the
 * task manager's lock held, and while 100 clients trickle headers from as
 * many addresses; those are closed after their deadline (2 s here). */
static void test_healthz_while_busy(void **state) {
    fixture *f = *state;
    uint16_t p = f->port;
    enum { SLOW = 100 };
    int slow[SLOW];
    log_capture lc;
    log_capture_start(&lc, MCDC_LOG_WARN); /* not 100 lines of closed connections */
    for (int i = 0; i < SLOW; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.1.%d", i + 1);
        slow[i] = connect_from(from, p);
        send_all(slow[i], "POST /cdc HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    }
    create_arg ca = {p, 0};
    pthread_t th;
    pthread_create(&th, NULL, slow_create, &ca);
    usleep(300 * 1000); /* the create is in (or about to be) */
    for (int i = 0; i < 5; i++) {
        double t0 = now_s();
        reply r = request(p, "GET", "/healthz", NULL, NULL);
        double took = now_s() - t0;
        expect_status(&r, 200);
        /* 3 s, not 1: here the test's own 100 threads share two cores
         * with the server's; tests/it/test_api_guard.py holds 1 s. */
        if (took > 3.0) fail_msg("/healthz took %.2f s", took);
    }
    pthread_join(th, NULL);
    assert_int_equal(ca.status, 503);
    for (int i = 0; i < SLOW; i++) {
        if (wait_closed(slow[i], 30) < 0) fail_msg("slow client %d still connected", i);
        close(slow[i]);
    }
    free(log_capture_end(&lc));
}

/* ---- HTTPS ------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text, mode_t mode) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    chmod(path, mode);
}

static void test_tls_files(void **state) {
    fixture *f = *state;
    char dir[] = "/tmp/mcdc-test-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/api.crt", dir);
    snprintf(key, sizeof key, "%s/api.key", dir);
    mcdc_err err = {0};
    http_config cfg = {.address = "127.0.0.1", .tls_cert_file = cert, .tls_key_file = key};
    assert_null(http_start(&cfg, &f->tm, &err));
    assert_int_equal(err.code, MCDC_EIO);
    char want[256];
    snprintf(want, sizeof want, "api_tls_cert_file %s: cannot open: No such file or directory", cert);
    assert_string_equal(err.msg, want);
    write_file(cert, "not a certificate\n", 0644);
    assert_null(http_start(&cfg, &f->tm, &err));
    snprintf(want, sizeof want, "api_tls_cert_file %s: not a PEM file", cert);
    assert_non_null(strstr(err.msg, want));
    write_file(cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0644);
    write_file(key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0644);
    assert_null(http_start(&cfg, &f->tm, &err));
    snprintf(want, sizeof want, "api_tls_key_file %s: open to group or others (mode 0644)", key);
    assert_non_null(strstr(err.msg, want));
    chmod(key, 0600);
    /* Both PEM in form, neither in content: libmicrohttpd refuses them. */
    assert_null(http_start(&cfg, &f->tm, &err));
    assert_non_null(strstr(err.msg, "the HTTP server did not start (are api_tls_cert_file and api_tls_key_file"));
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* A real certificate (openssl's CLI) and a real client (curl's): skipped
 * where either is missing. The integration test does the same from
 * Python. */
static void test_tls_round_trip(void **state) {
    fixture *f = *state;
    if (system("command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1") != 0) skip();
    char dir[] = "/tmp/mcdc-test-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/api.crt", dir);
    snprintf(key, sizeof key, "%s/api.key", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost "
             "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    chmod(key, 0600);
    mcdc_err err = {0};
    http_config cfg = {.address = "127.0.0.1", .tls_cert_file = cert, .tls_key_file = key};
    http_server *srv = http_start(&cfg, &f->tm, &err);
    if (!srv) fail_msg("http_start: %s", err.msg);
    uint16_t p = http_port(srv);
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(cmd, sizeof cmd,
             "curl -s -m 20 --cacert %s -H 'Content-Type: application/json' -d '{\"request_type\": \"list\"}' "
             "https://127.0.0.1:%u/cdc >%s",
             cert, p, out);
    assert_int_equal(system(cmd), 0);
    mcdc_buf b = MCDC_BUF_INIT;
    assert_int_equal(mcdc_buf_read_file(&b, out), 0);
    assert_non_null(strstr(mcdc_buf_cstr(&b), "{\"code\":200,\"data\":{\"tasks\":[]}}"));
    mcdc_buf_free(&b);
    /* Plain HTTP to the TLS port gets no HTTP reply. */
    int fd = connect_to(p);
    send_all(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    char buf[64] = {0};
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    close(fd);
    assert_true(n <= 0 || strncmp(buf, "HTTP/1.1 200", 12) != 0);
    http_stop(srv);
    unlink(out);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* ---- the formats, from hand-made snapshots ------------------------------------ */

static task_spec spec_with_secret(const char *id) {
    char text[256];
    snprintf(text, sizeof text,
             "{\"task_id\": \"%s\", \"milvus_connect_param\": {\"uri\": \"http://t:19540\", \"token\": \"root:s3cret\"},"
             " \"collection_infos\": [{\"name\": \"*\"}]}", id);
    json_t *j = json_loads(text, 0, NULL);
    task_spec spec;
    mcdc_err err;
    if (task_spec_from_json(j, &spec, &err)) fail_msg("spec: %s", err.msg);
    json_decref(j);
    return spec;
}

static uint64_t ts_at(uint64_t wall_ms) { return wall_ms << MCDC_TS_LOGICAL_BITS; }

static void test_task_json(void **state) {
    (void)state;
    task_spec spec = spec_with_secret("j1");
    task_snapshot *s = new_snapshot(&spec, TASK_RUNNING);
    /* The copy holds no secret and prints as the task's spec does. */
    assert_string_equal(s->spec.target.password, "***");
    json_t *want = task_spec_to_json(&spec, false), *got = task_spec_to_json(&s->spec, false);
    assert_true(json_equal(want, got));
    json_decref(want);
    json_decref(got);
    task_spec_free(&spec);

    snprintf(s->last_error, sizeof s->last_error, "retrying");
    s->channels_read = 3;
    s->applied = (task_counters){1, 2, 3, 4, 5, 6, 7, 1234567, 8000};
    s->taken_wall_ms = 1714557600123;
    mcdc_histogram_observe_us(&s->apply_lag, 300000);

    /* Watermark unknown: no watermark, no lag; no reason while there is none. */
    json_t *j = api_task_json(s);
    assert_string_equal(json_string_value(json_object_get(j, "task_id")), "j1");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "Running");
    assert_string_equal(json_string_value(json_object_get(j, "last_error")), "retrying");
    assert_int_equal(json_integer_value(json_object_get(j, "channels_read")), 3);
    assert_null(json_object_get(j, "reason"));
    assert_null(json_object_get(j, "watermark"));
    assert_null(json_object_get(j, "lag_seconds"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "milvus_connect_param"), "password")), "***");
    char *text = json_dumps(json_object_get(j, "applied"), JSON_COMPACT);
    assert_string_equal(text, "{\"inserted_rows\":1,\"upserted_rows\":2,\"deleted_rows\":3,\"ddl\":4,\"messages\":5,"
                              "\"calls_in_flight\":6,\"calls_in_flight_peak\":7,\"queue_wait_ms\":1234,"
                              "\"target_wait_ms\":8}");
    free(text);
    json_t *lat = json_object_get(j, "latency");
    json_t *al = json_object_get(lat, "apply_lag_seconds"), *tc = json_object_get(lat, "target_call_seconds");
    assert_int_equal(json_integer_value(json_object_get(al, "count")), 1);
    assert_true(json_real_value(json_object_get(al, "max")) == 0.3);
    assert_int_equal(json_integer_value(json_object_get(tc, "count")), 0);
    /* No copy asked for: the object is there, empty, and consistent (the
     * snapshot's own flag is false here, as calloc left it). */
    text = json_dumps(json_object_get(j, "snapshot"), JSON_COMPACT);
    assert_string_equal(text, "{\"consistent\":true,\"collections\":[]}");
    free(text);
    text = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(text, "s3cret"));
    /* The order clients see: the spec, then ours. */
    assert_true(strstr(text, "\"state\"") < strstr(text, "\"last_error\""));
    assert_true(strstr(text, "\"channels_read\"") < strstr(text, "\"applied\""));
    assert_true(strstr(text, "\"applied\"") < strstr(text, "\"latency\""));
    /* No bulk insert: the reply is as it was, without the key. */
    assert_null(strstr(text, "bulk_inserts_not_replicated"));
    free(text);
    json_decref(j);

    /* Copies: each as the pipeline left it, the rate to one decimal, an
     * unknown eta null; consistent as the task says while any runs. */
    s->n_copies = 2;
    s->copies = mcdc_xcalloc(2, sizeof *s->copies);
    s->copies[0] = (task_copy){.db = mcdc_xstrdup("default"), .collection = mcdc_xstrdup("books"),
                               .collection_id = 449000000000000001, .phase = COPY_COPYING, .rows_copied = 81920,
                               .rows_total = 1000000, .rows_per_s = 12345.67, .eta_s = 74};
    s->copies[1] = (task_copy){.db = mcdc_xstrdup("db2"), .collection = mcdc_xstrdup("films"),
                               .collection_id = 449000000000000002, .phase = COPY_OVERLAPPING, .rows_copied = 7,
                               .rows_total = 7, .rows_per_s = 0.04, .eta_s = -1, .end_ts = 449476372912570369};
    snprintf(s->copies[1].last_error, sizeof s->copies[1].last_error, "target: upsert: deadline exceeded");
    j = api_task_json(s);
    text = json_dumps(json_object_get(j, "snapshot"), JSON_COMPACT | JSON_REAL_PRECISION(15));
    assert_string_equal(text, "{\"consistent\":false,\"collections\":["
                              "{\"db\":\"default\",\"collection\":\"books\",\"collection_id\":449000000000000001,"
                              "\"phase\":\"copying\",\"rows_copied\":81920,\"rows_total\":1000000,\"rows_per_s\":12345.7,"
                              "\"eta_s\":74,\"end_ts\":0,\"last_error\":\"\"},"
                              "{\"db\":\"db2\",\"collection\":\"films\",\"collection_id\":449000000000000002,"
                              "\"phase\":\"overlapping\",\"rows_copied\":7,\"rows_total\":7,\"rows_per_s\":0.0,"
                              "\"eta_s\":null,\"end_ts\":449476372912570369,"
                              "\"last_error\":\"target: upsert: deadline exceeded\"}]}");
    free(text);
    json_decref(j);
    s->consistent = true;
    s->copies[0].phase = COPY_STREAMING;
    s->copies[1].phase = COPY_WAITING;
    j = api_task_json(s);
    json_t *snap = json_object_get(j, "snapshot");
    assert_true(json_is_true(json_object_get(snap, "consistent")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(snap, "collections"), 0), "phase")),
                        "streaming");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(snap, "collections"), 1), "phase")),
                        "waiting");
    json_decref(j);

    /* Bulk inserts whose rows the WAL did not carry: listed after the rest. */
    s->n_bulk_inserts = 2;
    s->bulk_inserts = mcdc_xcalloc(2, sizeof *s->bulk_inserts);
    s->bulk_inserts[0] = (task_bulk_insert){mcdc_xstrdup("default.books"), 448000000000000001, "ImportCompleted", 1000, 0, NULL, 0};
    s->bulk_inserts[1] = (task_bulk_insert){mcdc_xstrdup("db2.films"), 448000000000000002, "ImportPersisted", 7, 0, NULL, 0};
    j = api_task_json(s);
    text = json_dumps(json_object_get(j, "bulk_inserts_not_replicated"), JSON_COMPACT);
    assert_string_equal(text, "[{\"collection\":\"default.books\",\"import_task\":448000000000000001,"
                              "\"state\":\"ImportCompleted\",\"rows\":1000},"
                              "{\"collection\":\"db2.films\",\"import_task\":448000000000000002,"
                              "\"state\":\"ImportPersisted\",\"rows\":7}]");
    free(text);
    text = json_dumps(j, JSON_COMPACT);
    assert_true(strstr(text, "\"latency\"") < strstr(text, "\"snapshot\""));
    assert_true(strstr(text, "\"snapshot\"") < strstr(text, "\"bulk_inserts_not_replicated\""));
    free(text);
    json_decref(j);

    /* Known: 2.5 s behind the moment the snapshot was taken. */
    snprintf(s->reason, sizeof s->reason, "paused by request");
    s->watermark = ts_at(s->taken_wall_ms - 2500) | 7;
    j = api_task_json(s);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "paused by request");
    json_t *wm = json_object_get(j, "watermark");
    assert_int_equal(json_integer_value(json_object_get(wm, "ts")), (json_int_t)s->watermark);
    assert_true(json_string_length(json_object_get(wm, "time")) > 0);
    assert_true(json_real_value(json_object_get(j, "lag_seconds")) == 2.5);
    json_decref(j);

    /* A source clock ahead of ours: the lag is 0, never negative. */
    s->watermark = ts_at(s->taken_wall_ms + 5000);
    j = api_task_json(s);
    assert_true(json_real_value(json_object_get(j, "lag_seconds")) == 0.0);
    json_decref(j);

    json_t *list = api_task_list_json(&s, 1);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    task_snapshot_free(s);
}

static void test_positions_json(void **state) {
    (void)state;
    task_position items[2] = {
        {.channel = "by-dev-rootcoord-dml_0", .text = "earliest"},
        {.channel = "by-dev-rootcoord-dml_1", .checkpoint = {.bytes = {1}, .len = 8}, .text = "1",
         .ts = ts_at(1714557600123) | 1},
    };
    task_positions p = {items, 2};
    json_t *j = api_positions_json(&p);
    json_t *list = json_object_get(j, "positions");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "position")), "earliest");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "tt")), 0);
    char *text = json_dumps(json_array_get(list, 1), JSON_COMPACT);
    char want[256];
    snprintf(want, sizeof want,
             "{\"channel_name\":\"by-dev-rootcoord-dml_1\",\"position\":\"1\",\"msg_id\":\"AQAAAAAAAAA=\","
             "\"tt\":%llu,\"time\":1714557600123}",
             (unsigned long long)(ts_at(1714557600123) | 1));
    assert_string_equal(text, want);
    free(text);
    json_decref(j);
}

static const char *after(const char *text, const char *from, const char *want) {
    const char *at = strstr(from, want);
    if (!at) fail_msg("'%s' is not where it should be in:\n%s", want, text);
    return at + strlen(want);
}

static void test_task_metrics(void **state) {
    (void)state;
    task_spec spec = spec_with_secret("a");
    task_snapshot *list[3];
    list[0] = new_snapshot(&spec, TASK_RUNNING);
    list[1] = new_snapshot(&spec, TASK_PAUSED);
    list[2] = new_snapshot(&spec, TASK_RUNNING);
    task_spec_free(&spec);
    free(list[1]->id);
    list[1]->id = mcdc_xstrdup("b");
    free(list[2]->id);
    list[2]->id = mcdc_xstrdup("c");
    list[0]->taken_wall_ms = list[2]->taken_wall_ms = 1714557600123;
    list[0]->watermark = ts_at(1714557600123 - 1500);
    list[2]->watermark = ts_at(1714557600123 + 900); /* ahead of us */
    list[0]->applied = (task_counters){.inserted = 10, .upserted = 20, .deleted = 30, .messages = 40, .calls_in_flight = 2,
                                       .queue_wait_us = 1500000, .target_wait_us = 250};
    list[2]->n_bulk_inserts = 1;
    list[2]->bulk_inserts = mcdc_xcalloc(1, sizeof *list[2]->bulk_inserts);
    list[2]->bulk_inserts[0] = (task_bulk_insert){mcdc_xstrdup("default.books"), 1, "ImportCompleted", 10, 0, NULL, 0};
    /* a: two copies, one of a name the text format must escape; b: none;
     * c: one, done, and consistent. */
    list[0]->n_copies = 2;
    list[0]->copies = mcdc_xcalloc(2, sizeof *list[0]->copies);
    list[0]->copies[0] = (task_copy){.db = mcdc_xstrdup("default"), .collection = mcdc_xstrdup("books"),
                                     .phase = COPY_COPYING, .rows_copied = 81920, .rows_total = 1000000,
                                     .rows_per_s = 12345.67, .eta_s = 74};
    list[0]->copies[1] = (task_copy){.db = mcdc_xstrdup("d\"b"), .collection = mcdc_xstrdup("x\\y\nz"),
                                     .phase = COPY_WAITING, .eta_s = -1};
    list[2]->n_copies = 1;
    list[2]->copies = mcdc_xcalloc(1, sizeof *list[2]->copies);
    list[2]->copies[0] = (task_copy){.db = mcdc_xstrdup("db2"), .collection = mcdc_xstrdup("films"),
                                     .phase = COPY_STREAMING, .rows_copied = 7, .rows_total = 7, .eta_s = 0};
    list[2]->consistent = true;
    /* The snapshot's histogram is a copy that reads the same as its source. */
    mcdc_histogram live = {0};
    mcdc_histogram_init(&live, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    mcdc_histogram_observe_us(&live, 300000);
    mcdc_histogram_observe_us(&live, 2000000);
    mcdc_histogram_copy(&list[0]->apply_lag, &live);
    mcdc_histogram_observe_us(&live, 10);
    assert_int_equal(mcdc_histogram_count(&list[0]->apply_lag), 2);
    assert_true(mcdc_histogram_max(&list[0]->apply_lag) == 2.0);

    mcdc_buf b = MCDC_BUF_INIT;
    metrics_write_tasks(&b, list, 3);
    const char *t = mcdc_buf_cstr(&b), *at = t;
    at = after(t, at, "# HELP mcdc_task_state Task state: 0 Initial, 1 Running, 2 Paused.\n# TYPE mcdc_task_state gauge\n"
                      "mcdc_task_state{task_id=\"a\"} 1\nmcdc_task_state{task_id=\"b\"} 2\nmcdc_task_state{task_id=\"c\"} 1\n"
                      "# HELP mcdc_task_lag_seconds Now minus the task's watermark.\n# TYPE mcdc_task_lag_seconds gauge\n"
                      "mcdc_task_lag_seconds{task_id=\"a\"} 1.500\nmcdc_task_lag_seconds{task_id=\"c\"} 0.000\n"
                      "# HELP mcdc_applied_rows_total Rows applied to the target.\n# TYPE mcdc_applied_rows_total counter\n"
                      "mcdc_applied_rows_total{task_id=\"a\",op=\"insert\"} 10\n"
                      "mcdc_applied_rows_total{task_id=\"a\",op=\"upsert\"} 20\n"
                      "mcdc_applied_rows_total{task_id=\"a\",op=\"delete\"} 30\n");
    at = after(t, at, "# HELP mcdc_calls_in_flight Insert calls sent to the target and not yet acknowledged.\n"
                      "# TYPE mcdc_calls_in_flight gauge\nmcdc_calls_in_flight{task_id=\"a\"} 2\n");
    at = after(t, at, "# TYPE mcdc_wait_seconds_total counter\n"
                      "mcdc_wait_seconds_total{task_id=\"a\",on=\"queue\"} 1.500\n"
                      "mcdc_wait_seconds_total{task_id=\"a\",on=\"target\"} 0.000\n");
    at = after(t, at, "# HELP mcdc_apply_lag_seconds Per acknowledged Insert/Upsert/Delete call: the source's commit of "
                      "its oldest change to the target's reply.\n# TYPE mcdc_apply_lag_seconds histogram\n"
                      "mcdc_apply_lag_seconds_bucket{task_id=\"a\",le=\"0.005\"} 0\n");
    at = after(t, at, "mcdc_apply_lag_seconds_bucket{task_id=\"a\",le=\"0.25\"} 0\n"
                      "mcdc_apply_lag_seconds_bucket{task_id=\"a\",le=\"0.5\"} 1\n");
    at = after(t, at, "mcdc_apply_lag_seconds_bucket{task_id=\"a\",le=\"2.5\"} 2\n");
    at = after(t, at, "mcdc_apply_lag_seconds_bucket{task_id=\"a\",le=\"+Inf\"} 2\n"
                      "mcdc_apply_lag_seconds_sum{task_id=\"a\"} 2.300000\nmcdc_apply_lag_seconds_count{task_id=\"a\"} 2\n"
                      "mcdc_apply_lag_seconds_bucket{task_id=\"b\",le=\"0.005\"} 0\n");
    at = after(t, at, "# HELP mcdc_target_call_seconds Per Insert/Upsert/Delete call attempt: send to reply.\n"
                      "# TYPE mcdc_target_call_seconds histogram\n");
    at = after(t, at, "mcdc_target_call_seconds_count{task_id=\"c\"} 0\n"
                      "# HELP mcdc_messages_total WAL messages read.\n# TYPE mcdc_messages_total counter\n"
                      "mcdc_messages_total{task_id=\"a\"} 40\nmcdc_messages_total{task_id=\"b\"} 0\n"
                      "mcdc_messages_total{task_id=\"c\"} 0\n");
    at = after(t, at, "# HELP mcdc_bulk_inserts_not_replicated Bulk inserts (Import) on covered collections whose rows "
                      "the WAL did not carry, since this process started the task.\n"
                      "# TYPE mcdc_bulk_inserts_not_replicated gauge\n"
                      "mcdc_bulk_inserts_not_replicated{task_id=\"a\"} 0\n"
                      "mcdc_bulk_inserts_not_replicated{task_id=\"b\"} 0\n"
                      "mcdc_bulk_inserts_not_replicated{task_id=\"c\"} 1\n");
#define A_BOOKS "task_id=\"a\",collection=\"default.books\""
#define A_ODD "task_id=\"a\",collection=\"d\\\"b.x\\\\y\\nz\""
#define C_FILMS "task_id=\"c\",collection=\"db2.films\""
    at = after(t, at, "# HELP mcdc_snapshot_rows_copied Rows of a collection's snapshot written to the target, over "
                      "every start of its copy.\n# TYPE mcdc_snapshot_rows_copied counter\n"
                      "mcdc_snapshot_rows_copied{" A_BOOKS "} 81920\n"
                      "mcdc_snapshot_rows_copied{" A_ODD "} 0\n"
                      "mcdc_snapshot_rows_copied{" C_FILMS "} 7\n"
                      "# HELP mcdc_snapshot_rows_total The source's row count when a collection's copy began; 0 until "
                      "known.\n# TYPE mcdc_snapshot_rows_total gauge\n"
                      "mcdc_snapshot_rows_total{" A_BOOKS "} 1000000\n"
                      "mcdc_snapshot_rows_total{" A_ODD "} 0\n"
                      "mcdc_snapshot_rows_total{" C_FILMS "} 7\n"
                      "# HELP mcdc_snapshot_rows_per_second Rows a collection's copy wrote per second over its last "
                      "progress interval; 0 when idle.\n# TYPE mcdc_snapshot_rows_per_second gauge\n"
                      "mcdc_snapshot_rows_per_second{" A_BOOKS "} 12345.7\n"
                      "mcdc_snapshot_rows_per_second{" A_ODD "} 0.0\n"
                      "mcdc_snapshot_rows_per_second{" C_FILMS "} 0.0\n"
                      "# HELP mcdc_snapshot_phase Where a collection's snapshot stands: 1 for its phase (waiting, "
                      "copying, overlapping, streaming), 0 for the others.\n# TYPE mcdc_snapshot_phase gauge\n"
                      "mcdc_snapshot_phase{" A_BOOKS ",phase=\"waiting\"} 0\n"
                      "mcdc_snapshot_phase{" A_BOOKS ",phase=\"copying\"} 1\n"
                      "mcdc_snapshot_phase{" A_BOOKS ",phase=\"overlapping\"} 0\n"
                      "mcdc_snapshot_phase{" A_BOOKS ",phase=\"streaming\"} 0\n"
                      "mcdc_snapshot_phase{" A_ODD ",phase=\"waiting\"} 1\n"
                      "mcdc_snapshot_phase{" A_ODD ",phase=\"copying\"} 0\n"
                      "mcdc_snapshot_phase{" A_ODD ",phase=\"overlapping\"} 0\n"
                      "mcdc_snapshot_phase{" A_ODD ",phase=\"streaming\"} 0\n"
                      "mcdc_snapshot_phase{" C_FILMS ",phase=\"waiting\"} 0\n"
                      "mcdc_snapshot_phase{" C_FILMS ",phase=\"copying\"} 0\n"
                      "mcdc_snapshot_phase{" C_FILMS ",phase=\"overlapping\"} 0\n"
                      "mcdc_snapshot_phase{" C_FILMS ",phase=\"streaming\"} 1\n"
                      /* a copies; b has none (nothing runs); c is done. */
                      "# HELP mcdc_task_consistent 1 when the target holds the source as of the task's watermark; 0 "
                      "while a collection's copy or overlap runs.\n# TYPE mcdc_task_consistent gauge\n"
                      "mcdc_task_consistent{task_id=\"a\"} 0\nmcdc_task_consistent{task_id=\"b\"} 1\n"
                      "mcdc_task_consistent{task_id=\"c\"} 1\n"
                      /* no task has verified: the headers alone. */
                      "# HELP mcdc_verify_rows_compared Source rows the task's last verify compared, per "
                      "collection.\n# TYPE mcdc_verify_rows_compared gauge\n"
                      "# HELP mcdc_verify_differences What the task's last verify found per collection and kind "
                      "(missing, extra, differing, doubled); only once it is done.\n"
                      "# TYPE mcdc_verify_differences gauge\n");
#undef A_BOOKS
#undef A_ODD
#undef C_FILMS
    assert_int_equal(*at, '\0');
    assert_null(strstr(t, "mcdc_task_lag_seconds{task_id=\"b\"}"));
    mcdc_buf_free(&b);

    /* No tasks: the HELP and TYPE lines, and no task's series. */
    metrics_write_tasks(&b, NULL, 0);
    assert_null(strstr(mcdc_buf_cstr(&b), "task_id="));
    assert_non_null(strstr(mcdc_buf_cstr(&b), "# TYPE mcdc_messages_total counter\n"));
    mcdc_buf_free(&b);
    for (int i = 0; i < 3; i++) task_snapshot_free(list[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_request_type, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_task_errors, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_errors, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_methods_and_paths, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_endless_chunked_body_is_cut_off, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_bearer_token, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_bind_errors, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_content_type, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_host, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_status_page, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_status_page_token, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_allowed_hosts, setup_allowed, teardown),
        cmocka_unit_test_setup_teardown(test_any_host, setup_any_host, teardown),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_guard_rules),
        cmocka_unit_test_setup_teardown(test_parse_errors_never_quote_the_body, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_header_deadline, setup_deadline, teardown),
        cmocka_unit_test_setup_teardown(test_per_client_limit, setup_per_client, teardown),
        cmocka_unit_test_setup_teardown(test_healthz_while_busy, setup_busy, teardown),
        cmocka_unit_test_setup_teardown(test_tls_files, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_tls_round_trip, setup_plain, teardown),
        cmocka_unit_test(test_task_json),
        cmocka_unit_test(test_positions_json),
        cmocka_unit_test(test_task_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
