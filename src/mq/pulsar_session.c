/* pulsar_session.c — what mcdc says to a Pulsar broker over one connection
 * (pulsar_conn.c): the CONNECT handshake (token auth), request/reply by
 * request id with broker errors mapped to mcdc codes (transient or not), and
 * the few commands the consumer needs: partition metadata, lookup with
 * redirects, subscribe, flow, last message id.
 *
 * Every call is synchronous and bounded by a deadline; frames that arrive
 * while a call waits and are not its reply are dropped, which is safe because
 * no consumer flows while a call runs (pulsar.c). */
#include "pulsar_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "base/log.h"

#define MAX_REDIRECTS 8

const char *pulsar_server_error_name(int code) {
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&pulsar__proto__server_error__descriptor, code);
    return v ? v->name : "unknown error";
}

/* The request id of a reply, or 0 when the frame is no reply. */
static uint64_t reply_request_id(const Pulsar__Proto__BaseCommand *b) {
    if (b->success) return b->success->request_id;
    if (b->error) return b->error->request_id;
    if (b->lookuptopicresponse) return b->lookuptopicresponse->request_id;
    if (b->partitionmetadataresponse) return b->partitionmetadataresponse->request_id;
    if (b->getlastmessageidresponse) return b->getlastmessageidresponse->request_id;
    return 0;
}

/* Broker errors that heal (retry) versus those that need a person. */
static mcdc_code code_for_server_error(int e) {
    switch (e) {
    case PULSAR__PROTO__SERVER_ERROR__AuthenticationError:
    case PULSAR__PROTO__SERVER_ERROR__AuthorizationError:
    case PULSAR__PROTO__SERVER_ERROR__InvalidTopicName:
    case PULSAR__PROTO__SERVER_ERROR__NotAllowedError:
    case PULSAR__PROTO__SERVER_ERROR__UnsupportedVersionError:
        return MCDC_EREMOTE;
    case PULSAR__PROTO__SERVER_ERROR__TopicNotFound:
        return MCDC_ENOTFOUND;
    default:
        return MCDC_EUNAVAIL;
    }
}

int pulsar_conn_call(pulsar_conn *c, Pulsar__Proto__BaseCommand *req, uint64_t request_id, pulsar_frame *reply,
                     int *server_error, uint64_t deadline_ms, mcdc_err *err) {
    if (server_error) *server_error = -1;
    if (pulsar_conn_send(c, req, deadline_ms, err)) return -1;
    for (;;) {
        int r = pulsar_conn_recv(c, reply, deadline_ms, err);
        if (r < 0) return -1;
        if (r == 0) return mcdc_errf(err, MCDC_ETIMEOUT, "pulsar: %s did not answer in time", c->url);
        Pulsar__Proto__BaseCommand *b = reply->cmd;
        if (b->type == PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED) {
            pulsar_frame_clear(reply);
            continue;
        }
        if (reply_request_id(b) != request_id) {
            log_debug("pulsar %s: ignoring command %d while waiting for request %" PRIu64, c->url, (int)b->type, request_id);
            pulsar_frame_clear(reply);
            continue;
        }
        if (b->error) {
            int e = b->error->error;
            if (server_error) *server_error = e;
            mcdc_errf(err, code_for_server_error(e), "pulsar %s: %s: %s", c->url, pulsar_server_error_name(e),
                      b->error->message ? b->error->message : "");
            pulsar_frame_clear(reply);
            return -1;
        }
        return 0;
    }
}

/* ---- connecting -------------------------------------------------------------------- */

static int handshake(pulsar_conn *c, uint64_t deadline_ms, mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConnect cc = PULSAR__PROTO__COMMAND_CONNECT__INIT;
    cc.client_version = PULSAR_CLIENT_VERSION;
    cc.has_protocol_version = 1;
    cc.protocol_version = PULSAR_PROTOCOL_VERSION;
    if (c->opts->token) {
        cc.auth_method_name = "token";
        cc.has_auth_data = 1;
        cc.auth_data.data = (uint8_t *)c->opts->token;
        cc.auth_data.len = strlen(c->opts->token);
    }
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT;
    cmd.connect = &cc;
    if (pulsar_conn_send(c, &cmd, deadline_ms, err)) return -1;
    for (;;) {
        pulsar_frame f;
        int r = pulsar_conn_recv(c, &f, deadline_ms, err);
        if (r < 0) return -1;
        if (r == 0) return mcdc_errf(err, MCDC_ETIMEOUT, "pulsar: %s did not answer CONNECT in time", c->url);
        Pulsar__Proto__BaseCommand *b = f.cmd;
        if (b->type == PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED && b->connected) {
            snprintf(c->server_version, sizeof c->server_version, "%s",
                     b->connected->server_version ? b->connected->server_version : "");
            pulsar_frame_clear(&f);
            return 0;
        }
        if (b->type == PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR && b->error) {
            int e = b->error->error;
            mcdc_errf(err, code_for_server_error(e), "pulsar %s refused the connection: %s: %s", c->url,
                      pulsar_server_error_name(e), b->error->message ? b->error->message : "");
            pulsar_frame_clear(&f);
            return -1;
        }
        pulsar_frame_clear(&f);
    }
}

