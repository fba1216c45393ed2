/* milvus_client.c — milvus_client.h over src/rpc: every typed call packs its
 * request and goes through milvus_call, which adds the metadata, finds the
 * reply's Status and classifies failures, so that all calls fail alike. */
#include "target/milvus_client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/pbfield.h"
#include "base/secret.h"
#include "base/log.h"
#include "common.pb-c.h"
#include "model/change.h"
#include "schema.pb-c.h"
#include "target/milvus_util.h"

#define SERVICE_PATH "/milvus.proto.milvus.MilvusService/"
#define DEFAULT_TIMEOUT_MS 30000u

struct milvus_client {
    rpc_channel *ch;
    char *address;
    const char *role;         /* "target" or "source": a static string */
    char *authorization;  /* metadata value, NULL without credentials */
    uint32_t timeout_ms;
    char *version;
};

/* A string field of any request, looked up by name because db_name and
 * collection_name sit at different field numbers in different requests. */
static const char *string_field(const ProtobufCMessage *m, const char *name) {
    const char *v = pbfield_string(m, name);
    return v && *v ? v : NULL;
}

/* "(db.coll)", "(db)", "(coll)" or "": what a call was about, for messages. */
static void call_subject(char *out, size_t n, const char *db, const ProtobufCMessage *req) {
    if (!db || !*db) db = string_field(req, "db_name");
    const char *coll = string_field(req, "collection_name");
    if (db && coll)
        snprintf(out, n, "(%s.%s)", db, coll);
    else if (db || coll)
        snprintf(out, n, "(%s)", db ? db : coll);
    else
        out[0] = '\0';
}

static const Milvus__Proto__Common__Status *reply_status(const ProtobufCMessage *r) {
    if (r->descriptor == &milvus__proto__common__status__descriptor) return (const Milvus__Proto__Common__Status *)r;
    return (const Milvus__Proto__Common__Status *)pbfield_message(r, 1, &milvus__proto__common__status__descriptor);
}

/* rpc's messages start with "<target> <path>: "; that part is replaced by
 * ours so that gRPC-level and Milvus-level failures read the same way. The
 * code rpc chose is kept: it already says unavailable/timeout/... */
static void rewrite_rpc_err(const milvus_client *c, const char *path, const char *method, const char *subject,
                            mcdc_err *err) {
    if (!err) return;
    char prefix[MCDC_ERR_MSG_MAX];
    int pl = snprintf(prefix, sizeof prefix, "%s %s: ", rpc_channel_target(c->ch), path);
    if (pl > 0 && (size_t)pl < sizeof prefix && strncmp(err->msg, prefix, (size_t)pl) == 0)
        memmove(err->msg, err->msg + pl, strlen(err->msg + pl) + 1);
    mcdc_err_prefix(err, "%s %s %s%s", c->role, c->address, method, subject);
}

/* One call in flight. Every call is one: milvus_call starts it and waits at
 * once; only writes are handed to the caller (milvus_write_*), who may keep
 * several in flight. */
struct milvus_write {
    milvus_client *client;
    rpc_call *call;
    const ProtobufCMessageDescriptor *reply;
    char method[64];
    char path[160];
    char subject[320];
    char about[MCDC_ERR_MSG_MAX / 2];   /* the caller's words for errors, or "" */
    uint32_t rows;
    bool upsert;
};

static void set_method(milvus_write *p, const char *method) {
    snprintf(p->method, sizeof p->method, "%s", method);
    snprintf(p->path, sizeof p->path, SERVICE_PATH "%s", method);
}

static milvus_write *call_start(milvus_client *c, const char *method, const char *db, const ProtobufCMessage *req,
                                const ProtobufCMessageDescriptor *reply, mcdc_err *err) {
    milvus_write *p = mcdc_xcalloc(1, sizeof *p);
    p->client = c;
    p->reply = reply;
    set_method(p, method);
    call_subject(p->subject, sizeof p->subject, db, req);

    rpc_md md[2];
    size_t n_md = 0;
    if (c->authorization) md[n_md++] = (rpc_md){"authorization", c->authorization};
    /* The request's db_name already names the database; the header is for
     * the requests that have no such field and for Connect-style checks. */
    if (db && *db) md[n_md++] = (rpc_md){"dbname", db};
    if (!(p->call = rpc_call_start(c->ch, p->path, md, n_md, c->timeout_ms, req, err))) {
        rewrite_rpc_err(c, p->path, method, p->subject, err);
        free(p);
        return NULL;
    }
    return p;
}

