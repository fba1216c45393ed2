"""Helpers of bench/run.py: the bench collection's rows, a steady writer in its own process, a
/proc sampler of the mcdc process, and small statistics. No timing assertions anywhere: the
benchmark reports, it never fails on a number."""
import bisect
import json
import os
import subprocess
import tempfile
import threading
import time

import numpy as np
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections

DIM = 128
INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}
_POOL = 4  # distinct vector blocks reused cyclically: generating floats must not be what we time


def schema(dim=DIM):
    return CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=dim),
        FieldSchema("s", DataType.VARCHAR, max_length=64),
    ])


class Rows:
    """Column batches of the bench schema: PKs lo..lo+n-1, vectors from a small pool of
    pre-generated float32 blocks (as Python lists, the form pymilvus converts fastest), and a
    24-character varchar. Every phase uses the same generator, so every phase sends the same bytes."""

    def __init__(self, batch, dim=DIM, seed=128):
        rng = np.random.default_rng(seed)
        self.batch = batch
        self.pool = [rng.random((batch, dim), dtype=np.float32).tolist() for _ in range(_POOL)]

    def columns(self, lo, n=None):
        n = n or self.batch
        vecs = self.pool[(lo // self.batch) % _POOL]
        return [list(range(lo, lo + n)), vecs if n == self.batch else vecs[:n], [f"row-{i:020d}" for i in range(lo, lo + n)]]

    def keyed(self, pks, k):
        """The columns of rows with these PKs (at most `batch` of them), vectors from pool block k:
        the same bytes as columns() but for keys that need not be consecutive."""
        vecs = self.pool[k % _POOL]
        return [list(pks), vecs if len(pks) == self.batch else vecs[:len(pks)], [f"row-{i:020d}" for i in pks]]


def insert_all(coll, rows, n, batch, lo=0):
    """Inserts n rows in batches, one call at a time; returns the seconds the calls took."""
    t0 = time.monotonic()
    for start in range(lo, lo + n, batch):
        coll.insert(rows.columns(start, min(batch, lo + n - start)))
    return time.monotonic() - t0


def count(coll, expr=""):
    """Exact row count: count(*) with Strong consistency (the query waits until the querynode
    has consumed everything up to the request's timestamp)."""
    return coll.query(expr, output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]


def raw_insert_ceiling(rows, name, using, shards, n, batch, inflight, upsert=False, watch=None, keys=None,
                       feeder=None):
    """The fastest this client can feed the server plain inserts: n rows into a new empty, indexed,
    loaded collection `name`, every InsertRequest built beforehand with pymilvus's own request
    builder (not timed), then sent over its gRPC stub with up to `inflight` calls in flight (1: each
    call waits for the previous reply), until a Strong count(*) returns n. upsert: UpsertRequests
    instead (what a replay window sends). keys: the PKs of each call, in sending order, instead of
    consecutive runs of `batch` (n is then their total). watch: called when the clock starts,
    returns a function called when it stops (the caller's view of the server over exactly the
    timed part). feeder: (path of build/bench_feed, "host:port", more bench_feed flags...) sends the
    same requests over mcdc's own gRPC path (src/rpc, from one thread, as a channel thread does)
    instead of grpcio's. The collection is dropped again. Returns (rows/s to visible, seconds,
    seconds of the calls alone)."""
    if inflight < 1:
        raise ValueError(f"calls in flight: {inflight}, not at least 1")
    from pymilvus import connections as conns
    from pymilvus.client.prepare import Prepare as RequestPrepare
    from pymilvus.client.utils import check_status
    from pymilvus.orm.prepare import Prepare as DataPrepare
    import collections as pycoll
    c = create_loaded(name, using, shards)
    try:
        fields = c.schema.to_dict()["fields"]  # what Collection.insert hands the same builder
        build = RequestPrepare.batch_upsert_param if upsert else RequestPrepare.batch_insert_param
        cols = ([rows.keyed(ks, k) for k, ks in enumerate(keys)] if keys is not None else
                [rows.columns(lo, min(batch, n - lo)) for lo in range(0, n, batch)])
        if keys is not None:
            n = sum(map(len, keys))
        reqs = [build(name, DataPrepare.prepare_insert_data(col, c.schema), None, fields) for col in cols]
        if feeder:
            stop, t0, t_calls = feed_over_rpc(reqs, feeder, inflight, upsert, watch)
        else:
            stub = conns._fetch_handler(using)._stub
            call = stub.Upsert if upsert else stub.Insert
            stop = watch() if watch else None
            t0 = time.monotonic()
            pending = pycoll.deque()
            for req in reqs:
                if len(pending) >= inflight:
                    check_status(pending.popleft().result().status)
                pending.append(call.future(req, timeout=300))
            while pending:
                check_status(pending.popleft().result().status)
            t_calls = time.monotonic() - t0
        got = count(c)
        secs = time.monotonic() - t0
        if stop:
            stop()
        if got != n:
            raise RuntimeError(f"ceiling: {name} holds {got} rows, not {n}")
        del reqs
        return n / secs, secs, t_calls
    finally:
        c.release()
        c.drop()


def feed_over_rpc(reqs, feeder, inflight, upsert, watch):
    """raw_insert_ceiling's calls sent by build/bench_feed (bench/feed.c) instead: the requests
    go to a file (length-prefixed, serialized) before the clock, the program is started, and the
    clock starts when it says it has read them. Returns (stop, t0, seconds of the calls alone)."""
    path, target = feeder[:2]
    with tempfile.NamedTemporaryFile(prefix="mcdc-feed-", suffix=".bin") as f:
        for req in reqs:
            b = req.SerializeToString()
            f.write(len(b).to_bytes(4, "little") + b)
        f.flush()
        args = [str(path), "--target", target, "--inflight", str(inflight), "--ready", *feeder[2:]]
        if upsert:
            args.append("--upsert")
        p = subprocess.Popen(args + [f.name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"bench_feed did not start: exit {p.wait()}")
            stop = watch() if watch else None
            t0 = time.monotonic()
            p.stdin.write("go\n")
            p.stdin.close()
            out = p.stdout.read()
            if p.wait() != 0:
                raise RuntimeError(f"bench_feed failed (exit {p.returncode}); its stderr says why")
            return stop, t0, json.loads(out)["seconds"]
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def create_loaded(name, using, shards):
    c = Collection(name, schema(), using=using, shards_num=shards)
    c.create_index("vec", INDEX)
    c.load()
    return c


# ---- the steady writer (own process, so its pymilvus work does not share our GIL) -----------

def writer_main(uri, name, rate, batch, seconds, pk_lo, out_q):
    """Writes `batch`-row inserts at `rate` rows/s for `seconds` on a fixed schedule (no bursts to
    catch up: a late batch goes out at once and the schedule continues). Each ack is reported
    as (k, lo, n, t_sent, t_ack, ts) with times in time.monotonic() seconds, which is
    CLOCK_MONOTONIC and so comparable across processes, and ts the source's hybrid timestamp of the
    insert. Ends with None."""
    connections.connect("w", uri=uri)
    coll = Collection(name, using="w")
    rows = Rows(batch)
    period = batch / rate
    t0 = time.monotonic()
    k = 0
    try:
        while True:
            due = t0 + k * period
            if due - t0 >= seconds:
                break
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            lo = pk_lo + k * batch
            t_sent = time.monotonic()
            res = coll.insert(rows.columns(lo))
            out_q.put((k, lo, batch, t_sent, time.monotonic(), res.timestamp))
            k += 1
    finally:
        out_q.put(None)
        connections.disconnect("w")


class VisibilityProbe:
    """Finds when each acknowledged batch became visible on the target with a few Strong
    count(*) queries in flight, never one per pending batch (that, in a backlog, floods the target
    with queries and slows the replication it measures), and each over one batch's 2000 PKs
    (a count over a large range gets slower as the backlog grows and blurs the figure).

    Batch k holds PKs [lo_k, lo_k + n). mcdc applies each channel in order (and the direct writer
    waits for each ack), so once batch k is wholly visible every earlier batch is too. The
    `threads` pollers each ask about a different pending batch: the oldest, the newest acknowledged
    at least 0.25 s ago, the middle one, then the next oldest; a yes for batch k settles every
    pending batch up to k, so a backlog is settled in a few rounds, not one round per batch. A batch's `lag` is
    when the confirming query returned (what a polling reader experiences); `applied_by` is when it
    was sent (a Strong query sees every write acknowledged before it was sent)."""

    def __init__(self, coll, threads=4, timeout=300):
        self.coll = coll
        self.timeout = timeout
        self.pending = {}  # k -> (lo, n, t_ack)
        self.busy = set()
        self.results = []  # (k, lag_s, applied_by_s, t_ack)
        self.missing = []
        self.closed = False
        self.cv = threading.Condition()
        self.queries = 0
        roles = ["oldest", "newest", "middle", "oldest"]
        self.threads = [threading.Thread(target=self._poll, args=(roles[i % len(roles)],), daemon=True)
                        for i in range(threads)]

    def start(self):
        for th in self.threads:
            th.start()

    def add(self, k, lo, n, t_ack):
        with self.cv:
            self.pending[k] = (lo, n, t_ack)
            self.cv.notify_all()

    def close(self):
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def join(self):
        for th in self.threads:
            th.join()

    def _pick(self, role):
        with self.cv:
            while True:
                free = sorted(k for k in self.pending if k not in self.busy)
                if free:
                    if role == "newest":
                        ripe = [k for k in free if time.monotonic() - self.pending[k][2] >= 0.25]
                        k = ripe[-1] if ripe else None
                    elif role == "middle":
                        k = free[len(free) // 2]
                    else:
                        k = free[0]
                    if k is not None:
                        self.busy.add(k)
                        return k, self.pending[k]
                elif self.closed and not self.pending:
                    return None, None
                self.cv.wait(0.01 if self.pending else 0.5)

    def _poll(self, role):
        while True:
            k, b = self._pick(role)
            if k is None:
                return
            lo, n, t_ack = b
            if time.monotonic() - t_ack > self.timeout:
                with self.cv:
                    self.busy.discard(k)
                    if self.pending.pop(k, None):
                        self.missing.append(k)
                continue
            sent = time.monotonic()
            try:
                got = count(self.coll, f"pk >= {lo} and pk < {lo + n}")
            except Exception:  # noqa: BLE001 - a transient target error is one more poll
                got = -1
            done = time.monotonic()
            with self.cv:
                self.queries += 1
                self.busy.discard(k)
                if got == n:
                    for j in [j for j in self.pending if j <= k]:
                        t = self.pending.pop(j)[2]
                        self.results.append((j, done - t, max(0.0, sent - t), t))
                    self.cv.notify_all()
            if got != n:
                time.sleep(0.01)


def steady_lag(ctx, uri, name, target_coll, rate, batch, seconds, pk_lo, probe_threads=4):
    """Runs writer_main in a spawned process and probes every batch on target_coll. Returns a dict:
    per_batch (k, lag, applied_by, t_ack, ts, insert call seconds) in batch order, lags,
    applied_by, calls, missing (batches never seen), batches, achieved rows/s, probe queries."""
    q = ctx.Queue()
    p = ctx.Process(target=writer_main, args=(uri, name, rate, batch, seconds, pk_lo, q), daemon=True)
    probe = VisibilityProbe(target_coll, threads=probe_threads)
    probe.start()
    p.start()
    first = last = None
    ts_of, sent_of = {}, {}
    while True:
        item = q.get(timeout=seconds + 120)
        if item is None:
            break
        k, lo, n, t_sent, t_ack, ts = item
        first = first if first is not None else t_sent
        last = t_ack
        ts_of[k] = ts
        sent_of[k] = t_sent
        probe.add(k, lo, n, t_ack)
    p.join(30)
    probe.close()
    probe.join()
    per_batch = [(k, lag, ab, t_ack, ts_of[k], t_ack - sent_of[k]) for k, lag, ab, t_ack in sorted(probe.results)]
    n_batches = len(ts_of)
    achieved = n_batches * batch / (last - first) if n_batches and last > first else 0.0
    return dict(per_batch=per_batch, lags=[r[1] for r in per_batch], applied_by=[r[2] for r in per_batch],
                calls=[r[5] for r in per_batch], missing=probe.missing, batches=n_batches, achieved=achieved,
                probe_queries=probe.queries)


# ---- the mcdc process as /proc sees it ----------------------------------------------------

_TCK = os.sysconf("SC_CLK_TCK")


def proc_sample(pid):
    """(rss_bytes, cpu_seconds user+system, vm_hwm_bytes) of a live process."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TCK  # utime, stime (fields 14, 15 of stat)
    return rss, cpu, hwm


def wait_quiet(pid, share=0.15, window=1.0, timeout=60.0):
    """Waits until the process used less than `share` of one core over `window` seconds (at most
    `timeout` s); returns the seconds waited. A Milvus that just dropped a collection serializes its
    buffered rows to binlogs for seconds afterwards (`dropped=true` syncs in the datanode's log): a
    phase started then would pay for the one before it."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        c0 = proc_sample(pid)[1]
        time.sleep(window)
        if proc_sample(pid)[1] - c0 < share * window:
            break
    return time.monotonic() - t0


# A Milvus 2.3 datanode learns which channels to persist from datacoord through etcd: one key
# <root>/meta/channelwatch/<node id>/<vchannel> per channel, its value a ChannelWatchInfo whose
# field 3 is the ChannelWatchState (data_coord.proto: ToWatch 2, WatchSuccess 3, ToRelease 5).
_WATCH_SUCCESS = 3
_WATCH_STATES = {0: "Uncomplete", 1: "Complete", 2: "ToWatch", 3: "WatchSuccess", 4: "WatchFailure", 5: "ToRelease",
                 6: "ReleaseSuccess", 7: "ReleaseFailure"}
SETTLE_TIMEOUT_S = 180.0


def _varint(buf, i):
    v = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("protobuf: a varint runs past the end")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def pb_fields(buf):
    """The top-level fields of a protobuf message as (field number, wire type, value): an int for a
    varint, bytes for the rest. Raises ValueError on a truncated message or a group (wire 3, 4)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            yield field, wire, v
            continue
        if wire == 2:
            n, i = _varint(buf, i)
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
        else:
            raise ValueError(f"protobuf: wire type {wire} at byte {i}")
        if i + n > len(buf):
            raise ValueError(f"protobuf: field {field} runs past the end")
        yield field, wire, bytes(buf[i:i + n])
        i += n


def _watch_state(buf):
    """Field 3 of a ChannelWatchInfo (0 if absent)."""
    return next((v for f, w, v in pb_fields(buf) if f == 3 and w == 0), 0)


def datanode_channels(etcd_endpoint, root):
    """[(key, ChannelWatchState)] of every channel datacoord has handed a datanode (the key names
    the node and the vchannel)."""
    import base64
    out = subprocess.run(["etcdctl", f"--endpoints={etcd_endpoint}", "--command-timeout=5s", "get", "--prefix",
                          f"{root}/meta/channelwatch/", "-w", "json"], env=dict(os.environ, ETCDCTL_API="3"),
                         check=True, capture_output=True, text=True, timeout=15).stdout
    return [(base64.b64decode(kv["key"]).decode(), _watch_state(base64.b64decode(kv["value"])))
            for kv in json.loads(out).get("kvs", [])]


def wait_datanode_settled(etcd_endpoint, root, timeout=SETTLE_TIMEOUT_S):
    """Waits until the datanode persists every channel it was given and releases none (at least one
    channel, every one WatchSuccess: every caller waits with its phase's collection made). Returns
    (settled, seconds waited, what was last seen unsettled: "key: state" strings or the error of the
    last read). The datanode starts a new collection's channels only after it has released the
    dropped ones, which took 9-19 s here at 1-2 shards and 37-53 s at 8 (closing their Kafka
    consumers): a phase timed on a fresh collection meanwhile runs with nothing persisted, for about
    half the target's CPU per row, and its rows are written out after the clock stops. A catch-up's
    collection is always persisted, so a ceiling must be too."""
    t0 = time.monotonic()
    while True:
        try:
            chans = datanode_channels(etcd_endpoint, root)
            left = [f"{k}: {_WATCH_STATES.get(st, st)}" for k, st in chans if st != _WATCH_SUCCESS]
            if chans and not left:
                return True, time.monotonic() - t0, []
            left = left or [f"no channel under {root}/meta/channelwatch/"]
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError) as e:
            why = (getattr(e, "stderr", None) or str(e)).strip().splitlines() or [type(e).__name__]
            left = [f"reading {root}/meta/channelwatch/ from {etcd_endpoint}: {why[-1]}"]
        if time.monotonic() - t0 >= timeout:
            return False, time.monotonic() - t0, left
        time.sleep(0.2)


class Sampler(threading.Thread):
    """Samples VmRSS and utime+stime of one process every `period` seconds."""

    def __init__(self, pid, period=0.1):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples = []  # (t_mono, rss_bytes, cpu_s)
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                rss, cpu, _ = proc_sample(self.pid)
            except OSError:
                return
            self.samples.append((time.monotonic(), rss, cpu))
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join()

    def window(self, t0, t1):
        """(max RSS, mean RSS, CPU seconds) over [t0, t1]."""
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        if not s:
            return 0, 0, 0.0
        return max(x[1] for x in s), sum(x[1] for x in s) / len(s), s[-1][2] - s[0][2]


class CpuTimeline(threading.Thread):
    """Every `period` s: the whole machine's busy share and the CPU of each group of processes
    (name -> a function returning its pids, looked up again every 2 s), so that a slow batch can be
    set against what the machine was doing in those seconds. On a shared 2-core machine the
    source, the target, the broker, mcdc and the load generator all take turns on the same
    cores."""

    def __init__(self, groups, period=0.1):
        super().__init__(daemon=True)
        self.groups, self.period = groups, period
        self.samples = []  # (t_mono, (busy, total) jiffies, {group: jiffies})
        self.stop_ev = threading.Event()

    @staticmethod
    def _jiffies(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
            return int(v[11]) + int(v[12])
        except OSError:
            return None

    @staticmethod
    def _lookup(f):
        try:
            return list(f())
        except (OSError, ValueError, IndexError):  # a piece not running (no or empty pid file): counts as nothing
            return []

    def run(self):
        pids, looked = {}, 0.0
        last = {g: {} for g in self.groups}  # a process that exits keeps counting what it used
        while not self.stop_ev.is_set():
            now = time.monotonic()
            if now - looked >= 2:
                pids = {g: self._lookup(f) for g, f in self.groups.items()}
                looked = now
            for g, ps in pids.items():
                for p in ps:
                    j = self._jiffies(p)
                    if j is not None:
                        last[g][p] = j
            self.samples.append((now, machine_busy(), {g: sum(v.values()) for g, v in last.items()}))
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join()

    @staticmethod
    def _cores(a, b):
        """{group: cores used} between two samples."""
        dt = b[0] - a[0]
        return {g: (b[2].get(g, 0) - a[2].get(g, 0)) / _TCK / dt for g in b[2]} if dt > 0 else {}

    def _between(self, t0, t1):
        times = [x[0] for x in self.samples]
        return self.samples[bisect.bisect_left(times, t0):bisect.bisect_right(times, t1)]

    def windows(self, t0, t1, width=0.5):
        """[(start, busy share, {group: cores})] for consecutive windows of `width` s in [t0, t1]."""
        out = []
        while t0 + width <= t1:
            w = self._between(t0, t0 + width)
            if len(w) >= 2:
                a, b = w[0], w[-1]
                db, dtot = b[1][0] - a[1][0], b[1][1] - a[1][1]
                out.append((t0, db / dtot if dtot else 0.0, self._cores(a, b)))
            t0 += width
        return out

    def mean_cores(self, t0, t1):
        """{group: mean cores used} over [t0, t1]."""
        w = self._between(t0, t1)
        if len(w) < 2:
            return {}
        return {g: round(v, 3) for g, v in self._cores(w[0], w[-1]).items()}


def descendants(root):
    """Pids of every process below `root` (from /proc's parent links)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def machine_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat; the difference of two
    readings says how loaded the shared machine was during a phase."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(np.ceil(p / 100 * len(s))) - 1))
    return s[k]
