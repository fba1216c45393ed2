/* verify_milvus.h — verify.h's sides over a Milvus server's Query API. */
#ifndef MCDC_VERIFY_MILVUS_H
#define MCDC_VERIFY_MILVUS_H

#include "target/milvus_client.h"
#include "verify/verify.h"

/* What verify_milvus_ops.open takes: a server and one of its collections. */
typedef struct verify_milvus_cfg {
    const milvus_config *server;
    const char *db;          /* NULL or "": "default" */
    const char *collection;
} verify_milvus_cfg;

extern const verify_side_ops verify_milvus_ops;

#endif
