/* test_store_etcd.c — the etcd store (store.h, store_etcd*.c) and etcd_txn
 * against a real etcd: a private /usr/bin/etcd this program starts on free
 * loopback ports with its data in a temp dir, and kills at the end (exit 77,
 * skipped, when it is not installed). The SQLite store's rules hold the same
 * (round trips byte-exact, orders, error codes: test_store.c's cases), and
 * the ownership rules on top: two instances on one prefix, a write by the
 * one that does not own the task refused and changing nothing, a lease
 * revoked from outside moving the task to the other instance, which then
 * saves, while the first is refused and learns it; a task's delete taking
 * every key of it; two instances racing to claim 50 tasks, exactly one
 * owner each (MCDC_ETCD_RACE_ROUNDS rounds, 20 by default). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "etcd/etcd.h"
#include "store/store.h"

#define ETCD_BIN "/usr/bin/etcd"

static char g_dir[64];
static char g_endpoint[64];
static pid_t g_etcd = -1;

/* ---- the private etcd ------------------------------------------------------ */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &n)) abort();
    close(fd);
    return ntohs(a.sin_port);
}

static etcd_config raw_config(uint32_t timeout_ms) {
    return (etcd_config){.endpoints = g_endpoint, .timeout_ms = timeout_ms};
}

