/* task_verify.c — the `verify` request of a task: compares every collection
 * the task covers (or the one named) between the source and the task's
 * target, with the task's name mapping, at the task's watermark (verify.h).
 *
 * Why at the watermark: a verify that reads a source still being written
 * sees on the target only what the task has applied. Before it starts, and
 * before every re-check, the job takes a timestamp from the source's TSO
 * and waits until the task's watermark passes it: every change the source
 * acknowledged before that moment is then on the target, and what still
 * differs is either a change made since (the re-check reads both sides
 * again, so it does not stay a difference) or a real one.
 *
 * One verify at a time per task: a second request while one runs is
 * MCDC_EEXIST (409). The job runs on a thread of its own, which task_stop
 * stops and joins (task_verify_stop) before the task goes; the API reads
 * what it found through task_verify_view, under verify_mu. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/task_int.h"
#include "verify/verify_milvus.h"

/* How long a verify waits for the watermark to pass a moment of the
 * source before it gives up on the collection: a task that lags this far
 * is not one to verify now. */
#define CATCH_UP_TIMEOUT_MS (10u * 60u * 1000u)

typedef struct verify_job {
    task *t;
    pthread_t thread;
    bool joined;           /* the API's and task_stop's: under the task's op order */
    _Atomic bool stop;
    _Atomic bool *also_stop; /* a caller's own stop flag (a switchover's), or NULL */
    milvus_config target;
    task_secrets held;
    /* Under t->verify_mu: */
    task_verify view;
    verify_progress *prog; /* one per collection; read without the lock */
} verify_job;

static bool job_stopping(void *ud) {
    verify_job *j = ud;
    return atomic_load(&j->stop) || atomic_load(&j->t->stopping) || (j->also_stop && atomic_load(j->also_stop));
}

/* Waits until the task's watermark passes a timestamp the source gives
 * now: the target then holds every change acknowledged before this call. */
static bool caught_up(void *ud, mcdc_err *err) {
    verify_job *j = ud;
    task *t = j->t;
    milvus_client *src = milvus_open(&t->env->source_milvus, err);
    if (!src) return false;
    uint64_t ts;
    int rc = milvus_alloc_timestamp(src, &ts, err);
    milvus_close(src);
    if (rc) return false;
    uint64_t deadline = mcdc_now_mono_ms() + CATCH_UP_TIMEOUT_MS;
    while (task_watermark(t) < ts) {
        if (job_stopping(j)) return !mcdc_errf(err, MCDC_ECANCELED, "verify stopped");
        if (task_state_now(t) == TASK_PAUSED)
            return !mcdc_errf(err, MCDC_EREMOTE, "task %s was paused: its watermark will not pass the moment to "
                                                 "compare at", t->id);
        if (mcdc_now_mono_ms() > deadline)
            return !mcdc_errf(err, MCDC_ETIMEOUT, "task %s: the watermark did not pass the source's time of the "
                                                  "verify in %u s (the task lags)", t->id, CATCH_UP_TIMEOUT_MS / 1000);
        mcdc_sleep_ms(100);
    }
    return true;
}

