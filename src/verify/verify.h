/* verify.h — is the target's copy of a collection the source's, row by row?
 *
 * Both sides are read partition by partition in primary-key order, a page at
 * a time, and merged like two sorted files: a key on the source only is
 * missing, on the target only extra, on both with other values differing.
 * A row is compared by a fingerprint of all its fields (columns.h's
 * columns_row_hash), so a page costs its keys and one word a row.
 *
 * Doubled rows do not show in a Query: the server returns each key once,
 * however many copies it stores. A count(*) counts every copy: when a
 * target partition counts more copies than the walk read keys, its pages
 * are counted again range by range, a range that counts more than its keys
 * is halved, and each single key left is counted exactly on both sides: a
 * double is a copy the target holds beyond the source's (a source may hold
 * doubles of its own).
 *
 * A source that is written while it is verified moves under the reader: a
 * key written after its page was read shows as a difference that is none.
 * So every difference is a suspect first, checked again by key: the source
 * read first, then the target once the hooks say it has caught up with a
 * moment after that read (a task's watermark passed it; without a task,
 * after a pause), up to `rechecks` times; only what differs every time is
 * reported. A key written faster than the target catches up may differ in
 * every round: it is reported, as the verify cannot tell it from a real
 * difference without reading both sides at one moment, which a 2.3 Query
 * cannot do. Doubled keys are not re-checked.
 *
 * Memory: per reader two pages (page_rows keys and fingerprints each), and
 * at most max_suspects keys in all; differences past that are counted but
 * not re-checked, and the result says so (unconfirmed).
 *
 * Threads: verify_run is called on the caller's thread and returns when
 * done; it starts `readers` threads, one partition each, and two more per
 * page pair so both sides are read at once. The progress counters may be
 * read from any thread while it runs. */
#ifndef MCDC_VERIFY_H
#define MCDC_VERIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A primary key: an Int64 key in i (s NULL), or a VarChar key in s. */
typedef struct verify_key {
    int64_t i;
    char *s;
} verify_key;

typedef struct verify_row {
    verify_key key;
    uint64_t hash; /* the row's fingerprint */
} verify_row;

/* Rows a side returned; the side allocates rows and each key.s (malloc). */
typedef struct verify_rows {
    verify_row *rows;
    size_t n;
} verify_rows;
void verify_rows_free(verify_rows *r);

/* One side (the source or the target) of one collection. Each reader
 * thread opens its own; every call may fail with an error that names the
 * side's server (then the verify stops with it: a verify does not retry
 * what it cannot read, it says so and exits 2). */
typedef struct verify_side_ops {
    void *(*open)(void *cfg, mcdc_err *err);
    void (*close)(void *side);
    /* The partitions to walk; one "" when the collection is read whole
     * (a partition-key collection's partitions are the server's business). */
    int (*partitions)(void *side, char ***names, size_t *n, mcdc_err *err);
    /* From now on reads see every write acknowledged before the moment
     * *ts names: 0 = now (a new one is taken and returned in *ts). Readers
     * of one step share the plan's moment, so that only the first read of
     * a side waits for the server to catch up with it. */
    int (*pin)(void *side, uint64_t *ts, mcdc_err *err);
    /* At most limit rows of partition with key > *after (after NULL: from
     * the first), the smallest keys, sorted by key. Fewer than limit does
     * not mean the end (a server may count a doubled key's copies against
     * the limit); an empty page does. */
    int (*page)(void *side, const char *partition, const verify_key *after, uint32_t limit, verify_rows *out,
                mcdc_err *err);
    /* Stored copies (count(*)) of partition's rows with lo < key <= hi
     * (NULL: unbounded). */
    int (*count)(void *side, const char *partition, const verify_key *lo, const verify_key *hi, uint64_t *n,
                 mcdc_err *err);
    /* Stored copies of the one key k in partition. */
    int (*count_key)(void *side, const char *partition, const verify_key *k, uint64_t *n, mcdc_err *err);
    /* The rows of these keys that exist, in any order. */
    int (*lookup)(void *side, const char *partition, const verify_key *keys, size_t n, verify_rows *out,
                  mcdc_err *err);
} verify_side_ops;

typedef enum { VERIFY_MISSING, VERIFY_EXTRA, VERIFY_DIFFERING, VERIFY_DOUBLED, VERIFY_N_KINDS } verify_kind;
const char *verify_kind_name(verify_kind k);

typedef enum { VERIFY_STARTING, VERIFY_COMPARING, VERIFY_RECHECKING, VERIFY_DONE, VERIFY_FAILED } verify_phase;
const char *verify_phase_name(verify_phase p);

typedef struct verify_progress {
    _Atomic int phase;              /* verify_phase */
    _Atomic uint64_t rows_total;    /* the source's count(*), once known */
    _Atomic uint64_t rows_compared; /* source keys walked */
} verify_progress;

typedef struct verify_hooks {
    void *ud;
    /* Returns once the target holds what the source held when it was
     * called (a task: its watermark passed a source timestamp taken in
     * it); false (with err) to give up. NULL: wait recheck_wait_ms. */
    bool (*caught_up)(void *ud, mcdc_err *err);
    /* True to stop early (the verify fails with MCDC_ECANCELED). */
    bool (*stopping)(void *ud);
} verify_hooks;

typedef struct verify_options {
    uint32_t page_rows;       /* per page and side; 0 = 4096 */
    unsigned readers;         /* partitions at once; 0 = 2 */
    unsigned rechecks;        /* rounds of wait-then-check; 0 = one check by key at once */
    uint32_t recheck_wait_ms; /* without hooks.caught_up */
    size_t max_suspects;      /* 0 = 100000 */
} verify_options;

#define VERIFY_EXAMPLES 5

typedef struct verify_result {
    uint64_t source_rows, target_rows;   /* count(*) of each side, copies counted */
    uint64_t source_keys, target_keys;   /* distinct keys read */
    uint64_t count[VERIFY_N_KINDS];      /* doubled: extra copies */
    verify_key example[VERIFY_N_KINDS][VERIFY_EXAMPLES];
    size_t n_example[VERIFY_N_KINDS];
    uint64_t unconfirmed;                /* differences past max_suspects, not re-checked */
    size_t partitions;
} verify_result;
void verify_result_free(verify_result *r);
/* *to = a deep copy of *from. */
void verify_result_copy(verify_result *to, const verify_result *from);
bool verify_result_equal(const verify_result *r);

/* Compares one collection: src_cfg / dst_cfg go to ops->open. 0 with *out
 * filled (equal or not); -1 when it could not compare (err says what). */
int verify_run(const verify_side_ops *src_ops, void *src_cfg, const verify_side_ops *dst_ops, void *dst_cfg,
               const verify_options *opt, const verify_hooks *hooks, verify_progress *progress, verify_result *out,
               mcdc_err *err);

/* {"equal", "source_rows", "target_rows", "source_keys", "target_keys",
 * "partitions", "missing"|"extra"|"differing"|"doubled": {"count", "first":
 * [keys]}, "unconfirmed"} (verify_json.c); a json_t *, new reference. */
struct json_t;
struct json_t *verify_result_json(const verify_result *r);

/* Compare two keys: int keys by value, string keys bytewise (the servers'
 * order for "pk > x" too). */
int verify_key_cmp(const verify_key *a, const verify_key *b);

#endif
