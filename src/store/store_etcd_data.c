/* store_etcd_data.c — the etcd backend's tasks, positions, bindings and copy
 * progress: every write of a task's state is one Txn guarded by ownership
 * (es_guarded), every read of a task's rows one Range or one read-only Txn,
 * so it sees the task and its rows at a single revision. Semantics, orders
 * and error codes are store_sqlite.c's; only the ownership refusals
 * (MCDC_ENOTOWNER) are new. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/store_etcd_int.h"

/* A task's state changed by others this many times while we tried to
 * change it: something is wrong (two writers fighting), say so. */
#define RMW_TRIES 64

static bool same_bytes(const etcd_kv *kv, const char *text) {
    size_t n = strlen(text);
    return kv && kv->value_len == n && memcmp(kv->value, text, n) == 0;
}

static bool is_me(const etcd_store *s, const etcd_kv *kv) { return same_bytes(kv, s->instance_id); }

int es_guarded(etcd_store *s, const char *task_id, const char *what, const etcd_cmp *extra, size_t n_extra,
               const etcd_op *ops, size_t n_ops, bool gone_is_done, etcd_txn_result *kept, mcdc_err *err) {
    mcdc_buf kt = MCDC_BUF_INIT, ko = MCDC_BUF_INIT;
    const char *task_key = es_key(s, &kt, "tasks", task_id, NULL);
    const char *owner_key = es_key(s, &ko, "owners", task_id, NULL);
    int64_t lease = es_lease(s);
    size_t nc = 3 + n_extra;
    etcd_cmp *cmps = mcdc_xcalloc(nc, sizeof *cmps);
    etcd_op *reads = mcdc_xcalloc(2 + n_extra, sizeof *reads);
    /* Ours under this lease: a process whose lease ended (and whose owner
     * key went with it) or that another instance took over cannot write. */
    cmps[0] = (etcd_cmp){.key = owner_key, .target = ETCD_CMP_VALUE, .op = ETCD_EQUAL, .value = s->instance_id,
                         .value_len = strlen(s->instance_id)};
    cmps[1] = (etcd_cmp){.key = owner_key, .target = ETCD_CMP_LEASE, .op = ETCD_EQUAL, .number = lease};
    /* The task exists: no orphan rows a later task of the same id would inherit. */
    cmps[2] = (etcd_cmp){.key = task_key, .target = ETCD_CMP_VERSION, .op = ETCD_GREATER, .number = 0};
    reads[0] = (etcd_op){.type = ETCD_OP_GET, .key = task_key};
    reads[1] = (etcd_op){.type = ETCD_OP_GET, .key = owner_key};
    for (size_t i = 0; i < n_extra; i++) {
        cmps[3 + i] = extra[i];
        reads[2 + i] = (etcd_op){.type = ETCD_OP_GET, .key = extra[i].key};
    }
    etcd_txn_result r;
    int rc = etcd_txn(s->c, cmps, nc, ops, n_ops, reads, 2 + n_extra, &r, err);
    free(cmps);
    free(reads);
    if (rc) {
        mcdc_err_prefix(err, "store: %s", what);
    } else if (!r.succeeded) {
        const etcd_kv *task = etcd_txn_kv(&r, 0), *owner = etcd_txn_kv(&r, 1);
        if (!task) {
            es_forget(s, task_id);
            rc = gone_is_done && r.retried ? 0 : mcdc_errf(err, MCDC_ENOTFOUND, "store: %s: no such task", what);
        } else if (!is_me(s, owner) || owner->lease != lease) {
            es_forget(s, task_id);
            char who[160];
            if (!owner) snprintf(who, sizeof who, "nobody does (its owner's lease ended)");
            else if (is_me(s, owner)) snprintf(who, sizeof who, "it is held under this instance's earlier lease");
            else snprintf(who, sizeof who, "instance %.*s does", (int)(owner->value_len > 100 ? 100 : owner->value_len),
                          (const char *)owner->value);
            rc = mcdc_errf(err, MCDC_ENOTOWNER, "store: %s: this instance (%s) does not own the task; %s", what,
                           s->instance_id, who);
        } else {
            rc = 1;
            if (kept) {
                *kept = r;
                r.mem_ = NULL;
            }
        }
    }
    etcd_txn_result_free(&r); /* nothing left when it went to *kept */
    mcdc_buf_free(&kt);
    mcdc_buf_free(&ko);
    return rc;
}

