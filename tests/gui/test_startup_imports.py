"""scipy is imported on a thread at start, once, and pauses while the UI holds it."""

from __future__ import annotations

import threading

from gui import startup_imports


def test_the_startup_imports_run_once():
    first = startup_imports.start()
    assert startup_imports.start() is first
    first.join(timeout=60)
    assert not startup_imports.running()


def test_held_imports_stop_between_modules_until_released(monkeypatch):
    imported: list[str] = []
    one_in = threading.Event()

    def fake_import(name: str) -> None:
        imported.append(name)
        one_in.set()

    monkeypatch.setattr(startup_imports, "_thread", None)
    monkeypatch.setattr(startup_imports, "MODULES", ("a", "b", "c"))
    monkeypatch.setattr(startup_imports, "_import_module", fake_import)
    startup_imports.hold()
    try:
        thread = startup_imports.start()
        thread.join(timeout=0.5)
        assert imported == [] and thread.is_alive()  # held before the first module
        startup_imports.hold()  # two holders: both must let go
        startup_imports.release()
        thread.join(timeout=0.5)
        assert imported == [] and thread.is_alive()
    finally:
        startup_imports.release()
    thread.join(timeout=30)
    assert imported == ["a", "b", "c"] and not thread.is_alive()


def test_a_live_run_holds_the_imports_until_it_is_over(qtbot):
    """Beside a run streaming 2,000 events a second, an import holding the GIL stalled the
    loop ~100-150 ms at a time (benchmarks/gui_event_stall.py): the Monitor holds the start-up
    imports while a run is live, and lets go once, when it ends."""
    from gui.pages.monitor import MonitorPage
    from gui.run_session import RunSession

    page = MonitorPage()
    qtbot.addWidget(page)
    before = startup_imports._holds
    live, done = RunSession("r1", "live"), RunSession("r2", "reopened")
    done.status = "finished"
    page.add_session(done)  # a finished run streams nothing: no hold
    assert startup_imports._holds == before
    page.add_session(live)
    assert startup_imports._holds == before + 1 and not startup_imports._go.is_set()
    live.set_status("running")
    assert startup_imports._holds == before + 1
    live.set_status("finished")
    live.set_status("finished")  # released once, however often the end is told
    assert startup_imports._holds == before and (before > 0 or startup_imports._go.is_set())
