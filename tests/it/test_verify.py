"""`mcdc verify` and a task's `verify` request against the real stack: a task replicates two
collections (int64 and varchar keys, two partitions, a scalar of each common kind and a vector); once
the target equals the source (checked independently, row by row, by mcdcserver.diff_collections),
verify says equal (exit 0). Then the test changes the target directly, behind the task's back:
deletes rows (missing), inserts keys the source never had (extra), upserts other values (differing)
and inserts existing rows a second time (doubled). Verify must name each kind with its count and its
first keys, and exit 1. Verify at a server that does not answer exits 2 naming the address; bad
flags exit 2 naming the flag."""
import json
import random
import subprocess
import time

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, utility

from mcdcserver import McdcServer, connect, wait_equal
from stackenv import tool

N = 3000
DIM = 8
FLAT = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


def schema(varchar):
    pk = (FieldSchema("pk", DataType.VARCHAR, is_primary=True, max_length=16) if varchar
          else FieldSchema("pk", DataType.INT64, is_primary=True))
    return CollectionSchema([pk, FieldSchema("n", DataType.INT64), FieldSchema("f", DataType.FLOAT),
                             FieldSchema("s", DataType.VARCHAR, max_length=32), FieldSchema("j", DataType.JSON),
                             FieldSchema("vec", DataType.FLOAT_VECTOR, dim=DIM)])


def key(varchar, i):
    return f"k{i:06d}" if varchar else i


def rows(varchar, keys, salt=0):
    rnd = random.Random(salt * 7919 + len(keys))
    return [[key(varchar, i) for i in keys], [i * 3 + salt for i in keys], [i / 7 + salt for i in keys],
            [f"s{i}-{salt}" for i in keys], [{"i": i, "salt": salt} for i in keys],
            [[rnd.random() for _ in range(DIM)] for _ in keys]]


