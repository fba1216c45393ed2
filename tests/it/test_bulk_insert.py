"""Bulk insert (Import) on a covered collection: Milvus 2.3 writes the imported rows straight into
segments, never through the WAL, so mcdc cannot replicate them; it must say so (docs/guarantees.md,
"Bulk insert"). The test bulk-inserts a row-based JSON file into a covered collection of the source
and checks that `get` lists the import (collection, import task id, state, rows), /metrics counts it,
mcdc's log has one WARN line for it, an import into a collection the task does not cover and an
import that failed are not listed, and ordinary inserts before and after still reach the target row
by row.

How the file reaches the source: the stack's source Milvus uses local storage (common.storageType:
local, localStorage.path = $MCDC_STACK_DIR/source-milvus/data, scripts/stack.d/milvus-source.yaml.in)
and runs on this host, so the test writes the JSON file into that directory and names it in
do_bulk_insert by its absolute path: Milvus 2.3's LocalChunkManager opens the path it is given as it
is. Should this Milvus join it to localStorage.path instead, the import fails with "not found" and the
test retries with the path relative to localStorage.path (an earlier LocalChunkManager did that).

The queue does not matter here (import tasks are read from etcd): Kafka source only."""
import json
import re
import time
from pathlib import Path

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility
from pymilvus.client.types import BulkInsertState
from pymilvus.exceptions import MilvusException

from mcdcserver import McdcServer, connect, normalize, rows_of, wait_equal

INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}
BULK_ROWS = 300


@pytest.fixture(scope="module")
def mcdc(stack, tmp_path_factory):
    srv = McdcServer(stack, tmp_path_factory.mktemp("mcdc"))
    srv.start()
    for alias in ("src", "tgt"):
        connections.disconnect(alias)
    connect("src", srv.source_uri)
    connect("tgt", stack["MCDC_TARGET_URI"])
    yield srv
    srv.stop()
    print(srv.log.read_text()[-4000:])


def schema():
    return CollectionSchema([
        FieldSchema("pk", DataType.INT64, is_primary=True),
        FieldSchema("tag", DataType.VARCHAR, max_length=32),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ])


def rows(start, n, tag="r"):
    return [{"pk": i, "tag": f"{tag}{i}", "vec": [(i + k) % 7 / 7 for k in range(4)]} for i in range(start, start + n)]


def make(name):
    c = Collection(name, schema(), using="src", shards_num=2)
    c.create_index("vec", INDEX)
    c.load()
    return c


def storage_root(stack) -> Path:
    return Path(stack["MCDC_STACK_DIR"]) / "source-milvus" / "data"


def write_json(stack, name, start, n) -> Path:
    """A row-based import file (2.3: {"rows": [...]}, one object per row) inside the source's storage."""
    path = storage_root(stack) / "mcdc-bulk" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows(start, n, "bulk")}))
    return path


def wait_import(task_id, timeout=180):
    """The import's final state on the source: Completed (rows landed and flushed) or Failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = utility.get_bulk_insert_state(task_id, using="src")
        if st.state in (BulkInsertState.ImportCompleted, BulkInsertState.ImportFailed,
                        BulkInsertState.ImportFailedAndCleaned):
            return st
        time.sleep(1)
    raise AssertionError(f"import task {task_id} not finished after {timeout}s: {st}")


def bulk_insert(stack, name, path: Path):
    """Imports path into name on the source and waits for it; returns (import task id, state)."""
    candidates = [str(path), str(path.relative_to(storage_root(stack)))]
    for i, f in enumerate(candidates):
        task_id = utility.do_bulk_insert(collection_name=name, files=[f], using="src")
        st = wait_import(task_id)
        if st.state == BulkInsertState.ImportCompleted:
            return task_id, st
        if i + 1 == len(candidates) or "not" not in st.failed_reason.lower():
            raise AssertionError(f"import of {f} into {name} failed: {st.failed_reason}")
    raise AssertionError("unreachable")


def listed(mcdc, task, import_task):
    for b in mcdc.get(task).get("bulk_inserts_not_replicated", []):
        if b["import_task"] == import_task:
            return b
    return None


def wait_listed(mcdc, task, import_task, timeout=60):
    """The supervisor reads the import tasks about every 10 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        b = listed(mcdc, task, import_task)
        if b:
            return b
        time.sleep(1)
    raise AssertionError(f"import task {import_task} not in get after {timeout}s: {mcdc.get(task)}")


