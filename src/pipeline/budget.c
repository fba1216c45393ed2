/* budget.c — see budget.h. */
#include "pipeline/budget.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* The task's whole read-ahead: 40 MiB for one DML channel, 30 MiB split
 * among more. One channel's catch-up was held by the reader's fetch queue,
 * not the target, until it had 40 MiB (8 MiB: 0.32 x the one-client insert
 * ceiling; 40 MiB: 1.1-1.4 x). Each consumer holds well over its queue limit
 * (heaptrack, 8 channels of 5 MiB: librdkafka had 120 MiB of a 154 MiB heap
 * peak), so many channels get less in all: at 8 channels 20 MiB left the
 * machine half idle in a catch-up (the readers starved: librdkafka 2.0 backs
 * a full queue off for fetch.error.backoff.ms). With 16 MiB in flight, 30 MiB
 * kept 8 shards at 135-142 MiB RSS against 158-172 with 40 and 24, for a
 * slower replay window (77 000-91 000 rows/s against 97 000-102 000;
 * docs/benchmarks.md, third part). A share never drops below two 1 MiB
 * insert messages (from 16 channels on). */
#define READ_AHEAD_ONE (40u * MIB)
#define READ_AHEAD (30u * MIB)
#define READ_AHEAD_MIN (2u * MIB)
/* Calls in flight, request bytes. A 5000-row call at dim 128 is ~2.6 MB: the
 * old 4 MiB per channel let barely one fly, and a catch-up waits for each
 * reply; 16 MiB lets four fly on one channel and three on each of two. One
 * call always goes, so a channel's share has no floor. With eight channels
 * a share (2 MiB) holds one ~1.5 MB call, a second only when it is small
 * (peaks of 1-2 seen): about eight in flight in all, twice the pipelined
 * ceiling's four. 24 MiB (3 MiB a channel) with the same read-ahead took
 * 146-155 MiB against 135-142 (docs/benchmarks.md). */
#define IN_FLIGHT (16u * MIB)
/* The batch being joined, WAL bytes; batch_rows (5000) binds first at
 * dim 128 on one or two channels. */
#define BATCH (16u * MIB)
#define BATCH_MAX (8u * MIB)
#define BATCH_MIN (1u * MIB)

static size_t clamp(size_t v, size_t lo, size_t hi) { return v < lo ? lo : v > hi ? hi : v; }

worker_settings budget_channel(const worker_settings *configured, size_t dml_channels, bool replicate) {
    worker_settings s = *configured;
    size_t n = dml_channels ? dml_channels : 1;
    if (replicate) {
        s.prefetch_kbytes = 0;
        if (!s.batch_bytes) s.batch_bytes = BATCH_MAX;
        if (!s.inflight_bytes) s.inflight_bytes = IN_FLIGHT;
        return s;
    }
    size_t read_ahead = n == 1 ? READ_AHEAD_ONE : READ_AHEAD / n;
    if (read_ahead < READ_AHEAD_MIN) read_ahead = READ_AHEAD_MIN;
    s.prefetch_kbytes = (uint32_t)(read_ahead / KIB);
    if (!s.batch_bytes) s.batch_bytes = clamp(BATCH / n, BATCH_MIN, BATCH_MAX);
    if (!s.inflight_bytes) s.inflight_bytes = IN_FLIGHT / n;
    return s;
}
