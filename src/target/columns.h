/* columns.h — one set of insert columns out of several inserts' columns, and
 * some rows of a set of columns.
 *
 * During a catch-up the WAL holds a run of Inserts into the same partition,
 * each about a thousand rows (the proxy splits a client's call per shard and
 * segment, spec/mq-messages.md §9.1). Sending each as its own Insert makes
 * the target pay its per-call cost for each; the channel worker joins such a
 * run (until it holds apply.batch_rows rows, at most batch_bytes) and sends it in one call.
 *
 * The joined columns borrow what they can from the parts (strings, JSON and
 * array rows are pointers into the parts' messages) and copy only the
 * fixed-size values, so the parts must outlive the result.
 *
 * A collection snapshot reads the source page by page (Query) and sends on
 * only the rows it still needs: columns_select copies those rows out whole,
 * since the page's QueryResults is freed before the copy is sent. */
#ifndef MCDC_COLUMNS_H
#define MCDC_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "schema.pb-c.h"

typedef struct columns_joined {
    Milvus__Proto__Schema__FieldData **cols;
    size_t n_cols;
    void **owned;          /* what columns_join_free releases */
    size_t n_owned, cap_owned;
} columns_joined;

/* Joins parts[0..n) (each an array of n_cols[i] columns) column by column.
 * The parts must have the same columns in the same order, each of one kind;
 * MCDC_EINVAL when they do not (the caller then sends them one by one). */
int columns_join(Milvus__Proto__Schema__FieldData *const *const *parts, const size_t *n_cols, size_t n,
                 columns_joined *out, mcdc_err *err);
void columns_join_free(columns_joined *j);

/* A new array of n_cols columns holding the rows r < num_rows with keep[r],
 * in order (*out_rows of them: all, some or none), each column a deep copy
 * that owns everything it points to: name, field_id, type and is_dynamic as
 * the source column, values of every schema.proto kind (scalars, JSON,
 * arrays with their element_type, float, binary, float16 and bfloat16
 * vectors with their dim). A column that does not hold num_rows rows is
 * MCDC_EINVAL naming it, and nothing is returned. Freed with columns_free. */
int columns_select(Milvus__Proto__Schema__FieldData *const *cols, size_t n_cols, uint32_t num_rows, const bool *keep,
                   Milvus__Proto__Schema__FieldData ***out, uint32_t *out_rows, mcdc_err *err);
/* Frees what columns_select made (NULL entries and a NULL array too). */
void columns_free(Milvus__Proto__Schema__FieldData **cols, size_t n);

/* Row `row` of a primary key column: an Int64 column's key in *int_key
 * (*str_key NULL), or a VarChar column's in *str_key (a pointer into the
 * column, "" for a missing string). -1 for a column of another kind or a
 * row past its end. */
int columns_key_at(const Milvus__Proto__Schema__FieldData *pk, uint32_t row, int64_t *int_key, const char **str_key);

/* Mixes col's name and row `row` of it into *h (start with *h = 0): every value kind
 * columns_select copies, by its bits; two rows hash alike only when they
 * hold the same values (but for a 2^-64 chance). -1 for a column of no
 * known kind or a row past its end. */
int columns_row_hash(const Milvus__Proto__Schema__FieldData *col, uint32_t row, uint64_t *h);
/* The index of the column named name, or -1. */
int columns_find(Milvus__Proto__Schema__FieldData *const *cols, size_t n, const char *name);

#endif
