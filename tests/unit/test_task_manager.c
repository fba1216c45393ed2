/* test_task_manager.c — the manager's locking rules and the operator's
 * skip, on a real store with the target probe and the first positions
 * faked (task_env's seams): a create held in its target check must not hold
 * up get, list or operations on other tasks; two creates of one id or of
 * one coverage never both pass; close waits for what runs; skip_message is
 * taken only at the paused message, kept across a restart, taken once;
 * resync is refused for a task that is paused.
 * Tasks here never start (disable_auto_start, no catalog): what runs a
 * task is test_worker.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "base/clock.h"
#include "pipeline/task.h"
#include "pipeline/task_manager.h"
#include "server/api_json.h"

static char g_dir[] = "/tmp/mcdc-test-tm-XXXXXX";
static char g_path[512];

/* ---- the fake target: a gate a create waits at ------------------------------------------ */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;      /* probes wait while closed */
    int waiting;      /* probes waiting at the gate */
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static int fake_probe(const task_env *env, const task_spec *spec, mcdc_err *err) {
    (void)env;
    pthread_mutex_lock(&gate.mu);
    gate.waiting++;
    pthread_cond_broadcast(&gate.cv);
    while (gate.closed) pthread_cond_wait(&gate.cv, &gate.mu);
    gate.waiting--;
    pthread_mutex_unlock(&gate.mu);
    if (strncmp(spec->id, "down", 4) == 0) return mcdc_errf(err, MCDC_EUNAVAIL, "target: connection refused");
    return 0;
}

static int fake_positions(task *t, mcdc_err *err) {
    (void)t, (void)err;
    return 0;
}

static void gate_close(void) {
    pthread_mutex_lock(&gate.mu);
    gate.closed = true;
    pthread_mutex_unlock(&gate.mu);
}

static void gate_open(void) {
    pthread_mutex_lock(&gate.mu);
    gate.closed = false;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
}

static void gate_wait_for(int n) {
    pthread_mutex_lock(&gate.mu);
    while (gate.waiting < n) pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
}

/* ---- a manager on a fresh store ------------------------------------------------------------ */

static store *g_store;
static task_env g_env;

static task_manager *open_tm(void) {
    mcdc_err err = {0};
    g_env = (task_env){.store = g_store,
                       .mq = {.type = "kafka"},
                       .channel_prefix = "by-dev",
                       .dml_channels = 2,
                       .probe_target = fake_probe,
                       .first_positions = fake_positions};
    task_manager *tm = task_manager_open(&g_env, &err);
    if (!tm) fail_msg("task_manager_open: %s", err.msg);
    return tm;
}

static int setup(void **state) {
    (void)state;
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_path, sizeof g_path, "%s/tasks.db", g_dir);
    mcdc_err err;
    g_store = store_open_sqlite(g_path, &err);
    return g_store ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    store_close(g_store);
    char p[600];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", g_path, suffix[i]);
        unlink(p);
    }
    return rmdir(g_dir);
}

/* A task of id that covers collection coll (so two ids of one coll overlap). */
static int create(task_manager *tm, const char *id, const char *coll, mcdc_err *err) {
    char text[512];
    snprintf(text, sizeof text,
             "{\"task_id\": \"%s\", \"milvus_connect_param\": {\"uri\": \"http://target:19530\"},"
             " \"collection_infos\": [{\"name\": \"%s\"}], \"disable_auto_start\": true}",
             id, coll);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    task_spec spec;
    int rc = task_spec_from_json(j, &spec, err);
    json_decref(j);
    if (rc) fail_msg("spec: %s", err->msg);
    char *got = NULL;
    rc = task_manager_create(tm, &spec, &got, err);
    if (rc == 0) assert_string_equal(got, id);
    free(got);
    return rc;
}

static void delete_all(task_manager *tm) {
    task_snapshot **list;
    size_t n = task_manager_list(tm, &list);
    mcdc_err err;
    for (size_t i = 0; i < n; i++) assert_int_equal(task_manager_delete(tm, list[i]->id, &err), 0);
    task_snapshots_free(list, n);
}

typedef struct create_run {
    task_manager *tm;
    const char *id, *coll;
    int rc;
    mcdc_err err;
} create_run;

static void *create_thread(void *arg) {
    create_run *r = arg;
    r->rc = create(r->tm, r->id, r->coll, &r->err);
    return NULL;
}

