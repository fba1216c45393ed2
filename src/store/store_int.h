/* store_int.h — private to src/store: the interface a backend of store.h
 * implements. store.c checks the arguments every backend would check and
 * calls the backend through its const table of functions; a backend sees
 * only well-formed arguments (non-empty ids and channel names, msgIDs within
 * MQ_MSGID_MAX) and keeps the promises store.h makes: durable saves, any
 * thread, the error codes it names. store_sqlite.c for one mcdc process,
 * store_etcd.c for several (design.md §10). */
#ifndef MCDC_STORE_INT_H
#define MCDC_STORE_INT_H

#include "store/store.h"

typedef enum store_pos_kind { STORE_CHECKPOINT, STORE_INTENT } store_pos_kind;

typedef struct store_ops {
    void (*close)(store *s);
    int (*task_put_new)(store *s, const store_task *t, mcdc_err *err);
    /* paused_at and skip: NULL or a non-empty channel with a msgID within MQ_MSGID_MAX. */
    int (*task_update)(store *s, const char *id, int state, const char *reason, const store_msg_ref *paused_at,
                       mcdc_err *err);
    int (*task_set_skip)(store *s, const char *id, const store_msg_ref *skip, mcdc_err *err);
    int (*task_each)(store *s, store_task_fn fn, void *ud, mcdc_err *err);
    int (*task_delete)(store *s, const char *id, mcdc_err *err);
    /* what: "checkpoint" or "intent", for messages. */
    int (*position_save)(store *s, store_pos_kind kind, const char *what, const char *task_id, const char *channel,
                         const mq_msgid *id, uint64_t ts, mcdc_err *err);
    int (*position_each)(store *s, const char *task_id, store_position_fn fn, void *ud, mcdc_err *err);
    int (*binding_save)(store *s, const char *task_id, const store_binding *b, mcdc_err *err);
    int (*binding_each)(store *s, const char *task_id, store_binding_fn fn, void *ud, mcdc_err *err);
    int (*binding_delete)(store *s, const char *task_id, int64_t source_id, mcdc_err *err);
    /* state_json: never NULL. */
    int (*copy_save)(store *s, const char *task_id, int64_t source_id, const char *state_json, mcdc_err *err);
    int (*copy_each)(store *s, const char *task_id, store_copy_fn fn, void *ud, mcdc_err *err);
    int (*copy_delete)(store *s, const char *task_id, int64_t source_id, mcdc_err *err);
    /* Ownership (store.h). */
    const char *(*instance_id)(store *s);
    int (*task_claim)(store *s, const char *task_id, bool *owned, char **owner_url, mcdc_err *err);
    int (*task_release)(store *s, const char *task_id, mcdc_err *err);
    int (*task_owner)(store *s, const char *task_id, bool *mine, char **owner_url, mcdc_err *err);
    bool (*task_owned)(store *s, const char *task_id);
    int (*wait_change)(store *s, uint32_t timeout_ms, mcdc_err *err);
} store_ops;

/* A backend's own struct begins with this. */
struct store {
    const store_ops *ops;
};

#endif
