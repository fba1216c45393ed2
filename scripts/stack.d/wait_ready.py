"""Readiness checks of the test stack that need a real client (run with the stack's venv python).

  wait_ready.py kafka  BROKERS TIMEOUT PID
      until the broker answers a metadata request.
  wait_ready.py milvus HEALTHZ_URL URI TIMEOUT PID
      until /healthz says OK *and* a real RPC (list_collections) succeeds: /healthz turns OK before
      the proxy serves requests.
  wait_ready.py probe  (reads MCDC_* from the environment)
      one quick check of kafka, source-milvus, target-milvus, and the source's topics on the broker
      (source-wal); prints "<piece> ok|fail <detail>" per line (scripts/stack status).

The waits give up early, exit 3, when process PID has died (4 when scripts/stack went away); exit 1
on timeout.
"""
import logging
import os
import sys
import threading
import time
import urllib.request

POLL = 0.25


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def kafka_topics(brokers, timeout):
    from confluent_kafka.admin import AdminClient

    # Keep the AdminClient referenced until the call returns: if it is collected first, its pending
    # requests fail with _DESTROY (stack-notes pitfall 10).
    admin = AdminClient({"bootstrap.servers": brokers, "socket.timeout.ms": int(timeout * 1000),
                         "log_level": 0, "logger": _quiet_logger()})
    md = admin.list_topics(timeout=timeout)
    topics = dict(md.topics)
    del admin
    return topics


def _quiet_logger():
    log = logging.getLogger("mcdc.stack.kafka")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


def healthz(url, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status == 200 and r.read().strip() == b"OK"


def milvus_rpc(uri, timeout):
    from pymilvus import connections, utility

    # Refused connections are expected while a server boots; pymilvus would log each retry.
    logging.getLogger("pymilvus").setLevel(logging.ERROR)

    alias = f"stack-ready-{os.getpid()}"
    connections.connect(alias=alias, uri=uri, timeout=timeout)
    try:
        return utility.list_collections(timeout=timeout, using=alias)
    finally:
        connections.disconnect(alias)


def watch(pid, what):
    """Exit at once when PID dies or when our parent (scripts/stack) goes away, even while a client
    call is blocked inside its own retries."""
    parent = os.getppid()

    def run():
        while True:
            if not alive(pid):
                print(f"{what}: process {pid} exited", file=sys.stderr, flush=True)
                os._exit(3)
            if os.getppid() != parent:
                os._exit(4)
            time.sleep(POLL)

    threading.Thread(target=run, daemon=True).start()


def wait(check, timeout, pid, what):
    if pid:
        watch(pid, what)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if check(max(1.0, min(5.0, deadline - time.monotonic()))):
                return 0
            last = "not ready"
        except Exception as e:  # any failure means "not yet"; the last one is reported
            last = f"{type(e).__name__}: {e}"
        time.sleep(POLL)
    print(f"{what}: not ready after {timeout:g} s (last: {last})", file=sys.stderr)
    return 1


def cmd_kafka(brokers, timeout, pid):
    return wait(lambda t: kafka_topics(brokers, t) is not None, float(timeout), int(pid), "kafka")


def cmd_milvus(healthz_url, uri, timeout, pid):
    state = {"healthz": False}

    def check(t):
        if not state["healthz"]:
            if not healthz(healthz_url, t):
                return False
            state["healthz"] = True
        milvus_rpc(uri, t)
        return True

    return wait(check, float(timeout), int(pid), uri)


def wal_topics(topics, root_path):
    return sorted(t for t in topics if t.startswith(root_path + "-"))


def cmd_probe():
    env = os.environ
    topics = None
    try:
        topics = kafka_topics(env["MCDC_KAFKA_BROKERS"], 3.0)
        print(f"kafka ok {len(topics)} topics", flush=True)
    except Exception as e:
        print(f"kafka fail {type(e).__name__}: {e}", flush=True)
    for role in ("source", "target"):
        up = role.upper()
        try:
            if not healthz(f"http://127.0.0.1:{env[f'MCDC_{up}_METRICS_PORT']}/healthz", 3.0):
                raise RuntimeError("/healthz is not OK")
            n = len(milvus_rpc(env[f"MCDC_{up}_URI"], 5.0))
            print(f"{role}-milvus ok {n} collections", flush=True)
        except Exception as e:
            print(f"{role}-milvus fail {type(e).__name__}: {e}", flush=True)
    # The source's channels are topics named <rootPath>-...; they appear once it has written to them.
    if topics is None:
        print("source-wal fail kafka unreachable", flush=True)
    else:
        mine = wal_topics(topics, env["MCDC_SOURCE_ROOT_PATH"])
        print(f"source-wal ok {len(mine)} {env['MCDC_SOURCE_ROOT_PATH']}-* topics", flush=True)
    return 0


def main(argv):
    try:
        if argv[1:2] == ["kafka"] and len(argv) == 5:
            return cmd_kafka(*argv[2:])
        if argv[1:2] == ["milvus"] and len(argv) == 6:
            return cmd_milvus(*argv[2:])
        if argv[1:] == ["probe"]:
            return cmd_probe()
    except KeyboardInterrupt:
        return 130
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
