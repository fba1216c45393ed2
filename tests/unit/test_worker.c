/* test_worker.c — the rules of a channel worker, driven through fakes of
 * the queue (messages handed in one by one, "quiet" between fetches), the
 * target's calls and the store (worker_io.h). No server, no thread.
 *
 * Each test names the rule it guards. Positions are Kafka offsets: a
 * message's offset is its msgID, so "checkpoint 7" reads as it would in
 * `position`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/clock.h"
#include "pipeline/worker_int.h"

/* ---- positions as offsets -------------------------------------------------------------- */

static mq_msgid off(int64_t o) {
    mq_msgid id = {.len = 8};
    for (int i = 0; i < 8; i++) id.bytes[i] = (uint8_t)((uint64_t)o >> (8 * i));
    return id;
}

static int64_t offset_of(const mq_msgid *id) {
    if (id->len == 0) return -1;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)id->bytes[i] << (8 * i);
    return (int64_t)v;
}

/* ---- the fake target ------------------------------------------------------------------- */

typedef enum { SYNC, STARTED, RESENT } call_how;

typedef struct call_rec {
    call_how how;
    change_kind kind;
    int64_t coll, part;
    size_t n, rows;
    bool upsert;
    uint64_t open;   /* STARTED: bit k set when the k-th call started was still in flight */
} call_rec;

struct target_call {
    size_t rec;          /* index in fake.calls */
    bool done;           /* the reply is there */
    int fails_left;      /* the next waits fail */
    mcdc_code fail_code;
    bool upsert;
    size_t rows;
};

static struct {
    call_rec calls[256];
    size_t n_calls;
    target_call *started[64];
    size_t n_started;
    /* The next in-flight calls' first wait fails this many times with this code. */
    int fail_next_waits;
    mcdc_code fail_code;
    /* A wait for a reply not yet there, and a synchronous call, take this
     * long (the target's time). */
    uint32_t reply_ms;
    /* Synchronous calls fail this many times with this code. */
    int fail_applies;
    mcdc_code apply_code;
    /* store */
    int64_t checkpoint, intent;
    uint64_t checkpoint_ts;
    int checkpoint_saves;
    int intent_tries;     /* every save_intent call, refused ones too */
    mcdc_code store_refuses; /* MCDC_OK, or what every save answers */
    /* task */
    char paused[1024];
    char paused_channel[64];
    int64_t paused_at;   /* -1: not at a message */
    int64_t skip_at; /* -1: none */
    /* source */
    catalog_coll colls[4];
    bool catalog_stalls;  /* collection_of waits until stopped, then knows nothing */
    bool start_fails;     /* the next start of a joined call fails (the parts did not join) */
    /* The primary keys of changes by msg_id (keyed()); others' are not known. */
    struct {
        int64_t msg_id, keys[4];
        const char *strs[4]; /* varchar keys (keyed_strs()), or NULL */
        size_t n;
    } keyed[32];
    size_t n_keyed;
    uint64_t upsert_until; /* inserts of ts <= this go as upserts (a snapshot's overlap) */
    bool keys_unknown;     /* changes not keyed() have keys that cannot be told (else one of their own) */
} fake;

static size_t rows_of(const change *const *cs, size_t n) {
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) rows += cs[i]->num_rows;
    return rows;
}

static void record(call_how how, const change *const *cs, size_t n, bool upsert) {
    assert_true(fake.n_calls < 256);
    fake.calls[fake.n_calls++] = (call_rec){.how = how,
                                            .kind = cs[0]->kind,
                                            .coll = cs[0]->collection_id,
                                            .part = cs[0]->partition_id,
                                            .n = n,
                                            .rows = rows_of(cs, n),
                                            .upsert = upsert};
}

static int t_apply(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert, mcdc_err *err) {
    (void)ud, (void)cc;
    record(SYNC, cs, n, as_upsert);
    if (fake.reply_ms) mcdc_sleep_ms(fake.reply_ms);
    if (fake.fail_applies > 0) {
        fake.fail_applies--;
        return mcdc_errf(err, fake.apply_code, "fake apply failure");
    }
    return 0;
}

static int t_start(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert,
                   target_call **out, mcdc_err *err) {
    (void)ud, (void)cc;
    if (fake.start_fails) {
        fake.start_fails = false;
        return mcdc_errf(err, MCDC_EUNAVAIL, "fake start failure");
    }
    record(STARTED, cs, n, as_upsert);
    for (size_t i = 0; i < fake.n_started; i++)
        if (fake.started[i]) fake.calls[fake.n_calls - 1].open |= (uint64_t)1 << i;
    target_call *c = calloc(1, sizeof *c);
    c->upsert = as_upsert;
    c->rec = fake.n_calls - 1;
    c->rows = rows_of(cs, n);
    if (fake.fail_next_waits) {
        c->fails_left = fake.fail_next_waits;
        c->fail_code = fake.fail_code;
        fake.fail_next_waits = 0;
    }
    fake.started[fake.n_started++] = c;
    *out = c;
    return 0;
}

static bool t_ready(target_call *c) { return c->done; }

static int t_wait(target_call *c, mcdc_err *err) {
    if (!c->done && fake.reply_ms) mcdc_sleep_ms(fake.reply_ms);
    if (c->fails_left > 0) {
        c->fails_left--;
        return mcdc_errf(err, c->fail_code, "fake call failure");
    }
    c->done = true;
    return 0;
}

static int t_resend(target_call *c, mcdc_err *err) {
    (void)err;
    call_rec r = fake.calls[c->rec];
    r.how = RESENT;
    r.upsert = true;
    fake.calls[fake.n_calls++] = r;
    c->upsert = true;
    return 0;
}

static size_t t_bytes(const target_call *c) { return c->rows * 10; }
static size_t t_rows(const target_call *c) { return c->rows; }
static bool t_is_upsert(const target_call *c) { return c->upsert; }

static void t_free(target_call *c) {
    for (size_t i = 0; i < fake.n_started; i++)
        if (fake.started[i] == c) fake.started[i] = NULL;
    free(c);
}

static int t_ensure(void *ud, const catalog_coll *cc, mcdc_err *err) {
    (void)ud, (void)cc, (void)err;
    return 0;
}

static int t_replay(void *ud, change *c, mcdc_err *err) {
    (void)ud, (void)err;
    record(SYNC, (const change *const[]){c}, 1, false);
    return 0;
}

static const target_ops fake_target = {.apply = t_apply,
                                       .start = t_start,
                                       .ready = t_ready,
                                       .wait = t_wait,
                                       .resend = t_resend,
                                       .bytes = t_bytes,
                                       .rows = t_rows,
                                       .is_upsert = t_is_upsert,
                                       .free = t_free,
                                       .ensure_collection = t_ensure,
                                       .replay = t_replay};

/* The reply of the k-th call started arrives. */
static void reply(size_t k) { fake.started[k]->done = true; }

/* ---- the fake source: collections 1..3 are covered, 9 is not ----------------------------- */

static catalog_coll *coll(int64_t id) {
    for (size_t i = 0; i < 4; i++)
        if (fake.colls[i].id == id) return &fake.colls[i];
    return NULL;
}

