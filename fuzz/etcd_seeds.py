#!/usr/bin/env python3
"""etcd_seeds.py — seeds for fuzz_etcd_meta from a real Milvus's etcd.

    ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:2379 \\
        get --prefix by-dev/meta/root-coord/ -w json > meta.json
    fuzz/etcd_seeds.py meta.json fuzz/corpus/etcd_meta

Writes the events in the input format of fuzz/fuzz_etcd_meta.c: one seed per
collection (its database, collection, field and partition keys, as a Range
would deliver them), variants of each with the things the live etcd of a test
stack rarely holds (aliases in both layouts, tombstones, deletions, the legacy
collection layout), one seed of every key, and the RBAC keys as raw keys.
Seeds are named by content, so running it again adds nothing twice. The
checked-in set was then trimmed to what adds coverage:
    build-fuzz/fuzz_etcd_meta -merge=1 trimmed/ all_seeds/
"""
import base64
import hashlib
import json
import os
import sys

PREFIX = "by-dev/meta/root-coord/"
K_COLL_DB, K_COLL_LEGACY, K_FIELD, K_PART, K_DB, K_ALIAS_DB, K_ALIAS_LEGACY, K_RAW = range(8)
DELETE = 0x80
TOMBSTONE = b"\xe2\x9b\xbc"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def blob(b):
    return varint(len(b)) + b


def event(layout, ids=(), name=None, value=b"", delete=False):
    out = bytes([layout | (DELETE if delete else 0)])
    for i in ids:
        out += varint(i)
    if name is not None:
        out += blob(name)
    return out + blob(b"" if delete else value)


def encode(rel, value):
    """One etcd key (after the prefix) and value as an event."""
    p = rel.split("/")
    num = lambda s: s.isdigit() and int(s) < 2**64
    if len(p) == 4 and p[:2] == ["database", "collection-info"] and num(p[2]) and num(p[3]):
        return event(K_COLL_DB, (int(p[2]), int(p[3])), value=value)
    if len(p) == 2 and p[0] == "collection" and num(p[1]):
        return event(K_COLL_LEGACY, (int(p[1]),), value=value)
    if len(p) == 3 and p[0] in ("fields", "partitions") and num(p[1]) and num(p[2]):
        return event(K_FIELD if p[0] == "fields" else K_PART, (int(p[1]), int(p[2])), value=value)
    if len(p) == 3 and p[:2] == ["database", "db-info"] and num(p[2]):
        return event(K_DB, (int(p[2]),), value=value)
    return event(K_RAW, name=rel.encode(), value=value)


def alias_info(name, coll_id, db_id, state=0):
    # AliasInfo: alias_name=1, collection_id=2, created_time=3, state=4, db_id=5
    out = b"\x0a" + blob(name) + b"\x10" + varint(coll_id) + b"\x18" + varint(449000000000000000)
    if state:
        out += b"\x20" + varint(state)
    return out + b"\x28" + varint(db_id)


def main():
    src, out_dir = sys.argv[1], sys.argv[2]
    kvs = json.load(open(src)).get("kvs", [])
    os.makedirs(out_dir, exist_ok=True)
    items = []
    for kv in kvs:
        key = base64.b64decode(kv["key"]).decode()
        if key.startswith(PREFIX):
            items.append((key[len(PREFIX):], base64.b64decode(kv.get("value", ""))))

    seeds = []
    dbs = [encode(r, v) for r, v in items if r.startswith("database/db-info/")]
    colls = {}
    for r, v in items:
        p = r.split("/")
        if p[:2] == ["database", "collection-info"] and len(p) == 4:
            colls.setdefault(p[3], {})["info"] = (r, v, int(p[2]))
        elif p[0] in ("fields", "partitions") and len(p) == 3:
            colls.setdefault(p[1], {}).setdefault("parts", []).append((r, v))
    for cid, c in sorted(colls.items()):
        if "info" not in c:
            continue
        r, v, db = c["info"]
        body = b"".join(dbs) + encode(r, v) + b"".join(encode(pr, pv) for pr, pv in c.get("parts", []))
        seeds.append(body)
        name = b"alias_" + cid.encode()[-4:]
        cid = int(cid)
        seeds.append(body + event(K_ALIAS_DB, (db,), name, alias_info(name, cid, db)))
        seeds.append(body + event(K_ALIAS_LEGACY, (), name, alias_info(name, cid, db))
                     + event(K_ALIAS_LEGACY, (), name, delete=True))
        seeds.append(body + event(K_COLL_DB, (db, cid), value=TOMBSTONE))
        seeds.append(body + event(K_COLL_LEGACY, (cid,), value=v) + event(K_COLL_LEGACY, (cid,), delete=True))
        fields = [pr for pr, _ in c.get("parts", []) if pr.startswith("fields/")]
        if fields:
            seeds.append(body + encode(fields[0], b"") + event(K_COLL_DB, (db, cid), delete=True))
    seeds.append(b"".join(encode(r, v) for r, v in items))
    for r, v in items:
        if not r.split("/")[0] in ("database", "fields", "partitions", "collection"):
            seeds.append(encode(r, v))

    for s in seeds:
        path = os.path.join(out_dir, hashlib.sha1(s).hexdigest())
        with open(path, "wb") as f:
            f.write(s)
    print(f"{len(seeds)} seeds from {len(items)} keys in {out_dir}")


if __name__ == "__main__":
    main()
