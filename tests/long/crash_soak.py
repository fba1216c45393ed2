"""The long crash experiment: 50 SIGKILLs of `mcdc serve` during a mixed write stream on two
collections, then a report of lost and doubled rows (the goal: lost=0 doubled=0).

usage (from the repo root, stack running or not):
    $(scripts/stack env | sed -n 's/^MCDC_VENV_PYTHON=//p') tests/long/crash_soak.py [--kills 50]
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "it"))

from crashkit import Writer, kill_and_restart, make_collections, wait_settled  # noqa: E402
from mcdcserver import McdcServer, connect  # noqa: E402
from stackenv import STACK, stack_env  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if subprocess.run([str(STACK), "status"], capture_output=True).returncode != 0:
        subprocess.run([str(STACK), "start"], check=True)
    stack = stack_env()
    with tempfile.TemporaryDirectory() as d:
        srv = McdcServer(stack, Path(d))
        srv.start()
        connect("src", stack["MCDC_SOURCE_URI"])
        connect("tgt", stack["MCDC_TARGET_URI"])
        prefix = "soak_" + uuid.uuid4().hex[:8]
        srv.create_task(collection_infos=[{"name": f"{prefix}_int"}, {"name": f"{prefix}_str"}])
        a, b = make_collections(prefix)
        w = Writer(a, b, seed=args.seed)
        t0 = time.monotonic()
        w.start()
        try:
            kill_and_restart(srv, args.kills, random.Random(args.seed))
        finally:
            w.stop.set()
            w.join()
        res = wait_settled([(a.name, "pk"), (b.name, "id")], timeout=300)
        srv.stop()
        broken = {n: r for n, r in res.items() if len(r) != 3}
        if broken:
            print(f"could not compare: {broken}")
            return 2
        lost = sum(r[0] for r in res.values())
        doubled = sum(r[1] for r in res.values())
        differing = sum(r[2] for r in res.values())
        print(f"kills={args.kills} rounds={w.rounds} seconds={time.monotonic() - t0:.0f} "
              f"lost={lost} doubled={doubled} differing={differing}")
        print(json.dumps({"bench": "crash_soak", "kills": args.kills, "rounds": w.rounds, "lost": lost,
                          "doubled": doubled, "differing": differing, "per_collection": res}))
        a.drop()
        b.drop()
        return 0 if lost == 0 and doubled == 0 and differing == 0 and w.error is None else 1


if __name__ == "__main__":
    sys.exit(main())
