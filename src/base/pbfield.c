/* pbfield.c — see pbfield.h. */
#include "base/pbfield.h"

#include <stddef.h>

static void *slot_of(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, ProtobufCType type) {
    if (!f || f->type != type || f->label == PROTOBUF_C_LABEL_REPEATED) return NULL;
    return (char *)m + f->offset;
}

void *pbfield_slot(ProtobufCMessage *m, const char *name, ProtobufCType type) {
    return slot_of(m, protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name), type);
}

void *pbfield_slot_number(ProtobufCMessage *m, unsigned number, ProtobufCType type) {
    return slot_of(m, protobuf_c_message_descriptor_get_field(m->descriptor, number), type);
}

/* The readers below only read through the slot; the casts drop const for
 * the shared lookup, not to write. */
const char *pbfield_string(const ProtobufCMessage *m, const char *name) {
    char **v = pbfield_slot((ProtobufCMessage *)m, name, PROTOBUF_C_TYPE_STRING);
    return v ? *v : NULL;
}

int64_t pbfield_int64(const ProtobufCMessage *m, const char *name) {
    int64_t *v = pbfield_slot((ProtobufCMessage *)m, name, PROTOBUF_C_TYPE_INT64);
    return v ? *v : 0;
}

const ProtobufCMessage *pbfield_message(const ProtobufCMessage *m, unsigned number,
                                        const ProtobufCMessageDescriptor *want) {
    ProtobufCMessage **v = pbfield_slot_number((ProtobufCMessage *)m, number, PROTOBUF_C_TYPE_MESSAGE);
    if (!v || !*v) return NULL;
    return !want || (*v)->descriptor == want ? *v : NULL;
}
