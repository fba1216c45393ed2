/* bench/feed.c — the target fed over mcdc's own gRPC path (src/rpc).
 *
 * The Python ceilings send over grpcio, which drives its connections from a
 * thread of its own; mcdc sends from its channel threads over gRPC C core,
 * whose connection makes progress only while some thread of the process
 * waits in a completion queue. This program sends the same prepared requests
 * over mcdc's call path (rpc_call_start, up to K in flight, each next call
 * sent when the oldest landed) from one thread, so that a difference between
 * it and the Python ceiling in one session is the call path's, not the
 * requests'. --poller adds a thread that only waits in a completion queue of
 * its own, so that some thread always drives gRPC's I/O (docs/benchmarks.md,
 * sixth part: it made no difference).
 *
 * Input: a file of requests, each a 4-byte little-endian length and a
 * serialized milvus.proto.milvus.InsertRequest (UpsertRequest has the same
 * fields), written before the clock (benchlib.raw_insert_ceiling with
 * feeder=...). Each is unpacked into a protobuf-c message before the clock
 * too; what is timed is packing and sending, which mcdc pays as well.
 *
 * usage: bench_feed --target HOST:PORT [--upsert] [--inflight K] [--ready] [--poller] FILE
 * --ready: once the requests are read, print "ready" and start only when a
 * line arrives on stdin (the caller starts its clock in between). Then it
 * prints {"calls": N, "rows": R, "seconds": S} on success; exit 1 with the
 * reason on stderr when a call fails or the file is not what it should be. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/support/time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "milvus.pb-c.h"
#include "rpc/rpc.h"

#define SERVICE "/milvus.proto.milvus.MilvusService/"
#define MAX_K 64
#define USAGE "usage: bench_feed --target HOST:PORT [--upsert] [--inflight K] [--ready] [--poller] FILE"

static atomic_bool g_stop;

/* --poller's thread. */
static void *poller(void *arg) {
    grpc_completion_queue *cq = arg;
    while (!atomic_load(&g_stop))
        grpc_completion_queue_next(cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(50, GPR_TIMESPAN)),
                                   NULL);
    return NULL;
}

static int die(const char *what) {
    fprintf(stderr, "bench_feed: %s\n", what);
    return 1;
}

/* The reply's status: both codes 0, or the reason. */
static int reply_ok(const Milvus__Proto__Milvus__MutationResult *r, const char *method) {
    const Milvus__Proto__Common__Status *st = r->status;
    if (!st || (st->error_code == 0 && st->code == 0)) return 1;
    fprintf(stderr, "bench_feed: %s: %s (error_code %d, code %d)\n", method, st->reason ? st->reason : "",
            (int)st->error_code, (int)st->code);
    return 0;
}

static int land(rpc_call *c, const char *method) {
    ProtobufCMessage *resp;
    mcdc_err err;
    int ok = rpc_call_wait(c, &milvus__proto__milvus__mutation_result__descriptor, &resp, &err) == 0;
    if (!ok) fprintf(stderr, "bench_feed: %s\n", err.msg);
    else {
        ok = reply_ok((Milvus__Proto__Milvus__MutationResult *)resp, method);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    rpc_call_free(c);
    return ok;
}

int main(int argc, char **argv) {
    const char *target = NULL, *file = NULL;
    int upsert = 0, ready = 0, use_poller = 0;
    size_t k = 4;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) target = argv[++i];
        else if (strcmp(argv[i], "--upsert") == 0) upsert = 1;
        else if (strcmp(argv[i], "--ready") == 0) ready = 1;
        else if (strcmp(argv[i], "--poller") == 0) use_poller = 1;
        else if (strcmp(argv[i], "--inflight") == 0 && i + 1 < argc) k = strtoul(argv[++i], NULL, 10);
        else if (!file && argv[i][0] != '-') file = argv[i];
        else return die(USAGE);
    }
    if (!target || !file) return die(USAGE);
    if (k < 1 || k > MAX_K) return die("--inflight must be 1..64");

    mcdc_buf b = MCDC_BUF_INIT;
    if (mcdc_buf_read_file(&b, file)) return die("cannot read the request file");
    size_t n = 0, cap = 0;
    Milvus__Proto__Milvus__InsertRequest **reqs = NULL;
    uint64_t rows = 0;
    for (size_t at = 0; at < b.len;) {
        if (b.len - at < 4) return die("request file: truncated length");
        uint32_t len = (uint32_t)b.data[at] | (uint32_t)b.data[at + 1] << 8 | (uint32_t)b.data[at + 2] << 16 |
                       (uint32_t)b.data[at + 3] << 24;
        at += 4;
        if (b.len - at < len) return die("request file: truncated request");
        if (n == cap) reqs = mcdc_xrealloc(reqs, (cap = cap ? 2 * cap : 64) * sizeof *reqs);
        reqs[n] = milvus__proto__milvus__insert_request__unpack(NULL, len, b.data + at);
        if (!reqs[n]) return die("request file: a request does not decode as InsertRequest");
        rows += reqs[n]->num_rows;
        n++;
        at += len;
    }
    mcdc_buf_free(&b);

    rpc_init();
    mcdc_err err;
    rpc_channel *ch = rpc_channel_open(target, NULL, 0, &err);
    if (!ch) return die(err.msg);
    const char *method = upsert ? SERVICE "Upsert" : SERVICE "Insert";
    pthread_t pt;
    grpc_completion_queue *pcq = NULL;
    if (use_poller) {
        pcq = grpc_completion_queue_create_for_next(NULL);
        if (pthread_create(&pt, NULL, poller, pcq) != 0) return die("cannot start the poller thread");
    }
    if (ready) {
        char line[16];
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) return die("stdin closed before the start");
    }
    rpc_call *ring[MAX_K];
    size_t head = 0, fly = 0;
    int ok = 1;
    uint64_t t0 = mcdc_now_mono_ns();
    for (size_t i = 0; i < n && ok; i++) {
        if (fly == k) {
            ok = land(ring[head], method);
            head = (head + 1) % MAX_K;
            fly--;
        }
        rpc_call *c = rpc_call_start(ch, method, NULL, 0, 300000, &reqs[i]->base, &err);
        if (!c) {
            fprintf(stderr, "bench_feed: %s\n", err.msg);
            ok = 0;
            break;
        }
        ring[(head + fly++) % MAX_K] = c;
    }
    for (; fly; fly--, head = (head + 1) % MAX_K) ok = land(ring[head], method) && ok;
    double secs = (double)(mcdc_now_mono_ns() - t0) / 1e9;
    if (use_poller) {
        atomic_store(&g_stop, true);
        pthread_join(pt, NULL);
        grpc_completion_queue_shutdown(pcq);
        while (grpc_completion_queue_next(pcq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(pcq);
    }
    for (size_t i = 0; i < n; i++) milvus__proto__milvus__insert_request__free_unpacked(reqs[i], NULL);
    free(reqs);
    rpc_channel_close(ch);
    rpc_shutdown();
    if (!ok) return 1;
    printf("{\"calls\": %zu, \"rows\": %llu, \"seconds\": %.4f}\n", n, (unsigned long long)rows, secs);
    return 0;
}
