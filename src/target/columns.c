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

void columns_free(columns_joined *j) {
    for (size_t i = 0; i < j->n_owned; i++) free(j->owned[i]);
    free(j->owned);
    memset(j, 0, sizeof *j);
}

/* Every typed array of schema.proto is {n_data, data}; strings, bytes and
 * nested arrays are joined as pointers into the parts, numbers by value. */
#define JOIN_ARRAY(DST, SRC_OF, FIELD, TYPE, INIT)                                   \
    do {                                                                              \
        TYPE *a_ = own(j, mcdc_xmalloc(sizeof *a_));                                  \
        *a_ = (TYPE)INIT;                                                             \
        size_t total_ = 0;                                                            \
        for (size_t p_ = 0; p_ < n; p_++)                                             \
            if (SRC_OF(p_)->FIELD) total_ += SRC_OF(p_)->FIELD->n_data;               \
        a_->data = own(j, mcdc_xmalloc((total_ ? total_ : 1) * sizeof *a_->data));    \
        for (size_t p_ = 0; p_ < n; p_++) {                                           \
            const TYPE *s_ = SRC_OF(p_)->FIELD;                                       \
            if (!s_ || !s_->n_data) continue;                                         \
            memcpy(a_->data + a_->n_data, s_->data, s_->n_data * sizeof *a_->data);   \
            a_->n_data += s_->n_data;                                                 \
        }                                                                             \
        (DST)->FIELD = a_;                                                            \
    } while (0)

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
    const ProtobufCBinaryData **bins = mcdc_xcalloc(n, sizeof *bins);
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
#define SC(p) (parts[p][c]->scalars)
            switch (s->data_case) {
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA:
                JOIN_ARRAY(s, SC, bool_data, Milvus__Proto__Schema__BoolArray, MILVUS__PROTO__SCHEMA__BOOL_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA:
                JOIN_ARRAY(s, SC, int_data, Milvus__Proto__Schema__IntArray, MILVUS__PROTO__SCHEMA__INT_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA:
                JOIN_ARRAY(s, SC, long_data, Milvus__Proto__Schema__LongArray, MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA:
                JOIN_ARRAY(s, SC, float_data, Milvus__Proto__Schema__FloatArray, MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA:
                JOIN_ARRAY(s, SC, double_data, Milvus__Proto__Schema__DoubleArray, MILVUS__PROTO__SCHEMA__DOUBLE_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA:
                JOIN_ARRAY(s, SC, string_data, Milvus__Proto__Schema__StringArray, MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BYTES_DATA:
                JOIN_ARRAY(s, SC, bytes_data, Milvus__Proto__Schema__BytesArray, MILVUS__PROTO__SCHEMA__BYTES_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA:
                JOIN_ARRAY(s, SC, json_data, Milvus__Proto__Schema__JSONArray, MILVUS__PROTO__SCHEMA__JSONARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA:
                JOIN_ARRAY(s, SC, array_data, Milvus__Proto__Schema__ArrayArray, MILVUS__PROTO__SCHEMA__ARRAY_ARRAY__INIT);
                if (SC(0)->array_data) s->array_data->element_type = SC(0)->array_data->element_type;
                break;
            default: break; /* no data in any part: an empty column stays empty */
            }
#undef SC
        } else if (f0->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS) {
            Milvus__Proto__Schema__VectorField *v = own(j, mcdc_xmalloc(sizeof *v));
            *v = (Milvus__Proto__Schema__VectorField)MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
            v->dim = f0->vectors->dim;
            v->data_case = f0->vectors->data_case;
            d->vectors = v;
#define VC(p) (parts[p][c]->vectors)
            switch (v->data_case) {
            case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR:
                JOIN_ARRAY(v, VC, float_vector, Milvus__Proto__Schema__FloatArray, MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT);
                break;
            case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR:
                for (size_t p = 0; p < n; p++) bins[p] = &VC(p)->binary_vector;
                v->binary_vector = join_bytes(j, bins, n);
                break;
            case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR:
                for (size_t p = 0; p < n; p++) bins[p] = &VC(p)->float16_vector;
                v->float16_vector = join_bytes(j, bins, n);
                break;
            case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR:
                for (size_t p = 0; p < n; p++) bins[p] = &VC(p)->bfloat16_vector;
                v->bfloat16_vector = join_bytes(j, bins, n);
                break;
            default: break;
            }
#undef VC
        }
    }
    free(bins);
    return 0;
}
