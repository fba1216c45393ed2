/* copier.c — see copier.h. */
#include "pipeline/copier.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "pipeline/target_ops.h"
#include "target/columns.h"

/* One partition's progress: the last key of the newest page that landed
 * with every page before it. */
typedef struct part_progress {
    char *name;               /* the source's partition name; "" = the whole collection (partition key) */
    bool done;
    bool has_last;
    int64_t last_i;
    char *last_s;             /* varchar keys */
    bool taken;               /* a reader has it in this pass */
} part_progress;

typedef struct job {
    int64_t id;
    char *db, *name;
    copy_phase phase;
    uint64_t rows_total, rows_copied, end_ts;
    part_progress *parts;
    size_t n_parts;
    char last_error[MCDC_ERR_MSG_MAX];
    /* rows/s over the last progress interval */
    uint64_t rate_at_ms, rate_rows;
    double rows_per_s;
    int64_t *imports;         /* bulk inserts this collection's copies were for */
    size_t n_imports;
    int64_t *wait_segments;   /* a bulk insert's segments, to be served before the copy reads */
    size_t n_wait_segments;
} job;

struct copier {
    copier_env env;
    pthread_mutex_t mu;       /* jobs and every field of them; never held across a call */
    /* Held from a job's JSON to its store write, so saves land in the
     * order their states were taken (a resync's "waiting" never lost under
     * an older "streaming"). Taken before mu, never the other way. */
    pthread_mutex_t save_mu;
    job *jobs;
    size_t n_jobs;
    pthread_t thread;
    bool running;
    _Atomic bool stop;
};

/* ---- the store's form: one JSON document per collection ---------------------------- */

static copy_phase phase_of(const char *s) {
    for (copy_phase p = COPY_WAITING; p <= COPY_STREAMING; p++)
        if (s && strcmp(s, copy_phase_name(p)) == 0) return p;
    return COPY_WAITING;
}

/* Under mu. */
static char *job_json(const job *j) {
    json_t *parts = json_array();
    for (size_t i = 0; i < j->n_parts; i++) {
        const part_progress *p = &j->parts[i];
        json_t *o = json_pack("{s:s, s:b}", "name", p->name, "done", p->done);
        if (p->has_last) json_object_set_new(o, "last", p->last_s ? json_string(p->last_s) : json_integer(p->last_i));
        json_array_append_new(parts, o);
    }
    json_t *imports = json_array(), *segs = json_array();
    for (size_t i = 0; i < j->n_imports; i++) json_array_append_new(imports, json_integer(j->imports[i]));
    for (size_t i = 0; i < j->n_wait_segments; i++) json_array_append_new(segs, json_integer(j->wait_segments[i]));
    json_t *doc = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "db", j->db, "collection", j->name,
                            "phase", copy_phase_name(j->phase), "rows_total", (json_int_t)j->rows_total,
                            "rows_copied", (json_int_t)j->rows_copied, "end_ts", (json_int_t)j->end_ts, "partitions",
                            parts, "imports", imports, "wait_segments", segs);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static void job_clear(job *j) {
    free(j->db);
    free(j->name);
    for (size_t i = 0; i < j->n_parts; i++) {
        free(j->parts[i].name);
        free(j->parts[i].last_s);
    }
    free(j->parts);
    free(j->imports);
    free(j->wait_segments);
    memset(j, 0, sizeof *j);
}

static job *job_of(copier *c, int64_t id) {
    for (size_t i = 0; i < c->n_jobs; i++)
        if (c->jobs[i].id == id) return &c->jobs[i];
    return NULL;
}

static job *job_add(copier *c, int64_t id) {
    c->jobs = mcdc_xrealloc(c->jobs, (c->n_jobs + 1) * sizeof *c->jobs);
    job *j = &c->jobs[c->n_jobs++];
    memset(j, 0, sizeof *j);
    j->id = id;
    return j;
}

/* Saves job id as it is now. A failed save is logged and costs only pages
 * read again after a restart: the copy goes on. */
static int save_or_fail(copier *c, int64_t id, mcdc_err *err) {
    pthread_mutex_lock(&c->save_mu);
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    char *doc = j ? job_json(j) : NULL;
    pthread_mutex_unlock(&c->mu);
    int rc = doc ? store_copy_save(c->env.store, c->env.task_id, id, doc, err) : 0;
    pthread_mutex_unlock(&c->save_mu);
    free(doc);
    return rc;
}

static void save(copier *c, int64_t id) {
    mcdc_err err;
    if (save_or_fail(c, id, &err) == 0) return;
    if (err.code == MCDC_ENOTOWNER) {
        /* Another instance owns the task and resumes the copy from what is
         * stored: this one's copy ends here. */
        log_info("task %s: copy of collection %" PRId64 " stops here: %s", c->env.task_id, id, err.msg);
        atomic_store(&c->stop, true);
        return;
    }
    log_warn("task %s: saving the copy of collection %" PRId64 ": %s", c->env.task_id, id, err.msg);
}

static void set_rule1(copier *c, int64_t id, copy_phase phase, uint64_t end_ts) {
    overlap_set_upsert_until(c->env.overlap, id,
                             phase == COPY_COPYING ? UINT64_MAX : phase == COPY_OVERLAPPING ? end_ts : 0);
}

