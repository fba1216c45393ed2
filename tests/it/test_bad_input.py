"""Bad input everywhere gets a clear error and changes nothing: `mcdc serve` with a missing,
malformed or wrong-typed config or unreachable servers exits 2 naming the problem; the HTTP API
answers oversized bodies, wrong types and a storm of concurrent create/delete requests for one task
id with 4xx statuses and messages, and never crashes."""
import json
import subprocess
import threading
import urllib.request

import pytest

from mcdcserver import McdcServer
from stackenv import tool


def serve(path, timeout=60):
    p = subprocess.run([str(tool("mcdc")), "serve", "-c", str(path)], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def test_serve_needs_a_config():
    p = subprocess.run([str(tool("mcdc")), "serve"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "-c FILE" in p.stderr


@pytest.mark.parametrize("text,needle", [
    (None, "no-such.yaml"),
    ("listen: [1, 2\n", "mcdc.yaml:"),                       # YAML syntax error, with the line
    ("listn: 127.0.0.1:1\n", "listen"),                      # unknown key, with a suggestion
    ("max_body_bytes: lots\n", "max_body_bytes"),            # wrong type
    ("source: {dml_channels: -3}\n", "dml_channels"),
    ("log_level: loud\n", "log_level"),
])
def test_bad_config_exits_2_naming_the_problem(tmp_path, text, needle):
    path = tmp_path / ("no-such.yaml" if text is None else "mcdc.yaml")
    if text is not None:
        path.write_text(text)
    rc, err = serve(path)
    assert rc == 2 and needle in err, err


def test_unreachable_servers_exit_2(stack, tmp_path):
    base = f"store: {{path: {tmp_path / 'm.db'}}}\nlisten: 127.0.0.1:0\n"
    (tmp_path / "etcd.yaml").write_text(base + "source: {etcd: {endpoints: [127.0.0.1:1]}, "
                                        f"mq: {{kafka: {{address: {stack['MCDC_KAFKA_BROKERS']}}}}}}}\n")
    rc, err = serve(tmp_path / "etcd.yaml")
    assert rc == 2 and "127.0.0.1:1" in err, err
    (tmp_path / "kafka.yaml").write_text(base + f"source: {{etcd: {{endpoints: [{stack['MCDC_ETCD_ENDPOINT']}]}}, "
                                         "mq: {kafka: {address: 127.0.0.1:1}}}\n")
    rc, err = serve(tmp_path / "kafka.yaml")
    assert rc == 2 and "127.0.0.1:1" in err, err


def test_http_bad_input_and_concurrent_create_delete(stack, tmp_path, fresh_name):
    srv = McdcServer(stack, tmp_path)
    srv.start()
    try:
        # a body far over the limit is refused before it is read (so the client sends only headers)
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.putrequest("POST", "/cdc")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(64 << 20))
        conn.endheaders()
        r = conn.getresponse()
        reply = json.loads(r.read() or b"{}")
        assert r.status == 413 and reply["code"] == 413, (r.status, reply)
        conn.close()
        for body, want in [(b"[]", 400), (b'{"request_type": 5}', 400), (b'{"request_type": "get"}', 400),
                           (b'{"request_type": "create", "request_data": {"milvus_connect_param": "x"}}', 400),
                           (b"\xff\xfe", 400)]:
            status, reply = srv.post(None, raw=body)
            assert status == want and reply.get("message"), (body, status, reply)

        tid = "race_" + fresh_name("t")[-8:]
        data = {"task_id": tid, "collection_infos": [{"name": fresh_name("race")}],
                "milvus_connect_param": {"uri": stack["MCDC_TARGET_URI"]}}
        statuses = []

        def hit(kind):
            for _ in range(5):
                body = json.dumps({"request_type": kind, "request_data": data if kind == "create" else {"task_id": tid}})
                statuses.append(srv.post(None, raw=body.encode())[0])
        threads = [threading.Thread(target=hit, args=(k,)) for k in ("create", "delete", "create", "delete", "get")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert set(statuses) <= {200, 404, 409}, statuses
        assert srv.proc.poll() is None  # still alive
        status, reply = srv.post("list")
        assert status == 200 and [t["task_id"] for t in reply["data"]["tasks"]].count(tid) <= 1
    finally:
        srv.stop()


def test_store_is_owner_only(stack, tmp_path, fresh_name):
    """The store holds the tasks' target passwords: mcdc creates it (and SQLite's -wal and -shm
    beside it) 0600, and refuses to start on a store that other users may read, naming the file,
    its mode and the fix."""
    import os
    import stat
    srv = McdcServer(stack, tmp_path)
    srv.start()
    try:
        srv.create_task(collection_infos=[{"name": fresh_name("mode")}],
                        milvus_connect_param={"uri": stack["MCDC_TARGET_URI"], "connect_timeout": 10,
                                              "username": "root", "password": "s3cret-in-store"})
        db = tmp_path / "mcdc.db"
        files = [db, tmp_path / "mcdc.db-wal", tmp_path / "mcdc.db-shm"]
        for f in files:
            assert f.exists(), f
            assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, (f, oct(os.stat(f).st_mode))
    finally:
        srv.stop()
    os.chmod(db, 0o640)
    rc, err = serve(srv.config, timeout=60)
    assert rc == 2, err
    assert str(db) in err and "0640" in err and "chmod 600" in err, err
