/* test_verify.c — verify.h's comparison driven through fake sides: each a
 * table of partitions holding (key, value, copies), paged, counted and
 * looked up as verify_milvus.c does over a server, and with pages so small
 * that every case crosses page boundaries on both sides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "verify/verify.h"

#define MAX_ROWS 1600
#define MAX_PARTS 3

typedef struct fake_row {
    int64_t key;
    uint64_t value;
    unsigned copies; /* 0: absent */
} fake_row;

typedef struct fake_part {
    const char *name;
    fake_row rows[MAX_ROWS]; /* sorted by key */
    size_t n;
} fake_part;

typedef struct fake {
    fake_part parts[MAX_PARTS];
    size_t n_parts;
    bool varchar;   /* keys as strings "k%05d" (sorted the same) */
    bool fail_page; /* the server went away */
    int lookups_ok; /* > 0: lookups after this many fail */
    _Atomic int lookups;
    _Atomic int opens, pins;
} fake;

static void *f_open(void *cfg, mcdc_err *err) {
    (void)err;
    ((fake *)cfg)->opens++;
    return cfg;
}
static void f_close(void *side) { (void)side; }

static int f_partitions(void *side, char ***names, size_t *n, mcdc_err *err) {
    (void)err;
    fake *f = side;
    *names = calloc(f->n_parts, sizeof **names);
    for (size_t i = 0; i < f->n_parts; i++) (*names)[i] = strdup(f->parts[i].name);
    *n = f->n_parts;
    return 0;
}

static int f_pin(void *side, uint64_t *ts, mcdc_err *err) {
    (void)err;
    if (!*ts) *ts = 1;
    ((fake *)side)->pins++;
    return 0;
}

static fake_part *part_of(fake *f, const char *name) {
    for (size_t i = 0; i < f->n_parts; i++)
        if (strcmp(f->parts[i].name, name) == 0) return &f->parts[i];
    return NULL;
}

static verify_key key_of(const fake *f, int64_t k) {
    verify_key v = {k, NULL};
    if (f->varchar) {
        char b[16];
        snprintf(b, sizeof b, "k%05lld", (long long)k);
        v.s = strdup(b);
        v.i = 0;
    }
    return v;
}

static int64_t int_of(const fake *f, const verify_key *k) { return f->varchar ? atoll(k->s + 1) : k->i; }

static void push(verify_rows *out, const fake *f, const fake_row *r) {
    out->rows = realloc(out->rows, (out->n + 1) * sizeof *out->rows);
    out->rows[out->n++] = (verify_row){key_of(f, r->key), r->value};
}

static int f_page(void *side, const char *partition, const verify_key *after, uint32_t limit, verify_rows *out,
                  mcdc_err *err) {
    fake *f = side;
    /* As verify_milvus.c does: an array even for an empty page, so a page
     * dropped without verify_rows_free leaks under ASan. */
    *out = (verify_rows){.rows = calloc(1, sizeof(verify_row))};
    if (f->fail_page) {
        free(out->rows);
        out->rows = NULL;
        return mcdc_errf(err, MCDC_EUNAVAIL, "fake 127.0.0.1:1: connection refused");
    }
    /* As 2.3.5 does: the limit counts stored copies, then one row per key
     * is kept, so a page with a doubled key comes back short. */
    fake_part *p = part_of(f, partition);
    size_t slots = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        if (!p->rows[i].copies || (after && p->rows[i].key <= int_of(f, after))) continue;
        if (slots + p->rows[i].copies > limit) break;
        slots += p->rows[i].copies;
        push(out, f, &p->rows[i]);
    }
    return 0;
}

static int f_count(void *side, const char *partition, const verify_key *lo, const verify_key *hi, uint64_t *n,
                   mcdc_err *err) {
    (void)err;
    fake *f = side;
    *n = 0;
    fake_part *p = part_of(f, partition);
    for (size_t i = 0; p && i < p->n; i++)
        if ((!lo || p->rows[i].key > int_of(f, lo)) && (!hi || p->rows[i].key <= int_of(f, hi)))
            *n += p->rows[i].copies;
    return 0;
}

