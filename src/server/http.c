/* http.c — the HTTP API of http.h on libmicrohttpd: routing, the refusals
 * (Host, authentication, Content-Type, the body limit), milvus-cdc's request
 * envelope and the reading of each request's data, and the mapping from
 * mcdc_err codes to HTTP statuses (status_of, the only one). The rules of
 * Host and Content-Type are http_guard.c's, the header deadline
 * http_conns.c's, the replies' JSON api_json.c's, the Prometheus page
 * metrics.c's, the status page (GET /) status_page.c's from the lag
 * history's copy (lag_history.c: its sampler thread, started and stopped
 * here, is the history's only writer; page requests read a copy), the
 * sending on of a request for a task another instance runs forward.c's.
 *
 * One thread per connection, not an event loop with a pool of workers: a
 * create request holds its handler for as long as the target takes to
 * answer (10 s and more for one that does not), and so would a pool
 * worker; a few such requests would take every worker, and /healthz would
 * wait behind them. With a thread each, a slow handler holds only its own
 * connection. What a thread costs is bounded by the limits: at most
 * max_connections threads (256 by default), most of them asleep in poll;
 * a slow client holds one only until the header deadline; one address
 * holds at most max_connections_per_client, so a flood from one client
 * leaves room for the others (a load balancer's /healthz among them).
 *
 * A request body is never quoted, in a reply or in the log: a parse error
 * says where (line, column, byte) and what kind of error in our words,
 * never jansson's text, which quotes the body near the error. What this
 * file echoes of a request is its method, path, Host and Content-Type
 * (printable, cut), request_type, key names, and task ids. */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secret.h"
#include "server/api_json.h"
#include "server/forward.h"
#include "server/http_conns.h"
#include "server/http_guard.h"
#include "server/lag_history.h"
#include "server/metrics.h"
#include "server/status_page.h"

/* Idle seconds before a silent client is dropped (a body that stalls); a
 * handler that waits for the target does not count as idle. Headers have
 * their own, shorter deadline (http_conns.h). */
#define CONN_TIMEOUT_S 60
/* How much of a header value a message quotes. */
#define QUOTE_MAX 64
/* How far past max_body_bytes a chunked body is read (and dropped) so that
 * its client still gets a 413, before the connection is simply closed. */
#define DROP_FACTOR 16

static const char *const REQUEST_TYPES[] = {"create", "delete", "pause",  "resume", "get",        "list",
                                            "position", "maintenance", "resync", "verify", "switchover", "failover"};
enum {
    T_CREATE, T_DELETE, T_PAUSE, T_RESUME, T_GET, T_LIST, T_POSITION, T_MAINTENANCE, T_RESYNC, T_VERIFY,
    T_SWITCHOVER, T_FAILOVER, N_TYPES
};
#define T_UNKNOWN N_TYPES
#define VALID_TYPES                                                                                                  \
    "create, delete, pause, resume, get, list, position, maintenance, resync, verify, switchover, failover"

struct http_server {
    struct MHD_Daemon *daemon;
    task_manager *tm;
    char *token;               /* NULL = no authentication */
    size_t max_body;
    uint16_t port;
    http_hosts hosts;
    http_conns *conns;
    uint64_t started_wall_ms;
    request_metrics requests;
    lag_history *history;      /* written by the sampler only */
    lag_sampler *sampler;
};

typedef enum route { ROUTE_CDC, ROUTE_HEALTHZ, ROUTE_METRICS, ROUTE_PAGE } route;

/* One request's state across libmicrohttpd's calls to the handler. */
typedef struct request {
    route route;
    bool replied;       /* a response is queued; the rest of the body is dropped */
    bool too_large;     /* a body without Content-Length passed the limit */
    size_t dropped;     /* bytes of such a body thrown away */
    mcdc_buf body;
    uint64_t start_ns;
} request;

static void count(http_server *s, int type, request_status st) { request_metrics_count(&s->requests, (size_t)type, st); }

/* ---- replies ------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype, const char *text,
                                 size_t len, const char *hname, const char *hvalue) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (hname) MHD_add_response_header(r, hname, hvalue);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Takes doc. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *doc, const char *hname,
                                 const char *hvalue) {
    /* 15 significant digits, not jansson's 17: a lag of 0.4 s or a rate of
     * 12.3 rows/s then reads 0.4 and 12.3, not 0.40000000000000002; no value
     * of the API holds more digits than that of meaning (every timestamp and
     * count is an integer, which this does not touch). */
    char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(doc);
    if (!text) return MHD_NO;
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "%s\n", text);
    free(text);
    enum MHD_Result rc = send_text(c, status, "application/json", (const char *)b.data, b.len, hname, hvalue);
    mcdc_buf_free(&b);
    return rc;
}

/* milvus-cdc's error shape: {"code": status, "message": "..."}. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg, const char *hname,
                                  const char *hvalue) {
    return send_json(c, status, json_pack("{s:i, s:s}", "code", (int)status, "message", msg), hname, hvalue);
}

/* Takes data. */
static enum MHD_Result send_ok(struct MHD_Connection *c, json_t *data) {
    return send_json(c, MHD_HTTP_OK, json_pack("{s:i, s:o}", "code", MHD_HTTP_OK, "data", data), NULL, NULL);
}

/* The HTTP status of an mcdc_err code: the one mapping (http.h lists it).
 * A target that does not answer, or not in time, is worth a retry (503);
 * a code not named here is mcdc's own fault (500). */
