"""Try a model on decoder runs: a language-modelling run continues a prompt and scores a
text before and after adapting (the real engine on a tiny run trained here), and an ICL
run's answer shows the prompt built for each query (a stand-in engine's answer)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gui.pages.try_model import TryModelPage, prompts_text
from gui.widgets.lm_try import perplexity_summary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> tuple[Path, str]:
    """A finished language-modelling run (the LM quickstart cut short: bundled domains and
    the tiny GPT-2 built on first use), trained by the real CLI in a subprocess."""
    folder = tmp_path_factory.mktemp("lm-run")
    db = folder / "runs.db"
    env = dict(os.environ, METALAB_DATA=str(folder / "data"), OMP_NUM_THREADS="1")
    sets = ["train.episodes=4", "task.test_episodes=2", "task.val_episodes=1", "train.eval_untrained=false"]
    result = subprocess.run(
        [sys.executable, "-m", "engine", "run", "examples/lm_quickstart.toml", "--db", str(db),
         *[a for s in sets for a in ("--set", s)]],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return db, result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_an_lm_run_continues_a_prompt_and_scores_a_text_before_and_after_adapting(qtbot, lm_run, monkeypatch):
    db, run_id = lm_run
    monkeypatch.setenv("METALAB_DATA", str(db.parent / "data"))  # the engine finds the tiny GPT-2 built there
    page = TryModelPage(db, command=[sys.executable, "-m", "engine"])
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: page.run_combo.findData(run_id) >= 0, timeout=20_000)
    page.run_combo.setCurrentIndex(page.run_combo.findData(run_id))
    assert page.views.currentWidget() is page.lm and page.lm.run_id == run_id
    assert "test perplexity" in page.run_combo.currentText()
    errors: list[str] = []
    page.call_failed.connect(errors.append)

    lm = page.lm
    lm.prompt.setPlainText("the harbour at dawn")
    lm.max_new_tokens.setValue(5)
    lm.stop_at_end.setChecked(False)  # the tiny model would end the document at once
    with qtbot.waitSignal(lm.generated, timeout=180_000, raising=False) as shown:
        lm.generate()
    assert shown.signal_triggered, errors or lm.message.text()
    shown_text = lm.continuation.toPlainText()
    assert shown_text.startswith("the harbour at dawn") and len(shown_text.split()) > 4
    assert "greedy, 5 tokens" in lm.message.text()

    lm.documents.setPlainText("the boat sailed out at dawn\n\nthe nets came back full of fish")
    lm.text.setPlainText("the boat came back at dawn")
    with qtbot.waitSignal(lm.scored, timeout=180_000, raising=False) as scored:
        lm.score()
    assert scored.signal_triggered, errors or lm.message.text()
    figures = re.search(r"Perplexity ([\d,.]+) before → ([\d,.]+) after adapting on 2 documents", lm.result.text())
    assert figures, lm.result.text()
    assert all(float(f.replace(",", "")) > 1 for f in figures.groups())
    assert "inner step" in lm.result.text() and lm.score_button.isEnabled()


def test_generation_settings_become_the_engines_arguments(qtbot, tmp_path):
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, "-c", "pass"])
    qtbot.addWidget(page)
    lm = page.lm
    lm.set_run(tmp_path / "runs.db", "r1")
    lm.prompt.setPlainText("once upon")
    lm.max_new_tokens.setValue(7)
    assert not lm.temperature.isEnabled()
    assert lm.generate_args() == ["generate", "r1", "--db", str(tmp_path / "runs.db"), "--json", "--prompt", "once upon",
                                  "--max-new-tokens", "7"]
    lm.sample.setChecked(True)
    lm.temperature.setValue(0.7)
    lm.top_p.setValue(0.9)
    lm.seed.setValue(3)
    lm.stop_at_end.setChecked(False)
    args = lm.generate_args()
    assert lm.temperature.isEnabled()
    assert args[args.index("--min-new-tokens") + 1] == "7"
    assert args[args.index("--sample"):] == ["--sample", "--temperature", "0.7", "--top-p", "0.9", "--seed", "3"]


def test_the_perplexity_summary_says_what_changed_and_what_was_cut():
    result = {"before": {"perplexity": 200.0}, "after": {"perplexity": 50.0}, "documents": 3, "tokens": 23,
              "adaptation": "3 inner steps on scope 'lora'", "truncated": True, "max_length": 24}
    text = perplexity_summary(result)
    assert text.startswith("Perplexity 200.00 before → 50.00 after adapting on 3 documents (-75%)")
    assert "3 inner steps on scope 'lora'" in text and "model.max_length (24 tokens)" in text


def test_an_icl_answer_shows_the_prompt_built_for_each_query(qtbot, tmp_path):
    prompt = "Input: refund my card\nLabel: refund\n\nInput: where is my parcel\nLabel: delivery\n\nInput: my order never came\nLabel:"
    answer = {"run_id": "r1", "classes": ["refund", "delivery"],
              "predictions": [{"text": "my order never came", "label": "delivery",
                               "probabilities": {"delivery": 0.7, "refund": 0.3}, "prompt": prompt}]}
    script = tmp_path / "engine.py"
    script.write_text(f"import json\nprint(json.dumps({answer!r}))\n")
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, str(script)])
    qtbot.addWidget(page)
    page.run_combo.addItem("icl run", "r1")
    page.query.setPlainText("my order never came")
    assert page.prompts_box.isHidden()
    with qtbot.waitSignal(page.prediction_shown, timeout=20_000):
        page.predict()
    assert not page.prompts_box.isHidden() and page.prompts.isReadOnly()
    assert page.prompts.toPlainText() == prompts_text(answer["predictions"])
    assert page.prompts.toPlainText().endswith(prompt) and "query 1: my order never came" in page.prompts.toPlainText()
    # an answer without prompts (an encoder run) hides the box again
    plain = dict(answer, predictions=[{k: v for k, v in answer["predictions"][0].items() if k != "prompt"}])
    script.write_text(f"import json\nprint(json.dumps({plain!r}))\n")
    with qtbot.waitSignal(page.prediction_shown, timeout=20_000):
        page.predict()
    assert page.prompts_box.isHidden()


def test_documents_are_separated_by_blank_lines():
    from gui.widgets.lm_try import documents_of

    assert documents_of("one line\nwrapped on\n\n\n  two  \n") == ["one line wrapped on", "two"]
    assert documents_of(" \n\n") == []


def test_try_a_model_leaves_room_for_a_1024_px_window(qtbot, tmp_path):
    """Either view (labels or a language model's) beside the 150 px navigation list and margins."""
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, "-c", "pass"])
    qtbot.addWidget(page)
    page._show_task_type("language_modeling")
    assert page.views.currentWidget() is page.lm
    assert page.minimumSizeHint().width() <= 1024 - 150 - 40, page.minimumSizeHint().width()


def test_a_run_whose_method_answers_with_prompts_is_not_explained(qtbot, tmp_path):
    """Decided by the method's schema (``model_kinds``: decoder only), not by its name."""
    page = TryModelPage(tmp_path / "runs.db", command=[sys.executable, "-c", "pass"])
    qtbot.addWidget(page)
    page.method_specs["protonet"] = dict(page.method_specs["protonet"], model_kinds=["decoder"])
    page._runs_loaded([
        {"id": "r1", "name": "a", "method": "protonet", "final_metrics": {}, "config": {"method": {"name": "protonet"}}},
        {"id": "r2", "name": "b", "method": "maml", "final_metrics": {}, "config": {"method": {"name": "maml"}}},
    ])
    page.run_combo.setCurrentIndex(page.run_combo.findData("r1"))
    assert not page.explain_box.isEnabled() and "after a prompt" in page.explain_box.toolTip()
    page.run_combo.setCurrentIndex(page.run_combo.findData("r2"))
    assert page.explain_box.isEnabled()
