/* schema_check.c — see schema_check.h. */
#include "target/schema_check.h"

#include <stdbool.h>
#include <string.h>

#include "base/buf.h"

typedef const Milvus__Proto__Schema__FieldSchema field;

static bool user_field(field *f) { return f->field_id >= 100 && !f->is_dynamic; }

static const char *param(field *f, const char *key) {
    for (size_t i = 0; i < f->n_type_params; i++)
        if (strcmp(f->type_params[i]->key, key) == 0) return f->type_params[i]->value;
    return "";
}

/* The type parameters that change what a row may hold. */
static const char *const shape_keys[] = {"dim", "max_length", "max_capacity"};

static bool same_field(field *a, field *b) {
    if (strcmp(a->name, b->name) != 0 || a->data_type != b->data_type || a->is_primary_key != b->is_primary_key ||
        a->element_type != b->element_type || a->is_partition_key != b->is_partition_key)
        return false;
    for (size_t k = 0; k < sizeof shape_keys / sizeof *shape_keys; k++)
        if (strcmp(param(a, shape_keys[k]), param(b, shape_keys[k])) != 0) return false;
    return true;
}

static field *by_name(const Milvus__Proto__Schema__CollectionSchema *s, const char *name) {
    for (size_t i = 0; i < s->n_fields; i++)
        if (user_field(s->fields[i]) && strcmp(s->fields[i]->name, name) == 0) return s->fields[i];
    return NULL;
}

static size_t n_user(const Milvus__Proto__Schema__CollectionSchema *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_fields; i++) n += user_field(s->fields[i]);
    return n;
}

static void describe(mcdc_buf *b, const Milvus__Proto__Schema__CollectionSchema *s) {
    mcdc_buf_printf(b, "[");
    bool first = true;
    for (size_t i = 0; i < s->n_fields; i++) {
        field *f = s->fields[i];
        if (!user_field(f)) continue;
        const ProtobufCEnumValue *t = protobuf_c_enum_descriptor_get_value(&milvus__proto__schema__data_type__descriptor,
                                                                           (int)f->data_type);
        mcdc_buf_printf(b, "%s%s %s", first ? "" : ", ", f->name, t ? t->name : "?");
        for (size_t k = 0; k < sizeof shape_keys / sizeof *shape_keys; k++)
            if (param(f, shape_keys[k])[0]) mcdc_buf_printf(b, " %s=%s", shape_keys[k], param(f, shape_keys[k]));
        if (f->is_primary_key) mcdc_buf_printf(b, " pk");
        if (f->is_partition_key) mcdc_buf_printf(b, " partition_key");
        first = false;
    }
    mcdc_buf_printf(b, "%s]", s->enable_dynamic_field ? ", dynamic" : "");
}

int schema_check(const Milvus__Proto__Schema__CollectionSchema *source,
                 const Milvus__Proto__Schema__CollectionSchema *target, mcdc_err *err) {
    bool same = n_user(source) == n_user(target) && source->enable_dynamic_field == target->enable_dynamic_field;
    for (size_t i = 0; same && i < source->n_fields; i++) {
        field *f = source->fields[i];
        if (!user_field(f)) continue;
        field *g = by_name(target, f->name);
        same = g && same_field(f, g);
    }
    if (same) return 0;
    mcdc_buf m = MCDC_BUF_INIT;
    mcdc_buf_printf(&m, "source ");
    describe(&m, source);
    mcdc_buf_printf(&m, " target ");
    describe(&m, target);
    mcdc_buf_cstr(&m);
    mcdc_errf(err, MCDC_EREMOTE, "schemas differ: %s", (const char *)m.data);
    mcdc_buf_free(&m);
    return -1;
}
