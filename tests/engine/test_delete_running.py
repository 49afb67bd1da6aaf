"""Issue 27 case 4: `runs delete` of a running run is refused (or stops it first with
--stop), and an engine whose run row vanishes ends in one line, not a traceback."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from engine.errors import UserError
from engine.paths import artifacts_dir
from engine.store import RunIsLive, Store
from tests.conftest import REPO, run_cli, tiny_config_text

CONFIG = {"name": "r", "method": {"name": "protonet"}, "model": {"name": "m"}, "dataset": {"path": "d"}}
ENGINE_START_SECONDS = 180  # torch import and model load on a busy machine


def _live_run(db, *, status: str) -> str:
    """A run owned by this test's process: alive, on this host, so no stale check ends it."""
    with Store(db) as store:
        run_id = store.create_run(CONFIG, owner_pid=os.getpid())
        if status == "running":
            store.start_run(run_id, device="cpu", versions={}, pid=os.getpid(), host=socket.gethostname())
        store.add_metrics(run_id, [("train_loss", 1, 0.5, 0.0, 0.0)])
    return run_id


@pytest.mark.parametrize("status", ["running", "queued"])
def test_deleting_a_live_run_is_refused_in_one_line_and_keeps_it(tmp_path, status):
    db = tmp_path / "runs.db"
    run_id = _live_run(db, status=status)
    result = run_cli("runs", "delete", run_id, "--yes", "--db", str(db))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"run {run_id} is {status} (pid {os.getpid()}" in lines[0] and "--stop" in lines[0]
    with Store(db) as store:
        assert store.get_run(run_id)["status"] == status
        assert len(store.metrics(run_id)) == 1
        with pytest.raises(RunIsLive):  # the store refuses too, inside its write lock
            store.delete_run(run_id)
    if status == "queued":  # its owner may be the GUI: --stop never signals it
        result = run_cli("runs", "delete", run_id, "--yes", "--stop", "--db", str(db))
        assert result.returncode == 2 and "running runs only" in result.stderr and "Traceback" not in result.stderr


def _start_engine(tmp_path, tiny_model, keyword_csv) -> tuple[subprocess.Popen, str, object]:
    db = tmp_path / "runs.db"
    config = tmp_path / "long.toml"
    config.write_text(tiny_config_text(tiny_model, keyword_csv, episodes=200_000).replace("eval_every = 3", "eval_every = 0"))
    proc = subprocess.Popen([sys.executable, "-m", "engine", "run", str(config), "--db", str(db)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + ENGINE_START_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with Store(db, readonly=True) as store:
                runs = store.list_runs(status="running", config=False)
                if runs and store.metrics(runs[0]["id"], "train_loss"):
                    return proc, runs[0]["id"], db
        except (sqlite3.Error, UserError):  # not there yet, or its tables not yet made
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the engine did not start: {proc.communicate()[1][-2000:]}")


@pytest.mark.slow
def test_delete_with_stop_stops_the_engine_then_deletes(tmp_path, tiny_model, keyword_csv):
    proc, run_id, db = _start_engine(tmp_path, tiny_model, keyword_csv)
    try:
        refused = run_cli("runs", "delete", run_id, "--db", str(db))
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
        assert proc.poll() is None  # still training
        started = time.monotonic()
        result = run_cli("runs", "delete", run_id, "--stop", "--db", str(db))
        print(f"\nstopped and deleted in {time.monotonic() - started:.1f} s")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"deleted {run_id}"
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    finally:
        proc.kill()
    with Store(db) as store:
        assert not store.run_exists(run_id)
    assert not (artifacts_dir(db) / run_id).exists()


@pytest.mark.slow
def test_an_engine_whose_run_row_is_deleted_ends_in_one_line(tmp_path, tiny_model, keyword_csv):
    """Another program (or a delete after a reader elsewhere took the engine for dead) removes the rows."""
    proc, run_id, db = _start_engine(tmp_path, tiny_model, keyword_csv)
    try:
        with Store(db) as store:
            with store.conn:  # one transaction, as another program would
                for table in ("metrics", "episodes", "logs", "artifacts"):
                    store.conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                store.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        started = time.monotonic()
        _, err = proc.communicate(timeout=120)
        print(f"\nthe engine ended {time.monotonic() - started:.1f} s after its row was deleted")
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert "Traceback" not in err and "Logging error" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: the run database could not be written (run {run_id} was deleted from the run database"
                      " while its engine ran; training stopped)"]
    assert not (artifacts_dir(db) / run_id).exists()  # a checkpoint written since the delete is not left behind
