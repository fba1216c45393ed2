/* task_snapshot.h — what the pipeline shows of a task: plain, immutable data,
 * taken at one moment and owned by whoever asked for it.
 *
 * The pipeline hands these out; src/server turns them into every format a
 * client sees (milvus-cdc JSON, Prometheus text). A snapshot shares nothing
 * with the running task, so formatting it needs no lock and cannot race the
 * workers, and it holds no secret of the task's target. */
#ifndef MCDC_TASK_SNAPSHOT_H
#define MCDC_TASK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/histogram.h"
#include "mq/mq.h"
#include "pipeline/task_spec.h"
#include "verify/verify.h"

/* States as milvus-cdc names them. */
typedef enum task_state { TASK_INITIAL = 0, TASK_RUNNING = 1, TASK_PAUSED = 2 } task_state;
const char *task_state_name(task_state s); /* "Initial", "Running", "Paused" (task.c) */

/* Since this process started the task. */
typedef struct task_counters {
    uint64_t inserted, upserted, deleted; /* rows */
    uint64_t ddl, messages;
    uint64_t calls_in_flight;             /* Insert calls sent, not yet acknowledged, over all channels */
    uint64_t calls_in_flight_peak;        /* the most one channel has had at once */
    uint64_t queue_wait_us, target_wait_us; /* summed over channels (worker_io.h) */
} task_counters;

/* A bulk insert (Import) on a covered collection whose rows the task does
 * not replicate: they never passed through the WAL (bulk_inserts.h). */
typedef struct task_bulk_insert {
    char *collection;                     /* "db.name" when it was found */
    int64_t import_task;                  /* the source's import task id */
    const char *state;                    /* Milvus's name ("ImportCompleted"); a static string */
    int64_t rows;
    int64_t collection_id;                /* the source's id */
    int64_t *segments;                    /* the segments it wrote; owned */
    size_t n_segments;
} task_bulk_insert;

void task_bulk_inserts_free(task_bulk_insert *list, size_t n);

/* Where a collection's snapshot (copy of the rows it held before the
 * stream, copier.h) stands. */
typedef enum copy_phase {
    COPY_WAITING = 0,     /* asked for, not started yet (or retrying its start) */
    COPY_COPYING,         /* reading pages from the source, writing them as upserts */
    COPY_OVERLAPPING,     /* copied; the stream applies inserts as upserts until it passed end_ts */
    COPY_STREAMING,       /* done: the stream alone keeps the collection */
} copy_phase;
const char *copy_phase_name(copy_phase p); /* "waiting", "copying", "overlapping", "streaming" */

typedef struct task_copy {
    char *db, *collection;                /* the source's names now */
    int64_t collection_id;                /* the source's id */
    copy_phase phase;
    uint64_t rows_copied;                 /* rows written to the target, over every start of this copy */
    uint64_t rows_total;                  /* the source's count(*) when the copy began; 0 until known */
    double rows_per_s;                    /* over the last progress interval of this process; 0 when idle */
    int64_t eta_s;                        /* seconds left at rows_per_s; -1 when not known */
    uint64_t end_ts;                      /* the copy's end (hybrid ts); 0 while copying */
    char last_error[MCDC_ERR_MSG_MAX];    /* the last error of the copy while it retries; "" when none */
} task_copy;

void task_copies_free(task_copy *list, size_t n);

/* One collection of a task's verify (task_verify.c): the source's names
 * and the target's they were compared with. */
typedef struct task_verify_coll {
    char *source, *target;                /* "db.name" */
    verify_phase phase;                   /* VERIFY_STARTING until its turn */
    uint64_t rows_total, rows_compared;
    bool has_result;                      /* done: result holds what was found */
    verify_result result;                 /* owned */
    char error[MCDC_ERR_MSG_MAX];         /* failed: why */
} task_verify_coll;

/* The task's last verify request; asked false when none was made since
 * this process started the task. */
typedef struct task_verify {
    bool asked, running;
    uint64_t started_wall_ms, finished_wall_ms; /* finished 0 while it runs */
    task_verify_coll *colls;
    size_t n;
} task_verify;

void task_verify_free(task_verify *v);

/* The task's last switchover or failover (task_handover.c). Timestamps
 * are the source's hybrid ones; 0 when not known. */
