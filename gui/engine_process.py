"""One engine run in a child process, its stdout turned into typed Qt signals.

The engine is started with QProcess as ``python -m engine run CONFIG --db DB --events
--run-id ID`` (see docs/GUI.md). It prints one JSON event per line on stdout; anything
else on stdout (a library's print) and everything on stderr goes to the log. Reading is
incremental: a chunk may end in the middle of a line, which waits for the next chunk.

Events are handed on in batches: stdout is read at most every ``READ_MS`` (a fast engine's
chunks wait in the pipe and are parsed together), so an engine printing 2,000 points a
second costs the UI thread some 40 reads a second rather than one per chunk (thousands),
and one signal per read rather than one per point.

Stopping is graceful first (SIGTERM: the engine finishes the step, writes a checkpoint
and exits 130), then a kill after ``stop_timeout`` seconds. An engine that dies without
a ``run_finished`` event is reported as failed with its last error line.

The engine starts in a session (and process group) of its own, so a terminal's SIGHUP or
the GUI dying does not take it down; signals go to the whole group (data-loader workers
included), and whatever is left of the group when the engine exits is killed
(``gui.process_group``).
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from engine.events import parse_line
from gui import process_group

EXIT_FINISHED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
ENGINE_CMD_ENV = "METALAB_ENGINE_CMD"  # developers: another engine command (tests, benchmarks)
_STDERR_TAIL = 200
READ_MS = 25  # stdout is read at most this often; the plots redraw every 50 ms anyway


def repo_root() -> Path:
    import engine

    return Path(engine.__file__).resolve().parent.parent


def environment_with(values: dict[str, str]) -> QProcessEnvironment:
    """This process's environment plus ``values``: how a secret reaches a child (argv is public)."""
    env = QProcessEnvironment.systemEnvironment()
    for key, value in values.items():
        env.insert(key, value)
    return env


def engine_command() -> list[str]:
    """The program and leading arguments that start the engine (``python -m engine``)."""
    override = os.environ.get(ENGINE_CMD_ENV)
    if override:
        import shlex

        return shlex.split(override)
    return [sys.executable, "-m", "engine"]


def status_from_exit(code: int, crashed: bool) -> str:
    if crashed:
        return "failed"
    if code == EXIT_FINISHED:
        return "finished"
    if code == EXIT_INTERRUPTED:
        return "interrupted"
    return "failed"


