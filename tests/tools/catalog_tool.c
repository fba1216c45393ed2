/* catalog_tool.c — a test entry point to the source catalog: opens it on an
 * etcd and prints, as one JSON line each time the catalog's revision moves,
 * the live collections it knows (id, db, name, state, fields, partitions).
 * The integration tests drive it to prove the catalog follows etcd — also
 * across an etcd restart — and reads both key layouts, tombstones and states.
 *
 * usage: catalog_tool --etcd HOST:PORT --root PATH [--seconds N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/clock.h"
#include "etcd/etcd.h"
#include "source/catalog.h"

static json_t *snapshot(catalog *cat) {
    catalog_coll **list;
    size_t n = catalog_list(cat, NULL, &list);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        catalog_coll *cc = list[i];
        json_t *fields = json_array(), *parts = json_array();
        for (size_t k = 0; cc->schema && k < cc->schema->n_fields; k++) json_array_append_new(fields, json_string(cc->schema->fields[k]->name));
        for (size_t k = 0; k < cc->n_partitions; k++) json_array_append_new(parts, json_string(cc->partitions[k].name));
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:i, s:o, s:o, s:s?}", "id", (json_int_t)cc->id, "db", cc->db_name,
                                           "name", cc->name, "state", cc->state, "fields", fields, "partitions", parts, "pk",
                                           cc->pk ? cc->pk->name : NULL));
    }
    catalog_release_list(list, n);
    return a;
}

int main(int argc, char **argv) {
    const char *ep = NULL, *root = "by-dev";
    int seconds = 60;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--etcd") && i + 1 < argc) ep = argv[++i];
        else if (!strcmp(argv[i], "--root") && i + 1 < argc) root = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: catalog_tool --etcd HOST:PORT --root PATH [--seconds N]\n");
            return 2;
        }
    }
    if (!ep) return 2;
    rpc_init();
    mcdc_err err;
    etcd_config ec = {.endpoints = ep, .timeout_ms = 5000};
    etcd_client *etcd = etcd_open(&ec, &err);
    catalog *cat = etcd ? catalog_open(etcd, root, &err) : NULL;
    if (!cat) {
        fprintf(stderr, "catalog_tool: %s\n", err.msg);
        etcd_close(etcd);
        rpc_shutdown();
        return 2;
    }
    int64_t last = -1;
    uint64_t until = mcdc_now_mono_ms() + (uint64_t)seconds * 1000;
    while (mcdc_now_mono_ms() < until) {
        int64_t rev = catalog_revision(cat);
        if (rev != last) {
            last = rev;
            json_t *o = json_pack("{s:I, s:o}", "revision", (json_int_t)rev, "collections", snapshot(cat));
            char *s = json_dumps(o, JSON_COMPACT);
            printf("%s\n", s);
            fflush(stdout);
            free(s);
            json_decref(o);
        }
        mcdc_sleep_ms(100);
    }
    catalog_close(cat);
    etcd_close(etcd);
    rpc_shutdown();
    return 0;
}
