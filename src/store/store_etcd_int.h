/* store_etcd_int.h — private to the etcd backend (store_etcd*.c): its
 * state, its key layout and value formats, and the one guarded write every
 * change of a task's state goes through.
 *
 * Keys, under "<prefix>/" (ids and channels escaped by es_escape, so no
 * '/' of theirs can make one task's prefix cover another's):
 *   tasks/<id>                      JSON: spec, state, reason, paused, skip, by
 *   positions/<id>/<channel>/checkpoint, .../intent   JSON: msgid (base64), ts
 *   bindings/<id>/<source_id>       JSON: db, name, target_id, state, ts
 *   copies/<id>/<source_id>         the copier's own text, byte-exact
 *   owners/<id>                     the owner's instance id, under its lease
 *   instances/<instance_id>         its advertise URL, under its lease
 * Checkpoint and intent are two keys so a save is one put without a read. */
#ifndef MCDC_STORE_ETCD_INT_H
#define MCDC_STORE_ETCD_INT_H

#include <pthread.h>

#include "base/buf.h"
#include "store/store_int.h"

typedef struct etcd_store {
    store base;
    etcd_client *c;
    char *prefix;             /* with its trailing '/' */
    char *instance_id;
    char *advertise;          /* "" = none */
    uint32_t ttl_s;
    char *endpoints;          /* for messages */

    pthread_mutex_t mu;       /* everything below */
    pthread_cond_t cv;
    int64_t lease;            /* this instance's current lease */
    /* Tasks this instance owns under `lease`, each with the revision at
     * which it became ours: a watch event older than that (our own release
     * before a new claim, delivered late) must not take it away again. */
    struct es_owned {
        char *id;
        int64_t rev;
    } *owned;
    size_t n_owned, cap_owned;
    bool pending;             /* a change for store_wait_change */
    bool stop;

    /* The watcher thread's own (store_etcd.c). */
    pthread_t th;
    bool th_started;
    etcd_watch *w_tasks, *w_owners;
} etcd_store;

static inline etcd_store *es_of(store *s) { return (etcd_store *)s; }

/* ---- keys and values (store_etcd_keys.c) ---- */

/* Appends s with every byte outside [A-Za-z0-9._-] as %XX. */
void es_escape(mcdc_buf *b, const char *s);
/* The inverse, of n bytes; malloc'd; NULL for a malformed escape. */
char *es_unescape(const char *s, size_t n);
/* "<prefix><kind>/<id>" + ("/" + sub) when sub; sub is escaped too. The
 * text lives in b. */
const char *es_key(const etcd_store *s, mcdc_buf *b, const char *kind, const char *id, const char *sub);

typedef struct es_task_val {
    char *spec_json, *reason, *paused_channel, *skip_channel, *by;
    mq_msgid paused_id, skip_id;
    int state;
} es_task_val;
/* JSON of a task; by = the instance writing it (malloc'd). */
char *es_task_encode(const es_task_val *t);
int es_task_decode(const uint8_t *v, size_t n, es_task_val *out);
void es_task_val_free(es_task_val *t);

char *es_pos_encode(const mq_msgid *id, uint64_t ts);
int es_pos_decode(const uint8_t *v, size_t n, mq_msgid *id, uint64_t *ts);
char *es_binding_encode(const store_binding *b);
/* db and name malloc'd into *db, *name. */
int es_binding_decode(const uint8_t *v, size_t n, store_binding *out, char **db, char **name);

/* ---- ownership (store_etcd.c) ---- */

int64_t es_lease(etcd_store *s);
void es_forget(etcd_store *s, const char *task_id);
/* rev: the revision at which the owner key became ours (a claim's Txn). */
void es_remember(etcd_store *s, const char *task_id, int64_t lease, int64_t rev);
/* After an etcd error of a put under the lease: a lease etcd no longer has
 * is this instance's lease being renewed, a transient MCDC_EUNAVAIL. */
void es_lease_err(mcdc_err *err);

/* ---- the guarded write (store_etcd_data.c) ---- */

/* Runs ops in one Txn iff this instance owns task_id under its current
 * lease, the task exists and every compare of extra holds. 0 done; -1 with
 * MCDC_ENOTFOUND ("<what> of task <id>: no such task") or MCDC_ENOTOWNER
 * (naming the owner), or an etcd error; 1 when only an extra compare failed
 * (the result then goes to *kept if not NULL: its op 2 + i reads extra[i]'s
 * key; free it). gone_is_done: a retried attempt that finds the task gone
 * counts as done (a delete of the task). */
int es_guarded(etcd_store *s, const char *task_id, const char *what, const etcd_cmp *extra, size_t n_extra,
               const etcd_op *ops, size_t n_ops, bool gone_is_done, etcd_txn_result *kept, mcdc_err *err);

/* The store_ops of the data (store_etcd_data.c). */
int es_task_put_new(store *base, const store_task *t, mcdc_err *err);
int es_task_update(store *base, const char *id, int state, const char *reason, const store_msg_ref *paused_at,
                   mcdc_err *err);
int es_task_set_skip(store *base, const char *id, const store_msg_ref *skip, mcdc_err *err);
int es_task_each(store *base, store_task_fn fn, void *ud, mcdc_err *err);
int es_task_delete(store *base, const char *id, mcdc_err *err);
int es_position_save(store *base, store_pos_kind kind, const char *what, const char *task_id, const char *channel,
                     const mq_msgid *id, uint64_t ts, mcdc_err *err);
int es_position_each(store *base, const char *task_id, store_position_fn fn, void *ud, mcdc_err *err);
int es_binding_save(store *base, const char *task_id, const store_binding *b, mcdc_err *err);
int es_binding_each(store *base, const char *task_id, store_binding_fn fn, void *ud, mcdc_err *err);
int es_binding_delete(store *base, const char *task_id, int64_t source_id, mcdc_err *err);
int es_copy_save(store *base, const char *task_id, int64_t source_id, const char *state_json, mcdc_err *err);
int es_copy_each(store *base, const char *task_id, store_copy_fn fn, void *ud, mcdc_err *err);
int es_copy_delete(store *base, const char *task_id, int64_t source_id, mcdc_err *err);

#endif
