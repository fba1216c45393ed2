/* pulsar_conn.c — the transport of one connection to a Pulsar broker: TCP
 * or TLS, frames in and out with deadlines, keep-alive (PING/PONG) and the
 * broker's auth challenges, answered where they arrive. What is said over it
 * (CONNECT, lookup, subscribe ...) is pulsar_session.c's.
 *
 * Single-threaded by design: the reader that owns the connection drives it
 * from mq_next, so the broker's PINGs are answered while the reader reads. A
 * reader that does not read for a minute gets disconnected by the broker and
 * resumes where it was on its next read (pulsar.c).
 *
 * Plain sockets write with MSG_NOSIGNAL; OpenSSL writes with write(2), so a
 * TLS peer that vanished raises SIGPIPE: mcdc's commands ignore it (serve,
 * dump, and the test tools do the same). */
#include "pulsar_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "base/clock.h"
#include "base/log.h"

/* The broker pings an idle connection every 30 s (keepAliveIntervalSeconds):
 * silence for twice that means the peer or the path is gone. */
#define KEEPALIVE_PING_MS 30000
#define KEEPALIVE_DEAD_MS 60000
#define RX_KEEP_BYTES (1u << 20)

/* ---- sockets ------------------------------------------------------------------- */

void pulsar_conn_init(pulsar_conn *c, const pulsar_opts *o) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->opts = o;
}

bool pulsar_conn_is_open(const pulsar_conn *c) { return c->fd >= 0; }

uint64_t pulsar_conn_request_id(pulsar_conn *c) { return ++c->next_request_id; }

void pulsar_conn_close(pulsar_conn *c) {
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->ssl_ctx) {
        SSL_CTX_free(c->ssl_ctx);
        c->ssl_ctx = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->rx.len = c->rx_off = 0;
    c->tx.len = 0;
    c->ping_out = false;
}

static int remaining_ms(uint64_t deadline_ms) {
    uint64_t now = mcdc_now_mono_ms();
    if (now >= deadline_ms) return 0;
    uint64_t d = deadline_ms - now;
    return d > 3600000 ? 3600000 : (int)d;
}

/* 1 ready, 0 deadline, -1 error */
static int wait_fd(int fd, short events, uint64_t deadline_ms) {
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, remaining_ms(deadline_ms));
        if (n > 0) return 1;
        if (n == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

static int tcp_connect(const char *host, const char *port, uint64_t deadline_ms, mcdc_err *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: cannot resolve %s: %s", host, gai_strerror(g));
    int fd = -1, last_errno = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (s < 0) {
            last_errno = errno;
            continue;
        }
        int rc = connect(s, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            rc = wait_fd(s, POLLOUT, deadline_ms);
            if (rc == 1) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                if (soerr) {
                    errno = soerr;
                    rc = -1;
                } else {
                    rc = 0;
                }
            } else {
                errno = rc == 0 ? ETIMEDOUT : errno;
                rc = -1;
            }
        }
        if (rc == 0) {
            fd = s;
        } else {
            last_errno = errno;
            close(s);
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: cannot connect to %s:%s: %s", host, port, strerror(last_errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return fd;
}

static const char *ssl_why(void) {
    static _Thread_local char buf[200];
    unsigned long e = ERR_get_error();
    if (!e) return "TLS error";
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

static int tls_start(pulsar_conn *c, const char *host, uint64_t deadline_ms, mcdc_err *err) {
    const pulsar_opts *o = c->opts;
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ssl_ctx) return mcdc_errf(err, MCDC_EINTERNAL, "pulsar: TLS context: %s", ssl_why());
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    if (o->tls_ca ? SSL_CTX_load_verify_locations(c->ssl_ctx, o->tls_ca, NULL) != 1
                  : SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1)
        return mcdc_errf(err, MCDC_EINVAL, "pulsar: TLS trust store %s: %s", o->tls_ca ? o->tls_ca : "(system)", ssl_why());
    c->ssl = SSL_new(c->ssl_ctx);
    if (!c->ssl) return mcdc_errf(err, MCDC_EINTERNAL, "pulsar: TLS session: %s", ssl_why());
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, host);
    if (o->tls_verify_host) {
        /* A numeric host is checked against the certificate's IP entries. */
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) SSL_set1_host(c->ssl, host);
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1) return 0;
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) {
            long v = SSL_get_verify_result(c->ssl);
            if (v != X509_V_OK)
                return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: TLS to %s: certificate not trusted: %s", host,
                                 X509_verify_cert_error_string(v));
            return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: TLS handshake with %s: %s", host, ssl_why());
        }
        int w = wait_fd(c->fd, ev, deadline_ms);
        if (w <= 0) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: TLS handshake with %s timed out", host);
    }
}

