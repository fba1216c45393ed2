/* columns.c — see columns.h. */
#include "target/columns.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static void *own(columns_joined *j, void *p) {
    if (j->n_owned == j->cap_owned) {
        j->cap_owned = j->cap_owned ? 2 * j->cap_owned : 32;
        j->owned = mcdc_xrealloc(j->owned, j->cap_owned * sizeof *j->owned);
    }
    j->owned[j->n_owned++] = p;
    return p;
}

void columns_join_free(columns_joined *j) {
    for (size_t i = 0; i < j->n_owned; i++) free(j->owned[i]);
    free(j->owned);
    memset(j, 0, sizeof *j);
}

/* The columns of schema.proto are oneofs of typed arrays (a message whose
 * one repeated field `data` holds the values) or of bytes (binary vectors).
 * Joining is the same for every type: so it is written once, over
 * protobuf-c's descriptors, and a type Milvus adds joins without a line
 * here. Fixed-size values are copied; strings, bytes and nested arrays are
 * elements that point into the parts, and the pointers are what is copied. */

static size_t element_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(int64_t);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    default: return sizeof(int32_t); /* the 32-bit integers and enums */
    }
}

#define AT(msg, off, type) ((type *)((char *)(msg) + (off)))

/* The typed arrays ms[0..n) (NULL: none in that part) as one: a copy of the
 * first with `data` holding every part's values in order. */
static ProtobufCMessage *join_array(columns_joined *j, const ProtobufCMessageDescriptor *ad,
                                    const ProtobufCMessage *const *ms, size_t n) {
    const ProtobufCFieldDescriptor *data = protobuf_c_message_descriptor_get_field_by_name(ad, "data");
    size_t es = element_size(data->type), total = 0;
    const ProtobufCMessage *first = NULL;
    for (size_t p = 0; p < n; p++) {
        if (!ms[p]) continue;
        total += *AT(ms[p], data->quantifier_offset, const size_t);
        if (!first) first = ms[p];
    }
    ProtobufCMessage *out = own(j, mcdc_xmalloc(ad->sizeof_message));
    if (first) {
        memcpy(out, first, ad->sizeof_message); /* and so its other fields: an ArrayArray's element_type */
        out->n_unknown_fields = 0;
        out->unknown_fields = NULL;
    } else {
        protobuf_c_message_init(ad, out);
    }
    uint8_t *values = own(j, mcdc_xmalloc(total ? total * es : 1));
    size_t k = 0;
    for (size_t p = 0; p < n; p++) {
        size_t cnt = ms[p] ? *AT(ms[p], data->quantifier_offset, const size_t) : 0;
        if (cnt) memcpy(values + k * es, *AT(ms[p], data->offset, void *const), cnt * es);
        k += cnt;
    }
    *AT(out, data->quantifier_offset, size_t) = total;
    *AT(out, data->offset, void *) = values;
    return out;
}

static ProtobufCBinaryData join_bytes(columns_joined *j, const ProtobufCBinaryData *const *parts, size_t n) {
    size_t total = 0;
    for (size_t p = 0; p < n; p++) total += parts[p]->len;
    ProtobufCBinaryData out = {0, own(j, mcdc_xmalloc(total ? total : 1))};
    for (size_t p = 0; p < n; p++) {
        if (parts[p]->len) memcpy(out.data + out.len, parts[p]->data, parts[p]->len);
        out.len += parts[p]->len;
    }
    return out;
}

/* Joins the oneof member `number` of srcs[0..n) (ScalarField or VectorField
 * messages of one column) into dst, a message of the same type. scratch
 * holds n pointers. A member this cannot join (none: an empty column) is
 * left empty, as in every part. */
