/* verify.c — the row-by-row comparison of verify.h: a merge of two sorted
 * walks per partition, re-checks of what differed, and the hunt for
 * doubled keys. Knows nothing of Milvus: the sides are verify_side_ops
 * (verify_milvus.c over the gRPC client; fakes in the unit test). */
#include "verify/verify.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"

const char *verify_kind_name(verify_kind k) {
    static const char *const N[VERIFY_N_KINDS] = {"missing", "extra", "differing", "doubled"};
    return k < VERIFY_N_KINDS ? N[k] : "?";
}

const char *verify_phase_name(verify_phase p) {
    static const char *const N[] = {"starting", "comparing", "rechecking", "done", "failed"};
    return p <= VERIFY_FAILED ? N[p] : "?";
}

int verify_key_cmp(const verify_key *a, const verify_key *b) {
    if (a->s || b->s) return strcmp(a->s ? a->s : "", b->s ? b->s : "");
    return a->i < b->i ? -1 : a->i > b->i;
}

static verify_key key_dup(const verify_key *k) { return (verify_key){k->i, k->s ? mcdc_xstrdup(k->s) : NULL}; }

void verify_rows_free(verify_rows *r) {
    for (size_t i = 0; i < r->n; i++) free(r->rows[i].key.s);
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}

void verify_result_free(verify_result *r) {
    for (int k = 0; k < VERIFY_N_KINDS; k++)
        for (size_t i = 0; i < r->n_example[k]; i++) free(r->example[k][i].s);
    memset(r, 0, sizeof *r);
}

void verify_result_copy(verify_result *to, const verify_result *from) {
    *to = *from;
    for (int k = 0; k < VERIFY_N_KINDS; k++)
        for (size_t i = 0; i < from->n_example[k]; i++) to->example[k][i] = key_dup(&from->example[k][i]);
}

bool verify_result_equal(const verify_result *r) {
    for (int k = 0; k < VERIFY_N_KINDS; k++)
        if (r->count[k]) return false;
    return r->unconfirmed == 0;
}

/* ---- one partition ------------------------------------------------------ */

typedef struct suspect {
    verify_key key;
} suspect;

typedef struct part {
    char *name;
    uint64_t src_rows, dst_rows; /* count(*) at the start */
    uint64_t src_keys, dst_keys;
    suspect *sus;                /* keys that differed in the walk, by key */
    size_t n_sus, cap_sus;
    uint64_t unconfirmed;
    uint64_t doubled;            /* extra copies found */
    verify_key dbl_example[VERIFY_EXAMPLES];
    size_t n_dbl_example;
    verify_kind *sus_kind;       /* filled by the last check */
    verify_rows src_now;         /* the source's rows of the suspects, read first in each check */
} part;

typedef struct run {
    const verify_side_ops *so, *dops;
    void *scfg, *dcfg;
    verify_options o;
    const verify_hooks *hooks;
    verify_progress *prog;
    part *parts;
    size_t n_parts;
    pthread_mutex_t mu;          /* next, failed, err, suspects budget */
    size_t next;
    bool failed;
    mcdc_err err;
    size_t sus_budget;
    uint64_t src_ts, dst_ts;     /* the moment each side is read at (pin); 0 = take one */
} run;

static void fail(run *r, const mcdc_err *e) {
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = true;
        r->err = *e;
    }
    pthread_mutex_unlock(&r->mu);
}

static bool stop(run *r) {
    pthread_mutex_lock(&r->mu);
    bool f = r->failed;
    pthread_mutex_unlock(&r->mu);
    if (f) return true;
    if (r->hooks && r->hooks->stopping && r->hooks->stopping(r->hooks->ud)) {
        mcdc_err e;
        mcdc_errf(&e, MCDC_ECANCELED, "verify stopped");
        fail(r, &e);
        return true;
    }
    return false;
}

