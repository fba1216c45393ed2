/* histogram.c — fixed-bucket latency histograms (see histogram.h). */
#include "base/histogram.h"

#include <inttypes.h>

/* Dense around one second, where lag goals are set, so that a p99 of 0.9 s
 * and one of 1.4 s fall in different buckets. */
const double mcdc_hist_seconds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1,
                                    1.5,   2.5,  5,     10,   30,  60,   300, 3600};
const size_t mcdc_hist_seconds_n = sizeof mcdc_hist_seconds / sizeof mcdc_hist_seconds[0];

void mcdc_histogram_init(mcdc_histogram *h, const double *bounds, size_t n, uint64_t unit_us) {
    h->bounds = bounds;
    h->n_bounds = n < MCDC_HIST_MAX_BOUNDS ? n : MCDC_HIST_MAX_BOUNDS;
    h->unit_us = unit_us;
}

void mcdc_histogram_observe_us(mcdc_histogram *h, uint64_t us) {
    size_t i = 0;
    while (i < h->n_bounds && (double)us > h->bounds[i] * (double)h->unit_us) i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&h->max_us, memory_order_relaxed);
    while (us > max && !atomic_compare_exchange_weak(&h->max_us, &max, us)) {
    }
}

/* One read of every counter, so a quantile is computed from one set of
 * numbers even while workers add to them. */
static uint64_t snapshot(const mcdc_histogram *h, uint64_t c[MCDC_HIST_MAX_BOUNDS + 1]) {
    uint64_t total = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        c[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        total += c[i];
    }
    return total;
}

uint64_t mcdc_histogram_count(const mcdc_histogram *h) {
    uint64_t c[MCDC_HIST_MAX_BOUNDS + 1];
    return snapshot(h, c);
}

double mcdc_histogram_max(const mcdc_histogram *h) {
    return (double)atomic_load_explicit(&h->max_us, memory_order_relaxed) / (double)h->unit_us;
}

double mcdc_histogram_quantile(const mcdc_histogram *h, double q) {
    uint64_t c[MCDC_HIST_MAX_BOUNDS + 1];
    uint64_t total = snapshot(h, c);
    if (!total) return 0;
    double max = mcdc_histogram_max(h);
    double rank = q * (double)total, below = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        if (!c[i] || below + (double)c[i] < rank) {
            below += (double)c[i];
            continue;
        }
        double lo = i ? h->bounds[i - 1] : 0;
        double hi = i < h->n_bounds ? h->bounds[i] : max;
        double v = lo + (hi - lo) * (rank - below) / (double)c[i];
        return v < max ? v : max;
    }
    return max;
}

void mcdc_histogram_copy(mcdc_histogram *dst, const mcdc_histogram *src) {
    dst->bounds = src->bounds;
    dst->n_bounds = src->n_bounds;
    dst->unit_us = src->unit_us;
    for (size_t i = 0; i <= MCDC_HIST_MAX_BOUNDS; i++)
        atomic_store_explicit(&dst->counts[i], atomic_load_explicit(&src->counts[i], memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&dst->sum_us, atomic_load_explicit(&src->sum_us, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&dst->max_us, atomic_load_explicit(&src->max_us, memory_order_relaxed), memory_order_relaxed);
}

void mcdc_histogram_write_prometheus(const mcdc_histogram *h, mcdc_buf *out, const char *name, const char *labels) {
    uint64_t c[MCDC_HIST_MAX_BOUNDS + 1];
    uint64_t total = snapshot(h, c), cum = 0;
    const char *sep = *labels ? "," : "";
    for (size_t i = 0; i < h->n_bounds; i++) {
        cum += c[i];
        mcdc_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep, h->bounds[i], cum);
    }
    mcdc_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, total);
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    mcdc_buf_printf(out, "%s_sum%s%s%s %.6f\n", name, open, labels, close,
                    (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / (double)h->unit_us);
    mcdc_buf_printf(out, "%s_count%s%s%s %" PRIu64 "\n", name, open, labels, close, total);
}
