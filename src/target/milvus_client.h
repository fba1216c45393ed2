/* milvus_client.h — typed calls to a target Milvus over src/rpc.
 *
 * Every call carries the `authorization` metadata when credentials are set
 * (base64 "user:password", or an API key) and names its database in the
 * request's db_name (milvus-grpc.md §4). A reply is a success only when both
 * Status.error_code and Status.code are 0 (§7); otherwise the error is
 * classified so callers know what to do with it:
 *   MCDC_EUNAVAIL / MCDC_ETIMEOUT / MCDC_ERATELIMIT — retry with backoff
 *     (gRPC unavailable, deadline; Milvus codes 1, 2, 4, 8 or retriable=true);
 *   MCDC_ENOTFOUND — collection/partition/database/index/alias not found
 *     (codes 100, 200, 700, 800, 1600; legacy CollectionNotExists);
 *   MCDC_EEXIST — already exists (duplicate index 702, alias 1602, or the
 *     "already exist" messages of create calls);
 *   MCDC_EREMOTE — anything else the server refused: does not heal by retry.
 * The message holds the method, Milvus's reason and its code. */
#ifndef MCDC_MILVUS_CLIENT_H
#define MCDC_MILVUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "milvus.pb-c.h"
#include "rpc/rpc.h"

typedef struct milvus_config {
    const char *address;      /* "host:port" */
    bool tls;
    const char *username;     /* NULL = no auth */
    const char *password;
    const char *api_key;      /* instead of username/password */
    uint32_t timeout_ms;      /* per call; 0 = 30000 */
    const char *role;         /* what errors call the server: NULL = "target"; "source" for a snapshot's reads */
} milvus_config;

typedef struct milvus_client milvus_client;

/* Connects and checks the server answers (GetVersion): an unreachable target
 * is an error here. */
milvus_client *milvus_open(const milvus_config *cfg, mcdc_err *err);
void milvus_close(milvus_client *c);
const char *milvus_server_version(const milvus_client *c);

/* The generic path every typed call below uses: method is the bare name
 * ("Insert"); the reply's Status (field 1, or the reply itself for calls that
 * return common.Status) is checked as above. *resp may be NULL to discard. */
int milvus_call(milvus_client *c, const char *method, const char *db, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, mcdc_err *err);

/* An Insert or Upsert in two halves, to keep several in flight on one
 * connection (rpc_call underneath: rpc.h). milvus_write_start serializes the
 * request before it returns, so the columns may be freed at once; the call
 * keeps those bytes, and milvus_write_resend sends them again, as an Upsert
 * when as_upsert (InsertRequest and UpsertRequest are the same message on
 * the wire). milvus_write_wait checks the reply as milvus_call does. `about`
 * (may be NULL) goes into the errors of wait and resend after the method:
 * "Insert <about>: target ...". The columns go as the caller holds them: the
 * proxy matches them to its schema by field_name (§6); partition may be
 * NULL/"" (required for partition-key collections). */
typedef struct milvus_write milvus_write;
milvus_write *milvus_write_start(milvus_client *c, bool upsert, const char *db, const char *coll,
                                 const char *partition, Milvus__Proto__Schema__FieldData *const *columns,
                                 size_t n_columns, uint32_t num_rows, const char *about, mcdc_err *err);
bool milvus_write_ready(milvus_write *w);                     /* never blocks */
int milvus_write_wait(milvus_write *w, mcdc_err *err);
int milvus_write_resend(milvus_write *w, bool as_upsert, mcdc_err *err);
size_t milvus_write_bytes(const milvus_write *w);             /* the serialized request */
size_t milvus_write_rows(const milvus_write *w);
bool milvus_write_is_upsert(const milvus_write *w);           /* as last sent */
void milvus_write_free(milvus_write *w);

int milvus_create_database(milvus_client *c, const char *db, mcdc_err *err);
int milvus_drop_database(milvus_client *c, const char *db, mcdc_err *err);
/* *names: a malloc'ed array of *n malloc'ed strings; free each, then the array. */
int milvus_list_databases(milvus_client *c, char ***names, size_t *n, mcdc_err *err);

/* schema: fields without system fields and without $meta (the caller prepares
 * it: autoID off, enable_dynamic_field as the source). */
int milvus_create_collection(milvus_client *c, const char *db, const char *name,
                             const Milvus__Proto__Schema__CollectionSchema *schema, int32_t shards_num,
                             int consistency_level, const Milvus__Proto__Common__KeyValuePair *const *props,
                             size_t n_props, int64_t num_partitions, mcdc_err *err);
