/* test_task_coverage.c — "never double" decided from two requests: which
 * pairs of tasks overlap and why (table), which name mappings send two
 * sources to one target (table), what counts as one target Milvus, and the
 * parts of a coverage agreeing name by name with task_spec_covers and
 * task_spec_map_name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/task_coverage.h"

/* A spec with the given target uri and collection keys (the rest of the
 * request's body). */
static void spec_of(const char *id, const char *uri, const char *body, task_spec *s) {
    char text[2048];
    snprintf(text, sizeof text, "{\"task_id\": \"%s\", \"milvus_connect_param\": {\"uri\": \"%s\"}, %s}", id, uri,
             body);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fail_msg("test JSON does not parse: %s: %s", je.text, text);
    mcdc_err err = {0};
    if (task_spec_from_json(j, s, &err)) fail_msg("refused: %s\n  %s", err.msg, text);
    json_decref(j);
}

#define T "h:19530"
#define DEF(names) "\"collection_infos\": [" names "]"
#define N(x) "{\"name\": \"" x "\"}"

static const struct pair_case {
    const char *why;
    const char *uri_a, *a, *uri_b, *b;
    const char *want; /* a part of the MCDC_EEXIST message; NULL: no overlap */
} PAIRS[] = {
    {"one collection twice into one target", T, DEF(N("c")), T, DEF(N("c")),
     "task 'A' already replicates collection 'c' in database 'default' to the target h:19530"},
    {"another target is another standby", T, DEF(N("c")), "h2:19530", DEF(N("c")), NULL},
    {"another port is another Milvus", T, DEF(N("c")), "h:19531", DEF(N("c")), NULL},
    {"the default port and a scheme name the same target", "http://h:19530", DEF(N("c")), "h", DEF(N("c")),
     "already replicates collection 'c'"},
    {"TLS and the case of the host name do not make another target", "https://H:19530", DEF(N("c")), "tcp://h",
     DEF(N("c")), "already replicates"},
    {"IPv6 compares by value", "[::1]:19530", DEF(N("c")), "[0:0:0:0:0:0:0:1]", DEF(N("c")), "already replicates"},
    {"different collections of one database", T, DEF(N("a") ", " N("b")), T, DEF(N("c")), NULL},
    {"\"*\" covers every name", T, DEF(N("*")), T, DEF(N("c")), "collection 'c' in database 'default'"},
    {"a name inside \"*\", the other way round", T, DEF(N("c")), T, DEF(N("*")), "collection 'c' in database 'default'"},
    {"the same name in two databases", T, "\"db_collections\": {\"x\": [" N("c") "]}", T,
     "\"db_collections\": {\"y\": [" N("c") "]}", NULL},
    {"the \"*\" database covers a database the other names", T, "\"db_collections\": {\"*\": [" N("*") "]}", T,
     "\"db_collections\": {\"x\": [" N("y") "]}", "collection 'y' in database 'x'"},
    {"the \"*\" database leaves out the databases its task names", T,
     "\"db_collections\": {\"*\": [" N("*") "], \"x\": [" N("y") "]}", T, "\"db_collections\": {\"x\": [" N("z") "]}",
     NULL},
    {"two \"*\" databases", T, "\"db_collections\": {\"*\": [" N("c") "]}", T, "\"db_collections\": {\"*\": [" N("*") "]}",
     "collection 'c' in database \"*\""},
    {"one source under two names on one target is still twice", T, DEF(N("c")), T,
     DEF(N("c")) ", \"name_mapping\": [{\"source_db\": \"default\", \"target_db\": \"bk\"}]",
     "already replicates collection 'c' in database 'default'"},
    {"two databases moved to two target databases", T,
     "\"db_collections\": {\"a\": [" N("*") "]}, \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"t\"}]", T,
     "\"db_collections\": {\"b\": [" N("*") "]}, \"name_mapping\": [{\"source_db\": \"b\", \"target_db\": \"t2\"}]", NULL},
    {"a moved database onto a collection another task keeps", T,
     "\"db_collections\": {\"a\": [" N("*") "]}, \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"t\"}]", T,
     "\"db_collections\": {\"t\": [" N("x") "]}",
     "task 'A' already writes collection 'x' in database 't' on the target h:19530 (from source collection 'x' in "
     "database 'a'); this task would write it from source collection 'x' in database 't'"},
    {"a renamed collection onto another task's collection", T,
     DEF(N("c")) ", \"name_mapping\": [{\"source_db\": \"default\", \"target_db\": \"default\","
                 " \"collection_mapping\": {\"c\": \"c2\"}}]",
     T, DEF(N("c2")), "already writes collection 'c2' in database 'default' on the target h:19530 (from source collection 'c'"},
    {"collection_mapping moves one collection: the others keep their database", T,
     "\"db_collections\": {\"a\": [" N("*") "]}, \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"t\","
     " \"collection_mapping\": {\"x\": \"y\"}}]",
     T, "\"db_collections\": {\"t\": [" N("x") "]}", NULL},
    {"... and the one it moves lands where it says", T,
     "\"db_collections\": {\"a\": [" N("*") "]}, \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"t\","
     " \"collection_mapping\": {\"x\": \"y\"}}]",
     T, "\"db_collections\": {\"t\": [" N("y") "]}", "from source collection 'x' in database 'a'"},
    {"a mapping of a database the task does not cover moves nothing", T,
     DEF(N("c")) ", \"name_mapping\": [{\"source_db\": \"other\", \"target_db\": \"t\"}]", T,
     "\"db_collections\": {\"t\": [" N("*") "]}", NULL},
};

