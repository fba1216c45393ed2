/* api_client.c — `POST /cdc` through libcurl (see api_client.h). */
#include "cli/api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/secret.h"
#include "server/http.h"

/* A reply larger than this is not one mcdc sends (a list of many tasks is
 * far below it): something else answers, and memory is not spent on it. */
#define REPLY_MAX (64u * 1024 * 1024)

struct api_client {
    char base[300];  /* "http://127.0.0.1:8444": what messages name */
    char url[310];   /* base + "/cdc" */
    char *token;     /* secret; NULL for none */
    char *cacert;
    long connect_timeout_ms, timeout_ms;
};

api_client *api_client_open(const api_client_config *cfg, mcdc_err *err) {
    const char *s = cfg->server, *scheme = "http";
    if (!s || !s[0]) {
        mcdc_errf(err, MCDC_EINVAL, "the server address is empty; want http://host:port or https://host:port");
        return NULL;
    }
    if (strncasecmp(s, "https://", 8) == 0) scheme = "https", s += 8;
    else if (strncasecmp(s, "http://", 7) == 0) s += 7;
    else if (strstr(s, "://")) {
        mcdc_errf(err, MCDC_EINVAL, "'%.200s': want http:// or https://", cfg->server);
        return NULL;
    }
    size_t len = strlen(s);
    if (len && s[len - 1] == '/') len--; /* "http://h:8444/" is the same server */
    if (memchr(s, '/', len)) {
        mcdc_errf(err, MCDC_EINVAL, "'%.200s': want the server alone (http://host:port), no path; mcdc adds /cdc",
                  cfg->server);
        return NULL;
    }
    mcdc_addr a;
    if (mcdc_addr_parse(s, len, MCDC_ADDR_PORT_OPTIONAL, HTTP_DEFAULT_PORT, &a, err)) {
        mcdc_err_prefix(err, "'%.200s'", cfg->server);
        return NULL;
    }
    api_client *c = mcdc_xcalloc(1, sizeof *c);
    char hostport[280];
    mcdc_addr_format(&a, hostport, sizeof hostport);
    snprintf(c->base, sizeof c->base, "%s://%s", scheme, hostport);
    snprintf(c->url, sizeof c->url, "%s/cdc", c->base);
    if (cfg->token && cfg->token[0]) c->token = mcdc_xstrdup(cfg->token);
    if (cfg->cacert && cfg->cacert[0]) c->cacert = mcdc_xstrdup(cfg->cacert);
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 120000;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return c;
}

void api_client_close(api_client *c) {
    if (!c) return;
    mcdc_secret_free(c->token);
    free(c->cacert);
    free(c);
    curl_global_cleanup();
}

const char *api_client_url(const api_client *c) { return c->url; }

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    mcdc_buf *b = ud;
    if (b->len + n * size > REPLY_MAX) return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    mcdc_buf_append(b, p, n * size);
    return n * size;
}

/* The server's words, printable only: a message may quote a key of the
 * request, and the terminal it lands on should not take it as a command. */
static void printable(char *out, size_t cap, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    out[i] = 0;
}

/* The reply's data, or NULL with MCDC_EREMOTE. */
static json_t *read_envelope(const api_client *c, long status, const mcdc_buf *body, mcdc_err *err) {
    json_t *doc = body->len ? json_loadb((const char *)body->data, body->len, 0, NULL) : NULL;
    const json_t *code = json_object_get(doc, "code");
    if (!json_is_object(doc) || !json_is_integer(code)) {
        json_decref(doc);
        mcdc_errf(err, MCDC_EREMOTE, "HTTP %ld from %s without milvus-cdc's {\"code\": ...} reply; is that mcdc?",
                  status, c->url);
        return NULL;
    }
    if (status == 200 && json_integer_value(code) == 200) {
        json_t *data = json_object_get(doc, "data");
        data = data && !json_is_null(data) ? json_incref(data) : json_object();
        json_decref(doc);
        return data;
    }
    const char *m = json_string_value(json_object_get(doc, "message"));
    char shown[MCDC_ERR_MSG_MAX];
    printable(shown, sizeof shown - 32, m && m[0] ? m : "the server gave no message");
    /* An HTTP 200 with an error code is how milvus-cdc itself answers. */
    if (status != 200) mcdc_errf(err, MCDC_EREMOTE, "%s (HTTP %ld)", shown, status);
    else mcdc_errf(err, MCDC_EREMOTE, "%s (code %lld)", shown, (long long)json_integer_value(code));
    json_decref(doc);
    return NULL;
}