/* ---- tasks ---- */

int es_task_put_new(store *base, const store_task *t, mcdc_err *err) {
    etcd_store *s = es_of(base);
    es_task_val v = {.spec_json = (char *)(t->spec_json ? t->spec_json : ""), .reason = (char *)(t->reason ? t->reason : ""),
                     .state = t->state, .by = s->instance_id};
    char *json = es_task_encode(&v);
    mcdc_buf kt = MCDC_BUF_INIT, ko = MCDC_BUF_INIT;
    const char *task_key = es_key(s, &kt, "tasks", t->id, NULL);
    const char *owner_key = es_key(s, &ko, "owners", t->id, NULL);
    int64_t lease = es_lease(s);
    etcd_cmp absent = {.key = task_key, .target = ETCD_CMP_CREATE, .op = ETCD_EQUAL, .number = 0};
    /* The new task is claimed in the same transaction (store.h). */
    etcd_op puts[2] = {{.type = ETCD_OP_PUT, .key = task_key, .value = json, .value_len = strlen(json)},
                       {.type = ETCD_OP_PUT, .key = owner_key, .value = s->instance_id,
                        .value_len = strlen(s->instance_id), .lease = lease}};
    etcd_op reads[2] = {{.type = ETCD_OP_GET, .key = task_key}, {.type = ETCD_OP_GET, .key = owner_key}};
    etcd_txn_result r;
    int rc = etcd_txn(s->c, &absent, 1, puts, 2, reads, 2, &r, err);
    if (rc) {
        es_lease_err(err);
        mcdc_err_prefix(err, "store: adding task %s", t->id);
    } else {
        const etcd_kv *owner = etcd_txn_kv(&r, 1);
        /* A retry after a lost answer finds its own earlier write. */
        bool mine = r.succeeded || (r.retried && same_bytes(etcd_txn_kv(&r, 0), json) && is_me(s, owner) &&
                                    owner->lease == lease);
        if (mine) es_remember(s, t->id, lease, r.succeeded ? r.revision : owner->mod_revision);
        else rc = mcdc_errf(err, MCDC_EEXIST, "store: adding task %s: a task with this id exists", t->id);
        etcd_txn_result_free(&r);
    }
    free(json);
    mcdc_buf_free(&kt);
    mcdc_buf_free(&ko);
    return rc;
}

typedef void (*task_edit_fn)(es_task_val *v, const void *ud);

/* Read, change, write back if nobody wrote in between (the task's
 * mod_revision), under ownership; again if somebody did. */
static int task_rmw(etcd_store *s, const char *id, const char *what, task_edit_fn edit, const void *ud,
                    mcdc_err *err) {
    char desc[256];
    snprintf(desc, sizeof desc, "%s of task %s", what, id);
    mcdc_buf kt = MCDC_BUF_INIT;
    const char *task_key = es_key(s, &kt, "tasks", id, NULL);
    int rc = -1;
    for (int attempt = 0; attempt < RMW_TRIES; attempt++) {
        bool found;
        uint8_t *val = NULL;
        size_t len = 0;
        int64_t modrev = 0;
        if (etcd_get(s->c, task_key, &found, &val, &len, &modrev, err)) {
            mcdc_err_prefix(err, "store: %s", desc);
            goto out;
        }
        if (!found) {
            es_forget(s, id);
            rc = mcdc_errf(err, MCDC_ENOTFOUND, "store: %s: no such task", desc);
            goto out;
        }
        es_task_val v;
        int bad = es_task_decode(val, len, &v);
        free(val);
        if (bad) {
            rc = mcdc_errf(err, MCDC_EIO, "store: %s: the value of %s is not a task mcdc wrote", desc, task_key);
            goto out;
        }
        edit(&v, ud);
        free(v.by);
        v.by = mcdc_xstrdup(s->instance_id);
        char *json = es_task_encode(&v);
        es_task_val_free(&v);
        etcd_cmp same = {.key = task_key, .target = ETCD_CMP_MOD, .op = ETCD_EQUAL, .number = modrev};
        etcd_op put = {.type = ETCD_OP_PUT, .key = task_key, .value = json, .value_len = strlen(json)};
        etcd_txn_result kept;
        int g = es_guarded(s, id, desc, &same, 1, &put, 1, false, &kept, err);
        if (g == 1) {
            /* Changed meanwhile, unless the change was this write's own
             * earlier attempt whose answer was lost. */
            if (kept.retried && same_bytes(etcd_txn_kv(&kept, 2), json)) g = 0;
            etcd_txn_result_free(&kept);
        }
        free(json);
        if (g != 1) {
            rc = g;
            goto out;
        }
    }
    rc = mcdc_errf(err, MCDC_ETIMEOUT, "store: %s: the task changed %d times while being written", desc, RMW_TRIES);
out:
    mcdc_buf_free(&kt);
    return rc;
}

