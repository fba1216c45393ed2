/* test_pulsar.c — mcdc's own Pulsar consumer without a real broker.
 *
 * 1. The bytes: CRC32C on the RFC 3720 vectors, command frames, positions.
 * 2. Real MESSAGE frames captured from Pulsar 3.0.7 (tests/fixtures/pulsar,
 *    made by capture.py there): Milvus's ZSTD batches of one, and frames
 *    Milvus never writes (uncompressed, ZLIB batch of 3, ZSTD batch of 2,
 *    LZ4). Their payloads go through mcdc's decoder.
 * 3. Broken frames: every one is refused with an error naming topic and id.
 * 4. The reader against a small fake broker in a thread that replays those
 *    entries: earliest, at/after a position, latest, the end of the channel,
 *    a missing topic, a connection that dies mid-stream (nothing lost,
 *    nothing twice), a corrupt entry on the wire, frames that never decode,
 *    token auth, the last position, and positions retention removed (at
 *    start, past the end, told by the last message id, during an outage:
 *    the reader stops with MCDC_ENOTFOUND) next to positions still there
 *    and a topic trimmed to nothing (no error). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include <inttypes.h>
#include <zstd.h>

#include "base/buf.h"
#include "mq/mq.h"
#include "mq/pulsar_int.h"
#include "source/decode.h"

static uint8_t *load(const char *name, size_t *len) { return fixture_load("pulsar", name, len); }

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#define TOPIC "persistent://public/default/by-pulsar-rootcoord-dml_2"

/* ---- 1. bytes --------------------------------------------------------------------- */

