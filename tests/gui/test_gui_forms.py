"""Forms generated from schemas: right widget per type, ranges, defaults, help, messages."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QSpinBox

from engine.specs import MethodSpec, Param, all_specs
from gui.widgets.param_form import FloatEdit, ParamForm, config_params

SPEC = MethodSpec(
    name="toy",
    title="Toy",
    description="A method made up for the test",
    impl="nowhere:Toy",
    params=(
        Param("steps", "int", 5, "Inner steps", low=1, high=50),
        Param("lr", "float", 3e-5, "Learning rate", low=1e-7, high=1.0, log=True),
        Param("first_order", "bool", True, "Skip second-order terms"),
        Param("head", "choice", "ncm", "Test-time head", choices=("ncm", "logreg")),
        Param("note", "str", "hello", "Free text"),
    ),
)


def test_each_type_gets_its_widget_with_defaults_and_tooltips(qtbot):
    form = ParamForm(SPEC.params)
    qtbot.addWidget(form)
    assert isinstance(form.editor("steps"), QSpinBox)
    assert isinstance(form.editor("lr"), FloatEdit)
    assert isinstance(form.editor("first_order"), QCheckBox)
    assert isinstance(form.editor("head"), QComboBox)
    assert isinstance(form.editor("note"), QLineEdit)
    assert form.values() == SPEC.defaults()
    spin = form.editor("steps")
    assert (spin.minimum(), spin.maximum()) == (1, 50)
    assert "Inner steps" in spin.toolTip() and "Range: 1 … 50" in spin.toolTip()
    assert "log scale" in form.editor("lr").toolTip()
    assert form.editor("lr").text() == "3e-05"
    assert [form.editor("head").itemText(i) for i in range(2)] == ["ncm", "logreg"]


def test_values_set_reset_and_validation_messages(qtbot):
    form = ParamForm(SPEC.params)
    qtbot.addWidget(form)
    form.set_values({"steps": 9, "lr": 0.001, "first_order": False, "head": "logreg", "note": "x"})
    assert form.values() == {"steps": 9, "lr": 0.001, "first_order": False, "head": "logreg", "note": "x"}
    form.editor("lr").setText("5")
    assert form.problems() == {"lr": "'lr' must be at most 1.0, got 5.0"}
    error = form.findChildren(QLabel, "fieldError")[1]
    assert error.isVisible() or error.text() == "'lr' must be at most 1.0, got 5.0"
    form.editor("lr").setText("fast")
    assert form.problems() == {"lr": "'lr' must be a number"}
    assert form.values()["lr"] == 3e-5  # an invalid field falls back to the default
    form.reset_to_defaults()
    assert form.values() == SPEC.defaults()
    assert form.problems() == {}


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_every_registered_method_builds_a_form(qtbot, spec):
    form = ParamForm(spec.params)
    qtbot.addWidget(form)
    assert form.values() == spec.defaults()
    assert form.problems() == {}
    assert spec.validate_params(form.values()) == spec.defaults()


def test_a_method_without_parameters_says_so(qtbot):
    form = ParamForm(())
    qtbot.addWidget(form)
    form.show()
    assert form.values() == {}
    assert form.empty_label.isVisible()


def test_config_keys_become_params():
    params = {p.name: p for p in config_params(["task.mode", "task.n_way", "task.meta_test_fraction", "train.seed"])}
    assert params["task.mode"].type == "choice" and params["task.mode"].choices == ("episodic", "supervised")
    assert params["task.n_way"].type == "int" and params["task.n_way"].low == 2 and params["task.n_way"].default == 5
    assert params["task.meta_test_fraction"].type == "float" and params["task.meta_test_fraction"].high == 1.0
    assert params["train.seed"].default == 0
