"""A study made in the GUI: the dialog's space starts from the method schema, the study file
it writes is what the engine reads, and the Studies page launches ``study run FILE``.

The fast tests use the fake engine, which checks the file with ``engine.study.load_spec``;
the slow one runs two real trials on a tiny model."""

from __future__ import annotations

import json
import sys
import tomllib

import pytest

from engine.config import RunConfig
from tests.gui.test_gui_real_engine import gui_tiny_model  # noqa: F401  (a module fixture: the tiny BERT)
from gui.pages.studies import StudiesPage
from gui.study_file import PRUNERS, SAMPLERS, objective_metrics


def test_the_gui_names_the_engines_samplers_pruners_and_metrics():
    import engine.study as study

    assert (SAMPLERS, PRUNERS) == (study.SAMPLERS, study.PRUNERS)
    assert [m for m, _ in objective_metrics(RunConfig())] == ["val_accuracy", *(m for m in study.METRICS if m != "val_accuracy")]


def test_the_objective_is_the_base_tasks_headline(qtbot, page):
    """An NER base is searched on entity F1 (its token accuracy is mostly O), a language model
    on perplexity, minimised; each choice brings its direction."""
    ner = RunConfig().with_values({"task.type": "token_classification", "dataset.path": "bundled:entities"})
    dialog = page.new_study(ner)
    qtbot.addWidget(dialog)
    assert (dialog.objective.currentText(), dialog.direction.currentText()) == ("val_f1", "maximize")
    assert "val_macro_f1" not in [dialog.objective.itemText(i) for i in range(dialog.objective.count())]
    dialog.objective.setCurrentText("val_loss")
    assert dialog.direction.currentText() == "minimize"
    lm = RunConfig().with_values({"task.type": "language_modeling", "dataset.path": "bundled:domains",
                                  "model.name": "bundled:tiny-gpt2", "method.name": "fomaml"})
    assert objective_metrics(lm)[0] == ("val_perplexity", "minimize")


@pytest.fixture
def page(qtbot, tmp_path, fake_cmd, monkeypatch):
    monkeypatch.setenv("FAKE_STUDY_LOG", str(tmp_path / "study.log"))
    page = StudiesPage(tmp_path / "runs.db", command=fake_cmd)
    qtbot.addWidget(page)
    page.resize(1000, 650)
    page.show()
    return page


def maml_base(intents_csv) -> RunConfig:
    return RunConfig().with_values({"name": "maml-intents", "dataset.path": str(intents_csv), "method.name": "maml",
                                    "train.episodes": 20, "train.eval_every": 10})


def test_space_defaults_come_from_the_method_schema(qtbot, page, intents_csv):
    dialog = page.new_study(maml_base(intents_csv))
    qtbot.addWidget(dialog)
    names = [p.name for p in dialog.params]
    assert "inner_lr" in names and "lora_rank" in names
    assert dialog.space.item(names.index("top_k"), 1).text() == "Top layers adapted (only when scope = top_k_layers)"
    row = names.index("inner_lr")
    assert (dialog.space.item(row, 2).text(), dialog.space.item(row, 3).text()) == ("1e-07", "10")
    assert dialog.space.item(row, 4).checkState().name == "Checked"  # log scale, as the schema says
    assert dialog.space.item(names.index("scope"), 5).text() == "head, top_k_layers, lora, all"
    assert dialog.name.text() == "maml-intents-search"
    assert dialog.base_combo.itemText(0).startswith("New experiment form: maml-intents")


