/* kafka.c — the Kafka driver of mq.h, on librdkafka.
 *
 * Milvus writes each channel to partition 0 of a topic of the same name and
 * never commits consumer offsets: positions live in its own metadata as the
 * offset in 8 little-endian bytes (spec/mq-messages.md §2, §6). So we assign
 * partition 0 explicitly at an offset, never join a group rebalance and never
 * commit; the position is ours to keep (the checkpoint store). */
#include "mq/mq_driver.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"

typedef struct kafka_reader {
    struct mq_reader_base base;
    rd_kafka_t *rk;
    rd_kafka_message_t *held;     /* the message last handed out */
    int64_t last_offset;          /* -1 before the first message */
    char transient[256];
    bool missing;                 /* the topic did not exist at the last look */
    uint64_t missing_checked_ms;
    size_t wake_step;             /* bytes handed out between two wakes of the fetcher */
    size_t since_wake;            /* bytes handed out since the last wake */
} kafka_reader;

/* Kafka msgIDs are offsets (spec/mq-messages.md §6). */
static void offset_msgid(int64_t offset, mq_msgid *out) {
    uint64_t v = (uint64_t)offset;
    for (int i = 0; i < 8; i++) out->bytes[i] = (uint8_t)(v >> (8 * i));
    out->len = 8;
}

static int64_t msgid_offset(const mq_msgid *id) {
    uint64_t v = 0;
    for (int i = 0; i < 8 && i < (int)id->len; i++) v |= (uint64_t)id->bytes[i] << (8 * i);
    return (int64_t)v;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    /* librdkafka levels are syslog's: 0-3 error, 4 warning, 5-6 info, 7 debug. */
    if (level <= 3) log_error("kafka %s: %s", fac, buf);
    else if (level == 4) log_warn("kafka %s: %s", fac, buf);
    else log_debug("kafka %s: %s", fac, buf);
}

/* ---- settings (source.mq.kafka) --------------------------------------------- */

enum { K_ADDRESS, K_PROTOCOL, K_MECHANISM, K_USER, K_PASSWORD, K_CA, K_PREFETCH, N_KEYS };

static int check_brokers(const char *v, mcdc_err *err) {
    if (mcdc_addr_list_check(v, 0, NULL) == 0) return 0;
    return mcdc_errf(err, MCDC_EINVAL, "want host:port[,host:port...], e.g. 127.0.0.1:9092");
}

