/* cmd_dump.c — `mcdc dump`: prints what the source's WAL holds, one JSON
 * object per change. The Milvus counterpart of pg_recvlogical or kcat: an
 * operator's window on the write-ahead log, and the reader that the rest of
 * mcdc is built from (catalog + channel readers + decoder), usable alone. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/idmap.h"
#include "base/log.h"
#include "cli/cli.h"
#include "etcd/etcd.h"
#include "mq/mq.h"
#include "source/catalog.h"
#include "source/change_json.h"
#include "source/channels.h"
#include "source/decode.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static const char USAGE[] =
    "usage: mcdc dump --etcd HOST:PORT (--kafka HOST:PORT | --pulsar pulsar://HOST:PORT) [options]\n"
    "\n"
    "Prints the changes in the source Milvus's write-ahead log, one JSON object per line:\n"
    "kind, channel, position, ts (hybrid) and ts_wall, db, collection, partition, pks, num_rows.\n"
    "\n"
    "  --etcd HOST:PORT        the source Milvus's etcd (comma-separated for several)\n"
    "  --etcd-user USER        etcd user, with --etcd-password PASSWORD\n"
    "  --root PATH             the source's etcd rootPath (default by-dev)\n"
    "  --kafka HOST:PORT       the source's Kafka bootstrap servers\n"
    "  --kafka-security P      PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL\n"
    "  --kafka-sasl-mechanism M, --kafka-sasl-user U, --kafka-sasl-password P, --kafka-ca FILE\n"
    "  --pulsar URL            the source's Pulsar (pulsar://host:port or pulsar+ssl://host:port)\n"
    "  --pulsar-tenant T, --pulsar-namespace N   as in the source's milvus.yaml (public, default)\n"
    "  --pulsar-token JWT, --pulsar-tls-ca FILE\n"
    "  --prefix NAME           channel name prefix (msgChannel.chanNamePrefix.cluster; default = --root)\n"
    "  --dml-channels N        number of DML channels (rootCoord.dmlChannelNum; default 16)\n"
    "  --db DB                 only this database\n"
    "  --collection NAME       only this collection (in --db, or default)\n"
    "  --from WHERE            earliest (default), latest, or a position: POS when one channel\n"
    "                          is read, else CHANNEL=POS[,CHANNEL=POS...] (others from earliest);\n"
    "                          POS is a Kafka offset or a Pulsar ledger:entry:partition:batch\n"
    "  --after CHANNEL=POS[,CHANNEL=POS...]\n"
    "                          start right after these positions (`mcdc task position` of a task:\n"
    "                          what it has not applied); other channels from earliest\n"
    "  --follow                keep reading new changes until interrupted\n"
    "  --rows                  print the rows of inserts (vectors as arrays)\n"
    "  --timeticks             print time ticks too (about 5 per second per channel)\n"
    "  --log-level LEVEL       debug, info, warn (default), error\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit codes: 0 done, 1 a message did not decode (channel, position and reason on stderr),\n"
    "2 bad flags or a server that cannot be reached.\n";

typedef struct dump_opts {
    const char *etcd, *etcd_user, *etcd_password, *root, *kafka, *prefix, *db, *collection, *from;
    const char *after; /* --after: positions to start right after (a task's checkpoints); NULL = --from */
    const char *kafka_security, *kafka_sasl_mechanism, *kafka_sasl_user, *kafka_sasl_password, *kafka_ca;
    const char *pulsar, *pulsar_tenant, *pulsar_namespace, *pulsar_token, *pulsar_ca;
    const char *mq_type;
    int dml_channels;
    int follow, rows, timeticks;
} dump_opts;

typedef struct channel_state {
    mq_reader *reader;
    int at_end;
} channel_state;

/* Which changes to print. Collections are matched by id once known; a
 * CreateCollection in the WAL for a matching name adds its id, so a collection
 * created while --follow runs is followed from its creation. */
typedef struct filter {
    const char *db;           /* NULL = any */
    const char *collection;   /* NULL = any */
    idmap ids;                /* matching collection ids (value = (void*)1) */
} filter;

static bool db_matches(const filter *f, const char *db) {
    if (!f->db) return true;
    if (!db || !db[0]) db = "default";
    return strcmp(f->db, db) == 0;
}

