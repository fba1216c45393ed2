/* fuzz_decode.c — libFuzzer harness for the WAL decoder: arbitrary bytes as
 * one Kafka message → decode_header() and decode_change(), and every change
 * that decodes → change_to_json() with rows and primary keys, as `mcdc dump`
 * prints it. Seeds: tests/fixtures/kafka/ (real Milvus 2.3 messages) and
 * fuzz/corpus/decode/. Besides the sanitizers it checks what decode.h
 * promises: a refusal is an MCDC_EDECODE error with a message, and a change
 * that decodes is whole (every column holds num_rows cells; the cells
 * themselves are walked by change_to_json). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "source/change_json.h"
#include "source/decode.h"

/* A broken promise is a finding too: abort() makes libFuzzer keep the input. */
#define CHECK(cond) \
    do {            \
        if (!(cond)) abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mcdc_err err = {0};
    int32_t type = 0;
    uint64_t ts = 0;
    bool has_header = decode_header(data, size, &type, &ts, &err) == 0;
    if (!has_header) CHECK(err.code == MCDC_EDECODE && err.msg[0]);

    change c;
    mcdc_err_clear(&err);
    if (decode_change(data, size, &c, &err) != 0) {
        CHECK(err.code == MCDC_EDECODE && err.msg[0]);
        /* Nothing is left to free after a refusal. */
        CHECK(c.msg == NULL && c.schema == NULL);
        return 0;
    }
    CHECK(has_header && c.msg_type == type && c.msg);

    const Milvus__Proto__Msg__InsertRequest *ins = change_insert(&c);
    const char *pk = NULL;
    if (ins) {
        for (size_t i = 0; i < ins->n_fields_data; i++)
            CHECK(change_column_rows(ins->fields_data[i], &err) == (long)c.num_rows);
        /* Which column is the key comes from the catalog; any will do here. */
        if (ins->n_fields_data) pk = ins->fields_data[size % ins->n_fields_data]->field_name;
    }
    json_t *j = change_to_json(&c, pk, true);
    CHECK(j != NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    free(text);
    json_decref(j);
    change_free(&c);
    return 0;
}
