"""End to end: a real `mcdc serve` replicates a real source Milvus into a real target Milvus, once
with the source's write-ahead log on Kafka and once on Pulsar (the Pulsar run needs the stack's
--pulsar profile: MCDC_STACK_PULSAR=1). Every check compares every row (PK set, scalars, vectors),
never just counts."""
import json
from pathlib import Path
import signal
import threading
import time
import uuid

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, db, utility

from mcdcserver import McdcServer, connect, count_rows, diff_collections, wait_equal

INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


@pytest.fixture(scope="module", params=["kafka", "pulsar"])
def mcdc(request, stack, tmp_path_factory):
    if request.param == "pulsar" and stack.get("MCDC_STACK_PULSAR") != "1":
        pytest.skip("the stack runs without its Pulsar profile (MCDC_STACK_PULSAR=1)")
    srv = McdcServer(stack, tmp_path_factory.mktemp("mcdc"), mq=request.param)
    srv.start()
    for alias in ("src", "tgt", "src2", "tgt2"):
        connections.disconnect(alias)
    connect("src", srv.source_uri)
    connect("tgt", stack["MCDC_TARGET_URI"])
    yield srv
    srv.stop()
    print(srv.log.read_text()[-4000:])


def all_types_schema():
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
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=8),
    ], enable_dynamic_field=True)


def row(i, tag=""):
    return {"pk": i, "f_bool": i % 2 == 0, "f_i8": i % 120 - 60, "f_i16": i % 30000, "f_i32": i * 3, "f_i64": i * 10 ** 9,
            "f_float": i / 3, "f_double": i / 7, "f_str": f"row{i}{tag}", "f_json": {"i": i, "t": tag},
            "vec": [(i * 7 + k) % 13 / 13 for k in range(8)], "extra": f"e{i}"}


def make_collection(name, schema, using="src", shards=2):
    c = Collection(name, schema, using=using, shards_num=shards)
    c.create_index("vec" if "vec" in [f.name for f in schema.fields] else schema.fields[-1].name, INDEX)
    c.load()
    return c


def test_every_change_reaches_the_target(mcdc, fresh_name):
    name = fresh_name("e2e")
    task = mcdc.create_task(collection_infos=[{"name": name}])
    c = make_collection(name, all_types_schema())
    c.insert([row(i) for i in range(300)])
    c.delete("pk in [1, 2, 3, 250]")
    c.upsert([row(i, "-up") for i in (10, 11, 400)])
    c.create_partition("p1")
    c.insert([row(i) for i in range(1000, 1050)], partition_name="p1")
    c.delete("pk in [1001, 1002]")
    wait_equal("src", "tgt", "default", name, "pk")
    t = Collection(name, using="tgt")
    assert not t.schema.primary_field.auto_id and t.schema.enable_dynamic_field
    assert utility.has_partition(name, "p1", using="tgt")
    info = mcdc.get(task)
    assert info["state"] == "Running" and info["applied"]["upserted_rows"] >= 3
    assert info["watermark"]["ts"] > 0 and info["lag_seconds"] < 60
    c.release()
    c.drop_partition("p1")
    c.load()
    wait_equal("src", "tgt", "default", name, "pk")
    c.drop()
    deadline = time.monotonic() + 60
    while utility.has_collection(name, using="tgt") and time.monotonic() < deadline:
        time.sleep(1)
    assert not utility.has_collection(name, using="tgt")


def test_second_database_varchar_and_autoid(mcdc, stack, fresh_name):
    dbname = fresh_name("db")
    db.create_database(dbname, using="src")
    connect("src2", mcdc.source_uri, dbname)
    mcdc.create_task(db_collections={dbname: [{"name": "*"}]})
    vname, aname = fresh_name("vc"), fresh_name("auto")
    v = Collection(vname, CollectionSchema([
        FieldSchema("id", DataType.VARCHAR, is_primary=True, max_length=32),
        FieldSchema("bvec", DataType.BINARY_VECTOR, dim=16),
    ]), using="src2", shards_num=1)
    v.create_index("bvec", {"index_type": "BIN_FLAT", "metric_type": "HAMMING", "params": {}})
    v.load()
    v.insert([{"id": f"k'{i}\"", "bvec": bytes([i % 256, (i * 3) % 256])} for i in range(100)])
    v.delete('id in ["k\'5\\"", "k\'6\\""]')
    a = make_collection(aname, CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True, auto_id=True),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
    ]), using="src2", shards=1)
    a.insert([{"vec": [i, -i]} for i in range(50)])
    connect("tgt2", stack["MCDC_TARGET_URI"], dbname)
    deadline = time.monotonic() + 60
    while dbname not in db.list_database(using="tgt") and time.monotonic() < deadline:
        time.sleep(0.5)
    connections.disconnect("tgt2")
    connect("tgt2", stack["MCDC_TARGET_URI"], dbname)
    wait_equal("src2", "tgt2", dbname, vname, "id")
    wait_equal("src2", "tgt2", dbname, aname, "pk")
    assert not Collection(aname, using="tgt2").schema.primary_field.auto_id  # the documented price


