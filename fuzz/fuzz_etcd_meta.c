/* fuzz_etcd_meta.c — libFuzzer harness for the source catalog's reading of
 * Milvus's etcd metadata: the key layouts under <root>/meta/root-coord/ and
 * the protobuf-c decoding of CollectionInfo, FieldSchema, PartitionInfo,
 * DatabaseInfo and AliasInfo, through the real apply path of the catalog
 * (catalog_keys.c, via catalog_int.h), then the snapshot lookups readers use.
 *
 * An input is a sequence of etcd events, each:
 *   op     1 byte: bit 7 = delete (no value), the rest mod K_COUNT = key layout
 *   ids    varints, as many as the layout has (printed in decimal, unsigned,
 *          so 20-digit and > INT64_MAX ids reach the key parser too)
 *   name   varint length + bytes (alias layouts only)
 *   value  varint length + bytes (clamped to what is left)
 * K_RAW carries the key text after the prefix itself. fuzz/etcd_seeds.py
 * turns `etcdctl get -w json` output into this form. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "source/catalog.h"
#include "source/catalog_int.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) abort(); \
    } while (0)

#define ROOT "by-dev"
#define PREFIX ROOT "/meta/root-coord/"

enum {
    K_COLL_DB,      /* database/collection-info/{db}/{coll} */
    K_COLL_LEGACY,  /* collection/{coll} */
    K_FIELD,        /* fields/{coll}/{field} */
    K_PART,         /* partitions/{coll}/{part} */
    K_DB,           /* database/db-info/{db} */
    K_ALIAS_DB,     /* database/aliases/{db}/{name} */
    K_ALIAS_LEGACY, /* aliases/{name} */
    K_RAW,          /* any text */
    K_COUNT
};

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static uint64_t rd_varint(reader *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    return v;
}

static size_t rd_bytes(reader *r, const uint8_t **out) {
    uint64_t n = rd_varint(r);
    size_t left = (size_t)(r->end - r->p);
    if (n > left) n = left;
    *out = r->p;
    r->p += n;
    return (size_t)n;
}

#define MAX_SEEN 16

/* Ids and names the events mentioned, to look them up afterwards. */
typedef struct seen {
    int64_t ids[MAX_SEEN];
    size_t n_ids;
    char *names[MAX_SEEN];
    size_t n_names;
} seen;

static void see_id(seen *s, uint64_t id) {
    if (s->n_ids < MAX_SEEN) s->ids[s->n_ids++] = (int64_t)id;
}

static void see_name(seen *s, const uint8_t *p, size_t n) {
    if (s->n_names >= MAX_SEEN) return;
    char *name = mcdc_xmalloc(n + 1);
    memcpy(name, p, n);
    name[n] = '\0';
    s->names[s->n_names++] = name;
}

/* What a reader relies on in a snapshot. */
static void check_snap(const catalog_coll *cc) {
    CHECK(cc->name && cc->db_name);
    CHECK(cc->n_channels == 0 || (cc->vchannels && cc->pchannels));
    for (size_t i = 0; i < cc->n_channels; i++) CHECK(cc->vchannels[i] && cc->pchannels[i]);
    for (size_t i = 0; i < cc->n_partitions; i++) {
        CHECK(cc->partitions[i].name);
        if (i) CHECK(cc->partitions[i - 1].id <= cc->partitions[i].id);
        CHECK(catalog_partition_by_id(cc, cc->partitions[i].id) != NULL);
    }
    for (size_t i = 0; i < cc->n_aliases; i++) CHECK(cc->aliases[i]);
    if (cc->pk) {
        bool in_schema = false;
        for (size_t i = 0; cc->schema && i < cc->schema->n_fields; i++) in_schema |= cc->schema->fields[i] == cc->pk;
        CHECK(in_schema && cc->pk->is_primary_key);
    }
}