static int f_count_key(void *side, const char *partition, const verify_key *k, uint64_t *n, mcdc_err *err) {
    (void)err;
    fake *f = side;
    *n = 0;
    fake_part *p = part_of(f, partition);
    for (size_t i = 0; p && i < p->n; i++)
        if (p->rows[i].key == int_of(f, k)) *n += p->rows[i].copies;
    return 0;
}

static int f_lookup(void *side, const char *partition, const verify_key *keys, size_t n, verify_rows *out,
                    mcdc_err *err) {
    (void)err;
    fake *f = side;
    *out = (verify_rows){0};
    if (f->lookups_ok && atomic_fetch_add(&f->lookups, 1) >= f->lookups_ok)
        return mcdc_errf(err, MCDC_EUNAVAIL, "fake 127.0.0.1:2: connection reset");
    fake_part *p = part_of(f, partition);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; p && i < p->n; i++)
            if (p->rows[i].copies && p->rows[i].key == int_of(f, &keys[k])) push(out, f, &p->rows[i]);
    return 0;
}

static const verify_side_ops FAKE = {f_open, f_close, f_partitions, f_pin, f_page, f_count, f_count_key, f_lookup};

/* n rows 0..n-1 in partition `name`, value = key * 7. */
static void fill(fake *f, const char *name, size_t n) {
    fake_part *p = &f->parts[f->n_parts++];
    p->name = name;
    for (size_t i = 0; i < n; i++) p->rows[p->n++] = (fake_row){(int64_t)i * 2, (uint64_t)i * 7, 1};
}

static fake_row *row(fake *f, const char *part, int64_t key) {
    fake_part *p = part_of(f, part);
    for (size_t i = 0; i < p->n; i++)
        if (p->rows[i].key == key) return &p->rows[i];
    return NULL;
}

static const verify_options SMALL = {.page_rows = 3, .readers = 2, .rechecks = 1};

static int compare(fake *src, fake *dst, const verify_options *o, verify_result *res, mcdc_err *err) {
    verify_progress prog = {0};
    int rc = verify_run(&FAKE, src, &FAKE, dst, o, NULL, &prog, res, err);
    if (rc == 0) {
        assert_int_equal(atomic_load(&prog.phase), VERIFY_DONE);
        assert_int_equal(atomic_load(&prog.rows_total), res->source_rows);
    }
    return rc;
}

static void test_equal(void **state) {
    (void)state;
    for (int varchar = 0; varchar < 2; varchar++) {
        fake a = {.varchar = varchar}, b = {.varchar = varchar};
        fill(&a, "_default", 40);
        fill(&a, "p1", 7);
        fill(&b, "_default", 40);
        fill(&b, "p1", 7);
        verify_result r;
        mcdc_err err;
        assert_int_equal(compare(&a, &b, &SMALL, &r, &err), 0);
        assert_true(verify_result_equal(&r));
        assert_int_equal(r.source_rows, 47);
        assert_int_equal(r.target_rows, 47);
        assert_int_equal(r.source_keys, 47);
        assert_int_equal(r.target_keys, 47);
        assert_int_equal(r.partitions, 2);
        verify_result_free(&r);
    }
}

/* Each kind, at page edges and in the middle, with the right counts and
 * the smallest keys as examples. */
static void test_each_kind_counted_and_named(void **state) {
    (void)state;
    for (int varchar = 0; varchar < 2; varchar++) {
        fake a = {.varchar = varchar}, b = {.varchar = varchar};
        fill(&a, "_default", 60);
        fill(&b, "_default", 60);
        row(&b, "_default", 0)->copies = 0;   /* missing: the first */
        row(&b, "_default", 6)->copies = 0;   /* missing: a page edge */
        row(&b, "_default", 118)->copies = 0; /* missing: the last */
        row(&a, "_default", 10)->copies = 0;  /* extra */
        row(&a, "_default", 50)->copies = 0;  /* extra */
        row(&b, "_default", 20)->value = 1;   /* differing */
        row(&b, "_default", 30)->copies = 3;  /* doubled twice */
        row(&b, "_default", 44)->copies = 2;  /* doubled once */
        verify_result r;
        mcdc_err err;
        assert_int_equal(compare(&a, &b, &SMALL, &r, &err), 0);
        assert_false(verify_result_equal(&r));
        assert_int_equal(r.count[VERIFY_MISSING], 3);
        assert_int_equal(r.count[VERIFY_EXTRA], 2);
        assert_int_equal(r.count[VERIFY_DIFFERING], 1);
        assert_int_equal(r.count[VERIFY_DOUBLED], 3);
        assert_int_equal(r.n_example[VERIFY_MISSING], 3);
        fake probe = {.varchar = varchar};
        int64_t want_missing[] = {0, 6, 118}, want_doubled[] = {30, 44};
        for (int i = 0; i < 3; i++) {
            verify_key k = key_of(&probe, want_missing[i]);
            assert_int_equal(verify_key_cmp(&r.example[VERIFY_MISSING][i], &k), 0);
            free(k.s);
        }
        assert_int_equal(r.n_example[VERIFY_DOUBLED], 2);
        for (int i = 0; i < 2; i++) {
            verify_key k = key_of(&probe, want_doubled[i]);
            assert_int_equal(verify_key_cmp(&r.example[VERIFY_DOUBLED][i], &k), 0);
            free(k.s);
        }
        assert_int_equal(r.source_rows, 58);
        assert_int_equal(r.target_rows, 57 + 3);
        verify_result_free(&r);
    }
}

