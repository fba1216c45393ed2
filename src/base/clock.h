/* clock.h — time sources, in one place so that tests and lag metrics agree.
 * Monotonic time for durations and deadlines; wall time only for what is
 * compared with Milvus hybrid timestamps (whose physical part is Unix ms). */
#ifndef MCDC_CLOCK_H
#define MCDC_CLOCK_H

#include <stdint.h>

uint64_t mcdc_now_mono_ns(void);
/* Microseconds since a mcdc_now_mono_ns() reading. */
static inline uint64_t mcdc_since_us(uint64_t mono_ns) { return (mcdc_now_mono_ns() - mono_ns) / 1000; }
uint64_t mcdc_now_mono_ms(void);
uint64_t mcdc_now_wall_ms(void);
void mcdc_sleep_ms(uint32_t ms);

/* Milvus hybrid timestamps: physical milliseconds << 18 | logical counter
 * (spec/timestamps.md §1). */
#define MCDC_TS_LOGICAL_BITS 18
static inline uint64_t mcdc_ts_physical_ms(uint64_t ts) { return ts >> MCDC_TS_LOGICAL_BITS; }
static inline uint64_t mcdc_ts_logical(uint64_t ts) { return ts & ((1u << MCDC_TS_LOGICAL_BITS) - 1); }
static inline uint64_t mcdc_ts_compose(uint64_t physical_ms, uint64_t logical) {
    return (physical_ms << MCDC_TS_LOGICAL_BITS) | logical;
}

#endif
