/* test_bindings.c — collection identity (bindings.h) through fakes: a
 * target that holds collections by name with ids, a store that records
 * saves (and can fail), and a source whose collections can be dropped and
 * renamed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/bindings.h"

/* ---- fakes ---- */

#define MAXC 16

typedef struct fake_coll {
    char db[64], name[64];
    int64_t id;
    bool schema_differs;
} fake_coll;

static struct {
    fake_coll target[MAXC];
    size_t n_target;
    int64_t next_id;
    int creates, drops, renames;
    /* the source: id -> live, db, name */
    struct {
        int64_t id;
        bool live;
        char db[64], name[64];
    } source[MAXC];
    size_t n_source;
    binding saved[64];
    size_t n_saved;
    bool store_fails;
} f;

static fake_coll *target_find(const char *db, const char *name) {
    for (size_t i = 0; i < f.n_target; i++)
        if (strcmp(f.target[i].db, db) == 0 && strcmp(f.target[i].name, name) == 0) return &f.target[i];
    return NULL;
}

static int t_lookup(void *ud, const char *db, const char *name, int64_t *id, mcdc_err *err) {
    (void)ud, (void)err;
    fake_coll *c = target_find(db, name);
    *id = c ? c->id : 0;
    return 0;
}

static int t_create_or_check(void *ud, const catalog_coll *cc, const char *db, const char *name, mcdc_err *err) {
    (void)ud, (void)cc;
    fake_coll *c = target_find(db, name);
    if (c) return c->schema_differs ? mcdc_errf(err, MCDC_EREMOTE, "schema differs: source [pk int64] target [x]") : 0;
    c = &f.target[f.n_target++];
    snprintf(c->db, sizeof c->db, "%s", db);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->id = ++f.next_id;
    f.creates++;
    return 0;
}

static int t_drop(void *ud, const char *db, const char *name, mcdc_err *err) {
    (void)ud;
    fake_coll *c = target_find(db, name);
    if (!c) return mcdc_errf(err, MCDC_ENOTFOUND, "no such collection");
    *c = f.target[--f.n_target];
    f.drops++;
    return 0;
}

static int t_rename(void *ud, const char *db, const char *from, const char *to, mcdc_err *err) {
    (void)ud;
    fake_coll *c = target_find(db, from);
    if (!c) return mcdc_errf(err, MCDC_ENOTFOUND, "no such collection");
    snprintf(c->name, sizeof c->name, "%s", to);
    f.renames++;
    return 0;
}

static const binding_target target = {.lookup = t_lookup, .create_or_check = t_create_or_check, .drop = t_drop,
                                      .rename = t_rename};

static int s_save(void *ud, const binding *b, mcdc_err *err) {
    (void)ud;
    if (f.store_fails) return mcdc_errf(err, MCDC_EIO, "store: disk full");
    f.saved[f.n_saved++ % 64] = *b;
    return 0;
}

static bool src_state_of(void *ud, int64_t id, char *db, char *name, size_t cap) {
    (void)ud;
    for (size_t i = 0; i < f.n_source; i++)
        if (f.source[i].id == id && f.source[i].live) {
            snprintf(db, cap, "%s", f.source[i].db);
            snprintf(name, cap, "%s", f.source[i].name);
            return true;
        }
    return false;
}

/* The task's mapping: "mapped_*" sources go to "t_*" names; others keep theirs. */
static void src_map(void *ud, const char *db, const char *name, char *tdb, char *tname, size_t cap) {
    (void)ud;
    snprintf(tdb, cap, "%s", db);
    if (strncmp(name, "mapped_", 7) == 0) snprintf(tname, cap, "t_%s", name + 7);
    else snprintf(tname, cap, "%s", name);
}

static void source_set(int64_t id, bool live, const char *name) {
    for (size_t i = 0; i < f.n_source; i++)
        if (f.source[i].id == id) {
            f.source[i].live = live;
            snprintf(f.source[i].name, sizeof f.source[i].name, "%s", name);
            return;
        }
    f.source[f.n_source].id = id;
    f.source[f.n_source].live = live;
    snprintf(f.source[f.n_source].db, sizeof f.source[f.n_source].db, "default");
    snprintf(f.source[f.n_source].name, sizeof f.source[f.n_source].name, "%s", name);
    f.n_source++;
}

static catalog_coll coll(int64_t id, const char *name) {
    return (catalog_coll){.id = id, .name = (char *)name, .db_name = (char *)"default", .state = CATALOG_CREATED,
                          .create_ts = 1000 + (uint64_t)id};
}

static bindings *registry(void) {
    memset(&f, 0, sizeof f);
    f.next_id = 100;
    binding_store st = {.save = s_save};
    binding_source src = {.state_of = src_state_of, .map_name = src_map};
    return bindings_new(&st, &src);
}

static binding bound(bindings *r, const catalog_coll *cc) {
    binding b;
    bool dropped;
    mcdc_err err;
    assert_int_equal(bindings_target_of(r, cc, &target, &b, &dropped, &err), 0);
    assert_false(dropped);
    return b;
}