def test_pause_resume_and_restart_lose_nothing_double_nothing(mcdc, fresh_name):
    name = fresh_name("pr")
    task = mcdc.create_task(collection_infos=[{"name": name}])
    c = make_collection(name, all_types_schema())
    c.insert([row(i) for i in range(100)])
    wait_equal("src", "tgt", "default", name, "pk", timeout=180)

    status, reply = mcdc.post("pause", {"task_id": task})
    assert status == 200, reply
    assert mcdc.get(task)["state"] == "Paused"
    c.insert([row(i) for i in range(100, 200)])
    c.delete("pk in [5, 6]")
    status, reply = mcdc.post("resume", {"task_id": task})
    assert status == 200, reply
    wait_equal("src", "tgt", "default", name, "pk")

    # SIGTERM mid-stream, then start again: every row once.
    stop = threading.Event()

    def writer():
        i = 1000
        while not stop.is_set() and i < 4000:
            c.insert([row(k) for k in range(i, i + 100)])
            c.delete(f"pk in [{i + 1}, {i + 2}]")
            i += 100
            time.sleep(0.05)

    th = threading.Thread(target=writer)
    th.start()
    time.sleep(2)
    assert mcdc.stop(signal.SIGTERM) == 0
    time.sleep(2)
    mcdc.start()
    time.sleep(2)
    stop.set()
    th.join()
    wait_equal("src", "tgt", "default", name, "pk", timeout=120)
    assert count_rows("src", name) == count_rows("tgt", name)
    assert mcdc.get(task)["state"] == "Running"


def test_target_stays_a_normal_milvus(mcdc, fresh_name):
    name = fresh_name("normal")
    mcdc.create_task(collection_infos=[{"name": name}])
    c = make_collection(name, all_types_schema())
    c.insert([row(i) for i in range(50)])
    wait_equal("src", "tgt", "default", name, "pk")
    # reads on the target while replication runs
    t = Collection(name, using="tgt")
    # row(i)'s vector depends on i % 13: rows 3, 16, 29 and 42 share it, so all four are at distance 0
    # and which comes first is the index's choice (asking for the first alone was a flaky test)
    hits = t.search([row(3)["vec"]], "vec", {"metric_type": "L2"}, limit=5, consistency_level="Strong")
    assert {h.id for h in hits[0] if h.distance == 0} == {3, 16, 29, 42}, hits[0]
    # a collection mcdc does not own on the target takes writes
    own = fresh_name("own")
    o = Collection(own, CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                                          FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)]), using="tgt")
    o.insert([[1, 2], [[0, 0], [1, 1]]])
    o.flush()
    assert o.num_entities == 2
    o.drop()


def test_api_requests_and_errors(mcdc, stack, fresh_name):
    name = fresh_name("api")
    tid = "api_" + uuid.uuid4().hex[:8]
    task = mcdc.create_task(task_id=tid, collection_infos=[{"name": name}],
                            milvus_connect_param={"uri": stack["MCDC_TARGET_URI"], "token": "root:Secret123"})
    assert task == tid
    got = mcdc.get(tid)
    assert got["task_id"] == tid and got["state"] in ("Running", "Initial")
    assert "Secret123" not in json.dumps(got)
    status, reply = mcdc.post("list")
    assert status == 200 and tid in [t["task_id"] for t in reply["data"]["tasks"]]
    status, reply = mcdc.post("position", {"task_id": tid})
    assert status == 200 and reply["data"]["positions"]

    cases = [
        (mcdc.post("create", {"task_id": tid, "collection_infos": [{"name": name}],
                              "milvus_connect_param": {"uri": stack["MCDC_TARGET_URI"]}}), 409),
        (mcdc.post("get", {"task_id": "nope"}), 404),
        (mcdc.post("pause", {"task_id": "nope"}), 404),
        (mcdc.post("resume", {"task_id": "nope"}), 404),
        (mcdc.post("delete", {"task_id": "nope"}), 404),
        (mcdc.post("position", {"task_id": "nope"}), 404),
        (mcdc.post("frobnicate", {}), 400),
        (mcdc.post(None, raw=b'{"request_type": "create", "request_data": {'), 400),
        (mcdc.post("create", {"collection_infos": [{"name": name}]}), 400),            # no target
        (mcdc.post("create", {"milvus_connect_param": {"uri": stack["MCDC_TARGET_URI"]}}), 400),  # no collections
        (mcdc.post("get", {"task_id": 7}), 400),
        (mcdc.post("maintenance", {"operation": "explode"}), 400),
    ]
    for (status, reply), want in cases:
        assert status == want and reply.get("code") == want and reply.get("message"), (status, reply, want)
    status, reply = mcdc.post("create", {"collection_infos": [{"name": name}],
                                         "milvus_connect_param": {"uri": "http://127.0.0.1:1"}})
    assert 400 <= status < 600 and status != 500 and "127.0.0.1:1" in reply["message"], reply
    status, reply = mcdc.post("delete", {"task_id": tid})
    assert status == 200
    assert mcdc.post("get", {"task_id": tid})[0] == 404


