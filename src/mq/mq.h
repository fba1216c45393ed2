/* mq.h — one physical channel of the Milvus WAL, whatever queue carries it.
 *
 * Milvus writes its WAL to Kafka or Pulsar (spec/mq-messages.md §2-§3). A
 * reader opens one channel (a topic) at a position and hands out messages in
 * channel order, each with its position in Milvus's own msgID encoding
 * (§6: Kafka = 8-byte little-endian offset, Pulsar = MessageIdData bytes), so
 * positions can be stored, compared with Milvus's, and sought again.
 *
 * Queues plug in as drivers behind this small interface, the way inputs are
 * plugins in Fluent Bit: kafka.c (librdkafka), pulsar*.c (our own client).
 * Each driver declares its own settings (mq_keys); the driver interface
 * itself is private to src/mq (mq_driver.h). */
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

/* Which queue, and its settings: the keys of the source.mq.<type> section of
 * mcdc.yaml, by the same names ("address", "security_protocol", "tenant" ...).
 * Each driver declares its keys (mq_keys) and reads them when it opens; a key
 * it does not declare is an error. A key given twice: the last one counts. */
typedef struct mq_config {
    const char *type;               /* a driver's name: "kafka" or "pulsar" */
    const mq_kv *settings;
    size_t n_settings;
} mq_config;

/* ---- the settings a driver declares ---------------------------------------- */

typedef enum mq_key_kind {
    MQ_KEY_TEXT,     /* any string */
    MQ_KEY_SECRET,   /* any string; never shown in a message */
    MQ_KEY_INT,      /* a decimal integer from lo to hi */
    MQ_KEY_BOOL,     /* true or false */
    MQ_KEY_CHOICE,   /* one of choices in any case, read as spelled there; "" = not set */
    MQ_KEY_CHECKED,  /* check() decides */
} mq_key_kind;

typedef struct mq_key {
    const char *name;
    mq_key_kind kind;
    const char *def;                /* the value when the key is not given */
    const char *help;               /* what it is, for people */
    long long lo, hi;               /* MQ_KEY_INT */
    const char *const *choices;     /* MQ_KEY_CHOICE, NULL-terminated */
    int (*check)(const char *value, mcdc_err *err); /* MQ_KEY_CHECKED */
} mq_key;

/* The name of driver i ("kafka", "pulsar"); NULL past the last. */
const char *mq_type(size_t i);

/* The keys `type` declares; NULL (and *n = 0) for an unknown type. */
const mq_key *mq_keys(const char *type, size_t *n);

/* Checks one value of a declared key. On success *canon (may be NULL) is the
 * value as the driver will read it (a choice in its declared spelling). The
 * error message says what is wanted ("want an integer from 1024 to 1048576"),
 * with no prefix: the caller knows where the value came from. */
int mq_setting_check(const mq_key *key, const char *value, const char **canon, mcdc_err *err);

/* Checks every setting of cfg and the rules between them ("SASL_SSL needs a
 * sasl_mechanism"). On failure *key (may be NULL) names the key to blame and
 * the message, again without prefix, says why. */
int mq_settings_check(const mq_config *cfg, const char **key, mcdc_err *err);

/* The value of a declared key: the last one given, else its default; NULL
 * for a key the driver does not declare. */
const char *mq_config_get(const mq_config *cfg, const char *key);

/* A default of the caller's for one key: *out = base's settings plus
 * key=value when the driver declares key and base does not set it (a value
 * the operator gave wins); else *out = *base. out->settings is then *own
 * (free it; NULL when nothing was added), which points at base's strings
 * and at value: all three must outlive *out. */
void mq_config_with_default(const mq_config *base, const char *key, const char *value, mq_config *out, mq_kv **own);

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
 * queue (retention; MCDC_ENOTFOUND, the message names the channel and the
 * position), or a payload is too corrupt to hand out. Broker outages are
 * retried inside and visible through mq_last_transient_error. */
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
/* The same for n channels at once (out[i], exists[i]); on an error, those
 * after the failing channel are not filled. A task's creation asks it of
 * every channel: Kafka answers over one client, where a client per channel
 * cost ~1.5 ms each (docs/benchmarks.md, tenth part); Pulsar asks each
 * topic's owner broker. timeout_ms bounds each channel's questions. */
int mq_last_positions(const mq_config *cfg, const char *const *channels, size_t n, mq_msgid *out, bool *exists,
                      uint32_t timeout_ms, mcdc_err *err);

/* Asks the queue for its metadata: an unreachable or misconfigured queue is
 * an MCDC_EUNAVAIL/MCDC_EINVAL error here, before any reader waits on it. */
int mq_probe(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err);
void mq_close(mq_reader *r);

/* ---- positions ------------------------------------------------------------ */

/* Position text for people and JSON: Kafka "123" (the offset), Pulsar
 * "ledger:entry:partition:batch". Parsing accepts the same forms. */
int mq_msgid_format(const char *type, const mq_msgid *id, char *out, size_t cap);
int mq_msgid_parse(const char *type, const char *text, mq_msgid *out, mcdc_err *err);
/* Orders two msgIDs of one channel (<0, 0, >0). */
int mq_msgid_cmp(const char *type, const mq_msgid *a, const mq_msgid *b);

/* A position as a user gives it: the text above, or milvus-cdc's base64
 * MsgPosition protobuf (whose msgID is taken). */
int mq_position_parse(const char *type, const char *text, mq_msgid *out, mcdc_err *err);

/* "Start at `at`, inclusive" in the form a checkpoint stores, "the last
 * message already handled": the position right before `at`, or
 * *from_earliest = true when nothing in the channel comes before it (*out is
 * then left alone). MCDC_EINVAL where the queue cannot name the message
 * before another (Pulsar: entry ids are not dense). */
int mq_position_before(const char *type, const mq_msgid *at, mq_msgid *out, bool *from_earliest, mcdc_err *err);

#endif
