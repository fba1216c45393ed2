/* config.h — the YAML configuration of `mcdc serve -c mcdc.yaml`.
 *
 * docs/config.md describes every key; mcdc.example.yaml is a working file.
 * A missing key takes its default; an unknown key is refused (a typo must
 * not silently fall back to a default). Every error names the file, the
 * line and the key path: "mcdc.yaml:7: source.etcd.endpoints: want a list
 * of host:port". */
#ifndef MCDC_CONFIG_H
#define MCDC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/log.h"
#include "mq/mq.h"
#include "server/http.h"

/* One source.mq.<type> section: the keys given there, each checked against
 * what that driver declares (mq.h, mq_keys), choices in their declared
 * spelling. Keys not given take the driver's defaults. */
typedef struct mcdc_config_mq_section {
    char *type;               /* "kafka", "pulsar" */
    mq_kv *settings;          /* keys and values malloc'd */
    size_t n_settings;
} mcdc_config_mq_section;

/* Every string is malloc'd and never NULL ("" when unset). */
typedef struct mcdc_config {
    /* HTTP API (http.h) */
    char *listen_host;        /* "127.0.0.1"; "" in the file (":8444") becomes "0.0.0.0" */
    uint16_t listen_port;     /* 8444, milvus-cdc's; 0 = any free port */
    char *api_token;          /* "" = no authentication; secret */
    size_t max_body_bytes;    /* 1048576 */
    char **api_allowed_hosts; /* Host names besides listen's (http.h); "*" = any */
    size_t n_api_allowed_hosts;
    char *api_tls_cert_file;  /* "" = plain HTTP; with api_tls_key_file */
    char *api_tls_key_file;
    uint32_t api_max_connections;            /* 256 */
    uint32_t api_max_connections_per_client; /* 32 */
    uint32_t api_header_timeout_ms;          /* 10000 */
    mcdc_log_level log_level; /* info */

    /* Where tasks, checkpoints and intents are kept (store/store.h). */
    struct {
        char *type;           /* "sqlite" (one mcdc serve) or "etcd" (several) */
        char *path;           /* sqlite: "mcdc.db" */
        /* etcd (store_etcd_config): endpoints "h:p[,h:p...]", required;
         * prefix "mcdc"; username "" = no auth, password secret; lease TTL 5;
         * instance_id "" = hostname-pid-random; advertise: this instance's
         * API URL for the others, "http(s)://<listen>" by default, required
         * when listen is every interface or any port. */
        char *endpoints, *prefix, *username, *password, *instance_id, *advertise;
        uint32_t lease_ttl_s;
    } store;

    struct {
        struct {
            char *endpoints;  /* "host:port[,host:port...]", as etcd_config wants it */
            char *root_path;  /* "by-dev" (etcd.rootPath of the source Milvus) */
            char *username;   /* "" = no auth */
            char *password;   /* secret */
        } etcd;
        struct {
            char *type;       /* "kafka" or "pulsar" */
            mcdc_config_mq_section *sections; /* one per driver, in mq_type() order */
            size_t n_sections;
        } mq;
        char *channel_prefix; /* msgChannel.chanNamePrefix.cluster; defaults to etcd.root_path */
        int dml_channels;     /* rootCoord.dmlChannelNum; 16 */
        /* The source's proxy, whose Query API a snapshot reads the rows
         * from. address "" = none (a snapshot is then refused); else
         * host:port, checked at load (not reached). username "" = no auth,
         * and then password ""; password secret. */
        struct {
            char *address, *username, *password;
            bool tls;         /* false */
        } milvus;
    } source;

    struct {
        uint32_t batch_rows;  /* 5000 */
        size_t batch_bytes;   /* 0: a task's share per channel (pipeline/budget.h) */
        uint32_t inflight_calls; /* 4: insert calls one channel keeps in flight */
        size_t inflight_bytes;   /* their request bytes at most (one call always goes); 0: a task's share */
        uint32_t retry_max_ms;/* 30000: longest wait between retries */
    } apply;

    /* How a snapshot copies a collection's rows (pipeline/task.h's copy_settings). */
    struct {
        uint32_t page_rows;       /* 8192: rows per Query page, 1 ... 16384 (Milvus's limit) */
        size_t page_bytes;        /* 16777216: a page's bytes at most by the schema's estimate */
        uint32_t pages_in_flight; /* 4: a collection's page upserts not yet acknowledged */
        uint32_t readers;         /* 2: partitions of one collection read at once */
        bool resync_on_bulk_insert; /* on_bulk_insert: "resync" (true, the default) or "report" */
        uint32_t progress_log_s;  /* 10: a progress line this often */
    } snapshot;

    /* "" = none: a task may name no password_file (task_spec.h). */
    char *secrets_dir;

    struct {
        /* "" = none: replicated users are not created (rbac_passwords.h
         * reads the file; the server, once at start). */
        char *passwords_file;
    } rbac;
} mcdc_config;

/* Fills *out with the defaults above. */
void mcdc_config_defaults(mcdc_config *out);

/* Defaults, then the file, then the rules between the API's keys
 * (http_config_check: a token beyond loopback, ...). On failure *out holds
 * nothing to free and err says what and where (MCDC_EIO for an unreadable
 * file, MCDC_EINVAL for bad content). */
int mcdc_config_load(const char *path, mcdc_config *out, mcdc_err *err);

/* The same from text in memory; name is what messages call it. */
int mcdc_config_parse(const char *name, const char *text, size_t len, mcdc_config *out, mcdc_err *err);

void mcdc_config_free(mcdc_config *c);

/* The API's settings; it points into c. */
http_config mcdc_config_http(const mcdc_config *c);

/* The queue settings of source.mq.<type> (type NULL: source.mq.type, the
 * queue mcdc reads); it points into c. */
mq_config mcdc_config_mq(const mcdc_config *c, const char *type);

#endif
