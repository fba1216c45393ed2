/* test_store.c — the SQLite store (store.h) on real files in a temp dir:
 * tasks, positions, collection bindings and copy progress round-trip
 * byte-exact, older schemas are migrated with their rows kept, saves
 * survive kill -9 of the writer, two connections share a file without lock
 * failures, threads or processes creating one fresh file at once all get a
 * store, the file is the owner's alone (a file others may read is refused),
 * and files that are not ours (not SQLite, another program's, a newer
 * schema, damaged) are refused with an error rather than a crash. Prints
 * checkpoint saves/s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/buf.h"
#include "base/clock.h"
#include "store/store.h"

static char g_dir[64];

static const char *path_in(const char *name) {
    static char p[sizeof g_dir + 256 + 2];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return p;
}

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mcdc_store_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

/* The dir is flat: db files and their -wal/-shm companions. */
static int remove_dir(void **state) {
    (void)state;
    DIR *d = opendir(g_dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        unlink(path_in(e->d_name));
    }
    closedir(d);
    return rmdir(g_dir);
}

static store *open_ok(const char *name) {
    mcdc_err err = {0};
    store *s = store_open_sqlite(strcmp(name, ":memory:") == 0 ? name : path_in(name), &err);
    if (!s) fail_msg("store_open_sqlite(%s): %s", name, err.msg);
    return s;
}

static void put_task(store *s, const char *id, const char *spec) {
    mcdc_err err = {0};
    store_task t = {.id = id, .spec_json = spec, .reason = ""};
    if (store_task_put_new(s, &t, &err) != 0) fail_msg("put %s: %s", id, err.msg);
}

/* Owner-only like a store, so that a test meets the refusal it is about
 * and not the one of a file others may read. */
static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
}

/* ---- collecting callbacks ------------------------------------------------ */

#define MAX_ROWS 16

typedef struct tasks_seen {
    int n;
    char *id[MAX_ROWS], *spec[MAX_ROWS], *reason[MAX_ROWS];
    int state[MAX_ROWS];
    char *paused_channel[MAX_ROWS], *skip_channel[MAX_ROWS];
    mq_msgid paused_id[MAX_ROWS], skip_id[MAX_ROWS];
} tasks_seen;

static int collect_task(void *ud, const store_task *t) {
    tasks_seen *ts = ud;
    assert_true(ts->n < MAX_ROWS);
    ts->id[ts->n] = mcdc_xstrdup(t->id);
    ts->spec[ts->n] = mcdc_xstrdup(t->spec_json);
    ts->paused_channel[ts->n] = mcdc_xstrdup(t->paused_at.channel);
    ts->paused_id[ts->n] = t->paused_at.id;
    ts->skip_channel[ts->n] = mcdc_xstrdup(t->skip.channel);
    ts->skip_id[ts->n] = t->skip.id;
    ts->reason[ts->n] = mcdc_xstrdup(t->reason);
    ts->state[ts->n] = t->state;
    ts->n++;
    return 0;
}

static void tasks_free(tasks_seen *ts) {
    for (int i = 0; i < ts->n; i++) {
        free(ts->id[i]);
        free(ts->spec[i]);
        free(ts->reason[i]);
        free(ts->paused_channel[i]);
        free(ts->skip_channel[i]);
    }
    memset(ts, 0, sizeof *ts);
}

static void list_tasks(store *s, tasks_seen *ts) {
    mcdc_err err = {0};
    memset(ts, 0, sizeof *ts);
    if (store_task_each(s, collect_task, ts, &err) != 0) fail_msg("task_each: %s", err.msg);
}

typedef struct pos_seen {
    int n;
    char *channel[MAX_ROWS];
    store_position p[MAX_ROWS];
} pos_seen;

static int collect_pos(void *ud, const store_position *p) {
    pos_seen *ps = ud;
    assert_true(ps->n < MAX_ROWS);
    ps->channel[ps->n] = mcdc_xstrdup(p->channel);
    ps->p[ps->n] = *p;
    ps->p[ps->n].channel = ps->channel[ps->n];
    ps->n++;
    return 0;
}

static void pos_free(pos_seen *ps) {
    for (int i = 0; i < ps->n; i++) free(ps->channel[i]);
    memset(ps, 0, sizeof *ps);
}

static void list_pos(store *s, const char *task, pos_seen *ps) {
    mcdc_err err = {0};
    memset(ps, 0, sizeof *ps);
    if (store_position_each(s, task, collect_pos, ps, &err) != 0) fail_msg("position_each %s: %s", task, err.msg);
}

static mq_msgid kafka_id(uint64_t offset) {
    mq_msgid id = {.len = 8};
    for (int i = 0; i < 8; i++) id.bytes[i] = (uint8_t)(offset >> (8 * i));
    return id;
}

static uint64_t kafka_offset(const mq_msgid *id) {
    assert_int_equal(id->len, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)id->bytes[i] << (8 * i);
    return v;
}

/* Bytes that a text-minded store would mangle: NULs, 0xff, high bit. */
static mq_msgid pattern_id(size_t len, uint8_t seed) {
    mq_msgid id = {.len = len};
    for (size_t i = 0; i < len; i++) id.bytes[i] = (uint8_t)(seed + i * 37u);
    if (len > 2) {
        id.bytes[1] = 0x00;
        id.bytes[len - 1] = 0xff;
    }
    return id;
}

static void assert_msgid_equal(const mq_msgid *a, const mq_msgid *b) {
    assert_int_equal(a->len, b->len);
    if (a->len) assert_memory_equal(a->bytes, b->bytes, a->len);
}

/* ---- tasks ---------------------------------------------------------------- */

static const char *SPEC_UTF8 =
    "{\"name\":\"caf\xc3\xa9 \xe6\x95\xb0\xe6\x8d\xae \xf0\x9f\x90\x9f\",\"q\":\"say \\\"hi\\\"\",\"bs\":\"a\\\\b\","
    "\"sq\":\"it's\",\"nl\":\"x\\ny\",\"tab\":\"\t\"}";

