"""Try a model on an NER run: marked example sentences go to the engine's predict, and the
tagged answer comes back as sentences with their entities highlighted."""

from __future__ import annotations

import json
import sys

import pytest

from engine.data.spans import spans
from gui.ner_examples import query_request, run_examples, support_request
from gui.pages.try_model import TryModelPage

NER_CONFIG = {
    "task": {"type": "token_classification", "n_way": 3, "k_shot": 1, "query": 2, "split_seed": 0,
             "meta_test_fraction": 0.5, "meta_val_fraction": 0.3},
    "dataset": {"path": "bundled:entities", "text_column": "", "label_column": ""},
}
ANSWER = {"run_id": "r1", "types": ["CITY", "PERSON"],
          "predictions": [{"tokens": ["Ada", "left", "Velmora", "."], "tags": ["B-PERSON", "O", "B-CITY", "O"]}]}


def test_requests_are_tokens_and_tags():
    assert support_request("[Ada](PERSON) left.\n\nIn [Velmora](CITY)") == [
        {"tokens": ["Ada", "left", "."], "tags": ["B-PERSON", "O", "O"]},
        {"tokens": ["In", "Velmora"], "tags": ["O", "B-CITY"]},
    ]
    assert query_request("Ada left.\n \n") == ["Ada left ."]
    with pytest.raises(ValueError, match="line 2: write an entity as"):
        support_request("[Ada](PERSON)\n[Velmora left")
    with pytest.raises(ValueError, match="mark at least one entity"):
        support_request("no entities here")


def test_run_examples_are_the_first_meta_test_episode():
    support, query = run_examples(NER_CONFIG)
    lines = support.splitlines()
    assert lines and all("](" in line for line in lines)
    typed = {span.type for line in lines for span in spans(support_request(line)[0]["tags"])}
    assert len(typed) == 3
    assert 1 <= len(query.splitlines()) <= 5 and "](" not in query
    assert run_examples(NER_CONFIG) == (support, query)  # a pure function of the run's settings


def test_ner_run_predicts_through_the_engine_and_highlights(qtbot, tmp_path):
    script = tmp_path / "engine.py"
    script.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps([args, json.load(open(args[args.index('--input') + 1]))]))\n"
        f"print(json.dumps({ANSWER!r}))\n"
    )
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, str(script)])
    qtbot.addWidget(page)
    page.configs = {"r1": NER_CONFIG}
    page.run_combo.addItem("ner run", "r1")
    page._run_selected()
    assert page.task_type == "token_classification" and page.run_examples_button.isVisibleTo(page)
    assert "[" in page.support.toPlainText()  # the NER sample replaced the classification one
    page.support.setPlainText("[Ada](PERSON) left [Velmora](CITY).")
    page.query.setPlainText("Bo left Kessing.")
    with qtbot.waitSignal(page.prediction_shown, timeout=20_000):
        page.predict()
    args, request = json.loads((tmp_path / "args.json").read_text())
    assert args[:2] == ["predict", "r1"]
    # the engine refuses --explain for tags: the box is off for an NER run, checked or not
    assert "--explain" not in args and not page.explain_box.isEnabled() and not page.explained_box.isVisibleTo(page)
    assert request["query"] == ["Bo left Kessing ."]
    assert request["support"][0]["tags"] == ["B-PERSON", "O", "B-CITY", "O"]
    html = page.tagged.toHtml()
    assert "PERSON" in html and "Velmora" in html and "background-color" in html
    assert page.answer.currentWidget() is page.tagged
    with qtbot.waitSignal(page.examples_shown, timeout=20_000):
        page.use_run_examples()
    assert page.support.toPlainText() == run_examples(NER_CONFIG)[0]


def test_a_typo_in_the_marks_is_one_line_not_a_call(qtbot, tmp_path):
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, "-c", "raise SystemExit(3)"])
    qtbot.addWidget(page)
    page.configs = {"r1": NER_CONFIG}
    page.run_combo.addItem("ner run", "r1")
    page._run_selected()
    page.support.setPlainText("[Ada](PERSON)\n[Velmora left")
    page.predict()
    assert page.call is None
    assert page.message.text().startswith("line 2: write an entity as [words](TYPE)")
