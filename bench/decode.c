/* bench/decode.c — decoding speed of real WAL messages.
 *
 * Decodes each given message file (raw Kafka record values written by Milvus,
 * default: the Insert fixtures) over and over for about a second each, single
 * threaded, and prints MB/s and messages/s, then one JSON line per file.
 * The goal (issue "Benchmarks") is >= 1 GB/s per core on typical inserts.
 *
 * usage: bench_decode [--seconds S] FILE...  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "source/decode.h"

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
        change c;
        mcdc_err err;
        if (decode_change(b.data, b.len, &c, &err)) {
            fprintf(stderr, "bench_decode: %s: %s\n", argv[i], err.msg);
            return 1;
        }
        size_t rows = c.num_rows;
        change_free(&c);
        uint64_t start = mcdc_now_mono_ns(), now;
        uint64_t iters = 0;
        do {
            for (int k = 0; k < 64; k++) {
                decode_change(b.data, b.len, &c, NULL);
                change_free(&c);
            }
            iters += 64;
            now = mcdc_now_mono_ns();
        } while ((double)(now - start) < seconds * 1e9);
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