static catalog_coll *s_collection_of(void *ud, const change *c, const _Atomic bool *stop) {
    (void)ud;
    if (fake.catalog_stalls) {
        assert_true(atomic_load(stop));
        return NULL;
    }
    return coll(c->collection_id);
}
static bool s_covers(void *ud, const catalog_coll *cc) {
    (void)ud;
    return cc->id != 9;
}
static bool s_request_covers(void *ud, const change *c) {
    (void)ud, (void)c;
    return true;
}
static bool s_dropped(void *ud, int64_t id) {
    (void)ud;
    return coll(id) == NULL;
}
static catalog_coll *s_find(void *ud, const char *db, const char *name) {
    (void)ud, (void)db, (void)name;
    return NULL;
}
static size_t s_covered_on(void *ud, const char *channel, catalog_coll ***out) {
    (void)ud, (void)channel;
    *out = NULL;
    return 0;
}
static void s_forget(void *ud, int64_t id) { (void)ud, (void)id; }
static uint64_t s_upsert_until(void *ud, int64_t id) {
    (void)ud, (void)id;
    return fake.upsert_until;
}
static overlap_keys s_keys(void *ud, const change *c, const catalog_coll *cc) {
    (void)ud, (void)cc;
    for (size_t i = 0; i < fake.n_keyed; i++)
        if (fake.keyed[i].msg_id == c->msg_id)
            return fake.keyed[i].strs[0] ? (overlap_keys){.strs = fake.keyed[i].strs, .n = fake.keyed[i].n}
                                         : (overlap_keys){.ints = fake.keyed[i].keys, .n = fake.keyed[i].n};
    if (fake.keys_unknown) return (overlap_keys){0};
    /* Any other change writes one key of its own. */
    return (overlap_keys){.ints = &c->msg_id, .n = 1};
}

static const source_ops fake_source = {.collection_of = s_collection_of,
                                       .covers = s_covers,
                                       .request_covers = s_request_covers,
                                       .dropped = s_dropped,
                                       .find = s_find,
                                       .covered_on = s_covered_on,
                                       .keys = s_keys,
                                       .upsert_until = s_upsert_until,
                                       .forget = s_forget};

/* ---- the fake store and task --------------------------------------------------------------- */

static int st_checkpoint(void *ud, const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err) {
    (void)ud, (void)channel;
    if (fake.store_refuses) return mcdc_errf(err, fake.store_refuses, "fake store refuses");
    fake.checkpoint = offset_of(id);
    fake.checkpoint_ts = ts;
    fake.checkpoint_saves++;
    return 0;
}
static int st_intent(void *ud, const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err) {
    (void)ud, (void)channel, (void)ts;
    fake.intent_tries++;
    if (fake.store_refuses) return mcdc_errf(err, fake.store_refuses, "fake store refuses");
    fake.intent = offset_of(id);
    return 0;
}
static const store_ops fake_store = {.save_checkpoint = st_checkpoint, .save_intent = st_intent};

static void h_pause(void *ud, const char *channel, const mq_msgid *at, const char *reason) {
    (void)ud;
    snprintf(fake.paused, sizeof fake.paused, "%s", reason);
    snprintf(fake.paused_channel, sizeof fake.paused_channel, "%s", channel);
    fake.paused_at = at ? offset_of(at) : -1;
}
static void h_trouble(void *ud, const char *msg) { (void)ud, (void)msg; }
static bool h_skip_wanted(void *ud, const char *channel, mq_msgid *at) {
    (void)ud, (void)channel;
    if (fake.skip_at < 0) return false;
    *at = off(fake.skip_at);
    return true;
}
static void h_skip_taken(void *ud, const char *channel, const mq_msgid *at) {
    (void)ud, (void)channel;
    if (offset_of(at) == fake.skip_at) fake.skip_at = -1;
}
static uint64_t h_watermark(void *ud) {
    (void)ud;
    return UINT64_MAX;
}

static worker_stats stats;

