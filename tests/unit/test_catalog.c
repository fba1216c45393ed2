/* test_catalog.c — the source catalog (catalog.h) fed key by key through its
 * test seam (catalog_int.h), with no etcd: hand-made keys and protobuf values
 * in the shapes of spec/etcd-meta.md §2-§4. Covers every key layout the
 * catalog reads, the keys it must leave alone, tombstones and deletions,
 * states, and that snapshots stay whole and shared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "etcd_meta.pb-c.h"
#include "source/catalog.h"
#include "source/catalog_int.h"

#define ROOT "by-dev"
#define PREFIX ROOT "/meta/root-coord/"

static const uint8_t TOMBSTONE[] = {0xE2, 0x9B, 0xBC};

/* ---- building etcd values ---------------------------------------------------- */

typedef struct packed {
    uint8_t *data;
    size_t len;
} packed;

static packed pack(const void *msg) {
    const ProtobufCMessage *m = msg;
    packed p = {NULL, protobuf_c_message_get_packed_size(m)};
    p.data = malloc(p.len ? p.len : 1);
    protobuf_c_message_pack(m, p.data);
    return p;
}

static void put(catalog *c, const char *rel, packed v) {
    char key[256];
    snprintf(key, sizeof key, "%s%s", PREFIX, rel);
    catalog_apply_kv(c, key, strlen(key), v.data, v.len);
    free(v.data);
}

static void put_raw(catalog *c, const char *key, const uint8_t *val, size_t len) {
    catalog_apply_kv(c, key, strlen(key), val, len);
}

static void del(catalog *c, const char *rel) {
    char key[256];
    snprintf(key, sizeof key, "%s%s", PREFIX, rel);
    catalog_apply_kv(c, key, strlen(key), NULL, 0);
}

static void tombstone(catalog *c, const char *rel) {
    char key[256];
    snprintf(key, sizeof key, "%s%s", PREFIX, rel);
    catalog_apply_kv(c, key, strlen(key), TOMBSTONE, sizeof TOMBSTONE);
}

/* A CollectionInfo as rootcoord writes it: schema without fields (§4.2). */
static packed collection_info(int64_t id, const char *name, int state, int64_t db_id, size_t shards) {
    Milvus__Proto__Schema__CollectionSchema schema = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    schema.name = (char *)name;
    schema.enable_dynamic_field = true;
    Milvus__Proto__Etcd__CollectionInfo ci = MILVUS__PROTO__ETCD__COLLECTION_INFO__INIT;
    ci.id = id;
    ci.schema = &schema;
    ci.create_time = 449000000000000000ull;
    ci.state = (Milvus__Proto__Etcd__CollectionState)state;
    ci.db_id = db_id;
    ci.shards_num = (int32_t)shards;
    ci.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded;
    char vnames[4][64], pnames[4][64];
    char *vp[4], *pp[4];
    Milvus__Proto__Common__KeyDataPair kd[4], *kdp[4];
    uint8_t msgid[4][8];
    for (size_t i = 0; i < shards && i < 4; i++) {
        snprintf(pnames[i], sizeof pnames[i], "by-dev-rootcoord-dml_%zu", i);
        snprintf(vnames[i], sizeof vnames[i], "by-dev-rootcoord-dml_%zu_%" PRId64 "v%zu", i, id, i);
        vp[i] = vnames[i];
        pp[i] = pnames[i];
        milvus__proto__common__key_data_pair__init(&kd[i]);
        kd[i].key = pnames[i];
        memset(msgid[i], (int)(i + 1), sizeof msgid[i]);
        kd[i].data.data = msgid[i];
        kd[i].data.len = sizeof msgid[i];
        kdp[i] = &kd[i];
    }
    ci.n_virtual_channel_names = ci.n_physical_channel_names = ci.n_start_positions = shards;
    ci.virtual_channel_names = vp;
    ci.physical_channel_names = pp;
    ci.start_positions = kdp;
    return pack(&ci);
}

