"""Never double, at the API: a second task on a collection another task already covers into the same
target is refused (409, naming the first task), also when it spells the target differently, also while
the first is paused, and of two such creates sent at once exactly one passes; the target collection then
holds exactly the source's rows, row by row and by count(*). A request whose name mapping sends two
source collections to one target collection is refused (400, naming both) and creates nothing.
The queue does not matter here: Kafka only."""
import threading
import time

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility

from mcdcserver import McdcServer, connect, count_rows, diff_collections, wait_equal

INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


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


def make_collection(name, using="src"):
    schema = CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                               FieldSchema("v", DataType.VARCHAR, max_length=32),
                               FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4)])
    c = Collection(name, schema, using=using, shards_num=2)
    c.create_index("vec", INDEX)
    c.load()
    return c


def rows(lo, hi, tag=""):
    return [list(range(lo, hi)), [f"r{i}{tag}" for i in range(lo, hi)], [[i % 7, i % 5, 1, 0] for i in range(lo, hi)]]


def task_ids(mcdc):
    status, reply = mcdc.post("list")
    assert status == 200, reply
    return [t["task_id"] for t in reply["data"]["tasks"]]


def other_spelling(uri):
    """The same target written another way: no scheme, upper-case host (mcdc normalises both)."""
    rest = uri.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    return f"{host.upper()}:{port}"


def test_second_task_on_a_covered_collection_is_refused(mcdc, stack, fresh_name):
    name = fresh_name("twice")
    c = make_collection(name)
    c.insert(rows(0, 1000))
    c.flush()
    first = "first_" + fresh_name("t")[-8:]
    mcdc.create_task(task_id=first, collection_infos=[{"name": name, "use_start_position": True}])
    wait_equal("src", "tgt", "default", name, "pk")
    before = task_ids(mcdc)

    target = stack["MCDC_TARGET_URI"]
    for spec in ({"collection_infos": [{"name": name}]},                      # the same collection
                 {"collection_infos": [{"name": "*"}]},                       # every collection of default
                 {"db_collections": {"*": [{"name": name}]}},                 # the name in every database
                 {"collection_infos": [{"name": name}],                       # under another name there
                  "name_mapping": [{"source_db": "default", "target_db": "default",
                                    "collection_mapping": {name: name + "_copy"}}]}):
        for uri in (target, other_spelling(target)):
            status, reply = mcdc.post("create", dict(spec, milvus_connect_param={"uri": uri}))
            assert status == 409 and reply["code"] == 409, (spec, uri, status, reply)
            assert f"task '{first}'" in reply["message"] and "database" in reply["message"], reply
    # A name the first task covers on the target, written from another source collection, is refused too.
    other = fresh_name("other")
    make_collection(other)
    status, reply = mcdc.post("create", {"collection_infos": [{"name": other}],
                                         "name_mapping": [{"source_db": "default", "target_db": "default",
                                                           "collection_mapping": {other: name}}],
                                         "milvus_connect_param": {"uri": target}})
    assert status == 409 and f"task '{first}'" in reply["message"] and f"'{name}'" in reply["message"], reply

    # Paused tasks count: they resume.
    assert mcdc.post("pause", {"task_id": first})[0] == 200
    status, reply = mcdc.post("create", {"collection_infos": [{"name": name}], "milvus_connect_param": {"uri": target}})
    assert status == 409 and f"task '{first}'" in reply["message"], reply
    assert task_ids(mcdc) == before
    assert mcdc.post("resume", {"task_id": first})[0] == 200

    # Writes after the refusals reach the target once.
    c.insert(rows(1000, 2000))
    c.upsert(rows(0, 50, "-up"))
    c.delete("pk in [1500, 1501, 1502]")
    c.flush()
    wait_equal("src", "tgt", "default", name, "pk")
    time.sleep(5)  # a second writer, had one been let in, would add its copies by now
    assert diff_collections("src", "tgt", "default", name, "pk") is None
    assert count_rows("tgt", name) == count_rows("src", name) == 1997
    assert not utility.has_collection(name + "_copy", using="tgt")


