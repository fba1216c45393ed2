/* bulk_inserts.c — see bulk_inserts.h. */
#include "pipeline/bulk_inserts.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct bulk_inserts {
    char *task_id;
    bool read_failing;         /* the last read failed and was logged */
    size_t skipped;            /* records the last read could not decode */
    pthread_mutex_t mu;        /* guards the list: the API copies it */
    task_bulk_insert *items;
    size_t n, cap;
};

bool bulk_scope_covers(void *scope, int64_t collection_id, char *name, size_t cap) {
    const bulk_scope *sc = scope;
    catalog_coll *cc = catalog_get(sc->catalog, collection_id);
    /* A dropped collection took the imported rows with it. */
    bool yes = cc && cc->state == CATALOG_CREATED &&
               ((sc->bindings && bindings_covers(sc->bindings, collection_id)) ||
                task_spec_covers(sc->spec, cc->db_name, cc->name));
    if (yes) snprintf(name, cap, "%s.%s", cc->db_name, cc->name);
    catalog_release(cc);
    return yes;
}

bulk_inserts *bulk_inserts_new(const char *task_id) {
    bulk_inserts *b = mcdc_xcalloc(1, sizeof *b);
    b->task_id = mcdc_xstrdup(task_id);
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

void bulk_inserts_free(bulk_inserts *b) {
    if (!b) return;
    task_bulk_inserts_free(b->items, b->n);
    pthread_mutex_destroy(&b->mu);
    free(b->task_id);
    free(b);
}

static task_bulk_insert *find(bulk_inserts *b, int64_t id) {
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].import_task == id) return &b->items[i];
    return NULL;
}

/* A listed import that failed since: Milvus drops the segments of a failed
 * import (removeBadImportSegments), so its rows are gone on both sides. */
static void forget(bulk_inserts *b, const import_task *it) {
    task_bulk_insert *e = find(b, it->id);
    if (!e) return;
    log_info("task %s: collection %s: bulk insert (import task %" PRId64 ") is now %s; its rows are dropped on the "
             "source too",
             b->task_id, e->collection, it->id, import_state_name(it->state));
    free(e->collection);
    free(e->segments);
    size_t at = (size_t)(e - b->items);
    memmove(e, e + 1, (b->n - at - 1) * sizeof *e);
    b->n--;
}

static void note(bulk_inserts *b, const import_task *it, const char *collection) {
    task_bulk_insert *e = find(b, it->id);
    if (!e) {
        if (b->n == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 4;
            b->items = mcdc_xrealloc(b->items, b->cap * sizeof *b->items);
        }
        e = &b->items[b->n++];
        *e = (task_bulk_insert){.collection = mcdc_xstrdup(collection),
                                .collection_id = it->collection_id,
                                .import_task = it->id};
        log_warn("task %s: collection %s: bulk insert (import task %" PRId64 ", %s, %" PRId64 " rows) wrote rows "
                 "that do not pass through the WAL; they are not replicated by the stream (snapshot.on_bulk_insert: "
                 "a re-sync copies them)",
                 b->task_id, collection, it->id, import_state_name(it->state), it->rows);
    }
    e->state = import_state_name(it->state);
    e->rows = it->rows;
    free(e->segments);
    e->n_segments = it->n_segments;
    e->segments = it->n_segments ? mcdc_xcalloc(it->n_segments, sizeof *e->segments) : NULL;
    if (it->n_segments) memcpy(e->segments, it->segments, it->n_segments * sizeof *e->segments);
}

void bulk_inserts_apply(bulk_inserts *b, const import_list *l, bulk_covers_fn covers, void *ud) {
    /* Coverage is asked outside the lock: it takes the catalog's. */
    for (size_t i = 0; i < l->n; i++) {
        const import_task *it = &l->items[i];
        bool rows = import_state_has_rows(it->state);
        bool failed = it->state == IMPORT_FAILED || it->state == IMPORT_FAILED_AND_CLEANED;
        if (!rows && !failed) continue; /* not landed yet: a later read sees it */
        char name[600];
        bool covered = rows && covers(ud, it->collection_id, name, sizeof name);
        pthread_mutex_lock(&b->mu);
        if (covered) note(b, it, name);
        else if (failed) forget(b, it);
        pthread_mutex_unlock(&b->mu);
    }
}

void bulk_inserts_step(bulk_inserts *b, etcd_client *etcd, const char *root_path, bulk_covers_fn covers, void *ud) {
    import_list l;
    mcdc_err err;
    if (imports_read(etcd, root_path, &l, &err)) {
        if (!b->read_failing) log_warn("task %s: %s; bulk inserts are looked for again later", b->task_id, err.msg);
        b->read_failing = true;
        return;
    }
    if (b->read_failing) log_info("task %s: the source's import tasks read again", b->task_id);
    b->read_failing = false;
    /* An import whose record does not decode cannot be told about. */
    if (l.n_skipped && l.n_skipped != b->skipped)
        log_warn("task %s: %zu of the source's import task records do not decode; bulk inserts they describe are "
                 "not reported",
                 b->task_id, l.n_skipped);
    b->skipped = l.n_skipped;
    bulk_inserts_apply(b, &l, covers, ud);
    import_list_free(&l);
}

void bulk_inserts_copy(bulk_inserts *b, task_bulk_insert **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    if (b->n) {
        *out = mcdc_xcalloc(b->n, sizeof **out);
        for (size_t i = 0; i < b->n; i++) {
            (*out)[i] = b->items[i];
            (*out)[i].collection = mcdc_xstrdup(b->items[i].collection);
            const task_bulk_insert *it = &b->items[i];
            (*out)[i].segments = it->n_segments ? mcdc_xcalloc(it->n_segments, sizeof *it->segments) : NULL;
            if (it->n_segments) memcpy((*out)[i].segments, it->segments, it->n_segments * sizeof *it->segments);
        }
        *n = b->n;
    }
    pthread_mutex_unlock(&b->mu);
}
