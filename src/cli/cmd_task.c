/* cmd_task.c — `mcdc task SUB`: the task API (docs/api.md) from a shell.
 *
 * One subcommand per request_type (position's is `position`), each a client
 * of a running `mcdc serve` through api_client.h, so that an operator needs
 * neither curl nor the JSON envelope for the common cases, and scripts get
 * exit codes that tell a refused request (1) from one that could not be sent
 * (2). `create` builds the request from flags for the common fields and
 * takes the rest from a JSON file (--spec), so that no field of the API is
 * out of reach. Every option of every subcommand is in one table, so that
 * an option given to the wrong subcommand is named as such, not as unknown. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/secret.h"
#include "cli/cli.h"
#include "cli/task_cli.h"
#include "base/clock.h"
#include "server/http.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define DEFAULT_SERVER "http://" HTTP_DEFAULT_ADDRESS ":" STR(HTTP_DEFAULT_PORT)
#define TOKEN_ENV "MCDC_API_TOKEN"
#define DEFAULT_TIMEOUT_S 120

enum sub {
    S_CREATE,
    S_LIST,
    S_GET,
    S_PAUSE,
    S_RESUME,
    S_DELETE,
    S_POSITION,
    S_RESYNC,
    S_VERIFY,
    S_MAINTENANCE,
    S_SWITCHOVER,
    S_FAILOVER,
    N_SUBS
};

typedef struct sub_def {
    const char *name, *request_type;
    bool takes_id;
    const char *summary;
    const char *usage; /* the subcommand's own options */
} sub_def;

