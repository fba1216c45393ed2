/* target_ops.c — see target_ops.h. A thin table: the applier already speaks
 * in changes; this picks the call for what the worker hands over and
 * describes the collection in the target's terms (target_desc.h) on the way,
 * so that the worker keeps its catalog snapshots and the applier sees
 * neither the task nor the catalog. */
#include "pipeline/target_ops.h"

#include <stdlib.h>

#include "base/buf.h"
#include "pipeline/target_desc.h"
#include "target/applier.h"

typedef struct target_ud {
    applier *a;
    const task_spec *spec;
    catalog *source;
} target_ud;

void *target_ops_open(const task_spec *spec, catalog *source, mcdc_err *err) {
    /* 30 s unless the task says: a write of many rows may take its time
     * (the create request's check, task_manager.c, waits only 10 s). */
    milvus_config mc = task_target_milvus_config(&spec->target, 30000);
    applier_options opt = target_desc_options(spec);
    applier *a = applier_open(&mc, &opt, err);
    if (!a) return NULL;
    target_ud *u = mcdc_xcalloc(1, sizeof *u);
    *u = (target_ud){.a = a, .spec = spec, .source = source};
    return u;
}

static target_collection *describe(const target_ud *u, const catalog_coll *cc) {
    return target_desc_new(u->spec, u->source, cc);
}

static int apply(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert, mcdc_err *err) {
    target_ud *u = ud;
    target_collection *tc = describe(u, cc);
    int rc = cs[0]->kind == CHANGE_DELETE ? applier_apply_deletes(u->a, cs, n, tc, err)
             : n > 1                      ? applier_apply_inserts(u->a, cs, n, tc, as_upsert, err)
                                          : applier_apply(u->a, cs[0], tc, as_upsert, err);
    target_desc_free(tc);
    return rc;
}

static int start(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, target_call **out, mcdc_err *err) {
    target_ud *u = ud;
    target_collection *tc = describe(u, cc);
    milvus_write *wr = NULL;
    /* The request is serialized once this returns: tc may go at once. */
    int rc = applier_send_inserts(u->a, cs, n, tc, false, &wr, err);
    target_desc_free(tc);
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
    target_collection *tc = describe(u, cc);
    int rc = applier_ensure_collection(u->a, tc, err);
    target_desc_free(tc);
    return rc;
}

static int replay(void *ud, change *c, mcdc_err *err) {
    target_ud *u = ud;
    target_request_names names;
    target_desc_request_names(u->spec, c, &names);
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
