/* task.c — see task.h. */
#include "pipeline/task_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "pipeline/budget.h"
#include "pipeline/filter.h"
#include "pipeline/target_ops.h"
#include "source/change_json.h"
#include "source/channels.h"


const char *task_id(const task *t) { return t->id; }
const task_spec *task_spec_of(const task *t) { return &t->spec; }

task_state task_state_now(task *t) {
    pthread_mutex_lock(&t->mu);
    task_state s = t->state;
    pthread_mutex_unlock(&t->mu);
    return s;
}

const char *task_state_name(task_state s) {
    switch (s) {
    case TASK_INITIAL: return "Initial";
    case TASK_RUNNING: return "Running";
    case TASK_PAUSED: return "Paused";
    }
    return "Unknown";
}

size_t task_channels(const task_env *env, char ***out) {
    size_t n = (size_t)env->dml_channels + 1;
    char **list = mcdc_xcalloc(n, sizeof(char *));
    for (int i = 0; i < env->dml_channels; i++) list[i] = channel_dml_name(env->channel_prefix, i);
    list[n - 1] = channel_replicate_name(env->channel_prefix);
    *out = list;
    return n;
}

static void free_list(char **l, size_t n) {
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

static uint64_t hook_watermark(void *ud);
static int need_source_milvus(const task *t, const char *what, mcdc_err *err);
static bool task_covers(task *t, const catalog_coll *cc);

/* The copier's own target connections: not the stream's, so they record
 * nothing in the overlap (that is for the stream's writes). */
static void *copy_target_open(void *ud, mcdc_err *err) {
    task *t = ud;
    return target_ops_open(&t->spec, t->env->secrets_dir, t->env->catalog, t->bindings, NULL, err);
}
static void copy_target_close(void *ud, void *target) {
    (void)ud;
    applier_target_ops.close(target);
}

/* The watermark as a copy may trust it: 0 until every worker the task
 * needs has run once since its start (before that, channels without a
 * worker would not count). */
static uint64_t copy_watermark(void *ud) {
    task *t = ud;
    if (!atomic_load(&t->started) || atomic_load(&t->worker_missing)) return 0;
    return task_watermark(t);
}

task *task_new(char *id, task_spec *spec, const task_env *env, task_state state, const char *reason) {
    task *t = mcdc_xcalloc(1, sizeof *t);
    t->id = id;
    t->spec = *spec;
    memset(spec, 0, sizeof *spec);
    t->env = env;
    t->state = state;
    mcdc_histogram_init(&t->stats.apply_lag, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    mcdc_histogram_init(&t->stats.target_call, mcdc_hist_seconds, mcdc_hist_seconds_n, 1000000);
    snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "");
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->verify_mu, NULL);
    pthread_mutex_init(&t->handover_mu, NULL);
    t->bulk = bulk_inserts_new(id);
    t->overlap = overlap_new();
    copier_env ce = {.task_id = t->id,
                     .source = &env->source_milvus,
                     .set = &env->copy,
                     .retry_max_ms = env->apply.retry_max_ms,
                     .catalog = env->catalog,
                     .store = env->store,
                     .overlap = t->overlap,
                     .target_open = copy_target_open,
                     .target_close = copy_target_close,
                     .watermark = copy_watermark,
                     .ud = t};
    t->copier = copier_new(&ce);
    return t;
}

void task_restore(task *t, const store_task *st) {
    pthread_mutex_lock(&t->mu);
    if (st->paused_at.channel && st->paused_at.channel[0]) {
        snprintf(t->paused_channel, sizeof t->paused_channel, "%s", st->paused_at.channel);
        t->paused_id = st->paused_at.id;
    }
    if (st->skip.channel && st->skip.channel[0]) {
        snprintf(t->skip_channel, sizeof t->skip_channel, "%s", st->skip.channel);
        t->skip_id = st->skip.id;
        atomic_store(&t->skip_asked, true);
    }
    pthread_mutex_unlock(&t->mu);
}

void task_show_stored(task *t, const store_task *st) {
    pthread_mutex_lock(&t->mu);
    t->state = (task_state)st->state;
    snprintf(t->reason, sizeof t->reason, "%s", st->reason ? st->reason : "");
    bool paused = st->paused_at.channel && st->paused_at.channel[0];
    snprintf(t->paused_channel, sizeof t->paused_channel, "%s", paused ? st->paused_at.channel : "");
    t->paused_id = paused ? st->paused_at.id : (mq_msgid){.len = 0};
    bool skip = st->skip.channel && st->skip.channel[0];
    snprintf(t->skip_channel, sizeof t->skip_channel, "%s", skip ? st->skip.channel : "");
    t->skip_id = skip ? st->skip.id : (mq_msgid){.len = 0};
    atomic_store(&t->skip_asked, skip);
    pthread_mutex_unlock(&t->mu);
}

void task_disown(task *t) { atomic_store(&t->disowned, true); }

/* A store write refused because another instance owns the task now: the
 * work here ends quietly (no pause, no retry), once said. */
static void lost_to_another(task *t, const char *what) {
    if (!atomic_exchange(&t->disowned, true))
        log_info("task %s: another mcdc instance owns it now (%s refused); it stops here", t->id, what);
}

