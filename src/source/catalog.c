/* catalog.c — see catalog.h. */
#include "source/catalog.h"
#include "source/catalog_int.h"

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
#include "etcd_meta.pb-c.h"
#include "index_coord.pb-c.h"
#include "query_coord.pb-c.h"

/* SuffixSnapshot writes this value instead of deleting (spec/etcd-meta.md §3). */
static const uint8_t TOMBSTONE[] = {0xE2, 0x9B, 0xBC};

static bool is_tombstone(const uint8_t *val, size_t len) {
    return val && len == sizeof TOMBSTONE && memcmp(val, TOMBSTONE, sizeof TOMBSTONE) == 0;
}

typedef struct alias_rec {
    int64_t db_id;
    char *name;
    int64_t coll_id;
    struct alias_rec *next;
} alias_rec;

/* What etcd says about one collection id; any of its parts may come first. */
typedef struct coll_rec {
    int64_t id;
    int64_t db_id;
    Milvus__Proto__Etcd__CollectionInfo *info;    /* NULL until its key is seen */
    bool gone;                                    /* its key was deleted/tombstoned */
    idmap fields;                                 /* field id -> FieldSchema* */
    idmap parts;                                  /* partition id -> PartitionInfo* */
    catalog_coll *snap;                           /* cached, rebuilt after a change */
} coll_rec;

struct catalog {
    etcd_client *etcd;
    char *prefix;                                 /* "<root>/meta/root-coord/" */
    pthread_mutex_t mu;
    pthread_cond_t changed;
    idmap colls;                                  /* id -> coll_rec* */
    idmap dbs;                                    /* id -> char* name (live only) */
    alias_rec *aliases;
    int64_t revision;
    etcd_watch *watch;
    pthread_t thread;
    _Atomic bool stop;
    char last_error[MCDC_ERR_MSG_MAX];
};

/* ---- snapshots --------------------------------------------------------------- */

static void snap_free(catalog_coll *s) {
    free(s->name);
    free(s->db_name);
    if (s->schema) milvus__proto__schema__collection_schema__free_unpacked(s->schema, NULL);
    for (size_t i = 0; i < s->n_partitions; i++) free(s->partitions[i].name);
    free(s->partitions);
    for (size_t i = 0; i < s->n_channels; i++) {
        free(s->vchannels[i]);
        free(s->pchannels[i]);
    }
    free(s->vchannels);
    free(s->pchannels);
    for (size_t i = 0; i < s->n_starts; i++) {
        free(s->starts[i].pchannel);
        free(s->starts[i].msgid);
    }
    free(s->starts);
    for (size_t i = 0; i < s->n_aliases; i++) free(s->aliases[i]);
    free(s->aliases);
    free(s);
}

void catalog_release(catalog_coll *cc) {
    if (cc && atomic_fetch_sub_explicit((_Atomic int *)&cc->refs, 1, memory_order_acq_rel) == 1) snap_free(cc);
}

static catalog_coll *snap_ref(catalog_coll *cc) {
    atomic_fetch_add_explicit((_Atomic int *)&cc->refs, 1, memory_order_relaxed);
    return cc;
}

static int cmp_field(const void *a, const void *b) {
    const Milvus__Proto__Schema__FieldSchema *x = *(Milvus__Proto__Schema__FieldSchema *const *)a;
    const Milvus__Proto__Schema__FieldSchema *y = *(Milvus__Proto__Schema__FieldSchema *const *)b;
    /* user fields (>= 100) in id order first, system fields after, as Milvus lists them */
    int64_t kx = x->field_id < 100 ? x->field_id + INT64_MAX / 2 : x->field_id;
    int64_t ky = y->field_id < 100 ? y->field_id + INT64_MAX / 2 : y->field_id;
    return kx < ky ? -1 : kx > ky;
}

