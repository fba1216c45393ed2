/* test_task_owners.c — several task managers ("instances") on one store
 * (fake_store.h): each task runs on its owner only; the others list it
 * with its owner and refuse calls naming it (MCDC_ENOTOWNER, and say where
 * the owner is); an owner that loses its lease stops the task without a
 * store write and another instance takes it over within seconds; a closing
 * instance gives its tasks up and another takes them at once; a delete on
 * one instance reaches the others. Tasks start through task_env's
 * start_task seam, which counts starts per instance instead of running a
 * pipeline (what runs a task is test_worker.c's). */
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

#include "base/clock.h"
#include "fake_store.h"
#include "pipeline/task.h"
#include "pipeline/task_manager.h"

/* ---- instances ------------------------------------------------------------------------------ */

#define URL_A "http://a.example:8444"
#define URL_B "http://b.example:8444"

static fake_shared *g_sh;

typedef struct inst {
    fake_inst *st;
    task_env env;
    task_manager *tm;
    atomic_int starts;    /* start_task calls on this instance */
} inst;

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
    (void)t, (void)err;
    inst *i = (fake_inst *)env->store == g_a.st ? &g_a : &g_b;
    atomic_fetch_add(&i->starts, 1);
    return 0;
}

static void open_inst(inst *i, const char *id, const char *url) {
    if (!i->st) i->st = fake_instance(g_sh, id, url);
    i->env = (task_env){.store = &i->st->base,
                        .mq = {.type = "kafka"},
                        .channel_prefix = "by-dev",
                        .dml_channels = 2,
                        .probe_target = fake_probe,
                        .first_positions = fake_positions,
                        .start_task = fake_start,
                        .advertise = url};
    mcdc_err err = {0};
    i->tm = task_manager_open(&i->env, &err);
    if (!i->tm) fail_msg("task_manager_open: %s", err.msg);
}

static void close_inst(inst *i) {
    task_manager_close(i->tm);
    i->tm = NULL;
}

static int setup(void **state) {
    (void)state;
    g_sh = fake_shared_new();
    memset(&g_a, 0, sizeof g_a);
    memset(&g_b, 0, sizeof g_b);
    open_inst(&g_a, "a", URL_A);
    open_inst(&g_b, "b", URL_B);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (g_a.tm) close_inst(&g_a);
    if (g_b.tm) close_inst(&g_b);
    store_close(&g_a.st->base);
    store_close(&g_b.st->base);
    fake_shared_free(g_sh);
    return 0;
}

/* A task of id covering collection coll, started at create. */
static int create(inst *i, const char *id, const char *coll, mcdc_err *err) {
    char text[512];
    snprintf(text, sizeof text,
             "{\"task_id\": \"%s\", \"milvus_connect_param\": {\"uri\": \"http://target:19530\"},"
             " \"collection_infos\": [{\"name\": \"%s\"}]}",
             id, coll);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    task_spec spec;
    int rc = task_spec_from_json(j, &spec, err);
    json_decref(j);
    if (rc) fail_msg("spec: %s", err->msg);
    char *got = NULL;
    rc = task_manager_create(i->tm, &spec, &got, err);
    free(got);
    return rc;
}

/* The instance's snapshot of the task in its list (NULL if not listed). */
static task_snapshot *listed(inst *i, const char *id) {
    task_snapshot **list;
    size_t n = task_manager_list(i->tm, &list);
    task_snapshot *found = NULL;
    for (size_t k = 0; k < n; k++) {
        if (!found && strcmp(list[k]->id, id) == 0) found = list[k];
        else task_snapshot_free(list[k]);
    }
    free(list);
    return found;
}

/* Polls until the task is listed on i as remote (want_remote) or run here
 * (!want_remote), or gone (want_gone); ms taken, or -1 past timeout_ms. */
static int64_t wait_for(inst *i, const char *id, bool want_gone, bool want_remote, uint32_t timeout_ms) {
    uint64_t t0 = mcdc_now_mono_ms();
    for (;;) {
        task_snapshot *s = listed(i, id);
        bool ok = want_gone ? !s : s && s->remote == want_remote;
        task_snapshot_free(s);
        if (ok) return (int64_t)(mcdc_now_mono_ms() - t0);
        if (mcdc_now_mono_ms() - t0 > timeout_ms) return -1;
        mcdc_sleep_ms(5);
    }
}