static channel_worker *worker(uint32_t batch_rows, uint32_t inflight_calls, int64_t checkpoint, int64_t intent) {
    memset(&fake, 0, sizeof fake);
    memset(&stats, 0, sizeof stats);
    mcdc_histogram_init(&stats.apply_lag, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    mcdc_histogram_init(&stats.target_call, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    fake.checkpoint = fake.intent = fake.skip_at = -1;
    static Milvus__Proto__Schema__FieldSchema pk;
    for (int i = 0; i < 4; i++)
        fake.colls[i] = (catalog_coll){.refs = 1 << 30, .id = i < 3 ? i + 1 : 9, .state = CATALOG_CREATED, .pk = &pk,
                                       .name = "c", .db_name = "default"};
    worker_ctx ctx = {.task_id = "t",
                      .mq_type = "kafka",
                      .set = {.batch_rows = batch_rows,
                              .batch_bytes = 1 << 30,
                              .inflight_calls = inflight_calls,
                              .inflight_bytes = 1 << 30,
                              .retry_max_ms = 1},
                      .stats = &stats,
                      .hooks = {.pause = h_pause, .trouble = h_trouble, .skip_wanted = h_skip_wanted, .skip_taken = h_skip_taken,
                                .watermark = h_watermark},
                      .target = &fake_target,
                      .source = &fake_source,
                      .store = &fake_store};
    mq_msgid ck = checkpoint >= 0 ? off(checkpoint) : (mq_msgid){0}, in = intent >= 0 ? off(intent) : (mq_msgid){0};
    return worker_new(&ctx, "by-dev-rootcoord-dml_0", false, &ck, 0, &in);
}

/* ---- messages ---------------------------------------------------------------------------- */

static int64_t next_msg_id = 1000;

static void feed(channel_worker *w, int64_t at, change c) {
    mq_msgid id = off(at);
    w->cur_len = 100;
    assert_int_equal(worker_on_change(w, &c, &id), APPLY_OK);
}

static change insert(int64_t coll_id, int64_t part, uint64_t ts, size_t rows) {
    return (change){.kind = CHANGE_INSERT, .collection_id = coll_id, .partition_id = part, .ts = ts, .base_ts = ts,
                    .msg_id = next_msg_id++, .num_rows = rows, .db_name = "", .collection_name = ""};
}

/* c writes these int64 keys (at most 4), as the source's keys callback
 * tells; a change not keyed writes one key of its own (its msg_id). */
static change keyed(change c, size_t n, ...) {
    va_list ap;
    va_start(ap, n);
    assert_true(fake.n_keyed < 32 && n <= 4);
    fake.keyed[fake.n_keyed].msg_id = c.msg_id;
    for (size_t i = 0; i < n; i++) fake.keyed[fake.n_keyed].keys[i] = va_arg(ap, int64_t);
    fake.keyed[fake.n_keyed++].n = n;
    va_end(ap);
    return c;
}

/* c writes these varchar keys (at most 4). */
static change keyed_strs(change c, size_t n, ...) {
    va_list ap;
    va_start(ap, n);
    assert_true(fake.n_keyed < 32 && n <= 4);
    fake.keyed[fake.n_keyed].msg_id = c.msg_id;
    for (size_t i = 0; i < n; i++) fake.keyed[fake.n_keyed].strs[i] = va_arg(ap, const char *);
    fake.keyed[fake.n_keyed++].n = n;
    va_end(ap);
    return c;
}

/* An Upsert's Insert half: MsgBase.timestamp 0 (spec/mq-messages.md §9.3). */
static change upsert_half(int64_t coll_id, uint64_t ts, size_t rows) {
    change c = insert(coll_id, 100, ts, rows);
    c.base_ts = 0;
    return c;
}

static change delete(int64_t coll_id, uint64_t ts, size_t rows) {
    return (change){.kind = CHANGE_DELETE, .collection_id = coll_id, .partition_id = 100, .ts = ts, .base_ts = ts,
                    .msg_id = next_msg_id++, .num_rows = rows, .db_name = "", .collection_name = ""};
}

static change tick(uint64_t ts) {
    return (change){.kind = CHANGE_TIMETICK, .ts = ts, .base_ts = ts, .db_name = "", .collection_name = ""};
}

static void quiet(channel_worker *w) { assert_int_equal(worker_on_quiet(w), APPLY_OK); }

static void assert_call(size_t i, call_how how, change_kind kind, int64_t coll, size_t rows, bool upsert) {
    assert_true(i < fake.n_calls);
    const call_rec *r = &fake.calls[i];
    assert_int_equal(r->how, how);
    assert_int_equal(r->kind, kind);
    assert_int_equal(r->coll, coll);
    assert_int_equal(r->rows, rows);
    assert_int_equal(r->upsert, upsert);
}

/* ---- positions alone ------------------------------------------------------------------------ */

/* Rule: the checkpoint stops before the first held message; a tick counts
 * once the checkpoint passed it; released holders let it through in one go. */
static void test_positions_hold_and_release(void **state) {
    (void)state;
    positions p;
    mq_msgid none = {0};
    positions_init(&p, "kafka", &none, 0, &none);
    positions_read(&p, &(mq_msgid){0}, 0, 0, 0); /* an empty id never passes a real one */
    mq_msgid m1 = off(1), m2 = off(2), m3 = off(3), m4 = off(4), m5 = off(5);
    positions_read(&p, &m1, 10, 0, 0);
    assert_int_equal(offset_of(&p.done), 1);
    pos_holder a = positions_new_holder(&p), b = positions_new_holder(&p);
    positions_read(&p, &m2, 20, 0, a);
    positions_read(&p, &m3, 30, 30, 0); /* a tick behind a held message */
    positions_read(&p, &m4, 40, 0, b);
    positions_read(&p, &m5, 50, 0, 0);
    assert_int_equal(offset_of(&p.done), 1);
    assert_int_equal(p.tick, 0);
    positions_release(&p, b);
    assert_int_equal(offset_of(&p.done), 1); /* b is behind a */
    positions_release(&p, a);
    assert_int_equal(offset_of(&p.done), 5);
    assert_int_equal(p.done_ts, 50);
    assert_int_equal(p.tick, 30);
    assert_int_equal(p.n, 0);
    positions_free(&p);
}

/* ---- the worker's rules ----------------------------------------------------------------------- */

/* Rule: an Upsert's halves meet across a fetch boundary (the queue went
 * quiet between them) and go out as one Upsert, no Delete. */
static void test_upsert_pair_across_fetch_boundary(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, upsert_half(1, 500, 3));
    quiet(w);
    assert_int_equal(fake.n_calls, 0); /* held, not sent */
    feed(w, 2, delete(1, 500, 3));
    assert_int_equal(fake.n_calls, 1);
    assert_call(0, SYNC, CHANGE_INSERT, 1, 3, true);
    quiet(w);
    assert_int_equal(fake.checkpoint, 2);
    assert_int_equal(atomic_load(&stats.upserted), 3);
    assert_int_equal(atomic_load(&stats.deleted), 0);
    worker_free(w);
}

/* Rule: an insert of another collection between an upsert's halves is
 * applied at once, the pair still goes as one Upsert, and the checkpoint
 * does not pass the held half until the pair landed. */
static void test_other_collection_between_upsert_halves(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, upsert_half(1, 500, 2));
    feed(w, 2, insert(2, 100, 501, 7));
    assert_int_equal(fake.n_calls, 1);
    assert_call(0, SYNC, CHANGE_INSERT, 2, 7, false);
    quiet(w);
    assert_true(fake.checkpoint < 1);
    feed(w, 3, delete(1, 500, 2));
    assert_int_equal(fake.n_calls, 2);
    assert_call(1, SYNC, CHANGE_INSERT, 1, 2, true);
    quiet(w);
    assert_int_equal(fake.checkpoint, 3);
    worker_free(w);
}

/* Rule: another write of the same collection between an upsert's halves
 * (the proxy runs DML tasks side by side) sends the held half as an
 * upsert, never a plain insert that would leave two rows for one key; the
 * late Delete half is then known as applied and dropped. */
static void test_same_collection_between_upsert_halves(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, upsert_half(1, 500, 2));
    feed(w, 2, insert(1, 100, 501, 7));
    quiet(w);
    assert_true(fake.n_calls >= 1);
    assert_call(0, SYNC, CHANGE_INSERT, 1, 2, true);
    size_t before = fake.n_calls;
    feed(w, 3, delete(1, 500, 2));
    quiet(w);
    for (size_t i = before; i < fake.n_calls; i++) assert_int_not_equal(fake.calls[i].kind, CHANGE_DELETE);
    assert_int_equal(atomic_load(&stats.deleted), 0);
    worker_free(w);
}

/* Rule: a worker is idle for the watermark only when the queue is quiet
 * and nothing it read is left unapplied; a message makes it busy again. */
static void test_idle_only_when_nothing_held(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    assert_int_equal(channel_worker_watermark(w).idle_since_ms, 0);
    feed(w, 1, upsert_half(1, 500, 2));
    quiet(w);
    assert_int_equal(channel_worker_watermark(w).idle_since_ms, 0); /* a half is held */
    feed(w, 2, delete(1, 500, 2));
    quiet(w);
    assert_true(channel_worker_watermark(w).idle_since_ms > 0);
    feed(w, 3, tick(600));
    assert_int_equal(channel_worker_watermark(w).idle_since_ms, 0);
    w->queue_trouble = true;
    quiet(w);
    assert_int_equal(channel_worker_watermark(w).idle_since_ms, 0);
    worker_free(w);
}

/* Rule: a held half that no tick or other half settles goes as an upsert
 * once it waited too long; its late Delete half is then dropped. */
static void test_upsert_half_held_too_long(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, upsert_half(1, 500, 2));
    w->dml.pending_since_ms -= 60000;
    quiet(w);
    assert_int_equal(fake.n_calls, 1);
    assert_call(0, SYNC, CHANGE_INSERT, 1, 2, true);
    feed(w, 2, delete(1, 500, 2));
    assert_int_equal(fake.n_calls, 1);
    worker_free(w);
}

/* Rule: a call that holds exactly batch_rows closes; batch_bytes is a hard
 * limit (the message that would pass it starts the next call, although
 * the rows are still short of batch_rows); batch_rows 1 joins nothing. */
