/* task_manager.c — see task_manager.h. Tasks live in memory and in the
 * store; the store is the truth across restarts: on open, every task is
 * loaded and the ones that were running start again from their checkpoints.
 *
 * Locks. No API call waits on the network, a sleep or a join while it holds
 * a lock another call needs:
 *   - tm->mu, the list lock, guards the entry list, each entry's refs and
 *     flags, and busy/closing. It is held only to look up, add, remove and
 *     count: never across a store call, a target call or a join.
 *   - entry->op, one per task, serialises what changes a task (pause,
 *     resume, delete, skip_message, resync): one at a time per task, on the
 *     HTTP thread that asked, and that thread may wait (a pause joins the task's
 *     threads: task_stop in task.h says how long). Taken with tm->mu not
 *     held; tm->mu may be taken inside it, never the other way round.
 *   - t->mu (task_int.h) is the task's own, held briefly by its threads and
 *     by task_snapshot_take. get and list take snapshots holding no manager
 *     lock, so they never wait on an operation, a create or a frozen target.
 * Entries are reference counted: the list holds one reference, and so does
 * every call that uses the task outside tm->mu; the last one of an entry
 * out of the list frees it.
 *
 * Create makes the task object (no thread yet), then reserves its id and
 * coverage under tm->mu as an entry marked `creating`, so two creates of
 * one id or of overlapping coverage cannot both pass; it probes the target
 * and pins the first positions outside the lock, then publishes the entry or
 * drops it. Until then the task is not listed, and every call naming its id
 * (a second create too) is MCDC_EEXIST, saying it is being created.
 * Delete marks the entry gone (new calls naming it, and a create of the
 * id: MCDC_EEXIST until the delete ends), stops the task and deletes it from
 * the store, then takes the entry out of the list; if the store refuses,
 * the entry and the task are back as they were.
 * Close refuses new calls (MCDC_EUNAVAIL), waits for those in flight, stops
 * the ownership loop, then stops every task, all at once, and gives the
 * ones it ran back to the store (store_task_release), so another instance
 * takes them at once rather than after the lease.
 *
 * Several instances (store.h's ownership): every stored task has an entry
 * here, but only the ones this instance owns run; the others are remote
 * entries (a task object never started, showing what the store holds, and
 * the owner's URL). Calls naming a remote task are MCDC_ENOTOWNER and
 * task_manager_owner says where to send them; list shows them all. An
 * entry never turns remote or local in place: the ownership loop
 * (task_owners.c) puts a new entry in its place and marks the old one
 * replaced, under the task's op lock, so an operation that waited for that
 * lock looks the id up again. */
#include "pipeline/task_manager.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "pipeline/task.h"
#include "pipeline/task_coverage.h"
#include "pipeline/task_manager_int.h"
#include "target/milvus_client.h"

entry *tm_entry_new(task *t) {
    entry *e = mcdc_xcalloc(1, sizeof *e);
    e->t = t;
    e->refs = 1;
    pthread_mutex_init(&e->op, NULL);
    return e;
}

void tm_entry_free(entry *e) {
    task_free(e->t);
    pthread_mutex_destroy(&e->op);
    free(e->owner_url);
    free(e);
}

entry *tm_find_any(task_manager *tm, const char *id) {
    for (size_t i = 0; i < tm->n; i++)
        if (strcmp(task_id(tm->list[i]->t), id) == 0) return tm->list[i];
    return NULL;
}

void tm_list_add(task_manager *tm, entry *e) {
    tm->list = mcdc_xrealloc(tm->list, (tm->n + 1) * sizeof *tm->list);
    tm->list[tm->n++] = e;
}

void tm_list_remove(task_manager *tm, entry *e) {
    for (size_t i = 0; i < tm->n; i++) {
        if (tm->list[i] == e) {
            memmove(&tm->list[i], &tm->list[i + 1], (tm->n - i - 1) * sizeof *tm->list);
            tm->n--;
            return;
        }
    }
}

