"""The New experiment page: dataset preview, live validation, config round trip."""

from __future__ import annotations

import pytest
from conftest import write_intents

from engine.config import RunConfig
from engine.errors import UserError
from gui.pages.new_experiment import NewExperimentPage


@pytest.fixture
def page(qtbot, fake_cmd):
    from gui.engine_info import EngineInfo

    info = EngineInfo(command=fake_cmd)
    page = NewExperimentPage(info)
    qtbot.addWidget(page)
    page.show()
    yield page
    info.shutdown()


def load(qtbot, page, path, **values):
    values = {"dataset.path": str(path), "train.device": "cpu", "task.meta_val_fraction": 0.35, **values}
    config = RunConfig().with_values(values)
    page.set_config(config)
    qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=5000)
    return page.validate()


def method_enabled(page, name: str) -> bool:
    return page.method.model().item(page.method.findData(name)).isEnabled()


def method_tip(page, name: str) -> str:
    from PySide6.QtCore import Qt

    return page.method.itemData(page.method.findData(name), Qt.ItemDataRole.ToolTipRole)


def test_dataset_preview_columns_and_counts(qtbot, page, intents_csv):
    assert load(qtbot, page, intents_csv) is None
    panel = page.dataset_panel
    assert panel.preview_model.columnCount() == 2
    assert panel.preview_model.rowCount() == 200  # the preview is the first rows
    assert panel.text_column_name() == "text" and panel.label_column_name() == "label"
    assert len(panel.chart.counts) == 32
    assert "768 rows in 32 classes" in panel.status.text()
    assert "classes held out for meta-test; 5-way needs 5 — ok" in panel.checks.text()
    assert page.launch_button.isEnabled()
    assert page.reason.text().startswith("Ready: protonet")


def test_validation_follows_n_k_q_and_blocks_launch(qtbot, page, tmp_path):
    path = write_intents(tmp_path / "short.csv", short_class=3)
    problem = load(qtbot, page, path)
    assert problem == "class 'intent_03' has 12 rows, 5-shot + 15 queries needs 20"
    assert not page.launch_button.isEnabled()
    assert page.reason.text() == problem
    page.task_form.set_values({"task.query": 5})  # 5 + 5 = 10 rows: fits now
    assert page.validate() is None
    assert page.launch_button.isEnabled()
    page.task_form.set_values({"task.n_way": 20})
    assert page.validate() == "16 classes held out for meta-test; 20-way needs 20 — too few"
    assert not page.launch_button.isEnabled()


def test_a_broken_file_shows_the_engines_message(qtbot, page, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n\"unterminated,x\n", encoding="utf-8")
    problem = load(qtbot, page, bad)
    assert problem is not None and str(bad) in problem
    assert page.dataset_panel.status.text() == problem
    assert not page.launch_button.isEnabled()
    assert load(qtbot, page, tmp_path / "missing.csv") == f"{tmp_path / 'missing.csv'}: file not found"


def test_bad_form_value_names_the_key(qtbot, page, intents_csv):
    load(qtbot, page, intents_csv)
    page.param_form.editor("lr").setText("-1")
    assert page.validate() == "'lr' must be at least 1e-07, got -1.0"
    page.param_form.reset_to_defaults()
    page.name.setText("  ")
    assert page.validate() == "Give the run a name."


def test_config_save_open_round_trip(qtbot, page, intents_csv, tmp_path):
    load(qtbot, page, intents_csv)
    page.name.setText("round-trip")
    page.tags.setText("a, b")
    page.task_form.set_values({"task.n_way": 3, "task.k_shot": 2, "task.query": 4})
    page.param_form.set_values({"lr": 0.001, "distance": "euclidean"})
    page.run_form.set_values({"train.episodes": 77, "train.seed": 3})
    saved = page.save_config(tmp_path / "run.toml")
    text = (tmp_path / "run.toml").read_text()
    assert "n_way = 3" in text and 'distance = "euclidean"' in text
    loaded = RunConfig.load(tmp_path / "run.toml")  # what the CLI reads
    assert loaded.to_dict() == saved.to_dict()
    assert loaded.method.params["lr"] == 0.001 and loaded.train.episodes == 77 and loaded.tags == ["a", "b"]

    other = RunConfig().with_values({"dataset.path": str(intents_csv), "name": "other", "train.eval_untrained": True})
    page.set_config(other)
    assert page.build_config().name == "other"
    page.open_config(tmp_path / "run.toml")
    qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=5000)
    assert page.build_config().to_dict() == loaded.to_dict()  # keys the form lacks survive too


