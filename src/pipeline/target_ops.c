/* target_ops.c — see target_ops.h. A thin table: the applier already speaks
 * in changes; this picks the call for what the worker hands over and
 * describes the collection in the target's terms (target_desc.h) on the way,
 * so that the worker keeps its catalog snapshots and the applier sees
 * neither the task nor the catalog. */
#include "pipeline/target_ops.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "pipeline/target_desc.h"
#include "target/applier.h"

typedef struct target_ud {
    applier *a;
    const task_spec *spec;
    catalog *source;
    bindings *bindings;
    overlap *overlap;    /* where the stream's writes meet a snapshot's pages */
    binding_target bt;   /* this applier, as the bindings reach the target */
    /* The listing's Flushes (rows_held): how many more it may send, none
     * after one failed. */
    unsigned flushes_left;
} target_ud;

/* Past this many empty collections in one listing, the one shared wait for
 * a time tick (~250 ms) costs less than a Flush each (~5 ms, and a Flush
 * message on the target's replicate channel each). */
#define LISTING_FLUSHES 32

/* ---- the target as bindings.h needs it ---- */

static int bt_lookup(void *ud, const char *db, const char *name, int64_t *id, mcdc_err *err) {
    bool is_alias;
    return applier_collection_id(((target_ud *)ud)->a, db, name, id, &is_alias, err);
}

static int bt_create_or_check(void *ud, const catalog_coll *cc, const char *db, const char *name, mcdc_err *err) {
    target_ud *u = ud;
    target_collection *tc = target_desc_new(u->spec, u->source, cc);
    tc->db = db;
    tc->name = name;
    int64_t id;
    bool is_alias;
    int rc = applier_collection_id(u->a, db, name, &id, &is_alias, err);
    if (rc == 0 && is_alias) {
        /* The source has a collection of this name now, and Milvus keeps
         * aliases and collection names in one namespace: the source's alias
         * of that name is gone, and so goes the target's (meta_sync would
         * drop it only once the watermark passed). */
        rc = applier_drop_alias(u->a, db, name, err);
        if (rc == 0) log_info("target: dropped alias %s.%s, which the source replaced by a collection", db, name);
    }
    if (rc == 0 && id) rc = applier_check_schema(u->a, tc, err);
    if (rc == 0) rc = applier_ensure_collection(u->a, tc, err);
    if (rc == 0 && id)
        log_info("target: adopted collection %s.%s (id %" PRId64 ") for source %s.%s: same schema", db, name, id,
                 cc->db_name, cc->name);
    target_desc_free(tc);
    return rc;
}

/* The rows target collection db.name holds, where 0 is only said when
 * sure. A row counted at once is held. Counted none, a collection with no
 * segment was never written to (applier_never_written: at once, where the
 * count below waits ~250 ms for the target's time tick). One with segments,
 * or not asked (LISTING_FLUSHES spent, or a Flush of this listing failed),
 * needs every partition loaded and a count that waits until the target has
 * taken in every write acknowledged before *as_of. One timestamp serves
 * every collection of a listing, so that wait is paid once, not once
 * each. */
static int rows_held(target_ud *u, const char *db, const char *name, uint64_t *as_of, uint64_t *n, mcdc_err *err) {
    int rc = applier_count(u->a, db, name, 0, n, err);
    if (rc || *n) return rc;
    if (u->flushes_left) {
        u->flushes_left--;
        bool never = false;
        mcdc_err ferr;
        if (applier_never_written(u->a, db, name, &never, &ferr)) {
            u->flushes_left = 0;
            log_info("target: cannot list the segments of %s.%s (%s): this listing counts as of a target timestamp",
                     db, name, ferr.msg);
        } else if (never) {
            log_info("target: %s.%s has no segment: never written to", db, name);
            return 0;
        }
    }
    rc = applier_all_loaded(u->a, db, name, err);
    if (rc == 0 && !*as_of) rc = applier_timestamp(u->a, as_of, err);
    if (rc == 0) rc = applier_count(u->a, db, name, *as_of, n, err);
    return rc;
}

