/* store_sqlite.c — the SQLite backend of store.h (its table of functions is
 * SQLITE_OPS, store_int.h): tasks, their positions, their collection
 * bindings and their copy progress in one local file, the default
 * checkpoint store.
 *
 * Durability. The file is in WAL mode with synchronous=NORMAL. A commit then
 * appends its frames to the -wal file with write(2) before the call returns;
 * the pages sit in the OS page cache, which outlives the process, so a commit
 * that returned survives kill -9, abort or an OOM kill of mcdc (the crash test
 * in tests/unit/test_store.c kills a writer at random points and checks
 * this). What NORMAL does not do is fsync the WAL on every commit — only when
 * the WAL is checkpointed into the main file. So an OS crash or power loss can
 * roll the file back to an older, consistent state, losing the last commits.
 * For the delivery promise (design.md §2) that matters: a lost checkpoint
 * alone only replays, but if the intent written before a batch is lost too,
 * that batch is replayed with plain inserts and its rows are doubled. mcdc
 * promises "nothing lost, nothing doubled" across process crashes; surviving
 * power loss as well needs synchronous=FULL: one fsync per save, measured
 * on the dev VM (ext4 on virtio) at ~9k saves/s against ~90k with NORMAL,
 * and far fewer on a disk that honours fsync. One save per batch makes
 * either affordable, so the default is FULL: the promise holds across a host
 * crash too. STORE_SYNCHRONOUS below is the switch.
 *
 * Concurrency. One connection per store, serialised by a mutex, because the
 * store is called from task threads and HTTP threads alike. Several stores on
 * one file (two processes, or a tool next to the server) coordinate through
 * SQLite's own locks; busy_timeout makes a writer wait for the lock instead of
 * failing, and write transactions that read first start IMMEDIATE so they
 * never need to upgrade a read lock (an upgrade cannot wait, it fails).
 *
 * Monotonicity of checkpoints is the caller's business (the task pipeline
 * advances a channel's checkpoint only after the target acknowledged, in
 * channel order): the store saves exactly what it is given, so an operator's
 * "skip_message" or a rewind can also be expressed as a plain save.
 *
 * Privacy. The specs hold the targets' credentials: the file (and so its
 * -wal and -shm) is created 0600 and a file others may read is refused
 * (make_private_file). */
#include "store/store_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "base/buf.h"
#include "base/secret.h"
#include "base/clock.h"
#include "base/log.h"

/* Power-loss safety costs an fsync per save; see the top of the file. */
#ifndef STORE_SYNCHRONOUS
#define STORE_SYNCHRONOUS "FULL"
#endif

/* Long enough to ride out another process's burst of writes (each is a few
 * milliseconds), short enough that a stuck lock holder shows up as an error. */
#define STORE_BUSY_TIMEOUT_MS 10000

/* 'mcdc' in the file header, so that a SQLite file of some other program is
 * refused instead of having our tables added to it. */
#define STORE_APPLICATION_ID 0x6d636463

/* Each step takes the schema from version i to i+1, inside one transaction
 * together with the new user_version, so a crash never leaves half a
 * migration. Later versions append steps; never edit a released one. */
static const char *const MIGRATIONS[] = {
    /* 0 -> 1 */
    "CREATE TABLE tasks ("
    "  id        TEXT PRIMARY KEY NOT NULL,"
    "  spec_json TEXT NOT NULL,"
    "  state     INTEGER NOT NULL,"
    "  reason    TEXT NOT NULL DEFAULT '',"
    /* An explicit counter, not the rowid: VACUUM may renumber rowids. */
    "  created   INTEGER NOT NULL UNIQUE"
    ");"
    "CREATE TABLE positions ("
    "  task_id       TEXT NOT NULL,"
    "  channel       TEXT NOT NULL,"
    "  checkpoint    BLOB NOT NULL DEFAULT x'',"
    "  checkpoint_ts INTEGER NOT NULL DEFAULT 0,"
    "  intent        BLOB NOT NULL DEFAULT x'',"
    "  intent_ts     INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (task_id, channel)"
    ") WITHOUT ROWID;",
    /* 1 -> 2: collection identity (store.h's store_binding). */
    "CREATE TABLE bindings ("
    "  task_id     TEXT NOT NULL,"
    "  source_id   INTEGER NOT NULL,"
    "  target_db   TEXT NOT NULL,"
    "  target_name TEXT NOT NULL,"
    "  target_id   INTEGER NOT NULL DEFAULT 0,"
    "  state       INTEGER NOT NULL,"
    "  ts          INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (task_id, source_id)"
    ") WITHOUT ROWID;",
    /* 2 -> 3: where a task paused on a message, and the operator's skip of
     * it (store.h's store_msg_ref); '' and x'' are none. */
    "ALTER TABLE tasks ADD COLUMN paused_channel TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tasks ADD COLUMN paused_msgid BLOB NOT NULL DEFAULT x'';"
    "ALTER TABLE tasks ADD COLUMN skip_channel TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tasks ADD COLUMN skip_msgid BLOB NOT NULL DEFAULT x'';",
    /* 3 -> 4: how far the copy of a source collection's rows has come
     * (store.h's store_copy_*). A rowid table, unlike the others: the
     * copier's JSON may run to kilobytes, and a WITHOUT ROWID table keeps
     * whole rows in its b-tree's cells, where large ones spill to overflow
     * pages on every lookup. */
    "CREATE TABLE copies ("
    "  task_id    TEXT NOT NULL,"
    "  source_id  INTEGER NOT NULL,"
    "  state_json TEXT NOT NULL,"
    "  PRIMARY KEY (task_id, source_id)"
    ");",
};
#define STORE_SCHEMA_VERSION ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

