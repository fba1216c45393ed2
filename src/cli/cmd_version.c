/* cmd_version.c — `mcdc version`: this build and the libraries it runs on. */
#include <stdio.h>

#include <grpc/grpc.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <protobuf-c/protobuf-c.h>
#include <sqlite3.h>

#include "cli/cli.h"

#ifndef MCDC_VERSION
#define MCDC_VERSION "dev"
#endif

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("mcdc %s (for Milvus 2.3)\n", MCDC_VERSION);
    printf("  grpc %s, librdkafka %s, protobuf-c %s, jansson %s, sqlite %s\n", grpc_version_string(), rd_kafka_version_str(),
           protobuf_c_version(), JANSSON_VERSION, sqlite3_libversion());
    return CLI_EXIT_OK;
}
