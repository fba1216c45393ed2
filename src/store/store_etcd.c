/* store_etcd.c — the etcd backend of store.h (its table of functions is
 * ETCD_OPS, store_int.h): one store shared by every `mcdc serve` with the
 * same prefix (design.md §10). This file holds the instance: its lease, its
 * registration, which tasks it owns, and the watch that tells it what other
 * instances did; the tasks' data is store_etcd_data.c, keys and values
 * store_etcd_keys.c (the layout: store_etcd_int.h).
 *
 * Durability. etcd answers a Put or Txn only after the change is committed
 * by a quorum of members, each of which has appended it to its write-ahead
 * log and fsynced that log; so a save that returned survives kill -9 of
 * mcdc, of etcd, and a host crash (of a minority of members), as the
 * SQLite store's synchronous=FULL does (design.md §2: intent before the
 * send, checkpoint after the acknowledgement).
 *
 * Ownership. Each instance holds one lease (TTL lease_ttl_s, kept alive on
 * the etcd client's keepalive thread) and registers instances/<id> under
 * it. Owning a task is owners/<task> = this instance's id under this lease;
 * every write of a task's state is one Txn that compares both (es_guarded),
 * so an instance whose lease ended — process paused, cut off from etcd —
 * cannot move a checkpoint after another one took the task: etcd deleted
 * its owner keys with the lease, and the compare fails. When this
 * instance's lease is lost, it forgets every task it owned, revokes what
 * is left of the old lease, takes a new one and registers again; the task
 * manager learns it from store_task_owned (false at once: no network) and
 * from store_wait_change (1).
 *
 * The watcher thread follows tasks/ and owners/ only (positions change many
 * times a second and concern nobody else) and turns what other instances
 * did into store_wait_change's 1: a task created, changed or deleted, an
 * owner key set or deleted (lease expiry). A write of our own is told apart
 * by its value (owners: our id; tasks: the "by" field); a doubt counts as a
 * change, since a spurious 1 only makes the caller re-read. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/store_etcd_int.h"

/* How often the watcher looks at the lease and switches between watches:
 * an owner's death is seen within about this after etcd expires it. */
#define WATCH_SLICE_MS 100

/* ---- the set of owned tasks ---- */

static ssize_t owned_find(const etcd_store *s, const char *id) {
    for (size_t i = 0; i < s->n_owned; i++)
        if (strcmp(s->owned[i].id, id) == 0) return (ssize_t)i;
    return -1;
}

/* With s->mu held: forgets the task if it became ours before revision
 * `before` (INT64_MAX: whenever); whether it did. */
static bool owned_drop(etcd_store *s, const char *id, int64_t before) {
    ssize_t i = owned_find(s, id);
    if (i < 0 || s->owned[i].rev >= before) return false;
    free(s->owned[i].id);
    s->owned[i] = s->owned[--s->n_owned];
    return true;
}

static void owned_clear(etcd_store *s) {
    for (size_t i = 0; i < s->n_owned; i++) free(s->owned[i].id);
    s->n_owned = 0;
}

int64_t es_lease(etcd_store *s) {
    pthread_mutex_lock(&s->mu);
    int64_t l = s->lease;
    pthread_mutex_unlock(&s->mu);
    return l;
}

void es_forget(etcd_store *s, const char *task_id) {
    pthread_mutex_lock(&s->mu);
    owned_drop(s, task_id, INT64_MAX);
    pthread_mutex_unlock(&s->mu);
}

