/* milvus_util.h — the pure parts of milvus_client.c: turning a Milvus Status
 * into an mcdc_code, and building delete expressions. They live apart only so
 * that unit tests can reach them without a server; nothing outside
 * src/target/milvus_client.c and its tests should include this. */
#ifndef MCDC_MILVUS_UTIL_H
#define MCDC_MILVUS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
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

#endif
