/* task_cli.h — `mcdc task`, split where tests need to reach in: the
 * command line read into one request (task_cli_parse), the request sent
 * (task_cli_run), and a reply turned into tables (task_render_*). No piece
 * but task_cli_run talks to a server. */
#ifndef MCDC_TASK_CLI_H
#define MCDC_TASK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/api_client.h"

/* What one command line asks for. */
typedef struct task_cli {
    const char *sub;          /* the subcommand: "create", "list", ... */
    const char *request_type; /* its request_type: "create", "list", ..., "position" */
    json_t *request_data;     /* owned; NULL = sent without request_data */
    const char *task_id;      /* the TASK_ID argument, when the subcommand takes one */
    api_client_config client; /* server, token (client.token points at `token`), cacert, timeouts */
    char *token;              /* owned, wiped: --token or $MCDC_API_TOKEN */
    bool json;                /* --json: print the reply's data as it came */
    bool wait;                /* verify --wait: poll get until the verify ended */
    const char *reverse_server, *reverse_target; /* switchover: where to create the reverse task */
} task_cli;

/* Reads `mcdc task SUB ...` (argv[0] is "task"). 0: *t holds the request;
 * 1: help was asked for and printed to out (exit 0); -1: a bad command line,
 * said on msgs naming the flag or argument (exit 2). *t is to be freed with
 * task_cli_free whatever the result. */
int task_cli_parse(int argc, char **argv, task_cli *t, FILE *out, FILE *msgs);
void task_cli_free(task_cli *t);

/* The whole command: parse, send, print. Returns the exit code (cli.h):
 * 0 done; 1 the server refused or failed the request (its message on msgs)
 * or did not answer in time; 2 bad flags, a bad --spec file, or a server
 * that cannot be reached (the address on msgs). */
int task_cli_run(int argc, char **argv, FILE *out, FILE *msgs);

/* The reply's data of a successful request, as the subcommand shows it:
 * pretty JSON with t->json, else a table or a line. */
void task_cli_print(const task_cli *t, const json_t *data, FILE *out);

/* The tables, from a reply's data ({"tasks": [...]}, {"task": {...}},
 * {"positions": [...]}). Strings of the reply are printed with control
 * characters replaced. */
void task_render_list(const json_t *data, FILE *out);
void task_render_get(const json_t *data, FILE *out);
void task_render_positions(const json_t *data, FILE *out);
/* get's "verify" object: as JSON, or per collection its result, counts and
 * first keys of each kind. */
void task_render_verify(const json_t *verify, bool json, FILE *out);
/* get's "handover" object (a switchover's or failover's outcome): as JSON,
 * or a few lines an operator acts on. */
void task_render_handover(const json_t *handover, bool json, FILE *out);

/* The reverse task of a switched-over task (get's "task" object): the
 * same collections, from the new primary to the old one at target_uri;
 * NULL with the reason on msgs when it cannot be made from flags alone
 * (a name mapping). */
json_t *task_reverse_spec(const json_t *task, const char *target_uri, FILE *msgs);

#endif