static unsigned status_of(mcdc_code code) {
    switch (code) {
    case MCDC_EINVAL: return MHD_HTTP_BAD_REQUEST;
    case MCDC_ENOTFOUND: return MHD_HTTP_NOT_FOUND;
    case MCDC_EEXIST: return MHD_HTTP_CONFLICT;
    case MCDC_EUNAVAIL:
    case MCDC_ETIMEOUT:
    case MCDC_ENOTOWNER: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* ---- the /cdc requests --------------------------------------------------- */

/* Checks the keys of request_data and returns its task_id. */
static const char *want_task_id(const json_t *rd, bool allow_ignore_not_found, mcdc_err *err) {
    if (!rd) {
        mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: missing");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rd, k, v) {
        if (strcmp(k, "task_id") == 0 || (allow_ignore_not_found && strcmp(k, "ignore_not_found") == 0)) continue;
        mcdc_errf(err, MCDC_EINVAL, "request_data: unknown key '%s'; want task_id%s", k,
                  allow_ignore_not_found ? " and ignore_not_found" : "");
        return NULL;
    }
    const json_t *id = json_object_get(rd, "task_id");
    if (!id || json_is_null(id)) {
        mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: missing");
        return NULL;
    }
    if (!json_is_string(id) || json_string_length(id) == 0) {
        mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: want a non-empty string");
        return NULL;
    }
    return json_string_value(id);
}

/* A name in request_data: absent (NULL, no error) or a non-empty string. */
static int opt_name(const json_t *rd, const char *key, const char **out, mcdc_err *err) {
    const json_t *v = json_object_get(rd, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) != strlen(json_string_value(v)))
        return mcdc_errf(err, MCDC_EINVAL, "request_data.%s: want a non-empty string", key);
    *out = json_string_value(v);
    return 0;
}

/* {"task_id", "collection_name", "db_name"}, each absent or a non-empty
 * string: milvus-cdc's names for a collection in its requests, as resync
 * and verify take them. Any other key is refused. */
static int task_collection_names(const json_t *rd, const char **id, const char **coll, const char **db,
                                 mcdc_err *err) {
    static const char *const keys[] = {"task_id", "collection_name", "db_name"};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rd, k, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) known |= strcmp(k, keys[i]) == 0;
        if (!known)
            return mcdc_errf(err, MCDC_EINVAL,
                             "request_data: unknown key '%s'; want task_id, collection_name and db_name", k);
    }
    return opt_name(rd, "task_id", id, err) || opt_name(rd, "collection_name", coll, err) ||
                   opt_name(rd, "db_name", db, err)
               ? -1
               : 0;
}

/* The database is "default" when not given. */
static json_t *resync(http_server *s, const json_t *rd, mcdc_err *err) {
    const char *id, *coll, *db;
    if (task_collection_names(rd, &id, &coll, &db, err)) return NULL;
    if (!id || !coll) {
        mcdc_errf(err, MCDC_EINVAL, "request_data.%s: missing", id ? "collection_name" : "task_id");
        return NULL;
    }
    if (!db) db = "default";
    if (task_manager_resync(s->tm, id, db, coll, err)) return NULL;
    /* Not the names: the manager logs them, once the task took them as a
     * collection it covers. */
    log_info("http: resync asked for task %s", id);
    return json_object();
}

/* {"task_id", "collection_name"?, "db_name"?}: without a collection, every
 * one the task covers. Starts the verify; get shows it. */
static json_t *verify(http_server *s, const json_t *rd, mcdc_err *err) {
    const char *id, *coll, *db;
    if (task_collection_names(rd, &id, &coll, &db, err)) return NULL;
    if (!id) {
        mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: missing");
        return NULL;
    }
    if (db && !coll) {
        mcdc_errf(err, MCDC_EINVAL, "request_data.db_name goes with collection_name");
        return NULL;
    }
    if (task_manager_verify(s->tm, id, db ? db : "default", coll, err)) return NULL;
    log_info("http: verify asked for task %s", id);
    return json_pack("{s:s}", "verify", "started");
}

