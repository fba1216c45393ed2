/* catalog_keys.c — one etcd key under <root>/meta/root-coord/ → the catalog's
 * records (catalog_int.h), for a Range at load and for each Watch event alike.
 *
 * KEYS[] lists the key layouts the catalog reads (spec/etcd-meta.md §2), one
 * function per layout. A key matches a pattern segment by segment: a literal
 * matches itself, '#' a Milvus id in decimal, '*' any one segment. Keys of no
 * pattern (RBAC, 2.1 collection-alias, ...) are Milvus's business and left
 * out; so are values that do not decode, with a warning: a catalog that
 * refused to load over them would stop replication of data that is fine.
 * Tombstones count as deletions (§3). Everything here runs with the catalog's
 * lock held. */
#include "source/catalog_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"

static const uint8_t TOMBSTONE[] = {0xE2, 0x9B, 0xBC};

bool catalog_is_tombstone(const uint8_t *val, size_t len) {
    return val && len == sizeof TOMBSTONE && memcmp(val, TOMBSTONE, sizeof TOMBSTONE) == 0;
}

bool catalog_parse_id(const char *s, size_t n, int64_t *out) {
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

/* One key, taken apart by its pattern. */
typedef struct key_args {
    const char *key;            /* the full key, for messages */
    size_t key_len;
    int64_t id[2];              /* the '#' segments, in order */
    const char *name;           /* the '*' segment */
    size_t name_len;
    const uint8_t *val;         /* NULL: deleted or tombstoned */
    size_t val_len;
} key_args;

static bool match(const char *pat, const char *k, size_t k_len, key_args *m) {
    const char *k_end = k + k_len;
    size_t n_ids = 0;
    for (;;) {
        const char *pat_slash = strchr(pat, '/');
        size_t pat_len = pat_slash ? (size_t)(pat_slash - pat) : strlen(pat);
        const char *k_slash = memchr(k, '/', (size_t)(k_end - k));
        size_t seg_len = k_slash ? (size_t)(k_slash - k) : (size_t)(k_end - k);
        if (pat_len == 1 && pat[0] == '#') {
            assert(n_ids < sizeof m->id / sizeof m->id[0]); /* a pattern has at most two ids */
            if (!catalog_parse_id(k, seg_len, &m->id[n_ids++])) return false;
        } else if (pat_len == 1 && pat[0] == '*') {
            m->name = k;
            m->name_len = seg_len;
        } else if (pat_len != seg_len || memcmp(pat, k, seg_len) != 0) {
            return false;
        }
        if (!pat_slash || !k_slash) return !pat_slash && !k_slash;
        pat = pat_slash + 1;
        k = k_slash + 1;
    }
}

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

/* The value decoded as desc's message; NULL, with a warning that the key's
 * `what` is left out, when it does not decode. */
static ProtobufCMessage *decode(const key_args *m, const ProtobufCMessageDescriptor *desc, const char *what) {
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, m->val_len, m->val);
    if (!msg)
        log_warn("catalog: %.*s does not decode as %s; %s left out", (int)m->key_len, m->key, desc->short_name, what);
    return msg;
}

/* db_id 0: the legacy layout, which has no database (the default one). */
static void put_collection_in(catalog *c, const key_args *m, int64_t db_id, int64_t id) {
    coll_rec *r = rec_for(c, id);
    if (!m->val) {
        /* A legacy-layout delete must not erase what the db layout says. */
        if (db_id == 0 && r->info && r->db_id != 0 && r->db_id != 1) return;
        r->gone = true;
        catalog_snap_invalidate(r);
        return;
    }
    Milvus__Proto__Etcd__CollectionInfo *ci =
        (Milvus__Proto__Etcd__CollectionInfo *)decode(m, &milvus__proto__etcd__collection_info__descriptor, "collection");
    if (!ci) return;
    if (r->info) milvus__proto__etcd__collection_info__free_unpacked(r->info, NULL);
    r->info = ci;
    r->gone = false;
    r->db_id = db_id ? db_id : (ci->db_id ? ci->db_id : 1);
    catalog_snap_invalidate(r);
    pthread_cond_broadcast(&c->changed);
}

static void put_collection(catalog *c, const key_args *m) { put_collection_in(c, m, m->id[0], m->id[1]); }
static void put_collection_legacy(catalog *c, const key_args *m) { put_collection_in(c, m, 0, m->id[0]); }

/* A field or a partition of a collection: map holds the decoded value at
 * the key's second id; a delete takes it out. */
static void put_member(coll_rec *r, idmap *map, const key_args *m, const ProtobufCMessageDescriptor *desc,
                       const char *what) {
    ProtobufCMessage *msg = NULL;
    if (m->val && !(msg = decode(m, desc, what))) return;
    ProtobufCMessage *old = msg ? idmap_put(map, m->id[1], msg) : idmap_del(map, m->id[1]);
    if (old) protobuf_c_message_free_unpacked(old, NULL);
    catalog_snap_invalidate(r);
}

static void put_field(catalog *c, const key_args *m) {
    coll_rec *r = rec_for(c, m->id[0]);
    put_member(r, &r->fields, m, &milvus__proto__schema__field_schema__descriptor, "field");
}

static void put_partition(catalog *c, const key_args *m) {
    coll_rec *r = rec_for(c, m->id[0]);
    put_member(r, &r->parts, m, &milvus__proto__etcd__partition_info__descriptor, "partition");
}

