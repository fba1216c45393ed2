"""deploy/'s Grafana dashboard and Prometheus rules against a real `mcdc serve`: every metric name
their expressions use is one its GET /metrics exposes, and each has a value once a task has copied
a snapshot and replicated rows, so no panel stays empty and no rule compares with nothing on a
healthy mcdc.

ctest's deploy_names runs the same name check (deploy/check.py) offline, on the text test_metrics
prints from hand-made snapshots; this test proves that text is what the server sends. Names come
from TYPE lines as well as samples (a histogram's _bucket, _sum, _count count as its name; `up` is
Prometheus's own).

The queue does not matter here: Kafka source only."""
import sys
import time
import urllib.request
from pathlib import Path

from pymilvus import utility

from mcdcserver import McdcServer, connect, count_rows, wait_equal
from test_bulk_insert import make, rows

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
import check  # noqa: E402  deploy/check.py


def scrape(srv) -> str:
    with urllib.request.urlopen(f"{srv.base}/metrics", timeout=10) as r:
        return r.read().decode()


def test_dashboard_and_rules_use_only_exposed_metrics(stack, tmp_path, fresh_name):
    dash, rules = check.load_dashboard(), check.load_rules()
    assert not check.dashboard_shape(dash) + check.rules_shape(rules)
    used = check.referenced_names(dash, rules)

    srv = McdcServer(stack, tmp_path)
    srv.start()
    connect("src", srv.source_uri)
    connect("tgt", stack["MCDC_TARGET_URI"])
    name = fresh_name("dash")
    try:
        # Before any task: every name is already declared (TYPE lines), if not yet sampled.
        assert not check.unknown_names(dash, rules, scrape(srv))

        coll = make(name)
        coll.insert(rows(0, 200))
        coll.flush()
        assert count_rows("src", name) == 200
        task = srv.create_task(collection_infos=[{"name": name, "snapshot": True}])
        coll.insert(rows(200, 50))
        coll.delete("pk in [0, 1, 2]")
        wait_equal("src", "tgt", "default", name, "pk")

        deadline = time.monotonic() + 300
        while True:
            t = srv.get(task)
            phases = {c["phase"] for c in srv.copies(task).values()}
            if t.get("watermark") and phases == {"streaming"}:
                break
            assert time.monotonic() < deadline, f"no watermark or copy not done after 300 s: {t}"
            time.sleep(1)

        text = scrape(srv)
        assert not check.unknown_names(dash, rules, text)
        sampled = check.sampled_names(text) | check.PROMETHEUS_OWN
        empty = sorted(n for n in used if n not in sampled)
        assert not empty, f"names the dashboard or rules use with no sample on a running task: {empty}"
        # The watermark the rules watch is the one get shows, and lag is now minus it.
        m = srv.metrics()
        wm = m[f'mcdc_task_watermark_seconds{{task_id="{task}"}}']
        lag = m[f'mcdc_task_lag_seconds{{task_id="{task}"}}']
        assert abs(time.time() - wm - lag) < 30, (wm, lag)
        # The same watermark in milvus-cdc's name and unit (ms): equal within rounding, either way.
        assert abs(m[f'milvus_cdc_replicate_tt{{task_id="{task}",op_type="write"}}'] - wm * 1000) <= 1
        assert m['milvus_cdc_task_num{task_state="Running"}'] >= 1
    finally:
        for alias in ("src", "tgt"):
            try:
                if utility.has_collection(name, using=alias):
                    utility.drop_collection(name, using=alias)
            except Exception as ex:  # noqa: BLE001 - cleanup only
                print(f"cleanup: drop {alias}:{name}: {ex}")
        print(srv.log.read_text(errors="replace")[-3000:] if srv.log.exists() else "")
        srv.stop()  # raises on a sanitizer report in the log