static void test_joining_bounds(void **state) {
    (void)state;
    channel_worker *w = worker(25, 8, 0, -1);
    feed(w, 1, insert(1, 100, 10, 10));
    feed(w, 2, insert(1, 100, 11, 15)); /* 25: closes */
    feed(w, 3, insert(1, 100, 12, 1));
    quiet(w);
    assert_int_equal(fake.n_calls, 2);
    assert_call(0, STARTED, CHANGE_INSERT, 1, 25, false);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 1, false);
    worker_free(w);

    w = worker(1000, 8, 0, -1);
    w->ctx.set.batch_bytes = 250; /* feed() makes each message 100 bytes */
    feed(w, 1, insert(1, 100, 10, 10));
    feed(w, 2, insert(1, 100, 11, 10));
    feed(w, 3, insert(1, 100, 12, 10)); /* 300 bytes > 250: a new call */
    quiet(w);
    assert_int_equal(fake.n_calls, 2);
    assert_call(0, STARTED, CHANGE_INSERT, 1, 20, false);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 10, false);
    worker_free(w);

    w = worker(1, 8, 0, -1);
    feed(w, 1, insert(1, 100, 10, 3));
    feed(w, 2, insert(1, 100, 11, 3));
    feed(w, 3, delete(1, 12, 2));
    feed(w, 4, delete(1, 13, 2));
    quiet(w);
    assert_int_equal(fake.n_calls, 4);
    assert_call(0, STARTED, CHANGE_INSERT, 1, 3, false);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 3, false);
    assert_call(2, SYNC, CHANGE_DELETE, 1, 2, false);
    assert_call(3, SYNC, CHANGE_DELETE, 1, 2, false);
    worker_free(w);
}

/* Rule: plain inserts of one partition join while more are queued, until
 * the call holds batch_rows (the message that reaches it joins too);
 * another partition or kind starts a new call; deletes join into one
 * Delete that goes in order. */
static void test_joining_limits(void **state) {
    (void)state;
    channel_worker *w = worker(25, 8, 0, -1);
    feed(w, 1, insert(1, 100, 10, 10));
    feed(w, 2, insert(1, 100, 11, 10));
    feed(w, 3, insert(1, 100, 12, 10)); /* 20 < 25: joins, and the call holds 30 */
    feed(w, 4, insert(1, 100, 13, 10)); /* 30 >= 25: a new batch */
    feed(w, 5, insert(1, 200, 14, 1));  /* another partition */
    feed(w, 6, delete(1, 15, 4));
    feed(w, 7, delete(1, 16, 4));
    quiet(w);
    assert_int_equal(fake.n_calls, 4);
    assert_call(0, STARTED, CHANGE_INSERT, 1, 30, false);
    assert_int_equal(fake.calls[0].n, 3);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 10, false);
    assert_call(2, STARTED, CHANGE_INSERT, 1, 1, false);
    assert_call(3, SYNC, CHANGE_DELETE, 1, 8, false);
    assert_int_equal(fake.calls[3].n, 2);
    /* The Delete landed every insert call before it first. */
    assert_int_equal(w->fly.n, 0);
    assert_int_equal(fake.checkpoint, 7);
    worker_free(w);
}

/* Rule: calls in flight land in the order sent; a reply that comes early
 * for a later call does not move the checkpoint, or the watermark's tick,
 * past an earlier call still unanswered. */
static void test_calls_land_in_order(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, insert(1, 100, 10, 5));
    quiet(w);
    feed(w, 2, insert(1, 100, 11, 6));
    quiet(w);
    feed(w, 3, insert(1, 100, 12, 7));
    quiet(w);
    feed(w, 4, tick(13));
    assert_int_equal(w->fly.n, 3);
    reply(2);
    reply(1);
    assert_int_equal(calls_land(w, SIZE_MAX), APPLY_OK);
    quiet(w);
    assert_int_equal(w->fly.n, 3);
    assert_true(fake.checkpoint < 1);
    assert_int_equal(atomic_load(&w->tick), 0);
    reply(0);
    assert_int_equal(calls_land(w, SIZE_MAX), APPLY_OK);
    quiet(w);
    assert_int_equal(w->fly.n, 0);
    assert_int_equal(fake.checkpoint, 4);
    assert_int_equal(atomic_load(&w->tick), 13);
    assert_int_equal(atomic_load(&stats.inserted), 18);
    worker_free(w);
}

/* Rule: at most inflight_calls calls are in flight; one more waits for
 * the oldest. */
static void test_inflight_bound(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 2, 0, -1);
    for (int i = 1; i <= 3; i++) {
        feed(w, i, insert(1, 100, 10 + i, 1));
        quiet(w);
    }
    assert_int_equal(fake.n_calls, 3);
    assert_int_equal(w->fly.n, 2);
    assert_int_equal(offset_of(&w->pos.done), 1);
    worker_free(w);
}

/* Rule: the time a worker is held by the target's replies is counted
 * (where a catch-up waits, target or queue: worker_io.h): landing a call
 * whose reply is not there yet, and a synchronous call (a Delete); a call
 * landing whose reply is already there costs none. */
static void test_target_wait_counted(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 1, 0, -1);
    fake.reply_ms = 30;
    feed(w, 1, insert(1, 100, 11, 1));
    quiet(w);
    assert_int_equal(atomic_load(&stats.target_wait_us), 0);
    feed(w, 2, insert(1, 100, 12, 1));
    quiet(w); /* one call at a time: the second waits for the first's reply */
    uint64_t waited = atomic_load(&stats.target_wait_us);
    assert_true(waited >= 30000);
    reply(1);
    feed(w, 3, insert(1, 100, 13, 1));
    quiet(w);
    assert_true(atomic_load(&stats.target_wait_us) - waited < 30000);
    assert_int_equal(fake.n_calls, 3);
    reply(2);
    waited = atomic_load(&stats.target_wait_us);
    feed(w, 4, delete(1, 14, 1));
    quiet(w);
    assert_call(3, SYNC, CHANGE_DELETE, 1, 1, false);
    assert_true(atomic_load(&stats.target_wait_us) - waited >= 30000);
    worker_free(w);
}

/* Rule: a transient failure of a call in the middle of the ring is resent
 * as an Upsert of the same rows (it may have been applied), and the calls
 * after it land after it. */
static void test_transient_failure_mid_ring(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, insert(1, 100, 10, 5));
    quiet(w);
    fake.fail_next_waits = 1;
    fake.fail_code = MCDC_EUNAVAIL;
    feed(w, 2, insert(1, 100, 11, 6));
    quiet(w);
    feed(w, 3, insert(1, 100, 12, 7));
    quiet(w);
    reply(0), reply(2);
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    assert_int_equal(fake.n_calls, 4);
    assert_call(3, RESENT, CHANGE_INSERT, 1, 6, true);
    quiet(w);
    assert_int_equal(fake.checkpoint, 3);
    assert_int_equal(atomic_load(&stats.inserted), 12);
    assert_int_equal(atomic_load(&stats.upserted), 6);
    assert_string_equal(fake.paused, "");
    worker_free(w);
}

/* Rule: a refused call that carries several WAL messages blames none of
 * them: the task pauses at no message, so no skip can name the last one
 * and drop the good messages with it; a call of one message pauses at it. */