enum {
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_TASK_INSERT,
    ST_TASK_UPDATE,
    ST_TASK_SET_SKIP,
    ST_TASK_LIST,
    ST_TASK_DELETE,
    ST_POS_DELETE_TASK,
    ST_CHECKPOINT_SAVE,
    ST_INTENT_SAVE,
    ST_POS_LIST,
    ST_BINDING_SAVE,
    ST_BINDING_LIST,
    ST_BINDING_DELETE,
    ST_BINDING_DELETE_TASK,
    ST_COPY_SAVE,
    ST_COPY_LIST,
    ST_COPY_DELETE,
    ST_COPY_DELETE_TASK,
    ST_COUNT
};

static const char *const SQL[ST_COUNT] = {
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_TASK_INSERT] = "INSERT INTO tasks(id, spec_json, state, reason, created) "
                       "VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(created), 0) + 1 FROM tasks))",
    [ST_TASK_UPDATE] = "UPDATE tasks SET state = ?2, reason = ?3, paused_channel = ?4, paused_msgid = ?5 WHERE id = ?1",
    [ST_TASK_SET_SKIP] = "UPDATE tasks SET skip_channel = ?2, skip_msgid = ?3 WHERE id = ?1",
    [ST_TASK_LIST] = "SELECT id, spec_json, state, reason, paused_channel, paused_msgid, skip_channel, skip_msgid "
                     "FROM tasks ORDER BY created",
    [ST_TASK_DELETE] = "DELETE FROM tasks WHERE id = ?1",
    [ST_POS_DELETE_TASK] = "DELETE FROM positions WHERE task_id = ?1",
    /* The EXISTS guard makes a save for a deleted task a no-op we can see
     * (no row changed) instead of an orphan row that a later task with the
     * same id would inherit as its resume point. */
    [ST_CHECKPOINT_SAVE] = "INSERT INTO positions(task_id, channel, checkpoint, checkpoint_ts) "
                           "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ?1) "
                           "ON CONFLICT(task_id, channel) DO UPDATE "
                           "SET checkpoint = excluded.checkpoint, checkpoint_ts = excluded.checkpoint_ts",
    [ST_INTENT_SAVE] = "INSERT INTO positions(task_id, channel, intent, intent_ts) "
                       "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ?1) "
                       "ON CONFLICT(task_id, channel) DO UPDATE "
                       "SET intent = excluded.intent, intent_ts = excluded.intent_ts",
    /* One statement, so "no such task" and "no positions yet" are told apart
     * from a single snapshot: no row vs one row with a NULL channel. */
    [ST_POS_LIST] = "SELECT p.channel, p.checkpoint, p.checkpoint_ts, p.intent, p.intent_ts "
                    "FROM tasks t LEFT JOIN positions p ON p.task_id = t.id "
                    "WHERE t.id = ?1 ORDER BY p.channel",
    /* The same EXISTS guard and one-statement listing as positions'. */
    [ST_BINDING_SAVE] = "INSERT INTO bindings(task_id, source_id, target_db, target_name, target_id, state, ts) "
                        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ?1) "
                        "ON CONFLICT(task_id, source_id) DO UPDATE SET target_db = excluded.target_db, "
                        "target_name = excluded.target_name, target_id = excluded.target_id, "
                        "state = excluded.state, ts = excluded.ts",
    [ST_BINDING_LIST] = "SELECT b.source_id, b.target_db, b.target_name, b.target_id, b.state, b.ts "
                        "FROM tasks t LEFT JOIN bindings b ON b.task_id = t.id "
                        "WHERE t.id = ?1 ORDER BY b.source_id",
    [ST_BINDING_DELETE] = "DELETE FROM bindings WHERE task_id = ?1 AND source_id = ?2",
    [ST_BINDING_DELETE_TASK] = "DELETE FROM bindings WHERE task_id = ?1",
    /* Bindings' EXISTS guard and one-statement listing again. */
    [ST_COPY_SAVE] = "INSERT INTO copies(task_id, source_id, state_json) "
                     "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ?1) "
                     "ON CONFLICT(task_id, source_id) DO UPDATE SET state_json = excluded.state_json",
    [ST_COPY_LIST] = "SELECT c.source_id, c.state_json "
                     "FROM tasks t LEFT JOIN copies c ON c.task_id = t.id "
                     "WHERE t.id = ?1 ORDER BY c.source_id",
    [ST_COPY_DELETE] = "DELETE FROM copies WHERE task_id = ?1 AND source_id = ?2",
    [ST_COPY_DELETE_TASK] = "DELETE FROM copies WHERE task_id = ?1",
};