static void suspect_add(run *r, part *p, const verify_key *k) {
    pthread_mutex_lock(&r->mu);
    bool room = r->sus_budget > 0;
    if (room) r->sus_budget--;
    pthread_mutex_unlock(&r->mu);
    if (!room) {
        p->unconfirmed++;
        return;
    }
    if (p->n_sus == p->cap_sus) {
        p->cap_sus = p->cap_sus ? p->cap_sus * 2 : 64;
        p->sus = mcdc_xrealloc(p->sus, p->cap_sus * sizeof *p->sus);
    }
    p->sus[p->n_sus++].key = key_dup(k);
}

/* One page asked of one side, on a thread of its own. */
typedef struct fetch {
    const verify_side_ops *ops;
    void *side;
    const char *partition;
    const verify_key *after;
    uint32_t limit;
    verify_rows rows;
    mcdc_err err;
    int rc;
} fetch;

static void *fetch_run(void *arg) {
    fetch *f = arg;
    f->rc = f->ops->page(f->side, f->partition, f->after, f->limit, &f->rows, &f->err);
    return NULL;
}

/* A side's walk: the page in hand, where it is in it, the key after which
 * the next page starts, and that next page, asked for as soon as this one
 * came: both servers read their next page while the pages in hand are
 * merged, so neither waits for the merge or for the other. */
typedef struct cursor {
    verify_rows page;
    size_t at;
    bool done, has_last;
    verify_key last;
    uint64_t keys;
    fetch next;
    verify_key asked_after; /* next.after points here while it runs */
    pthread_t thread;
    bool pending, threaded;
} cursor;

static bool cursor_empty(const cursor *c) { return c->at >= c->page.n; }

static void cursor_ask(cursor *c, const verify_side_ops *ops, void *side, const char *name, uint32_t limit) {
    free(c->asked_after.s);
    c->asked_after = c->has_last ? key_dup(&c->last) : (verify_key){0};
    c->next = (fetch){ops, side, name, c->has_last ? &c->asked_after : NULL, limit, {0}, {0}, 0};
    c->pending = true;
    c->threaded = pthread_create(&c->thread, NULL, fetch_run, &c->next) == 0;
    if (!c->threaded) fetch_run(&c->next);
}

static void cursor_wait(cursor *c) {
    if (c->pending && c->threaded) pthread_join(c->thread, NULL);
    c->threaded = false;
}

/* Takes the page asked for: 0, or -1 when the side failed or answered a
 * page that does not start after the last key (a server that does not
 * page by key: the walk would loop). */
static int cursor_take(cursor *c, mcdc_err *err) {
    cursor_wait(c);
    c->pending = false;
    fetch *f = &c->next;
    if (f->rc) {
        *err = f->err;
        verify_rows_free(&f->rows);
        return -1;
    }
    if (c->has_last && f->rows.n && verify_key_cmp(&f->rows.rows[0].key, &c->last) <= 0) {
        verify_rows_free(&f->rows);
        return mcdc_errf(err, MCDC_EREMOTE, "a page of partition '%s' did not start after the previous page's last "
                                            "key: the server does not page by key",
                         f->partition);
    }
    verify_rows_free(&c->page);
    c->page = f->rows;
    f->rows = (verify_rows){0};
    c->at = 0;
    /* Only an empty page ends a walk: 2.3.5 applies a Query's limit to the
     * copies it stores and then keeps one row per key, so a page with a
     * doubled key comes back short although more rows follow (seen:
     * 499 of 500, and a partition's walk ended there). */
    if (c->page.n == 0) c->done = true;
    if (c->page.n) {
        free(c->last.s);
        c->last = key_dup(&c->page.rows[c->page.n - 1].key);
        c->has_last = true;
    }
    c->keys += c->page.n;
    return 0;
}

/* The page in hand of each side that has used it up, and the page after
 * it asked for at once. */
