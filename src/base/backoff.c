/* backoff.c — see backoff.h. */
#include "backoff.h"

#include "clock.h"

void mcdc_backoff_init(mcdc_backoff *b, uint32_t initial_ms, uint32_t max_ms) {
    b->initial_ms = initial_ms ? initial_ms : 1;
    b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
    b->attempt = 0;
    b->rng = mcdc_now_mono_ns() ^ (uint64_t)(uintptr_t)b ^ 0x9E3779B97F4A7C15ULL;
    if (!b->rng) b->rng = 1;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

uint32_t mcdc_backoff_next(mcdc_backoff *b) {
    uint64_t d = b->initial_ms;
    for (uint32_t i = 0; i < b->attempt && d < b->max_ms; i++) d *= 2;
    if (d > b->max_ms) d = b->max_ms;
    if (b->attempt < 64) b->attempt++;
    uint64_t half = d / 2;
    return (uint32_t)(half + (half ? xorshift(&b->rng) % (d - half + 1) : d));
}

void mcdc_backoff_reset(mcdc_backoff *b) { b->attempt = 0; }
