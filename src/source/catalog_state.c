/* catalog_state.c — what the source holds about a collection beyond
 * root-coord (catalog.h: catalog_indexes, catalog_load_state): its indexes
 * under <root>/meta/field-index/ and its load state under
 * <root>/meta/querycoord-*-loadinfo/ (spec/etcd-meta.md §2, §4.3).
 *
 * Read from etcd when asked, not followed by the watch: only a target
 * collection mcdc creates needs them, once. Unlike the root-coord keys, a
 * value here that does not decode is an error (MCDC_EDECODE) for the caller
 * to see, not a warning. */
#include "source/catalog_int.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "index_coord.pb-c.h"
#include "query_coord.pb-c.h"

/* "<root>/meta/<what>": the catalog's prefix is "<root>/meta/root-coord/". */
static char *meta_key(const catalog *c, const char *what) {
    size_t keep = strlen(c->prefix) - strlen("root-coord/");
    assert(strlen(c->prefix) >= strlen("root-coord/") && strcmp(c->prefix + keep, "root-coord/") == 0);
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
    if (catalog_is_tombstone(kv->value, kv->value_len)) return 0;
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
    if (catalog_is_tombstone(kv->value, kv->value_len)) return 0;
    const char *slash = strrchr(kv->key, '/');
    int64_t pid;
    if (!slash || !catalog_parse_id(slash + 1, strlen(slash + 1), &pid)) return 0;
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
