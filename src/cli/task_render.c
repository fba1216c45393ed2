/* task_render.c — what `mcdc task` prints from a reply: a table for list
 * and position, a block of lines for get, one line for the rest.
 *
 * An operator reads these at a glance, so they show the few fields that say
 * whether a task is well (state, reason, lag, snapshot progress) and leave
 * the rest to --json. Every string of the reply goes through cell(), which
 * replaces control characters: a collection name or an error message must
 * not be able to move the terminal's cursor. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/task_cli.h"
#include "source/change_json.h"

/* ---- tables ---------------------------------------------------------------- */

typedef struct table {
    size_t cols, rows;
    char **cells; /* rows * cols */
} table;

static char *cell(const char *s) {
    char *c = mcdc_xstrdup(s ? s : "");
    for (char *p = c; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return c;
}

/* Appends one row of t->cols strings (NULL prints as ""). */
static void table_row(table *t, const char *const *v) {
    t->cells = mcdc_xrealloc(t->cells, (t->rows + 1) * t->cols * sizeof *t->cells);
    for (size_t i = 0; i < t->cols; i++) t->cells[t->rows * t->cols + i] = cell(v[i]);
    t->rows++;
}

/* Columns padded to their widest cell, two spaces apart; no line ends in
 * blanks (the last column is not padded, empty last cells are cut). */
static void table_print(table *t, FILE *out) {
    size_t *w = mcdc_xcalloc(t->cols, sizeof *w);
    for (size_t r = 0; r < t->rows; r++)
        for (size_t i = 0; i < t->cols; i++) {
            size_t n = strlen(t->cells[r * t->cols + i]);
            if (n > w[i]) w[i] = n;
        }
    mcdc_buf line = MCDC_BUF_INIT;
    for (size_t r = 0; r < t->rows; r++) {
        mcdc_buf_reset(&line);
        for (size_t i = 0; i < t->cols; i++) {
            const char *c = t->cells[r * t->cols + i];
            if (i + 1 < t->cols) mcdc_buf_printf(&line, "%-*s  ", (int)w[i], c);
            else mcdc_buf_printf(&line, "%s", c);
        }
        while (line.len && line.data[line.len - 1] == ' ') line.len--; /* empty last cells */
        fprintf(out, "%s\n", mcdc_buf_cstr(&line));
    }
    mcdc_buf_free(&line);
    for (size_t i = 0; i < t->rows * t->cols; i++) free(t->cells[i]);
    free(t->cells);
    free(w);
}

/* ---- fields ---------------------------------------------------------------- */

static const char *str(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static json_int_t num(const json_t *o, const char *key) { return json_integer_value(json_object_get(o, key)); }

static void append_list(mcdc_buf *b, const char *item) {
    if (b->len) mcdc_buf_printf(b, ", ");
    mcdc_buf_printf(b, "%s", item);
}

/* "a, b, db1.*": collection_infos by name (database default), then
 * db_collections as db.name. */
static void collections_text(const json_t *task, mcdc_buf *b) {
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(task, "collection_infos"), i, e) append_list(b, str(e, "name") ? str(e, "name") : "?");
    const char *db;
    const json_t *list;
    json_object_foreach((json_t *)json_object_get(task, "db_collections"), db, list) {
        json_array_foreach(list, i, e) {
            mcdc_buf_printf(b, "%s%s.%s", b->len ? ", " : "", db, str(e, "name") ? str(e, "name") : "?");
        }
    }
    if (!b->len) mcdc_buf_printf(b, "-");
}

static const char *const PHASES[] = {"waiting", "copying", "overlapping", "streaming"};

/* "copying 2 (41%), waiting 1": the copies by phase; the share is of the
 * rows of the copies that are copying. "-" when the task has none. */
static void snapshot_text(const json_t *task, mcdc_buf *b) {
    const json_t *copies = json_object_get(json_object_get(task, "snapshot"), "collections");
    size_t count[4] = {0}, i;
    json_int_t copied = 0, total = 0;
    const json_t *c;
    json_array_foreach(copies, i, c) {
        const char *ph = str(c, "phase");
        for (size_t k = 0; k < 4; k++)
            if (ph && strcmp(ph, PHASES[k]) == 0) count[k]++;
        if (ph && strcmp(ph, "copying") == 0) copied += num(c, "rows_copied"), total += num(c, "rows_total");
    }
    for (size_t k = 0; k < 4; k++) {
        if (!count[k]) continue;
        mcdc_buf_printf(b, "%s%s", b->len ? ", " : "", PHASES[k]);
        if (count[k] > 1) mcdc_buf_printf(b, " %zu", count[k]);
        if (k == 1 && total > 0) mcdc_buf_printf(b, " (%d%%)", (int)(copied * 100 / total));
    }
    if (!b->len) mcdc_buf_printf(b, "-");
}

static void lag_text(const json_t *task, char *out, size_t cap) {
    const json_t *lag = json_object_get(task, "lag_seconds");
    if (json_is_number(lag)) snprintf(out, cap, "%.1fs", json_number_value(lag));
    else snprintf(out, cap, "-");
}

static void state_text(const json_t *task, char *out, size_t cap) {
    const char *s = str(task, "state");
    snprintf(out, cap, "%s%s", s ? s : "?", json_is_true(json_object_get(task, "starting")) ? " (starting)" : "");
}

/* Why a task is not well: the reason it paused, else the error it retries. */
static const char *trouble(const json_t *task) {
    const char *r = str(task, "reason");
    if (r && r[0]) return r;
    r = str(task, "last_error");
    return r && r[0] ? r : "";
}

/* ---- the replies ----------------------------------------------------------- */

void task_render_list(const json_t *data, FILE *out) {
    table t = {.cols = 6};
    table_row(&t, (const char *[]){"TASK ID", "STATE", "LAG", "COLLECTIONS", "SNAPSHOT", "REASON"});
    size_t i;
    const json_t *task;
    json_array_foreach(json_object_get(data, "tasks"), i, task) {
        char state[64], lag[32];
        mcdc_buf colls = MCDC_BUF_INIT, snap = MCDC_BUF_INIT;
        state_text(task, state, sizeof state);
        lag_text(task, lag, sizeof lag);
        collections_text(task, &colls);
        snapshot_text(task, &snap);
        table_row(&t, (const char *[]){str(task, "task_id"), state, lag, mcdc_buf_cstr(&colls), mcdc_buf_cstr(&snap),
                                       trouble(task)});
        mcdc_buf_free(&colls);
        mcdc_buf_free(&snap);
    }
    table_print(&t, out);
}

static void line(FILE *out, const char *label, const char *value) {
    char *v = cell(value);
    fprintf(out, "%-15s %s\n", label, v);
    free(v);
}

static void latency_text(const json_t *lat, const char *key, mcdc_buf *b) {
    const json_t *h = json_object_get(lat, key);
    if (!num(h, "count")) return;
    mcdc_buf_printf(b, "%s%s p50 %.3fs p99 %.3fs max %.3fs (%" JSON_INTEGER_FORMAT " calls)", b->len ? "; " : "",
                    strcmp(key, "apply_lag_seconds") == 0 ? "apply lag" : "target call",
                    json_number_value(json_object_get(h, "p50")), json_number_value(json_object_get(h, "p99")),
                    json_number_value(json_object_get(h, "max")), num(h, "count"));
}

static void at_text(const json_t *at, mcdc_buf *b) {
    mcdc_buf_printf(b, "channel %s position %s", str(at, "channel") ? str(at, "channel") : "?",
                    str(at, "position") ? str(at, "position") : "?");
}

void task_render_get(const json_t *data, FILE *out) {
    const json_t *task = json_object_get(data, "task");
    const json_t *mcp = json_object_get(task, "milvus_connect_param");
    char buf[96];
    mcdc_buf b = MCDC_BUF_INIT;
    line(out, "task id", str(task, "task_id"));
    state_text(task, buf, sizeof buf);
    line(out, "state", buf);
    if (str(task, "reason") && str(task, "reason")[0]) line(out, "reason", str(task, "reason"));
    if (str(task, "last_error") && str(task, "last_error")[0]) line(out, "last error", str(task, "last_error"));
    if (str(mcp, "uri")) mcdc_buf_printf(&b, "%s", str(mcp, "uri"));
    else if (str(mcp, "host")) mcdc_buf_printf(&b, "%s:%" JSON_INTEGER_FORMAT, str(mcp, "host"), num(mcp, "port"));
    if (json_is_true(json_object_get(mcp, "enable_tls"))) mcdc_buf_printf(&b, " (TLS)");
    line(out, "target", b.len ? mcdc_buf_cstr(&b) : "-");
    mcdc_buf_reset(&b);
    collections_text(task, &b);
    line(out, "collections", mcdc_buf_cstr(&b));
    mcdc_buf_reset(&b);
    const json_t *wm = json_object_get(task, "watermark");
    if (wm) {
        mcdc_buf_printf(&b, "%s (ts %" JSON_INTEGER_FORMAT ")", str(wm, "time") ? str(wm, "time") : "?", num(wm, "ts"));
        line(out, "watermark", mcdc_buf_cstr(&b));
        mcdc_buf_reset(&b);
    }
    lag_text(task, buf, sizeof buf);
    line(out, "lag", buf);
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, num(task, "channels_read"));
    line(out, "channels read", buf);
    const json_t *ap = json_object_get(task, "applied");
    if (ap) {
        mcdc_buf_printf(&b,
                        "%" JSON_INTEGER_FORMAT " inserted, %" JSON_INTEGER_FORMAT " upserted, %" JSON_INTEGER_FORMAT
                        " deleted rows; %" JSON_INTEGER_FORMAT " ddl, %" JSON_INTEGER_FORMAT " messages",
                        num(ap, "inserted_rows"), num(ap, "upserted_rows"), num(ap, "deleted_rows"), num(ap, "ddl"),
                        num(ap, "messages"));
        line(out, "applied", mcdc_buf_cstr(&b));
        mcdc_buf_reset(&b);
    }
    const json_t *lat = json_object_get(task, "latency");
    latency_text(lat, "apply_lag_seconds", &b);
    latency_text(lat, "target_call_seconds", &b);
    if (b.len) line(out, "latency", mcdc_buf_cstr(&b));
    mcdc_buf_reset(&b);
    if (json_object_get(task, "paused_at")) {
        at_text(json_object_get(task, "paused_at"), &b);
        line(out, "paused at", mcdc_buf_cstr(&b));
        mcdc_buf_reset(&b);
    }
    if (json_object_get(task, "skip_requested")) {
        at_text(json_object_get(task, "skip_requested"), &b);
        line(out, "skip requested", mcdc_buf_cstr(&b));
        mcdc_buf_reset(&b);
    }
    const json_t *snap = json_object_get(task, "snapshot");
    const json_t *copies = json_object_get(snap, "collections");
    size_t i;
    const json_t *c;
    if (json_array_size(copies)) {
        line(out, "snapshot", json_is_true(json_object_get(snap, "consistent")) ? "consistent" : "not consistent yet");
        fputc('\n', out);
        table t = {.cols = 7};
        table_row(&t, (const char *[]){"COLLECTION", "PHASE", "ROWS COPIED", "ROWS TOTAL", "ROWS/S", "ETA", "LAST ERROR"});
        json_array_foreach(copies, i, c) {
            char name[300], copied[32], total[32], rate[32], eta[32];
            snprintf(name, sizeof name, "%s.%s", str(c, "db") ? str(c, "db") : "?",
                     str(c, "collection") ? str(c, "collection") : "?");
            snprintf(copied, sizeof copied, "%" JSON_INTEGER_FORMAT, num(c, "rows_copied"));
            snprintf(total, sizeof total, "%" JSON_INTEGER_FORMAT, num(c, "rows_total"));
            snprintf(rate, sizeof rate, "%.1f", json_number_value(json_object_get(c, "rows_per_s")));
            const json_t *e = json_object_get(c, "eta_s");
            if (json_is_integer(e)) snprintf(eta, sizeof eta, "%" JSON_INTEGER_FORMAT "s", json_integer_value(e));
            else snprintf(eta, sizeof eta, "-");
            table_row(&t, (const char *[]){name, str(c, "phase"), copied, total, rate, eta, str(c, "last_error")});
        }
        table_print(&t, out);
    }
    const json_t *bulk = json_object_get(task, "bulk_inserts_not_replicated");
    if (json_array_size(bulk)) {
        fprintf(out, "\nbulk inserts not replicated (docs/guarantees.md; `mcdc task resync` copies a collection again):\n");
        table t = {.cols = 4};
        table_row(&t, (const char *[]){"COLLECTION", "IMPORT TASK", "STATE", "ROWS"});
        json_array_foreach(bulk, i, c) {
            char id[32], rows[32];
            snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, num(c, "import_task"));
            snprintf(rows, sizeof rows, "%" JSON_INTEGER_FORMAT, num(c, "rows"));
            table_row(&t, (const char *[]){str(c, "collection"), id, str(c, "state"), rows});
        }
        table_print(&t, out);
    }
    mcdc_buf_free(&b);
}