static int refill(run *r, void *src, void *dst, const char *name, cursor *s, cursor *d) {
    bool need_s = cursor_empty(s) && !s->done, need_d = cursor_empty(d) && !d->done;
    if (need_s && !s->pending) cursor_ask(s, r->so, src, name, r->o.page_rows);
    if (need_d && !d->pending) cursor_ask(d, r->dops, dst, name, r->o.page_rows);
    mcdc_err e;
    int rc = 0;
    if (need_s && cursor_take(s, &e)) {
        fail(r, &e);
        rc = -1;
    }
    if (need_d && cursor_take(d, &e)) {
        fail(r, &e);
        rc = -1;
    }
    if (rc) return -1;
    if (need_s && !s->done) cursor_ask(s, r->so, src, name, r->o.page_rows);
    if (need_d && !d->done) cursor_ask(d, r->dops, dst, name, r->o.page_rows);
    return 0;
}

static void cursor_free(cursor *c) {
    cursor_wait(c);
    verify_rows_free(&c->next.rows);
    free(c->asked_after.s);
    verify_rows_free(&c->page);
    free(c->last.s);
}

static int walk(run *r, void *src, void *dst, part *p) {
    cursor s = {0}, d = {0};
    int rc = 0;
    for (;;) {
        if (stop(r) || refill(r, src, dst, p->name, &s, &d)) {
            rc = -1;
            break;
        }
        bool se = cursor_empty(&s), de = cursor_empty(&d);
        if (se && de) break; /* both done: refill fetches whatever is not */
        /* Merge while both have rows in hand, or one is at its end. */
        while (!(cursor_empty(&s) && !s.done) && !(cursor_empty(&d) && !d.done)) {
            se = cursor_empty(&s);
            de = cursor_empty(&d);
            if (se && de) break;
            const verify_row *a = se ? NULL : &s.page.rows[s.at], *b = de ? NULL : &d.page.rows[d.at];
            int c = !a ? 1 : !b ? -1 : verify_key_cmp(&a->key, &b->key);
            if (c == 0) {
                if (a->hash != b->hash) suspect_add(r, p, &a->key);
                s.at++;
                d.at++;
                atomic_fetch_add(&r->prog->rows_compared, 1);
            } else if (c < 0) {
                suspect_add(r, p, &a->key);
                s.at++;
                atomic_fetch_add(&r->prog->rows_compared, 1);
            } else {
                suspect_add(r, p, &b->key);
                d.at++;
            }
        }
    }
    p->src_keys = s.keys;
    p->dst_keys = d.keys;
    cursor_free(&s);
    cursor_free(&d);
    return rc;
}

/* ---- doubled keys --------------------------------------------------------
 * keys[a..b) sorted; the range (keys[a-1], keys[b-1]] (a == 0: from lo)
 * counted n copies on the target where it holds b - a keys. A range with
 * no more copies than keys holds no double; one key with more is counted
 * exactly on both sides, so a key the stream added to the range meanwhile
 * is no double, and neither is a copy the source holds too. */
static int halve(run *r, void *src, void *dst, part *p, const verify_key *keys, size_t a, size_t b,
                 const verify_key *lo, uint64_t n) {
    if (n <= b - a) return 0;
    mcdc_err e;
    if (b - a == 1) {
        uint64_t nt, ns;
        if (r->dops->count_key(dst, p->name, &keys[a], &nt, &e) || r->so->count_key(src, p->name, &keys[a], &ns, &e)) {
            fail(r, &e);
            return -1;
        }
        uint64_t base = ns ? ns : 1;
        if (nt > base) {
            p->doubled += nt - base;
            if (p->n_dbl_example < VERIFY_EXAMPLES) p->dbl_example[p->n_dbl_example++] = key_dup(&keys[a]);
        }
        return 0;
    }
    size_t m = a + (b - a) / 2;
    uint64_t left;
    if (r->dops->count(dst, p->name, lo, &keys[m - 1], &left, &e)) {
        fail(r, &e);
        return -1;
    }
    if (halve(r, src, dst, p, keys, a, m, lo, left)) return -1;
    return halve(r, src, dst, p, keys, m, b, &keys[m - 1], n > left ? n - left : 0);
}

/* The target's pages again, each range counted; a range with more copies
 * than keys is halved until its doubled keys are named. */
