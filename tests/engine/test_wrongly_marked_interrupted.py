"""Issue 27 case 11c: an engine paused (SIGSTOP) long enough for a reader on another host to
mark its run interrupted takes the run back at its next heartbeat, and a finished run never
shows the interrupted reason. The pause is simulated: the reader sees an old heartbeat."""

from __future__ import annotations

import os

from engine.config import RunConfig
from engine.store import SILENT_ENGINE, Store
from engine.training.recorder import RECLAIMED
from engine.training.runner import run_experiment
from tests.conftest import run_cli, tiny_config_text

CONFIG = {"name": "r", "method": {"name": "protonet"}}
LONG_AGO = "2000-01-01T00:00:00.000Z"


def _marked_by_a_reader_elsewhere(db, run_id) -> None:
    """What a reader on another host does after 30 s without a heartbeat (65 s under SIGSTOP)."""
    with Store(db) as reader:
        reader.conn.execute("UPDATE runs SET host = 'another-host', heartbeat_at = ? WHERE id = ?", (LONG_AGO, run_id))
        assert reader.mark_stale_runs() == [run_id]
        assert (reader.get_run(run_id)["status"], reader.get_run(run_id)["error"]) == ("interrupted", SILENT_ENGINE)


def _started(db) -> str:
    with Store(db) as store:
        run_id = store.create_run(CONFIG)
        store.start_run(run_id, device="cpu", versions={}, pid=os.getpid(), host="engine-host")
    return run_id


def test_the_engines_next_heartbeat_takes_a_wrongly_interrupted_run_back(tmp_path):
    db = tmp_path / "runs.db"
    run_id = _started(db)
    _marked_by_a_reader_elsewhere(db, run_id)
    with Store(db) as store:
        assert store.heartbeat(run_id, pid=os.getpid() + 1) == "beat"  # not its engine: left as marked
        assert store.get_run(run_id)["status"] == "interrupted"
        assert store.heartbeat(run_id, pid=os.getpid()) == "reclaimed"
        run = store.get_run(run_id)
        assert (run["status"], run["error"], run["finished_at"]) == ("running", None, None)
        assert store.heartbeat(run_id, pid=os.getpid()) == "beat"


def test_a_run_its_engine_ended_is_never_taken_back(tmp_path):
    db = tmp_path / "runs.db"
    run_id = _started(db)
    with Store(db) as store:
        store.finish_run(run_id, "interrupted", error="stopped by the user")
        assert store.heartbeat(run_id, pid=os.getpid()) == "beat"  # the final flush after a stop
        assert store.get_run(run_id)["status"] == "interrupted"


def test_finishing_clears_the_reason_of_a_wrong_marking(tmp_path):
    db = tmp_path / "runs.db"
    run_id = _started(db)
    _marked_by_a_reader_elsewhere(db, run_id)
    with Store(db) as store:  # the engine's last write came before any heartbeat
        store.finish_run(run_id, "finished", final_metrics={"test_accuracy": 0.5})
    shown = run_cli("runs", "show", run_id, "--db", str(db))
    assert shown.returncode == 0 and SILENT_ENGINE not in shown.stdout and "error:" not in shown.stdout


def test_a_run_marked_interrupted_while_training_finishes_clean(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=6)).with_values({"task.test_episodes": 4})
    marked: list[int] = []

    def reader_elsewhere(step: int, _metrics: dict) -> None:  # after the validation at step 3
        if not marked:
            with Store(db) as store:
                run_id = store.list_runs(status="running", config=False)[0]["id"]
            _marked_by_a_reader_elsewhere(db, run_id)
            marked.append(step)

    outcome = run_experiment(config, db_path=db, on_validate=reader_elsewhere)
    assert marked and outcome.status == "finished"
    with Store(db) as store:
        run = store.get_run(outcome.run_id)
        said = [log["message"] for log in store.logs(outcome.run_id) if log["message"] == RECLAIMED]
    assert (run["status"], run["error"]) == ("finished", None)
    assert len(said) == 1  # one line in the run's log: it was wrongly marked
    shown = run_cli("runs", "show", outcome.run_id, "--db", str(db))
    assert shown.returncode == 0 and SILENT_ENGINE not in shown.stdout
