"""Run a slow, torch-free function (loading a dataset file) off the UI thread.

The result comes back through a queued signal on the UI thread. A newer request makes
the older one's result be ignored (``Task.ticket``), so fast typing never shows stale data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.setAutoDelete(False)  # Python owns it (``Worker._jobs``): no double delete
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            try:
                result = self.fn()
            except Exception as exc:  # handed to the UI thread, shown there
                self.relay.failed.emit(exc)
            else:
                self.relay.done.emit(result)
        except RuntimeError:  # the page was closed meanwhile: nobody waits for the result
            pass


class Worker(QObject):
    """``submit(fn, on_done, on_error)``; only the latest submission's outcome is delivered."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.ticket = 0
        self.pending = 0
        self._jobs: dict[_Relay, _Job] = {}

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[BaseException], None]) -> None:
        self.ticket += 1
        ticket = self.ticket
        relay = _Relay(self)
        job = _Job(fn, relay)
        self._jobs[relay] = job
        self.pending += 1

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            self.pending -= 1
            self._jobs.pop(relay, None)
            relay.deleteLater()
            if ticket == self.ticket:
                callback(value)

        relay.done.connect(lambda result: finish(on_done, result))
        relay.failed.connect(lambda exc: finish(on_error, exc))
        QThreadPool.globalInstance().start(job)

    def busy(self) -> bool:
        return self.pending > 0
