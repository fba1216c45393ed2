/* etcd.c — the etcd client itself: endpoints and channels, the retry and
 * re-authentication policy every call goes through, and the KV calls
 * (Range with paging, Put, DeleteRange). Txn lives in etcd_txn.c, Watch and
 * Lease in etcd_watch.c and etcd_lease.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/backoff.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secret.h"
#include "etcd/etcd_int.h"
#include "etcd_rpc.pb-c.h"

#define DEFAULT_TIMEOUT_MS 10000
/* Keys per Range page: large enough that paging costs little, small enough
 * that a page of Milvus segment metadata stays a few MB. */
#define RANGE_PAGE 1000

/* ---- small helpers -------------------------------------------------------- */

void etcd_cond_init(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    /* Deadlines are monotonic everywhere in mcdc; a wall-clock step must not
     * stretch or cut a wait. */
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

void etcd_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t abs_ms) {
    struct timespec ts = {(time_t)(abs_ms / 1000), (long)(abs_ms % 1000) * 1000000L};
    pthread_cond_timedwait(cv, mu, &ts);
}

static ProtobufCBinaryData bin(const void *p, size_t n) {
    ProtobufCBinaryData b = {n, (uint8_t *)p};
    return b;
}

/* The smallest key greater than every key with the prefix: the prefix with
 * its last byte below 0xff incremented and the rest cut. A prefix of only
 * 0xff bytes (or none) has no such key; etcd reads "\0" as "to the end". */
void etcd_prefix_end(const char *prefix, mcdc_buf *out) {
    size_t n = strlen(prefix);
    mcdc_buf_reset(out);
    mcdc_buf_append(out, prefix, n);
    while (out->len > 0) {
        if (out->data[out->len - 1] != 0xff) {
            out->data[out->len - 1]++;
            return;
        }
        out->len--;
    }
    mcdc_buf_putc(out, 0);
}

static bool has_text(const mcdc_err *err, const char *s) { return strstr(err->msg, s) != NULL; }

bool etcd_err_is_token(const mcdc_err *err) {
    return has_text(err, "invalid auth token") || has_text(err, "revision of auth store is old") ||
           has_text(err, "token is expired") || has_text(err, "user name is empty");
}

static void err_append(mcdc_err *err, const char *text) {
    size_t n = strlen(err->msg);
    if (n + 1 < sizeof err->msg) snprintf(err->msg + n, sizeof err->msg - n, "%s", text);
}

/* ---- calls ----------------------------------------------------------------- */

enum { CALL_NO_TOKEN = 1 };

static char *token_copy(etcd_client *c) {
    pthread_mutex_lock(&c->mu);
    char *t = c->token ? mcdc_xstrdup(c->token) : NULL;
    pthread_mutex_unlock(&c->mu);
    return t;
}

static void endpoint_failed(etcd_client *c, size_t ep) {
    pthread_mutex_lock(&c->mu);
    if (c->cur == ep) c->cur = (ep + 1) % c->n_eps;
    pthread_mutex_unlock(&c->mu);
}

static int call(etcd_client *c, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp, unsigned flags,
                int *transient_failures, mcdc_err *err) {
    mcdc_err local;
    if (!err) err = &local; /* the policy below reads the error */
    uint64_t start = mcdc_now_mono_ms(), end = start + c->timeout_ms;
    /* With several endpoints one that hangs must not eat the whole budget. */
    uint32_t per_attempt = c->timeout_ms;
    if (c->n_eps > 1) {
        per_attempt = c->timeout_ms / (uint32_t)c->n_eps;
        if (per_attempt < 1000) per_attempt = 1000;
    }
    mcdc_backoff bo;
    mcdc_backoff_init(&bo, 50, 1000);
    bool reauthed = false;
    int attempts = 0, transient = 0;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        size_t ep = c->cur;
        pthread_mutex_unlock(&c->mu);
        char *tok = (flags & CALL_NO_TOKEN) ? NULL : token_copy(c);
        uint64_t now = mcdc_now_mono_ms();
        uint32_t ms = now < end ? (uint32_t)(end - now) : 1;
        if (ms > per_attempt) ms = per_attempt;
        rpc_md md = {"token", tok};
        attempts++;
        int rc = rpc_unary(c->chans[ep], method, &md, tok ? 1 : 0, ms, req, desc, resp, err);
        if (rc == 0) {
            free(tok);
            if (transient_failures) *transient_failures = transient;
            return 0;
        }
        if (!(flags & CALL_NO_TOKEN) && c->username && !reauthed && etcd_err_is_token(err)) {
            reauthed = true;
            mcdc_err aerr;
            int arc = etcd_reauth(c, tok, &aerr);
            free(tok);
            if (arc) {
                *err = aerr;
                break;
            }
            continue;
        }
        free(tok);
        if (!mcdc_err_is_transient(err->code)) {
            if (!c->username && has_text(err, "user name is empty"))
                err_append(err, " (authentication is enabled on this etcd: configure a username and password)");
            break;
        }
        transient++;
        endpoint_failed(c, ep);
        now = mcdc_now_mono_ms();
        /* Not worth another attempt with less time left than this. */
        if (now + 20 >= end) {
            mcdc_err_prefix(err, "etcd %s: no answer after %d attempts in %llu ms", c->endpoints, attempts,
                            (unsigned long long)(now - start));
            break;
        }
        uint32_t delay = mcdc_backoff_next(&bo);
        if (now + delay > end - 20) delay = (uint32_t)(end - 20 - now);
        log_debug("etcd %s: retrying in %u ms: %s", method, delay, err->msg);
        mcdc_sleep_ms(delay);
    }
    if (transient_failures) *transient_failures = transient;
    return -1;
}