typedef struct state_edit {
    int state;
    const char *reason;
    const store_msg_ref *at;
} state_edit;

static void set_msg_ref(char **channel, mq_msgid *id, const store_msg_ref *r) {
    free(*channel);
    *channel = mcdc_xstrdup(r ? r->channel : "");
    if (r) *id = r->id;
    else id->len = 0;
}

static void edit_state(es_task_val *v, const void *ud) {
    const state_edit *e = ud;
    v->state = e->state;
    free(v->reason);
    v->reason = mcdc_xstrdup(e->reason ? e->reason : "");
    set_msg_ref(&v->paused_channel, &v->paused_id, e->at);
}

int es_task_update(store *base, const char *id, int state, const char *reason, const store_msg_ref *paused_at,
                   mcdc_err *err) {
    state_edit e = {state, reason, paused_at};
    return task_rmw(es_of(base), id, "updating the state", edit_state, &e, err);
}

static void edit_skip(es_task_val *v, const void *ud) { set_msg_ref(&v->skip_channel, &v->skip_id, ud); }

int es_task_set_skip(store *base, const char *id, const store_msg_ref *skip, mcdc_err *err) {
    return task_rmw(es_of(base), id, skip ? "saving the skip request" : "clearing the skip request", edit_skip, skip,
                    err);
}

typedef struct task_row {
    char *id;
    es_task_val v;
    int64_t created;
} task_row;

typedef struct task_rows {
    etcd_store *s;
    size_t skip;              /* strlen of "<prefix>tasks/" */
    task_row *rows;
    size_t n, cap;
    mcdc_err *err;
} task_rows;

static int add_task_row(void *ud, const etcd_kv *kv) {
    task_rows *t = ud;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->rows = mcdc_xrealloc(t->rows, t->cap * sizeof *t->rows);
    }
    task_row *r = &t->rows[t->n];
    r->id = es_unescape(kv->key + t->skip, kv->key_len - t->skip);
    if (!r->id || strchr(r->id, '/') || es_task_decode(kv->value, kv->value_len, &r->v)) {
        free(r->id);
        return mcdc_errf(t->err, MCDC_EIO, "store: listing tasks: the value of %s is not a task mcdc wrote", kv->key);
    }
    r->created = kv->create_revision;
    t->n++;
    return 0;
}

static int by_created(const void *a, const void *b) {
    int64_t x = ((const task_row *)a)->created, y = ((const task_row *)b)->created;
    return (x > y) - (x < y);
}

int es_task_each(store *base, store_task_fn fn, void *ud, mcdc_err *err) {
    etcd_store *s = es_of(base);
    mcdc_buf pfx = MCDC_BUF_INIT;
    mcdc_buf_printf(&pfx, "%stasks/", s->prefix);
    task_rows t = {.s = s, .skip = pfx.len, .err = err};
    int ret = etcd_range_prefix(s->c, mcdc_buf_cstr(&pfx), 0, add_task_row, &t, NULL, err);
    if (ret && err && err->code != MCDC_EIO) mcdc_err_prefix(err, "store: listing tasks");
    mcdc_buf_free(&pfx);
    /* Creation order: a task's create_revision stays until it is deleted. */
    if (t.n) qsort(t.rows, t.n, sizeof *t.rows, by_created);
    for (size_t i = 0; i < t.n && ret == 0; i++) {
        const es_task_val *v = &t.rows[i].v;
        store_task st = {t.rows[i].id, v->spec_json, v->state, v->reason,
                         .paused_at = {v->paused_channel, v->paused_id}, .skip = {v->skip_channel, v->skip_id}};
        ret = fn(ud, &st);
    }
    for (size_t i = 0; i < t.n; i++) {
        free(t.rows[i].id);
        es_task_val_free(&t.rows[i].v);
    }
    free(t.rows);
    return ret;
}

