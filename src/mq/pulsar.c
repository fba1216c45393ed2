/* pulsar.c — the Pulsar driver of mq.h: mcdc's own consumer of the Pulsar
 * binary protocol (there is no Pulsar client library for C here).
 *
 * A Milvus channel is the non-partitioned topic
 * persistent://<tenant>/<namespace>/<channel> (spec/mq-messages.md §2). Each
 * reader holds one connection with one non-durable exclusive subscription of
 * its own name: the broker keeps no cursor for mcdc, and the position is the
 * caller's to store, as with Kafka. Positions are the MessageIdData bytes
 * Milvus itself stores (§6).
 *
 * Nothing lost, nothing repeated: the reader remembers the last message it
 * handed out; after a broker restart or a topic move it subscribes again at
 * that entry and drops everything up to it. A topic that does not exist yet
 * is "the end for now" (MQ_END) until Milvus writes to it.
 *
 * End of channel: when no frame is waiting, the reader asks the broker for
 * the topic's last message id and answers MQ_END once it has handed that out
 * (Kafka's partition EOF, the way mcdc dump knows it is done).
 *
 * A position retention removed is an MQ_ERROR (MCDC_ENOTFOUND), as Kafka's
 * auto.offset.reset=error is: the broker itself would silently start at the
 * next entry it still has (see entry_kept). */
#include "mq/mq_driver.h"
#include "pulsar_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/backoff.h"
#include "base/clock.h"
#include "base/log.h"

/* Messages the broker may push ahead of us, refilled at half: the prefetch
 * stays in the kernel's socket buffer (we read a frame only when the caller
 * wants a message), so memory stays bounded by TCP windows, not by this. */
#define PERMITS 1000
#define CONSUMER_ID 1
/* A missing topic is looked at again this often. */
#define TOPIC_RETRY_MS 1000
/* Undecodable frames at the same place, reconnecting in between, before the
 * reader gives up with MQ_ERROR. */
#define MAX_BAD_FRAMES 3

typedef struct pulsar_reader {
    struct mq_reader_base base;
    pulsar_opts opts;
    char topic[512];
    char subscription[64];
    mq_start start;
    pulsar_conn conn;
    bool ready;                 /* subscribed and flowing */

    /* Skip what lies before the start position or was handed out already. */
    bool have_floor;
    pulsar_pos floor;
    bool floor_inclusive;       /* deliver floor itself (MQ_START_AT) */
    bool have_last;
    pulsar_pos last;            /* last message handed out */
    /* Subscribed at a concrete entry: the first entry the broker sends must
     * be that one, or the position is gone (entry_kept). */
    bool expecting;
    pulsar_pos expected;        /* batch unused */

    pulsar_entry entry;         /* the entry being handed out, record by record */
    pulsar_pos entry_pos;       /* batch = -1 */
    size_t entry_next;
    uint32_t unflowed;          /* messages received since the last FLOW */

    uint64_t lastid_request;    /* pending GET_LAST_MESSAGE_ID, 0 = none */
    uint64_t ask_after_ms;      /* not before: "not yet at the end" was just said */
    bool end_reported;          /* MQ_END said since the last message */

    int bad_frames;             /* undecodable frames in a row, since the last message */
    bool failed;                /* a message that cannot be handed out: said again on every call */
    mcdc_err failure;
    bool topic_missing;
    uint64_t retry_at_ms;
    mcdc_backoff backoff;
    char transient[MCDC_ERR_MSG_MAX + 64];
} pulsar_reader;

static uint64_t deadline_after(uint32_t ms) { return mcdc_now_mono_ms() + ms; }

static void set_transient(pulsar_reader *r, const char *msg) {
    if (strcmp(r->transient, msg) != 0) log_warn("pulsar %s: %s", r->topic, msg);
    snprintf(r->transient, sizeof r->transient, "%s", msg);
}

/* Position of record i of the current entry. */
static pulsar_pos rec_pos(const pulsar_reader *r, size_t i) {
    pulsar_pos p = r->entry_pos;
    p.batch = r->entry.recs[i].batch_index;
    return p;
}