int etcd_call(etcd_client *c, const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
              ProtobufCMessage **resp, int *transient_failures, mcdc_err *err) {
    return call(c, method, req, desc, resp, 0, transient_failures, err);
}

int etcd_reauth(etcd_client *c, const char *stale_token, mcdc_err *err) {
    if (!c->username) return mcdc_errf(err, MCDC_EINVAL, "etcd %s: authentication required but no username configured",
                                       c->endpoints);
    pthread_mutex_lock(&c->mu);
    bool renewed = c->token && (!stale_token || strcmp(c->token, stale_token) != 0);
    pthread_mutex_unlock(&c->mu);
    if (renewed) return 0;
    Etcdserverpb__AuthenticateRequest req = ETCDSERVERPB__AUTHENTICATE_REQUEST__INIT;
    req.name = c->username;
    req.password = c->password ? c->password : (char *)"";
    ProtobufCMessage *m;
    if (call(c, ETCD_M_AUTHENTICATE, &req.base, &etcdserverpb__authenticate_response__descriptor, &m,
             CALL_NO_TOKEN, NULL, err)) {
        /* etcd's own client treats this as "no token needed", and so do we:
         * the same config then works before and after auth is switched on. */
        if (has_text(err, "authentication is not enabled")) return 0;
        mcdc_err_prefix(err, "etcd authenticate as %s", c->username);
        return -1;
    }
    Etcdserverpb__AuthenticateResponse *r = (Etcdserverpb__AuthenticateResponse *)m;
    pthread_mutex_lock(&c->mu);
    free(c->token);
    c->token = mcdc_xstrdup(r->token ? r->token : "");
    pthread_mutex_unlock(&c->mu);
    protobuf_c_message_free_unpacked(m, NULL);
    log_debug("etcd %s: authenticated as %s", c->endpoints, c->username);
    return 0;
}

rpc_stream *etcd_stream_open(etcd_client *c, const char *method, size_t *ep, char **token, mcdc_err *err) {
    pthread_mutex_lock(&c->mu);
    *ep = c->cur;
    *token = c->token ? mcdc_xstrdup(c->token) : NULL;
    pthread_mutex_unlock(&c->mu);
    rpc_md md = {"token", *token};
    return rpc_stream_open(c->chans[*ep], method, &md, *token ? 1 : 0, err);
}

int etcd_stream_failed(etcd_client *c, size_t ep, const char *token, mcdc_err *err) {
    if (c->username && etcd_err_is_token(err)) {
        mcdc_err aerr;
        if (etcd_reauth(c, token, &aerr) == 0) return 0;
        *err = aerr;
        /* etcd down while the token is renewed is still only transient. */
        return mcdc_err_is_transient(aerr.code) ? 0 : -1;
    }
    if (mcdc_err_is_transient(err->code)) {
        endpoint_failed(c, ep);
        return 0;
    }
    if (!c->username && has_text(err, "user name is empty"))
        err_append(err, " (authentication is enabled on this etcd: configure a username and password)");
    return -1;
}

/* ---- open / close ------------------------------------------------------- */

