/* backoff.h — the one retry/backoff helper.
 *
 * Exponential growth with "full jitter" (a random delay in [d/2, d]) so that
 * many task threads retrying one dead server do not hammer it in lockstep.
 * Retries are unbounded by design: a transient error must never turn into a
 * paused task. The caller decides when to give up (shutdown, pause). */
#ifndef MCDC_BACKOFF_H
#define MCDC_BACKOFF_H

#include <stdint.h>

typedef struct mcdc_backoff {
    uint32_t initial_ms;
    uint32_t max_ms;
    uint32_t attempt;
    uint64_t rng;       /* xorshift state, seeded per backoff */
} mcdc_backoff;

void mcdc_backoff_init(mcdc_backoff *b, uint32_t initial_ms, uint32_t max_ms);
/* The delay before the next attempt, growing from initial_ms to max_ms. */
uint32_t mcdc_backoff_next(mcdc_backoff *b);
/* Call after a success, so the next failure starts small again. */
void mcdc_backoff_reset(mcdc_backoff *b);

#endif
