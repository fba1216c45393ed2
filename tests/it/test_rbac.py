"""RBAC replicated by a task with extra_info.enable_user_role (docs/rbac.md), on the real stack.

The stack's Milvus run with authorization off (Milvus's default); RBAC calls are still stored and
answered then, but Milvus 2.3 takes the grantor of a grant from the call's credentials, so both the
test's connections and the task's target carry root's (accepted, not checked, with authorization off).

Shows: a role, a grant on a covered collection (on its mapped target name), a user with a password in
rbac.passwords_file and its binding reach the target; a user without a password is not created, is
reported in the log, and no password appears in the log; a grant on a collection the task does not cover
stays on the source; revoking, unbinding and dropping on the source does the same on the target."""
import os
import time
import uuid

import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, MilvusException, Role, connections, utility

from mcdcserver import McdcServer, wait_equal

ROOT_USER, ROOT_PASSWORD = "root", "Milvus"
SUFFIX = uuid.uuid4().hex[:8]
ROLE = f"rbac_role_{SUFFIX}"
USER = f"rbac_user_{SUFFIX}"
USER_PASSWORD = f"Pw-{uuid.uuid4().hex}"
NOPW_USER = f"rbac_nopw_{SUFFIX}"
NOPW_PASSWORD = f"Pw-{uuid.uuid4().hex}"


def connect_as_root(alias, uri):
    connections.disconnect(alias)
    connections.connect(alias, uri=uri, user=ROOT_USER, password=ROOT_PASSWORD)


@pytest.fixture(scope="module")
def mcdc(stack, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mcdc-rbac")
    passwords = workdir / "passwords"
    passwords.write_text(f"# users the target gets\n{USER}:{USER_PASSWORD}\n")
    os.chmod(passwords, 0o600)
    srv = McdcServer(stack, workdir)
    with open(srv.config, "a") as f:
        f.write(f"rbac: {{passwords_file: {passwords}}}\n")
    srv.start()
    connect_as_root("rsrc", stack["MCDC_SOURCE_URI"])
    connect_as_root("rtgt", stack["MCDC_TARGET_URI"])
    yield srv
    srv.stop()


def make_collection(name, alias="rsrc"):
    schema = CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                               FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)])
    c = Collection(name, schema, using=alias)
    c.create_index("vec", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    c.load()
    c.insert([[1, 2, 3], [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]])
    return c


def grants_of(role, alias):
    """{(object, object_name, db, privilege)} of a role, or None when the role does not exist."""
    r = Role(role, using=alias)
    if not r.is_exist():
        return None
    try:
        groups = r.list_grants(db_name="default").groups
    except MilvusException as e:
        # Dropped between the two calls: mcdc follows the source's drop while we look.
        if "not found the role" in str(e):
            return None
        raise
    return {(g.object, g.object_name, g.db_name, g.privilege) for g in groups}


def wait_for(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last is True:
            return
        time.sleep(1)
    raise AssertionError(f"{what} not seen on the target after {timeout}s; last: {last}")


def test_role_grant_user_and_binding_follow_the_source(mcdc, stack, fresh_name):
    name, other = fresh_name("rbac"), fresh_name("rbac_other")
    tname = name + "_t"
    task = mcdc.create_task(
        milvus_connect_param={"uri": stack["MCDC_TARGET_URI"], "token": f"{ROOT_USER}:{ROOT_PASSWORD}",
                              "connect_timeout": 10},
        collection_infos=[{"name": name}],
        name_mapping=[{"source_db": "default", "target_db": "default", "collection_mapping": {name: tname}}],
        extra_info={"enable_user_role": True})
    # Created after the task: a task starts at the end of each channel.
    src = make_collection(name)
    uncovered = make_collection(other)
    role = Role(ROLE, using="rsrc")
    try:
        wait_equal("rsrc", "rtgt", "default", name, "pk", tgt_name=tname)

        role.create()
        role.grant("Collection", name, "Insert")
        role.grant("Collection", other, "Query")
        utility.create_user(USER, USER_PASSWORD, using="rsrc")
        utility.create_user(NOPW_USER, NOPW_PASSWORD, using="rsrc")
        role.add_user(USER)
        role.add_user(NOPW_USER)

        wait_for("the role, its grant on the mapped name, the user and its binding", lambda: (
            grants_of(ROLE, "rtgt") is not None
            and ("Collection", tname, "default", "Insert") in grants_of(ROLE, "rtgt")
            and USER in utility.list_usernames(using="rtgt")
            and USER in Role(ROLE, using="rtgt").get_users()) or (grants_of(ROLE, "rtgt"),
                                                                    utility.list_usernames(using="rtgt")))
        tgt_grants = grants_of(ROLE, "rtgt")
        assert not any(g[1] in (other, name) for g in tgt_grants), tgt_grants  # only the mapped, covered one
        assert NOPW_USER not in utility.list_usernames(using="rtgt")
        assert NOPW_USER not in Role(ROLE, using="rtgt").get_users()
        log = mcdc.log.read_text(errors="replace")
        assert f"user '{NOPW_USER}' is not created" in log
        assert USER_PASSWORD not in log and NOPW_PASSWORD not in log
        assert mcdc.get(task)["state"] == "Running"

        role.revoke("Collection", name, "Insert")
        role.remove_user(USER)
        wait_for("the revoke and the unbinding", lambda: (
            ("Collection", tname, "default", "Insert") not in (grants_of(ROLE, "rtgt") or set())
            and USER not in Role(ROLE, using="rtgt").get_users()) or grants_of(ROLE, "rtgt"))
        # the user stays: mcdc never drops users
        assert USER in utility.list_usernames(using="rtgt")

        role.revoke("Collection", other, "Query")
        role.remove_user(NOPW_USER)
        role.drop()
        wait_for("the role dropped", lambda: grants_of(ROLE, "rtgt") is None or grants_of(ROLE, "rtgt"))
        assert mcdc.get(task)["state"] == "Running"
    finally:
        mcdc.post("delete", {"task_id": task})
        for alias in ("rsrc", "rtgt"):
            r = Role(ROLE, using=alias)
            if r.is_exist():
                for u in r.get_users():
                    r.remove_user(u)
                for g in r.list_grants(db_name="default").groups:
                    r.revoke(g.object, g.object_name, g.privilege, db_name=g.db_name)
                r.drop()
            for u in (USER, NOPW_USER):
                if u in utility.list_usernames(using=alias):
                    utility.delete_user(u, using=alias)
        src.drop()
        uncovered.drop()
        if utility.has_collection(tname, using="rtgt"):
            Collection(tname, using="rtgt").drop()
