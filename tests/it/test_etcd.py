"""The etcd client (src/etcd over src/rpc), driven through tests/tools/etcd_tool against a private etcd
process that this module starts, stops and restarts itself (Debian's etcd on free loopback ports, data in
tmp), so the tests do not depend on, or disturb, the shared stack.

What is proved: paging through a large range at one revision; compare-and-swap; lease keepalive past the
TTL, revoke, and loss when etcd is gone; a watch that survives an etcd restart and delivers every event
exactly once, in revision order; compaction reported as such; cancel from another thread; auth with a token
that etcd forgets on restart; an unreachable endpoint named in the error."""
import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from stackenv import tool

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(not ETCD or not ETCDCTL, reason="etcd / etcdctl not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdProc:
    """One etcd member; stop/start keep the ports and the data dir, like a restart in production."""

    def __init__(self, root: Path, name: str = "etcd", extra=(), tls=None):
        self.name = name
        self.client_port, self.peer_port = free_port(), free_port()
        self.endpoint = f"127.0.0.1:{self.client_port}"
        self.tls = tls  # Certs, for an https client port that wants client certificates
        self.data_dir = root / f"{name}-data"
        self.log_path = root / f"{name}.log"
        self.extra = list(extra)
        self.proc = None

    def start(self):
        peer = f"http://127.0.0.1:{self.peer_port}"
        client = f"{'https' if self.tls else 'http'}://{self.endpoint}"
        tls = []
        if self.tls:
            tls = ["--cert-file", self.tls.server_cert, "--key-file", self.tls.server_key,
                   "--client-cert-auth", "--trusted-ca-file", self.tls.ca]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [ETCD, "--name", self.name, "--data-dir", str(self.data_dir),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"{self.name}={peer}", *tls, *self.extra],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}; see {self.log_path}")
            # status, not health: health reads a key, which auth would refuse.
            r = subprocess.run([ETCDCTL, "--endpoints", self.endpoint, *self.ctl_tls(), "--command-timeout=1s",
                                "endpoint", "status"], capture_output=True, env=ctl_env())
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"etcd did not become healthy; see {self.log_path}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def ctl_tls(self):
        if not self.tls:
            return []
        return ["--cacert", self.tls.ca, "--cert", self.tls.client_cert, "--key", self.tls.client_key]

    def ctl(self, *args, user=None):
        cmd = [ETCDCTL, "--endpoints", self.endpoint, *self.ctl_tls()]
        if user:
            cmd += ["--user", user]
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, env=ctl_env(), timeout=30)
        assert r.returncode == 0, f"etcdctl {args}: {r.stderr}"
        return r.stdout


def ctl_env():
    return dict(os.environ, ETCDCTL_API="3")


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    e = EtcdProc(tmp_path_factory.mktemp("etcd"))
    e.start()
    yield e
    e.stop()


@pytest.fixture
def pfx(request):
    """A key prefix of this test only."""
    return f"/t/{request.node.name}/"


def no_sanitizer_report(stderr: str):
    # In a sanitizer build (MCDC_BUILD_DIR=build-asan) a report must fail the test even where the expected
    # exit code is 1, which is also what AddressSanitizer exits with.
    assert "Sanitizer" not in stderr and "runtime error:" not in stderr, stderr


def run(etcd, *args, auth=None, timeout=60, input=None, endpoint=None):
    cmd = [str(tool("etcd_tool")), "--endpoints", endpoint or etcd.endpoint]
    if auth:
        cmd += ["--user", auth[0], "--password", auth[1]]
    r = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, input=input)
    no_sanitizer_report(r.stderr)
    return r


def ok(etcd, *args, **kw):
    r = run(etcd, *args, **kw)
    assert r.returncode == 0, f"etcd_tool {args}: rc={r.returncode} {r.stderr}"
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def revision(etcd, auth=None) -> int:
    return ok(etcd, "range", "/no/such/prefix/", auth=auth)[-1]["revision"]


