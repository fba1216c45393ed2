"""Reads the source's WAL from Kafka and decodes it with mcdc's own decoder.

The Kafka side is a plain confluent-kafka consumer (explicit assign, partition 0, no group
commits, a short fetch wait: stack notes pitfall 7); the decoding is done by the C decoder
through the `wal_decode` test entry point, so what the tests check is what mcdc sees."""
import subprocess
import json
import time

from confluent_kafka import Consumer, TopicPartition, KafkaError

from stackenv import tool


def end_offset(brokers: str, topic: str) -> int:
    """The offset the next record of partition 0 of `topic` will get (0 for a topic not made yet)."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": "mcdc-tests", "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1]
    except Exception:
        return 0
    finally:
        c.close()


def read_topic(brokers: str, topic: str, timeout_s: float = 10.0, until=None, start: int = 0):
    """The records of `topic` from offset `start` (the beginning by default), as (offset, value)
    pairs. Stops at the end of the partition, or when `until(records)` is true (then keeps polling
    until it is, up to timeout). Tests that look for their own writes start at the end offset taken
    before them: earlier tests leave hundreds of thousands of rows in the topics."""
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "mcdc-tests",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 10,
        "allow.auto.create.topics": False,
    })
    try:
        c.assign([TopicPartition(topic, 0, start if start > 0 else -2)])  # -2: OFFSET_BEGINNING
        records = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                if until is None:
                    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
                    if not records and hi <= start or records and records[-1][0] >= hi - 1:
                        break
                elif until(records):
                    break
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"kafka {topic}: {m.error()}")
            records.append((m.offset(), m.value()))
        return records
    finally:
        c.close()


def decode(channel: str, records, pk=None, rows=False):
    """Decodes (offset, bytes) records with mcdc's decoder; returns the JSON objects.
    Raises with the decoder's message (channel, offset, reason) when one does not decode."""
    lines = "".join(f"{channel}\t{off}\t{val.hex()}\n" for off, val in records)
    args = [str(tool("wal_decode"))]
    if pk:
        args += ["--pk", pk]
    if rows:
        args.append("--rows")
    p = subprocess.run(args, input=lines, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"wal_decode exit {p.returncode}: {p.stderr.strip()}")
    return [json.loads(line) for line in p.stdout.splitlines()]


def list_topics(brokers: str):
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": brokers})
    md = admin.list_topics(timeout=10)
    return sorted(md.topics.keys())


def read_offsets(brokers: str, topic: str, offsets, timeout_s: float = 10.0):
    """The raw values at the given offsets of partition 0 of topic, in the order asked."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": "mcdc-tests", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10})
    out = {}
    try:
        for off in offsets:
            c.assign([TopicPartition(topic, 0, off)])
            deadline = time.monotonic() + timeout_s
            while off not in out and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error() and m.offset() == off:
                    out[off] = m.value()
        return [out[o] for o in offsets]
    finally:
        c.close()
