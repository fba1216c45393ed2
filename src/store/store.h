/* store.h — where mcdc keeps its tasks, their positions and their
 * collection bindings.
 *
 * The delivery promise (design.md §2) rests on this file's two kinds of
 * position per (task, channel):
 *   checkpoint — everything before it was acknowledged by the target; a
 *                restart resumes here (seek inclusive, skip ts <= checkpoint ts);
 *   intent     — the highest position of a batch about to be sent. Between the
 *                checkpoint and the intent, a restart replays idempotently
 *                (upsert instead of insert); past it, plain inserts again.
 * Beside them, per (task, source collection), the binding to the target
 * collection it owns (store_binding, below), how far the copy of that
 * source collection's existing rows has come (store_copy_*), and with each
 * task the message it is paused at and the operator's skip of it
 * (store_msg_ref).
 * All are written durably before the call returns: a save that returned
 * survives a crash or kill -9 of mcdc (what SQLite's synchronous mode means
 * for OS crashes and power loss: store_sqlite.c). Positions are Milvus
 * msgIDs (mq.h) with the hybrid ts of the message.
 *
 * Every function is safe to call from any thread. Errors: MCDC_EIO for
 * database trouble (the message names the operation and SQLite's reason),
 * MCDC_ETIMEOUT when another process held the file's lock too long (retry);
 * with etcd, MCDC_EUNAVAIL or MCDC_ETIMEOUT when etcd does not answer
 * (retry), MCDC_ENOTOWNER when another instance owns the task (stop).
 *
 * Backends sit behind one small interface (store_int.h, private to
 * src/store): SQLite (store_sqlite.c, the default, for one mcdc process) and
 * etcd (store_etcd.c, shared by several `mcdc serve`, design.md §10).
 *
 * Ownership. With several instances on one store, each task is run by one
 * of them, its owner, through the owner's lease. Every write of a task's
 * state (task update, skip, positions, bindings, copies) by an instance
 * that does not own the task is refused with MCDC_ENOTOWNER and changes
 * nothing; it is checked by the store in the same transaction as the
 * write, so an instance that lost its lease (paused by the OS, cut off from
 * etcd) cannot move a checkpoint after another one took the task. The
 * SQLite store has one instance, which owns every task. */
#ifndef MCDC_STORE_H
#define MCDC_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "etcd/etcd.h"
#include "mq/mq.h"

typedef struct store store;

/* One message of a channel, for a task's pause and the operator's skip;
 * channel "" (or NULL when given) is none. */
typedef struct store_msg_ref {
    const char *channel;
    mq_msgid id;
} store_msg_ref;

typedef struct store_task {
    const char *id;
    const char *spec_json;   /* task_spec_to_json(.., with_secrets=true) */
    int state;               /* task_state */
    const char *reason;      /* why it is paused, or "" */
    /* Read back by store_task_each; store_task_put_new stores none. */
    store_msg_ref paused_at; /* the message an error paused the task at */
    store_msg_ref skip;      /* the operator's skip_message, not taken yet */
} store_task;

typedef struct store_position {
    const char *channel;
    mq_msgid checkpoint;     /* len 0 = none yet */
    uint64_t checkpoint_ts;
    mq_msgid intent;         /* len 0 = none */
    uint64_t intent_ts;
} store_position;

/* Opens (creating if needed) the SQLite file; ":memory:" works for tests. */
store *store_open_sqlite(const char *path, mcdc_err *err);

/* An etcd store shared by every `mcdc serve` with the same prefix. Open
 * grants this instance's lease (kept alive on the etcd client's thread) and
 * registers the instance (id -> advertise URL) under that lease, so the
 * registration and every ownership vanish together when the process dies
 * or is cut off longer than lease_ttl_s. An unreachable etcd is an error
 * here (MCDC_EUNAVAIL, naming the endpoints). */
typedef struct store_etcd_config {
    etcd_config etcd;
    const char *prefix;       /* every key under "<prefix>/"; "" or NULL = "mcdc" */
    const char *instance_id;  /* unique among the instances; NULL or "" = hostname-pid-random */
    const char *advertise;    /* base URL other instances forward API requests to, e.g. http://10.0.0.5:8444 */
    uint32_t lease_ttl_s;     /* 0 = 5: a dead owner's tasks move within about this + the watch delay */
} store_etcd_config;
store *store_open_etcd(const store_etcd_config *cfg, mcdc_err *err);

void store_close(store *s);

/* ---- ownership (see the top of the file) ---- */

/* This instance's id ("local" for SQLite); lives as long as the store. */
const char *store_instance_id(store *s);
/* Takes the task for this instance if nobody owns it: *owned is true when
 * this instance owns it now (it may have already). When another live
 * instance owns it, *owned is false and *owner_url (if not NULL) gets that
 * instance's advertise URL (malloc'd; NULL if it registered none).
 * MCDC_ENOTFOUND if no such task. store_task_put_new claims the new task
 * in the same transaction. */
int store_task_claim(store *s, const char *task_id, bool *owned, char **owner_url, mcdc_err *err);
/* Gives the task up (this instance stops running it; another may claim
 * it). Not owning it is not an error. */
int store_task_release(store *s, const char *task_id, mcdc_err *err);
/* Who owns the task now, read from the store: *mine true if this instance;
 * else *owner_url as for claim (NULL when nobody owns it). */
int store_task_owner(store *s, const char *task_id, bool *mine, char **owner_url, mcdc_err *err);
/* False as soon as this instance may have lost the task: its lease expired
 * or could not be renewed in time, or the task was claimed elsewhere. No
 * network call; a task's threads ask it before they write. Always true for
 * SQLite once the task exists. */
