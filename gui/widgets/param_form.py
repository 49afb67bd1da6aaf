"""A form generated from a list of ``engine.specs.Param``: no method-specific code.

int -> spin box, float -> text field that takes 3e-5 (log-scale rates read badly in a
spin box), bool -> check box, choice -> combo box, str -> text field. The label is the
TOML key (the name a person sees is the name in the config file), help is the tooltip,
ranges are enforced, and a value out of range shows its message under the field.

The same form serves the config's own keys (``task.n_way`` ...): ``config_params``
turns rows of ``engine.config.schema()`` into ``Param``s.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Signal
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
from engine.specs import Param
from engine.tasks import TASK_TYPES

INT_LIMIT = 2_000_000_000
_CONFIG_TYPES = {"an integer": "int", "a number": "float", "true or false": "bool", "a string": "str"}
_CONFIG_CHOICES: dict[str, tuple[Any, ...]] = {"task.mode": TASK_MODES, "task.type": tuple(TASK_TYPES)}


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
            )
        )
    return params


def format_float(value: float) -> str:
    text = f"{value:.6g}"
    return text


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
    """Widgets for ``params``; ``values()`` gives ``{name: value}`` ready for the config."""

    values_changed = Signal()

    def __init__(self, params: list[Param] | tuple[Param, ...] = (), *, reset_button: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self._params: list[Param] = []
        self._editors: dict[str, QWidget] = {}
        self._errors: dict[str, QLabel] = {}
        self._form = QFormLayout()
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._form)
        self.empty_label = QLabel("This method has no hyper-parameters.")
        self.empty_label.setVisible(False)
        layout.addWidget(self.empty_label)
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
        self._errors.clear()
        for param in self._params:
            editor = self._make_editor(param)
            editor.setObjectName(f"param:{param.name}")
            tip = self._tooltip(param)
            editor.setToolTip(tip)
            label = QLabel(param.name)
            label.setToolTip(tip)
            error = QLabel("")
            error.setObjectName("fieldError")
            error.setStyleSheet("color: #c62828;")
            error.setVisible(False)
            error.setWordWrap(True)
            box = QWidget()
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(0, 0, 0, 0)
            box_layout.setSpacing(1)
            box_layout.addWidget(editor)
            box_layout.addWidget(error)
            self._form.addRow(label, box)
            self._editors[param.name] = editor
            self._errors[param.name] = error
        self.empty_label.setVisible(not self._params)
        self.reset_button.setEnabled(bool(self._params))
        self.values_changed.emit()

    @staticmethod
    def _tooltip(param: Param) -> str:
        parts = [param.help]
        if param.low is not None or param.high is not None:
            low = "−∞" if param.low is None else format_float(param.low)
            high = "∞" if param.high is None else format_float(param.high)
            parts.append(f"Range: {low} … {high}" + (" (log scale)" if param.log else ""))
        parts.append(f"Default: {param.default!r}")
        return "\n".join(p for p in parts if p)

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
        edit = QLineEdit(str(param.default))
        edit.textChanged.connect(self._changed)
        return edit

    # --- values -------------------------------------------------------------------------
    def params(self) -> list[Param]:
        return list(self._params)

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
        assert isinstance(editor, QLineEdit)
        return editor.text()

    def problems(self) -> dict[str, str]:
        """Field name -> message, for values that do not pass the parameter's checks."""
        out = {}
        for param in self._params:
            value = self.raw_value(param)
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
                elif isinstance(editor, QLineEdit):
                    editor.setText(str(value))
            finally:
                editor.blockSignals(False)
        self._changed()

    def reset_to_defaults(self) -> None:
        self.set_values({p.name: p.default for p in self._params})

    def _changed(self, *_: Any) -> None:
        problems = self.problems()
        for name, label in self._errors.items():
            message = problems.get(name, "")
            label.setText(message)
            label.setVisible(bool(message))
        self.values_changed.emit()