static void test_refused_batch_pauses_at_no_message(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    fake.fail_next_waits = 1 << 20;
    fake.fail_code = MCDC_EREMOTE;
    feed(w, 1, insert(1, 100, 10, 5));
    feed(w, 2, insert(1, 100, 11, 6));
    feed(w, 3, insert(1, 100, 12, 7));
    quiet(w);
    assert_int_equal(fake.n_calls, 1);
    assert_int_equal(fake.calls[0].n, 3);
    assert_int_equal(calls_land(w, 0), APPLY_STOPPED);
    assert_int_equal(fake.paused_at, -1);
    assert_non_null(strstr(fake.paused, "3 messages up to position 3"));
    worker_on_exit(w);
    assert_true(fake.checkpoint < 1); /* nothing of the refused call passed */
    worker_free(w);

    /* The same refusal of a synchronous call (joined deletes). */
    w = worker(5000, 4, 0, -1);
    fake.fail_applies = 1 << 20;
    fake.apply_code = MCDC_EREMOTE;
    feed(w, 1, delete(1, 10, 5));
    feed(w, 2, delete(1, 11, 6));
    assert_int_equal(worker_on_quiet(w), APPLY_STOPPED);
    assert_int_equal(fake.paused_at, -1);
    assert_non_null(strstr(fake.paused, "2 messages up to position 2"));
    worker_free(w);

    /* One message in the call: paused at it. */
    w = worker(5000, 4, 0, -1);
    fake.fail_next_waits = 1 << 20;
    fake.fail_code = MCDC_EREMOTE;
    feed(w, 1, insert(1, 100, 10, 5));
    quiet(w);
    assert_int_equal(calls_land(w, 0), APPLY_STOPPED);
    assert_int_equal(fake.paused_at, 1);
    worker_free(w);
}

/* Rule: a permanent failure in the middle of the ring pauses the task at
 * that call's message; the checkpoint stays after the call before it, even
 * though the call after it was acknowledged. */
static void test_permanent_failure_mid_ring(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, insert(1, 100, 10, 5));
    quiet(w);
    fake.fail_next_waits = 1 << 20; /* it stays failed */
    fake.fail_code = MCDC_EREMOTE;
    feed(w, 2, insert(1, 100, 11, 6));
    quiet(w);
    feed(w, 3, insert(1, 100, 12, 7));
    quiet(w);
    reply(0), reply(2);
    assert_int_equal(calls_land(w, 0), APPLY_STOPPED);
    assert_non_null(strstr(fake.paused, "position 2"));
    assert_true(worker_stopping(w));
    worker_on_exit(w);
    assert_int_equal(fake.checkpoint, 1);
    assert_int_equal(w->fly.n, 0);
    worker_free(w);
}

/* Rule: messages up to the previous run's intent may be on the target
 * already: inserts there go as upserts; past it, plain inserts. Both fly
 * (their keys differ). */
static void test_replay_window_as_upserts(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 10, 13);
    feed(w, 11, insert(1, 100, 10, 2));
    feed(w, 12, insert(1, 100, 11, 3));
    feed(w, 13, insert(1, 100, 12, 4));
    feed(w, 14, insert(1, 100, 13, 5));
    quiet(w);
    assert_int_equal(fake.n_calls, 2);
    assert_call(0, STARTED, CHANGE_INSERT, 1, 9, true);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 5, false);
    assert_int_equal(fake.calls[1].open, 1);
    worker_free(w);
}

/* Rule: inside the replay window, the inserts of a collection whose target
 * held no row at the first start of a task made by this process (task.c)
 * go as plain inserts: nothing there can be doubled. Other collections in
 * the same window still go as upserts, past the window everything is
 * plain, and a transient failure still resends the call as an upsert.
 * Each plain call writes the window's intent again first (the ownership
 * fence), without moving it back. */
static void test_replay_window_into_empty_target(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 10, 14);
    static const int64_t empty[] = {3, 2};
    w->ctx.empty_at_start = empty;
    w->ctx.n_empty_at_start = 2;
    feed(w, 11, insert(1, 100, 10, 2));
    feed(w, 12, insert(2, 100, 11, 3));
    feed(w, 13, insert(2, 100, 12, 4));
    quiet(w);
    fake.fail_next_waits = 1;
    fake.fail_code = MCDC_EUNAVAIL;
    feed(w, 14, insert(2, 100, 13, 5));
    quiet(w);
    feed(w, 15, insert(1, 100, 14, 6));
    quiet(w);
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    assert_int_equal(fake.n_calls, 5);
    assert_call(0, STARTED, CHANGE_INSERT, 1, 2, true);
    assert_call(1, STARTED, CHANGE_INSERT, 2, 7, false);
    assert_call(2, STARTED, CHANGE_INSERT, 2, 5, false);
    assert_call(3, STARTED, CHANGE_INSERT, 1, 6, false);
    assert_call(4, RESENT, CHANGE_INSERT, 2, 5, true);
    assert_int_equal(fake.intent_tries, 3); /* calls 1 and 2 (the window's 14 again), call 3 (15) */
    assert_int_equal(fake.intent, 15);
    quiet(w);
    assert_int_equal(fake.checkpoint, 15);
    assert_int_equal(atomic_load(&stats.inserted), 13);
    assert_int_equal(atomic_load(&stats.upserted), 7);
    assert_string_equal(fake.paused, "");
    worker_free(w);
}

/* Rule: a plain insert in the replay window does not go out once the store
 * says another instance owns the task (the fence above); the worker stops
 * without a pause, and the intent stays where it was. */
static void test_replay_window_into_empty_target_fenced(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 10, 14);
    static const int64_t empty[] = {1};
    w->ctx.empty_at_start = empty;
    w->ctx.n_empty_at_start = 1;
    fake.store_refuses = MCDC_ENOTOWNER;
    mq_msgid at = off(11);
    change c = insert(1, 100, 10, 2);
    w->cur_len = 100;
    assert_int_equal(worker_on_change(w, &c, &at), APPLY_OK);
    assert_int_equal(worker_on_quiet(w), APPLY_STOPPED);
    assert_int_equal(fake.n_calls, 0);
    assert_int_equal(fake.intent_tries, 1);
    assert_int_equal(fake.intent, -1);
    assert_string_equal(fake.paused, "");
    assert_true(worker_stopping(w));
    worker_free(w);
}

/* Rule: inside the replay window, upserts whose keys no call in flight
 * writes fly side by side; one that shares a key with a call in flight
 * goes only after that call landed. */
static void test_replay_window_upserts_fly(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 10, 14);
    feed(w, 11, keyed(insert(1, 100, 10, 2), 2, (int64_t)1, (int64_t)2));
    quiet(w);
    feed(w, 12, keyed(insert(1, 100, 11, 2), 2, (int64_t)3, (int64_t)4));
    quiet(w);
    /* The same key in another collection is another key. */
    feed(w, 13, keyed(insert(2, 100, 12, 1), 1, (int64_t)1));
    quiet(w);
    assert_int_equal(fake.n_calls, 3);
    assert_call(0, STARTED, CHANGE_INSERT, 1, 2, true);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 2, true);
    assert_call(2, STARTED, CHANGE_INSERT, 2, 1, true);
    assert_int_equal(fake.calls[2].open, 3); /* calls 0 and 1 still out */
    assert_int_equal(atomic_load(&stats.calls_in_flight_peak), 3);
    /* Key 3 again: after call 1, which wrote it, landed (and call 0 before it). */
    feed(w, 14, keyed(insert(1, 100, 13, 2), 2, (int64_t)3, (int64_t)5));
    quiet(w);
    assert_call(3, STARTED, CHANGE_INSERT, 1, 2, true);
    assert_int_equal(fake.calls[3].open, 1u << 2);
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    quiet(w);
    assert_int_equal(fake.checkpoint, 14);
    assert_int_equal(atomic_load(&stats.upserted), 7);
    worker_free(w);
}

