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

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/task_int.h"
#include "source/change_json.h"
#include "source/decode.h"
#include "target/milvus_client.h"

/* A failover's drain ends when nothing new was read for this long. */
#define DRAIN_QUIET_MS 3000u
/* A failover reads the queue past the task's checkpoints for the newest
 * source time for at most this long (queue_end_ts). */
#define QUEUE_SCAN_MS 60000u

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
    uint64_t read = atomic_load(&j->t->stats.last_read_ts);
    if (read > j->view.last_source_ts) j->view.last_source_ts = read;
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

/* A TSO time of the source now. */
static int source_now(handover_job *j, uint64_t *ts, char *why, size_t n) {
    mcdc_err err;
    milvus_client *src = milvus_open(&j->t->env->source_milvus, &err);
    int rc = src ? milvus_alloc_timestamp(src, ts, &err) : -1;
    milvus_close(src);
    if (rc) snprintf(why, n, "could not read the source's time: %.400s", err.msg);
    return rc;
}

/* Waits until the task can claim a cut at or past ts (every channel it
 * must read running, the watermark past ts): everything the source
 * acknowledged before ts has then been read and applied. */
static int wait_caught_up(handover_job *j, uint64_t ts, uint64_t deadline, char *why, size_t n, bool *timed_out) {
    *timed_out = false;
    while (task_watermark_claimed(j->t) < ts) {
        const char *gone = task_gone_why(j);
        if (gone) return snprintf(why, n, "%s", gone), -1;
        if (mcdc_now_mono_ms() > deadline) {
            char wm[40], src_at[40];
            uint64_t w = task_watermark_claimed(j->t);
            change_ts_wall(w, wm);
            change_ts_wall(ts, src_at);
            *timed_out = true;
            return snprintf(why, n, "the task did not catch up with the source in time: its watermark is %s%s, the "
                                    "source's time was %s", w ? "at " : "not known", w ? wm : "", src_at), -1;
        }
        nap(j, 100);
    }
    return 0;
}

static int writes_go_on(char *why, size_t n, uint64_t last, uint64_t now_ms) {
    char at[40];
    change_ts_wall(last, at);
    uint64_t last_ms = mcdc_ts_physical_ms(last);
    snprintf(why, n, "writes to the task's collections go on: the last one read was written at %s, %" PRIu64
             " ms before the source's time then; stop writing to the source and ask again", at,
             now_ms > last_ms ? now_ms - last_ms : 0);
    return -1;
}

/* Step 1: *cut gets a TSO time of the source after which no covered change
 * was read for quiet_ms, once the task could claim a cut past it; *last
 * the newest covered change read then, the baseline of step 3. */
static int wait_writes_stopped(handover_job *j, uint64_t deadline, uint64_t *cut, uint64_t *last, char *why,
                               size_t n) {
    task *t = j->t;
    /* A round that caught up but found a recent write: if time runs out in
     * the next catch-up, the writes are the reason, not a lagging task. */
    uint64_t busy_last = 0, busy_now_ms = 0;
    for (;;) {
        const char *gone = task_gone_why(j);
        if (gone) return snprintf(why, n, "%s", gone), -1;
        uint64_t now_ts = 0;
        if (source_now(j, &now_ts, why, n)) return -1;
        bool timed_out;
        if (wait_caught_up(j, now_ts, deadline, why, n, &timed_out))
            return timed_out && busy_last ? writes_go_on(why, n, busy_last, busy_now_ms) : -1;
        note_source(j);
        uint64_t seen = atomic_load(&t->stats.last_change_ts);
        uint64_t now_ms = mcdc_ts_physical_ms(now_ts), last_ms = mcdc_ts_physical_ms(seen);
        if (seen == 0 || (now_ms > last_ms && now_ms - last_ms >= j->quiet_ms)) {
            *cut = now_ts;
            *last = seen;
            return 0;
        }
        if (mcdc_now_mono_ms() > deadline) return writes_go_on(why, n, seen, now_ms);
        busy_last = seen;
        busy_now_ms = now_ms;
        nap(j, 500);
    }
}

/* The task's pause, as the one change a switchover or failover makes:
 * false, with why, unless this pause is the task's and the store kept it
 * (paused meanwhile for another reason, another instance runs the task,
 * the store out of reach): a hand-over whose pause a restart would not
 * find is no hand-over. */
static bool pause_with(task *t, const char *reason, char *why, size_t n) {
    mcdc_err err;
    if (task_pause_stored(t, reason, &err) == 0) return true;
    snprintf(why, n, "%.400s", err.msg);
    return false;
}

