/* test_config.c — mcdc.yaml: defaults, a full file, the shipped example, and
 * for each kind of mistake a message with file:line and the key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/config.h"

static void test_defaults(void **state) {
    (void)state;
    mcdc_config c;
    mcdc_config_defaults(&c);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8444);
    assert_string_equal(c.api_token, "");
    assert_int_equal(c.max_body_bytes, 1048576);
    assert_int_equal(c.n_api_allowed_hosts, 0);
    assert_string_equal(c.api_tls_cert_file, "");
    assert_string_equal(c.api_tls_key_file, "");
    assert_int_equal(c.api_max_connections, 256);
    assert_int_equal(c.api_max_connections_per_client, 32);
    assert_int_equal(c.api_header_timeout_ms, 10000);
    assert_int_equal(c.log_level, MCDC_LOG_INFO);
    assert_string_equal(c.store.type, "sqlite");
    assert_string_equal(c.store.path, "mcdc.db");
    assert_string_equal(c.store.endpoints, "");
    assert_string_equal(c.store.prefix, "mcdc");
    assert_int_equal(c.store.lease_ttl_s, 5);
    assert_string_equal(c.store.instance_id, "");
    assert_string_equal(c.store.advertise, "");
    assert_string_equal(c.source.etcd.endpoints, "127.0.0.1:2379");
    assert_string_equal(c.source.etcd.root_path, "by-dev");
    assert_string_equal(c.source.mq.type, "kafka");
    mq_config kafka = mcdc_config_mq(&c, NULL);
    assert_string_equal(kafka.type, "kafka");
    assert_string_equal(mq_config_get(&kafka, "address"), "127.0.0.1:9092");
    assert_string_equal(mq_config_get(&kafka, "security_protocol"), "PLAINTEXT");
    assert_string_equal(mq_config_get(&kafka, "prefetch_kbytes"), "8192");
    mq_config pulsar = mcdc_config_mq(&c, "pulsar");
    assert_string_equal(mq_config_get(&pulsar, "address"), "pulsar://127.0.0.1:6650");
    assert_string_equal(mq_config_get(&pulsar, "tenant"), "public");
    assert_int_equal(c.source.dml_channels, 16);
    assert_int_equal(c.apply.batch_rows, 5000);
    assert_int_equal(c.apply.batch_bytes, 0); /* a task's share */
    assert_int_equal(c.apply.inflight_calls, 4);
    assert_int_equal(c.apply.inflight_bytes, 0);
    assert_int_equal(c.apply.retry_max_ms, 30000);
    assert_string_equal(c.rbac.passwords_file, "");
    assert_string_equal(c.source.milvus.address, "");
    assert_string_equal(c.source.milvus.username, "");
    assert_string_equal(c.source.milvus.password, "");
    assert_false(c.source.milvus.tls);
    assert_int_equal(c.snapshot.page_rows, 8192);
    assert_int_equal(c.snapshot.page_bytes, 16777216);
    assert_int_equal(c.snapshot.pages_in_flight, 4);
    assert_int_equal(c.snapshot.readers, 2);
    assert_true(c.snapshot.resync_on_bulk_insert);
    assert_int_equal(c.snapshot.progress_log_s, 10);
    mcdc_config_free(&c);
    mcdc_err err = {0};
    const char *text = "rbac:\n  passwords_file: /etc/mcdc/passwords\n";
    assert_int_equal(mcdc_config_parse("mcdc.yaml", text, strlen(text), &c, &err), 0);
    assert_string_equal(c.rbac.passwords_file, "/etc/mcdc/passwords");
    mcdc_config_free(&c);
}

static void parse_ok(const char *text, mcdc_config *c) {
    mcdc_err err = {0};
    if (mcdc_config_parse("mcdc.yaml", text, strlen(text), c, &err)) fail_msg("refused: %s\n%s", err.msg, text);
}

static void test_empty_file_is_all_defaults(void **state) {
    (void)state;
    mcdc_config c;
    parse_ok("", &c);
    assert_int_equal(c.listen_port, 8444);
    /* channel_prefix follows root_path unless given. */
    assert_string_equal(c.source.channel_prefix, "by-dev");
    mcdc_config_free(&c);
    parse_ok("# only a comment\n", &c);
    mcdc_config_free(&c);
    parse_ok("source:\n  etcd:\n    root_path: prod\nstore:\napi_token: t\nlisten: \":9000\"\n"
             "api_allowed_hosts: [\"*\"]\n",
             &c);
    assert_string_equal(c.source.channel_prefix, "prod");
    assert_string_equal(c.store.path, "mcdc.db");
    assert_string_equal(c.api_token, "t");
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    mcdc_config_free(&c);
}

