/* forward.c — see forward.h. */
#include "server/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/secret.h"

/* An answer of the task API is far below this (a list of many tasks); more
 * is something else answering, and memory is not spent on it. */
#define FORWARD_REPLY_MAX (64u * 1024 * 1024)
#define FORWARD_CONNECT_MS 3000

void forward_global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void forward_global_cleanup(void) { curl_global_cleanup(); }

void forward_reply_free(forward_reply *r) {
    if (!r) return;
    mcdc_buf_free(&r->body);
    r->status = 0;
    r->content_type[0] = '\0';
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    mcdc_buf *b = ud;
    if (b->len + n * size > FORWARD_REPLY_MAX) return 0; /* the transfer fails with CURLE_WRITE_ERROR */
    mcdc_buf_append(b, p, n * size);
    return n * size;
}

/* A header line "Name: value", wiped before it is freed when it holds a
 * token; NULL when it would not fit a sane header. */
static char *header_line(const char *name, const char *value) {
    if (strlen(value) > 8192 || strpbrk(value, "\r\n")) return NULL;
    size_t cap = strlen(name) + strlen(value) + 3;
    char *line = mcdc_xmalloc(cap); /* its final size at once: no unwiped copy of a token left behind */
    snprintf(line, cap, "%s: %s", name, value);
    return line;
}

int forward_cdc(const char *owner_url, const void *body, size_t len, const char *authorization, uint32_t timeout_ms,
                forward_reply *out, mcdc_err *err) {
    *out = (forward_reply){.body = MCDC_BUF_INIT};
    size_t ulen = strlen(owner_url);
    while (ulen && owner_url[ulen - 1] == '/') ulen--;
    if (!(strncasecmp(owner_url, "http://", 7) == 0 || strncasecmp(owner_url, "https://", 8) == 0) || ulen > 512)
        return mcdc_errf(err, MCDC_EUNAVAIL, "the owner's address '%.200s' is not an http(s) URL (its advertise)",
                         owner_url);
    char url[600];
    snprintf(url, sizeof url, "%.*s/cdc", (int)ulen, owner_url);

    CURL *h = curl_easy_init();
    if (!h) return mcdc_errf(err, MCDC_ENOMEM, "forwarding to %s: cannot make a request", owner_url);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, FORWARD_HEADER ": 1");
    char *line;
    if (authorization && (line = header_line("Authorization", authorization))) {
        headers = curl_slist_append(headers, line);
        mcdc_secret_free(line);
    }
    char detail[CURL_ERROR_SIZE] = "";
    char ctype_none[1] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, len ? body : ctype_none);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mcdc-forward");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < FORWARD_CONNECT_MS ? timeout_ms : FORWARD_CONNECT_MS));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);

    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        ret = mcdc_errf(err, MCDC_EUNAVAIL, "the instance that owns the task, %s, did not answer: %s", owner_url,
                        detail[0] ? detail : curl_easy_strerror(rc));
        mcdc_buf_free(&out->body);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        const char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(out->content_type, sizeof out->content_type, "%s", ct ? ct : "");
    }
    for (struct curl_slist *s = headers; s; s = s->next) mcdc_secret_wipe(s->data, strlen(s->data));
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return ret;
}
