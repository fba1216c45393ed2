/* meta_sync_milvus.c — meta_sync's target table (meta_sync.h) over a target
 * connection: each entry is the milvus_client call of the same name. */
#include "pipeline/meta_sync.h"

static int list_aliases(void *ud, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err) {
    return milvus_list_aliases(ud, db, coll, names, n, err);
}

static int create_alias(void *ud, const char *db, const char *coll, const char *alias, mcdc_err *err) {
    return milvus_create_alias(ud, db, coll, alias, err);
}

static int alter_alias(void *ud, const char *db, const char *coll, const char *alias, mcdc_err *err) {
    return milvus_alter_alias(ud, db, coll, alias, err);
}

static int drop_alias(void *ud, const char *db, const char *alias, mcdc_err *err) {
    return milvus_drop_alias(ud, db, alias, err);
}

static int list_partitions(void *ud, const char *db, const char *coll, char ***names, size_t *n, mcdc_err *err) {
    return milvus_list_partitions(ud, db, coll, names, n, err);
}

static int create_partition(void *ud, const char *db, const char *coll, const char *part, mcdc_err *err) {
    return milvus_create_partition(ud, db, coll, part, err);
}

meta_sync_target meta_sync_milvus_target(milvus_client *client) {
    return (meta_sync_target){
        .list_aliases = list_aliases, .create_alias = create_alias, .alter_alias = alter_alias,
        .drop_alias = drop_alias, .list_partitions = list_partitions, .create_partition = create_partition,
        .ud = client,
    };
}
