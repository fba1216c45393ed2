"""The API's guards as a client meets them (docs/api.md, "Refusals and why" and "Connections"):
a /cdc request that is not application/json or names a foreign Host is refused with its status and
a message saying what to send; `mcdc serve` beyond loopback without api_token (or on every interface
without api_allowed_hosts) exits 2 naming the keys; HTTPS with a configured certificate answers over
TLS and not in plain HTTP; 200 clients that trickle headers from 200 addresses neither slow /healthz
down nor stay connected past the header deadline; one address past its connection limit does not
stop another."""
import http.client
import json
import select
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from mcdcserver import McdcServer
from stackenv import tool

LIST = b'{"request_type": "list"}'


def raw_post(port, headers, body=LIST):
    """POST /cdc with exactly these headers (http.client adds no Host of its own here)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", "/cdc", skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    r = conn.getresponse()
    reply = json.loads(r.read() or b"{}")
    conn.close()
    return r.status, reply


def raw_get(port, path, host, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def serve(path, timeout=60):
    p = subprocess.run([str(tool("mcdc")), "serve", "-c", str(path)], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def test_content_type_and_host_are_refused(stack, tmp_path):
    srv = McdcServer(stack, tmp_path)
    srv.start()
    try:
        host = f"127.0.0.1:{srv.port}"
        status, reply = raw_post(srv.port, {"Host": host, "Content-Type": "text/plain"})
        assert status == 415 and reply["code"] == 415, (status, reply)
        assert "Content-Type 'text/plain' is not accepted on /cdc" in reply["message"], reply
        assert "curl -H 'Content-Type: application/json'" in reply["message"], reply
        # what `curl -d` sends when told nothing else
        status, reply = raw_post(srv.port, {"Host": host, "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 415 and "'application/x-www-form-urlencoded' is not accepted" in reply["message"], reply
        status, reply = raw_post(srv.port, {"Host": host})
        assert status == 415 and "Content-Type missing on /cdc" in reply["message"], reply

        status, reply = raw_post(srv.port, {"Host": "evil.example", "Content-Type": "application/json"})
        assert status == 421 and reply["code"] == 421, (status, reply)
        assert "Host 'evil.example' is not a name of this server" in reply["message"], reply
        assert "api_allowed_hosts" in reply["message"], reply
        # the report: a cross-site text/plain POST with a foreign Host was served
        status, reply = raw_post(srv.port, {"Host": "evil.example", "Content-Type": "text/plain"},
                                 json.dumps({"request_type": "delete", "request_data": {"task_id": "x"}}).encode())
        assert status == 421, (status, reply)
        status, reply = raw_post(srv.port, {"Host": f"127.0.0.1:{srv.port + 1}", "Content-Type": "application/json"})
        assert status == 421 and f"not the one mcdc listens on ({srv.port})" in reply["message"], reply

        # the right ones are served, with a charset too
        for h in (host, f"localhost:{srv.port}", "127.0.0.1"):
            status, reply = raw_post(srv.port, {"Host": h, "Content-Type": "application/json; charset=utf-8"})
            assert status == 200, (h, status, reply)
        # /healthz answers whatever the Host: load balancers probe by address
        assert raw_get(srv.port, "/healthz", "evil.example")[0] == 200
        assert raw_get(srv.port, "/metrics", "evil.example")[0] == 421

        m = srv.metrics()
        assert m['milvus_cdc_request_total{request_type="unknown",request_status="content_type_refused"}'] == 3, m
        assert m['milvus_cdc_request_total{request_type="unknown",request_status="host_refused"}'] == 4, m
        # malformed JSON with a token in it: the reply does not quote it
        status, reply = srv.post(None, raw=b'{"request_type": "create", "request_data": {"token": root:S3cr3tT0k3n}}')
        assert status == 400 and "malformed JSON at line 1" in reply["message"], reply
        assert "S3cr3tT0k3n" not in json.dumps(reply)
    finally:
        srv.stop()
    assert "S3cr3tT0k3n" not in srv.log.read_text()


def test_beyond_loopback_needs_a_token_and_names(stack, tmp_path):
    src = (f"store: {{path: {tmp_path / 'm.db'}}}\n"
           f"source: {{etcd: {{endpoints: [{stack['MCDC_ETCD_ENDPOINT']}]}}, "
           f"mq: {{kafka: {{address: {stack['MCDC_KAFKA_BROKERS']}}}}}}}\n")
    cases = [
        ("listen: 0.0.0.0:0\n", "listen 0.0.0.0 is beyond loopback and api_token is empty"),
        ("listen: \":0\"\napi_allowed_hosts: [\"*\"]\n", "listen 0.0.0.0 is beyond loopback and api_token is empty"),
        ("listen: 0.0.0.0:0\napi_token: t0ken\n", "serves every interface"),
        ("api_tls_cert_file: /nonexistent.crt\n", "api_tls_cert_file and api_tls_key_file go together"),
    ]
    for i, (text, want) in enumerate(cases):
        path = tmp_path / f"c{i}.yaml"
        path.write_text(src + text)
        t0 = time.monotonic()
        rc, err = serve(path)
        assert rc == 2 and want in err, (text, rc, err)
        assert "t0ken" not in err
        # refused before anything is opened
        assert time.monotonic() - t0 < 10
        assert not (tmp_path / "m.db").exists()
    rc, err = serve(tmp_path / "c0.yaml")
    assert "api_token" in err and "listen" in err, err


def make_cert(tmp_path):
    cert, key = tmp_path / "api.crt", tmp_path / "api.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o600)
    return cert, key


def test_https(stack, tmp_path):
    cert, key = make_cert(tmp_path)
    api = {"api_tls_cert_file": str(cert), "api_tls_key_file": str(key)}
    srv = McdcServer(stack, tmp_path, api=api, ca=cert)
    srv.start()  # polls https://.../healthz with the certificate as CA
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"https://127.0.0.1:{srv.port}/healthz", timeout=10, context=ctx) as r:
            assert r.status == 200 and r.read() == b"ok\n"
        status, reply = srv.post("list")
        assert status == 200 and reply["data"]["tasks"] == [], reply
        # plain HTTP on that port gets no HTTP answer
        with pytest.raises((http.client.HTTPException, OSError, urllib.error.URLError)):
            with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/healthz", timeout=10) as r:
                r.read()
        # nor does a client that does not trust the certificate
        with pytest.raises((ssl.SSLError, urllib.error.URLError)):
            urllib.request.urlopen(f"https://127.0.0.1:{srv.port}/healthz", timeout=10,
                                   context=ssl.create_default_context())
    finally:
        srv.stop()
    assert f"https://127.0.0.1:{srv.port}" in srv.log.read_text()
    # a key file others may read: mcdc serve refuses, naming the file
    key.chmod(0o644)
    rc, err = serve(srv.config)
    assert rc == 2 and "api_tls_key_file" in err and str(key) in err and "chmod 600" in err, err


def closed(sock):
    """True when the server has closed sock (end of stream or reset), without waiting."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def healthz_time(port, source="127.0.0.1"):
    t0 = time.monotonic()
    status, body = raw_get(port, "/healthz", f"127.0.0.1:{port}", source)
    assert status == 200 and body == b"ok\n"
    return time.monotonic() - t0


