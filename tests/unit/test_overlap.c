/* test_overlap.c — the rules where a copy's pages meet the live stream
 * (overlap.h), driven directly: no servers, one thread plays the copier,
 * another a channel worker where order matters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/overlap.h"

#define COLL 7

static overlap_keys ints(const int64_t *v, size_t n) { return (overlap_keys){.ints = v, .n = n}; }

/* Rule 2: a key the stream sent at a ts after the page's since is dropped;
 * one sent at or before it stays; other collections do not count. */
static void test_page_drops_keys_the_stream_changed_after_since(void **state) {
    (void)state;
    overlap *o = overlap_new();
    overlap_track(o, COLL);
    overlap_track(o, COLL + 1);
    overlap_page *p = overlap_open(o, COLL);
    overlap_page_since(o, p, 100);
    overlap_keys a = ints((int64_t[]){1}, 1), b = ints((int64_t[]){2}, 1), c = ints((int64_t[]){3}, 1);
    overlap_stream_write(o, COLL, &a, 150);       /* after since: dropped */
    overlap_stream_write(o, COLL, &b, 100);       /* at since: the page has it */
    overlap_stream_write(o, COLL + 1, &c, 500);   /* another collection */
    int64_t page[] = {1, 2, 3, 4};
    bool keep[4];
    overlap_keys pk = ints(page, 4);
    assert_int_equal(overlap_claim(o, p, &pk, keep), 3);
    assert_false(keep[0]);
    assert_true(keep[1]);
    assert_true(keep[2]);
    assert_true(keep[3]);
    overlap_landed(o, p);
    overlap_untrack(o, COLL);
    overlap_untrack(o, COLL + 1);
    overlap_free(o);
}

static void test_varchar_keys(void **state) {
    (void)state;
    overlap *o = overlap_new();
    overlap_track(o, COLL);
    overlap_page *p = overlap_open(o, COLL);
    overlap_page_since(o, p, 10);
    const char *sent[] = {"b", "dd"};
    overlap_keys s = {.strs = sent, .n = 2};
    overlap_stream_write(o, COLL, &s, 11);
    const char *page[] = {"a", "b", "c", "d", "dd"};
    bool keep[5];
    overlap_keys pk = {.strs = page, .n = 5};
    assert_int_equal(overlap_claim(o, p, &pk, keep), 3);
    assert_true(keep[0] && !keep[1] && keep[2] && keep[3] && !keep[4]);
    overlap_landed(o, p);
    overlap_free(o);
}

/* Not tracked: the stream records nothing and a page keeps everything. */
static void test_untracked_collection_keeps_all(void **state) {
    (void)state;
    overlap *o = overlap_new();
    overlap_keys a = ints((int64_t[]){1}, 1);
    overlap_stream_write(o, COLL, &a, 999);
    assert_int_equal(overlap_remembered(o), 0);
    overlap_page *p = overlap_open(o, COLL);
    overlap_page_since(o, p, 1);
    bool keep[1];
    assert_int_equal(overlap_claim(o, p, &a, keep), 1);
    overlap_landed(o, p);
    overlap_free(o);
}

/* Memory: writes no open page can need are forgotten at each claim; an
 * open page whose since is not known yet keeps everything (its since will
 * be newer than nothing we know). */
static void test_forgets_what_no_open_page_needs(void **state) {
    (void)state;
    overlap *o = overlap_new();
    overlap_track(o, COLL);
    overlap_page *p1 = overlap_open(o, COLL);
    overlap_page_since(o, p1, 100);
    overlap_page *p2 = overlap_open(o, COLL);   /* since not set yet */
    for (int64_t k = 0; k < 1000; k++) {
        overlap_keys a = ints(&k, 1);
        overlap_stream_write(o, COLL, &a, 50 + (uint64_t)k);
    }
    assert_int_equal(overlap_remembered(o), 1000);
    int64_t none = -1;
    bool keep[1];
    overlap_keys pk = ints(&none, 1);
    overlap_claim(o, p1, &pk, keep);
    assert_int_equal(overlap_remembered(o), 1000);   /* p2 may need any */
    overlap_page_since(o, p2, 900);
    overlap_page *p3 = overlap_open(o, COLL);
    overlap_page_since(o, p3, 1000);
    overlap_claim(o, p3, &pk, keep);                 /* oldest open: p2 at 900 */
    assert_int_equal(overlap_remembered(o), 1049 - 900);
    /* p2 needs key 851 (ts 901 > 900) and not key 850 (ts 900). */
    int64_t two[] = {850, 851};
    bool keep2[2];
    overlap_keys k2 = ints(two, 2);
    overlap_claim(o, p2, &k2, keep2);
    assert_true(keep2[0]);
    assert_false(keep2[1]);
    /* No page open: what is newer than the newest since stays (a page to
     * come may have a since as old as that one). */
    assert_int_equal(overlap_remembered(o), 1049 - 1000);
    overlap_landed(o, p1);
    overlap_landed(o, p2);
    overlap_landed(o, p3);
    overlap_free(o);
}

