"""Runs: every run in the store in a sortable, filterable table, with per-run actions.

Rows come from ``Store.list_runs`` on a worker thread (``gui.background.Worker``) into a
``RunsModel``; a ``RunsFilter`` proxy sorts and filters it. Edits (rename, tags, notes,
delete) are single store writes, then patch the model's row; exports and imports are
``gui.pages.runs_transfer``. Dialogs go through small
``ask_*``/``confirm`` methods so tests can answer them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import UserError
from engine.store import Store
from gui.background import Worker
from gui.engine_process import engine_command
from gui.export_places import export_folder
from gui.formatting import plural
from gui.models.runs_model import (
    COLUMNS,
    CONFIG_PREFIX,
    KEYS,
    RunsFilter,
    RunsModel,
    add_progress,
    prepare,
    sort_runs,
)
from gui.resume import NO_CHECKPOINT_TIP, RESUME_TIP, can_resume, has_checkpoint
from gui.pages.runs_columns import RunColumns
from gui.pages.runs_transfer import RunTransfers
from gui.run_exchange import RunExchange
from gui.widgets import plain_message
from gui.widgets.progress_delegate import ProgressDelegate

LIVE_REFRESH_MS = 3000  # while runs are going and the page is visible
TICK_MS = 1000  # a running run's duration between reloads
ALL = "(all)"


class RunsPage(RunColumns, RunTransfers, QWidget):
    open_requested = Signal(str)  # run id: its curves and log
    compare_requested = Signal(list)  # run ids
    clone_requested = Signal(dict)  # a run's config, for New experiment
    search_requested = Signal(dict)  # a run's config, the base of a new study
    resume_requested = Signal(str)  # run id: continue an interrupted or failed run from its checkpoint
    trial_requested = Signal(str, int)  # study name, trial number: a study trial's run, shown on the Studies page
    inspect_requested = Signal(str)  # run id: its embedding maps and confusion matrices (Inspect page)
    runs_changed = Signal()  # after a reload

    def __init__(
        self, db_path: Path, parent: QWidget | None = None, *, limit: int | None = None, command: list[str] | None = None
    ):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.limit = limit
        self.worker = Worker(self)
        self.model = RunsModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.loaded = False
        self.extra_columns: list[str] = []  # config:KEY and metric:NAME columns the user added

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(KEYS.index("created_at"), Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        for key, width in (("name", 180), ("status", 80), ("progress", 80), ("method", 80), ("model", 170), ("dataset", 170), ("task", 90),
                           ("result", 180), ("test_accuracy", 110), ("test_macro_f1", 110), ("val_accuracy", 100), ("duration", 90),
                           ("created_at", 140), ("tags", 120)):
            self.table.setColumnWidth(KEYS.index(key), width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._row_menu)
        self.table.doubleClicked.connect(self._open_index)
        self.table.setItemDelegateForColumn(KEYS.index("progress"), ProgressDelegate(self.table))
        self.enter_action = QAction("Open", self.table)
        self.enter_action.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
        self.enter_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.enter_action.triggered.connect(self.open_selected)
        self.table.addAction(self.enter_action)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.search = QLineEdit(placeholderText="Filter: name, id, model, dataset, tag, notes…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_text)
        self.filters: dict[str, QComboBox] = {}
        filter_row = QHBoxLayout()
        filter_row.addWidget(self.search, 2)
        for key, label in (("status", "Status"), ("method", "Method"), ("dataset", "Dataset"), ("tag", "Tag")):
            combo = QComboBox()
            # a long dataset path must not push the row past the window (1024 px must do)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(5)
            combo.addItem(ALL)
            combo.currentTextChanged.connect(lambda text, k=key: self.proxy.set_field(k, "" if text == ALL else text))
            self.filters[key] = combo
            filter_row.addWidget(QLabel(label))
            filter_row.addWidget(combo, 1)
        self.columns_button = QToolButton(text="Columns")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_menu = QMenu(self)
        self.column_actions: dict[str, QAction] = {}
        for index, (key, title) in enumerate(COLUMNS):
            act = self.columns_menu.addAction(title)
            act.setCheckable(True)
            act.toggled.connect(lambda on, i=index: self.set_column_visible(i, on))
            self.column_actions[key] = act
        self.columns_menu.addSeparator()
        self.columns_menu.addAction("Config and metric columns…", self.choose_columns)
        self.columns_button.setMenu(self.columns_menu)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        filter_row.addWidget(self.columns_button)
        filter_row.addWidget(self.refresh_button)

        self.open_button = QPushButton("Curves && log")
        self.open_button.setToolTip("Open the selected run's curves and log on the Monitor page (double-click a row)")
        self.open_button.clicked.connect(self.open_selected)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Compare the selected runs (2 to 20)")
        self.compare_button.clicked.connect(self.compare_selected)
        self.clone_button = QPushButton("Clone config")
        self.clone_button.setToolTip("Open the selected run's config in New experiment")
        self.clone_button.clicked.connect(self.clone_selected)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip(RESUME_TIP)
        self.resume_button.clicked.connect(self.resume_selected)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self.rename_selected)
        self.tags_button = QPushButton("Tags…")
        self.tags_button.clicked.connect(self.tag_selected)
        self.notes_button = QPushButton("Notes…")
        self.notes_button.clicked.connect(self.notes_selected)
        self.export_button = QToolButton(text="Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        export_menu = QMenu(self)
        export_menu.addAction("Metrics as CSV…", lambda: self.export_selected("csv"))
        export_menu.addAction("Everything as JSON…", lambda: self.export_selected("json"))
        export_menu.addAction("Config as TOML…", lambda: self.export_selected("toml"))
        export_menu.addSeparator()
        export_menu.addAction("To TensorBoard…", self.export_selected_to_tensorboard)
        export_menu.addAction("To MLflow…", self.export_selected_to_mlflow)
        self.export_button.setMenu(export_menu)
        self.import_button = QToolButton(text="Import")
        self.import_button.setToolTip("Runs made elsewhere, as imported runs: their curves overlay MetaLab's in Compare")
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        import_menu = QMenu(self)
        import_menu.addAction("TensorBoard folder…", self.import_tensorboard)
        import_menu.addAction("MLflow runs…", self.import_mlflow)
        self.import_button.setMenu(import_menu)
        filter_row.addWidget(self.import_button)  # beside Refresh: it adds rows, and needs no selection
        self.exchange = RunExchange(command or engine_command(), self)
        self.exchange.finished.connect(self._exchange_finished)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.delete_selected)
        actions = QHBoxLayout()
        for widget in (self.open_button, self.compare_button, self.clone_button, self.resume_button, self.rename_button,
                       self.tags_button, self.notes_button, self.export_button, self.delete_button):
            actions.addWidget(widget)
        actions.addStretch(1)
        self.message = QLabel("")
        actions.addWidget(self.message)

        layout = QVBoxLayout(self)
        layout.addLayout(filter_row)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)

        self.live_timer = QTimer(self, interval=LIVE_REFRESH_MS)
        self.live_timer.timeout.connect(self._live_refresh)
        self.tick_timer = QTimer(self, interval=TICK_MS)
        self.tick_timer.timeout.connect(lambda: self.model.tick() if self.isVisible() else None)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        self._restore_columns()
        self._update_buttons()

    # --- loading ----------------------------------------------------------------------------
    def load_runs(self, store: Store) -> list[dict]:
        """The rows; configs only when a config column is shown (they double the load time)."""
        with_config = any(k.startswith(CONFIG_PREFIX) for k in self.extra_columns)
        runs = store.list_runs(limit=self.limit, config=with_config)
        add_progress(store, runs)
        return runs

    def refresh(self) -> None:
        """Reloads on a worker thread; the table keeps its rows until the new ones arrive."""
        db_path = self.db_path
        header = self.table.horizontalHeader()
        column, descending = header.sortIndicatorSection(), header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        keys = self.all_columns()

        def load() -> list[dict]:
            with Store(db_path, readonly=db_path.exists()) as store:
                runs = prepare(self.load_runs(store), keys)
            return sort_runs(runs, column, descending, keys) if 0 <= column < len(keys) else runs

        self.worker.submit(load, self._loaded, self._failed)

    def _loaded(self, runs: list[dict]) -> None:
        selected = set(self.selected_ids())
        if runs and len(runs[0]["_cells"]) != len(self.model.keys):
            prepare(runs, self.model.keys)  # the columns changed while this load ran
        self.model.set_runs(runs)
        self.loaded = True
        self._fill_filters(runs)
        if selected:
            self.select_ids(sorted(selected))
        self._update_count()
        self._update_buttons()
        if any(r.get("status") in ("running", "queued") for r in runs):
            self.live_timer.start()
            self.tick_timer.start()
        else:
            self.live_timer.stop()
            self.tick_timer.stop()
        self.runs_changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self.message.setText(str(exc) if isinstance(exc, UserError) else f"cannot read the runs: {exc}")

    def _live_refresh(self) -> None:
        if self.isVisible() and not self.worker.busy():
            self.refresh()

    def _fill_filters(self, runs: list[dict]) -> None:
        values: dict[str, set[str]] = {key: set() for key in self.filters}
        for run in runs:
            for key in ("status", "method", "dataset"):
                if run.get(key):
                    values[key].add(str(run[key]))
            values["tag"].update(run.get("tags") or [])
        for key, combo in self.filters.items():
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ALL, *sorted(values[key])])
            combo.setCurrentText(current if current in values[key] else ALL)
            combo.blockSignals(False)
            if combo.currentText() != current:
                self.proxy.set_field(key, "")

    def _update_count(self, *_: Any) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.message.setText(plural(total, "run") if total == shown else f"{shown} of {plural(total, 'run')} shown")

    # --- selection ----------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return self.proxy.run_ids(rows)

    def selected_runs(self) -> list[dict]:
        rows = [self.model.row_of(i) for i in self.selected_ids()]
        return [self.model.run(r) for r in rows if r is not None]

    def select_ids(self, ids: list[str]) -> None:
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        selection = QItemSelection()
        for run_id in ids:
            row = self.model.row_of(run_id)
            if row is None:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid():
                selection.select(index, index)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(selection, flags)

    def _update_buttons(self) -> None:
        n = len(self.table.selectionModel().selectedRows())
        for button in (self.open_button, self.clone_button, self.rename_button, self.notes_button, self.export_button):
            button.setEnabled(n == 1)
        self.tags_button.setEnabled(n >= 1)
        self.delete_button.setEnabled(n >= 1)
        self.compare_button.setEnabled(2 <= n <= 20)
        runs = self.selected_runs() if n == 1 else []
        resumable = bool(runs) and can_resume(runs[0])
        checkpointed = resumable and has_checkpoint(self.db_path, runs[0]["id"])
        self.resume_button.setEnabled(checkpointed)
        self.resume_button.setToolTip(RESUME_TIP if checkpointed or not resumable else NO_CHECKPOINT_TIP)

    def _row_menu(self, pos: QPoint) -> None:
        if self.table.indexAt(pos).isValid():
            self.row_menu().exec(self.table.viewport().mapToGlobal(pos))

    def row_menu(self) -> QMenu:
        """The right-click menu: the action buttons, with their enabled states."""
        menu = QMenu(self)
        for button in (self.open_button, self.compare_button, self.clone_button, self.resume_button, self.rename_button,
                       self.tags_button, self.notes_button):
            act = menu.addAction(button.text(), button.click)  # "&&" is a literal "&" in menus too
            act.setEnabled(button.isEnabled())
        menu.addAction("Search around this run…", self.search_selected).setEnabled(self.clone_button.isEnabled())
        run = (self.selected_runs() or [{}])[0]
        if run.get("study") and run.get("trial_number") is not None:
            menu.addAction(f"Open trial {run['trial_number']} of study {run['study']}",
                           lambda: self.trial_requested.emit(run["study"], int(run["trial_number"])))
        runs = self.selected_runs()
        inspect = menu.addAction("Inspect…", self.inspect_selected)
        inspect.setEnabled(len(runs) == 1 and runs[0].get("status") == "finished")
        export = menu.addMenu("Export")
        export.setEnabled(self.export_button.isEnabled())
        for fmt, text in (("csv", "Metrics as CSV…"), ("json", "Everything as JSON…"), ("toml", "Config as TOML…")):
            export.addAction(text, lambda f=fmt: self.export_selected(f))
        menu.addSeparator()
        menu.addAction(self.delete_button.text(), self.delete_button.click).setEnabled(self.delete_button.isEnabled())
        return menu

    # --- actions ------------------------------------------------------------------------------
    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(self.proxy.run_ids([index.row()])[0])

    def open_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.open_requested.emit(ids[0])

    def compare_selected(self) -> None:
        ids = self.selected_ids()
        if 2 <= len(ids) <= 20:
            self.compare_requested.emit(ids)

    def clone_selected(self) -> None:
        config = self._selected_config()
        if config is not None:
            config["name"] = f"{config.get('name', 'run')}-copy"
            self.clone_requested.emit(config)

    def search_selected(self) -> None:
        """A hyper-parameter study with the selected run's config as its base."""
        config = self._selected_config()
        if config is not None:
            self.search_requested.emit(config)

    def _selected_config(self) -> dict | None:
        runs = self.selected_runs()
        if not runs:
            return None
        try:  # the table's rows leave configs out (load time); read this one
            with Store(self.db_path, readonly=True) as store:
                return dict(store.get_run(runs[0]["id"])["config"])
        except (UserError, KeyError) as exc:
            self.message.setText(f"cannot read the run's config: {exc}")
            return None

    def inspect_selected(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0].get("status") == "finished":
            self.inspect_requested.emit(runs[0]["id"])

    def resume_selected(self) -> None:
        runs = self.selected_runs()
        if runs and can_resume(runs[0]):
            self.resume_requested.emit(runs[0]["id"])

    def rename_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        name = self.ask_text("Rename run", "New name:", runs[0]["name"])
        if name and name.strip() and name.strip() != runs[0]["name"]:
            self._write(runs[0]["id"], name=name.strip())

    def tag_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        current = ", ".join(runs[0].get("tags") or []) if len(runs) == 1 else ""
        label = "Tags, separated by commas:" if len(runs) == 1 else f"Tags for {len(runs)} runs, separated by commas:"
        text = self.ask_text("Tags", label, current)
        if text is None:
            return
        tags = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
        for run in runs:
            self._write(run["id"], tags=tags)
        self._fill_filters(self.model.runs())

    def notes_selected(self) -> None:
        runs = self.selected_runs()
        if runs:
            notes = self.ask_notes("Notes", f"Notes on {runs[0]['name']}:", runs[0].get("notes") or "")
            if notes is not None:
                self._write(runs[0]["id"], notes=notes)

    def _write(self, run_id: str, **values: Any) -> bool:
        try:
            with Store(self.db_path) as store:
                store.update_run(run_id, **values)
        except UserError as exc:
            plain_message.warn(self, "Cannot change the run", str(exc))
            return False
        self.model.patch_run(run_id, **values)
        return True

    def delete_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        running = [r for r in runs if r.get("status") in ("running", "queued")]
        if running:
            QMessageBox.information(self, "Delete runs", "Stop running or queued runs before deleting them.")
            return
        names = ", ".join(r["name"] for r in runs[:5]) + (f" and {len(runs) - 5} more" if len(runs) > 5 else "")
        if not self.confirm("Delete runs", f"Delete {plural(len(runs), 'run')} ({names}) with their metrics, logs and saved "
                            "weights? This cannot be undone."):
            return
        self.delete_runs([r["id"] for r in runs])

    def delete_runs(self, ids: list[str]) -> None:
        try:
            with Store(self.db_path) as store:
                for run_id in ids:
                    store.delete_run(run_id)  # rows and artifacts folder
                    self.model.remove_run(run_id)
        except UserError as exc:
            plain_message.warn(self, "Cannot delete", str(exc))
        self._update_count()

    # --- dialogs (tests replace these) ---------------------------------------------------------
    def ask_folder(self, title: str) -> str | None:
        return QFileDialog.getExistingDirectory(self, title, str(export_folder())) or None

    def ask_text(self, title: str, label: str, value: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, label, QLineEdit.EchoMode.Normal, value)
        return text if ok else None

    def ask_notes(self, title: str, label: str, value: str) -> str | None:
        # the label names the run: plain text, so a name such as "<img src=…>" is not rendered as HTML
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setOption(QInputDialog.InputDialogOption.UsePlainTextEditForTextInput)
        dialog.setLabelText(label)
        dialog.setTextValue(value)
        for child in dialog.findChildren(QLabel):
            child.setTextFormat(Qt.TextFormat.PlainText)
        return dialog.textValue() if dialog.exec() == QInputDialog.DialogCode.Accepted else None

    def confirm(self, title: str, text: str) -> bool:
        # the question names runs: plain text (QMessageBox's AutoText would render a name's markup)
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
        return plain_message.ask(self, title, text, buttons, QMessageBox.StandardButton.Cancel) == QMessageBox.StandardButton.Yes

    def ask_save_path(self, title: str, suggested: str, filters: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filters)
        return path or None

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.loaded and self.live_timer.isActive():
            self._live_refresh()