/* Polls until i lists the task in state st with reason; ms, or -1 past 3 s. */
static int64_t wait_state(inst *i, const char *id, task_state st, const char *reason) {
    uint64_t t0 = mcdc_now_mono_ms();
    for (;;) {
        task_snapshot *s = listed(i, id);
        bool ok = s && s->state == st && strcmp(s->reason, reason) == 0;
        task_snapshot_free(s);
        if (ok) return (int64_t)(mcdc_now_mono_ms() - t0);
        if (mcdc_now_mono_ms() - t0 > 3000) return -1;
        mcdc_sleep_ms(5);
    }
}

/* Polls until i has started at least want tasks; ms, or -1 past 3 s. A
 * takeover lists the task as run here before it starts it (under the
 * entry's own lock, which every call on the task waits for), so a test that
 * saw the listing must wait for the start too. */
static int64_t wait_starts(inst *i, int want) {
    uint64_t t0 = mcdc_now_mono_ms();
    for (;;) {
        if (atomic_load(&i->starts) >= want) return (int64_t)(mcdc_now_mono_ms() - t0);
        if (mcdc_now_mono_ms() - t0 > 3000) return -1;
        mcdc_sleep_ms(5);
    }
}

/* Polls until i lists the task as remote with this owner URL; ms, or -1
 * past 3 s. An instance that lost a task may stop it before another claims
 * it (then it lists no owner yet); its next round, woken by the claim, names
 * the new owner. */
static int64_t wait_owner(inst *i, const char *id, const char *url) {
    uint64_t t0 = mcdc_now_mono_ms();
    for (;;) {
        task_snapshot *s = listed(i, id);
        bool ok = s && s->remote && strcmp(s->owner, url) == 0;
        task_snapshot_free(s);
        if (ok) return (int64_t)(mcdc_now_mono_ms() - t0);
        if (mcdc_now_mono_ms() - t0 > 3000) return -1;
        mcdc_sleep_ms(5);
    }
}

/* ---- rules ---------------------------------------------------------------------------------- */

/* Rule: a task created on A runs on A and is remote on B: B lists it with
 * A as owner and its stored state; every call naming it on B is
 * MCDC_ENOTOWNER and task_manager_owner names A; a create on B that
 * overlaps it is refused as on A. */
