/* fake_store.h — several mcdc "instances" on one store, without etcd: each
 * instance is a store handle of its own (store_int.h's interface) over one
 * shared SQLite ":memory:" store, with an in-memory ownership map that
 * keeps store.h's ownership promises: put_new claims, a claim takes a task
 * nobody owns, every write of a task's state by an instance that does not
 * own it is refused with MCDC_ENOTOWNER and changes nothing, wait_change
 * wakes on any change of tasks or owners. A switch makes an instance lose
 * every ownership at once and claim none until it is given back (its lease
 * expired: the process died or was cut off). Header-only, for the tests of
 * the task manager and of the HTTP forwarding. */
#ifndef MCDC_TEST_FAKE_STORE_H
#define MCDC_TEST_FAKE_STORE_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
/* worker_io.h (through pipeline/task.h) has a store_ops of its own, the
 * positions a worker saves: the backend table is renamed in this header. */
#define store_ops fake_backend_ops
#include "store/store_int.h"
#undef store_ops

#define FAKE_MAX_TASKS 64
#define FAKE_UNUSED __attribute__((unused))

typedef struct fake_inst fake_inst;

typedef struct fake_shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long version;   /* bumped on every change an instance may care for */
    store *db;               /* the data, shared */
    struct {
        char id[128];
        fake_inst *owner;    /* NULL: nobody */
    } owners[FAKE_MAX_TASKS];
    size_t n;
} fake_shared;

struct fake_inst {
    store base;              /* first: the store handle */
    fake_shared *sh;
    char id[32];
    char url[128];
    bool lost;               /* under sh->mu: owns nothing, claims nothing */
    unsigned long seen;      /* under sh->mu: the version wait_change saw last */
    unsigned writes;         /* under sh->mu: state writes accepted */
    unsigned refused;        /* under sh->mu: state writes refused (not the owner) */
};

static fake_inst *fake_of(store *s) { return (fake_inst *)s; }

/* Under sh->mu. */
static int fake_slot(fake_shared *sh, const char *id) {
    for (size_t i = 0; i < sh->n; i++)
        if (strcmp(sh->owners[i].id, id) == 0) return (int)i;
    return -1;
}

/* Under sh->mu. */
static void fake_bump(fake_shared *sh) {
    sh->version++;
    pthread_cond_broadcast(&sh->cv);
}

/* A state write of task id by f: allowed only to its owner. */
static int fake_check_owner(fake_inst *f, const char *id, mcdc_err *err) {
    pthread_mutex_lock(&f->sh->mu);
    int i = fake_slot(f->sh, id);
    bool ok = i >= 0 && f->sh->owners[i].owner == f && !f->lost;
    if (ok) f->writes++;
    else f->refused++;
    pthread_mutex_unlock(&f->sh->mu);
    return ok ? 0 : mcdc_errf(err, MCDC_ENOTOWNER, "fake store: instance %s does not own task %s", f->id, id);
}

static void fake_close(store *s) { free(s); }

/* The task and its owner appear together, as in one etcd transaction: the
 * owner is set under the lock first, so another instance that reads the
 * record at once finds it owned (its claim takes nothing), and is taken back
 * if the record cannot be written. */
static int fake_task_put_new(store *s, const store_task *t, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    pthread_mutex_lock(&f->sh->mu);
    int i = fake_slot(f->sh, t->id);
    bool added = false;
    if (i < 0 && f->sh->n < FAKE_MAX_TASKS) {
        i = (int)f->sh->n++;
        snprintf(f->sh->owners[i].id, sizeof f->sh->owners[i].id, "%s", t->id);
        added = true;
    }
    fake_inst *before = i >= 0 ? f->sh->owners[i].owner : NULL;
    if (i >= 0) f->sh->owners[i].owner = f;
    int rc = store_task_put_new(f->sh->db, t, err);
    if (rc && i >= 0) {
        if (added) f->sh->owners[i] = f->sh->owners[--f->sh->n];
        else f->sh->owners[i].owner = before;
    }
    if (!rc) fake_bump(f->sh);
    pthread_mutex_unlock(&f->sh->mu);
    return rc ? -1 : 0;
}

static int fake_task_update(store *s, const char *id, int state, const char *reason, const store_msg_ref *paused_at,
                            mcdc_err *err) {
    fake_inst *f = fake_of(s);
    if (fake_check_owner(f, id, err) || store_task_update(f->sh->db, id, state, reason, paused_at, err)) return -1;
    pthread_mutex_lock(&f->sh->mu);
    fake_bump(f->sh);
    pthread_mutex_unlock(&f->sh->mu);
    return 0;
}

