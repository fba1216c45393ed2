/* task_owners.c — the task manager beside other `mcdc serve` instances on
 * one store (store.h's ownership; task_manager.h says what a caller sees).
 *
 * Each task runs on exactly one instance, its owner. At open every stored
 * task is claimed: the ones this instance gets run here, the others become
 * remote entries. Then one background thread, the ownership loop, waits
 * for the store to report a change (store_wait_change, 1 s at a time) and,
 * on a change, every OWNERS_RESCAN_MS anyway, or as soon as a task run
 * here is no longer owned, reads the tasks again and makes the list agree:
 *   - a task created elsewhere gets an entry (claimed if nobody owns it);
 *   - a task deleted elsewhere loses its entry (stopped first if it ran
 *     here); "not in the read" is confirmed by the store, since the read
 *     may be older than a create made here since;
 *   - a task run here that store_task_owned says is no longer ours is
 *     disowned (task_disown: nothing of it is written from then on) and
 *     stopped, and its entry becomes remote: the other instance owns its
 *     checkpoints now;
 *   - a remote task that nobody owns (its owner died: lease expired, or it
 *     closed and released it) is claimed; once ours, its record is read
 *     again (the previous owner can no longer write it) and it starts like
 *     at open, from its checkpoints: the replay window (docs/guarantees.md)
 *     makes what the previous owner sent past its last checkpoint land once.
 * A move replaces the entry under the task's op lock (the old one's
 * operations are done or wait; they look the id up again), and every store
 * call is made without tm->mu, as task_manager.c's lock rules want. With
 * SQLite the loop finds nothing to do: one instance owns every task. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/task_manager_int.h"

#define OWNERS_WAIT_MS 1000
/* A change the store did not report (a missed watch event, a claim that
 * failed on a busy store) is still seen within this. */
#define OWNERS_RESCAN_MS 3000

/* ---- stored records, copied out of the store's walk ------------------------------------- */

typedef struct stored {
    char *id, *spec_json, *reason;
    int state;
    char paused_channel[256];
    mq_msgid paused_id;
    char skip_channel[256];
    mq_msgid skip_id;
} stored;

typedef struct stored_list {
    stored *items;
    size_t n;
    const char *only; /* read_one: the id wanted */
} stored_list;

static void copy_ref(char *channel, size_t cap, mq_msgid *id, const store_msg_ref *r) {
    bool set = r->channel && r->channel[0];
    snprintf(channel, cap, "%s", set ? r->channel : "");
    *id = set ? r->id : (mq_msgid){.len = 0};
}

static int collect(void *ud, const store_task *st) {
    stored_list *l = ud;
    if (l->only && strcmp(l->only, st->id) != 0) return 0;
    l->items = mcdc_xrealloc(l->items, (l->n + 1) * sizeof *l->items);
    stored *r = &l->items[l->n++];
    *r = (stored){.id = mcdc_xstrdup(st->id),
                  .spec_json = mcdc_xstrdup(st->spec_json),
                  .reason = mcdc_xstrdup(st->reason ? st->reason : ""),
                  .state = st->state};
    copy_ref(r->paused_channel, sizeof r->paused_channel, &r->paused_id, &st->paused_at);
    copy_ref(r->skip_channel, sizeof r->skip_channel, &r->skip_id, &st->skip);
    return 0;
}

static void stored_list_free(stored_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].id);
        free(l->items[i].spec_json);
        free(l->items[i].reason);
    }
    free(l->items);
    *l = (stored_list){0};
}

static store_task view_of(const stored *r) {
    return (store_task){.id = r->id,
                        .spec_json = r->spec_json,
                        .state = r->state,
                        .reason = r->reason,
                        .paused_at = {.channel = r->paused_channel, .id = r->paused_id},
                        .skip = {.channel = r->skip_channel, .id = r->skip_id}};
}

/* The task's record as the store holds it now; *found false if none. */
static int read_one(task_manager *tm, const char *id, stored_list *out, mcdc_err *err) {
    *out = (stored_list){.only = id};
    int rc = store_task_each(tm->env.store, collect, out, err);
    if (rc) stored_list_free(out);
    return rc;
}

/* ---- entries from records ---------------------------------------------------------------- */

static bool is_unreadable(const task_manager *tm, const char *id) {
    for (size_t i = 0; i < tm->n_unreadable; i++)
        if (strcmp(tm->unreadable[i], id) == 0) return true;
    return false;
}