class Lines:
    """A running etcd_tool whose stdout lines are read as they come."""

    def __init__(self, etcd, *args, auth=None, stdin=False):
        cmd = [str(tool("etcd_tool")), "--endpoints", etcd.endpoint]
        if auth:
            cmd += ["--user", auth[0], "--password", auth[1]]
        self.proc = subprocess.Popen(cmd + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True)
        self.q = queue.Queue()
        self.err = []
        threading.Thread(target=self._read_out, daemon=True).start()
        self.err_thread = threading.Thread(target=self._read_err, daemon=True)
        self.err_thread.start()

    def _read_out(self):
        for line in self.proc.stdout:
            self.q.put(line)
        self.q.put(None)  # end of output

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def stderr(self):
        return "".join(self.err)

    def wait_stderr(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            assert time.monotonic() < deadline, f"no {text!r} on stderr: {self.stderr()}"
            assert self.proc.poll() is None or text in self.stderr(), f"exited: {self.stderr()}"
            time.sleep(0.05)

    def take(self, n, timeout=30):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"got {len(out)} of {n} lines; stderr: {self.stderr()}")
            assert line is not None, f"ended after {len(out)} of {n} lines; stderr: {self.stderr()}"
            out.append(json.loads(line))
        return out

    def finish(self, timeout=30):
        rc = self.proc.wait(timeout)
        self.err_thread.join(5)
        no_sanitizer_report(self.stderr())
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def spawned():
    procs = []

    def make(*a, **kw):
        p = Lines(*a, **kw)
        procs.append(p)
        return p
    yield make
    for p in procs:
        p.kill()


def load(etcd, pairs, auth=None):
    text = "".join(f"{k}\t{v}\n" for k, v in pairs)
    assert ok(etcd, "load", input=text, auth=auth)[-1] == {"put": len(pairs)}


# ---------------------------------------------------------------------------------------------------------


def test_put_get_delete(etcd, pfx):
    ok(etcd, "put", pfx + "a", "hello world")
    got = ok(etcd, "get", pfx + "a")[0]
    assert got["value"] == "hello world" and got["mod_revision"] > 0
    ok(etcd, "put", pfx + "b", 'quote " and \\ and tab\t')
    assert ok(etcd, "get", pfx + "b")[0]["value"] == 'quote " and \\ and tab\t'
    assert ok(etcd, "del", pfx + "a") == [{"deleted": 1}]
    r = run(etcd, "get", pfx + "a")
    assert r.returncode == 3 and "not found" in r.stderr
    ok(etcd, "put", pfx + "c", "x")
    assert ok(etcd, "del", pfx, "--prefix") == [{"deleted": 2}]
    assert ok(etcd, "range", pfx)[:-1] == []


def test_range_pages_at_a_fixed_revision(etcd, pfx):
    n = 2500  # more than two pages of 1000
    keys = [f"{pfx}k{i:05d}" for i in range(n)]
    load(etcd, [(k, f"v{i}") for i, k in enumerate(keys)])
    # Neighbours just outside the prefix range must not show up: the prefix itself without its last byte,
    # and the first key past the range ("/t/x/" -> "/t/x0").
    ok(etcd, "put", pfx[:-1], "outside")
    ok(etcd, "put", pfx[:-1] + "0", "outside")
    rev = revision(etcd)
    # Changes after rev: a new key, an overwrite, a delete. None of it may leak into the snapshot.
    ok(etcd, "put", pfx + "k99999", "late")
    ok(etcd, "put", keys[1500], "changed")
    ok(etcd, "del", keys[7])

    lines = ok(etcd, "range", pfx, "--rev", rev)
    assert lines[-1] == {"revision": rev}
    kvs = lines[:-1]
    assert [kv["key"] for kv in kvs] == keys  # every key once, in order, across page boundaries
    assert [kv["value"] for kv in kvs] == [f"v{i}" for i in range(n)]
    assert all(kv["mod_revision"] <= rev for kv in kvs)

    now = ok(etcd, "range", pfx)
    assert now[-1]["revision"] > rev
    now_keys = [kv["key"] for kv in now[:-1]]
    assert len(now_keys) == n and keys[7] not in now_keys and now_keys[-1] == pfx + "k99999"