static packed field(int64_t id, const char *name, bool pk) {
    Milvus__Proto__Schema__FieldSchema f = MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT;
    f.field_id = id;
    f.name = (char *)name;
    f.is_primary_key = pk;
    f.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    return pack(&f);
}

static packed partition(int64_t id, const char *name, int64_t coll) {
    Milvus__Proto__Etcd__PartitionInfo p = MILVUS__PROTO__ETCD__PARTITION_INFO__INIT;
    p.partition_id = id;
    p.partition_name = (char *)name;
    p.collection_id = coll;
    p.partition_created_timestamp = 7;
    return pack(&p);
}

static packed database(int64_t id, const char *name, int state) {
    Milvus__Proto__Etcd__DatabaseInfo d = MILVUS__PROTO__ETCD__DATABASE_INFO__INIT;
    d.id = id;
    d.name = (char *)name;
    d.state = (Milvus__Proto__Etcd__DatabaseState)state;
    return pack(&d);
}

static packed alias(const char *name, int64_t coll, int state) {
    Milvus__Proto__Etcd__AliasInfo a = MILVUS__PROTO__ETCD__ALIAS_INFO__INIT;
    a.alias_name = (char *)name;
    a.collection_id = coll;
    a.state = (Milvus__Proto__Etcd__AliasState)state;
    return pack(&a);
}

/* Collection 447 "books" in the default db, two shards, as CreateCollection
 * leaves it (§6): fields with system ones, one partition, state Created. */