static int call_wait(milvus_write *p, ProtobufCMessage **resp, mcdc_err *err) {
    if (resp) *resp = NULL;
    milvus_client *c = p->client;
    ProtobufCMessage *r = NULL;
    if (rpc_call_wait(p->call, p->reply, &r, err)) {
        rewrite_rpc_err(c, p->path, p->method, p->subject, err);
        return -1;
    }
    const Milvus__Proto__Common__Status *st = reply_status(r);
    /* Success needs both codes at 0: some 2.3 paths set only the old one. */
    if (st && (st->error_code != 0 || st->code != 0)) {
        const char *reason = st->reason && *st->reason ? st->reason
                             : st->detail && *st->detail ? st->detail
                                                         : "no reason given";
        mcdc_code cls = milvus_status_class(p->method, (int32_t)st->error_code, st->code, st->retriable, reason);
        if (st->code != 0)
            mcdc_errf(err, cls, "%s %s %s%s: %s (code %d)", c->role, c->address, p->method, p->subject, reason,
                      (int)st->code);
        else
            mcdc_errf(err, cls, "%s %s %s%s: %s (error_code %d)", c->role, c->address, p->method, p->subject, reason,
                      (int)st->error_code);
        protobuf_c_message_free_unpacked(r, NULL);
        return -1;
    }
    if (resp)
        *resp = r;
    else
        protobuf_c_message_free_unpacked(r, NULL);
    return 0;
}

static void call_free(milvus_write *p) {
    if (!p) return;
    rpc_call_free(p->call);
    free(p);
}

int milvus_call(milvus_client *c, const char *method, const char *db, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, mcdc_err *err) {
    if (resp) *resp = NULL;
    milvus_write *p = call_start(c, method, db, req, resp_desc, err);
    if (!p) return -1;
    int rc = call_wait(p, resp, err);
    call_free(p);
    return rc;
}

/* For the many calls whose reply carries nothing but the Status. */
static int call_status(milvus_client *c, const char *method, const char *db, const ProtobufCMessage *req,
                       mcdc_err *err) {
    return milvus_call(c, method, db, req, &milvus__proto__common__status__descriptor, NULL, err);
}

/* ---- connection ----------------------------------------------------------- */

milvus_client *milvus_open(const milvus_config *cfg, mcdc_err *err) {
    if (!cfg || !cfg->address || !*cfg->address) {
        mcdc_errf(err, MCDC_EINVAL, "target: no Milvus address configured");
        return NULL;
    }
    rpc_init();
    rpc_tls tls = {0};
    tls.enabled = cfg->tls;
    /* No receive limit: a query result is as large as the data it returns. */
    rpc_channel *ch = rpc_channel_open(cfg->address, &tls, 0, err);
    if (!ch) {
        mcdc_err_prefix(err, "%s %s", cfg->role ? cfg->role : "target", cfg->address);
        rpc_shutdown();
        return NULL;
    }
    milvus_client *c = mcdc_xcalloc(1, sizeof *c);
    c->ch = ch;
    c->address = mcdc_xstrdup(cfg->address);
    c->role = cfg->role && strcmp(cfg->role, "source") == 0 ? "source" : "target";
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (cfg->api_key && *cfg->api_key) {
        c->authorization = mcdc_base64_encode(cfg->api_key, strlen(cfg->api_key));
    } else if (cfg->username && *cfg->username) {
        mcdc_buf b = MCDC_BUF_INIT;
        mcdc_buf_printf(&b, "%s:%s", cfg->username, cfg->password ? cfg->password : "");
        c->authorization = mcdc_base64_encode(b.data, b.len);
        /* The plain password should not linger in freed heap memory. */
        mcdc_secret_wipe(b.data, b.len);
        mcdc_buf_free(&b);
    }

    Milvus__Proto__Milvus__GetVersionRequest req = MILVUS__PROTO__MILVUS__GET_VERSION_REQUEST__INIT;
    Milvus__Proto__Milvus__GetVersionResponse *resp = NULL;
    if (milvus_call(c, "GetVersion", NULL, &req.base, &milvus__proto__milvus__get_version_response__descriptor,
                    (ProtobufCMessage **)&resp, err)) {
        milvus_close(c);
        return NULL;
    }
    c->version = mcdc_xstrdup(resp->version ? resp->version : "");
    milvus__proto__milvus__get_version_response__free_unpacked(resp, NULL);
    log_debug("%s %s: Milvus %s", c->role, c->address, c->version);
    return c;
}