/* A whole number of seconds in [lo, hi] under key, or def when absent. */
static int opt_seconds(const json_t *rd, const char *key, uint32_t lo, uint32_t hi, uint32_t def, uint32_t *out,
                       mcdc_err *err) {
    const json_t *v = json_object_get(rd, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return mcdc_errf(err, MCDC_EINVAL, "request_data.%s: want whole seconds from %u to %u", key, lo, hi);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

/* {"task_id", "quiet_s"?, "timeout_s"?} / {"task_id", "drain_s"?}: starts
 * the task's switchover or failover (task_handover.c); get's "handover"
 * shows how it goes and what it found. */
static json_t *handover(http_server *s, int type, const json_t *rd, mcdc_err *err) {
    bool sw = type == T_SWITCHOVER;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rd, k, v) {
        bool known = strcmp(k, "task_id") == 0 ||
                     (sw ? strcmp(k, "quiet_s") == 0 || strcmp(k, "timeout_s") == 0 : strcmp(k, "drain_s") == 0);
        if (!known) {
            mcdc_errf(err, MCDC_EINVAL, "request_data: unknown key '%s'; want task_id and %s", k,
                      sw ? "quiet_s, timeout_s" : "drain_s");
            return NULL;
        }
    }
    const char *id = NULL;
    if (opt_name(rd, "task_id", &id, err)) return NULL;
    if (!id) {
        mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: missing");
        return NULL;
    }
    uint32_t a, b = 0;
    int rc;
    if (sw)
        rc = opt_seconds(rd, "quiet_s", 1, 3600, 5, &a, err) || opt_seconds(rd, "timeout_s", 1, 86400, 120, &b, err) ||
             (b < a ? mcdc_errf(err, MCDC_EINVAL, "request_data.timeout_s: want at least quiet_s (%u)", a) : 0) ||
             task_manager_switchover(s->tm, id, a * 1000u, b * 1000u, err);
    else
        rc = opt_seconds(rd, "drain_s", 0, 3600, 30, &a, err) || task_manager_failover(s->tm, id, a * 1000u, err);
    if (rc) return NULL;
    log_info("http: %s asked for task %s", sw ? "switchover" : "failover", id);
    return json_pack("{s:s}", sw ? "switchover" : "failover", "started");
}

/* {"operation": "skip_message", "params": {"task_id", "channel", "position"}}. */
static json_t *maintenance(http_server *s, const json_t *rd, mcdc_err *err) {
    const char *op = json_string_value(json_object_get(rd, "operation"));
    const json_t *params = json_object_get(rd, "params");
    if (!op) {
        mcdc_errf(err, MCDC_EINVAL, "maintenance: 'operation' (a string) is required; known: skip_message");
        return NULL;
    }
    if (strcmp(op, "skip_message") != 0) {
        /* A value of request_data: not quoted. */
        mcdc_errf(err, MCDC_EINVAL, "maintenance: unknown operation; known: skip_message");
        return NULL;
    }
    const char *id = json_string_value(json_object_get(params, "task_id"));
    const char *channel = json_string_value(json_object_get(params, "channel"));
    const char *position = json_string_value(json_object_get(params, "position"));
    if (!id || !channel || !position) {
        mcdc_errf(err, MCDC_EINVAL, "maintenance skip_message: params.task_id, params.channel and params.position (strings) are required");
        return NULL;
    }
    if (task_manager_skip_message(s->tm, id, channel, position, err)) return NULL;
    return json_pack("{s:s, s:s}", "state", "ok", "message", "the message is skipped when the task resumes");
}

/* Runs one request; NULL with err set on failure. */
static json_t *run(http_server *s, int type, const json_t *rd, mcdc_err *err) {
    const char *id;
    switch (type) {
    case T_CREATE: {
        if (!rd) {
            mcdc_errf(err, MCDC_EINVAL, "request_data: missing; a create request needs milvus_connect_param and "
                                        "collection_infos");
            return NULL;
        }
        task_spec spec;
        if (task_spec_from_json(rd, &spec, err)) return NULL;
        char *task_id = NULL;
        if (task_manager_create(s->tm, &spec, &task_id, err)) return NULL;
        log_info("http: created task %s", task_id);
        json_t *data = json_pack("{s:s}", "task_id", task_id);
        free(task_id);
        return data;
    }
    case T_DELETE: {
        if (!(id = want_task_id(rd, true, err))) return NULL;
        const json_t *ign = json_object_get(rd, "ignore_not_found");
        if (ign && !json_is_null(ign) && !json_is_boolean(ign)) {
            mcdc_errf(err, MCDC_EINVAL, "request_data.ignore_not_found: want true or false");
            return NULL;
        }
        if (task_manager_delete(s->tm, id, err)) {
            if (err->code == MCDC_ENOTFOUND && json_is_true(ign)) return json_object();
            return NULL;
        }
        log_info("http: deleted task %s", id);
        return json_object();
    }
    case T_PAUSE:
        if (!(id = want_task_id(rd, false, err)) || task_manager_pause(s->tm, id, err)) return NULL;
        log_info("http: paused task %s", id);
        return json_object();
    case T_RESUME:
        if (!(id = want_task_id(rd, false, err)) || task_manager_resume(s->tm, id, err)) return NULL;
        log_info("http: resumed task %s", id);
        return json_object();
    case T_GET: {
        task_snapshot *snap;
        if (!(id = want_task_id(rd, false, err)) || !(snap = task_manager_get(s->tm, id, err))) return NULL;
        json_t *data = json_pack("{s:o}", "task", api_task_json(snap));
        task_snapshot_free(snap);
        return data;
    }
    case T_POSITION: {
        task_positions pos;
        if (!(id = want_task_id(rd, false, err)) || task_manager_positions(s->tm, id, &pos, err)) return NULL;
        json_t *data = api_positions_json(&pos);
        task_positions_free(&pos);
        return data;
    }
    case T_LIST: {
        if (rd && json_object_size(rd)) {
            const char *k = json_object_iter_key(json_object_iter((json_t *)rd));
            mcdc_errf(err, MCDC_EINVAL, "request_data: unknown key '%s'; a list request takes none", k);
            return NULL;
        }
        task_snapshot **list;
        size_t n = task_manager_list(s->tm, &list);
        json_t *data = json_pack("{s:o}", "tasks", api_task_list_json(list, n));
        task_snapshots_free(list, n);
        return data;
    }
    case T_MAINTENANCE: {
        if (!rd) {
            mcdc_errf(err, MCDC_EINVAL, "request_data: missing; want {\"operation\": ..., \"params\": {...}}");
            return NULL;
        }
        json_t *r = maintenance(s, rd, err);
        if (r) log_info("http: maintenance done");
        return r;
    }
    case T_RESYNC:
        if (!rd) {
            mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: missing");
            return NULL;
        }
        return resync(s, rd, err);
    case T_VERIFY:
        if (!rd) {
            mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: missing");
            return NULL;
        }
        return verify(s, rd, err);
    case T_SWITCHOVER:
    case T_FAILOVER:
        if (!rd) {
            mcdc_errf(err, MCDC_EINVAL, "request_data.task_id: missing");
            return NULL;
        }
        return handover(s, type, rd, err);
    }
    mcdc_errf(err, MCDC_EINTERNAL, "request type %d has no handler", type);
    return NULL;
}

/* ---- a task another instance runs ------------------------------------------ */

/* How long a forwarded request may take at the owner: a read answers at
 * once; a pause or delete joins the task's threads (task.h's task_stop),
 * within `mcdc task`'s own 120 s. */
#define FORWARD_READ_MS 15000
#define FORWARD_CHANGE_MS 110000

static void observe_latency(http_server *s, int type, uint64_t start_ns);

/* The task a request names, or NULL. */
static const char *task_id_of(int type, const json_t *rd) {
    if (type == T_MAINTENANCE) rd = json_object_get(rd, "params");
    return json_string_value(json_object_get(rd, "task_id"));
}

static enum MHD_Result send_unavailable(http_server *s, struct MHD_Connection *c, int type, const char *msg) {
    char shown[MCDC_ERR_MSG_MAX + 256];
    http_printable(shown, sizeof shown - 4, msg);
    count(s, type, REQ_FAIL);
    log_info("http: POST /cdc %s -> 503: %s", REQUEST_TYPES[type], shown);
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, shown, NULL, NULL);
}