/* ---- rules ------------------------------------------------------------------------------- */

/* Rule: a create held in its target check holds no lock anyone else needs:
 * get, list, pause and delete of other tasks answer at once; its own id is
 * neither found nor listed, and is reserved (with its coverage) against a
 * second create; once it passes it is there. */
static void test_reads_answer_while_a_create_waits(void **state) {
    (void)state;
    task_manager *tm = open_tm();
    mcdc_err err;
    assert_int_equal(create(tm, "a", "ca", &err), 0);
    assert_int_equal(create(tm, "gone", "cg", &err), 0);

    gate_close();
    create_run r = {.tm = tm, .id = "b", .coll = "cb"};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, create_thread, &r), 0);
    gate_wait_for(1);

    uint64_t t0 = mcdc_now_mono_ms();
    task_snapshot *s = task_manager_get(tm, "a", &err);
    assert_non_null(s);
    task_snapshot_free(s);
    task_snapshot **list;
    size_t n = task_manager_list(tm, &list);
    assert_int_equal(n, 2);
    task_snapshots_free(list, n);
    assert_int_equal(task_manager_pause(tm, "a", &err), 0);
    assert_int_equal(task_manager_delete(tm, "gone", &err), 0);
    task_positions pos;
    assert_int_equal(task_manager_positions(tm, "a", &pos, &err), 0);
    task_positions_free(&pos);
    assert_true(mcdc_now_mono_ms() - t0 < 1000);

    /* Its create may still fail or succeed: neither "found" nor "not found"
     * (a delete with ignore_not_found would report it gone). */
    assert_null(task_manager_get(tm, "b", &err));
    assert_int_equal(err.code, MCDC_EEXIST);
    assert_non_null(strstr(err.msg, "being created"));
    assert_int_equal(task_manager_delete(tm, "b", &err), -1);
    assert_int_equal(err.code, MCDC_EEXIST);
    assert_int_equal(task_manager_resync(tm, "b", "default", "cb", &err), -1);
    assert_int_equal(err.code, MCDC_EEXIST);
    assert_non_null(strstr(err.msg, "being created"));
    /* The id and the coverage are taken. */
    assert_int_equal(create(tm, "b", "other", &err), -1);
    assert_int_equal(err.code, MCDC_EEXIST);
    assert_non_null(strstr(err.msg, "being created"));
    assert_int_equal(create(tm, "b2", "cb", &err), -1);
    assert_int_equal(err.code, MCDC_EEXIST);

    gate_open();
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    s = task_manager_get(tm, "b", &err);
    assert_non_null(s);
    assert_int_equal(s->state, TASK_INITIAL);
    task_snapshot_free(s);
    delete_all(tm);
    task_manager_close(tm);
}

/* Rule: a create whose target does not answer leaves nothing: not in the
 * list, not in the store, its id and coverage free again. */