static void test_crc32c_vectors(void **state) {
    (void)state;
    uint8_t buf[32];
    assert_int_equal(pulsar_crc32c(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof buf);
    assert_int_equal(pulsar_crc32c(0, buf, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(pulsar_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    assert_int_equal(pulsar_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    assert_int_equal(pulsar_crc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(pulsar_crc32c(0, "", 0), 0);
    /* In pieces of every odd size = at once: the 8-byte and byte paths agree. */
    uint8_t big[1000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = pulsar_crc32c(0, big, sizeof big);
    for (size_t step = 1; step < 20; step += 3) {
        uint32_t c = 0;
        for (size_t off = 0; off < sizeof big; off += step)
            c = pulsar_crc32c(c, big + off, off + step > sizeof big ? sizeof big - off : step);
        assert_int_equal(c, whole);
    }
}

static void test_command_frame_round_trip(void **state) {
    (void)state;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandFlow fl = PULSAR__PROTO__COMMAND_FLOW__INIT;
    fl.consumer_id = 7;
    fl.messagepermits = 1000;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW;
    cmd.flow = &fl;
    mcdc_buf b = MCDC_BUF_INIT;
    pulsar_frame_encode(&b, &cmd);
    size_t n = pulsar__proto__base_command__get_packed_size(&cmd);
    assert_int_equal(b.len, 8 + n);
    /* [total = 4 + command][command size][command] */
    assert_int_equal(b.data[3], 4 + n);
    assert_int_equal(b.data[7], n);
    assert_int_equal(pulsar_frame_len(b.data), (int64_t)b.len);
    pulsar_frame f;
    mcdc_err err;
    assert_int_equal(pulsar_frame_decode(b.data, b.len, &f, &err), 0);
    assert_int_equal(f.cmd->type, PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW);
    assert_int_equal(f.cmd->flow->consumer_id, 7);
    assert_int_equal(f.cmd->flow->messagepermits, 1000);
    assert_int_equal(f.rest_len, 0);
    pulsar_frame_clear(&f);

    /* Short, too long, inconsistent sizes. */
    assert_int_equal(pulsar_frame_decode(b.data, b.len - 1, &f, &err), -1);
    assert_int_equal(err.code, MCDC_EDECODE);
    uint8_t huge[8] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    assert_int_equal(pulsar_frame_len(huge), -1);
    uint8_t tiny[8] = {0, 0, 0, 3, 0, 0, 0, 0};
    assert_int_equal(pulsar_frame_len(tiny), -1);
    put_be32(b.data + 4, (uint32_t)n + 1); /* command longer than the frame */
    assert_int_equal(pulsar_frame_decode(b.data, b.len, &f, &err), -1);
    assert_non_null(strstr(err.msg, "command"));
    mcdc_buf_free(&b);
}

static void test_positions(void **state) {
    (void)state;
    mq_msgid id;
    pulsar_pos p = {29, 1, 0};
    pulsar_msgid_encode(&p, 0, &id);
    /* What the Go client of Milvus writes: all four fields, in order. */
    static const uint8_t go[] = {0x08, 29, 0x10, 1, 0x18, 0, 0x20, 0};
    assert_int_equal(id.len, sizeof go);
    assert_memory_equal(id.bytes, go, sizeof go);

    char text[96];
    assert_int_equal(mq_msgid_format("pulsar", &id, text, sizeof text), 0);
    assert_string_equal(text, "29:1:0:0");
    mq_msgid back;
    mcdc_err err;
    assert_int_equal(mq_msgid_parse("pulsar", "29:1:0:0", &back, &err), 0);
    assert_int_equal(back.len, id.len);
    assert_memory_equal(back.bytes, id.bytes, id.len);
    assert_int_equal(mq_msgid_parse("pulsar", "-1:-1:-1:-1", &back, &err), 0);
    assert_int_equal(mq_msgid_format("pulsar", &back, text, sizeof text), 0);
    assert_string_equal(text, "-1:-1:-1:-1");
    pulsar_pos big = {INT64_MAX, INT64_MAX, INT32_MAX};
    pulsar_msgid_encode(&big, -1, &back);
    assert_true(back.len <= MQ_MSGID_MAX);

    const char *bad[] = {"", "1:2:3", "1:2:3:4:5", "a:1:0:0", "1:2:0:x", "-2:0:0:0", "1:2:0:99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mq_msgid_parse("pulsar", bad[i], &back, &err), -1);
        assert_int_equal(err.code, MCDC_EINVAL);
    }

    /* Order: ledger, entry, batch; the partition does not count (Milvus says 0, a broker -1). */
    mq_msgid a, b;
    mq_msgid_parse("pulsar", "29:1:0:0", &a, &err);
    mq_msgid_parse("pulsar", "29:1:-1:0", &b, &err);
    assert_int_equal(mq_msgid_cmp("pulsar", &a, &b), 0);
    mq_msgid_parse("pulsar", "29:2:0:0", &b, &err);
    assert_true(mq_msgid_cmp("pulsar", &a, &b) < 0);
    mq_msgid_parse("pulsar", "30:0:0:0", &b, &err);
    assert_true(mq_msgid_cmp("pulsar", &b, &a) > 0);
    mq_msgid_parse("pulsar", "29:1:0:1", &b, &err);
    assert_true(mq_msgid_cmp("pulsar", &a, &b) < 0);
}

static mq_config pulsar_cfg(mq_kv *kv, size_t n) { return (mq_config){.type = "pulsar", .settings = kv, .n_settings = n}; }

static void test_options(void **state) {
    (void)state;
    pulsar_opts o;
    mcdc_err err;
    mq_kv kv[] = {{"address", "pulsar+ssl://broker:6651"}, {"tenant", "t1"}, {"namespace", "n1"}, {"token", "abc"}};
    mq_config cfg = pulsar_cfg(kv, 4);
    assert_int_equal(pulsar_opts_init(&o, &cfg, &err), 0);
    assert_true(o.tls);
    assert_string_equal(o.token, "abc");
    assert_true(o.tls_verify_host);
    assert_int_equal(o.op_timeout_ms, 10000);
    char topic[256];
    pulsar_topic_name(&o, "by-dev-rootcoord-dml_0", topic, sizeof topic);
    assert_string_equal(topic, "persistent://t1/n1/by-dev-rootcoord-dml_0");
    pulsar_opts_free(&o);

    /* Nothing given: the declared defaults. */
    cfg = pulsar_cfg(NULL, 0);
    assert_int_equal(pulsar_opts_init(&o, &cfg, &err), 0);
    assert_string_equal(o.service_url, "pulsar://127.0.0.1:6650");
    pulsar_topic_name(&o, "c", topic, sizeof topic);
    assert_string_equal(topic, "persistent://public/default/c");
    assert_false(o.tls);
    assert_null(o.token);
    pulsar_opts_free(&o);

    mq_kv more[] = {{"address", "pulsar://h"}, {"tls_verify_hostname", "false"}, {"operation_timeout_ms", "250"}};
    cfg = pulsar_cfg(more, 3);
    assert_int_equal(pulsar_opts_init(&o, &cfg, &err), 0);
    assert_false(o.tls_verify_host);
    assert_int_equal(o.op_timeout_ms, 250);
    pulsar_opts_free(&o);

    const char *bad_addr[] = {"127.0.0.1:6650", "http://x:1", "pulsar://", "pulsar://h:1/path", "", "pulsar://h:99999"};
    for (size_t i = 0; i < sizeof bad_addr / sizeof bad_addr[0]; i++) {
        mq_kv a[] = {{"address", bad_addr[i]}};
        cfg = pulsar_cfg(a, 1);
        assert_int_equal(pulsar_opts_init(&o, &cfg, &err), -1);
        assert_int_equal(err.code, MCDC_EINVAL);
        assert_non_null(strstr(err.msg, "pulsar: address: "));
    }
    mq_kv unknown[] = {{"tenent", "x"}};
    cfg = pulsar_cfg(unknown, 1);
    assert_int_equal(pulsar_opts_init(&o, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "tenent"));
    assert_non_null(strstr(err.msg, "tenant"));
    mq_kv slash[] = {{"namespace", "a/b"}};
    cfg = pulsar_cfg(slash, 1);
    assert_int_equal(pulsar_opts_init(&o, &cfg, &err), -1);
    mq_kv slow[] = {{"operation_timeout_ms", "10"}};
    cfg = pulsar_cfg(slow, 1);
    assert_int_equal(pulsar_opts_init(&o, &cfg, &err), -1);
    assert_string_equal(err.msg, "pulsar: operation_timeout_ms: want an integer from 100 to 600000");
    /* A secret is never repeated in a message. */
    mq_kv tls[] = {{"tls_verify_hostname", "s3cret"}};
    cfg = pulsar_cfg(tls, 1);
    assert_int_equal(pulsar_opts_init(&o, &cfg, &err), -1);
    assert_null(strstr(err.msg, "s3cret"));
}

/* The driver's keys through mq.h, as config.c sees them. */
static void test_settings_through_mq(void **state) {
    (void)state;
    size_t n;
    const mq_key *keys = mq_keys("pulsar", &n);
    assert_non_null(keys);
    assert_int_equal(n, PULSAR_N_KEYS);
    assert_string_equal(keys[P_TOKEN].name, "token");
    assert_int_equal(keys[P_TOKEN].kind, MQ_KEY_SECRET);
    assert_null(mq_keys("rabbit", &n));
    assert_int_equal(n, 0);
    mcdc_err err;
    assert_int_equal(mq_setting_check(&keys[P_TLS_VERIFY_HOSTNAME], "maybe", NULL, &err), -1);
    assert_string_equal(err.msg, "want true or false");
    mq_kv kv[] = {{"tenant", "t1"}};
    mq_config cfg = pulsar_cfg(kv, 1);
    assert_string_equal(mq_config_get(&cfg, "tenant"), "t1");
    assert_string_equal(mq_config_get(&cfg, "namespace"), "default");
    assert_null(mq_config_get(&cfg, "bogus"));
    const char *blame = "x";
    assert_int_equal(mq_settings_check(&cfg, &blame, &err), 0);
    assert_null(blame);

    /* Positions: a Pulsar source cannot start at an explicit position. */
    mq_msgid at, before;
    bool earliest;
    assert_int_equal(mq_msgid_parse("pulsar", "7:3:0:0", &at, &err), 0);
    assert_int_equal(mq_position_before("pulsar", &at, &before, &earliest, &err), -1);
    assert_int_equal(err.code, MCDC_EINVAL);
    assert_string_equal(err.msg, "explicit start positions are supported on Kafka sources only");
}

/* ---- 2. real frames --------------------------------------------------------------- */

typedef struct captured {
    uint8_t *raw;
    size_t len;
    pulsar_frame f;
    pulsar_entry e;
} captured;

static int parse_captured(const char *name, captured *c, mcdc_err *err) {
    memset(c, 0, sizeof *c);
    c->raw = load(name, &c->len);
    if (pulsar_frame_decode(c->raw, c->len, &c->f, err)) fail_msg("%s: %s", name, err->msg);
    assert_int_equal(c->f.cmd->type, PULSAR__PROTO__BASE_COMMAND__TYPE__MESSAGE);
    assert_non_null(c->f.cmd->message->message_id);
    char id[64];
    snprintf(id, sizeof id, "%" PRIu64 ":%" PRIu64 ":0:0", c->f.cmd->message->message_id->ledgerid,
             c->f.cmd->message->message_id->entryid);
    return pulsar_entry_parse(&c->e, c->f.rest, c->f.rest_len, TOPIC, id, err);
}

static void captured_free(captured *c) {
    pulsar_frame_clear(&c->f);
    pulsar_entry_free(&c->e);
    free(c->raw);
}

static void decode_one(const captured *c, change *out) {
    assert_int_equal(c->e.n_recs, 1);
    mcdc_err err;
    if (decode_change(c->e.recs[0].payload, c->e.recs[0].len, out, &err)) fail_msg("decode: %s", err.msg);
}

static void test_milvus_frames(void **state) {
    (void)state;
    mcdc_err err;
    captured c;
    change ch;

    assert_int_equal(parse_captured("milvus_create_collection", &c, &err), 0);
    /* Milvus's Go client: ZSTD, a batch of one (spec/mq-messages.md §3.2) */
    assert_int_equal(c.e.compression, PULSAR__PROTO__COMPRESSION_TYPE__ZSTD);
    assert_true(c.e.batched);
    assert_int_equal(c.e.recs[0].batch_index, 0);
    assert_int_equal(c.f.cmd->message->message_id->ledgerid, 29);
    assert_int_equal(c.f.cmd->message->message_id->entryid, 0);
    decode_one(&c, &ch);
    assert_int_equal(ch.kind, CHANGE_CREATE_COLLECTION);
    assert_string_equal(ch.collection_name, "fixture_rows");
    int64_t coll = ch.collection_id;
    change_free(&ch);
    captured_free(&c);

    assert_int_equal(parse_captured("milvus_insert", &c, &err), 0);
    assert_int_equal(c.e.compression, PULSAR__PROTO__COMPRESSION_TYPE__ZSTD);
    assert_true(c.e.recs[0].len > c.f.rest_len); /* it was compressed */
    decode_one(&c, &ch);
    assert_int_equal(ch.kind, CHANGE_INSERT);
    assert_int_equal(ch.num_rows, 200);
    assert_int_equal(ch.collection_id, coll);
    Milvus__Proto__Msg__InsertRequest *ins = change_insert(&ch);
    const Milvus__Proto__Schema__FieldData *id = NULL;
    for (size_t i = 0; i < ins->n_fields_data; i++)
        if (strcmp(ins->fields_data[i]->field_name, "id") == 0) id = ins->fields_data[i];
    assert_non_null(id);
    for (int i = 0; i < 200; i++) assert_int_equal(id->scalars->long_data->data[i], i + 1);
    change_free(&ch);
    captured_free(&c);

    assert_int_equal(parse_captured("milvus_delete", &c, &err), 0);
    decode_one(&c, &ch);
    assert_int_equal(ch.kind, CHANGE_DELETE);
    assert_int_equal(ch.num_rows, 5);
    Milvus__Proto__Msg__DeleteRequest *del = change_delete(&ch);
    static const int64_t pks[] = {1, 2, 3, 100, 200};
    assert_int_equal(del->primary_keys->int_id->n_data, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(del->primary_keys->int_id->data[i], pks[i]);
    change_free(&ch);
    captured_free(&c);

    assert_int_equal(parse_captured("milvus_timetick", &c, &err), 0);
    decode_one(&c, &ch);
    assert_int_equal(ch.kind, CHANGE_TIMETICK);
    assert_true(ch.ts > 0);
    change_free(&ch);
    captured_free(&c);
}

static void test_other_producers_frames(void **state) {
    (void)state;
    mcdc_err err;
    captured c;

    assert_int_equal(parse_captured("produced_none_single", &c, &err), 0);
    assert_int_equal(c.e.compression, PULSAR__PROTO__COMPRESSION_TYPE__NONE);
    assert_false(c.e.batched);
    assert_int_equal(c.e.n_recs, 1);
    assert_int_equal(c.e.recs[0].batch_index, 0);
    assert_int_equal(c.e.recs[0].len, 12);
    assert_memory_equal(c.e.recs[0].payload, "hello pulsar", 12);
    captured_free(&c);

    assert_int_equal(parse_captured("produced_zlib_batch3", &c, &err), 0);
    assert_int_equal(c.e.compression, PULSAR__PROTO__COMPRESSION_TYPE__ZLIB);
    assert_true(c.e.batched);
    assert_int_equal(c.e.n_recs, 3);
    static const char *want[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c.e.recs[i].batch_index, i);
        assert_int_equal(c.e.recs[i].len, strlen(want[i]));
        assert_memory_equal(c.e.recs[i].payload, want[i], strlen(want[i]));
    }
    captured_free(&c);

    assert_int_equal(parse_captured("produced_zstd_batch2", &c, &err), 0);
    assert_int_equal(c.e.n_recs, 2);
    assert_int_equal(c.e.recs[0].len, 100);
    assert_int_equal(c.e.recs[1].len, 120);
    assert_memory_equal(c.e.recs[1].payload, "betabeta", 8);
    captured_free(&c);

    assert_int_equal(parse_captured("produced_lz4", &c, &err), -1);
    assert_int_equal(err.code, MCDC_EDECODE);
    assert_non_null(strstr(err.msg, "unsupported compression LZ4 (1)"));
    assert_non_null(strstr(err.msg, TOPIC));
    assert_non_null(strstr(err.msg, "44:3:0:0"));
    assert_int_equal(c.e.n_recs, 0);
    captured_free(&c);
}

/* ---- 3. broken frames --------------------------------------------------------------- */

static void expect_refused(const uint8_t *rest, size_t len, const char *why) {
    pulsar_entry e = {0};
    mcdc_err err;
    int rc = pulsar_entry_parse(&e, rest, len, TOPIC, "29:1:0:0", &err);
    if (rc == 0) fail_msg("accepted; wanted '%s'", why);
    assert_int_equal(err.code, MCDC_EDECODE);
    if (!strstr(err.msg, why)) fail_msg("'%s' does not say '%s'", err.msg, why);
    assert_non_null(strstr(err.msg, TOPIC));
    assert_non_null(strstr(err.msg, "29:1:0:0"));
    pulsar_entry_free(&e);
}

/* [magic][crc][md size][md][payload] with a correct checksum. */
static void build_entry(mcdc_buf *out, const Pulsar__Proto__MessageMetadata *md, const void *payload, size_t n) {
    size_t ml = pulsar__proto__message_metadata__get_packed_size(md);
    out->len = 0;
    mcdc_buf_reserve(out, 10 + ml + n);
    uint8_t *p = out->data;
    p[0] = 0x0e;
    p[1] = 0x01;
    put_be32(p + 6, (uint32_t)ml);
    pulsar__proto__message_metadata__pack(md, p + 10);
    memcpy(p + 10 + ml, payload, n);
    put_be32(p + 2, pulsar_crc32c(0, p + 6, 4 + ml + n));
    out->len = 10 + ml + n;
}

static void test_corrupt_frames_are_refused(void **state) {
    (void)state;
    size_t len;
    uint8_t *raw = load("milvus_insert", &len);
    pulsar_frame f;
    mcdc_err err;
    assert_int_equal(pulsar_frame_decode(raw, len, &f, &err), 0);
    uint8_t *rest = (uint8_t *)f.rest;
    size_t rl = f.rest_len;

    rest[rl - 10] ^= 0x40; /* one bit in the payload */
    expect_refused(rest, rl, "checksum mismatch");
    rest[rl - 10] ^= 0x40;
    rest[3] ^= 1; /* the checksum itself */
    expect_refused(rest, rl, "checksum mismatch");
    rest[3] ^= 1;
    expect_refused(rest, 4, "cut off inside the checksum");
    expect_refused(rest, rl - 100, "checksum mismatch"); /* truncated */
    pulsar_frame_clear(&f);
    /* A frame cut short does not even split. */
    assert_int_equal(pulsar_frame_decode(raw, len - 100, &f, &err), -1);
    free(raw);

    /* Entries with a valid checksum whose content is wrong. */
    mcdc_buf b = MCDC_BUF_INIT;
    Pulsar__Proto__MessageMetadata md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    md.producer_name = "p";
    md.has_compression = 1;
    md.compression = PULSAR__PROTO__COMPRESSION_TYPE__ZSTD;
    md.has_uncompressed_size = 1;
    md.uncompressed_size = 100;
    build_entry(&b, &md, "garbage-not-zstd", 16);
    expect_refused(b.data, b.len, "ZSTD payload does not decompress");

    md.compression = PULSAR__PROTO__COMPRESSION_TYPE__ZLIB;
    build_entry(&b, &md, "garbage-not-zlib", 16);
    expect_refused(b.data, b.len, "ZLIB payload does not decompress");

    md.compression = PULSAR__PROTO__COMPRESSION_TYPE__SNAPPY;
    build_entry(&b, &md, "x", 1);
    expect_refused(b.data, b.len, "unsupported compression SNAPPY (4)");
    md.compression = 9;
    build_entry(&b, &md, "x", 1);
    expect_refused(b.data, b.len, "unsupported compression unknown (9)");

    /* uncompressed_size that lies */
    uint8_t plain[64], packed[128];
    memset(plain, 'a', sizeof plain);
    size_t zn = ZSTD_compress(packed, sizeof packed, plain, sizeof plain, 1);
    md.compression = PULSAR__PROTO__COMPRESSION_TYPE__ZSTD;
    md.uncompressed_size = 65;
    build_entry(&b, &md, packed, zn);
    expect_refused(b.data, b.len, "ZSTD payload inflates to 64 bytes, metadata says 65");
    md.uncompressed_size = 63;
    build_entry(&b, &md, packed, zn);
    expect_refused(b.data, b.len, "ZSTD payload does not decompress");
    md.uncompressed_size = 0;
    build_entry(&b, &md, packed, zn);
    expect_refused(b.data, b.len, "without uncompressed_size");

    /* batches that do not add up */
    md.has_compression = 0;
    md.has_uncompressed_size = 0;
    md.has_num_messages_in_batch = 1;
    md.num_messages_in_batch = 2;
    Pulsar__Proto__SingleMessageMetadata sm = PULSAR__PROTO__SINGLE_MESSAGE_METADATA__INIT;
    sm.payload_size = 5;
    uint8_t rec[64];
    size_t sl = pulsar__proto__single_message_metadata__pack(&sm, rec + 4);
    put_be32(rec, (uint32_t)sl);
    memcpy(rec + 4 + sl, "hello", 5);
    build_entry(&b, &md, rec, 4 + sl + 5); /* says 2, holds 1 */
    expect_refused(b.data, b.len, "batch record 1 of 2 is cut off");
    md.num_messages_in_batch = 1;
    build_entry(&b, &md, rec, 4 + sl + 3); /* payload cut */
    expect_refused(b.data, b.len, "payload of 5 bytes but 3 left");
    md.num_messages_in_batch = 1000;
    build_entry(&b, &md, rec, 4 + sl + 5);
    expect_refused(b.data, b.len, "batch of 1000 messages");
    put_be32(rec, 200);
    md.num_messages_in_batch = 1;
    build_entry(&b, &md, rec, 4 + sl + 5);
    expect_refused(b.data, b.len, "metadata of 200 bytes is cut off");

    /* metadata that is not metadata */
    uint8_t junk[] = {0x0e, 0x01, 0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff};
    put_be32(junk + 2, pulsar_crc32c(0, junk + 6, sizeof junk - 6));
    expect_refused(junk, sizeof junk, "metadata (3 bytes) does not decode");
    put_be32(junk + 6, 50);
    put_be32(junk + 2, pulsar_crc32c(0, junk + 6, sizeof junk - 6));
    expect_refused(junk, sizeof junk, "metadata of 50 bytes but only 3 follow");

    /* Not refused: no checksum at all (producers before protocol v6), and a
     * batch record cut out by compaction is left out. */
    md.num_messages_in_batch = 2;
    Pulsar__Proto__SingleMessageMetadata gone = PULSAR__PROTO__SINGLE_MESSAGE_METADATA__INIT;
    gone.payload_size = 3;
    gone.has_compacted_out = 1;
    gone.compacted_out = 1;
    uint8_t two[128];
    size_t at = 0;
    size_t l1 = pulsar__proto__single_message_metadata__pack(&gone, two + 4);
    put_be32(two, (uint32_t)l1);
    memcpy(two + 4 + l1, "old", 3);
    at = 4 + l1 + 3;
    sl = pulsar__proto__single_message_metadata__pack(&sm, two + at + 4);
    put_be32(two + at, (uint32_t)sl);
    memcpy(two + at + 4 + sl, "hello", 5);
    at += 4 + sl + 5;
    build_entry(&b, &md, two, at);
    pulsar_entry e = {0};
    assert_int_equal(pulsar_entry_parse(&e, b.data + 6, b.len - 6, TOPIC, "1:1:0:0", &err), 0);
    assert_int_equal(e.n_recs, 1);
    assert_int_equal(e.recs[0].batch_index, 1);
    assert_memory_equal(e.recs[0].payload, "hello", 5);
    pulsar_entry_free(&e);
    mcdc_buf_free(&b);
}

/* ---- 4. the reader against a fake broker ------------------------------------------------ */

enum { FAKE_MAX = 16 };

typedef struct fake {
    int lfd;
    int port;
    pthread_t th;
    atomic_bool stop;
    captured entries[FAKE_MAX]; /* served as ledger `ledger`, entry i */
    int64_t ledger;             /* the topic's one ledger; 7 unless a test trims */
    int64_t ledger_later;       /* after the first connection: this ledger instead (0: same) */
    int n;
    int drop_after;             /* the first connection dies after sending this many; -1: never */
    int garbage_at;             /* in place of this entry: a frame whose command does not decode; -1: never */
    bool topic_missing;
    bool silent;                /* never sends a MESSAGE (a cold read that takes its time) */
    atomic_int connections;
    atomic_int subscribes;
    int64_t last_start_entry;   /* start entry of the last SUBSCRIBE */
    char auth_method[32];       /* of the last CONNECT */
    char auth_data[64];
    bool durable;               /* of the last SUBSCRIBE */
    bool force_creation;
} fake;

static void fake_send(int fd, Pulsar__Proto__BaseCommand *cmd, const uint8_t *rest, size_t rest_len) {
    mcdc_buf b = MCDC_BUF_INIT;
    pulsar_frame_encode(&b, cmd);
    put_be32(b.data, (uint32_t)(b.len - 4 + rest_len));
    mcdc_buf_append(&b, rest, rest_len);
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = send(fd, b.data + off, b.len - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    mcdc_buf_free(&b);
}

static bool fake_read(int fd, mcdc_buf *in, pulsar_frame *f) {
    for (;;) {
        if (in->len >= 4) {
            int64_t whole = pulsar_frame_len(in->data);
            if (whole > 0 && in->len >= (size_t)whole) {
                mcdc_err err;
                bool ok = pulsar_frame_decode(in->data, (size_t)whole, f, &err) == 0;
                memmove(in->data, in->data + whole, in->len - (size_t)whole);
                in->len -= (size_t)whole;
                return ok;
            }
        }
        mcdc_buf_reserve(in, 4096);
        ssize_t n = recv(fd, in->data + in->len, 4096, 0);
        if (n <= 0) return false;
        in->len += (size_t)n;
    }
}

static void fake_serve(fake *fk, int fd, bool first) {
    mcdc_buf in = MCDC_BUF_INIT;
    int next = 0, sent = 0;
    uint32_t permits = 0;
    int64_t ledger = !first && fk->ledger_later ? fk->ledger_later : fk->ledger;
    pulsar_frame f;
    char url[64];
    snprintf(url, sizeof url, "pulsar://127.0.0.1:%d", fk->port);
    while (!fk->stop && fake_read(fd, &in, &f)) {
        Pulsar__Proto__BaseCommand *c = f.cmd, r = PULSAR__PROTO__BASE_COMMAND__INIT;
        switch (c->type) {
        case PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT: {
            Pulsar__Proto__CommandConnect *cc = c->connect;
            snprintf(fk->auth_method, sizeof fk->auth_method, "%s", cc->auth_method_name ? cc->auth_method_name : "");
            snprintf(fk->auth_data, sizeof fk->auth_data, "%.*s", (int)cc->auth_data.len, (const char *)cc->auth_data.data);
            Pulsar__Proto__CommandConnected ok = PULSAR__PROTO__COMMAND_CONNECTED__INIT;
            ok.server_version = "fake";
            r.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED;
            r.connected = &ok;
            fake_send(fd, &r, NULL, 0);
            break;
        }
        case PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA: {
            Pulsar__Proto__CommandPartitionedTopicMetadataResponse pm =
                PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA_RESPONSE__INIT;
            pm.request_id = c->partitionmetadata->request_id;
            pm.has_partitions = 1;
            r.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA_RESPONSE;
            r.partitionmetadataresponse = &pm;
            fake_send(fd, &r, NULL, 0);
            break;
        }
        case PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP: {
            Pulsar__Proto__CommandLookupTopicResponse lr = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__INIT;
            lr.request_id = c->lookuptopic->request_id;
            lr.has_response = 1;
            lr.response = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Connect;
            lr.brokerserviceurl = url;
            r.type = PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP_RESPONSE;
            r.lookuptopicresponse = &lr;
            fake_send(fd, &r, NULL, 0);
            break;
        }
        case PULSAR__PROTO__BASE_COMMAND__TYPE__SUBSCRIBE: {
            Pulsar__Proto__CommandSubscribe *s = c->subscribe;
            atomic_fetch_add(&fk->subscribes, 1);
            fk->durable = !s->has_durable || s->durable;
            fk->force_creation = !s->has_force_topic_creation || s->force_topic_creation;
            if (fk->topic_missing) {
                Pulsar__Proto__CommandError e = PULSAR__PROTO__COMMAND_ERROR__INIT;
                e.request_id = s->request_id;
                e.error = PULSAR__PROTO__SERVER_ERROR__TopicNotFound;
                e.message = "Topic does not exist";
                r.type = PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR;
                r.error = &e;
                fake_send(fd, &r, NULL, 0);
                break;
            }
            /* Like the broker: a start id with a batch index starts at its
             * entry; in a ledger that is gone, at the first entry of the next
             * one; past the last entry, at the initial position. */
            int64_t l = (int64_t)s->start_message_id->ledgerid, en = (int64_t)s->start_message_id->entryid;
            fk->last_start_entry = en;
            bool latest = s->has_initialposition &&
                          s->initialposition == PULSAR__PROTO__COMMAND_SUBSCRIBE__INITIAL_POSITION__Latest;
            next = l < 0 || l < ledger ? 0 : l == ledger && en <= fk->n ? (int)en : latest ? fk->n : 0;
            Pulsar__Proto__CommandSuccess ok = PULSAR__PROTO__COMMAND_SUCCESS__INIT;
            ok.request_id = s->request_id;
            r.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SUCCESS;
            r.success = &ok;
            fake_send(fd, &r, NULL, 0);
            break;
        }
        case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID: {
            Pulsar__Proto__CommandGetLastMessageIdResponse g = PULSAR__PROTO__COMMAND_GET_LAST_MESSAGE_ID_RESPONSE__INIT;
            Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
            id.ledgerid = (uint64_t)ledger;
            id.entryid = (uint64_t)(int64_t)(fk->n - 1);
            id.has_batch_index = 1;
            /* Like the broker: the last index of a batch, -1 for an entry that is none. */
            const pulsar_entry *le = fk->n ? &fk->entries[fk->n - 1].e : NULL;
            id.batch_index = le && le->batched ? (int32_t)le->n_recs - 1 : -1;
            g.request_id = c->getlastmessageid->request_id;
            g.last_message_id = &id;
            r.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID_RESPONSE;
            r.getlastmessageidresponse = &g;
            fake_send(fd, &r, NULL, 0);
            break;
        }
        case PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW:
            permits += c->flow->messagepermits;
            break;
        default:
            break;
        }
        pulsar_frame_clear(&f);
        while (!fk->silent && permits > 0 && next < fk->n) {
            if (first && fk->drop_after >= 0 && sent == fk->drop_after) goto out;
            if (next == fk->garbage_at) {
                static const uint8_t junk[] = {0, 0, 0, 8, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff};
                send(fd, junk, sizeof junk, MSG_NOSIGNAL);
                goto out;
            }
            Pulsar__Proto__CommandMessage m = PULSAR__PROTO__COMMAND_MESSAGE__INIT;
            Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
            id.ledgerid = (uint64_t)ledger;
            id.entryid = (uint64_t)next;
            m.consumer_id = 1;
            m.message_id = &id;
            r = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
            r.type = PULSAR__PROTO__BASE_COMMAND__TYPE__MESSAGE;
            r.message = &m;
            fake_send(fd, &r, fk->entries[next].f.rest, fk->entries[next].f.rest_len);
            next++;
            sent++;
            permits--;
        }
    }
out:
    /* A broker that goes away after its last frame: FIN, not RST, so the
     * reader gets every byte sent before and then the end of the stream. */
    shutdown(fd, SHUT_WR);
    char sink[4096];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 2000) > 0 && recv(fd, sink, sizeof sink, 0) > 0) {
    }
    mcdc_buf_free(&in);
}

static void *fake_main(void *arg) {
    fake *fk = arg;
    while (!fk->stop) {
        struct pollfd p = {.fd = fk->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(fk->lfd, NULL, NULL);
        if (fd < 0) continue;
        int n = atomic_fetch_add(&fk->connections, 1);
        fake_serve(fk, fd, n == 0);
        close(fd);
    }
    return NULL;
}

static void fake_start(fake *fk, const char *const *names, int n) {
    memset(fk, 0, sizeof *fk);
    fk->drop_after = -1;
    fk->garbage_at = -1;
    fk->ledger = 7;
    for (int i = 0; i < n; i++) {
        mcdc_err err;
        parse_captured(names[i], &fk->entries[i], &err); /* a refused entry is served all the same */
    }
    fk->n = n;
    fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fk->lfd, (struct sockaddr *)&a, &al);
    fk->port = ntohs(a.sin_port);
    assert_int_equal(listen(fk->lfd, 8), 0);
    pthread_create(&fk->th, NULL, fake_main, fk);
}

static void fake_stop(fake *fk) {
    fk->stop = true;
    pthread_join(fk->th, NULL);
    close(fk->lfd);
    for (int i = 0; i < fk->n; i++) captured_free(&fk->entries[i]);
}

/* Room for the address and one more setting; the tests run one at a time. */
static mq_kv fake_settings[2];

static mq_config fake_cfg(fake *fk, char *url, size_t cap) {
    snprintf(url, cap, "pulsar://127.0.0.1:%d", fk->port);
    fake_settings[0] = (mq_kv){"address", url};
    return pulsar_cfg(fake_settings, 1);
}

static const char *const SERIES[] = {"milvus_create_collection", "milvus_insert", "produced_zlib_batch3",
                                     "milvus_delete", "produced_none_single", "produced_zstd_batch2",
                                     "milvus_timetick"};
enum { SERIES_N = 7, SERIES_MSGS = 10 }; /* 3 + 2 batched entries */

/* Reads until MQ_END; returns the positions seen ("7:e:0:b") joined by spaces. */
static int read_all(mq_reader *r, char *out, size_t cap) {
    out[0] = '\0';
    int n = 0;
    for (int spins = 0; spins < 200; spins++) {
        mq_message m;
        mcdc_err err;
        mq_result res = mq_next(r, &m, 100, &err);
        if (res == MQ_ERROR) fail_msg("mq_next: %s", err.msg);
        if (res == MQ_END) return n;
        if (res != MQ_MESSAGE) continue;
        char pos[64];
        mq_msgid_format("pulsar", &m.id, pos, sizeof pos);
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", n ? " " : "", pos);
        n++;
    }
    fail_msg("no end of channel after %d messages", n);
    return -1;
}

static const char *ALL_POSITIONS =
    "7:0:0:0 7:1:0:0 7:2:0:0 7:2:0:1 7:2:0:2 7:3:0:0 7:4:0:0 7:5:0:0 7:5:0:1 7:6:0:0";

static void test_reader_earliest_to_end(void **state) {
    (void)state;
    fake fk;
    fake_start(&fk, SERIES, SERIES_N);
    char url[64], got[1024];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_EARLIEST};
    mq_reader *r = mq_open(&cfg, "by-pulsar-rootcoord-dml_2", &st, &err);
    assert_non_null(r);
    assert_int_equal(read_all(r, got, sizeof got), SERIES_MSGS);
    assert_string_equal(got, ALL_POSITIONS);
    mq_close(r);
    assert_int_equal(fk.connections, 1);
    assert_string_equal(fk.auth_method, "");
    /* The broker keeps no cursor for us and no topic is created by reading. */
    assert_false(fk.durable);
    assert_false(fk.force_creation);

    /* Token authentication: CONNECT carries it. */
    fake_settings[1] = (mq_kv){"token", "eyJhbGciOi.token"};
    cfg.n_settings = 2;
    r = mq_open(&cfg, "by-pulsar-rootcoord-dml_2", &st, &err);
    assert_non_null(r);
    assert_int_equal(read_all(r, got, sizeof got), SERIES_MSGS);
    mq_close(r);
    assert_string_equal(fk.auth_method, "token");
    assert_string_equal(fk.auth_data, "eyJhbGciOi.token");
    fake_stop(&fk);
}

static void test_reader_after_and_at(void **state) {
    (void)state;
    fake fk;
    fake_start(&fk, SERIES, SERIES_N);
    char url[64], got[1024];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_AFTER};
    /* After a message inside a batch: the rest of that batch, then on. */
    assert_int_equal(mq_msgid_parse("pulsar", "7:2:0:0", &st.at, &err), 0);
    mq_reader *r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 7);
    assert_string_equal(got, "7:2:0:1 7:2:0:2 7:3:0:0 7:4:0:0 7:5:0:0 7:5:0:1 7:6:0:0");
    assert_int_equal(fk.last_start_entry, 2);
    mq_close(r);

    st.kind = MQ_START_AT;
    assert_int_equal(mq_msgid_parse("pulsar", "7:5:0:1", &st.at, &err), 0);
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 2);
    assert_string_equal(got, "7:5:0:1 7:6:0:0");
    mq_close(r);

    /* After the last message: nothing, and the end at once. */
    st.kind = MQ_START_AFTER;
    assert_int_equal(mq_msgid_parse("pulsar", "7:6:0:0", &st.at, &err), 0);
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 0);
    mq_close(r);

    /* Latest: nothing old. */
    st.kind = MQ_START_LATEST;
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 0);
    mq_close(r);

    mq_msgid last;
    bool exists = false;
    assert_int_equal(mq_last_position(&cfg, "c", &last, &exists, 5000, &err), 0);
    assert_true(exists);
    char text[64];
    mq_msgid_format("pulsar", &last, text, sizeof text);
    assert_string_equal(text, "7:6:0:0");
    fake_stop(&fk);

    /* The last entry not a batch (the broker says batch index -1): latest still skips it. */
    static const char *const plain_last[] = {"milvus_insert", "produced_none_single"};
    fake_start(&fk, plain_last, 2);
    cfg = fake_cfg(&fk, url, sizeof url);
    st.kind = MQ_START_LATEST;
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 0);
    mq_close(r);
    assert_int_equal(mq_last_position(&cfg, "c", &last, &exists, 5000, &err), 0);
    mq_msgid_format("pulsar", &last, text, sizeof text);
    assert_string_equal(text, "7:1:0:0");
    st.kind = MQ_START_AFTER; /* after the last position = nothing */
    st.at = last;
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 0);
    mq_close(r);
    fake_stop(&fk);
}