def test_two_creates_at_once_one_passes(mcdc, stack, fresh_name):
    """The check runs under the lock that makes create atomic: of two creates of one collection sent at
    the same time (different task ids), one is 200 and the other 409 naming it."""
    name = fresh_name("race")
    make_collection(name)
    results = {}

    def create(tid):
        results[tid] = mcdc.post("create", {"task_id": tid, "collection_infos": [{"name": name}],
                                            "milvus_connect_param": {"uri": stack["MCDC_TARGET_URI"]}})
    ids = ["race_a_" + fresh_name("t")[-6:], "race_b_" + fresh_name("t")[-6:]]
    threads = [threading.Thread(target=create, args=(tid,)) for tid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(results[tid][0] for tid in ids)
    assert statuses == [200, 409], results
    won = next(tid for tid in ids if results[tid][0] == 200)
    lost = next(tid for tid in ids if results[tid][0] == 409)
    assert f"task '{won}'" in results[lost][1]["message"], results
    listed = task_ids(mcdc)
    assert won in listed and lost not in listed


@pytest.mark.parametrize("case", ["renamed_onto_a_kept_name", "two_databases_onto_one"])
def test_two_sources_onto_one_target_is_refused(mcdc, stack, fresh_name, case):
    a, c = fresh_name("a"), fresh_name("c")
    if case == "renamed_onto_a_kept_name":
        spec = {"collection_infos": [{"name": a}, {"name": c}],
                "name_mapping": [{"source_db": "default", "target_db": "default", "collection_mapping": {a: c}}]}
        want = [f"'{a}'", f"'{c}'"]
    else:
        d1, d2, t = fresh_name("d1"), fresh_name("d2"), fresh_name("t")
        spec = {"db_collections": {d1: [{"name": "*"}], d2: [{"name": "*"}]},
                "name_mapping": [{"source_db": d1, "target_db": t}, {"source_db": d2, "target_db": t}]}
        want = [f"'{d1}'", f"'{d2}'", f"'{t}'"]
    before = task_ids(mcdc)
    status, reply = mcdc.post("create", dict(spec, milvus_connect_param={"uri": stack["MCDC_TARGET_URI"]}))
    assert status == 400 and reply["code"] == 400, (status, reply)
    msg = reply["message"]
    assert msg.startswith("name_mapping: ") and all(w in msg for w in want), msg
    assert task_ids(mcdc) == before
    assert not utility.has_collection(c, using="tgt") and not utility.has_collection(a, using="tgt")


def wait_applied(mcdc, task, want, timeout=120):
    """The task's applied counters once they reach `want` (a dict of at least these values; "rows":
    inserted and upserted rows together)."""
    deadline = time.monotonic() + timeout
    while True:
        info = mcdc.get(task)
        ap = dict(info["applied"], rows=info["applied"]["inserted_rows"] + info["applied"]["upserted_rows"])
        if all(ap[k] >= v for k, v in want.items()):
            return info
        assert time.monotonic() < deadline, (want, info)
        time.sleep(0.2)


def test_replay_window_into_an_empty_target_goes_as_inserts(mcdc, fresh_name):
    """A task that starts in its channels' past replays up to their end as upserts, since the target
    may hold those rows: re-created over a target collection that holds them, it doubles nothing. At
    the first start of a task, though, a target collection that holds no row (here: is not there yet)
    cannot double one, so its inserts go as plain inserts, which the target takes faster. The source's
    own upserts stay upserts. Either way the target ends equal to the source, row by row and by
    count(*)."""
    name = fresh_name("emptytgt")
    c = make_collection(name)
    c.insert(rows(0, 1000))
    c.upsert(rows(10, 13, "-up"))
    c.delete("pk in [20, 21]")
    c.flush()
    first = mcdc.create_task(collection_infos=[{"name": name, "use_start_position": True}])
    info = wait_applied(mcdc, first, {"inserted_rows": 1000, "upserted_rows": 3, "deleted_rows": 2})
    assert (info["applied"]["inserted_rows"], info["applied"]["upserted_rows"]) == (1000, 3), info
    wait_equal("src", "tgt", "default", name, "pk", counts=True)
    assert count_rows("tgt", name) == 998
    assert f"the target of default.{name} holds no rows" in mcdc.log.read_text(errors="replace")

    # The same backlog again, into a target that now holds it: upserts, and nothing doubled.
    assert mcdc.post("delete", {"task_id": first})[0] == 200
    second = mcdc.create_task(collection_infos=[{"name": name, "use_start_position": True}])
    c.insert(rows(1000, 1100))
    info = wait_applied(mcdc, second, {"inserted_rows": 100, "upserted_rows": 1003, "deleted_rows": 2})
    assert (info["applied"]["inserted_rows"], info["applied"]["upserted_rows"]) == (100, 1003), info
    wait_equal("src", "tgt", "default", name, "pk", counts=True)
    assert count_rows("tgt", name) == 1098
    assert mcdc.post("delete", {"task_id": second})[0] == 200
    c.drop()
    utility.drop_collection(name, using="tgt")


def test_first_start_looks_at_each_target_of_a_task(mcdc, fresh_name):
    """At a task's first start the target of every collection it covers is looked at before any
    worker runs. One that holds the rows already (put there by hand, as from a backup) and one whose
    rows lie in a partition that is not loaded (a count cannot see them) get the replay window as
    upserts; one that is there, loaded and empty, and one that is not there yet get plain inserts.
    Every collection ends equal to its source, row by row and by count(*)."""
    held, partly, empty, absent = (fresh_name(k) for k in ("held", "partly", "emptyld", "absent"))
    sizes = {held: 300, partly: 200, empty: 500, absent: 700}
    task = None
    try:
        for name, n in sizes.items():
            c = make_collection(name)
            if name == partly:
                c.create_partition("p1")
            c.insert(rows(0, n), partition_name="p1" if name == partly else None)
            c.flush()
        make_collection(held, using="tgt").insert(rows(0, sizes[held]))
        make_collection(empty, using="tgt")
        t = make_collection(partly, using="tgt")
        t.create_partition("p1")
        t.release()
        t.load(partition_names=["_default"])
        t.insert(rows(0, sizes[partly]), partition_name="p1")
        task = mcdc.create_task(collection_infos=[{"name": n, "use_start_position": True} for n in sizes])
        info = wait_applied(mcdc, task, {"rows": sum(sizes.values())})
        # 1 200 plain inserts, 500 upserts; a call retried after a transient error goes as upserts.
        ap = info["applied"]
        assert ap["inserted_rows"] + ap["upserted_rows"] == 1700 and ap["upserted_rows"] >= 500, info
        t.load(partition_names=["_default", "p1"])
        for name, n in sizes.items():
            wait_equal("src", "tgt", "default", name, "pk", counts=True)
            assert count_rows("tgt", name) == n
        log = mcdc.log.read_text(errors="replace")
        assert f"the target of default.{empty} holds no rows" in log
        # Told at once, by its Flush listing no segment, not by the count that waits.
        assert f"target: default.{empty} has no segment: never written to" in log
        assert f"the target of default.{absent} holds no rows" in log
        assert f"the target of default.{held} holds no rows" not in log
        assert f"not every partition of default.{partly} is loaded" in log
    finally:
        if task:
            assert mcdc.post("delete", {"task_id": task})[0] == 200
        for name in sizes:
            for alias in ("src", "tgt"):
                if utility.has_collection(name, using=alias):
                    utility.drop_collection(name, using=alias)


def test_rows_written_just_before_the_first_start_are_held(mcdc, fresh_name):
    """Rows the target acknowledged a moment before a task's first start are not visible to a count
    yet (the target shows a write once its query node has taken in the next time tick, ~250 ms), but
    they are held: the target collection is not called empty, and the replay window goes as upserts.
    A listing that trusted a count that does not wait would call it empty and double every row (it
    does so whenever that count runs before the rows are visible: here ~0.1 s after the write, so
    nearly always). Several rounds, each with a fresh pair of collections, so that the write lands at
    different moments of the target's tick."""
    for round_ in range(3):
        name = fresh_name(f"justwritten{round_}")
        task = None
        try:
            make_collection(name).insert(rows(0, 400))
            twin = make_collection(name, using="tgt")
            twin.insert(rows(0, 400))
            task = mcdc.create_task(collection_infos=[{"name": name, "use_start_position": True}])
            info = wait_applied(mcdc, task, {"rows": 400})
            assert info["applied"]["inserted_rows"] == 0, info
            wait_equal("src", "tgt", "default", name, "pk", counts=True)
            assert count_rows("tgt", name) == 400
            assert f"the target of default.{name} holds no rows" not in mcdc.log.read_text(errors="replace")
        finally:
            if task:
                assert mcdc.post("delete", {"task_id": task})[0] == 200
            for alias in ("src", "tgt"):
                if utility.has_collection(name, using=alias):
                    utility.drop_collection(name, using=alias)
