"""Cyclic garbage is collected on the GUI thread by a timer, never by whichever thread allocates."""

from __future__ import annotations

import gc
import threading


# Collection is process-wide state that earlier tests in a worker can leave anywhere
# (frozen objects, collectors, timers): the check runs in a fresh interpreter of its own.
GUI_THREAD_GC_CHECK = """
import gc, sys, threading, weakref
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from gui.main_thread_gc import collect_on_gui_thread

class Cycle:
    def __init__(self):
        self.me = self

app = QApplication([])
collector = collect_on_gui_thread()
assert not gc.isenabled(), "no thread may start a collection by allocating"
collected_on = []
cycle = Cycle()
weakref.finalize(cycle, lambda: collected_on.append(threading.current_thread().name))
del cycle
# garbage made by a background thread: allocating there must not collect it there
worker = threading.Thread(target=lambda: [Cycle() for _ in range(5000)], name="worker")
worker.start()
worker.join()
poll = QTimer(interval=50)
poll.timeout.connect(lambda: app.quit() if collected_on else None)
poll.start()
QTimer.singleShot(60_000, app.quit)
app.exec()
print(collected_on)
sys.exit(0 if collected_on == [threading.main_thread().name] else 1)
"""


def test_garbage_is_collected_on_the_gui_thread():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", GUI_THREAD_GC_CHECK], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "['MainThread']"


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