static int find_doubled(run *r, void *src, void *dst, part *p) {
    verify_key last = {0};
    bool has_last = false;
    int rc = 0;
    for (;;) {
        if (stop(r)) {
            rc = -1;
            break;
        }
        verify_rows page = {0};
        mcdc_err e;
        if (r->dops->page(dst, p->name, has_last ? &last : NULL, r->o.page_rows, &page, &e)) {
            fail(r, &e);
            rc = -1;
            break;
        }
        if (page.n == 0) {
            verify_rows_free(&page); /* an empty page may still hold its (empty) array */
            break;
        }
        verify_key *keys = mcdc_xmalloc(page.n * sizeof *keys);
        for (size_t i = 0; i < page.n; i++) keys[i] = page.rows[i].key;
        uint64_t n;
        if (r->dops->count(dst, p->name, has_last ? &last : NULL, &keys[page.n - 1], &n, &e)) {
            fail(r, &e);
            rc = -1;
        } else {
            rc = halve(r, src, dst, p, keys, 0, page.n, has_last ? &last : NULL, n);
        }
        free(last.s);
        last = key_dup(&keys[page.n - 1]);
        has_last = true;
        free(keys);
        verify_rows_free(&page);
        if (rc) break;
    }
    free(last.s);
    return rc;
}

/* ---- re-checks ---------------------------------------------------------- */

static int row_cmp(const void *a, const void *b) {
    return verify_key_cmp(&((const verify_row *)a)->key, &((const verify_row *)b)->key);
}

static const verify_row *find_row(const verify_rows *rows, const verify_key *k) {
    if (!rows->n) return NULL;
    verify_row probe = {*k, 0};
    return bsearch(&probe, rows->rows, rows->n, sizeof *rows->rows, row_cmp);
}

#define LOOKUP_KEYS 1000

/* The rows of p's suspects on one side, sorted by key. */
static int lookup_all(run *r, const verify_side_ops *ops, void *side, part *p, verify_rows *out) {
    *out = (verify_rows){0};
    for (size_t at = 0; at < p->n_sus; at += LOOKUP_KEYS) {
        if (stop(r)) break;
        size_t n = p->n_sus - at < LOOKUP_KEYS ? p->n_sus - at : LOOKUP_KEYS;
        verify_key *keys = mcdc_xmalloc(n * sizeof *keys);
        for (size_t i = 0; i < n; i++) keys[i] = p->sus[at + i].key;
        verify_rows got = {0};
        mcdc_err e;
        int rc = ops->lookup(side, p->name, keys, n, &got, &e);
        free(keys);
        if (rc) {
            fail(r, &e);
            break;
        }
        if (got.n) {
            out->rows = mcdc_xrealloc(out->rows, (out->n + got.n) * sizeof *out->rows);
            memcpy(out->rows + out->n, got.rows, got.n * sizeof *got.rows);
            out->n += got.n;
        }
        free(got.rows);
    }
    if (r->failed) {
        verify_rows_free(out);
        return -1;
    }
    /* qsort and bsearch take no NULL array, even with no elements. */
    if (out->n) qsort(out->rows, out->n, sizeof *out->rows, row_cmp);
    return 0;
}

/* The second half of a check: the target's rows of p's suspects, read
 * after the source's (src_now) and after the target had the time (or the
 * watermark) to catch up with that moment; keeps the keys that still
 * differ, each with its kind now. Nothing of p changes when it fails. */
static int check_suspects(run *r, void *dst, part *p) {
    verify_rows b;
    if (lookup_all(r, r->dops, dst, p, &b)) return -1;
    verify_kind *kind = mcdc_xcalloc(p->n_sus ? p->n_sus : 1, sizeof *kind);
    size_t kept = 0;
    for (size_t i = 0; i < p->n_sus; i++) {
        const verify_row *x = find_row(&p->src_now, &p->sus[i].key), *y = find_row(&b, &p->sus[i].key);
        if ((x && y && x->hash == y->hash) || (!x && !y)) { /* equal, or gone from both */
            free(p->sus[i].key.s);
            continue;
        }
        p->sus[kept] = p->sus[i];
        kind[kept++] = !y ? VERIFY_MISSING : !x ? VERIFY_EXTRA : VERIFY_DIFFERING;
    }
    verify_rows_free(&b);
    verify_rows_free(&p->src_now);
    free(p->sus_kind);
    p->sus_kind = kind;
    p->n_sus = kept;
    return 0;
}

