/* change_json.h — a change as one JSON object, for `mcdc dump` and the tests.
 *
 * Shape (keys absent when they do not apply):
 *   {"kind":"insert","msg_type":400,"msg_id":..,"ts":..,"ts_wall":"2026-..Z",
 *    "db_id":..,"collection_id":..,"partition_id":..,"db":"..","collection":"..",
 *    "partition":"..","shard":"..","num_rows":3,"pks":[..],"rows":[{..},..]}
 * Vectors are arrays of numbers; JSON and $meta columns are embedded as JSON. */
#ifndef MCDC_CHANGE_JSON_H
#define MCDC_CHANGE_JSON_H

#include <stdbool.h>

#include <jansson.h>

#include "model/change.h"

/* pk_field names the primary-key column of an Insert (the catalog knows it;
 * the message does not). NULL leaves "pks" out of inserts. */
json_t *change_to_json(const change *c, const char *pk_field, bool with_rows);

/* One cell of a column as JSON (a new reference). */
json_t *change_cell_json(const Milvus__Proto__Schema__FieldData *f, size_t row);

/* "2026-11-24T11:24:32.123Z" for the physical part of a hybrid ts. */
void change_ts_wall(uint64_t ts, char out[32]);

#endif
