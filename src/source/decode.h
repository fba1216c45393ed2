/* decode.h — bytes of one MQ message → one typed change.
 *
 * Every Milvus message starts with `common.MsgBase base = 1`; we read that
 * header first to learn the type, then decode the whole payload as the
 * concrete message (spec/mq-messages.md §4), then check that it is whole:
 * every column holds num_rows values, a Delete has as many keys as rows
 * (and holds them in primary_keys, field 12: keys an older writer put in
 * field 9 are moved there). A message that fails any of this is an
 * MCDC_EDECODE error that says why — callers add channel and position and
 * stop; nothing is ever skipped here. */
#ifndef MCDC_DECODE_H
#define MCDC_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/change.h"

int decode_change(const uint8_t *data, size_t len, change *out, mcdc_err *err);

/* Name of a MsgType number as Milvus spells it ("Insert"), or NULL. */
const char *change_msg_type_name(int32_t msg_type);

/* Only the header: type and timestamp, without decoding the body. Cheap, so a
 * reader that wants no TimeTicks can drop them unread (mcdc dump does). The
 * header names no collection: telling collections apart takes decode_change. */
int decode_header(const uint8_t *data, size_t len, int32_t *msg_type, uint64_t *ts, mcdc_err *err);

#endif