void tm_list_replace(task_manager *tm, entry *old, entry *next) {
    old->replaced = true;
    for (size_t i = 0; i < tm->n; i++) {
        if (tm->list[i] == old) {
            tm->list[i] = next;
            return;
        }
    }
    tm_list_add(tm, next);
}

/* Under tm->mu: a new call may start. */
static int admit(task_manager *tm, mcdc_err *err) {
    if (!tm->closing) {
        tm->busy++;
        return 0;
    }
    return mcdc_errf(err, MCDC_EUNAVAIL, "mcdc is shutting down");
}

/* Under tm->mu: a call ended. */
static void done(task_manager *tm) {
    if (--tm->busy == 0) pthread_cond_broadcast(&tm->idle);
}

void tm_put(task_manager *tm, entry *e, bool counted) {
    pthread_mutex_lock(&tm->mu);
    bool last = --e->refs == 0;
    if (counted) done(tm);
    pthread_mutex_unlock(&tm->mu);
    if (last) tm_entry_free(e);
}

void tm_start_or_pause(task *t) {
    mcdc_err err;
    /* Returns at once: the supervisor starts the workers and retries what
     * is down (the target, the queue) with the error shown. */
    if (task_state_now(t) == TASK_RUNNING && task_start(t, &err)) {
        log_error("task %s: could not start again: %s", task_id(t), err.msg);
        task_pause_on_error(t, err.msg);
    }
}

/* Under tm->mu: the refusal of a call naming a task another instance runs. */
static int not_owner(const entry *e, mcdc_err *err) {
    if (e->owner_url)
        return mcdc_errf(err, MCDC_ENOTOWNER, "task '%s' is run by another mcdc instance, %s", task_id(e->t),
                         e->owner_url);
    return mcdc_errf(err, MCDC_ENOTOWNER,
                     "no mcdc instance runs task '%s' right now (its owner stopped; another takes it over within "
                     "the store's lease); retry",
                     task_id(e->t));
}

/* The published task of the id, run here, with a reference for the call;
 * NULL with MCDC_ENOTFOUND, MCDC_ENOTOWNER when another instance runs it,
 * MCDC_EEXIST while its create or delete runs (either may still fail: "not
 * found" would let a delete with ignore_not_found report a task gone that
 * is about to exist), or MCDC_EUNAVAIL while closing. Release with
 * tm_put(.., true). */
static entry *acquire(task_manager *tm, const char *id, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    entry *e = tm_find_any(tm, id);
    if (admit(tm, err)) e = NULL;
    else if (!e || e->creating || e->gone || e->remote) {
        if (!e) mcdc_errf(err, MCDC_ENOTFOUND, "no task '%s'", id);
        else if (e->remote && !e->creating && !e->gone) not_owner(e, err);
        else mcdc_errf(err, MCDC_EEXIST, "task '%s' is being %s; ask again when that ends", id,
                       e->creating ? "created" : "deleted");
        done(tm);
        e = NULL;
    } else {
        e->refs++;
    }
    pthread_mutex_unlock(&tm->mu);
    return e;
}

/* What get and list show as the owner of a task run here. */
static const char *self_name(task_manager *tm) {
    return tm->env.advertise && tm->env.advertise[0] ? tm->env.advertise : store_instance_id(tm->env.store);
}

/* ---- open and close ------------------------------------------------------------------- */

task_manager *task_manager_open(const task_env *env, mcdc_err *err) {
    task_manager *tm = mcdc_xcalloc(1, sizeof *tm);
    tm->env = *env;
    pthread_mutex_init(&tm->mu, NULL);
    pthread_cond_init(&tm->idle, NULL);
    /* Not shared yet: open runs before any API call and before the loop. */
    if (store_task_each(env->store, tm_adopt_at_open, tm, err) || tm_owners_start(tm, err)) {
        task_manager_close(tm);
        return NULL;
    }
    size_t remote = 0;
    for (size_t i = 0; i < tm->n; i++) remote += tm->list[i]->remote;
    log_info("task manager: %zu task(s) loaded, %zu run here, %zu by other instances", tm->n, tm->n - remote,
             remote);
    return tm;
}