void task_ask_stop(task *t) {
    atomic_store(&t->stopping, true);
    copier_ask_stop(t->copier);
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_workers; i++)
        if (t->workers[i]) channel_worker_ask_stop(t->workers[i]);
    pthread_mutex_unlock(&t->mu);
}

void task_stop(task *t) {
    task_ask_stop(t);
    task_verify_halt(t);
    task_handover_halt(t);
    if (t->supervising) pthread_join(t->supervisor, NULL);
    t->supervising = false;
    /* The copier first: a worker may wait for one of its pages to land. */
    copier_stop(t->copier);
    t->copier_running = false;
    task_meta_stop(t);
    /* Take the workers out under the lock, stop them outside it: a worker
     * that is stopping may still ask for the watermark, which locks. */
    pthread_mutex_lock(&t->mu);
    channel_worker **ws = t->workers;
    char **chans = t->channels;
    size_t n = t->n_workers;
    t->workers = NULL;
    t->channels = NULL;
    t->n_workers = 0;
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < n; i++) channel_worker_stop(ws[i]);
    free(ws);
    free_list(chans, n);
    free(t->empty_at_start);
    t->empty_at_start = NULL;
    t->n_empty_at_start = 0;
}

void task_free(task *t) {
    if (!t) return;
    task_stop(t);
    task_verify_free_job(t);
    task_handover_free(t);
    bindings_free(t->bindings);
    bulk_inserts_free(t->bulk);
    copier_free(t->copier);
    overlap_free(t->overlap);
    task_spec_free(&t->spec);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->verify_mu);
    pthread_mutex_destroy(&t->handover_mu);
    free(t->id);
    free(t);
}

/* Whether a covered collection lives on `channel`. A collection whose
 * channels etcd names under another prefix than the configured one could
 * live on any channel we read: then every DML channel is read, as a reader
 * that cannot tell must (tests read WAL copies under a prefix of their own,
 * test_poison.py; in a deployment it means source.channel_prefix is off, and
 * task_start says so). *exact: the collection is on this very channel. */
static bool covered_here(task *t, const catalog_coll *cc, const char *channel, bool *exact) {
    *exact = false;
    /* A bound collection stays covered under a new name (a rename). */
    bool bound = t->bindings && bindings_covers(t->bindings, cc->id);
    if (!bound && !task_spec_covers(&t->spec, cc->db_name, cc->name)) return false;
    bool ours = false;
    for (size_t s = 0; s < cc->n_channels; s++) {
        if (strcmp(cc->pchannels[s], channel) == 0) *exact = true;
        if (channel_is_dml_of(t->env->channel_prefix, cc->pchannels[s])) ours = true;
    }
    return *exact || !ours;
}

static const mq_msgid *msgid_of(const catalog_start *st, mq_msgid *buf) {
    if (!st || st->len == 0 || st->len > MQ_MSGID_MAX) return NULL;
    memcpy(buf->bytes, st->msgid, st->len);
    buf->len = st->len;
    return buf;
}

bool task_needs_channel(task *t, catalog_coll *const *list, size_t n, const char *channel, mq_msgid *start) {
    bool needed = false, all_known = true;
    start->len = 0;
    for (size_t i = 0; i < n; i++) {
        bool exact;
        if (!covered_here(t, list[i], channel, &exact)) continue;
        needed = true;
        mq_msgid at;
        const mq_msgid *p = exact ? msgid_of(catalog_start_on(list[i], channel), &at) : NULL;
        if (!p) {
            all_known = false;
            continue;
        }
        if (start->len == 0 || mq_msgid_cmp(t->env->mq.type, p, start) < 0) *start = *p;
    }
    if (!all_known) start->len = 0;
    return needed;
}

size_t task_channels_read(task *t) {
    size_t k = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_workers; i++) k += t->workers[i] != NULL;
    pthread_mutex_unlock(&t->mu);
    return k;
}

/* ---- what the workers see of their task (worker_io.h) --------------------------------- */

static void hook_pause(void *ud, const char *channel, const mq_msgid *at, const char *reason) {
    if (at) task_pause_at(ud, channel, at, reason);
    else task_pause_on_error(ud, reason);
}
/* Called after every successful call with "": only then worth the lock. */
static void hook_trouble(void *ud, const char *msg) {
    task *t = ud;
    if (msg[0] || atomic_load(&t->troubled)) task_set_last_error(t, msg);
}
static uint64_t hook_watermark(void *ud) { return task_watermark(ud); }

static bool hook_skip_wanted(void *ud, const char *channel, mq_msgid *at) { return task_skip_wanted(ud, channel, at); }
static void hook_skip_taken(void *ud, const char *channel, const mq_msgid *at) { task_skip_taken(ud, channel, at); }

/* Before every position save, the store's local word on ownership (no
 * network call): an instance that may have lost its lease sends no intent,
 * so no insert of its goes out after another instance could have taken the
 * task. The store checks again in the write itself. */
static int still_owned(task *t, const char *channel, mcdc_err *err) {
    if (!atomic_load(&t->disowned) && store_task_owned(t->env->store, t->id)) return 0;
    return mcdc_errf(err, MCDC_ENOTOWNER, "task %s channel %s: another mcdc instance owns the task now", t->id,
                     channel);
}