static void run_switchover(handover_job *j) {
    task *t = j->t;
    uint64_t deadline = mcdc_now_mono_ms() + j->limit_ms, cut = 0, baseline = 0;
    char why[MCDC_ERR_MSG_MAX];
    if (wait_writes_stopped(j, deadline, &cut, &baseline, why, sizeof why)) {
        finish(j, HANDOVER_REFUSED, "%s", why);
        return;
    }
    pthread_mutex_lock(&t->handover_mu);
    j->view.cut_ts = cut;
    j->view.phase = HANDOVER_VERIFYING;
    pthread_mutex_unlock(&t->handover_mu);

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
    /* Step 3: a write the source acknowledged during the verify may still
     * be on its way through the queue. Catch up with a moment after the
     * verify, then nothing new may have been read since step 1. */
    uint64_t after = 0;
    bool timed_out;
    uint64_t deadline2 = mcdc_now_mono_ms() + (j->limit_ms > 30000 ? j->limit_ms : 30000);
    if (source_now(j, &after, why, sizeof why) || wait_caught_up(j, after, deadline2, why, sizeof why, &timed_out)) {
        finish(j, HANDOVER_REFUSED, "after the verify: %s", why);
        return;
    }
    uint64_t last_after = atomic_load(&t->stats.last_change_ts);
    if (last_after != baseline) {
        char at[40];
        change_ts_wall(last_after, at);
        finish(j, HANDOVER_REFUSED, "a write to the task's collections came during the switchover (written at %s); "
                                    "stop writing to the source and ask again", at);
        return;
    }
    char at[40];
    change_ts_wall(after, at);
    char reason[MCDC_ERR_MSG_MAX];
    snprintf(reason, sizeof reason, "switched over to the target at %s (RPO 0: every covered collection verified "
                                    "equal, no write read since before the verify); resuming would replicate the "
                                    "old primary again", at);
    pthread_mutex_lock(&t->handover_mu);
    j->view.cut_ts = after;
    pthread_mutex_unlock(&t->handover_mu);
    /* Last, and only from here: the pause is the one change a switchover
     * makes. */
    if (!pause_with(t, reason, why, sizeof why)) {
        finish(j, HANDOVER_REFUSED, "the switchover's pause was not recorded (%s); nothing was handed over: the "
                                    "target held every change, verified; see the task's state, resume it if it "
                                    "stopped, and ask again", why);
        return;
    }
    finish(j, HANDOVER_DONE, "%s", reason);
}

/* The channels a failover reports on and the task's checkpoints of them,
 * read once for both of its questions (target_holds, queue_end_ts). */
typedef struct failover_channels {
    char **names;
    size_t n;
    task_positions ps;
    bool ps_read; /* false: the store failed; ps holds what it read */
} failover_channels;

static void failover_channels_read(task *t, failover_channels *c) {
    *c = (failover_channels){0};
    c->n = task_needed_dml_channels(t, &c->names);
    mcdc_err err;
    c->ps_read = c->n > 0 && task_positions_read(t, &c->ps, &err) == 0;
    if (c->n && !c->ps_read)
        log_warn("task %s: failover: the task's checkpoints cannot be read (%s): its channels are read from their "
                 "first message and what the target holds is not known", t->id, err.msg);
}

static void failover_channels_free(failover_channels *c) {
    task_positions_free(&c->ps);
    for (size_t i = 0; i < c->n; i++) free(c->names[i]);
    free(c->names);
}

static const task_position *checkpoint_of(const failover_channels *c, const char *channel) {
    for (size_t k = 0; k < c->ps.n; k++)
        if (strcmp(c->ps.items[k].channel, channel) == 0) return &c->ps.items[k];
    return NULL;
}

/* Reads `channel` from `from` up to the last message it held when asked,
 * raising *end to the newest source time met. False (the reason logged)
 * when the channel was not read whole: its end or a message could not be
 * read, a message did not decode (its header's time still counts), the
 * deadline passed or the job was stopped. */
static bool read_channel_tail(handover_job *j, const char *channel, const mq_start *from, uint64_t deadline,
                              uint64_t *end) {
    task *t = j->t;
    uint64_t now = mcdc_now_mono_ms();
    if (atomic_load(&j->stop)) return false;
    if (now >= deadline) {
        log_warn("task %s: failover: %s was not read: the %u s for reading the queue were spent", t->id, channel,
                 QUEUE_SCAN_MS / 1000);
        return false;
    }
    mcdc_err err;
    mq_msgid last;
    bool exists = false;
    if (mq_last_position(&t->env->mq, channel, &last, &exists, (uint32_t)(deadline - now < 5000 ? deadline - now : 5000),
                         &err)) {
        log_warn("task %s: failover: the end of %s cannot be read: %s", t->id, channel, err.msg);
        return false;
    }
    if (!exists) return true;
    mq_reader *r = mq_open(&t->env->mq, channel, from, &err);
    if (!r) {
        log_warn("task %s: failover: %s cannot be read: %s", t->id, channel, err.msg);
        return false;
    }
    bool reached = false, whole = true;
    while (!reached && !atomic_load(&j->stop)) {
        now = mcdc_now_mono_ms();
        if (now >= deadline) {
            log_warn("task %s: failover: %s was not read to its end within %u s", t->id, channel,
                     QUEUE_SCAN_MS / 1000);
            break;
        }
        mq_message m;
        mq_result res = mq_next(r, &m, (uint32_t)(deadline - now < 1000 ? deadline - now : 1000), &err);
        if (res == MQ_ERROR) {
            log_warn("task %s: failover: %s cannot be read: %s", t->id, channel, err.msg);
            break;
        }
        if (res == MQ_END) reached = true;
        if (res != MQ_MESSAGE) continue;
        /* The whole message, not its header: a DML message's time is its
         * rows' newest, and an upsert's Insert half has none in its header
         * (tests/it/test_wal_sequences.py). */
        change c;
        if (decode_change(m.payload, m.len, &c, &err) == 0) {
            if (c.ts > *end) *end = c.ts;
            change_free(&c);
        } else {
            char at[64];
            mq_msgid_format(t->env->mq.type, &m.id, at, sizeof at);
            log_warn("task %s: failover: the message at %s of %s does not decode: %s", t->id, at, channel, err.msg);
            int32_t type;
            uint64_t ts;
            if (decode_header(m.payload, m.len, &type, &ts, &err) == 0 && ts > *end) *end = ts;
            whole = false;
        }
        if (mq_msgid_cmp(t->env->mq.type, &m.id, &last) >= 0) reached = true;
    }
    mq_close(r);
    return reached && whole;
}

