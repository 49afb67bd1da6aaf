import json

from gui.widgets.dataset_panel import DatasetPanel


def wait_loaded(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=20_000)


def test_ner_preview_highlights_entities_and_counts_types(qtbot):
    panel = DatasetPanel()
    qtbot.addWidget(panel)
    panel.set_task_type("token_classification")
    panel.load("bundled:entities")
    wait_loaded(qtbot, panel)
    assert panel.dataset is not None, panel.error
    counts = panel.counts()
    assert len(counts) == 18 and panel.chart.counts == counts and panel.chart.unit == "mentions"
    assert panel.status.text().startswith("960 sentences, ")
    assert panel.preview_stack.currentWidget() is panel.sentences
    html = panel.sentences.toHtml()
    first = panel.dataset.sentences[0]
    assert first[-2] in html and "PERSON" in html and "background-color" in html
    assert not panel.text_column.isEnabled()  # CoNLL has no columns to choose


def test_switching_back_to_classification_reloads_as_a_table(qtbot, tmp_path):
    panel = DatasetPanel()
    qtbot.addWidget(panel)
    panel.set_task_type("token_classification")
    panel.load("bundled:entities")
    wait_loaded(qtbot, panel)
    panel.set_task_type("classification")
    wait_loaded(qtbot, panel)
    assert panel.dataset is None and 'fits task.type = "token_classification"' in panel.status.text()
    assert panel.preview_stack.currentWidget() is panel.preview


def test_broken_ner_file_shows_one_line_and_jsonl_columns_are_guessed(qtbot, tmp_path):
    panel = DatasetPanel()
    qtbot.addWidget(panel)
    panel.set_task_type("token_classification")
    broken = tmp_path / "broken.conll"
    broken.write_text("Ada\tO\nLovelace\tI-PER\n")
    panel.load(str(broken))
    wait_loaded(qtbot, panel)
    assert panel.dataset is None
    assert panel.status.text() == f"{broken}: line 2: tag 'I-PER' follows 'O' with no B-PER before it"
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": 1, "words": ["Ada", "ran"], "ner_tags": ["B-PER", "O"]}) + "\n")
    panel.load(str(rows))
    wait_loaded(qtbot, panel)
    assert panel.dataset is not None, panel.error
    assert (panel.text_column_name(), panel.label_column_name()) == ("words", "ner_tags")
    assert panel.counts() == {"PER": 1}
