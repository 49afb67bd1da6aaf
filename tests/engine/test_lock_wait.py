"""Issue #17, case 9: another program holding the database's write lock mid-run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.config import RunConfig
from engine.paths import artifacts_dir
from engine.store import Store
from engine.training import write_queue
from engine.training.checkpoints import list_checkpoints
from engine.training.runner import run_experiment
from tests.conftest import tiny_config_text

pytestmark = pytest.mark.slow

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE IF NOT EXISTS other_program (x)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


class LockAt:
    """An on_validate callback: at ``step``, another process takes the write lock for ``seconds``."""

    def __init__(self, db, step, seconds):
        self.db, self.step, self.seconds, self.holder = db, step, seconds, None

    def __call__(self, step, _metrics):
        if step == self.step and self.holder is None:
            self.holder = subprocess.Popen(
                [sys.executable, "-c", HOLD_LOCK, str(self.db), str(self.seconds)], stdout=subprocess.PIPE, text=True
            )
            assert self.holder.stdout.readline().strip() == "locked"


def _config(tiny_model, keyword_csv, episodes):
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=episodes))
    return config.with_values({"train.eval_every": 3, "train.checkpoint_every": 10, "task.test_episodes": 4, "train.eval_untrained": True})


def test_a_lock_held_30_s_mid_run_loses_no_row(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    lock = LockAt(db, step=3, seconds=30)
    try:
        outcome = run_experiment(_config(tiny_model, keyword_csv, 60), db_path=db, on_validate=lock)
    finally:
        lock.holder.wait(timeout=120)
    assert outcome.status == "finished"
    with Store(db) as store:
        run = store.get_run(outcome.run_id)
        assert run["status"] == "finished" and run["final_metrics"]["test_accuracy"] == outcome.final_metrics["test_accuracy"]
        assert [m["step"] for m in store.metrics(outcome.run_id, "train_loss")] == list(range(1, 61))
        assert [m["step"] for m in store.metrics(outcome.run_id, "val_accuracy")] == list(range(3, 61, 3))
        assert len(store.episodes(outcome.run_id)) == 4 and len(store.episodes(outcome.run_id, "untrained")) == 4
        assert any("locked by another program" in row["message"] for row in store.logs(outcome.run_id))
        assert {a["step"] for a in store.artifacts(outcome.run_id, "checkpoint")} == {40, 50, 60}


def test_past_the_bound_the_run_fails_in_one_line_and_keeps_a_checkpoint(tmp_path, tiny_model, keyword_csv, monkeypatch):
    monkeypatch.setattr(write_queue, "MAX_PENDING_ROWS", 0)
    monkeypatch.setattr(write_queue, "FINAL_WAIT_SECONDS", 1.0)
    db = tmp_path / "runs.db"
    lock = LockAt(db, step=3, seconds=60)
    try:
        with pytest.raises(write_queue.StoreUnavailable, match=r"locked by another program for \d+ s; [\d,]+ rows are waiting") as caught:
            run_experiment(_config(tiny_model, keyword_csv, 2000), db_path=db, on_validate=lock)
    finally:
        lock.holder.kill()
        lock.holder.wait()
    assert "\n" not in str(caught.value)
    kept = list_checkpoints(artifacts_dir(db) / _only_run(db))
    assert kept and kept[-1][0] > 3


def _only_run(db):
    with Store(db, readonly=True) as store:
        (run,) = store.list_runs()
    return run["id"]
