/* task_handover.c — handing a task's collections over to its target: the
 * planned switchover and the forced failover (docs/disaster-recovery.md).
 *
 * Switchover promises RPO 0, so it proves three things before it changes
 * anything, and refuses with the reason if one fails:
 *   1. writes stopped: no change of a covered collection was read for
 *      quiet_ms, measured on the source's clock (a TSO timestamp taken now
 *      against the newest change read), after the watermark passed that
 *      TSO timestamp — so a change the source acknowledged before it cannot
 *      still be on its way through the queue;
 *   2. the target equals the source, row by row (the verify engine, run
 *      here on this thread: task_verify_prepare);
 *   3. no write came during the verify (the newest change read is still
 *      the one of step 1): a write after step 1 would be on the source and
 *      maybe not on the target.
 * Only then is the task paused, with a reason that says it was switched
 * over: it must not run again while the target takes writes, or it would
 * carry the old primary's later writes onto the new one. The reverse task
 * is made by the operator (or `mcdc switchover --reverse-server`) against an
 * mcdc whose source is the new primary, before writes go to it: a new task
 * starts at the new primary's latest positions, which then hold nothing
 * but what this task applied.
 *
 * Failover is for a source that is gone: there is nothing to prove, only
 * to report honestly. The task first applies what it can still read (the
 * queue may outlive the source Milvus), then is paused with its
 * checkpoints kept: the watermark says up to which source time the target
 * holds everything, and the newest source time read bounds what was seen.
 * If the old primary comes back, `mcdc dump` from the task's positions
 * shows the changes that never reached the target, and resuming the task
 * would apply them.
 *
 * One handover at a time per task, on a thread of its own that task_stop
 * stops and joins; handover_mu guards the pointer and the view. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/task_int.h"
#include "target/milvus_client.h"

/* A failover's drain ends when nothing new was read for this long. */
#define DRAIN_QUIET_MS 3000u

typedef struct handover_job {
    task *t;
    pthread_t thread;
    bool joined;
    _Atomic bool stop;
    uint32_t quiet_ms, limit_ms; /* switchover: quiet and timeout; failover: drain */
    task_handover view;          /* under t->handover_mu */
} handover_job;

const char *handover_kind_name(handover_kind k) {
    switch (k) {
    case HANDOVER_SWITCHOVER: return "switchover";
    case HANDOVER_FAILOVER: return "failover";
    default: return "";
    }
}

const char *handover_phase_name(handover_phase p) {
    switch (p) {
    case HANDOVER_WAITING_FOR_WRITES_TO_STOP: return "waiting_for_writes_to_stop";
    case HANDOVER_VERIFYING: return "verifying";
    case HANDOVER_DRAINING: return "draining";
    case HANDOVER_DONE: return "done";
    case HANDOVER_REFUSED: return "refused";
    }
    return "unknown";
}

static bool stopping(handover_job *j) { return atomic_load(&j->stop) || atomic_load(&j->t->stopping); }

static void note_source(handover_job *j) {
    pthread_mutex_lock(&j->t->handover_mu);
    j->view.last_write_ts = atomic_load(&j->t->stats.last_change_ts);
    j->view.last_source_ts = atomic_load(&j->t->stats.last_read_ts);
    pthread_mutex_unlock(&j->t->handover_mu);
}

