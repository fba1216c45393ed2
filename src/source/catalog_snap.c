/* catalog_snap.c — the catalog's records of one collection → the immutable,
 * reference-counted snapshot readers get (catalog.h).
 *
 * A snapshot owns copies of everything it shows, so it stays whole after the
 * record changes or the catalog is closed. Each record caches its snapshot
 * until a key of that collection changes; every reader of an unchanged
 * collection shares the one snapshot. Everything here runs with the
 * catalog's lock held, except catalog_release, which a reader may call at any
 * time on any thread. */
#include "source/catalog_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

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
    for (size_t i = 0; i < s->n_props; i++) {
        free(s->prop_keys[i]);
        free(s->prop_values[i]);
    }
    free(s->prop_keys);
    free(s->prop_values);
    free(s);
}

void catalog_release(catalog_coll *cc) {
    if (!cc) return;
    int before = atomic_fetch_sub_explicit(&cc->refs, 1, memory_order_acq_rel);
    assert(before >= 1);
    if (before == 1) snap_free(cc);
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

/* The schema: pack a CollectionSchema that borrows the stored fields, then
 * unpack it, which yields one self-contained copy the snapshot owns. */
static Milvus__Proto__Schema__CollectionSchema *copy_schema(const coll_rec *r) {
    const Milvus__Proto__Etcd__CollectionInfo *info = r->info;
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
    assert(k == nf);
    qsort(fields, k, sizeof *fields, cmp_field);
    tmp.n_fields = k;
    tmp.fields = fields;
    size_t len = milvus__proto__schema__collection_schema__get_packed_size(&tmp);
    uint8_t *bytes = mcdc_xmalloc(len ? len : 1);
    milvus__proto__schema__collection_schema__pack(&tmp, bytes);
    Milvus__Proto__Schema__CollectionSchema *schema = milvus__proto__schema__collection_schema__unpack(NULL, len, bytes);
    free(bytes);
    free(fields);
    return schema;
}

static void copy_channels(catalog_coll *s, const Milvus__Proto__Etcd__CollectionInfo *info) {
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

static void copy_props(catalog_coll *s, const Milvus__Proto__Etcd__CollectionInfo *info) {
    size_t n = info->n_properties;
    s->prop_keys = mcdc_xcalloc(n ? n : 1, sizeof(char *));
    s->prop_values = mcdc_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const Milvus__Proto__Common__KeyValuePair *kv = info->properties[i];
        if (!kv || !kv->key) continue;
        s->prop_keys[s->n_props] = mcdc_xstrdup(kv->key);
        s->prop_values[s->n_props++] = mcdc_xstrdup(kv->value ? kv->value : "");
    }
}

static catalog_coll *build_snap(catalog *c, coll_rec *r) {
    catalog_coll *s = mcdc_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->id = r->id;
    s->db_id = r->db_id;
    s->revision = c->revision;
    const Milvus__Proto__Etcd__CollectionInfo *info = r->info;
    const char *dbn = idmap_get(&c->dbs, r->db_id);
    s->db_name = mcdc_xstrdup(dbn ? dbn : (r->db_id == 1 || r->db_id == 0 ? "default" : ""));
    s->state = r->gone ? CATALOG_DROPPED : (info ? (int)info->state : CATALOG_CREATING);

    s->schema = copy_schema(r);
    s->name = mcdc_xstrdup(s->schema && s->schema->name ? s->schema->name : "");
    for (size_t i = 0; s->schema && i < s->schema->n_fields; i++)
        if (s->schema->fields[i]->is_primary_key) s->pk = s->schema->fields[i];
    if (info) {
        /* The target collection is made with these (target_desc.c): a
         * target of one shard takes a many-shard source's rows on one
         * channel, one datanode buffer and one growing segment. */
        s->shards_num = info->shards_num;
        s->consistency_level = (int)info->consistency_level;
        copy_channels(s, info);
        copy_props(s, info);
    }

    size_t np = idmap_count(&r->parts);
    s->partitions = mcdc_xcalloc(np ? np : 1, sizeof *s->partitions);
    void *v;
    for (size_t it = 0; idmap_next(&r->parts, &it, NULL, &v);) {
        Milvus__Proto__Etcd__PartitionInfo *p = v;
        catalog_partition *cp = &s->partitions[s->n_partitions++];
        cp->id = p->partition_id;
        cp->name = mcdc_xstrdup(p->partition_name);
        cp->created_ts = p->partition_created_timestamp;
        cp->state = (int)p->state;
    }
    assert(s->n_partitions == np);
    qsort(s->partitions, s->n_partitions, sizeof *s->partitions, cmp_part);

    for (alias_rec *a = c->aliases; a; a = a->next) {
        if (a->dropped || a->coll_id != r->id) continue;
        s->aliases = mcdc_xrealloc(s->aliases, (s->n_aliases + 1) * sizeof(char *));
        s->aliases[s->n_aliases++] = mcdc_xstrdup(a->name);
    }
    return s;
}

catalog_coll *catalog_snap_of(catalog *c, coll_rec *r) {
    if (!r->snap) r->snap = build_snap(c, r);
    /* The record's own reference keeps the count above zero while it caches. */
    int before = atomic_fetch_add_explicit(&r->snap->refs, 1, memory_order_relaxed);
    assert(before >= 1);
    (void)before;
    return r->snap;
}

void catalog_snap_invalidate(coll_rec *r) {
    if (r->snap) {
        catalog_release(r->snap);
        r->snap = NULL;
    }
}