static void add_channel(char ***list, size_t *n, const char *name) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], name) == 0) return;
    *list = mcdc_xrealloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = mcdc_xstrdup(name);
}

static int parse_args(int argc, char **argv, dump_opts *o) {
    static const struct option LONG[] = {
        {"etcd", required_argument, 0, 'e'},         {"etcd-user", required_argument, 0, 'U'},
        {"etcd-password", required_argument, 0, 'P'}, {"root", required_argument, 0, 'r'},
        {"kafka", required_argument, 0, 'k'},        {"kafka-security", required_argument, 0, 1},
        {"kafka-sasl-mechanism", required_argument, 0, 2}, {"kafka-sasl-user", required_argument, 0, 3},
        {"kafka-sasl-password", required_argument, 0, 4}, {"kafka-ca", required_argument, 0, 5},
        {"pulsar", required_argument, 0, 6},         {"pulsar-tenant", required_argument, 0, 7},
        {"pulsar-namespace", required_argument, 0, 8}, {"pulsar-token", required_argument, 0, 9},
        {"pulsar-tls-ca", required_argument, 0, 10},
        {"prefix", required_argument, 0, 'p'},       {"dml-channels", required_argument, 0, 'n'},
        {"db", required_argument, 0, 'd'},           {"collection", required_argument, 0, 'c'},
        {"from", required_argument, 0, 'f'},         {"after", required_argument, 0, 'A'},         {"follow", no_argument, 0, 'F'},
        {"rows", no_argument, 0, 'R'},               {"timeticks", no_argument, 0, 'T'},
        {"log-level", required_argument, 0, 'l'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->root = "by-dev";
    o->from = "earliest";
    o->dml_channels = 16;
    mcdc_log_set_level(MCDC_LOG_WARN);
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", LONG, NULL)) != -1) {
        switch (ch) {
        case 'e': o->etcd = optarg; break;
        case 'U': o->etcd_user = optarg; break;
        case 'P': o->etcd_password = optarg; break;
        case 'r': o->root = optarg; break;
        case 'k': o->kafka = optarg; break;
        case 1: o->kafka_security = optarg; break;
        case 2: o->kafka_sasl_mechanism = optarg; break;
        case 3: o->kafka_sasl_user = optarg; break;
        case 4: o->kafka_sasl_password = optarg; break;
        case 5: o->kafka_ca = optarg; break;
        case 6: o->pulsar = optarg; break;
        case 7: o->pulsar_tenant = optarg; break;
        case 8: o->pulsar_namespace = optarg; break;
        case 9: o->pulsar_token = optarg; break;
        case 10: o->pulsar_ca = optarg; break;
        case 'p': o->prefix = optarg; break;
        case 'n': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024) {
                fprintf(stderr, "mcdc dump: --dml-channels wants a number from 1 to 1024, not '%s'\n", optarg);
                return -1;
            }
            o->dml_channels = (int)v;
            break;
        }
        case 'd': o->db = optarg; break;
        case 'c': o->collection = optarg; break;
        case 'f': o->from = optarg; break;
        case 'A': o->after = optarg; break;
        case 'F': o->follow = 1; break;
        case 'R': o->rows = 1; break;
        case 'T': o->timeticks = 1; break;
        case 'l': {
            mcdc_log_level lvl;
            if (mcdc_log_parse_level(optarg, &lvl)) {
                fprintf(stderr, "mcdc dump: --log-level wants debug, info, warn or error, not '%s'\n", optarg);
                return -1;
            }
            mcdc_log_set_level(lvl);
            break;
        }
        case 'h': fputs(USAGE, stdout); return 1;
        case ':': fprintf(stderr, "mcdc dump: %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "mcdc dump: unknown option '%s' (see mcdc dump --help)\n", argv[optind - 1]); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mcdc dump: unexpected argument '%s' (see mcdc dump --help)\n", argv[optind]);
        return -1;
    }
    if (!o->etcd || !o->kafka == !o->pulsar) {
        fprintf(stderr, "mcdc dump: --etcd and one of --kafka or --pulsar are required (see mcdc dump --help)\n");
        return -1;
    }
    if (o->after && strcmp(o->from, "earliest") != 0) {
        fprintf(stderr, "mcdc dump: --from and --after name the start twice; give one\n");
        return -1;
    }
    o->mq_type = o->pulsar ? "pulsar" : "kafka";
    if (!o->prefix) o->prefix = o->root;
    return 0;
}

