"""Runs a real `mcdc serve` against the stack for end-to-end tests, and compares collections on
the source and the target row by row."""
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility
from pymilvus.exceptions import MilvusException

from stackenv import tool


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class McdcServer:
    def __init__(self, stack, workdir: Path, channel_prefix=None, dml_channels=None, mq="kafka", apply=None,
                 etcd_endpoint=None, secrets_dir=None, api=None, ca=None, snapshot=None, store=None):
        """mq: "kafka" replicates the stack's Kafka-backed source Milvus, "pulsar" the Pulsar-backed
        one (scripts/stack --pulsar profile). apply: the config's `apply` section, e.g.
        {"batch_rows": 1000}. etcd_endpoint: where mcdc reaches the source's etcd (a proxy a test
        can cut), else the stack's. secrets_dir: the config's secrets_dir (task password files).
        api: more top-level keys of the API listener, e.g. {"api_header_timeout_ms": 2000}. ca: the
        CA file of the API's certificate when api sets api_tls_cert_file; the helpers then call
        https://. snapshot: the config's `snapshot` section, e.g. {"page_rows": 2048,
        "on_bulk_insert": "report"}. source.milvus.address is always the source's proxy, so any task
        may ask for a snapshot. store: the config's `store` section instead of this server's own
        SQLite file, e.g. {"type": "etcd", "endpoints": [...], "prefix": ..., "lease_ttl_s": 3} for
        several instances on one store; its "advertise" defaults to this server's base URL (its
        port is chosen once, here, and kept across stop/start, so the URL stays true)."""
        self.stack = stack
        self.mq = mq
        # "kafka-target": the stack's target Milvus as the source (its WAL is on the same Kafka under
        # its own prefix): the reverse direction after a switchover.
        which = {"pulsar": "PSOURCE", "kafka-target": "TARGET"}.get(mq, "SOURCE")
        self.source_uri = stack[f"MCDC_{which}_URI"]
        source_proxy = self.source_uri.split("://", 1)[-1]  # host:port, as source.milvus.address wants it
        root = stack[f"MCDC_{which}_ROOT_PATH"]
        if mq == "kafka-target":
            channel_prefix = channel_prefix or root
        mq_yaml = (f"    type: pulsar\n    pulsar: {{address: {stack['MCDC_PULSAR_URL']}}}\n" if mq == "pulsar" else
                   f"    type: kafka\n    kafka: {{address: {stack['MCDC_KAFKA_BROKERS']}}}\n")
        self.dir = workdir
        self.port = free_port()
        self.base = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        self.ssl = ssl.create_default_context(cafile=str(ca)) if ca else None
        self.proc = None
        self.log = workdir / "mcdc.log"
        self.config = workdir / "mcdc.yaml"
        if store is not None:
            store = dict(store)
            store.setdefault("advertise", self.base)
        store_yaml = json.dumps(store) if store is not None else f"{{type: sqlite, path: {workdir / 'mcdc.db'}}}"
        self.config.write_text(f"""
listen: 127.0.0.1:{self.port}
log_level: info
store: {store_yaml}
source:
  etcd: {{endpoints: [{etcd_endpoint or stack['MCDC_ETCD_ENDPOINT']}], root_path: {root}}}
  milvus: {{address: "{source_proxy}"}}
  mq:
{mq_yaml}""" + (f"  channel_prefix: {channel_prefix}\n" if channel_prefix else "")
  + (f"  dml_channels: {dml_channels}\n" if dml_channels else "")
  + ("apply: {" + ", ".join(f"{k}: {v}" for k, v in apply.items()) + "}\n" if apply else "")
  + ("snapshot: {" + ", ".join(f"{k}: {v}" for k, v in snapshot.items()) + "}\n" if snapshot else "")
  + (f"secrets_dir: {secrets_dir}\n" if secrets_dir else "")
  + "".join(f"{k}: {json.dumps(v)}\n" for k, v in (api or {}).items()))

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([str(tool("mcdc")), "serve", "-c", str(self.config)], stdout=logf, stderr=logf,
                                     env=dict(os.environ))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mcdc serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1, context=self.ssl) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("mcdc serve did not answer /healthz in 30 s")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        # Under a sanitizer build (MCDC_BUILD_DIR=build-asan) any report fails the test that ran it.
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                at = text.index(marker)
                raise AssertionError(f"sanitizer report in {self.log}:\n{text[at - 200:at + 3000]}")
        return code

    def post(self, request_type, data=None, raw=None):
        body = raw if raw is not None else json.dumps({"request_type": request_type, "request_data": data or {}}).encode()
        req = urllib.request.Request(f"{self.base}/cdc", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60, context=self.ssl) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def create_task(self, **data):
        data.setdefault("milvus_connect_param", {"uri": self.stack["MCDC_TARGET_URI"], "connect_timeout": 10})
        status, reply = self.post("create", data)
        assert status == 200, reply
        return reply["data"]["task_id"]

    def get(self, task_id):
        status, reply = self.post("get", {"task_id": task_id})
        assert status == 200, reply
        return reply["data"]["task"]

    def resync(self, task_id, collection, db="default"):
        """POST /cdc resync of one collection of a task: (HTTP status, reply)."""
        return self.post("resync", {"task_id": task_id, "collection_name": collection, "db_name": db})

    def copies(self, task_id):
        """The task's snapshot copies as {collection name: its entry in get's snapshot.collections}
        (db, collection, collection_id, phase, rows_copied, rows_total, ...)."""
        snap = self.get(task_id).get("snapshot") or {}
        return {c["collection"]: c for c in snap.get("collections", [])}

    def metrics(self):
        """GET /metrics as {sample name with labels: value}."""
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10, context=self.ssl) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out


