/* catalog_int.h — private to the catalog module (catalog.c, catalog_keys.c,
 * catalog_snap.c, catalog_state.c): the records the catalog keeps and the
 * calls its files make to each other. The rest of mcdc sees only catalog.h.
 *
 * Its last two declarations are also the module's test seam: a catalog
 * without etcd, fed key by key, which tests/unit/test_catalog.c and the fuzzer
 * (fuzz/fuzz_etcd_meta.c) use to drive the very key parsing, protobuf decoding
 * and snapshot building that catalog_open runs on what it reads from etcd. */
#ifndef MCDC_CATALOG_INT_H
#define MCDC_CATALOG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/idmap.h"
#include "etcd/etcd.h"
#include "etcd_meta.pb-c.h"
#include "source/catalog.h"

/* One alias name of a database. A dropped alias keeps its record (one per
 * name ever seen, reused by a later create), so the moment of its drop
 * stays known: etcd keeps no timestamp for a deletion (catalog.h,
 * catalog_aliases). */
typedef struct alias_rec {
    int64_t db_id;
    char *name;
    int64_t coll_id;            /* the last collection it named */
    uint64_t ts;                /* of its last change: AliasInfo.created_time, or the catalog's stamp */
    bool dropped;
    bool legacy;                /* last written under the legacy root-coord/aliases/ layout */
    bool unconfirmed;           /* a reload has not seen it (yet) */
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

/* etcd and prefix are set once at open; mu guards the records, the
 * snapshot caches in them, revision and last_error; once the watch thread
 * runs, only it replaces watch (on a reload), and catalog_close cancels it. */
struct catalog {
    etcd_client *etcd;                            /* NULL for a detached catalog */
    char *prefix;                                 /* "<root>/meta/root-coord/" */
    pthread_mutex_t mu;
    pthread_cond_t changed;                       /* broadcast after keys were applied */
    idmap colls;                                  /* id -> coll_rec* */
    idmap dbs;                                    /* id -> char* name (live only) */
    alias_rec *aliases;
    int64_t revision;
    etcd_watch *watch;
    pthread_t thread;
    _Atomic bool stop;
    char last_error[MCDC_ERR_MSG_MAX];
    uint64_t fixed_stamp;                         /* catalog_set_stamp; 0 = the wall clock */
};

/* ---- catalog_keys.c: etcd keys -> records (lock held) ---- */

/* Applies one key under c->prefix (value NULL = deleted); see the file. */
void catalog_apply_key(catalog *c, const char *key, size_t key_len, const uint8_t *val, size_t val_len);
/* Around a reload's Range: an alias the range no longer holds was dropped
 * while the watch was away. */
void catalog_aliases_unconfirm(catalog *c);
void catalog_aliases_drop_unconfirmed(catalog *c);
/* Frees every record (the snapshots live on while readers hold them). */
void catalog_free_recs(catalog *c);
/* SuffixSnapshot's deletion marker (spec/etcd-meta.md §3). */
bool catalog_is_tombstone(const uint8_t *val, size_t len);
/* A Milvus id printed in decimal: digits only, at most INT64_MAX. */
bool catalog_parse_id(const char *s, size_t n, int64_t *out);

/* ---- catalog_snap.c: records -> snapshots (lock held) ---- */

/* The cached snapshot of r, built if needed, with one reference for the caller. */
catalog_coll *catalog_snap_of(catalog *c, coll_rec *r);
/* Drops r's cached snapshot after r changed; readers keep theirs. */
void catalog_snap_invalidate(coll_rec *r);

/* ---- the test seam ---- */

/* An empty catalog of <root_path>/meta/root-coord/ with no etcd and no watch
 * thread; catalog_close frees it. The lookups of catalog.h work on it. */
catalog *catalog_new_detached(const char *root_path);

/* Applies one etcd key as a Range or a Watch event would: val NULL is a
 * deletion. key is the full key, prefix included; neither needs a NUL. */
void catalog_apply_kv(catalog *c, const char *key, size_t key_len, const uint8_t *val, size_t val_len);

/* The stamp (catalog_now_ts) of the changes applied from now on; 0 goes
 * back to the wall clock. */
void catalog_set_stamp(catalog *c, uint64_t ts);

#endif