static void add_endpoint(etcd_client *c, const char *s, size_t n) {
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    /* Accept etcdctl-style URLs too; gRPC wants host:port. */
    if (n > 7 && strncmp(s, "http://", 7) == 0) s += 7, n -= 7;
    else if (n > 8 && strncmp(s, "https://", 8) == 0) s += 8, n -= 8;
    while (n && s[n - 1] == '/') n--;
    if (!n) return;
    c->eps = mcdc_xrealloc(c->eps, (c->n_eps + 1) * sizeof *c->eps);
    char *e = mcdc_xmalloc(n + 1);
    memcpy(e, s, n);
    e[n] = '\0';
    c->eps[c->n_eps++] = e;
}

etcd_client *etcd_open(const etcd_config *cfg, mcdc_err *err) {
    if (!cfg->endpoints || !*cfg->endpoints) {
        mcdc_errf(err, MCDC_EINVAL, "etcd: no endpoints configured");
        return NULL;
    }
    etcd_client *c = mcdc_xcalloc(1, sizeof *c);
    rpc_init();
    pthread_mutex_init(&c->mu, NULL);
    c->endpoints = mcdc_xstrdup(cfg->endpoints);
    for (const char *p = cfg->endpoints;;) {
        const char *q = strchr(p, ',');
        add_endpoint(c, p, q ? (size_t)(q - p) : strlen(p));
        if (!q) break;
        p = q + 1;
    }
    if (!c->n_eps) {
        mcdc_errf(err, MCDC_EINVAL, "etcd: no endpoint in \"%s\"", cfg->endpoints);
        etcd_close(c);
        return NULL;
    }
    c->chans = mcdc_xcalloc(c->n_eps, sizeof *c->chans);
    for (size_t i = 0; i < c->n_eps; i++) {
        if (!(c->chans[i] = rpc_channel_open(c->eps[i], &cfg->tls, 0, err))) {
            mcdc_err_prefix(err, "etcd");
            etcd_close(c);
            return NULL;
        }
    }
    if (cfg->username && *cfg->username) {
        c->username = mcdc_xstrdup(cfg->username);
        c->password = mcdc_xstrdup(cfg->password ? cfg->password : "");
    }
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;

    if (c->username && etcd_reauth(c, NULL, err)) {
        etcd_close(c);
        return NULL;
    }
    Etcdserverpb__StatusRequest sreq = ETCDSERVERPB__STATUS_REQUEST__INIT;
    ProtobufCMessage *m;
    if (etcd_call(c, ETCD_M_STATUS, &sreq.base, &etcdserverpb__status_response__descriptor, &m, NULL, err)) {
        etcd_close(c);
        return NULL;
    }
    Etcdserverpb__StatusResponse *st = (Etcdserverpb__StatusResponse *)m;
    log_debug("etcd %s: server version %s", c->endpoints, st->version ? st->version : "?");
    protobuf_c_message_free_unpacked(m, NULL);
    return c;
}

void etcd_close(etcd_client *c) {
    if (!c) return;
    etcd_lease_shutdown(c);
    for (size_t i = 0; i < c->n_eps; i++) {
        if (c->chans && c->chans[i]) rpc_channel_close(c->chans[i]);
        free(c->eps[i]);
    }
    free(c->chans);
    free(c->eps);
    free(c->endpoints);
    free(c->username);
    mcdc_secret_free(c->password); /* not left lying around in freed heap memory */
    free(c->token);
    pthread_mutex_destroy(&c->mu);
    free(c);
    rpc_shutdown();
}

/* ---- KV -------------------------------------------------------------------- */

void etcd_kv_fill(etcd_kv *out, const Mvccpb__KeyValue *kv, const char *key) {
    out->key = key;
    out->key_len = kv->key.len;
    out->value = kv->value.data ? kv->value.data : (const uint8_t *)"";
    out->value_len = kv->value.len;
    out->create_revision = kv->create_revision;
    out->mod_revision = kv->mod_revision;
    out->version = kv->version;
    out->lease = kv->lease;
}

static void kv_from(const Mvccpb__KeyValue *src, mcdc_buf *keybuf, etcd_kv *out) {
    mcdc_buf_reset(keybuf);
    mcdc_buf_append(keybuf, src->key.data, src->key.len);
    etcd_kv_fill(out, src, mcdc_buf_cstr(keybuf));
}

