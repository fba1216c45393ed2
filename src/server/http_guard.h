/* http_guard.h — who may talk to the API: the rules of http.h that depend
 * on nothing but text and addresses, kept apart from the server so that
 * each can be tested alone. Where the listen address sits (loopback, every
 * interface, elsewhere), which Host headers name this server, and which
 * Content-Type is JSON. http.c builds the replies. */
#ifndef MCDC_HTTP_GUARD_H
#define MCDC_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/error.h"

typedef enum http_addr_kind {
    HTTP_ADDR_LOOPBACK, /* 127.0.0.0/8, ::1, ::ffff:127.x */
    HTTP_ADDR_WILDCARD, /* 0.0.0.0, :: (every interface) */
    HTTP_ADDR_OTHER,
} http_addr_kind;

http_addr_kind http_addr_kind_of(const struct sockaddr *sa);

/* The same of a configured address, without asking DNS (a configuration
 * is checked the same wherever it is loaded): an IP address by its value,
 * "localhost" as loopback, any other name as beyond loopback. */
http_addr_kind http_addr_kind_of_text(const char *address);

/* The Host names a server accepts, built once at start. */
typedef struct http_hosts {
    bool any;               /* "*" was allowed */
    size_t n;
    char **names;           /* lower case, IPv6 without brackets */
    uint16_t *ports;        /* 0 = the entry named no port */
    uint16_t bound_port;    /* the port the server listens on */
} http_hosts;

/* One allowed_hosts entry: "*", "name", "name:port" or "[v6]:port".
 * MCDC_EINVAL saying what is wrong, without a prefix. */
int http_host_entry_check(const char *entry, mcdc_err *err);

/* The listen address as configured, the loopback names when `loopback`,
 * then the entries (each checked as above). */
int http_hosts_init(http_hosts *h, const char *listen_address, bool loopback, const char *const *allowed,
                    size_t n_allowed, uint16_t bound_port, mcdc_err *err);
void http_hosts_free(http_hosts *h);

typedef enum http_host_verdict {
    HTTP_HOST_OK,
    HTTP_HOST_MISSING,    /* no Host header, or not host[:port] */
    HTTP_HOST_UNKNOWN,    /* a name this server does not answer to */
    HTTP_HOST_WRONG_PORT, /* a known name with another port */
} http_host_verdict;

/* Whether a Host header names this server: its name is one of the names
 * (any letter case) and its port, when it has one, is that entry's port
 * or, for an entry without a port, the bound one. */
http_host_verdict http_hosts_check(const http_hosts *h, const char *host_header);

/* "application/json", any letter case, with or without parameters
 * ("; charset=utf-8"). NULL is not. */
bool http_is_json_type(const char *content_type);

/* Copies at most `max` characters of src for a message: printable ASCII
 * kept, anything else as '?', "..." when cut. dst holds max + 4. */
void http_printable(char *dst, size_t max, const char *src);

#endif
