"""Run rows from the store as a table model (the Runs and Studies pages, the Monitor's picker)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

Index = QModelIndex | QPersistentModelIndex

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("status", "Status"),
    ("method", "Method"),
    ("model", "Model"),
    ("dataset", "Dataset"),
    ("task", "Task"),
    ("test_accuracy", "Test accuracy"),
    ("device", "Device"),
    ("created_at", "Created"),
    ("id", "Id"),
)
STATUS_COLORS = {"failed": QColor(200, 40, 40), "interrupted": QColor(190, 120, 0), "running": QColor(30, 120, 200)}


def cell(run: dict[str, Any], key: str) -> str:
    if key == "task":
        if run.get("task_mode") == "supervised":
            return "supervised"
        return f"{run.get('n_way') or '?'}-way {run.get('k_shot') or '?'}-shot"
    if key == "test_accuracy":
        final = run.get("final_metrics") or {}
        acc = final.get("test_accuracy")
        if acc is None:
            return ""
        ci = final.get("test_accuracy_ci95")
        return f"{acc:.3f} ± {ci:.3f}" if isinstance(ci, (int, float)) else f"{acc:.3f}"
    if key == "created_at":
        return (run.get("created_at") or "").replace("T", " ")[:19]
    value = run.get(key)
    return "" if value is None else str(value)


class RunsModel(QAbstractTableModel):
    """A snapshot of ``Store.list_runs()``; ``set_runs`` replaces it."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._runs: list[dict[str, Any]] = []

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._runs = list(runs)
        self.endResetModel()

    def run(self, row: int) -> dict[str, Any]:
        return self._runs[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run = self._runs[index.row()]
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell(run, key)
        if role == Qt.ItemDataRole.ForegroundRole and key == "status" and run.get("status") in STATUS_COLORS:
            return QBrush(STATUS_COLORS[run["status"]])
        if role == Qt.ItemDataRole.ToolTipRole and key == "status" and run.get("error"):
            return run["error"]
        if role == Qt.ItemDataRole.UserRole:
            return run["id"]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None