int target_ops_holds_rows(void *ud, const catalog_coll *cc, uint64_t *as_of, bool *holds, mcdc_err *err) {
    target_ud *u = ud;
    *holds = true;
    /* A task's first start, the only caller, has no bindings yet: the name
     * is the one its first write would bind (target_desc.h). */
    target_collection *tc = target_desc_new(u->spec, u->source, cc);
    const char *db = tc->db, *name = tc->name;
    int64_t id;
    bool is_alias;
    uint64_t n = 1;
    int rc = applier_collection_id(u->a, db, name, &id, &is_alias, err);
    /* An alias of that name leads to someone's collection: it holds rows
     * as far as we know. */
    if (rc == 0 && !is_alias && id) rc = rows_held(u, db, name, as_of, &n, err);
    if (rc == 0 && !is_alias && (!id || n == 0)) *holds = false;
    if (rc) mcdc_err_prefix(err, "checking target collection %s.%s for rows", db, name);
    target_desc_free(tc);
    return rc;
}

static int bt_drop(void *ud, const char *db, const char *name, mcdc_err *err) {
    return applier_drop_collection(((target_ud *)ud)->a, db, name, err);
}

static int bt_rename(void *ud, const char *db, const char *from, const char *to, mcdc_err *err) {
    return applier_rename_collection(((target_ud *)ud)->a, db, from, to, err);
}

void *target_ops_open(const task_spec *spec, const char *secrets_dir, catalog *source, bindings *registry,
                      overlap *ov, mcdc_err *err) {
    /* 30 s unless the task says: a write of many rows may take its time
     * (the create request's check, task_manager.c, waits only 10 s). */
    milvus_config mc;
    task_secrets held;
    if (task_target_milvus_config(&spec->target, secrets_dir, 30000, &mc, &held, err)) return NULL;
    applier_options opt = target_desc_options(spec);
    applier *a = applier_open(&mc, &opt, err);
    task_secrets_free(&held);
    if (!a) return NULL;
    target_ud *u = mcdc_xcalloc(1, sizeof *u);
    *u = (target_ud){
        .a = a, .spec = spec, .source = source, .bindings = registry, .overlap = ov, .flushes_left = LISTING_FLUSHES};
    u->bt = (binding_target){
        .lookup = bt_lookup, .create_or_check = bt_create_or_check, .drop = bt_drop, .rename = bt_rename, .ud = u};
    return u;
}

/* The target collection cc owns, made if it has none yet, for a write:
 * returned with the bindings held for the write (bindings_use_begin) until
 * done_with; NULL with rc 0 when the source dropped it (its late changes
 * are left out). A write never creates the collection (must_exist): only
 * the bindings do, so a write that lost a race with a drop fails as "not
 * found" instead of making the dropped collection again. */
static target_collection *for_write(target_ud *u, const catalog_coll *cc, binding *b, int *rc, mcdc_err *err) {
    for (;;) {
        bool dropped;
        if ((*rc = bindings_target_of(u->bindings, cc, &u->bt, b, &dropped, err)) || dropped) return NULL;
        /* Between the two, another worker may have dropped or renamed it:
         * then decide again. */
        if (bindings_use_begin(u->bindings, cc->id, b)) break;
    }
    target_collection *tc = target_desc_new(u->spec, u->source, cc);
    tc->db = b->db;
    tc->name = b->name;
    tc->must_exist = true;
    return tc;
}

static void done_with(target_ud *u, target_collection *tc) {
    if (!tc) return;
    target_desc_free(tc);
    bindings_use_end(u->bindings);
}

/* overlap.h's rule 2 and 3, before the stream sends rows of a collection
 * being copied: after any page in flight with the same keys, and known to
 * the pages that come. Each part's own ts is recorded as the call's newest:
 * a later ts only drops more from a page, which is always safe. */
static void before_stream_write(target_ud *u, const change *const *cs, size_t n, const catalog_coll *cc) {
    if (!u->overlap || (cs[0]->kind != CHANGE_INSERT && cs[0]->kind != CHANGE_DELETE)) return;
    uint64_t ts = 0;
    for (size_t i = 0; i < n; i++)
        if (cs[i]->ts > ts) ts = cs[i]->ts;
    for (size_t i = 0; i < n; i++) {
        overlap_keys k = overlap_keys_of_change(cs[i], cc->pk ? cc->pk->name : NULL);
        if (k.n) overlap_stream_write(u->overlap, cc->id, &k, ts);
    }
}

