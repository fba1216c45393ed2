"""Several `mcdc serve` on one etcd store (docs/architecture.md, "Several instances"): three instances
share the stack's etcd under a prefix of this test's own; one task replicates a mixed stream of inserts,
deletes and upserts (crashkit's Writer) while, ten times, the instance that owns the task is killed with
SIGKILL: another instance must report the task Running as its owner within 10 s (the lease TTL here is
3 s), and the killed one is started again. Afterwards the target equals the source row by row, and no
partition holds a row twice. Every instance answers for the task (its requests are forwarded to the
owner). And a store etcd that cannot be reached stops `mcdc serve` with exit 2, naming it."""
import random
import signal
import subprocess
import time

import pytest

from crashkit import Writer, make_collections, wait_settled
from mcdcserver import McdcServer, connect, wait_equal
from stackenv import tool

LEASE_TTL_S = 3
TAKEOVER_LIMIT_S = 10


def etcd_store(endpoint, prefix):
    return {"type": "etcd", "endpoints": [endpoint], "prefix": prefix, "lease_ttl_s": LEASE_TTL_S}


@pytest.fixture
def instances(stack, tmp_path, fresh_name):
    prefix = fresh_name("mcdc-instances")
    servers = []
    for i in range(3):
        d = tmp_path / f"instance{i}"
        d.mkdir()
        servers.append(McdcServer(stack, d, store=etcd_store(stack["MCDC_ETCD_ENDPOINT"], prefix)))
    try:
        for s in servers:
            s.start()
        connect("src", stack["MCDC_SOURCE_URI"])
        connect("tgt", stack["MCDC_TARGET_URI"])
        yield servers
    finally:
        for s in servers:
            s.stop()


def running_owner(servers, task_id):
    """(owner base URL, state) as the live instances answer get (forwarded to the owner), or None
    while no instance answers for the task (its owner died and the lease has not ended yet)."""
    for s in servers:
        if s.proc is None:
            continue
        try:
            status, reply = s.post("get", {"task_id": task_id})
        except OSError:
            continue
        if status == 200:
            task = reply["data"]["task"]
            return task.get("owner"), task["state"]
    return None


def test_owner_killed_ten_times_another_takes_over(instances, fresh_name):
    servers = instances
    prefix = fresh_name("inst")
    task_id = servers[0].create_task(collection_infos=[{"name": f"{prefix}_int"}, {"name": f"{prefix}_str"}])
    a, b = make_collections(prefix)
    by_url = {s.base: s for s in servers}

    # The task is listed on every instance, with its owner; the owner is the creating instance.
    for s in servers:
        status, reply = s.post("list")
        assert status == 200, reply
        tasks = {t["task_id"]: t for t in reply["data"]["tasks"]}
        assert tasks[task_id]["owner"] == servers[0].base, tasks[task_id]
    assert running_owner(servers, task_id) == (servers[0].base, "Running")

    w = Writer(a, b)
    w.start()
    rng = random.Random(19)
    took = []
    try:
        for kill in range(10):
            time.sleep(rng.uniform(1.0, 3.0))
            owner_url, state = running_owner(servers, task_id)
            assert state == "Running", (owner_url, state)
            victim = by_url[owner_url]
            victim.stop(signal.SIGKILL)
            t0 = time.monotonic()
            while True:
                now = running_owner(servers, task_id)
                if now and now[0] != owner_url and now[0] in by_url and now[1] == "Running":
                    break
                assert time.monotonic() - t0 < TAKEOVER_LIMIT_S, \
                    f"kill {kill + 1}: no other instance runs the task {TAKEOVER_LIMIT_S} s after its owner died"
                time.sleep(0.2)
            took.append(time.monotonic() - t0)
            print(f"kill {kill + 1}/10: owner {owner_url} killed; {now[0]} runs the task after {took[-1]:.1f} s")
            victim.start()
    finally:
        w.stop.set()
        w.join()
    assert w.error is None, w.error
    assert w.rounds > 10
    assert max(took) < TAKEOVER_LIMIT_S, took

    res = wait_settled([(a.name, "pk"), (b.name, "id")], timeout=240)
    assert all(r == (0, 0, 0) for r in res.values()), f"(lost, doubled, differing) per collection: {res}"
    for name, pk in ((a.name, "pk"), (b.name, "id")):
        wait_equal("src", "tgt", "default", name, pk, timeout=60, counts=True)
    status, reply = servers[0].post("delete", {"task_id": task_id})
    assert status == 200, reply
    a.drop()
    b.drop()


def test_unreachable_store_exits_2_naming_it(stack, tmp_path):
    srv = McdcServer(stack, tmp_path, store=etcd_store("127.0.0.1:1", "mcdc-unreachable"))
    p = subprocess.run([str(tool("mcdc")), "serve", "-c", str(srv.config)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and "127.0.0.1:1" in p.stderr and "store" in p.stderr, (p.returncode, p.stderr)