void task_render_positions(const json_t *data, FILE *out) {
    table t = {.cols = 4};
    table_row(&t, (const char *[]){"CHANNEL", "POSITION", "TIME", "TT"});
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(data, "positions"), i, p) {
        char wall[32] = "-", tt[32];
        uint64_t ts = (uint64_t)num(p, "tt");
        if (ts) change_ts_wall(ts, wall);
        snprintf(tt, sizeof tt, "%" PRIu64, ts);
        table_row(&t, (const char *[]){str(p, "channel_name"), str(p, "position"), wall, tt});
    }
    table_print(&t, out);
}

void task_render_verify(const json_t *v, bool json, FILE *out) {
    if (json) {
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
        fprintf(out, "%s\n", s ? s : "null");
        free(s);
        return;
    }
    char *result = cell(str(v, "result"));
    fprintf(out, "verify: %s\n", result);
    free(result);
    static const char *const KINDS[] = {"missing", "extra", "differing", "doubled"};
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(v, "collections"), i, c) {
        char *src = cell(str(c, "source")), *dst = cell(str(c, "target")), *phase = cell(str(c, "phase"));
        fprintf(out, "%s -> %s: %s", src, dst, phase);
        const char *e = str(c, "error");
        if (e) {
            char *ec = cell(e);
            fprintf(out, ": %s", ec);
            free(ec);
        }
        fputc('\n', out);
        if (json_object_get(c, "equal")) {
            fprintf(out, "  rows (count(*)): source %lld, target %lld\n",
                    (long long)json_integer_value(json_object_get(c, "source_rows")),
                    (long long)json_integer_value(json_object_get(c, "target_rows")));
            for (size_t k = 0; k < 4; k++) {
                const json_t *kind = json_object_get(c, KINDS[k]);
                fprintf(out, "  %-10s %lld", KINDS[k], (long long)json_integer_value(json_object_get(kind, "count")));
                const json_t *first = json_object_get(kind, "first");
                if (json_array_size(first)) {
                    char *keys = json_dumps(first, JSON_COMPACT | JSON_ENCODE_ANY);
                    char *kc = cell(keys);
                    fprintf(out, "   first keys: %s", kc);
                    free(kc);
                    free(keys);
                }
                fputc('\n', out);
            }
        }
        free(src);
        free(dst);
        free(phase);
    }
}

