/* task_spec.h — what a user asked a task to do, parsed from the milvus-cdc
 * `create` request and stored as JSON.
 *
 * Same JSON names as zilliztech/milvus-cdc (server/model/request/create.go,
 * server/model/common.go) so existing clients work unchanged:
 *   {"task_id": "...",                       optional; generated when absent
 *    "milvus_connect_param": {"uri": "http://h:19530", "token": "user:pass",
 *                             "host": "h", "port": 19530, "enable_tls": false,
 *                             "username": "u", "password": "p", "connect_timeout": 10,
 *                             "ignore_partition": false,
 *                             "password_file": "name", "password_env": "MCDC_SECRET_X",
 *                             "token_file": "name", "token_env": "MCDC_SECRET_Y"},
 *    "collection_infos": [{"name": "*" | "coll", "positions": {"vchannel": "pos"},
 *                          "use_start_position": false, "snapshot": false}],
 *    "db_collections": {"db": [{"name": ...}, ...]},   several dbs (ours: any number)
 *    "name_mapping": [{"source_db": "a", "target_db": "b",
 *                      "collection_mapping": {"src": "dst"}}],
 *    "positions": {"channel": "pos"},               start positions by pchannel
 *    "disable_auto_start": false,
 *    "extra_info": {"enable_user_role": false}}     replicate RBAC (rbac_sync.h)
 * "snapshot" is mcdc's own: true copies the rows each collection of the entry
 * already holds on the source (through the source's Query API) before the
 * stream alone keeps it, where milvus-cdc replicates only what the stream
 * carries from the task's start. Printed only when true, so specs without it
 * print, and are stored, as they always were.
 * Unknown keys of milvus-cdc that mcdc does not need (kafka_connect_param,
 * rpc_channel_info, buffer_config, extra_info's other keys) are accepted and ignored;
 * other unknown keys are refused, so a typo never silently changes meaning.
 *
 * password and token may instead be named by reference, *_file (a file
 * under the config's secrets_dir) or *_env (an MCDC_SECRET_* variable of
 * mcdc's environment); at most one of the three forms per field. A
 * reference is kept, stored and shown as given; the secret it names is read
 * only when a connection is made (task_target_milvus_config), never stored,
 * never shown. */
#ifndef MCDC_TASK_SPEC_H
#define MCDC_TASK_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/error.h"
#include "target/milvus_client.h"

typedef struct task_kv {
    char *key;
    char *value;
} task_kv;

/* Where a secret is, when the request names it instead of giving it: at
 * most one of the two is set. Not secrets themselves: stored and shown. */
typedef struct task_secret_ref {
    char *file;           /* a name relative to the config's secrets_dir */
    char *env;            /* an MCDC_SECRET_* variable */
} task_secret_ref;

typedef struct task_target {
    char *address;        /* "host:port", derived from uri or host+port */
    bool tls;             /* uri https:// or enable_tls */
    char *username;       /* from token "user:pass" or username/password; secret */
    char *password;       /* secret */
    char *api_key;        /* a token without ':' (milvus-grpc.md §4); secret */
    task_secret_ref password_ref; /* instead of password (username given) */
    task_secret_ref token_ref;    /* instead of token: "user:pass" or an API key */
    int connect_timeout_s;
    bool ignore_partition;
} task_target;

typedef struct task_collection {
    char *db;             /* "default" when given through collection_infos */
    char *name;           /* a collection name, or "*" for every collection of db */
    bool use_start_position;
    bool snapshot;        /* copy the rows it holds before the stream (copier.h) */
    task_kv *positions;   /* vchannel or pchannel -> position text */
    size_t n_positions;
} task_collection;

typedef struct task_name_map {
    char *source_db;
    char *target_db;
    task_kv *collections; /* source name -> target name */
    size_t n_collections;
} task_name_map;

typedef struct task_spec {
    char *id;
    task_target target;
    task_collection *collections;
    size_t n_collections;
    task_name_map *mappings;
    size_t n_mappings;
    task_kv *positions;   /* pchannel -> position text */
    size_t n_positions;
    bool disable_auto_start;
    bool enable_user_role;  /* extra_info.enable_user_role */
} task_spec;

/* Parses and validates request_data of a create request. Every problem is an
 * MCDC_EINVAL error naming the key ("milvus_connect_param.port: want an
 * integer from 1 to 65535"). What depends on coverage (two covered sources
 * onto one target collection, overlap with other tasks) is checked at create
 * by task_coverage.h, not here: stored tasks are read back through this, and
 * a rule added later must not lose a task at restart. */
int task_spec_from_json(const json_t *request_data, task_spec *out, mcdc_err *err);

/* The JSON form. with_secrets=true is for the store only; replies to users
 * never carry passwords or tokens (they show "***"). This and
 * task_spec_from_json stay in the pipeline although the API shows the same
 * shape: they are also the store's format for a task, which must not change
 * with the API's. */
json_t *task_spec_to_json(const task_spec *s, bool with_secrets);

/* A deep copy into *out, which task_spec_free frees. Without secrets, each
 * secret that s has is the mask in the copy, so task_spec_to_json(out, false)
 * prints what task_spec_to_json(s, false) does and the copy holds no
 * password: for views of a task that live on after it. */
void task_spec_copy(const task_spec *s, task_spec *out, bool with_secrets);

/* Target name of a source (db, collection) after name_mapping. */
void task_spec_map_name(const task_spec *s, const char *db, const char *coll, const char **tdb, const char **tcoll);

/* Whether the task covers a source collection. */
bool task_spec_covers(const task_spec *s, const char *db, const char *coll);

/* Whether the entry that covers a source collection asks for a snapshot:
 * the entry task_spec_covers finds (the database by its name before "*",
 * then the collection by its name before "*"). false when none covers it. */
bool task_spec_wants_snapshot(const task_spec *s, const char *db, const char *coll);

/* The secrets read for one connection. */
typedef struct task_secrets {
    char *username;
    char *password;
    char *api_key;
} task_secrets;

/* The connection settings of the task's target, into *out. The timeout per
 * call is the task's connect_timeout when set, else default_timeout_ms: each
 * caller says its own. Each secret named by reference is read now, from
 * secrets_dir (the config's; NULL or "" allows no file) or the environment,
 * into *held: so every connection, every start and resume among them, reads
 * the file as it is then (a rotated password counts from the next start).
 * The strings of *out point into t and *held; free *held with
 * task_secrets_free as soon as the connection is open (milvus_open keeps
 * what it needs).
 * A secret that cannot be read is -1 with MCDC_EIO naming the key and the
 * file or variable, never a byte of the secret: missing, unreadable, empty,
 * open to group or others, outside secrets_dir, unset, or no secrets_dir in
 * the config. MCDC_EIO, not MCDC_EINVAL, because at a start the request is
 * not what is wrong: it was checked when it was made, and the spec cannot
 * change since; what changed is the host (a file being rotated or not yet
 * restored, a chmod, a variable or secrets_dir missing after a restart),
 * and the operator fixes it there. So the supervisor retries it with the
 * error shown (start_may_heal, task.c), and the task runs as soon as the
 * file is back, where a pause would also want a resume. The create request
 * is the one caller for which the request is at fault: it says 400. */
int task_target_milvus_config(const task_target *t, const char *secrets_dir, uint32_t default_timeout_ms,
                              milvus_config *out, task_secrets *held, mcdc_err *err);
/* Wipes and frees what *held holds. */
void task_secrets_free(task_secrets *held);

void task_spec_free(task_spec *s);

#endif