typedef struct sqlite_store {
    store base;                 /* first: a store * is a sqlite_store * */
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
} sqlite_store;

static const store_ops SQLITE_OPS;

static sqlite_store *of(store *s) {
    assert(s->ops == &SQLITE_OPS);
    return (sqlite_store *)s;
}

/* SQLite integers are signed 64-bit; hybrid timestamps are unsigned. Convert
 * bit-exactly without relying on implementation-defined casts. */
static sqlite3_int64 ts_to_db(uint64_t ts) {
    if (ts <= (uint64_t)INT64_MAX) return (sqlite3_int64)ts;
    return -(sqlite3_int64)(UINT64_MAX - ts) - 1;
}

static uint64_t ts_from_db(sqlite3_int64 v) {
    if (v >= 0) return (uint64_t)v;
    return UINT64_MAX - (uint64_t)(-(v + 1));
}

static mcdc_code code_of(int rc) {
    switch (rc & 0xff) {
    /* The lock stayed taken past busy_timeout: another writer is slow, not
     * broken, so the caller's retry-with-backoff is the right answer. */
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return MCDC_ETIMEOUT;
    case SQLITE_NOMEM: return MCDC_ENOMEM;
    default: return MCDC_EIO;
    }
}

/* "store: <what we were doing>: <what SQLite said>". */
static int db_fail(sqlite3 *db, int rc, mcdc_err *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int db_fail(sqlite3 *db, int rc, mcdc_err *err, const char *fmt, ...) {
    char op[MCDC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op, sizeof op, fmt, ap);
    va_end(ap);
    const char *why = db && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return mcdc_errf(err, code_of(rc), "store: %s: %s", op, why);
}

/* Every use of a cached statement ends here, so none keeps a read
 * transaction open (that would pin the WAL and stop checkpointing). */
static void done(sqlite3_stmt *st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* A statement that is not expected to return rows. */
static int run(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    done(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int bind_msgid(sqlite3_stmt *st, int i, const mq_msgid *id) {
    /* A NULL pointer would bind SQL NULL, not an empty blob. */
    if (!id || id->len == 0) return sqlite3_bind_zeroblob(st, i, 0);
    return sqlite3_bind_blob(st, i, id->bytes, (int)id->len, SQLITE_STATIC);
}

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        if (cap) out[0] = '\0';
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int pragma_int(sqlite3 *db, const char *sql, long long *out) {
    char text[32];
    int rc = pragma_text(db, sql, text, sizeof text);
    if (rc == SQLITE_OK) *out = strtoll(text, NULL, 10);
    return rc;
}

/* Brings the schema to STORE_SCHEMA_VERSION, or says why this file is not
 * ours to touch. Everything (reading the header, the application_id check,
 * the migrations, the new version) is one IMMEDIATE transaction: it takes
 * the write lock before reading, and BEGIN IMMEDIATE holds no lock yet so it
 * waits under busy_timeout instead of failing. Of several processes opening
 * a fresh file at once, one creates the tables; the others, once it commits,
 * read the new version and change nothing; none sees a half-made schema. */
static int ensure_schema(sqlite3 *db, const char *path, mcdc_err *err) {
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return db_fail(db, rc, err, "opening %s: starting the schema check", path);
    long long version = 0, app_id = 0, n_objects = 0;
    if ((rc = pragma_int(db, "PRAGMA user_version", &version)) != SQLITE_OK ||
        (rc = pragma_int(db, "PRAGMA application_id", &app_id)) != SQLITE_OK ||
        (rc = pragma_int(db, "SELECT count(*) FROM sqlite_schema", &n_objects)) != SQLITE_OK) {
        db_fail(db, rc, err, "opening %s: reading the header", path);
        goto rollback;
    }
    if (app_id != STORE_APPLICATION_ID && (app_id != 0 || n_objects != 0)) {
        mcdc_errf(err, MCDC_EIO, "store: opening %s: a SQLite database of another program, not an mcdc store", path);
        goto rollback;
    }
    if (version < 0) {
        mcdc_errf(err, MCDC_EIO, "store: opening %s: schema version %lld was never written by mcdc; the file is damaged",
                  path, version);
        goto rollback;
    }
    if (version > STORE_SCHEMA_VERSION) {
        mcdc_errf(err, MCDC_EIO,
                  "store: opening %s: schema version %lld is newer than this mcdc knows (%d); "
                  "it was written by a later mcdc, use that one",
                  path, version, STORE_SCHEMA_VERSION);
        goto rollback;
    }
    for (long long v = version; v < STORE_SCHEMA_VERSION; v++) {
        assert(v >= 0); /* refused above: MIGRATIONS[v] is in bounds */
        rc = sqlite3_exec(db, MIGRATIONS[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            db_fail(db, rc, err, "opening %s: migrating schema version %lld to %lld", path, v, v + 1);
            goto rollback;
        }
    }
    if (version < STORE_SCHEMA_VERSION) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d", STORE_SCHEMA_VERSION,
                 STORE_APPLICATION_ID);
        if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
            db_fail(db, rc, err, "opening %s: setting the schema version", path);
            goto rollback;
        }
    }
    if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
        db_fail(db, rc, err, "opening %s: committing the schema", path);
        goto rollback;
    }
    if (version < STORE_SCHEMA_VERSION)
        log_info("store: %s: schema version %lld -> %d", path, version, STORE_SCHEMA_VERSION);
    return 0;
rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Switching to WAL takes an exclusive lock for which SQLite does not call
 * the busy handler: a second process opening a fresh file while the first
 * converts it gets SQLITE_BUSY at once (the concurrent-create test sees
 * this). So wait here by hand, as long as busy_timeout would. */
static int set_wal(sqlite3 *db, char *mode, size_t cap) {
    uint64_t deadline = mcdc_now_mono_ms() + STORE_BUSY_TIMEOUT_MS;
    uint32_t pause_ms = 1;
    for (;;) {
        int rc = pragma_text(db, "PRAGMA journal_mode = WAL", mode, cap);
        if ((rc & 0xff) != SQLITE_BUSY || mcdc_now_mono_ms() >= deadline) return rc;
        mcdc_sleep_ms(pause_ms);
        if (pause_ms < 50) pause_ms *= 2;
    }
}

/* The file holds each task's spec with its secrets (target passwords and
 * tokens), so it is the owner's alone: created 0600, and refused when other
 * users may read or write it. SQLite would create it 0644 less the umask;
 * it creates -wal, -shm and -journal with the main file's mode whatever the
 * umask, so making the main file first is enough for all of them.
 * The file is made with mknod(2), which opens no descriptor: closing any
 * descriptor of a file drops every POSIX lock this process holds on it,
 * including a lock another store's connection on the same file took in
 * between (SQLite's locks are POSIX locks), and that is how SQLite files
 * get corrupted. An existing -wal or -shm (left by an mcdc that made 0644
 * files) is checked too: it holds the same rows. */
static int make_private_file(const char *path, mcdc_err *err) {
    if (mknod(path, S_IFREG | 0600, 0) != 0 && errno != EEXIST)
        return mcdc_errf(err, MCDC_EIO, "store: opening %s: unable to open database file: %s", path, strerror(errno));
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char name[PATH_MAX];
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) >= sizeof name)
            return mcdc_errf(err, MCDC_EINVAL, "store: opening %s: the path is too long", path);
        struct stat st;
        if (stat(name, &st) != 0) {
            if (errno == ENOENT && i > 0) continue;
            return mcdc_errf(err, MCDC_EIO, "store: opening %s: unable to open database file: %s", name,
                             strerror(errno));
        }
        if (mcdc_secret_file_check(name, st.st_mode, "the tasks' passwords", err)) {
            mcdc_err_prefix(err, "store: opening %s", path);
            return -1;
        }
    }
    return 0;
}

