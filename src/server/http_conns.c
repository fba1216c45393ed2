/* http_conns.c — the header deadline (http_conns.h).
 *
 * Every open connection has an entry (libmicrohttpd's socket context of the
 * connection) in a list under one mutex: its socket, when its clock started
 * and whether it is on the clock. A thread wakes a few times per deadline
 * and shuts down (shutdown(2), not close) the socket of each overdue entry;
 * libmicrohttpd's thread of that connection then reads the end of the
 * stream and closes the connection as it would any other.
 *
 * Why shutdown never hits a socket number the kernel has already handed to
 * someone else: the entry leaves the list in the CLOSED notification, under
 * the same mutex, and libmicrohttpd 0.9.75 sends that notification before
 * it closes the socket (src/microhttpd/daemon.c, MHD_cleanup_connections:
 * notify_connection(..., MHD_CONNECTION_NOTIFY_CLOSED) comes before
 * MHD_socket_close_chk_(pos->socket_fd); the failure path of
 * new_connection_process_ likewise notifies before it closes). So while an
 * entry is in the list, its socket is still the connection's. */
#include "server/http_conns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"

typedef struct conn {
    struct conn *prev, *next;
    int fd;
    uint64_t clock_ns;  /* when its clock started */
    bool on_clock;      /* no request wholly received (headers and body) since clock_ns */
    bool shut;          /* shut down already; waiting for libmicrohttpd to close it */
    char peer[INET6_ADDRSTRLEN];
} conn;

struct http_conns {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    uint64_t timeout_ns;
    unsigned timeout_ms;
    conn *head;
};

static void peer_of(struct MHD_Connection *c, char *out, size_t cap) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "?");
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

void http_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe) {
    http_conns *cs = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn *e = mcdc_xcalloc(1, sizeof *e);
        e->fd = ci ? ci->connect_fd : -1;
        e->clock_ns = mcdc_now_mono_ns();
        e->on_clock = true;
        peer_of(c, e->peer, sizeof e->peer);
        pthread_mutex_lock(&cs->mu);
        e->next = cs->head;
        if (cs->head) cs->head->prev = e;
        cs->head = e;
        pthread_mutex_unlock(&cs->mu);
        *socket_context = e;
        return;
    }
    conn *e = *socket_context;
    if (!e) return;
    pthread_mutex_lock(&cs->mu);
    if (e->prev) e->prev->next = e->next;
    else cs->head = e->next;
    if (e->next) e->next->prev = e->prev;
    pthread_mutex_unlock(&cs->mu);
    free(e);
    *socket_context = NULL;
}

static conn *entry_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_conns_request_in(http_conns *cs, struct MHD_Connection *c) {
    conn *e = entry_of(c);
    if (!e) return;
    pthread_mutex_lock(&cs->mu);
    e->on_clock = false;
    pthread_mutex_unlock(&cs->mu);
}

void http_conns_request_done(http_conns *cs, struct MHD_Connection *c) {
    conn *e = entry_of(c);
    if (!e) return;
    pthread_mutex_lock(&cs->mu);
    e->on_clock = true;
    e->clock_ns = mcdc_now_mono_ns();
    pthread_mutex_unlock(&cs->mu);
}

static void *reaper(void *arg) {
    http_conns *cs = arg;
    /* A few looks per deadline: a connection lives at most a quarter of
     * the deadline beyond it. */
    uint64_t tick_ns = cs->timeout_ns / 4;
    if (tick_ns < 20 * 1000000ull) tick_ns = 20 * 1000000ull;
    if (tick_ns > 250 * 1000000ull) tick_ns = 250 * 1000000ull;
    pthread_mutex_lock(&cs->mu);
    while (!cs->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + tick_ns;
        until.tv_sec += (time_t)(ns / 1000000000ull);
        until.tv_nsec = (long)(ns % 1000000000ull);
        pthread_cond_timedwait(&cs->wake, &cs->mu, &until);
        uint64_t now = mcdc_now_mono_ns();
        for (conn *e = cs->head; e; e = e->next) {
            if (!e->on_clock || e->shut || e->fd < 0 || now - e->clock_ns < cs->timeout_ns) continue;
            /* The line first: whoever sees the connection end finds it logged. */
            log_info("http: closed a connection from %s: no complete request within %u ms "
                     "(api_header_timeout_ms)", e->peer, cs->timeout_ms);
            e->shut = true;
            shutdown(e->fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&cs->mu);
    return NULL;
}

http_conns *http_conns_start(unsigned header_timeout_ms) {
    http_conns *cs = mcdc_xcalloc(1, sizeof *cs);
    pthread_mutex_init(&cs->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cs->wake, &ca);
    pthread_condattr_destroy(&ca);
    cs->timeout_ms = header_timeout_ms;
    cs->timeout_ns = (uint64_t)header_timeout_ms * 1000000ull;
    if (pthread_create(&cs->thread, NULL, reaper, cs) != 0) {
        pthread_cond_destroy(&cs->wake);
        pthread_mutex_destroy(&cs->mu);
        free(cs);
        return NULL;
    }
    return cs;
}

void http_conns_stop(http_conns *cs) {
    if (!cs) return;
    pthread_mutex_lock(&cs->mu);
    cs->stopping = true;
    pthread_cond_signal(&cs->wake);
    pthread_mutex_unlock(&cs->mu);
    pthread_join(cs->thread, NULL);
    /* libmicrohttpd has closed every connection by now; this is in case. */
    while (cs->head) {
        conn *e = cs->head;
        cs->head = e->next;
        free(e);
    }
    pthread_cond_destroy(&cs->wake);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}
