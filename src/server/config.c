/* config.c — loads mcdc.yaml (config.h) with libyaml's document loader and
 * walks it against a table of known keys per mapping, so that every value is
 * checked where it stands and every error can point at its line. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/secret.h"
#include "server/http.h"
#include "server/http_guard.h"

#define PATH_CAP 128

typedef struct ctx {
    const char *file;
    yaml_document_t *doc;
    mcdc_config *cfg;
    mcdc_err *err;
} ctx;

/* A key's parser gets its value node and its full path ("source.etcd.endpoints"). */
typedef int (*key_fn)(ctx *c, yaml_node_t *v, const char *path);

typedef struct key_def {
    const char *name;
    key_fn parse;
} key_def;

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

__attribute__((format(printf, 4, 5))) static int fail(ctx *c, const yaml_node_t *n, const char *path,
                                                      const char *fmt, ...) {
    char what[MCDC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (path && path[0]) return mcdc_errf(c->err, MCDC_EINVAL, "%s:%d: %s: %s", c->file, line_of(n), path, what);
    return mcdc_errf(c->err, MCDC_EINVAL, "%s:%d: %s", c->file, line_of(n), what);
}

static void path_key(char *dst, const char *parent, const char *key) {
    size_t n = 0;
    const char *parts[3] = {parent, parent[0] ? "." : "", key};
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n + 1 < PATH_CAP; p++) dst[n++] = *p;
    dst[n] = '\0';
}

static void set_str(char **dst, const char *value) {
    free(*dst);
    *dst = mcdc_xstrdup(value);
}

/* ---- scalars ------------------------------------------------------------- */

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* `key:` with nothing after it, or ~ / null: keep the default. */
static bool is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *s = scalar(n);
    return !s[0] || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* A string value's text in *out; NULL for a null value (keep the default). */
static int get_text(ctx *c, yaml_node_t *v, const char *path, const char **out) {
    *out = NULL;
    if (is_null(v)) return 0;
    if (v->type != YAML_SCALAR_NODE) return fail(c, v, path, "want a string");
    if (strlen(scalar(v)) != v->data.scalar.length) return fail(c, v, path, "holds a NUL character");
    *out = scalar(v);
    return 0;
}

static int get_string(ctx *c, yaml_node_t *v, const char *path, char **dst) {
    const char *s;
    if (get_text(c, v, path, &s)) return -1;
    if (s) set_str(dst, s);
    return 0;
}

static int get_nonempty(ctx *c, yaml_node_t *v, const char *path, char **dst) {
    if (is_null(v)) return 0;
    if (v->type != YAML_SCALAR_NODE || !scalar(v)[0]) return fail(c, v, path, "want a non-empty string");
    return get_string(c, v, path, dst);
}

static int get_int(ctx *c, yaml_node_t *v, const char *path, long long lo, long long hi, long long *out) {
    if (is_null(v)) return 0;
    const char *s = v->type == YAML_SCALAR_NODE ? scalar(v) : "";
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (v->type != YAML_SCALAR_NODE || !s[0] || *end || errno || n < lo || n > hi || isspace((unsigned char)s[0]))
        return fail(c, v, path, "want an integer from %lld to %lld", lo, hi);
    *out = n;
    return 0;
}

/* get_int into the config's unsigned fields, which keep their value when the key is null. */
static int get_u32(ctx *c, yaml_node_t *v, const char *path, long long lo, long long hi, uint32_t *dst) {
    long long n = *dst;
    if (get_int(c, v, path, lo, hi, &n)) return -1;
    *dst = (uint32_t)n;
    return 0;
}

static int get_size(ctx *c, yaml_node_t *v, const char *path, long long lo, long long hi, size_t *dst) {
    long long n = (long long)*dst;
    if (get_int(c, v, path, lo, hi, &n)) return -1;
    *dst = (size_t)n;
    return 0;
}

static int get_bool(ctx *c, yaml_node_t *v, const char *path, bool *dst) {
    if (is_null(v)) return 0;
    const char *s = v->type == YAML_SCALAR_NODE ? scalar(v) : "";
    if (strcmp(s, "true") == 0) *dst = true;
    else if (strcmp(s, "false") == 0) *dst = false;
    else return fail(c, v, path, "want true or false");
    return 0;
}

/* ---- mappings ------------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* names[i] is at (char *)names + i * stride: the name field of any table
 * whose rows begin with their name (key_def, mq_key). */
static const char *name_at(const char *const *names, size_t stride, size_t i) {
    return *(const char *const *)((const char *)names + i * stride);
}

