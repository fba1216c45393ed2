/* test_status_page.c — the status page of GET / without a server: the lag
 * history (its ring wraps, deleted tasks leave, rows/s from two samples and
 * never from one, the bound on tasks, the sampler thread starts and stops)
 * and the HTML rendered from hand-made snapshots (the hooks a browser test
 * reads, escaping of every text a user or a source chose, the chart, the
 * buttons, nothing from outside, a policy whose hashes match the page's own
 * script and style). test_http.c serves it over a socket. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "server/lag_history.h"
#include "server/status_page.h"

#define NOW 1700000000000ull /* 2023-11-14T22:13:20Z */

/* A snapshot as the task manager hands one out, for the fields the page
 * reads; lag_ms < 0: no watermark. */
static task_snapshot snap(const char *id, task_state st, int64_t lag_ms, uint64_t rows) {
    task_snapshot s = {0};
    s.id = (char *)id;
    s.state = st;
    s.taken_wall_ms = NOW;
    s.watermark = lag_ms < 0 ? 0 : mcdc_ts_compose(NOW - (uint64_t)lag_ms, 3);
    s.applied.inserted = rows;
    s.consistent = true;
    return s;
}

static bool has(const char *text, const char *want) { return strstr(text, want) != NULL; }

static void expect(const char *text, const char *want) {
    if (!has(text, want)) fail_msg("the page lacks '%s':\n%s", want, text);
}

static void expect_not(const char *text, const char *unwanted) {
    const char *at = strstr(text, unwanted);
    if (at) fail_msg("the page has '%s' at ...%.80s...", unwanted, at > text + 40 ? at - 40 : text);
}

/* ---- the history ----------------------------------------------------------- */

static void test_ring_wraps_around(void **state) {
    (void)state;
    lag_history *h = lag_history_new();
    task_snapshot a = snap("a", TASK_RUNNING, 0, 0);
    task_snapshot *list[] = {&a};
    /* 40 samples more than the ring holds: the oldest 40 are gone. */
    for (uint64_t i = 0; i < LAG_HISTORY_POINTS + 40; i++) {
        a.watermark = mcdc_ts_compose(NOW - i, 0); /* lag i ms */
        lag_history_sample(h, list, 1, 1000 + i, 5000 + i * 10);
    }
    lag_series *copy;
    size_t left_out = 99;
    size_t n = lag_history_copy(h, &copy, &left_out);
    assert_int_equal(n, 1);
    assert_int_equal(left_out, 0);
    assert_string_equal(copy[0].id, "a");
    assert_int_equal(copy[0].n, LAG_HISTORY_POINTS);
    assert_int_equal(lag_series_at(&copy[0], 0)->wall_ms, 1000 + 40);
    assert_int_equal(lag_series_at(&copy[0], LAG_HISTORY_POINTS - 1)->wall_ms, 1000 + LAG_HISTORY_POINTS + 39);
    for (size_t i = 1; i < copy[0].n; i++)
        assert_true(lag_series_at(&copy[0], i)->wall_ms == lag_series_at(&copy[0], i - 1)->wall_ms + 1);
    assert_float_equal(lag_series_at(&copy[0], 0)->lag_s, 0.040, 1e-6);
    lag_history_copy_free(copy, n);
    lag_history_free(h);
}