def test_a_study_created_in_the_gui_is_written_checked_and_launched(qtbot, page, intents_csv, tmp_path):
    dialog = page.new_study(maml_base(intents_csv))
    qtbot.addWidget(dialog)
    dialog.set_searched("lr", False)
    dialog.set_searched("inner_lr", low=1e-4, high=1e-1, log=True)
    dialog.set_searched("scope", choices=["head", "lora"])
    dialog.set_searched("inner_steps", low=1, high=3)
    dialog.sampler.setCurrentIndex(dialog.sampler.findData("nsga2"))
    dialog.pruner.setCurrentIndex(dialog.pruner.findData("none"))
    dialog.n_trials.setValue(6)
    dialog.objective.setCurrentText("val_loss")
    assert dialog.direction.currentText() == "minimize"
    with qtbot.waitSignal(page.workers_changed, timeout=30_000):
        dialog.create()
    study_file = tmp_path / "studies" / "maml-intents-search" / "study.toml"
    data = tomllib.loads(study_file.read_text(encoding="utf-8"))["study"]
    assert data["space"] == {"method.params.inner_lr": {"low": 1e-4, "high": 0.1, "log": True},
                             "method.params.scope": {"choices": ["head", "lora"]},
                             "method.params.inner_steps": {"low": 1, "high": 3}}
    assert (data["sampler"], data["pruner"], data["n_trials"], data["metric"], data["direction"]) == (
        "nsga2", "none", 6, "val_loss", "minimize")
    base = RunConfig.load(study_file.parent / data["base"])
    assert base.method.name == "maml" and base.dataset.path == str(intents_csv)
    assert page.running_workers() == 1
    qtbot.waitUntil(lambda: page.running_workers() == 0, timeout=30_000)
    calls = [json.loads(line) for line in (tmp_path / "study.log").read_text().splitlines()]
    assert [c["argv"][:3] for c in calls] == [["study", "create", str(study_file)], ["study", "run", str(study_file)]]
    run_argv = calls[1]["argv"]
    assert run_argv[run_argv.index("--db") + 1] == str(tmp_path / "runs.db")
    assert "--storage" not in run_argv and calls[1]["storage_env"] == page.storage_url()  # argv is public


def test_a_bad_space_is_shown_inline_and_nothing_stays_behind(qtbot, page, intents_csv, tmp_path):
    dialog = page.new_study(maml_base(intents_csv))
    qtbot.addWidget(dialog)
    dialog.set_searched("lr", low=0.5, high=0.1)  # an empty range: the engine refuses it
    dialog.create()
    qtbot.waitUntil(lambda: "empty range" in dialog.error.text(), timeout=30_000)
    assert "method.params.lr" in dialog.error.text()
    assert not (tmp_path / "studies" / "maml-intents-search").exists()
    assert page.running_workers() == 0 and dialog.isVisible()
    dialog.set_searched("lr", False)
    dialog.create()
    assert dialog.error.text() == "Tick at least one parameter to search."


def test_bases_include_past_runs_of_every_method(qtbot, page):
    from tests.gui.store_fill import fill_methods

    fill_methods(page.db_path)
    labels = [label for label, _config in page.study_bases()]
    assert any("maml-a (maml" in label for label in labels) and any("anil-b (anil" in label for label in labels)


@pytest.mark.slow
def test_a_study_created_in_the_gui_runs_real_trials(qtbot, tmp_path, gui_tiny_model):
    """New study… on the real engine: two trials of a tiny model, listed with their runs."""
    from conftest import write_intents

    from engine.store import Store

    dataset = write_intents(tmp_path / "intents.csv", classes=12, per_class=16)
    base = RunConfig().with_values({
        "name": "tiny", "dataset.path": str(dataset), "task.n_way": 3, "task.k_shot": 2, "task.query": 3,
        "task.test_episodes": 2, "task.val_episodes": 2, "task.meta_test_fraction": 0.4, "task.meta_val_fraction": 0.0,
        "model.name": str(gui_tiny_model), "model.max_length": 16, "train.episodes": 4, "train.eval_every": 2,
        "train.device": "cpu",
    })
    page = StudiesPage(tmp_path / "runs.db", command=[sys.executable, "-m", "engine"])
    qtbot.addWidget(page)
    page.show()
    dialog = page.new_study(base)
    dialog.set_searched("lr", low=1e-5, high=1e-3, log=True)
    dialog.sampler.setCurrentIndex(dialog.sampler.findData("random"))
    dialog.pruner.setCurrentIndex(dialog.pruner.findData("none"))
    dialog.n_trials.setValue(2)
    with qtbot.waitSignal(page.workers_changed, timeout=240_000):
        dialog.create()
    qtbot.waitUntil(lambda: page.running_workers() == 0, timeout=600_000)
    with qtbot.waitSignal(page.study_shown, timeout=120_000):
        page.refresh()
    assert page.details["name"] == "tiny-search", page.message.text()
    assert page.details["counts"] == {"complete": 2}, page.message.text()
    assert page.studies_model.rows[0][2] == "2 / 2"
    with Store(tmp_path / "runs.db") as store:
        runs = store.list_runs(study="tiny-search")
    assert sorted(r["trial_number"] for r in runs) == [0, 1] and all(r["status"] == "finished" for r in runs)
