/* imports.h — the source's bulk insert (Import) tasks, read from etcd.
 *
 * Rows a bulk insert writes reach the collection as segments the datanode
 * builds from files; in Milvus 2.3 they never pass through the WAL, so no
 * channel worker sees them. RootCoord keeps one record per import task in
 * etcd, at <root>/meta/importtask/{task id} (an ImportTaskInfo protobuf; the
 * Milvus functions that write it are named in src/proto/import_task.proto).
 * imports_read takes one Range over that prefix: one consistent cut at one
 * etcd revision. RootCoord deletes a record ImportTaskRetention after its
 * creation (24 h by default), so the list holds recent imports only.
 *
 * A record whose key or value does not decode is counted in n_skipped and
 * never guessed at, as RootCoord itself skips one it cannot unmarshal. */
#ifndef MCDC_IMPORTS_H
#define MCDC_IMPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "etcd/etcd.h"

/* commonpb.ImportState. */
typedef enum import_state {
    IMPORT_PENDING = 0,
    IMPORT_FAILED = 1,
    IMPORT_STARTED = 2,
    IMPORT_PERSISTED = 5,   /* rows written and saved as segments */
    IMPORT_COMPLETED = 6,   /* ...and flushed: the rows are the collection's */
    IMPORT_FAILED_AND_CLEANED = 7,
} import_state;

/* Milvus's name of the state ("ImportCompleted"), "ImportUnknown" for a
 * number it does not define. A static string. */
const char *import_state_name(int state);

/* Whether an import in this state put rows into its collection that stay
 * there: Persisted or Completed. Pending and Started have not yet; a failed
 * import's segments are dropped. */
bool import_state_has_rows(int state);

typedef struct import_task {
    int64_t id;
    int64_t collection_id;
    int64_t partition_id;
    char *collection_name;   /* as RootCoord recorded it at the import ("" if it could not tell) */
    char *partition_name;
    int state;               /* import_state; kept as read, unknown numbers too */
    int64_t rows;            /* rows the import added so far */
    char **files;            /* as given to the import: relative to the source's storage root */
    size_t n_files;
    int64_t *segments;       /* the segments it wrote */
    size_t n_segments;
    int64_t create_unix_s;   /* when RootCoord created the task, Unix seconds */
    char *error_message;     /* "" unless it failed */
} import_task;

typedef struct import_list {
    import_task *items;      /* in key order */
    size_t n;
    size_t n_skipped;        /* records that did not decode */
    int64_t revision;        /* the etcd revision read */
} import_list;

/* Reads every record under <root_path>/meta/importtask/ into *out. Errors are
 * etcd's (transient ones stay transient); a record that does not decode is
 * skipped, not an error. */
int imports_read(etcd_client *c, const char *root_path, import_list *out, mcdc_err *err);

/* One record: rel_key is the key below ".../importtask/" (the task id in
 * decimal), value its bytes. Fills *out (import_task_free it) or returns -1
 * with MCDC_EDECODE in *err, leaving *out empty. The unit tests and the
 * fuzzer feed records through here. */
int import_task_decode(const char *rel_key, const uint8_t *value, size_t len, import_task *out, mcdc_err *err);

void import_task_free(import_task *t);
void import_list_free(import_list *l);

#endif