static void test_reader_resumes_after_a_dropped_connection(void **state) {
    (void)state;
    fake fk;
    fake_start(&fk, SERIES, SERIES_N);
    fk.drop_after = 3; /* dies in the middle of the stream, after entry 2 (the batch of 3) */
    char url[64], got[1024];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_EARLIEST};
    mq_reader *r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), SERIES_MSGS);
    /* Every message exactly once, in order, although entry 2 came twice. */
    assert_string_equal(got, ALL_POSITIONS);
    assert_int_equal(fk.connections, 2);
    assert_int_equal(fk.last_start_entry, 2);
    mq_close(r);
    fake_stop(&fk);
}

static void test_reader_waits_for_a_missing_topic(void **state) {
    (void)state;
    fake fk;
    fake_start(&fk, SERIES, 0);
    fk.topic_missing = true;
    char url[64];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_EARLIEST};
    mq_reader *r = mq_open(&cfg, "not-yet", &st, &err);
    assert_non_null(r);
    mq_message m;
    assert_int_equal(mq_next(r, &m, 0, &err), MQ_END);
    assert_non_null(strstr(mq_last_transient_error(r), "topic persistent://public/default/not-yet does not exist yet"));
    assert_int_equal(mq_next(r, &m, 50, &err), MQ_END);
    mq_close(r);
    mq_msgid last;
    bool exists = true;
    assert_int_equal(mq_last_position(&cfg, "not-yet", &last, &exists, 5000, &err), 0);
    assert_false(exists);
    fake_stop(&fk);
}

