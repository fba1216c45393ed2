/* task_manager.c — see task_manager.h. Tasks live in memory and in the store;
 * the store is the truth across restarts: on open, every task is loaded and
 * the ones that were running start again from their checkpoints. */
#include "pipeline/task_manager.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "pipeline/task.h"
#include "pipeline/task_coverage.h"
#include "target/milvus_client.h"

struct task_manager {
    task_env env;
    /* One lock for the task list and every state change: API calls are rare,
     * and serialising them makes create/delete races on one id impossible. */
    pthread_mutex_t mu;
    task **tasks;
    size_t n;
};

static task *find(task_manager *tm, const char *id) {
    for (size_t i = 0; i < tm->n; i++)
        if (strcmp(task_id(tm->tasks[i]), id) == 0) return tm->tasks[i];
    return NULL;
}

/* The task, or NULL with MCDC_ENOTFOUND in *err. */
static task *find_or_err(task_manager *tm, const char *id, mcdc_err *err) {
    task *t = find(tm, id);
    if (!t) mcdc_errf(err, MCDC_ENOTFOUND, "no task '%s'", id);
    return t;
}

static void add(task_manager *tm, task *t) {
    tm->tasks = mcdc_xrealloc(tm->tasks, (tm->n + 1) * sizeof *tm->tasks);
    tm->tasks[tm->n++] = t;
}

static void remove_task(task_manager *tm, task *t) {
    for (size_t i = 0; i < tm->n; i++) {
        if (tm->tasks[i] == t) {
            memmove(&tm->tasks[i], &tm->tasks[i + 1], (tm->n - i - 1) * sizeof *tm->tasks);
            tm->n--;
            return;
        }
    }
}

static int load_one(void *ud, const store_task *st) {
    task_manager *tm = ud;
    mcdc_err err;
    json_t *j = json_loads(st->spec_json, 0, NULL);
    task_spec spec;
    if (!j || task_spec_from_json(j, &spec, &err)) {
        log_error("store: task %s has an unreadable spec (%s); left out", st->id, j ? err.msg : "bad JSON");
        json_decref(j);
        return 0;
    }
    json_decref(j);
    task *t = task_new(mcdc_xstrdup(st->id), &spec, &tm->env, (task_state)st->state, st->reason);
    add(tm, t);
    if (task_state_now(t) == TASK_RUNNING && task_start(t, &err)) {
        log_error("task %s: could not start again: %s", task_id(t), err.msg);
        task_pause_on_error(t, err.msg);
    }
    return 0;
}

task_manager *task_manager_open(const task_env *env, mcdc_err *err) {
    task_manager *tm = mcdc_xcalloc(1, sizeof *tm);
    tm->env = *env;
    pthread_mutex_init(&tm->mu, NULL);
    pthread_mutex_lock(&tm->mu);
    int rc = store_task_each(env->store, load_one, tm, err);
    pthread_mutex_unlock(&tm->mu);
    if (rc) {
        task_manager_close(tm);
        return NULL;
    }
    log_info("task manager: %zu task(s) loaded", tm->n);
    return tm;
}

void task_manager_close(task_manager *tm) {
    if (!tm) return;
    /* Signal every task first so they wind down in parallel, then join. */
    for (size_t i = 0; i < tm->n; i++) task_ask_stop(tm->tasks[i]);
    for (size_t i = 0; i < tm->n; i++) task_free(tm->tasks[i]);
    free(tm->tasks);
    pthread_mutex_destroy(&tm->mu);
    free(tm);
}

/* The target must answer before a task is stored: a typo in the address is
 * the user's error to see now, not a task that retries forever. */
static int check_target(const task_manager *tm, const task_spec *s, mcdc_err *err) {
    /* 10 s unless the task says: the create request waits for this answer,
     * while a worker's calls (target_ops.c) get 30 s to carry rows. */
    milvus_config mc;
    task_secrets held;
    if (task_target_milvus_config(&s->target, tm->env.secrets_dir, 10000, &mc, &held, err)) {
        /* At a start the host is to fix it (retried); here it is the
         * request that names a secret mcdc cannot read: 400 at once. */
        err->code = MCDC_EINVAL;
        return -1;
    }
    milvus_client *c = milvus_open(&mc, err);
    task_secrets_free(&held);
    if (!c) {
        mcdc_err_prefix(err, "target Milvus %s", s->target.address);
        return -1;
    }
    milvus_close(c);
    return 0;
}