def test_compare_and_swap(etcd, pfx):
    k = pfx + "leader"
    assert ok(etcd, "cas", k, "me", 0) == [{"ok": True}]       # must not exist: it does not
    assert ok(etcd, "cas", k, "other", 0) == [{"ok": False}]   # now it does
    rev = ok(etcd, "get", k)[0]["mod_revision"]
    assert ok(etcd, "cas", k, "me2", rev - 1) == [{"ok": False}]
    assert ok(etcd, "get", k)[0]["value"] == "me"
    assert ok(etcd, "cas", k, "me2", rev) == [{"ok": True}]
    assert ok(etcd, "get", k)[0]["value"] == "me2"
    assert ok(etcd, "cas", k, "me3", rev) == [{"ok": False}]   # stale revision


def test_lease_keepalive_then_revoke(etcd, pfx, spawned):
    k = pfx + "alive"
    ttl = 2
    p = spawned(etcd, "lease", ttl, "--put", k, "v", stdin=True)
    lease = p.take(1)[0]["lease"]
    time.sleep(3 * ttl)  # three TTLs: only keepalive can have kept it
    got = ok(etcd, "get", k)
    assert got[0]["value"] == "v"
    assert p.proc.poll() is None, p.stderr()
    p.proc.stdin.close()  # tells the tool to revoke
    assert p.take(1)[0] == {"revoked": lease}
    assert p.finish() == 0, p.stderr()
    r = run(etcd, "get", k)
    assert r.returncode == 3, "revoking the lease deletes its key"


def test_lease_reported_lost_when_etcd_is_gone(etcd, pfx, spawned):
    p = spawned(etcd, "lease", 2, "--put", pfx + "k", "v", stdin=True)
    p.take(1)
    etcd.stop()
    try:
        t0 = time.monotonic()
        rc = p.finish(timeout=20)
        assert rc == 1 and "lost" in p.stderr(), p.stderr()
        # Not refreshed for a TTL: lost by then at the latest, and not much later.
        assert time.monotonic() - t0 < 4
    finally:
        etcd.start()


def test_watch_resumes_across_etcd_restart(etcd, pfx, spawned):
    start = revision(etcd) + 1
    first = [f"{pfx}a{i:02d}" for i in range(10)]
    second = [f"{pfx}b{i:02d}" for i in range(10)]
    total = len(first) + 1 + len(second)  # + one delete
    w = spawned(etcd, "watch", pfx, "--rev", start, "--count", total)
    w.wait_stderr("watching")
    load(etcd, [(k, "1") for k in first])
    seen = w.take(len(first))  # delivered before the restart
    etcd.stop()
    time.sleep(1.0)  # the watch keeps failing to reconnect meanwhile
    etcd.start()
    ok(etcd, "del", first[3])
    load(etcd, [(k, "2") for k in second])
    seen += w.take(total - len(first), timeout=30)
    assert w.finish() == 0, w.stderr()
    assert "resumed" in w.stderr()

    assert [e["key"] for e in seen] == first + [first[3]] + second  # each exactly once, in order
    assert [e["type"] for e in seen] == ["PUT"] * 10 + ["DELETE"] + ["PUT"] * 10
    revs = [e["mod_revision"] for e in seen]
    assert revs == sorted(set(revs)) and revs[0] >= start


def test_watch_from_now_with_prev_kv(etcd, pfx, spawned):
    ok(etcd, "put", pfx + "x", "old")
    w = spawned(etcd, "watch", pfx, "--count", 2, "--prev-kv")
    w.wait_stderr("watching")
    ok(etcd, "put", pfx + "x", "new")
    ok(etcd, "del", pfx + "x")
    put, dele = w.take(2)
    assert put["type"] == "PUT" and put["value"] == "new" and put["prev_value"] == "old"
    assert dele["type"] == "DELETE" and dele["prev_value"] == "new"
    assert w.finish() == 0


def test_watch_reports_compaction(etcd, pfx):
    ok(etcd, "put", pfx + "k", "1")
    old = revision(etcd)
    ok(etcd, "put", pfx + "k", "2")
    ok(etcd, "put", pfx + "k", "3")
    now = revision(etcd)
    etcd.ctl("compact", str(now))
    r = run(etcd, "watch", pfx, "--rev", old)
    assert r.returncode == 1
    assert "compacted" in r.stderr and f"compacted at revision {now}" in r.stderr, r.stderr
    assert r.stdout == ""  # nothing half-delivered
    # From the compact revision on, it works.
    assert ok(etcd, "watch", pfx, "--rev", now, "--count", 1)[0]["value"] == "3"


