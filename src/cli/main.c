/* main.c — the `mcdc` command: dispatches to one subcommand per file in src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command COMMANDS[] = {
    {"serve", "run the replication service (task API, tasks) from a YAML config", cmd_serve},
    {"task", "create, list, get, pause, resume, delete tasks of a running `mcdc serve` (its HTTP API)", cmd_task},
    {"dump", "print the changes in the source's write-ahead log as JSON lines", cmd_dump},
    {"verify", "compare collections of the source and the target row by row", cmd_verify},
    {"switchover", "planned hand-over of a task's collections to its target, RPO 0 (mcdc task switchover)",
     cmd_switchover},
    {"failover", "the source is lost: stop a task, report what the target holds (mcdc task failover)", cmd_failover},
    {"version", "print the version", cmd_version},
};

static void usage(FILE *out) {
    fprintf(out,
            "mcdc — change data capture for Milvus: keeps a standby Milvus in step with a primary.\n\n"
            "usage: mcdc <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(out, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\n`mcdc <command> --help` describes each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mcdc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