int milvus_drop_collection(milvus_client *c, const char *db, const char *name, mcdc_err *err);
int milvus_has_collection(milvus_client *c, const char *db, const char *name, bool *has, mcdc_err *err);
/* Within one database (2.3 moves no collection between databases). */
int milvus_rename_collection(milvus_client *c, const char *db, const char *from, const char *to, mcdc_err *err);
/* *out freed with milvus__proto__milvus__describe_collection_response__free_unpacked. */
int milvus_describe_collection(milvus_client *c, const char *db, const char *name,
                               Milvus__Proto__Milvus__DescribeCollectionResponse **out, mcdc_err *err);

int milvus_create_partition(milvus_client *c, const char *db, const char *coll, const char *part, mcdc_err *err);
int milvus_drop_partition(milvus_client *c, const char *db, const char *coll, const char *part, mcdc_err *err);
int milvus_has_partition(milvus_client *c, const char *db, const char *coll, const char *part, bool *has,
                         mcdc_err *err);
/* The collection's partitions by name (ShowPartitions); *names as for
 * milvus_list_databases. */
int milvus_list_partitions(milvus_client *c, const char *db, const char *coll, char ***names, size_t *n,
                           mcdc_err *err);
/* Whether every one of partitions[0..n) of the collection is loaded
 * (GetLoadState; n 0: the collection as the server reports it). */
int milvus_partitions_loaded(milvus_client *c, const char *db, const char *coll, char **partitions, size_t n,
                             bool *loaded, mcdc_err *err);

int milvus_create_alias(milvus_client *c, const char *db, const char *coll, const char *alias, mcdc_err *err);
int milvus_alter_alias(milvus_client *c, const char *db, const char *coll, const char *alias, mcdc_err *err);
int milvus_drop_alias(milvus_client *c, const char *db, const char *alias, mcdc_err *err);
/* The aliases of one collection (ListAliases, in the API since 2.3.5); *names
 * as for milvus_list_databases. */
int milvus_list_aliases(milvus_client *c, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err);
/* Whether field carries an index built with these CreateIndex params (each
 * of them among the index's; "params" compared as JSON, so spacing and key
 * order do not count): *yes. No index on the field is *yes = false, not an
 * error. */
int milvus_field_indexed_as(milvus_client *c, const char *db, const char *coll, const char *field,
                            Milvus__Proto__Common__KeyValuePair *const *params, size_t n_params, bool *yes,
                            mcdc_err *err);

/* ---- RBAC (milvus_rbac.c) ----
 * Cluster-wide calls: none names a database in its metadata. The 2.3 proxy
 * records the caller of OperatePrivilege as the grantor and reads it from
 * the authorization metadata even when authorization is off, so a target
 * without configured credentials may refuse grants. Each *out is freed with
 * the matching milvus__proto__milvus__..._free_unpacked. */
int milvus_create_role(milvus_client *c, const char *role, mcdc_err *err);
int milvus_drop_role(milvus_client *c, const char *role, mcdc_err *err);
int milvus_operate_user_role(milvus_client *c, const char *user, const char *role, bool add, mcdc_err *err);
/* object: "Collection", "Global" or "User"; privilege as the API names it ("Insert", "*"). */
int milvus_operate_privilege(milvus_client *c, const char *role, const char *object, const char *db,
                             const char *object_name, const char *privilege, bool grant, mcdc_err *err);
/* password in plain text: it is base64-encoded for the wire here, and the
 * encoded copy wiped after the call. */
int milvus_create_credential(milvus_client *c, const char *user, const char *password, mcdc_err *err);
/* Every role (no users). */
int milvus_select_roles(milvus_client *c, Milvus__Proto__Milvus__SelectRoleResponse **out, mcdc_err *err);
/* Every user with its roles. */
int milvus_select_users(milvus_client *c, Milvus__Proto__Milvus__SelectUserResponse **out, mcdc_err *err);
/* Every grant of role in database db. */
int milvus_select_grants(milvus_client *c, const char *role, const char *db,
                         Milvus__Proto__Milvus__SelectGrantResponse **out, mcdc_err *err);

/* Rows as columns: the FieldData of a WAL Insert go here unchanged; both
 * wait for the reply (milvus_write_start without waiting: above). */
int milvus_insert(milvus_client *c, const char *db, const char *coll, const char *partition,
                  Milvus__Proto__Schema__FieldData *const *columns, size_t n_columns, uint32_t num_rows,
                  mcdc_err *err);
int milvus_upsert(milvus_client *c, const char *db, const char *coll, const char *partition,
                  Milvus__Proto__Schema__FieldData *const *columns, size_t n_columns, uint32_t num_rows,
                  mcdc_err *err);
