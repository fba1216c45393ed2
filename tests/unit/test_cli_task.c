/* test_cli_task.c — `mcdc task` without mcdc serve: the command line read
 * into a request (bad flags refused naming the flag, the JSON each
 * subcommand sends), the tables printed from replies, and the API client
 * against a tiny libmicrohttpd server on 127.0.0.1 that records what it was
 * sent and answers what the test tells it (headers, the error mapping, exit
 * codes of the whole command). The real server's answers are the
 * integration test's (tests/it/test_task_cli.py). */
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "base/buf.h"
#include "cli/api_client.h"
#include "cli/cli.h"
#include "cli/task_cli.h"

/* ---- helpers ---------------------------------------------------------------- */

/* A FILE whose text the test reads back. */
typedef struct capture {
    FILE *f;
    char *text;
    size_t len;
} capture;

static void cap_open(capture *c) {
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

static const char *cap_text(capture *c) {
    fflush(c->f);
    return c->text ? c->text : "";
}

static void cap_close(capture *c) {
    fclose(c->f);
    free(c->text);
}

#define MAX_ARGS 40

/* argv from a NULL-terminated list, in writable memory as a real argv is
 * (getopt permutes it). */
typedef struct args {
    int argc;
    char *argv[MAX_ARGS];
} args;

static void args_make(args *a, const char *const *list) {
    a->argc = 0;
    while (list[a->argc]) {
        assert_true(a->argc < MAX_ARGS - 1);
        a->argv[a->argc] = strdup(list[a->argc]);
        a->argc++;
    }
    a->argv[a->argc] = NULL;
}

static void args_free(args *a) {
    for (int i = 0; i < a->argc; i++) free(a->argv[i]);
}

/* Parses the list; returns task_cli_parse's result, the messages in msgs. */
static int parse(const char *const *list, task_cli *t, capture *msgs) {
    args a;
    args_make(&a, list);
    capture out;
    cap_open(&out);
    cap_open(msgs);
    int rc = task_cli_parse(a.argc, a.argv, t, out.f, msgs->f);
    cap_close(&out);
    /* The request keeps pointers into argv: copied out before argv goes. */
    if (t->task_id) t->task_id = "<id>";
    if (t->client.server && rc == 0) t->client.server = NULL;
    args_free(&a);
    return rc;
}

static void assert_json_eq(const json_t *got, const char *want_text) {
    json_error_t je;
    json_t *want = json_loads(want_text, 0, &je);
    if (!want) fail_msg("bad expected JSON: %s", je.text);
    if (!json_equal(got, want)) {
        char *g = got ? json_dumps(got, JSON_SORT_KEYS) : strdup("NULL");
        char *w = json_dumps(want, JSON_SORT_KEYS);
        print_error("got  %s\nwant %s\n", g, w);
        free(g);
        free(w);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

static char *write_temp(const char *text) {
    char *path = strdup("/tmp/mcdc_test_spec_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* ---- the command line ------------------------------------------------------- */

typedef struct bad_case {
    const char *argv[12];
    const char *says; /* a piece of the message */
} bad_case;

static void test_bad_flags(void **state) {
    (void)state;
    char *bad_json = write_temp("{\"milvus_connect_param\": {\"uri\": \"h:1\",}");
    char *not_object = write_temp("[1, 2]");
    const bad_case cases[] = {
        {{"task", "get", "x", "--bogus"}, "unknown option '--bogus'"},
        {{"task", "list", "-x"}, "unknown option '-x'"},
        {{"task", "list", "--target", "h:1"}, "--target is not an option of list"},
        {{"task", "get", "x", "--ignore-not-found"}, "--ignore-not-found is not an option of get"},
        {{"task", "get", "x", "--server"}, "--server needs a value"},
        {{"task", "list", "--json=yes"}, "--json takes no value"},
        {{"task", "list", "--timeout", "soon"}, "--timeout wants a whole number"},
        {{"task", "list", "--timeout", "0"}, "--timeout wants a whole number"},
        {{"task", "create", "--target", "h:1", "--collection", "c", "--connect-timeout", "4000"},
         "--connect-timeout wants"},
        {{"task", "get"}, "TASK_ID is missing"},
        {{"task", "pause", ""}, "TASK_ID is missing"},
        {{"task", "get", "a", "b"}, "unexpected argument 'b'"},
        {{"task", "list", "extra"}, "unexpected argument 'extra'"},
        {{"task", "nope"}, "unknown subcommand 'nope'"},
        {{"task", "--server", "x", "list"}, "the subcommand comes first"},
        {{"task", "create", "--collection", "c"}, "--target URI is required"},
        {{"task", "create", "--target", "h:1"}, "--collection NAME or --db NAME is required"},
        {{"task", "create", "--target", "h:1", "--collection", ""}, "--collection wants a name"},
        {{"task", "create", "--target", "h:1", "--db", "a", "--db", "b"}, "--db is given twice"},
        {{"task", "create", "--spec", "/nonexistent/spec.json"}, "--spec /nonexistent/spec.json: cannot open"},
        {{"task", "create", "--spec", bad_json}, "malformed JSON at line 1"},
        {{"task", "create", "--spec", not_object}, "want a JSON object"},
        {{"task", "create", "--spec", not_object, "--snapshot"}, "--snapshot applies to the collections"},
        {{"task", "resync", "x"}, "--collection NAME is required"},
        {{"task", "resync", "x", "--collection", "a", "--collection", "b"}, "give --collection once"},
        {{"task", "verify", "x", "--collection", "a", "--collection", "b"}, "give --collection once"},
        {{"task", "verify", "x", "--db", "a"}, "--db goes with --collection"},
        {{"task", "get", "x", "--wait"}, "--wait"},
        {{"task", "maintenance", "x"}, "--operation is required"},
        {{"task", "maintenance", "x", "--operation", "skip_message", "--channel", "c"}, "--channel and --position"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        task_cli t;
        capture msgs;
        int rc = parse(cases[i].argv, &t, &msgs);
        const char *m = cap_text(&msgs);
        if (rc != -1 || !strstr(m, cases[i].says))
            fail_msg("case %zu (%s %s): rc %d, message '%s', want '%s'", i, cases[i].argv[1],
                     cases[i].argv[2] ? cases[i].argv[2] : "", rc, m, cases[i].says);
        /* One line, beginning with the command, that names what to fix. */
        assert_true(strncmp(m, "mcdc task", 9) == 0);
        task_cli_free(&t);
        cap_close(&msgs);
    }
    /* The whole command exits 2 for them, before any connection. */
    args a;
    args_make(&a, (const char *const[]){"task", "get", "x", "--bogus", NULL});
    capture out, msgs;
    cap_open(&out);
    cap_open(&msgs);
    assert_int_equal(task_cli_run(a.argc, a.argv, out.f, msgs.f), CLI_EXIT_USAGE);
    assert_non_null(strstr(cap_text(&msgs), "--bogus"));
    assert_string_equal(cap_text(&out), "");
    cap_close(&out);
    cap_close(&msgs);
    args_free(&a);
    unlink(bad_json);
    unlink(not_object);
    free(bad_json);
    free(not_object);
}

static void test_help(void **state) {
    (void)state;
    const char *const *lines[] = {
        (const char *const[]){"task", "--help", NULL},
        (const char *const[]){"task", "create", "--help", NULL},
        (const char *const[]){"task", "get", "-h", NULL},
        (const char *const[]){"task", "maintenance", "--help", NULL},
    };
    const char *says[] = {"subcommands:", "--target URI", "mcdc task get TASK_ID", "--operation OP"};
    for (size_t i = 0; i < 4; i++) {
        args a;
        args_make(&a, lines[i]);
        capture out, msgs;
        cap_open(&out);
        cap_open(&msgs);
        assert_int_equal(task_cli_run(a.argc, a.argv, out.f, msgs.f), CLI_EXIT_OK);
        assert_non_null(strstr(cap_text(&out), says[i]));
        assert_non_null(strstr(cap_text(&out), "Exit codes"));
        assert_string_equal(cap_text(&msgs), "");
        cap_close(&out);
        cap_close(&msgs);
        args_free(&a);
    }
    /* No subcommand: the overview, on stderr, exit 2. */
    args a;
    args_make(&a, (const char *const[]){"task", NULL});
    capture out, msgs;
    cap_open(&out);
    cap_open(&msgs);
    assert_int_equal(task_cli_run(a.argc, a.argv, out.f, msgs.f), CLI_EXIT_USAGE);
    assert_non_null(strstr(cap_text(&msgs), "subcommands:"));
    cap_close(&out);
    cap_close(&msgs);
    args_free(&a);
}

typedef struct request_case {
    const char *argv[32];
    const char *type;
    const char *data; /* NULL: sent without request_data */
} request_case;

static void test_requests(void **state) {
    (void)state;
    char *spec = write_temp("{\"milvus_connect_param\": {\"uri\": \"old:1\", \"token\": \"u:p\", \"connect_timeout\": 5},"
                            " \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\"}],"
                            " \"db_collections\": {\"x\": [{\"name\": \"*\"}]},"
                            " \"extra_info\": {\"other\": 1}}");
    char spec_case[3][64];
    const request_case cases[] = {
        {{"task", "create", "--target", "http://t:19530", "--collection", "a", "--collection", "*"},
         "create",
         "{\"milvus_connect_param\": {\"uri\": \"http://t:19530\"},"
         " \"collection_infos\": [{\"name\": \"a\"}, {\"name\": \"*\"}]}"},
        {{"task", "create", "--target", "https://t", "--target-tls", "--target-user", "root", "--target-password-env",
          "MCDC_SECRET_PW", "--connect-timeout", "0", "--ignore-partition", "--db", "d1", "--collection", "c",
          "--snapshot", "--use-start-position", "--task-id", "t1", "--paused", "--enable-user-role"},
         "create",
         "{\"milvus_connect_param\": {\"uri\": \"https://t\", \"enable_tls\": true, \"username\": \"root\","
         "  \"password_env\": \"MCDC_SECRET_PW\", \"connect_timeout\": 0, \"ignore_partition\": true},"
         " \"db_collections\": {\"d1\": [{\"name\": \"c\", \"snapshot\": true, \"use_start_position\": true}]},"
         " \"task_id\": \"t1\", \"disable_auto_start\": true, \"extra_info\": {\"enable_user_role\": true}}"},
        {{"task", "create", "--target", "t:1", "--db", "d2", "--target-token-file", "tok"},
         "create",
         "{\"milvus_connect_param\": {\"uri\": \"t:1\", \"token_file\": \"tok\"},"
         " \"db_collections\": {\"d2\": [{\"name\": \"*\"}]}}"},
        /* --spec: the file's fields, with those the flags set replaced (the
         * token in any form, db_collections of the flag's database only). */
        {{"task", "create", "--spec", spec_case[0], "--target", "new:2", "--target-token-env", "MCDC_SECRET_T"},
         "create",
         "{\"milvus_connect_param\": {\"uri\": \"new:2\", \"token_env\": \"MCDC_SECRET_T\", \"connect_timeout\": 5},"
         " \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\"}],"
         " \"db_collections\": {\"x\": [{\"name\": \"*\"}]}, \"extra_info\": {\"other\": 1}}"},
        {{"task", "create", "--spec", spec_case[1], "--db", "y", "--collection", "c", "--snapshot", "--enable-user-role"},
         "create",
         "{\"milvus_connect_param\": {\"uri\": \"old:1\", \"token\": \"u:p\", \"connect_timeout\": 5},"
         " \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\"}],"
         " \"db_collections\": {\"x\": [{\"name\": \"*\"}], \"y\": [{\"name\": \"c\", \"snapshot\": true}]},"
         " \"extra_info\": {\"other\": 1, \"enable_user_role\": true}}"},
        {{"task", "create", "--spec", spec_case[2], "--target-token", "k"},
         "create",
         "{\"milvus_connect_param\": {\"uri\": \"old:1\", \"token\": \"k\", \"connect_timeout\": 5},"
         " \"name_mapping\": [{\"source_db\": \"a\", \"target_db\": \"b\"}],"
         " \"db_collections\": {\"x\": [{\"name\": \"*\"}]}, \"extra_info\": {\"other\": 1}}"},
        {{"task", "list"}, "list", NULL},
        {{"task", "list", "--json", "--server", "http://h:1"}, "list", NULL},
        {{"task", "get", "t1"}, "get", "{\"task_id\": \"t1\"}"},
        {{"task", "get", "--json", "t1"}, "get", "{\"task_id\": \"t1\"}"},
        {{"task", "pause", "t1"}, "pause", "{\"task_id\": \"t1\"}"},
        {{"task", "resume", "t1"}, "resume", "{\"task_id\": \"t1\"}"},
        {{"task", "delete", "t1"}, "delete", "{\"task_id\": \"t1\"}"},
        {{"task", "delete", "t1", "--ignore-not-found"}, "delete", "{\"task_id\": \"t1\", \"ignore_not_found\": true}"},
        {{"task", "position", "t1"}, "position", "{\"task_id\": \"t1\"}"},
        {{"task", "resync", "t1", "--collection", "books"},
         "resync",
         "{\"task_id\": \"t1\", \"collection_name\": \"books\", \"db_name\": \"default\"}"},
        {{"task", "resync", "t1", "--collection", "books", "--db", "lib"},
         "resync",
         "{\"task_id\": \"t1\", \"collection_name\": \"books\", \"db_name\": \"lib\"}"},
        {{"task", "verify", "t1"}, "verify", "{\"task_id\": \"t1\"}"},
        {{"task", "verify", "t1", "--wait", "--collection", "books", "--db", "lib"},
         "verify",
         "{\"task_id\": \"t1\", \"collection_name\": \"books\", \"db_name\": \"lib\"}"},
        {{"task", "maintenance", "t1", "--operation", "skip_message", "--channel", "by-dev-rootcoord-dml_3",
          "--position", "42"},
         "maintenance",
         "{\"operation\": \"skip_message\","
         " \"params\": {\"task_id\": \"t1\", \"channel\": \"by-dev-rootcoord-dml_3\", \"position\": \"42\"}}"},
    };
    for (int i = 0; i < 3; i++) snprintf(spec_case[i], sizeof spec_case[i], "%s", spec);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        task_cli t;
        capture msgs;
        int rc = parse(cases[i].argv, &t, &msgs);
        if (rc != 0) fail_msg("case %zu: rc %d: %s", i, rc, cap_text(&msgs));
        assert_string_equal(t.request_type, cases[i].type);
        if (cases[i].data) assert_json_eq(t.request_data, cases[i].data);
        else assert_null(t.request_data);
        task_cli_free(&t);
        cap_close(&msgs);
    }
    unlink(spec);
    free(spec);
}

static void test_token(void **state) {
    (void)state;
    task_cli t;
    capture msgs;
    unsetenv("MCDC_API_TOKEN");
    assert_int_equal(parse((const char *const[]){"task", "list", NULL}, &t, &msgs), 0);
    assert_null(t.client.token);
    task_cli_free(&t);
    cap_close(&msgs);

    setenv("MCDC_API_TOKEN", "from-env", 1);
    assert_int_equal(parse((const char *const[]){"task", "list", NULL}, &t, &msgs), 0);
    assert_string_equal(t.client.token, "from-env");
    task_cli_free(&t);
    cap_close(&msgs);
    /* The flag wins over the variable. */
    assert_int_equal(parse((const char *const[]){"task", "list", "--token", "from-flag", NULL}, &t, &msgs), 0);
    assert_string_equal(t.client.token, "from-flag");
    task_cli_free(&t);
    cap_close(&msgs);
    unsetenv("MCDC_API_TOKEN");
}

static void test_timeout(void **state) {
    (void)state;
    task_cli t;
    capture msgs;
    assert_int_equal(parse((const char *const[]){"task", "list", NULL}, &t, &msgs), 0);
    assert_int_equal(t.client.timeout_ms, 120000);
    task_cli_free(&t);
    cap_close(&msgs);
    assert_int_equal(parse((const char *const[]){"task", "list", "--timeout", "5", NULL}, &t, &msgs), 0);
    assert_int_equal(t.client.timeout_ms, 5000);
    task_cli_free(&t);
    cap_close(&msgs);
    /* A create outwaits the server's wait for the target... */
    assert_int_equal(parse((const char *const[]){"task", "create", "--target", "t:1", "--collection", "c",
                                                 "--connect-timeout", "600", NULL},
                           &t, &msgs),
                     0);
    assert_int_equal(t.client.timeout_ms, 630000);
    task_cli_free(&t);
    cap_close(&msgs);
    /* ...unless told otherwise. */
    assert_int_equal(parse((const char *const[]){"task", "create", "--target", "t:1", "--collection", "c",
                                                 "--connect-timeout", "600", "--timeout", "10", NULL},
                           &t, &msgs),
                     0);
    assert_int_equal(t.client.timeout_ms, 10000);
    task_cli_free(&t);
    cap_close(&msgs);
}

/* ---- tables ------------------------------------------------------------------ */

static const char TASK_A[] =
    "{\"task_id\": \"alpha\", \"state\": \"Running\", \"starting\": false, \"last_error\": \"\","
    " \"milvus_connect_param\": {\"uri\": \"http://t:19530\", \"enable_tls\": true, \"username\": \"***\"},"
    " \"collection_infos\": [{\"name\": \"books\"}, {\"name\": \"films\", \"snapshot\": true}],"
    " \"db_collections\": {\"lib\": [{\"name\": \"*\"}]},"
    " \"watermark\": {\"ts\": 449476372912570369, \"time\": \"2024-05-01T10:00:00.123Z\"}, \"lag_seconds\": 0.44,"
    " \"channels_read\": 3,"
    " \"applied\": {\"inserted_rows\": 1000, \"upserted_rows\": 7, \"deleted_rows\": 10, \"ddl\": 4, \"messages\": 5120},"
    " \"latency\": {\"apply_lag_seconds\": {\"count\": 412, \"p50\": 0.09, \"p99\": 0.61, \"max\": 1.93},"
    "              \"target_call_seconds\": {\"count\": 0, \"p50\": 0, \"p99\": 0, \"max\": 0}},"
    " \"snapshot\": {\"consistent\": false, \"collections\": ["
    "   {\"db\": \"default\", \"collection\": \"films\", \"collection_id\": 1, \"phase\": \"copying\","
    "    \"rows_copied\": 250, \"rows_total\": 1000, \"rows_per_s\": 12.5, \"eta_s\": 60, \"end_ts\": 0,"
    "    \"last_error\": \"\"},"
    "   {\"db\": \"lib\", \"collection\": \"maps\", \"collection_id\": 2, \"phase\": \"waiting\","
    "    \"rows_copied\": 0, \"rows_total\": 0, \"rows_per_s\": 0, \"eta_s\": null, \"end_ts\": 0,"
    "    \"last_error\": \"source down\"}]},"
    " \"bulk_inserts_not_replicated\": [{\"collection\": \"default.books\", \"import_task\": 77,"
    "   \"state\": \"ImportCompleted\", \"rows\": 500}]}";

static const char TASK_B[] =
    "{\"task_id\": \"beta\", \"state\": \"Paused\", \"reason\": \"target refused\\u001b[2J the call\","
    " \"starting\": false, \"last_error\": \"x\", \"milvus_connect_param\": {\"host\": \"t2\", \"port\": 19530},"
    " \"collection_infos\": [], \"db_collections\": {},"
    " \"paused_at\": {\"channel\": \"by-dev-rootcoord-dml_1\", \"position\": \"9\"},"
    " \"snapshot\": {\"consistent\": true, \"collections\": []}}";

static json_t *load(const char *fmt, ...) {
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fail_msg("bad test JSON at %d: %s", je.position, je.text);
    return j;
}

static void test_render_list(void **state) {
    (void)state;
    json_t *data = load("{\"tasks\": [%s, %s]}", TASK_A, TASK_B);
    capture out;
    cap_open(&out);
    task_render_list(data, out.f);
    const char *s = cap_text(&out);
    /* Columns line up: each value starts where its heading does. */
    const char *head = strstr(s, "TASK ID");
    assert_ptr_equal(head, s);
    const char *row_a = strstr(s, "\nalpha") + 1, *row_b = strstr(s, "\nbeta") + 1;
    assert_true(row_a > s && row_b > s);
    size_t state_col = (size_t)(strstr(s, "STATE") - s), lag_col = (size_t)(strstr(s, "LAG") - s);
    assert_memory_equal(row_a + state_col, "Running", 7);
    assert_memory_equal(row_b + state_col, "Paused", 6);
    assert_memory_equal(row_a + lag_col, "0.4s", 4);
    assert_memory_equal(row_b + lag_col, "-", 1);
    assert_non_null(strstr(row_a, "books, films, lib.*"));
    assert_non_null(strstr(row_a, "waiting, copying (25%)"));
    /* The reason, its escape sequence defused. */
    assert_non_null(strstr(row_b, "target refused?[2J the call"));
    assert_null(strchr(s, '\x1b'));
    cap_close(&out);
    json_decref(data);

    /* No tasks: the heading alone. */
    data = load("{\"tasks\": []}");
    cap_open(&out);
    task_render_list(data, out.f);
    assert_string_equal(cap_text(&out), "TASK ID  STATE  LAG  COLLECTIONS  SNAPSHOT  REASON\n");
    cap_close(&out);
    json_decref(data);
}

static void test_render_get(void **state) {
    (void)state;
    json_t *data = load("{\"task\": %s}", TASK_A);
    capture out;
    cap_open(&out);
    task_render_get(data, out.f);
    const char *s = cap_text(&out);
    const char *want[] = {
        "task id         alpha\n",
        "state           Running\n",
        "target          http://t:19530 (TLS)\n",
        "collections     books, films, lib.*\n",
        "watermark       2024-05-01T10:00:00.123Z (ts 449476372912570369)\n",
        "lag             0.4s\n",
        "channels read   3\n",
        "applied         1000 inserted, 7 upserted, 10 deleted rows; 4 ddl, 5120 messages\n",
        "latency         apply lag p50 0.090s p99 0.610s max 1.930s (412 calls)\n",
        "snapshot        not consistent yet\n",
        "COLLECTION     PHASE    ROWS COPIED  ROWS TOTAL  ROWS/S  ETA  LAST ERROR\n",
        "default.films  copying  250          1000        12.5    60s\n",
        "lib.maps       waiting  0            0           0.0     -    source down\n",
        "default.books  77           ImportCompleted  500\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(s, want[i])) fail_msg("missing line %zu '%s' in:\n%s", i, want[i], s);
    assert_null(strstr(s, "reason"));
    assert_null(strstr(s, "paused at"));
    cap_close(&out);
    json_decref(data);

    data = load("{\"task\": %s}", TASK_B);
    cap_open(&out);
    task_render_get(data, out.f);
    s = cap_text(&out);
    assert_non_null(strstr(s, "state           Paused\n"));
    assert_non_null(strstr(s, "reason          target refused?[2J the call\n"));
    assert_non_null(strstr(s, "last error      x\n"));
    assert_non_null(strstr(s, "target          t2:19530\n"));
    assert_non_null(strstr(s, "collections     -\n"));
    assert_non_null(strstr(s, "paused at       channel by-dev-rootcoord-dml_1 position 9\n"));
    assert_null(strstr(s, "snapshot"));
    assert_null(strstr(s, "watermark"));
    cap_close(&out);
    json_decref(data);
}

static void test_render_positions(void **state) {
    (void)state;
    json_t *data = load("{\"positions\": [{\"channel_name\": \"by-dev-rootcoord-dml_0\", \"position\": \"17\","
                        " \"msg_id\": \"EQ==\", \"tt\": 449476372912570369, \"time\": 1714557600123},"
                        " {\"channel_name\": \"by-dev-replicate\", \"position\": \"\", \"msg_id\": \"\", \"tt\": 0,"
                        " \"time\": 0}]}");
    capture out;
    cap_open(&out);
    task_render_positions(data, out.f);
    const char *s = cap_text(&out);
    assert_non_null(strstr(s, "CHANNEL                 POSITION  TIME"));
    assert_non_null(strstr(s, "by-dev-rootcoord-dml_0  17        20"));
    assert_non_null(strstr(s, " 449476372912570369\n"));
    assert_non_null(strstr(s, "by-dev-replicate                  -"));
    cap_close(&out);
    json_decref(data);
}

/* ---- the client against a tiny server ------------------------------------------ */

typedef struct fake {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    /* what the last request carried */
    char method[16], url[64], auth[128], ctype[64];
    mcdc_buf body;
    /* what to answer */
    unsigned status;
    const char *reply;
    const char *reply_type;
    unsigned delay_ms;
} fake;

typedef struct upload {
    mcdc_buf body;
} upload;

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
    (void)version;
    fake *f = cls;
    upload *u = *con_cls;
    if (!u) {
        *con_cls = u = calloc(1, sizeof *u);
        return MHD_YES;
    }
    if (*data_size) {
        mcdc_buf_append(&u->body, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&f->mu);
    snprintf(f->method, sizeof f->method, "%s", method);
    snprintf(f->url, sizeof f->url, "%s", url);
    copy_header(c, MHD_HTTP_HEADER_AUTHORIZATION, f->auth, sizeof f->auth);
    copy_header(c, MHD_HTTP_HEADER_CONTENT_TYPE, f->ctype, sizeof f->ctype);
    mcdc_buf_reset(&f->body);
    mcdc_buf_append(&f->body, u->body.data ? u->body.data : (const uint8_t *)"", u->body.len);
    unsigned status = f->status, delay = f->delay_ms;
    const char *reply = f->reply, *type = f->reply_type;
    pthread_mutex_unlock(&f->mu);
    if (delay) usleep(delay * 1000);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(reply), (void *)reply, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type ? type : "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    upload *u = *con_cls;
    if (u) {
        mcdc_buf_free(&u->body);
        free(u);
    }
    *con_cls = NULL;
}

static int fake_setup(void **state) {
    fake *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->status = 200;
    f->reply = "{\"code\": 200, \"data\": {}}";
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                            on_request, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED,
                            on_done, f, MHD_OPTION_END);
    assert_non_null(f->d);
    f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int fake_teardown(void **state) {
    fake *f = *state;
    MHD_stop_daemon(f->d);
    mcdc_buf_free(&f->body);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

static void fake_answer(fake *f, unsigned status, const char *reply) {
    pthread_mutex_lock(&f->mu);
    f->status = status;
    f->reply = reply;
    f->reply_type = NULL;
    f->delay_ms = 0;
    pthread_mutex_unlock(&f->mu);
}

static api_client *client_for(fake *f, const char *token) {
    char server[64];
    snprintf(server, sizeof server, "127.0.0.1:%u", (unsigned)f->port); /* no scheme: http */
    mcdc_err err;
    api_client *c = api_client_open(&(api_client_config){.server = server, .token = token}, &err);
    if (!c) fail_msg("api_client_open: %s", err.msg);
    return c;
}

static void test_client_request(void **state) {
    fake *f = *state;
    api_client *c = client_for(f, "s3cret");
    char want_url[64];
    snprintf(want_url, sizeof want_url, "http://127.0.0.1:%u/cdc", (unsigned)f->port);
    assert_string_equal(api_client_url(c), want_url);
    fake_answer(f, 200, "{\"code\": 200, \"data\": {\"task_id\": \"abc\"}}");
    json_t *rd = json_pack("{s:s}", "task_id", "abc");
    mcdc_err err;
    long status = -1;
    json_t *data = api_client_call(c, "get", rd, &status, &err);
    assert_non_null(data);
    assert_int_equal(status, 200);
    assert_json_eq(data, "{\"task_id\": \"abc\"}");
    json_decref(data);
    assert_string_equal(f->method, "POST");
    assert_string_equal(f->url, "/cdc");
    assert_string_equal(f->auth, "Bearer s3cret");
    assert_string_equal(f->ctype, "application/json");
    json_t *sent = json_loadb((const char *)f->body.data, f->body.len, 0, NULL);
    assert_json_eq(sent, "{\"request_type\": \"get\", \"request_data\": {\"task_id\": \"abc\"}}");
    json_decref(sent);

    /* No request_data: left out; a reply without data: an empty object. */
    fake_answer(f, 200, "{\"code\": 200}");
    data = api_client_call(c, "list", NULL, NULL, &err);
    assert_non_null(data);
    assert_json_eq(data, "{}");
    json_decref(data);
    sent = json_loadb((const char *)f->body.data, f->body.len, 0, NULL);
    assert_json_eq(sent, "{\"request_type\": \"list\"}");
    json_decref(sent);
    json_decref(rd);
    api_client_close(c);

    /* Without a token, no Authorization header at all. */
    c = client_for(f, "");
    fake_answer(f, 200, "{\"code\": 200, \"data\": {}}");
    data = api_client_call(c, "list", NULL, NULL, &err);
    assert_non_null(data);
    json_decref(data);
    assert_string_equal(f->auth, "");
    api_client_close(c);
}

static void test_client_errors(void **state) {
    fake *f = *state;
    api_client *c = client_for(f, "s3cret");
    mcdc_err err;
    long status;

    fake_answer(f, 404, "{\"code\": 404, \"message\": \"task 'x' not found\"}");
    assert_null(api_client_call(c, "get", NULL, &status, &err));
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_int_equal(status, 404);
    assert_string_equal(err.msg, "task 'x' not found (HTTP 404)");

    /* milvus-cdc's own form: HTTP 200, the error in code. */
    fake_answer(f, 200, "{\"code\": 500, \"message\": \"no task\\nhere\"}");
    assert_null(api_client_call(c, "get", NULL, &status, &err));
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_string_equal(err.msg, "no task?here (code 500)");

    fake_answer(f, 502, "<html>bad gateway</html>");
    assert_null(api_client_call(c, "get", NULL, &status, &err));
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "HTTP 502"));
    assert_null(strstr(err.msg, "html"));

    fake_answer(f, 200, "{\"data\": {}}");
    assert_null(api_client_call(c, "list", NULL, &status, &err));
    assert_int_equal(err.code, MCDC_EREMOTE);

    fake_answer(f, 401, "{\"code\": 401, \"message\": \"missing or wrong bearer token\"}");
    assert_null(api_client_call(c, "list", NULL, &status, &err));
    assert_string_equal(err.msg, "missing or wrong bearer token (HTTP 401)");
    assert_null(strstr(err.msg, "s3cret"));
    api_client_close(c);

    /* Connected, no reply in time. */
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%u", (unsigned)f->port);
    c = api_client_open(&(api_client_config){.server = server, .timeout_ms = 300}, &err);
    assert_non_null(c);
    fake_answer(f, 200, "{\"code\": 200, \"data\": {}}");
    f->delay_ms = 1500;
    assert_null(api_client_call(c, "list", NULL, &status, &err));
    assert_int_equal(err.code, MCDC_ETIMEOUT);
    assert_int_equal(status, 0);
    f->delay_ms = 0;
    api_client_close(c);
}

/* A server that reads the request and hangs up without a reply, as one
 * that crashed mid-request would. */
static void *hang_up(void *arg) {
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
        char buf[4096];
        ssize_t n;
        /* The headers and the small body arrive together on loopback. */
        while ((n = read(fd, buf, sizeof buf)) > 0) {
            if (memmem(buf, (size_t)n, "\"request_type\"", 14)) break;
        }
        close(fd);
    }
    return NULL;
}

static void test_client_request_taken_without_reply(void **state) {
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 1), 0);
    socklen_t len = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &len);
    pthread_t th;
    pthread_create(&th, NULL, hang_up, &lfd);
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    mcdc_err err;
    api_client *c = api_client_open(&(api_client_config){.server = server}, &err);
    assert_non_null(c);
    assert_null(api_client_call(c, "create", NULL, NULL, &err));
    pthread_join(th, NULL);
    close(lfd);
    /* Not "unreachable" (exit 2, nothing done): exit 1, may have been done. */
    assert_int_equal(err.code, MCDC_EREMOTE);
    assert_non_null(strstr(err.msg, "it may have been done"));
    api_client_close(c);
}

/* A loopback port nothing listens on: bound, then closed. */
static uint16_t dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_client_unreachable_and_bad_address(void **state) {
    (void)state;
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%u/", (unsigned)dead_port());
    mcdc_err err;
    api_client *c = api_client_open(&(api_client_config){.server = server, .token = "s3cret"}, &err);
    assert_non_null(c);
    assert_null(api_client_call(c, "list", NULL, NULL, &err));
    assert_int_equal(err.code, MCDC_EUNAVAIL);
    server[strlen(server) - 1] = 0; /* the address, as given, without the slash */
    assert_non_null(strstr(err.msg, server));
    assert_null(strstr(err.msg, "s3cret"));
    api_client_close(c);

    const char *bad[] = {"", "ftp://h:1", "http://h:1/cdc", "h:0", "h:70000", "http://"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(api_client_open(&(api_client_config){.server = bad[i]}, &err));
        assert_int_equal(err.code, MCDC_EINVAL);
    }
    /* The default port and https. */
    c = api_client_open(&(api_client_config){.server = "HTTPS://[::1]"}, &err);
    assert_non_null(c);
    assert_string_equal(api_client_url(c), "https://[::1]:8444/cdc");
    api_client_close(c);
}

/* The whole command against the fake: what it sends, prints and exits with. */
static int run(fake *f, const char *const *list, capture *out, capture *msgs) {
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%u", (unsigned)f->port);
    const char *full[MAX_ARGS];
    int n = 0;
    while (list[n]) full[n] = list[n], n++;
    full[n++] = "--server";
    full[n++] = server;
    full[n] = NULL;
    args a;
    args_make(&a, full);
    cap_open(out);
    cap_open(msgs);
    int rc = task_cli_run(a.argc, a.argv, out->f, msgs->f);
    args_free(&a);
    return rc;
}

static void test_run(void **state) {
    fake *f = *state;
    capture out, msgs;
    setenv("MCDC_API_TOKEN", "env-token", 1);

    fake_answer(f, 200, "{\"code\": 200, \"data\": {\"task_id\": \"abc\"}}");
    assert_int_equal(run(f, (const char *const[]){"task", "create", "--target", "t:1", "--collection", "c", NULL},
                         &out, &msgs),
                     CLI_EXIT_OK);
    assert_string_equal(cap_text(&out), "abc\n");
    assert_string_equal(f->auth, "Bearer env-token");
    json_t *sent = json_loadb((const char *)f->body.data, f->body.len, 0, NULL);
    assert_json_eq(sent, "{\"request_type\": \"create\", \"request_data\": {\"milvus_connect_param\": {\"uri\": \"t:1\"},"
                         " \"collection_infos\": [{\"name\": \"c\"}]}}");
    json_decref(sent);
    cap_close(&out);
    cap_close(&msgs);

    /* --json: the data, pretty. */
    fake_answer(f, 200, "{\"code\": 200, \"data\": {\"positions\": []}}");
    assert_int_equal(run(f, (const char *const[]){"task", "position", "abc", "--json", NULL}, &out, &msgs), CLI_EXIT_OK);
    assert_string_equal(cap_text(&out), "{\n  \"positions\": []\n}\n");
    cap_close(&out);
    cap_close(&msgs);

    fake_answer(f, 200, "{\"code\": 200, \"data\": {}}");
    assert_int_equal(run(f, (const char *const[]){"task", "pause", "abc", NULL}, &out, &msgs), CLI_EXIT_OK);
    assert_string_equal(cap_text(&out), "task abc paused\n");
    cap_close(&out);
    cap_close(&msgs);

    /* The server's refusal: its message, exit 1. */
    fake_answer(f, 404, "{\"code\": 404, \"message\": \"task 'nope' not found\"}");
    assert_int_equal(run(f, (const char *const[]){"task", "get", "nope", NULL}, &out, &msgs), CLI_EXIT_FAIL);
    assert_string_equal(cap_text(&msgs), "mcdc task get: task 'nope' not found (HTTP 404)\n");
    assert_string_equal(cap_text(&out), "");
    cap_close(&out);
    cap_close(&msgs);
    unsetenv("MCDC_API_TOKEN");

    /* Nobody there: exit 2, naming the address. */
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%u", (unsigned)dead_port());
    args a;
    args_make(&a, (const char *const[]){"task", "list", "--server", server, NULL});
    cap_open(&out);
    cap_open(&msgs);
    assert_int_equal(task_cli_run(a.argc, a.argv, out.f, msgs.f), CLI_EXIT_USAGE);
    assert_non_null(strstr(cap_text(&msgs), server));
    assert_non_null(strstr(cap_text(&msgs), "cannot reach"));
    cap_close(&out);
    cap_close(&msgs);
    args_free(&a);

    /* A bad --server: exit 2, naming the flag. */
    args_make(&a, (const char *const[]){"task", "list", "--server", "ftp://x", NULL});
    cap_open(&out);
    cap_open(&msgs);
    assert_int_equal(task_cli_run(a.argc, a.argv, out.f, msgs.f), CLI_EXIT_USAGE);
    assert_non_null(strstr(cap_text(&msgs), "--server 'ftp://x'"));
    cap_close(&out);
    cap_close(&msgs);
    args_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_render_list),
        cmocka_unit_test(test_render_get),
        cmocka_unit_test(test_render_positions),
        cmocka_unit_test_setup_teardown(test_client_request, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_client_errors, fake_setup, fake_teardown),
        cmocka_unit_test(test_client_unreachable_and_bad_address),
        cmocka_unit_test(test_client_request_taken_without_reply),
        cmocka_unit_test_setup_teardown(test_run, fake_setup, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