void task_cli_print(const task_cli *t, const json_t *data, FILE *out) {
    if (t->json) {
        char *s = json_dumps(data, JSON_INDENT(2) | JSON_SORT_KEYS);
        fprintf(out, "%s\n", s ? s : "null");
        free(s);
        return;
    }
    const char *rt = t->request_type;
    char *id = cell(t->task_id);
    if (strcmp(rt, "list") == 0) task_render_list(data, out);
    else if (strcmp(rt, "get") == 0) task_render_get(data, out);
    else if (strcmp(rt, "position") == 0) task_render_positions(data, out);
    else if (strcmp(rt, "create") == 0) {
        /* The id alone, so that `id=$(mcdc task create ...)` works. */
        char *c = cell(str(data, "task_id"));
        fprintf(out, "%s\n", c);
        free(c);
    } else if (strcmp(rt, "pause") == 0) fprintf(out, "task %s paused\n", id);
    else if (strcmp(rt, "resume") == 0) fprintf(out, "task %s resumed\n", id);
    else if (strcmp(rt, "delete") == 0) fprintf(out, "task %s deleted\n", id);
    else if (strcmp(rt, "resync") == 0) {
        const json_t *rd = t->request_data;
        char *what = cell(str(rd, "collection_name")), *db = cell(str(rd, "db_name"));
        fprintf(out, "resync of %s.%s asked for; `mcdc task get %s` shows its progress\n", db, what, id);
        free(what);
        free(db);
    } else if (strcmp(rt, "verify") == 0) {
        fprintf(out, "verify of task %s started; `mcdc task get %s` shows it (or: mcdc task verify %s --wait)\n", id,
                id, id);
    } else {
        const char *m = str(data, "message");
        if (m) {
            char *c = cell(m);
            fprintf(out, "%s\n", c);
            free(c);
        } else {
            char *s = json_dumps(data, JSON_INDENT(2) | JSON_SORT_KEYS);
            fprintf(out, "%s\n", s ? s : "null");
            free(s);
        }
    }
    free(id);
}