/* Deletes by primary keys: builds "<pk> in [...]" (quoting varchar keys, §5),
 * as several Delete calls of at most 1 MiB of expression each when the key
 * list is long. No keys: nothing is sent. */
int milvus_delete_ids(milvus_client *c, const char *db, const char *coll, const char *partition, const char *pk_field,
                      const Milvus__Proto__Schema__IDs *ids, mcdc_err *err);

/* Flush of one collection. segments not NULL: also how many segments the
 * reply lists for it (milvus_flush_reply_segments). */
int milvus_flush(milvus_client *c, const char *db, const char *coll, size_t *segments, mcdc_err *err);
/* Replays a replicate-channel request (CreateIndex, DropIndex, Load/Release,
 * Flush, Create/DropDatabase) as the same RPC on the target; the caller has
 * already renamed db/collection in msg. */
int milvus_replay_request(milvus_client *c, const char *method, const ProtobufCMessage *msg, mcdc_err *err);

/* ---- reading a collection (verification, snapshots) ----
 * A Query here runs at Strong consistency (use_default_consistency off),
 * seeing every write the server acknowledged before the call, unless the
 * caller gives a guarantee_ts (milvus_query_page, milvus_count_where).
 * Each *out is freed with milvus__proto__milvus__query_results__free_unpacked. */

/* Query for verification and idempotency checks: expr as given (an empty
 * one is sent as it is, which 2.3 answers only for count(*)), no limit. */
int milvus_query(milvus_client *c, const char *db, const char *coll, const char *expr, const char *const *fields,
                 size_t n_fields, Milvus__Proto__Milvus__QueryResults **out, mcdc_err *err);

/* One page of rows: at most limit rows (0 = no limit) matching expr, in the
 * partitions named (none: the whole collection). Walking a collection by
 * "pk > <last key of the previous page>" (milvus_expr_pk_greater) relies on
 * the server returning a limited query's smallest keys, in key order, as
 * 2.3's segments and reduce do; nothing here checks it. Refused before any
 * call with MCDC_EINVAL: an empty expr without a limit (Milvus refuses it),
 * a negative limit, or one above 16384 (Milvus's query window).
 * guarantee_ts 0: at Strong consistency (the server waits for its next time
 * tick, ~200 ms a call); else the rows hold every change up to that hybrid
 * ts at least (level Customized: no wait once the server has served past it). */
int milvus_query_page(milvus_client *c, const char *db, const char *coll, const char *const *partitions,
                      size_t n_partitions, const char *expr, const char *const *fields, size_t n_fields,
                      int64_t limit, uint64_t guarantee_ts, Milvus__Proto__Milvus__QueryResults **out,
                      mcdc_err *err);

/* The number of rows in the collection, or in one partition (NULL or "":
 * the whole collection): a Query count(*). A reply of any other shape than
 * one Int64 column "count(*)" of one value is MCDC_EREMOTE. */
int milvus_count(milvus_client *c, const char *db, const char *coll, const char *partition, uint64_t *n,
                 mcdc_err *err);
/* The same over the rows matching expr ("" for all), as of guarantee_ts as
 * milvus_query_page takes it (0: Strong). A count counts every stored copy
 * of a key (a key inserted twice counts 2), where a Query's rows hold each
 * key once: the difference is how doubled rows show. */
int milvus_count_where(milvus_client *c, const char *db, const char *coll, const char *partition, const char *expr,
                       uint64_t guarantee_ts, uint64_t *n, mcdc_err *err);

/* A timestamp from the server's TSO (AllocTimestamp): a hybrid ts, physical
 * milliseconds << 18 | logical, later than every write acknowledged before. */
/* How many of the segments ids[0..n) the query nodes serve for coll now
 * (GetQuerySegmentInfo): rows a bulk insert wrote are in a Query's reply
 * only once their segments are served. */
int milvus_segments_served(milvus_client *c, const char *db, const char *coll, const int64_t *ids, size_t n,
                           size_t *served, mcdc_err *err);
int milvus_alloc_timestamp(milvus_client *c, uint64_t *ts, mcdc_err *err);

/* Appends "<pk_field> > <key>" to out: int_key when !varchar, else str_key
 * quoted as the delete expressions quote varchar keys. */
void milvus_expr_pk_greater(mcdc_buf *out, const char *pk_field, bool varchar, int64_t int_key, const char *str_key);
/* The same with any comparison op ("<=", ">=", "=="). */
void milvus_expr_pk_cmp(mcdc_buf *out, const char *pk_field, const char *op, bool varchar, int64_t int_key,
                        const char *str_key);

#endif
