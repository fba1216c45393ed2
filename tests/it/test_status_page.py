"""The status page (GET /, docs/api.md) as an operator's browser shows it: a real headless Chromium
(Debian's `chromium`, installed by scripts/build-deps) loads the page of a real `mcdc serve` whose
task replicates rows, and the DOM it built must show the task's state and lag, a watermark, rows
applied and the lag chart; the page's inline script must have run under its own
Content-Security-Policy (it enables the Pause button); after a pause through the API the page says
Paused. A screenshot is kept as a test artifact ($MCDC_BUILD_DIR/artifacts/status-page.png)."""
import re
import shutil
import subprocess
import time
import urllib.request
from html.parser import HTMLParser

import pytest

from mcdcserver import replicated_collection, serving, wait_equal
from stackenv import build_dir

# One number with a unit, as the page writes a lag: 0.4 s, 4 min 05 s, 2 h 07 min.
LAG_TEXT = re.compile(r"^\d+\.\d s$|^\d+ min \d\d s$|^\d+ h \d\d min$")


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no chromium on PATH: scripts/build-deps installs Debian's chromium package")


def run_chromium(tmp_path, url, *args, timeout=120):
    """One headless Chromium run on url with its own profile, nothing fetched but the page."""
    profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-quic", "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
           f"--user-data-dir={profile}", *args, url]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    assert p.returncode == 0, f"{cmd}: exit {p.returncode}\n{p.stderr.decode(errors='replace')[-3000:]}"
    return p.stdout.decode(errors="replace")


class PageDom(HTMLParser):
    """What the status page's stable hooks say (status_page.h): per task row, the text and
    attributes of each cell by its class and the row's button; the chart and its series."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows, self.series, self.charts = {}, {}, 0
        self._row = self._cell = self._series = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "tr" and "task" in cls:
            self._row = self.rows.setdefault(a.get("data-task-id"), {"state": a.get("data-state"), "text": {},
                                                                     "attrs": {}, "button": None})
        elif tag == "td" and self._row is not None:
            self._cell = cls[0] if cls else ""
            self._row["text"][self._cell] = ""
            self._row["attrs"][self._cell] = a
        elif tag == "button" and self._row is not None:
            self._row["button"] = a
        elif tag == "svg" and "lag-chart" in cls:
            self.charts += 1
        elif tag == "g" and "series" in cls:
            self._series = a.get("data-task-id")
            self.series[self._series] = []
        elif tag in ("polyline", "circle") and self._series is not None:
            self.series[self._series].append(tag)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "g":
            self._series = None

    def handle_data(self, data):
        if self._row is not None and self._cell:
            self._row["text"][self._cell] += data


def page_of(tmp_path, url):
    return PageDom(run_chromium(tmp_path, url, "--dump-dom"))


def test_status_page_in_a_browser(stack, tmp_path, fresh_name):
    srv = serving(stack, tmp_path)
    try:
        name = fresh_name("page")
        task, c = replicated_collection(srv, name)
        c.insert([[i for i in range(50)], [f"s{i}" for i in range(50)],
                  [[float(i), 0.0, 1.0, 2.0] for i in range(50)]])
        wait_equal("src", "tgt", "default", name, "pk")
        deadline = time.monotonic() + 120
        while "watermark" not in srv.get(task) and time.monotonic() < deadline:
            time.sleep(1)
        assert "watermark" in srv.get(task), srv.get(task)

        url = f"{srv.base}/"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
            csp = r.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "unsafe" not in csp, csp
            assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"

        page = page_of(tmp_path, url)
        assert task in page.rows, (task, list(page.rows))
        row = page.rows[task]
        assert row["state"] == "Running" and row["text"]["state"].strip() == "Running", row
        lag = row["text"]["lag"].strip()
        assert LAG_TEXT.match(lag), f"lag cell '{lag}': {row}"
        assert 0 <= float(row["attrs"]["lag"]["data-lag-seconds"]) < 600, row
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", row["text"]["watermark"].strip()), row
        assert sum(int(x) for x in row["text"]["applied"].split("/")) >= 50, row
        assert re.match(r"^\d+ \(peak \d+\)$", row["text"]["inflight"].strip()), row
        # the chart: an SVG drawn by the server, with this task's lag on it
        assert page.charts == 1
        assert task in page.series and page.series[task], page.series
        # the inline script ran (the policy's hash is its own): it enabled the button
        assert row["button"] is not None and row["button"].get("data-action") == "pause", row
        assert "disabled" not in row["button"], row["button"]

        # The sampler (every 10 s, the first at once) has drawn this task's lag as a line and knows
        # its rate once two of its samples are in: neither is there if it never samples.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = page_of(tmp_path, url)
            row = page.rows[task]
            if "polyline" in page.series.get(task, []) and re.match(r"^\d+\.\d$", row["text"]["rate"].strip()):
                break
            time.sleep(2)
        assert "polyline" in page.series.get(task, []), page.series
        assert re.match(r"^\d+\.\d$", row["text"]["rate"].strip()), row

        shot = build_dir() / "artifacts" / "status-page.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        if shot.exists():
            shot.unlink()
        run_chromium(tmp_path, url, f"--screenshot={shot}", "--window-size=1280,900")
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10000, (shot, len(data))

        status, reply = srv.post("pause", {"task_id": task})
        assert status == 200, reply
        page = page_of(tmp_path, url)
        row = page.rows[task]
        assert row["state"] == "Paused" and row["text"]["state"].strip() == "Paused", row
        assert row["button"].get("data-action") == "resume", row
        srv.post("delete", {"task_id": task})
    finally:
        srv.stop()
