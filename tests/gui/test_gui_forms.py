"""Forms generated from schemas: right widget per type, ranges, defaults, help, messages."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QSpinBox

from engine.catalog import MethodSpec, Param, all_specs
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


def maml_form(qtbot):
    from engine.catalog import get

    form = ParamForm(get("maml").params, key_prefix="method.params.")
    qtbot.addWidget(form)
    form.resize(480, 900)
    form.show()
    return form


def test_maml_parameters_sit_in_labelled_groups(qtbot):
    form = maml_form(qtbot)
    headings = [h.text() for h in form.findChildren(QLabel, "paramGroup")]
    assert {"Optimizer", "Inner loop", "Adaptation scope", "Speed and memory"} <= set(headings)
    labels = {form._labels[name].text() for name in ("lr", "inner_lr", "lora_rank")}
    assert labels == {"Learning rate", "Inner learning rate (encoder)", "LoRA rank"}  # people's words, not keys


def test_fields_that_do_not_apply_are_disabled_from_the_schema(qtbot):
    form = maml_form(qtbot)
    assert form.values()["scope"] == "lora"
    assert form.applies("lora_rank") and form.applies("lora_alpha") and not form.applies("top_k")
    form.set_values({"scope": "head"})
    assert not any(form.applies(n) for n in ("top_k", "lora_rank", "lora_alpha", "inner_lr"))
    assert form.applies("head_inner_lr")
    form.set_values({"scope": "top_k_layers"})
    assert form.applies("top_k") and not form.applies("lora_rank")
    # a bad value in a field that does not apply cannot block a launch: it is not editable
    form.set_values({"scope": "lora"})
    form.editor("lora_alpha").setText("nonsense")
    assert "lora_alpha" in form.problems()
    form.set_values({"scope": "head"})
    assert form.problems() == {} and form.values()["lora_alpha"] == 16.0


def test_help_is_shown_without_hovering(qtbot):
    form = maml_form(qtbot)
    assert form.help_line.isVisible() and "Learning rate" in form.help_text()
    form.editor("inner_steps_test").setFocus()
    qtbot.waitUntil(lambda: "Inner-loop steps on each support set" in form.help_text(), timeout=3000)
    assert "method.params.inner_steps_test" in form.help_text() and "Default: 3" in form.help_text()


def test_supervised_mode_disables_episode_keys(qtbot):
    form = ParamForm(config_params(["task.mode", "task.n_way", "task.k_shot", "train.seed"]))
    qtbot.addWidget(form)
    assert form.applies("task.n_way")
    form.set_values({"task.mode": "supervised"})
    assert not form.applies("task.n_way") and not form.applies("task.k_shot") and form.applies("train.seed")
    assert form._labels["task.n_way"].text() == "Classes per episode (N)"


def test_a_prompt_template_keeps_its_line_breaks_through_the_form(qtbot):
    """icl's template has line breaks: the one-line field shows them as \\n and gives them back."""
    from gui.widgets.param_form import ParamForm, read_breaks, show_breaks
    from engine.catalog import Param

    template = "Input: {text}\nLabel: {label}\n\n"
    form = ParamForm([Param("template", "str", template, help="prompt")])
    qtbot.addWidget(form)
    editor = form.editor("template")
    assert editor.text() == "Input: {text}\\nLabel: {label}\\n\\n"
    assert form.values()["template"] == template
    editor.setText("Q: {text}\\tA: {label}\\n")
    assert form.values()["template"] == "Q: {text}\tA: {label}\n"
    form.set_values({"template": "a\\b\nc"})
    assert form.values()["template"] == "a\\b\nc"
    for text in ["", "\\", "\\n", "x\\\\ny", "tab\there", "end\\"]:
        assert read_breaks(show_breaks(text)) == text
