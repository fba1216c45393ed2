/* task.h — one replication task at run time: a source, a target, a filter.
 *
 * A task runs one channel_worker thread per source channel it reads: the
 * DML channels where a collection it covers lives, plus the replicate
 * channel for index/load/flush/database requests. A supervisor thread
 * follows the catalog and starts a worker when a covered collection appears
 * on another channel, at that collection's start position, so collections
 * created later are followed from their creation without reading every
 * channel. Each worker applies its channel in order and checkpoints it
 * (channel_worker.h). The task holds what the API shows: state, the reason it
 * is paused, the last transient error while it retries, the watermark.
 *
 * Pausing is the only way a task stops on its own, and only for errors that
 * will not heal (a message that does not decode, a target that refuses the
 * schema); everything else is retried with backoff, forever. */
#ifndef MCDC_TASK_H
#define MCDC_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/histogram.h"
#include "mq/mq.h"
#include "pipeline/rbac_passwords.h"
#include "pipeline/task_manager.h"
#include "pipeline/task_snapshot.h"
#include "pipeline/task_spec.h"
#include "pipeline/worker_io.h"
#include "source/catalog.h"
#include "store/store.h"

typedef struct channel_worker channel_worker;
typedef struct task task; /* opaque: task.c alone reads its fields */

/* snapshot.*: how a collection's copy reads and writes (config.c has the
 * defaults and limits). */
typedef struct copy_settings {
    uint32_t page_rows;       /* rows per Query page: 8192 (Milvus allows 16384) */
    size_t page_bytes;        /* a page's rows at most this many bytes by the schema's estimate: 16 MiB */
    uint32_t pages_in_flight; /* a collection's page upserts sent and not yet acknowledged: 4 */
    uint32_t readers;         /* partitions of one collection read at once: 2 */
    bool resync_on_bulk_insert; /* on_bulk_insert: "resync" (true) or "report" */
    uint32_t progress_log_s;  /* a progress line every this many seconds: 10 */
} copy_settings;

/* What every task of one mcdc process shares: the source and the store. */
typedef struct task_env {
    catalog *catalog;
    etcd_client *etcd;         /* the source's etcd, and the root its keys live under */
    const char *root_path;
    const rbac_passwords *passwords; /* rbac.passwords_file, NULL if none */
    const char *secrets_dir;   /* where a task's password_file may be; NULL or "": nowhere */
    store *store;
    mq_config mq;
    char *channel_prefix;      /* "by-dev": channels are <prefix>-rootcoord-dml_N */
    int dml_channels;
    worker_settings apply;     /* apply.* as the config resolved it; batch_bytes and inflight_bytes 0: a
                                * task's share, resolved per channel by budget.h */
    /* source.milvus: the source's proxy, read by snapshots (its Query API);
     * address NULL or "": none configured, and a snapshot is refused. */
    milvus_config source_milvus;
    copy_settings copy;
    /* What a create waits on, as seams for the unit tests; NULL in
     * production: GetVersion on the target (within its connect_timeout),
     * and task_init_positions. */
    int (*probe_target)(const struct task_env *env, const task_spec *spec, mcdc_err *err);
    int (*first_positions)(task *t, mcdc_err *err);
    /* What task_start runs once it has made the task Running, a seam like
     * the two above: NULL in production (the supervisor thread, which
     * starts the workers). The unit tests of ownership count starts
     * without running a pipeline. */
    int (*start_task)(const struct task_env *env, task *t, mcdc_err *err);
    /* This instance's base URL as other instances reach its API (the etcd
     * store's advertise), shown as the owner of the tasks it runs; NULL or
     * "": the store's instance id is shown instead ("local" for SQLite). */
    const char *advertise;
} task_env;

task *task_new(char *id, task_spec *spec /* taken */, const task_env *env, task_state state, const char *reason);
/* What the store kept of a task beyond its state: where it is paused and
 * the operator's skip (store_task). Before the task starts. */
void task_restore(task *t, const store_task *st);
/* A task another instance runs: what the store holds of it now (state,
 * reason, where it is paused, the skip), shown as it is; never started here. */
void task_show_stored(task *t, const store_task *st);
/* Another instance owns the task now (store.h's ownership): from here on
 * nothing of this task's state is written to the store by this process (a
 * pause is kept in memory only); its threads end without retrying. Call
 * before task_stop. */
void task_disown(task *t);
void task_free(task *t);               /* stops it first */

/* Starts the supervisor, which starts the workers (state Running), and
 * returns at once / stops them and waits (state stays as set). The wait is
 * bounded by the calls in flight, never by a sleep between retries (those
 * end at once): a worker's target call ends by its deadline, the task's
 * connect_timeout (10 s unless the spec says, up to 3600 s), and the
 * supervisor may be in one such call to the target (task_meta.c) or in an
 * etcd call (10 s in all, its retries included), so a stop can take a few
 * times connect_timeout. Start and stop of one task
 * are called by one thread at a time (task_manager.c's operation lock). */
int task_start(task *t, mcdc_err *err);
void task_stop(task *t);
/* Asks the supervisor and every worker to stop, without waiting. */
void task_ask_stop(task *t);

