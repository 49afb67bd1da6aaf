"""A form generated from a list of ``engine.catalog.Param``: no method-specific code.

int -> spin box, float -> text field that takes 3e-5 (log-scale rates read badly in a
spin box), bool -> check box, choice -> combo box, str -> text field. Labels are the
schema's human labels; the TOML key, help, range and default show in a help line under
the form for the field being edited or pointed at (and in tooltips). Parameters sit in
their schema ``group`` sections; one whose ``when`` condition fails (``lora_rank`` while
``scope = head``) is disabled. A value out of range shows its message under its row.

The same form serves the config's own keys (``task.n_way`` ...): ``config_params``
turns rows of ``engine.config.schema()`` into ``Param``s.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.config import TASK_MODES, schema
from engine.errors import ConfigError
from engine.catalog import Param
from engine.tasks import TASK_TYPES
from gui.widgets.wheel_guard import guard_wheel

INT_LIMIT = 2_000_000_000
_CONFIG_TYPES = {"an integer": "int", "a number": "float", "true or false": "bool", "a string": "str"}
_CONFIG_CHOICES: dict[str, tuple[Any, ...]] = {"task.mode": TASK_MODES, "task.type": tuple(TASK_TYPES)}
# What the New experiment form calls the config keys it shows (the key itself is in the help line).
CONFIG_LABELS = {
    "task.type": "Task type",
    "task.mode": "Mode",
    "task.n_way": "Classes per episode (N)",
    "task.k_shot": "Support examples per class (K)",
    "task.query": "Queries per class",
    "task.meta_test_fraction": "Meta-test share of classes",
    "task.meta_val_fraction": "Meta-validation share",
    "task.split_seed": "Class split seed",
    "task.test_episodes": "Meta-test episodes",
    "task.val_episodes": "Meta-validation episodes",
    "train.episodes": "Training episodes",
    "train.eval_every": "Validate every",
    "train.seed": "Training seed",
    "train.checkpoint_every": "Checkpoint every",
    "train.devices": "Processes (data parallel)",
    "model.max_length": "Max tokens per text",
    "model.trust_remote_code": "Trust remote code",
}
# Episodic-only keys: the supervised mode has no episodes to shape.
_CONFIG_WHEN: dict[str, tuple[str, tuple[Any, ...]]] = {
    key: ("task.mode", ("episodic",)) for key in ("task.n_way", "task.k_shot", "task.query")
}


def config_params(keys: list[str]) -> list[Param]:
    """``Param``s for config keys (``task.n_way``), from ``engine.config.schema()``."""
    rows = {row["key"]: row for row in schema()["keys"]}
    params = []
    for key in keys:
        row = rows[key]
        kind = "choice" if key in _CONFIG_CHOICES else _CONFIG_TYPES[row["type"]]
        params.append(
            Param(
                key,
                kind,
                row["default"],
                row.get("help", ""),
                low=row.get("min"),
                high=row.get("max"),
                choices=_CONFIG_CHOICES.get(key, ()),
                label=CONFIG_LABELS.get(key, ""),
                when=_CONFIG_WHEN.get(key),
            )
        )
    return params


def format_float(value: float) -> str:
    return f"{value:.6g}"


def describe_param(param: Param, key_prefix: str = "") -> str:
    """Help, range and default in a few lines (tooltip and help line share it)."""
    parts = [param.help]
    if param.low is not None or param.high is not None:
        low = "−∞" if param.low is None else format_float(param.low)
        high = "∞" if param.high is None else format_float(param.high)
        parts.append(f"Range: {low} … {high}" + (" (log scale)" if param.log else ""))
    parts.append(f"Default: {param.default!r}")
    if param.when is not None:
        other, allowed = param.when
        parts.append(f"Applies when {other} = {' or '.join(str(a) for a in allowed)}")
    parts.append(f"Config key: {key_prefix}{param.name}")
    return "\n".join(p for p in parts if p)


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def show_breaks(text: str) -> str:
    """A one-line field shows line breaks and tabs as ``\\n`` and ``\\t`` (a prompt template has them)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def read_breaks(text: str) -> str:
    """The inverse of :func:`show_breaks`; a backslash before anything else stays as typed."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class TextEdit(QLineEdit):
    """A text parameter on one line: ``\\n`` and ``\\t`` stand for line breaks and tabs."""

    def value(self) -> str:
        return read_breaks(self.text())

    def set_value(self, value: str) -> None:
        self.setText(show_breaks(value))


class FloatEdit(QLineEdit):
    """A number field: accepts 0.5, 3e-5, 1E-3."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMaximumWidth(160)

    def value(self) -> float | None:
        try:
            value = float(self.text().strip())
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    def set_value(self, value: float) -> None:
        self.setText(format_float(float(value)))