store *store_open_sqlite(const char *path, mcdc_err *err) {
    if (!path || !*path) {
        mcdc_errf(err, MCDC_EINVAL, "store: no path given for the SQLite file");
        return NULL;
    }
    /* This SQLite takes a name starting with "file:" as a URI; the
     * configured value is a path, so keep it one ("./file:x" is the file
     * "file:x" here). */
    char rel[PATH_MAX];
    if (strncmp(path, "file:", 5) == 0) {
        if ((size_t)snprintf(rel, sizeof rel, "./%s", path) >= sizeof rel) {
            mcdc_errf(err, MCDC_EINVAL, "store: opening %s: the path is too long", path);
            return NULL;
        }
        path = rel;
    }
    if (strcmp(path, ":memory:") != 0 && make_private_file(path, err) != 0) return NULL;
    sqlite3 *db = NULL;
    /* NOMUTEX: our own mutex already serialises every use of the connection. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_fail(db, rc, err, "opening %s", path);
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    /* The first statements that read the file: a non-SQLite or mangled file
     * fails here with SQLITE_NOTADB / SQLITE_CORRUPT. */
    char mode[16];
    rc = set_wal(db, mode, sizeof mode);
    if (rc != SQLITE_OK) {
        db_fail(db, rc, err, "opening %s: setting WAL journal mode", path);
        goto fail;
    }
    /* SQLite keeps the old mode when it cannot switch (e.g. no shared memory
     * on a network filesystem); without WAL readers block the writer and the
     * durability reasoning above no longer holds, so refuse. */
    if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
        mcdc_errf(err, MCDC_EIO, "store: opening %s: cannot use WAL journal mode (still '%s'); is it on a network filesystem?",
                  path, mode);
        goto fail;
    }
    rc = sqlite3_exec(db, "PRAGMA synchronous = " STORE_SYNCHRONOUS, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_fail(db, rc, err, "opening %s: setting synchronous mode", path);
        goto fail;
    }
    if (ensure_schema(db, path, err) != 0) goto fail;

    sqlite_store *s = mcdc_xcalloc(1, sizeof *s);
    s->base.ops = &SQLITE_OPS;
    s->db = db;
    pthread_mutex_init(&s->mu, NULL);
    for (int i = 0; i < ST_COUNT; i++) {
        assert(SQL[i] != NULL); /* every statement of the enum has its SQL */
        rc = sqlite3_prepare_v3(db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            db_fail(db, rc, err, "opening %s: preparing \"%s\"", path, SQL[i]);
            store_close(&s->base);
            return NULL;
        }
    }
    return &s->base;