static bool already_seen(const pulsar_reader *r, const pulsar_pos *p) {
    if (r->have_last) return pulsar_pos_cmp(p, &r->last) <= 0;
    if (r->have_floor) {
        int c = pulsar_pos_cmp(p, &r->floor);
        return r->floor_inclusive ? c < 0 : c <= 0;
    }
    return false;
}

/* ---- (re)connecting ------------------------------------------------------------ */

static void drop_connection(pulsar_reader *r, const char *why) {
    if (why) set_transient(r, why);
    pulsar_conn_close(&r->conn);
    r->ready = false;
    r->lastid_request = 0;
    r->unflowed = 0;
}

/* Where the broker should start: the entry of the first message we may still
 * need. Drops of what precedes it within the entry happen in already_seen. */
static void resume_entry(const pulsar_reader *r, pulsar_pos *start, bool *latest) {
    *latest = false;
    if (r->have_last) {
        *start = r->last;
    } else if (r->have_floor) {
        *start = r->floor;
    } else if (r->start.kind == MQ_START_LATEST) {
        *latest = true;
    } else {
        *start = (pulsar_pos){-1, -1, -1};
    }
}

/* 0 = ready; -1 with *err: MCDC_ENOTFOUND (no topic yet) and other transient
 * codes are retried by the caller, the rest are for good. */
static int subscribe_now(pulsar_reader *r, mcdc_err *err) {
    uint64_t deadline = deadline_after(r->opts.op_timeout_ms);
    if (pulsar_connect_topic(&r->conn, r->topic, deadline, err)) goto fail;
    pulsar_pos start;
    bool latest;
    resume_entry(r, &start, &latest);
    if (pulsar_subscribe(&r->conn, r->topic, r->subscription, CONSUMER_ID, &start, latest, deadline, err)) goto fail;
    /* Earliest (-1, -1) and latest name no message: nothing to check. */
    r->expecting = !latest && start.ledger >= 0 && start.entry >= 0;
    r->expected = start;
    if (latest) {
        /* Pin "latest" to a position now, so a reconnect before the first
         * message resumes here instead of jumping further ahead. */
        pulsar_pos last;
        bool exists;
        if (pulsar_last_message_id(&r->conn, CONSUMER_ID, &last, &exists, deadline, err)) goto fail;
        r->have_floor = exists;
        r->floor = last;
        r->floor_inclusive = false;
        if (!exists) r->start.kind = MQ_START_EARLIEST; /* empty topic: everything to come is new */
    }
    if (pulsar_flow(&r->conn, CONSUMER_ID, PERMITS, deadline, err)) goto fail;
    r->ready = true;
    r->unflowed = 0;
    r->lastid_request = 0;
    r->topic_missing = false;
    mcdc_backoff_reset(&r->backoff);
    r->transient[0] = '\0';
    log_debug("pulsar %s: subscribed on %s (%s)", r->topic, r->conn.url, r->conn.server_version);
    return 0;
fail:
    pulsar_conn_close(&r->conn);
    r->ready = false;
    return -1;
}

/* One attempt; schedules the next on failure. MQ_ERROR only for what does
 * not heal by waiting. */
static mq_result try_connect(pulsar_reader *r, mcdc_err *err) {
    mcdc_err e;
    if (subscribe_now(r, &e) == 0) return MQ_NONE;
    r->topic_missing = e.code == MCDC_ENOTFOUND;
    if (r->topic_missing) {
        /* Whatever Milvus writes to a topic that does not exist yet is new. */
        if (r->start.kind == MQ_START_LATEST) r->start.kind = MQ_START_EARLIEST;
        /* Expected until Milvus writes there: no warning. */
        snprintf(r->transient, sizeof r->transient, "topic %.500s does not exist yet", r->topic);
        r->retry_at_ms = mcdc_now_mono_ms() + TOPIC_RETRY_MS;
        return MQ_END;
    }
    if (!mcdc_err_is_transient(e.code) && e.code != MCDC_EDECODE) {
        if (err) *err = e;
        mcdc_err_prefix(err, "pulsar %s", r->topic);
        return MQ_ERROR;
    }
    set_transient(r, e.msg);
    r->retry_at_ms = mcdc_now_mono_ms() + mcdc_backoff_next(&r->backoff);
    return MQ_NONE;
}