static void lookups(catalog *c, const seen *s) {
    char buf[64];
    catalog_coll **list;
    size_t n = catalog_list(c, NULL, &list);
    for (size_t i = 0; i < n; i++) {
        catalog_coll *cc = list[i];
        check_snap(cc);
        CHECK(cc->state == CATALOG_CREATED || cc->state == CATALOG_CREATING);
        /* An unchanged collection is served from one cached snapshot. */
        catalog_coll *again = catalog_get(c, cc->id);
        CHECK(again == cc);
        catalog_release(again);
        catalog_release(catalog_find(c, cc->db_name, cc->name));
        for (size_t a = 0; a < cc->n_aliases; a++) catalog_release(catalog_find(c, cc->db_name, cc->aliases[a]));
        catalog_coll **in_db;
        size_t m = catalog_list(c, cc->db_name, &in_db);
        for (size_t k = 0; k < m; k++) check_snap(in_db[k]);
        catalog_release_list(in_db, m);
        (void)catalog_has_db(c, cc->db_name);
        catalog_db_name(c, cc->db_id, buf, sizeof buf);
    }
    catalog_release_list(list, n);

    for (size_t i = 0; i < s->n_ids; i++) {
        catalog_coll *cc = catalog_get(c, s->ids[i]);
        if (cc) check_snap(cc);
        catalog_release(cc);
        catalog_db_name(c, s->ids[i], buf, sizeof buf);
        (void)catalog_wait_collection(c, s->ids[i], 0);
    }
    for (size_t i = 0; i < s->n_names; i++) {
        catalog_release(catalog_find(c, NULL, s->names[i]));
        catalog_release(catalog_find(c, s->names[i], s->names[i]));
        (void)catalog_has_db(c, s->names[i]);
        catalog_coll **in_db;
        size_t m = catalog_list(c, s->names[i], &in_db);
        catalog_release_list(in_db, m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    if (!quiet) {
        /* Undecodable values are logged; at fuzzing speed that is all one would see. */
        mcdc_log_set_level(MCDC_LOG_OFF);
        quiet = true;
    }
    catalog *c = catalog_new_detached(ROOT);
    seen s = {0};
    reader r = {data, data + size};
    mcdc_buf key = MCDC_BUF_INIT;
    catalog_coll *held = NULL;
    while (r.p < r.end) {
        uint8_t op = *r.p++;
        bool del = op & 0x80;
        unsigned layout = (op & 0x7f) % K_COUNT;
        uint64_t a = 0, b = 0;
        const uint8_t *name = NULL;
        size_t name_len = 0;
        mcdc_buf_reset(&key);
        mcdc_buf_printf(&key, "%s", PREFIX);
        switch (layout) {
        case K_COLL_DB:
        case K_FIELD:
        case K_PART:
        case K_ALIAS_DB:
            a = rd_varint(&r);
            if (layout != K_ALIAS_DB) b = rd_varint(&r);
            break;
        case K_COLL_LEGACY:
            b = rd_varint(&r);
            break;
        case K_DB:
            a = rd_varint(&r);
            break;
        default:
            break;
        }
        if (layout == K_ALIAS_DB || layout == K_ALIAS_LEGACY || layout == K_RAW) name_len = rd_bytes(&r, &name);
        switch (layout) {
        case K_COLL_DB: mcdc_buf_printf(&key, "database/collection-info/%" PRIu64 "/%" PRIu64, a, b); break;
        case K_COLL_LEGACY: mcdc_buf_printf(&key, "collection/%" PRIu64, b); break;
        case K_FIELD: mcdc_buf_printf(&key, "fields/%" PRIu64 "/%" PRIu64, a, b); break;
        case K_PART: mcdc_buf_printf(&key, "partitions/%" PRIu64 "/%" PRIu64, a, b); break;
        case K_DB: mcdc_buf_printf(&key, "database/db-info/%" PRIu64, a); break;
        case K_ALIAS_DB: mcdc_buf_printf(&key, "database/aliases/%" PRIu64 "/", a); break;
        case K_ALIAS_LEGACY: mcdc_buf_printf(&key, "aliases/"); break;
        default: break;
        }
        if (name) {
            mcdc_buf_append(&key, name, name_len);
            if (layout != K_RAW) see_name(&s, name, name_len);
        }
        const uint8_t *val = NULL;
        size_t val_len = rd_bytes(&r, &val);
        catalog_apply_kv(c, (const char *)key.data, key.len, del ? NULL : val, del ? 0 : val_len);

        uint64_t coll = layout == K_COLL_DB || layout == K_COLL_LEGACY ? b : a;
        if (layout <= K_PART) see_id(&s, coll);
        if (layout == K_DB || layout == K_COLL_DB) see_id(&s, a);
        /* A reader keeps its snapshot while etcd moves on: it must stay whole. */
        if (layout <= K_PART) {
            catalog_coll *now = catalog_get(c, (int64_t)coll);
            if (held) check_snap(held);
            catalog_release(held);
            held = now;
        }
    }
    lookups(c, &s);
    if (held) check_snap(held);
    catalog_close(c);
    /* ...even after the catalog is gone. */
    if (held) check_snap(held);
    catalog_release(held);
    mcdc_buf_free(&key);
    for (size_t i = 0; i < s.n_names; i++) free(s.names[i]);
    return 0;
}