def test_bulk_insert_is_reported_and_inserts_still_replicate(mcdc, stack, fresh_name):
    name, other = fresh_name("bulk"), fresh_name("bulkx")
    task = mcdc.create_task(collection_infos=[{"name": name}])
    c = make(name)
    make(other)

    # Ordinary inserts replicate row by row; nothing to report yet, and the key is absent.
    c.insert(rows(0, 200))
    wait_equal("src", "tgt", "default", name, "pk")
    assert "bulk_inserts_not_replicated" not in mcdc.get(task)

    # The bulk insert lands on the source only.
    imp, st = bulk_insert(stack, name, write_json(stack, name, 10_000, BULK_ROWS))
    assert st.row_count == BULK_ROWS
    # Into a collection the task does not cover, and one that fails: neither is listed.
    imp_other, _ = bulk_insert(stack, other, write_json(stack, other, 20_000, 50))
    try:
        failed = utility.do_bulk_insert(collection_name=name, files=[str(storage_root(stack) / "mcdc-bulk" / "absent.json")],
                                        using="src")
        assert wait_import(failed).state != BulkInsertState.ImportCompleted
    except MilvusException:  # refused at once: no import task to list either
        failed = None

    b = wait_listed(mcdc, task, imp)
    assert b["collection"] == f"default.{name}" and b["rows"] == BULK_ROWS, b
    assert b["state"] in ("ImportPersisted", "ImportCompleted"), b
    time.sleep(12)  # one more read of the import tasks
    got = mcdc.get(task)["bulk_inserts_not_replicated"]
    assert [x["import_task"] for x in got] == [imp], got
    assert got[0]["state"] == "ImportCompleted"
    assert mcdc.metrics()[f'mcdc_bulk_inserts_not_replicated{{task_id="{task}"}}'] == 1

    # One WARN line for it in mcdc's log, naming collection, import task, state and rows.
    lines = [ln for ln in mcdc.log.read_text().splitlines() if f"import task {imp}," in ln]
    assert len(lines) == 1, lines
    assert "WARN" in lines[0] and f"collection default.{name}" in lines[0] and "not replicated" in lines[0], lines[0]
    assert re.search(rf"import task {imp}, Import(Persisted|Completed), {BULK_ROWS} rows", lines[0]), lines[0]
    assert f"import task {imp_other}" not in mcdc.log.read_text()
    if failed is not None:
        assert f"import task {failed}," not in mcdc.log.read_text()

    # Inserts after the import still replicate row by row; the imported rows come by the re-sync
    # the import starts by itself (snapshot.on_bulk_insert: resync, the default; test_snapshot.py
    # has the report variant).
    c.insert(rows(500, 100))
    bulk_pks = set(range(10_000, 10_000 + BULK_ROWS))
    def norm(rs):
        return {k: {f: normalize(v) for f, v in r.items()} for k, r in rs.items()}
    # The source serves imported segments only once they are indexed and handed to its query node.
    deadline = time.monotonic() + 180
    while True:
        s, t = norm(rows_of("src", "default", name, "pk")), norm(rows_of("tgt", "default", name, "pk"))
        if (t == s and len(s) == 200 + BULK_ROWS + 100) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(s) == 200 + BULK_ROWS + 100
    assert bulk_pks <= set(s)
    assert t == s, f"target {len(t)} rows, want {len(s)}"
    assert Collection(name, using="tgt").query("", output_fields=["count(*)"],
                                              consistency_level="Strong")[0]["count(*)"] == 200 + BULK_ROWS + 100