static int unknown_key(ctx *c, const yaml_node_t *k, const char *path, const char *const *names, size_t n,
                       size_t stride) {
    const char *name = scalar(k);
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(name, name_at(names, stride, i));
        if (d < best_d) best_d = d, best = name_at(names, stride, i);
    }
    /* Close enough to be a typo: at most 2 edits, and fewer than half the word. */
    if (best && best_d <= 2 && best_d * 2 < strlen(best))
        return fail(c, k, path, "unknown key '%s' (did you mean '%s'?)", name, best);
    mcdc_buf b = MCDC_BUF_INIT;
    for (size_t i = 0; i < n; i++) mcdc_buf_printf(&b, "%s%s", i ? ", " : "", name_at(names, stride, i));
    int rc = fail(c, k, path, "unknown key '%s' (known keys: %s)", name, mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    return rc;
}

/* Called with the row i of the table that names the key, its value and the
 * value's path. */
typedef int (*row_fn)(ctx *c, size_t i, yaml_node_t *v, const char *child, const void *ud);

/* Walks mapping m whose keys are the names of a table (see name_at): a key
 * of no row, or one given twice, fails; each other goes to fn. */
static int walk_rows(ctx *c, yaml_node_t *m, const char *path, const char *const *names, size_t n, size_t stride,
                     row_fn fn, const void *ud) {
    if (is_null(m)) return 0;
    if (m->type != YAML_MAPPING_NODE) return fail(c, m, path, "want a mapping of keys");
    int seen_line[32] = {0};
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (k->type != YAML_SCALAR_NODE) return fail(c, k, path, "want plain key names");
        size_t i = 0;
        while (i < n && strcmp(name_at(names, stride, i), scalar(k)) != 0) i++;
        if (i == n) return unknown_key(c, k, path, names, n, stride);
        char child[PATH_CAP];
        path_key(child, path, name_at(names, stride, i));
        if (i < 32 && seen_line[i]) return fail(c, k, child, "given twice (first on line %d)", seen_line[i]);
        if (i < 32) seen_line[i] = line_of(k);
        if (fn(c, i, v, child, ud)) return -1;
    }
    return 0;
}

static int parse_row(ctx *c, size_t i, yaml_node_t *v, const char *child, const void *keys) {
    return ((const key_def *)keys)[i].parse(c, v, child);
}

static int walk_map(ctx *c, yaml_node_t *m, const char *path, const key_def *keys, size_t n) {
    return walk_rows(c, m, path, &keys[0].name, n, sizeof keys[0], parse_row, keys);
}

#define WALK(c, v, path, keys) walk_map(c, v, path, keys, sizeof keys / sizeof keys[0])

/* ---- the keys ------------------------------------------------------------ */

static int k_listen(ctx *c, yaml_node_t *v, const char *path) {
    if (is_null(v)) return 0;
    mcdc_addr a;
    if (v->type != YAML_SCALAR_NODE ||
        mcdc_addr_parse(scalar(v), strlen(scalar(v)), MCDC_ADDR_HOST_OPTIONAL | MCDC_ADDR_PORT_ZERO, 0, &a, NULL))
        return fail(c, v, path, "want host:port, e.g. 127.0.0.1:8444 (or :8444 for every interface)");
    set_str(&c->cfg->listen_host, a.host[0] ? a.host : "0.0.0.0");
    c->cfg->listen_port = a.port;
    return 0;
}

static int k_api_token(ctx *c, yaml_node_t *v, const char *path) { return get_string(c, v, path, &c->cfg->api_token); }

static int k_max_body(ctx *c, yaml_node_t *v, const char *path) {
    return get_size(c, v, path, 1024, 1LL << 30, &c->cfg->max_body_bytes);
}

static int k_allowed_hosts(ctx *c, yaml_node_t *v, const char *path) {
    if (is_null(v)) return 0;
    static const char WANT[] = "want a list of host names, e.g. [mcdc.example.com, \"mcdc.example.com:8444\"], or [\"*\"]";
    if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, path, WANT);
    mcdc_config *cfg = c->cfg;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, *it);
        const char *s;
        mcdc_err why;
        if (e->type != YAML_SCALAR_NODE || get_text(c, e, path, &s) || !s) return fail(c, e, path, WANT);
        if (http_host_entry_check(s, &why)) return fail(c, e, path, "'%.64s': %s", s, why.msg);
        cfg->api_allowed_hosts =
            mcdc_xrealloc(cfg->api_allowed_hosts, (cfg->n_api_allowed_hosts + 1) * sizeof *cfg->api_allowed_hosts);
        cfg->api_allowed_hosts[cfg->n_api_allowed_hosts++] = mcdc_xstrdup(s);
    }
    return 0;
}