bool store_task_owned(store *s, const char *task_id);
/* Waits up to timeout_ms for a change another instance may have made that
 * concerns who runs what: a task created, deleted or whose state changed
 * elsewhere, an owner gone (lease expired or released), this instance's
 * own lease lost and a new one granted (every ownership is then gone).
 * Returns 1 when something changed (the caller re-reads the tasks and
 * claims what is free), 0 when the time passed quietly, -1 on error.
 * SQLite: sleeps and returns 0. */
int store_wait_change(store *s, uint32_t timeout_ms, mcdc_err *err);

/* Inserts a new task; MCDC_EEXIST if the id exists. update: MCDC_ENOTFOUND
 * if not; it sets state, reason and the message the task is paused at
 * (NULL: none) together. set_skip sets the skip request (NULL: clears it). */
int store_task_put_new(store *s, const store_task *t, mcdc_err *err);
int store_task_update(store *s, const char *id, int state, const char *reason, const store_msg_ref *paused_at,
                      mcdc_err *err);
int store_task_set_skip(store *s, const char *id, const store_msg_ref *skip, mcdc_err *err);
/* Calls fn for each task (in creation order). The store's lock is not held
 * during fn, so fn may call the store; the strings live until fn returns.
 * fn returns 0 to go on; anything else stops the walk and is returned as is
 * (err untouched). Same for store_position_each. */
typedef int (*store_task_fn)(void *ud, const store_task *t);
int store_task_each(store *s, store_task_fn fn, void *ud, mcdc_err *err);
/* Removes the task and all its positions, bindings and copy progress, in
 * one transaction; MCDC_ENOTFOUND if absent. */
int store_task_delete(store *s, const char *id, mcdc_err *err);

/* Saves exactly what is given (the caller keeps checkpoints monotonic). A
 * task that does not exist (deleted meanwhile) is MCDC_ENOTFOUND, never an
 * orphan position that a new task of the same id would resume from. */
int store_checkpoint_save(store *s, const char *task_id, const char *channel, const mq_msgid *id, uint64_t ts,
                          mcdc_err *err);
int store_intent_save(store *s, const char *task_id, const char *channel, const mq_msgid *id, uint64_t ts,
                      mcdc_err *err);
/* Each channel of the task, ordered by name; MCDC_ENOTFOUND if no such task. */
typedef int (*store_position_fn)(void *ud, const store_position *p);
int store_position_each(store *s, const char *task_id, store_position_fn fn, void *ud, mcdc_err *err);
/* One channel's positions: *found false (and *out zeroed) when the task has
 * none for it. out->channel points into the caller's `channel`. */
int store_position_find(store *s, const char *task_id, const char *channel, store_position *out, bool *found,
                        mcdc_err *err);

/* A source collection a task covers and the target collection it owns
 * (design.md §8, pipeline/bindings.h). Saved before the target collection
 * is created (state STORE_BINDING_CREATING, target_id 0) and again once it
 * exists, so a restart can tell a target collection mcdc created from one
 * it did not. */
enum { STORE_BINDING_CREATING = 0, STORE_BINDING_LIVE = 1, STORE_BINDING_DROPPED = 2 };
typedef struct store_binding {
    int64_t source_id;
    const char *target_db;
    const char *target_name;
    int64_t target_id;       /* the target's collection id; 0 until created */
    int state;               /* STORE_BINDING_* */
    uint64_t ts;             /* source hybrid ts of the change that set this state, 0 if none */
} store_binding;

/* Inserts or replaces the binding of (task, source_id); durable like a
 * checkpoint. MCDC_ENOTFOUND if the task does not exist. */
int store_binding_save(store *s, const char *task_id, const store_binding *b, mcdc_err *err);
/* Each binding of the task, ordered by source_id; the strings live until fn
 * returns; fn's contract as store_task_each's. MCDC_ENOTFOUND if no such task. */
typedef int (*store_binding_fn)(void *ud, const store_binding *b);
int store_binding_each(store *s, const char *task_id, store_binding_fn fn, void *ud, mcdc_err *err);
/* Removes the binding of (task, source_id), durably; MCDC_ENOTFOUND if the
 * task has none for that source collection (or does not exist). */
int store_binding_delete(store *s, const char *task_id, int64_t source_id, mcdc_err *err);

/* How far the copy of a source collection's existing rows (a snapshot) has
 * come, per (task, source collection id), so that a restart resumes the copy
 * instead of starting it over. The text is the copier's own JSON
 * (pipeline/copier.c): the store neither reads nor checks it, only keeps it
 * byte-exact. Same rules as bindings: a save inserts or replaces, durably,
 * and is MCDC_ENOTFOUND when the task does not exist; state_json must not be
 * NULL ("" is stored as given). */
int store_copy_save(store *s, const char *task_id, int64_t source_id, const char *state_json, mcdc_err *err);
/* Each copy of the task, ordered by source_id; state_json lives until fn
 * returns; fn's contract as store_task_each's. MCDC_ENOTFOUND if no such task. */
typedef int (*store_copy_fn)(void *ud, int64_t source_id, const char *state_json);
int store_copy_each(store *s, const char *task_id, store_copy_fn fn, void *ud, mcdc_err *err);
/* Removes the copy progress of (task, source_id), durably (the copy is done
 * or abandoned); MCDC_ENOTFOUND if there is none (or no such task). */
int store_copy_delete(store *s, const char *task_id, int64_t source_id, mcdc_err *err);

#endif