@pytest.fixture
def replicated(stack, tmp_path, fresh_name):
    """(server, task id, [(name, varchar)]) with both collections equal on both sides."""
    srv = McdcServer(stack, tmp_path)
    srv.start()
    connect("src", srv.source_uri)
    connect("tgt", stack["MCDC_TARGET_URI"])
    names = [(fresh_name("vfy_i"), False), (fresh_name("vfy_s"), True)]
    task = srv.create_task(collection_infos=[{"name": n} for n, _ in names])
    try:
        for name, varchar in names:
            c = Collection(name, schema(varchar), using="src", shards_num=2)
            c.create_partition("p1")
            c.create_index("vec", FLAT)
            c.load()
            c.insert(rows(varchar, range(0, N // 2)))
            c.insert(rows(varchar, range(N // 2, N)), partition_name="p1")
            c.delete(f'pk in {json.dumps([key(varchar, i) for i in range(0, 40, 4)])}')
            c.upsert(rows(varchar, range(100, 120), salt=5))
        for name, _ in names:
            wait_equal("src", "tgt", "default", name, "pk", counts=True)
        yield srv, task, names
    finally:
        srv.stop()
        for name, _ in names:
            for alias in ("src", "tgt"):
                if utility.has_collection(name, using=alias):
                    utility.drop_collection(name, using=alias)


def verify_cli(stack, *names, extra=()):
    args = [str(tool("mcdc")), "verify", "--source", stack["MCDC_SOURCE_URI"].split("://", 1)[-1],
            "--target", stack["MCDC_TARGET_URI"].split("://", 1)[-1], "--json", "--rechecks", "1",
            "--recheck-wait", "1", "--page-rows", "500", *extra]
    for n in names:
        args += ["--collection", n]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip().startswith("{") else None), p


def damage(name, varchar):
    """Changes the target behind the task's back; returns what verify must find per kind."""
    t = Collection(name, using="tgt")
    missing = [5, 1501, 2999]                 # one per partition edge and the end
    t.delete(f'pk in {json.dumps([key(varchar, i) for i in missing])}')
    extra = [N + 10, N + 11]
    t.insert(rows(varchar, extra))
    differing = [200, 201, 1700, 2500]
    for i in differing:
        t.upsert(rows(varchar, [i], salt=9), partition_name="p1" if i >= N // 2 else "_default")
    doubled = [300]
    # the same row again: the key is held twice, its values are unchanged
    src = Collection(name, using="src").query(f'pk == {json.dumps(key(varchar, 300))}', output_fields=["*"],
                                              consistency_level="Strong")[0]
    t.insert([[src["pk"]], [src["n"]], [src["f"]], [src["s"]], [src["j"]], [list(src["vec"])]])
    return {"missing": missing, "extra": extra, "differing": differing, "doubled": doubled}


def check_found(result, want, varchar):
    assert result["equal"] is False
    for kind, keys in want.items():
        assert result[kind]["count"] == len(keys), f"{kind}: {json.dumps(result)}"
        assert result[kind]["first"] == [key(varchar, i) for i in sorted(keys)][:5], (kind, result)


def test_verify_cli_equal_then_each_kind(stack, replicated):
    srv, task, names = replicated
    code, out, p = verify_cli(stack, *[n for n, _ in names])
    assert code == 0 and out is not None, p.stdout + p.stderr
    assert out["equal"] is True
    for c, (name, _) in zip(out["collections"], names):
        assert c["equal"] is True and c["source_keys"] == c["target_keys"] == N - 10
        assert c["source_rows"] == c["target_rows"] == N - 10
        assert c["partitions"] == 2

    wants = {name: damage(name, varchar) for name, varchar in names}
    time.sleep(1)
    code, out, p = verify_cli(stack, *[n for n, _ in names])
    assert code == 1 and out is not None, p.stdout + p.stderr
    for c, (name, varchar) in zip(out["collections"], names):
        check_found(c, wants[name], varchar)
        assert c["target_rows"] == N - 10 - 3 + 2 + 1

    # Plain output names each kind too.
    p = subprocess.run([str(tool("mcdc")), "verify", "--source", stack["MCDC_SOURCE_URI"].split("://", 1)[-1],
                        "--target", stack["MCDC_TARGET_URI"].split("://", 1)[-1], "--collection", names[0][0],
                        "--rechecks", "0"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "DIFFERENT" in p.stdout and "missing    3   first keys: 5, 1501, 2999" in p.stdout, p.stdout
    assert "doubled    1   first keys: 300" in p.stdout, p.stdout


def wait_verify(srv, task, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = srv.get(task).get("verify")
        if v and v["result"] != "running":
            return v
        time.sleep(0.5)
    raise AssertionError(f"verify of task {task} did not end in {timeout} s: {srv.get(task).get('verify')}")


def test_verify_request_on_a_running_task(stack, replicated):
    srv, task, names = replicated
    assert srv.get(task)["verify"] is None
    status, reply = srv.post("verify", {"task_id": task})
    assert status == 200, reply
    v = wait_verify(srv, task)
    assert v["result"] == "equal", v
    assert sorted(c["source"] for c in v["collections"]) == sorted(f"default.{n}" for n, _ in names)
    for c in v["collections"]:
        assert c["target"] == c["source"] and c["phase"] == "done" and c["rows_compared"] == N - 10

    # Writes go on while it verifies: what the task applies at its watermark is no difference.
    name, varchar = names[0]
    src = Collection(name, using="src")
    stop = time.monotonic() + 4
    status, reply = srv.post("verify", {"task_id": task, "collection_name": name})
    assert status == 200, reply
    i = 0
    while time.monotonic() < stop:
        src.upsert(rows(varchar, [i % N, (i + 1) % N], salt=i))
        i += 2
    v = wait_verify(srv, task)
    assert v["result"] == "equal", v

    want = damage(names[1][0], names[1][1])
    status, reply = srv.post("verify", {"task_id": task, "collection_name": names[1][0]})
    assert status == 200, reply
    v = wait_verify(srv, task)
    assert v["result"] == "different", v
    (c,) = v["collections"]
    check_found(c, want, True)

    # The same through `mcdc task verify --wait`: exit 1 with the counts, exit 0 on an equal one.
    cli = [str(tool("mcdc")), "task", "verify", task, "--server", srv.base, "--wait"]
    p = subprocess.run(cli + ["--collection", names[1][0], "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    check_found(json.loads(p.stdout)["collections"][0], want, True)
    series = f'mcdc_verify_differences{{task_id="{task}",collection="default.{names[1][0]}",kind="missing"}}'
    assert srv.metrics().get(series) == len(want["missing"]), "the verify's finding is not in /metrics"
    p = subprocess.run(cli + ["--collection", names[0][0]], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "verify: equal" in p.stdout, p.stdout + p.stderr

    status, reply = srv.post("verify", {"task_id": task, "collection_name": "no_such_collection"})
    assert status == 404 and task in reply["message"], reply
    status, reply = srv.post("verify", {"task_id": "no-such-task"})
    assert status == 404, reply


def test_verify_cli_cannot_run(stack, tmp_path):
    mcdc = str(tool("mcdc"))
    p = subprocess.run([mcdc, "verify", "--source", "127.0.0.1:1", "--target",
                        stack["MCDC_TARGET_URI"].split("://", 1)[-1], "--collection", "c"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "127.0.0.1:1" in p.stdout + p.stderr, p.stdout + p.stderr
    p = subprocess.run([mcdc, "verify", "--source", "127.0.0.1:19530", "--target", "127.0.0.1:19540",
                        "--collection", "c", "--readers", "zero"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--readers" in p.stderr, p.stderr
    p = subprocess.run([mcdc, "verify", "--bogus"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--bogus" in p.stderr, p.stderr
    p = subprocess.run([mcdc, "verify", "--source", "nohostport", "--target", "127.0.0.1:19540",
                        "--collection", "c"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--source" in p.stderr, p.stderr
