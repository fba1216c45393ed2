"""Runs `mcdc dump` against the stack and parses its JSON lines."""
import json
import subprocess
import time

from stackenv import tool


def dump_args(stack, *extra):
    return [str(tool("mcdc")), "dump", "--etcd", stack["MCDC_ETCD_ENDPOINT"], "--kafka", stack["MCDC_KAFKA_BROKERS"],
            "--root", stack["MCDC_SOURCE_ROOT_PATH"], *extra]


def run_dump(stack, *extra, timeout=60):
    p = subprocess.run(dump_args(stack, *extra), capture_output=True, text=True, timeout=timeout)
    out = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return p.returncode, out, p.stderr


def dump_until(stack, done, *extra, timeout=60):
    """Re-runs a (non-follow) dump until done(changes) holds; returns the last changes.
    Some changes reach the WAL asynchronously (DropPartition after Milvus's GC step)."""
    deadline = time.monotonic() + timeout
    while True:
        rc, out, err = run_dump(stack, *extra)
        assert rc == 0, err
        if done(out) or time.monotonic() > deadline:
            return out
        time.sleep(1)