/* The newest source time the queue holds on the task's channels (the source
 * may be gone, its queue not). Not the time of each channel's last message:
 * a TimeTick(T) may follow messages stamped after T (spec/timestamps.md §3),
 * and a failover test once saw a write 280 ms newer than the tick that
 * ended its channel. So every message after each needed channel's
 * checkpoint is read, from its first message when it has none: those before
 * a checkpoint reached the target already and cannot widen the window of
 * what it may lack. The checkpoints' own times count as well, which keeps
 * the answer at or above what the target holds. All channels together are
 * read for at most QUEUE_SCAN_MS; *readable is false when one was not read
 * whole (read_channel_tail), and the answer is then the newest time read. */
static uint64_t queue_end_ts(handover_job *j, const failover_channels *c, bool *readable) {
    uint64_t end = 0, deadline = mcdc_now_mono_ms() + QUEUE_SCAN_MS;
    *readable = true;
    for (size_t i = 0; i < c->n && !atomic_load(&j->stop); i++) {
        mq_start from = {.kind = MQ_START_EARLIEST};
        const task_position *cp = checkpoint_of(c, c->names[i]);
        if (cp && cp->ts > end) end = cp->ts;
        if (cp && cp->checkpoint.len) from = (mq_start){.kind = MQ_START_AFTER, .at = cp->checkpoint};
        if (!read_channel_tail(j, c->names[i], &from, deadline, &end)) *readable = false;
    }
    return end;
}

/* What the target holds for sure: the claimed watermark of a running task,
 * else the oldest checkpoint of the channels it needs; 0 when not known (the
 * checkpoints could not be read, or a needed channel has no checkpoint
 * time). */
static uint64_t target_holds(task *t, const failover_channels *c) {
    uint64_t wm = task_watermark_claimed(t);
    if (wm && wm != UINT64_MAX) return wm;
    if (!c->n || !c->ps_read) return 0;
    uint64_t held = 0;
    for (size_t i = 0; i < c->n; i++) {
        const task_position *cp = checkpoint_of(c, c->names[i]);
        if (!cp || !cp->ts) return 0;
        if (!held || cp->ts < held) held = cp->ts;
    }
    return held;
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
    failover_channels chans;
    failover_channels_read(t, &chans);
    uint64_t held = target_holds(t, &chans);
    bool readable;
    uint64_t queue_end = queue_end_ts(j, &chans, &readable);
    failover_channels_free(&chans);
    /* Only our own stop (task_stop: the operator paused or deleted the
     * task) ends a failover: a task that paused itself meanwhile is still
     * reported as it stands. */
    if (atomic_load(&j->stop)) {
        finish(j, HANDOVER_REFUSED, "the task was stopped (paused or deleted) during the failover");
        return;
    }
    note_source(j);
    uint64_t seen = atomic_load(&t->stats.last_read_ts);
    uint64_t last = queue_end > seen ? queue_end : seen;
    pthread_mutex_lock(&t->handover_mu);
    j->view.cut_ts = held;
    j->view.last_source_ts = last;
    j->view.queue_readable = readable;
    pthread_mutex_unlock(&t->handover_mu);
    char at[40], upto[40];
    change_ts_wall(held, at);
    change_ts_wall(last, upto);
    char reason[MCDC_ERR_MSG_MAX];
    if (held)
        snprintf(reason, sizeof reason, "failed over: the target holds every change of the source up to %s; changes "
                 "after it may be missing (the newest source time %s: %s%s); checkpoints kept, mcdc dump --after the "
                 "task's positions lists them", at, readable ? "in the queue" : "read", last ? upto : "none",
                 readable ? "" : ", and the queue could not be read: later changes may be missing too");
    else
        snprintf(reason, sizeof reason, "failed over before the task knew what the target holds (a channel it needs "
                                        "has no checkpoint time yet): treat every change as possibly missing; "
                                        "checkpoints kept");
    char why[MCDC_ERR_MSG_MAX];
    if (task_state_now(t) == TASK_RUNNING && !pause_with(t, reason, why, sizeof why)) {
        finish(j, HANDOVER_REFUSED, "the failover's pause was not recorded (%s); its checkpoints are kept: ask "
                                    "again", why);
        return;
    }
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
