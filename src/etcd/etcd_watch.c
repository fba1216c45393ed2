/* etcd_watch.c — a prefix watch that survives disconnects: one bidi Watch
 * stream at a time, re-created from the last delivered revision + 1 whenever
 * it breaks, so that the caller sees every event exactly once and in
 * revision order, or learns that the history it needs was compacted. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "etcd/etcd_int.h"
#include "etcd_rpc.pb-c.h"

struct etcd_watch {
    etcd_client *c;
    char *prefix;
    mcdc_buf key, end;          /* the watched range */
    bool prev_kv;
    int64_t last_rev;           /* last delivered revision */
    int64_t resume_rev;         /* where a new stream starts; 0 = "now" before the first one */
    int64_t compacted;
    bool created;
    mcdc_err final;             /* once set (code != OK) every call fails with it */

    /* s and canceled are what etcd_watch_cancel touches from another thread. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool canceled;
    rpc_stream *s;
    size_t ep;
    char *token;

    mcdc_backoff bo;
    uint64_t retry_at;          /* mono ms before which no new stream is tried */
    mcdc_err last;              /* the last transient trouble, for messages */
    unsigned failures;          /* in a row, since the last good response */

    /* The batch handed out by the last etcd_watch_next. */
    ProtobufCMessage *resp;
    etcd_event *events;
    size_t cap_events;
    char *keys;
};

static void drop_stream(etcd_watch *w) {
    pthread_mutex_lock(&w->mu);
    rpc_stream *s = w->s;
    w->s = NULL;
    pthread_mutex_unlock(&w->mu);
    rpc_stream_close(s);
    free(w->token);
    w->token = NULL;
    w->created = false;
}

static int fail_for_good(etcd_watch *w, mcdc_err *err) {
    if (err) *err = w->final;
    return -1;
}

static int canceled(etcd_watch *w, mcdc_err *err) {
    if (w->final.code == MCDC_OK) mcdc_errf(&w->final, MCDC_ECANCELED, "etcd watch \"%s\": canceled", w->prefix);
    return fail_for_good(w, err);
}

/* Opens a stream and asks for the watch; the answer comes through pump. */
static int start(etcd_watch *w, mcdc_err *err) {
    size_t ep;
    char *token;
    rpc_stream *s = etcd_stream_open(w->c, ETCD_M_WATCH, &ep, &token, err);
    if (!s) {
        free(token);
        return -1;
    }
    pthread_mutex_lock(&w->mu);
    w->s = s;
    pthread_mutex_unlock(&w->mu);
    w->ep = ep;
    w->token = token;
    /* Set after publishing s, so a cancel either sees the stream or we see
     * the flag here. */
    if (atomic_load(&w->canceled)) rpc_stream_cancel(s);

    Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    cr.key.data = w->key.data;
    cr.key.len = w->key.len;
    cr.range_end.data = w->end.data;
    cr.range_end.len = w->end.len;
    cr.start_revision = w->resume_rev;
    cr.prev_kv = w->prev_kv;
    /* Progress notifications tell us how far the server has looked even when
     * nothing under the prefix changes, so a resume starts from there and is
     * less likely to need history that was compacted meanwhile. */
    cr.progress_notify = true;
    Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
    req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    req.create_request = &cr;
    return rpc_stream_send(s, &req.base, err);
}

/* Stream trouble: either schedule a reconnect or give up (returns -1). */
static int stream_broke(etcd_watch *w, mcdc_err *serr, mcdc_err *err) {
    size_t ep = w->ep;
    char *token = w->token;
    w->token = NULL;
    drop_stream(w);
    if (atomic_load(&w->canceled)) {
        free(token);
        return canceled(w, err);
    }
    int again = etcd_stream_failed(w->c, ep, token, serr) == 0;
    free(token);
    if (!again) {
        w->final = *serr;
        mcdc_err_prefix(&w->final, "etcd watch \"%s\"", w->prefix);
        return fail_for_good(w, err);
    }
    w->last = *serr;
    uint32_t delay = mcdc_backoff_next(&w->bo);
    w->retry_at = mcdc_now_mono_ms() + delay;
    /* The first failure and then every tenth: enough to see an outage in
     * the log without a line per retry. */
    if (w->failures++ % 10 == 0)
        log_warn("etcd watch \"%s\": %s; resuming at revision %lld (attempt %u)", w->prefix, serr->msg,
                 (long long)w->resume_rev, w->failures);
    else
        log_debug("etcd watch \"%s\": %s; retry in %u ms", w->prefix, serr->msg, delay);
    return 0;
}