task *tm_task_of_stored(task_manager *tm, const store_task *st) {
    if (is_unreadable(tm, st->id)) return NULL;
    mcdc_err err;
    json_t *j = json_loads(st->spec_json, 0, NULL);
    task_spec spec;
    if (!j || task_spec_from_json(j, &spec, &err)) {
        log_error("store: task %s has an unreadable spec (%s); left out", st->id, j ? err.msg : "bad JSON");
        json_decref(j);
        tm->unreadable = mcdc_xrealloc(tm->unreadable, (tm->n_unreadable + 1) * sizeof *tm->unreadable);
        tm->unreadable[tm->n_unreadable++] = mcdc_xstrdup(st->id);
        return NULL;
    }
    json_decref(j);
    task *t = task_new(mcdc_xstrdup(st->id), &spec, &tm->env, (task_state)st->state, st->reason);
    task_restore(t, st);
    return t;
}

/* A remote entry of the record; owner_url is taken. NULL (url freed) when
 * the spec does not read. */
static entry *remote_entry(task_manager *tm, const store_task *st, char *owner_url) {
    task *t = tm_task_of_stored(tm, st);
    if (!t) {
        free(owner_url);
        return NULL;
    }
    entry *e = tm_entry_new(t);
    e->remote = true;
    e->owner_url = owner_url;
    return e;
}

int tm_adopt_at_open(void *ud, const store_task *st) {
    task_manager *tm = ud;
    bool owned = false;
    char *url = NULL;
    mcdc_err err;
    if (store_task_claim(tm->env.store, st->id, &owned, &url, &err)) {
        if (err.code == MCDC_ENOTFOUND) return 0; /* deleted meanwhile */
        log_warn("task %s: could not claim it: %s; tried again in the background", st->id, err.msg);
        owned = false;
    }
    if (!owned) {
        entry *e = remote_entry(tm, st, url);
        if (e) tm_list_add(tm, e);
        return 0;
    }
    free(url);
    task *t = tm_task_of_stored(tm, st);
    if (!t) return 0;
    /* Not shared yet: open runs before any API call. */
    tm_list_add(tm, tm_entry_new(t));
    tm_start_or_pause(t);
    return 0;
}

/* ---- the moves ------------------------------------------------------------------------- */

/* Under tm->mu: whether e is still the listed entry of its id. */
static bool still_listed(const entry *e) { return !e->replaced && !e->gone; }

/* A task nobody here knew: created elsewhere, or found again. */
/* store_task_claim, its failure logged (a task deleted meanwhile quietly):
 * false when it failed. */
static bool claim(task_manager *tm, const char *id, bool *owned, char **url) {
    mcdc_err err;
    if (!store_task_claim(tm->env.store, id, owned, url, &err)) return true;
    if (err.code != MCDC_ENOTFOUND) log_warn("task %s: could not claim it: %s", id, err.msg);
    return false;
}

static void adopt_new(task_manager *tm, const stored *r) {
    bool owned = false;
    char *url = NULL;
    mcdc_err err;
    if (!claim(tm, r->id, &owned, &url)) return;
    entry *e = NULL;
    stored_list fresh = {0};
    if (owned) {
        free(url);
        /* Read after the claim: what the last owner wrote is all there. */
        if (read_one(tm, r->id, &fresh, &err)) {
            log_warn("task %s: reading it: %s", r->id, err.msg);
            return;
        }
        if (fresh.n == 0) { /* deleted meanwhile */
            stored_list_free(&fresh);
            return;
        }
        store_task st = view_of(&fresh.items[0]);
        task *t = tm_task_of_stored(tm, &st);
        if (t) e = tm_entry_new(t);
    } else {
        store_task st = view_of(r);
        e = remote_entry(tm, &st, url);
    }
    stored_list_free(&fresh);
    if (!e) return;
    /* Held from before it is listed, so no call can start or stop it first. */
    pthread_mutex_lock(&e->op);
    pthread_mutex_lock(&tm->mu);
    bool taken = tm_find_any(tm, r->id) != NULL;
    if (!taken) tm_list_add(tm, e);
    pthread_mutex_unlock(&tm->mu);
    if (taken) {
        /* A create or the API got there first: the next round sees it. */
        pthread_mutex_unlock(&e->op);
        tm_entry_free(e);
        return;
    }
    if (e->remote) {
        log_info("task %s: run by another instance (%s)", r->id, e->owner_url ? e->owner_url : "none right now");
    } else {
        log_info("task %s: this instance owns it now; starting from its checkpoints", r->id);
        tm_start_or_pause(e->t);
    }
    pthread_mutex_unlock(&e->op);
}

/* A remote task: claimed if nobody owns it (then run here), else shown as
 * the store has it now. e holds the caller's reference. */