static int k_tls_cert(ctx *c, yaml_node_t *v, const char *path) { return get_string(c, v, path, &c->cfg->api_tls_cert_file); }
static int k_tls_key(ctx *c, yaml_node_t *v, const char *path) { return get_string(c, v, path, &c->cfg->api_tls_key_file); }

static int k_max_conns(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 10000, &c->cfg->api_max_connections);
}
static int k_max_conns_client(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 10000, &c->cfg->api_max_connections_per_client);
}
static int k_header_timeout(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 100, 600000, &c->cfg->api_header_timeout_ms);
}

static int k_log_level(ctx *c, yaml_node_t *v, const char *path) {
    if (is_null(v)) return 0;
    if (v->type != YAML_SCALAR_NODE || mcdc_log_parse_level(scalar(v), &c->cfg->log_level) != 0)
        return fail(c, v, path, "want debug, info, warn or error");
    return 0;
}

/* A list of host:port (or, where one_string, also "h:p,h:p" in one
 * string) into *dst as etcd_config wants it: "h:p,h:p". */
static int endpoints_into(ctx *c, yaml_node_t *v, const char *path, bool one_string, char **dst) {
    if (is_null(v)) return 0;
    const char *want = one_string ? "want host:port[,host:port...] or a list of them, e.g. [127.0.0.1:2379]"
                                  : "want a list of host:port, e.g. [127.0.0.1:2379]";
    mcdc_buf items = MCDC_BUF_INIT; /* NUL-separated */
    yaml_node_t *at[64];            /* each item's node, for the line of a message */
    size_t n = 0;
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top && n < 64;
             it++, n++) {
            yaml_node_t *e = yaml_document_get_node(c->doc, *it);
            const char *s = e->type == YAML_SCALAR_NODE ? scalar(e) : "?";
            mcdc_buf_append(&items, s, strlen(s) + 1);
            at[n] = e;
        }
    } else if (one_string && v->type == YAML_SCALAR_NODE) {
        for (const char *p = scalar(v); n < 64; n++) {
            const char *q = strchr(p, ',');
            size_t len = q ? (size_t)(q - p) : strlen(p);
            const char *item = p;
            while (len && *item == ' ') item++, len--;
            while (len && item[len - 1] == ' ') len--;
            mcdc_buf_append(&items, item, len);
            mcdc_buf_putc(&items, 0);
            at[n] = v;
            if (!q) {
                n++;
                break;
            }
            p = q + 1;
        }
    }
    mcdc_buf b = MCDC_BUF_INIT;
    int rc = n ? 0 : fail(c, v, path, "%s", want);
    for (size_t i = 0, off = 0; i < n && !rc; i++) {
        const char *s = (const char *)items.data + off;
        off += strlen(s) + 1;
        /* milvus-cdc's config writes endpoints as URLs. */
        if (strncmp(s, "http://", 7) == 0) s += 7;
        else if (strncmp(s, "https://", 8) == 0) {
            rc = fail(c, at[i], path, "TLS to etcd is not supported yet; use host:port");
            break;
        }
        mcdc_addr a;
        if (mcdc_addr_parse(s, strlen(s), 0, 0, &a, NULL)) rc = fail(c, at[i], path, "%s", want);
        else mcdc_buf_printf(&b, "%s%s", b.len ? "," : "", s);
    }
    if (!rc) set_str(dst, mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    mcdc_buf_free(&items);
    return rc;
}

static int k_store_type(ctx *c, yaml_node_t *v, const char *path) {
    if (is_null(v)) return 0;
    if (v->type != YAML_SCALAR_NODE || (strcmp(scalar(v), "sqlite") != 0 && strcmp(scalar(v), "etcd") != 0))
        return fail(c, v, path, "want sqlite (one mcdc serve) or etcd (several, sharing their tasks)");
    set_str(&c->cfg->store.type, scalar(v));
    return 0;
}

static int k_store_path(ctx *c, yaml_node_t *v, const char *path) {
    return get_nonempty(c, v, path, &c->cfg->store.path);
}
static int k_store_endpoints(ctx *c, yaml_node_t *v, const char *path) {
    return endpoints_into(c, v, path, true, &c->cfg->store.endpoints);
}
static int k_store_prefix(ctx *c, yaml_node_t *v, const char *path) {
    return get_nonempty(c, v, path, &c->cfg->store.prefix);
}
static int k_store_user(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->store.username);
}
static int k_store_password(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->store.password);
}
static int k_store_ttl(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 600, &c->cfg->store.lease_ttl_s);
}
static int k_store_instance(ctx *c, yaml_node_t *v, const char *path) {
    return get_nonempty(c, v, path, &c->cfg->store.instance_id);
}
static int k_store_advertise(ctx *c, yaml_node_t *v, const char *path) {
    const char *s;
    if (get_text(c, v, path, &s)) return -1;
    if (!s) return 0;
    if ((strncmp(s, "http://", 7) != 0 || !s[7]) && (strncmp(s, "https://", 8) != 0 || !s[8]))
        return fail(c, v, path, "want the URL other instances reach this one's API at, e.g. http://10.0.0.5:8444");
    set_str(&c->cfg->store.advertise, s);
    return 0;
}

