/* budget.c — see budget.h. */
#include "pipeline/budget.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* The task's whole read-ahead, split among its DML channels. What it must
 * hold is what a channel reads while librdkafka's fetcher is asleep: before
 * the reader woke it (kafka.c), a full queue was refetched only up to a
 * second later, so one channel needed 40 MiB (8 MiB: 0.32 x the one-client
 * insert ceiling), and 8 channels starved at 20 MiB in all. Woken as the
 * reader drains it, a queue only has to cover a refill: with 16 MiB in all
 * the readers waited 2-16 % of a catch-up's time (20 and 30 % once each), and RSS went
 * from 129-149 to 77-88 MiB at one shard and from 164 to 132-140 at eight,
 * where each consumer holds well over its queue limit (heaptrack: librdkafka
 * 120 MiB of a 154 MiB heap peak with 8 x 5 MiB queues). A share never drops
 * below two 1 MiB insert messages (from 9 channels on). docs/benchmarks.md,
 * fourth part. */
#define READ_AHEAD (16u * MIB)
#define READ_AHEAD_MIN (2u * MIB)
/* Calls in flight, request bytes. A 5000-row call at dim 128 is ~2.6 MB: the
 * old 4 MiB per channel let barely one fly, and a catch-up waits for each
 * reply; 16 MiB lets four fly on one channel (6000-row calls there, ~3.1 MB
 * each) and two or three on each of two (calls of ~4000-6000 rows). One
 * call always goes, so a channel's share has no floor. With eight channels
 * a share (2 MiB) holds one ~1.5 MB call, a second only when it is small
 * (peaks of 1-2 seen): about eight in flight in all, twice the pipelined
 * ceiling's four. 24 MiB (3 MiB a channel) with 30 MiB of read-ahead took
 * 146-155 MiB against 135-142 (docs/benchmarks.md, third part). */
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
    size_t read_ahead = READ_AHEAD / n;
    if (read_ahead < READ_AHEAD_MIN) read_ahead = READ_AHEAD_MIN;
    s.prefetch_kbytes = (uint32_t)(read_ahead / KIB);
    if (!s.batch_bytes) s.batch_bytes = clamp(BATCH / n, BATCH_MIN, BATCH_MAX);
    if (!s.inflight_bytes) s.inflight_bytes = IN_FLIGHT / n;
    return s;
}
