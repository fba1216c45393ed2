#!/usr/bin/env python3
"""bench/run.py — mcdc's end-to-end benchmark on the real stack (scripts/stack).

    .cache/venv/bin/python bench/run.py [--rows N] [--lag-seconds S] [--quick] [--wal-watch] [--perf FILE]
                                        [--perf-target DIR] [--shards N] [--rounds K]

Starts the stack if it is not running (and stops it again at the end only then), starts its own
`mcdc serve` (tests/it/mcdcserver.py, fresh store in a temporary directory) and measures, side by
side in one run so that a noisy shared machine still gives fair ratios:

  ceiling   N rows (int64 PK, float vector dim 128, varchar) straight into an empty, indexed,
            loaded target collection, until a Strong count(*) returns N: rows/s, three ways.
            ceiling_rows_per_s: the fastest plain-Insert client of this machine, one call at a time
            (every InsertRequest built before the clock with pymilvus's own builder, then sent over
            its gRPC stub; --batch rows a call, as the source writer). ceiling_pipelined_rows_per_s:
            the same with mcdc's batch (apply.batch_rows) and calls in flight (apply.inflight_calls).
            ceiling_upsert_pipelined_rows_per_s: that again as UpsertRequests, which is what a
            catch-up from a channel's past sends (the replay window) into a target collection that
            may hold its rows (--twin-holds-row). Each with the target
            Milvus's CPU-seconds per 100 000 rows (--perf-target DIR also profiles it). Every
            ceiling and both catch-ups start once the target's datanode persists every channel and
            the target is quiet (settle, target_watch); the live phases start after their own
            warm-up, and the delete catch-up (--deletes) has no ceiling to be compared with.
            python_client_rows_per_s: pymilvus's Collection.insert, one call at a time: a Python
            client's speed, not a ceiling (most of its time is Python's).
  catch-up  the same N rows written to the source first; then an mcdc task with
            use_start_position replays them into the target collection mcdc created for the
            source collection (a throw-away task made it before the rows were written; we
            indexed and loaded it, so it too starts empty and loaded): rows/s from the task's
            creation until a Strong count(*) returns N (sent once mcdc's counters, polled every
            0.02 s, show N rows acknowledged, as the ceilings send theirs after the last reply);
            catchup_ratio to the single-client ceiling (goal >= 1.0: mcdc pipelines, the client
            waits for each reply) and catchup_ratio_pipelined to the faster pipelined one, inserts
            or upserts (goal >= 0.9). All of that backlog is the task's replay window (a start in
            the channel's past); the twin being empty at the task's first start, it goes as plain
            inserts (with --twin-holds-row: upserts).
  resume    the other catch-up: a task paused while N rows are written to a new collection, then
            resumed; that backlog lies past its intent and goes as plain inserts:
            resume_catchup_rows_per_s, resume_catchup_ratio(_pipelined) against the same ceilings.
  rounds    --rounds K repeats the three raw ceilings and both catch-ups K times, in turns (the
            Python client runs once, in the first round); each of those five figures is then its
            median round's (of an even K the lower middle one; every round's value in "rounds"),
            each ratio is of the medians (every round's own in "per_round"), and the goal's
            pipelined ceiling is the faster of the two variants' medians. On two shared cores one
            phase swings by more than the pipelined goal's 10 % margin; a median of several swings
            less.
  lag       a steady load at half the Python client's speed for S seconds into the source (a writer process
            on a fixed schedule); per batch the time from the source's ack until a Strong
            count(*) over its PK range returns all of it on the target (4 pollers, each on a
            different pending batch; benchlib.VisibilityProbe): p50, p99 (goal <= 1 s), max.
            Beside it, in the same seconds: a canary (200 rows every 0.5 s straight into another target collection,
            same probe: what target visibility costs under the same load) and mcdc's own
            applied-rows counter (ack -> the target acknowledged the rows to mcdc). After it, the
            same load and probe straight into the target alone (the probe floor). --wal-watch
            also splits each batch's lag at the time tick mcdc waits for (bench/walwatch.py).
            Who used the CPU meanwhile (benchlib.CpuTimeline: source, target, broker, etcd, mcdc,
            the bench's own load), how often the machine was saturated, and whether the batches
            over 1 s waited through such moments; mcdc's own apply-lag and target-call histograms
            (`get` -> latency).
  resources mcdc's RSS idle without tasks (goal <= 25 MiB) and with its caught-up task, max RSS
            during catch-up (goal <= 150 MiB), CPU-seconds per 100 000 rows during catch-up and
            live, from /proc/<pid>/status VmRSS and /proc/<pid>/stat utime+stime every 100 ms.
  decode    build/bench_decode on the real Insert fixture (1000 rows, dim 128): MB/s on one
            core (goal >= 1000).

Prints one JSON line per figure ({"bench": "mcdc", "figure": ..., "value": ..., "unit": ...,
"goal": ..., "goal_op": ">=" | "<=", "ratio_to_goal": value / goal, "met": ...} plus context),
then a table. Never fails on a number: the exit code says only whether the run itself worked.
docs/benchmarks.md has the method and the latest results.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
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

import multiprocessing as mp  # noqa: E402

from pymilvus import Collection, connections, utility  # noqa: E402

import benchlib as bl  # noqa: E402
from stackenv import piece_pid  # noqa: E402

MIB = 1024 * 1024
CANARY_ROWS, CANARY_PERIOD = 200, 0.5  # the canary's batch and its period: 400 rows/s
# mcdc's defaults of apply.batch_rows and apply.inflight_calls (docs/config.md): the pipelined
# ceiling feeds the target as mcdc would, when the run does not set them.
MCDC_BATCH_ROWS, MCDC_INFLIGHT_CALLS = 5000, 4


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.figures = []
        self.tag = uuid.uuid4().hex[:8]
        self.to_drop = []  # (alias, name)
        self.tasks = []
        self.target_cpu = {}  # phase -> the target Milvus's CPU-seconds (target_watch)
        self.target_busy = {}  # phase -> the machine's busy share over the same seconds
        self.perfs = []       # perf record processes of phases not ended yet
        self.timeline = None  # who uses the CPU, the whole run (cpu_timeline)
        self.phase_cores = {}  # phase -> {group: mean cores} over its watched seconds (target_watch)

    # ---- figures -------------------------------------------------------------------------

    def figure(self, name, value, unit, goal=None, op=None, **extra):
        f = {"bench": "mcdc", "figure": name, "value": round(value, 4) if isinstance(value, float) else value,
             "unit": unit}
        if goal is not None:
            f.update(goal=round(goal, 4) if isinstance(goal, float) else goal, goal_op=op,
                     ratio_to_goal=round(value / goal, 3) if goal else None,
                     met=bool(value >= goal if op == ">=" else value <= goal))
        f.update(extra)
        self.figures.append(f)
        print(json.dumps(f), flush=True)
        return f

    def coll_name(self, what):
        return f"bench_{what}_{self.tag}"

    # ---- phases ----------------------------------------------------------------------------

    def wait_target(self, name, timeout=120):
        deadline = time.monotonic() + timeout
        while not utility.has_collection(name, using="tgt"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"mcdc did not create {name} on the target in {timeout} s")
            time.sleep(0.1)
        self.to_drop.append(("tgt", name))
        return Collection(name, using="tgt")

    def load_target(self, coll):
        coll.create_index("vec", bl.INDEX)
        coll.load()

    def idle_rss(self, sampler, seconds):
        """(max RSS, CPU share) of mcdc over `seconds` of doing nothing."""
        t0 = time.monotonic()
        time.sleep(seconds)
        mx, mean, cpu = sampler.window(t0, time.monotonic())
        return mx, cpu / seconds

    def settle(self, what):
        """benchlib.wait_datanode_settled on the target, said in the log when it took a while or gave up."""
        ok, secs, left = bl.wait_datanode_settled(self.stack["MCDC_ETCD_ENDPOINT"], self.stack["MCDC_TARGET_ROOT_PATH"])
        if not ok:
            log(f"{what}: the target's datanode had not settled its channels after {secs:.0f} s "
                f"({'; '.join(left[:4])}{' ...' if len(left) > 4 else ''}); this phase may not pay for persisting its rows")
        elif secs > 0.5:
            log(f"{what}: waited {secs:.1f} s for the target's datanode to settle its channels")

    def target_watch(self, what):
        """Starts watching the target Milvus for one phase: its CPU-seconds, and with --perf-target a
        `perf record -g` of it into DIR/<what>.data. Returns a function that ends the watch; the
        CPU-seconds are then in self.target_cpu[what], and every piece's mean cores over the same
        seconds (the run's CPU timeline) in self.phase_cores[what]. It first waits until the target's datanode
        persists every channel and releases none (benchlib.wait_datanode_settled: every phase then
        pays for writing its own rows, as a catch-up into a collection made minutes earlier does), then
        until the target is quiet, so that no phase pays for the one before it (benchlib.wait_quiet)."""
        pid = piece_pid("target-milvus", self.stack)
        self.settle(what)
        waited = bl.wait_quiet(pid)
        if waited > 1.5:
            log(f"{what}: waited {waited:.1f} s for the target to go quiet")
        perf = None
        if self.args.perf_target:
            out = Path(self.args.perf_target)
            out.mkdir(parents=True, exist_ok=True)
            perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-o", str(out / f"{what}.data"),
                                     "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.perfs.append(perf)  # stopped by cleanup if the phase fails
            time.sleep(0.5)
        cpu0 = bl.proc_sample(pid)[1]
        b0 = bl.machine_busy()
        t0 = time.monotonic()

        def done():
            self.target_cpu[what] = bl.proc_sample(pid)[1] - cpu0
            self.target_busy[what] = busy(b0, bl.machine_busy())
            if self.timeline:
                self.phase_cores[what] = self.timeline.mean_cores(t0, time.monotonic())
            if perf:
                perf.send_signal(2)
                perf.wait(30)
                self.perfs.remove(perf)
        return done

    def raw_ceiling(self, rows, batch, inflight, what, upsert=False):
        """benchlib.raw_insert_ceiling into a fresh target collection: (rows/s, seconds, calls' seconds, and
        over the calls and the count the machine's busy share and the target's CPU-seconds)."""
        a = self.args
        rate, secs, t_calls = bl.raw_insert_ceiling(rows, self.coll_name(what), "tgt", a.shards, a.rows, batch,
                                                   inflight, upsert=upsert, watch=lambda: self.target_watch(what))
        return rate, secs, t_calls, self.target_busy[what], self.target_cpu[what], what

    def ceiling(self, rows):
        a = self.args
        name = self.coll_name("ceil")
        c = bl.create_loaded(name, "tgt", a.shards)
        self.to_drop.append(("tgt", name))
        self.settle("python client")
        bl.wait_quiet(piece_pid("target-milvus", self.stack))
        b0 = bl.machine_busy()
        t0 = time.monotonic()
        t_ins = bl.insert_all(c, rows, a.rows, a.batch)
        got = bl.count(c)
        secs = time.monotonic() - t0
        b1 = bl.machine_busy()
        if got != a.rows:
            raise RuntimeError(f"ceiling: target holds {got} rows, not {a.rows}")
        c.release()
        c.drop()
        self.to_drop.remove(("tgt", name))
        return a.rows / secs, secs, t_ins, busy(b0, b1)

    def replicated(self, srv, what):
        """A new source collection, a task over it (default start) and its target twin as mcdc
        made it, indexed and loaded by us: (name, task, the target Collection)."""
        name = self.coll_name(what)
        Collection(name, bl.schema(), using="src", shards_num=self.args.shards)
        self.to_drop.append(("src", name))
        task = srv.create_task(collection_infos=[{"name": name}])
        self.tasks.append(task)
        tc = self.wait_target(name)
        self.load_target(tc)
        return name, task, tc

    def prepare_catchup(self, srv, what):
        """The source collection, empty, and its target twin as mcdc creates it (a throw-away task
        with the default start makes it, then is deleted), indexed and loaded by us, so that the
        catch-up clock, like the ceiling's, starts with an empty loaded collection and counts
        nothing but replication. --twin-holds-row: one row of a key the source never writes goes
        into the twin, so that mcdc must replay the backlog as upserts (a target that may hold
        them), as a task re-created over a filled target does."""
        name, task, _ = self.replicated(srv, what)
        self.delete_task(srv, task)
        if self.args.twin_holds_row:
            twin = Collection(name, using="tgt")
            twin.insert(bl.Rows(1).columns(-1))
            if bl.count(twin) != 1:
                raise RuntimeError(f"the twin {name} does not hold the one row just written")
        return name

    def delete_task(self, srv, task):
        """Deletes one of the bench's tasks; forgotten by cleanup only once the delete worked."""
        status, reply = srv.post("delete", {"task_id": task})
        if status != 200:
            raise RuntimeError(f"delete of task {task} failed: {reply}")
        self.tasks.remove(task)

    @staticmethod
    def follow_applied(srv, task, rows, before=None):
        """Polls `get` every 0.02 s on a thread of its own and records, in the dict it returns, when
        mcdc's own counters (inserted + upserted rows, past `before`'s) first showed a row ("first")
        and `rows` of them ("applied", with that `get` as "info"), or the task's pause ("paused").
        Returns (marks, an Event set once the polling ends for any reason, a failed `get` too, as
        "error" in marks, and an Event that ends the polling)."""
        marks, ended, stop = {}, threading.Event(), threading.Event()
        base = before["inserted_rows"] + before["upserted_rows"] if before else 0

        def follow():
            try:
                while not stop.is_set():
                    info = srv.get(task)
                    if info["state"] == "Paused":
                        marks["paused"] = info.get("reason")
                        return
                    ap = info["applied"]
                    got = ap["inserted_rows"] + ap["upserted_rows"] - base
                    if got and "first" not in marks:
                        marks["first"] = time.monotonic()
                    if got >= rows:
                        marks["applied"] = time.monotonic()
                        marks["info"] = info
                        return
                    time.sleep(0.02)
            except Exception as e:  # noqa: BLE001 - shown by caught_up, in the bench's own thread
                marks["error"] = repr(e)
            finally:
                ended.set()
        threading.Thread(target=follow, daemon=True).start()
        return marks, ended, stop

    @staticmethod
    def caught_up(srv, task, tc, marks, ended, want, deadline, what):
        """The end of a catch-up's clock: once mcdc's counters show every row acknowledged by the
        target, a Strong count(*) (which sees every write acknowledged before it was sent) must
        return `want`. As the ceilings' clocks, which stop at a count sent right after the last
        reply; counting in a loop instead would stop it up to a count's time (~0.25 s) late."""
        while not ended.wait(0.5):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: mcdc applied fewer rows than expected in time: {srv.get(task)}")
        if "paused" in marks:
            raise RuntimeError(f"{what}: task paused: {marks['paused']}")
        if "applied" not in marks:
            raise RuntimeError(f"{what}: following the task failed: {marks.get('error')}")
        got = -1
        while got != want:
            got = bl.count(tc)
            if got > want or time.monotonic() > deadline:
                raise RuntimeError(f"{what}: target holds {got} rows, expected {want}: {srv.get(task)}")
            if got != want:
                time.sleep(0.05)
        return time.monotonic()

    def resume_catchup(self, srv, sampler, rows, what):
        """The other catch-up: a task paused (or an mcdc down) while N rows were written. All of
        the backlog lies past the task's intent, so it replays as plain inserts, not upserts.
        rows/s from the resume until a Strong count(*) on the target returns N."""
        a = self.args
        name, task, tc = self.replicated(srv, what)
        status, reply = srv.post("pause", {"task_id": task})
        if status != 200:
            raise RuntimeError(f"pause of the resume task failed: {reply}")
        bl.insert_all(Collection(name, using="src"), rows, a.rows, a.batch)
        before = srv.get(task)["applied"]
        # The source just took N rows and is still flushing them on the same cores: the
        # replay-window catch-up's source was filled minutes before its clock.
        bl.wait_quiet(piece_pid("source-milvus", self.stack))
        watch = self.target_watch(what)
        pid = srv.proc.pid
        _, cpu0, _ = bl.proc_sample(pid)
        b0 = bl.machine_busy()
        t0 = time.monotonic()
        status, reply = srv.post("resume", {"task_id": task})
        if status != 200:
            raise RuntimeError(f"resume failed: {reply}")
        marks, ended, stop = self.follow_applied(srv, task, a.rows, before)
        try:
            secs = self.caught_up(srv, task, tc, marks, ended, a.rows, t0 + a.timeout, "resume catch-up") - t0
        finally:
            stop.set()
        _, cpu1, _ = bl.proc_sample(pid)
        b1 = bl.machine_busy()
        watch()
        info = srv.get(task)
        rss_max, _, _ = sampler.window(t0, t0 + secs)
        call = info.get("latency", {}).get("target_call_seconds", {})
        return dict(what=what, task=task, name=name, rows_per_s=a.rows / secs, secs=secs, cpu=cpu1 - cpu0,
                    rss_max=rss_max, machine_busy=busy(b0, b1),
                    inserted=info["applied"]["inserted_rows"] - before["inserted_rows"],
                    upserted=info["applied"]["upserted_rows"] - before["upserted_rows"],
                    inflight_peak=info["applied"].get("calls_in_flight_peak"), call=call,
                    target_cpu=self.target_cpu[what],
                    first_after=marks["first"] - t0, applied_after=marks["applied"] - t0,
                    waits=wait_shares(marks["info"]["applied"], before, a.shards, marks["applied"] - t0))

    def retire(self, srv, task, name):
        """Deletes a finished phase's task and drops its collection on both sides, as the ceilings
        drop theirs. A Milvus 2.3 target still holding the last phase's rows (200 000: the datanode's
        insert buffers, the querynode's growing segments) took the next catch-up's rows for 1.9-2.5
        CPU-s per 100 000, whichever catch-up came second, most of it the datanode zeroing fresh
        pages under MergeInsertData; with this, 0.9-2.4, median 1.5 (docs/benchmarks.md)."""
        self.delete_task(srv, task)
        for alias in ("tgt", "src"):
            utility.drop_collection(name, using=alias)
            self.to_drop.remove((alias, name))

    def round(self, srv, sampler, rows, r, res):
        """One round: the source filled for a replay window, the three raw ceilings, in the first
        round the Python client, then the replay-window catch-up and the resume catch-up. Each
        phase's name (for target_watch, perf files and collection names) carries _<round> past the
        first round."""
        a = self.args
        sfx = f"_{r + 1}" if r else ""
        src_name = self.prepare_catchup(srv, "src" + sfx)
        log(f"round {r + 1} of {a.rounds}: filling the source with {a.rows} rows")
        out = {"fill_rate": self.fill_source(rows, src_name)}
        python = "" if r else "; then pymilvus's insert"
        log(f"ceilings: {a.rows} rows straight into the target (pre-built requests: one call at a time, "
            f"then mcdc's batch and calls in flight{python})")
        out["raw1"] = self.raw_ceiling(rows, a.batch, 1, "ceil1" + sfx)
        mcdc_batch = a.batch_rows or MCDC_BATCH_ROWS
        inflight = a.inflight_calls or MCDC_INFLIGHT_CALLS
        out["rawp"] = self.raw_ceiling(bl.Rows(mcdc_batch), mcdc_batch, inflight, "ceilp" + sfx)
        out["rawu"] = self.raw_ceiling(bl.Rows(mcdc_batch), mcdc_batch, inflight, "ceilu" + sfx, upsert=True)
        if not r:
            res["ceil"], res["ceil_s"], res["ceil_ins_s"], res["ceil_busy"] = self.ceiling(rows)
        log(f"ceiling {out['raw1'][0]:.0f} rows/s (one call at a time), {out['rawp'][0]:.0f} (pipelined), "
            f"{out['rawu'][0]:.0f} (pipelined upserts); catch-up of {src_name}")
        out["cu"] = self.catchup(srv, sampler, src_name, "catchup" + sfx)
        log(f"catch-up {out['cu']['rows_per_s']:.0f} rows/s; the same backlog behind a paused task")
        self.retire(srv, out["cu"]["task"], src_name)
        out["ru"] = self.resume_catchup(srv, sampler, rows, "resume" + sfx)
        log(f"resume catch-up {out['ru']['rows_per_s']:.0f} rows/s")
        return out

    def fill_source(self, rows, name):
        a = self.args
        c = Collection(name, using="src")
        secs = bl.insert_all(c, rows, a.rows, a.batch)
        return a.rows / secs

    def catchup(self, srv, sampler, name, what):
        a = self.args
        pid = srv.proc.pid
        perf = None
        if a.perf and what == "catchup":  # the first round's
            perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-o", a.perf, "-p", str(pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        # After perf's start-up: the watch's seconds (target CPU, cores) are the clock's.
        watch = self.target_watch(what)
        _, cpu0, _ = bl.proc_sample(pid)
        b0 = bl.machine_busy()
        t0 = time.monotonic()
        task = srv.create_task(collection_infos=[{"name": name, "use_start_position": True}])
        self.tasks.append(task)
        marks, ended, stop = self.follow_applied(srv, task, a.rows)
        tc = Collection(name, using="tgt")
        try:
            t_end = self.caught_up(srv, task, tc, marks, ended, a.rows + (1 if a.twin_holds_row else 0),
                                   time.monotonic() + a.timeout, "catch-up")
        finally:
            stop.set()
        _, cpu1, _ = bl.proc_sample(pid)
        b1 = bl.machine_busy()
        watch()
        target_cpu = self.target_cpu[what]
        if perf:
            perf.send_signal(2)
            perf.wait(30)
        secs = t_end - t0
        rss_max, rss_mean, _ = sampler.window(t0, t_end)
        return dict(what=what, task=task, secs=secs, rows_per_s=a.rows / secs, cpu=cpu1 - cpu0, rss_max=rss_max,
                    rss_mean=rss_mean, first_after=marks["first"] - t0, applied_after=marks["applied"] - t0, messages=marks["info"]["applied"]["messages"],
                    inflight_peak=marks["info"]["applied"].get("calls_in_flight_peak"), machine_busy=busy(b0, b1),
                    target_cpu=target_cpu, call=marks["info"].get("latency", {}).get("target_call_seconds", {}),
                    inserted=marks["info"]["applied"]["inserted_rows"], upserted=marks["info"]["applied"]["upserted_rows"],
                    waits=wait_shares(marks["info"]["applied"], None, a.shards, marks["applied"] - t0))

    def delete_catchup(self, srv, n):
        """n rows, then n single-key delete calls (one WAL Delete each) into a new source
        collection; then a use_start_position task. Deletes/s from the task's creation until mcdc's
        counters show every row and every delete acknowledged, and how many target calls it took."""
        a = self.args
        name = self.coll_name("del")
        c = Collection(name, bl.schema(), using="src", shards_num=a.shards)
        self.to_drop.append(("src", name))
        bl.insert_all(c, bl.Rows(a.batch), n, a.batch)
        t0 = time.monotonic()
        for i in range(n):
            c.delete(f"pk in [{i}]")
        fill = n / (time.monotonic() - t0)
        t0 = time.monotonic()
        task = srv.create_task(collection_infos=[{"name": name, "use_start_position": True}])
        self.tasks.append(task)
        while True:
            info = srv.get(task)
            ap = info["applied"]
            if ap["inserted_rows"] + ap["upserted_rows"] >= n and ap["deleted_rows"] >= n:
                break
            if time.monotonic() - t0 > a.timeout:
                raise RuntimeError(f"delete catch-up: not done after {a.timeout} s: {info}")
            time.sleep(0.05)
        secs = time.monotonic() - t0
        return dict(deletes=n, secs=secs, per_s=n / secs, source_deletes_per_s=fill,
                    calls=info["latency"]["target_call_seconds"]["count"])

    def live_lag(self, srv, ctx, rate, seconds):
        a = self.args
        name, task, tc = self.replicated(srv, "lag")
        # Warm-up: one batch through the whole path before the clock runs.
        bl.insert_all(Collection(name, using="src"), bl.Rows(a.batch), a.batch, a.batch, lo=-a.batch)
        deadline = time.monotonic() + 120
        while bl.count(tc) != a.batch:
            if time.monotonic() > deadline:
                raise RuntimeError(f"live lag: the warm-up batch did not reach the target: {srv.get(task)}")
            time.sleep(0.1)
        ww = None
        if a.wal_watch:
            from walwatch import WalWatch, pchannels
            ww = WalWatch(self.stack["MCDC_KAFKA_BROKERS"], pchannels("src", name))
            ww.start()
            ww.ready.wait(10)
        # mcdc's own view, beside the probe: its applied-rows counter (task get) every 100 ms.
        applied, stop = [], threading.Event()

        def follow():
            while not stop.is_set():
                ap = srv.get(task)["applied"]
                applied.append((time.monotonic(), ap["inserted_rows"] + ap["upserted_rows"]))
                stop.wait(0.1)

        th = threading.Thread(target=follow, daemon=True)
        timeline = self.timeline
        _, cpu0, _ = bl.proc_sample(srv.proc.pid)
        b0 = bl.machine_busy()
        # The canary: a light load straight into another target collection at the same time,
        # probed the same way: what target visibility costs under the same machine load.
        cname = self.coll_name("canary")
        canary_coll = bl.create_loaded(cname, "tgt", a.shards)
        self.to_drop.append(("tgt", cname))
        canary = {}
        cth = threading.Thread(target=lambda: canary.update(bl.steady_lag(
            ctx, self.stack["MCDC_TARGET_URI"], cname, canary_coll, CANARY_ROWS / CANARY_PERIOD, CANARY_ROWS,
            seconds, 0, probe_threads=2)), daemon=True)
        th.start()
        cth.start()
        r = bl.steady_lag(ctx, srv.source_uri, name, tc, rate, a.batch, seconds, 0)
        stop.set()
        th.join()
        cth.join()
        r["canary"] = canary
        _, cpu1, _ = bl.proc_sample(srv.proc.pid)
        b1 = bl.machine_busy()
        info = srv.get(task)
        r.update(cpu=cpu1 - cpu0, rows=r["batches"] * a.batch, machine_busy=busy(b0, b1), rate=rate,
                 inflight_peak=info["applied"].get("calls_in_flight_peak"), latency=info.get("latency"),
                 saturation=saturation(timeline, r["per_batch"]))
        # Batch k is acknowledged by the target to mcdc about when the counter passes the warm-up
        # batch plus k+1 batches (approximate: the counter sums both channels).
        r["mcdc_applied"] = []
        i = 0
        for k, lag, ab, t_ack, ts, _ in r["per_batch"]:
            need = a.batch * (k + 2)
            while i < len(applied) and applied[i][1] < need:
                i += 1
            if i < len(applied):
                r["mcdc_applied"].append(applied[i][0] - t_ack)
        if ww:
            ww.stop()
            pre, post = [], []
            for k, lag, lb, t_ack, ts, _ in r["per_batch"]:
                rel = ww.release(ts)
                if rel is not None:
                    pre.append(rel - t_ack)
                    post.append(lag - (rel - t_ack))
            r.update(wal_pre=pre, wal_post=post, tick_gaps=ww.tick_gaps(), tick_delay=ww.tick_delay)
        return r

    def cpu_timeline(self, srv):
        """Starts sampling who uses the CPU, for the whole run: each piece of the stack, mcdc, and
        the bench's own processes (the ceilings' clients, the catch-ups' pollers and counts, the
        writer, the probes, the canary; perf under --perf) as `load`. piece_pid gets the run's stack
        settings: without them it would run `scripts/stack env` for each piece, every 2 s, on the
        cores being measured."""

        def piece(name):
            return lambda: [piece_pid(name, self.stack)]
        me, mcdc = os.getpid(), srv.proc.pid
        groups = {"target": piece("target-milvus"), "source": piece("source-milvus"), "broker": piece("kafka"),
                  "etcd": piece("etcd"), "mcdc": lambda: [mcdc],
                  "load": lambda: [me] + [p for p in bl.descendants(me) if p != mcdc]}
        t = bl.CpuTimeline(groups)
        t.start()
        return t

    def direct_lag(self, ctx, rate, seconds):
        a = self.args
        name = self.coll_name("direct")
        c = bl.create_loaded(name, "tgt", a.shards)
        self.to_drop.append(("tgt", name))
        return bl.steady_lag(ctx, self.stack["MCDC_TARGET_URI"], name, c, rate, a.batch, seconds, 0)

    def write_lags(self, lag, ref):
        with open(self.args.lags_out, "w") as f:
            json.dump({"mcdc": {k: v for k, v in lag.items()}, "direct": ref}, f)

    def decode(self):
        from stackenv import tool
        fixture = REPO / "tests" / "fixtures" / "kafka" / "insert_bench_dim128.bin"
        out = subprocess.run([str(tool("bench_decode")), "--seconds", "2", str(fixture)], check=True,
                             capture_output=True, text=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")][0]

    # ---- the whole run ---------------------------------------------------------------------

    def main(self):
        from mcdcserver import McdcServer, connect
        from stackenv import STACK, stack_env
        a = self.args
        started_stack = False
        if subprocess.run([str(STACK), "status"], capture_output=True).returncode != 0:
            log("starting the stack (scripts/stack start)")
            subprocess.run([str(STACK), "start"], check=True)
            started_stack = True
        self.stack = stack_env()
        workdir = Path(tempfile.mkdtemp(prefix="mcdc-bench-"))
        apply = {k: v for k, v in (("batch_rows", a.batch_rows), ("inflight_calls", a.inflight_calls),
                                   ("inflight_bytes", a.inflight_kib * 1024 if a.inflight_kib else None),
                                   ("batch_bytes", a.batch_kib * 1024 if a.batch_kib else None)) if v}
        srv = McdcServer(self.stack, workdir, apply=apply or None)
        ok = False
        sampler = None
        link = None
        try:
            if a.target_delay_ms:
                # mcdc reaches the target through the link; the bench's own checks go direct.
                from delaylink import DelayLink
                target = self.stack["MCDC_TARGET_URI"].split("://", 1)[-1]
                link = DelayLink(target, a.target_delay_ms).start()
                create = srv.create_task
                srv.create_task = lambda **d: create(
                    milvus_connect_param={"uri": f"http://{link.address}", "connect_timeout": 10}, **d)
                log(f"mcdc's target link: {link.address} -> {target}, {a.target_delay_ms} ms each way")
            srv.start()
            log(f"mcdc serve pid {srv.proc.pid}, log {srv.log}")
            for alias in ("src", "tgt"):
                connections.disconnect(alias)
            connect("src", srv.source_uri)
            connect("tgt", self.stack["MCDC_TARGET_URI"])
            sampler = bl.Sampler(srv.proc.pid)
            sampler.start()
            self.timeline = self.cpu_timeline(srv)
            rows = bl.Rows(a.batch)
            ctx = mp.get_context("spawn")

            res = {}
            log("resources: mcdc idle, no task")
            time.sleep(2)
            res["rss_idle"], res["cpu_idle"] = self.idle_rss(sampler, 3)

            res["rounds"] = []
            for r in range(a.rounds):
                if r:  # the last round's resume task stays: mcdc idle with it, below
                    last = res["rounds"][-1]["ru"]
                    self.retire(srv, last["task"], last["name"])
                res["rounds"].append(self.round(srv, sampler, rows, r, res))
            res["rss_idle_task"], res["cpu_idle_task"] = self.idle_rss(sampler, 3)
            if a.deletes:
                log(f"delete catch-up: {a.deletes} rows and as many single-key deletes, then a task")
                res["del"] = self.delete_catchup(srv, a.deletes)
            rate = a.lag_rate or res["ceil"] / 2
            log(f"live lag: {rate:.0f} rows/s into the source for {a.lag_seconds} s")
            res["lag"] = self.live_lag(srv, ctx, rate, a.lag_seconds)
            ref_s = a.floor_seconds or max(5, a.lag_seconds / 4)
            log(f"probe floor: the same load straight into the target for {ref_s:.0f} s")
            res["ref"] = self.direct_lag(ctx, rate, ref_s)
            log("decode")
            res["dec"] = self.decode()
            ok = True
            if a.lags_out:
                self.write_lags(res["lag"], res["ref"])
        finally:
            self.cleanup(srv)
            if link:
                link.stop()
            if started_stack:
                subprocess.run([str(STACK), "stop"], check=False)
            if sampler:
                sampler.stop()
            if self.timeline:
                self.timeline.stop()
            if ok:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                log(f"mcdc's config, store and log kept in {workdir}")
        self.report(res)

    def cleanup(self, srv):
        for perf in self.perfs:
            perf.send_signal(2)
            perf.wait(30)
        for t in self.tasks:
            try:
                srv.post("delete", {"task_id": t})
            except Exception as e:  # noqa: BLE001
                log(f"cleanup: delete task {t}: {e}")
        srv.stop()
        for alias, name in self.to_drop:
            try:
                if utility.has_collection(name, using=alias):
                    utility.drop_collection(name, using=alias)
            except Exception as e:  # noqa: BLE001
                log(f"cleanup: drop {alias}:{name}: {e}")

    def report(self, v):
        a = self.args
        R = v["rounds"]
        # Each of the five figures is its median round's (its details too); a ratio is of the
        # medians, possibly of two rounds; the goal's pipelined ceiling is the faster median of the
        # two pipelined variants. On two shared cores any one phase swings by more than the
        # pipelined goal's 10 % margin (docs/benchmarks.md, ninth part).
        raw1 = median_round(R, lambda x: x["raw1"][0])["raw1"]
        rawp = median_round(R, lambda x: x["rawp"][0])["rawp"]
        rawu = median_round(R, lambda x: x["rawu"][0])["rawu"]
        cu = median_round(R, lambda x: x["cu"]["rows_per_s"])["cu"]
        ru = median_round(R, lambda x: x["ru"]["rows_per_s"])["ru"]
        ceil, lag, ref, dec = v["ceil"], v["lag"], v["ref"], v["dec"]
        per100k = 100_000 / a.rows

        def each(get, nd=0):
            """Every round's value, in round order (only when there are several rounds)."""
            return {"rounds": [round(get(x), nd) if nd else round(get(x)) for x in R]} if len(R) > 1 else {}

        def paired(get, nd=3):
            """Every round's own ratio of a catch-up to its ceiling, in round order."""
            return {"per_round": [round(get(x), nd) for x in R]} if len(R) > 1 else {}
        print(f"# mcdc bench: {a.rows} rows, batch {a.batch}, dim {bl.DIM}, {a.shards} shards, {len(R)} round(s), "
              f"lag {a.lag_seconds} s, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        self.figure("ceiling_rows_per_s", raw1[0], "rows/s", seconds=round(raw1[1], 2),
                    insert_calls_s=round(raw1[2], 2), machine_busy=raw1[3], batch=a.batch, calls_in_flight=1,
                    target_cpu_s_per_100k_rows=round(raw1[4] * per100k, 2), cores=self.phase_cores.get(raw1[5]),
                    **each(lambda x: x["raw1"][0]),
                    note="pre-built InsertRequests over pymilvus's gRPC stub, one at a time, then a Strong count(*)")
        self.figure("ceiling_pipelined_rows_per_s", rawp[0], "rows/s", seconds=round(rawp[1], 2),
                    insert_calls_s=round(rawp[2], 2), machine_busy=rawp[3], batch=a.batch_rows or MCDC_BATCH_ROWS,
                    target_cpu_s_per_100k_rows=round(rawp[4] * per100k, 2), cores=self.phase_cores.get(rawp[5]),
                    calls_in_flight=a.inflight_calls or MCDC_INFLIGHT_CALLS, **each(lambda x: x["rawp"][0]),
                    note="the same with mcdc's batch_rows and inflight_calls")
        self.figure("ceiling_upsert_pipelined_rows_per_s", rawu[0], "rows/s", seconds=round(rawu[1], 2),
                    insert_calls_s=round(rawu[2], 2), machine_busy=rawu[3], batch=a.batch_rows or MCDC_BATCH_ROWS,
                    target_cpu_s_per_100k_rows=round(rawu[4] * per100k, 2), cores=self.phase_cores.get(rawu[5]),
                    calls_in_flight=a.inflight_calls or MCDC_INFLIGHT_CALLS, **each(lambda x: x["rawu"][0]),
                    note="the pipelined ceiling sent as UpsertRequests: what a replay window into a target "
                         "that may hold its rows sends (--twin-holds-row)")
        self.figure("python_client_rows_per_s", ceil, "rows/s", seconds=round(v["ceil_s"], 2),
                    insert_calls_s=round(v["ceil_ins_s"], 2), machine_busy=v["ceil_busy"],
                    note="pymilvus Collection.insert, one call at a time: a Python client's speed, not a ceiling "
                         "(first round only)")
        self.figure("source_fill_rows_per_s", median_round(R, lambda x: x["fill_rate"])["fill_rate"], "rows/s")
        self.figure("catchup_ratio", cu["rows_per_s"] / raw1[0], "ratio", 1.0, ">=",
                    **paired(lambda x: x["cu"]["rows_per_s"] / x["raw1"][0]),
                    note="catchup_rows_per_s / ceiling_rows_per_s (one call at a time)")
        # The goal's ceiling is the faster of the two pipelined ceilings (their medians): on this
        # machine either can come out ahead (docs/benchmarks.md, seventh part).
        best = max(rawp[0], rawu[0])
        best_of = lambda x: max(x["rawp"][0], x["rawu"][0])  # noqa: E731
        self.figure("catchup_ratio_pipelined", cu["rows_per_s"] / best, "ratio", 0.9, ">=",
                    **paired(lambda x: x["cu"]["rows_per_s"] / best_of(x)),
                    note="catchup_rows_per_s / the faster of ceiling_pipelined_rows_per_s and "
                         "ceiling_upsert_pipelined_rows_per_s")
        self.figure("catchup_ratio_upsert_pipelined", cu["rows_per_s"] / rawu[0], "ratio",
                    **paired(lambda x: x["cu"]["rows_per_s"] / x["rawu"][0]),
                    note="catchup_rows_per_s / ceiling_upsert_pipelined_rows_per_s")
        self.figure("resume_catchup_rows_per_s", ru["rows_per_s"], "rows/s", seconds=round(ru["secs"], 2),
                    first_row_applied_after_s=round(ru["first_after"], 2),
                    mcdc_applied_after_s=round(ru["applied_after"], 2),
                    inserted=ru["inserted"], upserted=ru["upserted"], calls_in_flight_peak=ru["inflight_peak"],
                    target_calls=ru["call"].get("count"), target_call_p50_s=ru["call"].get("p50"),
                    target_cpu_s_per_100k_rows=round(ru["target_cpu"] * per100k, 2),
                    cores=self.phase_cores.get(ru["what"]),
                    mcdc_cpu_s_per_100k_rows=round(ru["cpu"] * per100k, 2), rss_max_mib=round(ru["rss_max"] / MIB, 1),
                    machine_busy=ru["machine_busy"], queue_wait_share=ru["waits"][0], target_wait_share=ru["waits"][1],
                    **each(lambda x: x["ru"]["rows_per_s"]),
                    note="a paused task resumed over N rows written meanwhile: plain inserts, past its intent")
        self.figure("resume_catchup_ratio", ru["rows_per_s"] / raw1[0], "ratio", 1.0, ">=",
                    **paired(lambda x: x["ru"]["rows_per_s"] / x["raw1"][0]),
                    note="resume_catchup_rows_per_s / ceiling_rows_per_s (one call at a time)")
        self.figure("resume_catchup_ratio_pipelined", ru["rows_per_s"] / best, "ratio", 0.9, ">=",
                    **paired(lambda x: x["ru"]["rows_per_s"] / best_of(x)),
                    note="resume_catchup_rows_per_s / the faster pipelined ceiling")
        self.figure("catchup_rows_per_s", cu["rows_per_s"], "rows/s", raw1[0], ">=",
                    ratio_to_ceiling=round(cu["rows_per_s"] / raw1[0], 3), seconds=round(cu["secs"], 2),
                    first_row_applied_after_s=round(cu["first_after"], 2),
                    rows_per_s_after_first_row=round(a.rows / max(1e-9, cu["secs"] - cu["first_after"]), 1),
                    mcdc_applied_after_s=round(cu["applied_after"], 2), wal_messages=cu["messages"],
                    inserted=cu["inserted"], upserted=cu["upserted"],
                    calls_in_flight_peak=cu["inflight_peak"], target_calls=cu["call"].get("count"),
                    target_call_p50_s=cu["call"].get("p50"), target_call_p99_s=cu["call"].get("p99"),
                    target_cpu_s_per_100k_rows=round(cu["target_cpu"] * per100k, 2),
                    cores=self.phase_cores.get(cu["what"]),
                    machine_busy=cu["machine_busy"], queue_wait_share=cu["waits"][0], target_wait_share=cu["waits"][1],
                    mcdc_cpu_s_per_100k_rows=round(cu["cpu"] * per100k, 2), **each(lambda x: x["cu"]["rows_per_s"]),
                    note="queue_wait_share, target_wait_share: where mcdc's DML channel threads waited until it "
                         "had applied every row, over channels x that time (task get)")
        if v.get("del"):
            d = v["del"]
            self.figure("delete_catchup_per_s", d["per_s"], "deletes/s", deletes=d["deletes"],
                        seconds=round(d["secs"], 2), target_calls=d["calls"],
                        source_deletes_per_s=round(d["source_deletes_per_s"], 1),
                        note="single-key deletes (one WAL message each) replayed by a use_start_position "
                             "task: until mcdc's counters show every row and delete acknowledged")
        if lag["lags"]:
            extra = dict(batches=lag["batches"], visible=len(lag["lags"]), missing=len(lag["missing"]),
                         probe_queries=lag["probe_queries"],
                         rate_rows_per_s=round(lag["achieved"], 1), machine_busy=lag["machine_busy"],
                         calls_in_flight_peak=lag.get("inflight_peak"))
            self.figure("lag_p50_s", bl.pct(lag["lags"], 50), "s", source_insert_call_p50_s=round(bl.pct(lag["calls"], 50), 4),
                        source_insert_call_p99_s=round(bl.pct(lag["calls"], 99), 4), **extra)
            self.figure("lag_p99_s", bl.pct(lag["lags"], 99), "s", 1.0, "<=",
                        applied_by_p99_s=round(bl.pct(lag["applied_by"], 99), 4), **extra)
            self.figure("lag_max_s", max(lag["lags"]), "s", **extra)
        else:
            self.figure("lag_p99_s", float("inf"), "s", 1.0, "<=", missing=len(lag["missing"]))
        can = lag.get("canary") or {}
        if can.get("lags"):
            self.figure("canary_lag_p50_s", bl.pct(can["lags"], 50), "s", p99=round(bl.pct(can["lags"], 99), 4),
                        max=round(max(can["lags"]), 4), batches=can["batches"],
                        insert_call_p99_s=round(bl.pct(can["calls"], 99), 4),
                        insert_call_max_s=round(max(can["calls"]), 4),
                        note=f"{CANARY_ROWS} rows every {CANARY_PERIOD} s straight into the target during the "
                             "live phase, same probe: target visibility under the same load")
            # A CDC adds at least one target insert call to each batch's path (the canary's call
            # happens before its ack, so canary_lag leaves it out): call + visibility, per canary
            # batch, is the least any CDC could show on this target at this moment.
            floor = [r[5] + r[1] for r in can["per_batch"]]
            self.figure("canary_send_to_visible_p50_s", bl.pct(floor, 50), "s", p99=round(bl.pct(floor, 99), 4),
                        note="the canary's insert call + its visibility lag: the least any CDC's lag can be")
        sat = lag.get("saturation") or {}
        if sat:
            self.figure("live_machine_saturated_share", sat["saturated_share"], "share", windows=sat["windows"],
                        cores=sat["cores"], batches_over_1s=sat["over_goal"],
                        batches_over_1s_with_saturation=sat["over_goal_saturated"],
                        note=f"0.5 s windows of the live phase with the machine >= {SATURATED:.0%} busy; cores: "
                             "mean CPU of each group; batches over 1 s that waited through such a window")
            if sat["calm_batches"]:
                self.figure("lag_p99_without_saturation_s", sat["calm_p99"], "s", batches=sat["calm_batches"],
                            max=round(sat["calm_max"], 4),
                            note="lag p99 of the batches during whose wait the machine never saturated")
        lat = lag.get("latency") or {}
        if lat.get("apply_lag_seconds", {}).get("count"):
            al, tc = lat["apply_lag_seconds"], lat["target_call_seconds"]
            self.figure("mcdc_apply_lag_p99_s", al["p99"], "s", p50=round(al["p50"], 4), max=round(al["max"], 4),
                        calls=al["count"], target_call_p50_s=round(tc["p50"], 4), target_call_p99_s=round(tc["p99"], 4),
                        target_call_max_s=round(tc["max"], 4),
                        note="mcdc's own histograms (get -> latency), warm-up and live: source commit -> target "
                             "reply per call, and the target call alone")
        if lag.get("mcdc_applied"):
            self.figure("lag_mcdc_applied_p50_s", bl.pct(lag["mcdc_applied"], 50), "s",
                        p99=round(bl.pct(lag["mcdc_applied"], 99), 4), max=round(max(lag["mcdc_applied"]), 4),
                        note="source ack -> mcdc's applied-rows counter covers the batch (task get every 100 ms)")
        if lag.get("wal_pre"):
            self.figure("lag_until_tick_p50_s", bl.pct(lag["wal_pre"], 50), "s", p99=round(bl.pct(lag["wal_pre"], 99), 4),
                        note="source ack -> first time tick at or past the batch's ts arrived (mcdc may apply then)")
            self.figure("lag_after_tick_p50_s", bl.pct(lag["wal_post"], 50), "s", p99=round(bl.pct(lag["wal_post"], 99), 4),
                        note="that tick -> visible on the target (mcdc apply + target visibility)")
            g = lag["tick_gaps"]
            self.figure("source_tick_gap_p50_s", bl.pct(g, 50), "s", p99=round(bl.pct(g, 99), 4), max=round(max(g), 4),
                        tick_delay_p50_s=round(bl.pct(lag["tick_delay"], 50), 4),
                        tick_delay_p99_s=round(bl.pct(lag["tick_delay"], 99), 4))
        if ref["lags"]:
            self.figure("probe_floor_p50_s", bl.pct(ref["lags"], 50), "s", batches=ref["batches"],
                        note="the same probe on rows inserted straight into the target")
            self.figure("probe_floor_p99_s", bl.pct(ref["lags"], 99), "s", batches=ref["batches"],
                        insert_call_p50_s=round(bl.pct(ref["calls"], 50), 4),
                        insert_call_p99_s=round(bl.pct(ref["calls"], 99), 4),
                        send_to_visible_p99_s=round(bl.pct([r[5] + r[1] for r in ref["per_batch"]], 99), 4))
        self.figure("rss_idle_mib", v["rss_idle"] / MIB, "MiB", 25, "<=", cpu_share=round(v["cpu_idle"], 4))
        self.figure("rss_idle_with_task_mib", v["rss_idle_task"] / MIB, "MiB", cpu_share=round(v["cpu_idle_task"], 4))
        self.figure("rss_catchup_max_mib", max(max(x["cu"]["rss_max"], x["ru"]["rss_max"]) for x in R) / MIB, "MiB",
                    150, "<=", window_mean_mib=round(cu["rss_mean"] / MIB, 1),
                    replay_window_mib=round(max(x["cu"]["rss_max"] for x in R) / MIB, 1),
                    resume_mib=round(max(x["ru"]["rss_max"] for x in R) / MIB, 1))
        self.figure("cpu_s_per_100k_rows_catchup", cu["cpu"] * per100k, "cpu-s",
                    cpu_share=round(cu["cpu"] / cu["secs"], 3))
        if lag["rows"]:
            self.figure("cpu_s_per_100k_rows_live", lag["cpu"] * 100_000 / lag["rows"], "cpu-s")
        self.figure("decode_mb_per_s", dec["mb_per_s"], "MB/s", 1000, ">=", message=dec["message"],
                    bytes=dec["bytes"], rows=dec["rows"])
        self.table()

    def table(self):
        print()
        print(f"{'figure':<30} {'value':>12} {'unit':<7} {'goal':>14} {'ratio':>7}  met")
        for f in self.figures:
            goal = f"{f['goal_op']} {f['goal']:.6g}" if "goal" in f else ""
            ratio = f"{f['ratio_to_goal']:.2f}" if f.get("ratio_to_goal") is not None else ""
            met = ("yes" if f["met"] else "NO") if "met" in f else ""
            print(f"{f['figure']:<30} {f['value']:>12.6g} {f['unit']:<7} {goal:>14} {ratio:>7}  {met}")
        r1 = next(f for f in self.figures if f["figure"] == "catchup_ratio")
        rp = next(f for f in self.figures if f["figure"] == "catchup_ratio_pipelined")
        ru = next(f for f in self.figures if f["figure"] == "resume_catchup_ratio")
        rr = next(f for f in self.figures if f["figure"] == "resume_catchup_ratio_pipelined")
        print(f"catch-up / ceiling = {r1['value']:.3f} (goal >= 1.0); / pipelined ceiling = {rp['value']:.3f} "
              f"(goal >= 0.9); after a pause: {ru['value']:.3f} / {rr['value']:.3f}")


SATURATED = 0.97  # a 0.5 s window with the machine this busy had no spare CPU for anyone


def saturation(timeline, per_batch):
    """Sets each batch's lag against the machine: the share of 0.5 s windows of the live phase in
    which the machine was saturated, the cores each group used, how many of the batches over the
    1 s goal had a saturated window while they waited, and the lag of the batches that never
    did."""
    if not per_batch:
        return {}
    t0 = min(b[3] - b[5] for b in per_batch)
    t1 = max(b[3] + b[1] for b in per_batch)
    wins = timeline.windows(t0, t1)
    sat = [w[0] for w in wins if w[1] >= SATURATED]

    def saw_saturation(t_ack, lag):
        return any(t_ack - 0.5 < w < t_ack + lag for w in sat)
    over = [b for b in per_batch if b[1] > 1.0]
    calm = [b[1] for b in per_batch if not saw_saturation(b[3], b[1])]
    return dict(saturated_share=round(len(sat) / max(1, len(wins)), 3), windows=len(wins),
                cores=timeline.mean_cores(t0, t1), over_goal=len(over),
                over_goal_saturated=sum(1 for b in over if saw_saturation(b[3], b[1])),
                calm_batches=len(calm), calm_p99=bl.pct(calm, 99) if calm else None,
                calm_max=max(calm) if calm else None)


def median_round(rounds, value):
    """The round whose value(round) is the median (of an even count, the lower of the middle two),
    so that a figure and its details come from one real phase."""
    order = sorted(rounds, key=value)
    return order[(len(order) - 1) // 2]


def wait_shares(applied, before, channels, secs):
    """mcdc's own split of where its DML channels' threads waited over secs (task get's
    queue_wait_ms and target_wait_ms, past `before`'s): shares of channels x secs."""
    if secs is None or secs <= 0:
        return None, None
    share = lambda k: round((applied.get(k, 0) - (before or {}).get(k, 0)) / 1000 / (channels * secs), 3)
    return share("queue_wait_ms"), share("target_wait_ms")


def busy(b0, b1):
    """Share of the machine's CPUs busy (anyone's work) between two machine_busy() readings."""
    return round((b1[0] - b0[0]) / max(1, b1[1] - b0[1]), 3)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None, help="rows for ceiling and catch-up (default 200000)")
    p.add_argument("--lag-seconds", type=float, default=None, help="steady-load duration (default 60)")
    p.add_argument("--quick", action="store_true", help="sanity run: 20000 rows, 15 s of lag")
    p.add_argument("--batch", type=int, default=2000, help="rows per insert call (default 2000)")
    p.add_argument("--shards", type=int, default=2, help="shards of every bench collection (default 2)")
    p.add_argument("--twin-holds-row", action="store_true",
                   help="one row in the catch-up's target twin beforehand: the backlog then replays as upserts")
    p.add_argument("--batch-rows", type=int, help="mcdc's apply.batch_rows (default: mcdc's, 5000); 1 sends one call per WAL insert")
    p.add_argument("--inflight-calls", type=int,
                   help="mcdc's apply.inflight_calls (default: mcdc's, 4); 1 waits for each call before the next")
    p.add_argument("--batch-kib", type=int,
                   help="mcdc's apply.batch_bytes in KiB (default: mcdc's, a task's share: pipeline/budget.h)")
    p.add_argument("--inflight-kib", type=int,
                   help="mcdc's apply.inflight_bytes in KiB (default: mcdc's, a task's share: pipeline/budget.h)")
    p.add_argument("--target-delay-ms", type=float, default=0,
                   help="mcdc reaches the target through bench/delaylink.py with this one-way delay "
                        "(a distant standby); the ceiling and the probes still go direct")
    p.add_argument("--timeout", type=float, default=1800, help="give up on catch-up after this many seconds")
    p.add_argument("--deletes", type=int, default=0,
                   help="also time the catch-up of N rows then N single-key deletes (default 0: skip)")
    p.add_argument("--lag-rate", type=float, help="rows/s of the steady load (default: half the measured ceiling)")
    p.add_argument("--floor-seconds", type=float, help="duration of the probe-floor load (default lag-seconds/4, >= 5)")
    p.add_argument("--lags-out", metavar="FILE", help="write every batch's lag (JSON) to FILE")
    p.add_argument("--wal-watch", action="store_true",
                   help="also consume the source WAL during the lag phase and split each batch's lag into "
                        "'until mcdc may apply it' (Kafka + the time tick it waits for) and 'after'")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure the three raw ceilings and both catch-ups this many times, in turns; each of "
                        "those figures is its median round's (of an even count the lower middle one), each ratio "
                        "the ratio of medians (default 1)")
    p.add_argument("--perf", metavar="FILE", help="perf record -g the mcdc process during the first round's catch-up into FILE "
                        "(that round's mcdc then pays perf's overhead)")
    p.add_argument("--perf-target", metavar="DIR",
                   help="perf record -g the target Milvus during each raw ceiling and both catch-ups into "
                        "DIR/ceil1.data, ceilp.data, ceilu.data, catchup.data, resume.data (round k > 1: ceil1_k.data, ...)")
    a = p.parse_args(argv)
    if a.rounds < 1:
        p.error(f"--rounds {a.rounds}: at least 1")
    if a.rows is None:
        a.rows = 20_000 if a.quick else 200_000
    if a.lag_seconds is None:
        a.lag_seconds = 15 if a.quick else 60
    return a


if __name__ == "__main__":
    Run(parse_args()).main()
