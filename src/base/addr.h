/* addr.h — the one parser of "host:port" in mcdc.
 *
 * Every address a person types goes through here: the HTTP listen address,
 * etcd endpoints, Kafka bootstrap servers, Pulsar brokers and the target
 * Milvus. One grammar, so that the same text means the same thing everywhere:
 *   host:port       host = letters, digits, '.', '-', '_'
 *   [v6]:port       an IPv6 address in brackets
 * and a port from 1 to 65535 (0 too with MCDC_ADDR_PORT_ZERO). Errors are
 * MCDC_EINVAL and say what was wrong ("want a port from 1 to 65535"), without
 * a prefix: the caller knows which key or flag held the text. */
#ifndef MCDC_ADDR_H
#define MCDC_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum {
    MCDC_ADDR_HOST_OPTIONAL = 1, /* ":8444" is every interface: host "" */
    MCDC_ADDR_PORT_OPTIONAL = 2, /* "host" alone takes the default port */
    MCDC_ADDR_PORT_ZERO = 4,     /* port 0 = any free port */
};

typedef struct mcdc_addr {
    char host[256];  /* without brackets */
    uint16_t port;
    bool v6;         /* was written in [brackets] */
} mcdc_addr;

/* Parses the first len bytes of s. default_port counts only with
 * MCDC_ADDR_PORT_OPTIONAL. */
int mcdc_addr_parse(const char *s, size_t len, unsigned flags, uint16_t default_port, mcdc_addr *out, mcdc_err *err);

/* "host:port" or "[v6]:port"; snprintf's return value. */
int mcdc_addr_format(const mcdc_addr *a, char *out, size_t cap);

/* A comma-separated list of addresses (spaces after commas allowed, empty
 * entries skipped), as librdkafka and Pulsar service URLs take it; each entry
 * as mcdc_addr_parse with these flags. At least one entry. */
int mcdc_addr_list_check(const char *s, unsigned flags, mcdc_err *err);

#endif
