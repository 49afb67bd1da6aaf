"""Cyclic garbage is collected on the GUI thread by a timer, never by whichever thread allocates."""

from __future__ import annotations

import gc
import threading
import weakref


class _Cycle:
    def __init__(self):
        self.me = self


def test_garbage_is_collected_on_the_gui_thread(qtbot):
    from gui.main_thread_gc import collect_on_gui_thread

    was_enabled = gc.isenabled()
    gc.enable()
    collector = collect_on_gui_thread()
    try:
        assert not gc.isenabled()  # no thread may start a collection by allocating
        collected_on: list[str] = []
        cycle = _Cycle()
        weakref.finalize(cycle, lambda: collected_on.append(threading.current_thread().name))
        del cycle
        # garbage made by a background thread: allocating there must not collect it there
        worker = threading.Thread(target=lambda: [_Cycle() for _ in range(5000)], name="worker")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: bool(collected_on), timeout=10_000)
        assert collected_on == [threading.main_thread().name]
    finally:
        collector.timer.stop()
        if was_enabled:
            gc.enable()


def test_the_startup_freeze_waits_for_the_startup_imports(qtbot, monkeypatch):
    """Objects the start-up imports make (scipy's ~36,000) are frozen with the rest, on the GUI thread."""
    from gui import startup_imports
    from gui.app import freeze_startup_objects

    release = threading.Event()
    importing = threading.Thread(target=release.wait, daemon=True)
    importing.start()
    monkeypatch.setattr(startup_imports, "_thread", importing)
    frozen: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(threading.current_thread().name))
    freeze_startup_objects()
    qtbot.wait(300)  # several polls while the imports still run
    assert frozen == []
    release.set()
    qtbot.waitUntil(lambda: bool(frozen), timeout=10_000)
    assert frozen == [threading.main_thread().name]