static int save_checkpoint(void *ud, const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err) {
    task *t = ud;
    if (still_owned(t, channel, err)) return -1;
    return store_checkpoint_save(t->env->store, t->id, channel, id, ts, err);
}

static int save_intent(void *ud, const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err) {
    task *t = ud;
    if (still_owned(t, channel, err)) return -1;
    return store_intent_save(t->env->store, t->id, channel, id, ts, err);
}

static const store_ops task_store_ops = {.save_checkpoint = save_checkpoint, .save_intent = save_intent};

static channel_worker *start_worker(task *t, const char *channel, bool replicate, const mq_msgid *start_at,
                                    size_t dml_channels, mcdc_err *err) {
    store_position p;
    bool found;
    if (store_position_find(t->env->store, t->id, channel, &p, &found, err)) return NULL;
    /* A skip at or behind the checkpoint was taken by a run that ended
     * before it could clear it: it would never match again, only show. */
    mq_msgid skip;
    if (found && p.checkpoint.len && task_skip_wanted(t, channel, &skip) &&
        mq_msgid_cmp(t->env->mq.type, &skip, &p.checkpoint) <= 0)
        task_skip_taken(t, channel, &skip);
    worker_resume resume = {.checkpoint = p.checkpoint, .checkpoint_ts = p.checkpoint_ts, .intent = p.intent};
    worker_ctx ctx = {.task_id = t->id,
                      .mq_type = t->env->mq.type,
                      .stats = &t->stats,
                      .hooks = {.pause = hook_pause,
                                .trouble = hook_trouble,
                                .skip_wanted = hook_skip_wanted,
                                .skip_taken = hook_skip_taken,
                                .watermark = hook_watermark,
                                .ud = t},
                      .target = &applier_target_ops,
                      .source = &filter_ops,
                      .store = &task_store_ops,
                      .store_ud = t};
    ctx.set = budget_channel(&t->env->apply, dml_channels, replicate);
    ctx.empty_at_start = t->empty_at_start;
    ctx.n_empty_at_start = t->n_empty_at_start;
    if (!(ctx.target_ud = target_ops_open(&t->spec, t->env->secrets_dir, t->env->catalog, t->bindings, t->overlap, err)))
        return NULL;
    ctx.source_ud = filter_new(&t->spec, t->env->catalog, t->bindings, t->overlap, t->id, channel);
    return channel_worker_start(&ctx, &t->env->mq, channel, replicate, &resume, start_at, err);
}

/* A task that starts in its channels' past replays up to their end as
 * upserts (task_init_positions), since the target may hold those rows; the
 * target takes upserts slower than inserts and must also persist and
 * compact the deletes they carry (docs/benchmarks.md, sixth part). A target
 * collection that holds no row cannot double one. So at the first start in
 * the process that created the task, before any worker runs, each covered
 * collection whose target is empty (no row seen at once and no segment at
 * all, or else a count(*) of 0 with every partition loaded as of one
 * target timestamp taken during the listing for all of them:
 * target_ops_holds_rows) or not there yet is listed, and its inserts
 * in the window go as plain inserts (dml.c). Only then: no call of the task
 * has reached the target yet, so until task_stop the collection holds
 * nothing but what this run writes, each change once, provided nothing
 * else writes into it (guarantees.md). Any later start (a restart, a
 * resume, another instance's takeover) lists nothing and replays as
 * upserts. A target that cannot tell (not loaded; not all of it, unless
 * it has no segment; unreachable) counts as holding rows: an upsert is
 * never wrong. */
static void list_empty_targets(task *t) {
    catalog_coll **list;
    size_t n = catalog_list_held(t->env->catalog, &list);
    mcdc_err err;
    void *ud = NULL;
    uint64_t as_of = 0;
    for (size_t i = 0; i < n && !atomic_load(&t->stopping); i++) {
        if (!task_covers(t, list[i])) continue;
        if (!ud && !(ud = target_ops_open(&t->spec, t->env->secrets_dir, t->env->catalog, t->bindings, NULL, &err))) {
            log_info("task %s: cannot tell which target collections are empty (%s): replay windows go as upserts",
                     t->id, err.msg);
            break;
        }
        bool holds;
        if (target_ops_holds_rows(ud, list[i], &as_of, &holds, &err)) {
            log_info("task %s: %s: a replay window there goes as upserts", t->id, err.msg);
            continue;
        }
        if (holds) continue;
        t->empty_at_start = mcdc_xrealloc(t->empty_at_start, (t->n_empty_at_start + 1) * sizeof *t->empty_at_start);
        t->empty_at_start[t->n_empty_at_start++] = list[i]->id;
        log_info("task %s: the target of %s.%s holds no rows: a replay window there goes as plain inserts", t->id,
                 list[i]->db_name, list[i]->name);
    }
    if (ud) applier_target_ops.close(ud);
    catalog_release_list(list, n);
}

/* Starts the replicate channel's worker, and one on every DML channel that
 * now holds a covered collection, where there is none yet, after listing
 * the empty targets at a task's first start. -1 with *err when a worker
 * could not start (those started stay). */
