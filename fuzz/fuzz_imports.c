/* fuzz_imports.c — libFuzzer harness for the reading of the source's bulk
 * insert (Import) task records (source/imports.c): the key below
 * <root>/kv/importtask/ and the protobuf-c decoding of ImportTaskInfo, then
 * the decoded records through a task's bulk insert list
 * (pipeline/bulk_inserts.c) as one etcd read would bring them.
 *
 * An input is a sequence of records, each:
 *   key    1 byte length (clamped) + bytes; length 0xff: the decimal id
 *          given by the next 8 bytes (little-endian), so valid keys are common
 *   value  2 bytes length, little-endian (clamped to what is left) + bytes */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pipeline/bulk_inserts.h"
#include "source/imports.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) abort(); \
    } while (0)

static bool covers_even(void *ud, int64_t id, char *name, size_t cap) {
    (void)ud;
    snprintf(name, cap, "default.c%" PRId64, id);
    return id % 2 == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    if (!quiet) {
        mcdc_log_set_level(MCDC_LOG_OFF);
        quiet = true;
    }
    const uint8_t *p = data, *end = data + size;
    import_list l = {0};
    while (p < end) {
        char key[256];
        size_t klen = *p++;
        if (klen == 0xff) {
            uint64_t id = 0;
            for (int i = 0; i < 8 && p < end; i++) id |= (uint64_t)*p++ << (8 * i);
            snprintf(key, sizeof key, "%" PRIu64, id);
        } else {
            if (klen > (size_t)(end - p)) klen = (size_t)(end - p);
            memcpy(key, p, klen);
            key[klen] = '\0';
            p += klen;
        }
        size_t vlen = 0;
        for (int i = 0; i < 2 && p < end; i++) vlen |= (size_t)*p++ << (8 * i);
        if (vlen > (size_t)(end - p)) vlen = (size_t)(end - p);
        import_task t;
        mcdc_err err;
        if (import_task_decode(key, p, vlen, &t, &err) == 0) {
            CHECK(t.id > 0);
            CHECK(t.collection_name && t.partition_name && t.error_message);
            CHECK(t.n_files == 0 || t.files);
            for (size_t i = 0; i < t.n_files; i++) CHECK(t.files[i]);
            CHECK(import_state_name(t.state) != NULL);
            l.items = realloc(l.items, (l.n + 1) * sizeof *l.items);
            CHECK(l.items);
            l.items[l.n++] = t;
        } else {
            CHECK(err.code == MCDC_EDECODE && err.msg[0]);
            CHECK(!t.collection_name && !t.files);
        }
        p += vlen;
    }
    bulk_inserts *b = bulk_inserts_new("fuzz");
    bulk_inserts_apply(b, &l, covers_even, NULL);
    bulk_inserts_apply(b, &l, covers_even, NULL); /* a second read of the same: nothing new */
    task_bulk_insert *list;
    size_t n;
    bulk_inserts_copy(b, &list, &n);
    for (size_t i = 0; i < n; i++) {
        CHECK(list[i].collection && list[i].state);
        for (size_t k = 0; k < i; k++) CHECK(list[k].import_task != list[i].import_task);
    }
    task_bulk_inserts_free(list, n);
    bulk_inserts_free(b);
    import_list_free(&l);
    return 0;
}