/* "<prefix><kind>/<id>/": every row of kind of the task. */
static const char *rows_prefix(const etcd_store *s, mcdc_buf *b, const char *kind, const char *id) {
    es_key(s, b, kind, id, NULL);
    mcdc_buf_putc(b, '/');
    return mcdc_buf_cstr(b);
}

int es_task_delete(store *base, const char *id, mcdc_err *err) {
    etcd_store *s = es_of(base);
    mcdc_buf k[5] = {MCDC_BUF_INIT, MCDC_BUF_INIT, MCDC_BUF_INIT, MCDC_BUF_INIT, MCDC_BUF_INIT};
    etcd_op ops[5] = {
        {.type = ETCD_OP_DELETE, .key = es_key(s, &k[0], "tasks", id, NULL)},
        {.type = ETCD_OP_DELETE_PREFIX, .key = rows_prefix(s, &k[1], "positions", id)},
        {.type = ETCD_OP_DELETE_PREFIX, .key = rows_prefix(s, &k[2], "bindings", id)},
        {.type = ETCD_OP_DELETE_PREFIX, .key = rows_prefix(s, &k[3], "copies", id)},
        {.type = ETCD_OP_DELETE, .key = es_key(s, &k[4], "owners", id, NULL)},
    };
    char desc[200];
    snprintf(desc, sizeof desc, "deleting task %s", id);
    /* Given up first, so the watch does not take the owner key's delete
     * for somebody else's doing (the Txn checks ownership in etcd, not here). */
    es_forget(s, id);
    int rc = es_guarded(s, id, desc, NULL, 0, ops, 5, true, NULL, err);
    for (int i = 0; i < 5; i++) mcdc_buf_free(&k[i]);
    return rc;
}

/* ---- a task's rows: read with the task at one revision ---- */

/* Reads tasks/<id> and every key under <kind>/<id>/ in one Txn; MCDC_ENOTFOUND
 * ("<what> of task <id>: no such task") when the task is absent. */
static int read_rows(etcd_store *s, const char *kind, const char *id, const char *what, etcd_txn_result *r,
                     size_t *skip, mcdc_err *err) {
    mcdc_buf kt = MCDC_BUF_INIT, kp = MCDC_BUF_INIT;
    etcd_op reads[2] = {{.type = ETCD_OP_GET, .key = es_key(s, &kt, "tasks", id, NULL)},
                        {.type = ETCD_OP_GET_PREFIX, .key = rows_prefix(s, &kp, kind, id)}};
    *skip = kp.len;
    int rc = etcd_txn(s->c, NULL, 0, reads, 2, NULL, 0, r, err);
    if (rc) mcdc_err_prefix(err, "store: %s of task %s", what, id);
    else if (!etcd_txn_kv(r, 0)) {
        etcd_txn_result_free(r);
        rc = mcdc_errf(err, MCDC_ENOTFOUND, "store: %s of task %s: no such task", what, id);
    }
    mcdc_buf_free(&kt);
    mcdc_buf_free(&kp);
    return rc;
}

/* ---- positions ---- */

int es_position_save(store *base, store_pos_kind kind, const char *what, const char *task_id, const char *channel,
                     const mq_msgid *id, uint64_t ts, mcdc_err *err) {
    etcd_store *s = es_of(base);
    mcdc_buf k = MCDC_BUF_INIT;
    es_key(s, &k, "positions", task_id, channel);
    mcdc_buf_printf(&k, "/%s", kind == STORE_CHECKPOINT ? "checkpoint" : "intent");
    char *val = es_pos_encode(id, ts);
    etcd_op put = {.type = ETCD_OP_PUT, .key = mcdc_buf_cstr(&k), .value = val, .value_len = strlen(val)};
    char desc[300];
    snprintf(desc, sizeof desc, "saving %s of task %s channel %s", what, task_id, channel);
    int rc = es_guarded(s, task_id, desc, NULL, 0, &put, 1, false, NULL, err);
    free(val);
    mcdc_buf_free(&k);
    return rc;
}

typedef struct pos_row {
    char *channel;
    store_position p;
} pos_row;