static void free_batch(etcd_watch *w) {
    if (w->resp) protobuf_c_message_free_unpacked(w->resp, NULL);
    w->resp = NULL;
    free(w->keys);
    w->keys = NULL;
}

static size_t copy_key(char *dst, const Mvccpb__KeyValue *kv) {
    if (kv->key.len) memcpy(dst, kv->key.data, kv->key.len);
    dst[kv->key.len] = '\0';
    return kv->key.len + 1;
}

/* Turns the response's new events into w->events; returns how many. Events
 * at or below the last delivered revision were seen before a reconnect and
 * are dropped. etcd never splits one revision over two responses (without
 * the fragment option), so comparing revisions is enough. */
static size_t take_events(etcd_watch *w, Etcdserverpb__WatchResponse *r) {
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < r->n_events; i++) {
        const Mvccpb__Event *e = r->events[i];
        if (!e->kv || e->kv->mod_revision <= w->last_rev) continue;
        n++;
        bytes += e->kv->key.len + 1 + (e->prev_kv ? e->prev_kv->key.len + 1 : 0);
    }
    if (!n) return 0;
    if (n > w->cap_events) {
        w->events = mcdc_xrealloc(w->events, n * sizeof *w->events);
        w->cap_events = n;
    }
    w->keys = mcdc_xmalloc(bytes);
    char *k = w->keys;
    size_t j = 0;
    int64_t last = w->last_rev;
    for (size_t i = 0; i < r->n_events; i++) {
        const Mvccpb__Event *e = r->events[i];
        if (!e->kv || e->kv->mod_revision <= w->last_rev) continue;
        etcd_event *ev = &w->events[j++];
        memset(ev, 0, sizeof *ev);
        ev->type = e->type == MVCCPB__EVENT__EVENT_TYPE__DELETE ? ETCD_DELETE : ETCD_PUT;
        etcd_kv_fill(&ev->kv, e->kv, k);
        k += copy_key(k, e->kv);
        if (e->prev_kv) {
            ev->has_prev = true;
            etcd_kv_fill(&ev->prev, e->prev_kv, k);
            k += copy_key(k, e->prev_kv);
        }
        if (e->kv->mod_revision > last) last = e->kv->mod_revision;
    }
    w->last_rev = last;
    if (w->resume_rev <= last) w->resume_rev = last + 1;
    return n;
}

/* Drives the stream until events arrive (returns their number), the
 * deadline passes (0), or the watch ends for good (-1). With until_created
 * it returns 0 as soon as the server confirmed the watch. */
