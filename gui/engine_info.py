"""What only the engine can tell (devices, model sizes), asked by short subprocess calls.

The GUI never imports torch or transformers: ``python -m engine devices --json`` and
``python -m engine model-info NAME --json`` run in a QProcess, answers are cached in
memory and in QSettings (so the next start shows the last known devices at once and
refreshes them in the background).
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from gui.engine_process import engine_command, repo_root
from gui.settings import app_settings

FALLBACK_DEVICES = [{"name": "cpu", "label": "CPU"}]
CALL_TIMEOUT_MS = 60_000
BASELINE_TIMEOUT_MS = 600_000  # embeds every test episode's texts: seconds on a GPU, minutes on a busy CPU


def device_label(device: dict[str, Any]) -> str:
    label = device.get("label") or device.get("name", "?")
    free, total = device.get("memory_free"), device.get("memory_total")
    if device.get("name", "cpu") != "cpu" and isinstance(free, (int, float)) and isinstance(total, (int, float)) and total:
        label += f" — {format_bytes(free)} free of {format_bytes(total)}"
    return label


def format_bytes(size: float | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def format_count(n: float | None) -> str:
    if n is None:
        return "?"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(int(n))


def error_text(stderr_lines: list[str], code: int) -> str:
    """The engine's last ``error:`` message with the lines that follow it, else its last line."""
    starts = [i for i, line in enumerate(stderr_lines) if line.startswith("error:")]
    if not starts:
        return stderr_lines[-1] if stderr_lines else f"exit code {code}"
    text = "\n".join(stderr_lines[starts[-1]:])
    return text.removeprefix("error:").strip()


class EngineCall(QObject):
    """One engine call: collects stdout; stderr's ``progress:`` lines are relayed as they come.

    The error is the engine's whole message (its ``error:`` line and every line after it:
    a message can span lines, e.g. the keys of a state dict that does not load)."""

    done = Signal(object, str)  # parsed JSON or None, error message
    progress = Signal(str)  # the text after "progress:"

    def __init__(self, args: list[str], command: list[str], parent: QObject, *, timeout_ms: int = CALL_TIMEOUT_MS,
                 environment: QProcessEnvironment | None = None):
        super().__init__(parent)
        self.process = QProcess(self)
        self.process.setWorkingDirectory(str(repo_root()))
        if environment is not None:
            self.process.setProcessEnvironment(environment)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self._stderr: list[str] = []
        self._partial = b""
        self._timer = QTimer(self, singleShot=True, interval=timeout_ms)
        self._timer.timeout.connect(self.process.kill)
        self._ended = False
        self.process.start(command[0], [*command[1:], *args])
        if timeout_ms > 0:
            self._timer.start()

    def _read_stderr(self) -> None:
        data = self._partial + bytes(self.process.readAllStandardError().data())
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            if line.startswith("progress:"):
                self.progress.emit(line.removeprefix("progress:").strip())

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        out = bytes(self.process.readAllStandardOutput().data()).decode("utf-8", "replace")
        self._read_stderr()
        err = [line for line in [*self._stderr, self._partial.decode("utf-8", "replace")] if line.strip()]
        if code == 0:
            try:
                self._end(json.loads(out), "")
                return
            except ValueError:
                self._end(None, "the engine's answer is not JSON")
                return
        self._end(None, error_text(err, code))

    def kill(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(1000)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._end(None, f"cannot start the engine: {self.process.errorString()}")

    def _end(self, result: Any, error: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._timer.stop()
        self.done.emit(result, error)
        # No deleteLater() here: a call can end inside EngineInfo.shutdown() while its parent
        # is being torn down, and a deferred delete then hits a freed object. Calls are few
        # (devices once, one per model) and hold no process once finished.


class EngineInfo(QObject):
    devices_changed = Signal(list)
    model_info_changed = Signal(str, dict)
    model_info_failed = Signal(str, str)

    def __init__(self, *, command: list[str] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.command = command or engine_command()
        settings = app_settings()
        try:
            self.devices: list[dict[str, Any]] = json.loads(str(settings.value("cache/devices", "[]"))) or []
        except ValueError:
            self.devices = []
        self._models: dict[str, dict[str, Any]] = {}
        self._asking: set[str] = set()
        self._calls: set[EngineCall] = set()
        self.devices_known = bool(self.devices)

    def _call(self, args: list[str], *, timeout_ms: int = CALL_TIMEOUT_MS) -> EngineCall:
        call = EngineCall(args, self.command, self, timeout_ms=timeout_ms)
        self._calls.add(call)
        call.done.connect(lambda *_: self._calls.discard(call))
        return call

    def shutdown(self) -> None:
        """Ends calls still waiting (at exit)."""
        for call in list(self._calls):
            call.kill()
        self._calls.clear()

    def baseline(self, config_path: str) -> EngineCall:
        """The frozen encoder scored on a config's meta-test episodes (``baseline CONFIG --json``)."""
        return self._call(["baseline", config_path, "--json"], timeout_ms=BASELINE_TIMEOUT_MS)

    def refresh_devices(self) -> None:
        self._call(["devices", "--json"]).done.connect(self._on_devices)

    def _on_devices(self, result: Any, error: str) -> None:
        if isinstance(result, list) and result:
            self.devices = [d for d in result if isinstance(d, dict) and "name" in d]
            self.devices_known = True
            app_settings().setValue("cache/devices", json.dumps(self.devices))
        elif not self.devices:
            self.devices = list(FALLBACK_DEVICES)
        self.devices_changed.emit(self.devices)

    def resolve_auto(self) -> str:
        """The device ``auto`` picks: the first accelerator the engine reported, else the CPU."""
        for device in self.devices:
            if device.get("name", "cpu") != "cpu":
                name = str(device["name"])
                return "cuda:0" if name == "cuda" else name
        return "cpu"

    def model_info(self, name: str) -> dict[str, Any] | None:
        """Cached info, or None (then asks the engine; ``model_info_changed`` follows)."""
        if name in self._models:
            return self._models[name]
        cached = app_settings().value(f"cache/model/{name}")
        if cached:
            try:
                self._models[name] = json.loads(str(cached))
                return self._models[name]
            except ValueError:
                pass
        if name not in self._asking:
            self._asking.add(name)
            call = self._call(["model-info", name, "--json"])
            call.done.connect(lambda result, error, n=name: self._on_model(n, result, error))
        return None

    def _on_model(self, name: str, result: Any, error: str) -> None:
        self._asking.discard(name)
        if isinstance(result, dict):
            self._models[name] = result
            if not name.startswith((".", "/")):  # local folders change; ids and bundled names do not
                app_settings().setValue(f"cache/model/{name}", json.dumps(result))
            self.model_info_changed.emit(name, result)
        else:
            self.model_info_failed.emit(name, error or "no answer from the engine")
