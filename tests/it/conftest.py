"""One real stack per test session: started here if it is not running, stopped at the end
only if this session started it (scripts/stack keeps the PIDs)."""
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stackenv import STACK, stack_env  # noqa: E402


def _healthy() -> bool:
    return subprocess.run([str(STACK), "status"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def stack():
    started = False
    if not _healthy():
        subprocess.run([str(STACK), "start"], check=True)
        started = True
    yield stack_env()
    if started:
        subprocess.run([str(STACK), "stop"], check=True)


@pytest.fixture
def fresh_name():
    """Collection names no other test uses, so tests never see each other's data."""
    def make(prefix="t"):
        return f"{prefix}_{uuid.uuid4().hex[:10]}"
    return make