class ParamForm(QWidget):
    """Widgets for ``params``; ``values()`` gives ``{name: value}`` ready for the config.

    ``key_prefix`` is put before a parameter's name where the help line shows its TOML key
    (``method.params.`` for a method's form; config keys are already dotted).
    """

    values_changed = Signal()
    help_changed = Signal(str)  # the help of the field being edited or pointed at

    def __init__(self, params: list[Param] | tuple[Param, ...] = (), *, reset_button: bool = True,
                 key_prefix: str = "", help_line: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self.key_prefix = key_prefix
        self._own_help_line = help_line  # False: a page shows help_changed in a pane of its own
        self._params: list[Param] = []
        self._editors: dict[str, QWidget] = {}
        self._labels: dict[str, QLabel] = {}
        self._errors: dict[str, QLabel] = {}
        self._headings: list[QLabel] = []
        self._unavailable: dict[str, str] = {}  # field -> why it does not apply (set by the page)
        self._form = QFormLayout()
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._form)
        self.empty_label = QLabel("This method has no hyper-parameters.")
        self.empty_label.setVisible(False)
        layout.addWidget(self.empty_label)
        self.help_line = QLabel("")
        self.help_line.setObjectName("paramHelp")
        self.help_line.setWordWrap(True)
        self.help_line.setTextFormat(Qt.TextFormat.PlainText)
        self.help_line.setStyleSheet("color: #444; background: #f3f3f3; padding: 4px; border-radius: 3px;")
        layout.addWidget(self.help_line)
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Put every field back to its default value")
        self.reset_button.clicked.connect(self.reset_to_defaults)
        self.reset_button.setVisible(reset_button)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.reset_button)
        layout.addLayout(row)
        self.set_params(params)

    # --- building -----------------------------------------------------------------------
    def set_params(self, params: list[Param] | tuple[Param, ...]) -> None:
        while self._form.rowCount():
            self._form.removeRow(0)
        self._params = list(params)
        self._editors.clear()
        self._labels.clear()
        self._errors.clear()
        self._headings.clear()
        groups: dict[str, list[Param]] = {}
        for param in self._params:
            groups.setdefault(param.group or "Other", []).append(param)
        for group, members in groups.items():
            if len(groups) > 1:
                heading = QLabel(group)
                heading.setObjectName("paramGroup")
                heading.setStyleSheet("font-weight: bold; margin-top: 6px;")
                self._form.addRow(heading)
                self._headings.append(heading)
            for param in members:
                self._add_row(param)
        self.empty_label.setVisible(not self._params)
        self.help_line.setVisible(bool(self._params) and self._own_help_line)
        self.reset_button.setEnabled(bool(self._params))
        self._show_help(self._params[0] if self._params else None)
        self._update_applicable()
        guard_wheel(self)
        self.values_changed.emit()

    def _add_row(self, param: Param) -> None:
        editor = self._make_editor(param)
        editor.setObjectName(f"param:{param.name}")
        tip = describe_param(param, self.key_prefix)
        editor.setToolTip(tip)
        editor.installEventFilter(self)
        label = QLabel(param.label_text())
        label.setToolTip(tip)
        label.setBuddy(editor)
        label.installEventFilter(self)
        # The error gets a full-width row of its own: inside the field's cell a wrapped
        # label was squeezed to the editor's height and clipped top and bottom.
        error = QLabel("")
        error.setObjectName("fieldError")
        error.setStyleSheet("color: #c62828;")
        error.setVisible(False)
        error.setWordWrap(True)
        self._form.addRow(label, editor)
        self._form.addRow(error)
        self._editors[param.name] = editor
        self._labels[param.name] = label
        self._errors[param.name] = error

    def _show_help(self, param: Param | None) -> None:
        if param is None:
            self.help_line.setText("")
            return
        label = self._labels[param.name].text() if param.name in self._labels else param.label_text()  # as the form calls it
        why = self._unavailable.get(param.name)
        text = f"{label}: {why + chr(10) if why else ''}{describe_param(param, self.key_prefix)}".replace("\n", "  ·  ")
        self.help_line.setText(text)
        self.help_changed.emit(text)

    def show_help(self, name: str) -> None:
        """The help line (and ``help_changed``) for one field, as if it had the focus."""
        self._show_help(next(p for p in self._params if p.name == name))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.FocusIn, QEvent.Type.Enter):
            for param in self._params:
                if watched in (self._editors.get(param.name), self._labels.get(param.name)):
                    self._show_help(param)
                    break
        return super().eventFilter(watched, event)

    def _make_editor(self, param: Param) -> QWidget:
        if param.type == "int":
            spin = QSpinBox()
            spin.setRange(
                int(param.low) if param.low is not None else -INT_LIMIT,
                int(param.high) if param.high is not None else INT_LIMIT,
            )
            spin.setValue(int(param.default))
            spin.setMinimumWidth(100)
            spin.valueChanged.connect(self._changed)
            return spin
        if param.type == "float":
            edit = FloatEdit()
            edit.set_value(param.default)
            edit.textChanged.connect(self._changed)
            return edit
        if param.type == "bool":
            box = QCheckBox()
            box.setChecked(bool(param.default))
            box.toggled.connect(self._changed)
            return box
        if param.type == "choice":
            combo = QComboBox()
            for choice in param.choices:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(list(param.choices).index(param.default))
            combo.currentIndexChanged.connect(self._changed)
            return combo
        edit = TextEdit()
        edit.set_value(str(param.default))
        edit.textChanged.connect(self._changed)
        return edit

    # --- values -------------------------------------------------------------------------
    def params(self) -> list[Param]:
        return list(self._params)

    def help_text(self) -> str:
        return self.help_line.text()

    def applies(self, name: str) -> bool:
        """Whether a field is enabled: its ``when`` condition holds for the current values."""
        return self._editors[name].isEnabled()

    def set_unavailable(self, reasons: dict[str, str]) -> None:
        """Fields that do not apply for a reason outside the form (N-way for language
        modelling): disabled, the reason in their tooltip; other fields get theirs back."""
        self._unavailable = {name: why for name, why in reasons.items() if name in self._editors}
        for param in self._params:
            why = self._unavailable.get(param.name)
            tip = f"{why}\n\n{describe_param(param, self.key_prefix)}" if why else describe_param(param, self.key_prefix)
            self._editors[param.name].setToolTip(tip)
            self._labels[param.name].setToolTip(tip)
        self._changed()

    def set_labels(self, labels: dict[str, str]) -> None:
        """What the fields are called (a task's own words: documents, domains); others get their schema label."""
        for param in self._params:
            self._labels[param.name].setText(labels.get(param.name, param.label_text()))

    def _update_applicable(self) -> None:
        current = {p.name: self.raw_value(p) for p in self._params}
        for param in self._params:
            on = param.applies(current) and param.name not in self._unavailable
            self._editors[param.name].setEnabled(on)
            self._labels[param.name].setEnabled(on)

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def raw_value(self, param: Param) -> Any:
        editor = self._editors[param.name]
        if isinstance(editor, QSpinBox):
            return editor.value()
        if isinstance(editor, FloatEdit):
            return editor.value()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QComboBox):
            return editor.currentData()
        assert isinstance(editor, TextEdit)
        return editor.value()

    def problems(self) -> dict[str, str]:
        """Field name -> message, for values that do not pass the parameter's checks."""
        out = {}
        current = {p.name: self.raw_value(p) for p in self._params}
        for param in self._params:
            if not param.applies(current) or param.name in self._unavailable:
                continue  # a disabled field cannot be fixed by hand; values() gives its default
            value = current[param.name]
            if value is None:
                out[param.name] = f"'{param.name}' must be a number"
                continue
            try:
                param.check(value, key=param.name, source=None)
            except ConfigError as exc:
                out[param.name] = str(exc)
        return out

    def values(self) -> dict[str, Any]:
        """Every valid field's value; invalid ones keep their default (see ``problems``)."""
        out = {}
        for param in self._params:
            value = self.raw_value(param)
            try:
                out[param.name] = param.check(value, key=param.name, source=None)
            except ConfigError:
                out[param.name] = param.default
            except TypeError:
                out[param.name] = param.default
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        for param in self._params:
            if param.name not in values:
                continue
            value = values[param.name]
            editor = self._editors[param.name]
            editor.blockSignals(True)
            try:
                if isinstance(editor, QSpinBox):
                    editor.setValue(int(value))
                elif isinstance(editor, FloatEdit):
                    editor.set_value(float(value))
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(bool(value))
                elif isinstance(editor, QComboBox):
                    index = editor.findData(value)
                    if index >= 0:
                        editor.setCurrentIndex(index)
                elif isinstance(editor, TextEdit):
                    editor.set_value(str(value))
            finally:
                editor.blockSignals(False)
        self._changed()

    def reset_to_defaults(self) -> None:
        self.set_values({p.name: p.default for p in self._params})

    def _changed(self, *_: Any) -> None:
        self._update_applicable()
        problems = self.problems()
        for name, label in self._errors.items():
            message = problems.get(name, "")
            label.setText(message)
            label.setVisible(bool(message))
        self.values_changed.emit()