/* CHANNEL=POS[,CHANNEL=POS...]: this channel starts at (or after) its POS,
 * a channel not named from earliest. */
static int named_start(const dump_opts *o, const char *flag, const char *spec, mq_start_kind kind,
                       const char *channel, mq_start *st, mcdc_err *err) {
    st->kind = MQ_START_EARLIEST;
    char *copy = mcdc_xstrdup(spec), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            rc = mcdc_errf(err, MCDC_EINVAL, "%s: '%s' is not CHANNEL=POS", flag, tok);
            break;
        }
        *eq = '\0';
        if (strcmp(tok, channel) == 0) {
            /* `mcdc task position` says "earliest" for a channel it has
             * not read yet: everything there. */
            if (strcmp(eq + 1, "earliest") == 0) {
                st->kind = MQ_START_EARLIEST;
                continue;
            }
            st->kind = kind;
            if ((rc = mq_msgid_parse(o->mq_type, eq + 1, &st->at, err))) break;
        }
    }
    free(copy);
    return rc;
}

/* The start of one channel from --from, or --after. */
static int start_for(const dump_opts *o, const char *channel, size_t n_channels, mq_start *st, mcdc_err *err) {
    memset(st, 0, sizeof *st);
    if (o->after) {
        if (!strchr(o->after, '='))
            return mcdc_errf(err, MCDC_EINVAL, "--after %s: want CHANNEL=POS[,CHANNEL=POS...]", o->after);
        return named_start(o, "--after", o->after, MQ_START_AFTER, channel, st, err);
    }
    if (strcmp(o->from, "earliest") == 0) return st->kind = MQ_START_EARLIEST, 0;
    if (strcmp(o->from, "latest") == 0) return st->kind = MQ_START_LATEST, 0;
    if (!strchr(o->from, '=')) {
        if (n_channels != 1)
            return mcdc_errf(err, MCDC_EINVAL, "--from %s: %zu channels are read; name the channel, CHANNEL=OFFSET", o->from,
                             n_channels);
        st->kind = MQ_START_AT;
        return mq_msgid_parse(o->mq_type, o->from, &st->at, err);
    }
    return named_start(o, "--from", o->from, MQ_START_AT, channel, st, err);
}

/* Whether a change passes the filter; learns ids from CreateCollection. */
static bool wanted(filter *f, catalog *cat, const change *c) {
    if (!f->db && !f->collection) return true;
    if (c->collection_id) {
        if (idmap_get(&f->ids, c->collection_id)) return true;
        if (c->kind == CHANGE_CREATE_COLLECTION && f->collection && strcmp(c->collection_name, f->collection) == 0) {
            /* The WAL has the create before etcd does (spec/etcd-meta.md §6):
             * give the catalog a moment to learn the database. */
            catalog_wait_collection(cat, c->collection_id, 2000);
            catalog_coll *cc = catalog_get(cat, c->collection_id);
            bool ok = db_matches(f, cc ? cc->db_name : "default");
            catalog_release(cc);
            if (ok) idmap_put(&f->ids, c->collection_id, (void *)1);
            return ok;
        }
        if (!f->collection) {
            catalog_coll *cc = catalog_get(cat, c->collection_id);
            bool ok = cc && db_matches(f, cc->db_name);
            catalog_release(cc);
            if (ok) idmap_put(&f->ids, c->collection_id, (void *)1);
            return ok;
        }
        return false;
    }
    /* Replicate-channel requests name their db and collection. */
    if (!db_matches(f, c->db_name)) return false;
    if (!f->collection) return true;
    if (c->kind == CHANGE_FLUSH) {
        const Milvus__Proto__Milvus__FlushRequest *m = (const void *)c->msg;
        for (size_t i = 0; i < m->n_collection_names; i++)
            if (strcmp(m->collection_names[i], f->collection) == 0) return true;
        return false;
    }
    return c->collection_name[0] && strcmp(c->collection_name, f->collection) == 0;
}

