/* fuzz_http_request.c — libFuzzer harness for the create request of the HTTP
 * API: a body as POST /cdc receives it → JSON → task_spec_from_json(), and for
 * every spec that parses, task_spec_to_json() both ways and the questions the
 * pipeline asks (task_spec_covers, task_spec_map_name).
 *
 * http.c's envelope handling is static and bound to a libmicrohttpd
 * connection, so it is not called; the body is loaded with its flags and its
 * request_data taken when there is one (else the whole body stands for it).
 *
 * Properties checked beyond the sanitizers:
 *   - a refusal is an MCDC_EINVAL error with a message (MCDC_EIO only if
 *     /dev/urandom fails for a generated task id);
 *   - the public form never carries a secret;
 *   - a secret named by reference (password_file, token_env, ...) has no
 *     value next to it, which the stored form would carry;
 *   - the stored form (to_json with secrets, as text) parses again into a
 *     spec with the same stored form: task_manager reloads tasks that way,
 *     and a stored spec it refuses is a task lost at restart;
 *   - every listed collection is covered, and its entry's snapshot is the
 *     answer of task_spec_wants_snapshot; every mapping maps;
 *   - the never-double checks (task_coverage.h) answer with their codes, and
 *     a spec always overlaps itself. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pipeline/task_coverage.h"
#include "pipeline/task_spec.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) abort(); \
    } while (0)

static void check_masked(const json_t *conn, const char *key) {
    const json_t *v = json_object_get(conn, key);
    if (v) CHECK(json_is_string(v) && strcmp(json_string_value(v), "***") == 0);
}

static void check_questions(const task_spec *s) {
    /* Longer than any name a spec may hold (255), so never one of its keys. */
    static char unlisted[300];
    if (!unlisted[0]) memset(unlisted, 'u', sizeof unlisted - 1);
    for (size_t i = 0; i < s->n_collections; i++) {
        const task_collection *c = &s->collections[i];
        CHECK(c->db && c->name);
        const char *name = strcmp(c->name, "*") == 0 ? unlisted : c->name;
        CHECK(task_spec_covers(s, c->db, name));
        /* The entry that covers it answers for it. */
        CHECK(task_spec_wants_snapshot(s, c->db, name) == c->snapshot);
    }
    for (size_t i = 0; i < s->n_mappings; i++) {
        const task_name_map *m = &s->mappings[i];
        const char *tdb, *tcoll;
        task_spec_map_name(s, m->source_db, unlisted, &tdb, &tcoll);
        CHECK(strcmp(tdb, m->n_collections ? m->source_db : m->target_db) == 0);
        for (size_t j = 0; j < m->n_collections; j++) {
            task_spec_map_name(s, m->source_db, m->collections[j].key, &tdb, &tcoll);
            CHECK(strcmp(tdb, m->target_db) == 0 && strcmp(tcoll, m->collections[j].value) == 0);
        }
    }
}

static void check_coverage(const task_spec *s) {
    mcdc_err err = {0};
    if (task_coverage_check_spec(s, &err)) CHECK(err.code == MCDC_EINVAL && err.msg[0]);
    CHECK(task_coverage_check_pair(s, s, &err) != 0 && err.code == MCDC_EEXIST && err.msg[0]);
}

static void round_trip(const task_spec *s) {
    const task_target *t = &s->target;
    CHECK(!t->password || !(t->password_ref.file || t->password_ref.env));
    CHECK(!(t->password_ref.file && t->password_ref.env) && !(t->token_ref.file && t->token_ref.env));
    if (t->token_ref.file || t->token_ref.env)
        CHECK(!t->api_key && !t->username && !t->password && !t->password_ref.file && !t->password_ref.env);
    json_t *pub = task_spec_to_json(s, false);
    CHECK(pub != NULL);
    const json_t *conn = json_object_get(pub, "milvus_connect_param");
    check_masked(conn, "username");
    check_masked(conn, "password");
    check_masked(conn, "token");
    json_decref(pub);

    /* As task_manager stores and reloads it. */
    json_t *stored = task_spec_to_json(s, true);
    CHECK(stored != NULL);
    char *text = json_dumps(stored, 0);
    CHECK(text != NULL);
    json_t *reloaded = json_loads(text, 0, NULL);
    free(text);
    CHECK(reloaded != NULL);
    task_spec b;
    mcdc_err err = {0};
    CHECK(task_spec_from_json(reloaded, &b, &err) == 0);
    json_decref(reloaded);
    json_t *again = task_spec_to_json(&b, true);
    CHECK(json_equal(stored, again));
    CHECK(strcmp(s->id, b.id) == 0);
    json_decref(again);
    json_decref(stored);
    task_spec_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* http.c's flags: a duplicate key is refused, not silently resolved. */
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!doc) return 0;
    const json_t *rd = json_object_get(doc, "request_data");
    if (!rd) rd = doc;
    task_spec s;
    mcdc_err err = {0};
    if (task_spec_from_json(rd, &s, &err) != 0) {
        CHECK((err.code == MCDC_EINVAL || err.code == MCDC_EIO) && err.msg[0]);
        json_decref(doc);
        return 0;
    }
    CHECK(s.id && s.target.address && s.n_collections > 0);
    check_questions(&s);
    check_coverage(&s);
    round_trip(&s);
    task_spec_free(&s);
    json_decref(doc);
    return 0;
}
