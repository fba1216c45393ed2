/* cli.h — the subcommands of `mcdc` and their shared exit codes. */
#ifndef MCDC_CLI_H
#define MCDC_CLI_H

/* 0 = success; 1 = the work failed (e.g. a message did not decode);
 * 2 = the command could not start: bad flags, bad config, unreachable server. */
/* 3: `mcdc switchover` handed over (the forward task is paused) but did
 * not create the reverse task: not a failure to retry, a step left to do. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_PARTLY = 3 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

int cmd_version(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_task(int argc, char **argv);
int cmd_switchover(int argc, char **argv); /* = mcdc task switchover */
int cmd_failover(int argc, char **argv);   /* = mcdc task failover */

#endif