static int by_channel(const void *a, const void *b) {
    return strcmp(((const pos_row *)a)->channel, ((const pos_row *)b)->channel);
}

int es_position_each(store *base, const char *task_id, store_position_fn fn, void *ud, mcdc_err *err) {
    etcd_store *s = es_of(base);
    etcd_txn_result r;
    size_t skip;
    if (read_rows(s, "positions", task_id, "reading positions", &r, &skip, err)) return -1;
    const etcd_op_result *o = &r.ops[1];
    pos_row *rows = mcdc_xcalloc(o->n_kvs ? o->n_kvs : 1, sizeof *rows);
    size_t n = 0;
    int ret = 0;
    /* A channel's two keys ("<channel>/checkpoint", "<channel>/intent") are
     * neighbours in key order: the escaped channel holds no '/'. */
    for (size_t i = 0; i < o->n_kvs && ret == 0; i++) {
        const etcd_kv *kv = &o->kvs[i];
        const char *rest = kv->key + skip, *slash = strrchr(rest, '/');
        char *ch = slash ? es_unescape(rest, (size_t)(slash - rest)) : NULL;
        bool cp = slash && strcmp(slash, "/checkpoint") == 0, in = slash && strcmp(slash, "/intent") == 0;
        if (!ch || (!cp && !in)) {
            free(ch);
            ret = mcdc_errf(err, MCDC_EIO, "store: reading positions of task %s: unexpected key %s", task_id, kv->key);
            break;
        }
        if (n && strcmp(rows[n - 1].channel, ch) == 0) free(ch);
        else rows[n++].channel = ch;
        store_position *p = &rows[n - 1].p;
        if (es_pos_decode(kv->value, kv->value_len, cp ? &p->checkpoint : &p->intent,
                          cp ? &p->checkpoint_ts : &p->intent_ts))
            ret = mcdc_errf(err, MCDC_EIO, "store: reading positions of task %s: channel %s: the value of %s is not "
                            "a position mcdc wrote", task_id, rows[n - 1].channel, kv->key);
    }
    etcd_txn_result_free(&r);
    if (n) qsort(rows, n, sizeof *rows, by_channel);
    for (size_t i = 0; i < n && ret == 0; i++) {
        rows[i].p.channel = rows[i].channel;
        ret = fn(ud, &rows[i].p);
    }
    for (size_t i = 0; i < n; i++) free(rows[i].channel);
    free(rows);
    return ret;
}

/* ---- bindings and copies: one key per (task, source collection) ---- */

static const char *source_key(const etcd_store *s, mcdc_buf *b, const char *kind, const char *task_id, int64_t source_id) {
    char sid[24];
    snprintf(sid, sizeof sid, "%" PRId64, source_id);
    return es_key(s, b, kind, task_id, sid);
}

/* Deletes kind/<task>/<source>: MCDC_ENOTFOUND "no such <noun>" when absent. */
static int source_delete(etcd_store *s, const char *kind, const char *noun, const char *task_id, int64_t source_id,
                         mcdc_err *err) {
    mcdc_buf k = MCDC_BUF_INIT;
    const char *key = source_key(s, &k, kind, task_id, source_id);
    etcd_cmp exists = {.key = key, .target = ETCD_CMP_VERSION, .op = ETCD_GREATER, .number = 0};
    etcd_op del = {.type = ETCD_OP_DELETE, .key = key};
    char desc[200];
    snprintf(desc, sizeof desc, "deleting the %s of task %s source collection %" PRId64, noun, task_id, source_id);
    etcd_txn_result kept;
    int rc = es_guarded(s, task_id, desc, &exists, 1, &del, 1, false, &kept, err);
    if (rc == 1) {
        /* Gone: by an earlier attempt of ours whose answer was lost, or never there. */
        rc = kept.retried ? 0 : mcdc_errf(err, MCDC_ENOTFOUND, "store: %s: no such %s", desc, noun);
        etcd_txn_result_free(&kept);
    }
    mcdc_buf_free(&k);
    return rc;
}

