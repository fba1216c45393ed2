/* schema_check.h — whether a target collection that exists already can
 * take a source collection's rows as they are: the same user fields (name,
 * type, primary key, vector dimension, varchar length, array element type
 * and capacity) and the same dynamic-field setting.
 *
 * mcdc adopts a target collection it did not create only when this holds
 * (bindings.h); anything else would fail on the first insert at best, and at
 * worst take rows into a collection that means something else. autoID and
 * descriptions may differ: mcdc creates its own collections with autoID off
 * and keeps the source's keys either way. */
#ifndef MCDC_SCHEMA_CHECK_H
#define MCDC_SCHEMA_CHECK_H

#include "base/error.h"
#include "schema.pb-c.h"

/* 0 when they match; else MCDC_EREMOTE with both schemas in the message
 * ("source [id INT64 pk, v FLOAT_VECTOR(8)] target [...]"). System fields
 * (ids below 100) and the $meta field are left out on both sides. */
int schema_check(const Milvus__Proto__Schema__CollectionSchema *source,
                 const Milvus__Proto__Schema__CollectionSchema *target, mcdc_err *err);

#endif
