/* target_ops.c — see target_ops.h. A thin table: the applier already speaks
 * in changes; this only picks the call for what the worker hands over. */
#include "pipeline/target_ops.h"

#include "target/applier.h"

void *target_ops_open(const task_spec *spec, catalog *source, mcdc_err *err) {
    /* 30 s unless the task says: a write of many rows may take its time
     * (the create request's check, task_manager.c, waits only 10 s). */
    milvus_config mc = task_target_milvus_config(&spec->target, 30000);
    applier *a = applier_open(spec, &mc, err);
    if (a) applier_set_source(a, source);
    return a;
}

static int apply(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, bool as_upsert, mcdc_err *err) {
    if (cs[0]->kind == CHANGE_DELETE) return applier_apply_deletes(ud, cs, n, cc, err);
    if (n > 1) return applier_apply_inserts(ud, cs, n, cc, as_upsert, err);
    return applier_apply(ud, cs[0], cc, as_upsert, err);
}

static int start(void *ud, const change *const *cs, size_t n, const catalog_coll *cc, target_call **out, mcdc_err *err) {
    applier_write *wr = NULL;
    int rc = applier_send_inserts(ud, cs, n, cc, false, &wr, err);
    *out = (target_call *)wr;
    return rc;
}

static bool ready(target_call *c) { return applier_write_ready((applier_write *)c); }
static int wait(target_call *c, mcdc_err *err) { return applier_write_wait((applier_write *)c, err); }
static int resend(target_call *c, mcdc_err *err) { return applier_write_resend((applier_write *)c, true, err); }
static size_t bytes(const target_call *c) { return applier_write_bytes((const applier_write *)c); }
static size_t rows(const target_call *c) { return applier_write_rows((const applier_write *)c); }
static bool is_upsert(const target_call *c) { return applier_write_is_upsert((const applier_write *)c); }
static void call_free(target_call *c) { applier_write_free((applier_write *)c); }
static int ensure(void *ud, const catalog_coll *cc, mcdc_err *err) { return applier_ensure_collection(ud, cc, err); }
static int replay(void *ud, change *c, mcdc_err *err) { return applier_replay(ud, c, err); }
static void close_applier(void *ud) { applier_close(ud); }

const target_ops applier_target_ops = {
    .apply = apply,
    .start = start,
    .ready = ready,
    .wait = wait,
    .resend = resend,
    .bytes = bytes,
    .rows = rows,
    .is_upsert = is_upsert,
    .free = call_free,
    .ensure_collection = ensure,
    .replay = replay,
    .close = close_applier,
};
