/* test_meta_sync.c — pipeline/meta_sync.h driven with a detached catalog
 * fed etcd keys (catalog_int.h) and a fake target that keeps aliases and
 * partitions as Milvus 2.3.5 does and records every call that changes
 * them. Each rule of meta_sync.h: a change applied once, and only once the
 * watermark has passed its ts; what the task does not cover left alone; a
 * partition dropped early never created; a restart repeats nothing; a
 * transient error retried. */
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

#include "base/buf.h"
#include "base/log.h"
#include "etcd_meta.pb-c.h"
#include "pipeline/meta_sync.h"
#include "source/catalog.h"
#include "source/catalog_int.h"

#define ROOT "by-dev"
#define PREFIX ROOT "/meta/root-coord/"
#define TS(ms) ((uint64_t)(ms) << 18)

static const uint8_t TOMBSTONE[] = {0xE2, 0x9B, 0xBC};

/* ---- the source: etcd keys ------------------------------------------------------ */

static void put_msg(catalog *c, const char *rel, const void *msg) {
    const ProtobufCMessage *m = msg;
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *data = malloc(len ? len : 1);
    protobuf_c_message_pack(m, data);
    char key[256];
    snprintf(key, sizeof key, "%s%s", PREFIX, rel);
    catalog_apply_kv(c, key, strlen(key), data, len);
    free(data);
}

static void tombstone(catalog *c, const char *rel) {
    char key[256];
    snprintf(key, sizeof key, "%s%s", PREFIX, rel);
    catalog_apply_kv(c, key, strlen(key), TOMBSTONE, sizeof TOMBSTONE);
}

static void collection(catalog *c, int64_t id, const char *name, int state, bool partition_key) {
    Milvus__Proto__Schema__CollectionSchema schema = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
    schema.name = (char *)name;
    Milvus__Proto__Etcd__CollectionInfo ci = MILVUS__PROTO__ETCD__COLLECTION_INFO__INIT;
    ci.id = id;
    ci.schema = &schema;
    ci.create_time = TS(100);
    ci.state = (Milvus__Proto__Etcd__CollectionState)state;
    ci.db_id = 1;
    char rel[128];
    snprintf(rel, sizeof rel, "database/collection-info/1/%" PRId64, id);
    put_msg(c, rel, &ci);
    Milvus__Proto__Schema__FieldSchema f = MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT;
    f.field_id = 100;
    f.name = "id";
    f.is_primary_key = true;
    f.is_partition_key = partition_key;
    f.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    snprintf(rel, sizeof rel, "fields/%" PRId64 "/100", id);
    put_msg(c, rel, &f);
}

static void partition(catalog *c, int64_t coll, int64_t id, const char *name, uint64_t ts, int state) {
    Milvus__Proto__Etcd__PartitionInfo p = MILVUS__PROTO__ETCD__PARTITION_INFO__INIT;
    p.partition_id = id;
    p.partition_name = (char *)name;
    p.collection_id = coll;
    p.partition_created_timestamp = ts;
    p.state = (Milvus__Proto__Etcd__PartitionState)state;
    char rel[128];
    snprintf(rel, sizeof rel, "partitions/%" PRId64 "/%" PRId64, coll, id);
    put_msg(c, rel, &p);
}

static void drop_partition(catalog *c, int64_t coll, int64_t id) {
    char rel[128];
    snprintf(rel, sizeof rel, "partitions/%" PRId64 "/%" PRId64, coll, id);
    tombstone(c, rel);
}

/* CreateAlias and AlterAlias alike (2.3 writes the same key). */
static void alias(catalog *c, const char *name, int64_t coll, uint64_t ts) {
    Milvus__Proto__Etcd__AliasInfo a = MILVUS__PROTO__ETCD__ALIAS_INFO__INIT;
    a.alias_name = (char *)name;
    a.collection_id = coll;
    a.created_time = ts;
    a.db_id = 1;
    char rel[128];
    snprintf(rel, sizeof rel, "database/aliases/1/%s", name);
    put_msg(c, rel, &a);
}

static void drop_alias_seen_at(catalog *c, const char *name, uint64_t stamp) {
    catalog_set_stamp(c, stamp);
    char rel[128];
    snprintf(rel, sizeof rel, "database/aliases/1/%s", name);
    tombstone(c, rel);
    catalog_set_stamp(c, 0);
}