static void put_database(catalog *c, const key_args *m) {
    Milvus__Proto__Etcd__DatabaseInfo *di = NULL;
    if (m->val &&
        !(di = (Milvus__Proto__Etcd__DatabaseInfo *)decode(m, &milvus__proto__etcd__database_info__descriptor, "database")))
        return;
    /* Dropping and Dropped databases are gone for a reader. */
    char *old;
    if (di && di->state != MILVUS__PROTO__ETCD__DATABASE_STATE__DatabaseDropping &&
        di->state != MILVUS__PROTO__ETCD__DATABASE_STATE__DatabaseDropped)
        old = idmap_put(&c->dbs, m->id[0], mcdc_xstrdup(di->name));
    else
        old = idmap_del(&c->dbs, m->id[0]);
    free(old);
    if (di) milvus__proto__etcd__database_info__free_unpacked(di, NULL);
}

static alias_rec *find_alias(catalog *c, int64_t db_id, const char *name, size_t name_len) {
    for (alias_rec *a = c->aliases; a; a = a->next)
        if (a->db_id == db_id && strlen(a->name) == name_len && memcmp(a->name, name, name_len) == 0) return a;
    return NULL;
}

static void invalidate_coll(catalog *c, int64_t coll_id) {
    coll_rec *r = idmap_get(&c->colls, coll_id);
    if (r) catalog_snap_invalidate(r);
}

static void mark_dropped(catalog *c, alias_rec *a) {
    invalidate_coll(c, a->coll_id);
    a->dropped = true;
    a->ts = catalog_now_ts(c);
}

/* The key names the alias; the value says what it now is. A deletion keeps
 * the record, marked dropped (catalog_int.h). */
static void put_alias_in(catalog *c, const key_args *m, int64_t db_id, bool legacy) {
    alias_rec *a = find_alias(c, db_id, m->name, m->name_len);
    Milvus__Proto__Etcd__AliasInfo *ai = NULL;
    if (m->val && !(ai = (Milvus__Proto__Etcd__AliasInfo *)decode(m, &milvus__proto__etcd__alias_info__descriptor, "alias")))
        return;
    if (a) a->unconfirmed = false;
    if (!ai || ai->state != MILVUS__PROTO__ETCD__ALIAS_STATE__AliasCreated) {
        /* 2.3's CreateAlias tombstones the name's legacy keys in the same
         * txn that writes the database-layout key, in no set order: a
         * legacy deletion must not drop what the database layout holds. */
        if (a && !a->dropped && (!legacy || a->legacy)) mark_dropped(c, a);
        if (ai) milvus__proto__etcd__alias_info__free_unpacked(ai, NULL);
        return;
    }
    if (!a) {
        a = mcdc_xcalloc(1, sizeof *a);
        a->db_id = db_id;
        a->name = mcdc_xcalloc(m->name_len + 1, 1);
        memcpy(a->name, m->name, m->name_len);
        a->next = c->aliases;
        c->aliases = a;
    } else {
        invalidate_coll(c, a->coll_id);
    }
    a->coll_id = ai->collection_id;
    /* created_time is the create's or the alter's ts; a 2.1 record has none. */
    a->ts = ai->created_time ? ai->created_time : catalog_now_ts(c);
    a->dropped = false;
    a->legacy = legacy;
    invalidate_coll(c, a->coll_id);
    milvus__proto__etcd__alias_info__free_unpacked(ai, NULL);
}

static void put_alias(catalog *c, const key_args *m) { put_alias_in(c, m, m->id[0], false); }
static void put_alias_legacy(catalog *c, const key_args *m) { put_alias_in(c, m, 1 /* the default db */, true); }

void catalog_aliases_unconfirm(catalog *c) {
    for (alias_rec *a = c->aliases; a; a = a->next) a->unconfirmed = true;
}

void catalog_aliases_drop_unconfirmed(catalog *c) {
    for (alias_rec *a = c->aliases; a; a = a->next) {
        if (a->unconfirmed && !a->dropped) mark_dropped(c, a);
        a->unconfirmed = false;
    }
}

uint64_t catalog_now_ts(catalog *c) {
    return c->fixed_stamp ? c->fixed_stamp : mcdc_ts_compose(mcdc_now_wall_ms(), 0);
}

static const struct {
    const char *pattern;
    void (*put)(catalog *c, const key_args *m);
} KEYS[] = {
    {"database/collection-info/#/#", put_collection}, /* {db}/{collection} */
    {"collection/#", put_collection_legacy},
    {"fields/#/#", put_field},                        /* {collection}/{field} */
    {"partitions/#/#", put_partition},                /* {collection}/{partition} */
    {"database/db-info/#", put_database},
    {"database/aliases/#/*", put_alias},              /* {db}/{alias name} */
    {"aliases/*", put_alias_legacy},
};

void catalog_apply_key(catalog *c, const char *key, size_t key_len, const uint8_t *val, size_t val_len) {
    size_t plen = strlen(c->prefix);
    if (key_len <= plen || memcmp(key, c->prefix, plen) != 0) return;
    if (catalog_is_tombstone(val, val_len)) val = NULL;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        key_args m = {.key = key, .key_len = key_len, .val = val, .val_len = val_len};
        if (match(KEYS[i].pattern, key + plen, key_len - plen, &m)) {
            KEYS[i].put(c, &m);
            return;
        }
    }
}

void catalog_free_recs(catalog *c) {
    void *v;
    for (size_t it = 0; idmap_next(&c->colls, &it, NULL, &v);) {
        coll_rec *r = v;
        catalog_snap_invalidate(r);
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
