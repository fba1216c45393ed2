/* task_spec.c — parses and validates the create request of a task, prints it
 * back (with or without secrets), and answers the questions the pipeline
 * asks of it: does the task cover this source collection, does it want the
 * collection's rows copied first, and what is it called on the target. See task_spec.h for the JSON it reads. */
#include "pipeline/task_spec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/secret.h"

#define DEFAULT_DB "default"
#define DEFAULT_PORT 19530
#define DEFAULT_CONNECT_TIMEOUT_S 10
#define MAX_CONNECT_TIMEOUT_S 3600
/* Milvus's own limit (proxy.maxNameLength): a longer name could never exist. */
#define MAX_NAME_LEN 255
#define MAX_TASK_ID_LEN 64
#define PATH_CAP 512
#define SECRET_MASK "***"

static const char *const TOP_KEYS[] = {"task_id", "milvus_connect_param", "collection_infos", "db_collections",
                                       "name_mapping", "positions", "disable_auto_start", NULL};
/* milvus-cdc keys that do not change what mcdc does; clients send them. */
static const char *const TOP_IGNORED[] = {"kafka_connect_param", "rpc_channel_info", "extra_info", "buffer_config",
                                          NULL};
static const char *const CONNECT_KEYS[] = {"uri",           "token",           "host",          "port",
                                           "enable_tls",    "username",        "password",      "connect_timeout",
                                           "ignore_partition", "dial_config",  "password_file", "password_env",
                                           "token_file",    "token_env",       NULL};
/* channel_num tells milvus-cdc how many channels the target has for its raw
 * message forwarding; mcdc writes through the normal API and needs none. */
static const char *const CONNECT_IGNORED[] = {"channel_num", NULL};
static const char *const COLL_KEYS[] = {"name", "positions", "use_start_position", "snapshot", NULL};
static const char *const MAP_KEYS[] = {"source_db", "target_db", "collection_mapping", NULL};

/* ---- key paths, so every error names where it is ------------------------- */

/* Paths are cut at PATH_CAP: a message about a 1000-character key need not
 * repeat all of it. */
static void path_join(char *dst, const char *parent, const char *sep, const char *tail) {
    size_t n = 0;
    const char *parts[3] = {parent, sep, tail};
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n + 1 < PATH_CAP; p++) dst[n++] = *p;
    dst[n] = '\0';
}

static void path_key(char *dst, const char *parent, const char *key) {
    path_join(dst, parent, parent[0] ? "." : "", key);
}

static void path_index(char *dst, const char *parent, size_t i) {
    char idx[32];
    snprintf(idx, sizeof idx, "[%zu]", i);
    path_join(dst, parent, "", idx);
}

static int bad(mcdc_err *err, const char *path, const char *what) {
    return mcdc_errf(err, MCDC_EINVAL, "%s: %s", path[0] ? path : "request_data", what);
}

static bool in_list(const char *const *list, const char *s) {
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0) return true;
    return false;
}

static int check_keys(const json_t *obj, const char *path, const char *const *known, const char *const *ignored,
                      mcdc_err *err) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (in_list(known, k) || in_list(ignored, k)) continue;
        mcdc_buf b = MCDC_BUF_INIT;
        mcdc_buf_printf(&b, "unknown key '%s'; want one of ", k);
        for (const char *const *p = known; *p; p++) mcdc_buf_printf(&b, "%s%s", p == known ? "" : ", ", *p);
        bad(err, path, mcdc_buf_cstr(&b));
        mcdc_buf_free(&b);
        return -1;
    }
    return 0;
}

