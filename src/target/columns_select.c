/* columns_select.c — some rows of a set of columns, as owned copies
 * (columns.h), and the small lookups a snapshot's paging needs.
 *
 * Every piece of a selected column is malloc'ed in the layout protobuf-c's
 * unpack would give it, so one call, free_unpacked, frees a column whatever
 * it holds. Like columns_join, the copying is written once over protobuf-c's
 * descriptors: each column kind is a message whose repeated `data` holds the
 * values (or a bytes field, for the packed vectors), so a row is `per`
 * consecutive elements or bytes and only the width differs by kind. */
#include "target/columns.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "model/change.h"

#define AT(msg, off, type) ((type *)((char *)(msg) + (off)))

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

static bool holds_pointer(ProtobufCType t) {
    return t == PROTOBUF_C_TYPE_STRING || t == PROTOBUF_C_TYPE_BYTES || t == PROTOBUF_C_TYPE_MESSAGE;
}

/* Never a zero-byte allocation: a NULL data pointer with length 0 would
 * reach memcpy when protobuf-c packs a oneof bytes member. */
static void *dup_bytes(const void *p, size_t n) {
    void *d = mcdc_xmalloc(n ? n : 1);
    if (n) memcpy(d, p, n);
    return d;
}

/* m with everything it points to. Packing and unpacking is protobuf-c's one
 * deep copy and gives unpack's ownership; it serves the rows of Array
 * columns (a ScalarField each), which are small. */
static ProtobufCMessage *deep_copy(const ProtobufCMessage *m) {
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = mcdc_xmalloc(len ? len : 1);
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    /* Bytes we just packed always unpack: only memory can fail here, and
     * running out of memory aborts everywhere else too (buf.h). */
    if (!c) abort();
    return c;
}

/* A new message of type ad holding the kept rows of src (NULL: an empty
 * one), `per` elements of `data` a row; its other plain fields (an
 * ArrayArray's element_type) as src's. */
static ProtobufCMessage *select_array(const ProtobufCMessageDescriptor *ad, const ProtobufCMessage *src,
                                      const bool *keep, uint32_t rows, size_t per, size_t kept) {
    ProtobufCMessage *out = mcdc_xmalloc(ad->sizeof_message);
    protobuf_c_message_init(ad, out);
    if (!src) return out;
    const ProtobufCFieldDescriptor *data = protobuf_c_message_descriptor_get_field_by_name(ad, "data");
    for (unsigned i = 0; i < ad->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &ad->fields[i];
        if (f != data && f->label != PROTOBUF_C_LABEL_REPEATED && !holds_pointer(f->type))
            memcpy(AT(out, f->offset, char), AT(src, f->offset, const char), element_size(f->type));
    }
    size_t n = kept * per, es = element_size(data->type);
    if (n == 0) return out;
    const char *from = *AT(src, data->offset, const char *const);
    char *to = mcdc_xmalloc(n * es);
    size_t k = 0;
    for (uint32_t r = 0; r < rows; r++) {
        if (!keep[r]) continue;
        for (size_t e = (size_t)r * per; e < (size_t)r * per + per; e++, k++) {
            const void *s = from + e * es;
            void *d = to + k * es;
            switch (data->type) {
            case PROTOBUF_C_TYPE_STRING: {
                const char *str = *(const char *const *)s;
                *(char **)d = mcdc_xstrdup(str ? str : "");
                break;
            }
            case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b = s;
                *(ProtobufCBinaryData *)d = (ProtobufCBinaryData){b->len, dup_bytes(b->data, b->len)};
                break;
            }
            case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *m = *(const ProtobufCMessage *const *)s;
                ProtobufCMessage *c;
                if (m) {
                    c = deep_copy(m);
                } else {
                    const ProtobufCMessageDescriptor *md = data->descriptor;
                    c = mcdc_xmalloc(md->sizeof_message);
                    protobuf_c_message_init(md, c);
                }
                *(ProtobufCMessage **)d = c;
                break;
            }
            default: memcpy(d, s, es); break;
            }
        }
    }
    *AT(out, data->quantifier_offset, size_t) = n;
    *AT(out, data->offset, char *) = to;
    return out;
}

static ProtobufCBinaryData select_bytes(const ProtobufCBinaryData *src, const bool *keep, uint32_t rows, size_t per,
                                        size_t kept) {
    size_t total = kept * per;
    ProtobufCBinaryData out = {0, mcdc_xmalloc(total > 0 ? total : 1)};
    for (uint32_t r = 0; r < rows; r++)
        if (keep[r]) {
            memcpy(out.data + out.len, src->data + (size_t)r * per, per);
            out.len += per;
        }
    return out;
}

