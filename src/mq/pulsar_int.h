/* pulsar_int.h — the inside of mcdc's own Pulsar consumer (private to src/mq).
 *
 * The layers, one file each:
 *   pulsar_codec.c  bytes only: CRC32C, command frames, MESSAGE entries
 *                   (checksum, metadata, decompression, batch records),
 *                   positions (MessageIdData bytes) — no sockets, so the unit
 *                   tests feed it frames captured from a real broker;
 *   pulsar_conn.c   one connection's transport: TCP or TLS, frames with
 *                   deadlines, PING/PONG, auth challenges;
 *   pulsar_session.c  what is said over it: CONNECT (token auth),
 *                   request/reply, topic lookup with redirects, subscribe,
 *                   flow, last message id;
 *   pulsar_opts.c   the driver's settings (source.mq.pulsar);
 *   pulsar.c        the mq.h driver: positions, flow control, end of channel,
 *                   reconnect-and-resume, positions retention removed.
 * Wire format: the Pulsar binary protocol (src/proto/pulsar_api.proto) and
 * spec/mq-messages.md §3.2, §6. */
#ifndef MCDC_MQ_PULSAR_INT_H
#define MCDC_MQ_PULSAR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "base/addr.h"
#include "base/buf.h"
#include "base/error.h"
#include "mq/mq.h"
#include "pulsar_api.pb-c.h"

/* ---- positions ------------------------------------------------------------ */

/* One message: entry (ledger, entry) of the managed ledger and its index in a
 * batched entry. Signed, because the protocol's "earliest" is (-1, -1). */
typedef struct pulsar_pos {
    int64_t ledger;
    int64_t entry;
    int32_t batch;
} pulsar_pos;

/* Orders by ledger, entry, then batch index. */
int pulsar_pos_cmp(const pulsar_pos *a, const pulsar_pos *b);
/* MessageIdData bytes with all four fields, as the Go client that Milvus uses
 * writes them (spec §6): partition 0 for a non-partitioned topic. */
void pulsar_msgid_encode(const pulsar_pos *p, int32_t partition, mq_msgid *out);
int pulsar_msgid_decode(const mq_msgid *id, pulsar_pos *p, int32_t *partition, mcdc_err *err);
/* "ledger:entry:partition:batch" */
int pulsar_pos_format(const pulsar_pos *p, int32_t partition, char *out, size_t cap);
int pulsar_pos_parse(const char *text, pulsar_pos *p, int32_t *partition, mcdc_err *err);

/* ---- CRC32C (Castagnoli), the checksum of MESSAGE frames ------------------- */

/* Continues `crc` (0 to start) over `len` bytes. */
uint32_t pulsar_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- frames ----------------------------------------------------------------- */

/* No legitimate frame is near this: Milvus messages are at most 5 MiB
 * (pulsar.maxMessageSize) and the broker adds a few KiB. */
#define PULSAR_FRAME_MAX (64u << 20)

/* Appends [total size][command size][BaseCommand] to out. */
void pulsar_frame_encode(mcdc_buf *out, const Pulsar__Proto__BaseCommand *cmd);

typedef struct pulsar_frame {
    Pulsar__Proto__BaseCommand *cmd;  /* owned; pulsar_frame_clear frees it */
    const uint8_t *rest;              /* bytes after the command (MESSAGE: headers and payload) */
    size_t rest_len;
} pulsar_frame;

/* Length of the whole frame that starts at data (4 bytes needed), or -1 when
 * its size field is out of bounds. */
int64_t pulsar_frame_len(const uint8_t *data);
/* Decodes one whole frame of `len` bytes (from its size field on). */
int pulsar_frame_decode(const uint8_t *data, size_t len, pulsar_frame *out, mcdc_err *err);
void pulsar_frame_clear(pulsar_frame *f);

/* ---- entries: what one MESSAGE carries ------------------------------------ */

typedef struct pulsar_record {
    const uint8_t *payload;
    size_t len;
    int32_t batch_index;
} pulsar_record;

typedef struct pulsar_entry {
    pulsar_record *recs;
    size_t n_recs;
    size_t cap_recs;
    mcdc_buf plain;       /* the decompressed payload; reused from entry to entry */
    int compression;      /* as in the metadata, for tests and logs */
    bool batched;
} pulsar_entry;

/* Checks and unpacks the headers+payload of one MESSAGE: optional broker
 * entry metadata, magic + CRC32C, MessageMetadata, decompression (NONE, ZLIB,
 * ZSTD), then the batch records (or the one payload of a non-batched entry).
 * Records point into `data` or into e->plain. Errors are MCDC_EDECODE and name
 * `topic` and the message id `idtext`. Records cut out by compaction are left
 * out. */
int pulsar_entry_parse(pulsar_entry *e, const uint8_t *data, size_t len, const char *topic, const char *idtext,
                       mcdc_err *err);
void pulsar_entry_free(pulsar_entry *e);

/* ---- configuration ------------------------------------------------------- */

