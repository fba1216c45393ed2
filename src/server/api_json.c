/* api_json.c — snapshots to milvus-cdc's JSON (see api_json.h). */
#include "server/api_json.h"

#include <math.h>
#include <stdlib.h>

#include "base/base64.h"
#include "base/clock.h"
#include "source/change_json.h"

/* Since this process started the task: what an operator reads at a glance;
 * /metrics has the buckets for rates over a window. */
static json_t *latency_json(const mcdc_histogram *h) {
    return json_pack("{s:I, s:f, s:f, s:f}", "count", (json_int_t)mcdc_histogram_count(h), "p50",
                     mcdc_histogram_quantile(h, 0.50), "p99", mcdc_histogram_quantile(h, 0.99), "max",
                     mcdc_histogram_max(h));
}

static json_t *applied_json(const task_counters *a) {
    json_t *o = json_object();
    json_object_set_new(o, "inserted_rows", json_integer((json_int_t)a->inserted));
    json_object_set_new(o, "upserted_rows", json_integer((json_int_t)a->upserted));
    json_object_set_new(o, "deleted_rows", json_integer((json_int_t)a->deleted));
    json_object_set_new(o, "ddl", json_integer((json_int_t)a->ddl));
    json_object_set_new(o, "messages", json_integer((json_int_t)a->messages));
    json_object_set_new(o, "calls_in_flight", json_integer((json_int_t)a->calls_in_flight));
    json_object_set_new(o, "calls_in_flight_peak", json_integer((json_int_t)a->calls_in_flight_peak));
    json_object_set_new(o, "queue_wait_ms", json_integer((json_int_t)(a->queue_wait_us / 1000)));
    json_object_set_new(o, "target_wait_ms", json_integer((json_int_t)(a->target_wait_us / 1000)));
    return o;
}

/* Imports whose rows bypassed the WAL; NULL when there are none, so a reply
 * without any stays as it was. */
static json_t *bulk_inserts_json(const task_snapshot *s) {
    if (!s->n_bulk_inserts) return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_bulk_inserts; i++) {
        const task_bulk_insert *b = &s->bulk_inserts[i];
        json_array_append_new(a, json_pack("{s:s, s:I, s:s, s:I}", "collection", b->collection, "import_task",
                                           (json_int_t)b->import_task, "state", b->state, "rows", (json_int_t)b->rows));
    }
    return a;
}

/* A copy's rate to one decimal: more digits would claim a precision one
 * progress interval does not have. */
static double one_decimal(double x) { return round(x * 10.0) / 10.0; }

static json_t *copy_json(const task_copy *c) {
    json_t *o = json_object();
    json_object_set_new(o, "db", json_string(c->db));
    json_object_set_new(o, "collection", json_string(c->collection));
    json_object_set_new(o, "collection_id", json_integer((json_int_t)c->collection_id));
    json_object_set_new(o, "phase", json_string(copy_phase_name(c->phase)));
    json_object_set_new(o, "rows_copied", json_integer((json_int_t)c->rows_copied));
    json_object_set_new(o, "rows_total", json_integer((json_int_t)c->rows_total));
    json_object_set_new(o, "rows_per_s", json_real(one_decimal(c->rows_per_s)));
    json_object_set_new(o, "eta_s", c->eta_s >= 0 ? json_integer((json_int_t)c->eta_s) : json_null());
    json_object_set_new(o, "end_ts", json_integer((json_int_t)c->end_ts));
    json_object_set_new(o, "last_error", json_string(c->last_error));
    return o;
}

/* Always there, so a client reads "consistent" without asking whether the
 * task has copies; with none, nothing runs that could make it false. */
static json_t *snapshot_json(const task_snapshot *s) {
    json_t *list = json_array();
    for (size_t i = 0; i < s->n_copies; i++) json_array_append_new(list, copy_json(&s->copies[i]));
    return json_pack("{s:b, s:o}", "consistent", s->consistent || s->n_copies == 0, "collections", list);
}

/* The last verify: null when none was asked for since the task started
 * here. */
static json_t *verify_json(const task_verify *v) {
    if (!v->asked) return json_null();
    json_t *list = json_array();
    bool equal = true, failed = false;
    for (size_t i = 0; i < v->n; i++) {
        const task_verify_coll *c = &v->colls[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "source", c->source, "target", c->target, "phase",
                              verify_phase_name(c->phase), "rows_total", (json_int_t)c->rows_total, "rows_compared",
                              (json_int_t)c->rows_compared);
        if (c->has_result) {
            json_t *r = verify_result_json(&c->result);
            json_object_update(o, r);
            json_decref(r);
            equal &= verify_result_equal(&c->result);
        }
        if (c->phase == VERIFY_FAILED) {
            json_object_set_new(o, "error", json_string(c->error));
            failed = true;
        }
        json_array_append_new(list, o);
    }
    char started[32] = "", finished[32] = "";
    change_ts_wall((v->started_wall_ms) << MCDC_TS_LOGICAL_BITS, started);
    if (v->finished_wall_ms) change_ts_wall((v->finished_wall_ms) << MCDC_TS_LOGICAL_BITS, finished);
    /* result: what a script acts on, as `mcdc verify`'s exit code says it. */
    const char *result = v->running ? "running" : failed ? "could_not_compare" : equal ? "equal" : "different";
    return json_pack("{s:s, s:s, s:o, s:o}", "result", result, "started_at", started, "finished_at",
                     v->finished_wall_ms ? json_string(finished) : json_null(), "collections", list);
}