/* A request whose task another instance runs (MCDC_ENOTOWNER): sent on to
 * the owner once, and its answer (status, body) goes back as it is. A
 * request that was forwarded here already is not sent on again (the owner
 * moved since the sender looked): 503, retry. No owner, or one that does
 * not answer: 503 naming it; another instance takes the task over within
 * the store's lease, so a retry succeeds. */
static enum MHD_Result forward_to_owner(http_server *s, struct MHD_Connection *c, request *q, int type,
                                        const char *id, const mcdc_err *why) {
    char msg[MCDC_ERR_MSG_MAX + 256];
    char shown_id[68];
    http_printable(shown_id, 64, id);
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, FORWARD_HEADER)) {
        snprintf(msg, sizeof msg, "owner moved, retry: this request was forwarded here as the owner of task '%s', but %s",
                 shown_id, why->msg);
        return send_unavailable(s, c, type, msg);
    }
    char *url = NULL;
    mcdc_err err;
    if (task_manager_owner(s->tm, id, &url, &err)) {
        if (err.code == MCDC_ENOTFOUND) {
            count(s, type, REQ_FAIL);
            http_printable(msg, MCDC_ERR_MSG_MAX, err.msg);
            return send_error(c, MHD_HTTP_NOT_FOUND, msg, NULL, NULL);
        }
        snprintf(msg, sizeof msg, "task '%s' is run by another mcdc instance, and the store cannot say which: %s; retry",
                 shown_id, err.msg);
        return send_unavailable(s, c, type, msg);
    }
    if (!url) {
        snprintf(msg, sizeof msg,
                 "no mcdc instance runs task '%s' right now (its owner stopped; another takes it over within the "
                 "store's lease); retry",
                 shown_id);
        return send_unavailable(s, c, type, msg);
    }
    forward_reply r;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    uint32_t timeout = type == T_GET || type == T_POSITION ? FORWARD_READ_MS : FORWARD_CHANGE_MS;
    int rc = forward_cdc(url, q->body.data, q->body.len, auth, timeout, &r, &err);
    if (rc) {
        snprintf(msg, sizeof msg, "%s; retry (if it stopped, another instance takes task '%s' over within the store's lease)",
                 err.msg, shown_id);
        free(url);
        return send_unavailable(s, c, type, msg);
    }
    char shown_url[QUOTE_MAX + 4];
    http_printable(shown_url, QUOTE_MAX, url);
    free(url);
    count(s, type, r.status == MHD_HTTP_OK ? REQ_SUCCESS : REQ_FAIL);
    if (r.status == MHD_HTTP_OK) observe_latency(s, type, q->start_ns);
    log_info("http: POST /cdc %s -> forwarded to %s, the owner of task %s: %ld", REQUEST_TYPES[type], shown_url,
             shown_id, r.status);
    enum MHD_Result ret = send_text(c, (unsigned)r.status, r.content_type[0] ? r.content_type : "application/json",
                                    r.body.data ? (const char *)r.body.data : "", r.body.len, NULL, NULL);
    forward_reply_free(&r);
    return ret;
}

static void observe_latency(http_server *s, int type, uint64_t start_ns) {
    request_metrics_observe_us(&s->requests, (size_t)type, mcdc_since_us(start_ns));
}

/* What kind of error jansson found, in words that quote nothing of the
 * body (jansson's own text does: "... near '<what was there>'"). */
static const char *json_error_words(enum json_error_code code) {
    switch (code) {
    case json_error_out_of_memory: return "out of memory while reading it";
    case json_error_stack_overflow: return "nested too deeply";
    case json_error_invalid_utf8: return "not valid UTF-8";
    case json_error_premature_end_of_input: return "it ends before the JSON value does";
    case json_error_end_of_input_expected: return "more text after the JSON value";
    case json_error_invalid_syntax: return "invalid syntax";
    case json_error_null_character: return "a NUL character";
    case json_error_null_byte_in_key: return "a NUL character in a key";
    case json_error_duplicate_key: return "a key given twice in one object";
    case json_error_numeric_overflow: return "a number out of range";
    default: return "not readable";
    }
}