static void test_full_file(void **state) {
    (void)state;
    const char *text =
        "listen: 0.0.0.0:18444\n"
        "api_token: \"t0ken\"\n"
        "max_body_bytes: 2097152\n"
        "api_allowed_hosts: [mcdc.example.com, \"mcdc.example.com:443\", \"[fd00::1]:8444\"]\n"
        "api_tls_cert_file: /etc/mcdc/api.crt\n"
        "api_tls_key_file: /etc/mcdc/api.key\n"
        "api_max_connections: 100\n"
        "api_max_connections_per_client: 8\n"
        "api_header_timeout_ms: 2000\n"
        "log_level: debug\n"
        "store: {type: sqlite, path: /var/lib/mcdc/mcdc.db}\n"
        "source:\n"
        "  etcd:\n"
        "    endpoints: [http://10.0.0.1:2379, \"10.0.0.2:2379\"]\n"
        "    root_path: prod\n"
        "    username: root\n"
        "    password: pw\n"
        "  mq:\n"
        "    type: kafka\n"
        "    kafka:\n"
        "      address: k1:9092,k2:9092\n"
        "      security_protocol: sasl_ssl\n"
        "      sasl_mechanism: scram-sha-512\n"
        "      sasl_username: u\n"
        "      sasl_password: p\n"
        "      ssl_ca_location: /etc/ca.pem\n"
        "      prefetch_kbytes: 4096\n"
        "  channel_prefix: prod-chan\n"
        "  dml_channels: 4\n"
        "  milvus:\n"
        "    address: \"[fd00::2]:19530\"\n"
        "    username: root\n"
        "    password: Milvus\n"
        "    tls: true\n"
        "snapshot:\n"
        "  page_rows: 16384\n"
        "  page_bytes: 1048576\n"
        "  pages_in_flight: 64\n"
        "  readers: 16\n"
        "  on_bulk_insert: report\n"
        "  progress_log_s: 3600\n"
        "apply:\n"
        "  batch_rows: 100\n"
        "  batch_bytes: 65536\n"
        "  inflight_calls: 1\n"
        "  inflight_bytes: 2097152\n"
        "  retry_max_ms: 1000\n";
    mcdc_config c;
    parse_ok(text, &c);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 18444);
    assert_string_equal(c.api_token, "t0ken");
    assert_int_equal(c.max_body_bytes, 2097152);
    assert_int_equal(c.n_api_allowed_hosts, 3);
    assert_string_equal(c.api_allowed_hosts[0], "mcdc.example.com");
    assert_string_equal(c.api_allowed_hosts[1], "mcdc.example.com:443");
    assert_string_equal(c.api_allowed_hosts[2], "[fd00::1]:8444");
    assert_string_equal(c.api_tls_cert_file, "/etc/mcdc/api.crt");
    assert_string_equal(c.api_tls_key_file, "/etc/mcdc/api.key");
    assert_int_equal(c.api_max_connections, 100);
    assert_int_equal(c.api_max_connections_per_client, 8);
    assert_int_equal(c.api_header_timeout_ms, 2000);
    http_config hc = mcdc_config_http(&c);
    assert_string_equal(hc.address, "0.0.0.0");
    assert_int_equal(hc.port, 18444);
    assert_int_equal(hc.n_allowed_hosts, 3);
    assert_string_equal(hc.allowed_hosts[2], "[fd00::1]:8444");
    assert_string_equal(hc.tls_key_file, "/etc/mcdc/api.key");
    assert_int_equal(hc.max_connections, 100);
    assert_int_equal(hc.max_connections_per_client, 8);
    assert_int_equal(hc.header_timeout_ms, 2000);
    assert_int_equal(c.log_level, MCDC_LOG_DEBUG);
    assert_string_equal(c.store.path, "/var/lib/mcdc/mcdc.db");
    assert_string_equal(c.source.etcd.endpoints, "10.0.0.1:2379,10.0.0.2:2379");
    assert_string_equal(c.source.etcd.root_path, "prod");
    assert_string_equal(c.source.etcd.username, "root");
    assert_string_equal(c.source.etcd.password, "pw");
    mq_config kafka = mcdc_config_mq(&c, NULL);
    assert_string_equal(mq_config_get(&kafka, "address"), "k1:9092,k2:9092");
    /* Choices in the driver's spelling. */
    assert_string_equal(mq_config_get(&kafka, "security_protocol"), "SASL_SSL");
    assert_string_equal(mq_config_get(&kafka, "sasl_mechanism"), "SCRAM-SHA-512");
    assert_string_equal(mq_config_get(&kafka, "sasl_username"), "u");
    assert_string_equal(mq_config_get(&kafka, "sasl_password"), "p");
    assert_string_equal(mq_config_get(&kafka, "ssl_ca_location"), "/etc/ca.pem");
    assert_string_equal(mq_config_get(&kafka, "prefetch_kbytes"), "4096");
    assert_string_equal(c.source.channel_prefix, "prod-chan");
    assert_int_equal(c.source.dml_channels, 4);
    assert_int_equal(c.apply.batch_rows, 100);
    assert_int_equal(c.apply.batch_bytes, 65536);
    assert_int_equal(c.apply.inflight_calls, 1);
    assert_int_equal(c.apply.inflight_bytes, 2097152);
    assert_int_equal(c.apply.retry_max_ms, 1000);
    assert_string_equal(c.source.milvus.address, "[fd00::2]:19530");
    assert_string_equal(c.source.milvus.username, "root");
    assert_string_equal(c.source.milvus.password, "Milvus");
    assert_true(c.source.milvus.tls);
    assert_int_equal(c.snapshot.page_rows, 16384);
    assert_int_equal(c.snapshot.page_bytes, 1048576);
    assert_int_equal(c.snapshot.pages_in_flight, 64);
    assert_int_equal(c.snapshot.readers, 16);
    assert_false(c.snapshot.resync_on_bulk_insert);
    assert_int_equal(c.snapshot.progress_log_s, 3600);
    mcdc_config_free(&c);
}

