"""Launched runs wait here until their device is free (default: one run per device).

``submit`` writes nothing: the caller has already created the run as queued in the store
and saved its config file. The queue starts an ``EngineProcess`` when the run's device has
a free slot and starts the next one when a run ends. If the engine dies without marking
its run, the queue marks it failed (or interrupted) so the store never shows a dead run
as running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.store import TERMINAL_STATUSES, Store
from gui.engine_process import EngineProcess
from gui.run_session import RunSession
from gui.warm_engine import WarmEngine


def device_key(device: str, resolve_auto: Callable[[], str] | None = None) -> str:
    """The slot a run occupies: ``cuda`` is ``cuda:0``; ``auto`` is what the engine would pick."""
    if device == "auto":
        device = resolve_auto() if resolve_auto else "cpu"
    if device == "cuda":
        return "cuda:0"
    return device


@dataclass
class Job:
    run_id: str
    name: str
    config_path: Path
    device: str
    session: RunSession
    process: EngineProcess | None = None
    action: str = "run"  # or "resume" (``python -m engine resume ID``)


class RunQueue(QObject):
    """Runs waiting or running, in launch order."""

    run_started = Signal(str)  # run id: its engine process started
    run_finished = Signal(str, str)  # run id, status
    queue_changed = Signal()  # something started, ended or was added

    def __init__(
        self,
        db_path: str | Path,
        *,
        command: list[str] | None = None,
        slots_per_device: int = 1,
        resolve_auto: Callable[[], str] | None = None,
        stop_timeout: float = 20.0,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.command = command
        self.slots_per_device = slots_per_device
        self.resolve_auto = resolve_auto
        self.stop_timeout = stop_timeout
        self.jobs: list[Job] = []
        self.warm: WarmEngine | None = None  # set by the window: the next run takes its engine

    # --- intents ------------------------------------------------------------------------
    def submit(
        self, run_id: str, name: str, config_path: str | Path, device: str, *, action: str = "run",
        session: RunSession | None = None,
    ) -> RunSession:
        """Queues a run; ``action="resume"`` continues it from its newest checkpoint (into ``session``)."""
        session = session or RunSession(run_id, name, device=device, parent=self)
        self.jobs.append(Job(run_id, name, Path(config_path), device_key(device, self.resolve_auto), session, action=action))
        self.queue_changed.emit()
        self._start_ready()
        return session

    def stop(self, run_id: str) -> None:
        job = self.job(run_id)
        if job is None:
            return
        if job.process is None:  # still waiting: just drop it
            self.jobs.remove(job)
            self._mark(run_id, "interrupted", "stopped before it started")
            job.session.finish("interrupted", {}, "stopped before it started")
            self.run_finished.emit(run_id, "interrupted")
            self.queue_changed.emit()
        elif job.process.is_active():
            job.process.stop()

    def stop_all(self, *, wait_ms: int = 0) -> None:
        for job in list(self.jobs):
            self.stop(job.run_id)
        if wait_ms:
            for job in list(self.jobs):
                if job.process is not None and not job.process.wait_for_finished(wait_ms):
                    job.process.kill()

    # --- facts --------------------------------------------------------------------------
    def job(self, run_id: str) -> Job | None:
        return next((j for j in self.jobs if j.run_id == run_id), None)

    def running(self) -> list[Job]:
        return [j for j in self.jobs if j.process is not None]

    def waiting(self) -> list[Job]:
        return [j for j in self.jobs if j.process is None]

    def busy_devices(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.running():
            counts[job.device] = counts.get(job.device, 0) + 1
        return counts

    # --- machinery ----------------------------------------------------------------------
    def _start_ready(self) -> None:
        busy = self.busy_devices()
        for job in self.waiting():
            if busy.get(job.device, 0) >= self.slots_per_device:
                continue
            busy[job.device] = busy.get(job.device, 0) + 1
            self._start(job)

    def _start(self, job: Job) -> None:
        warm = self.warm.take(job.run_id, job.config_path, job.action, self) if self.warm is not None else None
        process = warm or EngineProcess(
            job.run_id, job.config_path, self.db_path, command=self.command, stop_timeout=self.stop_timeout, parent=self
        )
        process.action = job.action
        job.process = process
        job.session.attach(process)
        process.run_finished.connect(lambda status, _final, error, j=job: self._on_finished(j, status, error))
        if warm is not None:
            warm.assign(job.run_id, job.config_path, job.action)
        else:
            process.start()
        self.run_started.emit(job.run_id)
        self.queue_changed.emit()

    def _on_finished(self, job: Job, status: str, error: str) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        self._mark(job.run_id, status, error)
        self.run_finished.emit(job.run_id, status)
        self.queue_changed.emit()
        self._start_ready()

    def _mark(self, run_id: str, status: str, error: str) -> None:
        """The engine marks its own run; this only covers an engine that could not."""
        try:
            with Store(self.db_path) as store:
                run = store.get_run(run_id)
                if run.get("status") not in TERMINAL_STATUSES:
                    store.finish_run(run_id, status if status in TERMINAL_STATUSES else "failed", error=error or None)
        except Exception as exc:  # the GUI must not die because the store is busy or gone
            print(f"metalab: cannot mark run {run_id} as {status}: {exc}")


def describe(jobs: list[Any], *, followed: int = 0) -> str:
    """``followed``: engines of an earlier GUI this one follows from the store; they run too."""
    running = sum(1 for j in jobs if j.process is not None) + followed
    waiting = len(jobs) - (running - followed)
    parts = [f"{running} engine{'s' if running != 1 else ''} running"]
    if waiting:
        parts.append(f"{waiting} queued")
    return ", ".join(parts)
