/* mq.c — picks the driver for a queue type; everything else is the driver's,
 * except reading a milvus-cdc MsgPosition, which is the same for every queue. */
#include "mq/mq_driver.h"

#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/buf.h"
#include "msg.pb-c.h"

/* The one table of drivers. */
static const mq_driver *const DRIVERS[] = {&mq_kafka_driver, &mq_pulsar_driver};
#define N_DRIVERS (sizeof DRIVERS / sizeof DRIVERS[0])

const char *mq_type(size_t i) { return i < N_DRIVERS ? DRIVERS[i]->name : NULL; }

const mq_driver *mq_find_driver(const char *type) {
    for (size_t i = 0; i < N_DRIVERS; i++)
        if (type && strcmp(type, DRIVERS[i]->name) == 0) return DRIVERS[i];
    return NULL;
}

static int unknown(const char *type, mcdc_err *err) {
    mcdc_buf b = MCDC_BUF_INIT;
    for (size_t i = 0; i < N_DRIVERS; i++)
        mcdc_buf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == N_DRIVERS ? " or " : ", ", DRIVERS[i]->name);
    mcdc_errf(err, MCDC_EINVAL, "unknown message queue type '%s' (want %s)", type ? type : "", mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    return -1;
}

mq_reader *mq_open(const mq_config *cfg, const char *channel, const mq_start *start, mcdc_err *err) {
    const mq_driver *d = mq_find_driver(cfg->type);
    if (!d) {
        unknown(cfg->type, err);
        return NULL;
    }
    return d->open(cfg, channel, start, err);
}

int mq_probe(const mq_config *cfg, uint32_t timeout_ms, mcdc_err *err) {
    const mq_driver *d = mq_find_driver(cfg->type);
    return d ? d->probe(cfg, timeout_ms, err) : unknown(cfg->type, err);
}

int mq_last_positions(const mq_config *cfg, const char *const *channels, size_t n, mq_msgid *out, bool *exists,
                      uint32_t timeout_ms, mcdc_err *err) {
    const mq_driver *d = mq_find_driver(cfg->type);
    return d ? d->last_positions(cfg, channels, n, out, exists, timeout_ms, err) : unknown(cfg->type, err);
}

int mq_last_position(const mq_config *cfg, const char *channel, mq_msgid *out, bool *exists, uint32_t timeout_ms,
                     mcdc_err *err) {
    return mq_last_positions(cfg, &channel, 1, out, exists, timeout_ms, err);
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
    const mq_driver *d = mq_find_driver(type);
    return d ? d->format(id, out, cap) : -1;
}

int mq_msgid_parse(const char *type, const char *text, mq_msgid *out, mcdc_err *err) {
    const mq_driver *d = mq_find_driver(type);
    if (!d) return mcdc_errf(err, MCDC_EINVAL, "unknown message queue type '%s'", type ? type : "");
    return d->parse(text, out, err);
}

int mq_msgid_cmp(const char *type, const mq_msgid *a, const mq_msgid *b) {
    const mq_driver *d = mq_find_driver(type);
    return d ? d->cmp(a, b) : 0;
}

int mq_position_parse(const char *type, const char *text, mq_msgid *out, mcdc_err *err) {
    if (!mq_find_driver(type)) return unknown(type, err);
    if (mq_msgid_parse(type, text, out, NULL) == 0) return 0;
    uint8_t *raw;
    long len = mcdc_base64_decode(text, &raw);
    Milvus__Proto__Msg__MsgPosition *p = len > 0 ? milvus__proto__msg__msg_position__unpack(NULL, (size_t)len, raw) : NULL;
    bool ok = p && p->msg_id.len > 0 && p->msg_id.len <= MQ_MSGID_MAX;
    if (ok) {
        memcpy(out->bytes, p->msg_id.data, p->msg_id.len);
        out->len = p->msg_id.len;
    }
    if (p) milvus__proto__msg__msg_position__free_unpacked(p, NULL);
    free(raw);
    if (ok) return 0;
    return mcdc_errf(err, MCDC_EINVAL, "position '%s' is neither a %s position nor a base64 MsgPosition", text, type);
}

int mq_position_before(const char *type, const mq_msgid *at, mq_msgid *out, bool *from_earliest, mcdc_err *err) {
    const mq_driver *d = mq_find_driver(type);
    return d ? d->position_before(at, out, from_earliest, err) : unknown(type, err);
}
