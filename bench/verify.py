#!/usr/bin/env python3
"""bench/verify.py — how fast `mcdc verify` compares a collection, set against the fastest the
source exports the same rows through its Query API, in the same run.

    .cache/venv/bin/python bench/verify.py [--rows N] [--quick] [--page-rows N] [--readers N]

Starts the stack if it is not running (and stops it again at the end only then).

  fill      N rows (benchlib's rows: int64 PK, float vector dim 128, varchar 24) into a collection of
            the same name on the source and on the target (straight, no mcdc: the bench is about
            reading), 2 partitions (half each), indexed (FLAT), loaded and flushed.
  export    the ceiling: every row of the source collection ("*"), page after page of --export-page
            rows by "pk > last", partition by partition, as QueryRequests built with pymilvus's own
            request builder and sent over its gRPC stub, at consistency Bounded (no wait for a time
            tick); the reply's protobuf is parsed, nothing else is done with it. One client, one
            call at a time, then the same with one client per partition at once (export_2_rows_per_s);
            the ceiling is the faster of the two.
  verify    `mcdc verify --rechecks 0 --json` on the pair: rows/s = N / wall seconds of the process
            (start to exit, connections and the count(*)s included); its peak RSS (VmHWM, read every 20 ms until it exits).
            Then once more after deleting 10 rows on the target, to show it finds them (a check of
            the bench itself: the run fails if it does not).

Prints one JSON line per figure (bench/run.py's format), then a table. Never fails on a number: the
exit code says only whether the run itself worked.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
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
from pymilvus.client.prepare import Prepare as RequestPrepare  # noqa: E402
from pymilvus.client.utils import check_status  # noqa: E402

import benchlib as bl  # noqa: E402
from run import MIB, Run, busy, log  # noqa: E402

PARTS = ["_default", "p1"]


class VerifyRun(Run):
    def fill(self, name):
        a = self.args
        rows = bl.Rows(a.batch)
        half = a.rows // 2
        for alias in ("src", "tgt"):
            c = Collection(name, bl.schema(), using=alias, shards_num=2)
            self.to_drop.append((alias, name))
            c.create_partition("p1")
            c.create_index("vec", bl.INDEX)
            c.load()
            for part, lo, n in (("_default", 0, half), ("p1", half, a.rows - half)):
                for start in range(lo, lo + n, a.batch):
                    c.insert(rows.columns(start, min(a.batch, lo + n - start)), partition_name=part)
            c.flush()
            got = bl.count(c)
            if got != a.rows:
                raise RuntimeError(f"fill: {alias} holds {got} rows, not {a.rows}")

    def export_part(self, stub, name, part, out):
        """Every row of one partition, page by page; returns rows read."""
        a = self.args
        last, n = None, 0
        while True:
            req = RequestPrepare.query_request(name, f"pk > {last}" if last is not None else "pk >= 0", ["*"],
                                               [part], limit=a.export_page, consistency_level="Bounded")
            res = stub.Query(req, timeout=300)
            check_status(res.status)
            keys = next((f.scalars.long_data.data for f in res.fields_data if f.field_name == "pk"), [])
            if not keys:
                break
            n += len(keys)
            last = max(keys)
        out.append(n)

    def export(self, name, parallel):
        stub = connections._fetch_handler("src")._stub
        got = []
        b0 = bl.machine_busy()
        t0 = time.monotonic()
        if parallel:
            ts = [threading.Thread(target=self.export_part, args=(stub, name, p, got)) for p in PARTS]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        else:
            for p in PARTS:
                self.export_part(stub, name, p, got)
        secs = time.monotonic() - t0
        if sum(got) != self.args.rows:
            raise RuntimeError(f"export read {sum(got)} rows, not {self.args.rows}")
        return self.args.rows / secs, secs, busy(b0, bl.machine_busy())

    def verify(self, name):
        a = self.args
        cmd = [str(REPO / "build" / "mcdc"), "verify", "--source", self.stack["MCDC_SOURCE_URI"].split("://", 1)[-1],
               "--target", self.stack["MCDC_TARGET_URI"].split("://", 1)[-1], "--collection", name, "--json",
               "--rechecks", "0"]
        if a.page_rows:
            cmd += ["--page-rows", str(a.page_rows)]
        if a.readers:
            cmd += ["--readers", str(a.readers)]
        b0 = bl.machine_busy()
        t0 = time.monotonic()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
            # VmHWM of the process's own memory, read until it exits: ru_maxrss (wait4) would also count
            # the forked Python before the exec.
            hwm = 0
            while p.poll() is None:
                try:
                    with open(f"/proc/{p.pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                hwm = max(hwm, int(line.split()[1]) * 1024)
                except OSError:
                    pass
                time.sleep(0.02)
            secs = time.monotonic() - t0
            out.seek(0)
            err.seek(0)
            p.stdout, p.stderr = out.read(), err.read()
        rss = hwm
        self.busy = busy(b0, bl.machine_busy())
        if p.returncode not in (0, 1):
            raise RuntimeError(f"mcdc verify exited {p.returncode}: {p.stdout}{p.stderr}")
        return p.returncode, json.loads(p.stdout)["collections"][0], secs, rss

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
        name = self.coll_name("verify")
        r = {}
        try:
            for alias in ("src", "tgt"):
                connections.disconnect(alias)
            connect("src", self.stack["MCDC_SOURCE_URI"])
            connect("tgt", self.stack["MCDC_TARGET_URI"])
            log(f"filling {name} with {a.rows} rows on both sides")
            self.fill(name)
            log("export ceiling: one client, then one per partition")
            r["export1"] = self.export(name, False)
            r["export2"] = self.export(name, True)
            log(f"export {r['export1'][0]:.0f} / {r['export2'][0]:.0f} rows/s; mcdc verify")
            code, res, secs, rss = self.verify(name)
            if code != 0 or not res["equal"]:
                raise RuntimeError(f"verify of equal collections said: {res}")
            r["verify"] = (a.rows / secs, secs, res, rss, self.busy)
            Collection(name, using="tgt").delete(f"pk in {list(range(1000, 1010))}")
            code, res2, secs2, _ = self.verify(name)
            if code != 1 or res2["missing"]["count"] != 10:
                raise RuntimeError(f"verify missed 10 deleted rows: {res2}")
            r["verify_diff"] = (a.rows / secs2, secs2)
        finally:
            for alias, n in list(self.to_drop):
                try:
                    if utility.has_collection(n, using=alias):
                        utility.drop_collection(n, using=alias)
                except Exception as e:  # noqa: BLE001
                    log(f"cleanup: drop {alias}:{n}: {e}")
            if started_stack:
                subprocess.run([str(STACK), "stop"], check=False)
        self.report(r)

    def report(self, r):
        a = self.args
        print(f"# mcdc verify bench: {a.rows} rows, dim {bl.DIM}, 2 partitions, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        e1, e2 = r["export1"], r["export2"]
        ceil = max(e1[0], e2[0])
        self.figure("export_rows_per_s", e1[0], "rows/s", seconds=round(e1[1], 2), page=a.export_page,
                    machine_busy=e1[2],
                    note="one client: pre-built QueryRequests over pymilvus's gRPC stub, partition after partition")
        self.figure("export_2_rows_per_s", e2[0], "rows/s", seconds=round(e2[1], 2), page=a.export_page,
                    machine_busy=e2[2], note="one client per partition at once")
        v = r["verify"]
        self.figure("verify_rows_per_s", v[0], "rows/s", seconds=round(v[1], 2), page_rows=a.page_rows or 4096,
                    readers=a.readers or 2, machine_busy=v[4],
                    note="mcdc verify process start to exit; it reads every row twice, once on each server")
        self.figure("verify_ratio", v[0] / ceil, "ratio", goal=0.8, op=">=",
                    note="verify_rows_per_s / the faster export")
        self.figure("verify_ratio_one_client", v[0] / e1[0], "ratio", goal=0.8, op=">=",
                    note="verify_rows_per_s / the one-client export")
        self.figure("verify_max_rss_mib", v[3] / MIB, "MiB")
        self.figure("verify_with_differences_rows_per_s", r["verify_diff"][0], "rows/s",
                    seconds=round(r["verify_diff"][1], 2), note="10 rows missing on the target, found")
        print()
        print(f"{'figure':<36} {'value':>12} {'unit':<7}")
        for f in self.figures:
            print(f"{f['figure']:<36} {f['value']:>12.6g} {f['unit']:<7}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None, help="rows of the compared collection (default 200000)")
    p.add_argument("--quick", action="store_true", help="sanity run: 20000 rows")
    p.add_argument("--batch", type=int, default=5000, help="rows per insert call of the fill (default 5000)")
    p.add_argument("--export-page", type=int, default=16384, help="rows per export Query (default 16384, the most)")
    p.add_argument("--page-rows", type=int, help="mcdc verify --page-rows (default: its own)")
    p.add_argument("--readers", type=int, help="mcdc verify --readers (default: its own)")
    p.add_argument("--timeout", type=float, default=1800, help="give up on a verify after this many seconds")
    a = p.parse_args(argv)
    if a.rows is None:
        a.rows = 20_000 if a.quick else 200_000
    return a


if __name__ == "__main__":
    VerifyRun(parse_args()).main()
