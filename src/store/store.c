/* store.c — store.h's calls: the argument checks every backend shares, then
 * the backend's function (store_int.h). No state of its own. */
#include "store/store_int.h"

#include <inttypes.h>
#include <string.h>

static bool bad_name(const char *what, const char *v, mcdc_err *err) {
    if (v && *v) return false;
    mcdc_errf(err, MCDC_EINVAL, "store: empty %s", what);
    return true;
}

void store_close(store *s) {
    if (s) s->ops->close(s);
}

int store_task_put_new(store *s, const store_task *t, mcdc_err *err) {
    if (!t) return mcdc_errf(err, MCDC_EINVAL, "store: no task");
    if (bad_name("task id", t->id, err)) return -1;
    return s->ops->task_put_new(s, t, err);
}

/* NULL for none, whichever way the caller said it. */
static const store_msg_ref *msg_ref(const char *what, const store_msg_ref *r, mcdc_err *err, bool *bad) {
    *bad = false;
    if (!r || !r->channel || !r->channel[0]) return NULL;
    if (r->id.len > MQ_MSGID_MAX) {
        mcdc_errf(err, MCDC_EINVAL, "store: %s: msgID of %zu bytes", what, r->id.len);
        *bad = true;
    }
    return r;
}

int store_task_update(store *s, const char *id, int state, const char *reason, const store_msg_ref *paused_at,
                      mcdc_err *err) {
    bool bad;
    if (bad_name("task id", id, err)) return -1;
    paused_at = msg_ref("the paused position", paused_at, err, &bad);
    return bad ? -1 : s->ops->task_update(s, id, state, reason, paused_at, err);
}

int store_task_set_skip(store *s, const char *id, const store_msg_ref *skip, mcdc_err *err) {
    bool bad;
    if (bad_name("task id", id, err)) return -1;
    skip = msg_ref("the message to skip", skip, err, &bad);
    return bad ? -1 : s->ops->task_set_skip(s, id, skip, err);
}

int store_task_each(store *s, store_task_fn fn, void *ud, mcdc_err *err) {
    return s->ops->task_each(s, fn, ud, err);
}

int store_task_delete(store *s, const char *id, mcdc_err *err) {
    if (bad_name("task id", id, err)) return -1;
    return s->ops->task_delete(s, id, err);
}

static int position_save(store *s, store_pos_kind kind, const char *task_id, const char *channel, const mq_msgid *id,
                         uint64_t ts, mcdc_err *err) {
    const char *what = kind == STORE_CHECKPOINT ? "checkpoint" : "intent";
    if (bad_name("task id", task_id, err) || bad_name("channel", channel, err)) return -1;
    if (id && id->len > MQ_MSGID_MAX)
        return mcdc_errf(err, MCDC_EINVAL, "store: saving %s of task %s channel %s: msgID of %zu bytes", what,
                         task_id, channel, id->len);
    return s->ops->position_save(s, kind, what, task_id, channel, id, ts, err);
}

int store_checkpoint_save(store *s, const char *task_id, const char *channel, const mq_msgid *id, uint64_t ts,
                          mcdc_err *err) {
    return position_save(s, STORE_CHECKPOINT, task_id, channel, id, ts, err);
}

int store_intent_save(store *s, const char *task_id, const char *channel, const mq_msgid *id, uint64_t ts,
                      mcdc_err *err) {
    return position_save(s, STORE_INTENT, task_id, channel, id, ts, err);
}

int store_position_each(store *s, const char *task_id, store_position_fn fn, void *ud, mcdc_err *err) {
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->position_each(s, task_id, fn, ud, err);
}

typedef struct position_find {
    const char *channel;
    store_position *out;
    bool *found;
} position_find;

static int match_channel(void *ud, const store_position *p) {
    position_find *f = ud;
    if (strcmp(p->channel, f->channel) != 0) return 0;
    *f->out = *p;
    f->out->channel = f->channel;
    *f->found = true;
    return 0;
}

int store_position_find(store *s, const char *task_id, const char *channel, store_position *out, bool *found,
                        mcdc_err *err) {
    *out = (store_position){.channel = channel};
    *found = false;
    return store_position_each(s, task_id, match_channel, &(position_find){channel, out, found}, err);
}

int store_binding_save(store *s, const char *task_id, const store_binding *b, mcdc_err *err) {
    if (bad_name("task id", task_id, err) || bad_name("target database", b->target_db, err) ||
        bad_name("target collection", b->target_name, err))
        return -1;
    if (b->state < STORE_BINDING_CREATING || b->state > STORE_BINDING_DROPPED)
        return mcdc_errf(err, MCDC_EINVAL, "store: binding of source collection %" PRId64 ": state %d", b->source_id,
                         b->state);
    return s->ops->binding_save(s, task_id, b, err);
}

int store_binding_each(store *s, const char *task_id, store_binding_fn fn, void *ud, mcdc_err *err) {
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->binding_each(s, task_id, fn, ud, err);
}

int store_binding_delete(store *s, const char *task_id, int64_t source_id, mcdc_err *err) {
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->binding_delete(s, task_id, source_id, err);
}

int store_copy_save(store *s, const char *task_id, int64_t source_id, const char *state_json, mcdc_err *err) {
    if (bad_name("task id", task_id, err)) return -1;
    if (!state_json)
        return mcdc_errf(err, MCDC_EINVAL, "store: saving the copy of task %s source collection %" PRId64 ": no state",
                         task_id, source_id);
    return s->ops->copy_save(s, task_id, source_id, state_json, err);
}

int store_copy_each(store *s, const char *task_id, store_copy_fn fn, void *ud, mcdc_err *err) {
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->copy_each(s, task_id, fn, ud, err);
}

int store_copy_delete(store *s, const char *task_id, int64_t source_id, mcdc_err *err) {
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->copy_delete(s, task_id, source_id, err);
}

/* ---- ownership ---- */

const char *store_instance_id(store *s) { return s->ops->instance_id(s); }

int store_task_claim(store *s, const char *task_id, bool *owned, char **owner_url, mcdc_err *err) {
    if (owner_url) *owner_url = NULL;
    *owned = false;
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->task_claim(s, task_id, owned, owner_url, err);
}

int store_task_release(store *s, const char *task_id, mcdc_err *err) {
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->task_release(s, task_id, err);
}

int store_task_owner(store *s, const char *task_id, bool *mine, char **owner_url, mcdc_err *err) {
    if (owner_url) *owner_url = NULL;
    *mine = false;
    if (bad_name("task id", task_id, err)) return -1;
    return s->ops->task_owner(s, task_id, mine, owner_url, err);
}

bool store_task_owned(store *s, const char *task_id) {
    return task_id && task_id[0] && s->ops->task_owned(s, task_id);
}

int store_wait_change(store *s, uint32_t timeout_ms, mcdc_err *err) { return s->ops->wait_change(s, timeout_ms, err); }
