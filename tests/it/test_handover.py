"""Switchover and failover (docs/disaster-recovery.md) against the real stack.

What is proved:
- a switchover asked while writes go on is refused with the reason and changes nothing (the task
  keeps running and replicating); a paused task's is refused at once;
- once writes stopped, `mcdc switchover` reports RPO 0, the target equals the source row by row,
  the forward task is paused, and the reverse task it created (on an mcdc whose source is the
  former target) carries new inserts, deletes and upserts on the new primary back to the former
  source exactly;
- the source Milvus killed mid-stream: `mcdc failover` reports what the target holds and the last
  source time it read, and every row the target lacks (compared row by row with the source once
  it is back) was written inside that window."""
import subprocess
import threading
import time

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema
from pymilvus.grpc_gen import common_pb2, msg_pb2

from dumptool import run_dump
from mcdcserver import McdcServer, connect, count_rows, diff_collections, normalize, rows_of, wait_equal
from stackenv import start_stack, stop_piece, tool
from test_poison import own_channel, real_records

INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}
SLACK_MS = 250


def make_collection(alias, name, shards=2):
    c = Collection(name, CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("s", DataType.VARCHAR, max_length=64),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ]), using=alias, shards_num=shards)
    c.create_index("vec", INDEX)
    c.load()
    return c


class Writer(threading.Thread):
    """Inserts 20 keys, deletes one, upserts another, in rounds, until stopped. Keeps, per key, the
    wall time (ms) of the send and of the reply of its last write, so a test can place every key
    in time; tolerates the source going away."""

    def __init__(self, coll, start=0, tag="w"):
        super().__init__(daemon=True)
        self.c, self.next, self.tag = coll, start, tag
        self.stop = threading.Event()
        self.sent, self.acked = {}, {}
        self.rounds = 0

    def _write(self, keys, fn):
        t0 = int(time.time() * 1000)
        for k in keys:
            self.sent[k] = t0
        try:
            fn()
        finally:
            # Answered or failed: either way the source gave it no time after this.
            t1 = int(time.time() * 1000)
            for k in keys:
                self.acked[k] = t1

    def run(self):
        while not self.stop.is_set():
            keys = list(range(self.next, self.next + 20))
            try:
                # A bounded call: pymilvus retries a server that went away for minutes otherwise.
                self._write(keys, lambda: self.c.insert([keys, [f"{self.tag}{k}" for k in keys],
                                                         [[k, 1, 2, 3] for k in keys]], timeout=5))
                self.next += 20
                self._write([keys[0]], lambda: self.c.delete(f"pk in [{keys[0]}]", timeout=5))
                self._write([keys[1]], lambda: self.c.upsert([[keys[1]], [f"{self.tag}-up"], [[0, 0, 0, 0]]],
                                                             timeout=5))
                self.rounds += 1
            except Exception:
                if self.stop.wait(0.5):
                    break
            time.sleep(0.05)


