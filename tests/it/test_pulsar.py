"""mcdc's own Pulsar consumer against the real thing: Pulsar 3.0.7 standalone and a source Milvus
2.3.5 whose WAL is that Pulsar (the stack's "pulsar" profile: MCDC_STACK_PULSAR=1 or
`scripts/stack start --pulsar`). The reader is driven through tests/tools/mq_cat, which opens a
channel with mcdc's mq driver (kafka or pulsar) and decodes every message with mcdc's decoder.

  - the same operations on the Kafka source and on the Pulsar source come out as the same changes;
  - a reader started at / after a position starts exactly there;
  - a Pulsar restart in the middle of a read loses nothing and repeats nothing;
  - a task whose saved position retention removed pauses, naming it, and writes nothing after the gap.
"""
import json
import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections

from stackenv import STACK, tool

DML_CHANNELS = 16


@pytest.fixture(scope="module")
def pstack(stack):
    if stack.get("MCDC_STACK_PULSAR") != "1":
        pytest.skip("the stack's pulsar profile is off: run with MCDC_STACK_PULSAR=1 "
                    "(or after `scripts/stack start --pulsar`)")
    connections.connect("kafka-src", uri=stack["MCDC_SOURCE_URI"])
    connections.connect("pulsar-src", uri=stack["MCDC_PSOURCE_URI"])
    yield stack
    connections.disconnect("kafka-src")
    connections.disconnect("pulsar-src")