void task_manager_close(task_manager *tm) {
    if (!tm) return;
    pthread_mutex_lock(&tm->mu);
    tm->closing = true;
    while (tm->busy) pthread_cond_wait(&tm->idle, &tm->mu);
    pthread_mutex_unlock(&tm->mu);
    /* The loop holds no entry once joined: the list's references are the
     * last. Every task is signalled first so they wind down in parallel,
     * then joined; only then given up, so that their last checkpoints are
     * saved while this instance still owns them. */
    tm_owners_stop(tm);
    for (size_t i = 0; i < tm->n; i++) task_ask_stop(tm->list[i]->t);
    for (size_t i = 0; i < tm->n; i++) task_stop(tm->list[i]->t);
    for (size_t i = 0; i < tm->n; i++) {
        mcdc_err err;
        if (!tm->list[i]->remote && store_task_release(tm->env.store, task_id(tm->list[i]->t), &err))
            log_warn("task %s: giving it up: %s (another instance takes it when the lease ends)",
                     task_id(tm->list[i]->t), err.msg);
    }
    for (size_t i = 0; i < tm->n; i++) tm_entry_free(tm->list[i]);
    free(tm->list);
    for (size_t i = 0; i < tm->n_unreadable; i++) free(tm->unreadable[i]);
    free(tm->unreadable);
    pthread_cond_destroy(&tm->idle);
    pthread_mutex_destroy(&tm->mu);
    free(tm);
}

/* ---- create --------------------------------------------------------------------------- */

/* The target must answer before a task is stored: a typo in the address is
 * the user's error to see now, not a task that retries forever. */
static int check_target(const task_env *env, const task_spec *s, mcdc_err *err) {
    /* 10 s unless the task says: the create request waits for this answer,
     * while a worker's calls (target_ops.c) get 30 s to carry rows. */
    milvus_config mc;
    task_secrets held;
    if (task_target_milvus_config(&s->target, env->secrets_dir, 10000, &mc, &held, err)) {
        /* At a start the host is to fix it (retried); here it is the
         * request that names a secret mcdc cannot read: 400 at once. */
        err->code = MCDC_EINVAL;
        return -1;
    }
    milvus_client *c = milvus_open(&mc, err);
    task_secrets_free(&held);
    if (!c) {
        mcdc_err_prefix(err, "target Milvus %s", s->target.address);
        return -1;
    }
    milvus_close(c);
    return 0;
}

/* Under tm->mu: the id is free and no task covers what spec covers. Never
 * double: against every entry, paused ones (they resume), ones being
 * created and ones being deleted. */
static int reserve_check(task_manager *tm, const task_spec *spec, mcdc_err *err) {
    entry *had = tm_find_any(tm, spec->id);
    if (had)
        return mcdc_errf(err, MCDC_EEXIST, "task '%s' %s", spec->id,
                         had->creating ? "is being created" : had->gone ? "is being deleted" : "already exists");
    for (size_t i = 0; i < tm->n; i++)
        if (task_coverage_check_pair(task_spec_of(tm->list[i]->t), spec, err)) return -1;
    return 0;
}

/* Stores the new task and pins where each channel starts; the slow part,
 * outside every lock. */