static int load_one(void *ud, int64_t id, const char *state) {
    copier *c = ud;
    json_error_t je;
    json_t *doc = json_loads(state, 0, &je);
    if (!doc) {
        log_warn("task %s: the stored copy of collection %" PRId64 " does not parse (%s); copying it again",
                 c->env.task_id, id, je.text);
        doc = json_object();
    }
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    if (j) job_clear(j), j->id = id;
    else j = job_add(c, id);
    const char *db = json_string_value(json_object_get(doc, "db"));
    const char *name = json_string_value(json_object_get(doc, "collection"));
    j->db = mcdc_xstrdup(db ? db : "");
    j->name = mcdc_xstrdup(name ? name : "");
    j->phase = phase_of(json_string_value(json_object_get(doc, "phase")));
    j->rows_total = (uint64_t)json_integer_value(json_object_get(doc, "rows_total"));
    j->rows_copied = (uint64_t)json_integer_value(json_object_get(doc, "rows_copied"));
    j->end_ts = (uint64_t)json_integer_value(json_object_get(doc, "end_ts"));
    json_t *parts = json_object_get(doc, "partitions");
    j->n_parts = json_array_size(parts);
    j->parts = mcdc_xcalloc(j->n_parts ? j->n_parts : 1, sizeof *j->parts);
    for (size_t i = 0; i < j->n_parts; i++) {
        json_t *o = json_array_get(parts, i), *last = json_object_get(o, "last");
        const char *pn = json_string_value(json_object_get(o, "name"));
        part_progress *p = &j->parts[i];
        p->name = mcdc_xstrdup(pn ? pn : "");
        p->done = json_is_true(json_object_get(o, "done"));
        if (json_is_integer(last)) {
            p->has_last = true;
            p->last_i = json_integer_value(last);
        } else if (json_is_string(last)) {
            p->has_last = true;
            p->last_s = mcdc_xstrdup(json_string_value(last));
        }
    }
    json_t *imports = json_object_get(doc, "imports");
    j->n_imports = json_array_size(imports);
    j->imports = mcdc_xcalloc(j->n_imports ? j->n_imports : 1, sizeof *j->imports);
    for (size_t i = 0; i < j->n_imports; i++) j->imports[i] = json_integer_value(json_array_get(imports, i));
    json_t *segs = json_object_get(doc, "wait_segments");
    j->n_wait_segments = json_array_size(segs);
    j->wait_segments = mcdc_xcalloc(j->n_wait_segments ? j->n_wait_segments : 1, sizeof *j->wait_segments);
    for (size_t i = 0; i < j->n_wait_segments; i++) j->wait_segments[i] = json_integer_value(json_array_get(segs, i));
    copy_phase phase = j->phase;
    uint64_t end_ts = j->end_ts;
    pthread_mutex_unlock(&c->mu);
    json_decref(doc);
    set_rule1(c, id, phase, end_ts);
    return 0;
}

/* ---- construction and the API's views ------------------------------------------------ */

copier *copier_new(const copier_env *env) {
    copier *c = mcdc_xcalloc(1, sizeof *c);
    c->env = *env;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->save_mu, NULL);
    return c;
}

void copier_free(copier *c) {
    if (!c) return;
    copier_stop(c);
    for (size_t i = 0; i < c->n_jobs; i++) job_clear(&c->jobs[i]);
    free(c->jobs);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->save_mu);
    free(c);
}

int copier_load(copier *c, mcdc_err *err) { return store_copy_each(c->env.store, c->env.task_id, load_one, c, err); }

static bool busy_phase(copy_phase p) { return p != COPY_STREAMING; }

int copier_add(copier *c, const catalog_coll *cc, int64_t import, const int64_t *segments, size_t n_segments,
               mcdc_err *err) {
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, cc->id);
    if (j && busy_phase(j->phase)) {
        copy_phase p = j->phase;
        pthread_mutex_unlock(&c->mu);
        return mcdc_errf(err, MCDC_EEXIST, "collection %s.%s: a copy is %s already", cc->db_name, cc->name,
                         copy_phase_name(p));
    }
    int64_t *imports = NULL;
    size_t n_imports = 0;
    if (j) {
        imports = j->imports;   /* kept across copies of one collection */
        n_imports = j->n_imports;
        j->imports = NULL;
        job_clear(j);
        j->id = cc->id;
    } else {
        j = job_add(c, cc->id);
    }
    if (import) {
        imports = mcdc_xrealloc(imports, (n_imports + 1) * sizeof *imports);
        imports[n_imports++] = import;
    }
    j->imports = imports;
    j->n_imports = n_imports;
    if (n_segments) {
        j->wait_segments = mcdc_xcalloc(n_segments, sizeof *j->wait_segments);
        memcpy(j->wait_segments, segments, n_segments * sizeof *segments);
        j->n_wait_segments = n_segments;
    }
    j->db = mcdc_xstrdup(cc->db_name);
    j->name = mcdc_xstrdup(cc->name);
    j->phase = COPY_WAITING;
    j->parts = mcdc_xcalloc(1, sizeof *j->parts);
    pthread_mutex_unlock(&c->mu);
    /* Not saved, not asked for: a restart must not lose it (the stream of
     * a new task is pinned at the channels' end already). */
    if (save_or_fail(c, cc->id, err)) {
        pthread_mutex_lock(&c->mu);
        if ((j = job_of(c, cc->id))) {
            job_clear(j);
            *j = c->jobs[--c->n_jobs];
        }
        pthread_mutex_unlock(&c->mu);
        mcdc_err_prefix(err, "saving the copy of %s.%s", cc->db_name, cc->name);
        return -1;
    }
    log_info("task %s: copy of %s.%s asked for", c->env.task_id, cc->db_name, cc->name);
    return 0;
}

