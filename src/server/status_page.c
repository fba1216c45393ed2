/* status_page.c — the HTML of GET / (see status_page.h): a pure function of
 * its input, so that a unit test drives it with hand-made snapshots.
 *
 * The script and the style are fixed texts; the Content-Security-Policy
 * names their SHA-256, so a browser runs this script and no other, even if
 * an escape were ever missed. Nothing else in the page is executable: no
 * event attributes, no style attributes (the chart's colours are classes),
 * no URL but /cdc in the script. */
#include "server/status_page.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/base64.h"
#include "base/clock.h"
#include "source/change_json.h"

/* ---- fixed texts --------------------------------------------------------- */

#define N_COLOURS 8

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:1.5em;color:#1f2328;"
    "background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}"
    ".meta,.note{color:#59636e}.wrap{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #d1d9e0;padding:.35em .6em;text-align:left;vertical-align:top}"
    "th{background:#f6f8fa;font-weight:600}"
    "td.lag,td.rate,td.inflight,td.applied{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.id{font-family:ui-monospace,Menlo,Consolas,monospace;max-width:12em;overflow-wrap:anywhere}"
    "td.watermark{white-space:nowrap}"
    "td.reason,td.last-error{max-width:22em;overflow-wrap:anywhere}td.snapshot{min-width:14em;max-width:24em}"
    ".state-Running{color:#1a7f37;font-weight:600}.state-Paused{color:#cf222e;font-weight:600}"
    ".state-Initial{color:#9a6700;font-weight:600}.err{color:#cf222e}.dim{color:#59636e}"
    "ul.copies{margin:0;padding:0;list-style:none}progress{width:7em;vertical-align:middle}"
    "button{font:inherit;padding:.15em .8em}"
    "svg.lag-chart{width:100%;max-width:960px;height:auto;display:block;border:1px solid #d1d9e0}"
    ".axis{stroke:#59636e;stroke-width:1}.grid{stroke:#d1d9e0;stroke-width:1;stroke-dasharray:3 3}"
    ".tick{fill:#59636e;font-size:11px}.empty{fill:#59636e;font-size:14px}"
    ".c0{stroke:#0969da;fill:#0969da;background:#0969da}.c1{stroke:#cf222e;fill:#cf222e;background:#cf222e}"
    ".c2{stroke:#1a7f37;fill:#1a7f37;background:#1a7f37}.c3{stroke:#8250df;fill:#8250df;background:#8250df}"
    ".c4{stroke:#bc4c00;fill:#bc4c00;background:#bc4c00}.c5{stroke:#0a7b83;fill:#0a7b83;background:#0a7b83}"
    ".c6{stroke:#bf3989;fill:#bf3989;background:#bf3989}.c7{stroke:#59636e;fill:#59636e;background:#59636e}"
    "polyline.line{fill:none;stroke-width:2}"
    "ul.legend{list-style:none;padding:0;margin:.4em 0}ul.legend li{display:inline-block;margin-right:1.2em}"
    ".swatch{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:middle}";

/* Enables the buttons and sends their request as JSON to /cdc: the page's
 * own origin, the API's only content type, which another site's page
 * cannot send without a preflight. No token here: a browser that needs
 * one reaches mcdc through a proxy that adds it. */
static const char SCRIPT[] =
    "(function(){"
    "var note=document.getElementById('action-note');"
    "var bs=document.querySelectorAll('button[data-action]');"
    "Array.prototype.forEach.call(bs,function(b){"
    "b.disabled=false;"
    "b.addEventListener('click',function(){"
    "var act=b.getAttribute('data-action'),id=b.getAttribute('data-task');"
    "b.disabled=true;"
    "fetch('/cdc',{method:'POST',credentials:'same-origin',headers:{'Content-Type':'application/json'},"
    "body:JSON.stringify({request_type:act,request_data:{task_id:id}})})"
    ".then(function(r){return r.json().catch(function(){return {};}).then(function(j){"
    "if(!r.ok)throw new Error(j.message||('HTTP '+r.status));});})"
    ".then(function(){location.reload();},function(e){b.disabled=false;"
    "note.textContent=act+' '+id+': '+e.message;});"
    "});"
    "});"
    "})();";

/* ---- escaping and numbers ------------------------------------------------ */