/* ---- the reader ----------------------------------------------------------------- */

static mq_reader *pulsar_open(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err) {
    pulsar_reader *r = mcdc_xcalloc(1, sizeof *r);
    if (pulsar_opts_init(&r->opts, cfg, err)) {
        free(r);
        return NULL;
    }
    r->base.driver = &mq_pulsar_driver;
    r->base.channel = mcdc_xstrdup(channel);
    pulsar_topic_name(&r->opts, channel, r->topic, sizeof r->topic);
    pulsar_conn_init(&r->conn, &r->opts);
    mcdc_backoff_init(&r->backoff, 100, 2000);
    /* Unique per reader: two readers of one topic (a task and mq_last_position,
     * two tasks) must not collide on an exclusive subscription. */
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        uint64_t x = mcdc_now_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)r;
        memcpy(rnd, &x, sizeof rnd);
    }
    int n = snprintf(r->subscription, sizeof r->subscription, "mcdc-");
    for (size_t i = 0; i < sizeof rnd; i++) n += snprintf(r->subscription + n, sizeof r->subscription - (size_t)n, "%02x", rnd[i]);
    r->start = *start;
    if (start->kind == MQ_START_AT || start->kind == MQ_START_AFTER) {
        if (pulsar_msgid_decode(&start->at, &r->floor, NULL, err)) {
            mcdc_err_prefix(err, "pulsar %s: start position", r->topic);
            mq_close((mq_reader *)r);
            return NULL;
        }
        r->have_floor = true;
        r->floor_inclusive = start->kind == MQ_START_AT;
        /* Batch index -1 names a whole entry (Pulsar's own ids): AT starts at
         * its first message, AFTER skips all of it. */
        if (r->floor.batch < 0) r->floor.batch = r->floor_inclusive ? 0 : INT32_MAX;
    }
    /* Connect now: "latest" means latest at open, and a broken setup shows at
     * once. A broker that is down is retried by mq_next. */
    if (try_connect(r, err) == MQ_ERROR) {
        mq_close((mq_reader *)r);
        return NULL;
    }
    return (mq_reader *)r;
}

/* Hands out the next record of the current entry that is new. */
static bool next_record(pulsar_reader *r, mq_message *msg) {
    while (r->entry_next < r->entry.n_recs) {
        size_t i = r->entry_next++;
        pulsar_pos p = rec_pos(r, i);
        if (already_seen(r, &p)) continue;
        r->last = p;
        r->have_last = true;
        r->end_reported = false;
        r->bad_frames = 0;
        r->transient[0] = '\0';
        msg->payload = r->entry.recs[i].payload;
        msg->len = r->entry.recs[i].len;
        pulsar_msgid_encode(&p, 0, &msg->id);
        return true;
    }
    return false;
}

/* While the broker says "more to come" but sends nothing yet (a cold read
 * from the bookie), ask again at this pace rather than in a loop. */
#define ASK_AGAIN_MS 200

/* Everything up to the topic's last message has been handed out (or skipped
 * as before the start). */
static bool at_end(const pulsar_reader *r, const pulsar_pos *last, bool exists) {
    if (!exists) return true;
    if (r->have_last) return pulsar_pos_cmp(last, &r->last) <= 0;
    if (r->have_floor) {
        int c = pulsar_pos_cmp(last, &r->floor);
        return r->floor_inclusive ? c < 0 : c <= 0;
    }
    return false;
}

