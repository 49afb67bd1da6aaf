"""Where a run's progress goes: events on the wire at once, rows in the store in batches.

The engine writes its own rows (at least once a second, with a heartbeat), so nothing
depends on the GUI being alive.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from engine.events import EventWriter
from engine.store import Store

FLUSH_SECONDS = 1.0
PROGRESS_SECONDS = 0.25


class Recorder:
    def __init__(self, store: Store, events: EventWriter, run_id: str):
        self.store = store
        self.events = events
        self.run_id = run_id
        self.started = time.time()
        self._metrics: list[tuple[str, int, float, float, float]] = []
        self._logs: list[tuple[float, str, str]] = []
        self._last_flush = 0.0
        self._last_progress = 0.0
        self._phase: tuple[str, float, int] | None = None  # (phase, its first event's time, done then)

    def wall_time(self) -> float:
        return time.time() - self.started

    def metric(self, name: str, step: int, value: float) -> None:
        now = time.time()
        wall = now - self.started
        self._metrics.append((name, step, float(value), wall, now))
        self.events.emit("metric", name=name, step=step, value=float(value), wall_time=wall)
        self.maybe_flush()

    def metrics(self, values: dict[str, float], step: int) -> None:
        for name, value in values.items():
            self.metric(name, step, value)

    def log(self, message: str, level: str = "info") -> None:
        self._logs.append((time.time(), level, message))
        self.events.emit("log", level=level, message=message)
        self.maybe_flush()

    def progress(self, done: int, total: int, *, force: bool = False, phase: str = "train") -> None:
        now = time.time()
        if not force and now - self._last_progress < PROGRESS_SECONDS:
            return
        self._last_progress = now
        # Each phase has its own clock (model loading, a resumed run's earlier steps and the
        # training before the meta-test are not part of the meta-test's speed).
        if self._phase is None or self._phase[0] != phase or done < self._phase[2]:
            self._phase = (phase, now, done)
        _, phase_start, phase_done = self._phase
        elapsed = now - phase_start
        rate = (done - phase_done) / elapsed if elapsed > 0 and done > phase_done else 0.0
        eta = (total - done) / rate if rate > 0 else None
        self.events.emit("progress", done=done, total=total, eta_seconds=eta, rate=rate, phase=phase)

    def maybe_flush(self) -> None:
        if time.time() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        metrics, self._metrics = self._metrics, []
        logs, self._logs = self._logs, []
        self.store.add_metrics(self.run_id, metrics)
        self.store.add_logs(self.run_id, logs)
        self.store.heartbeat(self.run_id)
        self._last_flush = time.time()


class RecorderLogHandler(logging.Handler):
    """Sends the engine's log records to the run's log (events and store)."""

    def __init__(self, recorder: Recorder):
        super().__init__(logging.INFO)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.recorder.log(self.format(record), record.levelname.lower())
        except Exception:  # logging must never break a run
            self.handleError(record)


def versions() -> dict[str, Any]:
    import platform

    import torch
    import transformers

    from engine import __version__

    return {
        "metalab": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