/* A since may lie behind the moment its page began (pages read a second
 * behind the source's clock): a write recorded after one page's claim, at
 * a ts past the next page's since, must still drop that key from it. */
static void test_sinces_behind_the_clock(void **state) {
    (void)state;
    overlap *o = overlap_new();
    overlap_track(o, COLL);
    overlap_page *p1 = overlap_open(o, COLL);
    overlap_page_since(o, p1, 9000);
    int64_t key = 150;
    overlap_keys k = ints(&key, 1);
    overlap_stream_write(o, COLL, &k, 10050);
    bool keep[1];
    int64_t other = 1;
    overlap_keys ko = ints(&other, 1);
    overlap_claim(o, p1, &ko, keep);          /* no page open after it */
    overlap_landed(o, p1);
    overlap_page *p2 = overlap_open(o, COLL);
    overlap_page_since(o, p2, 9110);          /* began at 10110, a second behind */
    assert_int_equal(overlap_claim(o, p2, &k, keep), 0);
    overlap_landed(o, p2);
    overlap_free(o);
}

/* Rule 3: a stream write of a key a page holds in flight waits until the
 * page landed; one of other keys goes at once. */
typedef struct writer {
    overlap *o;
    int64_t key;
    atomic_int done;
} writer;

static void *write_one(void *arg) {
    writer *w = arg;
    overlap_keys k = ints(&w->key, 1);
    overlap_stream_write(w->o, COLL, &k, 5000);
    atomic_store(&w->done, 1);
    return NULL;
}

static void sleep_ms(int ms) { nanosleep(&(struct timespec){.tv_nsec = ms * 1000000L}, NULL); }

static void test_stream_waits_for_a_page_holding_its_key(void **state) {
    (void)state;
    overlap *o = overlap_new();
    overlap_track(o, COLL);
    overlap_page *p = overlap_open(o, COLL);
    overlap_page_since(o, p, 10);
    int64_t page[] = {1, 2, 3};
    bool keep[3];
    overlap_keys pk = ints(page, 3);
    overlap_claim(o, p, &pk, keep);
    writer other = {.o = o, .key = 9}, blocked = {.o = o, .key = 2};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, write_one, &other);
    pthread_join(t1, NULL);
    assert_int_equal(atomic_load(&other.done), 1);
    pthread_create(&t2, NULL, write_one, &blocked);
    sleep_ms(50);
    assert_int_equal(atomic_load(&blocked.done), 0);
    overlap_landed(o, p);
    pthread_join(t2, NULL);
    assert_int_equal(atomic_load(&blocked.done), 1);
    /* Recorded after the page: a later page (since before 5000) drops it. */
    overlap_page *q = overlap_open(o, COLL);
    overlap_page_since(o, q, 4000);
    int64_t again = 2;
    overlap_keys k = ints(&again, 1);
    assert_int_equal(overlap_claim(o, q, &k, keep), 0);
    overlap_landed(o, q);
    overlap_free(o);
}

/* Many pages and a busy stream at once: a key a page kept was not written
 * by the stream at a ts after the page's since before the claim (last[k]
 * is set after the stream's write returned, so a value seen before the
 * claim was recorded before it); nothing deadlocks; memory ends empty. */
#define KEYS 512
static _Atomic uint64_t last[KEYS];
static atomic_bool stop_all;
static atomic_ullong clock_ts = 1;

static void *stream_loop(void *arg) {
    overlap *o = arg;
    uint64_t seed = (uint64_t)(uintptr_t)&seed | 1;
    while (!atomic_load(&stop_all)) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        int64_t k = (int64_t)(seed % KEYS);
        overlap_keys a = ints(&k, 1);
        uint64_t ts = atomic_fetch_add(&clock_ts, 1);
        overlap_stream_write(o, COLL, &a, ts);
        uint64_t prev = atomic_load(&last[k]);
        while (prev < ts && !atomic_compare_exchange_weak(&last[k], &prev, ts)) {
        }
    }
    return NULL;
}

