"""Snapshots: a task copies the rows a collection held before the task ("snapshot": true in
collection_infos) while the stream goes on, resumes that copy after a SIGKILL instead of starting
it again, re-syncs a collection after a bulk insert (by itself with `snapshot.on_bulk_insert:
resync`, on request with `report`), and refuses a re-sync it cannot do. Every test ends row by row:
the same keys, every scalar, every vector, count(*) per partition on both sides and no key held
twice on the target (mcdcserver.diff_collections with counts=True).

The copy reads the source through its proxy (source.milvus.address, which McdcServer always sets),
so every source collection here is indexed and loaded before the task. The writes that run during a
copy aim at every part of the key space: the low end (already copied), the middle and the high end
(ahead of the copy), and around the share of rows copied so far (the pages being read), with both
key types. Varchar keys are the numeric keys zero-padded, so their order is the numbers' order and
"low", "middle" and "high" mean the same ranges for both.

The queue does not matter here (the copy goes through the proxy, the stream is the same code for
both): Kafka source only."""
import random
import re
import signal
import threading
import time

import numpy as np
import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, utility

from mcdcserver import McdcServer, connect, count_rows, wait_equal
from test_bulk_insert import BULK_ROWS, bulk_insert, make as make_small, rows as small_rows, wait_listed, write_json
from test_lifecycle import wait_for

BIG = 200_000          # rows of each big collection (keys 0, 10, ..., 10 * (BIG - 1))
SMALL = 20_000         # rows of the every-type collection
PARTS = ["_default", "p1"]
DIM, BDIM = 16, 32
FILL_BATCH = 50_000    # keys per fill round (split between the partitions: one insert call each)
FLAT = {"index_type": "FLAT", "metric_type": "L2", "params": {}}
BIN_FLAT = {"index_type": "BIN_FLAT", "metric_type": "HAMMING", "params": {}}
PHASES = ("waiting", "copying", "overlapping", "streaming")


class Env:
    """Starts `mcdc serve` with the config's `snapshot` section set to start()'s keyword arguments
    (each start its own store) and remembers the collections to drop at the end."""

    def __init__(self, stack, tmp_path):
        self.stack, self.tmp_path = stack, tmp_path
        self.servers, self.names = [], []

    def start(self, **snapshot):
        d = self.tmp_path / f"mcdc{len(self.servers)}"
        d.mkdir()
        srv = McdcServer(self.stack, d, snapshot=snapshot or None)
        self.servers.append(srv)
        srv.start()
        connect("src", srv.source_uri)
        connect("tgt", self.stack["MCDC_TARGET_URI"])
        return srv

    def drop_later(self, *names):
        self.names.extend(names)


@pytest.fixture
def env(stack, tmp_path):
    """An Env; at the end its servers are stopped (their log's tail printed) and its collections
    dropped on both sides."""
    e = Env(stack, tmp_path)
    yield e
    failed = None
    for srv in e.servers:
        try:
            srv.stop()  # raises on a sanitizer report in the log
        except AssertionError as ex:
            failed = failed or ex
        print(srv.log.read_text(errors="replace")[-4000:] if srv.log.exists() else "")
    for n in e.names:
        for alias in ("src", "tgt"):
            try:
                if utility.has_collection(n, using=alias):
                    utility.drop_collection(n, using=alias)
            except Exception as ex:  # noqa: BLE001 - cleanup only
                print(f"cleanup: drop {alias}:{n}: {ex}")
    if failed:
        raise failed


# ---- the collections -----------------------------------------------------------------------

def key_str(k):
    return f"k{k:012d}"