static const sub_def SUBS[N_SUBS] = {
    [S_CREATE] = {"create", "create", false, "create a task and start it (prints its id)",
                  "usage: mcdc task create --target URI (--collection NAME... | --db NAME) [options]\n"
                  "       mcdc task create --spec FILE [options]\n"
                  "\n"
                  "  --target URI              the target Milvus: http://host:port, https://host:port (TLS),\n"
                  "                            tcp://host:port or host:port (milvus_connect_param.uri)\n"
                  "  --target-tls              TLS to the target (enable_tls; implied by https://)\n"
                  "  --target-user USER        with --target-password-env or --target-password-file\n"
                  "  --target-password-env V   the password is in mcdc serve's variable V (MCDC_SECRET_*)\n"
                  "  --target-password-file F  ... in file F under mcdc serve's secrets_dir\n"
                  "  --target-token-env V      the token (user:password or API key) in variable V (MCDC_SECRET_*)\n"
                  "  --target-token-file F     ... in file F under secrets_dir\n"
                  "  --target-token TOKEN      the token itself (seen by other users of this host in the process\n"
                  "                            list: prefer the two above, or --spec)\n"
                  "  --connect-timeout S       seconds to wait for the target, 0-3600 (default 10)\n"
                  "  --ignore-partition        write every partition's rows to the target's default partition\n"
                  "  --collection NAME         a collection to replicate; repeat for several; \"*\" for all\n"
                  "  --db NAME                 the database of the --collection flags (default: default);\n"
                  "                            alone, every collection of NAME\n"
                  "  --snapshot                copy the rows these collections already hold, then stream\n"
                  "  --use-start-position      read these collections from their start\n"
                  "  --task-id ID              the task's id (1-64 of A-Z a-z 0-9 _ -; generated when absent)\n"
                  "  --paused                  create it without starting it (disable_auto_start)\n"
                  "  --enable-user-role        replicate users, roles and grants (docs/rbac.md)\n"
                  "  --spec FILE               request_data as JSON from FILE ('-' = stdin): every field of\n"
                  "                            docs/api.md; the flags above replace the fields they set\n"},
    [S_LIST] = {"list", "list", false, "list the tasks: id, state, lag, collections, snapshot, reason",
                "usage: mcdc task list [options]\n"},
    [S_GET] = {"get", "get", true, "show one task: state, watermark, lag, counts, snapshot progress",
               "usage: mcdc task get TASK_ID [options]\n"},
    [S_PAUSE] = {"pause", "pause", true, "stop a task, keeping its positions", "usage: mcdc task pause TASK_ID [options]\n"},
    [S_RESUME] = {"resume", "resume", true, "continue a paused task from its positions",
                  "usage: mcdc task resume TASK_ID [options]\n"},
    [S_DELETE] = {"delete", "delete", true, "stop a task and forget it (the target's data stays)",
                  "usage: mcdc task delete TASK_ID [--ignore-not-found] [options]\n"
                  "\n"
                  "  --ignore-not-found        a task that does not exist is a success\n"},
    [S_POSITION] = {"position", "position", true, "show a task's checkpoint per channel",
                    "usage: mcdc task position TASK_ID [options]\n"},
    [S_RESYNC] = {"resync", "resync", true, "copy one collection's rows from the source again",
                  "usage: mcdc task resync TASK_ID --collection NAME [--db NAME] [options]\n"
                  "\n"
                  "  --collection NAME         the collection (the source's name)\n"
                  "  --db NAME                 its database (default: default)\n"},
    [S_VERIFY] = {"verify", "verify", true, "compare the task's collections on source and target, row by row",
                  "usage: mcdc task verify TASK_ID [--collection NAME [--db NAME]] [--wait] [options]\n"
                  "\n"
                  "Starts a verify at the task's watermark (mcdc verify's comparison, with the task's target and\n"
                  "name mapping); `mcdc task get` shows it.\n"
                  "\n"
                  "  --collection NAME         only this collection (the source's name); default: every one covered\n"
                  "  --db NAME                 its database (default: default)\n"
                  "  --wait                    wait for the result; exit 0 equal, 1 different, 2 could not compare\n"},
    [S_MAINTENANCE] = {"maintenance", "maintenance", true, "operator actions: skip a message a task is paused at",
                       "usage: mcdc task maintenance TASK_ID --operation skip_message --channel C --position P\n"
                       "\n"
                       "  --operation OP            skip_message (the only one)\n"
                       "  --channel C, --position P the message: get's paused_at, exactly\n"},
    [S_SWITCHOVER] = {"switchover", "switchover", true, "hand a task's collections over to its target, RPO 0",
                      "usage: mcdc task switchover TASK_ID [--quiet S] [--writes-timeout S]\n"
                      "                                    [--reverse-server URL --reverse-target URI] [options]\n"
                      "       (also: mcdc switchover TASK_ID ...)\n"
                      "\n"
                      "Stop writes to the source first. mcdc then waits until no write to the task's collections\n"
                      "came for --quiet seconds and the target caught up, verifies every collection row by row,\n"
                      "checks that no write came meanwhile, and pauses the task: the target is the primary, with\n"
                      "nothing lost (RPO 0). Any failed step is a refusal that changes nothing (exit 1).\n"
                      "Then the reverse task (new primary -> old one) is created on --reverse-server, an mcdc\n"
                      "whose source is the new primary, writing to --reverse-target (the old primary); without\n"
                      "them its request is printed: create it before writes go to the new primary\n"
                      "(docs/disaster-recovery.md). Exit 3: handed over, but the reverse task was not created.\n"
                      "\n"
                      "  --quiet S                 seconds without a write that mean writes stopped (default 5)\n"
                      "  --writes-timeout S        how long to wait for that, and for the target to catch up (120)\n"
                      "  --reverse-server URL      the mcdc serve whose source is the new primary\n"
                      "  --reverse-target URI      the old primary's Milvus, the reverse task's target\n"},
    [S_FAILOVER] = {"failover", "failover", true, "the source is lost: stop a task and report what the target holds",
                    "usage: mcdc task failover TASK_ID [--drain S] [options]\n"
                    "       (also: mcdc failover TASK_ID ...)\n"
                    "\n"
                    "Lets the task apply what its queue still holds (until nothing new came for 3 s, at most\n"
                    "--drain seconds), pauses it keeping its checkpoints, and prints up to which source time the\n"
                    "target holds every change, and the last source time mcdc read: changes in between may be\n"
                    "missing. `mcdc task position` then gives the positions `mcdc dump --after` starts from to list\n"
                    "them once the old primary's queue is back (docs/disaster-recovery.md).\n"
                    "\n"
                    "  --drain S                 at most this long applying what is left, 0-3600 (default 30)\n"},
};

static const char COMMON[] =
    "\n"
    "Every subcommand takes:\n"
    "  --server URL              mcdc serve's API (default " DEFAULT_SERVER ")\n"
    "  --token TOKEN             its api_token (default: $" TOKEN_ENV "; prefer that: a flag is seen in\n"
    "                            the process list)\n"
    "  --cacert FILE             the CA of the API's certificate, for https:// (default: the system's)\n"
    "  --timeout S               seconds to wait for the reply (default 120; for create at least its\n"
    "                            --connect-timeout + 30)\n"
    "  --json                    print the reply's data as JSON instead of a table\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit codes: 0 done; 1 the server refused or failed the request (its message on stderr), or did\n"
    "not answer in time; 2 bad flags, or the server cannot be reached (its address on stderr).\n";

/* Option ids; which subcommands take each is in ALLOWED. */
enum opt {
    O_SERVER = 256,
    O_TOKEN,
    O_CACERT,
    O_TIMEOUT,
    O_JSON,
    O_TARGET,
    O_TARGET_TLS,
    O_TARGET_USER,
    O_TARGET_PASSWORD_ENV,
    O_TARGET_PASSWORD_FILE,
    O_TARGET_TOKEN_ENV,
    O_TARGET_TOKEN_FILE,
    O_TARGET_TOKEN,
    O_CONNECT_TIMEOUT,
    O_IGNORE_PARTITION,
    O_COLLECTION,
    O_DB,
    O_SNAPSHOT,
    O_USE_START_POSITION,
    O_TASK_ID,
    O_PAUSED,
    O_ENABLE_USER_ROLE,
    O_SPEC,
    O_IGNORE_NOT_FOUND,
    O_OPERATION,
    O_CHANNEL,
    O_POSITION,
    O_WAIT,
    O_QUIET,
    O_WRITES_TIMEOUT,
    O_REVERSE_SERVER,
    O_REVERSE_TARGET,
    O_DRAIN,
    O_END
};

