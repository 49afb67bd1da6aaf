"""Parameter importances on request: ``study show`` leaves them out (fANOVA on 10,000 trials
took 20 minutes), and the Importances tab's button asks for them, fitted by the engine on at
most 1,000 complete trials. Mixed into ``StudiesPage``, which owns the details, ``_call``
and the Importances tab."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QPushButton

IMPORTANCE_TIMEOUT_MS = 10 * 60_000  # a fit on 1,000 trials took 30 s on a busy 2-core machine
IMPORTANCE_KEYS = ("importances", "importances_computed", "importance_evaluator", "importance_note", "importance_sample")


class StudyImportances:
    def make_importance_button(self) -> QPushButton:
        button = QPushButton("Compute importances")
        button.setToolTip("Optuna's fANOVA importances, on at most 1,000 complete trials drawn at random")
        button.clicked.connect(self.compute_importances)
        return button

    def compute_importances(self) -> None:
        name = self.current_study()
        if name is None:
            return
        self.importance_button.setEnabled(False)
        self.importance_note.setText("Computing importances (on at most 1,000 complete trials)…")
        self._call(["study", "show", name, "--importances", "--json"],
                   lambda result, error: self._importances_loaded(name, result, error), timeout_ms=IMPORTANCE_TIMEOUT_MS)

    def _importances_loaded(self, name: str, result: Any, error: str) -> None:
        self.importance_button.setEnabled(True)
        if self.current_study() != name:
            return  # another study is shown now
        if error or not isinstance(result, dict):
            self.importance_note.setText(f"Cannot compute importances: {error or 'the engine gave no answer'}")
            return
        self.details.update({key: result.get(key) for key in IMPORTANCE_KEYS})
        self.draw_importances()

    def keep_importances(self, new: dict[str, Any]) -> dict[str, Any]:
        """A refresh of the shown study keeps the importances computed for it (said as such)."""
        old = self.details or {}
        if old.get("name") == new.get("name") and old.get("importances_computed") and not new.get("importances_computed"):
            new.update({key: old.get(key) for key in IMPORTANCE_KEYS})
        return new
