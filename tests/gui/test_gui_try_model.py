"""Try a model: the page sends the examples to the engine's predict command and shows its answer."""

from __future__ import annotations

import json
import sys

import pytest

from gui.pages.try_model import TryModelPage, parse_support

ANSWER = {"run_id": "r1", "classes": ["a", "b"], "temperature": 10.0,
          "predictions": [{"text": "q1", "label": "b", "probabilities": {"b": 0.8, "a": 0.2}}]}


def test_parse_support_lines():
    assert parse_support("a: one\n\n b : two words ") == [{"label": "a", "text": "one"}, {"label": "b", "text": "two words"}]
    with pytest.raises(ValueError, match="line 2"):
        parse_support("a: one\nno label here")


def test_predict_goes_through_the_engine(qtbot, tmp_path):
    # A stand-in engine that records its input file and prints a fixed answer.
    script = tmp_path / "engine.py"
    script.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps([args, json.load(open(args[args.index('--input') + 1]))]))\n"
        f"print(json.dumps({ANSWER!r}))\n"
    )
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, str(script)])
    qtbot.addWidget(page)
    page.run_combo.addItem("run one", "r1")
    page.support.setPlainText("a: first\nb: second")
    page.query.setPlainText("q1\n")
    with qtbot.waitSignal(page.prediction_shown, timeout=20_000):
        page.predict()
    args, request = json.loads((tmp_path / "args.json").read_text())
    assert args[:2] == ["predict", "r1"]
    assert request == {"support": [{"label": "a", "text": "first"}, {"label": "b", "text": "second"}], "query": ["q1"]}
    assert page.results.rows == [["q1", "b (80%)", "b 0.80, a 0.20"]]


def test_export_runs_the_engines_export_model(qtbot, tmp_path):
    script = tmp_path / "engine.py"
    script.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps(args))\n"
        "print(json.dumps({'run_id': args[1], 'path': args[2], 'files': ['config.json', 'model.safetensors']}))\n"
    )
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, str(script)])
    qtbot.addWidget(page)
    page.run_combo.addItem("run one", "r1")
    with qtbot.waitSignal(page.model_exported, timeout=20_000) as exported:
        page.export_model(tmp_path / "out")
    args = json.loads((tmp_path / "args.json").read_text())
    assert args == ["export-model", "r1", str(tmp_path / "out"), "--db", str(tmp_path / "runs.db"), "--json"]
    assert exported.args == [str(tmp_path / "out")]
    assert "model.safetensors" in page.message.text() and page.export_button.isEnabled()
