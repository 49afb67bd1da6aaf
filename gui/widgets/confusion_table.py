"""A confusion matrix as a table: rows are true classes, columns predicted ones, each cell
shaded by its share of the row (green on the diagonal, red off it), and a last column
with each class's accuracy."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

RIGHT, WRONG = QColor(26, 150, 65), QColor(215, 25, 28)
ACCURACY_HEADER = "accuracy"


def shade(base: QColor, share: float) -> QBrush:
    color = QColor(base)
    color.setAlpha(int(20 + 200 * share) if share > 0 else 0)
    return QBrush(color)


class ConfusionTable(QTableWidget):
    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table: dict[str, Any] | None = None

    def show_table(self, table: dict[str, Any]) -> None:
        self.table = table
        classes, matrix = table["classes"], table["matrix"]
        self.clear()
        self.setRowCount(len(classes))
        self.setColumnCount(len(classes) + 1)
        self.setHorizontalHeaderLabels([f"→ {c}" for c in classes] + [ACCURACY_HEADER])
        self.setVerticalHeaderLabels(list(classes))
        for i, (true, row) in enumerate(zip(classes, matrix, strict=True)):
            total = sum(row)
            for j, count in enumerate(row):
                item = QTableWidgetItem(str(count) if count else "")
                share = count / total if total else 0.0
                item.setBackground(shade(RIGHT if i == j else WRONG, share))
                item.setToolTip(f"{true} predicted as {classes[j]}: {count} of {total} ({share:.0%})")
                self.setItem(i, j, item)
            accuracy = table["per_class_accuracy"].get(true)
            item = QTableWidgetItem("-" if accuracy is None else f"{accuracy:.0%}")
            item.setToolTip(f"{true}: {row[i]} of {total} queries right" if total else f"{true}: no queries")
            self.setItem(i, len(classes), item)

    def per_class_accuracy(self) -> dict[str, str]:
        """The accuracy column as shown (tests read it)."""
        last = self.columnCount() - 1
        return {self.verticalHeaderItem(r).text(): self.item(r, last).text() for r in range(self.rowCount())}