def wait_handover(server, task, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = server.get(task)["handover"]
        if h and h["phase"] in ("done", "refused"):
            return h
        time.sleep(0.5)
    raise AssertionError(f"handover of {task} did not end in {timeout}s: {server.get(task)['handover']}")


def cli(*args, timeout=300):
    return subprocess.run([str(tool("mcdc")), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def forward(stack, tmp_path):
    (tmp_path / "fwd").mkdir()
    srv = McdcServer(stack, tmp_path / "fwd")
    srv.start()
    connect("src", stack["MCDC_SOURCE_URI"])
    connect("tgt", stack["MCDC_TARGET_URI"])
    yield srv
    srv.stop()


def test_switchover_refusals_then_rpo0_and_reverse(stack, forward, tmp_path, fresh_name):
    name = fresh_name("swo")
    task = forward.create_task(collection_infos=[{"name": name}])
    c = make_collection("src", name)
    w = Writer(c)
    w.start()
    try:
        time.sleep(3)
        # Writes go on: refused, and nothing changes.
        # The writer writes every ~0.2 s: far more often than the 5 s of quiet asked for.
        status, reply = forward.post("switchover", {"task_id": task, "quiet_s": 5, "timeout_s": 30})
        assert status == 200, reply
        h = wait_handover(forward, task)
        assert h["phase"] == "refused", h
        assert "writes to the task's collections go on" in h["reason"] or "a write to the task's collections came" \
            in h["reason"], h
        info = forward.get(task)
        assert info["state"] == "Running", info
        rounds = w.rounds
        time.sleep(2)
        assert w.rounds > rounds  # still writing, still replicated below
    finally:
        w.stop.set()
        w.join()
    wait_equal("src", "tgt", "default", name, "pk", counts=True)

    reverse_dir = tmp_path / "rev"
    reverse_dir.mkdir()
    reverse = McdcServer(stack, reverse_dir, mq="kafka-target")
    reverse.start()
    try:
        r = cli("switchover", task, "--server", forward.base, "--quiet", "2", "--writes-timeout", "60",
                "--reverse-server", reverse.base, "--reverse-target", stack["MCDC_SOURCE_URI"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert "switchover: done" in r.stdout and "RPO" in r.stdout and "0 s" in r.stdout, r.stdout
        assert "reverse task" in r.stdout and "created" in r.stdout, r.stdout
        info = forward.get(task)
        assert info["state"] == "Paused" and "switched over" in info["reason"], info
        h = info["handover"]
        assert h["phase"] == "done" and h["rpo_seconds"] == 0, h
        assert all(v == 0 for v in h["verify_differences"].values()), h
        assert diff_collections("src", "tgt", "default", name, "pk", counts=True) is None

        # The target is the primary now: its writes go back to the former source, and only they.
        rev_tasks = reverse.post("list")[1]["data"]["tasks"]
        assert len(rev_tasks) == 1 and rev_tasks[0]["state"] == "Running", rev_tasks
        t = Collection(name, using="tgt")
        w2 = Writer(t, start=10_000_000, tag="r")
        w2.start()
        time.sleep(4)
        w2.stop.set()
        w2.join()
        assert w2.rounds > 0
        t.delete("pk in [2, 3, 4]")
        t.upsert([[5], ["changed on the new primary"], [[9, 9, 9, 9]]])
        wait_equal("tgt", "src", "default", name, "pk", counts=True, timeout=180)
        assert forward.get(task)["state"] == "Paused"
    finally:
        reverse.stop()
    c.drop()


def test_switchover_of_a_paused_task_is_refused(forward, fresh_name):
    name = fresh_name("swp")
    task = forward.create_task(collection_infos=[{"name": name}])
    status, reply = forward.post("pause", {"task_id": task})
    assert status == 200, reply
    status, reply = forward.post("switchover", {"task_id": task})
    assert status == 400 and "is not running" in reply["message"] and "nothing was changed" in reply["message"], reply
    assert forward.get(task)["state"] == "Paused"
    assert forward.get(task)["handover"] is None
    r = cli("switchover", "no-such-task", "--server", forward.base)
    assert r.returncode == 1 and "no task 'no-such-task'" in r.stderr, r.stderr


def test_failover_window_holds_every_missing_row(stack, forward, fresh_name):
    """Two tasks when the source dies: one running (the failover drains what the queue holds) and one
    paused a few seconds before (the target lacks what was written since). After the source is back,
    every row a target lacks was written inside the window its failover reported."""
    names = [fresh_name("fov_run"), fresh_name("fov_lag")]
    tasks = [forward.create_task(collection_infos=[{"name": n}]) for n in names]
    colls = [make_collection("src", n) for n in names]
    writers = [Writer(c, tag=f"w{i}") for i, c in enumerate(colls)]
    for w in writers:
        w.start()
    try:
        time.sleep(4)
        status, reply = forward.post("pause", {"task_id": tasks[1]})
        assert status == 200, reply
        time.sleep(3)
        stop_piece("source-milvus", grace_s=0)  # SIGTERM then SIGKILL at once: a crash
        try:
            results = [cli("failover", tasks[0], "--server", forward.base, "--drain", "20"),
                       cli("failover", tasks[1], "--server", forward.base, "--drain", "0")]
        finally:
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join()
            infos = [forward.get(t) for t in tasks]
            start_stack()  # whatever happens above, the next tests find the source up
    finally:
        for w in writers:
            w.stop.set()
    windows = []
    for info, r in zip(infos, results):
        assert r.returncode == 0, r.stdout + r.stderr
        assert "target holds every change up to" in r.stdout, r.stdout
        assert info["state"] == "Paused", info
        h = info["handover"]
        assert h["phase"] == "done" and h["queue_read"] is True, h
        held = h["target_holds_up_to"]["ts"] >> 18
        last = h["last_source_time"]["ts"] >> 18
        assert 0 < held <= last <= int(time.time() * 1000), h
        windows.append((held, last, h))
    assert infos[0]["reason"].startswith("failed over"), infos[0]

    connect("src", stack["MCDC_SOURCE_URI"])
    for i, (name, w, (held, last, h)) in enumerate(zip(names, writers, windows)):
        # A restarted Milvus loads its collections again in the background: wait for this one.
        deadline = time.monotonic() + 180
        while True:
            try:
                Collection(name, using="src").load(timeout=60)
                src = rows_of("src", "default", name, "pk")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        tgt = rows_of("tgt", "default", name, "pk")
        lacking = [k for k in set(src) | set(tgt) if normalize(src.get(k)) != normalize(tgt.get(k))]
        if i == 1:
            assert lacking, "the paused task's target lacks nothing: the test did not make it lag"
            # The runbook's next step: `mcdc dump --after` the task's positions lists what the target
            # lacks, and not what it got long before the pause.
            status, reply = forward.post("position", {"task_id": tasks[1]})
            assert status == 200, reply
            after = ",".join(f"{p['channel_name']}={p['position']}" for p in reply["data"]["positions"])
            rc, changes, err = run_dump(stack, "--after", after, "--collection", name)
            assert rc == 0, err
            dumped = {k for c in changes if c["kind"] in ("insert", "delete") for k in c["pks"]}
            assert set(lacking) <= dumped, (sorted(set(lacking) - dumped)[:5], len(changes))
            assert 0 not in dumped and 2 not in dumped, "the dump started before the task's checkpoints"
        for k in lacking:
            # Its last write was answered (or failed) after what the target holds, and sent before
            # the newest source time the queue held: inside the window the failover reported. The
            # source's TSO moves its physical time in steps of 50 ms, so a timestamp may read up to
            # that much behind this host's clock: SLACK_MS allows for it (the windows span seconds).
            assert w.acked.get(k, 0) + SLACK_MS > held, (name, k, w.acked.get(k), held, h)
            assert w.sent.get(k, 0) - SLACK_MS <= last, (name, k, w.sent.get(k), last, h)
        assert count_rows("tgt", name) == len(tgt)  # nothing doubled
        Collection(name, using="src").drop()


def test_failover_of_a_task_that_never_ran(forward, fresh_name):
    """A task paused at create has no checkpoint time on any channel it needs: the failover says
    the target's state is not known rather than claiming a time."""
    name = fresh_name("fov_new")
    c = make_collection("src", name)
    task = forward.create_task(collection_infos=[{"name": name}], disable_auto_start=True)
    r = cli("failover", task, "--server", forward.base, "--drain", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    h = forward.get(task)["handover"]
    assert h["phase"] == "done" and h["target_holds_up_to"] is None, h
    assert "before the task knew what the target holds" in h["reason"], h
    c.drop()


def time_tick(ts):
    """A TimeTick message as RootCoord writes it to a DML channel (spec/timestamps.md §2)."""
    m = msg_pb2.TimeTickMsg()
    m.base.msg_type = common_pb2.MsgType.TimeTick
    m.base.timestamp = ts
    return m.SerializeToString()


def test_failover_reads_past_a_tick_older_than_the_writes_before_it(stack, tmp_path, fresh_name):
    """A TimeTick(T) may follow an insert stamped after T (spec/timestamps.md §3): the newest source
    time a failover reports is that insert's, not the last tick's. Real records of a real collection
    go into a channel of the test's own, so the ticks can be placed where the source places them only
    now and then (a CI run once saw a write 280 ms newer than the tick that ended its channel)."""
    connect("src", stack["MCDC_SOURCE_URI"])
    connect("tgt", stack["MCDC_TARGET_URI"])
    name = fresh_name("fov_tick")
    c = make_collection("src", name, shards=1)
    c.insert([[1, 2, 3], ["a", "b", "c"], [[1, 1, 1, 1]] * 3])
    time.sleep(0.3)  # the second insert's time is after the first's, with room for a tick between
    c.insert([[4, 5], ["d", "e"], [[2, 2, 2, 2]] * 2])
    recs = real_records(stack, name, ["create_collection", "insert", "insert"])
    t_a, t_b = (msg_pb2.InsertRequest.FromString(r).base.timestamp for _, r in recs[1:])
    assert t_a + 1 < t_b, (t_a, t_b)

    srv, topic, p = own_channel(stack, tmp_path, "fovtick")
    try:
        task = srv.create_task(collection_infos=[{"name": name}])
        p.produce(topic, recs[0][1])       # 0 CreateCollection
        p.produce(topic, recs[1][1])       # 1 Insert pk 1, 2, 3 at t_a
        p.produce(topic, time_tick(t_a))   # 2 TimeTick(t_a)
        p.flush(10)
        deadline = time.monotonic() + 60
        while True:
            pos = srv.post("position", {"task_id": task})[1]["data"]["positions"]
            if [q["position"] for q in pos if q["channel_name"] == topic] == ["2"]:
                break
            assert time.monotonic() < deadline, pos
            time.sleep(0.5)
        status, reply = srv.post("pause", {"task_id": task})
        assert status == 200, reply

        p.produce(topic, recs[2][1])           # 3 Insert pk 4, 5 at t_b, read by no one
        p.produce(topic, time_tick(t_a + 1))   # 4 a tick older than the insert before it
        p.flush(10)
        r = cli("failover", task, "--server", srv.base, "--drain", "0")
        assert r.returncode == 0, r.stdout + r.stderr
        h = srv.get(task)["handover"]
        assert h["phase"] == "done" and h["queue_read"] is True, h
        assert h["target_holds_up_to"]["ts"] == t_a, (h, t_a)
        assert h["last_source_time"]["ts"] == t_b, (h, t_b)
    finally:
        srv.stop()
        c.drop()