void status_page_escape(mcdc_buf *b, const char *s) {
    if (!s) return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': mcdc_buf_append(b, "&amp;", 5); break;
        case '<': mcdc_buf_append(b, "&lt;", 4); break;
        case '>': mcdc_buf_append(b, "&gt;", 4); break;
        case '"': mcdc_buf_append(b, "&quot;", 6); break;
        case '\'': mcdc_buf_append(b, "&#39;", 5); break;
        default: mcdc_buf_putc(b, (*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f ? '?' : *p);
        }
    }
}

#define esc status_page_escape

/* A lag or a duration as people read it: 0.4 s, 12.3 s, 4 min 05 s, 2 h 07 min. */
static void put_duration(mcdc_buf *b, double s) {
    if (s < 60) mcdc_buf_printf(b, "%.1f s", s);
    else if (s < 3600) mcdc_buf_printf(b, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else mcdc_buf_printf(b, "%" PRIu64 " h %02d min", (uint64_t)(s / 3600), (int)fmod(s / 60, 60));
}

static void put_wall(mcdc_buf *b, uint64_t wall_ms) {
    char text[32];
    change_ts_wall(mcdc_ts_compose(wall_ms, 0), text);
    mcdc_buf_printf(b, "%s", text);
}

/* ---- the task table ------------------------------------------------------ */

static void put_reason(mcdc_buf *b, const task_snapshot *t) {
    bool any = false;
    if (t->reason[0]) {
        esc(b, t->reason);
        any = true;
    }
    if (t->paused_channel[0]) {
        mcdc_buf_printf(b, "%s<span class=\"dim\">paused at ", any ? "<br>" : "");
        esc(b, t->paused_channel);
        mcdc_buf_printf(b, " ");
        esc(b, t->paused_position);
        mcdc_buf_printf(b, "</span>");
        any = true;
    }
    if (t->skip_channel[0]) {
        mcdc_buf_printf(b, "%s<span class=\"dim\">skip asked at ", any ? "<br>" : "");
        esc(b, t->skip_channel);
        mcdc_buf_printf(b, " ");
        esc(b, t->skip_position);
        mcdc_buf_printf(b, "</span>");
        any = true;
    }
    if (t->starting) {
        mcdc_buf_printf(b, "%s<span class=\"dim\">starting: a channel has no reader yet (retrying)</span>",
                        any ? "<br>" : "");
        any = true;
    }
    if (t->n_bulk_inserts) {
        mcdc_buf_printf(b, "%s<span class=\"err\">%zu bulk insert%s not replicated</span>", any ? "<br>" : "",
                        t->n_bulk_inserts, t->n_bulk_inserts == 1 ? "" : "s");
        any = true;
    }
    if (!any) mcdc_buf_printf(b, "<span class=\"dim\">—</span>");
}

static void put_copies(mcdc_buf *b, const task_snapshot *t) {
    if (t->n_copies == 0) {
        mcdc_buf_printf(b, "<span class=\"dim\">none</span>");
        return;
    }
    mcdc_buf_printf(b, "<ul class=\"copies\">");
    for (size_t i = 0; i < t->n_copies; i++) {
        const task_copy *c = &t->copies[i];
        mcdc_buf_printf(b, "<li data-collection=\"");
        esc(b, c->db);
        mcdc_buf_printf(b, ".");
        esc(b, c->collection);
        mcdc_buf_printf(b, "\" data-phase=\"%s\">", copy_phase_name(c->phase));
        esc(b, c->db);
        mcdc_buf_printf(b, ".");
        esc(b, c->collection);
        mcdc_buf_printf(b, ": <span class=\"phase\">%s</span>", copy_phase_name(c->phase));
        if (c->phase == COPY_COPYING || c->phase == COPY_WAITING) {
            if (c->rows_total) {
                uint64_t shown = c->rows_copied < c->rows_total ? c->rows_copied : c->rows_total;
                mcdc_buf_printf(b, " <progress max=\"%" PRIu64 "\" value=\"%" PRIu64 "\"></progress> %.0f %%",
                                c->rows_total, shown, 100.0 * (double)shown / (double)c->rows_total);
            }
            mcdc_buf_printf(b, "<br><span class=\"dim\">%" PRIu64 " of ", c->rows_copied);
            if (c->rows_total) mcdc_buf_printf(b, "%" PRIu64, c->rows_total);
            else mcdc_buf_printf(b, "?");
            mcdc_buf_printf(b, " rows copied, %.1f rows/s", c->rows_per_s);
            if (c->eta_s >= 0) {
                mcdc_buf_printf(b, ", ");
                put_duration(b, (double)c->eta_s);
                mcdc_buf_printf(b, " left");
            }
            mcdc_buf_printf(b, "</span>");
        } else {
            mcdc_buf_printf(b, " <span class=\"dim\">(%" PRIu64 " rows copied)</span>", c->rows_copied);
        }
        if (c->last_error[0]) {
            mcdc_buf_printf(b, "<br><span class=\"err\">");
            esc(b, c->last_error);
            mcdc_buf_printf(b, "</span>");
        }
        mcdc_buf_printf(b, "</li>");
    }
    mcdc_buf_printf(b, "</ul>");
    if (!t->consistent)
        mcdc_buf_printf(b, "<span class=\"dim\">not consistent at the watermark until every copy streams</span>");
}

/* The last verify (task_verify.c): running with rows compared, or what it
 * found per kind over the collections; nothing when none was asked for. */
static void put_verify(mcdc_buf *b, const task_snapshot *t) {
    const task_verify *v = &t->verify;
    if (!v->asked) return;
    uint64_t done = 0, total = 0, count[VERIFY_N_KINDS] = {0};
    bool failed = false, equal = true;
    for (size_t i = 0; i < v->n; i++) {
        const task_verify_coll *c = &v->colls[i];
        done += c->rows_compared;
        total += c->rows_total;
        failed |= c->phase == VERIFY_FAILED;
        if (c->has_result) {
            equal &= verify_result_equal(&c->result);
            for (int k = 0; k < VERIFY_N_KINDS; k++) count[k] += c->result.count[k];
        }
    }
    const char *result = v->running ? "running" : failed ? "could_not_compare" : equal ? "equal" : "different";
    mcdc_buf_printf(b, "<div class=\"verify\" data-result=\"%s\">verify: <span class=\"phase\">%s</span>", result,
                    result);
    if (v->running && total)
        mcdc_buf_printf(b, " <progress max=\"%" PRIu64 "\" value=\"%" PRIu64 "\"></progress>", total,
                        done < total ? done : total);
    mcdc_buf_printf(b, "<br><span class=\"dim\">%zu collection%s, %" PRIu64 " rows compared", v->n,
                    v->n == 1 ? "" : "s", done);
    if (!v->running && !equal)
        for (int k = 0; k < VERIFY_N_KINDS; k++)
            mcdc_buf_printf(b, ", %s %" PRIu64, verify_kind_name((verify_kind)k), count[k]);
    mcdc_buf_printf(b, "</span>");
    for (size_t i = 0; i < v->n; i++)
        if (v->colls[i].phase == VERIFY_FAILED) {
            mcdc_buf_printf(b, "<br><span class=\"err\">");
            esc(b, v->colls[i].source);
            mcdc_buf_printf(b, ": ");
            esc(b, v->colls[i].error);
            mcdc_buf_printf(b, "</span>");
        }
    mcdc_buf_printf(b, "</div>");
}

static void put_actions(mcdc_buf *b, const task_snapshot *t) {
    bool running = t->state == TASK_RUNNING;
    /* disabled until the script runs: without it they could do nothing. */
    mcdc_buf_printf(b, "<button type=\"button\" data-action=\"%s\" data-task=\"", running ? "pause" : "resume");
    esc(b, t->id);
    mcdc_buf_printf(b, "\" disabled>%s</button>", running ? "Pause" : "Resume");
}

static void put_task_row(mcdc_buf *b, const task_snapshot *t, const lag_series *hist) {
    const char *state = task_state_name(t->state);
    mcdc_buf_printf(b, "<tr class=\"task\" data-task-id=\"");
    esc(b, t->id);
    mcdc_buf_printf(b, "\" data-state=\"%s\">\n<td class=\"id\">", state);
    esc(b, t->id);
    if (t->remote) {
        /* Its figures are the owner's: this row has the store's state only. */
        mcdc_buf_printf(b, "<br><span class=\"dim owner\" title=\"run by another mcdc instance\">on ");
        esc(b, t->owner[0] ? t->owner : "no instance right now");
        mcdc_buf_printf(b, "</span>");
    }
    mcdc_buf_printf(b, "</td><td class=\"state state-%s\">%s</td><td class=\"reason\">", state, state);
    put_reason(b, t);
    mcdc_buf_printf(b, "</td>");
    if (t->watermark) {
        double lag = task_snapshot_lag_seconds(t);
        mcdc_buf_printf(b, "<td class=\"lag\" data-lag-seconds=\"%.3f\">", lag);
        put_duration(b, lag);
        char wall[32];
        change_ts_wall(t->watermark, wall);
        mcdc_buf_printf(b, "</td><td class=\"watermark\" data-ts=\"%" PRIu64 "\">%s</td>", t->watermark, wall);
    } else {
        mcdc_buf_printf(b, "<td class=\"lag\" title=\"no watermark yet: no channel has ticked, or no reader runs\">"
                           "<span class=\"dim\">not known</span></td>"
                           "<td class=\"watermark\"><span class=\"dim\">not known</span></td>");
    }
    if (hist && hist->rate_known) mcdc_buf_printf(b, "<td class=\"rate\">%.1f</td>", hist->rows_per_s);
    else
        mcdc_buf_printf(b, "<td class=\"rate\" title=\"known after two samples %u s apart\"><span class=\"dim\">"
                           "—</span></td>",
                        LAG_HISTORY_INTERVAL_MS / 1000);
    mcdc_buf_printf(b,
                    "<td class=\"inflight\">%" PRIu64 " <span class=\"dim\">(peak %" PRIu64 ")</span></td>"
                    "<td class=\"applied\" title=\"inserted / upserted / deleted rows since this process started "
                    "the task\">%" PRIu64 " / %" PRIu64 " / %" PRIu64 "</td>",
                    t->applied.calls_in_flight, t->applied.calls_in_flight_peak, t->applied.inserted,
                    t->applied.upserted, t->applied.deleted);
    mcdc_buf_printf(b, "<td class=\"last-error\">");
    if (t->last_error[0]) {
        mcdc_buf_printf(b, "<span class=\"err\">");
        esc(b, t->last_error);
        mcdc_buf_printf(b, "</span>");
    } else
        mcdc_buf_printf(b, "<span class=\"dim\">—</span>");
    mcdc_buf_printf(b, "</td><td class=\"snapshot\">");
    put_copies(b, t);
    put_verify(b, t);
    mcdc_buf_printf(b, "</td><td class=\"actions\">");
    put_actions(b, t);
    mcdc_buf_printf(b, "</td></tr>\n");
}

/* ---- the chart ----------------------------------------------------------- */

enum { W = 960, H = 280, LEFT = 64, RIGHT = 20, TOP = 16, BOTTOM = 40, PW = W - LEFT - RIGHT, PH = H - TOP - BOTTOM };

/* The smallest of 1, 2, 5 × 10^k at or above v (v > 0). */
static double nice_ceiling(double v) {
    double p = pow(10, floor(log10(v)));
    for (int i = 0; i < 3; i++) {
        double m = (double[]){1, 2, 5}[i] * p;
        if (m >= v * (1 - 1e-9)) return m;
    }
    return 10 * p;
}

typedef struct chart {
    uint64_t from_ms, to_ms;
    double ymax;
} chart;

static double x_of(const chart *c, uint64_t wall_ms) {
    if (wall_ms < c->from_ms) wall_ms = c->from_ms;
    if (wall_ms > c->to_ms) wall_ms = c->to_ms;
    return LEFT + (double)(wall_ms - c->from_ms) * PW / (double)(c->to_ms - c->from_ms);
}

static double y_of(const chart *c, double lag) {
    if (lag > c->ymax) lag = c->ymax;
    return TOP + PH - lag * PH / c->ymax;
}

/* The points of one task the chart draws: its history in the window, then
 * its lag now (the snapshot of this request), which the ring does not hold
 * yet. A point with lag < 0 is a gap. */
static size_t task_points(const task_snapshot *t, const lag_series *hist, const chart *c, lag_point *out) {
    size_t n = 0;
    uint64_t last = 0;
    for (size_t i = 0; hist && i < hist->n; i++) {
        const lag_point *p = lag_series_at(hist, i);
        if (p->wall_ms < c->from_ms || p->wall_ms > c->to_ms) continue;
        out[n++] = *p;
        last = p->wall_ms;
    }
    uint64_t now = t->taken_wall_ms ? t->taken_wall_ms : c->to_ms;
    if (now > c->to_ms) now = c->to_ms;
    if (now >= last && now >= c->from_ms)
        out[n++] = (lag_point){.wall_ms = now, .lag_s = t->watermark ? (float)task_snapshot_lag_seconds(t) : -1.0f};
    return n;
}

static void put_series(mcdc_buf *b, const task_snapshot *t, size_t colour, const lag_point *pts, size_t n,
                       const chart *c) {
    mcdc_buf_printf(b, "<g class=\"series\" data-task-id=\"");
    esc(b, t->id);
    mcdc_buf_printf(b, "\"><title>");
    esc(b, t->id);
    mcdc_buf_printf(b, "</title>\n");
    /* One polyline per run of known lags: a gap is a time without one. */
    for (size_t i = 0; i < n;) {
        while (i < n && pts[i].lag_s < 0) i++;
        size_t j = i;
        while (j < n && pts[j].lag_s >= 0) j++;
        if (j - i >= 2) {
            mcdc_buf_printf(b, "<polyline class=\"line c%zu\" points=\"", colour);
            for (size_t k = i; k < j; k++)
                mcdc_buf_printf(b, "%s%.1f,%.1f", k > i ? " " : "", x_of(c, pts[k].wall_ms), y_of(c, pts[k].lag_s));
            mcdc_buf_printf(b, "\"/>\n");
        }
        i = j;
    }
    const lag_point *end = n && pts[n - 1].lag_s >= 0 ? &pts[n - 1] : NULL;
    if (end)
        mcdc_buf_printf(b, "<circle class=\"c%zu\" r=\"3.5\" cx=\"%.1f\" cy=\"%.1f\"/>\n", colour, x_of(c, end->wall_ms),
                        y_of(c, end->lag_s));
    mcdc_buf_printf(b, "</g>\n");
}

static void put_chart(mcdc_buf *b, const status_page_input *in) {
    chart c = {.to_ms = in->now_wall_ms, .from_ms = in->now_wall_ms > STATUS_PAGE_WINDOW_MS ? in->now_wall_ms - STATUS_PAGE_WINDOW_MS : 0};
    if (c.to_ms <= c.from_ms) c.to_ms = c.from_ms + 1;
    /* Every task's points first: the scale fits the largest lag drawn. */
    lag_point **pts = in->n_tasks ? mcdc_xcalloc(in->n_tasks, sizeof *pts) : NULL;
    size_t *npts = in->n_tasks ? mcdc_xcalloc(in->n_tasks, sizeof *npts) : NULL;
    double top = 0;
    size_t drawn = 0;
    for (size_t i = 0; i < in->n_tasks; i++) {
        const lag_series *h = lag_series_find(in->history, in->n_history, in->tasks[i]->id);
        pts[i] = mcdc_xmalloc((LAG_HISTORY_POINTS + 1) * sizeof **pts);
        npts[i] = task_points(in->tasks[i], h, &c, pts[i]);
        bool any = false;
        for (size_t k = 0; k < npts[i]; k++) {
            if (pts[i][k].lag_s > top) top = pts[i][k].lag_s;
            any |= pts[i][k].lag_s >= 0;
        }
        drawn += any;
    }
    c.ymax = nice_ceiling(top > 1 ? top : 1);

    mcdc_buf_printf(b, "<svg class=\"lag-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                       "width=\"%d\" height=\"%d\" role=\"img\" aria-labelledby=\"lag-chart-title\">\n"
                       "<title id=\"lag-chart-title\">Lag of each task in seconds over the last 60 minutes</title>\n",
                    W, H, W, H);
    /* Ticks at round values: 5 for a scale of 1 or 5 × 10^k, 4 for 2 × 10^k. */
    int ticks = fabs(c.ymax / pow(10, floor(log10(c.ymax))) - 2) < 1e-9 ? 4 : 5;
    for (int k = 0; k <= ticks; k++) {
        double v = c.ymax * k / ticks, y = y_of(&c, v);
        mcdc_buf_printf(b, "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", k ? "grid" : "axis",
                        LEFT, LEFT + PW, y, y);
        mcdc_buf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g s</text>\n", LEFT - 6,
                        y + 4, v);
    }
    for (int m = 0; m <= 60; m += 10) {
        double x = LEFT + (double)m * PW / 60;
        mcdc_buf_printf(b, "<line class=\"%s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>", m ? "grid" : "axis", x,
                        x, TOP, TOP + PH);
        if (m == 60)
            mcdc_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"end\">now</text>\n", x,
                            TOP + PH + 16);
        else
            mcdc_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">-%d min</text>\n", x,
                            TOP + PH + 16, 60 - m);
    }
    mcdc_buf_printf(b,
                    "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">last 60 minutes</text>\n"
                    "<text class=\"tick\" transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">"
                    "lag (seconds)</text>\n",
                    LEFT + PW / 2, H - 4, TOP + PH / 2);
    if (!drawn)
        mcdc_buf_printf(b, "<text class=\"empty\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no lag known yet</text>\n",
                        LEFT + PW / 2, TOP + PH / 2);
    for (size_t i = 0; i < in->n_tasks; i++)
        if (npts[i]) put_series(b, in->tasks[i], i % N_COLOURS, pts[i], npts[i], &c);
    mcdc_buf_printf(b, "</svg>\n");
    if (in->n_tasks) {
        mcdc_buf_printf(b, "<ul class=\"legend\">");
        for (size_t i = 0; i < in->n_tasks; i++) {
            mcdc_buf_printf(b, "<li><span class=\"swatch c%zu\"></span>", i % N_COLOURS);
            esc(b, in->tasks[i]->id);
            mcdc_buf_printf(b, "</li>");
        }
        mcdc_buf_printf(b, "</ul>\n");
    }
    if (in->history_left_out)
        mcdc_buf_printf(b, "<p class=\"note\">%zu task%s not followed by the history (it follows at most %d): "
                           "only their lag now is drawn.</p>\n",
                        in->history_left_out, in->history_left_out == 1 ? " is" : "s are", LAG_HISTORY_MAX_TASKS);
    for (size_t i = 0; i < in->n_tasks; i++) free(pts[i]);
    free(pts);
    free(npts);
}

