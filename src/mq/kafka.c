/* kafka.c — the Kafka driver of mq.h, on librdkafka.
 *
 * Milvus writes each channel to partition 0 of a topic of the same name and
 * never commits consumer offsets: positions live in its own metadata as the
 * offset in 8 little-endian bytes (spec/mq-messages.md §2, §6). So we assign
 * partition 0 explicitly at an offset, never join a group rebalance and never
 * commit; the position is ours to keep (the checkpoint store). */
#include "mq/mq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

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
} kafka_reader;

void mq_kafka_msgid(int64_t offset, mq_msgid *out) {
    uint64_t v = (uint64_t)offset;
    for (int i = 0; i < 8; i++) out->bytes[i] = (uint8_t)(v >> (8 * i));
    out->len = 8;
}

int64_t mq_kafka_offset(const mq_msgid *id) {
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

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, mcdc_err *err) {
    char why[256];
    if (!v) return 0;
    if (rd_kafka_conf_set(conf, k, v, why, sizeof why) != RD_KAFKA_CONF_OK)
        return mcdc_errf(err, MCDC_EINVAL, "kafka setting %s=%s: %s", k, v, why);
    return 0;
}

/* The client settings every reader uses; NULL with *err set on a bad one. */
static rd_kafka_conf_t *make_conf(const mq_config *cfg, const char *channel, mcdc_err *err) {
    if (!cfg->address || !cfg->address[0]) {
        mcdc_errf(err, MCDC_EINVAL, "kafka: no broker address");
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[300];
    snprintf(group, sizeof group, "mcdc-%s", channel);
    /* fetch.wait.max.ms: the default 500 ms makes Milvus topics, with their
     * 5 tiny time ticks a second, crawl (stack notes pitfall 7).
     * auto.offset.reset=error: a saved position that retention deleted must
     * stop the task loudly, not jump to the end and lose data.
     * queued.max.messages.kbytes bounds the prefetch memory per channel
     * (source.mq.kafka.prefetch_kbytes sets it, as an extra property): 8 MiB
     * keeps a catch-up at 35 000 rows/s on 2 channels, 4 MiB halved that
     * (docs/benchmarks.md, an A/B of one build). */
    const char *fixed[][2] = {
        {"bootstrap.servers", cfg->address},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "error"},
        {"allow.auto.create.topics", "false"},
        {"fetch.wait.max.ms", "10"},
        {"fetch.error.backoff.ms", "100"},
        {"topic.metadata.refresh.interval.ms", "2000"},
        {"queued.max.messages.kbytes", "8192"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "2000"},
        {"security.protocol", cfg->security_protocol},
        {"sasl.mechanisms", cfg->sasl_mechanism},
        {"sasl.username", cfg->sasl_username},
        {"sasl.password", cfg->sasl_password},
        {"ssl.ca.location", cfg->ssl_ca_location},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (set(conf, fixed[i][0], fixed[i][1], err)) goto fail_conf;
    }
    for (size_t i = 0; i < cfg->n_extra; i++) {
        if (set(conf, cfg->extra[i].key, cfg->extra[i].value, err)) goto fail_conf;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;

fail_conf:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void check_missing(kafka_reader *r);

static mq_reader *kafka_open(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err) {
    rd_kafka_conf_t *conf = make_conf(cfg, channel, err);
    if (!conf) return NULL;
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        mcdc_errf(err, MCDC_EINVAL, "kafka client for %s: %s", channel, why);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_add(parts, channel, 0);
    switch (start->kind) {
    case MQ_START_EARLIEST: p->offset = RD_KAFKA_OFFSET_BEGINNING; break;
    case MQ_START_LATEST: p->offset = RD_KAFKA_OFFSET_END; break;
    case MQ_START_AT: p->offset = mq_kafka_offset(&start->at); break;
    case MQ_START_AFTER: p->offset = mq_kafka_offset(&start->at) + 1; break;
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
    check_missing(r);
    return (mq_reader *)r;
}

static int kafka_last_position(const mq_config *cfg, const char *channel, mq_msgid *out, bool *exists,
                               uint32_t timeout_ms, mcdc_err *err) {
    rd_kafka_conf_t *conf = make_conf(cfg, channel, err);
    if (!conf) return -1;
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return mcdc_errf(err, MCDC_EINVAL, "kafka client: %s", why);
    }
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
    if (e) {
        rd_kafka_destroy(rk);
        return mcdc_errf(err, MCDC_EUNAVAIL, "kafka %s: metadata: %s", channel, rd_kafka_err2str(e));
    }
    if (missing) {
        rd_kafka_destroy(rk);
        return 0;
    }
    int64_t lo = 0, hi = 0;
    e = rd_kafka_query_watermark_offsets(rk, channel, 0, &lo, &hi, (int)timeout_ms);
    rd_kafka_destroy(rk);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        return 0;
    if (e) return mcdc_errf(err, MCDC_EUNAVAIL, "kafka %s: end of channel: %s", channel, rd_kafka_err2str(e));
    if (hi > 0) {
        mq_kafka_msgid(hi - 1, out);
        *exists = true;
    }
    return 0;
}

static int kafka_probe(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err) {
    rd_kafka_conf_t *conf = make_conf(cfg, "probe", err);
    if (!conf) return -1;
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return mcdc_errf(err, MCDC_EINVAL, "kafka client: %s", why);
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, (int)timeout_ms);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    if (e) return mcdc_errf(err, MCDC_EUNAVAIL, "kafka at %s does not answer: %s", cfg->address, rd_kafka_err2str(e));
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
        r->transient[0] = '\0';
        msg->payload = m->payload;
        msg->len = m->len;
        mq_kafka_msgid(m->offset, &msg->id);
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
    int n = snprintf(out, cap, "%" PRId64, mq_kafka_offset(id));
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int kafka_parse(const char *text, mq_msgid *out, mcdc_err *err) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (!text[0] || *end || v < 0)
        return mcdc_errf(err, MCDC_EINVAL, "'%s' is not a Kafka position (a non-negative offset)", text);
    mq_kafka_msgid(v, out);
    return 0;
}

static int kafka_cmp(const mq_msgid *a, const mq_msgid *b) {
    int64_t x = mq_kafka_offset(a), y = mq_kafka_offset(b);
    return x < y ? -1 : x > y;
}

const mq_driver mq_kafka_driver = {
    .name = "kafka",
    .open = kafka_open,
    .next = kafka_next,
    .last_transient_error = kafka_last_transient,
    .close = kafka_close,
    .format = kafka_format,
    .parse = kafka_parse,
    .cmp = kafka_cmp,
    .probe = kafka_probe,
    .last_position = kafka_last_position,
};