/* ---- threads ------------------------------------------------------------ */

typedef enum { STEP_WALK, STEP_CHECK_SOURCE, STEP_CHECK_TARGET } step;

typedef struct worker {
    run *r;
    step what;
    pthread_t t;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    run *r = w->r;
    mcdc_err e;
    void *src = r->so->open(r->scfg, &e), *dst = src ? r->dops->open(r->dcfg, &e) : NULL;
    if (!src || !dst) {
        fail(r, &e);
        if (src) r->so->close(src);
        return NULL;
    }
    /* The walk reads at the plan's moment; a check at a new one (set to 0
     * before each round), taken by the first worker and shared. */
    pthread_mutex_lock(&r->mu);
    uint64_t sts = r->src_ts, dts = r->dst_ts;
    pthread_mutex_unlock(&r->mu);
    if (r->so->pin(src, &sts, &e) || r->dops->pin(dst, &dts, &e)) {
        fail(r, &e);
    } else {
        for (;;) {
            pthread_mutex_lock(&r->mu);
            size_t i = r->next < r->n_parts && !r->failed ? r->next++ : r->n_parts;
            pthread_mutex_unlock(&r->mu);
            if (i == r->n_parts) break;
            part *p = &r->parts[i];
            if (w->what == STEP_CHECK_SOURCE) {
                verify_rows_free(&p->src_now);
                if (p->n_sus && lookup_all(r, r->so, src, p, &p->src_now)) break;
                continue;
            }
            if (w->what == STEP_CHECK_TARGET) {
                if (p->n_sus && check_suspects(r, dst, p)) break;
                continue;
            }
            if (walk(r, src, dst, p)) break;
            /* More copies than keys on the target: name the doubled keys.
             * Counted after the walk, so rows the stream added meanwhile
             * only make the search run (it counts each key exactly). */
            uint64_t now;
            if (r->dops->count(dst, p->name, NULL, NULL, &now, &e)) {
                fail(r, &e);
                break;
            }
            if (now > p->dst_keys && find_doubled(r, src, dst, p)) break;
        }
    }
    r->so->close(src);
    r->dops->close(dst);
    return NULL;
}

static int run_step(run *r, step what) {
    r->next = 0;
    size_t n = r->o.readers < r->n_parts ? r->o.readers : r->n_parts;
    if (n == 0) return 0;
    worker *ws = mcdc_xcalloc(n, sizeof *ws);
    size_t started = 0;
    for (size_t i = 0; i < n; i++) {
        ws[i] = (worker){r, what, 0};
        if (pthread_create(&ws[i].t, NULL, work, &ws[i]) != 0) break;
        started++;
    }
    if (started == 0) work(&ws[0]); /* no thread to be had: do it here */
    for (size_t i = 0; i < started; i++) pthread_join(ws[i].t, NULL);
    free(ws);
    return r->failed ? -1 : 0;
}

