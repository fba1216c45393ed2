/* verify_milvus.c — one side of a verify (verify.h) read through Milvus's
 * Query API: pages of "pk > last" with a limit, every field ("*"), each row
 * reduced to its key and a fingerprint of its columns taken in name order
 * (so two servers that return the columns in another order still agree).
 *
 * Reads are at consistency Customized with the guarantee timestamp pin()
 * took from the server's TSO: they see every write acknowledged before the
 * pin, and after the first one no Query waits for a time tick again (Strong
 * would, ~200 ms each: the copier measured it).
 *
 * Every Query carries a limit, lookups too: a 2.3.5 Query without one was
 * seen to leave out rows next to a doubled key (a key inserted twice), and
 * a doubled key is what a verify must be able to look at. */
#include "verify/verify_milvus.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "target/columns.h"
#include "target/milvus_util.h"

typedef struct side {
    const verify_milvus_cfg *cfg;
    milvus_client *c;
    const char *db;
    char *pk;
    bool varchar;
    bool whole;      /* partition key: read the collection whole */
    uint64_t ts;
} side;

static void side_close(void *p) {
    side *s = p;
    if (!s) return;
    milvus_close(s->c);
    free(s->pk);
    free(s);
}

static void *side_open(void *cfgp, mcdc_err *err) {
    const verify_milvus_cfg *cfg = cfgp;
    side *s = mcdc_xcalloc(1, sizeof *s);
    s->cfg = cfg;
    s->db = cfg->db && cfg->db[0] ? cfg->db : "default";
    if (!(s->c = milvus_open(cfg->server, err))) {
        free(s);
        return NULL;
    }
    Milvus__Proto__Milvus__DescribeCollectionResponse *d = NULL;
    if (milvus_describe_collection(s->c, s->db, cfg->collection, &d, err)) {
        side_close(s);
        return NULL;
    }
    const Milvus__Proto__Schema__CollectionSchema *sc = d->schema;
    for (size_t i = 0; sc && i < sc->n_fields; i++) {
        const Milvus__Proto__Schema__FieldSchema *f = sc->fields[i];
        if (f->is_primary_key && !s->pk) {
            s->pk = mcdc_xstrdup(f->name);
            s->varchar = f->data_type == MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
        }
        if (f->is_partition_key) s->whole = true;
    }
    milvus__proto__milvus__describe_collection_response__free_unpacked(d, NULL);
    if (!s->pk) {
        mcdc_errf(err, MCDC_EREMOTE, "%s: %s.%s has no primary key in its schema", cfg->server->address, s->db,
                  cfg->collection);
        side_close(s);
        return NULL;
    }
    return s;
}

static int side_partitions(void *p, char ***names, size_t *n, mcdc_err *err) {
    side *s = p;
    if (s->whole) {
        *names = mcdc_xcalloc(1, sizeof **names);
        (*names)[0] = mcdc_xstrdup("");
        *n = 1;
        return 0;
    }
    return milvus_list_partitions(s->c, s->db, s->cfg->collection, names, n, err);
}

static int side_pin(void *p, uint64_t *ts, mcdc_err *err) {
    side *s = p;
    if (!*ts && milvus_alloc_timestamp(s->c, ts, err)) return -1;
    s->ts = *ts;
    return 0;
}

static int row_cmp(const void *a, const void *b) {
    return verify_key_cmp(&((const verify_row *)a)->key, &((const verify_row *)b)->key);
}

static const char *name_of(const Milvus__Proto__Schema__FieldData *f) { return f->field_name ? f->field_name : ""; }

typedef struct named_col {
    const char *name;
    const Milvus__Proto__Schema__FieldData *col;
} named_col;

static int col_cmp(const void *a, const void *b) {
    return strcmp(((const named_col *)a)->name, ((const named_col *)b)->name);
}

