"""The stack is real: a write to the source Milvus reaches its Kafka WAL, and mcdc's own decoder
reads back exactly the CreateCollection, Insert and Delete it caused."""
import time

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, MilvusClient, connections

from walread import decode, end_offset, list_topics, read_topic


def _source_and_target(stack):
    connections.connect("default", uri=stack["MCDC_SOURCE_URI"])
    return MilvusClient(uri=stack["MCDC_SOURCE_URI"]), MilvusClient(uri=stack["MCDC_TARGET_URI"])


def test_both_milvus_answer(stack):
    src, tgt = _source_and_target(stack)
    assert isinstance(src.list_collections(), list)
    assert isinstance(tgt.list_collections(), list)


def test_source_writes_reach_kafka_and_decode(stack, fresh_name):
    _source_and_target(stack)
    name = fresh_name("stack")
    schema = CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("title", DataType.VARCHAR, max_length=32),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=3),
    ])
    prefix = stack["MCDC_SOURCE_ROOT_PATH"] + "-rootcoord-dml_"
    # Where each DML topic ends before our writes: only what follows is read and decoded.
    starts = {t: end_offset(stack["MCDC_KAFKA_BROKERS"], t)
              for t in list_topics(stack["MCDC_KAFKA_BROKERS"]) if t.startswith(prefix)}
    coll = Collection(name, schema, shards_num=1)
    try:
        coll.insert([[7, 8, 9], ["seven", "eight", "nine"], [[0.1, 0.2, 0.3], [1, 2, 3], [-1, 0, 1]]])
        coll.delete("pk in [8]")
        cid = coll.describe()["collection_id"]

        def mine():
            # pymilvus 2.3 does not tell the channel: look in every DML topic
            for t in list_topics(stack["MCDC_KAFKA_BROKERS"]):
                if t.startswith(prefix):
                    ours = [j for j in decode(t, read_topic(stack["MCDC_KAFKA_BROKERS"], t, start=starts.get(t, 0)),
                                          pk="pk", rows=True)
                            if j.get("collection_id") == cid]
                    if ours:
                        return t, ours
            return None, []

        deadline = time.monotonic() + 30
        while True:
            topic, ours = mine()
            if sum(j["kind"] in ("insert", "delete") for j in ours) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)

        kinds = [j["kind"] for j in ours]
        assert kinds == ["create_collection", "insert", "delete"], kinds
        create, insert, delete = ours
        assert create["collection"] == name
        assert [f["name"] for f in create["fields"] if f["id"] >= 100] == ["pk", "title", "vec"]
        assert insert["pks"] == [7, 8, 9]
        assert [r["title"] for r in insert["rows"]] == ["seven", "eight", "nine"]
        assert insert["rows"][1]["vec"] == [1.0, 2.0, 3.0]
        assert insert["shard"].startswith(topic + "_")
        assert delete["pks"] == [8]
        # the WAL is ordered by time on one channel
        assert create["ts"] < insert["ts"] < delete["ts"]
        assert [j["position"] for j in ours] == sorted(j["position"] for j in ours)
    finally:
        coll.drop()