def test_watch_cancel_from_another_thread(etcd, pfx):
    t0 = time.monotonic()
    r = run(etcd, "watch", pfx, "--cancel-after", 300)
    assert r.returncode == 0 and "canceled" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 5


def test_unreachable_endpoint_is_named(etcd):
    dead = f"127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    r = run(etcd, "--timeout", 1500, "get", "k", endpoint=dead)
    assert r.returncode == 2, r.stderr
    assert dead in r.stderr and "unavailable" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 5


class Certs:
    """A throwaway CA with a server certificate for 127.0.0.1 and a client certificate (openssl CLI)."""

    def __init__(self, d: Path):
        def sh(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        sh("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=mcdc test CA")
        for who, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                         ("client", "extendedKeyUsage=clientAuth")):
            (d / f"{who}.ext").write_text(ext + "\n")
            sh("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN=mcdc test {who}")
            sh("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
               "-out", f"{who}.pem", "-days", "1", "-extfile", f"{who}.ext")
        self.ca = str(d / "ca.pem")
        self.server_cert, self.server_key = str(d / "server.pem"), str(d / "server.key")
        self.client_cert, self.client_key = str(d / "client.pem"), str(d / "client.key")


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_mutual_tls(tmp_path):
    certs = Certs(tmp_path)
    e = EtcdProc(tmp_path, "tls-etcd", tls=certs)
    e.start()
    try:
        mtls = ["--cacert", certs.ca, "--cert", certs.client_cert, "--key", certs.client_key]
        r = run(e, *mtls, "put", "/tls/k", "v")
        assert r.returncode == 0, r.stderr
        assert ok(e, *mtls, "get", "/tls/k")[0]["value"] == "v"
        # The certificate is for 127.0.0.1; naming the server otherwise must fail verification.
        r = run(e, *mtls, "--server-name", "not-this-host", "--timeout", 1500, "get", "/tls/k")
        assert r.returncode == 2 and e.endpoint in r.stderr, r.stderr
        # Without a client certificate the server refuses the handshake.
        r = run(e, "--cacert", certs.ca, "--timeout", 1500, "get", "/tls/k")
        assert r.returncode == 2 and e.endpoint in r.stderr, r.stderr
        # A missing file is a configuration error, said at once.
        r = run(e, "--cacert", str(tmp_path / "nope.pem"), "get", "/tls/k")
        assert r.returncode == 1 and "nope.pem" in r.stderr, r.stderr
    finally:
        e.stop()


def test_auth(tmp_path, spawned):
    # A separate etcd: auth on the shared one would change every other test. A one-second token TTL makes
    # tokens expire between calls, and a restart makes etcd forget them (simple tokens live in memory).
    e = EtcdProc(tmp_path, "auth-etcd", extra=["--auth-token-ttl", "1"])
    e.start()
    try:
        e.ctl("user", "add", "root:pw")
        e.ctl("auth", "enable")
        root = ("root", "pw")
        ok(e, "put", "/a/k", "v", auth=root)
        assert ok(e, "get", "/a/k", auth=root)[0]["value"] == "v"

        r = run(e, "put", "/a/k", "v2")
        assert r.returncode == 1
        assert "user name is empty" in r.stderr and "username" in r.stderr, r.stderr
        r = run(e, "get", "/a/k", auth=("root", "wrong"))
        assert r.returncode == 1 and "authentication failed" in r.stderr, r.stderr

        w = spawned(e, "watch", "/a/", "--rev", revision(e, auth=root) + 1, "--count", 3, auth=root)
        w.wait_stderr("watching")
        time.sleep(1.5)  # the token the watch was opened with has expired
        ok(e, "put", "/a/1", "x", auth=root)
        e.stop()
        e.start()
        ok(e, "put", "/a/2", "x", auth=root)
        ok(e, "put", "/a/3", "x", auth=root)
        assert [ev["key"] for ev in w.take(3)] == ["/a/1", "/a/2", "/a/3"]
        assert w.finish() == 0, w.stderr()
    finally:
        e.stop()