void milvus_close(milvus_client *c) {
    if (!c) return;
    rpc_channel_close(c->ch);
    mcdc_secret_free(c->authorization);
    free(c->address);
    free(c->version);
    free(c);
    rpc_shutdown();
}

const char *milvus_server_version(const milvus_client *c) { return c->version ? c->version : ""; }

/* ---- databases ------------------------------------------------------------ */

int milvus_create_database(milvus_client *c, const char *db, mcdc_err *err) {
    Milvus__Proto__Milvus__CreateDatabaseRequest req = MILVUS__PROTO__MILVUS__CREATE_DATABASE_REQUEST__INIT;
    req.db_name = (char *)db;
    /* No dbname header: it would name a database that does not exist yet. */
    return call_status(c, "CreateDatabase", NULL, &req.base, err);
}

int milvus_drop_database(milvus_client *c, const char *db, mcdc_err *err) {
    Milvus__Proto__Milvus__DropDatabaseRequest req = MILVUS__PROTO__MILVUS__DROP_DATABASE_REQUEST__INIT;
    req.db_name = (char *)db;
    return call_status(c, "DropDatabase", NULL, &req.base, err);
}

/* A malloc'ed copy of n strings (NULL read as ""), in a malloc'ed array. */
static char **copy_names(char *const *src, size_t n) {
    char **out = mcdc_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++) out[i] = mcdc_xstrdup(src[i] ? src[i] : "");
    return out;
}

int milvus_list_databases(milvus_client *c, char ***names, size_t *n, mcdc_err *err) {
    *names = NULL;
    *n = 0;
    Milvus__Proto__Milvus__ListDatabasesRequest req = MILVUS__PROTO__MILVUS__LIST_DATABASES_REQUEST__INIT;
    Milvus__Proto__Milvus__ListDatabasesResponse *resp = NULL;
    if (milvus_call(c, "ListDatabases", NULL, &req.base, &milvus__proto__milvus__list_databases_response__descriptor,
                    (ProtobufCMessage **)&resp, err))
        return -1;
    *names = copy_names(resp->db_names, resp->n_db_names);
    *n = resp->n_db_names;
    milvus__proto__milvus__list_databases_response__free_unpacked(resp, NULL);
    return 0;
}

/* ---- collections ---------------------------------------------------------- */

int milvus_create_collection(milvus_client *c, const char *db, const char *name,
                             const Milvus__Proto__Schema__CollectionSchema *schema, int32_t shards_num,
                             int consistency_level, const Milvus__Proto__Common__KeyValuePair *const *props,
                             size_t n_props, int64_t num_partitions, mcdc_err *err) {
    /* The proxy insists that the schema's name equals the collection name;
     * a renamed target collection would be refused with the source's. */
    Milvus__Proto__Schema__CollectionSchema s = *schema;
    s.name = (char *)name;
    size_t len = protobuf_c_message_get_packed_size(&s.base);
    uint8_t *bytes = mcdc_xmalloc(len);
    protobuf_c_message_pack(&s.base, bytes);

    Milvus__Proto__Milvus__CreateCollectionRequest req = MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)name;
    req.schema.data = bytes;
    req.schema.len = len;
    req.shards_num = shards_num;
    req.consistency_level = (Milvus__Proto__Common__ConsistencyLevel)consistency_level;
    req.n_properties = n_props;
    req.properties = (Milvus__Proto__Common__KeyValuePair **)props;
    req.num_partitions = num_partitions;
    int rc = call_status(c, "CreateCollection", db, &req.base, err);
    free(bytes);
    return rc;
}

int milvus_drop_collection(milvus_client *c, const char *db, const char *name, mcdc_err *err) {
    Milvus__Proto__Milvus__DropCollectionRequest req = MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)name;
    return call_status(c, "DropCollection", db, &req.base, err);
}

