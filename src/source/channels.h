/* channels.h — the names of a source Milvus's physical channels.
 *
 * Milvus names its WAL channels after msgChannel.chanNamePrefix.cluster
 * (spec/mq-messages.md §1): rootCoord.dmlChannelNum DML channels
 * "<prefix>-rootcoord-dml_<i>", and one replicate channel
 * "<prefix>-replicate-msg" for index, load, flush and database requests.
 * Only this file spells those names. */
#ifndef MCDC_SOURCE_CHANNELS_H
#define MCDC_SOURCE_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>

/* malloc'd "<prefix>-rootcoord-dml_<i>". */
char *channel_dml_name(const char *prefix, int i);

/* malloc'd "<prefix>-replicate-msg". */
char *channel_replicate_name(const char *prefix);

/* Whether `name` (a pchannel, or a vchannel of one) is a DML channel under
 * `prefix`. */
bool channel_is_dml_of(const char *prefix, const char *name);

/* The pchannel of a channel name into buf: a vchannel is
 * "<pchannel>_<collectionID>v<shard>" (spec/mq-messages.md §1); any other
 * name is its own pchannel. */
const char *channel_physical_of(const char *name, char *buf, size_t cap);

#endif