static int create_slow(task_manager *tm, task *t, mcdc_err *err) {
    const task_spec *spec = task_spec_of(t);
    if ((tm->env.probe_target ? tm->env.probe_target : check_target)(&tm->env, spec, err)) return -1;
    json_t *j = task_spec_to_json(spec, true);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    store_task st = {.id = spec->id, .spec_json = text, .state = TASK_INITIAL, .reason = ""};
    int rc = store_task_put_new(tm->env.store, &st, err);
    free(text);
    if (rc) return -1;
    if ((tm->env.first_positions ? tm->env.first_positions : task_init_positions)(t, err)) {
        mcdc_err ignored;
        store_task_delete(tm->env.store, task_id(t), &ignored);
        return -1;
    }
    if (!spec->disable_auto_start) {
        /* Running is stored first: a worker may pause the task as soon as
         * it starts, and that pause must be what the store keeps. Starting
         * returns at once (the supervisor starts the workers). */
        mcdc_err serr;
        if (store_task_update(tm->env.store, task_id(t), TASK_RUNNING, "", NULL, &serr) || task_start(t, &serr))
            task_pause_on_error(t, serr.msg); /* created but not running: kept, paused with the reason */
    }
    return 0;
}

int task_manager_create(task_manager *tm, task_spec *spec, char **out_id, mcdc_err *err) {
    if (task_coverage_check_spec(spec, err)) {
        task_spec_free(spec);
        return -1;
    }
    /* The task object first (no thread, no call): the reservation's id and
     * spec are then the task's own, which never change. */
    task *t = task_new(mcdc_xstrdup(spec->id), spec, &tm->env, TASK_INITIAL, "");
    pthread_mutex_lock(&tm->mu);
    int rc = admit(tm, err);
    if (rc == 0 && (rc = reserve_check(tm, task_spec_of(t), err))) done(tm);
    entry *e = NULL;
    if (rc == 0) {
        e = tm_entry_new(t);
        e->creating = true;
        tm_list_add(tm, e);
    }
    pthread_mutex_unlock(&tm->mu);
    if (!e) {
        task_free(t);
        return -1;
    }

    rc = create_slow(tm, t, err);

    pthread_mutex_lock(&tm->mu);
    if (rc) tm_list_remove(tm, e);
    else e->creating = false;
    pthread_mutex_unlock(&tm->mu);
    if (rc == 0) {
        *out_id = mcdc_xstrdup(task_id(t));
        log_info("task %s created (%s)", *out_id, task_state_name(task_state_now(t)));
    }
    /* The list's reference, when the reservation is dropped. */
    if (rc) tm_put(tm, e, false);
    pthread_mutex_lock(&tm->mu);
    done(tm);
    pthread_mutex_unlock(&tm->mu);
    return rc;
}

/* ---- operations on one task ----------------------------------------------------------- */

typedef struct op_args {
    const char *channel;      /* skip_message */
    const mq_msgid *at;
    const char *position;
    const char *db;           /* resync */
    const char *collection;
    uint32_t quiet_ms, limit_ms; /* switchover (quiet, timeout), failover (drain) */
} op_args;

/* An operation on one task, under its op lock; a task deleted meanwhile is
 * MCDC_ENOTFOUND. */
typedef int (*task_op)(task_manager *tm, entry *e, const op_args *a, mcdc_err *err);

static int on_task(task_manager *tm, const char *id, task_op op, const op_args *a, mcdc_err *err) {
    /* An entry replaced while the call waited for its op lock: the task
     * moved between instances; the id is looked up again (a move is rare,
     * so a few tries are plenty; past them the caller asks the owner). */
    for (int tries = 0;; tries++) {
        entry *e = acquire(tm, id, err);
        if (!e) return -1;
        pthread_mutex_lock(&e->op);
        pthread_mutex_lock(&tm->mu);
        bool gone = e->gone, replaced = e->replaced;
        pthread_mutex_unlock(&tm->mu);
        int rc = 0;
        if (replaced && tries < 3) rc = 1;
        else if (replaced) rc = mcdc_errf(err, MCDC_ENOTOWNER, "task '%s' is moving between mcdc instances; retry", id);
        else if (gone) rc = mcdc_errf(err, MCDC_ENOTFOUND, "no task '%s'", id);
        else rc = op(tm, e, a, err);
        pthread_mutex_unlock(&e->op);
        tm_put(tm, e, true);
        if (rc != 1) return rc;
    }
}