/* res's rows as keys and fingerprints, sorted by key. */
static int rows_of(side *s, const Milvus__Proto__Milvus__QueryResults *res, verify_rows *out, mcdc_err *err) {
    out->rows = NULL;
    out->n = 0;
    int pk_at = columns_find(res->fields_data, res->n_fields_data, s->pk);
    if (pk_at < 0) {
        if (res->n_fields_data == 0) return 0; /* an empty page may come without columns */
        return mcdc_errf(err, MCDC_EREMOTE, "%s: Query of %s.%s returned no %s column", s->cfg->server->address,
                         s->db, s->cfg->collection, s->pk);
    }
    const Milvus__Proto__Schema__FieldData *pk = res->fields_data[pk_at];
    /* Row count: the key column's; every other column must hold as many. */
    size_t n = 0;
    for (;; n++) {
        int64_t i;
        const char *str;
        if (columns_key_at(pk, (uint32_t)n, &i, &str)) break;
    }
    named_col *order = mcdc_xmalloc((res->n_fields_data ? res->n_fields_data : 1) * sizeof *order);
    for (size_t c = 0; c < res->n_fields_data; c++) order[c] = (named_col){name_of(res->fields_data[c]), res->fields_data[c]};
    qsort(order, res->n_fields_data, sizeof *order, col_cmp);
    out->rows = mcdc_xcalloc(n ? n : 1, sizeof *out->rows);
    for (size_t r = 0; r < n; r++) {
        verify_row *row = &out->rows[r];
        const char *str;
        columns_key_at(pk, (uint32_t)r, &row->key.i, &str);
        row->key.s = s->varchar ? mcdc_xstrdup(str ? str : "") : NULL;
        uint64_t h = 0;
        for (size_t c = 0; c < res->n_fields_data; c++) {
            if (columns_row_hash(order[c].col, (uint32_t)r, &h)) {
                mcdc_errf(err, MCDC_EREMOTE, "%s: Query of %s.%s: column %s holds no row %zu of a known kind",
                          s->cfg->server->address, s->db, s->cfg->collection, order[c].name, r);
                out->n = r + 1;
                free(order);
                verify_rows_free(out);
                return -1;
            }
        }
        row->hash = h;
    }
    out->n = n;
    free(order);
    qsort(out->rows, out->n, sizeof *out->rows, row_cmp);
    return 0;
}

static const char *const ALL_FIELDS[] = {"*"};

/* A not-found of a call on one partition means "nothing here" only when
 * the collection is there and the partition is not (a partition the other
 * side alone has); a collection gone mid-run stays an error. */
static bool partition_absent(side *s, const char *partition, const mcdc_err *err) {
    if (err->code != MCDC_ENOTFOUND || !partition || !*partition) return false;
    bool has = true;
    mcdc_err e2;
    return milvus_has_partition(s->c, s->db, s->cfg->collection, partition, &has, &e2) == 0 && !has;
}

static int query(side *s, const char *partition, const char *expr, uint32_t limit, verify_rows *out, mcdc_err *err) {
    const char *parts[1] = {partition};
    bool one = partition && *partition;
    Milvus__Proto__Milvus__QueryResults *res = NULL;
    if (milvus_query_page(s->c, s->db, s->cfg->collection, one ? parts : NULL, one ? 1 : 0, expr, ALL_FIELDS, 1,
                          limit, s->ts, &res, err)) {
        /* A partition only the other side has: nothing here. */
        if (partition_absent(s, partition, err)) {
            out->rows = NULL;
            out->n = 0;
            return 0;
        }
        return -1;
    }
    int rc = rows_of(s, res, out, err);
    milvus__proto__milvus__query_results__free_unpacked(res, NULL);
    return rc;
}