static int start_needed(task *t, mcdc_err *err) {
    if (t->first_start_here) {
        t->first_start_here = false;
        list_empty_targets(t);
    }
    catalog_coll **list;
    size_t n = catalog_list_held(t->env->catalog, &list);
    int rc = 0;
    /* How many DML channels the task reads now: they share its memory
     * budget (budget.h). A channel added later gets the share of its own
     * moment. */
    size_t dml = 0;
    for (size_t i = 0; i + 1 < t->n_workers; i++) {
        pthread_mutex_lock(&t->mu);
        bool have = t->workers[i] != NULL;
        pthread_mutex_unlock(&t->mu);
        mq_msgid ignored = {.len = 0};
        if (have || task_needs_channel(t, list, n, t->channels[i], &ignored)) dml++;
    }
    for (size_t i = 0; i < t->n_workers && !atomic_load(&t->stopping); i++) {
        bool replicate = i + 1 == t->n_workers;
        pthread_mutex_lock(&t->mu);
        bool have = t->workers[i] != NULL;
        pthread_mutex_unlock(&t->mu);
        mq_msgid start = {.len = 0};
        if (have || (!replicate && !task_needs_channel(t, list, n, t->channels[i], &start))) continue;
        channel_worker *w = start_worker(t, t->channels[i], replicate, start.len ? &start : NULL, dml, err);
        if (!w) {
            mcdc_err_prefix(err, "starting the reader of %s", t->channels[i]);
            rc = -1;
            break;
        }
        pthread_mutex_lock(&t->mu);
        t->workers[i] = w;
        if (atomic_load(&t->stopping)) channel_worker_ask_stop(w);
        pthread_mutex_unlock(&t->mu);
        log_info("task %s: reading %s", t->id, t->channels[i]);
    }
    catalog_release_list(list, n);
    atomic_store(&t->worker_missing, rc != 0);
    if (rc == 0) atomic_store(&t->started, true);
    return rc;
}

static void warn_foreign_channels(task *t) {
    catalog_coll **list;
    size_t n = catalog_list_held(t->env->catalog, &list);
    for (size_t i = 0; i < n; i++) {
        bool exact = false;
        if (list[i]->n_channels && covered_here(t, list[i], "", &exact)) {
            log_warn("task %s: collection %s.%s lives on %s, not on a channel named after source.channel_prefix "
                     "'%s'; every DML channel is read",
                     t->id, list[i]->db_name, list[i]->name, list[i]->pchannels[0], t->env->channel_prefix);
            break;
        }
    }
    catalog_release_list(list, n);
}

/* The copies the store holds, once, before the first worker starts (a
 * copy that was copying makes the stream's inserts upserts before any is
 * sent); then the copier's thread, at each start. */
static int load_copies(task *t, mcdc_err *err) {
    if (!atomic_load(&t->copies_loaded)) {
        if (copier_load(t->copier, err)) return -1;
        atomic_store(&t->copies_loaded, true);
    }
    if (!t->copier_running) {
        copier_start(t->copier);
        t->copier_running = true;
    }
    return 0;
}

/* Polling is enough: a worker started late still begins at the collection's
 * start position, so the delay costs latency once, never data. */
#define SUPERVISE_MS 500

/* Whether a worker that could not start may start on a later try: the
 * target or the queue unreachable, the store busy. Anything else (a target
 * that refuses our credentials...) will not heal by waiting. */
static bool start_may_heal(const mcdc_err *err) { return mcdc_err_is_transient(err->code) || err->code == MCDC_EIO; }

/* The supervisor starts every worker, so task_start returns at once and a
 * target or queue that is down when the task starts (mcdc starting before
 * the target, a resume during an outage, a collection appearing on a new
 * channel then) is retried with the error shown, never a pause. */
static void *supervise(void *arg) {
    task *t = arg;
    mcdc_backoff bo;
    mcdc_backoff_init(&bo, SUPERVISE_MS, 30000);
    uint32_t wait_ms = 0;
    uint64_t round = 0;
    bool said = false;
    while (!atomic_load(&t->stopping)) {
        for (uint32_t i = 0; i < wait_ms / 50 && !atomic_load(&t->stopping); i++) mcdc_sleep_ms(50);
        if (atomic_load(&t->stopping)) break;
        t->round = round++;
        task_bulk_step(t); /* whatever the target does: it only reads the source */
        mcdc_err err;
        if (task_load_bindings(t, &err) == 0 && load_copies(t, &err) == 0 && start_needed(t, &err) == 0 &&
            task_meta_step(t, &err) == 0) {
            if (bo.attempt) task_set_last_error(t, "");
            mcdc_backoff_reset(&bo);
            wait_ms = SUPERVISE_MS;
            if (!said) {
                said = true;
                log_info("task %s: running, reading %zu of %zu channels", t->id, task_channels_read(t), t->n_workers);
                warn_foreign_channels(t);
            }
            continue;
        }
        if (err.code == MCDC_ENOTOWNER) {
            lost_to_another(t, "a store write of the supervisor");
            break;
        }
        if (!start_may_heal(&err)) {
            task_pause_on_error(t, err.msg);
            break;
        }
        wait_ms = mcdc_backoff_next(&bo);
        log_warn("task %s: %s; retrying in %u ms", t->id, err.msg, wait_ms);
        task_set_last_error(t, err.msg);
    }
    return NULL;
}