fail:
    sqlite3_close(db);
    return NULL;
}

static void sqlite_close(store *base) {
    sqlite_store *s = of(base);
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->st[i]);
    /* The last connection to close checkpoints the WAL into the main file and
     * removes it; a failure here loses nothing (the WAL is replayed on the
     * next open), so it is only worth a line in the log. */
    int rc = sqlite3_close(s->db);
    if (rc != SQLITE_OK) log_warn("store: closing: %s", sqlite3_errstr(rc));
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int sqlite_task_put_new(store *base, const store_task *t, mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_TASK_INSERT];
    sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->spec_json ? t->spec_json : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, t->state);
    sqlite3_bind_text(st, 4, t->reason ? t->reason : "", -1, SQLITE_STATIC);
    int rc = run(st);
    int ret = 0;
    if (rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        ret = mcdc_errf(err, MCDC_EEXIST, "store: adding task %s: a task with this id exists", t->id);
    else if (rc != SQLITE_OK)
        ret = db_fail(s->db, rc, err, "adding task %s", t->id);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

/* A message reference's channel and msgID into two parameters; NULL binds
 * none ('' and x''). */
static void bind_msg_ref(sqlite3_stmt *st, int i, const store_msg_ref *r) {
    sqlite3_bind_text(st, i, r ? r->channel : "", -1, SQLITE_STATIC);
    bind_msgid(st, i + 1, r ? &r->id : NULL);
}

/* One UPDATE of the tasks table by id (parameter 1). */
static int update_task_row(sqlite_store *s, sqlite3_stmt *st, const char *id, const char *what, mcdc_err *err) {
    int rc = run(st);
    if (rc != SQLITE_OK) return db_fail(s->db, rc, err, "%s of task %s", what, id);
    if (sqlite3_changes(s->db) == 0) return mcdc_errf(err, MCDC_ENOTFOUND, "store: %s of task %s: no such task", what, id);
    return 0;
}

static int sqlite_task_update(store *base, const char *id, int state, const char *reason,
                              const store_msg_ref *paused_at, mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_TASK_UPDATE];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
    bind_msg_ref(st, 4, paused_at);
    int ret = update_task_row(s, st, id, "updating the state", err);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static int sqlite_task_set_skip(store *base, const char *id, const store_msg_ref *skip, mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_TASK_SET_SKIP];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    bind_msg_ref(st, 2, skip);
    int ret = update_task_row(s, st, id, skip ? "saving the skip request" : "clearing the skip request", err);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static int sqlite_task_delete(store *base, const char *id, mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    int ret = 0, rc = run(s->st[ST_BEGIN_IMMEDIATE]);
    if (rc != SQLITE_OK) {
        ret = db_fail(s->db, rc, err, "deleting task %s", id);
        goto out;
    }
    sqlite3_bind_text(s->st[ST_POS_DELETE_TASK], 1, id, -1, SQLITE_STATIC);
    if ((rc = run(s->st[ST_POS_DELETE_TASK])) != SQLITE_OK) goto fail;
    sqlite3_bind_text(s->st[ST_BINDING_DELETE_TASK], 1, id, -1, SQLITE_STATIC);
    if ((rc = run(s->st[ST_BINDING_DELETE_TASK])) != SQLITE_OK) goto fail;
    sqlite3_bind_text(s->st[ST_COPY_DELETE_TASK], 1, id, -1, SQLITE_STATIC);
    if ((rc = run(s->st[ST_COPY_DELETE_TASK])) != SQLITE_OK) goto fail;
    sqlite3_bind_text(s->st[ST_TASK_DELETE], 1, id, -1, SQLITE_STATIC);
    if ((rc = run(s->st[ST_TASK_DELETE])) != SQLITE_OK) goto fail;
    if (sqlite3_changes(s->db) == 0) {
        run(s->st[ST_ROLLBACK]);
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: deleting task %s: no such task", id);
        goto out;
    }
    if ((rc = run(s->st[ST_COMMIT])) != SQLITE_OK) goto fail;
    goto out;
fail:
    ret = db_fail(s->db, rc, err, "deleting task %s", id);
    /* After some errors (I/O, full disk) SQLite has rolled back already. */
    if (!sqlite3_get_autocommit(s->db)) run(s->st[ST_ROLLBACK]);
out:
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static char *column_strdup(sqlite3_stmt *st, int col) {
    const unsigned char *p = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *out = mcdc_xmalloc(n + 1);
    if (p) memcpy(out, p, n);
    out[p ? n : 0] = '\0';
    return out;
}

/* Rows are copied out under the lock and handed to the callback after it is
 * released: a callback may then call back into the store (start a task, read
 * its positions) without deadlocking, and a slow one does not stall saves. */
static bool column_msgid(sqlite3_stmt *st, int col, mq_msgid *out);

typedef struct task_row {
    char *id, *spec_json, *reason, *paused_channel, *skip_channel;
    mq_msgid paused_id, skip_id;
    int state;
} task_row;

static int sqlite_task_each(store *base, store_task_fn fn, void *ud, mcdc_err *err) {
    sqlite_store *s = of(base);
    task_row *rows = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_TASK_LIST];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rows = mcdc_xrealloc(rows, cap * sizeof *rows);
        }
        rows[n].id = column_strdup(st, 0);
        rows[n].spec_json = column_strdup(st, 1);
        rows[n].state = sqlite3_column_int(st, 2);
        rows[n].reason = column_strdup(st, 3);
        rows[n].paused_channel = column_strdup(st, 4);
        rows[n].skip_channel = column_strdup(st, 6);
        n++;
        if (!column_msgid(st, 5, &rows[n - 1].paused_id) || !column_msgid(st, 7, &rows[n - 1].skip_id)) {
            ret = mcdc_errf(err, MCDC_EIO, "store: listing tasks: task %s holds a msgID over %d bytes", rows[n - 1].id,
                            MQ_MSGID_MAX);
            break;
        }
    }
    done(st);
    if (ret == 0 && rc != SQLITE_DONE) ret = db_fail(s->db, rc, err, "listing tasks");
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < n && ret == 0; i++) {
        store_task t = {rows[i].id, rows[i].spec_json, rows[i].state, rows[i].reason,
                        .paused_at = {rows[i].paused_channel, rows[i].paused_id},
                        .skip = {rows[i].skip_channel, rows[i].skip_id}};
        ret = fn(ud, &t);
    }
    for (size_t i = 0; i < n; i++) {
        free(rows[i].id);
        free(rows[i].spec_json);
        free(rows[i].reason);
        free(rows[i].paused_channel);
        free(rows[i].skip_channel);
    }
    free(rows);
    return ret;
}

