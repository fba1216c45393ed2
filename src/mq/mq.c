/* mq.c — picks the driver for a queue type; everything else is the driver's. */
#include "mq/mq.h"
#include "mq/pulsar.h"

#include <string.h>

static const mq_driver *const DRIVERS[] = {&mq_kafka_driver, &mq_pulsar_driver};

static const mq_driver *find(const char *type) {
    for (size_t i = 0; i < sizeof DRIVERS / sizeof DRIVERS[0]; i++)
        if (type && strcmp(type, DRIVERS[i]->name) == 0) return DRIVERS[i];
    return NULL;
}

mq_reader *mq_open(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err) {
    const mq_driver *d = find(cfg->type);
    if (!d) {
        mcdc_errf(err, MCDC_EINVAL, "unknown message queue type '%s' (want kafka or pulsar)", cfg->type ? cfg->type : "");
        return NULL;
    }
    return d->open(cfg, channel, start, err);
}

int mq_probe(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err) {
    const mq_driver *d = find(cfg->type);
    if (!d) return mcdc_errf(err, MCDC_EINVAL, "unknown message queue type '%s' (want kafka or pulsar)", cfg->type ? cfg->type : "");
    return d->probe(cfg, timeout_ms, err);
}

int mq_last_position(const mq_config *cfg, const char *channel, mq_msgid *out, bool *exists, uint32_t timeout_ms,
                     mcdc_err *err) {
    const mq_driver *d = find(cfg->type);
    if (!d) return mcdc_errf(err, MCDC_EINVAL, "unknown message queue type '%s' (want kafka or pulsar)", cfg->type ? cfg->type : "");
    return d->last_position(cfg, channel, out, exists, timeout_ms, err);
}

#define BASE(r) ((struct mq_reader_base *)(r))

mq_result mq_next(mq_reader *r, mq_message *msg, uint32_t timeout_ms, mcdc_err *err) {
    return BASE(r)->driver->next(r, msg, timeout_ms, err);
}

const char *mq_last_transient_error(mq_reader *r) { return BASE(r)->driver->last_transient_error(r); }

const char *mq_channel(const mq_reader *r) { return ((const struct mq_reader_base *)r)->channel; }

void mq_close(mq_reader *r) {
    if (r) BASE(r)->driver->close(r);
}

int mq_msgid_format(const char *type, const mq_msgid *id, char *out, size_t cap) {
    const mq_driver *d = find(type);
    return d ? d->format(id, out, cap) : -1;
}

int mq_msgid_parse(const char *type, const char *text, mq_msgid *out, mcdc_err *err) {
    const mq_driver *d = find(type);
    if (!d) return mcdc_errf(err, MCDC_EINVAL, "unknown message queue type '%s'", type ? type : "");
    return d->parse(text, out, err);
}

int mq_msgid_cmp(const char *type, const mq_msgid *a, const mq_msgid *b) {
    const mq_driver *d = find(type);
    return d ? d->cmp(a, b) : 0;
}
