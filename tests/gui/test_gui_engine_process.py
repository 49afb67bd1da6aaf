"""The engine through QProcess: events to signals, garbage, crashes, bad input, stop and kill."""

from __future__ import annotations

import pytest

from engine.config import RunConfig
from engine.store import Store
from gui.engine_process import EngineProcess
from gui.run_session import RunSession


@pytest.fixture
def make_run(tmp_path, fake_cmd, intents_csv):
    def make(**kwargs):
        db = tmp_path / "runs.db"
        config = RunConfig().with_values({"dataset.path": str(intents_csv)})
        config.save(tmp_path / "run.toml")
        with Store(db) as store:
            run_id = store.create_run(config.to_dict())
        process = EngineProcess(run_id, tmp_path / "run.toml", db, command=fake_cmd, **kwargs)
        session = RunSession(run_id, "test")
        session.attach(process)
        return process, session, db

    return make


def run_to_end(qtbot, process, timeout=15_000):
    with qtbot.waitSignal(process.run_finished, timeout=timeout) as blocker:
        process.start()
    return blocker.args


def test_events_become_signals_and_points(qtbot, make_run):
    process, session, db = make_run()
    started = []
    process.run_started.connect(started.append)
    status, final, error = run_to_end(qtbot, process)
    assert (status, error) == ("finished", "")
    assert final["test_accuracy"] == 0.71
    assert started and started[0]["device"] == "cpu"
    assert session.series["train_loss"].size == 40
    assert session.series["val_accuracy"].size == 4
    assert list(session.series["val_accuracy"].steps) == [10, 20, 30, 40]
    assert session.progress["done"] == 40
    assert any("training for 40 steps" in m for m in session.log.messages())
    assert any(m.strip() == process.run_id for m in session.log.messages())  # the id line is plain output
    with Store(db) as store:
        assert store.get_run(process.run_id)["status"] == "finished"
        assert len(store.metrics(process.run_id, "train_loss")) == 40


def test_a_fast_engines_points_arrive_whole_in_a_few_batches(qtbot, make_run, monkeypatch):
    """stdout is read every few tens of ms, not per chunk: far fewer batches than the
    engine's hundreds of flushes, and every point there, in order, the last one included."""
    monkeypatch.setenv("FAKE_ENGINE_MODE", "stream")
    monkeypatch.setenv("FAKE_RATE", "2000")
    monkeypatch.setenv("FAKE_SECONDS", "1")
    process, session, _db = make_run()
    batches = []
    process.metrics_changed.connect(batches.append)
    status, final, _error = run_to_end(qtbot, process, timeout=30_000)
    assert status == "finished" and final["sent"] == 2000
    points = [p for batch in batches for p in batch]
    assert len(points) == session.points_received == 2000
    assert len(batches) <= 2000 / 10  # the engine flushes every ~2 ms: one batch per chunk would be hundreds
    for name, series in session.series.items():
        assert list(series.steps) == sorted(series.steps), name
    assert points[-1][1] == max(p[1] for p in points)  # the last point is the run's last step


def test_garbage_on_stdout_goes_to_the_log(qtbot, make_run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "garbage")
    process, session, _ = make_run()
    status, _, _ = run_to_end(qtbot, process)
    assert status == "finished"
    messages = session.log.messages()
    assert any("Some weights of BertModel" in m for m in messages)
    assert any(m == "{broken json" for m in messages)
    assert any('{"not": "an event"}' in m for m in messages)
    assert any("binary" in m for m in messages)
    assert sum(1 for m in messages if m.startswith("torn ")) == 8  # events split over two writes arrive whole
    assert session.series["train_loss"].size == 40


def test_a_crash_is_a_failure_with_the_last_error_line(qtbot, make_run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "crash")
    process, session, db = make_run()
    status, _, error = run_to_end(qtbot, process)
    assert status == "failed"
    assert error == "RuntimeError: CUDA error: an illegal memory access was encountered"
    assert session.status == "failed" and session.error == error
    assert any("Traceback" in m for m in session.log.messages())  # the full log is kept
    assert session.series["train_loss"].size == 20


def test_killed_engine_is_failed(qtbot, make_run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "abort")
    process, _, _ = make_run()
    status, _, error = run_to_end(qtbot, process)
    assert status == "failed"
    assert "CUDA error" in error


def test_exit_zero_without_run_finished_is_failed(qtbot, make_run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "silent_exit")
    process, _, _ = make_run()
    status, _, _ = run_to_end(qtbot, process)
    assert status == "failed"


def test_bad_input_shows_the_engines_one_line(qtbot, make_run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "bad_input")
    process, _, _ = make_run()
    status, _, error = run_to_end(qtbot, process)
    assert status == "failed"
    assert error.endswith("unknown key 'task.n_wya'")


def test_an_engine_that_cannot_start(qtbot, tmp_path):
    process = EngineProcess("x", tmp_path / "run.toml", tmp_path / "db", command=["/nonexistent/python"])
    status, _, error = run_to_end(qtbot, process, timeout=5000)
    assert status == "failed" and "cannot start the engine" in error


def test_graceful_stop_during_a_run(qtbot, make_run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_STEPS", "2000")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.01")
    process, session, db = make_run()
    process.start()
    qtbot.waitUntil(lambda: "train_loss" in session.series and session.series["train_loss"].size >= 5, timeout=10_000)
    with qtbot.waitSignal(process.run_finished, timeout=10_000) as blocker:
        process.stop()
    status, _, error = blocker.args
    assert (status, error) == ("interrupted", "stopped")
    assert any("checkpoint at step" in m for m in session.log.messages())
    with Store(db) as store:
        assert store.get_run(process.run_id)["status"] == "interrupted"


def test_an_engine_ignoring_stop_is_killed_after_the_timeout(qtbot, make_run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ignore_term")
    monkeypatch.setenv("FAKE_STEPS", "2000")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.01")
    process, session, _ = make_run(stop_timeout=1.0)
    process.start()
    qtbot.waitUntil(lambda: "train_loss" in session.series, timeout=10_000)
    with qtbot.waitSignal(process.run_finished, timeout=10_000) as blocker:
        process.stop()
    status, _, error = blocker.args
    assert status == "interrupted"
    assert "did not stop within 1 s" in error