int task_start(task *t, mcdc_err *err) {
    task_stop(t);
    atomic_store(&t->stopping, false);
    atomic_store(&t->started, false);
    char **chans;
    size_t n = task_channels(t->env, &chans);
    /* Running before any worker exists: a worker that pauses the task at
     * once must find it Running, or its pause would be overwritten here. */
    pthread_mutex_lock(&t->mu);
    t->channels = chans;
    t->workers = mcdc_xcalloc(n, sizeof *t->workers);
    t->n_workers = n;
    t->state = TASK_RUNNING;
    t->reason[0] = '\0';
    t->paused_channel[0] = '\0';
    pthread_mutex_unlock(&t->mu);
    if (t->env->start_task) return t->env->start_task(t->env, t, err);
    if (pthread_create(&t->supervisor, NULL, supervise, t) != 0) {
        mcdc_errf(err, MCDC_EINTERNAL, "task %s: cannot start its supervisor thread", t->id);
        task_stop(t);
        return -1;
    }
    t->supervising = true;
    return 0;
}

/* The one place a pause is recorded: state, reason and the message it is
 * at (the first pause's stay while the task is Paused), and the store, so
 * a restart keeps it paused there. *first: this call paused it. */
static int record_pause(task *t, const char *reason, const char *channel, const mq_msgid *at, bool *first,
                        mcdc_err *err) {
    pthread_mutex_lock(&t->mu);
    *first = t->state != TASK_PAUSED;
    t->state = TASK_PAUSED;
    store_msg_ref where = {.channel = ""};
    if (*first) {
        snprintf(t->reason, sizeof t->reason, "%s", reason);
        snprintf(t->paused_channel, sizeof t->paused_channel, "%s", at ? channel : "");
        t->paused_id = at ? *at : (mq_msgid){.len = 0};
        where = (store_msg_ref){.channel = t->paused_channel, .id = t->paused_id};
    }
    /* Set before the workers are asked, so one that start_needed adds
     * meanwhile is asked there (both look under mu). */
    atomic_store(&t->stopping, true);
    for (size_t i = 0; i < t->n_workers; i++)
        if (t->workers[i]) channel_worker_ask_stop(t->workers[i]);
    pthread_mutex_unlock(&t->mu);
    /* Another instance owns the task: its state is that one's to write. */
    if (!*first || atomic_load(&t->disowned)) return 0;
    return store_task_update(t->env->store, t->id, TASK_PAUSED, reason, &where, err);
}

void task_pause_at(task *t, const char *channel, const mq_msgid *at, const char *reason) {
    mcdc_err err;
    bool first;
    if (record_pause(t, reason, channel, at, &first, &err)) {
        if (err.code == MCDC_ENOTOWNER) lost_to_another(t, "recording a pause");
        else log_error("task %s: could not record the pause: %s", t->id, err.msg);
    }
    if (first && !atomic_load(&t->disowned)) log_error("task %s paused: %s", t->id, reason);
}

void task_pause_on_error(task *t, const char *reason) { task_pause_at(t, NULL, NULL, reason); }

int task_pause_stored(task *t, const char *reason, mcdc_err *err) {
    if (atomic_load(&t->disowned))
        return mcdc_errf(err, MCDC_ENOTOWNER, "task %s is run by another mcdc instance now", t->id);
    bool first;
    if (record_pause(t, reason, NULL, NULL, &first, err)) {
        if (err->code == MCDC_ENOTOWNER) lost_to_another(t, "recording a pause");
        return -1;
    }
    if (!first) return mcdc_errf(err, MCDC_EEXIST, "task %s was paused already, for another reason", t->id);
    if (atomic_load(&t->disowned))
        return mcdc_errf(err, MCDC_ENOTOWNER, "task %s is run by another mcdc instance now", t->id);
    log_error("task %s paused: %s", t->id, reason);
    return 0;
}

int task_pause_by_request(task *t, mcdc_err *err) {
    /* Recorded before the threads are joined: get shows Paused at once, and
     * a worker's error meanwhile does not overwrite the operator's reason. */
    bool first;
    if (atomic_load(&t->disowned))
        return mcdc_errf(err, MCDC_ENOTOWNER, "task '%s' is run by another mcdc instance now", t->id);
    int rc = record_pause(t, "paused by request", NULL, NULL, &first, err);
    task_stop(t);
    if (rc == 0) log_info("task %s paused by request%s", t->id, first ? "" : " (it was paused already)");
    return rc;
}

static bool same_msg(const task *t, const char *ch_a, const mq_msgid *a, const char *ch_b, const mq_msgid *b) {
    return ch_a[0] && strcmp(ch_a, ch_b) == 0 && a->len && b->len && mq_msgid_cmp(t->env->mq.type, a, b) == 0;
}