/* source.milvus and snapshot: what each key takes, and the other ends of
 * the ranges. */
static void test_source_milvus_and_snapshot(void **state) {
    (void)state;
    mcdc_config c;
    parse_ok("source:\n  milvus:\n    address: localhost:19530\n    tls: false\n"
             "snapshot:\n  page_rows: 1\n  page_bytes: 268435456\n  pages_in_flight: 1\n  readers: 1\n"
             "  on_bulk_insert: resync\n  progress_log_s: 1\n",
             &c);
    assert_string_equal(c.source.milvus.address, "localhost:19530");
    assert_string_equal(c.source.milvus.username, "");
    assert_false(c.source.milvus.tls);
    assert_int_equal(c.snapshot.page_rows, 1);
    assert_int_equal(c.snapshot.page_bytes, 268435456);
    assert_int_equal(c.snapshot.pages_in_flight, 1);
    assert_int_equal(c.snapshot.readers, 1);
    assert_true(c.snapshot.resync_on_bulk_insert);
    assert_int_equal(c.snapshot.progress_log_s, 1);
    mcdc_config_free(&c);
    /* "" is no source proxy; null keeps the defaults. */
    parse_ok("source:\n  milvus:\n    address: \"\"\n    tls: ~\nsnapshot:\n  readers:\n", &c);
    assert_string_equal(c.source.milvus.address, "");
    assert_false(c.source.milvus.tls);
    assert_int_equal(c.snapshot.readers, 2);
    mcdc_config_free(&c);
    parse_ok("source:\n  milvus:\nsnapshot:\n", &c);
    assert_string_equal(c.source.milvus.address, "");
    assert_int_equal(c.snapshot.page_rows, 8192);
    mcdc_config_free(&c);
}

/* The file shipped at the repository root must load as it is. */
/* Both sections are kept; the type picks which one mcdc reads. */
static void test_mq_sections(void **state) {
    (void)state;
    mcdc_config c;
    parse_ok("source:\n  mq:\n    kafka: {address: \"k:1\"}\n    pulsar:\n      address: pulsar+ssl://p:6651\n"
             "      token: jwt\n      tls_verify_hostname: false\n    type: pulsar\n",
             &c);
    mq_config mq = mcdc_config_mq(&c, NULL);
    assert_string_equal(mq.type, "pulsar");
    assert_string_equal(mq_config_get(&mq, "address"), "pulsar+ssl://p:6651");
    assert_string_equal(mq_config_get(&mq, "token"), "jwt");
    assert_string_equal(mq_config_get(&mq, "tls_verify_hostname"), "false");
    assert_string_equal(mq_config_get(&mq, "namespace"), "default");
    mq_config k = mcdc_config_mq(&c, "kafka");
    assert_string_equal(mq_config_get(&k, "address"), "k:1");
    mcdc_config_free(&c);
}

