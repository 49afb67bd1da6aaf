"""Runs to and from TensorBoard and MLflow, for the Runs page: engine calls in a subprocess.

The GUI stays light (no torch, no mlflow): ``metalab-engine runs export|import ... --json``
does the work, and this object reports a one-line outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from gui.engine_info import EngineCall
from gui.formatting import plural

EXCHANGE_TIMEOUT_MS = 15 * 60_000  # an MLflow export uploads each run's model folder


def export_tensorboard_args(ids: list[str], folder: Path, db_path: Path) -> list[str]:
    return ["runs", "export", *ids, "--format", "tensorboard", "-o", str(folder), "--db", str(db_path), "--json"]


def export_mlflow_args(ids: list[str], uri: str, db_path: Path) -> list[str]:
    return ["runs", "export", *ids, "--to-mlflow", uri, "--db", str(db_path), "--json"]


def import_tensorboard_args(folder: Path, db_path: Path) -> list[str]:
    return ["runs", "import", str(folder), "--db", str(db_path), "--json"]


def import_mlflow_args(uri: str, db_path: Path) -> list[str]:
    return ["runs", "import", "--from-mlflow", uri, "--db", str(db_path), "--json"]


def outcome_text(result: dict[str, Any]) -> str:
    if "imported" in result:
        return f"Imported {plural(len(result['imported']), 'run')}"
    parts = []
    if result.get("tensorboard"):
        parts.append(f"{plural(len(result['tensorboard']), 'run')} to TensorBoard in {Path(result['tensorboard'][0]).parent}")
    if result.get("mlflow"):
        parts.append(f"{plural(len(result['mlflow']), 'run')} to MLflow")
    return "Exported " + " and ".join(parts) if parts else "Nothing exported"


class RunExchange(QObject):
    finished = Signal(bool, str)  # ok, a one-line message

    def __init__(self, command: list[str], parent: QObject | None = None):
        super().__init__(parent)
        self.command = command
        self.call: EngineCall | None = None
        self.args: list[str] = []  # the last call's, to repeat it (an import asked to go again)

    @property
    def busy(self) -> bool:
        return self.call is not None

    def start(self, args: list[str]) -> None:
        self.args = list(args)
        self.call = EngineCall(args, self.command, self, timeout_ms=EXCHANGE_TIMEOUT_MS)
        self.call.done.connect(self._done)

    def _done(self, result: Any, error: str) -> None:
        self.call = None
        if error or not isinstance(result, dict):
            self.finished.emit(False, error or "the engine gave no answer")
        else:
            self.finished.emit(True, outcome_text(result))