static catalog *books(void) {
    catalog *c = catalog_new_detached(ROOT);
    put(c, "database/db-info/1", database(1, "default", 1));
    put(c, "database/collection-info/1/447", collection_info(447, "books", CATALOG_CREATING, 1, 2));
    put(c, "fields/447/0", field(0, "RowID", false));
    put(c, "fields/447/1", field(1, "Timestamp", false));
    put(c, "fields/447/101", field(101, "vec", false));
    put(c, "fields/447/100", field(100, "id", true));
    put(c, "partitions/447/4472", partition(4472, "_default", 447));
    put(c, "database/collection-info/1/447", collection_info(447, "books", CATALOG_CREATED, 1, 2));
    return c;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_collection_in_db_layout(void **state) {
    (void)state;
    catalog *c = books();
    catalog_coll *cc = catalog_get(c, 447);
    assert_non_null(cc);
    assert_string_equal(cc->name, "books");
    assert_string_equal(cc->db_name, "default");
    assert_int_equal(cc->db_id, 1);
    assert_int_equal(cc->state, CATALOG_CREATED);
    /* user fields in id order, then the system ones (as Milvus lists them) */
    assert_int_equal(cc->schema->n_fields, 4);
    assert_int_equal(cc->schema->fields[0]->field_id, 100);
    assert_int_equal(cc->schema->fields[1]->field_id, 101);
    assert_int_equal(cc->schema->fields[2]->field_id, 0);
    assert_int_equal(cc->schema->fields[3]->field_id, 1);
    assert_true(cc->schema->enable_dynamic_field);
    assert_non_null(cc->pk);
    assert_string_equal(cc->pk->name, "id");
    assert_int_equal(cc->n_channels, 2);
    /* What the target collection is made with: a lost shard count put every
     * target collection on one shard (fixed in the issue-20 session). */
    assert_int_equal(cc->shards_num, 2);
    assert_int_equal(cc->consistency_level, MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded);
    assert_string_equal(cc->pchannels[1], "by-dev-rootcoord-dml_1");
    assert_string_equal(cc->vchannels[1], "by-dev-rootcoord-dml_1_447v1");
    const catalog_start *st = catalog_start_on(cc, "by-dev-rootcoord-dml_1");
    assert_non_null(st);
    assert_int_equal(st->len, 8);
    assert_int_equal(st->msgid[0], 2);
    assert_null(catalog_start_on(cc, "by-dev-rootcoord-dml_9"));
    assert_int_equal(cc->n_partitions, 1);
    assert_string_equal(catalog_partition_by_id(cc, 4472)->name, "_default");
    assert_null(catalog_partition_by_id(cc, 1));

    catalog_coll *byname = catalog_find(c, NULL, "books");
    assert_ptr_equal(byname, cc); /* unchanged: the one cached snapshot */
    catalog_release(byname);
    assert_null(catalog_find(c, "default", "nope"));
    catalog_release(cc);
    catalog_close(c);
}

static void test_creating_then_created(void **state) {
    (void)state;
    catalog *c = catalog_new_detached(ROOT);
    assert_null(catalog_get(c, 500)); /* never seen */
    assert_false(catalog_wait_collection(c, 500, 0));
    put(c, "fields/500/100", field(100, "id", true)); /* fields may come first */
    assert_null(catalog_get(c, 500));
    put(c, "database/collection-info/1/500", collection_info(500, "c", CATALOG_CREATING, 1, 1));
    catalog_coll *cc = catalog_get(c, 500);
    assert_int_equal(cc->state, CATALOG_CREATING);
    assert_false(catalog_wait_collection(c, 500, 0));
    catalog_coll **list;
    size_t n = catalog_list(c, NULL, &list);
    assert_int_equal(n, 1); /* Creating counts as live */
    catalog_release_list(list, n);
    put(c, "database/collection-info/1/500", collection_info(500, "c", CATALOG_CREATED, 1, 1));
    assert_true(catalog_wait_collection(c, 500, 0));
    catalog_coll *now = catalog_get(c, 500);
    assert_int_equal(now->state, CATALOG_CREATED);
    assert_int_equal(cc->state, CATALOG_CREATING); /* the old snapshot did not change */
    catalog_release(now);
    catalog_release(cc);
    catalog_close(c);
}

static void test_legacy_layout(void **state) {
    (void)state;
    catalog *c = catalog_new_detached(ROOT);
    /* no db-info for "default" yet, as on a fresh Milvus */
    put(c, "collection/600", collection_info(600, "old", CATALOG_CREATED, 0, 1));
    catalog_coll *cc = catalog_find(c, "", "old");
    assert_non_null(cc);
    assert_string_equal(cc->db_name, "default");
    assert_int_equal(cc->db_id, 1);
    catalog_release(cc);
    assert_true(catalog_has_db(c, "default"));

    /* A collection moved to db 2: a later legacy delete must not erase it. */
    put(c, "database/db-info/2", database(2, "sales", 1));
    put(c, "database/collection-info/2/600", collection_info(600, "old", CATALOG_CREATED, 2, 1));
    tombstone(c, "collection/600");
    cc = catalog_get(c, 600);
    assert_int_equal(cc->state, CATALOG_CREATED);
    assert_string_equal(cc->db_name, "sales");
    catalog_release(cc);
    catalog_close(c);
}

static void test_drop_and_never_forget(void **state) {
    (void)state;
    catalog *c = books();
    catalog_coll *held = catalog_get(c, 447);
    put(c, "database/collection-info/1/447", collection_info(447, "books", CATALOG_DROPPING, 1, 2));
    assert_null(catalog_find(c, NULL, "books"));
    catalog_coll **list;
    size_t n = catalog_list(c, NULL, &list);
    assert_int_equal(n, 0);
    catalog_release_list(list, n);
    n = catalog_list_held(c, &list); /* its last messages are still to be replayed */
    assert_int_equal(n, 1);
    assert_int_equal(list[0]->state, CATALOG_DROPPING);
    catalog_release_list(list, n);
    assert_true(catalog_wait_collection(c, 447, 0));

    tombstone(c, "database/collection-info/1/447");
    catalog_coll *cc = catalog_get(c, 447);
    assert_non_null(cc); /* old WAL must stay nameable */
    assert_int_equal(cc->state, CATALOG_DROPPED);
    assert_string_equal(cc->name, "books");
    catalog_release(cc);
    n = catalog_list_held(c, &list);
    assert_int_equal(n, 0);
    catalog_release_list(list, n);

    /* A real etcd delete (GC) is a deletion too. */
    put(c, "database/collection-info/1/448", collection_info(448, "b2", CATALOG_CREATED, 1, 1));
    del(c, "database/collection-info/1/448");
    cc = catalog_get(c, 448);
    assert_int_equal(cc->state, CATALOG_DROPPED);
    catalog_release(cc);

    catalog_close(c);
    /* A held snapshot outlives the catalog. */
    assert_string_equal(held->name, "books");
    assert_int_equal(held->state, CATALOG_CREATED);
    catalog_release(held);
}

static void test_fields_and_partitions_change(void **state) {
    (void)state;
    catalog *c = books();
    catalog_coll *before = catalog_get(c, 447);
    put(c, "partitions/447/4471", partition(4471, "p1", 447));
    tombstone(c, "fields/447/101");
    catalog_coll *after = catalog_get(c, 447);
    assert_ptr_not_equal(before, after);
    assert_int_equal(before->schema->n_fields, 4);
    assert_int_equal(after->schema->n_fields, 3);
    assert_int_equal(after->n_partitions, 2);
    assert_int_equal(after->partitions[0].id, 4471); /* sorted by id */
    assert_int_equal(after->partitions[1].id, 4472);
    del(c, "partitions/447/4471");
    catalog_coll *last = catalog_get(c, 447);
    assert_int_equal(last->n_partitions, 1);
    catalog_release(last);
    catalog_release(after);
    catalog_release(before);
    catalog_close(c);
}

static void test_databases(void **state) {
    (void)state;
    catalog *c = catalog_new_detached(ROOT);
    char buf[32];
    assert_string_equal(catalog_db_name(c, 1, buf, sizeof buf), "default");
    assert_string_equal(catalog_db_name(c, 7, buf, sizeof buf), "");
    assert_false(catalog_has_db(c, "sales"));
    put(c, "database/db-info/7", database(7, "sales", 1));
    assert_true(catalog_has_db(c, "sales"));
    assert_string_equal(catalog_db_name(c, 7, buf, sizeof buf), "sales");
    put(c, "database/collection-info/7/700", collection_info(700, "orders", CATALOG_CREATED, 7, 1));
    put(c, "database/collection-info/1/701", collection_info(701, "orders", CATALOG_CREATED, 1, 1));
    catalog_coll *cc = catalog_find(c, "sales", "orders");
    assert_int_equal(cc->id, 700);
    assert_string_equal(cc->db_name, "sales");
    catalog_release(cc);
    cc = catalog_find(c, NULL, "orders");
    assert_int_equal(cc->id, 701);
    catalog_release(cc);
    catalog_coll **list;
    size_t n = catalog_list(c, "sales", &list);
    assert_int_equal(n, 1);
    catalog_release_list(list, n);

    put(c, "database/db-info/7", database(7, "sales", 3)); /* Dropping: gone for a reader */
    assert_false(catalog_has_db(c, "sales"));
    put(c, "database/db-info/7", database(7, "sales", 1));
    tombstone(c, "database/db-info/7");
    assert_false(catalog_has_db(c, "sales"));
    catalog_close(c);
}

static void test_aliases(void **state) {
    (void)state;
    catalog *c = books();
    put(c, "database/aliases/1/novels", alias("novels", 447, 0));
    catalog_coll *cc = catalog_find(c, "default", "novels");
    assert_non_null(cc);
    assert_int_equal(cc->id, 447);
    assert_int_equal(cc->n_aliases, 1);
    assert_string_equal(cc->aliases[0], "novels");
    catalog_release(cc);

    /* Legacy key: the default db. An alias not Created is not one. */
    put(c, "aliases/tomes", alias("tomes", 447, 0));
    put(c, "aliases/scrolls", alias("scrolls", 447, 2));
    cc = catalog_get(c, 447);
    assert_int_equal(cc->n_aliases, 2);
    catalog_release(cc);
    cc = catalog_find(c, NULL, "tomes");
    assert_int_equal(cc->id, 447);
    catalog_release(cc);
    assert_null(catalog_find(c, NULL, "scrolls"));

    /* Re-pointing an alias replaces it; a tombstone removes it. */
    put(c, "database/collection-info/1/449", collection_info(449, "poems", CATALOG_CREATED, 1, 1));
    put(c, "database/aliases/1/novels", alias("novels", 449, 0));
    cc = catalog_find(c, NULL, "novels");
    assert_int_equal(cc->id, 449);
    catalog_release(cc);
    tombstone(c, "database/aliases/1/novels");
    del(c, "aliases/tomes");
    assert_null(catalog_find(c, NULL, "novels"));
    assert_null(catalog_find(c, NULL, "tomes"));
    cc = catalog_get(c, 447);
    assert_int_equal(cc->n_aliases, 0);
    catalog_release(cc);
    catalog_close(c);
}

/* What meta_sync follows: an alias's ts (created_time; for a drop, the
 * catalog's stamp), dropped aliases still listed, and a legacy tombstone
 * written beside a database-layout create (2.3's CreateAlias) dropping
 * nothing. */
static void test_alias_records(void **state) {
    (void)state;
    catalog *c = books();
    Milvus__Proto__Etcd__AliasInfo a = MILVUS__PROTO__ETCD__ALIAS_INFO__INIT;
    a.alias_name = "novels";
    a.collection_id = 447;
    a.created_time = 449000000000000123ull;
    put(c, "database/aliases/1/novels", pack(&a));
    tombstone(c, "aliases/novels");
    catalog_alias *list;
    size_t n = catalog_aliases(c, &list);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "novels");
    assert_int_equal(list[0].collection_id, 447);
    assert_int_equal(list[0].ts, 449000000000000123ull);
    assert_false(list[0].dropped);
    catalog_aliases_free(list, n);

    catalog_set_stamp(c, 777);
    tombstone(c, "database/aliases/1/novels");
    catalog_set_stamp(c, 0);
    n = catalog_aliases(c, &list);
    assert_int_equal(n, 1);
    assert_true(list[0].dropped);
    assert_int_equal(list[0].ts, 777);
    catalog_aliases_free(list, n);
    assert_null(catalog_find(c, NULL, "novels"));

    /* Made again: the same record, live. */
    a.created_time = 449000000000000999ull;
    put(c, "database/aliases/1/novels", pack(&a));
    n = catalog_aliases(c, &list);
    assert_int_equal(n, 1);
    assert_false(list[0].dropped);
    assert_int_equal(list[0].ts, 449000000000000999ull);
    catalog_aliases_free(list, n);
    catalog_coll *cc = catalog_find(c, NULL, "novels");
    assert_non_null(cc);
    catalog_release(cc);
    /* The wall clock, as a hybrid ts, when no stamp is set. */
    assert_true(catalog_now_ts(c) > (1600000000000ull << 18));
    catalog_close(c);
}

