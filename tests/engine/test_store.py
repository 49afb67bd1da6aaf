import multiprocessing as mp
import sqlite3
import time

import pytest

from engine.errors import UserError
from engine.store import SCHEMA_VERSION, Store

CONFIG = {"name": "r", "method": {"name": "protonet"}, "model": {"name": "m"}, "dataset": {"path": "d"},
          "task": {"mode": "episodic", "n_way": 5, "k_shot": 1}, "tags": ["x"]}


def test_schema_is_versioned_and_migrations_run_once(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with Store(path) as store:
        names = [r[0] for r in store.conn.execute("SELECT name FROM _migrations")]
        assert len(names) == len(set(names)) == SCHEMA_VERSION


def test_run_lifecycle(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        first = store.create_run(CONFIG)
        time.sleep(0.002)
        second = store.create_run(dict(CONFIG, name="second"))
        assert [r["id"] for r in store.list_runs()] == [second, first]  # newest first
        store.start_run(first, device="cpu", versions={"torch": "x"}, pid=1, host="h")
        store.add_metrics(first, [("train_loss", 1, 0.9, 0.1, 1.0), ("train_loss", 2, 0.5, 0.2, 2.0)])
        store.add_episodes(first, [{"episode": 0, "accuracy": 0.8, "key": "k0"}, {"episode": 1, "accuracy": 0.6, "key": "k1"}])
        store.finish_run(first, "finished", final_metrics={"test_accuracy": 0.7})
        run = store.get_run(first[:6])
        assert run["status"] == "finished" and run["final_metrics"] == {"test_accuracy": 0.7}
        assert run["config"]["name"] == "r" and run["tags"] == ["x"] and run["versions"] == {"torch": "x"}
        assert [m["value"] for m in store.metrics(first, "train_loss")] == [0.9, 0.5]
        assert [e["accuracy"] for e in store.episodes(first)] == [0.8, 0.6]
        assert store.list_runs(status="queued")[0]["id"] == second
        light = {r["id"]: r for r in store.list_runs(config=False)}
        assert "config" not in light[first] and light[first]["final_metrics"] == {"test_accuracy": 0.7}
        assert light[first]["tags"] == ["x"] and light[second]["name"] == "second"
        store.delete_run(first)
        assert store.metrics(first) == [] and store.episodes(first) == []
        with pytest.raises(UserError, match="no run with id"):
            store.get_run(first)


def test_followers_read_new_rows_only(tmp_path):
    """``metrics_since``/``logs_since``: what a re-attached GUI polls once a second."""
    with Store(tmp_path / "runs.db") as store:
        run = store.create_run(CONFIG)
        other = store.create_run(CONFIG)
        store.add_metrics(run, [("train_loss", 1, 0.9, 0.1, 1.0)])
        store.add_metrics(other, [("train_loss", 1, 0.1, 0.1, 1.0)])
        rows, last = store.metrics_since(run)
        assert [(r["step"], r["value"]) for r in rows] == [(1, 0.9)]
        assert store.metrics_since(run, last) == ([], last)
        store.add_metrics(run, [("train_loss", 2, 0.5, 0.2, 2.0), ("lr", 2, 1e-3, 0.2, 2.0)])
        rows, last2 = store.metrics_since(run, last)
        assert [(r["name"], r["step"]) for r in rows] == [("train_loss", 2), ("lr", 2)] and last2 > last
        store.add_logs(run, [(1.0, "info", "a"), (2.0, "info", "b")])
        logs, mark = store.logs_since(run)
        assert [r["message"] for r in logs] == ["a", "b"] and store.logs_since(run, mark) == ([], mark)


def test_stale_running_runs_become_interrupted(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        run_id = store.create_run(CONFIG)
        store.start_run(run_id, device="cpu", versions={}, pid=1, host="h")
        assert store.mark_stale_runs(stale_after=60) == []
        store.conn.execute("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", (run_id,))
        assert store.mark_stale_runs(stale_after=60) == [run_id]
        assert store.get_run(run_id)["status"] == "interrupted"


def test_queued_runs_of_a_dead_owner_become_interrupted(tmp_path):
    import os
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    with Store(tmp_path / "runs.db") as store:
        orphan = store.create_run(CONFIG, owner_pid=gone.pid)
        owned = store.create_run(CONFIG, owner_pid=os.getpid())
        unowned = store.create_run(CONFIG)  # queued by a script that starts it itself
        assert store.mark_stale_runs() == [orphan]
        run = store.get_run(orphan)
        assert run["status"] == "interrupted" and "closed before it started" in run["error"]
        assert store.get_run(owned)["status"] == store.get_run(unowned)["status"] == "queued"
        store.start_run(owned, device="cpu", versions={}, pid=os.getpid(), host=store.get_run(owned)["host"])
        assert store.get_run(owned)["status"] == "running" and store.mark_stale_runs() == []
        # a live engine on this host is never stale, however long its heartbeat is silent (a slow step)
        store.conn.execute("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", (owned,))
        assert store.mark_stale_runs() == [] and store.get_run(owned)["status"] == "running"


def test_sql_is_parameterised(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        evil = "x'); DROP TABLE runs; --"
        run_id = store.create_run(dict(CONFIG, name=evil))
        assert store.get_run(run_id)["name"] == evil
        with pytest.raises(UserError):
            store.get_run("%")  # LIKE wildcards in a prefix are literal


def _writer(path, run_id, worker, count):
    store = Store(path)
    for i in range(count):
        store.add_metrics(run_id, [(f"w{worker}", i, float(i), 0.0, 0.0)])
        if i % 10 == 0:
            store.heartbeat(run_id)
    store.close()


def test_two_writers_and_a_reader_lose_nothing(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as store:
        run_id = store.create_run(CONFIG)
    count = 300
    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(path, run_id, w, count)) for w in (1, 2)]
    for p in writers:
        p.start()
    reader = Store(path, readonly=True)
    reads = 0
    while any(p.is_alive() for p in writers):
        reader.metrics(run_id)  # never raises "database is locked"
        reads += 1
    for p in writers:
        p.join(30)
        assert p.exitcode == 0
    rows = reader.metrics(run_id)
    assert sum(r["name"] == "w1" for r in rows) == count
    assert sum(r["name"] == "w2" for r in rows) == count
    assert reads > 0
    reader.close()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_unreadable_database_is_a_user_error(tmp_path):
    path = tmp_path / "not-a-db.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UserError, match="not a MetaLab run database"):
        Store(path)


def _batch_writer(path, run_id, worker):
    store = Store(path)
    batch = 0
    while True:  # until killed
        store.add_metrics(run_id, [(f"w{worker}", batch * 10 + i, 0.0, 0.0, 0.0) for i in range(10)])
        batch += 1


def test_writers_killed_mid_write_leave_whole_batches_and_a_sound_file(tmp_path):
    import os
    import signal

    path = tmp_path / "runs.db"
    with Store(path) as store:
        run_id = store.create_run(CONFIG)
    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=_batch_writer, args=(path, run_id, w)) for w in range(3)]
    for p in writers:
        p.start()
    reader = Store(path, readonly=True)
    started, busy_since = time.time(), None
    while time.time() - started < 60 and (busy_since is None or time.time() - busy_since < 2):
        names = {r["name"] for r in reader.metrics(run_id)}  # a GUI polling never sees "database is locked"
        if busy_since is None and len(names) == 3:
            busy_since = time.time()  # every writer is writing: let them race for 2 s, then kill
    for p in writers:
        os.kill(p.pid, signal.SIGKILL)
        p.join()
    reader.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for worker in range(3):
        steps = [r[0] for r in conn.execute("SELECT step FROM metrics WHERE name = ? ORDER BY step", (f"w{worker}",))]
        assert len(steps) > 0 and len(steps) % 10 == 0  # no half-written batch
        assert steps == list(range(len(steps)))  # and no gap


def test_a_new_migration_backs_the_file_up_first(tmp_path, monkeypatch):
    from engine.store import _migrations

    path = tmp_path / "runs.db"
    with Store(path) as store:
        kept = store.create_run(CONFIG)

    def m999_add_column(db):
        db["runs"].add_column("extra", str)

    monkeypatch.setattr(_migrations, "MIGRATIONS", [*_migrations.MIGRATIONS, ("m999_add_column", m999_add_column)])
    with Store(path) as store:
        assert "extra" in store.db["runs"].columns_dict
        assert store.get_run(kept)["name"] == "r"
    backups = list(tmp_path.glob("runs.before-*.bak"))
    assert len(backups) == 1
    old = sqlite3.connect(backups[0])
    assert old.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert "extra" not in [r[1] for r in old.execute("PRAGMA table_info(runs)")]


def test_deleting_a_run_removes_its_artifacts_folder(tmp_path):
    from engine.paths import artifacts_dir

    with Store(tmp_path / "runs.db") as store:
        run_id = store.create_run(CONFIG)
        folder = artifacts_dir(store.path) / run_id / "weights"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"x")
        store.add_artifact(run_id, "weights", folder, step=1)
        store.delete_run(run_id)
        assert not (artifacts_dir(store.path) / run_id).exists()
        assert store.artifacts(run_id) == []
