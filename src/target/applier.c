/* applier.c — see applier.h. */
#include "target/applier.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/pbfield.h"
#include "target/columns.h"
#include "target/schema_check.h"

/* Names known to exist on the target ("db\x1f coll" or "db\x1f coll\x1f part"),
 * so the hot path does not ask the target before every insert. A few hundred
 * entries at most; a linear scan is fine. */
typedef struct name_set {
    char **items;
    size_t n;
} name_set;

struct applier {
    applier_options opt;
    milvus_client *client;
    name_set collections;
    name_set partitions;
    name_set databases;
};

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

applier *applier_open(const milvus_config *target, const applier_options *opt, mcdc_err *err) {
    milvus_client *mc = milvus_open(target, err);
    if (!mc) return NULL;
    applier *a = mcdc_xcalloc(1, sizeof *a);
    if (opt) a->opt = *opt;
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

static bool is_partition_key(const target_collection *tc) {
    for (size_t i = 0; tc->schema && i < tc->schema->n_fields; i++)
        if (tc->schema->fields[i]->is_partition_key) return true;
    return false;
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

/* A CreateIndex may already be done on the target: an earlier try that
 * timed out on a busy target but landed, the index copy_source_state gave
 * a new collection, an operator's own. Sending it again is not harmless
 * there: a restarting 2.3.5 target was seen to keep eight copies of one
 * index from tries that each timed out, and then to refuse the next with
 * "creating multiple indexes on same field is not supported" (datacoord's
 * CanCreateIndex), which paused the task. So the field is looked at first,
 * and again after a refusal: what the source asked for is there when the
 * field carries an index with these params, and the request is done. */
static bool index_already_there(applier *a, const char *db, const char *coll,
                                const Milvus__Proto__Milvus__CreateIndexRequest *r) {
    bool yes = false;
    mcdc_err err;
    if (milvus_field_indexed_as(a->client, db, coll, r->field_name, r->extra_params, r->n_extra_params, &yes, &err)) {
        log_warn("target %s.%s: cannot tell whether %s is already indexed: %s", db, coll, r->field_name, err.msg);
        return false;
    }
    if (yes) log_info("target %s.%s: %s is already indexed as the source asks; CreateIndex done", db, coll, r->field_name);
    return yes;
}

/* The one way mcdc creates an index on the target: 0 when the field carries
 * it afterwards, whoever made it. */
static int create_index(applier *a, const char *db, const char *coll, const Milvus__Proto__Milvus__CreateIndexRequest *r,
                        mcdc_err *err) {
    if (index_already_there(a, db, coll, r)) return 0;
    if (milvus_replay_request(a->client, "CreateIndex", &r->base, err) == 0 || err->code == MCDC_EEXIST) return 0;
    if (!mcdc_err_is_transient(err->code) && index_already_there(a, db, coll, r)) return 0;
    return -1;
}

/* A collection older than the task has its CreateIndex and Load requests in
 * the replicate channel before the task's start, so the target would get
 * neither; a new target collection therefore takes the source's current
 * index and load state (tc->read_state). Later changes still come through
 * the replicate channel: create_index looks before it creates, and a
 * repeated load is harmless.
 * Failures are logged, not fatal: the rows are what replication owes, and
 * the operator can index and load by hand. */
static void copy_source_state(applier *a, const target_collection *tc) {
    if (!tc->read_state) return;
    const char *db = tc->db, *coll = tc->name;
    mcdc_err err;
    target_state st = {0};
    if (tc->read_state(tc->state_ctx, &st, &err)) {
        log_warn("target %s.%s: cannot read the source's indexes and load state: %s", db, coll, err.msg);
        return;
    }
    bool indexed = true;
    for (size_t i = 0; i < st.n_indexes; i++) {
        const target_index *ix = &st.indexes[i];
        size_t np = ix->n_params;
        Milvus__Proto__Common__KeyValuePair *kv = mcdc_xcalloc(np ? np : 1, sizeof *kv);
        Milvus__Proto__Common__KeyValuePair **kvp = mcdc_xcalloc(np ? np : 1, sizeof *kvp);
        for (size_t k = 0; k < np; k++) {
            kv[k] = (Milvus__Proto__Common__KeyValuePair)MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
            kv[k].key = (char *)ix->keys[k];
            kv[k].value = (char *)ix->values[k];
            kvp[k] = &kv[k];
        }
        Milvus__Proto__Milvus__CreateIndexRequest req = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
        req.db_name = (char *)db;
        req.collection_name = (char *)coll;
        req.field_name = (char *)ix->field;
        req.index_name = (char *)ix->name;
        req.extra_params = kvp;
        req.n_extra_params = np;
        if (create_index(a, db, coll, &req, &err)) {
            log_warn("target %s.%s: creating index %s on %s as the source has it: %s", db, coll, ix->name, ix->field,
                     err.msg);
            indexed = false;
        } else {
            log_info("target %s.%s: index %s on %s, as on the source", db, coll, ix->name, ix->field);
        }
        free(kv);
        free(kvp);
    }
    if (st.loaded && indexed && st.n_indexes) {
        /* The target's own replica count: its size is its operator's choice. */
        int rc;
        if (st.whole) {
            Milvus__Proto__Milvus__LoadCollectionRequest req = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
            req.db_name = (char *)db;
            req.collection_name = (char *)coll;
            rc = milvus_replay_request(a->client, "LoadCollection", &req.base, &err);
        } else {
            Milvus__Proto__Milvus__LoadPartitionsRequest req = MILVUS__PROTO__MILVUS__LOAD_PARTITIONS_REQUEST__INIT;
            req.db_name = (char *)db;
            req.collection_name = (char *)coll;
            req.partition_names = (char **)st.load_partitions;
            req.n_partition_names = st.n_load_partitions;
            rc = st.n_load_partitions ? milvus_replay_request(a->client, "LoadPartitions", &req.base, &err) : 0;
        }
        if (rc) log_warn("target %s.%s: loading it as the source has it: %s", db, coll, err.msg);
        else log_info("target %s.%s: loaded, as on the source", db, coll);
    }
    if (tc->free_state) tc->free_state(tc->state_ctx, &st);
}

int applier_ensure_collection(applier *a, const target_collection *tc, mcdc_err *err) {
    const char *db = tc->db, *coll = tc->name;
    char *k = key3(db, coll, NULL);
    if (set_has(&a->collections, k)) {
        free(k);
        return 0;
    }
    if (!tc->schema || !tc->pk) {
        free(k);
        return mcdc_errf(err, MCDC_EUNAVAIL, "source collection %s.%s (id %" PRId64 ") has no fields in etcd yet",
                         tc->source_db, tc->source_name, tc->source_id);
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
    if (!has && tc->must_exist) {
        free(k);
        return mcdc_errf(err, MCDC_ENOTFOUND, "target collection %s.%s (of source %s.%s) does not exist", db, coll,
                         tc->source_db, tc->source_name);
    }
    if (!has) {
        /* The target gets the user's fields only: no RowID/Timestamp (ids < 100,
         * the server adds its own) and no $meta (enable_dynamic_field says it).
         * autoID is switched off so the keys the source generated are kept. */
        const Milvus__Proto__Schema__CollectionSchema *src = tc->schema;
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
        int64_t num_partitions = is_partition_key(tc) ? tc->num_partitions : 0;
        size_t np = tc->n_props;
        Milvus__Proto__Common__KeyValuePair *props = mcdc_xcalloc(np ? np : 1, sizeof *props);
        const Milvus__Proto__Common__KeyValuePair **prop_ptrs = mcdc_xcalloc(np ? np : 1, sizeof *prop_ptrs);
        for (size_t i = 0; i < np; i++) {
            props[i] = (Milvus__Proto__Common__KeyValuePair)MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
            props[i].key = (char *)tc->prop_keys[i];
            props[i].value = (char *)tc->prop_values[i];
            prop_ptrs[i] = &props[i];
        }
        int rc = milvus_create_collection(a->client, db, coll, &s, tc->shards_num > 0 ? tc->shards_num : 1,
                                          tc->consistency_level, prop_ptrs, np, num_partitions, err);
        free(props);
        free(prop_ptrs);
        free(copies);
        free(ptrs);
        if (rc && err->code != MCDC_EEXIST) {
            free(k);
            return -1;
        }
        if (rc == 0) {
            log_info("target: created collection %s.%s from source %s.%s (id %" PRId64 ")", db, coll, tc->source_db,
                     tc->source_name, tc->source_id);
            created = true;
        }
    }
    set_add(&a->collections, k);
    if (!is_partition_key(tc) && !a->opt.ignore_partition) {
        for (size_t i = 0; i < tc->n_partitions; i++)
            if (ensure_partition(a, db, coll, tc->partitions[i].name, err)) return -1;
    }
    if (created) copy_source_state(a, tc);
    return 0;
}

/* The partition to name in a DML call on the target, or NULL for "all"/"the
 * collection decides" (partition-key collections refuse a partition name:
 * milvus-grpc.md §6). */
static const char *dml_partition(const applier *a, const target_collection *tc, const change *c) {
    if (a->opt.ignore_partition || is_partition_key(tc)) return NULL;
    if (!c->partition_name[0] || c->partition_id == -1) return NULL;
    return c->partition_name;
}

/* "of db.coll (n messages joined)": the source collection a write is for,
 * in its errors (milvus_write_start's `about`). */
static void write_about(char *out, size_t cap, const target_collection *tc, size_t n_parts) {
    if (n_parts > 1)
        snprintf(out, cap, "of %s.%s (%zu messages joined)", tc->source_db, tc->source_name, n_parts);
    else
        snprintf(out, cap, "of %s.%s", tc->source_db, tc->source_name);
}

int applier_send_inserts(applier *a, const change *const *parts, size_t n, const target_collection *tc,
                         bool as_upsert, milvus_write **out, mcdc_err *err) {
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
                if (applier_apply_inserts(a, &parts[i], 1, tc, as_upsert, err)) return -1;
            return 0;
        }
        send_cols = j.cols;
        n_send = j.n_cols;
    }
    char about[MCDC_ERR_MSG_MAX / 2];
    write_about(about, sizeof about, tc, n);
    const char *part = dml_partition(a, tc, parts[0]);
    int rc = applier_ensure_collection(a, tc, err);
    if (rc == 0 && part) rc = ensure_partition(a, tc->db, tc->name, part, err);
    if (rc) {
        mcdc_err_prefix(err, "%s %s", as_upsert ? "Upsert" : "Insert", about);
    } else if (!(*out = milvus_write_start(a->client, as_upsert, tc->db, tc->name, part, send_cols, n_send,
                                           (uint32_t)rows, about, err))) {
        rc = -1;
    }
    /* The request is serialized now: the joined copy is not needed while
     * the call is in flight. */
    columns_join_free(&j);
    return rc;
}

int applier_send_rows(applier *a, const target_collection *tc, const char *partition,
                      Milvus__Proto__Schema__FieldData *const *cols, size_t n_cols, uint32_t rows, milvus_write **out,
                      mcdc_err *err) {
    *out = NULL;
    const char *part = a->opt.ignore_partition || is_partition_key(tc) || !partition || !partition[0] ? NULL : partition;
    char about[MCDC_ERR_MSG_MAX / 2];
    snprintf(about, sizeof about, "of %s.%s (snapshot)", tc->source_db, tc->source_name);
    /* The partition is not made here: the target collection was made with
     * the source's partitions, and one missing now was dropped by the
     * stream after the page was read (MCDC_ENOTFOUND tells the caller). */
    if (applier_ensure_collection(a, tc, err)) {
        mcdc_err_prefix(err, "Upsert %s", about);
        return -1;
    }
    return (*out = milvus_write_start(a->client, true, tc->db, tc->name, part, cols, n_cols, rows, about, err)) ? 0 : -1;
}

int applier_apply_inserts(applier *a, const change *const *parts, size_t n, const target_collection *tc,
                          bool as_upsert, mcdc_err *err) {
    milvus_write *wr;
    if (applier_send_inserts(a, parts, n, tc, as_upsert, &wr, err)) return -1;
    if (!wr) return 0;
    int rc = milvus_write_wait(wr, err);
    milvus_write_free(wr);
    return rc;
}

/* The keys of consecutive Deletes of one partition, in one key list: one
 * Delete call (chunked by expression size in milvus_delete_ids) instead of
 * one per WAL message. The strings stay in the parts; only pointers are
 * gathered. Deletes are idempotent and the keys of one partition's deletes
 * commute, so joining them changes nothing the target ends up holding. */
int applier_apply_deletes(applier *a, const change *const *parts, size_t n, const target_collection *tc,
                          mcdc_err *err) {
    if (!tc->pk)
        return mcdc_errf(err, MCDC_EUNAVAIL, "source collection %s.%s has no primary key in etcd yet", tc->source_db,
                         tc->source_name);
    if (applier_ensure_collection(a, tc, err)) return -1;
    bool strings = tc->pk->data_type == MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
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
                             tc->source_db, tc->source_name, tc->pk->name);
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
    const char *part = dml_partition(a, tc, parts[0]);
    int rc = milvus_delete_ids(a->client, tc->db, tc->name, part, tc->pk->name, &all, err);
    free(lv);
    free(sv);
    if (rc) {
        /* Deleting from a partition the target never had deletes nothing. */
        if (err->code == MCDC_ENOTFOUND && part) return 0;
        return -1;
    }
    return 0;
}