/* Is the entry the reader subscribed at still in the topic? Asked of the
 * first MESSAGE after each SUBSCRIBE at a concrete entry (a start position, a
 * reconnect after the last message handed out, "latest" pinned), and of a
 * last-message-id reply that comes before any MESSAGE.
 *
 * Why the first entry decides, with no false alarm (apache/pulsar, broker
 * 3.x: ServerCnx.handleSubscribe, PersistentTopic.getNonDurableSubscription,
 * NonDurableCursorImpl, ManagedLedgerImpl.getNextValidPosition):
 *  - every start id becomes a batch message id, so the broker steps back one
 *    entry and places the cursor's read position on the next valid position
 *    after (ledger, entry - 1): the entry itself whenever its ledger still
 *    exists. Retention and truncation delete whole ledgers, never part of
 *    one, so an entry that was a real message and whose ledger is kept is
 *    always the first one sent; batch indexes play no part (a batch is one
 *    entry, and the reader drops what precedes the wanted index itself).
 *  - when that ledger was deleted (retention, truncate, or the topic deleted
 *    and re-created: new ledgers have new, larger ids) the next valid
 *    position is the first entry of the next ledger that exists; a start id
 *    past the last entry (a position from another cluster) starts at the
 *    subscription's initial position, the earliest. Either way the first
 *    entry sent is another one: different means gone.
 *  - when no MESSAGE comes, the topic's last message id may still say it:
 *    a real entry (entry id >= 0) before the wanted one means the wanted
 *    one is not there, as the last id only grows while entries exist. An
 *    answer with entry -1 proves nothing: older brokers answer it for a
 *    topic just reloaded into a fresh ledger while older ledgers still hold
 *    messages (3.x looks back to the last ledger that has entries). A topic
 *    trimmed to nothing is then "the end for now" (nothing is handed out)
 *    until Milvus writes again, at the latest its next time tick, whose
 *    entry then decides.
 * Earliest and latest subscribe at no entry and are never checked.
 *
 * What this cannot tell: whether anything was lost. When the saved message
 * was the last entry of a ledger that is now deleted, the next entry the
 * broker has may be exactly the one we need, but no Pulsar command says how
 * many entries a deleted ledger held (entry ids restart at 0 in every
 * ledger, so "the next message" has no name). The reader stops rather than
 * guess: a pause can be looked at, a silent gap cannot.
 *
 * `seen` is the first entry sent (delivered) or the topic's last message, a
 * real one (!delivered). False: r->failure says why. */
static bool entry_kept(pulsar_reader *r, const pulsar_pos *seen, bool delivered) {
    pulsar_pos want = {r->expected.ledger, r->expected.entry, 0}, at = {seen->ledger, seen->entry, 0};
    int c = pulsar_pos_cmp(&at, &want);
    if (delivered) r->expecting = false;
    if (delivered ? c == 0 : c >= 0) return true; /* there, or still to come (a cold read from the bookie) */
    char saved[96], other[96];
    /* The position as the caller knows it: the last message handed out, else
     * the start position as given (a batch index -1 stays -1). */
    pulsar_pos shown = r->have_last ? r->last : r->have_floor ? r->floor : want;
    if (!r->have_last && (r->start.kind == MQ_START_AT || r->start.kind == MQ_START_AFTER))
        pulsar_msgid_decode(&r->start.at, &shown, NULL, NULL);
    pulsar_pos_format(&shown, 0, saved, sizeof saved);
    pulsar_pos_format(&at, 0, other, sizeof other);
    mcdc_errf(&r->failure, MCDC_ENOTFOUND, "pulsar topic %s: position %s is no longer in the topic (retention?); %s %s",
              r->topic, saved, delivered ? "the oldest message left is" : "its last message is", other);
    return false;
}

/* A start position that is gone: said now and on every later call. */
static mq_result position_gone(pulsar_reader *r, mcdc_err *err) {
    drop_connection(r, NULL);
    r->failed = true;
    if (err) *err = r->failure;
    return MQ_ERROR;
}

static int ask_last(pulsar_reader *r, mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetLastMessageId g = PULSAR__PROTO__COMMAND_GET_LAST_MESSAGE_ID__INIT;
    uint64_t rid = pulsar_conn_request_id(&r->conn);
    g.consumer_id = CONSUMER_ID;
    g.request_id = rid;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID;
    cmd.getlastmessageid = &g;
    if (pulsar_conn_send(&r->conn, &cmd, deadline_after(5000), err)) return -1;
    r->lastid_request = rid;
    return 0;
}

