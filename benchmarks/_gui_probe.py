"""A 10 ms timer that records how late it fires: the UI thread's stalls."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class StallProbe:
    def __init__(self, interval_ms: int = 10):
        self.interval = interval_ms / 1000
        self.stalls: list[float] = []
        self.timer = QTimer(interval=interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.stalls.append(max(0.0, now - self.last - self.interval))
        self.last = now

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        # the time since the last tick counts too
        self.stalls.append(max(0.0, time.perf_counter() - self.last - self.interval))
        s = sorted(self.stalls)
        return {"worst_ms": s[-1] * 1000, "p99_ms": s[int(0.99 * (len(s) - 1))] * 1000, "ticks": len(s)}


def wait_for_paint(widget, after: float) -> float:
    """Runs the event loop until ``widget`` has painted after ``after``; returns when it did.

    The app paints once, when Qt gets to the update; forcing ``repaint()`` here would paint
    twice and count both."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    class Watcher(QObject):
        painted: float | None = None

        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint and self.painted is None and time.perf_counter() > after:
                self.painted = time.perf_counter()
            return False

    watcher = Watcher()
    widget.installEventFilter(watcher)
    deadline = time.perf_counter() + 10
    while watcher.painted is None and time.perf_counter() < deadline:
        QApplication.processEvents()
        time.sleep(0.001)
    widget.removeEventFilter(watcher)
    # the paint ran inside processEvents: measure to its end, not to its start
    return time.perf_counter()