/* 447 books and 449 poems are covered; 451 secret is not. */
static catalog *source(void) {
    catalog *c = catalog_new_detached(ROOT);
    collection(c, 447, "books", CATALOG_CREATED, false);
    partition(c, 447, 4470, "_default", TS(100), CATALOG_CREATED);
    collection(c, 449, "poems", CATALOG_CREATED, false);
    partition(c, 449, 4490, "_default", TS(100), CATALOG_CREATED);
    collection(c, 451, "secret", CATALOG_CREATED, false);
    return c;
}

/* ---- the target ------------------------------------------------------------------ */

typedef struct fake {
    char calls[32][160];           /* calls that changed something, or tried to */
    size_t n_calls;
    size_t n_reads;
    struct {
        char db[32], name[64], coll[64];
    } aliases[16];
    size_t n_aliases;
    struct {
        char db[32], coll[64], name[64];
    } parts[16];
    size_t n_parts;
    mcdc_code fail_next;           /* the next changing call fails with it */
    /* target_of: source id -> (db, name); db "" = no target */
    struct {
        int64_t id;
        char db[32], name[64];
    } targets[4];
} fake;

static bool injected(fake *f, mcdc_err *err) {
    if (!f->fail_next) return false;
    mcdc_errf(err, f->fail_next, "injected");
    f->fail_next = MCDC_OK;
    return true;
}

__attribute__((format(printf, 2, 3))) static void record(fake *f, const char *fmt, ...) {
    assert_true(f->n_calls < 32);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->calls[f->n_calls++], sizeof f->calls[0], fmt, ap);
    va_end(ap);
}

static int find_alias(fake *f, const char *db, const char *name) {
    for (size_t i = 0; i < f->n_aliases; i++)
        if (!strcmp(f->aliases[i].db, db) && !strcmp(f->aliases[i].name, name)) return (int)i;
    return -1;
}

static void add_alias(fake *f, const char *db, const char *name, const char *coll) {
    snprintf(f->aliases[f->n_aliases].db, 32, "%s", db);
    snprintf(f->aliases[f->n_aliases].name, 64, "%s", name);
    snprintf(f->aliases[f->n_aliases++].coll, 64, "%s", coll);
}

static void add_part(fake *f, const char *db, const char *coll, const char *name) {
    snprintf(f->parts[f->n_parts].db, 32, "%s", db);
    snprintf(f->parts[f->n_parts].coll, 64, "%s", coll);
    snprintf(f->parts[f->n_parts++].name, 64, "%s", name);
}

static char **names_of(fake *f, const char *db, const char *coll, bool parts, size_t *n) {
    char **out = calloc(17, sizeof *out);
    *n = 0;
    size_t count = parts ? f->n_parts : f->n_aliases;
    for (size_t i = 0; i < count; i++) {
        const char *d = parts ? f->parts[i].db : f->aliases[i].db;
        const char *c = parts ? f->parts[i].coll : f->aliases[i].coll;
        if (!strcmp(d, db) && !strcmp(c, coll)) out[(*n)++] = mcdc_xstrdup(parts ? f->parts[i].name : f->aliases[i].name);
    }
    return out;
}

static int f_list_aliases(void *ud, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err) {
    (void)err;
    fake *f = ud;
    f->n_reads++;
    *names = names_of(f, db, coll, false, n);
    return 0;
}

static int f_list_partitions(void *ud, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err) {
    (void)err;
    fake *f = ud;
    f->n_reads++;
    *names = names_of(f, db, coll, true, n);
    return 0;
}

static int f_create_alias(void *ud, const char *db, const char *coll, const char *alias_name, mcdc_err *err) {
    fake *f = ud;
    record(f, "create alias %s.%s -> %s", db, alias_name, coll);
    if (injected(f, err)) return -1;
    int i = find_alias(f, db, alias_name);
    if (i >= 0 && strcmp(f->aliases[i].coll, coll) != 0)
        return mcdc_errf(err, MCDC_EEXIST, "alias already exist[%s is alias to another collection]", alias_name);
    if (i < 0) add_alias(f, db, alias_name, coll);
    return 0;
}

static int f_alter_alias(void *ud, const char *db, const char *coll, const char *alias_name, mcdc_err *err) {
    fake *f = ud;
    record(f, "alter alias %s.%s -> %s", db, alias_name, coll);
    if (injected(f, err)) return -1;
    int i = find_alias(f, db, alias_name);
    if (i < 0) return mcdc_errf(err, MCDC_ENOTFOUND, "alias not found");
    snprintf(f->aliases[i].coll, 64, "%s", coll);
    return 0;
}

