"""The source catalog follows etcd: real metadata values that the source Milvus wrote are copied into
a private etcd under another root while tests/tools/catalog_tool watches it; the catalog learns new
collections (fields, partitions, database), survives an etcd restart without losing what was written
meanwhile, drops a collection on a tombstone, and reads the legacy key layout."""
import base64
import json
import queue
import subprocess
import threading
import time

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, db

from stackenv import tool
from test_etcd import ETCDCTL, EtcdProc, ctl_env

ROOT = "cat"


def stack_kvs(stack, coll_ids, db_ids):
    """Every root-coord key (not snapshots) of the given collections and databases, as (key, bytes)."""
    r = subprocess.run([ETCDCTL, "--endpoints", stack["MCDC_ETCD_ENDPOINT"], "get", "--prefix",
                        f"{stack['MCDC_SOURCE_ROOT_PATH']}/meta/root-coord/", "-w", "json"],
                       capture_output=True, text=True, env=ctl_env(), check=True)
    out = []
    for kv in json.loads(r.stdout).get("kvs", []):
        key = base64.b64decode(kv["key"]).decode()
        parts = key.split("/")
        if any(str(i) in parts for i in coll_ids) or any(key.endswith(f"db-info/{d}") for d in db_ids):
            out.append((key.replace(stack["MCDC_SOURCE_ROOT_PATH"] + "/", ROOT + "/", 1), base64.b64decode(kv["value"])))
    return out


def put(etcd, key, value: bytes):
    # etcdctl reads the value from stdin when it is not on the command line
    r = subprocess.run([ETCDCTL, "--endpoints", etcd.endpoint, "put", key], input=value, capture_output=True,
                       env=ctl_env(), timeout=30)
    assert r.returncode == 0, r.stderr


class Follower:
    def __init__(self, etcd):
        self.proc = subprocess.Popen([str(tool("catalog_tool")), "--etcd", etcd.endpoint, "--root", ROOT,
                                      "--seconds", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.last = None

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(json.loads(line))

    def wait(self, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.last = self.q.get(timeout=0.5)
            except queue.Empty:
                continue
            if pred({c["name"]: c for c in self.last["collections"]}):
                return {c["name"]: c for c in self.last["collections"]}
        raise AssertionError(f"catalog never got there; last: {self.last}")

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        assert "Sanitizer" not in self.proc.stderr.read()


def test_catalog_follows_etcd_through_a_restart(stack, tmp_path, fresh_name):
    connections.connect("default", uri=stack["MCDC_SOURCE_URI"])
    dbname = fresh_name("catdb")
    db.create_database(dbname)
    connections.connect("catdb", uri=stack["MCDC_SOURCE_URI"], db_name=dbname)
    schema = CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                               FieldSchema("title", DataType.VARCHAR, max_length=8),
                               FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)], enable_dynamic_field=True)
    c1 = Collection(fresh_name("one"), schema)
    c1.create_partition("p1")
    c2 = Collection(fresh_name("two"), schema, using="catdb")
    db_id = None
    try:
        kvs = stack_kvs(stack, [c1.describe()["collection_id"], c2.describe()["collection_id"]], [])
        r = subprocess.run([ETCDCTL, "--endpoints", stack["MCDC_ETCD_ENDPOINT"], "get", "--prefix",
                            f"{stack['MCDC_SOURCE_ROOT_PATH']}/meta/root-coord/database/db-info/", "-w", "json"],
                           capture_output=True, text=True, env=ctl_env(), check=True)
        for kv in json.loads(r.stdout)["kvs"]:
            if dbname.encode() in base64.b64decode(kv["value"]):
                kvs.append((base64.b64decode(kv["key"]).decode().replace(stack["MCDC_SOURCE_ROOT_PATH"] + "/", ROOT + "/", 1),
                            base64.b64decode(kv["value"])))
                db_id = base64.b64decode(kv["key"]).decode().rsplit("/", 1)[1]
        one = [kv for kv in kvs if f"/{c1.describe()['collection_id']}" in kv[0]]
        two = [kv for kv in kvs if kv not in one]
        assert one and two and db_id
    finally:
        c1.drop()
        c2.drop()
        db.drop_database(dbname)

    etcd = EtcdProc(tmp_path)
    etcd.start()
    f = Follower(etcd)
    try:
        f.wait(lambda cs: cs == {})
        for k, v in one:
            put(etcd, k, v)
        cs = f.wait(lambda cs: c1.name in cs and cs[c1.name]["pk"] and len(cs[c1.name]["partitions"]) == 2)
        assert cs[c1.name]["db"] == "default"
        assert cs[c1.name]["fields"][:3] == ["pk", "title", "vec"] and "$meta" in cs[c1.name]["fields"]
        assert sorted(cs[c1.name]["partitions"]) == ["_default", "p1"]

        etcd.stop()
        time.sleep(1)
        etcd.start()
        for k, v in two:
            put(etcd, k, v)
        cs = f.wait(lambda cs: c2.name in cs and cs[c2.name]["pk"])
        assert cs[c2.name]["db"] == dbname and cs[c1.name]["db"] == "default"

        # a tombstone is a delete (spec/etcd-meta.md §3)
        coll_key = next(k for k, _ in one if "/collection-info/" in k)
        put(etcd, coll_key, "\u26fc".encode())
        f.wait(lambda cs: c1.name not in cs and c2.name in cs)

        # the legacy layout root-coord/collection/{id} means the default database
        legacy = f"{ROOT}/meta/root-coord/collection/{coll_key.rsplit('/', 1)[1]}"
        put(etcd, legacy, next(v for k, v in one if k == coll_key))
        cs = f.wait(lambda cs: c1.name in cs)
        assert cs[c1.name]["db"] == "default"
    finally:
        f.close()
        etcd.stop()
