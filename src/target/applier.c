/* applier.c — see applier.h. */
#include "target/applier.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/pbfield.h"
#include "target/columns.h"
#include "target/milvus_util.h"

/* Names known to exist on the target ("db\x1f coll" or "db\x1f coll\x1f part"),
 * so the hot path does not ask the target before every insert. A few hundred
 * entries at most; a linear scan is fine. */
typedef struct name_set {
    char **items;
    size_t n;
} name_set;

struct applier {
    const task_spec *spec;
    milvus_client *client;
    name_set collections;
    name_set partitions;
    name_set databases;
    applier_stats stats;
    catalog *source;
};

void applier_set_source(applier *a, catalog *source) { a->source = source; }

static char *key3(const char *a, const char *b, const char *c) {
    mcdc_buf k = MCDC_BUF_INIT;
    mcdc_buf_printf(&k, "%s\x1f%s", a, b);
    if (c) mcdc_buf_printf(&k, "\x1f%s", c);
    mcdc_buf_cstr(&k);
    return (char *)k.data;
}

static bool set_has(const name_set *s, const char *k) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i], k) == 0) return true;
    return false;
}

static void set_add(name_set *s, char *k /* taken */) {
    if (set_has(s, k)) {
        free(k);
        return;
    }
    s->items = mcdc_xrealloc(s->items, (s->n + 1) * sizeof(char *));
    s->items[s->n++] = k;
}

/* Removes k and everything under it (a collection's partitions). */
static void set_del_prefix(name_set *s, const char *k) {
    size_t kl = strlen(k);
    for (size_t i = 0; i < s->n;) {
        if (strncmp(s->items[i], k, kl) == 0 && (s->items[i][kl] == '\0' || s->items[i][kl] == '\x1f')) {
            free(s->items[i]);
            s->items[i] = s->items[--s->n];
        } else {
            i++;
        }
    }
}