static void *job_run(void *arg) {
    verify_job *j = arg;
    task *t = j->t;
    verify_hooks hooks = {.ud = j, .caught_up = caught_up, .stopping = job_stopping};
    verify_options opt = {.page_rows = t->env->copy.page_rows, .readers = t->env->copy.readers, .rechecks = 3};
    if (opt.page_rows > 16384) opt.page_rows = 16384;
    for (size_t i = 0; i < j->view.n && !job_stopping(j); i++) {
        /* The names were taken at the request; a rename since fails the
         * collection with not-found, which the result says. */
        char sdb[BINDING_NAME_MAX], sname[BINDING_NAME_MAX], tdb[BINDING_NAME_MAX], tname[BINDING_NAME_MAX];
        pthread_mutex_lock(&t->verify_mu);
        task_verify_coll *c = &j->view.colls[i];
        /* Refused at the request (not on the target yet): it says why. */
        bool skip = c->phase == VERIFY_FAILED || sscanf(c->source, "%255[^.].%255[^\n]", sdb, sname) != 2 ||
                    sscanf(c->target, "%255[^.].%255[^\n]", tdb, tname) != 2;
        if (!skip) c->phase = VERIFY_COMPARING;
        pthread_mutex_unlock(&t->verify_mu);
        if (skip) continue;
        verify_milvus_cfg scfg = {&t->env->source_milvus, sdb, sname}, dcfg = {&j->target, tdb, tname};
        verify_result res;
        mcdc_err err = {0};
        int rc = caught_up(j, &err) ? 0 : -1;
        if (!rc)
            rc = verify_run(&verify_milvus_ops, &scfg, &verify_milvus_ops, &dcfg, &opt, &hooks, &j->prog[i], &res,
                            &err);
        pthread_mutex_lock(&t->verify_mu);
        c->phase = rc ? VERIFY_FAILED : VERIFY_DONE;
        if (rc) {
            snprintf(c->error, sizeof c->error, "%s", err.msg);
        } else {
            c->result = res;
            c->has_result = true;
        }
        pthread_mutex_unlock(&t->verify_mu);
        if (rc)
            log_warn("task %s: verify of %s -> %s could not compare: %s", t->id, c->source, c->target, err.msg);
        else
            log_info("task %s: verify of %s -> %s: %s (missing %" PRIu64 ", extra %" PRIu64 ", differing %" PRIu64
                     ", doubled %" PRIu64 ")",
                     t->id, c->source, c->target, verify_result_equal(&res) ? "equal" : "DIFFERENT",
                     res.count[VERIFY_MISSING], res.count[VERIFY_EXTRA], res.count[VERIFY_DIFFERING],
                     res.count[VERIFY_DOUBLED]);
    }
    pthread_mutex_lock(&t->verify_mu);
    for (size_t i = 0; i < j->view.n; i++)
        if (j->view.colls[i].phase < VERIFY_DONE) {
            j->view.colls[i].phase = VERIFY_FAILED;
            snprintf(j->view.colls[i].error, sizeof j->view.colls[i].error, "verify stopped");
        }
    j->view.running = false;
    j->view.finished_wall_ms = mcdc_now_wall_ms();
    pthread_mutex_unlock(&t->verify_mu);
    /* The target's secrets are not kept past their use. */
    task_secrets_free(&j->held);
    return NULL;
}

static void job_free(verify_job *j) {
    if (!j) return;
    task_verify_free(&j->view);
    task_secrets_free(&j->held);
    free(j->prog);
    free(j);
}

/* Stops the job and joins its thread, keeping what it found for the API
 * (a paused task still shows its last verify). */
void task_verify_halt(task *t) {
    verify_job *j = t->verify_job;
    if (!j || j->joined) return;
    atomic_store(&j->stop, true);
    pthread_join(j->thread, NULL);
    j->joined = true;
}

void task_verify_free_job(task *t) {
    task_verify_halt(t);
    pthread_mutex_lock(&t->verify_mu);
    verify_job *j = t->verify_job;
    t->verify_job = NULL;
    pthread_mutex_unlock(&t->verify_mu);
    job_free(j);
}

static bool covers(task *t, const catalog_coll *cc) {
    return (t->bindings && bindings_covers(t->bindings, cc->id)) || task_spec_covers(&t->spec, cc->db_name, cc->name);
}

verify_job *task_verify_prepare(task *t, const char *db, const char *collection, mcdc_err *err) {
    if (!t->env->source_milvus.address || !t->env->source_milvus.address[0]) {
        mcdc_errf(err, MCDC_EINVAL, "verify reads the source through its Query API; set source.milvus.address in "
                                    "mcdc's config");
        return NULL;
    }
    if (!t->bindings) {
        mcdc_errf(err, MCDC_EUNAVAIL, "task %s is starting; try again in a moment", t->id);
        return NULL;
    }
    catalog_coll **list = NULL;
    size_t n = catalog_list(t->env->catalog, NULL, &list);
    verify_job *j = mcdc_xcalloc(1, sizeof *j);
    j->t = t;
    j->view.colls = mcdc_xcalloc(n ? n : 1, sizeof *j->view.colls);
    for (size_t i = 0; i < n; i++) {
        catalog_coll *cc = list[i];
        if (!covers(t, cc)) continue;
        if (collection && (strcmp(cc->name, collection) != 0 || strcmp(cc->db_name, db ? db : "default") != 0))
            continue;
        binding b;
        /* Not bound yet: the task has not made its target collection, so
         * there is nothing to compare with; the result says so. */
        bool bound = bindings_get(t->bindings, cc->id, &b) && b.state == BINDING_LIVE;
        task_verify_coll *c = &j->view.colls[j->view.n++];
        mcdc_buf s = {0}, d = {0};
        mcdc_buf_printf(&s, "%s.%s", cc->db_name, cc->name);
        if (bound) mcdc_buf_printf(&d, "%s.%s", b.db, b.name);
        c->source = mcdc_xstrdup(mcdc_buf_cstr(&s));
        c->target = mcdc_xstrdup(bound ? mcdc_buf_cstr(&d) : "");
        mcdc_buf_free(&s);
        mcdc_buf_free(&d);
        if (!bound) {
            c->phase = VERIFY_FAILED;
            snprintf(c->error, sizeof c->error, "the task has not created this collection on the target yet");
        }
    }
    catalog_release_list(list, n);
    if (j->view.n == 0) {
        job_free(j);
        if (!collection)
            mcdc_errf(err, MCDC_ENOTFOUND, "task %s covers no collection of the source now: nothing to verify", t->id);
        else
            mcdc_errf(err, MCDC_ENOTFOUND, "task %s does not cover a collection %s.%s of the source", t->id,
                      db ? db : "default", collection);
        return NULL;
    }
    if (task_target_milvus_config(&t->spec.target, t->env->secrets_dir, 30000, &j->target, &j->held, err)) {
        job_free(j);
        return NULL;
    }
    j->target.role = "target";
    j->prog = mcdc_xcalloc(j->view.n ? j->view.n : 1, sizeof *j->prog);
    j->view.asked = true;
    j->view.running = true;
    j->view.started_wall_ms = mcdc_now_wall_ms();
    return j;
}

