/* http_conns.h — the request deadline of http.h: a connection that has not
 * sent a whole request (headers and body) within a deadline of being accepted,
 * or of the end of its last request, is shut down, however it trickles.
 * libmicrohttpd 0.9.75 has only an idle timeout, which every byte resets.
 *
 * libmicrohttpd tells us of each connection it opens and closes
 * (http_conns_notify, its MHD_OPTION_NOTIFY_CONNECTION callback); the
 * server says when a request's headers are in and when a request is done;
 * a thread of ours shuts down the overdue ones. */
#ifndef MCDC_HTTP_CONNS_H
#define MCDC_HTTP_CONNS_H

#include <microhttpd.h>

typedef struct http_conns http_conns;

/* Starts the thread that enforces the deadline. */
http_conns *http_conns_start(unsigned header_timeout_ms);

/* Stops the thread and frees; call after MHD_stop_daemon. NULL is fine. */
void http_conns_stop(http_conns *cs);

/* MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the http_conns. */
void http_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);

/* A request is wholly in, headers and body (or answered before its body
 * was read): its connection is off the clock while mcdc works on it. The
 * body counts, or a client could send complete headers and then trickle
 * a chunked body for ever, holding a slot without any deadline. */
void http_conns_request_in(http_conns *cs, struct MHD_Connection *c);

/* A request is over (its reply sent): the clock starts again for the next
 * one on the same connection. */
void http_conns_request_done(http_conns *cs, struct MHD_Connection *c);

#endif