static void join_member(columns_joined *j, const ProtobufCMessageDescriptor *owner, unsigned number,
                        const void *const *srcs, size_t n, void *dst, const void **scratch) {
    const ProtobufCFieldDescriptor *m = protobuf_c_message_descriptor_get_field(owner, number);
    if (!m) return;
    for (size_t p = 0; p < n; p++)
        scratch[p] = m->type == PROTOBUF_C_TYPE_MESSAGE ? (const void *)*AT(srcs[p], m->offset, void *const)
                                                         : (const void *)AT(srcs[p], m->offset, const char);
    if (m->type == PROTOBUF_C_TYPE_MESSAGE)
        *AT(dst, m->offset, ProtobufCMessage *) = join_array(j, m->descriptor, (const ProtobufCMessage *const *)scratch, n);
    else if (m->type == PROTOBUF_C_TYPE_BYTES)
        *AT(dst, m->offset, ProtobufCBinaryData) = join_bytes(j, (const ProtobufCBinaryData *const *)scratch, n);
}

int columns_join(Milvus__Proto__Schema__FieldData *const *const *parts, const size_t *n_cols, size_t n,
                 columns_joined *j, mcdc_err *err) {
    memset(j, 0, sizeof *j);
    if (n == 0) return mcdc_errf(err, MCDC_EINVAL, "columns: nothing to join");
    size_t nc = n_cols[0];
    for (size_t p = 1; p < n; p++)
        if (n_cols[p] != nc) return mcdc_errf(err, MCDC_EINVAL, "columns: parts have %zu and %zu columns", nc, n_cols[p]);
    for (size_t c = 0; c < nc; c++) {
        const Milvus__Proto__Schema__FieldData *f0 = parts[0][c];
        for (size_t p = 1; p < n; p++) {
            const Milvus__Proto__Schema__FieldData *f = parts[p][c];
            bool same = strcmp(f->field_name, f0->field_name) == 0 && f->type == f0->type && f->field_case == f0->field_case;
            if (same && f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS)
                same = f->scalars && f0->scalars && f->scalars->data_case == f0->scalars->data_case;
            if (same && f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS)
                same = f->vectors && f0->vectors && f->vectors->data_case == f0->vectors->data_case &&
                       f->vectors->dim == f0->vectors->dim;
            if (!same) return mcdc_errf(err, MCDC_EINVAL, "columns: column %zu (%s) differs between parts", c, f0->field_name);
        }
    }

    j->cols = own(j, mcdc_xcalloc(nc ? nc : 1, sizeof *j->cols));
    j->n_cols = nc;
    const void **srcs = mcdc_xcalloc(n, sizeof *srcs), **scratch = mcdc_xcalloc(n, sizeof *scratch);
    for (size_t c = 0; c < nc; c++) {
        const Milvus__Proto__Schema__FieldData *f0 = parts[0][c];
        Milvus__Proto__Schema__FieldData *d = own(j, mcdc_xmalloc(sizeof *d));
        *d = *f0;  /* name, type, id, dynamic flag: the same in every part */
        j->cols[c] = d;
        if (f0->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS) {
            Milvus__Proto__Schema__ScalarField *s = own(j, mcdc_xmalloc(sizeof *s));
            *s = (Milvus__Proto__Schema__ScalarField)MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
            s->data_case = f0->scalars->data_case;
            d->scalars = s;
for (size_t p = 0; p < n; p++) srcs[p] = parts[p][c]->scalars;
            join_member(j, &milvus__proto__schema__scalar_field__descriptor, s->data_case, srcs, n, s, scratch);
        } else if (f0->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS) {
            Milvus__Proto__Schema__VectorField *v = own(j, mcdc_xmalloc(sizeof *v));
            *v = (Milvus__Proto__Schema__VectorField)MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
            v->dim = f0->vectors->dim;
            v->data_case = f0->vectors->data_case;
            d->vectors = v;
for (size_t p = 0; p < n; p++) srcs[p] = parts[p][c]->vectors;
            join_member(j, &milvus__proto__schema__vector_field__descriptor, v->data_case, srcs, n, v, scratch);
        }
    }
    free(srcs);
    free(scratch);
    return 0;
}
