"""The Inspect page: embedding maps and confusion matrices of a finished run, computed by
the engine (``metalab-engine inspect --json``) in its own process and drawn here."""

from __future__ import annotations

import json
import sys

import pytest

from gui.pages.inspect import InspectPage

ENGINE = [sys.executable, "-m", "engine"]
# ``every_method_runs`` trains seven tiny runs on first use: minutes on a loaded machine.
pytestmark = pytest.mark.timeout(1200)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["protonet", "maml"])
def test_inspect_page_draws_what_the_engine_computed(qtbot, every_method_runs, method):
    db, runs = every_method_runs
    page = InspectPage(db, command=ENGINE)
    qtbot.addWidget(page)
    page.resize(1000, 680)
    page.show()
    with qtbot.waitSignal(page.inspected, timeout=300_000):
        page.show_run(runs[method], episode=2)
    result = page.result
    assert result["run_id"] == runs[method] and result["episode"] == 2 and page.run_combo.currentData() == runs[method]
    n_examples = len(result["examples"])
    for widget, name in ((page.before_map, "before"), (page.after_map, "after")):
        assert len(widget.points.data) == n_examples
        assert widget.wrong_count() == sum(result["views"][name]["wrong"])
        symbols = [spot["symbol"] for spot in widget.points.data]
        assert symbols.count("s") == sum(e["role"] == "support" for e in result["examples"])
    # One hue per class, shared by both maps and the legend.
    assert all(c in page.legend.text() for c in result["classes"])
    assert page.episode_table.rowCount() == len(result["classes"])
    overall = result["confusion"]["all"]
    shown = page.all_table.per_class_accuracy()
    assert list(shown) == overall["classes"]
    for name, accuracy in overall["per_class_accuracy"].items():
        assert shown[name] == ("-" if accuracy is None else f"{accuracy:.0%}")
    assert page.tables.tabText(1) == f"All {overall['episodes']} meta-test episodes: {overall['accuracy']:.1%}"
    assert f"recorded {result['stored_accuracy']:.0%}" in page.message.text()


def _stand_in(tmp_path, body: str) -> list[str]:
    script = tmp_path / "engine.py"
    script.write_text("import json, sys\nargs = sys.argv[1:]\n" + body)
    return [sys.executable, str(script)]


def test_inspect_errors_show_in_full(qtbot, tmp_path):
    command = _stand_in(tmp_path, (
        "sys.stderr.write('progress: 1/2 meta-test episodes\\n')\n"
        "sys.stderr.write('error: internal error: RuntimeError: Error(s) in loading state_dict for TextEncoder:\\n'\n"
        "                 '\\tUnexpected key(s) in state_dict: \"backbone.encoder.layer.0.attention.self.query.lora_A.weight\"\\n')\n"
        "sys.exit(1)\n"
    ))
    page = InspectPage(tmp_path / "runs.db", command=command)
    qtbot.addWidget(page)
    page.run_combo.addItem("run one", "r1")
    with qtbot.waitSignal(page.failed, timeout=20_000) as failed:
        page.inspect()
    assert "lora_A" in failed.args[0] and "Error(s) in loading state_dict" in failed.args[0]
    assert not page.message.details_button.isHidden()
    assert "lora_A" in page.message.details.toPlainText() and "loading state_dict" in page.message.label.text()
    assert page.inspect_button.isEnabled() and not page.cancel_button.isEnabled()


def test_runs_page_menu_opens_a_run_in_inspect(qtbot, tmp_path, every_method_runs):
    """Runs → Inspect… switches page and asks the engine for that run (a stand-in answers)."""
    from gui.main_window import MainWindow

    db, runs = every_method_runs
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(_canned_answer(runs["reptile"])))
    command = _stand_in(tmp_path, (
        f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps(args))\n"
        f"print(open({str(answer)!r}).read())\n"
    ))
    win = MainWindow(db_path=db, engine_command=command, restore=False)
    qtbot.addWidget(win)
    win.runs_page.refresh()
    qtbot.waitUntil(lambda: win.runs_page.model.row_of(runs["reptile"]) is not None, timeout=20_000)
    win.runs_page.select_ids([runs["reptile"]])
    with qtbot.waitSignal(win.inspect_page.inspected, timeout=30_000):
        win.runs_page.inspect_selected()
    assert win.stack.currentWidget() is win.inspect_page
    args = json.loads((tmp_path / "args.json").read_text())
    assert args[:2] == ["inspect", runs["reptile"]] and args[args.index("--db") + 1] == str(db) and "--json" in args
    assert win.inspect_page.before_map.wrong_count() == 1 and win.inspect_page.after_map.wrong_count() == 0
    win.close()