bool copier_import_seen(copier *c, int64_t import) {
    pthread_mutex_lock(&c->mu);
    bool seen = false;
    for (size_t i = 0; i < c->n_jobs && !seen; i++)
        for (size_t k = 0; k < c->jobs[i].n_imports; k++)
            if (c->jobs[i].imports[k] == import) seen = true;
    pthread_mutex_unlock(&c->mu);
    return seen;
}

bool copier_busy(copier *c, int64_t id) {
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    bool busy = j && busy_phase(j->phase);
    pthread_mutex_unlock(&c->mu);
    return busy;
}

bool copier_consistent(copier *c) {
    pthread_mutex_lock(&c->mu);
    bool all = true;
    for (size_t i = 0; i < c->n_jobs; i++)
        if (busy_phase(c->jobs[i].phase)) all = false;
    pthread_mutex_unlock(&c->mu);
    return all;
}

void copier_views(copier *c, task_copy **out, size_t *n) {
    pthread_mutex_lock(&c->mu);
    *n = c->n_jobs;
    *out = c->n_jobs ? mcdc_xcalloc(c->n_jobs, sizeof **out) : NULL;
    for (size_t i = 0; i < c->n_jobs; i++) {
        const job *j = &c->jobs[i];
        task_copy *v = &(*out)[i];
        v->db = mcdc_xstrdup(j->db);
        v->collection = mcdc_xstrdup(j->name);
        v->collection_id = j->id;
        v->phase = j->phase;
        v->rows_copied = j->rows_copied;
        v->rows_total = j->rows_total;
        v->rows_per_s = j->phase == COPY_COPYING ? j->rows_per_s : 0;
        v->eta_s = -1;
        if (j->phase == COPY_COPYING && j->rows_per_s > 0 && j->rows_total >= j->rows_copied)
            v->eta_s = (int64_t)((double)(j->rows_total - j->rows_copied) / j->rows_per_s + 0.5);
        else if (j->phase == COPY_OVERLAPPING || j->phase == COPY_STREAMING)
            v->eta_s = 0;
        v->end_ts = j->end_ts;
        snprintf(v->last_error, sizeof v->last_error, "%s", j->last_error);
    }
    pthread_mutex_unlock(&c->mu);
}

static void set_error(copier *c, int64_t id, const char *msg) {
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    if (j) snprintf(j->last_error, sizeof j->last_error, "%s", msg);
    pthread_mutex_unlock(&c->mu);
}

static void set_phase(copier *c, int64_t id, copy_phase phase, uint64_t end_ts) {
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    if (j) {
        j->phase = phase;
        j->end_ts = end_ts;
    }
    pthread_mutex_unlock(&c->mu);
    save(c, id);
}

/* ---- waiting, stop-aware ------------------------------------------------------------- */

static bool stopping(copier *c) { return atomic_load(&c->stop); }

static void nap(copier *c, uint32_t ms) {
    for (uint32_t i = 0; i < ms / 50 && !stopping(c); i++) mcdc_sleep_ms(50);
}

/* Trouble: shown, logged, waited out. */
static void trouble(copier *c, int64_t id, mcdc_backoff *bo, const mcdc_err *err) {
    uint32_t ms = mcdc_backoff_next(bo);
    log_warn("task %s: copy of collection %" PRId64 ": %s; retrying in %u ms", c->env.task_id, id, err->msg, ms);
    set_error(c, id, err->msg);
    nap(c, ms);
}

/* A timestamp of the source's TSO, retried until it comes or we stop. */
static bool source_ts(copier *c, milvus_client **src, int64_t id, mcdc_backoff *bo, uint64_t *ts) {
    while (!stopping(c)) {
        mcdc_err err;
        if (!*src) *src = milvus_open(c->env.source, &err);
        if (*src && milvus_alloc_timestamp(*src, ts, &err) == 0) return true;
        if (*src && err.code != MCDC_EREMOTE) {
            milvus_close(*src);
            *src = NULL;
        }
        mcdc_err_prefix(&err, "source %s", c->env.source->address);
        trouble(c, id, bo, &err);
    }
    return false;
}

/* Until the task's watermark passed ts: every change the stream holds up
 * to ts is on the target. */
static bool watermark_past(copier *c, uint64_t ts) {
    while (!stopping(c)) {
        if (c->env.watermark(c->env.ud) >= ts) return true;
        nap(c, 100);
    }
    return false;
}

/* ---- a reader: one partition at a time ------------------------------------------------ */

/* A page is read as of at least `since`, a moment this far before the
 * source's clock when the page began: a source that has served past it
 * answers at once, where Strong waits for the next time tick (~200 ms a
 * page, 5x slower here). Any since before the read is right for overlap.h;
 * an older one only keeps the stream's writes in memory a little longer. */