static void set_free(name_set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

applier *applier_open(const task_spec *spec, const milvus_config *target, mcdc_err *err) {
    milvus_client *mc = milvus_open(target, err);
    if (!mc) return NULL;
    applier *a = mcdc_xcalloc(1, sizeof *a);
    a->spec = spec;
    a->client = mc;
    return a;
}

void applier_close(applier *a) {
    if (!a) return;
    milvus_close(a->client);
    set_free(&a->collections);
    set_free(&a->partitions);
    set_free(&a->databases);
    free(a);
}

applier_stats applier_get_stats(const applier *a) { return a->stats; }

static bool is_partition_key(const catalog_coll *cc) {
    for (size_t i = 0; cc->schema && i < cc->schema->n_fields; i++)
        if (cc->schema->fields[i]->is_partition_key) return true;
    return false;
}

static void target_names(const applier *a, const catalog_coll *cc, const char **db, const char **coll) {
    task_spec_map_name(a->spec, cc->db_name, cc->name, db, coll);
}

static int ensure_database(applier *a, const char *db, mcdc_err *err) {
    if (strcmp(db, "default") == 0 || set_has(&a->databases, db)) return 0;
    if (milvus_create_database(a->client, db, err) && err->code != MCDC_EEXIST) return -1;
    set_add(&a->databases, mcdc_xstrdup(db));
    return 0;
}

static int ensure_partition(applier *a, const char *db, const char *coll, const char *part, mcdc_err *err) {
    if (!part || !part[0] || strcmp(part, "_default") == 0) return 0;
    char *k = key3(db, coll, part);
    if (set_has(&a->partitions, k)) {
        free(k);
        return 0;
    }
    if (milvus_create_partition(a->client, db, coll, part, err) && err->code != MCDC_EEXIST) {
        free(k);
        return -1;
    }
    set_add(&a->partitions, k);
    return 0;
}

/* A collection older than the task has its CreateIndex and Load requests in
 * the replicate channel before the task's start, so the target would get
 * neither; a new target collection therefore takes the source's current
 * index and load state from etcd. Later changes still come through the
 * replicate channel, and repeating a create or load is harmless. Failures
 * are logged, not fatal: the rows are what replication owes, and the
 * operator can index and load by hand. */
static void copy_source_state(applier *a, const catalog_coll *cc, const char *db, const char *coll) {
    if (!a->source) return;
    mcdc_err err;
    catalog_index *ix;
    size_t nix;
    if (catalog_indexes(a->source, cc->id, &ix, &nix, &err)) {
        log_warn("target %s.%s: cannot read the source's indexes: %s", db, coll, err.msg);
        return;
    }
    bool indexed = true;
    for (size_t i = 0; i < nix; i++) {
        const char *field = NULL;
        for (size_t f = 0; cc->schema && f < cc->schema->n_fields; f++)
            if (cc->schema->fields[f]->field_id == ix[i].field_id) field = cc->schema->fields[f]->name;
        if (!field) continue;
        Milvus__Proto__Common__KeyValuePair *kv = mcdc_xcalloc(ix[i].n_params ? ix[i].n_params : 1, sizeof *kv);
        Milvus__Proto__Common__KeyValuePair **kvp = mcdc_xcalloc(ix[i].n_params ? ix[i].n_params : 1, sizeof *kvp);
        for (size_t k = 0; k < ix[i].n_params; k++) {
            kv[k] = (Milvus__Proto__Common__KeyValuePair)MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
            kv[k].key = ix[i].keys[k];
            kv[k].value = ix[i].values[k];
            kvp[k] = &kv[k];
        }
        Milvus__Proto__Milvus__CreateIndexRequest req = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
        req.db_name = (char *)db;
        req.collection_name = (char *)coll;
        req.field_name = (char *)field;
        req.index_name = ix[i].index_name;
        req.extra_params = kvp;
        req.n_extra_params = ix[i].n_params;
        if (milvus_replay_request(a->client, "CreateIndex", &req.base, &err) && err.code != MCDC_EEXIST) {
            log_warn("target %s.%s: creating index %s on %s as the source has it: %s", db, coll, ix[i].index_name, field,
                     err.msg);
            indexed = false;
        } else {
            log_info("target %s.%s: index %s on %s, as on the source", db, coll, ix[i].index_name, field);
        }
        free(kv);
        free(kvp);
    }
    catalog_indexes_free(ix, nix);

    catalog_load ld;
    if (catalog_load_state(a->source, cc->id, &ld, &err)) {
        log_warn("target %s.%s: cannot read the source's load state: %s", db, coll, err.msg);
        return;
    }
    if (ld.loaded && indexed && nix) {
        /* The target's own replica count: its size is its operator's choice. */
        int rc;
        if (ld.whole) {
            Milvus__Proto__Milvus__LoadCollectionRequest req = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
            req.db_name = (char *)db;
            req.collection_name = (char *)coll;
            rc = milvus_replay_request(a->client, "LoadCollection", &req.base, &err);
        } else {
            char **names = mcdc_xcalloc(ld.n_partitions ? ld.n_partitions : 1, sizeof(char *));
            size_t nn = 0;
            for (size_t i = 0; i < ld.n_partitions; i++) {
                const catalog_partition *p = catalog_partition_by_id(cc, ld.partition_ids[i]);
                if (p) names[nn++] = p->name;
            }
            Milvus__Proto__Milvus__LoadPartitionsRequest req = MILVUS__PROTO__MILVUS__LOAD_PARTITIONS_REQUEST__INIT;
            req.db_name = (char *)db;
            req.collection_name = (char *)coll;
            req.partition_names = names;
            req.n_partition_names = nn;
            rc = nn ? milvus_replay_request(a->client, "LoadPartitions", &req.base, &err) : 0;
            free(names);
        }
        if (rc) log_warn("target %s.%s: loading it as the source has it: %s", db, coll, err.msg);
        else log_info("target %s.%s: loaded, as on the source", db, coll);
    }
    catalog_load_free(&ld);
}

int applier_ensure_collection(applier *a, const catalog_coll *cc, mcdc_err *err) {
    const char *db, *coll;
    target_names(a, cc, &db, &coll);
    char *k = key3(db, coll, NULL);
    if (set_has(&a->collections, k)) {
        free(k);
        return 0;
    }
    if (!cc->schema || !cc->pk) {
        free(k);
        return mcdc_errf(err, MCDC_EUNAVAIL, "source collection %s.%s (id %" PRId64 ") has no fields in etcd yet",
                         cc->db_name, cc->name, cc->id);
    }
    if (ensure_database(a, db, err)) {
        free(k);
        return -1;
    }
    bool has = false, created = false;
    if (milvus_has_collection(a->client, db, coll, &has, err)) {
        free(k);
        return -1;
    }
    if (!has) {
        /* The target gets the user's fields only: no RowID/Timestamp (ids < 100,
         * the server adds its own) and no $meta (enable_dynamic_field says it).
         * autoID is switched off so the keys the source generated are kept. */
        const Milvus__Proto__Schema__CollectionSchema *src = cc->schema;
        Milvus__Proto__Schema__FieldSchema *copies = mcdc_xcalloc(src->n_fields ? src->n_fields : 1, sizeof *copies);
        Milvus__Proto__Schema__FieldSchema **ptrs = mcdc_xcalloc(src->n_fields ? src->n_fields : 1, sizeof *ptrs);
        size_t n = 0;
        for (size_t i = 0; i < src->n_fields; i++) {
            const Milvus__Proto__Schema__FieldSchema *f = src->fields[i];
            if (f->field_id < 100 || f->is_dynamic) continue;
            copies[n] = *f;
            copies[n].auto_id = false;
            copies[n].field_id = 0;
            ptrs[n] = &copies[n];
            n++;
        }
        Milvus__Proto__Schema__CollectionSchema s = *src;
        s.name = (char *)coll;
        s.auto_id = false;
        s.fields = ptrs;
        s.n_fields = n;
        int64_t num_partitions = is_partition_key(cc) ? (int64_t)cc->n_partitions : 0;
        int rc = milvus_create_collection(a->client, db, coll, &s, cc->shards_num > 0 ? cc->shards_num : 1,
                                          cc->consistency_level, NULL, 0, num_partitions, err);
        free(copies);
        free(ptrs);
        if (rc && err->code != MCDC_EEXIST) {
            free(k);
            return -1;
        }
        if (rc == 0) {
            log_info("target: created collection %s.%s from source %s.%s (id %" PRId64 ")", db, coll, cc->db_name,
                     cc->name, cc->id);
            created = true;
        }
    }
    set_add(&a->collections, k);
    if (!is_partition_key(cc) && !a->spec->target.ignore_partition) {
        for (size_t i = 0; i < cc->n_partitions; i++) {
            const catalog_partition *p = &cc->partitions[i];
            if (p->state != CATALOG_CREATED) continue;
            if (ensure_partition(a, db, coll, p->name, err)) return -1;
        }
    }
    if (created) copy_source_state(a, cc, db, coll);
    a->stats.ddl++;
    return 0;
}

/* The partition to name in a DML call on the target, or NULL for "all"/"the
 * collection decides" (partition-key collections refuse a partition name:
 * milvus-grpc.md §6). */
static const char *dml_partition(const applier *a, const catalog_coll *cc, const change *c) {
    if (a->spec->target.ignore_partition || is_partition_key(cc)) return NULL;
    if (!c->partition_name[0] || c->partition_id == -1) return NULL;
    return c->partition_name;
}

struct applier_write {
    applier *a;
    milvus_pending *p;
    size_t rows, n_parts;
    bool upsert;
    char source[MCDC_ERR_MSG_MAX / 2];   /* "db.coll" of the source, for errors */
};

static void write_err(const applier_write *wr, mcdc_err *err) {
    if (wr->n_parts > 1)
        mcdc_err_prefix(err, "%s of %s (%zu messages joined)", wr->upsert ? "Upsert" : "Insert", wr->source,
                        wr->n_parts);
    else
        mcdc_err_prefix(err, "%s of %s", wr->upsert ? "Upsert" : "Insert", wr->source);
}

int applier_send_inserts(applier *a, const change *const *parts, size_t n, const catalog_coll *cc, bool as_upsert,
                         applier_write **out, mcdc_err *err) {
    *out = NULL;
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) rows += parts[i]->num_rows;
    const Milvus__Proto__Msg__InsertRequest *first = change_insert(parts[0]);
    Milvus__Proto__Schema__FieldData *const *send_cols = first->fields_data;
    size_t n_send = first->n_fields_data;
    columns_joined j = {0};
    if (n > 1) {
        Milvus__Proto__Schema__FieldData *const **cols = mcdc_xcalloc(n, sizeof *cols);
        size_t *ncols = mcdc_xcalloc(n, sizeof *ncols);
        for (size_t i = 0; i < n; i++) {
            const Milvus__Proto__Msg__InsertRequest *m = change_insert(parts[i]);
            cols[i] = m->fields_data;
            ncols[i] = m->n_fields_data;
        }
        mcdc_err why;
        int joined = columns_join(cols, ncols, n, &j, &why);
        free(cols);
        free(ncols);
        if (joined) {
            /* Rare (the parts' field sets differ): one call each, waited for
             * here, so nothing is left in flight. */
            log_debug("applier: %s; sending %zu inserts one by one", why.msg, n);
            for (size_t i = 0; i < n; i++)
                if (applier_apply_inserts(a, &parts[i], 1, cc, as_upsert, err)) return -1;
            return 0;
        }
        send_cols = j.cols;
        n_send = j.n_cols;
    }
    applier_write *wr = mcdc_xcalloc(1, sizeof *wr);
    wr->a = a;
    wr->rows = rows;
    wr->n_parts = n;
    wr->upsert = as_upsert;
    snprintf(wr->source, sizeof wr->source, "%s.%s", cc->db_name, cc->name);
    const char *db, *coll;
    target_names(a, cc, &db, &coll);
    const char *part = dml_partition(a, cc, parts[0]);
    int rc = applier_ensure_collection(a, cc, err);
    if (rc == 0 && part) rc = ensure_partition(a, db, coll, part, err);
    if (rc == 0 &&
        !(wr->p = milvus_write_start(a->client, as_upsert, db, coll, part, send_cols, n_send, (uint32_t)rows, err)))
        rc = -1;
    /* The request is serialized now: the joined copy is not needed while
     * the call is in flight. */
    columns_free(&j);
    if (rc) {
        write_err(wr, err);
        free(wr);
        return -1;
    }
    *out = wr;
    return 0;
}

