"""New study: a base config (the New experiment form or a past run), a search space
edited from the method schema's ranges, a sampler and a pruner; the engine checks it.

The dialog writes ``base.toml`` and ``study.toml`` beside the run database
(``gui.study_file``), asks ``metalab-engine study create FILE`` to check and register it,
and on success hands the file to the Studies page, which runs ``study run FILE`` as a
background engine process. A bad value is shown inline, with nothing left behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.config import RunConfig
from engine.catalog import Param
from gui.engine_process import repo_root
from gui.study_file import (
    PRUNER_TITLES,
    PRUNERS,
    SAMPLER_TITLES,
    SAMPLERS,
    applies_to_base,
    default_dimension,
    objective_metrics,
    parse_choices,
    searchable_params,
    study_document,
    study_folder,
    write_study,
)
from gui.widgets.param_form import format_float

SPACE_COLUMNS = ("Search", "Parameter", "Low", "High", "Log", "Choices")
LOW, HIGH, LOG, CHOICES = 2, 3, 4, 5


class StudyDialog(QDialog):
    study_created = Signal(str, str)  # study name, study file

    def __init__(self, bases: list[tuple[str, RunConfig]], db_path: Path, storage_environment: QProcessEnvironment, command: list[str],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New hyper-parameter study")
        self.bases = bases
        self.db_path = Path(db_path)
        self.storage_environment = storage_environment  # carries the storage URL (argv would show its password)
        self.command = command
        self.params: list[Param] = []
        self.check: QProcess | None = None
        self.folder: Path | None = None

        self.base_combo = QComboBox()
        for label, _config in bases:
            self.base_combo.addItem(label)
        self.base_combo.currentIndexChanged.connect(self._base_changed)
        self.name = QLineEdit()
        self.sampler = QComboBox()
        for name in SAMPLERS:
            self.sampler.addItem(SAMPLER_TITLES[name], name)
        self.sampler.setCurrentIndex(SAMPLERS.index("tpe"))
        self.pruner = QComboBox()
        for name in PRUNERS:
            self.pruner.addItem(PRUNER_TITLES[name], name)
        self.pruner.setCurrentIndex(PRUNERS.index("median"))
        self.n_trials = QSpinBox(minimum=1, maximum=10_000, value=20)
        self.objective = QComboBox()  # the base's task metrics (_base_changed)
        self.direction = QComboBox()
        self.direction.addItems(["maximize", "minimize"])
        self.objective.currentIndexChanged.connect(self._objective_changed)

        self.space = QTableWidget(0, len(SPACE_COLUMNS))
        self.space.setHorizontalHeaderLabels(list(SPACE_COLUMNS))
        self.space.verticalHeader().setVisible(False)
        self.space.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.space.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.space.setColumnWidth(1, 250)  # long labels elide; the tooltip has the key and help
        self.space.horizontalHeader().setStretchLastSection(True)
        self.space.setWordWrap(False)
        self.space.setTabKeyNavigation(False)
        self.space.setMinimumHeight(180)

        self.error = QLabel("")
        self.error.setObjectName("studyError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828;")
        self.create_button = QPushButton("Create and launch")
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self.create)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("Base config", self.base_combo)
        form.addRow("Study name", self.name)
        form.addRow("Sampler", self.sampler)
        form.addRow("Pruner", self.pruner)
        form.addRow("Trials", self.n_trials)
        form.addRow("Objective", self.objective)
        form.addRow("Direction", self.direction)
        buttons = QHBoxLayout()
        buttons.addWidget(self.error, 1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Search space (ranges start from the method's schema; tick what to search):"))
        layout.addWidget(self.space, 1)
        layout.addLayout(buttons)
        self.resize(720, 620)
        self._base_changed(0)

    # --- the space table ------------------------------------------------------------------
    def base(self) -> RunConfig:
        return self.bases[self.base_combo.currentIndex()][1]

    def _objective_changed(self, _index: int) -> None:
        direction = self.objective.currentData()
        if direction:
            self.direction.setCurrentText(direction)

    def _base_changed(self, _index: int) -> None:
        base = self.base()
        self.objective.clear()
        for metric, direction in objective_metrics(base):
            self.objective.addItem(metric, direction)
        self.name.setText(f"{base.name}-search")
        self.params = searchable_params(base)
        self.space.setRowCount(len(self.params))
        for row, param in enumerate(self.params):
            dim = default_dimension(param)
            search = QTableWidgetItem()
            search.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            search.setCheckState(Qt.CheckState.Checked if row == 0 else Qt.CheckState.Unchecked)
            self.space.setItem(row, 0, search)
            label = param.label_text()
            if param.when is not None and not applies_to_base(param, base):
                label += f" (only when {param.when[0]} = {' or '.join(map(str, param.when[1]))})"
            name = QTableWidgetItem(label)
            name.setToolTip(f"{label}\nmethod.params.{param.name}: {param.help}")
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.space.setItem(row, 1, name)
            numeric = "choices" not in dim
            for column, text in ((LOW, _text(dim.get("low"))), (HIGH, _text(dim.get("high"))),
                                 (CHOICES, ", ".join(map(_text, dim.get("choices", []))))):
                item = QTableWidgetItem(text)
                editable = numeric if column != CHOICES else not numeric
                flags = Qt.ItemFlag.ItemIsEnabled | (Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsSelectable if editable else Qt.ItemFlag.NoItemFlags)
                item.setFlags(flags)
                self.space.setItem(row, column, item)
            log = QTableWidgetItem()
            log.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled if param.type == "float" else Qt.ItemFlag.NoItemFlags)
            log.setCheckState(Qt.CheckState.Checked if dim.get("log") else Qt.CheckState.Unchecked)
            self.space.setItem(row, LOG, log)

    def set_searched(self, name: str, on: bool = True, **cells: Any) -> None:
        """Ticks a parameter and sets its cells (``low``, ``high``, ``log``, ``choices``); for tests and callers."""
        row = [p.name for p in self.params].index(name)
        self.space.item(row, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        for key, column in (("low", LOW), ("high", HIGH), ("choices", CHOICES)):
            if key in cells:
                value = cells[key]
                self.space.item(row, column).setText(", ".join(map(_text, value)) if isinstance(value, list) else _text(value))
        if "log" in cells:
            self.space.item(row, LOG).setCheckState(Qt.CheckState.Checked if cells["log"] else Qt.CheckState.Unchecked)

    def search_space(self) -> dict[str, dict[str, Any]]:
        """The ticked rows as study dimensions; a ``ValueError`` names a bad cell."""
        space: dict[str, dict[str, Any]] = {}
        for row, param in enumerate(self.params):
            if self.space.item(row, 0).checkState() != Qt.CheckState.Checked:
                continue
            key = f"method.params.{param.name}"
            if param.type in ("choice", "bool"):
                choices = parse_choices(self.space.item(row, CHOICES).text(), param)
                if not choices:
                    raise ValueError(f"{param.label_text()}: list at least one choice")
                space[key] = {"choices": choices}
                continue
            try:
                low = float(self.space.item(row, LOW).text())
                high = float(self.space.item(row, HIGH).text())
            except ValueError:
                raise ValueError(f"{param.label_text()}: low and high must be numbers") from None
            dim: dict[str, Any] = {"low": int(low), "high": int(high)} if param.type == "int" else {"low": low, "high": high}
            if self.space.item(row, LOG).checkState() == Qt.CheckState.Checked:
                dim["log"] = True
            space[key] = dim
        if not space:
            raise ValueError("Tick at least one parameter to search.")
        return space

    # --- create -----------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        return study_document(
            self.name.text().strip(), sampler=self.sampler.currentData(), pruner=self.pruner.currentData(),
            n_trials=self.n_trials.value(), metric=self.objective.currentText(), direction=self.direction.currentText(),
            space=self.search_space(),
        )

    def create(self) -> None:
        """Writes the files, then lets the engine check and register the study."""
        name = self.name.text().strip()
        if not name:
            self.error.setText("Give the study a name.")
            return
        try:
            document = self.document()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        folder = study_folder(self.db_path, name)
        if folder.exists():
            self.error.setText(f"A study named '{name}' was already made here ({folder}); choose another name.")
            return
        try:
            path = write_study(folder, self.base(), document)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self.error.setText(f"Cannot write the study file: {exc}")
            return
        self.folder = folder
        self.error.setStyleSheet("color: #555;")
        self.error.setText("The engine is checking the study (dataset, model, space)…")
        self.create_button.setEnabled(False)
        self.check = QProcess(self)
        self.check.setWorkingDirectory(str(repo_root()))
        self.check.finished.connect(lambda code, _s: self._checked(code, name, path))
        self.check.setProcessEnvironment(self.storage_environment)  # the storage URL, out of argv
        self.check.start(self.command[0], [*self.command[1:], "study", "create", str(path), "--db", str(self.db_path)])

    def _checked(self, code: int, name: str, path: Path) -> None:
        assert self.check is not None
        err = bytes(self.check.readAllStandardError().data()).decode("utf-8", "replace").strip().splitlines()
        self.create_button.setEnabled(True)
        if code != 0:
            line = next((l for l in reversed(err) if l.startswith("error:")), err[-1] if err else f"exit code {code}")
            self.error.setStyleSheet("color: #c62828;")
            self.error.setText(line.removeprefix("error:").strip())
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)  # nothing half-made stays behind
            return
        self.study_created.emit(name, str(path))
        self.accept()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    return "" if value is None else str(value)