static int f_drop_alias(void *ud, const char *db, const char *alias_name, mcdc_err *err) {
    fake *f = ud;
    record(f, "drop alias %s.%s", db, alias_name);
    if (injected(f, err)) return -1;
    int i = find_alias(f, db, alias_name);
    if (i >= 0) f->aliases[i] = f->aliases[--f->n_aliases];
    return 0; /* 2.3.5 drops a missing alias without complaint */
}

static int f_create_partition(void *ud, const char *db, const char *coll, const char *part, mcdc_err *err) {
    fake *f = ud;
    record(f, "create partition %s.%s.%s", db, coll, part);
    if (injected(f, err)) return -1;
    for (size_t i = 0; i < f->n_parts; i++)
        if (!strcmp(f->parts[i].db, db) && !strcmp(f->parts[i].coll, coll) && !strcmp(f->parts[i].name, part))
            return mcdc_errf(err, MCDC_EEXIST, "partition already exist");
    add_part(f, db, coll, part);
    return 0;
}

static bool f_target_of(void *ud, int64_t id, char *db, size_t db_cap, char *name, size_t name_cap) {
    fake *f = ud;
    for (size_t i = 0; i < 4; i++) {
        if (f->targets[i].id != id || !f->targets[i].db[0]) continue;
        snprintf(db, db_cap, "%s", f->targets[i].db);
        snprintf(name, name_cap, "%s", f->targets[i].name);
        return true;
    }
    return false;
}

/* A target where books and poems exist (each with _default), secret not. */
static fake *target(void) {
    fake *f = calloc(1, sizeof *f);
    f->targets[0].id = 447;
    snprintf(f->targets[0].db, 32, "default");
    snprintf(f->targets[0].name, 64, "books");
    f->targets[1].id = 449;
    snprintf(f->targets[1].db, 32, "default");
    snprintf(f->targets[1].name, 64, "poems");
    add_part(f, "default", "books", "_default");
    add_part(f, "default", "poems", "_default");
    return f;
}

static meta_sync *sync_over(catalog *c, fake *f, bool ignore_partitions) {
    meta_sync_target t = {.list_aliases = f_list_aliases,
                          .create_alias = f_create_alias,
                          .alter_alias = f_alter_alias,
                          .drop_alias = f_drop_alias,
                          .list_partitions = f_list_partitions,
                          .create_partition = f_create_partition,
                          .ud = f};
    meta_sync_io io = {.target_of = f_target_of, .ud = f, .ignore_partitions = ignore_partitions};
    return meta_sync_new(c, &t, &io);
}

static void step_ok(meta_sync *m, uint64_t wm) {
    mcdc_err err = {0};
    int rc = meta_sync_step(m, wm, &err);
    if (rc) fail_msg("meta_sync_step: %s", err.msg);
}

static void assert_calls(const fake *f, size_t n, ...) {
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n && i < f->n_calls; i++) assert_string_equal(f->calls[i], va_arg(ap, const char *));
    va_end(ap);
    if (f->n_calls != n) {
        for (size_t i = 0; i < f->n_calls; i++) print_message("call %zu: %s\n", i, f->calls[i]);
        fail_msg("%zu calls, %zu expected", f->n_calls, n);
    }
}

/* ---- aliases --------------------------------------------------------------------- */