static const key_def STORE_KEYS[] = {{"type", k_store_type},           {"path", k_store_path},
                                     {"endpoints", k_store_endpoints}, {"prefix", k_store_prefix},
                                     {"username", k_store_user},       {"password", k_store_password},
                                     {"lease_ttl_s", k_store_ttl},     {"instance_id", k_store_instance},
                                     {"advertise", k_store_advertise}};

/* The key k of mapping m, or NULL. */
static yaml_node_t *key_node(ctx *c, yaml_node_t *m, const char *k) {
    if (m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        if (kn->type == YAML_SCALAR_NODE && strcmp(scalar(kn), k) == 0) return kn;
    }
    return NULL;
}

static int k_store(ctx *c, yaml_node_t *v, const char *path) {
    if (WALK(c, v, path, STORE_KEYS)) return -1;
    if (is_null(v)) return 0;
    bool etcd = strcmp(c->cfg->store.type, "etcd") == 0;
    char child[PATH_CAP];
    /* A key of the other type is a mistake about the type, not a default. */
    static const char *const ETCD_ONLY[] = {"endpoints", "prefix", "username", "password", "lease_ttl_s",
                                            "instance_id", "advertise"};
    yaml_node_t *k;
    if (etcd && (k = key_node(c, v, "path"))) {
        path_key(child, path, "path");
        return fail(c, k, child, "is for store.type sqlite; an etcd store has endpoints and prefix");
    }
    for (size_t i = 0; !etcd && i < sizeof ETCD_ONLY / sizeof ETCD_ONLY[0]; i++) {
        if ((k = key_node(c, v, ETCD_ONLY[i]))) {
            path_key(child, path, ETCD_ONLY[i]);
            return fail(c, k, child, "is for store.type etcd (this store is %s)", c->cfg->store.type);
        }
    }
    if (!etcd) return 0;
    if (!c->cfg->store.endpoints[0]) {
        path_key(child, path, "endpoints");
        return fail(c, v, child, "missing; store.type etcd needs the etcd's host:port[,host:port...]");
    }
    if (!c->cfg->store.username[0] != !c->cfg->store.password[0]) {
        path_key(child, path, c->cfg->store.username[0] ? "password" : "username");
        return fail(c, v, child, "missing; username and password go together");
    }
    return 0;
}

static int k_etcd_endpoints(ctx *c, yaml_node_t *v, const char *path) {
    return endpoints_into(c, v, path, false, &c->cfg->source.etcd.endpoints);
}

static int k_etcd_root(ctx *c, yaml_node_t *v, const char *path) {
    return get_nonempty(c, v, path, &c->cfg->source.etcd.root_path);
}
static int k_etcd_user(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->source.etcd.username);
}
static int k_etcd_password(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->source.etcd.password);
}

static const key_def ETCD_KEYS[] = {
    {"endpoints", k_etcd_endpoints}, {"root_path", k_etcd_root}, {"username", k_etcd_user}, {"password", k_etcd_password}};

static int k_etcd(ctx *c, yaml_node_t *v, const char *path) {
    if (WALK(c, v, path, ETCD_KEYS)) return -1;
    if (!c->cfg->source.etcd.username[0] != !c->cfg->source.etcd.password[0]) {
        char child[PATH_CAP];
        path_key(child, path, c->cfg->source.etcd.username[0] ? "password" : "username");
        return fail(c, v, child, "missing; username and password go together");
    }
    return 0;
}

