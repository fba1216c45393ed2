/* http.h — mcdc's HTTP API: milvus-cdc's `POST /cdc` task requests, plus
 * `GET /healthz` and `GET /metrics` (Prometheus text). docs/api.md describes
 * every request and reply.
 *
 * Each connection gets its own thread (libmicrohttpd), because a create
 * request may wait for the target to answer. Bodies over max_body_bytes are
 * refused with 413 before they are read. With an api_token, every route but
 * /healthz wants `Authorization: Bearer <token>`. Request bodies are never
 * logged: a create request carries the target's password.
 *
 * A failed request gets milvus-cdc's {"code": status, "message": ...} with
 * the HTTP status of its error's code: MCDC_EINVAL 400, MCDC_ENOTFOUND 404,
 * MCDC_EEXIST 409, MCDC_EUNAVAIL and MCDC_ETIMEOUT 503, anything else 500.
 * This server is the only place that maps codes to statuses. */
#ifndef MCDC_HTTP_H
#define MCDC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "pipeline/task_manager.h"

#define HTTP_DEFAULT_ADDRESS "127.0.0.1"
#define HTTP_DEFAULT_PORT 8444               /* milvus-cdc's */
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)

typedef struct http_config {
    const char *address;     /* IP address or host name to bind; NULL or "" = 127.0.0.1 */
    uint16_t port;           /* 0 = any free port (http_port() tells which) */
    const char *api_token;   /* NULL or "" = no authentication; copied */
    size_t max_body_bytes;   /* 0 = HTTP_DEFAULT_MAX_BODY */
} http_config;

typedef struct http_server http_server;

/* Binds and starts serving before it returns; MCDC_EINVAL for a bad
 * address, MCDC_EIO when the port cannot be bound. tm must outlive the
 * server. */
http_server *http_start(const http_config *cfg, task_manager *tm, mcdc_err *err);

/* The port the server listens on (useful after port 0). */
uint16_t http_port(const http_server *s);

/* Stops accepting, waits for requests in flight, frees. NULL is fine. */
void http_stop(http_server *s);

#endif