static const char *const PROTOCOLS[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", NULL};
static const char *const MECHANISMS[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER", NULL};

/* queued.max.messages.kbytes (prefetch_kbytes) bounds the prefetch memory per
 * channel; the reader wakes the fetcher as it drains it (below). The
 * default is for a reader alone (mcdc dump, tools); a task hands each of its
 * channels a share of its own read-ahead budget instead (pipeline/budget.h),
 * unless the config sets this key. */
static const mq_key KEYS[N_KEYS] = {
    [K_ADDRESS] = {.name = "address", .kind = MQ_KEY_CHECKED, .def = "127.0.0.1:9092",
          .help = "bootstrap servers", .check = check_brokers},
    [K_PROTOCOL] = {.name = "security_protocol", .kind = MQ_KEY_CHOICE, .def = "PLAINTEXT",
          .help = "security.protocol", .choices = PROTOCOLS},
    [K_MECHANISM] = {.name = "sasl_mechanism", .kind = MQ_KEY_CHOICE, .def = "",
          .help = "sasl.mechanisms, with a SASL_ protocol", .choices = MECHANISMS},
    [K_USER] = {.name = "sasl_username", .kind = MQ_KEY_TEXT, .def = "", .help = "sasl.username"},
    [K_PASSWORD] = {.name = "sasl_password", .kind = MQ_KEY_SECRET, .def = "", .help = "sasl.password"},
    [K_CA] = {.name = "ssl_ca_location", .kind = MQ_KEY_TEXT, .def = "", .help = "CA file; empty = the system's"},
    [K_PREFETCH] = {.name = "prefetch_kbytes", .kind = MQ_KEY_INT, .def = "8192",
          .help = "read-ahead per channel, KiB", .lo = 1024, .hi = 1048576},
};

static int check_settings(const char *const *v, const char **blame, mcdc_err *err) {
    bool sasl = strncmp(v[K_PROTOCOL], "SASL_", 5) == 0;
    if (sasl && !v[K_MECHANISM][0]) {
        *blame = KEYS[K_MECHANISM].name;
        return mcdc_errf(err, MCDC_EINVAL, "missing; %s needs one (PLAIN, SCRAM-SHA-256, ...)", v[K_PROTOCOL]);
    }
    if (!sasl && (v[K_MECHANISM][0] || v[K_USER][0] || v[K_PASSWORD][0])) {
        *blame = KEYS[K_PROTOCOL].name;
        return mcdc_errf(err, MCDC_EINVAL, "SASL settings are given but the protocol is %s; want SASL_PLAINTEXT or SASL_SSL",
                         v[K_PROTOCOL][0] ? v[K_PROTOCOL] : "PLAINTEXT");
    }
    return 0;
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, mcdc_err *err) {
    char why[256];
    if (!v || !v[0]) return 0;
    if (rd_kafka_conf_set(conf, k, v, why, sizeof why) != RD_KAFKA_CONF_OK)
        return mcdc_errf(err, MCDC_EINVAL, "kafka setting %s: %s", k, why);
    return 0;
}

/* The client settings every reader uses; NULL with *err set on a bad one. */
static rd_kafka_conf_t *make_conf(const mq_config *cfg, const char *channel, mcdc_err *err) {
    const char *v[N_KEYS];
    if (mq_settings_read(&mq_kafka_driver, cfg, v, err)) return NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[300];
    snprintf(group, sizeof group, "mcdc-%s", channel);
    /* fetch.wait.max.ms: the default 500 ms makes Milvus topics, with their
     * 5 tiny time ticks a second, crawl (stack notes pitfall 7).
     * auto.offset.reset=error: a saved position that retention deleted must
     * stop the task loudly, not jump to the end and lose data. */
    const char *fixed[][2] = {
        {"bootstrap.servers", v[K_ADDRESS]},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "error"},
        {"allow.auto.create.topics", "false"},
        {"fetch.wait.max.ms", "10"},
        {"fetch.error.backoff.ms", "100"},
        {"topic.metadata.refresh.interval.ms", "2000"},
        {"queued.max.messages.kbytes", v[K_PREFETCH]},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "2000"},
        {"security.protocol", v[K_PROTOCOL]},
        {"sasl.mechanisms", v[K_MECHANISM]},
        {"sasl.username", v[K_USER]},
        {"sasl.password", v[K_PASSWORD]},
        {"ssl.ca.location", v[K_CA]},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (set(conf, fixed[i][0], fixed[i][1], err)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
}

/* A consumer client with make_conf's settings; NULL with *err set. */
static rd_kafka_t *new_consumer(const mq_config *cfg, const char *channel, mcdc_err *err) {
    rd_kafka_conf_t *conf = make_conf(cfg, channel, err);
    if (!conf) return NULL;
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        /* rd_kafka_new takes the conf only when it succeeds. */
        rd_kafka_conf_destroy(conf);
        mcdc_errf(err, MCDC_EINVAL, "kafka client for %s: %s", channel, why);
    }
    return rk;
}

static void check_missing(kafka_reader *r);

/* ---- keeping the fetcher awake ---------------------------------------------------- */

/* librdkafka 2.0 (Debian's) stops fetching a partition whose queue holds
 * queued.max.messages.kbytes and looks at it again only when its broker
 * thread wakes for some other reason, at the latest after a second (v2.0.2:
 * rd_kafka_toppar_fetch_decide leaves a full queue unfetchable with no
 * backoff time, and the broker loop then sleeps up to rd_kafka_max_block_ms;
 * 2.2 made that wait a setting, fetch.queue.backoff.ms). In a catch-up the
 * target is slower than the queue, so the queue is full most of the time,
 * and after each drain the reader ran dry for most of that second (one
 * channel, librdkafka's fetch log: stalls of 0.8 and 1.0 s in a 5 s
 * catch-up; docs/benchmarks.md). Any request to the partition's leader wakes
 * that thread, which then fetches if the queue has room. So the reader asks
 * the leader for the channel's end (one small ListOffsets) each time it has
 * handed out a quarter of the queue since the last ask, and when the queue
 * ran dry after at least WAKE_MIN handed out: a queue that was full never
 * waits for more than a quarter of its bytes to be refilled, and a reader
 * that is caught up (ticks only) asks almost never. */
#define WAKE_MIN (512u * 1024u)

size_t kafka_wake_step(size_t queue_bytes) { return queue_bytes / 4 > WAKE_MIN ? queue_bytes / 4 : WAKE_MIN; }

bool kafka_wake_due(size_t since_wake, size_t step, bool ran_dry) {
    return since_wake >= step || (ran_dry && since_wake >= WAKE_MIN);
}

/* The request only has to reach the leader's thread, not come back: with
 * no time to wait, offsets_for_times queues it (the leader is in the
 * client's metadata, as it fetches from it) and returns "timed out"; the
 * reply, when it comes, is dropped (v2.0.2: its callback ignores a reply
 * to a caller that has gone). So the reader never blocks on a wake, not
 * even with the broker down. With the leader not known yet it asks for
 * metadata instead and sends nothing; the next wake tries again. */
static void wake_fetcher(kafka_reader *r) {
    r->since_wake = 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    /* In offsets_for_times the offset field is a timestamp; -1 asks for the end. */
    rd_kafka_topic_partition_list_add(parts, r->base.channel, 0)->offset = -1;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(r->rk, parts, 0);
    if (e && e != RD_KAFKA_RESP_ERR__TIMED_OUT)
        log_debug("kafka %s: waking the fetcher: %s", r->base.channel, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(parts);
}

/* The queue limit the client runs with, in bytes. */
static size_t queue_bytes(rd_kafka_t *rk) {
    char v[32];
    size_t n = sizeof v;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "queued.max.messages.kbytes", v, &n) != RD_KAFKA_CONF_OK) return 0;
    return (size_t)strtoull(v, NULL, 10) * 1024u;
}

