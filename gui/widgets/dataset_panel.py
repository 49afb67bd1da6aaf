"""Dataset choice: bundled or a file/folder, a preview table, column choosers, class counts.
For token classification (``set_task_type``) the preview shows tagged sentences with their
entities highlighted by type, and the chart counts mentions per entity type.

Files load in the background (``gui.background.Worker``) with the engine's own loaders,
so what the preview shows is what a run will read. Errors are the engine's one-line
``UserError`` messages, shown under the source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.data import TextDataset, bundled_datasets, guess_columns, load_dataset, load_table
from engine.data.checks import Check, plural
from engine.data.loaders import CONLL_SUFFIXES
from engine.data.tagged import TaggedDataset, guess_tagged_columns, is_conll, load_tagged_dataset
from engine import tasks
from engine.errors import UserError
from gui.background import Worker
from gui.entity_html import preview_html
from gui.models.table_model import TablePreviewModel
from gui.settings import recent, remember

PREVIEW_ROWS = 200
FILE_FILTER = "Datasets (*.csv *.tsv *.jsonl *.ndjson *.json *.parquet *.conll *.bio *.iob *.txt);;All files (*)"
TOKEN_TASK = "token_classification"
LM_TASK = "language_modeling"
PREVIEW_SENTENCES = 60


class ClassChart(pg.PlotWidget):
    """Rows per class as horizontal bars; classes short of ``need`` rows are drawn in red."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.unit = "rows"
        self.counts: dict[str, int] = {}
        self.need = 0
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("bottom", "rows")
        self.setMinimumHeight(160)

    def set_counts(self, counts: dict[str, int], need: int = 0, unit: str = "rows") -> None:
        self.counts, self.need = dict(counts), need
        if unit != self.unit:
            self.unit = unit
            self.setLabel("bottom", unit)
        self.redraw()

    def redraw(self) -> None:
        self.clear()
        base = self.palette().color(QPalette.ColorRole.Base)
        text = self.palette().color(QPalette.ColorRole.Text)
        self.setBackground(base)
        for side in ("left", "bottom"):
            self.getAxis(side).setTextPen(pg.mkPen(text))
            self.getAxis(side).setPen(pg.mkPen(text))
        if not self.counts:
            self._names = []
            self.getAxis("left").setTicks([[]])  # no class names left from a dataset that is gone
            return
        names = list(self.counts)[::-1]  # largest at the top
        values = [self.counts[n] for n in names]
        brushes = [pg.mkBrush(200, 60, 60) if v < self.need else pg.mkBrush(70, 130, 200) for v in values]
        bars = pg.BarGraphItem(x0=0, y=list(range(len(names))), height=0.7, width=values, brushes=brushes, pen=None)
        self.addItem(bars)
        self._names = names
        self._label_ticks()
        if self.need:
            self.addItem(pg.InfiniteLine(pos=self.need, angle=90, pen=pg.mkPen((200, 60, 60), style=Qt.PenStyle.DashLine)))
        self.setYRange(-0.6, len(names) - 0.4, padding=0)
        self.setXRange(0, max(max(values), self.need) * 1.05, padding=0)
        self.setMinimumHeight(max(160, min(12 * len(names) + 40, 320)))


    def _label_ticks(self) -> None:
        """Every class gets a label when rows are tall enough to read; else every k-th one."""
        names = getattr(self, "_names", [])
        if not names:
            return
        rows_px = max(1.0, (self.height() - 40) / len(names))
        every = max(1, int(-(-14 // rows_px)))  # ceil(14 px per label / px per row)
        self.getAxis("left").setTicks([[(i, _short(n)) for i, n in enumerate(names) if (len(names) - 1 - i) % every == 0]])

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._label_ticks()


def read_dataset(task_type: str, path: str, text: str, label: str) -> TextDataset | TaggedDataset:
    """The engine's loader for the task type: what the preview shows is what a run reads."""
    if task_type == TOKEN_TASK:
        return load_tagged_dataset(path, text, label)
    return load_dataset(path, text, label)


def is_domain_corpus(file: Path) -> bool:
    """A bundled table of documents by domain (its header names a ``domain`` column): language-modelling data."""
    if file.suffix in CONLL_SUFFIXES:
        return False
    try:
        with file.open(encoding="utf-8") as handle:
            header = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return "domain" in [column.strip().strip('"').lower() for column in header.split(",")]


def fits_task(task_type: str, file: Path) -> bool:
    """Whether a bundled dataset is one for the task type: tagged sentences for NER, documents
    by domain for language modelling, other tables for classification."""
    if task_type == TOKEN_TASK:
        return file.suffix in CONLL_SUFFIXES
    return file.suffix not in CONLL_SUFFIXES and is_domain_corpus(file) == (task_type == LM_TASK)


def only_task_type(path: str) -> str | None:
    """The one task type a dataset can be read as, or None where several fit: a CoNLL file
    holds tagged sentences (NER); a bundled dataset is made for one task type."""
    if path.startswith("bundled:"):
        try:
            file = bundled_datasets().get(path.removeprefix("bundled:"))
        except OSError:
            return None
        return next((t for t in (TOKEN_TASK, LM_TASK, "classification") if file is not None and fits_task(t, file)), None)
    try:
        return TOKEN_TASK if is_conll(path) else None
    except OSError:
        return None


def bundled_for(task_type: str, path: str) -> str:
    """A bundled dataset of the task type in place of a bundled one of another type; other paths as they are."""
    if not path.startswith("bundled:"):
        return path
    try:
        files = bundled_datasets()
    except OSError:
        return path
    fits = {name: fits_task(task_type, file) for name, file in files.items()}
    name = path.removeprefix("bundled:")
    if fits.get(name, True):
        return path
    return next((f"bundled:{other}" for other, ok in fits.items() if ok), path)


def _short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


class DatasetPanel(QWidget):
    """``dataset`` is the loaded ``TextDataset``, or ``TaggedDataset`` for token classification
    (None while loading or broken)."""

    dataset_changed = Signal()  # a dataset loaded, failed to load, or its columns changed
    source_changed = Signal(str)
    # The chosen dataset can only be read as this task type (a CoNLL file: NER): the page
    # switches its task type, which calls ``set_task_type`` and loads the dataset.
    task_type_needed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dataset: TextDataset | TaggedDataset | None = None
        self.task_type = "classification"
        self.error = ""
        self.loading = False
        self._loaded_path = ""
        self._bundled_by_type: dict[str, str] = {}  # the bundled set last used for each task type
        self._pending_path = ""  # a dataset waiting for the task type it needs
        self.switched_note = ""  # why the task type changed by itself, shown with the dataset
        self._columns: list[str] = []
        self._worker = Worker(self)

        self.source = QComboBox()
        self.source.setEditable(True)
        self.source.setToolTip("bundled:NAME, a CSV/TSV/JSONL/Parquet file, or a folder saved by HF datasets")
        self.source.setMinimumContentsLength(24)
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._fill_sources()
        self.source.activated.connect(lambda _i: self.load(self.source.currentText()))
        self.source.lineEdit().editingFinished.connect(lambda: self._maybe_load(self.source.currentText()))
        self.file_button = QPushButton("File…")
        self.file_button.clicked.connect(self._pick_file)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("A folder saved by Hugging Face datasets (save_to_disk)")
        self.folder_button.clicked.connect(self._pick_folder)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source, 1)
        source_row.addWidget(self.file_button)
        source_row.addWidget(self.folder_button)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("datasetStatus")

        self.text_column = QComboBox()
        self.label_column = QComboBox()
        self.text_column.setToolTip("dataset.text_column: the column with the text")
        self.label_column.setToolTip("dataset.label_column: the column with the class label")
        self.text_column.currentIndexChanged.connect(self._columns_changed)
        self.label_column.currentIndexChanged.connect(self._columns_changed)
        columns = QFormLayout()
        columns.addRow("Text column", self.text_column)
        columns.addRow("Label column", self.label_column)
        self.column_form = columns

        self.preview_model = TablePreviewModel(self)
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        self.preview.setAlternatingRowColors(True)
        self.preview.verticalHeader().setDefaultSectionSize(22)
        self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.preview.horizontalHeader().setStretchLastSection(True)
        self.preview.setMinimumHeight(140)
        self.preview.setTabKeyNavigation(False)  # Tab leaves the preview instead of walking its cells
        self.sentences = QTextBrowser()
        self.sentences.setObjectName("entityPreview")
        self.sentences.setMinimumHeight(140)
        self.preview_stack = QStackedWidget()
        self.preview_stack.addWidget(self.preview)
        self.preview_stack.addWidget(self.sentences)

        self.chart = ClassChart()
        self.checks = QLabel("")
        self.checks.setObjectName("taskChecks")
        self.checks.setWordWrap(True)
        self.checks.setTextFormat(Qt.TextFormat.RichText)

        layout = QVBoxLayout(self)
        layout.addLayout(source_row)
        layout.addWidget(self.status)
        layout.addLayout(columns)
        self.preview_title = QLabel("Preview (first rows)")
        self.chart_title = QLabel("Rows per class")
        layout.addWidget(self.preview_title)
        layout.addWidget(self.preview_stack, 3)
        layout.addWidget(self.chart_title)
        layout.addWidget(self.chart, 2)
        layout.addWidget(self.checks)

    # --- sources ------------------------------------------------------------------------
    def _fill_sources(self) -> None:
        current = self.source.currentText()
        self.source.blockSignals(True)
        self.source.clear()
        try:
            names = [f"bundled:{name}" for name in bundled_datasets()]
        except OSError:
            names = []
        for item in names + [r for r in recent("datasets") if r not in names]:
            self.source.addItem(item)
        self.source.setEditText(current)
        self.source.blockSignals(False)

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a dataset", str(Path.home()), FILE_FILTER)
        if path:
            self.load(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder", str(Path.home()))
        if path:
            self.load(path)

    def _maybe_load(self, path: str) -> None:
        if path.strip() and path != self.path():
            self.load(path)

    def path(self) -> str:
        return self._loaded_path

    def set_task_type(self, task_type: str) -> None:
        """Classification reads text/label tables; token classification reads tagged sentences.
        The column choosers then pick the tokens and tags columns (of JSONL/Parquet/HF rows)."""
        if task_type == self.task_type:
            return
        if self._loaded_path.startswith("bundled:"):
            self._bundled_by_type[self.task_type] = self._loaded_path
        self.task_type = task_type
        tokens = task_type == TOKEN_TASK
        self.text_column.setToolTip("dataset.text_column: the column with " + ("the list of tokens" if tokens else "the text"))
        self.label_column.setToolTip("dataset.label_column: the column with " + ("the list of BIO tags" if tokens else "the class label"))
        documents = task_type == LM_TASK  # rows are documents, labels their domains
        self.preview_title.setText("Preview (first sentences, entities by type)" if tokens else "Preview (first rows)")
        self.chart_title.setText("Mentions per entity type" if tokens else "Documents per domain" if documents else "Rows per class")
        label_row = self.column_form.labelForField(self.label_column)
        if label_row is not None:
            label_row.setText("Domain column" if documents else "Label column")
        if documents:
            self.label_column.setToolTip("dataset.label_column: the column with the document's domain (source, author, topic)")
        self.preview_stack.setCurrentWidget(self.sentences if tokens else self.preview)
        pending, self._pending_path = self._pending_path, ""
        if pending:  # the dataset that asked for this task type
            self.load(pending, switch_task=False)
        elif self._loaded_path:
            path = bundled_for(task_type, self._loaded_path)  # bundled intents <-> bundled entities
            if path != self._loaded_path:  # back to the bundled set this type had, when there was one
                path = self._bundled_by_type.get(task_type, path)
            if path == self._loaded_path:  # the user's own file, read as the type they chose
                self.load(path, self.text_column_name(), self.label_column_name(), switch_task=False)
            else:
                self.load(path, switch_task=False)

    # --- loading ------------------------------------------------------------------------
    def load(self, path: str, text_column: str = "", label_column: str = "", *, switch_task: bool = True) -> None:
        """Loads ``path`` in the background; ``dataset_changed`` follows. A dataset that can
        only be one task type first asks the page for it (``switch_task``: a dataset chosen,
        not one reloaded because the user chose a task type)."""
        path = path.strip()
        self.switched_note = ""
        needed = only_task_type(path) if switch_task else None
        if needed and needed != self.task_type:
            self._pending_path = path
            self.task_type_needed.emit(needed)  # the page switches; set_task_type loads path
            if self.task_type == needed:
                self.switched_note = f"task type set to {tasks.get(needed).title} for this dataset"
                return
            self._pending_path = ""  # nobody switched: load it as it is and say why it does not fit
        self._loaded_path = path
        self.source.setEditText(path)
        self.source_changed.emit(path)
        self.dataset, self.error, self.loading = None, "", True
        self.status.setText(f"Loading {path} …")
        self.dataset_changed.emit()

        task_type = self.task_type  # read here: the worker thread must not see a later switch
        tokens = task_type == TOKEN_TASK

        def work() -> tuple[Any, str, str, TextDataset | TaggedDataset | None, str]:
            if tokens and is_conll(path):
                table = None  # one token per line: no columns to choose
                guessed: tuple[str | None, str | None] = ("", "")
            else:
                table = load_table(path)
                guessed = guess_tagged_columns(table.columns) if tokens else guess_columns(table)
            text = text_column or guessed[0] or ""
            label = label_column or guessed[1] or ""
            try:
                dataset = read_dataset(task_type, path, text, label)
                problem = ""
            except UserError as exc:
                dataset, problem = None, str(exc)
            return table, text, label, dataset, problem

        self._worker.submit(work, self._on_loaded, self._on_failed)

    def _on_loaded(self, result: tuple[Any, str, str, TextDataset | TaggedDataset | None, str]) -> None:
        table, text, label, dataset, problem = result
        self.loading = False
        self._columns = list(table.columns) if table is not None else []
        self.preview_model.set_table(self._columns, table.rows[:PREVIEW_ROWS] if table is not None else [])
        self.text_column.setEnabled(table is not None)
        self.label_column.setEnabled(table is not None)
        for combo, chosen in ((self.text_column, text), (self.label_column, label)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("(choose)", "")
            for column in self._columns:
                combo.addItem(column, column)
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
            combo.blockSignals(False)
        self.preview_model.set_marked({text, label} - {""})
        self.preview.resizeColumnsToContents()
        if not self.path().startswith("bundled:"):
            remember("datasets", self.path())
        self._set_dataset(dataset, problem)

    def _on_failed(self, exc: BaseException) -> None:
        self.loading = False
        self._columns = []
        self.preview_model.set_table([], [])
        for combo in (self.text_column, self.label_column):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        message = str(exc) if isinstance(exc, UserError) else f"cannot load: {exc}"
        self._set_dataset(None, message)

    def _columns_changed(self) -> None:
        text, label = self.text_column.currentData() or "", self.label_column.currentData() or ""
        self.preview_model.set_marked({text, label} - {""})
        if not self._columns:
            return
        path, task_type = self.path(), self.task_type
        self.dataset, self.loading = None, True
        self.dataset_changed.emit()

        def work() -> tuple[TextDataset | TaggedDataset | None, str]:
            try:
                return read_dataset(task_type, path, text, label), ""
            except UserError as exc:
                return None, str(exc)

        self._worker.submit(work, lambda r: self._set_loaded(*r), self._on_failed)

    def _set_loaded(self, dataset: TextDataset | TaggedDataset | None, problem: str) -> None:
        self.loading = False
        self._set_dataset(dataset, problem)

    def _set_dataset(self, dataset: TextDataset | TaggedDataset | None, problem: str) -> None:
        self.dataset, self.error = dataset, problem
        if isinstance(dataset, TaggedDataset):
            counts = dataset.mention_counts()
            columns = f" · columns: {', '.join(dataset.columns)}" if dataset.columns else ""
            self.status.setText(
                f"{plural(len(dataset), 'sentence')}, {plural(sum(counts.values()), 'mention')} of {plural(len(counts), 'entity type')}{columns}"
                + self._note()
            )
            self.status.setStyleSheet("")
            self.chart.set_counts(counts, self.chart.need, unit="mentions")
            self.sentences.setHtml(preview_html(dataset.sentences[:PREVIEW_SENTENCES], dataset.tags[:PREVIEW_SENTENCES], counts))
        elif dataset is not None:
            counts = dataset.class_counts()
            row, group, unit = ("document", "domain", "documents") if self.task_type == LM_TASK else ("row", "class", "rows")
            self.status.setText(f"{plural(len(dataset), row)} in {plural(len(counts), group)} · columns: {', '.join(dataset.columns)}"
                                + self._note())
            self.status.setStyleSheet("")
            self.chart.set_counts(counts, self.chart.need, unit=unit)
        else:
            self.status.setText(problem)
            self.status.setStyleSheet("color: #c62828;")
            self.chart.set_counts({})
            self.sentences.clear()
        self.dataset_changed.emit()

    def _note(self) -> str:
        return f" · {self.switched_note}" if self.switched_note else ""

    def counts(self) -> dict[str, int]:
        """Rows per class, or mentions per entity type; empty while nothing is loaded."""
        if isinstance(self.dataset, TaggedDataset):
            return self.dataset.mention_counts()
        return self.dataset.class_counts() if self.dataset is not None else {}

    # --- values for the config ----------------------------------------------------------
    def text_column_name(self) -> str:
        return self.text_column.currentData() or ""

    def label_column_name(self) -> str:
        return self.label_column.currentData() or ""

    def show_checks(self, checks: list[Check], need_rows: int) -> None:
        """The task checks as ✓/✗ lines; the chart marks classes (types) short of ``need_rows`` rows (mentions)."""
        if self.chart.need != need_rows and self.dataset is not None:
            self.chart.set_counts(self.counts(), need_rows, unit=self.chart.unit)
        lines = []
        for check in checks:
            mark, color = ("✗", "#c62828") if not check.ok else ("⚠", "#b26a00") if check.warning else ("✓", "#2e7d32")
            lines.append(f"<span style='color:{color}'>{mark}</span> {_escape(check.message)}")
        self.checks.setText("<br>".join(lines))

    def is_busy(self) -> bool:
        return self.loading or self._worker.busy()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