/* Rule: past the window, a plain insert waits for any call in flight that
 * writes one of its keys: for an upsert, whose delete would remove it if
 * the proxy took the insert first, and for an insert too, since a retry
 * resends that as an upsert. Disjoint keys fly together; a call whose keys
 * cannot be told waits for every call in flight, and every call for it. */
static void test_calls_of_one_key_never_cross(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 8, 10, 11);
    feed(w, 11, keyed(insert(1, 100, 10, 2), 2, (int64_t)1, (int64_t)2)); /* upsert: in the window */
    quiet(w);
    feed(w, 12, keyed(insert(1, 100, 11, 1), 1, (int64_t)7));             /* disjoint: flies */
    quiet(w);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 1, false);
    assert_int_equal(fake.calls[1].open, 1);
    feed(w, 13, keyed(insert(1, 100, 12, 1), 1, (int64_t)7));             /* insert after insert of 7: waits */
    quiet(w);
    assert_call(2, STARTED, CHANGE_INSERT, 1, 1, false);
    assert_int_equal(fake.calls[2].open, 0); /* call 1 landed, and call 0 before it */
    feed(w, 14, keyed(insert(1, 100, 13, 1), 1, (int64_t)2));             /* disjoint again: flies */
    quiet(w);
    assert_int_equal(fake.calls[3].open, 1u << 2);
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    worker_free(w);

    /* Keys not known: such a call waits for every call in flight ... */
    w = worker(5000, 8, 10, 11);
    feed(w, 11, keyed(insert(1, 100, 10, 2), 2, (int64_t)1, (int64_t)2));
    quiet(w);
    fake.keys_unknown = true;
    feed(w, 12, insert(1, 100, 11, 1));
    quiet(w);
    assert_call(1, STARTED, CHANGE_INSERT, 1, 1, false);
    assert_int_equal(fake.calls[1].open, 0);
    /* ... and every call waits for it, upsert (a snapshot's overlap here) or insert. */
    fake.upsert_until = UINT64_MAX;
    feed(w, 13, keyed(insert(1, 100, 12, 1), 1, (int64_t)9));
    quiet(w);
    assert_call(2, STARTED, CHANGE_INSERT, 1, 1, true);
    assert_int_equal(fake.calls[2].open, 0);
    fake.upsert_until = 0;
    feed(w, 14, insert(1, 100, 13, 1));
    quiet(w);
    feed(w, 15, keyed(insert(1, 100, 14, 1), 1, (int64_t)10));
    quiet(w);
    assert_call(4, STARTED, CHANGE_INSERT, 1, 1, false);
    assert_int_equal(fake.calls[4].open, 0);
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    quiet(w);
    assert_int_equal(fake.checkpoint, 15);
    worker_free(w);
}

/* Rule: a call retried after a transient failure goes again as an upsert
 * (it may have landed), so a later call of one of its keys is not sent
 * until it landed: the upsert's delete would otherwise remove that row. */
static void test_retried_call_is_not_crossed(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 8, 0, -1);
    fake.fail_next_waits = 1;
    fake.fail_code = MCDC_EUNAVAIL;
    feed(w, 1, keyed(insert(1, 100, 10, 1), 1, (int64_t)5));
    quiet(w);
    feed(w, 2, keyed(insert(1, 100, 11, 1), 1, (int64_t)6));
    quiet(w);
    assert_int_equal(fake.calls[1].open, 1);
    /* Key 5 again: first call 0 lands, through its retry as an upsert. */
    feed(w, 3, keyed(insert(1, 100, 12, 1), 1, (int64_t)5));
    quiet(w);
    assert_int_equal(fake.n_calls, 4);
    assert_call(2, RESENT, CHANGE_INSERT, 1, 1, true);
    assert_call(3, STARTED, CHANGE_INSERT, 1, 1, false);
    assert_false(fake.calls[3].open & 1u); /* call 0 had landed */
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    worker_free(w);
}

/* Rule: calls whose int64 key ranges meet are still told apart key by
 * key: disjoint keys fly together even when interleaved, a shared key
 * waits, and a call's own repeated key changes nothing. Whatever way calls
 * leave the ring — landed at exit, dropped — their keys go with them. */
static void test_interleaved_keys_compare_key_by_key(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 8, 0, -1);
    feed(w, 1, keyed(insert(1, 100, 10, 3), 3, (int64_t)1, (int64_t)5, (int64_t)9));
    quiet(w);
    feed(w, 2, keyed(insert(1, 100, 11, 3), 3, (int64_t)2, (int64_t)6, (int64_t)6)); /* within 1..9, none shared */
    quiet(w);
    assert_int_equal(fake.calls[1].open, 1);
    feed(w, 3, keyed(insert(1, 100, 12, 2), 2, (int64_t)-4, (int64_t)100)); /* spans both, none shared */
    quiet(w);
    assert_int_equal(fake.calls[2].open, 3);
    feed(w, 4, keyed(insert(1, 100, 13, 2), 2, (int64_t)3, (int64_t)6)); /* 6: call 1's */
    quiet(w);
    assert_int_equal(fake.calls[3].open, 1u << 2); /* calls 0 and 1 landed */
    /* A range is of the keys' values, not of their order in the call; the
     * int64 limits are keys like any other. */
    feed(w, 5, keyed(insert(1, 100, 14, 1), 1, INT64_MAX));
    quiet(w);
    assert_int_equal(fake.calls[4].open, 3u << 2);
    feed(w, 6, keyed(insert(1, 100, 15, 3), 3, (int64_t)50, INT64_MIN, (int64_t)-4)); /* -4: call 2's */
    quiet(w);
    assert_int_equal(fake.calls[5].open, 3u << 3); /* call 2 landed, 3 and 4 still out */
    feed(w, 7, keyed(insert(1, 100, 16, 3), 3, (int64_t)7, INT64_MAX, INT64_MIN)); /* both limits: calls 4, 5 */
    quiet(w);
    assert_int_equal(fake.calls[6].open, 0);
    worker_on_exit(w);
    assert_int_equal(w->fly.n, 0);
    worker_free(w);

    w = worker(5000, 8, 0, -1);
    feed(w, 1, keyed(insert(1, 100, 10, 2), 2, (int64_t)1, (int64_t)2));
    quiet(w);
    calls_drop(w);
    feed(w, 2, keyed(insert(1, 100, 11, 2), 2, (int64_t)1, (int64_t)2)); /* nothing left to wait for */
    quiet(w);
    assert_int_equal(fake.calls[1].open, 0);
    calls_land(w, 0);
    /* The scratch set goes back once the channel is quiet with nothing in flight. */
    calls_trim(w);
    worker_free(w);

    /* Varchar keys have no range: always key by key. */
    w = worker(5000, 8, 0, -1);
    feed(w, 1, keyed_strs(insert(1, 100, 10, 2), 2, "a", "b"));
    quiet(w);
    feed(w, 2, keyed_strs(insert(1, 100, 11, 2), 2, "c", "d"));
    quiet(w);
    assert_int_equal(fake.calls[1].open, 1);
    feed(w, 3, keyed_strs(insert(2, 100, 12, 1), 1, "a")); /* another collection's "a" */
    quiet(w);
    assert_int_equal(fake.calls[2].open, 3);
    feed(w, 4, keyed_strs(insert(1, 100, 13, 2), 2, "e", "b"));
    quiet(w);
    assert_int_equal(fake.calls[3].open, 3u << 1); /* call 0 landed, 1 and 2 still out */
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    worker_free(w);
}

