/* etcd_lease.c — leases: grant and revoke as plain calls, and one background
 * thread per client that keeps the chosen leases alive over a single
 * LeaseKeepAlive stream and tells, honestly, when one may have been lost. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "etcd/etcd_int.h"
#include "etcd_rpc.pb-c.h"

typedef struct lease_ent {
    int64_t id;
    int64_t ttl_s;            /* as granted */
    bool kept;                /* keepalive asked for */
    bool dead;
    uint64_t next_send_ms;
    uint64_t sent_ms;         /* oldest keepalive without an answer, 0 = none */
    uint64_t expires_ms;      /* the earliest etcd may drop it, by our count */
} lease_ent;

struct etcd_keeper {
    etcd_client *c;
    pthread_t th;
    pthread_mutex_t mu;       /* everything below */
    pthread_cond_t cv;
    bool stop;
    lease_ent *ents;
    size_t n, cap;
    rpc_stream *s;            /* only the thread opens and closes it */
};

static lease_ent *find(etcd_keeper *k, int64_t id) {
    for (size_t i = 0; i < k->n; i++)
        if (k->ents[i].id == id) return &k->ents[i];
    return NULL;
}

static lease_ent *add(etcd_keeper *k, int64_t id, int64_t ttl_s, uint64_t expires_ms) {
    lease_ent *e = find(k, id);
    if (!e) {
        if (k->n == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 8;
            k->ents = mcdc_xrealloc(k->ents, k->cap * sizeof *k->ents);
        }
        e = &k->ents[k->n++];
        memset(e, 0, sizeof *e);
        e->id = id;
    }
    e->ttl_s = ttl_s;
    e->expires_ms = expires_ms;
    e->dead = false;
    return e;
}

static void remove_ent(etcd_keeper *k, int64_t id) {
    lease_ent *e = find(k, id);
    if (e) *e = k->ents[--k->n];
}

static uint64_t refresh_interval_ms(const lease_ent *e) {
    uint64_t ms = (uint64_t)e->ttl_s * 1000 / 3;
    return ms ? ms : 100;
}

static void close_stream(etcd_keeper *k) {
    rpc_stream *s = k->s;
    k->s = NULL;
    /* Answers to what was sent on it can no longer come. */
    for (size_t i = 0; i < k->n; i++) k->ents[i].sent_ms = 0;
    pthread_mutex_unlock(&k->mu);
    rpc_stream_close(s);
    pthread_mutex_lock(&k->mu);
}

/* Called with k->mu held; returns whether any lease still needs keeping. */
static bool mark_expired(etcd_keeper *k, uint64_t now) {
    bool any = false;
    for (size_t i = 0; i < k->n; i++) {
        lease_ent *e = &k->ents[i];
        if (!e->kept || e->dead) continue;
        if (now >= e->expires_ms) {
            e->dead = true;
            log_warn("etcd lease %llx lost: not refreshed before its %lld s TTL ran out", (unsigned long long)e->id,
                     (long long)e->ttl_s);
            continue;
        }
        any = true;
    }
    return any;
}

