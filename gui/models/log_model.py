"""A run's log as a list model: rows are appended in batches, a proxy filters by text."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

MAX_ROWS = 50_000  # older lines are dropped from the view (the store keeps them all)
_LEVEL_COLORS = {"error": QColor(200, 40, 40), "warning": QColor(190, 120, 0), "stderr": QColor(150, 90, 40)}

Index = QModelIndex | QPersistentModelIndex


class LogModel(QAbstractListModel):
    """Rows of (time, level, message)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rows: list[tuple[float, str, str]] = []
        self.warnings: list[str] = []  # every warning line, kept when old rows are dropped

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        stamp, level, message = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            clock = time.strftime("%H:%M:%S", time.localtime(stamp))
            return f"{clock}  {level:<7} {message}"
        if role == Qt.ItemDataRole.ForegroundRole and level in _LEVEL_COLORS:
            return QBrush(_LEVEL_COLORS[level])
        if role == Qt.ItemDataRole.ToolTipRole:
            return message
        return None

    def append_rows(self, rows: list[tuple[float, str, str]]) -> None:
        if not rows:
            return
        self.warnings.extend(message for _, level, message in rows if level == "warning")
        overflow = len(self._rows) + len(rows) - MAX_ROWS
        if overflow > 0:
            drop = min(overflow, len(self._rows))
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            del self._rows[:drop]
            self.endRemoveRows()
            rows = rows[-MAX_ROWS:]
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def text(self) -> str:
        return "\n".join(self.data(self.index(i)) for i in range(len(self._rows)))

    def messages(self) -> list[str]:
        return [r[2] for r in self._rows]


class LogFilterModel(QSortFilterProxyModel):
    """Case-insensitive search over the log lines."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def set_search(self, text: str) -> None:
        self.setFilterFixedString(text)