static const struct option LONG[] = {
    {"server", required_argument, 0, O_SERVER},
    {"token", required_argument, 0, O_TOKEN},
    {"cacert", required_argument, 0, O_CACERT},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"json", no_argument, 0, O_JSON},
    {"help", no_argument, 0, 'h'},
    {"target", required_argument, 0, O_TARGET},
    {"target-tls", no_argument, 0, O_TARGET_TLS},
    {"target-user", required_argument, 0, O_TARGET_USER},
    {"target-password-env", required_argument, 0, O_TARGET_PASSWORD_ENV},
    {"target-password-file", required_argument, 0, O_TARGET_PASSWORD_FILE},
    {"target-token-env", required_argument, 0, O_TARGET_TOKEN_ENV},
    {"target-token-file", required_argument, 0, O_TARGET_TOKEN_FILE},
    {"target-token", required_argument, 0, O_TARGET_TOKEN},
    {"connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT},
    {"ignore-partition", no_argument, 0, O_IGNORE_PARTITION},
    {"collection", required_argument, 0, O_COLLECTION},
    {"db", required_argument, 0, O_DB},
    {"snapshot", no_argument, 0, O_SNAPSHOT},
    {"use-start-position", no_argument, 0, O_USE_START_POSITION},
    {"task-id", required_argument, 0, O_TASK_ID},
    {"paused", no_argument, 0, O_PAUSED},
    {"enable-user-role", no_argument, 0, O_ENABLE_USER_ROLE},
    {"spec", required_argument, 0, O_SPEC},
    {"ignore-not-found", no_argument, 0, O_IGNORE_NOT_FOUND},
    {"operation", required_argument, 0, O_OPERATION},
    {"channel", required_argument, 0, O_CHANNEL},
    {"position", required_argument, 0, O_POSITION},
    {"wait", no_argument, 0, O_WAIT},
    {"quiet", required_argument, 0, O_QUIET},
    {"writes-timeout", required_argument, 0, O_WRITES_TIMEOUT},
    {"reverse-server", required_argument, 0, O_REVERSE_SERVER},
    {"reverse-target", required_argument, 0, O_REVERSE_TARGET},
    {"drain", required_argument, 0, O_DRAIN},
    {0, 0, 0, 0},
};

#define ONLY(s) (1u << (s))
#define EVERY 0xffffu

static unsigned allowed(int opt) {
    if (opt < O_TARGET) return EVERY; /* the common ones and -h */
    if (opt <= O_SPEC)
        return opt == O_COLLECTION || opt == O_DB ? ONLY(S_CREATE) | ONLY(S_RESYNC) | ONLY(S_VERIFY) : ONLY(S_CREATE);
    if (opt == O_IGNORE_NOT_FOUND) return ONLY(S_DELETE);
    if (opt == O_WAIT) return ONLY(S_VERIFY);
    if (opt >= O_QUIET && opt <= O_REVERSE_TARGET) return ONLY(S_SWITCHOVER);
    if (opt == O_DRAIN) return ONLY(S_FAILOVER);
    return ONLY(S_MAINTENANCE);
}

static const char *long_name(int opt) {
    for (const struct option *o = LONG; o->name; o++)
        if (o->val == opt) return o->name;
    return "?";
}

/* What the create flags said, before it becomes request_data. */
typedef struct create_flags {
    const char *spec, *target, *user, *password_env, *password_file, *token_env, *token_file, *token, *task_id;
    const char *db;
    const char **collections;
    size_t n_collections;
    long connect_timeout; /* -1 = not given */
    bool tls, ignore_partition, snapshot, use_start_position, paused, user_role;
    const char *operation, *channel, *position;
    bool ignore_not_found;
    long quiet, writes_timeout, drain; /* -1 = not given */
} create_flags;

static void usage_all(FILE *f) {
    fputs("usage: mcdc task SUBCOMMAND [ARGS] [options]\n"
          "\n"
          "Drives the tasks of a running `mcdc serve` through its task API (POST /cdc, docs/api.md).\n"
          "\n"
          "subcommands:\n",
          f);
    for (int i = 0; i < N_SUBS; i++) fprintf(f, "  %-12s %s\n", SUBS[i].name, SUBS[i].summary);
    fputs("\n`mcdc task SUBCOMMAND --help` lists its options.\n", f);
    fputs(COMMON, f);
}