#define PAGE_SINCE_BEHIND_MS 1000

typedef struct page_call {
    overlap_page *op;
    target_call *call;
    uint32_t rows;
    bool has_last;
    int64_t last_i;
    char *last_s;
} page_call;

typedef struct reader {
    copier *c;
    int64_t id;
    uint64_t pin;             /* no page's since before it: tracking began before it */
    milvus_client *src;
    void *target;
    mcdc_backoff bo;
    uint32_t page_rows;
    page_call *ring;
    size_t head, n;
    /* A page failed to land (a stop during its retries): the pages after
     * it may land, but none counts as progress, or the saved key would
     * pass the failed page's rows. */
    bool failed;
} reader;

/* A page's rows: fewer than page_rows when the schema says rows are wide. */
static uint32_t rows_per_page(const copier *c, const catalog_coll *cc) {
    size_t row = 16;
    for (size_t i = 0; cc->schema && i < cc->schema->n_fields; i++) {
        const Milvus__Proto__Schema__FieldSchema *f = cc->schema->fields[i];
        size_t dim = 0, max_len = 0, cap = 0;
        for (size_t k = 0; k < f->n_type_params; k++) {
            const char *key = f->type_params[k]->key, *v = f->type_params[k]->value;
            if (strcmp(key, "dim") == 0) dim = strtoull(v, NULL, 10);
            if (strcmp(key, "max_length") == 0) max_len = strtoull(v, NULL, 10);
            if (strcmp(key, "max_capacity") == 0) cap = strtoull(v, NULL, 10);
        }
        switch (f->data_type) {
        case MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector: row += dim * 4; break;
        case MILVUS__PROTO__SCHEMA__DATA_TYPE__BinaryVector: row += dim / 8; break;
        case MILVUS__PROTO__SCHEMA__DATA_TYPE__Float16Vector: row += dim * 2; break;
        case MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar: row += max_len ? max_len : 256; break;
        case MILVUS__PROTO__SCHEMA__DATA_TYPE__JSON: row += 1024; break;
        case MILVUS__PROTO__SCHEMA__DATA_TYPE__Array: row += (cap ? cap : 64) * (max_len ? max_len : 8); break;
        default: row += 8; break;
        }
    }
    size_t by_bytes = c->env.set->page_bytes / row;
    uint32_t n = c->env.set->page_rows;
    if (by_bytes < n) n = by_bytes ? (uint32_t)by_bytes : 1;
    return n;
}

static void page_free(page_call *p) {
    free(p->last_s);
    memset(p, 0, sizeof *p);
}

/* Records the landed page as the partition's progress; rows counted. */
static void progressed(reader *r, part_progress *pp, const page_call *p) {
    copier *c = r->c;
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, r->id);
    if (j && p->has_last) {
        pp->has_last = true;
        pp->last_i = p->last_i;
        free(pp->last_s);
        pp->last_s = p->last_s ? mcdc_xstrdup(p->last_s) : NULL;
    }
    if (j) {
        j->rows_copied += p->rows;
        j->last_error[0] = '\0';
    }
    pthread_mutex_unlock(&c->mu);
    save(c, r->id);
}

/* Waits for the oldest page in flight, resending it as long as it fails,
 * then lets its keys go (overlap.h rule 3) and, unless a page before it
 * failed, counts it. False when asked to stop first. */
static bool land_oldest(reader *r, part_progress *pp) {
    page_call *p = &r->ring[r->head];
    mcdc_err err;
    bool ok = true;   /* a page with nothing kept has nothing to land */
    if (p->call) {
        while (applier_target_ops.wait(p->call, &err)) {
            trouble(r->c, r->id, &r->bo, &err);
            if (stopping(r->c)) {
                ok = false;
                break;
            }
            /* Not even sent again: the next wait says why. */
            (void)applier_target_ops.resend(p->call, &err);
        }
        applier_target_ops.free(p->call);
    }
    overlap_landed(r->c->env.overlap, p->op);
    if (!ok) r->failed = true;
    if (ok && !r->failed) {
        mcdc_backoff_reset(&r->bo);
        progressed(r, pp, p);
    }
    page_free(p);
    r->head = (r->head + 1) % r->c->env.set->pages_in_flight;
    r->n--;
    return ok && !r->failed;
}

static bool land_all(reader *r, part_progress *pp) {
    bool ok = true;
    while (r->n)
        if (!land_oldest(r, pp)) ok = false;
    return ok;
}

/* Pages whose calls have answered: landed now, so a stream write that
 * waits for their keys goes on without waiting for the ring to fill. */
static void land_ready(reader *r, part_progress *pp) {
    while (r->n) {
        page_call *p = &r->ring[r->head];
        if (p->call && !applier_target_ops.ready(p->call)) break;
        land_oldest(r, pp);
    }
}

/* Trouble while reading: pages in flight land first, so none holds keys
 * the stream waits for during the nap. */
static void read_trouble(reader *r, part_progress *pp, const mcdc_err *err) {
    land_all(r, pp);
    trouble(r->c, r->id, &r->bo, err);
}

/* How a pass over a partition ended. */
typedef enum part_end { PART_STOPPED, PART_DONE, PART_REPLAN } part_end;