int pulsar_conn_open(pulsar_conn *c, const char *url, uint64_t deadline_ms, mcdc_err *err) {
    pulsar_conn_close(c);
    bool tls = strncmp(url, "pulsar+ssl://", 13) == 0;
    if (!tls && strncmp(url, "pulsar://", 9) != 0)
        return mcdc_errf(err, MCDC_EINVAL, "pulsar: '%s' is not a broker URL", url);
    snprintf(c->url, sizeof c->url, "%s", url);
    /* A service URL may list several brokers: the first that answers wins. */
    const char *s = strstr(url, "://") + 3;
    mcdc_err last;
    mcdc_errf(&last, MCDC_EINVAL, "pulsar: '%s' names no broker", url);
    while (*s) {
        s += strspn(s, " ");
        size_t n = strcspn(s, ",");
        mcdc_addr a;
        if (n == 0) { /* an empty entry: skipped, as mcdc_addr_list_check does */
            s += *s == ',';
            continue;
        }
        if (mcdc_addr_parse(s, n, MCDC_ADDR_PORT_OPTIONAL, tls ? 6651 : 6650, &a, err)) {
            mcdc_err_prefix(err, "pulsar: '%.*s' in '%s' is not host:port", (int)n, s, url);
            return -1;
        }
        if (pulsar_conn_dial(c, &a, tls, deadline_ms, &last) == 0 && handshake(c, deadline_ms, &last) == 0) return 0;
        pulsar_conn_close(c);
        if (last.code == MCDC_EREMOTE || last.code == MCDC_EINVAL) break; /* the next broker would say the same */
        s += n;
        if (*s == ',') s++;
    }
    if (err) *err = last;
    return -1;
}

/* ---- commands ----------------------------------------------------------------- */

static int partitions(pulsar_conn *c, const char *topic, uint32_t *n, uint64_t deadline_ms, mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPartitionedTopicMetadata pm = PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA__INIT;
    uint64_t rid = pulsar_conn_request_id(c);
    pm.topic = (char *)topic;
    pm.request_id = rid;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA;
    cmd.partitionmetadata = &pm;
    pulsar_frame f;
    if (pulsar_conn_call(c, &cmd, rid, &f, NULL, deadline_ms, err)) return -1;
    Pulsar__Proto__CommandPartitionedTopicMetadataResponse *r = f.cmd->partitionmetadataresponse;
    int rc = 0;
    if (!r) {
        rc = mcdc_errf(err, MCDC_EUNAVAIL, "pulsar %s: no partition metadata for %s", c->url, topic);
    } else if (r->has_response && r->response == PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA_RESPONSE__LOOKUP_TYPE__Failed) {
        int e = r->has_error ? (int)r->error : 0;
        rc = mcdc_errf(err, code_for_server_error(e), "pulsar %s: partition metadata of %s: %s: %s", c->url, topic,
                       pulsar_server_error_name(e), r->message ? r->message : "");
    } else {
        *n = r->partitions;
    }
    pulsar_frame_clear(&f);
    return rc;
}

int pulsar_connect_topic(pulsar_conn *c, const char *topic, uint64_t deadline_ms, mcdc_err *err) {
    const pulsar_opts *o = c->opts;
    if (pulsar_conn_open(c, o->service_url, deadline_ms, err)) return -1;
    uint32_t nparts = 0;
    if (partitions(c, topic, &nparts, deadline_ms, err)) return -1;
    if (nparts > 0)
        return mcdc_errf(err, MCDC_EINVAL, "pulsar: topic %s is partitioned (%" PRIu32 " partitions); Milvus channels "
                         "are non-partitioned topics", topic, nparts);
    bool authoritative = false;
    for (int hop = 0; hop < MAX_REDIRECTS; hop++) {
        Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandLookupTopic lt = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC__INIT;
        uint64_t rid = pulsar_conn_request_id(c);
        lt.topic = (char *)topic;
        lt.request_id = rid;
        lt.has_authoritative = 1;
        lt.authoritative = authoritative;
        cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP;
        cmd.lookuptopic = &lt;
        pulsar_frame f;
        if (pulsar_conn_call(c, &cmd, rid, &f, NULL, deadline_ms, err)) return -1;
        Pulsar__Proto__CommandLookupTopicResponse *r = f.cmd->lookuptopicresponse;
        if (!r || !r->has_response ||
            r->response == PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Failed) {
            int e = r && r->has_error ? (int)r->error : 0;
            mcdc_errf(err, code_for_server_error(e), "pulsar %s: lookup of %s failed: %s: %s", c->url, topic,
                      pulsar_server_error_name(e), r && r->message ? r->message : "");
            pulsar_frame_clear(&f);
            return -1;
        }
        const char *target = o->tls ? r->brokerserviceurltls : r->brokerserviceurl;
        char url[256];
        snprintf(url, sizeof url, "%s", target && target[0] ? target : "");
        bool redirect = r->response == PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Redirect;
        bool through_service = r->has_proxy_through_service_url && r->proxy_through_service_url;
        authoritative = r->has_authoritative && r->authoritative;
        pulsar_frame_clear(&f);
        /* Behind a proxy (or a broker that names no URL) this connection is the way in. */
        if (!url[0] || through_service || strcmp(url, c->url) == 0) {
            if (!redirect) return 0;
            continue;
        }
        log_debug("pulsar: %s of %s -> %s", redirect ? "redirect" : "owner", topic, url);
        if (pulsar_conn_open(c, url, deadline_ms, err)) return -1;
        if (!redirect) return 0;
    }
    return mcdc_errf(err, MCDC_EUNAVAIL, "pulsar: lookup of %s: more than %d redirects", topic, MAX_REDIRECTS);
}