def test_opening_a_bad_config_raises_one_line(page, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[task]\nn_wya = 5\n", encoding="utf-8")
    with pytest.raises(UserError, match="unknown key 'task.n_wya'"):
        page.open_config(path)


def test_method_switch_keeps_each_methods_values(qtbot, page, intents_csv):
    load(qtbot, page, intents_csv)
    page.param_form.set_values({"lr": 0.002})
    other = page.method.findData("finetune")
    page.method.setCurrentIndex(other)
    assert "batch_size" in page.param_form.values()
    page.method.setCurrentIndex(page.method.findData("protonet"))
    assert page.param_form.values()["lr"] == 0.002
    assert page.method_description.text()


def test_ner_task_type_switches_preview_checks_and_methods(qtbot, page):
    from dataclasses import replace

    assert load(qtbot, page, "bundled:entities", **{"task.type": "token_classification", "task.k_shot": 1, "task.query": 2}) is None
    panel = page.dataset_panel
    assert panel.task_type == "token_classification"
    assert panel.preview_stack.currentWidget() is panel.sentences and len(panel.chart.counts) == 18
    assert "entity types held out for meta-test; 5-way needs 5 — ok" in panel.checks.text()
    assert page.config.task.type == "token_classification"
    # a method that does not serve NER is greyed out for it, its tooltip saying why
    page.specs["protonet"] = replace(page.specs["protonet"], tasks=("classification",))
    page._mode = None
    page._fill_methods_for_mode()
    assert not method_enabled(page, "protonet") and method_enabled(page, "maml")
    assert method_tip(page, "protonet") == "Not available: protonet serves Text classification, not Token classification (NER)"
    assert page.method_name() != "protonet"  # the current method moved to one that can run
    page.task_form.set_values({"task.type": "classification"})
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=5000)
    assert method_enabled(page, "protonet")
    # the bundled data followed the type: back to the default classification set
    assert panel.path() == RunConfig().dataset.path and page.validate() is None


def test_inline_errors_get_their_full_height(qtbot, page, intents_csv):
    page.resize(1024, 650)
    load(qtbot, page, intents_csv, **{"method.name": "maml"})
    page.param_form.editor("lr").setText("123456")
    error = page.param_form._errors["lr"]
    qtbot.waitUntil(error.isVisible, timeout=3000)
    qtbot.wait(100)
    # a wrapped message in the field's cell used to get the editor's height: clipped top and bottom
    assert error.height() >= error.heightForWidth(error.width())


def test_a_clone_follows_the_method_until_the_name_is_typed(qtbot, page, intents_csv):
    load(qtbot, page, intents_csv, name="protonet-intents")
    page.method.setCurrentIndex(page.method.findData("maml"))
    assert page.name.text() == "maml-intents"
    page.set_config(RunConfig().with_values({"name": "baseline", "dataset.path": str(intents_csv)}))
    page.method.setCurrentIndex(page.method.findData("anil"))
    assert page.name.text() == "baseline-anil"
    page.method.setCurrentIndex(page.method.findData("protonet"))
    assert page.name.text() == "baseline-protonet"
    qtbot.keyClicks(page.name, "-mine")  # typed by hand: left alone from now on
    page.method.setCurrentIndex(page.method.findData("maml"))
    assert page.name.text() == "baseline-protonet-mine"


