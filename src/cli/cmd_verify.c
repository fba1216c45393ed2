/* cmd_verify.c — `mcdc verify`: is the target's copy of some collections the
 * source's, row by row? The command-line face of src/verify (verify.h says
 * how it compares); a progress bar on a terminal, plain lines otherwise, a
 * summary or --json at the end, and an exit code a script can act on. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secret.h"
#include "cli/cli.h"
#include "verify/verify.h"
#include "verify/verify_milvus.h"

static const char USAGE[] =
    "usage: mcdc verify --source HOST:PORT --target HOST:PORT --collection NAME [options]\n"
    "\n"
    "Compares collections of the source and the target Milvus row by row: primary keys, every\n"
    "scalar, every vector, and count(*) per partition. Both sides are read in primary-key order,\n"
    "partitions in parallel; what differs is read again (--rechecks) before it is reported, so\n"
    "writes still in flight do not show as differences.\n"
    "\n"
    "  --source HOST:PORT        the source Milvus's proxy (gRPC)\n"
    "  --target HOST:PORT        the target Milvus's proxy\n"
    "  --source-token-env VAR    an environment variable holding the source's \"user:password\"\n"
    "                            or API key (never on the command line); --target-token-env VAR\n"
    "  --source-tls, --target-tls  connect with TLS\n"
    "  --db NAME                 the database (default: default)\n"
    "  --collection NAME         a collection to compare; repeat for several\n"
    "  --target-db NAME, --target-collection NAME\n"
    "                            the target's names when a task maps them (one --collection only\n"
    "                            for --target-collection)\n"
    "  --page-rows N             rows per page and side (default 4096, at most 16384)\n"
    "  --readers N               partitions read at once (default 2)\n"
    "  --rechecks N              rounds of re-reading what differed (default 2)\n"
    "  --recheck-wait S          seconds before each round (default 2)\n"
    "  --json                    print the result as one JSON object\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit codes: 0 equal, 1 different, 2 could not compare (bad flags, a server that cannot be\n"
    "reached, a collection that does not exist: the message names it).\n";

#define MAX_COLLECTIONS 64

typedef struct verify_opts {
    const char *source, *target, *source_token_env, *target_token_env, *db, *target_db, *target_collection;
    const char *collections[MAX_COLLECTIONS];
    size_t n_collections;
    int source_tls, target_tls, json;
    verify_options v;
} verify_opts;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static int number(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        fprintf(stderr, "mcdc verify: %s wants a number from %ld to %ld, not '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* 0 to run, 1 for --help (done), -1 for bad flags. */
static int parse(int argc, char **argv, verify_opts *o) {
    static const struct option LONG[] = {
        {"source", required_argument, 0, 's'},        {"target", required_argument, 0, 't'},
        {"source-token-env", required_argument, 0, 1}, {"target-token-env", required_argument, 0, 2},
        {"source-tls", no_argument, 0, 3},             {"target-tls", no_argument, 0, 4},
        {"db", required_argument, 0, 'd'},             {"collection", required_argument, 0, 'c'},
        {"target-db", required_argument, 0, 5},        {"target-collection", required_argument, 0, 6},
        {"page-rows", required_argument, 0, 7},        {"readers", required_argument, 0, 8},
        {"rechecks", required_argument, 0, 9},         {"recheck-wait", required_argument, 0, 10},
        {"json", no_argument, 0, 'j'},                 {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    o->v = (verify_options){.page_rows = 4096, .readers = 2, .rechecks = 2, .recheck_wait_ms = 2000};
    optind = 1;
    opterr = 0;
    int ch;
    long n;
    while ((ch = getopt_long(argc, argv, ":h", LONG, NULL)) != -1) {
        switch (ch) {
        case 's': o->source = optarg; break;
        case 't': o->target = optarg; break;
        case 1: o->source_token_env = optarg; break;
        case 2: o->target_token_env = optarg; break;
        case 3: o->source_tls = 1; break;
        case 4: o->target_tls = 1; break;
        case 'd': o->db = optarg; break;
        case 'c':
            if (o->n_collections == MAX_COLLECTIONS) {
                fprintf(stderr, "mcdc verify: --collection: at most %d at once\n", MAX_COLLECTIONS);
                return -1;
            }
            if (!*optarg) {
                fprintf(stderr, "mcdc verify: --collection wants a name\n");
                return -1;
            }
            o->collections[o->n_collections++] = optarg;
            break;
        case 5: o->target_db = optarg; break;
        case 6: o->target_collection = optarg; break;
        case 7:
            if (number("--page-rows", optarg, 1, 16384, &n)) return -1;
            o->v.page_rows = (uint32_t)n;
            break;
        case 8:
            if (number("--readers", optarg, 1, 64, &n)) return -1;
            o->v.readers = (unsigned)n;
            break;
        case 9:
            if (number("--rechecks", optarg, 0, 100, &n)) return -1;
            o->v.rechecks = (unsigned)n;
            break;
        case 10:
            if (number("--recheck-wait", optarg, 0, 3600, &n)) return -1;
            o->v.recheck_wait_ms = (uint32_t)n * 1000;
            break;
        case 'j': o->json = 1; break;
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "mcdc verify: %s needs a value\n", argv[optind - 1]); return -1;
        default:
            fprintf(stderr, "mcdc verify: unknown option '%s' (see mcdc verify --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mcdc verify: unexpected argument '%s' (see mcdc verify --help)\n", argv[optind]);
        return -1;
    }
    const char *missing = !o->source ? "--source" : !o->target ? "--target" : !o->n_collections ? "--collection" : NULL;
    if (missing) {
        fprintf(stderr, "mcdc verify: %s is required (see mcdc verify --help)\n", missing);
        return -1;
    }
    if (o->target_collection && o->n_collections != 1) {
        fprintf(stderr, "mcdc verify: --target-collection goes with exactly one --collection\n");
        return -1;
    }
    const char *flags[2] = {"--source", "--target"}, *vals[2] = {o->source, o->target};
    for (int i = 0; i < 2; i++) {
        mcdc_addr a;
        mcdc_err err;
        if (mcdc_addr_parse(vals[i], strlen(vals[i]), 0, 0, &a, &err)) {
            fprintf(stderr, "mcdc verify: %s '%s': %s\n", flags[i], vals[i], err.msg);
            return -1;
        }
    }
    return 0;
}

/* A side's credentials from the environment variable the flag named:
 * "user:password" or an API key. The copies are wiped by creds_free. */
typedef struct creds {
    char *user, *password, *api_key;
} creds;

static int creds_from_env(const char *flag, const char *var, creds *c) {
    memset(c, 0, sizeof *c);
    if (!var) return 0;
    const char *v = getenv(var);
    if (!v || !*v) {
        fprintf(stderr, "mcdc verify: %s: environment variable %s is not set\n", flag, var);
        return -1;
    }
    const char *colon = strchr(v, ':');
    if (colon) {
        c->user = strndup(v, (size_t)(colon - v));
        c->password = strdup(colon + 1);
    } else {
        c->api_key = strdup(v);
    }
    return 0;
}

static void creds_free(creds *c) {
    mcdc_secret_free(c->user);
    mcdc_secret_free(c->password);
    mcdc_secret_free(c->api_key);
}

/* ---- one collection, on a thread of its own; the main thread shows its
 * progress ---- */
typedef struct job {
    verify_milvus_cfg src, dst;
    verify_options opt;
    verify_progress prog;
    verify_result res;
    mcdc_err err;
    int rc;
    uint64_t started_ms, ended_ms;
    _Atomic int done;
} job;

static bool stopping(void *ud) {
    (void)ud;
    return g_stop != 0;
}

static void *job_run(void *arg) {
    job *j = arg;
    verify_hooks hooks = {.stopping = stopping};
    j->rc = verify_run(&verify_milvus_ops, &j->src, &verify_milvus_ops, &j->dst, &j->opt, &hooks, &j->prog, &j->res,
                       &j->err);
    j->ended_ms = mcdc_now_mono_ms();
    atomic_store(&j->done, 1);
    return NULL;
}

static void show_progress(const job *j, const char *name, bool tty, bool final) {
    uint64_t total = atomic_load(&j->prog.rows_total), done = atomic_load(&j->prog.rows_compared);
    double s = (double)((final ? j->ended_ms : mcdc_now_mono_ms()) - j->started_ms) / 1000.0;
    double rate = s > 0 ? (double)done / s : 0;
    int phase = atomic_load(&j->prog.phase);
    int pct = total ? (int)(done * 100 / total > 100 ? 100 : done * 100 / total) : (phase >= VERIFY_RECHECKING ? 100 : 0);
    if (tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r%s [%s] %3d%% %" PRIu64 "/%" PRIu64 " rows %8.0f rows/s %-10s", name, bar, pct, done,
                total, rate, verify_phase_name((verify_phase)phase));
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "verify %s: %s, %" PRIu64 " of %" PRIu64 " rows compared (%d%%), %.0f rows/s\n", name,
                verify_phase_name((verify_phase)phase), done, total, pct, rate);
    }
    fflush(stderr);
}