static int sqlite_position_save(store *base, store_pos_kind kind, const char *what, const char *task_id,
                                const char *channel, const mq_msgid *id, uint64_t ts, mcdc_err *err) {
    sqlite_store *s = of(base);
    assert(!id || id->len <= MQ_MSGID_MAX); /* store.c refused longer ones */
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[kind == STORE_CHECKPOINT ? ST_CHECKPOINT_SAVE : ST_INTENT_SAVE];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    bind_msgid(st, 3, id);
    sqlite3_bind_int64(st, 4, ts_to_db(ts));
    int rc = run(st);
    int ret = 0;
    if (rc != SQLITE_OK)
        ret = db_fail(s->db, rc, err, "saving %s of task %s channel %s", what, task_id, channel);
    else if (sqlite3_changes(s->db) == 0)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: saving %s of task %s channel %s: no such task", what, task_id,
                        channel);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

typedef struct pos_row {
    char *channel;
    mq_msgid checkpoint, intent;
    uint64_t checkpoint_ts, intent_ts;
} pos_row;

/* A msgID longer than a msgID can be means the file was edited or damaged;
 * resuming from a truncated one would silently seek somewhere else. */
static bool column_msgid(sqlite3_stmt *st, int col, mq_msgid *out) {
    int n = sqlite3_column_bytes(st, col);
    const void *p = sqlite3_column_blob(st, col);
    if (n < 0 || (size_t)n > MQ_MSGID_MAX) return false;
    out->len = (size_t)n;
    if (n) memcpy(out->bytes, p, (size_t)n);
    return true;
}