/* "kafka or pulsar": the drivers mq knows. */
static void type_list(mcdc_buf *b) {
    size_t n = 0;
    while (mq_type(n)) n++;
    for (size_t i = 0; i < n; i++) mcdc_buf_printf(b, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", mq_type(i));
}

static int k_mq_type(ctx *c, yaml_node_t *v, const char *path) {
    if (is_null(v)) return 0;
    size_t n;
    if (v->type != YAML_SCALAR_NODE || !mq_keys(scalar(v), &n)) {
        mcdc_buf b = MCDC_BUF_INIT;
        type_list(&b);
        int rc = fail(c, v, path, "want %s", mcdc_buf_cstr(&b));
        mcdc_buf_free(&b);
        return rc;
    }
    set_str(&c->cfg->source.mq.type, scalar(v));
    return 0;
}

static mcdc_config_mq_section *section_of(mcdc_config *cfg, const char *type) {
    for (size_t i = 0; i < cfg->source.mq.n_sections; i++)
        if (strcmp(cfg->source.mq.sections[i].type, type) == 0) return &cfg->source.mq.sections[i];
    return NULL;
}

typedef struct mq_rows {
    mcdc_config_mq_section *sec;
    const mq_key *keys;
} mq_rows;

/* One of the driver's keys: its value checked by the driver (mq_setting_check)
 * and kept in the spelling the driver gives back. */
static int mq_row(ctx *c, size_t i, yaml_node_t *v, const char *child, const void *ud) {
    const mq_rows *r = ud;
    const char *s, *canon;
    mcdc_err why;
    if (get_text(c, v, child, &s)) return -1;
    if (!s) return 0;
    if (mq_setting_check(&r->keys[i], s, &canon, &why)) return fail(c, v, child, "%s", why.msg);
    mcdc_config_mq_section *sec = r->sec;
    sec->settings = mcdc_xrealloc(sec->settings, (sec->n_settings + 1) * sizeof *sec->settings);
    sec->settings[sec->n_settings++] = (mq_kv){mcdc_xstrdup(r->keys[i].name), mcdc_xstrdup(canon)};
    return 0;
}

/* source.mq.<type>: the driver's keys (mq_row), then the rules between them
 * (mq_settings_check). */
static int k_mq_section(ctx *c, yaml_node_t *m, const char *path) {
    if (is_null(m)) return 0;
    mq_rows r = {section_of(c->cfg, strrchr(path, '.') + 1), NULL};
    size_t n;
    r.keys = mq_keys(r.sec->type, &n);
    if (walk_rows(c, m, path, &r.keys[0].name, n, sizeof r.keys[0], mq_row, &r)) return -1;
    mq_config mc = mcdc_config_mq(c->cfg, r.sec->type);
    const char *blame;
    mcdc_err why;
    if (mq_settings_check(&mc, &blame, &why)) {
        char child[PATH_CAP];
        path_key(child, path, blame ? blame : "");
        return fail(c, m, child, "%s", why.msg);
    }
    return 0;
}

static int k_mq(ctx *c, yaml_node_t *v, const char *path) {
    /* "type" and one section per driver. */
    key_def keys[16] = {{"type", k_mq_type}};
    size_t n = 1;
    for (size_t i = 0; mq_type(i) && n < 16; i++) keys[n++] = (key_def){mq_type(i), k_mq_section};
    return walk_map(c, v, path, keys, n);
}

static int k_channel_prefix(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->source.channel_prefix);
}

static int k_dml_channels(ctx *c, yaml_node_t *v, const char *path) {
    long long n = c->cfg->source.dml_channels;
    if (get_int(c, v, path, 1, 1024, &n)) return -1;
    c->cfg->source.dml_channels = (int)n;
    return 0;
}

/* "" is a value here (no source proxy), not a mistake: only a non-empty
 * address is parsed. Its reachability is the snapshot's business, not the
 * start's: a source proxy that is down must not stop replication. */
static int k_milvus_address(ctx *c, yaml_node_t *v, const char *path) {
    const char *s;
    if (get_text(c, v, path, &s)) return -1;
    if (!s) return 0;
    mcdc_addr a;
    mcdc_err why;
    if (s[0] && mcdc_addr_parse(s, strlen(s), 0, 0, &a, &why))
        return fail(c, v, path, "want host:port, e.g. 127.0.0.1:19530, or \"\" for none (%s)", why.msg);
    set_str(&c->cfg->source.milvus.address, s);
    return 0;
}
static int k_milvus_user(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->source.milvus.username);
}
static int k_milvus_password(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->source.milvus.password);
}
static int k_milvus_tls(ctx *c, yaml_node_t *v, const char *path) {
    return get_bool(c, v, path, &c->cfg->source.milvus.tls);
}

static const key_def MILVUS_KEYS[] = {
    {"address", k_milvus_address}, {"username", k_milvus_user}, {"password", k_milvus_password}, {"tls", k_milvus_tls}};

static int k_milvus(ctx *c, yaml_node_t *v, const char *path) {
    if (WALK(c, v, path, MILVUS_KEYS)) return -1;
    if (!c->cfg->source.milvus.username[0] != !c->cfg->source.milvus.password[0]) {
        char child[PATH_CAP];
        path_key(child, path, c->cfg->source.milvus.username[0] ? "password" : "username");
        return fail(c, v, child, "missing; username and password go together");
    }
    return 0;
}

