"""Smoke test of one Milvus of the stack: create a collection, insert 100 rows, flush, count, drop.

Usage: smoke.py URI [URI ...]     e.g. smoke.py http://127.0.0.1:19530 http://127.0.0.1:19540
Exit 0 when every server counted 100 rows.
"""
import random
import sys
import time

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility


def smoke(uri):
    alias = uri
    steps = {}
    t = time.monotonic()

    def step(name):
        nonlocal t
        now = time.monotonic()
        steps[name] = round(now - t, 3)
        t = now

    connections.connect(alias=alias, uri=uri, timeout=10)
    step("connect")
    name = f"stack_smoke_{int(time.time())}_{random.randrange(1 << 16)}"
    schema = CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True, auto_id=False),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=8),
    ])
    coll = Collection(name, schema, using=alias)
    step("create")
    try:
        coll.insert([list(range(100)), [[random.random() for _ in range(8)] for _ in range(100)]])
        step("insert")
        coll.flush()
        step("flush")
        count = coll.num_entities
        step("count")
    finally:
        utility.drop_collection(name, using=alias)
        step("drop")
        connections.disconnect(alias)
    ok = count == 100
    print(f"{uri}: {'OK' if ok else 'FAIL'} count={count} steps(s)={steps}")
    return ok


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    return 0 if all([smoke(uri) for uri in argv[1:]]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
