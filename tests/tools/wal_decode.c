/* wal_decode.c — a test entry point to mcdc's decoder (until `mcdc dump`
 * reads Kafka itself): reads records as lines "<channel>\t<offset>\t<hex>"
 * on stdin and prints each as one JSON line with channel and offset added.
 * A record that does not decode is reported with channel, offset and reason
 * on stderr, and the exit code is 1 — never skipped.
 *
 * usage: wal_decode [--rows] [--pk FIELD] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "source/change_json.h"
#include "source/decode.h"

static int unhex(const char *s, size_t n, mcdc_buf *out) {
    if (n % 2) return -1;
    for (size_t i = 0; i < n; i += 2) {
        unsigned v;
        if (sscanf(s + i, "%2x", &v) != 1) return -1;
        mcdc_buf_putc(out, (uint8_t)v);
    }
    return 0;
}

int main(int argc, char **argv) {
    int rows = 0;
    const char *pk = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0) rows = 1;
        else if (strcmp(argv[i], "--pk") == 0 && i + 1 < argc) pk = argv[++i];
        else {
            fprintf(stderr, "usage: wal_decode [--rows] [--pk FIELD] < records\n");
            return 2;
        }
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    mcdc_buf bytes = MCDC_BUF_INIT;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) {
            fprintf(stderr, "wal_decode: malformed input line (want channel<TAB>offset<TAB>hex)\n");
            rc = 2;
            break;
        }
        *t1 = *t2 = '\0';
        const char *channel = line, *offset = t1 + 1, *hex = t2 + 1;
        mcdc_buf_reset(&bytes);
        change c;
        mcdc_err err;
        if (unhex(hex, strlen(hex), &bytes)) {
            fprintf(stderr, "wal_decode: channel %s offset %s: payload is not hex\n", channel, offset);
            rc = 2;
            break;
        }
        if (decode_change(bytes.data, bytes.len, &c, &err)) {
            fprintf(stderr, "channel %s offset %s: %s\n", channel, offset, err.msg);
            rc = 1;
            break;
        }
        json_t *j = change_to_json(&c, pk, rows);
        json_object_set_new(j, "channel", json_string(channel));
        json_object_set_new(j, "position", json_integer(strtoll(offset, NULL, 10)));
        char *s = json_dumps(j, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(j);
        change_free(&c);
    }
    free(line);
    mcdc_buf_free(&bytes);
    return rc;
}
