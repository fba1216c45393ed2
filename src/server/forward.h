/* forward.h — hands a POST /cdc request to the mcdc instance that owns its
 * task (several `mcdc serve` on one etcd store: docs/api.md, "Several
 * instances"), and brings its answer back as it is.
 *
 * The same body and Authorization header go to <owner>/cdc over libcurl,
 * with FORWARD_HEADER added: an instance that receives a forwarded request
 * for a task it does not own answers 503 "owner moved, retry" instead of
 * forwarding it again, so a request crosses at most one hop and two
 * instances with stale views cannot bounce it between them. Redirects are
 * never followed (they would carry the token elsewhere). */
#ifndef MCDC_FORWARD_H
#define MCDC_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

#define FORWARD_HEADER "X-Mcdc-Forwarded"

typedef struct forward_reply {
    long status;              /* the owner's HTTP status */
    char content_type[128];   /* its Content-Type, "" when it sent none */
    mcdc_buf body;            /* its body, as it is */
} forward_reply;

/* Sends body to <owner_url>/cdc (owner_url: "http://host:port" or https,
 * as the owner advertises it) with authorization (the whole header value
 * the client sent, or NULL) and FORWARD_HEADER. 0 with *out filled (free it with forward_reply_free) when the
 * owner answered, whatever its status; else MCDC_EUNAVAIL naming the
 * owner: not reached, or no whole answer within timeout_ms. */
int forward_cdc(const char *owner_url, const void *body, size_t len, const char *authorization, uint32_t timeout_ms,
                forward_reply *out, mcdc_err *err);
void forward_reply_free(forward_reply *r);

/* libcurl's process-wide set-up, once before the first forward and before
 * threads call it (http_start), and its end (http_stop); counted. */
void forward_global_init(void);
void forward_global_cleanup(void);

#endif