/* A read found no collection or partition: whether the source dropped the
 * collection (the copy is done), the partition (so is this partition), or
 * renamed the collection (the pass must start again under the new name);
 * PART_STOPPED when it still stands as it was (retry). */
static part_end after_not_found(copier *c, const catalog_coll *cc, const part_progress *pp) {
    catalog_coll *now = catalog_get(c->env.catalog, cc->id);
    part_end e = PART_STOPPED;
    if (!now || now->state == CATALOG_DROPPED) {
        e = PART_DONE;
    } else if (strcmp(now->name, cc->name) != 0 || strcmp(now->db_name, cc->db_name) != 0) {
        e = PART_REPLAN;
    } else if (pp->name[0]) {
        bool live = false;
        for (size_t i = 0; i < now->n_partitions; i++)
            if (strcmp(now->partitions[i].name, pp->name) == 0) live = true;
        if (!live) e = PART_DONE;
    }
    catalog_release(now);
    return e;
}

/* Reads and writes one partition until done, stopped, or the collection
 * must be planned again. */
static part_end copy_part(reader *r, const catalog_coll *cc, part_progress *pp) {
    copier *c = r->c;
    const Milvus__Proto__Schema__FieldSchema *pkf = cc->pk;
    bool varchar = pkf->data_type == MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
    /* Where this pass starts: the saved key, read under mu once. */
    pthread_mutex_lock(&c->mu);
    bool has_last = pp->has_last;
    int64_t last_i = pp->last_i;
    char *last_s = pp->last_s ? mcdc_xstrdup(pp->last_s) : NULL;
    pthread_mutex_unlock(&c->mu);
    const char *parts[1] = {pp->name};
    const char *all_fields[1] = {"*"};
    part_end end = PART_STOPPED;
    mcdc_buf expr = {0};
    r->failed = false;
    while (!stopping(c)) {
        land_ready(r, pp);
        if (r->n == c->env.set->pages_in_flight && !land_oldest(r, pp)) break;
        overlap_page *op = overlap_open(c->env.overlap, r->id);
        uint64_t since;
        if (!source_ts(c, &r->src, r->id, &r->bo, &since)) {
            overlap_abandon(c->env.overlap, op);
            break;
        }
        since -= (uint64_t)PAGE_SINCE_BEHIND_MS << MCDC_TS_LOGICAL_BITS;
        if (since < r->pin) since = r->pin;
        overlap_page_since(c->env.overlap, op, since);
        mcdc_buf_reset(&expr);
        if (has_last) milvus_expr_pk_greater(&expr, pkf->name, varchar, last_i, last_s);
        Milvus__Proto__Milvus__QueryResults *res = NULL;
        mcdc_err err;
        if (milvus_query_page(r->src, cc->db_name, cc->name, pp->name[0] ? parts : NULL, pp->name[0] ? 1 : 0,
                              has_last ? mcdc_buf_cstr(&expr) : "", all_fields, 1, r->page_rows, since, &res,
                              &err)) {
            overlap_abandon(c->env.overlap, op);
            if (err.code == MCDC_ENOTFOUND && (end = after_not_found(c, cc, pp)) != PART_STOPPED) {
                log_info("task %s: copy of %s.%s%s%s: %s", c->env.task_id, cc->db_name, cc->name,
                         pp->name[0] ? " partition " : "", pp->name,
                         end == PART_DONE ? "the source dropped it" : "the source renamed it; planning again");
                break;
            }
            mcdc_err_prefix(&err, "copy of %s.%s", cc->db_name, cc->name);
            read_trouble(r, pp, &err);
            continue;
        }
        int pk_at = columns_find(res->fields_data, res->n_fields_data, pkf->name);
        const Milvus__Proto__Schema__FieldData *pk = pk_at >= 0 ? res->fields_data[pk_at] : NULL;
        overlap_keys keys = overlap_keys_of_column(pk);
        /* An empty page may come with empty columns whose case is not set. */
        bool wrong = pk ? keys.n && (varchar ? !keys.strs : !keys.ints) : res->n_fields_data > 0;
        size_t rows = wrong ? 0 : keys.n;
        if (wrong) {
            /* Rows without their keys: not something to page by, or skip. */
            overlap_abandon(c->env.overlap, op);
            milvus__proto__milvus__query_results__free_unpacked(res, NULL);
            mcdc_errf(&err, MCDC_EREMOTE, "source %s: Query of %s.%s returned no %s column of the key's type",
                      c->env.source->address, cc->db_name, cc->name, pkf->name);
            read_trouble(r, pp, &err);
            continue;
        }
        if (rows == 0) {
            overlap_abandon(c->env.overlap, op);
            milvus__proto__milvus__query_results__free_unpacked(res, NULL);
            end = PART_DONE;
            break;
        }
        /* The next page starts after the largest key of this one, whatever
         * order the rows came in. */
        page_call *p = &r->ring[(r->head + r->n) % c->env.set->pages_in_flight];
        memset(p, 0, sizeof *p);
        p->has_last = true;
        for (size_t i = 0; i < rows; i++) {
            if (varchar) {
                const char *sv = keys.strs[i];
                if (!p->last_s || strcmp(sv, p->last_s) > 0) {
                    free(p->last_s);
                    p->last_s = mcdc_xstrdup(sv);
                }
            } else if (i == 0 || keys.ints[i] > p->last_i) {
                p->last_i = keys.ints[i];
            }
        }
        bool *keep = mcdc_xcalloc(rows, sizeof *keep);
        size_t kept = overlap_claim(c->env.overlap, op, &keys, keep);
        p->op = op;
        p->rows = (uint32_t)kept;
        int rc = 0;
        if (kept) {
            Milvus__Proto__Schema__FieldData **sel = NULL;
            uint32_t sel_rows = 0;
            if (kept < rows)
                rc = columns_select(res->fields_data, res->n_fields_data, (uint32_t)rows, keep, &sel, &sel_rows, &err);
            if (rc == 0)
                rc = target_ops_copy_start(r->target, cc, pp->name, kept < rows ? sel : res->fields_data,
                                           res->n_fields_data, (uint32_t)kept, &p->call, &err);
            columns_free(sel, res->n_fields_data);
        }
        free(keep);
        milvus__proto__milvus__query_results__free_unpacked(res, NULL);
        if (rc == 0 && kept && !p->call) {
            /* The target side says the source dropped it: done. */
            overlap_landed(c->env.overlap, op);
            page_free(p);
            end = PART_DONE;
            break;
        }
        if (rc) {
            /* Not sent: let go of the page and read it again. */
            overlap_landed(c->env.overlap, op);
            page_free(p);
            if (err.code == MCDC_ENOTFOUND && (end = after_not_found(c, cc, pp)) != PART_STOPPED) break;
            mcdc_err_prefix(&err, "copy of %s.%s", cc->db_name, cc->name);
            read_trouble(r, pp, &err);
            continue;
        }
        r->n++;
        has_last = true;
        last_i = p->last_i;
        free(last_s);
        last_s = p->last_s ? mcdc_xstrdup(p->last_s) : NULL;
    }
    if (!land_all(r, pp) && end == PART_DONE) end = PART_STOPPED;
    free(last_s);
    mcdc_buf_free(&expr);
    return stopping(c) ? PART_STOPPED : end;
}