static json_t *ts_json(uint64_t ts) {
    if (!ts) return json_null();
    char wall[32];
    change_ts_wall(ts, wall);
    return json_pack("{s:I, s:s}", "ts", (json_int_t)ts, "time", wall);
}

/* The last switchover or failover: null when none was asked for since the
 * task started here. */
static json_t *handover_json(const task_handover *h) {
    if (h->kind == HANDOVER_NONE) return json_null();
    char started[32] = "", finished[32] = "";
    change_ts_wall(h->started_wall_ms << MCDC_TS_LOGICAL_BITS, started);
    if (h->finished_wall_ms) change_ts_wall(h->finished_wall_ms << MCDC_TS_LOGICAL_BITS, finished);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "kind", handover_kind_name(h->kind), "phase",
                          handover_phase_name(h->phase), "started_at", started, "finished_at",
                          h->finished_wall_ms ? json_string(finished) : json_null(), "last_source_write",
                          ts_json(h->last_write_ts), "last_source_time", ts_json(h->last_source_ts));
    if (h->reason[0]) json_object_set_new(o, "reason", json_string(h->reason));
    if (h->kind == HANDOVER_SWITCHOVER) {
        json_object_set_new(o, "writes_stopped_at", ts_json(h->cut_ts));
        if (h->phase == HANDOVER_DONE) json_object_set_new(o, "rpo_seconds", json_integer(0));
        json_t *c = json_object();
        for (int k = 0; k < VERIFY_N_KINDS; k++)
            json_object_set_new(c, verify_kind_name((verify_kind)k), json_integer((json_int_t)h->counts[k]));
        json_object_set_new(o, "verify_differences", c);
    } else {
        /* Every change up to target_holds_up_to is on the target; what the
         * source wrote after it may not be: up to last_source_time, the
         * newest the queue holds (queue_read), or the newest mcdc read when
         * the queue could not be read (then later changes too). */
        json_object_set_new(o, "target_holds_up_to", ts_json(h->cut_ts));
        if (h->phase == HANDOVER_DONE) json_object_set_new(o, "queue_read", json_boolean(h->queue_readable));
        if (h->phase == HANDOVER_DONE && h->cut_ts) {
            uint64_t a = mcdc_ts_physical_ms(h->cut_ts), b = mcdc_ts_physical_ms(h->last_source_ts);
            json_object_set_new(o, "loss_window_seconds", json_real(b > a ? (double)(b - a) / 1000.0 : 0.0));
        }
    }
    return o;
}

json_t *api_task_json(const task_snapshot *s) {
    json_t *j = task_spec_to_json(&s->spec, false);
    json_object_set_new(j, "task_id", json_string(s->id));
    json_object_set_new(j, "state", json_string(task_state_name(s->state)));
    if (s->reason[0]) json_object_set_new(j, "reason", json_string(s->reason));
    json_object_set_new(j, "owner", s->owner[0] ? json_string(s->owner) : json_null());
    if (s->paused_channel[0])
        json_object_set_new(j, "paused_at",
                            json_pack("{s:s, s:s}", "channel", s->paused_channel, "position", s->paused_position));
    if (s->skip_channel[0])
        json_object_set_new(j, "skip_requested",
                            json_pack("{s:s, s:s}", "channel", s->skip_channel, "position", s->skip_position));
    /* Run by another instance: what the store holds is all this one knows;
     * the owner has the live figures (a get is forwarded there). */
    if (s->remote) return j;
    json_object_set_new(j, "last_error", json_string(s->last_error));
    json_object_set_new(j, "starting", json_boolean(s->starting));
    json_object_set_new(j, "channels_read", json_integer((json_int_t)s->channels_read));
    if (s->watermark) {
        char wall[32];
        change_ts_wall(s->watermark, wall);
        json_object_set_new(j, "watermark", json_pack("{s:I, s:s}", "ts", (json_int_t)s->watermark, "time", wall));
        json_object_set_new(j, "lag_seconds", json_real(task_snapshot_lag_seconds(s)));
    }
    json_object_set_new(j, "applied", applied_json(&s->applied));
    json_object_set_new(j, "latency", json_pack("{s:o, s:o}", "apply_lag_seconds", latency_json(&s->apply_lag),
                                                "target_call_seconds", latency_json(&s->target_call)));
    json_object_set_new(j, "snapshot", snapshot_json(s));
    json_object_set_new(j, "verify", verify_json(&s->verify));
    json_object_set_new(j, "handover", handover_json(&s->handover));
    json_t *bulk = bulk_inserts_json(s);
    if (bulk) json_object_set_new(j, "bulk_inserts_not_replicated", bulk);
    return j;
}

json_t *api_task_list_json(task_snapshot *const *list, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, api_task_json(list[i]));
    return a;
}

json_t *api_positions_json(const task_positions *p) {
    json_t *list = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const task_position *tp = &p->items[i];
        char *b64 = mcdc_base64_encode(tp->checkpoint.bytes, tp->checkpoint.len);
        json_t *o = json_object();
        json_object_set_new(o, "channel_name", json_string(tp->channel));
        json_object_set_new(o, "position", json_string(tp->text));
        json_object_set_new(o, "msg_id", json_string(b64));
        json_object_set_new(o, "tt", json_integer((json_int_t)tp->ts));
        json_object_set_new(o, "time", json_integer((json_int_t)mcdc_ts_physical_ms(tp->ts)));
        json_array_append_new(list, o);
        free(b64);
    }
    return json_pack("{s:o}", "positions", list);
}