int task_request_skip(task *t, const char *channel, const mq_msgid *at, mcdc_err *err) {
    char pos[64] = "", want[64] = "";
    mq_msgid_format(t->env->mq.type, at, want, sizeof want);
    pthread_mutex_lock(&t->mu);
    task_state st = t->state;
    bool at_msg = st == TASK_PAUSED && t->paused_channel[0];
    bool match = at_msg && same_msg(t, t->paused_channel, &t->paused_id, channel, at);
    char paused_channel[sizeof t->paused_channel];
    snprintf(paused_channel, sizeof paused_channel, "%s", t->paused_channel);
    if (at_msg) mq_msgid_format(t->env->mq.type, &t->paused_id, pos, sizeof pos);
    pthread_mutex_unlock(&t->mu);
    if (!at_msg)
        return mcdc_errf(err, MCDC_EINVAL,
                         "task %s is %s, not paused at a message: skip_message passes only the message a task is "
                         "paused at",
                         t->id, st == TASK_PAUSED ? "paused by request or for another reason" : task_state_name(st));
    if (!match)
        return mcdc_errf(err, MCDC_EINVAL,
                         "task %s is paused at channel %s position %s; skip_message must name exactly that message "
                         "(got channel %s position %s)",
                         t->id, paused_channel, pos, channel, want);
    /* Persisted before it counts: a restart between this and the resume
     * still skips it. Operations on one task are serialised (task_manager),
     * so the pause cannot move meanwhile. */
    store_msg_ref ref = {.channel = channel, .id = *at};
    if (store_task_set_skip(t->env->store, t->id, &ref, err)) return -1;
    pthread_mutex_lock(&t->mu);
    snprintf(t->skip_channel, sizeof t->skip_channel, "%s", channel);
    t->skip_id = *at;
    atomic_store(&t->skip_asked, true);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

bool task_skip_wanted(task *t, const char *channel, mq_msgid *at) {
    if (!atomic_load(&t->skip_asked)) return false;
    pthread_mutex_lock(&t->mu);
    bool yes = t->skip_channel[0] && strcmp(t->skip_channel, channel) == 0;
    if (yes) *at = t->skip_id;
    pthread_mutex_unlock(&t->mu);
    return yes;
}

void task_skip_taken(task *t, const char *channel, const mq_msgid *at) {
    pthread_mutex_lock(&t->mu);
    bool cleared = same_msg(t, t->skip_channel, &t->skip_id, channel, at);
    if (cleared) {
        t->skip_channel[0] = '\0';
        atomic_store(&t->skip_asked, false);
    }
    pthread_mutex_unlock(&t->mu);
    mcdc_err err;
    /* Left in the store, it names a message behind the checkpoint, which is
     * never read again: harmless, but get would still show it. */
    if (cleared && store_task_set_skip(t->env->store, t->id, NULL, &err))
        log_warn("task %s: the skip was taken, but clearing it in the store failed: %s", t->id, err.msg);
}

void task_set_last_error(task *t, const char *msg) {
    pthread_mutex_lock(&t->mu);
    snprintf(t->last_error, sizeof t->last_error, "%s", msg);
    atomic_store(&t->troubled, msg[0] != '\0');
    pthread_mutex_unlock(&t->mu);
}

uint64_t task_watermark(task *t) {
    /* A channel that must be read and is not (its worker could not start)
     * may hold anything: no cut can be claimed. */
    if (atomic_load(&t->worker_missing)) return 0;
    pthread_mutex_lock(&t->mu);
    watermark_channel *ch = mcdc_xcalloc(t->n_workers ? t->n_workers : 1, sizeof *ch);
    size_t n = 0;
    for (size_t i = 0; i < t->n_workers; i++) {
        channel_worker *w = t->workers[i];
        if (w && !channel_worker_is_replicate(w)) ch[n++] = channel_worker_watermark(w);
    }
    pthread_mutex_unlock(&t->mu);
    uint64_t wm = watermark_of(ch, n, mcdc_now_mono_ms());
    free(ch);
    return wm;
}

uint64_t task_watermark_claimed(task *t) {
    if (task_state_now(t) != TASK_RUNNING || atomic_load(&t->stopping) || !atomic_load(&t->started)) return 0;
    return task_watermark(t);
}

size_t task_needed_dml_channels(task *t, char ***out) {
    char **chans;
    size_t n = task_channels(t->env, &chans), k = 0;
    catalog_coll **list = NULL;
    size_t nl = catalog_list(t->env->catalog, NULL, &list);
    *out = mcdc_xcalloc(n ? n : 1, sizeof **out);
    /* The last one is the replicate channel: no rows there. */
    for (size_t i = 0; i + 1 < n; i++) {
        mq_msgid ignored;
        if (task_needs_channel(t, list, nl, chans[i], &ignored)) (*out)[k++] = mcdc_xstrdup(chans[i]);
    }
    catalog_release_list(list, nl);
    free_list(chans, n);
    return k;
}

/* ---- first positions ----------------------------------------------------------------- */

/* Where a channel starts: explicit position, else the earliest start position
 * of a covered collection that asked for use_start_position, else the end of
 * the channel now. Stored as "the last message already handled". */
typedef struct start_choice {
    bool from_earliest;  /* before everything in the channel */
    bool have;           /* `after` is meaningful */
    mq_msgid after;
} start_choice;

/* "Start at X inclusive" is "after the message before X"; the earliest of
 * several wins. */
static int choose_at(const task *t, start_choice *c, const mq_msgid *at, mcdc_err *err) {
    mq_msgid before;
    bool earliest;
    if (mq_position_before(t->env->mq.type, at, &before, &earliest, err)) return -1;
    if (earliest) {
        c->from_earliest = true;
        c->have = false;
        return 0;
    }
    if (c->from_earliest) return 0;
    if (!c->have || mq_msgid_cmp(t->env->mq.type, &before, &c->after) < 0) {
        c->after = before;
        c->have = true;
    }
    return 0;
}

/* "snapshot": true — a copy of every covered collection the source holds
 * now, asked for when the task's channels are pinned: the stream starts at
 * the channels' end as of now, so the rows from before come from the copy.
 * Collections created later come whole through the stream. */
static int ask_for_snapshots(task *t, mcdc_err *err) {
    catalog_coll **list;
    size_t n = catalog_list_held(t->env->catalog, &list);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const catalog_coll *cc = list[i];
        if (cc->state != CATALOG_CREATED || !task_spec_covers(&t->spec, cc->db_name, cc->name) ||
            !task_spec_wants_snapshot(&t->spec, cc->db_name, cc->name))
            continue;
        if ((rc = need_source_milvus(t, "snapshot", err)) == 0) rc = copier_add(t->copier, cc, 0, NULL, 0, err);
    }
    catalog_release_list(list, n);
    return rc;
}