/* A JSON null means "not given", as it does for milvus-cdc's Go decoder. */
static const json_t *field(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* *out stays NULL when absent or empty. */
static int get_string(const json_t *obj, const char *parent, const char *key, char **out, mcdc_err *err) {
    const json_t *v = field(obj, key);
    if (!v) return 0;
    char path[PATH_CAP];
    path_key(path, parent, key);
    if (!json_is_string(v)) return bad(err, path, "want a string");
    if (json_string_length(v) != strlen(json_string_value(v))) return bad(err, path, "holds a NUL character");
    if (json_string_length(v) > 0) *out = mcdc_xstrdup(json_string_value(v));
    return 0;
}

static int get_bool(const json_t *obj, const char *parent, const char *key, bool *out, mcdc_err *err) {
    const json_t *v = field(obj, key);
    if (!v) return 0;
    char path[PATH_CAP];
    path_key(path, parent, key);
    if (!json_is_boolean(v)) return bad(err, path, "want true or false");
    *out = json_is_true(v);
    return 0;
}

static int get_int(const json_t *obj, const char *parent, const char *key, json_int_t lo, json_int_t hi,
                   json_int_t *out, bool *given, mcdc_err *err) {
    const json_t *v = field(obj, key);
    *given = v != NULL;
    if (!v) return 0;
    char path[PATH_CAP], what[128];
    path_key(path, parent, key);
    snprintf(what, sizeof what, "want an integer from %lld to %lld", (long long)lo, (long long)hi);
    if (!json_is_integer(v)) return bad(err, path, what);
    json_int_t n = json_integer_value(v);
    if (n < lo || n > hi) return bad(err, path, what);
    *out = n;
    return 0;
}

/* A name of a database or collection: what Milvus could hold. */
static int check_name(const char *s, const char *path, mcdc_err *err) {
    if (!s || !s[0]) return bad(err, path, "want a non-empty string");
    if (strlen(s) > MAX_NAME_LEN) return bad(err, path, "longer than 255 characters");
    return 0;
}

/* ---- secrets named by reference ------------------------------------------- */

static const char *ref_key(char *dst, const char *field, const char *form) {
    snprintf(dst, PATH_CAP, "milvus_connect_param.%s%s", field, form);
    return dst;
}

/* At most one of field, field_file and field_env: with two, which one
 * counts would be a rule the user cannot see. Then the references' syntax;
 * whether the file exists and may be read is the connection's to check
 * (task_target_milvus_config), with the config's secrets_dir. */
static int check_secret_forms(const char *field, bool value, const task_secret_ref *r, mcdc_err *err) {
    const char *forms[3];
    size_t n = 0;
    if (value) forms[n++] = "";
    if (r->file) forms[n++] = "_file";
    if (r->env) forms[n++] = "_env";
    if (n > 1)
        return mcdc_errf(err, MCDC_EINVAL, "milvus_connect_param: give one of %s, %s_file and %s_env, not %s%s and %s%s",
                         field, field, field, field, forms[0], field, forms[1]);
    char path[PATH_CAP];
    if (r->file && !mcdc_secret_file_name_ok(r->file))
        return bad(err, ref_key(path, field, "_file"),
                   "want a file name relative to the config's secrets_dir, without '..' (no absolute path)");
    if (r->env && !mcdc_secret_env_name_ok(r->env))
        return bad(err, ref_key(path, field, "_env"),
                   "want a variable named " MCDC_SECRET_ENV_PREFIX "*; mcdc reads no other variable on request");
    return 0;
}

static void free_ref(task_secret_ref *r) {
    free(r->file);
    free(r->env);
    memset(r, 0, sizeof *r);
}

/* ---- target address ------------------------------------------------------ */

/* Parses "host[:port]" or "[v6][:port]" with an optional trailing '/'. */
static int parse_hostport(const char *s, const char *path, int default_port, char **address, mcdc_err *err) {
    size_t len = strlen(s);
    if (len && s[len - 1] == '/') len--;
    if (memchr(s, '@', len)) return bad(err, path, "credentials belong in token, not in the address");
    if (memchr(s, '/', len))
        return bad(err, path, "a path is not supported (databases are chosen with db_collections)");
    mcdc_addr a;
    if (mcdc_addr_parse(s, len, MCDC_ADDR_PORT_OPTIONAL, (uint16_t)default_port, &a, err)) {
        mcdc_err_prefix(err, "%s", path[0] ? path : "request_data");
        return -1;
    }
    char text[sizeof a.host + 16];
    mcdc_addr_format(&a, text, sizeof text);
    *address = mcdc_xstrdup(text);
    return 0;
}

/* uri: http://h:p, https://h:p (TLS), tcp://h:p or h:p. *tls is set only by https. */
static int parse_uri(const char *uri, const char *path, char **address, bool *tls, mcdc_err *err) {
    static const struct { const char *prefix; bool tls; } SCHEMES[] = {
        {"http://", false}, {"https://", true}, {"tcp://", false}};
    const char *rest = uri;
    for (size_t i = 0; i < sizeof SCHEMES / sizeof SCHEMES[0]; i++) {
        size_t n = strlen(SCHEMES[i].prefix);
        if (strncasecmp(uri, SCHEMES[i].prefix, n) == 0) {
            rest = uri + n;
            if (SCHEMES[i].tls) *tls = true;
            break;
        }
    }
    if (rest == uri && strstr(uri, "://")) return bad(err, path, "want http://, https:// or tcp:// (or host:port)");
    return parse_hostport(rest, path, DEFAULT_PORT, address, err);
}

static int parse_target(const json_t *p, task_target *t, mcdc_err *err) {
    const char *P = "milvus_connect_param";
    if (!p) return bad(err, P, "missing; want {\"uri\": \"http://host:19530\", \"token\": \"user:password\"}");
    if (!json_is_object(p)) return bad(err, P, "want an object");
    if (check_keys(p, P, CONNECT_KEYS, CONNECT_IGNORED, err)) return -1;
    char path[PATH_CAP];
    const json_t *dial = field(p, "dial_config");
    if (dial && !(json_is_object(dial) && json_object_size(dial) == 0)) {
        path_key(path, P, "dial_config");
        return bad(err, path, "custom TLS certificates are not supported yet; use an https:// uri with a "
                              "certificate the system trusts");
    }

    char *uri = NULL, *host = NULL, *token = NULL;
    size_t token_len = 0; /* before a ':' cuts it: what to clear on the way out */
    json_int_t port = 0, timeout = 0;
    bool port_given = false, timeout_given = false, enable_tls = false;
    int rc = -1;
    if (get_string(p, P, "uri", &uri, err) || get_string(p, P, "host", &host, err) ||
        get_string(p, P, "token", &token, err) || get_string(p, P, "username", &t->username, err) ||
        get_string(p, P, "password", &t->password, err) ||
        get_string(p, P, "password_file", &t->password_ref.file, err) ||
        get_string(p, P, "password_env", &t->password_ref.env, err) ||
        get_string(p, P, "token_file", &t->token_ref.file, err) || get_string(p, P, "token_env", &t->token_ref.env, err) ||
        get_int(p, P, "port", 1, 65535, &port, &port_given, err) ||
        get_int(p, P, "connect_timeout", 0, MAX_CONNECT_TIMEOUT_S, &timeout, &timeout_given, err) ||
        get_bool(p, P, "enable_tls", &enable_tls, err) || get_bool(p, P, "ignore_partition", &t->ignore_partition, err)) {
        token_len = token ? strlen(token) : 0;
        goto out;
    }
    token_len = token ? strlen(token) : 0;

    /* milvus-cdc also takes a scheme in host; uri wins over host/port. */
    if (!uri && host && strstr(host, "://")) {
        uri = host;
        host = NULL;
    }
    if (uri) {
        path_key(path, P, "uri");
        if (parse_uri(uri, path, &t->address, &t->tls, err)) goto out;
    } else if (host) {
        path_key(path, P, "host");
        if (strchr(host, ':') || strchr(host, '/'))
            goto bad_host;
        if (parse_hostport(host, path, port_given ? (int)port : DEFAULT_PORT, &t->address, err)) goto out;
    } else if (port_given) {
        path_key(path, P, "host");
        bad(err, path, "missing; port needs a host (or give uri)");
        goto out;
    } else {
        bad(err, P, "no target address; give uri (\"http://host:19530\") or host and port");
        goto out;
    }
    if (enable_tls) t->tls = true;

    if (check_secret_forms("password", t->password != NULL, &t->password_ref, err) ||
        check_secret_forms("token", token != NULL, &t->token_ref, err))
        goto out;
    bool token_given = token || t->token_ref.file || t->token_ref.env;
    /* As in milvus-cdc, a token wins over username/password. */
    if (token_given) {
        mcdc_secret_free(t->username);
        mcdc_secret_free(t->password);
        t->username = t->password = NULL;
        free_ref(&t->password_ref);
    }
    if (token) {
        char *colon = strchr(token, ':');
        if (colon) {
            *colon = '\0';
            if (token[0]) t->username = mcdc_xstrdup(token);
            if (colon[1]) t->password = mcdc_xstrdup(colon + 1);
            if (!t->username || !t->password) {
                /* An empty password is a missing one, as with username/password:
                 * stored without it, the task would not load again. */
                path_key(path, P, "token");
                bad(err, path, t->username ? "want \"user:password\" or an API key; the password is empty"
                                           : "want \"user:password\" or an API key; the user is empty");
                goto out;
            }
        } else {
            t->api_key = token;
            token = NULL;
        }
    } else if (!token_given && !t->username != !(t->password || t->password_ref.file || t->password_ref.env)) {
        path_key(path, P, t->username ? "password" : "username");
        bad(err, path, "missing; username and password go together");
        goto out;
    }
    t->connect_timeout_s = timeout_given && timeout > 0 ? (int)timeout : DEFAULT_CONNECT_TIMEOUT_S;
    rc = 0;
    goto out;
bad_host:
    bad(err, path, "want a host name or IP address (the port goes in port)");
out:
    free(uri);
    free(host);
    if (token) {
        /* The token is a secret: do not leave it in freed memory (a ':' cut
         * it in two above, so clear past the first NUL too). */
        mcdc_secret_wipe(token, token_len);
        free(token);
    }
    return rc;
}

/* ---- collections --------------------------------------------------------- */

static int parse_kv_object(const json_t *obj, const char *path, bool value_is_name, task_kv **out, size_t *n,
                           mcdc_err *err) {
    if (!json_is_object(obj)) return bad(err, path, "want an object");
    *out = mcdc_xcalloc(json_object_size(obj) ? json_object_size(obj) : 1, sizeof **out);
    *n = 0;
    const char *k;
    json_t *v;
    char kpath[PATH_CAP];
    json_object_foreach((json_t *)obj, k, v) {
        path_key(kpath, path, k);
        if (!k[0]) return bad(err, path, "an empty key");
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) != strlen(json_string_value(v)))
            return bad(err, kpath, "want a non-empty string");
        if (value_is_name && check_name(json_string_value(v), kpath, err)) return -1;
        (*out)[*n].key = mcdc_xstrdup(k);
        (*out)[*n].value = mcdc_xstrdup(json_string_value(v));
        (*n)++;
    }
    return 0;
}

