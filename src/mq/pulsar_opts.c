/* pulsar_opts.c — the Pulsar driver's settings (source.mq.pulsar): the keys
 * it declares, their checks, and pulsar_opts, the form the connection code
 * reads them in. Defaults are those of the Milvus deployment's own Pulsar
 * client (tenant public, namespace default); docs/pulsar.md explains each. */
#include "pulsar_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/secret.h"
#include "mq/mq_driver.h"

/* pulsar://host:port[,host:port...] or pulsar+ssl://..., no path. */
static int check_service_url(const char *v, mcdc_err *err) {
    const char *hosts = strncmp(v, "pulsar://", 9) == 0       ? v + 9
                        : strncmp(v, "pulsar+ssl://", 13) == 0 ? v + 13
                                                               : NULL;
    if (!hosts) return mcdc_errf(err, MCDC_EINVAL, "want pulsar://host:port or pulsar+ssl://host:port");
    if (!hosts[0]) return mcdc_errf(err, MCDC_EINVAL, "want pulsar://host:port (no broker is named)");
    if (strchr(hosts, '/')) return mcdc_errf(err, MCDC_EINVAL, "want pulsar://host:port, no path");
    return mcdc_addr_list_check(hosts, MCDC_ADDR_PORT_OPTIONAL, err);
}

static int check_name(const char *v, mcdc_err *err) {
    if (!v[0] || strchr(v, '/')) return mcdc_errf(err, MCDC_EINVAL, "want a single name without '/'");
    return 0;
}

const mq_key pulsar_keys[PULSAR_N_KEYS] = {
    [P_ADDRESS] = {.name = "address", .kind = MQ_KEY_CHECKED, .def = "pulsar://127.0.0.1:6650",
          .help = "service URL", .check = check_service_url},
    [P_TENANT] = {.name = "tenant", .kind = MQ_KEY_CHECKED, .def = "public",
          .help = "pulsar.tenant of the source Milvus", .check = check_name},
    [P_NAMESPACE] = {.name = "namespace", .kind = MQ_KEY_CHECKED, .def = "default",
          .help = "pulsar.namespace of the source Milvus", .check = check_name},
    [P_TOKEN] = {.name = "token", .kind = MQ_KEY_SECRET, .def = "",
          .help = "JWT for token authentication; empty = none"},
    [P_TLS_CA] = {.name = "tls_ca", .kind = MQ_KEY_TEXT, .def = "",
          .help = "CA file for pulsar+ssl; empty = the system's"},
    [P_TLS_VERIFY_HOSTNAME] = {.name = "tls_verify_hostname", .kind = MQ_KEY_BOOL, .def = "true",
          .help = "check the broker's name in its certificate"},
    [P_OPERATION_TIMEOUT_MS] = {.name = "operation_timeout_ms", .kind = MQ_KEY_INT, .def = "10000",
          .help = "connect, lookup and subscribe, each attempt", .lo = 100, .hi = 600000},
};

int pulsar_opts_init(pulsar_opts *o, const mq_config *cfg, mcdc_err *err) {
    memset(o, 0, sizeof *o);
    const char *v[PULSAR_N_KEYS];
    if (mq_settings_read(&mq_pulsar_driver, cfg, v, err)) return -1;
    o->service_url = mcdc_xstrdup(v[P_ADDRESS]);
    o->tls = strncmp(v[P_ADDRESS], "pulsar+ssl://", 13) == 0;
    o->tenant = mcdc_xstrdup(v[P_TENANT]);
    o->ns = mcdc_xstrdup(v[P_NAMESPACE]);
    if (v[P_TOKEN][0]) o->token = mcdc_xstrdup(v[P_TOKEN]);
    if (v[P_TLS_CA][0]) o->tls_ca = mcdc_xstrdup(v[P_TLS_CA]);
    o->tls_verify_host = strcmp(v[P_TLS_VERIFY_HOSTNAME], "true") == 0;
    o->op_timeout_ms = (uint32_t)strtoul(v[P_OPERATION_TIMEOUT_MS], NULL, 10);
    return 0;
}

void pulsar_opts_free(pulsar_opts *o) {
    free(o->service_url);
    free(o->tls_ca);
    mcdc_secret_free(o->token);
    free(o->tenant);
    free(o->ns);
    memset(o, 0, sizeof *o);
}

void pulsar_topic_name(const pulsar_opts *o, const char *channel, char *out, size_t cap) {
    snprintf(out, cap, "persistent://%s/%s/%s", o->tenant, o->ns, channel);
}