static void test_properties(void **state) {
    (void)state;
    catalog *c = catalog_new_detached(ROOT);
    Milvus__Proto__Schema__CollectionSchema schema = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    schema.name = "ttl";
    Milvus__Proto__Common__KeyValuePair kv = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *kvp = &kv;
    kv.key = "collection.ttl.seconds";
    kv.value = "3600";
    Milvus__Proto__Etcd__CollectionInfo ci = MILVUS__PROTO__ETCD__COLLECTION_INFO__INIT;
    ci.id = 500;
    ci.schema = &schema;
    ci.db_id = 1;
    ci.n_properties = 1;
    ci.properties = &kvp;
    put(c, "database/collection-info/1/500", pack(&ci));
    catalog_coll *cc = catalog_get(c, 500);
    assert_int_equal(cc->n_props, 1);
    assert_string_equal(cc->prop_keys[0], "collection.ttl.seconds");
    assert_string_equal(cc->prop_values[0], "3600");
    catalog_release(cc);
    catalog_close(c);
}

/* Keys that are not the catalog's, or not Milvus's, change nothing. */
static void test_keys_left_alone(void **state) {
    (void)state;
    catalog *c = books();
    catalog_coll *before = catalog_get(c, 447);
    packed v = collection_info(447, "evil", CATALOG_DROPPING, 1, 1);
    const char *keys[] = {
        ROOT "/meta/snapshots/root-coord/database/collection-info/1/447_ts449000000000000001",
        PREFIX "collection-alias/books",
        PREFIX "credential/users/root",
        PREFIX "database/collection-info/1/447/extra",
        PREFIX "database/collection-info/1",
        PREFIX "database/collection-info/x/447",
        PREFIX "database/collection-info/1/44a",
        PREFIX "database/collection-info/1/",
        PREFIX "database/collection-info/1/99999999999999999999", /* 20 digits */
        PREFIX "collection/9223372036854775808",                  /* INT64_MAX + 1 */
        PREFIX "collection/447/",
        PREFIX "collection",
        PREFIX "fields/447",
        PREFIX "partitions/447/-1",
        PREFIX,
        "other/meta/root-coord/collection/447",
        PREFIX "Collection/447",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) put_raw(c, keys[i], v.data, v.len);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) put_raw(c, keys[i], NULL, 0);
    free(v.data);
    /* 19 digits that fit are an id. */
    put(c, "collection/9223372036854775807", collection_info(1, "max", CATALOG_CREATED, 0, 1));
    catalog_coll *max = catalog_get(c, INT64_MAX);
    assert_non_null(max);
    catalog_release(max);

    catalog_coll **list;
    size_t n = catalog_list_held(c, &list); /* books and max, nothing else */
    assert_int_equal(n, 2);
    catalog_release_list(list, n);
    assert_null(catalog_get(c, INT64_MIN)); /* where INT64_MAX + 1 would wrap to */

    catalog_coll *after = catalog_get(c, 447);
    assert_ptr_equal(before, after); /* not even invalidated */
    assert_string_equal(after->name, "books");
    catalog_release(after);
    catalog_release(before);
    catalog_close(c);
}

