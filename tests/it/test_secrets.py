"""A task's target password named by reference (password_file under the config's secrets_dir,
password_env for an MCDC_SECRET_* variable): accepted, replicating, and the secret's bytes never in
the store file, its WAL, a reply or the log; references that would let an API client make mcdc read
another file or variable are refused with 400 and the reason; a file opened to others is refused at
create, and at a later start keeps the task Running and retrying with the reason shown until it is
fixed.

The stack's target Milvus runs without authentication, so it ignores the password: these tests show
what mcdc reads, keeps and refuses, not that the target checks the password."""
import time

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections

from mcdcserver import McdcServer, connect, wait_equal

SECRET = "zz9-plural-z-alpha-4711"
INDEX = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


def make_secrets(tmp_path):
    d = tmp_path / "secrets"
    d.mkdir(mode=0o700)
    pw = d / "target-pw"
    pw.write_text(SECRET + "\n")
    pw.chmod(0o600)
    return d, pw


def connect_param(stack, **refs):
    return {"uri": stack["MCDC_TARGET_URI"], "connect_timeout": 10, "username": "root", **refs}


def files_hold(workdir, needle):
    """The store's files (and anything else mcdc wrote there) that hold needle."""
    return [p.name for p in workdir.iterdir() if p.is_file() and needle.encode() in p.read_bytes()]


def wait_task(srv, tid, check, timeout=60):
    deadline = time.monotonic() + timeout
    task = None
    while time.monotonic() < deadline:
        task = srv.get(tid)
        if check(task):
            return task
        time.sleep(0.5)
    raise AssertionError(f"task {tid} not as wanted after {timeout}s: {task}")


def test_password_file_replicates_and_is_never_kept(stack, tmp_path, fresh_name):
    work = tmp_path / "mcdc"
    work.mkdir()
    sdir, _ = make_secrets(tmp_path)
    srv = McdcServer(stack, work, secrets_dir=sdir)
    srv.start()
    try:
        for alias in ("src", "tgt"):
            connections.disconnect(alias)
        connect("src", srv.source_uri)
        connect("tgt", stack["MCDC_TARGET_URI"])
        name = fresh_name("sec")
        tid = srv.create_task(collection_infos=[{"name": name}],
                              milvus_connect_param=connect_param(stack, password_file="target-pw"))
        c = Collection(name, CollectionSchema([FieldSchema("pk", DataType.INT64, is_primary=True),
                                                FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4)]), using="src")
        c.create_index("vec", INDEX)
        c.load()
        c.insert([{"pk": i, "vec": [i % 5 / 5, 0.1, 0.2, 0.3]} for i in range(200)])
        wait_equal("src", "tgt", "default", name, "pk")

        # get and list show the reference, never the secret.
        task = srv.get(tid)
        conn = task["milvus_connect_param"]
        assert conn["password_file"] == "target-pw" and "password" not in conn, conn
        status, reply = srv.post("list")
        assert status == 200
        assert SECRET not in str(task) and SECRET not in str(reply)
        # Neither the store (nor its -wal/-shm) nor the log holds the secret's bytes.
        srv.stop()
        assert files_hold(work, SECRET) == [], files_hold(work, SECRET)
        # ... but it holds the reference.
        assert any(b"target-pw" in p.read_bytes() for p in work.glob("mcdc.db*"))
    finally:
        srv.stop()