typedef struct pulsar_opts {
    char *service_url;     /* as configured: pulsar://h:p[,h:p] or pulsar+ssl://... */
    bool tls;
    char *tls_ca;          /* NULL: the system's trust store */
    bool tls_verify_host;
    char *token;           /* NULL: no authentication */
    char *tenant;
    char *ns;
    uint32_t op_timeout_ms;   /* connect, lookup, subscribe */
} pulsar_opts;

/* The keys of source.mq.pulsar (pulsar_opts.c), in this order. */
enum { P_ADDRESS, P_TENANT, P_NAMESPACE, P_TOKEN, P_TLS_CA, P_TLS_VERIFY_HOSTNAME, P_OPERATION_TIMEOUT_MS, PULSAR_N_KEYS };
extern const mq_key pulsar_keys[PULSAR_N_KEYS];

/* Reads cfg's settings against pulsar_keys; an undeclared key is an error. */
int pulsar_opts_init(pulsar_opts *o, const mq_config *cfg, mcdc_err *err);
void pulsar_opts_free(pulsar_opts *o);
/* persistent://tenant/namespace/channel */
void pulsar_topic_name(const pulsar_opts *o, const char *channel, char *out, size_t cap);

/* ---- one connection: pulsar_conn.c the transport, pulsar_session.c the talk -- */

#define PULSAR_CLIENT_VERSION "mcdc"
/* v15: lookup, last message id, active-consumer notices, auth challenges; no
 * feature flags, so the broker sends neither broker entry metadata nor
 * auth-refresh challenges we did not ask for. */
#define PULSAR_PROTOCOL_VERSION 15

typedef struct pulsar_conn {
    int fd;                 /* -1 when closed */
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    char url[256];          /* the broker this connection goes to */
    const pulsar_opts *opts;
    mcdc_buf rx;            /* bytes [rx_off, rx.len) are read but not yet consumed */
    size_t rx_off;
    mcdc_buf tx;
    uint64_t next_request_id;
    uint64_t last_rx_ms;    /* monotonic; keep-alive */
    bool ping_out;
    char server_version[64];
} pulsar_conn;

void pulsar_conn_init(pulsar_conn *c, const pulsar_opts *o);
/* TCP (+TLS) to `url` (one or more host:port) and the CONNECT handshake. */
int pulsar_conn_open(pulsar_conn *c, const char *url, uint64_t deadline_ms, mcdc_err *err);
void pulsar_conn_close(pulsar_conn *c);
/* TCP to one broker, and TLS on it when tls; no CONNECT yet. */
int pulsar_conn_dial(pulsar_conn *c, const mcdc_addr *a, bool tls, uint64_t deadline_ms, mcdc_err *err);
bool pulsar_conn_is_open(const pulsar_conn *c);
uint64_t pulsar_conn_request_id(pulsar_conn *c);
int pulsar_conn_send(pulsar_conn *c, const Pulsar__Proto__BaseCommand *cmd, uint64_t deadline_ms, mcdc_err *err);
/* The next frame other than PING and AUTH_CHALLENGE (answered here):
 * 1 = *f holds it (f->rest points into the connection's buffer until the next
 * receive), 0 = nothing by the deadline, -1 = the connection is broken. */
int pulsar_conn_recv(pulsar_conn *c, pulsar_frame *f, uint64_t deadline_ms, mcdc_err *err);
/* Sends a request and waits for the reply carrying the same request id
 * (other frames are dropped: no consumer flows while a call runs). A broker
 * ERROR reply becomes an error with the broker's code and message;
 * *server_error (may be NULL) gets its ServerError, or -1. */
int pulsar_conn_call(pulsar_conn *c, Pulsar__Proto__BaseCommand *req, uint64_t request_id, pulsar_frame *reply,
                     int *server_error, uint64_t deadline_ms, mcdc_err *err);

/* Connects *c to the broker that serves `topic`: the service URL, then LOOKUP
 * and its redirects. Fails (MCDC_EINVAL) for a partitioned topic: Milvus
 * channels are non-partitioned. */
int pulsar_connect_topic(pulsar_conn *c, const char *topic, uint64_t deadline_ms, mcdc_err *err);

/* A non-durable, exclusive subscription that starts at entry `start` (when
 * `latest` is false) or after the last entry (when true). A missing topic is
 * MCDC_ENOTFOUND; the topic is never created by us. */
int pulsar_subscribe(pulsar_conn *c, const char *topic, const char *subscription, uint64_t consumer_id,
                     const pulsar_pos *start, bool latest, uint64_t deadline_ms, mcdc_err *err);
int pulsar_flow(pulsar_conn *c, uint64_t consumer_id, uint32_t permits, uint64_t deadline_ms, mcdc_err *err);
/* Last message of the topic, numbered as the reader numbers messages (batch
 * index 0 for an entry that is not a batch); *exists = false when it holds
 * none. */
int pulsar_last_message_id(pulsar_conn *c, uint64_t consumer_id, pulsar_pos *out, bool *exists, uint64_t deadline_ms,
                           mcdc_err *err);

/* What the broker's last-message-id reply says, shared with the async path in
 * pulsar.c. */
void pulsar_last_from_reply(const Pulsar__Proto__MessageIdData *id, pulsar_pos *out, bool *exists);

/* Human name of a ServerError. */
const char *pulsar_server_error_name(int code);

#endif
