"""`mcdc dump` prints exactly the changes a script of operations made on the real source Milvus:
the right kinds, PKs and values, in order per channel — for int64 and varchar primary keys, with and
without autoID, in two databases; and it refuses bad flags, unreachable servers and corrupt WAL bytes."""
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Producer
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, db

from dumptool import dump_args, dump_until, run_dump
from stackenv import tool


def row(i):
    return {"pk": i, "f_bool": i % 3 == 0, "f_i8": i % 100 - 50, "f_i16": i * 7, "f_i32": -i * 1000,
            "f_i64": i * 10 ** 12, "f_float": i / 4, "f_double": i / 8, "f_str": f"s{i}",
            "f_json": {"n": i}, "vec": [i, -i, i / 2, 1.0], "dyn_key": i * 2}


ALL_TYPES = [
    FieldSchema("pk", DataType.INT64, is_primary=True),
    FieldSchema("f_bool", DataType.BOOL),
    FieldSchema("f_i8", DataType.INT8),
    FieldSchema("f_i16", DataType.INT16),
    FieldSchema("f_i32", DataType.INT32),
    FieldSchema("f_i64", DataType.INT64),
    FieldSchema("f_float", DataType.FLOAT),
    FieldSchema("f_double", DataType.DOUBLE),
    FieldSchema("f_str", DataType.VARCHAR, max_length=32),
    FieldSchema("f_json", DataType.JSON),
    FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
]


@pytest.fixture(scope="module")
def source(stack):
    connections.connect("default", uri=stack["MCDC_SOURCE_URI"])
    yield stack
    connections.disconnect("default")


def check_channel_order(changes):
    by_channel = {}
    for c in changes:
        by_channel.setdefault(c["channel"], []).append(c)
    for ch, cs in by_channel.items():
        pos = [int(c["position"]) for c in cs]
        assert pos == sorted(pos) and len(set(pos)) == len(pos), f"{ch}: positions not strictly increasing"
        dml = [c["ts"] for c in cs if c["kind"] in ("insert", "delete")]
        assert dml == sorted(dml), f"{ch}: DML not in ts order"


def test_every_change_of_an_int64_collection(source, fresh_name):
    name = fresh_name("dump")
    coll = Collection(name, CollectionSchema(ALL_TYPES, enable_dynamic_field=True), shards_num=2)
    try:
        coll.insert([row(i) for i in range(10)])
        coll.delete("pk in [3, 4]")
        up = row(5)
        up["f_str"] = "up5"
        coll.upsert([up])
        coll.create_partition("p1")
        coll.insert([row(i) for i in (100, 101)], partition_name="p1")
        coll.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
        coll.load()
        coll.release()
        coll.flush()
        coll.drop_partition("p1")

        def done(cs):
            return sum(c["kind"] == "drop_partition" for c in cs) >= 2 and any(c["kind"] == "flush" for c in cs)
        changes = dump_until(source, done, "--collection", name, "--rows")
    finally:
        coll.drop()

    check_channel_order(changes)
    kinds = [c["kind"] for c in changes]
    assert kinds.count("create_collection") == 2  # one per shard channel
    assert kinds.count("drop_partition") == 2
    for k in ("create_index", "load_collection", "release_collection", "flush"):
        assert kinds.count(k) == 1, (k, kinds)
    assert all(c.get("collection") == name for c in changes if c["kind"] != "flush")
    assert all(c.get("db") == "default" for c in changes)

    inserts = [c for c in changes if c["kind"] == "insert"]
    deletes = [c for c in changes if c["kind"] == "delete"]
    # plain inserts: 10 rows over 2 shards, then the upsert's insert half, then 2 rows into p1
    ins_pks = sorted(pk for c in inserts for pk in c["pks"])
    assert ins_pks == sorted(list(range(10)) + [5, 100, 101])
    del_pks = sorted(pk for c in deletes for pk in c["pks"])
    assert del_pks == [3, 4, 5]
    for c in inserts:
        for r in c["rows"]:
            i = r["pk"]
            want = row(i)
            if c["num_rows"] == 1 and i == 5:
                want["f_str"] = "up5"
            for k in ("f_bool", "f_i8", "f_i16", "f_i32", "f_i64", "f_str", "f_json"):
                assert r[k] == want[k], (i, k)
            assert r["f_float"] == pytest.approx(want["f_float"]) and r["f_double"] == pytest.approx(want["f_double"])
            assert r["vec"] == pytest.approx(want["vec"])
            assert r["$meta"] == {"dyn_key": i * 2}
        assert c["partition"] in ("_default", "p1")
        assert c["ts_wall"].endswith("Z")
    # the upsert: its insert and delete halves share one ts on one channel
    up_ins = [c for c in inserts if c["pks"] == [5]]
    up_del = [c for c in deletes if c["pks"] == [5]]
    assert len(up_ins) == 1 and len(up_del) == 1
    assert up_ins[0]["ts"] == up_del[0]["ts"] and up_ins[0]["channel"] == up_del[0]["channel"]
    assert [r["pk"] for c in inserts if c.get("partition") == "p1" for r in c["rows"]] == [100, 101]
    index = next(c for c in changes if c["kind"] == "create_index")
    assert index["ts"] > max(c["ts"] for c in changes if c["kind"] == "create_collection")