class EngineProcess(QObject):
    """A run's engine. Signals carry facts; call ``start()`` and ``stop()`` to ask for things."""

    state_changed = Signal(str)  # "warm" (serve: waiting for its run), "starting", "running", "stopping", "finished"
    run_started = Signal(dict)  # the run_started event
    progress_changed = Signal(dict)  # the latest progress event
    metrics_changed = Signal(list)  # [(name, step, value, wall_time), ...] new points, in order
    log_changed = Signal(list)  # [(time, level, message), ...] new lines
    checkpoint_changed = Signal(str, int)
    run_finished = Signal(str, dict, str)  # status, final metrics, error message ("" when none)

    def __init__(
        self,
        run_id: str,
        config_path: str | Path,
        db_path: str | Path,
        *,
        command: list[str] | None = None,
        stop_timeout: float = 20.0,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.run_id = run_id
        self.config_path = str(config_path)
        self.db_path = str(db_path)
        self.command = command or engine_command()
        self.stop_timeout = stop_timeout
        self.state = "idle"
        self.status = ""
        self.error = ""
        self.final_metrics: dict[str, Any] = {}
        self.events_received = 0
        self._buffer = b""
        self._stderr_buffer = b""
        self._stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._last_error_event = ""
        self._finished_event: dict[str, Any] | None = None
        self._stop_requested = False
        self.error_kind = ""  # the last ``error`` event's kind ("oom", "user", ...)
        self.action = "run"  # or "resume": continue ``run_id`` from its newest checkpoint; "serve": warm, no run yet
        self.preload = ""  # serve: the model to load once while waiting
        self.group_id = 0  # the engine's process group, once started
        self._process = QProcess(self)
        process_group.start_in_own_session(self._process)
        self._process.started.connect(self._on_started)
        self._process.setWorkingDirectory(str(repo_root()))
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        self._process.setProcessEnvironment(env)
        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.setInterval(READ_MS)
        self._read_timer.timeout.connect(self._read_stdout)
        self._process.readyReadStandardOutput.connect(self._stdout_ready)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    # --- intents ----------------------------------------------------------------------
    def arguments(self) -> list[str]:
        if self.action == "serve":
            return [*self.command[1:], "serve", "--db", self.db_path, *(["--preload", self.preload] if self.preload else [])]
        if self.action == "resume":
            return [*self.command[1:], "resume", self.run_id, "--db", self.db_path, "--events"]
        return [*self.command[1:], "run", self.config_path, "--db", self.db_path, "--events", "--run-id", self.run_id]

    def start(self) -> None:
        self._set_state("warm" if self.action == "serve" else "starting")
        self._process.start(self.command[0], self.arguments())

    def assign(self, run_id: str, config_path: str | Path, action: str = "run") -> None:
        """A warm engine (``serve``) becomes this run's engine: from here it is as if just started."""
        self.run_id, self.config_path, self.action = run_id, str(config_path), action
        self._stderr_tail.clear()  # its warm-up's lines are not this run's errors
        request = {"action": action, "run_id": run_id, "config": self.config_path}
        self._process.write((json.dumps(request) + "\n").encode())
        self._process.closeWriteChannel()
        self._set_state("starting")

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then a kill if the engine is still there after the timeout."""
        if self.state not in ("starting", "running"):
            return
        self._stop_requested = True
        self._set_state("stopping")
        if not process_group.signal_group(self.group_id, process_group.SIGTERM):
            self._process.terminate()
        self._kill_timer.start(int(self.stop_timeout * 1000))

    def kill(self) -> None:
        self._stop_requested = True
        self._kill()

    def is_active(self) -> bool:
        return self.state in ("starting", "running", "stopping")

    def pid(self) -> int:
        return int(self._process.processId())

    def wait_for_finished(self, msecs: int = 30_000) -> bool:
        return self._process.waitForFinished(msecs)

    # --- reading ----------------------------------------------------------------------
    def _stdout_ready(self) -> None:
        if not self._read_timer.isActive():
            self._read_timer.start()

    def _read_stdout(self) -> None:
        data = self._buffer + bytes(self._process.readAllStandardOutput().data())
        lines = data.split(b"\n")
        self._buffer = lines.pop()  # an unfinished line waits for the next chunk
        self._handle_lines(lines)

    def _handle_lines(self, lines: list[bytes]) -> None:
        points: list[tuple[str, int, float, float]] = []
        logs: list[tuple[float, str, str]] = []
        progress: dict[str, Any] | None = None
        for raw in lines:
            event = parse_line(raw) if raw[:1] == b"{" or raw.lstrip()[:1] == b"{" else None
            if event is None:
                text = raw.decode("utf-8", errors="replace").rstrip("\r")
                if text.strip():
                    logs.append((_now(), "output", text))
                continue
            self.events_received += 1
            kind = event["type"]
            if kind == "metric":
                value = event.get("value")
                points.append(
                    (
                        str(event.get("name")),
                        int(event.get("step") or 0),
                        float("nan") if value is None else float(value),
                        float(event.get("wall_time") or 0.0),
                    )
                )
            elif kind == "progress":
                progress = event
            elif kind == "log":
                logs.append((float(event.get("time") or _now()), str(event.get("level", "info")), str(event.get("message", ""))))
            elif kind == "run_started":
                self._set_state("running")
                self.run_started.emit(event)
            elif kind == "checkpoint":
                logs.append((_now(), "info", f"checkpoint at step {event.get('step')}: {event.get('path')}"))
                self.checkpoint_changed.emit(str(event.get("path")), int(event.get("step") or 0))
            elif kind == "error":
                message = str(event.get("message", ""))
                self._last_error_event = message
                self.error_kind = str(event.get("kind") or "")
                logs.append((float(event.get("time") or _now()), "error", f"{event.get('kind', 'error')}: {message}"))
            elif kind == "run_finished":
                self._finished_event = event
        # Points first: a plot should hold them before it hears the run is over.
        if points:
            self.metrics_changed.emit(points)
        if progress is not None:
            self.progress_changed.emit(progress)
        if logs:
            self.log_changed.emit(logs)

    def _read_stderr(self) -> None:
        if self._read_timer.isActive():  # stdout that came first goes first: the log stays in order
            self._read_timer.stop()
            self._read_stdout()
        data = self._stderr_buffer + bytes(self._process.readAllStandardError().data())
        lines = data.split(b"\n")
        self._stderr_buffer = lines.pop()
        self._handle_stderr(lines)

    def _handle_stderr(self, lines: list[bytes]) -> None:
        logs = []
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            if text.strip():
                self._stderr_tail.append(text)
                logs.append((_now(), "stderr", text))
        if logs:
            self.log_changed.emit(logs)

    def stderr_tail(self) -> list[str]:
        return list(self._stderr_tail)

    # --- ending -----------------------------------------------------------------------
    def _flush(self) -> None:
        self._read_timer.stop()
        self._read_stdout()
        self._read_stderr()
        if self._buffer:
            rest, self._buffer = self._buffer, b""
            self._handle_lines([rest])
        if self._stderr_buffer:
            rest, self._stderr_buffer = self._stderr_buffer, b""
            self._handle_stderr([rest])

    def _on_started(self) -> None:
        self.group_id = int(self._process.processId())

    def _on_finished(self, code: int, exit_status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        process_group.end_group(self.group_id)  # leftovers (data-loader workers) go with the engine
        self._flush()
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        status = status_from_exit(code, crashed)
        if self._stop_requested and (crashed or code == EXIT_INTERRUPTED):
            status = "interrupted"  # stopped on request, gracefully or by the kill that followed
        event = self._finished_event
        if event is not None and status != "failed":
            status = str(event.get("status") or status)
        if event is None and status == "finished":
            status = "failed"  # exit 0 without run_finished: something is off
        self.final_metrics = dict(event.get("final_metrics") or {}) if event else {}
        error = ""
        if status == "failed":
            error = self._last_error_line() or (
                "the engine was killed" if crashed else f"the engine exited with code {code}"
            )
            if crashed and not self._stop_requested:
                error = f"the engine crashed ({error})" if error != "the engine was killed" else error
        elif status == "interrupted":
            if self._stop_requested:
                error = "stopped" if not crashed else f"killed: the engine did not stop within {self.stop_timeout:g} s"
            else:
                error = self._last_error_line() or "interrupted"
        self._end(status, error)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._kill_timer.stop()
            self._end("failed", f"cannot start the engine ({self.command[0]}): {self._process.errorString()}")

    def _end(self, status: str, error: str) -> None:
        if self.state == "finished":
            return
        self.status, self.error = status, error
        self._set_state("finished")
        self.run_finished.emit(status, self.final_metrics, error)

    def _last_error_line(self) -> str:
        if self._last_error_event:
            return self._last_error_event
        for line in reversed(self._stderr_tail):
            text = line.strip()
            if text.startswith("error:"):
                return text[len("error:") :].strip()
        for line in reversed(self._stderr_tail):
            if line.strip():
                return line.strip()
        return ""

    def _kill(self) -> None:
        running = self._process.state() != QProcess.ProcessState.NotRunning
        if running and not process_group.signal_group(self.group_id, process_group.SIGKILL):
            self._process.kill()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


def _now() -> float:
    import time

    return time.time()
