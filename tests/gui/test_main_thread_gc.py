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
