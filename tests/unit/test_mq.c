/* test_mq.c — mq.h without a broker: the Kafka driver's declared settings,
 * start positions ("start at X, inclusive") and position text, including
 * milvus-cdc's base64 MsgPosition. The Pulsar driver's are in test_pulsar.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base64.h"
#include "mq/mq.h"
#include "mq/mq_driver.h"
#include "msg.pb-c.h"

static mq_config kafka(const mq_kv *kv, size_t n) { return (mq_config){.type = "kafka", .settings = kv, .n_settings = n}; }

static const mq_key *key(const char *type, const char *name) {
    size_t n;
    const mq_key *keys = mq_keys(type, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    fail_msg("%s has no key %s", type, name);
    return NULL;
}

static void test_types(void **state) {
    (void)state;
    assert_string_equal(mq_type(0), "kafka");
    assert_string_equal(mq_type(1), "pulsar");
    assert_null(mq_type(2));
    mq_config cfg = {.type = "rabbit"};
    mcdc_err err;
    assert_int_equal(mq_probe(&cfg, 10, &err), -1);
    assert_string_equal(err.msg, "unknown message queue type 'rabbit' (want kafka or pulsar)");
}

static void test_kafka_keys(void **state) {
    (void)state;
    mcdc_err err;
    const char *canon;
    assert_int_equal(mq_setting_check(key("kafka", "security_protocol"), "sasl_ssl", &canon, &err), 0);
    assert_string_equal(canon, "SASL_SSL");
    assert_int_equal(mq_setting_check(key("kafka", "security_protocol"), "TLS", &canon, &err), -1);
    assert_string_equal(err.msg, "want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
    assert_int_equal(mq_setting_check(key("kafka", "prefetch_kbytes"), "1023", NULL, &err), -1);
    assert_string_equal(err.msg, "want an integer from 1024 to 1048576");
    assert_int_equal(mq_setting_check(key("kafka", "prefetch_kbytes"), "4096", NULL, &err), 0);
    assert_int_equal(mq_setting_check(key("kafka", "address"), "k1:9092,[::1]:9093", NULL, &err), 0);
    assert_int_equal(mq_setting_check(key("kafka", "address"), "k1:9092,k2", NULL, &err), -1);
    assert_string_equal(err.msg, "want host:port[,host:port...], e.g. 127.0.0.1:9092");
    assert_int_equal(key("kafka", "sasl_password")->kind, MQ_KEY_SECRET);

    /* Defaults, and the last of a key given twice. */
    mq_kv kv[] = {{"address", "a:1"}, {"address", "b:2"}};
    mq_config cfg = kafka(kv, 2);
    assert_string_equal(mq_config_get(&cfg, "address"), "b:2");
    assert_string_equal(mq_config_get(&cfg, "prefetch_kbytes"), "8192");
    assert_string_equal(mq_config_get(&cfg, "security_protocol"), "PLAINTEXT");
}

