"""The API under a frozen target (SIGSTOP: its connections stay open, calls hang until their deadline).

No API call may wait on a target: tasks start in the background, so `mcdc serve` answers at once
after a restart with the target frozen, its tasks Running and `starting` with the reason in
`last_error`, and they catch up once the target thaws; `get`, `list` and `/metrics` answer within
a second while the target is frozen, also while a `pause` of the task waits for its threads."""
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from mcdcserver import connect, count_rows, replicated_collection, serving, wait_equal
from stackenv import piece_pid, start_stack

LIMIT_S = 1.0


@pytest.fixture
def server(stack, tmp_path):
    srv = serving(stack, tmp_path)
    yield srv
    srv.stop()
    start_stack()


def timed_post(srv, request_type, data=None, limit=LIMIT_S):
    """(status, reply, seconds) of one /cdc request that must answer within limit."""
    body = json.dumps({"request_type": request_type, "request_data": data or {}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{srv.port}/cdc", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=limit + 1) as r:
            status, reply = r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        status, reply = e.code, json.loads(e.read() or b"{}")
    return status, reply, time.monotonic() - t0


def timed_metrics(srv, limit=LIMIT_S):
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/metrics", timeout=limit + 1) as r:
        assert r.status == 200
        r.read()
    return time.monotonic() - t0


def collection(server, name):
    """replicated_collection with 100 rows."""
    task, c = replicated_collection(server, name)
    insert(c, 0, 100)
    return task, c


def insert(c, first, n):
    keys = list(range(first, first + n))
    c.insert([keys, [f"r{k}" for k in keys], [[k, 1, 2, 3] for k in keys]])


def test_target_frozen_across_a_restart(server, fresh_name):
    """mcdc restarts while the target is frozen: the API answers within a second of the process
    starting, every task is Running and `starting` with a last_error, none is paused; after the
    target thaws every task ends Running, streaming, and its target equals its source."""
    colls = [collection(server, fresh_name("frozenstart")) for _ in range(3)]
    for _, c in colls:
        wait_equal("src", "tgt", "default", c.name, "pk", timeout=120)
    server.stop()
    pid = piece_pid("target-milvus")
    os.kill(pid, signal.SIGSTOP)
    try:
        for _, c in colls:
            insert(c, 100, 200)
        t0 = time.monotonic()
        server.start()
        status, reply, _ = timed_post(server, "list")
        assert status == 200, reply
        assert time.monotonic() - t0 < LIMIT_S, f"the API answered {time.monotonic() - t0:.2f} s after the start"

        # Running and starting, the reason shown, never paused
        waiting = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(waiting) < len(colls):
            for task, _ in colls:
                status, reply, took = timed_post(server, "get", {"task_id": task})
                assert status == 200 and took < LIMIT_S, (status, reply, took)
                info = reply["data"]["task"]
                assert info["state"] == "Running", info
                if info["starting"] and info["last_error"]:
                    waiting.add(task)
            time.sleep(0.5)
        assert waiting == {task for task, _ in colls}, "a task never showed that it is starting, and why"
    finally:
        os.kill(pid, signal.SIGCONT)
    connect("tgt", server.stack["MCDC_TARGET_URI"])
    for task, c in colls:
        wait_equal("src", "tgt", "default", c.name, "pk", timeout=180)
        assert count_rows("src", c.name) == count_rows("tgt", c.name) == 300
    deadline = time.monotonic() + 30
    for task, _ in colls:
        while True:
            info = server.get(task)
            assert info["state"] == "Running", info
            if not info["starting"] and info["last_error"] == "":
                break
            assert time.monotonic() < deadline, info
            time.sleep(0.5)
    for _, c in colls:
        c.drop()


def test_reads_answer_while_the_target_is_frozen(server, fresh_name):
    """The target frozen with insert calls in flight: get, list and /metrics, polled the whole
    time, each answer within a second, also while a pause of the task waits for its workers (a call
    in flight ends by its deadline, the task's connect_timeout, 10 s here). The pause shows at once,
    and after the thaw and a resume the target equals the source."""
    task, c = collection(server, fresh_name("frozenget"))
    wait_equal("src", "tgt", "default", c.name, "pk", timeout=120)
    pid = piece_pid("target-milvus")
    slow = []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            for kind in ("get", "list", "metrics"):
                try:
                    if kind == "metrics":
                        took = timed_metrics(server)
                    else:
                        status, reply, took = timed_post(server, kind, {"task_id": task} if kind == "get" else None)
                        if status != 200:
                            slow.append((kind, status, reply))
                except Exception as e:  # a timeout is a failure to answer
                    slow.append((kind, repr(e)))
                    continue
                if took >= LIMIT_S:
                    slow.append((kind, took))
            time.sleep(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    os.kill(pid, signal.SIGSTOP)
    try:
        poller.start()
        for b in range(20):
            insert(c, 100 + b * 50, 50)
            time.sleep(0.1)
        time.sleep(2)
        # the pause waits for the workers, bounded by the calls' deadline; reads do not wait on it
        status, reply, took = timed_post(server, "pause", {"task_id": task}, limit=60)
        assert status == 200, reply
        assert took < 30, f"pause took {took:.1f} s"
        info = server.get(task)
        assert info["state"] == "Paused" and info["reason"] == "paused by request", info
        time.sleep(3)
    finally:
        os.kill(pid, signal.SIGCONT)
        stop.set()
        poller.join(timeout=10)
    assert not slow, f"replies over {LIMIT_S} s or failed: {slow[:10]}"
    status, reply = server.post("resume", {"task_id": task})
    assert status == 200, reply
    connect("tgt", server.stack["MCDC_TARGET_URI"])
    wait_equal("src", "tgt", "default", c.name, "pk", timeout=180)
    assert count_rows("src", c.name) == count_rows("tgt", c.name) == 1100
    c.drop()