int milvus_rename_collection(milvus_client *c, const char *db, const char *from, const char *to, mcdc_err *err) {
    Milvus__Proto__Milvus__RenameCollectionRequest req = MILVUS__PROTO__MILVUS__RENAME_COLLECTION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.old_name = (char *)from;
    req.new_name = (char *)to;
    return call_status(c, "RenameCollection", db, &req.base, err);
}

int milvus_has_collection(milvus_client *c, const char *db, const char *name, bool *has, mcdc_err *err) {
    Milvus__Proto__Milvus__HasCollectionRequest req = MILVUS__PROTO__MILVUS__HAS_COLLECTION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)name;
    Milvus__Proto__Milvus__BoolResponse *resp = NULL;
    if (milvus_call(c, "HasCollection", db, &req.base, &milvus__proto__milvus__bool_response__descriptor,
                    (ProtobufCMessage **)&resp, err))
        return -1;
    *has = resp->value;
    milvus__proto__milvus__bool_response__free_unpacked(resp, NULL);
    return 0;
}

int milvus_describe_collection(milvus_client *c, const char *db, const char *name,
                               Milvus__Proto__Milvus__DescribeCollectionResponse **out, mcdc_err *err) {
    Milvus__Proto__Milvus__DescribeCollectionRequest req = MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)name;
    return milvus_call(c, "DescribeCollection", db, &req.base,
                       &milvus__proto__milvus__describe_collection_response__descriptor, (ProtobufCMessage **)out,
                       err);
}

/* ---- partitions ----------------------------------------------------------- */

int milvus_create_partition(milvus_client *c, const char *db, const char *coll, const char *part, mcdc_err *err) {
    Milvus__Proto__Milvus__CreatePartitionRequest req = MILVUS__PROTO__MILVUS__CREATE_PARTITION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    req.partition_name = (char *)part;
    return call_status(c, "CreatePartition", db, &req.base, err);
}

int milvus_drop_partition(milvus_client *c, const char *db, const char *coll, const char *part, mcdc_err *err) {
    Milvus__Proto__Milvus__DropPartitionRequest req = MILVUS__PROTO__MILVUS__DROP_PARTITION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    req.partition_name = (char *)part;
    return call_status(c, "DropPartition", db, &req.base, err);
}

int milvus_has_partition(milvus_client *c, const char *db, const char *coll, const char *part, bool *has,
                         mcdc_err *err) {
    Milvus__Proto__Milvus__HasPartitionRequest req = MILVUS__PROTO__MILVUS__HAS_PARTITION_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    req.partition_name = (char *)part;
    Milvus__Proto__Milvus__BoolResponse *resp = NULL;
    if (milvus_call(c, "HasPartition", db, &req.base, &milvus__proto__milvus__bool_response__descriptor,
                    (ProtobufCMessage **)&resp, err))
        return -1;
    *has = resp->value;
    milvus__proto__milvus__bool_response__free_unpacked(resp, NULL);
    return 0;
}

int milvus_list_partitions(milvus_client *c, const char *db, const char *coll, char ***names, size_t *n,
                           mcdc_err *err) {
    *names = NULL;
    *n = 0;
    Milvus__Proto__Milvus__ShowPartitionsRequest req = MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    Milvus__Proto__Milvus__ShowPartitionsResponse *resp = NULL;
    if (milvus_call(c, "ShowPartitions", db, &req.base, &milvus__proto__milvus__show_partitions_response__descriptor,
                    (ProtobufCMessage **)&resp, err))
        return -1;
    *names = copy_names(resp->partition_names, resp->n_partition_names);
    *n = resp->n_partition_names;
    milvus__proto__milvus__show_partitions_response__free_unpacked(resp, NULL);
    return 0;
}

/* One GetLoadState over the partitions named (none: the collection as a
 * whole, which a load of only some of its partitions can leave "loaded"). */
