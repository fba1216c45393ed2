/* task_coverage.c — see task_coverage.h: a task's coverage cut into parts,
 * and the two refusals that keep every source row written once. */
#include "pipeline/task_coverage.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/addr.h"
#include "base/buf.h"

/* ---- name sets ----------------------------------------------------------- */

static bool is_star(const char *s) { return strcmp(s, "*") == 0; }

static name_set set_one(const char *name) { return (name_set){.one = name}; }

static name_set set_copy(const name_set *s) {
    name_set c = {.one = s->one, .n_but = s->n_but};
    if (s->n_but) {
        c.but = mcdc_xcalloc(s->n_but, sizeof *c.but);
        memcpy(c.but, s->but, s->n_but * sizeof *c.but);
    }
    return c;
}

static void set_free(name_set *s) {
    free(s->but);
    *s = (name_set){0};
}

bool name_set_has(const name_set *s, const char *name) {
    if (s->one) return strcmp(s->one, name) == 0;
    for (size_t i = 0; i < s->n_but; i++)
        if (strcmp(s->but[i], name) == 0) return false;
    return true;
}

/* Takes name out of *s; false when nothing is left. */
static bool set_remove(name_set *s, const char *name) {
    if (s->one) return strcmp(s->one, name) != 0;
    if (!name_set_has(s, name)) return true;
    s->but = mcdc_xrealloc(s->but, (s->n_but + 1) * sizeof *s->but);
    s->but[s->n_but++] = name;
    return true;
}

/* Whether a and b share a name; *out (owning nothing) is a name they share,
 * or "every name" when both are "*" less a few: names are unbounded, so two
 * such sets always share one, and which is left out does not matter for a
 * message. */
static bool set_meet(const name_set *a, const name_set *b, name_set *out) {
    const name_set *one = a->one ? a : b->one ? b : NULL;
    const name_set *other = one == a ? b : a;
    *out = (name_set){0};
    if (!one) return true;
    if (!name_set_has(other, one->one)) return false;
    out->one = one->one;
    return true;
}

/* "collection 'c' in database 'd'", "*" for every name (the request's own
 * notation). */
static void describe(char *out, size_t cap, const name_set *db, const name_set *coll) {
    snprintf(out, cap, "collection %s%s%s in database %s%s%s", coll->one ? "'" : "", coll->one ? coll->one : "\"*\"",
             coll->one ? "'" : "", db->one ? "'" : "", db->one ? db->one : "\"*\"", db->one ? "'" : "");
}

/* ---- parts --------------------------------------------------------------- */

static void add_part(task_coverage *c, name_set sdb, name_set scoll, name_set ddb, name_set dcoll, bool moved,
                     bool renamed) {
    c->parts = mcdc_xrealloc(c->parts, (c->n + 1) * sizeof *c->parts);
    c->parts[c->n++] = (coverage_part){sdb, scoll, ddb, dcoll, moved, renamed};
}

/* A mapping whose source_db or collection key is "*" never applies (names
 * in Milvus hold no '*', and task_spec_map_name compares names exactly). */
static const task_name_map *mapping_at(const task_spec *s, size_t i) {
    return is_star(s->mappings[i].source_db) ? NULL : &s->mappings[i];
}

/* Cuts the source collections db x coll (one entry of the request) into
 * parts along name_mapping, as task_spec_map_name renames them. */
static void cover(const task_spec *s, const name_set *db, const name_set *coll, task_coverage *out) {
    name_set rest_db = set_copy(db);
    bool db_left = true;
    for (size_t i = 0; i < s->n_mappings; i++) {
        const task_name_map *m = mapping_at(s, i);
        if (!m || !name_set_has(db, m->source_db)) continue;
        db_left = set_remove(&rest_db, m->source_db) && db_left;
        if (m->n_collections == 0) {
            /* The whole database moves; names stay. */
            add_part(out, set_one(m->source_db), set_copy(coll), set_one(m->target_db), set_copy(coll), true, false);
            continue;
        }
        /* Listed collections move and are renamed; the others stay. */
        name_set rest = set_copy(coll);
        bool left = true;
        for (size_t j = 0; j < m->n_collections; j++) {
            const task_kv *kv = &m->collections[j];
            if (is_star(kv->key) || !name_set_has(coll, kv->key)) continue;
            add_part(out, set_one(m->source_db), set_one(kv->key), set_one(m->target_db), set_one(kv->value), true,
                     true);
            left = set_remove(&rest, kv->key) && left;
        }
        if (left)
            add_part(out, set_one(m->source_db), set_copy(&rest), set_one(m->source_db), set_copy(&rest), false, false);
        set_free(&rest);
    }
    if (db_left) add_part(out, set_copy(&rest_db), set_copy(coll), set_copy(&rest_db), set_copy(coll), false, false);
    set_free(&rest_db);
}

void task_coverage_of(const task_spec *s, task_coverage *out) {
    *out = (task_coverage){0};
    /* The "*" database is every database the request does not name
     * (task_spec_covers: a named database takes only its own entries). */
    name_set unnamed = {0};
    for (size_t i = 0; i < s->n_collections; i++)
        if (!is_star(s->collections[i].db)) set_remove(&unnamed, s->collections[i].db);
    for (size_t i = 0; i < s->n_collections; i++) {
        const task_collection *c = &s->collections[i];
        name_set db = is_star(c->db) ? unnamed : set_one(c->db);
        name_set coll = is_star(c->name) ? (name_set){0} : set_one(c->name);
        cover(s, &db, &coll, out);
    }
    set_free(&unnamed);
}