def test_one_class_is_singular(qtbot, page, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("text,label\n" + "".join(f"row {i},only\n" for i in range(6)), encoding="utf-8")
    problem = load(qtbot, page, path)
    assert page.dataset_panel.status.text().startswith("6 rows in 1 class ·")
    assert problem == "6 rows in 1 class; at least 2 classes are needed"


def test_tab_leaves_the_dataset_preview(qtbot, page, intents_csv):
    from PySide6.QtCore import Qt

    load(qtbot, page, intents_csv)
    preview = page.dataset_panel.preview
    preview.setFocus()
    qtbot.waitUntil(preview.hasFocus, timeout=3000)
    qtbot.keyClick(preview, Qt.Key.Key_Tab)
    assert not preview.hasFocus()


def test_search_hands_the_form_to_a_study(qtbot, page, intents_csv):
    load(qtbot, page, intents_csv, **{"method.name": "maml"})
    with qtbot.waitSignal(page.search_requested, timeout=3000) as signal:
        page.search_button.click()
    assert signal.args[0].method.name == "maml" and signal.args[0].dataset.path == str(intents_csv)


def test_parameter_help_is_in_view_without_hovering(qtbot, page, intents_csv):
    page.resize(1024, 650)
    load(qtbot, page, intents_csv, **{"method.name": "maml"})
    editor = page.param_form.editor("lora_rank")
    page.settings_scroll.ensureWidgetVisible(editor)
    editor.setFocus()
    qtbot.waitUntil(lambda: "Rank of the LoRA adapters" in page.help_pane.text(), timeout=3000)
    assert "method.params.lora_rank" in page.help_pane.text()
    assert page.help_pane.isVisible() and not page.settings_scroll.isAncestorOf(page.help_pane)  # never scrolled away
    page.task_form.editor("task.k_shot").setFocus()
    qtbot.waitUntil(lambda: "Support examples per class" in page.help_pane.text(), timeout=3000)


def test_no_label_is_a_raw_config_key(qtbot, page, intents_csv):
    import re

    from PySide6.QtWidgets import QFormLayout, QLabel

    load(qtbot, page, intents_csv, **{"method.name": "maml"})
    labels = []
    for form in page.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and isinstance(item.widget(), QLabel) and item.widget().text():
                labels.append(item.widget().text())
    assert len(labels) > 30 and "Learning rate" in labels and "Text column" in labels and "Base model" in labels
    raw = [text for text in labels if re.fullmatch(r"[a-z0-9_.]+", text)]
    assert raw == [], f"labels that are config keys: {raw}"


def test_baseline_button_shows_the_frozen_encoders_figures_inline(qtbot, page, intents_csv):
    assert load(qtbot, page, intents_csv) is None
    page.baseline_button.click()
    qtbot.waitUntil(lambda: page.baseline_button.isEnabled(), timeout=60_000)
    text = page.baseline_result.text()
    assert "nearest class mean 79.7% ± 1.2" in text and "logistic regression 80.6%" in text, text
    assert "5-way 5-shot" in text


def test_baseline_button_shows_the_engines_error_in_one_line(qtbot, page, intents_csv, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "bad_input")
    assert load(qtbot, page, intents_csv) is None
    page.baseline_button.click()
    qtbot.waitUntil(lambda: page.baseline_button.isEnabled(), timeout=60_000)
    assert page.baseline_result.text().startswith("Baseline failed:") and "too few classes" in page.baseline_result.text()


def test_baseline_button_with_an_invalid_form_names_the_problem_and_runs_nothing(qtbot, page, intents_csv):
    load(qtbot, page, intents_csv, **{"task.k_shot": 30})  # 24 rows per class cannot hold 30 + 15
    page.baseline_button.click()
    assert page.baseline_result.text().startswith("Baseline: ") and page.baseline_button.isEnabled()
    assert page._baseline_call is None


LM_VALUES = {"task.type": "language_modeling", "task.k_shot": 4, "task.query": 4, "task.meta_test_fraction": 0.25,
             "dataset.label_column": "domain", "model.name": "bundled:tiny-gpt2", "method.name": "fomaml"}


def test_the_language_modelling_task_speaks_of_documents_and_domains(qtbot, page):
    load(qtbot, page, "bundled:domains", **LM_VALUES)
    qtbot.waitUntil(lambda: page.model_panel.model_kind() == "decoder", timeout=20_000)
    assert page.validate() is None, page.problem
    panel = page.dataset_panel
    assert panel.column_form.labelForField(panel.label_column).text() == "Domain column"
    import csv

    from engine.data import bundled_datasets

    with bundled_datasets()["domains"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert panel.status.text().startswith(f"{len(rows)} documents in {len({r['domain'] for r in rows})} domains")
    assert panel.chart_title.text() == "Documents per domain" and panel.chart.unit == "documents"
    form = page.task_form
    assert form.editor("task.type").currentText() == "Language modelling (decoders)"  # its title; the value is its name
    assert page.config.task.type == "language_modeling"
    assert not form.editor("task.n_way").isEnabled()
    assert form.editor("task.n_way").toolTip().startswith("Does not apply to language modelling")
    assert form._labels["task.k_shot"].text() == "Support documents (K)"
    assert page.reason.text().startswith("Ready: fomaml on bundled:domains, 4 support + 4 query documents per domain")
    assert page.model_panel.details.text().startswith("Decoder (causal LM)")
    assert not page.baseline_button.isEnabled()
    # metric methods do not serve language modelling: offered, greyed, saying why
    assert not method_enabled(page, "protonet") and method_enabled(page, "maml")
    assert "not Language modelling" in method_tip(page, "protonet")


def test_an_encoder_for_language_modelling_is_refused_with_a_way_out(qtbot, page):
    from gui.widgets.model_panel import DEFAULT_MODEL

    load(qtbot, page, "bundled:domains", **LM_VALUES)
    page.model_panel.set_model_name(DEFAULT_MODEL)
    qtbot.waitUntil(lambda: page.model_panel.model_kind() == "encoder", timeout=20_000)
    problem = page.validate()
    assert problem == f"Language modelling (decoders) needs a decoder (a causal LM); {DEFAULT_MODEL} is an encoder — try bundled:tiny-gpt2"
    assert not page.launch_button.isEnabled()


def test_a_decoder_only_method_is_greyed_out_for_an_encoder(qtbot, page, intents_csv):
    """Driven by the method's schema (``model_kinds`` in ``methods --json``), not by its name."""
    from dataclasses import fields

    from engine.catalog import MethodSpec

    class DecoderOnly(MethodSpec):
        def to_json(self):
            return {**super().to_json(), "model_kinds": ["decoder"]}

    maml = page.specs["maml"]
    page.specs["maml"] = DecoderOnly(**{f.name: getattr(maml, f.name) for f in fields(maml)})
    assert load(qtbot, page, intents_csv) is None
    qtbot.waitUntil(lambda: page.model_panel.model_kind() == "encoder", timeout=20_000)
    assert not method_enabled(page, "maml")
    assert method_tip(page, "maml") == "Not available: maml needs a decoder (a causal LM); the base model is an encoder"
    page.model_panel.set_model_name("bundled:tiny-gpt2")
    qtbot.waitUntil(lambda: page.model_panel.model_kind() == "decoder", timeout=20_000)
    assert method_enabled(page, "maml")


def test_switching_to_language_modelling_brings_its_sample_data_and_model(qtbot, page):
    from gui.widgets.model_panel import DEFAULT_MODEL, SAMPLE_DECODER

    assert load(qtbot, page, "bundled:intents") is None
    page.task_form.set_values({"task.type": "language_modeling"})
    qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=5000)
    assert page.dataset_panel.path() == "bundled:domains" and page.model_panel.model_name() == SAMPLE_DECODER
    assert page.dataset_panel.label_column_name() == "domain"
    page.task_form.set_values({"task.type": "classification"})
    qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=5000)
    assert page.dataset_panel.path() == "bundled:intents" and page.model_panel.model_name() == DEFAULT_MODEL
    assert page.task_form.editor("task.n_way").isEnabled()
    assert page.task_form._labels["task.k_shot"].text() == "Support examples per class (K)"


