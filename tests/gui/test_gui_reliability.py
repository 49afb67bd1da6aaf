"""Issue 7, GUI side: engines outlive the GUI, re-attaching, process groups, Resume, out of memory, bad input.

Figures printed with ``-s`` go to docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import FAKE_ENGINE
from test_gui_launch import launch

from engine.config import RunConfig
from engine.store import Store
from gui import process_group

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and signals are POSIX")
ROOT = Path(__file__).resolve().parents[2]


def _queued_run(db: Path, tmp_path: Path, name: str = "survivor") -> tuple[str, Path]:
    config = RunConfig().with_values({"name": name, "train.device": "cpu"})
    with Store(db) as store:
        run_id = store.create_run(config.to_dict(), status="queued")
    path = tmp_path / f"{run_id}.toml"
    config.save(path)
    return run_id, path


def _start_engine(db: Path, tmp_path: Path, env: dict[str, str]) -> tuple[str, subprocess.Popen]:
    """A fake engine started as a GUI would have started it (own session), its stdout going nowhere."""
    run_id, config = _queued_run(db, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_ENGINE), "run", str(config), "--db", str(db), "--events", "--run-id", run_id],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        with Store(db, readonly=True) as store:
            if store.get_run(run_id)["status"] == "running":
                return run_id, proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the engine did not start")


def _window(qtbot, db: Path, fake_cmd: list[str]):
    from gui.main_window import MainWindow

    win = MainWindow(db_path=db, engine_command=fake_cmd, stop_timeout=3.0, restore=False)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    win.show()
    return win


# --- 1. the GUI killed while an engine runs -------------------------------------------------------

LAUNCHER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from PySide6.QtCore import QCoreApplication
    from gui.engine_process import EngineProcess
    app = QCoreApplication([])
    process = EngineProcess(sys.argv[2], sys.argv[3], sys.argv[4], command=[sys.executable, sys.argv[5]])
    process.run_started.connect(lambda _e: print("engine", process.pid(), flush=True))
    process.start()
    app.exec()
    """
)


def test_an_engine_outlives_a_killed_gui_and_records_its_run(tmp_path):
    db = tmp_path / "runs.db"
    run_id, config = _queued_run(db, tmp_path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FAKE_ENGINE_MODE": "slow", "FAKE_STEPS": "60",
           "FAKE_STEP_SECONDS": "0.04", "FAKE_CHILDREN": "1"}
    gui = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(ROOT), run_id, str(config), str(db), str(FAKE_ENGINE)],
                           env=env, stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([gui.stdout], [], [], 15)
    line = gui.stdout.readline().split() if ready else []
    if not line or line[0] != "engine":
        gui.kill()
        pytest.fail(f"the launcher did not start the engine: {line}")
    engine_pid = int(line[1])
    try:
        assert os.getsid(engine_pid) == engine_pid != os.getsid(gui.pid)  # its own session: no SIGHUP from a terminal
        gui.send_signal(signal.SIGKILL)
        gui.wait(5)
        killed_at = time.time()
        deadline = killed_at + 15
        while time.time() < deadline:
            with Store(db, readonly=True) as store:
                run = store.get_run(run_id)
            if run["status"] != "running":
                break
            time.sleep(0.1)
        with Store(db, readonly=True) as store:
            assert store.get_run(run_id)["status"] == "finished"
            assert len(store.metrics(run_id, "train_loss")) == 60
        print(f"\nengine finished its run {time.time() - killed_at:.1f} s after the GUI was killed")
    finally:
        process_group.end_group(engine_pid)  # its worker is orphaned (the GUI that would end the group is dead)


def test_next_start_reattaches_to_a_live_engine_and_can_stop_it(qtbot, tmp_path, fake_cmd):
    db = tmp_path / "runs.db"
    run_id, proc = _start_engine(db, tmp_path, {"FAKE_ENGINE_MODE": "slow", "FAKE_STEPS": "2000", "FAKE_STEP_SECONDS": "0.01",
                                                "FAKE_CHILDREN": "1"})
    try:
        win = _window(qtbot, db, fake_cmd)
        sessions = {s.run_id: s for s in win.monitor_page.sessions}
        assert run_id in sessions, "a live engine is shown in the Monitor"
        session = sessions[run_id]
        assert session.status == "running"
        assert win.engines_label.text().startswith("1 engine running")  # a followed engine counts (issue 27, case 17)
        win.monitor_page.show_session(session)
        assert win.monitor_page.stop_button.isEnabled()
        qtbot.waitUntil(lambda: session.series.get("train_loss") is not None and session.series["train_loss"].size > 0,
                        timeout=5000)
        first = session.series["train_loss"].size
        qtbot.waitUntil(lambda: session.series["train_loss"].size > first, timeout=5000)  # it follows, ~1 s polls
        steps = session.series["train_loss"].steps
        assert list(steps) == list(range(1, len(steps) + 1))  # every row once, in order
        assert win.monitor_page.plot.point_count() > 0
        started = time.time()
        qtbot.mouseClick(win.monitor_page.stop_button, _left())
        qtbot.waitUntil(lambda: session.status == "interrupted", timeout=10_000)
        print(f"\nre-attached run stopped and shown interrupted in {time.time() - started:.1f} s")
        qtbot.waitUntil(lambda: win.engines_label.text().startswith("0 engines running"), timeout=5000)
        assert proc.wait(5) == 130  # SIGTERM reached the engine: graceful stop
        qtbot.waitUntil(lambda: not process_group.group_alive(proc.pid), timeout=5000)  # the worker too
        with Store(db, readonly=True) as store:
            assert store.get_run(run_id)["status"] == "interrupted"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_reattached_engine_that_dies_is_shown_interrupted_within_seconds(qtbot, tmp_path, fake_cmd):
    db = tmp_path / "runs.db"
    run_id, proc = _start_engine(db, tmp_path, {"FAKE_ENGINE_MODE": "slow", "FAKE_STEPS": "2000", "FAKE_STEP_SECONDS": "0.01"})
    win = _window(qtbot, db, fake_cmd)
    session = next(s for s in win.monitor_page.sessions if s.run_id == run_id)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.time()
    qtbot.waitUntil(lambda: session.status == "interrupted", timeout=5000)
    detected = time.time() - killed
    print(f"\nGUI saw the dead engine after {detected:.2f} s")
    assert detected < 3.0
    with Store(db, readonly=True) as store:
        assert store.get_run(run_id)["status"] == "interrupted"