int etcd_range_prefix(etcd_client *c, const char *prefix, int64_t revision, etcd_kv_fn fn, void *ud,
                      int64_t *out_revision, mcdc_err *err) {
    mcdc_buf from = MCDC_BUF_INIT, end = MCDC_BUF_INIT, keybuf = MCDC_BUF_INIT;
    etcd_prefix_end(prefix, &end);
    if (*prefix) mcdc_buf_append(&from, prefix, strlen(prefix));
    else mcdc_buf_putc(&from, 0); /* with range_end "\0": every key */
    int64_t rev = revision;
    int rc = 0;
    for (;;) {
        Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
        req.key = bin(from.data, from.len);
        req.range_end = bin(end.data, end.len);
        req.limit = RANGE_PAGE;
        /* Every page at the revision of the first, so the walk is one
         * consistent snapshot however long it takes. */
        req.revision = rev;
        ProtobufCMessage *m;
        if (etcd_call(c, ETCD_M_RANGE, &req.base, &etcdserverpb__range_response__descriptor, &m, NULL, err)) {
            mcdc_err_prefix(err, "etcd range \"%s\" at revision %lld", prefix, (long long)rev);
            rc = -1;
            break;
        }
        Etcdserverpb__RangeResponse *r = (Etcdserverpb__RangeResponse *)m;
        if (rev == 0 && r->header) rev = r->header->revision;
        for (size_t i = 0; i < r->n_kvs && rc == 0; i++) {
            etcd_kv kv;
            kv_from(r->kvs[i], &keybuf, &kv);
            rc = fn(ud, &kv);
        }
        bool more = rc == 0 && r->more && r->n_kvs > 0;
        if (more) {
            /* Continue just after the last key: the key with a NUL appended. */
            const Mvccpb__KeyValue *last = r->kvs[r->n_kvs - 1];
            mcdc_buf_reset(&from);
            mcdc_buf_append(&from, last->key.data, last->key.len);
            mcdc_buf_putc(&from, 0);
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (!more) break;
    }
    if (out_revision) *out_revision = rev;
    mcdc_buf_free(&from);
    mcdc_buf_free(&end);
    mcdc_buf_free(&keybuf);
    return rc;
}

int etcd_get(etcd_client *c, const char *key, bool *found, uint8_t **value, size_t *value_len, int64_t *mod_revision,
             mcdc_err *err) {
    *found = false;
    if (value) *value = NULL;
    if (value_len) *value_len = 0;
    if (mod_revision) *mod_revision = 0;
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = bin(key, strlen(key));
    ProtobufCMessage *m;
    if (etcd_call(c, ETCD_M_RANGE, &req.base, &etcdserverpb__range_response__descriptor, &m, NULL, err)) {
        mcdc_err_prefix(err, "etcd get %s", key);
        return -1;
    }
    Etcdserverpb__RangeResponse *r = (Etcdserverpb__RangeResponse *)m;
    if (r->n_kvs > 0) {
        const Mvccpb__KeyValue *kv = r->kvs[0];
        *found = true;
        if (value) {
            *value = mcdc_xmalloc(kv->value.len + 1);
            if (kv->value.len) memcpy(*value, kv->value.data, kv->value.len);
            (*value)[kv->value.len] = 0; /* text values can be used as strings */
        }
        if (value_len) *value_len = kv->value.len;
        if (mod_revision) *mod_revision = kv->mod_revision;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int etcd_put(etcd_client *c, const char *key, const void *value, size_t value_len, int64_t lease, mcdc_err *err) {
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key = bin(key, strlen(key));
    req.value = bin(value, value_len);
    req.lease = lease;
    ProtobufCMessage *m;
    if (etcd_call(c, ETCD_M_PUT, &req.base, &etcdserverpb__put_response__descriptor, &m, NULL, err)) {
        mcdc_err_prefix(err, "etcd put %s", key);
        return -1;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int etcd_delete(etcd_client *c, const char *key, bool prefix, int64_t *deleted, mcdc_err *err) {
    mcdc_buf end = MCDC_BUF_INIT;
    Etcdserverpb__DeleteRangeRequest req = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    if (prefix) {
        etcd_prefix_end(key, &end);
        req.range_end = bin(end.data, end.len);
        req.key = *key ? bin(key, strlen(key)) : bin("", 1);
    } else {
        req.key = bin(key, strlen(key));
    }
    ProtobufCMessage *m;
    int rc = etcd_call(c, ETCD_M_DELETE, &req.base, &etcdserverpb__delete_range_response__descriptor, &m, NULL, err);
    mcdc_buf_free(&end);
    if (rc) {
        mcdc_err_prefix(err, "etcd delete %s%s", key, prefix ? " (prefix)" : "");
        return -1;
    }
    if (deleted) *deleted = ((Etcdserverpb__DeleteRangeResponse *)m)->deleted;
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