static void test_reader_stops_on_a_corrupt_entry(void **state) {
    (void)state;
    static const char *const names[] = {"milvus_create_collection", "produced_lz4"};
    fake fk;
    fake_start(&fk, names, 2);
    char url[64];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_EARLIEST};
    mq_reader *r = mq_open(&cfg, "by-pulsar-rootcoord-dml_2", &st, &err);
    mq_message m;
    mq_result res;
    while ((res = mq_next(r, &m, 1000, &err)) == MQ_NONE) {
    }
    assert_int_equal(res, MQ_MESSAGE);
    while ((res = mq_next(r, &m, 1000, &err)) == MQ_NONE) {
    }
    assert_int_equal(res, MQ_ERROR);
    assert_int_equal(err.code, MCDC_EDECODE);
    assert_non_null(strstr(err.msg, "persistent://public/default/by-pulsar-rootcoord-dml_2"));
    assert_non_null(strstr(err.msg, "7:1:0:0"));
    assert_non_null(strstr(err.msg, "LZ4"));
    /* Asked again, it says the same: the entry is never skipped. */
    assert_int_equal(mq_next(r, &m, 100, &err), MQ_ERROR);
    assert_non_null(strstr(err.msg, "7:1:0:0"));
    mq_close(r);
    fake_stop(&fk);
}