static int fake_task_set_skip(store *s, const char *id, const store_msg_ref *skip, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    return fake_check_owner(f, id, err) || store_task_set_skip(f->sh->db, id, skip, err) ? -1 : 0;
}

static int fake_task_each(store *s, store_task_fn fn, void *ud, mcdc_err *err) {
    return store_task_each(fake_of(s)->sh->db, fn, ud, err);
}

static int fake_task_delete(store *s, const char *id, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    if (store_task_delete(f->sh->db, id, err)) return -1;
    pthread_mutex_lock(&f->sh->mu);
    int i = fake_slot(f->sh, id);
    if (i >= 0) f->sh->owners[i] = f->sh->owners[--f->sh->n];
    fake_bump(f->sh);
    pthread_mutex_unlock(&f->sh->mu);
    return 0;
}

static int fake_position_save(store *s, store_pos_kind kind, const char *what, const char *task_id,
                              const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err) {
    (void)what;
    fake_inst *f = fake_of(s);
    if (fake_check_owner(f, task_id, err)) return -1;
    return kind == STORE_CHECKPOINT ? store_checkpoint_save(f->sh->db, task_id, channel, id, ts, err)
                                    : store_intent_save(f->sh->db, task_id, channel, id, ts, err);
}

static int fake_position_each(store *s, const char *task_id, store_position_fn fn, void *ud, mcdc_err *err) {
    return store_position_each(fake_of(s)->sh->db, task_id, fn, ud, err);
}

static int fake_binding_save(store *s, const char *task_id, const store_binding *b, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    return fake_check_owner(f, task_id, err) || store_binding_save(f->sh->db, task_id, b, err) ? -1 : 0;
}

static int fake_binding_each(store *s, const char *task_id, store_binding_fn fn, void *ud, mcdc_err *err) {
    return store_binding_each(fake_of(s)->sh->db, task_id, fn, ud, err);
}

static int fake_binding_delete(store *s, const char *task_id, int64_t source_id, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    return fake_check_owner(f, task_id, err) || store_binding_delete(f->sh->db, task_id, source_id, err) ? -1 : 0;
}

static int fake_copy_save(store *s, const char *task_id, int64_t source_id, const char *state_json, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    return fake_check_owner(f, task_id, err) || store_copy_save(f->sh->db, task_id, source_id, state_json, err) ? -1
                                                                                                              : 0;
}

static int fake_copy_each(store *s, const char *task_id, store_copy_fn fn, void *ud, mcdc_err *err) {
    return store_copy_each(fake_of(s)->sh->db, task_id, fn, ud, err);
}

static int fake_copy_delete(store *s, const char *task_id, int64_t source_id, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    return fake_check_owner(f, task_id, err) || store_copy_delete(f->sh->db, task_id, source_id, err) ? -1 : 0;
}

static const char *fake_instance_id(store *s) { return fake_of(s)->id; }

/* Under sh->mu: *url gets the owner's URL unless it is f. */
static void fake_owner_url(fake_inst *f, int i, char **url) {
    fake_inst *o = i >= 0 ? f->sh->owners[i].owner : NULL;
    if (url && o && o != f) *url = mcdc_xstrdup(o->url);
}

static int fake_task_claim(store *s, const char *task_id, bool *owned, char **owner_url, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    bool exists;
    /* The SQLite store's claim says whether the task exists. */
    if (store_task_claim(f->sh->db, task_id, &exists, NULL, err)) return -1;
    pthread_mutex_lock(&f->sh->mu);
    int i = fake_slot(f->sh, task_id);
    if (i < 0 && f->sh->n < FAKE_MAX_TASKS) {
        i = (int)f->sh->n++;
        snprintf(f->sh->owners[i].id, sizeof f->sh->owners[i].id, "%s", task_id);
        f->sh->owners[i].owner = NULL;
    }
    if (i >= 0 && !f->lost && !f->sh->owners[i].owner) {
        f->sh->owners[i].owner = f;
        fake_bump(f->sh);
    }
    *owned = i >= 0 && f->sh->owners[i].owner == f && !f->lost;
    if (!*owned) fake_owner_url(f, i, owner_url);
    pthread_mutex_unlock(&f->sh->mu);
    return 0;
}

static int fake_task_release(store *s, const char *task_id, mcdc_err *err) {
    (void)err;
    fake_inst *f = fake_of(s);
    pthread_mutex_lock(&f->sh->mu);
    int i = fake_slot(f->sh, task_id);
    if (i >= 0 && f->sh->owners[i].owner == f) {
        f->sh->owners[i].owner = NULL;
        fake_bump(f->sh);
    }
    pthread_mutex_unlock(&f->sh->mu);
    return 0;
}

