/* bench/decode.c — decoding speed of real WAL messages.
 *
 * Decodes each given message file (raw Kafka record values written by Milvus,
 * default: the Insert fixtures) over and over for about a second each, single
 * threaded, and prints MB/s and messages/s, then one JSON line per file.
 * The goal (issue "Benchmarks") is >= 1 GB/s per core on typical inserts.
 *
 * A file that holds a whole Pulsar MESSAGE frame (tests/fixtures/pulsar)
 * is measured the way the Pulsar reader sees it: frame, CRC32C, ZSTD,
 * batch entry, then the Milvus message — the MB/s are of the frame bytes.
 *
 * usage: bench_decode [--seconds S] FILE...  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "mq/pulsar_int.h"
#include "source/decode.h"

/* One pass over a message file: a raw Milvus message, or a Pulsar frame. */
static int decode_once(const mcdc_buf *b, bool frame, pulsar_entry *entry, size_t *rows, mcdc_err *err) {
    change c;
    if (!frame) {
        if (decode_change(b->data, b->len, &c, err)) return -1;
        *rows = c.num_rows;
        change_free(&c);
        return 0;
    }
    pulsar_frame f;
    if (pulsar_frame_decode(b->data, b->len, &f, err)) return -1;
    int rc = pulsar_entry_parse(entry, f.rest, f.rest_len, "bench", "0:0", err);
    *rows = 0;
    for (size_t i = 0; rc == 0 && i < entry->n_recs; i++) {
        if ((rc = decode_change(entry->recs[i].payload, entry->recs[i].len, &c, err)) == 0) {
            *rows += c.num_rows;
            change_free(&c);
        }
    }
    pulsar_frame_clear(&f);
    return rc;
}

static int load(const char *path, mcdc_buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mcdc_buf_append(b, chunk, n);
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    double seconds = 1.0;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--seconds") == 0) {
        seconds = atof(argv[2]);
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: bench_decode [--seconds S] FILE...\n");
        return 2;
    }
    printf("%-40s %10s %8s %12s %10s\n", "message", "bytes", "rows", "msgs/s", "MB/s");
    for (int i = first; i < argc; i++) {
        mcdc_buf b = MCDC_BUF_INIT;
        if (load(argv[i], &b)) {
            fprintf(stderr, "bench_decode: cannot read %s\n", argv[i]);
            return 2;
        }
        mcdc_err err;
        bool frame = b.len >= 8 && pulsar_frame_len(b.data) == (int64_t)b.len;
        pulsar_entry entry = {0};
        size_t rows;
        if (decode_once(&b, frame, &entry, &rows, &err)) {
            fprintf(stderr, "bench_decode: %s: %s\n", argv[i], err.msg);
            return 1;
        }
        uint64_t start = mcdc_now_mono_ns(), now;
        uint64_t iters = 0;
        do {
            for (int k = 0; k < 64; k++) {
                size_t r;
                decode_once(&b, frame, &entry, &r, NULL);
            }
            iters += 64;
            now = mcdc_now_mono_ns();
        } while ((double)(now - start) < seconds * 1e9);
        pulsar_entry_free(&entry);
        double secs = (double)(now - start) / 1e9;
        double mbps = (double)b.len * (double)iters / secs / 1e6;
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        printf("%-40s %10zu %8zu %12.0f %10.1f\n", name, b.len, rows, (double)iters / secs, mbps);
        printf("{\"bench\":\"decode\",\"message\":\"%s\",\"bytes\":%zu,\"rows\":%zu,\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,"
               "\"goal_mb_per_s\":1000,\"ratio_to_goal\":%.2f}\n",
               name, b.len, rows, (double)iters / secs, mbps, mbps / 1000.0);
        mcdc_buf_free(&b);
    }
    return 0;
}