static void test_alias_create_alter_drop_in_ts_order(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    meta_sync *m = sync_over(c, f, false);

    alias(c, "novels", 447, TS(1000));
    step_ok(m, TS(999));
    assert_calls(f, 0);
    step_ok(m, TS(1000));
    assert_calls(f, 1, "create alias default.novels -> books");
    step_ok(m, TS(5000));
    assert_calls(f, 1, "create alias default.novels -> books");

    /* Re-pointed between two covered collections: an alter, at its ts. */
    alias(c, "novels", 449, TS(2000));
    step_ok(m, TS(1999));
    assert_calls(f, 1, "create alias default.novels -> books");
    step_ok(m, TS(2000));
    step_ok(m, TS(2001));
    assert_calls(f, 2, "create alias default.novels -> books", "alter alias default.novels -> poems");

    /* A drop has no ts in etcd: the moment the catalog saw it. */
    drop_alias_seen_at(c, "novels", TS(3000));
    step_ok(m, TS(2999));
    assert_int_equal(f->n_calls, 2);
    step_ok(m, TS(3000));
    step_ok(m, TS(3001));
    assert_calls(f, 3, "create alias default.novels -> books", "alter alias default.novels -> poems",
                 "drop alias default.novels");
    assert_int_equal(f->n_aliases, 0);

    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

static void test_alias_of_uncovered_collection_left_alone(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    meta_sync *m = sync_over(c, f, false);
    alias(c, "hidden", 451, TS(1000));
    step_ok(m, TS(9000));
    assert_calls(f, 0);

    /* Moved from a covered collection to one that is not: it leaves the
     * target, at the move's ts. */
    alias(c, "novels", 447, TS(1000));
    step_ok(m, TS(1500));
    alias(c, "novels", 451, TS(2000));
    step_ok(m, TS(1999));
    assert_calls(f, 1, "create alias default.novels -> books");
    step_ok(m, TS(2000));
    step_ok(m, TS(2500));
    assert_calls(f, 2, "create alias default.novels -> books", "drop alias default.novels");

    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

static void test_alias_in_the_collections_target_db(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    snprintf(f->targets[0].db, 32, "backup");
    snprintf(f->targets[0].name, 64, "books_b");
    meta_sync *m = sync_over(c, f, true);
    alias(c, "novels", 447, TS(1000));
    step_ok(m, TS(1000));
    assert_calls(f, 1, "create alias backup.novels -> books_b");
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

/* A target alias of that name on a collection we do not know: altered. */
static void test_alias_taken_on_target_is_altered(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    add_alias(f, "default", "novels", "elsewhere");
    meta_sync *m = sync_over(c, f, true);
    alias(c, "novels", 447, TS(1000));
    step_ok(m, TS(1000));
    assert_calls(f, 2, "create alias default.novels -> books", "alter alias default.novels -> books");
    assert_string_equal(f->aliases[0].coll, "books");
    step_ok(m, TS(1001));
    assert_int_equal(f->n_calls, 2);
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

/* Not until the collection has a target; nothing while it is dropping. */
static void test_alias_waits_for_its_target(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    f->targets[0].db[0] = '\0';
    meta_sync *m = sync_over(c, f, true);
    alias(c, "novels", 447, TS(1000));
    step_ok(m, TS(1000));
    assert_calls(f, 0);
    snprintf(f->targets[0].db, 32, "default");
    step_ok(m, TS(1001));
    assert_calls(f, 1, "create alias default.novels -> books");

    collection(c, 449, "poems", CATALOG_DROPPING, false);
    alias(c, "verse", 449, TS(1100));
    step_ok(m, TS(1200));
    assert_int_equal(f->n_calls, 1);
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

/* A collection that lost its target (the WAL's drop took it, aliases and
 * all) and gets one again: read afresh, its alias made again. */
static void test_target_lost_and_made_again(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    meta_sync *m = sync_over(c, f, true);
    alias(c, "novels", 447, TS(1000));
    step_ok(m, TS(1000));
    assert_calls(f, 1, "create alias default.novels -> books");
    f->targets[0].db[0] = '\0';
    f->n_aliases = 0;
    step_ok(m, TS(1100));
    assert_int_equal(f->n_calls, 1);
    snprintf(f->targets[0].db, 32, "default");
    step_ok(m, TS(1200));
    assert_calls(f, 2, "create alias default.novels -> books", "create alias default.novels -> books");
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

/* ---- partitions ------------------------------------------------------------------ */

static void test_empty_partition_created_after_its_ts(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    meta_sync *m = sync_over(c, f, false);
    step_ok(m, TS(500));
    partition(c, 447, 4471, "p1", TS(1000), CATALOG_CREATED);
    step_ok(m, TS(999));
    assert_calls(f, 0);
    step_ok(m, TS(1000));
    step_ok(m, TS(1001));
    assert_calls(f, 1, "create partition default.books.p1");

    /* Dropped and made again under the same name: a new partition. */
    drop_partition(c, 447, 4471);
    partition(c, 447, 4472, "p1", TS(2000), CATALOG_CREATED);
    f->n_parts--; /* the WAL's DropPartition reached the target */
    step_ok(m, TS(2000));
    assert_calls(f, 2, "create partition default.books.p1", "create partition default.books.p1");
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

static void test_partition_dropped_early_never_created(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    meta_sync *m = sync_over(c, f, false);
    partition(c, 447, 4471, "gone", TS(1000), CATALOG_CREATED);
    partition(c, 449, 4491, "going", TS(1000), CATALOG_CREATED);
    step_ok(m, TS(999));
    drop_partition(c, 447, 4471);
    partition(c, 449, 4491, "going", TS(1000), CATALOG_DROPPING);
    step_ok(m, TS(5000));
    assert_calls(f, 0);
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

static void test_no_partitions_when_ignored_or_keyed(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    meta_sync *m = sync_over(c, f, true);
    partition(c, 447, 4471, "p1", TS(1000), CATALOG_CREATED);
    step_ok(m, TS(2000));
    assert_calls(f, 0);
    meta_sync_free(m);

    m = sync_over(c, f, false);
    collection(c, 447, "books", CATALOG_CREATED, true);
    step_ok(m, TS(2000));
    assert_calls(f, 0);
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

/* ---- restarts and errors --------------------------------------------------------- */

static void test_restart_repeats_nothing(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    alias(c, "novels", 447, TS(1000));
    partition(c, 447, 4471, "p1", TS(1000), CATALOG_CREATED);
    add_alias(f, "default", "novels", "books");
    add_part(f, "default", "books", "p1");
    meta_sync *m = sync_over(c, f, false);
    step_ok(m, TS(5000));
    step_ok(m, TS(6000));
    assert_calls(f, 0);
    assert_true(f->n_reads > 0);
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

/* Dropped on the source while mcdc was down (etcd's tombstone already
 * collected): gone from the target once the watermark passes the moment
 * the restarted mcdc found it. */
static void test_restart_catches_a_missed_drop(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    add_alias(f, "default", "old", "books");
    meta_sync *m = sync_over(c, f, true);
    catalog_set_stamp(c, TS(4000));
    step_ok(m, TS(3999));
    assert_calls(f, 0);
    catalog_set_stamp(c, TS(4500));
    step_ok(m, TS(4000));
    assert_calls(f, 1, "drop alias default.old");
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

static void test_transient_error_retried_then_applied_once(void **state) {
    (void)state;
    catalog *c = source();
    fake *f = target();
    meta_sync *m = sync_over(c, f, false);
    alias(c, "novels", 447, TS(1000));
    partition(c, 447, 4471, "p1", TS(1000), CATALOG_CREATED);

    mcdc_err err = {0};
    f->fail_next = MCDC_EUNAVAIL;
    assert_int_equal(meta_sync_step(m, TS(1000), &err), -1);
    assert_true(mcdc_err_is_transient(err.code));
    assert_non_null(strstr(err.msg, "injected"));
    f->fail_next = MCDC_EUNAVAIL;
    assert_int_equal(meta_sync_step(m, TS(1000), &err), -1);
    step_ok(m, TS(1000));
    step_ok(m, TS(1001));
    assert_calls(f, 4, "create partition default.books.p1", "create partition default.books.p1",
                 "create partition default.books.p1", "create alias default.novels -> books");
    assert_int_equal(f->n_aliases, 1);

    /* A refusal for good is returned as it is, for the caller to pause on. */
    alias(c, "verse", 449, TS(1100));
    f->fail_next = MCDC_EREMOTE;
    assert_int_equal(meta_sync_step(m, TS(1100), &err), -1);
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "verse"));
    meta_sync_free(m);
    free(f);
    catalog_close(c);
}

int main(void) {
    mcdc_log_set_level(MCDC_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alias_create_alter_drop_in_ts_order),
        cmocka_unit_test(test_alias_of_uncovered_collection_left_alone),
        cmocka_unit_test(test_alias_in_the_collections_target_db),
        cmocka_unit_test(test_alias_taken_on_target_is_altered),
        cmocka_unit_test(test_alias_waits_for_its_target),
        cmocka_unit_test(test_target_lost_and_made_again),
        cmocka_unit_test(test_empty_partition_created_after_its_ts),
        cmocka_unit_test(test_partition_dropped_early_never_created),
        cmocka_unit_test(test_no_partitions_when_ignored_or_keyed),
        cmocka_unit_test(test_restart_repeats_nothing),
        cmocka_unit_test(test_restart_catches_a_missed_drop),
        cmocka_unit_test(test_transient_error_retried_then_applied_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