static void test_reader_gives_up_on_frames_that_never_decode(void **state) {
    (void)state;
    fake fk;
    fake_start(&fk, SERIES, SERIES_N);
    fk.garbage_at = 3; /* where the delete should be, every time */
    char url[64];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_EARLIEST};
    mq_reader *r = mq_open(&cfg, "c", &st, &err);
    mq_message m;
    mq_result res;
    int n = 0;
    for (int spins = 0; spins < 100; spins++) {
        res = mq_next(r, &m, 200, &err);
        if (res == MQ_MESSAGE) n++;
        if (res == MQ_ERROR) break;
    }
    assert_int_equal(res, MQ_ERROR);
    assert_int_equal(n, 5); /* entries 0..2: 1 + 1 + 3 records, each once */
    assert_int_equal(err.code, MCDC_EDECODE);
    assert_non_null(strstr(err.msg, "persistent://public/default/c: after message 7:2:0:2"));
    assert_int_equal(fk.connections, 3);
    mq_close(r);
    fake_stop(&fk);
}

/* The first mq_next that is not MQ_NONE. */
static mq_result next_answer(mq_reader *r, mq_message *m, mcdc_err *err) {
    mq_result res = MQ_NONE;
    for (int spins = 0; spins < 50 && res == MQ_NONE; spins++) res = mq_next(r, m, 100, err);
    return res;
}