def _canned_answer(run_id: str) -> dict:
    examples = [{"row": i, "text": f"text {i}", "label": label, "role": role}
                for i, (label, role) in enumerate([("a", "support"), ("b", "support"), ("a", "query"), ("b", "query")])]
    table = {"classes": ["a", "b"], "matrix": [[1, 0], [0, 1]], "per_class_accuracy": {"a": 1.0, "b": 1.0}, "accuracy": 1.0, "queries": 2}
    return {
        "run_id": run_id, "name": "tiny reptile", "method": "reptile", "episode": 0, "test_episodes": 8, "classes": ["a", "b"],
        "projection": "tsne", "examples": examples, "stored_accuracy": 1.0,
        "views": {
            "before": {"xy": [[0, 0], [1, 1], [0.2, 0.1], [0.1, 0.2]], "predicted": [None, None, "a", "a"],
                       "wrong": [False, False, False, True], "accuracy": 0.5, "silhouette": 0.1},
            "after": {"xy": [[0, 0], [1, 1], [0.1, 0.0], [0.9, 1.0]], "predicted": [None, None, "a", "b"],
                      "wrong": [False, False, False, False], "accuracy": 1.0, "silhouette": 0.6},
        },
        "confusion": {"episode": table, "all": {**table, "episodes": 8}},
    }


def test_monitor_inspect_button_for_a_finished_run(qtbot, window):
    """Enabled once the run is finished; a run without saved weights (the stand-in engine
    writes none) is named as not inspectable instead of starting the engine."""
    from tests.gui.test_gui_launch import launch

    launch(qtbot, window)
    session = window.monitor_page.session
    assert not window.monitor_page.inspect_button.isEnabled()
    qtbot.waitUntil(lambda: session.status == "finished", timeout=15_000)
    assert window.monitor_page.inspect_button.isEnabled()
    window.monitor_page.inspect_button.click()
    assert window.stack.currentWidget() is window.inspect_page
    qtbot.waitUntil(lambda: "cannot be inspected" in window.inspect_page.message.text(), timeout=10_000)
    assert window.inspect_page.call is None and session.run_id in window.inspect_page.message.text()


def test_only_sentence_classification_episodes_are_offered_for_inspection():
    """An NER or language-modelling run (another headline) or a supervised run (no episodes)
    would only meet the engine's refusal: Monitor's button is off and the page does not list it."""
    from gui.pages.inspect import inspectable

    assert inspectable({"headline_metric": "test_accuracy", "test_accuracy": 0.9, "test_episodes": 200})
    assert inspectable({"test_accuracy": 0.9, "test_episodes": 20})  # a run from before headlines
    assert not inspectable({"headline_metric": "test_f1", "test_f1": 0.25, "test_accuracy": 0.78, "test_episodes": 20})
    assert not inspectable({"headline_metric": "test_perplexity", "test_perplexity": 80.0, "test_episodes": 20})
    assert not inspectable({"headline_metric": "test_accuracy", "test_accuracy": 0.9})  # supervised: no episodes


def test_monitor_keeps_inspect_off_for_an_ner_run(qtbot):
    from gui.pages.monitor import MonitorPage
    from gui.run_session import RunSession

    page = MonitorPage()
    qtbot.addWidget(page)
    session = RunSession("r1", "ner")
    page.show_session(session)
    session.finish("finished", {"headline_metric": "test_f1", "test_f1": 0.25, "test_accuracy": 0.78, "test_episodes": 20}, "")
    qtbot.waitUntil(lambda: "F1" in page.status.text(), timeout=5000)
    assert not page.inspect_button.isEnabled() and "sentence classification" in page.inspect_button.toolTip()
    assert "test F1 0.250" in page.status.text()
