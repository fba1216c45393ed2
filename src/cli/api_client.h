/* api_client.h — a client of mcdc's task API (`POST /cdc`, docs/api.md),
 * for the commands that drive a running `mcdc serve`.
 *
 * One call sends {"request_type", "request_data"} as application/json, with
 * `Authorization: Bearer <token>` when a token is given, and hands back the
 * reply's `data`. The HTTP is libcurl's (TLS, redirects refused, timeouts);
 * this file only builds the request and reads milvus-cdc's envelope.
 *
 * Errors tell the caller which exit code is due:
 *   MCDC_EINVAL   the server address is not one (a flag to fix);
 *   MCDC_EUNAVAIL no reply: the server could not be reached (refused,
 *                 unresolvable, TLS failed, connect timeout); the message
 *                 names the address;
 *   MCDC_ETIMEOUT connected, but no whole reply within the timeout (the
 *                 request may or may not have been done);
 *   MCDC_EREMOTE  the server answered with an error: HTTP status other than
 *                 200, or milvus-cdc's `code` other than 200 in an HTTP 200
 *                 (the form a milvus-cdc server answers with); the message
 *                 is the server's, printable characters only.
 * The token and the request body (a create may carry the target's
 * password) are wiped before their memory is freed (this file's copies;
 * libcurl's send buffer is beyond reach), and no message holds either. */
#ifndef MCDC_API_CLIENT_H
#define MCDC_API_CLIENT_H

#include <jansson.h>

#include "base/error.h"

typedef struct api_client_config {
    const char *server;      /* "http://host:port", "https://host:port" or "host:port" (http); port 8444 when left out */
    const char *token;       /* bearer token, or NULL / "" for none; copied */
    const char *cacert;      /* PEM CA file for https, or NULL for the system's */
    long connect_timeout_ms; /* 0 = 10 s */
    long timeout_ms;         /* the whole request; 0 = 120 s */
} api_client_config;

typedef struct api_client api_client;

/* Checks the address; NULL with MCDC_EINVAL naming what is wrong with it. */
api_client *api_client_open(const api_client_config *cfg, mcdc_err *err);
void api_client_close(api_client *c);

/* The address requests go to: "http://127.0.0.1:8444/cdc". */
const char *api_client_url(const api_client *c);

/* Sends one request (request_data NULL: left out) and returns the reply's
 * `data` (a new reference; an empty object when the reply has none), or
 * NULL with *err as above. *http_status, when not NULL, gets the reply's
 * HTTP status (0 when none came). */
json_t *api_client_call(api_client *c, const char *request_type, const json_t *request_data, long *http_status,
                        mcdc_err *err);

#endif