/* >0 bytes, 0 deadline, -1 closed or broken */
static ssize_t read_some(pulsar_conn *c, uint8_t *buf, size_t cap, uint64_t deadline_ms, mcdc_err *err) {
    for (;;) {
        if (c->ssl) {
            int n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
            if (n > 0) return n;
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_ZERO_RETURN) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: %s closed the connection", c->url);
            short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
            if (!ev) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: reading from %s: %s", c->url, ssl_why());
            int w = wait_fd(c->fd, ev, deadline_ms);
            if (w == 0) return 0;
            if (w < 0) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: poll: %s", strerror(errno));
        } else {
            ssize_t n = recv(c->fd, buf, cap, MSG_DONTWAIT);
            if (n > 0) return n;
            if (n == 0) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: %s closed the connection", c->url);
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: reading from %s: %s", c->url, strerror(errno));
            int w = wait_fd(c->fd, POLLIN, deadline_ms);
            if (w == 0) return 0;
            if (w < 0) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: poll: %s", strerror(errno));
        }
    }
}

static int write_all(pulsar_conn *c, const uint8_t *p, size_t n, uint64_t deadline_ms, mcdc_err *err) {
    while (n > 0) {
        ssize_t w;
        short ev = POLLOUT;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (r > 0) {
                w = r;
            } else {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: writing to %s: %s", c->url, ssl_why());
                ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                w = -1;
                errno = EAGAIN;
            }
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: writing to %s: %s", c->url, strerror(errno));
        int r = wait_fd(c->fd, ev, deadline_ms);
        if (r == 0) return mcdc_errf(err, MCDC_ETIMEOUT, "pulsar: writing to %s timed out", c->url);
        if (r < 0) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: poll: %s", strerror(errno));
    }
    return 0;
}

int pulsar_conn_send(pulsar_conn *c, const Pulsar__Proto__BaseCommand *cmd, uint64_t deadline_ms, mcdc_err *err) {
    if (c->fd < 0) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: not connected");
    c->tx.len = 0;
    pulsar_frame_encode(&c->tx, cmd);
    return write_all(c, c->tx.data, c->tx.len, deadline_ms, err);
}

static int send_simple(pulsar_conn *c, int type, uint64_t deadline_ms, mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPing ping = PULSAR__PROTO__COMMAND_PING__INIT;
    Pulsar__Proto__CommandPong pong = PULSAR__PROTO__COMMAND_PONG__INIT;
    cmd.type = type;
    if (type == PULSAR__PROTO__BASE_COMMAND__TYPE__PING) cmd.ping = &ping;
    else cmd.pong = &pong;
    return pulsar_conn_send(c, &cmd, deadline_ms, err);
}

static int send_auth_response(pulsar_conn *c, uint64_t deadline_ms, mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandAuthResponse ar = PULSAR__PROTO__COMMAND_AUTH_RESPONSE__INIT;
    Pulsar__Proto__AuthData ad = PULSAR__PROTO__AUTH_DATA__INIT;
    ad.auth_method_name = c->opts->token ? "token" : "none";
    if (c->opts->token) {
        ad.has_auth_data = 1;
        ad.auth_data.data = (uint8_t *)c->opts->token;
        ad.auth_data.len = strlen(c->opts->token);
    }
    ar.client_version = PULSAR_CLIENT_VERSION;
    ar.response = &ad;
    ar.has_protocol_version = 1;
    ar.protocol_version = PULSAR_PROTOCOL_VERSION;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__AUTH_RESPONSE;
    cmd.authresponse = &ar;
    return pulsar_conn_send(c, &cmd, deadline_ms, err);
}

