"""What the GUI knows about one run while it is watched: metric series, log, progress, status.

A ``RunSession`` is the model the Monitor page observes. It is fed by an ``EngineProcess``
(a live run) or filled from the store (a run from earlier); views never talk to the
process. Points are appended into growable numpy arrays, so a plot can take a view of
them without copying.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from gui.models.log_model import LogModel

TERMINAL = ("finished", "failed", "interrupted")


class Series:
    """One metric: steps, wall times and values, appended in place (capacity doubles)."""

    def __init__(self, name: str, capacity: int = 1024):
        self.name = name
        self.size = 0
        # Running bounds (NaN-free) of steps, wall times and values, for cheap plot ranges.
        self.bounds = {"step": [math.inf, -math.inf], "wall": [math.inf, -math.inf], "value": [math.inf, -math.inf]}
        self._step = np.empty(capacity, dtype=np.float64)
        self._wall = np.empty(capacity, dtype=np.float64)
        self._value = np.empty(capacity, dtype=np.float64)

    def _grow(self, need: int) -> None:
        capacity = len(self._step)
        if need <= capacity:
            return
        while capacity < need:
            capacity *= 2
        for attr in ("_step", "_wall", "_value"):
            old = getattr(self, attr)
            new = np.empty(capacity, dtype=np.float64)
            new[: self.size] = old[: self.size]
            setattr(self, attr, new)

    def extend(self, steps: list[float], values: list[float], walls: list[float]) -> None:
        n = len(steps)
        self._grow(self.size + n)
        end = self.size + n
        self._step[self.size : end] = steps
        self._value[self.size : end] = values
        self._wall[self.size : end] = walls
        for key, array in (("step", self._step), ("wall", self._wall), ("value", self._value)):
            chunk = array[self.size : end]
            chunk = chunk[np.isfinite(chunk)]
            if len(chunk):
                bound = self.bounds[key]
                bound[0] = min(bound[0], float(chunk.min()))
                bound[1] = max(bound[1], float(chunk.max()))
        self.size = end

    @property
    def steps(self) -> np.ndarray:
        return self._step[: self.size]

    @property
    def values(self) -> np.ndarray:
        return self._value[: self.size]

    @property
    def walls(self) -> np.ndarray:
        return self._wall[: self.size]

    def last(self) -> float | None:
        return float(self._value[self.size - 1]) if self.size else None


class RunSession(QObject):
    """One run as the Monitor page sees it."""

    status_changed = Signal(str)
    progress_changed = Signal(dict)
    metrics_changed = Signal(set)  # names of the series that grew
    info_changed = Signal()

    def __init__(self, run_id: str, name: str, *, device: str = "", parent: QObject | None = None):
        super().__init__(parent)
        self.run_id = run_id
        self.name = name
        self.device = device
        self.status = "queued"
        self.error = ""
        self.final_metrics: dict[str, Any] = {}
        self.progress: dict[str, Any] = {}
        self.series: dict[str, Series] = {}
        self.points_received = 0
        self.started_at = time.time()
        self.train_progress: dict[str, Any] = {}
        self.log = LogModel(self)

    # --- feeding --------------------------------------------------------------------------
    def attach(self, process: Any) -> None:
        """Listen to an ``EngineProcess``."""
        process.state_changed.connect(self._on_state)
        process.run_started.connect(self._on_run_started)
        process.metrics_changed.connect(self.add_points)
        process.progress_changed.connect(self.set_progress)
        process.log_changed.connect(self.log.append_rows)
        process.run_finished.connect(self.finish)

    def add_points(self, points: list[tuple[str, int, float, float]]) -> None:
        grouped: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for name, step, value, wall in points:
            steps, values, walls = grouped.setdefault(name, ([], [], []))
            steps.append(step)
            values.append(value)
            walls.append(wall)
        for name, (steps, values, walls) in grouped.items():
            series = self.series.get(name)
            if series is None:
                series = self.series[name] = Series(name)
            series.extend(steps, values, walls)
        self.points_received += len(points)
        self.metrics_changed.emit(set(grouped))

    def set_progress(self, event: dict[str, Any]) -> None:
        self.progress = event
        if str(event.get("phase") or "train") == "train":
            self.train_progress = event  # where training is: what a stopped run's bar shows
        self.progress_changed.emit(event)

    def set_status(self, status: str, error: str = "") -> None:
        self.status = status
        if error:
            self.error = error
        self.status_changed.emit(status)

    def finish(self, status: str, final_metrics: dict[str, Any], error: str) -> None:
        self.final_metrics = final_metrics
        if error and status != "finished":
            self.log.append_rows([(time.time(), "error" if status == "failed" else "info", f"run {status}: {error}")])
        self.set_status(status, error)

    def _on_state(self, state: str) -> None:
        if state == "starting":
            self.set_status("starting")
        elif state == "stopping":
            self.set_status("stopping")

    def _on_run_started(self, event: dict[str, Any]) -> None:
        self.device = str(event.get("device") or self.device)
        self.started_at = float(event.get("time") or time.time())
        self.set_status("running")
        self.info_changed.emit()

    # --- from the store -------------------------------------------------------------------
    @classmethod
    def from_store(cls, store: Any, run: dict[str, Any], parent: QObject | None = None) -> RunSession:
        session = cls(run["id"], run.get("name") or run["id"], device=run.get("device") or "", parent=parent)
        rows = store.metrics(run["id"])
        session.add_points([(r["name"], r["step"], _num(r["value"]), r.get("wall_time") or 0.0) for r in rows])
        session.log.append_rows([(r["time"], r["level"], r["message"]) for r in store.logs(run["id"], limit=5000)])
        session.final_metrics = run.get("final_metrics") or {}
        session.status = run.get("status") or "queued"
        session.error = run.get("error") or ""
        return session

    @property
    def is_over(self) -> bool:
        return self.status in TERMINAL


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)
