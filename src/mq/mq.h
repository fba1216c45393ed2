/* mq.h — one physical channel of the Milvus WAL, whatever queue carries it.
 *
 * Milvus writes its WAL to Kafka or Pulsar (spec/mq-messages.md §2-§3). A
 * reader opens one channel (a topic) at a position and hands out messages in
 * channel order, each with its position in Milvus's own msgID encoding
 * (§6: Kafka = 8-byte little-endian offset, Pulsar = MessageIdData bytes), so
 * positions can be stored, compared with Milvus's, and sought again.
 *
 * Queues plug in as drivers behind this small interface, the way inputs are
 * plugins in Fluent Bit: kafka.c (librdkafka), pulsar*.c (our own client). */
#ifndef MCDC_MQ_H
#define MCDC_MQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define MQ_MSGID_MAX 64

/* A Milvus msgID: opaque bytes whose meaning the driver knows. */
typedef struct mq_msgid {
    uint8_t bytes[MQ_MSGID_MAX];
    size_t len;
} mq_msgid;

typedef enum mq_start_kind {
    MQ_START_EARLIEST,
    MQ_START_LATEST,      /* only what is written after opening */
    MQ_START_AT,          /* at (inclusive) the given msgID */
    MQ_START_AFTER,       /* right after the given msgID: how a checkpoint resumes */
} mq_start_kind;

typedef struct mq_start {
    mq_start_kind kind;
    mq_msgid at;
} mq_start;

typedef struct mq_kv {
    const char *key;
    const char *value;
} mq_kv;

typedef struct mq_config {
    const char *type;               /* "kafka" or "pulsar" */
    const char *address;            /* Kafka bootstrap servers "host:port,..." / Pulsar "pulsar://host:port" */
    /* Kafka security, passed to librdkafka as is. */
    const char *security_protocol;  /* PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; NULL = PLAINTEXT */
    const char *sasl_mechanism;     /* PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 */
    const char *sasl_username;
    const char *sasl_password;
    const char *ssl_ca_location;
    /* Extra client properties ("fetch.max.bytes" ...), applied last. */
    const mq_kv *extra;
    size_t n_extra;
} mq_config;

typedef struct mq_message {
    const uint8_t *payload;         /* valid until the next mq_next/mq_close */
    size_t len;
    mq_msgid id;
} mq_message;

typedef struct mq_reader mq_reader;

typedef enum mq_result {
    MQ_ERROR = -1,
    MQ_NONE = 0,      /* nothing within the timeout */
    MQ_MESSAGE = 1,   /* *msg holds the next message */
    MQ_END = 2,       /* nothing more in the channel for now (or no topic yet) */
} mq_result;

/* Opens `channel` (the Milvus channel name = topic). A topic that does not
 * exist yet is not an error: the reader waits for it (Milvus creates topics
 * on first write). */
mq_reader *mq_open(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err);

/* MQ_ERROR only for what does not heal: the start position is gone from the
 * queue (retention), or a payload is too corrupt to hand out. Broker outages
 * are retried inside and visible through mq_last_transient_error. */
mq_result mq_next(mq_reader *r, mq_message *msg, uint32_t timeout_ms, mcdc_err *err);

/* The last transient trouble (broker down ...) seen since the last message,
 * or NULL. For status pages: a reader that retries should say why. */
const char *mq_last_transient_error(mq_reader *r);

const char *mq_channel(const mq_reader *r);

/* The msgID of the last message now in the channel; *exists = false when the
 * channel is empty or has no topic yet (then "after the end" = earliest).
 * Used to pin "latest" to a concrete position when a task is created, so a
 * restart before the first checkpoint does not jump ahead and lose data. */
int mq_last_position(const mq_config *cfg, const char *channel, mq_msgid *out, bool *exists, uint32_t timeout_ms,
                     mcdc_err *err);

/* Asks the queue for its metadata: an unreachable or misconfigured queue is
 * an MCDC_EUNAVAIL/MCDC_EINVAL error here, before any reader waits on it. */
int mq_probe(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err);
void mq_close(mq_reader *r);

/* Position text for people and JSON: Kafka "123" (the offset), Pulsar
 * "ledger:entry:partition:batch". Parsing accepts the same forms. */
int mq_msgid_format(const char *type, const mq_msgid *id, char *out, size_t cap);
int mq_msgid_parse(const char *type, const char *text, mq_msgid *out, mcdc_err *err);
/* Orders two msgIDs of one channel (<0, 0, >0). */
int mq_msgid_cmp(const char *type, const mq_msgid *a, const mq_msgid *b);

/* ---- the driver interface (internal to src/mq) --------------------------- */
typedef struct mq_driver {
    const char *name;
    mq_reader *(*open)(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err);
    mq_result (*next)(mq_reader *r, mq_message *msg, uint32_t timeout_ms, mcdc_err *err);
    const char *(*last_transient_error)(mq_reader *r);
    void (*close)(mq_reader *r);
    int (*format)(const mq_msgid *id, char *out, size_t cap);
    int (*parse)(const char *text, mq_msgid *out, mcdc_err *err);
    int (*cmp)(const mq_msgid *a, const mq_msgid *b);
    int (*probe)(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err);
    int (*last_position)(const mq_config *cfg, const char *channel, mq_msgid *out, bool *exists, uint32_t timeout_ms,
                         mcdc_err *err);
} mq_driver;

/* Every reader starts with this header so mq.c can find its driver. */
struct mq_reader_base {
    const mq_driver *driver;
    char *channel;
};

extern const mq_driver mq_kafka_driver;

/* Kafka msgIDs are offsets; these convert (spec/mq-messages.md §6). */
void mq_kafka_msgid(int64_t offset, mq_msgid *out);
int64_t mq_kafka_offset(const mq_msgid *id);

#endif