static void test_pairs(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof PAIRS / sizeof PAIRS[0]; i++) {
        const struct pair_case *c = &PAIRS[i];
        task_spec a, b;
        spec_of("A", c->uri_a, c->a, &a);
        spec_of("B", c->uri_b, c->b, &b);
        mcdc_err err = {0};
        int rc = task_coverage_check_pair(&a, &b, &err);
        if (!c->want && rc) fail_msg("%s: refused: %s", c->why, err.msg);
        if (c->want && !rc) fail_msg("%s: accepted", c->why);
        if (c->want && err.code != MCDC_EEXIST) fail_msg("%s: code %d", c->why, err.code);
        if (c->want && !strstr(err.msg, c->want)) fail_msg("%s: message '%s' lacks '%s'", c->why, err.msg, c->want);
        /* Overlap is symmetric: the same answer with the roles swapped. */
        mcdc_err err2 = {0};
        if ((task_coverage_check_pair(&b, &a, &err2) != 0) != (rc != 0))
            fail_msg("%s: not symmetric (%s)", c->why, err2.msg);
        task_spec_free(&a);
        task_spec_free(&b);
    }
}

static const struct spec_case {
    const char *why;
    const char *body;
    const char *want; /* a part of the MCDC_EINVAL message; NULL: accepted */
} SPECS[] = {
    {"two whole databases onto one target database",
     "\"db_collections\": {\"a\": [" N("*") "], \"b\": [" N("*") "]}, \"name_mapping\": ["
     "{\"source_db\": \"a\", \"target_db\": \"t\"}, {\"source_db\": \"b\", \"target_db\": \"t\"}]",
     "name_mapping: collection \"*\" in database 'a' and collection \"*\" in database 'b' would both be written to "
     "collection \"*\" in database 't' on the target"},
    {"a collection renamed onto one its database keeps",
     DEF(N("a") ", " N("c")) ", \"name_mapping\": [{\"source_db\": \"default\", \"target_db\": \"default\","
                             " \"collection_mapping\": {\"a\": \"c\"}}]",
     "collection 'a' in database 'default' and collection 'c' in database 'default' would both be written to "
     "collection 'c' in database 'default'"},
    {"two databases' collections renamed to one name",
     "\"db_collections\": {\"d1\": [" N("x") "], \"d2\": [" N("y") "]}, \"name_mapping\": ["
     "{\"source_db\": \"d1\", \"target_db\": \"t\", \"collection_mapping\": {\"x\": \"z\"}},"
     " {\"source_db\": \"d2\", \"target_db\": \"t\", \"collection_mapping\": {\"y\": \"z\"}}]",
     "collection 'x' in database 'd1' and collection 'y' in database 'd2' would both be written to collection 'z' "
     "in database 't'"},
    {"a database moved into one the \"*\" database keeps",
     "\"db_collections\": {\"*\": [" N("*") "]}, \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\"}]",
     "collection \"*\" in database 'a' and collection \"*\" in database 'b' would both"},
    {"a database moved onto a collection the task keeps",
     "\"db_collections\": {\"a\": [" N("*") "], \"b\": [" N("x") "]}, \"name_mapping\": ["
     "{\"source_db\": \"a\", \"target_db\": \"b\"}]",
     "collection 'x' in database 'a' and collection 'x' in database 'b' would both be written to collection 'x' in "
     "database 'b'"},
    {"a renamed collection onto a name \"*\" keeps",
     DEF(N("*")) ", \"name_mapping\": [{\"source_db\": \"default\", \"target_db\": \"default\","
                 " \"collection_mapping\": {\"a\": \"c\"}}]",
     "collection 'a' in database 'default' and collection 'c' in database 'default'"},
    {"two names swapped", DEF(N("a") ", " N("b")) ", \"name_mapping\": [{\"source_db\": \"default\", \"target_db\":"
                          " \"default\", \"collection_mapping\": {\"a\": \"b\", \"b\": \"a\"}}]",
     NULL},
    {"an uncovered database mapped onto a covered one",
     DEF(N("c")) ", \"name_mapping\": [{\"source_db\": \"other\", \"target_db\": \"default\"}]", NULL},
    {"a rename to a name the task does not cover",
     DEF(N("a")) ", \"name_mapping\": [{\"source_db\": \"default\", \"target_db\": \"default\","
                 " \"collection_mapping\": {\"a\": \"c\"}}]",
     NULL},
    {"two databases to two targets",
     "\"db_collections\": {\"a\": [" N("*") "], \"b\": [" N("*") "]}, \"name_mapping\": ["
     "{\"source_db\": \"a\", \"target_db\": \"t\"}, {\"source_db\": \"b\", \"target_db\": \"u\"}]",
     NULL},
    {"a moved database next to other collections of the target database",
     "\"db_collections\": {\"a\": [" N("y") "], \"b\": [" N("x") "]}, \"name_mapping\": ["
     "{\"source_db\": \"a\", \"target_db\": \"b\"}]",
     NULL},
};