void task_render_handover(const json_t *h, bool json, FILE *out) {
    if (json) {
        char *text = json_dumps(h, JSON_INDENT(2) | JSON_SORT_KEYS);
        fprintf(out, "%s\n", text ? text : "null");
        free(text);
        return;
    }
    char *kind = cell(str(h, "kind")), *phase = cell(str(h, "phase")), *reason = cell(str(h, "reason"));
    fprintf(out, "%s: %s\n", kind, phase);
    if (reason[0]) fprintf(out, "  %s\n", reason);
    static const char *const times[][2] = {{"writes_stopped_at", "writes stopped at"},
                                           {"target_holds_up_to", "target holds every change up to"},
                                           {"last_source_write", "last source write read"},
                                           {"last_source_time", "newest source time seen"}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        const json_t *o = json_object_get(h, times[i][0]);
        if (!json_is_object(o)) continue;
        char *tm = cell(str(o, "time"));
        fprintf(out, "  %-32s %s (ts %lld)\n", times[i][1], tm, (long long)json_integer_value(json_object_get(o, "ts")));
        free(tm);
    }
    const json_t *v = json_object_get(h, "rpo_seconds");
    if (v) fprintf(out, "  %-32s %lld s\n", "RPO", (long long)json_integer_value(v));
    v = json_object_get(h, "loss_window_seconds");
    if (v) fprintf(out, "  %-32s %.3f s\n", "possibly missing: the last", json_number_value(v));
    free(kind);
    free(phase);
    free(reason);
}