static mq_reader *kafka_open(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err) {
    rd_kafka_t *rk = new_consumer(cfg, channel, err);
    if (!rk) return NULL;
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_add(parts, channel, 0);
    switch (start->kind) {
    case MQ_START_EARLIEST: p->offset = RD_KAFKA_OFFSET_BEGINNING; break;
    case MQ_START_LATEST: p->offset = RD_KAFKA_OFFSET_END; break;
    case MQ_START_AT: p->offset = msgid_offset(&start->at); break;
    case MQ_START_AFTER: p->offset = msgid_offset(&start->at) + 1; break;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e) {
        mcdc_errf(err, MCDC_EUNAVAIL, "kafka assign %s: %s", channel, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }

    kafka_reader *r = mcdc_xcalloc(1, sizeof *r);
    r->base.driver = &mq_kafka_driver;
    r->base.channel = mcdc_xstrdup(channel);
    r->rk = rk;
    r->last_offset = -1;
    r->wake_step = kafka_wake_step(queue_bytes(rk));
    check_missing(r);
    return (mq_reader *)r;
}

/* One channel's end, asked over rk. */
static int end_of(rd_kafka_t *rk, const char *channel, mq_msgid *out, bool *exists, uint32_t timeout_ms,
                  mcdc_err *err) {
    *exists = false;
    /* Asking a missing topic for its offsets waits out the whole timeout;
     * its metadata says "unknown" at once (and does not create it). */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, channel, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, (int)timeout_ms);
    bool missing = e == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->topic_cnt == 1 &&
                   (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topics[0].partition_cnt == 0);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (e) return mcdc_errf(err, MCDC_EUNAVAIL, "kafka %s: metadata: %s", channel, rd_kafka_err2str(e));
    if (missing) return 0;
    int64_t lo = 0, hi = 0;
    e = rd_kafka_query_watermark_offsets(rk, channel, 0, &lo, &hi, (int)timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        return 0;
    if (e) return mcdc_errf(err, MCDC_EUNAVAIL, "kafka %s: end of channel: %s", channel, rd_kafka_err2str(e));
    if (hi > 0) {
        offset_msgid(hi - 1, out);
        *exists = true;
    }
    return 0;
}

static int kafka_last_positions(const mq_config *cfg, const char *const *channels, size_t n, mq_msgid *out,
                                bool *exists, uint32_t timeout_ms, mcdc_err *err) {
    if (!n) return 0;
    /* The client's group (make_conf) is named after the first channel; it
     * commits nothing, so the name only shows in the broker's logs. */
    rd_kafka_t *rk = new_consumer(cfg, channels[0], err);
    if (!rk) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = end_of(rk, channels[i], &out[i], &exists[i], timeout_ms, err);
    rd_kafka_destroy(rk);
    return rc;
}

static int kafka_probe(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err) {
    /* "probe" names the consumer group (mcdc-probe); no topic is read. */
    rd_kafka_t *rk = new_consumer(cfg, "probe", err);
    if (!rk) return -1;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, (int)timeout_ms);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    if (e)
        return mcdc_errf(err, MCDC_EUNAVAIL, "kafka at %s does not answer: %s", mq_config_get(cfg, "address"),
                         rd_kafka_err2str(e));
    return 0;
}

/* Whether the topic exists, asked without creating it (the consumer's
 * allow.auto.create.topics=false goes into the metadata request). librdkafka
 * waits silently on an assigned partition of a missing topic, so without
 * this a reader could not tell "empty" from "not there yet". */