static int sqlite_position_each(store *base, const char *task_id, store_position_fn fn, void *ud, mcdc_err *err) {
    sqlite_store *s = of(base);
    pos_row *rows = NULL;
    size_t n = 0, cap = 0;
    bool task_exists = false;
    int ret = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_POS_LIST];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        task_exists = true;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            assert(n == 0); /* the task without positions: its one row */
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            rows = mcdc_xrealloc(rows, cap * sizeof *rows);
        }
        pos_row *r = &rows[n];
        r->channel = column_strdup(st, 0);
        n++;
        if (!column_msgid(st, 1, &r->checkpoint) || !column_msgid(st, 3, &r->intent)) {
            ret = mcdc_errf(err, MCDC_EIO, "store: reading positions of task %s: channel %s holds a msgID over %d bytes",
                            task_id, r->channel, MQ_MSGID_MAX);
            break;
        }
        r->checkpoint_ts = ts_from_db(sqlite3_column_int64(st, 2));
        r->intent_ts = ts_from_db(sqlite3_column_int64(st, 4));
    }
    done(st);
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s->db, rc, err, "reading positions of task %s", task_id);
    else if (ret == 0 && !task_exists)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: reading positions of task %s: no such task", task_id);
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < n && ret == 0; i++) {
        store_position p = {rows[i].channel, rows[i].checkpoint, rows[i].checkpoint_ts, rows[i].intent,
                            rows[i].intent_ts};
        ret = fn(ud, &p);
    }
    for (size_t i = 0; i < n; i++) free(rows[i].channel);
    free(rows);
    return ret;
}

static int sqlite_binding_save(store *base, const char *task_id, const store_binding *b, mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_BINDING_SAVE];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, b->source_id);
    sqlite3_bind_text(st, 3, b->target_db, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, b->target_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, b->target_id);
    sqlite3_bind_int(st, 6, b->state);
    sqlite3_bind_int64(st, 7, ts_to_db(b->ts));
    int rc = run(st);
    int ret = 0;
    if (rc != SQLITE_OK)
        ret = db_fail(s->db, rc, err, "saving the binding of task %s source collection %" PRId64, task_id,
                      b->source_id);
    else if (sqlite3_changes(s->db) == 0)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: saving the binding of task %s source collection %" PRId64
                        ": no such task", task_id, b->source_id);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

typedef struct binding_row {
    int64_t source_id, target_id;
    char *db, *name;
    int state;
    uint64_t ts;
} binding_row;

static int sqlite_binding_each(store *base, const char *task_id, store_binding_fn fn, void *ud, mcdc_err *err) {
    sqlite_store *s = of(base);
    binding_row *rows = NULL;
    size_t n = 0, cap = 0;
    bool task_exists = false;
    int ret = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_BINDING_LIST];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        task_exists = true;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue; /* the task without bindings: its one row */
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            rows = mcdc_xrealloc(rows, cap * sizeof *rows);
        }
        rows[n++] = (binding_row){.source_id = sqlite3_column_int64(st, 0),
                                  .db = column_strdup(st, 1),
                                  .name = column_strdup(st, 2),
                                  .target_id = sqlite3_column_int64(st, 3),
                                  .state = sqlite3_column_int(st, 4),
                                  .ts = ts_from_db(sqlite3_column_int64(st, 5))};
    }
    done(st);
    if (rc != SQLITE_DONE) ret = db_fail(s->db, rc, err, "reading the bindings of task %s", task_id);
    else if (!task_exists)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: reading the bindings of task %s: no such task", task_id);
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < n && ret == 0; i++) {
        store_binding b = {rows[i].source_id, rows[i].db, rows[i].name, rows[i].target_id, rows[i].state, rows[i].ts};
        ret = fn(ud, &b);
    }
    for (size_t i = 0; i < n; i++) {
        free(rows[i].db);
        free(rows[i].name);
    }
    free(rows);
    return ret;
}

static int sqlite_binding_delete(store *base, const char *task_id, int64_t source_id, mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_BINDING_DELETE];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, source_id);
    int rc = run(st);
    int ret = 0;
    if (rc != SQLITE_OK)
        ret = db_fail(s->db, rc, err, "deleting the binding of task %s source collection %" PRId64, task_id, source_id);
    else if (sqlite3_changes(s->db) == 0)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: deleting the binding of task %s source collection %" PRId64
                        ": no such binding", task_id, source_id);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static int sqlite_copy_save(store *base, const char *task_id, int64_t source_id, const char *state_json,
                            mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_COPY_SAVE];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, source_id);
    sqlite3_bind_text(st, 3, state_json, -1, SQLITE_STATIC);
    int rc = run(st);
    int ret = 0;
    if (rc != SQLITE_OK)
        ret = db_fail(s->db, rc, err, "saving the copy of task %s source collection %" PRId64, task_id, source_id);
    else if (sqlite3_changes(s->db) == 0)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: saving the copy of task %s source collection %" PRId64
                        ": no such task", task_id, source_id);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

