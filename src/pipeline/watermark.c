/* watermark.c — see watermark.h. */
#include "pipeline/watermark.h"

#include <stdbool.h>

static bool silent(const watermark_channel *c, uint64_t now_ms) {
    if (!c->idle_since_ms || now_ms - c->idle_since_ms < WATERMARK_SILENT_MS) return false;
    return !c->tick || now_ms - c->tick_ms >= WATERMARK_SILENT_MS;
}

uint64_t watermark_of(const watermark_channel *ch, size_t n, uint64_t now_ms) {
    uint64_t wm = UINT64_MAX, newest = 0;
    for (size_t i = 0; i < n; i++) {
        const watermark_channel *c = &ch[i];
        if (c->tick > newest) newest = c->tick;
        if (silent(c, now_ms)) continue;
        if (!c->tick) return 0;
        if (c->tick < wm) wm = c->tick;
    }
    if (wm != UINT64_MAX) return wm;
    return newest ? newest : UINT64_MAX;
}