static void finish(handover_job *j, handover_phase p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(handover_job *j, handover_phase p, const char *fmt, ...) {
    char why[MCDC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    note_source(j);
    pthread_mutex_lock(&j->t->handover_mu);
    j->view.phase = p;
    snprintf(j->view.reason, sizeof j->view.reason, "%s", why);
    j->view.finished_wall_ms = mcdc_now_wall_ms();
    pthread_mutex_unlock(&j->t->handover_mu);
    if (p == HANDOVER_REFUSED)
        log_warn("task %s: %s refused: %s", j->t->id, handover_kind_name(j->view.kind), why);
    else
        log_info("task %s: %s done: %s", j->t->id, handover_kind_name(j->view.kind), why);
}

/* "2026-12-04T18:00:00.123Z" of a hybrid ts's physical part. */
static void ts_text(uint64_t ts, char *out, size_t n) {
    uint64_t ms = mcdc_ts_physical_ms(ts);
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03uZ", day, (unsigned)(ms % 1000));
}

/* Sleeps ms, or less when asked to stop. */
static void nap(handover_job *j, uint32_t ms) {
    for (uint32_t slept = 0; slept < ms && !stopping(j); slept += 50) mcdc_sleep_ms(50);
}

/* Why the switchover cannot go on now, or NULL. */
static const char *task_gone_why(handover_job *j) {
    if (stopping(j)) return "the task was stopped (paused or deleted) during the switchover";
    if (task_state_now(j->t) != TASK_RUNNING) return "the task was paused during the switchover";
    return NULL;
}

/* Step 1: *cut gets a TSO time of the source after which no covered write
 * was read for quiet_ms, once the watermark passed it. */
static int writes_go_on(char *why, size_t n, uint64_t last, uint64_t now_ms) {
    char at[40];
    ts_text(last, at, sizeof at);
    uint64_t last_ms = mcdc_ts_physical_ms(last);
    snprintf(why, n, "writes to the task's collections go on: the last one read was written at %s, %" PRIu64
             " ms before the source's time then; stop writing to the source and ask again", at,
             now_ms > last_ms ? now_ms - last_ms : 0);
    return -1;
}

static int wait_writes_stopped(handover_job *j, uint64_t deadline, uint64_t *cut, char *why, size_t n) {
    task *t = j->t;
    /* A round that caught up but found a recent write: if time runs out in
     * the next catch-up, the writes are the reason, not a lagging task. */
    uint64_t busy_last = 0, busy_now_ms = 0;
    for (;;) {
        const char *gone = task_gone_why(j);
        if (gone) return snprintf(why, n, "%s", gone), -1;
        mcdc_err err;
        uint64_t now_ts = 0;
        milvus_client *src = milvus_open(&t->env->source_milvus, &err);
        int rc = src ? milvus_alloc_timestamp(src, &now_ts, &err) : -1;
        milvus_close(src);
        if (rc) return snprintf(why, n, "could not read the source's time: %.400s", err.msg), -1;
        while (task_watermark(t) < now_ts) {
            if ((gone = task_gone_why(j))) return snprintf(why, n, "%s", gone), -1;
            if (mcdc_now_mono_ms() > deadline && busy_last) return writes_go_on(why, n, busy_last, busy_now_ms);
            if (mcdc_now_mono_ms() > deadline) {
                char wm[40], src_at[40];
                ts_text(task_watermark(t), wm, sizeof wm);
                ts_text(now_ts, src_at, sizeof src_at);
                return snprintf(why, n, "the task did not catch up with the source in time: its watermark is at %s, "
                                        "the source's time was %s", wm, src_at), -1;
            }
            nap(j, 100);
        }
        note_source(j);
        uint64_t last = atomic_load(&t->stats.last_change_ts);
        uint64_t now_ms = mcdc_ts_physical_ms(now_ts), last_ms = mcdc_ts_physical_ms(last);
        if (last == 0 || (now_ms > last_ms && now_ms - last_ms >= j->quiet_ms)) {
            *cut = now_ts;
            return 0;
        }
        if (mcdc_now_mono_ms() > deadline) return writes_go_on(why, n, last, now_ms);
        busy_last = last;
        busy_now_ms = now_ms;
        nap(j, 500);
    }
}

static void run_switchover(handover_job *j) {
    task *t = j->t;
    uint64_t deadline = mcdc_now_mono_ms() + j->limit_ms, cut = 0;
    char why[MCDC_ERR_MSG_MAX];
    if (wait_writes_stopped(j, deadline, &cut, why, sizeof why)) {
        finish(j, HANDOVER_REFUSED, "%s", why);
        return;
    }
    pthread_mutex_lock(&t->handover_mu);
    j->view.cut_ts = cut;
    j->view.phase = HANDOVER_VERIFYING;
    pthread_mutex_unlock(&t->handover_mu);
    uint64_t last_before = atomic_load(&t->stats.last_change_ts);

    mcdc_err err;
    struct verify_job *vj = task_verify_prepare(t, NULL, NULL, &err);
    if (!vj) {
        finish(j, HANDOVER_REFUSED, "cannot verify: %s", err.msg);
        return;
    }
    task_verify_run_here(vj, &j->stop);
    uint64_t counts[VERIFY_N_KINDS];
    bool equal = task_verify_job_result(vj, counts, why, sizeof why);
    pthread_mutex_lock(&t->handover_mu);
    memcpy(j->view.counts, counts, sizeof counts);
    pthread_mutex_unlock(&t->handover_mu);
    task_verify_job_free(vj);
    const char *gone = task_gone_why(j);
    if (gone) {
        finish(j, HANDOVER_REFUSED, "%s", gone);
        return;
    }
    if (!equal) {
        finish(j, HANDOVER_REFUSED, "the target is not equal to the source: %s", why);
        return;
    }
    uint64_t last_after = atomic_load(&t->stats.last_change_ts);
    if (last_after != last_before) {
        char at[40];
        ts_text(last_after, at, sizeof at);
        finish(j, HANDOVER_REFUSED, "a write to the task's collections came during the switchover (written at %s); "
                                    "stop writing to the source and ask again", at);
        return;
    }
    char at[40];
    ts_text(cut, at, sizeof at);
    char reason[MCDC_ERR_MSG_MAX];
    snprintf(reason, sizeof reason, "switched over to the target at %s (RPO 0: no write after it, every covered "
                                    "collection verified equal); resuming would replicate the old primary again",
             at);
    /* Last, and only from here: the pause is the one change a switchover
     * makes. */
    task_pause_on_error(t, reason);
    finish(j, HANDOVER_DONE, "%s", reason);
}

static void run_failover(handover_job *j) {
    task *t = j->t;
    if (task_state_now(t) == TASK_RUNNING) {
        uint64_t deadline = mcdc_now_mono_ms() + j->limit_ms;
        uint64_t seen = atomic_load(&t->stats.messages), quiet_since = mcdc_now_mono_ms();
        while (!stopping(j) && task_state_now(t) == TASK_RUNNING && mcdc_now_mono_ms() < deadline) {
            nap(j, 200);
            note_source(j);
            uint64_t now = atomic_load(&t->stats.messages);
            if (now != seen || atomic_load(&t->stats.calls_in_flight)) {
                seen = now;
                quiet_since = mcdc_now_mono_ms();
            } else if (mcdc_now_mono_ms() - quiet_since >= DRAIN_QUIET_MS) {
                break;
            }
        }
    }
    /* Only our own stop (task_stop: the operator paused or deleted the
     * task) ends a failover: a task that paused itself meanwhile is still
     * reported as it stands. */
    if (atomic_load(&j->stop)) {
        finish(j, HANDOVER_REFUSED, "the task was stopped (paused or deleted) during the failover");
        return;
    }
    /* What the target holds: the watermark while the workers run; else each
     * channel's checkpoint, of which the lowest bounds them all. */
    uint64_t held = task_watermark(t);
    if (!held) {
        task_positions ps;
        mcdc_err err;
        if (task_positions_read(t, &ps, &err) == 0) {
            for (size_t i = 0; i < ps.n; i++)
                if (ps.items[i].ts && (!held || ps.items[i].ts < held)) held = ps.items[i].ts;
            task_positions_free(&ps);
        }
    }
    pthread_mutex_lock(&t->handover_mu);
    j->view.cut_ts = held;
    pthread_mutex_unlock(&t->handover_mu);
    note_source(j);
    uint64_t last = atomic_load(&t->stats.last_read_ts);
    char at[40], upto[40];
    ts_text(held, at, sizeof at);
    ts_text(last, upto, sizeof upto);
    char reason[MCDC_ERR_MSG_MAX];
    if (held)
        snprintf(reason, sizeof reason, "failed over: the target holds every change of the source up to %s; changes "
                 "after it%s%s may be missing; checkpoints kept (mcdc dump from the task's positions shows them)", at,
                 last > held ? " up to the last source time read, " : "", last > held ? upto : "");
    else
        snprintf(reason, sizeof reason, "failed over before the task knew its watermark: what the target holds is "
                                        "not known; checkpoints kept");
    if (task_state_now(t) == TASK_RUNNING) task_pause_on_error(t, reason);
    finish(j, HANDOVER_DONE, "%s", reason);
}

static void *job_main(void *arg) {
    handover_job *j = arg;
    if (j->view.kind == HANDOVER_SWITCHOVER) run_switchover(j);
    else run_failover(j);
    return NULL;
}

void task_handover_halt(task *t) {
    pthread_mutex_lock(&t->handover_mu);
    handover_job *j = t->handover;
    pthread_mutex_unlock(&t->handover_mu);
    if (!j || j->joined) return;
    atomic_store(&j->stop, true);
    pthread_join(j->thread, NULL);
    j->joined = true;
}

void task_handover_free(task *t) {
    task_handover_halt(t);
    pthread_mutex_lock(&t->handover_mu);
    handover_job *j = t->handover;
    t->handover = NULL;
    pthread_mutex_unlock(&t->handover_mu);
    free(j);
}

static int start(task *t, handover_kind kind, uint32_t quiet_ms, uint32_t limit_ms, mcdc_err *err) {
    pthread_mutex_lock(&t->handover_mu);
    handover_job *old = t->handover;
    bool running = old && !old->joined && old->view.finished_wall_ms == 0;
    handover_kind was = old ? old->view.kind : HANDOVER_NONE;
    pthread_mutex_unlock(&t->handover_mu);
    if (running)
        return mcdc_errf(err, MCDC_EEXIST, "task %s: a %s is running; wait for it to end", t->id,
                         handover_kind_name(was));
    /* The old one is over: join it before its place is taken. */
    task_handover_free(t);
    handover_job *j = mcdc_xcalloc(1, sizeof *j);
    j->t = t;
    j->quiet_ms = quiet_ms;
    j->limit_ms = limit_ms;
    j->view.kind = kind;
    j->view.phase = kind == HANDOVER_SWITCHOVER ? HANDOVER_WAITING_FOR_WRITES_TO_STOP : HANDOVER_DRAINING;
    j->view.started_wall_ms = mcdc_now_wall_ms();
    pthread_mutex_lock(&t->handover_mu);
    t->handover = j;
    pthread_mutex_unlock(&t->handover_mu);
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        pthread_mutex_lock(&t->handover_mu);
        t->handover = NULL;
        pthread_mutex_unlock(&t->handover_mu);
        free(j);
        return mcdc_errf(err, MCDC_ENOMEM, "task %s: no thread for a %s", t->id, handover_kind_name(kind));
    }
    return 0;
}

int task_switchover_start(task *t, uint32_t quiet_ms, uint32_t timeout_ms, mcdc_err *err) {
    if (task_state_now(t) != TASK_RUNNING)
        return mcdc_errf(err, MCDC_EINVAL, "task %s is not running: a switchover needs it running to prove that the "
                                           "target caught up; resume it first (nothing was changed)", t->id);
    if (!t->env->source_milvus.address || !t->env->source_milvus.address[0])
        return mcdc_errf(err, MCDC_EINVAL, "a switchover reads the source's time and rows through its API; set "
                                           "source.milvus.address in mcdc's config (nothing was changed)");
    if (quiet_ms < 1000 || timeout_ms < quiet_ms)
        return mcdc_errf(err, MCDC_EINVAL, "quiet_s must be at least 1 and timeout_s at least quiet_s");
    return start(t, HANDOVER_SWITCHOVER, quiet_ms, timeout_ms, err);
}

int task_failover_start(task *t, uint32_t drain_ms, mcdc_err *err) {
    return start(t, HANDOVER_FAILOVER, 0, drain_ms, err);
}

void task_handover_view(task *t, task_handover *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&t->handover_mu);
    if (t->handover) *out = t->handover->view;
    pthread_mutex_unlock(&t->handover_mu);
}