static void test_concurrent_pages_and_stream(void **state) {
    (void)state;
    overlap *o = overlap_new();
    overlap_track(o, COLL);
    pthread_t st[2];
    for (int i = 0; i < 2; i++) pthread_create(&st[i], NULL, stream_loop, o);
    for (int round = 0; round < 300; round++) {
        overlap_page *p = overlap_open(o, COLL);
        uint64_t since = atomic_fetch_add(&clock_ts, 1);
        overlap_page_since(o, p, since);
        int64_t page[16];
        bool keep[16];
        uint64_t seen[16];
        for (int i = 0; i < 16; i++) page[i] = (round * 16 + i) % KEYS;
        for (int i = 0; i < 16; i++) seen[i] = atomic_load(&last[page[i]]);
        overlap_keys pk = ints(page, 16);
        overlap_claim(o, p, &pk, keep);
        for (int i = 0; i < 16; i++)
            if (keep[i]) assert_true(seen[i] <= since);
        if (round % 10 == 0) sleep_ms(1);
        overlap_landed(o, p);
    }
    atomic_store(&stop_all, true);
    for (int i = 0; i < 2; i++) pthread_join(st[i], NULL);
    /* Writes since the last claim are kept until the next one. */
    overlap_page *p = overlap_open(o, COLL);
    overlap_page_since(o, p, atomic_fetch_add(&clock_ts, 1));
    overlap_claim(o, p, &(overlap_keys){0}, NULL);
    overlap_landed(o, p);
    assert_int_equal(overlap_remembered(o), 0);
    overlap_untrack(o, COLL);
    overlap_free(o);
}

/* The key column's data is a oneof: a varchar column must give strings,
 * not its string array read as numbers (the members share one place). */
static void test_keys_of_a_column(void **state) {
    (void)state;
    char *strs[] = {"a", "b"};
    Milvus__Proto__Schema__StringArray sa = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    sa.n_data = 2;
    sa.data = strs;
    Milvus__Proto__Schema__ScalarField sc = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    sc.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
    sc.string_data = &sa;
    Milvus__Proto__Schema__FieldData f = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    f.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    f.scalars = &sc;
    overlap_keys k = overlap_keys_of_column(&f);
    assert_null(k.ints);
    assert_non_null(k.strs);
    assert_int_equal(k.n, 2);
    assert_string_equal(k.strs[1], "b");
    int64_t nums[] = {7, 8, 9};
    Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    la.n_data = 3;
    la.data = nums;
    sc.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    sc.long_data = &la;
    k = overlap_keys_of_column(&f);
    assert_null(k.strs);
    assert_int_equal(k.n, 3);
    assert_int_equal(k.ints[2], 9);
    sc.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA__NOT_SET;
    assert_int_equal(overlap_keys_of_column(&f).n, 0);
    Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
    ids.str_id = &sa;
    k = overlap_keys_of_ids(&ids);
    assert_non_null(k.strs);
    assert_int_equal(k.n, 2);
}

static void test_upsert_until(void **state) {
    (void)state;
    overlap *o = overlap_new();
    assert_int_equal(overlap_upsert_until(o, COLL), 0);
    overlap_set_upsert_until(o, COLL, UINT64_MAX);
    assert_true(overlap_upsert_until(o, COLL) == UINT64_MAX);
    overlap_set_upsert_until(o, COLL, 77);
    assert_int_equal(overlap_upsert_until(o, COLL), 77);
    assert_int_equal(overlap_upsert_until(o, COLL + 1), 0);
    overlap_free(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_drops_keys_the_stream_changed_after_since),
        cmocka_unit_test(test_varchar_keys),
        cmocka_unit_test(test_untracked_collection_keeps_all),
        cmocka_unit_test(test_forgets_what_no_open_page_needs),
        cmocka_unit_test(test_sinces_behind_the_clock),
        cmocka_unit_test(test_stream_waits_for_a_page_holding_its_key),
        cmocka_unit_test(test_concurrent_pages_and_stream),
        cmocka_unit_test(test_keys_of_a_column),
        cmocka_unit_test(test_upsert_until),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
