"""The whole path in the main window: Launch -> queued row -> engine -> plots, store, Runs page."""

from __future__ import annotations

import os

from engine.store import Store
from gui.engine_process import EngineProcess


def launch(qtbot, window):
    page = window.new_page
    assert page.validate() is None, page.problem
    with qtbot.waitSignal(window.queue.run_started, timeout=5000) as blocker:
        qtbot.mouseClick(page.launch_button, qtbot_left())
    return blocker.args[0]


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_launch_to_finished_with_points_and_rows(qtbot, window):
    with Store(window.db_path) as store:
        assert store.list_runs() == []
    run_id = launch(qtbot, window)
    assert window.stack.currentWidget() is window.monitor_page
    session = window.monitor_page.session
    assert session.run_id == run_id
    qtbot.waitUntil(lambda: session.status == "finished", timeout=15_000)
    plot = window.monitor_page.plot
    qtbot.waitUntil(lambda: plot.point_count() == 40 + 4, timeout=2000)  # the defaults: train loss, val accuracy
    assert plot.plot_names() == ["loss", "accuracy"]
    plot.picker.set_picked(plot.picker.names)
    qtbot.waitUntil(lambda: plot.point_count() == 40 + 40 + 4, timeout=2000)
    assert set(plot.plot_names()) == {"loss", "accuracy", "learning_rate"}
    assert "finished" in window.monitor_page.status.text()
    assert "0.710 ± 0.020" in window.monitor_page.status.text()
    assert window.monitor_page.progress.value() == 40
    with Store(window.db_path) as store:
        run = store.get_run(run_id)
        assert run["status"] == "finished" and run["name"] == "gui-test"
        assert run["config"]["dataset"]["path"] == window.new_page.dataset_panel.path()
        assert len(store.metrics(run_id, "train_loss")) == 40
    assert window.queue.jobs == []
    assert "0 engines running" in window.engines_label.text()
    window.show_page(2)
    qtbot.waitUntil(lambda: window.runs_page.model.rowCount() == 1, timeout=3000)
    assert window.runs_page.model.run(0)["id"] == run_id


def test_stop_from_the_monitor(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_STEPS", "3000")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.01")
    run_id = launch(qtbot, window)
    session = window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "running" and session.points_received > 10, timeout=10_000)
    assert window.monitor_page.stop_button.isEnabled()
    assert "1 engine running" in window.engines_label.text()
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: session.status == "interrupted", timeout=10_000)
    assert not window.monitor_page.stop_button.isEnabled()
    with Store(window.db_path) as store:
        assert store.get_run(run_id)["status"] == "interrupted"


def test_a_crashing_engine_leaves_the_gui_alive(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "abort")
    run_id = launch(qtbot, window)
    session = window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "failed", timeout=15_000)
    assert "CUDA error" in window.monitor_page.status.text()
    with Store(window.db_path) as store:
        run = store.get_run(run_id)
        assert run["status"] == "failed"  # the engine could not say so: the queue did
        assert "CUDA error" in run["error"]
    # and the next launch works
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    window.show_page(0)
    launch(qtbot, window)
    qtbot.waitUntil(lambda: window.monitor_page.session.status == "finished", timeout=15_000)


def test_one_run_per_device_the_next_waits(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_STEPS", "60")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.01")
    first = launch(qtbot, window)
    window.show_page(0)
    window.new_page.request_launch()
    assert len(window.queue.jobs) == 2
    assert [j.run_id for j in window.queue.running()] == [first]
    assert "1 queued" in window.engines_label.text()
    second = window.queue.waiting()[0].run_id
    with Store(window.db_path) as store:
        waiting = store.get_run(second)
        assert waiting["status"] == "queued"
        assert waiting["pid"] == os.getpid()  # the GUI owns it until an engine starts it
        assert store.mark_stale_runs() == []  # an owner alive: it stays queued
    qtbot.waitUntil(lambda: window.queue.job(second) is not None and window.queue.job(second).process is not None, timeout=15_000)
    qtbot.waitUntil(lambda: not window.queue.jobs, timeout=15_000)
    with Store(window.db_path) as store:
        assert [r["status"] for r in store.list_runs()] == ["finished", "finished"]


def test_stopping_a_queued_run_drops_it(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_STEPS", "3000")
    launch(qtbot, window)
    window.new_page.request_launch()
    waiting = window.queue.waiting()[0].run_id
    window.queue.stop(waiting)
    with Store(window.db_path) as store:
        assert store.get_run(waiting)["status"] == "interrupted"
    assert len(window.queue.jobs) == 1


def test_open_a_stored_run_in_the_monitor(qtbot, window):
    run_id = launch(qtbot, window)
    qtbot.waitUntil(lambda: not window.queue.jobs, timeout=15_000)
    window.monitor_page.sessions.clear()
    window.monitor_page.picker.clear()
    window.open_run(run_id)
    session = window.monitor_page.session
    assert session is not None and session.run_id == run_id and session.status == "finished"
    assert session.series["train_loss"].size == 40


def test_quit_with_a_run_going_stops_it(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_STEPS", "3000")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.01")
    run_id = launch(qtbot, window)
    qtbot.waitUntil(lambda: window.monitor_page.session.points_received > 5, timeout=10_000)
    window.close()
    with Store(window.db_path) as store:
        assert store.get_run(run_id)["status"] == "interrupted"


def test_process_arguments_follow_the_cli_contract(tmp_path):
    process = EngineProcess("abc", tmp_path / "c.toml", tmp_path / "r.db", command=["python", "-m", "engine"])
    assert process.arguments() == ["-m", "engine", "run", str(tmp_path / "c.toml"), "--db", str(tmp_path / "r.db"), "--events", "--run-id", "abc"]
