/* lag_history.c — the rings and the sampler of lag_history.h.
 *
 * Which thread runs what: the sampler thread calls the task list (outside
 * every lock of this file: it may take the task manager's locks), then
 * lag_history_sample, which holds the history's mutex while it moves
 * numbers; HTTP threads call lag_history_copy, which holds the same mutex
 * while it copies. Nothing else touches a series. */
#include "server/lag_history.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"

struct lag_history {
    pthread_mutex_t mu;
    lag_series *series[LAG_HISTORY_MAX_TASKS]; /* in the order first seen */
    size_t n;
    size_t left_out;                           /* of the last sample */
};

lag_history *lag_history_new(void) {
    lag_history *h = mcdc_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

static void series_free(lag_series *s) {
    if (!s) return;
    free(s->id);
    free(s);
}

void lag_history_free(lag_history *h) {
    if (!h) return;
    for (size_t i = 0; i < h->n; i++) series_free(h->series[i]);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static bool listed(task_snapshot *const *list, size_t n, const char *id) {
    for (size_t j = 0; j < n; j++)
        if (list[j] && list[j]->id && strcmp(list[j]->id, id) == 0) return true;
    return false;
}

static lag_series *find(lag_history *h, const char *id) {
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->series[i]->id, id) == 0) return h->series[i];
    return NULL;
}

static void push(lag_series *s, const task_snapshot *t, uint64_t wall_ms, uint64_t mono_ms) {
    uint64_t rows = t->applied.inserted + t->applied.upserted + t->applied.deleted;
    /* A rate needs a previous sample, time between the two, and counters
     * that did not go back: a task the process restarted counts from 0,
     * and a negative rate would be an invention. */
    if (s->n > 0 && mono_ms > s->last_mono_ms && rows >= s->last_rows) {
        s->rows_per_s = (double)(rows - s->last_rows) * 1000.0 / (double)(mono_ms - s->last_mono_ms);
        s->rate_known = true;
    } else {
        s->rows_per_s = 0;
        s->rate_known = false;
    }
    s->last_rows = rows;
    s->last_mono_ms = mono_ms;
    s->points[s->head] = (lag_point){.wall_ms = wall_ms, .lag_s = t->watermark ? (float)task_snapshot_lag_seconds(t) : -1.0f};
    s->head = (s->head + 1) % LAG_HISTORY_POINTS;
    if (s->n < LAG_HISTORY_POINTS) s->n++;
}

void lag_history_sample(lag_history *h, task_snapshot *const *list, size_t n, uint64_t wall_ms, uint64_t mono_ms) {
    pthread_mutex_lock(&h->mu);
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (listed(list, n, h->series[i]->id)) h->series[kept++] = h->series[i];
        else series_free(h->series[i]);
    }
    h->n = kept;
    h->left_out = 0;
    for (size_t j = 0; j < n; j++) {
        const task_snapshot *t = list[j];
        if (!t || !t->id) continue;
        lag_series *s = find(h, t->id);
        if (!s) {
            if (h->n == LAG_HISTORY_MAX_TASKS) {
                h->left_out++;
                continue;
            }
            s = mcdc_xcalloc(1, sizeof *s);
            s->id = mcdc_xstrdup(t->id);
            h->series[h->n++] = s;
        }
        push(s, t, wall_ms, mono_ms);
    }
    pthread_mutex_unlock(&h->mu);
}

size_t lag_history_copy(lag_history *h, lag_series **out, size_t *left_out) {
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    lag_series *copy = n ? mcdc_xmalloc(n * sizeof *copy) : NULL;
    for (size_t i = 0; i < n; i++) {
        copy[i] = *h->series[i];
        copy[i].id = mcdc_xstrdup(h->series[i]->id);
    }
    if (left_out) *left_out = h->left_out;
    pthread_mutex_unlock(&h->mu);
    *out = copy;
    return n;
}

void lag_history_copy_free(lag_series *list, size_t n) {
    for (size_t i = 0; i < n; i++) free(list[i].id);
    free(list);
}

const lag_point *lag_series_at(const lag_series *s, size_t i) {
    return &s->points[(s->head + LAG_HISTORY_POINTS - s->n + i) % LAG_HISTORY_POINTS];
}

const lag_series *lag_series_find(const lag_series *list, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].id, id) == 0) return &list[i];
    return NULL;
}

/* ---- the sampler --------------------------------------------------------- */

struct lag_sampler {
    lag_history *h;
    lag_list_fn list_tasks;
    void *ctx;
    unsigned interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;   /* guards stopping, with wake */
    pthread_cond_t wake;
    bool stopping;
};

static void *sampler_main(void *arg) {
    lag_sampler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->mu);
        task_snapshot **list = NULL;
        size_t n = s->list_tasks(s->ctx, &list);
        lag_history_sample(s->h, list, n, mcdc_now_wall_ms(), mcdc_now_mono_ms());
        task_snapshots_free(list, n);
        pthread_mutex_lock(&s->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)s->interval_ms * 1000000ull;
        until.tv_sec += (time_t)(ns / 1000000000ull);
        until.tv_nsec = (long)(ns % 1000000000ull);
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->mu, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

lag_sampler *lag_sampler_start(lag_history *h, lag_list_fn list_tasks, void *ctx, unsigned interval_ms,
                               mcdc_err *err) {
    lag_sampler *s = mcdc_xcalloc(1, sizeof *s);
    s->h = h;
    s->list_tasks = list_tasks;
    s->ctx = ctx;
    s->interval_ms = interval_ms ? interval_ms : LAG_HISTORY_INTERVAL_MS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&s->thread, NULL, sampler_main, s);
    if (rc != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
        free(s);
        mcdc_errf(err, MCDC_EIO, "lag history: cannot start its sampler thread: %s", strerror(rc));
        return NULL;
    }
    return s;
}

void lag_sampler_stop(lag_sampler *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
