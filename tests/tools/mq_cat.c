/* mq_cat.c — a test entry point to mcdc's message-queue readers (src/mq):
 * opens one channel on any driver (kafka, pulsar) at a start position and
 * prints every message as one JSON line: the decoded change (mcdc's own
 * decoder) plus "channel" and "position" in the driver's text form. What the
 * integration tests check is therefore exactly what mcdc reads.
 *
 * usage: mq_cat --mq kafka|pulsar --address ADDR --channel NAME
 *               [--from earliest|latest|at:POS|after:POS] [--follow] [--timeticks]
 *               [--pk FIELD] [--rows] [--set KEY=VALUE]... [--timeout-ms N]
 *        mq_cat --mq ... --address ... --channel NAME --last
 *
 * Without --follow it stops at the first end of channel (MQ_END). --follow
 * reads until SIGINT/SIGTERM, or until --timeout-ms without a message.
 * TimeTicks are left out unless --timeticks ({"kind":"timetick",...}).
 * Transient reader trouble (a broker restart) goes to stderr as
 * "transient: ..." lines. --last prints the channel's last position or "none".
 * Exit 1 on a reader error or a message that does not decode. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "mq/mq.h"
#include "source/change_json.h"
#include "source/decode.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int s) {
    (void)s;
    g_stop = 1;
}

static int usage(void) {
    fprintf(stderr, "usage: mq_cat --mq kafka|pulsar --address ADDR --channel NAME [--from earliest|latest|at:POS|"
                    "after:POS] [--follow] [--timeticks] [--pk FIELD] [--rows] [--set K=V]... [--timeout-ms N] [--last]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *type = NULL, *address = NULL, *channel = NULL, *from = "earliest", *pk = NULL;
    int follow = 0, timeticks = 0, rows = 0, last = 0;
    long timeout_ms = 0;
    mq_kv extra[16];
    size_t n_extra = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--follow") == 0) follow = 1;
        else if (strcmp(a, "--timeticks") == 0) timeticks = 1;
        else if (strcmp(a, "--rows") == 0) rows = 1;
        else if (strcmp(a, "--last") == 0) last = 1;
        else if (!v) return usage();
        else if (strcmp(a, "--mq") == 0) type = argv[++i];
        else if (strcmp(a, "--address") == 0) address = argv[++i];
        else if (strcmp(a, "--channel") == 0) channel = argv[++i];
        else if (strcmp(a, "--from") == 0) from = argv[++i];
        else if (strcmp(a, "--pk") == 0) pk = argv[++i];
        else if (strcmp(a, "--timeout-ms") == 0) timeout_ms = strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--set") == 0 && n_extra < 15) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) return usage();
            *eq = '\0';
            extra[n_extra++] = (mq_kv){kv, eq + 1};
        } else return usage();
    }
    if (!type || !address || !channel) return usage();
    /* Keys are those of source.mq.<type> (tls_ca); the older spelling
     * "pulsar.tls.ca" is taken too. */
    size_t tl = strlen(type);
    for (size_t k = 0; k < n_extra; k++) {
        char *key = (char *)extra[k].key;
        if (strncmp(key, type, tl) == 0 && key[tl] == '.') key += tl + 1;
        for (char *d = key; *d; d++)
            if (*d == '.') *d = '_';
        extra[k].key = key;
    }
    extra[n_extra++] = (mq_kv){"address", address};
    mq_config cfg = {.type = type, .settings = extra, .n_settings = n_extra};
    mcdc_err err;

    if (last) {
        mq_msgid id;
        bool exists;
        if (mq_last_position(&cfg, channel, &id, &exists, 10000, &err)) {
            fprintf(stderr, "mq_cat: %s\n", err.msg);
            return 1;
        }
        char text[96] = "none";
        if (exists) mq_msgid_format(type, &id, text, sizeof text);
        puts(text);
        return 0;
    }

    mq_start start = {.kind = MQ_START_EARLIEST};
    if (strcmp(from, "latest") == 0) start.kind = MQ_START_LATEST;
    else if (strncmp(from, "at:", 3) == 0 || strncmp(from, "after:", 6) == 0) {
        start.kind = from[1] == 't' ? MQ_START_AT : MQ_START_AFTER;
        if (mq_msgid_parse(type, strchr(from, ':') + 1, &start.at, &err)) {
            fprintf(stderr, "mq_cat: %s\n", err.msg);
            return 2;
        }
    } else if (strcmp(from, "earliest") != 0) return usage();

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN); /* as mcdc itself: a TLS write to a closed peer must fail, not kill */
    mq_reader *r = mq_open(&cfg, channel, &start, &err);
    if (!r) {
        fprintf(stderr, "mq_cat: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    char said[MCDC_ERR_MSG_MAX + 64] = "";
    uint64_t idle_since = mcdc_now_mono_ms();
    while (!g_stop) {
        mq_message m;
        mq_result res = mq_next(r, &m, 200, &err);
        if (res == MQ_ERROR) {
            fprintf(stderr, "mq_cat: channel %s: %s\n", channel, err.msg);
            rc = 1;
            break;
        }
        const char *t = mq_last_transient_error(r);
        if (t && strcmp(t, said) != 0) {
            fprintf(stderr, "transient: %s\n", t);
            snprintf(said, sizeof said, "%s", t);
        }
        if (res == MQ_END && !follow) break;
        if (res != MQ_MESSAGE) {
            if (follow && timeout_ms > 0 && mcdc_now_mono_ms() - idle_since >= (uint64_t)timeout_ms) break;
            continue;
        }
        idle_since = mcdc_now_mono_ms();
        said[0] = '\0';
        char pos[96];
        mq_msgid_format(type, &m.id, pos, sizeof pos);
        change c;
        if (decode_change(m.payload, m.len, &c, &err)) {
            fprintf(stderr, "mq_cat: channel %s position %s: %s\n", channel, pos, err.msg);
            rc = 1;
            break;
        }
        if (c.kind == CHANGE_TIMETICK && !timeticks) {
            change_free(&c);
            continue;
        }
        json_t *j = change_to_json(&c, pk, rows);
        json_object_set_new(j, "channel", json_string(channel));
        json_object_set_new(j, "position", json_string(pos));
        char *s = json_dumps(j, JSON_COMPACT);
        puts(s);
        fflush(stdout);
        free(s);
        json_decref(j);
        change_free(&c);
    }
    mq_close(r);
    return rc;
}