/* A MESSAGE frame becomes the current entry. */
static int take_entry(pulsar_reader *r, pulsar_frame *f, mcdc_err *err) {
    Pulsar__Proto__CommandMessage *m = f->cmd->message;
    if (!m || !m->message_id) return mcdc_errf(err, MCDC_EDECODE, "pulsar %s: MESSAGE without a message id", r->topic);
    r->entry_pos = (pulsar_pos){(int64_t)m->message_id->ledgerid, (int64_t)m->message_id->entryid, -1};
    r->entry_next = 0;
    char idtext[96];
    pulsar_pos shown = r->entry_pos;
    shown.batch = 0;
    pulsar_pos_format(&shown, 0, idtext, sizeof idtext);
    if (pulsar_entry_parse(&r->entry, f->rest, f->rest_len, r->topic, idtext, err)) return -1;
    r->unflowed += r->entry.batched ? (uint32_t)r->entry.n_recs : 1;
    return 0;
}

static mq_result pulsar_next(mq_reader *rr, mq_message *msg, uint32_t timeout_ms, mcdc_err *err) {
    pulsar_reader *r = (pulsar_reader *)rr;
    if (r->failed) {
        /* Never read past a message we could not hand out: that would skip it. */
        if (err) *err = r->failure;
        return MQ_ERROR;
    }
    uint64_t deadline = deadline_after(timeout_ms);
    for (;;) {
        if (next_record(r, msg)) return MQ_MESSAGE;

        if (!r->ready) {
            uint64_t now = mcdc_now_mono_ms();
            if (now < r->retry_at_ms) {
                if (now >= deadline) return r->topic_missing ? MQ_END : MQ_NONE;
                uint64_t until = r->retry_at_ms < deadline ? r->retry_at_ms : deadline;
                mcdc_sleep_ms((uint32_t)(until - now));
                continue;
            }
            mq_result c = try_connect(r, err);
            if (c == MQ_ERROR || c == MQ_END) return c;
            continue;
        }

        if (r->unflowed >= PERMITS / 2) {
            mcdc_err e;
            if (pulsar_flow(&r->conn, CONSUMER_ID, r->unflowed, deadline_after(5000), &e)) {
                drop_connection(r, e.msg);
                continue;
            }
            r->unflowed = 0;
        }

        /* First look without waiting: if nothing is there, ask whether we are
         * at the end while we wait. */
        pulsar_frame f;
        mcdc_err e;
        int got = pulsar_conn_recv(&r->conn, &f, 0, &e);
        if (got == 0 && !r->end_reported && !r->lastid_request && mcdc_now_mono_ms() >= r->ask_after_ms) {
            if (ask_last(r, &e)) {
                drop_connection(r, e.msg);
                continue;
            }
        }
        if (got == 0) got = pulsar_conn_recv(&r->conn, &f, deadline, &e);
        if (got == 0) return MQ_NONE;
        if (got < 0) {
            if (e.code == MCDC_EDECODE && ++r->bad_frames >= MAX_BAD_FRAMES) {
                /* Not a hiccup: the broker sends this every time at this point. */
                char at[96] = "the start";
                if (r->have_last) pulsar_pos_format(&r->last, 0, at, sizeof at);
                mcdc_errf(&r->failure, MCDC_EDECODE, "pulsar topic %s: after message %s: %s", r->topic, at, e.msg);
                drop_connection(r, NULL);
                r->failed = true;
                if (err) *err = r->failure;
                return MQ_ERROR;
            }
            /* A frame we cannot even split means the stream is out of step: once
             * is a hiccup, so reconnect and read on from the last message. */
            drop_connection(r, e.msg);
            r->retry_at_ms = 0; /* at once the first time; backoff after that */
            continue;
        }
        Pulsar__Proto__BaseCommand *b = f.cmd;
        switch (b->type) {
        case PULSAR__PROTO__BASE_COMMAND__TYPE__MESSAGE: {
            r->ask_after_ms = 0;
            Pulsar__Proto__MessageIdData *id = b->message ? b->message->message_id : NULL;
            if (r->expecting && id) {
                pulsar_pos sent = {(int64_t)id->ledgerid, (int64_t)id->entryid, 0};
                if (!entry_kept(r, &sent, true)) {
                    pulsar_frame_clear(&f);
                    return position_gone(r, err);
                }
            }
            int rc = take_entry(r, &f, &r->failure);
            pulsar_frame_clear(&f);
            if (rc) {
                r->failed = true;
                if (err) *err = r->failure;
                return MQ_ERROR;
            }
            continue;
        }
        case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID_RESPONSE: {
            Pulsar__Proto__CommandGetLastMessageIdResponse *g = b->getlastmessageidresponse;
            bool mine = g && g->request_id == r->lastid_request && g->last_message_id;
            bool end = false;
            if (mine) {
                r->lastid_request = 0;
                pulsar_pos last;
                bool exists;
                pulsar_last_from_reply(g->last_message_id, &last, &exists);
                if (r->expecting && exists && !entry_kept(r, &last, false)) {
                    pulsar_frame_clear(&f);
                    return position_gone(r, err);
                }
                end = at_end(r, &last, exists);
            }
            pulsar_frame_clear(&f);
            if (end) {
                r->end_reported = true;
                return MQ_END;
            }
            if (mine) r->ask_after_ms = mcdc_now_mono_ms() + ASK_AGAIN_MS;
            continue;
        }
        case PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR:
            if (b->error && b->error->request_id == r->lastid_request) {
                log_debug("pulsar %s: last message id: %s", r->topic, b->error->message ? b->error->message : "");
                r->lastid_request = 0;
                r->ask_after_ms = mcdc_now_mono_ms() + ASK_AGAIN_MS;
            }
            pulsar_frame_clear(&f);
            continue;
        case PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_CONSUMER:
            /* The topic moves (unload, broker shutdown): subscribe again where we are. */
            pulsar_frame_clear(&f);
            drop_connection(r, NULL);
            r->retry_at_ms = 0;
            continue;
        case PULSAR__PROTO__BASE_COMMAND__TYPE__REACHED_END_OF_TOPIC:
            pulsar_frame_clear(&f);
            r->end_reported = true;
            return MQ_END;
        default:
            /* ACTIVE_CONSUMER_CHANGE and anything newer than us. */
            pulsar_frame_clear(&f);
            continue;
        }
    }
}