static int side_page(void *p, const char *partition, const verify_key *after, uint32_t limit, verify_rows *out,
                     mcdc_err *err) {
    side *s = p;
    mcdc_buf expr = {0};
    if (after) milvus_expr_pk_greater(&expr, s->pk, s->varchar, after->i, after->s);
    int rc = query(s, partition, after ? mcdc_buf_cstr(&expr) : "", limit, out, err);
    mcdc_buf_free(&expr);
    return rc;
}

static int side_count(void *p, const char *partition, const verify_key *lo, const verify_key *hi, uint64_t *n,
                      mcdc_err *err) {
    side *s = p;
    mcdc_buf expr = {0};
    if (lo) milvus_expr_pk_cmp(&expr, s->pk, ">", s->varchar, lo->i, lo->s);
    if (lo && hi) mcdc_buf_printf(&expr, " && ");
    if (hi) milvus_expr_pk_cmp(&expr, s->pk, "<=", s->varchar, hi->i, hi->s);
    int rc = milvus_count_where(s->c, s->db, s->cfg->collection, partition, expr.len ? mcdc_buf_cstr(&expr) : "",
                                s->ts, n, err);
    mcdc_buf_free(&expr);
    if (rc && partition_absent(s, partition, err)) {
        *n = 0;
        rc = 0;
    }
    return rc;
}

static int side_count_key(void *p, const char *partition, const verify_key *k, uint64_t *n, mcdc_err *err) {
    side *s = p;
    mcdc_buf expr = {0};
    milvus_expr_pk_cmp(&expr, s->pk, "==", s->varchar, k->i, k->s);
    int rc = milvus_count_where(s->c, s->db, s->cfg->collection, partition, mcdc_buf_cstr(&expr), s->ts, n, err);
    mcdc_buf_free(&expr);
    if (rc && partition_absent(s, partition, err)) {
        *n = 0;
        rc = 0;
    }
    return rc;
}

static int side_lookup(void *p, const char *partition, const verify_key *keys, size_t n, verify_rows *out,
                       mcdc_err *err) {
    side *s = p;
    out->rows = NULL;
    out->n = 0;
    Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
    Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    Milvus__Proto__Schema__StringArray sa = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
    int64_t *iv = NULL;
    char **sv = NULL;
    if (s->varchar) {
        sv = mcdc_xcalloc(n ? n : 1, sizeof *sv);
        for (size_t i = 0; i < n; i++) sv[i] = keys[i].s ? keys[i].s : "";
        sa.data = sv;
        sa.n_data = n;
        ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
        ids.str_id = &sa;
    } else {
        iv = mcdc_xcalloc(n ? n : 1, sizeof *iv);
        for (size_t i = 0; i < n; i++) iv[i] = keys[i].i;
        la.data = iv;
        la.n_data = n;
        ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
        ids.int_id = &la;
    }
    int rc = 0;
    mcdc_buf expr = {0};
    for (size_t at = 0; at < n && !rc;) {
        mcdc_buf_reset(&expr);
        size_t took = milvus_expr_ids(&expr, s->pk, &ids, at, MILVUS_EXPR_MAX_BYTES);
        verify_rows part = {0};
        /* The whole window, not `took`: a doubled key's copies count
         * against the limit, which would cut the largest key off. */
        rc = query(s, partition, mcdc_buf_cstr(&expr), MILVUS_QUERY_WINDOW, &part, err);
        if (!rc && part.n) {
            out->rows = mcdc_xrealloc(out->rows, (out->n + part.n) * sizeof *out->rows);
            memcpy(out->rows + out->n, part.rows, part.n * sizeof *part.rows);
            out->n += part.n;
            free(part.rows);
        }
        at += took;
    }
    mcdc_buf_free(&expr);
    free(iv);
    free(sv);
    if (rc) verify_rows_free(out);
    return rc;
}

const verify_side_ops verify_milvus_ops = {
    .open = side_open,
    .close = side_close,
    .partitions = side_partitions,
    .pin = side_pin,
    .page = side_page,
    .count = side_count,
    .count_key = side_count_key,
    .lookup = side_lookup,
};
