"""A warm engine (``serve``) waits for the next Launch; taken, it is that run's engine with
the usual stop and store rules; unused, it goes with the window and writes nothing."""

from __future__ import annotations

import os

import pytest

from engine.store import Store
from tests.gui.test_gui_launch import launch


@pytest.fixture
def warm_window(qtbot, tmp_path, fake_cmd, intents_csv):
    from engine.config import RunConfig
    from gui.main_window import MainWindow

    win = MainWindow(db_path=tmp_path / "runs.db", engine_command=fake_cmd, stop_timeout=3.0, restore=False, warm_engine=True)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    win.show()
    config = RunConfig().with_values({"dataset.path": str(intents_csv), "task.meta_val_fraction": 0.35, "train.episodes": 40,
                                      "train.device": "cpu", "name": "warm-test"})
    win.new_page.set_config(config)
    qtbot.waitUntil(lambda: win.new_page.dataset_panel.dataset is not None, timeout=5000)
    win.new_page.validate()
    yield win
    win.queue.stop_all(wait_ms=3000)
    win.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_launch_takes_the_warm_engine_and_a_new_one_warms_after(qtbot, warm_window):
    warm = warm_window.warm
    qtbot.waitUntil(lambda: warm.process is not None and warm.process.pid() > 0, timeout=10_000)
    warm_pid = warm.process.pid()
    run_id = launch(qtbot, warm_window)
    job = warm_window.queue.job(run_id)
    assert job.process.pid() == warm_pid and warm.process is None
    session = warm_window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "finished", timeout=20_000)
    assert warm_window.monitor_page.plot.point_count() > 0 or session.points_received > 0
    with Store(warm_window.db_path) as store:
        assert store.get_run(run_id)["status"] == "finished"
    # No run going: the next Launch gets a warm engine again, a new process.
    qtbot.waitUntil(lambda: warm.process is not None and warm.process.pid() > 0, timeout=10_000)
    assert warm.process.pid() != warm_pid


def test_stop_a_run_on_a_warm_engine(qtbot, warm_window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_STEPS", "3000")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.01")
    warm_window.warm.shutdown()  # the warm engine started before the environment changed
    warm_window.warm.start()
    qtbot.waitUntil(lambda: warm_window.warm.process.pid() > 0, timeout=10_000)
    run_id = launch(qtbot, warm_window)
    session = warm_window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "running" and session.points_received > 5, timeout=10_000)
    warm_window.stop_action.trigger()
    qtbot.waitUntil(lambda: session.status == "interrupted", timeout=15_000)
    with Store(warm_window.db_path) as store:
        assert store.get_run(run_id)["status"] == "interrupted"


def test_an_unused_warm_engine_goes_with_the_window_and_writes_nothing(qtbot, warm_window):
    qtbot.waitUntil(lambda: warm_window.warm.process is not None and warm_window.warm.process.pid() > 0, timeout=10_000)
    pid = warm_window.warm.process.pid()
    warm_window.close()
    qtbot.waitUntil(lambda: not _alive(pid), timeout=10_000)
    with Store(warm_window.db_path) as store:
        assert store.list_runs() == []


def test_a_warm_engine_that_died_means_a_cold_start(qtbot, tmp_path, fake_cmd, intents_csv, monkeypatch):
    monkeypatch.setenv("FAKE_SERVE", "die")
    from engine.config import RunConfig
    from gui.main_window import MainWindow

    win = MainWindow(db_path=tmp_path / "runs.db", engine_command=fake_cmd, stop_timeout=3.0, restore=False, warm_engine=True)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.warm.failures == 1 and win.warm.process is None, timeout=10_000)
    win.new_page.set_config(RunConfig().with_values({"dataset.path": str(intents_csv), "task.meta_val_fraction": 0.35,
                                                     "train.episodes": 10, "train.device": "cpu"}))
    qtbot.waitUntil(lambda: win.new_page.dataset_panel.dataset is not None, timeout=5000)
    run_id = launch(qtbot, win)
    session = win.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "finished", timeout=20_000)
    with Store(win.db_path) as store:
        assert store.get_run(run_id)["status"] == "finished"
    win.close()
