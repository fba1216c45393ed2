"""WAL orders the source produces only now and then, replayed on purpose: real records of a real
collection, copied into a channel of the test's own (mcdc reads `<prefix>-rootcoord-dml_0`) in the
order under test, so that what mcdc makes of them is compared with what the source holds.

An upsert reaches the WAL as an Insert (MsgBase.timestamp 0) and a Delete with one ts, written as
separate messages while the proxy runs other DML tasks side by side (spec/mq-messages.md §9.3);
another insert of the same collection can land between the halves."""
import time

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema

from mcdcserver import connect, count_rows, diff_collections
from test_poison import own_channel, real_records


def test_insert_between_the_halves_of_an_upsert(stack, tmp_path, fresh_name):
    connect("src", stack["MCDC_SOURCE_URI"])
    connect("tgt", stack["MCDC_TARGET_URI"])
    name = fresh_name("halves")
    c = Collection(name, CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                                           FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)]), using="src", shards_num=1)
    c.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    c.load()
    c.insert([[1, 2, 3], [[1, 1], [2, 2], [3, 3]]])
    c.upsert([[1, 2], [[7, 7], [8, 8]]])
    c.insert([[10], [[10, 10]]])
    recs = real_records(stack, name, ["create_collection", "insert", "insert", "delete", "insert"])

    srv, topic, p = own_channel(stack, tmp_path, "halves")
    try:
        task = srv.create_task(collection_infos=[{"name": name}])
        p.produce(topic, recs[0][1])   # CreateCollection
        p.produce(topic, recs[1][1])   # Insert pk 1, 2, 3
        p.produce(topic, recs[2][1])   # the upsert's Insert half: pk 1, 2
        p.produce(topic, recs[4][1])   # another Insert of the collection, between the halves: pk 10
        p.produce(topic, recs[3][1])   # the upsert's Delete half: pk 1, 2
        p.flush(10)

        t = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                t = Collection(name, using="tgt")
                if not t.indexes:
                    t.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
                t.load()
                if count_rows("tgt", name) >= 4:
                    break
            except Exception:
                pass
            time.sleep(1)
        time.sleep(3)  # anything still to come (a late Delete) lands
        assert diff_collections("src", "tgt", "default", name, "pk") is None
        assert count_rows("tgt", name) == count_rows("src", name) == 4
        assert srv.get(task)["state"] == "Running"
    finally:
        srv.stop()
        c.drop()