/* Rule: a message that will not decode pauses the task at its position,
 * with the checkpoint right before it; the operator's skip passes exactly
 * the message it names, nothing else. */
static void test_skip_only_at_the_paused_position(void **state) {
    (void)state;
    static const uint8_t poison[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, insert(1, 100, 10, 5));
    mq_message m = {.payload = poison, .len = sizeof poison, .id = off(2)};
    assert_int_equal(worker_on_message(w, &m), APPLY_STOPPED);
    assert_non_null(strstr(fake.paused, "position 2"));
    /* The task is told where, as data: the one place a skip may name. */
    assert_string_equal(fake.paused_channel, "by-dev-rootcoord-dml_0");
    assert_int_equal(fake.paused_at, 2);
    assert_int_equal(fake.checkpoint, 1);
    worker_free(w);

    /* Resumed with a skip of another message: still paused at 2. */
    w = worker(5000, 4, 1, -1);
    fake.skip_at = 3;
    assert_int_equal(worker_on_message(w, &m), APPLY_STOPPED);
    assert_non_null(strstr(fake.paused, "position 2"));
    assert_int_equal(fake.skip_at, 3);
    worker_free(w);

    /* Resumed with the skip of that message: passed, and saved. */
    w = worker(5000, 4, 1, -1);
    fake.skip_at = 2;
    assert_int_equal(worker_on_message(w, &m), APPLY_OK);
    assert_string_equal(fake.paused, "");
    assert_int_equal(fake.skip_at, -1);
    assert_int_equal(fake.checkpoint, 2);
    worker_free(w);
}

/* Rule: a repeated DML message (same msgID) is dropped, not applied twice. */
static void test_repeat_dropped(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    change a = insert(1, 100, 10, 5), b = a;
    feed(w, 1, a);
    quiet(w);
    feed(w, 2, b);
    quiet(w);
    assert_int_equal(fake.n_calls, 1);
    reply(0);
    assert_int_equal(calls_land(w, SIZE_MAX), APPLY_OK);
    quiet(w);
    assert_int_equal(fake.checkpoint, 2);
    worker_free(w);
}

/* Rule: a "not found", or another refusal for good, of a write to a
 * collection the source has dropped meanwhile is no error: the call is
 * passed; for a collection the source still has it will not heal, and
 * pauses. */
static void test_not_found_of_dropped_collection(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    fake.fail_applies = 1;
    fake.apply_code = MCDC_ENOTFOUND;
    feed(w, 1, delete(1, 10, 1));
    fake.colls[0].id = 7; /* the source drops collection 1 */
    quiet(w);
    assert_string_equal(fake.paused, "");
    assert_int_equal(fake.checkpoint, 1);
    worker_free(w);

    w = worker(5000, 4, 0, -1);
    fake.fail_applies = 1;
    fake.apply_code = MCDC_ENOTFOUND;
    feed(w, 1, delete(1, 10, 1));
    assert_int_equal(worker_on_quiet(w), APPLY_STOPPED);
    assert_non_null(strstr(fake.paused, "position 1"));
    assert_true(fake.checkpoint < 1);
    worker_free(w);

    /* A call in flight refused for good after another channel dropped the
     * target collection of a collection the source dropped: passed too. */
    w = worker(5000, 4, 0, -1);
    fake.fail_next_waits = 1;
    fake.fail_code = MCDC_EREMOTE;
    feed(w, 1, insert(1, 100, 10, 2));
    quiet(w);
    fake.colls[0].id = 7; /* the source drops collection 1 */
    assert_int_equal(calls_land(w, 0), APPLY_OK);
    quiet(w);
    assert_string_equal(fake.paused, "");
    assert_int_equal(fake.checkpoint, 1);
    worker_free(w);

    /* The same refusal for a collection the source still has pauses. */
    w = worker(5000, 4, 0, -1);
    fake.fail_next_waits = 1;
    fake.fail_code = MCDC_EREMOTE;
    feed(w, 1, insert(1, 100, 10, 2));
    quiet(w);
    assert_int_equal(calls_land(w, 0), APPLY_STOPPED);
    assert_non_null(strstr(fake.paused, "position 1"));
    worker_free(w);
}

/* Rule: a time tick at or past the held halves' ts settles them, as an
 * upsert (right with or without a Delete half). */
static void test_tick_settles_held_halves(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, upsert_half(1, 500, 2));
    feed(w, 2, tick(499));
    assert_int_equal(fake.n_calls, 0);
    feed(w, 3, tick(500));
    assert_int_equal(fake.n_calls, 1);
    assert_call(0, SYNC, CHANGE_INSERT, 1, 2, true);
    assert_int_equal(atomic_load(&w->tick), 500); /* and the held tick 499 behind them counted too */
    quiet(w);
    assert_int_equal(fake.checkpoint, 3);
    worker_free(w);
}

/* Rule: more halves of one ts than can be held go as upserts, never as
 * plain inserts (which would double the keys they update). */
static void test_too_many_halves_go_as_upserts(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    for (int i = 0; i <= MAX_PENDING; i++) feed(w, 1 + i, upsert_half(1, 500, 1));
    assert_int_equal(fake.n_calls, MAX_PENDING);
    for (size_t i = 0; i < fake.n_calls; i++) assert_call(i, SYNC, CHANGE_INSERT, 1, 1, true);
    feed(w, 2 + MAX_PENDING, delete(1, 500, MAX_PENDING + 1));
    assert_int_equal(fake.n_calls, MAX_PENDING + 1);
    assert_call(MAX_PENDING, SYNC, CHANGE_INSERT, 1, 1, true);
    for (size_t i = 0; i < fake.n_calls; i++) assert_int_not_equal(fake.calls[i].kind, CHANGE_DELETE);
    worker_free(w);
}

/* Rule: a tick read while a batch is joined counts for the watermark only
 * once the batch's call landed; and the intent covers the call before it
 * is sent. */