int milvus_partitions_loaded(milvus_client *c, const char *db, const char *coll, char **partitions, size_t n,
                             bool *loaded, mcdc_err *err) {
    *loaded = false;
    Milvus__Proto__Milvus__GetLoadStateRequest req = MILVUS__PROTO__MILVUS__GET_LOAD_STATE_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    req.partition_names = partitions;
    req.n_partition_names = n;
    Milvus__Proto__Milvus__GetLoadStateResponse *resp = NULL;
    if (milvus_call(c, "GetLoadState", db, &req.base, &milvus__proto__milvus__get_load_state_response__descriptor,
                    (ProtobufCMessage **)&resp, err))
        return -1;
    *loaded = resp->state == MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded;
    milvus__proto__milvus__get_load_state_response__free_unpacked(resp, NULL);
    return 0;
}

/* ---- aliases -------------------------------------------------------------- */

int milvus_create_alias(milvus_client *c, const char *db, const char *coll, const char *alias, mcdc_err *err) {
    Milvus__Proto__Milvus__CreateAliasRequest req = MILVUS__PROTO__MILVUS__CREATE_ALIAS_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    req.alias = (char *)alias;
    return call_status(c, "CreateAlias", db, &req.base, err);
}

int milvus_alter_alias(milvus_client *c, const char *db, const char *coll, const char *alias, mcdc_err *err) {
    Milvus__Proto__Milvus__AlterAliasRequest req = MILVUS__PROTO__MILVUS__ALTER_ALIAS_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    req.alias = (char *)alias;
    return call_status(c, "AlterAlias", db, &req.base, err);
}

int milvus_drop_alias(milvus_client *c, const char *db, const char *alias, mcdc_err *err) {
    Milvus__Proto__Milvus__DropAliasRequest req = MILVUS__PROTO__MILVUS__DROP_ALIAS_REQUEST__INIT;
    req.db_name = (char *)db;
    req.alias = (char *)alias;
    return call_status(c, "DropAlias", db, &req.base, err);
}

int milvus_list_aliases(milvus_client *c, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err) {
    *names = NULL;
    *n = 0;
    Milvus__Proto__Milvus__ListAliasesRequest req = MILVUS__PROTO__MILVUS__LIST_ALIASES_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    Milvus__Proto__Milvus__ListAliasesResponse *resp = NULL;
    if (milvus_call(c, "ListAliases", db, &req.base, &milvus__proto__milvus__list_aliases_response__descriptor,
                    (ProtobufCMessage **)&resp, err))
        return -1;
    *names = copy_names(resp->aliases, resp->n_aliases);
    *n = resp->n_aliases;
    milvus__proto__milvus__list_aliases_response__free_unpacked(resp, NULL);
    return 0;
}

/* Two parameter values: equal text, or both JSON and equal as JSON. */
static bool same_param(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return true;
    json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL), *jb = json_loads(b, JSON_DECODE_ANY, NULL);
    bool eq = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

int milvus_field_indexed_as(milvus_client *c, const char *db, const char *coll, const char *field,
                            Milvus__Proto__Common__KeyValuePair *const *params, size_t n_params, bool *yes,
                            mcdc_err *err) {
    *yes = false;
    Milvus__Proto__Milvus__DescribeIndexRequest req = MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    req.field_name = (char *)field;
    Milvus__Proto__Milvus__DescribeIndexResponse *resp = NULL;
    if (milvus_call(c, "DescribeIndex", db, &req.base, &milvus__proto__milvus__describe_index_response__descriptor,
                    (ProtobufCMessage **)&resp, err)) {
        if (err->code != MCDC_ENOTFOUND) return -1;
        return 0; /* "index not found": none on the field */
    }
    for (size_t i = 0; i < resp->n_index_descriptions && !*yes; i++) {
        const Milvus__Proto__Milvus__IndexDescription *d = resp->index_descriptions[i];
        if (strcmp(d->field_name, field) != 0) continue;
        bool all = true;
        for (size_t k = 0; k < n_params && all; k++) {
            bool found = false;
            for (size_t m = 0; m < d->n_params && !found; m++)
                found = strcmp(d->params[m]->key, params[k]->key) == 0 && same_param(d->params[m]->value, params[k]->value);
            all = found;
        }
        *yes = all;
    }
    milvus__proto__milvus__describe_index_response__free_unpacked(resp, NULL);
    return 0;
}

/* ---- data ----------------------------------------------------------------- */

/* "Insert <about>: ..." on a write's errors, when the caller said what about. */
static void prefix_about(mcdc_err *err, bool upsert, const char *about) {
    if (about && *about) mcdc_err_prefix(err, "%s %s", upsert ? "Upsert" : "Insert", about);
}