/* Whether the request went out whole: libcurl counts its bytes sent. */
static bool sent_request(CURL *h) {
    long sent = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
    return sent > 0;
}

/* Why no reply came, as api_client.h sorts it. */
static void transfer_failed(const api_client *c, CURL *h, CURLcode rc, const char *detail, mcdc_err *err) {
    const char *why = detail[0] ? detail : curl_easy_strerror(rc);
    curl_off_t connected = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
    if (rc == CURLE_WRITE_ERROR)
        mcdc_errf(err, MCDC_EREMOTE, "the reply from %s is larger than %u MiB; is that mcdc?", c->url, REPLY_MAX >> 20);
    else if (rc == CURLE_OPERATION_TIMEDOUT && connected > 0)
        mcdc_errf(err, MCDC_ETIMEOUT,
                  "%s took longer than %ld ms to answer (--timeout); the request may still have been done: %s",
                  c->base, c->timeout_ms, why);
    else if (sent_request(h))
        /* The server had the request and went away before answering (it
         * crashed, a proxy cut it): it may have been done, so this is not
         * "nothing was done", and a create must not be blindly retried. */
        mcdc_errf(err, MCDC_EREMOTE,
                  "%s took the request but gave no reply: %s; it may have been done (check with mcdc task list "
                  "before sending it again)", c->base, why);
    else
        mcdc_errf(err, MCDC_EUNAVAIL, "cannot reach %s: %s (is mcdc serve running there? --server sets the address)",
                  c->base, why);
}

json_t *api_client_call(api_client *c, const char *request_type, const json_t *request_data, long *http_status,
                        mcdc_err *err) {
    if (http_status) *http_status = 0;
    json_t *envelope = json_pack("{s:s}", "request_type", request_type);
    if (request_data) json_object_set(envelope, "request_data", (json_t *)request_data);
    /* A create request may carry the target's password: wiped after use. */
    char *body = json_dumps(envelope, JSON_COMPACT);
    json_decref(envelope);

    CURL *h = curl_easy_init();
    if (!h || !body) {
        if (h) curl_easy_cleanup(h);
        if (body) mcdc_secret_free(body);
        mcdc_errf(err, MCDC_ENOMEM, "out of memory building the request");
        return NULL;
    }
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip before a large spec */
    if (c->token) {
        size_t cap = strlen(c->token) + 32;
        char *auth = mcdc_xmalloc(cap); /* one allocation of its final size: no unwiped copy left behind */
        snprintf(auth, cap, "Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, auth);
        mcdc_secret_free(auth);
    }
    mcdc_buf reply = MCDC_BUF_INIT;
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mcdc-task");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    /* A redirect would carry the token to another server: never followed. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (c->cacert) curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);

    CURLcode rc = curl_easy_perform(h);
    json_t *data = NULL;
    if (rc != CURLE_OK) {
        transfer_failed(c, h, rc, detail, err);
    } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (http_status) *http_status = status;
        data = read_envelope(c, status, &reply, err);
    }
    for (struct curl_slist *s = headers; s; s = s->next) mcdc_secret_wipe(s->data, strlen(s->data));
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    mcdc_secret_free(body);
    mcdc_buf_free(&reply);
    return data;
}
