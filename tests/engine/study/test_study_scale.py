"""Scale-out and resume: two workers share a journal, an interrupted study resumes."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from study_helpers import REPO, engine_cmd, show, write_study

from engine.cli import main
from engine.store import Store

pytestmark = pytest.mark.slow


def assert_no_trial_lost_or_duplicated(shown: dict[str, Any], db: Path, budget: int) -> None:
    trials = shown["trials"]
    assert [t["number"] for t in trials] == list(range(len(trials)))
    complete = [t for t in trials if t["state"] == "complete"]
    assert len(complete) == budget
    run_ids = [t["run_id"] for t in trials]
    assert None not in run_ids and len(set(run_ids)) == len(run_ids)  # one run per trial
    with Store(db) as store:
        runs = store.list_runs(study=shown["name"])
        assert sorted(r["id"] for r in runs) == sorted(run_ids)
        by_id = {r["id"]: r for r in runs}
        for trial in trials:
            run = by_id[trial["run_id"]]
            assert run["trial_number"] == trial["number"]
            assert run["status"] == {"complete": "finished", "fail": "interrupted", "pruned": "pruned"}[trial["state"]]


def test_two_workers_share_a_journal_without_losing_or_duplicating_a_trial(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    budget = 4
    journal = study_dir / "shared.journal"
    path = write_study(study_dir, f'sampler = "random"\npruner = "none"\nn_trials = {budget}\nstorage = "journal:shared.journal"', name="shared")
    db = study_dir / "metalab.db"
    assert main(["study", "create", str(path), "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "shared"
    assert show("shared", f"journal:{journal}")["trials"] == []

    args = ["study", "worker", "--storage", f"journal:{journal}", "--study", "shared", "--db", str(db)]
    workers = [subprocess.Popen(engine_cmd(*args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=280) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-2000:]
    ran = [[int(line.split()[1]) for line in out.splitlines() if line.startswith("trial")] for out, _ in outputs]
    assert sorted(ran[0] + ran[1]) == list(range(budget))  # each trial run by exactly one worker
    shown = show("shared", f"journal:{journal}")
    assert_no_trial_lost_or_duplicated(shown, db, budget)
    assert len({tuple(t["params"].values()) for t in shown["trials"]}) == budget  # workers draw different points


def wait_for_running_trial(
    storage: str, name: str, process: subprocess.Popen[str], *, seen: set[int], timeout: float = 150
) -> dict[str, Any]:
    """A trial ``process`` is running that is not in ``seen``, once some trial is complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            trials = show(name, storage)["trials"]
        except Exception:  # the study is not there yet
            trials = []
        done = [t for t in trials if t["state"] == "complete"]
        # a trial that has not validated yet still has seconds of work left: no race with its end
        running = [
            t for t in trials
            if t["state"] == "running" and t["run_id"] and t["last_step"] is None and t["number"] not in seen
        ]
        if done and running:
            return running[0]
        time.sleep(0.3)
    raise AssertionError("no trial started in time")


def start(path: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        engine_cmd("study", "run", str(path), "--db", str(db)), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_an_interrupted_study_resumes_after_ctrl_c_and_after_a_kill(study_dir: Path) -> None:
    budget = 3
    # Trials long enough (seconds, even on a quiet machine) that the test can catch one
    # running before its first validation instead of racing a study that is already over.
    base = study_dir / "tiny.toml"
    base.write_text(base.read_text().replace("episodes = 4", "episodes = 200").replace("eval_every = 2", "eval_every = 100"))
    storage = f"journal:{study_dir / 'studies.journal'}"
    path = write_study(study_dir, f'sampler = "tpe"\npruner = "none"\nn_trials = {budget}', name="resume")
    db = study_dir / "metalab.db"

    # Ctrl-C: the run finishes its step and checkpoints; the trial is failed and queued again
    first = start(path, db)
    stopped = wait_for_running_trial(storage, "resume", first, seen=set())
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err[-2000:]
    assert "resume" in err
    trial = show("resume", storage)["trials"][stopped["number"]]
    assert trial["state"] == "fail" and trial["fail_reason"] == "interrupted"

    # kill -9 (a crash, a reboot): nothing is cleaned up; the next process finds the trial stale
    second = start(path, db)
    killed = wait_for_running_trial(storage, "resume", second, seen={stopped["number"]})
    second.send_signal(signal.SIGKILL)
    second.communicate(timeout=30)
    assert show("resume", storage)["trials"][killed["number"]]["state"] == "running"

    assert main(["study", "run", str(path), "--db", str(db)]) == 0  # the same command resumes
    shown = show("resume", storage)
    for cut, reason in ((stopped, "interrupted"), (killed, "stale")):
        now = shown["trials"][cut["number"]]
        assert now["state"] == "fail" and now["fail_reason"] == reason
        retries = [t for t in shown["trials"] if t["retry_of"] == cut["number"]]
        assert len(retries) == 1 and retries[0]["params"] == cut["params"]  # retried with the same parameters
    assert_no_trial_lost_or_duplicated(shown, db, budget)
    assert len(shown["trials"]) == budget + 2


def test_a_worker_killed_but_not_yet_reaped_by_its_parent_is_recovered_at_once() -> None:
    """``study run`` reaps its own workers only at the end: a killed one is a zombie meanwhile,
    and its trial, fresh heartbeat and all, is failed and queued again without the 60 s wait."""
    import os
    import socket
    import sys

    import optuna
    import psutil

    from engine.study._trials import HEARTBEAT_ATTR, WORKER_ATTR, recover_stale_trials

    study = optuna.create_study()
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 60
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.05)
        study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, {"host": socket.gethostname(), "pid": child.pid})
        study._storage.set_trial_system_attr(trial._trial_id, HEARTBEAT_ATTR, time.time())
        assert recover_stale_trials(study) == [trial.number]
    finally:
        child.wait()
    (retry,) = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert retry.user_attrs["retry_of"] == trial.number and retry.system_attrs["fixed_params"] == trial.params
    alive = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    study._storage.set_trial_system_attr(alive._trial_id, WORKER_ATTR, {"host": socket.gethostname(), "pid": os.getppid()})
    study._storage.set_trial_system_attr(alive._trial_id, HEARTBEAT_ATTR, time.time())
    assert recover_stale_trials(study) == []  # a live worker with a fresh heartbeat keeps its trial