int task_manager_create(task_manager *tm, task_spec *spec, char **out_id, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    int rc = -1;
    task *t = NULL;
    if (find(tm, spec->id)) {
        mcdc_errf(err, MCDC_EEXIST, "task '%s' already exists", spec->id);
        goto out;
    }
    /* Never double: under the lock, so two creates cannot both pass, and
     * against every task, paused ones too (they resume). */
    if (task_coverage_check_spec(spec, err)) goto out;
    for (size_t i = 0; i < tm->n; i++)
        if (task_coverage_check_pair(task_spec_of(tm->tasks[i]), spec, err)) goto out;
    if (check_target(tm, spec, err)) goto out;
    json_t *j = task_spec_to_json(spec, true);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    store_task st = {.id = spec->id, .spec_json = text, .state = TASK_INITIAL, .reason = ""};
    rc = store_task_put_new(tm->env.store, &st, err);
    free(text);
    if (rc) goto out;
    t = task_new(mcdc_xstrdup(spec->id), spec, &tm->env, TASK_INITIAL, "");
    if ((rc = task_init_positions(t, err))) {
        mcdc_err ignored;
        store_task_delete(tm->env.store, task_id(t), &ignored);
        task_free(t);
        goto out;
    }
    add(tm, t);
    if (!task_spec_of(t)->disable_auto_start) {
        /* Running is stored first: a worker may pause the task as soon as
         * it starts, and that pause must be what the store keeps. */
        if ((rc = store_task_update(tm->env.store, task_id(t), TASK_RUNNING, "", err)) == 0) rc = task_start(t, err);
        if (rc) {
            /* Created but not running: keep it, paused with the reason. */
            task_pause_on_error(t, err->msg);
            rc = 0;
        }
    }
    *out_id = mcdc_xstrdup(task_id(t));
    log_info("task %s created (%s)", *out_id, task_state_name(task_state_now(t)));
out:
    if (!t) task_spec_free(spec);
    pthread_mutex_unlock(&tm->mu);
    return rc;
}

/* An operation on one task, under the manager's lock; a missing task is
 * MCDC_ENOTFOUND. */
typedef int (*task_op)(task_manager *tm, task *t, mcdc_err *err);

static int on_task(task_manager *tm, const char *id, task_op op, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    task *t = find_or_err(tm, id, err);
    int rc = t ? op(tm, t, err) : -1;
    pthread_mutex_unlock(&tm->mu);
    return rc;
}

static int delete_op(task_manager *tm, task *t, mcdc_err *err) {
    /* Workers stop first: their last checkpoint save must find the task
     * still in the store. */
    task_stop(t);
    if (store_task_delete(tm->env.store, task_id(t), err) == 0) {
        log_info("task %s deleted", task_id(t));
        remove_task(tm, t);
        task_free(t);
        return 0;
    }
    mcdc_err again;
    if (task_state_now(t) == TASK_RUNNING && task_start(t, &again)) task_pause_on_error(t, again.msg);
    return -1;
}

static int pause_op(task_manager *tm, task *t, mcdc_err *err) {
    (void)tm;
    return task_pause_by_request(t, err);
}

static int resume_op(task_manager *tm, task *t, mcdc_err *err) {
    if (store_task_update(tm->env.store, task_id(t), TASK_RUNNING, "", err) || task_start(t, err)) return -1;
    log_info("task %s resumed", task_id(t));
    return 0;
}

int task_manager_delete(task_manager *tm, const char *id, mcdc_err *err) { return on_task(tm, id, delete_op, err); }
int task_manager_pause(task_manager *tm, const char *id, mcdc_err *err) { return on_task(tm, id, pause_op, err); }
int task_manager_resume(task_manager *tm, const char *id, mcdc_err *err) { return on_task(tm, id, resume_op, err); }

task_snapshot *task_manager_get(task_manager *tm, const char *id, mcdc_err *err) {
    pthread_mutex_lock(&tm->mu);
    task *t = find_or_err(tm, id, err);
    task_snapshot *s = t ? task_snapshot_take(t) : NULL;
    pthread_mutex_unlock(&tm->mu);
    return s;
}

size_t task_manager_list(task_manager *tm, task_snapshot ***out) {
    pthread_mutex_lock(&tm->mu);
    size_t n = tm->n;
    task_snapshot **list = mcdc_xcalloc(n ? n : 1, sizeof *list);
    for (size_t i = 0; i < n; i++) list[i] = task_snapshot_take(tm->tasks[i]);
    pthread_mutex_unlock(&tm->mu);
    *out = list;
    return n;
}

int task_manager_positions(task_manager *tm, const char *id, task_positions *out, mcdc_err *err) {
    *out = (task_positions){0};
    pthread_mutex_lock(&tm->mu);
    task *t = find_or_err(tm, id, err);
    mcdc_err serr;
    if (t && task_positions_read(t, out, &serr)) log_warn("task %s: reading positions: %s", id, serr.msg);
    pthread_mutex_unlock(&tm->mu);
    return t ? 0 : -1;
}

int task_manager_skip_message(task_manager *tm, const char *id, const char *channel, const char *position,
                              mcdc_err *err) {
    mq_msgid at;
    if (mq_msgid_parse(tm->env.mq.type, position, &at, err)) return -1;
    pthread_mutex_lock(&tm->mu);
    task *t = find_or_err(tm, id, err);
    if (t) {
        task_request_skip(t, channel, &at);
        log_warn("task %s: operator asked to skip the message at %s position %s", id, channel, position);
    }
    pthread_mutex_unlock(&tm->mu);
    return t ? 0 : -1;
}