/* Copies the oneof member `number` of src (a ScalarField or VectorField)
 * into dst, a fresh message of the same type. False when owner has no such
 * member (none set: an empty column). */
static bool select_member(const ProtobufCMessageDescriptor *owner, unsigned number, const void *src, void *dst,
                          const bool *keep, uint32_t rows, size_t per, size_t kept) {
    const ProtobufCFieldDescriptor *m = protobuf_c_message_descriptor_get_field(owner, number);
    if (!m) return false;
    if (m->type == PROTOBUF_C_TYPE_MESSAGE)
        *AT(dst, m->offset, ProtobufCMessage *) =
            select_array(m->descriptor, *AT(src, m->offset, const ProtobufCMessage *const), keep, rows, per, kept);
    else if (m->type == PROTOBUF_C_TYPE_BYTES)
        *AT(dst, m->offset, ProtobufCBinaryData) =
            select_bytes(AT(src, m->offset, const ProtobufCBinaryData), keep, rows, per, kept);
    return true;
}

/* Elements (floats) or bytes per row of a vector column. */
static size_t vector_width(const Milvus__Proto__Schema__VectorField *v) {
    size_t dim = v->dim > 0 ? (size_t)v->dim : 0;
    switch (v->data_case) {
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR: return dim / 8;
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR:
    case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR: return dim * 2;
    default: return dim;
    }
}

static Milvus__Proto__Schema__FieldData *select_column(const Milvus__Proto__Schema__FieldData *f, const bool *keep,
                                                       uint32_t rows, size_t kept) {
    Milvus__Proto__Schema__FieldData *d = mcdc_xmalloc(sizeof *d);
    milvus__proto__schema__field_data__init(d);
    d->type = f->type;
    d->field_name = mcdc_xstrdup(f->field_name ? f->field_name : "");
    d->field_id = f->field_id;
    d->is_dynamic = f->is_dynamic;
    if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS && f->scalars) {
        Milvus__Proto__Schema__ScalarField *s = mcdc_xmalloc(sizeof *s);
        milvus__proto__schema__scalar_field__init(s);
        if (select_member(&milvus__proto__schema__scalar_field__descriptor, f->scalars->data_case, f->scalars, s,
                          keep, rows, 1, kept))
            s->data_case = f->scalars->data_case;
        d->field_case = f->field_case;
        d->scalars = s;
    } else if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && f->vectors) {
        Milvus__Proto__Schema__VectorField *v = mcdc_xmalloc(sizeof *v);
        milvus__proto__schema__vector_field__init(v);
        v->dim = f->vectors->dim;
        if (select_member(&milvus__proto__schema__vector_field__descriptor, f->vectors->data_case, f->vectors, v,
                          keep, rows, vector_width(f->vectors), kept))
            v->data_case = f->vectors->data_case;
        d->field_case = f->field_case;
        d->vectors = v;
    }
    return d;
}

int columns_select(Milvus__Proto__Schema__FieldData *const *cols, size_t n_cols, uint32_t num_rows, const bool *keep,
                   Milvus__Proto__Schema__FieldData ***out, uint32_t *out_rows, mcdc_err *err) {
    *out = NULL;
    *out_rows = 0;
    /* Every column is checked before anything is copied: a copy may only
     * step over a column's end if its length was never checked. */
    for (size_t c = 0; c < n_cols; c++) {
        const Milvus__Proto__Schema__FieldData *f = cols[c];
        const char *name = f->field_name ? f->field_name : "";
        mcdc_err why = {0};
        long got = change_column_rows(f, &why);
        if (got < 0) return mcdc_errf(err, MCDC_EINVAL, "columns: column '%s': %s", name, why.msg);
        if ((uint64_t)got != num_rows)
            return mcdc_errf(err, MCDC_EINVAL, "columns: column '%s' holds %ld rows, not %u", name, got, num_rows);
    }
    size_t kept = 0;
    for (uint32_t r = 0; r < num_rows; r++) kept += keep[r];
    Milvus__Proto__Schema__FieldData **o = mcdc_xcalloc(n_cols ? n_cols : 1, sizeof *o);
    for (size_t c = 0; c < n_cols; c++) o[c] = select_column(cols[c], keep, num_rows, kept);
    *out = o;
    *out_rows = (uint32_t)kept;
    return 0;
}

void columns_free(Milvus__Proto__Schema__FieldData **cols, size_t n) {
    if (!cols) return;
    for (size_t i = 0; i < n; i++)
        if (cols[i]) milvus__proto__schema__field_data__free_unpacked(cols[i], NULL);
    free(cols);
}

