"""`mcdc task` against a real `mcdc serve` (with an api_token) and the stack: every request type of the
task API sent by the command (create from flags and from a --spec on stdin, list, get, position,
resync, maintenance, pause, resume, delete), its table and its --json output, the server's refusals
as exit 1 with the server's message, and the command's own: bad flags exit 2 naming the flag, a
server that cannot be reached exits 2 naming the address, no token is a 401 (exit 1).

The rows are checked too: the task the command created replicates a collection (a snapshot of its
existing rows, then the stream, a resync, rows written while paused), and the target ends equal to
the source row by row. Kafka source only: the command does not care which queue the server reads."""
import json
import os
import subprocess
import uuid

import pytest
from pymilvus import utility

from mcdcserver import McdcServer, connect, free_port, wait_equal
from stackenv import tool
from test_lifecycle import make, rows, wait_for

TOKEN = "cli-" + uuid.uuid4().hex
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def mcdc_task(srv, *args, token=TOKEN, server=None, stdin=None):
    """Runs `mcdc task ARGS --server ...` with MCDC_API_TOKEN set to token (None: unset); returns the
    CompletedProcess (returncode, stdout, stderr as text). Proxy variables are dropped: libcurl
    would send a loopback request through them."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS and k != "MCDC_API_TOKEN"}
    if token is not None:
        env["MCDC_API_TOKEN"] = token
    cmd = [str(tool("mcdc")), "task", *args, "--server", server or srv.base]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, input=stdin)


def ok(p):
    assert p.returncode == 0, (p.args, p.returncode, p.stdout, p.stderr)
    assert p.stderr == "", p.stderr
    return p.stdout


def refused(p, *words):
    """Exit 1, one line on stderr naming the subcommand and holding each of words, nothing on stdout."""
    assert p.returncode == 1, (p.args, p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", p.stdout
    assert p.stderr.startswith(f"mcdc task {p.args[2]}: "), p.stderr
    for w in words:
        assert w in p.stderr, (w, p.stderr)


def get_json(srv, tid):
    return json.loads(ok(mcdc_task(srv, "get", tid, "--json")))["task"]


def streaming(srv, tid, name):
    """True once the copy of name is done (phase streaming), else its phase, for wait_for's message."""
    phases = [c["phase"] for c in get_json(srv, tid)["snapshot"]["collections"] if c["collection"] == name]
    return (bool(phases) and all(p == "streaming" for p in phases)) or phases


@pytest.fixture
def served(stack, tmp_path):
    srv = McdcServer(stack, tmp_path, api={"api_token": TOKEN})
    srv.start()
    connect("src", srv.source_uri)
    connect("tgt", stack["MCDC_TARGET_URI"])
    names = []
    yield srv, names
    code = srv.stop()
    print(srv.log.read_text(errors="replace")[-4000:])
    for n in names:
        for alias in ("src", "tgt"):
            try:
                if utility.has_collection(n, using=alias):
                    utility.drop_collection(n, using=alias)
            except Exception as e:  # cleanup only
                print(f"drop {n} on {alias}: {e}")
    assert code == 0, f"mcdc serve exited with {code}"