static void test_tasks_put_list_update_delete(void **state) {
    (void)state;
    store *s = open_ok("tasks.db");
    mcdc_err err = {0};
    put_task(s, "t1", SPEC_UTF8);
    put_task(s, "t2", "{}");
    put_task(s, "t0", "{\"x\":1}");

    store_task dup = {.id = "t1", .spec_json = "{\"other\":true}", .state = 1, .reason = "r"};
    assert_int_equal(store_task_put_new(s, &dup, &err), -1);
    assert_int_equal(err.code, MCDC_EEXIST);
    assert_non_null(strstr(err.msg, "t1"));

    assert_int_equal(store_task_update(s, "t2", 2, "target said: permission denied 'x' \"y\"", NULL, &err), 0);
    assert_int_equal(store_task_update(s, "nope", 1, "", NULL, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_equal(store_task_delete(s, "nope", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 3);
    /* Creation order, not id order. */
    assert_string_equal(ts.id[0], "t1");
    assert_string_equal(ts.id[1], "t2");
    assert_string_equal(ts.id[2], "t0");
    assert_int_equal(strlen(ts.spec[0]), strlen(SPEC_UTF8));
    assert_memory_equal(ts.spec[0], SPEC_UTF8, strlen(SPEC_UTF8));
    assert_int_equal(ts.state[0], 0);
    assert_string_equal(ts.reason[0], "");
    assert_int_equal(ts.state[1], 2);
    assert_string_equal(ts.reason[1], "target said: permission denied 'x' \"y\"");
    tasks_free(&ts);

    assert_int_equal(store_task_delete(s, "t1", &err), 0);
    assert_int_equal(store_task_delete(s, "t1", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    /* A new task goes last, even with an id that existed before. */
    put_task(s, "t1", "{\"again\":1}");
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 3);
    assert_string_equal(ts.id[0], "t2");
    assert_string_equal(ts.id[1], "t0");
    assert_string_equal(ts.id[2], "t1");
    assert_string_equal(ts.spec[2], "{\"again\":1}");
    tasks_free(&ts);

    /* Everything is still there after a reopen. */
    store_close(s);
    s = open_ok("tasks.db");
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 3);
    assert_string_equal(ts.id[0], "t2");
    assert_int_equal(ts.state[0], 2);
    tasks_free(&ts);

    store_task bad = {.id = "", .spec_json = "{}", .reason = ""};
    assert_int_equal(store_task_put_new(s, &bad, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    store_close(s);
}

static void test_memory_store(void **state) {
    (void)state;
    store *s = open_ok(":memory:");
    put_task(s, "m", "{}");
    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 1);
    tasks_free(&ts);
    store_close(s);
}

/* One process owns every task of its SQLite file: claim and owner say so
 * for a task that exists, and name a missing one. */
static void test_sqlite_owns_its_tasks(void **state) {
    (void)state;
    store *s = open_ok(":memory:");
    mcdc_err err;
    bool owned = false, mine = false;
    char *url = (char *)"x";
    assert_string_equal(store_instance_id(s), "local");
    assert_int_equal(store_task_claim(s, "t", &owned, &url, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_null(url);
    put_task(s, "t", "{}");
    assert_int_equal(store_task_claim(s, "t", &owned, &url, &err), 0);
    assert_true(owned);
    assert_null(url);
    assert_int_equal(store_task_owner(s, "t", &mine, &url, &err), 0);
    assert_true(mine);
    assert_true(store_task_owned(s, "t"));
    assert_int_equal(store_task_release(s, "t", &err), 0);
    assert_int_equal(store_wait_change(s, 10, &err), 0);
    store_close(s);
}

/* ---- positions ------------------------------------------------------------- */

static void test_positions_round_trip(void **state) {
    (void)state;
    store *s = open_ok("pos.db");
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    put_task(s, "b", "{}");

    mq_msgid empty = {.len = 0};
    mq_msgid kafka = kafka_id(0x0102030405060708ull);
    mq_msgid pulsar = pattern_id(30, 7);
    mq_msgid full = pattern_id(MQ_MSGID_MAX, 200);
    uint64_t big_ts = UINT64_MAX; /* bit-exact through SQLite's signed integers */

    /* A new task has no positions; an unknown one is an error. */
    pos_seen ps;
    list_pos(s, "a", &ps);
    assert_int_equal(ps.n, 0);
    assert_int_equal(store_position_each(s, "zz", collect_pos, &ps, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    assert_int_equal(store_checkpoint_save(s, "a", "dml_1", &kafka, 449000000000000001ull, &err), 0);
    assert_int_equal(store_intent_save(s, "a", "dml_1", &pulsar, big_ts, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "a", "dml_0", &empty, 0, &err), 0);
    assert_int_equal(store_intent_save(s, "a", "dml_2", &full, 5, &err), 0); /* intent before any checkpoint */
    assert_int_equal(store_checkpoint_save(s, "b", "dml_0", &pulsar, 77, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "b", "dml_0", &kafka, 78, &err), 0); /* overwrite */
    assert_int_equal(store_checkpoint_save(s, "b", "dml_1", NULL, 9, &err), 0);    /* NULL = none */

    /* A save for a task that is gone must not leave a position behind. */
    assert_int_equal(store_checkpoint_save(s, "gone", "dml_0", &kafka, 1, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "checkpoint of task gone channel dml_0"));
    assert_int_equal(store_intent_save(s, "gone", "dml_0", &kafka, 1, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    mq_msgid too_long = {.len = MQ_MSGID_MAX + 1};
    assert_int_equal(store_checkpoint_save(s, "a", "dml_0", &too_long, 1, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);

    /* One channel's positions, found or not. */
    store_position one;
    bool found;
    assert_int_equal(store_position_find(s, "a", "dml_1", &one, &found, &err), 0);
    assert_true(found);
    assert_string_equal(one.channel, "dml_1");
    assert_msgid_equal(&one.checkpoint, &kafka);
    assert_msgid_equal(&one.intent, &pulsar);
    assert_int_equal(store_position_find(s, "a", "dml_9", &one, &found, &err), 0);
    assert_false(found);
    assert_int_equal(one.checkpoint.len, 0);
    assert_int_equal(one.intent.len, 0);
    assert_int_equal(store_position_find(s, "zz", "dml_1", &one, &found, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    for (int round = 0; round < 2; round++) {
        list_pos(s, "a", &ps);
        assert_int_equal(ps.n, 3);
        assert_string_equal(ps.p[0].channel, "dml_0");
        assert_int_equal(ps.p[0].checkpoint.len, 0);
        assert_int_equal(ps.p[0].checkpoint_ts, 0);
        assert_int_equal(ps.p[0].intent.len, 0);
        assert_string_equal(ps.p[1].channel, "dml_1");
        assert_msgid_equal(&ps.p[1].checkpoint, &kafka);
        assert_int_equal(ps.p[1].checkpoint_ts, 449000000000000001ull);
        assert_msgid_equal(&ps.p[1].intent, &pulsar);
        assert_true(ps.p[1].intent_ts == big_ts);
        assert_string_equal(ps.p[2].channel, "dml_2");
        assert_int_equal(ps.p[2].checkpoint.len, 0);
        assert_msgid_equal(&ps.p[2].intent, &full);
        assert_int_equal(ps.p[2].intent_ts, 5);
        pos_free(&ps);

        list_pos(s, "b", &ps);
        assert_int_equal(ps.n, 2);
        assert_msgid_equal(&ps.p[0].checkpoint, &kafka);
        assert_int_equal(ps.p[0].checkpoint_ts, 78);
        assert_int_equal(ps.p[0].intent.len, 0);
        assert_int_equal(ps.p[1].checkpoint.len, 0);
        assert_int_equal(ps.p[1].checkpoint_ts, 9);
        pos_free(&ps);

        store_close(s);
        s = open_ok("pos.db");
    }

    /* Deleting a task takes its positions; a new task of that id starts clean. */
    assert_int_equal(store_task_delete(s, "a", &err), 0);
    put_task(s, "a", "{}");
    list_pos(s, "a", &ps);
    assert_int_equal(ps.n, 0);
    list_pos(s, "b", &ps);
    assert_int_equal(ps.n, 2);
    pos_free(&ps);
    store_close(s);
}

/* ---- callbacks ------------------------------------------------------------- */

typedef struct reentry {
    store *s;
    int tasks, positions;
} reentry;

static int count_pos(void *ud, const store_position *p) {
    (void)p;
    ((reentry *)ud)->positions++;
    return 0;
}

/* What a task manager does at start-up: for each task, read its positions. */
static int task_reads_positions(void *ud, const store_task *t) {
    reentry *r = ud;
    mcdc_err err = {0};
    r->tasks++;
    if (store_position_each(r->s, t->id, count_pos, r, &err) != 0) fail_msg("%s", err.msg);
    mq_msgid id = kafka_id(1);
    if (store_checkpoint_save(r->s, t->id, "extra", &id, 1, &err) != 0) fail_msg("%s", err.msg);
    return 0;
}

static int stop_at_second(void *ud, const store_task *t) {
    (void)t;
    return ++*(int *)ud == 2 ? 42 : 0;
}

static void test_callbacks_may_reenter_and_stop(void **state) {
    (void)state;
    store *s = open_ok("cb.db");
    mcdc_err err = {0};
    put_task(s, "x", "{}");
    put_task(s, "y", "{}");
    put_task(s, "z", "{}");
    mq_msgid id = kafka_id(5);
    assert_int_equal(store_checkpoint_save(s, "x", "c1", &id, 5, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "x", "c2", &id, 5, &err), 0);

    reentry r = {s, 0, 0};
    assert_int_equal(store_task_each(s, task_reads_positions, &r, &err), 0);
    assert_int_equal(r.tasks, 3);
    assert_int_equal(r.positions, 2);

    int calls = 0;
    assert_int_equal(store_task_each(s, stop_at_second, &calls, &err), 42);
    assert_int_equal(calls, 2);
    store_close(s);
}

/* ---- crash durability ----------------------------------------------------- */

#define CRASH_ROUNDS 6

/* The child does what a channel worker does per batch: intent, then (after
 * the target's ack) checkpoint, and only then counts the batch as done. It
 * also saves copy progress after each checkpoint, as a copier does after a
 * page: the same promise, checked the same way. */
static void crash_child(int wfd) {
    mcdc_err err = {0};
    store *s = store_open_sqlite(path_in("crash.db"), &err);
    if (!s) _exit(2);
    for (uint64_t i = 1;; i++) {
        mq_msgid id = kafka_id(i);
        char json[48];
        snprintf(json, sizeof json, "{\"page\":%llu}", (unsigned long long)i);
        if (store_intent_save(s, "t", "dml_0", &id, i, &err) != 0) _exit(3);
        if (store_checkpoint_save(s, "t", "dml_0", &id, i, &err) != 0) _exit(4);
        if (store_copy_save(s, "t", 7, json, &err) != 0) _exit(6);
        if (write(wfd, &i, sizeof i) != (ssize_t)sizeof i) _exit(5);
    }
}

static int copy_page(void *ud, int64_t source_id, const char *state_json) {
    assert_int_equal(source_id, 7);
    unsigned long long page;
    assert_int_equal(sscanf(state_json, "{\"page\":%llu}", &page), 1);
    *(uint64_t *)ud = page;
    return 0;
}

static bool read_ack(int fd, uint64_t *v) {
    size_t got = 0;
    while (got < sizeof *v) {
        ssize_t n = read(fd, (char *)v + got, sizeof *v - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        got += (size_t)n;
    }
    return true;
}

static void test_crash_durability(void **state) {
    (void)state;
    store *s = open_ok("crash.db");
    put_task(s, "t", "{}");
    store_close(s);

    unsigned seed = (unsigned)(mcdc_now_mono_ns() ^ (uint64_t)getpid());
    printf("[ store ] crash test seed %u\n", seed);
    srand(seed);
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(fds[1]);
        }
        close(fds[1]);
        /* Kill somewhere between a few saves and a few WAL checkpoints'
         * worth (one every ~1000 pages), at a random point within a save. */
        uint64_t want = 10 + (uint64_t)(rand() % 3000), last_acked = 0, v;
        while (last_acked < want && read_ack(fds[0], &v)) last_acked = v;
        struct timespec pause = {0, (long)(rand() % 2000) * 1000};
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        while (read_ack(fds[0], &v)) last_acked = v; /* acks already in the pipe */
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status)) fail_msg("child did not die by the signal: status %d", status);

        s = open_ok("crash.db");
        pos_seen ps;
        list_pos(s, "t", &ps);
        assert_int_equal(ps.n, 1);
        uint64_t cp = ps.p[0].checkpoint_ts, in = ps.p[0].intent_ts;
        printf("[ store ] round %d: acked %llu, stored checkpoint %llu intent %llu\n", round,
               (unsigned long long)last_acked, (unsigned long long)cp, (unsigned long long)in);
        /* Nothing acknowledged is lost; nothing unattempted appears. */
        assert_true(cp >= last_acked);
        assert_true(cp <= last_acked + 1);
        assert_true(in >= cp && in <= cp + 1);
        assert_int_equal(kafka_offset(&ps.p[0].checkpoint), cp);
        assert_int_equal(kafka_offset(&ps.p[0].intent), in);
        pos_free(&ps);
        uint64_t page = 0;
        mcdc_err err = {0};
        assert_int_equal(store_copy_each(s, "t", copy_page, &page, &err), 0);
        printf("[ store ] round %d: stored copy page %llu\n", round, (unsigned long long)page);
        assert_true(page >= last_acked && page <= last_acked + 1);
        assert_true(page == cp || page + 1 == cp);
        store_close(s);

        sqlite3 *db;
        assert_int_equal(sqlite3_open(path_in("crash.db"), &db), SQLITE_OK);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
}

/* ---- concurrency ---------------------------------------------------------- */

#define CONTENTION_SAVES 400

typedef struct worker {
    store *s;
    const char *channel; /* NULL: a reader / task updater */
    int errors;
    char first_error[MCDC_ERR_MSG_MAX];
} worker;

static void worker_failed(worker *w, const mcdc_err *err) {
    if (w->errors++ == 0) snprintf(w->first_error, sizeof w->first_error, "%s", err->msg);
}

static int count_nothing(void *ud, const store_position *p) {
    (void)ud;
    (void)p;
    return 0;
}

static void *worker_run(void *arg) {
    worker *w = arg;
    mcdc_err err = {0};
    for (uint64_t i = 1; i <= CONTENTION_SAVES; i++) {
        if (w->channel) {
            mq_msgid id = kafka_id(i);
            if (store_intent_save(w->s, "t", w->channel, &id, i, &err) != 0) worker_failed(w, &err);
            if (store_checkpoint_save(w->s, "t", w->channel, &id, i, &err) != 0) worker_failed(w, &err);
        } else {
            if (store_position_each(w->s, "t", count_nothing, NULL, &err) != 0) worker_failed(w, &err);
            if (i % 4 == 0 && store_task_update(w->s, "t", (int)(i % 3), "", NULL, &err) != 0) worker_failed(w, &err);
        }
    }
    return NULL;
}

/* Two connections, as two processes would have, plus threads sharing each. */
static void test_two_connections_under_contention(void **state) {
    (void)state;
    store *a = open_ok("shared.db");
    store *b = open_ok("shared.db");
    put_task(a, "t", "{}");

    worker w[5] = {{a, "c_a", 0, ""}, {b, "c_b", 0, ""}, {a, "c_a2", 0, ""}, {b, NULL, 0, ""}, {a, NULL, 0, ""}};
    pthread_t th[5];
    uint64_t t0 = mcdc_now_mono_ns();
    for (int i = 0; i < 5; i++) assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    for (int i = 0; i < 5; i++) pthread_join(th[i], NULL);
    double secs = (double)(mcdc_now_mono_ns() - t0) / 1e9;
    for (int i = 0; i < 5; i++)
        if (w[i].errors) fail_msg("worker %d: %d errors, first: %s", i, w[i].errors, w[i].first_error);
    printf("[ store ] contention: %d saves over 2 connections in %.2f s\n", 3 * 2 * CONTENTION_SAVES, secs);

    /* Each connection sees the other's writes. */
    pos_seen ps;
    list_pos(a, "t", &ps);
    assert_int_equal(ps.n, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(ps.p[i].checkpoint_ts, CONTENTION_SAVES);
    pos_free(&ps);
    mcdc_err err = {0};
    assert_int_equal(store_task_delete(b, "t", &err), 0);
    assert_int_equal(store_position_each(a, "t", count_nothing, NULL, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    store_close(a);
    store_close(b);
}

typedef struct opener {
    const char *path;
    store *s;
    mcdc_err err;
} opener;

static void *open_run(void *arg) {
    opener *o = arg;
    o->s = store_open_sqlite(o->path, &o->err);
    return NULL;
}

/* Several connections starting at once on a file that does not exist yet:
 * each must get a store, and the schema must be created once. The path is
 * copied before the threads start: path_in's buffer is not for sharing. */
static void test_concurrent_create(void **state) {
    (void)state;
    char *path = mcdc_xstrdup(path_in("fresh.db"));
    opener o[4] = {0};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        o[i].path = path;
        assert_int_equal(pthread_create(&th[i], NULL, open_run, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        if (!o[i].s) fail_msg("opener %d: %s", i, o[i].err.msg);
    put_task(o[0].s, "t", "{}");
    tasks_seen ts;
    list_tasks(o[3].s, &ts);
    assert_int_equal(ts.n, 1);
    tasks_free(&ts);
    for (int i = 0; i < 4; i++) store_close(o[i].s);
    free(path);
}

/* The same with processes, as two mcdc (or mcdc and a tool) would be: each
 * child waits for the pipe to close so all start together, opens the fresh
 * file and adds its own task. */
static void test_concurrent_create_processes(void **state) {
    (void)state;
    enum { N = 4 };
    char *path = mcdc_xstrdup(path_in("fresh_procs.db"));
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid[N];
    fflush(NULL);
    for (int i = 0; i < N; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            close(go[1]);
            char c;
            while (read(go[0], &c, 1) < 0 && errno == EINTR) {
            }
            mcdc_err err = {0};
            store *s = store_open_sqlite(path, &err);
            char id[8];
            snprintf(id, sizeof id, "p%d", i);
            store_task t = {.id = id, .spec_json = "{}", .reason = ""};
            if (!s || store_task_put_new(s, &t, &err) != 0) {
                fprintf(stderr, "child %d: %s\n", i, err.msg);
                _exit(1);
            }
            store_close(s);
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < N; i++) {
        int status;
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("child %d failed: status %d", i, status);
    }
    store *s = open_ok("fresh_procs.db");
    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, N);
    tasks_free(&ts);
    store_close(s);
    free(path);
}

/* ---- file modes ------------------------------------------------------------- */

static unsigned mode_of(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) fail_msg("stat %s: %s", path, strerror(errno));
    return (unsigned)(st.st_mode & 07777);
}

/* Even with a umask that lets SQLite make 0666 files, the store and the
 * -wal and -shm beside it are the owner's alone. */
static void test_new_file_is_private(void **state) {
    (void)state;
    mode_t old = umask(0);
    store *s = open_ok("private.db");
    umask(old);
    put_task(s, "t", "{\"password\":\"secret\"}");
    assert_int_equal(mode_of(path_in("private.db")), 0600);
    assert_int_equal(mode_of(path_in("private.db-wal")), 0600);
    assert_int_equal(mode_of(path_in("private.db-shm")), 0600);
    store_close(s);
    /* ":memory:" is no file and stays usable (test_memory_store). */
}

static void expect_refused_mode(const char *open_path, const char *named, const char *mode) {
    mcdc_err err = {0};
    store *s = store_open_sqlite(open_path, &err);
    if (s) {
        store_close(s);
        fail_msg("opened %s although %s is %s", open_path, named, mode);
    }
    assert_int_equal(err.code, MCDC_EINVAL);
    if (!strstr(err.msg, named) || !strstr(err.msg, mode) || !strstr(err.msg, "chmod 600"))
        fail_msg("error '%s' lacks '%s', '%s' or the fix", err.msg, named, mode);
}

/* A store others may read (what an older mcdc made under umask 022) is
 * refused with the file, its mode and the fix; after the fix it opens. */
static void test_shared_file_is_refused(void **state) {
    (void)state;
    char *db = mcdc_xstrdup(path_in("shared_mode.db")), *wal = mcdc_xstrdup(path_in("shared_mode.db-wal"));
    store *s = open_ok("shared_mode.db");
    put_task(s, "t", "{}");
    store_close(s);

    assert_int_equal(chmod(db, 0644), 0);
    expect_refused_mode(db, db, "0644");
    assert_int_equal(chmod(db, 0640), 0);
    expect_refused_mode(db, db, "0640");
    assert_int_equal(chmod(db, 0600), 0);

    /* A -wal left behind readable holds the same rows. */
    write_file(wal, "", 0);
    assert_int_equal(chmod(wal, 0644), 0);
    expect_refused_mode(db, wal, "0644");
    assert_int_equal(chmod(wal, 0600), 0);

    s = open_ok("shared_mode.db");
    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 1);
    tasks_free(&ts);
    store_close(s);
    free(db);
    free(wal);
}

/* ---- files that are not ours ------------------------------------------- */

static void expect_open_fails(const char *path, const char *needle) {
    mcdc_err err = {0};
    store *s = store_open_sqlite(path, &err);
    if (s) {
        store_close(s);
        fail_msg("opened %s", path);
    }
    assert_int_equal(err.code, MCDC_EIO);
    if (!strstr(err.msg, needle)) fail_msg("error '%s' lacks '%s'", err.msg, needle);
    assert_non_null(strstr(err.msg, path));
}

static void raw_exec(const char *path, const char *sql) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
    assert_int_equal(chmod(path, 0600), 0); /* as write_file */
}

static void test_refuses_files_that_are_not_ours(void **state) {
    (void)state;
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)("not a database\n"[i % 15]);
    write_file(path_in("junk.db"), junk, sizeof junk);
    expect_open_fails(path_in("junk.db"), "not a database");
    /* The file is left as it was. */
    FILE *f = fopen(path_in("junk.db"), "rb");
    char back[sizeof junk];
    assert_int_equal(fread(back, 1, sizeof back, f), sizeof back);
    fclose(f);
    assert_memory_equal(back, junk, sizeof junk);

    store *s = open_ok("newer.db");
    store_close(s);
    raw_exec(path_in("newer.db"), "PRAGMA user_version = 99");
    expect_open_fails(path_in("newer.db"), "schema version 99");
    /* A version mcdc never writes must not index its migrations. */
    raw_exec(path_in("newer.db"), "PRAGMA user_version = -1");
    expect_open_fails(path_in("newer.db"), "schema version -1 was never written");

    raw_exec(path_in("other.db"), "CREATE TABLE notes(x)");
    expect_open_fails(path_in("other.db"), "another program");

    expect_open_fails(path_in("no/such/dir/x.db"), "unable to open");
}

/* ---- bindings ------------------------------------------------------------- */

typedef struct bindings_seen {
    store_binding b[8];
    char names[8][64];
    size_t n;
} bindings_seen;

static int collect_binding(void *ud, const store_binding *b) {
    bindings_seen *bs = ud;
    bs->b[bs->n] = *b;
    snprintf(bs->names[bs->n], sizeof bs->names[0], "%s.%s", b->target_db, b->target_name);
    bs->n++;
    return 0;
}

/* Rule: a binding is saved and replaced per (task, source id), listed in
 * source id order, refused for a task that does not exist, and goes with
 * its task. */
static void test_bindings_round_trip(void **state) {
    (void)state;
    store *s = open_ok("bind.db");
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    store_binding b = {.source_id = 20, .target_db = "default", .target_name = "c", .state = STORE_BINDING_CREATING};
    assert_int_equal(store_binding_save(s, "a", &b, &err), 0);
    store_binding c = {.source_id = 7, .target_db = "db1", .target_name = "x", .target_id = 99,
                       .state = STORE_BINDING_LIVE, .ts = UINT64_MAX - 3};
    assert_int_equal(store_binding_save(s, "a", &c, &err), 0);
    b.target_id = 42;
    b.state = STORE_BINDING_LIVE;
    b.target_name = "d";
    assert_int_equal(store_binding_save(s, "a", &b, &err), 0);
    bindings_seen bs = {0};
    assert_int_equal(store_binding_each(s, "a", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 2);
    assert_int_equal(bs.b[0].source_id, 7);
    assert_true(bs.b[0].ts == UINT64_MAX - 3);
    assert_string_equal(bs.names[0], "db1.x");
    assert_int_equal(bs.b[1].target_id, 42);
    assert_int_equal(bs.b[1].state, STORE_BINDING_LIVE);
    assert_string_equal(bs.names[1], "default.d");

    assert_int_equal(store_binding_save(s, "nope", &b, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_binding_each(s, "nope", collect_binding, &bs, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    assert_int_equal(store_task_delete(s, "a", &err), 0);
    put_task(s, "a", "{}");
    bs.n = 0;
    assert_int_equal(store_binding_each(s, "a", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 0); /* a new task of the same id inherits nothing */
    store_close(s);
}

static int stop_at_second_binding(void *ud, const store_binding *b) {
    (void)b;
    return ++*(int *)ud == 2 ? 7 : 0;
}

/* Rule: one binding can be deleted, durably, leaving the task's others; a
 * binding that is not there (deleted already, never saved, no such task) is
 * MCDC_ENOTFOUND. Arguments no backend should see are refused, and a walk
 * stops when fn says so. */
static void test_binding_delete_and_checks(void **state) {
    (void)state;
    store *s = open_ok("bind_delete.db");
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    put_task(s, "b", "{}");
    for (int64_t id = 1; id <= 3; id++) {
        store_binding b = {.source_id = id, .target_db = "default", .target_name = "c", .state = STORE_BINDING_LIVE};
        assert_int_equal(store_binding_save(s, "a", &b, &err), 0);
        assert_int_equal(store_binding_save(s, "b", &b, &err), 0);
    }
    assert_int_equal(store_binding_delete(s, "a", 2, &err), 0);
    assert_int_equal(store_binding_delete(s, "a", 2, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "task a source collection 2"));
    assert_int_equal(store_binding_delete(s, "a", 99, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_binding_delete(s, "nope", 1, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_binding_delete(s, "", 1, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    store_close(s);

    s = open_ok("bind_delete.db");
    bindings_seen bs = {0};
    assert_int_equal(store_binding_each(s, "a", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 2);
    assert_int_equal(bs.b[0].source_id, 1);
    assert_int_equal(bs.b[1].source_id, 3);
    bs.n = 0;
    assert_int_equal(store_binding_each(s, "b", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 3); /* the other task's binding of the same source id is its own */

    store_binding bad = {.source_id = 1, .target_db = "default", .target_name = "", .state = STORE_BINDING_LIVE};
    assert_int_equal(store_binding_save(s, "a", &bad, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    bad.target_name = "c";
    bad.state = STORE_BINDING_DROPPED + 1;
    assert_int_equal(store_binding_save(s, "a", &bad, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);

    int calls = 0;
    assert_int_equal(store_binding_each(s, "b", stop_at_second_binding, &calls, &err), 7);
    assert_int_equal(calls, 2);
    store_close(s);
}

/* What schema versions 3 and 4 added, taken away again to make an older file. */
#define DROP_V4_TABLE "DROP TABLE copies;"
#define DROP_V3_COLUMNS                                                                                          \
    "ALTER TABLE tasks DROP COLUMN paused_channel; ALTER TABLE tasks DROP COLUMN paused_msgid;"                   \
    "ALTER TABLE tasks DROP COLUMN skip_channel; ALTER TABLE tasks DROP COLUMN skip_msgid;"

/* Rule: a store file of schema version 1 (before bindings) gains the table
 * when opened, and keeps its tasks. */
static void test_bindings_added_to_an_older_file(void **state) {
    (void)state;
    store *s = open_ok("v1.db");
    put_task(s, "old", "{}");
    store_close(s);
    raw_exec(path_in("v1.db"), DROP_V4_TABLE "DROP TABLE bindings;" DROP_V3_COLUMNS "PRAGMA user_version = 1");
    s = open_ok("v1.db");
    mcdc_err err = {0};
    store_binding b = {.source_id = 1, .target_db = "default", .target_name = "c", .state = STORE_BINDING_LIVE};
    assert_int_equal(store_binding_save(s, "old", &b, &err), 0);
    bindings_seen bs = {0};
    assert_int_equal(store_binding_each(s, "old", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 1);
    store_close(s);
}

static mq_msgid msgid_of(const char *bytes) {
    mq_msgid id = {.len = strlen(bytes)};
    memcpy(id.bytes, bytes, id.len);
    return id;
}

/* Rule: where a task is paused and the operator's skip are kept with the
 * task, each set and cleared on its own, and survive a reopen. */
static void test_pause_and_skip_round_trip(void **state) {
    (void)state;
    store *s = open_ok("skip.db");
    mcdc_err err = {0};
    put_task(s, "p", "{}");
    store_msg_ref at = {.channel = "by-dev-rootcoord-dml_3", .id = msgid_of("\x01\x02\x03")};
    assert_int_equal(store_task_update(s, "p", 2, "channel by-dev-rootcoord-dml_3 position 7: bad", &at, &err), 0);
    assert_int_equal(store_task_set_skip(s, "p", &at, &err), 0);
    assert_int_equal(store_task_set_skip(s, "nope", &at, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    store_msg_ref huge = {.channel = "c", .id = {.len = MQ_MSGID_MAX + 1}};
    assert_int_equal(store_task_set_skip(s, "p", &huge, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    store_close(s);

    s = open_ok("skip.db");
    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 1);
    assert_string_equal(ts.paused_channel[0], "by-dev-rootcoord-dml_3");
    assert_int_equal(ts.paused_id[0].len, 3);
    assert_memory_equal(ts.paused_id[0].bytes, "\x01\x02\x03", 3);
    assert_string_equal(ts.skip_channel[0], "by-dev-rootcoord-dml_3");
    assert_memory_equal(ts.skip_id[0].bytes, "\x01\x02\x03", 3);
    tasks_free(&ts);

    /* Resumed: no longer paused anywhere, the skip stays until taken. */
    assert_int_equal(store_task_update(s, "p", 1, "", NULL, &err), 0);
    list_tasks(s, &ts);
    assert_string_equal(ts.paused_channel[0], "");
    assert_int_equal(ts.paused_id[0].len, 0);
    assert_string_equal(ts.skip_channel[0], "by-dev-rootcoord-dml_3");
    tasks_free(&ts);
    /* Taken. */
    assert_int_equal(store_task_set_skip(s, "p", NULL, &err), 0);
    list_tasks(s, &ts);
    assert_string_equal(ts.skip_channel[0], "");
    assert_int_equal(ts.skip_id[0].len, 0);
    tasks_free(&ts);
    store_close(s);
}

/* Rule: a store file of schema version 2 (before pauses and skips were
 * kept) gains the columns when opened, and keeps its tasks, positions and
 * bindings. */
static void test_pause_columns_added_to_a_version_2_file(void **state) {
    (void)state;
    store *s = open_ok("v2.db");
    mcdc_err err = {0};
    put_task(s, "old", "{\"v\":2}");
    assert_int_equal(store_task_update(s, "old", 2, "paused by request", NULL, &err), 0);
    mq_msgid ck = msgid_of("\x09");
    assert_int_equal(store_checkpoint_save(s, "old", "ch", &ck, 5, &err), 0);
    store_binding b = {.source_id = 1, .target_db = "default", .target_name = "c", .state = STORE_BINDING_LIVE};
    assert_int_equal(store_binding_save(s, "old", &b, &err), 0);
    store_close(s);
    raw_exec(path_in("v2.db"), DROP_V4_TABLE DROP_V3_COLUMNS "PRAGMA user_version = 2");

    s = open_ok("v2.db");
    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 1);
    assert_string_equal(ts.id[0], "old");
    assert_string_equal(ts.spec[0], "{\"v\":2}");
    assert_int_equal(ts.state[0], 2);
    assert_string_equal(ts.reason[0], "paused by request");
    assert_string_equal(ts.paused_channel[0], "");
    assert_string_equal(ts.skip_channel[0], "");
    tasks_free(&ts);
    pos_seen ps = {0};
    assert_int_equal(store_position_each(s, "old", collect_pos, &ps, &err), 0);
    assert_int_equal(ps.n, 1);
    assert_int_equal(ps.p[0].checkpoint_ts, 5);
    pos_free(&ps);
    bindings_seen bs = {0};
    assert_int_equal(store_binding_each(s, "old", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 1);
    store_msg_ref at = {.channel = "ch", .id = ck};
    assert_int_equal(store_task_set_skip(s, "old", &at, &err), 0);
    store_close(s);
}

/* ---- copy progress ---------------------------------------------------------- */

typedef struct copies_seen {
    size_t n;
    int64_t source_id[MAX_ROWS];
    char *json[MAX_ROWS];
} copies_seen;

static int collect_copy(void *ud, int64_t source_id, const char *state_json) {
    copies_seen *cs = ud;
    assert_true(cs->n < MAX_ROWS);
    cs->source_id[cs->n] = source_id;
    cs->json[cs->n] = mcdc_xstrdup(state_json);
    cs->n++;
    return 0;
}

static void copies_free(copies_seen *cs) {
    for (size_t i = 0; i < cs->n; i++) free(cs->json[i]);
    memset(cs, 0, sizeof *cs);
}

static void list_copies(store *s, const char *task, copies_seen *cs) {
    mcdc_err err = {0};
    memset(cs, 0, sizeof *cs);
    if (store_copy_each(s, task, collect_copy, cs, &err) != 0) fail_msg("copy_each %s: %s", task, err.msg);
}

/* Larger than a page of the file, so that it spills to overflow pages. */
static char *big_json(size_t n) {
    char *j = mcdc_xmalloc(n + 1);
    static const char PART[] = "{\"partition\":\"caf\xc3\xa9\",\"after\":-9223372036854775808},";
    size_t len = 0;
    j[len++] = '[';
    while (len + sizeof PART + 1 < n) {
        memcpy(j + len, PART, sizeof PART - 1);
        len += sizeof PART - 1;
    }
    j[len - 1] = ']';
    j[len] = '\0';
    return j;
}

static int copy_deletes_itself(void *ud, int64_t source_id, const char *state_json) {
    (void)state_json;
    mcdc_err err = {0};
    if (store_copy_delete(ud, "a", source_id, &err) != 0) fail_msg("delete from the callback: %s", err.msg);
    return 0;
}

static int stop_at_second_copy(void *ud, int64_t source_id, const char *state_json) {
    (void)source_id;
    (void)state_json;
    return ++*(int *)ud == 2 ? 9 : 0;
}

/* Rule: a copy's progress is saved and replaced per (task, source id),
 * byte-exact whatever the text, listed in source id order, kept across a
 * reopen, refused for a task that does not exist, deleted one by one, and
 * goes with its task. */
static void test_copies_round_trip(void **state) {
    (void)state;
    store *s = open_ok("copy.db");
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    put_task(s, "b", "{}");
    char *big = big_json(64 * 1024);
    assert_int_equal(store_copy_save(s, "a", 300, "{\"phase\":\"copying\"}", &err), 0);
    assert_int_equal(store_copy_save(s, "a", -5, SPEC_UTF8, &err), 0);
    assert_int_equal(store_copy_save(s, "a", INT64_MAX, "", &err), 0);
    assert_int_equal(store_copy_save(s, "a", 300, big, &err), 0); /* replaces */
    assert_int_equal(store_copy_save(s, "b", 300, "{\"of\":\"b\"}", &err), 0);
    store_close(s);

    s = open_ok("copy.db");
    copies_seen cs;
    list_copies(s, "a", &cs);
    assert_int_equal(cs.n, 3);
    assert_int_equal(cs.source_id[0], -5);
    assert_string_equal(cs.json[0], SPEC_UTF8);
    assert_int_equal(cs.source_id[1], 300);
    assert_string_equal(cs.json[1], big);
    assert_int_equal(cs.source_id[2], INT64_MAX);
    assert_string_equal(cs.json[2], "");
    copies_free(&cs);
    list_copies(s, "b", &cs); /* the other task's copy of the same source id is its own */
    assert_int_equal(cs.n, 1);
    assert_string_equal(cs.json[0], "{\"of\":\"b\"}");
    copies_free(&cs);
    free(big);

    int calls = 0;
    assert_int_equal(store_copy_each(s, "a", stop_at_second_copy, &calls, &err), 9);
    assert_int_equal(calls, 2);

    /* No such task, no such copy. */
    assert_int_equal(store_copy_save(s, "nope", 1, "{}", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "task nope source collection 1"));
    assert_int_equal(store_copy_each(s, "nope", collect_copy, &cs, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_copy_delete(s, "a", 99, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "task a source collection 99"));
    assert_int_equal(store_copy_delete(s, "nope", 300, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    /* Arguments no backend should see. */
    assert_int_equal(store_copy_save(s, "", 1, "{}", &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_int_equal(store_copy_save(s, NULL, 1, "{}", &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_int_equal(store_copy_save(s, "a", 1, NULL, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_non_null(strstr(err.msg, "task a source collection 1"));
    assert_int_equal(store_copy_each(s, "", collect_copy, &cs, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_int_equal(store_copy_delete(s, NULL, 1, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);

    /* One deleted, durably; the others stay. */
    assert_int_equal(store_copy_delete(s, "a", -5, &err), 0);
    assert_int_equal(store_copy_delete(s, "a", -5, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    store_close(s);
    s = open_ok("copy.db");
    list_copies(s, "a", &cs);
    assert_int_equal(cs.n, 2);
    assert_int_equal(cs.source_id[0], 300);
    copies_free(&cs);

    /* A callback may call the store: the lock is not held during fn. */
    assert_int_equal(store_copy_each(s, "a", copy_deletes_itself, s, &err), 0);
    list_copies(s, "a", &cs);
    assert_int_equal(cs.n, 0);
    assert_int_equal(store_copy_save(s, "a", 1, "{}", &err), 0);

    /* The task's delete takes its copies, not another task's. */
    assert_int_equal(store_task_delete(s, "a", &err), 0);
    put_task(s, "a", "{}");
    list_copies(s, "a", &cs);
    assert_int_equal(cs.n, 0); /* a new task of the same id inherits nothing */
    list_copies(s, "b", &cs);
    assert_int_equal(cs.n, 1);
    copies_free(&cs);
    store_close(s);
}

static long long raw_int(const char *path, const char *sql) {
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Rule: a store file of schema version 3 (before copies were kept) gains
 * the table when opened, at version 4, and keeps its tasks, positions,
 * bindings, pauses and skips. */
static void test_copies_added_to_a_version_3_file(void **state) {
    (void)state;
    store *s = open_ok("v3.db");
    mcdc_err err = {0};
    put_task(s, "old", "{\"v\":3}");
    store_msg_ref at = {.channel = "ch", .id = msgid_of("\x07")};
    assert_int_equal(store_task_update(s, "old", 2, "paused", &at, &err), 0);
    assert_int_equal(store_task_set_skip(s, "old", &at, &err), 0);
    mq_msgid ck = msgid_of("\x09");
    assert_int_equal(store_checkpoint_save(s, "old", "ch", &ck, 5, &err), 0);
    store_binding b = {.source_id = 1, .target_db = "default", .target_name = "c", .state = STORE_BINDING_LIVE};
    assert_int_equal(store_binding_save(s, "old", &b, &err), 0);
    store_close(s);
    raw_exec(path_in("v3.db"), DROP_V4_TABLE "PRAGMA user_version = 3");
    assert_int_equal(raw_int(path_in("v3.db"), "SELECT count(*) FROM sqlite_schema WHERE name = 'copies'"), 0);

    s = open_ok("v3.db");
    assert_int_equal(raw_int(path_in("v3.db"), "PRAGMA user_version"), 4);
    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 1);
    assert_string_equal(ts.spec[0], "{\"v\":3}");
    assert_int_equal(ts.state[0], 2);
    assert_string_equal(ts.reason[0], "paused");
    assert_string_equal(ts.paused_channel[0], "ch");
    assert_msgid_equal(&ts.paused_id[0], &at.id);
    assert_string_equal(ts.skip_channel[0], "ch");
    tasks_free(&ts);
    pos_seen ps;
    list_pos(s, "old", &ps);
    assert_int_equal(ps.n, 1);
    assert_msgid_equal(&ps.p[0].checkpoint, &ck);
    pos_free(&ps);
    bindings_seen bs = {0};
    assert_int_equal(store_binding_each(s, "old", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 1);
    copies_seen cs;
    list_copies(s, "old", &cs);
    assert_int_equal(cs.n, 0);
    assert_int_equal(store_copy_save(s, "old", 1, "{\"phase\":\"copying\"}", &err), 0);
    store_close(s);

    s = open_ok("v3.db"); /* at version 4 now: opened as it is */
    list_copies(s, "old", &cs);
    assert_int_equal(cs.n, 1);
    assert_string_equal(cs.json[0], "{\"phase\":\"copying\"}");
    copies_free(&cs);
    store_close(s);
}

/* A SQLite header over damaged pages: errors from every call, never a crash. */
static void test_damaged_file(void **state) {
    (void)state;
    store *s = open_ok("damaged.db");
    mcdc_err err = {0};
    for (int i = 0; i < 8; i++) {
        char id[16];
        snprintf(id, sizeof id, "task-%d", i);
        put_task(s, id, SPEC_UTF8);
        mq_msgid m = kafka_id((uint64_t)i);
        assert_int_equal(store_checkpoint_save(s, id, "c", &m, 1, &err), 0);
    }
    store_close(s); /* checkpoints the WAL into the main file */

    FILE *f = fopen(path_in("damaged.db"), "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    assert_true(size >= 3 * 4096);
    char garbage[4096];
    memset(garbage, 0xA5, sizeof garbage);
    fseek(f, 4096, SEEK_SET); /* every page after the schema page */
    for (long off = 4096; off < size; off += 4096) fwrite(garbage, 1, sizeof garbage, f);
    fclose(f);

    s = store_open_sqlite(path_in("damaged.db"), &err);
    if (!s) {
        assert_int_equal(err.code, MCDC_EIO);
        return;
    }
    tasks_seen ts = {0};
    assert_int_equal(store_task_each(s, collect_task, &ts, &err), -1);
    tasks_free(&ts);
    assert_int_equal(err.code, MCDC_EIO);
    assert_non_null(strstr(err.msg, "store: listing tasks: "));
    printf("[ store ] damaged file: %s\n", err.msg);
    mq_msgid m = kafka_id(1);
    assert_int_equal(store_checkpoint_save(s, "task-1", "c", &m, 2, &err), -1);
    assert_int_equal(err.code, MCDC_EIO);
    store_close(s);
}

/* ---- numbers ----------------------------------------------------------------- */

static void test_save_rate(void **state) {
    (void)state;
    store *s = open_ok("rate.db");
    put_task(s, "t", "{}");
    mcdc_err err = {0};
    enum { N = 5000 };
    uint64_t t0 = mcdc_now_mono_ns();
    for (uint64_t i = 1; i <= N; i++) {
        mq_msgid id = kafka_id(i);
        if (store_checkpoint_save(s, "t", "dml_0", &id, i, &err) != 0) fail_msg("%s", err.msg);
    }
    double secs = (double)(mcdc_now_mono_ns() - t0) / 1e9;
    printf("[ store ] %d checkpoint saves in %.3f s: %.0f saves/s (%.1f us each)\n", N, secs, N / secs,
           secs * 1e6 / N);
    store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks_put_list_update_delete),
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_sqlite_owns_its_tasks),
        cmocka_unit_test(test_positions_round_trip),
        cmocka_unit_test(test_callbacks_may_reenter_and_stop),
        cmocka_unit_test(test_crash_durability),
        cmocka_unit_test(test_two_connections_under_contention),
        cmocka_unit_test(test_concurrent_create),
        cmocka_unit_test(test_concurrent_create_processes),
        cmocka_unit_test(test_new_file_is_private),
        cmocka_unit_test(test_shared_file_is_refused),
        cmocka_unit_test(test_refuses_files_that_are_not_ours),
        cmocka_unit_test(test_damaged_file),
        cmocka_unit_test(test_bindings_round_trip),
        cmocka_unit_test(test_binding_delete_and_checks),
        cmocka_unit_test(test_bindings_added_to_an_older_file),
        cmocka_unit_test(test_pause_and_skip_round_trip),
        cmocka_unit_test(test_pause_columns_added_to_a_version_2_file),
        cmocka_unit_test(test_copies_round_trip),
        cmocka_unit_test(test_copies_added_to_a_version_3_file),
        cmocka_unit_test(test_save_rate),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