milvus_write *milvus_write_start(milvus_client *c, bool upsert, const char *db, const char *coll,
                                 const char *partition, Milvus__Proto__Schema__FieldData *const *columns,
                                 size_t n_columns, uint32_t num_rows, const char *about, mcdc_err *err) {
    /* InsertRequest and UpsertRequest are the same message on the wire
     * (fields 1-7 alike, milvus-grpc.md), which milvus_write_resend relies
     * on to turn an ambiguous Insert into an Upsert without re-encoding. */
    Milvus__Proto__Milvus__InsertRequest req = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    if (partition && *partition) req.partition_name = (char *)partition;
    req.n_fields_data = n_columns;
    req.fields_data = (Milvus__Proto__Schema__FieldData **)columns;
    req.num_rows = num_rows;
    milvus_write *w = call_start(c, upsert ? "Upsert" : "Insert", db, &req.base,
                                 &milvus__proto__milvus__mutation_result__descriptor, err);
    if (!w) {
        prefix_about(err, upsert, about);
        return NULL;
    }
    w->rows = num_rows;
    w->upsert = upsert;
    snprintf(w->about, sizeof w->about, "%s", about ? about : "");
    return w;
}

bool milvus_write_ready(milvus_write *w) { return rpc_call_ready(w->call); }
size_t milvus_write_bytes(const milvus_write *w) { return rpc_call_request_bytes(w->call); }
size_t milvus_write_rows(const milvus_write *w) { return w->rows; }
bool milvus_write_is_upsert(const milvus_write *w) { return w->upsert; }
void milvus_write_free(milvus_write *w) { call_free(w); }

int milvus_write_wait(milvus_write *w, mcdc_err *err) {
    if (call_wait(w, NULL, err) == 0) return 0;
    prefix_about(err, w->upsert, w->about);
    return -1;
}

int milvus_write_resend(milvus_write *w, bool as_upsert, mcdc_err *err) {
    w->upsert = as_upsert;
    set_method(w, as_upsert ? "Upsert" : "Insert");
    if (rpc_call_restart(w->call, w->path, err)) {
        rewrite_rpc_err(w->client, w->path, w->method, w->subject, err);
        prefix_about(err, w->upsert, w->about);
        return -1;
    }
    return 0;
}

static int write_rows(milvus_client *c, bool upsert, const char *db, const char *coll, const char *partition,
                      Milvus__Proto__Schema__FieldData *const *columns, size_t n_columns, uint32_t num_rows,
                      mcdc_err *err) {
    milvus_write *w = milvus_write_start(c, upsert, db, coll, partition, columns, n_columns, num_rows, NULL, err);
    if (!w) return -1;
    int rc = milvus_write_wait(w, err);
    milvus_write_free(w);
    return rc;
}

int milvus_insert(milvus_client *c, const char *db, const char *coll, const char *partition,
                  Milvus__Proto__Schema__FieldData *const *columns, size_t n_columns, uint32_t num_rows,
                  mcdc_err *err) {
    return write_rows(c, false, db, coll, partition, columns, n_columns, num_rows, err);
}

int milvus_upsert(milvus_client *c, const char *db, const char *coll, const char *partition,
                  Milvus__Proto__Schema__FieldData *const *columns, size_t n_columns, uint32_t num_rows,
                  mcdc_err *err) {
    return write_rows(c, true, db, coll, partition, columns, n_columns, num_rows, err);
}

int milvus_delete_ids(milvus_client *c, const char *db, const char *coll, const char *partition, const char *pk_field,
                      const Milvus__Proto__Schema__IDs *ids, mcdc_err *err) {
    size_t n = change_ids_count(ids);
    if (!pk_field || !*pk_field) return mcdc_errf(err, MCDC_EINVAL, "target %s Delete(%s.%s): no primary key field",
                                                  c->address, db ? db : "", coll);
    Milvus__Proto__Milvus__DeleteRequest req = MILVUS__PROTO__MILVUS__DELETE_REQUEST__INIT;
    req.db_name = (char *)db;
    req.collection_name = (char *)coll;
    if (partition && *partition) req.partition_name = (char *)partition;
    mcdc_buf expr = MCDC_BUF_INIT;
    int rc = 0;
    /* One request per expression chunk: a huge key list in one request
     * would exceed the proxy's message limit and never succeed. The chunks
     * are independent deletes, and deleting again is harmless, so a failure
     * half way is repaired by retrying the whole call. */
    for (size_t i = 0; i < n && rc == 0;) {
        mcdc_buf_reset(&expr);
        i += milvus_expr_ids(&expr, pk_field, ids, i, MILVUS_EXPR_MAX_BYTES);
        req.expr = (char *)mcdc_buf_cstr(&expr);
        rc = milvus_call(c, "Delete", db, &req.base, &milvus__proto__milvus__mutation_result__descriptor, NULL, err);
    }
    mcdc_buf_free(&expr);
    return rc;
}

