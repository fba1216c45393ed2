/* target_desc.c — see target_desc.h. */
#include "pipeline/target_desc.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"

typedef struct target_desc {
    target_collection tc;        /* first: a target_collection * is a target_desc * */
    target_partition *parts;
    catalog *cat;
    const catalog_coll *cc;
    /* What one read_state handed out, kept until free_state. */
    catalog_index *ix;
    size_t n_ix;
    target_index *tix;
    catalog_load ld;
    const char **load_names;
} target_desc;

applier_options target_desc_options(const task_spec *spec) {
    return (applier_options){.ignore_partition = spec->target.ignore_partition};
}

static const char *field_name(const catalog_coll *cc, int64_t field_id) {
    for (size_t f = 0; cc->schema && f < cc->schema->n_fields; f++)
        if (cc->schema->fields[f]->field_id == field_id) return cc->schema->fields[f]->name;
    return NULL;
}

static void free_state(void *ctx, target_state *st) {
    target_desc *d = ctx;
    catalog_indexes_free(d->ix, d->n_ix);
    catalog_load_free(&d->ld);
    free(d->tix);
    free(d->load_names);
    d->ix = NULL;
    d->n_ix = 0;
    d->tix = NULL;
    d->load_names = NULL;
    memset(st, 0, sizeof *st);
}

/* The source's indexes (on fields the schema still has) and load state, by
 * name. A load state that cannot be read leaves the indexes to be built: the
 * warning says the rest. */
static int read_state(void *ctx, target_state *out, mcdc_err *err) {
    target_desc *d = ctx;
    memset(out, 0, sizeof *out);
    if (catalog_indexes(d->cat, d->cc->id, &d->ix, &d->n_ix, err)) return -1;
    d->tix = mcdc_xcalloc(d->n_ix ? d->n_ix : 1, sizeof *d->tix);
    for (size_t i = 0; i < d->n_ix; i++) {
        const catalog_index *ix = &d->ix[i];
        const char *field = field_name(d->cc, ix->field_id);
        if (!field) continue;
        d->tix[out->n_indexes++] = (target_index){.field = field,
                                                  .name = ix->index_name,
                                                  .keys = (const char *const *)ix->keys,
                                                  .values = (const char *const *)ix->values,
                                                  .n_params = ix->n_params};
    }
    out->indexes = d->tix;

    mcdc_err lerr;
    if (catalog_load_state(d->cat, d->cc->id, &d->ld, &lerr)) {
        log_warn("target %s.%s: cannot read the source's load state: %s", d->tc.db, d->tc.name, lerr.msg);
        return 0;
    }
    out->loaded = d->ld.loaded;
    out->whole = d->ld.whole;
    d->load_names = mcdc_xcalloc(d->ld.n_partitions ? d->ld.n_partitions : 1, sizeof *d->load_names);
    for (size_t i = 0; i < d->ld.n_partitions; i++) {
        const catalog_partition *p = catalog_partition_by_id(d->cc, d->ld.partition_ids[i]);
        if (p) d->load_names[out->n_load_partitions++] = p->name;
    }
    out->load_partitions = d->load_names;
    return 0;
}

target_collection *target_desc_new(const task_spec *spec, catalog *cat, const catalog_coll *cc) {
    target_desc *d = mcdc_xcalloc(1, sizeof *d);
    d->cat = cat;
    d->cc = cc;
    d->parts = mcdc_xcalloc(cc->n_partitions ? cc->n_partitions : 1, sizeof *d->parts);
    size_t np = 0;
    for (size_t i = 0; i < cc->n_partitions; i++)
        if (cc->partitions[i].state == CATALOG_CREATED)
            d->parts[np++] = (target_partition){.id = cc->partitions[i].id, .name = cc->partitions[i].name};
    target_collection *tc = &d->tc;
    task_spec_map_name(spec, cc->db_name, cc->name, &tc->db, &tc->name);
    tc->source_db = cc->db_name;
    tc->source_name = cc->name;
    tc->source_id = cc->id;
    tc->schema = cc->schema;
    tc->pk = cc->pk;
    tc->shards_num = cc->shards_num;
    tc->consistency_level = cc->consistency_level;
    tc->partitions = d->parts;
    tc->n_partitions = np;
    tc->num_partitions = (int64_t)cc->n_partitions;
    tc->prop_keys = (const char *const *)cc->prop_keys;
    tc->prop_values = (const char *const *)cc->prop_values;
    tc->n_props = cc->n_props;
    if (cat) {
        tc->read_state = read_state;
        tc->free_state = free_state;
        tc->state_ctx = d;
    }
    return tc;
}

void target_desc_free(target_collection *tc) {
    if (!tc) return;
    target_desc *d = (target_desc *)tc;
    free(d->parts);
    free(d);
}

void target_desc_request_names(const task_spec *spec, const change *c, target_request_names *out) {
    memset(out, 0, sizeof *out);
    const char *src_db = c->db_name[0] ? c->db_name : "default";
    task_spec_map_name(spec, src_db, c->collection_name, &out->db, &out->collection);
    if (c->kind != CHANGE_FLUSH) return;
    /* A Flush names several collections of one database; each keeps its own
     * mapped name, in the request's database as mapped above. */
    const Milvus__Proto__Milvus__FlushRequest *f = (const void *)c->msg;
    const char **names = mcdc_xcalloc(f->n_collection_names ? f->n_collection_names : 1, sizeof *names);
    for (size_t i = 0; i < f->n_collection_names; i++) {
        const char *ignored_db;
        task_spec_map_name(spec, src_db, f->collection_names[i], &ignored_db, &names[i]);
    }
    out->flush = names;
    out->n_flush = f->n_collection_names;
}

void target_desc_request_names_free(target_request_names *names) {
    free((void *)names->flush);
    memset(names, 0, sizeof *names);
}