static void usage_sub(int s, FILE *f) {
    fprintf(f, "mcdc task %s: %s.\n\n%s", SUBS[s].name, SUBS[s].summary, SUBS[s].usage);
    fputs(COMMON, f);
}

static int number(const char *sub, const char *flag, const char *v, long lo, long hi, long *out, FILE *msgs) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || errno || n < lo || n > hi) {
        fprintf(msgs, "mcdc task %s: --%s wants a whole number of seconds from %ld to %ld, not '%s'\n", sub, flag, lo,
                hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* The object at key of o, made when absent; NULL when o holds something
 * else there. */
static json_t *object_at(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!v) json_object_set_new(o, key, v = json_object());
    return json_is_object(v) ? v : NULL;
}

/* Sets one form of a secret (password or token) and drops the others the
 * --spec file may have given, so that the flag replaces the field whatever
 * its form in the file. */
static void set_secret(json_t *mcp, const char *field, const char *form, const char *value) {
    char key[32];
    const char *forms[] = {"", "_file", "_env"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s%s", field, forms[i]);
        json_object_del(mcp, key);
    }
    snprintf(key, sizeof key, "%s%s", field, form);
    json_object_set_new(mcp, key, json_string(value));
}

static json_t *read_spec(const char *path, FILE *msgs) {
    json_error_t je;
    json_t *doc = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &je)
                                         : json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    /* Line and column only: jansson's own text quotes the file near the
     * error, and a spec may hold the target's password. */
    if (!doc && json_error_code(&je) == json_error_cannot_open_file)
        fprintf(msgs, "mcdc task create: --spec %s: cannot open it: %s\n", path, strerror(errno));
    else if (!doc)
        fprintf(msgs, "mcdc task create: --spec %s: malformed JSON at line %d, column %d\n", path, je.line, je.column);
    else if (!json_is_object(doc)) {
        fprintf(msgs, "mcdc task create: --spec %s: want a JSON object, the create request's request_data\n", path);
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

static json_t *create_data(const create_flags *f, FILE *msgs) {
    if (!f->spec && !f->target) {
        fprintf(msgs, "mcdc task create: --target URI is required (or --spec FILE; see mcdc task create --help)\n");
        return NULL;
    }
    if (!f->spec && !f->n_collections && !f->db) {
        fprintf(msgs, "mcdc task create: --collection NAME or --db NAME is required (or --spec FILE)\n");
        return NULL;
    }
    if ((f->snapshot || f->use_start_position) && !f->n_collections && !f->db) {
        fprintf(msgs, "mcdc task create: --%s applies to the collections of --collection or --db; give one "
                      "(or set it in the --spec file)\n",
                f->snapshot ? "snapshot" : "use-start-position");
        return NULL;
    }
    json_t *d = f->spec ? read_spec(f->spec, msgs) : json_object();
    if (!d) return NULL;
    json_t *mcp = NULL;
    if (f->target || f->tls || f->user || f->password_env || f->password_file || f->token_env || f->token_file ||
        f->token || f->connect_timeout >= 0 || f->ignore_partition) {
        if (!(mcp = object_at(d, "milvus_connect_param"))) {
            fprintf(msgs, "mcdc task create: --spec %s: milvus_connect_param: want an object\n", f->spec);
            json_decref(d);
            return NULL;
        }
    }
    if (f->target) json_object_set_new(mcp, "uri", json_string(f->target));
    if (f->tls) json_object_set_new(mcp, "enable_tls", json_true());
    if (f->user) json_object_set_new(mcp, "username", json_string(f->user));
    if (f->password_env) set_secret(mcp, "password", "_env", f->password_env);
    if (f->password_file) set_secret(mcp, "password", "_file", f->password_file);
    if (f->token_env) set_secret(mcp, "token", "_env", f->token_env);
    if (f->token_file) set_secret(mcp, "token", "_file", f->token_file);
    if (f->token) set_secret(mcp, "token", "", f->token);
    if (f->connect_timeout >= 0) json_object_set_new(mcp, "connect_timeout", json_integer(f->connect_timeout));
    if (f->ignore_partition) json_object_set_new(mcp, "ignore_partition", json_true());
    if (f->n_collections || f->db) {
        json_t *list = json_array();
        for (size_t i = 0; i < (f->n_collections ? f->n_collections : 1); i++) {
            json_t *e = json_pack("{s:s}", "name", f->n_collections ? f->collections[i] : "*");
            if (f->snapshot) json_object_set_new(e, "snapshot", json_true());
            if (f->use_start_position) json_object_set_new(e, "use_start_position", json_true());
            json_array_append_new(list, e);
        }
        json_t *dbs;
        if (!f->db) json_object_set_new(d, "collection_infos", list);
        else if ((dbs = object_at(d, "db_collections"))) json_object_set_new(dbs, f->db, list);
        else {
            json_decref(list);
            fprintf(msgs, "mcdc task create: --spec %s: db_collections: want an object\n", f->spec);
            json_decref(d);
            return NULL;
        }
    }
    if (f->task_id) json_object_set_new(d, "task_id", json_string(f->task_id));
    if (f->paused) json_object_set_new(d, "disable_auto_start", json_true());
    if (f->user_role) {
        json_t *extra = object_at(d, "extra_info");
        if (!extra) {
            fprintf(msgs, "mcdc task create: --spec %s: extra_info: want an object\n", f->spec);
            json_decref(d);
            return NULL;
        }
        json_object_set_new(extra, "enable_user_role", json_true());
    }
    return d;
}

/* request_data of the subcommands that name a task. */
static json_t *task_data(int s, const task_cli *t, const create_flags *f, FILE *msgs) {
    switch (s) {
    case S_DELETE: {
        json_t *d = json_pack("{s:s}", "task_id", t->task_id);
        if (f->ignore_not_found) json_object_set_new(d, "ignore_not_found", json_true());
        return d;
    }
    case S_RESYNC:
        if (f->n_collections != 1) {
            fprintf(msgs, "mcdc task resync: %s\n",
                    f->n_collections ? "give --collection once: a resync copies one collection"
                                     : "--collection NAME is required");
            return NULL;
        }
        return json_pack("{s:s, s:s, s:s}", "task_id", t->task_id, "collection_name", f->collections[0], "db_name",
                         f->db ? f->db : "default");
    case S_VERIFY:
        if (f->n_collections > 1) {
            fprintf(msgs, "mcdc task verify: give --collection once, or not at all for every covered collection\n");
            return NULL;
        }
        if (f->db && !f->n_collections) {
            fprintf(msgs, "mcdc task verify: --db goes with --collection\n");
            return NULL;
        }
        if (!f->n_collections) return json_pack("{s:s}", "task_id", t->task_id);
        return json_pack("{s:s, s:s, s:s}", "task_id", t->task_id, "collection_name", f->collections[0], "db_name",
                         f->db ? f->db : "default");
    case S_MAINTENANCE:
        if (!f->operation) {
            fprintf(msgs, "mcdc task maintenance: --operation is required (skip_message)\n");
            return NULL;
        }
        if (strcmp(f->operation, "skip_message") == 0 && (!f->channel || !f->position)) {
            fprintf(msgs, "mcdc task maintenance: skip_message wants --channel and --position (get's paused_at)\n");
            return NULL;
        }
        {
            json_t *params = json_pack("{s:s}", "task_id", t->task_id);
            if (f->channel) json_object_set_new(params, "channel", json_string(f->channel));
            if (f->position) json_object_set_new(params, "position", json_string(f->position));
            return json_pack("{s:s, s:o}", "operation", f->operation, "params", params);
        }
    case S_SWITCHOVER: {
        if (!t->reverse_server != !t->reverse_target) {
            fprintf(msgs, "mcdc task switchover: --reverse-server and --reverse-target go together\n");
            return NULL;
        }
        json_t *d = json_pack("{s:s}", "task_id", t->task_id);
        if (f->quiet >= 0) json_object_set_new(d, "quiet_s", json_integer(f->quiet));
        if (f->writes_timeout >= 0) json_object_set_new(d, "timeout_s", json_integer(f->writes_timeout));
        return d;
    }
    case S_FAILOVER: {
        json_t *d = json_pack("{s:s}", "task_id", t->task_id);
        if (f->drain >= 0) json_object_set_new(d, "drain_s", json_integer(f->drain));
        return d;
    }
    default: return json_pack("{s:s}", "task_id", t->task_id);
    }
}

void task_cli_free(task_cli *t) {
    json_decref(t->request_data);
    mcdc_secret_free(t->token);
    memset(t, 0, sizeof *t);
}

int task_cli_parse(int argc, char **argv, task_cli *t, FILE *out, FILE *msgs) {
    memset(t, 0, sizeof *t);
    t->client.server = DEFAULT_SERVER;
    if (argc < 2) {
        usage_all(msgs);
        return -1;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage_all(out);
        return 1;
    }
    int s = 0;
    while (s < N_SUBS && strcmp(SUBS[s].name, name) != 0) s++;
    if (s == N_SUBS) {
        if (name[0] == '-')
            fprintf(msgs, "mcdc task: the subcommand comes first, then '%s' (see mcdc task --help)\n", name);
        else
            fprintf(msgs, "mcdc task: unknown subcommand '%s' (see mcdc task --help)\n", name);
        return -1;
    }
    t->sub = SUBS[s].name;
    t->request_type = SUBS[s].request_type;

    create_flags f = {.connect_timeout = -1, .quiet = -1, .writes_timeout = -1, .drain = -1};
    const char **collections = NULL;
    int rc = -1;
    long timeout_s = 0;
    const char *token = NULL;
    optind = 0; /* glibc: start over, the tests parse many command lines in one process */
    opterr = 0;
    int ch;
    /* argv + 1: getopt skips its argv[0], which is then the subcommand. */
    while ((ch = getopt_long(argc - 1, argv + 1, ":h", LONG, NULL)) != -1) {
        if (ch == ':') {
            fprintf(msgs, "mcdc task %s: %s needs a value\n", t->sub, argv[optind]);
            goto out;
        }
        if (ch == '?') {
            if (optopt >= O_SERVER) {
                fprintf(msgs, "mcdc task %s: --%s takes no value\n", t->sub, long_name(optopt));
                goto out;
            }
            if (optopt) fprintf(msgs, "mcdc task %s: unknown option '-%c'", t->sub, optopt);
            else fprintf(msgs, "mcdc task %s: unknown option '%s'", t->sub, argv[optind]);
            fprintf(msgs, " (see mcdc task %s --help)\n", t->sub);
            goto out;
        }
        if (!(allowed(ch) & ONLY(s))) {
            fprintf(msgs, "mcdc task %s: --%s is not an option of %s (see mcdc task %s --help)\n", t->sub,
                    long_name(ch), t->sub, t->sub);
            goto out;
        }
        switch (ch) {
        case 'h': usage_sub(s, out); rc = 1; goto out;
        case O_SERVER: t->client.server = optarg; break;
        case O_TOKEN: token = optarg; break;
        case O_CACERT: t->client.cacert = optarg; break;
        case O_TIMEOUT:
            if (number(t->sub, "timeout", optarg, 1, 86400, &timeout_s, msgs)) goto out;
            break;
        case O_JSON: t->json = true; break;
        case O_TARGET: f.target = optarg; break;
        case O_TARGET_TLS: f.tls = true; break;
        case O_TARGET_USER: f.user = optarg; break;
        case O_TARGET_PASSWORD_ENV: f.password_env = optarg; break;
        case O_TARGET_PASSWORD_FILE: f.password_file = optarg; break;
        case O_TARGET_TOKEN_ENV: f.token_env = optarg; break;
        case O_TARGET_TOKEN_FILE: f.token_file = optarg; break;
        case O_TARGET_TOKEN: f.token = optarg; break;
        case O_CONNECT_TIMEOUT:
            if (number(t->sub, "connect-timeout", optarg, 0, 3600, &f.connect_timeout, msgs)) goto out;
            break;
        case O_IGNORE_PARTITION: f.ignore_partition = true; break;
        case O_COLLECTION:
            if (!optarg[0]) {
                fprintf(msgs, "mcdc task %s: --collection wants a name (or \"*\"), not ''\n", t->sub);
                goto out;
            }
            collections = mcdc_xrealloc(collections, (f.n_collections + 1) * sizeof *collections);
            collections[f.n_collections++] = optarg;
            f.collections = collections;
            break;
        case O_DB:
            if (f.db) {
                fprintf(msgs, "mcdc task %s: --db is given twice; one database per command (--spec for several)\n",
                        t->sub);
                goto out;
            }
            if (!optarg[0]) {
                fprintf(msgs, "mcdc task %s: --db wants a name, not ''\n", t->sub);
                goto out;
            }
            f.db = optarg;
            break;
        case O_SNAPSHOT: f.snapshot = true; break;
        case O_USE_START_POSITION: f.use_start_position = true; break;
        case O_TASK_ID: f.task_id = optarg; break;
        case O_PAUSED: f.paused = true; break;
        case O_ENABLE_USER_ROLE: f.user_role = true; break;
        case O_SPEC: f.spec = optarg; break;
        case O_IGNORE_NOT_FOUND: f.ignore_not_found = true; break;
        case O_OPERATION: f.operation = optarg; break;
        case O_CHANNEL: f.channel = optarg; break;
        case O_POSITION: f.position = optarg; break;
        case O_WAIT: t->wait = true; break;
        case O_QUIET:
            if (number(t->sub, "quiet", optarg, 1, 3600, &f.quiet, msgs)) goto out;
            break;
        case O_WRITES_TIMEOUT:
            if (number(t->sub, "writes-timeout", optarg, 1, 86400, &f.writes_timeout, msgs)) goto out;
            break;
        case O_DRAIN:
            if (number(t->sub, "drain", optarg, 0, 3600, &f.drain, msgs)) goto out;
            break;
        case O_REVERSE_SERVER: t->reverse_server = optarg; break;
        case O_REVERSE_TARGET: t->reverse_target = optarg; break;
        }
    }
    /* optind counts in argv + 1. */
    int first = optind + 1;
    if (SUBS[s].takes_id) {
        if (first >= argc || !argv[first][0]) {
            fprintf(msgs, "mcdc task %s: TASK_ID is missing: mcdc task %s TASK_ID (mcdc task list shows them)\n",
                    t->sub, t->sub);
            goto out;
        }
        t->task_id = argv[first++];
    }
    if (first < argc) {
        fprintf(msgs, "mcdc task %s: unexpected argument '%s' (see mcdc task %s --help)\n", t->sub, argv[first],
                t->sub);
        goto out;
    }
    if (s == S_CREATE) {
        if (!(t->request_data = create_data(&f, msgs))) goto out;
    } else if (s != S_LIST) {
        if (!(t->request_data = task_data(s, t, &f, msgs))) goto out;
    }
    if (!token) token = getenv(TOKEN_ENV);
    if (token && token[0]) t->token = mcdc_xstrdup(token);
    t->client.token = t->token;
    if (!timeout_s && s == S_CREATE) {
        /* A create waits for the target for up to its connect_timeout: the
         * default wait for the reply is not to end before the server's. */
        json_int_t ct = json_integer_value(
            json_object_get(json_object_get(t->request_data, "milvus_connect_param"), "connect_timeout"));
        if (ct + 30 > DEFAULT_TIMEOUT_S) timeout_s = (long)ct + 30;
    }
    t->client.timeout_ms = (timeout_s ? timeout_s : DEFAULT_TIMEOUT_S) * 1000;
    rc = 0;
out:
    free(collections);
    return rc;
}

/* `verify --wait`: polls get until the task's verify ended, prints what
 * it found (get's "verify", as --json or a summary) and exits as `mcdc
 * verify` does. A line on msgs every 5 s says how far it is. */
static int wait_verify(api_client *c, const task_cli *t, FILE *out, FILE *msgs) {
    json_t *req = json_pack("{s:s}", "task_id", t->task_id);
    int rc = CLI_EXIT_USAGE;
    for (unsigned polls = 0;; polls++) {
        mcdc_err err = {0};
        json_t *data = api_client_call(c, "get", req, NULL, &err);
        if (!data) {
            fprintf(msgs, "mcdc task verify: %s\n", err.msg);
            break;
        }
        const json_t *v = json_object_get(json_object_get(data, "task"), "verify");
        const char *result = json_string_value(json_object_get(v, "result"));
        if (!result) {
            fprintf(msgs, "mcdc task verify: the task shows no verify (was it deleted or restarted?)\n");
            json_decref(data);
            break;
        }
        if (strcmp(result, "running") != 0) {
            task_render_verify(v, t->json, out);
            rc = strcmp(result, "equal") == 0 ? CLI_EXIT_OK : strcmp(result, "different") == 0 ? CLI_EXIT_FAIL
                                                                                                 : CLI_EXIT_USAGE;
            json_decref(data);
            break;
        }
        if (polls % 10 == 9) {
            uint64_t done = 0, total = 0;
            size_t i;
            const json_t *cj;
            json_array_foreach(json_object_get(v, "collections"), i, cj) {
                done += (uint64_t)json_integer_value(json_object_get(cj, "rows_compared"));
                total += (uint64_t)json_integer_value(json_object_get(cj, "rows_total"));
            }
            fprintf(msgs, "verify of task %s: %llu of %llu rows compared\n", t->task_id, (unsigned long long)done,
                    (unsigned long long)total);
        }
        json_decref(data);
        mcdc_sleep_ms(500);
    }
    json_decref(req);
    return rc;
}

/* Creates the reverse task of a switched-over one on --reverse-server, or
 * prints its request when none was given. */
static int reverse_task(const task_cli *t, const json_t *task, FILE *out, FILE *msgs) {
    json_t *spec = task_reverse_spec(task, t->reverse_target ? t->reverse_target : "OLD_PRIMARY_URI", msgs);
    if (!spec) return CLI_EXIT_FAIL;
    int rc = CLI_EXIT_OK;
    if (!t->reverse_server) {
        char *text = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
        fprintf(out, "reverse task (create it on an mcdc whose source is the new primary, before writes go there;\n"
                     "replace OLD_PRIMARY_URI): mcdc task create --spec FILE with:\n%s\n", text ? text : "null");
        free(text);
    } else {
        api_client_config rc_cfg = t->client;
        rc_cfg.server = t->reverse_server;
        mcdc_err err = {0};
        api_client *c = api_client_open(&rc_cfg, &err);
        json_t *data = c ? api_client_call(c, "create", spec, NULL, &err) : NULL;
        if (data) {
            fprintf(out, "reverse task %s created on %s\n", json_string_value(json_object_get(data, "task_id")),
                    t->reverse_server);
        } else {
            fprintf(msgs, "mcdc task switchover: THE SWITCHOVER IS DONE (the forward task is paused, the target is the "
                          "primary), but the reverse task was not created on %s: %s; create it there before writes go "
                          "to the new primary (mcdc task create --spec, docs/disaster-recovery.md)\n",
                    t->reverse_server, err.msg);
            rc = CLI_EXIT_PARTLY;
        }
        json_decref(data);
        api_client_close(c);
    }
    json_decref(spec);
    return rc;
}

/* switchover and failover: polls get until the handover ended and prints
 * it; 0 done, 1 refused. */
static int wait_handover(api_client *c, const task_cli *t, FILE *out, FILE *msgs) {
    json_t *req = json_pack("{s:s}", "task_id", t->task_id);
    int rc = CLI_EXIT_FAIL;
    char shown[64] = "";
    uint64_t failing_since = 0;
    for (;;) {
        mcdc_err err = {0};
        json_t *data = api_client_call(c, "get", req, NULL, &err);
        if (!data) {
            /* The job runs on the server whatever happens to this poll: a
             * server briefly out of reach is asked again for a while. */
            bool transient = err.code == MCDC_EUNAVAIL || err.code == MCDC_ETIMEOUT;
            if (!failing_since) failing_since = mcdc_now_mono_ms();
            if (transient && mcdc_now_mono_ms() - failing_since < 60000) {
                mcdc_sleep_ms(1000);
                continue;
            }
            fprintf(msgs, "mcdc task %s: %s; the outcome is not known: `mcdc task get %s` shows it\n", t->sub,
                    err.msg, t->task_id);
            break;
        }
        failing_since = 0;
        const json_t *task = json_object_get(data, "task");
        const json_t *h = json_object_get(task, "handover");
        const char *phase = json_string_value(json_object_get(h, "phase"));
        if (!phase) {
            fprintf(msgs, "mcdc task %s: the task shows no %s (was it deleted or restarted?)\n", t->sub, t->sub);
            json_decref(data);
            break;
        }
        if (strcmp(phase, "done") == 0 || strcmp(phase, "refused") == 0) {
            task_render_handover(h, t->json, out);
            rc = strcmp(phase, "done") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
            if (rc == CLI_EXIT_OK && strcmp(t->sub, "switchover") == 0) rc = reverse_task(t, task, out, msgs);
            json_decref(data);
            break;
        }
        if (strcmp(phase, shown) != 0 && !t->json) {
            fprintf(msgs, "%s of task %s: %s\n", t->sub, t->task_id, phase);
            snprintf(shown, sizeof shown, "%s", phase);
        }
        json_decref(data);
        mcdc_sleep_ms(500);
    }
    json_decref(req);
    return rc;
}

int task_cli_run(int argc, char **argv, FILE *out, FILE *msgs) {
    task_cli t;
    int rc = task_cli_parse(argc, argv, &t, out, msgs);
    if (rc) {
        task_cli_free(&t);
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    mcdc_err err = {0};
    api_client *c = api_client_open(&t.client, &err);
    if (!c) {
        fprintf(msgs, "mcdc task %s: --server %s\n", t.sub, err.msg);
        task_cli_free(&t);
        return CLI_EXIT_USAGE;
    }
    json_t *data = api_client_call(c, t.request_type, t.request_data, NULL, &err);
    bool handover = strcmp(t.sub, "switchover") == 0 || strcmp(t.sub, "failover") == 0;
    if (data && t.wait) {
        json_decref(data);
        rc = wait_verify(c, &t, out, msgs);
    } else if (data && handover) {
        json_decref(data);
        rc = wait_handover(c, &t, out, msgs);
    } else if (data) {
        task_cli_print(&t, data, out);
        json_decref(data);
        rc = CLI_EXIT_OK;
    } else {
        fprintf(msgs, "mcdc task %s: %s\n", t.sub, err.msg);
        /* Not reached: nothing was done, as with a bad flag. Anything else
         * came from a server that had the request. */
        rc = err.code == MCDC_EUNAVAIL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
        /* For verify, 1 means "different": a refused request (a verify
         * running, an unknown task, a paused one) could not compare. */
        if (strcmp(t.request_type, "verify") == 0) rc = CLI_EXIT_USAGE;
    }
    api_client_close(c);
    task_cli_free(&t);
    return rc;
}

int cmd_task(int argc, char **argv) { return task_cli_run(argc, argv, stdout, stderr); }

/* `mcdc switchover ...` and `mcdc failover ...` are `mcdc task switchover
 * ...` and `mcdc task failover ...`: argv[0] is the subcommand already. */
static int as_task_sub(int argc, char **argv) {
    char **v = mcdc_xcalloc((size_t)argc + 2, sizeof *v);
    v[0] = (char *)"task";
    for (int i = 0; i < argc; i++) v[i + 1] = argv[i];
    int rc = task_cli_run(argc + 1, v, stdout, stderr);
    free(v);
    return rc;
}

int cmd_switchover(int argc, char **argv) { return as_task_sub(argc, argv); }
int cmd_failover(int argc, char **argv) { return as_task_sub(argc, argv); }