def test_slow_clients_do_not_stop_healthz(stack, tmp_path):
    deadline_s = 3
    srv = McdcServer(stack, tmp_path, api={"api_header_timeout_ms": deadline_s * 1000,
                                           "api_max_connections_per_client": 8})
    srv.start()
    socks = []
    try:
        # 200 clients, one per address (127.0.0.2 .. 127.0.0.201), each a request line and no end of headers
        t_open = time.monotonic()
        for i in range(200):
            s = socket.socket()
            s.bind((f"127.0.0.{2 + i}", 0))
            s.connect(("127.0.0.1", srv.port))
            s.sendall(f"POST /cdc HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Slow: ".encode())
            socks.append(s)
        # they trickle a byte each half second; /healthz from 127.0.0.1 answers within 1 s meanwhile
        worst = 0.0
        while time.monotonic() - t_open < deadline_s - 0.5:
            for s in socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            worst = max(worst, healthz_time(srv.port))
            time.sleep(0.5)
        assert worst < 1.0, f"/healthz took {worst:.2f} s with 200 slow clients"
        # and each is closed after the deadline, however it trickles
        t_end = time.monotonic() + 30
        while time.monotonic() < t_end:
            for s in socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            left = [s for s in socks if not closed(s)]
            if not left:
                break
            select.select(left, [], [], 0.5)
        left = [s.getsockname()[0] for s in socks if not closed(s)]
        assert not left, f"{len(left)} slow clients still connected, e.g. {left[:5]}"
        for s in socks:
            s.close()
        socks = []
        text = srv.log.read_text()
        assert text.count(f"no complete request within {deadline_s * 1000} ms (api_header_timeout_ms)") >= 200

        # one address over its limit (8 here) is cut off; another is served meanwhile
        for _ in range(8):
            s = socket.socket()
            s.bind(("127.0.0.250", 0))
            s.connect(("127.0.0.1", srv.port))
            socks.append(s)
        extra = socket.socket()
        extra.bind(("127.0.0.250", 0))
        extra.connect(("127.0.0.1", srv.port))
        extra.settimeout(deadline_s - 1)
        try:
            got = extra.recv(1)
        except socket.timeout:
            got = None
        except OSError:
            got = b""
        extra.close()
        assert got == b"", "a ninth connection from one address was not closed at once"
        assert healthz_time(srv.port, "127.0.0.251") < 1.0
    finally:
        for s in socks:
            s.close()
        srv.stop()