class Source:
    """One source Milvus and the queue its WAL is on, read through mq_cat."""

    def __init__(self, stack, kind):
        self.kind = kind
        if kind == "pulsar":
            self.alias, self.address, self.prefix = "pulsar-src", stack["MCDC_PULSAR_URL"], stack["MCDC_PSOURCE_ROOT_PATH"]
        else:
            self.alias, self.address, self.prefix = "kafka-src", stack["MCDC_KAFKA_BROKERS"], stack["MCDC_SOURCE_ROOT_PATH"]

    def channel(self, i):
        return f"{self.prefix}-rootcoord-dml_{i}"

    def cat_args(self, channel, *more):
        return [str(tool("mq_cat")), "--mq", self.kind, "--address", self.address, "--channel", channel, *more]

    def last(self, channel):
        out = subprocess.run(self.cat_args(channel, "--last"), capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def read(self, channel, start="earliest", *more):
        p = subprocess.run(self.cat_args(channel, "--from", start, "--pk", "id", *more),
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"mq_cat {channel}: {p.stderr}"
        return [json.loads(line) for line in p.stdout.splitlines()]

    def snapshot(self):
        """The last position of every DML channel now (None = empty or no topic yet)."""
        with ThreadPoolExecutor(DML_CHANNELS) as ex:
            lasts = list(ex.map(lambda i: self.last(self.channel(i)), range(DML_CHANNELS)))
        return {self.channel(i): None if v == "none" else v for i, v in enumerate(lasts)}

    def changes_since(self, snap, collection_id):
        """{channel: [changes of the collection]} written after the snapshot."""
        def one(ch):
            return ch, self.read(ch, f"after:{snap[ch]}" if snap[ch] else "earliest")
        with ThreadPoolExecutor(DML_CHANNELS) as ex:
            got = dict(ex.map(one, snap))
        return {ch: [c for c in cs if c.get("collection_id") == collection_id] for ch, cs in got.items()
                if any(c.get("collection_id") == collection_id for c in cs)}


SCHEMA = CollectionSchema([
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("title", DataType.VARCHAR, max_length=64),
    FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
])


def rows(ids, seed):
    rng = random.Random(seed)
    return [list(ids), [f"t{i}" for i in ids], [[rng.random() for _ in range(4)] for _ in ids]]


def workload(alias, name):
    """The operations both sources get; returns the collection id."""
    coll = Collection(name, SCHEMA, shards_num=1, using=alias)
    coll.insert(rows(range(1, 51), 1))
    coll.insert(rows(range(51, 61), 2))
    coll.delete("id in [3, 7, 55]")
    coll.upsert(rows([10, 11], 3))
    return coll.describe()["collection_id"]


def shape(changes):
    """What must be equal across queues: the kinds and their rows, not ids, times or positions."""
    out = []
    for c in changes:
        item = {"kind": c["kind"], "num_rows": c.get("num_rows")}
        if c["kind"] in ("insert", "delete"):
            item["pks"] = c.get("pks")
        if c["kind"] == "create_collection":
            item["fields"] = [(f["name"], f.get("type")) for f in c.get("fields", [])]
        out.append(item)
    return out


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_same_changes_as_on_kafka(pstack, fresh_name):
    t0 = time.monotonic()
    seen = {}
    for kind in ("kafka", "pulsar"):
        src = Source(pstack, kind)
        snap = src.snapshot()
        name = fresh_name(f"pq_{kind}")
        cid = workload(src.alias, name)
        by_channel = wait_for(
            lambda: (lambda got: got if sum(len(v) for v in got.values()) >= 6 else None)(src.changes_since(snap, cid)),
            30, f"the {kind} source's changes")
        assert len(by_channel) == 1, f"{kind}: one shard, one channel: {sorted(by_channel)}"
        changes = next(iter(by_channel.values()))
        seen[kind] = shape(changes)
        Collection(name, using=src.alias).drop()
    want = [
        {"kind": "create_collection", "num_rows": None},
        {"kind": "insert", "num_rows": 50, "pks": list(range(1, 51))},
        {"kind": "insert", "num_rows": 10, "pks": list(range(51, 61))},
        {"kind": "delete", "num_rows": 3, "pks": [3, 7, 55]},
        {"kind": "insert", "num_rows": 2, "pks": [10, 11]},   # upsert = insert + delete, same ts
        {"kind": "delete", "num_rows": 2, "pks": [10, 11]},
    ]
    for kind in seen:
        got = [{k: v for k, v in c.items() if k != "fields"} for c in seen[kind]]
        assert got == want, f"{kind}: {got}"
    assert seen["kafka"] == seen["pulsar"]
    print(f"same changes on Kafka and Pulsar: {time.monotonic() - t0:.1f} s")


def test_start_at_and_after_a_position(pstack, fresh_name):
    t0 = time.monotonic()
    src = Source(pstack, "pulsar")
    snap = src.snapshot()
    name = fresh_name("pq_seek")
    cid = workload(src.alias, name)
    channel = next(iter(wait_for(lambda: src.changes_since(snap, cid), 30, "the changes")))
    everything = src.read(channel, "earliest", "--timeticks")
    mine = [i for i, c in enumerate(everything) if c.get("collection_id") == cid and c["kind"] == "insert"]
    assert len(mine) >= 2
    k = mine[0]
    pos = [c["position"] for c in everything]
    assert len(set(pos)) == len(pos)

    after = src.read(channel, f"after:{pos[k]}", "--timeticks")
    assert after[0]["position"] == pos[k + 1]
    assert after[:len(everything) - k - 1] == everything[k + 1:]

    at = src.read(channel, f"at:{pos[k]}", "--timeticks")
    assert at[0]["position"] == pos[k]
    assert at[0]["kind"] == "insert" and at[0]["pks"] == list(range(1, 51))

    # A Pulsar id with batch index -1 names the whole entry: after it = the next entry.
    ledger, entry, _, _ = pos[k].split(":")
    whole = src.read(channel, f"after:{ledger}:{entry}:-1:-1", "--timeticks")
    assert whole[0]["position"] == pos[k + 1]

    def key(text):
        return tuple(int(x) for x in text.split(":"))
    assert key(src.last(channel)) >= key(pos[-1])
    Collection(name, using=src.alias).drop()
    print(f"start at/after: {time.monotonic() - t0:.1f} s")


def stack_pid(stack, piece, signature):
    pid = int(Path(stack["MCDC_STACK_DIR"], "pids", f"{piece}.pid").read_text())
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert signature in cmd, f"pid {pid} is not the stack's {piece}"
    return pid


def test_broker_restart_loses_and_repeats_nothing(pstack, fresh_name, tmp_path):
    """A follower reads one channel while a writer keeps inserting and Pulsar is restarted under
    both. The follower must hand out exactly what a fresh read of the channel holds afterwards."""
    import threading

    src = Source(pstack, "pulsar")
    snap = src.snapshot()
    name = fresh_name("pq_restart")
    coll = Collection(name, SCHEMA, shards_num=1, using=src.alias)
    cid = coll.describe()["collection_id"]
    channel = next(iter(wait_for(lambda: src.changes_since(snap, cid), 30, "CreateCollection")))
    start = f"after:{snap[channel]}" if snap[channel] else "earliest"

    out_path, err_path = tmp_path / "follow.out", tmp_path / "follow.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        follower = subprocess.Popen(src.cat_args(channel, "--from", start, "--pk", "id", "--timeticks", "--follow"),
                                    stdout=out, stderr=err)

    def followed():
        return [json.loads(line) for line in out_path.read_text().splitlines()]

    acked, stop_writing = [], threading.Event()

    def writer():
        n = 0
        while not stop_writing.is_set():
            ids = list(range(n * 10 + 1, n * 10 + 11))
            n += 1
            try:
                coll.insert(rows(ids, n), timeout=10)
                acked.append(ids)
            except Exception:  # noqa: BLE001 - Milvus waits for Pulsar like we do
                time.sleep(0.5)
            time.sleep(0.1)

    w = threading.Thread(target=writer, daemon=True)
    try:
        w.start()
        wait_for(lambda: len(acked) >= 5 and len(followed()) >= 5, 30, "writes through the follower")

        pulsar = stack_pid(pstack, "pulsar", "PulsarStandaloneStarter")
        t_stop = time.monotonic()
        os.kill(pulsar, signal.SIGTERM)
        wait_for(lambda: not Path(f"/proc/{pulsar}").exists() or
                 Path(f"/proc/{pulsar}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX", 60, "Pulsar to stop")
        stopped_s = time.monotonic() - t_stop
        t_start = time.monotonic()
        subprocess.run([str(STACK), "start", "--pulsar"], check=True, capture_output=True, timeout=300)
        started_s = time.monotonic() - t_start

        before = len(acked)
        wait_for(lambda: len(acked) >= before + 5, 120, "the Pulsar source to accept writes again")
        stop_writing.set()
        w.join(30)
        last_ids = acked[-1]
        wait_for(lambda: any(c["kind"] == "insert" and c.get("pks") == last_ids for c in followed()), 60,
                 "the last acknowledged insert through the follower")
    finally:
        stop_writing.set()
        follower.send_signal(signal.SIGTERM)
        follower.wait(timeout=30)
    assert follower.returncode == 0, err_path.read_text()

    got = followed()
    pos = [tuple(int(x) for x in c["position"].split(":")) for c in got]
    assert all(a < b for a, b in zip(pos, pos[1:])), "positions not strictly increasing: a message repeated"
    # Nothing lost: the follower saw exactly what a fresh read of the channel sees.
    fresh = src.read(channel, start, "--timeticks")
    assert got == fresh[:len(got)]
    inserts = [c["pks"] for c in got if c.get("collection_id") == cid and c["kind"] == "insert"]
    missing = [ids for ids in acked if ids not in inserts]
    assert not missing, f"acknowledged inserts the follower never saw: {missing[:3]}"
    assert "transient:" in err_path.read_text(), "the follower should have said why it waited"
    coll.drop()
    print(f"Pulsar restart: stop {stopped_s:.1f} s, start {started_s:.1f} s; follower read {len(got)} messages "
          f"({len(acked)} acknowledged inserts), none lost or repeated")


def tls_proxy(cert, key, broker_port):
    """A TLS front for the plain broker (the standalone has no TLS listener): what a
    pulsar+ssl:// service URL reaches. Returns (port, stop)."""
    import socket
    import ssl
    import threading

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(0.2)
    stop = threading.Event()

    def pump(a, b):
        try:
            while not stop.is_set():
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while not stop.is_set():
            try:
                raw, _ = lsock.accept()
            except OSError:
                continue
            try:
                raw.settimeout(10)
                client = ctx.wrap_socket(raw, server_side=True)
                client.settimeout(None)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", broker_port))
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return lsock.getsockname()[1], lambda: (stop.set(), lsock.close())


def self_signed(tmp_path, name):
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_tls(pstack, fresh_name, tmp_path):
    src = Source(pstack, "pulsar")
    snap = src.snapshot()
    name = fresh_name("pq_tls")
    cid = workload(src.alias, name)
    channel = next(iter(wait_for(lambda: src.changes_since(snap, cid), 30, "the changes")))
    plain = src.read(channel)

    cert, key = self_signed(tmp_path, "broker")
    other, _ = self_signed(tmp_path, "other")
    port, stop = tls_proxy(str(cert), str(key), int(pstack["MCDC_PULSAR_PORT"]))
    try:
        tls = Source(pstack, "pulsar")
        tls.address = f"pulsar+ssl://127.0.0.1:{port}"
        assert tls.read(channel, "earliest", "--set", f"pulsar.tls.ca={cert}") == plain

        # A CA that did not sign the broker's certificate: no data, and the reader says why.
        p = subprocess.run(tls.cat_args(channel, "--set", f"pulsar.tls.ca={other}", "--follow", "--timeout-ms", "1500"),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and p.stdout == ""
        assert "certificate not trusted" in p.stderr, p.stderr
    finally:
        stop()
    Collection(name, using=src.alias).drop()


def test_mcdc_dump_prints_the_same_changes_on_both_queues(pstack, stack, fresh_name):
    """`mcdc dump --pulsar` on the Pulsar-backed source prints what `mcdc dump --kafka` prints on the
    Kafka-backed one for the same operations."""
    import json
    import subprocess
    seen = {}
    for kind in ("kafka", "pulsar"):
        src = Source(pstack, kind)
        name = fresh_name(f"pd_{kind}")
        workload(src.alias, name)
        if kind == "kafka":
            args = ["--root", stack["MCDC_SOURCE_ROOT_PATH"], "--kafka", stack["MCDC_KAFKA_BROKERS"]]
        else:
            args = ["--root", stack["MCDC_PSOURCE_ROOT_PATH"], "--pulsar", stack["MCDC_PULSAR_URL"]]

        def dumped():
            p = subprocess.run([str(tool("mcdc")), "dump", "--etcd", stack["MCDC_ETCD_ENDPOINT"], *args,
                                "--collection", name], capture_output=True, text=True, timeout=120)
            assert p.returncode == 0, p.stderr
            got = [json.loads(line) for line in p.stdout.splitlines()]
            got = [c for c in got if not c["channel"].endswith("-replicate-msg")]
            return got if len(got) >= 6 else None
        changes = wait_for(dumped, 60, f"mcdc dump on {kind}")
        assert all(c["collection"] == name and c["db"] == "default" for c in changes)
        seen[kind] = shape(changes)
        Collection(name, using=src.alias).drop()
    assert seen["kafka"] == seen["pulsar"], seen


def pulsar_admin(stack, method, topic_path, what=""):
    """One call of the standalone's admin REST API on persistent://public/default/<topic_path>
    (Milvus's pulsar.tenant and pulsar.namespace as the stack configures them)."""
    import urllib.request
    url = f"{stack['MCDC_PULSAR_ADMIN_URL']}/admin/v2/persistent/public/default/{topic_path}{what}"
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        return r.status, json.loads(body) if body else None


def test_retention_past_a_saved_position_pauses_the_task(pstack, fresh_name, tmp_path):
    """A task replicates a collection; mcdc stops; more rows are written; the topic is unloaded (its
    ledger is closed, the reloaded topic writes to a new one) and truncated (every ledger but the
    current one is deleted, the saved position with it). Started again, the task must pause with a
    reason naming the topic and the saved position instead of reading on from the oldest entry left;
    the target keeps exactly the rows from before the gap."""
    import re
    from mcdcserver import McdcServer, connect, count_rows, normalize, rows_of, wait_equal

    t0 = time.monotonic()
    src = Source(pstack, "pulsar")
    snap = src.snapshot()
    srv = McdcServer(pstack, tmp_path, mq="pulsar")
    srv.start()
    connect("psrc", srv.source_uri)
    connect("tgt", pstack["MCDC_TARGET_URI"])
    name = fresh_name("pq_trim")
    try:
        task = srv.create_task(collection_infos=[{"name": name}])
        coll = Collection(name, SCHEMA, shards_num=1, using="psrc")
        coll.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
        coll.load()
        cid = coll.describe()["collection_id"]
        coll.insert(rows(range(1, 101), 1))
        before_gap = set(range(1, 101))
        wait_equal("psrc", "tgt", "default", name, "id", timeout=150)
        channel = next(iter(wait_for(lambda: src.changes_since(snap, cid), 30, "the collection's channel")))
        topic = f"persistent://public/default/{channel}"

        assert srv.stop() == 0  # SIGTERM: the channel's checkpoint is stored
        coll.insert(rows(range(101, 201), 2))  # the gap: only in the ledger that will be deleted

        _, stats = pulsar_admin(pstack, "GET", channel, "/internalStats")
        old = {l["ledgerId"] for l in stats["ledgers"]}
        assert old, stats
        # Unload: the topic's current ledger is closed; when Milvus's producer and consumers come back
        # the topic is loaded again and writes to a new ledger (a managed ledger always opens a fresh
        # one). Truncate only deletes ledgers other than the current one, so this comes first.
        status, _ = pulsar_admin(pstack, "PUT", channel, "/unload")
        assert status in (200, 204), status

        def new_ledger_in_use():
            _, st = pulsar_admin(pstack, "GET", channel, "/internalStats")
            return any(l["ledgerId"] not in old for l in st["ledgers"]) and st["currentLedgerEntries"] > 0
        wait_for(new_ledger_in_use, 60, "the reloaded topic to write to a new ledger")
        coll.insert(rows(range(201, 301), 3))  # after the gap, in the new ledger
        # Milvus's own subscriptions must have consumed everything: truncate clears every cursor's
        # backlog, theirs too. A Strong count waits for the query side, the flush for the data side.
        wait_for(lambda: count_rows("psrc", name) == 300, 60, "the source to hold its 300 rows")
        coll.flush()
        # Truncate: the broker clears every subscription's backlog and deletes every ledger but the
        # current one, whatever the retention says (ManagedLedgerImpl.asyncTruncate).
        status, _ = pulsar_admin(pstack, "DELETE", channel, "/truncate")
        assert status in (200, 204), status

        def old_ledgers_gone():
            _, st = pulsar_admin(pstack, "GET", channel, "/internalStats")
            return not old & {l["ledgerId"] for l in st["ledgers"]}
        wait_for(old_ledgers_gone, 60, f"ledgers {sorted(old)} of {topic} to be deleted")

        srv.start()
        info = wait_for(lambda: (lambda i: i if i["state"] == "Paused" else None)(srv.get(task)), 90,
                        "the task to pause")
        reason = info["reason"]
        m = re.search(r"pulsar topic (\S+): position (\d+):(\d+):-?\d+:-?\d+ is no longer in the topic "
                      r"\(retention\?\); the oldest message left is (\d+):(\d+):", reason)
        assert m, reason
        assert m.group(1) == topic, reason
        assert int(m.group(2)) in old, f"the saved position should be in a deleted ledger {sorted(old)}: {reason}"
        assert int(m.group(4)) not in old, reason
        assert channel in reason

        # Nothing after the gap reached the target, and what came before is exact, row by row.
        time.sleep(3)  # a reader that read on would have written by now
        s_rows, t_rows = rows_of("psrc", "default", name, "id"), rows_of("tgt", "default", name, "id")
        assert set(t_rows) == before_gap, sorted(set(t_rows) ^ before_gap)[:10]
        for k in before_gap:
            assert {f: normalize(v) for f, v in t_rows[k].items()} == {f: normalize(v) for f, v in s_rows[k].items()}
        assert count_rows("tgt", name) == 100
        assert count_rows("psrc", name) == 300
        assert srv.get(task)["state"] == "Paused"
    finally:
        srv.stop()
    Collection(name, using="psrc").drop()
    print(f"retention past a saved position: paused with '{reason}' in {time.monotonic() - t0:.1f} s")


def test_failover_reads_a_paused_task_s_topic_past_its_checkpoint(pstack, fresh_name, tmp_path):
    """A failover of a task on the Pulsar source reads its topic from the task's checkpoint to the
    end (mcdc's consumer started after a position, ended by the broker's last message id): the
    newest source time it reports is that of the last write, which the paused task never read, and
    what the target holds is from before it."""
    from mcdcserver import McdcServer, connect, wait_equal
    from test_handover import cli

    srv = McdcServer(pstack, tmp_path, mq="pulsar")
    srv.start()
    connect("psrc", srv.source_uri)
    connect("tgt", pstack["MCDC_TARGET_URI"])
    name = fresh_name("pq_fov")
    coll = None
    try:
        task = srv.create_task(collection_infos=[{"name": name}])
        coll = Collection(name, SCHEMA, shards_num=1, using="psrc")
        coll.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
        coll.load()
        coll.insert(rows(range(1, 101), 1))
        wait_equal("psrc", "tgt", "default", name, "id", timeout=150)
        status, reply = srv.post("pause", {"task_id": task})
        assert status == 200, reply
        after = [coll.insert(rows(range(101, 201), 2)).timestamp,
                 coll.upsert(rows([5, 6], 3)).timestamp]   # an Insert half without a header time
        r = cli("failover", task, "--server", srv.base, "--drain", "0")
        assert r.returncode == 0, r.stdout + r.stderr
        h = srv.get(task)["handover"]
        assert h["phase"] == "done" and h["queue_read"] is True, h
        assert 0 < h["target_holds_up_to"]["ts"] < after[0], (h, after)
        assert max(after) <= h["last_source_time"]["ts"] <= int(time.time() * 1000) << 18, (h, after)
    finally:
        srv.stop()
        if coll is not None:
            coll.drop()
