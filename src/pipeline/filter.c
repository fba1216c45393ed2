/* filter.c — see filter.h. */
#include "pipeline/filter.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/idmap.h"
#include "base/log.h"

#define COVERED ((void *)1)
#define NOT_COVERED ((void *)2)
/* How long a DML message may wait for etcd to describe its collection. A
 * create that failed on the source leaves a CreateCollection in the WAL but
 * never a Created record (spec/etcd-meta.md §6), so the wait must end. */
#define CATALOG_WAIT_MS 30000
/* Rootcoord stores a collection as Created before any Insert or Delete of
 * it can be written, so for those (and for drops) an id that etcd does not
 * hold now belongs to a collection dropped and removed before mcdc started:
 * waiting would only stall the channel (catch-up from a channel's history
 * meets many such ids). Only a CreateCollection is written before its
 * record, so a fresh one may be ahead of etcd for a moment. */
#define CREATE_FRESH_MS 60000

typedef struct filter {
    const task_spec *spec;
    catalog *cat;
    bindings *bindings;
    overlap *overlap;
    char *task_id, *channel;
    idmap covered;
} filter;

void *filter_new(const task_spec *spec, catalog *cat, bindings *registry, overlap *ov, const char *task_id,
                 const char *channel) {
    filter *f = mcdc_xcalloc(1, sizeof *f);
    f->overlap = ov;
    f->spec = spec;
    f->cat = cat;
    f->bindings = registry;
    f->task_id = mcdc_xstrdup(task_id);
    f->channel = mcdc_xstrdup(channel);
    return f;
}

static void filter_close(void *ud) {
    filter *f = ud;
    if (!f) return;
    idmap_free(&f->covered);
    free(f->task_id);
    free(f->channel);
    free(f);
}

/* Whether the snapshot says enough to replicate the collection's changes. */
static bool described(const catalog_coll *cc) {
    if (!cc) return false;
    if (cc->state == CATALOG_DROPPING || cc->state == CATALOG_DROPPED) return true;
    return cc->state == CATALOG_CREATED && cc->pk;
}

static bool may_appear(filter *f, const change *c) {
    bool exists;
    mcdc_err err;
    if (catalog_probe(f->cat, c->collection_id, &exists, &err)) {
        log_warn("task %s channel %s: %s; waiting for the catalog instead", f->task_id, f->channel, err.msg);
        return true;
    }
    if (exists) return true;
    if (c->kind != CHANGE_CREATE_COLLECTION) return false;
    uint64_t now = mcdc_now_wall_ms(), born = mcdc_ts_physical_ms(c->ts);
    return born + CREATE_FRESH_MS > now;
}

/* After a wait of CATALOG_WAIT_MS, whether the collection will never be
 * described: only when etcd answers now and the catalog follows it without
 * trouble, and still has no Created record of it. While etcd cannot be
 * reached, or the catalog's watch is failing, nothing can be concluded:
 * waiting on is the only answer that never skips a covered collection's
 * changes (reliability review #3: an outage during a create used to mark it
 * not covered for good). */
static bool gave_up(filter *f, const change *c) {
    bool exists;
    mcdc_err err;
    char trouble[MCDC_ERR_MSG_MAX];
    if (catalog_probe(f->cat, c->collection_id, &exists, &err)) {
        log_warn("task %s channel %s: waiting for etcd to describe collection %" PRId64 ": %s", f->task_id, f->channel,
                 c->collection_id, err.msg);
        return false;
    }
    catalog_last_error(f->cat, trouble, sizeof trouble);
    if (exists && trouble[0]) {
        log_warn("task %s channel %s: waiting for the catalog to describe collection %" PRId64 ": %s", f->task_id,
                 f->channel, c->collection_id, trouble);
        return false;
    }
    return true;
}