static void test_remote_on_the_other_instance(void **state) {
    (void)state;
    mcdc_err err;
    assert_int_equal(create(&g_a, "t1", "c1", &err), 0);
    assert_int_equal(atomic_load(&g_a.starts), 1);
    assert_true(wait_for(&g_b, "t1", false, true, 3000) >= 0);
    assert_int_equal(atomic_load(&g_b.starts), 0);

    /* Listed from the store's create on; Running once A stored that too. */
    assert_true(wait_state(&g_b, "t1", TASK_RUNNING, "") >= 0);
    task_snapshot *s = listed(&g_b, "t1");
    assert_true(s->remote);
    assert_string_equal(s->owner, URL_A);
    task_snapshot_free(s);
    s = listed(&g_a, "t1");
    assert_false(s->remote);
    assert_string_equal(s->owner, URL_A);
    task_snapshot_free(s);

    assert_null(task_manager_get(g_b.tm, "t1", &err));
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_non_null(strstr(err.msg, URL_A));
    char *url = NULL;
    assert_int_equal(task_manager_owner(g_b.tm, "t1", &url, &err), 0);
    assert_string_equal(url, URL_A);
    free(url);
    assert_int_equal(task_manager_owner(g_a.tm, "t1", &url, &err), 0);
    assert_null(url); /* A runs it */
    assert_int_equal(task_manager_owner(g_b.tm, "nope", &url, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    assert_int_equal(task_manager_pause(g_b.tm, "t1", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(task_manager_resume(g_b.tm, "t1", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(task_manager_delete(g_b.tm, "t1", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    task_positions pos;
    assert_int_equal(task_manager_positions(g_b.tm, "t1", &pos, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(task_manager_resync(g_b.tm, "t1", "default", "c1", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(task_manager_verify(g_b.tm, "t1", "default", NULL, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(task_manager_skip_message(g_b.tm, "t1", "by-dev-rootcoord-dml_0", "1", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);

    /* The same id, or the same collection into the same target, on B. */
    assert_int_equal(create(&g_b, "t1", "other", &err), -1);
    assert_int_equal(err.code, MCDC_EEXIST);
    assert_int_equal(create(&g_b, "t1b", "c1", &err), -1);
    assert_int_equal(err.code, MCDC_EEXIST);

    /* A pause on A shows on B as the store holds it. */
    assert_int_equal(task_manager_pause(g_a.tm, "t1", &err), 0);
    assert_true(wait_state(&g_b, "t1", TASK_PAUSED, "paused by request") >= 0);
    /* A task created on B runs on B. */
    assert_int_equal(create(&g_b, "t2", "c2", &err), 0);
    assert_int_equal(atomic_load(&g_b.starts), 1);
    assert_true(wait_for(&g_a, "t2", false, true, 3000) >= 0);
}

/* Rule: an owner that loses its lease stops the task without a store write
 * and shows it as remote; the other instance claims it and starts it from
 * what the store holds within a few seconds (here: at the store's wake-up,
 * well under the rescan). */
static void test_lost_owner_stops_and_other_takes_over(void **state) {
    (void)state;
    mcdc_err err;
    assert_int_equal(create(&g_a, "t", "c", &err), 0);
    assert_true(wait_for(&g_b, "t", false, true, 3000) >= 0);
    unsigned writes0, refused0, writes1, refused1;
    fake_counts(g_a.st, &writes0, &refused0);

    uint64_t t0 = mcdc_now_mono_ms();
    fake_lose(g_a.st);
    int64_t took = wait_for(&g_b, "t", false, false, 5000);
    assert_true(took >= 0);
    assert_true(mcdc_now_mono_ms() - t0 < 5000);
    assert_true(wait_starts(&g_b, 1) >= 0);
    assert_int_equal(atomic_load(&g_b.starts), 1);
    assert_ptr_equal(fake_owner(g_sh, "t"), g_b.st);
    task_snapshot *s = task_manager_get(g_b.tm, "t", &err);
    assert_non_null(s);
    assert_string_equal(s->owner, URL_B);
    task_snapshot_free(s);

    /* A: stopped it, made it remote, and wrote nothing, not even a refused write. */
    assert_true(wait_for(&g_a, "t", false, true, 3000) >= 0);
    fake_counts(g_a.st, &writes1, &refused1);
    assert_int_equal(writes1, writes0);
    assert_int_equal(refused1, refused0);
    assert_null(task_manager_get(g_a.tm, "t", &err));
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_true(wait_owner(&g_a, "t", URL_B) >= 0);

    /* A back: it stays B's. */
    fake_regain(g_a.st);
    mcdc_sleep_ms(100);
    assert_ptr_equal(fake_owner(g_sh, "t"), g_b.st);
    assert_int_equal(atomic_load(&g_a.starts), 1);
}

/* Rule: closing an instance gives its tasks up, so another takes them at
 * once (not after the lease nor the next rescan); a restarted instance
 * lists them as the other's. */
static void test_close_releases_and_other_takes_at_once(void **state) {
    (void)state;
    mcdc_err err;
    assert_int_equal(create(&g_a, "x", "cx", &err), 0);
    assert_int_equal(create(&g_a, "y", "cy", &err), 0);
    assert_true(wait_for(&g_b, "x", false, true, 3000) >= 0);
    assert_true(wait_for(&g_b, "y", false, true, 3000) >= 0);
    close_inst(&g_a);
    uint64_t t0 = mcdc_now_mono_ms();
    assert_true(wait_for(&g_b, "x", false, false, 3000) >= 0);
    assert_true(wait_for(&g_b, "y", false, false, 3000) >= 0);
    uint64_t took = mcdc_now_mono_ms() - t0;
    assert_true(took < 1500);
    assert_true(wait_starts(&g_b, 2) >= 0);
    assert_int_equal(atomic_load(&g_b.starts), 2);

    open_inst(&g_a, "a", URL_A);
    task_snapshot *s = listed(&g_a, "x");
    assert_non_null(s);
    assert_true(s->remote);
    assert_string_equal(s->owner, URL_B);
    task_snapshot_free(s);
}

/* Rule: a task deleted on its owner disappears from the other instance,
 * and a task deleted from the store behind a running owner stops there. */
static void test_delete_reaches_the_other_instance(void **state) {
    (void)state;
    mcdc_err err;
    assert_int_equal(create(&g_a, "d", "cd", &err), 0);
    assert_true(wait_for(&g_b, "d", false, true, 3000) >= 0);
    assert_int_equal(task_manager_delete(g_a.tm, "d", &err), 0);
    assert_true(wait_for(&g_b, "d", true, false, 3000) >= 0);

    assert_int_equal(create(&g_b, "e", "ce", &err), 0);
    assert_true(wait_for(&g_a, "e", false, true, 3000) >= 0);
    /* Deleted by another instance (here: straight in the store). */
    assert_int_equal(store_task_delete(&g_a.st->base, "e", &err), 0);
    assert_true(wait_for(&g_b, "e", true, false, 3000) >= 0);
    assert_true(wait_for(&g_a, "e", true, false, 3000) >= 0);
    assert_null(task_manager_get(g_b.tm, "e", &err));
    assert_int_equal(err.code, MCDC_ENOTFOUND);
}

/* ---- ownership moving while the API runs ------------------------------------------------------ */

typedef struct caller {
    inst *i;
    atomic_bool *stop;
    unsigned calls;
} caller;

static void *api_thread(void *arg) {
    caller *c = arg;
    unsigned r = 7;
    while (!atomic_load(c->stop)) {
        mcdc_err err;
        r = r * 1103515245u + 12345u;
        const char *id = (r >> 8) & 1 ? "m0" : "m1";
        switch ((r >> 12) % 5) {
        case 0: task_snapshot_free(task_manager_get(c->i->tm, id, &err)); break;
        case 1: {
            task_snapshot **list;
            size_t n = task_manager_list(c->i->tm, &list);
            task_snapshots_free(list, n);
            break;
        }
        case 2: task_manager_pause(c->i->tm, id, &err); break;
        case 3: task_manager_resume(c->i->tm, id, &err); break;
        default: {
            char *url = NULL;
            if (task_manager_owner(c->i->tm, id, &url, &err) == 0) free(url);
        }
        }
        if (err.code == MCDC_ENOTOWNER || err.code == MCDC_OK || err.code == MCDC_EEXIST) c->calls++;
    }
    return NULL;
}

/* Rule: ownership moving back and forth while both instances serve calls
 * leaves each task owned by exactly one of them, listed once on each, run
 * by its owner, and nothing deadlocks (ASan/TSan food). MOVES rounds. */
#ifndef MOVES
#define MOVES 200
#endif
static void test_ownership_moves_under_calls(void **state) {
    (void)state;
    mcdc_err err;
    assert_int_equal(create(&g_a, "m0", "cm0", &err), 0);
    assert_int_equal(create(&g_a, "m1", "cm1", &err), 0);
    atomic_bool stop = false;
    caller cs[4] = {{&g_a, &stop, 0}, {&g_b, &stop, 0}, {&g_a, &stop, 0}, {&g_b, &stop, 0}};
    pthread_t th[4];
    for (int k = 0; k < 4; k++) assert_int_equal(pthread_create(&th[k], NULL, api_thread, &cs[k]), 0);
    for (int round = 0; round < MOVES; round++) {
        inst *from = round % 2 ? &g_b : &g_a, *to = round % 2 ? &g_a : &g_b;
        fake_lose(from->st);
        uint64_t t0 = mcdc_now_mono_ms();
        while (fake_owner(g_sh, "m0") != to->st || fake_owner(g_sh, "m1") != to->st) {
            if (mcdc_now_mono_ms() - t0 > 5000) fail_msg("round %d: the tasks did not move", round);
            mcdc_sleep_ms(1);
        }
        if (wait_for(to, "m0", false, false, 5000) < 0 || wait_for(to, "m1", false, false, 5000) < 0 ||
            wait_for(from, "m0", false, true, 5000) < 0 || wait_for(from, "m1", false, true, 5000) < 0)
            fail_msg("round %d: the lists did not follow", round);
        fake_regain(from->st);
    }
    atomic_store(&stop, true);
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    unsigned calls = 0;
    for (int k = 0; k < 4; k++) calls += cs[k].calls;
    assert_true(calls > 0);
    /* Listed once on each. */
    task_snapshot **list;
    size_t n = task_manager_list(g_a.tm, &list);
    assert_int_equal(n, 2);
    task_snapshots_free(list, n);
    n = task_manager_list(g_b.tm, &list);
    assert_int_equal(n, 2);
    task_snapshots_free(list, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remote_on_the_other_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_owner_stops_and_other_takes_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_releases_and_other_takes_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_reaches_the_other_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ownership_moves_under_calls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