static int pump(etcd_watch *w, uint64_t deadline, bool until_created, mcdc_err *err) {
    for (;;) {
        if (w->final.code != MCDC_OK) return fail_for_good(w, err);
        if (atomic_load(&w->canceled)) return canceled(w, err);
        uint64_t now = mcdc_now_mono_ms();
        if (!w->s) {
            if (now < w->retry_at) {
                if (now >= deadline) return 0;
                pthread_mutex_lock(&w->mu);
                if (!atomic_load(&w->canceled))
                    etcd_cond_wait_until(&w->cv, &w->mu, w->retry_at < deadline ? w->retry_at : deadline);
                pthread_mutex_unlock(&w->mu);
                continue;
            }
            mcdc_err serr;
            if (start(w, &serr)) {
                if (stream_broke(w, &serr, err)) return -1;
                continue;
            }
        }
        now = mcdc_now_mono_ms();
        if (now >= deadline) return 0;
        ProtobufCMessage *m;
        mcdc_err serr;
        int rc = rpc_stream_recv(w->s, &etcdserverpb__watch_response__descriptor, &m, (uint32_t)(deadline - now),
                                 &serr);
        if (rc == 0) return 0;
        if (rc < 0) {
            if (stream_broke(w, &serr, err)) return -1;
            continue;
        }
        Etcdserverpb__WatchResponse *r = (Etcdserverpb__WatchResponse *)m;
        if (r->compact_revision > 0) {
            w->compacted = r->compact_revision;
            mcdc_errf(&w->final, MCDC_EREMOTE,
                      "etcd watch \"%s\": revision %lld has been compacted (compacted up to %lld): reload and "
                      "watch again",
                      w->prefix, (long long)w->resume_rev, (long long)r->compact_revision);
            protobuf_c_message_free_unpacked(m, NULL);
            drop_stream(w);
            return fail_for_good(w, err);
        }
        if (r->canceled) {
            mcdc_errf(&serr, MCDC_EREMOTE, "%s %s: watch canceled by the server: %s",
                      rpc_channel_target(w->c->chans[w->ep]), ETCD_M_WATCH,
                      r->cancel_reason && *r->cancel_reason ? r->cancel_reason : "(no reason given)");
            protobuf_c_message_free_unpacked(m, NULL);
            if (stream_broke(w, &serr, err)) return -1;
            continue;
        }
        if (r->created) {
            w->created = true;
            mcdc_backoff_reset(&w->bo);
            if (w->failures)
                log_info("etcd watch \"%s\": resumed at revision %lld", w->prefix, (long long)w->resume_rev);
            w->failures = 0;
            if (w->resume_rev == 0 && r->header) {
                /* "From now": now is the revision the server answered at. */
                w->last_rev = r->header->revision;
                w->resume_rev = r->header->revision + 1;
            }
        } else if (r->n_events == 0 && r->header && r->header->revision >= w->resume_rev) {
            /* A timed progress notification: etcd sends it only to watchers
             * that are caught up, through the same queue as events, so every
             * event up to header.revision has been delivered. (Progress on
             * request was not ordered with events before etcd 3.4.25 and
             * 3.5.8, etcd-io/etcd#15220; we never request it.) */
            w->resume_rev = r->header->revision + 1;
        }
        size_t n = take_events(w, r);
        if (n) {
            w->resp = m;
            return (int)n;
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (until_created && w->created) return 0;
    }
}

static void watch_free(etcd_watch *w) {
    drop_stream(w);
    free_batch(w);
    free(w->events);
    mcdc_buf_free(&w->key);
    mcdc_buf_free(&w->end);
    free(w->prefix);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

etcd_watch *etcd_watch_open(etcd_client *c, const char *prefix, int64_t start_revision, bool prev_kv, mcdc_err *err) {
    etcd_watch *w = mcdc_xcalloc(1, sizeof *w);
    w->c = c;
    w->prefix = mcdc_xstrdup(prefix);
    w->prev_kv = prev_kv;
    w->last_rev = start_revision > 0 ? start_revision - 1 : 0;
    w->resume_rev = start_revision > 0 ? start_revision : 0;
    pthread_mutex_init(&w->mu, NULL);
    etcd_cond_init(&w->cv);
    atomic_init(&w->canceled, false);
    mcdc_backoff_init(&w->bo, 100, 1000);
    /* Same range arithmetic as a prefix Range: [prefix, prefix+1). */
    size_t n = strlen(prefix);
    mcdc_buf_append(&w->end, prefix, n);
    while (w->end.len > 0 && w->end.data[w->end.len - 1] == 0xff) w->end.len--;
    if (w->end.len) w->end.data[w->end.len - 1]++;
    else mcdc_buf_putc(&w->end, 0);
    if (n) mcdc_buf_append(&w->key, prefix, n);
    else mcdc_buf_putc(&w->key, 0);

    /* Established before returning, so that "now" means now and a watch
     * that cannot work (no permission, bad revision) fails here. */
    uint64_t deadline = mcdc_now_mono_ms() + c->timeout_ms;
    int rc = pump(w, deadline, true, err);
    if (rc == 0 && !w->created) {
        if (w->last.code != MCDC_OK) {
            *err = w->last;
            mcdc_err_prefix(err, "etcd watch \"%s\": not established within %u ms", prefix, c->timeout_ms);
        } else {
            mcdc_errf(err, MCDC_ETIMEOUT, "etcd watch \"%s\": not established within %u ms", prefix, c->timeout_ms);
        }
        rc = -1;
    }
    if (rc < 0) {
        watch_free(w);
        return NULL;
    }
    return w;
}

int etcd_watch_next(etcd_watch *w, const etcd_event **events, uint32_t timeout_ms, mcdc_err *err) {
    *events = NULL;
    free_batch(w);
    int n = pump(w, mcdc_now_mono_ms() + timeout_ms, false, err);
    if (n > 0) *events = w->events;
    return n;
}

int64_t etcd_watch_compacted(const etcd_watch *w) { return w->compacted; }

int64_t etcd_watch_revision(const etcd_watch *w) { return w->last_rev; }

void etcd_watch_cancel(etcd_watch *w) {
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->canceled, true);
    if (w->s) rpc_stream_cancel(w->s);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void etcd_watch_close(etcd_watch *w) {
    if (w) watch_free(w);
}