typedef struct copy_row {
    int64_t source_id;
    char *state_json;
} copy_row;

static int sqlite_copy_each(store *base, const char *task_id, store_copy_fn fn, void *ud, mcdc_err *err) {
    sqlite_store *s = of(base);
    copy_row *rows = NULL;
    size_t n = 0, cap = 0;
    bool task_exists = false;
    int ret = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_COPY_LIST];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        task_exists = true;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue; /* the task without copies: its one row */
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            rows = mcdc_xrealloc(rows, cap * sizeof *rows);
        }
        rows[n++] = (copy_row){sqlite3_column_int64(st, 0), column_strdup(st, 1)};
    }
    done(st);
    if (rc != SQLITE_DONE) ret = db_fail(s->db, rc, err, "reading the copies of task %s", task_id);
    else if (!task_exists)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: reading the copies of task %s: no such task", task_id);
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < n && ret == 0; i++) ret = fn(ud, rows[i].source_id, rows[i].state_json);
    for (size_t i = 0; i < n; i++) free(rows[i].state_json);
    free(rows);
    return ret;
}

static int sqlite_copy_delete(store *base, const char *task_id, int64_t source_id, mcdc_err *err) {
    sqlite_store *s = of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_COPY_DELETE];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, source_id);
    int rc = run(st);
    int ret = 0;
    if (rc != SQLITE_OK)
        ret = db_fail(s->db, rc, err, "deleting the copy of task %s source collection %" PRId64, task_id, source_id);
    else if (sqlite3_changes(s->db) == 0)
        ret = mcdc_errf(err, MCDC_ENOTFOUND, "store: deleting the copy of task %s source collection %" PRId64
                        ": no such copy", task_id, source_id);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

/* ---- ownership: one process, which owns every task it has ---- */

static const char *sqlite_instance_id(store *s) {
    (void)s;
    return "local";
}

static int sqlite_task_exists(sqlite_store *s, const char *task_id, bool *found, mcdc_err *err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM tasks WHERE id = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        *found = rc == SQLITE_ROW;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    int ret = rc == SQLITE_OK ? 0 : db_fail(s->db, rc, err, "looking up task %s", task_id);
    sqlite3_finalize(st);
    return ret;
}

static int sqlite_task_claim(store *base, const char *task_id, bool *owned, char **owner_url, mcdc_err *err) {
    sqlite_store *s = of(base);
    bool found = false;
    if (owner_url) *owner_url = NULL;
    pthread_mutex_lock(&s->mu);
    int ret = sqlite_task_exists(s, task_id, &found, err);
    pthread_mutex_unlock(&s->mu);
    if (ret) return ret;
    if (!found) return mcdc_errf(err, MCDC_ENOTFOUND, "store: claiming task %s: no such task", task_id);
    *owned = true;
    return 0;
}

static int sqlite_task_release(store *s, const char *task_id, mcdc_err *err) {
    (void)s, (void)task_id, (void)err;
    return 0;
}

static int sqlite_task_owner(store *base, const char *task_id, bool *mine, char **owner_url, mcdc_err *err) {
    bool owned = false;
    if (sqlite_task_claim(base, task_id, &owned, owner_url, err)) return -1;
    *mine = owned;
    return 0;
}

static bool sqlite_task_owned(store *s, const char *task_id) {
    (void)s, (void)task_id;
    return true;
}

/* Nobody else writes this file's tasks (store_open_sqlite holds its lock). */
static int sqlite_wait_change(store *s, uint32_t timeout_ms, mcdc_err *err) {
    (void)s, (void)err;
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return 0;
}

static const store_ops SQLITE_OPS = {
    .close = sqlite_close,
    .task_put_new = sqlite_task_put_new,
    .task_update = sqlite_task_update,
    .task_set_skip = sqlite_task_set_skip,
    .task_each = sqlite_task_each,
    .task_delete = sqlite_task_delete,
    .position_save = sqlite_position_save,
    .position_each = sqlite_position_each,
    .binding_save = sqlite_binding_save,
    .binding_each = sqlite_binding_each,
    .binding_delete = sqlite_binding_delete,
    .copy_save = sqlite_copy_save,
    .copy_each = sqlite_copy_each,
    .copy_delete = sqlite_copy_delete,
    .instance_id = sqlite_instance_id,
    .task_claim = sqlite_task_claim,
    .task_release = sqlite_task_release,
    .task_owner = sqlite_task_owner,
    .task_owned = sqlite_task_owned,
    .wait_change = sqlite_wait_change,
};
