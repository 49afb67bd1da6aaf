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


METHODS = ("finetune", "protonet", "nnshot", "maml", "fomaml", "anil", "metasgd", "reptile")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the first one trains the seven runs (every_method_runs)
@pytest.mark.parametrize("method", METHODS)
def test_a_default_run_of_every_method_predicts_and_exports(qtbot, tmp_path, every_method_runs, method):
    """The real engine on a finished tiny run at the method's defaults (MAML's scope: LoRA)."""
    from engine.catalog import all_specs

    # a new method joins this list (decoder-only ones, icl and metaicl, are not in every_method_runs)
    assert {s.name for s in all_specs() if "encoder" in s.model_kinds} == set(METHODS)
    db, runs = every_method_runs
    page = TryModelPage(db, command=[sys.executable, "-m", "engine"])
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: page.run_combo.findData(runs[method]) >= 0, timeout=20_000)
    page.run_combo.setCurrentIndex(page.run_combo.findData(runs[method]))
    page.support.setPlainText("fruit: apple pie please\nfruit: apple tart\nwater: river flow\nwater: the river bank")
    page.query.setPlainText("apple juice\nriver water\n")
    errors = []
    page.call_failed.connect(errors.append)
    with qtbot.waitSignal(page.prediction_shown, timeout=180_000, raising=False) as shown:
        page.predict()
    assert shown.signal_triggered, f"{method}: {errors or page.message.text()}"
    assert [row[0] for row in page.results.rows] == ["apple juice", "river water"]
    assert all(row[1].split(" ")[0] in ("fruit", "water") for row in page.results.rows)
    with qtbot.waitSignal(page.model_exported, timeout=180_000, raising=False) as exported:
        page.export_model(tmp_path / "hf")
    assert exported.signal_triggered, f"{method}: {errors or page.message.text()}"
    assert (tmp_path / "hf" / "model.safetensors").exists() and (tmp_path / "hf" / "config.json").exists()


def test_engine_errors_show_in_full(qtbot, tmp_path):
    """A many-line engine error (a state dict that does not load) is not cut to its first line."""
    script = tmp_path / "engine.py"
    script.write_text(
        "import sys\n"
        "sys.stderr.write('Traceback (most recent call last):\\n  boom\\n')\n"
        "sys.stderr.write('error: internal error: RuntimeError: Error(s) in loading state_dict for TextEncoder:\\n')\n"
        "sys.stderr.write('\\tUnexpected key(s) in state_dict: \"backbone.encoder.layer.0.attention.self.query.lora_A.weight\"\\n')\n"
        "sys.exit(1)\n"
    )
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, str(script)])
    qtbot.addWidget(page)
    page.run_combo.addItem("run one", "r1")
    with qtbot.waitSignal(page.call_failed, timeout=20_000) as failed:
        page.predict()
    assert "lora_A" in failed.args[0] and "Traceback" not in failed.args[0]
    assert page.message.label.text().startswith("Cannot predict: internal error: RuntimeError: Error(s) in loading state_dict")
    assert not page.message.details_button.isHidden() and "lora_A.weight" in page.message.details.toPlainText()
    assert page.predict_button.isEnabled()


def test_explanations_shade_each_word_of_the_query(qtbot, tmp_path):
    from gui.pages.try_model import highlighted

    text = "get a refund now"
    words = [{"text": w, "start": text.index(w), "end": text.index(w) + len(w), "score": s, "weight": s}
             for w, s in (("get", 0.1), ("a", -0.5), ("refund", 1.0), ("now", 0.0))]
    answer = dict(ANSWER, predictions=[{"text": text, "label": "b", "probabilities": {"b": 0.8, "a": 0.2}, "words": words}])
    script = tmp_path / "engine.py"
    script.write_text(
        "import json, sys\n"
        f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"print(json.dumps({answer!r}))\n"
    )
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, str(script)])
    qtbot.addWidget(page)
    page.run_combo.addItem("run one", "r1")
    page.support.setPlainText("a: first\nb: second")
    page.query.setPlainText(text)
    with qtbot.waitSignal(page.prediction_shown, timeout=20_000):
        page.predict()
    assert "--explain" in json.loads((tmp_path / "args.json").read_text())
    assert page.explanations.toPlainText() == f"b ← {text}"
    html = highlighted(answer["predictions"][0])
    # The strongest word gets the strongest shade; a negative one is red; a zero one stays white.
    import re

    shade = {word: tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
             for h, word in re.findall(r'<span style="background-color:#([0-9a-f]{6})">([^<]*)</span>', html)}
    assert set(shade) == {"get", "a", "refund", "now"}
    assert shade["now"] == (255, 255, 255)
    assert shade["refund"][1] > shade["refund"][0] and shade["get"][1] > shade["get"][0]  # green
    assert shade["a"][0] > shade["a"][1]  # red
    assert sum(shade["refund"]) < sum(shade["a"]) < sum(shade["get"]) < sum(shade["now"])  # darker = stronger


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("method", ["icl", "metaicl"])
def test_an_in_context_run_shows_the_prompts_the_real_engine_built(qtbot, tmp_path, method):
    """A finished tiny icl / metaicl run (a random GPT-2 built in a subprocess: no torch here):
    the page shows the real engine's labels and, read-only, each query's prompt."""
    import subprocess
    from pathlib import Path

    script = (
        "import sys; from pathlib import Path; from engine.config import RunConfig; "
        "from engine.models.tiny import build_tiny_decoder; from engine.training.runner import run_experiment; "
        "from tests.conftest import tiny_config_text, write_keyword_dataset; folder = Path(sys.argv[1]); "
        "model = build_tiny_decoder(folder / 'gpt2'); data = write_keyword_dataset(folder / 'keywords.csv'); "
        "(folder / 'run.toml').write_text(tiny_config_text(model, data, method=sys.argv[2], episodes=2)); "
        "config = RunConfig.load(folder / 'run.toml').with_values({'model.max_length': 128, 'task.k_shot': 1}); "
        "print(run_experiment(config, db_path=folder / 'runs.db').run_id)"
    )
    made = subprocess.run([sys.executable, "-c", script, str(tmp_path), method], capture_output=True, text=True, timeout=400,
                          cwd=str(Path(__file__).resolve().parents[2]))
    assert made.returncode == 0, made.stderr[-2000:]
    run_id = made.stdout.strip().splitlines()[-1]
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, "-m", "engine"])
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: page.run_combo.findData(run_id) >= 0, timeout=20_000)
    page.run_combo.setCurrentIndex(page.run_combo.findData(run_id))
    page.support.setPlainText("fruit: apple pie please\nwater: the river bank")
    page.query.setPlainText("apple juice\n")
    errors = []
    page.call_failed.connect(errors.append)
    with qtbot.waitSignal(page.prediction_shown, timeout=180_000, raising=False) as shown:
        page.predict()
    assert shown.signal_triggered, errors or page.message.text()
    assert [row[0] for row in page.results.rows] == ["apple juice"]
    assert not page.prompts_box.isHidden()
    assert page.explained_box.isHidden() and "demonstrations in a prompt" in page.explanation.text()  # no word attributions here
    assert "Input: apple pie please\nLabel: fruit\n\nInput: the river bank\nLabel: water\n\nInput: apple juice\nLabel:" in (
        page.prompts.toPlainText())