int task_init_positions(task *t, mcdc_err *err) {
    char **chans;
    size_t n = task_channels(t->env, &chans);
    start_choice *choice = mcdc_xcalloc(n, sizeof *choice);
    int rc = 0;
    char buf[512];

    /* use_start_position: from the collection's CreateCollection message on
     * each of its channels (CollectionInfo.start_positions, etcd-meta.md §4.2).
     * Stored as "nothing done yet"; the worker then opens the channel at the
     * earliest start position of the task's collections there
     * (task_needs_channel), not at the channel's first message. */
    for (size_t i = 0; i < t->spec.n_collections; i++) {
        const task_collection *tc = &t->spec.collections[i];
        if (!tc->use_start_position) continue;
        catalog_coll **list;
        size_t nl = catalog_list(t->env->catalog, tc->db, &list);
        for (size_t k = 0; k < nl; k++) {
            if (strcmp(tc->name, "*") && strcmp(tc->name, list[k]->name)) continue;
            for (size_t c = 0; c < n; c++) {
                for (size_t s = 0; s < list[k]->n_channels; s++)
                    if (strcmp(list[k]->pchannels[s], chans[c]) == 0) choice[c].from_earliest = true;
            }
        }
        catalog_release_list(list, nl);
    }
    /* Explicit positions, top-level and per collection (vchannel or pchannel keys). */
    for (size_t i = 0; i <= t->spec.n_collections && rc == 0; i++) {
        const task_kv *kv = i == t->spec.n_collections ? t->spec.positions : t->spec.collections[i].positions;
        size_t nkv = i == t->spec.n_collections ? t->spec.n_positions : t->spec.collections[i].n_positions;
        for (size_t k = 0; k < nkv && rc == 0; k++) {
            const char *pch = channel_physical_of(kv[k].key, buf, sizeof buf);
            size_t c;
            for (c = 0; c < n; c++)
                if (strcmp(chans[c], pch) == 0) break;
            if (c == n) {
                rc = mcdc_errf(err, MCDC_EINVAL, "positions: '%s' is not a channel this task reads", kv[k].key);
                break;
            }
            mq_msgid at;
            if ((rc = mq_position_parse(t->env->mq.type, kv[k].value, &at, err))) break;
            if ((rc = choose_at(t, &choice[c], &at, err))) {
                mcdc_err_prefix(err, "positions");
                break;
            }
        }
    }
    /* A channel that starts in its past may hold what the target already has
     * (the same collection replicated before, a task re-created, a target
     * restored from a backup): up to the channel's end now, inserts replay as
     * upserts, as in a restart's window (store.h's intent). Milvus keeps no
     * unique keys, so plain inserts there would double rows; the first
     * start looks for targets that hold none (list_empty_targets).
     * Everything else starts at the end of the channel now. Both need every
     * channel's end, asked at once. */
    mq_msgid *end = mcdc_xcalloc(n ? n : 1, sizeof *end);
    bool *exists = mcdc_xcalloc(n ? n : 1, sizeof *exists);
    if (rc == 0) rc = mq_last_positions(&t->env->mq, (const char *const *)chans, n, end, exists, 10000, err);
    for (size_t c = 0; c < n && rc == 0; c++) {
        if (choice[c].from_earliest || choice[c].have) {
            if (exists[c]) rc = store_intent_save(t->env->store, t->id, chans[c], &end[c], 0, err);
            if (exists[c] && rc == 0) t->first_start_here = true;
        } else {
            choice[c].after = end[c];
            choice[c].have = exists[c];
            /* An empty channel: everything that will come is new. */
            if (!exists[c]) choice[c].from_earliest = true;
        }
    }
    free(end);
    free(exists);
    for (size_t c = 0; c < n && rc == 0; c++) {
        mq_msgid none = {.len = 0};
        const mq_msgid *p = choice[c].have && !choice[c].from_earliest ? &choice[c].after : &none;
        rc = store_checkpoint_save(t->env->store, t->id, chans[c], p, 0, err);
    }
    if (rc == 0) rc = ask_for_snapshots(t, err);
    free(choice);
    free_list(chans, n);
    return rc;
}

