/* http_guard.c — the text and address rules of http_guard.h. Host headers
 * and allowed_hosts entries are read by the one host:port parser
 * (base/addr.h), so that "[::1]:8444" means the same in a header as in the
 * configuration. */
#include "server/http_guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/addr.h"
#include "base/buf.h"

http_addr_kind http_addr_kind_of(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        if (a == INADDR_ANY) return HTTP_ADDR_WILDCARD;
        return (a >> 24) == 127 ? HTTP_ADDR_LOOPBACK : HTTP_ADDR_OTHER;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_UNSPECIFIED(a)) return HTTP_ADDR_WILDCARD;
        if (IN6_IS_ADDR_LOOPBACK(a)) return HTTP_ADDR_LOOPBACK;
        if (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127) return HTTP_ADDR_LOOPBACK;
    }
    return HTTP_ADDR_OTHER;
}

http_addr_kind http_addr_kind_of_text(const char *address) {
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, address, &v4.sin_addr) == 1) return http_addr_kind_of((struct sockaddr *)&v4);
    if (inet_pton(AF_INET6, address, &v6.sin6_addr) == 1) return http_addr_kind_of((struct sockaddr *)&v6);
    return strcasecmp(address, "localhost") == 0 ? HTTP_ADDR_LOOPBACK : HTTP_ADDR_OTHER;
}

/* With PORT_OPTIONAL and a default of 0, port 0 says "no port given". */
static int parse_host(const char *s, mcdc_addr *a, mcdc_err *err) {
    return mcdc_addr_parse(s, strlen(s), MCDC_ADDR_PORT_OPTIONAL, 0, a, err);
}

int http_host_entry_check(const char *entry, mcdc_err *err) {
    if (strcmp(entry, "*") == 0) return 0;
    mcdc_addr a;
    mcdc_err why;
    if (!entry[0] || parse_host(entry, &a, &why))
        return mcdc_errf(err, MCDC_EINVAL, "want a host name, name:port or [v6]:port (or \"*\" for any)%s%s",
                         entry[0] ? ": " : "", entry[0] ? why.msg : "");
    return 0;
}

static void add_name(http_hosts *h, const char *name, uint16_t port) {
    h->names = mcdc_xrealloc(h->names, (h->n + 1) * sizeof *h->names);
    h->ports = mcdc_xrealloc(h->ports, (h->n + 1) * sizeof *h->ports);
    char *lower = mcdc_xstrdup(name);
    for (char *p = lower; *p; p++) *p = (char)tolower((unsigned char)*p);
    h->names[h->n] = lower;
    h->ports[h->n++] = port;
}

int http_hosts_init(http_hosts *h, const char *listen_address, bool loopback, const char *const *allowed,
                    size_t n_allowed, uint16_t bound_port, mcdc_err *err) {
    memset(h, 0, sizeof *h);
    h->bound_port = bound_port;
    /* The listen address as written in the configuration: an IPv6 address
     * comes without brackets, as a Host header's does once parsed. */
    add_name(h, listen_address, 0);
    if (loopback) {
        add_name(h, "localhost", 0);
        add_name(h, "127.0.0.1", 0);
        add_name(h, "::1", 0);
    }
    for (size_t i = 0; i < n_allowed; i++) {
        if (strcmp(allowed[i], "*") == 0) {
            h->any = true;
            continue;
        }
        mcdc_addr a;
        if (http_host_entry_check(allowed[i], err) || parse_host(allowed[i], &a, err)) {
            http_hosts_free(h);
            return -1;
        }
        add_name(h, a.host, a.port);
    }
    return 0;
}

void http_hosts_free(http_hosts *h) {
    for (size_t i = 0; i < h->n; i++) free(h->names[i]);
    free(h->names);
    free(h->ports);
    memset(h, 0, sizeof *h);
}

http_host_verdict http_hosts_check(const http_hosts *h, const char *host_header) {
    if (h->any) return HTTP_HOST_OK;
    mcdc_addr a;
    if (!host_header || parse_host(host_header, &a, NULL)) return HTTP_HOST_MISSING;
    http_host_verdict v = HTTP_HOST_UNKNOWN;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(a.host, h->names[i]) != 0) continue;
        /* No port in Host means the default port of the scheme the client
         * used, which mcdc cannot know behind a proxy that ends TLS
         * ("name:443" listed, "Host: name" forwarded over plain HTTP): a
         * Host without a port matches any entry of its name. The name is
         * what a rebinding page cannot forge. */
        uint16_t want = h->ports[i] ? h->ports[i] : h->bound_port;
        if (!a.port || a.port == want) return HTTP_HOST_OK;
        v = HTTP_HOST_WRONG_PORT;
    }
    return v;
}

bool http_is_json_type(const char *ct) {
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    static const char JSON[] = "application/json";
    if (strncasecmp(ct, JSON, sizeof JSON - 1) != 0) return false;
    ct += sizeof JSON - 1;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == '\0' || *ct == ';';
}

void http_printable(char *dst, size_t max, const char *src) {
    size_t i = 0;
    for (; src[i] && i < max; i++) dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    if (src[i]) memcpy(dst + i, "...", 3), i += 3;
    dst[i] = '\0';
}
