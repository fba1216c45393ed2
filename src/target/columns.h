/* columns.h — one set of insert columns out of several inserts' columns.
 *
 * During a catch-up the WAL holds a run of Inserts into the same partition,
 * each about a thousand rows (the proxy splits a client's call per shard and
 * segment, spec/mq-messages.md §9.1). Sending each as its own Insert makes
 * the target pay its per-call cost for each; the channel worker joins such a
 * run (up to apply.batch_rows / batch_bytes) and sends it in one call.
 *
 * The joined columns borrow what they can from the parts (strings, JSON and
 * array rows are pointers into the parts' messages) and copy only the
 * fixed-size values, so the parts must outlive the result. */
#ifndef MCDC_COLUMNS_H
#define MCDC_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "schema.pb-c.h"

typedef struct columns_joined {
    Milvus__Proto__Schema__FieldData **cols;
    size_t n_cols;
    void **owned;          /* what columns_free releases */
    size_t n_owned, cap_owned;
} columns_joined;

/* Joins parts[0..n) (each an array of n_cols[i] columns) column by column.
 * The parts must have the same columns in the same order, each of one kind;
 * MCDC_EINVAL when they do not (the caller then sends them one by one). */
int columns_join(Milvus__Proto__Schema__FieldData *const *const *parts, const size_t *n_cols, size_t n,
                 columns_joined *out, mcdc_err *err);
void columns_free(columns_joined *j);

#endif
