"""A read-only table of plain rows (lists of cells) with optional per-cell highlight.

Used for the Compare page's results, paired statistics and config diff, and the Studies
page's trials: views observe it; ``set_rows`` replaces the content in one reset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

Index = QModelIndex | QPersistentModelIndex
HIGHLIGHT = QColor(255, 220, 120, 110)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class RecordsModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[str] = (), parent: QObject | None = None):
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[list[Any]] = []
        self.sort_keys: list[list[Any]] = []
        self.tooltips: dict[tuple[int, int], str] = {}
        self.highlight: Callable[[int, int], bool] = lambda row, col: False

    def set_rows(self, rows: Sequence[Sequence[Any]], *, columns: Sequence[str] | None = None,
                 sort_keys: Sequence[Sequence[Any]] | None = None) -> None:
        self.beginResetModel()
        if columns is not None:
            self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        self.sort_keys = [list(r) for r in sort_keys] if sort_keys is not None else self.rows
        self.tooltips = {}
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.rows[r][c]
            return "" if value is None else str(value)
        if role == SORT_ROLE:
            value = self.sort_keys[r][c]
            return value if isinstance(value, (int, float)) else ("" if value is None else str(value))
        if role == Qt.ItemDataRole.BackgroundRole and self.highlight(r, c):
            return QBrush(HIGHLIGHT)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltips.get((r, c)) or (str(self.rows[r][c]) if self.rows[r][c] is not None else None)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal and section < len(self.columns):
            return self.columns[section]
        return None

    def to_rows(self) -> list[list[str]]:
        """Header plus cells as text (for CSV and reports)."""
        return [list(self.columns), *[["" if v is None else str(v) for v in row] for row in self.rows]]