/* Values that do not decode are left out; the rest stays. */
static void test_undecodable_values(void **state) {
    (void)state;
    catalog *c = books();
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    const char *rels[] = {
        "database/collection-info/1/447", "collection/447",          "fields/447/100",
        "partitions/447/4472",            "database/db-info/1",     "database/aliases/1/x",
        "aliases/y",
    };
    char key[128];
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++) {
        snprintf(key, sizeof key, "%s%s", PREFIX, rels[i]);
        put_raw(c, key, junk, sizeof junk);
    }
    catalog_coll *cc = catalog_get(c, 447);
    assert_int_equal(cc->state, CATALOG_CREATED);
    assert_int_equal(cc->schema->n_fields, 4);
    assert_int_equal(cc->n_partitions, 1);
    assert_int_equal(cc->n_aliases, 0);
    catalog_release(cc);
    assert_true(catalog_has_db(c, "default"));
    catalog_close(c);
}

static void test_no_etcd(void **state) {
    (void)state;
    catalog *c = books();
    mcdc_err err;
    bool exists = true;
    assert_int_equal(catalog_probe(c, 447, &exists, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_false(exists);
    catalog_index *ix = (catalog_index *)1;
    size_t n = 9;
    assert_int_equal(catalog_indexes(c, 447, &ix, &n, &err), -1);
    assert_null(ix);
    assert_int_equal(n, 0);
    catalog_load ld;
    assert_int_equal(catalog_load_state(c, 447, &ld, &err), -1);
    assert_false(ld.loaded);
    char buf[16];
    catalog_last_error(c, buf, sizeof buf);
    assert_string_equal(buf, "");
    assert_int_equal(catalog_revision(c), 0);
    catalog_close(c);
}

int main(void) {
    mcdc_log_set_level(MCDC_LOG_OFF); /* undecodable values are logged */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collection_in_db_layout),
        cmocka_unit_test(test_creating_then_created),
        cmocka_unit_test(test_legacy_layout),
        cmocka_unit_test(test_drop_and_never_forget),
        cmocka_unit_test(test_fields_and_partitions_change),
        cmocka_unit_test(test_databases),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_alias_records),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_keys_left_alone),
        cmocka_unit_test(test_undecodable_values),
        cmocka_unit_test(test_no_etcd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
