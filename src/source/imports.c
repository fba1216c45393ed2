/* imports.c — imports.h: the import task records of Milvus 2.3 decoded
 * through protobuf-c (src/proto/import_task.proto has the layout and the
 * Milvus source it comes from). */
#include "source/imports.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "import_task.pb-c.h"

/* Milvus 2.3.5 keeps the records under <root>/meta/importtask/ (seen on
 * the stack with etcdctl; import_task.proto says why not <root>/kv). */
#define IMPORT_DIR "/meta/importtask/"

const char *import_state_name(int state) {
    switch (state) {
    case IMPORT_PENDING: return "ImportPending";
    case IMPORT_FAILED: return "ImportFailed";
    case IMPORT_STARTED: return "ImportStarted";
    case IMPORT_PERSISTED: return "ImportPersisted";
    case IMPORT_COMPLETED: return "ImportCompleted";
    case IMPORT_FAILED_AND_CLEANED: return "ImportFailedAndCleaned";
    }
    return "ImportUnknown";
}

bool import_state_has_rows(int state) { return state == IMPORT_PERSISTED || state == IMPORT_COMPLETED; }

/* The key's last part is the id BuildImportTaskKey printed: decimal, > 0. */
static bool parse_id(const char *s, int64_t *out) {
    if (!s || *s < '1' || *s > '9') return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

void import_task_free(import_task *t) {
    if (!t) return;
    free(t->collection_name);
    free(t->partition_name);
    free(t->error_message);
    for (size_t i = 0; i < t->n_files; i++) free(t->files[i]);
    free(t->files);
    free(t->segments);
    memset(t, 0, sizeof *t);
}

int import_task_decode(const char *rel_key, const uint8_t *value, size_t len, import_task *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    int64_t key_id;
    if (!parse_id(rel_key, &key_id))
        return mcdc_errf(err, MCDC_EDECODE, "import task key '%.64s' is not a task id", rel_key ? rel_key : "");
    Milvus__Proto__Data__ImportTaskInfo *ti = milvus__proto__data__import_task_info__unpack(NULL, len, value);
    if (!ti) return mcdc_errf(err, MCDC_EDECODE, "import task %" PRId64 ": the value is not an ImportTaskInfo", key_id);
    /* RootCoord writes each record at the key of its own id; another id
     * means the bytes are not what we think they are. */
    if (ti->id != key_id) {
        int64_t v = ti->id;
        milvus__proto__data__import_task_info__free_unpacked(ti, NULL);
        return mcdc_errf(err, MCDC_EDECODE, "import task %" PRId64 ": the value names task %" PRId64, key_id, v);
    }
    out->id = ti->id;
    out->collection_id = ti->collection_id;
    out->partition_id = ti->partition_id;
    out->collection_name = mcdc_xstrdup(ti->collection_name ? ti->collection_name : "");
    out->partition_name = mcdc_xstrdup(ti->partition_name ? ti->partition_name : "");
    out->create_unix_s = ti->create_ts;
    /* A record without a state is one of state 0, as proto3 reads it. */
    const Milvus__Proto__Data__ImportTaskState *st = ti->state;
    out->state = st ? (int)st->state_code : IMPORT_PENDING;
    out->rows = st ? st->row_count : 0;
    out->n_segments = st ? st->n_segments : 0;
    if (out->n_segments) {
        out->segments = mcdc_xcalloc(out->n_segments, sizeof *out->segments);
        memcpy(out->segments, st->segments, out->n_segments * sizeof *out->segments);
    }
    out->error_message = mcdc_xstrdup(st && st->error_message ? st->error_message : "");
    if (ti->n_files) {
        out->files = mcdc_xcalloc(ti->n_files, sizeof *out->files);
        for (size_t i = 0; i < ti->n_files; i++) out->files[i] = mcdc_xstrdup(ti->files[i] ? ti->files[i] : "");
        out->n_files = ti->n_files;
    }
    milvus__proto__data__import_task_info__free_unpacked(ti, NULL);
    return 0;
}

void import_list_free(import_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) import_task_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

typedef struct read_ctx {
    import_list *l;
    size_t prefix_len;
    size_t cap;
} read_ctx;

static int read_fn(void *ud, const etcd_kv *kv) {
    read_ctx *r = ud;
    import_task t;
    mcdc_err e;
    if (import_task_decode(kv->key + r->prefix_len, kv->value, kv->value_len, &t, &e)) {
        r->l->n_skipped++;
        return 0;
    }
    if (r->l->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->l->items = mcdc_xrealloc(r->l->items, r->cap * sizeof *r->l->items);
    }
    r->l->items[r->l->n++] = t;
    return 0;
}

int imports_read(etcd_client *c, const char *root_path, import_list *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    mcdc_buf prefix = MCDC_BUF_INIT;
    mcdc_buf_printf(&prefix, "%s%s", root_path, IMPORT_DIR);
    read_ctx r = {out, prefix.len, 0};
    int rc = etcd_range_prefix(c, mcdc_buf_cstr(&prefix), 0, read_fn, &r, &out->revision, err);
    if (rc) {
        mcdc_err_prefix(err, "reading the source's import tasks under %s", mcdc_buf_cstr(&prefix));
        import_list_free(out);
    }
    mcdc_buf_free(&prefix);
    return rc ? -1 : 0;
}