/* What this applier knows of db.name is forgotten: the name may now belong
 * to another collection, or to none. */
static void forget_collection(applier *a, const char *db, const char *name) {
    char *k = key3(db, name, NULL);
    set_del_prefix(&a->collections, k);
    set_del_prefix(&a->partitions, k);
    free(k);
}

int applier_drop_collection(applier *a, const char *db, const char *name, mcdc_err *err) {
    forget_collection(a, db, name);
    if (milvus_drop_collection(a->client, db, name, err) && err->code != MCDC_ENOTFOUND) return -1;
    return 0;
}

static int apply_drop_collection(applier *a, const target_collection *tc, mcdc_err *err) {
    if (applier_drop_collection(a, tc->db, tc->name, err)) return -1;
    log_info("target: dropped collection %s.%s", tc->db, tc->name);
    return 0;
}

int applier_rename_collection(applier *a, const char *db, const char *from, const char *to, mcdc_err *err) {
    forget_collection(a, db, from);
    forget_collection(a, db, to);
    return milvus_rename_collection(a->client, db, from, to, err);
}

int applier_drop_alias(applier *a, const char *db, const char *alias, mcdc_err *err) {
    forget_collection(a, db, alias);
    if (milvus_drop_alias(a->client, db, alias, err) && err->code != MCDC_ENOTFOUND) return -1;
    return 0;
}

