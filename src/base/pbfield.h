/* pbfield.h — a protobuf-c message's field, found through its descriptor.
 *
 * Milvus spells the same field the same in many message types (db_name,
 * collection_name, MsgBase at number 1, Status at number 1) but protoc-c
 * places it at a different offset in each struct. Code that must handle any
 * of those types reaches the field here instead of with a cast per type.
 * Only singular fields: a repeated one, or one of another type than asked,
 * counts as absent. */
#ifndef MCDC_PBFIELD_H
#define MCDC_PBFIELD_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Where field `name` (or field number `number`) of type `type` lives inside
 * m, to read or to replace; NULL when m's type has no such singular field. */
void *pbfield_slot(ProtobufCMessage *m, const char *name, ProtobufCType type);
void *pbfield_slot_number(ProtobufCMessage *m, unsigned number, ProtobufCType type);

/* The value of string field `name`: NULL when absent or unset. */
const char *pbfield_string(const ProtobufCMessage *m, const char *name);

/* The value of int64 field `name`: 0 when absent. */
int64_t pbfield_int64(const ProtobufCMessage *m, const char *name);

/* The message in field number `number`, if it is of type `want` (any type
 * when want is NULL): NULL when absent, unset or of another type. */
const ProtobufCMessage *pbfield_message(const ProtobufCMessage *m, unsigned number,
                                        const ProtobufCMessageDescriptor *want);

#endif