void es_remember(etcd_store *s, const char *task_id, int64_t lease, int64_t rev) {
    pthread_mutex_lock(&s->mu);
    /* Claimed under a lease that has been replaced meanwhile: that claim
     * went with the old lease. */
    if (lease == s->lease) {
        ssize_t i = owned_find(s, task_id);
        if (i >= 0) {
            if (rev > s->owned[i].rev) s->owned[i].rev = rev;
        } else {
            if (s->n_owned == s->cap_owned) {
                s->cap_owned = s->cap_owned ? 2 * s->cap_owned : 16;
                s->owned = mcdc_xrealloc(s->owned, s->cap_owned * sizeof *s->owned);
            }
            s->owned[s->n_owned++] = (struct es_owned){mcdc_xstrdup(task_id), rev};
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void es_lease_err(mcdc_err *err) {
    if (err && err->code == MCDC_ENOTFOUND && strstr(err->msg, "lease not found")) {
        err->code = MCDC_EUNAVAIL;
        mcdc_err_prefix(err, "this instance's lease ended and is being renewed; try again");
    }
}

static void set_pending(etcd_store *s) {
    pthread_mutex_lock(&s->mu);
    s->pending = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- lease and registration ---- */

/* instances/<id> = advertise URL under lease. At open (first) an existing
 * registration under another lease is another process with our id, or our
 * own previous run killed less than a TTL ago: wait for it to expire, and
 * refuse if it does not (two live instances must not share an id). */
static int register_instance(etcd_store *s, int64_t lease, bool first, mcdc_err *err) {
    mcdc_buf k = MCDC_BUF_INIT;
    const char *key = es_key(s, &k, "instances", s->instance_id, NULL);
    etcd_op put = {.type = ETCD_OP_PUT, .key = key, .value = s->advertise, .value_len = strlen(s->advertise),
                   .lease = lease};
    etcd_op get = {.type = ETCD_OP_GET, .key = key};
    etcd_cmp absent = {.key = key, .target = ETCD_CMP_CREATE, .op = ETCD_EQUAL, .number = 0};
    uint64_t wait_ms = (uint64_t)s->ttl_s * 2000 + 2000, deadline = mcdc_now_mono_ms() + wait_ms;
    int rc;
    for (;;) {
        etcd_txn_result r;
        /* After a lost lease the old registration is ours: overwrite it. */
        rc = etcd_txn(s->c, first ? &absent : NULL, first ? 1 : 0, &put, 1, &get, 1, &r, err);
        if (rc) {
            es_lease_err(err);
            mcdc_err_prefix(err, "store: registering instance %s", s->instance_id);
            break;
        }
        const etcd_kv *kv = etcd_txn_kv(&r, 0);
        bool done = r.succeeded || (kv && kv->lease == lease);
        int64_t other = kv ? kv->lease : 0;
        etcd_txn_result_free(&r);
        if (done) break;
        if (mcdc_now_mono_ms() >= deadline) {
            rc = mcdc_errf(err, MCDC_EEXIST,
                           "store: instance id %s is in use by another running mcdc (its registration %s under lease "
                           "%" PRIx64 " did not expire within %" PRIu64 " s); give each instance its own "
                           "store.instance_id",
                           s->instance_id, key, (uint64_t)other, wait_ms / 1000);
            break;
        }
        mcdc_sleep_ms(250);
    }
    mcdc_buf_free(&k);
    return rc;
}

static int take_lease(etcd_store *s, bool first, mcdc_err *err) {
    int64_t lease;
    if (etcd_lease_grant(s->c, s->ttl_s, &lease, err) || etcd_lease_keepalive(s->c, lease, err)) {
        mcdc_err_prefix(err, "store: instance %s", s->instance_id);
        return -1;
    }
    if (register_instance(s, lease, first, err)) {
        mcdc_err ignored;
        etcd_lease_revoke(s->c, lease, &ignored);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    s->lease = lease;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* The lease is gone by our count: nothing owned any more. What etcd may
 * still hold under the old lease is revoked, so other instances need not
 * wait for it to expire. */
static void renew_lease(etcd_store *s) {
    pthread_mutex_lock(&s->mu);
    int64_t old = s->lease;
    size_t n = s->n_owned;
    owned_clear(s);
    pthread_mutex_unlock(&s->mu);
    log_warn("store: instance %s lost its etcd lease %" PRIx64 "; it gives up the %zu task(s) it owned and takes a "
             "new lease", s->instance_id, (uint64_t)old, n);
    mcdc_err err;
    if (old && etcd_lease_revoke(s->c, old, &err)) log_debug("store: revoking the old lease: %s", err.msg);
    if (take_lease(s, false, &err)) {
        log_warn("%s; trying again", err.msg);
        return;
    }
    log_info("store: instance %s holds lease %" PRIx64 " now", s->instance_id, (uint64_t)es_lease(s));
    set_pending(s);
}

/* ---- the watcher ---- */

static bool mine_value(const etcd_store *s, const etcd_kv *kv) {
    size_t n = strlen(s->instance_id);
    return kv->value_len == n && memcmp(kv->value, s->instance_id, n) == 0;
}

/* The task's last writer ("by"), or false when unknown. */
static bool written_by_me(const etcd_store *s, const etcd_kv *kv) {
    es_task_val v;
    if (es_task_decode(kv->value, kv->value_len, &v)) return false;
    bool mine = strcmp(v.by, s->instance_id) == 0;
    es_task_val_free(&v);
    return mine;
}

/* Whether the event is another instance's doing (or may be). */
static bool on_event(etcd_store *s, bool tasks, size_t skip, const etcd_event *e) {
    char *id = e->kv.key_len > skip ? es_unescape(e->kv.key + skip, e->kv.key_len - skip) : NULL;
    if (!id) return true;
    bool foreign;
    int64_t rev = e->kv.mod_revision;
    pthread_mutex_lock(&s->mu);
    if (tasks) {
        foreign = e->type == ETCD_PUT ? !written_by_me(s, &e->kv) : !e->has_prev || !written_by_me(s, &e->prev);
        if (e->type == ETCD_DELETE) owned_drop(s, id, rev);
    } else if (e->type == ETCD_PUT) {
        foreign = !mine_value(s, &e->kv);
        if (foreign) owned_drop(s, id, rev);
    } else {
        /* Our own key deleted after we made it ours: lost it (the lease
         * expired in etcd, or somebody removed it). Released by us: it left
         * the set first. */
        foreign = !e->has_prev || !mine_value(s, &e->prev) || owned_drop(s, id, rev);
    }
    pthread_mutex_unlock(&s->mu);
    if (foreign)
        log_debug("store: instance %s: %s %s at revision %" PRId64 " is another's doing", s->instance_id,
                  e->type == ETCD_PUT ? "put" : "delete", e->kv.key, rev);
    free(id);
    return foreign;
}

static bool stopping(etcd_store *s) {
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* One slice of one watch: open it if it is not, deliver what came. A watch
 * that ended (compacted history, a server that canceled it) is opened again
 * from now, and since events may have been missed, that is a change. */
static void pump(etcd_store *s, etcd_watch **slot, const char *kind) {
    mcdc_buf pfx = MCDC_BUF_INIT;
    mcdc_buf_printf(&pfx, "%s%s/", s->prefix, kind);
    mcdc_err err;
    if (!*slot) {
        etcd_watch *w = etcd_watch_open(s->c, mcdc_buf_cstr(&pfx), 0, true, &err);
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        if (w && !stop) *slot = w;
        pthread_mutex_unlock(&s->mu);
        if (w && stop) etcd_watch_close(w);
        if (!w && !stop) {
            log_warn("store: %s", err.msg);
            mcdc_sleep_ms(500);
        }
        if (w && !stop) set_pending(s);
        mcdc_buf_free(&pfx);
        return;
    }
    const etcd_event *ev;
    int n = etcd_watch_next(*slot, &ev, WATCH_SLICE_MS, &err);
    if (n < 0) {
        if (!stopping(s)) log_warn("store: %s; watching %s again from now", err.msg, mcdc_buf_cstr(&pfx));
        pthread_mutex_lock(&s->mu);
        etcd_watch *w = *slot;
        *slot = NULL;
        pthread_mutex_unlock(&s->mu);
        etcd_watch_close(w);
    }
    bool changed = false;
    for (int i = 0; i < n; i++) changed |= on_event(s, strcmp(kind, "tasks") == 0, pfx.len, &ev[i]);
    if (changed) set_pending(s);
    mcdc_buf_free(&pfx);
}

static void *watcher_main(void *arg) {
    etcd_store *s = arg;
    uint64_t retry_at = 0;
    while (!stopping(s)) {
        uint64_t now = mcdc_now_mono_ms();
        if (now >= retry_at && !etcd_lease_alive(s->c, es_lease(s))) {
            renew_lease(s);
            retry_at = mcdc_now_mono_ms() + 1000;
        }
        pump(s, &s->w_tasks, "tasks");
        if (!stopping(s)) pump(s, &s->w_owners, "owners");
    }
    return NULL;
}

/* ---- ownership ---- */

static const char *etcd_instance_id(store *base) { return es_of(base)->instance_id; }

/* The advertise URL instance `id` registered, or NULL. */
static int instance_url(etcd_store *s, const uint8_t *id, size_t n, char **url, mcdc_err *err) {
    *url = NULL;
    char *owner = mcdc_xmalloc(n + 1);
    memcpy(owner, id, n);
    owner[n] = '\0';
    mcdc_buf k = MCDC_BUF_INIT;
    bool found;
    uint8_t *v = NULL;
    size_t len = 0;
    int rc = etcd_get(s->c, es_key(s, &k, "instances", owner, NULL), &found, &v, &len, NULL, err);
    if (rc) mcdc_err_prefix(err, "store: looking up instance %s", owner);
    else if (found && len) *url = (char *)v, v = NULL;
    free(v);
    free(owner);
    mcdc_buf_free(&k);
    return rc;
}

static int etcd_task_claim(store *base, const char *task_id, bool *owned, char **owner_url, mcdc_err *err) {
    etcd_store *s = es_of(base);
    mcdc_buf kt = MCDC_BUF_INIT, ko = MCDC_BUF_INIT;
    const char *task_key = es_key(s, &kt, "tasks", task_id, NULL);
    const char *owner_key = es_key(s, &ko, "owners", task_id, NULL);
    etcd_op reads[2] = {{.type = ETCD_OP_GET, .key = owner_key}, {.type = ETCD_OP_GET, .key = task_key}};
    int rc = -1;
    /* Nobody's, or ours under an earlier lease of this process (its claim
     * is taken over under the current one); again if it changed between. */
    int64_t expect_lease = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        int64_t lease = es_lease(s);
        etcd_cmp cmps[3] = {{.key = task_key, .target = ETCD_CMP_VERSION, .op = ETCD_GREATER, .number = 0}};
        size_t nc = 1;
        if (!expect_lease) {
            cmps[nc++] = (etcd_cmp){.key = owner_key, .target = ETCD_CMP_CREATE, .op = ETCD_EQUAL, .number = 0};
        } else {
            cmps[nc++] = (etcd_cmp){.key = owner_key, .target = ETCD_CMP_VALUE, .op = ETCD_EQUAL,
                                    .value = s->instance_id, .value_len = strlen(s->instance_id)};
            cmps[nc++] = (etcd_cmp){.key = owner_key, .target = ETCD_CMP_LEASE, .op = ETCD_EQUAL, .number = expect_lease};
        }
        etcd_op put = {.type = ETCD_OP_PUT, .key = owner_key, .value = s->instance_id,
                       .value_len = strlen(s->instance_id), .lease = lease};
        etcd_txn_result r;
        if (etcd_txn(s->c, cmps, nc, &put, 1, reads, 2, &r, err)) {
            es_lease_err(err);
            mcdc_err_prefix(err, "store: claiming task %s", task_id);
            goto out;
        }
        const etcd_kv *owner = etcd_txn_kv(&r, 0);
        if (r.succeeded || (owner && mine_value(s, owner) && owner->lease == lease)) {
            es_remember(s, task_id, lease, r.succeeded ? r.revision : owner->mod_revision);
            etcd_txn_result_free(&r);
            *owned = true;
            rc = 0;
            goto out;
        }
        if (!etcd_txn_kv(&r, 1)) {
            etcd_txn_result_free(&r);
            rc = mcdc_errf(err, MCDC_ENOTFOUND, "store: claiming task %s: no such task", task_id);
            goto out;
        }
        if (owner && mine_value(s, owner)) {
            expect_lease = owner->lease;
            etcd_txn_result_free(&r);
            continue;
        }
        expect_lease = 0;
        if (!owner) {
            /* Our earlier lease's claim went away before we took it over. */
            etcd_txn_result_free(&r);
            continue;
        }
        rc = owner_url ? instance_url(s, owner->value, owner->value_len, owner_url, err) : 0;
        etcd_txn_result_free(&r);
        *owned = false;
        goto out;
    }
    rc = mcdc_errf(err, MCDC_ETIMEOUT, "store: claiming task %s: its owner changed on every try", task_id);
out:
    mcdc_buf_free(&kt);
    mcdc_buf_free(&ko);
    return rc;
}

static int etcd_task_release(store *base, const char *task_id, mcdc_err *err) {
    etcd_store *s = es_of(base);
    /* Out of the set first, so the watch does not take our own delete for
     * somebody else's. */
    es_forget(s, task_id);
    mcdc_buf ko = MCDC_BUF_INIT;
    const char *owner_key = es_key(s, &ko, "owners", task_id, NULL);
    etcd_cmp mine = {.key = owner_key, .target = ETCD_CMP_VALUE, .op = ETCD_EQUAL, .value = s->instance_id,
                     .value_len = strlen(s->instance_id)};
    etcd_op del = {.type = ETCD_OP_DELETE, .key = owner_key};
    etcd_txn_result r;
    int rc = etcd_txn(s->c, &mine, 1, &del, 1, NULL, 0, &r, err);
    if (rc) mcdc_err_prefix(err, "store: releasing task %s", task_id);
    else etcd_txn_result_free(&r);
    mcdc_buf_free(&ko);
    return rc;
}

static int etcd_task_owner(store *base, const char *task_id, bool *mine, char **owner_url, mcdc_err *err) {
    etcd_store *s = es_of(base);
    mcdc_buf kt = MCDC_BUF_INIT, ko = MCDC_BUF_INIT;
    etcd_op reads[2] = {{.type = ETCD_OP_GET, .key = es_key(s, &ko, "owners", task_id, NULL)},
                        {.type = ETCD_OP_GET, .key = es_key(s, &kt, "tasks", task_id, NULL)}};
    etcd_txn_result r;
    int rc = etcd_txn(s->c, NULL, 0, reads, 2, NULL, 0, &r, err);
    if (rc) {
        mcdc_err_prefix(err, "store: looking up the owner of task %s", task_id);
    } else {
        const etcd_kv *owner = etcd_txn_kv(&r, 0);
        if (!etcd_txn_kv(&r, 1))
            rc = mcdc_errf(err, MCDC_ENOTFOUND, "store: looking up the owner of task %s: no such task", task_id);
        else if (owner && mine_value(s, owner))
            *mine = owner->lease == es_lease(s); /* else a claim of an earlier lease, about to go */
        else if (owner && owner_url)
            rc = instance_url(s, owner->value, owner->value_len, owner_url, err);
        etcd_txn_result_free(&r);
    }
    mcdc_buf_free(&kt);
    mcdc_buf_free(&ko);
    return rc;
}

static bool etcd_task_owned(store *base, const char *task_id) {
    etcd_store *s = es_of(base);
    pthread_mutex_lock(&s->mu);
    bool owned = owned_find(s, task_id) >= 0 && etcd_lease_alive(s->c, s->lease);
    pthread_mutex_unlock(&s->mu);
    return owned;
}

static int etcd_wait_change(store *base, uint32_t timeout_ms, mcdc_err *err) {
    (void)err;
    etcd_store *s = es_of(base);
    uint64_t deadline = mcdc_now_mono_ms() + timeout_ms;
    pthread_mutex_lock(&s->mu);
    while (!s->pending && !s->stop) {
        uint64_t now = mcdc_now_mono_ms();
        if (now >= deadline) break;
        struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000L};
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int changed = s->pending ? 1 : 0;
    s->pending = false;
    pthread_mutex_unlock(&s->mu);
    return changed;
}

/* ---- open / close ---- */

static void etcd_store_close(store *base) {
    etcd_store *s = es_of(base);
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    if (s->w_tasks) etcd_watch_cancel(s->w_tasks);
    if (s->w_owners) etcd_watch_cancel(s->w_owners);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->th_started) pthread_join(s->th, NULL);
    etcd_watch_close(s->w_tasks);
    etcd_watch_close(s->w_owners);
    if (s->c && s->lease) {
        /* Every task this instance owned is free at once, not after the TTL. */
        mcdc_err err;
        if (etcd_lease_revoke(s->c, s->lease, &err))
            log_warn("store: instance %s: %s (its tasks are free once the lease expires)", s->instance_id, err.msg);
    }
    etcd_close(s->c);
    owned_clear(s);
    free(s->owned);
    free(s->prefix);
    free(s->instance_id);
    free(s->advertise);
    free(s->endpoints);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const store_ops ETCD_OPS = {
    .close = etcd_store_close,
    .task_put_new = es_task_put_new,
    .task_update = es_task_update,
    .task_set_skip = es_task_set_skip,
    .task_each = es_task_each,
    .task_delete = es_task_delete,
    .position_save = es_position_save,
    .position_each = es_position_each,
    .binding_save = es_binding_save,
    .binding_each = es_binding_each,
    .binding_delete = es_binding_delete,
    .copy_save = es_copy_save,
    .copy_each = es_copy_each,
    .copy_delete = es_copy_delete,
    .instance_id = etcd_instance_id,
    .task_claim = etcd_task_claim,
    .task_release = etcd_task_release,
    .task_owner = etcd_task_owner,
    .task_owned = etcd_task_owned,
    .wait_change = etcd_wait_change,
};

/* hostname-pid-random: unique without configuration, readable in etcdctl. */
static char *default_instance_id(void) {
    char host[256] = "mcdc";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "mcdc");
    host[sizeof host - 1] = '\0';
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (uint32_t)mcdc_now_mono_ms();
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "%s-%ld-%08x", host, (long)getpid(), rnd);
    char *id = mcdc_xstrdup(mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    return id;
}

store *store_open_etcd(const store_etcd_config *cfg, mcdc_err *err) {
    if (!cfg || !cfg->etcd.endpoints || !cfg->etcd.endpoints[0]) {
        mcdc_errf(err, MCDC_EINVAL, "store: etcd: no endpoints configured (store.endpoints)");
        return NULL;
    }
    etcd_store *s = mcdc_xcalloc(1, sizeof *s);
    s->base.ops = &ETCD_OPS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* wait_change's deadline is monotonic */
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);

    const char *p = cfg->prefix && cfg->prefix[0] ? cfg->prefix : "mcdc";
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_append(&b, p, n);
    mcdc_buf_putc(&b, '/');
    s->prefix = mcdc_xstrdup(mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    s->instance_id = cfg->instance_id && cfg->instance_id[0] ? mcdc_xstrdup(cfg->instance_id) : default_instance_id();
    s->advertise = mcdc_xstrdup(cfg->advertise ? cfg->advertise : "");
    s->ttl_s = cfg->lease_ttl_s ? cfg->lease_ttl_s : 5;
    s->endpoints = mcdc_xstrdup(cfg->etcd.endpoints);

    if (!(s->c = etcd_open(&cfg->etcd, err))) {
        /* Down, or no answer in time: the same to an operator starting mcdc. */
        if (mcdc_err_is_transient(err->code)) err->code = MCDC_EUNAVAIL;
        if (strstr(err->msg, s->endpoints)) mcdc_err_prefix(err, "store");
        else mcdc_err_prefix(err, "store: etcd %s", s->endpoints);
        goto fail;
    }
    if (take_lease(s, true, err)) goto fail;
    /* Opened here, so that what others do from now on is seen (the watcher
     * thread only reopens them). */
    for (int i = 0; i < 2; i++) {
        const char *kind = i ? "owners" : "tasks";
        mcdc_buf w = MCDC_BUF_INIT;
        mcdc_buf_printf(&w, "%s%s/", s->prefix, kind);
        etcd_watch *wt = etcd_watch_open(s->c, mcdc_buf_cstr(&w), 0, true, err);
        mcdc_buf_free(&w);
        if (!wt) {
            mcdc_err_prefix(err, "store");
            goto fail;
        }
        *(i ? &s->w_owners : &s->w_tasks) = wt;
    }
    if (pthread_create(&s->th, NULL, watcher_main, s) != 0) {
        mcdc_errf(err, MCDC_EINTERNAL, "store: cannot start the etcd watcher thread");
        goto fail;
    }
    s->th_started = true;
    log_info("store: etcd %s prefix %s, instance %s (%s), lease %" PRIx64 " TTL %u s", s->endpoints, s->prefix,
             s->instance_id, s->advertise[0] ? s->advertise : "no advertise URL", (uint64_t)s->lease, s->ttl_s);
    return &s->base;
fail:
    etcd_store_close(&s->base);
    return NULL;
}
