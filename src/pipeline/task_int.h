/* task_int.h — private to task.c and task_meta.c: the task's fields, and
 * the supervisor's steps that keep the task in step with the source's etcd
 * (task_meta.c). The rest of mcdc sees the task through task.h only. */
#ifndef MCDC_TASK_INT_H
#define MCDC_TASK_INT_H

#include "pipeline/bindings.h"
#include "pipeline/bulk_inserts.h"
#include "pipeline/channel_worker.h"
#include "pipeline/copier.h"
#include "pipeline/overlap.h"
#include "pipeline/meta_sync.h"
#include "pipeline/rbac_sync.h"
#include "pipeline/task.h"

struct task {
    char *id;
    task_spec spec;
    const task_env *env;

    /* Guards state, reason, last_error, paused_*, skip_*, and the worker
     * slots (channels, workers, n_workers); held briefly, never across a
     * call, a sleep or a join. */
    pthread_mutex_t mu;
    task_state state;
    char reason[MCDC_ERR_MSG_MAX];     /* why it is paused */
    char last_error[MCDC_ERR_MSG_MAX]; /* the last transient error, "" once healed */
    char paused_channel[256];          /* the message an error paused it at; "" if none */
    mq_msgid paused_id;
    char skip_channel[256];            /* maintenance: skip this one message on resume */
    mq_msgid skip_id;
    _Atomic bool troubled;             /* last_error is set: a success clears it without the lock otherwise */
    _Atomic bool skip_asked;           /* skip_channel is set: lets workers skip the lock per message */
    _Atomic bool disowned;             /* another instance owns the task: write no state (task_disown) */

    /* One slot per channel of task_channels(); NULL while the task has no
     * reason to read it. Slots are set and cleared under mu. */
    char **channels;
    channel_worker **workers;
    size_t n_workers;
    pthread_t supervisor;
    bool supervising;
    _Atomic bool stopping;             /* the supervisor's stop flag; workers have their own */
    _Atomic bool worker_missing;       /* a channel that must be read has no worker yet: the cut is unknown */
    _Atomic bool started;              /* the supervisor has had every needed worker running once since task_start */
    /* Made by this process, with a channel that starts in its past, and not
     * started since: task_init_positions sets it on the API thread before
     * task_start creates the supervisor, which clears it when it lists the
     * covered collections whose target is empty (list_empty_targets), before
     * it starts any worker. The workers read the list; task_stop frees it
     * once they and the supervisor are joined. */
    bool first_start_here;
    int64_t *empty_at_start;
    size_t n_empty_at_start;

    /* What the workers count (worker_io.h). */
    worker_stats stats;

    /* Which target collection each covered source collection owns; loaded
     * from the store by the supervisor before it starts the first worker,
     * then shared by the workers (bindings.h locks). */
    bindings *bindings;

    /* The supervisor's own: metadata etcd alone holds (aliases, empty
     * partitions), applied behind the watermark (meta_sync.h) over its own
     * target connection; made on the first step, freed when it stops. */
    milvus_client *meta_client;
    meta_sync_target meta_target;
    meta_sync *meta;
    rbac_sync *rbac;                   /* extra_info.enable_user_role, over meta_client */
    uint64_t round;                    /* the supervisor's round, from 0: what runs every N rounds counts on it */

    /* Bulk inserts on covered collections, whose rows the WAL never carries
     * (bulk_inserts.h); kept for the life of the task object. */
    bulk_inserts *bulk;

    /* Snapshots (copier.h) and where their pages meet the stream
     * (overlap.h, shared with every worker's filter and target). The
     * supervisor loads the copies from the store once, before it starts
     * the first worker, and starts the copier's thread. */
    overlap *overlap;
    copier *copier;
    _Atomic bool copies_loaded;        /* read by the API's snapshots */
    bool copier_running;

    /* The last verify request's job (task_verify.c): set and freed by the
     * API's requests and task_free, one at a time (the manager's op
     * order); verify_mu guards the pointer and what the job shows. */
    pthread_mutex_t verify_mu;
    struct verify_job *verify_job;

    /* The last switchover or failover (task_handover.c): its thread is
     * started by the API's request and joined by task_stop; handover_mu
     * guards the pointer and what the job shows. */
    pthread_mutex_t handover_mu;
    struct handover_job *handover;
};

/* ---- task_meta.c: called on the supervisor's thread ---- */

/* Once per task: the bindings registry with what the store holds. */
int task_load_bindings(task *t, mcdc_err *err);
/* Aliases and empty partitions behind the watermark, then RBAC; -1 with a
 * transient *err to retry on a later round, any other to pause. */
int task_meta_step(task *t, mcdc_err *err);
/* Bulk inserts on covered collections, logged and kept for the API. */
void task_bulk_step(task *t);
/* Frees what the steps made; after the supervisor stopped. */
void task_meta_stop(task *t);

/* ---- task_handover.c ---- */
/* Stops a running switchover or failover and joins its thread (task_stop);
 * what it found stays for the API. */
void task_handover_halt(task *t);
/* The same, then frees it (task_free). */
void task_handover_free(task *t);

/* ---- task_verify.c ---- */
/* Stops a running verify and joins it; what it found stays for the API. */
void task_verify_halt(task *t);
/* The same, then frees the job (task_free). */
void task_verify_free_job(task *t);
/* A verify job of the task's collections (or one), not published to the
 * API: a switchover runs one on its own thread (task_handover.c) and keeps
 * only the outcome. NULL with *err as task_verify_start says. */
struct verify_job *task_verify_prepare(task *t, const char *db, const char *collection, mcdc_err *err);
/* Runs it to the end on the calling thread; stops early when *stop turns
 * true (or the task stops). */
void task_verify_run_here(struct verify_job *j, _Atomic bool *stop);
/* Whether every collection compared equal; counts summed over them; why:
 * the first collection that did not (or could not be compared). */
bool task_verify_job_result(struct verify_job *j, uint64_t counts[VERIFY_N_KINDS], char *why, size_t why_len);
void task_verify_job_free(struct verify_job *j);

#endif