int applier_collection_id(applier *a, const char *db, const char *name, int64_t *id, bool *is_alias, mcdc_err *err) {
    *id = 0;
    *is_alias = false;
    /* Asked when a name may have changed hands (another worker's drop or
     * rename): what this applier remembers of it may be stale. */
    forget_collection(a, db, name);
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    /* Not found covers a database that is not there either. */
    if (milvus_describe_collection(a->client, db, name, &r, err)) return err->code == MCDC_ENOTFOUND ? 0 : -1;
    /* DescribeCollection resolves aliases: a name that is an alias is not a
     * collection of that name. */
    if (r->collection_name && r->collection_name[0] && strcmp(r->collection_name, name) != 0) *is_alias = true;
    else *id = r->collection_id;
    milvus__proto__milvus__describe_collection_response__free_unpacked(r, NULL);
    return 0;
}

int applier_timestamp(applier *a, uint64_t *ts, mcdc_err *err) { return milvus_alloc_timestamp(a->client, ts, err); }

int applier_all_loaded(applier *a, const char *db, const char *name, mcdc_err *err) {
    char **parts;
    size_t n;
    if (milvus_list_partitions(a->client, db, name, &parts, &n, err)) return -1;
    /* With no name given, GetLoadState speaks of the collection as a whole,
     * which a load of some partitions can leave "loaded": no answer then. */
    bool loaded = false;
    int rc = n ? milvus_partitions_loaded(a->client, db, name, parts, n, &loaded, err) : 0;
    for (size_t i = 0; i < n; i++) free(parts[i]);
    free(parts);
    if (rc == 0 && !loaded)
        rc = mcdc_errf(err, MCDC_EINVAL, "not every partition of %s.%s is loaded: a count would miss their rows", db,
                       name);
    return rc;
}