int milvus_flush(milvus_client *c, const char *db, const char *coll, size_t *segments, mcdc_err *err) {
    Milvus__Proto__Milvus__FlushRequest req = MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
    char *names[1] = {(char *)coll};
    req.db_name = (char *)db;
    req.n_collection_names = 1;
    req.collection_names = names;
    Milvus__Proto__Milvus__FlushResponse *resp = NULL;
    if (milvus_call(c, "Flush", db, &req.base, &milvus__proto__milvus__flush_response__descriptor,
                    segments ? (ProtobufCMessage **)&resp : NULL, err))
        return -1;
    if (!segments) return 0;
    int rc = milvus_flush_reply_segments(resp, coll, segments, err);
    milvus__proto__milvus__flush_response__free_unpacked(resp, NULL);
    if (rc) mcdc_err_prefix(err, "%s %s Flush of %s.%s", c->role, c->address, db ? db : "", coll);
    return rc;
}

int milvus_replay_request(milvus_client *c, const char *method, const ProtobufCMessage *msg, mcdc_err *err) {
    /* The service descriptor knows each method's request and reply types, so
     * any replicate-channel request can be sent without a table of our own,
     * and a request of the wrong type is caught before it reaches the wire. */
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(&milvus__proto__milvus__milvus_service__descriptor, method);
    if (!m)
        return mcdc_errf(err, MCDC_EINVAL, "%s %s: %s is not a MilvusService method", c->role, c->address, method);
    if (m->input != msg->descriptor)
        return mcdc_errf(err, MCDC_EINVAL, "%s %s %s: request is a %s, not a %s", c->role, c->address, method,
                         msg->descriptor->name, m->input->name);
    return milvus_call(c, method, string_field(msg, "db_name"), msg, m->output, NULL, err);
}

/* ---- reading -------------------------------------------------------------- */

/* The one Query path: milvus_query, milvus_query_page and milvus_count. */
static int query_send(milvus_client *c, const char *db, const char *coll, const char *const *partitions,
                      size_t n_partitions, const char *expr, const char *const *fields, size_t n_fields,
                      int64_t limit, uint64_t guarantee_ts, Milvus__Proto__Milvus__QueryResults **out,
                      mcdc_err *err) {
    milvus_query_req q;
    milvus_query_req_init(&q, db, coll, partitions, n_partitions, expr, fields, n_fields, limit);
    if (guarantee_ts) {
        /* The server takes a Customized level's guarantee as given
         * (parseGuaranteeTsFromConsistency, proxy/util.go, 2.3). */
        q.req.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Customized;
        q.req.guarantee_timestamp = guarantee_ts;
    }
    return milvus_call(c, "Query", db, &q.req.base, &milvus__proto__milvus__query_results__descriptor,
                       (ProtobufCMessage **)out, err);
}

int milvus_query(milvus_client *c, const char *db, const char *coll, const char *expr, const char *const *fields,
                 size_t n_fields, Milvus__Proto__Milvus__QueryResults **out, mcdc_err *err) {
    return query_send(c, db, coll, NULL, 0, expr, fields, n_fields, 0, 0, out, err);
}

int milvus_query_page(milvus_client *c, const char *db, const char *coll, const char *const *partitions,
                      size_t n_partitions, const char *expr, const char *const *fields, size_t n_fields,
                      int64_t limit, uint64_t guarantee_ts, Milvus__Proto__Milvus__QueryResults **out,
                      mcdc_err *err) {
    if (out) *out = NULL;
    if (milvus_query_page_check(expr, limit, err)) {
        mcdc_err_prefix(err, "%s %s Query(%s.%s)", c->role, c->address, db ? db : "", coll ? coll : "");
        return -1;
    }
    return query_send(c, db, coll, partitions, n_partitions, expr, fields, n_fields, limit, guarantee_ts, out, err);
}

