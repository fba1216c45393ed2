#!/usr/bin/env python3
"""bench/snapshot.py — how fast a task's snapshot copies a collection mcdc did not see being
written, set against the fastest the target takes plain inserts, in the same run.

    .cache/venv/bin/python bench/snapshot.py [--rows N] [--shards 1,2] [--quick] [--page-rows N] ...

Starts the stack if it is not running (and stops it again at the end only then). For each shard
count (default 1, then 2), one after the other on the same stack:

  prepare   a fresh `mcdc serve` (tests/it/mcdcserver.py, own store: its VmHWM then covers little
            but the copy); the source collection is created empty, a throw-away task makes mcdc
            create its target twin, we index and load that twin and delete the task — so the copy,
            like the ceiling, writes into an empty, indexed, loaded collection and neither clock
            counts a create, an index or a load (bench/run.py's catch-up does the same).
  fill      N rows (benchlib's rows: int64 PK, float vector dim 128, varchar) into the source
            collection, indexed (FLAT) and loaded (the copy reads it through Query), in calls of
            --batch rows; then flushed, so the copy reads sealed segments, as it mostly would.
  ceiling   the same N rows straight into another empty, indexed, loaded target collection with
            the same shards: every InsertRequest is built beforehand with pymilvus's own request
            builder (not timed), then sent over pymilvus's gRPC stub with --ceiling-inflight calls in
            flight, until a Strong count(*) returns N (benchlib.raw_insert_ceiling, as bench/run.py's
            pipelined ceiling): the fastest feeding of the target written with pymilvus, nothing but
            the calls and the final count timed. It and the copy start once the target's datanode
            persists every channel (Run.settle).
  snapshot  a task with collection_infos [{"name": ..., "snapshot": true}]: seconds from the create
            request until get shows the copy's phase "streaming" (rows_copied every 0.1 s meanwhile),
            and until a Strong count(*) on the target returns N. snapshot_rows_per_s = N / (create
            → streaming); snapshot_ratio = snapshot_rows_per_s / ceiling_rows_per_s.
  resources mcdc's VmHWM (peak RSS since its start) when the copy is done: max_rss_mib; beside it
            VmRSS sampled every 0.1 s during the copy, and CPU-s per 100 000 rows copied.

Prints one JSON line per figure (bench/run.py's format, with "shards"), then a table. Never fails
on a number: the exit code says only whether the run itself worked.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_PY = REPO / ".cache" / "venv" / "bin" / "python"
try:
    import pymilvus  # noqa: F401
except ImportError:
    if VENV_PY.exists() and Path(sys.executable).resolve() != VENV_PY.resolve():
        os.execv(str(VENV_PY), [str(VENV_PY), *sys.argv])
    raise

sys.path.insert(0, str(REPO / "tests" / "it"))
sys.path.insert(0, str(REPO / "bench"))

from pymilvus import Collection, connections, utility  # noqa: E402

import benchlib as bl  # noqa: E402
from run import MIB, Run, busy, log  # noqa: E402


class SnapshotRun(Run):
    def drop(self, alias, name):
        if (alias, name) in self.to_drop:
            self.to_drop.remove((alias, name))
        if utility.has_collection(name, using=alias):
            utility.drop_collection(name, using=alias)

    def prepare(self, srv, name, shards):
        """The empty source collection and its target twin as mcdc makes it, indexed and loaded by us."""
        Collection(name, bl.schema(), using="src", shards_num=shards)
        self.to_drop.append(("src", name))
        task = srv.create_task(collection_infos=[{"name": name}])
        self.load_target(self.wait_target(name))
        status, reply = srv.post("delete", {"task_id": task})
        if status != 200:
            raise RuntimeError(f"delete of the preparing task failed: {reply}")

    def fill(self, name, rows):
        a = self.args
        c = Collection(name, using="src")
        c.create_index("vec", bl.INDEX)
        c.load()
        secs = bl.insert_all(c, rows, a.rows, a.batch)
        c.flush()
        got = bl.count(c)
        if got != a.rows:
            raise RuntimeError(f"fill: the source holds {got} rows, not {a.rows}")
        return a.rows / secs

    def insert_ceiling(self, rows, shards):
        """N rows into an empty loaded target collection, requests built before the clock, up to
        --ceiling-inflight calls in flight (benchlib.raw_insert_ceiling): (rows/s, seconds, seconds
        of the calls alone, busy over them). Like the copy, it starts once the target's datanode
        persists every channel (benchlib.wait_datanode_settled)."""
        a = self.args
        b = {}

        def watch():
            self.settle("ceiling")
            b[0] = bl.machine_busy()
            return lambda: b.__setitem__(1, bl.machine_busy())
        rate, secs, t_calls = bl.raw_insert_ceiling(rows, self.coll_name(f"ceil{shards}"), "tgt", shards, a.rows,
                                                   a.batch, a.ceiling_inflight, watch=watch)
        return rate, secs, t_calls, busy(b[0], b[1])

    def copy(self, srv, sampler, name):
        """The snapshot task, from its create request until streaming and until the target holds N."""
        a = self.args
        self.settle("snapshot")
        pid = srv.proc.pid
        _, cpu0, _ = bl.proc_sample(pid)
        b0 = bl.machine_busy()
        t0 = time.monotonic()
        task = srv.create_task(collection_infos=[{"name": name, "snapshot": True}])
        self.tasks.append(task)
        created = time.monotonic() - t0
        series, first, entry = [], None, None
        while True:
            entry = srv.copies(task).get(name)
            now = time.monotonic() - t0
            if entry:
                series.append((now, entry["rows_copied"], entry["phase"]))
                if first is None and entry["rows_copied"] > 0:
                    first = now
                if entry["phase"] == "streaming":
                    break
                if entry.get("last_error"):
                    log(f"copy retrying: {entry['last_error']}")
            if now > a.timeout:
                raise RuntimeError(f"snapshot: not streaming after {a.timeout} s: {srv.get(task)}")
            time.sleep(0.1)
        streaming = time.monotonic() - t0
        _, cpu1, hwm = bl.proc_sample(pid)
        b1 = bl.machine_busy()
        rss_max, rss_mean, _ = sampler.window(t0, t0 + streaming)
        tc = Collection(name, using="tgt")
        while (got := bl.count(tc)) != a.rows:
            if got > a.rows or time.monotonic() - t0 > a.timeout:
                raise RuntimeError(f"snapshot: target holds {got} rows, expected {a.rows}")
            time.sleep(0.1)
        visible = time.monotonic() - t0
        # rows_copied about once a second, and the last reading.
        progress, last_t = [], -1.0
        for t, n, ph in series:
            if t - last_t >= 1.0 or (t, n, ph) == series[-1]:
                progress.append([round(t, 1), n])
                last_t = t
        return dict(task=task, created=created, streaming=streaming, visible=visible, first=first,
                    rows_per_s=a.rows / streaming, hwm=hwm, rss_max=rss_max, rss_mean=rss_mean, cpu=cpu1 - cpu0,
                    machine_busy=busy(b0, b1), entry=entry, progress=progress,
                    phases=list(dict.fromkeys(ph for _, _, ph in series)))

    def one(self, workdir, shards):
        from mcdcserver import McdcServer
        a = self.args
        snapshot = {k: v for k, v in (("page_rows", a.page_rows), ("pages_in_flight", a.pages_in_flight),
                                      ("readers", a.readers)) if v}
        (workdir / f"mcdc{shards}").mkdir()
        srv = McdcServer(self.stack, workdir / f"mcdc{shards}", snapshot=snapshot or None)
        srv.start()
        sampler = bl.Sampler(srv.proc.pid)
        sampler.start()
        name = self.coll_name(f"src{shards}")
        res = dict(shards=shards)
        try:
            log(f"[{shards} shards] mcdc serve pid {srv.proc.pid}, log {srv.log}; preparing {name}")
            self.prepare(srv, name, shards)
            rows = bl.Rows(a.batch)
            log(f"[{shards} shards] filling the source with {a.rows} rows")
            res["fill"] = self.fill(name, rows)
            log(f"[{shards} shards] ceiling: {a.rows} rows straight into the target, "
                f"{a.ceiling_inflight} calls in flight")
            res["ceil"], res["ceil_s"], res["ceil_calls_s"], res["ceil_busy"] = self.insert_ceiling(rows, shards)
            log(f"[{shards} shards] ceiling {res['ceil']:.0f} rows/s; snapshot of {name}")
            res["cp"] = self.copy(srv, sampler, name)
            log(f"[{shards} shards] snapshot {res['cp']['rows_per_s']:.0f} rows/s")
        finally:
            for t in self.tasks:
                srv.post("delete", {"task_id": t})
            self.tasks = []
            sampler.stop()
            srv.stop()
            for alias in ("src", "tgt"):
                self.drop(alias, name)
        return res

    def main(self):
        from mcdcserver import connect
        from stackenv import STACK, stack_env
        a = self.args
        started_stack = False
        if subprocess.run([str(STACK), "status"], capture_output=True).returncode != 0:
            log("starting the stack (scripts/stack start)")
            subprocess.run([str(STACK), "start"], check=True)
            started_stack = True
        self.stack = stack_env()
        workdir = Path(tempfile.mkdtemp(prefix="mcdc-bench-snapshot-"))
        ok = False
        results = []
        try:
            for alias in ("src", "tgt"):
                connections.disconnect(alias)
            connect("src", self.stack["MCDC_SOURCE_URI"])
            connect("tgt", self.stack["MCDC_TARGET_URI"])
            for shards in a.shards:
                results.append(self.one(workdir, shards))
            ok = True
        finally:
            for alias, name in list(self.to_drop):
                try:
                    self.drop(alias, name)
                except Exception as e:  # noqa: BLE001
                    log(f"cleanup: drop {alias}:{name}: {e}")
            if started_stack:
                subprocess.run([str(STACK), "stop"], check=False)
            if ok:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                log(f"mcdc's configs, stores and logs kept in {workdir}")
        self.report(results)

    def report(self, results):
        a = self.args
        print(f"# mcdc snapshot bench: {a.rows} rows, batch {a.batch}, dim {bl.DIM}, shards {a.shards}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        for r in results:
            s, cp = r["shards"], r["cp"]
            e = cp["entry"]
            self.figure("source_fill_rows_per_s", r["fill"], "rows/s", shards=s)
            self.figure("ceiling_rows_per_s", r["ceil"], "rows/s", shards=s, seconds=round(r["ceil_s"], 2),
                        insert_calls_s=round(r["ceil_calls_s"], 2), calls_in_flight=a.ceiling_inflight,
                        batch=a.batch, machine_busy=r["ceil_busy"],
                        note="pre-built InsertRequests over pymilvus's gRPC stub, then one Strong count(*)")
            after_first = (a.rows / (cp["streaming"] - cp["first"])
                           if cp["first"] is not None and cp["streaming"] > cp["first"] else None)
            self.figure("snapshot_rows_per_s", cp["rows_per_s"], "rows/s", shards=s,
                        seconds_to_streaming=round(cp["streaming"], 2), seconds_to_visible=round(cp["visible"], 2),
                        create_request_s=round(cp["created"], 2),
                        first_row_copied_after_s=round(cp["first"], 2) if cp["first"] is not None else None,
                        rows_per_s_after_first_row=round(after_first, 1) if after_first else None,
                        rows_copied=e["rows_copied"], rows_total=e["rows_total"], phases=cp["phases"],
                        machine_busy=cp["machine_busy"], progress=cp["progress"])
            self.figure("snapshot_ratio", cp["rows_per_s"] / r["ceil"], "ratio", shards=s,
                        note="snapshot_rows_per_s / ceiling_rows_per_s")
            self.figure("max_rss_mib", cp["hwm"] / MIB, "MiB", shards=s,
                        sampled_max_mib=round(cp["rss_max"] / MIB, 1), sampled_mean_mib=round(cp["rss_mean"] / MIB, 1),
                        cpu_s_per_100k_rows=round(cp["cpu"] * 100_000 / a.rows, 3),
                        note="VmHWM of a fresh mcdc serve once the copy is done")
        self.table()

    def table(self):
        print()
        print(f"{'figure':<26} {'shards':>6} {'value':>12} {'unit':<7}")
        for f in self.figures:
            print(f"{f['figure']:<26} {f['shards']:>6} {f['value']:>12.6g} {f['unit']:<7}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None, help="rows of the copied collection (default 200000)")
    p.add_argument("--quick", action="store_true", help="sanity run: 20000 rows, 2 shards only")
    p.add_argument("--shards", default=None, help="comma-separated shard counts, one run each (default 1,2)")
    p.add_argument("--batch", type=int, default=5000, help="rows per insert call, fill and ceiling (default 5000)")
    p.add_argument("--ceiling-inflight", type=int, default=4,
                   help="ceiling insert calls in flight (default 4, as mcdc's snapshot.pages_in_flight)")
    p.add_argument("--page-rows", type=int, help="mcdc's snapshot.page_rows (default: mcdc's)")
    p.add_argument("--pages-in-flight", type=int, help="mcdc's snapshot.pages_in_flight (default: mcdc's)")
    p.add_argument("--readers", type=int, help="mcdc's snapshot.readers (default: mcdc's)")
    p.add_argument("--timeout", type=float, default=1800, help="give up on a copy after this many seconds")
    a = p.parse_args(argv)
    if a.rows is None:
        a.rows = 20_000 if a.quick else 200_000
    a.shards = [int(x) for x in (a.shards or ("2" if a.quick else "1,2")).split(",")]
    return a


if __name__ == "__main__":
    SnapshotRun(parse_args()).main()