static const char *pulsar_last_transient(mq_reader *rr) {
    pulsar_reader *r = (pulsar_reader *)rr;
    return r->transient[0] ? r->transient : NULL;
}

static void pulsar_close(mq_reader *rr) {
    pulsar_reader *r = (pulsar_reader *)rr;
    /* Closing the socket ends the non-durable subscription on the broker. */
    pulsar_conn_close(&r->conn);
    mcdc_buf_free(&r->conn.rx);
    mcdc_buf_free(&r->conn.tx);
    pulsar_entry_free(&r->entry);
    pulsar_opts_free(&r->opts);
    free(r->base.channel);
    free(r);
}

/* ---- one-shot questions ------------------------------------------------------------ */

static int pulsar_last_position(const mq_config *cfg, const char *channel, mq_msgid *out, bool *exists,
                                uint32_t timeout_ms, mcdc_err *err) {
    pulsar_opts o;
    if (pulsar_opts_init(&o, cfg, err)) return -1;
    char topic[512];
    pulsar_topic_name(&o, channel, topic, sizeof topic);
    pulsar_conn c;
    pulsar_conn_init(&c, &o);
    uint64_t deadline = deadline_after(timeout_ms);
    char sub[64];
    snprintf(sub, sizeof sub, "mcdc-last-%" PRIx64, mcdc_now_mono_ns() ^ (uint64_t)getpid());
    *exists = false;
    int rc = 0;
    pulsar_pos start = {-1, -1, -1}, last;
    if (pulsar_connect_topic(&c, topic, deadline, err) ||
        pulsar_subscribe(&c, topic, sub, CONSUMER_ID, &start, true, deadline, err) ||
        pulsar_last_message_id(&c, CONSUMER_ID, &last, exists, deadline, err)) {
        rc = -1;
        if (err && err->code == MCDC_ENOTFOUND) {
            rc = 0; /* no topic yet: nothing in the channel */
            *exists = false;
        } else {
            mcdc_err_prefix(err, "pulsar %s: end of channel", topic);
        }
    } else if (*exists) {
        pulsar_msgid_encode(&last, 0, out);
    }
    pulsar_conn_close(&c);
    mcdc_buf_free(&c.rx);
    mcdc_buf_free(&c.tx);
    pulsar_opts_free(&o);
    return rc;
}