static int parse_collection(const json_t *c, const char *path, const char *db, task_collection *out, mcdc_err *err) {
    if (!json_is_object(c)) return bad(err, path, "want an object like {\"name\": \"coll\"}");
    if (check_keys(c, path, COLL_KEYS, NULL, err)) return -1;
    out->db = mcdc_xstrdup(db);
    char npath[PATH_CAP];
    path_key(npath, path, "name");
    const json_t *name = field(c, "name");
    if (!name) return bad(err, npath, "missing; want a collection name or \"*\"");
    if (!json_is_string(name)) return bad(err, npath, "want a string");
    if (check_name(json_string_value(name), npath, err)) return -1;
    out->name = mcdc_xstrdup(json_string_value(name));
    if (get_bool(c, path, "use_start_position", &out->use_start_position, err)) return -1;
    if (get_bool(c, path, "snapshot", &out->snapshot, err)) return -1;
    const json_t *pos = field(c, "positions");
    if (pos) {
        char ppath[PATH_CAP];
        path_key(ppath, path, "positions");
        if (parse_kv_object(pos, ppath, false, &out->positions, &out->n_positions, err)) return -1;
        /* A position belongs to one collection's channel; "*" names none. */
        if (out->n_positions && strcmp(out->name, "*") == 0)
            return bad(err, ppath, "not allowed with the collection name \"*\"");
    }
    return 0;
}