static enum MHD_Result handle_cdc(http_server *s, struct MHD_Connection *c, request *q) {
    json_error_t je;
    char msg[MCDC_ERR_MSG_MAX + 64];
    if (q->body.len == 0) {
        count(s, T_UNKNOWN, REQ_UNMARSHAL_ERROR);
        return send_error(c, MHD_HTTP_BAD_REQUEST,
                          "request body: empty; want {\"request_type\": ..., \"request_data\": {...}}", NULL, NULL);
    }
    json_t *doc = json_loadb((const char *)q->body.data, q->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        count(s, T_UNKNOWN, REQ_UNMARSHAL_ERROR);
        snprintf(msg, sizeof msg, "request body: malformed JSON at line %d, column %d (byte %d): %s", je.line,
                 je.column, je.position, json_error_words(json_error_code(&je)));
        log_warn("http: POST /cdc -> 400: %s", msg);
        return send_error(c, MHD_HTTP_BAD_REQUEST, msg, NULL, NULL);
    }
    mcdc_err err = {0};
    int type = T_UNKNOWN;
    const char *k;
    json_t *v;
    const json_t *rt = json_object_get(doc, "request_type");
    const json_t *rd = json_object_get(doc, "request_data");
    if (!json_is_object(doc)) {
        mcdc_errf(&err, MCDC_EINVAL, "request body: want a JSON object {\"request_type\": ..., \"request_data\": {...}}");
        goto fail;
    }
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "request_type") != 0 && strcmp(k, "request_data") != 0) {
            mcdc_errf(&err, MCDC_EINVAL, "request body: unknown key '%s'; want request_type and request_data", k);
            goto fail;
        }
    }
    if (!rt || json_is_null(rt)) {
        mcdc_errf(&err, MCDC_EINVAL, "request_type: missing; want one of " VALID_TYPES);
        goto fail;
    }
    if (!json_is_string(rt)) {
        mcdc_errf(&err, MCDC_EINVAL, "request_type: want a string, one of " VALID_TYPES);
        goto fail;
    }
    for (int i = 0; i < N_TYPES; i++)
        if (strcmp(json_string_value(rt), REQUEST_TYPES[i]) == 0) type = i;
    if (type == T_UNKNOWN) {
        /* Cut long junk so that the message stays readable. */
        mcdc_errf(&err, MCDC_EINVAL, "request_type: unknown '%.64s'; want one of " VALID_TYPES,
                  json_string_value(rt));
        goto fail;
    }
    count(s, type, REQ_TOTAL);
    if (json_is_null(rd)) rd = NULL;
    if (rd && !json_is_object(rd)) {
        mcdc_errf(&err, MCDC_EINVAL, "request_data: want an object");
        goto fail;
    }
    json_t *data = run(s, type, rd, &err);
    if (!data && err.code == MCDC_ENOTOWNER && type != T_CREATE && type != T_LIST && task_id_of(type, rd)) {
        /* The id lives in doc: forwarded before doc goes. */
        enum MHD_Result fr = forward_to_owner(s, c, q, type, task_id_of(type, rd), &err);
        json_decref(doc);
        return fr;
    }
    if (!data) goto fail;
    json_decref(doc);
    count(s, type, REQ_SUCCESS);
    observe_latency(s, type, q->start_ns);
    log_debug("http: POST /cdc %s -> 200", REQUEST_TYPES[type]);
    return send_ok(c, data);
fail:
    json_decref(doc);
    count(s, type, REQ_FAIL);
    if (err.code == MCDC_OK) mcdc_errf(&err, MCDC_EINTERNAL, "the request failed without a reason (a bug)");
    unsigned status = status_of(err.code);
    /* A message may name a key or value of the request, which JSON lets
     * hold a newline: printable only, so no client writes a log line. */
    char shown[MCDC_ERR_MSG_MAX + 4];
    http_printable(shown, MCDC_ERR_MSG_MAX - 1, err.msg);
    const char *tname = type == T_UNKNOWN ? "?" : REQUEST_TYPES[type];
    if (status >= 500 && status != MHD_HTTP_SERVICE_UNAVAILABLE) log_error("http: POST /cdc %s -> %u: %s", tname, status, shown);
    else log_info("http: POST /cdc %s -> %u: %s", tname, status, shown);
    return send_error(c, status, shown, NULL, NULL);
}

/* ---- /metrics ------------------------------------------------------------ */

/* Moves the tasks this instance runs to the front of the list and returns
 * how many: /metrics and the lag history count those only, since each
 * instance is scraped for its own (another's figures are that one's). */
static size_t local_first(task_snapshot **list, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i]->remote) continue;
        task_snapshot *t = list[k];
        list[k++] = list[i];
        list[i] = t;
    }
    return k;
}

static enum MHD_Result handle_metrics(http_server *s, struct MHD_Connection *c) {
    mcdc_buf b = MCDC_BUF_INIT;
    metrics_write_process(&b, s->started_wall_ms);
    metrics_write_requests(&b, &s->requests);
    task_snapshot **list;
    size_t n = task_manager_list(s->tm, &list);
    size_t here = local_first(list, n);
    metrics_write_tasks(&b, list, here);
    task_snapshots_free(list, n);
    enum MHD_Result rc =
        send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.len ? (const char *)b.data : "",
                  b.len, NULL, NULL);
    mcdc_buf_free(&b);
    return rc;
}

/* ---- GET / ---------------------------------------------------------------- */

/* The status page, with the headers that keep it to itself: its own
 * script and style only (status_page_csp), never in a frame (a page of
 * another site could frame it and trick a click on Pause), never cached
 * (it is a moment's state, and may show task errors). */
static enum MHD_Result handle_page(http_server *s, struct MHD_Connection *c) {
    task_snapshot **list;
    size_t n = task_manager_list(s->tm, &list);
    lag_series *hist;
    size_t left_out = 0;
    size_t nh = lag_history_copy(s->history, &hist, &left_out);
    mcdc_buf page = MCDC_BUF_INIT, csp = MCDC_BUF_INIT;
    status_page_render(&(status_page_input){.tasks = list, .n_tasks = n, .history = hist, .n_history = nh,
                                            .history_left_out = left_out, .now_wall_ms = mcdc_now_wall_ms()},
                       &page);
    lag_history_copy_free(hist, nh);
    task_snapshots_free(list, n);
    status_page_csp(&csp);
    enum MHD_Result rc = MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(page.len, page.data, MHD_RESPMEM_MUST_COPY);
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
        MHD_add_response_header(r, "Content-Security-Policy", mcdc_buf_cstr(&csp));
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        rc = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
    }
    mcdc_buf_free(&page);
    mcdc_buf_free(&csp);
    return rc;
}

/* The sampler's view of the tasks. */
static size_t list_tasks(void *tm, task_snapshot ***out) {
    size_t n = task_manager_list(tm, out);
    size_t here = local_first(*out, n);
    for (size_t i = here; i < n; i++) task_snapshot_free((*out)[i]);
    return here;
}

/* ---- routing ------------------------------------------------------------- */

/* Compares all of both strings so that the time taken says nothing of how
 * much of a guess was right. */
static bool same_secret(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}

static bool authorized(http_server *s, struct MHD_Connection *c) {
    if (!s->token) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ') h++;
    return same_secret(h, s->token);
}

