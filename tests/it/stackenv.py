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
