#!/usr/bin/env python3
"""bench/shape.py — does the shape of the calls change what the target pays per row?

    .cache/venv/bin/python bench/shape.py [--shards 2] [--rows 200000] [--batch 5000] [--rounds 3]
                                          [--variants mixed4,split4,mixed8,split8] [--no-settle]

Target only (no mcdc, no source): the same N rows go into a fresh, indexed, loaded target
collection in several call shapes, the shapes taking turns round after round (the order reversed
every other round), and each phase prints rows/s until a Strong count(*) returns N and the target
Milvus's CPU-seconds per 100 000 rows over exactly that time. A shape is "mixed<K>" or "split<K>"
with K calls in flight: mixed calls carry consecutive primary keys, which the target spreads over
all its shards, as a client's would; split calls carry the rows of one shard each, shards taking
turns, which is what mcdc sends (each of its calls carries one source channel's rows, and a
target with the source's shard count hashes them all to one channel). A shape may carry the
prefixes "c" or "p", then "u": c sends the calls over mcdc's own gRPC path (build/bench_feed, one
thread) instead of grpcio's, p the same with a thread that always polls gRPC (bench_feed
--poller), u sends UpsertRequests (what a replay window into a target that may hold its rows
sends); and a suffix "@B": B rows a call instead of --batch. Example: "cusplit4@4000".

Before each phase the bench waits until the target's datanode persists every channel and releases
none (benchlib.wait_datanode_settled), as bench/run.py does; --no-settle skips that and shows why
it is there: phases then cost the target either ~1 or ~2 CPU-s per 100 000 rows, whatever the
shape, depending on whether the datanode had started on the collection before the clock stopped.
Reports only; docs/benchmarks.md ("Catch-up, fifth part" and "sixth part") has results.
"""
import argparse
import collections
import json
import re
import struct
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "it"))
sys.path.insert(0, str(REPO / "bench"))

import benchlib as bl  # noqa: E402
from stackenv import piece_pid, stack_env, tool  # noqa: E402

SHAPE = re.compile(r"(?P<c>[cp]?)(?P<u>u?)(?P<kind>mixed|split)(?P<k>[0-9]+)(?:@(?P<b>[0-9]+))?")
Shape = collections.namedtuple("Shape", "name kind k batch upsert c")


def murmur3_32(data, seed=0):
    """MurmurHash3 x86 32-bit, the hash Milvus 2.3 puts an int64 primary key through (its 8
    little-endian bytes; the result masked to 31 bits, modulo the shard count, picks the channel:
    typeutil.Hash32Int64 and HashPK2Channels)."""
    c1, c2, h, mask = 0xCC9E2D51, 0x1B873593, seed, 0xFFFFFFFF
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & mask  # noqa: E731
    for i in range(0, len(data) // 4 * 4, 4):
        k = rotl((struct.unpack_from("<I", data, i)[0] * c1) & mask, 15) * c2 & mask
        h = (rotl(h ^ k, 13) * 5 + 0xE6546B64) & mask
    tail = data[len(data) // 4 * 4:]
    if tail:
        k = int.from_bytes(tail, "little")
        h ^= rotl((k * c1) & mask, 15) * c2 & mask
    h ^= len(data)
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & mask
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & mask
    return h ^ (h >> 16)


def shard_of(pk, shards):
    return (murmur3_32(struct.pack("<q", pk)) & 0x7FFFFFFF) % shards


def call_keys(kind, rows, batch, shards):
    """The primary keys of each call, in sending order."""
    if kind == "mixed":
        return [list(range(lo, min(rows, lo + batch))) for lo in range(0, rows, batch)]
    per = [[] for _ in range(shards)]
    for pk in range(rows):
        per[shard_of(pk, shards)].append(pk)
    runs = [[keys[i:i + batch] for i in range(0, len(keys), batch)] for keys in per]
    return [run[i] for i in range(max(map(len, runs))) for run in runs if i < len(run)]


def phase(name, rows, keys, v, a, env, pid):
    """One timed phase of shape v into a fresh collection `name` (benchlib.raw_insert_ceiling with
    these calls' keys): (rows/s, target CPU-s per 100 000 rows, whether the datanode had settled)."""
    seen = {}

    def watch():
        seen["settled"] = a.no_settle or bl.wait_datanode_settled(env["MCDC_ETCD_ENDPOINT"],
                                                                  env["MCDC_TARGET_ROOT_PATH"])[0]
        bl.wait_quiet(pid)
        cpu0 = bl.proc_sample(pid)[1]
        return lambda: seen.__setitem__("cpu", bl.proc_sample(pid)[1] - cpu0)
    feeder = None
    if v.c:
        feeder = (tool("bench_feed"), f"127.0.0.1:{env['MCDC_TARGET_PROXY_PORT']}") + (("--poller",) if v.c == "p" else ())
    rate, _, _ = bl.raw_insert_ceiling(rows, name, "tgt", a.shards, a.rows, v.batch or a.batch, v.k,
                                       upsert=v.upsert, watch=watch, keys=keys, feeder=feeder)
    return rate, seen["cpu"] * 100000 / a.rows, seen["settled"] is True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--rows", type=int, default=200000)
    p.add_argument("--batch", type=int, default=5000, help="rows a call (mcdc's apply.batch_rows: 5000)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--variants", default="mixed4,split4,mixed8,split8")
    p.add_argument("--no-settle", action="store_true", help="do not wait for the datanode before a phase")
    a = p.parse_args(argv)
    if a.shards < 1 or a.rows < 1 or a.batch < 1 or a.rounds < 1:
        p.error("--shards, --rows, --batch and --rounds must be at least 1")
    variants = []
    for v in a.variants.split(","):
        m = SHAPE.fullmatch(v)
        if not m or int(m["k"]) < 1 or (m["b"] and int(m["b"]) < 1):
            p.error(f"--variants: {v!r} is not [c|p][u]mixed<K>[@B] or [c|p][u]split<K>[@B], K and B at least 1")
        variants.append(Shape(v, m["kind"], int(m["k"]), int(m["b"] or 0), bool(m["u"]), m["c"]))
    from pymilvus import connections
    env = stack_env()
    connections.connect("tgt", host="127.0.0.1", port=env["MCDC_TARGET_PROXY_PORT"])
    pid = piece_pid("target-milvus")
    keys = {(v.kind, v.batch): call_keys(v.kind, a.rows, v.batch or a.batch, a.shards) for v in variants}
    rows = bl.Rows(max(v.batch or a.batch for v in variants))  # the vector pool, made once
    got = collections.defaultdict(list)
    for r in range(a.rounds):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            name = f"bench_shape_{v.kind}{v.k}_{uuid.uuid4().hex[:8]}"
            rate, cpu, settled = phase(name, rows, keys[(v.kind, v.batch)], v, a, env, pid)
            got[v.name].append((rate, cpu))
            print(json.dumps({"bench": "shape", "round": r, "variant": v.name, "shards": a.shards, "rows_per_s": round(rate),
                              "target_cpu_s_per_100k_rows": round(cpu, 2), "datanode_settled": settled}), flush=True)
    print(f"{'variant':<16} {'rows/s per round':<40} target CPU-s per 100 000 rows")
    for v in variants:
        print(f"{v.name:<16} {' '.join(f'{x[0]:>7.0f}' for x in got[v.name]):<40} "
              f"{' '.join(f'{x[1]:.2f}' for x in got[v.name])}")


if __name__ == "__main__":
    main()