/* 421: the request names a host this server does not answer to. A page
 * that a browser loaded from a name the attacker controls (DNS rebinding)
 * reaches 127.0.0.1 with that name in Host; refusing it makes the page's
 * requests fail however the name resolves. 421 Misdirected Request, not
 * 403: the request is not forbidden to its sender, it was sent to the
 * wrong server, and a status of its own tells it apart from a bad token. */
static bool host_refused(http_server *s, struct MHD_Connection *c, const char *method, const char *url,
                         enum MHD_Result *rc) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    http_host_verdict v = http_hosts_check(&s->hosts, h);
    if (v == HTTP_HOST_OK) return false;
    char host[QUOTE_MAX + 4], msg[384];
    http_printable(host, QUOTE_MAX, h ? h : "");
    if (v == HTTP_HOST_WRONG_PORT)
        snprintf(msg, sizeof msg,
                 "Host '%s': that port is not the one mcdc listens on (%u); send Host with port %u, or add "
                 "'%s' to api_allowed_hosts when a proxy forwards it",
                 host, (unsigned)s->port, (unsigned)s->port, host);
    else if (v == HTTP_HOST_MISSING)
        snprintf(msg, sizeof msg,
                 "%s Host header%s%s%s; send the address mcdc listens on as Host (a guard against DNS rebinding)",
                 h ? "unreadable" : "no", h ? " '" : "", h ? host : "", h ? "'" : "");
    else
        snprintf(msg, sizeof msg,
                 "Host '%s' is not a name of this server (a guard against DNS rebinding); if clients reach mcdc "
                 "by that name, add it to api_allowed_hosts",
                 host);
    count(s, T_UNKNOWN, REQ_HOST_REFUSED);
    char m[QUOTE_MAX + 4], u[QUOTE_MAX + 4];
    http_printable(m, 16, method);
    http_printable(u, QUOTE_MAX, url);
    log_info("http: %s %s -> 421: %s", m, u, msg);
    *rc = send_error(c, MHD_HTTP_MISDIRECTED_REQUEST, msg, NULL, NULL);
    return true;
}

/* 415: /cdc takes JSON only. A browser sends a cross-site POST with
 * text/plain (or a form type) without asking the server first; with
 * application/json it must ask first (a CORS preflight), which this server
 * never grants. So a page cannot send a /cdc request a browser lets
 * through. */
static bool content_type_refused(http_server *s, struct MHD_Connection *c, enum MHD_Result *rc) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (http_is_json_type(ct)) return false;
    char got[QUOTE_MAX + 4], msg[320];
    if (ct) {
        http_printable(got, QUOTE_MAX, ct);
        snprintf(msg, sizeof msg,
                 "Content-Type '%s' is not accepted on /cdc; send the JSON body with Content-Type: application/json "
                 "(curl -H 'Content-Type: application/json')",
                 got);
    } else
        snprintf(msg, sizeof msg,
                 "Content-Type missing on /cdc; send the JSON body with Content-Type: application/json "
                 "(curl -H 'Content-Type: application/json')");
    count(s, T_UNKNOWN, REQ_CONTENT_TYPE_REFUSED);
    log_info("http: POST /cdc -> 415: %s", msg);
    *rc = send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg, NULL, NULL);
    return true;
}

/* Decides on the first call, before any of the body is read: a foreign
 * Host, unknown path, wrong method, no token, not JSON and a declared body
 * over the limit are all answered without reading the body. GET /healthz
 * is answered whatever the Host and token: load balancers probe it by
 * address, and it tells nothing. Returns true when a reply was queued. */