static const key_def SOURCE_KEYS[] = {{"etcd", k_etcd},
                                      {"mq", k_mq},
                                      {"channel_prefix", k_channel_prefix},
                                      {"dml_channels", k_dml_channels},
                                      {"milvus", k_milvus}};
static int k_source(ctx *c, yaml_node_t *v, const char *path) { return WALK(c, v, path, SOURCE_KEYS); }

static int k_batch_rows(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 1000000, &c->cfg->apply.batch_rows);
}
static int k_batch_bytes(ctx *c, yaml_node_t *v, const char *path) {
    /* Milvus refuses a request over its gRPC receive limit (64 MiB by default). */
    return get_size(c, v, path, 1024, 64LL << 20, &c->cfg->apply.batch_bytes);
}
static int k_inflight_calls(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 64, &c->cfg->apply.inflight_calls);
}
static int k_inflight_bytes(ctx *c, yaml_node_t *v, const char *path) {
    return get_size(c, v, path, 1024, 1LL << 30, &c->cfg->apply.inflight_bytes);
}
static int k_retry_max(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 10, 3600000, &c->cfg->apply.retry_max_ms);
}

static const key_def APPLY_KEYS[] = {
    {"batch_rows", k_batch_rows},         {"batch_bytes", k_batch_bytes},   {"inflight_calls", k_inflight_calls},
    {"inflight_bytes", k_inflight_bytes}, {"retry_max_ms", k_retry_max}};
static int k_apply(ctx *c, yaml_node_t *v, const char *path) { return WALK(c, v, path, APPLY_KEYS); }

static int k_page_rows(ctx *c, yaml_node_t *v, const char *path) {
    /* Milvus (2.3, by default) refuses a Query whose offset + limit
     * passes 16384. */
    return get_u32(c, v, path, 1, 16384, &c->cfg->snapshot.page_rows);
}
static int k_page_bytes(ctx *c, yaml_node_t *v, const char *path) {
    return get_size(c, v, path, 1LL << 20, 256LL << 20, &c->cfg->snapshot.page_bytes);
}
static int k_pages_in_flight(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 64, &c->cfg->snapshot.pages_in_flight);
}
static int k_readers(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 16, &c->cfg->snapshot.readers);
}
static int k_on_bulk_insert(ctx *c, yaml_node_t *v, const char *path) {
    if (is_null(v)) return 0;
    const char *s = v->type == YAML_SCALAR_NODE ? scalar(v) : "";
    if (strcmp(s, "resync") == 0) c->cfg->snapshot.resync_on_bulk_insert = true;
    else if (strcmp(s, "report") == 0) c->cfg->snapshot.resync_on_bulk_insert = false;
    else return fail(c, v, path, "want resync or report");
    return 0;
}
static int k_progress_log(ctx *c, yaml_node_t *v, const char *path) {
    return get_u32(c, v, path, 1, 3600, &c->cfg->snapshot.progress_log_s);
}

static const key_def SNAPSHOT_KEYS[] = {{"page_rows", k_page_rows},
                                        {"page_bytes", k_page_bytes},
                                        {"pages_in_flight", k_pages_in_flight},
                                        {"readers", k_readers},
                                        {"on_bulk_insert", k_on_bulk_insert},
                                        {"progress_log_s", k_progress_log}};
static int k_snapshot(ctx *c, yaml_node_t *v, const char *path) { return WALK(c, v, path, SNAPSHOT_KEYS); }

static int k_passwords_file(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->rbac.passwords_file);
}

static const key_def RBAC_KEYS[] = {{"passwords_file", k_passwords_file}};
static int k_rbac(ctx *c, yaml_node_t *v, const char *path) { return WALK(c, v, path, RBAC_KEYS); }

static int k_secrets_dir(ctx *c, yaml_node_t *v, const char *path) {
    return get_string(c, v, path, &c->cfg->secrets_dir);
}

static const key_def TOP_KEYS[] = {{"listen", k_listen},
                                   {"api_token", k_api_token},
                                   {"max_body_bytes", k_max_body},
                                   {"log_level", k_log_level},
                                   {"store", k_store},
                                   {"source", k_source},
                                   {"apply", k_apply},
                                   {"snapshot", k_snapshot},
                                   {"rbac", k_rbac},
                                   {"secrets_dir", k_secrets_dir},
                                   {"api_allowed_hosts", k_allowed_hosts},
                                   {"api_tls_cert_file", k_tls_cert},
                                   {"api_tls_key_file", k_tls_key},
                                   {"api_max_connections", k_max_conns},
                                   {"api_max_connections_per_client", k_max_conns_client},
                                   {"api_header_timeout_ms", k_header_timeout}};

/* ---- load ---------------------------------------------------------------- */

