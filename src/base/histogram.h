/* histogram.h — latency histograms that worker threads fill without locks
 * and that /metrics and `get` read while they do.
 *
 * An operator asks two things of a lagging task: how stale the target is
 * (apply lag) and whether the target is the slow part (target call time).
 * A gauge of the watermark answers the first only for this instant, so each
 * acknowledged call is also counted in fixed buckets. The task histograms
 * share one set of bounds (mcdc_hist_seconds), so Prometheus can aggregate
 * them across tasks and restarts; those reach from 5 ms to an hour because a
 * catch-up's lag is counted in the same histogram as a live one's. The HTTP
 * API's request histogram keeps milvus-cdc's own bounds, in milliseconds.
 *
 * Quantiles read from buckets are estimates: linear inside the bucket the
 * rank falls in, as Prometheus's histogram_quantile does, and never above the
 * largest value seen (kept exactly). */
#ifndef MCDC_HISTOGRAM_H
#define MCDC_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define MCDC_HIST_MAX_BOUNDS 24

typedef struct mcdc_histogram {
    const double *bounds;      /* finite upper bounds, ascending, in units */
    size_t n_bounds;
    uint64_t unit_us;          /* microseconds per unit: 1000000 = seconds */
    _Atomic uint64_t counts[MCDC_HIST_MAX_BOUNDS + 1]; /* per bucket, not cumulative; the last: above every bound */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t max_us;
} mcdc_histogram;

/* The task histograms' bounds, seconds. */
extern const double mcdc_hist_seconds[];
extern const size_t mcdc_hist_seconds_n;

/* h must be zeroed (or fresh from calloc); n <= MCDC_HIST_MAX_BOUNDS. */
void mcdc_histogram_init(mcdc_histogram *h, const double *bounds, size_t n, uint64_t unit_us);
void mcdc_histogram_observe_us(mcdc_histogram *h, uint64_t us);
uint64_t mcdc_histogram_count(const mcdc_histogram *h);
/* Units at quantile q (0 < q <= 1); 0 when empty. */
double mcdc_histogram_quantile(const mcdc_histogram *h, double q);
double mcdc_histogram_max(const mcdc_histogram *h);

/* dst gets src's bounds and a reading of each of its counters, for a view
 * that must not change while it is formatted. Counters are read one by one:
 * an observation that lands during the copy may be in the count and not yet
 * in the sum, as with any read of a live histogram. */
void mcdc_histogram_copy(mcdc_histogram *dst, const mcdc_histogram *src);

/* Appends name_bucket{labels,le="..."} (cumulative), name_sum and
 * name_count in the Prometheus text format, in units; labels is
 * `key="value"` text without braces, "" for none. The HELP/TYPE lines are the
 * caller's, once per name. */
void mcdc_histogram_write_prometheus(const mcdc_histogram *h, mcdc_buf *out, const char *name, const char *labels);

#endif