static int source_save(etcd_store *s, const char *kind, const char *noun, const char *task_id, int64_t source_id,
                       const char *value, mcdc_err *err) {
    mcdc_buf k = MCDC_BUF_INIT;
    etcd_op put = {.type = ETCD_OP_PUT, .key = source_key(s, &k, kind, task_id, source_id), .value = value,
                   .value_len = strlen(value)};
    char desc[200];
    snprintf(desc, sizeof desc, "saving the %s of task %s source collection %" PRId64, noun, task_id, source_id);
    int rc = es_guarded(s, task_id, desc, NULL, 0, &put, 1, false, NULL, err);
    mcdc_buf_free(&k);
    return rc;
}

/* The rows of kind for the task, each with its source id, sorted by it. */
typedef struct source_row {
    int64_t source_id;
    const etcd_kv *kv;
} source_row;

static int by_source(const void *a, const void *b) {
    int64_t x = ((const source_row *)a)->source_id, y = ((const source_row *)b)->source_id;
    return (x > y) - (x < y);
}

static int source_rows(etcd_store *s, const char *kind, const char *what, const char *task_id, etcd_txn_result *r,
                       source_row **rows, size_t *n, mcdc_err *err) {
    size_t skip;
    if (read_rows(s, kind, task_id, what, r, &skip, err)) return -1;
    const etcd_op_result *o = &r->ops[1];
    *rows = mcdc_xcalloc(o->n_kvs ? o->n_kvs : 1, sizeof **rows);
    *n = 0;
    for (size_t i = 0; i < o->n_kvs; i++) {
        const char *rest = o->kvs[i].key + skip;
        char *end;
        long long v = strtoll(rest, &end, 10);
        if (!*rest || *end) {
            free(*rows);
            etcd_txn_result_free(r);
            return mcdc_errf(err, MCDC_EIO, "store: %s of task %s: unexpected key %s", what, task_id, o->kvs[i].key);
        }
        (*rows)[(*n)++] = (source_row){v, &o->kvs[i]};
    }
    if (*n) qsort(*rows, *n, sizeof **rows, by_source);
    return 0;
}

int es_binding_save(store *base, const char *task_id, const store_binding *b, mcdc_err *err) {
    char *val = es_binding_encode(b);
    int rc = source_save(es_of(base), "bindings", "binding", task_id, b->source_id, val, err);
    free(val);
    return rc;
}

int es_binding_each(store *base, const char *task_id, store_binding_fn fn, void *ud, mcdc_err *err) {
    etcd_txn_result r;
    source_row *rows;
    size_t n;
    if (source_rows(es_of(base), "bindings", "reading the bindings", task_id, &r, &rows, &n, err)) return -1;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        store_binding b = {0};
        char *db, *name;
        if (es_binding_decode(rows[i].kv->value, rows[i].kv->value_len, &b, &db, &name)) {
            ret = mcdc_errf(err, MCDC_EIO, "store: reading the bindings of task %s: the value of %s is not a binding "
                            "mcdc wrote", task_id, rows[i].kv->key);
            break;
        }
        b.source_id = rows[i].source_id;
        ret = fn(ud, &b);
        free(db);
        free(name);
    }
    free(rows);
    etcd_txn_result_free(&r);
    return ret;
}

int es_binding_delete(store *base, const char *task_id, int64_t source_id, mcdc_err *err) {
    return source_delete(es_of(base), "bindings", "binding", task_id, source_id, err);
}

int es_copy_save(store *base, const char *task_id, int64_t source_id, const char *state_json, mcdc_err *err) {
    return source_save(es_of(base), "copies", "copy", task_id, source_id, state_json, err);
}

int es_copy_each(store *base, const char *task_id, store_copy_fn fn, void *ud, mcdc_err *err) {
    etcd_txn_result r;
    source_row *rows;
    size_t n;
    if (source_rows(es_of(base), "copies", "reading the copies", task_id, &r, &rows, &n, err)) return -1;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        /* The copier's text, NUL-terminated for it: etcd's value is not. */
        char *text = mcdc_xmalloc(rows[i].kv->value_len + 1);
        if (rows[i].kv->value_len) memcpy(text, rows[i].kv->value, rows[i].kv->value_len);
        text[rows[i].kv->value_len] = '\0';
        ret = fn(ud, rows[i].source_id, text);
        free(text);
    }
    free(rows);
    etcd_txn_result_free(&r);
    return ret;
}

int es_copy_delete(store *base, const char *task_id, int64_t source_id, mcdc_err *err) {
    return source_delete(es_of(base), "copies", "copy", task_id, source_id, err);
}