bool applier_write_ready(applier_write *wr) { return milvus_pending_ready(wr->p); }
size_t applier_write_bytes(const applier_write *wr) { return milvus_pending_bytes(wr->p); }
size_t applier_write_rows(const applier_write *wr) { return wr->rows; }
bool applier_write_is_upsert(const applier_write *wr) { return wr->upsert; }

int applier_write_wait(applier_write *wr, mcdc_err *err) {
    if (milvus_pending_wait(wr->p, &milvus__proto__milvus__mutation_result__descriptor, NULL, err)) {
        write_err(wr, err);
        return -1;
    }
    if (wr->upsert)
        wr->a->stats.upserted_rows += wr->rows;
    else
        wr->a->stats.inserted_rows += wr->rows;
    return 0;
}

int applier_write_resend(applier_write *wr, bool as_upsert, mcdc_err *err) {
    wr->upsert = as_upsert;
    if (milvus_pending_resend(wr->p, as_upsert ? "Upsert" : "Insert", err)) {
        write_err(wr, err);
        return -1;
    }
    return 0;
}

void applier_write_free(applier_write *wr) {
    if (!wr) return;
    milvus_pending_free(wr->p);
    free(wr);
}

int applier_apply_inserts(applier *a, const change *const *parts, size_t n, const catalog_coll *cc, bool as_upsert,
                          mcdc_err *err) {
    applier_write *wr;
    if (applier_send_inserts(a, parts, n, cc, as_upsert, &wr, err)) return -1;
    if (!wr) return 0;
    int rc = applier_write_wait(wr, err);
    applier_write_free(wr);
    return rc;
}

