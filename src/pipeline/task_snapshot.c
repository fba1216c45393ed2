/* task_snapshot.c — freeing and reading snapshots (see task_snapshot.h).
 * Taking one needs the running task and lives in task.c; this file needs
 * nothing of it, so the server and its tests can hold snapshots without it. */
#include "pipeline/task_snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

double task_snapshot_lag_seconds(const task_snapshot *s) {
    if (!s->watermark) return 0;
    int64_t lag_ms = (int64_t)s->taken_wall_ms - (int64_t)mcdc_ts_physical_ms(s->watermark);
    return lag_ms > 0 ? (double)lag_ms / 1000.0 : 0.0;
}

void task_bulk_inserts_free(task_bulk_insert *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(list[i].collection);
        free(list[i].segments);
    }
    free(list);
}

void task_snapshot_free(task_snapshot *s) {
    if (!s) return;
    free(s->id);
    task_bulk_inserts_free(s->bulk_inserts, s->n_bulk_inserts);
    task_copies_free(s->copies, s->n_copies);
    task_verify_free(&s->verify);
    task_spec_free(&s->spec);
    free(s);
}

void task_verify_free(task_verify *v) {
    for (size_t i = 0; i < v->n; i++) {
        free(v->colls[i].source);
        free(v->colls[i].target);
        verify_result_free(&v->colls[i].result);
    }
    free(v->colls);
    memset(v, 0, sizeof *v);
}

void task_snapshots_free(task_snapshot **list, size_t n) {
    for (size_t i = 0; i < n; i++) task_snapshot_free(list[i]);
    free(list);
}

void task_positions_free(task_positions *p) {
    for (size_t i = 0; i < p->n; i++) free(p->items[i].channel);
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

const char *copy_phase_name(copy_phase p) {
    switch (p) {
    case COPY_WAITING: return "waiting";
    case COPY_COPYING: return "copying";
    case COPY_OVERLAPPING: return "overlapping";
    case COPY_STREAMING: return "streaming";
    }
    return "unknown";
}

void task_copies_free(task_copy *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(list[i].db);
        free(list[i].collection);
    }
    free(list);
}
