"""A message that does not decode stops the task where it is: the task pauses with channel, position
and reason, nothing after it is applied, the checkpoint stays before it. An operator skips exactly
that message with a maintenance request and resumes; everything after it is applied.

The garbage goes into a channel of its own (mcdc reads `<prefix>-rootcoord-dml_0` with a test prefix)
into which real WAL records of a real collection are copied around it, so the source Milvus never
sees the garbage.

The skip is refused for any message but the one the task is paused at (400, naming it), stored once
accepted (a restart before the resume keeps it), shown in `get`, and taken once."""
import time
import uuid

from confluent_kafka import Producer
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema

from mcdcserver import McdcServer, connect, wait_equal, rows_of
from dumptool import run_dump
from walread import read_offsets


def real_records(stack, name, want):
    """(kind, bytes) of the collection's records, found with `mcdc dump --collection`."""
    deadline = time.monotonic() + 30
    while True:
        rc, changes, err = run_dump(stack, "--collection", name)
        assert rc == 0, err
        changes = [c for c in changes if not c["channel"].endswith("-replicate-msg")]
        if [c["kind"] for c in changes] == want:
            break
        assert time.monotonic() < deadline, changes
        time.sleep(0.5)
    raw = read_offsets(stack["MCDC_KAFKA_BROKERS"], changes[0]["channel"], [int(c["position"]) for c in changes])
    return list(zip(want, raw))


def own_channel(stack, workdir, tag):
    """An mcdc started on a channel prefix of the test's own (it reads `<prefix>-rootcoord-dml_0`), that
    channel's name, and a producer into it: records go there in the order under test, and the source
    Milvus never sees them."""
    prefix = tag + uuid.uuid4().hex[:8]
    srv = McdcServer(stack, workdir, channel_prefix=prefix, dml_channels=1)
    srv.start()
    return srv, f"{prefix}-rootcoord-dml_0", Producer({"bootstrap.servers": stack["MCDC_KAFKA_BROKERS"]})


def skip(srv, task, channel, position):
    return srv.post("maintenance", {"operation": "skip_message",
                                    "params": {"task_id": task, "channel": channel, "position": position}})


def test_poison_message_pauses_and_can_be_skipped(stack, tmp_path, fresh_name):
    connect("src", stack["MCDC_SOURCE_URI"])
    connect("tgt", stack["MCDC_TARGET_URI"])
    name = fresh_name("poison")
    c = Collection(name, CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                                           FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)]), using="src", shards_num=1)
    c.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    c.load()
    c.insert([[1, 2, 3], [[1, 1], [2, 2], [3, 3]]])
    c.insert([[4, 5], [[4, 4], [5, 5]]])
    recs = real_records(stack, name, ["create_collection", "insert", "insert"])

    srv, topic, p = own_channel(stack, tmp_path, "poison")
    try:
        task = srv.create_task(collection_infos=[{"name": name}])
        p.produce(topic, recs[0][1])                          # 0 CreateCollection
        p.produce(topic, recs[1][1])                          # 1 Insert pk 1,2,3
        p.produce(topic, b"\x0a\x03\x08\x90\x03 garbage\xff")  # 2 does not decode
        p.produce(topic, recs[2][1])                          # 3 Insert pk 4,5
        p.flush(10)

        deadline = time.monotonic() + 60
        while srv.get(task)["state"] != "Paused" and time.monotonic() < deadline:
            time.sleep(0.5)
        info = srv.get(task)
        assert info["state"] == "Paused", info
        assert topic in info["reason"] and "position 2" in info["reason"] and "Insert" in info["reason"], info["reason"]
        time.sleep(1)
        # (this channel has no replicate channel beside it, so index and load are done here)
        t = Collection(name, using="tgt")
        t.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
        t.load()
        assert sorted(rows_of("tgt", "default", name, "pk")) == [1, 2, 3]   # nothing after it
        pos = {p["channel_name"]: p["position"] for p in srv.post("position", {"task_id": task})[1]["data"]["positions"]}
        assert pos[topic] == "1", pos                                         # the checkpoint did not move past it

        # get names the message as data, the one a skip may name
        assert info["paused_at"] == {"channel": topic, "position": "2"}, info
        assert "skip_requested" not in info, info

        # it stays paused across a restart, at the same place
        srv.stop()
        srv.start()
        info = srv.get(task)
        assert info["state"] == "Paused"
        assert info["paused_at"] == {"channel": topic, "position": "2"}, info

        # a skip of any other message is refused, naming where the task is paused
        for channel, position in ((topic, "3"), (topic, "1"), (topic.replace("dml_0", "dml_1"), "2")):
            status, reply = skip(srv, task, channel, position)
            assert status == 400, reply
            assert f"paused at channel {topic} position 2" in reply["message"], reply
        assert "skip_requested" not in srv.get(task)

        status, reply = skip(srv, task, topic, "2")
        assert status == 200, reply
        assert srv.get(task)["skip_requested"] == {"channel": topic, "position": "2"}

        # the accepted skip is stored: a restart before the resume keeps it
        srv.stop()
        srv.start()
        info = srv.get(task)
        assert info["state"] == "Paused"
        assert info["skip_requested"] == {"channel": topic, "position": "2"}, info

        status, reply = srv.post("resume", {"task_id": task})
        assert status == 200, reply
        wait_equal("src", "tgt", "default", name, "pk", timeout=60)
        info = srv.get(task)
        assert info["state"] == "Running"
        # taken once: gone from get, and from the store (a restart does not bring it back)
        assert "skip_requested" not in info and "paused_at" not in info, info
        pos = {p["channel_name"]: p["position"] for p in srv.post("position", {"task_id": task})[1]["data"]["positions"]}
        assert int(pos[topic]) >= 3, pos
        srv.stop()
        srv.start()
        assert "skip_requested" not in srv.get(task)
        # a running task is not paused at a message: nothing to skip
        status, reply = skip(srv, task, topic, "2")
        assert status == 400 and "not paused at a message" in reply["message"], reply
    finally:
        srv.stop()
        c.drop()
