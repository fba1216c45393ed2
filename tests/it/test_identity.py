"""Collection identity and the life of a collection, end to end: a drop and a re-create under the
same name with another schema while one channel has a backlog, mcdc killed between a drop and a
re-create, a rename during a stream, `use_start_position` into a target that already holds the
rows, and etcd out of mcdc's reach while a collection is created and written (with the watermark
held back meanwhile). Every check compares the collections row by row and count(*)."""
import signal
import time

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, utility

from mcdcserver import McdcServer, connect, count_rows, diff_collections, wait_equal
from tcpproxy import TcpProxy

INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


@pytest.fixture(scope="module")
def proxy(stack):
    host, port = stack["MCDC_ETCD_ENDPOINT"].rsplit(":", 1)
    p = TcpProxy(host, port)
    yield p
    p.close()


@pytest.fixture(scope="module")
def mcdc(stack, proxy, tmp_path_factory):
    srv = McdcServer(stack, tmp_path_factory.mktemp("identity"), etcd_endpoint=proxy.address)
    srv.start()
    connect("src", stack["MCDC_SOURCE_URI"])
    connect("tgt", stack["MCDC_TARGET_URI"])
    yield srv
    srv.stop()
    print(srv.log.read_text()[-4000:])


def schema_a():
    return CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                             FieldSchema("s", DataType.VARCHAR, max_length=32),
                             FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4)])


def schema_b():
    """Another schema under the same name: other fields, another dimension."""
    return CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                             FieldSchema("n", DataType.INT32),
                             FieldSchema("vec", DataType.FLOAT_VECTOR, dim=8)])


def rows_a(lo, hi):
    keys = list(range(lo, hi))
    return [keys, [f"a{k}" for k in keys], [[k % 7, 1, 2, 3] for k in keys]]


def rows_b(lo, hi):
    keys = list(range(lo, hi))
    return [keys, [k * 3 for k in keys], [[(k + j) % 5 for j in range(8)] for k in keys]]


def make(name, schema, shards=2):
    c = Collection(name, schema, using="src", shards_num=shards)
    c.create_index("vec", INDEX)
    c.load()
    return c


def equal_with_counts(name, tgt_name=None):
    wait_equal("src", "tgt", "default", name, "pk", timeout=180, tgt_name=tgt_name)
    assert count_rows("src", name) == count_rows("tgt", tgt_name or name)


def test_drop_and_recreate_with_a_backlog(mcdc, fresh_name):
    """mcdc stopped while a 2-shard collection takes a big backlog, is dropped and re-created under
    its name with another schema and written again: on restart the two channels drain their
    backlogs at their own pace, and the one that reaches the old Drop last must neither drop the
    new collection nor write old rows into it."""
    name = fresh_name("recreate")
    task = mcdc.create_task(collection_infos=[{"name": name}])
    c = make(name, schema_a())
    c.insert(rows_a(0, 100))
    equal_with_counts(name)
    assert mcdc.stop(signal.SIGKILL) is not None
    for lo in range(100, 20100, 4000):
        c.insert(rows_a(lo, lo + 4000))
    c.release()
    c.drop()
    c2 = make(name, schema_b())
    c2.insert(rows_b(0, 700))
    mcdc.start()
    equal_with_counts(name)
    t = Collection(name, using="tgt")
    assert [f.name for f in t.schema.fields] == ["pk", "n", "vec"]
    c2.insert(rows_b(700, 900))
    equal_with_counts(name)
    assert mcdc.get(task)["state"] == "Running"
    c2.drop()


def test_killed_between_drop_and_recreate(mcdc, fresh_name):
    """mcdc killed after a collection was replicated; the source drops it and re-creates it under
    the same name and the same schema: the target must not keep the old rows (a stale collection
    reused by name would)."""
    name = fresh_name("killed")
    task = mcdc.create_task(collection_infos=[{"name": name}])
    c = make(name, schema_a(), shards=1)
    c.insert(rows_a(0, 1000))
    equal_with_counts(name)
    mcdc.stop(signal.SIGKILL)
    c.release()
    c.drop()
    time.sleep(1)
    c2 = make(name, schema_a(), shards=1)
    c2.insert(rows_a(5000, 5300))
    mcdc.start()
    equal_with_counts(name)
    assert count_rows("tgt", name) == 300
    assert mcdc.get(task)["state"] == "Running"
    c2.drop()


def test_rename_during_a_stream(mcdc, fresh_name):
    """A renamed source collection keeps its target collection (renamed to follow), also across a
    restart, and writes after the rename land there, not in a new empty collection."""
    name, new = fresh_name("ren"), fresh_name("renamed")
    task = mcdc.create_task(collection_infos=[{"name": name}])
    c = make(name, schema_a())
    c.insert(rows_a(0, 1000))
    equal_with_counts(name)
    utility.rename_collection(name, new, using="src")
    c = Collection(new, using="src")
    c.insert(rows_a(1000, 1500))
    equal_with_counts(new)
    assert not utility.has_collection(name, using="tgt")
    mcdc.stop(signal.SIGTERM)
    c.insert(rows_a(1500, 1600))
    mcdc.start()
    equal_with_counts(new)
    assert count_rows("tgt", new) == 1600
    assert mcdc.get(task)["state"] == "Running"
    c.drop()


def test_use_start_position_into_a_target_that_holds_the_rows(mcdc, fresh_name):
    """A second task that replays a collection's history from its start into a target that already
    holds those rows (the first task's) doubles nothing."""
    name = fresh_name("replay")
    c = make(name, schema_a())
    c.insert(rows_a(0, 3000))
    first = mcdc.create_task(collection_infos=[{"name": name, "use_start_position": True}])
    equal_with_counts(name)
    status, reply = mcdc.post("delete", {"task_id": first})
    assert status == 200, reply
    second = mcdc.create_task(collection_infos=[{"name": name, "use_start_position": True}])
    c.insert(rows_a(3000, 3100))
    equal_with_counts(name)
    assert count_rows("tgt", name) == 3100
    assert mcdc.get(second)["state"] == "Running"
    c.drop()


def test_etcd_out_of_reach_while_a_collection_is_created(mcdc, proxy, fresh_name):
    """etcd out of mcdc's reach for 40 s (the source still reaches it) while a covered collection is
    created and written on a channel mcdc already reads: its rows must arrive once etcd is back
    (they were skipped for good after 30 s), and meanwhile the watermark must not run past data
    it has not applied."""
    wide, late = fresh_name("wide"), fresh_name("late")
    task = mcdc.create_task(db_collections={"default": [{"name": wide}, {"name": late}]})
    w = make(wide, schema_a(), shards=16)  # every DML channel is read
    w.insert(rows_a(0, 200))
    equal_with_counts(wide)
    proxy.set_cut(True)
    try:
        created_ms = int(time.time() * 1000)
        c = make(late, schema_a())
        c.insert(rows_a(0, 500))
        deadline, k = time.monotonic() + 40, 10000
        while time.monotonic() < deadline:
            w.insert(rows_a(k, k + 5))  # the other channels keep going
            k += 5
            wm = mcdc.get(task)["watermark"]["ts"]
            assert wm >> 18 < created_ms + 2000, (wm >> 18, created_ms)
            time.sleep(2)
    finally:
        proxy.set_cut(False)
    equal_with_counts(late)
    equal_with_counts(wide)
    info = mcdc.get(task)
    assert info["state"] == "Running", info
    c.drop()
    w.drop()
