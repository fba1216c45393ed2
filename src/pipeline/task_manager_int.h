/* task_manager_int.h — private to task_manager.c and task_owners.c: the
 * manager's list of entries and its lock rules (task_manager.c's top
 * comment), shared with the ownership loop (task_owners.c), which moves
 * entries between "run here" and "remote" as the store's owners change. */
#ifndef MCDC_TASK_MANAGER_INT_H
#define MCDC_TASK_MANAGER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "pipeline/task.h"
#include "pipeline/task_manager.h"

typedef struct entry {
    task *t;                  /* made before the entry is listed; its id and spec never change */
    pthread_mutex_t op;       /* serialises the operations on this task */
    unsigned refs;            /* under tm->mu: the list's one, plus one per call using it */
    bool creating;            /* under tm->mu: reserved, its create still running */
    bool gone;                /* under tm->mu: being deleted, or deleted */
    /* Under tm->mu. remote: another instance runs the task (or none does
     * right now); t is never started here and shows what the store holds.
     * owner_url: that instance's advertise URL, NULL when not known. */
    bool remote;
    char *owner_url;
    /* Under tm->mu: out of the list, another entry of the id took its place
     * (the task moved between here and another instance). A call holding
     * it looks the id up again. */
    bool replaced;
} entry;

struct task_manager {
    task_env env;
    pthread_mutex_t mu;       /* the list lock: see task_manager.c's top */
    pthread_cond_t idle;      /* busy fell to 0 */
    entry **list;
    size_t n;
    size_t busy;              /* calls holding a reference */
    bool closing;

    /* The ownership loop (task_owners.c). */
    pthread_t owners;
    bool owners_running;
    _Atomic bool owners_stop;
    /* Ids whose stored spec does not read, said once and left out; only
     * open and then the loop's thread touch it. */
    char **unreadable;
    size_t n_unreadable;
};

/* ---- task_manager.c ---- */

entry *tm_entry_new(task *t);
/* Frees the entry and its task (stopping it: task_free). */
void tm_entry_free(entry *e);
/* Under tm->mu. Any entry of the id, creating and gone ones too. */
entry *tm_find_any(task_manager *tm, const char *id);
/* Under tm->mu. */
void tm_list_add(task_manager *tm, entry *e);
void tm_list_remove(task_manager *tm, entry *e);
/* Under tm->mu: next takes old's place in the list; old is marked replaced. */
void tm_list_replace(task_manager *tm, entry *old, entry *next);
/* Drops a reference (and the call's count, when counted); the last one
 * frees the entry, outside the lock. */
void tm_put(task_manager *tm, entry *e, bool counted);
/* Starts a task that is Running in the store; one that cannot start is
 * paused with the reason. */
void tm_start_or_pause(task *t);

/* ---- task_owners.c ---- */

/* A task object of the stored record, not started; NULL when its spec does
 * not read (logged once per id). */
task *tm_task_of_stored(task_manager *tm, const store_task *st);
/* One stored task at open: claimed; run here (started if it was Running)
 * when this instance owns it, else listed as remote. */
int tm_adopt_at_open(void *tm, const store_task *st);
/* The background thread that follows ownership (task_owners.c's top). */
int tm_owners_start(task_manager *tm, mcdc_err *err);
void tm_owners_stop(task_manager *tm);

#endif