static int parse_collection_list(const json_t *list, const char *path, const char *db, task_spec *s,
                                 mcdc_err *err) {
    if (!json_is_array(list)) return bad(err, path, "want an array like [{\"name\": \"coll\"}]");
    if (json_array_size(list) == 0) return bad(err, path, "empty; want at least one collection");
    size_t i;
    json_t *c;
    char cpath[PATH_CAP];
    json_array_foreach(list, i, c) {
        path_index(cpath, path, i);
        s->collections = mcdc_xrealloc(s->collections, (s->n_collections + 1) * sizeof *s->collections);
        task_collection *tc = &s->collections[s->n_collections++];
        memset(tc, 0, sizeof *tc);
        if (parse_collection(c, cpath, db, tc, err)) return -1;
    }
    return 0;
}

/* The same collection twice would carry two sets of positions and options;
 * "*" next to a name in one database would too. Refused, as milvus-cdc does. */
static int check_duplicates(const task_spec *s, mcdc_err *err) {
    for (size_t i = 0; i < s->n_collections; i++) {
        const task_collection *a = &s->collections[i];
        for (size_t j = 0; j < i; j++) {
            const task_collection *b = &s->collections[j];
            if (strcmp(a->db, b->db) != 0) continue;
            if (strcmp(a->name, b->name) == 0)
                return mcdc_errf(err, MCDC_EINVAL, "collections: '%s' in database '%s' is listed twice", a->name,
                                 a->db);
            if (strcmp(a->name, "*") == 0 || strcmp(b->name, "*") == 0)
                return mcdc_errf(err, MCDC_EINVAL,
                                 "collections: database '%s' lists \"*\" and '%s'; \"*\" must be its only entry",
                                 a->db, strcmp(a->name, "*") == 0 ? b->name : a->name);
        }
    }
    return 0;
}

