"""The crash experiment shared by tests/it/test_crash.py (10 kills, in CI) and tests/long/crash_soak.py
(50 kills): a mixed stream of inserts, deletes and upserts on two collections (int64 and varchar
primary keys, two shards each) while `mcdc serve` is killed with SIGKILL at random moments and started
again; then the target must equal the source exactly — every primary key once, every value."""
import random
import signal
import threading
import time

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema

from mcdcserver import count_rows, rows_of

INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


def make_collections(prefix):
    a = Collection(f"{prefix}_int", CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("n", DataType.INT64),
        FieldSchema("s", DataType.VARCHAR, max_length=32),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ]), using="src", shards_num=2)
    b = Collection(f"{prefix}_str", CollectionSchema([
        FieldSchema("id", DataType.VARCHAR, is_primary=True, max_length=32),
        FieldSchema("n", DataType.INT64),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ]), using="src", shards_num=2)
    for c in (a, b):
        c.create_index("vec", INDEX)
        c.load()
    return a, b


class Writer(threading.Thread):
    """Writes until stopped: each round inserts 40 new keys into each collection, deletes a few
    existing ones and upserts a few others with a new value."""

    def __init__(self, a, b, seed=7):
        super().__init__(daemon=True)
        self.a, self.b = a, b
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.rounds = 0
        self.error = None

    def run(self):
        try:
            nxt = 0
            while not self.stop.is_set():
                keys = list(range(nxt, nxt + 40))
                nxt += 40
                self.a.insert([keys, [k * 3 for k in keys], [f"v{k}" for k in keys], [[k, 0, 1, 2] for k in keys]])
                self.b.insert([[f"k{k}" for k in keys], [k for k in keys], [[0, k, 1, 2] for k in keys]])
                old = self.rng.sample(range(nxt), 6)
                self.a.delete(f"pk in {old[:3]}")
                self.b.delete("id in [" + ",".join(f'"k{k}"' for k in old[:3]) + "]")
                up = old[3:]
                self.a.upsert([up, [-k for k in up], [f"u{self.rounds}" for _ in up], [[k, 1, 1, 1] for k in up]])
                self.b.upsert([[f"k{k}" for k in up], [-k for k in up], [[1, k, 1, 1] for k in up]])
                self.rounds += 1
                time.sleep(self.rng.uniform(0.02, 0.15))
        except Exception as e:  # surfaced by the test
            self.error = e


def kill_and_restart(server, kills, rng, min_s=0.5, max_s=3.0, log=print):
    for i in range(kills):
        time.sleep(rng.uniform(min_s, max_s))
        server.stop(signal.SIGKILL)
        time.sleep(rng.uniform(0.1, 1.0))
        server.start()
        log(f"kill {i + 1}/{kills}: mcdc killed with SIGKILL and started again")


def lost_and_doubled(name, pk):
    """(lost, doubled, differing) between source and target of one collection."""
    s = rows_of("src", "default", name, pk)
    t = rows_of("tgt", "default", name, pk)
    lost = len(set(s) - set(t))
    extra = len(set(t) - set(s))
    doubled = count_rows("tgt", name) - len(t) + extra
    differing = sum(1 for k in set(s) & set(t) if s[k] != t[k])
    return lost, doubled, differing


def wait_settled(names_pks, timeout=180):
    """Waits until both collections are equal; returns the last (lost, doubled, differing) per name."""
    deadline = time.monotonic() + timeout
    while True:
        res = {}
        for name, pk in names_pks:
            try:
                res[name] = lost_and_doubled(name, pk)
            except Exception as e:  # the target may still be creating/loading
                res[name] = (-1, -1, -1, str(e))
        if all(r == (0, 0, 0) for r in res.values()) or time.monotonic() > deadline:
            return res
        time.sleep(2)