int applier_never_written(applier *a, const char *db, const char *name, bool *never, mcdc_err *err) {
    size_t n;
    *never = false;
    if (milvus_flush(a->client, db, name, &n, err)) return -1;
    *never = n == 0;
    return 0;
}

int applier_count(applier *a, const char *db, const char *name, uint64_t as_of, uint64_t *n, mcdc_err *err) {
    /* A guarantee of 1 is met by any server time: the query does not wait. */
    return milvus_count_where(a->client, db, name, NULL, "", as_of ? as_of : 1, n, err);
}

int applier_check_schema(applier *a, const target_collection *tc, mcdc_err *err) {
    Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
    if (milvus_describe_collection(a->client, tc->db, tc->name, &r, err)) return -1;
    int rc = r->schema ? schema_check(tc->schema, r->schema, err)
                       : mcdc_errf(err, MCDC_EREMOTE, "DescribeCollection of %s.%s returned no schema", tc->db, tc->name);
    milvus__proto__milvus__describe_collection_response__free_unpacked(r, NULL);
    if (rc) mcdc_err_prefix(err, "target collection %s.%s exists and mcdc did not create it for source %s.%s", tc->db,
                            tc->name, tc->source_db, tc->source_name);
    return rc;
}

static int apply_drop_partition(applier *a, const change *c, const target_collection *tc, mcdc_err *err) {
    const char *db = tc->db, *coll = tc->name;
    if (a->opt.ignore_partition || is_partition_key(tc)) return 0;
    /* The target refuses to drop a loaded partition; the source's user had
     * released it first, but a release of partitions is not in a 2.3.5 WAL.
     * A refusal as "loaded" even so is retried, release included
     * (milvus_status_class). */
    Milvus__Proto__Milvus__ReleasePartitionsRequest rel = MILVUS__PROTO__MILVUS__RELEASE_PARTITIONS_REQUEST__INIT;
    char *names[1] = {(char *)c->partition_name};
    rel.db_name = (char *)db;
    rel.collection_name = (char *)coll;
    rel.n_partition_names = 1;
    rel.partition_names = names;
    mcdc_err rel_err;
    int release_failed = milvus_replay_request(a->client, "ReleasePartitions", &rel.base, &rel_err);
    if (milvus_drop_partition(a->client, db, coll, c->partition_name, err) && err->code != MCDC_ENOTFOUND) {
        /* "Still loaded" is retried only while our release may yet take
         * effect; a release refused for good (a privilege, say) is the
         * cause to show, not an endless retry of the drop. */
        if (err->code == MCDC_EUNAVAIL && release_failed && !mcdc_err_is_transient(rel_err.code)) *err = rel_err;
        return -1;
    }
    char *k = key3(db, coll, c->partition_name);
    set_del_prefix(&a->partitions, k);
    free(k);
    return 0;
}