static int parse_mappings(const json_t *list, task_spec *s, mcdc_err *err) {
    const char *P = "name_mapping";
    if (!json_is_array(list)) return bad(err, P, "want an array of {\"source_db\", \"target_db\", \"collection_mapping\"}");
    s->mappings = mcdc_xcalloc(json_array_size(list) ? json_array_size(list) : 1, sizeof *s->mappings);
    size_t i;
    json_t *m;
    char mpath[PATH_CAP], kpath[PATH_CAP];
    json_array_foreach(list, i, m) {
        path_index(mpath, P, i);
        if (!json_is_object(m)) return bad(err, mpath, "want an object");
        if (check_keys(m, mpath, MAP_KEYS, NULL, err)) return -1;
        task_name_map *nm = &s->mappings[s->n_mappings++];
        if (get_string(m, mpath, "source_db", &nm->source_db, err) ||
            get_string(m, mpath, "target_db", &nm->target_db, err))
            return -1;
        path_key(kpath, mpath, "source_db");
        if (check_name(nm->source_db, kpath, err)) return -1;
        path_key(kpath, mpath, "target_db");
        if (check_name(nm->target_db, kpath, err)) return -1;
        for (size_t j = 0; j + 1 < s->n_mappings; j++)
            if (strcmp(s->mappings[j].source_db, nm->source_db) == 0) {
                path_key(kpath, mpath, "source_db");
                return mcdc_errf(err, MCDC_EINVAL, "%s: '%s' is mapped twice (see name_mapping[%zu])", kpath,
                                 nm->source_db, j);
            }
        const json_t *cm = field(m, "collection_mapping");
        if (!cm) continue;
        path_key(kpath, mpath, "collection_mapping");
        if (parse_kv_object(cm, kpath, true, &nm->collections, &nm->n_collections, err)) return -1;
        for (size_t a = 0; a < nm->n_collections; a++) {
            char cpath[PATH_CAP];
            path_key(cpath, kpath, nm->collections[a].key);
            if (check_name(nm->collections[a].key, cpath, err)) return -1;
            /* Two sources into one target would mix their rows. */
            for (size_t b = 0; b < a; b++)
                if (strcmp(nm->collections[a].value, nm->collections[b].value) == 0)
                    return mcdc_errf(err, MCDC_EINVAL, "%s: '%s' and '%s' both map to '%s'", kpath,
                                     nm->collections[b].key, nm->collections[a].key, nm->collections[a].value);
        }
    }
    return 0;
}

/* ---- task id ------------------------------------------------------------- */

/* 32 random hex digits: milvus-cdc's UUID without its dashes. */
static int generate_id(char **out, mcdc_err *err) {
    unsigned char r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mcdc_errf(err, MCDC_EIO, "task_id: cannot open /dev/urandom: %s", strerror(errno));
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = read(fd, r + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            return mcdc_errf(err, MCDC_EIO, "task_id: cannot read /dev/urandom");
        }
        got += (size_t)n;
    }
    close(fd);
    static const char hex[] = "0123456789abcdef";
    char *id = mcdc_xmalloc(2 * sizeof r + 1);
    for (size_t i = 0; i < sizeof r; i++) {
        id[2 * i] = hex[r[i] >> 4];
        id[2 * i + 1] = hex[r[i] & 15];
    }
    id[2 * sizeof r] = '\0';
    *out = id;
    return 0;
}

static int parse_task_id(const json_t *req, task_spec *s, mcdc_err *err) {
    if (get_string(req, "", "task_id", &s->id, err)) return -1;
    if (!s->id) return generate_id(&s->id, err);
    size_t n = strlen(s->id);
    bool ok = n <= MAX_TASK_ID_LEN;
    for (size_t i = 0; ok && i < n; i++) {
        char c = s->id[i];
        ok = isalnum((unsigned char)c) || c == '_' || c == '-';
    }
    if (!ok) return bad(err, "task_id", "want 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'");
    return 0;
}

/* ---- the whole request --------------------------------------------------- */