static int fake_task_owner(store *s, const char *task_id, bool *mine, char **owner_url, mcdc_err *err) {
    fake_inst *f = fake_of(s);
    bool exists;
    if (store_task_claim(f->sh->db, task_id, &exists, NULL, err)) return -1;
    pthread_mutex_lock(&f->sh->mu);
    int i = fake_slot(f->sh, task_id);
    *mine = i >= 0 && f->sh->owners[i].owner == f && !f->lost;
    if (!*mine) fake_owner_url(f, i, owner_url);
    pthread_mutex_unlock(&f->sh->mu);
    return 0;
}

static bool fake_task_owned(store *s, const char *task_id) {
    fake_inst *f = fake_of(s);
    pthread_mutex_lock(&f->sh->mu);
    int i = fake_slot(f->sh, task_id);
    bool owned = i >= 0 && f->sh->owners[i].owner == f && !f->lost;
    pthread_mutex_unlock(&f->sh->mu);
    return owned;
}

static int fake_wait_change(store *s, uint32_t timeout_ms, mcdc_err *err) {
    (void)err;
    fake_inst *f = fake_of(s);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&f->sh->mu);
    int rc = 0;
    while (f->seen == f->sh->version && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&f->sh->cv, &f->sh->mu, &until);
    bool changed = f->seen != f->sh->version;
    f->seen = f->sh->version;
    pthread_mutex_unlock(&f->sh->mu);
    return changed ? 1 : 0;
}

static const fake_backend_ops FAKE_OPS = {
    .close = fake_close,
    .task_put_new = fake_task_put_new,
    .task_update = fake_task_update,
    .task_set_skip = fake_task_set_skip,
    .task_each = fake_task_each,
    .task_delete = fake_task_delete,
    .position_save = fake_position_save,
    .position_each = fake_position_each,
    .binding_save = fake_binding_save,
    .binding_each = fake_binding_each,
    .binding_delete = fake_binding_delete,
    .copy_save = fake_copy_save,
    .copy_each = fake_copy_each,
    .copy_delete = fake_copy_delete,
    .instance_id = fake_instance_id,
    .task_claim = fake_task_claim,
    .task_release = fake_task_release,
    .task_owner = fake_task_owner,
    .task_owned = fake_task_owned,
    .wait_change = fake_wait_change,
};

/* ---- what the tests drive ---------------------------------------------------------------- */

static FAKE_UNUSED fake_shared *fake_shared_new(void) {
    fake_shared *sh = mcdc_xcalloc(1, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&sh->cv, &ca);
    pthread_condattr_destroy(&ca);
    mcdc_err err;
    sh->db = store_open_sqlite(":memory:", &err);
    if (!sh->db) {
        fprintf(stderr, "fake store: %s\n", err.msg);
        abort();
    }
    return sh;
}

static FAKE_UNUSED void fake_shared_free(fake_shared *sh) {
    store_close(sh->db);
    pthread_cond_destroy(&sh->cv);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

/* An instance's store handle; close it with store_close. */
static FAKE_UNUSED fake_inst *fake_instance(fake_shared *sh, const char *id, const char *url) {
    fake_inst *f = mcdc_xcalloc(1, sizeof *f);
    f->base.ops = &FAKE_OPS;
    f->sh = sh;
    snprintf(f->id, sizeof f->id, "%s", id);
    snprintf(f->url, sizeof f->url, "%s", url);
    return f;
}

/* The instance's lease is gone (it died, or was cut off): it owns nothing
 * and claims nothing until fake_regain. */
static FAKE_UNUSED void fake_lose(fake_inst *f) {
    pthread_mutex_lock(&f->sh->mu);
    f->lost = true;
    for (size_t i = 0; i < f->sh->n; i++)
        if (f->sh->owners[i].owner == f) f->sh->owners[i].owner = NULL;
    fake_bump(f->sh);
    pthread_mutex_unlock(&f->sh->mu);
}

static FAKE_UNUSED void fake_regain(fake_inst *f) {
    pthread_mutex_lock(&f->sh->mu);
    f->lost = false;
    fake_bump(f->sh);
    pthread_mutex_unlock(&f->sh->mu);
}

/* Who owns the task: the instance, or NULL. */
static FAKE_UNUSED fake_inst *fake_owner(fake_shared *sh, const char *task_id) {
    pthread_mutex_lock(&sh->mu);
    int i = fake_slot(sh, task_id);
    fake_inst *o = i >= 0 ? sh->owners[i].owner : NULL;
    pthread_mutex_unlock(&sh->mu);
    return o;
}

static FAKE_UNUSED void fake_counts(fake_inst *f, unsigned *writes, unsigned *refused) {
    pthread_mutex_lock(&f->sh->mu);
    *writes = f->writes;
    *refused = f->refused;
    pthread_mutex_unlock(&f->sh->mu);
}

#endif
