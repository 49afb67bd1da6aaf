"""The first rows of a dataset file, for the preview table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

Index = QModelIndex | QPersistentModelIndex
MAX_CELL = 200


class TablePreviewModel(QAbstractTableModel):
    """Rows are dicts; the chosen text and label columns are shown in bold."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._columns: list[str] = []
        self._rows: list[dict[str, Any]] = []
        self._marked: set[str] = set()

    def set_table(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._columns, self._rows = list(columns), list(rows)
        self.endResetModel()

    def set_marked(self, columns: set[str]) -> None:
        self._marked = set(columns)
        if self._columns:
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self._columns) - 1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._rows[index.row()].get(self._columns[index.column()])
        if role == Qt.ItemDataRole.DisplayRole:
            text = "" if value is None else str(value)
            return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"
        if role == Qt.ItemDataRole.ToolTipRole and value is not None:
            return str(value)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._columns):
            name = self._columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return name
            if role == Qt.ItemDataRole.FontRole and name in self._marked:
                font = QFont()
                font.setBold(True)
                return font
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return section + 1
        return None