def test_an_icl_prompt_that_does_not_fit_is_refused_before_launch(qtbot, page, intents_csv, monkeypatch):
    """Whether a prompt fits needs the model's tokenizer: the page asks the engine's
    `validate --json` once per config, keeps Launch off meanwhile, and shows its one line."""
    monkeypatch.setenv("FAKE_PROMPT_TOKENS", "118")
    values = {"model.name": "bundled:tiny-gpt2", "method.name": "icl", "model.max_length": 64, "task.k_shot": 1}
    load(qtbot, page, intents_csv, **values)
    qtbot.waitUntil(lambda: page.model_panel.model_kind() == "decoder", timeout=20_000)
    page.validate()
    assert not page.launch_button.isEnabled()
    qtbot.waitUntil(lambda: "needs 118 tokens" in page.reason.text(), timeout=20_000)
    assert "model.max_length is 64" in page.reason.text() and not page.launch_button.isEnabled()
    # a longer context fits: Launch turns on once the engine says so
    page.run_form.set_values({"model.max_length": 256})
    qtbot.waitUntil(lambda: page.launch_button.isEnabled(), timeout=20_000)
    assert page.reason.text().startswith("Ready: icl")


def test_a_late_model_answer_does_not_reach_a_closed_page(qtbot, fake_cmd):
    """The engine info outlives pages: an answer that comes after a page is gone must not
    call into its deleted widgets (it did, through a lambda, in a full-suite run)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    from gui.engine_info import EngineInfo

    info = EngineInfo(command=fake_cmd)
    closed = NewExperimentPage(info)
    closed.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    info.model_info_changed.emit("bundled:tiny-gpt2", {"kind": "decoder"})  # raised inside Qt before the fix
    info.shutdown()


def test_a_dataset_that_can_only_be_ner_switches_the_task_type(qtbot, page, intents_csv, tmp_path):
    """Picking a CoNLL file (or the bundled NER set) on a classification form reads it as NER
    and says so, instead of refusing it; the other task types are unchanged."""
    assert load(qtbot, page, intents_csv) is None
    own = tmp_path / "mine.conll"
    own.write_text("".join(f"Ada{i}\tB-PER\nin\tO\nRome{i}\tB-CITY\n\n" for i in range(40)))
    for path in (str(own), "bundled:entities"):
        page.dataset_panel.load(path)
        qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=10_000)
        assert page.task_form.values()["task.type"] == "token_classification"
        assert page.dataset_panel.path() == path and page.dataset_panel.dataset is not None, page.dataset_panel.error
        assert "task type set to Token classification (NER)" in page.dataset_panel.status.text()
        page.task_form.set_values({"task.type": "classification"})  # the user's choice is not flipped back
        qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=10_000)
        assert page.task_form.values()["task.type"] == "classification"
        if path == "bundled:entities":  # a bundled classification set takes its place
            assert page.dataset_panel.path().startswith("bundled:") and page.dataset_panel.dataset is not None
        else:  # one's own file stays, with the engine's word on the mismatch
            assert page.dataset_panel.path() == path and 'fits task.type = "token_classification"' in page.dataset_panel.error


def test_a_failed_load_leaves_no_class_names_on_the_chart(qtbot, page, intents_csv, tmp_path):
    assert load(qtbot, page, intents_csv) is None
    assert page.dataset_panel.chart.getAxis("left")._tickLevels
    broken = tmp_path / "broken.csv"
    broken.write_text("just one column\nno labels\n")
    page.dataset_panel.load(str(broken))
    qtbot.waitUntil(lambda: not page.dataset_panel.is_busy(), timeout=10_000)
    assert page.dataset_panel.dataset is None
    assert page.dataset_panel.chart.getAxis("left")._tickLevels in ([[]], [])


def test_scrolling_the_form_never_changes_a_field_under_the_pointer(qtbot, page, intents_csv):
    """The wheel over an unclicked combo box scrolls the settings; once clicked it picks values."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    assert load(qtbot, page, intents_csv) is None
    page.resize(1000, 500)  # the settings column scrolls
    bar = page.settings_scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5000)
    bar.setValue(0)
    method = page.method.currentData()

    def wheel_down(widget):
        centre = QPointF(widget.rect().center())
        event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)

    page.launch_button.setFocus()
    wheel_down(page.method)
    assert page.method.currentData() == method and bar.value() > 0  # the page scrolled instead
    n_way = page.task_form.editor("task.n_way")  # a spin box, in a form built after the page
    before = n_way.value()
    wheel_down(n_way)
    assert n_way.value() == before
    page.method.setFocus()
    wheel_down(page.method)
    assert page.method.currentData() != method  # clicked first: the wheel is the user's choice


