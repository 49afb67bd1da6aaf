"""The Runs table's columns: the fixed ones shown or hidden, and config keys or final metrics
added as columns, both remembered in the settings. Mixed into ``RunsPage``, which owns the
table, its model, the column actions and ``refresh``."""

from __future__ import annotations

import json

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QDialog

from engine.errors import UserError
from engine.store import Store
from gui.models.runs_model import CONFIG_PREFIX, HIDDEN_BY_DEFAULT, KEYS, METRIC_PREFIX, flat_config
from gui.settings import app_settings
from gui.widgets.column_chooser import ColumnChooser


class RunColumns:
    extra_columns: list[str]

    def all_columns(self) -> tuple[str, ...]:
        return (*KEYS, *self.extra_columns)

    def set_column_visible(self, column: int, visible: bool) -> None:
        self.table.setColumnHidden(column, not visible)
        hidden = [KEYS[i] for i in range(len(KEYS)) if self.table.isColumnHidden(i)]
        app_settings().setValue("runs/hidden_columns", ",".join(hidden))

    def available_columns(self) -> list[str]:
        """Every config key and final metric among the newest runs, for the column chooser."""
        try:
            with Store(self.db_path, readonly=self.db_path.exists()) as store:
                runs = store.list_runs(limit=500, config=True)
        except UserError:
            runs = []
        config_keys = sorted({k for r in runs for k in flat_config(r.get("config") or {})} - {"name", "tags", "notes"})
        metric_keys = sorted({k for r in runs for k in (r.get("final_metrics") or {})})
        return [f"{CONFIG_PREFIX}{k}" for k in config_keys] + [f"{METRIC_PREFIX}{k}" for k in metric_keys]

    def ask_columns(self, available: list[str], chosen: list[str]) -> list[str] | None:
        dialog = ColumnChooser(available, chosen, self)
        return dialog.chosen() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def choose_columns(self) -> None:
        available = self.available_columns()
        options = available + [k for k in self.extra_columns if k not in available]
        chosen = self.ask_columns(options, self.extra_columns)
        if chosen is not None:
            self.set_extra_columns(chosen)

    def set_extra_columns(self, keys: list[str]) -> None:
        """Config and metric columns after the fixed ones; saved, and loaded from the store."""
        self.extra_columns = [k for k in keys if k.startswith((CONFIG_PREFIX, METRIC_PREFIX))]
        app_settings().setValue("runs/extra_columns", json.dumps(self.extra_columns))
        self.model.set_columns(self.all_columns())
        for index in range(len(KEYS), len(self.all_columns())):
            self.table.setColumnHidden(index, False)
            self.table.setColumnWidth(index, 110)
        self.refresh()

    def _restore_columns(self) -> None:
        try:
            extra = json.loads(str(app_settings().value("runs/extra_columns", "[]")))
        except ValueError:
            extra = []
        self.extra_columns = [k for k in extra if isinstance(k, str) and k.startswith((CONFIG_PREFIX, METRIC_PREFIX))]
        if self.extra_columns:
            self.model.set_columns(self.all_columns())
        saved = app_settings().value("runs/hidden_columns")
        hidden = set(str(saved).split(",")) if saved is not None else set(HIDDEN_BY_DEFAULT)
        for index, key in enumerate(KEYS):
            self.column_actions[key].blockSignals(True)
            self.column_actions[key].setChecked(key not in hidden)
            self.column_actions[key].blockSignals(False)
            self.table.setColumnHidden(index, key in hidden)

    def _header_menu(self, pos: QPoint) -> None:
        self.columns_menu.exec(self.table.horizontalHeader().mapToGlobal(pos))
