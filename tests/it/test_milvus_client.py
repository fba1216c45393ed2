"""The Milvus target client (src/target/milvus_client over src/rpc), driven through tests/tools/milvus_tool
against the stack's real target Milvus, with every effect checked independently through pymilvus.

What is proved: databases, collections (schema as asked: autoID off, dynamic field on), partitions, aliases,
insert/upsert/delete with exact values afterwards, deletes of varchar keys that need escaping (and nothing
else deleted), key lists big enough to be split into several Delete calls, flush, index and load sent as
replayed requests, and errors classified the way callers branch on them: not_found, exists, and an
unreachable server as exit 2 naming its address.

Everything lives in one fresh database per module, removed at the end."""
import json
import subprocess
import time
import uuid

import pytest
from pymilvus import Collection, DataType, connections, db as mdb, utility

from stackenv import tool


@pytest.fixture(scope="module")
def target(stack):
    return "127.0.0.1", int(stack["MCDC_TARGET_PROXY_PORT"])


@pytest.fixture(scope="module")
def address(target):
    return f"{target[0]}:{target[1]}"


class Tool:
    def __init__(self, address):
        self.exe = str(tool("milvus_tool"))
        self.address = address

    def raw(self, *args, address=None):
        r = subprocess.run([self.exe, "--address", address or self.address, *map(str, args)],
                           capture_output=True, text=True, timeout=180)
        # Under MCDC_SANITIZE a report may come with any exit code; none is acceptable.
        assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
        return r

    def __call__(self, *args):
        r = self.raw(*args)
        assert r.returncode == 0, f"milvus_tool {args} -> {r.returncode}: {r.stderr}"
        return json.loads(r.stdout)

    def fails(self, *args, address=None, rc=1):
        r = self.raw(*args, address=address)
        assert r.returncode == rc, f"milvus_tool {args}: expected exit {rc}, got {r.returncode}: {r.stdout}{r.stderr}"
        assert r.stderr.startswith("error: "), r.stderr
        return r.stderr


@pytest.fixture(scope="module")
def mt(address):
    return Tool(address)


@pytest.fixture(scope="module")
def dbname(mt, target):
    """A fresh database for this module, created by the client under test, and a pymilvus connection to it."""
    name = f"mcdc_mc_{uuid.uuid4().hex[:10]}"
    assert mt("create-db", name) == {"created": True}
    alias = f"mc_{name}"
    connections.connect(alias=alias, host=target[0], port=target[1], db_name=name)
    yield name
    for c in utility.list_collections(using=alias):
        utility.drop_collection(c, using=alias)
    connections.disconnect(alias)
    mt("drop-db", name)


@pytest.fixture
def using(dbname):
    return f"mc_{dbname}"