def test_second_database_varchar_and_autoid(source, fresh_name):
    dbname = fresh_name("db")
    db.create_database(dbname)
    connections.connect("d2", uri=source["MCDC_SOURCE_URI"], db_name=dbname)
    try:
        vc = Collection(fresh_name("vc"), CollectionSchema([
            FieldSchema("id", DataType.VARCHAR, is_primary=True, max_length=16),
            FieldSchema("bvec", DataType.BINARY_VECTOR, dim=16),
        ]), using="d2", shards_num=1)
        vc.insert([{"id": f"v{i}", "bvec": bytes([i, i + 1])} for i in range(4)])
        vc.delete('id in ["v0", "v2"]')
        auto = Collection(fresh_name("auto"), CollectionSchema([
            FieldSchema("pk", DataType.INT64, is_primary=True, auto_id=True),
            FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
        ]), using="d2", shards_num=1)
        res = auto.insert([{"vec": [1.0, 2.0]}, {"vec": [3.0, 4.0]}])
        generated = list(res.primary_keys)
        auto.delete(f"pk in [{generated[0]}]")
        auto_id = auto.describe()["collection_id"]
        auto.drop()

        def done(cs):
            return any(c["kind"] == "drop_collection" for c in cs)
        changes = dump_until(source, done, "--db", dbname, "--rows")
        check_channel_order(changes)
        mine = [c for c in changes if c.get("collection") in (vc.name, auto.name) or c.get("collection_id") == auto_id]
        assert all(c["db"] == dbname for c in mine)
        v = [c for c in mine if c.get("collection") == vc.name and c["kind"] in ("insert", "delete")]
        assert [c["kind"] for c in v] == ["insert", "delete"]
        assert v[0]["pks"] == ["v0", "v1", "v2", "v3"]
        assert [r["bvec"] for r in v[0]["rows"]] == [[i, i + 1] for i in range(4)]
        assert v[1]["pks"] == ["v0", "v2"]
        a = [c for c in mine if c.get("collection_id") == auto_id]
        assert [c["kind"] for c in a] == ["create_collection", "insert", "delete", "drop_collection"]
        assert a[1]["pks"] == generated  # autoID keys as the source generated them
        assert a[2]["pks"] == [generated[0]]
        # nothing from other databases leaks in
        assert all(c["db"] == dbname for c in changes if "db" in c)
    finally:
        for c in list(Collection(n, using="d2") for n in __import__("pymilvus").utility.list_collections(using="d2")):
            c.drop()
        connections.disconnect("d2")
        db.drop_database(dbname)


def test_follow_from_latest_sees_new_writes(source, fresh_name):
    name = fresh_name("follow")
    coll = Collection(name, CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
    ]), shards_num=1)
    proc = subprocess.Popen(dump_args(source, "--collection", name, "--from", "latest", "--follow"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)  # let the reader settle at the end of the channel
        coll.insert([[41, 42], [[1, 1], [2, 2]]])
        line = proc.stdout.readline()
        import json
        got = json.loads(line)
        assert got["kind"] == "insert" and got["pks"] == [41, 42] and got["collection"] == name
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        coll.drop()
    assert proc.returncode == 0


def test_corrupt_bytes_are_reported_with_channel_and_offset(source, fresh_name):
    prefix = "corrupt" + uuid.uuid4().hex[:8]
    topic = f"{prefix}-rootcoord-dml_0"
    p = Producer({"bootstrap.servers": source["MCDC_KAFKA_BROKERS"]})
    timetick = bytes.fromhex("0a0f08b00918") + bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]) + b"\x20\x01"
    p.produce(topic, timetick)           # offset 0: a good message
    p.produce(topic, b"\x0a\x03\x08\x90\x03 not protobuf\xff")  # offset 1: an Insert header, then garbage
    p.produce(topic, timetick)           # offset 2: never reached
    p.flush(10)
    rc, out, err = run_dump(source, "--prefix", prefix, "--dml-channels", "1", "--timeticks")
    assert rc == 1, (rc, err)
    assert topic in err and "position 1" in err and "Insert" in err, err
    assert [c["position"] for c in out if c["channel"] == topic] == ["0"]  # nothing after the bad one


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "unknown option '--bogus'"),
    (["--from"], "needs a value"),
    (["--dml-channels", "x"], "--dml-channels"),
    (["--after", "bad"], "want CHANNEL=POS"),
    (["--from", "latest", "--after", "a=1"], "give one"),
])
def test_bad_flags_exit_2(source, args, needle):
    rc, _, err = run_dump(source, *args)
    assert rc == 2 and needle in err, err


def test_unreachable_servers_exit_2(source):
    p = subprocess.run([str(tool("mcdc")), "dump", "--etcd", "127.0.0.1:1", "--kafka", source["MCDC_KAFKA_BROKERS"]],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "127.0.0.1:1" in p.stderr, p.stderr
    p = subprocess.run([str(tool("mcdc")), "dump", "--etcd", source["MCDC_ETCD_ENDPOINT"], "--kafka", "127.0.0.1:1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "127.0.0.1:1" in p.stderr, p.stderr
    rc, _, err = run_dump(source, "--collection", "no_such_collection_xyz")
    assert rc == 2 and "no_such_collection_xyz" in err
    p = subprocess.run([str(tool("mcdc")), "dump", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--follow" in p.stdout and "--rows" in p.stdout