/* One connection per channel: a topic's owner broker may differ. */
static int pulsar_last_positions(const mq_config *cfg, const char *const *channels, size_t n, mq_msgid *out,
                                 bool *exists, uint32_t timeout_ms, mcdc_err *err) {
    for (size_t i = 0; i < n; i++)
        if (pulsar_last_position(cfg, channels[i], &out[i], &exists[i], timeout_ms, err)) return -1;
    return 0;
}

static int pulsar_probe(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err) {
    pulsar_opts o;
    if (pulsar_opts_init(&o, cfg, err)) return -1;
    pulsar_conn c;
    pulsar_conn_init(&c, &o);
    int rc = pulsar_conn_open(&c, o.service_url, deadline_after(timeout_ms), err);
    if (rc) mcdc_err_prefix(err, "pulsar at %s does not answer", o.service_url);
    pulsar_conn_close(&c);
    mcdc_buf_free(&c.rx);
    mcdc_buf_free(&c.tx);
    pulsar_opts_free(&o);
    return rc;
}

/* ---- positions -------------------------------------------------------------------- */

static int pulsar_format(const mq_msgid *id, char *out, size_t cap) {
    pulsar_pos p;
    int32_t part;
    if (pulsar_msgid_decode(id, &p, &part, NULL)) return -1;
    return pulsar_pos_format(&p, part, out, cap);
}

static int pulsar_parse(const char *text, mq_msgid *out, mcdc_err *err) {
    pulsar_pos p;
    int32_t part;
    if (pulsar_pos_parse(text, &p, &part, err)) return -1;
    pulsar_msgid_encode(&p, part, out);
    return 0;
}

/* Within one channel the partition is the same everywhere; only the message
 * counts (Milvus writes partition 0, a broker may say -1). */
static int pulsar_cmp(const mq_msgid *a, const mq_msgid *b) {
    pulsar_pos x, y;
    bool okx = pulsar_msgid_decode(a, &x, NULL, NULL) == 0, oky = pulsar_msgid_decode(b, &y, NULL, NULL) == 0;
    if (!okx || !oky) return okx - oky; /* undecodable bytes sort first, consistently */
    return pulsar_pos_cmp(&x, &y);
}

/* Entry ids are not dense (a ledger rolls over, a batch holds several
 * messages), so the message before another has no name without asking the
 * broker; a start position is where a subscription starts instead. */
static int pulsar_position_before(const mq_msgid *at, mq_msgid *out, bool *from_earliest, mcdc_err *err) {
    (void)at, (void)out, (void)from_earliest;
    return mcdc_errf(err, MCDC_EINVAL, "explicit start positions are supported on Kafka sources only");
}

const mq_driver mq_pulsar_driver = {
    .name = "pulsar", .keys = pulsar_keys, .n_keys = PULSAR_N_KEYS,
    .open = pulsar_open, .next = pulsar_next, .last_transient_error = pulsar_last_transient, .close = pulsar_close,
    .probe = pulsar_probe, .last_positions = pulsar_last_positions,
    .format = pulsar_format, .parse = pulsar_parse, .cmp = pulsar_cmp, .position_before = pulsar_position_before,
};
