"""One engine kept warm for the next Launch (``metalab-engine serve``, docs/GUI.md).

The window starts it at launch and again whenever no run is going; a run that starts
takes it (``take``) instead of starting a cold engine, which saves the imports, the first
model load and the first backward pass: most of Launch → first point. From the moment it is
taken it is an ordinary ``EngineProcess`` of that run: same stop, kill, process group and
reattach rules. A warm engine that ends before it is taken is simply dropped (the next run
starts cold); at exit it is killed, having written nothing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from gui.engine_process import EngineProcess

ENV_SWITCH = "METALAB_WARM_ENGINE"  # "0": never keep an engine warm (benchmarks' cold figure)


class WarmEngine(QObject):
    changed = Signal()  # started, taken or ended

    def __init__(self, db_path: str | Path, *, command: list[str] | None = None, stop_timeout: float = 20.0,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.command = command
        self.stop_timeout = stop_timeout
        self.process: EngineProcess | None = None
        self.failures = 0

    def start(self, preload: str = "") -> None:
        """Starts one unless one is already warm (or two in a row ended on their own)."""
        if self.process is not None or self.failures >= 2:
            return
        process = EngineProcess("", "", self.db_path, command=self.command, stop_timeout=self.stop_timeout, parent=self)
        process.action, process.preload = "serve", preload
        process.run_finished.connect(lambda *_: self._ended(process))
        self.process = process
        process.start()
        self.changed.emit()

    def take(self, run_id: str, config_path: str | Path, action: str, parent: QObject) -> EngineProcess | None:
        """The warm engine, now ``run_id``'s (not yet assigned: call ``assign`` once listening), or None."""
        process, self.process = self.process, None
        if process is None or process.state != "warm":
            return None
        process.run_finished.disconnect()
        process.setParent(parent)
        process.run_id, process.config_path, process.action = run_id, str(config_path), action
        self.changed.emit()
        return process

    def _ended(self, process: EngineProcess) -> None:
        if self.process is process:
            self.process = None
            self.failures += 1
            self.changed.emit()

    def shutdown(self) -> None:
        """At exit: a warm engine has no run, nothing to save."""
        process, self.process = self.process, None
        if process is not None:
            process.run_finished.disconnect()
            process.kill()
            process.wait_for_finished(2000)
