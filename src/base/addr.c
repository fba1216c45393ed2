/* addr.c — see addr.h. */
#include "base/addr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool host_char(char ch) { return isalnum((unsigned char)ch) || ch == '.' || ch == '-' || ch == '_'; }
static bool v6_char(char ch) { return isxdigit((unsigned char)ch) || ch == ':' || ch == '.'; }

static int parse_port(const char *p, size_t n, unsigned flags, uint16_t *out, mcdc_err *err) {
    long lo = flags & MCDC_ADDR_PORT_ZERO ? 0 : 1;
    long v = 0;
    bool ok = n > 0 && n <= 5;
    for (size_t i = 0; ok && i < n; i++) {
        ok = isdigit((unsigned char)p[i]);
        v = v * 10 + (p[i] - '0');
    }
    if (!ok || v < lo || v > 65535) return mcdc_errf(err, MCDC_EINVAL, "want a port from %ld to 65535", lo);
    *out = (uint16_t)v;
    return 0;
}

int mcdc_addr_parse(const char *s, size_t len, unsigned flags, uint16_t default_port, mcdc_addr *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    const char *host = s, *rest;
    size_t hlen;
    if (len && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) return mcdc_errf(err, MCDC_EINVAL, "unclosed '[' in an IPv6 address");
        host = s + 1;
        hlen = (size_t)(close - host);
        if (hlen == 0) return mcdc_errf(err, MCDC_EINVAL, "want an IPv6 address in [brackets]");
        for (size_t i = 0; i < hlen; i++)
            if (!v6_char(host[i])) return mcdc_errf(err, MCDC_EINVAL, "want an IPv6 address in [brackets]");
        out->v6 = true;
        rest = close + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        hlen = colon ? (size_t)(colon - s) : len;
        if (colon && memchr(colon + 1, ':', len - hlen - 1))
            return mcdc_errf(err, MCDC_EINVAL, "want host:port (IPv6 addresses go in [brackets])");
        for (size_t i = 0; i < hlen; i++)
            if (!host_char(s[i])) return mcdc_errf(err, MCDC_EINVAL, "want a host name or IP address");
        if (hlen == 0 && !(flags & MCDC_ADDR_HOST_OPTIONAL))
            return mcdc_errf(err, MCDC_EINVAL, "want a host name or IP address");
        rest = s + hlen;
    }
    if (hlen >= sizeof out->host) return mcdc_errf(err, MCDC_EINVAL, "the host name is longer than 255 characters");
    memcpy(out->host, host, hlen);
    size_t rlen = len - (size_t)(rest - s);
    if (rlen == 0) {
        if (!(flags & MCDC_ADDR_PORT_OPTIONAL)) return mcdc_errf(err, MCDC_EINVAL, "want host:port (the port is missing)");
        out->port = default_port;
        return 0;
    }
    if (rest[0] != ':') return mcdc_errf(err, MCDC_EINVAL, "want host:port");
    return parse_port(rest + 1, rlen - 1, flags, &out->port, err);
}

int mcdc_addr_format(const mcdc_addr *a, char *out, size_t cap) {
    return snprintf(out, cap, a->v6 ? "[%s]:%u" : "%s:%u", a->host, (unsigned)a->port);
}

int mcdc_addr_list_check(const char *s, unsigned flags, mcdc_err *err) {
    size_t entries = 0;
    for (;;) {
        while (*s == ' ') s++;
        size_t n = strcspn(s, ",");
        mcdc_addr a;
        /* An empty entry (a trailing comma) is skipped, as librdkafka does. */
        if (n && mcdc_addr_parse(s, n, flags, 0, &a, err)) {
            mcdc_err_prefix(err, "'%.*s'", (int)n, s);
            return -1;
        }
        entries += n > 0;
        if (!s[n]) break;
        s += n + 1;
    }
    return entries ? 0 : mcdc_errf(err, MCDC_EINVAL, "want at least one host:port");
}