/* A partition the target lacks is all missing; one only the target has
 * is all extra. */
static void test_partitions_on_one_side(void **state) {
    (void)state;
    fake a = {0}, b = {0};
    fill(&a, "_default", 5);
    fill(&a, "only_src", 4);
    fill(&b, "_default", 5);
    fill(&b, "only_dst", 2);
    verify_result r;
    mcdc_err err;
    assert_int_equal(compare(&a, &b, &SMALL, &r, &err), 0);
    assert_int_equal(r.count[VERIFY_MISSING], 4);
    assert_int_equal(r.count[VERIFY_EXTRA], 2);
    assert_int_equal(r.partitions, 3);
    verify_result_free(&r);
}

/* The source doubles a key itself: the target doubling it too is no
 * difference. */
static void test_doubles_of_the_source_are_not_the_targets(void **state) {
    (void)state;
    fake a = {0}, b = {0};
    fill(&a, "_default", 20);
    fill(&b, "_default", 20);
    row(&a, "_default", 8)->copies = 2;
    row(&b, "_default", 8)->copies = 2;
    verify_result r;
    mcdc_err err;
    assert_int_equal(compare(&a, &b, &SMALL, &r, &err), 0);
    assert_true(verify_result_equal(&r));
    verify_result_free(&r);
}

/* Doubles on both sides: only the target's copies beyond the source's
 * count, and one on the source does not hide one on the target. */
static void test_doubles_counted_against_the_source(void **state) {
    (void)state;
    fake a = {0}, b = {0};
    fill(&a, "_default", 20);
    fill(&b, "_default", 20);
    row(&a, "_default", 8)->copies = 2;  /* the source doubles 8 */
    row(&b, "_default", 10)->copies = 2; /* the target doubles 10 only */
    verify_result r;
    mcdc_err err;
    assert_int_equal(compare(&a, &b, &SMALL, &r, &err), 0);
    assert_int_equal(r.count[VERIFY_DOUBLED], 1);
    assert_int_equal(r.example[VERIFY_DOUBLED][0].i, 10);
    verify_result_free(&r);
    row(&b, "_default", 8)->copies = 3; /* 8: one copy beyond the source's two */
    assert_int_equal(compare(&a, &b, &SMALL, &r, &err), 0);
    assert_int_equal(r.count[VERIFY_DOUBLED], 2);
    assert_int_equal(r.n_example[VERIFY_DOUBLED], 2);
    assert_int_equal(r.example[VERIFY_DOUBLED][0].i, 8);
    assert_int_equal(r.example[VERIFY_DOUBLED][1].i, 10);
    verify_result_free(&r);
}

/* A difference the target heals before the re-check (a write in flight)
 * is not reported; one that stays is. */
typedef struct heal {
    fake *dst;
    int calls;
} heal;

static bool heal_caught_up(void *ud, mcdc_err *err) {
    (void)err;
    heal *h = ud;
    h->calls++;
    row(h->dst, "_default", 4)->value = row(h->dst, "_default", 2)->value * 2; /* key 4 = i 2 -> 14 */
    row(h->dst, "_default", 12)->copies = 1;
    return true;
}