def fresh(prefix="c"):
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def count(coll: Collection) -> int:
    return coll.query(expr="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]


def rows_by_pk(coll: Collection, expr: str):
    rows = coll.query(expr=expr, output_fields=["*"], consistency_level="Strong")
    return {r["pk"]: r for r in rows}


def wait_for(cond, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def ready(mt, dbname, name):
    """Index and load through the client's replay path, which is what the applier uses for them."""
    assert mt("replay-create-index", dbname, name, "vec") == {"index": True}
    assert mt("load", dbname, name) == {"loaded": True}


# ---- databases and collections ---------------------------------------------------------------------------


def test_version_and_databases(mt, target):
    v = mt("version")["version"]
    connections.connect(alias="mc_default", host=target[0], port=target[1])
    try:
        assert v == utility.get_server_version(using="mc_default")
        name = f"mcdc_mc_{uuid.uuid4().hex[:10]}"
        assert mt("create-db", name) == {"created": True}
        assert name in mt("list-dbs")
        assert name in mdb.list_database(using="mc_default")
        assert mt("drop-db", name) == {"dropped": True}
        assert name not in mdb.list_database(using="mc_default")
        assert "default" in mt("list-dbs")
    finally:
        connections.disconnect("mc_default")


def test_create_collection_schema(mt, dbname, using):
    name = fresh()
    assert mt("create-coll", dbname, name) == {"created": True}
    assert utility.has_collection(name, using=using)
    assert mt("has-coll", dbname, name) == {"has": True}
    assert mt("has-coll", dbname, fresh()) == {"has": False}
    schema = Collection(name, using=using).schema
    assert schema.enable_dynamic_field is True
    assert schema.auto_id is False
    fields = {f.name: f for f in schema.fields}
    assert set(fields) == {"pk", "vec", "s"}
    assert fields["pk"].dtype == DataType.INT64 and fields["pk"].is_primary and not fields["pk"].auto_id
    assert fields["vec"].dtype == DataType.FLOAT_VECTOR and fields["vec"].params["dim"] == 4
    assert fields["s"].dtype == DataType.VARCHAR and fields["s"].params["max_length"] == 256
    d = mt("describe", dbname, name)
    assert d["collection_name"] == name and d["db_name"] == dbname
    assert d["enable_dynamic_field"] is True
    assert [(f["name"], f["type_name"], f["auto_id"]) for f in d["fields"]] == [
        ("pk", "Int64", False), ("vec", "FloatVector", False), ("s", "VarChar", False)]
    assert d["fields"][1]["type_params"] == {"dim": "4"}


# ---- data --------------------------------------------------------------------------------------------------


def test_insert_upsert_delete(mt, dbname, using):
    name = fresh()
    mt("create-coll", dbname, name)
    assert mt("insert", dbname, name, 500) == {"inserted": 500}
    ready(mt, dbname, name)
    coll = Collection(name, using=using)
    assert count(coll) == 500
    got = rows_by_pk(coll, "pk in [0, 7, 499]")
    for i in (0, 7, 499):
        assert got[i]["s"] == f"s{i}"
        assert got[i]["vec"] == [float(i)] * 4
        assert got[i]["k"] == i
        assert "u" not in got[i]

    # Keys 100..149 exist: upsert replaces their values and adds no rows.
    assert mt("upsert", dbname, name, 50, 100) == {"upserted": 50}
    assert count(coll) == 500
    got = rows_by_pk(coll, "pk in [99, 100, 149, 150]")
    for i in (100, 149):
        assert got[i]["s"] == f"u{i}" and got[i]["vec"] == [i + 0.5] * 4 and got[i]["k"] == i and got[i]["u"] == 1
    for i in (99, 150):
        assert got[i]["s"] == f"s{i}" and "u" not in got[i]

    gone = [3, 5, 100, 499]
    assert mt("delete", dbname, name, *gone) == {"deleted": 4}
    assert count(coll) == 496
    assert rows_by_pk(coll, f"pk in {gone}") == {}
    assert sorted(rows_by_pk(coll, "pk in [2, 4, 6, 101, 498]")) == [2, 4, 6, 101, 498]
    # The client's own query sees the same thing.
    rows = mt("query", dbname, name, "pk in [2, 3, 101]", "pk", "s")
    assert sorted((r["pk"], r["s"]) for r in rows) == [(2, "s2"), (101, "u101")]
    assert mt("query", dbname, name, "", "count(*)") == [{"count(*)": 496}]


NASTY = ['a"b', "c\\d", "é", "x'y"]
# Near misses of the nasty keys: a wrong escape would delete (or fail to spare) these.
SURVIVORS = ["plain", "c\\\\d", 'a\\"b', "e\u0301", "x''y", "tab\there", "nl\nx"]


def test_delete_varchar_keys_needing_escapes(mt, dbname, using):
    name = fresh()
    assert mt("create-coll-str", dbname, name) == {"created": True}
    keys = NASTY + SURVIVORS
    assert mt("insert-str", dbname, name, *keys) == {"inserted": len(keys)}
    ready(mt, dbname, name)
    coll = Collection(name, using=using)
    assert coll.schema.primary_field.dtype == DataType.VARCHAR
    assert set(rows_by_pk(coll, 'pk != ""')) == set(keys)
    assert mt("delete-str", dbname, name, *NASTY) == {"deleted": len(NASTY)}
    assert set(rows_by_pk(coll, 'pk != ""')) == set(SURVIVORS)
    # Control characters go out as \xHH escapes.
    assert mt("delete-str", dbname, name, "tab\there", "nl\nx") == {"deleted": 2}
    assert set(rows_by_pk(coll, 'pk != ""')) == set(SURVIVORS) - {"tab\there", "nl\nx"}


def big_key(i: int, length: int = 250) -> str:
    """The keys delete-str-many generates: the index, a quote (escaped on the wire), padding."""
    k = f'{i}"'
    return k + "x" * (length - len(k))


def test_delete_of_more_than_64mib_of_keys(mt, dbname, using):
    """280k varchar keys of 250 bytes are a ~71 MB expression, above the proxy's 64 MiB message limit: this
    only works because the client sends it as many Delete calls of at most 1 MiB each."""
    name = fresh()
    mt("create-coll-str", dbname, name)
    n = 280_000
    doomed = [big_key(0), big_key(12345), big_key(n - 1)]
    spared = [big_key(n), big_key(7, 249), "plain"]
    mt("insert-str", dbname, name, *(doomed + spared))
    ready(mt, dbname, name)
    assert mt("delete-str-many", dbname, name, n, 250) == {"deleted": n}
    coll = Collection(name, using=using)
    assert set(rows_by_pk(coll, 'pk != ""')) == set(spared)


def test_delete_of_many_int_keys(mt, dbname, using):
    """200k int keys (several chunks): keys at both ends of the list are deleted, the rest untouched."""
    name = fresh()
    mt("create-coll", dbname, name)
    mt("insert", dbname, name, 20)
    ready(mt, dbname, name)
    assert mt("delete-range", dbname, name, 10**15, 200_000) == {"deleted": 200_000}
    coll = Collection(name, using=using)
    assert count(coll) == 20
    # Ranges that cover real keys at the start and the far end of the list.
    assert mt("delete-range", dbname, name, -199_990, 200_000) == {"deleted": 200_000}
    assert sorted(rows_by_pk(coll, "pk >= 0")) == list(range(10, 20))


def test_partitions_and_flush(mt, dbname, using):
    name = fresh()
    mt("create-coll", dbname, name)
    assert mt("create-part", dbname, name, "p1") == {"created": True}
    coll = Collection(name, using=using)
    assert coll.has_partition("p1")
    assert mt("has-part", dbname, name, "p1") == {"has": True}
    assert mt("insert", dbname, name, 30, "--part", "p1") == {"inserted": 30}
    assert mt("insert", dbname, name, 5) == {"inserted": 5}
    assert mt("flush", dbname, name) == {"flushed": True}
    # num_entities counts flushed segments only, and Flush just starts the flush: without our Flush
    # the rows would stay in growing segments and this would not reach 35.
    wait_for(lambda: coll.num_entities == 35, "35 flushed rows")
    assert coll.partition("p1").num_entities == 30
    assert mt("drop-part", dbname, name, "p1") == {"dropped": True}
    assert not coll.has_partition("p1")
    assert mt("has-part", dbname, name, "p1") == {"has": False}
    # Dropping what is gone is not an error (replay may repeat it).
    assert mt("drop-part", dbname, name, "p1") == {"dropped": True}


def test_index_and_load_by_replay(mt, dbname, using):
    name = fresh()
    mt("create-coll", dbname, name)
    mt("insert", dbname, name, 20)
    assert mt("replay-create-index", dbname, name, "vec") == {"index": True}
    coll = Collection(name, using=using)
    idx = coll.index()
    assert idx.field_name == "vec"
    assert idx.params["index_type"] == "FLAT" and idx.params["metric_type"] == "L2"
    # The same request again (a replay) is accepted.
    assert mt("replay-create-index", dbname, name, "vec") == {"index": True}
    assert mt("load", dbname, name) == {"loaded": True}
    assert str(utility.load_state(name, using=using)) == "Loaded"
    rows = mt("query", dbname, name, "pk in [1, 2]")
    assert sorted(rows, key=lambda r: r["pk"]) == [
        {"pk": 1, "s": "s1", "vec": [1.0] * 4, "k": 1},
        {"pk": 2, "s": "s2", "vec": [2.0] * 4, "k": 2},
    ]
    res = coll.search([[2.0] * 4], "vec", {"metric_type": "L2"}, limit=1, output_fields=["pk"],
                      consistency_level="Strong")
    assert res[0][0].id == 2
    assert mt("release", dbname, name) == {"released": True}
    assert str(utility.load_state(name, using=using)) == "NotLoad"


def test_aliases(mt, dbname, using):
    a, b, al = fresh(), fresh(), fresh("al")
    mt("create-coll", dbname, a)
    mt("create-coll", dbname, b)
    assert mt("create-alias", dbname, a, al) == {"created": True}
    assert al in utility.list_aliases(a, using=using)
    err = mt.fails("create-alias", dbname, b, al)
    assert err.startswith("error: exists: "), err
    assert mt("alter-alias", dbname, b, al) == {"altered": True}
    assert al in utility.list_aliases(b, using=using)
    assert mt("drop-alias", dbname, al) == {"dropped": True}
    assert al not in utility.list_aliases(b, using=using)


def test_drop_collection(mt, dbname, using):
    name = fresh()
    mt("create-coll", dbname, name)
    assert mt("drop-coll", dbname, name) == {"dropped": True}
    assert not utility.has_collection(name, using=using)
    assert mt("drop-coll", dbname, name) == {"dropped": True}


# ---- errors ------------------------------------------------------------------------------------------------


def test_missing_collection_is_not_found(mt, dbname, address):
    name = fresh("missing")
    err = mt.fails("insert", dbname, name, 3)
    assert err.startswith(f"error: not_found: target {address} Insert({dbname}.{name}): "), err
    assert "(code 100)" in err
    err = mt.fails("insert", f"nodb_{uuid.uuid4().hex[:8]}", name, 3)
    assert err.startswith("error: not_found: "), err


def test_missing_partition_is_not_found(mt, dbname):
    name = fresh()
    mt("create-coll", dbname, name)
    err = mt.fails("insert", dbname, name, 3, "--part", "nope")
    assert err.startswith("error: not_found: ") and "(code 200)" in err, err


def test_create_twice_is_exists(mt, dbname):
    name = fresh()
    mt("create-coll", dbname, name)
    # 2.3 accepts the identical schema again (idempotent, good for replay)...
    assert mt("create-coll", dbname, name) == {"created": True}
    # ...and refuses another schema under the same name.
    err = mt.fails("create-coll-str", dbname, name)
    assert err.startswith("error: exists: ") and f"CreateCollection({dbname}.{name})" in err, err
    err = mt.fails("create-db", dbname)
    assert err.startswith("error: exists: ") and f"CreateDatabase({dbname})" in err, err


def test_refused_request_is_remote(mt, dbname):
    name = fresh()
    mt("create-coll", dbname, name)
    # Querying an unloaded collection: the server says no, retrying will not help.
    err = mt.fails("query", dbname, name, "pk >= 0")
    assert err.startswith("error: remote: ") and "(code 101)" in err, err
    # A database with a collection in it cannot be dropped.
    err = mt.fails("drop-db", dbname)
    assert err.startswith("error: remote: "), err


def test_unreachable_target(mt):
    err = mt.fails("version", address="127.0.0.1:1", rc=2)
    assert err.startswith("error: unavailable: target 127.0.0.1:1 GetVersion: "), err
