/* status_page.h — the HTML of `GET /`: one page an operator reads in a
 * browser, built from task snapshots and the lag history, nothing else.
 *
 * Self-contained: inline CSS, the lag chart as inline SVG drawn here (so it
 * reads without JavaScript), no outside asset, font or script. It reloads
 * itself with <meta http-equiv="refresh">. Every text that comes from a user
 * or a source (task ids, collection names, reasons, errors) is escaped.
 * Pause and resume are buttons that only a small inline script enables (a
 * JSON POST to /cdc, which a page of another site cannot send without a
 * CORS preflight the server never grants); without JavaScript they stay
 * disabled and the page says why. status_page_csp gives the
 * Content-Security-Policy that allows exactly this page's own script and
 * style (by their SHA-256), fetch to its own origin, and nothing else.
 *
 * Hooks a test or a scraper may rely on: each task is a
 * `<tr class="task" data-task-id="ID" data-state="Running">` whose cells
 * have the classes state, reason, lag (with data-lag-seconds when known),
 * watermark, rate, inflight, applied, last-error, snapshot, actions; the
 * chart is `<svg class="lag-chart">` with one `<g class="series"
 * data-task-id="ID">` per task that has a lag to draw. */
#ifndef MCDC_STATUS_PAGE_H
#define MCDC_STATUS_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "pipeline/task_snapshot.h"
#include "server/lag_history.h"

#define STATUS_PAGE_REFRESH_S 10
#define STATUS_PAGE_WINDOW_MS (60u * 60u * 1000u) /* what the chart spans: the last hour */

typedef struct status_page_input {
    task_snapshot *const *tasks;       /* as task_manager_list gives them, in its order */
    size_t n_tasks;
    const lag_series *history;         /* lag_history_copy's; may be NULL */
    size_t n_history;
    size_t history_left_out;           /* tasks the history does not follow */
    uint64_t now_wall_ms;              /* the chart ends here */
    unsigned refresh_s;                /* 0 = STATUS_PAGE_REFRESH_S */
} status_page_input;

/* Appends the whole page (UTF-8 HTML) to out. */
void status_page_render(const status_page_input *in, mcdc_buf *out);

/* Appends the value of the page's Content-Security-Policy header. */
void status_page_csp(mcdc_buf *out);

/* Appends s with &, <, >, " and ' as character references and control
 * characters other than tab and newline as '?': safe in text and in a
 * quoted attribute. */
void status_page_escape(mcdc_buf *out, const char *s);

#endif