/* Opens at `start` ("after"/"at" + a position) and expects the pause. */
static void expect_gone(mq_config *cfg, mq_start_kind kind, const char *pos, const char *left) {
    mcdc_err err;
    mq_start st = {.kind = kind};
    assert_int_equal(mq_msgid_parse("pulsar", pos, &st.at, &err), 0);
    mq_reader *r = mq_open(cfg, "by-pulsar-rootcoord-dml_2", &st, &err);
    assert_non_null(r);
    mq_message m;
    assert_int_equal(next_answer(r, &m, &err), MQ_ERROR);
    assert_int_equal(err.code, MCDC_ENOTFOUND); /* the class Kafka's retention error has: the task pauses */
    assert_non_null(strstr(err.msg, "pulsar topic persistent://public/default/by-pulsar-rootcoord-dml_2: position "));
    assert_non_null(strstr(err.msg, pos));
    assert_non_null(strstr(err.msg, "is no longer in the topic"));
    assert_non_null(strstr(err.msg, left));
    /* Said again, and nothing after the gap is ever handed out. */
    assert_int_equal(mq_next(r, &m, 100, &err), MQ_ERROR);
    assert_non_null(strstr(err.msg, pos));
    mq_close(r);
}

static void test_reader_stops_at_a_position_retention_removed(void **state) {
    (void)state;
    fake fk;
    fake_start(&fk, SERIES, SERIES_N);
    /* Ledger 7 is gone; what is left lives in ledger 9 (a topic deleted and
     * re-created looks the same: its ledgers are new ones). */
    fk.ledger = 9;
    char url[64], got[1024];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    expect_gone(&cfg, MQ_START_AFTER, "7:3:0:0", "the oldest message left is 9:0:0:0");
    expect_gone(&cfg, MQ_START_AT, "7:2:0:1", "the oldest message left is 9:0:0:0");
    /* The last message of the deleted ledger: maybe nothing was lost, but
     * the protocol cannot say so; it stops all the same. */
    expect_gone(&cfg, MQ_START_AFTER, "7:6:0:0", "9:0:0:0");
    /* Past the end of the topic (another cluster's position): the broker
     * would start at the earliest entry. */
    expect_gone(&cfg, MQ_START_AFTER, "9:40:0:0", "the oldest message left is 9:0:0:0");
    expect_gone(&cfg, MQ_START_AFTER, "12:0:0:0", "the oldest message left is 9:0:0:0");

    /* Positions that are still there, the oldest one left included
     * (retention exactly at the position): no error, from the right message. */
    mcdc_err err;
    mq_start st = {.kind = MQ_START_AFTER};
    assert_int_equal(mq_msgid_parse("pulsar", "9:0:0:0", &st.at, &err), 0);
    mq_reader *r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), SERIES_MSGS - 1);
    assert_string_equal(got, "9:1:0:0 9:2:0:0 9:2:0:1 9:2:0:2 9:3:0:0 9:4:0:0 9:5:0:0 9:5:0:1 9:6:0:0");
    mq_close(r);
    st.kind = MQ_START_AT;
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), SERIES_MSGS);
    assert_true(strncmp(got, "9:0:0:0 9:1:0:0", 15) == 0);
    mq_close(r);
    /* Inside a batch: the entry is what the broker sends first, the reader
     * drops the records before the wanted one. */
    assert_int_equal(mq_msgid_parse("pulsar", "9:2:0:1", &st.at, &err), 0);
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 7);
    assert_string_equal(got, "9:2:0:1 9:2:0:2 9:3:0:0 9:4:0:0 9:5:0:0 9:5:0:1 9:6:0:0");
    mq_close(r);
    /* Earliest and latest name no message: never an error. */
    st.kind = MQ_START_EARLIEST;
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), SERIES_MSGS);
    mq_close(r);
    st.kind = MQ_START_LATEST;
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 0);
    mq_close(r);
    fake_stop(&fk);

    /* No MESSAGE comes, but the topic's last message is before the position:
     * the last message id says it. */
    fake_start(&fk, SERIES, 3);
    fk.ledger = 5;
    fk.silent = true;
    cfg = fake_cfg(&fk, url, sizeof url);
    expect_gone(&cfg, MQ_START_AFTER, "7:3:0:0", "its last message is 5:2:0:0");
    /* A last message at or past the position: it is still to come; the
     * reader waits, with no error. */
    st.kind = MQ_START_AT;
    assert_int_equal(mq_msgid_parse("pulsar", "5:1:0:0", &st.at, &err), 0);
    r = mq_open(&cfg, "c", &st, &err);
    mq_message m;
    for (int i = 0; i < 3; i++) assert_int_equal(mq_next(r, &m, 300, &err), MQ_NONE);
    mq_close(r);
    fake_stop(&fk);

    /* Trimmed to nothing (the last message id has entry -1, which older
     * brokers also say of a topic just reloaded): nothing is handed out and
     * nothing is concluded; the next entry written decides. */
    fake_start(&fk, SERIES, 0);
    fk.ledger = 9;
    cfg = fake_cfg(&fk, url, sizeof url);
    st.kind = MQ_START_AFTER;
    assert_int_equal(mq_msgid_parse("pulsar", "7:3:0:0", &st.at, &err), 0);
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(next_answer(r, &m, &err), MQ_END);
    mq_close(r);
    st.kind = MQ_START_EARLIEST;
    r = mq_open(&cfg, "c", &st, &err);
    assert_int_equal(read_all(r, got, sizeof got), 0);
    mq_close(r);
    fake_stop(&fk);
}