static void test_deleted_tasks_leave(void **state) {
    (void)state;
    lag_history *h = lag_history_new();
    task_snapshot a = snap("a", TASK_RUNNING, 500, 10), b = snap("b", TASK_PAUSED, -1, 0);
    task_snapshot *both[] = {&a, &b}, *only_b[] = {&b};
    lag_history_sample(h, both, 2, 1000, 1000);
    lag_history_sample(h, both, 2, 2000, 2000);
    lag_series *copy;
    size_t n = lag_history_copy(h, &copy, NULL);
    assert_int_equal(n, 2);
    assert_int_equal(copy[1].n, 2);
    assert_true(lag_series_at(&copy[1], 0)->lag_s < 0); /* no watermark: a gap */
    assert_float_equal(lag_series_at(&copy[0], 1)->lag_s, 0.5, 1e-6);
    lag_history_copy_free(copy, n);

    lag_history_sample(h, only_b, 1, 3000, 3000);
    n = lag_history_copy(h, &copy, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(copy[0].id, "b");
    assert_null(lag_series_find(copy, n, "a"));
    assert_non_null(lag_series_find(copy, n, "b"));
    lag_history_copy_free(copy, n);

    /* A task of that id created again starts from nothing. */
    lag_history_sample(h, both, 2, 4000, 4000);
    n = lag_history_copy(h, &copy, NULL);
    assert_int_equal(n, 2);
    assert_int_equal(lag_series_find(copy, n, "a")->n, 1);
    assert_false(lag_series_find(copy, n, "a")->rate_known);
    assert_int_equal(lag_series_find(copy, n, "b")->n, 4);
    lag_history_copy_free(copy, n);

    /* No tasks: an empty copy. */
    lag_history_sample(h, NULL, 0, 5000, 5000);
    n = lag_history_copy(h, &copy, NULL);
    assert_int_equal(n, 0);
    assert_null(copy);
    lag_history_free(h);
}

static void test_rows_per_second_from_two_samples(void **state) {
    (void)state;
    lag_history *h = lag_history_new();
    task_snapshot a = snap("a", TASK_RUNNING, 100, 100);
    a.applied.upserted = 20;
    a.applied.deleted = 30;
    task_snapshot *list[] = {&a};
    lag_series *copy;
    size_t n;

    lag_history_sample(h, list, 1, NOW, 50000);
    n = lag_history_copy(h, &copy, NULL);
    assert_false(copy[0].rate_known); /* one sample tells no rate */
    lag_history_copy_free(copy, n);

    a.applied.inserted += 400;
    a.applied.deleted += 100; /* 500 rows more, 10 s later */
    lag_history_sample(h, list, 1, NOW + 10000, 60000);
    n = lag_history_copy(h, &copy, NULL);
    assert_true(copy[0].rate_known);
    assert_float_equal(copy[0].rows_per_s, 50.0, 1e-9);
    lag_history_copy_free(copy, n);

    lag_history_sample(h, list, 1, NOW + 20000, 70000); /* nothing applied */
    n = lag_history_copy(h, &copy, NULL);
    assert_true(copy[0].rate_known);
    assert_float_equal(copy[0].rows_per_s, 0.0, 1e-9);
    lag_history_copy_free(copy, n);

    a.applied = (task_counters){.inserted = 5}; /* counting started again */
    lag_history_sample(h, list, 1, NOW + 30000, 80000);
    n = lag_history_copy(h, &copy, NULL);
    assert_false(copy[0].rate_known);
    lag_history_copy_free(copy, n);

    a.applied.inserted = 25;
    lag_history_sample(h, list, 1, NOW + 32000, 80000); /* no time passed on the monotonic clock */
    n = lag_history_copy(h, &copy, NULL);
    assert_false(copy[0].rate_known);
    lag_history_copy_free(copy, n);
    lag_history_free(h);
}

static void test_bounded_number_of_tasks(void **state) {
    (void)state;
    lag_history *h = lag_history_new();
    enum { N = LAG_HISTORY_MAX_TASKS + 6 };
    task_snapshot s[N];
    task_snapshot *list[N];
    char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "t%d", i);
        s[i] = snap(ids[i], TASK_RUNNING, i, 0);
        list[i] = &s[i];
    }
    lag_history_sample(h, list, N, 1000, 1000);
    lag_series *copy;
    size_t left_out = 0;
    size_t n = lag_history_copy(h, &copy, &left_out);
    assert_int_equal(n, LAG_HISTORY_MAX_TASKS);
    assert_int_equal(left_out, 6);
    assert_string_equal(copy[0].id, "t0");
    lag_history_copy_free(copy, n);
    /* Once the first ones leave, the others get their place. */
    lag_history_sample(h, list + 10, N - 10, 2000, 2000);
    n = lag_history_copy(h, &copy, &left_out);
    assert_int_equal(n, N - 10);
    assert_int_equal(left_out, 0);
    lag_history_copy_free(copy, n);
    lag_history_free(h);
}

typedef struct fake_tasks {
    pthread_mutex_t mu;
    int calls;
} fake_tasks;