static int cmp_part(const void *a, const void *b) {
    const catalog_partition *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Called with the lock held. */
static catalog_coll *build_snap(catalog *c, coll_rec *r) {
    catalog_coll *s = mcdc_xcalloc(1, sizeof *s);
    s->refs = 1;
    s->id = r->id;
    s->db_id = r->db_id;
    s->revision = c->revision;
    Milvus__Proto__Etcd__CollectionInfo *info = r->info;
    const char *dbn = idmap_get(&c->dbs, r->db_id);
    s->db_name = mcdc_xstrdup(dbn ? dbn : (r->db_id == 1 || r->db_id == 0 ? "default" : ""));
    s->state = r->gone ? CATALOG_DROPPED : (info ? (int)info->state : CATALOG_CREATING);

    /* The schema: pack a CollectionSchema that borrows the stored fields, then
     * unpack it, which yields one self-contained copy the snapshot owns. */
    Milvus__Proto__Schema__CollectionSchema tmp = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    if (info && info->schema) {
        tmp.name = info->schema->name;
        tmp.description = info->schema->description;
        tmp.auto_id = info->schema->auto_id;
        tmp.enable_dynamic_field = info->schema->enable_dynamic_field;
    }
    size_t nf = idmap_count(&r->fields);
    Milvus__Proto__Schema__FieldSchema **fields = mcdc_xcalloc(nf ? nf : 1, sizeof *fields);
    size_t k = 0;
    void *v;
    for (size_t it = 0; idmap_next(&r->fields, &it, NULL, &v);) fields[k++] = v;
    qsort(fields, k, sizeof *fields, cmp_field);
    tmp.n_fields = k;
    tmp.fields = fields;
    size_t len = milvus__proto__schema__collection_schema__get_packed_size(&tmp);
    uint8_t *bytes = mcdc_xmalloc(len ? len : 1);
    milvus__proto__schema__collection_schema__pack(&tmp, bytes);
    s->schema = milvus__proto__schema__collection_schema__unpack(NULL, len, bytes);
    free(bytes);
    free(fields);
    s->name = mcdc_xstrdup(s->schema && s->schema->name ? s->schema->name : "");
    for (size_t i = 0; s->schema && i < s->schema->n_fields; i++)
        if (s->schema->fields[i]->is_primary_key) s->pk = s->schema->fields[i];

    if (info) {
        s->create_ts = info->create_time;
        s->shards_num = info->shards_num;
        s->consistency_level = (int)info->consistency_level;
        size_t nc = info->n_virtual_channel_names < info->n_physical_channel_names ? info->n_virtual_channel_names
                                                                                      : info->n_physical_channel_names;
        s->n_channels = nc;
        s->vchannels = mcdc_xcalloc(nc ? nc : 1, sizeof(char *));
        s->pchannels = mcdc_xcalloc(nc ? nc : 1, sizeof(char *));
        for (size_t i = 0; i < nc; i++) {
            s->vchannels[i] = mcdc_xstrdup(info->virtual_channel_names[i]);
            s->pchannels[i] = mcdc_xstrdup(info->physical_channel_names[i]);
        }
        s->starts = mcdc_xcalloc(info->n_start_positions ? info->n_start_positions : 1, sizeof *s->starts);
        for (size_t i = 0; i < info->n_start_positions; i++) {
            const Milvus__Proto__Common__KeyDataPair *kd = info->start_positions[i];
            if (!kd || !kd->key || kd->data.len == 0) continue;
            catalog_start *st = &s->starts[s->n_starts++];
            st->pchannel = mcdc_xstrdup(kd->key);
            st->msgid = mcdc_xmalloc(kd->data.len);
            memcpy(st->msgid, kd->data.data, kd->data.len);
            st->len = kd->data.len;
        }
    }

    size_t np = idmap_count(&r->parts);
    s->partitions = mcdc_xcalloc(np ? np : 1, sizeof *s->partitions);
    for (size_t it = 0; idmap_next(&r->parts, &it, NULL, &v);) {
        Milvus__Proto__Etcd__PartitionInfo *p = v;
        catalog_partition *cp = &s->partitions[s->n_partitions++];
        cp->id = p->partition_id;
        cp->name = mcdc_xstrdup(p->partition_name);
        cp->created_ts = p->partition_created_timestamp;
        cp->state = (int)p->state;
    }
    qsort(s->partitions, s->n_partitions, sizeof *s->partitions, cmp_part);

    for (alias_rec *a = c->aliases; a; a = a->next) {
        if (a->coll_id != r->id) continue;
        s->aliases = mcdc_xrealloc(s->aliases, (s->n_aliases + 1) * sizeof(char *));
        s->aliases[s->n_aliases++] = mcdc_xstrdup(a->name);
    }
    return s;
}

static void invalidate(coll_rec *r) {
    if (r->snap) {
        catalog_release(r->snap);
        r->snap = NULL;
    }
}

/* ---- applying keys ----------------------------------------------------------- */

static coll_rec *rec_for(catalog *c, int64_t id) {
    coll_rec *r = idmap_get(&c->colls, id);
    if (!r) {
        r = mcdc_xcalloc(1, sizeof *r);
        r->id = id;
        r->db_id = 1;
        idmap_put(&c->colls, id, r);
    }
    return r;
}

static bool parse_id(const char *s, size_t n, int64_t *out) {
    if (n == 0 || n > 19) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        /* 19 digits can pass INT64_MAX; such a key is not Milvus's. */
        if (v > (INT64_MAX - (s[i] - '0')) / 10) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Splits "a/b/c" into at most 6 parts; returns the count. */
static size_t split(const char *key, size_t len, const char **parts, size_t *lens) {
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len && n < 6; i++) {
        if (i == len || key[i] == '/') {
            parts[n] = key + start;
            lens[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

static bool is(const char *p, size_t n, const char *lit) { return strlen(lit) == n && memcmp(p, lit, n) == 0; }

static void drop_alias(catalog *c, int64_t db_id, const char *name, size_t name_len) {
    for (alias_rec **pp = &c->aliases; *pp; pp = &(*pp)->next) {
        alias_rec *a = *pp;
        if (a->db_id == db_id && strlen(a->name) == name_len && memcmp(a->name, name, name_len) == 0) {
            coll_rec *r = idmap_get(&c->colls, a->coll_id);
            if (r) invalidate(r);
            *pp = a->next;
            free(a->name);
            free(a);
            return;
        }
    }
}

/* Applies one key (value NULL = deleted). Unknown or undecodable keys are
 * logged and left out: they are Milvus's business (RBAC, legacy 2.1 aliases),
 * and a catalog that refused to load over them would stop replication of data
 * that is fine. The keys we do read are checked. */
static void apply_key(catalog *c, const char *key, size_t key_len, const uint8_t *val, size_t val_len) {
    size_t plen = strlen(c->prefix);
    if (key_len <= plen || memcmp(key, c->prefix, plen) != 0) return;
    const char *rel = key + plen;
    size_t rel_len = key_len - plen;
    if (is_tombstone(val, val_len)) val = NULL;

    const char *p[6];
    size_t l[6];
    size_t n = split(rel, rel_len, p, l);
    int64_t a, b;

    if (n == 4 && is(p[0], l[0], "database") && is(p[1], l[1], "collection-info") && parse_id(p[2], l[2], &a) &&
        parse_id(p[3], l[3], &b)) {
        goto collection; /* a = db id, b = collection id */
    }
    if (n == 2 && is(p[0], l[0], "collection") && parse_id(p[1], l[1], &b)) {
        a = 0; /* legacy layout: no database, i.e. default */
        goto collection;
    }
    if (n == 3 && is(p[0], l[0], "fields") && parse_id(p[1], l[1], &a) && parse_id(p[2], l[2], &b)) {
        coll_rec *r = rec_for(c, a);
        Milvus__Proto__Schema__FieldSchema *f =
            val ? milvus__proto__schema__field_schema__unpack(NULL, val_len, val) : NULL;
        if (val && !f) {
            log_warn("catalog: %.*s does not decode as FieldSchema; field left out", (int)key_len, key);
            return;
        }
        Milvus__Proto__Schema__FieldSchema *old = f ? idmap_put(&r->fields, b, f) : idmap_del(&r->fields, b);
        if (old) milvus__proto__schema__field_schema__free_unpacked(old, NULL);
        invalidate(r);
        return;
    }
    if (n == 3 && is(p[0], l[0], "partitions") && parse_id(p[1], l[1], &a) && parse_id(p[2], l[2], &b)) {
        coll_rec *r = rec_for(c, a);
        Milvus__Proto__Etcd__PartitionInfo *pi = val ? milvus__proto__etcd__partition_info__unpack(NULL, val_len, val) : NULL;
        if (val && !pi) {
            log_warn("catalog: %.*s does not decode as PartitionInfo; partition left out", (int)key_len, key);
            return;
        }
        Milvus__Proto__Etcd__PartitionInfo *old = pi ? idmap_put(&r->parts, b, pi) : idmap_del(&r->parts, b);
        if (old) milvus__proto__etcd__partition_info__free_unpacked(old, NULL);
        invalidate(r);
        return;
    }
    if (n == 3 && is(p[0], l[0], "database") && is(p[1], l[1], "db-info") && parse_id(p[2], l[2], &a)) {
        char *old;
        Milvus__Proto__Etcd__DatabaseInfo *di = val ? milvus__proto__etcd__database_info__unpack(NULL, val_len, val) : NULL;
        if (val && !di) {
            log_warn("catalog: %.*s does not decode as DatabaseInfo", (int)key_len, key);
            return;
        }
        /* Dropping and Dropped databases are gone for a reader. */
        if (di && di->state != MILVUS__PROTO__ETCD__DATABASE_STATE__DatabaseDropping &&
            di->state != MILVUS__PROTO__ETCD__DATABASE_STATE__DatabaseDropped)
            old = idmap_put(&c->dbs, a, mcdc_xstrdup(di->name));
        else
            old = idmap_del(&c->dbs, a);
        free(old);
        if (di) milvus__proto__etcd__database_info__free_unpacked(di, NULL);
        return;
    }
    if ((n == 4 && is(p[0], l[0], "database") && is(p[1], l[1], "aliases") && parse_id(p[2], l[2], &a)) ||
        (n == 2 && is(p[0], l[0], "aliases"))) {
        if (n == 2) a = 1; /* legacy alias key: default database */
        const char *name = p[n - 1];
        size_t name_len = l[n - 1];
        drop_alias(c, a, name, name_len);
        if (!val) return;
        Milvus__Proto__Etcd__AliasInfo *ai = milvus__proto__etcd__alias_info__unpack(NULL, val_len, val);
        if (!ai) {
            log_warn("catalog: %.*s does not decode as AliasInfo", (int)key_len, key);
            return;
        }
        if (ai->state == MILVUS__PROTO__ETCD__ALIAS_STATE__AliasCreated) {
            alias_rec *ar = mcdc_xcalloc(1, sizeof *ar);
            ar->db_id = a;
            ar->name = mcdc_xstrdup(ai->alias_name[0] ? ai->alias_name : "");
            ar->coll_id = ai->collection_id;
            ar->next = c->aliases;
            c->aliases = ar;
            invalidate(rec_for(c, ai->collection_id));
        }
        milvus__proto__etcd__alias_info__free_unpacked(ai, NULL);
        return;
    }
    return;

collection: {
    coll_rec *r = rec_for(c, b);
    if (!val) {
        /* A legacy-layout delete must not erase what the db layout says. */
        if (a == 0 && r->info && r->db_id != 0 && r->db_id != 1) return;
        r->gone = true;
        invalidate(r);
        return;
    }
    Milvus__Proto__Etcd__CollectionInfo *ci = milvus__proto__etcd__collection_info__unpack(NULL, val_len, val);
    if (!ci) {
        log_warn("catalog: %.*s does not decode as CollectionInfo; collection left out", (int)key_len, key);
        return;
    }
    if (r->info) milvus__proto__etcd__collection_info__free_unpacked(r->info, NULL);
    r->info = ci;
    r->gone = false;
    r->db_id = a ? a : (ci->db_id ? ci->db_id : 1);
    invalidate(r);
    pthread_cond_broadcast(&c->changed);
}
}

/* ---- load and follow --------------------------------------------------------- */

static int load_fn(void *ud, const etcd_kv *kv) {
    catalog *c = ud;
    apply_key(c, kv->key, kv->key_len, kv->value, kv->value_len);
    return 0;
}

static void free_recs(catalog *c) {
    void *v;
    for (size_t it = 0; idmap_next(&c->colls, &it, NULL, &v);) {
        coll_rec *r = v;
        invalidate(r);
        void *f;
        for (size_t j = 0; idmap_next(&r->fields, &j, NULL, &f);)
            milvus__proto__schema__field_schema__free_unpacked(f, NULL);
        for (size_t j = 0; idmap_next(&r->parts, &j, NULL, &f);)
            milvus__proto__etcd__partition_info__free_unpacked(f, NULL);
        idmap_free(&r->fields);
        idmap_free(&r->parts);
        if (r->info) milvus__proto__etcd__collection_info__free_unpacked(r->info, NULL);
        free(r);
    }
    idmap_free(&c->colls);
    for (size_t it = 0; idmap_next(&c->dbs, &it, NULL, &v);) free(v);
    idmap_free(&c->dbs);
    while (c->aliases) {
        alias_rec *a = c->aliases;
        c->aliases = a->next;
        free(a->name);
        free(a);
    }
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
        invalidate(r);
    }
    int rc = etcd_range_prefix(c->etcd, c->prefix, 0, load_fn, c, &rev, err);
    if (rc == 0) c->revision = rev;
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
            apply_key(c, e->kv.key, e->kv.key_len, e->type == ETCD_PUT ? e->kv.value : NULL,
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
    apply_key(c, key, key_len, val, val_len);
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
    free_recs(c);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->changed);
    free(c->prefix);
    free(c);
}

/* ---- lookups ----------------------------------------------------------------- */

static catalog_coll *snap_of(catalog *c, coll_rec *r) {
    if (!r->snap) r->snap = build_snap(c, r);
    return snap_ref(r->snap);
}

catalog_coll *catalog_get(catalog *c, int64_t id) {
    pthread_mutex_lock(&c->mu);
    coll_rec *r = idmap_get(&c->colls, id);
    catalog_coll *s = (r && (r->info || r->gone)) ? snap_of(c, r) : NULL;
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
        if (live(r) && r->db_id == dbid && r->info->schema && strcmp(r->info->schema->name, name) == 0) s = snap_of(c, r);
    }
    for (alias_rec *a = c->aliases; !s && a; a = a->next) {
        if (a->db_id == dbid && strcmp(a->name, name) == 0) {
            coll_rec *r = idmap_get(&c->colls, a->coll_id);
            if (r && live(r)) s = snap_of(c, r);
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
        if (live(r) && (dbid == -2 || r->db_id == dbid)) list[n++] = snap_of(c, r);
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
        if (live(r) || (r->info && !r->gone && (int)r->info->state == CATALOG_DROPPING)) list[n++] = snap_of(c, r);
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
        !is_tombstone(kv->value, kv->value_len))
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

/* ---- indexes and load state (read on demand) ----------------------------------- */

/* "<root>/meta/<what>": the catalog's prefix is "<root>/meta/root-coord/". */
static char *meta_key(const catalog *c, const char *what) {
    size_t keep = strlen(c->prefix) - strlen("root-coord/");
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_append(&b, c->prefix, keep);
    mcdc_buf_printf(&b, "%s", what);
    return (char *)mcdc_buf_cstr(&b);
}

typedef struct index_walk {
    catalog_index *list;
    size_t n;
    mcdc_err *err;
} index_walk;

static int index_fn(void *ud, const etcd_kv *kv) {
    index_walk *w = ud;
    if (is_tombstone(kv->value, kv->value_len)) return 0;
    Milvus__Proto__Index__FieldIndex *fi = milvus__proto__index__field_index__unpack(NULL, kv->value_len, kv->value);
    if (!fi) return mcdc_errf(w->err, MCDC_EDECODE, "etcd %s: not a FieldIndex (%zu bytes)", kv->key, kv->value_len);
    const Milvus__Proto__Index__IndexInfo *ii = fi->index_info;
    if (!fi->deleted && ii) {
        /* What the user asked for, as the CreateIndex request carried it:
         * the target then stores the same index the replicate channel's
         * copy of that request would create (Milvus compares these params
         * and refuses "another" index on the field; an AUTOINDEX also keeps
         * its own choices apart). index_params only when a writer kept no
         * user params. */
        Milvus__Proto__Common__KeyValuePair **kvs = ii->index_params;
        size_t nkv = ii->n_index_params;
        if (ii->n_user_index_params) {
            kvs = ii->user_index_params;
            nkv = ii->n_user_index_params;
        }
        w->list = mcdc_xrealloc(w->list, (w->n + 1) * sizeof *w->list);
        catalog_index *x = &w->list[w->n++];
        x->field_id = ii->field_id;
        x->index_name = mcdc_xstrdup(ii->index_name ? ii->index_name : "");
        x->n_params = nkv;
        x->keys = mcdc_xcalloc(nkv ? nkv : 1, sizeof(char *));
        x->values = mcdc_xcalloc(nkv ? nkv : 1, sizeof(char *));
        for (size_t i = 0; i < nkv; i++) {
            x->keys[i] = mcdc_xstrdup(kvs[i]->key ? kvs[i]->key : "");
            x->values[i] = mcdc_xstrdup(kvs[i]->value ? kvs[i]->value : "");
        }
    }
    milvus__proto__index__field_index__free_unpacked(fi, NULL);
    return 0;
}

void catalog_indexes_free(catalog_index *ix, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < ix[i].n_params; k++) {
            free(ix[i].keys[k]);
            free(ix[i].values[k]);
        }
        free(ix[i].keys);
        free(ix[i].values);
        free(ix[i].index_name);
    }
    free(ix);
}

int catalog_indexes(catalog *c, int64_t id, catalog_index **out, size_t *n, mcdc_err *err) {
    *out = NULL;
    *n = 0;
    if (!c->etcd) return mcdc_errf(err, MCDC_EUNAVAIL, "catalog: no etcd to read indexes from");
    char what[64];
    snprintf(what, sizeof what, "field-index/%" PRId64 "/", id);
    char *prefix = meta_key(c, what);
    index_walk w = {.err = err};
    int rc = etcd_range_prefix(c->etcd, prefix, 0, index_fn, &w, NULL, err);
    free(prefix);
    if (rc) {
        catalog_indexes_free(w.list, w.n);
        return -1;
    }
    *out = w.list;
    *n = w.n;
    return 0;
}

typedef struct part_walk {
    int64_t *ids;
    size_t n;
} part_walk;

static int part_fn(void *ud, const etcd_kv *kv) {
    part_walk *w = ud;
    if (is_tombstone(kv->value, kv->value_len)) return 0;
    const char *slash = strrchr(kv->key, '/');
    int64_t pid;
    if (!slash || !parse_id(slash + 1, strlen(slash + 1), &pid)) return 0;
    w->ids = mcdc_xrealloc(w->ids, (w->n + 1) * sizeof *w->ids);
    w->ids[w->n++] = pid;
    return 0;
}

void catalog_load_free(catalog_load *l) {
    free(l->partition_ids);
    memset(l, 0, sizeof *l);
}

int catalog_load_state(catalog *c, int64_t id, catalog_load *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    if (!c->etcd) return mcdc_errf(err, MCDC_EUNAVAIL, "catalog: no etcd to read the load state from");
    char what[96];
    snprintf(what, sizeof what, "querycoord-collection-loadinfo/%" PRId64, id);
    char *key = meta_key(c, what);
    bool found;
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = etcd_get(c->etcd, key, &found, &val, &len, NULL, err);
    if (rc == 0 && found) {
        Milvus__Proto__Query__CollectionLoadInfo *li = milvus__proto__query__collection_load_info__unpack(NULL, len, val);
        if (!li) {
            rc = mcdc_errf(err, MCDC_EDECODE, "etcd %s: not a CollectionLoadInfo (%zu bytes)", key, len);
        } else {
            out->loaded = true;
            out->whole = li->load_type != 1;
            out->replicas = li->replica_number > 0 ? li->replica_number : 1;
            milvus__proto__query__collection_load_info__free_unpacked(li, NULL);
        }
    }
    free(val);
    free(key);
    if (rc == 0 && out->loaded && !out->whole) {
        snprintf(what, sizeof what, "querycoord-partition-loadinfo/%" PRId64 "/", id);
        char *prefix = meta_key(c, what);
        part_walk w = {0};
        rc = etcd_range_prefix(c->etcd, prefix, 0, part_fn, &w, NULL, err);
        free(prefix);
        out->partition_ids = w.ids;
        out->n_partitions = w.n;
    }
    if (rc) catalog_load_free(out);
    return rc;
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

const catalog_partition *catalog_partition_by_id(const catalog_coll *cc, int64_t partition_id) {
    for (size_t i = 0; i < cc->n_partitions; i++)
        if (cc->partitions[i].id == partition_id) return &cc->partitions[i];
    return NULL;
}
