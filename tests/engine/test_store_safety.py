"""Issue #17, cases 1, 2, 6, 7: ids, artifacts and database files the store must not mistake."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from engine.errors import UserError
from engine.paths import artifacts_dir
from engine.store import SCHEMA_VERSION, Store
from engine.store._identity import APPLICATION_ID

CONFIG = {"name": "r", "method": {"name": "protonet"}, "model": {"name": "m"}, "dataset": {"path": "d"},
          "task": {"mode": "episodic", "n_way": 5, "k_shot": 1}}


def _run_with_weights(store: Store) -> str:
    run_id = store.create_run(CONFIG)
    folder = store.claim_artifacts(run_id) / "weights"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"x")
    store.add_artifact(run_id, "weights", folder, step=1)
    return run_id


@pytest.mark.parametrize("bad", ["", "a", "ab", "abc", "%", "_", "%%%%", "____"])
def test_a_short_or_wildcard_id_matches_nothing(tmp_path, bad):
    with Store(tmp_path / "runs.db") as store:
        run_id = store.create_run(CONFIG)
        with pytest.raises(UserError):
            store.resolve_id(bad)
        with pytest.raises(UserError):
            store.delete_run(bad)
        assert store.get_run(run_id)["id"] == run_id  # still there
        assert store.resolve_id(run_id[:4]) == run_id


def test_a_prefix_must_match_exactly_one_run(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        a = store.create_run(CONFIG, run_id="abcd00000001")
        store.create_run(CONFIG, run_id="abcd00000002")
        with pytest.raises(UserError, match="ambiguous"):
            store.delete_run("abcd")
        assert store.resolve_id("abcd00000001") == a
        assert len(store.list_runs()) == 2


def test_artifact_paths_are_relative_to_the_database(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        run_id = _run_with_weights(store)
        stored = store.conn.execute("SELECT path FROM artifacts WHERE run_id = ?", (run_id,)).fetchone()[0]
        assert stored == f"artifacts/{run_id}/weights"
        assert store.artifacts(run_id)[0]["path"] == str(tmp_path.resolve() / "artifacts" / run_id / "weights")
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(tmp_path / "runs.db", moved / "runs.db")
    shutil.move(tmp_path / "artifacts", moved / "artifacts")
    with Store(moved / "runs.db") as store:
        assert store.artifacts(run_id)[0]["path"] == str(moved.resolve() / "artifacts" / run_id / "weights")


def test_deleting_in_a_copy_of_the_database_keeps_the_originals_files(tmp_path):
    original = tmp_path / "metalab.db"
    with Store(original) as store:
        run_id = _run_with_weights(store)
        store.backup(tmp_path / "copy.db")  # a copy in the same folder shares artifacts/
    with Store(tmp_path / "copy.db") as copy:
        result = copy.delete_run(run_id)
        assert "belongs to metalab.db" in result["kept"]
    assert (artifacts_dir(original) / run_id / "weights" / "model.safetensors").exists()
    with Store(original) as store:
        assert store.delete_run(run_id)["kept"] is None
    assert not (artifacts_dir(original) / run_id).exists()


def test_a_run_folder_that_escapes_the_artifacts_folder_is_never_deleted(tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    with Store(tmp_path / "db" / "runs.db") as store:
        run_id = store.create_run(CONFIG)
        artifacts_dir(store.path).mkdir(parents=True)
        (artifacts_dir(store.path) / run_id).symlink_to(outside, target_is_directory=True)
        assert "outside" in store.delete_run(run_id)["kept"]
    assert (outside / "keep.txt").exists()


def test_a_newer_schema_is_refused_in_one_line(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as store:
        store.conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_future', 0)")
        store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        store.conn.execute("ALTER TABLE runs ADD COLUMN future TEXT NOT NULL DEFAULT 'x'")
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(UserError, match=rf"made by a newer MetaLab \(schema {SCHEMA_VERSION + 1}\); this one knows up to {SCHEMA_VERSION}"):
            Store(path, readonly=readonly)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.bak"))


def _foreign_db(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('mine')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("app_id, migrations", [(0, False), (1234, False), (0, True)])
def test_another_programs_database_is_left_untouched(tmp_path, app_id, migrations):
    path = tmp_path / "other.sqlite"
    _foreign_db(path)
    if migrations:  # a _migrations table of its own (a common name) is not ours
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        conn.execute("INSERT INTO _migrations VALUES ('0001_create_notes', 0)")
        conn.commit()
        conn.close()
    if app_id:
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA application_id = {app_id}")
        conn.close()
    before = path.read_bytes()
    with pytest.raises(UserError, match="not a MetaLab run database"):
        Store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]  # no -wal, -shm or .bak


def test_new_and_old_databases_are_stamped_as_metalabs(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as store:
        assert store.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        store.conn.execute("PRAGMA application_id = 0")  # as made before the stamp existed
    with Store(path) as store:  # recognised by its _migrations table, then stamped
        assert store.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_database_under_a_regular_file_is_one_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create"):
        Store(blocker / "sub" / "runs.db")
