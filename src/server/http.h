/* http.h — mcdc's HTTP API: milvus-cdc's `POST /cdc` task requests, plus
 * `GET /healthz`, `GET /metrics` (Prometheus text) and `GET /` (the status
 * page, status_page.h, with the last hour of lag that a sampler thread of
 * the server keeps, lag_history.h). docs/api.md describes every request and
 * reply, and every refusal below.
 *
 * Each connection gets its own thread (libmicrohttpd), because a create
 * request may wait for the target to answer. Bodies over max_body_bytes are
 * refused with 413 before they are read. With an api_token, every route but
 * /healthz wants `Authorization: Bearer <token>`. Request bodies are never
 * logged nor quoted in a reply: a create request carries the target's
 * password.
 *
 * Against a web page in a browser on the same host (cross-site requests,
 * DNS rebinding), every request but GET/HEAD /healthz must name this server
 * in its Host header (421 otherwise), and POST /cdc must be sent as
 * application/json (415 otherwise), which a page cannot do cross-site
 * without the browser asking first. Listening beyond loopback wants an
 * api_token; every interface wants allowed_hosts (http_config_check).
 *
 * Against clients that hold connections: at most max_connections in all and
 * max_connections_per_client from one address; a connection that has not
 * sent a whole request (headers and body) within header_timeout_ms of
 * being accepted (or of its last reply) is closed, however slowly it
 * trickles.
 * /healthz takes no lock that the task API holds.
 *
 * A failed request gets milvus-cdc's {"code": status, "message": ...} with
 * the HTTP status of its error's code: MCDC_EINVAL 400, MCDC_ENOTFOUND 404,
 * MCDC_EEXIST 409, MCDC_EUNAVAIL, MCDC_ETIMEOUT and MCDC_ENOTOWNER 503,
 * anything else 500. This server is the only place that maps codes to
 * statuses.
 *
 * Several instances on one store: a request naming a task another instance
 * runs (the manager's MCDC_ENOTOWNER) is forwarded once to that instance
 * (task_manager_owner, forward.h) and its answer returned as it is; 503
 * when it was forwarded here already, when no instance runs the task right
 * now, or when the owner does not answer (docs/api.md). */
#ifndef MCDC_HTTP_H
#define MCDC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "pipeline/task_manager.h"

#define HTTP_DEFAULT_ADDRESS "127.0.0.1"
#define HTTP_DEFAULT_PORT 8444               /* milvus-cdc's */
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)
#define HTTP_DEFAULT_MAX_CONNECTIONS 256
#define HTTP_DEFAULT_MAX_CONNECTIONS_PER_CLIENT 32
#define HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000

typedef struct http_config {
    const char *address;     /* IP address or host name to bind; NULL or "" = 127.0.0.1 */
    uint16_t port;           /* 0 = any free port (http_port() tells which) */
    const char *api_token;   /* NULL or "" = no authentication; copied */
    size_t max_body_bytes;   /* 0 = HTTP_DEFAULT_MAX_BODY */
    /* Host names accepted besides the listen address (and, on loopback,
     * localhost, 127.0.0.1 and [::1]): "name", "name:port" or "[v6]:port";
     * "*" accepts any Host. Copied. */
    const char *const *allowed_hosts;
    size_t n_allowed_hosts;
    /* PEM files of the certificate (chain) and its private key: both for
     * HTTPS, neither for plain HTTP. Read once by http_start; the key file
     * must pass mcdc_secret_file_check. */
    const char *tls_cert_file;
    const char *tls_key_file;
    unsigned max_connections;            /* 0 = HTTP_DEFAULT_MAX_CONNECTIONS */
    unsigned max_connections_per_client; /* 0 = HTTP_DEFAULT_MAX_CONNECTIONS_PER_CLIENT */
    unsigned header_timeout_ms;          /* 0 = HTTP_DEFAULT_HEADER_TIMEOUT_MS */
} http_config;

typedef struct http_server http_server;

/* The rules a configuration must meet before anything is started, without
 * binding or asking DNS: an api_token when the address is beyond loopback
 * (only an IP address in 127.0.0.0/8 or ::1, or "localhost", counts as
 * loopback; any other name does not, whatever it resolves to), allowed_hosts
 * when it is every interface (0.0.0.0, ::), well-formed allowed_hosts
 * entries, cert and key both or neither. MCDC_EINVAL naming the config keys
 * (listen, api_token, api_allowed_hosts, api_tls_*). http_start checks the
 * same; mcdc_config_parse calls it, so that `mcdc serve` refuses before it
 * opens the source. */
int http_config_check(const http_config *cfg, mcdc_err *err);

/* Checks cfg (http_config_check), binds and starts serving before it
 * returns; MCDC_EINVAL for a bad address or configuration, MCDC_EIO when
 * the port cannot be bound or a TLS file cannot be read (naming it). tm
 * must outlive the server. */
http_server *http_start(const http_config *cfg, task_manager *tm, mcdc_err *err);

/* The port the server listens on (useful after port 0). */
uint16_t http_port(const http_server *s);

/* Stops accepting, waits for requests in flight, frees. NULL is fine. */
void http_stop(http_server *s);

#endif