static void test_example_file_loads(void **state) {
    (void)state;
    const char *fixtures = getenv("MCDC_FIXTURES");
    if (!fixtures) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/../../mcdc.example.yaml", fixtures);
    mcdc_config c;
    mcdc_err err = {0};
    if (mcdc_config_load(path, &c, &err)) fail_msg("%s", err.msg);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8444);
    assert_string_equal(c.source.etcd.endpoints, "127.0.0.1:2379");
    assert_string_equal(c.source.etcd.root_path, "by-dev");
    mq_config mq = mcdc_config_mq(&c, NULL);
    assert_string_equal(mq_config_get(&mq, "address"), "127.0.0.1:9092");
    assert_string_equal(c.source.channel_prefix, "by-dev");
    assert_string_equal(c.source.milvus.address, "");
    assert_int_equal(c.snapshot.page_rows, 8192);
    assert_true(c.snapshot.resync_on_bulk_insert);
    mcdc_config_free(&c);
}

static void expect_error(const char *text, const char *want) {
    mcdc_config c;
    mcdc_err err = {0};
    if (mcdc_config_parse("mcdc.yaml", text, strlen(text), &c, &err) == 0)
        fail_msg("accepted, want '%s':\n%s", want, text);
    if (err.code != MCDC_EINVAL) fail_msg("code %d for:\n%s", err.code, text);
    if (strncmp(err.msg, want, strlen(want)) != 0) fail_msg("message\n  '%s'\ndoes not start with\n  '%s'", err.msg, want);
    if (strstr(err.msg, "s3cret")) fail_msg("message '%s' shows a secret", err.msg);
    assert_null(c.listen_host);
}

/* store: {type: etcd}: every key, endpoints as one string or a list, the
 * advertise URL from listen unless listen is every interface or any port,
 * and the mistakes named by key and line. */
static void test_etcd_store(void **state) {
    (void)state;
    mcdc_config c;
    parse_ok("store:\n  type: etcd\n  endpoints: \"e1:2379, http://e2:2379\"\n  prefix: mcdc/prod\n"
             "  username: u\n  password: pw\n  lease_ttl_s: 3\n  instance_id: mcdc-a\n"
             "  advertise: \"https://10.0.0.5:8444\"\n",
             &c);
    assert_string_equal(c.store.type, "etcd");
    assert_string_equal(c.store.endpoints, "e1:2379,e2:2379");
    assert_string_equal(c.store.prefix, "mcdc/prod");
    assert_string_equal(c.store.username, "u");
    assert_string_equal(c.store.password, "pw");
    assert_int_equal(c.store.lease_ttl_s, 3);
    assert_string_equal(c.store.instance_id, "mcdc-a");
    assert_string_equal(c.store.advertise, "https://10.0.0.5:8444");
    mcdc_config_free(&c);

    /* advertise from listen, wherever listen stands in the file. */
    parse_ok("store: {type: etcd, endpoints: [e1:2379, e2:2379]}\nlisten: 10.0.0.7:9000\napi_token: t\n", &c);
    assert_string_equal(c.store.endpoints, "e1:2379,e2:2379");
    assert_string_equal(c.store.advertise, "http://10.0.0.7:9000");
    mcdc_config_free(&c);
    parse_ok("store: {type: etcd, endpoints: e:2379}\n", &c);
    assert_string_equal(c.store.advertise, "http://127.0.0.1:8444");
    mcdc_config_free(&c);
    parse_ok("store: {type: etcd, endpoints: e:2379, advertise: \"http://mcdc-a:8444\"}\nlisten: \":8444\"\n"
             "api_token: t\napi_allowed_hosts: [mcdc-a]\n",
             &c);
    assert_string_equal(c.store.advertise, "http://mcdc-a:8444");
    mcdc_config_free(&c);
    /* sqlite keeps its path and needs none of this. */
    parse_ok("store: {type: sqlite, path: x.db}\nlisten: \":8444\"\napi_token: t\napi_allowed_hosts: [h]\n", &c);
    assert_string_equal(c.store.advertise, "");
    mcdc_config_free(&c);

    expect_error("store:\n  type: etcd\n", "mcdc.yaml:2: store.endpoints: missing; store.type etcd needs");
    expect_error("store: {type: etcd, endpoints: e:2379}\nlisten: \":8444\"\napi_token: t\n",
                 "mcdc.yaml: store.advertise: missing; listen (0.0.0.0:8444)");
    expect_error("store: {type: etcd, endpoints: e:2379}\nlisten: 127.0.0.1:0\n", "mcdc.yaml: store.advertise: missing");
    expect_error("store:\n  type: etcd\n  endpoints: e1:2379,e2\n", "mcdc.yaml:3: store.endpoints: want host:port");
    expect_error("store:\n  type: etcd\n  endpoints: [\"https://e:2379\"]\n",
                 "mcdc.yaml:3: store.endpoints: TLS to etcd is not supported yet");
    expect_error("store:\n  type: etcd\n  endpoints: e:2379\n  path: x.db\n",
                 "mcdc.yaml:4: store.path: is for store.type sqlite");
    expect_error("store:\n  endpoints: e:2379\n", "mcdc.yaml:2: store.endpoints: is for store.type etcd");
    expect_error("store:\n  type: etcd\n  endpoints: e:2379\n  username: u\n",
                 "mcdc.yaml:2: store.password: missing; username and password go together");
    expect_error("store:\n  type: etcd\n  endpoints: e:2379\n  lease_ttl_s: 0\n",
                 "mcdc.yaml:4: store.lease_ttl_s: want an integer from 1 to 600");
    expect_error("store:\n  type: etcd\n  endpoints: e:2379\n  advertise: 10.0.0.5:8444\n",
                 "mcdc.yaml:4: store.advertise: want the URL");
    expect_error("store:\n  type: etcd\n  endpoints: e:2379\n  instance_id: \"\"\n",
                 "mcdc.yaml:4: store.instance_id: want a non-empty string");
    expect_error("store:\n  type: etcd\n  endpoints: e:2379\n  prefx: p\n",
                 "mcdc.yaml:4: store: unknown key 'prefx' (did you mean 'prefix'?)");
}