static int delete_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)a;
    task *t = e->t;
    pthread_mutex_lock(&tm->mu);
    e->gone = true;
    pthread_mutex_unlock(&tm->mu);
    /* Workers stop first: their last checkpoint save must find the task
     * still in the store. */
    task_stop(t);
    /* Read after the stop: a worker may have paused the task meanwhile, and
     * the store (untouched if the delete fails) then says Paused too. */
    bool was_running = task_state_now(t) == TASK_RUNNING;
    if (store_task_delete(tm->env.store, task_id(t), err) == 0) {
        log_info("task %s deleted", task_id(t));
        pthread_mutex_lock(&tm->mu);
        tm_list_remove(tm, e);
        pthread_mutex_unlock(&tm->mu);
        tm_put(tm, e, false); /* the list's; on_task's is the last */
        return 0;
    }
    /* Another instance owns it now: not restarted here (the ownership loop
     * makes the entry remote); the caller asks the owner. */
    mcdc_err again;
    if (was_running && err->code != MCDC_ENOTOWNER && task_start(t, &again)) task_pause_on_error(t, again.msg);
    pthread_mutex_lock(&tm->mu);
    e->gone = false;
    pthread_mutex_unlock(&tm->mu);
    return -1;
}

static int pause_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)tm, (void)a;
    return task_pause_by_request(e->t, err);
}

static int resume_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)a;
    task *t = e->t;
    if (store_task_update(tm->env.store, task_id(t), TASK_RUNNING, "", NULL, err) || task_start(t, err)) return -1;
    log_info("task %s resumed", task_id(t));
    return 0;
}

static int skip_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)tm;
    if (task_request_skip(e->t, a->channel, a->at, err)) return -1;
    log_warn("task %s: operator asked to skip the message at %s position %s", task_id(e->t), a->channel, a->position);
    return 0;
}

static int resync_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)tm;
    /* Under the op lock no operator's pause or resume comes between this
     * and the copy's start; a worker's pause may come at any time, and what
     * a copy does then is task_resync's (task.h). */
    if (task_state_now(e->t) == TASK_PAUSED)
        return mcdc_errf(err, MCDC_EINVAL, "task '%s' is paused; resume it first", task_id(e->t));
    if (task_resync(e->t, a->db, a->collection, err)) return -1;
    log_info("task %s: resync of %s.%s asked for", task_id(e->t), a->db, a->collection);
    return 0;
}

static int verify_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)tm;
    /* A paused task's watermark stands still: the verify would wait for it
     * to pass the moment it compares at, and time out. */
    if (task_state_now(e->t) == TASK_PAUSED)
        return mcdc_errf(err, MCDC_EINVAL, "task '%s' is paused; resume it first", task_id(e->t));
    if (task_verify_start(e->t, a->db, a->collection, err)) return -1;
    log_info("task %s: verify of %s%s%s asked for", task_id(e->t), a->collection ? a->db : "every covered collection",
             a->collection ? "." : "", a->collection ? a->collection : "");
    return 0;
}

int task_manager_delete(task_manager *tm, const char *id, mcdc_err *err) { return on_task(tm, id, delete_op, NULL, err); }
int task_manager_pause(task_manager *tm, const char *id, mcdc_err *err) { return on_task(tm, id, pause_op, NULL, err); }
int task_manager_resume(task_manager *tm, const char *id, mcdc_err *err) { return on_task(tm, id, resume_op, NULL, err); }

int task_manager_resync(task_manager *tm, const char *id, const char *db, const char *collection, mcdc_err *err) {
    return on_task(tm, id, resync_op, &(op_args){.db = db, .collection = collection}, err);
}

int task_manager_verify(task_manager *tm, const char *id, const char *db, const char *collection, mcdc_err *err) {
    return on_task(tm, id, verify_op, &(op_args){.db = db, .collection = collection}, err);
}

static int switchover_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)tm;
    return task_switchover_start(e->t, a->quiet_ms, a->limit_ms, err);
}

