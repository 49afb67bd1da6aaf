"""Where a run's progress goes: events on the wire at once, rows in the store in batches.

The engine writes its own rows (at least once a second, with a heartbeat), so nothing
depends on the GUI being alive. Rows go through a ``WriteQueue``: while another program
holds the database lock they wait in memory and training goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from engine.events import EventWriter
from engine.store import Store
from engine.training.progress_plan import ProgressPlan
from engine.training.write_queue import RunVanished, WriteQueue

FLUSH_SECONDS = 1.0
PROGRESS_SECONDS = 0.25
RECLAIMED = (
    "this run was marked interrupted by another reader while its engine was silent for a while"
    " (paused, or waiting for the database): it was not, and is marked running again"
)
UNITS = {"reference": "sentences"}  # what a phase counts; the others count episodes (a training step is one)


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
        self._phases: dict[str, tuple[str, float, int]] = {}  # phase -> (phase, its first event's time, done then)
        self.plan: ProgressPlan | None = None  # the whole run's phases, set once their sizes are known
        self._run_progress: tuple[float, str] | None = None  # (share done, phase) for the store, at the next flush
        self.queue = WriteQueue(store, run_id)
        self._reclaimed = False  # the last heartbeat took the run back from a wrong "interrupted"

    def wall_time(self) -> float:
        return time.time() - self.started

    def metric(self, name: str, step: int, value: float) -> None:
        now = time.time()
        wall = now - self.started
        self._metrics.append((name, step, float(value), wall, now))
        self.events.emit("metric", name=name, step=step, value=float(value), wall_time=wall)
        self.maybe_flush()
        self.queue.check_bound("the newest checkpoint is kept: resume the run when the database is free")

    def metrics(self, values: dict[str, float], step: int) -> None:
        for name, value in values.items():
            self.metric(name, step, value)

    def log(self, message: str, level: str = "info") -> None:
        self._logs.append((time.time(), level, message))
        self.events.emit("log", level=level, message=message)
        self.maybe_flush()

    def progress(self, done: int, total: int, *, force: bool = False, phase: str = "train") -> None:
        now = time.time()
        if self.plan is not None:
            self.plan.update(phase, done, total)
        if not force and now - self._last_progress < PROGRESS_SECONDS:
            return
        self._last_progress = now
        # Each phase has its own clock (model loading, a resumed run's earlier steps and the
        # training before the meta-test are not part of the meta-test's speed); training
        # keeps its clock across the validations in between.
        clock = self._phases.get(phase)
        if clock is None or done < clock[2]:
            self._phases[phase] = clock = (phase, now, done)
        _, phase_start, phase_done = clock
        elapsed = now - phase_start
        rate = (done - phase_done) / elapsed if elapsed > 0 and done > phase_done else 0.0
        eta = (total - done) / rate if rate > 0 else None
        run_eta = self.plan.eta() if self.plan is not None else None
        run_fraction = self.plan.fraction() if self.plan is not None else None
        if run_fraction is not None:
            self._run_progress = (run_fraction, phase)
        self.events.emit("progress", done=done, total=total, eta_seconds=eta, rate=rate, phase=phase,
                         unit=UNITS.get(phase, "episodes"), run_eta_seconds=run_eta, run_fraction=run_fraction)

    def maybe_flush(self) -> None:
        if time.time() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Queues the rows gathered so far and writes what the lock allows now."""
        metrics, self._metrics = self._metrics, []
        logs, self._logs = self._logs, []
        store, run_id = self.store, self.run_id
        if metrics:
            self.queue.put(lambda: store.add_metrics(run_id, metrics), rows=len(metrics))
        if logs:
            self.queue.put(lambda: store.add_logs(run_id, logs), rows=len(logs))
        self.queue.put(self._beat)
        if self._run_progress is not None:  # the Runs page's share done (by time, every phase)
            fraction, phase = self._run_progress
            self._run_progress = None
            self.queue.put(lambda: store.set_progress(run_id, fraction, phase))
        was_locked = self.queue.locked_since is not None
        self.queue.try_drain()
        self._last_flush = time.time()
        if self.queue.locked_since is not None and not was_locked:
            self.log("the run database is locked by another program: rows wait in memory until it is free", "warning")
        if self._reclaimed:
            self._reclaimed = False
            self.log(RECLAIMED, "warning")

    def _beat(self) -> None:
        state = self.store.heartbeat(self.run_id, pid=os.getpid())
        if state == "gone":
            self.queue.gone()
        self._reclaimed = self._reclaimed or state == "reclaimed"  # said after the queue is drained

    def write(self, write: Callable[[], object], *, rows: int = 1) -> None:
        """A store write of the run (episodes, artifacts, the final status), after the rows before it."""
        self.flush()
        self.queue.put(write, rows=rows)
        self.queue.try_drain()

    def drain(self) -> None:
        """Everything written, waiting for a locked database (bounded; see WriteQueue)."""
        self.flush()
        self.queue.drain(where="the run's files and checkpoints are kept")


class EpisodeSaver:
    """Scored episodes into the store as they come, at most once a second: a kill in the
    middle of a meta-test keeps what was scored, and a resume scores only the rest."""

    def __init__(self, recorder: Recorder, *, split: str):
        self.recorder, self.split = recorder, split
        self._pending: list[dict[str, Any]] = []
        self._last = time.time()

    def __call__(self, result: dict[str, Any]) -> None:
        self._pending.append(result)
        if time.time() - self._last >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        rows, self._pending, self._last = self._pending, [], time.time()
        if rows:
            store, run_id, split = self.recorder.store, self.recorder.run_id, self.split
            self.recorder.write(lambda: store.add_episodes(run_id, rows, split=split), rows=len(rows))


class RecorderLogHandler(logging.Handler):
    """Sends the engine's log records to the run's log (events and store)."""

    def __init__(self, recorder: Recorder):
        super().__init__(logging.INFO)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.recorder.log(self.format(record), record.levelname.lower())
        except RunVanished:  # nowhere left to write: the run ends in one line, not a logging traceback
            raise
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