def test_a_dead_engine_is_shown_interrupted_at_start(qtbot, tmp_path, fake_cmd):
    db = tmp_path / "runs.db"
    run_id, proc = _start_engine(db, tmp_path, {"FAKE_ENGINE_MODE": "slow", "FAKE_STEPS": "2000", "FAKE_STEP_SECONDS": "0.01"})
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    started = time.time()
    win = _window(qtbot, db, fake_cmd)
    assert time.time() - started < 5
    assert all(s.run_id != run_id for s in win.monitor_page.sessions)
    with Store(db, readonly=True) as store:
        assert store.get_run(run_id)["status"] == "interrupted"
    win.show_page(2)
    qtbot.waitUntil(lambda: win.runs_page.model.rowCount() == 1, timeout=3000)
    assert win.runs_page.model.run(0)["status"] == "interrupted"


# --- 2. process groups: nothing left behind ---------------------------------------------------------

def _group_of(qtbot, window, run_id: str) -> int:
    qtbot.waitUntil(lambda: window.queue.job(run_id) is not None and window.queue.job(run_id).process.group_id > 0,
                    timeout=5000)
    return window.queue.job(run_id).process.group_id


def test_a_finished_engine_leaves_no_process(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_CHILDREN", "2")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.02")
    run_id = launch(qtbot, window)
    group = _group_of(qtbot, window, run_id)
    assert os.getsid(group) == group != os.getsid(0)
    session = window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "finished", timeout=15_000)
    qtbot.waitUntil(lambda: not process_group.group_alive(group), timeout=3000)


def _launch_then_stop(qtbot, window, monkeypatch, mode: str, children: int):
    """A long fake run with child processes, stopped from the menu once running: (session, group)."""
    monkeypatch.setenv("FAKE_ENGINE_MODE", mode)
    monkeypatch.setenv("FAKE_STEPS", "3000")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.01")
    monkeypatch.setenv("FAKE_CHILDREN", str(children))
    run_id = launch(qtbot, window)
    group = _group_of(qtbot, window, run_id)
    session = window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "running", timeout=10_000)
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: session.status == "interrupted", timeout=10_000)
    return session, group


def test_a_stopped_engine_leaves_no_process(qtbot, window, monkeypatch):
    _session, group = _launch_then_stop(qtbot, window, monkeypatch, "slow", children=2)
    qtbot.waitUntil(lambda: not process_group.group_alive(group), timeout=3000)


def test_an_engine_ignoring_sigterm_is_killed_with_its_group(qtbot, window, monkeypatch):
    session, group = _launch_then_stop(qtbot, window, monkeypatch, "ignore_term", children=1)  # after the 3 s timeout
    assert "killed" in session.error
    qtbot.waitUntil(lambda: not process_group.group_alive(group), timeout=3000)


# --- 3. Resume --------------------------------------------------------------------------------------

def test_resume_continues_the_curve_at_the_right_step(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_STEPS", "120")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.02")
    monkeypatch.setenv("FAKE_CHECKPOINT_EVERY", "10")
    run_id = launch(qtbot, window)
    session = window.monitor_page.session
    qtbot.waitUntil(lambda: session.points_received > 50, timeout=10_000)
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: session.status == "interrupted", timeout=10_000)
    assert window.monitor_page.resume_button.isEnabled()
    with Store(window.db_path, readonly=True) as store:
        checkpoint = max(a["step"] for a in store.artifacts(run_id, "checkpoint"))
        assert len(store.metrics(run_id, "train_loss")) > checkpoint  # steps after it, to be dropped

    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.002")
    with qtbot.waitSignal(window.queue.run_started, timeout=5000):
        qtbot.mouseClick(window.monitor_page.resume_button, _left())
    resumed = window.monitor_page.session
    assert resumed is not session and resumed.run_id == run_id
    assert resumed.series["train_loss"].steps[-1] == checkpoint  # curves up to the checkpoint, then the engine's
    qtbot.waitUntil(lambda: resumed.status == "finished", timeout=15_000)
    steps = list(resumed.series["train_loss"].steps)
    assert steps == list(range(1, 121))
    with Store(window.db_path, readonly=True) as store:
        assert [r["step"] for r in store.metrics(run_id, "train_loss")] == list(range(1, 121))
        assert store.get_run(run_id)["status"] == "finished"


