"""Metadata that Milvus 2.3 keeps only in etcd, never in the WAL, replicated by src/pipeline/meta_sync
and the applier: aliases created, re-pointed and dropped during a stream, a partition created with no
rows, and collection properties given at create (collection.ttl.seconds). Properties changed later
are not tested: 2.3.5 writes them neither to etcd nor to the WAL (docs/guarantees.md). Every test
also compares the rows, one by one, on both sides."""
import threading
import time

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility

from mcdcserver import McdcServer, connect, wait_equal

INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


@pytest.fixture(scope="module", params=["kafka", "pulsar"])
def mcdc(request, stack, tmp_path_factory):
    if request.param == "pulsar" and stack.get("MCDC_STACK_PULSAR") != "1":
        pytest.skip("the stack runs without its Pulsar profile (MCDC_STACK_PULSAR=1)")
    srv = McdcServer(stack, tmp_path_factory.mktemp("mcdc"), mq=request.param)
    srv.start()
    for alias in ("src", "tgt"):
        connections.disconnect(alias)
    connect("src", srv.source_uri)
    connect("tgt", stack["MCDC_TARGET_URI"])
    yield srv
    srv.stop()
    print(srv.log.read_text()[-4000:])


def schema():
    return CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("tag", DataType.VARCHAR, max_length=32),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ])


def rows(start, n, tag="r"):
    return [{"pk": i, "tag": f"{tag}{i}", "vec": [(i + k) % 7 / 7 for k in range(4)]} for i in range(start, start + n)]


def make(name, load=True, **kwargs):
    c = Collection(name, schema(), using="src", shards_num=2, **kwargs)
    c.create_index("vec", INDEX)
    if load:
        c.load()
    return c


def wait_for(what, check, timeout=120):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last is True:
                return
        except Exception as e:  # the target collection may not exist yet
            last = f"{type(e).__name__}: {e}"
        time.sleep(1)
    raise AssertionError(f"{what} not so after {timeout}s: {last}")


def aliases(name, using):
    return sorted(utility.list_aliases(name, using=using))


def same_aliases(*names):
    """True once every named collection has the same aliases on the target as on the source."""
    def check():
        diff = {n: (aliases(n, "src"), aliases(n, "tgt")) for n in names}
        return True if all(s == t for s, t in diff.values()) else diff
    return check


def test_alias_create_alter_drop_during_a_stream(mcdc, fresh_name):
    a, b, other = fresh_name("ala"), fresh_name("alb"), fresh_name("alx")
    al = fresh_name("alias")
    mcdc.create_task(collection_infos=[{"name": a}, {"name": b}])
    ca, cb = make(a), make(b)
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            ca.insert(rows(10_000 + i * 20, 20, "a"))
            cb.insert(rows(10_000 + i * 20, 20, "b"))
            i += 1
            time.sleep(0.2)

    t = threading.Thread(target=writer)
    t.start()
    try:
        ca.insert(rows(0, 200))
        utility.create_alias(a, al, using="src")
        wait_for("alias created on the target", same_aliases(a, b))
        assert aliases(a, "tgt") == [al]
        utility.alter_alias(b, al, using="src")
        wait_for("alias re-pointed on the target", same_aliases(a, b))
        assert aliases(a, "tgt") == [] and aliases(b, "tgt") == [al]
        # An alias of a collection the task does not cover stays off the target.
        make(other, load=False)
        ignored = fresh_name("ign")
        utility.create_alias(other, ignored, using="src")
        utility.drop_alias(al, using="src")
        wait_for("alias dropped on the target", same_aliases(a, b))
        assert aliases(a, "tgt") == [] and aliases(b, "tgt") == []
    finally:
        stop.set()
        t.join()
    assert not utility.has_collection(other, using="tgt")
    wait_equal("src", "tgt", "default", a, "pk")
    wait_equal("src", "tgt", "default", b, "pk")
    # Clients of the standby that use the alias read the same rows as through the collection.
    utility.create_alias(a, al, using="src")
    wait_for("alias created again on the target", same_aliases(a, b))
    via_alias = Collection(al, using="tgt")
    via_alias.load()
    assert via_alias.query("pk >= 0", output_fields=["count(*)"])[0]["count(*)"] == \
        Collection(a, using="src").query("pk >= 0", output_fields=["count(*)"])[0]["count(*)"]


