/* budget.c — see budget.h. */
#include "pipeline/budget.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* The task's whole read-ahead. One channel's catch-up was held by the
 * reader's fetch queue, not the target, until it had 40 MiB (8 MiB: 0.32 x
 * the one-client insert ceiling; 40 MiB: 1.1-1.4 x). Eight channels of 5 MiB
 * each drained at 0.96-1.05 x the pipelined ceiling. A share never drops below
 * two 1 MiB insert messages (that floor binds from 20 channels on). */
#define READ_AHEAD (40u * MIB)
#define READ_AHEAD_MIN (2u * MIB)
/* Calls in flight, request bytes. A 5000-row call at dim 128 is ~2.6 MB: the
 * old 4 MiB per channel let barely one fly, and a catch-up waits for each
 * reply; 24 MiB lets four fly on one channel. One call always goes, so a
 * channel's share has no floor. With eight channels a share (3 MiB) holds
 * one or two 2 MiB batches: each channel keeps fewer calls out, but eight
 * channels keep more out together than one did (0.96-1.05 x the pipelined
 * ceiling); more per channel would cost memory, not speed. */
#define IN_FLIGHT (24u * MIB)
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
    s.prefetch_kbytes = (uint32_t)(clamp(READ_AHEAD / n, READ_AHEAD_MIN, READ_AHEAD) / KIB);
    if (!s.batch_bytes) s.batch_bytes = clamp(BATCH / n, BATCH_MIN, BATCH_MAX);
    if (!s.inflight_bytes) s.inflight_bytes = IN_FLIGHT / n;
    return s;
}