def test_resume_from_the_runs_page_and_without_a_checkpoint(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "crash")
    run_id = launch(qtbot, window)
    session = window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "failed", timeout=10_000)
    window.show_page(2)
    page = window.runs_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=3000)
    page.select_ids([run_id])
    assert not page.resume_button.isEnabled()  # it would fail: offered only with a checkpoint (issue 27, case 16)
    assert "no checkpoint" in page.resume_button.toolTip()
    assert not window.monitor_page.resume_button.isEnabled()
    page.resume_selected()  # the menu or a shortcut: still one line
    assert "no checkpoint" in window.statusBar().currentMessage()  # inline, no dialog
    assert window.queue.jobs == []


# --- 4. Out of memory -----------------------------------------------------------------------------

def test_out_of_memory_offers_a_one_click_relaunch(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "oom")
    run_id = launch(qtbot, window)
    session = window.monitor_page.session
    qtbot.waitUntil(lambda: session.status == "failed", timeout=10_000)
    panel = window.monitor_page.oom_panel
    assert panel.isVisible()
    assert "Out of memory" in panel.advice.text()
    assert "out of memory" in window.monitor_page.status.text()  # the engine's advice, inline
    keys = [key for _label, key, _value, _config in panel.options]
    assert "task.query" in keys and "model.max_length" in keys
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    button = panel.buttons.itemAt(keys.index("task.query")).widget()
    with qtbot.waitSignal(window.queue.run_started, timeout=5000) as blocker:
        qtbot.mouseClick(button, _left())
    new_id = blocker.args[0]
    assert new_id != run_id
    new_session = window.monitor_page.session
    assert not panel.isVisible()
    qtbot.waitUntil(lambda: new_session.status == "finished", timeout=15_000)
    with Store(window.db_path, readonly=True) as store:
        old, new = store.get_run(run_id), store.get_run(new_id)
    assert old["status"] == "failed"
    assert new["config"]["task"]["query"] == old["config"]["task"]["query"] // 2
    assert {k: v for k, v in new["config"]["task"].items() if k != "query"} == {
        k: v for k, v in old["config"]["task"].items() if k != "query"}


def test_relaunch_options_follow_the_method():
    from gui.oom_relaunch import relaunch_options

    maml = RunConfig().with_values({"method.name": "maml", "method.params": {"first_order": False, "scope": "all"}})
    keys = {key: value for _l, key, value, _c in relaunch_options(maml.to_dict())}
    assert keys["method.params.first_order"] is True and keys["method.params.scope"] == "lora"
    for _label, _key, _value, config in relaunch_options(maml.to_dict()):
        RunConfig.from_dict(config)  # every option is a valid config
    protonet = {key for _l, key, _v, _c in relaunch_options(RunConfig().to_dict())}
    assert "method.params.first_order" not in protonet and "method.params.scope" not in protonet


# --- 5. Bad input inline ----------------------------------------------------------------------------

def test_bad_input_is_one_inline_message_and_trust_remote_code_warns(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    dialogs = []
    for name in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, name, lambda *a, _n=name, **k: dialogs.append(_n))
    monkeypatch.setattr("gui.widgets.plain_message.warn", lambda *a, **k: dialogs.append("warning"))
    page = window.new_page
    good = page.dataset_panel.path()
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02\xff" * 100)
    page.set_config(page.build_config().with_values({"dataset.path": str(binary)}))
    qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=5000)
    problem = page.validate()
    assert problem is not None and str(binary) in problem and "\n" not in problem
    assert page.reason.text() == problem and not page.launch_button.isEnabled()

    page.set_config(RunConfig().with_values({"dataset.path": good, "task.meta_val_fraction": 0.35, "name": "x"}))
    qtbot.waitUntil(lambda: page.dataset_panel.dataset is not None, timeout=5000)
    page.task_form.set_values({"task.n_way": 40})
    assert "too few" in page.validate() and not page.launch_button.isEnabled()
    page.task_form.set_values({"task.n_way": 5})
    assert page.validate() is None
    assert "trust_remote_code" not in page.reason.text()

    page.run_form.set_values({"model.trust_remote_code": True})
    assert page.validate() is None  # allowed, but warned about
    assert page.launch_button.isEnabled()
    assert "model.trust_remote_code = true" in page.reason.text() and "trust" in page.reason.text()
    assert page.build_config().model.trust_remote_code is True
    assert dialogs == []


def _left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