static void test_tick_behind_a_batch_and_the_intent(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, insert(1, 100, 10, 5));
    feed(w, 2, tick(11));
    assert_int_equal(atomic_load(&w->tick), 0);
    quiet(w);
    assert_int_equal(w->fly.n, 1);
    assert_int_equal(fake.intent, 1);
    assert_int_equal(atomic_load(&w->tick), 0);
    reply(0);
    assert_int_equal(calls_land(w, SIZE_MAX), APPLY_OK);
    assert_int_equal(atomic_load(&w->tick), 11);
    quiet(w);
    assert_int_equal(fake.checkpoint, 2);
    worker_free(w);
}

/* Rule: a worker that stops with a batch not yet sent, or halves held,
 * keeps its checkpoint before them: a restart reads them again. */
static void test_stop_keeps_unsent_changes(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, tick(5));
    feed(w, 2, insert(1, 100, 10, 5));
    feed(w, 3, tick(11));
    worker_on_exit(w);
    assert_int_equal(fake.n_calls, 0);
    assert_int_equal(fake.checkpoint, 1);
    worker_free(w);

    w = worker(5000, 4, 0, -1);
    feed(w, 1, tick(5));
    feed(w, 2, upsert_half(1, 500, 2));
    feed(w, 3, insert(2, 100, 501, 1)); /* another collection: applied at once */
    worker_on_exit(w);
    assert_int_equal(fake.checkpoint, 1);
    worker_free(w);
}

/* Rule: stopped while waiting for etcd to describe a collection, the
 * worker leaves the message unread; it is not taken for "not replicated". */
static void test_stop_during_catalog_wait(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    feed(w, 1, tick(5));
    fake.catalog_stalls = true;
    atomic_store(&w->stop, true);
    change c = insert(1, 100, 10, 5);
    mq_msgid id = off(2);
    assert_int_equal(worker_on_change(w, &c, &id), APPLY_STOPPED);
    worker_on_exit(w);
    assert_int_equal(fake.checkpoint, 1);
    worker_free(w);
}

/* Rule: when joined inserts cannot be started (they did not join, and the
 * ones sent one by one may have landed), they go again in order as upserts. */
static void test_failed_start_goes_as_upserts(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    fake.start_fails = true;
    feed(w, 1, insert(1, 100, 10, 5));
    feed(w, 2, insert(1, 100, 11, 5));
    quiet(w);
    assert_int_equal(fake.n_calls, 1);
    assert_call(0, SYNC, CHANGE_INSERT, 1, 10, true);
    worker_free(w);
}

typedef struct retry_run {
    channel_worker *w;
    retry_verdict verdict;
    uint64_t returned_ms;
} retry_run;

static void *retry_thread(void *arg) {
    retry_run *r = arg;
    mcdc_err err;
    mcdc_errf(&err, MCDC_EUNAVAIL, "target: connection refused");
    r->verdict = worker_retry(r->w, &err, &(retry_of){0});
    r->returned_ms = mcdc_now_mono_ms();
    return NULL;
}

/* Rule: a stop is honoured during a backoff sleep, however long the backoff
 * (apply.retry_max_ms may be an hour): a pause or delete joins the worker
 * within a sleep slice, not after the backoff. */
static void test_stop_during_long_backoff(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    mcdc_backoff_init(&w->bo, 60000, 60000); /* the next sleep: 30 to 60 s */
    retry_run r = {.w = w};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, retry_thread, &r), 0);
    mcdc_sleep_ms(50);
    uint64_t asked = mcdc_now_mono_ms();
    channel_worker_ask_stop(w);
    pthread_join(th, NULL);
    assert_int_equal(r.verdict, RETRY_STOP);
    assert_true(r.returned_ms - asked < 100);
    worker_free(w);
}

/* Rule: a save the store refuses because another mcdc instance owns the
 * task now (MCDC_ENOTOWNER) ends the worker's work at once: no retry (a
 * store error is otherwise retried forever), no pause, nothing saved; the
 * same for any call whose error says so, whatever the backoff. */
static void test_not_owner_stops_without_pause(void **state) {
    (void)state;
    channel_worker *w = worker(5000, 4, 0, -1);
    mcdc_backoff_init(&w->bo, 60000, 60000);
    fake.store_refuses = MCDC_ENOTOWNER;
    mq_msgid at = off(5);
    uint64_t t0 = mcdc_now_mono_ms();
    assert_int_equal(worker_save_intent(w, &at, 10, false), APPLY_STOPPED);
    assert_true(mcdc_now_mono_ms() - t0 < 100);
    assert_int_equal(fake.intent_tries, 1);
    assert_int_equal(fake.intent, -1);
    assert_string_equal(fake.paused, "");
    assert_true(worker_stopping(w));
    worker_free(w);

    w = worker(5000, 4, 0, -1);
    mcdc_err err;
    mcdc_errf(&err, MCDC_ENOTOWNER, "binding refused");
    assert_int_equal(worker_retry(w, &err, &(retry_of){.what = "creating target collection"}), RETRY_STOP);
    assert_string_equal(fake.paused, "");
    assert_true(worker_stopping(w));
    /* The checkpoint the worker reached is not saved on its way out either. */
    fake.store_refuses = MCDC_ENOTOWNER;
    feed(w, 1, tick(10));
    worker_on_exit(w);
    assert_int_equal(fake.checkpoint, -1);
    assert_string_equal(fake.paused, "");
    worker_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_hold_and_release),
        cmocka_unit_test(test_upsert_pair_across_fetch_boundary),
        cmocka_unit_test(test_other_collection_between_upsert_halves),
        cmocka_unit_test(test_upsert_half_held_too_long),
        cmocka_unit_test(test_same_collection_between_upsert_halves),
        cmocka_unit_test(test_idle_only_when_nothing_held),
        cmocka_unit_test(test_joining_limits),
        cmocka_unit_test(test_joining_bounds),
        cmocka_unit_test(test_calls_land_in_order),
        cmocka_unit_test(test_inflight_bound),
        cmocka_unit_test(test_target_wait_counted),
        cmocka_unit_test(test_transient_failure_mid_ring),
        cmocka_unit_test(test_permanent_failure_mid_ring),
        cmocka_unit_test(test_refused_batch_pauses_at_no_message),
        cmocka_unit_test(test_replay_window_as_upserts),
        cmocka_unit_test(test_replay_window_upserts_fly),
        cmocka_unit_test(test_replay_window_into_empty_target),
        cmocka_unit_test(test_replay_window_into_empty_target_fenced),
        cmocka_unit_test(test_calls_of_one_key_never_cross),
        cmocka_unit_test(test_retried_call_is_not_crossed),
        cmocka_unit_test(test_interleaved_keys_compare_key_by_key),
        cmocka_unit_test(test_skip_only_at_the_paused_position),
        cmocka_unit_test(test_repeat_dropped),
        cmocka_unit_test(test_not_found_of_dropped_collection),
        cmocka_unit_test(test_tick_settles_held_halves),
        cmocka_unit_test(test_too_many_halves_go_as_upserts),
        cmocka_unit_test(test_tick_behind_a_batch_and_the_intent),
        cmocka_unit_test(test_stop_keeps_unsent_changes),
        cmocka_unit_test(test_stop_during_catalog_wait),
        cmocka_unit_test(test_failed_start_goes_as_upserts),
        cmocka_unit_test(test_stop_during_long_backoff),
        cmocka_unit_test(test_not_owner_stops_without_pause),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
