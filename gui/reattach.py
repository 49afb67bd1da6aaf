"""Runs whose engine outlived an earlier GUI: followed from the store, and still stoppable.

Engines run in a session of their own (``gui.process_group``), so they go on when the GUI
is killed, and record their runs as usual. At the next start the window calls
``Reattacher.attach_live_runs``: every ``running`` run of this host whose engine pid is
alive gets a ``RunSession`` fed by a ``StoreFollower``, which has the same signals as an
``EngineProcess`` (``RunSession.attach`` takes either). Runs whose engine died were already
marked ``interrupted`` by ``Store.mark_stale_runs``.

A follower polls the store about once a second on a worker thread: new metric and log
rows (by rowid), the run's status, and whether the engine's pid is still alive. When the
engine dies without marking its run the follower marks it (``mark_stale_runs``), so a dead
engine is seen within about a second. Stopping signals the engine's process group: SIGTERM,
then SIGKILL after the stop timeout.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from engine.store import TERMINAL_STATUSES, Store
from gui import process_group
from gui.background import Worker
from gui.run_session import RunSession

POLL_MS = 1000


def live_runs(db_path: str | Path) -> list[dict[str, Any]]:
    """``running`` runs of this host whose engine process is alive (call after ``mark_stale_runs``)."""
    here = socket.gethostname()
    with Store(db_path, readonly=True) as store:
        runs = store.list_runs(status="running")
    out = []
    for run in runs:
        pid = int(run.get("pid") or 0)
        if run.get("host") == here and process_group.pid_alive(pid):
            out.append(run)
    return out


def followable(run: dict[str, Any]) -> bool:
    """A queued or running run whose engine is alive on this host: another process writes it
    (a study worker's trial, an engine an earlier GUI started), so a snapshot would freeze."""
    pid = int(run.get("pid") or 0)
    return (run.get("status") in ("queued", "running") and run.get("host") == socket.gethostname()
            and pid > 0 and process_group.pid_alive(pid))


def _poll(db_path: Path, run_id: str, pid: int, metric_rowid: int, log_rowid: int) -> dict[str, Any]:
    """One look at the store (worker thread, its own connection)."""
    with Store(db_path, readonly=True) as store:
        run = store.get_run(run_id)
        metrics, metric_rowid = store.metrics_since(run_id, metric_rowid)
        logs, log_rowid = store.logs_since(run_id, log_rowid)
    marked = False
    if run.get("status") == "running" and not process_group.pid_alive(pid):
        with Store(db_path) as store:  # the engine died without marking its run
            marked = run_id in store.mark_stale_runs()
            run = store.get_run(run_id)
    return {"run": run, "metrics": metrics, "metric_rowid": metric_rowid, "logs": logs, "log_rowid": log_rowid,
            "marked": marked}


class StoreFollower(QObject):
    """A run's progress read from the store; the signals of ``EngineProcess``."""

    state_changed = Signal(str)
    run_started = Signal(dict)
    progress_changed = Signal(dict)
    metrics_changed = Signal(list)
    log_changed = Signal(list)
    checkpoint_changed = Signal(str, int)
    run_finished = Signal(str, dict, str)

    def __init__(self, run: dict[str, Any], db_path: str | Path, *, stop_timeout: float = 20.0,
                 interval_ms: int = POLL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.run_id = str(run["id"])
        self.db_path = Path(db_path)
        self.pid = int(run.get("pid") or 0)
        self.total = int(((run.get("config") or {}).get("train") or {}).get("episodes") or 0)
        self.stop_timeout = stop_timeout
        self.state = "running"
        self.status = ""
        self.error = ""
        self.detected_at: float | None = None  # when the follower saw the run end
        self._metric_rowid = 0
        self._log_rowid = 0
        self._last_step = 0
        self._stop_requested = False
        self._worker = Worker(self)
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll)
        self._kill_timer = QTimer(self, singleShot=True)
        self._kill_timer.timeout.connect(self._kill)

    def start(self) -> None:
        self.poll()
        self._timer.start()

    def shutdown(self) -> None:
        self._timer.stop()
        self._kill_timer.stop()

    def is_active(self) -> bool:
        return self.state in ("running", "stopping")

    def stop(self) -> None:
        """SIGTERM to the engine's group (it finishes the step, checkpoints, marks the run), then SIGKILL."""
        if not self.is_active():
            return
        self._stop_requested = True
        self._set_state("stopping")
        process_group.signal_group(self.pid, process_group.SIGTERM)
        self._kill_timer.start(int(self.stop_timeout * 1000))
        self._timer.setInterval(min(self._timer.interval(), 250))  # see the end soon

    def _kill(self) -> None:
        if process_group.pid_alive(self.pid):
            process_group.signal_group(self.pid, process_group.SIGKILL)
            self.error = f"killed: the engine did not stop within {self.stop_timeout:g} s"

    def poll(self) -> None:
        if self.state == "finished" or self._worker.busy():
            return
        args = (self.db_path, self.run_id, self.pid, self._metric_rowid, self._log_rowid)
        self._worker.submit(lambda: _poll(*args), self._polled, self._failed)

    def _polled(self, result: dict[str, Any]) -> None:
        if self.state == "finished":
            return
        self._metric_rowid, self._log_rowid = result["metric_rowid"], result["log_rowid"]
        points = [(r["name"], int(r["step"] or 0), float("nan") if r["value"] is None else float(r["value"]),
                   float(r.get("wall_time") or 0.0)) for r in result["metrics"]]
        if points:
            self.metrics_changed.emit(points)
            steps = [p[1] for p in points if p[0] == "train_loss"] or [p[1] for p in points]
            self._last_step = max(self._last_step, *steps)
            self.progress_changed.emit({"done": self._last_step, "total": self.total, "phase": "train",
                                        "eta_seconds": None, "source": "store"})
        if result["logs"]:
            self.log_changed.emit([(r["time"], r["level"], r["message"]) for r in result["logs"]])
        run = result["run"]
        status = str(run.get("status") or "")
        if status in TERMINAL_STATUSES:
            error = str(run.get("error") or "")
            if self._stop_requested and status == "interrupted":
                error = self.error or "stopped"
            self._finish(status, dict(run.get("final_metrics") or {}), error)

    def _failed(self, exc: BaseException) -> None:
        self.log_changed.emit([(time.time(), "warning", f"cannot read the run from the store: {exc}")])

    def _finish(self, status: str, final: dict[str, Any], error: str) -> None:
        self.shutdown()
        self.detected_at = time.time()
        self.status, self.error = status, error
        self._set_state("finished")
        self.run_finished.emit(status, final, error)
        self._reap(time.time() + 10.0)

    def _reap(self, deadline: float) -> None:
        """Once the engine has exited, ends what is left of its group (data-loader workers)."""
        if process_group.pid_alive(self.pid) and time.time() < deadline:
            QTimer.singleShot(250, self, lambda: self._reap(deadline))
            return
        if not process_group.pid_alive(self.pid):
            process_group.end_group(self.pid)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


class Reattacher(QObject):
    """The followers of this GUI session, by run id."""

    run_finished = Signal(str, str)  # run id, status

    def __init__(self, db_path: str | Path, *, stop_timeout: float = 20.0, interval_ms: int = POLL_MS,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.stop_timeout = stop_timeout
        self.interval_ms = interval_ms
        self.followers: dict[str, StoreFollower] = {}

    def attach_live_runs(self) -> list[RunSession]:
        """A session per live engine of this host, already following it."""
        try:
            runs = live_runs(self.db_path)
        except Exception:  # no database yet, or unreadable: nothing to re-attach to
            return []
        return [self.follow(run) for run in runs if run["id"] not in self.followers]

    def follow(self, run: dict[str, Any], note: str = "") -> RunSession:
        """A session fed from the store while ``run``'s engine (pid in its row) goes on elsewhere."""
        session = RunSession(run["id"], run.get("name") or run["id"], device=run.get("device") or "", parent=self)
        session.status = "running"
        follower = StoreFollower(run, self.db_path, stop_timeout=self.stop_timeout, interval_ms=self.interval_ms,
                                 parent=self)
        session.attach(follower)
        note = note or f"re-attached to the engine (pid {follower.pid}); following its progress from the database"
        session.log.append_rows([(time.time(), "info", note)])
        follower.run_finished.connect(lambda status, _f, _e, rid=follower.run_id: self._ended(rid, status))
        self.followers[follower.run_id] = follower
        follower.start()
        return session

    def stop(self, run_id: str) -> bool:
        """True when the run is one of ours (then it is being stopped)."""
        follower = self.followers.get(run_id)
        if follower is None:
            return False
        follower.stop()
        return True

    def active(self) -> list[str]:
        return [rid for rid, f in self.followers.items() if f.is_active()]

    def shutdown(self) -> None:
        for follower in self.followers.values():
            follower.shutdown()

    def _ended(self, run_id: str, status: str) -> None:
        self.run_finished.emit(run_id, status)
