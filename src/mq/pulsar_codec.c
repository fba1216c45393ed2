/* pulsar_codec.c — the bytes of the Pulsar binary protocol, without sockets:
 * CRC32C, command frames, MESSAGE entries (checksum, metadata, decompression,
 * batch records) and positions. Kept apart from the connection so the unit
 * tests can run it on frames captured from a real broker. */
#include "pulsar_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#define MAGIC_CRC32C 0x0e01u
#define MAGIC_BROKER_ENTRY_METADATA 0x0e02u

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- positions ------------------------------------------------------------ */

int pulsar_pos_cmp(const pulsar_pos *a, const pulsar_pos *b) {
    if (a->ledger != b->ledger) return a->ledger < b->ledger ? -1 : 1;
    if (a->entry != b->entry) return a->entry < b->entry ? -1 : 1;
    if (a->batch != b->batch) return a->batch < b->batch ? -1 : 1;
    return 0;
}

void pulsar_msgid_encode(const pulsar_pos *p, int32_t partition, mq_msgid *out) {
    Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    id.ledgerid = (uint64_t)p->ledger;
    id.entryid = (uint64_t)p->entry;
    id.has_partition = 1;
    id.partition = partition;
    id.has_batch_index = 1;
    id.batch_index = p->batch;
    /* At most 4 varints of 10 bytes plus tags: always fits MQ_MSGID_MAX. */
    out->len = pulsar__proto__message_id_data__pack(&id, out->bytes);
}

int pulsar_msgid_decode(const mq_msgid *id, pulsar_pos *p, int32_t *partition, mcdc_err *err) {
    Pulsar__Proto__MessageIdData *m = pulsar__proto__message_id_data__unpack(NULL, id->len, id->bytes);
    if (!m) return mcdc_errf(err, MCDC_EINVAL, "not a Pulsar position: %zu bytes that are no MessageIdData", id->len);
    p->ledger = (int64_t)m->ledgerid;
    p->entry = (int64_t)m->entryid;
    p->batch = m->has_batch_index ? m->batch_index : -1;
    if (partition) *partition = m->has_partition ? m->partition : -1;
    pulsar__proto__message_id_data__free_unpacked(m, NULL);
    return 0;
}