json_t *task_reverse_spec(const json_t *task, const char *target_uri, FILE *msgs) {
    const json_t *nm = json_object_get(task, "name_mapping");
    if (json_array_size(nm) > 0) {
        fprintf(msgs, "mcdc task switchover: the task maps names (name_mapping); write the reverse task's mapping "
                      "yourself (mcdc task create --spec, docs/disaster-recovery.md)\n");
        return NULL;
    }
    json_t *spec = json_pack("{s:{s:s, s:i}}", "milvus_connect_param", "uri", target_uri, "connect_timeout", 10);
    /* The same collections, read from their start position on nothing: a
     * new task starts at the new primary's latest positions, after every
     * row this task applied there. No snapshot: the old primary has them. */
    json_t *infos = json_array();
    size_t i;
    const json_t *ci;
    json_array_foreach(json_object_get(task, "collection_infos"), i, ci) {
        const json_t *name = json_object_get(ci, "name");
        if (json_is_string(name)) json_array_append_new(infos, json_pack("{s:O}", "name", name));
    }
    if (json_array_size(infos)) json_object_set_new(spec, "collection_infos", infos);
    else json_decref(infos);
    const json_t *dbc = json_object_get(task, "db_collections");
    if (dbc && !json_is_null(dbc)) json_object_set_new(spec, "db_collections", json_deep_copy(dbc));
    const json_t *role = json_object_get(json_object_get(task, "extra_info"), "enable_user_role");
    if (json_is_true(role)) json_object_set_new(spec, "extra_info", json_pack("{s:b}", "enable_user_role", 1));
    return spec;
}
