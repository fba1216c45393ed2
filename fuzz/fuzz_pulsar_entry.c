/* fuzz_pulsar_entry.c — libFuzzer harness for the Pulsar entry parser: the
 * bytes a MESSAGE frame carries after its command (optional broker entry
 * metadata, magic + CRC32C, MessageMetadata, a payload that may be ZLIB or
 * ZSTD and may be a batch) → pulsar_entry_parse(), twice with one
 * pulsar_entry as the reader reuses it.
 *
 * Input: one flags byte, then the entry. Flag bit 0 has the harness write
 * the right checksum where the entry has one: else nearly every mutation
 * would stop at the checksum and the metadata, decompression and batch code
 * behind it would never be reached. Seeds: fuzz/corpus/pulsar_entry/ (made by
 * fuzz/pulsar_entry_seeds.py from the broker frames of tests/fixtures/pulsar/
 * and by hand).
 *
 * Besides the sanitizers it checks what pulsar_int.h promises: a refusal is
 * MCDC_EDECODE naming the topic and the message and leaves no record; an
 * accepted entry's records lie inside the input or the decompressed payload,
 * with batch indexes rising; parsing again gives the same records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mq/pulsar_int.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) abort(); \
    } while (0)

#define TOPIC "persistent://public/default/fuzz"
#define IDTEXT "7:3:0:0"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Where the parser looks for the checksum: after broker entry metadata
 * (magic 0x0e02, u32 size) when there is some. */
static void repair_checksum(uint8_t *p, size_t n) {
    size_t at = 0;
    if (n >= 6 && p[0] == 0x0e && p[1] == 0x02) {
        uint32_t skip = be32(p + 2);
        if (skip > n - 6) return;
        at = 6 + skip;
    }
    if (n - at < 6 || p[at] != 0x0e || p[at + 1] != 0x01) return;
    uint32_t crc = pulsar_crc32c(0, p + at + 6, n - at - 6);
    p[at + 2] = (uint8_t)(crc >> 24);
    p[at + 3] = (uint8_t)(crc >> 16);
    p[at + 4] = (uint8_t)(crc >> 8);
    p[at + 5] = (uint8_t)crc;
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len) {
    return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

typedef struct seen {
    size_t len;
    int32_t batch_index;
    uint32_t crc;
} seen;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    bool repair = data[0] & 1;
    size_t n = size - 1;
    /* A buffer of exactly n bytes, so ASan sees any read past the entry. */
    uint8_t *entry = malloc(n ? n : 1);
    CHECK(entry != NULL);
    memcpy(entry, data + 1, n);
    if (repair) repair_checksum(entry, n);

    pulsar_entry e = {0};
    mcdc_err err = {0};
    seen *first = NULL;
    size_t n_first = 0;
    int rc_first = 0;
    for (int round = 0; round < 2; round++) {
        mcdc_err_clear(&err);
        int rc = pulsar_entry_parse(&e, entry, n, TOPIC, IDTEXT, &err);
        if (rc != 0) {
            CHECK(err.code == MCDC_EDECODE && err.msg[0]);
            CHECK(strstr(err.msg, TOPIC) && strstr(err.msg, IDTEXT));
            CHECK(e.n_recs == 0);
        } else {
            CHECK(e.n_recs <= e.cap_recs);
            for (size_t i = 0; i < e.n_recs; i++) {
                const pulsar_record *r = &e.recs[i];
                CHECK(inside(r->payload, r->len, entry, n) || inside(r->payload, r->len, e.plain.data, e.plain.len));
                CHECK(r->batch_index >= 0);
                if (i) CHECK(r->batch_index > e.recs[i - 1].batch_index);
                if (!e.batched) CHECK(e.n_recs == 1 && r->batch_index == 0);
            }
        }
        if (round == 0) {
            rc_first = rc;
            n_first = e.n_recs;
            first = calloc(n_first ? n_first : 1, sizeof *first);
            CHECK(first != NULL);
            for (size_t i = 0; i < n_first; i++)
                first[i] = (seen){e.recs[i].len, e.recs[i].batch_index, pulsar_crc32c(0, e.recs[i].payload, e.recs[i].len)};
        } else {
            /* The reader parses entry after entry into one pulsar_entry. */
            CHECK(rc == rc_first && e.n_recs == n_first);
            for (size_t i = 0; i < n_first; i++)
                CHECK(e.recs[i].len == first[i].len && e.recs[i].batch_index == first[i].batch_index &&
                      pulsar_crc32c(0, e.recs[i].payload, e.recs[i].len) == first[i].crc);
        }
    }
    free(first);
    pulsar_entry_free(&e);
    free(entry);
    return 0;
}