int applier_apply(applier *a, const change *c, const target_collection *tc, bool as_upsert, mcdc_err *err) {
    int rc = 0;
    switch (c->kind) {
    case CHANGE_INSERT: return applier_apply_inserts(a, &c, 1, tc, as_upsert, err);
    case CHANGE_DELETE: rc = applier_apply_deletes(a, &c, 1, tc, err); break;
    case CHANGE_CREATE_COLLECTION: rc = applier_ensure_collection(a, tc, err); break;
    case CHANGE_DROP_COLLECTION: rc = apply_drop_collection(a, tc, err); break;
    case CHANGE_CREATE_PARTITION:
        rc = applier_ensure_collection(a, tc, err) ? -1 : ensure_partition(a, tc->db, tc->name, c->partition_name, err);
        break;
    case CHANGE_DROP_PARTITION: rc = apply_drop_partition(a, c, tc, err); break;
    default: return mcdc_errf(err, MCDC_EINTERNAL, "applier: %s is not a DML-channel change", change_kind_name(c->kind));
    }
    if (rc) mcdc_err_prefix(err, "%s of %s.%s", change_kind_name(c->kind), tc->source_db, tc->source_name);
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

int applier_replay(applier *a, change *c, const target_request_names *names, mcdc_err *err) {
    const replay_kind *rk = NULL;
    for (size_t i = 0; i < sizeof REPLAYS / sizeof REPLAYS[0]; i++)
        if (REPLAYS[i].kind == c->kind) rk = &REPLAYS[i];
    if (!rk) return mcdc_errf(err, MCDC_EINTERNAL, "applier: %s is not a replicate-channel request", change_kind_name(c->kind));

    const char *tdb = names->db, *tcoll = names->collection;
    Milvus__Proto__Milvus__FlushRequest *flush = c->kind == CHANGE_FLUSH ? (void *)c->msg : NULL;
    if (flush && names->n_flush != flush->n_collection_names)
        return mcdc_errf(err, MCDC_EINTERNAL, "applier: Flush of %zu collections given %zu target names",
                         flush->n_collection_names, names->n_flush);

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
    char **saved_flush = flush ? flush->collection_names : NULL;
    if (base_slot) *base_slot = NULL;
    if (db_slot) *db_slot = (char *)tdb;
    if (coll_slot && c->collection_name[0]) *coll_slot = (char *)tcoll;
    if (flush) flush->collection_names = (char **)names->flush;
    int rc = c->kind == CHANGE_CREATE_INDEX ? create_index(a, tdb, tcoll, (void *)m, err)
                                            : milvus_replay_request(a->client, rk->method, m, err);
    if (flush) flush->collection_names = saved_flush;
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
    return 0;
}