def rows_of(alias, db, name, pk):
    """Every row of a collection, keyed by primary key (Strong consistency). A query iterator pages
    by primary key, so collections past Milvus's 16384-row query window are read whole."""
    coll = Collection(name, using=alias)
    out = {}
    it_expr = f'{pk} != ""' if coll.schema.primary_field.dtype.name == "VARCHAR" else f"{pk} > -9223372036854775807"
    if count_rows(alias, name) <= 16000:
        for r in coll.query(it_expr, output_fields=["*"], limit=16000, consistency_level="Strong"):
            out[r[pk]] = r
        return out
    it = coll.query_iterator(batch_size=4000, expr=it_expr, output_fields=["*"], consistency_level="Strong")
    try:
        while True:
            batch = it.next()
            if not batch:
                break
            for r in batch:
                out[r[pk]] = r
    finally:
        it.close()
    return out


def normalize(v):
    if isinstance(v, float):
        return round(v, 5)
    if isinstance(v, list):
        return [normalize(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    return v


def diff_collections(src_alias, tgt_alias, db, name, pk, tgt_name=None, counts=False):
    """None when the target holds exactly the source's rows, else a short description. counts:
    also count(*) on the target equals its distinct keys (no key held twice) and every partition
    of the source holds as many rows on both sides."""
    tname = tgt_name or name
    if not utility.has_collection(tname, using=tgt_alias):
        return f"target has no collection {db}.{tname}"
    s = rows_of(src_alias, db, name, pk)
    t = rows_of(tgt_alias, db, tname, pk)
    if set(s) != set(t):
        missing = sorted(set(s) - set(t))[:5]
        extra = sorted(set(t) - set(s))[:5]
        return f"PK sets differ: {len(s)} vs {len(t)}; missing {missing} extra {extra}"
    for k, row in s.items():
        a = {f: normalize(v) for f, v in row.items()}
        b = {f: normalize(v) for f, v in t[k].items()}
        if a != b:
            return f"row {k} differs: {a} vs {b}"
    if counts:
        n = count_rows(tgt_alias, tname)
        if n != len(t):
            return f"target count(*) {n} but {len(t)} distinct keys: keys held twice"
        for p in Collection(name, using=src_alias).partitions:
            ns, nt = count_rows(src_alias, name, p.name), count_rows(tgt_alias, tname, p.name)
            if ns != nt:
                return f"partition {p.name}: count(*) {ns} on the source, {nt} on the target"
    return None


def count_rows(alias, name, partition=None):
    return Collection(name, using=alias).query("", output_fields=["count(*)"], consistency_level="Strong",
                                               partition_names=[partition] if partition else None)[0]["count(*)"]


def wait_equal(src_alias, tgt_alias, db, name, pk, timeout=150, tgt_name=None, counts=False):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = diff_collections(src_alias, tgt_alias, db, name, pk, tgt_name, counts)
        except Exception as e:  # the target collection may be loading or not yet created
            last = f"{type(e).__name__}: {e}"
        if last is None:
            return
        time.sleep(1)
    raise AssertionError(f"{db}.{name} not equal after {timeout}s: {last}")


def connect(alias, uri, db="default", timeout=60):
    """(Re)points a pymilvus alias: tests share aliases ("src", "tgt") across modules that use
    different sources (the Kafka- and the Pulsar-backed one). Tries for up to `timeout` seconds:
    after a server was killed and started again, gRPC's client keeps its connection to that
    address in reconnect backoff (shared by every channel of the process), so the first tries
    may fail for a while even though the server answers (seen: 10 s under ASan load)."""
    deadline = time.monotonic() + timeout
    while True:
        connections.disconnect(alias)
        try:
            connections.connect(alias, uri=uri, db_name=db)
            return
        except MilvusException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1)


def serving(stack, workdir):
    """A started McdcServer with the aliases "src" and "tgt" connected to the stack's source and
    target: what the fault, crash and stress tests share."""
    srv = McdcServer(stack, workdir)
    srv.start()
    connect("src", stack["MCDC_SOURCE_URI"])
    connect("tgt", stack["MCDC_TARGET_URI"])
    return srv


def replicated_collection(server, name):
    """A task for name, then the source collection (pk int64, s varchar, vec dim 4; 2 shards),
    indexed with FLAT and loaded."""
    task = server.create_task(collection_infos=[{"name": name}])
    c = Collection(name, CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("s", DataType.VARCHAR, max_length=32),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ]), using="src", shards_num=2)
    c.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    c.load()
    return task, c