static void test_specs(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof SPECS / sizeof SPECS[0]; i++) {
        const struct spec_case *c = &SPECS[i];
        task_spec s;
        spec_of("A", T, c->body, &s);
        mcdc_err err = {0};
        int rc = task_coverage_check_spec(&s, &err);
        if (!c->want && rc) fail_msg("%s: refused: %s", c->why, err.msg);
        if (c->want && !rc) fail_msg("%s: accepted", c->why);
        if (c->want && err.code != MCDC_EINVAL) fail_msg("%s: code %d", c->why, err.code);
        if (c->want && !strstr(err.msg, c->want)) fail_msg("%s: message '%s' lacks '%s'", c->why, err.msg, c->want);
        task_spec_free(&s);
    }
}

static void test_same_target(void **state) {
    (void)state;
    static const struct {
        const char *a, *b;
        bool same;
    } cases[] = {
        {"h", "http://h:19530", true},      {"h:19530", "https://h", true},   {"HOST.example", "host.EXAMPLE", true},
        {"h", "h:19531", false},            {"h", "h2", false},               {"[::1]", "[0::1]:19530", true},
        {"[::1]", "[::2]", false},          {"127.0.0.1", "localhost", false}, {"[::1]", "h", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        task_spec a, b;
        spec_of("A", cases[i].a, DEF(N("c")), &a);
        spec_of("B", cases[i].b, DEF(N("c")), &b);
        if (task_target_same(&a.target, &b.target) != cases[i].same)
            fail_msg("%s and %s: want %s", cases[i].a, cases[i].b, cases[i].same ? "same" : "different");
        task_spec_free(&a);
        task_spec_free(&b);
    }
    /* Credentials do not make another target: one Milvus, one set of databases. */
    task_spec a, b;
    spec_of("A", T, DEF(N("c")), &a);
    spec_of("B", T, DEF(N("c")), &b);
    b.target.api_key = strdup("key");
    assert_true(task_target_same(&a.target, &b.target));
    task_spec_free(&a);
    task_spec_free(&b);
}

/* Every (db, collection) of a list of names: covered by exactly one part
 * when task_spec_covers says so (else by none), and that part sends it
 * where task_spec_map_name does. */
static void test_parts_agree_with_the_spec(void **state) {
    (void)state;
    static const char *const bodies[] = {
        DEF(N("a") ", " N("b")) ", \"db_collections\": {\"db1\": [" N("*") "], \"db2\": [" N("x") ", " N("y") "]},"
                                " \"name_mapping\": [{\"source_db\": \"db1\", \"target_db\": \"db1_copy\"},"
                                " {\"source_db\": \"db2\", \"target_db\": \"t2\", \"collection_mapping\": {\"x\": \"x2\"}}]",
        "\"db_collections\": {\"*\": [" N("*") "], \"a\": [" N("x") "]}, \"name_mapping\": ["
        "{\"source_db\": \"other\", \"target_db\": \"t2\", \"collection_mapping\": {\"x\": \"y\", \"*\": \"z\"}},"
        " {\"source_db\": \"a\", \"target_db\": \"b\"}, {\"source_db\": \"*\", \"target_db\": \"q\"}]",
        "\"db_collections\": {\"*\": [" N("x") "]}, \"name_mapping\": [{\"source_db\": \"db1\", \"target_db\": \"t\","
        " \"collection_mapping\": {\"x\": \"x2\"}}]",
    };
    static const char *const dbs[] = {"default", "db1", "db2", "db3", "t2", "db1_copy", "a", "b", "other", "q"};
    static const char *const colls[] = {"a", "b", "c", "x", "y", "z", "x2", "anything"};
    for (size_t k = 0; k < sizeof bodies / sizeof bodies[0]; k++) {
        task_spec s;
        spec_of("A", T, bodies[k], &s);
        task_coverage cov;
        task_coverage_of(&s, &cov);
        for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
            for (size_t j = 0; j < sizeof colls / sizeof colls[0]; j++) {
                const char *db = dbs[i], *coll = colls[j];
                const coverage_part *hit = NULL;
                size_t hits = 0;
                for (size_t p = 0; p < cov.n; p++)
                    if (name_set_has(&cov.parts[p].src_db, db) && name_set_has(&cov.parts[p].src_coll, coll)) {
                        hit = &cov.parts[p];
                        hits++;
                    }
                bool covered = task_spec_covers(&s, db, coll);
                if (hits != (covered ? 1u : 0u))
                    fail_msg("spec %zu, %s.%s: in %zu parts, covered %d", k, db, coll, hits, covered);
                if (!hit) continue;
                const char *tdb, *tcoll;
                task_spec_map_name(&s, db, coll, &tdb, &tcoll);
                const char *pdb = hit->db_moved ? hit->dst_db.one : db;
                const char *pcoll = hit->coll_renamed ? hit->dst_coll.one : coll;
                if (strcmp(pdb, tdb) != 0 || strcmp(pcoll, tcoll) != 0)
                    fail_msg("spec %zu, %s.%s: the part says %s.%s, task_spec_map_name %s.%s", k, db, coll, pdb, pcoll,
                             tdb, tcoll);
                assert_true(name_set_has(&hit->dst_db, tdb));
                assert_true(name_set_has(&hit->dst_coll, tcoll));
            }
        task_coverage_free(&cov);
        task_spec_free(&s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_same_target),
        cmocka_unit_test(test_parts_agree_with_the_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