/* The keys of consecutive Deletes of one partition, in one key list: one
 * Delete call (chunked by expression size in milvus_delete_ids) instead of
 * one per WAL message. The strings stay in the parts; only pointers are
 * gathered. Deletes are idempotent and the keys of one partition's deletes
 * commute, so joining them changes nothing the target ends up holding. */
int applier_apply_deletes(applier *a, const change *const *parts, size_t n, const catalog_coll *cc, mcdc_err *err) {
    const char *db, *coll;
    target_names(a, cc, &db, &coll);
    if (!cc->pk) return mcdc_errf(err, MCDC_EUNAVAIL, "source collection %s.%s has no primary key in etcd yet", cc->db_name, cc->name);
    if (applier_ensure_collection(a, cc, err)) return -1;
    bool strings = cc->pk->data_type == MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    /* decode.h: a Delete's keys are in primary_keys, whichever field the
     * source wrote them in. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += change_ids_count(change_delete(parts[i])->primary_keys);
    Milvus__Proto__Schema__IDs all = MILVUS__PROTO__SCHEMA__IDS__INIT;
    Milvus__Proto__Schema__LongArray longs = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    Milvus__Proto__Schema__StringArray strs = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    int64_t *lv = strings ? NULL : mcdc_xcalloc(total ? total : 1, sizeof *lv);
    char **sv = strings ? mcdc_xcalloc(total ? total : 1, sizeof *sv) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const Milvus__Proto__Schema__IDs *ids = change_delete(parts[i])->primary_keys;
        size_t m = change_ids_count(ids);
        if (m == 0) {
            continue;
        } else if (strings && ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID) {
            memcpy(sv + k, ids->str_id->data, m * sizeof *sv);
        } else if (!strings && ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID) {
            memcpy(lv + k, ids->int_id->data, m * sizeof *lv);
        } else {
            free(lv);
            free(sv);
            return mcdc_errf(err, MCDC_EDECODE, "Delete of %s.%s: keys of another type than the primary key %s",
                             cc->db_name, cc->name, cc->pk->name);
        }
        k += m;
    }
    if (strings) {
        strs.n_data = total;
        strs.data = sv;
        all.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
        all.str_id = &strs;
    } else {
        longs.n_data = total;
        longs.data = lv;
        all.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
        all.int_id = &longs;
    }
    int rc = milvus_delete_ids(a->client, db, coll, dml_partition(a, cc, parts[0]), cc->pk->name, &all, err);
    free(lv);
    free(sv);
    if (rc) {
        /* Deleting from a partition the target never had deletes nothing. */
        if (err->code == MCDC_ENOTFOUND && dml_partition(a, cc, parts[0])) return 0;
        return -1;
    }
    a->stats.deleted_rows += total;
    return 0;
}