int pulsar_subscribe(pulsar_conn *c, const char *topic, const char *subscription, uint64_t consumer_id,
                     const pulsar_pos *start, bool latest, uint64_t deadline_ms, mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSubscribe s = PULSAR__PROTO__COMMAND_SUBSCRIBE__INIT;
    Pulsar__Proto__MessageIdData at = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    uint64_t rid = pulsar_conn_request_id(c);
    s.topic = (char *)topic;
    s.subscription = (char *)subscription;
    s.subtype = PULSAR__PROTO__COMMAND_SUBSCRIBE__SUB_TYPE__Exclusive;
    s.consumer_id = consumer_id;
    s.request_id = rid;
    s.consumer_name = (char *)subscription;
    /* Non-durable: the broker keeps no cursor for us (nothing to clean up,
     * nothing retained on our behalf); the position is ours to keep. */
    s.has_durable = 1;
    s.durable = 0;
    s.has_force_topic_creation = 1;
    s.force_topic_creation = 0;
    s.has_initialposition = 1;
    s.initialposition = latest ? PULSAR__PROTO__COMMAND_SUBSCRIBE__INITIAL_POSITION__Latest
                               : PULSAR__PROTO__COMMAND_SUBSCRIBE__INITIAL_POSITION__Earliest;
    if (latest) {
        /* Past every entry: the broker starts after its last one. */
        at.ledgerid = (uint64_t)INT64_MAX;
        at.entryid = (uint64_t)INT64_MAX;
    } else {
        /* The broker treats a non-durable start id with a batch index as the
         * entry to start at (it steps back one entry for batches); (-1, -1)
         * is "earliest". The reader drops what lies before the wanted batch
         * index itself. */
        at.ledgerid = (uint64_t)start->ledger;
        at.entryid = (uint64_t)start->entry;
        at.has_batch_index = 1;
        at.batch_index = start->ledger < 0 ? -1 : 0;
    }
    at.has_partition = 1;
    at.partition = -1;
    s.start_message_id = &at;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SUBSCRIBE;
    cmd.subscribe = &s;
    pulsar_frame f;
    int se;
    if (pulsar_conn_call(c, &cmd, rid, &f, &se, deadline_ms, err)) {
        if (se == PULSAR__PROTO__SERVER_ERROR__TopicNotFound) err->code = MCDC_ENOTFOUND;
        return -1;
    }
    pulsar_frame_clear(&f);
    return 0;
}

int pulsar_flow(pulsar_conn *c, uint64_t consumer_id, uint32_t permits, uint64_t deadline_ms, mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandFlow fl = PULSAR__PROTO__COMMAND_FLOW__INIT;
    fl.consumer_id = consumer_id;
    fl.messagepermits = permits;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW;
    cmd.flow = &fl;
    return pulsar_conn_send(c, &cmd, deadline_ms, err);
}

void pulsar_last_from_reply(const Pulsar__Proto__MessageIdData *id, pulsar_pos *out, bool *exists) {
    out->ledger = (int64_t)id->ledgerid;
    out->entry = (int64_t)id->entryid;
    /* The entry's last batch index, or -1 for an entry that is not a batch:
     * the reader numbers that one message 0. */
    out->batch = id->has_batch_index && id->batch_index > 0 ? id->batch_index : 0;
    /* An empty topic answers with entry -1 of its current ledger. */
    *exists = out->ledger >= 0 && out->entry >= 0;
}

int pulsar_last_message_id(pulsar_conn *c, uint64_t consumer_id, pulsar_pos *out, bool *exists, uint64_t deadline_ms,
                           mcdc_err *err) {
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetLastMessageId g = PULSAR__PROTO__COMMAND_GET_LAST_MESSAGE_ID__INIT;
    uint64_t rid = pulsar_conn_request_id(c);
    g.consumer_id = consumer_id;
    g.request_id = rid;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID;
    cmd.getlastmessageid = &g;
    pulsar_frame f;
    if (pulsar_conn_call(c, &cmd, rid, &f, NULL, deadline_ms, err)) return -1;
    int rc = 0;
    if (!f.cmd->getlastmessageidresponse || !f.cmd->getlastmessageidresponse->last_message_id)
        rc = mcdc_errf(err, MCDC_EUNAVAIL, "pulsar %s: last message id: unexpected reply", c->url);
    else
        pulsar_last_from_reply(f.cmd->getlastmessageidresponse->last_message_id, out, exists);
    pulsar_frame_clear(&f);
    return rc;
}
