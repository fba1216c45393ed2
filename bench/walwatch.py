"""Watches the source's WAL (Kafka) beside mcdc during the live-lag phase, to split each batch's
lag into the part before mcdc may apply it and the part after (bench/run.py --wal-watch).

mcdc holds an Insert until a TimeTick at or past its ts arrives on the same channel (the tick says
no other half of an Upsert can follow; docs/architecture.md, channel_worker). So the earliest a
batch can be applied is when, on every channel the batch's rows went to, the first tick with
ts >= the batch's ts has arrived. This watcher records when each message arrives here (its own
consumer, same broker, same 10 ms fetch wait as mcdc), reading only the message header:
MsgBase (field 1) {msg_type = 1, msgID = 2, timestamp = 3}."""
import bisect
import threading
import time
import uuid

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

import benchlib as bl

TIMETICK, INSERT = 1200, 400


def header(value):
    """(msg_type, ts) of a Milvus WAL record, or (None, None)."""
    try:
        for field, wire, base in bl.pb_fields(value):
            if field == 1 and wire == 2:
                mtype = ts = None
                for k, kw, v in bl.pb_fields(base):
                    if kw != 0:
                        break
                    if k == 1:
                        mtype = v
                    elif k == 3:
                        ts = v
                return mtype, ts
    except ValueError:
        pass
    return None, None


def physical_ms(ts):
    return ts >> 18


class WalWatch(threading.Thread):
    def __init__(self, brokers, topics):
        super().__init__(daemon=True)
        self.topics = list(topics)
        self.ticks = {t: ([], []) for t in self.topics}  # topic -> (tick ts list, arrival mono list)
        self.tick_delay = []  # arrival wall - tick's physical time, seconds
        self.stop_ev = threading.Event()
        self.ready = threading.Event()
        self.c = Consumer({"bootstrap.servers": brokers, "group.id": f"mcdc-bench-{uuid.uuid4().hex[:6]}",
                           "enable.auto.commit": False, "fetch.wait.max.ms": 10})

    def run(self):
        self.c.assign([TopicPartition(t, 0, OFFSET_END) for t in self.topics])
        try:
            while not self.stop_ev.is_set():
                m = self.c.poll(0.1)
                self.ready.set()
                if m is None or m.error():
                    continue
                now, wall = time.monotonic(), time.time()
                mtype, ts = header(m.value())
                if mtype == TIMETICK and ts:
                    tss, arr = self.ticks[m.topic()]
                    tss.append(ts)
                    arr.append(now)
                    self.tick_delay.append(wall - physical_ms(ts) / 1000)
        finally:
            self.c.close()

    def stop(self):
        self.stop_ev.set()
        self.join(10)

    def release(self, ts):
        """When the first tick at or past ts had arrived on every watched channel (None if not seen)."""
        worst = None
        for t in self.topics:
            tss, arr = self.ticks[t]
            k = bisect.bisect_left(tss, ts)
            if k == len(tss):
                return None
            worst = arr[k] if worst is None else max(worst, arr[k])
        return worst

    def tick_gaps(self):
        """Seconds between consecutive tick arrivals, all channels."""
        gaps = []
        for t in self.topics:
            arr = self.ticks[t][1]
            gaps += [b - a for a, b in zip(arr, arr[1:])]
        return gaps


def pchannels(alias, name):
    """The physical channels of a collection (DescribeCollection's physical_channel_names)."""
    from pymilvus import connections
    from pymilvus.client.prepare import Prepare
    h = connections._fetch_handler(alias)
    r = h._stub.DescribeCollection(Prepare.describe_collection_request(name))
    return list(r.physical_channel_names)