void mcdc_config_defaults(mcdc_config *out) {
    memset(out, 0, sizeof *out);
    out->listen_host = mcdc_xstrdup(HTTP_DEFAULT_ADDRESS);
    out->listen_port = HTTP_DEFAULT_PORT;
    out->api_token = mcdc_xstrdup("");
    out->max_body_bytes = HTTP_DEFAULT_MAX_BODY;
    out->api_tls_cert_file = mcdc_xstrdup("");
    out->api_tls_key_file = mcdc_xstrdup("");
    out->api_max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    out->api_max_connections_per_client = HTTP_DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
    out->api_header_timeout_ms = HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    out->log_level = MCDC_LOG_INFO;
    out->store.type = mcdc_xstrdup("sqlite");
    out->store.path = mcdc_xstrdup("mcdc.db");
    out->store.endpoints = mcdc_xstrdup("");
    out->store.prefix = mcdc_xstrdup("mcdc");
    out->store.username = mcdc_xstrdup("");
    out->store.password = mcdc_xstrdup("");
    out->store.lease_ttl_s = 5;
    out->store.instance_id = mcdc_xstrdup("");
    out->store.advertise = mcdc_xstrdup("");
    out->source.etcd.endpoints = mcdc_xstrdup("127.0.0.1:2379");
    out->source.etcd.root_path = mcdc_xstrdup("by-dev");
    out->source.etcd.username = mcdc_xstrdup("");
    out->source.etcd.password = mcdc_xstrdup("");
    out->source.mq.type = mcdc_xstrdup("kafka");
    while (mq_type(out->source.mq.n_sections)) out->source.mq.n_sections++;
    out->source.mq.sections = mcdc_xcalloc(out->source.mq.n_sections, sizeof *out->source.mq.sections);
    for (size_t i = 0; i < out->source.mq.n_sections; i++)
        out->source.mq.sections[i].type = mcdc_xstrdup(mq_type(i));
    out->source.channel_prefix = mcdc_xstrdup("");
    out->source.dml_channels = 16;
    out->source.milvus.address = mcdc_xstrdup("");
    out->source.milvus.username = mcdc_xstrdup("");
    out->source.milvus.password = mcdc_xstrdup("");
    out->source.milvus.tls = false;
    out->apply.batch_rows = 5000;
    out->apply.batch_bytes = 0;      /* a task's share (pipeline/budget.h) */
    out->apply.inflight_calls = 4;
    out->apply.inflight_bytes = 0;   /* a task's share */
    out->apply.retry_max_ms = 30000;
    out->snapshot.page_rows = 8192;
    out->snapshot.page_bytes = 16 * 1024 * 1024;
    out->snapshot.pages_in_flight = 4;
    out->snapshot.readers = 2;
    out->snapshot.resync_on_bulk_insert = true;
    out->snapshot.progress_log_s = 10;
    out->rbac.passwords_file = mcdc_xstrdup("");
    out->secrets_dir = mcdc_xstrdup("");
}

/* An etcd store's instances forward API requests to each other: without
 * store.advertise, the API's own address, when that is one another host can
 * reach (not every interface, not "any port"). */
static int default_advertise(const char *name, mcdc_config *cfg, mcdc_err *err) {
    if (strcmp(cfg->store.type, "etcd") != 0 || cfg->store.advertise[0]) return 0;
    const char *h = cfg->listen_host;
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "[::]") == 0 || cfg->listen_port == 0)
        return mcdc_errf(err, MCDC_EINVAL,
                         "%s: store.advertise: missing; listen (%s:%u) names no address other instances can reach, "
                         "so give the URL they reach this one's API at, e.g. http://10.0.0.5:8444",
                         name, h, (unsigned)cfg->listen_port);
    mcdc_buf b = MCDC_BUF_INIT;
    bool v6 = strchr(h, ':') != NULL && h[0] != '[';
    mcdc_buf_printf(&b, "%s://%s%s%s:%u", cfg->api_tls_cert_file[0] ? "https" : "http", v6 ? "[" : "", h,
                    v6 ? "]" : "", (unsigned)cfg->listen_port);
    set_str(&cfg->store.advertise, mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    return 0;
}