class Shape:
    """One kind of test collection. "int": int64 key, a few scalars, float vector; "str": varchar
    key, scalars, binary vector; "all": int64 key and every field type Milvus 2.3.5 has (a
    collection holds one vector field in 2.3, so the binary vector lives in "str"), dynamic field
    on. A numeric key k is in partition partitions[(k // 10) % len(partitions)], so the fill's keys
    (multiples of 10) alternate and the writer's new keys (the gaps) stay beside their neighbours."""

    def __init__(self, kind, partitions):
        self.kind, self.partitions = kind, partitions
        self.pk = "id" if kind == "str" else "pk"

    def schema(self):
        if self.kind == "int":
            return CollectionSchema([
                FieldSchema("pk", DataType.INT64, is_primary=True),
                FieldSchema("n", DataType.INT64),
                FieldSchema("f", DataType.FLOAT),
                FieldSchema("flag", DataType.BOOL),
                FieldSchema("s", DataType.VARCHAR, max_length=64),
                FieldSchema("vec", DataType.FLOAT_VECTOR, dim=DIM),
            ])
        if self.kind == "str":
            return CollectionSchema([
                FieldSchema("id", DataType.VARCHAR, is_primary=True, max_length=32),
                FieldSchema("n", DataType.INT64),
                FieldSchema("s", DataType.VARCHAR, max_length=64),
                FieldSchema("bvec", DataType.BINARY_VECTOR, dim=BDIM),
            ])
        return CollectionSchema([
            FieldSchema("pk", DataType.INT64, is_primary=True),
            FieldSchema("f_bool", DataType.BOOL),
            FieldSchema("f_i8", DataType.INT8),
            FieldSchema("f_i16", DataType.INT16),
            FieldSchema("f_i32", DataType.INT32),
            FieldSchema("f_i64", DataType.INT64),
            FieldSchema("f_float", DataType.FLOAT),
            FieldSchema("f_double", DataType.DOUBLE),
            FieldSchema("f_str", DataType.VARCHAR, max_length=64),
            FieldSchema("f_json", DataType.JSON),
            FieldSchema("f_arr_i", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4),
            FieldSchema("f_arr_s", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=16),
            FieldSchema("vec", DataType.FLOAT_VECTOR, dim=8),
        ], enable_dynamic_field=True)

    def index(self):
        return ("bvec", BIN_FLAT) if self.kind == "str" else ("vec", FLAT)

    def partition_of(self, k):
        return self.partitions[(k // 10) % len(self.partitions)]

    def by_partition(self, keys):
        out = {}
        for k in keys:
            out.setdefault(self.partition_of(k), []).append(k)
        return out

    def data(self, keys, tag, rng):
        """Rows for numeric keys (of one partition); tag (0 for the fill, the writer's round after)
        changes every value, so an upsert is visible in each field."""
        if self.kind == "int":
            vec = rng.random((len(keys), DIM), dtype=np.float32).tolist()
            return [list(keys), [k * 3 + tag for k in keys], [k / 7 + tag for k in keys],
                    [(k + tag) % 3 == 0 for k in keys], [f"s{k}-{tag}" for k in keys], vec]
        if self.kind == "str":
            return [[key_str(k) for k in keys], [k * 3 + tag for k in keys], [f"s{k}-{tag}" for k in keys],
                    [((k * 2654435761 + tag * 40503) & 0xFFFFFFFF).to_bytes(BDIM // 8, "little") for k in keys]]
        vec = rng.random((len(keys), 8), dtype=np.float32).tolist()
        return [{"pk": k, "f_bool": (k + tag) % 2 == 0, "f_i8": (k + tag) % 200 - 100,
                 "f_i16": (k * 7 + tag) % 30000 - 15000, "f_i32": k * 3 - tag, "f_i64": k * 10 ** 9 + tag,
                 "f_float": k / 3 + tag, "f_double": k / 7 + tag, "f_str": f"str{k}-{tag}",
                 "f_json": {"k": k, "tag": tag, "l": [k % 5, "x"]},
                 "f_arr_i": [k, tag, -k][: 1 + k % 3], "f_arr_s": [f"a{k}", f"t{tag}"][: 1 + k % 2],
                 "vec": v, "dyn_n": k + tag, "dyn_s": f"d{k}"} for k, v in zip(keys, vec)]

    def expr_in(self, keys):
        if self.kind == "str":
            return "id in [" + ",".join(f'"{key_str(k)}"' for k in keys) + "]"
        return f"pk in {list(keys)}"


def make_source(name, shape, n, rng):
    """The source collection (2 shards, the shape's partitions), indexed and loaded, holding the
    keys 0, 10, ..., 10 (n - 1), flushed (the copy reads sealed segments; the writes during it
    land in growing ones)."""
    c = Collection(name, shape.schema(), using="src", shards_num=2)
    for p in shape.partitions[1:]:
        c.create_partition(p)
    field, index = shape.index()
    c.create_index(field, index)
    c.load()
    batch = FILL_BATCH if shape.kind != "all" else 5_000
    for lo in range(0, n, batch):
        for p, keys in shape.by_partition([i * 10 for i in range(lo, min(n, lo + batch))]).items():
            c.insert(shape.data(keys, 0, rng), partition_name=p)
    c.flush()
    assert count_rows("src", name) == n
    return c


# ---- writes during a copy ----------------------------------------------------------------

class Writer(threading.Thread):
    """Until stopped, rounds of writes on each (collection, shape, n): in each of four spans of the
    fill's key space (the lowest 5 %, 45-55 %, the highest 5 %, and ±2 % around progress[name], the
    share of rows copied so far as the test last read it) two new keys (gaps between the fill's
    keys), one delete and one upsert of a fill key; plus a new key past the fill's end, and a delete
    and an upsert of a key this writer inserted earlier. copying (names whose copy runs, set by the
    test) counts the rounds that ran wholly while some copy did."""

    def __init__(self, colls, seed=17):
        super().__init__(daemon=True)
        self.colls = colls
        self.rng = random.Random(seed)
        self.nprng = np.random.default_rng(seed)
        self.stop = threading.Event()
        self.progress = {}
        self.copying = set()
        self.rounds = self.rounds_while_copying = self.inserted = 0
        self.used = {c.name: set() for c, _, _ in colls}
        self.added = {c.name: [] for c, _, _ in colls}
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                during = bool(self.copying)
                for coll, shape, n in self.colls:
                    self.round_on(coll, shape, n)
                self.rounds += 1
                if during and self.copying:
                    self.rounds_while_copying += 1
                time.sleep(self.rng.uniform(0.02, 0.1))
        except Exception as e:  # surfaced by the test
            self.error = e

    def round_on(self, coll, shape, n):
        rng, used, added = self.rng, self.used[coll.name], self.added[coll.name]
        f = self.progress.get(coll.name, 0.0)
        new, dele, ups = [], [], []
        for lo, hi in ((0.0, 0.05), (0.45, 0.55), (0.95, 1.0), (max(0.0, f - 0.02), min(1.0, f + 0.02))):
            i_lo = int(lo * n)
            i_hi = max(i_lo + 1, int(hi * n))
            for _ in range(2):
                for _ in range(50):  # a span whose gaps are all taken gets no new key this round
                    k = rng.randrange(i_lo, i_hi) * 10 + rng.randrange(1, 10)
                    if k not in used:
                        used.add(k)
                        new.append(k)
                        break
            dele.append(rng.randrange(i_lo, i_hi) * 10)
            ups.append(rng.randrange(i_lo, i_hi) * 10)
        new.append((n + self.rounds) * 10)  # past the fill's end: a multiple of 10 no span picks
        if added:
            dele.append(rng.choice(added))
            ups.append(rng.choice(added))
        tag = self.rounds + 1
        for p, keys in shape.by_partition(new).items():
            coll.insert(shape.data(keys, tag, self.nprng), partition_name=p)
        self.inserted += len(new)
        added.extend(new)
        coll.delete(shape.expr_in(sorted(set(dele))))
        # One key once per upsert call: Milvus 2.3 would keep both rows of a key given twice.
        for p, keys in shape.by_partition(list(dict.fromkeys(ups))).items():
            coll.upsert(shape.data(keys, tag, self.nprng), partition_name=p)


# ---- what get and /metrics say of the copies ------------------------------------------------

class Progress:
    """Polls get for the task's copies (snapshot.collections, keyed by collection name), keeps the
    phases each collection went through in the order seen, and checks on every reply that the task
    does not call itself consistent while a copy or its overlap runs."""

    def __init__(self, srv, task, names):
        self.srv, self.task, self.names = srv, task, names
        self.phases = {n: [] for n in names}
        self.inconsistent_seen = False
        self.last, self.snap, self.last_error = {}, {}, None

    def poll(self):
        status, reply = self.srv.post("get", {"task_id": self.task})
        if status != 200:  # right after a restart the task may not be loaded yet
            self.last_error = (status, reply)
            return None
        snap = reply["data"]["task"].get("snapshot") or {}
        cs = {e["collection"]: e for e in snap.get("collections", []) if e.get("db") == "default"}
        running = False
        for n in self.names:
            e = cs.get(n)
            if e is None:
                continue
            assert e["phase"] in PHASES, e
            if not self.phases[n] or self.phases[n][-1] != e["phase"]:
                self.phases[n].append(e["phase"])
            running = running or e["phase"] in ("copying", "overlapping")
        if running:
            assert snap.get("consistent") is False, f"consistent while a copy runs: {snap}"
            self.inconsistent_seen = True
        self.last, self.snap = cs, snap
        return cs

    def until(self, cond, what, timeout, each=None):
        """Polls every 0.1 s until cond(copies) holds; each(copies) on every reply first."""
        deadline = time.monotonic() + timeout
        while True:
            cs = self.poll()
            if cs is not None:
                if each:
                    each(cs)
                if cond(cs):
                    return cs
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not so after {timeout} s; copies {self.last}, phases seen "
                                     f"{self.phases}, last failed get {self.last_error}")
            time.sleep(0.1)

    def check_order(self):
        """No collection went back to an earlier phase ("waiting" aside: a copy waits again for its
        restart after mcdc was killed)."""
        for n, seen in self.phases.items():
            idx = [PHASES.index(p) for p in seen if p != "waiting"]
            assert idx == sorted(idx), f"{n}: phases out of order: {seen}"


def phase(cs, name):
    return (cs.get(name) or {}).get("phase")


def share_copied(e):
    return e["rows_copied"] / e["rows_total"] if e.get("rows_total") else 0.0


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(metrics, name, **labels):
    """Values of the samples of one metric (McdcServer.metrics()) whose labels include `labels`,
    as [(all labels, value)]."""
    out = []
    for key, v in metrics.items():
        base, _, rest = key.partition("{")
        have = dict(LABEL.findall(rest))
        if base == name and all(have.get(k) == x for k, x in labels.items()):
            out.append((have, v))
    return out


def one_sample(metrics, name, **labels):
    got = samples(metrics, name, **labels)
    assert len(got) == 1, f"{name}{labels}: want one sample, have {got}"
    return got[0][1]


def check_done(srv, task, progress, names):
    """Every named copy is done (streaming, an end ts, no error) and get and /metrics agree on it."""
    cs = progress.last
    for n in names:
        e = cs[n]
        assert e["phase"] == "streaming" and e["db"] == "default" and e["collection_id"] > 0, e
        assert e["end_ts"] > 0 and e["last_error"] == "" and e["rows_total"] > 0, e
        for k in ("rows_per_s", "eta_s"):
            assert isinstance(e[k], (int, float)), e
    m = srv.metrics()
    assert progress.snap["consistent"] is True, progress.snap
    assert one_sample(m, "mcdc_task_consistent", task_id=task) == 1
    for n in names:
        lab = dict(task_id=task, collection=f"default.{n}")
        assert one_sample(m, "mcdc_snapshot_rows_copied", **lab) == cs[n]["rows_copied"]
        assert one_sample(m, "mcdc_snapshot_rows_total", **lab) == cs[n]["rows_total"]
        one_sample(m, "mcdc_snapshot_rows_per_second", **lab)
        ph = {labels["phase"]: v for labels, v in samples(m, "mcdc_snapshot_phase", **lab)}
        assert ph.get("streaming") == 1 and all(v == 0 for p, v in ph.items() if p != "streaming"), ph


def wait_caught_up(name, pk, timeout=600):
    """The target holds the source's rows: first the cheap count(*) on both sides, then row by
    row, count(*) per partition and no key twice."""
    def same_count():
        s, t = count_rows("src", name), count_rows("tgt", name)
        return True if s == t else (s, t)
    wait_for(f"{name}: count(*) equal on source and target", same_count, timeout)
    wait_equal("src", "tgt", "default", name, pk, timeout=timeout, counts=True)


# ---- the tests -----------------------------------------------------------------------------

def test_snapshot_while_writing(env, fresh_name):
    # Small pages, two in flight: a copy of 200 000 rows takes long enough for many write rounds.
    srv = env.start(page_rows=2048, pages_in_flight=2, readers=2, progress_log_s=1)
    rng = np.random.default_rng(1)
    a, b, c = fresh_name("snapa"), fresh_name("snapb"), fresh_name("snapc")
    env.drop_later(a, b, c)
    specs = [(a, Shape("int", PARTS), BIG), (b, Shape("str", PARTS), BIG), (c, Shape("all", ["_default"]), SMALL)]
    colls = [(make_source(name, shape, n, rng), shape, n) for name, shape, n in specs]
    names = [a, b, c]
    task = srv.create_task(collection_infos=[{"name": n, "snapshot": True} for n in names])
    progress = Progress(srv, task, names)
    progress.until(lambda cs: any(phase(cs, n) == "copying" and cs[n]["rows_copied"] > 0 for n in names),
                   "a copy under way", 300)

    w = Writer(colls)

    def feed(cs):
        for n, e in cs.items():
            w.progress[n] = share_copied(e)
        w.copying = {n for n in names if phase(cs, n) == "copying"}

    feed(progress.last)
    w.start()
    try:
        # /metrics read between two gets that both show a copy running: it must show it too.
        before = progress.poll() or {}
        m = srv.metrics()
        after = progress.poll() or {}
        running = [n for n in names if phase(before, n) == "copying" and phase(after, n) == "copying"]
        if running:
            n = running[0]
            lab = dict(task_id=task, collection=f"default.{n}")
            assert one_sample(m, "mcdc_task_consistent", task_id=task) == 0
            assert dict((lb["phase"], v) for lb, v in samples(m, "mcdc_snapshot_phase", **lab)).get("copying") == 1
            assert before[n]["rows_copied"] <= one_sample(m, "mcdc_snapshot_rows_copied", **lab) <= after[n]["rows_copied"]
            if before[n]["rows_total"] == after[n]["rows_total"]:
                assert one_sample(m, "mcdc_snapshot_rows_total", **lab) == after[n]["rows_total"]
        progress.until(lambda cs: all(phase(cs, n) in ("overlapping", "streaming") for n in names),
                       "every copy done", 900, each=feed)
    finally:
        w.stop.set()
        w.join()
    assert w.error is None, w.error
    assert w.rounds_while_copying >= 1, f"no write round ran during a copy ({w.rounds} rounds)"

    progress.until(lambda cs: all(phase(cs, n) == "streaming" for n in names), "every collection streaming", 300)
    progress.check_order()
    assert progress.inconsistent_seen
    for n in (a, b):
        assert "copying" in progress.phases[n], progress.phases
    check_done(srv, task, progress, names)
    for (name, shape, n) in specs:
        e = progress.last[name]
        # rows_total: count(*) when the copy began (the writer may have run by then); rows_copied:
        # the rows written, each once when nothing restarted (a retried page may count again).
        # A write round deletes at most 5 keys of a collection and brings back at most 5 by upsert;
        # w.inserted (new keys over every collection) bounds the keys added to each.
        drift = 10 * w.rounds + w.inserted
        assert n - drift <= e["rows_total"] <= n + drift, e
        assert abs(e["rows_copied"] - e["rows_total"]) <= max(0.05 * e["rows_total"], 2 * 2048 * 2) + drift, e
    for name, shape, _ in specs:
        wait_caught_up(name, shape.pk)
    print(f"writer: {w.rounds} rounds, {w.rounds_while_copying} during a copy, {w.inserted} new keys over "
          f"the collections; phases {progress.phases}")


def test_snapshot_resumes_after_kill(env, fresh_name):
    page_rows, in_flight = 8192, 4
    window = page_rows * in_flight  # rows a kill may have sent without their progress saved
    srv = env.start(page_rows=page_rows, pages_in_flight=in_flight, readers=2)
    name = fresh_name("snapk")
    env.drop_later(name)
    shape = Shape("int", PARTS)
    coll = make_source(name, shape, BIG, np.random.default_rng(2))
    task = srv.create_task(collection_infos=[{"name": name, "snapshot": True}])
    progress = Progress(srv, task, [name])
    progress.until(lambda cs: phase(cs, name) == "copying" and cs[name]["rows_copied"] > 0, "the copy under way", 300)

    w = Writer([(coll, shape, BIG)], seed=23)

    def feed(cs):
        if name in cs:
            w.progress[name] = share_copied(cs[name])
        w.copying = {name} if phase(cs, name) == "copying" else set()

    feed(progress.last)
    w.start()
    kills = []
    try:
        for share in (0.20, 0.45, 0.70):
            cs = progress.until(lambda cs: phase(cs, name) in ("overlapping", "streaming") or
                                (phase(cs, name) == "copying" and cs[name]["rows_total"] > 0 and
                                 cs[name]["rows_copied"] >= share * cs[name]["rows_total"]),
                                f"the copy past {share:.0%}", 600, each=feed)
            e = cs[name]
            assert e["phase"] == "copying", f"the copy ended before the kill at {share:.0%}: {e}; kills {kills}"
            before = e["rows_copied"]
            srv.stop(signal.SIGKILL)
            srv.start()
            cs = progress.until(lambda cs: phase(cs, name) in ("copying", "overlapping", "streaming"),
                                "the copy going on after the restart", 300, each=feed)
            after = cs[name]["rows_copied"]
            kills.append((share, before, after))
            assert after >= max(0, before - window), \
                f"rows_copied fell from {before} to {after} across the kill at {share:.0%}: the copy started over"
        progress.until(lambda cs: phase(cs, name) in ("overlapping", "streaming"), "the copy done", 900, each=feed)
    finally:
        w.stop.set()
        w.join()
    assert w.error is None, w.error
    assert w.rounds_while_copying >= 1, f"no write round ran during the copy ({w.rounds} rounds)"

    progress.until(lambda cs: phase(cs, name) == "streaming", "streaming", 300)
    progress.check_order()
    check_done(srv, task, progress, [name])
    e = progress.last[name]
    # Resumed, not restarted: each kill re-sends at most one window, never the copied share again.
    # (The writer's new keys and upserts of deleted keys may add rows ahead of the copy.)
    assert e["rows_copied"] <= e["rows_total"] + (len(kills) + 1) * window + w.inserted + 5 * w.rounds, (e, kills)
    wait_caught_up(name, shape.pk)
    print(f"kills (share, rows_copied before, after): {kills}; writer {w.rounds} rounds; final {e}")


@pytest.mark.parametrize("on_bulk_insert", ["resync", "report"])
def test_bulk_insert_resync(env, stack, fresh_name, on_bulk_insert):
    """A bulk insert bypasses the WAL (test_bulk_insert.py); with on_bulk_insert: resync the task
    copies the collection again by itself, with report it lists the import and copies nothing until
    the operator asks for a resync. Either way the target then holds the imported rows too."""
    srv = env.start(on_bulk_insert=on_bulk_insert)
    name = fresh_name("bres")
    env.drop_later(name)
    task = srv.create_task(collection_infos=[{"name": name}])
    c = make_small(name)
    c.insert(small_rows(0, 200))
    wait_equal("src", "tgt", "default", name, "pk")
    assert name not in srv.copies(task), srv.get(task)  # no snapshot asked for: nothing to copy

    imp, st = bulk_insert(stack, name, write_json(stack, name, 10_000, BULK_ROWS))
    assert st.row_count == BULK_ROWS
    wait_for("the source serves the imported rows",
             lambda: True if count_rows("src", name) == 200 + BULK_ROWS else count_rows("src", name), 180)
    progress = Progress(srv, task, [name])
    if on_bulk_insert == "report":
        wait_listed(srv, task, imp)
        time.sleep(12)  # one more read of the import tasks: a re-sync started by itself would show now
        assert name not in srv.copies(task), srv.get(task)
        assert count_rows("tgt", name) == 200
        status, reply = srv.resync(task, name)
        assert status == 200, reply
    # The re-sync (by itself, or the one asked for) has run once its copy shows streaming.
    progress.until(lambda cs: phase(cs, name) == "streaming", "the re-sync done", 300)
    wait_caught_up(name, "pk", timeout=240)
    assert progress.last[name]["rows_copied"] >= 200 + BULK_ROWS, progress.last
    assert progress.snap["consistent"] is True, progress.snap

    # The stream goes on after it, row by row.
    c.insert(small_rows(500, 100))
    c.delete("pk in [10000, 10001, 3]")
    wait_caught_up(name, "pk", timeout=240)


def test_resync_bad_input(env, fresh_name):
    # One page of 512 rows at a time: re-syncing 50 000 rows takes long enough for a second request.
    srv = env.start(page_rows=512, pages_in_flight=1, readers=1)
    big, other = fresh_name("rbig"), fresh_name("rother")
    env.drop_later(big, other)
    c = make_small(big)
    for lo in range(0, 50_000, 10_000):
        c.insert(small_rows(lo, 10_000))
    make_small(other)
    task = srv.create_task(collection_infos=[{"name": big}])

    status, reply = srv.resync(task, other)
    assert status == 404 and reply["code"] == 404 and task in reply["message"], reply
    status, reply = srv.resync(task, fresh_name("absent"))
    assert status == 404 and task in reply["message"], reply
    status, reply = srv.resync("no_such_task_" + fresh_name("t")[-6:], big)
    assert status == 404 and "no_such_task_" in reply["message"], reply
    status, reply = srv.post("resync", {"task_id": task, "db_name": "default"})
    assert status == 400 and "collection_name" in reply["message"], reply

    status, reply = srv.resync(task, big)
    assert status == 200, reply
    status, reply = srv.resync(task, big)
    assert status == 409 and reply["code"] == 409, reply
    assert phase(srv.copies(task), big) in ("waiting", "copying", "overlapping"), srv.get(task)
    progress = Progress(srv, task, [big])
    progress.until(lambda cs: phase(cs, big) == "streaming", "the re-sync done", 300)
    wait_caught_up(big, "pk", timeout=240)
    assert progress.last[big]["rows_copied"] >= 50_000, progress.last
    # Done: a new re-sync is accepted again.
    status, reply = srv.resync(task, big)
    assert status == 200, reply
    assert phase(srv.copies(task), big) in ("waiting", "copying", "overlapping"), srv.get(task)
    progress.until(lambda cs: phase(cs, big) == "streaming", "the second re-sync done", 300)
    wait_caught_up(big, "pk", timeout=240)