static void test_reader_stops_when_retention_passes_it_during_an_outage(void **state) {
    (void)state;
    fake fk;
    fake_start(&fk, SERIES, SERIES_N);
    fk.drop_after = 3;    /* the connection dies after entry 2 ... */
    fk.ledger_later = 9;  /* ... and ledger 7 is gone when the reader comes back */
    char url[64];
    mq_config cfg = fake_cfg(&fk, url, sizeof url);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_EARLIEST};
    mq_reader *r = mq_open(&cfg, "c", &st, &err);
    mq_message m;
    mq_result res;
    int n = 0;
    while ((res = next_answer(r, &m, &err)) == MQ_MESSAGE) n++;
    assert_int_equal(n, 5); /* entries 0..2 */
    assert_int_equal(res, MQ_ERROR);
    assert_int_equal(err.code, MCDC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "position 7:2:0:2 is no longer in the topic"));
    assert_non_null(strstr(err.msg, "the oldest message left is 9:0:0:0"));
    mq_close(r);
    fake_stop(&fk);
}

static void test_reader_without_a_broker(void **state) {
    (void)state;
    /* A port nobody listens on: the reader exists and says why it waits. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    char url[64];
    snprintf(url, sizeof url, "pulsar://127.0.0.1:%d", ntohs(a.sin_port));
    close(s);
    mq_kv kv[] = {{"address", url}};
    mq_config cfg = pulsar_cfg(kv, 1);
    mcdc_err err;
    mq_start st = {.kind = MQ_START_EARLIEST};
    mq_reader *r = mq_open(&cfg, "c", &st, &err);
    assert_non_null(r);
    mq_message m;
    assert_int_equal(mq_next(r, &m, 50, &err), MQ_NONE);
    assert_non_null(strstr(mq_last_transient_error(r), "Connection refused"));
    mq_close(r);
    assert_int_equal(mq_probe(&cfg, 1000, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);

    mq_kv bad_kv[] = {{"address", "kafka:9092"}};
    mq_config bad = pulsar_cfg(bad_kv, 1);
    assert_null(mq_open(&bad, "c", &st, &err));
    assert_int_equal(err.code, MCDC_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_command_frame_round_trip),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_settings_through_mq),
        cmocka_unit_test(test_milvus_frames),
        cmocka_unit_test(test_other_producers_frames),
        cmocka_unit_test(test_corrupt_frames_are_refused),
        cmocka_unit_test(test_reader_earliest_to_end),
        cmocka_unit_test(test_reader_after_and_at),
        cmocka_unit_test(test_reader_resumes_after_a_dropped_connection),
        cmocka_unit_test(test_reader_waits_for_a_missing_topic),
        cmocka_unit_test(test_reader_stops_on_a_corrupt_entry),
        cmocka_unit_test(test_reader_gives_up_on_frames_that_never_decode),
        cmocka_unit_test(test_reader_stops_at_a_position_retention_removed),
        cmocka_unit_test(test_reader_stops_when_retention_passes_it_during_an_outage),
        cmocka_unit_test(test_reader_without_a_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