/* An error that will not heal: records the reason (the first one stays
 * while the task is Paused), persists state Paused, and asks the
 * supervisor and every worker to stop, without waiting. _at: the error is
 * at the message `at` of `channel`, which the task keeps (and the store,
 * and get shows) as the one message an operator may skip. */
void task_pause_on_error(task *t, const char *reason);
void task_pause_at(task *t, const char *channel, const mq_msgid *at, const char *reason);
/* The pause a switchover or failover makes: as task_pause_on_error, but
 * -1 unless this call paused the task and the store kept it (MCDC_EEXIST:
 * paused already for another reason; MCDC_ENOTOWNER: another instance runs
 * it; a store error as it came). The task is asked to stop in every case. */
int task_pause_stored(task *t, const char *reason, mcdc_err *err);
/* The operator's pause: records state Paused with reason "paused by
 * request" (a task already Paused keeps its reason and position), then
 * stops the threads and waits for them: see task_stop for how long. */
int task_pause_by_request(task *t, mcdc_err *err);
/* The operator's skip_message: accepted only when the task is Paused at
 * exactly that message (else MCDC_EINVAL naming where it is paused, or
 * that it is not paused at a message); persisted, so a restart before the
 * resume still skips it. The worker of channel skips it once, when it
 * meets it, and the request is cleared (in the store too). */
int task_request_skip(task *t, const char *channel, const mq_msgid *at, mcdc_err *err);
/* What the workers call (worker_io.h's skip hooks). */
bool task_skip_wanted(task *t, const char *channel, mq_msgid *at);
void task_skip_taken(task *t, const char *channel, const mq_msgid *at);

const char *task_id(const task *t);
task_state task_state_now(task *t);
const task_spec *task_spec_of(const task *t);
void task_set_last_error(task *t, const char *msg);

/* The watermark: every source change with ts <= it, on every channel the
 * task reads, has been applied (timestamps.md §4). 0 until known. */
uint64_t task_watermark(task *t);

/* The watermark only when a cut can be claimed: the task is Running and
 * its supervisor has had every channel it must read running since its
 * start; 0 otherwise (stopped, paused, starting). UINT64_MAX: no channel
 * holds a covered collection. */
uint64_t task_watermark_claimed(task *t);
/* The DML channels that hold a collection the task covers now (the
 * catalog's view): *out gets their names (free each, then the array). */
size_t task_needed_dml_channels(task *t, char ***out);

/* Resolves where each channel starts for a new task and stores it as the
 * first checkpoint (so a restart before any data never skips ahead). */
int task_init_positions(task *t, mcdc_err *err);

/* What the API shows of the task, at this moment (task_snapshot.h): state,
 * reason and last error read together under mu, counters one by one. */
task_snapshot *task_snapshot_take(task *t);
/* The stored checkpoint of each channel into *out (task_positions_free);
 * on a store error, what was read before it. */
int task_positions_read(task *t, task_positions *out, mcdc_err *err);

/* The channels a task may read: every DML channel, then the replicate one. */
size_t task_channels(const task_env *env, char ***out);

/* Whether the task has a collection (Creating, Created or Dropping) of
 * list (catalog_list_held) on a DML channel, and where the earliest of them
 * begins there: *start gets the earliest start position, len 0 when one of
 * them has none. */
bool task_needs_channel(task *t, catalog_coll *const *list, size_t n, const char *channel, mq_msgid *start);

/* The operator's re-sync of one covered collection (request_type
 * "resync"): copies every row the source holds now as upserts while the
 * stream goes on (copier.h). MCDC_ENOTFOUND naming the task when it does
 * not cover db.collection (or the source has no such collection),
 * MCDC_EEXIST when that collection's copy or overlap is running,
 * MCDC_EINVAL when no source.milvus.address is configured. */
int task_resync(task *t, const char *db, const char *collection, mcdc_err *err);

/* Compares the covered collections (or the one named; db NULL = "default")
 * between the source and the target, row by row, at the task's watermark
 * (task_verify.c); returns once the job started. MCDC_EEXIST while one
 * runs, MCDC_ENOTFOUND for a collection the task does not cover. */
int task_verify_start(task *t, const char *db, const char *collection, mcdc_err *err);
/* What the last verify found or is doing; freed with task_verify_free. */
void task_verify_view(task *t, task_verify *out);

/* Hands the task's collections over to its target (task_handover.c);
 * both return once the job started, and get shows its phase and outcome.
 * A switchover waits, up to timeout_ms, until no write to a covered
 * collection was read for quiet_ms and the watermark passed the source's
 * time then, verifies every covered collection, checks that no write came
 * meanwhile, and only then pauses the task (RPO 0): on any failure it
 * changes nothing and says why. Refused at once (MCDC_EINVAL) for a task
 * that is not Running; MCDC_EEXIST while a handover runs.
 * A failover, for a source that is gone: lets a Running task apply what
 * the queue still holds (until nothing new came for a few seconds, or
 * drain_ms), then pauses it, keeping its checkpoints, and reports what the
 * target holds (the watermark) and the last source time it saw. */
int task_switchover_start(task *t, uint32_t quiet_ms, uint32_t timeout_ms, mcdc_err *err);
int task_failover_start(task *t, uint32_t drain_ms, mcdc_err *err);
void task_handover_view(task *t, task_handover *out);

/* How many channels the task reads now. */
size_t task_channels_read(task *t);

#endif