static void *keeper_main(void *arg) {
    etcd_keeper *k = arg;
    etcd_client *c = k->c;
    mcdc_backoff bo;
    mcdc_backoff_init(&bo, 100, 2000);
    uint64_t retry_at = 0;
    size_t ep = 0;
    char *token = NULL;
    int64_t *due = NULL;
    size_t due_cap = 0;
    unsigned failures = 0; /* in a row */

    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        uint64_t now = mcdc_now_mono_ms();
        if (!mark_expired(k, now)) {
            if (k->s) close_stream(k);
            if (!k->stop) pthread_cond_wait(&k->cv, &k->mu);
            continue;
        }
        mcdc_err serr;
        if (!k->s) {
            if (now < retry_at) {
                etcd_cond_wait_until(&k->cv, &k->mu, retry_at);
                continue;
            }
            pthread_mutex_unlock(&k->mu);
            free(token);
            rpc_stream *s = etcd_stream_open(c, ETCD_M_LEASE_KEEPALIVE, &ep, &token, &serr);
            pthread_mutex_lock(&k->mu);
            if (!s) {
                retry_at = mcdc_now_mono_ms() + mcdc_backoff_next(&bo);
                continue;
            }
            k->s = s;
            if (k->stop) rpc_stream_cancel(s);
            /* Whatever fell due while we were disconnected goes out now. */
            for (size_t i = 0; i < k->n; i++) k->ents[i].next_send_ms = now;
        }

        size_t n_due = 0;
        uint64_t wake = now + 500; /* new leases and shutdown are noticed this soon */
        for (size_t i = 0; i < k->n; i++) {
            lease_ent *e = &k->ents[i];
            if (!e->kept || e->dead) continue;
            if (e->next_send_ms <= now) {
                if (n_due == due_cap) {
                    due_cap = due_cap ? 2 * due_cap : 16;
                    due = mcdc_xrealloc(due, due_cap * sizeof *due);
                }
                due[n_due++] = e->id;
                e->next_send_ms = now + refresh_interval_ms(e);
                if (!e->sent_ms) e->sent_ms = now;
            }
            if (e->next_send_ms < wake) wake = e->next_send_ms;
            if (e->expires_ms < wake) wake = e->expires_ms;
        }
        rpc_stream *s = k->s;
        pthread_mutex_unlock(&k->mu);

        int rc = 1;
        for (size_t i = 0; i < n_due && rc > 0; i++) {
            Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
            req.id = due[i];
            if (rpc_stream_send(s, &req.base, &serr)) rc = -1;
        }
        ProtobufCMessage *m = NULL;
        if (rc > 0) {
            now = mcdc_now_mono_ms();
            rc = rpc_stream_recv(s, &etcdserverpb__lease_keep_alive_response__descriptor, &m,
                                 wake > now ? (uint32_t)(wake - now) : 1, &serr);
        }

        pthread_mutex_lock(&k->mu);
        if (rc > 0) {
            Etcdserverpb__LeaseKeepAliveResponse *r = (Etcdserverpb__LeaseKeepAliveResponse *)m;
            lease_ent *e = find(k, r->id);
            if (e && e->kept && !e->dead) {
                if (r->ttl <= 0) {
                    e->dead = true;
                    log_warn("etcd lease %llx lost: etcd no longer has it", (unsigned long long)r->id);
                } else {
                    /* Counted from when the request left, not when the answer
                     * came: etcd may have renewed it any time in between. */
                    uint64_t from = e->sent_ms ? e->sent_ms : mcdc_now_mono_ms();
                    e->expires_ms = from + (uint64_t)r->ttl * 1000;
                    e->sent_ms = 0;
                }
            }
            protobuf_c_message_free_unpacked(m, NULL);
            mcdc_backoff_reset(&bo);
            if (failures) log_info("etcd lease keepalive: reconnected");
            failures = 0;
        } else if (rc < 0) {
            close_stream(k);
            if (k->stop) break;
            pthread_mutex_unlock(&k->mu);
            int again = etcd_stream_failed(c, ep, token, &serr) == 0;
            pthread_mutex_lock(&k->mu);
            uint32_t delay = mcdc_backoff_next(&bo);
            retry_at = mcdc_now_mono_ms() + delay;
            /* There is nobody to return an error to: complain (the first time
             * and every tenth) and keep trying; the leases' deadlines decide
             * when they count as lost. */
            if (failures++ % 10 == 0)
                log_warn("etcd lease keepalive: %s; %s (attempt %u)", serr.msg,
                         again ? "reconnecting" : "trying again", failures);
        }
    }
    if (k->s) close_stream(k);
    pthread_mutex_unlock(&k->mu);
    free(token);
    free(due);
    return NULL;
}