/* Fills names the message lacks from the catalog, and finds the PK field. */
static json_t *render(catalog *cat, idmap *pk_names, const change *c, const dump_opts *o) {
    catalog_coll *cc = c->collection_id ? catalog_get(cat, c->collection_id) : NULL;
    const char *pk = idmap_get(pk_names, c->collection_id);
    if (!pk && cc && cc->pk) pk = cc->pk->name;
    json_t *j = change_to_json(c, pk, o->rows);
    if (cc) {
        if (!json_object_get(j, "db")) json_object_set_new(j, "db", json_string(cc->db_name));
        if (!json_object_get(j, "collection") && cc->name[0]) json_object_set_new(j, "collection", json_string(cc->name));
        if (!json_object_get(j, "partition") && c->partition_id > 0) {
            const catalog_partition *p = catalog_partition_by_id(cc, c->partition_id);
            if (p) json_object_set_new(j, "partition", json_string(p->name));
        }
    }
    catalog_release(cc);
    return j;
}

int cmd_dump(int argc, char **argv) {
    dump_opts o;
    int pr = parse_args(argc, argv, &o);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;

    int rc = CLI_EXIT_USAGE;
    mcdc_err err;
    etcd_client *etcd = NULL;
    catalog *cat = NULL;
    char **channels = NULL;
    size_t n_channels = 0;
    channel_state *st = NULL;
    filter f = {o.db, o.collection, IDMAP_INIT};
    idmap pk_names = IDMAP_INIT;
    /* The flags as the driver's settings (the keys of source.mq.<type>). */
    const mq_kv flags[] = {
        {"address", o.pulsar ? o.pulsar : o.kafka},
        {"security_protocol", o.kafka_security},       {"sasl_mechanism", o.kafka_sasl_mechanism},
        {"sasl_username", o.kafka_sasl_user},         {"sasl_password", o.kafka_sasl_password},
        {"ssl_ca_location", o.kafka_ca},              {"tenant", o.pulsar_tenant},
        {"namespace", o.pulsar_namespace},            {"token", o.pulsar_token},
        {"tls_ca", o.pulsar_ca},
    };
    mq_kv settings[sizeof flags / sizeof flags[0]];
    size_t n_settings = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].value) settings[n_settings++] = flags[i];
    mq_config mq = {.type = o.mq_type, .settings = settings, .n_settings = n_settings};

    rpc_init();
    etcd_config ec = {.endpoints = o.etcd, .username = o.etcd_user, .password = o.etcd_password, .timeout_ms = 5000};
    if (!(etcd = etcd_open(&ec, &err)) || !(cat = catalog_open(etcd, o.root, &err))) {
        fprintf(stderr, "mcdc dump: %s\n", err.msg);
        goto out;
    }
    if (mq_probe(&mq, 5000, &err)) {
        fprintf(stderr, "mcdc dump: %s\n", err.msg);
        goto out;
    }
    if (o.db && !catalog_has_db(cat, o.db)) {
        fprintf(stderr, "mcdc dump: database '%s' does not exist on the source\n", o.db);
        goto out;
    }

    /* Channels: a named collection reads its own shards; otherwise every DML
     * channel (dropped collections' changes are still in them). The
     * replicate channel carries index, load, flush and database changes. */
    if (o.collection) {
        catalog_coll *cc = catalog_find(cat, o.db, o.collection);
        if (!cc) {
            fprintf(stderr, "mcdc dump: collection '%s' does not exist in database '%s'\n", o.collection,
                    o.db ? o.db : "default");
            goto out;
        }
        idmap_put(&f.ids, cc->id, (void *)1);
        for (size_t i = 0; i < cc->n_channels; i++) add_channel(&channels, &n_channels, cc->pchannels[i]);
        catalog_release(cc);
    } else {
        for (int i = 0; i < o.dml_channels; i++) {
            char *name = channel_dml_name(o.prefix, i);
            add_channel(&channels, &n_channels, name);
            free(name);
        }
        catalog_coll **list;
        size_t n = catalog_list(cat, o.db, &list);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < list[i]->n_channels; k++) add_channel(&channels, &n_channels, list[i]->pchannels[k]);
        catalog_release_list(list, n);
    }
    char *replicate = channel_replicate_name(o.prefix);
    add_channel(&channels, &n_channels, replicate);
    free(replicate);

    /* A channel named in --from or --after that is not read here (a typo,
     * or one without the collections asked for) is said, not passed over
     * in silence. */
    const char *named = o.after ? o.after : o.from;
    if (strchr(named, '=')) {
        char *copy = mcdc_xstrdup(named), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            if (eq) *eq = '\0';
            bool read_here = false;
            for (size_t i = 0; i < n_channels && !read_here; i++) read_here = strcmp(channels[i], tok) == 0;
            if (!read_here) fprintf(stderr, "mcdc dump: %s names channel %s, which is not read here; ignored\n",
                                    o.after ? "--after" : "--from", tok);
        }
        free(copy);
    }
    st = mcdc_xcalloc(n_channels, sizeof *st);
    for (size_t i = 0; i < n_channels; i++) {
        mq_start start;
        if (start_for(&o, channels[i], n_channels, &start, &err) ||
            !(st[i].reader = mq_open(&mq, channels[i], &start, &err))) {
            fprintf(stderr, "mcdc dump: %s\n", err.msg);
            goto out;
        }
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    rc = CLI_EXIT_OK;
    while (!g_stop) {
        size_t ended = 0;
        bool any = false;
        for (size_t i = 0; i < n_channels && !g_stop; i++) {
            /* Up to a batch per channel per round: fair, and in order within each channel. */
            for (int k = 0; k < 256; k++) {
                mq_message m;
                mq_result r = mq_next(st[i].reader, &m, 0, &err);
                if (r == MQ_ERROR) {
                    fprintf(stderr, "mcdc dump: channel %s: %s\n", channels[i], err.msg);
                    rc = CLI_EXIT_FAIL;
                    goto out;
                }
                if (r == MQ_END) st[i].at_end = 1;
                if (r != MQ_MESSAGE) break;
                st[i].at_end = 0;
                any = true;
                char pos[64];
                mq_msgid_format(o.mq_type, &m.id, pos, sizeof pos);
                int32_t type;
                uint64_t ts;
                if (!o.timeticks && decode_header(m.payload, m.len, &type, &ts, NULL) == 0 && type == 1200) continue;
                change c;
                if (decode_change(m.payload, m.len, &c, &err)) {
                    fprintf(stderr, "mcdc dump: channel %s position %s: %s\n", channels[i], pos, err.msg);
                    rc = CLI_EXIT_FAIL;
                    goto out;
                }
                if (c.kind == CHANGE_CREATE_COLLECTION) {
                    for (size_t fi = 0; fi < c.schema->n_fields; fi++)
                        if (c.schema->fields[fi]->is_primary_key && !idmap_get(&pk_names, c.collection_id))
                            idmap_put(&pk_names, c.collection_id, mcdc_xstrdup(c.schema->fields[fi]->name));
                }
                if (wanted(&f, cat, &c)) {
                    json_t *j = render(cat, &pk_names, &c, &o);
                    json_object_set_new(j, "channel", json_string(channels[i]));
                    json_object_set_new(j, "position", json_string(pos));
                    char *s = json_dumps(j, JSON_COMPACT);
                    if (puts(s) == EOF) g_stop = 1;
                    free(s);
                    json_decref(j);
                }
                change_free(&c);
            }
            if (st[i].at_end) ended++;
        }
        fflush(stdout);
        if (!o.follow && ended == n_channels) break;
        if (!any) {
            /* Nothing on any channel: pause briefly instead of spinning. */
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }

out:
    for (size_t i = 0; st && i < n_channels; i++) mq_close(st[i].reader);
    free(st);
    for (size_t i = 0; i < n_channels; i++) free(channels[i]);
    free(channels);
    void *v;
    for (size_t it = 0; idmap_next(&pk_names, &it, NULL, &v);) free(v);
    idmap_free(&pk_names);
    idmap_free(&f.ids);
    catalog_close(cat);
    etcd_close(etcd);
    rpc_shutdown();
    return rc;
}