def test_references_that_would_leak_are_refused(stack, tmp_path, fresh_name):
    work = tmp_path / "mcdc"
    work.mkdir()
    sdir, pw = make_secrets(tmp_path)
    outside = tmp_path / "outside-pw"
    outside.write_text("not-for-you\n")
    outside.chmod(0o600)
    (sdir / "link-out").symlink_to(outside)
    srv = McdcServer(stack, work, secrets_dir=sdir)
    srv.start()
    try:
        def create(**refs):
            return srv.post("create", {"collection_infos": [{"name": fresh_name("sec")}],
                                       "milvus_connect_param": connect_param(stack, **refs)})

        cases = [
            ({"password_file": "../outside-pw"}, "milvus_connect_param.password_file: want a file name relative"),
            ({"password_file": str(outside)}, "no absolute path"),
            ({"password_file": "link-out"}, "resolves outside the secrets directory"),
            ({"password_file": "missing"}, "No such file or directory"),
            ({"password_env": "HOME"}, "milvus_connect_param.password_env: want a variable named MCDC_SECRET_*"),
            ({"password_env": "MCDC_SECRET_NOT_SET_IT"}, "MCDC_SECRET_NOT_SET_IT: not set in mcdc's environment"),
            ({"password": "p", "password_file": "target-pw"},
             "give one of password, password_file and password_env, not password and password_file"),
        ]
        for refs, want in cases:
            status, reply = create(**refs)
            assert status == 400 and want in reply["message"], (refs, status, reply)
            assert "not-for-you" not in reply["message"] and SECRET not in reply["message"]

        pw.chmod(0o644)
        status, reply = create(password_file="target-pw")
        assert status == 400 and "open to group or others (mode 0644)" in reply["message"], reply
        assert "chmod 600" in reply["message"] and SECRET not in reply["message"]
        status, reply = srv.post("list")
        assert status == 200 and reply["data"]["tasks"] == [], reply
    finally:
        srv.stop()
    assert "not-for-you" not in srv.log.read_text() and SECRET not in srv.log.read_text()


def test_no_secrets_dir_refuses_every_file(stack, tmp_path, fresh_name):
    work = tmp_path / "mcdc"
    work.mkdir()
    make_secrets(tmp_path)
    srv = McdcServer(stack, work)
    srv.start()
    try:
        status, reply = srv.post("create", {"collection_infos": [{"name": fresh_name("sec")}],
                                            "milvus_connect_param": connect_param(stack, password_file="target-pw")})
        assert status == 400 and "the config sets no secrets_dir" in reply["message"], reply
    finally:
        srv.stop()


def test_env_reference_and_a_broken_file_at_start(stack, tmp_path, fresh_name, monkeypatch):
    """password_env is read from mcdc's environment; a password file that goes bad while the task
    is paused does not pause it again on resume: Running, retrying with the file named in
    last_error, and clean again once the file is fixed."""
    work = tmp_path / "mcdc"
    work.mkdir()
    sdir, pw = make_secrets(tmp_path)
    monkeypatch.setenv("MCDC_SECRET_TARGET_PW", SECRET)
    srv = McdcServer(stack, work, secrets_dir=sdir)
    srv.start()
    try:
        connect("src", srv.source_uri)
        connect("tgt", stack["MCDC_TARGET_URI"])
        tid_env = srv.create_task(collection_infos=[{"name": fresh_name("sec")}],
                                  milvus_connect_param=connect_param(stack, password_env="MCDC_SECRET_TARGET_PW"))
        assert srv.get(tid_env)["milvus_connect_param"]["password_env"] == "MCDC_SECRET_TARGET_PW"

        tid = srv.create_task(collection_infos=[{"name": fresh_name("sec")}],
                              milvus_connect_param=connect_param(stack, password_file="target-pw"))
        wait_task(srv, tid, lambda t: t["state"] == "Running" and t["channels_read"] > 0)
        status, reply = srv.post("pause", {"task_id": tid})
        assert status == 200, reply
        pw.chmod(0o644)
        status, reply = srv.post("resume", {"task_id": tid})
        assert status == 200, reply
        task = wait_task(srv, tid, lambda t: "target-pw" in t["last_error"])
        assert task["state"] == "Running", task
        assert "open to group or others" in task["last_error"] and SECRET not in task["last_error"], task
        pw.chmod(0o600)
        pw.write_text(SECRET + "-rotated\n")
        wait_task(srv, tid, lambda t: t["state"] == "Running" and t["last_error"] == "", timeout=90)
    finally:
        srv.stop()
    log = srv.log.read_text()
    assert SECRET not in log, "the secret is in the log"
    assert not files_hold(work, SECRET)
