/* milvus_util.h — the pure parts of milvus_client.c: turning a Milvus Status
 * into an mcdc_code, building delete expressions and Query requests, and
 * reading a count(*) reply. They live apart only so
 * that unit tests can reach them without a server; nothing outside
 * src/target/milvus_client.c and its tests should include this. */
#ifndef MCDC_MILVUS_UTIL_H
#define MCDC_MILVUS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "milvus.pb-c.h"
#include "schema.pb-c.h"

/* Delete expressions are cut at this size: far below the proxy's 64 MiB
 * receive limit, and small enough that the proxy's expression parser stays
 * quick. */
#define MILVUS_EXPR_MAX_BYTES (1u << 20)

/* Classifies a non-success Status (milvus_client.h explains the classes).
 * method is the bare RPC name: "already exist" only means EEXIST for creates. */
mcdc_code milvus_status_class(const char *method, int32_t error_code, int32_t code, bool retriable,
                              const char *reason);

/* Appends s (n bytes) as a double-quoted Milvus string literal. */
void milvus_quote_str(mcdc_buf *b, const char *s, size_t n);

/* Appends "<pk> in [k_start, ...]" to b with as many keys from index start
 * as keep the expression within max_bytes (at least one, whatever its size)
 * and returns how many it took. */
size_t milvus_expr_ids(mcdc_buf *b, const char *pk, const Milvus__Proto__Schema__IDs *ids, size_t start,
                       size_t max_bytes);

/* The most rows one Query may return, limit plus offset (2.3's default
 * quotaAndLimits.limits.maxQueryResultWindow): a larger limit is refused by
 * the proxy, so it is refused here before the call. */
#define MILVUS_QUERY_WINDOW 16384

/* A QueryRequest at Strong consistency (use_default_consistency off, so the
 * collection's own level does not win), with limit (0 = none) as the
 * query_params pair {"limit": "<n>"}, as 2.3's proxy reads it. The request
 * points into the struct, so it must not be moved after init; the strings
 * and arrays passed in are borrowed. */
typedef struct milvus_query_req {
    Milvus__Proto__Milvus__QueryRequest req;
    Milvus__Proto__Common__KeyValuePair limit;
    Milvus__Proto__Common__KeyValuePair *params[1];
    char limit_text[24];
} milvus_query_req;

void milvus_query_req_init(milvus_query_req *q, const char *db, const char *coll, const char *const *partitions,
                           size_t n_partitions, const char *expr, const char *const *fields, size_t n_fields,
                           int64_t limit);

/* Whether a page query can be sent: a negative limit or one above
 * MILVUS_QUERY_WINDOW, or an empty expression without a limit (2.3 answers
 * that only for count(*)), is MCDC_EINVAL. */
int milvus_query_page_check(const char *expr, int64_t limit, mcdc_err *err);

/* The row count of a count(*) reply: exactly one Int64 column named
 * "count(*)" holding one value that is not negative. Any other shape is
 * MCDC_EREMOTE naming what came instead. */
int milvus_count_reply(const Milvus__Proto__Milvus__QueryResults *r, uint64_t *n, mcdc_err *err);

/* How many segments a Flush reply lists for coll: the sealed ones (those
 * the Flush just sealed among them) and the flushed ones. A reply that does
 * not name coll in both lists is MCDC_EREMOTE. */
int milvus_flush_reply_segments(const Milvus__Proto__Milvus__FlushResponse *r, const char *coll, size_t *segments,
                                mcdc_err *err);

#endif
