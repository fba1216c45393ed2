/* catalog.c — the catalog of catalog.h: loading it at one etcd revision,
 * following it with a watch on its own thread, and the lookups readers make.
 * The module's other files, sharing catalog_int.h: catalog_keys.c (what one
 * etcd key means), catalog_snap.c (the snapshots handed out) and
 * catalog_state.c (indexes and load state, read on demand). */
#include "source/catalog.h"
#include "source/catalog_int.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/idmap.h"
#include "base/log.h"

/* ---- load and follow --------------------------------------------------------- */

static int load_fn(void *ud, const etcd_kv *kv) {
    catalog *c = ud;
    catalog_apply_key(c, kv->key, kv->key_len, kv->value, kv->value_len);
    return 0;
}

/* (Re)loads everything at one revision and opens the watch right after it. */
static int load(catalog *c, mcdc_err *err) {
    int64_t rev = 0;
    pthread_mutex_lock(&c->mu);
    /* After a compaction we start over: anything we knew may have changed.
     * Dropped collections survive the reload as long as the range still has
     * them; ids the range lacks are kept as dropped so old WAL stays nameable. */
    void *v;
    for (size_t it = 0; idmap_next(&c->colls, &it, NULL, &v);) {
        coll_rec *r = v;
        r->gone = true;
        catalog_snap_invalidate(r);
    }
    catalog_aliases_unconfirm(c);
    int rc = etcd_range_prefix(c->etcd, c->prefix, 0, load_fn, c, &rev, err);
    if (rc == 0) {
        c->revision = rev;
        catalog_aliases_drop_unconfirmed(c);
    }
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
    if (rc) {
        mcdc_err_prefix(err, "loading the source catalog under %s", c->prefix);
        return -1;
    }
    if (c->watch) etcd_watch_close(c->watch);
    c->watch = etcd_watch_open(c->etcd, c->prefix, rev + 1, false, err);
    if (!c->watch) {
        mcdc_err_prefix(err, "watching the source catalog under %s", c->prefix);
        return -1;
    }
    return 0;
}

static void *follow(void *arg) {
    catalog *c = arg;
    mcdc_err err;
    while (!atomic_load(&c->stop)) {
        const etcd_event *ev;
        int n = etcd_watch_next(c->watch, &ev, 500, &err);
        if (n < 0) {
            if (atomic_load(&c->stop)) break;
            if (etcd_watch_compacted(c->watch)) {
                log_warn("catalog: watch revision compacted at %" PRId64 "; reloading", etcd_watch_compacted(c->watch));
            } else {
                log_warn("catalog: watch ended: %s; reopening", err.msg);
            }
            pthread_mutex_lock(&c->mu);
            snprintf(c->last_error, sizeof c->last_error, "%s", err.msg);
            pthread_mutex_unlock(&c->mu);
            while (!atomic_load(&c->stop) && load(c, &err)) {
                pthread_mutex_lock(&c->mu);
                snprintf(c->last_error, sizeof c->last_error, "%s", err.msg);
                pthread_mutex_unlock(&c->mu);
                mcdc_sleep_ms(1000);
            }
            continue;
        }
        if (n == 0) continue;
        pthread_mutex_lock(&c->mu);
        for (int i = 0; i < n; i++) {
            const etcd_event *e = &ev[i];
            catalog_apply_key(c, e->kv.key, e->kv.key_len, e->type == ETCD_PUT ? e->kv.value : NULL,
                      e->type == ETCD_PUT ? e->kv.value_len : 0);
            if (e->kv.mod_revision > c->revision) c->revision = e->kv.mod_revision;
        }
        c->last_error[0] = '\0';
        pthread_cond_broadcast(&c->changed);
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

catalog *catalog_new_detached(const char *root_path) {
    catalog *c = mcdc_xcalloc(1, sizeof *c);
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "%s/meta/root-coord/", root_path);
    c->prefix = mcdc_xstrdup(mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->changed, NULL);
    return c;
}

void catalog_apply_kv(catalog *c, const char *key, size_t key_len, const uint8_t *val, size_t val_len) {
    pthread_mutex_lock(&c->mu);
    catalog_apply_key(c, key, key_len, val, val_len);
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
}

catalog *catalog_open(etcd_client *etcd, const char *root_path, mcdc_err *err) {
    catalog *c = catalog_new_detached(root_path);
    c->etcd = etcd;
    if (load(c, err)) {
        catalog_close(c);
        return NULL;
    }
    if (pthread_create(&c->thread, NULL, follow, c) != 0) {
        mcdc_errf(err, MCDC_EINTERNAL, "catalog: cannot start the watch thread");
        catalog_close(c);
        return NULL;
    }
    return c;
}

void catalog_close(catalog *c) {
    if (!c) return;
    atomic_store(&c->stop, true);
    if (c->watch) etcd_watch_cancel(c->watch);
    if (c->thread) pthread_join(c->thread, NULL);
    if (c->watch) etcd_watch_close(c->watch);
    catalog_free_recs(c);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->changed);
    free(c->prefix);
    free(c);
}