/* A key for a terminal: a varchar key quoted, its control characters as
 * '?' (a key is the source's data, not ours to send to a terminal). */
static void key_text(mcdc_buf *b, const verify_key *k) {
    if (!k->s) {
        mcdc_buf_printf(b, "%" PRId64, k->i);
        return;
    }
    mcdc_buf_putc(b, '"');
    for (const char *p = k->s; *p; p++) mcdc_buf_putc(b, (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : (uint8_t)*p);
    mcdc_buf_putc(b, '"');
}

static json_t *result_json(const job *j, const char *src_name, const char *dst_name) {
    json_t *o = json_pack("{s:s, s:s}", "source", src_name, "target", dst_name);
    if (j->rc) {
        json_object_set_new(o, "error", json_string(j->err.msg));
        return o;
    }
    const verify_result *r = &j->res;
    double s = (double)(j->ended_ms - j->started_ms) / 1000.0;
    json_t *rj = verify_result_json(r);
    json_object_update(o, rj);
    json_decref(rj);
    json_object_set_new(o, "seconds", json_real(s));
    json_object_set_new(o, "rows_per_s", json_real(s > 0 ? (double)r->source_keys / s : 0));
    return o;
}

static void print_summary(const job *j, const char *src_name, const char *dst_name) {
    if (j->rc) {
        printf("%s -> %s: could not compare: %s\n", src_name, dst_name, j->err.msg);
        return;
    }
    const verify_result *r = &j->res;
    double s = (double)(j->ended_ms - j->started_ms) / 1000.0;
    printf("%s -> %s: %s\n", src_name, dst_name, verify_result_equal(r) ? "equal" : "DIFFERENT");
    printf("  rows (count(*)): source %" PRIu64 ", target %" PRIu64 "; keys: source %" PRIu64 ", target %" PRIu64
           "; %zu partition%s; %.1f s, %.0f rows/s\n",
           r->source_rows, r->target_rows, r->source_keys, r->target_keys, r->partitions, r->partitions == 1 ? "" : "s",
           s, s > 0 ? (double)r->source_keys / s : 0);
    for (int k = 0; k < VERIFY_N_KINDS; k++) {
        printf("  %-10s %" PRIu64, verify_kind_name((verify_kind)k), r->count[k]);
        if (r->n_example[k]) {
            mcdc_buf b = {0};
            for (size_t i = 0; i < r->n_example[k]; i++) {
                if (i) mcdc_buf_printf(&b, ", ");
                key_text(&b, &r->example[k][i]);
            }
            printf("   first keys: %s", mcdc_buf_cstr(&b));
            mcdc_buf_free(&b);
        }
        putchar('\n');
    }
    if (r->unconfirmed)
        printf("  %" PRIu64 " more differences were seen but not re-checked (more than the suspects kept)\n",
               r->unconfirmed);
}

int cmd_verify(int argc, char **argv) {
    verify_opts o = {0};
    int p = parse(argc, argv, &o);
    if (p) return p > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    mcdc_log_set_level(MCDC_LOG_WARN);
    creds sc, dc;
    if (creds_from_env("--source-token-env", o.source_token_env, &sc)) return CLI_EXIT_USAGE;
    if (creds_from_env("--target-token-env", o.target_token_env, &dc)) {
        creds_free(&sc);
        return CLI_EXIT_USAGE;
    }
    milvus_config src = {.address = o.source, .tls = o.source_tls, .username = sc.user, .password = sc.password,
                         .api_key = sc.api_key, .role = "source"};
    milvus_config dst = {.address = o.target, .tls = o.target_tls, .username = dc.user, .password = dc.password,
                         .api_key = dc.api_key, .role = "target"};
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    bool tty = !o.json && isatty(STDERR_FILENO);
    const char *db = o.db && *o.db ? o.db : "default";
    const char *tdb = o.target_db && *o.target_db ? o.target_db : db;
    int exit_code = CLI_EXIT_OK;
    json_t *all = json_array();
    for (size_t i = 0; i < o.n_collections && !g_stop; i++) {
        const char *tcoll = o.target_collection ? o.target_collection : o.collections[i];
        char src_name[512], dst_name[512];
        snprintf(src_name, sizeof src_name, "%s.%s", db, o.collections[i]);
        snprintf(dst_name, sizeof dst_name, "%s.%s", tdb, tcoll);
        job *j = mcdc_xcalloc(1, sizeof *j);
        j->src = (verify_milvus_cfg){&src, db, o.collections[i]};
        j->dst = (verify_milvus_cfg){&dst, tdb, tcoll};
        j->opt = o.v;
        j->started_ms = mcdc_now_mono_ms();
        pthread_t t;
        if (pthread_create(&t, NULL, job_run, j) != 0) {
            job_run(j);
        } else {
            uint64_t last = mcdc_now_mono_ms();
            while (!atomic_load(&j->done)) {
                mcdc_sleep_ms(tty ? 200 : 100);
                if (tty || mcdc_now_mono_ms() - last >= 5000) {
                    if (!o.json) show_progress(j, src_name, tty, false);
                    last = mcdc_now_mono_ms();
                }
            }
            pthread_join(t, NULL);
        }
        if (!o.json && (tty || !j->rc)) show_progress(j, src_name, tty, true);
        if (o.json) json_array_append_new(all, result_json(j, src_name, dst_name));
        else print_summary(j, src_name, dst_name);
        if (j->rc) exit_code = CLI_EXIT_USAGE;
        else if (!verify_result_equal(&j->res) && exit_code == CLI_EXIT_OK) exit_code = CLI_EXIT_FAIL;
        verify_result_free(&j->res);
        free(j);
    }
    if (g_stop && exit_code == CLI_EXIT_OK) exit_code = CLI_EXIT_USAGE;
    if (o.json) {
        json_t *doc = json_pack("{s:b, s:o}", "equal", exit_code == CLI_EXIT_OK, "collections", all);
        char *text = json_dumps(doc, JSON_INDENT(2));
        puts(text);
        free(text);
        json_decref(doc);
    } else {
        json_decref(all);
    }
    creds_free(&sc);
    creds_free(&dc);
    return exit_code;
}