typedef struct pass {
    copier *c;
    int64_t id;
    catalog_coll *cc;
    uint64_t pin;
    _Atomic uint32_t readers_left;
    _Atomic bool replan;      /* the source renamed the collection: every reader ends the pass */
} pass;

/* A reader thread: takes partitions not done and not taken until none is left. */
static void *read_parts(void *arg) {
    pass *ps = arg;
    copier *c = ps->c;
    reader r = {.c = c, .id = ps->id, .pin = ps->pin,
                .ring = mcdc_xcalloc(c->env.set->pages_in_flight, sizeof(page_call))};
    mcdc_backoff_init(&r.bo, 500, c->env.retry_max_ms);
    r.page_rows = rows_per_page(c, ps->cc);
    while (!stopping(c) && !r.target) {
        mcdc_err err;
        if (!(r.target = c->env.target_open(c->env.ud, &err))) trouble(c, ps->id, &r.bo, &err);
    }
    while (!stopping(c) && !atomic_load(&ps->replan)) {
        if (!r.src) {
            mcdc_err err;
            if (!(r.src = milvus_open(c->env.source, &err))) {
                mcdc_err_prefix(&err, "source %s", c->env.source->address);
                trouble(c, ps->id, &r.bo, &err);
                continue;
            }
        }
        part_progress *pp = NULL;
        pthread_mutex_lock(&c->mu);
        job *j = job_of(c, ps->id);
        for (size_t i = 0; j && i < j->n_parts && !pp; i++)
            if (!j->parts[i].done && !j->parts[i].taken) pp = &j->parts[i];
        if (pp) pp->taken = true;
        pthread_mutex_unlock(&c->mu);
        if (!pp) break;
        /* parts is not reallocated during a pass: pp stays valid. */
        part_end end = copy_part(&r, ps->cc, pp);
        pthread_mutex_lock(&c->mu);
        pp->taken = false;
        pp->done = end == PART_DONE;
        pthread_mutex_unlock(&c->mu);
        if (end == PART_DONE) save(c, ps->id);
        if (end == PART_REPLAN) atomic_store(&ps->replan, true);
    }
    if (r.target) c->env.target_close(c->env.ud, r.target);
    milvus_close(r.src);
    free(r.ring);
    atomic_fetch_sub(&ps->readers_left, 1);
    return NULL;
}

/* ---- one collection, phase by phase -------------------------------------------------- */

/* The partitions a pass reads: the source's live ones now, keeping the
 * progress of those already there. A partition-key collection is read as
 * one whole (its partitions are Milvus's, not the user's). */