static int start_etcd(void **state) {
    (void)state;
    /* tmpfs when there is one: etcd fsyncs every write, and the race test
     * makes tens of thousands. */
    snprintf(g_dir, sizeof g_dir, "%s/mcdc_etcd_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    int cport = free_port(), pport = free_port();
    char client[64], peer[64], cluster[96], data[128], logp[128];
    snprintf(g_endpoint, sizeof g_endpoint, "127.0.0.1:%d", cport);
    snprintf(client, sizeof client, "http://127.0.0.1:%d", cport);
    snprintf(peer, sizeof peer, "http://127.0.0.1:%d", pport);
    snprintf(cluster, sizeof cluster, "t=%s", peer);
    snprintf(data, sizeof data, "%s/data", g_dir);
    snprintf(logp, sizeof logp, "%s/etcd.log", g_dir);
    g_etcd = fork();
    if (g_etcd < 0) return -1;
    if (g_etcd == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(ETCD_BIN, ETCD_BIN, "--name", "t", "--data-dir", data, "--listen-client-urls", client,
              "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
              "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = mcdc_now_mono_ms() + 30000;
    while (mcdc_now_mono_ms() < deadline) {
        int st;
        if (waitpid(g_etcd, &st, WNOHANG) == g_etcd) {
            fprintf(stderr, "etcd exited; see %s\n", logp);
            g_etcd = -1;
            return -1;
        }
        mcdc_err err;
        etcd_config ec = raw_config(500);
        etcd_client *c = etcd_open(&ec, &err);
        if (c) {
            etcd_close(c);
            return 0;
        }
        mcdc_sleep_ms(100);
    }
    fprintf(stderr, "etcd did not answer within 30 s; see %s\n", logp);
    return -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int stop_etcd(void **state) {
    (void)state;
    if (g_etcd > 0) {
        kill(g_etcd, SIGTERM);
        int st;
        for (int i = 0; i < 100 && waitpid(g_etcd, &st, WNOHANG) == 0; i++) mcdc_sleep_ms(100);
        kill(g_etcd, SIGKILL);
        waitpid(g_etcd, &st, 0);
    }
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static store *open_as(const char *prefix, const char *instance, const char *advertise, uint32_t ttl_s) {
    store_etcd_config cfg = {.etcd = raw_config(5000), .prefix = prefix, .instance_id = instance,
                             .advertise = advertise, .lease_ttl_s = ttl_s};
    mcdc_err err = {0};
    store *s = store_open_etcd(&cfg, &err);
    if (!s) fail_msg("store_open_etcd(%s, %s): %s", prefix, instance ? instance : "-", err.msg);
    return s;
}

static etcd_client *raw_client(void) {
    etcd_config ec = raw_config(5000);
    mcdc_err err;
    etcd_client *c = etcd_open(&ec, &err);
    if (!c) fail_msg("etcd_open: %s", err.msg);
    return c;
}

static void put_task(store *s, const char *id, const char *spec) {
    mcdc_err err = {0};
    store_task t = {.id = id, .spec_json = spec, .reason = ""};
    if (store_task_put_new(s, &t, &err) != 0) fail_msg("put %s: %s", id, err.msg);
}

static int claim_one(void *ud, const store_task *t) {
    bool owned = false;
    mcdc_err err;
    if (store_task_claim(ud, t->id, &owned, NULL, &err)) fail_msg("claim %s: %s", t->id, err.msg);
    assert_true(owned);
    return 0;
}

/* What a restart does: a new instance, which claims every task (the old
 * one's lease went with its close). */
static store *reopen(store *s, const char *prefix) {
    store_close(s);
    s = open_as(prefix, NULL, "", 5);
    mcdc_err err;
    assert_int_equal(store_task_each(s, claim_one, s, &err), 0);
    return s;
}

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

static mq_msgid msgid_of(const char *bytes) {
    mq_msgid id = {.len = strlen(bytes)};
    memcpy(id.bytes, bytes, id.len);
    return id;
}

typedef struct count_keys {
    int n;
    char keys[64][160];
} count_keys;

static int note_key(void *ud, const etcd_kv *kv) {
    count_keys *k = ud;
    if (k->n < 64) snprintf(k->keys[k->n], sizeof k->keys[0], "%s", kv->key);
    k->n++;
    return 0;
}

static void raw_keys(const char *prefix, count_keys *out) {
    etcd_client *c = raw_client();
    mcdc_err err;
    memset(out, 0, sizeof *out);
    assert_int_equal(etcd_range_prefix(c, prefix, 0, note_key, out, NULL, &err), 0);
    etcd_close(c);
}

typedef struct lease_of {
    int64_t lease;
} lease_of;

static int note_lease(void *ud, const etcd_kv *kv) {
    ((lease_of *)ud)->lease = kv->lease;
    return 0;
}

/* ---- etcd_txn ------------------------------------------------------------- */

static void test_txn(void **state) {
    (void)state;
    etcd_client *c = raw_client();
    mcdc_err err;
    int64_t lease;
    assert_int_equal(etcd_lease_grant(c, 30, &lease, &err), 0);
    assert_int_equal(etcd_put(c, "txn/a", "1", 1, lease, &err), 0);
    assert_int_equal(etcd_put(c, "txn/p/x", "x", 1, 0, &err), 0);
    assert_int_equal(etcd_put(c, "txn/p/y", "y", 1, 0, &err), 0);
    assert_int_equal(etcd_put(c, "txn/p0", "outside", 7, 0, &err), 0);

    /* Every compare holds: the success ops run, their answers in order. */
    etcd_cmp ok[4] = {{.key = "txn/a", .target = ETCD_CMP_VALUE, .op = ETCD_EQUAL, .value = "1", .value_len = 1},
                      {.key = "txn/a", .target = ETCD_CMP_LEASE, .op = ETCD_EQUAL, .number = lease},
                      {.key = "txn/a", .target = ETCD_CMP_VERSION, .op = ETCD_GREATER, .number = 0},
                      {.key = "txn/none", .target = ETCD_CMP_CREATE, .op = ETCD_EQUAL, .number = 0}};
    etcd_op ops[4] = {{.type = ETCD_OP_PUT, .key = "txn/b", .value = "2", .value_len = 1, .lease = lease},
                      {.type = ETCD_OP_GET_PREFIX, .key = "txn/p/"},
                      {.type = ETCD_OP_DELETE_PREFIX, .key = "txn/p/"},
                      {.type = ETCD_OP_GET, .key = "txn/b"}};
    etcd_txn_result r;
    assert_int_equal(etcd_txn(c, ok, 4, ops, 4, NULL, 0, &r, &err), 0);
    assert_true(r.succeeded);
    assert_true(r.revision > 0);
    assert_int_equal(r.n_ops, 4);
    assert_int_equal(r.ops[1].n_kvs, 2);
    assert_string_equal(r.ops[1].kvs[0].key, "txn/p/x");
    assert_string_equal(r.ops[1].kvs[1].key, "txn/p/y");
    assert_int_equal(r.ops[2].deleted, 2);
    const etcd_kv *b = etcd_txn_kv(&r, 3);
    assert_non_null(b);
    assert_int_equal(b->lease, lease);
    assert_memory_equal(b->value, "2", 1);
    etcd_txn_result_free(&r);

    /* One compare fails (the lease): the failure ops run and tell why. */
    etcd_cmp bad[2] = {ok[0], {.key = "txn/a", .target = ETCD_CMP_LEASE, .op = ETCD_EQUAL, .number = lease + 1}};
    etcd_op del = {.type = ETCD_OP_DELETE, .key = "txn/a"};
    etcd_op get = {.type = ETCD_OP_GET, .key = "txn/a"};
    assert_int_equal(etcd_txn(c, bad, 2, &del, 1, &get, 1, &r, &err), 0);
    assert_false(r.succeeded);
    assert_int_equal(r.n_ops, 1);
    assert_non_null(etcd_txn_kv(&r, 0));
    assert_int_equal(etcd_txn_kv(&r, 0)->lease, lease);
    assert_null(etcd_txn_kv(&r, 5));
    etcd_txn_result_free(&r);
    count_keys k;
    raw_keys("txn/", &k);
    assert_int_equal(k.n, 3); /* a, b, p0: the prefix delete took only what was under txn/p/ */

    /* A put under a lease etcd no longer has is refused. */
    assert_int_equal(etcd_lease_revoke(c, lease, &err), 0);
    assert_int_equal(etcd_txn(c, NULL, 0, ops, 1, NULL, 0, &r, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "lease not found"));

    /* etcd_put_if on top of it. */
    bool put;
    assert_int_equal(etcd_put_if(c, "txn/cas", "v1", 2, 0, &put, &err), 0);
    assert_true(put);
    assert_int_equal(etcd_put_if(c, "txn/cas", "v2", 2, 0, &put, &err), 0);
    assert_false(put);
    bool found;
    int64_t mod;
    assert_int_equal(etcd_get(c, "txn/cas", &found, NULL, NULL, &mod, &err), 0);
    assert_int_equal(etcd_put_if(c, "txn/cas", "v3", 2, mod, &put, &err), 0);
    assert_true(put);
    etcd_close(c);
}

/* ---- the SQLite store's rules ---------------------------------------------- */

static const char *SPEC_UTF8 =
    "{\"name\":\"caf\xc3\xa9 \xe6\x95\xb0\xe6\x8d\xae \xf0\x9f\x90\x9f\",\"q\":\"say \\\"hi\\\"\",\"bs\":\"a\\\\b\","
    "\"sq\":\"it's\",\"nl\":\"x\\ny\",\"tab\":\"\t\"}";

static void test_tasks_put_list_update_delete(void **state) {
    (void)state;
    const char *P = "t/tasks";
    store *s = open_as(P, NULL, "", 5);
    mcdc_err err = {0};
    put_task(s, "t1", SPEC_UTF8);
    put_task(s, "t2", "{}");
    put_task(s, "t0", "{\"x\":1}");
    put_task(s, "we/ird%id", "{}"); /* a '/' of an id must not make it another task's prefix */

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
    assert_int_equal(store_task_delete(s, "we/ird%id", &err), 0);

    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 3);
    assert_string_equal(ts.id[0], "t1"); /* creation order, not id order */
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
    put_task(s, "t1", "{\"again\":1}"); /* goes last, even with an id that existed before */
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 3);
    assert_string_equal(ts.id[0], "t2");
    assert_string_equal(ts.id[1], "t0");
    assert_string_equal(ts.id[2], "t1");
    assert_string_equal(ts.spec[2], "{\"again\":1}");
    tasks_free(&ts);

    s = reopen(s, P);
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

static void test_positions_round_trip(void **state) {
    (void)state;
    const char *P = "t/pos";
    store *s = open_as(P, NULL, "", 5);
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    put_task(s, "b", "{}");
    mq_msgid empty = {.len = 0};
    mq_msgid kafka = kafka_id(0x0102030405060708ull);
    mq_msgid pulsar = pattern_id(30, 7);
    mq_msgid full = pattern_id(MQ_MSGID_MAX, 200);
    uint64_t big_ts = UINT64_MAX;

    pos_seen ps;
    list_pos(s, "a", &ps);
    assert_int_equal(ps.n, 0);
    assert_int_equal(store_position_each(s, "zz", collect_pos, &ps, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    assert_int_equal(store_checkpoint_save(s, "a", "dml_1", &kafka, 449000000000000001ull, &err), 0);
    assert_int_equal(store_intent_save(s, "a", "dml_1", &pulsar, big_ts, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "a", "dml_0", &empty, 0, &err), 0);
    assert_int_equal(store_intent_save(s, "a", "dml_2", &full, 5, &err), 0);
    /* Names an escape would reorder: ordered by the name itself. */
    assert_int_equal(store_checkpoint_save(s, "a", "dml_1/x", &kafka, 1, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "a", "dml_1-x", &kafka, 2, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "b", "dml_0", &pulsar, 77, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "b", "dml_0", &kafka, 78, &err), 0);
    assert_int_equal(store_checkpoint_save(s, "b", "dml_1", NULL, 9, &err), 0);

    assert_int_equal(store_checkpoint_save(s, "gone", "dml_0", &kafka, 1, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "checkpoint of task gone channel dml_0"));
    assert_int_equal(store_intent_save(s, "gone", "dml_0", &kafka, 1, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    mq_msgid too_long = {.len = MQ_MSGID_MAX + 1};
    assert_int_equal(store_checkpoint_save(s, "a", "dml_0", &too_long, 1, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);

    store_position one;
    bool found;
    assert_int_equal(store_position_find(s, "a", "dml_1", &one, &found, &err), 0);
    assert_true(found);
    assert_msgid_equal(&one.checkpoint, &kafka);
    assert_msgid_equal(&one.intent, &pulsar);
    assert_int_equal(store_position_find(s, "a", "dml_9", &one, &found, &err), 0);
    assert_false(found);
    assert_int_equal(store_position_find(s, "zz", "dml_1", &one, &found, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    for (int round = 0; round < 2; round++) {
        list_pos(s, "a", &ps);
        assert_int_equal(ps.n, 5);
        assert_string_equal(ps.p[0].channel, "dml_0");
        assert_int_equal(ps.p[0].checkpoint.len, 0);
        assert_int_equal(ps.p[0].intent.len, 0);
        assert_string_equal(ps.p[1].channel, "dml_1");
        assert_msgid_equal(&ps.p[1].checkpoint, &kafka);
        assert_int_equal(ps.p[1].checkpoint_ts, 449000000000000001ull);
        assert_msgid_equal(&ps.p[1].intent, &pulsar);
        assert_true(ps.p[1].intent_ts == big_ts);
        assert_string_equal(ps.p[2].channel, "dml_1-x");
        assert_int_equal(ps.p[2].checkpoint_ts, 2);
        assert_string_equal(ps.p[3].channel, "dml_1/x");
        assert_int_equal(ps.p[3].checkpoint_ts, 1);
        assert_string_equal(ps.p[4].channel, "dml_2");
        assert_int_equal(ps.p[4].checkpoint.len, 0);
        assert_msgid_equal(&ps.p[4].intent, &full);
        assert_int_equal(ps.p[4].intent_ts, 5);
        pos_free(&ps);
        list_pos(s, "b", &ps);
        assert_int_equal(ps.n, 2);
        assert_msgid_equal(&ps.p[0].checkpoint, &kafka);
        assert_int_equal(ps.p[0].checkpoint_ts, 78);
        assert_int_equal(ps.p[1].checkpoint.len, 0);
        assert_int_equal(ps.p[1].checkpoint_ts, 9);
        pos_free(&ps);
        s = reopen(s, P);
    }
    assert_int_equal(store_task_delete(s, "a", &err), 0);
    put_task(s, "a", "{}");
    list_pos(s, "a", &ps);
    assert_int_equal(ps.n, 0);
    list_pos(s, "b", &ps);
    assert_int_equal(ps.n, 2);
    pos_free(&ps);
    store_close(s);
}

typedef struct reentry {
    store *s;
    int tasks, positions;
} reentry;

static int count_pos(void *ud, const store_position *p) {
    (void)p;
    ((reentry *)ud)->positions++;
    return 0;
}

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
    store *s = open_as("t/cb", NULL, "", 5);
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

typedef struct bindings_seen {
    int n;
    store_binding b[MAX_ROWS];
    char names[MAX_ROWS][64];
} bindings_seen;

static int collect_binding(void *ud, const store_binding *b) {
    bindings_seen *bs = ud;
    assert_true(bs->n < MAX_ROWS);
    bs->b[bs->n] = *b;
    snprintf(bs->names[bs->n], sizeof bs->names[0], "%s.%s", b->target_db, b->target_name);
    bs->b[bs->n].target_db = bs->b[bs->n].target_name = NULL;
    bs->n++;
    return 0;
}

static int stop_at_second_binding(void *ud, const store_binding *b) {
    (void)b;
    return ++*(int *)ud == 2 ? 7 : 0;
}

static void test_bindings(void **state) {
    (void)state;
    const char *P = "t/bind";
    store *s = open_as(P, NULL, "", 5);
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    put_task(s, "b", "{}");
    store_binding b = {.source_id = 20, .target_db = "default", .target_name = "c", .state = STORE_BINDING_CREATING};
    assert_int_equal(store_binding_save(s, "a", &b, &err), 0);
    store_binding c = {.source_id = 7, .target_db = "db1", .target_name = "x", .target_id = 99,
                       .state = STORE_BINDING_LIVE, .ts = UINT64_MAX - 3};
    assert_int_equal(store_binding_save(s, "a", &c, &err), 0);
    store_binding d = {.source_id = 100, .target_db = "db1", .target_name = "\xc3\xa9\"", .target_id = INT64_MAX,
                       .state = STORE_BINDING_DROPPED, .ts = 1};
    assert_int_equal(store_binding_save(s, "a", &d, &err), 0);
    b.target_id = 42;
    b.state = STORE_BINDING_LIVE;
    b.target_name = "d";
    assert_int_equal(store_binding_save(s, "a", &b, &err), 0);
    assert_int_equal(store_binding_save(s, "b", &b, &err), 0);
    bindings_seen bs = {0};
    assert_int_equal(store_binding_each(s, "a", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 3); /* by source id as a number: 7, 20, 100 */
    assert_int_equal(bs.b[0].source_id, 7);
    assert_true(bs.b[0].ts == UINT64_MAX - 3);
    assert_int_equal(bs.b[0].target_id, 99);
    assert_string_equal(bs.names[0], "db1.x");
    assert_int_equal(bs.b[1].source_id, 20);
    assert_int_equal(bs.b[1].target_id, 42);
    assert_int_equal(bs.b[1].state, STORE_BINDING_LIVE);
    assert_string_equal(bs.names[1], "default.d");
    assert_int_equal(bs.b[2].source_id, 100);
    assert_true(bs.b[2].target_id == INT64_MAX);
    assert_int_equal(bs.b[2].state, STORE_BINDING_DROPPED);
    assert_string_equal(bs.names[2], "db1.\xc3\xa9\"");

    assert_int_equal(store_binding_save(s, "nope", &b, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_binding_each(s, "nope", collect_binding, &bs, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);

    assert_int_equal(store_binding_delete(s, "a", 20, &err), 0);
    assert_int_equal(store_binding_delete(s, "a", 20, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "task a source collection 20"));
    assert_int_equal(store_binding_delete(s, "nope", 1, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_binding_delete(s, "", 1, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    s = reopen(s, P);
    bs.n = 0;
    assert_int_equal(store_binding_each(s, "a", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 2);
    bs.n = 0;
    assert_int_equal(store_binding_each(s, "b", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 1);
    int calls = 0;
    assert_int_equal(store_binding_each(s, "a", stop_at_second_binding, &calls, &err), 7);
    assert_int_equal(calls, 2);

    assert_int_equal(store_task_delete(s, "a", &err), 0);
    put_task(s, "a", "{}");
    bs.n = 0;
    assert_int_equal(store_binding_each(s, "a", collect_binding, &bs, &err), 0);
    assert_int_equal(bs.n, 0);
    store_close(s);
}

static void test_pause_and_skip_round_trip(void **state) {
    (void)state;
    const char *P = "t/skip";
    store *s = open_as(P, NULL, "", 5);
    mcdc_err err = {0};
    put_task(s, "p", SPEC_UTF8);
    store_msg_ref at = {.channel = "by-dev-rootcoord-dml_3", .id = msgid_of("\x01\x02\x03")};
    assert_int_equal(store_task_update(s, "p", 2, "channel by-dev-rootcoord-dml_3 position 7: bad", &at, &err), 0);
    assert_int_equal(store_task_set_skip(s, "p", &at, &err), 0);
    assert_int_equal(store_task_set_skip(s, "nope", &at, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    s = reopen(s, P);
    tasks_seen ts;
    list_tasks(s, &ts);
    assert_int_equal(ts.n, 1);
    assert_string_equal(ts.spec[0], SPEC_UTF8); /* kept by the read-modify-write of update and skip */
    assert_string_equal(ts.paused_channel[0], "by-dev-rootcoord-dml_3");
    assert_int_equal(ts.paused_id[0].len, 3);
    assert_memory_equal(ts.paused_id[0].bytes, "\x01\x02\x03", 3);
    assert_string_equal(ts.skip_channel[0], "by-dev-rootcoord-dml_3");
    assert_memory_equal(ts.skip_id[0].bytes, "\x01\x02\x03", 3);
    tasks_free(&ts);
    assert_int_equal(store_task_update(s, "p", 1, "", NULL, &err), 0);
    list_tasks(s, &ts);
    assert_string_equal(ts.paused_channel[0], "");
    assert_int_equal(ts.paused_id[0].len, 0);
    assert_string_equal(ts.skip_channel[0], "by-dev-rootcoord-dml_3");
    tasks_free(&ts);
    assert_int_equal(store_task_set_skip(s, "p", NULL, &err), 0);
    list_tasks(s, &ts);
    assert_string_equal(ts.skip_channel[0], "");
    assert_int_equal(ts.skip_id[0].len, 0);
    assert_int_equal(ts.state[0], 1);
    tasks_free(&ts);
    store_close(s);
}

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

static void test_copies_round_trip(void **state) {
    (void)state;
    const char *P = "t/copy";
    store *s = open_as(P, NULL, "", 5);
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    put_task(s, "b", "{}");
    char *big = big_json(64 * 1024);
    assert_int_equal(store_copy_save(s, "a", 300, "{\"phase\":\"copying\"}", &err), 0);
    assert_int_equal(store_copy_save(s, "a", -5, SPEC_UTF8, &err), 0);
    assert_int_equal(store_copy_save(s, "a", INT64_MAX, "", &err), 0);
    assert_int_equal(store_copy_save(s, "a", 300, big, &err), 0);
    assert_int_equal(store_copy_save(s, "b", 300, "{\"of\":\"b\"}", &err), 0);
    s = reopen(s, P);
    copies_seen cs;
    list_copies(s, "a", &cs);
    assert_int_equal(cs.n, 3);
    assert_int_equal(cs.source_id[0], -5);
    assert_string_equal(cs.json[0], SPEC_UTF8);
    assert_int_equal(cs.source_id[1], 300);
    assert_string_equal(cs.json[1], big);
    assert_true(cs.source_id[2] == INT64_MAX);
    assert_string_equal(cs.json[2], "");
    copies_free(&cs);
    list_copies(s, "b", &cs);
    assert_int_equal(cs.n, 1);
    assert_string_equal(cs.json[0], "{\"of\":\"b\"}");
    copies_free(&cs);
    free(big);

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

    assert_int_equal(store_copy_delete(s, "a", -5, &err), 0);
    assert_int_equal(store_copy_delete(s, "a", -5, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_copy_each(s, "a", copy_deletes_itself, s, &err), 0);
    list_copies(s, "a", &cs);
    assert_int_equal(cs.n, 0);
    assert_int_equal(store_copy_save(s, "a", 1, "{}", &err), 0);
    assert_int_equal(store_task_delete(s, "a", &err), 0);
    put_task(s, "a", "{}");
    list_copies(s, "a", &cs);
    assert_int_equal(cs.n, 0);
    list_copies(s, "b", &cs);
    assert_int_equal(cs.n, 1);
    copies_free(&cs);
    store_close(s);
}

/* Rule: a task's delete takes every key of it (task, positions, bindings,
 * copies, owner) and nothing of a task whose id begins the same. */
static void test_delete_removes_everything(void **state) {
    (void)state;
    store *s = open_as("t/del", "del-1", "", 5);
    mcdc_err err = {0};
    put_task(s, "a", "{}");
    put_task(s, "ab", "{}");
    mq_msgid id = kafka_id(3);
    store_binding b = {.source_id = 1, .target_db = "d", .target_name = "n", .state = STORE_BINDING_LIVE};
    for (int i = 0; i < 2; i++) {
        const char *t = i ? "ab" : "a";
        assert_int_equal(store_checkpoint_save(s, t, "c", &id, 3, &err), 0);
        assert_int_equal(store_intent_save(s, t, "c", &id, 3, &err), 0);
        assert_int_equal(store_binding_save(s, t, &b, &err), 0);
        assert_int_equal(store_copy_save(s, t, 1, "{}", &err), 0);
    }
    count_keys k;
    raw_keys("t/del/", &k);
    assert_int_equal(k.n, 1 + 2 * 6); /* instances/del-1, then per task: task, 2 positions, binding, copy, owner */
    assert_int_equal(store_task_delete(s, "a", &err), 0);
    assert_false(store_task_owned(s, "a"));
    raw_keys("t/del/", &k);
    assert_int_equal(k.n, 1 + 6);
    for (int i = 0; i < k.n; i++)
        assert_true(strstr(k.keys[i], "/ab") != NULL || strcmp(k.keys[i], "t/del/instances/del-1") == 0);
    store_close(s);
    /* Closing revokes the lease: the registration and the owner key go. */
    raw_keys("t/del/", &k);
    assert_int_equal(k.n, 5);
}

/* ---- ownership ------------------------------------------------------------ */

static void test_claim_release_one_instance(void **state) {
    (void)state;
    store *s = open_as("t/own1", "one", "http://one:1", 5);
    mcdc_err err = {0};
    bool owned = false, mine = false;
    char *url = NULL;
    assert_string_equal(store_instance_id(s), "one");
    assert_int_equal(store_task_claim(s, "t", &owned, &url, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_int_equal(store_task_owner(s, "t", &mine, &url, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    put_task(s, "t", "{}");
    assert_true(store_task_owned(s, "t")); /* put_new claims */
    assert_int_equal(store_task_claim(s, "t", &owned, &url, &err), 0);
    assert_true(owned);
    assert_null(url);
    assert_int_equal(store_task_owner(s, "t", &mine, &url, &err), 0);
    assert_true(mine);

    assert_int_equal(store_task_release(s, "t", &err), 0);
    assert_false(store_task_owned(s, "t"));
    assert_int_equal(store_task_owner(s, "t", &mine, &url, &err), 0);
    assert_false(mine);
    assert_null(url);
    mq_msgid id = kafka_id(1);
    assert_int_equal(store_checkpoint_save(s, "t", "c", &id, 1, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_non_null(strstr(err.msg, "task t"));
    assert_int_equal(store_task_update(s, "t", 1, "", NULL, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(store_task_delete(s, "t", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(store_task_release(s, "t", &err), 0); /* not owning it is not an error */

    assert_int_equal(store_task_claim(s, "t", &owned, &url, &err), 0);
    assert_true(owned);
    assert_true(store_task_owned(s, "t"));
    assert_int_equal(store_checkpoint_save(s, "t", "c", &id, 1, &err), 0);
    /* Its own writes are no change to wait for. */
    assert_int_equal(store_task_update(s, "t", 2, "why", NULL, &err), 0);
    assert_int_equal(store_wait_change(s, 300, &err), 0);
    store_close(s);
}

/* Waits up to ms for store_wait_change to say 1; returns how long it took. */
static int64_t wait_for_change(store *s, uint32_t ms) {
    uint64_t t0 = mcdc_now_mono_ms();
    mcdc_err err;
    int rc = store_wait_change(s, ms, &err);
    if (rc != 1) fail_msg("store_wait_change: %d after %u ms", rc, ms);
    return (int64_t)(mcdc_now_mono_ms() - t0);
}

static bool wait_not_owned(store *s, const char *task, uint32_t ms) {
    uint64_t end = mcdc_now_mono_ms() + ms;
    while (mcdc_now_mono_ms() < end) {
        if (!store_task_owned(s, task)) return true;
        mcdc_sleep_ms(20);
    }
    return false;
}

/* Until the key is held under a lease other than old. */
static bool wait_new_lease(const char *key, int64_t old, uint32_t ms) {
    uint64_t end = mcdc_now_mono_ms() + ms;
    etcd_client *c = raw_client();
    bool renewed = false;
    while (!renewed && mcdc_now_mono_ms() < end) {
        lease_of lo = {0};
        mcdc_err err;
        assert_int_equal(etcd_range_prefix(c, key, 0, note_lease, &lo, NULL, &err), 0);
        renewed = lo.lease && lo.lease != old;
        if (!renewed) mcdc_sleep_ms(20);
    }
    etcd_close(c);
    return renewed;
}

/* Rule: an instance whose lease is lost (revoked from outside here, owning
 * nothing, so nothing else happens) takes a new one, registers again, says
 * so through wait_change, and owns what it creates from then on. */
static void test_lease_renewed_after_loss(void **state) {
    (void)state;
    const uint32_t TTL = 2;
    store *x = open_as("t/renew", "X", "http://x", TTL);
    mcdc_err err = {0};
    assert_int_equal(store_wait_change(x, 0, &err), 0);
    lease_of lo = {0};
    etcd_client *c = raw_client();
    assert_int_equal(etcd_range_prefix(c, "t/renew/instances/X", 0, note_lease, &lo, NULL, &err), 0);
    assert_true(lo.lease != 0);
    assert_int_equal(etcd_lease_revoke(c, lo.lease, &err), 0);
    etcd_close(c);
    wait_for_change(x, (TTL + 2) * 1000);
    assert_true(wait_new_lease("t/renew/instances/X", lo.lease, 1000));
    put_task(x, "t", "{}");
    assert_true(store_task_owned(x, "t"));
    mq_msgid id = kafka_id(1);
    assert_int_equal(store_checkpoint_save(x, "t", "c", &id, 1, &err), 0);
    store_close(x);
}

/* The scenario of design.md §10: A runs a task; B is refused; A's lease is
 * revoked from outside (A cut off); B learns it, takes the task and saves;
 * A is refused from then on, learns it, and takes a new lease. */
static void test_two_instances_and_a_lost_lease(void **state) {
    (void)state;
    const uint32_t TTL = 2;
    store *a = open_as("t/two", "A", "http://a:8444", TTL);
    store *b = open_as("t/two", "B", "http://b:8444", TTL);
    mcdc_err err = {0};
    put_task(a, "t", "{}");
    mq_msgid ida = kafka_id(100), idb = kafka_id(200);
    assert_int_equal(store_checkpoint_save(a, "t", "c", &ida, 100, &err), 0);
    assert_int_equal(wait_for_change(b, 3000) < 3000, 1); /* A created a task */
    /* The task's key and its owner's come through two watches: maybe two 1s. */
    store_wait_change(b, 2 * 300, &err);
    assert_int_equal(store_wait_change(a, 200, &err), 0); /* A's own doing */

    bool owned = true, mine = true;
    char *url = NULL;
    assert_int_equal(store_task_claim(b, "t", &owned, &url, &err), 0);
    assert_false(owned);
    assert_non_null(url);
    assert_string_equal(url, "http://a:8444");
    free(url);
    url = NULL;
    assert_int_equal(store_task_owner(b, "t", &mine, &url, &err), 0);
    assert_false(mine);
    assert_string_equal(url, "http://a:8444");
    free(url);
    url = NULL;
    assert_false(store_task_owned(b, "t"));
    assert_int_equal(store_checkpoint_save(b, "t", "c", &idb, 200, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_non_null(strstr(err.msg, "instance A"));
    assert_int_equal(store_intent_save(b, "t", "c", &idb, 200, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(store_task_set_skip(b, "t", NULL, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    store_binding bd = {.source_id = 1, .target_db = "d", .target_name = "n", .state = STORE_BINDING_LIVE};
    assert_int_equal(store_binding_save(b, "t", &bd, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(store_copy_save(b, "t", 1, "{}", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_int_equal(store_task_delete(b, "t", &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    pos_seen ps;
    list_pos(b, "t", &ps); /* nothing changed */
    assert_int_equal(ps.n, 1);
    assert_int_equal(ps.p[0].checkpoint_ts, 100);
    assert_int_equal(ps.p[0].intent.len, 0);
    pos_free(&ps);
    assert_int_equal(store_wait_change(b, 0, &err), 0);

    /* A cut off: its lease revoked by somebody else. */
    count_keys k;
    raw_keys("t/two/owners/t", &k);
    assert_int_equal(k.n, 1);
    lease_of lo = {0};
    etcd_client *c = raw_client();
    assert_int_equal(etcd_range_prefix(c, "t/two/owners/t", 0, note_lease, &lo, NULL, &err), 0);
    assert_true(lo.lease != 0);
    assert_int_equal(etcd_lease_revoke(c, lo.lease, &err), 0);
    etcd_close(c);

    int64_t took = wait_for_change(b, (TTL + 2) * 1000);
    assert_true(took <= (TTL + 2) * 1000);
    assert_int_equal(store_task_claim(b, "t", &owned, &url, &err), 0);
    assert_true(owned);
    assert_null(url);
    assert_true(store_task_owned(b, "t"));
    assert_int_equal(store_checkpoint_save(b, "t", "c", &idb, 200, &err), 0);

    /* A: refused at once (its owner key went with the lease), and told. */
    assert_int_equal(store_checkpoint_save(a, "t", "c", &ida, 101, &err), -1);
    assert_int_equal(err.code, MCDC_ENOTOWNER);
    assert_non_null(strstr(err.msg, "instance B"));
    assert_true(wait_not_owned(a, "t", (TTL + 2) * 1000));
    assert_true(wait_new_lease("t/two/instances/A", lo.lease, (TTL + 2) * 1000));
    wait_for_change(a, 100); /* B's claim, A's new lease: at least one of them is pending */
    assert_int_equal(store_task_claim(a, "t", &owned, &url, &err), 0);
    assert_false(owned);
    assert_string_equal(url, "http://b:8444");
    free(url);
    url = NULL;
    list_pos(a, "t", &ps);
    assert_int_equal(ps.n, 1);
    assert_int_equal(ps.p[0].checkpoint_ts, 200);
    pos_free(&ps);

    /* A with its new lease owns new tasks as before. */
    put_task(a, "t2", "{}");
    assert_true(store_task_owned(a, "t2"));
    assert_int_equal(store_checkpoint_save(a, "t2", "c", &ida, 1, &err), 0);

    /* B closes: its lease is revoked, A sees it and takes t. */
    wait_for_change(b, 3000); /* A's new task */
    store_close(b);
    wait_for_change(a, (TTL + 2) * 1000);
    assert_int_equal(store_task_claim(a, "t", &owned, &url, &err), 0);
    assert_true(owned);
    assert_int_equal(store_checkpoint_save(a, "t", "c", &ida, 300, &err), 0);
    store_close(a);
}

static void test_unreachable_etcd(void **state) {
    (void)state;
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", free_port());
    store_etcd_config cfg = {.etcd = {.endpoints = ep, .timeout_ms = 1000}, .prefix = "x"};
    mcdc_err err = {0};
    assert_null(store_open_etcd(&cfg, &err));
    printf("unreachable: %s\n", err.msg);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "store"));
    assert_non_null(strstr(err.msg, ep));
    store_etcd_config none = {.prefix = "x"};
    assert_null(store_open_etcd(&none, &err));
    assert_int_equal(err.code, MCDC_EINVAL);
}

static void test_instance_id_in_use(void **state) {
    (void)state;
    store *a = open_as("t/dup", "same", "", 1);
    store_etcd_config cfg = {.etcd = raw_config(5000), .prefix = "t/dup", .instance_id = "same", .lease_ttl_s = 1};
    mcdc_err err = {0};
    assert_null(store_open_etcd(&cfg, &err));
    assert_int_equal(err.code, MCDC_EEXIST);
    assert_non_null(strstr(err.msg, "same"));
    store_close(a);
    /* Closed: the id is free at once. */
    store *again = store_open_etcd(&cfg, &err);
    if (!again) fail_msg("%s", err.msg);
    store_close(again);
}

/* ---- two instances racing to claim ------------------------------------------ */

#define RACE_TASKS 50

typedef struct racer {
    store *s;
    pthread_barrier_t *go;
    bool owned[RACE_TASKS];
    char err[MCDC_ERR_MSG_MAX];
} racer;

static void race_id(char *buf, size_t n, int i) { snprintf(buf, n, "task-%02d", i); }

static void *race_run(void *arg) {
    racer *r = arg;
    pthread_barrier_wait(r->go);
    for (int i = 0; i < RACE_TASKS; i++) {
        char id[16];
        race_id(id, sizeof id, i);
        mcdc_err err;
        char *url = NULL;
        if (store_task_claim(r->s, id, &r->owned[i], &url, &err)) {
            snprintf(r->err, sizeof r->err, "%s", err.msg);
            return NULL;
        }
        free(url);
    }
    return NULL;
}

static void test_claim_race(void **state) {
    (void)state;
    const char *env = getenv("MCDC_ETCD_RACE_ROUNDS");
    int rounds = env && atoi(env) > 0 ? atoi(env) : 20;
    store *a = open_as("t/race", "ra", "http://ra", 5), *b = open_as("t/race", "rb", "http://rb", 5);
    mcdc_err err = {0};
    for (int i = 0; i < RACE_TASKS; i++) {
        char id[16];
        race_id(id, sizeof id, i);
        put_task(a, id, "{}");
        assert_int_equal(store_task_release(a, id, &err), 0);
    }
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    uint64_t t0 = mcdc_now_mono_ms();
    int won_a = 0;
    for (int round = 0; round < rounds; round++) {
        racer ra = {.s = a, .go = &go}, rb = {.s = b, .go = &go};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, race_run, &ra);
        pthread_create(&tb, NULL, race_run, &rb);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        if (ra.err[0] || rb.err[0]) fail_msg("round %d: %s%s", round, ra.err, rb.err);
        for (int i = 0; i < RACE_TASKS; i++) {
            char id[16];
            race_id(id, sizeof id, i);
            if (ra.owned[i] == rb.owned[i]) fail_msg("round %d task %s: owned by A %d, by B %d", round, id, ra.owned[i], rb.owned[i]);
            assert_int_equal(store_task_owned(a, id), ra.owned[i]);
            assert_int_equal(store_task_owned(b, id), rb.owned[i]);
            won_a += ra.owned[i];
            mq_msgid pos = kafka_id((uint64_t)round);
            store *loser = ra.owned[i] ? b : a, *winner = ra.owned[i] ? a : b;
            assert_int_equal(store_checkpoint_save(loser, id, "c", &pos, (uint64_t)round, &err), -1);
            assert_int_equal(err.code, MCDC_ENOTOWNER);
            assert_int_equal(store_checkpoint_save(winner, id, "c", &pos, (uint64_t)round, &err), 0);
            assert_int_equal(store_task_release(winner, id, &err), 0);
        }
    }
    pthread_barrier_destroy(&go);
    printf("claim race: %d rounds of %d tasks in %llu ms, A won %d of %d\n", rounds, RACE_TASKS,
           (unsigned long long)(mcdc_now_mono_ms() - t0), won_a, rounds * RACE_TASKS);
    store_close(a);
    store_close(b);
}

int main(void) {
    if (access(ETCD_BIN, X_OK) != 0) {
        printf("test_store_etcd: skipped: %s is not installed (Debian package etcd-server)\n", ETCD_BIN);
        return 77;
    }
    if (getenv("MCDC_TEST_DEBUG")) mcdc_log_set_level(MCDC_LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txn),
        cmocka_unit_test(test_tasks_put_list_update_delete),
        cmocka_unit_test(test_positions_round_trip),
        cmocka_unit_test(test_callbacks_may_reenter_and_stop),
        cmocka_unit_test(test_bindings),
        cmocka_unit_test(test_pause_and_skip_round_trip),
        cmocka_unit_test(test_copies_round_trip),
        cmocka_unit_test(test_delete_removes_everything),
        cmocka_unit_test(test_claim_release_one_instance),
        cmocka_unit_test(test_lease_renewed_after_loss),
        cmocka_unit_test(test_two_instances_and_a_lost_lease),
        cmocka_unit_test(test_unreachable_etcd),
        cmocka_unit_test(test_instance_id_in_use),
        cmocka_unit_test(test_claim_race),
    };
    return cmocka_run_group_tests(tests, start_etcd, stop_etcd);
}