def test_every_request_type_round_trips(served, stack, fresh_name):
    srv, names = served
    name = fresh_name("cli")
    names.append(name)
    c = make(name)  # indexed and loaded: a snapshot reads it through the source's proxy
    c.insert(rows(0, 200))
    tid = "cli_" + uuid.uuid4().hex[:8]

    # Without the token: the server's 401, exit 1.
    refused(mcdc_task(srv, "list", token=None), "(HTTP 401)")

    # create from flags: the id alone on stdout.
    out = ok(mcdc_task(srv, "create", "--target", stack["MCDC_TARGET_URI"], "--collection", name, "--snapshot",
                       "--task-id", tid, "--connect-timeout", "20"))
    assert out == f"{tid}\n", out

    # list: a table with the task, and its JSON.
    out = ok(mcdc_task(srv, "list"))
    head, *lines = out.splitlines()
    assert head.split() == ["TASK", "ID", "STATE", "LAG", "COLLECTIONS", "SNAPSHOT", "REASON"], head
    row = next(line for line in lines if line.startswith(tid + " "))
    assert "Running" in row and name in row, row
    tasks = json.loads(ok(mcdc_task(srv, "list", "--json")))["tasks"]
    mine = [t for t in tasks if t["task_id"] == tid]
    assert len(mine) == 1 and mine[0]["collection_infos"][0]["name"] == name, tasks

    # get: the snapshot's copy ends, the rows arrive.
    wait_for("the snapshot done", lambda: streaming(srv, tid, name), timeout=240)
    c.insert(rows(200, 100))
    wait_equal("src", "tgt", "default", name, "pk", timeout=240)
    task = get_json(srv, tid)
    assert task["task_id"] == tid and task["state"] == "Running", task
    out = ok(mcdc_task(srv, "get", tid))
    assert f"task id         {tid}\n" in out and "state           Running" in out, out
    assert f"collections     {name}\n" in out and f"default.{name}" in out, out  # the copy's row in the table

    # position: one row per channel of the JSON.
    positions = json.loads(ok(mcdc_task(srv, "position", tid, "--json")))["positions"]
    assert positions, positions
    out = ok(mcdc_task(srv, "position", tid))
    assert out.splitlines()[0].split() == ["CHANNEL", "POSITION", "TIME", "TT"], out
    for p in positions:
        assert p["channel_name"] in out, (p, out)

    # resync: asked for, then done.
    out = ok(mcdc_task(srv, "resync", tid, "--collection", name))
    assert f"default.{name}" in out and tid in out, out
    wait_for("the resync done", lambda: streaming(srv, tid, name), timeout=240)

    # maintenance: the server has it and refuses, since the task is not paused at that message.
    refused(mcdc_task(srv, "maintenance", tid, "--operation", "skip_message", "--channel", "by-dev-rootcoord-dml_0",
                      "--position", "1"),
            "(HTTP 400)", "skip_message")

    # pause, rows meanwhile, a refused resync of a paused task, resume: nothing lost.
    assert ok(mcdc_task(srv, "pause", tid)) == f"task {tid} paused\n"
    assert get_json(srv, tid)["state"] == "Paused"
    c.insert(rows(300, 100))
    refused(mcdc_task(srv, "resync", tid, "--collection", name), "paused", "(HTTP 400)")
    assert ok(mcdc_task(srv, "resume", tid)) == f"task {tid} resumed\n"
    assert get_json(srv, tid)["state"] == "Running"
    wait_equal("src", "tgt", "default", name, "pk", timeout=240, counts=True)

    # The server's refusals: exit 1 with its message.
    refused(mcdc_task(srv, "get", "no_such_task"), "no_such_task", "(HTTP 404)")
    refused(mcdc_task(srv, "create", "--target", stack["MCDC_TARGET_URI"], "--collection", name, "--task-id", tid),
            tid, "(HTTP 409)")

    # delete; again (404); again with --ignore-not-found.
    assert ok(mcdc_task(srv, "delete", tid)) == f"task {tid} deleted\n"
    refused(mcdc_task(srv, "delete", tid), "(HTTP 404)")
    ok(mcdc_task(srv, "delete", tid, "--ignore-not-found"))
    assert tid not in [t["task_id"] for t in json.loads(ok(mcdc_task(srv, "list", "--json")))["tasks"]]

    # create from a --spec on stdin, a flag on top: created paused (state Initial).
    tid2 = "cli_" + uuid.uuid4().hex[:8]
    spec = json.dumps({"milvus_connect_param": {"uri": stack["MCDC_TARGET_URI"], "connect_timeout": 20},
                       "collection_infos": [{"name": name}], "task_id": tid2})
    out = json.loads(ok(mcdc_task(srv, "create", "--spec", "-", "--paused", "--json", stdin=spec)))
    assert out == {"task_id": tid2}, out
    assert get_json(srv, tid2)["state"] == "Initial"
    ok(mcdc_task(srv, "delete", tid2))


def test_bad_flags_and_unreachable_server(served):
    srv, _ = served
    cases = [
        (["get"], "TASK_ID"),
        (["list", "--bogus"], "--bogus"),
        (["list", "--target", "h:1"], "--target"),
        (["create", "--collection", "c"], "--target"),
        (["create", "--target", "h:1"], "--collection"),
        (["list", "--timeout", "soon"], "--timeout"),
        (["resync", "t"], "--collection"),
        (["maintenance", "t"], "--operation"),
        (["frobnicate"], "frobnicate"),
        (["create", "--spec", "/nonexistent/spec.json"], "--spec"),
    ]
    for args, flag in cases:
        p = mcdc_task(srv, *args)
        assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
        assert flag in p.stderr and p.stdout == "", (args, p.stderr)
    p = mcdc_task(srv, "list", server="ftp://127.0.0.1:1")
    assert p.returncode == 2 and "--server" in p.stderr, p.stderr

    # Nothing listens there: exit 2, the address named.
    dead = f"http://127.0.0.1:{free_port()}"
    p = mcdc_task(srv, "list", server=dead)
    assert p.returncode == 2 and dead in p.stderr and "cannot reach" in p.stderr, p.stderr
    assert TOKEN not in p.stderr

    # --help: exit 0, on stdout.
    for args in (["--help"], ["create", "--help"]):
        p = mcdc_task(srv, *args)
        assert p.returncode == 0 and "usage: mcdc task" in p.stdout and "Exit codes" in p.stdout, p