/* The partitions and their counts, on the caller's thread. */
static int plan(run *r) {
    mcdc_err e;
    void *src = r->so->open(r->scfg, &e);
    if (!src) return fail(r, &e), -1;
    void *dst = r->dops->open(r->dcfg, &e);
    if (!dst) {
        r->so->close(src);
        return fail(r, &e), -1;
    }
    char **sn = NULL, **dn = NULL;
    size_t ns = 0, nd = 0;
    int rc = -1;
    r->src_ts = r->dst_ts = 0;
    if (r->so->partitions(src, &sn, &ns, &e) || r->dops->partitions(dst, &dn, &nd, &e) ||
        r->so->pin(src, &r->src_ts, &e) || r->dops->pin(dst, &r->dst_ts, &e))
        goto out;
    /* The source's partitions, then the target's it lacks (all extra). */
    r->parts = mcdc_xcalloc(ns + nd + 1, sizeof *r->parts);
    for (size_t i = 0; i < ns; i++) r->parts[r->n_parts++].name = mcdc_xstrdup(sn[i]);
    for (size_t j = 0; j < nd; j++) {
        bool have = false;
        for (size_t i = 0; i < ns && !have; i++) have = strcmp(sn[i], dn[j]) == 0;
        if (!have) r->parts[r->n_parts++].name = mcdc_xstrdup(dn[j]);
    }
    for (size_t i = 0; i < r->n_parts; i++) {
        part *p = &r->parts[i];
        bool on_src = false, on_dst = false;
        for (size_t k = 0; k < ns; k++) on_src |= strcmp(sn[k], p->name) == 0;
        for (size_t k = 0; k < nd; k++) on_dst |= strcmp(dn[k], p->name) == 0;
        /* A partition one side lacks counts 0 there; its pages are empty
         * because the side answers not-found with no rows (verify_milvus.c). */
        if (on_src && r->so->count(src, p->name, NULL, NULL, &p->src_rows, &e)) goto out;
        if (on_dst && r->dops->count(dst, p->name, NULL, NULL, &p->dst_rows, &e)) goto out;
        atomic_fetch_add(&r->prog->rows_total, p->src_rows);
    }
    rc = 0;
out:
    if (rc) fail(r, &e);
    for (size_t i = 0; i < ns; i++) free(sn[i]);
    for (size_t i = 0; i < nd; i++) free(dn[i]);
    free(sn);
    free(dn);
    r->so->close(src);
    r->dops->close(dst);
    return rc;
}

static bool wait_caught_up(run *r) {
    if (r->hooks && r->hooks->caught_up) {
        mcdc_err e;
        if (!r->hooks->caught_up(r->hooks->ud, &e)) {
            fail(r, &e);
            return false;
        }
        return true;
    }
    for (uint32_t waited = 0; waited < r->o.recheck_wait_ms; waited += 100) {
        if (stop(r)) return false;
        mcdc_sleep_ms(100);
    }
    return true;
}

static void add_example(verify_result *out, verify_kind k, const verify_key *key) {
    if (out->n_example[k] < VERIFY_EXAMPLES) out->example[k][out->n_example[k]++] = key_dup(key);
}

/* Sorted examples read better: the smallest keys of each kind. */
static int key_cmp_q(const void *a, const void *b) { return verify_key_cmp(a, b); }