static catalog_coll *collection_of(void *ud, const change *c, const _Atomic bool *stop) {
    filter *f = ud;
    int64_t id = c->collection_id;
    catalog_coll *cc = catalog_get(f->cat, id);
    if (described(cc) || idmap_get(&f->covered, id) == NOT_COVERED) return cc;
    catalog_release(cc);
    if (!may_appear(f, c)) {
        log_info("task %s channel %s: collection %" PRId64 " is no longer in etcd (dropped before mcdc started); its "
                 "messages are not replicated",
                 f->task_id, f->channel, id);
        idmap_put(&f->covered, id, NOT_COVERED);
        return NULL;
    }
    uint64_t until = mcdc_now_mono_ms() + CATALOG_WAIT_MS;
    for (;;) {
        while (!atomic_load(stop) && mcdc_now_mono_ms() < until) {
            catalog_wait_collection(f->cat, id, 500);
            cc = catalog_get(f->cat, id);
            if (described(cc)) return cc;
            catalog_release(cc);
        }
        if (atomic_load(stop)) return NULL; /* nothing is known yet, so nothing is cached */
        if (gave_up(f, c)) {
            /* The watch may have caught up while etcd was asked. */
            catalog_wait_collection(f->cat, id, 1000);
            cc = catalog_get(f->cat, id);
            if (described(cc)) return cc;
            catalog_release(cc);
            break;
        }
        until = mcdc_now_mono_ms() + CATALOG_WAIT_MS;
    }
    log_warn("task %s channel %s: etcd does not describe collection %" PRId64 " after %d s; its changes are not "
             "replicated (a create that failed on the source leaves this)",
             f->task_id, f->channel, id, CATALOG_WAIT_MS / 1000);
    idmap_put(&f->covered, id, NOT_COVERED);
    return NULL;
}

static bool covers(void *ud, const catalog_coll *cc) {
    filter *f = ud;
    if (!described(cc)) return false;
    void *v = idmap_get(&f->covered, cc->id);
    if (v) return v == COVERED;
    bool yes = bindings_covers(f->bindings, cc->id) || task_spec_covers(f->spec, cc->db_name, cc->name);
    idmap_put(&f->covered, cc->id, yes ? COVERED : NOT_COVERED);
    return yes;
}

static bool request_covers(void *ud, const change *c) {
    const task_spec *s = ((filter *)ud)->spec;
    const char *db = c->db_name[0] ? c->db_name : "default";
    switch (c->kind) {
    case CHANGE_CREATE_DATABASE:
    case CHANGE_DROP_DATABASE:
        /* Only a task that owns the whole database may drop it on the target. */
        if (task_spec_covers(s, db, "*")) return true;
        if (c->kind == CHANGE_DROP_DATABASE) return false;
        for (size_t i = 0; i < s->n_collections; i++)
            if (strcmp(s->collections[i].db, db) == 0) return true;
        return false;
    case CHANGE_FLUSH: {
        const Milvus__Proto__Milvus__FlushRequest *fr = (const void *)c->msg;
        for (size_t i = 0; i < fr->n_collection_names; i++)
            if (task_spec_covers(s, db, fr->collection_names[i])) return true;
        return false;
    }
    default: {
        if (task_spec_covers(s, db, c->collection_name)) return true;
        /* A collection the task bound is covered under a new name too. */
        catalog_coll *cc = catalog_find(((filter *)ud)->cat, db, c->collection_name);
        bool bound = cc && bindings_covers(((filter *)ud)->bindings, cc->id);
        catalog_release(cc);
        return bound;
    }
    }
}

static bool dropped(void *ud, int64_t collection_id) {
    catalog_coll *cc = catalog_get(((filter *)ud)->cat, collection_id);
    bool gone = !cc || cc->state == CATALOG_DROPPING || cc->state == CATALOG_DROPPED;
    catalog_release(cc);
    return gone;
}

static catalog_coll *find(void *ud, const char *db, const char *name) {
    return catalog_find(((filter *)ud)->cat, db, name);
}

static size_t covered_on(void *ud, const char *channel, catalog_coll ***out) {
    filter *f = ud;
    catalog_coll **list;
    size_t n = catalog_list(f->cat, NULL, &list), k = 0;
    for (size_t i = 0; i < n; i++) {
        catalog_coll *cc = list[i];
        bool here = false;
        for (size_t s = 0; s < cc->n_channels; s++)
            if (strcmp(cc->pchannels[s], channel) == 0) here = true;
        if (here && covers(f, cc) && cc->state == CATALOG_CREATED)
            list[k++] = cc;
        else
            catalog_release(cc);
    }
    *out = list;
    return k;
}

static overlap_keys keys(void *ud, const change *c, const catalog_coll *cc) {
    (void)ud;
    return overlap_keys_of_change(c, cc->pk ? cc->pk->name : NULL);
}

static void forget(void *ud, int64_t collection_id) { idmap_del(&((filter *)ud)->covered, collection_id); }

/* Lookups, then the cache's upkeep. */
static uint64_t upsert_until(void *ud, int64_t collection_id) {
    filter *f = ud;
    return f->overlap ? overlap_upsert_until(f->overlap, collection_id) : 0;
}

const source_ops filter_ops = {
    .upsert_until = upsert_until,
    .collection_of = collection_of, .covers = covers, .request_covers = request_covers, .dropped = dropped,
    .find = find, .covered_on = covered_on, .keys = keys,
    .forget = forget, .close = filter_close,
};