static int failover_op(task_manager *tm, entry *e, const op_args *a, mcdc_err *err) {
    (void)tm;
    return task_failover_start(e->t, a->limit_ms, err);
}

int task_manager_switchover(task_manager *tm, const char *id, uint32_t quiet_ms, uint32_t timeout_ms, mcdc_err *err) {
    return on_task(tm, id, switchover_op, &(op_args){.quiet_ms = quiet_ms, .limit_ms = timeout_ms}, err);
}

int task_manager_failover(task_manager *tm, const char *id, uint32_t drain_ms, mcdc_err *err) {
    return on_task(tm, id, failover_op, &(op_args){.limit_ms = drain_ms}, err);
}

int task_manager_skip_message(task_manager *tm, const char *id, const char *channel, const char *position,
                              mcdc_err *err) {
    mq_msgid at;
    if (mq_msgid_parse(tm->env.mq.type, position, &at, err)) return -1;
    return on_task(tm, id, skip_op, &(op_args){.channel = channel, .at = &at, .position = position}, err);
}

/* ---- reads: no operation lock, no wait --------------------------------------------------- */

task_snapshot *task_manager_get(task_manager *tm, const char *id, mcdc_err *err) {
    entry *e = acquire(tm, id, err);
    if (!e) return NULL;
    task_snapshot *s = task_snapshot_take(e->t);
    snprintf(s->owner, sizeof s->owner, "%s", self_name(tm));
    tm_put(tm, e, true);
    return s;
}

size_t task_manager_list(task_manager *tm, task_snapshot ***out) {
    pthread_mutex_lock(&tm->mu);
    mcdc_err ignored;
    size_t n = 0;
    entry **held = NULL;
    char **owners = NULL; /* the remote ones' owner, copied under the lock */
    if (admit(tm, &ignored) == 0) {
        held = mcdc_xcalloc(tm->n ? tm->n : 1, sizeof *held);
        owners = mcdc_xcalloc(tm->n ? tm->n : 1, sizeof *owners);
        for (size_t i = 0; i < tm->n; i++) {
            entry *e = tm->list[i];
            if (e->creating || e->gone) continue;
            e->refs++;
            if (e->remote) owners[n] = mcdc_xstrdup(e->owner_url ? e->owner_url : "");
            held[n++] = e;
        }
    }
    pthread_mutex_unlock(&tm->mu);
    task_snapshot **list = mcdc_xcalloc(n ? n : 1, sizeof *list);
    for (size_t i = 0; i < n; i++) {
        task_snapshot *s = list[i] = task_snapshot_take(held[i]->t);
        /* remote is set once, before the entry is listed: no lock needed. */
        if (held[i]->remote) {
            s->remote = true;
            s->starting = false; /* never started here: the store's state is all there is */
            snprintf(s->owner, sizeof s->owner, "%s", owners[i]);
        } else {
            snprintf(s->owner, sizeof s->owner, "%s", self_name(tm));
        }
        free(owners[i]);
        tm_put(tm, held[i], false);
    }
    if (held) {
        pthread_mutex_lock(&tm->mu);
        done(tm);
        pthread_mutex_unlock(&tm->mu);
    }
    free(held);
    free(owners);
    *out = list;
    return n;
}

int task_manager_positions(task_manager *tm, const char *id, task_positions *out, mcdc_err *err) {
    *out = (task_positions){0};
    entry *e = acquire(tm, id, err);
    if (!e) return -1;
    mcdc_err serr;
    if (task_positions_read(e->t, out, &serr)) log_warn("task %s: reading positions: %s", id, serr.msg);
    tm_put(tm, e, true);
    return 0;
}

int task_manager_owner(task_manager *tm, const char *id, char **owner_url, mcdc_err *err) {
    *owner_url = NULL;
    bool mine = false;
    if (store_task_owner(tm->env.store, id, &mine, owner_url, err)) return -1;
    if (mine) {
        free(*owner_url);
        *owner_url = NULL;
    }
    return 0;
}