int pulsar_pos_format(const pulsar_pos *p, int32_t partition, char *out, size_t cap) {
    int n = snprintf(out, cap, "%" PRId64 ":%" PRId64 ":%" PRId32 ":%" PRId32, p->ledger, p->entry, partition, p->batch);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int pulsar_pos_parse(const char *text, pulsar_pos *p, int32_t *partition, mcdc_err *err) {
    long long v[4];
    const char *s = text;
    for (int i = 0; i < 4; i++) {
        char *end;
        v[i] = strtoll(s, &end, 10);
        bool last = i == 3;
        if (end == s || (last ? *end != '\0' : *end != ':')) goto bad;
        s = end + 1;
    }
    if (v[0] < -1 || v[1] < -1 || v[2] < -1 || v[2] > INT32_MAX || v[3] < -1 || v[3] > INT32_MAX) goto bad;
    p->ledger = v[0];
    p->entry = v[1];
    p->batch = (int32_t)v[3];
    if (partition) *partition = (int32_t)v[2];
    return 0;
bad:
    return mcdc_errf(err, MCDC_EINVAL, "'%s' is not a Pulsar position (ledger:entry:partition:batch)", text);
}

/* ---- CRC32C ------------------------------------------------------------------ */

/* Slice-by-8 over the reflected Castagnoli polynomial: a 5 MiB Insert is
 * checked in a few milliseconds without depending on CPU instructions. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t pulsar_crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (len >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
            crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return ~c;
}

/* ---- frames -------------------------------------------------------------------- */

void pulsar_frame_encode(mcdc_buf *out, const Pulsar__Proto__BaseCommand *cmd) {
    size_t n = pulsar__proto__base_command__get_packed_size(cmd);
    mcdc_buf_reserve(out, 8 + n);
    uint8_t *p = out->data + out->len;
    put_be32(p, (uint32_t)(4 + n));
    put_be32(p + 4, (uint32_t)n);
    pulsar__proto__base_command__pack(cmd, p + 8);
    out->len += 8 + n;
}

int64_t pulsar_frame_len(const uint8_t *data) {
    uint32_t total = be32(data);
    if (total < 4 || total > PULSAR_FRAME_MAX) return -1;
    return (int64_t)total + 4;
}

int pulsar_frame_decode(const uint8_t *data, size_t len, pulsar_frame *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    if (len < 8) return mcdc_errf(err, MCDC_EDECODE, "pulsar frame of %zu bytes is shorter than its header", len);
    int64_t whole = pulsar_frame_len(data);
    if (whole < 0 || (uint64_t)whole != len)
        return mcdc_errf(err, MCDC_EDECODE, "pulsar frame says %" PRIu32 " bytes but %zu arrived", be32(data), len - 4);
    uint32_t cmd_len = be32(data + 4);
    if (cmd_len > len - 8)
        return mcdc_errf(err, MCDC_EDECODE, "pulsar frame: command of %" PRIu32 " bytes in a frame of %zu", cmd_len, len);
    out->cmd = pulsar__proto__base_command__unpack(NULL, cmd_len, data + 8);
    if (!out->cmd) return mcdc_errf(err, MCDC_EDECODE, "pulsar frame: the command (%" PRIu32 " bytes) does not decode", cmd_len);
    out->rest = data + 8 + cmd_len;
    out->rest_len = len - 8 - cmd_len;
    return 0;
}

void pulsar_frame_clear(pulsar_frame *f) {
    if (f->cmd) pulsar__proto__base_command__free_unpacked(f->cmd, NULL);
    memset(f, 0, sizeof *f);
}

/* ---- entries ------------------------------------------------------------------------ */

static const char *compression_name(int c) {
    switch (c) {
    case PULSAR__PROTO__COMPRESSION_TYPE__NONE: return "NONE";
    case PULSAR__PROTO__COMPRESSION_TYPE__LZ4: return "LZ4";
    case PULSAR__PROTO__COMPRESSION_TYPE__ZLIB: return "ZLIB";
    case PULSAR__PROTO__COMPRESSION_TYPE__ZSTD: return "ZSTD";
    case PULSAR__PROTO__COMPRESSION_TYPE__SNAPPY: return "SNAPPY";
    default: return "unknown";
    }
}

static void add_rec(pulsar_entry *e, const uint8_t *p, size_t n, int32_t index) {
    if (e->n_recs == e->cap_recs) {
        e->cap_recs = e->cap_recs ? 2 * e->cap_recs : 4;
        e->recs = mcdc_xrealloc(e->recs, e->cap_recs * sizeof *e->recs);
    }
    e->recs[e->n_recs++] = (pulsar_record){p, n, index};
}

/* Every entry error names the topic and the message, so an operator can find it. */
static int bad_entry(mcdc_err *err, const char *topic, const char *idtext, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad_entry(mcdc_err *err, const char *topic, const char *idtext, const char *fmt, ...) {
    char why[MCDC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return mcdc_errf(err, MCDC_EDECODE, "pulsar topic %s message %s: %s", topic, idtext, why);
}
#define BAD(...) bad_entry(err, topic, idtext, __VA_ARGS__)

/* Inflates into e->plain and points out / out_len at the plain payload. */
static int decompress(pulsar_entry *e, const Pulsar__Proto__MessageMetadata *md, const uint8_t *p, size_t n,
                      const uint8_t **out, size_t *out_len, const char *topic, const char *idtext, mcdc_err *err) {
    int c = md->has_compression ? (int)md->compression : PULSAR__PROTO__COMPRESSION_TYPE__NONE;
    e->compression = c;
    if (c == PULSAR__PROTO__COMPRESSION_TYPE__NONE) {
        *out = p;
        *out_len = n;
        return 0;
    }
    if (c != PULSAR__PROTO__COMPRESSION_TYPE__ZLIB && c != PULSAR__PROTO__COMPRESSION_TYPE__ZSTD)
        return BAD("unsupported compression %s (%d): mcdc reads NONE, ZLIB and ZSTD (Milvus writes ZSTD)",
                   compression_name(c), c);
    size_t want = md->uncompressed_size;
    if (want > PULSAR_FRAME_MAX) return BAD("uncompressed size %zu is beyond any Pulsar message", want);
    if (want == 0 && n > 0) return BAD("%s payload without uncompressed_size", compression_name(c));
    /* One 5 MiB Insert should not pin 5 MiB per channel for good. */
    if (e->plain.cap > (4u << 20) && want < e->plain.cap / 4) mcdc_buf_free(&e->plain);
    mcdc_buf_reset(&e->plain);
    mcdc_buf_reserve(&e->plain, want);
    size_t got;
    if (c == PULSAR__PROTO__COMPRESSION_TYPE__ZSTD) {
        size_t r = ZSTD_decompress(e->plain.data, want, p, n);
        if (ZSTD_isError(r)) return BAD("ZSTD payload does not decompress: %s", ZSTD_getErrorName(r));
        got = r;
    } else {
        uLongf dl = (uLongf)want;
        int r = uncompress(e->plain.data, &dl, p, (uLong)n);
        if (r != Z_OK) return BAD("ZLIB payload does not decompress: %s", zError(r));
        got = dl;
    }
    if (got != want) return BAD("%s payload inflates to %zu bytes, metadata says %zu", compression_name(c), got, want);
    e->plain.len = got;
    *out = e->plain.data;
    *out_len = got;
    return 0;
}

int pulsar_entry_parse(pulsar_entry *e, const uint8_t *data, size_t len, const char *topic, const char *idtext,
                       mcdc_err *err) {
    e->n_recs = 0;
    e->batched = false;
    e->compression = 0;
    const uint8_t *p = data, *end = data + len;

    /* Only sent to clients that ask for it; skipped if a broker sends it anyway. */
    if (end - p >= 6 && be16(p) == MAGIC_BROKER_ENTRY_METADATA) {
        uint32_t n = be32(p + 2);
        if (n > (size_t)(end - p) - 6) return BAD("broker entry metadata of %" PRIu32 " bytes is cut off", n);
        p += 6 + n;
    }
    /* Entries of producers older than protocol v6 carry no checksum; every
     * current client (the Go one of Milvus too) writes it. */
    if (end - p >= 2 && be16(p) == MAGIC_CRC32C) {
        if (end - p < 6) return BAD("frame cut off inside the checksum");
        uint32_t want = be32(p + 2);
        p += 6;
        uint32_t got = pulsar_crc32c(0, p, (size_t)(end - p));
        if (got != want) return BAD("checksum mismatch: frame says 0x%08" PRIx32 ", the bytes give 0x%08" PRIx32, want, got);
    }
    if (end - p < 4) return BAD("frame cut off before the metadata size");
    uint32_t md_len = be32(p);
    p += 4;
    if (md_len > (size_t)(end - p)) return BAD("metadata of %" PRIu32 " bytes but only %zu follow", md_len, (size_t)(end - p));
    Pulsar__Proto__MessageMetadata *md = pulsar__proto__message_metadata__unpack(NULL, md_len, p);
    if (!md) return BAD("message metadata (%" PRIu32 " bytes) does not decode", md_len);
    p += md_len;
    int rc = -1;
    if (md->encryption_algo) {
        BAD("encrypted message (%s): not supported", md->encryption_algo);
        goto out;
    }
    if (md->has_num_chunks_from_msg && md->num_chunks_from_msg > 1) {
        BAD("chunked message (%" PRId32 " chunks): not supported (Milvus does not chunk)", md->num_chunks_from_msg);
        goto out;
    }
    if (md->has_marker_type) {
        rc = 0; /* a broker-internal marker, not a message */
        goto out;
    }
    const uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (decompress(e, md, p, (size_t)(end - p), &plain, &plain_len, topic, idtext, err)) goto out;

    if (!md->has_num_messages_in_batch) {
        add_rec(e, plain, plain_len, 0);
        rc = 0;
        goto out;
    }
    e->batched = true;
    int32_t n = md->num_messages_in_batch;
    /* Each record takes at least its 4-byte size: a count beyond that is garbage. */
    if (n <= 0 || (size_t)n > plain_len / 4) {
        BAD("batch of %" PRId32 " messages in %zu bytes", n, plain_len);
        goto out;
    }
    const uint8_t *q = plain, *qend = plain + plain_len;
    for (int32_t i = 0; i < n; i++) {
        if (qend - q < 4) {
            BAD("batch record %" PRId32 " of %" PRId32 " is cut off", i, n);
            goto out;
        }
        uint32_t sm_len = be32(q);
        q += 4;
        if (sm_len > (size_t)(qend - q)) {
            BAD("batch record %" PRId32 ": metadata of %" PRIu32 " bytes is cut off", i, sm_len);
            goto out;
        }
        Pulsar__Proto__SingleMessageMetadata *sm = pulsar__proto__single_message_metadata__unpack(NULL, sm_len, q);
        if (!sm) {
            BAD("batch record %" PRId32 ": metadata does not decode", i);
            goto out;
        }
        q += sm_len;
        int32_t size = sm->payload_size;
        bool skip = sm->has_compacted_out && sm->compacted_out;
        pulsar__proto__single_message_metadata__free_unpacked(sm, NULL);
        if (size < 0 || (size_t)size > (size_t)(qend - q)) {
            BAD("batch record %" PRId32 ": payload of %" PRId32 " bytes but %zu left", i, size, (size_t)(qend - q));
            goto out;
        }
        if (!skip) add_rec(e, q, (size_t)size, i);
        q += size;
    }
    rc = 0;
out:
    pulsar__proto__message_metadata__free_unpacked(md, NULL);
    if (rc) e->n_recs = 0;
    return rc;
}

void pulsar_entry_free(pulsar_entry *e) {
    free(e->recs);
    mcdc_buf_free(&e->plain);
    memset(e, 0, sizeof *e);
}
