"""Where the real stack lives: the values `scripts/stack env` resolves (one place for ports and paths)."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack"


def stack_env() -> dict:
    out = subprocess.run([str(STACK), "env"], check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


def build_dir() -> Path:
    return Path(os.environ.get("MCDC_BUILD_DIR", REPO / "build")).resolve()


def tool(name: str) -> Path:
    p = build_dir() / name
    if not p.exists():
        raise FileNotFoundError(f"{p} is not built: run scripts/test (or cmake --build build) first")
    return p


def piece_pid(piece: str, env=None) -> int:
    """The PID scripts/stack recorded for one piece of the stack. env: stack_env()'s result, when
    the caller has it (stack_env runs `scripts/stack env`: a caller that asks often passes it)."""
    pidfile = Path((env or stack_env())["MCDC_STACK_DIR"]) / "pids" / f"{piece}.pid"
    return int(pidfile.read_text().split()[0])


def stop_piece(piece: str, grace_s: float = 15.0) -> None:
    """Stops one piece of the stack (etcd, kafka, source-milvus, target-milvus) as a crash or an
    outage would, using the PID scripts/stack recorded; `start_stack()` brings it back."""
    import os
    import signal
    import time
    pid = piece_pid(piece)

    def alive():
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except OSError:
            return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive():
        os.kill(pid, signal.SIGKILL)
        while alive():
            time.sleep(0.1)


def start_stack() -> None:
    """Starts whatever piece of the stack is not running (scripts/stack start is idempotent)."""
    subprocess.run([str(STACK), "start"], check=True, capture_output=True)
