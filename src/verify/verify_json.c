/* verify_json.c — a verify_result as JSON: the one shape `mcdc verify
 * --json` prints and a task's `get` shows, so a script reads both alike. */
#include "verify/verify.h"

#include <jansson.h>

static json_t *key_json(const verify_key *k) { return k->s ? json_string(k->s) : json_integer(k->i); }

json_t *verify_result_json(const verify_result *r) {
    json_t *o = json_object();
    json_object_set_new(o, "equal", json_boolean(verify_result_equal(r)));
    json_object_set_new(o, "source_rows", json_integer((json_int_t)r->source_rows));
    json_object_set_new(o, "target_rows", json_integer((json_int_t)r->target_rows));
    json_object_set_new(o, "source_keys", json_integer((json_int_t)r->source_keys));
    json_object_set_new(o, "target_keys", json_integer((json_int_t)r->target_keys));
    json_object_set_new(o, "partitions", json_integer((json_int_t)r->partitions));
    for (int k = 0; k < VERIFY_N_KINDS; k++) {
        json_t *first = json_array();
        for (size_t i = 0; i < r->n_example[k]; i++) json_array_append_new(first, key_json(&r->example[k][i]));
        json_object_set_new(o, verify_kind_name((verify_kind)k),
                            json_pack("{s:I, s:o}", "count", (json_int_t)r->count[k], "first", first));
    }
    json_object_set_new(o, "unconfirmed", json_integer((json_int_t)r->unconfirmed));
    return o;
}
