"""Pick extra Runs-table columns from every config key and final metric the runs have.

A filter box over a checkable list, as W&B's run-table column picker: type "lr" to find
``config:method.params.lr`` and ``config:method.params.inner_lr`` among hundreds of keys.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget


class ColumnChooser(QDialog):
    def __init__(self, available: list[str], chosen: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Runs table columns")
        self.filter = QLineEdit(placeholderText="Filter: lr, k_shot, test_loss…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.list = QListWidget()
        for key in available:
            item = QListWidgetItem(key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if key in chosen else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("config: keys come from the runs' configs, metric: keys from their final metrics."))
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.resize(420, 480)

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(not all(w in item.text().lower() for w in words))

    def chosen(self) -> list[str]:
        return [self.list.item(r).text() for r in range(self.list.count())
                if self.list.item(r).checkState() == Qt.CheckState.Checked]