static void plan_parts(copier *c, job *j, const catalog_coll *cc) {
    bool whole = false;
    for (size_t i = 0; cc->schema && i < cc->schema->n_fields; i++)
        if (cc->schema->fields[i]->is_partition_key) whole = true;
    size_t want = 0;
    for (size_t i = 0; i < cc->n_partitions; i++)
        if (cc->partitions[i].state == CATALOG_CREATED) want++;
    if (whole) want = 1;
    part_progress *np = mcdc_xcalloc(want ? want : 1, sizeof *np);
    for (size_t i = 0, at = 0; i < want; i++, at++) {
        while (!whole && cc->partitions[at].state != CATALOG_CREATED) at++;
        const char *name = whole ? "" : cc->partitions[at].name;
        np[i].name = mcdc_xstrdup(name);
        for (size_t k = 0; k < j->n_parts; k++) {
            if (strcmp(j->parts[k].name, name) != 0) continue;
            np[i].done = j->parts[k].done;
            np[i].has_last = j->parts[k].has_last;
            np[i].last_i = j->parts[k].last_i;
            np[i].last_s = j->parts[k].last_s ? mcdc_xstrdup(j->parts[k].last_s) : NULL;
        }
    }
    for (size_t k = 0; k < j->n_parts; k++) {
        free(j->parts[k].name);
        free(j->parts[k].last_s);
    }
    free(j->parts);
    j->parts = np;
    j->n_parts = want;
    (void)c;
}

static bool all_done(copier *c, int64_t id) {
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    bool done = j != NULL;
    for (size_t i = 0; j && i < j->n_parts; i++)
        if (!j->parts[i].done) done = false;
    pthread_mutex_unlock(&c->mu);
    return done;
}

static void log_progress(copier *c, int64_t id) {
    uint64_t now = mcdc_now_mono_ms();
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    if (!j) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (j->rate_at_ms && now > j->rate_at_ms)
        j->rows_per_s = (double)(j->rows_copied - j->rate_rows) * 1000.0 / (double)(now - j->rate_at_ms);
    j->rate_at_ms = now;
    j->rate_rows = j->rows_copied;
    char line[512];
    if (j->rows_total)
        snprintf(line, sizeof line, "%" PRIu64 " of %" PRIu64 " rows (%.0f%%), %.0f rows/s", j->rows_copied,
                 j->rows_total, 100.0 * (double)j->rows_copied / (double)j->rows_total, j->rows_per_s);
    else
        snprintf(line, sizeof line, "%" PRIu64 " rows, %.0f rows/s", j->rows_copied, j->rows_per_s);
    char name[300];
    snprintf(name, sizeof name, "%s.%s", j->db, j->name);
    pthread_mutex_unlock(&c->mu);
    log_info("task %s: copy of %s: %s", c->env.task_id, name, line);
}

/* A bulk insert's rows: in a Query's reply only once the query nodes
 * serve its segments (ImportCompleted comes before). Waited for, within
 * COPY_SEGMENTS_WAIT_S; a segment compacted away meanwhile never shows, so
 * after that the copy reads anyway and says so. False when stopped. */
static bool segments_served(copier *c, int64_t id, const catalog_coll *cc, milvus_client **src, mcdc_backoff *bo) {
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    size_t n = j ? j->n_wait_segments : 0;
    int64_t *ids = n ? mcdc_xcalloc(n, sizeof *ids) : NULL;
    if (n) memcpy(ids, j->wait_segments, n * sizeof *ids);
    pthread_mutex_unlock(&c->mu);
    if (!n) return true;
    uint64_t until = mcdc_now_mono_ms() + COPY_SEGMENTS_WAIT_S * 1000ULL;
    size_t served = 0;
    bool said = false;
    while (!stopping(c) && mcdc_now_mono_ms() < until) {
        mcdc_err err;
        if (!*src && !(*src = milvus_open(c->env.source, &err))) {
            trouble(c, id, bo, &err);
            continue;
        }
        if (milvus_segments_served(*src, cc->db_name, cc->name, ids, n, &served, &err)) {
            trouble(c, id, bo, &err);
            continue;
        }
        if (served == n) break;
        if (!said)
            log_info("task %s: copy of %s.%s waits until the source serves the bulk insert's %zu segments (%zu now)",
                     c->env.task_id, cc->db_name, cc->name, n, served);
        said = true;
        nap(c, 1000);
    }
    free(ids);
    if (stopping(c)) return false;
    if (served < n)
        log_warn("task %s: copy of %s.%s: the source serves %zu of the bulk insert's %zu segments after %d s; copying "
                 "what it serves (compacted segments are served under new ids)",
                 c->env.task_id, cc->db_name, cc->name, served, n, COPY_SEGMENTS_WAIT_S);
    pthread_mutex_lock(&c->mu);
    if ((j = job_of(c, id))) {
        free(j->wait_segments);
        j->wait_segments = NULL;
        j->n_wait_segments = 0;
    }
    pthread_mutex_unlock(&c->mu);
    save(c, id);
    return true;
}