static size_t fake_list(void *ctx, task_snapshot ***out) {
    fake_tasks *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->calls++;
    pthread_mutex_unlock(&f->mu);
    *out = calloc(1, sizeof **out);
    (*out)[0] = calloc(1, sizeof ***out);
    (*out)[0]->id = mcdc_xstrdup("sampled");
    (*out)[0]->watermark = mcdc_ts_compose(mcdc_now_wall_ms(), 0);
    (*out)[0]->taken_wall_ms = mcdc_now_wall_ms();
    return 1;
}

static int calls_of(fake_tasks *f) {
    pthread_mutex_lock(&f->mu);
    int n = f->calls;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void test_sampler_thread(void **state) {
    (void)state;
    fake_tasks f = {.mu = PTHREAD_MUTEX_INITIALIZER};
    lag_history *h = lag_history_new();
    mcdc_err err = {0};
    lag_sampler *s = lag_sampler_start(h, fake_list, &f, 20, &err);
    assert_non_null(s);
    uint64_t deadline = mcdc_now_mono_ms() + 10000;
    while (calls_of(&f) < 3 && mcdc_now_mono_ms() < deadline) mcdc_sleep_ms(5);
    assert_true(calls_of(&f) >= 3);
    lag_sampler_stop(s);
    int after = calls_of(&f);
    lag_series *copy;
    size_t n = lag_history_copy(h, &copy, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(copy[0].id, "sampled");
    assert_int_equal(copy[0].n, (size_t)after);
    lag_history_copy_free(copy, n);
    lag_history_free(h);

    /* The default interval: one sample at once, and stop does not wait the
     * 10 s out. */
    f.calls = 0;
    h = lag_history_new();
    s = lag_sampler_start(h, fake_list, &f, 0, &err);
    deadline = mcdc_now_mono_ms() + 10000;
    while (calls_of(&f) < 1 && mcdc_now_mono_ms() < deadline) mcdc_sleep_ms(5);
    uint64_t t0 = mcdc_now_mono_ms();
    lag_sampler_stop(s);
    assert_true(mcdc_now_mono_ms() - t0 < 2000);
    assert_int_equal(calls_of(&f), 1);
    lag_history_free(h);
}

/* ---- the page ---------------------------------------------------------------- */

static char *render(task_snapshot *const *tasks, size_t n, const lag_series *hist, size_t nh) {
    mcdc_buf b = MCDC_BUF_INIT;
    status_page_render(&(status_page_input){.tasks = tasks, .n_tasks = n, .history = hist, .n_history = nh,
                                            .now_wall_ms = NOW},
                       &b);
    char *text = mcdc_xstrdup(mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    return text;
}

static void test_rows_show_every_field(void **state) {
    (void)state;
    task_snapshot run = snap("run-1", TASK_RUNNING, 400, 1000);
    run.applied.upserted = 7;
    run.applied.deleted = 3;
    run.applied.calls_in_flight = 2;
    run.applied.calls_in_flight_peak = 5;
    snprintf(run.last_error, sizeof run.last_error, "target 127.0.0.1:19540: unavailable");
    task_copy copies[] = {
        {.db = "default", .collection = "books", .phase = COPY_COPYING, .rows_copied = 250, .rows_total = 1000,
         .rows_per_s = 12.5, .eta_s = 60},
        {.db = "default", .collection = "done", .phase = COPY_STREAMING, .rows_copied = 10, .eta_s = -1},
    };
    run.copies = copies;
    run.n_copies = 2;
    run.consistent = false;
    task_snapshot paused = snap("paused-1", TASK_PAUSED, -1, 0);
    snprintf(paused.reason, sizeof paused.reason, "decode: message 12 is not a Milvus message");
    snprintf(paused.paused_channel, sizeof paused.paused_channel, "by-dev-rootcoord-dml_0");
    snprintf(paused.paused_position, sizeof paused.paused_position, "42");
    task_snapshot init = snap("init-1", TASK_INITIAL, -1, 0);
    init.starting = true;
    task_snapshot *list[] = {&run, &paused, &init};

    lag_history *h = lag_history_new();
    lag_history_sample(h, list, 3, NOW - 20000, 100000);
    run.applied.inserted += 500;
    lag_history_sample(h, list, 3, NOW - 10000, 110000);
    lag_series *hist;
    size_t nh = lag_history_copy(h, &hist, NULL);
    char *page = render(list, 3, hist, nh);

    expect(page, "<!DOCTYPE html>");
    expect(page, "<meta http-equiv=\"refresh\" content=\"10\">");
    expect(page, "<tr class=\"task\" data-task-id=\"run-1\" data-state=\"Running\">");
    expect(page, "<td class=\"state state-Running\">Running</td>");
    expect(page, "<td class=\"lag\" data-lag-seconds=\"0.400\">0.4 s</td>");
    expect(page, "<td class=\"watermark\" data-ts=\"");
    expect(page, ">2023-11-14T22:13:19.600Z</td>");
    expect(page, "<td class=\"rate\">50.0</td>"); /* 500 rows in 10 s */
    expect(page, "<td class=\"inflight\">2 <span class=\"dim\">(peak 5)</span></td>");
    expect(page, ">1500 / 7 / 3</td>");
    expect(page, "target 127.0.0.1:19540: unavailable");
    expect(page, "<li data-collection=\"default.books\" data-phase=\"copying\">");
    expect(page, "<progress max=\"1000\" value=\"250\"></progress> 25 %");
    expect(page, "250 of 1000 rows copied, 12.5 rows/s, 1 min 00 s left");
    expect(page, "data-phase=\"streaming\">default.done: <span class=\"phase\">streaming</span>");
    expect(page, "not consistent at the watermark");
    expect(page, "<button type=\"button\" data-action=\"pause\" data-task=\"run-1\" disabled>Pause</button>");

    expect(page, "<tr class=\"task\" data-task-id=\"paused-1\" data-state=\"Paused\">");
    expect(page, "<td class=\"state state-Paused\">Paused</td>");
    expect(page, "decode: message 12 is not a Milvus message");
    expect(page, "paused at by-dev-rootcoord-dml_0 42");
    expect(page, "<span class=\"dim\">not known</span></td>");
    expect(page, "<button type=\"button\" data-action=\"resume\" data-task=\"paused-1\" disabled>Resume</button>");
    expect(page, "<td class=\"state state-Initial\">Initial</td>");
    expect(page, "starting: a channel has no reader yet");
    /* Without JavaScript the buttons say why they do nothing. */
    expect(page, "<noscript>");
    expect(page, "Pause and resume need JavaScript");

    free(page);
    lag_history_copy_free(hist, nh);
    lag_history_free(h);
}

/* A verify: running with its progress; done, the kinds it found; a
 * collection it could not compare, with why (escaped). */
static void test_verify_shown(void **state) {
    (void)state;
    task_snapshot a = snap("v-1", TASK_RUNNING, 100, 0), b = snap("v-2", TASK_RUNNING, 100, 0);
    task_verify_coll ca[] = {{.source = "default.c", .target = "default.c", .phase = VERIFY_COMPARING,
                              .rows_total = 1000, .rows_compared = 400}};
    a.verify = (task_verify){.asked = true, .running = true, .colls = ca, .n = 1};
    task_verify_coll cb[2] = {{.source = "default.c", .target = "default.c", .phase = VERIFY_DONE,
                               .rows_compared = 90, .has_result = true},
                              {.source = "default.<x>", .target = "", .phase = VERIFY_FAILED}};
    cb[0].result.count[VERIFY_MISSING] = 3;
    cb[0].result.count[VERIFY_DOUBLED] = 1;
    snprintf(cb[1].error, sizeof cb[1].error, "not created on the target yet");
    b.verify = (task_verify){.asked = true, .colls = cb, .n = 2};
    task_snapshot *list[] = {&a, &b};
    char *page = render(list, 2, NULL, 0);
    expect(page, "<div class=\"verify\" data-result=\"running\">");
    expect(page, "<progress max=\"1000\" value=\"400\">");
    expect(page, "<div class=\"verify\" data-result=\"could_not_compare\">");
    expect(page, "missing 3, extra 0, differing 0, doubled 1");
    expect(page, "default.&lt;x&gt;: not created on the target yet");
    free(page);
    task_snapshot c = snap("v-3", TASK_RUNNING, 100, 0);
    page = render((task_snapshot *[]){&c}, 1, NULL, 0);
    expect_not(page, "class=\"verify\"");
    free(page);
}

static void test_everything_is_escaped(void **state) {
    (void)state;
    const char *evil = "x\"><script>alert(1)</script><img src=x onerror='a'>&amp;\x01";
    task_snapshot t = snap(evil, TASK_PAUSED, 100, 0);
    snprintf(t.reason, sizeof t.reason, "%s", evil);
    snprintf(t.last_error, sizeof t.last_error, "%s", evil);
    snprintf(t.paused_channel, sizeof t.paused_channel, "%s", evil);
    task_copy c = {.db = (char *)evil, .collection = (char *)evil, .phase = COPY_COPYING, .eta_s = -1};
    snprintf(c.last_error, sizeof c.last_error, "%s", evil);
    t.copies = &c;
    t.n_copies = 1;
    task_snapshot *list[] = {&t};
    char *page = render(list, 1, NULL, 0);
    expect_not(page, "<script>alert");
    expect_not(page, "<img");
    expect_not(page, "onerror='");
    expect_not(page, "\x01");
    expect(page, "x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#39;a&#39;&gt;&amp;amp;?");
    /* The page's own script is its only one. */
    const char *first = strstr(page, "<script>");
    assert_non_null(first);
    assert_null(strstr(first + 1, "<script"));
    free(page);

    mcdc_buf b = MCDC_BUF_INIT;
    status_page_escape(&b, "a\tb\nc\rd\x7f");
    assert_string_equal(mcdc_buf_cstr(&b), "a\tb\nc?d?");
    mcdc_buf_free(&b);
}

/* Nothing is loaded from elsewhere: no src, href, url(), @import, and the
 * only address is SVG's namespace name, which is never fetched. */
static void test_self_contained(void **state) {
    (void)state;
    task_snapshot t = snap("a", TASK_RUNNING, 1000, 0);
    task_snapshot *list[] = {&t};
    char *page = render(list, 1, NULL, 0);
    expect_not(page, " src=");
    expect_not(page, "href=");
    expect_not(page, "url(");
    expect_not(page, "@import");
    expect_not(page, "<link");
    const char *p = page;
    int addresses = 0;
    while ((p = strstr(p, "://"))) {
        addresses++;
        assert_true(p - page > 4 && strncmp(p - 4, "http://www.w3.org/2000/svg\"", 27) == 0);
        p += 3;
    }
    assert_int_equal(addresses, 1);
    free(page);
}

static char *between(const char *text, const char *open, const char *close) {
    const char *a = strstr(text, open);
    assert_non_null(a);
    a += strlen(open);
    const char *z = strstr(a, close);
    assert_non_null(z);
    return strndup(a, (size_t)(z - a));
}

static char *sha256_b64(const char *text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL), 1);
    return mcdc_base64_encode(md, len);
}

/* The policy allows the page's own script and style, by hash, and nothing
 * else; fetch only to the page's origin. */
static void test_policy_matches_the_page(void **state) {
    (void)state;
    char *page = render(NULL, 0, NULL, 0);
    expect(page, "id=\"no-tasks\"");
    mcdc_buf csp = MCDC_BUF_INIT;
    status_page_csp(&csp);
    const char *policy = mcdc_buf_cstr(&csp);
    char *script = between(page, "<script>", "</script>");
    char *style = between(page, "<style>", "</style>");
    char *hs = sha256_b64(script), *hy = sha256_b64(style);
    char want[256];
    snprintf(want, sizeof want, "script-src 'sha256-%s';", hs);
    if (!has(policy, want)) fail_msg("policy '%s' lacks %s", policy, want);
    snprintf(want, sizeof want, "style-src 'sha256-%s';", hy);
    if (!has(policy, want)) fail_msg("policy '%s' lacks %s", policy, want);
    assert_true(has(policy, "default-src 'none'"));
    assert_true(has(policy, "connect-src 'self'"));
    assert_true(has(policy, "frame-ancestors 'none'"));
    assert_false(has(policy, "unsafe"));
    /* The script posts JSON to /cdc and nowhere else. */
    assert_true(has(script, "fetch('/cdc'"));
    assert_true(has(script, "'Content-Type':'application/json'"));
    assert_false(has(page, " style=\""));
    /* No event attribute (onclick=...): the script is the only code. */
    for (const char *p = page; (p = strstr(p, " on")); p++) {
        const char *q = p + 3;
        while (*q >= 'a' && *q <= 'z') q++;
        if (*q == '=') fail_msg("an event attribute: %.40s", p);
    }
    free(hs);
    free(hy);
    free(script);
    free(style);
    mcdc_buf_free(&csp);
    free(page);
}

/* The points of a series' polyline, as "x,y x,y ..." after its task's group. */
static char *polyline_of(const char *page, const char *id, int which) {
    char open[128];
    snprintf(open, sizeof open, "<g class=\"series\" data-task-id=\"%s\">", id);
    const char *g = strstr(page, open);
    if (!g) return NULL;
    const char *end = strstr(g, "</g>");
    const char *p = g;
    for (int i = 0; i <= which; i++) {
        p = strstr(p + 1, "<polyline");
        if (!p || p > end) return NULL;
    }
    return between(p, "points=\"", "\"");
}

static void test_chart(void **state) {
    (void)state;
    /* Lags 10, 30, none, 20 s at -40, -30, -20, -10 min, and 5 s now. */
    lag_history *h = lag_history_new();
    task_snapshot a = snap("a", TASK_RUNNING, 10000, 0), b = snap("b", TASK_RUNNING, -1, 0);
    task_snapshot *list[] = {&a, &b};
    /* Older than the window: not drawn (its 100 s would set the scale). */
    a.watermark = mcdc_ts_compose(NOW - 100000, 0);
    lag_history_sample(h, list, 2, NOW - 70 * 60000, 1);
    int64_t lags[] = {10000, 30000, -1, 20000};
    for (int i = 0; i < 4; i++) {
        a.watermark = lags[i] < 0 ? 0 : mcdc_ts_compose(NOW - (uint64_t)lags[i], 0);
        a.taken_wall_ms = NOW;
        lag_history_sample(h, list, 2, NOW - (uint64_t)(40 - 10 * i) * 60000, (uint64_t)i * 600000 + 2);
    }
    a.watermark = mcdc_ts_compose(NOW - 5000, 0);
    lag_series *hist;
    size_t nh = lag_history_copy(h, &hist, NULL);
    char *page = render(list, 2, hist, nh);
    expect(page, "<svg class=\"lag-chart\"");
    expect(page, ">lag (seconds)</text>");
    expect(page, ">-60 min</text>");
    expect(page, ">now</text>");
    expect(page, ">50 s</text>"); /* the scale: 30 s rounded up to 50 */
    expect(page, ">0 s</text>");
    /* Two runs around the gap: (-40 min, 10 s) (-30, 30) then (-10, 20) (now, 5). */
    char *run1 = polyline_of(page, "a", 0), *run2 = polyline_of(page, "a", 1);
    assert_non_null(run1);
    assert_non_null(run2);
    assert_null(polyline_of(page, "a", 2));
    /* x: 64 + minutes from -60 * 876 / 60; y: 16 + 224 - lag * 224 / 50. */
    assert_string_equal(run1, "356.0,195.2 502.0,105.6");
    assert_string_equal(run2, "794.0,150.4 940.0,217.6");
    expect(page, "<circle class=\"c0\" r=\"3.5\" cx=\"940.0\" cy=\"217.6\"/>");
    /* b never had a lag: its group has no line and no dot. */
    assert_null(polyline_of(page, "b", 0));
    expect(page, "<li><span class=\"swatch c1\"></span>b</li>");
    free(run1);
    free(run2);
    free(page);

    /* A task with no lag anywhere: the chart says so. */
    task_snapshot *only_b[] = {&b};
    page = render(only_b, 1, NULL, 0);
    expect(page, "no lag known yet");
    free(page);
    lag_history_copy_free(hist, nh);
    lag_history_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_wraps_around),
        cmocka_unit_test(test_deleted_tasks_leave),
        cmocka_unit_test(test_rows_per_second_from_two_samples),
        cmocka_unit_test(test_bounded_number_of_tasks),
        cmocka_unit_test(test_sampler_thread),
        cmocka_unit_test(test_rows_show_every_field),
        cmocka_unit_test(test_verify_shown),
        cmocka_unit_test(test_everything_is_escaped),
        cmocka_unit_test(test_self_contained),
        cmocka_unit_test(test_policy_matches_the_page),
        cmocka_unit_test(test_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