int task_spec_from_json(const json_t *req, task_spec *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(req)) {
        mcdc_errf(err, MCDC_EINVAL, "request_data: want an object");
        return -1;
    }
    task_spec *s = out;
    if (check_keys(req, "", TOP_KEYS, TOP_IGNORED, err)) goto fail;
    /* A Kafka target is a different product (milvus-cdc's); ignoring the key
     * would quietly replicate somewhere the user did not ask for. */
    const json_t *kafka = field(req, "kafka_connect_param");
    if (kafka) {
        const json_t *addr = json_is_object(kafka) ? json_object_get(kafka, "address") : NULL;
        if (!json_is_object(kafka) || (json_is_string(addr) && json_string_length(addr) > 0)) {
            bad(err, "kafka_connect_param", "a Kafka target is not supported; give milvus_connect_param");
            goto fail;
        }
    }
    if (parse_task_id(req, s, err)) goto fail;
    if (parse_target(field(req, "milvus_connect_param"), &s->target, err)) goto fail;

    const json_t *infos = field(req, "collection_infos");
    const json_t *dbs = field(req, "db_collections");
    /* An empty collection_infos next to db_collections is what milvus-cdc
     * clients send and what task_spec_to_json stores for a task without
     * collections of "default"; alone it is refused as empty. */
    bool infos_empty = json_is_array(infos) && json_array_size(infos) == 0;
    if (infos && !(infos_empty && dbs) && parse_collection_list(infos, "collection_infos", DEFAULT_DB, s, err))
        goto fail;
    if (dbs) {
        if (!json_is_object(dbs)) {
            bad(err, "db_collections", "want an object of database name -> [{\"name\": \"coll\"}]");
            goto fail;
        }
        const char *db;
        json_t *list;
        char path[PATH_CAP];
        json_object_foreach((json_t *)dbs, db, list) {
            path_key(path, "db_collections", db);
            if (!db[0]) {
                bad(err, "db_collections", "an empty database name");
                goto fail;
            }
            if (check_name(db, path, err)) goto fail;
            if (parse_collection_list(list, path, db, s, err)) goto fail;
        }
    }
    if (s->n_collections == 0) {
        bad(err, "collection_infos", "missing; want at least one collection in collection_infos or db_collections");
        goto fail;
    }
    if (check_duplicates(s, err)) goto fail;

    const json_t *maps = field(req, "name_mapping");
    if (maps && parse_mappings(maps, s, err)) goto fail;
    const json_t *pos = field(req, "positions");
    if (pos && parse_kv_object(pos, "positions", false, &s->positions, &s->n_positions, err)) goto fail;
    if (get_bool(req, "", "disable_auto_start", &s->disable_auto_start, err)) goto fail;
    /* Of extra_info only enable_user_role means something to mcdc; its
     * other keys stay ignored, as the whole object was before. */
    const json_t *extra = field(req, "extra_info");
    if (extra && !json_is_object(extra)) {
        bad(err, "extra_info", "want an object");
        goto fail;
    }
    if (extra && get_bool(extra, "extra_info", "enable_user_role", &s->enable_user_role, err)) goto fail;
    return 0;
fail:
    task_spec_free(s);
    return -1;
}

/* ---- printing ------------------------------------------------------------ */