int mcdc_config_parse(const char *name, const char *text, size_t len, mcdc_config *out, mcdc_err *err) {
    mcdc_config_defaults(out);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        mcdc_config_free(out);
        return mcdc_errf(err, MCDC_ENOMEM, "%s: cannot start the YAML parser", name);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        /* Where the broken construct began (the context) is where the
         * mistake usually is; the problem mark is often the next line. */
        const yaml_mark_t *mark = parser.context ? &parser.context_mark : &parser.problem_mark;
        size_t line = (parser.error == YAML_READER_ERROR ? 0 : mark->line) + 1;
        mcdc_errf(err, MCDC_EINVAL, "%s:%zu: YAML syntax: %s%s%s%s", name, line,
                  parser.problem ? parser.problem : "unreadable", parser.context ? " (" : "",
                  parser.context ? parser.context : "", parser.context ? ")" : "");
        yaml_parser_delete(&parser);
        mcdc_config_free(out);
        return -1;
    }
    ctx c = {name, &doc, out, err};
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        if (root->type != YAML_MAPPING_NODE && !is_null(root))
            rc = fail(&c, root, "", "want a mapping of keys (listen, store, source, ...)");
        else rc = WALK(&c, root, "", TOP_KEYS);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!rc) rc = default_advertise(name, out, err);
    if (!rc) {
        http_config hc = mcdc_config_http(out);
        mcdc_err why;
        if (http_config_check(&hc, &why)) rc = mcdc_errf(err, MCDC_EINVAL, "%s: %s", name, why.msg);
    }
    if (rc) {
        mcdc_config_free(out);
        return -1;
    }
    /* Milvus names its channels after msgChannel.chanNamePrefix.cluster,
     * which is rootPath unless someone changed it. */
    if (!out->source.channel_prefix[0]) set_str(&out->source.channel_prefix, out->source.etcd.root_path);
    return 0;
}

int mcdc_config_load(const char *path, mcdc_config *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    mcdc_buf b = MCDC_BUF_INIT;
    int got = mcdc_buf_read_file(&b, path);
    int rc = got == -1 ? mcdc_errf(err, MCDC_EIO, "%s: cannot open the config file: %s", path, strerror(errno))
             : got     ? mcdc_errf(err, MCDC_EIO, "%s: cannot read the config file", path)
                       : mcdc_config_parse(path, b.len ? (const char *)b.data : "", b.len, out, err);
    /* The text may hold passwords. */
    mcdc_secret_wipe(b.data, b.len);
    mcdc_buf_free(&b);
    return rc;
}

void mcdc_config_free(mcdc_config *c) {
    if (!c) return;
    free(c->listen_host);
    mcdc_secret_free(c->api_token);
    for (size_t i = 0; i < c->n_api_allowed_hosts; i++) free(c->api_allowed_hosts[i]);
    free(c->api_allowed_hosts);
    free(c->api_tls_cert_file);
    free(c->api_tls_key_file);
    free(c->store.type);
    free(c->store.path);
    free(c->store.endpoints);
    free(c->store.prefix);
    free(c->store.username);
    mcdc_secret_free(c->store.password);
    free(c->store.instance_id);
    free(c->store.advertise);
    free(c->source.etcd.endpoints);
    free(c->source.etcd.root_path);
    free(c->source.etcd.username);
    mcdc_secret_free(c->source.etcd.password);
    free(c->source.mq.type);
    for (size_t i = 0; i < c->source.mq.n_sections; i++) {
        mcdc_config_mq_section *sec = &c->source.mq.sections[i];
        for (size_t k = 0; k < sec->n_settings; k++) {
            free((char *)sec->settings[k].key);
            /* Any of them may be a password or a token. */
            mcdc_secret_free((char *)sec->settings[k].value);
        }
        free(sec->settings);
        free(sec->type);
    }
    free(c->source.mq.sections);
    free(c->source.channel_prefix);
    free(c->source.milvus.address);
    free(c->source.milvus.username);
    mcdc_secret_free(c->source.milvus.password);
    free(c->rbac.passwords_file);
    free(c->secrets_dir);
    memset(c, 0, sizeof *c);
}

http_config mcdc_config_http(const mcdc_config *c) {
    return (http_config){.address = c->listen_host,
                         .port = c->listen_port,
                         .api_token = c->api_token,
                         .max_body_bytes = c->max_body_bytes,
                         .allowed_hosts = (const char *const *)c->api_allowed_hosts,
                         .n_allowed_hosts = c->n_api_allowed_hosts,
                         .tls_cert_file = c->api_tls_cert_file,
                         .tls_key_file = c->api_tls_key_file,
                         .max_connections = c->api_max_connections,
                         .max_connections_per_client = c->api_max_connections_per_client,
                         .header_timeout_ms = c->api_header_timeout_ms};
}

mq_config mcdc_config_mq(const mcdc_config *c, const char *type) {
    if (!type) type = c->source.mq.type;
    for (size_t i = 0; i < c->source.mq.n_sections; i++) {
        const mcdc_config_mq_section *sec = &c->source.mq.sections[i];
        if (strcmp(sec->type, type) == 0) return (mq_config){type, sec->settings, sec->n_settings};
    }
    return (mq_config){type, NULL, 0};
}