/* ---- rules ---- */

/* Rule: a new covered collection gets its target collection once, saved as
 * Creating before it is made and Live with the target's id after. */
static void test_created_once_and_saved_around_it(void **state) {
    (void)state;
    bindings *r = registry();
    source_set(1, true, "c");
    catalog_coll c1 = coll(1, "c");
    binding b = bound(r, &c1);
    assert_int_equal(f.creates, 1);
    assert_int_equal(f.n_saved, 2);
    assert_int_equal(f.saved[0].state, BINDING_CREATING);
    assert_int_equal(f.saved[0].target_id, 0);
    assert_int_equal(f.saved[1].state, BINDING_LIVE);
    assert_int_equal(b.target_id, 101);
    assert_string_equal(b.name, "c");
    b = bound(r, &c1);
    assert_int_equal(f.creates, 1);
    assert_int_equal(f.n_saved, 2);
    assert_true(bindings_covers(r, 1));
    bindings_free(r);
}

/* Rule: drop and re-create under one name while a channel lags: the new
 * collection's create drops the old target collection (the source dropped
 * it), the old Drop arriving late on the other channel touches nothing,
 * and the old collection's late rows are left out. */
static void test_drop_recreate_with_a_lagging_channel(void **state) {
    (void)state;
    bindings *r = registry();
    source_set(1, true, "c");
    catalog_coll c1 = coll(1, "c"), c2 = coll(2, "c");
    bound(r, &c1);
    source_set(1, false, "c");
    source_set(2, true, "c");
    binding b2 = bound(r, &c2);
    assert_int_equal(f.drops, 1);
    assert_int_equal(f.creates, 2);
    assert_int_equal(b2.target_id, 102);
    mcdc_err err;
    assert_int_equal(bindings_drop(r, 1, 5000, &target, &err), 0); /* the late Drop */
    assert_int_equal(f.drops, 1);
    assert_non_null(target_find("default", "c"));
    binding b;
    bool dropped;
    assert_int_equal(bindings_target_of(r, &c1, &target, &b, &dropped, &err), 0);
    assert_true(dropped); /* late rows of the old one */
    assert_false(bindings_covers(r, 1));
    assert_true(bindings_covers(r, 2));
    bindings_free(r);
}

/* Rule: restarted across a drop and re-create (the old binding loaded from
 * the store, its Drop never seen), the stale target collection is dropped,
 * not reused. */
static void test_restart_across_drop_and_recreate(void **state) {
    (void)state;
    bindings *r = registry();
    fake_coll *old = &f.target[f.n_target++];
    snprintf(old->db, sizeof old->db, "default");
    snprintf(old->name, sizeof old->name, "c");
    old->id = 55;
    binding saved = {.source_id = 1, .db = "default", .name = "c", .target_id = 55, .state = BINDING_LIVE};
    bindings_load(r, &saved);
    source_set(2, true, "c");
    catalog_coll c2 = coll(2, "c");
    binding b = bound(r, &c2);
    assert_int_equal(f.drops, 1);
    assert_int_not_equal(b.target_id, 55);
    bindings_free(r);
}

/* Rule: a Drop touches the target collection only if it is still the one
 * bound; another collection under that name is left alone. */
static void test_drop_leaves_someone_elses_collection(void **state) {
    (void)state;
    bindings *r = registry();
    fake_coll *other = &f.target[f.n_target++];
    snprintf(other->db, sizeof other->db, "default");
    snprintf(other->name, sizeof other->name, "c");
    other->id = 77;
    binding saved = {.source_id = 1, .db = "default", .name = "c", .target_id = 55, .state = BINDING_LIVE};
    bindings_load(r, &saved);
    mcdc_err err;
    assert_int_equal(bindings_drop(r, 1, 9, &target, &err), 0);
    assert_int_equal(f.drops, 0);
    binding b;
    assert_true(bindings_get(r, 1, &b));
    assert_int_equal(b.state, BINDING_DROPPED);
    assert_int_equal(b.ts, 9);
    bindings_free(r);
}

/* Rule: a rename on the source renames the target collection (through the
 * task's mapping), and the collection stays covered under its new name. */
static void test_rename_follows_the_source(void **state) {
    (void)state;
    bindings *r = registry();
    source_set(1, true, "mapped_a");
    catalog_coll c1 = coll(1, "mapped_a");
    binding b = bound(r, &c1);
    assert_string_equal(b.name, "t_a");
    source_set(1, true, "mapped_b");
    c1.name = (char *)"mapped_b";
    b = bound(r, &c1);
    assert_string_equal(b.name, "t_b");
    assert_int_equal(f.renames, 1);
    assert_int_equal(f.creates, 1);
    assert_non_null(target_find("default", "t_b"));
    assert_null(target_find("default", "t_a"));
    assert_true(bindings_covers(r, 1));
    bindings_free(r);
}

/* Rule: a new collection that takes the name another one was renamed away
 * from (seen before the renamed one's next write) first moves the renamed
 * one's target collection, then gets its own. */