static json_t *kv_json(const task_kv *kv, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

static json_t *collection_json(const task_collection *c) {
    json_t *o = json_pack("{s:s, s:o, s:b}", "name", c->name, "positions", kv_json(c->positions, c->n_positions),
                          "use_start_position", c->use_start_position);
    /* Only when asked for: a stored spec without it stays readable by an
     * mcdc that does not know the key (it refuses unknown keys). */
    if (c->snapshot) json_object_set_new(o, "snapshot", json_true());
    return o;
}

static void set_secret(json_t *o, const char *key, const char *value, bool with_secrets) {
    if (value) json_object_set_new(o, key, json_string(with_secrets ? value : SECRET_MASK));
}

/* A reference is no secret: the store and the user see it as given. */
static void set_ref(json_t *o, const char *field, const task_secret_ref *r) {
    char key[64];
    if (r->file) {
        snprintf(key, sizeof key, "%s_file", field);
        json_object_set_new(o, key, json_string(r->file));
    }
    if (r->env) {
        snprintf(key, sizeof key, "%s_env", field);
        json_object_set_new(o, key, json_string(r->env));
    }
}

json_t *task_spec_to_json(const task_spec *s, bool with_secrets) {
    const task_target *t = &s->target;
    json_t *conn = json_object();
    mcdc_buf uri = MCDC_BUF_INIT;
    mcdc_buf_printf(&uri, "%s://%s", t->tls ? "https" : "http", t->address ? t->address : "");
    json_object_set_new(conn, "uri", json_string(mcdc_buf_cstr(&uri)));
    mcdc_buf_free(&uri);
    /* username/password stay separate fields: a user name may hold ':'. */
    set_secret(conn, "username", t->username, with_secrets);
    set_secret(conn, "password", t->password, with_secrets);
    set_secret(conn, "token", t->api_key, with_secrets);
    set_ref(conn, "password", &t->password_ref);
    set_ref(conn, "token", &t->token_ref);
    json_object_set_new(conn, "enable_tls", json_boolean(t->tls));
    json_object_set_new(conn, "connect_timeout", json_integer(t->connect_timeout_s));
    json_object_set_new(conn, "ignore_partition", json_boolean(t->ignore_partition));

    json_t *infos = json_array(), *dbs = json_object();
    for (size_t i = 0; i < s->n_collections; i++) {
        const task_collection *c = &s->collections[i];
        if (strcmp(c->db, DEFAULT_DB) == 0) {
            json_array_append_new(infos, collection_json(c));
            continue;
        }
        json_t *list = json_object_get(dbs, c->db);
        if (!list) {
            list = json_array();
            json_object_set_new(dbs, c->db, list);
        }
        json_array_append_new(list, collection_json(c));
    }
    json_t *maps = json_array();
    for (size_t i = 0; i < s->n_mappings; i++) {
        const task_name_map *m = &s->mappings[i];
        json_array_append_new(maps, json_pack("{s:s, s:s, s:o}", "source_db", m->source_db, "target_db",
                                              m->target_db, "collection_mapping",
                                              kv_json(m->collections, m->n_collections)));
    }
    json_t *j = json_pack("{s:s?, s:o, s:o, s:o, s:o, s:o, s:b}", "task_id", s->id, "milvus_connect_param", conn,
                          "collection_infos", infos, "db_collections", dbs, "name_mapping", maps, "positions",
                          kv_json(s->positions, s->n_positions), "disable_auto_start", s->disable_auto_start);
    /* Only when set, so tasks without it print as they always did. */
    if (s->enable_user_role) json_object_set_new(j, "extra_info", json_pack("{s:b}", "enable_user_role", 1));
    return j;
}

/* ---- copying ------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? mcdc_xstrdup(s) : NULL; }

static char *dup_secret(const char *s, bool with_secrets) { return s ? mcdc_xstrdup(with_secrets ? s : SECRET_MASK) : NULL; }

static task_kv *dup_kvs(const task_kv *kv, size_t n) {
    task_kv *c = n ? mcdc_xcalloc(n, sizeof *c) : NULL;
    for (size_t i = 0; i < n; i++) c[i] = (task_kv){mcdc_xstrdup(kv[i].key), mcdc_xstrdup(kv[i].value)};
    return c;
}

void task_spec_copy(const task_spec *s, task_spec *out, bool with_secrets) {
    *out = *s;
    out->id = dup_or_null(s->id);
    out->target.address = dup_or_null(s->target.address);
    out->target.username = dup_secret(s->target.username, with_secrets);
    out->target.password = dup_secret(s->target.password, with_secrets);
    out->target.api_key = dup_secret(s->target.api_key, with_secrets);
    out->target.password_ref = (task_secret_ref){dup_or_null(s->target.password_ref.file),
                                                 dup_or_null(s->target.password_ref.env)};
    out->target.token_ref = (task_secret_ref){dup_or_null(s->target.token_ref.file), dup_or_null(s->target.token_ref.env)};
    out->collections = s->n_collections ? mcdc_xcalloc(s->n_collections, sizeof *out->collections) : NULL;
    for (size_t i = 0; i < s->n_collections; i++) {
        const task_collection *c = &s->collections[i];
        out->collections[i] = (task_collection){.db = mcdc_xstrdup(c->db),
                                                .name = mcdc_xstrdup(c->name),
                                                .use_start_position = c->use_start_position,
                                                .snapshot = c->snapshot,
                                                .positions = dup_kvs(c->positions, c->n_positions),
                                                .n_positions = c->n_positions};
    }
    out->mappings = s->n_mappings ? mcdc_xcalloc(s->n_mappings, sizeof *out->mappings) : NULL;
    for (size_t i = 0; i < s->n_mappings; i++) {
        const task_name_map *m = &s->mappings[i];
        out->mappings[i] = (task_name_map){mcdc_xstrdup(m->source_db), mcdc_xstrdup(m->target_db),
                                           dup_kvs(m->collections, m->n_collections), m->n_collections};
    }
    out->positions = dup_kvs(s->positions, s->n_positions);
}

/* ---- questions the pipeline asks ----------------------------------------- */

void task_spec_map_name(const task_spec *s, const char *db, const char *coll, const char **tdb,
                        const char **tcoll) {
    *tdb = db;
    *tcoll = coll;
    for (size_t i = 0; i < s->n_mappings; i++) {
        const task_name_map *m = &s->mappings[i];
        if (strcmp(m->source_db, db) != 0) continue;
        /* milvus-cdc's rule: an empty collection_mapping moves the whole
         * database; otherwise only the listed collections move, and the
         * others keep their database and name. */
        if (m->n_collections == 0) {
            *tdb = m->target_db;
            return;
        }
        for (size_t j = 0; j < m->n_collections; j++)
            if (strcmp(m->collections[j].key, coll) == 0) {
                *tdb = m->target_db;
                *tcoll = m->collections[j].value;
                return;
            }
        return;
    }
}

/* The entry that covers db.coll, or NULL. As in milvus-cdc, the entries of
 * a database named exactly win over the "*" database: {"*": ["*"], "a":
 * ["x"]} covers only x in a. Inside one database a name and "*" never meet
 * (check_duplicates), so the first match is the only one. */
static const task_collection *covering(const task_spec *s, const char *db, const char *coll) {
    bool named_db = false;
    for (size_t i = 0; i < s->n_collections; i++)
        if (strcmp(s->collections[i].db, db) == 0) named_db = true;
    const char *want_db = named_db ? db : "*";
    for (size_t i = 0; i < s->n_collections; i++) {
        const task_collection *c = &s->collections[i];
        if (strcmp(c->db, want_db) != 0) continue;
        if (strcmp(c->name, "*") == 0 || strcmp(c->name, coll) == 0) return c;
    }
    return NULL;
}

bool task_spec_covers(const task_spec *s, const char *db, const char *coll) { return covering(s, db, coll) != NULL; }

bool task_spec_wants_snapshot(const task_spec *s, const char *db, const char *coll) {
    const task_collection *c = covering(s, db, coll);
    return c && c->snapshot;
}

static void free_kvs(task_kv *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void task_spec_free(task_spec *s) {
    if (!s) return;
    free(s->id);
    free(s->target.address);
    mcdc_secret_free(s->target.username);
    mcdc_secret_free(s->target.password);
    mcdc_secret_free(s->target.api_key);
    free_ref(&s->target.password_ref);
    free_ref(&s->target.token_ref);
    for (size_t i = 0; i < s->n_collections; i++) {
        free(s->collections[i].db);
        free(s->collections[i].name);
        free_kvs(s->collections[i].positions, s->collections[i].n_positions);
    }
    free(s->collections);
    for (size_t i = 0; i < s->n_mappings; i++) {
        free(s->mappings[i].source_db);
        free(s->mappings[i].target_db);
        free_kvs(s->mappings[i].collections, s->mappings[i].n_collections);
    }
    free(s->mappings);
    free_kvs(s->positions, s->n_positions);
    memset(s, 0, sizeof *s);
}

/* The secret r names, into *out (NULL when r names none). */
static int read_ref(const task_secret_ref *r, const char *field, const char *secrets_dir, char **out, mcdc_err *err) {
    char path[PATH_CAP];
    *out = NULL;
    if (r->file) {
        ref_key(path, field, "_file");
        if (!secrets_dir || !secrets_dir[0])
            return mcdc_errf(err, MCDC_EIO, "%s: %s: the config sets no secrets_dir, so no file is read for a task",
                             path, r->file);
        if (mcdc_secret_read_file(secrets_dir, r->file, out, err)) goto fail;
    } else if (r->env) {
        ref_key(path, field, "_env");
        if (mcdc_secret_read_env(r->env, out, err)) goto fail;
    }
    return 0;
fail:
    err->code = MCDC_EIO;
    mcdc_err_prefix(err, "%s", path);
    return -1;
}

/* A token read from a file or variable means what a token given in the
 * request means: "user:password", or an API key. */
static int split_token(char *token, const task_secret_ref *r, task_secrets *held, mcdc_err *err) {
    size_t len = strlen(token);
    char *colon = strchr(token, ':');
    int rc = 0;
    if (!colon) {
        held->api_key = mcdc_xstrdup(token);
    } else {
        *colon = '\0';
        if (!token[0] || !colon[1])
            rc = mcdc_errf(err, MCDC_EIO, "milvus_connect_param.token_%s: %s holds \"user:password\" with the %s empty",
                           r->file ? "file" : "env", r->file ? r->file : r->env, token[0] ? "password" : "user");
        else {
            held->username = mcdc_xstrdup(token);
            held->password = mcdc_xstrdup(colon + 1);
        }
    }
    mcdc_secret_wipe(token, len);
    free(token);
    return rc;
}

int task_target_milvus_config(const task_target *t, const char *secrets_dir, uint32_t default_timeout_ms,
                              milvus_config *out, task_secrets *held, mcdc_err *err) {
    memset(held, 0, sizeof *held);
    *out = (milvus_config){.address = t->address,
                           .tls = t->tls,
                           .username = t->username,
                           .password = t->password,
                           .api_key = t->api_key,
                           .timeout_ms = t->connect_timeout_s > 0 ? (uint32_t)t->connect_timeout_s * 1000u
                                                                  : default_timeout_ms};
    char *token = NULL;
    if (read_ref(&t->password_ref, "password", secrets_dir, &held->password, err) ||
        read_ref(&t->token_ref, "token", secrets_dir, &token, err) ||
        (token && split_token(token, &t->token_ref, held, err))) {
        task_secrets_free(held);
        return -1;
    }
    if (held->password) out->password = held->password;
    if (held->username) out->username = held->username;
    if (held->api_key) out->api_key = held->api_key;
    return 0;
}

void task_secrets_free(task_secrets *held) {
    mcdc_secret_free(held->username);
    mcdc_secret_free(held->password);
    mcdc_secret_free(held->api_key);
    memset(held, 0, sizeof *held);
}