int verify_run(const verify_side_ops *src_ops, void *src_cfg, const verify_side_ops *dst_ops, void *dst_cfg,
               const verify_options *opt, const verify_hooks *hooks, verify_progress *progress, verify_result *out,
               mcdc_err *err) {
    memset(out, 0, sizeof *out);
    verify_progress own = {0};
    run r = {.so = src_ops, .dops = dst_ops, .scfg = src_cfg, .dcfg = dst_cfg, .o = *opt, .hooks = hooks,
             .prog = progress ? progress : &own};
    if (!r.o.page_rows) r.o.page_rows = 4096;
    if (!r.o.readers) r.o.readers = 2;
    if (!r.o.max_suspects) r.o.max_suspects = 100000;
    r.sus_budget = r.o.max_suspects;
    pthread_mutex_init(&r.mu, NULL);
    atomic_store(&r.prog->phase, VERIFY_STARTING);
    int rc = plan(&r);
    if (!rc) {
        atomic_store(&r.prog->phase, VERIFY_COMPARING);
        rc = run_step(&r, STEP_WALK);
    }
    /* Every difference of the walk is checked at least once by key, after
     * the target had the time (or the watermark) to catch up; rechecks
     * more rounds only for what still differs. */
    bool any = false;
    for (size_t i = 0; i < r.n_parts; i++) any |= r.parts[i].n_sus > 0;
    for (unsigned round = 0; !rc && any && round < (r.o.rechecks ? r.o.rechecks : 1); round++) {
        atomic_store(&r.prog->phase, VERIFY_RECHECKING);
        /* The source first, then (after the wait) the target: the target
         * is then asked for no change the source had not made when it was
         * read, so a key written once during the verify ends equal. */
        r.src_ts = r.dst_ts = 0; /* each worker of the step takes its own moment */
        rc = run_step(&r, STEP_CHECK_SOURCE);
        if (rc) break;
        if (r.o.rechecks && !wait_caught_up(&r)) {
            rc = -1;
            break;
        }
        r.src_ts = r.dst_ts = 0;
        rc = run_step(&r, STEP_CHECK_TARGET);
        any = false;
        for (size_t i = 0; i < r.n_parts; i++) any |= r.parts[i].n_sus > 0;
    }
    if (!rc) {
        for (size_t i = 0; i < r.n_parts; i++) {
            part *p = &r.parts[i];
            out->source_rows += p->src_rows;
            out->target_rows += p->dst_rows;
            out->source_keys += p->src_keys;
            out->target_keys += p->dst_keys;
            out->unconfirmed += p->unconfirmed;
            out->count[VERIFY_DOUBLED] += p->doubled;
            if (p->n_sus && p->sus_kind)
                for (size_t k = 0; k < p->n_sus; k++) out->count[p->sus_kind[k]]++;
        }
        /* The smallest keys of each kind over all partitions. */
        for (int kind = 0; kind < VERIFY_N_KINDS; kind++) {
            if (kind == VERIFY_DOUBLED) continue;
            size_t n = 0;
            for (size_t i = 0; i < r.n_parts; i++)
                for (size_t k = 0; k < r.parts[i].n_sus; k++) n += r.parts[i].sus_kind[k] == (verify_kind)kind;
            if (!n) continue;
            verify_key *all = mcdc_xmalloc(n * sizeof *all);
            size_t m = 0;
            for (size_t i = 0; i < r.n_parts; i++)
                for (size_t k = 0; k < r.parts[i].n_sus; k++)
                    if (r.parts[i].sus_kind[k] == (verify_kind)kind) all[m++] = r.parts[i].sus[k].key;
            qsort(all, m, sizeof *all, key_cmp_q);
            for (size_t k = 0; k < m && k < VERIFY_EXAMPLES; k++) add_example(out, (verify_kind)kind, &all[k]);
            free(all);
        }
        /* Doubled: each partition kept its smallest (its pages are walked
         * in key order); the smallest of those. */
        verify_key *all_dbl = mcdc_xmalloc((r.n_parts ? r.n_parts : 1) * VERIFY_EXAMPLES * sizeof *all_dbl);
        size_t nd = 0;
        for (size_t i = 0; i < r.n_parts; i++)
            for (size_t k = 0; k < r.parts[i].n_dbl_example; k++) all_dbl[nd++] = r.parts[i].dbl_example[k];
        if (nd) qsort(all_dbl, nd, sizeof *all_dbl, key_cmp_q);
        for (size_t k = 0; k < nd && k < VERIFY_EXAMPLES; k++) add_example(out, VERIFY_DOUBLED, &all_dbl[k]);
        free(all_dbl);
        out->partitions = r.n_parts;
    } else if (err) {
        *err = r.err;
    }
    for (size_t i = 0; i < r.n_parts; i++) {
        part *p = &r.parts[i];
        for (size_t k = 0; k < p->n_sus; k++) free(p->sus[k].key.s);
        for (size_t k = 0; k < p->n_dbl_example; k++) free(p->dbl_example[k].s);
        free(p->sus);
        free(p->sus_kind);
        verify_rows_free(&p->src_now);
        free(p->name);
    }
    free(r.parts);
    pthread_mutex_destroy(&r.mu);
    atomic_store(&r.prog->phase, rc ? VERIFY_FAILED : VERIFY_DONE);
    if (rc) verify_result_free(out);
    return rc;
}