static int apply(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert, mcdc_err *err) {
    target_ud *u = ud;
    before_stream_write(u, cs, n, cc);
    binding b;
    bool dropped;
    if (cs[0]->kind == CHANGE_DROP_COLLECTION) return bindings_drop(u->bindings, cc->id, cs[0]->ts, &u->bt, err);
    if (cs[0]->kind == CHANGE_CREATE_COLLECTION) return bindings_target_of(u->bindings, cc, &u->bt, &b, &dropped, err);
    int rc;
    target_collection *tc = for_write(u, cc, &b, &rc, err);
    if (!tc) return rc;
    rc = cs[0]->kind == CHANGE_DELETE ? applier_apply_deletes(u->a, cs, n, tc, err)
             : n > 1                      ? applier_apply_inserts(u->a, cs, n, tc, as_upsert, err)
                                          : applier_apply(u->a, cs[0], tc, as_upsert, err);
    done_with(u, tc);
    return rc;
}

static int start(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert,
                 target_call **out, mcdc_err *err) {
    target_ud *u = ud;
    binding b;
    int rc;
    milvus_write *wr = NULL;
    before_stream_write(u, cs, n, cc);
    target_collection *tc = for_write(u, cc, &b, &rc, err);
    /* The request is serialized once this returns: tc may go at once. */
    if (tc) rc = applier_send_inserts(u->a, cs, n, tc, as_upsert, &wr, err);
    done_with(u, tc);
    *out = (target_call *)wr;
    return rc;
}

int target_ops_copy_start(void *ud, const catalog_coll *cc, const char *partition,
                          Milvus__Proto__Schema__FieldData *const *cols, size_t n_cols, uint32_t rows,
                          target_call **out, mcdc_err *err) {
    target_ud *u = ud;
    binding b;
    int rc;
    milvus_write *wr = NULL;
    target_collection *tc = for_write(u, cc, &b, &rc, err);
    if (tc) rc = applier_send_rows(u->a, tc, partition, cols, n_cols, rows, &wr, err);
    done_with(u, tc);
    *out = (target_call *)wr;
    return rc;
}

static bool ready(target_call *c) { return milvus_write_ready((milvus_write *)c); }
static int wait(target_call *c, mcdc_err *err) { return milvus_write_wait((milvus_write *)c, err); }
static int resend(target_call *c, mcdc_err *err) { return milvus_write_resend((milvus_write *)c, true, err); }
static size_t bytes(const target_call *c) { return milvus_write_bytes((const milvus_write *)c); }
static size_t rows(const target_call *c) { return milvus_write_rows((const milvus_write *)c); }
static bool is_upsert(const target_call *c) { return milvus_write_is_upsert((const milvus_write *)c); }
static void call_free(target_call *c) { milvus_write_free((milvus_write *)c); }

static int ensure(void *ud, const catalog_coll *cc, mcdc_err *err) {
    target_ud *u = ud;
    binding b;
    bool dropped;
    return bindings_target_of(u->bindings, cc, &u->bt, &b, &dropped, err);
}

static int replay(void *ud, change *c, mcdc_err *err) {
    target_ud *u = ud;
    target_request_names names;
    target_desc_request_names(u->spec, c, &names);
    /* A request names its collection as the source called it then; the
     * target collection is the one that source collection owns now. */
    binding b;
    catalog_coll *cc = c->collection_name[0]
                           ? catalog_find(u->source, c->db_name[0] ? c->db_name : "default", c->collection_name)
                           : NULL;
    if (cc && bindings_get(u->bindings, cc->id, &b) && b.state == BINDING_LIVE) {
        names.db = b.db;
        names.collection = b.name;
    }
    catalog_release(cc);
    int rc = applier_replay(u->a, c, &names, err);
    target_desc_request_names_free(&names);
    return rc;
}

static void close_applier(void *ud) {
    target_ud *u = ud;
    if (!u) return;
    applier_close(u->a);
    free(u);
}

/* Calls, the call handle's operations, then the collection and requests. */
const target_ops applier_target_ops = {
    .apply = apply, .start = start,
    .ready = ready, .wait = wait, .resend = resend, .bytes = bytes, .rows = rows, .is_upsert = is_upsert, .free = call_free,
    .ensure_collection = ensure, .replay = replay, .close = close_applier,
};
