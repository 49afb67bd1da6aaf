"""Studies: runs that belong to a hyper-parameter study, grouped by study name.

A placeholder until the studies issue lands: it lists the trial runs the store holds.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from engine.store import Store
from gui.pages.runs import RunsPage


class StudiesPage(RunsPage):
    def __init__(self, db_path: Path, parent: QWidget | None = None):
        super().__init__(db_path, parent)

    def load_runs(self, store: Store) -> list[dict]:
        runs = [r for r in store.list_runs(limit=5000) if r.get("study")]
        return sorted(runs, key=lambda r: (r["study"], r.get("trial_number") or 0))