typedef enum handover_kind { HANDOVER_NONE = 0, HANDOVER_SWITCHOVER, HANDOVER_FAILOVER } handover_kind;
const char *handover_kind_name(handover_kind k); /* "", "switchover", "failover" */
typedef enum handover_phase {
    HANDOVER_WAITING_FOR_WRITES_TO_STOP = 0, /* switchover: until no covered write for quiet_ms, caught up */
    HANDOVER_VERIFYING,                      /* switchover: every covered collection, row by row */
    HANDOVER_DRAINING,                       /* failover: applying what the queue still holds */
    HANDOVER_DONE,                           /* the task is paused; the target is the primary */
    HANDOVER_REFUSED,                        /* nothing was changed: reason says why */
} handover_phase;
const char *handover_phase_name(handover_phase p);

typedef struct task_handover {
    handover_kind kind;                   /* NONE: none asked since this process started the task */
    handover_phase phase;
    uint64_t started_wall_ms, finished_wall_ms; /* finished 0 while it runs */
    uint64_t last_write_ts;               /* the newest change of a covered collection the task read */
    /* the newest source time seen: read by the task (time ticks too), and
     * for a failover also every message its queue holds past the task's
     * checkpoints (task_handover.c queue_end_ts) */
    uint64_t last_source_ts;
    bool queue_readable;                  /* failover: every needed channel was read whole to its end */
    /* switchover: the source's time at which writes were found stopped and
     * the target held everything before it; failover: the watermark at the
     * stop, every change of the source up to it is on the target. */
    uint64_t cut_ts;
    uint64_t counts[VERIFY_N_KINDS];      /* switchover's verify, summed over the collections */
    size_t collections;                   /* compared by the switchover's verify */
    char reason[MCDC_ERR_MSG_MAX];        /* REFUSED: why; DONE: what the task's pause says */
} task_handover;

typedef struct task_snapshot {
    char *id;
    task_spec spec;                       /* a copy, secrets masked (task_spec_copy) */
    task_state state;
    char reason[MCDC_ERR_MSG_MAX];        /* why it is paused; "" when it is not */
    char last_error[MCDC_ERR_MSG_MAX];    /* the last transient error; "" once healed */
    /* Running, and a channel it must read has no worker yet (the supervisor
     * is starting them, retrying with last_error shown). */
    bool starting;
    /* The message an error paused the task at, and the operator's skip not
     * taken yet; channel "" when none. Positions as the queue writes them. */
    char paused_channel[256], paused_position[64];
    char skip_channel[256], skip_position[64];
    size_t channels_read;
    /* Every source change with ts <= watermark is applied (task.h); 0 when
     * not known: no worker runs, or no channel has ticked yet. */
    uint64_t watermark;
    uint64_t taken_wall_ms;               /* this host's clock when taken: lag is measured against it */
    task_counters applied;
    mcdc_histogram apply_lag, target_call; /* copies: worker_io.h's worker_stats says what each counts */
    task_bulk_insert *bulk_inserts;       /* since this process started; owned */
    size_t n_bulk_inserts;
    task_copy *copies;                    /* one per collection with a snapshot asked for; owned */
    size_t n_copies;
    /* false while a collection's copy or overlap runs: the watermark is then
     * the streams' cut, but the target does not hold the source as of it. */
    bool consistent;
    task_verify verify;                   /* owned */
    task_handover handover;
    /* Which `mcdc serve` runs the task (store.h's ownership): its advertise
     * URL, or its instance id when it advertises none ("local" for the
     * SQLite store); "" when no instance owns it right now (its owner
     * stopped and no other took it yet). remote: another instance runs it
     * (or none does); the snapshot then holds only what the store keeps
     * (spec, state, reason, paused_at, skip): no live figures. */
    bool remote;
    char owner[256];
} task_snapshot;

/* Seconds from the watermark's physical time to taken_wall_ms, never below 0
 * (source clocks may run ahead of this host's); 0 when the watermark is not
 * known, so callers check s->watermark first. */
double task_snapshot_lag_seconds(const task_snapshot *s);

void task_snapshot_free(task_snapshot *s);                 /* NULL is fine */
void task_snapshots_free(task_snapshot **list, size_t n);  /* each, then the array */

/* One channel's checkpoint: everything up to it is on the target. */
typedef struct task_position {
    char *channel;
    mq_msgid checkpoint;                  /* len 0: before the channel's first message */
    char text[64];                        /* the checkpoint as its queue writes it, or "earliest" */
    uint64_t ts;                          /* its hybrid timestamp, 0 when none */
} task_position;

typedef struct task_positions {
    task_position *items;
    size_t n;
} task_positions;

void task_positions_free(task_positions *p);

#endif