static etcd_keeper *keeper_get(etcd_client *c, bool create, mcdc_err *err) {
    pthread_mutex_lock(&c->mu);
    etcd_keeper *k = c->keeper;
    if (!k && create) {
        k = mcdc_xcalloc(1, sizeof *k);
        k->c = c;
        pthread_mutex_init(&k->mu, NULL);
        etcd_cond_init(&k->cv);
        if (pthread_create(&k->th, NULL, keeper_main, k) != 0) {
            pthread_cond_destroy(&k->cv);
            pthread_mutex_destroy(&k->mu);
            free(k);
            k = NULL;
            mcdc_errf(err, MCDC_EINTERNAL, "etcd lease keepalive: cannot start thread");
        } else {
            c->keeper = k;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return k;
}

void etcd_lease_shutdown(etcd_client *c) {
    etcd_keeper *k = c->keeper;
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    if (k->s) rpc_stream_cancel(k->s);
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->th, NULL);
    free(k->ents);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
    c->keeper = NULL;
}

int etcd_lease_grant(etcd_client *c, int64_t ttl_s, int64_t *lease, mcdc_err *err) {
    *lease = 0;
    etcd_keeper *k = keeper_get(c, true, err);
    if (!k) return -1;
    uint64_t asked = mcdc_now_mono_ms();
    Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
    req.ttl = ttl_s;
    ProtobufCMessage *m;
    if (etcd_call(c, ETCD_M_LEASE_GRANT, &req.base, &etcdserverpb__lease_grant_response__descriptor, &m, NULL, err)) {
        mcdc_err_prefix(err, "etcd lease grant (TTL %lld s)", (long long)ttl_s);
        return -1;
    }
    Etcdserverpb__LeaseGrantResponse *r = (Etcdserverpb__LeaseGrantResponse *)m;
    int rc = 0;
    if (r->error && *r->error) {
        rc = mcdc_errf(err, MCDC_EREMOTE, "etcd lease grant (TTL %lld s): %s", (long long)ttl_s, r->error);
    } else {
        *lease = r->id;
        pthread_mutex_lock(&k->mu);
        add(k, r->id, r->ttl, asked + (uint64_t)r->ttl * 1000);
        pthread_mutex_unlock(&k->mu);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int etcd_lease_keepalive(etcd_client *c, int64_t lease, mcdc_err *err) {
    etcd_keeper *k = keeper_get(c, true, err);
    if (!k) return -1;
    pthread_mutex_lock(&k->mu);
    bool known = find(k, lease) != NULL;
    pthread_mutex_unlock(&k->mu);
    if (!known) {
        /* Granted elsewhere (another process, an earlier run): ask etcd for
         * its TTL, which also tells whether it still exists. */
        uint64_t asked = mcdc_now_mono_ms();
        Etcdserverpb__LeaseTimeToLiveRequest req = ETCDSERVERPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
        req.id = lease;
        ProtobufCMessage *m;
        if (etcd_call(c, ETCD_M_LEASE_TTL, &req.base, &etcdserverpb__lease_time_to_live_response__descriptor, &m,
                      NULL, err)) {
            mcdc_err_prefix(err, "etcd lease %llx", (unsigned long long)lease);
            return -1;
        }
        Etcdserverpb__LeaseTimeToLiveResponse *r = (Etcdserverpb__LeaseTimeToLiveResponse *)m;
        int64_t ttl = r->ttl, granted = r->granted_ttl;
        protobuf_c_message_free_unpacked(m, NULL);
        if (ttl <= 0)
            return mcdc_errf(err, MCDC_ENOTFOUND, "etcd lease %llx: not found (expired or revoked)",
                             (unsigned long long)lease);
        pthread_mutex_lock(&k->mu);
        if (!find(k, lease)) add(k, lease, granted > 0 ? granted : ttl, asked + (uint64_t)ttl * 1000);
        pthread_mutex_unlock(&k->mu);
    }
    pthread_mutex_lock(&k->mu);
    lease_ent *e = find(k, lease);
    int rc = 0;
    if (!e) {
        rc = mcdc_errf(err, MCDC_ENOTFOUND, "etcd lease %llx: revoked meanwhile", (unsigned long long)lease);
    } else if (e->dead || mcdc_now_mono_ms() >= e->expires_ms) {
        rc = mcdc_errf(err, MCDC_ENOTFOUND, "etcd lease %llx: already expired", (unsigned long long)lease);
    } else if (!e->kept) {
        e->kept = true;
        /* First refresh at once: the lease may be well into its TTL. */
        e->next_send_ms = mcdc_now_mono_ms();
        pthread_cond_broadcast(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

bool etcd_lease_alive(etcd_client *c, int64_t lease) {
    etcd_keeper *k = keeper_get(c, false, NULL);
    if (!k) return false;
    pthread_mutex_lock(&k->mu);
    lease_ent *e = find(k, lease);
    bool alive = e && !e->dead && mcdc_now_mono_ms() < e->expires_ms;
    pthread_mutex_unlock(&k->mu);
    return alive;
}

int etcd_lease_revoke(etcd_client *c, int64_t lease, mcdc_err *err) {
    etcd_keeper *k = keeper_get(c, false, NULL);
    if (k) {
        pthread_mutex_lock(&k->mu);
        remove_ent(k, lease);
        pthread_mutex_unlock(&k->mu);
    }
    Etcdserverpb__LeaseRevokeRequest req = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
    req.id = lease;
    ProtobufCMessage *m;
    if (etcd_call(c, ETCD_M_LEASE_REVOKE, &req.base, &etcdserverpb__lease_revoke_response__descriptor, &m, NULL,
                  err)) {
        /* Gone already (expired, or a retried revoke that had landed) is
         * what the caller wanted. */
        if (err && err->code == MCDC_ENOTFOUND) return 0;
        mcdc_err_prefix(err, "etcd lease revoke %llx", (unsigned long long)lease);
        return -1;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
