/* cmd_serve.c — `mcdc serve -c mcdc.yaml`: the replication service.
 *
 * Opens the source (etcd catalog, message queue), the store, the task
 * manager (which restarts the tasks that were running) and the HTTP API, then
 * waits for SIGINT/SIGTERM. On a signal it stops the API first, then the
 * tasks; each worker saves its checkpoint on the way out, so a restart
 * resumes exactly where this run stopped. A SIGKILL loses at most the work
 * after the last checkpoint, which the replay window re-applies idempotently. */
#include <getopt.h>
#include <malloc.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cli.h"
#include "etcd/etcd.h"
#include "pipeline/task.h"
#include "pipeline/task_manager.h"
#include "server/config.h"
#include "server/http.h"
#include "source/catalog.h"
#include "store/store.h"

static volatile sig_atomic_t g_signal;
static void on_signal(int sig) { g_signal = sig; }

static const char USAGE[] =
    "usage: mcdc serve -c FILE\n"
    "\n"
    "Runs the replication service: the milvus-cdc compatible task API (POST /cdc), /healthz\n"
    "and /metrics, and the tasks stored in the configured store. Every key of FILE is\n"
    "described in docs/config.md; mcdc.example.yaml is a starting point.\n"
    "\n"
    "  -c, --config FILE   the YAML configuration (required)\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit codes: 0 after SIGINT/SIGTERM, 2 for a bad configuration (among them a listen address beyond\n"
    "loopback without api_token), or a source or store that cannot be reached.\n";

/* The configured store: the SQLite file, or the etcd shared with other
 * instances (unreachable: an error naming "store" and its endpoints). */
static store *open_store(const mcdc_config *cfg, mcdc_err *err) {
    if (strcmp(cfg->store.type, "etcd") != 0) return store_open_sqlite(cfg->store.path, err);
    store_etcd_config ec = {.etcd = {.endpoints = cfg->store.endpoints,
                                     .username = cfg->store.username,
                                     .password = cfg->store.password,
                                     .timeout_ms = 10000},
                            .prefix = cfg->store.prefix,
                            .instance_id = cfg->store.instance_id,
                            .advertise = cfg->store.advertise,
                            .lease_ttl_s = cfg->store.lease_ttl_s};
    return store_open_etcd(&ec, err);
}

/* Every channel worker is a thread, and glibc gives threads arenas of their
 * own (up to eight per core); what a catch-up freed stays in each of them
 * until the channel goes quiet. One eight-shard catch-up with
 * MALLOC_ARENA_MAX=2 peaked at 148 MiB against 176-179 without, at the same
 * speed (a later run with this setting peaked at 176 again: arenas are not
 * all of it; docs/benchmarks.md). mcdc spends 0.3 CPU-s per 100 000 rows,
 * too little to contend for two. An operator's MALLOC_ARENA_MAX or glibc
 * tunables win. */
static void fewer_arenas(void) {
    if (!getenv("MALLOC_ARENA_MAX") && !getenv("GLIBC_TUNABLES")) mallopt(M_ARENA_MAX, 2);
}

