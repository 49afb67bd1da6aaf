"""Issue 27 case 3: several `resume ID` at once train the run once; the others stop in one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections import Counter

import pytest

from engine.config import RunConfig
from engine.errors import UserError
from engine.store import Store
from engine.training import continuation
from engine.training.continuation import RESUMABLE
from engine.training.runner import run_experiment
from tests.conftest import REPO, tiny_config_text
from tests.engine.test_continuation import StopAfter

CLAIMANTS = 3
WINNER_STATES = ("already being resumed by pid", "already running (pid", "finished")


def test_of_several_claims_at_once_exactly_one_wins(tmp_path):
    db = tmp_path / "runs.db"
    with Store(db) as store:
        run_id = store.create_run({"name": "r"})
        store.finish_run(run_id, "interrupted", error="stopped by the user")
    for _round in range(10):  # each round: every claimant on its own connection, released together
        with Store(db) as store:
            store.update_run(run_id, status="interrupted")
        barrier, won = threading.Barrier(CLAIMANTS), []

        def claim(pid: int) -> None:
            with Store(db) as store:
                barrier.wait(timeout=60)
                if store.claim_run(run_id, from_statuses=RESUMABLE, pid=pid, host=socket.gethostname()):
                    won.append(pid)

        threads = [threading.Thread(target=claim, args=(1000 + n,)) for n in range(CLAIMANTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(won) == 1
        with Store(db) as store:
            run = store.get_run(run_id)
        assert (run["status"], run["pid"], run["error"]) == ("queued", won[0], None)


def _stopped_run(db, tiny_model, keyword_csv) -> str:
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=14)).with_values(
        {"train.checkpoint_every": 2, "train.eval_every": 0, "task.test_episodes": 4}
    )
    return run_experiment(config, db_path=db, stop=StopAfter(4)).run_id


def _steps_once(db, run_id) -> None:
    with Store(db) as store:
        steps = Counter(m["step"] for m in store.metrics(run_id, "train_loss"))
        assert store.get_run(run_id)["status"] == "finished"
    assert sorted(steps) == list(range(1, 15))
    assert set(steps.values()) == {1}  # no step trained twice


@pytest.mark.slow
def test_resumes_that_all_pass_their_checks_at_once_train_the_run_once(tmp_path, tiny_model, keyword_csv, monkeypatch):
    """The race made certain: every resume finishes its checks (data, model, checkpoint)
    before any goes on, as three started together on a busy machine do."""
    db = tmp_path / "runs.db"
    run_id = _stopped_run(db, tiny_model, keyword_csv)
    barrier, check_inputs = threading.Barrier(CLAIMANTS), continuation._check_inputs

    def checks_then_wait(*args, **kwargs):
        notes = check_inputs(*args, **kwargs)
        barrier.wait(timeout=120)
        return notes

    monkeypatch.setattr(continuation, "_check_inputs", checks_then_wait)
    outcomes: list[object] = []

    def resume() -> None:
        try:
            outcomes.append(continuation.resume_run(run_id, db_path=db).status)
        except UserError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=resume) for _ in range(CLAIMANTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(outcomes, key=str).count("finished") == 1, outcomes
    refused = [text for text in outcomes if text != "finished"]
    assert len(refused) == CLAIMANTS - 1
    assert all(f"run {run_id} is already being resumed by pid {os.getpid()}" in text for text in refused), refused
    _steps_once(db, run_id)


@pytest.mark.slow
def test_three_resumes_at_once_train_each_step_once(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    run_id = _stopped_run(db, tiny_model, keyword_csv)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    resumes = [
        subprocess.Popen([sys.executable, "-m", "engine", "resume", run_id, "--db", str(db)], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(CLAIMANTS)
    ]
    results = [(proc.wait(timeout=600), *proc.communicate()) for proc in resumes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0] + [2] * (CLAIMANTS - 1), [err[-2000:] for _, _, err in results]
    for code, _, err in results:
        assert "Traceback" not in err
        if code == 2:  # one line, saying what the winner is doing (or did, if done before this one looked)
            lines = err.strip().splitlines()
            assert len(lines) == 1, err
            assert any(f"run {run_id} is {what}" in lines[0] for what in WINNER_STATES), lines[0]
    _steps_once(db, run_id)