static void test_failed_create_leaves_nothing(void **state) {
    (void)state;
    task_manager *tm = open_tm();
    mcdc_err err;
    assert_int_equal(create(tm, "down1", "cd", &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    task_snapshot **list;
    assert_int_equal(task_manager_list(tm, &list), 0);
    task_snapshots_free(list, 0);
    assert_int_equal(create(tm, "up1", "cd", &err), 0);
    delete_all(tm);
    task_manager_close(tm);
}

/* Rule: close waits for a create in flight, and refuses new calls. */
typedef struct close_run {
    task_manager *tm;
    _Atomic bool done;
} close_run;

static void *close_thread(void *arg) {
    close_run *c = arg;
    task_manager_close(c->tm);
    atomic_store(&c->done, true);
    return NULL;
}

static void test_close_waits_for_a_create(void **state) {
    (void)state;
    task_manager *tm = open_tm();
    gate_close();
    create_run r = {.tm = tm, .id = "late", .coll = "cl"};
    pthread_t th, tc;
    assert_int_equal(pthread_create(&th, NULL, create_thread, &r), 0);
    gate_wait_for(1);
    close_run c = {.tm = tm};
    assert_int_equal(pthread_create(&tc, NULL, close_thread, &c), 0);
    mcdc_sleep_ms(100);
    assert_false(atomic_load(&c.done));
    gate_open();
    pthread_join(th, NULL);
    pthread_join(tc, NULL);
    assert_true(atomic_load(&c.done));
    assert_int_equal(r.rc, 0);
    /* It was stored: the next manager has it. */
    tm = open_tm();
    mcdc_err err;
    task_snapshot *s = task_manager_get(tm, "late", &err);
    assert_non_null(s);
    task_snapshot_free(s);
    delete_all(tm);
    task_manager_close(tm);
}

/* Rule: many threads creating, deleting, pausing, reading and skipping the
 * same few ids at once: every call returns, every answer is one of the
 * documented ones, and the store and the list agree at the end. Run under
 * ASan as well (ctest in build-asan) for the lifetimes. */
#define HAMMER_THREADS 6
#define HAMMER_ROUNDS 300
static const char *const HAMMER_IDS[] = {"h0", "h1", "h2", "h3"};

typedef struct hammer {
    task_manager *tm;
    unsigned seed;
    _Atomic int *bad;
} hammer;

static void *hammer_thread(void *arg) {
    hammer *h = arg;
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        const char *id = HAMMER_IDS[rand_r(&h->seed) % 4];
        mcdc_err err = {0};
        int rc = 0;
        switch (rand_r(&h->seed) % 7) {
        case 0:
            rc = create(h->tm, id, id, &err);
            if (rc && err.code != MCDC_EEXIST) atomic_fetch_add(h->bad, 1);
            break;
        case 1:
            rc = task_manager_delete(h->tm, id, &err);
            break;
        case 2:
            rc = task_manager_pause(h->tm, id, &err);
            break;
        case 3: {
            task_snapshot *s = task_manager_get(h->tm, id, &err);
            if (s && strcmp(s->id, id) != 0) atomic_fetch_add(h->bad, 1);
            rc = s ? 0 : -1;
            task_snapshot_free(s);
            break;
        }
        case 4: {
            task_snapshot **list;
            size_t n = task_manager_list(h->tm, &list);
            if (n > 4) atomic_fetch_add(h->bad, 1);
            task_snapshots_free(list, n);
            break;
        }
        case 5: {
            task_positions p;
            rc = task_manager_positions(h->tm, id, &p, &err);
            task_positions_free(&p);
            break;
        }
        default:
            /* Never paused at a message here: always refused. */
            rc = task_manager_skip_message(h->tm, id, "by-dev-rootcoord-dml_0", "3", &err);
            if (rc == 0 || (err.code != MCDC_EINVAL && err.code != MCDC_ENOTFOUND && err.code != MCDC_EEXIST))
                atomic_fetch_add(h->bad, 1);
            continue;
        }
        if (rc && err.code != MCDC_ENOTFOUND && err.code != MCDC_EEXIST) atomic_fetch_add(h->bad, 1);
    }
    return NULL;
}

static int count_stored(void *ud, const store_task *t) {
    (void)t;
    (*(size_t *)ud)++;
    return 0;
}

static void test_concurrent_calls(void **state) {
    (void)state;
    task_manager *tm = open_tm();
    _Atomic int bad = 0;
    hammer h[HAMMER_THREADS];
    pthread_t th[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++) {
        h[i] = (hammer){.tm = tm, .seed = (unsigned)(i * 7919 + 1), .bad = &bad};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_thread, &h[i]), 0);
    }
    for (int i = 0; i < HAMMER_THREADS; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&bad), 0);
    task_snapshot **list;
    size_t n = task_manager_list(tm, &list);
    task_snapshots_free(list, n);
    size_t stored = 0;
    mcdc_err err;
    assert_int_equal(store_task_each(g_store, count_stored, &stored, &err), 0);
    assert_int_equal(stored, n);
    delete_all(tm);
    task_manager_close(tm);
}

/* ---- resync ------------------------------------------------------------------------------- */

/* Rule: a resync names a task the manager has (404 naming the id
 * otherwise), is refused for a Paused task with what to do instead, and
 * otherwise reaches task_resync under the operation lock, whose answer is
 * the caller's. */