void task_coverage_free(task_coverage *c) {
    for (size_t i = 0; i < c->n; i++) {
        coverage_part *p = &c->parts[i];
        set_free(&p->src_db);
        set_free(&p->src_coll);
        set_free(&p->dst_db);
        set_free(&p->dst_coll);
    }
    free(c->parts);
    *c = (task_coverage){0};
}

/* Whether two parts write one target collection; *db and *coll then name it
 * (as far as set_meet can). */
static bool dst_meet(const coverage_part *a, const coverage_part *b, name_set *db, name_set *coll) {
    return set_meet(&a->dst_db, &b->dst_db, db) && set_meet(&a->dst_coll, &b->dst_coll, coll);
}

/* The source collections of p that land on the target collections db x
 * coll, described: a part renames one to one, so this is one database and
 * name where p moved or renamed, else the target's own. */
static void describe_source(char *out, size_t cap, const coverage_part *p, const name_set *db, const name_set *coll) {
    describe(out, cap, p->db_moved ? &p->src_db : db, p->coll_renamed ? &p->src_coll : coll);
}

/* ---- the refusals -------------------------------------------------------- */

enum { TEXT_CAP = 600 }; /* two names of at most 255 characters and the words */

int task_coverage_check_spec(const task_spec *s, mcdc_err *err) {
    task_coverage c;
    task_coverage_of(s, &c);
    int rc = 0;
    for (size_t i = 0; i < c.n && rc == 0; i++)
        for (size_t j = i + 1; j < c.n && rc == 0; j++) {
            name_set db, coll;
            if (!dst_meet(&c.parts[i], &c.parts[j], &db, &coll)) continue;
            char a[TEXT_CAP], b[TEXT_CAP], to[TEXT_CAP];
            describe_source(a, sizeof a, &c.parts[i], &db, &coll);
            describe_source(b, sizeof b, &c.parts[j], &db, &coll);
            describe(to, sizeof to, &db, &coll);
            rc = mcdc_errf(err, MCDC_EINVAL,
                           "name_mapping: %s and %s would both be written to %s on the target; "
                           "two sources may not map to one target collection",
                           a, b, to);
        }
    task_coverage_free(&c);
    return rc;
}

int task_coverage_check_pair(const task_spec *had, const task_spec *added, mcdc_err *err) {
    if (!task_target_same(&had->target, &added->target)) return 0;
    task_coverage a, b;
    task_coverage_of(had, &a);
    task_coverage_of(added, &b);
    int rc = 0;
    /* The same source collection twice is refused even when the two tasks
     * would give it different names on the target: the target would hold it
     * twice, and what follows a collection besides its rows (aliases, RBAC)
     * would be replayed by both tasks into one namespace. */
    for (size_t i = 0; i < a.n && rc == 0; i++)
        for (size_t j = 0; j < b.n && rc == 0; j++) {
            name_set db, coll;
            if (!set_meet(&a.parts[i].src_db, &b.parts[j].src_db, &db) ||
                !set_meet(&a.parts[i].src_coll, &b.parts[j].src_coll, &coll))
                continue;
            char what[TEXT_CAP];
            describe(what, sizeof what, &db, &coll);
            rc = mcdc_errf(err, MCDC_EEXIST, "task '%s' already replicates %s to the target %s", had->id, what,
                           had->target.address);
        }
    /* Different sources onto one target collection merge two collections. */
    for (size_t i = 0; i < a.n && rc == 0; i++)
        for (size_t j = 0; j < b.n && rc == 0; j++) {
            name_set db, coll;
            if (!dst_meet(&a.parts[i], &b.parts[j], &db, &coll)) continue;
            char to[TEXT_CAP], from_had[TEXT_CAP], from_added[TEXT_CAP];
            describe(to, sizeof to, &db, &coll);
            describe_source(from_had, sizeof from_had, &a.parts[i], &db, &coll);
            describe_source(from_added, sizeof from_added, &b.parts[j], &db, &coll);
            rc = mcdc_errf(err, MCDC_EEXIST,
                           "task '%s' already writes %s on the target %s (from source %s); this task would write "
                           "it from source %s",
                           had->id, to, had->target.address, from_had, from_added);
        }
    task_coverage_free(&a);
    task_coverage_free(&b);
    return rc;
}

/* ---- one target ---------------------------------------------------------- */

/* Same host and port (task_spec keeps the address as host:port with the
 * default port filled in, whatever form the request gave). Not compared:
 * the scheme and TLS (one server, whichever way mcdc talks to it) and the
 * credentials (every user of a Milvus sees one set of databases). Host
 * names compare without case, as DNS does, and IPv6 addresses by value, not
 * by how they were written. Names are not resolved: one name may lead to
 * several servers and one address to several Milvus (a proxy routing by
 * name), and either can change after create; so two different names of one
 * server (localhost and 127.0.0.1) count as two targets, a gap the API
 * documentation states. */
bool task_target_same(const task_target *a, const task_target *b) {
    if (!a->address || !b->address) return false;
    mcdc_addr x, y;
    mcdc_err ignored;
    if (mcdc_addr_parse(a->address, strlen(a->address), 0, 0, &x, &ignored) ||
        mcdc_addr_parse(b->address, strlen(b->address), 0, 0, &y, &ignored))
        return strcmp(a->address, b->address) == 0;
    if (x.port != y.port || x.v6 != y.v6) return false;
    if (x.v6) {
        unsigned char p[16], q[16];
        if (inet_pton(AF_INET6, x.host, p) == 1 && inet_pton(AF_INET6, y.host, q) == 1) return memcmp(p, q, 16) == 0;
    }
    return strcasecmp(x.host, y.host) == 0;
}