int columns_key_at(const Milvus__Proto__Schema__FieldData *pk, uint32_t row, int64_t *int_key, const char **str_key) {
    *int_key = 0;
    *str_key = NULL;
    if (!pk || pk->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS || !pk->scalars) return -1;
    const Milvus__Proto__Schema__ScalarField *s = pk->scalars;
    if (s->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA && s->long_data &&
        row < s->long_data->n_data) {
        *int_key = s->long_data->data[row];
        return 0;
    }
    if (s->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA && s->string_data &&
        row < s->string_data->n_data) {
        *str_key = s->string_data->data[row] ? s->string_data->data[row] : "";
        return 0;
    }
    return -1;
}

int columns_find(Milvus__Proto__Schema__FieldData *const *cols, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (cols[i] && cols[i]->field_name && strcmp(cols[i]->field_name, name) == 0) return (int)i;
    return -1;
}

/* ---- a row's fingerprint (verification) ----------------------------------
 * FNV-1a over the row's bytes as this process holds them: numbers by their
 * bits (a float's -0.0 and 0.0 differ, as they would on disk), strings and
 * JSON with their length first so "ab","c" and "a","bc" differ, an Array
 * row (a ScalarField) as protobuf packs it. A collision between two
 * different rows is a 2^-64 chance per compared pair. */
#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

static uint64_t fnv_sized(uint64_t h, const void *p, size_t n) {
    uint64_t len = n;
    h = fnv(h, &len, sizeof len);
    return fnv(h, p, n);
}

/* Elements [first, first+per) of a repeated `data` field, into h. */
static int hash_elements(uint64_t *h, const ProtobufCMessage *arr, size_t first, size_t per) {
    if (!arr) return -1;
    const ProtobufCFieldDescriptor *data = protobuf_c_message_descriptor_get_field_by_name(arr->descriptor, "data");
    if (!data) return -1;
    size_t n = *AT(arr, data->quantifier_offset, const size_t);
    if (first + per > n) return -1;
    const char *base = *AT(arr, data->offset, const char *const);
    size_t es = element_size(data->type);
    for (size_t e = first; e < first + per; e++) {
        const void *s = base + e * es;
        switch (data->type) {
        case PROTOBUF_C_TYPE_STRING: {
            const char *str = *(const char *const *)s;
            *h = fnv_sized(*h, str ? str : "", str ? strlen(str) : 0);
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *b = s;
            *h = fnv_sized(*h, b->data, b->len);
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *m = *(const ProtobufCMessage *const *)s;
            size_t len = m ? protobuf_c_message_get_packed_size(m) : 0;
            uint8_t *buf = mcdc_xmalloc(len ? len : 1);
            if (m) protobuf_c_message_pack(m, buf);
            *h = fnv_sized(*h, buf, len);
            free(buf);
            break;
        }
        default: *h = fnv(*h, s, es); break;
        }
    }
    return 0;
}

/* The oneof member `number` of msg (a ScalarField or VectorField), row
 * `row` of `per` elements or bytes, into h. */
static int hash_member(uint64_t *h, const ProtobufCMessageDescriptor *owner, unsigned number, const void *msg,
                       uint32_t row, size_t per) {
    const ProtobufCFieldDescriptor *m = protobuf_c_message_descriptor_get_field(owner, number);
    if (!m) return -1;
    *h = fnv(*h, &number, sizeof number);
    if (m->type == PROTOBUF_C_TYPE_MESSAGE)
        return hash_elements(h, *AT(msg, m->offset, const ProtobufCMessage *const), (size_t)row * per, per);
    if (m->type != PROTOBUF_C_TYPE_BYTES) return -1;
    const ProtobufCBinaryData *b = AT(msg, m->offset, const ProtobufCBinaryData);
    if (((size_t)row + 1) * per > b->len) return -1;
    *h = fnv(*h, b->data + (size_t)row * per, per);
    return 0;
}

int columns_row_hash(const Milvus__Proto__Schema__FieldData *col, uint32_t row, uint64_t *h) {
    if (!col) return -1;
    if (*h == 0) *h = FNV_OFFSET;
    /* The name too: a field renamed with the same values is another row. */
    const char *name = col->field_name ? col->field_name : "";
    *h = fnv_sized(*h, name, strlen(name));
    if (col->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS && col->scalars)
        return hash_member(h, &milvus__proto__schema__scalar_field__descriptor, col->scalars->data_case, col->scalars,
                           row, 1);
    if (col->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && col->vectors) {
        size_t per = vector_width(col->vectors);
        if (per == 0) return -1;
        return hash_member(h, &milvus__proto__schema__vector_field__descriptor, col->vectors->data_case, col->vectors,
                           row, per);
    }
    return -1;
}