static bool early_reply(http_server *s, struct MHD_Connection *c, request *q, const char *url, const char *method,
                        enum MHD_Result *rc) {
    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    char msg[256];
    /* The path as libmicrohttpd decoded it (%0a is a newline) and the
     * method, as they may be shown in a reply or the log. */
    char m[QUOTE_MAX + 4], u[QUOTE_MAX + 4];
    http_printable(m, 16, method);
    http_printable(u, QUOTE_MAX, url);
    if (!(is_get && strcmp(url, "/healthz") == 0) && host_refused(s, c, method, url, rc)) return true;
    if (strcmp(url, "/cdc") == 0) {
        q->route = ROUTE_CDC;
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
            count(s, T_UNKNOWN, REQ_INVALID_METHOD);
            snprintf(msg, sizeof msg, "method %s not allowed on /cdc; only POST", m);
            *rc = send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, msg, MHD_HTTP_HEADER_ALLOW, "POST");
            return true;
        }
    } else if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0 || strcmp(url, "/") == 0) {
        q->route = url[1] == 'h' ? ROUTE_HEALTHZ : url[1] == 'm' ? ROUTE_METRICS : ROUTE_PAGE;
        if (!is_get) {
            snprintf(msg, sizeof msg, "method %s not allowed on %s; only GET", m, url);
            *rc = send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, msg, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
            return true;
        }
    } else {
        snprintf(msg, sizeof msg, "no such path '%s'; the API is POST /cdc, GET /healthz, GET /metrics, GET / (status page)",
                 u);
        *rc = send_error(c, MHD_HTTP_NOT_FOUND, msg, NULL, NULL);
        return true;
    }
    if (q->route != ROUTE_HEALTHZ && !authorized(s, c)) {
        count(s, T_UNKNOWN, REQ_UNAUTHORIZED);
        log_info("http: %s %s -> 401", m, u);
        *rc = send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong token; send Authorization: Bearer <api_token>",
                         MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mcdc\"");
        return true;
    }
    if (q->route == ROUTE_CDC) {
        if (content_type_refused(s, c, rc)) return true;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == 0 && *end == '\0' && n > s->max_body) {
                count(s, T_UNKNOWN, REQ_TOO_LARGE);
                snprintf(msg, sizeof msg, "request body: %llu bytes is over the limit of %zu (max_body_bytes)", n,
                         s->max_body);
                log_info("http: POST /cdc -> 413: %s", msg);
                *rc = send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg, MHD_HTTP_HEADER_CONNECTION, "close");
                return true;
            }
        }
    }
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    http_server *s = cls;
    request *q = *con_cls;
    if (!q) {
        q = mcdc_xcalloc(1, sizeof *q);
        q->start_ns = mcdc_now_mono_ns();
        *con_cls = q;
        enum MHD_Result rc = MHD_YES;
        if (early_reply(s, c, q, url, method, &rc)) {
            http_conns_request_in(s->conns, c);
            q->replied = true;
            return rc;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (q->replied) return MHD_YES;
        if (q->too_large || q->body.len + n > s->max_body) {
            /* A chunked body has no length up front, and libmicrohttpd takes
             * a reply only once the body is in: drop what comes and answer
             * 413 at its end, but cut off a client that keeps sending. */
            if (!q->too_large) mcdc_buf_free(&q->body);
            q->too_large = true;
            q->dropped += n;
            if (q->dropped / DROP_FACTOR > s->max_body) {
                log_info("http: POST /cdc: closed a connection whose body passed %zu bytes", q->dropped);
                return MHD_NO;
            }
            return MHD_YES;
        }
        mcdc_buf_append(&q->body, upload_data, n);
        return MHD_YES;
    }
    if (q->replied) return MHD_YES;
    q->replied = true;
    http_conns_request_in(s->conns, c);
    if (q->too_large) {
        char msg[160];
        count(s, T_UNKNOWN, REQ_TOO_LARGE);
        snprintf(msg, sizeof msg, "request body: over the limit of %zu bytes (max_body_bytes)", s->max_body);
        log_info("http: POST /cdc -> 413: %s", msg);
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL, NULL);
    }
    switch (q->route) {
    case ROUTE_HEALTHZ: return send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3, NULL, NULL);
    case ROUTE_METRICS: return handle_metrics(s, c);
    case ROUTE_PAGE: return handle_page(s, c);
    case ROUTE_CDC: return handle_cdc(s, c, q);
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)toe;
    http_server *s = cls;
    http_conns_request_done(s->conns, c);
    request *q = *con_cls;
    if (!q) return;
    mcdc_buf_free(&q->body);
    free(q);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    log_warn("http: %s", line);
}

/* ---- start and stop ------------------------------------------------------ */

static int resolve(const char *address, uint16_t port, struct addrinfo **ai, mcdc_err *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    int gai = getaddrinfo(address, service, &hints, ai);
    if (gai != 0) return mcdc_errf(err, MCDC_EINVAL, "listen address '%s': %s", address, gai_strerror(gai));
    return 0;
}

/* Binds here rather than in libmicrohttpd so that a failure says why. */
static int listen_socket(const char *address, uint16_t port, uint16_t *bound, bool *v6, mcdc_err *err) {
    struct addrinfo *ai = NULL;
    if (resolve(address, port, &ai, err)) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return mcdc_errf(err, MCDC_EIO, "listen %s:%u: socket: %s", address, (unsigned)port, strerror(errno));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    *v6 = ai->ai_family == AF_INET6;
    /* The kernel's queue of connections not yet accepted: as many as the
     * server may hold, so that a burst waits rather than being refused. */
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 256) != 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(ai);
        return mcdc_errf(err, MCDC_EIO, "listen %s:%u: %s", address, (unsigned)port, strerror(e));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static const char *address_of(const http_config *cfg) {
    return cfg->address && cfg->address[0] ? cfg->address : HTTP_DEFAULT_ADDRESS;
}

static bool has(const char *s) { return s && s[0]; }

int http_config_check(const http_config *cfg, mcdc_err *err) {
    const char *address = address_of(cfg);
    if (has(cfg->tls_cert_file) != has(cfg->tls_key_file))
        return mcdc_errf(err, MCDC_EINVAL, "api_tls_cert_file and api_tls_key_file go together: %s is set, %s is not",
                         has(cfg->tls_cert_file) ? "api_tls_cert_file" : "api_tls_key_file",
                         has(cfg->tls_cert_file) ? "api_tls_key_file" : "api_tls_cert_file");
    for (size_t i = 0; i < cfg->n_allowed_hosts; i++) {
        mcdc_err why;
        if (http_host_entry_check(cfg->allowed_hosts[i], &why)) {
            char entry[QUOTE_MAX + 4];
            http_printable(entry, QUOTE_MAX, cfg->allowed_hosts[i]);
            return mcdc_errf(err, MCDC_EINVAL, "api_allowed_hosts[%zu] '%s': %s", i, entry, why.msg);
        }
    }
    http_addr_kind kind = http_addr_kind_of_text(address);
    if (kind != HTTP_ADDR_LOOPBACK && !has(cfg->api_token))
        return mcdc_errf(err, MCDC_EINVAL,
                         "listen %s is beyond loopback and api_token is empty: anyone who reaches the port could "
                         "create and delete tasks; set api_token (clients then send Authorization: Bearer "
                         "<api_token>), or listen on 127.0.0.1",
                         address);
    if (kind == HTTP_ADDR_WILDCARD && cfg->n_allowed_hosts == 0)
        return mcdc_errf(err, MCDC_EINVAL,
                         "listen %s serves every interface, so no single name can be checked against a request's "
                         "Host header: set api_allowed_hosts to the names clients use to reach mcdc, or [\"*\"] when "
                         "a proxy in front of mcdc checks Host itself",
                         address);
    return 0;
}

/* A PEM file for libmicrohttpd, NUL-terminated; the key file passes the
 * rule for files that hold secrets first. */