static void test_recheck_drops_what_caught_up(void **state) {
    (void)state;
    fake a = {0}, b = {0};
    fill(&a, "_default", 30);
    fill(&b, "_default", 30);
    row(&b, "_default", 4)->value = 99;   /* heals */
    row(&b, "_default", 12)->copies = 0;  /* heals */
    row(&b, "_default", 16)->value = 98;  /* stays */
    heal h = {&b, 0};
    verify_hooks hooks = {.ud = &h, .caught_up = heal_caught_up};
    verify_options o = SMALL;
    o.rechecks = 3;
    verify_result r;
    mcdc_err err;
    assert_int_equal(verify_run(&FAKE, &a, &FAKE, &b, &o, &hooks, NULL, &r, &err), 0);
    assert_int_equal(r.count[VERIFY_DIFFERING], 1);
    assert_int_equal(r.count[VERIFY_MISSING], 0);
    assert_int_equal(r.example[VERIFY_DIFFERING][0].i, 16);
    assert_int_equal(h.calls, 3); /* one key stayed different: every round ran */
    verify_result_free(&r);
}

/* Past max_suspects differences are counted as unconfirmed, not kept. */
static void test_suspects_bounded(void **state) {
    (void)state;
    fake a = {0}, b = {0};
    fill(&a, "_default", 50);
    fill(&b, "_default", 50);
    for (int64_t k = 0; k < 40; k += 2) row(&b, "_default", k)->copies = 0;
    verify_options o = SMALL;
    o.max_suspects = 5;
    verify_result r;
    mcdc_err err;
    assert_int_equal(compare(&a, &b, &o, &r, &err), 0);
    assert_int_equal(r.count[VERIFY_MISSING], 5);
    assert_int_equal(r.unconfirmed, 15);
    assert_false(verify_result_equal(&r));
    verify_result_free(&r);
}

static void test_side_failure_is_an_error(void **state) {
    (void)state;
    fake a = {0}, b = {0};
    fill(&a, "_default", 10);
    fill(&b, "_default", 10);
    b.fail_page = true;
    verify_result r;
    mcdc_err err = {0};
    assert_int_equal(compare(&a, &b, &SMALL, &r, &err), -1);
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
}

/* Many partitions on few readers, many times: the threads share only the
 * run's counters and the partition queue. */
/* A re-check that fails half way (more suspects than one lookup takes)
 * fails the verify and leaves nothing freed twice (ASan watches). */
static void test_check_failing_half_way(void **state) {
    (void)state;
    fake a = {0}, b = {0};
    fill(&a, "_default", 1500);
    fill(&b, "_default", 1500);
    for (int64_t k = 0; k < 3000; k += 2) row(&b, "_default", k)->value = 1; /* 1500 differ */
    b.lookups_ok = 1;
    verify_options o = {.page_rows = 500, .readers = 1, .rechecks = 0};
    verify_result r;
    mcdc_err err = {0};
    assert_int_equal(compare(&a, &b, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "127.0.0.1:2"));
}

static void test_readers_race_free(void **state) {
    (void)state;
    static const char *names[MAX_PARTS] = {"a", "b", "c"};
    for (int round = 0; round < 200; round++) {
        fake a = {0}, b = {0};
        for (int p = 0; p < MAX_PARTS; p++) {
            fill(&a, names[p], 30);
            fill(&b, names[p], 30);
        }
        row(&b, "b", 8)->copies = 0;
        row(&b, "c", 10)->copies = 2;
        verify_options o = SMALL;
        o.readers = 3;
        verify_result r;
        mcdc_err err;
        assert_int_equal(compare(&a, &b, &o, &r, &err), 0);
        assert_int_equal(r.count[VERIFY_MISSING], 1);
        assert_int_equal(r.count[VERIFY_DOUBLED], 1);
        assert_int_equal(r.source_keys, 90);
        verify_result_free(&r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_each_kind_counted_and_named),
        cmocka_unit_test(test_partitions_on_one_side),
        cmocka_unit_test(test_doubles_of_the_source_are_not_the_targets),
        cmocka_unit_test(test_doubles_counted_against_the_source),
        cmocka_unit_test(test_recheck_drops_what_caught_up),
        cmocka_unit_test(test_suspects_bounded),
        cmocka_unit_test(test_side_failure_is_an_error),
        cmocka_unit_test(test_check_failing_half_way),
        cmocka_unit_test(test_readers_race_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