def test_empty_partition_is_created(mcdc, fresh_name):
    name = fresh_name("emp")
    mcdc.create_task(collection_infos=[{"name": name}])
    # Not loaded: a partition of a loaded collection cannot be dropped without a release.
    c = make(name, load=False)
    c.insert(rows(0, 100))
    c.create_partition("empty1")
    c.create_partition("gone")
    c.drop_partition("gone")
    c.insert(rows(100, 100))  # rows after: the watermark passes the partitions' ts
    c.load()  # (rows are compared by query, which needs it loaded on both sides; the load is replicated)
    wait_for("empty partition on the target", lambda: utility.has_partition(name, "empty1", using="tgt") or
             sorted(p.name for p in Collection(name, using="tgt").partitions))
    wait_equal("src", "tgt", "default", name, "pk")
    assert not utility.has_partition(name, "gone", using="tgt")
    assert sorted(p.name for p in Collection(name, using="tgt").partitions) == \
        sorted(p.name for p in Collection(name, using="src").partitions)


def properties_of(name, using):
    """The collection's properties as DescribeCollection reports them, as a dict."""
    desc = connections._fetch_handler(using).describe_collection(name)
    props = desc.get("properties", {})
    if isinstance(props, dict):
        return {str(k): str(v) for k, v in props.items()}
    return {p.key: p.value for p in props}


def test_shards_and_consistency_at_create(mcdc, fresh_name):
    """The target collection gets the source's shard count and consistency level. A refactor of the
    catalog once dropped both: every target collection had one shard (a many-shard source's rows on
    one channel, one datanode buffer: the target then synced segments during a catch-up that the
    same rows into the same shards never needed) and Strong consistency."""
    name = fresh_name("shards")
    mcdc.create_task(collection_infos=[{"name": name}])
    Collection(name, schema(), using="src", shards_num=3, consistency_level="Session")
    wait_for("the target collection", lambda: utility.has_collection(name, using="tgt"))
    src = connections._fetch_handler("src").describe_collection(name)
    tgt = connections._fetch_handler("tgt").describe_collection(name)
    assert src["num_shards"] == 3
    assert tgt["num_shards"] == 3
    assert tgt["consistency_level"] == src["consistency_level"]


def test_ttl_property_at_create(mcdc, fresh_name):
    name = fresh_name("ttl")
    mcdc.create_task(collection_infos=[{"name": name}])
    c = make(name, properties={"collection.ttl.seconds": "86400"})
    assert properties_of(name, "src").get("collection.ttl.seconds") == "86400"
    c.insert(rows(0, 300))
    wait_equal("src", "tgt", "default", name, "pk")
    assert properties_of(name, "tgt").get("collection.ttl.seconds") == "86400"


def test_create_index_the_target_already_has(mcdc, fresh_name):
    """The target collection already carries the index the source asks for, under another name (an
    earlier CreateIndex that timed out on a busy target but landed; an operator's own): Milvus 2.3.5
    refuses the repeat ("creating multiple indexes on same field is not supported"), and mcdc takes
    it as done instead of pausing. Seen when a restarted target answered CreateIndex after the
    deadline: the task paused and nothing after the request was replicated."""
    name = fresh_name("idx")
    t = Collection(name, schema(), using="tgt", shards_num=2)   # adopted: the same schema
    t.create_index("vec", INDEX, index_name="operators_own")
    task = mcdc.create_task(collection_infos=[{"name": name}])
    c = make(name)                                              # index "vec" on vec, then load
    c.insert(rows(0, 200))
    wait_equal("src", "tgt", "default", name, "pk")
    info = mcdc.get(task)
    assert info["state"] == "Running", info
    assert [i.index_name for i in Collection(name, using="tgt").indexes] == ["operators_own"]
    assert f"{name}: vec is already indexed as the source asks" in mcdc.log.read_text()