static void check_missing(kafka_reader *r) {
    r->missing_checked_ms = mcdc_now_mono_ms();
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, r->base.channel, NULL);
    if (!rkt) return;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(r->rk, 0, rkt, &md, 2000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->topic_cnt == 1) {
        rd_kafka_resp_err_t te = md->topics[0].err;
        r->missing = te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || te == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                     md->topics[0].partition_cnt == 0;
        if (r->missing) snprintf(r->transient, sizeof r->transient, "topic %s does not exist yet", r->base.channel);
    }
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
}

static void release_held(kafka_reader *r) {
    if (r->held) {
        rd_kafka_message_destroy(r->held);
        r->held = NULL;
    }
}

static mq_result kafka_next(mq_reader *rr, mq_message *msg, uint32_t timeout_ms, mcdc_err *err) {
    kafka_reader *r = (kafka_reader *)rr;
    release_held(r);
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, (int)timeout_ms);
        if (!m) {
            if (kafka_wake_due(r->since_wake, r->wake_step, true)) wake_fetcher(r);
            if (r->missing && mcdc_now_mono_ms() - r->missing_checked_ms > 2000) check_missing(r);
            return r->missing ? MQ_END : MQ_NONE;
        }
        r->missing = false;
        if (m->err) {
            rd_kafka_resp_err_t e = m->err;
            char what[200];
            snprintf(what, sizeof what, "%s", rd_kafka_message_errstr(m));
            int64_t off = m->offset;
            rd_kafka_message_destroy(m);
            switch (e) {
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                r->transient[0] = '\0';
                return MQ_END;
            case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
            case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
                mcdc_errf(err, MCDC_ENOTFOUND, "kafka %s: position %" PRId64 " is no longer in the topic (retention?): %s",
                          r->base.channel, off, what);
                return MQ_ERROR;
            case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
            case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
                /* Milvus has not written to this channel yet: nothing to read. */
                snprintf(r->transient, sizeof r->transient, "topic %s does not exist yet", r->base.channel);
                return MQ_END;
            default:
                snprintf(r->transient, sizeof r->transient, "%s", what);
                log_debug("kafka %s: %s (retrying)", r->base.channel, what);
                return MQ_NONE;
            }
        }
        if (m->offset <= r->last_offset) {
            /* A re-fetch after a broker reconnect can hand out what we already
             * delivered; the channel order must stay strictly increasing. */
            rd_kafka_message_destroy(m);
            continue;
        }
        r->held = m;
        r->last_offset = m->offset;
        r->since_wake += m->len;
        if (kafka_wake_due(r->since_wake, r->wake_step, false)) wake_fetcher(r);
        r->transient[0] = '\0';
        msg->payload = m->payload;
        msg->len = m->len;
        offset_msgid(m->offset, &msg->id);
        return MQ_MESSAGE;
    }
}

static const char *kafka_last_transient(mq_reader *rr) {
    kafka_reader *r = (kafka_reader *)rr;
    return r->transient[0] ? r->transient : NULL;
}

static void kafka_close(mq_reader *rr) {
    kafka_reader *r = (kafka_reader *)rr;
    release_held(r);
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    free(r->base.channel);
    free(r);
}

static int kafka_format(const mq_msgid *id, char *out, size_t cap) {
    int n = snprintf(out, cap, "%" PRId64, msgid_offset(id));
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int kafka_parse(const char *text, mq_msgid *out, mcdc_err *err) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (!text[0] || *end || v < 0)
        return mcdc_errf(err, MCDC_EINVAL, "'%s' is not a Kafka position (a non-negative offset)", text);
    offset_msgid(v, out);
    return 0;
}

static int kafka_cmp(const mq_msgid *a, const mq_msgid *b) {
    int64_t x = msgid_offset(a), y = msgid_offset(b);
    return x < y ? -1 : x > y;
}

/* Dense offsets: the message before X is X-1. */
static int kafka_position_before(const mq_msgid *at, mq_msgid *out, bool *from_earliest, mcdc_err *err) {
    (void)err;
    int64_t off = msgid_offset(at);
    *from_earliest = off <= 0;
    if (off > 0) offset_msgid(off - 1, out);
    return 0;
}

const mq_driver mq_kafka_driver = {
    .name = "kafka", .keys = KEYS, .n_keys = N_KEYS, .check_settings = check_settings,
    .open = kafka_open, .next = kafka_next, .last_transient_error = kafka_last_transient, .close = kafka_close,
    .probe = kafka_probe, .last_positions = kafka_last_positions,
    .format = kafka_format, .parse = kafka_parse, .cmp = kafka_cmp, .position_before = kafka_position_before,
};