static int apply_drop_collection(applier *a, const catalog_coll *cc, mcdc_err *err) {
    const char *db, *coll;
    target_names(a, cc, &db, &coll);
    if (milvus_drop_collection(a->client, db, coll, err) && err->code != MCDC_ENOTFOUND) return -1;
    char *k = key3(db, coll, NULL);
    set_del_prefix(&a->collections, k);
    set_del_prefix(&a->partitions, k);
    free(k);
    a->stats.ddl++;
    log_info("target: dropped collection %s.%s", db, coll);
    return 0;
}

static int apply_drop_partition(applier *a, const change *c, const catalog_coll *cc, mcdc_err *err) {
    const char *db, *coll;
    target_names(a, cc, &db, &coll);
    if (a->spec->target.ignore_partition || is_partition_key(cc)) return 0;
    /* The target refuses to drop a loaded partition; the source's user had
     * released it first, but a release of partitions is not in a 2.3.5 WAL. */
    Milvus__Proto__Milvus__ReleasePartitionsRequest rel = MILVUS__PROTO__MILVUS__RELEASE_PARTITIONS_REQUEST__INIT;
    char *names[1] = {(char *)c->partition_name};
    rel.db_name = (char *)db;
    rel.collection_name = (char *)coll;
    rel.n_partition_names = 1;
    rel.partition_names = names;
    mcdc_err ignored;
    (void)milvus_replay_request(a->client, "ReleasePartitions", &rel.base, &ignored);
    if (milvus_drop_partition(a->client, db, coll, c->partition_name, err) && err->code != MCDC_ENOTFOUND) return -1;
    char *k = key3(db, coll, c->partition_name);
    set_del_prefix(&a->partitions, k);
    free(k);
    a->stats.ddl++;
    return 0;
}

int applier_apply(applier *a, const change *c, const catalog_coll *cc, bool as_upsert, mcdc_err *err) {
    int rc = 0;
    switch (c->kind) {
    case CHANGE_INSERT: return applier_apply_inserts(a, &c, 1, cc, as_upsert, err);
    case CHANGE_DELETE: rc = applier_apply_deletes(a, &c, 1, cc, err); break;
    case CHANGE_CREATE_COLLECTION: rc = applier_ensure_collection(a, cc, err); break;
    case CHANGE_DROP_COLLECTION: rc = apply_drop_collection(a, cc, err); break;
    case CHANGE_CREATE_PARTITION: {
        const char *db, *coll;
        target_names(a, cc, &db, &coll);
        rc = applier_ensure_collection(a, cc, err) ? -1 : ensure_partition(a, db, coll, c->partition_name, err);
        break;
    }
    case CHANGE_DROP_PARTITION: rc = apply_drop_partition(a, c, cc, err); break;
    default: return mcdc_errf(err, MCDC_EINTERNAL, "applier: %s is not a DML-channel change", change_kind_name(c->kind));
    }
    if (rc) mcdc_err_prefix(err, "%s of %s.%s", change_kind_name(c->kind), cc->db_name, cc->name);
    return rc;
}

/* ---- replicate channel ---------------------------------------------------------- */

typedef struct replay_kind {
    change_kind kind;
    const char *method;
    mcdc_code ok_code;   /* an error that means "already as wanted" */
} replay_kind;