static void test_resync_refusals(void **state) {
    (void)state;
    task_manager *tm = open_tm();
    mcdc_err err;
    assert_int_equal(create(tm, "r1", "rc", &err), 0);

    assert_int_equal(task_manager_resync(tm, "nope", "default", "rc", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'nope'"));

    /* Initial (never started here): task_resync answers, and refuses, since
     * no source.milvus is configured in this env (and, on a branch without
     * the copier, since it is not built). Not the manager's refusal. */
    assert_int_equal(task_manager_resync(tm, "r1", "default", "rc", &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_null(strstr(err.msg, "is paused"));

    assert_int_equal(task_manager_pause(tm, "r1", &err), 0);
    assert_int_equal(task_manager_resync(tm, "r1", "default", "rc", &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_string_equal(err.msg, "task 'r1' is paused; resume it first");
    /* The refusal changed nothing. */
    task_snapshot *s = task_manager_get(tm, "r1", &err);
    assert_non_null(s);
    assert_int_equal(s->state, TASK_PAUSED);
    assert_string_equal(s->reason, "paused by request");
    task_snapshot_free(s);

    assert_int_equal(task_manager_delete(tm, "r1", &err), 0);
    assert_int_equal(task_manager_resync(tm, "r1", "default", "rc", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    task_manager_close(tm);
}

/* ---- skip_message -------------------------------------------------------------------------- */

#define PAUSED_CHANNEL "by-dev-rootcoord-dml_1"

static mq_msgid kafka_at(const char *pos) {
    mq_msgid id;
    mcdc_err err;
    if (mq_msgid_parse("kafka", pos, &id, &err)) fail_msg("%s", err.msg);
    return id;
}

/* A task as a worker leaves it after a message that does not decode: Paused
 * at PAUSED_CHANNEL position 7, in the store. */
static void store_paused_task(const char *id) {
    mcdc_err err;
    task_manager *tm = open_tm();
    assert_int_equal(create(tm, id, id, &err), 0);
    task_manager_close(tm);
    store_msg_ref at = {.channel = PAUSED_CHANNEL, .id = kafka_at("7")};
    assert_int_equal(store_task_update(g_store, id, TASK_PAUSED, "channel " PAUSED_CHANNEL " position 7: bad", &at, &err),
                     0);
}

typedef struct stored_row {
    const char *id;
    bool found;
    char skip_channel[64];
    mq_msgid skip;
    store_task copy;
    char reason[256];
    char paused_channel[64];
} stored_row;

static int find_row(void *ud, const store_task *t) {
    stored_row *r = ud;
    if (strcmp(t->id, r->id) != 0) return 0;
    r->found = true;
    snprintf(r->skip_channel, sizeof r->skip_channel, "%s", t->skip.channel);
    r->skip = t->skip.id;
    snprintf(r->reason, sizeof r->reason, "%s", t->reason);
    snprintf(r->paused_channel, sizeof r->paused_channel, "%s", t->paused_at.channel);
    r->copy = (store_task){.id = r->id, .state = t->state, .reason = r->reason,
                           .paused_at = {r->paused_channel, t->paused_at.id}, .skip = {r->skip_channel, t->skip.id}};
    return 0;
}

/* The row of id in the store; r->copy points into *r. */
static stored_row *stored(const char *id, stored_row *r) {
    *r = (stored_row){.id = id};
    mcdc_err err;
    assert_int_equal(store_task_each(g_store, find_row, r, &err), 0);
    assert_true(r->found);
    return r;
}

/* Rule: skip_message is refused (400, naming where the task is paused, or
 * that it is not paused at a message) unless it names exactly the message
 * the task is paused at; the accepted one is stored and shown, and a
 * restart keeps it. */
static void test_skip_only_where_paused(void **state) {
    (void)state;
    store_paused_task("p");
    task_manager *tm = open_tm();
    mcdc_err err;
    assert_int_equal(create(tm, "fresh", "fresh", &err), 0);

    task_snapshot *s = task_manager_get(tm, "p", &err);
    assert_non_null(s);
    assert_int_equal(s->state, TASK_PAUSED);
    assert_string_equal(s->paused_channel, PAUSED_CHANNEL);
    assert_string_equal(s->paused_position, "7");
    assert_string_equal(s->skip_channel, "");
    task_snapshot_free(s);

    /* The wrong position, the wrong channel: refused, naming the right one. */
    assert_int_equal(task_manager_skip_message(tm, "p", PAUSED_CHANNEL, "8", &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "paused at channel " PAUSED_CHANNEL " position 7"));
    assert_int_equal(task_manager_skip_message(tm, "p", "by-dev-rootcoord-dml_0", "7", &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "position 7"));
    /* Not paused at a message at all. */
    assert_int_equal(task_manager_skip_message(tm, "fresh", PAUSED_CHANNEL, "7", &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "not paused at a message"));
    assert_int_equal(task_manager_pause(tm, "fresh", &err), 0);
    assert_int_equal(task_manager_skip_message(tm, "fresh", PAUSED_CHANNEL, "7", &err), -1);
    assert_non_null(strstr(err.msg, "not paused at a message"));
    assert_int_equal(task_manager_skip_message(tm, "nope", PAUSED_CHANNEL, "7", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    stored_row r;
    assert_string_equal(stored("p", &r)->skip_channel, "");

    /* An operator's pause of a task paused at a message keeps it there. */
    assert_int_equal(task_manager_pause(tm, "p", &err), 0);
    /* The right one. */
    assert_int_equal(task_manager_skip_message(tm, "p", PAUSED_CHANNEL, "7", &err), 0);
    stored("p", &r);
    assert_string_equal(r.skip_channel, PAUSED_CHANNEL);
    mq_msgid seven = kafka_at("7");
    assert_int_equal(mq_msgid_cmp("kafka", &r.skip, &seven), 0);
    s = task_manager_get(tm, "p", &err);
    assert_string_equal(s->skip_channel, PAUSED_CHANNEL);
    assert_string_equal(s->skip_position, "7");
    json_t *j = api_task_json(s);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(text, "\"paused_at\":{\"channel\":\"" PAUSED_CHANNEL "\",\"position\":\"7\"}"));
    assert_non_null(strstr(text, "\"skip_requested\":{\"channel\":\"" PAUSED_CHANNEL "\",\"position\":\"7\"}"));
    assert_non_null(strstr(text, "\"starting\":false"));
    free(text);
    json_decref(j);
    task_snapshot_free(s);
    task_manager_close(tm);

    /* A restart between the skip and the resume keeps both. */
    tm = open_tm();
    s = task_manager_get(tm, "p", &err);
    assert_string_equal(s->paused_channel, PAUSED_CHANNEL);
    assert_string_equal(s->skip_position, "7");
    task_snapshot_free(s);
    delete_all(tm);
    task_manager_close(tm);
}

/* Rule: a worker takes the skip once: asked for on its channel only,
 * cleared in memory and in the store when taken, and a second take (or one
 * of another message) changes nothing. */
static void test_skip_taken_once(void **state) {
    (void)state;
    store_paused_task("q");
    task_manager *tm = open_tm();
    mcdc_err err;
    assert_int_equal(task_manager_skip_message(tm, "q", PAUSED_CHANNEL, "7", &err), 0);
    task_manager_close(tm);

    /* The task as the workers see it, as loaded from the store. */
    stored_row r;
    stored("q", &r);
    task_spec spec = {0};
    task *t = task_new(mcdc_xstrdup("q"), &spec, &g_env, TASK_PAUSED, r.reason);
    task_restore(t, &r.copy);
    mq_msgid at, seven = kafka_at("7"), eight = kafka_at("8");
    assert_false(task_skip_wanted(t, "by-dev-rootcoord-dml_0", &at));
    assert_true(task_skip_wanted(t, PAUSED_CHANNEL, &at));
    assert_int_equal(mq_msgid_cmp("kafka", &at, &seven), 0);
    task_skip_taken(t, PAUSED_CHANNEL, &eight); /* not the one asked for */
    assert_true(task_skip_wanted(t, PAUSED_CHANNEL, &at));
    task_skip_taken(t, PAUSED_CHANNEL, &seven);
    assert_false(task_skip_wanted(t, PAUSED_CHANNEL, &at));
    assert_string_equal(stored("q", &r)->skip_channel, "");
    task_skip_taken(t, PAUSED_CHANNEL, &seven);
    assert_false(task_skip_wanted(t, PAUSED_CHANNEL, &at));
    task_free(t);

    tm = open_tm();
    task_snapshot *s = task_manager_get(tm, "q", &err);
    assert_string_equal(s->skip_channel, "");
    task_snapshot_free(s);
    delete_all(tm);
    task_manager_close(tm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_answer_while_a_create_waits),
        cmocka_unit_test(test_failed_create_leaves_nothing),
        cmocka_unit_test(test_close_waits_for_a_create),
        cmocka_unit_test(test_concurrent_calls),
        cmocka_unit_test(test_resync_refusals),
        cmocka_unit_test(test_skip_only_where_paused),
        cmocka_unit_test(test_skip_taken_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
