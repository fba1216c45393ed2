/* task_manager.h — the tasks of one mcdc process: opened and closed by
 * `mcdc serve`, driven by the HTTP API.
 *
 * Every function but open and close is safe to call from the HTTP threads,
 * at once: get, list and positions never wait on another call, on a task's
 * threads or on a target (task_manager.c says how); create waits on its own
 * target check, pause and delete on their task's threads (task.h's
 * task_stop bounds it), and operations on one task run one at a time.
 * Errors come back as
 * mcdc_err values; the code says what went wrong (MCDC_EINVAL: the request,
 * MCDC_ENOTFOUND: no such task, MCDC_EEXIST: the id is taken or another task
 * covers the same collections (task_coverage.h), or its create or delete
 * still runs, MCDC_EUNAVAIL: the target
 * does not answer, MCDC_ENOTOWNER: another mcdc instance runs the task,
 * see task_manager_owner); src/server decides what a client sees of it.
 *
 * Several instances on one store (store.h's ownership): each runs the
 * tasks it owns; the others are listed with what the store holds of them
 * and their owner, and every call naming one (get, positions, pause,
 * resume, delete, resync, verify, skip_message) is MCDC_ENOTOWNER. A
 * create makes this instance the owner of the new task. A background
 * thread follows the store: it takes over the tasks of an instance that
 * died (resuming them from their checkpoints), stops here, without a
 * store write, the tasks another instance took, and follows creates and
 * deletes made elsewhere (task_owners.c).
 * What the manager shows of a task is a task_snapshot or a position list:
 * plain data the caller owns and formats. */
#ifndef MCDC_TASK_MANAGER_H
#define MCDC_TASK_MANAGER_H

#include "base/error.h"
#include "pipeline/task_snapshot.h"
#include "pipeline/task_spec.h"

typedef struct task_manager task_manager;
struct task_env;

/* Loads the stored tasks, claims each, and starts those it owns that were
 * running, in the background: it returns without waiting for a target or a
 * queue. env is copied; what it points to (catalog, store) must outlive
 * the manager. */
task_manager *task_manager_open(const struct task_env *env, mcdc_err *err);
/* Refuses new calls (MCDC_EUNAVAIL), waits for those running, then stops
 * every task and gives the ones it owns back (store_task_release), so
 * another instance takes them at once. */
void task_manager_close(task_manager *tm);

/* Takes ownership of *spec (also on failure). Refuses a spec that would
 * write a row twice (task_coverage.h: two of its sources onto one target
 * collection, or a collection another task already covers into the same
 * target), then checks that the target answers before anything is stored.
 * Until it returns, the task is not listed and get finds none; a second
 * create of the id meanwhile is MCDC_EEXIST. *task_id is malloc'd. */
int task_manager_create(task_manager *tm, task_spec *spec, char **task_id, mcdc_err *err);
int task_manager_delete(task_manager *tm, const char *task_id, mcdc_err *err);
int task_manager_pause(task_manager *tm, const char *task_id, mcdc_err *err);
int task_manager_resume(task_manager *tm, const char *task_id, mcdc_err *err);

/* The operator's re-sync of one collection the task covers: its rows are
 * copied again from the source while the stream goes on (task_resync in
 * task.h says what it refuses). Runs under the task's operation lock, as
 * pause and resume do. A Paused task is refused (MCDC_EINVAL): a copy needs
 * the stream running to close its overlap, and a resume is the operator's
 * decision, not a side effect of this. */
int task_manager_resync(task_manager *tm, const char *task_id, const char *db, const char *collection,
                        mcdc_err *err);
/* Starts a verify of the task's collections, or of one (collection NULL:
 * every covered one), at the task's watermark (task_verify_start in
 * task.h); get shows its progress and result. */
int task_manager_verify(task_manager *tm, const char *task_id, const char *db, const char *collection,
                        mcdc_err *err);

/* Hands the task's collections over to its target: a switchover (writes
 * stopped, caught up, verified, then paused: RPO 0) or a failover (the
 * source is gone: drain what the queue holds, pause, report the window);
 * task.h's task_switchover_start and task_failover_start say what each
 * proves and refuses. Both return once started; get shows the outcome. */
int task_manager_switchover(task_manager *tm, const char *task_id, uint32_t quiet_ms, uint32_t timeout_ms,
                            mcdc_err *err);
int task_manager_failover(task_manager *tm, const char *task_id, uint32_t drain_ms, mcdc_err *err);

/* One task now; NULL and MCDC_ENOTFOUND when there is none. Free with
 * task_snapshot_free. */
task_snapshot *task_manager_get(task_manager *tm, const char *task_id, mcdc_err *err);
/* Every task now, the ones other instances run too (remote, with their
 * owner and only what the store holds); *out gets the array. Free with
 * task_snapshots_free. */
size_t task_manager_list(task_manager *tm, task_snapshot ***out);
/* The task's checkpoint on each channel it has one for. A store that fails
 * part way is logged and gives what was read. Free with task_positions_free. */
int task_manager_positions(task_manager *tm, const char *task_id, task_positions *out, mcdc_err *err);

/* The one way past a message that will never apply (one that does not
 * decode): names it exactly, by channel and position as the queue writes
 * it (get's paused_at gives both), so nothing else is skipped; the task
 * skips it once, when it is resumed. Accepted only while the task is
 * Paused at exactly that message, and stored, so a restart before the
 * resume keeps it. MCDC_EINVAL when position is not one of the queue's or
 * not where the task is paused (the message says where it is, or that it
 * is not paused at a message), MCDC_ENOTFOUND when there is no such task. */
int task_manager_skip_message(task_manager *tm, const char *task_id, const char *channel, const char *position,
                              mcdc_err *err);

/* Where to send a call that was MCDC_ENOTOWNER: the base URL the owning
 * instance advertises (malloc'd), read from the store now. *owner_url is
 * NULL when no instance owns the task right now (its owner died and none
 * took it yet: retry), or when this instance does (it just took it over:
 * retry). MCDC_ENOTFOUND when the store has no such task. */
int task_manager_owner(task_manager *tm, const char *task_id, char **owner_url, mcdc_err *err);

#endif