static void follow_remote(task_manager *tm, entry *e, const stored *r) {
    bool owned = false;
    char *url = NULL;
    mcdc_err err;
    if (!claim(tm, r->id, &owned, &url)) return;
    if (!owned) {
        store_task st = view_of(r);
        task_show_stored(e->t, &st);
        pthread_mutex_lock(&tm->mu);
        bool same = (!url && !e->owner_url) || (url && e->owner_url && strcmp(url, e->owner_url) == 0);
        if (!same) {
            char *old = e->owner_url;
            e->owner_url = url;
            url = old;
        }
        pthread_mutex_unlock(&tm->mu);
        free(url);
        return;
    }
    free(url);
    stored_list fresh = {0};
    if (read_one(tm, r->id, &fresh, &err) || fresh.n == 0) {
        stored_list_free(&fresh);
        return; /* deleted meanwhile, or the store is in trouble: the next round */
    }
    store_task st = view_of(&fresh.items[0]);
    task *t = tm_task_of_stored(tm, &st);
    stored_list_free(&fresh);
    if (!t) return;
    entry *n = tm_entry_new(t);
    pthread_mutex_lock(&e->op);
    pthread_mutex_lock(&n->op);
    pthread_mutex_lock(&tm->mu);
    bool listed = still_listed(e);
    if (listed) tm_list_replace(tm, e, n);
    pthread_mutex_unlock(&tm->mu);
    pthread_mutex_unlock(&e->op);
    if (!listed) {
        pthread_mutex_unlock(&n->op);
        tm_entry_free(n);
        return;
    }
    tm_put(tm, e, false); /* the list's reference */
    log_info("task %s: taken over (its owner stopped); starting from its checkpoints", r->id);
    tm_start_or_pause(n->t);
    pthread_mutex_unlock(&n->op);
}

/* A task run here that another instance may own now: stopped without a
 * store write, and shown as remote. */
static void lose(task_manager *tm, entry *e, const stored *r) {
    pthread_mutex_lock(&e->op);
    pthread_mutex_lock(&tm->mu);
    bool listed = still_listed(e);
    pthread_mutex_unlock(&tm->mu);
    if (!listed) {
        pthread_mutex_unlock(&e->op);
        return;
    }
    task_disown(e->t);
    task_stop(e->t);
    bool mine = false;
    char *url = NULL;
    mcdc_err err;
    if (store_task_owner(tm->env.store, r->id, &mine, &url, &err)) url = NULL;
    if (mine) { /* the store's word came back meanwhile: the next round claims it again */
        free(url);
        url = NULL;
    }
    store_task st = view_of(r);
    entry *n = remote_entry(tm, &st, url);
    pthread_mutex_lock(&tm->mu);
    if (n) tm_list_replace(tm, e, n);
    else {
        e->replaced = true;
        tm_list_remove(tm, e);
    }
    pthread_mutex_unlock(&tm->mu);
    pthread_mutex_unlock(&e->op);
    tm_put(tm, e, false); /* the list's reference */
    log_info("task %s: another instance owns it now (%s); stopped here, nothing written", r->id,
             n && n->owner_url ? n->owner_url : "none yet");
}

/* An entry whose task the last read did not hold: dropped once the store
 * confirms it is gone (the read may predate a create made here since). */