int cmd_serve(int argc, char **argv) {
    fewer_arenas();
    static const struct option LONG[] = {{"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *path = NULL;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":c:h", LONG, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'h': fputs(USAGE, stdout); return CLI_EXIT_OK;
        case ':': fprintf(stderr, "mcdc serve: %s needs a value\n", argv[optind - 1]); return CLI_EXIT_USAGE;
        default: fprintf(stderr, "mcdc serve: unknown option '%s' (see mcdc serve --help)\n", argv[optind - 1]); return CLI_EXIT_USAGE;
        }
    }
    if (!path || optind < argc) {
        fprintf(stderr, "mcdc serve: -c FILE is required (see mcdc serve --help)\n");
        return CLI_EXIT_USAGE;
    }

    mcdc_config cfg;
    mcdc_err err;
    if (mcdc_config_load(path, &cfg, &err)) {
        fprintf(stderr, "mcdc serve: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    mcdc_log_set_level(cfg.log_level);

    int rc = CLI_EXIT_USAGE;
    etcd_client *etcd = NULL;
    catalog *cat = NULL;
    store *st = NULL;
    rbac_passwords *passwords = NULL;
    task_manager *tm = NULL;
    http_server *http = NULL;
    rpc_init();

    etcd_config ec = {.endpoints = cfg.source.etcd.endpoints,
                      .username = cfg.source.etcd.username,
                      .password = cfg.source.etcd.password,
                      .timeout_ms = 10000};
    mq_config mq = mcdc_config_mq(&cfg, NULL);
    if (!(etcd = etcd_open(&ec, &err)) || !(cat = catalog_open(etcd, cfg.source.etcd.root_path, &err)) ||
        mq_probe(&mq, 10000, &err) || !(st = open_store(&cfg, &err))) {
        fprintf(stderr, "mcdc serve: %s\n", err.msg);
        goto out;
    }
    if (cfg.rbac.passwords_file && cfg.rbac.passwords_file[0] &&
        !(passwords = rbac_passwords_load(cfg.rbac.passwords_file, &err))) {
        fprintf(stderr, "mcdc serve: %s\n", err.msg);
        goto out;
    }
    task_env env = {.catalog = cat,
                    .etcd = etcd,
                    .root_path = cfg.source.etcd.root_path,
                    .passwords = passwords,
                    .secrets_dir = cfg.secrets_dir,
                    .store = st,
                    /* Shown as the owner of the tasks this instance runs,
                     * and where other instances send their requests. */
                    .advertise = strcmp(cfg.store.type, "etcd") == 0 ? cfg.store.advertise : NULL,
                    .mq = mq,
                    .channel_prefix = cfg.source.channel_prefix,
                    .dml_channels = cfg.source.dml_channels,
                    .apply = {.batch_rows = cfg.apply.batch_rows,
                              .batch_bytes = cfg.apply.batch_bytes,
                              .inflight_calls = cfg.apply.inflight_calls,
                              .inflight_bytes = cfg.apply.inflight_bytes,
                              .retry_max_ms = cfg.apply.retry_max_ms},
                    /* "" in the file is "none" (and "no auth") to the task. */
                    .source_milvus = {.address = cfg.source.milvus.address[0] ? cfg.source.milvus.address : NULL,
                                      .tls = cfg.source.milvus.tls,
                                      .username = cfg.source.milvus.username[0] ? cfg.source.milvus.username : NULL,
                                      .password = cfg.source.milvus.password[0] ? cfg.source.milvus.password : NULL,
                                      .timeout_ms = 30000,
                                      .role = "source"},
                    .copy = {.page_rows = cfg.snapshot.page_rows,
                             .page_bytes = cfg.snapshot.page_bytes,
                             .pages_in_flight = cfg.snapshot.pages_in_flight,
                             .readers = cfg.snapshot.readers,
                             .resync_on_bulk_insert = cfg.snapshot.resync_on_bulk_insert,
                             .progress_log_s = cfg.snapshot.progress_log_s}};
    if (!(tm = task_manager_open(&env, &err))) {
        fprintf(stderr, "mcdc serve: %s\n", err.msg);
        goto out;
    }
    http_config hc = mcdc_config_http(&cfg);
    if (!(http = http_start(&hc, tm, &err))) {
        fprintf(stderr, "mcdc serve: %s\n", err.msg);
        goto out;
    }
    log_info("mcdc serve: API on %s://%s:%u, source etcd %s root %s, %s %s, source milvus %s",
             cfg.api_tls_cert_file[0] ? "https" : "http", cfg.listen_host, http_port(http), cfg.source.etcd.endpoints,
             cfg.source.etcd.root_path, cfg.source.mq.type, mq_config_get(&mq, "address"),
             cfg.source.milvus.address[0] ? cfg.source.milvus.address : "none (no snapshots)");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* sleep, not pause(): a signal between the test and pause() would be missed */
    while (!g_signal) usleep(200 * 1000);
    log_info("mcdc serve: signal %d, stopping", (int)g_signal);
    rc = CLI_EXIT_OK;

out:
    http_stop(http);
    task_manager_close(tm);
    rbac_passwords_free(passwords);
    store_close(st);
    catalog_close(cat);
    etcd_close(etcd);
    rpc_shutdown();
    mcdc_config_free(&cfg);
    return rc;
}
