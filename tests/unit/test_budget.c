/* test_budget.c — how a task's catch-up memory is split among its channels
 * (pipeline/budget.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pipeline/budget.h"

#define MIB (1024u * 1024u)

static const worker_settings shared = {.batch_rows = 5000, .inflight_calls = 4, .retry_max_ms = 30000};

/* Rule: what the channels may hold together is one task budget whether a
 * task reads one channel or many, floors aside: 16 MiB of read-ahead, 16 MiB
 * in flight, 16 MiB of batches (8 MiB at most per channel), each split
 * among the channels; a channel's read-ahead never drops below two large
 * insert messages. */
static void test_shares_do_not_grow_with_channels(void **state) {
    (void)state;
    for (size_t n = 1; n <= 20; n++) {
        worker_settings s = budget_channel(&shared, n, false);
        size_t read_ahead = (size_t)s.prefetch_kbytes * 1024;
        size_t per = read_ahead + s.batch_bytes + s.inflight_bytes;
        assert_true(read_ahead >= 2 * MIB);
        assert_true(read_ahead * n <= 16 * MIB || read_ahead == 2 * MIB);
        assert_true(s.batch_bytes >= MIB && s.batch_bytes <= 8 * MIB);
        assert_true(s.inflight_bytes > 0);
        /* 48 MiB in all until the read-ahead floor binds (9 channels);
         * floors may add a little more, never a channel's whole share again. */
        if (n <= 8) assert_true(per * n <= 48 * MIB);
        assert_true(per * n <= 48 * MIB + n * 2 * MIB);
        assert_int_equal(s.batch_rows, 5000);
        assert_int_equal(s.inflight_calls, 4);
        assert_int_equal(s.retry_max_ms, 30000);
    }
    worker_settings s1 = budget_channel(&shared, 1, false), s2 = budget_channel(&shared, 2, false),
                    s8 = budget_channel(&shared, 8, false), s20 = budget_channel(&shared, 20, false);
    assert_int_equal(s1.prefetch_kbytes, 16 * 1024);
    assert_int_equal(s2.prefetch_kbytes, 8 * 1024);
    assert_int_equal(s8.prefetch_kbytes, 2 * 1024);
    assert_int_equal(s20.prefetch_kbytes, 2 * 1024);
    /* The floor binds from 9 channels on: 16 MiB / 8 is exactly 2 MiB. */
    assert_int_equal(budget_channel(&shared, 9, false).prefetch_kbytes, 2 * 1024);
    assert_int_equal(budget_channel(&shared, 7, false).prefetch_kbytes, 16 * 1024 / 7);
    assert_int_equal(s1.inflight_bytes, 16 * MIB);
    assert_int_equal(s2.inflight_bytes, 8 * MIB);
    assert_int_equal(s8.inflight_bytes, 2 * MIB);
    assert_int_equal(s1.batch_bytes, 8 * MIB);
    assert_int_equal(s8.batch_bytes, 2 * MIB);
    /* 0 channels counts as one. */
    assert_int_equal(budget_channel(&shared, 0, false).prefetch_kbytes, 16 * 1024);
}

/* Rule: an operator's explicit limit is taken as it is, per channel,
 * whether it is below or above the share. */
static void test_operator_settings_win(void **state) {
    (void)state;
    worker_settings set = shared;
    set.batch_bytes = 65536;
    set.inflight_bytes = 64 * MIB;
    worker_settings s = budget_channel(&set, 8, false);
    assert_int_equal(s.batch_bytes, 65536);
    assert_int_equal(s.inflight_bytes, 64 * MIB);
    set.batch_bytes = 32 * MIB;
    set.inflight_bytes = 2048;
    s = budget_channel(&set, 8, false);
    assert_int_equal(s.batch_bytes, 32 * MIB);
    assert_int_equal(s.inflight_bytes, 2048);
}

/* Rule: the replicate channel gets the driver's read-ahead and no zero limits. */
static void test_replicate_channel(void **state) {
    (void)state;
    worker_settings s = budget_channel(&shared, 8, true);
    assert_int_equal(s.prefetch_kbytes, 0);
    assert_int_equal(s.batch_bytes, 8 * MIB);
    assert_int_equal(s.inflight_bytes, 16 * MIB);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares_do_not_grow_with_channels),
        cmocka_unit_test(test_operator_settings_win),
        cmocka_unit_test(test_replicate_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