static void test_errors_point_at_line_and_key(void **state) {
    (void)state;
    expect_error("log_level: info\nlistn: 127.0.0.1:1\n", "mcdc.yaml:2: unknown key 'listn' (did you mean 'listen'?)");
    expect_error("frobnicate: 1\n", "mcdc.yaml:1: unknown key 'frobnicate' (known keys: listen, api_token,");
    expect_error("source:\n  etcd:\n    endpoint: [a:1]\n",
                 "mcdc.yaml:3: source.etcd: unknown key 'endpoint' (did you mean 'endpoints'?)");
    expect_error("source:\n  mq:\n    kafka:\n      adress: k:1\n",
                 "mcdc.yaml:4: source.mq.kafka: unknown key 'adress' (did you mean 'address'?)");
    expect_error("\n\n\nsource:\n  etcd:\n    endpoints: 127.0.0.1:2379\n",
                 "mcdc.yaml:6: source.etcd.endpoints: want a list of host:port");
    expect_error("source:\n  etcd:\n    endpoints:\n      - a:1\n      - nope\n",
                 "mcdc.yaml:5: source.etcd.endpoints: want a list of host:port");
    expect_error("source:\n  etcd:\n    endpoints: []\n", "mcdc.yaml:3: source.etcd.endpoints: want a list");
    expect_error("source:\n  etcd:\n    endpoints: [\"https://e:2379\"]\n",
                 "mcdc.yaml:3: source.etcd.endpoints: TLS to etcd is not supported yet");
    expect_error("source:\n  etcd:\n    root_path: \"\"\n", "mcdc.yaml:3: source.etcd.root_path: want a non-empty string");
    expect_error("source:\n  etcd:\n    username: root\n",
                 "mcdc.yaml:3: source.etcd.password: missing; username and password go together");
    expect_error("source:\n  etcd:\n    password: [s3cret]\n", "mcdc.yaml:3: source.etcd.password: want a string");
    expect_error("listen: localhost\n", "mcdc.yaml:1: listen: want host:port");
    expect_error("listen: 127.0.0.1:70000\n", "mcdc.yaml:1: listen: want host:port");
    expect_error("listen: [a, b]\n", "mcdc.yaml:1: listen: want host:port");
    expect_error("max_body_bytes: 1MB\n", "mcdc.yaml:1: max_body_bytes: want an integer from 1024 to 1073741824");
    expect_error("max_body_bytes: 10\n", "mcdc.yaml:1: max_body_bytes: want an integer from 1024");
    expect_error("log_level: verbose\n", "mcdc.yaml:1: log_level: want debug, info, warn or error");
    expect_error("store:\n  type: mysql\n", "mcdc.yaml:2: store.type: want sqlite (one mcdc serve) or etcd");
    expect_error("store: [a]\n", "mcdc.yaml:1: store: want a mapping of keys");
    expect_error("store:\n  path: \"\"\n", "mcdc.yaml:2: store.path: want a non-empty string");
    expect_error("source:\n  mq:\n    type: rabbit\n", "mcdc.yaml:3: source.mq.type: want kafka or pulsar");
    expect_error("source:\n  mq:\n    pulsar: {address: 127.0.0.1:6650}\n", "mcdc.yaml:3: source.mq.pulsar.address: want pulsar://");
    expect_error("source:\n  mq:\n    type: rocksmq\n", "mcdc.yaml:3: source.mq.type: want kafka");
    expect_error("source:\n  mq:\n    kafka:\n      address: \"\"\n",
                 "mcdc.yaml:4: source.mq.kafka.address: want host:port[,host:port...]");
    expect_error("source:\n  mq:\n    kafka:\n      address: k1:9092,k2\n",
                 "mcdc.yaml:4: source.mq.kafka.address: want host:port");
    expect_error("source:\n  mq:\n    kafka:\n      security_protocol: TLS\n",
                 "mcdc.yaml:4: source.mq.kafka.security_protocol: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
    expect_error("source:\n  mq:\n    kafka:\n      security_protocol: SASL_SSL\n",
                 "mcdc.yaml:4: source.mq.kafka.sasl_mechanism: missing; SASL_SSL needs one");
    expect_error("source:\n  mq:\n    kafka:\n      sasl_password: s3cret\n",
                 "mcdc.yaml:4: source.mq.kafka.security_protocol: SASL settings are given but the protocol is PLAINTEXT");
    expect_error("source:\n  dml_channels: 0\n", "mcdc.yaml:2: source.dml_channels: want an integer from 1 to 1024");
    expect_error("source:\n  dml_channels: sixteen\n", "mcdc.yaml:2: source.dml_channels: want an integer");
    expect_error("apply:\n  batch_rows: -5\n", "mcdc.yaml:2: apply.batch_rows: want an integer from 1 to 1000000");
    expect_error("apply:\n  inflight_calls: 0\n", "mcdc.yaml:2: apply.inflight_calls: want an integer from 1 to 64");
    expect_error("source:\n  mq:\n    kafka:\n      prefetch_kbytes: 10\n",
                 "mcdc.yaml:4: source.mq.kafka.prefetch_kbytes: want an integer from 1024 to 1048576");
    /* The driver's own keys: unknown ones with a suggestion, values checked by the driver. */
    expect_error("source:\n  mq:\n    pulsar:\n      tennant: t\n",
                 "mcdc.yaml:4: source.mq.pulsar: unknown key 'tennant' (did you mean 'tenant'?)");
    expect_error("source:\n  mq:\n    pulsar:\n      namespace: a/b\n",
                 "mcdc.yaml:4: source.mq.pulsar.namespace: want a single name without '/'");
    expect_error("source:\n  mq:\n    pulsar:\n      token: [s3cret]\n", "mcdc.yaml:4: source.mq.pulsar.token: want a string");
    expect_error("source:\n  mq:\n    kafka:\n      address: k:1\n      address: k:2\n",
                 "mcdc.yaml:5: source.mq.kafka.address: given twice (first on line 4)");
    expect_error("source:\n  mq:\n    kafkaa: {}\n", "mcdc.yaml:3: source.mq: unknown key 'kafkaa' (did you mean 'kafka'?)");
    expect_error("apply:\n  batch_bytes: 1e6\n", "mcdc.yaml:2: apply.batch_bytes: want an integer");
    expect_error("apply:\n  retry_max_ms: {a: 1}\n", "mcdc.yaml:2: apply.retry_max_ms: want an integer");
    expect_error("listen: 127.0.0.1:1\nlog_level: info\nlisten: 127.0.0.1:2\n",
                 "mcdc.yaml:3: listen: given twice (first on line 1)");
    expect_error("- listen\n", "mcdc.yaml:1: want a mapping of keys");
    expect_error("listen: [\n", "mcdc.yaml:2: YAML syntax: did not find expected node content");
    expect_error("source:\n  etcd:\n   root_path: a\n  bad indentation\n", "mcdc.yaml:4: YAML syntax: ");
    expect_error("? [a]\n: 1\n", "mcdc.yaml:1: want plain key names");
    /* source.milvus and snapshot. */
    expect_error("source:\n  milvus:\n    address: milvus\n",
                 "mcdc.yaml:3: source.milvus.address: want host:port, e.g. 127.0.0.1:19530, or \"\" for none");
    expect_error("source:\n  milvus:\n    address: \"m:0\"\n", "mcdc.yaml:3: source.milvus.address: want host:port");
    expect_error("source:\n  milvus:\n    address: \"m:19530,n:19530\"\n",
                 "mcdc.yaml:3: source.milvus.address: want host:port");
    expect_error("source:\n  milvus:\n    address: [m:1]\n", "mcdc.yaml:3: source.milvus.address: want a string");
    expect_error("source:\n  milvus:\n    adress: m:1\n",
                 "mcdc.yaml:3: source.milvus: unknown key 'adress' (did you mean 'address'?)");
    expect_error("source:\n  milvus:\n    address: m:1\n    username: root\n",
                 "mcdc.yaml:3: source.milvus.password: missing; username and password go together");
    expect_error("source:\n  milvus:\n    password: s3cret\n",
                 "mcdc.yaml:3: source.milvus.username: missing; username and password go together");
    expect_error("source:\n  milvus:\n    username: u\n    password: [s3cret]\n",
                 "mcdc.yaml:4: source.milvus.password: want a string");
    expect_error("source:\n  milvus:\n    tls: yes\n", "mcdc.yaml:3: source.milvus.tls: want true or false");
    expect_error("source:\n  milvus:\n    tls: [true]\n", "mcdc.yaml:3: source.milvus.tls: want true or false");
    expect_error("snapshot:\n  page_rows: 0\n", "mcdc.yaml:2: snapshot.page_rows: want an integer from 1 to 16384");
    expect_error("snapshot:\n  page_rows: 16385\n", "mcdc.yaml:2: snapshot.page_rows: want an integer from 1 to 16384");
    expect_error("snapshot:\n  page_bytes: 1048575\n",
                 "mcdc.yaml:2: snapshot.page_bytes: want an integer from 1048576 to 268435456");
    expect_error("snapshot:\n  page_bytes: 268435457\n", "mcdc.yaml:2: snapshot.page_bytes: want an integer from 1048576");
    expect_error("snapshot:\n  pages_in_flight: 65\n", "mcdc.yaml:2: snapshot.pages_in_flight: want an integer from 1 to 64");
    expect_error("snapshot:\n  readers: 0\n", "mcdc.yaml:2: snapshot.readers: want an integer from 1 to 16");
    expect_error("snapshot:\n  readers: 17\n", "mcdc.yaml:2: snapshot.readers: want an integer from 1 to 16");
    expect_error("snapshot:\n  on_bulk_insert: ignore\n", "mcdc.yaml:2: snapshot.on_bulk_insert: want resync or report");
    expect_error("snapshot:\n  on_bulk_insert: [resync]\n", "mcdc.yaml:2: snapshot.on_bulk_insert: want resync or report");
    expect_error("snapshot:\n  progress_log_s: 0\n", "mcdc.yaml:2: snapshot.progress_log_s: want an integer from 1 to 3600");
    expect_error("snapshot:\n  progress_log_s: 3601\n", "mcdc.yaml:2: snapshot.progress_log_s: want an integer from 1 to 3600");
    expect_error("snapshot:\n  page_row: 1\n", "mcdc.yaml:2: snapshot: unknown key 'page_row' (did you mean 'page_rows'?)");
    expect_error("snapshot: 5\n", "mcdc.yaml:1: snapshot: want a mapping of keys");
}

/* The API listener's rules, refused at load with the keys that fix them. */
static void test_api_listener_rules(void **state) {
    (void)state;
    /* Beyond loopback without a token. */
    expect_error("listen: 0.0.0.0:8444\napi_allowed_hosts: [\"*\"]\n",
                 "mcdc.yaml: listen 0.0.0.0 is beyond loopback and api_token is empty");
    expect_error("listen: \":8444\"\n", "mcdc.yaml: listen 0.0.0.0 is beyond loopback and api_token is empty");
    expect_error("listen: 10.1.2.3:8444\napi_token: \"\"\n",
                 "mcdc.yaml: listen 10.1.2.3 is beyond loopback and api_token is empty: anyone who reaches the port "
                 "could create and delete tasks; set api_token");
    /* Every interface without a list of names for Host. */
    expect_error("listen: 0.0.0.0:8444\napi_token: s3cret\n",
                 "mcdc.yaml: listen 0.0.0.0 serves every interface, so no single name can be checked against a "
                 "request's Host header: set api_allowed_hosts");
    expect_error("listen: \"[::]:8444\"\napi_token: s3cret\n", "mcdc.yaml: listen :: serves every interface");
    /* Cert and key go together. */
    expect_error("api_tls_cert_file: /etc/a.crt\n",
                 "mcdc.yaml: api_tls_cert_file and api_tls_key_file go together: api_tls_cert_file is set, "
                 "api_tls_key_file is not");
    expect_error("api_tls_key_file: /etc/a.key\n",
                 "mcdc.yaml: api_tls_cert_file and api_tls_key_file go together: api_tls_key_file is set");
    /* Entries of the list. */
    expect_error("api_allowed_hosts: mcdc.example.com\n", "mcdc.yaml:1: api_allowed_hosts: want a list of host names");
    expect_error("api_allowed_hosts: [\"a b\"]\n", "mcdc.yaml:1: api_allowed_hosts: 'a b': want a host name");
    expect_error("api_allowed_hosts: [\"\"]\n", "mcdc.yaml:1: api_allowed_hosts: '': want a host name");
    expect_error("api_allowed_hosts: [\"h:99999\"]\n", "mcdc.yaml:1: api_allowed_hosts: 'h:99999': want a host name");
    expect_error("api_allowed_hosts: [[a]]\n", "mcdc.yaml:1: api_allowed_hosts: want a list of host names");
    expect_error("api_max_connections: 0\n", "mcdc.yaml:1: api_max_connections: want an integer from 1 to 10000");
    expect_error("api_max_connections_per_client: 0\n",
                 "mcdc.yaml:1: api_max_connections_per_client: want an integer from 1 to 10000");
    expect_error("api_header_timeout_ms: 10\n", "mcdc.yaml:1: api_header_timeout_ms: want an integer from 100 to 600000");

    /* What is fine: loopback without a token (any loopback address, and
     * localhost), beyond it with one, every interface with both. */
    mcdc_config c;
    const char *ok[] = {"listen: 127.0.0.2:8444\n", "listen: \"[::1]:8444\"\n", "listen: localhost:8444\n",
                        "listen: 10.1.2.3:8444\napi_token: s3cret\n",
                        "listen: 0.0.0.0:8444\napi_token: s3cret\napi_allowed_hosts: [mcdc.example.com]\n",
                        "api_tls_cert_file: a.crt\napi_tls_key_file: a.key\n"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        parse_ok(ok[i], &c);
        mcdc_config_free(&c);
    }
}

static void test_missing_and_real_files(void **state) {
    (void)state;
    mcdc_config c;
    mcdc_err err = {0};
    assert_int_equal(mcdc_config_load("/nonexistent/mcdc.yaml", &c, &err), -1);
    assert_int_equal(err.code, MCDC_EIO);
    assert_string_equal(err.msg, "/nonexistent/mcdc.yaml: cannot open the config file: No such file or directory");

    char path[] = "/tmp/mcdc-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "listen: 127.0.0.1:9\nsource:\n  etcd:\n    endpoints: nope\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    assert_int_equal(mcdc_config_load(path, &c, &err), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:4: source.etcd.endpoints: want a list of host:port", path);
    assert_memory_equal(err.msg, want, strlen(want));

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    const char good[] = "listen: 127.0.0.1:9\n";
    assert_int_equal(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
    close(fd);
    assert_int_equal(mcdc_config_load(path, &c, &err), 0);
    assert_int_equal(c.listen_port, 9);
    mcdc_config_free(&c);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_file_is_all_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_mq_sections),
        cmocka_unit_test(test_source_milvus_and_snapshot),
        cmocka_unit_test(test_example_file_loads),
        cmocka_unit_test(test_etcd_store),
        cmocka_unit_test(test_errors_point_at_line_and_key),
        cmocka_unit_test(test_api_listener_rules),
        cmocka_unit_test(test_missing_and_real_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
