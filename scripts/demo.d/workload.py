"""The demo's writer: creates a collection on the source, writes rows (inserts, a delete, an
upsert), and polls the target until it holds exactly the same rows, printing progress."""
import argparse
import sys
import time

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility


def rows_of(alias, name):
    c = Collection(name, using=alias)
    out = {}
    for r in c.query("id >= 0", output_fields=["id", "title", "vec"], consistency_level="Strong", limit=16384):
        out[r["id"]] = (r["title"], [round(x, 5) for x in r["vec"]])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--collection", required=True)
    ap.add_argument("--rows", type=int, default=2000)
    a = ap.parse_args()
    connections.connect("src", uri=a.source)
    connections.connect("tgt", uri=a.target)
    schema = CollectionSchema([
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("title", DataType.VARCHAR, max_length=64),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=16),
    ], enable_dynamic_field=True)
    c = Collection(a.collection, schema, using="src", shards_num=2)
    c.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    c.load()
    n = min(a.rows, 16000)
    for start in range(0, n, 500):
        ids = list(range(start, min(start + 500, n)))
        c.insert([ids, [f"doc {i}" for i in ids], [[(i * 31 + k) % 97 / 97 for k in range(16)] for i in ids]])
        print(f"source: inserted rows {ids[0]}..{ids[-1]}")
    c.delete(f"id in {list(range(0, n, 10))}")
    print(f"source: deleted every 10th row ({len(range(0, n, 10))} rows)")
    c.upsert([[1, 2, 3], ["changed 1", "changed 2", "changed 3"], [[0.5] * 16] * 3])
    print("source: upserted rows 1, 2, 3")

    want = rows_of("src", a.collection)
    t0 = time.monotonic()
    while True:
        try:
            have = rows_of("tgt", a.collection) if utility.has_collection(a.collection, using="tgt") else {}
        except Exception:  # created but not loaded yet on the target
            have = {}
        same = have == want
        print(f"target: {len(have)}/{len(want)} rows{' — identical to the source' if same else ''}"
              f" ({time.monotonic() - t0:.1f} s)")
        if same:
            return 0
        if time.monotonic() - t0 > 120:
            print("target did not catch up in 120 s", file=sys.stderr)
            return 1
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