int pulsar_conn_recv(pulsar_conn *c, pulsar_frame *f, uint64_t deadline_ms, mcdc_err *err) {
    memset(f, 0, sizeof *f);
    if (c->fd < 0) return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: not connected");
    for (;;) {
        size_t avail = c->rx.len - c->rx_off;
        size_t need = 4;
        if (avail >= 4) {
            int64_t whole = pulsar_frame_len(c->rx.data + c->rx_off);
            if (whole < 0)
                return mcdc_errf(err, MCDC_EDECODE, "pulsar: %s sent a frame size beyond %u bytes: not a Pulsar broker?",
                                 c->url, PULSAR_FRAME_MAX);
            need = (size_t)whole;
            if (avail >= need) {
                const uint8_t *at = c->rx.data + c->rx_off;
                c->rx_off += need;
                if (pulsar_frame_decode(at, need, f, err)) {
                    mcdc_err_prefix(err, "from %s", c->url);
                    return -1;
                }
                int t = f->cmd->type;
                if (t == PULSAR__PROTO__BASE_COMMAND__TYPE__PING || t == PULSAR__PROTO__BASE_COMMAND__TYPE__AUTH_CHALLENGE) {
                    pulsar_frame_clear(f);
                    int r = t == PULSAR__PROTO__BASE_COMMAND__TYPE__PING
                                ? send_simple(c, PULSAR__PROTO__BASE_COMMAND__TYPE__PONG, mcdc_now_mono_ms() + 5000, err)
                                : send_auth_response(c, mcdc_now_mono_ms() + 5000, err);
                    if (r) return -1;
                    continue;
                }
                if (t == PULSAR__PROTO__BASE_COMMAND__TYPE__PONG) {
                    pulsar_frame_clear(f);
                    continue;
                }
                return 1;
            }
        }
        /* Move the unread tail to the front before reading more; frames
         * handed out earlier are no longer used by now. A buffer that grew
         * for one big Insert is given back once it is empty. */
        if (avail == 0 && c->rx.cap > RX_KEEP_BYTES) {
            mcdc_buf_free(&c->rx);
            c->rx_off = 0;
        }
        if (c->rx_off) {
            memmove(c->rx.data, c->rx.data + c->rx_off, avail);
            c->rx.len = avail;
            c->rx_off = 0;
        }
        size_t want = need > avail ? need - avail : 0;
        mcdc_buf_reserve(&c->rx, want > 65536 ? want : 65536);

        uint64_t now = mcdc_now_mono_ms();
        if (now - c->last_rx_ms >= KEEPALIVE_PING_MS && !c->ping_out) {
            if (send_simple(c, PULSAR__PROTO__BASE_COMMAND__TYPE__PING, now + 5000, err)) return -1;
            c->ping_out = true;
        }
        /* Wake up for the keep-alive even when the caller's deadline is later. */
        uint64_t ka = c->last_rx_ms + (c->ping_out ? KEEPALIVE_DEAD_MS : KEEPALIVE_PING_MS);
        uint64_t until = deadline_ms < ka ? deadline_ms : ka;
        ssize_t n = read_some(c, c->rx.data + c->rx.len, c->rx.cap - c->rx.len - 1, until, err);
        if (n < 0) return -1;
        if (n == 0) {
            /* Judged only after reading: a caller that was away for a minute
             * finds the broker's frames waiting, not a dead connection. */
            if (mcdc_now_mono_ms() - c->last_rx_ms >= KEEPALIVE_DEAD_MS)
                return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: %s sent nothing for %d s", c->url,
                                 KEEPALIVE_DEAD_MS / 1000);
            if (mcdc_now_mono_ms() >= deadline_ms) return 0;
            continue;
        }
        c->rx.len += (size_t)n;
        c->last_rx_ms = mcdc_now_mono_ms();
        c->ping_out = false;
    }
}

int pulsar_conn_dial(pulsar_conn *c, const mcdc_addr *a, bool tls, uint64_t deadline_ms, mcdc_err *err) {
    pulsar_conn_close(c);
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    int fd = tcp_connect(a->host, port, deadline_ms, err);
    if (fd < 0) return -1;
    c->fd = fd;
    c->last_rx_ms = mcdc_now_mono_ms();
    if (tls && tls_start(c, a->host, deadline_ms, err)) {
        pulsar_conn_close(c);
        return -1;
    }
    return 0;
}