def test_use_start_position_replays_from_the_collection_start(mcdc, stack, fresh_name):
    """Rows written before the task exists are copied, starting at the collection's own start position
    (its CreateCollection message, from etcd), and only the channels of its shards are read. On Kafka,
    a message of a collection etcd no longer knows is put between the collection's start and its rows:
    it is passed over at once, not after the 30 s a worker waits for a collection etcd may still
    describe."""
    name = fresh_name("start")
    c = make_collection(name, all_types_schema())
    if mcdc.mq == "kafka":
        from confluent_kafka import Producer
        from dumptool import dump_until
        changes = dump_until(stack, lambda ch: len([x for x in ch if x["kind"] == "create_collection"]) == 2,
                             "--collection", name)
        chans = sorted({x["channel"] for x in changes if x["kind"] == "create_collection"})
        from pymilvus.grpc_gen import msg_pb2
        m = msg_pb2.InsertRequest()
        m.ParseFromString((Path(__file__).resolve().parents[1] / "fixtures" / "kafka" / "insert_all_types.bin").read_bytes())
        m.collectionID = 1000 + uuid.uuid4().int % 10 ** 9      # an id this etcd never held
        foreign = m.SerializeToString()
        p = Producer({"bootstrap.servers": stack["MCDC_KAFKA_BROKERS"]})
        for ch in chans:
            p.produce(ch, foreign)
        assert p.flush(10) == 0
    c.insert([row(i) for i in range(500)])
    c.delete("pk in [5, 6, 7]")
    c.upsert([row(i, "-up") for i in (1, 2, 600)])
    c.flush()
    started = time.monotonic()
    task = mcdc.create_task(collection_infos=[{"name": name, "use_start_position": True}])
    # The index and load requests of a collection older than the task are in the replicate channel
    # before the task's start: mcdc gives the target collection the source's index and load state
    # from etcd when it creates it, so the target serves queries without a hand.
    wait_equal("src", "tgt", "default", name, "pk")
    t = Collection(name, using="tgt")
    assert [(i.field_name, i.params.get("index_type"), i.params.get("metric_type")) for i in t.indexes] == \
        [("vec", "FLAT", "L2")], [i.params for i in t.indexes]
    assert utility.load_state(name, using="tgt").name == "Loaded"
    took = time.monotonic() - started
    info = mcdc.get(task)
    assert info["state"] == "Running", info
    assert info["channels_read"] == 3, info          # its two shards' channels and the replicate channel
    assert info["applied"]["upserted_rows"] >= 3
    if mcdc.mq == "kafka":
        log = mcdc.log.read_text(errors="replace")
        assert "is no longer in etcd" in log
        assert "does not describe collection" not in log, f"a worker waited for the foreign id ({took:.1f} s)"


def test_deletes_of_a_backlog_are_joined(mcdc, fresh_name):
    """A backlog of single-key deletes (one WAL message each) reaches the target in a few Delete calls,
    not one call per message, for int64 and varchar keys; a key deleted, inserted again and deleted
    once more, and a delete in one partition, end exactly as on the source."""
    n_deletes = 120
    colls = []
    for kind in ("int", "str"):
        pk = FieldSchema("pk", DataType.INT64, is_primary=True) if kind == "int" else \
            FieldSchema("pk", DataType.VARCHAR, is_primary=True, max_length=32)
        schema = CollectionSchema([pk, FieldSchema("v", DataType.INT64), FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4)])
        name = fresh_name(f"deletes_{kind}")
        c = make_collection(name, schema)
        c.create_partition("p1")
        key = (lambda i: i) if kind == "int" else (lambda i: f"k{i}")
        lit = (lambda i: str(i)) if kind == "int" else (lambda i: f'"k{i}"')
        c.insert([[key(i) for i in range(400)], list(range(400)), [[i, 0, 0, 1] for i in range(400)]])
        c.insert([[key(i) for i in range(400, 450)], list(range(50)), [[i, 1, 0, 1] for i in range(50)]], partition_name="p1")
        for i in range(n_deletes):
            c.delete(f"pk in [{lit(i)}]")
        # Deleted, inserted again, deleted again: the order across the batches must hold.
        c.insert([[key(10), key(11)], [-10, -11], [[10, 9, 9, 9], [11, 9, 9, 9]]])
        c.delete(f"pk in [{lit(10)}]")
        c.delete(f"pk in [{lit(400)}, {lit(401)}]", partition_name="p1")
        c.flush()
        colls.append((name, c))
    task = mcdc.create_task(collection_infos=[{"name": name, "use_start_position": True} for name, _ in colls])
    for name, _ in colls:
        wait_equal("src", "tgt", "default", name, "pk")
        assert count_rows("tgt", name) == 450 - n_deletes + 1 - 2  # key 11 came back, 10 did not
    info = mcdc.get(task)
    assert info["state"] == "Running", info
    assert info["applied"]["deleted_rows"] >= 2 * (n_deletes + 3), info
    # Each collection wrote n_deletes + 2 Delete messages and 3 inserts: one call per message would be
    # over 2 * 123 calls in all.
    calls = info["latency"]["target_call_seconds"]["count"]
    assert calls < 60, info["latency"]
    for _, c in colls:
        c.drop()