static void drop_if_deleted(task_manager *tm, entry *e) {
    const char *id = task_id(e->t);
    bool mine = false;
    char *url = NULL;
    mcdc_err err;
    int rc = store_task_owner(tm->env.store, id, &mine, &url, &err);
    free(url);
    if (rc == 0 || err.code != MCDC_ENOTFOUND) return;
    pthread_mutex_lock(&e->op);
    pthread_mutex_lock(&tm->mu);
    bool listed = still_listed(e) && !e->creating;
    if (listed) e->gone = true;
    pthread_mutex_unlock(&tm->mu);
    if (!listed) {
        pthread_mutex_unlock(&e->op);
        return;
    }
    task_disown(e->t); /* nothing left in the store to write to */
    task_stop(e->t);
    pthread_mutex_lock(&tm->mu);
    tm_list_remove(tm, e);
    pthread_mutex_unlock(&tm->mu);
    pthread_mutex_unlock(&e->op);
    log_info("task %s: deleted by another instance", id);
    tm_put(tm, e, false); /* the list's reference; the caller's is the last */
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Entries of the list with a reference each (creating and gone ones left
 * out); release each with tm_put(.., false). */
static size_t hold_all(task_manager *tm, entry ***out) {
    pthread_mutex_lock(&tm->mu);
    entry **held = mcdc_xcalloc(tm->n ? tm->n : 1, sizeof *held);
    size_t n = 0;
    for (size_t i = 0; i < tm->n; i++) {
        entry *e = tm->list[i];
        if (e->creating || e->gone) continue;
        e->refs++;
        held[n++] = e;
    }
    pthread_mutex_unlock(&tm->mu);
    *out = held;
    return n;
}

static void release_all(task_manager *tm, entry **held, size_t n) {
    for (size_t i = 0; i < n; i++) tm_put(tm, held[i], false);
    free(held);
}

/* Whether a task run here is no longer owned (a local check, no network).
 * Each such task is disowned and asked to stop at once, before the store is
 * read: an instance cut off from etcd cannot read it, and its workers must
 * not go on writing to the target once its lease may have ended (the
 * round that can read the store then joins them and lists them as
 * remote). */
static bool lost_any(task_manager *tm) {
    entry **held;
    size_t n = hold_all(tm, &held);
    bool lost = false;
    for (size_t i = 0; i < n; i++)
        if (!held[i]->remote && !store_task_owned(tm->env.store, task_id(held[i]->t))) {
            lost = true;
            task_disown(held[i]->t);
            task_ask_stop(held[i]->t);
        }
    release_all(tm, held, n);
    return lost;
}

static const stored *record_of(const stored_list *l, const char *id) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].id, id) == 0) return &l->items[i];
    return NULL;
}

/* One round: the list made to agree with the store (the top of the file). */
static int reconcile(task_manager *tm, mcdc_err *err) {
    stored_list recs = {0};
    if (store_task_each(tm->env.store, collect, &recs, err)) {
        stored_list_free(&recs);
        return -1;
    }
    for (size_t i = 0; i < recs.n && !atomic_load(&tm->owners_stop); i++) {
        const stored *r = &recs.items[i];
        if (is_unreadable(tm, r->id)) continue;
        pthread_mutex_lock(&tm->mu);
        entry *e = tm_find_any(tm, r->id);
        bool busy = e && (e->creating || e->gone);
        if (e && !busy) e->refs++;
        pthread_mutex_unlock(&tm->mu);
        if (busy) continue; /* its create or delete here decides */
        if (!e) {
            adopt_new(tm, r);
            continue;
        }
        if (e->remote) follow_remote(tm, e, r);
        else if (!store_task_owned(tm->env.store, r->id)) lose(tm, e, r);
        tm_put(tm, e, false);
    }
    entry **held;
    size_t n = hold_all(tm, &held);
    for (size_t i = 0; i < n && !atomic_load(&tm->owners_stop); i++)
        if (!record_of(&recs, task_id(held[i]->t))) drop_if_deleted(tm, held[i]);
    release_all(tm, held, n);
    stored_list_free(&recs);
    return 0;
}

static void *owners_main(void *arg) {
    task_manager *tm = arg;
    uint64_t last_scan = mcdc_now_mono_ms(), last_said = 0;
    while (!atomic_load(&tm->owners_stop)) {
        mcdc_err err;
        int changed = store_wait_change(tm->env.store, OWNERS_WAIT_MS, &err);
        if (atomic_load(&tm->owners_stop)) break;
        uint64_t now = mcdc_now_mono_ms();
        if (changed < 0) {
            (void)lost_any(tm); /* the store is out of reach: a lease may end meanwhile */
            if (now - last_said >= 30000) {
                log_warn("task manager: following the store's owners: %s (retrying)", err.msg);
                last_said = now;
            }
            for (int i = 0; i < OWNERS_WAIT_MS / 50 && !atomic_load(&tm->owners_stop); i++) mcdc_sleep_ms(50);
            continue;
        }
        bool lost = lost_any(tm);
        if (changed == 0 && now - last_scan < OWNERS_RESCAN_MS && !lost) continue;
        last_scan = now;
        if (reconcile(tm, &err) && now - last_said >= 30000) {
            log_warn("task manager: reading the tasks of the store: %s (retrying)", err.msg);
            last_said = now;
        }
    }
    return NULL;
}

int tm_owners_start(task_manager *tm, mcdc_err *err) {
    atomic_store(&tm->owners_stop, false);
    if (pthread_create(&tm->owners, NULL, owners_main, tm) != 0)
        return mcdc_errf(err, MCDC_EINTERNAL, "task manager: cannot start the thread that follows the store's owners");
    tm->owners_running = true;
    return 0;
}

void tm_owners_stop(task_manager *tm) {
    if (!tm->owners_running) return;
    atomic_store(&tm->owners_stop, true);
    pthread_join(tm->owners, NULL);
    tm->owners_running = false;
}