static const replay_kind REPLAYS[] = {
    {CHANGE_CREATE_INDEX, "CreateIndex", MCDC_EEXIST},
    {CHANGE_DROP_INDEX, "DropIndex", MCDC_ENOTFOUND},
    {CHANGE_LOAD_COLLECTION, "LoadCollection", MCDC_OK},
    {CHANGE_RELEASE_COLLECTION, "ReleaseCollection", MCDC_ENOTFOUND},
    {CHANGE_LOAD_PARTITIONS, "LoadPartitions", MCDC_OK},
    {CHANGE_RELEASE_PARTITIONS, "ReleasePartitions", MCDC_ENOTFOUND},
    {CHANGE_FLUSH, "Flush", MCDC_ENOTFOUND},
    {CHANGE_CREATE_DATABASE, "CreateDatabase", MCDC_EEXIST},
    {CHANGE_DROP_DATABASE, "DropDatabase", MCDC_ENOTFOUND},
};

int applier_replay(applier *a, change *c, mcdc_err *err) {
    const replay_kind *rk = NULL;
    for (size_t i = 0; i < sizeof REPLAYS / sizeof REPLAYS[0]; i++)
        if (REPLAYS[i].kind == c->kind) rk = &REPLAYS[i];
    if (!rk) return mcdc_errf(err, MCDC_EINTERNAL, "applier: %s is not a replicate-channel request", change_kind_name(c->kind));

    const char *src_db = c->db_name[0] ? c->db_name : "default";
    const char *tdb, *tcoll;
    task_spec_map_name(a->spec, src_db, c->collection_name, &tdb, &tcoll);

    /* The request is sent as the source wrote it, with the target's names and
     * without the source's MsgBase (its msgID and ts mean nothing here). The
     * message is restored afterwards: the change still owns its strings. */
    ProtobufCMessage *m = c->msg;
    /* Each request type places db_name, collection_name and its MsgBase
     * (number 1) differently: pbfield finds them. */
    void **base_slot = pbfield_slot_number(m, 1, PROTOBUF_C_TYPE_MESSAGE);
    void *saved_base = base_slot ? *base_slot : NULL;
    char **db_slot = pbfield_slot(m, "db_name", PROTOBUF_C_TYPE_STRING);
    char **coll_slot = pbfield_slot(m, "collection_name", PROTOBUF_C_TYPE_STRING);
    char *saved_db = db_slot ? *db_slot : NULL, *saved_coll = coll_slot ? *coll_slot : NULL;
    char **flush_names = NULL, **saved_flush = NULL;
    size_t n_flush = 0;
    if (base_slot) *base_slot = NULL;
    if (db_slot) *db_slot = (char *)tdb;
    if (coll_slot && c->collection_name[0]) *coll_slot = (char *)tcoll;
    if (c->kind == CHANGE_FLUSH) {
        Milvus__Proto__Milvus__FlushRequest *fr = (void *)m;
        n_flush = fr->n_collection_names;
        saved_flush = fr->collection_names;
        flush_names = mcdc_xcalloc(n_flush ? n_flush : 1, sizeof(char *));
        for (size_t i = 0; i < n_flush; i++) {
            const char *d2, *c2;
            task_spec_map_name(a->spec, src_db, saved_flush[i], &d2, &c2);
            flush_names[i] = (char *)c2;
        }
        fr->collection_names = flush_names;
    }
    int rc = milvus_replay_request(a->client, rk->method, m, err);
    if (c->kind == CHANGE_FLUSH) ((Milvus__Proto__Milvus__FlushRequest *)m)->collection_names = saved_flush;
    free(flush_names);
    if (base_slot) *base_slot = saved_base;
    if (db_slot) *db_slot = saved_db;
    if (coll_slot) *coll_slot = saved_coll;
    if (rc && rk->ok_code != MCDC_OK && err->code == rk->ok_code) rc = 0;
    if (rc) {
        mcdc_err_prefix(err, "%s on %s.%s", rk->method, tdb, tcoll[0] ? tcoll : "*");
        return -1;
    }
    if (c->kind == CHANGE_DROP_DATABASE) {
        char *k = mcdc_xstrdup(tdb);
        set_del_prefix(&a->databases, k);
        set_del_prefix(&a->collections, k);
        set_del_prefix(&a->partitions, k);
        free(k);
    }
    a->stats.ddl++;
    return 0;
}
