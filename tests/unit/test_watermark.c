/* test_watermark.c — the watermark's rule (watermark.h), channel by channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pipeline/watermark.h"

#define NOW 100000

/* A channel that applied tick t `ago` ms before NOW; idle since `idle_ago`
 * ms (-1: busy). */
static watermark_channel ch(uint64_t t, uint64_t ago, int64_t idle_ago) {
    return (watermark_channel){.tick = t, .tick_ms = NOW - ago, .idle_since_ms = idle_ago < 0 ? 0 : NOW - (uint64_t)idle_ago};
}

/* Rule: the minimum over ticking channels. */
static void test_minimum_of_channels(void **state) {
    (void)state;
    watermark_channel c[] = {ch(500, 100, -1), ch(300, 100, 50), ch(700, 100, -1)};
    assert_int_equal(watermark_of(c, 3, NOW), 300);
}

/* Rule: a channel stuck retrying (busy, its tick old) still holds the cut
 * back: the watermark does not run ahead of data not applied. */
static void test_stuck_channel_holds_the_cut(void **state) {
    (void)state;
    watermark_channel c[] = {ch(900, 100, 50), ch(200, 60000, -1)};
    assert_int_equal(watermark_of(c, 2, NOW), 200);
}

/* Rule: a caught-up channel that has been silent long enough (its last
 * collection dropped) is left out; one that only just went quiet is not. */
static void test_silent_channel_left_out(void **state) {
    (void)state;
    watermark_channel c[] = {ch(900, 100, 50), ch(200, 60000, WATERMARK_SILENT_MS + 1)};
    assert_int_equal(watermark_of(c, 2, NOW), 900);
    c[1] = ch(200, 60000, 10);
    assert_int_equal(watermark_of(c, 2, NOW), 200);
    c[1] = ch(200, 10, WATERMARK_SILENT_MS + 1); /* idle, but a tick just came */
    assert_int_equal(watermark_of(c, 2, NOW), 200);
}

/* Rule: a busy channel without any tick yet makes the cut unknown (0). */
static void test_busy_without_tick_is_unknown(void **state) {
    (void)state;
    watermark_channel c[] = {ch(900, 100, -1), ch(0, 0, -1)};
    assert_int_equal(watermark_of(c, 2, NOW), 0);
}

/* Rule: every channel silent: nothing is behind, the newest tick seen;
 * none at all: UINT64_MAX. */
static void test_all_silent_and_none(void **state) {
    (void)state;
    watermark_channel c[] = {ch(900, 60000, 60000), ch(400, 60000, 60000)};
    assert_int_equal(watermark_of(c, 2, NOW), 900);
    assert_true(watermark_of(c, 0, NOW) == UINT64_MAX);
    watermark_channel z[] = {ch(0, 0, 60000)};
    assert_true(watermark_of(z, 1, NOW) == UINT64_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimum_of_channels),
        cmocka_unit_test(test_stuck_channel_holds_the_cut),
        cmocka_unit_test(test_silent_channel_left_out),
        cmocka_unit_test(test_busy_without_tick_is_unknown),
        cmocka_unit_test(test_all_silent_and_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