int milvus_count_where(milvus_client *c, const char *db, const char *coll, const char *partition, const char *expr,
                       uint64_t guarantee_ts, uint64_t *n, mcdc_err *err) {
    *n = 0;
    static const char *const count_field[] = {"count(*)"};
    const char *parts[1] = {partition};
    bool one = partition && *partition;
    Milvus__Proto__Milvus__QueryResults *r = NULL;
    if (query_send(c, db, coll, one ? parts : NULL, one ? 1 : 0, expr ? expr : "", count_field, 1, 0, guarantee_ts,
                   &r, err))
        return -1;
    int rc = milvus_count_reply(r, n, err);
    if (rc)
        mcdc_err_prefix(err, "%s %s Query(%s.%s%s%s)", c->role, c->address, db ? db : "", coll ? coll : "",
                        one ? " partition " : "", one ? partition : "");
    milvus__proto__milvus__query_results__free_unpacked(r, NULL);
    return rc;
}

int milvus_count(milvus_client *c, const char *db, const char *coll, const char *partition, uint64_t *n,
                 mcdc_err *err) {
    return milvus_count_where(c, db, coll, partition, "", 0, n, err);
}

int milvus_alloc_timestamp(milvus_client *c, uint64_t *ts, mcdc_err *err) {
    *ts = 0;
    Milvus__Proto__Milvus__AllocTimestampRequest req = MILVUS__PROTO__MILVUS__ALLOC_TIMESTAMP_REQUEST__INIT;
    Milvus__Proto__Milvus__AllocTimestampResponse *resp = NULL;
    if (milvus_call(c, "AllocTimestamp", NULL, &req.base, &milvus__proto__milvus__alloc_timestamp_response__descriptor,
                    (ProtobufCMessage **)&resp, err))
        return -1;
    uint64_t got = resp->timestamp;
    milvus__proto__milvus__alloc_timestamp_response__free_unpacked(resp, NULL);
    /* proto3 sends no field for 0: a server that does not fill it would
     * otherwise pass as "before everything". */
    if (got == 0) return mcdc_errf(err, MCDC_EREMOTE, "%s %s AllocTimestamp: the reply holds no timestamp", c->role, c->address);
    *ts = got;
    return 0;
}

int milvus_segments_served(milvus_client *c, const char *db, const char *coll, const int64_t *ids, size_t n,
                           size_t *served, mcdc_err *err) {
    *served = 0;
    Milvus__Proto__Milvus__GetQuerySegmentInfoRequest req = MILVUS__PROTO__MILVUS__GET_QUERY_SEGMENT_INFO_REQUEST__INIT;
    req.db_name = (char *)(db ? db : "");
    req.collection_name = (char *)coll;
    Milvus__Proto__Milvus__GetQuerySegmentInfoResponse *resp = NULL;
    if (milvus_call(c, "GetQuerySegmentInfo", db, &req.base,
                    &milvus__proto__milvus__get_query_segment_info_response__descriptor, (ProtobufCMessage **)&resp, err))
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < resp->n_infos; k++)
            if (resp->infos[k]->segment_id == ids[i]) {
                (*served)++;
                break;
            }
    milvus__proto__milvus__get_query_segment_info_response__free_unpacked(resp, NULL);
    return 0;
}

void milvus_expr_pk_cmp(mcdc_buf *out, const char *pk_field, const char *op, bool varchar, int64_t int_key,
                        const char *str_key) {
    mcdc_buf_printf(out, "%s %s ", pk_field, op);
    if (!varchar) {
        mcdc_buf_printf(out, "%" PRId64, int_key);
        return;
    }
    const char *s = str_key ? str_key : "";
    milvus_quote_str(out, s, strlen(s));
}

void milvus_expr_pk_greater(mcdc_buf *out, const char *pk_field, bool varchar, int64_t int_key, const char *str_key) {
    milvus_expr_pk_cmp(out, pk_field, ">", varchar, int_key, str_key);
}
