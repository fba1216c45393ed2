/* test_channels.c — the source's channel names (source/channels.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "source/channels.h"

static void test_names(void **state) {
    (void)state;
    char *s = channel_dml_name("by-dev", 15);
    assert_string_equal(s, "by-dev-rootcoord-dml_15");
    free(s);
    s = channel_replicate_name("prod");
    assert_string_equal(s, "prod-replicate-msg");
    free(s);
}

static void test_is_dml_of(void **state) {
    (void)state;
    assert_true(channel_is_dml_of("by-dev", "by-dev-rootcoord-dml_0"));
    assert_true(channel_is_dml_of("by-dev", "by-dev-rootcoord-dml_3_449v0")); /* a vchannel */
    assert_false(channel_is_dml_of("by-dev", "by-dev-replicate-msg"));
    assert_false(channel_is_dml_of("by-dev", "other-rootcoord-dml_0"));
    assert_false(channel_is_dml_of("by", "by-dev-rootcoord-dml_0"));
}

static void test_physical_of(void **state) {
    (void)state;
    char buf[128];
    assert_string_equal(channel_physical_of("by-dev-rootcoord-dml_3_449v0", buf, sizeof buf), "by-dev-rootcoord-dml_3");
    assert_string_equal(channel_physical_of("by-dev-rootcoord-dml_3", buf, sizeof buf), "by-dev-rootcoord-dml_3");
    assert_string_equal(channel_physical_of("by-dev-replicate-msg", buf, sizeof buf), "by-dev-replicate-msg");
    assert_string_equal(channel_physical_of("my_dev-rootcoord-dml_1_7v1", buf, sizeof buf), "my_dev-rootcoord-dml_1");
    assert_string_equal(channel_physical_of("my_vdev-rootcoord-dml_1", buf, sizeof buf), "my_vdev-rootcoord-dml_1");
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names), cmocka_unit_test(test_is_dml_of),
                                       cmocka_unit_test(test_physical_of)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