static void expect_settings_error(const mq_kv *kv, size_t n, const char *blame, const char *msg) {
    mq_config cfg = kafka(kv, n);
    mcdc_err err;
    const char *got = NULL;
    assert_int_equal(mq_settings_check(&cfg, &got, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    if (blame) assert_string_equal(got, blame);
    else assert_null(got);
    if (strncmp(err.msg, msg, strlen(msg)) != 0) fail_msg("'%s' does not start with '%s'", err.msg, msg);
    /* Opening says which driver and key. */
    mq_start st = {.kind = MQ_START_EARLIEST};
    assert_null(mq_open(&cfg, "c", &st, &err));
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_int_equal(strncmp(err.msg, "kafka: ", 7), 0);
}

/* A caller's default for a key: added only when the driver declares the key
 * and the operator did not set it. */
static void test_config_with_default(void **state) {
    (void)state;
    mq_kv given[] = {{"address", "b:2"}};
    mq_config base = {.type = "kafka", .settings = given, .n_settings = 1}, out;
    mq_kv *own;
    mq_config_with_default(&base, "prefetch_kbytes", "40960", &out, &own);
    assert_non_null(own);
    assert_string_equal(mq_config_get(&out, "prefetch_kbytes"), "40960");
    assert_string_equal(mq_config_get(&out, "address"), "b:2");
    free(own);
    mq_kv set[] = {{"address", "b:2"}, {"prefetch_kbytes", "2048"}};
    base = (mq_config){.type = "kafka", .settings = set, .n_settings = 2};
    mq_config_with_default(&base, "prefetch_kbytes", "40960", &out, &own);
    assert_null(own);
    assert_string_equal(mq_config_get(&out, "prefetch_kbytes"), "2048");
    base = (mq_config){.type = "pulsar", .settings = NULL, .n_settings = 0};
    mq_config_with_default(&base, "prefetch_kbytes", "40960", &out, &own);
    assert_null(own);
    assert_int_equal(out.n_settings, 0);
    assert_null(mq_config_get(&out, "prefetch_kbytes"));
}

static void test_kafka_rules_between_keys(void **state) {
    (void)state;
    mq_kv sasl_without_mechanism[] = {{"security_protocol", "SASL_SSL"}};
    expect_settings_error(sasl_without_mechanism, 1, "sasl_mechanism", "missing; SASL_SSL needs one");
    mq_kv password_without_sasl[] = {{"sasl_password", "s3cret"}};
    expect_settings_error(password_without_sasl, 1, "security_protocol",
                          "SASL settings are given but the protocol is PLAINTEXT");
    mq_kv unknown[] = {{"adress", "k:1"}};
    expect_settings_error(unknown, 1, "adress", "unknown setting (known: address, security_protocol,");
    mq_kv ok[] = {{"security_protocol", "SASL_PLAINTEXT"}, {"sasl_mechanism", "PLAIN"}, {"sasl_username", "u"}};
    mq_config cfg = kafka(ok, 3);
    mcdc_err err;
    assert_int_equal(mq_settings_check(&cfg, NULL, &err), 0);
}

static void test_kafka_position_before(void **state) {
    (void)state;
    mq_msgid at, before = {.len = 0};
    bool earliest;
    mcdc_err err;
    assert_int_equal(mq_msgid_parse("kafka", "42", &at, &err), 0);
    assert_int_equal(mq_position_before("kafka", &at, &before, &earliest, &err), 0);
    assert_false(earliest);
    char text[32];
    mq_msgid_format("kafka", &before, text, sizeof text);
    assert_string_equal(text, "41");
    assert_true(mq_msgid_cmp("kafka", &before, &at) < 0);
    /* Offset 0: nothing before it, so from the earliest. */
    assert_int_equal(mq_msgid_parse("kafka", "0", &at, &err), 0);
    assert_int_equal(mq_position_before("kafka", &at, &before, &earliest, &err), 0);
    assert_true(earliest);
}

static void test_position_parse(void **state) {
    (void)state;
    mq_msgid id;
    mcdc_err err;
    char text[64];
    assert_int_equal(mq_position_parse("kafka", "17", &id, &err), 0);
    mq_msgid_format("kafka", &id, text, sizeof text);
    assert_string_equal(text, "17");

    /* milvus-cdc hands out positions as a base64 MsgPosition. */
    uint8_t raw_id[8] = {9, 0, 0, 0, 0, 0, 0, 0};
    Milvus__Proto__Msg__MsgPosition p = MILVUS__PROTO__MSG__MSG_POSITION__INIT;
    p.channel_name = "by-dev-rootcoord-dml_0";
    p.msg_id.data = raw_id;
    p.msg_id.len = sizeof raw_id;
    size_t len = milvus__proto__msg__msg_position__get_packed_size(&p);
    uint8_t *buf = malloc(len);
    milvus__proto__msg__msg_position__pack(&p, buf);
    char *b64 = mcdc_base64_encode(buf, len);
    free(buf);
    assert_int_equal(mq_position_parse("kafka", b64, &id, &err), 0);
    free(b64);
    mq_msgid_format("kafka", &id, text, sizeof text);
    assert_string_equal(text, "9");

    assert_int_equal(mq_position_parse("kafka", "not a position!", &id, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_string_equal(err.msg, "position 'not a position!' is neither a kafka position nor a base64 MsgPosition");
}

/* Rule: the Kafka reader wakes librdkafka's fetcher each time it has handed
 * out a quarter of its queue (so a full queue is refilled before it drains),
 * never more often than every 512 KiB, and early only when the queue ran dry
 * after at least that much: a caught-up reader, handed only ticks, does not
 * wake it at every empty poll. */
static void test_kafka_wake_rule(void **state) {
    (void)state;
    const size_t KiB = 1024, MiB = 1024 * 1024;
    assert_int_equal(kafka_wake_step(40 * MiB), 10 * MiB);
    assert_int_equal(kafka_wake_step(16 * MiB), 4 * MiB);      /* one channel's share */
    assert_int_equal(kafka_wake_step(3840 * KiB), 960 * KiB);
    assert_int_equal(kafka_wake_step(2 * MiB), 512 * KiB);     /* eight channels' share */
    assert_int_equal(kafka_wake_step(1 * MiB), 512 * KiB);
    assert_int_equal(kafka_wake_step(0), 512 * KiB);
    size_t step = kafka_wake_step(40 * MiB);
    assert_false(kafka_wake_due(10 * MiB - 1, step, false));
    assert_true(kafka_wake_due(10 * MiB, step, false));
    assert_true(kafka_wake_due(512 * KiB, step, true));
    assert_false(kafka_wake_due(512 * KiB - 1, step, true));
    assert_false(kafka_wake_due(0, step, true));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_kafka_keys),
        cmocka_unit_test(test_config_with_default),
        cmocka_unit_test(test_kafka_rules_between_keys),
        cmocka_unit_test(test_kafka_position_before),
        cmocka_unit_test(test_position_parse),
        cmocka_unit_test(test_kafka_wake_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
