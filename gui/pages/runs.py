"""Runs: every run in the store, newest first (the comparison issue builds on this page).

Read-only: rows come from ``Store.list_runs`` through ``RunsModel``. Opening a run shows
its stored metrics and log on the Monitor page.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from engine.errors import UserError
from engine.store import Store
from gui.models.runs_model import RunsModel


class RunsPage(QWidget):
    open_requested = Signal(str)  # run id

    def __init__(self, db_path: Path, parent: QWidget | None = None, *, title: str = "All runs in the database, newest first."):
        super().__init__(parent)
        self.db_path = db_path
        self.model = RunsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._open)
        self.message = QLabel(title)
        self.message.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button = QPushButton("Open in monitor")
        self.open_button.clicked.connect(lambda: self._open(self.table.currentIndex()))
        top = QHBoxLayout()
        top.addWidget(self.message, 1)
        top.addWidget(self.open_button)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def load_runs(self, store: Store) -> list[dict]:
        return store.list_runs(limit=2000)

    def refresh(self) -> None:
        try:
            with Store(self.db_path) as store:
                runs = self.load_runs(store)
        except UserError as exc:
            self.message.setText(str(exc))
            return
        self.model.set_runs(runs)

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(self.model.run(index.row())["id"])