static int read_pem(const char *path, const char *key, bool secret, mcdc_buf *out, mcdc_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mcdc_errf(err, MCDC_EIO, "%s %s: cannot open: %s", key, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mcdc_errf(err, MCDC_EIO, "%s %s: %s", key, path, strerror(e));
    }
    mcdc_err why;
    if (secret && mcdc_secret_file_check(path, st.st_mode, "the API's TLS private key", &why)) {
        close(fd);
        return mcdc_errf(err, why.code, "%s %s", key, why.msg);
    }
    /* Room for the whole file first: a buffer that grew while reading would
     * leave a copy of the key in freed memory, unwiped. */
    mcdc_buf_reserve(out, (size_t)st.st_size + 1);
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            mcdc_secret_wipe(chunk, sizeof chunk);
            return mcdc_errf(err, MCDC_EIO, "%s %s: cannot read: %s", key, path, strerror(e));
        }
        if (n == 0) break;
        mcdc_buf_append(out, chunk, (size_t)n);
    }
    close(fd);
    mcdc_secret_wipe(chunk, sizeof chunk);
    if (out->len == 0 || !strstr(mcdc_buf_cstr(out), "-----BEGIN "))
        return mcdc_errf(err, MCDC_EINVAL, "%s %s: not a PEM file (no -----BEGIN line)", key, path);
    return 0;
}

static void free_server(http_server *s) {
    lag_sampler_stop(s->sampler);
    lag_history_free(s->history);
    http_conns_stop(s->conns);
    http_hosts_free(&s->hosts);
    if (s->token) mcdc_secret_wipe(s->token, strlen(s->token));
    free(s->token);
    free(s);
    forward_global_cleanup();
}

http_server *http_start(const http_config *cfg, task_manager *tm, mcdc_err *err) {
    if (http_config_check(cfg, err)) return NULL;
    const char *address = address_of(cfg);
    bool tls = has(cfg->tls_cert_file);
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        mcdc_errf(err, MCDC_EINVAL, "api_tls_cert_file: this build of libmicrohttpd has no TLS");
        return NULL;
    }
    mcdc_buf cert = MCDC_BUF_INIT, key = MCDC_BUF_INIT;
    if (tls && (read_pem(cfg->tls_cert_file, "api_tls_cert_file", false, &cert, err) ||
                read_pem(cfg->tls_key_file, "api_tls_key_file", true, &key, err))) {
        mcdc_buf_free(&cert);
        mcdc_secret_wipe(key.data, key.len);
        mcdc_buf_free(&key);
        return NULL;
    }
    http_server *s = mcdc_xcalloc(1, sizeof *s);
    forward_global_init();
    s->tm = tm;
    s->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : HTTP_DEFAULT_MAX_BODY;
    if (has(cfg->api_token)) s->token = mcdc_xstrdup(cfg->api_token);
    s->started_wall_ms = mcdc_now_wall_ms();
    request_metrics_init(&s->requests, REQUEST_TYPES, N_TYPES);
    unsigned max_conns = cfg->max_connections ? cfg->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;
    unsigned per_client =
        cfg->max_connections_per_client ? cfg->max_connections_per_client : HTTP_DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
    unsigned header_ms = cfg->header_timeout_ms ? cfg->header_timeout_ms : HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    bool v6 = false;
    int fd = listen_socket(address, cfg->port, &s->port, &v6, err);
    if (fd < 0) goto fail;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (http_hosts_init(&s->hosts, address, http_addr_kind_of((struct sockaddr *)&ss) == HTTP_ADDR_LOOPBACK,
                        cfg->allowed_hosts, cfg->n_allowed_hosts, s->port, err)) {
        close(fd);
        goto fail;
    }
    if (!(s->conns = http_conns_start(header_ms))) {
        mcdc_errf(err, MCDC_EIO, "listen %s:%u: cannot start a thread", address, (unsigned)s->port);
        close(fd);
        goto fail;
    }
    s->history = lag_history_new();
    if (!(s->sampler = lag_sampler_start(s->history, list_tasks, tm, 0, err))) {
        close(fd);
        goto fail;
    }
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls ? (void *)mcdc_buf_cstr(&cert) : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls ? (void *)mcdc_buf_cstr(&key) : NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, s->conns,
                                 MHD_OPTION_CONNECTION_LIMIT, max_conns,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_client,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                                 MHD_OPTION_ARRAY, tls_opts,
                                 MHD_OPTION_END);
    /* libmicrohttpd handed both to GnuTLS at start, which keeps its own copy. */
    mcdc_buf_free(&cert);
    mcdc_secret_wipe(key.data, key.len);
    mcdc_buf_free(&key);
    if (!s->daemon) {
        /* fd is not closed here: libmicrohttpd 0.9.75 closes a listen socket
         * it was given on some failures (TLS set-up) and not on others, and
         * a second close could hit a descriptor another thread has opened
         * since. At worst one descriptor leaks, on a path that ends
         * `mcdc serve`. */
        mcdc_errf(err, MCDC_EIO, "listen %s:%u: the HTTP server did not start%s", address, (unsigned)s->port,
                  tls ? " (are api_tls_cert_file and api_tls_key_file a PEM certificate and its key?)" : "");
        goto fail;
    }
    log_info("http: listening on %s://%s%s%s:%u (%sat most %u connections, %u per client, headers within %u ms)",
             tls ? "https" : "http", v6 ? "[" : "", address, v6 ? "]" : "", (unsigned)s->port,
             s->token ? "bearer token required; " : "", max_conns, per_client, header_ms);
    return s;
fail:
    mcdc_buf_free(&cert);
    mcdc_secret_wipe(key.data, key.len);
    mcdc_buf_free(&key);
    free_server(s);
    return NULL;
}

uint16_t http_port(const http_server *s) { return s->port; }

void http_stop(http_server *s) {
    if (!s) return;
    /* Closes every connection (each CLOSED notification leaves
     * http_conns's list) before the deadline's thread stops. */
    MHD_stop_daemon(s->daemon);
    free_server(s);
}