void task_verify_run_here(verify_job *j, _Atomic bool *stop) {
    j->also_stop = stop;
    job_run(j);
}

bool task_verify_job_result(verify_job *j, uint64_t counts[VERIFY_N_KINDS], char *why, size_t why_len) {
    bool equal = true;
    memset(counts, 0, VERIFY_N_KINDS * sizeof *counts);
    if (why_len) why[0] = 0;
    for (size_t i = 0; i < j->view.n; i++) {
        const task_verify_coll *c = &j->view.colls[i];
        if (!c->has_result) {
            if (equal && why_len) snprintf(why, why_len, "%s could not be compared: %s", c->source, c->error);
            equal = false;
            continue;
        }
        for (int k = 0; k < VERIFY_N_KINDS; k++) counts[k] += c->result.count[k];
        if (!verify_result_equal(&c->result)) {
            if (equal && why_len)
                snprintf(why, why_len, "%s differs from %s on the target: %" PRIu64 " missing, %" PRIu64 " extra, %"
                         PRIu64 " differing, %" PRIu64 " doubled", c->source, c->target,
                         c->result.count[VERIFY_MISSING], c->result.count[VERIFY_EXTRA],
                         c->result.count[VERIFY_DIFFERING], c->result.count[VERIFY_DOUBLED]);
            equal = false;
        }
    }
    return equal;
}

void task_verify_job_free(verify_job *j) { job_free(j); }

int task_verify_start(task *t, const char *db, const char *collection, mcdc_err *err) {
    pthread_mutex_lock(&t->verify_mu);
    bool running = t->verify_job && t->verify_job->view.running;
    pthread_mutex_unlock(&t->verify_mu);
    if (running) return mcdc_errf(err, MCDC_EEXIST, "task %s: a verify is running; wait for it to end", t->id);
    verify_job *j = task_verify_prepare(t, db, collection, err);
    if (!j) return -1;
    /* The previous job is over (not running): join it before its place is
     * taken. */
    task_verify_free_job(t);
    pthread_mutex_lock(&t->verify_mu);
    t->verify_job = j;
    pthread_mutex_unlock(&t->verify_mu);
    if (pthread_create(&j->thread, NULL, job_run, j) != 0) {
        pthread_mutex_lock(&t->verify_mu);
        t->verify_job = NULL;
        pthread_mutex_unlock(&t->verify_mu);
        job_free(j);
        return mcdc_errf(err, MCDC_ENOMEM, "task %s: no thread for a verify", t->id);
    }
    return 0;
}

void task_verify_view(task *t, task_verify *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&t->verify_mu);
    verify_job *j = t->verify_job;
    if (j) {
        *out = j->view;
        out->colls = mcdc_xcalloc(j->view.n ? j->view.n : 1, sizeof *out->colls);
        for (size_t i = 0; i < j->view.n; i++) {
            const task_verify_coll *c = &j->view.colls[i];
            task_verify_coll *o = &out->colls[i];
            *o = *c;
            o->source = mcdc_xstrdup(c->source);
            o->target = mcdc_xstrdup(c->target);
            if (c->has_result) verify_result_copy(&o->result, &c->result);
            else memset(&o->result, 0, sizeof o->result);
            o->rows_total = atomic_load(&j->prog[i].rows_total);
            o->rows_compared = atomic_load(&j->prog[i].rows_compared);
            if (c->phase == VERIFY_COMPARING) o->phase = (verify_phase)atomic_load(&j->prog[i].phase);
            if (o->phase == VERIFY_STARTING && c->phase == VERIFY_COMPARING) o->phase = VERIFY_COMPARING;
        }
    }
    pthread_mutex_unlock(&t->verify_mu);
}