static void test_name_freed_by_a_rename(void **state) {
    (void)state;
    bindings *r = registry();
    source_set(1, true, "c");
    catalog_coll c1 = coll(1, "c"), c2 = coll(2, "c");
    binding b1 = bound(r, &c1);
    source_set(1, true, "d");
    source_set(2, true, "c");
    binding b2 = bound(r, &c2);
    assert_int_equal(f.renames, 1);
    assert_int_equal(f.drops, 0);
    assert_int_equal(target_find("default", "d")->id, b1.target_id);
    assert_int_equal(target_find("default", "c")->id, b2.target_id);
    binding again;
    assert_true(bindings_get(r, 1, &again));
    assert_string_equal(again.name, "d");
    bindings_free(r);
}

/* Rule: a target collection mcdc did not create is adopted only when its
 * schema equals the source's; otherwise the error names both, nothing is
 * created, and the binding stays Creating. */
static void test_existing_target_collection(void **state) {
    (void)state;
    bindings *r = registry();
    fake_coll *pre = &f.target[f.n_target++];
    snprintf(pre->db, sizeof pre->db, "default");
    snprintf(pre->name, sizeof pre->name, "c");
    pre->id = 60;
    pre->schema_differs = true;
    source_set(1, true, "c");
    catalog_coll c1 = coll(1, "c");
    binding b;
    bool dropped;
    mcdc_err err;
    assert_int_equal(bindings_target_of(r, &c1, &target, &b, &dropped, &err), -1);
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "source"));
    assert_int_equal(f.creates, 0);
    assert_true(bindings_get(r, 1, &b));
    assert_int_equal(b.state, BINDING_CREATING);
    f.target[0].schema_differs = false;
    b = bound(r, &c1);
    assert_int_equal(b.target_id, 60);
    assert_int_equal(b.state, BINDING_LIVE);
    bindings_free(r);
}

/* Rule: a binding changes in memory only once the store has it. */
static void test_store_failure_changes_nothing(void **state) {
    (void)state;
    bindings *r = registry();
    source_set(1, true, "c");
    catalog_coll c1 = coll(1, "c");
    bound(r, &c1);
    f.store_fails = true;
    mcdc_err err;
    assert_int_equal(bindings_drop(r, 1, 7, &target, &err), -1);
    assert_int_equal(err.code, MCDC_EIO);
    assert_true(bindings_covers(r, 1));
    f.store_fails = false;
    assert_int_equal(bindings_drop(r, 1, 7, &target, &err), 0);
    assert_false(bindings_covers(r, 1));
    assert_int_equal(f.drops, 1);
    bindings_free(r);
}

/* Rule: two source collections that are both alive can never share one
 * target collection: the second is refused with both named. */
static void test_two_live_sources_onto_one_name(void **state) {
    (void)state;
    bindings *r = registry();
    source_set(1, true, "mapped_x");
    source_set(2, true, "x");
    catalog_coll c1 = coll(1, "mapped_x"), c2 = coll(2, "t_x");
    source_set(2, true, "t_x");
    bound(r, &c1);
    binding b;
    bool dropped;
    mcdc_err err;
    assert_int_equal(bindings_target_of(r, &c2, &target, &b, &dropped, &err), -1);
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "t_x"));
    assert_int_equal(f.creates, 1);
    bindings_free(r);
}

/* Rule: a collection met after the source dropped it (a replay from an
 * older position) claims no name: the one bound under it now is untouched,
 * and the old one's changes are left out. */
static void test_replayed_dropped_collection_claims_nothing(void **state) {
    (void)state;
    bindings *r = registry();
    source_set(1, false, "c");
    source_set(2, true, "c");
    catalog_coll c1 = coll(1, "c"), c2 = coll(2, "c");
    binding b2 = bound(r, &c2);
    binding b;
    bool dropped;
    mcdc_err err;
    assert_int_equal(bindings_target_of(r, &c1, &target, &b, &dropped, &err), 0);
    assert_true(dropped);
    assert_int_equal(f.drops, 0);
    assert_int_equal(target_find("default", "c")->id, b2.target_id);
    assert_true(bindings_get(r, 1, &b));
    assert_int_equal(b.state, BINDING_DROPPED);
    assert_int_equal(f.saved[f.n_saved - 1].state, BINDING_DROPPED);
    bindings_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_once_and_saved_around_it),
        cmocka_unit_test(test_drop_recreate_with_a_lagging_channel),
        cmocka_unit_test(test_restart_across_drop_and_recreate),
        cmocka_unit_test(test_drop_leaves_someone_elses_collection),
        cmocka_unit_test(test_rename_follows_the_source),
        cmocka_unit_test(test_name_freed_by_a_rename),
        cmocka_unit_test(test_existing_target_collection),
        cmocka_unit_test(test_store_failure_changes_nothing),
        cmocka_unit_test(test_two_live_sources_onto_one_name),
        cmocka_unit_test(test_replayed_dropped_collection_claims_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
