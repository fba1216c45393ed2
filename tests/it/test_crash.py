"""Never lose, never double: mcdc is killed with SIGKILL ten times at random moments while a mixed
stream of inserts, deletes and upserts runs on two collections; afterwards the target equals the
source exactly (every PK once, every scalar and vector)."""
import random

import pytest

from crashkit import Writer, kill_and_restart, make_collections, wait_settled
from mcdcserver import serving


@pytest.fixture
def server(stack, tmp_path):
    srv = serving(stack, tmp_path)
    yield srv
    srv.stop()


def test_ten_sigkills_lose_nothing_double_nothing(server, fresh_name):
    prefix = fresh_name("crash")
    server.create_task(collection_infos=[{"name": f"{prefix}_int"}, {"name": f"{prefix}_str"}])
    a, b = make_collections(prefix)
    w = Writer(a, b)
    w.start()
    try:
        kill_and_restart(server, 10, random.Random(42))
    finally:
        w.stop.set()
        w.join()
    assert w.error is None, w.error
    assert w.rounds > 10
    res = wait_settled([(a.name, "pk"), (b.name, "id")])
    assert all(r == (0, 0, 0) for r in res.values()), f"(lost, doubled, differing) per collection: {res}"
    a.drop()
    b.drop()