/* ---- lookups ----------------------------------------------------------------- */

catalog_coll *catalog_get(catalog *c, int64_t id) {
    pthread_mutex_lock(&c->mu);
    coll_rec *r = idmap_get(&c->colls, id);
    catalog_coll *s = (r && (r->info || r->gone)) ? catalog_snap_of(c, r) : NULL;
    pthread_mutex_unlock(&c->mu);
    return s;
}

static bool live(const coll_rec *r) {
    return r->info && !r->gone && ((int)r->info->state == CATALOG_CREATED || (int)r->info->state == CATALOG_CREATING);
}

static int64_t db_id_of(catalog *c, const char *db) {
    if (!db || !db[0]) db = "default";
    void *v;
    int64_t id;
    for (size_t it = 0; idmap_next(&c->dbs, &it, &id, &v);)
        if (strcmp(v, db) == 0) return id;
    /* A fresh Milvus may not have written db-info for "default" yet. */
    return strcmp(db, "default") == 0 ? 1 : -1;
}

catalog_coll *catalog_find(catalog *c, const char *db, const char *name) {
    pthread_mutex_lock(&c->mu);
    int64_t dbid = db_id_of(c, db);
    catalog_coll *s = NULL;
    void *v;
    for (size_t it = 0; !s && idmap_next(&c->colls, &it, NULL, &v);) {
        coll_rec *r = v;
        if (live(r) && r->db_id == dbid && r->info->schema && strcmp(r->info->schema->name, name) == 0) s = catalog_snap_of(c, r);
    }
    for (alias_rec *a = c->aliases; !s && a; a = a->next) {
        if (!a->dropped && a->db_id == dbid && strcmp(a->name, name) == 0) {
            coll_rec *r = idmap_get(&c->colls, a->coll_id);
            if (r && live(r)) s = catalog_snap_of(c, r);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return s;
}

size_t catalog_list(catalog *c, const char *db, catalog_coll ***out) {
    pthread_mutex_lock(&c->mu);
    int64_t dbid = (db && db[0]) ? db_id_of(c, db) : -2;
    size_t n = 0, cap = idmap_count(&c->colls);
    catalog_coll **list = mcdc_xcalloc(cap ? cap : 1, sizeof *list);
    void *v;
    for (size_t it = 0; idmap_next(&c->colls, &it, NULL, &v);) {
        coll_rec *r = v;
        if (live(r) && (dbid == -2 || r->db_id == dbid)) list[n++] = catalog_snap_of(c, r);
    }
    pthread_mutex_unlock(&c->mu);
    *out = list;
    return n;
}

size_t catalog_list_held(catalog *c, catalog_coll ***out) {
    pthread_mutex_lock(&c->mu);
    size_t n = 0, cap = idmap_count(&c->colls);
    catalog_coll **list = mcdc_xcalloc(cap ? cap : 1, sizeof *list);
    void *v;
    for (size_t it = 0; idmap_next(&c->colls, &it, NULL, &v);) {
        coll_rec *r = v;
        if (live(r) || (r->info && !r->gone && (int)r->info->state == CATALOG_DROPPING)) list[n++] = catalog_snap_of(c, r);
    }
    pthread_mutex_unlock(&c->mu);
    *out = list;
    return n;
}

const catalog_start *catalog_start_on(const catalog_coll *cc, const char *pchannel) {
    for (size_t i = 0; cc && i < cc->n_starts; i++)
        if (strcmp(cc->starts[i].pchannel, pchannel) == 0) return &cc->starts[i];
    return NULL;
}

typedef struct probe_ctx {
    char suffix[32];
    size_t suffix_len;
    bool found;
} probe_ctx;

static int probe_fn(void *ud, const etcd_kv *kv) {
    probe_ctx *p = ud;
    if (kv->key_len >= p->suffix_len && memcmp(kv->key + kv->key_len - p->suffix_len, p->suffix, p->suffix_len) == 0 &&
        !catalog_is_tombstone(kv->value, kv->value_len))
        p->found = true;
    return 0;
}

int catalog_probe(catalog *c, int64_t id, bool *exists, mcdc_err *err) {
    *exists = false;
    if (!c->etcd) return mcdc_errf(err, MCDC_EUNAVAIL, "catalog: no etcd to ask about collection %" PRId64, id);
    /* Both key layouts (spec/etcd-meta.md §2): collection-info/{db}/{id} and
     * the legacy collection/{id}. */
    probe_ctx p;
    snprintf(p.suffix, sizeof p.suffix, "/%" PRId64, id);
    p.suffix_len = strlen(p.suffix);
    p.found = false;
    const char *sub[] = {"database/collection-info/", "collection/"};
    mcdc_buf b = MCDC_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0 && !p.found; i++) {
        mcdc_buf_reset(&b);
        mcdc_buf_printf(&b, "%s%s", c->prefix, sub[i]);
        rc = etcd_range_prefix(c->etcd, mcdc_buf_cstr(&b), 0, probe_fn, &p, NULL, err);
    }
    mcdc_buf_free(&b);
    if (rc) {
        mcdc_err_prefix(err, "asking etcd about collection %" PRId64, id);
        return -1;
    }
    *exists = p.found;
    return 0;
}

void catalog_release_list(catalog_coll **list, size_t n) {
    for (size_t i = 0; i < n; i++) catalog_release(list[i]);
    free(list);
}

const char *catalog_db_name(catalog *c, int64_t db_id, char *buf, size_t cap) {
    pthread_mutex_lock(&c->mu);
    const char *n = idmap_get(&c->dbs, db_id);
    snprintf(buf, cap, "%s", n ? n : (db_id == 1 || db_id == 0 ? "default" : ""));
    pthread_mutex_unlock(&c->mu);
    return buf;
}

bool catalog_has_db(catalog *c, const char *db) {
    pthread_mutex_lock(&c->mu);
    bool ok = db_id_of(c, db) >= 0;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

int64_t catalog_revision(catalog *c) {
    pthread_mutex_lock(&c->mu);
    int64_t r = c->revision;
    pthread_mutex_unlock(&c->mu);
    return r;
}

bool catalog_wait_collection(catalog *c, int64_t id, uint32_t timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    bool ok;
    for (;;) {
        coll_rec *r = idmap_get(&c->colls, id);
        ok = r && r->info && (r->gone || (int)r->info->state != CATALOG_CREATING);
        if (ok) break;
        if (pthread_cond_timedwait(&c->changed, &c->mu, &until) != 0) break;
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

void catalog_last_error(catalog *c, char *buf, size_t cap) {
    pthread_mutex_lock(&c->mu);
    snprintf(buf, cap, "%s", c->last_error);
    pthread_mutex_unlock(&c->mu);
}

void catalog_set_stamp(catalog *c, uint64_t ts) {
    pthread_mutex_lock(&c->mu);
    c->fixed_stamp = ts;
    pthread_mutex_unlock(&c->mu);
}

size_t catalog_aliases(catalog *c, catalog_alias **out) {
    pthread_mutex_lock(&c->mu);
    size_t n = 0;
    for (alias_rec *a = c->aliases; a; a = a->next) n++;
    catalog_alias *list = mcdc_xcalloc(n ? n : 1, sizeof *list);
    size_t k = 0;
    for (alias_rec *a = c->aliases; a; a = a->next)
        list[k++] = (catalog_alias){.db_id = a->db_id, .name = mcdc_xstrdup(a->name), .collection_id = a->coll_id,
                                    .ts = a->ts, .dropped = a->dropped};
    pthread_mutex_unlock(&c->mu);
    *out = list;
    return n;
}

void catalog_aliases_free(catalog_alias *list, size_t n) {
    for (size_t i = 0; i < n; i++) free(list[i].name);
    free(list);
}

const catalog_partition *catalog_partition_by_id(const catalog_coll *cc, int64_t partition_id) {
    for (size_t i = 0; i < cc->n_partitions; i++)
        if (cc->partitions[i].id == partition_id) return &cc->partitions[i];
    return NULL;
}