/* ---- the page ------------------------------------------------------------ */

void status_page_render(const status_page_input *in, mcdc_buf *b) {
    unsigned refresh = in->refresh_s ? in->refresh_s : STATUS_PAGE_REFRESH_S;
    mcdc_buf_printf(b,
                    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta http-equiv=\"refresh\" content=\"%u\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>mcdc status</title>\n<style>%s</style>\n</head>\n<body>\n"
                    "<h1>mcdc</h1>\n<p class=\"meta\">%zu task%s · as of <time id=\"now\">",
                    refresh, STYLE, in->n_tasks, in->n_tasks == 1 ? "" : "s");
    put_wall(b, in->now_wall_ms);
    mcdc_buf_printf(b, "</time> (UTC) · reloads every %u s</p>\n", refresh);
    mcdc_buf_printf(b, "<h2>Tasks</h2>\n");
    if (in->n_tasks == 0) {
        mcdc_buf_printf(b, "<p class=\"note\" id=\"no-tasks\">No tasks. Create one with <code>POST /cdc</code> "
                           "(<code>request_type</code> <code>create</code>).</p>\n");
    } else {
        mcdc_buf_printf(b, "<div class=\"wrap\"><table id=\"tasks\">\n<thead><tr><th>Task</th><th>State</th>"
                           "<th>Reason</th><th>Lag</th><th>Watermark (UTC)</th><th>Rows/s</th>"
                           "<th>Calls in flight</th><th>Rows applied (ins / ups / del)</th><th>Last error</th>"
                           "<th>Snapshot / verify</th><th></th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < in->n_tasks; i++)
            put_task_row(b, in->tasks[i], lag_series_find(in->history, in->n_history, in->tasks[i]->id));
        mcdc_buf_printf(b, "</tbody></table></div>\n");
    }
    mcdc_buf_printf(b, "<noscript><p class=\"note\" id=\"no-script\">Pause and resume need JavaScript: without it "
                       "they are disabled. Use <code>POST /cdc</code> with <code>pause</code> or "
                       "<code>resume</code> instead.</p></noscript>\n"
                       "<p class=\"err\" id=\"action-note\" role=\"status\"></p>\n");
    mcdc_buf_printf(b, "<h2>Lag, last hour</h2>\n");
    put_chart(b, in);
    mcdc_buf_printf(b, "<p class=\"note\">Lag: how far the watermark (every source change up to it is on the "
                       "target) is behind now. Rows/s: rows applied between the last two samples, %u s apart. "
                       "The chart is kept in memory: it starts again when mcdc restarts.</p>\n",
                    LAG_HISTORY_INTERVAL_MS / 1000);
    mcdc_buf_printf(b, "<script>%s</script>\n</body>\n</html>\n", SCRIPT);
}

/* ---- the policy ---------------------------------------------------------- */

static void put_hash(mcdc_buf *b, const char *text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL) != 1) abort();
    char *b64 = mcdc_base64_encode(md, len);
    mcdc_buf_printf(b, "'sha256-%s'", b64);
    free(b64);
}

void status_page_csp(mcdc_buf *b) {
    mcdc_buf_printf(b, "default-src 'none'; script-src ");
    put_hash(b, SCRIPT);
    mcdc_buf_printf(b, "; style-src ");
    put_hash(b, STYLE);
    mcdc_buf_printf(b, "; connect-src 'self'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; "
                       "base-uri 'none'");
}
