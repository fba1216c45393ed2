/* store_etcd_keys.c — the etcd backend's key names and value formats
 * (store_etcd_int.h has the layout). Values are JSON (jansson) so an
 * operator can read them with etcdctl; msgIDs are base64 and the uint64
 * hybrid timestamps decimal strings, since JSON numbers lose precision past
 * 2^53 in most readers. A value that does not parse is reported, never
 * guessed at: resuming from a wrong position would lose or double rows. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "store/store_etcd_int.h"

static bool plain(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-';
}

void es_escape(mcdc_buf *b, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (plain(*p)) mcdc_buf_putc(b, *p);
        else mcdc_buf_printf(b, "%%%02X", *p);
    }
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

char *es_unescape(const char *s, size_t n) {
    char *out = mcdc_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[j++] = s[i];
            continue;
        }
        /* A NUL would cut the name short. */
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi >= 0 && lo >= 0 && (hi || lo)) {
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
            continue;
        }
        free(out);
        return NULL;
    }
    out[j] = '\0';
    return out;
}

const char *es_key(const etcd_store *s, mcdc_buf *b, const char *kind, const char *id, const char *sub) {
    mcdc_buf_reset(b);
    mcdc_buf_printf(b, "%s%s/", s->prefix, kind);
    es_escape(b, id);
    if (sub) {
        mcdc_buf_putc(b, '/');
        es_escape(b, sub);
    }
    return mcdc_buf_cstr(b);
}

/* ---- small JSON helpers ---- */

static json_t *msgid_json(const mq_msgid *id) {
    char *b64 = mcdc_base64_encode(id ? id->bytes : (const uint8_t *)"", id ? id->len : 0);
    json_t *j = json_string(b64);
    free(b64);
    return j;
}

static bool msgid_from(json_t *j, mq_msgid *out) {
    out->len = 0;
    if (!j) return true; /* none */
    if (!json_is_string(j)) return false;
    if (!json_string_value(j)[0]) return true; /* base64 of nothing */
    uint8_t *bytes = NULL;
    long n = mcdc_base64_decode(json_string_value(j), &bytes);
    bool ok = n >= 0 && (size_t)n <= MQ_MSGID_MAX;
    if (ok && n) memcpy(out->bytes, bytes, (size_t)n);
    if (ok) out->len = (size_t)n;
    free(bytes);
    return ok;
}

static json_t *u64_json(uint64_t v) {
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    return json_string(tmp);
}

static bool u64_from(json_t *j, uint64_t *out) {
    *out = 0;
    if (!j) return true;
    if (!json_is_string(j)) return false;
    const char *s = json_string_value(j);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-') return false;
    *out = v;
    return true;
}

static char *dump(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) abort(); /* out of memory */
    return s;
}

static json_t *load(const uint8_t *v, size_t n) { return json_loadb((const char *)v, n, JSON_REJECT_DUPLICATES, NULL); }

static char *str_of(json_t *o, const char *key, bool *ok) {
    json_t *j = json_object_get(o, key);
    if (!j) return mcdc_xstrdup("");
    if (!json_is_string(j)) {
        *ok = false;
        return mcdc_xstrdup("");
    }
    return mcdc_xstrdup(json_string_value(j));
}

/* ---- tasks ---- */

char *es_task_encode(const es_task_val *t) {
    json_t *o = json_object();
    json_object_set_new(o, "spec", json_string(t->spec_json ? t->spec_json : ""));
    json_object_set_new(o, "state", json_integer(t->state));
    json_object_set_new(o, "reason", json_string(t->reason ? t->reason : ""));
    if (t->paused_channel && t->paused_channel[0]) {
        json_object_set_new(o, "paused_channel", json_string(t->paused_channel));
        json_object_set_new(o, "paused_msgid", msgid_json(&t->paused_id));
    }
    if (t->skip_channel && t->skip_channel[0]) {
        json_object_set_new(o, "skip_channel", json_string(t->skip_channel));
        json_object_set_new(o, "skip_msgid", msgid_json(&t->skip_id));
    }
    json_object_set_new(o, "by", json_string(t->by ? t->by : ""));
    return dump(o);
}

int es_task_decode(const uint8_t *v, size_t n, es_task_val *out) {
    memset(out, 0, sizeof *out);
    json_t *o = load(v, n);
    bool ok = json_is_object(o);
    out->spec_json = str_of(o, "spec", &ok);
    out->reason = str_of(o, "reason", &ok);
    out->paused_channel = str_of(o, "paused_channel", &ok);
    out->skip_channel = str_of(o, "skip_channel", &ok);
    out->by = str_of(o, "by", &ok);
    json_t *st = json_object_get(o, "state");
    if (!json_is_integer(st)) ok = false;
    else out->state = (int)json_integer_value(st);
    if (!msgid_from(json_object_get(o, "paused_msgid"), &out->paused_id)) ok = false;
    if (!msgid_from(json_object_get(o, "skip_msgid"), &out->skip_id)) ok = false;
    json_decref(o);
    if (!ok) es_task_val_free(out);
    return ok ? 0 : -1;
}

void es_task_val_free(es_task_val *t) {
    free(t->spec_json);
    free(t->reason);
    free(t->paused_channel);
    free(t->skip_channel);
    free(t->by);
    memset(t, 0, sizeof *t);
}

/* ---- positions ---- */

char *es_pos_encode(const mq_msgid *id, uint64_t ts) {
    json_t *o = json_object();
    json_object_set_new(o, "msgid", msgid_json(id));
    json_object_set_new(o, "ts", u64_json(ts));
    return dump(o);
}

int es_pos_decode(const uint8_t *v, size_t n, mq_msgid *id, uint64_t *ts) {
    json_t *o = load(v, n);
    bool ok = json_is_object(o) && json_is_string(json_object_get(o, "msgid")) &&
              msgid_from(json_object_get(o, "msgid"), id) && u64_from(json_object_get(o, "ts"), ts);
    json_decref(o);
    return ok ? 0 : -1;
}

/* ---- bindings ---- */

char *es_binding_encode(const store_binding *b) {
    json_t *o = json_object();
    json_object_set_new(o, "db", json_string(b->target_db));
    json_object_set_new(o, "name", json_string(b->target_name));
    json_object_set_new(o, "target_id", json_integer(b->target_id));
    json_object_set_new(o, "state", json_integer(b->state));
    json_object_set_new(o, "ts", u64_json(b->ts));
    return dump(o);
}

int es_binding_decode(const uint8_t *v, size_t n, store_binding *out, char **db, char **name) {
    json_t *o = load(v, n);
    bool ok = json_is_object(o);
    *db = str_of(o, "db", &ok);
    *name = str_of(o, "name", &ok);
    json_t *tid = json_object_get(o, "target_id"), *st = json_object_get(o, "state");
    ok = ok && json_is_integer(tid) && json_is_integer(st) && u64_from(json_object_get(o, "ts"), &out->ts);
    if (ok) {
        out->target_id = (int64_t)json_integer_value(tid);
        out->state = (int)json_integer_value(st);
        out->target_db = *db;
        out->target_name = *name;
    }
    json_decref(o);
    if (!ok) {
        free(*db);
        free(*name);
        *db = *name = NULL;
    }
    return ok ? 0 : -1;
}