/* Copying: true when every partition is done. */
static bool copy_rows(copier *c, int64_t id, catalog_coll *cc) {
    mcdc_backoff bo;
    mcdc_backoff_init(&bo, 500, c->env.retry_max_ms);
    milvus_client *src = NULL;
    if (!segments_served(c, id, cc, &src, &bo)) {
        milvus_close(src);
        return false;
    }
    /* Rule 1 and the stream's writes recorded first; then every plain
     * insert the stream sent before that lands: a timestamp after the
     * switch (the pin), passed by the watermark. No page reads as of a
     * moment before the pin, so none misses a write that was not recorded. */
    set_rule1(c, id, COPY_COPYING, 0);
    overlap_track(c->env.overlap, id);
    uint64_t pin;
    if (!source_ts(c, &src, id, &bo, &pin) || !watermark_past(c, pin)) {
        milvus_close(src);
        overlap_untrack(c->env.overlap, id);
        return false;
    }
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    bool need_total = j && j->rows_total == 0;
    if (j) plan_parts(c, j, cc);
    pthread_mutex_unlock(&c->mu);
    while (need_total && !stopping(c)) {
        uint64_t n;
        mcdc_err err;
        if (milvus_count(src, cc->db_name, cc->name, NULL, &n, &err) == 0) {
            pthread_mutex_lock(&c->mu);
            if ((j = job_of(c, id))) j->rows_total = n;
            pthread_mutex_unlock(&c->mu);
            break;
        }
        mcdc_err_prefix(&err, "count(*) of %s.%s on the source", cc->db_name, cc->name);
        trouble(c, id, &bo, &err);
    }
    milvus_close(src);
    set_phase(c, id, COPY_COPYING, 0);
    uint32_t want = c->env.set->readers ? c->env.set->readers : 1, nr = 0;
    pthread_t *th = mcdc_xcalloc(want, sizeof *th);
    pass ps = {.c = c, .id = id, .cc = cc, .pin = pin, .readers_left = want};
    for (uint32_t i = 0; i < want; i++) {
        if (pthread_create(&th[nr], NULL, read_parts, &ps) == 0) nr++;
        else atomic_fetch_sub(&ps.readers_left, 1);
    }
    if (nr == 0) log_warn("task %s: copy of %s.%s: no reader thread could start", c->env.task_id, cc->db_name, cc->name);
    /* The readers work; this thread logs their progress. */
    uint64_t next_log = mcdc_now_mono_ms() + (uint64_t)c->env.set->progress_log_s * 1000;
    log_progress(c, id);
    /* A reader ends when no partition is left for it, or on stop. */
    while (atomic_load(&ps.readers_left)) {
        mcdc_sleep_ms(100);
        if (mcdc_now_mono_ms() >= next_log) {
            log_progress(c, id);
            next_log += (uint64_t)c->env.set->progress_log_s * 1000;
        }
    }
    for (uint32_t i = 0; i < nr; i++) pthread_join(th[i], NULL);
    free(th);
    overlap_untrack(c->env.overlap, id);
    log_progress(c, id);
    return !stopping(c) && all_done(c, id);
}

static void run_job(copier *c, int64_t id) {
    pthread_mutex_lock(&c->mu);
    job *j = job_of(c, id);
    copy_phase phase = j ? j->phase : COPY_STREAMING;
    uint64_t end_ts = j ? j->end_ts : 0;
    pthread_mutex_unlock(&c->mu);
    if (phase == COPY_WAITING || phase == COPY_COPYING) {
        catalog_coll *cc = catalog_get(c->env.catalog, id);
        if (!cc || cc->state == CATALOG_DROPPED || !cc->pk) {
            bool gone = !cc || cc->state == CATALOG_DROPPED;
            catalog_release(cc);
            if (gone) {
                log_info("task %s: copy of collection %" PRId64 " ends: the source dropped it", c->env.task_id, id);
                set_rule1(c, id, COPY_STREAMING, 0);
                set_phase(c, id, COPY_STREAMING, 0);
            } else {
                nap(c, 500);   /* not described in etcd yet */
            }
            return;
        }
        bool done = copy_rows(c, id, cc);
        catalog_release(cc);
        if (!done) return;
        mcdc_backoff bo;
        mcdc_backoff_init(&bo, 500, c->env.retry_max_ms);
        milvus_client *src = NULL;
        bool got = source_ts(c, &src, id, &bo, &end_ts);
        milvus_close(src);
        if (!got) return;
        set_rule1(c, id, COPY_OVERLAPPING, end_ts);
        set_phase(c, id, COPY_OVERLAPPING, end_ts);
        phase = COPY_OVERLAPPING;
    }
    if (phase == COPY_OVERLAPPING) {
        if (!watermark_past(c, end_ts)) return;
        set_rule1(c, id, COPY_STREAMING, 0);
        set_phase(c, id, COPY_STREAMING, end_ts);
        pthread_mutex_lock(&c->mu);
        job *jj = job_of(c, id);
        char name[300] = "";
        uint64_t rows = 0;
        if (jj) {
            snprintf(name, sizeof name, "%s.%s", jj->db, jj->name);
            rows = jj->rows_copied;
            jj->last_error[0] = '\0';
        }
        pthread_mutex_unlock(&c->mu);
        log_info("task %s: copy of %s done: %" PRIu64 " rows copied; the stream passed its end", c->env.task_id,
                 name, rows);
    }
}

static void *run(void *arg) {
    copier *c = arg;
    while (!stopping(c)) {
        int64_t next = 0;
        bool any = false;
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->n_jobs && !any; i++) {
            if (!busy_phase(c->jobs[i].phase)) continue;
            next = c->jobs[i].id;
            any = true;
        }
        pthread_mutex_unlock(&c->mu);
        if (any) {
            run_job(c, next);
            continue;
        }
        nap(c, 200);
    }
    return NULL;
}

void copier_start(copier *c) {
    copier_stop(c);
    atomic_store(&c->stop, false);
    c->running = pthread_create(&c->thread, NULL, run, c) == 0;
}

void copier_ask_stop(copier *c) { atomic_store(&c->stop, true); }

void copier_stop(copier *c) {
    if (!c->running) return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    c->running = false;
}