/* ---- snapshots: what the API shows (formatted in src/server) ---------------------------- */

task_snapshot *task_snapshot_take(task *t) {
    task_snapshot *s = mcdc_xcalloc(1, sizeof *s);
    s->id = mcdc_xstrdup(t->id);
    task_spec_copy(&t->spec, &s->spec, false);
    const char *mq = t->env->mq.type;
    pthread_mutex_lock(&t->mu);
    s->state = t->state;
    snprintf(s->reason, sizeof s->reason, "%s", t->reason);
    snprintf(s->last_error, sizeof s->last_error, "%s", t->last_error);
    if (t->state == TASK_PAUSED && t->paused_channel[0]) {
        snprintf(s->paused_channel, sizeof s->paused_channel, "%s", t->paused_channel);
        mq_msgid_format(mq, &t->paused_id, s->paused_position, sizeof s->paused_position);
    }
    if (t->skip_channel[0]) {
        snprintf(s->skip_channel, sizeof s->skip_channel, "%s", t->skip_channel);
        mq_msgid_format(mq, &t->skip_id, s->skip_position, sizeof s->skip_position);
    }
    bool any_worker = t->n_workers > 0;
    pthread_mutex_unlock(&t->mu);
    s->starting = s->state == TASK_RUNNING && (!atomic_load(&t->started) || atomic_load(&t->worker_missing));
    s->channels_read = task_channels_read(t);
    uint64_t wm = any_worker ? task_watermark(t) : 0;
    s->watermark = wm == UINT64_MAX ? 0 : wm;
    s->taken_wall_ms = mcdc_now_wall_ms();
    s->applied = (task_counters){
        .inserted = atomic_load(&t->stats.inserted),
        .upserted = atomic_load(&t->stats.upserted),
        .deleted = atomic_load(&t->stats.deleted),
        .ddl = atomic_load(&t->stats.ddl),
        .messages = atomic_load(&t->stats.messages),
        .calls_in_flight = atomic_load(&t->stats.calls_in_flight),
        .calls_in_flight_peak = atomic_load(&t->stats.calls_in_flight_peak),
        .queue_wait_us = atomic_load(&t->stats.queue_wait_us),
        .target_wait_us = atomic_load(&t->stats.target_wait_us),
    };
    mcdc_histogram_copy(&s->apply_lag, &t->stats.apply_lag);
    mcdc_histogram_copy(&s->target_call, &t->stats.target_call);
    bulk_inserts_copy(t->bulk, &s->bulk_inserts, &s->n_bulk_inserts);
    copier_views(t->copier, &s->copies, &s->n_copies);
    /* Before the copies are loaded from the store, nothing is known. */
    s->consistent = atomic_load(&t->copies_loaded) && copier_consistent(t->copier);
    task_verify_view(t, &s->verify);
    task_handover_view(t, &s->handover);
    return s;
}

typedef struct pos_ctx {
    const task *t;
    task_positions *out;
} pos_ctx;

static int add_position(void *ud, const store_position *p) {
    pos_ctx *c = ud;
    task_positions *o = c->out;
    o->items = mcdc_xrealloc(o->items, (o->n + 1) * sizeof *o->items);
    task_position *tp = &o->items[o->n++];
    *tp = (task_position){.channel = mcdc_xstrdup(p->channel), .checkpoint = p->checkpoint, .ts = p->checkpoint_ts};
    if (p->checkpoint.len) mq_msgid_format(c->t->env->mq.type, &p->checkpoint, tp->text, sizeof tp->text);
    else snprintf(tp->text, sizeof tp->text, "earliest");
    return 0;
}

int task_positions_read(task *t, task_positions *out, mcdc_err *err) {
    *out = (task_positions){0};
    pos_ctx c = {t, out};
    return store_position_each(t->env->store, t->id, add_position, &c, err);
}

/* Whether the task covers source collection cc: bound (whatever it is
 * called now) or named by the spec. */
static bool task_covers(task *t, const catalog_coll *cc) {
    return (t->bindings && bindings_covers(t->bindings, cc->id)) || task_spec_covers(&t->spec, cc->db_name, cc->name);
}

static int need_source_milvus(const task *t, const char *what, mcdc_err *err) {
    if (t->env->source_milvus.address && t->env->source_milvus.address[0]) return 0;
    return mcdc_errf(err, MCDC_EINVAL,
                     "%s: a snapshot reads the source through its Query API; set source.milvus.address in mcdc's "
                     "config",
                     what);
}

int task_resync(task *t, const char *db, const char *collection, mcdc_err *err) {
    if (need_source_milvus(t, "resync", err)) return -1;
    catalog_coll *cc = catalog_find(t->env->catalog, db, collection);
    if (!cc || !task_covers(t, cc)) {
        catalog_release(cc);
        return mcdc_errf(err, MCDC_ENOTFOUND, "task %s does not cover a collection %s.%s of the source", t->id, db,
                         collection);
    }
    int rc = copier_add(t->copier, cc, 0, NULL, 0, err);
    catalog_release(cc);
    if (rc) mcdc_err_prefix(err, "task %s: resync", t->id);
    return rc;
}
