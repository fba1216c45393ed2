/* fuzz_config.c — libFuzzer harness for the YAML configuration: arbitrary
 * text → mcdc_config_parse() (libyaml's loader, then our walk over the known
 * keys), as `mcdc serve -c` reads mcdc.yaml. Seeds: mcdc.example.yaml and
 * variants in fuzz/corpus/config/.
 *
 * Properties beyond the sanitizers: a refusal is an MCDC_EINVAL error naming
 * the file; a config that parses holds every string (none NULL, as config.h
 * promises) and values inside the documented ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mcdc_config cfg;
    mcdc_err err = {0};
    if (mcdc_config_parse("fuzz.yaml", (const char *)data, size, &cfg, &err) != 0) {
        CHECK(err.code == MCDC_EINVAL && strncmp(err.msg, "fuzz.yaml:", 10) == 0);
        return 0;
    }
    mq_config mq = mcdc_config_mq(&cfg, NULL);
    const char *strings[] = {cfg.listen_host,          cfg.api_token,          cfg.store.type,
                             cfg.store.path,           cfg.source.etcd.endpoints, cfg.source.etcd.root_path,
                             cfg.source.etcd.username, cfg.source.etcd.password, cfg.source.mq.type,
                             mq_config_get(&mq, "address"), cfg.source.channel_prefix};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) CHECK(strings[i] != NULL);
    CHECK(cfg.listen_host[0] && cfg.store.path[0] && cfg.source.etcd.endpoints[0] && cfg.source.etcd.root_path[0]);
    CHECK(cfg.source.channel_prefix[0]);
    CHECK(cfg.max_body_bytes >= 1024 && cfg.max_body_bytes <= (1u << 30));
    CHECK(cfg.source.dml_channels >= 1 && cfg.source.dml_channels <= 1024);
    CHECK(cfg.apply.batch_rows >= 1 && cfg.apply.batch_rows <= 1000000);
    /* 0: a task's share (pipeline/budget.h) */
    CHECK(cfg.apply.batch_bytes == 0 || (cfg.apply.batch_bytes >= 1024 && cfg.apply.batch_bytes <= (64u << 20)));
    CHECK(cfg.apply.inflight_bytes == 0 || (cfg.apply.inflight_bytes >= 1024 && cfg.apply.inflight_bytes <= (1u << 30)));
    CHECK(cfg.apply.retry_max_ms >= 10 && cfg.apply.retry_max_ms <= 3600000);
    CHECK(!cfg.source.etcd.username[0] == !cfg.source.etcd.password[0]);
    /* What the file says, the driver accepts. */
    CHECK(mq_settings_check(&mq, NULL, &err) == 0);
    mcdc_config_free(&cfg);
    return 0;
}
