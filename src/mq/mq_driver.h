/* mq_driver.h — what a queue driver implements (private to src/mq).
 *
 * mq.c finds a driver by its name in one table and forwards every mq.h call
 * to it. A new queue is one file that fills a const mq_driver (its keys
 * included) plus one line in that table and one extern below. */
#ifndef MCDC_MQ_DRIVER_H
#define MCDC_MQ_DRIVER_H

#include "mq/mq.h"

typedef struct mq_driver {
    const char *name;
    /* The settings it reads, and the rules between them: check_settings gets
     * each key's value in `keys` order (defaults filled in, each value already
     * checked alone) and on failure names the key to blame. NULL: no rules. */
    const mq_key *keys;
    size_t n_keys;
    int (*check_settings)(const char *const *values, const char **blame, mcdc_err *err);

    mq_reader *(*open)(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err);
    mq_result (*next)(mq_reader *r, mq_message *msg, uint32_t timeout_ms, mcdc_err *err);
    const char *(*last_transient_error)(mq_reader *r);
    void (*close)(mq_reader *r);
    int (*probe)(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err);
    /* mq_last_positions */
    int (*last_positions)(const mq_config *cfg, const char *const *channels, size_t n, mq_msgid *out, bool *exists,
                          uint32_t timeout_ms, mcdc_err *err);

    int (*format)(const mq_msgid *id, char *out, size_t cap);
    int (*parse)(const char *text, mq_msgid *out, mcdc_err *err);
    int (*cmp)(const mq_msgid *a, const mq_msgid *b);
    /* mq_position_before */
    int (*position_before)(const mq_msgid *at, mq_msgid *out, bool *from_earliest, mcdc_err *err);
} mq_driver;

/* Every reader starts with this header so mq.c can find its driver. */
struct mq_reader_base {
    const mq_driver *driver;
    char *channel;
};

extern const mq_driver mq_kafka_driver;
extern const mq_driver mq_pulsar_driver;

/* The Kafka reader's rule for waking librdkafka's fetcher (kafka.c): the
 * bytes handed out between two wakes for a queue of queue_bytes, and whether
 * a wake is due, since_wake bytes after the last one, when a poll came back
 * with a message (ran_dry false) or with none (true). */
size_t kafka_wake_step(size_t queue_bytes);
bool kafka_wake_due(size_t since_wake, size_t step, bool ran_dry);

/* The driver named `type`, or NULL. */
const mq_driver *mq_find_driver(const char *type);

/* What a driver calls when it opens: checks cfg's settings against d->keys
 * and fills values[i] (d->n_keys of them) with key i's value, or its default.
 * Errors are MCDC_EINVAL and start with "<driver>: <key>: ". The strings
 * belong to cfg and d. */
int mq_settings_read(const mq_driver *d, const mq_config *cfg, const char **values, mcdc_err *err);

#endif