def test_a_baseline_for_another_form_is_marked_out_of_date(qtbot, page, intents_csv):
    """Issue 27, case 18e: a 200-episode result stayed beside a form set to 50."""
    assert load(qtbot, page, intents_csv) is None
    page.baseline_button.click()
    qtbot.waitUntil(lambda: page.baseline_button.isEnabled(), timeout=60_000)
    scored = page.baseline_result.text()
    assert scored.startswith("Frozen encoder (5-way 5-shot, 200 test episodes)"), scored
    page.task_form.editor("task.test_episodes").setValue(50)
    qtbot.waitUntil(lambda: page.baseline_result.text() != scored, timeout=5000)
    assert page.baseline_result.text().startswith("Out of date, the form changed since (press Baseline again)")
    page.task_form.editor("task.test_episodes").setValue(200)  # back to the form it was scored for
    qtbot.waitUntil(lambda: page.baseline_result.text() == scored, timeout=5000)
    page.name.setText("renamed")  # the name does not change the figures
    page.validate()
    assert page.baseline_result.text() == scored
    page.task_form.editor("task.test_episodes").setValue(50)
    qtbot.waitUntil(lambda: page.baseline_result.text() != scored, timeout=5000)
    page.baseline_button.click()  # scored again for the new form
    qtbot.waitUntil(lambda: page.baseline_button.isEnabled(), timeout=60_000)
    assert page.baseline_result.text().startswith("Frozen encoder (5-way 5-shot, 50 test episodes)")
